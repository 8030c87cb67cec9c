/* pft-sleep.c: a cancellable sleep on a PftClock
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-sleep-private.h"

/* A source on the caller's context that becomes ready when either of two
 * cancellables is cancelled: the caller's, or @wake, which the clock's
 * timer cancels at the deadline (in the clock's thread, or in the caller
 * of _pft_fake_clock_advance()). The handlers only move the ready time,
 * which is thread-safe, and are disconnected (waiting for one that runs)
 * before the source goes. Not a GCancellableSource: on GLib 2.74 one
 * cancelled from another thread while its context destroys it can leak. */
typedef struct
{
  GSource        source;
  GTask         *task;
  GCancellable  *cancellable;   /* nullable: the caller's */
  gulong         cancel_id;
  GCancellable  *wake;          /* the timer's target */
  gulong         wake_id;
  PftClockTimer *timer;
} PftSleepSource;

static void
pft_sleep_source_disarm (PftSleepSource *sleep)
{
  g_clear_pointer (&sleep->timer, _pft_clock_timer_free);
  if (sleep->wake_id != 0)
    {
      g_cancellable_disconnect (sleep->wake, sleep->wake_id);
      sleep->wake_id = 0;
    }
  if (sleep->cancel_id != 0)
    {
      g_cancellable_disconnect (sleep->cancellable, sleep->cancel_id);
      sleep->cancel_id = 0;
    }
}

static gboolean
pft_sleep_source_dispatch (GSource     *source,
                           GSourceFunc  callback,
                           gpointer     user_data)
{
  PftSleepSource *sleep = (PftSleepSource *) source;
  GTask *task = g_steal_pointer (&sleep->task);

  pft_sleep_source_disarm (sleep);
  if (task != NULL)
    {
      if (!g_task_return_error_if_cancelled (task))
        g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
  return G_SOURCE_REMOVE;
}

static void
pft_sleep_source_finalize (GSource *source)
{
  PftSleepSource *sleep = (PftSleepSource *) source;

  pft_sleep_source_disarm (sleep);
  g_clear_object (&sleep->wake);
  g_clear_object (&sleep->cancellable);
  g_clear_object (&sleep->task);
}

static GSourceFuncs pft_sleep_source_funcs = {
  .dispatch = pft_sleep_source_dispatch,
  .finalize = pft_sleep_source_finalize,
};

/* Any thread: wake the sleep now; dispatch tells why. */
static void
pft_sleep_source_wake (GCancellable *cancellable,
                       GSource      *source)
{
  g_source_set_ready_time (source, 0);
}

static void
pft_sleep_timer_fired (GObject *wake)
{
  g_cancellable_cancel (G_CANCELLABLE (wake));
}

void
_pft_sleep_async (PftClock            *clock,
                  double               seconds,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  GSource *source = g_source_new (&pft_sleep_source_funcs, sizeof (PftSleepSource));
  PftSleepSource *sleep = (PftSleepSource *) source;
  gint64 now = _pft_clock_now_us (clock);
  double span = seconds * G_USEC_PER_SEC;

  g_task_set_source_tag (task, _pft_sleep_async);
  g_source_set_static_name (source, "[pft] sleep");
  sleep->task = task;
  sleep->wake = g_cancellable_new ();
  /* The source outlives both handlers: dispatch or finalize disconnect
   * them first. */
  sleep->wake_id = g_cancellable_connect (sleep->wake, G_CALLBACK (pft_sleep_source_wake),
                                          source, NULL);
  sleep->timer = _pft_clock_timer_new (clock, G_OBJECT (sleep->wake), pft_sleep_timer_fired);
  g_source_attach (source, g_task_get_context (task));
  if (cancellable != NULL)
    {
      sleep->cancellable = g_object_ref (cancellable);
      /* Runs at once if already cancelled. */
      sleep->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (pft_sleep_source_wake),
                                                source, NULL);
    }
  /* A span beyond any clock's range (PftNode:wait allows G_MAXDOUBLE)
   * never ends, rather than overflow into the past. */
  if (span < (double) (G_MAXINT64 / 2 - now))
    _pft_clock_timer_set_deadline (sleep->timer, now + (gint64) MAX (span, 0));
  g_source_unref (source);
}

gboolean
_pft_sleep_finish (GAsyncResult  *result,
                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
