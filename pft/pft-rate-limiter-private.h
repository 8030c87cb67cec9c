/* pft-rate-limiter-private.h: internals of PftRateLimiter and PftPermit
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft.h"
#include "pft-clock-private.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------------ */
/* The admission seam.
 *
 * PftRateLimiter keeps what is local to the process (the FIFO of waiters,
 * the concurrency count, the timer, completions) and asks a backend about
 * everything that counts against the provider's limits: the window (or the
 * GCRA state in smooth mode), token costs and pauses. The in-memory backend
 * is the only one today; a shared, cross-process backend (a file lock or a
 * Redis script) implements the same table and the nodes never notice.
 *
 * Every function is called with the limiter's mutex held, and must not call
 * back into the limiter. Times are microseconds on the limiter's clock. */

/* Entry id of an admission that was not recorded (no window limit set). */
#define PFT_ENTRY_NONE G_MAXUINT64

/* Every backend marks the entry ids of requests that have not started
 * with this bit, so that a release can tell without asking. */
#define PFT_ENTRY_PENDING_BIT (G_GUINT64_CONSTANT (1) << 62)
#define PFT_ENTRY_IS_PENDING(e) ((e) != PFT_ENTRY_NONE && ((e) & PFT_ENTRY_PENDING_BIT) != 0)

/* The time of a window entry whose request has not started yet (it counts
 * and does not expire), and a ready time that no timer waits for: the
 * admission waits for a pending request to start. */
#define PFT_TIME_PENDING (G_MAXINT64 / 2)

typedef struct
{
  guint           max_per_window;   /* requests per window, 0 = none */
  guint64         max_cost;         /* cost per window, 0 = none */
  gint64          window_us;        /* > 0 */
  PftLimiterMode  mode;
  guint           burst;            /* >= 1, smooth mode */
} PftAdmissionLimits;

typedef struct _PftAdmissionBackend PftAdmissionBackend;

typedef struct
{
  void     (*free)         (PftAdmissionBackend       *backend);
  /* New limits; the history (window entries, pacing state, pause) stays. */
  void     (*configure)    (PftAdmissionBackend       *backend,
                            const PftAdmissionLimits  *limits,
                            gint64                     now_us);
  /* May one request of @cost go at @now_us? If not, *@ready_at_us is the
   * earliest time (> @now_us) at which it may, other admissions aside, or
   * PFT_TIME_PENDING when that depends on a pending request starting. */
  gboolean (*decide)       (PftAdmissionBackend       *backend,
                            guint64                    cost,
                            gint64                     now_us,
                            gint64                    *ready_at_us);
  /* Counts one request of @cost admitted at @now_us, started then or,
   * when @pending, at a later call of start; returns its entry id (for
   * settle and start) or PFT_ENTRY_NONE. */
  guint64  (*record)       (PftAdmissionBackend       *backend,
                            guint64                    cost,
                            gint64                     now_us,
                            gboolean                   pending);
  /* The request @entry really cost @new_cost, not @old_cost. Returns TRUE
   * when capacity was given back. */
  gboolean (*settle)       (PftAdmissionBackend       *backend,
                            guint64                    entry,
                            guint64                    old_cost,
                            guint64                    new_cost,
                            gint64                     now_us);
  /* The request of pending @entry starts at @now_us (its exec is called,
   * its permit reaches its holder): it counts from then. Returns the id
   * the entry has from then on (for settle), or PFT_ENTRY_NONE when
   * @entry was not pending (nothing happens then). */
  guint64  (*start)        (PftAdmissionBackend       *backend,
                            guint64                    entry,
                            gint64                     now_us);
  /* Holds everything until @until_us; returns TRUE if that extended the
   * current pause (a shorter pause never shortens it). */
  gboolean (*pause)        (PftAdmissionBackend       *backend,
                            gint64                     until_us);
  gint64   (*paused_until) (PftAdmissionBackend       *backend);
  /* Live use of the window at @now_us. */
  void     (*usage)        (PftAdmissionBackend       *backend,
                            gint64                     now_us,
                            guint                     *count,
                            guint64                   *cost);
  /* Forgets the history (window entries, pacing state, pause); entry ids
   * handed out before stay unique. */
  void     (*reset)        (PftAdmissionBackend       *backend);
} PftAdmissionBackendVTable;

struct _PftAdmissionBackend
{
  const PftAdmissionBackendVTable *vtable;
};

