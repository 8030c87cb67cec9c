/* test-timeout.c: PftNode:timeout, on a fake clock
 *
 * Each test runs the node with run_async on a context of its own,
 * advances the node's fake clock past the deadline while the exec is
 * still running, and iterates until the run is done: no wall time is
 * waited for.
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft.h>

#include "pft-clock-private.h"
#include "pft-node-private.h"
#include "pft-rate-limiter-private.h"
#include "test-util.h"

#define START_US (1000 * G_USEC_PER_SEC)

/* ------------------------------------------------------------------ */
/* A node whose exec, in each shape, blocks or never completes on
 * attempts listed in @hang_attempts (a bit per attempt), and returns
 * "done <attempt>" on the others. */

typedef enum { SHAPE_THREAD, SHAPE_ASYNC, SHAPE_TASK } Shape;

typedef struct
{
  Shape       shape;
  guint       hang_attempts;
  GMutex      lock;
  GCond       cond;
  gboolean    release;       /* under @lock: blocked thread execs return */
  gint        started;       /* atomic */
  gint        running;       /* atomic: thread execs inside exec */
  guint       last_attempt;
  GPtrArray  *pending;       /* GTasks never completed (async, task shapes) */
  gint        finished_late; /* exec_finish calls for results nobody waited for */
} Hang;

#define HANG_TYPE_NODE (hang_node_get_type ())
G_DECLARE_FINAL_TYPE (HangNode, hang_node, HANG, NODE, PftNode)

struct _HangNode
{
  PftNode  parent_instance;
  Hang    *hang;
};

G_DEFINE_FINAL_TYPE (HangNode, hang_node, PFT_TYPE_NODE)

static gboolean
hang_this_attempt (Hang       *h,
                   PftContext *ctx)
{
  guint attempt = pft_context_get_attempt (ctx);

  h->last_attempt = attempt;
  g_atomic_int_inc (&h->started);
  return (h->hang_attempts & (1u << attempt)) != 0;
}

static void
set_done (GValue *result,
          guint   attempt)
{
  g_value_init (result, G_TYPE_STRING);
  g_value_take_string (result, g_strdup_printf ("done %u", attempt));
}

static void
hang_node_exec (PftNode      *node,
                PftContext   *ctx,
                const GValue *item,
                GValue       *result,
                GError      **error)
{
  Hang *h = HANG_NODE (node)->hang;

  g_atomic_int_inc (&h->running);
  if (hang_this_attempt (h, ctx))
    {
      /* Blocks like a call that ignores the cancellable. */
      g_mutex_lock (&h->lock);
      while (!h->release)
        g_cond_wait (&h->cond, &h->lock);
      g_mutex_unlock (&h->lock);
    }
  set_done (result, pft_context_get_attempt (ctx));
  g_atomic_int_add (&h->running, -1);
}

static void
hang_node_exec_async (PftNode             *node,
                      PftContext          *ctx,
                      const GValue        *item,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  Hang *h = HANG_NODE (node)->hang;
  GTask *task = g_task_new (node, NULL, callback, user_data);

  if (hang_this_attempt (h, ctx))
    {
      /* Never completed while the run waits (the cancellable is
       * ignored); completed by the test afterwards. */
      g_ptr_array_add (h->pending, task);
      return;
    }
  g_task_return_pointer (task, g_strdup_printf ("done %u", pft_context_get_attempt (ctx)), g_free);
  g_object_unref (task);
}

static void
hang_node_exec_finish (PftNode       *node,
                       GAsyncResult  *result,
                       GValue        *value,
                       GError       **error)
{
  char *s = g_task_propagate_pointer (G_TASK (result), error);

  if (s == NULL)
    return;
  if (g_str_has_prefix (s, "late"))
    HANG_NODE (node)->hang->finished_late++;
  g_value_init (value, G_TYPE_STRING);
  g_value_take_string (value, s);
}

static void
hang_node_exec_task (PftNode      *node,
                     PftContext   *ctx,
                     const GValue *item,
                     GTask        *task,
                     GError      **error)
{
  Hang *h = HANG_NODE (node)->hang;
  GValue v = G_VALUE_INIT;

  if (hang_this_attempt (h, ctx))
    {
      g_ptr_array_add (h->pending, g_object_ref (task));
      return;
    }
  set_done (&v, pft_context_get_attempt (ctx));
  g_task_return_value (task, &v);
  g_value_unset (&v);
}

static void
hang_node_class_init (HangNodeClass *klass)
{
}

