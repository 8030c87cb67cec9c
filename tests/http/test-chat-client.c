/* test-chat-client.c: PftHttpChatClient against a scripted SoupServer on
 * loopback: both provider styles, every kind of failure, the secret key
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "pft-http.h"
#include "scripted-server.h"

#define KEY "sk-test-SECRET-4f1c9e"

typedef struct
{
  GAsyncResult *result;
} Wait;

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Wait *w = user_data;
  w->result = g_object_ref (result);
}

static PftHttpChatReply *
complete (PftHttpChatClient *client,
          const char        *prompt,
          GCancellable      *cancellable,
          GError           **error)
{
  Wait w = { NULL };
  PftHttpChatReply *reply;

  pft_http_chat_client_complete_async (client, prompt, cancellable, wait_cb, &w);
  while (w.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  reply = pft_http_chat_client_complete_finish (client, w.result, error);
  g_object_unref (w.result);
  return reply;
}

static PftHttpChatClient *
client_for (ScriptedServer  *server,
            PftHttpProvider  provider,
            const char      *mode)
{
  g_autofree char *url = scripted_server_base_url (server, mode);
  PftHttpChatClient *client = pft_http_chat_client_new (provider, url, "test-model");

  pft_http_chat_client_set_api_key (client, KEY);
  return client;
}

static void
test_openai (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftHttpChatClient) client = client_for (server, PFT_HTTP_PROVIDER_OPENAI, "ok");
  g_autoptr(PftHttpChatReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *body;
  JsonArray *messages;

  pft_http_chat_client_set_system_prompt (client, "Be brief.");
  pft_http_chat_client_set_max_tokens (client, 64);
  pft_http_chat_client_set_temperature (client, 0.5);
  /* "Be brief." + "Hello": 14 characters / 4 rounded up, 4 a message,
   * and the whole max-tokens for the answer. */
  {
    g_autoptr(GVariant) prompt = g_variant_ref_sink (g_variant_new_string ("Hello"));
    g_assert_cmpuint (pft_http_chat_client_estimate_tokens (client, prompt), ==, 4 + 2 * 4 + 64);
  }
  reply = complete (client, "Hello", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pft_http_chat_reply_get_text (reply), ==, "echo: Hello");
  g_assert_cmpuint (pft_http_chat_reply_get_input_tokens (reply), ==, 11);
  g_assert_cmpuint (pft_http_chat_reply_get_output_tokens (reply), ==, 7);
  g_assert_true (pft_http_chat_reply_has_usage (reply));
  g_assert_cmpuint (pft_http_chat_reply_get_status (reply), ==, 200);
  g_assert_cmpfloat (pft_http_chat_reply_get_latency (reply), >, 0);
  g_assert_cmpstr (pft_http_chat_reply_get_finish_reason (reply), ==, "stop");
  g_assert_cmpstr (pft_http_chat_reply_get_model (reply), ==, "test-model");
  g_assert_true (JSON_NODE_HOLDS_OBJECT (pft_http_chat_reply_get_json (reply)));
  g_assert_nonnull (pft_http_chat_reply_get_rate_headers (reply));

  /* What went over the wire. */
  g_assert_cmpstr (scripted_server_last_path (server), ==, "/ok/chat/completions");
  g_assert_cmpstr (scripted_server_last_header (server, "Authorization"), ==, "Bearer " KEY);
  body = scripted_server_last_body (server);
  g_assert_cmpstr (json_object_get_string_member (body, "model"), ==, "test-model");
  g_assert_cmpint (json_object_get_int_member (body, "max_tokens"), ==, 64);
  g_assert_cmpfloat (json_object_get_double_member (body, "temperature"), ==, 0.5);
  messages = json_object_get_array_member (body, "messages");
  g_assert_cmpuint (json_array_get_length (messages), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (messages, 0), "role"), ==, "system");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (messages, 1), "content"), ==, "Hello");
}

