/* pft-http-chat-reply.c: one chat completion as the provider answered it
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-http.h"
#include "pft-http-private.h"

/**
 * PftHttpChatReply:
 *
 * The answer to one chat completion: the text, the token usage, the HTTP
 * status, the latency, the whole parsed JSON and the provider's
 * rate-limit headers. Immutable.
 *
 * Since: 0.1
 */
struct _PftHttpChatReply
{
  GObject             parent_instance;

  char               *text;
  char               *model;
  char               *finish_reason;
  guint64             input_tokens;
  guint64             output_tokens;
  gboolean            has_usage;
  guint               status;
  double              latency;
  JsonNode           *json;
  PftHttpRateHeaders *rate_headers;
};

G_DEFINE_FINAL_TYPE (PftHttpChatReply, pft_http_chat_reply, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_TEXT,
  PROP_INPUT_TOKENS,
  PROP_OUTPUT_TOKENS,
  PROP_STATUS,
  PROP_LATENCY,
  PROP_MODEL,
  PROP_JSON,
  PROP_RATE_HEADERS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
pft_http_chat_reply_finalize (GObject *object)
{
  PftHttpChatReply *self = (PftHttpChatReply *) object;

  g_free (self->text);
  g_free (self->model);
  g_free (self->finish_reason);
  g_clear_pointer (&self->json, json_node_unref);
  g_clear_object (&self->rate_headers);

  G_OBJECT_CLASS (pft_http_chat_reply_parent_class)->finalize (object);
}

static void
pft_http_chat_reply_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  PftHttpChatReply *self = PFT_HTTP_CHAT_REPLY (object);

  switch (prop_id)
    {
    case PROP_TEXT: g_value_set_string (value, self->text); break;
    case PROP_INPUT_TOKENS: g_value_set_uint64 (value, self->input_tokens); break;
    case PROP_OUTPUT_TOKENS: g_value_set_uint64 (value, self->output_tokens); break;
    case PROP_STATUS: g_value_set_uint (value, self->status); break;
    case PROP_LATENCY: g_value_set_double (value, self->latency); break;
    case PROP_MODEL: g_value_set_string (value, self->model); break;
    case PROP_JSON: g_value_set_boxed (value, self->json); break;
    case PROP_RATE_HEADERS: g_value_set_object (value, self->rate_headers); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_http_chat_reply_class_init (PftHttpChatReplyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = pft_http_chat_reply_finalize;
  object_class->get_property = pft_http_chat_reply_get_property;

  /**
   * PftHttpChatReply:text:
   *
   * The text of the answer (all text blocks of an Anthropic reply joined).
   *
   * Since: 0.1
   */
  properties[PROP_TEXT] = g_param_spec_string ("text", NULL, NULL, NULL, ro);
  /**
   * PftHttpChatReply:input-tokens:
   *
   * Prompt tokens, from the reply's `usage` (0 when it had none).
   *
   * Since: 0.1
   */
  properties[PROP_INPUT_TOKENS] = g_param_spec_uint64 ("input-tokens", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * PftHttpChatReply:output-tokens:
   *
   * Completion tokens, from the reply's `usage` (0 when it had none).
   *
   * Since: 0.1
   */
  properties[PROP_OUTPUT_TOKENS] = g_param_spec_uint64 ("output-tokens", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * PftHttpChatReply:status:
   *
   * The HTTP status (200).
   *
   * Since: 0.1
   */
  properties[PROP_STATUS] = g_param_spec_uint ("status", NULL, NULL, 0, 999, 0, ro);
  /**
   * PftHttpChatReply:latency:
   *
   * Seconds from sending the request to having the whole reply.
   *
   * Since: 0.1
   */
  properties[PROP_LATENCY] = g_param_spec_double ("latency", NULL, NULL, 0, G_MAXDOUBLE, 0, ro);
  /**
   * PftHttpChatReply:model:
   *
   * The model that answered, as the reply says, or %NULL.
   *
   * Since: 0.1
   */
  properties[PROP_MODEL] = g_param_spec_string ("model", NULL, NULL, NULL, ro);
  /**
   * PftHttpChatReply:json:
   *
   * The whole reply, parsed.
   *
   * Since: 0.1
   */
  properties[PROP_JSON] = g_param_spec_boxed ("json", NULL, NULL, JSON_TYPE_NODE, ro);
  /**
   * PftHttpChatReply:rate-headers:
   *
   * The rate-limit headers of the reply.
   *
   * Since: 0.1
   */
  properties[PROP_RATE_HEADERS] = g_param_spec_object ("rate-headers", NULL, NULL, PFT_HTTP_TYPE_RATE_HEADERS, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pft_http_chat_reply_init (PftHttpChatReply *self)
{
}

PftHttpChatReply *
_pft_http_chat_reply_new (const char         *text,
                          const char         *model,
                          const char         *finish_reason,
                          gboolean            has_usage,
                          guint64             input_tokens,
                          guint64             output_tokens,
                          guint               status,
                          double              latency,
                          JsonNode           *json,
                          PftHttpRateHeaders *rate_headers)
{
  PftHttpChatReply *self = g_object_new (PFT_HTTP_TYPE_CHAT_REPLY, NULL);

  self->text = g_strdup (text != NULL ? text : "");
  self->model = g_strdup (model);
  self->finish_reason = g_strdup (finish_reason);
  self->has_usage = has_usage;
  self->input_tokens = input_tokens;
  self->output_tokens = output_tokens;
  self->status = status;
  self->latency = latency;
  self->json = json != NULL ? json_node_ref (json) : NULL;
  self->rate_headers = rate_headers != NULL ? g_object_ref (rate_headers) : pft_http_rate_headers_new ();
  return self;
}

/**
 * pft_http_chat_reply_get_text:
 * @self: a reply
 *
 * Gets [property@PftHttp.ChatReply:text]: OpenAI's
 * `choices[0].message.content`, or Anthropic's `text` blocks joined.
 *
 * Returns: the text of the answer
 *
 * Since: 0.1
 */
const char *
pft_http_chat_reply_get_text (PftHttpChatReply *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_REPLY (self), NULL);
  return self->text;
}

/**
 * pft_http_chat_reply_get_input_tokens:
 * @self: a reply
 *
 * Gets [property@PftHttp.ChatReply:input-tokens], the tokens the provider
 * counted for the prompt.
 *
 * Returns: prompt tokens from the reply's usage, or 0
 *
 * Since: 0.1
 */
guint64
pft_http_chat_reply_get_input_tokens (PftHttpChatReply *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_REPLY (self), 0);
  return self->input_tokens;
}

/**
 * pft_http_chat_reply_get_output_tokens:
 * @self: a reply
 *
 * Gets [property@PftHttp.ChatReply:output-tokens], the tokens the provider
 * counted for the answer.
 *
 * Returns: completion tokens from the reply's usage, or 0
 *
 * Since: 0.1
 */
guint64
pft_http_chat_reply_get_output_tokens (PftHttpChatReply *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_REPLY (self), 0);
  return self->output_tokens;
}

/**
 * pft_http_chat_reply_has_usage:
 * @self: a reply
 *
 * Tells whether the token counts come from the provider; without a `usage`
 * block they are 0.
 *
 * Returns: %TRUE if the reply had a `usage` block
 *
 * Since: 0.1
 */
gboolean
pft_http_chat_reply_has_usage (PftHttpChatReply *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_REPLY (self), FALSE);
  return self->has_usage;
}

/**
 * pft_http_chat_reply_get_status:
 * @self: a reply
 *
 * Gets [property@PftHttp.ChatReply:status], the HTTP status of the reply.
 *
 * Returns: the HTTP status
 *
 * Since: 0.1
 */
guint
pft_http_chat_reply_get_status (PftHttpChatReply *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_REPLY (self), 0);
  return self->status;
}

/**
 * pft_http_chat_reply_get_latency:
 * @self: a reply
 *
 * Gets [property@PftHttp.ChatReply:latency].
 *
 * Returns: seconds from sending to having the whole reply
 *
 * Since: 0.1
 */
double
pft_http_chat_reply_get_latency (PftHttpChatReply *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_REPLY (self), 0);
  return self->latency;
}

