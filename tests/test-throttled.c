/* test-throttled.c: throttled and adaptive batch nodes and flows, and the
 * seed's defects 3-8 shown absent
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "test-util.h"
#include "sim-api.h"
#include "pft-clock-private.h"
#include "pft-rate-limiter-private.h"
#include "pft-dispatch-private.h"
#include "pft-throttle-private.h"

static PftValues *
ints (guint n)
{
  PftValues *values = pft_values_new_sized (n);

  for (guint i = 0; i < n; i++)
    pft_values_append_int (values, i);
  return values;
}

static char *
run_items (PftNode  *node,
           guint     n,
           PftStore *store,
           GError  **error)
{
  g_autoptr(PftValues) items = ints (n);

  pft_store_set_values (store, "items", items);
  return test_run_async (node, store, NULL, error);
}

/* Runs @n items through a sim node on @clock, a fake clock its API was
 * given too: see sim_run_on_clock(). */
static char *
run_items_on_clock (PftNode  *node,
                    PftClock *clock,
                    guint     n,
                    PftStore *store,
                    GError  **error)
{
  g_autoptr(PftValues) items = ints (n);

  _pft_rate_limiter_set_clock (pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node)), clock);
  pft_store_set_values (store, "items", items);
  return sim_run_on_clock (node, store, clock, error);
}

static void
assert_results_in_order (PftStore *store,
                         guint     n)
{
  g_autoptr(PftValues) results = pft_store_dup_values (store, "results");

  g_assert_nonnull (results);
  g_assert_cmpuint (pft_values_get_length (results), ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (pft_values_get_int (results, i), ==, i);
}

/* ---- concurrency ---- */

static void
test_throttled_bound (void)
{
  SimApi api = { .duration_ms = 3 };
  SimProbe probe = { 0 };
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  PftThrottledBatchNode *tn;

  sim_api_init (&api);
  node = sim_throttled_node_new (&api);
  tn = PFT_THROTTLED_BATCH_NODE (node);
  /* The seed's default: 5 at once, no window. */
  g_assert_cmpuint (pft_batch_node_get_max_concurrent (PFT_BATCH_NODE (node)), ==, 5);
  g_assert_cmpuint (pft_throttled_batch_node_get_max_per_minute (tn), ==, 0);
  pft_batch_node_set_max_concurrent (PFT_BATCH_NODE (node), 4);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (pft_throttled_batch_node_get_limiter (tn)), ==, 4);
  sim_node_set_probe (node, &probe);

  action = run_items (node, 100, store, &error);
  g_assert_no_error (error);
  assert_results_in_order (store, 100);
  g_assert_cmpint (probe.max_in_flight, <=, 4);
  g_assert_cmpint (probe.max_in_flight, >=, 2);
  g_assert_cmpuint (pft_throttled_batch_node_get_completed (tn), ==, 100);
  g_assert_cmpuint (pft_throttled_batch_node_get_total (tn), ==, 100);
  g_assert_cmpuint (pft_throttled_batch_node_get_failed (tn), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (pft_throttled_batch_node_get_limiter (tn)), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (pft_throttled_batch_node_get_limiter (tn)), ==, 100);
  pft_throttled_batch_node_reset_stats (tn);
  g_assert_cmpuint (pft_throttled_batch_node_get_total (tn), ==, 0);
  sim_api_clear (&api);
}

static void
resize_on_progress (PftNode *node, guint index, GError *error, gpointer data)
{
  /* Down to 2 after 40 items, back up to 7 after 120. */
  if (index == 40)
    pft_batch_node_set_max_concurrent (PFT_BATCH_NODE (node), 2);
  else if (index == 120)
    pft_batch_node_set_max_concurrent (PFT_BATCH_NODE (node), 7);
}

static void
test_throttled_live_resize (void)
{
  /* On the fake clock, so that the run is the same on any host; a permit
   * granted before a shrink and delivered late waits for the new limit
   * (/pft/rate-limiter/lowered-before-delivery). */
  g_autoptr(PftClock) clock = _pft_fake_clock_new (1000 * G_USEC_PER_SEC);
  SimApi api = { .duration_ms = 4, .clock = clock };
  SimProbe probe = { 0 };
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  guint done = 0;

  sim_api_init (&api);
  node = sim_throttled_node_new (&api);
  pft_batch_node_set_max_concurrent (PFT_BATCH_NODE (node), 8);
  probe.limiter = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));
  sim_node_set_probe (node, &probe);
  g_signal_connect (node, "item-done", G_CALLBACK (resize_on_progress), NULL);
  g_signal_connect_swapped (node, "item-done", G_CALLBACK (g_atomic_int_inc), &done);

  action = run_items_on_clock (node, clock, 200, store, &error);
  g_assert_no_error (error);
  assert_results_in_order (store, 200);
  g_assert_cmpuint (done, ==, 200);
  /* No exec started above the limit in force at that moment, in either
   * direction of the resizes: a permit granted under 8 and still an idle
   * away from the dispatcher when the limit went down to 2 waits until
   * fewer than 2 have started (a slow host, valgrind, saw it start with
   * up to 6 in flight before the limiter held such grants back). */
  g_test_message ("execs started above the limit: %d, by at most %d", probe.violations, probe.max_excess);
  g_assert_cmpint (probe.violations, ==, 0);
  g_assert_cmpint (probe.max_excess, ==, 0);
  g_assert_cmpint (probe.max_in_flight, <=, 8);
  sim_api_clear (&api);
}

/* ---- per-minute on the fake clock, retries counted ---- */

static void
items_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, pft_store_dup_values (pft_context_get_store (ctx), "items"));
}


#define TEST_TYPE_CLOCKED_NODE (test_clocked_node_get_type ())
G_DECLARE_FINAL_TYPE (TestClockedNode, test_clocked_node, TEST, CLOCKED_NODE, PftThrottledBatchNode)

struct _TestClockedNode
{
  PftThrottledBatchNode parent_instance;
  PftClock             *clock;
  GArray               *stamps;     /* gint64 fake µs of each exec start */
};

G_DEFINE_FINAL_TYPE (TestClockedNode, test_clocked_node, PFT_TYPE_THROTTLED_BATCH_NODE)

static gboolean
complete_now (gpointer data)
{
  GTask *task = data;
  GValue *item = g_task_get_task_data (task);
  gint64 i = g_value_get_int64 (item);
  PftContext *ctx = g_object_get_data (G_OBJECT (task), "ctx");

  /* Item 3 fails its first attempt: the retry is a call that counts. */
  if (i == 3 && pft_context_get_attempt (ctx) == 1)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "connection reset");
  else
    g_task_return_value (task, item);
  return G_SOURCE_REMOVE;
}

static void
value_free (gpointer v)
{
  g_value_unset (v);
  g_free (v);
}

