/* pft-rate-limiter-queue.c: the limiter's waiters and acquire core
 *
 * SPDX-License-Identifier: MIT
 */

#include <glib/gi18n-lib.h>

#include "pft-error.h"
#include "pft-main-context-batch-private.h"
#include "pft-private.h"
#include "pft-rate-limiter-queue-private.h"

/* One admission in the making: a waiter of acquire_async, of a blocking
 * acquire or of the dispatcher, all alike. It is completed by calling its
 * func once, on its context or, without one, in the thread that
 * finishes it. While its admission is asked of a remote backend, it is
 * also the PftAdmissionAsk. */

typedef enum {
  PFT_WAITER_NEW,        /* not queued yet */
  PFT_WAITER_QUEUED,
  PFT_WAITER_ASKING,     /* queued, its admission asked of the backend */
  PFT_WAITER_GRANTED,
  PFT_WAITER_PARKED,     /* granted, held back at delivery: see park */
  PFT_WAITER_FAILED,
  PFT_WAITER_CANCELLED,
} PftRateLimiterWaiterState;

typedef enum {
  PFT_WAITER_ON_CONTEXT, /* func runs on its context, batched */
  PFT_WAITER_IN_PLACE,   /* func runs where the waiter is finished */
} PftRateLimiterWaiterMode;

struct _PftRateLimiterWaiter
{
  gatomicrefcount            ref_count;
  GList                      link;      /* in waiters or parked; data = the waiter */
  PftRateLimiterWaiter      *next_done; /* in a PftRateLimiterHeld */
  PftMainContextBatchItem    batch_item;
  PftRateLimiter            *limiter;   /* (owned) */
  guint64                    cost;
  guint64                    entry;
  PftRateLimiterWaiterState  state;     /* protected by the limiter's mutex */
  PftRateLimiterWaiterMode   mode;
  gboolean                   held;      /* granted, not handed over: given back if dropped */
  PftAcquireFunc             func;
  gpointer                   user_data;
  GMainContext              *context;   /* (owned) (nullable) */
  GCancellable              *cancellable; /* (owned) (nullable) */
  gulong                     cancel_id;
  GError                    *error;     /* (owned) (nullable) */
};

static PftRateLimiterWaiter *
pft_rate_limiter_waiter_new (PftRateLimiter *limiter,
                             guint64         cost,
                             GCancellable   *cancellable,
                             GMainContext   *context,
                             PftAcquireFunc  func,
                             gpointer        user_data)
{
  PftRateLimiterWaiter *w = g_new0 (PftRateLimiterWaiter, 1);

  g_atomic_ref_count_init (&w->ref_count);
  w->link.data = w;
  w->limiter = g_object_ref (limiter);
  w->cost = cost;
  w->entry = PFT_ENTRY_NONE;
  w->state = PFT_WAITER_NEW;
  w->mode = context != NULL ? PFT_WAITER_ON_CONTEXT : PFT_WAITER_IN_PLACE;
  w->func = func;
  w->user_data = user_data;
  w->context = context != NULL ? g_main_context_ref (context) : NULL;
  w->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  return w;
}

static PftRateLimiterWaiter *
pft_rate_limiter_waiter_ref (PftRateLimiterWaiter *w)
{
  g_atomic_ref_count_inc (&w->ref_count);
  return w;
}

/* Never with the limiter's lock held: a grant never handed over is given
 * back here. */
static void
pft_rate_limiter_waiter_unref (gpointer data)
{
  PftRateLimiterWaiter *w = data;

  if (!g_atomic_ref_count_dec (&w->ref_count))
    return;

  if (w->held)
    _pft_rate_limiter_release (w->limiter, w->entry);
  g_clear_error (&w->error);
  g_clear_pointer (&w->context, g_main_context_unref);
  g_clear_object (&w->cancellable);
  g_object_unref (w->limiter);
  g_free (w);
}

static inline void
pft_rate_limiter_waiter_push_done (PftRateLimiterWaiter *w,
                                   PftRateLimiterHeld   *held)
{
  w->next_done = NULL;
  *held->done_tail = w;
  held->done_tail = &w->next_done;
}