static void
hang_node_init (HangNode *self)
{
}

static PftNode *
hang_node_new (Hang     *h,
               PftClock *clock,
               double    timeout,
               int       max_retries)
{
  HangNode *node = g_object_new (HANG_TYPE_NODE, "name", "slow-api", "timeout", timeout,
                                 "max-retries", max_retries, NULL);
  PftNodeClass *klass = g_type_class_peek (HANG_TYPE_NODE);

  /* One class, three shapes: the engine reads the class at each exec. */
  klass->exec = h->shape == SHAPE_THREAD ? hang_node_exec : NULL;
  klass->exec_async = NULL;
  klass->exec_finish = NULL;
  klass->exec_task = NULL;
  if (h->shape == SHAPE_ASYNC)
    {
      klass->exec_async = hang_node_exec_async;
      klass->exec_finish = hang_node_exec_finish;
    }
  else if (h->shape == SHAPE_TASK)
    klass->exec_task = hang_node_exec_task;
  else
    {
      PftNodeClass *parent = g_type_class_peek (PFT_TYPE_NODE);

      klass->exec_async = parent->exec_async;
      klass->exec_finish = parent->exec_finish;
    }
  node->hang = h;
  _pft_node_set_clock (PFT_NODE (node), clock);
  return PFT_NODE (node);
}

static void
hang_init (Hang  *h,
           Shape  shape,
           guint  hang_attempts)
{
  memset (h, 0, sizeof *h);
  h->shape = shape;
  h->hang_attempts = hang_attempts;
  g_mutex_init (&h->lock);
  g_cond_init (&h->cond);
  h->pending = g_ptr_array_new_with_free_func (g_object_unref);
}

/* Lets blocked thread execs return and waits for them; completes the
 * tasks nobody waits for any more, on @context (the thread-default). */
static void
hang_clear (Hang         *h,
            GMainContext *context)
{
  g_mutex_lock (&h->lock);
  h->release = TRUE;
  g_cond_broadcast (&h->cond);
  g_mutex_unlock (&h->lock);
  while (g_atomic_int_get (&h->running) > 0)
    g_usleep (1000);

  for (guint i = 0; i < h->pending->len; i++)
    {
      GTask *task = h->pending->pdata[i];

      if (h->shape == SHAPE_ASYNC)
        g_task_return_pointer (task, g_strdup ("late"), g_free);
      else
        {
          GValue v = G_VALUE_INIT;

          g_value_init (&v, G_TYPE_STRING);
          g_value_set_static_string (&v, "late");
          g_task_return_value (task, &v);
          g_value_unset (&v);
        }
    }
  g_ptr_array_set_size (h->pending, 0);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_ptr_array_unref (h->pending);
  g_mutex_clear (&h->lock);
  g_cond_clear (&h->cond);
}

/* ------------------------------------------------------------------ */
/* Running on a context of the test's own                               */

typedef struct
{
  GMainContext *context;
  GAsyncResult *result;
} Run;

static void
run_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  Run *r = user_data;

  r->result = g_object_ref (result);
}

static void
run_start (Run      *r,
           PftNode  *node,
           PftStore *store,
           GCancellable *cancellable)
{
  r->context = g_main_context_new ();
  r->result = NULL;
  /* Thread-default until run_clear(): execs started in later iterations
   * create their tasks there. */
  g_main_context_push_thread_default (r->context);
  pft_node_run_async (node, store, cancellable, run_cb, r);
}

/* Iterates until @n execs have started (a thread exec starts in a worker). */
static void
run_wait_started (Run  *r,
                  Hang *h,
                  gint  n)
{
  while (g_atomic_int_get (&h->started) < n)
    g_main_context_iteration (r->context, FALSE);
}

static char *
run_finish (Run      *r,
            PftNode  *node,
            GError  **error)
{
  char *action;

  while (r->result == NULL)
    g_main_context_iteration (r->context, TRUE);
  action = pft_node_run_finish (node, r->result, error);
  g_clear_object (&r->result);
  return action;
}

