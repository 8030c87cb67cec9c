/* scripted-server.c: a tiny SoupServer for the client's tests
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "scripted-server.h"

/* The server runs in a thread of its own, on its own main context, so
 * that a client iterating only a private context (a sync run) is served. */
struct _ScriptedServer
{
  GMutex              mutex;
  GThread            *thread;
  GMainContext       *context;
  GMainLoop          *loop;
  SoupServer         *server;
  guint               port;
  guint               requests;
  gint                in_flight;
  gint                failures;
  double              delay;
  SoupMessageHeaders *last_headers;
  JsonNode           *last_body;
  char               *last_path;
};

static void
scripted_reply (SoupServerMessage *msg,
                guint              status,
                const char        *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body, strlen (body));
}

/* An OpenAI or Anthropic reply whose text echoes the last user message. */
static char *
scripted_chat_reply (JsonObject *body,
                     gboolean    anthropic)
{
  JsonArray *messages = json_object_get_array_member (body, "messages");
  guint n = json_array_get_length (messages);
  JsonObject *last = json_array_get_object_element (messages, n - 1);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = g_strdup_printf ("echo: %s", json_object_get_string_member (last, "content"));

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, json_object_get_string_member (body, "model"));
  if (anthropic)
    {
      json_builder_set_member_name (b, "content");
      json_builder_begin_array (b);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, "text");
      json_builder_set_member_name (b, "text");
      json_builder_add_string_value (b, text);
      json_builder_end_object (b);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "stop_reason");
      json_builder_add_string_value (b, "end_turn");
      json_builder_set_member_name (b, "usage");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "input_tokens");
      json_builder_add_int_value (b, 11);
      json_builder_set_member_name (b, "output_tokens");
      json_builder_add_int_value (b, 7);
      json_builder_end_object (b);
    }
  else
    {
      json_builder_set_member_name (b, "choices");
      json_builder_begin_array (b);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "message");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "role");
      json_builder_add_string_value (b, "assistant");
      json_builder_set_member_name (b, "content");
      json_builder_add_string_value (b, text);
      json_builder_end_object (b);
      json_builder_set_member_name (b, "finish_reason");
      json_builder_add_string_value (b, "stop");
      json_builder_end_object (b);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "usage");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "prompt_tokens");
      json_builder_add_int_value (b, 11);
      json_builder_set_member_name (b, "completion_tokens");
      json_builder_add_int_value (b, 7);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

typedef struct
{
  ScriptedServer    *self;
  SoupServerMessage *msg;
  char              *body;
} Delayed;

static gboolean
scripted_delayed_cb (gpointer user_data)
{
  Delayed *d = user_data;

  scripted_reply (d->msg, 200, d->body);
  soup_server_message_unpause (d->msg);
  g_atomic_int_add (&d->self->in_flight, -1);
  g_object_unref (d->msg);
  g_free (d->body);
  g_free (d);
  return G_SOURCE_REMOVE;
}

static void
scripted_handler (SoupServer        *server,
                  SoupServerMessage *msg,
                  const char        *path,
                  GHashTable        *query,
                  gpointer           user_data)
{
  ScriptedServer *self = user_data;
  g_auto(GStrv) parts = g_strsplit (path + 1, "/", 2);
  const char *mode = parts[0] != NULL ? parts[0] : "";
  SoupMessageBody *request = soup_server_message_get_request_body (msg);
  SoupMessageHeaders *response_headers = soup_server_message_get_response_headers (msg);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *reply = NULL;
  JsonObject *body = NULL;
  gboolean anthropic = g_str_has_suffix (path, "/v1/messages");

  g_mutex_lock (&self->mutex);
  self->requests++;
  g_free (self->last_path);
  self->last_path = g_strdup (path);
  g_clear_pointer (&self->last_headers, soup_message_headers_unref);
  self->last_headers = soup_message_headers_ref (soup_server_message_get_request_headers (msg));
  g_clear_pointer (&self->last_body, json_node_unref);
  if (json_parser_load_from_data (parser, request->data, request->length, NULL))
    {
      self->last_body = json_node_ref (json_parser_get_root (parser));
      body = json_node_get_object (self->last_body);
    }
  g_mutex_unlock (&self->mutex);

  if ((strcmp (mode, "flaky") == 0 || strcmp (mode, "flakydrop") == 0) &&
      g_atomic_int_get (&self->failures) > 0)
    {
      g_atomic_int_add (&self->failures, -1);
      if (strcmp (mode, "flakydrop") == 0)
        {
          /* A dropped connection: no answer at all. */
          g_autoptr(GIOStream) stream = soup_server_message_steal_connection (msg);
          g_io_stream_close (stream, NULL, NULL);
          return;
        }
      scripted_reply (msg, 503, "{\"error\":{\"message\":\"The server is overloaded\",\"type\":\"server_error\"}}");
      return;
    }
  if (strcmp (mode, "ok") == 0 || strcmp (mode, "flaky") == 0 || strcmp (mode, "flakydrop") == 0 ||
      strcmp (mode, "limits") == 0)
    {
      reply = scripted_chat_reply (body, anthropic);
      if (strcmp (mode, "limits") == 0)
        {
          soup_message_headers_replace (response_headers, "x-ratelimit-limit-requests", "30");
          soup_message_headers_replace (response_headers, "x-ratelimit-remaining-requests", "0");
          soup_message_headers_replace (response_headers, "x-ratelimit-reset-requests", "5s");
          soup_message_headers_replace (response_headers, "x-ratelimit-limit-tokens", "5000");
          soup_message_headers_replace (response_headers, "x-ratelimit-remaining-tokens", "4000");
          soup_message_headers_replace (response_headers, "x-ratelimit-reset-tokens", "12s");
        }
      scripted_reply (msg, 200, reply);
    }
  else if (strcmp (mode, "slow") == 0)
    {
      Delayed *d = g_new0 (Delayed, 1);

      d->self = self;
      d->msg = g_object_ref (msg);
      d->body = scripted_chat_reply (body, anthropic);
      g_atomic_int_inc (&self->in_flight);
      soup_server_message_pause (msg);
      g_timeout_add ((guint) (self->delay * 1000), scripted_delayed_cb, d);
    }
  else if (strcmp (mode, "notjson") == 0)
    {
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, "<html>hello</html>", 18);
    }
  else if (strcmp (mode, "nochoices") == 0)
    scripted_reply (msg, 200, "{\"id\":\"x\",\"object\":\"chat.completion\"}");
  else if (strcmp (mode, "status500") == 0)
    scripted_reply (msg, 500, "{\"error\":{\"message\":\"The model crashed\",\"type\":\"server_error\"}}");
  else if (strcmp (mode, "status400") == 0)
    scripted_reply (msg, 400, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"max_tokens is too large\"}}");
  else if (strcmp (mode, "echokey") == 0)
    {
      /* As OpenAI does for a bad key: the message quotes it. */
      const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Authorization");
      g_autofree char *err = g_strdup_printf ("{\"error\":{\"message\":\"Incorrect API key provided: %s\"}}",
                                              auth != NULL && strlen (auth) > 7 ? auth + 7 : "");
      scripted_reply (msg, 401, err);
    }
  else if (strcmp (mode, "ratelimited") == 0)
    {
      soup_message_headers_replace (response_headers, "retry-after", "2");
      soup_message_headers_replace (response_headers, "retry-after-ms", "1500");
      soup_message_headers_replace (response_headers, "x-ratelimit-limit-requests", "20");
      soup_message_headers_replace (response_headers, "x-ratelimit-remaining-requests", "0");
      scripted_reply (msg, 429, "{\"error\":{\"message\":\"Rate limit reached for requests\",\"type\":\"requests\"}}");
    }
  else
    scripted_reply (msg, 404, "{\"error\":{\"message\":\"no such mode\"}}");
}

