/* pft-dispatch-private.h: batch dispatch, written once for batch nodes
 * and batch flows
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft-node-private.h"

G_BEGIN_DECLS

typedef struct _PftDispatch PftDispatch;

/* Starts item @index; the job must end with exactly one call of
 * _pft_dispatch_item_done(), never from inside this function. */
typedef void (*PftDispatchStartFunc) (PftDispatch  *dispatch,
                                      guint         index,
                                      GCancellable *cancellable,
                                      gpointer      user_data);

/* Called once at the end with the results in input order (transfer full)
 * or the first error (transfer full). */
typedef void (*PftDispatchDoneFunc)  (PftValues *results,
                                      GError    *error,
                                      gpointer   user_data);

PftDispatch *_pft_dispatch_start     (guint                 n_items,
                                      guint                 max_concurrent,
                                      GCancellable         *cancellable,
                                      PftDispatchStartFunc  start,
                                      PftDispatchDoneFunc   done,
                                      gpointer              user_data);

/* A PftItemDoneFunc: @user_data is the PftDispatch. */
void         _pft_dispatch_item_done (gpointer  user_data,
                                      guint     index,
                                      GValue   *result,
                                      GError   *error);

G_END_DECLS
