/* test-batch.c: PftBatchNode and PftBatchFlow: concurrency, order, errors,
 * cancellation, lazy dispatch
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "test-util.h"

static void
exec_square_slowly (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  gint64 i = g_value_get_int64 (item);

  g_assert_cmpint (pft_context_get_index (ctx), ==, i);
  g_usleep (2000);
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, i * i);
}

static void
exec_square (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  gint64 i = g_value_get_int64 (item);

  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, i * i);
}

static char *
post_results (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  g_assert_true (G_VALUE_HOLDS (exec, PFT_TYPE_VALUES));
  pft_store_set_values (pft_context_get_store (ctx), "results", g_value_get_object (exec));
  return g_strdup ("batched");
}

static void
assert_squares (PftStore *store, gint64 n)
{
  g_autoptr(PftValues) results = pft_store_dup_values (store, "results");

  g_assert_nonnull (results);
  g_assert_cmpuint (pft_values_get_length (results), ==, n);
  for (gint64 i = 0; i < n; i++)
    g_assert_cmpint (pft_values_get_int (results, i), ==, i * i);
}

/* Recycling of item contexts: the exec marks its context with qdata
 * under the key below and counts the contexts that came with the mark
 * already (a context recycled from an earlier item). */
static GQuark recycle_mark;
static int    recycle_marked_on_entry;

static void
exec_square_and_mark (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  if (g_object_get_qdata (G_OBJECT (ctx), recycle_mark) != NULL)
    recycle_marked_on_entry++;
  else
    g_object_set_qdata_full (G_OBJECT (ctx), recycle_mark, g_strdup ("mark"), g_free);
  exec_square (node, ctx, item, result, error);
}

static int
run_marking_batch (const char *mark_key)
{
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_square_and_mark, .post = post_results };
  g_autoptr(PftNode) node = test_batch_node_new (&b, 1);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  recycle_mark = g_quark_from_static_string (mark_key);
  recycle_marked_on_entry = 0;
  g_object_set (node, "thread-policy", PFT_THREAD_POLICY_MAIN_CONTEXT, NULL);
  pft_store_set_int (store, "n", 20);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  assert_squares (store, 20);
  return recycle_marked_on_entry;
}

static void
test_batch_recycle_pygobject_context (void)
{
  /* An item context nobody holds serves the next item whatever is
   * attached to it: what PyGObject leaves once its wrapper is gone (so
   * that its free, which takes the GIL, is not paid per item) and user
   * data alike. Per-item data belongs in the store or the item; see
   * PftContext's documentation. */
  g_assert_cmpint (run_marking_batch ("PyGObject::instance-data"), ==, 19);
  g_assert_cmpint (run_marking_batch ("pft-test-user-data"), ==, 19);
}

static void
test_batch_sequential (void)
{
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_square_slowly, .post = post_results };
  g_autoptr(PftNode) node = test_batch_node_new (&b, 1);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_store_set_int (store, "n", 20);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (action, ==, "batched");
  assert_squares (store, 20);
  g_assert_cmpint (b.exec_calls, ==, 20);
  g_assert_cmpint (b.max_in_flight, ==, 1);
}

static void
test_batch_parallel_bounded (void)
{
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_square_slowly, .post = post_results };
  g_autoptr(PftNode) node = test_batch_node_new (&b, 4);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_store_set_int (store, "n", 60);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  assert_squares (store, 60);
  /* Measured inside exec: never above the bound, and the blocking execs
   * did overlap (they run in worker threads). */
  g_assert_cmpint (b.max_in_flight, <=, 4);
  g_assert_cmpint (b.max_in_flight, >=, 2);
}

static void
test_batch_async_order_and_bound (void)
{
  /* Items complete out of order (delays vary with the item); results are
   * in input order, and in-flight never passes the bound. */
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_square, .post = post_results, .delay_mod = 7 };
  g_autoptr(PftNode) node = test_async_batch_node_new (&b, 5);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_store_set_int (store, "n", 200);
  action = test_run_async (node, store, NULL, &error);
  g_assert_no_error (error);
  assert_squares (store, 200);
  g_assert_cmpint (b.max_in_flight, ==, 5);
  g_assert_cmpint (b.exec_calls, ==, 200);
}

