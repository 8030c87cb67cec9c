/* test-rate-headers.c: PftHttpRateHeaders, table-driven, and acting on a
 * limiter
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>

#include "pft-http.h"
#include "pft-http-private.h"

#define NONE (-1)

/* 2026-01-01T00:00:00Z, the reference "now" of the date cases. */
#define REF_UNIX 1767225600

typedef struct
{
  const char *name;
  const char *value;
  /* What the getters say afterwards; NONE = not said. */
  double      retry_after;
  gint64      req_limit, req_remaining;
  double      req_reset;
  gint64      tok_limit, tok_remaining;
  double      tok_reset;
  double      window;       /* 60 unless stated */
} Case;

static const Case cases[] = {
  /* retry-after: seconds, HTTP-date, malformed, negative, huge */
  { "retry-after", "30", 30, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "Retry-After", " 2 ", 2, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after", "0.5", 0.5, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after", "Thu, 01 Jan 2026 00:00:12 GMT", 12, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after", "Wed, 31 Dec 2025 23:00:00 GMT", 0, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after", "-5", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after", "abc", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after", "", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after", "1e9", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after", "nan", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after", "inf", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after", "99999999999999999999999999", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after", "86401", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after", "Fri, 01 Jan 2100 00:00:00 GMT", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after-ms", "250", 0.25, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after-ms", "12.5", 0.0125, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after-ms", "-1", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "retry-after-ms", "1e3", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  /* OpenAI */
  { "x-ratelimit-limit-requests", "60", NONE, 60, NONE, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-remaining-requests", "0", NONE, NONE, 0, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-reset-requests", "1s", NONE, NONE, NONE, 1, NONE, NONE, NONE, 60 },
  { "x-ratelimit-reset-requests", "6m0s", NONE, NONE, NONE, 360, NONE, NONE, NONE, 60 },
  { "x-ratelimit-reset-requests", "20ms", NONE, NONE, NONE, 0.02, NONE, NONE, NONE, 60 },
  { "x-ratelimit-reset-requests", "1h2m3.5s", NONE, NONE, NONE, 3723.5, NONE, NONE, NONE, 60 },
  { "x-ratelimit-reset-requests", "500us", NONE, NONE, NONE, 0.0005, NONE, NONE, NONE, 60 },
  { "x-ratelimit-reset-requests", "0s", NONE, NONE, NONE, 0, NONE, NONE, NONE, 60 },
  { "x-ratelimit-reset-requests", "1.5", NONE, NONE, NONE, 1.5, NONE, NONE, NONE, 60 },
  { "x-ratelimit-reset-requests", "-1s", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-reset-requests", "1x", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-reset-requests", "s", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-reset-requests", "1s2", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-reset-requests", "25h", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-reset-requests", "9999999999999999h", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-limit-requests", "-60", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-limit-requests", "4294967296", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-limit-requests", "4294967295", NONE, 4294967295, NONE, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-limit-requests", "6e1", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-limit-requests", "60 ", NONE, 60, NONE, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-limit-requests", "sixty", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "x-ratelimit-limit-tokens", "150000", NONE, NONE, NONE, NONE, 150000, NONE, NONE, 60 },
  { "x-ratelimit-remaining-tokens", "149984", NONE, NONE, NONE, NONE, NONE, 149984, NONE, 60 },
  { "x-ratelimit-reset-tokens", "6ms", NONE, NONE, NONE, NONE, NONE, NONE, 0.006, 60 },
  { "x-ratelimit-limit-bananas", "5", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  /* Anthropic */
  { "anthropic-ratelimit-requests-limit", "50", NONE, 50, NONE, NONE, NONE, NONE, NONE, 60 },
  { "anthropic-ratelimit-requests-remaining", "3", NONE, NONE, 3, NONE, NONE, NONE, NONE, 60 },
  { "anthropic-ratelimit-requests-reset", "2026-01-01T00:00:01.5Z", NONE, NONE, NONE, 1.5, NONE, NONE, NONE, 60 },
  { "anthropic-ratelimit-requests-reset", "2026-01-01T01:00:02+01:00", NONE, NONE, NONE, 2, NONE, NONE, NONE, 60 },
  { "anthropic-ratelimit-requests-reset", "2025-12-31T23:59:00Z", NONE, NONE, NONE, 0, NONE, NONE, NONE, 60 },
  { "anthropic-ratelimit-requests-reset", "2026-01-01T00:00:01", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "anthropic-ratelimit-requests-reset", "tomorrow", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "anthropic-ratelimit-requests-reset", "2126-01-01T00:00:00Z", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "anthropic-ratelimit-tokens-limit", "80000", NONE, NONE, NONE, NONE, 80000, NONE, NONE, 60 },
  { "anthropic-ratelimit-input-tokens-limit", "40000", NONE, NONE, NONE, NONE, 40000, NONE, NONE, 60 },
  { "anthropic-ratelimit-input-tokens-remaining", "0", NONE, NONE, NONE, NONE, NONE, 0, NONE, 60 },
  { "anthropic-ratelimit-output-tokens-limit", "8000", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  /* IETF */
  { "RateLimit-Limit", "100", NONE, 100, NONE, NONE, NONE, NONE, NONE, 60 },
  { "RateLimit-Limit", "100, 100;w=10", NONE, 100, NONE, NONE, NONE, NONE, NONE, 60 },
  { "RateLimit-Remaining", "7", NONE, NONE, 7, NONE, NONE, NONE, NONE, 60 },
  { "RateLimit-Reset", "3", NONE, NONE, NONE, 3, NONE, NONE, NONE, 60 },
  { "RateLimit-Reset", "-3", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  { "RateLimit-Policy", "10;w=1", NONE, 10, NONE, NONE, NONE, NONE, NONE, 1 },
  { "RateLimit-Policy", "10;w=1, 1000;w=3600", NONE, 10, NONE, NONE, NONE, NONE, NONE, 1 },
  { "RateLimit-Policy", "\"default\";q=100;w=60", NONE, 100, NONE, NONE, NONE, NONE, NONE, 60 },
  { "RateLimit-Policy", "10;w=0", NONE, 10, NONE, NONE, NONE, NONE, NONE, 60 },
  { "RateLimit-Policy", "10;w=-1", NONE, 10, NONE, NONE, NONE, NONE, NONE, 60 },
  { "RateLimit", "limit=100, remaining=50, reset=5", NONE, 100, 50, 5, NONE, NONE, NONE, 60 },
  { "RateLimit", "\"default\";r=0;t=2", NONE, NONE, 0, 2, NONE, NONE, NONE, 60 },
  { "RateLimit", ";;;,,,==", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
  /* Not rate-limit fields at all */
  { "content-type", "application/json", NONE, NONE, NONE, NONE, NONE, NONE, NONE, 60 },
};

static void
check_double (const char *what, const Case *c, double got, double want)
{
  if (want == NONE)
    {
      if (got != -1)
        g_error ("%s: %s: %s: got %g, want not said", what, c->name, c->value, got);
    }
  else if (fabs (got - want) > 1e-6)
    g_error ("%s: %s: %s: got %g, want %g", what, c->name, c->value, got, want);
}

static void
check_int (const char *what, const Case *c, gint64 got, gint64 want)
{
  if (got != want)
    g_error ("%s: %s: %s: got %" G_GINT64_FORMAT ", want %" G_GINT64_FORMAT,
             what, c->name, c->value, got, want);
}

static void
test_table (void)
{
  g_autoptr(GDateTime) ref = g_date_time_new_from_unix_utc (REF_UNIX);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Case *c = &cases[i];
      g_autoptr(PftHttpRateHeaders) h = pft_http_rate_headers_new ();

      pft_http_rate_headers_set_reference_time (h, ref);
      pft_http_rate_headers_add (h, c->name, c->value);
      check_double ("retry-after", c, pft_http_rate_headers_get_retry_after (h), c->retry_after);
      check_int ("request limit", c, pft_http_rate_headers_get_request_limit (h), c->req_limit);
      check_int ("request remaining", c, pft_http_rate_headers_get_request_remaining (h), c->req_remaining);
      check_double ("request reset", c, pft_http_rate_headers_get_request_reset (h), c->req_reset);
      check_int ("token limit", c, pft_http_rate_headers_get_token_limit (h), c->tok_limit);
      check_int ("token remaining", c, pft_http_rate_headers_get_token_remaining (h), c->tok_remaining);
      check_double ("token reset", c, pft_http_rate_headers_get_token_reset (h), c->tok_reset);
      check_double ("window", c, pft_http_rate_headers_get_window (h), c->window);
    }
}

static void
test_retry_after_ms_preferred (void)
{
  g_autoptr(PftHttpRateHeaders) a = pft_http_rate_headers_new ();
  g_autoptr(PftHttpRateHeaders) b = pft_http_rate_headers_new ();

  /* In either order. */
  pft_http_rate_headers_add (a, "retry-after", "2");
  pft_http_rate_headers_add (a, "retry-after-ms", "1500");
  pft_http_rate_headers_add (b, "retry-after-ms", "1500");
  pft_http_rate_headers_add (b, "retry-after", "2");
  g_assert_cmpfloat_with_epsilon (pft_http_rate_headers_get_retry_after (a), 1.5, 1e-9);
  g_assert_cmpfloat_with_epsilon (pft_http_rate_headers_get_retry_after (b), 1.5, 1e-9);
}

static void
test_provider_wins_over_ietf (void)
{
  g_autoptr(PftHttpRateHeaders) h = pft_http_rate_headers_new ();
  g_autofree char *s = NULL;

  pft_http_rate_headers_add (h, "RateLimit-Limit", "1000");
  pft_http_rate_headers_add (h, "x-ratelimit-limit-requests", "60");
  pft_http_rate_headers_add (h, "anthropic-ratelimit-tokens-limit", "500");
  pft_http_rate_headers_add (h, "anthropic-ratelimit-input-tokens-limit", "400");
  g_assert_cmpint (pft_http_rate_headers_get_request_limit (h), ==, 60);
  g_assert_cmpint (pft_http_rate_headers_get_token_limit (h), ==, 500);
  g_assert_false (pft_http_rate_headers_is_empty (h));
  s = pft_http_rate_headers_to_string (h);
  g_assert_nonnull (strstr (s, "requests limit=60"));
}

static void
test_from_soup (void)
{
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  g_autoptr(PftHttpRateHeaders) h = NULL;

  soup_message_headers_append (headers, "X-RateLimit-Limit-Requests", "500");
  soup_message_headers_append (headers, "x-ratelimit-remaining-requests", "499");
  soup_message_headers_append (headers, "x-ratelimit-reset-requests", "120ms");
  soup_message_headers_append (headers, "Retry-After", "bogus");
  h = pft_http_rate_headers_new_from_soup (headers);
  g_assert_cmpint (pft_http_rate_headers_get_request_limit (h), ==, 500);
  g_assert_cmpint (pft_http_rate_headers_get_request_remaining (h), ==, 499);
  g_assert_cmpfloat_with_epsilon (pft_http_rate_headers_get_request_reset (h), 0.12, 1e-9);
  g_assert_cmpfloat (pft_http_rate_headers_get_retry_after (h), ==, -1);

  {
    g_autoptr(PftHttpRateHeaders) empty = pft_http_rate_headers_new ();
    g_assert_true (pft_http_rate_headers_is_empty (empty));
  }
}

/* Long and odd values must neither crash nor be believed. */
static void
test_garbage (void)
{
  g_autoptr(PftHttpRateHeaders) h = pft_http_rate_headers_new ();
  g_autofree char *longv = g_strnfill (100000, '9');
  static const char *names[] = {
    "retry-after", "retry-after-ms", "x-ratelimit-limit-requests", "x-ratelimit-reset-tokens",
    "anthropic-ratelimit-tokens-reset", "RateLimit", "RateLimit-Policy", "RateLimit-Limit",
  };
  static const char *values[] = {
    "", " ", "\t", "=", ";", ",", "w=", "q=;w=", "x;w=1e999", "\xff\xfe", "1.2.3", "..", ".",
    "-0", "+5", "0x10", "1 s", "1s s", "NaN", "Infinity", "\xc2\xb5s",
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      pft_http_rate_headers_add (h, names[i], longv);
      pft_http_rate_headers_add (h, names[i], NULL);
      for (guint j = 0; j < G_N_ELEMENTS (values); j++)
        pft_http_rate_headers_add (h, names[i], values[j]);
    }
  g_assert_cmpfloat (pft_http_rate_headers_get_retry_after (h), ==, -1);
  g_assert_cmpint (pft_http_rate_headers_get_request_limit (h), ==, -1);
  g_assert_cmpfloat (pft_http_rate_headers_get_token_reset (h), ==, -1);
  g_assert_cmpfloat (pft_http_rate_headers_get_window (h), ==, 60);
}

/* ------------------------------------------------------------------ */
/* Acting on a limiter                                                  */

static PftHttpRateHeaders *
headers_of (const char *first_name, ...)
{
  PftHttpRateHeaders *h = pft_http_rate_headers_new ();
  const char *name = first_name;
  va_list ap;

  va_start (ap, first_name);
  while (name != NULL)
    {
      pft_http_rate_headers_add (h, name, va_arg (ap, const char *));
      name = va_arg (ap, const char *);
    }
  va_end (ap);
  return h;
}

static void
test_apply_lowers_never_raises_above_configured (void)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (4, 120, 60.0);
  g_autoptr(PftHttpRateHeaders) lower = headers_of ("x-ratelimit-limit-requests", "60", NULL);
  g_autoptr(PftHttpRateHeaders) higher = headers_of ("x-ratelimit-limit-requests", "500", NULL);
  g_autoptr(PftHttpRateHeaders) middle = headers_of ("x-ratelimit-limit-requests", "90", NULL);

  /* The limiter counts the provider's window (60 s): widened by the
   * arrival margin the first time. */
  g_assert_cmpint (pft_http_rate_headers_apply (lower, limiter), ==,
                   PFT_HTTP_RATE_ACTION_LOWERED_REQUESTS | PFT_HTTP_RATE_ACTION_WIDENED_WINDOW);
  g_assert_cmpfloat_with_epsilon (pft_rate_limiter_get_window (limiter), 60 + PFT_HTTP_RATE_HEADERS_ARRIVAL_MARGIN, 1e-9);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (limiter), ==, 60);
  g_assert_cmpuint (pft_http_rate_headers_get_configured_max_per_window (limiter), ==, 120);

  /* Back up towards, never above, the configured 120. */
  g_assert_cmpint (pft_http_rate_headers_apply (higher, limiter), ==, PFT_HTTP_RATE_ACTION_RAISED_REQUESTS);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (limiter), ==, 120);
  g_assert_cmpint (pft_http_rate_headers_apply (higher, limiter), ==, PFT_HTTP_RATE_ACTION_NONE);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (limiter), ==, 120);
  pft_http_rate_headers_apply (middle, limiter);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (limiter), ==, 90);

  /* The user sets a new limit: that is the new ceiling. */
  pft_rate_limiter_set_max_per_window (limiter, 70);
  g_assert_cmpuint (pft_http_rate_headers_get_configured_max_per_window (limiter), ==, 70);
  pft_http_rate_headers_apply (higher, limiter);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (limiter), ==, 70);
}