static void
clocked_exec_async (PftNode *node, PftContext *ctx, const GValue *item, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  TestClockedNode *self = TEST_CLOCKED_NODE (node);
  GTask *task = g_task_new (node, cancellable, callback, user_data);
  GValue *copy = g_new0 (GValue, 1);
  gint64 now = _pft_clock_now_us (self->clock);
  GSource *source = g_idle_source_new ();

  g_array_append_val (self->stamps, now);
  g_value_init (copy, G_VALUE_TYPE (item));
  g_value_copy (item, copy);
  g_task_set_task_data (task, copy, value_free);
  g_object_set_data_full (G_OBJECT (task), "ctx", g_object_ref (ctx), g_object_unref);
  g_source_set_callback (source, complete_now, task, g_object_unref);
  g_source_attach (source, pft_context_get_main_context (ctx));
  g_source_unref (source);
}

static void
clocked_exec_finish (PftNode *node, GAsyncResult *result, GValue *value, GError **error)
{
  g_task_propagate_value (G_TASK (result), value, error);
}

static void
test_clocked_node_finalize (GObject *object)
{
  g_array_unref (TEST_CLOCKED_NODE (object)->stamps);
  G_OBJECT_CLASS (test_clocked_node_parent_class)->finalize (object);
}

static void
test_clocked_node_class_init (TestClockedNodeClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_clocked_node_finalize;
  PFT_NODE_CLASS (klass)->prep = items_prep;
  PFT_NODE_CLASS (klass)->exec_async = clocked_exec_async;
  PFT_NODE_CLASS (klass)->exec_finish = clocked_exec_finish;
  PFT_NODE_CLASS (klass)->post = NULL;
  /* A C subclass sets the seed's class attributes as class defaults. */
  PFT_THROTTLED_BATCH_NODE_CLASS (klass)->default_max_concurrent = 10;
  PFT_THROTTLED_BATCH_NODE_CLASS (klass)->default_max_per_minute = 5;
}

static void
test_clocked_node_init (TestClockedNode *self)
{
  self->stamps = g_array_new (FALSE, FALSE, sizeof (gint64));
}

static void
run_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
test_throttled_per_minute_fake_clock (void)
{
  PftClock *clock = _pft_fake_clock_new (0);
  g_autoptr(TestClockedNode) node = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) items = ints (12);
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  GAsyncResult *result = NULL;
  PftRateLimiter *limiter;

  node = g_object_new (TEST_TYPE_CLOCKED_NODE, "max-retries", 2, NULL);
  node->clock = clock;
  g_assert_cmpuint (pft_batch_node_get_max_concurrent (PFT_BATCH_NODE (node)), ==, 10);
  g_assert_cmpuint (pft_throttled_batch_node_get_max_per_minute (PFT_THROTTLED_BATCH_NODE (node)), ==, 5);
  limiter = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));
  _pft_rate_limiter_set_clock (limiter, clock);

  pft_store_set_values (store, "items", items);
  g_main_context_push_thread_default (context);
  pft_node_run_async (PFT_NODE (node), store, NULL, run_cb, &result);
  while (result == NULL)
    {
      /* Run everything that can run now, then let a minute's time pass. */
      while (g_main_context_iteration (context, FALSE))
        ;
      if (result == NULL)
        _pft_fake_clock_advance (clock, 1 * G_USEC_PER_SEC);
    }
  action = pft_node_run_finish (PFT_NODE (node), result, &error);
  g_object_unref (result);
  g_main_context_pop_thread_default (context);
  g_assert_no_error (error);

  /* 12 items and one retry: 13 calls, every one admitted by the limiter. */
  g_assert_cmpuint (node->stamps->len, ==, 13);
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (limiter), ==, 13);
  /* No 60-second window saw more than 5 calls, and the limit was used:
   * 13 calls need three windows, so the last started at 120 s or later. */
  for (guint i = 0; i < node->stamps->len; i++)
    {
      gint64 start = g_array_index (node->stamps, gint64, i);
      guint in_window = 0;

      for (guint j = 0; j < node->stamps->len; j++)
        {
          gint64 t = g_array_index (node->stamps, gint64, j);
          if (t >= start && t < start + 60 * G_USEC_PER_SEC)
            in_window++;
        }
      g_assert_cmpuint (in_window, <=, 5);
    }
  g_assert_cmpint (g_array_index (node->stamps, gint64, 12), >=, 120 * G_USEC_PER_SEC);
  g_assert_cmpint (g_array_index (node->stamps, gint64, 12), <, 121 * G_USEC_PER_SEC);

  g_clear_object (&node);
  _pft_clock_unref (clock);
}

/* ---- adaptive against simulated providers ---- */

/* What a run on the fake clock came to: equal for equal runs. */
typedef struct
{
  guint64 calls;
  guint64 rate_limited;
  guint   current;
  guint   max_seen;
  gint64  elapsed_us;
} SimOutcome;

static void
hidden_concurrency_run (SimOutcome *outcome)
{
  g_autoptr(PftClock) clock = _pft_fake_clock_new (1000 * G_USEC_PER_SEC);
  SimApi api = { .hidden_concurrency = 4, .duration_ms = 2, .clock = clock };
  SimTrace trace = { 0 };
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  PftAdaptiveNode *an;

  sim_api_init (&api);
  node = sim_adaptive_node_new (&api);
  an = PFT_ADAPTIVE_NODE (node);
  g_object_set (node, "initial-concurrent", 2, "max-concurrent", 12, "recovery-threshold", 5, NULL);
  g_assert_cmpuint (pft_adaptive_node_get_current_concurrent (an), ==, 2);
  sim_node_set_trace (node, &trace);

  action = run_items_on_clock (node, clock, 400, store, &error);
  g_assert_no_error (error);
  /* Every item finished, in order, none lost to a 429. */
  assert_results_in_order (store, 400);
  g_assert_cmpuint (api.served, ==, 400);
  /* It went past the hidden limit, was told so, backed off, and grew
   * back: the shape of adaptation, not its timing. */
  g_assert_cmpuint (trace.max_seen, >, 4);
  g_assert_cmpuint (pft_adaptive_node_get_total_rate_limits (an), >, 0);
  g_assert_cmpuint (pft_adaptive_node_get_total_rate_limits (an), ==, api.rate_limited);
  g_assert_true (trace.grew_after_backoff);
  /* Converged: few rejected calls, and it ends near the hidden limit. */
  g_assert_cmpuint (api.rate_limited * 10, <, api.calls);
  g_assert_cmpuint (pft_adaptive_node_get_current_concurrent (an), <=, 5);
  g_assert_cmpuint (pft_adaptive_node_get_total_successes (an), ==, 400);

  outcome->calls = api.calls;
  outcome->rate_limited = api.rate_limited;
  outcome->current = pft_adaptive_node_get_current_concurrent (an);
  outcome->max_seen = trace.max_seen;
  outcome->elapsed_us = _pft_clock_now_us (clock) - 1000 * G_USEC_PER_SEC;
  sim_api_clear (&api);
}