/* ------------------------------------------------------------------ */
/* Admission */

GError *
_pft_rate_limiter_cost_error (guint64 cost,
                              guint64 max_cost)
{
  g_autofree char *c = g_strdup_printf ("%" G_GUINT64_FORMAT, cost);
  g_autofree char *m = g_strdup_printf ("%" G_GUINT64_FORMAT, max_cost);

  return g_error_new (PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                      /* Translators: the first %s is a cost (for example a
                       * number of tokens), the second the limit per window */
                      _("A request costing %s can never be admitted: the limiter allows at most %s per window (max-cost-per-window)"),
                      c, m);
}

static inline gboolean
pft_rate_limiter_cost_too_large_locked (PftRateLimiter *self,
                                        guint64         cost)
{
  return self->limits.max_cost > 0 && cost > self->limits.max_cost;
}

static void pft_rate_limiter_on_timer (GObject *object);

static void
pft_rate_limiter_set_timer_locked (PftRateLimiter *self,
                                   gint64          deadline)
{
  if (deadline == self->timer_deadline)
    return;
  if (self->timer == NULL)
    {
      if (deadline < 0)
        return;
      self->timer = _pft_clock_timer_new (self->clock, G_OBJECT (self), pft_rate_limiter_on_timer);
    }
  self->timer_deadline = deadline;
  _pft_clock_timer_set_deadline (self->timer, deadline);
}

/* Half-open after a pause, as a circuit breaker (see docs/throttling.md):
 * the first request after a pause goes alone; its release without a rate
 * limit reported closes the limiter again. */
static inline gboolean
pft_rate_limiter_held_for_probe_locked (PftRateLimiter *self)
{
  return self->half_open && (self->probe_out || self->n_asking > 0);
}

/* Counts a granted admission locally. */
static inline void
pft_rate_limiter_count_locked (PftRateLimiter *self)
{
  if (self->half_open)
    self->probe_out = TRUE;
  self->in_flight++;
  self->total_admitted++;
}

/* A try: only when nobody waits (first come, first served) and the
 * admission answers at once. */
static inline gboolean
pft_rate_limiter_try_admit_locked (PftRateLimiter *self,
                                   guint64         cost,
                                   gboolean        pending,
                                   guint64        *entry)
{
  gint64 ready;

  if (self->waiters.length > 0 || self->in_flight + self->n_asking >= self->limits.max_concurrent ||
      pft_rate_limiter_held_for_probe_locked (self))
    return FALSE;
  if (self->admission->vtable->admit (self->admission, cost, _pft_rate_limiter_now_locked (self),
                                      pending, NULL, entry, &ready) != PFT_ADMISSION_GRANTED)
    return FALSE;
  pft_rate_limiter_count_locked (self);
  return TRUE;
}

/* Gives an admission back to the admission (not the local count). */
static void
pft_rate_limiter_give_back_locked (PftRateLimiter *self,
                                   guint64         entry)
{
  const PftAdmissionVTable *vtable = self->admission->vtable;

  /* A request that never started (its run was cancelled first) counts
   * from now: conservative, and its entry must not stay pending. */
  if (PFT_ENTRY_IS_PENDING (entry))
    {
      guint64 started = vtable->start (self->admission, entry, _pft_rate_limiter_now_locked (self));

      if (started != PFT_ENTRY_NONE)
        entry = started;
    }
  if (vtable->release != NULL && entry != PFT_ENTRY_NONE)
    vtable->release (self->admission, entry);
}

static void
pft_rate_limiter_finish_locked (PftRateLimiter            *self,
                                PftRateLimiterWaiter      *w,
                                PftRateLimiterWaiterState  state,
                                PftRateLimiterHeld        *held)
{
  if (w->state == PFT_WAITER_QUEUED || w->state == PFT_WAITER_ASKING)
    g_queue_unlink (&self->waiters, &w->link);
  w->state = state;
  w->held = state == PFT_WAITER_GRANTED;
  /* The queue's reference moves to the done list. */
  pft_rate_limiter_waiter_push_done (w, held);
}

