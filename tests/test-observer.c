/* test-observer.c: the limits, seen where the provider sees them
 *
 * Throttled nodes share one registry limiter; their execs stamp their
 * own start (g_get_monotonic_time, outside the limiter's bookkeeping) and
 * count how many of them run at once. No window of the limiter's length,
 * less the documented slack, may hold more than max-per-window starts,
 * and no more than max-concurrent execs may ever run at once: with
 * blocking execs in worker threads, with exec_async execs, with runs on
 * several main contexts (threads each iterating their own), and across a
 * cancelled run and a failing fail-fast batch, whose execs go on running
 * after their run returned.
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft.h>

#include "pft-rate-limiter-private.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* Pft counts a request from right before it calls the exec; the exec's
 * own stamp comes a function call later. The slack covers a thread
 * preempted between the two on a loaded machine (valgrind runs one thread
 * at a time, for whole time slices). */
#define SLACK_US (RUNNING_ON_VALGRIND ? 50000 : 2000)

/* ------------------------------------------------------------------ */
/* The observer                                                        */

typedef struct
{
  GMutex  mutex;
  GCond   cond;
  GArray *starts;        /* gint64 µs, as the execs stamped them */
  gint    running;
  gint    max_running;
  gint    at_gate;
  gboolean gate_closed;
} Observer;

static Observer obs;

static void
observer_reset (void)
{
  g_mutex_lock (&obs.mutex);
  g_clear_pointer (&obs.starts, g_array_unref);
  obs.starts = g_array_new (FALSE, FALSE, sizeof (gint64));
  obs.running = 0;
  obs.max_running = 0;
  obs.at_gate = 0;
  obs.gate_closed = FALSE;
  g_mutex_unlock (&obs.mutex);
}

static void
observer_enter (gint64 start)
{
  g_mutex_lock (&obs.mutex);
  g_array_append_val (obs.starts, start);
  obs.running++;
  obs.max_running = MAX (obs.max_running, obs.running);
  g_mutex_unlock (&obs.mutex);
}

static void
observer_leave (void)
{
  g_mutex_lock (&obs.mutex);
  obs.running--;
  g_cond_broadcast (&obs.cond);
  g_mutex_unlock (&obs.mutex);
}

static void
observer_wait_gate (void)
{
  g_mutex_lock (&obs.mutex);
  obs.at_gate++;
  g_cond_broadcast (&obs.cond);
  while (obs.gate_closed)
    g_cond_wait (&obs.cond, &obs.mutex);
  obs.at_gate--;
  g_mutex_unlock (&obs.mutex);
}

static void
observer_set_gate (gboolean closed)
{
  g_mutex_lock (&obs.mutex);
  obs.gate_closed = closed;
  g_cond_broadcast (&obs.cond);
  g_mutex_unlock (&obs.mutex);
}

static void
observer_wait_at_gate (gint n)
{
  g_mutex_lock (&obs.mutex);
  while (obs.at_gate < n)
    g_cond_wait (&obs.cond, &obs.mutex);
  g_mutex_unlock (&obs.mutex);
}

static void
observer_wait_idle (void)
{
  g_mutex_lock (&obs.mutex);
  while (obs.running > 0)
    g_cond_wait (&obs.cond, &obs.mutex);
  g_mutex_unlock (&obs.mutex);
}

