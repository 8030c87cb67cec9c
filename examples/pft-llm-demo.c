/* pft-llm-demo.c: a few hundred translation prompts through PftHttpChatNode
 * against a mock OpenAI API that enforces limits lower than the client was
 * told; the provider's rate-limit headers teach the client the truth.
 *
 *   build-aux/pft-dev example            (no key, no network)
 *   pft-llm-demo --help
 *   pft-llm-demo --base-url https://api.openai.com/v1 --model gpt-4o-mini --items 20
 *
 * SPDX-License-Identifier: MIT
 */

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pft-http.h>

static char    *opt_base_url;
static char    *opt_api_key;
static char    *opt_model;
static char    *opt_provider = NULL;
static char    *opt_preset = NULL;
static int      opt_items = 300;
static gboolean opt_adaptive = TRUE;
static gboolean opt_smooth;
static double   opt_window = 1.0;   /* the mock's; a real API's is 60 */
static gboolean opt_window_set;

static gboolean
parse_window (const char  *name,
              const char  *value,
              gpointer     data,
              GError     **error)
{
  char *end = NULL;
  double w = g_ascii_strtod (value, &end);

  if (end == value || *end != '\0' || !(w > 0 && isfinite (w)))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--window must be a number of seconds more than 0, not \"%s\"", value);
      return FALSE;
    }
  opt_window = w;
  opt_window_set = TRUE;
  return TRUE;
}
static double   opt_mock_share = 0.6;
static gboolean opt_quiet;

static GOptionEntry entries[] = {
  { "base-url", 0, 0, G_OPTION_ARG_STRING, &opt_base_url,
    "Talk to this API instead of the built-in mock (e.g. https://api.openai.com/v1)", "URL" },
  { "api-key", 0, 0, G_OPTION_ARG_STRING, &opt_api_key,
    "The API key (default: $OPENAI_API_KEY or $ANTHROPIC_API_KEY); never printed", "KEY" },
  { "model", 0, 0, G_OPTION_ARG_STRING, &opt_model,
    "The model (default gpt-4o-mini, or claude-3-5-haiku-latest for Anthropic)", "NAME" },
  { "provider", 0, 0, G_OPTION_ARG_STRING, &opt_provider,
    "openai (POST {base-url}/chat/completions) or anthropic (POST {base-url}/v1/messages); default openai", "STYLE" },
  { "preset", 0, 0, G_OPTION_ARG_STRING, &opt_preset,
    "The limits the client is configured with (a Pft preset: openai_tier1, openai_tier2, "
    "anthropic_tier1, ...; default openai_tier1 = 5 concurrent, 60 per minute, or anthropic_tier1 "
    "with --provider anthropic)", "NAME" },
  { "items", 'n', 0, G_OPTION_ARG_INT, &opt_items, "How many prompts (default 300)", "N" },
  { "adaptive", 0, 0, G_OPTION_ARG_NONE, &opt_adaptive,
    "Let concurrency adapt to rate limits (the default)", NULL },
  { "fixed", 0, G_OPTION_FLAG_REVERSE, G_OPTION_ARG_NONE, &opt_adaptive,
    "Keep concurrency fixed at the preset's", NULL },
  { "smooth", 0, 0, G_OPTION_ARG_NONE, &opt_smooth,
    "Pace requests evenly (GCRA) instead of a sliding window", NULL },
  { "window", 0, 0, G_OPTION_ARG_CALLBACK, parse_window,
    "The built-in mock plays the preset's per-minute limits in windows of this many seconds, "
    "so that the demo takes seconds, not minutes (default 1). With --base-url: the window of "
    "the API's limits (default 60), e.g. 1 for pft-mock-llm --window 1", "SECONDS" },
  { "mock-share", 0, 0, G_OPTION_ARG_DOUBLE, &opt_mock_share,
    "Mock only: the mock enforces this share of the preset's limits, without telling the "
    "client (default 0.6)", "SHARE" },
  { "quiet", 'q', 0, G_OPTION_ARG_NONE, &opt_quiet, "No progress lines: only the set-up, a few replies and the summary", NULL },
  { NULL }
};

/* Sentences to translate: a few hundred distinct ones from small lists. */
static const char *subjects[] = { "The cat", "My neighbour", "The old train", "A small bird",
                                  "The teacher", "Our server", "The river", "A tired robot" };
