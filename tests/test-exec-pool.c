/* test-exec-pool.c: how many worker threads run synchronous execs
 *
 * The pool grows when the workers holding up the queue are blocked (a
 * sleep, I/O), and not when they compute or wait for a lock that one of
 * them holds (as Python execs wait for the GIL): more threads would only
 * contend. The watchdog's judgement is tested tick by tick with made-up
 * clocks; end to end, sleeping execs make the pool grow (counted by the
 * execs themselves). How few threads contending execs get is a figure of
 * bench-exec-pool, since a loaded machine can starve the process.
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-node-private.h"
#include "test-util.h"

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
  return CLAMP (g_get_num_processors (), 2, 512);
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

  return g_test_run ();
}