static gboolean
scripted_server_quit (gpointer data)
{
  ScriptedServer *self = data;

  soup_server_disconnect (self->server);
  g_clear_object (&self->server);
  g_main_loop_quit (self->loop);
  return G_SOURCE_REMOVE;
}

static gpointer
scripted_server_thread (gpointer data)
{
  ScriptedServer *self = data;
  g_autoptr(GError) error = NULL;

  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) local = NULL;
  GSList *listeners;

  g_main_context_push_thread_default (self->context);
  self->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (self->server, NULL, scripted_handler, self, NULL);
  soup_server_listen (self->server, address, 0, &error);
  g_assert_no_error (error);
  /* Not soup_server_get_uris() nor listen_local(): libsoup < 3.4 leaks
   * the addresses they cache. */
  listeners = soup_server_get_listeners (self->server);
  local = g_socket_get_local_address (listeners->data, &error);
  g_slist_free (listeners);
  g_assert_no_error (error);
  g_mutex_lock (&self->mutex);
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  g_mutex_unlock (&self->mutex);
  g_main_loop_run (self->loop);
  /* Let delayed answers and closing connections finish. */
  while (g_main_context_iteration (self->context, FALSE))
    ;
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

ScriptedServer *
scripted_server_new (void)
{
  ScriptedServer *self = g_new0 (ScriptedServer, 1);

  g_mutex_init (&self->mutex);
  self->delay = 0.5;
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->thread = g_thread_new ("scripted-server", scripted_server_thread, self);
  for (;;)
    {
      guint port;
      g_mutex_lock (&self->mutex);
      port = self->port;
      g_mutex_unlock (&self->mutex);
      if (port != 0)
        break;
      g_usleep (1000);
    }
  return self;
}

void
scripted_server_free (ScriptedServer *self)
{
  GSource *source = g_idle_source_new ();

  g_source_set_callback (source, scripted_server_quit, self, NULL);
  g_source_attach (source, self->context);
  g_source_unref (source);
  g_thread_join (self->thread);
  g_main_loop_unref (self->loop);
  g_main_context_unref (self->context);
  g_clear_pointer (&self->last_headers, soup_message_headers_unref);
  g_clear_pointer (&self->last_body, json_node_unref);
  g_free (self->last_path);
  g_mutex_clear (&self->mutex);
  g_free (self);
}

char *
scripted_server_base_url (ScriptedServer *self,
                          const char     *mode)
{
  return g_strdup_printf ("http://127.0.0.1:%u/%s", self->port, mode);
}

guint
scripted_server_get_requests (ScriptedServer *self)
{
  guint n;

  g_mutex_lock (&self->mutex);
  n = self->requests;
  g_mutex_unlock (&self->mutex);
  return n;
}

guint
scripted_server_get_in_flight (ScriptedServer *self)
{
  return g_atomic_int_get (&self->in_flight);
}

const char *
scripted_server_last_header (ScriptedServer *self,
                             const char     *name)
{
  return self->last_headers != NULL ? soup_message_headers_get_one (self->last_headers, name) : NULL;
}

JsonObject *
scripted_server_last_body (ScriptedServer *self)
{
  return self->last_body != NULL ? json_node_get_object (self->last_body) : NULL;
}

const char *
scripted_server_last_path (ScriptedServer *self)
{
  return self->last_path;
}

void
scripted_server_set_failures (ScriptedServer *self,
                              guint           n)
{
  g_atomic_int_set (&self->failures, n);
}

void
scripted_server_set_delay (ScriptedServer *self,
                           double          seconds)
{
  g_mutex_lock (&self->mutex);
  self->delay = seconds;
  g_mutex_unlock (&self->mutex);
}