static const char *verbs[] = { "sleeps", "sings", "waits", "runs", "dreams", "laughs",
                               "works", "listens" };
static const char *places[] = { "in the garden", "near the station", "under the bridge",
                                "at midnight", "in the rain", "by the sea" };

typedef struct
{
  GMainLoop        *loop;
  PftNode          *node;
  PftRateLimiter   *limiter;
  PftHttpMockServer *mock;
  guint             total;
  guint             done;
  guint             failed;
  gint64            start_us;
  guint64           last_requests;
  gint64            last_tick_us;
  guint             printed_done;  /* not on a terminal: what the last line showed, */
  guint64           printed_requests;
  gint64            printed_us;    /* and when */
  gboolean          finished;
  double            rate;          /* requests per second, smoothed */
  double            true_rate;     /* the mock's real limit per second, or 0 */
  double            configured_rate;
  guint             true_concurrency;
  char             *learned;       /* what the headers taught, for the progress line */
  gboolean          tty;
  GError           *error;
} Demo;

static void
demo_item_done (PftNode      *node,
                guint         index,
                const GError *error,
                Demo         *demo)
{
  demo->done++;
  if (error != NULL)
    demo->failed++;
}

static void
demo_rate_headers (PftHttpChatNode    *node,
                   PftHttpRateHeaders *headers,
                   PftHttpRateAction   actions,
                   Demo               *demo)
{
  if (actions & (PFT_HTTP_RATE_ACTION_LOWERED_REQUESTS | PFT_HTTP_RATE_ACTION_RAISED_REQUESTS))
    {
      g_free (demo->learned);
      demo->learned = g_strdup_printf ("limit %u per %gs (provider says %" G_GINT64_FORMAT ")",
                                       pft_rate_limiter_get_max_per_window (demo->limiter),
                                       pft_rate_limiter_get_window (demo->limiter),
                                       pft_http_rate_headers_get_request_limit (headers));
      if (!demo->tty && !opt_quiet)
        g_print ("headers: %s the limiter to %s\n",
                 (actions & PFT_HTTP_RATE_ACTION_LOWERED_REQUESTS) ? "lowered" : "raised", demo->learned);
    }
}

static gboolean
demo_tick (gpointer user_data)
{
  Demo *demo = user_data;
  gint64 now = g_get_monotonic_time ();
  guint64 requests = pft_http_chat_node_get_requests_sent (PFT_HTTP_CHAT_NODE (demo->node));
  double dt = (now - demo->last_tick_us) / 1e6;
  double window = pft_rate_limiter_get_window (demo->limiter);

  /* The last call comes right after the run ends: a few requests over a
   * few milliseconds would show a rate far above the limit. */
  if (dt >= 0.1 || (demo->last_tick_us == demo->start_us && dt > 0))
    {
      double instant = (requests - demo->last_requests) / dt;
      demo->rate = demo->last_tick_us == demo->start_us ? instant : 0.7 * demo->rate + 0.3 * instant;
      demo->last_requests = requests;
      demo->last_tick_us = now;
    }
  if (opt_quiet)
    return G_SOURCE_CONTINUE;

  {
    g_autofree char *line = g_strdup_printf (
      "%4u/%-4u  %5.1f req/s (limit %u/%gs)  429s %" G_GUINT64_FORMAT "  concurrency %u  in flight %u  %s%s",
      demo->done, demo->total, demo->rate, pft_rate_limiter_get_max_per_window (demo->limiter), window,
      pft_http_chat_node_get_rate_limited_replies (PFT_HTTP_CHAT_NODE (demo->node)),
      pft_adaptive_node_get_current_concurrent (PFT_ADAPTIVE_NODE (demo->node)),
      pft_rate_limiter_get_in_flight (demo->limiter),
      demo->learned != NULL ? "learned: " : "", demo->learned != NULL ? demo->learned : "");
    /* Not on a terminal, a line a second while the numbers move; a stalled
     * run (a server that went away, a long pause) prints one every 10 s. */
    if (demo->tty)
      g_print ("\r\033[K%s", line);
    else if (demo->finished || demo->done != demo->printed_done || requests != demo->printed_requests
             || now - demo->printed_us >= 10 * G_USEC_PER_SEC)
      {
        g_print ("%s\n", line);
        demo->printed_done = demo->done;
        demo->printed_requests = requests;
        demo->printed_us = now;
      }
  }
  return G_SOURCE_CONTINUE;
}

