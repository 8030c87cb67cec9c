/* pft-http-private.h: what the files of libpft-http-1 share, never installed
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft-http.h"

G_BEGIN_DECLS

/* pft-http-rate-headers.c */
gboolean          _pft_http_parse_go_duration (const char *text,
                                               double     *out);
/* As pft_http_rate_headers_apply_requests(), leaving the retry-after to
 * whoever reports the 429 to the limiter when !@honour_retry_after. */
PftHttpRateAction _pft_http_rate_headers_apply_requests (PftHttpRateHeaders *self,
                                                         PftRateLimiter     *limiter,
                                                         gboolean            honour_retry_after);

/* pft-http-error.c */
GError           *_pft_http_error_new_status  (PftHttpError  code,
                                               guint         status,
                                               const char   *message);

/* pft-http-chat-reply.c */
PftHttpChatReply *_pft_http_chat_reply_new    (const char         *text,
                                               const char         *model,
                                               const char         *finish_reason,
                                               gboolean            has_usage,
                                               guint64             input_tokens,
                                               guint64             output_tokens,
                                               guint               status,
                                               double              latency,
                                               JsonNode           *json,
                                               PftHttpRateHeaders *rate_headers);

/* pft-http-chat-client.c */

/* Messages as the client sends them: a JSON array of {role, content}
 * objects, built from a prompt string or a GVariant a(ss) / aa{ss}. */
JsonArray        *_pft_http_chat_client_build_messages (PftHttpChatClient *self,
                                                        const GValue      *value,
                                                        GError           **error);
/* Acquires from @limiter at the estimated cost of @messages, cut to the
 * limiter's max-cost-per-window so a request bigger than the window still
 * goes, alone. */
void              _pft_http_chat_client_acquire_async  (PftHttpChatClient   *self,
                                                        JsonArray           *messages,
                                                        PftRateLimiter      *limiter,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
/* Settles a token permit with the reply's usage, or with 0 when the
 * provider refused the request (an HTTP status error); else leaves it. */
void              _pft_http_chat_client_settle         (PftPermit          *permit,
                                                        PftHttpChatReply   *reply,
                                                        const GError       *error);

/* Sends one request, no limiter involved. The finish gives the reply or
 * the error and, in both cases, the rate headers of the answer (empty
 * when there was none). */
void              _pft_http_chat_client_send_async     (PftHttpChatClient   *self,
                                                        JsonArray           *messages,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
PftHttpChatReply *_pft_http_chat_client_send_finish    (PftHttpChatClient   *self,
                                                        GAsyncResult        *result,
                                                        PftHttpRateHeaders **headers,
                                                        GError             **error);

/* @text with every occurrence of @secret replaced; @secret NULL or empty
 * copies @text. */
char             *_pft_http_redact                     (const char *text,
                                                        const char *secret);

G_END_DECLS
