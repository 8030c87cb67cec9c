/* pft-rate-limiter-private.h: internals of PftRateLimiter and PftPermit
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gio/gio.h>

#include "pft-rate-limiter.h"
#include "pft-rate-limiter-limits.h"
#include "pft-rate-limiter-stats.h"
#include "pft-permit.h"
#include "pft-clock-private.h"
#include "pft-admission-private.h"
#include "pft-limits-private.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------------ */
/* The acquire core: every way of taking an admission (try_acquire,
 * acquire_async, blocking acquire, the dispatcher's slots) goes through
 * _pft_rate_limiter_acquire_full(). An admission without a PftPermit (a
 * "slot") takes a concurrency slot and counts its request and cost in the
 * window like a permit; its holder starts it with _pft_rate_limiter_start()
 * when its request starts, and gives it back with
 * _pft_rate_limiter_release(), exactly once. */

typedef enum {
  PFT_ACQUIRE_NONE     = 0,
  /* An immediate grant counts from now (the caller uses it at once);
   * otherwise it is pending until _pft_rate_limiter_start(). */
  PFT_ACQUIRE_STARTED  = 1 << 0,
  /* Every outcome, an immediate grant or error included, goes to @func
   * on @context, never before _pft_rate_limiter_acquire_full() returns
   * (as a GTask does). */
  PFT_ACQUIRE_DEFERRED = 1 << 1,
} PftAcquireFlags;

/* @entry is the admission's id (or PFT_ENTRY_NONE) when @error is NULL;
 * the callee then holds it. @error is transfer full. Same argument order
 * as the dispatcher's callbacks. */
typedef void (*PftAcquireFunc) (gpointer  user_data,
                                guint64   entry,
                                GError   *error);

/* TRUE with *@entry: admitted at once (@func is not called).
 * FALSE with @error (PFT_ERROR_INVALID_ARGUMENT): @cost can never go.
 * FALSE, no error, @func NULL: the caller would have to wait (a try).
 * FALSE, no error, @func set: a waiter is queued, first come first served;
 *   @func runs exactly once, on @context (a batched source) or, when
 *   @context is NULL, in the thread that grants it (without the limiter's
 *   lock, maybe before this returns: for blocking callers). A
 *   cancellation seen when @func is due wins over a grant (the admission
 *   is given back first).
 * With PFT_ACQUIRE_DEFERRED, always FALSE with no error (see above). */
gboolean   _pft_rate_limiter_acquire_full (PftRateLimiter  *self,
                                           guint64          cost,
                                           PftAcquireFlags  flags,
                                           GCancellable    *cancellable,
                                           GMainContext    *context,
                                           PftAcquireFunc   func,
                                           gpointer         user_data,
                                           guint64         *entry,
                                           GError         **error);

/* Gives the concurrency slot back; a request of @entry that never started
 * counts from now. */
void       _pft_rate_limiter_release     (PftRateLimiter *self,
                                          guint64         entry);
/* Sets *@cost to @new_cost under the limiter's lock and corrects the
 * window; returns TRUE if *@cost changed. */
gboolean   _pft_rate_limiter_settle      (PftRateLimiter *self,
                                          guint64         entry,
                                          guint64        *cost,
                                          guint64         new_cost);

/* The request of a slot or permit (window entry @entry, or
 * PFT_ENTRY_NONE) starts now: its exec is being called. Until then (or
 * until its release) the entry counts and does not expire; from then on
 * it counts for one window. Only the first call counts. Returns the id
 * of the entry from then on (see the admission's start). */
guint64    _pft_rate_limiter_start       (PftRateLimiter *self,
                                          guint64         entry);

/* An exec that is still running after its slot was given back (its run
 * was cancelled): it keeps counting in in-flight, without a window entry,
 * until _pft_rate_limiter_unhold(). Admits nothing and waits for nothing. */
void       _pft_rate_limiter_hold        (PftRateLimiter *self);
void       _pft_rate_limiter_unhold      (PftRateLimiter *self);

/* The dispatcher's slot calls, kept as thin forms of the core until the
 * dispatcher calls it directly. */
typedef PftAcquireFunc PftSlotReadyFunc;

static inline gboolean
_pft_rate_limiter_try_acquire_slot (PftRateLimiter  *self,
                                    guint64          cost,
                                    guint64         *entry,
                                    GError         **error)
{
  return _pft_rate_limiter_acquire_full (self, cost, PFT_ACQUIRE_NONE, NULL, NULL, NULL, NULL,
                                         entry, error);
}

/* @callback runs on the caller's thread-default main context. */
void       _pft_rate_limiter_acquire_slot_async (PftRateLimiter   *self,
                                                 guint64           cost,
                                                 GCancellable     *cancellable,
                                                 PftSlotReadyFunc  callback,
                                                 gpointer          user_data);

/* ------------------------------------------------------------------ */
/* Setup, for tests and other backends. */

/* Replaces the clock (the system clock by default). Tests call it right
 * after construction, before anything is acquired. */
void       _pft_rate_limiter_set_clock   (PftRateLimiter *self,
                                          PftClock       *clock);
/* Replaces the admission (a PftRateWindow by default), taking ownership;
 * it is configured with the limiter's limits. Right after construction,
 * before anything is acquired. */
void       _pft_rate_limiter_set_admission (PftRateLimiter *self,
                                            PftAdmission   *admission);

/* ------------------------------------------------------------------ */
/* PftPermit */

/* Called by PftRateLimiter: a permit for an admission already counted. */
PftPermit *_pft_permit_new               (PftRateLimiter *limiter,
                                          guint64         cost,
                                          guint64         entry);
/* The permit reaches its holder: its request starts now. Before the
 * permit is handed out only. */
void       _pft_permit_start             (PftPermit      *self);

G_END_DECLS