static void
test_apply_converts_windows (void)
{
  /* 60 per minute (assumed) on a 1 s limiter is 1 per second; a stated
   * window of 1 s on a 10 s limiter is 10x the limit. */
  g_autoptr(PftRateLimiter) per_second = pft_rate_limiter_new (4, 0, 1.0);
  g_autoptr(PftRateLimiter) per_10s = pft_rate_limiter_new (4, 1000, 10.0);
  g_autoptr(PftHttpRateHeaders) rpm = headers_of ("x-ratelimit-limit-requests", "120", NULL);
  g_autoptr(PftHttpRateHeaders) per_1s = headers_of ("RateLimit-Policy", "7;w=1", NULL);
  g_autoptr(PftHttpRateHeaders) tiny = headers_of ("x-ratelimit-limit-requests", "1", NULL);

  /* Unlimited (0) takes the provider's. */
  g_assert_cmpint (pft_http_rate_headers_apply (rpm, per_second), ==, PFT_HTTP_RATE_ACTION_LOWERED_REQUESTS);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (per_second), ==, 2);
  pft_http_rate_headers_apply (per_1s, per_10s);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (per_10s), ==, 70);
  /* Never rounded down to 0 (which would mean "no limit"). */
  pft_http_rate_headers_apply (tiny, per_second);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (per_second), ==, 1);

  {
    g_autoptr(PftHttpRateHeaders) h = headers_of ("x-ratelimit-limit-requests", "600", NULL);
    pft_http_rate_headers_set_default_window (h, 10);
    g_assert_cmpfloat (pft_http_rate_headers_get_window (h), ==, 10);
    g_assert_false (pft_http_rate_headers_get_window_stated (h));
  }
}