static void
test_batch_unbounded (void)
{
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_square, .post = post_results };
  g_autoptr(PftNode) node = test_async_batch_node_new (&b, 0);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_store_set_int (store, "n", 50);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  assert_squares (store, 50);
  /* 0 = no bound: every item was in flight at once. */
  g_assert_cmpint (b.max_in_flight, ==, 50);
}

static void
test_batch_lazy_dispatch (void)
{
  /* 100k items, 3 at a time: items are started only as slots free up, so
   * at no time did more than 3 exist beyond the input and result arrays. */
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_square, .post = post_results };
  g_autoptr(PftNode) node = test_async_batch_node_new (&b, 3);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_store_set_int (store, "n", 100000);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (b.max_in_flight, <=, 3);
  g_assert_cmpint (b.exec_calls, ==, 100000);
  assert_squares (store, 100000);
}

static void
prep_none (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
}

static void
test_batch_empty (void)
{
  TestBehaviour b = { .prep = prep_none, .exec = exec_square, .post = post_results };
  g_autoptr(PftNode) node = test_batch_node_new (&b, 2);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  /* No prep result is an empty batch, as PocketFlow's `prep_res or []`. */
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  assert_squares (store, 0);
  g_assert_cmpint (b.exec_calls, ==, 0);
}

static void
prep_string (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_value_init (result, G_TYPE_STRING);
  g_value_set_string (result, "not a batch");
}

static void
test_batch_bad_prep (void)
{
  TestBehaviour b = { .prep = prep_string, .exec = exec_square };
  g_autoptr(PftNode) node = test_batch_node_new (&b, 2);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  action = pft_node_run (node, store, NULL, &error);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "PftValues"));
  g_assert_nonnull (strstr (error->message, "gchararray"));
  g_assert_cmpint (b.exec_calls, ==, 0);
}

/* Item 5 fails for good; the others take a while and watch cancellation. */
static void
exec_fail_five (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  gint64 i = g_value_get_int64 (item);
  GCancellable *cancellable = pft_context_get_cancellable (ctx);

  if (i == 5)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "item %" G_GINT64_FORMAT " refused", i);
      return;
    }
  for (int t = 0; t < 2000 && !g_cancellable_is_cancelled (cancellable); t++)
    g_usleep (500);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    {
      pft_store_add_int (pft_context_get_store (ctx), "cancelled", 1);
      return;
    }
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, i);
}

static void
test_batch_error_cancels_siblings (void)
{
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_fail_five, .post = post_results };
  g_autoptr(PftNode) node = test_batch_node_new (&b, 4);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_node_set_max_retries (node, 2);
  pft_store_set_int (store, "n", 1000);
  action = pft_node_run (node, store, NULL, &error);
  test_behaviour_wait_idle (&b);
  /* The item's own error, not the cancellations it caused. */
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_cmpstr (error->message, ==, "item 5 refused");
  g_assert_null (action);
  g_assert_false (pft_store_contains (store, "results"));
  /* Items 0-4 may have finished, item 5 had 2 attempts, the siblings in
   * flight were cancelled, and no new item started after the failure. */
  g_assert_cmpint (b.exec_calls, <=, 5 + 2 + 4 + 4);
}

