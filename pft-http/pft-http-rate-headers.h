/* pft-http-rate-headers.h: what a provider's rate-limit headers say, and
 * acting on it with a PftRateLimiter
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_HTTP_INSIDE) && !defined(PFT_HTTP_COMPILATION)
# error "Only <pft-http.h> can be included directly."
#endif

#include <libsoup/soup.h>
#include <pft.h>

#include "pft-http-version-macros.h"

G_BEGIN_DECLS

/**
 * PFT_HTTP_RATE_HEADERS_MAX_WAIT:
 *
 * The longest retry-after or reset, in seconds (one day), that
 * [class@PftHttp.RateHeaders] believes; a longer one is treated as
 * malformed and ignored, so that a garbled header cannot stop a batch
 * for weeks.
 *
 * Since: 0.1
 */
#define PFT_HTTP_RATE_HEADERS_MAX_WAIT 86400.0

/**
 * PFT_HTTP_RATE_HEADERS_DEFAULT_WINDOW:
 *
 * The window, in seconds, that limits without a stated window count
 * over: 60, since OpenAI and Anthropic publish their limits per minute
 * (RPM, TPM). An IETF `RateLimit-Policy` field with `w=` states the window.
 *
 * Since: 0.1
 */
#define PFT_HTTP_RATE_HEADERS_DEFAULT_WINDOW 60.0

/**
 * PFT_HTTP_RATE_HEADERS_ARRIVAL_MARGIN:
 *
 * The default margin, in seconds (0.05), added to a limiter's window when
 * it counts exactly the provider's window (see [method@PftHttp.RateHeaders.apply_requests]): the
 * provider counts a request when it arrives, and arrival lags admission by
 * a varying few milliseconds.
 *
 * Since: 0.1
 */
#define PFT_HTTP_RATE_HEADERS_ARRIVAL_MARGIN 0.05

/**
 * PftHttpRateAction:
 * @PFT_HTTP_RATE_ACTION_NONE: nothing changed
 * @PFT_HTTP_RATE_ACTION_PAUSED: the limiter was paused until the
 *   provider's reset (no capacity left) or retry-after
 * @PFT_HTTP_RATE_ACTION_LOWERED_REQUESTS: `max-per-window` was lowered to
 *   the provider's request limit
 * @PFT_HTTP_RATE_ACTION_RAISED_REQUESTS: `max-per-window` went back up
 *   towards the configured ceiling after an earlier lowering
 * @PFT_HTTP_RATE_ACTION_LOWERED_TOKENS: `max-cost-per-window` was lowered
 *   to the provider's token limit
 * @PFT_HTTP_RATE_ACTION_RAISED_TOKENS: `max-cost-per-window` went back up
 *   towards the configured ceiling
 * @PFT_HTTP_RATE_ACTION_WIDENED_WINDOW: the limiter's window, equal to the
 *   provider's, was widened by [const@PftHttp.RATE_HEADERS_ARRIVAL_MARGIN]
 *
 * What [method@PftHttp.RateHeaders.apply] did to a limiter.
 *
 * Since: 0.1
 */
typedef enum /*< flags >*/ {
  PFT_HTTP_RATE_ACTION_NONE             = 0,
  PFT_HTTP_RATE_ACTION_PAUSED           = 1 << 0,
  PFT_HTTP_RATE_ACTION_LOWERED_REQUESTS = 1 << 1,
  PFT_HTTP_RATE_ACTION_RAISED_REQUESTS  = 1 << 2,
  PFT_HTTP_RATE_ACTION_LOWERED_TOKENS   = 1 << 3,
  PFT_HTTP_RATE_ACTION_RAISED_TOKENS    = 1 << 4,
  PFT_HTTP_RATE_ACTION_WIDENED_WINDOW   = 1 << 5,
} PftHttpRateAction;

#define PFT_HTTP_TYPE_RATE_HEADERS (pft_http_rate_headers_get_type ())

PFT_HTTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PftHttpRateHeaders, pft_http_rate_headers, PFT_HTTP, RATE_HEADERS, GObject)

