/* sim-api.c: an in-process API with hidden limits
 *
 * SPDX-License-Identifier: MIT
 */

#include "sim-api.h"
#include "pft-rate-limiter-private.h"

void
sim_api_init (SimApi *api)
{
  g_mutex_init (&api->mutex);
  g_queue_init (&api->stamps);
  if (api->window <= 0)
    api->window = 1.0;
}

void
sim_api_clear (SimApi *api)
{
  g_queue_clear_full (&api->stamps, g_free);
  g_mutex_clear (&api->mutex);
}

/* One call: a source that fires when the call is over, or at once when
 * its cancellable is cancelled (from any thread: the handler only moves
 * the ready time). Not a GCancellableSource, which GLib 2.74 can leak when
 * it is cancelled from another thread as it is destroyed. */
typedef struct
{
  GSource        source;
  SimApi        *api;
  GTask         *task;
  GCancellable  *cancellable;
  gulong         cancel_id;
  PftClockTimer *timer;        /* on api->clock: makes the source ready */
} Call;

static gint64
sim_api_now (SimApi *api)
{
  return api->clock != NULL ? _pft_clock_now_us (api->clock) : g_get_monotonic_time ();
}

/* On a fake clock the call ends when the test moves the clock past it:
 * the timer fires in the test's thread and the source runs in the next
 * iteration of the main context. */
static void
call_timer_fired (GObject *task)
{
  GSource *source = g_object_get_data (task, "sim-call");

  if (source != NULL)
    g_source_set_ready_time (source, 0);
}

static gboolean
call_dispatch (GSource     *source,
               GSourceFunc  callback,
               gpointer     user_data)
{
  Call *call = (Call *) source;
  GTask *task = g_steal_pointer (&call->task);
  gboolean served;

  g_clear_pointer (&call->timer, _pft_clock_timer_free);
  g_object_set_data (G_OBJECT (task), "sim-call", NULL);
  if (call->cancel_id != 0)
    {
      g_cancellable_disconnect (call->cancellable, call->cancel_id);
      call->cancel_id = 0;
    }
  served = !g_cancellable_is_cancelled (call->cancellable);
  g_mutex_lock (&call->api->mutex);
  call->api->in_flight--;
  if (served)
    call->api->served++;
  g_mutex_unlock (&call->api->mutex);
  if (served)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "call cancelled");
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

static void
call_finalize (GSource *source)
{
  Call *call = (Call *) source;

  if (call->cancel_id != 0)
    g_cancellable_disconnect (call->cancellable, call->cancel_id);
  g_clear_pointer (&call->timer, _pft_clock_timer_free);
  g_clear_object (&call->cancellable);
  g_clear_object (&call->task);
}

static GSourceFuncs call_funcs = {
  .dispatch = call_dispatch,
  .finalize = call_finalize,
};

static void
call_cancelled (GCancellable *cancellable,
                GSource      *source)
{
  g_source_set_ready_time (source, 0);
}

void
sim_api_call_async (SimApi              *api,
                    GMainContext        *context,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  gint64 now = sim_api_now (api);
  gint64 window_us = (gint64) (api->window * G_USEC_PER_SEC);
  double retry_after = -1;
  gboolean refused = FALSE;

  g_mutex_lock (&api->mutex);
  api->calls++;
  while (!g_queue_is_empty (&api->stamps) &&
         *(gint64 *) g_queue_peek_head (&api->stamps) <= now - window_us)
    g_free (g_queue_pop_head (&api->stamps));
  if (api->calls <= api->fail_first)
    {
      refused = TRUE;
      retry_after = 0.01;
    }
  else if (api->hidden_concurrency != 0 && api->in_flight >= api->hidden_concurrency)
    refused = TRUE;
  else if (api->hidden_rate != 0 && g_queue_get_length (&api->stamps) >= api->hidden_rate)
    {
      refused = TRUE;
      retry_after = (*(gint64 *) g_queue_peek_head (&api->stamps) + window_us - now) / (double) G_USEC_PER_SEC;
    }
  if (refused)
    api->rate_limited++;
  else
    {
      api->in_flight++;
      api->max_in_flight = MAX (api->max_in_flight, api->in_flight);
      if (api->hidden_rate != 0)
        g_queue_push_tail (&api->stamps, g_memdup2 (&now, sizeof now));
    }
  g_mutex_unlock (&api->mutex);

  if (refused)
    {
      pft_task_return_rate_limited (task, retry_after, "sim-api", "429 Too Many Requests");
      g_object_unref (task);
      return;
    }

  {
    GSource *source = g_source_new (&call_funcs, sizeof (Call));
    Call *call = (Call *) source;

    call->api = api;
    call->task = task;
    if (api->clock != NULL)
      {
        g_source_set_ready_time (source, -1);
        g_object_set_data (G_OBJECT (task), "sim-call", source);
        call->timer = _pft_clock_timer_new (api->clock, G_OBJECT (task), call_timer_fired);
        _pft_clock_timer_set_deadline (call->timer, now + api->duration_ms * 1000);
      }
    else
      g_source_set_ready_time (source, now + api->duration_ms * 1000);
    g_source_attach (source, context);
    if (cancellable != NULL)
      {
        call->cancellable = g_object_ref (cancellable);
        call->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (call_cancelled), source, NULL);
      }
    g_source_unref (source);
  }
}

