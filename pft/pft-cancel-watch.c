/* pft-cancel-watch.c: a call on a main context when a cancellable is
 * cancelled
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-private.h"

/* The call is made from an idle on @context, never from inside
 * g_cancellable_cancel(), which may run in another thread (the clock's
 * timer thread cancels a timed-out attempt).
 *
 * Not a GCancellableSource: in GLib 2.74 one whose last reference goes
 * while another thread is still inside g_cancellable_cancel() is
 * resurrected by its dispose and never freed. Not disconnected either
 * (g_cancellable_disconnect() deadlocks when called from a "cancelled"
 * handler of the same emission): the handler stays until the cancellable
 * goes, so the callee must tell a call that came too late, and the
 * cancellable should be short-lived (one attempt's). */
typedef struct
{
  gatomicrefcount  ref_count;
  GMainContext    *context;
  GSourceFunc      func;
  gpointer         data;
  GDestroyNotify   notify;
} PftCancelWatch;

static PftCancelWatch *
pft_cancel_watch_ref (PftCancelWatch *watch)
{
  g_atomic_ref_count_inc (&watch->ref_count);
  return watch;
}

static void
pft_cancel_watch_unref (gpointer data)
{
  PftCancelWatch *watch = data;

  if (g_atomic_ref_count_dec (&watch->ref_count))
    {
      if (watch->notify != NULL)
        watch->notify (watch->data);
      g_main_context_unref (watch->context);
      g_free (watch);
    }
}

static gboolean
pft_cancel_watch_dispatch (gpointer data)
{
  PftCancelWatch *watch = data;

  watch->func (watch->data);
  return G_SOURCE_REMOVE;
}

/* In the cancelling thread. */
static void
pft_cancel_watch_cancelled (GCancellable   *cancellable,
                            PftCancelWatch *watch)
{
  GSource *idle = g_idle_source_new ();

  g_source_set_priority (idle, G_PRIORITY_DEFAULT);
  g_source_set_static_name (idle, "[pft] cancelled");
  g_source_set_callback (idle, pft_cancel_watch_dispatch, pft_cancel_watch_ref (watch),
                         pft_cancel_watch_unref);
  g_source_attach (idle, watch->context);
  g_source_unref (idle);
}

void
_pft_cancel_watch_connect (GMainContext   *context,
                           GCancellable   *cancellable,
                           GSourceFunc     func,
                           gpointer        data,
                           GDestroyNotify  notify)
{
  PftCancelWatch *watch = g_new0 (PftCancelWatch, 1);

  g_atomic_ref_count_init (&watch->ref_count);
  watch->context = g_main_context_ref (context);
  watch->func = func;
  watch->data = data;
  watch->notify = notify;
  /* Calls the handler at once if already cancelled. */
  g_cancellable_connect (cancellable, G_CALLBACK (pft_cancel_watch_cancelled), watch,
                         pft_cancel_watch_unref);
}
