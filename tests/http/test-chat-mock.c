/* test-chat-mock.c: the chat node against the mock API server, which
 * enforces its limits and counts on its own clock: no 429 at the true
 * limits, calibration from headers, retry-after honoured, faults,
 * cancellation
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "pft-http.h"

static PftHttpMockServer *
mock_new (guint                  max_requests,
          double                 window,
          guint                  max_concurrency,
          double                 latency,
          PftHttpMockHeaderStyle style)
{
  PftHttpMockServer *mock = pft_http_mock_server_new ();
  g_autoptr(GError) error = NULL;

  g_object_set (mock,
                "max-requests", max_requests,
                "window", window,
                "max-concurrency", max_concurrency,
                "latency-min", latency,
                "latency-max", latency,
                "header-style", style,
                NULL);
  pft_http_mock_server_start_in_thread (mock, &error);
  g_assert_no_error (error);
  return mock;
}

static PftNode *
node_for (PftHttpMockServer *mock,
          PftHttpProvider    provider,
          guint              concurrency,
          guint              per_window,
          double             window)
{
  g_autofree char *uri = pft_http_mock_server_get_uri (mock);
  g_autofree char *base = provider == PFT_HTTP_PROVIDER_OPENAI ? g_strconcat (uri, "/v1", NULL) : g_strdup (uri);
  g_autoptr(PftHttpChatClient) client = pft_http_chat_client_new (provider, base, "mock-model");
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (concurrency, per_window, window);
  PftNode *node = pft_http_chat_node_new (client);

  pft_http_chat_client_set_max_tokens (client, 16);
  g_object_set (node,
                "limiter", limiter,
                "max-concurrent", concurrency,
                "initial-concurrent", concurrency,
                "provider-window", window,
                NULL);
  return node;
}

static PftStore *
store_with_prompts (guint n)
{
  PftStore *store = pft_store_new ();
  g_autoptr(PftValues) prompts = pft_values_new ();

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *p = g_strdup_printf ("prompt-%u", i);
      pft_values_append_string (prompts, p);
    }
  pft_store_set_values (store, "prompts", prompts);
  return store;
}

/* Every item answered, in order: the mock's reply quotes the prompt. */
static void
check_all_answered (PftStore *store,
                    guint     n)
{
  g_autoptr(PftValues) replies = pft_store_dup_values (store, "replies");

  g_assert_cmpuint (pft_values_get_length (replies), ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PftHttpChatReply) reply = NULL;
      g_autofree char *want = g_strdup_printf ("prompt-%u", i);
      const GError *e = pft_values_get_error (replies, i);

      if (e != NULL)
        g_error ("item %u failed: %s", i, e->message);
      reply = pft_values_dup_object (replies, i);
      if (strstr (pft_http_chat_reply_get_text (reply), want) == NULL)
        g_error ("item %u: reply \"%s\" does not quote \"%s\"", i, pft_http_chat_reply_get_text (reply), want);
    }
}

static void
test_true_limits (gconstpointer data)
{
  PftHttpProvider provider = GPOINTER_TO_INT (data);
  /* 10 per 0.5 s and 3 at once, told to the client exactly. */
  g_autoptr(PftHttpMockServer) mock = mock_new (10, 0.5, 3, 0.01, PFT_HTTP_MOCK_HEADER_STYLE_AUTO);
  g_autoptr(PftNode) node = node_for (mock, provider, 3, 10, 0.5);
  g_autoptr(PftStore) store = store_with_prompts (40);
  g_autoptr(PftHttpMockStats) stats = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  /* Generous: this machine is shared, and arrival at the mock can lag
   * admission by tens of milliseconds under load. */
  g_object_set (node, "arrival-margin", 0.1, NULL);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  check_all_answered (store, 40);
  stats = pft_http_mock_server_get_stats (mock);
  g_assert_cmpuint (stats->rate_limited, ==, 0);
  g_assert_cmpuint (stats->accepted, ==, 40);
  g_assert_cmpuint (stats->max_in_window, <=, 10);
  g_assert_cmpuint (stats->max_concurrency, <=, 3);
  pft_http_mock_server_stop (mock);
}