static void
run_clear (Run *r)
{
  while (g_main_context_iteration (r->context, FALSE))
    ;
  g_main_context_pop_thread_default (r->context);
  g_main_context_unref (r->context);
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */

static const Shape all_shapes[] = { SHAPE_THREAD, SHAPE_ASYNC, SHAPE_TASK };

/* An attempt that outlives its timeout fails with TIMED_OUT, naming the
 * node, whatever the exec's shape and although the exec ignores its
 * cancellable; before the deadline, nothing happens. */
static void
test_timeout_fails_attempt (void)
{
  for (guint s = 0; s < G_N_ELEMENTS (all_shapes); s++)
    {
      PftClock *clock = _pft_fake_clock_new (START_US);
      g_autoptr(PftStore) store = pft_store_new ();
      g_autoptr(GError) error = NULL;
      PftNode *node;
      Hang h;
      Run r;
      char *action;

      hang_init (&h, all_shapes[s], 1u << 1);
      node = hang_node_new (&h, clock, 2.5, 1);
      run_start (&r, node, store, NULL);
      run_wait_started (&r, &h, 1);
      g_assert_cmpint (_pft_fake_clock_get_next_deadline (clock), ==, START_US + 2500000);

      _pft_fake_clock_advance (clock, 2499999);
      while (g_main_context_iteration (r.context, FALSE))
        ;
      g_assert_null (r.result);

      _pft_fake_clock_advance (clock, 1);
      action = run_finish (&r, node, &error);
      g_assert_null (action);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_assert_nonnull (strstr (error->message, "slow-api"));
      g_assert_nonnull (strstr (error->message, "2.5 s"));
      g_assert_cmpuint (_pft_fake_clock_get_n_armed (clock), ==, 0);

      hang_clear (&h, r.context);
      run_clear (&r);
      g_object_unref (node);
      _pft_clock_unref (clock);
    }
}

/* A timed-out attempt is an ordinary failure: the next attempt runs (with
 * a fresh deadline) and its result is the node's. The late result of the
 * first one is dropped, and exec_finish still consumes it. */
static void
test_timeout_retried (void)
{
  for (guint s = 0; s < G_N_ELEMENTS (all_shapes); s++)
    {
      PftClock *clock = _pft_fake_clock_new (START_US);
      g_autoptr(PftStore) store = pft_store_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *action = NULL;
      g_auto(GValue) result = G_VALUE_INIT;
      PftNode *node;
      Hang h;
      Run r;

      hang_init (&h, all_shapes[s], 1u << 1);
      node = hang_node_new (&h, clock, 1, 3);
      run_start (&r, node, store, NULL);
      run_wait_started (&r, &h, 1);
      _pft_fake_clock_advance (clock, G_USEC_PER_SEC);
      action = run_finish (&r, node, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (action, ==, PFT_DEFAULT_ACTION);
      g_assert_cmpint (g_atomic_int_get (&h.started), ==, 2);
      g_assert_cmpuint (h.last_attempt, ==, 2);

      hang_clear (&h, r.context);
      if (all_shapes[s] == SHAPE_ASYNC)
        g_assert_cmpint (h.finished_late, ==, 1);
      run_clear (&r);
      g_object_unref (node);
      _pft_clock_unref (clock);
    }
}

/* Cancelling the run is a cancellation, not a timeout, even once the
 * deadline passed; and an attempt that completes in time stands. */
static void
test_timeout_cancel_and_success (void)
{
  PftClock *clock = _pft_fake_clock_new (START_US);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  PftNode *node;
  Hang h;
  Run r;

  hang_init (&h, SHAPE_ASYNC, 1u << 1);
  node = hang_node_new (&h, clock, 3, 1);
  run_start (&r, node, store, cancellable);
  run_wait_started (&r, &h, 1);
  g_cancellable_cancel (cancellable);
  _pft_fake_clock_advance (clock, 10 * G_USEC_PER_SEC);
  g_assert_null (run_finish (&r, node, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  hang_clear (&h, r.context);
  run_clear (&r);
  g_object_unref (node);

  hang_init (&h, SHAPE_THREAD, 0);
  node = hang_node_new (&h, clock, 3, 1);
  run_start (&r, node, store, NULL);
  action = run_finish (&r, node, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (_pft_fake_clock_get_n_armed (clock), ==, 0);
  hang_clear (&h, r.context);
  run_clear (&r);
  g_object_unref (node);
  _pft_clock_unref (clock);
}

/* Each item of a batch has its own deadline; the exec sees a cancellable
 * of its attempt that the timeout cancels. */
#define TIMED_TYPE_BATCH (timed_batch_get_type ())
G_DECLARE_FINAL_TYPE (TimedBatch, timed_batch, TIMED, BATCH, PftThrottledBatchNode)

struct _TimedBatch
{
  PftThrottledBatchNode  parent_instance;
  gint                   exec_calls;   /* atomic */
  gint                   running;      /* atomic */
  PftValues             *results;
};

G_DEFINE_FINAL_TYPE (TimedBatch, timed_batch, PFT_TYPE_THROTTLED_BATCH_NODE)

static void
timed_batch_prep (PftNode    *node,
                  PftContext *ctx,
                  GValue     *result,
                  GError    **error)
{
  PftValues *items = pft_values_new ();

  for (int i = 0; i < 4; i++)
    pft_values_append_int (items, i);
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, items);
}

static void
timed_batch_exec (PftNode      *node,
                  PftContext   *ctx,
                  const GValue *item,
                  GValue       *result,
                  GError      **error)
{
  TimedBatch *self = TIMED_BATCH (node);
  GCancellable *cancellable = pft_context_get_cancellable (ctx);
  gint64 i = g_value_get_int64 (item);

  g_atomic_int_inc (&self->running);
  g_atomic_int_inc (&self->exec_calls);
  if (i % 2 == 1)
    {
      /* Odd items wait for their attempt's cancellable: only the
       * timeout ends them. */
      while (!g_cancellable_is_cancelled (cancellable))
        g_usleep (100);
      g_cancellable_set_error_if_cancelled (cancellable, error);
    }
  else
    {
      g_value_init (result, G_TYPE_INT64);
      g_value_set_int64 (result, i * 10);
    }
  g_atomic_int_add (&self->running, -1);
}

static char *
timed_batch_post (PftNode      *node,
                  PftContext   *ctx,
                  const GValue *prep,
                  const GValue *exec,
                  GError      **error)
{
  TIMED_BATCH (node)->results = g_value_dup_object (exec);
  return NULL;
}

static void
timed_batch_finalize (GObject *object)
{
  g_clear_object (&TIMED_BATCH (object)->results);
  G_OBJECT_CLASS (timed_batch_parent_class)->finalize (object);
}

static void
timed_batch_class_init (TimedBatchClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = timed_batch_finalize;
  PFT_NODE_CLASS (klass)->prep = timed_batch_prep;
  PFT_NODE_CLASS (klass)->exec = timed_batch_exec;
  PFT_NODE_CLASS (klass)->post = timed_batch_post;
}

static void
timed_batch_init (TimedBatch *self)
{
}

static void
test_timeout_batch_items (void)
{
  PftClock *clock = _pft_fake_clock_new (START_US);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  TimedBatch *node = g_object_new (TIMED_TYPE_BATCH, "max-concurrent", 4, "max-per-minute", 0,
                                   "timeout", 1.0, "continue-on-error", TRUE, NULL);
  PftValues *results;
  Run r;

  _pft_node_set_clock (PFT_NODE (node), clock);
  run_start (&r, PFT_NODE (node), store, NULL);
  while (g_atomic_int_get (&node->exec_calls) < 4)
    g_main_context_iteration (r.context, FALSE);
  _pft_fake_clock_advance (clock, G_USEC_PER_SEC);
  g_free (run_finish (&r, PFT_NODE (node), &error));
  g_assert_no_error (error);

  results = node->results;
  g_assert_nonnull (results);
  g_assert_cmpint (pft_values_get_int (results, 0), ==, 0);
  g_assert_cmpint (pft_values_get_int (results, 2), ==, 20);
  g_assert_true (g_error_matches (pft_values_get_error (results, 1), G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
  g_assert_true (g_error_matches (pft_values_get_error (results, 3), G_IO_ERROR, G_IO_ERROR_TIMED_OUT));

  while (g_atomic_int_get (&node->running) > 0)
    g_usleep (1000);
  run_clear (&r);
  g_object_unref (node);
  _pft_clock_unref (clock);
}

/* An exec_async that reports from a "cancelled" handler of its
 * cancellable, calling back at once (GTask itself would defer, not every
 * implementation does): the report then comes inside the emission of the
 * run's "cancelled", and the attempt's bookkeeping must not wait for that
 * emission to end (g_cancellable_disconnect() would: it is the caller). */
#define EAGER_TYPE_NODE (eager_node_get_type ())
G_DECLARE_FINAL_TYPE (EagerNode, eager_node, EAGER, NODE, PftNode)

struct _EagerNode
{
  PftNode              parent_instance;
  gint                 started;
  GAsyncReadyCallback  callback;
  gpointer             user_data;
};

G_DEFINE_FINAL_TYPE (EagerNode, eager_node, PFT_TYPE_NODE)

static void
eager_cancelled (GCancellable *cancellable,
                 EagerNode    *self)
{
  GTask *result = g_task_new (self, NULL, NULL, NULL);

  g_task_return_new_error (result, G_IO_ERROR, G_IO_ERROR_CANCELLED, "stopped");
  self->callback (G_OBJECT (self), G_ASYNC_RESULT (result), self->user_data);
  g_object_unref (result);
}

static void
eager_node_exec_async (PftNode             *node,
                       PftContext          *ctx,
                       const GValue        *item,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  EagerNode *self = EAGER_NODE (node);

  self->started++;
  self->callback = callback;
  self->user_data = user_data;
  g_cancellable_connect (cancellable, G_CALLBACK (eager_cancelled), self, NULL);
}

static void
eager_node_exec_finish (PftNode       *node,
                        GAsyncResult  *result,
                        GValue        *value,
                        GError       **error)
{
  g_task_propagate_boolean (G_TASK (result), error);
}

static void
eager_node_class_init (EagerNodeClass *klass)
{
  PFT_NODE_CLASS (klass)->exec_async = eager_node_exec_async;
  PFT_NODE_CLASS (klass)->exec_finish = eager_node_exec_finish;
}

static void
eager_node_init (EagerNode *self)
{
}

static gboolean
cancel_cb (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_timeout_cancel_inside_emission (void)
{
  PftClock *clock = _pft_fake_clock_new (START_US);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  EagerNode *node = g_object_new (EAGER_TYPE_NODE, "timeout", 5.0, NULL);
  GSource *idle;
  Run r;

  _pft_node_set_clock (PFT_NODE (node), clock);
  run_start (&r, PFT_NODE (node), store, cancellable);
  g_assert_cmpint (node->started, ==, 1);
  idle = g_idle_source_new ();
  g_source_set_callback (idle, cancel_cb, cancellable, NULL);
  g_source_attach (idle, r.context);
  g_source_unref (idle);
  g_assert_null (run_finish (&r, PFT_NODE (node), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  run_clear (&r);
  g_object_unref (node);
  _pft_clock_unref (clock);
}

/* ------------------------------------------------------------------ */
/* A timed-out attempt keeps its permit until its exec returns          */

/* A throttled batch of two items under a limiter of one concurrent and
 * two per 10 s, on the fake clock. The first attempt of item 0 ignores
 * its cancellable and runs on past its timeout; everything else returns
 * at once. The execs stamp their start and end (on the fake clock, which
 * the test advances: the observer outside the limiter). */
typedef struct
{
  gint64 start;
  gint64 end;        /* -1 while running */
  gint64 item;
  guint  attempt;
} Stamp;

#define HELD_TYPE_BATCH (held_batch_get_type ())
G_DECLARE_FINAL_TYPE (HeldBatch, held_batch, HELD, BATCH, PftThrottledBatchNode)

struct _HeldBatch
{
  PftThrottledBatchNode  parent_instance;
  Shape                  shape;
  PftClock              *clock;
  GMutex                 lock;
  GCond                  cond;
  gboolean               release;   /* under @lock: the blocked thread exec returns */
  GArray                *stamps;    /* Stamp, under @lock */
  gint                   running;   /* under @lock */
  gint                   max_running;
  gboolean               held;      /* the first exec of item 0 was held */
  GTask                 *pending;   /* the async or task shape's held attempt */
  guint                  pending_stamp;
};

G_DEFINE_FINAL_TYPE (HeldBatch, held_batch, PFT_TYPE_THROTTLED_BATCH_NODE)

/* Returns the stamp's index; TRUE in @hold for item 0's first exec. */
static guint
held_batch_enter (HeldBatch    *self,
                  PftContext   *ctx,
                  const GValue *item,
                  gboolean     *hold)
{
  Stamp st = { _pft_clock_now_us (self->clock), -1, g_value_get_int64 (item),
               pft_context_get_attempt (ctx) };
  guint index;

  g_mutex_lock (&self->lock);
  index = self->stamps->len;
  g_array_append_val (self->stamps, st);
  self->running++;
  self->max_running = MAX (self->max_running, self->running);
  *hold = st.item == 0 && !self->held;
  self->held = self->held || *hold;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return index;
}

static void
held_batch_leave (HeldBatch *self,
                  guint      index)
{
  g_mutex_lock (&self->lock);
  g_array_index (self->stamps, Stamp, index).end = _pft_clock_now_us (self->clock);
  self->running--;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

static void
held_batch_prep (PftNode    *node,
                 PftContext *ctx,
                 GValue     *result,
                 GError    **error)
{
  PftValues *items = pft_values_new ();

  pft_values_append_int (items, 0);
  pft_values_append_int (items, 1);
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, items);
}

static void
held_batch_exec (PftNode      *node,
                 PftContext   *ctx,
                 const GValue *item,
                 GValue       *result,
                 GError      **error)
{
  HeldBatch *self = HELD_BATCH (node);
  gboolean hold;
  guint index = held_batch_enter (self, ctx, item, &hold);

  if (hold)
    {
      /* A blocking call that ignores the cancellable. */
      g_mutex_lock (&self->lock);
      while (!self->release)
        g_cond_wait (&self->cond, &self->lock);
      g_mutex_unlock (&self->lock);
    }
  g_value_init (result, G_TYPE_UINT);
  g_value_set_uint (result, pft_context_get_attempt (ctx));
  held_batch_leave (self, index);
}

static void
held_batch_exec_async (PftNode             *node,
                       PftContext          *ctx,
                       const GValue        *item,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  HeldBatch *self = HELD_BATCH (node);
  GTask *task = g_task_new (node, NULL, callback, user_data);
  gboolean hold;
  guint index = held_batch_enter (self, ctx, item, &hold);

  if (hold)
    {
      /* Completed by the test, long after the timeout. */
      self->pending = task;
      self->pending_stamp = index;
      return;
    }
  held_batch_leave (self, index);
  g_task_return_int (task, pft_context_get_attempt (ctx));
  g_object_unref (task);
}

static void
held_batch_exec_finish (PftNode       *node,
                        GAsyncResult  *result,
                        GValue        *value,
                        GError       **error)
{
  gssize attempt = g_task_propagate_int (G_TASK (result), error);

  g_value_init (value, G_TYPE_UINT);
  g_value_set_uint (value, (guint) attempt);
}

static void
held_batch_exec_task (PftNode      *node,
                      PftContext   *ctx,
                      const GValue *item,
                      GTask        *task,
                      GError      **error)
{
  HeldBatch *self = HELD_BATCH (node);
  gboolean hold;
  guint index = held_batch_enter (self, ctx, item, &hold);
  GValue v = G_VALUE_INIT;

  if (hold)
    {
      self->pending = g_object_ref (task);
      self->pending_stamp = index;
      return;
    }
  held_batch_leave (self, index);
  g_value_init (&v, G_TYPE_UINT);
  g_value_set_uint (&v, pft_context_get_attempt (ctx));
  g_task_return_value (task, &v);
  g_value_unset (&v);
}

static void
held_batch_finalize (GObject *object)
{
  HeldBatch *self = HELD_BATCH (object);

  g_array_unref (self->stamps);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (held_batch_parent_class)->finalize (object);
}

static void
held_batch_class_init (HeldBatchClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = held_batch_finalize;
  PFT_NODE_CLASS (klass)->prep = held_batch_prep;
}

static void
held_batch_init (HeldBatch *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->stamps = g_array_new (FALSE, FALSE, sizeof (Stamp));
}

static HeldBatch *
held_batch_new (Shape           shape,
                PftClock       *clock,
                PftRateLimiter *limiter)
{
  PftNodeClass *klass = g_type_class_ref (HELD_TYPE_BATCH);
  PftNodeClass *parent = g_type_class_peek (PFT_TYPE_THROTTLED_BATCH_NODE);
  HeldBatch *self;

  /* One class, three shapes, as HangNode: the engine reads the class at
   * each exec. */
  klass->exec = shape == SHAPE_THREAD ? held_batch_exec : NULL;
  klass->exec_async = shape == SHAPE_ASYNC ? held_batch_exec_async : parent->exec_async;
  klass->exec_finish = shape == SHAPE_ASYNC ? held_batch_exec_finish : parent->exec_finish;
  klass->exec_task = shape == SHAPE_TASK ? held_batch_exec_task : NULL;
  g_type_class_unref (klass);

  self = g_object_new (HELD_TYPE_BATCH, "name", "held", "timeout", 1.0, "max-retries", 2,
                       "thread-policy", PFT_THREAD_POLICY_THREAD, NULL);
  self->shape = shape;
  self->clock = clock;
  _pft_node_set_clock (PFT_NODE (self), clock);
  pft_throttled_batch_node_set_limiter (PFT_THROTTLED_BATCH_NODE (self), limiter);
  return self;
}

/* The held attempt returns now (on the fake clock's time). */
static void
held_batch_release (HeldBatch *self)
{
  if (self->shape == SHAPE_THREAD)
    {
      g_mutex_lock (&self->lock);
      self->release = TRUE;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      return;
    }

  held_batch_leave (self, self->pending_stamp);
  if (self->shape == SHAPE_ASYNC)
    g_task_return_int (self->pending, 1);
  else
    {
      GValue v = G_VALUE_INIT;

      g_value_init (&v, G_TYPE_UINT);
      g_value_set_uint (&v, 1);
      g_task_return_value (self->pending, &v);
      g_value_unset (&v);
    }
  g_clear_object (&self->pending);
}

static guint
held_batch_n_stamps (HeldBatch *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->stamps->len;
  g_mutex_unlock (&self->lock);
  return n;
}

static void
test_timeout_keeps_permit (void)
{
  for (guint s = 0; s < G_N_ELEMENTS (all_shapes); s++)
    {
      PftClock *clock = _pft_fake_clock_new (START_US);
      g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (1, 2, 10);
      g_autoptr(PftStore) store = pft_store_new ();
      g_autoptr(GError) error = NULL;
      HeldBatch *node;
      Stamp *st;
      Run r;

      g_test_message ("shape %u", s);
      _pft_rate_limiter_set_clock (limiter, clock);
      node = held_batch_new (all_shapes[s], clock, limiter);
      run_start (&r, PFT_NODE (node), store, NULL);
      while (held_batch_n_stamps (node) < 1)
        g_main_context_iteration (r.context, FALSE);

      /* The first attempt times out at 1 s and is reported at once (the
       * retry is queued at the limiter), but its exec goes on: it still
       * counts, so nothing else starts. */
      _pft_fake_clock_advance (clock, G_USEC_PER_SEC);
      while (g_main_context_iteration (r.context, FALSE))
        ;
      g_assert_null (r.result);
      g_assert_cmpuint (held_batch_n_stamps (node), ==, 1);
      g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);
      g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 2);

      /* At 3 s it returns: the next request goes, and fills the window
       * (2 per 10 s); the third waits for the first request's entry to
       * leave the window, 10 s after the first exec started (not after
       * its timeout, nor after its return). */
      _pft_fake_clock_advance (clock, 2 * G_USEC_PER_SEC);
      held_batch_release (node);
      while (held_batch_n_stamps (node) < 2 || pft_rate_limiter_get_in_flight (limiter) != 0)
        g_main_context_iteration (r.context, FALSE);
      while (g_main_context_iteration (r.context, FALSE))
        ;
      g_assert_cmpuint (held_batch_n_stamps (node), ==, 2);
      g_assert_cmpint (_pft_fake_clock_get_next_deadline (clock), ==, START_US + 10 * G_USEC_PER_SEC);

      _pft_fake_clock_advance (clock, 7 * G_USEC_PER_SEC);
      g_free (run_finish (&r, PFT_NODE (node), &error));
      g_assert_no_error (error);

      /* Seen by the execs: three starts, one at a time, the retry of
       * item 0 among them, and the held attempt from 0 s to 3 s. */
      g_assert_cmpuint (node->stamps->len, ==, 3);
      g_assert_cmpint (node->max_running, ==, 1);
      st = &g_array_index (node->stamps, Stamp, 0);
      g_assert_cmpint (st->item, ==, 0);
      g_assert_cmpuint (st->attempt, ==, 1);
      g_assert_cmpint (st->start, ==, START_US);
      g_assert_cmpint (st->end, ==, START_US + 3 * G_USEC_PER_SEC);
      st = &g_array_index (node->stamps, Stamp, 1);
      g_assert_cmpint (st->start, ==, START_US + 3 * G_USEC_PER_SEC);
      st = &g_array_index (node->stamps, Stamp, 2);
      g_assert_cmpint (st->start, ==, START_US + 10 * G_USEC_PER_SEC);
      g_assert_true ((g_array_index (node->stamps, Stamp, 1).item == 0 &&
                      g_array_index (node->stamps, Stamp, 1).attempt == 2) ||
                     (g_array_index (node->stamps, Stamp, 2).item == 0 &&
                      g_array_index (node->stamps, Stamp, 2).attempt == 2));
      g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
      g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 0);

      run_clear (&r);
      g_object_unref (node);
      _pft_clock_unref (clock);
    }
}

/* The engine's own timeout is not a rate limit, even when the node's
 * name, which its message carries, reads like one: the shared limiter is
 * not told (no pause, no "rate-limited" for everyone), and the retry
 * counts against max-retries. */
static void
rate_limited_cb (PftRateLimiter *limiter,
                 double          retry_after,
                 gpointer        user_data)
{
  (*(guint *) user_data)++;
}

static void
test_timeout_not_rate_limit (void)
{
  PftClock *clock = _pft_fake_clock_new (START_US);
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (1, 0, 10);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  HeldBatch *node;
  guint rate_limited = 0;
  Run r;

  _pft_rate_limiter_set_clock (limiter, clock);
  g_signal_connect (limiter, "rate-limited", G_CALLBACK (rate_limited_cb), &rate_limited);
  node = held_batch_new (SHAPE_ASYNC, clock, limiter);
  pft_node_set_name (PFT_NODE (node), "rate limit gateway");
  g_object_set (node, "max-retries", 1, "continue-on-error", TRUE, NULL);
  run_start (&r, PFT_NODE (node), store, NULL);
  while (held_batch_n_stamps (node) < 1)
    g_main_context_iteration (r.context, FALSE);
  _pft_fake_clock_advance (clock, G_USEC_PER_SEC);
  while (g_main_context_iteration (r.context, FALSE))
    ;
  held_batch_release (node);
  g_free (run_finish (&r, PFT_NODE (node), &error));
  g_assert_no_error (error);

  g_assert_cmpuint (rate_limited, ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_total_pauses (limiter), ==, 0);
  /* One attempt only for item 0 (max-retries 1): no rate-limit retry. */
  g_assert_cmpuint (node->stamps->len, ==, 2);

  run_clear (&r);
  g_object_unref (node);
  _pft_clock_unref (clock);
}

/* A timeout beyond the clock's range never fires, rather than wrap
 * around into the past (UBSan sees the overflow this used to be). */
static void
test_timeout_huge (void)
{
  const double huge[] = { 9.223372036e12, 1e300, G_MAXDOUBLE };

  for (guint i = 0; i < G_N_ELEMENTS (huge); i++)
    {
      PftClock *clock = _pft_fake_clock_new (START_US);
      g_autoptr(PftStore) store = pft_store_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *action = NULL;
      PftNode *node;
      Hang h;
      Run r;

      hang_init (&h, SHAPE_ASYNC, 1u << 1);
      node = hang_node_new (&h, clock, huge[i], 1);
      run_start (&r, node, store, NULL);
      run_wait_started (&r, &h, 1);
      _pft_fake_clock_advance (clock, 1000 * G_USEC_PER_SEC);
      while (g_main_context_iteration (r.context, FALSE))
        ;
      g_assert_null (r.result);

      /* The exec's own result, late as it is, is the attempt's. */
      g_task_return_pointer (h.pending->pdata[0], g_strdup ("done 1"), g_free);
      g_ptr_array_set_size (h.pending, 0);
      action = run_finish (&r, node, &error);
      g_assert_no_error (error);

      hang_clear (&h, r.context);
      run_clear (&r);
      g_object_unref (node);
      _pft_clock_unref (clock);
    }
}

static void
test_timeout_property (void)
{
  g_autoptr(PftNode) node = test_node_new (NULL);
  double timeout = -1;

  g_assert_cmpfloat (pft_node_get_timeout (node), ==, 0);
  pft_node_set_timeout (node, 1.5);
  g_object_get (node, "timeout", &timeout, NULL);
  g_assert_cmpfloat (timeout, ==, 1.5);
  g_test_expect_message ("Pft", G_LOG_LEVEL_CRITICAL, "*timeout >= 0*");
  pft_node_set_timeout (node, -1);
  g_test_assert_expected_messages ();
  g_assert_cmpfloat (pft_node_get_timeout (node), ==, 1.5);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/timeout/fails-attempt", test_timeout_fails_attempt);
  g_test_add_func ("/timeout/retried", test_timeout_retried);
  g_test_add_func ("/timeout/cancel-and-success", test_timeout_cancel_and_success);
  g_test_add_func ("/timeout/batch-items", test_timeout_batch_items);
  g_test_add_func ("/timeout/cancel-inside-emission", test_timeout_cancel_inside_emission);
  g_test_add_func ("/timeout/keeps-permit", test_timeout_keeps_permit);
  g_test_add_func ("/timeout/not-a-rate-limit", test_timeout_not_rate_limit);
  g_test_add_func ("/timeout/huge", test_timeout_huge);
  g_test_add_func ("/timeout/property", test_timeout_property);

  return g_test_run ();
}
