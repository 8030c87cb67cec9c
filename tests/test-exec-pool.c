/* test-exec-pool.c: how many worker threads run synchronous execs
 *
 * The pool grows when the workers holding up the queue are blocked (a
 * sleep, I/O), and not when they compute or wait for a lock that one of
 * them holds (as Python execs wait for the GIL): more threads would only
 * contend. The watchdog's judgement is tested tick by tick with made-up
 * clocks; a pool of the test's own runs, grows for jobs blocked on a gate
 * and shuts down; end to end, sleeping execs make the pool grow (counted
 * by the execs themselves), and a cancelled thread exec is reported at
 * once while it still runs. How few threads contending execs get is a
 * figure of bench-exec-pool, since a loaded machine can starve the
 * process.
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-context-private.h"
#include "pft-exec-private.h"
#include "pft-exec-pool-private.h"
#include "test-util.h"

/* A gate the jobs and execs of a test wait at, and what they count. */
typedef struct
{
  GMutex  lock;
  GCond   cond;
  gboolean open;
  guint   running;
  guint   peak;
  guint   finished;
  GThread *pusher;
  gboolean ran_in_pusher;
} TestGate;

static TestGate gate;

static void
test_gate_reset (void)
{
  g_mutex_lock (&gate.lock);
  gate.open = FALSE;
  gate.running = gate.peak = gate.finished = 0;
  gate.pusher = g_thread_self ();
  gate.ran_in_pusher = FALSE;
  g_mutex_unlock (&gate.lock);
}

static void
test_gate_open (void)
{
  g_mutex_lock (&gate.lock);
  gate.open = TRUE;
  g_cond_broadcast (&gate.cond);
  g_mutex_unlock (&gate.lock);
}

/* Waits (up to 60 s, for valgrind) until @pred holds under the lock. */
static gboolean
test_gate_wait_for (gboolean (*pred) (guint), guint arg)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  gboolean ok;

  g_mutex_lock (&gate.lock);
  while (!(ok = pred (arg)) && g_cond_wait_until (&gate.cond, &gate.lock, deadline))
    ;
  ok = pred (arg);
  g_mutex_unlock (&gate.lock);
  return ok;
}

static gboolean
test_gate_running_is (guint n)
{
  return gate.running == n;
}

static gboolean
test_gate_finished_is (guint n)
{
  return gate.finished == n;
}

/* Enters, waits for the gate if @wait, leaves. */
static void
test_gate_pass (gboolean wait)
{
  g_mutex_lock (&gate.lock);
  gate.running++;
  gate.peak = MAX (gate.peak, gate.running);
  if (g_thread_self () == gate.pusher)
    gate.ran_in_pusher = TRUE;
  g_cond_broadcast (&gate.cond);
  while (wait && !gate.open)
    g_cond_wait (&gate.cond, &gate.lock);
  gate.running--;
  gate.finished++;
  g_cond_broadcast (&gate.cond);
  g_mutex_unlock (&gate.lock);
}

typedef struct
{
  PftExecPoolJob job;
  gboolean       wait;
  gint           runs;   /* atomic */
} TestJob;

static void
test_job_run (PftExecPoolJob *job)
{
  TestJob *tj = (TestJob *) job;

  g_atomic_int_inc (&tj->runs);
  test_gate_pass (tj->wait);
}

static TestJob *
test_jobs_push (PftExecPool *pool,
                guint        n,
                gboolean     wait)
{
  TestJob *jobs = g_new0 (TestJob, n);

  for (guint i = 0; i < n; i++)
    {
      jobs[i].job.run = test_job_run;
      jobs[i].wait = wait;
      _pft_exec_pool_push (pool, &jobs[i].job);
    }
  return jobs;
}

