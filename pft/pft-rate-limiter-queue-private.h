/* pft-rate-limiter-queue-private.h: the limiter's waiters and acquire core
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft-rate-limiter-private.h"

G_BEGIN_DECLS

typedef struct _PftRateLimiterWaiter PftRateLimiterWaiter;

/* Shared by pft-rate-limiter.c (the GObject: properties, limits, stats)
 * and pft-rate-limiter-queue.c (waiters, admission, delivery). */
struct _PftRateLimiter
{
  GObject              parent_instance;

  GMutex               mutex;

  /* Everything below is protected by @mutex. */
  PftClock            *clock;
  PftClockTimer       *timer;          /* created when first needed */
  gint64               timer_deadline; /* -1: disarmed */
  PftAdmission        *admission;
  PftAdmissionLimits   limits;
  double               window;         /* seconds, as set */
  guint                in_flight;
  guint                n_asking;       /* asks the admission has not answered */
  gint64               ask_retry_at;   /* -1, or when a refused ask may be asked again */
  GQueue               waiters;        /* (element-type PftRateLimiterWaiter), FIFO */
  GQueue               parked;         /* (element-type PftRateLimiterWaiter), FIFO: see park */
  guint64              total_admitted;
  guint64              total_pauses;
  /* After a pause, one request (the probe) goes first, and the others
   * wait for it to come back without a rate limit. */
  gboolean             half_open;
  gboolean             probe_out;
  gboolean             probe_failed;
};

/* What a locked section changed: the counts to notify and the waiters it
 * finished, delivered after unlocking. */
typedef struct
{
  guint                 in_flight;
  guint                 waiting;
  PftRateLimiterWaiter *done;
  PftRateLimiterWaiter **done_tail;
} PftRateLimiterHeld;

/* The properties the limiter's other files notify, set by
 * pft-rate-limiter.c's class_init. */
typedef enum {
  PFT_RATE_LIMITER_PSPEC_MAX_CONCURRENT,
  PFT_RATE_LIMITER_PSPEC_MAX_PER_WINDOW,
  PFT_RATE_LIMITER_PSPEC_WINDOW,
  PFT_RATE_LIMITER_PSPEC_MAX_COST_PER_WINDOW,
  PFT_RATE_LIMITER_PSPEC_MODE,
  PFT_RATE_LIMITER_PSPEC_BURST,
  PFT_RATE_LIMITER_PSPEC_IN_FLIGHT,
  PFT_RATE_LIMITER_PSPEC_WAITING,
  PFT_RATE_LIMITER_N_PSPECS
} PftRateLimiterPspec;

extern GParamSpec *_pft_rate_limiter_pspecs[PFT_RATE_LIMITER_N_PSPECS];
/* Delivers the finished waiters of @held (after unlocking). */
void     _pft_rate_limiter_deliver         (PftRateLimiterHeld  *held);

/* Spins a little on a contended lock before sleeping on it: every locked
 * section is short, and a futex sleep and wakeup cost more than the wait
 * (16 threads on 2 cores: 20 times fewer context switches, see
 * docs/throttling.md). */
static inline void
_pft_rate_limiter_mutex_lock (PftRateLimiter *self)
{
  if (G_LIKELY (g_mutex_trylock (&self->mutex)))
    return;
  for (guint i = 0; i < 100; i++)
    {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause ();
#elif defined(__aarch64__)
      __asm__ __volatile__ ("yield");
#endif
      if (g_mutex_trylock (&self->mutex))
        return;
    }
  g_mutex_lock (&self->mutex);
}

static inline void
_pft_rate_limiter_lock (PftRateLimiter     *self,
                        PftRateLimiterHeld *held)
{
  _pft_rate_limiter_mutex_lock (self);
  held->in_flight = self->in_flight;
  held->waiting = self->waiters.length;
  held->done = NULL;
  held->done_tail = &held->done;
}

/* Unlocks, delivers the finished waiters and notifies in-flight and
 * waiting if they changed. */
static inline void
_pft_rate_limiter_unlock (PftRateLimiter     *self,
                          PftRateLimiterHeld *held)
{
  gboolean in_flight = self->in_flight != held->in_flight;
  gboolean waiting = self->waiters.length != held->waiting;

  g_mutex_unlock (&self->mutex);

  if (held->done != NULL)
    _pft_rate_limiter_deliver (held);
  if (in_flight)
    g_object_notify_by_pspec ((GObject *) self, _pft_rate_limiter_pspecs[PFT_RATE_LIMITER_PSPEC_IN_FLIGHT]);
  if (waiting)
    g_object_notify_by_pspec ((GObject *) self, _pft_rate_limiter_pspecs[PFT_RATE_LIMITER_PSPEC_WAITING]);
}

static inline gint64
_pft_rate_limiter_now_locked (PftRateLimiter *self)
{
  return _pft_clock_now_us (self->clock);
}

/* Admits waiters from the head of the queue while they can go, then arms
 * the timer for when the head may. */
void     _pft_rate_limiter_process_locked  (PftRateLimiter      *self,
                                            PftRateLimiterHeld  *held);
/* Hands grants held back by a lowered max-concurrent on, as far as it
 * allows now. */
void     _pft_rate_limiter_unpark_locked   (PftRateLimiter      *self,
                                            PftRateLimiterHeld  *held);
/* Fails the waiters whose cost is above the (lowered) cost limit. */
void     _pft_rate_limiter_fail_costly_locked (PftRateLimiter     *self,
                                               PftRateLimiterHeld *held);
/* The limits in self->limits changed: tells the admission, then admits
 * whoever can go now (and asks a refused ask again at once). */
void     _pft_rate_limiter_reconfigure_locked (PftRateLimiter     *self,
                                               PftRateLimiterHeld *held);

GError  *_pft_rate_limiter_cost_error      (guint64              cost,
                                            guint64              max_cost);

G_END_DECLS