static void
test_adaptive_hidden_concurrency (void)
{
  SimOutcome first = { 0 }, second = { 0 };

  /* On the fake clock: the same run every time, however loaded the host,
   * down to the microsecond. */
  hidden_concurrency_run (&first);
  hidden_concurrency_run (&second);
  g_assert_cmpuint (first.calls, ==, second.calls);
  g_assert_cmpuint (first.rate_limited, ==, second.rate_limited);
  g_assert_cmpuint (first.current, ==, second.current);
  g_assert_cmpuint (first.max_seen, ==, second.max_seen);
  g_assert_cmpint (first.elapsed_us, ==, second.elapsed_us);
  /* 400 calls of 2 ms, at most 4 at once (the provider's limit): no
   * sooner than 200 ms. */
  g_assert_cmpint (first.elapsed_us, >=, 400 / 4 * 2000);
}

static void
test_adaptive_hidden_rate (void)
{
  g_autoptr(PftClock) clock = _pft_fake_clock_new (1000 * G_USEC_PER_SEC);
  SimApi api = { .hidden_rate = 40, .window = 0.2, .duration_ms = 2, .clock = clock };
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  PftAdaptiveNode *an;
  PftRateLimiter *limiter;

  sim_api_init (&api);
  node = sim_adaptive_node_new (&api);
  an = PFT_ADAPTIVE_NODE (node);
  limiter = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));

  action = run_items_on_clock (node, clock, 200, store, &error);
  g_assert_no_error (error);
  assert_results_in_order (store, 200);
  g_assert_cmpuint (api.served, ==, 200);
  g_assert_cmpuint (pft_adaptive_node_get_total_rate_limits (an), >, 0);
  /* The retry-after paused the limiter for everyone. */
  g_assert_cmpuint (pft_rate_limiter_get_total_pauses (limiter), >, 0);
  g_assert_cmpuint (api.rate_limited * 4, <, api.calls);
  sim_api_clear (&api);
}

/* On the fake clock every event of a run is in this thread, so the
 * outcome is exact. 12 items start 8 at once against a provider that
 * takes 4: the 4 beyond it are refused at t = 0, in one episode, so the
 * node backs off once, to 4 (8 x 0.5); the 4 refused items run again
 * when the first 4 end, at 2 ms; the last 4 run from 4 to 6 ms. No
 * recovery: the threshold is out of reach. */
static void
test_adaptive_exact_on_fake_clock (void)
{
  g_autoptr(PftClock) clock = _pft_fake_clock_new (1000 * G_USEC_PER_SEC);
  SimApi api = { .hidden_concurrency = 4, .duration_ms = 2, .clock = clock };
  SimTrace trace = { 0 };
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  PftAdaptiveNode *an;
  gint64 start = _pft_clock_now_us (clock);

  sim_api_init (&api);
  node = sim_adaptive_node_new (&api);
  an = PFT_ADAPTIVE_NODE (node);
  g_object_set (node, "initial-concurrent", 8, "max-concurrent", 12, "recovery-threshold", 1000, NULL);
  sim_node_set_trace (node, &trace);

  action = run_items_on_clock (node, clock, 12, store, &error);
  g_assert_no_error (error);
  assert_results_in_order (store, 12);
  g_assert_cmpint (_pft_clock_now_us (clock) - start, ==, 6 * 1000);
  g_assert_cmpuint (api.calls, ==, 16);
  g_assert_cmpuint (api.rate_limited, ==, 4);
  g_assert_cmpuint (api.served, ==, 12);
  g_assert_cmpuint (api.max_in_flight, ==, 4);
  g_assert_cmpuint (pft_adaptive_node_get_total_rate_limits (an), ==, 4);
  g_assert_cmpuint (pft_adaptive_node_get_total_successes (an), ==, 12);
  g_assert_cmpuint (pft_adaptive_node_get_current_concurrent (an), ==, 4);
  g_assert_cmpuint (trace.max_seen, ==, 8);
  g_assert_cmpuint (trace.min_seen, ==, 4);
  sim_api_clear (&api);
}

/* ---- the seed's defects ---- */

static void
test_defect3_resize_reaches_queued (void)
{
  /* Seed: after a back-off, items already queued kept the old limiter;
   * in flight reached 10 while the concurrency was 1. Here the limiter
   * is resized in place: waiters obey the new value at once, and so
   * does a permit granted under the old value that was still on its way
   * (an idle away) when the back-off came: it waits until it can start
   * within the new value. No exec starts above the limit in force. */
  g_autoptr(PftClock) clock = _pft_fake_clock_new (1000 * G_USEC_PER_SEC);
  SimApi api = { .hidden_concurrency = 3, .duration_ms = 2, .clock = clock };
  SimProbe probe = { 0 };
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  sim_api_init (&api);
  node = sim_adaptive_node_new (&api);
  g_object_set (node, "initial-concurrent", 10, "max-concurrent", 10, NULL);
  probe.limiter = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));
  sim_node_set_probe (node, &probe);

  action = run_items_on_clock (node, clock, 200, store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pft_adaptive_node_get_total_rate_limits (PFT_ADAPTIVE_NODE (node)), >, 0);
  g_test_message ("execs started above the limit: %d, by at most %d", probe.violations, probe.max_excess);
  g_assert_cmpint (probe.violations, ==, 0);
  g_assert_cmpint (probe.max_excess, ==, 0);
  sim_api_clear (&api);
}

/* Drives the controller of @node by hand against a provider that answers
 * 429 from @wall concurrent calls up: one success (the limit in use) or
 * one rate limit per step. Returns the level after the step. */
static guint
controller_step (PftAdaptiveController *a,
                 guint        wall,
                 gboolean    *hit)
{
  guint current = _pft_adaptive_controller_get_current (a);

  *hit = current >= wall;
  if (*hit)
    _pft_adaptive_controller_rate_limited (a, _pft_adaptive_controller_get_epoch (a));
  else
    _pft_adaptive_controller_success (a, current, _pft_adaptive_controller_get_epoch (a));
  return _pft_adaptive_controller_get_current (a);
}

static void
test_adaptive_probe_backoff (void)
{
  /* Against a wall that stays at 9, each probe past the remembered
   * ceiling that fails doubles the wait before the next (20, 40, 80, 160,
   * 320 rounds of 8 successes just below it, then 320 again), so a stable
   * limit costs fewer and fewer back-offs; once the wall moves, the probe
   * holds and the next one comes after the usual 20 rounds. */
  g_autoptr(PftNode) node = pft_adaptive_node_new ();
  g_autoptr(PftRunPolicy) policy = NULL;
  static const guint expected_gaps[] = { 1, 4 + 20 * 8, 4 + 40 * 8, 4 + 80 * 8, 4 + 160 * 8,
                                         4 + 320 * 8, 4 + 320 * 8 };
  PftAdaptiveController *a;
  guint successes = 0, walls = 0, level;
  gboolean hit;

  g_object_set (node, "initial-concurrent", 8, "max-concurrent", 20, "recovery-threshold", 1, NULL);
  policy = _pft_run_policy_new (node);
  a = policy->adaptive;
  g_assert_nonnull (a);

  while (walls < G_N_ELEMENTS (expected_gaps))
    {
      level = controller_step (a, 9, &hit);
      if (!hit)
        {
          successes++;
          continue;
        }
      g_assert_cmpuint (level, ==, 4);
      g_assert_cmpuint (successes, ==, expected_gaps[walls]);
      successes = 0;
      walls++;
    }

  /* The wall moves up to 12: climb back to 8, probe 9 (held), then 10
   * after 20 rounds at 9, 11 after 20 rounds at 10. */
  for (successes = 0; _pft_adaptive_controller_get_current (a) < 9; successes++)
    {
      controller_step (a, 12, &hit);
      g_assert_false (hit);
    }
  g_assert_cmpuint (successes, ==, 4 + 320 * 8);
  for (guint target = 10; target <= 11; target++)
    {
      for (successes = 0; _pft_adaptive_controller_get_current (a) < target; successes++)
        {
          controller_step (a, 12, &hit);
          g_assert_false (hit);
        }
      g_assert_cmpuint (successes, ==, 20 * (target - 1));
    }
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    data)
{
  (*(guint *) data)++;
}

