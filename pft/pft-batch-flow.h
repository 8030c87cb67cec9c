/* pft-batch-flow.h: a flow run once per param set
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-flow.h"

G_BEGIN_DECLS

#define PFT_TYPE_BATCH_FLOW (pft_batch_flow_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (PftBatchFlow, pft_batch_flow, PFT, BATCH_FLOW, PftFlow)

/**
 * PftBatchFlowClass:
 * @parent_class: the parent class
 *
 * The class of [class@Pft.BatchFlow]. `prep` returns a [class@Pft.Values]
 * of `a{sv}` variants, one param set per run of the graph; `post` receives
 * a [class@Pft.Values] with the final action of every run, in order. The
 * default `post` returns %NULL: the results of a batch never become a
 * routing action.
 *
 * Since: 0.1
 */
struct _PftBatchFlowClass
{
  PftFlowClass parent_class;

  /*< private >*/
  gpointer _reserved[8];
};

PFT_AVAILABLE_IN_ALL
PftBatchFlow *pft_batch_flow_new                (PftNode      *start);
PFT_AVAILABLE_IN_ALL
guint         pft_batch_flow_get_max_concurrent (PftBatchFlow *self);
PFT_AVAILABLE_IN_ALL
void          pft_batch_flow_set_max_concurrent (PftBatchFlow *self,
                                                 guint         max_concurrent);

G_END_DECLS