static gint
cmp_int64 (gconstpointer a,
           gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* The most starts in any window of @window_us (a window [t, t + w)). */
static guint
observer_max_in_window (gint64 window_us)
{
  guint best = 0, j = 0;

  g_mutex_lock (&obs.mutex);
  g_array_sort (obs.starts, cmp_int64);
  for (guint i = 0; i < obs.starts->len; i++)
    {
      gint64 t = g_array_index (obs.starts, gint64, i);

      while (g_array_index (obs.starts, gint64, j) <= t - window_us)
        j++;
      best = MAX (best, i - j + 1);
    }
  g_mutex_unlock (&obs.mutex);
  return best;
}

/* ------------------------------------------------------------------ */
/* Nodes                                                               */

/* A throttled batch node over the int items 0 .. n-1. Its blocking exec
 * (in a worker thread) holds for hold_us, or at the gate; item fail_item
 * fails at once. */
#define OBS_TYPE_THREAD_NODE (obs_thread_node_get_type ())
G_DECLARE_FINAL_TYPE (ObsThreadNode, obs_thread_node, OBS, THREAD_NODE, PftThrottledBatchNode)

struct _ObsThreadNode
{
  PftThrottledBatchNode parent_instance;
  guint                 n_items;
  gulong                hold_us;
  gboolean              gate;
  gint64                fail_item;
};

G_DEFINE_FINAL_TYPE (ObsThreadNode, obs_thread_node, PFT_TYPE_THROTTLED_BATCH_NODE)

static void
obs_items_prep (PftNode    *node,
                PftContext *ctx,
                GValue     *result,
                GError    **error)
{
  guint n = OBS_IS_THREAD_NODE (node) ? OBS_THREAD_NODE (node)->n_items
                                      : GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (node), "n-items"));
  PftValues *items = pft_values_new ();

  for (guint i = 0; i < n; i++)
    pft_values_append_int (items, i);
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, items);
}

static void
obs_thread_exec (PftNode      *node,
                 PftContext   *ctx,
                 const GValue *item,
                 GValue       *result,
                 GError      **error)
{
  gint64 start = g_get_monotonic_time ();
  ObsThreadNode *self = OBS_THREAD_NODE (node);
  gint64 i = g_value_get_int64 (item);

  observer_enter (start);
  if (i == self->fail_item)
    {
      /* Fails once its siblings are blocked, which cancels them. */
      observer_wait_at_gate ((gint) self->n_items - 1);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "item %" G_GINT64_FORMAT " fails", i);
    }
  else if (self->gate)
    observer_wait_gate ();
  else
    g_usleep (self->hold_us);
  observer_leave ();
  if (*error == NULL)
    {
      g_value_init (result, G_TYPE_INT64);
      g_value_set_int64 (result, i);
    }
}

static void
obs_thread_node_class_init (ObsThreadNodeClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = obs_items_prep;
  PFT_NODE_CLASS (klass)->exec = obs_thread_exec;
}

static void
obs_thread_node_init (ObsThreadNode *self)
{
  self->fail_item = -1;
}

/* The same with exec_async: the request starts when exec_async is
 * called and ends when a timeout on the run's context completes it. */
#define OBS_TYPE_ASYNC_NODE (obs_async_node_get_type ())
G_DECLARE_FINAL_TYPE (ObsAsyncNode, obs_async_node, OBS, ASYNC_NODE, PftThrottledBatchNode)

struct _ObsAsyncNode
{
  PftThrottledBatchNode parent_instance;
  guint                 hold_ms;
};

G_DEFINE_FINAL_TYPE (ObsAsyncNode, obs_async_node, PFT_TYPE_THROTTLED_BATCH_NODE)

static gboolean
obs_async_complete (gpointer data)
{
  GTask *task = data;

  observer_leave ();
  g_task_return_pointer (task, NULL, NULL);
  return G_SOURCE_REMOVE;
}

static void
obs_async_exec_async (PftNode             *node,
                      PftContext          *ctx,
                      const GValue        *item,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  gint64 start = g_get_monotonic_time ();
  GTask *task = g_task_new (node, cancellable, callback, user_data);
  GSource *source = g_timeout_source_new (OBS_ASYNC_NODE (node)->hold_ms);

  observer_enter (start);
  g_source_set_callback (source, obs_async_complete, task, g_object_unref);
  g_source_attach (source, pft_context_get_main_context (ctx));
  g_source_unref (source);
}

static void
obs_async_exec_finish (PftNode      *node,
                       GAsyncResult *result,
                       GValue       *value,
                       GError      **error)
{
  g_task_propagate_pointer (G_TASK (result), error);
}

static void
obs_async_node_class_init (ObsAsyncNodeClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = obs_items_prep;
  PFT_NODE_CLASS (klass)->exec_async = obs_async_exec_async;
  PFT_NODE_CLASS (klass)->exec_finish = obs_async_exec_finish;
}

static void
obs_async_node_init (ObsAsyncNode *self)
{
}