PftAdmissionBackend *_pft_admission_backend_new_memory (const PftAdmissionLimits *limits);

/* ------------------------------------------------------------------ */
/* The numbers a user gives a limiter: one rule per limit, for every door.
 * FALSE with PFT_ERROR_INVALID_ARGUMENT naming the key and the value. */

#define PFT_WINDOW_MIN 1e-6
#define PFT_WINDOW_MAX 1e9

gboolean   _pft_limit_check_window      (double          window,
                                         GError        **error);
/* @key: "max-concurrent", "max-per-window", "max-cost-per-window" or
 * "burst". */
gboolean   _pft_limit_check_uint        (const char     *key,
                                         guint64         value,
                                         GError        **error);
gboolean   _pft_limit_uint_range        (const char     *key,
                                         guint64        *min,
                                         guint64        *max);

/* ------------------------------------------------------------------ */
/* Limiter internals. */

/* Replaces the clock (the system clock by default). Tests call it right
 * after construction, before anything is acquired. */
void       _pft_rate_limiter_set_clock   (PftRateLimiter *self,
                                          PftClock       *clock);
PftClock  *_pft_rate_limiter_get_clock   (PftRateLimiter *self);

/* Called by PftPermit: gives back the concurrency slot; a request of
 * @entry that never started counts from now. */
void       _pft_rate_limiter_release     (PftRateLimiter *self,
                                          guint64         entry);
/* Sets *@cost to @new_cost under the limiter's lock and corrects the
 * window; returns TRUE if *@cost changed. */
gboolean   _pft_rate_limiter_settle      (PftRateLimiter *self,
                                          guint64         entry,
                                          guint64        *cost,
                                          guint64         new_cost);

/* Slots: an admission without a PftPermit object, for the dispatcher.
 * A slot is a permit in all but the object: it takes a concurrency slot
 * and its request (and cost) is counted in the window the same way; the
 * holder gives it back with _pft_rate_limiter_release_slot(), exactly
 * once. */

/* As pft_rate_limiter_try_acquire(): TRUE with *@entry set when admitted;
 * FALSE with no error when the caller would have to wait; FALSE with
 * PFT_ERROR_INVALID_ARGUMENT when @cost can never go. */
gboolean   _pft_rate_limiter_try_acquire_slot (PftRateLimiter  *self,
                                               guint64          cost,
                                               guint64         *entry,
                                               GError         **error);

/* @entry is the slot's window entry (or PFT_ENTRY_NONE) when @error is
 * NULL; then the callee holds the slot. @error is transfer full. */
typedef void (*PftSlotReadyFunc) (gpointer  user_data,
                                  guint64   entry,
                                  GError   *error);

/* As pft_rate_limiter_acquire_async(), @callback running on the caller's
 * thread-default main context, never before this returns; a cancellation
 * seen when the callback is due wins over a grant (the slot is given back
 * first), as with the GTask of acquire_async. */
void       _pft_rate_limiter_acquire_slot_async (PftRateLimiter   *self,
                                                 guint64           cost,
                                                 GCancellable     *cancellable,
                                                 PftSlotReadyFunc  callback,
                                                 gpointer          user_data);

void       _pft_rate_limiter_release_slot (PftRateLimiter *self,
                                           guint64         entry);

/* The request of a slot or permit (window entry @entry, or
 * PFT_ENTRY_NONE) starts now: its exec is being called. Until then (or
 * until its release) the entry counts and does not expire; from then on
 * it counts for one window. Only the first call counts. Returns the id
 * of the entry from then on (see the backend's start). */
guint64    _pft_rate_limiter_start       (PftRateLimiter *self,
                                          guint64         entry);

/* An exec that is still running after its slot was given back (its run
 * was cancelled): it keeps counting in in-flight, without a window entry,
 * until _pft_rate_limiter_unhold(). Admits nothing and waits for nothing. */
void       _pft_rate_limiter_hold        (PftRateLimiter *self);
void       _pft_rate_limiter_unhold      (PftRateLimiter *self);

/* Called by PftRateLimiter: a permit for an admission already counted. */
PftPermit *_pft_permit_new               (PftRateLimiter *limiter,
                                          guint64         cost,
                                          guint64         entry);
/* The permit reaches its holder: its request starts now. Before the
 * permit is handed out only. */
void       _pft_permit_start             (PftPermit      *self);

G_END_DECLS
