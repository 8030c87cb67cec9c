/* pft-admission-private.h: the seam between a limiter's queue and its limits
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gio/gio.h>

#include "pft-rate-limiter.h"

G_BEGIN_DECLS

/* PftRateLimiter keeps what is local to the process: the FIFO of waiters,
 * the local concurrency count, the timer, cancellation and delivery. It
 * asks a PftAdmission about everything that counts against the provider's
 * limits: the window (or GCRA pacing), token costs, pauses and, for a
 * shared backend, the concurrency of every process.
 *
 * Two implementations: PftRateWindow (pft-rate-window.c), in memory, which
 * answers at once; and a remote one (Redis), which answers later.
 *
 * Threads and locking. Every function of the table is called with the
 * limiter's mutex held and must not call back into the limiter. A remote
 * backend answers an ask later, from any thread, with
 * _pft_admission_ask_answer(), never from inside admit (the lock is held
 * there). Times are microseconds on the limiter's PftClock.
 *
 * Order. The limiter asks only for waiters at the head of its queue, in
 * their order, and never more at once than its free local concurrency
 * (one while half-open after a pause). A backend decides asks in the order
 * it received them, so that FIFO holds across a pipeline of asks: once it
 * refuses one, it refuses those behind it that it already holds. */

/* Entry id of an admission that was not recorded (no window limit set). */
#define PFT_ENTRY_NONE G_MAXUINT64

/* A backend that restamps (counts a request from when it starts, see
 * start) marks the ids of requests that have not started with this bit,
 * so that a release can tell without asking. */
#define PFT_ENTRY_PENDING_BIT (G_GUINT64_CONSTANT (1) << 62)
#define PFT_ENTRY_IS_PENDING(e) ((e) != PFT_ENTRY_NONE && ((e) & PFT_ENTRY_PENDING_BIT) != 0)

/* The time of a window entry whose request has not started yet (it counts
 * and does not expire), and a ready time that no timer waits for: the
 * admission waits for a pending request to start. */
#define PFT_TIME_PENDING (G_MAXINT64 / 2)

typedef struct
{
  guint           max_concurrent;   /* >= 1; a shared backend counts every process */
  guint           max_per_window;   /* requests per window, 0 = none */
  guint64         max_cost;         /* cost per window, 0 = none */
  gint64          window_us;        /* > 0 */
  PftLimiterMode  mode;
  guint           burst;            /* >= 1, smooth mode */
} PftAdmissionLimits;

typedef enum {
  PFT_ADMISSION_GRANTED,   /* *entry is set */
  PFT_ADMISSION_REFUSED,   /* *ready_at_us is set */
  PFT_ADMISSION_ASKED,     /* the answer comes with _pft_admission_ask_answer() */
} PftAdmissionVerdict;

typedef struct _PftAdmission    PftAdmission;
/* One admission asked of a backend and not answered yet (a waiter). */
typedef struct _PftAdmissionAsk PftAdmissionAsk;

typedef struct
{
  void     (*free)         (PftAdmission              *admission);
  /* New limits; the history (window entries, pacing state, pause) stays. */
  void     (*configure)    (PftAdmission              *admission,
                            const PftAdmissionLimits  *limits,
                            gint64                     now_us);
  /* May one request of @cost go at @now_us? GRANTED: it is counted, from
   * @now_us or, when @pending, from a later start; *@entry is its id (for
   * release, settle and start) or PFT_ENTRY_NONE. REFUSED: *@ready_at_us
   * is the earliest time (> @now_us) at which it may, other admissions
   * aside, or PFT_TIME_PENDING when that depends on a pending request
   * starting. ASKED (only when @ask is not NULL, that is for a waiter that
   * can wait; a try has @ask NULL and is answered at once): the backend
   * keeps @ask and answers it exactly once, later. */
  PftAdmissionVerdict
           (*admit)        (PftAdmission              *admission,
                            guint64                    cost,
                            gint64                     now_us,
                            gboolean                   pending,
                            PftAdmissionAsk           *ask,
                            guint64                   *entry,
                            gint64                    *ready_at_us);
  /* (nullable): the holder of @entry (not PFT_ENTRY_NONE) gave its
   * concurrency slot back; fire and forget. A pending entry was started
   * first (it counts from its release). */
  void     (*release)      (PftAdmission              *admission,
                            guint64                    entry);
  /* The request @entry really cost @new_cost, not @old_cost (both
   * absolute, so that a resend is harmless). Returns TRUE when capacity
   * was given back. */
  gboolean (*settle)       (PftAdmission              *admission,
                            guint64                    entry,
                            guint64                    old_cost,
                            guint64                    new_cost,
                            gint64                     now_us);
  /* The request of pending @entry starts at @now_us (its exec is called,
   * its permit reaches its holder): it counts from then. Returns the id
   * the entry has from then on, or PFT_ENTRY_NONE when @entry was not
   * pending (nothing happens then). Only called for pending ids. */
  guint64  (*start)        (PftAdmission              *admission,
                            guint64                    entry,
                            gint64                     now_us);
  /* Holds everything until @until_us; returns TRUE if that extended the
   * current pause (a shorter pause never shortens it). A shared backend
   * pauses every process. */
  gboolean (*pause)        (PftAdmission              *admission,
                            gint64                     until_us);
  gint64   (*paused_until) (PftAdmission              *admission);
  /* Use of the window at @now_us (a shared backend: its last reading). */
  void     (*usage)        (PftAdmission              *admission,
                            gint64                     now_us,
                            guint                     *count,
                            guint64                   *cost);
  /* Forgets the history (window entries, pacing state, pause); entry ids
   * handed out before stay unique. */
  void     (*reset)        (PftAdmission              *admission);
  /* (nullable): adds the backend's own keys to pft_rate_limiter_dup_stats()
   * (for example the counts of every process sharing a quota). */
  void     (*add_stats)    (PftAdmission              *admission,
                            GVariantBuilder           *builder);
} PftAdmissionVTable;

struct _PftAdmission
{
  const PftAdmissionVTable *vtable;
};

/* Answers @ask, exactly once, from any thread, without holding a lock the
 * limiter's own calls into the backend take:
 *
 * - PFT_ADMISSION_GRANTED: @entry is the admission's id; it is counted
 *   (in flight, total admitted) and its waiter is granted. If the waiter
 *   was cancelled meanwhile, the limiter calls release (@entry) instead.
 * - PFT_ADMISSION_REFUSED: the waiter stays at its place and is asked
 *   again after @retry_after_us (> 0) on the limiter's clock, or sooner
 *   when a local release, a resize or a reset may have made room.
 * - @error set (transfer full; the verdict is ignored): the waiter fails
 *   with it, for example PFT_ERROR_BACKEND_UNAVAILABLE.
 *
 * Drops the reference to the waiter that the ask held. */
void       _pft_admission_ask_answer   (PftAdmissionAsk      *ask,
                                        PftAdmissionVerdict   verdict,
                                        guint64               entry,
                                        gint64                retry_after_us,
                                        GError               *error);
/* The cost the ask is for (for a backend that queues asks). */
guint64    _pft_admission_ask_get_cost (PftAdmissionAsk      *ask);

G_END_DECLS