static void
test_adaptive_notify_only_on_change (void)
{
  /* notify::current-concurrent means the value changed: a back-off at
   * the floor, or a knob that leaves the level where it is, is silent. */
  g_autoptr(PftNode) node = pft_adaptive_node_new ();
  g_autoptr(PftRunPolicy) policy = NULL;
  PftAdaptiveController *a;
  guint notified = 0;

  g_object_set (node, "initial-concurrent", 4, "min-concurrent", 2, "max-concurrent", 20, NULL);
  policy = _pft_run_policy_new (node);
  a = policy->adaptive;
  g_signal_connect (node, "notify::current-concurrent", G_CALLBACK (count_notify), &notified);

  _pft_adaptive_controller_rate_limited (a, _pft_adaptive_controller_get_epoch (a));
  g_assert_cmpuint (_pft_adaptive_controller_get_current (a), ==, 2);
  g_assert_cmpuint (notified, ==, 1);
  _pft_adaptive_controller_rate_limited (a, _pft_adaptive_controller_get_epoch (a));
  g_assert_cmpuint (_pft_adaptive_controller_get_current (a), ==, 2);
  g_assert_cmpuint (notified, ==, 1);
  g_object_set (node, "backoff-factor", 0.25, "max-concurrent", 30, NULL);
  g_assert_cmpuint (notified, ==, 1);
  g_object_set (node, "max-concurrent", 1, NULL);   /* clamps min and current to 1 */
  g_assert_cmpuint (_pft_adaptive_controller_get_current (a), ==, 1);
  g_assert_cmpuint (notified, ==, 2);
}

static void
test_adaptive_cascade_keeps_ceiling (void)
{
  /* A rate limit that comes before the provider accepted any call since
   * the last back-off (the first calls after a pause find the window
   * still full) backs off again, but is the same overload: the ceiling
   * stays where the overload began, and the climb back to just below it
   * needs no probe. One accepted call in between makes it a new, lower
   * wall. */
  g_autoptr(PftNode) node = pft_adaptive_node_new ();
  g_autoptr(PftRunPolicy) policy = NULL;
  PftAdaptiveController *a;
  guint successes;
  gboolean hit;

  g_object_set (node, "initial-concurrent", 8, "max-concurrent", 20, "recovery-threshold", 1, NULL);
  policy = _pft_run_policy_new (node);
  a = policy->adaptive;

  g_assert_cmpuint (controller_step (a, 9, &hit), ==, 9);       /* grows into the wall */
  g_assert_cmpuint (controller_step (a, 9, &hit), ==, 4);       /* 429: halves, ceiling 9 */
  g_assert_true (hit);
  g_assert_cmpuint (controller_step (a, 4, &hit), ==, 2);       /* 429 again, nothing accepted */
  g_assert_true (hit);
  for (successes = 0; _pft_adaptive_controller_get_current (a) < 8; successes++)
    {
      controller_step (a, 9, &hit);
      g_assert_false (hit);
    }
  g_assert_cmpuint (successes, ==, 6);                           /* 2 -> 8, no probe */
  for (guint i = 1; i < 20 * 8; i++)
    g_assert_cmpuint (controller_step (a, 9, &hit), ==, 8);     /* 9 is a probe: 20 rounds */
  g_assert_cmpuint (controller_step (a, 9, &hit), ==, 9);

  /* Now with an accepted call between the two rate limits. */
  _pft_adaptive_controller_reset (a);
  g_assert_cmpuint (controller_step (a, 9, &hit), ==, 9);
  g_assert_cmpuint (controller_step (a, 9, &hit), ==, 4);
  g_assert_cmpuint (controller_step (a, 9, &hit), ==, 5);       /* accepted at 4 */
  g_assert_cmpuint (controller_step (a, 5, &hit), ==, 2);       /* a wall at 5 */
  g_assert_true (hit);
  g_assert_cmpuint (controller_step (a, 5, &hit), ==, 3);
  g_assert_cmpuint (controller_step (a, 5, &hit), ==, 4);
  for (guint i = 1; i < 20 * 4; i++)
    g_assert_cmpuint (controller_step (a, 5, &hit), ==, 4);     /* 5 is a probe now */
  g_assert_cmpuint (controller_step (a, 5, &hit), ==, 5);
}

static void
test_defect4_recovery_from_small (void)
{
  /* Seed: int(4 * 1.2) == 4, so recovery never grew from 4 or below. */
  g_autoptr(PftClock) clock = _pft_fake_clock_new (1000 * G_USEC_PER_SEC);
  SimApi api = { .duration_ms = 1, .clock = clock };
  SimTrace trace = { 0 };
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  sim_api_init (&api);
  node = sim_adaptive_node_new (&api);
  g_object_set (node, "initial-concurrent", 1, "max-concurrent", 6, "recovery-threshold", 3, NULL);
  sim_node_set_trace (node, &trace);

  action = run_items_on_clock (node, clock, 300, store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (trace.min_seen, ==, 1);
  g_assert_cmpuint (pft_adaptive_node_get_current_concurrent (PFT_ADAPTIVE_NODE (node)), ==, 6);
  sim_api_clear (&api);
}

static void
test_defect5_first_429_not_fatal (void)
{
  /* Seed: with the default max_retries = 1, the first 429 aborted the
   * whole batch. */
  SimApi api = { .fail_first = 3, .duration_ms = 1 };
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  sim_api_init (&api);
  node = sim_throttled_node_new (&api);
  g_assert_cmpint (pft_node_get_max_retries (node), ==, 1);

  action = run_items (node, 50, store, &error);
  g_assert_no_error (error);
  assert_results_in_order (store, 50);
  g_assert_cmpuint (api.rate_limited, ==, 3);
  g_assert_cmpuint (pft_throttled_batch_node_get_failed (PFT_THROTTLED_BATCH_NODE (node)), ==, 0);
  sim_api_clear (&api);
}

static void
test_defect6_absorbed_rate_limit_counts (void)
{
  /* Seed: a 429 absorbed by a retry counted as a success. */
  g_autoptr(PftClock) clock = _pft_fake_clock_new (1000 * G_USEC_PER_SEC);
  SimApi api = { .fail_first = 2, .duration_ms = 1, .clock = clock };
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  PftAdaptiveNode *an;

  sim_api_init (&api);
  node = sim_adaptive_node_new (&api);
  an = PFT_ADAPTIVE_NODE (node);
  g_object_set (node, "initial-concurrent", 8, "max-concurrent", 8, "recovery-threshold", 1000, NULL);

  action = run_items_on_clock (node, clock, 30, store, &error);
  g_assert_no_error (error);
  assert_results_in_order (store, 30);
  g_assert_cmpuint (pft_adaptive_node_get_total_rate_limits (an), ==, 2);
  g_assert_cmpuint (pft_adaptive_node_get_total_successes (an), ==, 30);
  /* ...and the node backed off for them (once: one episode). */
  g_assert_cmpuint (pft_adaptive_node_get_current_concurrent (an), ==, 4);
  sim_api_clear (&api);
}

static void
test_defect7_stats_on_user_node (void)
{
  /* Seed: the flow ran a copy of the node; its stats stayed 0. */
  SimApi api = { .duration_ms = 1 };
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftFlow) flow = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) items = ints (25);
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  sim_api_init (&api);
  node = sim_adaptive_node_new (&api);
  flow = pft_flow_new (node);
  pft_store_set_values (store, "items", items);
  action = test_run_async (PFT_NODE (flow), store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pft_adaptive_node_get_total_successes (PFT_ADAPTIVE_NODE (node)), ==, 25);
  g_assert_cmpuint (pft_throttled_batch_node_get_completed (PFT_THROTTLED_BATCH_NODE (node)), ==, 25);
  sim_api_clear (&api);
}