static void
test_apply_arrival_margin (void)
{
  g_autoptr(PftRateLimiter) same = pft_rate_limiter_new (4, 60, 1.0);
  g_autoptr(PftRateLimiter) longer = pft_rate_limiter_new (4, 60, 2.0);
  g_autoptr(PftHttpRateHeaders) h = headers_of ("RateLimit-Policy", "60;w=1",
                                                "RateLimit-Remaining", "30", NULL);

  /* Same window as the provider: widened, and the limit is the provider's
   * count, not 60 x 1.05. */
  g_assert_cmpint (pft_http_rate_headers_apply (h, same), ==, PFT_HTTP_RATE_ACTION_WIDENED_WINDOW);
  g_assert_cmpfloat_with_epsilon (pft_rate_limiter_get_window (same), 1.05, 1e-9);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (same), ==, 60);
  g_assert_cmpint (pft_http_rate_headers_apply (h, same), ==, PFT_HTTP_RATE_ACTION_NONE);
  g_assert_cmpfloat_with_epsilon (pft_rate_limiter_get_window (same), 1.05, 1e-9);
  /* A window of its own is left alone. */
  g_assert_cmpint (pft_http_rate_headers_apply (h, longer), ==, PFT_HTTP_RATE_ACTION_NONE);
  g_assert_cmpfloat (pft_rate_limiter_get_window (longer), ==, 2.0);

  /* The margin is a setting; 0 turns the widening off. */
  {
    g_autoptr(PftRateLimiter) a = pft_rate_limiter_new (4, 60, 1.0);
    g_autoptr(PftRateLimiter) b = pft_rate_limiter_new (4, 60, 1.0);

    pft_http_rate_headers_set_arrival_margin (h, 0);
    g_assert_cmpint (pft_http_rate_headers_apply (h, a), ==, PFT_HTTP_RATE_ACTION_NONE);
    g_assert_cmpfloat (pft_rate_limiter_get_window (a), ==, 1.0);
    pft_http_rate_headers_set_arrival_margin (h, 0.1);
    g_assert_cmpfloat (pft_http_rate_headers_get_arrival_margin (h), ==, 0.1);
    g_assert_cmpint (pft_http_rate_headers_apply (h, b), ==, PFT_HTTP_RATE_ACTION_WIDENED_WINDOW);
    g_assert_cmpfloat_with_epsilon (pft_rate_limiter_get_window (b), 1.1, 1e-9);
    g_assert_cmpuint (pft_rate_limiter_get_max_per_window (b), ==, 60);
  }
}