static PftNode *
obs_node_new (GType        type,
              const char  *limiter,
              guint        n_items,
              guint        hold_ms)
{
  PftNode *node = g_object_new (type, NULL);
  g_autoptr(GError) error = NULL;

  if (type == OBS_TYPE_THREAD_NODE)
    {
      OBS_THREAD_NODE (node)->n_items = n_items;
      OBS_THREAD_NODE (node)->hold_us = hold_ms * 1000;
    }
  else
    {
      g_object_set_data (G_OBJECT (node), "n-items", GUINT_TO_POINTER (n_items));
      OBS_ASYNC_NODE (node)->hold_ms = hold_ms;
    }
  g_assert_true (pft_throttled_batch_node_use_registry_limiter (PFT_THROTTLED_BATCH_NODE (node),
                                                                limiter, &error));
  g_assert_no_error (error);
  return node;
}

/* Runs @node in a thread of its own, on that thread's own main context. */
typedef struct
{
  PftNode      *node;
  GCancellable *cancellable;
  GError       *error;
  gint          done;    /* atomic */
} ThreadRun;

static void
thread_run_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  ThreadRun *tr = user_data;

  g_free (pft_node_run_finish (PFT_NODE (source), result, &tr->error));
  g_atomic_int_set (&tr->done, 1);
}

static gpointer
thread_run_main (gpointer data)
{
  ThreadRun *tr = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(PftStore) store = pft_store_new ();

  g_main_context_push_thread_default (context);
  pft_node_run_async (tr->node, store, tr->cancellable, thread_run_cb, tr);
  while (!g_atomic_int_get (&tr->done))
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  return NULL;
}

static void
assert_limiter_idle (PftRateLimiter *limiter)
{
  gint64 deadline;

  /* Once the execs have really returned (the observer sees them leave;
   * their worker gives back what it held right after), everything they
   * held is back. */
  observer_wait_idle ();
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while ((pft_rate_limiter_get_in_flight (limiter) != 0 || pft_rate_limiter_get_waiting (limiter) != 0) &&
         g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 0);
}

/* ------------------------------------------------------------------ */
/* The window and the concurrency, seen by the execs                   */

static void
test_window_at_exec_start (void)
{
  PftLimiterRegistry *registry = pft_limiter_registry_get_default ();
  const guint max_per_window = 8, max_concurrent = 8;
  const double window = RUNNING_ON_VALGRIND ? 1.0 : 0.25;
  const guint n = RUNNING_ON_VALGRIND ? 8 : 16;
  g_autoptr(GError) error = NULL;
  PftRateLimiter *limiter;
  PftNode *nodes[4];
  ThreadRun runs[3] = { { 0 } };
  GThread *threads[3];
  g_autoptr(PftStore) store = pft_store_new ();
  guint seen;

  observer_reset ();
  pft_limiter_registry_remove (registry, "observer-window");
  /* As many concurrent as per window: the first window's requests are
   * all granted at once, and their blocking execs queue for the worker
   * threads; each must count from when it really starts. */
  limiter = pft_limiter_registry_register_new (registry, "observer-window", max_concurrent,
                                               max_per_window, window, &error);
  g_assert_no_error (error);
  g_object_ref (limiter);

  /* Three thread-policy nodes on three threads' own contexts, and an
   * exec_async node on this thread's. */
  for (guint i = 0; i < 3; i++)
    {
      nodes[i] = obs_node_new (OBS_TYPE_THREAD_NODE, "observer-window", n, 20);
      runs[i].node = nodes[i];
      threads[i] = g_thread_new ("observer-run", thread_run_main, &runs[i]);
    }
  nodes[3] = obs_node_new (OBS_TYPE_ASYNC_NODE, "observer-window", n, 20);
  g_free (pft_node_run (nodes[3], store, NULL, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < 3; i++)
    {
      g_thread_join (threads[i]);
      g_assert_no_error (runs[i].error);
      g_object_unref (nodes[i]);
    }
  g_object_unref (nodes[3]);

  seen = observer_max_in_window ((gint64) (window * G_USEC_PER_SEC) - SLACK_US);
  g_test_message ("%u exec starts, at most %u in a window of %.3f s less %d µs; "
                  "at most %d running at once",
                  obs.starts->len, seen, window, SLACK_US, obs.max_running);
  g_assert_cmpuint (obs.starts->len, ==, 4 * n);
  g_assert_cmpuint (seen, <=, max_per_window);
  g_assert_cmpint (obs.max_running, <=, (gint) max_concurrent);
  assert_limiter_idle (limiter);

  pft_limiter_registry_remove (registry, "observer-window");
  g_object_unref (limiter);
}

/* ------------------------------------------------------------------ */
/* Permits outlive cancelled runs                                      */

static void
run_to_end_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GError **error = user_data;

  g_free (pft_node_run_finish (PFT_NODE (source), result, error));
  if (*error == NULL)
    *error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_EXISTS, "(no error)");
}