static void
test_calibration (gconstpointer data)
{
  PftHttpProvider provider = GPOINTER_TO_INT (data);
  /* The mock allows 10 per 0.5 s; the client was configured with 25. */
  g_autoptr(PftHttpMockServer) mock = mock_new (10, 0.5, 0, 0.01, PFT_HTTP_MOCK_HEADER_STYLE_AUTO);
  g_autoptr(PftNode) node = node_for (mock, provider, 4, 25, 0.5);
  g_autoptr(PftStore) store = store_with_prompts (60);
  g_autoptr(PftHttpMockStats) stats = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = pft_node_run (node, store, NULL, &error);
  PftRateLimiter *limiter = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));

  g_assert_no_error (error);
  check_all_answered (store, 60);
  /* Learned from the headers, under the configured ceiling. */
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (limiter), ==, 10);
  g_assert_cmpuint (pft_http_rate_headers_get_configured_max_per_window (limiter), ==, 25);
  stats = pft_http_mock_server_get_stats (mock);
  /* Blind, the first window alone would see 15 refused; the headers of
   * the first answers stop that. */
  g_assert_cmpfloat ((double) stats->rate_limited / stats->requests, <=, 0.10);
  pft_http_mock_server_stop (mock);
}

/* After a 429, no request arrives at the mock before its retry-after
 * expired: the node runs one request at a time, so every request after
 * the 429 was sent after the client read it. */
static void
test_retry_after_honoured (void)
{
  /* No rate headers at all: only the 429s' retry-after can teach. */
  g_autoptr(PftHttpMockServer) mock = mock_new (3, 1.0, 0, 0.0, PFT_HTTP_MOCK_HEADER_STYLE_NONE);
  g_autoptr(PftNode) node = node_for (mock, PFT_HTTP_PROVIDER_OPENAI, 1, 10, 1.0);
  g_autoptr(PftStore) store = store_with_prompts (8);
  GList *records = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  guint seen_429 = 0;

  g_object_set (node, "min-concurrent", 1, "max-concurrent", 1, NULL);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  check_all_answered (store, 8);
  records = pft_http_mock_server_get_records (mock);
  for (GList *l = records; l != NULL && l->next != NULL; l = l->next)
    {
      PftHttpMockRecord *r = l->data;
      PftHttpMockRecord *next = l->next->data;

      if (r->status != 429)
        continue;
      seen_429++;
      g_assert_cmpint (r->retry_after_ms, >, 0);
      if (next->arrival < r->finished + r->retry_after_ms * 1000)
        g_error ("a request arrived %.1f ms after a 429 that asked for %" G_GINT64_FORMAT " ms",
                 (next->arrival - r->finished) / 1000.0, r->retry_after_ms);
    }
  g_list_free_full (records, (GDestroyNotify) pft_http_mock_record_free);
  /* Not vacuous: the 4th request of the first second was refused. */
  g_assert_cmpuint (seen_429, >, 0);
  pft_http_mock_server_stop (mock);
}

/* The mock limits tokens only; the node learns the token limit from the
 * headers and paces its requests by their estimated cost. */
static void
test_token_limit (void)
{
  g_autoptr(PftHttpMockServer) mock = mock_new (0, 0.5, 0, 0.005, PFT_HTTP_MOCK_HEADER_STYLE_OPENAI);
  g_autoptr(PftNode) node = node_for (mock, PFT_HTTP_PROVIDER_OPENAI, 4, 0, 0.5);
  g_autoptr(PftStore) store = store_with_prompts (60);
  g_autoptr(PftHttpMockStats) stats = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  PftRateLimiter *tokens = pft_http_chat_node_get_token_limiter (PFT_HTTP_CHAT_NODE (node));

  g_object_set (mock, "max-tokens", 300, NULL);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  check_all_answered (store, 60);
  g_assert_cmpuint (pft_rate_limiter_get_max_cost_per_window (tokens), ==, 300);
  g_assert_cmpfloat (pft_rate_limiter_get_window (tokens), ==, 0.5);
  stats = pft_http_mock_server_get_stats (mock);
  g_test_message ("%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " requests refused",
                  stats->rate_limited, stats->requests);
  /* 60 requests of ~20 tokens need 4 windows of 300: most of them waited
   * for tokens instead of being refused. */
  g_assert_cmpfloat ((double) stats->rate_limited / stats->requests, <=, 0.15);
  pft_http_mock_server_stop (mock);
}