/* A throttled batch flow over param sets {i}, whose sub-flow is one node. */
#define TEST_TYPE_SETS (test_sets_get_type ())
G_DECLARE_FINAL_TYPE (TestSets, test_sets, TEST, SETS, PftThrottledBatchFlow)
struct _TestSets { PftThrottledBatchFlow parent_instance; };
G_DEFINE_FINAL_TYPE (TestSets, test_sets, PFT_TYPE_THROTTLED_BATCH_FLOW)

static void
sets_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  gint64 n = pft_store_get_int (pft_context_get_store (ctx), "n", 0);
  PftValues *sets = pft_values_new ();

  for (gint64 i = 0; i < n; i++)
    pft_values_append_variant (sets, g_variant_new_parsed ("{'i': <%x>}", i));
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, sets);
}

static void test_sets_class_init (TestSetsClass *klass) { PFT_NODE_CLASS (klass)->prep = sets_prep; }
static void test_sets_init (TestSets *self) { }

static void
test_defect8_batch_results_not_action (void)
{
  /* Seed: a nested batch flow's results became the routing action
   * (TypeError: unhashable type: 'list'). */
  TestBehaviour leaf_b = { 0 };
  TestBehaviour after_b = { 0 };
  g_autoptr(PftNode) leaf = test_node_new (&leaf_b);
  g_autoptr(PftNode) after = test_node_new (&after_b);
  g_autoptr(TestSets) sets = g_object_new (TEST_TYPE_SETS, "start", leaf, NULL);
  g_autoptr(PftFlow) outer = pft_flow_new (PFT_NODE (sets));
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_node_add_successor (PFT_NODE (sets), NULL, after);
  pft_store_set_int (store, "n", 6);
  action = pft_node_run (PFT_NODE (outer), store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (leaf_b.exec_calls, ==, 6);
  g_assert_cmpint (after_b.exec_calls, ==, 1);
  g_assert_cmpuint (pft_throttled_batch_flow_get_completed (PFT_THROTTLED_BATCH_FLOW (sets)), ==, 6);
}

/* An adaptive batch flow over the same param sets. */
#define TEST_TYPE_ADAPTIVE_SETS (test_adaptive_sets_get_type ())
G_DECLARE_FINAL_TYPE (TestAdaptiveSets, test_adaptive_sets, TEST, ADAPTIVE_SETS, PftAdaptiveBatchFlow)
struct _TestAdaptiveSets { PftAdaptiveBatchFlow parent_instance; };
G_DEFINE_FINAL_TYPE (TestAdaptiveSets, test_adaptive_sets, PFT_TYPE_ADAPTIVE_BATCH_FLOW)

static void test_adaptive_sets_class_init (TestAdaptiveSetsClass *klass) { PFT_NODE_CLASS (klass)->prep = sets_prep; }
static void test_adaptive_sets_init (TestAdaptiveSets *self) { }

/* The flow's accessors are the node's, under the flow's names: each reads
 * and writes its property (one notify per change) and configures the
 * flow's own limiter. */
static void
test_throttled_flow_accessors (void)
{
  TestBehaviour leaf_b = { 0 };
  g_autoptr(PftNode) leaf = test_node_new (&leaf_b);
  g_autoptr(TestSets) sets = g_object_new (TEST_TYPE_SETS, "start", leaf, NULL);
  g_autoptr(TestAdaptiveSets) adaptive = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  PftThrottledBatchFlow *flow = PFT_THROTTLED_BATCH_FLOW (sets);
  guint per_minute_notifies = 0, continue_notifies = 0, consecutive_notifies = 0;
  guint value = 0;
  gboolean flag = FALSE;

  g_signal_connect (sets, "notify::max-flows-per-minute", G_CALLBACK (count_notify), &per_minute_notifies);
  g_signal_connect (sets, "notify::continue-on-error", G_CALLBACK (count_notify), &continue_notifies);

  g_assert_cmpuint (pft_throttled_batch_flow_get_max_flows_per_minute (flow), ==, 0);
  pft_throttled_batch_flow_set_max_flows_per_minute (flow, 30);
  pft_throttled_batch_flow_set_max_flows_per_minute (flow, 30);
  g_assert_cmpuint (per_minute_notifies, ==, 1);
  g_assert_cmpuint (pft_throttled_batch_flow_get_max_flows_per_minute (flow), ==, 30);
  g_object_get (sets, "max-flows-per-minute", &value, NULL);
  g_assert_cmpuint (value, ==, 30);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (pft_throttled_batch_flow_get_limiter (flow)), ==, 30);
  g_object_set (sets, "max-flows-per-minute", 12, NULL);
  g_assert_cmpuint (pft_throttled_batch_flow_get_max_flows_per_minute (flow), ==, 12);

  g_assert_false (pft_throttled_batch_flow_get_continue_on_error (flow));
  pft_throttled_batch_flow_set_continue_on_error (flow, TRUE);
  pft_throttled_batch_flow_set_continue_on_error (flow, TRUE);
  g_assert_cmpuint (continue_notifies, ==, 1);
  g_assert_true (pft_throttled_batch_flow_get_continue_on_error (flow));
  g_object_get (sets, "continue-on-error", &flag, NULL);
  g_assert_true (flag);
  g_object_set (sets, "continue-on-error", FALSE, NULL);
  g_assert_false (pft_throttled_batch_flow_get_continue_on_error (flow));
  g_assert_cmpuint (continue_notifies, ==, 2);

  /* consecutive-successes: 3 walks succeed, below the threshold of 10. */
  adaptive = g_object_new (TEST_TYPE_ADAPTIVE_SETS, "start", leaf, NULL);
  g_signal_connect (adaptive, "notify::consecutive-successes", G_CALLBACK (count_notify), &consecutive_notifies);
  g_assert_cmpuint (pft_adaptive_batch_flow_get_consecutive_successes (PFT_ADAPTIVE_BATCH_FLOW (adaptive)), ==, 0);
  pft_store_set_int (store, "n", 3);
  action = pft_node_run (PFT_NODE (adaptive), store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pft_adaptive_batch_flow_get_consecutive_successes (PFT_ADAPTIVE_BATCH_FLOW (adaptive)), ==, 3);
  g_assert_cmpuint (consecutive_notifies, ==, 3);
  g_object_get (adaptive, "consecutive-successes", &value, NULL);
  g_assert_cmpuint (value, ==, 3);
  pft_adaptive_batch_flow_reset (PFT_ADAPTIVE_BATCH_FLOW (adaptive));
  g_assert_cmpuint (pft_adaptive_batch_flow_get_consecutive_successes (PFT_ADAPTIVE_BATCH_FLOW (adaptive)), ==, 0);
}