static void
test_anthropic (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftHttpChatClient) client = client_for (server, PFT_HTTP_PROVIDER_ANTHROPIC, "ok");
  g_autoptr(PftHttpChatReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) conversation = NULL;
  Wait w = { NULL };
  JsonObject *body;

  pft_http_chat_client_set_system_prompt (client, "Be brief.");
  conversation = g_variant_ref_sink (g_variant_new_parsed (
    "[('user', 'Hi'), ('assistant', 'Hello!'), ('user', 'Translate cat')]"));
  pft_http_chat_client_complete_messages_async (client, conversation, NULL, wait_cb, &w);
  while (w.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  reply = pft_http_chat_client_complete_messages_finish (client, w.result, &error);
  g_clear_object (&w.result);
  g_assert_no_error (error);
  g_assert_cmpstr (pft_http_chat_reply_get_text (reply), ==, "echo: Translate cat");
  g_assert_cmpuint (pft_http_chat_reply_get_input_tokens (reply), ==, 11);
  g_assert_cmpstr (pft_http_chat_reply_get_finish_reason (reply), ==, "end_turn");

  g_assert_cmpstr (scripted_server_last_path (server), ==, "/ok/v1/messages");
  g_assert_cmpstr (scripted_server_last_header (server, "x-api-key"), ==, KEY);
  g_assert_nonnull (scripted_server_last_header (server, "anthropic-version"));
  g_assert_null (scripted_server_last_header (server, "Authorization"));
  body = scripted_server_last_body (server);
  /* The system prompt goes beside the messages, not among them. */
  g_assert_cmpstr (json_object_get_string_member (body, "system"), ==, "Be brief.");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (body, "messages")), ==, 3);

  /* aa{ss} works as well. */
  {
    g_autoptr(GVariant) dicts = g_variant_ref_sink (g_variant_new_parsed (
      "[{'role': 'user', 'content': 'dict form'}]"));
    g_autoptr(PftHttpChatReply) r2 = NULL;

    pft_http_chat_client_complete_messages_async (client, dicts, NULL, wait_cb, &w);
    while (w.result == NULL)
      g_main_context_iteration (NULL, TRUE);
    r2 = pft_http_chat_client_complete_messages_finish (client, w.result, &error);
    g_clear_object (&w.result);
    g_assert_no_error (error);
    g_assert_cmpstr (pft_http_chat_reply_get_text (r2), ==, "echo: dict form");
  }
}

static void
test_bad_messages (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftHttpChatClient) client = client_for (server, PFT_HTTP_PROVIDER_OPENAI, "ok");
  g_autoptr(GVariant) wrong = g_variant_ref_sink (g_variant_new_int32 (3));
  g_autoptr(GVariant) no_role = g_variant_ref_sink (g_variant_new_parsed ("[{'text': 'x'}]"));
  g_autoptr(GError) error = NULL;
  Wait w = { NULL };

  pft_http_chat_client_complete_messages_async (client, wrong, NULL, wait_cb, &w);
  while (w.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (pft_http_chat_client_complete_messages_finish (client, w.result, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "a(ss)"));
  g_clear_error (&error);
  g_clear_object (&w.result);

  pft_http_chat_client_complete_messages_async (client, no_role, NULL, wait_cb, &w);
  while (w.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (pft_http_chat_client_complete_messages_finish (client, w.result, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_clear_object (&w.result);
  g_assert_cmpuint (scripted_server_get_requests (server), ==, 0);
}

static void
test_rate_limited (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftHttpChatClient) client = client_for (server, PFT_HTTP_PROVIDER_OPENAI, "ratelimited");
  g_autoptr(GError) error = NULL;

  g_assert_null (complete (client, "Hello", NULL, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_RATE_LIMITED);
  /* retry-after-ms wins over retry-after. */
  g_assert_cmpfloat_with_epsilon (pft_error_get_retry_after (error), 1.5, 1e-9);
  g_assert_cmpuint (pft_http_error_get_status (error), ==, 429);
  g_assert_nonnull (strstr (error->message, "Rate limit reached for requests"));
}

static void
test_error_statuses (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftHttpChatClient) c500 = client_for (server, PFT_HTTP_PROVIDER_OPENAI, "status500");
  g_autoptr(PftHttpChatClient) c400 = client_for (server, PFT_HTTP_PROVIDER_ANTHROPIC, "status400");
  g_autoptr(GError) error = NULL;

  g_assert_null (complete (c500, "Hello", NULL, &error));
  g_assert_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_STATUS);
  g_assert_cmpuint (pft_http_error_get_status (error), ==, 500);
  g_assert_nonnull (strstr (error->message, "The model crashed"));
  g_clear_error (&error);

  g_assert_null (complete (c400, "Hello", NULL, &error));
  g_assert_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_STATUS);
  g_assert_cmpuint (pft_http_error_get_status (error), ==, 400);
  g_assert_nonnull (strstr (error->message, "max_tokens is too large"));

  /* The status survives a trip through the message alone (Python). */
  {
    g_autoptr(GError) copy = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, error->message);
    g_assert_cmpuint (pft_http_error_get_status (copy), ==, 400);
  }
}

