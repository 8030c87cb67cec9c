/* pft-rate-limiter-limits.h: a limiter's limits, read and changed while it runs
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
guint           pft_rate_limiter_get_max_concurrent      (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
void            pft_rate_limiter_set_max_concurrent      (PftRateLimiter *self,
                                                          guint           max_concurrent);
PFT_AVAILABLE_IN_ALL
guint           pft_rate_limiter_get_max_per_window      (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
void            pft_rate_limiter_set_max_per_window      (PftRateLimiter *self,
                                                          guint           max_per_window);
PFT_AVAILABLE_IN_ALL
double          pft_rate_limiter_get_window              (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
void            pft_rate_limiter_set_window              (PftRateLimiter *self,
                                                          double          window);
PFT_AVAILABLE_IN_ALL
guint64         pft_rate_limiter_get_max_cost_per_window (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
void            pft_rate_limiter_set_max_cost_per_window (PftRateLimiter *self,
                                                          guint64         max_cost);
PFT_AVAILABLE_IN_ALL
PftLimiterMode  pft_rate_limiter_get_mode                (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
void            pft_rate_limiter_set_mode                (PftRateLimiter *self,
                                                          PftLimiterMode  mode);
PFT_AVAILABLE_IN_ALL
guint           pft_rate_limiter_get_burst               (PftRateLimiter *self);
PFT_AVAILABLE_IN_ALL
void            pft_rate_limiter_set_burst               (PftRateLimiter *self,
                                                          guint           burst);

G_END_DECLS
