/* bench-llm-http.c: the chat node against the loopback mock API
 *
 *   llm_http.*             the node configured with the mock's true limits
 *   llm_http_calibrated.*  configured 2x too high, learning from the headers
 *   llm_http.overhead_us_per_request  no limits, no latency: the client's cost
 *
 * Utilization = ideal / measured, the ideal being requests / rate (the
 * limit allows `rate` per second); 429s are counted by the mock, on its
 * own clock. Prints `key: value` lines; asserts nothing.
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdio.h>
#include <time.h>

#include <pft-http.h>

#define REQUESTS 600
#define LIMIT    60
#define WINDOW   1.0
#define LATENCY  0.020

/* CPU seconds of the calling thread: the client runs on this thread's
 * main context, the mock in a thread of its own. */
static double
thread_cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct
{
  double  cpu;
  double  elapsed;
  guint64 requests;
  guint64 rate_limited;
  guint64 answered;
  guint   max_in_window;
} Outcome;

static PftStore *
prompts_store (guint n)
{
  PftStore *store = pft_store_new ();
  g_autoptr(PftValues) prompts = pft_values_new_sized (n);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *p = g_strdup_printf ("Translate to French: sentence number %u.", i);
      pft_values_append_string (prompts, p);
    }
  pft_store_set_values (store, "prompts", prompts);
  return store;
}

static Outcome
run_scenario (guint  mock_limit,
              double latency,
              guint  configured_limit,
              guint  concurrency,
              guint  n)
{
  g_autoptr(PftHttpMockServer) mock = pft_http_mock_server_new ();
  g_autoptr(PftHttpChatClient) client = NULL;
  g_autoptr(PftRateLimiter) limiter = NULL;
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftStore) store = prompts_store (n);
  g_autoptr(PftValues) replies = NULL;
  g_autoptr(PftHttpMockStats) stats = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *base = NULL;
  g_autofree char *action = NULL;
  Outcome out = { 0 };
  gint64 start;

  g_object_set (mock,
                "max-requests", mock_limit,
                "window", WINDOW,
                "latency-min", latency,
                "latency-max", latency,
                "header-style", PFT_HTTP_MOCK_HEADER_STYLE_OPENAI,
                NULL);
  if (!pft_http_mock_server_start_in_thread (mock, &error))
    g_error ("mock: %s", error->message);
  uri = pft_http_mock_server_get_uri (mock);
  base = g_strconcat (uri, "/v1", NULL);
  client = pft_http_chat_client_new (PFT_HTTP_PROVIDER_OPENAI, base, "bench-model");
  pft_http_chat_client_set_max_tokens (client, 32);

  limiter = pft_rate_limiter_new (concurrency, configured_limit, WINDOW);
  node = pft_http_chat_node_new (client);
  g_object_set (node,
                "limiter", limiter,
                "max-concurrent", concurrency,
                "initial-concurrent", concurrency,
                /* The mock counts per second; OpenAI's headers do not say. */
                "provider-window", WINDOW,
                "max-retries", 3,
                NULL);
  /* PFT_BENCH_ARRIVAL_MARGIN: try another margin than the node's default. */
  if (g_getenv ("PFT_BENCH_ARRIVAL_MARGIN") != NULL)
    g_object_set (node, "arrival-margin", g_ascii_strtod (g_getenv ("PFT_BENCH_ARRIVAL_MARGIN"), NULL), NULL);

  out.cpu = thread_cpu_seconds ();
  start = g_get_monotonic_time ();
  action = pft_node_run (node, store, NULL, &error);
  out.elapsed = (g_get_monotonic_time () - start) / 1e6;
  out.cpu = thread_cpu_seconds () - out.cpu;
  if (error != NULL)
    g_error ("run: %s", error->message);

  replies = pft_store_dup_values (store, "replies");
  for (guint i = 0; i < pft_values_get_length (replies); i++)
    if (pft_values_get_error (replies, i) == NULL)
      out.answered++;
  if (g_getenv ("PFT_BENCH_DUMP") != NULL)
    {
      GList *records = pft_http_mock_server_get_records (mock);
      gint64 t0 = records != NULL ? ((PftHttpMockRecord *) records->data)->arrival : 0;

      for (GList *l = records; l != NULL; l = l->next)
        {
          PftHttpMockRecord *r = l->data;
          fprintf (stderr, "%.4f %u\n", (r->arrival - t0) / 1e6, r->status);
        }
      g_list_free_full (records, (GDestroyNotify) pft_http_mock_record_free);
    }
  stats = pft_http_mock_server_get_stats (mock);
  out.requests = stats->requests;
  out.rate_limited = stats->rate_limited;
  out.max_in_window = stats->max_in_window;
  pft_http_mock_server_stop (mock);
  return out;
}

/* The baseline: the same requests with bare libsoup, 16 in flight, the
 * body built once and the reply not parsed. */
typedef struct
{
  SoupSession *session;
  char        *url;
  GBytes      *body;
  guint        to_start;
  guint        in_flight;
} Bare;

static void bare_start (Bare *bare);

