/* pft-clock.c: the injectable clock and deadline timers
 *
 * SPDX-License-Identifier: MIT
 */

#define _GNU_SOURCE 1

#include <glib.h>

#if defined(__linux__)
# include <poll.h>
# include <signal.h>
# include <sys/prctl.h>
# include <time.h>
# define PFT_HAVE_PPOLL 1
#endif

#include "pft-clock-private.h"

struct _PftClock
{
  gatomicrefcount   ref_count;
  gboolean          fake;

  /* Fake clocks only, all protected by @mutex. */
  GMutex            mutex;
  gint64            now;
  GList            *timers;
};

struct _PftClockTimer
{
  gatomicrefcount   ref_count;
  PftClock         *clock;
  GWeakRef          target;
  PftClockTimerFunc func;
  /* Protected by clock->mutex (fake) or timer_lock (system). */
  gint64            deadline;
  gboolean          freed;
  /* System clock only: the GSource on the worker context. */
  GSource          *source;
};

/* ------------------------------------------------------------------ */
/* The system clock's timers run on one private thread, "pft-timer", with
 * a microsecond poll (why: docs/throttling.md, "Design notes: the clock's
 * timers"). */

static GMutex     timer_lock;
static GPtrArray *system_timers;   /* (element-type PftClockTimer) */

typedef struct
{
  GSource        source;
  PftClockTimer *timer;   /* (owned) */
} PftTimerSource;

static PftClockTimer *pft_clock_timer_ref   (PftClockTimer *timer);
static void           pft_clock_timer_unref (PftClockTimer *timer);

#ifdef PFT_HAVE_PPOLL
G_STATIC_ASSERT (sizeof (GPollFD) == sizeof (struct pollfd));
#endif

static gint
pft_clock_precise_poll (GPollFD *fds,
                        guint    nfds,
                        gint     timeout_ms)
{
#ifdef PFT_HAVE_PPOLL
  gint64 next = -1;

  g_mutex_lock (&timer_lock);
  for (guint i = 0; i < system_timers->len; i++)
    {
      PftClockTimer *timer = g_ptr_array_index (system_timers, i);
      if (timer->deadline >= 0 && (next < 0 || timer->deadline < next))
        next = timer->deadline;
    }
  g_mutex_unlock (&timer_lock);

  if (next >= 0 && timeout_ms != 0)
    {
      gint64 now = g_get_monotonic_time ();
      gint64 wait_us = next > now ? next - now : 0;   /* MAX() would read the clock twice */

      if (timeout_ms < 0 || wait_us < (gint64) timeout_ms * 1000)
        {
          struct timespec ts;

          /* For poll timeouts the kernel adds a slack of 0.1% of the
           * timeout whatever the thread's timer slack (1 ms late for a 1 s
           * window). Sleep a little short of long deadlines instead: the
           * context then finds the source not ready yet and polls again for
           * the short rest, which is precise. */
          if (wait_us > 2000)
            wait_us -= wait_us / 500 + 100;

          ts.tv_sec = wait_us / G_USEC_PER_SEC;
          ts.tv_nsec = (wait_us % G_USEC_PER_SEC) * 1000;
          return ppoll ((struct pollfd *) fds, nfds, &ts, NULL);
        }
    }
#endif
  return g_poll (fds, nfds, timeout_ms);
}

