/* pft-rate-limiter-stats.h: reading a limiter's use
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-rate-limiter.h"

G_BEGIN_DECLS

PFT_AVAILABLE_IN_ALL
guint           pft_rate_limiter_get_in_flight           (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
guint           pft_rate_limiter_get_waiting             (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
guint           pft_rate_limiter_get_window_count        (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
guint64         pft_rate_limiter_get_window_cost         (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
guint64         pft_rate_limiter_get_total_admitted      (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
guint64         pft_rate_limiter_get_total_pauses        (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
double          pft_rate_limiter_get_paused_for          (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
GVariant       *pft_rate_limiter_dup_stats               (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
char           *pft_rate_limiter_to_string               (PftRateLimiter *self);

G_END_DECLS
