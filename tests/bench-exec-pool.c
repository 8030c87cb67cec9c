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
prep_ints (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  gint64 n = pft_store_get_int (pft_context_get_store (ctx), "n", 0);
  PftValues *values = pft_values_new ();

  for (gint64 i = 0; i < n; i++)
    pft_values_append_int (values, i);
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, values);
}

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

static gint
run_batch (TestExecFunc exec,
           gint64       n,
           guint        max_concurrent)
{
  TestBehaviour b = { .prep = prep_ints, .exec = exec };
  g_autoptr(PftNode) node = test_batch_node_new (&b, max_concurrent);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_store_set_int (store, "n", n);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  return g_atomic_int_get (&b.max_in_flight);
}

int
main (void)
{
  /* Contended first: a pool that grew shrinks back only after seconds. */
  g_print ("exec_pool.processors: %u\n", g_get_num_processors ());
  g_print ("exec_pool.contended_peak_threads: %d\n", run_batch (exec_under_one_lock, 20000, 64));
  g_print ("exec_pool.blocking_peak_threads: %d\n", run_batch (exec_blocking, 512, 64));
  return 0;
}
