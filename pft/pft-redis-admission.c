/* pft-redis-admission.c: one quota shared through Redis
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "pft-error.h"
#include "pft-redis-admission-private.h"
#include "pft-redis-connection-private.h"
#include "pft-redis-leases-private.h"
#include "pft-redis-scripts-private.h"

struct _PftRedisAdmission
{
  gatomicrefcount     ref;
  PftRedisConnection *conn;
  char               *key;
  PftRedisKeys        keys;

  GMutex              lock;
  PftRedisLimits      limits;
  PftRedisLeases     *leases;        /* granted, not released */
  GQueue              pending;       /* PftRedisAdmitOp for the next batch */
  GPtrArray          *releases;      /* lease ids for the next batch */
  GPtrArray          *queries;       /* PftRedisStatsQuery, after the batch */
  gboolean            flush_scheduled;

  /* Only on the "pft-redis" thread. */
  GQueue              sleepers;      /* PftRedisAdmitOp waiting for a slot */
};

/* One admission in progress: a single try (task only), or the loop of
 * admit_async (sleeping between tries). Lives on the "pft-redis" thread
 * once sent. */
typedef struct
{
  PftRedisAdmission *self;
  GTask             *task;
  guint64            cost;
  char              *id;
  gboolean           loop;
  GCancellable      *cancellable;
  PftRedisAskFunc    ask_func;      /* instead of @task: see _pft_redis_admission_ask() */
  gpointer           ask_data;
  gboolean           for_slot;      /* sleeping for a concurrency slot */
  GSource           *sleep_source;
  GSource           *cancel_source;
  GList              sleeper_link;
} PftRedisAdmitOp;



/* ------------------------------------------------------------------ */

static char *
pft_redis_admission_new_id (void)
{
  static gssize counter;
  static char *prefix;

  /* Unique across processes and machines: pid and 64 random bits. */
  if (g_once_init_enter (&prefix))
    g_once_init_leave (&prefix, g_strdup_printf ("%d.%08x%08x", (int) getpid (),
                                                 g_random_int (), g_random_int ()));
  return g_strdup_printf ("%s.%" G_GSSIZE_FORMAT, prefix, g_atomic_pointer_add (&counter, 1));
}

static GError *
pft_redis_admission_wrap_error (PftRedisAdmission *self,
                                const GError      *error)
{
  return g_error_new (error->domain, error->code, "Quota “%s”: %s", self->key, error->message);
}

static PftRedisLimits
pft_redis_admission_dup_limits (PftRedisAdmission *self)
{
  PftRedisLimits limits;

  g_mutex_lock (&self->lock);
  limits = self->limits;
  g_mutex_unlock (&self->lock);
  return limits;
}

/* Runs @script with the keys and @args; @data is handed to @func. */
static void
pft_redis_admission_eval (PftRedisAdmission *self,
                          PftRedisScriptId   script,
                          guint              n_args,
                          const char       **args,
                          PftRedisReplyFunc  func,
                          gpointer           data)
{
  _pft_redis_script_eval (self->conn, &self->keys, script, n_args, args, func, data);
}

static gboolean
pft_redis_reply_int (redisReply *reply,
                     gsize       index,
                     gint64     *out)
{
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements <= index ||
      reply->element[index]->type != REDIS_REPLY_INTEGER)
    return FALSE;
  *out = reply->element[index]->integer;
  return TRUE;
}

static GError *
pft_redis_admission_bad_reply (PftRedisAdmission *self,
                               const char        *script)
{
  return g_error_new (PFT_ERROR, PFT_ERROR_FAILED,
                      "Quota “%s”: unexpected reply from the %s script at %s",
                      self->key, script, _pft_redis_connection_get_display (self->conn));
}

/* ------------------------------------------------------------------ */
/* Admitting: requests queue here and go to Redis in batches, one ADMIT
 * script for everything queued when the "pft-redis" thread gets to it
 * (the script reads the shared state once for the whole batch). */

