/* test-util.c: configurable C nodes for the engine's tests
 *
 * SPDX-License-Identifier: MIT
 */

#include "test-util.h"

struct _TestNode
{
  PftNode        parent_instance;
  TestBehaviour *b;
};

struct _TestBatchNode
{
  PftBatchNode   parent_instance;
  TestBehaviour *b;
};

struct _TestAsyncBatchNode
{
  PftBatchNode   parent_instance;
  TestBehaviour *b;
};

G_DEFINE_FINAL_TYPE (TestNode, test_node, PFT_TYPE_NODE)
G_DEFINE_FINAL_TYPE (TestBatchNode, test_batch_node, PFT_TYPE_BATCH_NODE)
G_DEFINE_FINAL_TYPE (TestAsyncBatchNode, test_async_batch_node, PFT_TYPE_BATCH_NODE)

TestBehaviour *
test_node_get_behaviour (PftNode *node)
{
  if (TEST_IS_NODE (node))
    return TEST_NODE (node)->b;
  if (TEST_IS_BATCH_NODE (node))
    return TEST_BATCH_NODE (node)->b;
  return TEST_ASYNC_BATCH_NODE (node)->b;
}

void
test_behaviour_enter (TestBehaviour *b)
{
  int now = g_atomic_int_add (&b->in_flight, 1) + 1;
  int max;

  g_atomic_int_inc (&b->exec_calls);
  do
    max = g_atomic_int_get (&b->max_in_flight);
  while (now > max && !g_atomic_int_compare_and_exchange (&b->max_in_flight, max, now));
}

void
test_behaviour_leave (TestBehaviour *b)
{
  g_atomic_int_add (&b->in_flight, -1);
}

void
test_behaviour_wait_idle (TestBehaviour *b)
{
  while (g_atomic_int_get (&b->in_flight) > 0)
    g_usleep (1000);
}

static void
any_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  TestBehaviour *b = test_node_get_behaviour (node);

  if (b->prep != NULL)
    b->prep (node, ctx, result, error);
}

static void
any_exec (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  TestBehaviour *b = test_node_get_behaviour (node);

  test_behaviour_enter (b);
  if (b->exec != NULL)
    b->exec (node, ctx, item, result, error);
  test_behaviour_leave (b);
}

static char *
any_post (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  TestBehaviour *b = test_node_get_behaviour (node);

  if (b->post != NULL)
    return b->post (node, ctx, prep, exec, error);
  return NULL;
}

static void
any_fallback (PftNode *node, PftContext *ctx, const GValue *item, const GError *reason,
              GValue *result, GError **error)
{
  TestBehaviour *b = test_node_get_behaviour (node);

  if (!b->fallback)
    {
      g_propagate_error (error, g_error_copy (reason));
      return;
    }
  g_value_init (result, G_TYPE_STRING);
  g_value_set_string (result, "fallback");
}

static void
setup_class (PftNodeClass *klass)
{
  klass->prep = any_prep;
  klass->exec = any_exec;
  klass->post = any_post;
  klass->exec_fallback = any_fallback;
}

static void test_node_class_init (TestNodeClass *klass) { setup_class (PFT_NODE_CLASS (klass)); }
static void test_node_init (TestNode *self) { }
static void test_batch_node_class_init (TestBatchNodeClass *klass) { setup_class (PFT_NODE_CLASS (klass)); }
static void test_batch_node_init (TestBatchNode *self) { }

typedef struct
{
  GTask         *task;
  TestBehaviour *b;
  PftContext    *ctx;
  GValue         item;
} AsyncExec;

static gboolean
async_exec_complete (gpointer data)
{
  AsyncExec *ae = data;
  GValue result = G_VALUE_INIT;
  GError *error = NULL;

  if (ae->b->exec != NULL)
    ae->b->exec (PFT_NODE (g_task_get_source_object (ae->task)), ae->ctx, &ae->item, &result, &error);
  test_behaviour_leave (ae->b);
  if (error != NULL)
    g_task_return_error (ae->task, error);
  else
    g_task_return_value (ae->task, G_IS_VALUE (&result) ? &result : NULL);
  if (G_IS_VALUE (&result))
    g_value_unset (&result);
  g_value_unset (&ae->item);
  g_object_unref (ae->ctx);
  g_object_unref (ae->task);
  g_free (ae);
  return G_SOURCE_REMOVE;
}

