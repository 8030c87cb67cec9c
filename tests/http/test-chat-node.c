/* test-chat-node.c: PftHttpChatNode against a scripted SoupServer on
 * loopback: order, subclassing, retries, errors, bad configuration,
 * cancellation, headers, tokens, and the secret key under debug logging
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "pft-http.h"
#include "scripted-server.h"

#define KEY "sk-test-SECRET-77aa3b9d"

static PftNode *
node_for (ScriptedServer  *server,
          PftHttpProvider  provider,
          const char      *mode)
{
  g_autofree char *url = scripted_server_base_url (server, mode);
  g_autoptr(PftHttpChatClient) client = pft_http_chat_client_new (provider, url, "test-model");

  pft_http_chat_client_set_api_key (client, KEY);
  return pft_http_chat_node_new (client);
}

static PftStore *
store_with_prompts (guint n)
{
  PftStore *store = pft_store_new ();
  g_autoptr(PftValues) prompts = pft_values_new ();

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *p = g_strdup_printf ("prompt %u", i);
      pft_values_append_string (prompts, p);
    }
  pft_store_set_values (store, "prompts", prompts);
  return store;
}

static void
check_echo_replies (PftStore *store,
                    guint     n)
{
  g_autoptr(PftValues) replies = pft_store_dup_values (store, "replies");

  g_assert_nonnull (replies);
  g_assert_cmpuint (pft_values_get_length (replies), ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PftHttpChatReply) reply = pft_values_dup_object (replies, i);
      g_autofree char *want = g_strdup_printf ("echo: prompt %u", i);

      g_assert_true (PFT_HTTP_IS_CHAT_REPLY (reply));
      g_assert_cmpstr (pft_http_chat_reply_get_text (reply), ==, want);
    }
}

static void
test_batch_in_order (gconstpointer data)
{
  PftHttpProvider provider = GPOINTER_TO_INT (data);
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftNode) node = node_for (server, provider, "ok");
  g_autoptr(PftStore) store = store_with_prompts (40);
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  PftRateLimiter *tokens = pft_http_chat_node_get_token_limiter (PFT_HTTP_CHAT_NODE (node));

  /* A token budget, so that the limiter keeps the window's cost. */
  pft_rate_limiter_set_max_cost_per_window (tokens, 1000000);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  check_echo_replies (store, 40);
  g_assert_cmpuint (scripted_server_get_requests (server), ==, 40);
  g_assert_cmpuint (pft_http_chat_node_get_requests_sent (PFT_HTTP_CHAT_NODE (node)), ==, 40);
  g_assert_cmpuint (pft_http_chat_node_get_retries (PFT_HTTP_CHAT_NODE (node)), ==, 0);
  /* Every token charge was settled with the usage (11 + 7 a reply). */
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (tokens), ==, 40 * 18);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (tokens), ==, 0);
}

static void
test_items_shapes (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftNode) node = node_for (server, PFT_HTTP_PROVIDER_OPENAI, "ok");
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) items = pft_values_new ();
  g_autoptr(PftValues) replies = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  const char *strv[] = { "a", "b", NULL };

  pft_values_append_string (items, "plain");
  pft_values_append_variant (items, g_variant_new_parsed ("[('system', 'S'), ('user', 'pairs')]"));
  pft_values_append_variant (items, g_variant_new_parsed ("[{'role': 'user', 'content': 'dicts'}]"));
  pft_values_append_int (items, 5);
  pft_store_set_values (store, "prompts", items);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  replies = pft_store_dup_values (store, "replies");
  g_assert_cmpuint (pft_values_get_length (replies), ==, 4);
  {
    g_autoptr(PftHttpChatReply) r0 = pft_values_dup_object (replies, 0);
    g_autoptr(PftHttpChatReply) r1 = pft_values_dup_object (replies, 1);
    g_autoptr(PftHttpChatReply) r2 = pft_values_dup_object (replies, 2);
    g_assert_cmpstr (pft_http_chat_reply_get_text (r0), ==, "echo: plain");
    g_assert_cmpstr (pft_http_chat_reply_get_text (r1), ==, "echo: pairs");
    g_assert_cmpstr (pft_http_chat_reply_get_text (r2), ==, "echo: dicts");
  }
  /* An item of the wrong type is that item's error, not a lost item. */
  g_assert_error (pft_values_get_error (replies, 3), PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);

  /* A plain string array in the store works too. */
  {
    g_autoptr(PftStore) s2 = pft_store_new ();
    g_auto(GValue) v = G_VALUE_INIT;
    g_autoptr(PftValues) r = NULL;
    g_autofree char *a2 = NULL;

    g_value_init (&v, G_TYPE_STRV);
    g_value_set_boxed (&v, strv);
    pft_store_set_value (s2, "prompts", &v);
    a2 = pft_node_run (node, s2, NULL, &error);
    g_assert_no_error (error);
    r = pft_store_dup_values (s2, "replies");
    g_assert_cmpuint (pft_values_get_length (r), ==, 2);
  }

  /* Nothing under the key: a clear error. */
  {
    g_autoptr(PftStore) empty = pft_store_new ();
    g_autofree char *a3 = pft_node_run (node, empty, NULL, &error);
    g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "\"prompts\""));
    /* It says the key is absent, not the type of the NULL read back. */
    g_assert_nonnull (strstr (error->message, "no such key"));
    g_assert_null (strstr (error->message, "gpointer"));
    g_clear_error (&error);
  }

  /* Something else under the key: its type. */
  {
    g_autoptr(PftStore) wrong = pft_store_new ();
    g_autofree char *a4 = NULL;

    pft_store_set_int (wrong, "prompts", 3);
    a4 = pft_node_run (node, wrong, NULL, &error);
    g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "gint64"));
  }
}