static gpointer
cancel_soon (gpointer data)
{
  g_usleep (30 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_batch_cancel_mid_run (void)
{
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_square_slowly, .post = post_results };
  g_autoptr(PftNode) node = test_batch_node_new (&b, 2);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  GThread *thread;

  pft_store_set_int (store, "n", 100000);
  thread = g_thread_new ("canceller", cancel_soon, cancellable);
  action = pft_node_run (node, store, cancellable, &error);
  g_thread_join (thread);
  test_behaviour_wait_idle (&b);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (action);
  /* At 2 ms an item, 2 at a time, far fewer than all ran. */
  g_assert_cmpint (b.exec_calls, <, 100000);
  g_assert_false (pft_store_contains (store, "results"));
}

/* ---- execs that complete at once (pft_context_return_value) ---- */

typedef struct
{
  GSource *last;
  guint    changes;
} SourceTrace;

/* Counts how often the main-context source an exec runs under changes. */
static void
exec_square_trace_source (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  SourceTrace *trace = test_node_get_behaviour (node)->data;
  GSource *current = g_main_current_source ();

  if (current != trace->last)
    trace->changes++;
  trace->last = current;
  exec_square (node, ctx, item, result, error);
}

static void
test_batch_return_now (void)
{
  /* Every item completes inside exec_async: no GTask and no main-loop
   * iteration per item (the next item starts from the same source
   * dispatch, in bursts), and the results are those of the execs. */
  SourceTrace trace = { NULL, 0 };
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_square_trace_source, .post = post_results,
                      .return_now_mod = 1, .data = &trace };
  g_autoptr(PftNode) node = test_async_batch_node_new (&b, 3);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_store_set_int (store, "n", 5000);
  action = test_run_async (node, store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (action, ==, "batched");
  assert_squares (store, 5000);
  g_assert_cmpint (b.exec_calls, ==, 5000);
  /* One dispatch a burst of 256, not one per item. */
  g_assert_cmpuint (trace.changes, <=, 5000 / 256 + 2);
}

static void
test_batch_return_now_mixed (void)
{
  /* Every third item completes at once, the others later and out of
   * order: results in input order, the bound held. */
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_square, .post = post_results,
                      .delay_mod = 5, .return_now_mod = 3 };
  g_autoptr(PftNode) node = test_async_batch_node_new (&b, 4);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_store_set_int (store, "n", 300);
  action = test_run_async (node, store, NULL, &error);
  g_assert_no_error (error);
  assert_squares (store, 300);
  g_assert_cmpint (b.exec_calls, ==, 300);
  g_assert_cmpint (b.max_in_flight, <=, 4);
  g_assert_cmpint (b.max_in_flight, >=, 2);
}

static void
exec_fail_first_attempt (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  if (pft_context_get_attempt (ctx) == 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "attempt 1 of item %" G_GINT64_FORMAT " fails",
                   g_value_get_int64 (item));
      return;
    }
  exec_square (node, ctx, item, result, error);
}

static void
exec_always_fail (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "always");
}

static void
test_batch_return_now_errors (void)
{
  /* pft_context_return_error() fails the attempt like any failure: it is
   * retried, and once out of attempts the fallback decides. */
  TestBehaviour retried = { .prep = test_prep_ints, .exec = exec_fail_first_attempt, .post = post_results,
                            .return_now_mod = 1 };
  TestBehaviour fallback = { .prep = test_prep_ints, .exec = exec_always_fail, .post = post_results,
                             .return_now_mod = 1, .fallback = TRUE };
  g_autoptr(PftNode) node = test_async_batch_node_new (&retried, 2);
  g_autoptr(PftNode) node2 = test_async_batch_node_new (&fallback, 2);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) results = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  g_autofree char *action2 = NULL;

  pft_node_set_max_retries (node, 2);
  pft_store_set_int (store, "n", 100);
  action = test_run_async (node, store, NULL, &error);
  g_assert_no_error (error);
  assert_squares (store, 100);
  g_assert_cmpint (retried.exec_calls, ==, 200);

  pft_node_set_max_retries (node2, 3);
  action2 = test_run_async (node2, store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fallback.exec_calls, ==, 300);
  results = pft_store_dup_values (store, "results");
  g_assert_cmpuint (pft_values_get_length (results), ==, 100);
  g_assert_cmpstr (pft_values_get_string (results, 99), ==, "fallback");
}

typedef struct
{
  TestBehaviour *b;
  GCancellable  *cancellable;
  gint           calls_seen;    /* exec_calls when the idle ran, -1 before */
} Interloper;

static gboolean
interloper_cb (gpointer data)
{
  Interloper *il = data;

  il->calls_seen = g_atomic_int_get (&il->b->exec_calls);
  if (il->cancellable != NULL)
    g_cancellable_cancel (il->cancellable);
  return G_SOURCE_REMOVE;
}

