/* pft-permit.h: one admission granted by a PftRateLimiter
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-types.h"

G_BEGIN_DECLS

#define PFT_TYPE_PERMIT (pft_permit_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PftPermit, pft_permit, PFT, PERMIT, GObject)

PFT_AVAILABLE_IN_ALL
void            pft_permit_release     (PftPermit *self);
PFT_AVAILABLE_IN_ALL
void            pft_permit_settle      (PftPermit *self,
                                        guint64    actual_cost);
PFT_AVAILABLE_IN_ALL
gboolean        pft_permit_is_released (PftPermit *self);
PFT_AVAILABLE_IN_ALL
guint64         pft_permit_get_cost    (PftPermit *self);
PFT_AVAILABLE_IN_ALL
PftRateLimiter *pft_permit_get_limiter (PftPermit *self);

G_END_DECLS