/* ------------------------------------------------------------------ */
/* A subclass: a template prompt, text results                          */

#define TEST_TYPE_TRANSLATE_NODE (test_translate_node_get_type ())
G_DECLARE_FINAL_TYPE (TestTranslateNode, test_translate_node, TEST, TRANSLATE_NODE, PftHttpChatNode)

struct _TestTranslateNode
{
  PftHttpChatNode parent_instance;
};

G_DEFINE_FINAL_TYPE (TestTranslateNode, test_translate_node, PFT_HTTP_TYPE_CHAT_NODE)

static void
translate_build_messages (PftHttpChatNode *node, PftContext *ctx, const GValue *item,
                          GValue *messages, GError **error)
{
  g_value_init (messages, G_TYPE_STRING);
  g_value_take_string (messages, g_strdup_printf ("Translate to French: %s", g_value_get_string (item)));
}

static void
translate_handle_reply (PftHttpChatNode *node, PftContext *ctx, const GValue *item,
                        PftHttpChatReply *reply, GValue *result, GError **error)
{
  g_value_init (result, G_TYPE_STRING);
  g_value_take_string (result, g_ascii_strup (pft_http_chat_reply_get_text (reply), -1));
}

static void
test_translate_node_class_init (TestTranslateNodeClass *klass)
{
  PFT_HTTP_CHAT_NODE_CLASS (klass)->build_messages = translate_build_messages;
  PFT_HTTP_CHAT_NODE_CLASS (klass)->handle_reply = translate_handle_reply;
}

static void test_translate_node_init (TestTranslateNode *self) { }

static void
test_subclass (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autofree char *url = scripted_server_base_url (server, "ok");
  g_autoptr(PftHttpChatClient) client = pft_http_chat_client_new (PFT_HTTP_PROVIDER_ANTHROPIC, url, "m");
  g_autoptr(PftNode) node = g_object_new (TEST_TYPE_TRANSLATE_NODE, "client", client, NULL);
  g_autoptr(PftStore) store = store_with_prompts (5);
  g_autoptr(PftValues) replies = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  replies = pft_store_dup_values (store, "replies");
  g_assert_cmpuint (pft_values_get_length (replies), ==, 5);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *want = g_strdup_printf ("ECHO: TRANSLATE TO FRENCH: PROMPT %u", i);
      g_assert_cmpstr (pft_values_get_string (replies, i), ==, want);
    }
}

/* ------------------------------------------------------------------ */
/* Faults                                                               */

static void
test_retries_lose_nothing (gconstpointer data)
{
  const char *mode = data;
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftNode) node = node_for (server, PFT_HTTP_PROVIDER_OPENAI, mode);
  g_autoptr(PftStore) store = store_with_prompts (20);
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  scripted_server_set_failures (server, 6);
  pft_node_set_max_retries (node, 4);
  pft_node_set_wait (node, 0.01);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  check_echo_replies (store, 20);
  g_assert_cmpuint (scripted_server_get_requests (server), ==, 26);
  g_assert_cmpuint (pft_http_chat_node_get_retries (PFT_HTTP_CHAT_NODE (node)), ==, 6);
  g_assert_cmpuint (pft_throttled_batch_node_get_failed (PFT_THROTTLED_BATCH_NODE (node)), ==, 0);
}