/* The exec of item 0 puts an idle on the run's context. */
static void
exec_square_and_interlope (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  if (g_value_get_int64 (item) == 0)
    {
      GSource *source = g_idle_source_new ();

      /* The priority of timers and of GTask's callbacks. */
      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, interloper_cb, test_node_get_behaviour (node)->data, NULL);
      g_source_attach (source, pft_context_get_main_context (ctx));
      g_source_unref (source);
    }
  exec_square (node, ctx, item, result, error);
}

static void
test_batch_return_now_yields (void)
{
  /* A batch of items that all complete at once still lets other sources
   * of the context run while it goes: the dispatcher yields. Without
   * that, the idle would run only after the last of the 20000 items. */
  Interloper il = { NULL, NULL, -1 };
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_square_and_interlope, .post = post_results,
                      .return_now_mod = 1, .data = &il };
  g_autoptr(PftNode) node = test_async_batch_node_new (&b, 0);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  il.b = &b;
  pft_store_set_int (store, "n", 20000);
  action = test_run_async (node, store, NULL, &error);
  g_assert_no_error (error);
  assert_squares (store, 20000);
  g_assert_cmpint (il.calls_seen, >, 0);
  g_assert_cmpint (il.calls_seen, <, 20000);
}

static void
test_batch_return_now_cancel (void)
{
  /* Execs that ignore the cancellable and complete at once: cancelling
   * (from another source of the context) still stops the batch. */
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Interloper il = { NULL, cancellable, -1 };
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_square_and_interlope, .post = post_results,
                      .return_now_mod = 1, .data = &il };
  g_autoptr(PftNode) node = test_async_batch_node_new (&b, 1);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  il.b = &b;
  pft_store_set_int (store, "n", 100000);
  action = test_run_async (node, store, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (action);
  g_assert_cmpint (il.calls_seen, >, 0);
  g_assert_cmpint (b.exec_calls, <, 100000);
  g_assert_false (pft_store_contains (store, "results"));
}

typedef struct
{
  GAsyncResult *result;
  gboolean      in_call;      /* inside pft_node_exec_async() */
  gboolean      called_back_inside;
} DirectCall;

static void
direct_call_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DirectCall *dc = user_data;

  dc->called_back_inside = dc->in_call;
  dc->result = g_object_ref (result);
}

/* Calls the exec_async of another node (stored in the behaviour's data)
 * through the public pft_node_exec_async(), and waits for it. */
static void
exec_through_public_api (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  PftNode *inner = test_node_get_behaviour (node)->data;
  DirectCall dc = { NULL, TRUE, FALSE };

  pft_node_exec_async (inner, ctx, item, NULL, direct_call_cb, &dc);
  dc.in_call = FALSE;
  while (dc.result == NULL)
    g_main_context_iteration (pft_context_get_main_context (ctx), TRUE);
  g_assert_false (dc.called_back_inside);
  pft_node_exec_finish (inner, dc.result, result, error);
  g_object_unref (dc.result);
}

static void
test_batch_return_now_public_api (void)
{
  /* A result handed over at once reaches the caller of the public
   * pft_node_exec_async() through its callback, never from inside the
   * call, and pft_node_exec_finish() reads it (errors too). */
  TestBehaviour ib = { .exec = exec_fail_first_attempt, .return_now_mod = 1 };
  g_autoptr(PftNode) inner = test_async_batch_node_new (&ib, 1);
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_through_public_api, .post = post_results,
                      .data = inner };
  g_autoptr(PftNode) node = test_batch_node_new (&b, 1);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_node_set_thread_policy (node, PFT_THREAD_POLICY_MAIN_CONTEXT);
  pft_node_set_max_retries (node, 2);
  pft_store_set_int (store, "n", 10);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  assert_squares (store, 10);
  /* Attempt 1 of every item failed in the inner exec, attempt 2 passed. */
  g_assert_cmpint (ib.exec_calls, ==, 20);
}

static void
exec_return_in_sync_exec (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  GValue v = G_VALUE_INIT;

  g_value_init (&v, G_TYPE_INT64);
  /* Not inside exec_async: refused. */
  pft_context_return_value (ctx, &v);
  pft_context_return_error (ctx, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "x"));
  exec_square (node, ctx, item, result, error);
}

