/* pft-dispatch.c: batch dispatch for batch nodes and batch flows
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-dispatch-private.h"

/* Items are started lazily: a new one only when a slot is free, so memory
 * for work in flight is O(max-concurrent) whatever the batch size. The
 * results array is the only O(items) structure. */
struct _PftDispatch
{
  guint                 n_items;
  guint                 next;
  guint                 in_flight;
  guint                 max_concurrent;   /* 0 = unbounded */
  PftValues            *results;
  GError               *error;
  GCancellable         *cancellable;      /* ours, cancelled on failure */
  GCancellable         *parent;
  gulong                parent_id;
  PftDispatchStartFunc  start;
  PftDispatchDoneFunc   done;
  gpointer              user_data;
  gboolean              pumping;
};

static void
parent_cancelled (GCancellable *parent,
                  GCancellable *ours)
{
  g_cancellable_cancel (ours);
}

static void
dispatch_finish (PftDispatch *d)
{
  PftDispatchDoneFunc done = d->done;
  gpointer user_data = d->user_data;
  PftValues *results = g_steal_pointer (&d->results);
  GError *error = g_steal_pointer (&d->error);

  if (d->parent_id != 0)
    g_cancellable_disconnect (d->parent, d->parent_id);
  g_clear_object (&d->parent);
  g_clear_object (&d->cancellable);
  g_free (d);

  if (error != NULL)
    g_clear_object (&results);
  done (results, error, user_data);
}

/* Returns TRUE when @d was finished (and freed). */
static gboolean
dispatch_pump (PftDispatch *d)
{
  if (d->pumping)
    return FALSE;
  d->pumping = TRUE;
  while (d->error == NULL &&
         d->next < d->n_items &&
         (d->max_concurrent == 0 || d->in_flight < d->max_concurrent))
    {
      guint index = d->next++;

      d->in_flight++;
      d->start (d, index, d->cancellable, d->user_data);
    }
  d->pumping = FALSE;

  if (d->in_flight == 0 && (d->error != NULL || d->next >= d->n_items))
    {
      dispatch_finish (d);
      return TRUE;
    }
  return FALSE;
}

PftDispatch *
_pft_dispatch_start (guint                 n_items,
                     guint                 max_concurrent,
                     GCancellable         *cancellable,
                     PftDispatchStartFunc  start,
                     PftDispatchDoneFunc   done,
                     gpointer              user_data)
{
  PftDispatch *d = g_new0 (PftDispatch, 1);

  d->n_items = n_items;
  d->max_concurrent = max_concurrent;
  d->results = pft_values_new_sized (n_items);
  _pft_values_set_length (d->results, n_items);
  d->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      d->parent = g_object_ref (cancellable);
      /* Calls parent_cancelled at once if already cancelled. */
      d->parent_id = g_cancellable_connect (cancellable, G_CALLBACK (parent_cancelled),
                                            d->cancellable, NULL);
    }
  d->start = start;
  d->done = done;
  d->user_data = user_data;

  if (dispatch_pump (d))
    return NULL;
  return d;
}

void
_pft_dispatch_item_done (gpointer  user_data,
                         guint     index,
                         GValue   *result,
                         GError   *error)
{
  PftDispatch *d = user_data;

  g_assert (d->in_flight > 0);
  d->in_flight--;

  if (error != NULL)
    {
      /* The first real failure wins; the cancellations it causes in the
       * siblings are consequences, not news. */
      if (d->error == NULL)
        {
          d->error = error;
          g_cancellable_cancel (d->cancellable);
        }
      else
        g_error_free (error);
    }
  else
    {
      _pft_values_take_at (d->results, index, result);
    }

  dispatch_pump (d);
}
