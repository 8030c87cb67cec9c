/* pft-http-mock-protocol.c: the OpenAI and Anthropic wire formats as the
 * mock server speaks them: request validation, replies with a usage
 * block, error bodies and rate-limit headers
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-http-mock-protocol-private.h"

#include <json-glib/json-glib.h>

/* Replies say what they answer, so that a test can match reply and prompt. */
#define PFT_HTTP_MOCK_REPLY_PREFIX "echo: "

/* A message costs its text plus a fixed overhead, like real tokenizers'
 * role and separator tokens. */
#define PFT_HTTP_MOCK_TOKENS_PER_MESSAGE 4

/* One token per 4 characters, rounded up: the usual rule of thumb for
 * English, deterministic and cheap. */
guint
pft_http_mock_count_tokens (const char *text)
{
  glong chars = g_utf8_strlen (text, -1);

  return (guint) ((chars + 3) / 4);
}

static gboolean
pft_http_mock_protocol_fail (GError     **error,
                             const char  *format,
                             ...) G_GNUC_PRINTF (2, 3);

static gboolean
pft_http_mock_protocol_fail (GError     **error,
                             const char  *format,
                             ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (G_IO_ERROR, G_IO_ERROR_INVALID_DATA, format, args));
  va_end (args);
  return FALSE;
}

/* The text of a message's content: a string, an array of parts of which
 * the "text" ones count, or null (an OpenAI assistant message). */
static gboolean
pft_http_mock_protocol_content_text (JsonNode    *content,
                                     const char  *where,
                                     char       **text,
                                     GError     **error)
{
  g_autoptr(GString) joined = NULL;
  JsonArray *parts;

  if (content == NULL || JSON_NODE_HOLDS_NULL (content))
    {
      *text = g_strdup ("");
      return TRUE;
    }
  if (JSON_NODE_HOLDS_VALUE (content) && json_node_get_value_type (content) == G_TYPE_STRING)
    {
      *text = g_strdup (json_node_get_string (content));
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (content))
    return pft_http_mock_protocol_fail (error, "'%s' must be a string or an array of content parts", where);

  joined = g_string_new (NULL);
  parts = json_node_get_array (content);
  for (guint i = 0; i < json_array_get_length (parts); i++)
    {
      JsonNode *part = json_array_get_element (parts, i);
      JsonObject *object;
      const char *type;
      const char *part_text;

      if (!JSON_NODE_HOLDS_OBJECT (part))
        return pft_http_mock_protocol_fail (error, "'%s[%u]' must be an object", where, i);
      object = json_node_get_object (part);
      type = json_object_get_string_member_with_default (object, "type", NULL);
      if (type == NULL)
        return pft_http_mock_protocol_fail (error, "'%s[%u].type' must be a string", where, i);
      if (g_strcmp0 (type, "text") != 0)
        continue;
      part_text = json_object_get_string_member_with_default (object, "text", NULL);
      if (part_text == NULL)
        return pft_http_mock_protocol_fail (error, "'%s[%u].text' must be a string", where, i);
      if (joined->len > 0)
        g_string_append_c (joined, '\n');
      g_string_append (joined, part_text);
    }
  *text = g_string_free (g_steal_pointer (&joined), FALSE);
  return TRUE;
}

static gboolean
pft_http_mock_protocol_positive_int (JsonObject  *object,
                                     const char  *member,
                                     gint64      *value,
                                     GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64 ||
      json_node_get_int (node) < 1)
    return pft_http_mock_protocol_fail (error, "'%s' must be a positive integer", member);
  *value = json_node_get_int (node);
  return TRUE;
}