void
_pft_rate_limiter_process_locked (PftRateLimiter     *self,
                                  PftRateLimiterHeld *held)
{
  const PftAdmissionVTable *vtable = self->admission->vtable;
  gint64 deadline = -1;
  gint64 now;
  GList *l;

  if (self->waiters.head == NULL)
    {
      pft_rate_limiter_set_timer_locked (self, -1);
      return;
    }

  now = _pft_rate_limiter_now_locked (self);
  l = self->waiters.head;
  while (l != NULL)
    {
      PftRateLimiterWaiter *w = l->data;
      GList *next = l->next;
      gint64 ready;

      if (w->state == PFT_WAITER_ASKING)
        {
          /* In flight at the backend, which decides in order. */
          l = next;
          continue;
        }
      if (pft_rate_limiter_cost_too_large_locked (self, w->cost))
        {
          w->error = _pft_rate_limiter_cost_error (w->cost, self->limits.max_cost);
          pft_rate_limiter_finish_locked (self, w, PFT_WAITER_FAILED, held);
          l = next;
          continue;
        }
      if (self->in_flight + self->n_asking >= self->limits.max_concurrent ||
          pft_rate_limiter_held_for_probe_locked (self))
        break;
      if (self->ask_retry_at >= 0)
        {
          if (now < self->ask_retry_at)
            {
              deadline = self->ask_retry_at;
              break;
            }
          self->ask_retry_at = -1;
        }

      /* Counted from when the waiter gets it (a thread wakes, a callback
       * runs) or, for a slot, from when its exec starts. */
      switch (vtable->admit (self->admission, w->cost, now, TRUE, (PftAdmissionAsk *) w,
                             &w->entry, &ready))
        {
        case PFT_ADMISSION_GRANTED:
          pft_rate_limiter_count_locked (self);
          pft_rate_limiter_finish_locked (self, w, PFT_WAITER_GRANTED, held);
          break;
        case PFT_ADMISSION_ASKED:
          /* The ask holds a reference until it is answered. */
          w->state = PFT_WAITER_ASKING;
          pft_rate_limiter_waiter_ref (w);
          self->n_asking++;
          break;
        case PFT_ADMISSION_REFUSED:
        default:
          /* Waiting for a request to start needs no timer: its start
           * comes back here. */
          deadline = ready >= PFT_TIME_PENDING ? -1 : ready;
          next = NULL;
          break;
        }
      l = next;
    }
  pft_rate_limiter_set_timer_locked (self, deadline);
}

void
_pft_rate_limiter_fail_costly_locked (PftRateLimiter     *self,
                                      PftRateLimiterHeld *held)
{
  GList *l = self->waiters.head;

  /* Any waiter may be the one that no longer fits, not just the head; an
   * asked one too (a late grant of it is given back). */
  while (l != NULL)
    {
      PftRateLimiterWaiter *w = l->data;

      l = l->next;
      if (pft_rate_limiter_cost_too_large_locked (self, w->cost))
        {
          w->error = _pft_rate_limiter_cost_error (w->cost, self->limits.max_cost);
          pft_rate_limiter_finish_locked (self, w, PFT_WAITER_FAILED, held);
        }
    }
}

void
_pft_rate_limiter_reconfigure_locked (PftRateLimiter     *self,
                                      PftRateLimiterHeld *held)
{
  self->admission->vtable->configure (self->admission, &self->limits,
                                      _pft_rate_limiter_now_locked (self));
  self->ask_retry_at = -1;
  _pft_rate_limiter_process_locked (self, held);
}

static void
pft_rate_limiter_on_timer (GObject *object)
{
  PftRateLimiter *self = (PftRateLimiter *) object;
  PftRateLimiterHeld held;

  _pft_rate_limiter_lock (self, &held);
  self->timer_deadline = -1;   /* it fired: a timer fires once per arming */
  _pft_rate_limiter_process_locked (self, &held);
  _pft_rate_limiter_unlock (self, &held);
}

