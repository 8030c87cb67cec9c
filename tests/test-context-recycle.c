/* test-context-recycle.c: a batch reuses an item context exactly when
 * nobody holds it any more, whoever dropped it and on whatever thread
 *
 * SPDX-License-Identifier: MIT
 */

#include "test-util.h"

/* What the execs of one batch saw. Each exec keeps a reference to its
 * context and drops the one the previous item kept, so that a context is
 * held by user code when its item ends, and freed by user code later. */
typedef struct
{
  GMutex      mutex;
  PftContext *held;        /* the context the last exec kept */
  GPtrArray  *seen;        /* every context an exec got (not owned) */
  gint        finalized;   /* atomic: contexts that died (weak notify) */
  gint        reused;      /* execs that got a context an earlier one had */
  gint        reused_held; /* execs that got a context held meanwhile */
  gboolean    drop_in_thread;
} Recycle;

static Recycle *recycle;

static void
recycle_finalized_cb (gpointer  data,
                      GObject  *where_the_object_was)
{
  Recycle *r = data;

  g_atomic_int_inc (&r->finalized);
}

static gpointer
recycle_unref_thread (gpointer data)
{
  g_object_unref (data);
  return NULL;
}

/* Drops @ctx from a thread of its own, the way a binding's finalizer or
 * a worker of the exec's own would. */
static void
recycle_unref_elsewhere (PftContext *ctx)
{
  GThread *thread = g_thread_new ("drop-context", recycle_unref_thread, ctx);

  g_thread_join (thread);
}

static void
exec_keep_context (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  Recycle *r = recycle;
  PftContext *previous;

  g_assert_cmpint (pft_context_get_index (ctx), ==, g_value_get_int64 (item));
  g_assert_cmpuint (pft_context_get_attempt (ctx), ==, 1);
  /* While the batch runs, a context dropped by everyone goes back to the
   * batch instead of dying. */
  g_assert_cmpint (g_atomic_int_get (&r->finalized), ==, 0);

  g_mutex_lock (&r->mutex);
  /* A context that nobody finalized and an earlier exec had is the same
   * object again (its address cannot have been reused meanwhile). */
  if (g_ptr_array_find (r->seen, ctx, NULL))
    r->reused++;
  else
    {
      g_ptr_array_add (r->seen, ctx);
      g_object_weak_ref (G_OBJECT (ctx), recycle_finalized_cb, r);
    }
  if (ctx == r->held)
    r->reused_held++;
  previous = r->held;
  r->held = g_object_ref (ctx);
  g_mutex_unlock (&r->mutex);

  if (previous != NULL)
    {
      if (r->drop_in_thread)
        recycle_unref_elsewhere (previous);
      else
        g_object_unref (previous);
    }

  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, g_value_get_int64 (item));
}

static void
recycle_run (Recycle         *r,
             PftThreadPolicy  policy,
             gint64           n)
{
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_keep_context };
  g_autoptr(PftNode) node = test_batch_node_new (&b, 1);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  g_mutex_init (&r->mutex);
  r->seen = g_ptr_array_new ();
  recycle = r;
  g_object_set (node, "thread-policy", policy, NULL);
  pft_store_set_int (store, "n", n);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (b.exec_calls, ==, n);
  recycle = NULL;
}

static void
recycle_clear (Recycle *r)
{
  g_ptr_array_unref (r->seen);
  g_mutex_clear (&r->mutex);
}

/* One item at a time: item i gets the context item i-2 kept, which item
 * i-1 dropped, never the one item i-1 still holds. */
static void
test_recycle_held_context (gconstpointer data)
{
  PftThreadPolicy policy = GPOINTER_TO_INT (data);
  Recycle r = { 0 };

  recycle_run (&r, policy, 30);
  g_assert_cmpint (r.reused_held, ==, 0);
  /* Two contexts serve all the items; the free one died with the batch. */
  g_assert_cmpuint (r.seen->len, ==, 2);
  g_assert_cmpint (r.reused, ==, 28);
  g_assert_cmpint (g_atomic_int_get (&r.finalized), ==, 1);
  g_assert_nonnull (r.held);

  /* The batch is over and the node gone: the one still held dies when
   * it is dropped, here from another thread (ASan checks that the pool
   * it would have gone back to is still there). */
  recycle_unref_elsewhere (g_steal_pointer (&r.held));
  g_assert_cmpint (g_atomic_int_get (&r.finalized), ==, 2);
  recycle_clear (&r);
}

/* The same, the exec dropping the context it kept from another thread,
 * while the batch runs. */
static void
test_recycle_dropped_elsewhere (gconstpointer data)
{
  PftThreadPolicy policy = GPOINTER_TO_INT (data);
  Recycle r = { .drop_in_thread = TRUE };

  recycle_run (&r, policy, 30);
  g_assert_cmpint (r.reused_held, ==, 0);
  g_assert_cmpuint (r.seen->len, ==, 2);
  g_assert_cmpint (r.reused, ==, 28);
  g_assert_cmpint (g_atomic_int_get (&r.finalized), ==, 1);
  g_object_unref (g_steal_pointer (&r.held));
  g_assert_cmpint (g_atomic_int_get (&r.finalized), ==, 2);
  recycle_clear (&r);
}

/* Contexts nobody kept: one serves every item of a sequential batch, and
 * it dies with the batch (no context outlives the batch that made it). */
static gint recycle_plain_finalized;