static void
test_exec_pool_runs_every_job (void)
{
  PftExecPool *pool = _pft_exec_pool_new (2);
  g_autofree TestJob *jobs = NULL;

  test_gate_reset ();
  g_assert_cmpuint (_pft_exec_pool_get_base_size (pool), ==, 2);
  jobs = test_jobs_push (pool, 1000, FALSE);
  g_assert_true (test_gate_wait_for (test_gate_finished_is, 1000));
  _pft_exec_pool_free (pool);

  /* Each job once, in a worker, never more workers than the base. */
  for (guint i = 0; i < 1000; i++)
    g_assert_cmpint (g_atomic_int_get (&jobs[i].runs), ==, 1);
  g_assert_false (gate.ran_in_pusher);
  g_assert_cmpuint (gate.peak, <=, 2);
}

static void
test_exec_pool_grows_for_blocked_jobs (void)
{
  PftExecPool *pool = _pft_exec_pool_new (2);
  g_autofree TestJob *jobs = NULL;

  /* 16 jobs that block until the gate opens: the base of 2 workers would
   * hold 14 of them queued forever; the watchdog sees the workers stuck
   * and doubles the pool until every job runs. */
  test_gate_reset ();
  jobs = test_jobs_push (pool, 16, TRUE);
  g_assert_true (test_gate_wait_for (test_gate_running_is, 16));
  g_assert_cmpuint (_pft_exec_pool_get_size (pool), ==, 16);

  test_gate_open ();
  g_assert_true (test_gate_wait_for (test_gate_finished_is, 16));
  _pft_exec_pool_free (pool);
}

static gpointer
test_gate_open_later (gpointer data)
{
  g_usleep (50 * 1000);
  test_gate_open ();
  return NULL;
}

static void
test_exec_pool_shutdown_waits_for_jobs (void)
{
  PftExecPool *pool = _pft_exec_pool_new (2);
  g_autofree TestJob *jobs = NULL;

  /* Freed while 8 blocked jobs are queued or running: the free waits for
   * all of them (the watchdog still grows the pool meanwhile), then stops
   * the watchdog and joins the workers. */
  test_gate_reset ();
  jobs = test_jobs_push (pool, 8, TRUE);
  g_assert_true (test_gate_wait_for (test_gate_running_is, 2));
  {
    GThread *opener = g_thread_new ("opener", test_gate_open_later, NULL);

    _pft_exec_pool_free (pool);
    g_thread_join (opener);
  }
  g_assert_cmpuint (gate.finished, ==, 8);
  for (guint i = 0; i < 8; i++)
    g_assert_cmpint (g_atomic_int_get (&jobs[i].runs), ==, 1);
}

static void
exec_blocking (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  g_usleep (5000);
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, g_value_get_int64 (item));
}

static guint
pool_base (void)
{
  return _pft_exec_pool_get_base_size (_pft_exec_pool_get_default ());
}

static void
test_exec_pool_grows_when_blocked (void)
{
  /* Sleeping execs: the pool grows past its base size, so that they
   * overlap as max-concurrent allows. */
  gint peak = test_run_int_batch (exec_blocking, 256, 64);

  g_test_message ("base %u, peak %d", pool_base (), peak);
  g_assert_cmpint (peak, >, pool_base ());
  g_assert_cmpint (peak, <=, 64);
}

/* A thread exec, started as the engine does, reporting into a TestCall. */
typedef struct
{
  PftExecCall call;
  guint       reports;
  GError     *error;
  gint64      value;
} TestCall;

static void
test_call_done (PftExecCall *call,
                GValue      *value,
                GError      *error)
{
  TestCall *tc = (TestCall *) call;

  tc->reports++;
  if (error != NULL)
    g_propagate_error (&tc->error, error);
  else if (G_VALUE_HOLDS_INT64 (value))
    tc->value = g_value_get_int64 (value);
  if (G_IS_VALUE (value))
    g_value_unset (value);
}

static void
exec_gated (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  test_gate_pass (TRUE);
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, 42);
}

