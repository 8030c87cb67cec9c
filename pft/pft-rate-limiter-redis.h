/* pft-rate-limiter-redis.h: one quota shared by processes through Redis
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-rate-limiter.h"

G_BEGIN_DECLS

/**
 * PftLimiterFallback:
 * @PFT_LIMITER_FALLBACK_FAIL: an acquisition that the shared backend did
 *   not answer within [property@Pft.RateLimiter:backend-timeout] fails with
 *   %PFT_ERROR_BACKEND_UNAVAILABLE
 * @PFT_LIMITER_FALLBACK_LOCAL: the limiter goes on with its own limits in
 *   this process (each process may then admit up to the whole quota), with
 *   one warning when the backend goes away and a message when it is back
 *
 * What a limiter with a shared backend (see
 * [ctor@Pft.RateLimiter.new_redis]) does while that backend cannot be
 * reached.
 *
 * Since: 0.1
 */
typedef enum {
  PFT_LIMITER_FALLBACK_FAIL,
  PFT_LIMITER_FALLBACK_LOCAL,
} PftLimiterFallback;

PFT_AVAILABLE_IN_ALL
PftRateLimiter     *pft_rate_limiter_new_redis          (const char         *uri,
                                                         const char         *redis_key,
                                                         guint               max_concurrent,
                                                         guint               max_per_window,
                                                         double              window,
                                                         GError            **error);

PFT_AVAILABLE_IN_ALL
const char         *pft_rate_limiter_get_backend        (PftRateLimiter     *self);
PFT_AVAILABLE_IN_ALL
const char         *pft_rate_limiter_get_redis_key      (PftRateLimiter     *self);
PFT_AVAILABLE_IN_ALL
const char         *pft_rate_limiter_get_redis_uri      (PftRateLimiter     *self);
PFT_AVAILABLE_IN_ALL
double              pft_rate_limiter_get_backend_timeout (PftRateLimiter    *self);
PFT_AVAILABLE_IN_ALL
void                pft_rate_limiter_set_backend_timeout (PftRateLimiter    *self,
                                                          double             seconds);
PFT_AVAILABLE_IN_ALL
PftLimiterFallback  pft_rate_limiter_get_fallback       (PftRateLimiter     *self);
PFT_AVAILABLE_IN_ALL
void                pft_rate_limiter_set_fallback       (PftRateLimiter     *self,
                                                         PftLimiterFallback  fallback);
PFT_AVAILABLE_IN_ALL
double              pft_rate_limiter_get_lease_ttl      (PftRateLimiter     *self);
PFT_AVAILABLE_IN_ALL
void                pft_rate_limiter_set_lease_ttl      (PftRateLimiter     *self,
                                                         double              seconds);
PFT_AVAILABLE_IN_ALL
GVariant           *pft_rate_limiter_dup_shared_stats   (PftRateLimiter     *self,
                                                         GCancellable       *cancellable,
                                                         GError            **error);
PFT_AVAILABLE_IN_ALL
void                pft_rate_limiter_dup_shared_stats_async  (PftRateLimiter      *self,
                                                              GCancellable        *cancellable,
                                                              GAsyncReadyCallback  callback,
                                                              gpointer             user_data);
PFT_AVAILABLE_IN_ALL
GVariant           *pft_rate_limiter_dup_shared_stats_finish (PftRateLimiter      *self,
                                                              GAsyncResult        *result,
                                                              GError             **error);

G_END_DECLS
