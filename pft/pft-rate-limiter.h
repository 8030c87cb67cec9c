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