/* ---- nesting: both levels hold ---- */

static void
test_throttled_nested_levels (void)
{
  SimApi api = { .duration_ms = 3 };
  SimProbe probe = { 0 };
  g_autoptr(PftNode) inner = NULL;
  g_autoptr(TestSets) sets = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) items = ints (6);
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  PftRateLimiter *flow_limiter;

  sim_api_init (&api);
  inner = sim_throttled_node_new (&api);
  pft_batch_node_set_max_concurrent (PFT_BATCH_NODE (inner), 3);
  sim_node_set_probe (inner, &probe);
  sets = g_object_new (TEST_TYPE_SETS, "start", inner, "max-concurrent-flows", 5, NULL);
  g_assert_cmpuint (pft_batch_flow_get_max_concurrent (PFT_BATCH_FLOW (sets)), ==, 5);
  flow_limiter = pft_throttled_batch_flow_get_limiter (PFT_THROTTLED_BATCH_FLOW (sets));
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (flow_limiter), ==, 5);

  pft_store_set_int (store, "n", 20);
  pft_store_set_values (store, "items", items);
  action = pft_node_run (PFT_NODE (sets), store, NULL, &error);
  g_assert_no_error (error);
  /* 5 walks x 3 calls would be 15; the inner node's limit is the node's,
   * shared by every walk (nodes are not copied), so calls stay within 3. */
  g_assert_cmpint (probe.max_in_flight, <=, 3);
  g_assert_cmpuint (api.served, ==, 20 * 6);
  g_assert_cmpuint (pft_throttled_batch_flow_get_completed (PFT_THROTTLED_BATCH_FLOW (sets)), ==, 20);
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (flow_limiter), ==, 20);
  sim_api_clear (&api);
}

/* ---- error policy ---- */

static void
exec_fail_fifth (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  gint64 i = g_value_get_int64 (item);

  if (i % 5 == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "bad item %" G_GINT64_FORMAT, i);
      return;
    }
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, i);
}

#define TEST_TYPE_FLAKY (test_flaky_get_type ())
G_DECLARE_FINAL_TYPE (TestFlaky, test_flaky, TEST, FLAKY, PftThrottledBatchNode)
struct _TestFlaky { PftThrottledBatchNode parent_instance; };
G_DEFINE_FINAL_TYPE (TestFlaky, test_flaky, PFT_TYPE_THROTTLED_BATCH_NODE)

static char *
flaky_post (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  pft_store_set_values (pft_context_get_store (ctx), "results", g_value_get_object (exec));
  return NULL;
}

static void
test_flaky_class_init (TestFlakyClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = items_prep;
  PFT_NODE_CLASS (klass)->exec = exec_fail_fifth;
  PFT_NODE_CLASS (klass)->post = flaky_post;
}

static void test_flaky_init (TestFlaky *self) { }

static void
count_failures (PftNode *node, guint index, GError *error, gpointer data)
{
  if (error != NULL)
    (*(guint *) data)++;
}

static void
test_throttled_error_policy (void)
{
  g_autoptr(TestFlaky) node = g_object_new (TEST_TYPE_FLAKY, "max-concurrent", 4, NULL);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PftValues) results = NULL;
  g_autofree char *a1 = NULL;
  g_autofree char *a2 = NULL;
  guint failures_seen = 0;

  /* On: the batch completes; failed items hold their GError. */
  pft_throttled_batch_node_set_continue_on_error (PFT_THROTTLED_BATCH_NODE (node), TRUE);
  g_signal_connect (node, "item-done", G_CALLBACK (count_failures), &failures_seen);
  a1 = run_items (PFT_NODE (node), 50, store, &error);
  g_assert_no_error (error);
  results = pft_store_dup_values (store, "results");
  g_assert_cmpuint (pft_values_get_length (results), ==, 50);
  for (guint i = 0; i < 50; i++)
    {
      const GValue *v = pft_values_peek (results, i);

      if (i % 5 == 0)
        {
          g_assert_true (G_VALUE_HOLDS (v, G_TYPE_ERROR));
          g_assert_error ((GError *) pft_values_get_error (results, i), G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
        }
      else
        {
          g_assert_cmpint (g_value_get_int64 (v), ==, i);
          g_assert_null (pft_values_get_error (results, i));
        }
    }
  g_assert_cmpuint (pft_throttled_batch_node_get_failed (PFT_THROTTLED_BATCH_NODE (node)), ==, 10);
  g_assert_cmpuint (pft_throttled_batch_node_get_completed (PFT_THROTTLED_BATCH_NODE (node)), ==, 40);
  g_assert_cmpuint (failures_seen, ==, 10);

  /* Off: the first failure fails the node. */
  pft_throttled_batch_node_set_continue_on_error (PFT_THROTTLED_BATCH_NODE (node), FALSE);
  pft_store_remove (store, "results");
  a2 = run_items (PFT_NODE (node), 50, store, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_false (pft_store_contains (store, "results"));
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node))), ==, 0);
}

/* ---- cancellation releases every permit ---- */

static gpointer
cancel_later (gpointer data)
{
  g_usleep (40 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_throttled_cancel_releases_permits (void)
{
  SimApi api = { .duration_ms = 500 };
  g_autoptr(PftRateLimiter) shared = pft_rate_limiter_new (3, 0, 60);
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) items = ints (100);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  GThread *thread;

  sim_api_init (&api);
  node = sim_throttled_node_new (&api);
  pft_throttled_batch_node_set_limiter (PFT_THROTTLED_BATCH_NODE (node), shared);
  g_assert_true (pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node)) == shared);
  pft_store_set_values (store, "items", items);

  thread = g_thread_new ("canceller", cancel_later, cancellable);
  action = test_run_async (node, store, cancellable, &error);
  g_thread_join (thread);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* The shared limiter is as it was before the run. */
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (shared), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (shared), ==, 0);
  g_assert_cmpuint (api.served, ==, 0);
  sim_api_clear (&api);
}