static gpointer
pft_clock_worker_thread (gpointer data)
{
  GMainContext *context = data;

#ifdef PFT_HAVE_PPOLL
  prctl (PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
#endif
  g_main_context_push_thread_default (context);
  for (;;)
    g_main_context_iteration (context, TRUE);
  return NULL;
}

static GMainContext *
pft_clock_get_worker_context (void)
{
  static GMainContext *context;

  if (g_once_init_enter (&context))
    {
      GMainContext *ctx = g_main_context_new ();

      g_mutex_lock (&timer_lock);
      system_timers = g_ptr_array_new ();
      g_mutex_unlock (&timer_lock);
      g_main_context_set_poll_func (ctx, pft_clock_precise_poll);
      g_thread_unref (g_thread_new ("pft-timer", pft_clock_worker_thread, ctx));
      g_once_init_leave (&context, ctx);
    }
  return context;
}

static gboolean
pft_clock_timer_source_dispatch (GSource     *source,
                                 GSourceFunc  callback,
                                 gpointer     user_data)
{
  PftClockTimer *timer = ((PftTimerSource *) source)->timer;
  gboolean fire = FALSE;

  g_mutex_lock (&timer_lock);
  if (!timer->freed && timer->deadline >= 0 &&
      timer->deadline <= g_get_monotonic_time ())
    {
      timer->deadline = -1;
      g_source_set_ready_time (source, -1);
      fire = TRUE;
    }
  g_mutex_unlock (&timer_lock);

  if (fire)
    {
      GObject *target = g_weak_ref_get (&timer->target);

      if (target != NULL)
        {
          timer->func (target);
          g_object_unref (target);
        }
    }
  return G_SOURCE_CONTINUE;
}

static void
pft_clock_timer_source_finalize (GSource *source)
{
  g_clear_pointer (&((PftTimerSource *) source)->timer, pft_clock_timer_unref);
}

static GSourceFuncs timer_source_funcs = {
  .dispatch = pft_clock_timer_source_dispatch,
  .finalize = pft_clock_timer_source_finalize,
};

/* ------------------------------------------------------------------ */

static PftClock system_clock = { .fake = FALSE };

/*
 * _pft_clock_get_system:
 *
 * Returns: (transfer none): the process-wide monotonic clock
 */
PftClock *
_pft_clock_get_system (void)
{
  return &system_clock;
}

/*
 * _pft_fake_clock_new:
 * @start_us: the time it reads at first, in microseconds
 *
 * Returns: (transfer full): a clock that moves only when advanced
 */
PftClock *
_pft_fake_clock_new (gint64 start_us)
{
  PftClock *clock = g_new0 (PftClock, 1);

  g_atomic_ref_count_init (&clock->ref_count);
  clock->fake = TRUE;
  g_mutex_init (&clock->mutex);
  clock->now = start_us;
  return clock;
}

PftClock *
_pft_clock_ref (PftClock *clock)
{
  g_return_val_if_fail (clock != NULL, NULL);

  if (clock->fake)
    g_atomic_ref_count_inc (&clock->ref_count);
  return clock;
}

void
_pft_clock_unref (PftClock *clock)
{
  g_return_if_fail (clock != NULL);

  if (!clock->fake)
    return;
  if (g_atomic_ref_count_dec (&clock->ref_count))
    {
      /* Every timer holds a reference, so none is left here. */
      g_assert (clock->timers == NULL);
      g_mutex_clear (&clock->mutex);
      g_free (clock);
    }
}

gint64
_pft_clock_now_us (PftClock *clock)
{
  gint64 now;

  if (G_LIKELY (!clock->fake))
    return g_get_monotonic_time ();

  g_mutex_lock (&clock->mutex);
  now = clock->now;
  g_mutex_unlock (&clock->mutex);
  return now;
}

gboolean
_pft_clock_cond_wait_until (PftClock *clock,
                            GCond    *cond,
                            GMutex   *mutex,
                            gint64    deadline_us)
{
  if (clock->fake || deadline_us < 0)
    {
      g_cond_wait (cond, mutex);
      return TRUE;
    }
  return g_cond_wait_until (cond, mutex, deadline_us);
}

static PftClockTimer *
pft_clock_timer_ref (PftClockTimer *timer)
{
  g_atomic_ref_count_inc (&timer->ref_count);
  return timer;
}

static void
pft_clock_timer_unref (PftClockTimer *timer)
{
  if (g_atomic_ref_count_dec (&timer->ref_count))
    {
      g_weak_ref_clear (&timer->target);
      _pft_clock_unref (timer->clock);
      g_free (timer);
    }
}

PftClockTimer *
_pft_clock_timer_new (PftClock          *clock,
                      GObject           *target,
                      PftClockTimerFunc  func)
{
  PftClockTimer *timer;

  g_return_val_if_fail (clock != NULL, NULL);
  g_return_val_if_fail (G_IS_OBJECT (target), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  timer = g_new0 (PftClockTimer, 1);
  g_atomic_ref_count_init (&timer->ref_count);
  timer->clock = _pft_clock_ref (clock);
  g_weak_ref_init (&timer->target, target);
  timer->func = func;
  timer->deadline = -1;

  if (clock->fake)
    {
      g_mutex_lock (&clock->mutex);
      clock->timers = g_list_prepend (clock->timers, timer);
      g_mutex_unlock (&clock->mutex);
    }
  else
    {
      GMainContext *context = pft_clock_get_worker_context ();

      timer->source = g_source_new (&timer_source_funcs, sizeof (PftTimerSource));
      ((PftTimerSource *) timer->source)->timer = pft_clock_timer_ref (timer);
      g_source_set_priority (timer->source, G_PRIORITY_HIGH);
      g_source_set_name (timer->source, "[pft] limiter deadline");
      g_mutex_lock (&timer_lock);
      g_ptr_array_add (system_timers, timer);
      g_mutex_unlock (&timer_lock);
      g_source_attach (timer->source, context);
    }
  return timer;
}

void
_pft_clock_timer_set_deadline (PftClockTimer *timer,
                               gint64         deadline_us)
{
  g_return_if_fail (timer != NULL);

  if (deadline_us < 0)
    deadline_us = -1;

  if (timer->clock->fake)
    {
      g_mutex_lock (&timer->clock->mutex);
      timer->deadline = deadline_us;
      g_mutex_unlock (&timer->clock->mutex);
    }
  else
    {
      g_mutex_lock (&timer_lock);
      if (timer->deadline != deadline_us)
        {
          timer->deadline = deadline_us;
          /* Wakes the worker up, which then polls for the new deadline. */
          g_source_set_ready_time (timer->source, deadline_us);
        }
      g_mutex_unlock (&timer_lock);
    }
}

void
_pft_clock_timer_free (PftClockTimer *timer)
{
  PftClock *clock;

  if (timer == NULL)
    return;

  clock = timer->clock;
  /* No callback can start after this: the weak reference is gone. */
  g_weak_ref_set (&timer->target, NULL);

  if (clock->fake)
    {
      g_mutex_lock (&clock->mutex);
      timer->freed = TRUE;
      timer->deadline = -1;
      clock->timers = g_list_remove (clock->timers, timer);
      g_mutex_unlock (&clock->mutex);
    }
  else
    {
      g_mutex_lock (&timer_lock);
      timer->freed = TRUE;
      timer->deadline = -1;
      g_ptr_array_remove_fast (system_timers, timer);
      g_mutex_unlock (&timer_lock);
      g_source_destroy (timer->source);
      g_clear_pointer (&timer->source, g_source_unref);
    }
  pft_clock_timer_unref (timer);
}

void
_pft_fake_clock_advance (PftClock *clock,
                         gint64    usec)
{
  gint64 target;

  g_return_if_fail (clock != NULL && clock->fake);
  g_return_if_fail (usec >= 0);

  g_mutex_lock (&clock->mutex);
  target = clock->now + usec;
  for (;;)
    {
      PftClockTimer *due = NULL;
      GObject *obj;

      for (GList *l = clock->timers; l != NULL; l = l->next)
        {
          PftClockTimer *timer = l->data;
          if (timer->deadline >= 0 && timer->deadline <= target &&
              (due == NULL || timer->deadline < due->deadline))
            due = timer;
        }
      if (due == NULL)
        break;

      /* Time passes through each deadline: the callback sees the clock
       * read exactly the time it was due. */
      clock->now = MAX (clock->now, due->deadline);
      due->deadline = -1;
      pft_clock_timer_ref (due);
      g_mutex_unlock (&clock->mutex);

      obj = g_weak_ref_get (&due->target);
      if (obj != NULL)
        {
          due->func (obj);
          g_object_unref (obj);
        }
      pft_clock_timer_unref (due);

      g_mutex_lock (&clock->mutex);
    }
  clock->now = target;
  g_mutex_unlock (&clock->mutex);
}

gint64
_pft_fake_clock_get_next_deadline (PftClock *clock)
{
  gint64 next = -1;

  g_return_val_if_fail (clock != NULL && clock->fake, -1);

  g_mutex_lock (&clock->mutex);
  for (GList *l = clock->timers; l != NULL; l = l->next)
    {
      PftClockTimer *timer = l->data;
      if (timer->deadline >= 0 && (next < 0 || timer->deadline < next))
        next = timer->deadline;
    }
  g_mutex_unlock (&clock->mutex);
  return next;
}

guint
_pft_fake_clock_get_n_armed (PftClock *clock)
{
  guint n = 0;

  g_return_val_if_fail (clock != NULL && clock->fake, 0);

  g_mutex_lock (&clock->mutex);
  for (GList *l = clock->timers; l != NULL; l = l->next)
    if (((PftClockTimer *) l->data)->deadline >= 0)
      n++;
  g_mutex_unlock (&clock->mutex);
  return n;
}