static void
pft_redis_admit_op_free (PftRedisAdmitOp *op)
{
  if (op->sleep_source != NULL)
    {
      g_source_destroy (op->sleep_source);
      g_source_unref (op->sleep_source);
    }
  if (op->cancel_source != NULL)
    {
      g_source_destroy (op->cancel_source);
      g_source_unref (op->cancel_source);
    }
  g_clear_object (&op->cancellable);
  g_clear_object (&op->task);
  g_free (op->id);
  _pft_redis_admission_unref (op->self);
  g_free (op);
}

static void
pft_redis_admit_op_unsleep (PftRedisAdmitOp *op)
{
  if (op->sleep_source == NULL)
    return;
  g_source_destroy (op->sleep_source);
  g_clear_pointer (&op->sleep_source, g_source_unref);
  g_queue_unlink (&op->self->sleepers, &op->sleeper_link);
}

static void
pft_redis_admit_op_fail (PftRedisAdmitOp *op,
                         GError          *error)
{
  pft_redis_admit_op_unsleep (op);
  if (op->ask_func != NULL)
    {
      op->ask_func (NULL, 0, error, op->ask_data);
      g_error_free (error);
    }
  else
    g_task_return_error (op->task, error);
  pft_redis_admit_op_free (op);
}

/* The answer to an ask: @lease (transfer full) or @retry_after_us. */
static void
pft_redis_admit_op_answer (PftRedisAdmitOp *op,
                           char            *lease,
                           gint64           retry_after_us)
{
  op->ask_func (lease, retry_after_us, NULL, op->ask_data);
  pft_redis_admit_op_free (op);
}

static gboolean
pft_redis_admission_on_flush (gpointer data);
static void
pft_redis_admission_send_query (PftRedisAdmission *self,
                                gpointer           query);

/* Queues @op for the next batch. Any thread. */
static void
pft_redis_admission_queue (PftRedisAdmission *self,
                           PftRedisAdmitOp   *op,
                           const char        *release,
                           gpointer           query)
{
  gboolean kick;

  g_mutex_lock (&self->lock);
  if (op != NULL)
    g_queue_push_tail (&self->pending, op);
  if (release != NULL)
    g_ptr_array_add (self->releases, g_strdup (release));
  if (query != NULL)
    g_ptr_array_add (self->queries, query);
  kick = !self->flush_scheduled;
  self->flush_scheduled = TRUE;
  g_mutex_unlock (&self->lock);

  if (kick)
    {
      GSource *idle = g_idle_source_new ();

      g_source_set_priority (idle, G_PRIORITY_DEFAULT);
      g_source_set_callback (idle, pft_redis_admission_on_flush,
                             _pft_redis_admission_ref (self),
                             (GDestroyNotify) _pft_redis_admission_unref);
      g_source_attach (idle, _pft_redis_connection_get_context (self->conn));
      g_source_unref (idle);
    }
}

