/* pft-rate-limiter.h: admission control for rate-limited APIs
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-types.h"

G_BEGIN_DECLS

/**
 * PftLimiterMode:
 * @PFT_LIMITER_MODE_SLIDING_WINDOW: exact: never more than the limit in any
 *   window of [property@Pft.RateLimiter:window] seconds
 * @PFT_LIMITER_MODE_SMOOTH: GCRA pacing: admissions are spaced by
 *   window / limit seconds, with up to [property@Pft.RateLimiter:burst]
 *   admitted at once, because providers enforce "60 per minute" as about
 *   one a second; the exact window holds too, so no window ever gets more
 *   than the limit, whatever the burst
 *
 * How a [class@Pft.RateLimiter] spreads its window limits over time.
 *
 * Since: 0.1
 */
typedef enum {
  PFT_LIMITER_MODE_SLIDING_WINDOW,
  PFT_LIMITER_MODE_SMOOTH,
} PftLimiterMode;

#define PFT_TYPE_RATE_LIMITER (pft_rate_limiter_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PftRateLimiter, pft_rate_limiter, PFT, RATE_LIMITER, GObject)

PFT_AVAILABLE_IN_ALL
PftRateLimiter *pft_rate_limiter_new              (guint            max_concurrent,
                                                   guint            max_per_window,
                                                   double           window);

PFT_AVAILABLE_IN_ALL
void            pft_rate_limiter_acquire_async    (PftRateLimiter  *self,
                                                   guint64          cost,
                                                   GCancellable    *cancellable,
                                                   GAsyncReadyCallback callback,
                                                   gpointer         user_data);
PFT_AVAILABLE_IN_ALL
PftPermit      *pft_rate_limiter_acquire_finish   (PftRateLimiter  *self,
                                                   GAsyncResult    *result,
                                                   GError         **error);
PFT_AVAILABLE_IN_ALL
PftPermit      *pft_rate_limiter_acquire          (PftRateLimiter  *self,
                                                   guint64          cost,
                                                   GCancellable    *cancellable,
                                                   GError         **error);
PFT_AVAILABLE_IN_ALL
PftPermit      *pft_rate_limiter_try_acquire      (PftRateLimiter  *self,
                                                   guint64          cost,
                                                   GError         **error);

PFT_AVAILABLE_IN_ALL
void            pft_rate_limiter_pause            (PftRateLimiter  *self,
                                                   double           seconds);
PFT_AVAILABLE_IN_ALL
gboolean        pft_rate_limiter_report_error     (PftRateLimiter  *self,
                                                   const GError    *error);
PFT_AVAILABLE_IN_ALL
void            pft_rate_limiter_reset            (PftRateLimiter  *self);

G_END_DECLS