static void
test_batch_return_outside_exec_async (void)
{
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_return_in_sync_exec, .post = post_results };
  g_autoptr(PftNode) node = test_batch_node_new (&b, 1);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_node_set_thread_policy (node, PFT_THREAD_POLICY_MAIN_CONTEXT);
  pft_store_set_int (store, "n", 1);
  g_test_expect_message ("Pft", G_LOG_LEVEL_CRITICAL, "*pft_context_return_value*assertion*failed*");
  g_test_expect_message ("Pft", G_LOG_LEVEL_CRITICAL, "*pft_context_return_error*assertion*failed*");
  action = pft_node_run (node, store, NULL, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  assert_squares (store, 1);
}


/* ---- an exec_async that completes an attempt twice ---- */

#define TEST_TYPE_TWICE_NODE (test_twice_node_get_type ())
G_DECLARE_FINAL_TYPE (TestTwiceNode, test_twice_node, TEST, TWICE_NODE, PftBatchNode)

struct _TestTwiceNode
{
  PftBatchNode parent_instance;
};

G_DEFINE_FINAL_TYPE (TestTwiceNode, test_twice_node, PFT_TYPE_BATCH_NODE)

static void
twice_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_autoptr(PftValues) items = pft_values_new ();

  for (gint64 i = 1; i <= 4; i++)
    pft_values_append_int (items, i);
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_set_object (result, items);
}

static gboolean
twice_return_later (gpointer data)
{
  GTask *task = data;
  GValue v = G_VALUE_INIT;

  g_value_init (&v, G_TYPE_INT64);
  g_value_set_int64 (&v, GPOINTER_TO_INT (g_task_get_task_data (task)) + 2000);
  g_task_return_value (task, &v);
  return G_SOURCE_REMOVE;
}

/* Item 1 completes at once and through its callback later; item 3 at
 * once and through its callback from inside exec_async; items 2 and 4
 * only through their callback, after a main-loop wait (during which the
 * stray callback of item 1 comes). */
static void
twice_exec_async (PftNode *node, PftContext *ctx, const GValue *item, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
  gint64 i = g_value_get_int64 (item);
  GTask *task;
  GValue v = G_VALUE_INIT;

  g_value_init (&v, G_TYPE_INT64);
  if (i == 2 || i == 4)
    {
      GSource *source = g_timeout_source_new (20);

      task = g_task_new (node, cancellable, callback, user_data);
      g_task_set_task_data (task, GINT_TO_POINTER ((gint) i), NULL);
      g_source_set_callback (source, twice_return_later, task, g_object_unref);
      g_source_attach (source, g_main_context_get_thread_default ());
      g_source_unref (source);
      return;
    }

  g_value_set_int64 (&v, i + 1000);
  pft_context_return_value (ctx, &v);
  if (i == 1)
    {
      task = g_task_new (node, cancellable, callback, user_data);
      g_task_set_task_data (task, GINT_TO_POINTER ((gint) i), NULL);
      twice_return_later (task);
      g_object_unref (task);
    }
  else
    {
      task = g_task_new (node, cancellable, NULL, NULL);
      g_task_set_task_data (task, GINT_TO_POINTER ((gint) i), NULL);
      twice_return_later (task);
      callback (G_OBJECT (node), G_ASYNC_RESULT (task), user_data);
      g_object_unref (task);
    }
}

static void
twice_exec_finish (PftNode *node, GAsyncResult *result, GValue *value, GError **error)
{
  g_task_propagate_value (G_TASK (result), value, error);
}

static void
test_twice_node_class_init (TestTwiceNodeClass *klass)
{
  PftNodeClass *node_class = PFT_NODE_CLASS (klass);

  node_class->prep = twice_prep;
  node_class->exec_async = twice_exec_async;
  node_class->exec_finish = twice_exec_finish;
  node_class->post = post_results;
}

static void
test_twice_node_init (TestTwiceNode *self)
{
}