/* ------------------------------------------------------------------ */
/* The seam's answers */

void
_pft_admission_ask_answer (PftAdmissionAsk     *ask,
                           PftAdmissionVerdict  verdict,
                           guint64              entry,
                           gint64               retry_after_us,
                           GError              *error)
{
  PftRateLimiterWaiter *w = (PftRateLimiterWaiter *) ask;
  PftRateLimiter *self = w->limiter;
  PftRateLimiterHeld held;

  g_return_if_fail (error != NULL || verdict != PFT_ADMISSION_ASKED);

  _pft_rate_limiter_lock (self, &held);
  g_assert (self->n_asking > 0);
  self->n_asking--;
  if (w->state != PFT_WAITER_ASKING)
    {
      /* Cancelled (or failed) while asked: a late grant goes back. */
      if (error == NULL && verdict == PFT_ADMISSION_GRANTED)
        pft_rate_limiter_give_back_locked (self, entry);
      g_clear_error (&error);
      _pft_rate_limiter_process_locked (self, &held);
    }
  else if (error != NULL)
    {
      w->error = error;
      pft_rate_limiter_finish_locked (self, w, PFT_WAITER_FAILED, &held);
      _pft_rate_limiter_process_locked (self, &held);
    }
  else if (verdict == PFT_ADMISSION_GRANTED)
    {
      w->entry = entry;
      pft_rate_limiter_count_locked (self);
      pft_rate_limiter_finish_locked (self, w, PFT_WAITER_GRANTED, &held);
      _pft_rate_limiter_process_locked (self, &held);
    }
  else
    {
      gint64 retry_at = _pft_rate_limiter_now_locked (self) + MAX (retry_after_us, 1);

      /* It keeps its place; not asked again before the hint. */
      w->state = PFT_WAITER_QUEUED;
      if (self->ask_retry_at < retry_at)
        self->ask_retry_at = retry_at;
      if (self->timer_deadline < 0 || self->timer_deadline > self->ask_retry_at)
        pft_rate_limiter_set_timer_locked (self, self->ask_retry_at);
    }
  _pft_rate_limiter_unlock (self, &held);
  pft_rate_limiter_waiter_unref (w);
}

guint64
_pft_admission_ask_get_cost (PftAdmissionAsk *ask)
{
  return ((PftRateLimiterWaiter *) ask)->cost;
}

/* ------------------------------------------------------------------ */
/* Delivery */

/* A grant travels to its holder (an idle of its main context, a thread
 * waking) before its request starts. If max-concurrent was lowered on the
 * way, starting it would open more requests at the provider than the new
 * value: it waits here, still counted in @in_flight (its window entry
 * still pending), until those that started are fewer than the new value.
 * Returns whether @w was parked; the parked queue takes a reference. */
static gboolean
pft_rate_limiter_park (PftRateLimiterWaiter *w)
{
  PftRateLimiter *self = w->limiter;
  gboolean parked = FALSE;

  g_mutex_lock (&self->mutex);
  if (w->state == PFT_WAITER_GRANTED &&
      self->in_flight - self->parked.length > self->limits.max_concurrent &&
      !g_cancellable_is_cancelled (w->cancellable))
    {
      w->state = PFT_WAITER_PARKED;
      g_queue_push_tail_link (&self->parked, &pft_rate_limiter_waiter_ref (w)->link);
      parked = TRUE;
    }
  g_mutex_unlock (&self->mutex);
  return parked;
}

static void
pft_rate_limiter_unpark_one_locked (PftRateLimiter       *self,
                                    PftRateLimiterWaiter *w,
                                    PftRateLimiterHeld   *held)
{
  g_queue_unlink (&self->parked, &w->link);
  w->state = PFT_WAITER_GRANTED;
  /* The parked queue's reference moves to the done list. */
  pft_rate_limiter_waiter_push_done (w, held);
}