gboolean
pft_http_mock_request_parse (PftHttpMockApi       api,
                             const char          *body,
                             gsize                length,
                             PftHttpMockRequest  *request,
                             GError             **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) json_error = NULL;
  JsonNode *root;
  JsonObject *object;
  JsonNode *messages_node;
  JsonArray *messages;
  const char *model;
  guint prompt_tokens = 0;

  memset (request, 0, sizeof *request);
  request->max_tokens = -1;

  if (body == NULL || length == 0)
    return pft_http_mock_protocol_fail (error, "the request has no body: a JSON object is expected");
  /* Token counts and cuts walk the texts as UTF-8. */
  if (!g_utf8_validate (body, length, NULL))
    return pft_http_mock_protocol_fail (error, "the body is not valid UTF-8");
  if (!json_parser_load_from_data (parser, body, length, &json_error))
    return pft_http_mock_protocol_fail (error, "the body is not valid JSON: %s", json_error->message);
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return pft_http_mock_protocol_fail (error, "the body must be a JSON object");
  object = json_node_get_object (root);

  model = json_object_get_string_member_with_default (object, "model", NULL);
  if (model == NULL || *model == '\0')
    return pft_http_mock_protocol_fail (error, "'model' must be a non-empty string");
  if (json_object_has_member (object, "stream") &&
      json_object_get_boolean_member_with_default (object, "stream", FALSE))
    return pft_http_mock_protocol_fail (error, "'stream': streaming is not supported by the mock");

  if (!pft_http_mock_protocol_positive_int (object, "max_tokens", &request->max_tokens, error))
    return FALSE;
  if (api == PFT_HTTP_MOCK_API_OPENAI &&
      !pft_http_mock_protocol_positive_int (object, "max_completion_tokens", &request->max_tokens, error))
    return FALSE;
  if (api == PFT_HTTP_MOCK_API_ANTHROPIC && request->max_tokens < 0)
    return pft_http_mock_protocol_fail (error, "'max_tokens' is required");

  if (api == PFT_HTTP_MOCK_API_ANTHROPIC && json_object_has_member (object, "system"))
    {
      g_autofree char *system = NULL;

      if (!pft_http_mock_protocol_content_text (json_object_get_member (object, "system"),
                                                "system", &system, error))
        return FALSE;
      prompt_tokens += pft_http_mock_count_tokens (system) + PFT_HTTP_MOCK_TOKENS_PER_MESSAGE;
    }

  messages_node = json_object_get_member (object, "messages");
  if (messages_node == NULL || !JSON_NODE_HOLDS_ARRAY (messages_node) ||
      json_array_get_length (json_node_get_array (messages_node)) == 0)
    return pft_http_mock_protocol_fail (error, "'messages' must be a non-empty array");
  messages = json_node_get_array (messages_node);

  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      static const char * const openai_roles[] = { "system", "developer", "user", "assistant", "tool", NULL };
      static const char * const anthropic_roles[] = { "user", "assistant", NULL };
      JsonNode *message = json_array_get_element (messages, i);
      g_autofree char *where = NULL;
      g_autofree char *text = NULL;
      const char *role;

      if (!JSON_NODE_HOLDS_OBJECT (message))
        return pft_http_mock_protocol_fail (error, "'messages[%u]' must be an object", i);
      role = json_object_get_string_member_with_default (json_node_get_object (message), "role", NULL);
      if (role == NULL ||
          !g_strv_contains (api == PFT_HTTP_MOCK_API_OPENAI ? openai_roles : anthropic_roles, role))
        {
          g_autofree char *roles = g_strjoinv (", ", (char **) (api == PFT_HTTP_MOCK_API_OPENAI ? openai_roles : anthropic_roles));

          return pft_http_mock_protocol_fail (error, "'messages[%u].role' must be one of %s", i, roles);
        }
      where = g_strdup_printf ("messages[%u].content", i);
      if (api == PFT_HTTP_MOCK_API_ANTHROPIC &&
          !json_object_has_member (json_node_get_object (message), "content"))
        return pft_http_mock_protocol_fail (error, "'%s' is required", where);
      if (!pft_http_mock_protocol_content_text (json_object_get_member (json_node_get_object (message), "content"),
                                                where, &text, error))
        return FALSE;

      prompt_tokens += pft_http_mock_count_tokens (text) + PFT_HTTP_MOCK_TOKENS_PER_MESSAGE;
      if (g_str_equal (role, "user"))
        {
          g_free (request->last_user_text);
          request->last_user_text = g_steal_pointer (&text);
        }
    }

  request->model = g_strdup (model);
  if (request->last_user_text == NULL)
    request->last_user_text = g_strdup ("");
  request->prompt_tokens = prompt_tokens;
  return TRUE;
}

