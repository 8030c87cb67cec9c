/* pft-node-vfuncs.h: calling a node's virtual functions
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-node.h"

G_BEGIN_DECLS

PFT_AVAILABLE_IN_ALL
void            pft_node_class_set_begins_requests (PftNodeClass *klass,
                                                    gboolean      begins_requests);

PFT_AVAILABLE_IN_ALL
void            pft_node_prep              (PftNode         *self,
                                            PftContext      *ctx,
                                            GValue          *result,
                                            GError         **error);
PFT_AVAILABLE_IN_ALL
void            pft_node_exec              (PftNode         *self,
                                            PftContext      *ctx,
                                            const GValue    *item,
                                            GValue          *result,
                                            GError         **error);
PFT_AVAILABLE_IN_ALL
void            pft_node_exec_async        (PftNode         *self,
                                            PftContext      *ctx,
                                            const GValue    *item,
                                            GCancellable    *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer         user_data);
PFT_AVAILABLE_IN_ALL
void            pft_node_exec_finish       (PftNode         *self,
                                            GAsyncResult    *result,
                                            GValue          *value,
                                            GError         **error);
PFT_AVAILABLE_IN_ALL
void            pft_node_exec_task         (PftNode         *self,
                                            PftContext      *ctx,
                                            const GValue    *item,
                                            GTask           *task,
                                            GError         **error);
PFT_AVAILABLE_IN_ALL
void            pft_node_exec_fallback     (PftNode         *self,
                                            PftContext      *ctx,
                                            const GValue    *item,
                                            const GError    *reason,
                                            GValue          *result,
                                            GError         **error);
PFT_AVAILABLE_IN_ALL
char           *pft_node_post              (PftNode         *self,
                                            PftContext      *ctx,
                                            const GValue    *prep_result,
                                            const GValue    *exec_result,
                                            GError         **error);
PFT_AVAILABLE_IN_ALL
gboolean        pft_node_is_rate_limit     (PftNode         *self,
                                            const GError    *error);

G_END_DECLS
