/* pft-clock-private.h: the injectable clock and deadline timers (internal)
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* A PftClock gives the time in microseconds and runs deadline timers.
 *
 * The system clock reads g_get_monotonic_time() and runs every timer as
 * a GSource (ready time = deadline, microseconds) on one private worker
 * thread "pft-timer", which polls with microsecond precision.
 *
 * A fake clock stands still until a test moves it with
 * _pft_fake_clock_advance(), which fires every timer that falls due on
 * the way, in deadline order, with the clock reading that deadline while
 * the timer runs; so a 60-second window is tested in microseconds of
 * real time and never flakes. Blocking waits on a fake clock wait only
 * for a signal (the time they would wait for never comes by itself).
 *
 * Everything here is thread-safe. */
typedef struct _PftClock      PftClock;
typedef struct _PftClockTimer PftClockTimer;

/* Called with a strong reference to the timer's target held. */
typedef void (*PftClockTimerFunc) (GObject *target);

PftClock      *_pft_clock_get_system          (void);
PftClock      *_pft_fake_clock_new            (gint64         start_us);
PftClock      *_pft_clock_ref                 (PftClock      *clock);
void           _pft_clock_unref               (PftClock      *clock);
gint64         _pft_clock_now_us              (PftClock      *clock);

/* Waits on @cond (with @mutex held) until it is signalled, or until
 * @deadline_us on this clock (-1 = no deadline). Returns FALSE once the
 * deadline passed. On a fake clock, only a signal ends the wait: the
 * time moves when the test advances it, and the limiter's timer then
 * signals. */
gboolean       _pft_clock_cond_wait_until     (PftClock      *clock,
                                               GCond         *cond,
                                               GMutex        *mutex,
                                               gint64         deadline_us);

/* A timer that calls @func (@target) once its deadline is reached.
 * It holds only a weak reference to @target, so the target may free the
 * timer from its finalize. */
PftClockTimer *_pft_clock_timer_new           (PftClock         *clock,
                                               GObject          *target,
                                               PftClockTimerFunc func);
/* Arms the timer for @deadline_us (on its clock), or disarms it with -1.
 * A timer fires once per arming; re-arm it from the callback if needed. */
void           _pft_clock_timer_set_deadline  (PftClockTimer *timer,
                                               gint64         deadline_us);
/* Disarms and frees the timer; its callback is not called afterwards
 * (unless it is running right now in another thread holding a strong
 * reference to the target, which cannot be the case from the target's
 * finalize). */
void           _pft_clock_timer_free          (PftClockTimer *timer);

/* Fake clock only. Moves time forward by @usec microseconds, firing the
 * timers that fall due on the way (each with the clock reading its
 * deadline), in the calling thread. */
void           _pft_fake_clock_advance        (PftClock      *clock,
                                               gint64         usec);
/* Fake clock only: the earliest armed deadline, or -1. */
gint64         _pft_fake_clock_get_next_deadline (PftClock   *clock);
/* Fake clock only: how many of its timers are armed. */
guint          _pft_fake_clock_get_n_armed    (PftClock      *clock);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PftClock, _pft_clock_unref)

G_END_DECLS