static void
demo_run_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Demo *demo = user_data;
  g_autofree char *action = pft_node_run_finish (PFT_NODE (source), result, &demo->error);

  g_main_loop_quit (demo->loop);
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
percentile (GArray *sorted,
            double  p)
{
  guint i;

  if (sorted->len == 0)
    return 0;
  i = (guint) MIN (sorted->len - 1, floor (p * (sorted->len - 1) + 0.5));
  return g_array_index (sorted, double, i);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) options = g_option_context_new ("- translate prompts through a rate-limited chat API");
  g_autoptr(GError) error = NULL;
  g_autoptr(PftPreset) preset = NULL;
  g_autoptr(PftHttpMockServer) mock = NULL;
  g_autoptr(PftHttpChatClient) client = NULL;
  g_autoptr(PftRateLimiter) limiter = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) prompts = pft_values_new ();
  g_autoptr(PftValues) replies = NULL;
  g_autoptr(GArray) latencies = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autofree char *base_url = NULL;
  PftHttpProvider provider = PFT_HTTP_PROVIDER_OPENAI;
  Demo demo = { 0 };
  guint concurrency, per_minute, tick;
  double window, elapsed;
  gboolean use_mock, sampled_error = FALSE;

  /* The locale's charset, so that messages quoting “values” print as such. */
  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_set_summary (options,
    "Runs translation prompts through a PftHttpChatNode (an adaptive batch node) and shows how\n"
    "the provider's rate-limit headers drive the limiter.\n\n"
    "Without --base-url it starts a mock OpenAI-compatible API in-process (no key, no network)\n"
    "that enforces limits LOWER than the preset the client is configured with (--mock-share),\n"
    "and does not tell the client: watch the client learn them from the x-ratelimit-* headers\n"
    "instead of drowning in 429s. Per-minute limits are played per --window seconds.");
  g_option_context_set_description (options,
    "Output: a live progress line on a terminal (plain lines otherwise): done/total, requests\n"
    "per second against the limit, 429s, current concurrency, what the headers taught; then a\n"
    "summary: elapsed time, achieved rate against the limit, 429s, retries, p50/p95 latency.");
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  if (opt_provider != NULL && g_ascii_strcasecmp (opt_provider, "anthropic") == 0)
    provider = PFT_HTTP_PROVIDER_ANTHROPIC;
  else if (opt_provider != NULL && g_ascii_strcasecmp (opt_provider, "openai") != 0)
    {
      g_printerr ("--provider must be openai or anthropic, not \"%s\"\n", opt_provider);
      return 2;
    }
  if (opt_items < 1)
    {
      g_printerr ("--items must be at least 1, not %d\n", opt_items);
      return 2;
    }
  if (!(opt_mock_share > 0 && opt_mock_share <= 1))
    {
      g_printerr ("--mock-share must be more than 0 and at most 1, not %g\n", opt_mock_share);
      return 2;
    }
  preset = pft_presets_lookup (opt_preset != NULL ? opt_preset
                               : provider == PFT_HTTP_PROVIDER_ANTHROPIC ? "anthropic_tier1" : "openai_tier1",
                               &error);
  if (preset == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  concurrency = pft_preset_get_max_concurrent (preset);
  per_minute = pft_preset_get_max_per_minute (preset);
  use_mock = opt_base_url == NULL;
  window = use_mock || opt_window_set ? opt_window : 60.0;

  if (use_mock)
    {
      /* A preset without a rate limit (0) gives a mock without one. */
      guint mock_requests = per_minute == 0 ? 0 : MAX (1, (guint) floor (per_minute * opt_mock_share));
      guint mock_concurrency = MAX (1, (guint) floor (concurrency * opt_mock_share + 0.5));

      mock = pft_http_mock_server_new ();
      g_object_set (mock,
                    "max-requests", mock_requests,
                    "window", window,
                    "max-concurrency", mock_concurrency,
                    "latency-min", 0.02,
                    "latency-max", 0.08,
                    NULL);
      if (!pft_http_mock_server_start_in_thread (mock, &error))
        {
          g_printerr ("Cannot start the mock API: %s\n", error->message);
          return 1;
        }
      {
        g_autofree char *uri = pft_http_mock_server_get_uri (mock);
        base_url = provider == PFT_HTTP_PROVIDER_ANTHROPIC ? g_strdup (uri) : g_strconcat (uri, "/v1", NULL);
      }
      demo.true_rate = mock_requests / window;
      demo.true_concurrency = mock_concurrency;
      if (mock_requests > 0)
        g_print ("Mock API at %s enforcing %u requests per %gs and %u concurrent (the client is not told).\n",
                 base_url, mock_requests, window, mock_concurrency);
      else
        g_print ("Mock API at %s enforcing %u concurrent and no request rate (the client is not told).\n",
                 base_url, mock_concurrency);
    }
  else
    base_url = g_strdup (opt_base_url);

  client = pft_http_chat_client_new (provider, base_url,
                                     opt_model != NULL ? opt_model
                                     : provider == PFT_HTTP_PROVIDER_ANTHROPIC ? "claude-3-5-haiku-latest"
                                     : "gpt-4o-mini");
  if (opt_api_key != NULL)
    pft_http_chat_client_set_api_key (client, opt_api_key);
  /* A real API answers 401 to every attempt of every item otherwise. */
  if (!use_mock && !pft_http_chat_client_has_api_key (client))
    g_printerr ("Note: no API key (--api-key, or $%s): the requests carry none.\n",
                provider == PFT_HTTP_PROVIDER_ANTHROPIC ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY");
  pft_http_chat_client_set_max_tokens (client, 60);
  pft_http_chat_client_set_system_prompt (client, "You translate English into French. Answer with the translation only.");

  /* The client is configured with the preset's limits, in the demo's window. */
  limiter = pft_rate_limiter_new (concurrency, per_minute, window);
  if (opt_smooth)
    pft_rate_limiter_set_mode (limiter, PFT_LIMITER_MODE_SMOOTH);
  demo.node = pft_http_chat_node_new (client);
  g_object_set (demo.node,
                "limiter", limiter,
                "max-concurrent", concurrency,
                "initial-concurrent", concurrency,
                "min-concurrent", opt_adaptive ? 1 : concurrency,
                "provider-window", window,
                "max-retries", 3,
                "wait", 0.2,
                NULL);
  demo.limiter = limiter;
  demo.configured_rate = per_minute / window;
  demo.loop = loop;
  demo.total = opt_items;
  demo.tty = isatty (STDOUT_FILENO);

  for (int i = 0; i < opt_items; i++)
    {
      g_autofree char *p = g_strdup_printf ("%s %s %s.", subjects[i % G_N_ELEMENTS (subjects)],
                                            verbs[(i / G_N_ELEMENTS (subjects)) % G_N_ELEMENTS (verbs)],
                                            places[(i / 7) % G_N_ELEMENTS (places)]);
      pft_values_append_string (prompts, p);
    }
  pft_store_set_values (store, "prompts", prompts);

  g_print ("Client: %s preset (%u concurrent, %u per %gs), %s concurrency, %s window, %d prompts.\n",
           pft_preset_get_name (preset), concurrency, per_minute, window,
           opt_adaptive ? "adaptive" : "fixed", opt_smooth ? "smooth" : "sliding", opt_items);

  g_signal_connect (demo.node, "item-done", G_CALLBACK (demo_item_done), &demo);
  g_signal_connect (demo.node, "rate-headers", G_CALLBACK (demo_rate_headers), &demo);
  demo.start_us = demo.last_tick_us = demo.printed_us = g_get_monotonic_time ();
  tick = g_timeout_add (demo.tty ? 200 : 1000, demo_tick, &demo);
  pft_node_run_async (demo.node, store, NULL, demo_run_cb, &demo);
  g_main_loop_run (loop);
  g_source_remove (tick);
  elapsed = (g_get_monotonic_time () - demo.start_us) / 1e6;
  demo.finished = TRUE;
  if (!opt_quiet)
    {
      demo_tick (&demo);
      if (demo.tty)
        g_print ("\n");
    }
  if (demo.error != NULL)
    {
      g_printerr ("The run failed: %s\n", demo.error->message);
      return 1;
    }

  replies = pft_store_dup_values (store, "replies");
  for (guint i = 0; i < pft_values_get_length (replies); i++)
    if (pft_values_get_error (replies, i) == NULL)
      {
        g_autoptr(PftHttpChatReply) reply = pft_values_dup_object (replies, i);
        double latency = pft_http_chat_reply_get_latency (reply);
        g_array_append_val (latencies, latency);
      }
  g_array_sort (latencies, compare_double);

  for (guint i = 0; i < MIN (3, pft_values_get_length (replies)); i++)
    {
      const GError *e = pft_values_get_error (replies, i);
      if (e != NULL)
        {
          g_print ("  \"%s\" -> error: %s\n", pft_values_get_string (prompts, i), e->message);
          sampled_error = TRUE;
        }
      else
        {
          g_autoptr(PftHttpChatReply) reply = pft_values_dup_object (replies, i);
          g_print ("  \"%s\" -> \"%s\"\n", pft_values_get_string (prompts, i), pft_http_chat_reply_get_text (reply));
        }
    }

  /* The samples above may all be answers: say why the others failed. */
  for (guint i = MIN (3, pft_values_get_length (replies));
       i < pft_values_get_length (replies) && !sampled_error; i++)
    {
      const GError *e = pft_values_get_error (replies, i);
      if (e != NULL)
        {
          g_print ("  first failure, prompt %u: %s\n", i + 1, e->message);
          break;
        }
    }

  {
    guint64 requests = pft_http_chat_node_get_requests_sent (PFT_HTTP_CHAT_NODE (demo.node));
    guint64 limited = pft_http_chat_node_get_rate_limited_replies (PFT_HTTP_CHAT_NODE (demo.node));
    double achieved = (opt_items - demo.failed) / elapsed;

    g_print ("\nSummary\n");
    g_print ("  answered      %u of %u (%u failed)\n", opt_items - demo.failed, opt_items, demo.failed);
    g_print ("  elapsed       %.2f s\n", elapsed);
    if (demo.true_rate > 0)
      g_print ("  rate          %.1f answers/s; the mock's real limit %.1f/s (%.0f%%), the preset's %.1f/s\n",
               achieved, demo.true_rate, 100 * achieved / demo.true_rate, demo.configured_rate);
    else if (demo.configured_rate > 0)
      g_print ("  rate          %.1f answers/s; configured limit %.2f/s\n", achieved, demo.configured_rate);
    else
      g_print ("  rate          %.1f answers/s; no rate limit configured\n", achieved);
    g_print ("  requests      %" G_GUINT64_FORMAT " sent, %" G_GUINT64_FORMAT " answered 429 (%.1f%%), %"
             G_GUINT64_FORMAT " retries after errors\n",
             requests, limited, requests > 0 ? 100.0 * limited / requests : 0.0,
             pft_http_chat_node_get_retries (PFT_HTTP_CHAT_NODE (demo.node)));
    if (latencies->len > 0)
      g_print ("  latency       p50 %.0f ms, p95 %.0f ms\n",
               1000 * percentile (latencies, 0.50), 1000 * percentile (latencies, 0.95));
    else
      g_print ("  latency       none: no answer\n");
    g_print ("  limiter       %u per %gs after calibration (configured %u per %gs), concurrency %u (ceiling %u)\n",
             pft_rate_limiter_get_max_per_window (limiter), pft_rate_limiter_get_window (limiter),
             pft_http_rate_headers_get_configured_max_per_window (limiter), window,
             pft_adaptive_node_get_current_concurrent (PFT_ADAPTIVE_NODE (demo.node)), concurrency);
    if (mock != NULL)
      {
        g_autoptr(PftHttpMockStats) stats = pft_http_mock_server_get_stats (mock);
        g_print ("  mock saw      %" G_GUINT64_FORMAT " requests, %" G_GUINT64_FORMAT " refused 429, "
                 "at most %u at once and %u in a window\n",
                 stats->requests, stats->rate_limited, stats->max_concurrency, stats->max_in_window);
        pft_http_mock_server_stop (mock);
      }
  }

  g_free (demo.learned);
  g_clear_object (&demo.node);
  return demo.failed == 0 ? 0 : 1;
}
