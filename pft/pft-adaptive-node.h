/* pft-adaptive-node.h: a throttled batch node whose concurrency adapts
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-throttled-batch-node.h"

G_BEGIN_DECLS

#define PFT_TYPE_ADAPTIVE_NODE (pft_adaptive_node_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (PftAdaptiveNode, pft_adaptive_node, PFT, ADAPTIVE_NODE, PftThrottledBatchNode)

/**
 * PftAdaptiveNodeClass:
 * @parent_class: the parent class (its `default_max_concurrent`, the
 *   ceiling, is 20 here)
 * @default_initial_concurrent: the concurrency a new instance starts at (5)
 * @default_min_concurrent: the floor of back-off (1)
 * @default_backoff_factor: the multiplier on a rate limit (0.5)
 * @default_recovery_threshold: consecutive successes before growing (10)
 * @default_recovery_factor: the multiplier on recovery (1.2)
 *
 * The class of [class@Pft.AdaptiveNode], with the seed's defaults as class
 * fields a subclass may change in its `class_init`.
 *
 * Since: 0.1
 */
struct _PftAdaptiveNodeClass
{
  PftThrottledBatchNodeClass parent_class;

  guint  default_initial_concurrent;
  guint  default_min_concurrent;
  double default_backoff_factor;
  guint  default_recovery_threshold;
  double default_recovery_factor;

  /*< private >*/
  gpointer _reserved[8];
};

PFT_AVAILABLE_IN_ALL
PftNode *pft_adaptive_node_new                    (void);
PFT_AVAILABLE_IN_ALL
guint    pft_adaptive_node_get_current_concurrent (PftAdaptiveNode *self);
PFT_AVAILABLE_IN_ALL
guint64  pft_adaptive_node_get_total_successes    (PftAdaptiveNode *self);
PFT_AVAILABLE_IN_ALL
guint64  pft_adaptive_node_get_total_rate_limits  (PftAdaptiveNode *self);
PFT_AVAILABLE_IN_ALL
guint    pft_adaptive_node_get_consecutive_successes (PftAdaptiveNode *self);
PFT_AVAILABLE_IN_ALL
void     pft_adaptive_node_reset                  (PftAdaptiveNode *self);

G_END_DECLS