static void
test_invalid_replies (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftHttpChatClient) notjson = client_for (server, PFT_HTTP_PROVIDER_OPENAI, "notjson");
  g_autoptr(PftHttpChatClient) nochoices = client_for (server, PFT_HTTP_PROVIDER_OPENAI, "nochoices");
  g_autoptr(PftHttpChatClient) nocontent = client_for (server, PFT_HTTP_PROVIDER_ANTHROPIC, "nochoices");
  g_autoptr(GError) error = NULL;

  g_assert_null (complete (notjson, "Hello", NULL, &error));
  g_assert_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_REPLY);
  g_assert_nonnull (strstr (error->message, "not JSON"));
  g_assert_nonnull (strstr (error->message, "<html>"));
  g_assert_cmpuint (pft_http_error_get_status (error), ==, 200);
  g_clear_error (&error);

  g_assert_null (complete (nochoices, "Hello", NULL, &error));
  g_assert_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_REPLY);
  g_assert_nonnull (strstr (error->message, "\"choices\""));
  g_clear_error (&error);

  g_assert_null (complete (nocontent, "Hello", NULL, &error));
  g_assert_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_REPLY);
  g_assert_nonnull (strstr (error->message, "\"content\""));
}

static void
test_bad_config (void)
{
  static const struct { const char *url; const char *model; const char *needle; } cases[] = {
    { "", "m", "No base URL" },
    { "not a url", "m", "Malformed base-url \"not a url\"" },
    { "ftp://example.com/v1", "m", "Malformed base-url" },
    { "http://", "m", "Malformed base-url" },
    { "http://127.0.0.1:1/v1", NULL, "No model" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(PftHttpChatClient) client =
        pft_http_chat_client_new (PFT_HTTP_PROVIDER_OPENAI, cases[i].url, cases[i].model);
      g_autoptr(GError) error = NULL;
      gint64 start = g_get_monotonic_time ();

      g_assert_false (pft_http_chat_client_check_config (client, &error));
      g_assert_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_CONFIG);
      g_clear_error (&error);
      g_assert_null (complete (client, "Hello", NULL, &error));
      g_assert_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_CONFIG);
      if (strstr (error->message, cases[i].needle) == NULL)
        g_error ("\"%s\" does not say \"%s\"", error->message, cases[i].needle);
      /* At once: nothing was tried. Generous bound, the machine is shared. */
      g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
    }

  /* The official URLs are the defaults. */
  {
    g_autoptr(PftHttpChatClient) o = pft_http_chat_client_new (PFT_HTTP_PROVIDER_OPENAI, NULL, "m");
    g_autoptr(PftHttpChatClient) a = pft_http_chat_client_new (PFT_HTTP_PROVIDER_ANTHROPIC, NULL, "m");
    g_assert_cmpstr (pft_http_chat_client_get_base_url (o), ==, "https://api.openai.com/v1");
    g_assert_cmpstr (pft_http_chat_client_get_base_url (a), ==, "https://api.anthropic.com");
  }
}

static guint
closed_port (void)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  guint16 port;

  port = g_socket_listener_add_any_inet_port (listener, NULL, NULL);
  g_socket_listener_close (listener);
  return port;
}

static void
test_refused (void)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/v1", closed_port ());
  g_autoptr(PftHttpChatClient) client = pft_http_chat_client_new (PFT_HTTP_PROVIDER_OPENAI, url, "m");
  g_autoptr(GError) error = NULL;

  g_assert_null (complete (client, "Hello", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_nonnull (strstr (error->message, url));
  g_assert_cmpuint (pft_http_error_get_status (error), ==, 0);
}

static void
test_timeout (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftHttpChatClient) client = client_for (server, PFT_HTTP_PROVIDER_OPENAI, "slow");
  g_autoptr(GError) error = NULL;

  scripted_server_set_delay (server, 2.0);
  pft_http_chat_client_set_timeout (client, 0.2);
  g_assert_null (complete (client, "Hello", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "timeout"));
}

static gboolean
cancel_cb (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftHttpChatClient) client = client_for (server, PFT_HTTP_PROVIDER_OPENAI, "slow");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;

  scripted_server_set_delay (server, 1.0);
  g_timeout_add (50, cancel_cb, cancellable);
  g_assert_null (complete (client, "Hello", cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_limiter (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftHttpChatClient) client = client_for (server, PFT_HTTP_PROVIDER_OPENAI, "limits");
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (4, 60, 60.0);
  g_autoptr(PftHttpChatReply) reply = NULL;
  g_autoptr(GError) error = NULL;

  pft_rate_limiter_set_max_cost_per_window (limiter, 100000);
  pft_http_chat_client_set_max_tokens (client, 100);
  pft_http_chat_client_set_limiter (client, limiter);
  reply = complete (client, "Hello", NULL, &error);
  g_assert_no_error (error);
  /* Headers: limit 30 (< 60) calibrates; remaining 0 with a 5 s reset pauses. */
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (limiter), ==, 30);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), >, 4);
  /* The permit was settled with the reply's usage (11 + 7), not the
   * estimate (100 + ...), and released. */
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (limiter), ==, 18);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
}

