/* pft-http-mock-protocol-private.h: the OpenAI and Anthropic wire formats
 * as the mock server speaks them
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <libsoup/soup.h>

#include "pft-http-mock-server.h"

G_BEGIN_DECLS

/* libsoup 3.2 has no name for it. */
#define PFT_HTTP_MOCK_STATUS_TOO_MANY_REQUESTS 429

typedef enum {
  PFT_HTTP_MOCK_API_OPENAI,
  PFT_HTTP_MOCK_API_ANTHROPIC,
} PftHttpMockApi;

/* A validated chat request. */
typedef struct
{
  char *model;
  char *last_user_text;
  guint prompt_tokens;
  gint64 max_tokens;        /* -1 when the request sets none */
} PftHttpMockRequest;

/* The limits' state sent in the rate-limit headers; a limit of 0 means
 * none (its headers are left out). Resets in microseconds from now. */
typedef struct
{
  guint64 request_limit;
  guint64 request_remaining;
  gint64 request_reset;
  guint64 token_limit;
  guint64 token_remaining;
  gint64 token_reset;
} PftHttpMockLimitState;

guint    pft_http_mock_count_tokens          (const char          *text);
gboolean pft_http_mock_request_parse         (PftHttpMockApi       api,
                                              const char          *body,
                                              gsize                length,
                                              PftHttpMockRequest  *request,
                                              GError             **error);
void     pft_http_mock_request_clear         (PftHttpMockRequest  *request);
char    *pft_http_mock_reply_text            (const PftHttpMockRequest *request,
                                              guint               *completion_tokens,
                                              gboolean            *truncated);
char    *pft_http_mock_reply_body            (PftHttpMockApi       api,
                                              guint64              id,
                                              const PftHttpMockRequest *request,
                                              const char          *text,
                                              guint                completion_tokens,
                                              gboolean             truncated);
char    *pft_http_mock_error_body            (PftHttpMockApi       api,
                                              guint                status,
                                              const char          *limit,
                                              const char          *message);
char    *pft_http_mock_format_go_duration    (gint64               usec);
char    *pft_http_mock_format_rfc3339        (gint64               real_usec);
void     pft_http_mock_set_rate_headers      (SoupMessageHeaders  *headers,
                                              PftHttpMockHeaderStyle style,
                                              const PftHttpMockLimitState *state);
void     pft_http_mock_set_retry_after       (SoupMessageHeaders  *headers,
                                              gint64               usec);

G_END_DECLS
