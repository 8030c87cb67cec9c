/* pft-http-chat-reply.h: one chat completion as the provider answered it
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_HTTP_INSIDE) && !defined(PFT_HTTP_COMPILATION)
# error "Only <pft-http.h> can be included directly."
#endif

#include <json-glib/json-glib.h>

#include "pft-http-version-macros.h"
#include "pft-http-rate-headers.h"

G_BEGIN_DECLS

#define PFT_HTTP_TYPE_CHAT_REPLY (pft_http_chat_reply_get_type ())

PFT_HTTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PftHttpChatReply, pft_http_chat_reply, PFT_HTTP, CHAT_REPLY, GObject)

PFT_HTTP_AVAILABLE_IN_ALL
const char         *pft_http_chat_reply_get_text          (PftHttpChatReply *self);
PFT_HTTP_AVAILABLE_IN_ALL
guint64             pft_http_chat_reply_get_input_tokens  (PftHttpChatReply *self);
PFT_HTTP_AVAILABLE_IN_ALL
guint64             pft_http_chat_reply_get_output_tokens (PftHttpChatReply *self);
PFT_HTTP_AVAILABLE_IN_ALL
gboolean            pft_http_chat_reply_has_usage         (PftHttpChatReply *self);
PFT_HTTP_AVAILABLE_IN_ALL
guint               pft_http_chat_reply_get_status        (PftHttpChatReply *self);
PFT_HTTP_AVAILABLE_IN_ALL
double              pft_http_chat_reply_get_latency       (PftHttpChatReply *self);
PFT_HTTP_AVAILABLE_IN_ALL
const char         *pft_http_chat_reply_get_model         (PftHttpChatReply *self);
PFT_HTTP_AVAILABLE_IN_ALL
const char         *pft_http_chat_reply_get_finish_reason (PftHttpChatReply *self);
PFT_HTTP_AVAILABLE_IN_ALL
JsonNode           *pft_http_chat_reply_get_json          (PftHttpChatReply *self);
PFT_HTTP_AVAILABLE_IN_ALL
PftHttpRateHeaders *pft_http_chat_reply_get_rate_headers  (PftHttpChatReply *self);
PFT_HTTP_AVAILABLE_IN_ALL
char               *pft_http_chat_reply_to_string         (PftHttpChatReply *self);

G_END_DECLS