/* A run B after A shares A's limiter; A's execs are still blocked at the
 * gate after A returned. B must wait for them: the provider still sees
 * them. */
static void
check_run_b_waits_for_a (PftRateLimiter *limiter,
                         const char     *name,
                         guint           max_concurrent,
                         guint           a_still_running)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftNode) b = obs_node_new (OBS_TYPE_THREAD_NODE, name, max_concurrent, 1);
  GError *b_error = NULL;

  /* The limiter still counts A's execs. */
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, a_still_running);

  g_main_context_push_thread_default (context);
  pft_node_run_async (b, store, NULL, run_to_end_cb, &b_error);
  /* B gets only what A's running execs leave free. */
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (context, FALSE);
  g_usleep (RUNNING_ON_VALGRIND ? 200000 : 20000);
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (context, FALSE);
  g_mutex_lock (&obs.mutex);
  g_assert_cmpint (obs.max_running, <=, (gint) max_concurrent);
  g_mutex_unlock (&obs.mutex);

  /* A's execs return: B goes through. */
  observer_set_gate (FALSE);
  while (b_error == NULL)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  g_assert_error (b_error, G_IO_ERROR, G_IO_ERROR_EXISTS);   /* B succeeded */
  g_clear_error (&b_error);

  g_assert_cmpint (obs.max_running, <=, (gint) max_concurrent);
  assert_limiter_idle (limiter);
}

static void
test_cancelled_run_keeps_permits (void)
{
  PftLimiterRegistry *registry = pft_limiter_registry_get_default ();
  const guint max_concurrent = 2;
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(PftNode) a = NULL;
  PftRateLimiter *limiter;
  ThreadRun run = { 0 };
  GThread *thread;

  observer_reset ();
  pft_limiter_registry_remove (registry, "observer-cancel");
  limiter = pft_limiter_registry_register_new (registry, "observer-cancel", max_concurrent, 0, 1, &error);
  g_assert_no_error (error);
  g_object_ref (limiter);

  /* Run A: its execs block (an HTTP call that cannot be interrupted). */
  a = obs_node_new (OBS_TYPE_THREAD_NODE, "observer-cancel", 4, 0);
  OBS_THREAD_NODE (a)->gate = TRUE;
  observer_set_gate (TRUE);
  run.node = a;
  run.cancellable = cancellable;
  thread = g_thread_new ("observer-run", thread_run_main, &run);
  observer_wait_at_gate (max_concurrent);

  /* Cancelled, A returns at once, its execs still blocked. */
  g_cancellable_cancel (cancellable);
  g_thread_join (thread);
  g_assert_error (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&run.error);
  g_assert_cmpint (obs.running, ==, (gint) max_concurrent);

  check_run_b_waits_for_a (limiter, "observer-cancel", max_concurrent, max_concurrent);

  pft_limiter_registry_remove (registry, "observer-cancel");
  g_object_unref (limiter);
}

