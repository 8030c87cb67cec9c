/* pft-adaptive-batch-flow.h: a throttled batch flow whose concurrency adapts
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-throttled-batch-flow.h"

G_BEGIN_DECLS

#define PFT_TYPE_ADAPTIVE_BATCH_FLOW (pft_adaptive_batch_flow_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (PftAdaptiveBatchFlow, pft_adaptive_batch_flow, PFT, ADAPTIVE_BATCH_FLOW, PftThrottledBatchFlow)

/**
 * PftAdaptiveBatchFlowClass:
 * @parent_class: the parent class (its `default_max_concurrent_flows`,
 *   the ceiling, is 20 here)
 * @default_initial_concurrent_flows: the concurrency a new instance starts at (5)
 * @default_min_concurrent_flows: the floor of back-off (1)
 * @default_backoff_factor: the multiplier on a rate limit (0.5)
 * @default_recovery_threshold: consecutive successes before growing (10)
 * @default_recovery_factor: the multiplier on recovery (1.2)
 *
 * The class of [class@Pft.AdaptiveBatchFlow].
 *
 * Since: 0.1
 */
struct _PftAdaptiveBatchFlowClass
{
  PftThrottledBatchFlowClass parent_class;

  guint  default_initial_concurrent_flows;
  guint  default_min_concurrent_flows;
  double default_backoff_factor;
  guint  default_recovery_threshold;
  double default_recovery_factor;

  /*< private >*/
  gpointer _reserved[8];
};

PFT_AVAILABLE_IN_ALL
PftBatchFlow *pft_adaptive_batch_flow_new                      (PftNode              *start);
PFT_AVAILABLE_IN_ALL
guint         pft_adaptive_batch_flow_get_current_concurrent_flows (PftAdaptiveBatchFlow *self);
PFT_AVAILABLE_IN_ALL
guint64       pft_adaptive_batch_flow_get_total_successes      (PftAdaptiveBatchFlow *self);
PFT_AVAILABLE_IN_ALL
guint64       pft_adaptive_batch_flow_get_total_rate_limits    (PftAdaptiveBatchFlow *self);
PFT_AVAILABLE_IN_ALL
guint         pft_adaptive_batch_flow_get_consecutive_successes (PftAdaptiveBatchFlow *self);
PFT_AVAILABLE_IN_ALL
void          pft_adaptive_batch_flow_reset                    (PftAdaptiveBatchFlow *self);

G_END_DECLS
