/* pft-throttled-batch-node.h: a batch node under a rate limiter
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-batch-node.h"

G_BEGIN_DECLS

#define PFT_TYPE_THROTTLED_BATCH_NODE (pft_throttled_batch_node_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (PftThrottledBatchNode, pft_throttled_batch_node, PFT, THROTTLED_BATCH_NODE, PftBatchNode)

/**
 * PftThrottledBatchNodeClass:
 * @parent_class: the parent class
 * @default_max_concurrent: the [property@Pft.BatchNode:max-concurrent] new
 *   instances start with (5); subclasses set it in `class_init`
 * @default_max_per_minute: the [property@Pft.ThrottledBatchNode:max-per-minute]
 *   new instances start with (0, no limit)
 *
 * The class of [class@Pft.ThrottledBatchNode]: the seed's class attributes
 * (`max_concurrent = 5`) become class defaults a subclass sets in its
 * `class_init`; properties given to g_object_new() override them.
 *
 * Since: 0.1
 */
struct _PftThrottledBatchNodeClass
{
  PftBatchNodeClass parent_class;

  guint default_max_concurrent;
  guint default_max_per_minute;

  /*< private >*/
  gpointer _reserved[8];
};

PFT_AVAILABLE_IN_ALL
PftNode        *pft_throttled_batch_node_new                (guint                  max_concurrent,
                                                             guint                  max_per_minute);
PFT_AVAILABLE_IN_ALL
guint           pft_throttled_batch_node_get_max_per_minute (PftThrottledBatchNode *self);
PFT_AVAILABLE_IN_ALL
void            pft_throttled_batch_node_set_max_per_minute (PftThrottledBatchNode *self,
                                                             guint                  max_per_minute);
PFT_AVAILABLE_IN_ALL
PftRateLimiter *pft_throttled_batch_node_get_limiter        (PftThrottledBatchNode *self);
PFT_AVAILABLE_IN_ALL
void            pft_throttled_batch_node_set_limiter        (PftThrottledBatchNode *self,
                                                             PftRateLimiter        *limiter);
PFT_AVAILABLE_IN_ALL
gboolean        pft_throttled_batch_node_use_registry_limiter (PftThrottledBatchNode *self,
                                                             const char            *name,
                                                             GError               **error);
PFT_AVAILABLE_IN_ALL
gboolean        pft_throttled_batch_node_apply_preset       (PftThrottledBatchNode *self,
                                                             const char            *name,
                                                             GError               **error);
PFT_AVAILABLE_IN_ALL
gboolean        pft_throttled_batch_node_get_continue_on_error (PftThrottledBatchNode *self);
PFT_AVAILABLE_IN_ALL
void            pft_throttled_batch_node_set_continue_on_error (PftThrottledBatchNode *self,
                                                             gboolean               continue_on_error);
PFT_AVAILABLE_IN_ALL
guint64         pft_throttled_batch_node_get_completed      (PftThrottledBatchNode *self);
PFT_AVAILABLE_IN_ALL
guint64         pft_throttled_batch_node_get_failed         (PftThrottledBatchNode *self);
PFT_AVAILABLE_IN_ALL
guint64         pft_throttled_batch_node_get_total          (PftThrottledBatchNode *self);
PFT_AVAILABLE_IN_ALL
void            pft_throttled_batch_node_reset_stats        (PftThrottledBatchNode *self);

G_END_DECLS
