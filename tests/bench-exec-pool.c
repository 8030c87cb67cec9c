/* bench-exec-pool.c: how many worker threads the exec pool runs
 *
 * Prints how many synchronous execs ran at once (counted by the execs
 * themselves) when every exec needs one lock for a few microseconds, as
 * Python execs need the GIL (more threads would only contend: the fewer
 * the better), and when every exec sleeps 5 ms (the pool should grow
 * towards max-concurrent).
 *
 * SPDX-License-Identifier: MIT
 */

#include "test-util.h"

static GMutex contended;   /* a GIL of our own */

static void
exec_under_one_lock (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  gint64 until;

  g_mutex_lock (&contended);
  until = g_get_monotonic_time () + 20;
  while (g_get_monotonic_time () < until)
    ;
  g_mutex_unlock (&contended);
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, g_value_get_int64 (item));
}

static void
exec_blocking (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  g_usleep (5000);
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, g_value_get_int64 (item));
}

int
main (void)
{
  /* Contended first: a pool that grew shrinks back only after seconds. */
  g_print ("exec_pool.processors: %u\n", g_get_num_processors ());
  g_print ("exec_pool.contended_peak_threads: %d\n", test_run_int_batch (exec_under_one_lock, 20000, 64));
  g_print ("exec_pool.blocking_peak_threads: %d\n", test_run_int_batch (exec_blocking, 512, 64));
  return 0;
}