static void
test_retries_exhausted (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftNode) node = node_for (server, PFT_HTTP_PROVIDER_OPENAI, "status500");
  g_autoptr(PftStore) store = store_with_prompts (6);
  g_autoptr(PftValues) replies = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_node_set_max_retries (node, 2);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  replies = pft_store_dup_values (store, "replies");
  g_assert_cmpuint (pft_values_get_length (replies), ==, 6);
  for (guint i = 0; i < 6; i++)
    {
      const GError *e = pft_values_get_error (replies, i);
      g_assert_error (e, PFT_HTTP_ERROR, PFT_HTTP_ERROR_STATUS);
      g_assert_cmpuint (pft_http_error_get_status (e), ==, 500);
      g_assert_nonnull (strstr (e->message, "The model crashed"));
    }
  g_assert_cmpuint (scripted_server_get_requests (server), ==, 12);
  /* Not rate limits, whatever digits the URL's port has. */
  g_assert_cmpuint (pft_http_chat_node_get_rate_limited_replies (PFT_HTTP_CHAT_NODE (node)), ==, 0);
  g_assert_cmpuint (pft_adaptive_node_get_total_rate_limits (PFT_ADAPTIVE_NODE (node)), ==, 0);
}

static void
test_bad_config_fails_at_once (void)
{
  static const char *urls[] = { "", "::nonsense::" };

  for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      g_autoptr(PftHttpChatClient) client = pft_http_chat_client_new (PFT_HTTP_PROVIDER_OPENAI, urls[i], "m");
      g_autoptr(PftNode) node = pft_http_chat_node_new (client);
      g_autoptr(PftStore) store = store_with_prompts (50);
      g_autoptr(GError) error = NULL;
      g_autofree char *action = NULL;

      pft_node_set_max_retries (node, 5);
      pft_node_set_wait (node, 10);
      action = pft_node_run (node, store, NULL, &error);
      g_assert_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_CONFIG);
      g_assert_cmpuint (pft_http_chat_node_get_requests_sent (PFT_HTTP_CHAT_NODE (node)), ==, 0);
    }
}

static guint
closed_port (void)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  guint16 port = g_socket_listener_add_any_inet_port (listener, NULL, NULL);

  g_socket_listener_close (listener);
  return port;
}

static void
test_refused_port (void)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/v1", closed_port ());
  g_autoptr(PftHttpChatClient) client = pft_http_chat_client_new (PFT_HTTP_PROVIDER_OPENAI, url, "m");
  g_autoptr(PftNode) node = pft_http_chat_node_new (client);
  g_autoptr(PftStore) store = store_with_prompts (3);
  g_autoptr(PftValues) replies = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  replies = pft_store_dup_values (store, "replies");
  for (guint i = 0; i < 3; i++)
    g_assert_error (pft_values_get_error (replies, i), G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

typedef struct
{
  ScriptedServer *server;
  GCancellable   *cancellable;
  gint64          cancelled_at;
} CancelWhenBusy;

/* Cancels once a request waits at the server, however slow this machine
 * (valgrind) is: a fixed 200 ms sometimes came before the first request. */
static gboolean
cancel_when_busy_cb (gpointer data)
{
  CancelWhenBusy *busy = data;

  if (scripted_server_get_requests (busy->server) == 0)
    return G_SOURCE_CONTINUE;
  busy->cancelled_at = g_get_monotonic_time ();
  g_cancellable_cancel (busy->cancellable);
  return G_SOURCE_REMOVE;
}

static void
run_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GAsyncResult **out = user_data;
  *out = g_object_ref (result);
}

static void
test_cancel_mid_batch (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftNode) node = node_for (server, PFT_HTTP_PROVIDER_OPENAI, "slow");
  g_autoptr(PftStore) store = store_with_prompts (30);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  GAsyncResult *result = NULL;
  PftRateLimiter *limiter = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));
  CancelWhenBusy busy = { server, cancellable, 0 };

  scripted_server_set_delay (server, 5.0);
  g_timeout_add (5, cancel_when_busy_cb, &busy);
  pft_node_run_async (node, store, cancellable, run_done_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  action = pft_node_run_finish (node, result, &error);
  g_object_unref (result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* Promptly, not after the server's 5 s. */
  g_assert_cmpint (busy.cancelled_at, >, 0);
  g_assert_cmpint (g_get_monotonic_time () - busy.cancelled_at, <, 4 * G_USEC_PER_SEC);
  g_assert_cmpuint (scripted_server_get_requests (server), >, 0);
  g_assert_cmpuint (scripted_server_get_requests (server), <, 30);
  /* Every request was really aborted: nothing holds a permit. */
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (pft_http_chat_node_get_token_limiter (PFT_HTTP_CHAT_NODE (node))), ==, 0);
}

