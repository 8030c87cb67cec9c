/* test-main-context-batch.c: items handed to a GMainContext arrive there,
 * in order, one source dispatch per burst; dropped if the context goes
 * away first
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-main-context-batch-private.h"

typedef struct
{
  PftMainContextBatchItem link;
  guint                   id;
  GMainContext           *expected;  /* where it must be delivered */
  GArray                 *delivered; /* of ids */
  GArray                 *dropped;
  gboolean                on_owner;  /* delivered in @expected's owner */
} TestItem;

static PftMainContextBatchItem *requeue_item;
static GMainContext *requeue_context;

static void test_deliver (PftMainContextBatchItem *item);
static void test_drop (PftMainContextBatchItem *item);

static PftMainContextBatch test_batch =
  PFT_MAIN_CONTEXT_BATCH_INIT ("[pft] test batch", G_PRIORITY_DEFAULT,
                               test_deliver, test_drop);

static void
test_deliver (PftMainContextBatchItem *item)
{
  TestItem *ti = PFT_MAIN_CONTEXT_BATCH_ITEM_CONTAINER (item, TestItem, link);

  ti->on_owner = g_main_context_is_owner (ti->expected);
  g_array_append_val (ti->delivered, ti->id);
  /* An item added while a batch is delivered goes to the next one. */
  if (requeue_item != NULL)
    {
      PftMainContextBatchItem *again = g_steal_pointer (&requeue_item);
      _pft_main_context_batch_add (&test_batch, requeue_context, again);
    }
}

static void
test_drop (PftMainContextBatchItem *item)
{
  TestItem *ti = PFT_MAIN_CONTEXT_BATCH_ITEM_CONTAINER (item, TestItem, link);

  g_array_append_val (ti->dropped, ti->id);
}

static TestItem *
test_items_new (guint         n,
                GMainContext *context,
                GArray       *delivered,
                GArray       *dropped)
{
  TestItem *items = g_new0 (TestItem, n);

  for (guint i = 0; i < n; i++)
    {
      items[i].id = i;
      items[i].expected = context;
      items[i].delivered = delivered;
      items[i].dropped = dropped;
    }
  return items;
}

static guint
iterate_until_idle (GMainContext *context)
{
  guint dispatches = 0;

  while (g_main_context_iteration (context, FALSE))
    dispatches++;
  return dispatches;
}

static void
test_batch_one_dispatch_in_order (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GArray) delivered = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) dropped = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree TestItem *items = test_items_new (100, context, delivered, dropped);

  for (guint i = 0; i < 100; i++)
    _pft_main_context_batch_add (&test_batch, context, &items[i].link);
  g_assert_cmpuint (delivered->len, ==, 0);

  /* One iteration delivers all of them: one source, not one per item. */
  g_assert_true (g_main_context_iteration (context, FALSE));
  g_assert_cmpuint (delivered->len, ==, 100);
  for (guint i = 0; i < 100; i++)
    g_assert_cmpuint (g_array_index (delivered, guint, i), ==, i);
  g_assert_cmpuint (iterate_until_idle (context), ==, 0);
  g_assert_cmpuint (dropped->len, ==, 0);
}

static void
test_batch_per_context (void)
{
  g_autoptr(GMainContext) a = g_main_context_new ();
  g_autoptr(GMainContext) b = g_main_context_new ();
  g_autoptr(GArray) got_a = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) got_b = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) dropped = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree TestItem *items_a = test_items_new (3, a, got_a, dropped);
  g_autofree TestItem *items_b = test_items_new (2, b, got_b, dropped);

  /* Interleaved: each context gets its own items and only those. */
  _pft_main_context_batch_add (&test_batch, a, &items_a[0].link);
  _pft_main_context_batch_add (&test_batch, b, &items_b[0].link);
  _pft_main_context_batch_add (&test_batch, a, &items_a[1].link);
  _pft_main_context_batch_add (&test_batch, b, &items_b[1].link);
  _pft_main_context_batch_add (&test_batch, a, &items_a[2].link);

  g_assert_cmpuint (iterate_until_idle (b), ==, 1);
  g_assert_cmpuint (got_a->len, ==, 0);
  g_assert_cmpuint (got_b->len, ==, 2);
  g_assert_cmpuint (iterate_until_idle (a), ==, 1);
  g_assert_cmpuint (got_a->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (g_array_index (got_a, guint, i), ==, i);
  g_assert_cmpuint (dropped->len, ==, 0);
}

static void
test_batch_added_during_delivery (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GArray) delivered = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) dropped = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree TestItem *items = test_items_new (3, context, delivered, dropped);

  _pft_main_context_batch_add (&test_batch, context, &items[0].link);
  _pft_main_context_batch_add (&test_batch, context, &items[1].link);
  requeue_item = &items[2].link;
  requeue_context = context;

  /* The source being delivered is closed: the item added from inside it
   * opens a second one, delivered by the next iteration. */
  g_assert_true (g_main_context_iteration (context, FALSE));
  g_assert_cmpuint (delivered->len, ==, 2);
  g_assert_true (g_main_context_iteration (context, FALSE));
  g_assert_cmpuint (delivered->len, ==, 3);
  g_assert_cmpuint (g_array_index (delivered, guint, 2), ==, 2);
  g_assert_null (requeue_item);
}

