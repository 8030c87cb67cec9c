/* pft-context-private.h: how the engine makes and reuses contexts
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gio/gio.h>

#include "pft-types.h"

G_BEGIN_DECLS

PftContext *_pft_context_new          (PftNode      *node,
                                       PftStore     *store,
                                       GVariant     *params,
                                       GCancellable *cancellable);
PftContext *_pft_context_new_for_item (PftContext   *parent,
                                       gint64        index,
                                       GCancellable *cancellable);
void        _pft_context_set_attempt  (PftContext   *self,
                                       guint         attempt);
/* A copy of @parent (index and attempt included) with its own
 * @cancellable: the context of one attempt that can be cancelled alone
 * (see PftNode:timeout). */
PftContext *_pft_context_new_for_attempt (PftContext   *parent,
                                          GCancellable *cancellable);
/* The exec of @self marks its request's start itself (see
 * pft_node_class_set_begins_requests()): pft_context_begin_request()
 * starts @entry of @limiter then. @limiter NULL forgets a mark not used. */
void        _pft_context_defer_request_start (PftContext     *self,
                                              PftRateLimiter *limiter,
                                              guint64         entry);

/* What pft_context_return_value() fills in while a class's exec_async
 * runs (see _pft_exec_call_async()). */
typedef struct
{
  GThread  *thread;     /* the one that may return */
  gboolean  returned;
  GValue    value;
  GError   *error;
} PftSyncReturn;

/* Returns the previous one, to put back after. */
PftSyncReturn *_pft_context_set_sync_return (PftContext    *self,
                                             PftSyncReturn *sync_return);

/* Reuse of item contexts within a batch: a context goes back to its
 * batch's pool when its last reference is dropped (by the engine or by
 * whoever kept it, on any thread) while the pool is open. */
typedef struct _PftContextPool PftContextPool;

PftContextPool *_pft_context_pool_new   (void);
/* A context for item @index of the batch whose context is @parent and
 * whose items share @cancellable: one nobody holds any more, reset, or
 * a new one (transfer full). Only one thread at a time may take from a
 * pool (the one running the batch): that keeps the lock-free pool ABA-safe. */
PftContext     *_pft_context_pool_take  (PftContextPool *pool,
                                         PftContext     *parent,
                                         gint64          index,
                                         GCancellable   *cancellable);
/* The batch ended: the free contexts die, and so does each one still
 * held when its last reference goes. Drops the caller's pool reference. */
void            _pft_context_pool_close (PftContextPool *pool);

G_END_DECLS
