/* pft-mock-llm: runs the PftHttp mock API server until SIGINT/SIGTERM
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft-http.h>

#include <glib-unix.h>
#include <locale.h>
#include <stdlib.h>

typedef struct
{
  int port;
  int rpm;
  char *window;
  int tpm;
  int concurrency;
  char *latency;
  double error_rate;
  double drop_rate;
  double slow_rate;
  char *slow_latency;
  char *style;
  char *api_key;
  int seed;
} PftMockLlmOptions;

/* A duration with its unit: "20ms", "1.5s", "250us", "2m". With
 * @plain_seconds, a bare number is seconds. */
static gboolean
pft_mock_llm_parse_duration (const char  *option,
                             const char  *text,
                             gboolean     plain_seconds,
                             double      *seconds,
                             GError     **error)
{
  static const struct { const char *unit; double scale; } units[] = {
    { "us", 1e-6 }, { "ms", 1e-3 }, { "s", 1.0 }, { "m", 60.0 },
  };
  char *end = NULL;
  double value = g_ascii_strtod (text, &end);

  if (end == text || !(value >= 0) || value > 86400 * 1e6)
    goto fail;
  if (*end == '\0' && plain_seconds)
    {
      *seconds = value;
      return TRUE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (g_str_equal (end, units[i].unit))
      {
        *seconds = value * units[i].scale;
        return TRUE;
      }

fail:
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "%s: '%s' is not a duration (a number with a unit: 250us, 20ms, 1.5s, 2m%s)",
               option, text, plain_seconds ? "; or plain seconds" : "");
  return FALSE;
}

static gboolean
pft_mock_llm_check_rate (const char  *option,
                         double       rate,
                         GError     **error)
{
  if (rate >= 0 && rate <= 1)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "%s: %g is not a share between 0 and 1", option, rate);
  return FALSE;
}

static gboolean
pft_mock_llm_check_count (const char  *option,
                          int          value,
                          int          max,
                          GError     **error)
{
  if (value >= 0 && value <= max)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "%s: %d is out of range (0 to %d)", option, value, max);
  return FALSE;
}

/* Turns the options into the server's properties. */
static gboolean
pft_mock_llm_configure (PftHttpMockServer  *server,
                        PftMockLlmOptions  *o,
                        GError            **error)
{
  GEnumClass *styles = g_type_class_ref (PFT_HTTP_TYPE_MOCK_HEADER_STYLE);
  GEnumValue *style;
  double window = 60.0, latency_min = 0, latency_max = 0, slow_latency = 1.0;

  /* GOption replaces a string without freeing it: no allocated default. */
  style = g_enum_get_value_by_nick (styles, o->style != NULL ? o->style : "auto");
  g_type_class_unref (styles);
  if (style == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--style: '%s' is not one of auto, openai, anthropic, ietf, none", o->style);
      return FALSE;
    }
  if (!pft_mock_llm_check_count ("--port", o->port, G_MAXUINT16, error) ||
      !pft_mock_llm_check_count ("--rpm", o->rpm, G_MAXINT, error) ||
      !pft_mock_llm_check_count ("--tpm", o->tpm, G_MAXINT, error) ||
      !pft_mock_llm_check_count ("--concurrency", o->concurrency, G_MAXINT, error) ||
      !pft_mock_llm_check_count ("--seed", o->seed, G_MAXINT, error) ||
      !pft_mock_llm_check_rate ("--error-rate", o->error_rate, error) ||
      !pft_mock_llm_check_rate ("--drop-rate", o->drop_rate, error) ||
      !pft_mock_llm_check_rate ("--slow-rate", o->slow_rate, error))
    return FALSE;
  if (o->window != NULL &&
      !pft_mock_llm_parse_duration ("--window", o->window, TRUE, &window, error))
    return FALSE;
  if (window < 0.001)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--window: '%s' is shorter than 1ms", o->window);
      return FALSE;
    }
  if (o->latency != NULL)
    {
      g_auto(GStrv) range = g_strsplit (o->latency, "-", 2);

      if (!pft_mock_llm_parse_duration ("--latency", range[0], FALSE, &latency_min, error))
        return FALSE;
      latency_max = latency_min;
      if (range[1] != NULL &&
          !pft_mock_llm_parse_duration ("--latency", range[1], FALSE, &latency_max, error))
        return FALSE;
      if (latency_max < latency_min || latency_max > 3600)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--latency: '%s' is not a range MIN-MAX with MIN <= MAX <= 1 hour", o->latency);
          return FALSE;
        }
    }
  if (o->slow_latency != NULL &&
      !pft_mock_llm_parse_duration ("--slow-latency", o->slow_latency, FALSE, &slow_latency, error))
    return FALSE;

  g_object_set (server,
                "port", (guint) o->port,
                "max-requests", (guint) o->rpm,
                "window", window,
                "max-tokens", (guint) o->tpm,
                "max-concurrency", (guint) o->concurrency,
                "latency-min", latency_min,
                "latency-max", latency_max,
                "error-rate", o->error_rate,
                "drop-rate", o->drop_rate,
                "slow-rate", o->slow_rate,
                "slow-latency", MIN (slow_latency, 3600.0),
                "header-style", style->value,
                "expected-api-key", o->api_key,
                "seed", (guint) o->seed,
                NULL);
  return TRUE;
}

