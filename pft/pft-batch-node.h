/* pft-batch-node.h: one exec per item
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-node.h"

G_BEGIN_DECLS

#define PFT_TYPE_BATCH_NODE (pft_batch_node_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (PftBatchNode, pft_batch_node, PFT, BATCH_NODE, PftNode)

/**
 * PftBatchNodeClass:
 * @parent_class: the parent class
 *
 * The class of [class@Pft.BatchNode]. Subclasses override the vfuncs of
 * [class@Pft.Node]: `prep` returns a [class@Pft.Values], `exec` is called
 * once per item, `post` receives the results as a [class@Pft.Values].
 *
 * Since: 0.1
 */
struct _PftBatchNodeClass
{
  PftNodeClass parent_class;

  /*< private >*/
  gpointer _reserved[8];
};

PFT_AVAILABLE_IN_ALL
PftNode *pft_batch_node_new                (void);
PFT_AVAILABLE_IN_ALL
guint    pft_batch_node_get_max_concurrent (PftBatchNode *self);
PFT_AVAILABLE_IN_ALL
void     pft_batch_node_set_max_concurrent (PftBatchNode *self,
                                            guint         max_concurrent);

G_END_DECLS