/* One client, two nodes, two threads: each run on its own main context. */
static gpointer
run_in_thread (gpointer data)
{
  PftNode *node = data;
  g_autoptr(PftStore) store = store_with_prompts (25);
  g_autoptr(GError) error = NULL;
  g_autofree char *action = pft_node_run (node, store, NULL, &error);

  g_assert_no_error (error);
  check_echo_replies (store, 25);
  return NULL;
}

static void
test_threads_share_client (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autofree char *url = scripted_server_base_url (server, "ok");
  g_autoptr(PftHttpChatClient) client = pft_http_chat_client_new (PFT_HTTP_PROVIDER_OPENAI, url, "m");
  g_autoptr(PftNode) a = pft_http_chat_node_new (client);
  g_autoptr(PftNode) b = pft_http_chat_node_new (client);
  GThread *ta = g_thread_new ("a", run_in_thread, a);
  GThread *tb = g_thread_new ("b", run_in_thread, b);

  g_thread_join (ta);
  g_thread_join (tb);
  g_assert_cmpuint (scripted_server_get_requests (server), ==, 50);
}

/* ------------------------------------------------------------------ */
/* Headers                                                              */

static void
on_rate_headers (PftHttpChatNode    *node,
                 PftHttpRateHeaders *headers,
                 PftHttpRateAction   actions,
                 guint              *seen)
{
  g_assert_true (PFT_HTTP_IS_RATE_HEADERS (headers));
  if (actions & PFT_HTTP_RATE_ACTION_LOWERED_REQUESTS)
    seen[0]++;
  if (actions & PFT_HTTP_RATE_ACTION_PAUSED)
    seen[1]++;
}

static void
test_headers_calibrate (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  g_autoptr(PftNode) node = node_for (server, PFT_HTTP_PROVIDER_OPENAI, "limits");
  g_autoptr(PftStore) store = store_with_prompts (1);
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  PftRateLimiter *limiter;
  guint seen[2] = { 0, 0 };

  /* Configured 100 a minute; the provider says 30 a minute. */
  pft_throttled_batch_node_set_max_per_minute (PFT_THROTTLED_BATCH_NODE (node), 100);
  g_signal_connect (node, "rate-headers", G_CALLBACK (on_rate_headers), seen);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  limiter = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (limiter), ==, 30);
  g_assert_cmpuint (pft_http_rate_headers_get_configured_max_per_window (limiter), ==, 100);
  /* remaining 0, reset 5 s: paused before the next call is refused. */
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), >, 3);
  g_assert_cmpuint (seen[0], ==, 1);
  g_assert_cmpuint (seen[1], ==, 1);
  /* The token limit went to the token limiter (per minute, as its window). */
  g_assert_cmpuint (pft_rate_limiter_get_max_cost_per_window (pft_http_chat_node_get_token_limiter (PFT_HTTP_CHAT_NODE (node))), ==, 5000);
  g_assert_cmpuint (pft_rate_limiter_get_max_cost_per_window (limiter), ==, 0);
}

/* ------------------------------------------------------------------ */
/* The key is a secret, also with every debug message on                */

static void
print_readable_properties (GObject *object)
{
  guint n;
  g_autofree GParamSpec **pspecs = g_object_class_list_properties (G_OBJECT_GET_CLASS (object), &n);

  for (guint i = 0; i < n; i++)
    if (pspecs[i]->flags & G_PARAM_READABLE)
      {
        g_auto(GValue) v = G_VALUE_INIT;
        g_autofree char *s = NULL;

        g_value_init (&v, pspecs[i]->value_type);
        g_object_get_property (object, pspecs[i]->name, &v);
        s = g_strdup_value_contents (&v);
        g_print ("%s:%s = %s\n", G_OBJECT_TYPE_NAME (object), pspecs[i]->name, s);
      }
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
  g_message ("notify::%s", pspec->name);
  print_readable_properties (object);
}