static gboolean
pft_mock_llm_quit (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

int
main (int   argc,
      char *argv[])
{
  PftMockLlmOptions o = { 0, };
  g_autoptr(PftHttpMockServer) server = NULL;
  g_autoptr(PftHttpMockStats) stats = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GOptionContext) options = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *report = NULL;
  int status = EXIT_SUCCESS;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &o.port, "TCP port on 127.0.0.1 (default 0: any free port)", "PORT" },
    { "rpm", 0, 0, G_OPTION_ARG_INT, &o.rpm, "Requests admitted per window (default 0: no limit)", "N" },
    { "window", 0, 0, G_OPTION_ARG_STRING, &o.window, "Length of the sliding window: seconds, or a duration such as 500ms (default 60)", "DURATION" },
    { "tpm", 0, 0, G_OPTION_ARG_INT, &o.tpm, "Tokens (prompt + completion) admitted per window (default 0: no limit)", "N" },
    { "concurrency", 0, 0, G_OPTION_ARG_INT, &o.concurrency, "Requests answered at once; one more gets 429 (default 0: no limit)", "N" },
    { "latency", 0, 0, G_OPTION_ARG_STRING, &o.latency, "Latency of each admitted request, fixed (20ms) or drawn from a range (10ms-50ms)", "D|MIN-MAX" },
    { "error-rate", 0, 0, G_OPTION_ARG_DOUBLE, &o.error_rate, "Share of admitted requests answered 500 (0 to 1)", "SHARE" },
    { "drop-rate", 0, 0, G_OPTION_ARG_DOUBLE, &o.drop_rate, "Share of admitted requests whose connection is closed without an answer", "SHARE" },
    { "slow-rate", 0, 0, G_OPTION_ARG_DOUBLE, &o.slow_rate, "Share of admitted requests that are slow", "SHARE" },
    { "slow-latency", 0, 0, G_OPTION_ARG_STRING, &o.slow_latency, "Extra latency of a slow request (default 1s)", "DURATION" },
    { "style", 0, 0, G_OPTION_ARG_STRING, &o.style, "Rate-limit headers: auto (by endpoint, the default), openai, anthropic, ietf or none", "STYLE" },
    { "api-key", 0, 0, G_OPTION_ARG_STRING, &o.api_key, "Answer 401 unless requests carry this key (Authorization: Bearer, or x-api-key)", "KEY" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &o.seed, "Seed of the latency and fault draws (default 0)", "N" },
    { NULL }
  };

  setlocale (LC_ALL, "");
  options = g_option_context_new ("- a mock OpenAI/Anthropic chat API on 127.0.0.1");
  g_option_context_set_summary (options,
    "Serves POST /v1/chat/completions, /chat/completions (OpenAI) and /v1/messages\n"
    "(Anthropic) with a deterministic reply and a usage block, enforcing its own\n"
    "limits on its own clock; over a limit it answers 429 with retry-after and the\n"
    "provider's rate-limit headers. Prints its base URL, runs until SIGINT or\n"
    "SIGTERM, then prints what it saw as `key: value` lines.");
  g_option_context_set_description (options,
    "Example:\n"
    "  pft-mock-llm --port 8080 --rpm 60 --window 1 --concurrency 4 --latency 20ms\n"
    "  then point an OpenAI client at http://127.0.0.1:8080/v1");
  g_option_context_add_main_entries (options, entries, NULL);

  server = pft_http_mock_server_new ();
  if (!g_option_context_parse (options, &argc, &argv, &error) ||
      !pft_mock_llm_configure (server, &o, &error))
    {
      g_printerr ("pft-mock-llm: %s\n", error->message);
      status = 2;
      goto out;
    }
  if (argc > 1)
    {
      g_printerr ("pft-mock-llm: unexpected argument '%s' (see --help)\n", argv[1]);
      status = 2;
      goto out;
    }

  if (!pft_http_mock_server_start (server, &error))
    {
      g_printerr ("pft-mock-llm: cannot listen on 127.0.0.1:%d: %s\n", o.port, error->message);
      status = EXIT_FAILURE;
      goto out;
    }
  uri = pft_http_mock_server_get_uri (server);
  g_print ("%s\n", uri);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, pft_mock_llm_quit, loop);
  g_unix_signal_add (SIGTERM, pft_mock_llm_quit, loop);
  g_main_loop_run (loop);
  pft_http_mock_server_stop (server);

  stats = pft_http_mock_server_get_stats (server);
  report = pft_http_mock_stats_to_string (stats);
  g_print ("%s", report);

out:
  g_free (o.window);
  g_free (o.latency);
  g_free (o.slow_latency);
  g_free (o.style);
  g_free (o.api_key);
  return status;
}
