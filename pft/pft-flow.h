/* pft-flow.h: a graph of nodes routed by action
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-node.h"

G_BEGIN_DECLS

#define PFT_TYPE_FLOW (pft_flow_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (PftFlow, pft_flow, PFT, FLOW, PftNode)

/**
 * PftFlowClass:
 * @parent_class: the parent class
 *
 * The class of [class@Pft.Flow]. A flow's `exec` is the walk through its
 * graph and cannot be overridden; `prep` and `post` can. The default
 * `post` returns the action of the last node, so that a flow nested in
 * another routes like a node.
 *
 * Since: 0.1
 */
struct _PftFlowClass
{
  PftNodeClass parent_class;

  /*< private >*/
  gpointer _reserved[8];
};

PFT_AVAILABLE_IN_ALL
PftFlow *pft_flow_new           (PftNode *start);
PFT_AVAILABLE_IN_ALL
PftNode *pft_flow_get_start     (PftFlow *self);
PFT_AVAILABLE_IN_ALL
void     pft_flow_set_start     (PftFlow *self,
                                 PftNode *start);
PFT_AVAILABLE_IN_ALL
guint    pft_flow_get_max_steps (PftFlow *self);
PFT_AVAILABLE_IN_ALL
void     pft_flow_set_max_steps (PftFlow *self,
                                 guint    max_steps);

G_END_DECLS