void
_pft_rate_limiter_unpark_locked (PftRateLimiter     *self,
                                 PftRateLimiterHeld *held)
{
  /* Oldest first, before new grants: they were granted first. */
  while (self->parked.head != NULL &&
         self->in_flight - self->parked.length < self->limits.max_concurrent)
    pft_rate_limiter_unpark_one_locked (self, self->parked.head->data, held);
}

/* Runs on the waiter's context, or in place. A cancellation seen here
 * wins over a grant (as GTask's check-cancellable does): the admission
 * goes back before func runs. */
static void
pft_rate_limiter_complete (PftRateLimiterWaiter *w)
{
  GError *error = NULL;
  guint64 entry = PFT_ENTRY_NONE;

  /* Before the cancellable is disconnected: a parked waiter leaves the
   * parked queue when it is cancelled. */
  if (pft_rate_limiter_park (w))
    return;

  /* Not g_cancellable_disconnect(): this may run inside the cancellable's
   * own handler, which holds a reference to the waiter anyway. */
  if (w->cancel_id != 0)
    {
      g_signal_handler_disconnect (w->cancellable, w->cancel_id);
      w->cancel_id = 0;
    }

  if (g_cancellable_set_error_if_cancelled (w->cancellable, &error))
    {
      if (w->held)
        {
          w->held = FALSE;
          _pft_rate_limiter_release (w->limiter, w->entry);
        }
    }
  else
    switch (w->state)
      {
      case PFT_WAITER_GRANTED:
        w->held = FALSE;   /* handed over */
        entry = w->entry;
        break;
      case PFT_WAITER_FAILED:
        error = g_steal_pointer (&w->error);
        break;
      case PFT_WAITER_CANCELLED:
        error = _pft_error_new_cancelled ();
        break;
      case PFT_WAITER_NEW:
      case PFT_WAITER_QUEUED:
      case PFT_WAITER_ASKING:
      case PFT_WAITER_PARKED:
      default:
        g_assert_not_reached ();
      }
  w->func (w->user_data, entry, error);
}

static void
pft_rate_limiter_batch_deliver (PftMainContextBatchItem *item)
{
  PftRateLimiterWaiter *w = PFT_MAIN_CONTEXT_BATCH_ITEM_CONTAINER (item, PftRateLimiterWaiter, batch_item);

  pft_rate_limiter_complete (w);
  pft_rate_limiter_waiter_unref (w);
}

/* The context went away before the source ran: a grant is given back as
 * its waiter is freed. */
static void
pft_rate_limiter_batch_drop (PftMainContextBatchItem *item)
{
  pft_rate_limiter_waiter_unref (PFT_MAIN_CONTEXT_BATCH_ITEM_CONTAINER (item, PftRateLimiterWaiter, batch_item));
}

/* Waiters finished on the same context share one source: one wakeup of
 * that context per burst, not one per waiter. */
static PftMainContextBatch pft_rate_limiter_batch =
  PFT_MAIN_CONTEXT_BATCH_INIT ("[pft] limiter admission", G_PRIORITY_DEFAULT,
                               pft_rate_limiter_batch_deliver, pft_rate_limiter_batch_drop);

void
_pft_rate_limiter_deliver (PftRateLimiterHeld *held)
{
  PftRateLimiterWaiter *w = held->done;

  held->done = NULL;
  held->done_tail = &held->done;

  /* The list's references move to the batches, or are dropped after an
   * in-place completion. */
  while (w != NULL)
    {
      PftRateLimiterWaiter *next = w->next_done;

      w->next_done = NULL;
      if (w->mode == PFT_WAITER_IN_PLACE)
        {
          pft_rate_limiter_complete (w);
          pft_rate_limiter_waiter_unref (w);
        }
      else
        _pft_main_context_batch_add (&pft_rate_limiter_batch, w->context, &w->batch_item);
      w = next;
    }
}

/* ------------------------------------------------------------------ */
/* Queueing and cancellation */

