/* test-mock-server.c: the mock API server, driven by a plain SoupSession
 *
 * Every test counts; none asserts on speed. Latencies are only checked as
 * lower bounds (a timeout never fires early) and orderings get margins of
 * seconds.
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft-http.h>

#include "pft-http-mock-protocol-private.h"
#include "pft-http-mock-window-private.h"

/* --- helpers --------------------------------------------------------------- */

typedef struct
{
  guint status;
  SoupMessageHeaders *headers;
  JsonNode *json;
  GError *error;                /* transport error (a dropped connection) */
} Reply;

static void
reply_free (Reply *reply)
{
  g_clear_pointer (&reply->headers, soup_message_headers_unref);
  g_clear_pointer (&reply->json, json_node_unref);
  g_clear_error (&reply->error);
  g_free (reply);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, reply_free)

static SoupSession *
new_session (void)
{
  /* More connections than the default 2, so that concurrent requests reach
   * the server concurrently. */
  return soup_session_new_with_options ("max-conns-per-host", 16, "max-conns", 32,
                                        "timeout", 60, NULL);
}

static PftHttpMockServer *
start_server (const char *first_property,
              ...)
{
  PftHttpMockServer *server;
  g_autoptr(GError) error = NULL;
  va_list args;

  va_start (args, first_property);
  server = PFT_HTTP_MOCK_SERVER (g_object_new_valist (PFT_HTTP_TYPE_MOCK_SERVER, first_property, args));
  va_end (args);
  g_assert_true (pft_http_mock_server_start_in_thread (server, &error));
  g_assert_no_error (error);
  return server;
}

static SoupMessage *
new_message (PftHttpMockServer  *server,
             const char         *method,
             const char         *path,
             const char         *body,
             const char * const *headers)
{
  g_autofree char *base = pft_http_mock_server_get_uri (server);
  g_autofree char *uri = g_strconcat (base, path, NULL);
  SoupMessage *msg = soup_message_new (method, uri);

  g_assert_nonnull (msg);
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  for (guint i = 0; headers != NULL && headers[i] != NULL; i += 2)
    soup_message_headers_replace (soup_message_get_request_headers (msg), headers[i], headers[i + 1]);
  return msg;
}

static Reply *
reply_from (SoupMessage *msg,
            GBytes      *bytes,
            GError      *error)
{
  Reply *reply = g_new0 (Reply, 1);

  reply->error = error;
  if (error != NULL)
    return reply;
  reply->status = soup_message_get_status (msg);
  reply->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  if (bytes != NULL && g_bytes_get_size (bytes) > 0)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) json_error = NULL;
      gsize size;
      const char *data = g_bytes_get_data (bytes, &size);

      /* The body is not NUL-terminated. */
      json_parser_load_from_data (parser, data, size, &json_error);
      g_assert_no_error (json_error);
      reply->json = json_node_ref (json_parser_get_root (parser));
    }
  return reply;
}

static Reply *
request (SoupSession        *session,
         PftHttpMockServer  *server,
         const char         *method,
         const char         *path,
         const char         *body,
         const char * const *headers)
{
  g_autoptr(SoupMessage) msg = new_message (server, method, path, body, headers);
  g_autoptr(GBytes) bytes = NULL;
  GError *error = NULL;

  bytes = soup_session_send_and_read (session, msg, NULL, &error);
  return reply_from (msg, bytes, error);
}

static Reply *
post (SoupSession       *session,
      PftHttpMockServer *server,
      const char        *path,
      const char        *body)
{
  static const char * const anthropic_headers[] = { "anthropic-version", "2023-06-01", NULL };

  return request (session, server, "POST", path, body,
                  g_str_equal (path, "/v1/messages") ? anthropic_headers : NULL);
}

#define OPENAI_BODY(text) "{\"model\": \"mock-1\", \"messages\": [{\"role\": \"user\", \"content\": \"" text "\"}]}"
#define ANTHROPIC_BODY(text) "{\"model\": \"mock-1\", \"max_tokens\": 100, \"messages\": [{\"role\": \"user\", \"content\": \"" text "\"}]}"

static const char *
header (Reply      *reply,
        const char *name)
{
  return soup_message_headers_get_one (reply->headers, name);
}

static gint64
header_int (Reply      *reply,
            const char *name)
{
  const char *value = header (reply, name);
  gint64 n;

  g_assert_nonnull (value);
  g_assert_true (g_ascii_string_to_signed (value, 10, 0, G_MAXINT64, &n, NULL));
  return n;
}

static const char *
json_string_at (JsonNode   *root,
                const char *path)
{
  g_autoptr(JsonNode) found = json_path_query (path, root, NULL);
  JsonArray *array = json_node_get_array (found);

  g_assert_cmpuint (json_array_get_length (array), ==, 1);
  /* The string lives in @root; the query result only holds a copy of the
   * node, so look the string up again through the array's element. */
  return g_intern_string (json_node_get_string (json_array_get_element (array, 0)));
}

static gint64
json_int_at (JsonNode   *root,
             const char *path)
{
  g_autoptr(JsonNode) found = json_path_query (path, root, NULL);
  JsonArray *array = json_node_get_array (found);

  g_assert_cmpuint (json_array_get_length (array), ==, 1);
  return json_node_get_int (json_array_get_element (array, 0));
}

/* The server's records as an array, for indexing. */
typedef GPtrArray Records;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Records, g_ptr_array_unref)

static Records *
get_records (PftHttpMockServer *server,
             guint             *n_records)
{
  GList *list = pft_http_mock_server_get_records (server);
  Records *records = g_ptr_array_new_with_free_func ((GDestroyNotify) pft_http_mock_record_free);

  for (GList *l = list; l != NULL; l = l->next)
    g_ptr_array_add (records, l->data);
  g_list_free (list);
  *n_records = records->len;
  return records;
}

/* --- start, stop, endpoints -------------------------------------------- */