static void
test_limiter_429 (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftHttpChatClient) client = client_for (server, PFT_HTTP_PROVIDER_OPENAI, "ratelimited");
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (4, 0, 60.0);
  g_autoptr(GError) error = NULL;

  pft_rate_limiter_set_max_cost_per_window (limiter, 100000);
  pft_http_chat_client_set_limiter (client, limiter);
  g_assert_null (complete (client, "Hello", NULL, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_RATE_LIMITED);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), >, 1.0);
  g_assert_cmpuint (pft_rate_limiter_get_total_pauses (limiter), ==, 1);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (limiter), ==, 20);
  /* Refused: no tokens were used. */
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (limiter), ==, 0);
}

/* ------------------------------------------------------------------ */
/* The key is a secret                                                  */

static void
test_secret_properties (void)
{
  g_autoptr(PftHttpChatClient) client = pft_http_chat_client_new (PFT_HTTP_PROVIDER_OPENAI, NULL, "m");
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (client), "api-key");
  g_autofree char *s = NULL;
  gboolean has = FALSE;

  g_assert_nonnull (pspec);
  /* Write-only: g_object_get(), notify printouts and introspection
   * dumps cannot read it. */
  g_assert_false (pspec->flags & G_PARAM_READABLE);
  g_assert_true (pspec->flags & G_PARAM_WRITABLE);
  g_object_set (client, "api-key", KEY, NULL);
  g_object_get (client, "has-api-key", &has, NULL);
  g_assert_true (has);
  s = pft_http_chat_client_to_string (client);
  g_assert_null (strstr (s, KEY));
  g_assert_nonnull (strstr (s, "key=set"));
}

static void
test_secret_env_default (void)
{
  g_autoptr(PftHttpChatClient) client = NULL;

  g_setenv ("ANTHROPIC_API_KEY", "from-env", TRUE);
  client = pft_http_chat_client_new (PFT_HTTP_PROVIDER_ANTHROPIC, NULL, "m");
  g_assert_true (pft_http_chat_client_has_api_key (client));
  g_unsetenv ("ANTHROPIC_API_KEY");
}

static void
test_secret_redacted (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftHttpChatClient) client = client_for (server, PFT_HTTP_PROVIDER_OPENAI, "echokey");
  g_autoptr(GError) error = NULL;

  g_assert_null (complete (client, "Hello", NULL, &error));
  g_assert_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_STATUS);
  g_assert_cmpuint (pft_http_error_get_status (error), ==, 401);
  g_assert_null (strstr (error->message, KEY));
  g_assert_nonnull (strstr (error->message, "Incorrect API key provided: [REDACTED]"));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("OPENAI_API_KEY");
  g_unsetenv ("ANTHROPIC_API_KEY");

  g_test_add_func ("/pft-http/chat-client/openai", test_openai);
  g_test_add_func ("/pft-http/chat-client/anthropic", test_anthropic);
  g_test_add_func ("/pft-http/chat-client/bad-messages", test_bad_messages);
  g_test_add_func ("/pft-http/chat-client/rate-limited", test_rate_limited);
  g_test_add_func ("/pft-http/chat-client/error-statuses", test_error_statuses);
  g_test_add_func ("/pft-http/chat-client/invalid-replies", test_invalid_replies);
  g_test_add_func ("/pft-http/chat-client/bad-config", test_bad_config);
  g_test_add_func ("/pft-http/chat-client/refused", test_refused);
  g_test_add_func ("/pft-http/chat-client/timeout", test_timeout);
  g_test_add_func ("/pft-http/chat-client/cancel", test_cancel);
  g_test_add_func ("/pft-http/chat-client/limiter", test_limiter);
  g_test_add_func ("/pft-http/chat-client/limiter-429", test_limiter_429);
  g_test_add_func ("/pft-http/chat-client/secret/properties", test_secret_properties);
  g_test_add_func ("/pft-http/chat-client/secret/env-default", test_secret_env_default);
  g_test_add_func ("/pft-http/chat-client/secret/redacted", test_secret_redacted);

  return g_test_run ();
}