static void
async_exec_async (PftNode *node, PftContext *ctx, const GValue *item, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
  TestBehaviour *b = TEST_ASYNC_BATCH_NODE (node)->b;
  gint64 delay = G_VALUE_HOLDS_INT64 (item) && b->delay_mod > 0 ? g_value_get_int64 (item) % b->delay_mod : 0;
  AsyncExec *ae;
  GSource *source;

  if (b->return_now_mod > 0 && G_VALUE_HOLDS_INT64 (item) &&
      g_value_get_int64 (item) % b->return_now_mod == 0)
    {
      GValue result = G_VALUE_INIT;
      GError *error = NULL;

      test_behaviour_enter (b);
      if (b->exec != NULL)
        b->exec (node, ctx, item, &result, &error);
      test_behaviour_leave (b);
      if (error != NULL)
        pft_context_return_error (ctx, error);
      else
        pft_context_return_value (ctx, G_IS_VALUE (&result) ? &result : NULL);
      if (G_IS_VALUE (&result))
        g_value_unset (&result);
      return;
    }

  ae = g_new0 (AsyncExec, 1);
  ae->task = g_task_new (node, cancellable, callback, user_data);
  ae->b = b;
  ae->ctx = g_object_ref (ctx);
  g_value_init (&ae->item, G_VALUE_TYPE (item));
  g_value_copy (item, &ae->item);
  test_behaviour_enter (ae->b);

  source = delay > 0 ? g_timeout_source_new (delay) : g_idle_source_new ();
  g_source_set_callback (source, async_exec_complete, ae, NULL);
  g_source_attach (source, pft_context_get_main_context (ctx));
  g_source_unref (source);
}

static void
async_exec_finish (PftNode *node, GAsyncResult *result, GValue *value, GError **error)
{
  g_task_propagate_value (G_TASK (result), value, error);
}

static void
test_async_batch_node_class_init (TestAsyncBatchNodeClass *klass)
{
  PftNodeClass *node_class = PFT_NODE_CLASS (klass);

  setup_class (node_class);
  node_class->exec = NULL;
  node_class->exec_async = async_exec_async;
  node_class->exec_finish = async_exec_finish;
}

static void test_async_batch_node_init (TestAsyncBatchNode *self) { }

PftNode *
test_node_new (TestBehaviour *b)
{
  TestNode *self = g_object_new (TEST_TYPE_NODE, NULL);

  self->b = b;
  return PFT_NODE (self);
}

PftNode *
test_batch_node_new (TestBehaviour *b,
                     guint          max_concurrent)
{
  TestBatchNode *self = g_object_new (TEST_TYPE_BATCH_NODE, "max-concurrent", max_concurrent, NULL);

  self->b = b;
  return PFT_NODE (self);
}

PftNode *
test_async_batch_node_new (TestBehaviour *b,
                           guint          max_concurrent)
{
  TestAsyncBatchNode *self = g_object_new (TEST_TYPE_ASYNC_BATCH_NODE, "max-concurrent", max_concurrent, NULL);

  self->b = b;
  return PFT_NODE (self);
}

static void
run_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

char *
test_run_async (PftNode       *node,
                PftStore      *store,
                GCancellable  *cancellable,
                GError       **error)
{
  GMainContext *context = g_main_context_new ();
  GAsyncResult *result = NULL;
  char *action;

  g_main_context_push_thread_default (context);
  pft_node_run_async (node, store, cancellable, run_cb, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  action = pft_node_run_finish (node, result, error);
  g_object_unref (result);
  /* Let deferred frees (sources already destroyed) run before the context goes. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  return action;
}

void
test_prep_ints (PftNode     *node,
                PftContext  *ctx,
                GValue      *result,
                GError     **error)
{
  gint64 n = pft_store_get_int (pft_context_get_store (ctx), "n", 0);
  PftValues *values = pft_values_new_sized (n);

  for (gint64 i = 0; i < n; i++)
    pft_values_append_int (values, i);
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, values);
}

gint
test_run_int_batch (TestExecFunc exec,
                    gint64       n,
                    guint        max_concurrent)
{
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec };
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
