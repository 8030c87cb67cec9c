/* pft-sleep.c: a cancellable sleep on the thread-default main context
 *
 * SPDX-License-Identifier: MIT
 */

#include <glib/gi18n-lib.h>

#include "pft-private.h"

/* Not a GCancellableSource: on GLib 2.74 one that is cancelled from
 * another thread while its context destroys it can be resurrected and
 * leak. The cancelled handler only moves the sleep's ready time to now,
 * which is thread-safe, and the handler is disconnected (waiting for a
 * running one) before the source goes. */

typedef struct
{
  GSource       source;
  GTask        *task;
  GCancellable *cancellable;
  gulong        cancel_id;
} SleepSource;

static gboolean
sleep_source_dispatch (GSource     *source,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  SleepSource *sleep = (SleepSource *) source;
  GTask *task = g_steal_pointer (&sleep->task);

  if (sleep->cancel_id != 0)
    {
      g_cancellable_disconnect (sleep->cancellable, sleep->cancel_id);
      sleep->cancel_id = 0;
    }
  if (task != NULL)
    {
      if (!g_task_return_error_if_cancelled (task))
        g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
  return G_SOURCE_REMOVE;
}

static void
sleep_source_finalize (GSource *source)
{
  SleepSource *sleep = (SleepSource *) source;

  if (sleep->cancel_id != 0)
    g_cancellable_disconnect (sleep->cancellable, sleep->cancel_id);
  g_clear_object (&sleep->cancellable);
  g_clear_object (&sleep->task);
}

static GSourceFuncs sleep_source_funcs = {
  .dispatch = sleep_source_dispatch,
  .finalize = sleep_source_finalize,
};

static void
sleep_cancelled (GCancellable *cancellable,
                 GSource      *source)
{
  /* Any thread: wake the sleep now; dispatch reports the cancellation. */
  g_source_set_ready_time (source, 0);
}

void
_pft_sleep_async (double               seconds,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  GSource *source = g_source_new (&sleep_source_funcs, sizeof (SleepSource));
  SleepSource *sleep = (SleepSource *) source;

  g_task_set_source_tag (task, _pft_sleep_async);
  g_source_set_static_name (source, "[pft] sleep");
  g_source_set_ready_time (source, g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC));
  sleep->task = task;
  g_source_attach (source, g_task_get_context (task));
  if (cancellable != NULL)
    {
      sleep->cancellable = g_object_ref (cancellable);
      /* Runs sleep_cancelled at once if already cancelled. The source
       * outlives the handler: finalize disconnects it first. */
      sleep->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (sleep_cancelled), source, NULL);
    }
  g_source_unref (source);
}

gboolean
_pft_sleep_finish (GAsyncResult  *result,
                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
