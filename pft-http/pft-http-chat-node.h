/* pft-http-chat-node.h: an adaptive batch node that sends chat completions
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_HTTP_INSIDE) && !defined(PFT_HTTP_COMPILATION)
# error "Only <pft-http.h> can be included directly."
#endif

#include <pft.h>

#include "pft-http-version-macros.h"
#include "pft-http-chat-client.h"
#include "pft-http-chat-reply.h"
#include "pft-http-rate-headers.h"

G_BEGIN_DECLS

#define PFT_HTTP_TYPE_CHAT_NODE (pft_http_chat_node_get_type ())

PFT_HTTP_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (PftHttpChatNode, pft_http_chat_node, PFT_HTTP, CHAT_NODE, PftAdaptiveNode)

/**
 * PftHttpChatNodeClass:
 * @parent_class: the parent class
 * @build_messages: turns one item into what is sent: a prompt string or
 *   a #GVariant of type `a(ss)` / `aa{ss}` (role, content). The default
 *   passes the item through.
 * @handle_reply: turns a reply into the item's result, or fails (the
 *   attempt is then retried like a failed request). The default makes the
 *   [class@PftHttp.ChatReply] itself the result.
 *
 * The virtual functions of [class@PftHttp.ChatNode]. Both produce their
 * value through a caller-allocated #GValue, the shape every binding can
 * implement (see the bindings notes); neither takes a callback.
 *
 * Since: 0.1
 */
struct _PftHttpChatNodeClass
{
  PftAdaptiveNodeClass parent_class;

  void (*build_messages) (PftHttpChatNode   *self,
                          PftContext        *ctx,
                          const GValue      *item,
                          GValue            *messages,
                          GError           **error);
  void (*handle_reply)   (PftHttpChatNode   *self,
                          PftContext        *ctx,
                          const GValue      *item,
                          PftHttpChatReply  *reply,
                          GValue            *result,
                          GError           **error);

  /*< private >*/
  gpointer _reserved[8];
};

PFT_HTTP_AVAILABLE_IN_ALL
PftNode           *pft_http_chat_node_new                (PftHttpChatClient *client);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_node_build_messages     (PftHttpChatNode   *self,
                                                          PftContext        *ctx,
                                                          const GValue      *item,
                                                          GValue            *messages,
                                                          GError           **error);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_node_handle_reply       (PftHttpChatNode   *self,
                                                          PftContext        *ctx,
                                                          const GValue      *item,
                                                          PftHttpChatReply  *reply,
                                                          GValue            *result,
                                                          GError           **error);

PFT_HTTP_AVAILABLE_IN_ALL
PftHttpChatClient *pft_http_chat_node_get_client         (PftHttpChatNode   *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_node_set_client         (PftHttpChatNode   *self,
                                                          PftHttpChatClient *client);
PFT_HTTP_AVAILABLE_IN_ALL
PftRateLimiter    *pft_http_chat_node_get_token_limiter  (PftHttpChatNode   *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_node_set_token_limiter  (PftHttpChatNode   *self,
                                                          PftRateLimiter    *limiter);
PFT_HTTP_AVAILABLE_IN_ALL
const char        *pft_http_chat_node_get_input_key      (PftHttpChatNode   *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_node_set_input_key      (PftHttpChatNode   *self,
                                                          const char        *key);
PFT_HTTP_AVAILABLE_IN_ALL
const char        *pft_http_chat_node_get_output_key     (PftHttpChatNode   *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_node_set_output_key     (PftHttpChatNode   *self,
                                                          const char        *key);
PFT_HTTP_AVAILABLE_IN_ALL
double             pft_http_chat_node_get_provider_window (PftHttpChatNode  *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_node_set_provider_window (PftHttpChatNode  *self,
                                                          double             window);
PFT_HTTP_AVAILABLE_IN_ALL
guint64            pft_http_chat_node_get_requests_sent  (PftHttpChatNode   *self);
PFT_HTTP_AVAILABLE_IN_ALL
guint64            pft_http_chat_node_get_rate_limited_replies (PftHttpChatNode *self);
PFT_HTTP_AVAILABLE_IN_ALL
guint64            pft_http_chat_node_get_retries        (PftHttpChatNode   *self);
PFT_HTTP_AVAILABLE_IN_ALL
void               pft_http_chat_node_reset_counters     (PftHttpChatNode   *self);

G_END_DECLS