static void
test_batch_return_now_twice (void)
{
  g_autoptr(PftNode) node = g_object_new (TEST_TYPE_TWICE_NODE, NULL);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  g_autoptr(PftValues) results = NULL;
  const gint64 expected[] = { 1001, 2002, 2003, 2004 };

  /* A double completion is a critical; the first completion counts. */
  g_test_expect_message ("Pft", G_LOG_LEVEL_CRITICAL, "*TestTwiceNode*completed an attempt twice*");
  g_test_expect_message ("Pft", G_LOG_LEVEL_CRITICAL, "*TestTwiceNode*completed an attempt twice*");
  action = pft_node_run (node, store, NULL, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);

  results = pft_store_dup_values (store, "results");
  g_assert_cmpuint (pft_values_get_length (results), ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpint (pft_values_get_int (results, i), ==, expected[i]);
}

/* ---- batch flow ---- */

#define TEST_TYPE_SETS_FLOW (test_sets_flow_get_type ())
G_DECLARE_FINAL_TYPE (TestSetsFlow, test_sets_flow, TEST, SETS_FLOW, PftBatchFlow)

struct _TestSetsFlow
{
  PftBatchFlow parent_instance;
  gboolean     bad;
};

G_DEFINE_FINAL_TYPE (TestSetsFlow, test_sets_flow, PFT_TYPE_BATCH_FLOW)

static void
sets_flow_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  gint64 n = pft_store_get_int (pft_context_get_store (ctx), "n", 0);
  PftValues *sets = pft_values_new ();

  for (gint64 i = 0; i < n; i++)
    {
      g_autofree char *file = g_strdup_printf ("f%" G_GINT64_FORMAT, i);
      pft_values_append_variant (sets, g_variant_new_parsed ("{'file': <%s>, 'i': <%x>}", file, i));
    }
  if (TEST_SETS_FLOW (node)->bad)
    pft_values_append_string (sets, "not a set");
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, sets);
}

static char *
sets_flow_post (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  pft_store_set_values (pft_context_get_store (ctx), "flow-results", g_value_get_object (exec));
  return NULL;
}

static void
test_sets_flow_class_init (TestSetsFlowClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = sets_flow_prep;
  PFT_NODE_CLASS (klass)->post = sets_flow_post;
}

static void test_sets_flow_init (TestSetsFlow *self) { }

/* A node of the sub-flow: records which file it saw under "seen.<i>". */
static char *
post_seen (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  g_autofree char *file = pft_context_dup_param_string (ctx, "file");
  g_autofree char *who = pft_context_dup_param_string (ctx, "who");
  g_autofree char *key = g_strdup_printf ("seen.%" G_GINT64_FORMAT, pft_context_get_param_int (ctx, "i", -1));
  g_autofree char *val = g_strdup_printf ("%s:%s", file, who);

  pft_store_set_string (pft_context_get_store (ctx), key, val);
  pft_store_add_int (pft_context_get_store (ctx), "walks", 1);
  return g_strdup ("walked");
}

static void
exec_sleep_a_bit (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  g_usleep (3000);
}

static void
run_sets_flow (guint max_concurrent, gint *max_in_flight)
{
  TestBehaviour b = { .exec = exec_sleep_a_bit, .post = post_seen };
  g_autoptr(PftNode) leaf = test_node_new (&b);
  g_autoptr(TestSetsFlow) flow = g_object_new (TEST_TYPE_SETS_FLOW, "start", leaf,
                                              "max-concurrent", max_concurrent, NULL);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PftValues) results = NULL;
  g_autofree char *action = NULL;

  pft_node_set_params (PFT_NODE (flow), g_variant_new_parsed ("{'who': <'flow'>, 'file': <'overridden'>}"));
  pft_store_set_int (store, "n", 12);
  action = pft_node_run (PFT_NODE (flow), store, NULL, &error);
  g_assert_no_error (error);
  /* A batch flow's results never become an action. */
  g_assert_cmpstr (action, ==, PFT_DEFAULT_ACTION);
  g_assert_cmpint (pft_store_get_int (store, "walks", 0), ==, 12);
  for (int i = 0; i < 12; i++)
    {
      g_autofree char *key = g_strdup_printf ("seen.%d", i);
      g_autofree char *want = g_strdup_printf ("f%d:flow", i);
      g_autofree char *got = pft_store_dup_string (store, key);
      g_assert_cmpstr (got, ==, want);
    }
  results = pft_store_dup_values (store, "flow-results");
  g_assert_cmpuint (pft_values_get_length (results), ==, 12);
  g_assert_cmpstr (pft_values_get_string (results, 11), ==, "walked");
  *max_in_flight = b.max_in_flight;
}