static void
test_fail_fast_keeps_permits (void)
{
  PftLimiterRegistry *registry = pft_limiter_registry_get_default ();
  const guint max_concurrent = 3;
  g_autoptr(GError) error = NULL;
  g_autoptr(PftNode) a = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GMainContext) context = g_main_context_new ();
  PftRateLimiter *limiter;
  GError *a_error = NULL;

  observer_reset ();
  pft_limiter_registry_remove (registry, "observer-fail");
  limiter = pft_limiter_registry_register_new (registry, "observer-fail", max_concurrent, 0, 1, &error);
  g_assert_no_error (error);
  g_object_ref (limiter);

  /* Items 0 and 1 block; item 2 fails once they run, which cancels them. */
  a = obs_node_new (OBS_TYPE_THREAD_NODE, "observer-fail", 3, 0);
  OBS_THREAD_NODE (a)->gate = TRUE;
  OBS_THREAD_NODE (a)->fail_item = 2;
  observer_set_gate (TRUE);

  g_main_context_push_thread_default (context);
  pft_node_run_async (a, store, NULL, run_to_end_cb, &a_error);
  while (a_error == NULL)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  g_assert_error (a_error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_clear_error (&a_error);

  /* The batch failed; its two siblings may still be on their way to the
   * gate, and run there until it opens. */
  observer_wait_at_gate (2);
  check_run_b_waits_for_a (limiter, "observer-fail", max_concurrent, 2);

  pft_limiter_registry_remove (registry, "observer-fail");
  g_object_unref (limiter);
}


/* ------------------------------------------------------------------ */
/* A cancellation storm                                                */

/* Runs of throttled, adaptive and async nodes and of a throttled batch
 * flow share one limiter; about a thousand of them are cancelled at
 * random moments (waiting for a permit, in a retry's wait, mid-exec),
 * from their own main loop or from another thread. Every run must end,
 * running execs never exceed the limit, and once the execs have returned
 * the limiter holds nothing. */

#define STORM_CONCURRENT 4
#define STORM_HOLD_US    1500

static gint storm_mid_exec;   /* atomic: execs whose run was cancelled while they ran */

static gint
storm_n_items (PftContext *ctx)
{
  return (gint) pft_store_get_int (pft_context_get_store (ctx), "n", 3);
}

static void
storm_items_prep (PftNode    *node,
                  PftContext *ctx,
                  GValue     *result,
                  GError    **error)
{
  PftValues *items = pft_values_new ();
  gint n = storm_n_items (ctx);

  for (gint i = 0; i < n; i++)
    pft_values_append_int (items, i);
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, items);
}

/* Blocks a little; item 0 of every run fails its first attempt (a retry
 * after a wait); with @rate_limits, one attempt in eight is rate limited
 * (the shared limiter pauses, the adaptive controller backs off). */
static void
storm_exec_body (PftContext   *ctx,
                 const GValue *item,
                 GValue       *result,
                 GError      **error,
                 gboolean      rate_limits)
{
  gint64 start = g_get_monotonic_time ();
  gint64 i = g_value_get_int64 (item);

  observer_enter (start);
  g_usleep (g_random_int_range (0, STORM_HOLD_US));
  if (rate_limits && g_random_int_range (0, 8) == 0)
    g_propagate_error (error, pft_error_new_rate_limited (0.001, "storm", "slow down"));
  else if (i == 0 && pft_context_get_attempt (ctx) == 1)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "flaky");
  if (g_cancellable_is_cancelled (pft_context_get_cancellable (ctx)))
    g_atomic_int_inc (&storm_mid_exec);
  observer_leave ();
  if (*error == NULL)
    {
      g_value_init (result, G_TYPE_INT64);
      g_value_set_int64 (result, i);
    }
}

#define STORM_TYPE_THREAD_NODE (storm_thread_node_get_type ())
G_DECLARE_FINAL_TYPE (StormThreadNode, storm_thread_node, STORM, THREAD_NODE, PftThrottledBatchNode)
struct _StormThreadNode { PftThrottledBatchNode parent_instance; };
G_DEFINE_FINAL_TYPE (StormThreadNode, storm_thread_node, PFT_TYPE_THROTTLED_BATCH_NODE)

static void
storm_thread_exec (PftNode      *node,
                   PftContext   *ctx,
                   const GValue *item,
                   GValue       *result,
                   GError      **error)
{
  storm_exec_body (ctx, item, result, error, FALSE);
}

static void
storm_thread_node_class_init (StormThreadNodeClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = storm_items_prep;
  PFT_NODE_CLASS (klass)->exec = storm_thread_exec;
}

static void storm_thread_node_init (StormThreadNode *self) { }

#define STORM_TYPE_ADAPTIVE_NODE (storm_adaptive_node_get_type ())
G_DECLARE_FINAL_TYPE (StormAdaptiveNode, storm_adaptive_node, STORM, ADAPTIVE_NODE, PftAdaptiveNode)
struct _StormAdaptiveNode { PftAdaptiveNode parent_instance; };
G_DEFINE_FINAL_TYPE (StormAdaptiveNode, storm_adaptive_node, PFT_TYPE_ADAPTIVE_NODE)