static void
recycle_plain_finalized_cb (gpointer  data,
                            GObject  *where_the_object_was)
{
  g_atomic_int_inc (&recycle_plain_finalized);
}

static void
exec_watch_context (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  GPtrArray *seen = test_node_get_behaviour (node)->data;

  if (!g_ptr_array_find (seen, ctx, NULL))
    {
      g_ptr_array_add (seen, ctx);
      g_object_weak_ref (G_OBJECT (ctx), recycle_plain_finalized_cb, NULL);
    }
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, g_value_get_int64 (item));
}

static void
test_recycle_dies_with_batch (void)
{
  g_autoptr(GPtrArray) seen = g_ptr_array_new ();
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_watch_context, .data = seen };
  g_autoptr(PftNode) node = test_batch_node_new (&b, 1);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  recycle_plain_finalized = 0;
  g_object_set (node, "thread-policy", PFT_THREAD_POLICY_MAIN_CONTEXT, NULL);
  pft_store_set_int (store, "n", 50);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (b.exec_calls, ==, 50);
  g_assert_cmpuint (seen->len, ==, 1);
  g_assert_cmpint (g_atomic_int_get (&recycle_plain_finalized), ==, 1);
}

/* Many items at once in worker threads, each handing its context to a
 * thread of its own that drops it a moment later, racing the batch that
 * reuses it: a context never serves two items at once, every item sees
 * its own index, and every context dies once all are dropped. */
typedef struct
{
  GMutex      mutex;
  GHashTable *in_use;      /* contexts whose exec runs */
  GThreadPool *droppers;
  gint        contexts;    /* atomic: made, seen by a weak reference */
  gint        finalized;   /* atomic */
} Stress;

static Stress *stress;

static void
stress_finalized_cb (gpointer  data,
                     GObject  *where_the_object_was)
{
  g_atomic_int_inc (&((Stress *) data)->finalized);
}

static void
stress_drop (gpointer data,
             gpointer user_data)
{
  g_usleep (g_random_int_range (0, 200));
  g_object_unref (data);
}

static void
exec_hand_context_away (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  Stress *st = stress;

  g_assert_cmpint (pft_context_get_index (ctx), ==, g_value_get_int64 (item));
  g_mutex_lock (&st->mutex);
  g_assert_false (g_hash_table_contains (st->in_use, ctx));
  g_hash_table_add (st->in_use, ctx);
  if (g_object_get_data (G_OBJECT (ctx), "stress-seen") == NULL)
    {
      g_object_set_data (G_OBJECT (ctx), "stress-seen", GINT_TO_POINTER (1));
      g_object_weak_ref (G_OBJECT (ctx), stress_finalized_cb, st);
      g_atomic_int_inc (&st->contexts);
    }
  g_mutex_unlock (&st->mutex);

  g_usleep (g_random_int_range (0, 100));

  g_mutex_lock (&st->mutex);
  g_hash_table_remove (st->in_use, ctx);
  g_mutex_unlock (&st->mutex);
  g_thread_pool_push (st->droppers, g_object_ref (ctx), NULL);

  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, g_value_get_int64 (item));
}

static void
test_recycle_stress (void)
{
  TestBehaviour b = { .prep = test_prep_ints, .exec = exec_hand_context_away };
  g_autoptr(PftNode) node = test_batch_node_new (&b, 4);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  Stress st = { 0 };

  g_mutex_init (&st.mutex);
  st.in_use = g_hash_table_new (NULL, NULL);
  st.droppers = g_thread_pool_new (stress_drop, NULL, 4, FALSE, NULL);
  stress = &st;
  g_object_set (node, "thread-policy", PFT_THREAD_POLICY_THREAD, NULL);
  pft_store_set_int (store, "n", 2000);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (b.exec_calls, ==, 2000);

  /* Contexts dropped during the batch were reused, not one made per item;
   * the rest are dropped after it ended, and then die. */
  g_thread_pool_free (st.droppers, FALSE, TRUE);
  g_test_message ("%d contexts served 2000 items", g_atomic_int_get (&st.contexts));
  g_assert_cmpint (g_atomic_int_get (&st.contexts), <, 2000);
  g_assert_cmpint (g_atomic_int_get (&st.finalized), ==, g_atomic_int_get (&st.contexts));
  stress = NULL;
  g_hash_table_unref (st.in_use);
  g_mutex_clear (&st.mutex);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/pft/context-recycle/held/main-context",
                        GINT_TO_POINTER (PFT_THREAD_POLICY_MAIN_CONTEXT),
                        test_recycle_held_context);
  g_test_add_data_func ("/pft/context-recycle/held/thread",
                        GINT_TO_POINTER (PFT_THREAD_POLICY_THREAD),
                        test_recycle_held_context);
  g_test_add_data_func ("/pft/context-recycle/dropped-elsewhere/main-context",
                        GINT_TO_POINTER (PFT_THREAD_POLICY_MAIN_CONTEXT),
                        test_recycle_dropped_elsewhere);
  g_test_add_data_func ("/pft/context-recycle/dropped-elsewhere/thread",
                        GINT_TO_POINTER (PFT_THREAD_POLICY_THREAD),
                        test_recycle_dropped_elsewhere);
  g_test_add_func ("/pft/context-recycle/dies-with-batch", test_recycle_dies_with_batch);
  g_test_add_func ("/pft/context-recycle/stress", test_recycle_stress);

  return g_test_run ();
}
