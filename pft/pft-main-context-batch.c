/* pft-main-context-batch.c: batched delivery of items to their
 * GMainContexts
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-main-context-batch-private.h"

/* The source of one context: items added until it runs. Once it runs (or
 * goes away) it leaves @batch->open, so the next item opens another. */
typedef struct _PftMainContextBatchSource PftMainContextBatchSource;
struct _PftMainContextBatchSource
{
  GSource                    source;
  PftMainContextBatch       *batch;
  GMainContext              *context;
  /* Under batch->lock: the items, and the links in batch->open while the
   * source takes items. A list, not a hash table: a process has one or a
   * few contexts, and a lookup is on the path of every delivery. */
  PftMainContextBatchItem   *head;
  PftMainContextBatchItem   *tail;
  PftMainContextBatchSource *prev_open;
  PftMainContextBatchSource *next_open;
  gboolean                   is_open;
};

static inline void
pft_main_context_batch_source_close (PftMainContextBatchSource *source)
{
  PftMainContextBatch *batch = source->batch;

  if (!source->is_open)
    return;
  source->is_open = FALSE;
  if (source->prev_open != NULL)
    source->prev_open->next_open = source->next_open;
  else
    batch->open = source->next_open;
  if (source->next_open != NULL)
    source->next_open->prev_open = source->prev_open;
  source->prev_open = source->next_open = NULL;
}

/* Takes the items of @source and closes it to new ones. */
static PftMainContextBatchItem *
pft_main_context_batch_source_steal (PftMainContextBatchSource *source)
{
  PftMainContextBatch *batch = source->batch;
  PftMainContextBatchItem *head;

  g_mutex_lock (&batch->lock);
  pft_main_context_batch_source_close (source);
  head = source->head;
  source->head = source->tail = NULL;
  g_mutex_unlock (&batch->lock);
  return head;
}

/* Hands every item of @source to @func, in order; @func may free them. */
static void
pft_main_context_batch_source_flush (PftMainContextBatchSource *source,
                                     PftMainContextBatchFunc    func)
{
  PftMainContextBatchItem *item = pft_main_context_batch_source_steal (source);

  while (item != NULL)
    {
      PftMainContextBatchItem *next = item->next;

      func (item);
      item = next;
    }
}

static gboolean
pft_main_context_batch_source_dispatch (GSource     *gsource,
                                        GSourceFunc  callback,
                                        gpointer     user_data)
{
  PftMainContextBatchSource *source = (PftMainContextBatchSource *) gsource;

  pft_main_context_batch_source_flush (source, source->batch->deliver);
  return G_SOURCE_REMOVE;
}

/* With items left only when the source was destroyed before it ran. */
static void
pft_main_context_batch_source_finalize (GSource *gsource)
{
  PftMainContextBatchSource *source = (PftMainContextBatchSource *) gsource;

  pft_main_context_batch_source_flush (source, source->batch->drop);
}

static GSourceFuncs pft_main_context_batch_source_funcs = {
  NULL, NULL,
  pft_main_context_batch_source_dispatch,
  pft_main_context_batch_source_finalize,
  NULL, NULL,
};

void
_pft_main_context_batch_add (PftMainContextBatch     *batch,
                             GMainContext            *context,
                             PftMainContextBatchItem *item)
{
  PftMainContextBatchSource *source;
  GSource *fresh = NULL;

  g_return_if_fail (batch != NULL);
  g_return_if_fail (context != NULL);
  g_return_if_fail (item != NULL);

  item->next = NULL;
  g_mutex_lock (&batch->lock);
  for (source = batch->open; source != NULL; source = source->next_open)
    if (source->context == context)
      break;
  if (source == NULL)
    {
      fresh = g_source_new (&pft_main_context_batch_source_funcs,
                            sizeof (PftMainContextBatchSource));
      g_source_set_priority (fresh, batch->priority);
      g_source_set_static_name (fresh, batch->name);
      g_source_set_ready_time (fresh, 0);
      source = (PftMainContextBatchSource *) fresh;
      source->batch = batch;
      source->context = context;
      source->is_open = TRUE;
      source->next_open = batch->open;
      if (batch->open != NULL)
        batch->open->prev_open = source;
      batch->open = source;
    }
  if (source->tail != NULL)
    source->tail->next = item;
  else
    source->head = item;
  source->tail = item;
  g_mutex_unlock (&batch->lock);

  if (fresh != NULL)
    {
      /* Once attached, the source may run at once in the context's thread
       * and drop the item that keeps the context alive: hold it until the
       * attach returned. Until attached, nothing can run the source. */
      g_main_context_ref (context);
      g_source_attach (fresh, context);
      g_source_unref (fresh);
      g_main_context_unref (context);
    }
}