static void
storm_adaptive_exec (PftNode      *node,
                     PftContext   *ctx,
                     const GValue *item,
                     GValue       *result,
                     GError      **error)
{
  storm_exec_body (ctx, item, result, error, TRUE);
}

static void
storm_adaptive_node_class_init (StormAdaptiveNodeClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = storm_items_prep;
  PFT_NODE_CLASS (klass)->exec = storm_adaptive_exec;
}

static void storm_adaptive_node_init (StormAdaptiveNode *self) { }

/* The walks of the batch flow run one step, on the run's main context
 * (a walk gives its slot back when the walk returns). */
#define STORM_TYPE_STEP_NODE (storm_step_node_get_type ())
G_DECLARE_FINAL_TYPE (StormStepNode, storm_step_node, STORM, STEP_NODE, PftNode)
struct _StormStepNode { PftNode parent_instance; };
G_DEFINE_FINAL_TYPE (StormStepNode, storm_step_node, PFT_TYPE_NODE)

static void
storm_step_exec (PftNode      *node,
                 PftContext   *ctx,
                 const GValue *item,
                 GValue       *result,
                 GError      **error)
{
  observer_enter (g_get_monotonic_time ());
  g_usleep (g_random_int_range (0, STORM_HOLD_US / 4));
  observer_leave ();
}

static void
storm_step_node_class_init (StormStepNodeClass *klass)
{
  PFT_NODE_CLASS (klass)->exec = storm_step_exec;
}

static void storm_step_node_init (StormStepNode *self) { }

#define STORM_TYPE_FLOW (storm_flow_get_type ())
G_DECLARE_FINAL_TYPE (StormFlow, storm_flow, STORM, FLOW, PftThrottledBatchFlow)
struct _StormFlow { PftThrottledBatchFlow parent_instance; };
G_DEFINE_FINAL_TYPE (StormFlow, storm_flow, PFT_TYPE_THROTTLED_BATCH_FLOW)

static void
storm_flow_prep (PftNode    *node,
                 PftContext *ctx,
                 GValue     *result,
                 GError    **error)
{
  PftValues *sets = pft_values_new ();
  gint n = storm_n_items (ctx);

  for (gint i = 0; i < n; i++)
    pft_values_append_variant (sets, g_variant_new_parsed ("{'i': <%x>}", (gint64) i));
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, sets);
}

static void
storm_flow_class_init (StormFlowClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = storm_flow_prep;
}

static void storm_flow_init (StormFlow *self) { }

typedef struct
{
  PftNode      *nodes[4];
  guint         n_runs;       /* per runner */
  GAsyncQueue  *cancels;      /* (element-type CancelReq) for the canceller */
  gint          ended;        /* atomic: runs that returned */
  gint          cancelled;    /* atomic: of which with G_IO_ERROR_CANCELLED */
  gint          started;      /* atomic */
} Storm;

typedef struct
{
  GCancellable *cancellable;  /* (owned), NULL: stop */
  gint64        at;
} CancelReq;

static gpointer
storm_canceller (gpointer data)
{
  Storm *storm = data;

  for (;;)
    {
      CancelReq *req = g_async_queue_pop (storm->cancels);
      gint64 wait;

      if (req->cancellable == NULL)
        {
          g_free (req);
          return NULL;
        }
      wait = req->at - g_get_monotonic_time ();
      if (wait > 0)
        g_usleep (wait);
      g_cancellable_cancel (req->cancellable);
      g_object_unref (req->cancellable);
      g_free (req);
    }
}

static void
storm_cancel_from_thread (Storm        *storm,
                          GCancellable *cancellable)
{
  CancelReq *req = g_new0 (CancelReq, 1);

  req->cancellable = g_object_ref (cancellable);
  req->at = g_get_monotonic_time () + g_random_int_range (0, 4000);
  g_async_queue_push (storm->cancels, req);
}

