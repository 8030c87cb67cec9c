/* pft-context-private.h: what the engine does to an item's PftContext
 * (internal)
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib-object.h>

#include "pft-context.h"

G_BEGIN_DECLS

/* What pft_context_return_value() fills in while a class's exec_async
 * runs (see _pft_node_start_exec()). */
typedef struct
{
  GThread  *thread;     /* the one that may return */
  gboolean  returned;
  GValue    value;
  GError   *error;
} PftSyncReturn;

PftSyncReturn *_pft_context_set_sync_return (PftContext    *self,
                                             PftSyncReturn *sync_return);

/* Reuse of item contexts within a batch: one nobody else holds serves
 * the next item. */
gboolean       _pft_context_is_recyclable   (PftContext    *self);
void           _pft_context_reset_for_item  (PftContext    *self,
                                             gint64         index);

G_END_DECLS
