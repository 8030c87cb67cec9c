/* test-dispatch.c: the batch dispatcher and the item runner, driven
 * directly (pft-dispatch-private.h): order, the first error, continue on
 * error, the burst yield, cancellation, limiter slots, retry waits on the
 * node's clock
 *
 * The dispatcher tests give it a start function that records each item
 * and completes it when the test says: the test is the only observer and
 * decides every completion, so each outcome is exact.
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include <pft.h>

#include "pft-clock-private.h"
#include "pft-dispatch-private.h"
#include "pft-context-private.h"
#include "pft-rate-limiter-private.h"
#include "test-util.h"

/* ------------------------------------------------------------------ */
/* A dispatch the test completes item by item */

typedef struct
{
  GCancellable *cancellable;   /* the one the item was started with */
  gboolean      holds_slot;
  guint64       entry;
  gboolean      returned;
} Item;

typedef struct
{
  GMainContext   *context;
  PftNode        *node;
  PftRunPolicy   *policy;
  PftRateLimiter *limiter;        /* nullable: the policy's */
  PftDispatch    *dispatch;       /* set by the first start */
  Item           *items;
  guint           n_items;
  guint           started;
  guint           in_flight;
  guint           max_in_flight;
  guint          *order;          /* start order */
  gboolean        complete_at_once;
  gboolean        done;
  PftValues      *results;
  GError         *error;
} Harness;

static void
harness_init (Harness  *h,
              guint     n_items,
              guint     max_concurrent)
{
  memset (h, 0, sizeof *h);
  h->context = g_main_context_new ();
  g_main_context_push_thread_default (h->context);
  h->node = pft_batch_node_new ();
  pft_batch_node_set_max_concurrent (PFT_BATCH_NODE (h->node), max_concurrent);
  h->policy = _pft_run_policy_new (h->node);
  g_assert_null (h->policy->limiter);
  g_assert_cmpuint (h->policy->max_concurrent, ==, max_concurrent);
  h->n_items = n_items;
  h->items = g_new0 (Item, n_items);
  h->order = g_new0 (guint, n_items);
}

/* Items then run under @limiter's slots (the dispatcher's limiter path). */
static void
harness_use_limiter (Harness        *h,
                     PftRateLimiter *limiter)
{
  h->limiter = limiter;
  h->policy->limiter = g_object_ref (limiter);
}

static void
harness_clear (Harness *h)
{
  for (guint i = 0; i < h->n_items; i++)
    g_clear_object (&h->items[i].cancellable);
  g_free (h->items);
  g_free (h->order);
  g_clear_object (&h->results);
  g_clear_error (&h->error);
  _pft_run_policy_unref (h->policy);
  g_object_unref (h->node);
  while (g_main_context_iteration (h->context, FALSE))
    ;
  g_main_context_pop_thread_default (h->context);
  g_main_context_unref (h->context);
}

static void
harness_return (Harness *h,
                guint    index,
                GError  *error);

static void
harness_start (PftDispatch  *dispatch,
               guint         index,
               GCancellable *cancellable,
               gboolean      holds_slot,
               guint64       entry,
               gpointer      user_data)
{
  Harness *h = user_data;
  Item *item = &h->items[index];

  g_assert_cmpuint (index, <, h->n_items);
  g_assert_null (item->cancellable);
  g_assert_false (h->done);
  h->dispatch = dispatch;
  item->cancellable = g_object_ref (cancellable);
  item->holds_slot = holds_slot;
  item->entry = entry;
  h->order[h->started++] = index;
  h->in_flight++;
  h->max_in_flight = MAX (h->max_in_flight, h->in_flight);
  if (h->complete_at_once)
    harness_return (h, index, NULL);
}

static void
harness_done (PftValues *results,
              GError    *error,
              gpointer   user_data)
{
  Harness *h = user_data;

  g_assert_false (h->done);
  /* Every started item returned first. */
  g_assert_cmpuint (h->in_flight, ==, 0);
  h->done = TRUE;
  h->results = results;
  h->error = error;
}