static gboolean
storm_cancel_cb (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static PftNode *
storm_pick (Storm    *storm,
            PftStore *store)
{
  pft_store_set_int (store, "n", g_random_int_range (1, 7));
  return storm->nodes[g_random_int_range (0, G_N_ELEMENTS (storm->nodes))];
}

static void
storm_ended (Storm  *storm,
             GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_atomic_int_inc (&storm->cancelled);
  else
    /* Nothing else can fail: retries absorb the flaky first attempts
     * and the rate limits. */
    g_assert_no_error (error);
  g_atomic_int_inc (&storm->ended);
}

/* Sync runs in a thread: each on its own private main context, cancelled
 * from the canceller thread. */
static gpointer
storm_sync_runner (gpointer data)
{
  Storm *storm = data;

  for (guint k = 0; k < storm->n_runs; k++)
    {
      g_autoptr(PftStore) store = pft_store_new ();
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      PftNode *node = storm_pick (storm, store);
      GError *error = NULL;

      if (g_random_int_range (0, 8) != 0)
        storm_cancel_from_thread (storm, cancellable);
      g_atomic_int_inc (&storm->started);
      g_free (pft_node_run (node, store, cancellable, &error));
      storm_ended (storm, error);
      g_clear_error (&error);
    }
  return NULL;
}

/* Async runs on a main loop, a few at a time, cancelled from that loop
 * or from the canceller thread. */
typedef struct
{
  Storm        *storm;
  GCancellable *cancellable;
  PftStore     *store;
  guint        *live;
} AsyncStormRun;

static void
storm_async_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  AsyncStormRun *r = user_data;
  GError *error = NULL;

  g_free (pft_node_run_finish (PFT_NODE (source), result, &error));
  storm_ended (r->storm, error);
  g_clear_error (&error);
  (*r->live)--;
  g_object_unref (r->cancellable);
  g_object_unref (r->store);
  g_free (r);
}

static void
storm_async_runner (Storm        *storm,
                    GMainContext *context)
{
  guint live = 0, started = 0;

  while (started < storm->n_runs || live > 0)
    {
      while (started < storm->n_runs && live < 3)
        {
          AsyncStormRun *r = g_new0 (AsyncStormRun, 1);
          gint how = g_random_int_range (0, 8);

          r->storm = storm;
          r->cancellable = g_cancellable_new ();
          r->store = pft_store_new ();
          r->live = &live;
          if (how < 4)
            {
              GSource *source = g_timeout_source_new (g_random_int_range (0, 4));

              g_source_set_callback (source, storm_cancel_cb, g_object_ref (r->cancellable), g_object_unref);
              g_source_attach (source, context);
              g_source_unref (source);
            }
          else if (how < 7)
            storm_cancel_from_thread (storm, r->cancellable);
          live++;
          started++;
          g_atomic_int_inc (&storm->started);
          pft_node_run_async (storm_pick (storm, r->store), r->store, r->cancellable,
                              storm_async_done, r);
        }
      g_main_context_iteration (context, TRUE);
    }
}

/* Aborts the test if the runs have not all ended in time: a hung run
 * would otherwise hang the suite until meson's timeout. */
typedef struct
{
  GMutex   mutex;
  GCond    cond;
  gboolean done;
  gint64   deadline;
  Storm   *storm;
} Watchdog;

static gpointer
watchdog_main (gpointer data)
{
  Watchdog *w = data;

  g_mutex_lock (&w->mutex);
  while (!w->done)
    if (!g_cond_wait_until (&w->cond, &w->mutex, w->deadline) && !w->done)
      g_error ("storm: %d of %d runs never ended",
               g_atomic_int_get (&w->storm->started) - g_atomic_int_get (&w->storm->ended),
               g_atomic_int_get (&w->storm->started));
  g_mutex_unlock (&w->mutex);
  return NULL;
}