static void
pft_rate_limiter_on_cancelled (GCancellable *cancellable,
                               gpointer      data)
{
  PftRateLimiterWaiter *w = data;
  PftRateLimiter *self = w->limiter;
  PftRateLimiterHeld held;

  _pft_rate_limiter_lock (self, &held);
  switch (w->state)
    {
    case PFT_WAITER_NEW:
      w->state = PFT_WAITER_CANCELLED;   /* enqueue finishes it */
      break;
    case PFT_WAITER_QUEUED:
    case PFT_WAITER_ASKING:
      /* An asked one leaves now; its answer, when it comes, is dropped
       * (a grant given back). */
      pft_rate_limiter_finish_locked (self, w, PFT_WAITER_CANCELLED, &held);
      /* The head may have changed: let whoever can go now go. */
      _pft_rate_limiter_process_locked (self, &held);
      break;
    case PFT_WAITER_PARKED:
      pft_rate_limiter_unpark_one_locked (self, w, &held);   /* delivered cancelled: it goes back */
      break;
    case PFT_WAITER_GRANTED:
    case PFT_WAITER_FAILED:
    case PFT_WAITER_CANCELLED:
    default:
      break;
    }
  _pft_rate_limiter_unlock (self, &held);
}

/* Queues @w (or finishes it at once). Takes the caller's reference, which
 * the queue holds until the waiter is finished. */
static void
pft_rate_limiter_enqueue (PftRateLimiter       *self,
                          PftRateLimiterWaiter *w)
{
  PftRateLimiterHeld held;

  /* Connected before queueing and without the lock: an already cancelled
   * cancellable calls the handler right here. */
  if (w->cancellable != NULL)
    w->cancel_id = g_cancellable_connect (w->cancellable, G_CALLBACK (pft_rate_limiter_on_cancelled),
                                          pft_rate_limiter_waiter_ref (w),
                                          pft_rate_limiter_waiter_unref);

  _pft_rate_limiter_lock (self, &held);
  if (w->state == PFT_WAITER_CANCELLED)
    pft_rate_limiter_waiter_push_done (w, &held);
  else
    {
      w->state = PFT_WAITER_QUEUED;
      g_queue_push_tail_link (&self->waiters, &w->link);
      _pft_rate_limiter_process_locked (self, &held);
    }
  _pft_rate_limiter_unlock (self, &held);
}

/* ------------------------------------------------------------------ */
/* The core */