static void
test_mock_start_stop (void)
{
  g_autoptr(PftHttpMockServer) server = pft_http_mock_server_new ();
  g_autoptr(PftHttpMockServer) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *expected = NULL;
  guint port;

  g_assert_cmpuint (pft_http_mock_server_get_port (server), ==, 0);
  g_assert_true (pft_http_mock_server_start_in_thread (server, &error));
  g_assert_no_error (error);
  port = pft_http_mock_server_get_port (server);
  g_assert_cmpuint (port, >, 0);
  uri = pft_http_mock_server_get_uri (server);
  expected = g_strdup_printf ("http://127.0.0.1:%u", port);
  g_assert_cmpstr (uri, ==, expected);

  /* The port is taken: a second server says so. */
  second = g_object_new (PFT_HTTP_TYPE_MOCK_SERVER, "port", port, NULL);
  g_assert_false (pft_http_mock_server_start_in_thread (second, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_clear_error (&error);
  g_assert_false (pft_http_mock_server_start (second, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);

  pft_http_mock_server_stop (server);
  pft_http_mock_server_stop (server);
}

static void
test_mock_openai_reply (void)
{
  g_autoptr(PftHttpMockServer) server = start_server ("max-requests", 10, "max-tokens", 1000, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(Reply) reply = NULL;
  g_autoptr(Reply) root = NULL;
  gint64 prompt, completion;

  reply = post (session, server, "/v1/chat/completions", OPENAI_BODY ("Bonjour le monde"));
  g_assert_no_error (reply->error);
  g_assert_cmpuint (reply->status, ==, 200);
  g_assert_cmpstr (json_string_at (reply->json, "$.choices[0].message.content"), ==, "echo: Bonjour le monde");
  g_assert_cmpstr (json_string_at (reply->json, "$.choices[0].finish_reason"), ==, "stop");
  g_assert_cmpstr (json_string_at (reply->json, "$.model"), ==, "mock-1");
  prompt = json_int_at (reply->json, "$.usage.prompt_tokens");
  completion = json_int_at (reply->json, "$.usage.completion_tokens");
  /* 16 characters in 4 tokens, plus the message's 4. */
  g_assert_cmpint (prompt, ==, 4 + 4);
  g_assert_cmpint (completion, ==, pft_http_mock_count_tokens ("echo: Bonjour le monde"));
  g_assert_cmpint (json_int_at (reply->json, "$.usage.total_tokens"), ==, prompt + completion);

  g_assert_cmpint (header_int (reply, "x-ratelimit-limit-requests"), ==, 10);
  g_assert_cmpint (header_int (reply, "x-ratelimit-remaining-requests"), ==, 9);
  g_assert_true (g_regex_match_simple ("^([0-9]+m)?[0-9]+(\\.[0-9]+)?s$|^[0-9]+ms$",
                                       header (reply, "x-ratelimit-reset-requests"), 0, 0));
  g_assert_cmpint (header_int (reply, "x-ratelimit-limit-tokens"), ==, 1000);
  g_assert_cmpint (header_int (reply, "x-ratelimit-remaining-tokens"), ==, 1000 - prompt - completion);
  g_assert_nonnull (header (reply, "x-ratelimit-reset-tokens"));
  g_assert_null (header (reply, "anthropic-ratelimit-requests-limit"));
  g_assert_null (header (reply, "retry-after"));

  /* The route without /v1 answers too. */
  root = post (session, server, "/chat/completions", OPENAI_BODY ("hi"));
  g_assert_cmpuint (root->status, ==, 200);
  g_assert_cmpint (header_int (root, "x-ratelimit-remaining-requests"), ==, 8);
}

static void
test_mock_anthropic_reply (void)
{
  g_autoptr(PftHttpMockServer) server = start_server ("max-requests", 5, "max-tokens", 500, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(Reply) reply = NULL;
  g_autoptr(Reply) cut = NULL;
  g_autoptr(GDateTime) reset = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  reply = post (session, server, "/v1/messages",
                "{\"model\": \"claude-mock\", \"max_tokens\": 50, \"system\": \"Translate.\","
                " \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Guten Tag\"}]}]}");
  g_assert_no_error (reply->error);
  g_assert_cmpuint (reply->status, ==, 200);
  g_assert_cmpstr (json_string_at (reply->json, "$.type"), ==, "message");
  g_assert_cmpstr (json_string_at (reply->json, "$.content[0].text"), ==, "echo: Guten Tag");
  g_assert_cmpstr (json_string_at (reply->json, "$.stop_reason"), ==, "end_turn");
  /* "Translate." is 3 tokens, "Guten Tag" 3, plus 4 a message. */
  g_assert_cmpint (json_int_at (reply->json, "$.usage.input_tokens"), ==, 3 + 4 + 3 + 4);
  g_assert_cmpint (json_int_at (reply->json, "$.usage.output_tokens"), ==, 4);

  g_assert_cmpint (header_int (reply, "anthropic-ratelimit-requests-limit"), ==, 5);
  g_assert_cmpint (header_int (reply, "anthropic-ratelimit-requests-remaining"), ==, 4);
  g_assert_cmpint (header_int (reply, "anthropic-ratelimit-tokens-remaining"), ==, 500 - 14 - 4);
  reset = g_date_time_new_from_iso8601 (header (reply, "anthropic-ratelimit-requests-reset"), NULL);
  g_assert_nonnull (reset);
  /* Within the 60 s window from now (a second of slack for the clock). */
  g_assert_cmpint (g_date_time_difference (reset, now), >, 0);
  g_assert_cmpint (g_date_time_difference (reset, now), <=, 61 * G_TIME_SPAN_SECOND);
  g_assert_null (header (reply, "x-ratelimit-limit-requests"));

  /* max_tokens cuts the reply like a model that runs out of tokens. */
  cut = post (session, server, "/v1/messages",
              "{\"model\": \"m\", \"max_tokens\": 2, \"messages\": [{\"role\": \"user\", \"content\": \"a long sentence\"}]}");
  g_assert_cmpuint (cut->status, ==, 200);
  g_assert_cmpstr (json_string_at (cut->json, "$.content[0].text"), ==, "echo: a ");
  g_assert_cmpstr (json_string_at (cut->json, "$.stop_reason"), ==, "max_tokens");
  g_assert_cmpint (json_int_at (cut->json, "$.usage.output_tokens"), ==, 2);
}

static void
test_mock_header_styles (void)
{
  g_autoptr(PftHttpMockServer) server = start_server ("max-requests", 4, "header-style", PFT_HTTP_MOCK_HEADER_STYLE_IETF, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(Reply) ietf = NULL;
  g_autoptr(Reply) openai = NULL;
  g_autoptr(Reply) none = NULL;
  gint64 reset;

  ietf = post (session, server, "/v1/chat/completions", OPENAI_BODY ("x"));
  g_assert_cmpuint (ietf->status, ==, 200);
  g_assert_cmpint (header_int (ietf, "RateLimit-Limit"), ==, 4);
  g_assert_cmpint (header_int (ietf, "RateLimit-Remaining"), ==, 3);
  reset = header_int (ietf, "RateLimit-Reset");
  g_assert_cmpint (reset, >=, 1);
  g_assert_cmpint (reset, <=, 60);
  g_assert_null (header (ietf, "x-ratelimit-limit-requests"));

  /* OpenAI's headers on Anthropic's endpoint, when asked for. */
  g_object_set (server, "header-style", PFT_HTTP_MOCK_HEADER_STYLE_OPENAI, NULL);
  openai = post (session, server, "/v1/messages", ANTHROPIC_BODY ("x"));
  g_assert_cmpuint (openai->status, ==, 200);
  g_assert_cmpint (header_int (openai, "x-ratelimit-remaining-requests"), ==, 2);
  g_assert_null (header (openai, "anthropic-ratelimit-requests-limit"));

  g_object_set (server, "header-style", PFT_HTTP_MOCK_HEADER_STYLE_NONE, NULL);
  none = post (session, server, "/v1/chat/completions", OPENAI_BODY ("x"));
  g_assert_cmpuint (none->status, ==, 200);
  g_assert_null (header (none, "x-ratelimit-limit-requests"));
  g_assert_null (header (none, "RateLimit-Limit"));
}

/* --- limits ------------------------------------------------------------- */

static void
test_mock_window_limit (void)
{
  g_autoptr(PftHttpMockServer) server = start_server ("max-requests", 3, "window", 60.0, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(PftHttpMockStats) stats = NULL;
  g_autoptr(Records) records = NULL;
  guint n_records;

  for (int i = 0; i < 3; i++)
    {
      g_autoptr(Reply) reply = post (session, server, "/v1/chat/completions", OPENAI_BODY ("x"));

      g_assert_cmpuint (reply->status, ==, 200);
      g_assert_cmpint (header_int (reply, "x-ratelimit-remaining-requests"), ==, 2 - i);
    }

  for (int i = 0; i < 2; i++)
    {
      g_autoptr(Reply) reply = post (session, server, "/v1/chat/completions", OPENAI_BODY ("x"));
      gint64 retry_after, retry_after_ms;

      g_assert_cmpuint (reply->status, ==, 429);
      retry_after = header_int (reply, "retry-after");
      retry_after_ms = header_int (reply, "retry-after-ms");
      /* The first admission leaves the 60 s window in at most 60 s. */
      g_assert_cmpint (retry_after_ms, >=, 1);
      g_assert_cmpint (retry_after_ms, <=, 60000);
      g_assert_cmpint (retry_after, ==, (retry_after_ms + 999) / 1000);
      g_assert_cmpint (header_int (reply, "x-ratelimit-limit-requests"), ==, 3);
      g_assert_cmpint (header_int (reply, "x-ratelimit-remaining-requests"), ==, 0);
      g_assert_cmpstr (json_string_at (reply->json, "$.error.code"), ==, "rate_limit_exceeded");
    }

  /* The Anthropic endpoint shares the limits and answers in its own form. */
    {
      g_autoptr(Reply) reply = post (session, server, "/v1/messages", ANTHROPIC_BODY ("x"));

      g_assert_cmpuint (reply->status, ==, 429);
      g_assert_cmpstr (json_string_at (reply->json, "$.error.type"), ==, "rate_limit_error");
      g_assert_cmpint (header_int (reply, "anthropic-ratelimit-requests-remaining"), ==, 0);
      g_assert_nonnull (header (reply, "retry-after"));
    }

  stats = pft_http_mock_server_get_stats (server);
  g_assert_cmpuint (stats->requests, ==, 6);
  g_assert_cmpuint (stats->accepted, ==, 3);
  g_assert_cmpuint (stats->rate_limited, ==, 3);
  g_assert_cmpuint (stats->max_in_window, ==, 6);
  g_assert_cmpuint (stats->in_flight, ==, 0);

  records = get_records (server, &n_records);
  g_assert_cmpuint (n_records, ==, 6);
  for (guint i = 0; i < n_records; i++)
    {
      PftHttpMockRecord *r = records->pdata[i];

      g_assert_cmpuint (r->status, ==, i < 3 ? 200 : 429);
      if (i < 3)
        g_assert_cmpint (r->retry_after_ms, ==, -1);
      else
        g_assert_cmpint (r->retry_after_ms, >=, 1);
      g_assert_cmpint (r->finished, >=, r->arrival);
    }
}

/* After retry-after-ms, the next request is admitted: the server's reset
 * is when a slot frees, not later. */
static void
test_mock_retry_after_expires (void)
{
  g_autoptr(PftHttpMockServer) server = start_server ("max-requests", 1, "window", 1.0, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(Reply) after = NULL;
  gint64 retry_after_ms = -1;

  /* On a very slow machine the window may pass between two requests: send
   * until one is refused. */
  for (int i = 0; i < 20 && retry_after_ms < 0; i++)
    {
      g_autoptr(Reply) reply = post (session, server, "/v1/chat/completions", OPENAI_BODY ("x"));

      if (reply->status == 429)
        retry_after_ms = header_int (reply, "retry-after-ms");
      else
        g_assert_cmpuint (reply->status, ==, 200);
    }
  g_assert_cmpint (retry_after_ms, >=, 1);
  g_assert_cmpint (retry_after_ms, <=, 1000);

  g_usleep (retry_after_ms * 1000);
  after = post (session, server, "/v1/chat/completions", OPENAI_BODY ("x"));
  g_assert_cmpuint (after->status, ==, 200);
}

static void
test_mock_token_limit (void)
{
  /* A "hello" costs 9 tokens: 2 + 4 for the prompt, 3 for "echo: hello". */
  g_autoptr(PftHttpMockServer) server = start_server ("max-tokens", 41, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(Reply) first = NULL;
  g_autoptr(Reply) second = NULL;
  g_autoptr(Reply) third = NULL;
  g_autoptr(Reply) huge = NULL;
  g_autoptr(PftHttpMockStats) stats = NULL;
  gint64 cost;

  first = post (session, server, "/v1/chat/completions", OPENAI_BODY ("hello"));
  g_assert_cmpuint (first->status, ==, 200);
  cost = json_int_at (first->json, "$.usage.total_tokens");
  g_assert_cmpint (cost, ==, (2 + 4) + 3);        /* "echo: hello" is 11 characters */
  g_assert_cmpint (header_int (first, "x-ratelimit-remaining-tokens"), ==, 41 - cost);
  g_assert_null (header (first, "x-ratelimit-limit-requests"));

  /* 4 fit in 41, the fifth does not. */
  for (int i = 1; i < 4; i++)
    {
      g_autoptr(Reply) reply = post (session, server, "/v1/chat/completions", OPENAI_BODY ("hello"));

      g_assert_cmpuint (reply->status, ==, 200);
      g_assert_cmpint (header_int (reply, "x-ratelimit-remaining-tokens"), ==, 41 - (i + 1) * cost);
    }
  second = post (session, server, "/v1/chat/completions", OPENAI_BODY ("hello"));
  g_assert_cmpuint (second->status, ==, 429);
  g_assert_cmpint (header_int (second, "x-ratelimit-remaining-tokens"), ==, 41 - 4 * cost);
  g_assert_cmpint (header_int (second, "retry-after-ms"), >=, 1);
  g_assert_true (strstr (json_string_at (second->json, "$.error.message"), "tokens") != NULL);
  g_assert_cmpstr (json_string_at (second->json, "$.error.type"), ==, "tokens");

  /* A smaller one that fits in the 5 tokens left is admitted: 4 for an
   * empty prompt, 1 for a reply cut to max_tokens. */
  third = post (session, server, "/v1/chat/completions",
                "{\"model\": \"m\", \"max_tokens\": 1, \"messages\": [{\"role\": \"user\", \"content\": \"\"}]}");
  g_assert_cmpuint (third->status, ==, 200);

  /* A request larger than the whole limit can never pass: 400, not 429. */
  huge = post (session, server, "/v1/chat/completions",
               OPENAI_BODY ("a prompt far too long for a limit of forty-one tokens, so long that it can never fit in the window at all"));
  g_assert_cmpuint (huge->status, ==, 400);
  g_assert_true (strstr (json_string_at (huge->json, "$.error.message"), "limit of 41 tokens") != NULL);

  stats = pft_http_mock_server_get_stats (server);
  g_assert_cmpuint (stats->accepted, ==, 5);
  g_assert_cmpuint (stats->rate_limited, ==, 1);
  g_assert_cmpuint (stats->bad_requests, ==, 1);
  g_assert_cmpuint (stats->tokens, ==, 4 * cost + 5);
}

typedef struct
{
  Reply *reply;
  gint64 done;                  /* monotonic time of completion, client side */
  guint *pending;
} AsyncCall;

static void
async_call_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  AsyncCall *call = user_data;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  GError *error = NULL;
  g_autoptr(GBytes) bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);

  call->reply = reply_from (msg, bytes, error);
  call->done = g_get_monotonic_time ();
  (*call->pending)--;
}

static void
async_call_start (SoupSession       *session,
                  PftHttpMockServer *server,
                  const char        *body,
                  AsyncCall         *call,
                  guint             *pending)
{
  g_autoptr(SoupMessage) msg = new_message (server, "POST", "/v1/chat/completions", body, NULL);

  call->pending = pending;
  (*pending)++;
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, async_call_done, call);
}

static void
wait_for (guint *pending)
{
  while (*pending > 0)
    g_main_context_iteration (NULL, TRUE);
}

static void
test_mock_concurrency_limit (void)
{
  /* 2 s of latency: the third request arrives while the first two wait,
   * even on a loaded machine. */
  g_autoptr(PftHttpMockServer) server = start_server ("max-concurrency", 2, "latency-min", 2.0, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(PftHttpMockStats) stats = NULL;
  AsyncCall calls[3] = { { 0, }, };
  guint pending = 0;
  guint ok = 0, limited = 0;

  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    async_call_start (session, server, OPENAI_BODY ("x"), &calls[i], &pending);
  wait_for (&pending);

  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    {
      Reply *reply = calls[i].reply;

      g_assert_no_error (reply->error);
      if (reply->status == 200)
        ok++;
      else
        {
          g_assert_cmpuint (reply->status, ==, 429);
          /* Until the first of the two in flight is answered. */
          g_assert_cmpint (header_int (reply, "retry-after-ms"), >=, 1);
          g_assert_cmpint (header_int (reply, "retry-after-ms"), <=, 2000);
          g_assert_true (strstr (json_string_at (reply->json, "$.error.message"), "concurrent") != NULL);
          limited++;
        }
      reply_free (reply);
    }
  g_assert_cmpuint (ok, ==, 2);
  g_assert_cmpuint (limited, ==, 1);

  stats = pft_http_mock_server_get_stats (server);
  g_assert_cmpuint (stats->accepted, ==, 2);
  g_assert_cmpuint (stats->rate_limited, ==, 1);
  /* The refused request was there too: the observer saw 3 at once. */
  g_assert_cmpuint (stats->max_concurrency, ==, 3);
  g_assert_cmpuint (stats->in_flight, ==, 0);
}

/* --- latency ------------------------------------------------------------ */

static void
test_mock_latency (void)
{
  g_autoptr(PftHttpMockServer) server = start_server ("latency-min", 0.05, "latency-max", 0.15, "seed", 3, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(Records) records = NULL;
  guint n_records;
  AsyncCall calls[8] = { { 0, }, };
  guint pending = 0;
  gint64 shortest = G_MAXINT64, longest = 0;

  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    async_call_start (session, server, OPENAI_BODY ("x"), &calls[i], &pending);
  wait_for (&pending);
  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    {
      g_assert_cmpuint (calls[i].reply->status, ==, 200);
      reply_free (calls[i].reply);
    }

  /* No answer before its latency; the latencies differ (drawn). */
  records = get_records (server, &n_records);
  g_assert_cmpuint (n_records, ==, G_N_ELEMENTS (calls));
  for (guint i = 0; i < n_records; i++)
    {
      PftHttpMockRecord *r = records->pdata[i];

      g_assert_cmpint (r->finished - r->arrival, >=, 50000);
      shortest = MIN (shortest, r->finished - r->arrival);
      longest = MAX (longest, r->finished - r->arrival);
    }
  g_assert_cmpint (longest, >, shortest);
}

/* A request waiting for its latency does not hold up the server: one sent
 * later with no latency is answered first. */
static void
test_mock_latency_does_not_block (void)
{
  g_autoptr(PftHttpMockServer) server = start_server ("latency-min", 3.0, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(PftHttpMockStats) stats = NULL;
  AsyncCall slow = { 0, }, fast = { 0, };
  guint pending = 0;

  async_call_start (session, server, OPENAI_BODY ("slow"), &slow, &pending);
  /* Until the slow one is in flight at the server. */
  for (;;)
    {
      g_autoptr(PftHttpMockStats) now = pft_http_mock_server_get_stats (server);

      if (now->in_flight == 1)
        break;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  pft_http_mock_server_set_latency (server, 0, 0);
  async_call_start (session, server, OPENAI_BODY ("fast"), &fast, &pending);
  wait_for (&pending);

  g_assert_cmpuint (slow.reply->status, ==, 200);
  g_assert_cmpuint (fast.reply->status, ==, 200);
  g_assert_cmpint (fast.done, <, slow.done);
  g_assert_cmpstr (json_string_at (fast.reply->json, "$.choices[0].message.content"), ==, "echo: fast");
  reply_free (slow.reply);
  reply_free (fast.reply);

  stats = pft_http_mock_server_get_stats (server);
  g_assert_cmpuint (stats->max_concurrency, ==, 2);
}

/* --- faults -------------------------------------------------------------- */

/* Sends @n requests one after the other and returns their statuses (0 for
 * a transport error). */
static GArray *
send_sequence (PftHttpMockServer *server,
               guint              n)
{
  g_autoptr(SoupSession) session = new_session ();
  GArray *statuses = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(Reply) reply = post (session, server, "/v1/chat/completions", OPENAI_BODY ("x"));
      guint status = reply->error != NULL ? 0 : reply->status;

      if (reply->error != NULL)
        g_assert_true (reply->error->domain == G_IO_ERROR);
      if (status == 500)
        g_assert_cmpstr (json_string_at (reply->json, "$.error.type"), ==, "server_error");
      g_array_append_val (statuses, status);
    }
  return statuses;
}

static guint
count_status (GArray *statuses,
              guint   status)
{
  guint n = 0;

  for (guint i = 0; i < statuses->len; i++)
    n += g_array_index (statuses, guint, i) == status;
  return n;
}

static void
test_mock_faults (void)
{
  const guint n = 200;
  g_autoptr(PftHttpMockServer) server = start_server ("error-rate", 0.2, "drop-rate", 0.1, "seed", 42, NULL);
  g_autoptr(PftHttpMockServer) again = start_server ("error-rate", 0.2, "drop-rate", 0.1, "seed", 42, NULL);
  g_autoptr(PftHttpMockServer) other = start_server ("error-rate", 0.2, "drop-rate", 0.1, "seed", 43, NULL);
  g_autoptr(GArray) statuses = send_sequence (server, n);
  g_autoptr(GArray) same = send_sequence (again, n);
  g_autoptr(GArray) different = send_sequence (other, n);
  g_autoptr(PftHttpMockStats) stats = pft_http_mock_server_get_stats (server);
  guint n_records;
  g_autoptr(Records) records = get_records (server, &n_records);
  guint errors = count_status (statuses, 500), drops = count_status (statuses, 0);

  /* Shares near what was asked: 10% drops, 20% of the rest 500s (binomial,
   * bounds at more than 3 standard deviations). */
  g_assert_cmpuint (drops, >=, 6);
  g_assert_cmpuint (drops, <=, 34);
  g_assert_cmpuint (errors, >=, 18);
  g_assert_cmpuint (errors, <=, 54);
  g_assert_cmpuint (count_status (statuses, 200) + errors + drops, ==, n);

  /* What the client saw is what the server counted. */
  g_assert_cmpuint (stats->requests, ==, n);
  g_assert_cmpuint (stats->dropped, ==, drops);
  g_assert_cmpuint (stats->server_errors, ==, errors);
  g_assert_cmpuint (stats->accepted, ==, n - errors - drops);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (((PftHttpMockRecord *) records->pdata[i])->status, ==, g_array_index (statuses, guint, i));

  /* The same seed gives the same run; another seed another one. */
  g_assert_cmpmem (statuses->data, n * sizeof (guint), same->data, n * sizeof (guint));
  g_assert_true (memcmp (statuses->data, different->data, n * sizeof (guint)) != 0);
}

static void
test_mock_slow (void)
{
  g_autoptr(PftHttpMockServer) server = start_server ("slow-rate", 0.5, "slow-latency", 0.1, "seed", 1, NULL);
  g_autoptr(GArray) statuses = send_sequence (server, 20);
  g_autoptr(PftHttpMockStats) stats = pft_http_mock_server_get_stats (server);
  guint n_records;
  g_autoptr(Records) records = get_records (server, &n_records);
  guint waited = 0;

  g_assert_cmpuint (count_status (statuses, 200), ==, 20);
  g_assert_cmpuint (stats->slow, >=, 3);
  g_assert_cmpuint (stats->slow, <=, 17);
  /* The slow ones, and only those that waited can be slow. */
  for (guint i = 0; i < n_records; i++)
    {
      PftHttpMockRecord *r = records->pdata[i];

      waited += r->finished - r->arrival >= 100000;
    }
  g_assert_cmpuint (waited, >=, stats->slow);
}

/* --- bad requests ----------------------------------------------------- */

static void
test_mock_bad_requests (void)
{
  static const struct { const char *path; const char *body; const char *complaint; } cases[] = {
    { "/v1/chat/completions", "not json", "not valid JSON" },
    { "/v1/chat/completions", "[1, 2]", "JSON object" },
    { "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "'model'" },
    { "/v1/chat/completions", "{\"model\": \"m\", \"messages\": []}", "'messages'" },
    { "/v1/chat/completions", "{\"model\": \"m\"}", "'messages'" },
    { "/v1/chat/completions", "{\"model\": \"m\", \"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}", "'messages[0].role'" },
    { "/v1/chat/completions", "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": 3}]}", "'messages[0].content'" },
    { "/v1/chat/completions", "{\"model\": \"m\", \"max_tokens\": 0, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "'max_tokens'" },
    { "/v1/chat/completions", "{\"model\": \"m\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "'stream'" },
    { "/v1/chat/completions", "", "no body" },
    { "/v1/chat/completions", "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"\xf0\"}]}", "not valid UTF-8" },
    { "/v1/messages", "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "'max_tokens' is required" },
    { "/v1/messages", "{\"model\": \"m\", \"max_tokens\": 5, \"messages\": [{\"role\": \"system\", \"content\": \"x\"}]}", "'messages[0].role'" },
    { "/v1/messages", "{\"model\": \"m\", \"max_tokens\": 5, \"messages\": [{\"role\": \"user\"}]}", "'messages[0].content' is required" },
  };
  g_autoptr(PftHttpMockServer) server = start_server (NULL, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(PftHttpMockStats) stats = NULL;
  g_autoptr(Reply) no_version = NULL;
  g_autoptr(Reply) not_found = NULL;
  g_autoptr(Reply) get = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(Reply) reply = post (session, server, cases[i].path, cases[i].body);
      const char *message = json_string_at (reply->json, "$.error.message");

      /* Not the body: one of them is not UTF-8, and TAP output must be. */
      g_test_message ("case %u: %s -> %u %s", i, cases[i].path, reply->status, message);
      g_assert_cmpuint (reply->status, ==, 400);
      g_assert_cmpstr (json_string_at (reply->json, "$.error.type"), ==, "invalid_request_error");
      g_assert_true (strstr (message, cases[i].complaint) != NULL);
    }

  /* Anthropic's API wants its version header. */
  no_version = request (session, server, "POST", "/v1/messages", ANTHROPIC_BODY ("x"), NULL);
  g_assert_cmpuint (no_version->status, ==, 400);
  g_assert_true (strstr (json_string_at (no_version->json, "$.error.message"), "anthropic-version") != NULL);

  not_found = post (session, server, "/v1/completions", OPENAI_BODY ("x"));
  g_assert_cmpuint (not_found->status, ==, 404);
  get = request (session, server, "GET", "/v1/chat/completions", NULL, NULL);
  g_assert_cmpuint (get->status, ==, 405);
  g_assert_cmpstr (header (get, "Allow"), ==, "POST");

  /* Neither 404 nor 405 reach a chat endpoint: they are not counted. */
  stats = pft_http_mock_server_get_stats (server);
  g_assert_cmpuint (stats->requests, ==, G_N_ELEMENTS (cases) + 1);
  g_assert_cmpuint (stats->bad_requests, ==, G_N_ELEMENTS (cases) + 1);
  g_assert_cmpuint (stats->accepted, ==, 0);
}

static void
test_mock_api_key (void)
{
  static const char * const right_bearer[] = { "Authorization", "Bearer sk-mock-1234", NULL };
  static const char * const wrong_bearer[] = { "Authorization", "Bearer sk-other", NULL };
  static const char * const no_bearer[] = { "Authorization", "sk-mock-1234", NULL };
  static const char * const right_x[] = { "x-api-key", "sk-mock-1234", "anthropic-version", "2023-06-01", NULL };
  static const char * const bearer_on_anthropic[] = { "Authorization", "Bearer sk-mock-1234", "anthropic-version", "2023-06-01", NULL };
  g_autoptr(PftHttpMockServer) server = start_server ("expected-api-key", "sk-mock-1234", "max-requests", 10, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(PftHttpMockStats) stats = NULL;
  struct { const char *path; const char *body; const char * const *headers; guint status; } cases[] = {
    { "/v1/chat/completions", OPENAI_BODY ("x"), right_bearer, 200 },
    { "/v1/chat/completions", OPENAI_BODY ("x"), wrong_bearer, 401 },
    { "/v1/chat/completions", OPENAI_BODY ("x"), no_bearer, 401 },
    { "/v1/chat/completions", OPENAI_BODY ("x"), NULL, 401 },
    { "/v1/messages", ANTHROPIC_BODY ("x"), right_x, 200 },
    { "/v1/messages", ANTHROPIC_BODY ("x"), bearer_on_anthropic, 401 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(Reply) reply = request (session, server, "POST", cases[i].path, cases[i].body, cases[i].headers);

      g_assert_cmpuint (reply->status, ==, cases[i].status);
      if (reply->status == 401)
        {
          const char *message = json_string_at (reply->json, "$.error.message");

          /* The error names the header, never the expected key. */
          g_assert_null (strstr (message, "sk-mock-1234"));
          g_assert_true (strstr (message, "API key") != NULL || strstr (message, "x-api-key") != NULL);
        }
    }

  /* 401s are not admitted: only the 2 good ones used the window. */
  stats = pft_http_mock_server_get_stats (server);
  g_assert_cmpuint (stats->unauthorized, ==, 4);
  g_assert_cmpuint (stats->accepted, ==, 2);
    {
      g_autoptr(Reply) reply = request (session, server, "POST", "/v1/chat/completions", OPENAI_BODY ("x"), right_bearer);

      g_assert_cmpint (header_int (reply, "x-ratelimit-remaining-requests"), ==, 7);
    }
}

/* --- stats, live changes, the caller's context ------------------------ */

static void
test_mock_stats_and_live_limits (void)
{
  g_autoptr(PftHttpMockServer) server = start_server (NULL, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(PftHttpMockStats) before = NULL;
  g_autoptr(PftHttpMockStats) after = NULL;
  g_autoptr(GArray) arrivals = NULL;
  g_autoptr(Records) records = NULL;
  guint n_records;
  g_autofree char *text = NULL;

  for (int i = 0; i < 5; i++)
    {
      g_autoptr(Reply) reply = post (session, server, "/v1/chat/completions", OPENAI_BODY ("x"));

      g_assert_cmpuint (reply->status, ==, 200);
      /* No limit: no rate-limit headers. */
      g_assert_null (header (reply, "x-ratelimit-limit-requests"));
    }

  /* Lowered while running: the 5 already admitted count against it. */
  pft_http_mock_server_set_limits (server, 6, 60.0, 0, 0);
  {
    g_autoptr(Reply) sixth = post (session, server, "/v1/chat/completions", OPENAI_BODY ("x"));
    g_autoptr(Reply) seventh = post (session, server, "/v1/chat/completions", OPENAI_BODY ("x"));

    g_assert_cmpuint (sixth->status, ==, 200);
    g_assert_cmpint (header_int (sixth, "x-ratelimit-remaining-requests"), ==, 0);
    g_assert_cmpuint (seventh->status, ==, 429);
  }

  before = pft_http_mock_server_get_stats (server);
  g_assert_cmpuint (before->requests, ==, 7);
  g_assert_cmpuint (before->accepted, ==, 6);
  g_assert_cmpuint (before->rate_limited, ==, 1);
  g_assert_cmpuint (before->max_in_window, ==, 7);
  g_assert_cmpuint (before->max_concurrency, ==, 1);
  text = pft_http_mock_stats_to_string (before);
  g_assert_true (strstr (text, "requests: 7\naccepted: 6\nrate_limited: 1\n") != NULL);
  g_assert_true (strstr (text, "max_in_window: 7\n") != NULL);

  arrivals = pft_http_mock_server_get_arrivals (server);
  records = get_records (server, &n_records);
  g_assert_cmpuint (arrivals->len, ==, 7);
  for (guint i = 0; i < arrivals->len; i++)
    {
      g_assert_cmpint (g_array_index (arrivals, gint64, i), ==, ((PftHttpMockRecord *) records->pdata[i])->arrival);
      if (i > 0)
        g_assert_cmpint (g_array_index (arrivals, gint64, i), >=, g_array_index (arrivals, gint64, i - 1));
    }

  /* reset_stats forgets the observations, not the window. */
  pft_http_mock_server_reset_stats (server);
  after = pft_http_mock_server_get_stats (server);
  g_assert_cmpuint (after->requests, ==, 0);
  g_assert_cmpuint (after->accepted, ==, 0);
  g_assert_cmpuint (after->max_in_window, ==, 0);
  g_clear_pointer (&arrivals, g_array_unref);
  arrivals = pft_http_mock_server_get_arrivals (server);
  g_assert_cmpuint (arrivals->len, ==, 0);
  {
    g_autoptr(Reply) still = post (session, server, "/v1/chat/completions", OPENAI_BODY ("x"));

    g_assert_cmpuint (still->status, ==, 429);
  }

  /* Raised: admitted again. */
  g_object_set (server, "max-requests", 100, NULL);
  {
    g_autoptr(Reply) again = post (session, server, "/v1/chat/completions", OPENAI_BODY ("x"));

    g_assert_cmpuint (again->status, ==, 200);
    g_assert_cmpint (header_int (again, "x-ratelimit-remaining-requests"), ==, 100 - 7);
  }
}

/* start() serves from the caller's context, answered while an async
 * client iterates it. */
static void
test_mock_caller_context (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(PftHttpMockServer) server = NULL;
  g_autoptr(SoupSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PftHttpMockStats) stats = NULL;
  AsyncCall calls[3] = { { 0, }, };
  guint pending = 0;

  g_main_context_push_thread_default (context);
  server = g_object_new (PFT_HTTP_TYPE_MOCK_SERVER, "latency-min", 0.02, NULL);
  g_assert_true (pft_http_mock_server_start (server, &error));
  g_assert_no_error (error);
  session = new_session ();
  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    async_call_start (session, server, OPENAI_BODY ("x"), &calls[i], &pending);
  while (pending > 0)
    g_main_context_iteration (context, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    {
      g_assert_cmpuint (calls[i].reply->status, ==, 200);
      reply_free (calls[i].reply);
    }
  stats = pft_http_mock_server_get_stats (server);
  g_assert_cmpuint (stats->accepted, ==, 3);

  pft_http_mock_server_stop (server);
  g_clear_object (&session);
  /* Let the closed connections finish on this context. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
}

/* Stopping with requests waiting: they are counted as cancelled and
 * nothing is left in flight. */
static void
test_mock_stop_in_flight (void)
{
  g_autoptr(PftHttpMockServer) server = start_server ("latency-min", 30.0, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(PftHttpMockStats) stats = NULL;
  AsyncCall call = { 0, };
  guint pending = 0;

  async_call_start (session, server, OPENAI_BODY ("x"), &call, &pending);
  for (;;)
    {
      g_autoptr(PftHttpMockStats) now = pft_http_mock_server_get_stats (server);

      if (now->in_flight == 1)
        break;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  pft_http_mock_server_stop (server);
  wait_for (&pending);
  g_assert_nonnull (call.reply->error);
  reply_free (call.reply);

  stats = pft_http_mock_server_get_stats (server);
  g_assert_cmpuint (stats->in_flight, ==, 0);
  g_assert_cmpuint (stats->cancelled, ==, 1);
  g_assert_cmpuint (stats->accepted, ==, 0);
}

/* A client that gives up while its request waits: the server sees the
 * connection close, counts the request as cancelled and holds nothing in
 * flight, long before the latency would have ended. */
static void
test_mock_client_cancels (void)
{
  g_autoptr(PftHttpMockServer) server = start_server ("latency-min", 60.0, NULL);
  g_autoptr(SoupSession) session = new_session ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(SoupMessage) msg = new_message (server, "POST", "/v1/chat/completions", OPENAI_BODY ("x"), NULL);
  g_autoptr(PftHttpMockStats) stats = NULL;
  g_autoptr(Records) records = NULL;
  AsyncCall call = { 0, };
  guint pending = 1, n_records;

  call.pending = &pending;
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, cancellable, async_call_done, &call);
  for (;;)
    {
      g_autoptr(PftHttpMockStats) now = pft_http_mock_server_get_stats (server);

      if (now->in_flight == 1)
        break;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  g_cancellable_cancel (cancellable);
  wait_for (&pending);
  g_assert_error (call.reply->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  reply_free (call.reply);

  /* Within the 60 s latency, whatever the machine's load. */
  for (;;)
    {
      g_clear_pointer (&stats, pft_http_mock_stats_free);
      stats = pft_http_mock_server_get_stats (server);
      if (stats->in_flight == 0)
        break;
      g_usleep (1000);
    }
  g_assert_cmpuint (stats->cancelled, ==, 1);
  g_assert_cmpuint (stats->accepted, ==, 0);
  records = get_records (server, &n_records);
  g_assert_cmpuint (n_records, ==, 1);
  g_assert_cmpuint (((PftHttpMockRecord *) records->pdata[0])->status, ==, 0);
  g_assert_cmpint (((PftHttpMockRecord *) records->pdata[0])->finished, >, 0);
}

/* --- the formats and the window, unit by unit ------------------------- */

static void
test_mock_go_duration (void)
{
  static const struct { gint64 usec; const char *text; } cases[] = {
    { 0, "0s" },
    { -5, "0s" },
    { 1, "1ms" },
    { 20000, "20ms" },
    { 999000, "999ms" },
    { 1000000, "1s" },
    { 1500000, "1.5s" },
    { 1250000, "1.25s" },
    { 59999000, "59.999s" },
    { 60000000, "1m0s" },
    { 360000000, "6m0s" },
    { 90500000, "1m30.5s" },
    { 3600000000, "1h0m0s" },
    { 3723250000, "1h2m3.25s" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = pft_http_mock_format_go_duration (cases[i].usec);

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

static void
test_mock_rfc3339 (void)
{
  /* 2026-01-02T03:04:05.006Z, and a microsecond more rounds up. */
  gint64 t = (gint64) 1767323045 * G_USEC_PER_SEC + 6000;
  g_autofree char *exact = pft_http_mock_format_rfc3339 (t);
  g_autofree char *up = pft_http_mock_format_rfc3339 (t + 1);
  g_autoptr(GDateTime) parsed = g_date_time_new_from_iso8601 (exact, NULL);

  g_assert_cmpstr (exact, ==, "2026-01-02T03:04:05.006Z");
  g_assert_cmpstr (up, ==, "2026-01-02T03:04:05.007Z");
  g_assert_cmpint (g_date_time_to_unix (parsed), ==, 1767323045);
}

static void
test_mock_window_math (void)
{
  PftHttpMockWindow window;
  const gint64 s = G_USEC_PER_SEC;
  const gint64 times[] = { 0, 1, 5 * s, 5 * s + 1, 10 * s - 1, 10 * s, 30 * s };

  pft_http_mock_window_init (&window);
  pft_http_mock_window_add (&window, 0, 3);
  pft_http_mock_window_add (&window, 2 * s, 4);
  pft_http_mock_window_add (&window, 4 * s, 5);
  g_assert_cmpuint (window.total, ==, 12);

  /* Limit 12 in a 10 s window at t = 5 s: 1 more fits once the 3 of t = 0
   * leave (t = 10 s), 6 more once the 4 of t = 2 s leave too (t = 12 s). */
  g_assert_cmpint (pft_http_mock_window_wait (&window, 5 * s, 10 * s, 13, 1), ==, 0);
  g_assert_cmpint (pft_http_mock_window_wait (&window, 5 * s, 10 * s, 12, 1), ==, 5 * s);
  g_assert_cmpint (pft_http_mock_window_wait (&window, 5 * s, 10 * s, 12, 6), ==, 7 * s);
  g_assert_cmpint (pft_http_mock_window_wait (&window, 5 * s, 10 * s, 12, 13), ==, G_MAXINT64);
  g_assert_cmpint (pft_http_mock_window_reset (&window, 5 * s, 10 * s), ==, 5 * s);

  /* At t = 10 s the first entry is gone, the window is half-open. */
  pft_http_mock_window_prune (&window, 10 * s, 10 * s);
  g_assert_cmpuint (window.total, ==, 9);
  g_assert_cmpint (pft_http_mock_window_reset (&window, 10 * s, 10 * s), ==, 2 * s);
  pft_http_mock_window_prune (&window, 100 * s, 10 * s);
  g_assert_cmpuint (window.total, ==, 0);
  g_assert_cmpint (pft_http_mock_window_reset (&window, 100 * s, 10 * s), ==, 0);
  pft_http_mock_window_clear (&window);

  /* 0, 1, 5 s, 5 s + 1, 10 s - 1 are within 10 s of each other; 10 s is not
   * within 10 s of 0. */
  g_assert_cmpuint (pft_http_mock_window_max_count (times, G_N_ELEMENTS (times), 10 * s), ==, 5);
  g_assert_cmpuint (pft_http_mock_window_max_count (times, G_N_ELEMENTS (times), 1), ==, 1);
  g_assert_cmpuint (pft_http_mock_window_max_count (times, 0, 10 * s), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft-http/mock/start-stop", test_mock_start_stop);
  g_test_add_func ("/pft-http/mock/openai-reply", test_mock_openai_reply);
  g_test_add_func ("/pft-http/mock/anthropic-reply", test_mock_anthropic_reply);
  g_test_add_func ("/pft-http/mock/header-styles", test_mock_header_styles);
  g_test_add_func ("/pft-http/mock/window-limit", test_mock_window_limit);
  g_test_add_func ("/pft-http/mock/retry-after-expires", test_mock_retry_after_expires);
  g_test_add_func ("/pft-http/mock/token-limit", test_mock_token_limit);
  g_test_add_func ("/pft-http/mock/concurrency-limit", test_mock_concurrency_limit);
  g_test_add_func ("/pft-http/mock/latency", test_mock_latency);
  g_test_add_func ("/pft-http/mock/latency-does-not-block", test_mock_latency_does_not_block);
  g_test_add_func ("/pft-http/mock/faults", test_mock_faults);
  g_test_add_func ("/pft-http/mock/slow", test_mock_slow);
  g_test_add_func ("/pft-http/mock/bad-requests", test_mock_bad_requests);
  g_test_add_func ("/pft-http/mock/api-key", test_mock_api_key);
  g_test_add_func ("/pft-http/mock/stats-and-live-limits", test_mock_stats_and_live_limits);
  g_test_add_func ("/pft-http/mock/caller-context", test_mock_caller_context);
  g_test_add_func ("/pft-http/mock/stop-in-flight", test_mock_stop_in_flight);
  g_test_add_func ("/pft-http/mock/client-cancels", test_mock_client_cancels);
  g_test_add_func ("/pft-http/mock/go-duration", test_mock_go_duration);
  g_test_add_func ("/pft-http/mock/rfc3339", test_mock_rfc3339);
  g_test_add_func ("/pft-http/mock/window-math", test_mock_window_math);

  return g_test_run ();
}