static void
test_apply_tokens (void)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (4, 0, 60.0);
  g_autoptr(PftHttpRateHeaders) h = headers_of ("x-ratelimit-limit-tokens", "40000",
                                                "x-ratelimit-remaining-tokens", "39000", NULL);

  pft_rate_limiter_set_max_cost_per_window (limiter, 100000);
  g_assert_cmpint (pft_http_rate_headers_apply (h, limiter), ==, PFT_HTTP_RATE_ACTION_LOWERED_TOKENS);
  g_assert_cmpuint (pft_rate_limiter_get_max_cost_per_window (limiter), ==, 40000);
  g_assert_cmpuint (pft_http_rate_headers_get_configured_max_cost_per_window (limiter), ==, 100000);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (limiter), ==, 0);
}

static void
test_apply_pauses (void)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (4, 0, 60.0);
  g_autoptr(PftHttpRateHeaders) exhausted = headers_of ("x-ratelimit-remaining-requests", "0",
                                                        "x-ratelimit-reset-requests", "30s", NULL);
  g_autoptr(PftHttpRateHeaders) left = headers_of ("x-ratelimit-remaining-requests", "1",
                                                   "x-ratelimit-reset-requests", "90s", NULL);
  g_autoptr(PftHttpRateHeaders) retry = headers_of ("retry-after", "45", NULL);
  g_autoptr(PftPermit) permit = NULL;
  g_autoptr(GError) error = NULL;

  /* Remaining 1: no pause. */
  g_assert_cmpint (pft_http_rate_headers_apply (left, limiter), ==, PFT_HTTP_RATE_ACTION_NONE);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), ==, 0);

  g_assert_cmpint (pft_http_rate_headers_apply (exhausted, limiter), ==, PFT_HTTP_RATE_ACTION_PAUSED);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), >, 29);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), <=, 30);
  /* The next call waits instead of being sent to a 429. */
  permit = pft_rate_limiter_try_acquire (limiter, 0, &error);
  g_assert_no_error (error);
  g_assert_null (permit);

  g_assert_cmpint (pft_http_rate_headers_apply (retry, limiter), ==, PFT_HTTP_RATE_ACTION_PAUSED);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), >, 44);
  /* A shorter wait does not shorten the pause. */
  g_assert_cmpint (pft_http_rate_headers_apply (exhausted, limiter), ==, PFT_HTTP_RATE_ACTION_NONE);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), >, 44);
}