void
pft_http_mock_request_clear (PftHttpMockRequest *request)
{
  g_clear_pointer (&request->model, g_free);
  g_clear_pointer (&request->last_user_text, g_free);
}

/* The deterministic reply: the last user message after a prefix, cut to
 * the request's max_tokens (4 characters a token) like a real model that
 * runs out of tokens. */
char *
pft_http_mock_reply_text (const PftHttpMockRequest *request,
                          guint                    *completion_tokens,
                          gboolean                 *truncated)
{
  g_autofree char *text = g_strconcat (PFT_HTTP_MOCK_REPLY_PREFIX, request->last_user_text, NULL);
  guint tokens = pft_http_mock_count_tokens (text);

  *truncated = FALSE;
  if (request->max_tokens >= 0 && tokens > (guint64) request->max_tokens)
    {
      char *end = g_utf8_offset_to_pointer (text, request->max_tokens * 4);

      *end = '\0';
      tokens = (guint) request->max_tokens;
      *truncated = TRUE;
    }
  *completion_tokens = tokens;
  return g_steal_pointer (&text);
}

static char *
pft_http_mock_protocol_to_json (JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autoptr(JsonGenerator) generator = json_generator_new ();

  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

char *
pft_http_mock_reply_body (PftHttpMockApi            api,
                          guint64                   id,
                          const PftHttpMockRequest *request,
                          const char               *text,
                          guint                     completion_tokens,
                          gboolean                  truncated)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autofree char *id_string = NULL;

  json_builder_begin_object (builder);
  if (api == PFT_HTTP_MOCK_API_OPENAI)
    {
      id_string = g_strdup_printf ("chatcmpl-mock-%" G_GUINT64_FORMAT, id);
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, id_string);
      json_builder_set_member_name (builder, "object");
      json_builder_add_string_value (builder, "chat.completion");
      json_builder_set_member_name (builder, "created");
      json_builder_add_int_value (builder, g_get_real_time () / G_USEC_PER_SEC);
      json_builder_set_member_name (builder, "model");
      json_builder_add_string_value (builder, request->model);
      json_builder_set_member_name (builder, "choices");
      json_builder_begin_array (builder);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "index");
      json_builder_add_int_value (builder, 0);
      json_builder_set_member_name (builder, "message");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "role");
      json_builder_add_string_value (builder, "assistant");
      json_builder_set_member_name (builder, "content");
      json_builder_add_string_value (builder, text);
      json_builder_end_object (builder);
      json_builder_set_member_name (builder, "finish_reason");
      json_builder_add_string_value (builder, truncated ? "length" : "stop");
      json_builder_end_object (builder);
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "usage");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "prompt_tokens");
      json_builder_add_int_value (builder, request->prompt_tokens);
      json_builder_set_member_name (builder, "completion_tokens");
      json_builder_add_int_value (builder, completion_tokens);
      json_builder_set_member_name (builder, "total_tokens");
      json_builder_add_int_value (builder, request->prompt_tokens + completion_tokens);
      json_builder_end_object (builder);
    }
  else
    {
      id_string = g_strdup_printf ("msg_mock_%" G_GUINT64_FORMAT, id);
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, id_string);
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "message");
      json_builder_set_member_name (builder, "role");
      json_builder_add_string_value (builder, "assistant");
      json_builder_set_member_name (builder, "model");
      json_builder_add_string_value (builder, request->model);
      json_builder_set_member_name (builder, "content");
      json_builder_begin_array (builder);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "text");
      json_builder_set_member_name (builder, "text");
      json_builder_add_string_value (builder, text);
      json_builder_end_object (builder);
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "stop_reason");
      json_builder_add_string_value (builder, truncated ? "max_tokens" : "end_turn");
      json_builder_set_member_name (builder, "stop_sequence");
      json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "usage");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "input_tokens");
      json_builder_add_int_value (builder, request->prompt_tokens);
      json_builder_set_member_name (builder, "output_tokens");
      json_builder_add_int_value (builder, completion_tokens);
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);
  return pft_http_mock_protocol_to_json (builder);
}

