/* test-exec-pool.c: how many worker threads run synchronous execs
 *
 * The pool grows when the workers holding up the queue are blocked (a
 * sleep, I/O), and not when they compute or wait for a lock that one of
 * them holds (as Python execs wait for the GIL): more threads would only
 * contend. Concurrency is counted by the execs themselves.
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
exec_blocking (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  g_usleep (5000);
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, g_value_get_int64 (item));
}

static void
exec_under_one_lock (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  gint64 until;

  /* Every exec needs the same lock for a few microseconds of work. */
  g_mutex_lock (&contended);
  until = g_get_monotonic_time () + 20;
  while (g_get_monotonic_time () < until)
    ;
  g_mutex_unlock (&contended);
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, g_value_get_int64 (item));
}

static guint
pool_base (void)
{
  return CLAMP (g_get_num_processors (), 2, 512);
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
  g_assert_cmpint (g_atomic_int_get (&b.exec_calls), ==, n);
  return g_atomic_int_get (&b.max_in_flight);
}

static void
test_exec_pool_grows_when_blocked (void)
{
  /* Sleeping execs: the pool grows past its base size, so that they
   * overlap as max-concurrent allows. */
  gint peak = run_batch (exec_blocking, 256, 64);

  g_test_message ("base %u, peak %d", pool_base (), peak);
  g_assert_cmpint (peak, >, pool_base ());
  g_assert_cmpint (peak, <=, 64);
}

static void
test_exec_pool_holds_when_contended (void)
{
  /* Execs that finish in microseconds but all need one lock: before the
   * pool looked at progress, the queue's wait made it double up to
   * max-concurrent. A generous bound: a loaded machine may take a core
   * away from the process for a while, which looks blocked. */
  gint peak = run_batch (exec_under_one_lock, 20000, 64);

  g_test_message ("base %u, peak %d", pool_base (), peak);
  g_assert_cmpint (peak, <=, MAX (pool_base () * 4, 8));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  /* Contended first: a pool that grew shrinks back only after seconds. */
  g_test_add_func ("/pft/exec-pool/holds-when-contended", test_exec_pool_holds_when_contended);
  g_test_add_func ("/pft/exec-pool/grows-when-blocked", test_exec_pool_grows_when_blocked);

  return g_test_run ();
}
