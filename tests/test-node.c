/* test-node.c: PftNode: prep/exec/post, retries, fallback, exec shapes,
 * thread policy, cancellation, run API
 *
 * SPDX-License-Identifier: MIT
 */

#include "test-util.h"

/* ---- helpers ---- */

static void
prep_from_store (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, pft_store_get_int (pft_context_get_store (ctx), "in", -1));
}

static void
exec_double (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, g_value_get_int64 (item) * 2);
}

static char *
post_to_store (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  pft_store_set_value (pft_context_get_store (ctx), "out", exec);
  return g_strdup ("done");
}

static void
test_node_prep_exec_post (void)
{
  TestBehaviour b = { .prep = prep_from_store, .exec = exec_double, .post = post_to_store };
  g_autoptr(PftNode) node = test_node_new (&b);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  g_autofree char *action2 = NULL;

  pft_store_set_int (store, "in", 21);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (action, ==, "done");
  g_assert_cmpint (pft_store_get_int (store, "out", 0), ==, 42);
  g_assert_cmpint (b.exec_calls, ==, 1);

  /* The same through run_async. */
  pft_store_set_int (store, "in", 5);
  action2 = test_run_async (node, store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (action2, ==, "done");
  g_assert_cmpint (pft_store_get_int (store, "out", 0), ==, 10);
}

static void
test_node_default_action (void)
{
  TestBehaviour b = { 0 };
  g_autoptr(PftNode) node = test_node_new (&b);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = pft_node_run (node, store, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (action, ==, PFT_DEFAULT_ACTION);
  g_assert_cmpint (b.exec_calls, ==, 1);
}

/* Fails until attempt data->fail_until, recording the attempt numbers. */
static void
exec_flaky (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  TestBehaviour *b = test_node_get_behaviour (node);
  guint fail_until = GPOINTER_TO_UINT (b->data);
  guint attempt = pft_context_get_attempt (ctx);

  pft_store_add_int (pft_context_get_store (ctx), "attempts", 1);
  pft_store_set_int (pft_context_get_store (ctx), "last-attempt", attempt);
  if (attempt <= fail_until)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "attempt %u failed", attempt);
      return;
    }
  g_value_init (result, G_TYPE_STRING);
  g_value_set_string (result, "ok");
}

static char *
post_exec_string (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  if (G_VALUE_HOLDS_STRING (exec))
    pft_store_set_string (pft_context_get_store (ctx), "result", g_value_get_string (exec));
  return NULL;
}

static void
test_node_retries_with_wait (void)
{
  TestBehaviour b = { .exec = exec_flaky, .post = post_exec_string, .data = GUINT_TO_POINTER (2) };
  g_autoptr(PftNode) node = test_node_new (&b);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  g_autofree char *result = NULL;
  gint64 start;

  pft_node_set_max_retries (node, 3);
  pft_node_set_wait (node, 0.05);
  start = g_get_monotonic_time ();
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  /* Two waits of 50 ms happened: a lower bound only, the machine is noisy. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  g_assert_cmpint (pft_store_get_int (store, "attempts", 0), ==, 3);
  g_assert_cmpint (pft_store_get_int (store, "last-attempt", 0), ==, 3);
  result = pft_store_dup_string (store, "result");
  g_assert_cmpstr (result, ==, "ok");
}

static void
test_node_retries_exhausted (void)
{
  TestBehaviour b = { .exec = exec_flaky, .post = post_exec_string, .data = GUINT_TO_POINTER (10) };
  g_autoptr(PftNode) node = test_node_new (&b);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_node_set_max_retries (node, 3);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "attempt 3 failed");
  g_assert_null (action);
  g_assert_cmpint (pft_store_get_int (store, "attempts", 0), ==, 3);
  /* post never ran */
  g_assert_false (pft_store_contains (store, "result"));
}

static void
test_node_fallback (void)
{
  TestBehaviour b = { .exec = exec_flaky, .post = post_exec_string,
                      .data = GUINT_TO_POINTER (10), .fallback = TRUE };
  g_autoptr(PftNode) node = test_node_new (&b);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  g_autofree char *result = NULL;

  pft_node_set_max_retries (node, 2);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  result = pft_store_dup_string (store, "result");
  g_assert_cmpstr (result, ==, "fallback");
  g_assert_cmpint (pft_store_get_int (store, "attempts", 0), ==, 2);
}

static void
prep_fails (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_set_error_literal (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT, "bad prep");
}

static char *
post_fails (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  g_set_error_literal (error, PFT_ERROR, PFT_ERROR_FAILED, "bad post");
  return NULL;
}