/* Item @index returns: with @error (transfer full), or with index * 10. */
static void
harness_return (Harness *h,
                guint    index,
                GError  *error)
{
  Item *item = &h->items[index];
  GValue value = G_VALUE_INIT;

  g_assert_nonnull (item->cancellable);
  g_assert_false (item->returned);
  item->returned = TRUE;
  h->in_flight--;
  if (item->holds_slot)
    _pft_rate_limiter_release (h->limiter, item->entry);
  if (error == NULL)
    {
      g_value_init (&value, G_TYPE_INT);
      g_value_set_int (&value, (int) index * 10);
    }
  _pft_dispatch_item_done (h->dispatch, index, error == NULL ? &value : NULL, error);
}

static void
harness_start_dispatch (Harness      *h,
                        GCancellable *cancellable)
{
  _pft_dispatch_start (h->n_items, h->policy, cancellable, harness_start, harness_done, h);
}

static GError *
item_error (guint index)
{
  return g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "item %u failed", index);
}

/* ------------------------------------------------------------------ */

static void
test_dispatch_order (void)
{
  Harness h;

  /* 10 items, 3 at once, completed out of order: each completion starts
   * the next in input order, and the results come back in input order. */
  harness_init (&h, 10, 3);
  harness_start_dispatch (&h, NULL);
  g_assert_cmpuint (h.started, ==, 3);
  harness_return (&h, 2, NULL);
  harness_return (&h, 1, NULL);
  g_assert_cmpuint (h.started, ==, 5);
  while (!h.done)
    {
      /* The most recently started item in flight returns first. */
      for (guint k = h.started; k-- > 0;)
        if (!h.items[h.order[k]].returned)
          {
            harness_return (&h, h.order[k], NULL);
            break;
          }
    }
  for (guint i = 0; i < h.n_items; i++)
    g_assert_cmpuint (h.order[i], ==, i);
  g_assert_cmpuint (h.max_in_flight, ==, 3);
  g_assert_no_error (h.error);
  g_assert_cmpuint (pft_values_get_length (h.results), ==, 10);
  for (guint i = 0; i < h.n_items; i++)
    g_assert_cmpint (g_value_get_int (pft_values_peek (h.results, i)), ==, i * 10);
  harness_clear (&h);
}

static void
test_dispatch_unbounded (void)
{
  Harness h;

  /* max-concurrent 0: every item starts at once. */
  harness_init (&h, 7, 0);
  harness_start_dispatch (&h, NULL);
  g_assert_cmpuint (h.started, ==, 7);
  for (guint i = 7; i-- > 0;)
    harness_return (&h, i, NULL);
  g_assert_true (h.done);
  g_assert_no_error (h.error);
  for (guint i = 0; i < h.n_items; i++)
    g_assert_cmpint (g_value_get_int (pft_values_peek (h.results, i)), ==, i * 10);
  harness_clear (&h);
}

static void
test_dispatch_empty (void)
{
  Harness h;

  harness_init (&h, 0, 3);
  harness_start_dispatch (&h, NULL);
  g_assert_true (h.done);
  g_assert_no_error (h.error);
  g_assert_cmpuint (pft_values_get_length (h.results), ==, 0);
  harness_clear (&h);
}