gboolean
sim_api_call_finish (GAsyncResult  *result,
                     GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- the nodes ---- */

typedef struct
{
  SimApi   *api;
  SimProbe *probe;
  SimTrace *trace;
} SimNodeData;

struct _SimThrottledNode
{
  PftThrottledBatchNode parent_instance;
  SimNodeData           d;
};

struct _SimAdaptiveNode
{
  PftAdaptiveNode parent_instance;
  SimNodeData     d;
};

G_DEFINE_FINAL_TYPE (SimThrottledNode, sim_throttled_node, PFT_TYPE_THROTTLED_BATCH_NODE)
G_DEFINE_FINAL_TYPE (SimAdaptiveNode, sim_adaptive_node, PFT_TYPE_ADAPTIVE_NODE)

static SimNodeData *
node_data (PftNode *node)
{
  if (SIM_IS_THROTTLED_NODE (node))
    return &SIM_THROTTLED_NODE (node)->d;
  return &SIM_ADAPTIVE_NODE (node)->d;
}

void
sim_node_set_probe (PftNode  *node,
                    SimProbe *probe)
{
  node_data (node)->probe = probe;
}

void
sim_node_set_trace (PftNode  *node,
                    SimTrace *trace)
{
  node_data (node)->trace = trace;
  trace->min_seen = G_MAXUINT;
}

static void
sim_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, pft_store_dup_values (pft_context_get_store (ctx), "items"));
}

static char *
sim_post (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  pft_store_set_values (pft_context_get_store (ctx), "results", g_value_get_object (exec));
  return NULL;
}

typedef struct
{
  GTask       *task;
  SimNodeData *d;
  GValue       item;
} Exec;

static void
sim_exec_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Exec *e = user_data;
  GError *error = NULL;

  if (e->d->probe != NULL)
    g_atomic_int_add (&e->d->probe->in_flight, -1);
  if (!sim_api_call_finish (result, &error))
    g_task_return_error (e->task, error);
  else
    g_task_return_value (e->task, &e->item);
  g_value_unset (&e->item);
  g_object_unref (e->task);
  g_free (e);
}

static void
sim_exec_async (PftNode *node, PftContext *ctx, const GValue *item, GCancellable *cancellable,
                GAsyncReadyCallback callback, gpointer user_data)
{
  Exec *e = g_new0 (Exec, 1);
  SimNodeData *d = node_data (node);

  e->task = g_task_new (node, cancellable, callback, user_data);
  e->d = d;
  g_value_init (&e->item, G_VALUE_TYPE (item));
  g_value_copy (item, &e->item);
  if (d->probe != NULL)
    {
      gint now = g_atomic_int_add (&d->probe->in_flight, 1) + 1;
      gint max;

      do
        max = g_atomic_int_get (&d->probe->max_in_flight);
      while (now > max && !g_atomic_int_compare_and_exchange (&d->probe->max_in_flight, max, now));
      if (d->probe->limiter != NULL)
        {
          gint excess = now - (gint) pft_rate_limiter_get_max_concurrent (d->probe->limiter);

          if (excess > 0)
            g_atomic_int_inc (&d->probe->violations);
          d->probe->max_excess = MAX (d->probe->max_excess, excess);
        }
    }
  if (d->trace != NULL && PFT_IS_ADAPTIVE_NODE (node))
    {
      guint c = pft_adaptive_node_get_current_concurrent (PFT_ADAPTIVE_NODE (node));

      if (c > d->trace->last && d->trace->min_seen < d->trace->max_seen)
        d->trace->grew_after_backoff = TRUE;
      d->trace->min_seen = MIN (d->trace->min_seen, c);
      d->trace->max_seen = MAX (d->trace->max_seen, c);
      d->trace->last = c;
    }
  sim_api_call_async (d->api, pft_context_get_main_context (ctx), cancellable, sim_exec_cb, e);
}

static void
sim_exec_finish (PftNode *node, GAsyncResult *result, GValue *value, GError **error)
{
  g_task_propagate_value (G_TASK (result), value, error);
}

static void
setup (PftNodeClass *klass)
{
  klass->prep = sim_prep;
  klass->post = sim_post;
  klass->exec_async = sim_exec_async;
  klass->exec_finish = sim_exec_finish;
}

static void sim_throttled_node_class_init (SimThrottledNodeClass *klass) { setup (PFT_NODE_CLASS (klass)); }
static void sim_throttled_node_init (SimThrottledNode *self) { }
static void sim_adaptive_node_class_init (SimAdaptiveNodeClass *klass) { setup (PFT_NODE_CLASS (klass)); }
static void sim_adaptive_node_init (SimAdaptiveNode *self) { }

PftNode *
sim_throttled_node_new (SimApi *api)
{
  SimThrottledNode *self = g_object_new (SIM_TYPE_THROTTLED_NODE, NULL);

  self->d.api = api;
  return PFT_NODE (self);
}

PftNode *
sim_adaptive_node_new (SimApi *api)
{
  SimAdaptiveNode *self = g_object_new (SIM_TYPE_ADAPTIVE_NODE, NULL);

  self->d.api = api;
  return PFT_NODE (self);
}

typedef struct
{
  gboolean  done;
  char     *action;
  GError   *error;
} ClockRun;

static void
sim_run_on_clock_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  ClockRun *run = user_data;

  run->action = pft_node_run_finish (PFT_NODE (source), result, &run->error);
  run->done = TRUE;
}

char *
sim_run_on_clock (PftNode  *node,
                  PftStore *store,
                  PftClock *clock,
                  GError  **error)
{
  ClockRun run = { 0 };

  pft_node_run_async (node, store, NULL, sim_run_on_clock_cb, &run);
  for (;;)
    {
      gint64 next;

      while (g_main_context_iteration (NULL, FALSE))
        ;
      if (run.done)
        break;
      next = _pft_fake_clock_get_next_deadline (clock);
      g_assert_cmpint (next, >=, 0);
      _pft_fake_clock_advance (clock, MAX (next - _pft_clock_now_us (clock), 0));
    }
  if (run.error != NULL)
    g_propagate_error (error, run.error);
  return run.action;
}