/* ---- configuration ---- */

static void
test_throttled_presets_and_registry (void)
{
  PftLimiterRegistry *registry = pft_limiter_registry_get_default ();
  g_autoptr(PftNode) node = pft_throttled_batch_node_new (2, 0);
  g_autoptr(PftNode) other = pft_throttled_batch_node_new (9, 0);
  g_autoptr(PftNode) adaptive = pft_adaptive_node_new ();
  g_autoptr(GError) error = NULL;
  PftRateLimiter *shared;

  g_assert_cmpuint (pft_batch_node_get_max_concurrent (PFT_BATCH_NODE (node)), ==, 2);
  g_assert_true (pft_throttled_batch_node_apply_preset (PFT_THROTTLED_BATCH_NODE (node), "OPENAI_TIER1", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pft_batch_node_get_max_concurrent (PFT_BATCH_NODE (node)), ==, 5);
  g_assert_cmpuint (pft_throttled_batch_node_get_max_per_minute (PFT_THROTTLED_BATCH_NODE (node)), ==, 60);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node))), ==, 60);
  g_assert_false (pft_throttled_batch_node_apply_preset (PFT_THROTTLED_BATCH_NODE (node), "openai_tier9", &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "openai_tier1"));
  g_clear_error (&error);

  /* The adaptive defaults of the seed. */
  g_assert_cmpuint (pft_batch_node_get_max_concurrent (PFT_BATCH_NODE (adaptive)), ==, 20);
  g_assert_cmpuint (pft_adaptive_node_get_current_concurrent (PFT_ADAPTIVE_NODE (adaptive)), ==, 5);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (adaptive))), ==, 5);

  /* A registry limiter, by name, shared by two nodes. */
  g_assert_false (pft_throttled_batch_node_use_registry_limiter (PFT_THROTTLED_BATCH_NODE (node), "test-missing", &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_NOT_FOUND);
  g_clear_error (&error);
  shared = pft_limiter_registry_register_new (registry, "test-throttled-api", 3, 0, 60, &error);
  g_assert_no_error (error);
  g_assert_true (pft_throttled_batch_node_use_registry_limiter (PFT_THROTTLED_BATCH_NODE (node), "test-throttled-api", &error));
  g_assert_true (pft_throttled_batch_node_use_registry_limiter (PFT_THROTTLED_BATCH_NODE (other), "test-throttled-api", &error));
  g_assert_no_error (error);
  g_assert_true (pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node)) == shared);
  g_assert_true (pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (other)) == shared);
  pft_throttled_batch_node_set_limiter (PFT_THROTTLED_BATCH_NODE (node), NULL);
  g_assert_true (pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node)) != shared);
  pft_limiter_registry_remove (registry, "test-throttled-api");
}

static void
test_adaptive_knobs (void)
{
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftBatchFlow) flow = NULL;
  g_autoptr(PftRateLimiter) shared = pft_rate_limiter_new (2, 0, 60);
  PftRateLimiter *own;

  /* The order of construct properties does not matter: the start value is
   * clamped to the final min and max. */
  node = g_object_new (PFT_TYPE_ADAPTIVE_NODE, "initial-concurrent", 30, "max-concurrent", 50, NULL);
  g_assert_cmpuint (pft_adaptive_node_get_current_concurrent (PFT_ADAPTIVE_NODE (node)), ==, 30);
  own = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (own), ==, 30);
  g_object_set (node, "min-concurrent", 40, NULL);
  g_assert_cmpuint (pft_adaptive_node_get_current_concurrent (PFT_ADAPTIVE_NODE (node)), ==, 40);

  /* A shared limiter keeps the size its owner gave it; the node starts
   * from there instead of imposing its own on everyone sharing it. */
  g_object_set (node, "min-concurrent", 1, NULL);
  pft_throttled_batch_node_set_limiter (PFT_THROTTLED_BATCH_NODE (node), shared);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (shared), ==, 2);
  g_assert_cmpuint (pft_adaptive_node_get_current_concurrent (PFT_ADAPTIVE_NODE (node)), ==, 2);

  /* reset goes back to initial-concurrent (on the limiter in use). */
  pft_throttled_batch_node_set_limiter (PFT_THROTTLED_BATCH_NODE (node), NULL);
  pft_adaptive_node_reset (PFT_ADAPTIVE_NODE (node));
  g_assert_cmpuint (pft_adaptive_node_get_current_concurrent (PFT_ADAPTIVE_NODE (node)), ==, 30);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (own), ==, 30);

  /* The flow has the same controller, under -flows names. */
  flow = pft_adaptive_batch_flow_new (NULL);
  g_assert_cmpuint (pft_adaptive_batch_flow_get_current_concurrent_flows (PFT_ADAPTIVE_BATCH_FLOW (flow)), ==, 5);
  g_assert_cmpuint (pft_batch_flow_get_max_concurrent (flow), ==, 20);
  g_object_set (flow, "initial-concurrent-flows", 7, NULL);
  g_assert_cmpuint (pft_adaptive_batch_flow_get_current_concurrent_flows (PFT_ADAPTIVE_BATCH_FLOW (flow)), ==, 7);
  g_assert_cmpuint (pft_adaptive_batch_flow_get_total_successes (PFT_ADAPTIVE_BATCH_FLOW (flow)), ==, 0);
  g_assert_cmpuint (pft_adaptive_batch_flow_get_total_rate_limits (PFT_ADAPTIVE_BATCH_FLOW (flow)), ==, 0);
  pft_adaptive_batch_flow_reset (PFT_ADAPTIVE_BATCH_FLOW (flow));
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (pft_throttled_batch_flow_get_limiter (PFT_THROTTLED_BATCH_FLOW (flow))), ==, 7);
}


/* min-concurrent above max-concurrent, in either order: the ceiling is
 * never passed, and a run fails at once, naming both, instead of running
 * with knobs that contradict. */
