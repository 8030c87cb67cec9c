/* pft-main-context-batch-private.h: batched delivery of items to the
 * GMainContexts they belong to
 *
 * Items finished in other threads (exec results, limiter admissions) must
 * be handled in their run's GMainContext. One GSource per context and
 * batch collects every item added until it runs, so that a burst of items
 * costs that context one wakeup, not one per item.
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Embedded in the caller's own struct; find the struct back with
 * PFT_MAIN_CONTEXT_BATCH_ITEM_CONTAINER(). */
typedef struct _PftMainContextBatchItem PftMainContextBatchItem;
struct _PftMainContextBatchItem
{
  PftMainContextBatchItem *next;   /* private */
};

#define PFT_MAIN_CONTEXT_BATCH_ITEM_CONTAINER(item, type, member) \
  ((type *) (gpointer) ((char *) (item) - G_STRUCT_OFFSET (type, member)))

/* Called once per item, with no lock held: @deliver in the item's
 * context, in the order the items were added; @drop instead when the
 * source was destroyed before it ran (its context was freed or the
 * source destroyed), in whatever thread that happened. */
typedef void (*PftMainContextBatchFunc) (PftMainContextBatchItem *item);

/* One kind of item (statically allocated, one per caller): its callbacks
 * and the sources pending per context. Initialise with
 * PFT_MAIN_CONTEXT_BATCH_INIT. */
typedef struct
{
  GMutex                   lock;
  GHashTable              *pending;   /* GMainContext -> its open source */
  const char              *name;      /* of the sources, static */
  int                      priority;
  PftMainContextBatchFunc  deliver;
  PftMainContextBatchFunc  drop;
} PftMainContextBatch;

#define PFT_MAIN_CONTEXT_BATCH_INIT(name, priority, deliver, drop) \
  { { 0 }, NULL, (name), (priority), (deliver), (drop) }

/* Hands @item to the batch of @context (not NULL), attaching a new source
 * there if none is pending. The caller keeps @context alive until @item
 * is delivered or dropped (typically the item holds a reference).
 * Thread-safe. */
void _pft_main_context_batch_add (PftMainContextBatch     *batch,
                                  GMainContext            *context,
                                  PftMainContextBatchItem *item);

G_END_DECLS