static void
test_node_prep_post_errors (void)
{
  TestBehaviour b1 = { .prep = prep_fails };
  TestBehaviour b2 = { .post = post_fails };
  g_autoptr(PftNode) n1 = test_node_new (&b1);
  g_autoptr(PftNode) n2 = test_node_new (&b2);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;

  g_assert_null (pft_node_run (n1, store, NULL, &e1));
  g_assert_error (e1, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_cmpint (b1.exec_calls, ==, 0);
  g_assert_null (pft_node_run (n2, store, NULL, &e2));
  g_assert_error (e2, PFT_ERROR, PFT_ERROR_FAILED);
  g_assert_cmpint (b2.exec_calls, ==, 1);
}

/* ---- thread policy ---- */

static void
exec_record_thread (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  g_value_init (result, G_TYPE_POINTER);
  g_value_set_pointer (result, g_thread_self ());
}

static char *
post_record_thread (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  TestBehaviour *b = test_node_get_behaviour (node);

  b->data = g_value_get_pointer (exec);
  return NULL;
}

static void
test_node_thread_policy (void)
{
  TestBehaviour b = { .exec = exec_record_thread, .post = post_record_thread };
  g_autoptr(PftNode) node = test_node_new (&b);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *a1 = NULL;
  g_autofree char *a2 = NULL;

  /* AUTO for a C type: a worker thread. */
  g_assert_cmpint (pft_node_get_thread_policy (node), ==, PFT_THREAD_POLICY_AUTO);
  a1 = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (b.data != g_thread_self ());

  pft_node_set_thread_policy (node, PFT_THREAD_POLICY_MAIN_CONTEXT);
  a2 = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (b.data == g_thread_self ());
}

/* A type that looks like one GJS registered: AUTO must keep exec on the
 * main context, and THREAD must be refused with an error rather than a
 * NULL "success" (what GJS would give from another thread). */
static void
test_node_gjs_type_policy (void)
{
  TestBehaviour b = { .exec = exec_record_thread, .post = post_record_thread };
  GQuark gjs_quark = g_quark_from_static_string ("gjs::custom-type");
  g_autoptr(PftNode) node = test_node_new (&b);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *a1 = NULL;
  g_autofree char *a2 = NULL;

  /* Mark the C test type the way GJS 1.74 marks the types it registers. */
  g_type_set_qdata (TEST_TYPE_NODE, gjs_quark, GINT_TO_POINTER (1));

  a1 = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (b.data == g_thread_self ());

  pft_node_set_thread_policy (node, PFT_THREAD_POLICY_THREAD);
  b.data = NULL;
  a2 = pft_node_run (node, store, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_null (a2);
  g_assert_cmpint (b.exec_calls, ==, 1);

  g_type_set_qdata (TEST_TYPE_NODE, gjs_quark, NULL);
}

/* ---- exec_task ---- */

#define TEST_TYPE_TASK_NODE (test_task_node_get_type ())
G_DECLARE_FINAL_TYPE (TestTaskNode, test_task_node, TEST, TASK_NODE, PftNode)

struct _TestTaskNode
{
  PftNode parent_instance;
  int     mode;   /* 0: complete later, 1: throw, 2: complete with error */
  int     calls;
};

G_DEFINE_FINAL_TYPE (TestTaskNode, test_task_node, PFT_TYPE_NODE)

static gboolean
complete_later (gpointer data)
{
  GTask *task = data;
  GValue v = G_VALUE_INIT;

  g_value_init (&v, G_TYPE_STRING);
  g_value_set_string (&v, "from-task");
  g_task_return_value (task, &v);
  g_value_unset (&v);
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

static void
task_node_exec_task (PftNode *node, PftContext *ctx, const GValue *item, GTask *task, GError **error)
{
  TestTaskNode *self = TEST_TASK_NODE (node);

  self->calls++;
  g_assert_true (g_main_context_is_owner (pft_context_get_main_context (ctx)));
  switch (self->mode)
    {
    case 0:
      {
        GSource *s = g_timeout_source_new (5);
        g_source_set_callback (s, complete_later, g_object_ref (task), NULL);
        g_source_attach (s, pft_context_get_main_context (ctx));
        g_source_unref (s);
      }
      break;
    case 1:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "thrown");
      break;
    default:
      pft_task_return_rate_limited (task, 1.5, "test-api", NULL);
      break;
    }
}

static void
test_task_node_class_init (TestTaskNodeClass *klass)
{
  PFT_NODE_CLASS (klass)->exec_task = task_node_exec_task;
  PFT_NODE_CLASS (klass)->post = post_exec_string;
}

static void test_task_node_init (TestTaskNode *self) { }

static void
test_node_exec_task (void)
{
  g_autoptr(TestTaskNode) node = g_object_new (TEST_TYPE_TASK_NODE, NULL);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *a1 = NULL;
  g_autofree char *a2 = NULL;
  g_autofree char *a3 = NULL;
  g_autofree char *result = NULL;

  a1 = pft_node_run (PFT_NODE (node), store, NULL, &error);
  g_assert_no_error (error);
  result = pft_store_dup_string (store, "result");
  g_assert_cmpstr (result, ==, "from-task");

  /* An error thrown by the vfunc fails the attempt even though the task
   * is never completed (a JS exception), and is retried. */
  node->mode = 1;
  node->calls = 0;
  pft_node_set_max_retries (PFT_NODE (node), 2);
  a2 = pft_node_run (PFT_NODE (node), store, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_cmpint (node->calls, ==, 2);
  g_clear_error (&error);

  /* A rate-limit error with its retry-after through the task. */
  node->mode = 2;
  pft_node_set_max_retries (PFT_NODE (node), 1);
  a3 = pft_node_run (PFT_NODE (node), store, NULL, &error);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_RATE_LIMITED);
  g_assert_cmpfloat (pft_error_get_retry_after (error), ==, 1.5);
  g_assert_cmpstr (pft_error_get_source (error), ==, "test-api");
  g_assert_true (pft_error_is_rate_limit (error));
}

/* ---- cancellation ---- */

static void
exec_block_until_cancelled (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  /* A blocking call that ignores cancellation for a long while: the run
   * must still end promptly. */
  TestBehaviour *b = test_node_get_behaviour (node);
  gint64 end = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

  g_atomic_pointer_set (&b->data, GINT_TO_POINTER (1));
  while (g_get_monotonic_time () < end && !g_cancellable_is_cancelled (pft_context_get_cancellable (ctx)))
    g_usleep (1000);
  g_value_init (result, G_TYPE_STRING);
  g_value_set_string (result, "too late");
}

static gpointer
cancel_when_started (gpointer data)
{
  gpointer *args = data;
  TestBehaviour *b = args[0];

  while (g_atomic_pointer_get (&b->data) == NULL)
    g_usleep (1000);
  g_cancellable_cancel (args[1]);
  return NULL;
}

static void
test_node_cancel_in_exec (void)
{
  TestBehaviour b = { .exec = exec_block_until_cancelled, .post = post_exec_string };
  g_autoptr(PftNode) node = test_node_new (&b);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  gpointer args[2] = { &b, cancellable };
  GThread *thread = g_thread_new ("canceller", cancel_when_started, args);
  g_autofree char *action = pft_node_run (node, store, cancellable, &error);

  g_thread_join (thread);
  test_behaviour_wait_idle (&b);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (action);
  g_assert_false (pft_store_contains (store, "result"));
}

static gint release_exec;   /* atomic */

static void
exec_ignore_cancel (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  /* Blocks, deaf to the cancellable, until the test lets it go. */
  TestBehaviour *b = test_node_get_behaviour (node);

  g_atomic_pointer_set (&b->data, GINT_TO_POINTER (1));
  while (!g_atomic_int_get (&release_exec))
    g_usleep (1000);
  g_value_init (result, G_TYPE_STRING);
  g_value_set_string (result, "done");
}

static void
test_node_cancel_deaf_exec_then_reuse (void)
{
  /* The run ends with CANCELLED while its exec is still blocked in the
   * worker (in flight), and the cancellable, once reset, serves another
   * run whose exec runs normally. */
  TestBehaviour b = { .exec = exec_ignore_cancel, .post = post_exec_string };
  g_autoptr(PftNode) node = test_node_new (&b);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  gpointer args[2] = { &b, cancellable };
  GThread *thread = g_thread_new ("canceller", cancel_when_started, args);
  g_autofree char *action = pft_node_run (node, store, cancellable, &error);
  g_autofree char *action2 = NULL;

  g_thread_join (thread);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (action);
  g_assert_cmpint (g_atomic_int_get (&b.in_flight), ==, 1);
  g_atomic_int_set (&release_exec, 1);
  test_behaviour_wait_idle (&b);
  g_assert_false (pft_store_contains (store, "result"));
  g_clear_error (&error);

  g_cancellable_reset (cancellable);
  action2 = pft_node_run (node, store, cancellable, &error);
  g_assert_no_error (error);
  g_assert_cmpint (b.exec_calls, ==, 2);
  g_assert_true (pft_store_contains (store, "result"));
}

typedef struct
{
  PftStore     *store;
  GCancellable *cancellable;
} CancelInWait;

/* Cancels once the first attempt has failed and the 30 s wait began,
 * however slow the machine (valgrind) made that attempt. */
static gpointer
cancel_during_wait (gpointer data)
{
  CancelInWait *c = data;

  while (pft_store_get_int (c->store, "attempts", 0) < 1)
    g_usleep (1000);
  g_usleep (20 * 1000);
  g_cancellable_cancel (c->cancellable);
  return NULL;
}

static void
test_node_cancel_in_wait (void)
{
  TestBehaviour b = { .exec = exec_flaky, .data = GUINT_TO_POINTER (10) };
  g_autoptr(PftNode) node = test_node_new (&b);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  CancelInWait wait_data = { store, cancellable };
  GThread *thread;
  gint64 start;

  /* A 30 s wait between attempts is cut short by the cancellation. */
  pft_node_set_max_retries (node, 5);
  pft_node_set_wait (node, 30);
  start = g_get_monotonic_time ();
  thread = g_thread_new ("canceller", cancel_during_wait, &wait_data);
  action = test_run_async (node, store, cancellable, &error);
  g_thread_join (thread);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (action);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 20 * G_USEC_PER_SEC);
  g_assert_cmpint (pft_store_get_int (store, "attempts", 0), ==, 1);
}

static void
test_node_cancelled_before_start (void)
{
  TestBehaviour b = { .exec = exec_double };
  g_autoptr(PftNode) node = test_node_new (&b);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  g_cancellable_cancel (cancellable);
  action = pft_node_run (node, store, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (b.exec_calls, ==, 0);
}

/* ---- run API ---- */

static gpointer
run_in_thread (gpointer data)
{
  PftNode *node = data;
  g_autoptr(PftStore) store = pft_store_new ();
  GError *error = NULL;
  char *action;

  pft_store_set_int (store, "in", 4);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  g_free (action);
  return GINT_TO_POINTER ((int) pft_store_get_int (store, "out", 0));
}

static void
test_node_run_from_threads (void)
{
  TestBehaviour b = { .prep = prep_from_store, .exec = exec_double, .post = post_to_store };
  g_autoptr(PftNode) node = test_node_new (&b);
  GThread *threads[4];

  /* One node object, four runs at once in four threads: per-run state is
   * in the contexts, nothing is shared but the node. */
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("run", run_in_thread, node);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_assert_cmpint (GPOINTER_TO_INT (g_thread_join (threads[i])), ==, 8);
  g_assert_cmpint (b.exec_calls, ==, 4);
}

static char *
post_runs_inner_sync (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  TestBehaviour *b = test_node_get_behaviour (node);
  PftNode *inner = b->data;
  g_autoptr(PftStore) inner_store = pft_store_new ();
  g_autofree char *action = NULL;

  /* A sync run inside an async one: it iterates its own context. */
  pft_store_set_int (inner_store, "in", 50);
  action = pft_node_run (inner, inner_store, NULL, error);
  if (action == NULL)
    return NULL;
  pft_store_set_int (pft_context_get_store (ctx), "inner-out", pft_store_get_int (inner_store, "out", 0));
  return g_strdup ("outer");
}

static void
test_node_sync_inside_async (void)
{
  TestBehaviour bi = { .prep = prep_from_store, .exec = exec_double, .post = post_to_store };
  g_autoptr(PftNode) inner = test_node_new (&bi);
  TestBehaviour bo = { .post = post_runs_inner_sync, .data = inner };
  g_autoptr(PftNode) outer = test_node_new (&bo);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = test_run_async (outer, store, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (action, ==, "outer");
  g_assert_cmpint (pft_store_get_int (store, "inner-out", 0), ==, 100);
}

static void
test_node_bad_input (void)
{
  TestBehaviour b = { 0 };
  g_autoptr(PftNode) node = test_node_new (&b);

  if (g_test_subprocess ())
    {
      /* NULL store: a programmer error, a critical, no crash. */
      g_assert_null (pft_node_run (node, NULL, NULL, NULL));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*CRITICAL*pft_node_run*PFT_IS_STORE*");
}

static void
test_node_negative_retries (void)
{
  TestBehaviour b = { 0 };
  g_autoptr(PftNode) node = test_node_new (&b);

  g_test_expect_message ("Pft", G_LOG_LEVEL_CRITICAL, "*max_retries >= 1*");
  pft_node_set_max_retries (node, -1);
  g_test_assert_expected_messages ();
  g_assert_cmpint (pft_node_get_max_retries (node), ==, 1);

  g_test_expect_message ("Pft", G_LOG_LEVEL_CRITICAL, "*wait >= 0*");
  pft_node_set_wait (node, -1);
  g_test_assert_expected_messages ();
  g_assert_cmpfloat (pft_node_get_wait (node), ==, 0);
}

static void
test_node_successors (void)
{
  TestBehaviour b = { 0 };
  g_autoptr(PftNode) a = test_node_new (&b);
  g_autoptr(PftNode) n1 = test_node_new (&b);
  g_autoptr(PftNode) n2 = test_node_new (&b);
  g_auto(GStrv) actions = NULL;

  g_assert_true (pft_node_add_successor (a, NULL, n1) == n1);
  g_assert_true (pft_node_add_successor (a, "retry", n2) == n2);
  g_assert_true (pft_node_get_successor (a, NULL) == n1);
  g_assert_true (pft_node_get_successor (a, "default") == n1);
  g_assert_true (pft_node_get_successor (a, "retry") == n2);
  g_assert_null (pft_node_get_successor (a, "other"));
  actions = pft_node_dup_actions (a);
  g_assert_cmpstrv (actions, ((const char *[]) { "default", "retry", NULL }));
  pft_node_set_name (a, "A");
  g_assert_cmpstr (pft_node_get_name (a), ==, "A");
  g_assert_cmpstr (pft_node_get_name (n1), ==, "TestNode");
}

/* A node that overrides nothing but post: no exec to run anywhere. */
#define TEST_TYPE_POST_ONLY (test_post_only_get_type ())
G_DECLARE_FINAL_TYPE (TestPostOnly, test_post_only, TEST, POST_ONLY, PftNode)
struct _TestPostOnly { PftNode parent_instance; };
G_DEFINE_FINAL_TYPE (TestPostOnly, test_post_only, PFT_TYPE_NODE)

static char *
post_only_post (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  /* "none" reaches post as a NULL pointer, the value bindings read as None */
  g_assert_true (G_VALUE_HOLDS_POINTER (prep) && g_value_get_pointer (prep) == NULL);
  g_assert_true (G_VALUE_HOLDS_POINTER (exec) && g_value_get_pointer (exec) == NULL);
  return g_strdup ("posted");
}

static void test_post_only_class_init (TestPostOnlyClass *klass) { PFT_NODE_CLASS (klass)->post = post_only_post; }
static void test_post_only_init (TestPostOnly *self) { }

static void
test_node_without_exec (void)
{
  g_autoptr(PftNode) node = g_object_new (TEST_TYPE_POST_ONLY, NULL);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = pft_node_run (node, store, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (action, ==, "posted");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft/node/prep-exec-post", test_node_prep_exec_post);
  g_test_add_func ("/pft/node/default-action", test_node_default_action);
  g_test_add_func ("/pft/node/retries-with-wait", test_node_retries_with_wait);
  g_test_add_func ("/pft/node/retries-exhausted", test_node_retries_exhausted);
  g_test_add_func ("/pft/node/fallback", test_node_fallback);
  g_test_add_func ("/pft/node/prep-post-errors", test_node_prep_post_errors);
  g_test_add_func ("/pft/node/thread-policy", test_node_thread_policy);
  g_test_add_func ("/pft/node/gjs-type-policy", test_node_gjs_type_policy);
  g_test_add_func ("/pft/node/exec-task", test_node_exec_task);
  g_test_add_func ("/pft/node/cancel-in-exec", test_node_cancel_in_exec);
  g_test_add_func ("/pft/node/cancel-deaf-exec-then-reuse", test_node_cancel_deaf_exec_then_reuse);
  g_test_add_func ("/pft/node/cancel-in-wait", test_node_cancel_in_wait);
  g_test_add_func ("/pft/node/cancelled-before-start", test_node_cancelled_before_start);
  g_test_add_func ("/pft/node/run-from-threads", test_node_run_from_threads);
  g_test_add_func ("/pft/node/sync-inside-async", test_node_sync_inside_async);
  g_test_add_func ("/pft/node/bad-input", test_node_bad_input);
  g_test_add_func ("/pft/node/negative-retries", test_node_negative_retries);
  g_test_add_func ("/pft/node/successors", test_node_successors);
  g_test_add_func ("/pft/node/without-exec", test_node_without_exec);

  return g_test_run ();
}