PFT_HTTP_AVAILABLE_IN_ALL
PftHttpRateHeaders *pft_http_rate_headers_new               (void);
PFT_HTTP_AVAILABLE_IN_ALL
PftHttpRateHeaders *pft_http_rate_headers_new_from_soup     (SoupMessageHeaders *headers);
PFT_HTTP_AVAILABLE_IN_ALL
void                pft_http_rate_headers_add               (PftHttpRateHeaders *self,
                                                             const char         *name,
                                                             const char         *value);
PFT_HTTP_AVAILABLE_IN_ALL
void                pft_http_rate_headers_add_soup          (PftHttpRateHeaders *self,
                                                             SoupMessageHeaders *headers);
PFT_HTTP_AVAILABLE_IN_ALL
void                pft_http_rate_headers_set_reference_time (PftHttpRateHeaders *self,
                                                             GDateTime          *now);

PFT_HTTP_AVAILABLE_IN_ALL
gboolean            pft_http_rate_headers_is_empty          (PftHttpRateHeaders *self);
PFT_HTTP_AVAILABLE_IN_ALL
double              pft_http_rate_headers_get_retry_after   (PftHttpRateHeaders *self);
PFT_HTTP_AVAILABLE_IN_ALL
gint64              pft_http_rate_headers_get_request_limit (PftHttpRateHeaders *self);
PFT_HTTP_AVAILABLE_IN_ALL
gint64              pft_http_rate_headers_get_request_remaining (PftHttpRateHeaders *self);
PFT_HTTP_AVAILABLE_IN_ALL
double              pft_http_rate_headers_get_request_reset (PftHttpRateHeaders *self);
PFT_HTTP_AVAILABLE_IN_ALL
gint64              pft_http_rate_headers_get_token_limit   (PftHttpRateHeaders *self);
PFT_HTTP_AVAILABLE_IN_ALL
gint64              pft_http_rate_headers_get_token_remaining (PftHttpRateHeaders *self);
PFT_HTTP_AVAILABLE_IN_ALL
double              pft_http_rate_headers_get_token_reset   (PftHttpRateHeaders *self);
PFT_HTTP_AVAILABLE_IN_ALL
double              pft_http_rate_headers_get_window        (PftHttpRateHeaders *self);
PFT_HTTP_AVAILABLE_IN_ALL
gboolean            pft_http_rate_headers_get_window_stated (PftHttpRateHeaders *self);
PFT_HTTP_AVAILABLE_IN_ALL
void                pft_http_rate_headers_set_default_window (PftHttpRateHeaders *self,
                                                             double              window);
PFT_HTTP_AVAILABLE_IN_ALL
double              pft_http_rate_headers_get_arrival_margin (PftHttpRateHeaders *self);
PFT_HTTP_AVAILABLE_IN_ALL
void                pft_http_rate_headers_set_arrival_margin (PftHttpRateHeaders *self,
                                                             double              margin);
PFT_HTTP_AVAILABLE_IN_ALL
char               *pft_http_rate_headers_to_string         (PftHttpRateHeaders *self);

PFT_HTTP_AVAILABLE_IN_ALL
PftHttpRateAction   pft_http_rate_headers_apply             (PftHttpRateHeaders *self,
                                                             PftRateLimiter     *limiter);
PFT_HTTP_AVAILABLE_IN_ALL
PftHttpRateAction   pft_http_rate_headers_apply_requests    (PftHttpRateHeaders *self,
                                                             PftRateLimiter     *limiter);
PFT_HTTP_AVAILABLE_IN_ALL
PftHttpRateAction   pft_http_rate_headers_apply_tokens      (PftHttpRateHeaders *self,
                                                             PftRateLimiter     *limiter);
PFT_HTTP_AVAILABLE_IN_ALL
guint               pft_http_rate_headers_get_configured_max_per_window (PftRateLimiter *limiter);
PFT_HTTP_AVAILABLE_IN_ALL
guint64             pft_http_rate_headers_get_configured_max_cost_per_window (PftRateLimiter *limiter);

G_END_DECLS