static void
secret_batch (void)
{
  g_autoptr(ScriptedServer) server = scripted_server_new ();
  const char *modes[] = { "ok", "echokey", "flaky", "ratelimited" };

  for (guint m = 0; m < G_N_ELEMENTS (modes); m++)
    {
      g_autofree char *url = scripted_server_base_url (server, modes[m]);
      g_autoptr(PftHttpChatClient) client = pft_http_chat_client_new (PFT_HTTP_PROVIDER_OPENAI, url, "m");
      g_autoptr(PftNode) node = NULL;
      /* The 429s ask for 1.5 s each: few of them. */
      gboolean limited = strcmp (modes[m], "ratelimited") == 0;
      g_autoptr(PftStore) store = store_with_prompts (limited ? 2 : 8);
      g_autoptr(PftValues) replies = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *action = NULL;
      g_autofree char *desc = NULL;

      g_signal_connect (client, "notify", G_CALLBACK (on_notify), NULL);
      pft_http_chat_client_set_api_key (client, KEY);
      g_object_set (client, "api-key", KEY "x", NULL);
      pft_http_chat_client_set_api_key (client, KEY);
      node = pft_http_chat_node_new (client);
      g_signal_connect (node, "notify", G_CALLBACK (on_notify), NULL);
      pft_node_set_max_retries (node, limited ? 1 : 2);
      g_object_set (node, "rate-limit-retries", limited ? 0 : 1, NULL);
      scripted_server_set_failures (server, 3);
      desc = pft_http_chat_client_to_string (client);
      g_message ("client: %s", desc);
      action = pft_node_run (node, store, NULL, &error);
      if (error != NULL)
        g_message ("run error: %s", error->message);
      replies = pft_store_dup_values (store, "replies");
      for (guint i = 0; replies != NULL && i < pft_values_get_length (replies); i++)
        {
          const GError *e = pft_values_get_error (replies, i);
          if (e != NULL)
            g_message ("item %u: error %s", i, e->message);
          else
            {
              g_autoptr(PftHttpChatReply) r = pft_values_dup_object (replies, i);
              g_autofree char *s = pft_http_chat_reply_to_string (r);
              g_message ("item %u: %s", i, s);
              print_readable_properties (G_OBJECT (r));
            }
        }
      print_readable_properties (G_OBJECT (client));
      print_readable_properties (G_OBJECT (node));
    }
  g_print ("secret batch done\n");
}

static void
test_secret_key_nowhere (void)
{
  if (g_test_subprocess ())
    {
      /* As G_MESSAGES_DEBUG=all; setting that in the parent made its
       * g_unsetenv() log a debug line into the TAP stream. */
      g_log_set_debug_enabled (TRUE);
      secret_batch ();
      return;
    }
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  /* The run did log: debug lines of the retries and the 401 are there. */
  g_test_trap_assert_stdout ("*secret batch done*");
  g_test_trap_assert_stdout ("*attempt 1 of 2 failed*");
  g_test_trap_assert_stdout ("*Incorrect API key provided: [REDACTED]*");
  g_test_trap_assert_stdout ("*has-api-key = TRUE*");
  /* ... and the key (or its stem) is nowhere. */
  g_test_trap_assert_stdout_unmatched ("*SECRET*");
  g_test_trap_assert_stderr_unmatched ("*SECRET*");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("OPENAI_API_KEY");
  g_unsetenv ("ANTHROPIC_API_KEY");

  g_test_add_data_func ("/pft-http/chat-node/in-order/openai", GINT_TO_POINTER (PFT_HTTP_PROVIDER_OPENAI), test_batch_in_order);
  g_test_add_data_func ("/pft-http/chat-node/in-order/anthropic", GINT_TO_POINTER (PFT_HTTP_PROVIDER_ANTHROPIC), test_batch_in_order);
  g_test_add_func ("/pft-http/chat-node/items", test_items_shapes);
  g_test_add_func ("/pft-http/chat-node/subclass", test_subclass);
  g_test_add_data_func ("/pft-http/chat-node/retries/5xx", "flaky", test_retries_lose_nothing);
  g_test_add_data_func ("/pft-http/chat-node/retries/dropped", "flakydrop", test_retries_lose_nothing);
  g_test_add_func ("/pft-http/chat-node/retries/exhausted", test_retries_exhausted);
  g_test_add_func ("/pft-http/chat-node/bad-config", test_bad_config_fails_at_once);
  g_test_add_func ("/pft-http/chat-node/refused", test_refused_port);
  g_test_add_func ("/pft-http/chat-node/cancel", test_cancel_mid_batch);
  g_test_add_func ("/pft-http/chat-node/threads", test_threads_share_client);
  g_test_add_func ("/pft-http/chat-node/headers", test_headers_calibrate);
  g_test_add_func ("/pft-http/chat-node/secret", test_secret_key_nowhere);

  return g_test_run ();
}