/* The provider's error object: OpenAI's {"error": {message, type, code}},
 * Anthropic's {"type": "error", "error": {type, message}}. For a 429,
 * @limit ("requests", "tokens") is OpenAI's type. */
char *
pft_http_mock_error_body (PftHttpMockApi  api,
                          guint           status,
                          const char     *limit,
                          const char     *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  const char *type;
  const char *code = NULL;

  switch (status)
    {
    case SOUP_STATUS_UNAUTHORIZED:
      type = api == PFT_HTTP_MOCK_API_OPENAI ? "invalid_request_error" : "authentication_error";
      code = "invalid_api_key";
      break;
    case PFT_HTTP_MOCK_STATUS_TOO_MANY_REQUESTS:
      type = api == PFT_HTTP_MOCK_API_OPENAI ? (limit != NULL ? limit : "requests") : "rate_limit_error";
      code = "rate_limit_exceeded";
      break;
    case SOUP_STATUS_NOT_FOUND:
      type = api == PFT_HTTP_MOCK_API_OPENAI ? "invalid_request_error" : "not_found_error";
      break;
    default:
      if (status >= 500)
        type = api == PFT_HTTP_MOCK_API_OPENAI ? "server_error" : "api_error";
      else
        type = "invalid_request_error";
    }

  json_builder_begin_object (builder);
  if (api == PFT_HTTP_MOCK_API_ANTHROPIC)
    {
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "error");
    }
  json_builder_set_member_name (builder, "error");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);
  if (api == PFT_HTTP_MOCK_API_OPENAI)
    {
      json_builder_set_member_name (builder, "param");
      json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "code");
      if (code != NULL)
        json_builder_add_string_value (builder, code);
      else
        json_builder_add_null_value (builder);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  return pft_http_mock_protocol_to_json (builder);
}

/* Go's time.Duration.String() at millisecond resolution (rounded up, so a
 * client that waits for it is never early): "0s", "20ms", "1s", "1.5s",
 * "6m0s", "1h2m3.25s". OpenAI sends resets in this form. */
char *
pft_http_mock_format_go_duration (gint64 usec)
{
  gint64 ms = (MAX (usec, 0) + 999) / 1000;
  GString *out;
  gint64 hours, minutes, seconds, frac;

  if (ms == 0)
    return g_strdup ("0s");
  if (ms < 1000)
    return g_strdup_printf ("%" G_GINT64_FORMAT "ms", ms);

  out = g_string_new (NULL);
  hours = ms / 3600000;
  minutes = ms / 60000 % 60;
  seconds = ms / 1000 % 60;
  frac = ms % 1000;
  if (hours > 0)
    g_string_append_printf (out, "%" G_GINT64_FORMAT "h", hours);
  if (hours > 0 || minutes > 0)
    g_string_append_printf (out, "%" G_GINT64_FORMAT "m", minutes);
  g_string_append_printf (out, "%" G_GINT64_FORMAT, seconds);
  if (frac > 0)
    {
      char digits[4];

      g_snprintf (digits, sizeof digits, "%03" G_GINT64_FORMAT, frac);
      for (int i = 2; i > 0 && digits[i] == '0'; i--)
        digits[i] = '\0';
      g_string_append_printf (out, ".%s", digits);
    }
  g_string_append_c (out, 's');
  return g_string_free (out, FALSE);
}

/* An RFC 3339 UTC time with milliseconds (rounded up), as Anthropic sends
 * its resets: "2026-11-30T07:30:00.125Z". */
char *
pft_http_mock_format_rfc3339 (gint64 real_usec)
{
  gint64 ms = (real_usec + 999) / 1000;
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_utc (ms / 1000);
  g_autofree char *seconds = g_date_time_format (time, "%Y-%m-%dT%H:%M:%S");

  return g_strdup_printf ("%s.%03dZ", seconds, (int) (ms % 1000));
}