static gboolean
pft_redis_admit_op_on_wake (gpointer data)
{
  PftRedisAdmitOp *op = data;

  pft_redis_admit_op_unsleep (op);
  pft_redis_admission_queue (op->self, op, NULL, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
pft_redis_admit_op_on_cancel (GCancellable *cancellable,
                              gpointer      data)
{
  PftRedisAdmitOp *op = data;

  /* While a try is queued or in flight, its reply sees the
   * cancellation. */
  if (op->sleep_source != NULL)
    {
      GError *error = NULL;

      g_cancellable_set_error_if_cancelled (cancellable, &error);
      pft_redis_admit_op_fail (op, error);
      return G_SOURCE_REMOVE;
    }
  g_clear_pointer (&op->cancel_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
pft_redis_admit_op_sleep (PftRedisAdmitOp *op,
                          gint64           wait_us,
                          gboolean         for_slot)
{
  PftRedisAdmission *self = op->self;
  GMainContext *ctx = _pft_redis_connection_get_context (self->conn);

  /* Rounded up: a try a little late is refused never, a try early
   * always. */
  op->for_slot = for_slot;
  op->sleep_source = g_timeout_source_new ((guint) MIN ((wait_us + 999) / 1000, G_MAXUINT));
  g_source_set_callback (op->sleep_source, pft_redis_admit_op_on_wake, op, NULL);
  g_source_attach (op->sleep_source, ctx);
  op->sleeper_link.data = op;
  g_queue_push_tail_link (&self->sleepers, &op->sleeper_link);

  if (op->cancellable != NULL && op->cancel_source == NULL)
    {
      op->cancel_source = g_cancellable_source_new (op->cancellable);
      g_source_set_callback (op->cancel_source, G_SOURCE_FUNC (pft_redis_admit_op_on_cancel), op, NULL);
      g_source_attach (op->cancel_source, ctx);
    }
}

/* The decision about @op: granted (@value is the grant time) or refused
 * (@value is the wait). */
static void
pft_redis_admit_op_decided (PftRedisAdmitOp *op,
                            gboolean         granted,
                            gint64           value,
                            gboolean         for_slot)
{
  PftRedisAdmission *self = op->self;

  if (granted)
    {
      _pft_redis_leases_hold (self->leases, op->id);
      if (op->loop && g_cancellable_is_cancelled (op->cancellable))
        {
          GError *cancelled = NULL;

          /* Cancelled while the grant was on its way: give it back. */
          _pft_redis_admission_release (self, op->id);
          g_cancellable_set_error_if_cancelled (op->cancellable, &cancelled);
          pft_redis_admit_op_fail (op, cancelled);
          return;
        }
      if (!op->loop)
        {
          pft_redis_admit_op_answer (op, g_steal_pointer (&op->id), 0);
          return;
        }
      g_task_return_pointer (op->task, g_steal_pointer (&op->id), g_free);
      pft_redis_admit_op_free (op);
      return;
    }

  if (!op->loop)
    {
      pft_redis_admit_op_answer (op, NULL, MAX (1, value));
      return;
    }
  if (g_cancellable_is_cancelled (op->cancellable))
    {
      GError *cancelled = NULL;

      g_cancellable_set_error_if_cancelled (op->cancellable, &cancelled);
      pft_redis_admit_op_fail (op, cancelled);
      return;
    }
  pft_redis_admit_op_sleep (op, MAX (1, value), for_slot);
}

typedef struct
{
  PftRedisAdmission *self;
  GPtrArray         *ops;     /* PftRedisAdmitOp, in FIFO order */
} PftRedisAdmitBatch;

static void
pft_redis_admission_on_admit_reply (PftRedisConnection *conn,
                                    redisReply         *reply,
                                    const GError       *error,
                                    gpointer            data)
{
  PftRedisAdmitBatch *batch = data;
  PftRedisAdmission *self = batch->self;
  guint n = batch->ops->len;

  if (error == NULL && (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 * (gsize) n))
    {
      g_autoptr(GError) bad = pft_redis_admission_bad_reply (self, "admit");

      for (guint i = 0; i < n; i++)
        pft_redis_admit_op_fail (g_ptr_array_index (batch->ops, i), g_error_copy (bad));
    }
  else if (error != NULL)
    {
      g_autoptr(GError) wrapped = pft_redis_admission_wrap_error (self, error);

      for (guint i = 0; i < n; i++)
        pft_redis_admit_op_fail (g_ptr_array_index (batch->ops, i), g_error_copy (wrapped));
    }
  else
    {
      for (guint i = 0; i < n; i++)
        {
          gint64 granted = 0, value = 0;
          redisReply *why = reply->element[3 * i + 2];
          gboolean for_slot;

          if (!pft_redis_reply_int (reply, 3 * i, &granted) ||
              !pft_redis_reply_int (reply, 3 * i + 1, &value))
            {
              pft_redis_admit_op_fail (g_ptr_array_index (batch->ops, i),
                                       pft_redis_admission_bad_reply (self, "admit"));
              continue;
            }
          /* Waits for a slot end early when this process releases one. */
          for_slot = why->type == REDIS_REPLY_STRING &&
                     (strcmp (why->str, "concurrency") == 0 || strcmp (why->str, "probe") == 0);
          pft_redis_admit_op_decided (g_ptr_array_index (batch->ops, i), granted != 0, value, for_slot);
        }
    }
  g_ptr_array_unref (batch->ops);
  _pft_redis_admission_unref (self);
  g_free (batch);
}

static void
pft_redis_admission_send_admits (PftRedisAdmission *self,
                                 GPtrArray         *ops)
{
  PftRedisLimits l = pft_redis_admission_dup_limits (self);
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  const char **args = g_new (const char *, 8 + 2 * ops->len);
  PftRedisAdmitBatch *batch;

  g_ptr_array_add (owned, g_strdup (l.smooth ? "1" : "0"));
  g_ptr_array_add (owned, g_strdup_printf ("%u", l.max_per_window));
  g_ptr_array_add (owned, g_strdup_printf ("%" G_GUINT64_FORMAT, l.max_cost));
  g_ptr_array_add (owned, g_strdup_printf ("%" G_GINT64_FORMAT, l.window_us));
  g_ptr_array_add (owned, g_strdup_printf ("%u", MAX (l.burst, 1)));
  g_ptr_array_add (owned, g_strdup_printf ("%u", l.max_concurrent));
  g_ptr_array_add (owned, g_strdup_printf ("%" G_GINT64_FORMAT, l.lease_ttl_us));
  g_ptr_array_add (owned, g_strdup_printf ("%" G_GINT64_FORMAT, l.poll_us));
  for (guint i = 0; i < 8; i++)
    args[i] = g_ptr_array_index (owned, i);
  for (guint i = 0; i < ops->len; i++)
    {
      PftRedisAdmitOp *op = g_ptr_array_index (ops, i);
      char *cost = g_strdup_printf ("%" G_GUINT64_FORMAT, op->cost);

      g_ptr_array_add (owned, cost);
      args[8 + 2 * i] = op->id;
      args[9 + 2 * i] = cost;
    }

  batch = g_new0 (PftRedisAdmitBatch, 1);
  batch->self = _pft_redis_admission_ref (self);
  batch->ops = g_ptr_array_ref (ops);
  pft_redis_admission_eval (self, PFT_REDIS_SCRIPT_ADMIT, 8 + 2 * ops->len, args,
                            pft_redis_admission_on_admit_reply, batch);
  g_free (args);
}

static void
pft_redis_admission_on_release_reply (PftRedisConnection *conn,
                                      redisReply         *reply,
                                      const GError       *error,
                                      gpointer            data)
{
  PftRedisAdmission *self = data;
  gint64 freed = 0;

  if (error != NULL)
    g_debug ("Quota “%s”: release: %s (the leases expire by themselves)", self->key, error->message);
  else if (reply->type == REDIS_REPLY_INTEGER)
    freed = reply->integer;

  /* Slots are free: as many sleepers of this process waiting for one try
   * now rather than at their next poll. */
  for (GList *l = self->sleepers.head, *next; l != NULL && freed > 0; l = next)
    {
      PftRedisAdmitOp *op = l->data;

      next = l->next;
      if (!op->for_slot)
        continue;
      pft_redis_admit_op_unsleep (op);
      pft_redis_admission_queue (self, op, NULL, NULL);
      freed--;
    }
  _pft_redis_admission_unref (self);
}

static void
pft_redis_admission_send_releases (PftRedisAdmission *self,
                                   GPtrArray         *ids)
{
  pft_redis_admission_eval (self, PFT_REDIS_SCRIPT_RELEASE, ids->len,
                            (const char **) ids->pdata,
                            pft_redis_admission_on_release_reply,
                            _pft_redis_admission_ref (self));
}

/* Batches of at most this many requests: a script blocks Redis while it
 * runs. */
#define PFT_REDIS_ADMIT_BATCH   128
#define PFT_REDIS_RELEASE_BATCH 512

static gboolean
pft_redis_admission_on_flush (gpointer data)
{
  PftRedisAdmission *self = data;
  GQueue pending;
  g_autoptr(GPtrArray) releases = NULL;
  g_autoptr(GPtrArray) queries = NULL;
  PftRedisAdmitOp *op;

  g_mutex_lock (&self->lock);
  pending = self->pending;
  g_queue_init (&self->pending);
  releases = g_steal_pointer (&self->releases);
  self->releases = g_ptr_array_new_with_free_func (g_free);
  queries = g_steal_pointer (&self->queries);
  self->queries = g_ptr_array_new ();
  self->flush_scheduled = FALSE;
  g_mutex_unlock (&self->lock);

  /* Releases first: the admissions behind them may use the slots. */
  for (guint start = 0; start < releases->len; start += PFT_REDIS_RELEASE_BATCH)
    {
      g_autoptr(GPtrArray) chunk = g_ptr_array_new ();

      for (guint i = start; i < MIN (releases->len, start + PFT_REDIS_RELEASE_BATCH); i++)
        g_ptr_array_add (chunk, g_ptr_array_index (releases, i));
      pft_redis_admission_send_releases (self, chunk);
    }

  while (!g_queue_is_empty (&pending))
    {
      g_autoptr(GPtrArray) ops = g_ptr_array_new ();

      while (ops->len < PFT_REDIS_ADMIT_BATCH && (op = g_queue_pop_head (&pending)) != NULL)
        g_ptr_array_add (ops, op);
      pft_redis_admission_send_admits (self, ops);
    }
  for (guint i = 0; i < queries->len; i++)
    pft_redis_admission_send_query (self, g_ptr_array_index (queries, i));
  return G_SOURCE_REMOVE;
}

static gboolean
pft_redis_admission_check_cost (PftRedisAdmission *self,
                                guint64            cost,
                                GError           **error)
{
  guint64 max_cost;

  g_mutex_lock (&self->lock);
  max_cost = self->limits.max_cost;
  g_mutex_unlock (&self->lock);
  if (max_cost > 0 && cost > max_cost)
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                   "Quota “%s”: cost %" G_GUINT64_FORMAT " exceeds max-cost-per-window %" G_GUINT64_FORMAT,
                   self->key, cost, max_cost);
      return FALSE;
    }
  return TRUE;
}

static PftRedisAdmitOp *
pft_redis_admit_op_new (PftRedisAdmission *self,
                        guint64            cost)
{
  PftRedisAdmitOp *op = g_new0 (PftRedisAdmitOp, 1);

  op->self = _pft_redis_admission_ref (self);
  op->cost = cost;
  op->id = pft_redis_admission_new_id ();
  return op;
}

static void
pft_redis_admission_start (PftRedisAdmission   *self,
                           guint64              cost,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  GError *error = NULL;
  PftRedisAdmitOp *op;

  g_task_set_source_tag (task, _pft_redis_admission_admit_async);
  if (!pft_redis_admission_check_cost (self, cost, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  op = pft_redis_admit_op_new (self, cost);
  op->task = g_steal_pointer (&task);
  op->loop = TRUE;
  op->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  pft_redis_admission_queue (self, op, NULL, NULL);
}

void
_pft_redis_admission_ask (PftRedisAdmission *self,
                          guint64            cost,
                          PftRedisAskFunc    func,
                          gpointer           data)
{
  PftRedisAdmitOp *op;

  g_return_if_fail (self != NULL);
  g_return_if_fail (func != NULL);

  op = pft_redis_admit_op_new (self, cost);
  op->ask_func = func;
  op->ask_data = data;
  pft_redis_admission_queue (self, op, NULL, NULL);
}

void
_pft_redis_admission_admit_async (PftRedisAdmission   *self,
                                  guint64              cost,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (self != NULL);

  pft_redis_admission_start (self, cost, cancellable, callback, user_data);
}

char *
_pft_redis_admission_admit_finish (PftRedisAdmission  *self,
                                   GAsyncResult       *result,
                                   GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
_pft_redis_admission_release (PftRedisAdmission *self,
                              const char        *lease)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (lease != NULL);

  _pft_redis_leases_drop (self->leases, lease);
  pft_redis_admission_queue (self, NULL, lease, NULL);
}

/* ------------------------------------------------------------------ */
/* Settle, pause, stats */

static gboolean
pft_redis_admission_parse_stats (redisReply    *reply,
                                 PftRedisStats *stats)
{
  gint64 v[6];

  for (guint i = 0; i < 6; i++)
    if (!pft_redis_reply_int (reply, i, &v[i]))
      return FALSE;
  stats->in_window = (guint) v[0];
  stats->cost_in_window = (guint64) MAX (v[1], 0);
  stats->in_flight = (guint) v[2];
  stats->paused_until_us = v[3];
  stats->now_us = v[4];
  stats->half_open = v[5] != 0;
  return TRUE;
}

/* A settle or a pause: its number to @func, or only logged when @func is
 * NULL (a lost settle or pause is one the next window or the next 429
 * corrects). */
typedef struct
{
  PftRedisAdmission *self;
  PftRedisDoneFunc   func;
  gpointer           data;
  const char        *script;
} PftRedisDone;

static void
pft_redis_admission_on_done_reply (PftRedisConnection *conn,
                                   redisReply         *reply,
                                   const GError       *error,
                                   gpointer            data)
{
  PftRedisDone *d = data;
  g_autoptr(GError) failed = NULL;
  gint64 value = 0;

  if (error != NULL)
    failed = pft_redis_admission_wrap_error (d->self, error);
  else if (reply->type == REDIS_REPLY_INTEGER)
    value = reply->integer;
  else if (!pft_redis_reply_int (reply, 0, &value))   /* pause: {extended, until} */
    failed = pft_redis_admission_bad_reply (d->self, d->script);
  if (d->func != NULL)
    d->func (value, failed, d->data);
  else if (failed != NULL)
    g_debug ("%s", failed->message);
  _pft_redis_admission_unref (d->self);
  g_free (d);
}

static void
pft_redis_admission_eval_done (PftRedisAdmission *self,
                               PftRedisScriptId   script,
                               const char        *name,
                               guint              n_args,
                               const char       **args,
                               PftRedisDoneFunc   func,
                               gpointer           data)
{
  PftRedisDone *d = g_new0 (PftRedisDone, 1);

  d->self = _pft_redis_admission_ref (self);
  d->func = func;
  d->data = data;
  d->script = name;
  pft_redis_admission_eval (self, script, n_args, args, pft_redis_admission_on_done_reply, d);
}

typedef struct
{
  PftRedisAdmission *self;
  PftRedisStatsFunc  func;
  gpointer           data;
} PftRedisStatsQuery;

static void
pft_redis_admission_on_query_reply (PftRedisConnection *conn,
                                    redisReply         *reply,
                                    const GError       *error,
                                    gpointer            data)
{
  PftRedisStatsQuery *q = data;
  PftRedisStats stats = { 0 };
  g_autoptr(GError) failed = NULL;

  if (error != NULL)
    failed = pft_redis_admission_wrap_error (q->self, error);
  else if (!pft_redis_admission_parse_stats (reply, &stats))
    failed = pft_redis_admission_bad_reply (q->self, "stats");
  q->func (failed == NULL ? &stats : NULL, failed, q->data);
  _pft_redis_admission_unref (q->self);
  g_free (q);
}

void
_pft_redis_admission_settle (PftRedisAdmission *self,
                             const char        *lease,
                             guint64            old_cost,
                             guint64            new_cost,
                             PftRedisDoneFunc   func,
                             gpointer           data)
{
  PftRedisLimits l;
  char buf[5][32];
  const char *args[6];

  g_return_if_fail (self != NULL);
  g_return_if_fail (lease != NULL);

  l = pft_redis_admission_dup_limits (self);
  g_snprintf (buf[0], 32, "%" G_GUINT64_FORMAT, old_cost);
  g_snprintf (buf[1], 32, "%" G_GUINT64_FORMAT, new_cost);
  g_snprintf (buf[2], 32, "%d", l.smooth ? 1 : 0);
  g_snprintf (buf[3], 32, "%" G_GUINT64_FORMAT, l.max_cost);
  g_snprintf (buf[4], 32, "%" G_GINT64_FORMAT, l.window_us);
  args[0] = lease;
  for (guint i = 0; i < 5; i++)
    args[1 + i] = buf[i];
  pft_redis_admission_eval_done (self, PFT_REDIS_SCRIPT_SETTLE, "settle", 6, args, func, data);
}

void
_pft_redis_admission_pause (PftRedisAdmission *self,
                            double             seconds,
                            PftRedisDoneFunc   func,
                            gpointer           data)
{
  char buf[32];
  const char *args[] = { buf };

  g_return_if_fail (self != NULL);
  g_return_if_fail (seconds >= 0);

  /* Capped at about 292 years, as the in-process limiter. */
  g_snprintf (buf, sizeof buf, "%.0f", ceil (MIN (seconds, 9.2e9) * G_USEC_PER_SEC));
  pft_redis_admission_eval_done (self, PFT_REDIS_SCRIPT_PAUSE, "pause", 1, args, func, data);
}

static void
pft_redis_admission_send_query (PftRedisAdmission *self,
                                gpointer           query)
{
  char buf[32];
  const char *args[] = { buf };

  g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, pft_redis_admission_dup_limits (self).window_us);
  pft_redis_admission_eval (self, PFT_REDIS_SCRIPT_STATS, 1, args,
                            pft_redis_admission_on_query_reply, query);
}

void
_pft_redis_admission_query_stats (PftRedisAdmission *self,
                                  PftRedisStatsFunc  func,
                                  gpointer           data)
{
  PftRedisStatsQuery *q;

  g_return_if_fail (self != NULL);
  g_return_if_fail (func != NULL);

  q = g_new0 (PftRedisStatsQuery, 1);
  q->self = _pft_redis_admission_ref (self);
  q->func = func;
  q->data = data;
  /* Behind the releases and tries asked before: a reading after a
   * release sees it. */
  pft_redis_admission_queue (self, NULL, NULL, q);
}

/* A blocking reading: the waiting thread and the "pft-redis" thread share
 * it, whoever is last frees it. */
typedef struct
{
  gatomicrefcount ref;
  GMutex          lock;
  GCond           cond;
  gboolean        done;
  PftRedisStats   stats;
  GError         *error;
} PftRedisReading;

static void
pft_redis_reading_unref (PftRedisReading *r)
{
  if (!g_atomic_ref_count_dec (&r->ref))
    return;
  g_clear_error (&r->error);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  g_free (r);
}

static void
pft_redis_reading_on_reply (const PftRedisStats *stats,
                            const GError        *error,
                            gpointer             data)
{
  PftRedisReading *r = data;

  g_mutex_lock (&r->lock);
  if (stats != NULL)
    r->stats = *stats;
  else
    r->error = g_error_copy (error);
  r->done = TRUE;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  pft_redis_reading_unref (r);
}

static void
pft_redis_reading_on_cancelled (GCancellable *cancellable,
                                gpointer      data)
{
  PftRedisReading *r = data;

  g_mutex_lock (&r->lock);
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
}

gboolean
_pft_redis_admission_read_stats (PftRedisAdmission  *self,
                                 GCancellable       *cancellable,
                                 PftRedisStats      *stats,
                                 GError            **error)
{
  PftRedisReading *r = g_new0 (PftRedisReading, 1);
  gulong id = 0;
  gboolean ok, done;

  g_return_val_if_fail (self != NULL, FALSE);

  g_atomic_ref_count_init (&r->ref);
  g_atomic_ref_count_inc (&r->ref);   /* one for the reply */
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  _pft_redis_admission_query_stats (self, pft_redis_reading_on_reply, r);

  if (cancellable != NULL)
    id = g_cancellable_connect (cancellable, G_CALLBACK (pft_redis_reading_on_cancelled), r, NULL);
  g_mutex_lock (&r->lock);
  while (!r->done && !g_cancellable_is_cancelled (cancellable))
    g_cond_wait (&r->cond, &r->lock);
  done = r->done;
  ok = done && r->error == NULL;
  if (ok && stats != NULL)
    *stats = r->stats;
  else if (done && !ok)
    g_propagate_error (error, g_steal_pointer (&r->error));
  g_mutex_unlock (&r->lock);
  if (id != 0)
    g_cancellable_disconnect (cancellable, id);
  if (!done)
    g_cancellable_set_error_if_cancelled (cancellable, error);
  pft_redis_reading_unref (r);
  return ok;
}

/* ------------------------------------------------------------------ */
/* Life */

static gboolean
pft_redis_limits_valid (const PftRedisLimits *limits)
{
  return limits->window_us > 0 && limits->lease_ttl_us >= 1000 && limits->poll_us > 0;
}

PftRedisAdmission *
_pft_redis_admission_new (const char            *uri,
                          const char            *key,
                          const PftRedisLimits  *limits,
                          gint64                 backend_timeout_us,
                          GError               **error)
{
  PftRedisAdmission *self;
  PftRedisConnection *conn;

  g_return_val_if_fail (uri != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (limits != NULL && pft_redis_limits_valid (limits), NULL);
  g_return_val_if_fail (backend_timeout_us > 0, NULL);

  if (*key == '\0' || strpbrk (key, "{}") != NULL)
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                   "Invalid Redis key “%s”: it must not be empty nor hold “{” or “}”", key);
      return NULL;
    }

  conn = _pft_redis_connection_get (uri, key, backend_timeout_us, error);
  if (conn == NULL)
    return NULL;

  self = g_new0 (PftRedisAdmission, 1);
  g_atomic_ref_count_init (&self->ref);
  self->conn = conn;
  self->key = g_strdup (key);
  _pft_redis_keys_init (&self->keys, key);
  g_mutex_init (&self->lock);
  self->limits = *limits;
  self->leases = _pft_redis_leases_new (conn, &self->keys, key, limits->lease_ttl_us, self,
                                        (gpointer (*) (gpointer)) _pft_redis_admission_ref,
                                        (GDestroyNotify) _pft_redis_admission_unref);
  g_queue_init (&self->sleepers);
  g_queue_init (&self->pending);
  self->releases = g_ptr_array_new_with_free_func (g_free);
  self->queries = g_ptr_array_new ();
  /* Every script before the first decision: a NOSCRIPT reload would run
   * that script after the commands queued behind it (a settle after the
   * ask it made room for). */
  for (guint i = 0; i < PFT_REDIS_N_SCRIPTS; i++)
    _pft_redis_connection_preload (conn, _pft_redis_script_get_sha (i), _pft_redis_script_get_body (i));
  return self;
}

PftRedisAdmission *
_pft_redis_admission_ref (PftRedisAdmission *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref);
  return self;
}

void
_pft_redis_admission_unref (PftRedisAdmission *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref))
    return;
  /* Held leases keep a renewal (and so a reference) alive: none here. */
  g_assert (!_pft_redis_leases_is_renewing (self->leases) && g_queue_is_empty (&self->sleepers));
  g_assert (g_queue_is_empty (&self->pending) && self->releases->len == 0 && self->queries->len == 0);
  g_ptr_array_unref (self->releases);
  g_ptr_array_unref (self->queries);
  _pft_redis_leases_free (self->leases);
  g_mutex_clear (&self->lock);
  _pft_redis_keys_clear (&self->keys);
  g_free (self->key);
  _pft_redis_connection_unref (self->conn);
  g_free (self);
}

const char *
_pft_redis_admission_get_key (PftRedisAdmission *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->key;
}

void
_pft_redis_admission_set_limits (PftRedisAdmission    *self,
                                 const PftRedisLimits *limits)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (limits != NULL && pft_redis_limits_valid (limits));

  g_mutex_lock (&self->lock);
  self->limits = *limits;
  g_mutex_unlock (&self->lock);
  _pft_redis_leases_set_ttl (self->leases, limits->lease_ttl_us);
}

void
_pft_redis_admission_set_backend_timeout (PftRedisAdmission *self,
                                          gint64             timeout_us)
{
  g_return_if_fail (self != NULL);

  _pft_redis_connection_set_timeout (self->conn, timeout_us);
}

const char *
_pft_redis_admission_get_display (PftRedisAdmission *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return _pft_redis_connection_get_display (self->conn);
}

guint
_pft_redis_admission_get_held (PftRedisAdmission *self)
{
  guint n;

  g_return_val_if_fail (self != NULL, 0);

  n = _pft_redis_leases_count (self->leases);
  return n;
}

guint
_pft_redis_admission_get_lost_leases (PftRedisAdmission *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return _pft_redis_leases_get_lost (self->leases);
}