/* The request limiter counts an attempt from when it is sent, after the
 * wait for tokens (pft_context_begin_request()), not from when its exec
 * began. 2 per 1 s at the client, 2 per 0.9 s at the mock (a provider
 * counting an exact window, the client's margin on top); the token window
 * starts full, so the first two items wait ~0.9 s for tokens and the
 * others do not. Stamped at the exec's start, the first two entries would
 * expire at 1 s and items 2 and 3 would arrive 0.1 s after items 0 and 1:
 * four in the mock's window, two of them refused. */
static void
test_request_counted_from_send (void)
{
  g_autoptr(PftHttpMockServer) mock = mock_new (2, 0.9, 0, 0.0, PFT_HTTP_MOCK_HEADER_STYLE_NONE);
  g_autoptr(PftNode) node = node_for (mock, PFT_HTTP_PROVIDER_OPENAI, 4, 2, 1.0);
  g_autoptr(PftStore) store = store_with_prompts (6);
  g_autoptr(PftHttpMockStats) stats = NULL;
  g_autoptr(GArray) arrivals = NULL;
  g_autoptr(PftPermit) fill = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  PftRateLimiter *tokens = pft_http_chat_node_get_token_limiter (PFT_HTTP_CHAT_NODE (node));
  gint64 start;

  pft_rate_limiter_set_window (tokens, 0.9);
  pft_rate_limiter_set_max_cost_per_window (tokens, 100000);
  start = g_get_monotonic_time ();
  fill = pft_rate_limiter_try_acquire (tokens, 100000, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fill);
  pft_permit_release (fill);

  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  check_all_answered (store, 6);
  stats = pft_http_mock_server_get_stats (mock);
  arrivals = pft_http_mock_server_get_arrivals (mock);
  /* The token wait happened: nothing reached the mock before it. */
  g_assert_cmpint (g_array_index (arrivals, gint64, 0) - start, >=, 800000);
  /* The mock's own log: no more than 2 arrivals in any 0.9 s. */
  for (guint i = 0; i < arrivals->len; i++)
    {
      gint64 from = g_array_index (arrivals, gint64, i);
      guint in_window = 0;

      for (guint j = 0; j < arrivals->len; j++)
        {
          gint64 t = g_array_index (arrivals, gint64, j);

          if (t >= from && t < from + 900000)
            in_window++;
        }
      g_assert_cmpuint (in_window, <=, 2);
    }
  g_assert_cmpuint (stats->rate_limited, ==, 0);
  g_assert_cmpuint (pft_http_chat_node_get_rate_limited_replies (PFT_HTTP_CHAT_NODE (node)), ==, 0);
  g_assert_cmpuint (arrivals->len, ==, 6);
  pft_http_mock_server_stop (mock);
}

static void
test_faults_lose_nothing (void)
{
  g_autoptr(PftHttpMockServer) mock = mock_new (0, 1.0, 0, 0.002, PFT_HTTP_MOCK_HEADER_STYLE_OPENAI);
  g_autoptr(PftNode) node = node_for (mock, PFT_HTTP_PROVIDER_OPENAI, 6, 0, 1.0);
  g_autoptr(PftStore) store = store_with_prompts (120);
  g_autoptr(PftHttpMockStats) stats = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  g_object_set (mock, "error-rate", 0.10, "drop-rate", 0.05, "seed", 42, NULL);
  g_object_set (node, "max-retries", 8, "wait", 0.001, NULL);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  check_all_answered (store, 120);
  stats = pft_http_mock_server_get_stats (mock);
  /* The faults happened, and were retried. */
  g_assert_cmpuint (stats->server_errors, >, 0);
  g_assert_cmpuint (stats->dropped, >, 0);
  g_assert_cmpuint (pft_http_chat_node_get_retries (PFT_HTTP_CHAT_NODE (node)), ==,
                    stats->server_errors + stats->dropped);
  pft_http_mock_server_stop (mock);
}