static void
test_batch_dropped_with_context (void)
{
  GMainContext *context = g_main_context_new ();
  g_autoptr(GArray) delivered = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) dropped = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree TestItem *items = test_items_new (4, context, delivered, dropped);
  g_autoptr(GMainContext) other = g_main_context_new ();
  g_autofree TestItem *later = test_items_new (1, other, delivered, dropped);

  for (guint i = 0; i < 4; i++)
    _pft_main_context_batch_add (&test_batch, context, &items[i].link);
  /* The context goes away before its source ran: every item is dropped,
   * none delivered. */
  g_main_context_unref (context);
  g_assert_cmpuint (delivered->len, ==, 0);
  g_assert_cmpuint (dropped->len, ==, 4);

  /* Nothing of it stays registered: another context works as before
   * (even one allocated at the same address). */
  _pft_main_context_batch_add (&test_batch, other, &later[0].link);
  g_assert_cmpuint (iterate_until_idle (other), ==, 1);
  g_assert_cmpuint (delivered->len, ==, 1);
}

typedef struct
{
  GMainContext *context;
  GMainLoop    *loop;
  GMutex        lock;
  GCond         cond;
  gboolean      running;
} OwnerThread;

static gboolean
owner_thread_started (gpointer data)
{
  OwnerThread *ot = data;

  g_mutex_lock (&ot->lock);
  ot->running = TRUE;
  g_cond_signal (&ot->cond);
  g_mutex_unlock (&ot->lock);
  return G_SOURCE_REMOVE;
}

static gpointer
owner_thread_run (gpointer data)
{
  OwnerThread *ot = data;

  g_main_context_push_thread_default (ot->context);
  {
    GSource *idle = g_idle_source_new ();
    g_source_set_callback (idle, owner_thread_started, ot, NULL);
    g_source_attach (idle, ot->context);
    g_source_unref (idle);
  }
  g_main_loop_run (ot->loop);
  g_main_context_pop_thread_default (ot->context);
  return NULL;
}

typedef struct
{
  TestItem *items;
  guint     first;
  guint     n;
} AddJob;

static gpointer
add_thread_run (gpointer data)
{
  AddJob *job = data;

  for (guint i = job->first; i < job->first + job->n; i++)
    _pft_main_context_batch_add (&test_batch, job->items[i].expected, &job->items[i].link);
  return NULL;
}

static gboolean
quit_idle (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
test_batch_threads (void)
{
  OwnerThread ot = { 0 };
  g_autoptr(GArray) delivered = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) dropped = g_array_new (FALSE, FALSE, sizeof (guint));
  GThread *owner;
  GThread *adders[4];
  AddJob jobs[4];
  TestItem *items;
  GSource *quit;

  ot.context = g_main_context_new ();
  ot.loop = g_main_loop_new (ot.context, FALSE);
  g_mutex_init (&ot.lock);
  g_cond_init (&ot.cond);
  items = test_items_new (4000, ot.context, delivered, dropped);

  owner = g_thread_new ("owner", owner_thread_run, &ot);
  g_mutex_lock (&ot.lock);
  while (!ot.running)
    g_cond_wait (&ot.cond, &ot.lock);
  g_mutex_unlock (&ot.lock);

  /* Four threads add while the owner delivers: every item arrives once,
   * in the owner's thread, and each thread's items in its order. */
  for (guint t = 0; t < 4; t++)
    {
      jobs[t] = (AddJob) { items, t * 1000, 1000 };
      adders[t] = g_thread_new ("adder", add_thread_run, &jobs[t]);
    }
  for (guint t = 0; t < 4; t++)
    g_thread_join (adders[t]);

  /* Lower priority than the batches: runs once they are all delivered. */
  quit = g_idle_source_new ();
  g_source_set_priority (quit, G_PRIORITY_LOW);
  g_source_set_callback (quit, quit_idle, ot.loop, NULL);
  g_source_attach (quit, ot.context);
  g_source_unref (quit);
  g_thread_join (owner);

  g_assert_cmpuint (delivered->len, ==, 4000);
  g_assert_cmpuint (dropped->len, ==, 0);
  for (guint t = 0; t < 4; t++)
    {
      gint64 last = -1;

      for (guint i = 0; i < delivered->len; i++)
        {
          guint id = g_array_index (delivered, guint, i);

          if (id / 1000 == t)
            {
              g_assert_cmpint ((gint64) id, >, last);
              last = id;
            }
        }
    }
  for (guint i = 0; i < 4000; i++)
    g_assert_true (items[i].on_owner);

  g_free (items);
  g_main_loop_unref (ot.loop);
  g_main_context_unref (ot.context);
  g_mutex_clear (&ot.lock);
  g_cond_clear (&ot.cond);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/main-context-batch/one-dispatch-in-order", test_batch_one_dispatch_in_order);
  g_test_add_func ("/main-context-batch/per-context", test_batch_per_context);
  g_test_add_func ("/main-context-batch/added-during-delivery", test_batch_added_during_delivery);
  g_test_add_func ("/main-context-batch/dropped-with-context", test_batch_dropped_with_context);
  g_test_add_func ("/main-context-batch/threads", test_batch_threads);

  return g_test_run ();
}
