/* pft-throttled-batch-flow.h: a batch flow under a rate limiter
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-batch-flow.h"

G_BEGIN_DECLS

#define PFT_TYPE_THROTTLED_BATCH_FLOW (pft_throttled_batch_flow_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (PftThrottledBatchFlow, pft_throttled_batch_flow, PFT, THROTTLED_BATCH_FLOW, PftBatchFlow)

/**
 * PftThrottledBatchFlowClass:
 * @parent_class: the parent class
 * @default_max_concurrent_flows: the [property@Pft.ThrottledBatchFlow:max-concurrent-flows]
 *   new instances start with (5)
 * @default_max_flows_per_minute: the [property@Pft.ThrottledBatchFlow:max-flows-per-minute]
 *   new instances start with (0, no limit)
 *
 * The class of [class@Pft.ThrottledBatchFlow].
 *
 * Since: 0.1
 */
struct _PftThrottledBatchFlowClass
{
  PftBatchFlowClass parent_class;

  guint default_max_concurrent_flows;
  guint default_max_flows_per_minute;

  /*< private >*/
  gpointer _reserved[8];
};

PFT_AVAILABLE_IN_ALL
PftBatchFlow   *pft_throttled_batch_flow_new                (PftNode               *start,
                                                             guint                  max_concurrent_flows,
                                                             guint                  max_flows_per_minute);
PFT_AVAILABLE_IN_ALL
guint           pft_throttled_batch_flow_get_max_flows_per_minute (PftThrottledBatchFlow *self);
PFT_AVAILABLE_IN_ALL
void            pft_throttled_batch_flow_set_max_flows_per_minute (PftThrottledBatchFlow *self,
                                                                   guint                  max_flows_per_minute);
PFT_AVAILABLE_IN_ALL
PftRateLimiter *pft_throttled_batch_flow_get_limiter        (PftThrottledBatchFlow *self);
PFT_AVAILABLE_IN_ALL
void            pft_throttled_batch_flow_set_limiter        (PftThrottledBatchFlow *self,
                                                             PftRateLimiter        *limiter);
PFT_AVAILABLE_IN_ALL
gboolean        pft_throttled_batch_flow_use_registry_limiter (PftThrottledBatchFlow *self,
                                                             const char            *name,
                                                             GError               **error);
PFT_AVAILABLE_IN_ALL
gboolean        pft_throttled_batch_flow_apply_preset       (PftThrottledBatchFlow *self,
                                                             const char            *name,
                                                             GError               **error);
PFT_AVAILABLE_IN_ALL
gboolean        pft_throttled_batch_flow_get_continue_on_error (PftThrottledBatchFlow *self);
PFT_AVAILABLE_IN_ALL
void            pft_throttled_batch_flow_set_continue_on_error (PftThrottledBatchFlow *self,
                                                                gboolean               continue_on_error);
PFT_AVAILABLE_IN_ALL
guint64         pft_throttled_batch_flow_get_completed      (PftThrottledBatchFlow *self);
PFT_AVAILABLE_IN_ALL
guint64         pft_throttled_batch_flow_get_failed         (PftThrottledBatchFlow *self);
PFT_AVAILABLE_IN_ALL
guint64         pft_throttled_batch_flow_get_total          (PftThrottledBatchFlow *self);
PFT_AVAILABLE_IN_ALL
void            pft_throttled_batch_flow_reset_stats        (PftThrottledBatchFlow *self);

G_END_DECLS
