/* pft-http-chat-client.h: one chat completion over libsoup, OpenAI or
 * Anthropic style
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_HTTP_INSIDE) && !defined(PFT_HTTP_COMPILATION)
# error "Only <pft-http.h> can be included directly."
#endif

#include <gio/gio.h>
#include <pft.h>

#include "pft-http-version-macros.h"
#include "pft-http-chat-reply.h"

G_BEGIN_DECLS

/**
 * PftHttpProvider:
 * @PFT_HTTP_PROVIDER_OPENAI: an OpenAI-compatible API: `POST
 *   {base-url}/chat/completions` with `Authorization: Bearer`; the base URL
 *   includes the version (`https://api.openai.com/v1`)
 * @PFT_HTTP_PROVIDER_ANTHROPIC: Anthropic's Messages API: `POST
 *   {base-url}/v1/messages` with `x-api-key` and `anthropic-version`
 *
 * The request and reply format a [class@PftHttp.ChatClient] speaks.
 *
 * Since: 0.1
 */
typedef enum {
  PFT_HTTP_PROVIDER_OPENAI,
  PFT_HTTP_PROVIDER_ANTHROPIC,
} PftHttpProvider;

#define PFT_HTTP_TYPE_CHAT_CLIENT (pft_http_chat_client_get_type ())

PFT_HTTP_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PftHttpChatClient, pft_http_chat_client, PFT_HTTP, CHAT_CLIENT, GObject)

PFT_HTTP_AVAILABLE_IN_ALL
PftHttpChatClient *pft_http_chat_client_new                (PftHttpProvider     provider,
                                                            const char         *base_url,
                                                            const char         *model);

PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_client_complete_async     (PftHttpChatClient  *self,
                                                            const char         *prompt,
                                                            GCancellable       *cancellable,
                                                            GAsyncReadyCallback callback,
                                                            gpointer            user_data);
PFT_HTTP_AVAILABLE_IN_ALL
PftHttpChatReply  *pft_http_chat_client_complete_finish    (PftHttpChatClient  *self,
                                                            GAsyncResult       *result,
                                                            GError            **error);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_client_complete_messages_async  (PftHttpChatClient  *self,
                                                                  GVariant           *messages,
                                                                  GCancellable       *cancellable,
                                                                  GAsyncReadyCallback callback,
                                                                  gpointer            user_data);
PFT_HTTP_AVAILABLE_IN_ALL
PftHttpChatReply  *pft_http_chat_client_complete_messages_finish (PftHttpChatClient  *self,
                                                                  GAsyncResult       *result,
                                                                  GError            **error);

PFT_HTTP_AVAILABLE_IN_ALL
gboolean           pft_http_chat_client_check_config       (PftHttpChatClient  *self,
                                                            GError            **error);
PFT_HTTP_AVAILABLE_IN_ALL
guint64            pft_http_chat_client_estimate_tokens    (PftHttpChatClient  *self,
                                                            GVariant           *messages);

PFT_HTTP_AVAILABLE_IN_ALL
PftHttpProvider    pft_http_chat_client_get_provider       (PftHttpChatClient  *self);
PFT_HTTP_AVAILABLE_IN_ALL
const char        *pft_http_chat_client_get_base_url       (PftHttpChatClient  *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_client_set_base_url       (PftHttpChatClient  *self,
                                                            const char         *base_url);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_client_set_api_key        (PftHttpChatClient  *self,
                                                            const char         *api_key);
PFT_HTTP_AVAILABLE_IN_ALL
gboolean           pft_http_chat_client_has_api_key        (PftHttpChatClient  *self);
PFT_HTTP_AVAILABLE_IN_ALL
const char        *pft_http_chat_client_get_model          (PftHttpChatClient  *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_client_set_model          (PftHttpChatClient  *self,
                                                            const char         *model);
PFT_HTTP_AVAILABLE_IN_ALL
guint              pft_http_chat_client_get_max_tokens     (PftHttpChatClient  *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_client_set_max_tokens     (PftHttpChatClient  *self,
                                                            guint               max_tokens);
PFT_HTTP_AVAILABLE_IN_ALL
double             pft_http_chat_client_get_temperature    (PftHttpChatClient  *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_client_set_temperature    (PftHttpChatClient  *self,
                                                            double              temperature);
PFT_HTTP_AVAILABLE_IN_ALL
const char        *pft_http_chat_client_get_system_prompt  (PftHttpChatClient  *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_client_set_system_prompt  (PftHttpChatClient  *self,
                                                            const char         *system_prompt);
PFT_HTTP_AVAILABLE_IN_ALL
double             pft_http_chat_client_get_timeout        (PftHttpChatClient  *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_client_set_timeout        (PftHttpChatClient  *self,
                                                            double              timeout);
PFT_HTTP_AVAILABLE_IN_ALL
PftRateLimiter    *pft_http_chat_client_get_limiter        (PftHttpChatClient  *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_client_set_limiter        (PftHttpChatClient  *self,
                                                            PftRateLimiter     *limiter);
PFT_HTTP_AVAILABLE_IN_ALL
char              *pft_http_chat_client_to_string          (PftHttpChatClient  *self);

G_END_DECLS
