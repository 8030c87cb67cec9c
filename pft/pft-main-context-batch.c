/* pft-main-context-batch.c: batched delivery of items to their
 * GMainContexts
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-main-context-batch-private.h"

/* The source of one context: items added until it runs. Once it runs (or
 * goes away) it leaves @batch->pending, so the next item opens another. */
typedef struct
{
  GSource                  source;
  PftMainContextBatch     *batch;
  GMainContext            *context;   /* the key in batch->pending */
  PftMainContextBatchItem *head;      /* under batch->lock */
  PftMainContextBatchItem *tail;
} PftMainContextBatchSource;

/* Takes the items of @source and closes it to new ones. */
static PftMainContextBatchItem *
pft_main_context_batch_source_steal (PftMainContextBatchSource *source)
{
  PftMainContextBatch *batch = source->batch;
  PftMainContextBatchItem *head;

  g_mutex_lock (&batch->lock);
  if (batch->pending != NULL &&
      g_hash_table_lookup (batch->pending, source->context) == source)
    g_hash_table_remove (batch->pending, source->context);
  head = source->head;
  source->head = source->tail = NULL;
  g_mutex_unlock (&batch->lock);
  return head;
}

static gboolean
pft_main_context_batch_source_dispatch (GSource     *gsource,
                                        GSourceFunc  callback,
                                        gpointer     user_data)
{
  PftMainContextBatchSource *source = (PftMainContextBatchSource *) gsource;
  PftMainContextBatchFunc deliver = source->batch->deliver;
  PftMainContextBatchItem *item;

  item = pft_main_context_batch_source_steal (source);
  while (item != NULL)
    {
      /* @deliver may free the item. */
      PftMainContextBatchItem *next = item->next;

      deliver (item);
      item = next;
    }
  return G_SOURCE_REMOVE;
}

/* With items left only when the source was destroyed before it ran. */
static void
pft_main_context_batch_source_finalize (GSource *gsource)
{
  PftMainContextBatchSource *source = (PftMainContextBatchSource *) gsource;
  PftMainContextBatchFunc drop = source->batch->drop;
  PftMainContextBatchItem *item;

  item = pft_main_context_batch_source_steal (source);
  while (item != NULL)
    {
      PftMainContextBatchItem *next = item->next;

      drop (item);
      item = next;
    }
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
  if (G_UNLIKELY (batch->pending == NULL))
    batch->pending = g_hash_table_new (NULL, NULL);
  source = g_hash_table_lookup (batch->pending, context);
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
      g_hash_table_insert (batch->pending, context, source);
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