static void
test_retries_exhausted (void)
{
  g_autoptr(PftHttpMockServer) mock = mock_new (0, 1.0, 0, 0.0, PFT_HTTP_MOCK_HEADER_STYLE_OPENAI);
  g_autoptr(PftNode) node = node_for (mock, PFT_HTTP_PROVIDER_ANTHROPIC, 4, 0, 1.0);
  g_autoptr(PftStore) store = store_with_prompts (10);
  g_autoptr(PftValues) replies = NULL;
  g_autoptr(PftHttpMockStats) stats = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  g_object_set (mock, "error-rate", 1.0, NULL);
  g_object_set (node, "max-retries", 3, NULL);
  action = pft_node_run (node, store, NULL, &error);
  g_assert_no_error (error);
  replies = pft_store_dup_values (store, "replies");
  g_assert_cmpuint (pft_values_get_length (replies), ==, 10);
  for (guint i = 0; i < 10; i++)
    {
      const GError *e = pft_values_get_error (replies, i);

      g_assert_error (e, PFT_HTTP_ERROR, PFT_HTTP_ERROR_STATUS);
      g_assert_cmpuint (pft_http_error_get_status (e), ==, 500);
      /* The provider's message is in it, not just the status. */
      g_assert_nonnull (strstr (e->message, ": "));
      g_assert_cmpuint (strlen (strstr (e->message, "/v1/messages: ")), >, strlen ("/v1/messages: "));
    }
  stats = pft_http_mock_server_get_stats (mock);
  g_assert_cmpuint (stats->requests, ==, 30);
  pft_http_mock_server_stop (mock);
}

static void
run_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

typedef struct
{
  PftHttpMockServer *mock;
  GCancellable      *cancellable;
} CancelWhenBusy;

static gboolean
cancel_when_busy_cb (gpointer data)
{
  CancelWhenBusy *busy = data;
  g_autoptr(PftHttpMockStats) stats = pft_http_mock_server_get_stats (busy->mock);

  if (stats->in_flight < 3)
    return G_SOURCE_CONTINUE;
  g_cancellable_cancel (busy->cancellable);
  return G_SOURCE_REMOVE;
}

static void
test_cancel_leaves_nothing_in_flight (void)
{
  g_autoptr(PftHttpMockServer) mock = mock_new (0, 1.0, 0, 0.5, PFT_HTTP_MOCK_HEADER_STYLE_OPENAI);
  g_autoptr(PftNode) node = node_for (mock, PFT_HTTP_PROVIDER_OPENAI, 5, 0, 1.0);
  g_autoptr(PftStore) store = store_with_prompts (50);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  GAsyncResult *result = NULL;
  guint in_flight = G_MAXUINT;
  CancelWhenBusy busy = { mock, cancellable };

  /* Cancel once requests are waiting at the mock, however slow this
   * machine (valgrind) is. */
  g_timeout_add (5, cancel_when_busy_cb, &busy);
  pft_node_run_async (node, store, cancellable, run_done_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  action = pft_node_run_finish (node, result, &error);
  g_object_unref (result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* The mock sees the connections close; give it a moment to notice. */
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(PftHttpMockStats) stats = pft_http_mock_server_get_stats (mock);

      in_flight = stats->in_flight;
      if (in_flight == 0)
        break;
      g_usleep (10000);
    }
  g_assert_cmpuint (in_flight, ==, 0);
  {
    g_autoptr(PftHttpMockStats) stats = pft_http_mock_server_get_stats (mock);
    g_assert_cmpuint (stats->requests, >=, 3);
    g_assert_cmpuint (stats->accepted, <, 50);
  }
  pft_http_mock_server_stop (mock);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("OPENAI_API_KEY");
  g_unsetenv ("ANTHROPIC_API_KEY");

  g_test_add_data_func ("/pft-http/mock/true-limits/openai", GINT_TO_POINTER (PFT_HTTP_PROVIDER_OPENAI), test_true_limits);
  g_test_add_data_func ("/pft-http/mock/true-limits/anthropic", GINT_TO_POINTER (PFT_HTTP_PROVIDER_ANTHROPIC), test_true_limits);
  g_test_add_data_func ("/pft-http/mock/calibration/openai", GINT_TO_POINTER (PFT_HTTP_PROVIDER_OPENAI), test_calibration);
  g_test_add_data_func ("/pft-http/mock/calibration/anthropic", GINT_TO_POINTER (PFT_HTTP_PROVIDER_ANTHROPIC), test_calibration);
  g_test_add_func ("/pft-http/mock/retry-after", test_retry_after_honoured);
  g_test_add_func ("/pft-http/mock/faults", test_faults_lose_nothing);
  g_test_add_func ("/pft-http/mock/token-limit", test_token_limit);
  g_test_add_func ("/pft-http/mock/request-counted-from-send", test_request_counted_from_send);
  g_test_add_func ("/pft-http/mock/retries-exhausted", test_retries_exhausted);
  g_test_add_func ("/pft-http/mock/cancel", test_cancel_leaves_nothing_in_flight);

  return g_test_run ();
}
