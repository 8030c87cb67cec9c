/* pft-http-mock-server.h: an OpenAI/Anthropic-compatible mock API on loopback
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_HTTP_INSIDE) && !defined(PFT_HTTP_COMPILATION)
# error "Only <pft-http.h> can be included directly."
#endif

#include <gio/gio.h>

#include "pft-http-version-macros.h"
#include "pft-http-mock-stats.h"

G_BEGIN_DECLS

/**
 * PftHttpMockHeaderStyle:
 * @PFT_HTTP_MOCK_HEADER_STYLE_AUTO: the style of the endpoint that was
 *   called: OpenAI's headers on `/v1/chat/completions`, Anthropic's on
 *   `/v1/messages`
 * @PFT_HTTP_MOCK_HEADER_STYLE_OPENAI: `x-ratelimit-limit-requests`,
 *   `x-ratelimit-remaining-requests`, `x-ratelimit-reset-requests` (a Go
 *   duration such as `1s` or `6m0s`) and their `-tokens` variants
 * @PFT_HTTP_MOCK_HEADER_STYLE_ANTHROPIC: `anthropic-ratelimit-requests-limit`,
 *   `-remaining`, `-reset` (an RFC 3339 time) and the `tokens` variants
 * @PFT_HTTP_MOCK_HEADER_STYLE_IETF: `RateLimit-Limit`, `RateLimit-Remaining`,
 *   `RateLimit-Reset` (seconds) for the request limit
 * @PFT_HTTP_MOCK_HEADER_STYLE_NONE: no rate-limit headers at all (a 429
 *   still carries `retry-after` and `retry-after-ms`)
 *
 * Which rate-limit headers a [class@PftHttp.MockServer] sends.
 *
 * Since: 0.1
 */
typedef enum {
  PFT_HTTP_MOCK_HEADER_STYLE_AUTO,
  PFT_HTTP_MOCK_HEADER_STYLE_OPENAI,
  PFT_HTTP_MOCK_HEADER_STYLE_ANTHROPIC,
  PFT_HTTP_MOCK_HEADER_STYLE_IETF,
  PFT_HTTP_MOCK_HEADER_STYLE_NONE,
} PftHttpMockHeaderStyle;

#define PFT_HTTP_TYPE_MOCK_SERVER (pft_http_mock_server_get_type ())

PFT_HTTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PftHttpMockServer, pft_http_mock_server, PFT_HTTP, MOCK_SERVER, GObject)

PFT_HTTP_AVAILABLE_IN_ALL
PftHttpMockServer *pft_http_mock_server_new             (void);
PFT_HTTP_AVAILABLE_IN_ALL
gboolean           pft_http_mock_server_start           (PftHttpMockServer  *self,
                                                         GError            **error);
PFT_HTTP_AVAILABLE_IN_ALL
gboolean           pft_http_mock_server_start_in_thread (PftHttpMockServer  *self,
                                                         GError            **error);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_mock_server_stop            (PftHttpMockServer  *self);
PFT_HTTP_AVAILABLE_IN_ALL
guint              pft_http_mock_server_get_port        (PftHttpMockServer  *self);
PFT_HTTP_AVAILABLE_IN_ALL
char              *pft_http_mock_server_get_uri         (PftHttpMockServer  *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_mock_server_set_limits      (PftHttpMockServer  *self,
                                                         guint               max_requests,
                                                         double              window,
                                                         guint               max_tokens,
                                                         guint               max_concurrency);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_mock_server_set_latency     (PftHttpMockServer  *self,
                                                         double              latency_min,
                                                         double              latency_max);
PFT_HTTP_AVAILABLE_IN_ALL
PftHttpMockStats  *pft_http_mock_server_get_stats       (PftHttpMockServer  *self);
PFT_HTTP_AVAILABLE_IN_ALL
GList             *pft_http_mock_server_get_records     (PftHttpMockServer  *self);
PFT_HTTP_AVAILABLE_IN_ALL
GArray            *pft_http_mock_server_get_arrivals    (PftHttpMockServer  *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_mock_server_reset_stats     (PftHttpMockServer  *self);

G_END_DECLS