/**
 * pft_http_chat_reply_get_model:
 * @self: a reply
 *
 * Gets [property@PftHttp.ChatReply:model], the model that answered, as the
 * provider names it.
 *
 * Returns: (nullable): the model named in the reply
 *
 * Since: 0.1
 */
const char *
pft_http_chat_reply_get_model (PftHttpChatReply *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_REPLY (self), NULL);
  return self->model;
}

/**
 * pft_http_chat_reply_get_finish_reason:
 * @self: a reply
 *
 * Gets why the provider stopped the answer.
 *
 * Returns: (nullable): OpenAI's `finish_reason` or Anthropic's
 *   `stop_reason` (`stop`, `length`, `end_turn`, `max_tokens`, ...)
 *
 * Since: 0.1
 */
const char *
pft_http_chat_reply_get_finish_reason (PftHttpChatReply *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_REPLY (self), NULL);
  return self->finish_reason;
}

/**
 * pft_http_chat_reply_get_json:
 * @self: a reply
 *
 * Gets [property@PftHttp.ChatReply:json], the reply's body, for the fields
 * the reply has no accessor for.
 *
 * Returns: (transfer none): the whole reply, parsed
 *
 * Since: 0.1
 */
JsonNode *
pft_http_chat_reply_get_json (PftHttpChatReply *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_REPLY (self), NULL);
  return self->json;
}

/**
 * pft_http_chat_reply_get_rate_headers:
 * @self: a reply
 *
 * Gets [property@PftHttp.ChatReply:rate-headers], the rate-limit fields of
 * the reply's headers.
 *
 * Returns: (transfer none): the reply's rate-limit headers
 *
 * Since: 0.1
 */
PftHttpRateHeaders *
pft_http_chat_reply_get_rate_headers (PftHttpChatReply *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_REPLY (self), NULL);
  return self->rate_headers;
}

/**
 * pft_http_chat_reply_to_string:
 * @self: a reply
 *
 * Describes the reply for logs (status, tokens, latency, the start of the
 * text).
 *
 * Returns: (transfer full): a string
 *
 * Since: 0.1
 */
char *
pft_http_chat_reply_to_string (PftHttpChatReply *self)
{
  g_autofree char *start = NULL;

  g_return_val_if_fail (PFT_HTTP_IS_CHAT_REPLY (self), NULL);

  start = g_utf8_substring (self->text, 0, MIN (g_utf8_strlen (self->text, -1), 40));
  return g_strdup_printf ("ChatReply(status=%u tokens=%" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
                          " latency=%.3fs text=\"%s%s\")",
                          self->status, self->input_tokens, self->output_tokens, self->latency,
                          start, g_utf8_strlen (self->text, -1) > 40 ? "..." : "");
}