static void
bare_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Bare *bare = user_data;
  g_autoptr(GBytes) reply = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);

  g_assert (reply != NULL);
  bare->in_flight--;
  if (bare->to_start > 0)
    bare_start (bare);
}

static void
bare_start (Bare *bare)
{
  g_autoptr(SoupMessage) msg = soup_message_new (SOUP_METHOD_POST, bare->url);

  soup_message_set_request_body_from_bytes (msg, "application/json", bare->body);
  bare->to_start--;
  bare->in_flight++;
  soup_session_send_and_read_async (bare->session, msg, G_PRIORITY_DEFAULT, NULL, bare_done_cb, bare);
}

static double
run_bare (guint n)
{
  g_autoptr(PftHttpMockServer) mock = pft_http_mock_server_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  static const char body[] = "{\"model\":\"bench-model\",\"max_tokens\":32,\"messages\":"
                             "[{\"role\":\"user\",\"content\":\"Translate to French: a sentence.\"}]}";
  Bare bare = { 0 };
  double cpu;

  if (!pft_http_mock_server_start_in_thread (mock, &error))
    g_error ("mock: %s", error->message);
  uri = pft_http_mock_server_get_uri (mock);
  bare.url = g_strconcat (uri, "/v1/chat/completions", NULL);
  bare.session = g_object_new (SOUP_TYPE_SESSION, "max-conns", 256, "max-conns-per-host", 256, NULL);
  bare.body = g_bytes_new_static (body, sizeof body - 1);
  bare.to_start = n;

  cpu = thread_cpu_seconds ();
  for (guint i = 0; i < 16 && bare.to_start > 0; i++)
    bare_start (&bare);
  while (bare.in_flight > 0 || bare.to_start > 0)
    g_main_context_iteration (NULL, TRUE);
  cpu = thread_cpu_seconds () - cpu;

  g_object_unref (bare.session);
  g_bytes_unref (bare.body);
  g_free (bare.url);
  pft_http_mock_server_stop (mock);
  return cpu;
}

int
main (int   argc,
      char *argv[])
{
  Outcome truth, calibrated, overhead;
  double ideal = REQUESTS / (LIMIT / WINDOW);
  /* Stricter: a sliding window lets the first LIMIT go at once, the rest
   * at the rate, and the last answer takes a latency. */
  double ideal_strict = (REQUESTS - LIMIT) / (LIMIT / WINDOW) + LATENCY;
  guint n_overhead = 2000;

  g_unsetenv ("OPENAI_API_KEY");

  /* `bench-llm-http overhead`: only the last scenario (for profilers). */
  if (argc > 1 && g_str_equal (argv[1], "overhead"))
    goto overhead;

  truth = run_scenario (LIMIT, LATENCY, LIMIT, 8, REQUESTS);
  printf ("llm_http.utilization: %.3f\n", ideal / truth.elapsed);
  printf ("llm_http.utilization_strict: %.3f\n", ideal_strict / truth.elapsed);
  printf ("llm_http.rate_limited: %" G_GUINT64_FORMAT "\n", truth.rate_limited);
  printf ("llm_http.answered: %" G_GUINT64_FORMAT "\n", truth.answered);
  printf ("llm_http.max_in_window: %u\n", truth.max_in_window);
  printf ("llm_http.elapsed_s: %.3f\n", truth.elapsed);
  fflush (stdout);

  calibrated = run_scenario (LIMIT, LATENCY, 2 * LIMIT, 8, REQUESTS);
  printf ("llm_http_calibrated.utilization: %.3f\n", ideal / calibrated.elapsed);
  printf ("llm_http_calibrated.utilization_strict: %.3f\n", ideal_strict / calibrated.elapsed);
  printf ("llm_http_calibrated.rate_limited_share: %.4f\n",
          calibrated.requests > 0 ? (double) calibrated.rate_limited / calibrated.requests : 0.0);
  printf ("llm_http_calibrated.rate_limited: %" G_GUINT64_FORMAT "\n", calibrated.rate_limited);
  printf ("llm_http_calibrated.answered: %" G_GUINT64_FORMAT "\n", calibrated.answered);
  printf ("llm_http_calibrated.elapsed_s: %.3f\n", calibrated.elapsed);
  fflush (stdout);

overhead:
  overhead = run_scenario (0, 0, 0, 16, n_overhead);
  /* The client's own cost: CPU time of the thread it runs on, per request
   * (the mock's work is on its own thread). Wall time includes the mock. */
  printf ("llm_http.overhead_us_per_request: %.1f\n", 1e6 * overhead.cpu / n_overhead);
  printf ("llm_http.overhead_wall_us_per_request: %.1f\n", 1e6 * overhead.elapsed / n_overhead);
  printf ("llm_http.overhead_answered: %" G_GUINT64_FORMAT "\n", overhead.answered);
  {
    double bare = run_bare (n_overhead);

    printf ("llm_http.bare_soup_us_per_request: %.1f\n", 1e6 * bare / n_overhead);
    printf ("llm_http.overhead_vs_bare_soup: %.2f\n", overhead.cpu / bare);
  }
  return 0;
}