/* One exec of a gated node, started as the engine does. */
typedef struct
{
  TestBehaviour  b;
  PftNode       *node;
  PftStore      *store;
  GCancellable  *cancellable;
  PftContext    *ctx;
  GValue         item;
  TestCall       tc;
} ExecFixture;

static void
exec_fixture_set_up (ExecFixture   *f,
                     gconstpointer  data)
{
  g_autoptr(GVariant) params = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));

  f->b = (TestBehaviour) { .exec = exec_gated };
  f->node = test_node_new (&f->b);
  f->store = pft_store_new ();
  f->cancellable = g_cancellable_new ();
  f->ctx = _pft_context_new (f->node, f->store, params, f->cancellable);
  g_value_init (&f->item, G_TYPE_INT64);
  f->tc = (TestCall) { .call.done = test_call_done };
  test_gate_reset ();
}

static void
exec_fixture_tear_down (ExecFixture   *f,
                        gconstpointer  data)
{
  g_clear_error (&f->tc.error);
  g_object_unref (f->ctx);
  g_object_unref (f->cancellable);
  g_object_unref (f->store);
  g_object_unref (f->node);
}

static void
test_exec_thread_exec_cancelled (ExecFixture   *f,
                                 gconstpointer  data)
{
  _pft_exec_start (f->node, f->ctx, &f->item, f->cancellable, &f->tc.call);
  g_assert_true (test_gate_wait_for (test_gate_running_is, 1));

  /* Cancelled while the exec is blocked in user code: reported CANCELLED
   * on the run's context at once, without waiting for the exec. */
  g_cancellable_cancel (f->cancellable);
  while (f->tc.reports == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (f->tc.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (gate.running, ==, 1);

  /* The exec comes back later: its result is dropped, not reported. */
  test_gate_open ();
  g_assert_true (test_gate_wait_for (test_gate_finished_is, 1));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_usleep (10 * 1000);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (f->tc.reports, ==, 1);
  g_assert_cmpint (f->tc.value, ==, 0);
}

static void
test_exec_thread_exec_reported (ExecFixture   *f,
                                gconstpointer  data)
{
  /* Not cancelled: the exec's result reaches the run's context, once. */
  test_gate_open ();
  _pft_exec_start (f->node, f->ctx, &f->item, f->cancellable, &f->tc.call);
  while (f->tc.reports == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (f->tc.error);
  g_assert_cmpint (f->tc.value, ==, 42);
  g_assert_false (gate.ran_in_pusher);

  /* Cancelling afterwards reports nothing more. */
  g_cancellable_cancel (f->cancellable);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (f->tc.reports, ==, 1);
}

static void
test_exec_thread_exec_cancelled_before (ExecFixture   *f,
                                        gconstpointer  data)
{
  /* Already cancelled: reported before _pft_exec_start() returns, and the
   * exec never runs. */
  test_gate_open ();
  g_cancellable_cancel (f->cancellable);
  _pft_exec_start (f->node, f->ctx, &f->item, f->cancellable, &f->tc.call);
  g_assert_cmpuint (f->tc.reports, ==, 1);
  g_assert_error (f->tc.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_usleep (10 * 1000);
  g_assert_cmpuint (gate.finished, ==, 0);
  g_assert_cmpint (g_atomic_int_get (&f->b.exec_calls), ==, 0);
}

/* Feeds @n_ticks ticks of @span_us each, @done execs finished and @cpu_us
 * of process CPU per tick, to a pool of @size; returns the tick (1-based)
 * at which the workers were first judged blocked, 0 if never. */
static guint
first_blocked_tick (guint  size,
                    gint64 span_us,
                    guint  done,
                    gint64 cpu_us,
                    guint  n_ticks)
{
  PftExecTick tick = { .at = 0, .cpu = cpu_us < 0 ? -1 : 0, .finished = 0 };

  for (guint i = 1; i <= n_ticks; i++)
    if (_pft_exec_tick_update (&tick, i * span_us, cpu_us < 0 ? -1 : i * cpu_us, i * done, size))
      return i;
  return 0;
}

static void
test_exec_pool_judges_blocked (void)
{
  /* 4 workers sleeping: 4 execs of 10 ms in 10 ms, the process idle.
   * Blocked after PFT_EXEC_BLOCKED_TICKS ticks in a row, not before. */
  g_assert_cmpuint (first_blocked_tick (4, 10000, 4, 100, 10), ==, PFT_EXEC_BLOCKED_TICKS);
  /* An unknown CPU time counts as idle. */
  g_assert_cmpuint (first_blocked_tick (4, 10000, 4, -1, 10), ==, PFT_EXEC_BLOCKED_TICKS);
  /* Stuck: under one exec per PFT_EXEC_STUCK_US a worker, even while the
   * process is busy (valgrind, a busy main thread). */
  g_assert_cmpuint (first_blocked_tick (4, 10000, 4, 10000, 10), ==, PFT_EXEC_BLOCKED_TICKS);
}

static void
test_exec_pool_judges_contended (void)
{
  /* Execs that all need one lock (Python's GIL) finish in microseconds:
   * 2000 in 10 ms for 4 workers, whatever the CPU does: never blocked. */
  g_assert_cmpuint (first_blocked_tick (4, 10000, 2000, 100, 50), ==, 0);
  g_assert_cmpuint (first_blocked_tick (4, 10000, 2000, 20000, 50), ==, 0);
  /* Computing execs of 1 ms: slower than PFT_EXEC_BLOCKED_US but the
   * process keeps a core busy, and not stuck: never blocked. */
  g_assert_cmpuint (first_blocked_tick (4, 10000, 40, 10000, 50), ==, 0);
}

static void
test_exec_pool_judges_streaks (void)
{
  PftExecTick tick = { 0, };
  gint64 now = 0;
  guint finished = 0;

  /* Two slow ticks (a worker starting, a moment without a core), then a
   * fast one: the streak starts over, so a blip never grows the pool. */
  for (guint round = 0; round < 5; round++)
    {
      for (guint i = 0; i < PFT_EXEC_BLOCKED_TICKS - 1; i++)
        {
          now += 10000;
          finished += 1;
          g_assert_false (_pft_exec_tick_update (&tick, now, 0, finished, 4));
        }
      now += 10000;
      finished += 2000;
      g_assert_false (_pft_exec_tick_update (&tick, now, 0, finished, 4));
      g_assert_cmpuint (tick.blocked, ==, 0);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft/exec-pool/judges-blocked", test_exec_pool_judges_blocked);
  g_test_add_func ("/pft/exec-pool/judges-contended", test_exec_pool_judges_contended);
  g_test_add_func ("/pft/exec-pool/judges-streaks", test_exec_pool_judges_streaks);
  g_test_add_func ("/pft/exec-pool/grows-when-blocked", test_exec_pool_grows_when_blocked);
  g_test_add_func ("/pft/exec-pool/runs-every-job", test_exec_pool_runs_every_job);
  g_test_add_func ("/pft/exec-pool/grows-for-blocked-jobs", test_exec_pool_grows_for_blocked_jobs);
  g_test_add_func ("/pft/exec-pool/shutdown-waits-for-jobs", test_exec_pool_shutdown_waits_for_jobs);
  g_test_add ("/pft/exec/thread-exec-reported", ExecFixture, NULL,
              exec_fixture_set_up, test_exec_thread_exec_reported, exec_fixture_tear_down);
  g_test_add ("/pft/exec/thread-exec-cancelled", ExecFixture, NULL,
              exec_fixture_set_up, test_exec_thread_exec_cancelled, exec_fixture_tear_down);
  g_test_add ("/pft/exec/thread-exec-cancelled-before", ExecFixture, NULL,
              exec_fixture_set_up, test_exec_thread_exec_cancelled_before, exec_fixture_tear_down);

  return g_test_run ();
}