static void
pft_http_mock_protocol_set_number (SoupMessageHeaders *headers,
                                   const char         *name,
                                   guint64             value)
{
  char text[32];

  g_snprintf (text, sizeof text, "%" G_GUINT64_FORMAT, value);
  soup_message_headers_replace (headers, name, text);
}

static void
pft_http_mock_protocol_set_reset (SoupMessageHeaders     *headers,
                                  PftHttpMockHeaderStyle  style,
                                  const char             *name,
                                  gint64                  usec)
{
  g_autofree char *text = NULL;

  if (style == PFT_HTTP_MOCK_HEADER_STYLE_OPENAI)
    text = pft_http_mock_format_go_duration (usec);
  else if (style == PFT_HTTP_MOCK_HEADER_STYLE_ANTHROPIC)
    text = pft_http_mock_format_rfc3339 (g_get_real_time () + usec);
  else
    text = g_strdup_printf ("%" G_GINT64_FORMAT, (MAX (usec, 0) + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
  soup_message_headers_replace (headers, name, text);
}

/* @style is resolved already (not AUTO). */
void
pft_http_mock_set_rate_headers (SoupMessageHeaders          *headers,
                                PftHttpMockHeaderStyle       style,
                                const PftHttpMockLimitState *state)
{
  static const char * const openai_names[] = {
    "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
  };
  static const char * const anthropic_names[] = {
    "anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset",
  };
  const char * const *names;

  g_assert (style != PFT_HTTP_MOCK_HEADER_STYLE_AUTO);

  switch (style)
    {
    case PFT_HTTP_MOCK_HEADER_STYLE_OPENAI:
      names = openai_names;
      break;
    case PFT_HTTP_MOCK_HEADER_STYLE_ANTHROPIC:
      names = anthropic_names;
      break;
    case PFT_HTTP_MOCK_HEADER_STYLE_IETF:
      /* One limit in these fields: the request limit, else the token one. */
      if (state->request_limit > 0)
        {
          pft_http_mock_protocol_set_number (headers, "RateLimit-Limit", state->request_limit);
          pft_http_mock_protocol_set_number (headers, "RateLimit-Remaining", state->request_remaining);
          pft_http_mock_protocol_set_reset (headers, style, "RateLimit-Reset", state->request_reset);
        }
      else if (state->token_limit > 0)
        {
          pft_http_mock_protocol_set_number (headers, "RateLimit-Limit", state->token_limit);
          pft_http_mock_protocol_set_number (headers, "RateLimit-Remaining", state->token_remaining);
          pft_http_mock_protocol_set_reset (headers, style, "RateLimit-Reset", state->token_reset);
        }
      return;
    case PFT_HTTP_MOCK_HEADER_STYLE_NONE:
    case PFT_HTTP_MOCK_HEADER_STYLE_AUTO:
    default:
      return;
    }

  if (state->request_limit > 0)
    {
      pft_http_mock_protocol_set_number (headers, names[0], state->request_limit);
      pft_http_mock_protocol_set_number (headers, names[1], state->request_remaining);
      pft_http_mock_protocol_set_reset (headers, style, names[2], state->request_reset);
    }
  if (state->token_limit > 0)
    {
      pft_http_mock_protocol_set_number (headers, names[3], state->token_limit);
      pft_http_mock_protocol_set_number (headers, names[4], state->token_remaining);
      pft_http_mock_protocol_set_reset (headers, style, names[5], state->token_reset);
    }
}

/* `retry-after` in whole seconds (rounded up: never early) and the
 * precise `retry-after-ms`. */
void
pft_http_mock_set_retry_after (SoupMessageHeaders *headers,
                               gint64              usec)
{
  gint64 ms = MAX ((usec + 999) / 1000, 1);

  pft_http_mock_protocol_set_number (headers, "retry-after", (ms + 999) / 1000);
  pft_http_mock_protocol_set_number (headers, "retry-after-ms", ms);
}