/* A limiter whose own window is full holds the next call anyway: no
 * pause (which would make the next call go alone, as a probe). */
static void
test_apply_no_pause_when_full (void)
{
  g_autoptr(PftRateLimiter) full = pft_rate_limiter_new (4, 2, 60.0);
  g_autoptr(PftHttpRateHeaders) exhausted = headers_of ("x-ratelimit-remaining-requests", "0",
                                                        "x-ratelimit-reset-requests", "30s", NULL);
  g_autoptr(PftPermit) p1 = pft_rate_limiter_try_acquire (full, 0, NULL);
  g_autoptr(PftPermit) p2 = pft_rate_limiter_try_acquire (full, 0, NULL);

  g_assert_nonnull (p1);
  g_assert_nonnull (p2);
  g_assert_cmpint (pft_http_rate_headers_apply (exhausted, full), ==, PFT_HTTP_RATE_ACTION_NONE);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (full), ==, 0);
}

static void
test_go_duration (void)
{
  double v = -1;

  g_assert_true (_pft_http_parse_go_duration ("2h", &v));
  g_assert_cmpfloat (v, ==, 7200);
  g_assert_true (_pft_http_parse_go_duration ("1m30s", &v));
  g_assert_cmpfloat (v, ==, 90);
  g_assert_true (_pft_http_parse_go_duration ("100ns", &v));
  g_assert_cmpfloat_with_epsilon (v, 1e-7, 1e-12);
  g_assert_true (_pft_http_parse_go_duration ("1\xc2\xb5s", &v));
  g_assert_cmpfloat_with_epsilon (v, 1e-6, 1e-12);
  g_assert_false (_pft_http_parse_go_duration ("1d", &v));
  g_assert_false (_pft_http_parse_go_duration ("", &v));
  g_assert_false (_pft_http_parse_go_duration (NULL, &v));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft-http/rate-headers/table", test_table);
  g_test_add_func ("/pft-http/rate-headers/retry-after-ms-preferred", test_retry_after_ms_preferred);
  g_test_add_func ("/pft-http/rate-headers/provider-wins-over-ietf", test_provider_wins_over_ietf);
  g_test_add_func ("/pft-http/rate-headers/from-soup", test_from_soup);
  g_test_add_func ("/pft-http/rate-headers/garbage", test_garbage);
  g_test_add_func ("/pft-http/rate-headers/go-duration", test_go_duration);
  g_test_add_func ("/pft-http/rate-headers/apply/calibrate", test_apply_lowers_never_raises_above_configured);
  g_test_add_func ("/pft-http/rate-headers/apply/windows", test_apply_converts_windows);
  g_test_add_func ("/pft-http/rate-headers/apply/tokens", test_apply_tokens);
  g_test_add_func ("/pft-http/rate-headers/apply/arrival-margin", test_apply_arrival_margin);
  g_test_add_func ("/pft-http/rate-headers/apply/pauses", test_apply_pauses);
  g_test_add_func ("/pft-http/rate-headers/apply/no-pause-when-full", test_apply_no_pause_when_full);

  return g_test_run ();
}