static void
test_batch_flow_sequential_and_parallel (void)
{
  gint seq = 0, par = 0;

  run_sets_flow (1, &seq);
  g_assert_cmpint (seq, ==, 1);
  run_sets_flow (3, &par);
  g_assert_cmpint (par, <=, 3);
  g_assert_cmpint (par, >=, 2);
}

static void
test_batch_flow_bad_set (void)
{
  TestBehaviour b = { .post = post_seen };
  g_autoptr(PftNode) leaf = test_node_new (&b);
  g_autoptr(TestSetsFlow) flow = g_object_new (TEST_TYPE_SETS_FLOW, "start", leaf, NULL);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  flow->bad = TRUE;
  pft_store_set_int (store, "n", 3);
  action = pft_node_run (PFT_NODE (flow), store, NULL, &error);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "param set 3"));
  /* Checked before the first walk. */
  g_assert_cmpint (pft_store_get_int (store, "walks", 0), ==, 0);
}

static void
test_batch_flow_nested_routes (void)
{
  /* A batch flow nested in a flow: the outer flow follows "default", not
   * the batch's results (pocketflow-throttled's defect 8, see
   * docs/throttling.md). */
  TestBehaviour b = { .post = post_seen };
  TestBehaviour after_b = { 0 };
  g_autoptr(PftNode) leaf = test_node_new (&b);
  g_autoptr(PftNode) after = test_node_new (&after_b);
  g_autoptr(TestSetsFlow) batch = g_object_new (TEST_TYPE_SETS_FLOW, "start", leaf, "max-concurrent", 2, NULL);
  g_autoptr(PftFlow) outer = pft_flow_new (PFT_NODE (batch));
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_node_add_successor (PFT_NODE (batch), NULL, after);
  pft_store_set_int (store, "n", 4);
  action = pft_node_run (PFT_NODE (outer), store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (after_b.exec_calls, ==, 1);
  g_assert_cmpint (pft_store_get_int (store, "walks", 0), ==, 4);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft/batch/sequential", test_batch_sequential);
  g_test_add_func ("/pft/batch/parallel-bounded", test_batch_parallel_bounded);
  g_test_add_func ("/pft/batch/async-order-and-bound", test_batch_async_order_and_bound);
  g_test_add_func ("/pft/batch/unbounded", test_batch_unbounded);
  g_test_add_func ("/pft/batch/lazy-dispatch", test_batch_lazy_dispatch);
  g_test_add_func ("/pft/batch/empty", test_batch_empty);
  g_test_add_func ("/pft/batch/bad-prep", test_batch_bad_prep);
  g_test_add_func ("/pft/batch/error-cancels-siblings", test_batch_error_cancels_siblings);
  g_test_add_func ("/pft/batch/cancel-mid-run", test_batch_cancel_mid_run);
  g_test_add_func ("/pft/batch/return-now", test_batch_return_now);
  g_test_add_func ("/pft/batch/return-now-mixed", test_batch_return_now_mixed);
  g_test_add_func ("/pft/batch/return-now-errors", test_batch_return_now_errors);
  g_test_add_func ("/pft/batch/return-now-yields", test_batch_return_now_yields);
  g_test_add_func ("/pft/batch/return-now-cancel", test_batch_return_now_cancel);
  g_test_add_func ("/pft/batch/return-outside-exec-async", test_batch_return_outside_exec_async);
  g_test_add_func ("/pft/batch/return-now-public-api", test_batch_return_now_public_api);
  g_test_add_func ("/pft/batch/return-now-twice", test_batch_return_now_twice);
  g_test_add_func ("/pft/batch/recycle-pygobject-context", test_batch_recycle_pygobject_context);
  g_test_add_func ("/pft/batch-flow/sequential-and-parallel", test_batch_flow_sequential_and_parallel);
  g_test_add_func ("/pft/batch-flow/bad-set", test_batch_flow_bad_set);
  g_test_add_func ("/pft/batch-flow/nested-routes", test_batch_flow_nested_routes);

  return g_test_run ();
}