static void
test_cancellation_storm (void)
{
  PftLimiterRegistry *registry = pft_limiter_registry_get_default ();
  const guint n_runners = 3;   /* two sync threads and one main loop */
  Storm storm = { { 0 } };
  Watchdog watchdog = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PftNode) step = NULL;
  PftRateLimiter *limiter;
  GThread *threads[2], *canceller, *watcher;
  g_autoptr(GMainContext) context = g_main_context_new ();
  CancelReq *stop;

  observer_reset ();
  pft_limiter_registry_remove (registry, "storm");
  limiter = pft_limiter_registry_register_new (registry, "storm", STORM_CONCURRENT, 40, 0.02, &error);
  g_assert_no_error (error);
  g_object_ref (limiter);

  storm.n_runs = (RUNNING_ON_VALGRIND ? 120 : 1200) / n_runners;
  storm.nodes[0] = g_object_new (STORM_TYPE_THREAD_NODE, "max-retries", 2, "wait", 0.001, NULL);
  storm.nodes[1] = g_object_new (STORM_TYPE_ADAPTIVE_NODE, "max-retries", 2, "wait", 0.001,
                                 "max-concurrent", STORM_CONCURRENT, NULL);
  storm.nodes[2] = obs_node_new (OBS_TYPE_ASYNC_NODE, "storm", 3, 1);
  step = g_object_new (STORM_TYPE_STEP_NODE, "thread-policy", PFT_THREAD_POLICY_MAIN_CONTEXT, NULL);
  storm.nodes[3] = g_object_new (STORM_TYPE_FLOW, "start", step, NULL);
  g_assert_true (pft_throttled_batch_node_use_registry_limiter (PFT_THROTTLED_BATCH_NODE (storm.nodes[0]), "storm", &error));
  g_assert_true (pft_throttled_batch_node_use_registry_limiter (PFT_THROTTLED_BATCH_NODE (storm.nodes[1]), "storm", &error));
  g_assert_true (pft_throttled_batch_flow_use_registry_limiter (PFT_THROTTLED_BATCH_FLOW (storm.nodes[3]), "storm", &error));
  g_assert_no_error (error);
  storm.cancels = g_async_queue_new ();

  g_mutex_init (&watchdog.mutex);
  g_cond_init (&watchdog.cond);
  watchdog.storm = &storm;
  watchdog.deadline = g_get_monotonic_time () + (RUNNING_ON_VALGRIND ? 600 : 60) * G_USEC_PER_SEC;
  watcher = g_thread_new ("storm-watchdog", watchdog_main, &watchdog);
  canceller = g_thread_new ("storm-canceller", storm_canceller, &storm);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("storm-runner", storm_sync_runner, &storm);

  g_main_context_push_thread_default (context);
  storm_async_runner (&storm, context);
  g_main_context_pop_thread_default (context);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  g_mutex_lock (&watchdog.mutex);
  watchdog.done = TRUE;
  g_cond_signal (&watchdog.cond);
  g_mutex_unlock (&watchdog.mutex);
  g_thread_join (watcher);
  stop = g_new0 (CancelReq, 1);
  g_async_queue_push (storm.cancels, stop);
  g_thread_join (canceller);

  g_test_message ("storm: %d runs, %d cancelled, %u execs (%d cancelled mid-exec), "
                  "at most %d running at once",
                  storm.ended, storm.cancelled, obs.starts->len, storm_mid_exec, obs.max_running);
  g_assert_cmpint (storm.ended, ==, (gint) (storm.n_runs * n_runners));
  g_assert_cmpint (storm.cancelled, >, 0);
  /* Under valgrind, too few runs to be sure one was hit mid-exec. */
  if (!RUNNING_ON_VALGRIND)
    g_assert_cmpint (storm_mid_exec, >, 0);
  g_assert_cmpint (obs.max_running, <=, STORM_CONCURRENT);
  assert_limiter_idle (limiter);

  for (guint i = 0; i < G_N_ELEMENTS (storm.nodes); i++)
    g_object_unref (storm.nodes[i]);
  g_async_queue_unref (storm.cancels);
  g_mutex_clear (&watchdog.mutex);
  g_cond_clear (&watchdog.cond);
  pft_limiter_registry_remove (registry, "storm");
  g_object_unref (limiter);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_mutex_init (&obs.mutex);
  g_cond_init (&obs.cond);

  g_test_add_func ("/observer/window-at-exec-start", test_window_at_exec_start);
  g_test_add_func ("/observer/cancelled-run-keeps-permits", test_cancelled_run_keeps_permits);
  g_test_add_func ("/observer/fail-fast-keeps-permits", test_fail_fast_keeps_permits);
  g_test_add_func ("/observer/cancellation-storm", test_cancellation_storm);

  return g_test_run ();
}