static void
test_dispatch_first_error_wins (void)
{
  Harness h;

  harness_init (&h, 8, 3);
  harness_start_dispatch (&h, NULL);
  g_assert_cmpuint (h.started, ==, 3);

  /* The first failure cancels the items in flight and starts no other. */
  harness_return (&h, 1, item_error (1));
  g_assert_true (g_cancellable_is_cancelled (h.items[0].cancellable));
  g_assert_true (g_cancellable_is_cancelled (h.items[2].cancellable));
  g_assert_cmpuint (h.started, ==, 3);
  g_assert_false (h.done);

  /* A later failure, and the cancellation the first one caused, are
   * dropped; the run ends when the last started item returned. */
  harness_return (&h, 2, item_error (2));
  g_assert_false (h.done);
  harness_return (&h, 0, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled"));
  g_assert_true (h.done);
  g_assert_error (h.error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_cmpstr (h.error->message, ==, "item 1 failed");
  g_assert_null (h.results);
  g_assert_cmpuint (h.started, ==, 3);
  harness_clear (&h);
}

static void
test_dispatch_continue_on_error (void)
{
  Harness h;

  /* Failed items keep their GError in their slot; the run goes on. */
  harness_init (&h, 6, 2);
  h.policy->continue_on_error = TRUE;
  harness_start_dispatch (&h, NULL);
  for (guint i = 0; i < h.n_items; i++)
    {
      g_assert_cmpuint (h.started, ==, MIN (i + 2, h.n_items));
      g_assert_false (g_cancellable_is_cancelled (h.items[i].cancellable));
      harness_return (&h, i, i % 3 == 1 ? item_error (i) : NULL);
    }
  g_assert_true (h.done);
  g_assert_no_error (h.error);
  g_assert_cmpuint (pft_values_get_length (h.results), ==, 6);
  for (guint i = 0; i < h.n_items; i++)
    {
      if (i % 3 == 1)
        {
          g_autofree char *message = g_strdup_printf ("item %u failed", i);
          const GError *error = pft_values_get_error (h.results, i);

          g_assert_true (G_VALUE_HOLDS (pft_values_peek (h.results, i), G_TYPE_ERROR));
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
          g_assert_cmpstr (error->message, ==, message);
        }
      else
        g_assert_cmpint (g_value_get_int (pft_values_peek (h.results, i)), ==, i * 10);
    }
  harness_clear (&h);
}

static void
test_dispatch_continue_on_error_cancelled (void)
{
  Harness h;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  /* A cancellation is not an item's failure to keep: it ends the run,
   * with continue-on-error too. */
  harness_init (&h, 6, 2);
  h.policy->continue_on_error = TRUE;
  harness_start_dispatch (&h, cancellable);
  g_cancellable_cancel (cancellable);
  harness_return (&h, 0, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled"));
  harness_return (&h, 1, NULL);
  g_assert_true (h.done);
  g_assert_error (h.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (h.started, ==, 2);
  harness_clear (&h);
}

typedef struct
{
  Harness      *h;
  guint         started_seen;
  gboolean      done_seen;
  GCancellable *cancel;   /* nullable: cancelled from the source */
} Between;

static gboolean
between_bursts (gpointer data)
{
  Between *b = data;

  b->started_seen = b->h->started;
  b->done_seen = b->h->done;
  if (b->cancel != NULL)
    g_cancellable_cancel (b->cancel);
  return G_SOURCE_REMOVE;
}

static void
attach_between (Harness *h,
                Between *b)
{
  GSource *source = g_idle_source_new ();

  /* The dispatcher resumes at G_PRIORITY_DEFAULT: a source of that
   * priority attached before it runs first in the same iteration. */
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, between_bursts, b, NULL);
  g_source_attach (source, h->context);
  g_source_unref (source);
}

static void
test_dispatch_burst_yield (void)
{
  Harness h;
  Between b = { &h };
  guint n = 3 * PFT_DISPATCH_BURST + 5;
  guint iterations = 0;

  /* Items that complete at once: the pump starts PFT_DISPATCH_BURST of
   * them, then returns to the main context, where other sources run
   * before it resumes. */
  harness_init (&h, n, 4);
  h.complete_at_once = TRUE;
  attach_between (&h, &b);
  harness_start_dispatch (&h, NULL);
  g_assert_cmpuint (h.started, ==, PFT_DISPATCH_BURST);
  g_assert_false (h.done);

  g_assert_true (g_main_context_iteration (h.context, FALSE));
  g_assert_cmpuint (b.started_seen, ==, PFT_DISPATCH_BURST);
  g_assert_false (b.done_seen);
  g_assert_cmpuint (h.started, ==, 2 * PFT_DISPATCH_BURST);
  iterations++;
  while (!h.done)
    {
      g_assert_true (g_main_context_iteration (h.context, FALSE));
      iterations++;
    }
  /* One resume per further burst: 256, 512, 768, then the last 5. */
  g_assert_cmpuint (iterations, ==, 3);
  g_assert_no_error (h.error);
  g_assert_cmpuint (h.started, ==, n);
  g_assert_cmpuint (h.max_in_flight, ==, 1);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (g_value_get_int (pft_values_peek (h.results, i)), ==, i * 10);
  harness_clear (&h);
}

static void
test_dispatch_burst_yield_cancel (void)
{
  Harness h;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Between b = { &h, 0, FALSE, cancellable };

  /* A cancellation that comes between two bursts stops the batch there,
   * although its items ignore the cancellable. */
  harness_init (&h, 10 * PFT_DISPATCH_BURST, 4);
  h.complete_at_once = TRUE;
  attach_between (&h, &b);
  harness_start_dispatch (&h, cancellable);
  g_main_context_iteration (h.context, FALSE);
  g_assert_true (h.done);
  g_assert_error (h.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (h.started, ==, PFT_DISPATCH_BURST);
  harness_clear (&h);
}

static void
test_dispatch_cancel (void)
{
  Harness h;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  harness_init (&h, 10, 3);
  harness_start_dispatch (&h, cancellable);
  g_assert_cmpuint (h.started, ==, 3);

  /* The items in flight see the cancellation at once... */
  g_cancellable_cancel (cancellable);
  for (guint i = 0; i < 3; i++)
    g_assert_true (g_cancellable_is_cancelled (h.items[i].cancellable));

  /* ...no item starts after it, although one returned with a result... */
  harness_return (&h, 0, NULL);
  g_assert_cmpuint (h.started, ==, 3);
  harness_return (&h, 2, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled"));
  g_assert_false (h.done);

  /* ...and the run ends, cancelled, once every started item returned. */
  harness_return (&h, 1, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled"));
  g_assert_true (h.done);
  g_assert_error (h.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (h.results);
  g_assert_cmpuint (h.started, ==, 3);
  harness_clear (&h);
}

static void
test_dispatch_cancelled_before_start (void)
{
  Harness h;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  harness_init (&h, 5, 2);
  g_cancellable_cancel (cancellable);
  harness_start_dispatch (&h, cancellable);
  g_assert_true (h.done);
  g_assert_error (h.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (h.started, ==, 0);
  harness_clear (&h);
}

static void
test_dispatch_limiter_slots (void)
{
  Harness h;
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (2, 0, 60.0);

  /* With a limiter, each item starts with a slot of it: two at once now,
   * the third when a slot comes back (granted later, on the context). */
  harness_init (&h, 5, 5);
  harness_use_limiter (&h, limiter);
  harness_start_dispatch (&h, NULL);
  g_assert_cmpuint (h.started, ==, 2);
  g_assert_true (h.items[0].holds_slot);
  g_assert_true (h.items[1].holds_slot);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 2);

  harness_return (&h, 0, NULL);
  g_assert_cmpuint (h.started, ==, 2);
  while (h.started < 3)
    g_main_context_iteration (h.context, TRUE);
  g_assert_true (h.items[2].holds_slot);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 2);

  while (!h.done)
    {
      for (guint i = 0; i < h.started; i++)
        if (!h.items[i].returned)
          {
            harness_return (&h, i, NULL);
            break;
          }
      while (g_main_context_iteration (h.context, FALSE))
        ;
    }
  g_assert_no_error (h.error);
  g_assert_cmpuint (h.max_in_flight, ==, 2);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (limiter), ==, 5);
  for (guint i = 0; i < h.n_items; i++)
    g_assert_cmpint (g_value_get_int (pft_values_peek (h.results, i)), ==, i * 10);
  harness_clear (&h);
}

static void
test_dispatch_limiter_cost_never_fits (void)
{
  Harness h;
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (2, 0, 60.0);

  /* A cost the limiter can never admit fails the run before any item. */
  pft_rate_limiter_set_max_cost_per_window (limiter, 10);
  harness_init (&h, 3, 3);
  harness_use_limiter (&h, limiter);
  h.policy->cost = 11;
  harness_start_dispatch (&h, NULL);
  g_assert_true (h.done);
  g_assert_error (h.error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (h.started, ==, 0);
  harness_clear (&h);
}

static void
test_dispatch_limiter_slot_after_failure (void)
{
  Harness h;
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (1, 0, 60.0);

  /* The one slot goes to item 0; the dispatcher waits for the next. Item
   * 0 fails: the waiting acquisition is cancelled, no item starts, and
   * the limiter is left with nothing held. */
  harness_init (&h, 3, 3);
  harness_use_limiter (&h, limiter);
  harness_start_dispatch (&h, NULL);
  g_assert_cmpuint (h.started, ==, 1);
  harness_return (&h, 0, item_error (0));
  while (!h.done)
    g_main_context_iteration (h.context, TRUE);
  g_assert_error (h.error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_cmpuint (h.started, ==, 1);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  harness_clear (&h);
}

/* ------------------------------------------------------------------ */
/* The item runner: a retry waits on the node's clock */

typedef struct
{
  PftClock *clock;
  gint64    called_at[4];
  guint     calls;
} Retry;

static void
exec_fail_first (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  Retry *r = test_node_get_behaviour (node)->data;

  g_assert_cmpuint (pft_context_get_attempt (ctx), ==, r->calls + 1);
  r->called_at[r->calls++] = _pft_clock_now_us (r->clock);
  if (r->calls == 1)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "first attempt fails");
      return;
    }
  g_value_init (result, G_TYPE_STRING);
  g_value_set_string (result, "second");
}

typedef struct
{
  gboolean  done;
  GValue    result;
  GError   *error;
} ItemDone;

static void
item_done (gpointer  user_data,
           guint     index,
           GValue   *result,
           GError   *error)
{
  ItemDone *d = user_data;

  d->done = TRUE;
  d->error = error;
  if (result != NULL)
    {
      g_value_init (&d->result, G_VALUE_TYPE (result));
      g_value_copy (result, &d->result);
      g_value_unset (result);
    }
}

/* One item of a node that fails its first attempt, run by _pft_run_item()
 * with a wait of @wait seconds between attempts, on a fake clock. The
 * exec runs on the run's context: every step is in this thread, and the
 * only source of time is the fake clock. */
typedef struct
{
  PftClock      *clock;
  Retry          retry;
  TestBehaviour  behaviour;
  PftNode       *node;
  GMainContext  *context;
  PftContext    *ctx;
  PftRunPolicy  *policy;
  GValue         item;
  ItemDone       done;
  gint64         start;
} RetryRun;

static void
retry_run_start (RetryRun     *rr,
                 double        wait,
                 GCancellable *cancellable)
{
  g_autoptr(PftStore) store = pft_store_new ();

  memset (rr, 0, sizeof *rr);
  rr->clock = _pft_fake_clock_new (1000 * G_USEC_PER_SEC);
  rr->start = _pft_clock_now_us (rr->clock);
  rr->retry.clock = rr->clock;
  rr->behaviour.exec = exec_fail_first;
  rr->behaviour.data = &rr->retry;
  rr->node = test_node_new (&rr->behaviour);
  g_object_set (rr->node, "max-retries", 3, "wait", wait,
                "thread-policy", PFT_THREAD_POLICY_MAIN_CONTEXT, NULL);
  _pft_node_set_clock (rr->node, rr->clock);
  rr->context = g_main_context_new ();
  g_main_context_push_thread_default (rr->context);
  rr->policy = _pft_run_policy_new (rr->node);
  rr->ctx = _pft_context_new (rr->node, store, g_variant_new_parsed ("@a{sv} {}"), cancellable);
  g_value_init (&rr->item, G_TYPE_INT);

  _pft_run_item (rr->node, PFT_JOB_EXEC, rr->ctx, &rr->item, NULL, 0, cancellable, rr->policy,
                 item_done, &rr->done);
  /* The first attempt fails, and the runner starts its wait. */
  while (rr->retry.calls < 1)
    g_main_context_iteration (rr->context, TRUE);
  while (g_main_context_iteration (rr->context, FALSE))
    ;
  g_assert_cmpuint (rr->retry.calls, ==, 1);
  g_assert_false (rr->done.done);
}

static void
retry_run_finish (RetryRun *rr)
{
  while (!rr->done.done)
    g_main_context_iteration (rr->context, TRUE);
  /* Nothing is left armed on the clock. */
  g_assert_cmpuint (_pft_fake_clock_get_n_armed (rr->clock), ==, 0);
}

static void
retry_run_clear (RetryRun *rr)
{
  if (G_IS_VALUE (&rr->done.result))
    g_value_unset (&rr->done.result);
  g_clear_error (&rr->done.error);
  _pft_run_policy_unref (rr->policy);
  g_object_unref (rr->ctx);
  g_object_unref (rr->node);
  g_main_context_pop_thread_default (rr->context);
  g_main_context_unref (rr->context);
  _pft_clock_unref (rr->clock);
}

static void
test_runner_retry_wait_on_clock (void)
{
  RetryRun rr;
  const gint64 wait_us = 2500 * 1000;

  retry_run_start (&rr, 2.5, NULL);
  g_assert_cmpuint (_pft_fake_clock_get_n_armed (rr.clock), ==, 1);
  g_assert_cmpint (_pft_fake_clock_get_next_deadline (rr.clock), ==, rr.start + wait_us);

  /* Not a microsecond before the wait is over... */
  _pft_fake_clock_advance (rr.clock, wait_us - 1);
  while (g_main_context_iteration (rr.context, FALSE))
    ;
  g_assert_cmpuint (rr.retry.calls, ==, 1);
  g_assert_false (rr.done.done);

  /* ...and right then. */
  _pft_fake_clock_advance (rr.clock, 1);
  retry_run_finish (&rr);
  g_assert_cmpuint (rr.retry.calls, ==, 2);
  g_assert_cmpint (rr.retry.called_at[0], ==, rr.start);
  g_assert_cmpint (rr.retry.called_at[1], ==, rr.start + wait_us);
  g_assert_no_error (rr.done.error);
  g_assert_cmpstr (g_value_get_string (&rr.done.result), ==, "second");
  retry_run_clear (&rr);
}

static void
test_runner_retry_wait_cancelled (void)
{
  RetryRun rr;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  /* A cancellation ends the wait at once, without the clock moving, and
   * no attempt follows. */
  retry_run_start (&rr, 60.0, cancellable);
  g_assert_cmpuint (_pft_fake_clock_get_n_armed (rr.clock), ==, 1);
  g_cancellable_cancel (cancellable);
  retry_run_finish (&rr);
  g_assert_error (rr.done.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (rr.retry.calls, ==, 1);
  g_assert_cmpint (_pft_clock_now_us (rr.clock), ==, rr.start);
  retry_run_clear (&rr);
}

static void
test_runner_retry_wait_beyond_range (void)
{
  RetryRun rr;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  /* A wait too long for the clock (PftNode:wait allows G_MAXDOUBLE) never
   * ends by itself, rather than overflow into the past; cancelling ends
   * it. */
  retry_run_start (&rr, G_MAXDOUBLE, cancellable);
  g_assert_cmpint (_pft_fake_clock_get_next_deadline (rr.clock), ==, -1);
  _pft_fake_clock_advance (rr.clock, G_MAXINT64 / 4);
  while (g_main_context_iteration (rr.context, FALSE))
    ;
  g_assert_cmpuint (rr.retry.calls, ==, 1);
  g_assert_false (rr.done.done);
  g_cancellable_cancel (cancellable);
  retry_run_finish (&rr);
  g_assert_error (rr.done.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  retry_run_clear (&rr);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft/dispatch/order", test_dispatch_order);
  g_test_add_func ("/pft/dispatch/unbounded", test_dispatch_unbounded);
  g_test_add_func ("/pft/dispatch/empty", test_dispatch_empty);
  g_test_add_func ("/pft/dispatch/first-error-wins", test_dispatch_first_error_wins);
  g_test_add_func ("/pft/dispatch/continue-on-error", test_dispatch_continue_on_error);
  g_test_add_func ("/pft/dispatch/continue-on-error-cancelled", test_dispatch_continue_on_error_cancelled);
  g_test_add_func ("/pft/dispatch/burst-yield", test_dispatch_burst_yield);
  g_test_add_func ("/pft/dispatch/burst-yield-cancel", test_dispatch_burst_yield_cancel);
  g_test_add_func ("/pft/dispatch/cancel", test_dispatch_cancel);
  g_test_add_func ("/pft/dispatch/cancelled-before-start", test_dispatch_cancelled_before_start);
  g_test_add_func ("/pft/dispatch/limiter-slots", test_dispatch_limiter_slots);
  g_test_add_func ("/pft/dispatch/limiter-cost-never-fits", test_dispatch_limiter_cost_never_fits);
  g_test_add_func ("/pft/dispatch/limiter-slot-after-failure", test_dispatch_limiter_slot_after_failure);
  g_test_add_func ("/pft/runner/retry-wait-on-clock", test_runner_retry_wait_on_clock);
  g_test_add_func ("/pft/runner/retry-wait-cancelled", test_runner_retry_wait_cancelled);
  g_test_add_func ("/pft/runner/retry-wait-beyond-range", test_runner_retry_wait_beyond_range);

  return g_test_run ();
}