gboolean
_pft_rate_limiter_acquire_full (PftRateLimiter  *self,
                                guint64          cost,
                                PftAcquireFlags  flags,
                                GCancellable    *cancellable,
                                GMainContext    *context,
                                PftAcquireFunc   func,
                                gpointer         user_data,
                                guint64         *entry,
                                GError         **error)
{
  gboolean deferred = (flags & PFT_ACQUIRE_DEFERRED) != 0;
  PftRateLimiterWaiter *w;
  PftRateLimiterHeld held;
  guint64 granted;

  g_return_val_if_fail (func != NULL || !deferred, FALSE);

  if (G_UNLIKELY (func != NULL && g_cancellable_is_cancelled (cancellable)))
    {
      w = pft_rate_limiter_waiter_new (self, cost, cancellable, context, func, user_data);
      w->state = PFT_WAITER_CANCELLED;
      held.done = w;
      _pft_rate_limiter_deliver (&held);
      return FALSE;
    }

  _pft_rate_limiter_lock (self, &held);
  if (G_UNLIKELY (pft_rate_limiter_cost_too_large_locked (self, cost)))
    {
      GError *cost_error = _pft_rate_limiter_cost_error (cost, self->limits.max_cost);

      if (!deferred)
        {
          _pft_rate_limiter_unlock (self, &held);
          g_propagate_error (error, cost_error);
          return FALSE;
        }
      w = pft_rate_limiter_waiter_new (self, cost, cancellable, context, func, user_data);
      w->error = cost_error;
      pft_rate_limiter_finish_locked (self, w, PFT_WAITER_FAILED, &held);
      _pft_rate_limiter_unlock (self, &held);
      return FALSE;
    }
  if (pft_rate_limiter_try_admit_locked (self, cost, (flags & PFT_ACQUIRE_STARTED) == 0, &granted))
    {
      if (!deferred)
        {
          _pft_rate_limiter_unlock (self, &held);
          *entry = granted;
          return TRUE;
        }
      /* Completed like any granted waiter, from its context. */
      w = pft_rate_limiter_waiter_new (self, cost, cancellable, context, func, user_data);
      w->entry = granted;
      pft_rate_limiter_finish_locked (self, w, PFT_WAITER_GRANTED, &held);
      _pft_rate_limiter_unlock (self, &held);
      return FALSE;
    }
  _pft_rate_limiter_unlock (self, &held);

  if (func != NULL)
    pft_rate_limiter_enqueue (self, pft_rate_limiter_waiter_new (self, cost, cancellable, context,
                                                                 func, user_data));
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* Holders */

void
_pft_rate_limiter_release (PftRateLimiter *self,
                           guint64         entry)
{
  PftRateLimiterHeld held;

  _pft_rate_limiter_lock (self, &held);
  g_assert (self->in_flight > 0);
  if (entry != PFT_ENTRY_NONE)
    pft_rate_limiter_give_back_locked (self, entry);
  self->in_flight--;
  _pft_rate_limiter_unpark_locked (self, &held);
  if (self->half_open && self->probe_out)
    {
      if (self->probe_failed)
        self->probe_failed = FALSE;   /* the next probe goes after the pause */
      else
        self->half_open = FALSE;
      self->probe_out = FALSE;
    }
  if (self->waiters.head != NULL)
    {
      self->ask_retry_at = -1;   /* a slot came back: worth asking again */
      _pft_rate_limiter_process_locked (self, &held);
    }
  _pft_rate_limiter_unlock (self, &held);
}

guint64
_pft_rate_limiter_start (PftRateLimiter *self,
                         guint64         entry)
{
  PftRateLimiterHeld held;
  guint64 started;

  if (!PFT_ENTRY_IS_PENDING (entry))
    return PFT_ENTRY_NONE;
  _pft_rate_limiter_lock (self, &held);
  started = self->admission->vtable->start (self->admission, entry,
                                            _pft_rate_limiter_now_locked (self));
  /* A waiter held back by this pending entry had no timer: its deadline
   * is known now. */
  if (started != PFT_ENTRY_NONE && self->waiters.head != NULL)
    _pft_rate_limiter_process_locked (self, &held);
  _pft_rate_limiter_unlock (self, &held);
  return started;
}

void
_pft_rate_limiter_hold (PftRateLimiter *self)
{
  PftRateLimiterHeld held;

  _pft_rate_limiter_lock (self, &held);
  self->in_flight++;
  _pft_rate_limiter_unlock (self, &held);
}

void
_pft_rate_limiter_unhold (PftRateLimiter *self)
{
  PftRateLimiterHeld held;

  /* Not a probe's outcome: the exec it stands for was cancelled. */
  _pft_rate_limiter_lock (self, &held);
  g_assert (self->in_flight > 0);
  self->in_flight--;
  _pft_rate_limiter_unpark_locked (self, &held);
  if (self->waiters.head != NULL)
    _pft_rate_limiter_process_locked (self, &held);
  _pft_rate_limiter_unlock (self, &held);
}

gboolean
_pft_rate_limiter_settle (PftRateLimiter *self,
                          guint64         entry,
                          guint64        *cost,
                          guint64         new_cost)
{
  PftRateLimiterHeld held;
  guint64 old_cost;

  _pft_rate_limiter_lock (self, &held);
  old_cost = *cost;
  if (old_cost == new_cost)
    {
      _pft_rate_limiter_unlock (self, &held);
      return FALSE;
    }
  *cost = new_cost;
  /* Given back: the head may fit now (a refused ask too). Charged: its
   * deadline moved. */
  if (self->admission->vtable->settle (self->admission, entry, old_cost, new_cost,
                                       _pft_rate_limiter_now_locked (self)))
    self->ask_retry_at = -1;
  _pft_rate_limiter_process_locked (self, &held);
  _pft_rate_limiter_unlock (self, &held);
  return TRUE;
}