static void
test_adaptive_min_above_max (void)
{
  for (guint order = 0; order < 2; order++)
    {
      SimApi api = { .duration_ms = 1 };
      g_autoptr(PftNode) node = NULL;
      g_autoptr(PftStore) store = pft_store_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *action = NULL;
      PftRateLimiter *own;

      sim_api_init (&api);
      node = sim_adaptive_node_new (&api);
      if (order == 0)
        g_object_set (node, "max-concurrent", 20, "min-concurrent", 100, NULL);
      else
        g_object_set (node, "min-concurrent", 100, "max-concurrent", 20, NULL);
      own = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));
      g_assert_cmpuint (pft_batch_node_get_max_concurrent (PFT_BATCH_NODE (node)), ==, 20);
      g_assert_cmpuint (pft_adaptive_node_get_current_concurrent (PFT_ADAPTIVE_NODE (node)), <=, 20);
      g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (own), <=, 20);

      action = run_items (node, 3, store, &error);
      g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "min-concurrent = 100"));
      g_assert_nonnull (strstr (error->message, "max-concurrent = 20"));
      g_assert_cmpuint (api.calls, ==, 0);

      /* Once consistent, it runs. */
      g_clear_error (&error);
      g_object_set (node, "min-concurrent", 2, NULL);
      g_free (run_items (node, 3, store, &error));
      g_assert_no_error (error);
      sim_api_clear (&api);
    }

  /* The flow's controller, under its -flows names. */
  {
    g_autoptr(PftBatchFlow) flow = pft_adaptive_batch_flow_new (NULL);
    g_autoptr(PftStore) store = pft_store_new ();
    g_autoptr(GError) error = NULL;

    g_object_set (flow, "min-concurrent-flows", 5, "max-concurrent-flows", 3, NULL);
    g_assert_cmpuint (pft_adaptive_batch_flow_get_current_concurrent_flows (PFT_ADAPTIVE_BATCH_FLOW (flow)), <=, 3);
    g_free (pft_node_run (PFT_NODE (flow), store, NULL, &error));
    g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "min-concurrent-flows = 5"));
    g_assert_nonnull (strstr (error->message, "max-concurrent-flows = 3"));
  }
}


/* The last item waits for a slot and its exec_async is done at once:
 * starting it ends the batch inside the slot's callback, which must not
 * touch the dispatcher afterwards (a use after free under valgrind and
 * ASan). */
#define TEST_TYPE_AT_ONCE_NODE (test_at_once_node_get_type ())
G_DECLARE_FINAL_TYPE (TestAtOnceNode, test_at_once_node, TEST, AT_ONCE_NODE, PftThrottledBatchNode)
struct _TestAtOnceNode { PftThrottledBatchNode parent_instance; };
G_DEFINE_FINAL_TYPE (TestAtOnceNode, test_at_once_node, PFT_TYPE_THROTTLED_BATCH_NODE)

static gboolean
at_once_complete (gpointer data)
{
  g_task_return_pointer (data, NULL, NULL);
  return G_SOURCE_REMOVE;
}

static void
at_once_exec_async (PftNode *node, PftContext *ctx, const GValue *item, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  GSource *source;

  /* Item 0 holds the only slot a little; the others are done at once. */
  if (g_value_get_int64 (item) != 0)
    {
      pft_context_return_value (ctx, item);
      return;
    }
  task = g_task_new (node, cancellable, callback, user_data);
  source = g_timeout_source_new (5);
  g_source_set_callback (source, at_once_complete, task, g_object_unref);
  g_source_attach (source, pft_context_get_main_context (ctx));
  g_source_unref (source);
}

static void
at_once_exec_finish (PftNode *node, GAsyncResult *result, GValue *value, GError **error)
{
  g_task_propagate_pointer (G_TASK (result), error);
}

static void
test_at_once_node_class_init (TestAtOnceNodeClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = items_prep;
  PFT_NODE_CLASS (klass)->exec_async = at_once_exec_async;
  PFT_NODE_CLASS (klass)->exec_finish = at_once_exec_finish;
}

static void test_at_once_node_init (TestAtOnceNode *self) { }

/* max-concurrent 0 is "no bound" for a throttled node too, as for every
 * batch node, not a silent "one at a time". */
static void
test_throttled_zero_is_unbounded (void)
{
  SimApi api = { .duration_ms = 5 };
  SimProbe probe = { 0 };
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;

  sim_api_init (&api);
  node = sim_throttled_node_new (&api);
  sim_node_set_probe (node, &probe);
  pft_batch_node_set_max_concurrent (PFT_BATCH_NODE (node), 0);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node))),
                    ==, G_MAXUINT);
  g_free (run_items (node, 8, store, &error));
  g_assert_no_error (error);
  /* All eight calls (5 ms each, on the main context) overlapped. */
  g_assert_cmpint (probe.max_in_flight, ==, 8);
  sim_api_clear (&api);
}

static void
test_throttled_last_item_at_once (void)
{
  g_autoptr(PftNode) node = g_object_new (TEST_TYPE_AT_ONCE_NODE, "max-concurrent", 1, NULL);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) items = ints (2);
  g_autoptr(GError) error = NULL;

  pft_store_set_values (store, "items", items);
  g_free (pft_node_run (node, store, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pft_throttled_batch_node_get_completed (PFT_THROTTLED_BATCH_NODE (node)), ==, 2);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft/throttled/bound", test_throttled_bound);
  g_test_add_func ("/pft/throttled/last-item-at-once", test_throttled_last_item_at_once);
  g_test_add_func ("/pft/throttled/zero-is-unbounded", test_throttled_zero_is_unbounded);
  g_test_add_func ("/pft/throttled/live-resize", test_throttled_live_resize);
  g_test_add_func ("/pft/throttled/per-minute-fake-clock", test_throttled_per_minute_fake_clock);
  g_test_add_func ("/pft/throttled/nested-levels", test_throttled_nested_levels);
  g_test_add_func ("/pft/throttled/error-policy", test_throttled_error_policy);
  g_test_add_func ("/pft/throttled/cancel-releases-permits", test_throttled_cancel_releases_permits);
  g_test_add_func ("/pft/throttled/presets-and-registry", test_throttled_presets_and_registry);
  g_test_add_func ("/pft/throttled/flow-accessors", test_throttled_flow_accessors);
  g_test_add_func ("/pft/adaptive/hidden-concurrency", test_adaptive_hidden_concurrency);
  g_test_add_func ("/pft/adaptive/hidden-rate", test_adaptive_hidden_rate);
  g_test_add_func ("/pft/adaptive/exact-on-fake-clock", test_adaptive_exact_on_fake_clock);
  g_test_add_func ("/pft/adaptive/knobs", test_adaptive_knobs);
  g_test_add_func ("/pft/adaptive/min-above-max", test_adaptive_min_above_max);
  g_test_add_func ("/pft/adaptive/probe-backoff", test_adaptive_probe_backoff);
  g_test_add_func ("/pft/adaptive/cascade-keeps-ceiling", test_adaptive_cascade_keeps_ceiling);
  g_test_add_func ("/pft/adaptive/notify-only-on-change", test_adaptive_notify_only_on_change);
  g_test_add_func ("/pft/defects/3-resize-reaches-queued", test_defect3_resize_reaches_queued);
  g_test_add_func ("/pft/defects/4-recovery-from-small", test_defect4_recovery_from_small);
  g_test_add_func ("/pft/defects/5-first-429-not-fatal", test_defect5_first_429_not_fatal);
  g_test_add_func ("/pft/defects/6-absorbed-rate-limit-counts", test_defect6_absorbed_rate_limit_counts);
  g_test_add_func ("/pft/defects/7-stats-on-user-node", test_defect7_stats_on_user_node);
  g_test_add_func ("/pft/defects/8-batch-results-not-action", test_defect8_batch_results_not_action);

  return g_test_run ();
}
