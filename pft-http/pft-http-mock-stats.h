/* pft-http-mock-stats.h: what the mock API server saw
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_HTTP_INSIDE) && !defined(PFT_HTTP_COMPILATION)
# error "Only <pft-http.h> can be included directly."
#endif

#include <glib-object.h>

#include "pft-http-version-macros.h"

G_BEGIN_DECLS

/**
 * PftHttpMockStats:
 * @requests: requests that reached a chat endpoint, whatever their outcome
 * @accepted: requests answered 200 with a reply
 * @rate_limited: requests answered 429 (over a window or the concurrency limit)
 * @server_errors: requests answered 500 by fault injection
 * @dropped: requests whose connection the server closed without an answer
 *   (fault injection)
 * @slow: admitted requests that got the extra slow-response latency
 * @bad_requests: requests answered 400 (bad JSON, missing fields, too
 *   many tokens for the token limit)
 * @unauthorized: requests answered 401 (wrong or missing API key)
 * @cancelled: admitted requests whose client closed the connection before
 *   the answer
 * @tokens: tokens (prompt plus completion) of the admitted requests
 * @in_flight: admitted requests not answered yet, now
 * @max_concurrency: the most requests the server held at once, counting a
 *   request that arrived over the concurrency limit (so a client that sends
 *   5 at once to a server limited to 4 shows 5 here)
 * @max_in_window: the most arrivals (all outcomes) within any interval of
 *   [property@PftHttp.MockServer:window] seconds, on the server's clock
 *
 * A snapshot of the counters of a [class@PftHttp.MockServer], taken by
 * [method@PftHttp.MockServer.get_stats].
 *
 * Since: 0.1
 */
typedef struct {
  guint64 requests;
  guint64 accepted;
  guint64 rate_limited;
  guint64 server_errors;
  guint64 dropped;
  guint64 slow;
  guint64 bad_requests;
  guint64 unauthorized;
  guint64 cancelled;
  guint64 tokens;
  guint in_flight;
  guint max_concurrency;
  guint max_in_window;
} PftHttpMockStats;

#define PFT_HTTP_TYPE_MOCK_STATS (pft_http_mock_stats_get_type ())

PFT_HTTP_AVAILABLE_IN_ALL
GType             pft_http_mock_stats_get_type  (void) G_GNUC_CONST;
PFT_HTTP_AVAILABLE_IN_ALL
PftHttpMockStats *pft_http_mock_stats_copy      (const PftHttpMockStats *stats);
PFT_HTTP_AVAILABLE_IN_ALL
void              pft_http_mock_stats_free      (PftHttpMockStats       *stats);
PFT_HTTP_AVAILABLE_IN_ALL
char             *pft_http_mock_stats_to_string (const PftHttpMockStats *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PftHttpMockStats, pft_http_mock_stats_free)

/**
 * PftHttpMockRecord:
 * @arrival: when the request reached the handler, in microseconds of
 *   g_get_monotonic_time() (the server's clock, which is also the caller's)
 * @finished: when it was answered or its connection closed, in the same
 *   unit; 0 while in flight
 * @status: the HTTP status answered, or 0 for no answer (dropped by fault
 *   injection, or the client went away)
 * @retry_after_ms: the `retry-after-ms` of a 429 answer, -1 otherwise
 *
 * One request seen by a [class@PftHttp.MockServer] at a chat endpoint, as
 * listed by [method@PftHttp.MockServer.get_records].
 *
 * Since: 0.1
 */
typedef struct {
  gint64 arrival;
  gint64 finished;
  guint status;
  gint64 retry_after_ms;
} PftHttpMockRecord;

#define PFT_HTTP_TYPE_MOCK_RECORD (pft_http_mock_record_get_type ())

PFT_HTTP_AVAILABLE_IN_ALL
GType              pft_http_mock_record_get_type (void) G_GNUC_CONST;
PFT_HTTP_AVAILABLE_IN_ALL
PftHttpMockRecord *pft_http_mock_record_copy     (const PftHttpMockRecord *record);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_mock_record_free     (PftHttpMockRecord       *record);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PftHttpMockRecord, pft_http_mock_record_free)

G_END_DECLS
