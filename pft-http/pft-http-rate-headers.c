/* pft-http-rate-headers.c: parse a provider's rate-limit headers and act
 * on a PftRateLimiter
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <string.h>

#include "pft-http.h"
#include "pft-http-private.h"

/**
 * PftHttpRateHeaders:
 *
 * What a provider's rate-limit response headers say, parsed without
 * trusting them: a value that is missing, malformed, negative, larger than
 * the counters can hold, or (for waits) longer than
 * [const@PftHttp.RATE_HEADERS_MAX_WAIT] is ignored as if absent.
 *
 * Understood fields (names are case-insensitive):
 *
 * - `retry-after-ms` (milliseconds, preferred) and `retry-after` (seconds or
 *   an HTTP-date);
 * - OpenAI: `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`,
 *   `x-ratelimit-reset-requests` and the same with `-tokens`; resets are Go
 *   durations (`1s`, `6m0s`, `20ms`, `1h2m3.5s`);
 * - Anthropic: `anthropic-ratelimit-requests-limit|remaining|reset`, the
 *   same for `tokens`, `input-tokens` and `output-tokens`; resets are RFC
 *   3339 times. `tokens` wins over `input-tokens` for the token figures;
 * - IETF: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
 *   (delta seconds), the combined `RateLimit` field (`limit=, remaining=,
 *   reset=` or `r=;t=`) and `RateLimit-Policy` (`100;w=60` or `q=100;w=60`),
 *   read as request limits; the provider-specific fields win when both come.
 *
 * Times given as dates (HTTP-date, RFC 3339) are measured from the
 * reference time, the local real-time clock when the object was made
 * (see [method@PftHttp.RateHeaders.set_reference_time]).
 *
 * Limits count over [method@PftHttp.RateHeaders.get_window] seconds: the
 * `w=` of a `RateLimit-Policy` when the provider states it, otherwise the
 * default window, 60 s ([const@PftHttp.RATE_HEADERS_DEFAULT_WINDOW]):
 * OpenAI and Anthropic publish per-minute limits and their headers do not
 * say so. Set another default with
 * [method@PftHttp.RateHeaders.set_default_window] for a provider that
 * counts per second.
 *
 * [method@PftHttp.RateHeaders.apply] then acts on a [class@Pft.RateLimiter]:
 * this is usable alone, by code that keeps its own libsoup calls.
 *
 * Since: 0.1
 */

/* One family of fields: what one provider style said about requests or
 * tokens. -1 = not said. */
typedef struct
{
  gint64 limit;
  gint64 remaining;
  double reset;     /* seconds from the reference time */
} Quota;

typedef enum
{
  SRC_OPENAI,
  SRC_ANTHROPIC,
  SRC_ANTHROPIC_INPUT,   /* tokens only */
  SRC_IETF,              /* requests only */
  N_SRC
} Source;

struct _PftHttpRateHeaders
{
  GObject  parent_instance;

  gint64   now_us;           /* reference time, real clock, microseconds */
  double   retry_after_ms;   /* -1 = not said (seconds, from retry-after-ms) */
  double   retry_after;      /* -1 = not said (seconds, from retry-after) */
  Quota    requests[N_SRC];
  Quota    tokens[N_SRC];
  double   window;           /* stated by the provider, or -1 */
  double   default_window;
  double   arrival_margin;
  guint    n_understood;
};

G_DEFINE_FINAL_TYPE (PftHttpRateHeaders, pft_http_rate_headers, G_TYPE_OBJECT)

/* Header values longer than this are not rate-limit fields: ignore them
 * rather than parse kilobytes of garbage. */
#define MAX_VALUE_LEN 256

static void
pft_http_rate_headers_class_init (PftHttpRateHeadersClass *klass)
{
}

static void
quota_clear (Quota *q)
{
  q->limit = -1;
  q->remaining = -1;
  q->reset = -1;
}

static void
pft_http_rate_headers_init (PftHttpRateHeaders *self)
{
  self->now_us = g_get_real_time ();
  self->retry_after = -1;
  self->retry_after_ms = -1;
  self->window = -1;
  self->default_window = PFT_HTTP_RATE_HEADERS_DEFAULT_WINDOW;
  self->arrival_margin = PFT_HTTP_RATE_HEADERS_ARRIVAL_MARGIN;
  for (guint i = 0; i < N_SRC; i++)
    {
      quota_clear (&self->requests[i]);
      quota_clear (&self->tokens[i]);
    }
}

/**
 * pft_http_rate_headers_new:
 *
 * Makes an empty parse, to be fed with [method@PftHttp.RateHeaders.add]
 * (one header at a time, for tests and bindings) or
 * [method@PftHttp.RateHeaders.add_soup].
 *
 * Returns: (transfer full): a new #PftHttpRateHeaders
 *
 * Since: 0.1
 */
PftHttpRateHeaders *
pft_http_rate_headers_new (void)
{
  return g_object_new (PFT_HTTP_TYPE_RATE_HEADERS, NULL);
}

/**
 * pft_http_rate_headers_new_from_soup:
 * @headers: the response headers of a #SoupMessage
 *
 * Parses the rate-limit fields of @headers.
 *
 * Returns: (transfer full): a new #PftHttpRateHeaders
 *
 * Since: 0.1
 */
PftHttpRateHeaders *
pft_http_rate_headers_new_from_soup (SoupMessageHeaders *headers)
{
  PftHttpRateHeaders *self = pft_http_rate_headers_new ();

  g_return_val_if_fail (headers != NULL, self);
  pft_http_rate_headers_add_soup (self, headers);
  return self;
}

/* ------------------------------------------------------------------ */
/* Value parsers: each returns FALSE on anything it does not fully      */
/* understand.                                                          */

static char *
pft_http_rate_headers_strip (const char *value)
{
  if (value == NULL || strlen (value) > MAX_VALUE_LEN)
    return NULL;
  return g_strstrip (g_strdup (value));
}

static gboolean
pft_http_rate_headers_parse_count (const char *text,
                                   gint64     *out)
{
  g_autofree char *s = pft_http_rate_headers_strip (text);
  guint64 v;

  /* A count the limiter can hold (guint); "-1", "1e3", "12abc" are not. */
  if (s == NULL || *s == '\0' || !g_ascii_isdigit (*s) ||
      !g_ascii_string_to_unsigned (s, 10, 0, G_MAXUINT32, &v, NULL))
    return FALSE;
  *out = (gint64) v;
  return TRUE;
}

/* Digits with an optional fraction ("3", "3.5", ".5"); no sign, no
 * exponent, no "inf"/"nan" (which g_ascii_strtod would take). */
static gboolean
pft_http_rate_headers_parse_decimal (const char **p,
                                     double      *out)
{
  const char *s = *p;
  double v = 0, scale = 0.1;
  gboolean any = FALSE;

  while (g_ascii_isdigit (*s))
    {
      v = v * 10 + (*s - '0');
      any = TRUE;
      s++;
      if (v > 1e15)
        return FALSE;
    }
  if (*s == '.')
    {
      s++;
      while (g_ascii_isdigit (*s))
        {
          v += (*s - '0') * scale;
          scale /= 10;
          any = TRUE;
          s++;
        }
    }
  if (!any)
    return FALSE;
  *p = s;
  *out = v;
  return TRUE;
}

static gboolean
pft_http_rate_headers_wait_ok (double seconds)
{
  return isfinite (seconds) && seconds >= 0 && seconds <= PFT_HTTP_RATE_HEADERS_MAX_WAIT;
}

/* Seconds as a plain decimal ("30", "0.5"). */
static gboolean
pft_http_rate_headers_parse_seconds (const char *text,
                                     double     *out)
{
  g_autofree char *s = pft_http_rate_headers_strip (text);
  const char *p = s;
  double v;

  if (s == NULL || !pft_http_rate_headers_parse_decimal (&p, &v) || *p != '\0' ||
      !pft_http_rate_headers_wait_ok (v))
    return FALSE;
  *out = v;
  return TRUE;
}

/**
 * _pft_http_parse_go_duration:
 *
 * A Go `time.Duration` string as OpenAI sends it ("1s", "6m0s", "20ms",
 * "1h2m3.5s", "500us"), or a bare number of seconds. Negative, unknown
 * units and durations above the maximum wait are refused.
 */
gboolean
_pft_http_parse_go_duration (const char *text,
                             double     *out)
{
  static const struct { const char *unit; double seconds; } units[] = {
    /* Longest first, so "ms" is not read as "m" then garbage. */
    { "ns", 1e-9 }, { "us", 1e-6 }, { "\xc2\xb5s", 1e-6 }, { "\xce\xbcs", 1e-6 },
    { "ms", 1e-3 }, { "h", 3600 }, { "m", 60 }, { "s", 1 },
  };
  g_autofree char *s = pft_http_rate_headers_strip (text);
  const char *p = s;
  double total = 0;
  double v;

  if (s == NULL || *s == '\0')
    return FALSE;
  if (strcmp (s, "0") == 0)
    {
      *out = 0;
      return TRUE;
    }
  if (!pft_http_rate_headers_parse_decimal (&p, &v))
    return FALSE;
  if (*p == '\0')
    {
      /* A bare number: seconds, as some compatible servers send. */
      if (!pft_http_rate_headers_wait_ok (v))
        return FALSE;
      *out = v;
      return TRUE;
    }
  for (;;)
    {
      gboolean matched = FALSE;

      for (guint i = 0; i < G_N_ELEMENTS (units); i++)
        {
          gsize len = strlen (units[i].unit);
          if (strncmp (p, units[i].unit, len) == 0)
            {
              total += v * units[i].seconds;
              p += len;
              matched = TRUE;
              break;
            }
        }
      if (!matched || !pft_http_rate_headers_wait_ok (total))
        return FALSE;
      if (*p == '\0')
        break;
      if (!pft_http_rate_headers_parse_decimal (&p, &v))
        return FALSE;
    }
  *out = total;
  return TRUE;
}

static gboolean
pft_http_rate_headers_seconds_until (PftHttpRateHeaders *self,
                                     GDateTime          *when,
                                     double             *out)
{
  double delta;

  if (when == NULL)
    return FALSE;
  delta = (double) (g_date_time_to_unix (when) - self->now_us / G_USEC_PER_SEC)
          + (g_date_time_get_microsecond (when) - self->now_us % G_USEC_PER_SEC) / 1e6;
  g_date_time_unref (when);
  /* A date in the past means "now": the wait is over. */
  delta = MAX (delta, 0);
  if (!pft_http_rate_headers_wait_ok (delta))
    return FALSE;
  *out = delta;
  return TRUE;
}

static gboolean
pft_http_rate_headers_parse_rfc3339 (PftHttpRateHeaders *self,
                                     const char         *text,
                                     double             *out)
{
  g_autofree char *s = pft_http_rate_headers_strip (text);

  /* RFC 3339 always has a zone; a time without one is not ours to guess. */
  if (s == NULL || *s == '\0')
    return FALSE;
  return pft_http_rate_headers_seconds_until (self, g_date_time_new_from_iso8601 (s, NULL), out);
}

static gboolean
pft_http_rate_headers_parse_retry_after (PftHttpRateHeaders *self,
                                         const char         *text,
                                         double             *out)
{
  g_autofree char *s = pft_http_rate_headers_strip (text);

  if (s == NULL || *s == '\0')
    return FALSE;
  if (g_ascii_isdigit (*s) || *s == '.')
    return pft_http_rate_headers_parse_seconds (s, out);
  if (*s == '-' || *s == '+')
    return FALSE;
  return pft_http_rate_headers_seconds_until (self, soup_date_time_new_from_http_string (s), out);
}

/* IETF fields: a structured list or dictionary. Reads the first element
 * ("100;w=60", "\"default\";q=100;w=60") or, in the draft-7 dictionary
 * style, every member ("limit=100, remaining=50, reset=5"). */
static void
pft_http_rate_headers_parse_ietf_params (PftHttpRateHeaders *self,
                                         const char         *text,
                                         gboolean            bare_is_limit)
{
  g_autofree char *s = pft_http_rate_headers_strip (text);
  g_auto(GStrv) members = NULL;
  Quota *q = &self->requests[SRC_IETF];
  gboolean dictionary;

  if (s == NULL)
    return;
  dictionary = strstr (s, "limit=") != NULL || strstr (s, "remaining=") != NULL ||
               strstr (s, "reset=") != NULL;
  if (!dictionary)
    {
      /* Only the first policy of a list: the others are longer windows a
       * request limiter with one window cannot follow at the same time. */
      char *comma = strchr (s, ',');
      if (comma != NULL)
        *comma = '\0';
    }
  members = g_strsplit_set (s, dictionary ? ",;" : ";", -1);
  for (guint i = 0; members[i] != NULL; i++)
    {
      char *m = g_strstrip (members[i]);
      char *eq = strchr (m, '=');
      gint64 count;
      double seconds;

      if (eq == NULL)
        {
          if (i == 0 && bare_is_limit && pft_http_rate_headers_parse_count (m, &count))
            q->limit = count;
          continue;
        }
      *eq = '\0';
      g_strstrip (m);
      if (g_ascii_strcasecmp (m, "limit") == 0 || strcmp (m, "q") == 0)
        {
          if (pft_http_rate_headers_parse_count (eq + 1, &count))
            q->limit = count;
        }
      else if (g_ascii_strcasecmp (m, "remaining") == 0 || strcmp (m, "r") == 0)
        {
          if (pft_http_rate_headers_parse_count (eq + 1, &count))
            q->remaining = count;
        }
      else if (g_ascii_strcasecmp (m, "reset") == 0 || strcmp (m, "t") == 0)
        {
          if (pft_http_rate_headers_parse_seconds (eq + 1, &seconds))
            q->reset = seconds;
        }
      else if (strcmp (m, "w") == 0)
        {
          if (pft_http_rate_headers_parse_seconds (eq + 1, &seconds) && seconds > 0)
            self->window = seconds;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Field names                                                          */

typedef enum { F_LIMIT, F_REMAINING, F_RESET } Field;

static gboolean
pft_http_rate_headers_field (const char *rest,
                             Field      *field)
{
  if (g_ascii_strcasecmp (rest, "limit") == 0)
    *field = F_LIMIT;
  else if (g_ascii_strcasecmp (rest, "remaining") == 0)
    *field = F_REMAINING;
  else if (g_ascii_strcasecmp (rest, "reset") == 0)
    *field = F_RESET;
  else
    return FALSE;
  return TRUE;
}

static gboolean
pft_http_rate_headers_set_field (PftHttpRateHeaders *self,
                                 Quota              *q,
                                 Field               field,
                                 const char         *value,
                                 gboolean            rfc3339)
{
  gint64 count;
  double seconds;

  switch (field)
    {
    case F_LIMIT:
      if (!pft_http_rate_headers_parse_count (value, &count))
        return FALSE;
      q->limit = count;
      return TRUE;
    case F_REMAINING:
      if (!pft_http_rate_headers_parse_count (value, &count))
        return FALSE;
      q->remaining = count;
      return TRUE;
    case F_RESET:
      if (rfc3339 ? !pft_http_rate_headers_parse_rfc3339 (self, value, &seconds)
                  : !_pft_http_parse_go_duration (value, &seconds))
        return FALSE;
      q->reset = seconds;
      return TRUE;
    default:
      g_assert_not_reached ();
    }
}

static gboolean
has_prefix_ci (const char  *name,
               const char  *prefix,
               const char **rest)
{
  gsize len = strlen (prefix);

  if (g_ascii_strncasecmp (name, prefix, len) != 0)
    return FALSE;
  *rest = name + len;
  return TRUE;
}

/**
 * pft_http_rate_headers_add:
 * @self: a #PftHttpRateHeaders
 * @name: a header name (any case)
 * @value: its value
 *
 * Reads one response header. Fields that are not rate-limit fields, and
 * values that do not parse, are ignored. When a field comes twice, the
 * last good value wins.
 *
 * Since: 0.1
 */
void
pft_http_rate_headers_add (PftHttpRateHeaders *self,
                           const char         *name,
                           const char         *value)
{
  const char *rest;
  double seconds;
  gboolean understood = FALSE;
  Field field;

  g_return_if_fail (PFT_HTTP_IS_RATE_HEADERS (self));
  g_return_if_fail (name != NULL);

  if (value == NULL)
    return;

  if (g_ascii_strcasecmp (name, "retry-after-ms") == 0)
    {
      g_autofree char *s = pft_http_rate_headers_strip (value);
      const char *p = s;
      double ms;

      if (s != NULL && pft_http_rate_headers_parse_decimal (&p, &ms) && *p == '\0' &&
          pft_http_rate_headers_wait_ok (ms / 1000.0))
        {
          self->retry_after_ms = ms / 1000.0;
          understood = TRUE;
        }
    }
  else if (g_ascii_strcasecmp (name, "retry-after") == 0)
    {
      if (pft_http_rate_headers_parse_retry_after (self, value, &seconds))
        {
          self->retry_after = seconds;
          understood = TRUE;
        }
    }
  else if (has_prefix_ci (name, "x-ratelimit-", &rest))
    {
      /* x-ratelimit-{limit,remaining,reset}-{requests,tokens} */
      const char *dash = strrchr (rest, '-');

      if (dash != NULL)
        {
          g_autofree char *what = g_strndup (rest, dash - rest);
          Quota *q = NULL;

          if (g_ascii_strcasecmp (dash + 1, "requests") == 0)
            q = &self->requests[SRC_OPENAI];
          else if (g_ascii_strcasecmp (dash + 1, "tokens") == 0)
            q = &self->tokens[SRC_OPENAI];
          if (q != NULL && pft_http_rate_headers_field (what, &field))
            understood = pft_http_rate_headers_set_field (self, q, field, value, FALSE);
        }
    }
  else if (has_prefix_ci (name, "anthropic-ratelimit-", &rest))
    {
      const char *field_name;
      Quota *q = NULL;

      if (has_prefix_ci (rest, "requests-", &field_name))
        q = &self->requests[SRC_ANTHROPIC];
      else if (has_prefix_ci (rest, "tokens-", &field_name))
        q = &self->tokens[SRC_ANTHROPIC];
      else if (has_prefix_ci (rest, "input-tokens-", &field_name))
        q = &self->tokens[SRC_ANTHROPIC_INPUT];
      /* output-tokens: what the answers may use; the cost window charges
       * input and output together, so "tokens" or "input-tokens" bind. */
      if (q != NULL && pft_http_rate_headers_field (field_name, &field))
        understood = pft_http_rate_headers_set_field (self, q, field, value, TRUE);
    }
  else if (g_ascii_strcasecmp (name, "ratelimit-limit") == 0)
    {
      pft_http_rate_headers_parse_ietf_params (self, value, TRUE);
      understood = TRUE;
    }
  else if (g_ascii_strcasecmp (name, "ratelimit-remaining") == 0)
    understood = pft_http_rate_headers_set_field (self, &self->requests[SRC_IETF], F_REMAINING, value, FALSE);
  else if (g_ascii_strcasecmp (name, "ratelimit-reset") == 0)
    {
      if (pft_http_rate_headers_parse_seconds (value, &seconds))
        {
          self->requests[SRC_IETF].reset = seconds;
          understood = TRUE;
        }
    }
  else if (g_ascii_strcasecmp (name, "ratelimit") == 0)
    {
      pft_http_rate_headers_parse_ietf_params (self, value, FALSE);
      understood = TRUE;
    }
  else if (g_ascii_strcasecmp (name, "ratelimit-policy") == 0)
    {
      pft_http_rate_headers_parse_ietf_params (self, value, TRUE);
      understood = TRUE;
    }

  if (understood)
    self->n_understood++;
}

static void
pft_http_rate_headers_add_one (const char *name,
                               const char *value,
                               gpointer    user_data)
{
  pft_http_rate_headers_add (user_data, name, value);
}

/**
 * pft_http_rate_headers_add_soup:
 * @self: a #PftHttpRateHeaders
 * @headers: the response headers of a #SoupMessage
 *
 * Reads every rate-limit field of @headers.
 *
 * Since: 0.1
 */
void
pft_http_rate_headers_add_soup (PftHttpRateHeaders *self,
                                SoupMessageHeaders *headers)
{
  g_return_if_fail (PFT_HTTP_IS_RATE_HEADERS (self));
  g_return_if_fail (headers != NULL);

  soup_message_headers_foreach (headers, pft_http_rate_headers_add_one, self);
}

/**
 * pft_http_rate_headers_set_reference_time:
 * @self: a #PftHttpRateHeaders
 * @now: the time dates are measured from
 *
 * Sets "now" for fields given as dates (HTTP-date retry-after, Anthropic's
 * RFC 3339 resets) that are added after this call. The default is the
 * real-time clock when @self was made. Tests use it to get exact figures.
 *
 * Since: 0.1
 */
void
pft_http_rate_headers_set_reference_time (PftHttpRateHeaders *self,
                                          GDateTime          *now)
{
  g_return_if_fail (PFT_HTTP_IS_RATE_HEADERS (self));
  g_return_if_fail (now != NULL);

  self->now_us = g_date_time_to_unix (now) * G_USEC_PER_SEC + g_date_time_get_microsecond (now);
}

/* ------------------------------------------------------------------ */
/* Getters                                                              */

/* The first source (in provider-specific-first order) that said it. */
static gint64
pick_count (const Quota *qs,
            gsize        offset)
{
  for (guint i = 0; i < N_SRC; i++)
    {
      gint64 v = G_STRUCT_MEMBER (gint64, &qs[i], offset);
      if (v >= 0)
        return v;
    }
  return -1;
}

static double
pick_reset (const Quota *qs)
{
  for (guint i = 0; i < N_SRC; i++)
    if (qs[i].reset >= 0)
      return qs[i].reset;
  return -1;
}

/**
 * pft_http_rate_headers_is_empty:
 * @self: a #PftHttpRateHeaders
 *
 * Tells whether the headers said anything about rate limits; applying
 * empty headers changes nothing.
 *
 * Returns: %TRUE if no rate-limit field was understood
 *
 * Since: 0.1
 */
gboolean
pft_http_rate_headers_is_empty (PftHttpRateHeaders *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), TRUE);
  return self->n_understood == 0;
}

/**
 * pft_http_rate_headers_get_retry_after:
 * @self: a #PftHttpRateHeaders
 *
 * How long the provider asked to wait: `retry-after-ms` when it came
 * (it is more precise), else `retry-after`.
 *
 * Returns: seconds, or -1 when the provider said nothing usable
 *
 * Since: 0.1
 */
double
pft_http_rate_headers_get_retry_after (PftHttpRateHeaders *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), -1);
  return self->retry_after_ms >= 0 ? self->retry_after_ms : self->retry_after;
}

/**
 * pft_http_rate_headers_get_request_limit:
 * @self: a #PftHttpRateHeaders
 *
 * Gets the request limit the headers announce.
 *
 * Returns: the requests allowed per window
 *   ([method@PftHttp.RateHeaders.get_window]), or -1 if not said
 *
 * Since: 0.1
 */
gint64
pft_http_rate_headers_get_request_limit (PftHttpRateHeaders *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), -1);
  return pick_count (self->requests, G_STRUCT_OFFSET (Quota, limit));
}

/**
 * pft_http_rate_headers_get_request_remaining:
 * @self: a #PftHttpRateHeaders
 *
 * Gets the requests the headers say are left.
 *
 * Returns: the requests left in the current window, or -1 if not said
 *
 * Since: 0.1
 */
gint64
pft_http_rate_headers_get_request_remaining (PftHttpRateHeaders *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), -1);
  return pick_count (self->requests, G_STRUCT_OFFSET (Quota, remaining));
}

/**
 * pft_http_rate_headers_get_request_reset:
 * @self: a #PftHttpRateHeaders
 *
 * Gets when the headers say the request quota is replenished.
 *
 * Returns: seconds until the request quota is replenished, or -1 if not said
 *
 * Since: 0.1
 */
double
pft_http_rate_headers_get_request_reset (PftHttpRateHeaders *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), -1);
  return pick_reset (self->requests);
}

/**
 * pft_http_rate_headers_get_token_limit:
 * @self: a #PftHttpRateHeaders
 *
 * Gets the token limit the headers announce.
 *
 * Returns: the tokens allowed per window, or -1 if not said
 *
 * Since: 0.1
 */
gint64
pft_http_rate_headers_get_token_limit (PftHttpRateHeaders *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), -1);
  return pick_count (self->tokens, G_STRUCT_OFFSET (Quota, limit));
}

/**
 * pft_http_rate_headers_get_token_remaining:
 * @self: a #PftHttpRateHeaders
 *
 * Gets the tokens the headers say are left.
 *
 * Returns: the tokens left in the current window, or -1 if not said
 *
 * Since: 0.1
 */
gint64
pft_http_rate_headers_get_token_remaining (PftHttpRateHeaders *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), -1);
  return pick_count (self->tokens, G_STRUCT_OFFSET (Quota, remaining));
}

/**
 * pft_http_rate_headers_get_token_reset:
 * @self: a #PftHttpRateHeaders
 *
 * Gets when the headers say the token quota is replenished.
 *
 * Returns: seconds until the token quota is replenished, or -1 if not said
 *
 * Since: 0.1
 */
double
pft_http_rate_headers_get_token_reset (PftHttpRateHeaders *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), -1);
  return pick_reset (self->tokens);
}

/**
 * pft_http_rate_headers_get_window:
 * @self: a #PftHttpRateHeaders
 *
 * The window the limits count over: the `w=` of `RateLimit-Policy` when
 * the provider stated one, otherwise the default window (60 s unless
 * [method@PftHttp.RateHeaders.set_default_window] changed it).
 *
 * Returns: the window in seconds
 *
 * Since: 0.1
 */
double
pft_http_rate_headers_get_window (PftHttpRateHeaders *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), PFT_HTTP_RATE_HEADERS_DEFAULT_WINDOW);
  return self->window > 0 ? self->window : self->default_window;
}

/**
 * pft_http_rate_headers_get_window_stated:
 * @self: a #PftHttpRateHeaders
 *
 * Tells whether [method@PftHttp.RateHeaders.get_window] is the provider's
 * own or the assumed default.
 *
 * Returns: %TRUE if the provider stated its window (`RateLimit-Policy`)
 *
 * Since: 0.1
 */
gboolean
pft_http_rate_headers_get_window_stated (PftHttpRateHeaders *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), FALSE);
  return self->window > 0;
}

/**
 * pft_http_rate_headers_set_default_window:
 * @self: a #PftHttpRateHeaders
 * @window: seconds, more than 0
 *
 * Sets the window that limits count over when the provider does not state
 * one.
 *
 * Since: 0.1
 */
void
pft_http_rate_headers_set_default_window (PftHttpRateHeaders *self,
                                          double              window)
{
  g_return_if_fail (PFT_HTTP_IS_RATE_HEADERS (self));
  g_return_if_fail (window > 0 && isfinite (window));
  self->default_window = window;
}

/**
 * pft_http_rate_headers_get_arrival_margin:
 * @self: a #PftHttpRateHeaders
 *
 * Gets the arrival margin set with
 * [method@PftHttp.RateHeaders.set_arrival_margin].
 *
 * Returns: the margin, in seconds, by which
 *   [method@PftHttp.RateHeaders.apply_requests] widens a limiter window
 *   that equals the provider's
 *
 * Since: 0.1
 */
double
pft_http_rate_headers_get_arrival_margin (PftHttpRateHeaders *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), 0);
  return self->arrival_margin;
}

/**
 * pft_http_rate_headers_set_arrival_margin:
 * @self: a #PftHttpRateHeaders
 * @margin: seconds, 0 or more; 0 leaves windows alone
 *
 * Sets the margin by which [method@PftHttp.RateHeaders.apply_requests]
 * widens a limiter window that equals the provider's (default
 * [const@PftHttp.RATE_HEADERS_ARRIVAL_MARGIN]). Make it larger than the
 * spread of the delay between admitting a request and its arrival at the
 * provider: a few milliseconds on a quiet network, more on a loaded host.
 *
 * Since: 0.1
 */
void
pft_http_rate_headers_set_arrival_margin (PftHttpRateHeaders *self,
                                          double              margin)
{
  g_return_if_fail (PFT_HTTP_IS_RATE_HEADERS (self));
  g_return_if_fail (margin >= 0 && isfinite (margin));
  self->arrival_margin = margin;
}

static void
append_quota (GString    *s,
              const char *what,
              gint64      limit,
              gint64      remaining,
              double      reset)
{
  if (limit < 0 && remaining < 0 && reset < 0)
    return;
  g_string_append_printf (s, " %s", what);
  if (limit >= 0)
    g_string_append_printf (s, " limit=%" G_GINT64_FORMAT, limit);
  if (remaining >= 0)
    g_string_append_printf (s, " remaining=%" G_GINT64_FORMAT, remaining);
  if (reset >= 0)
    g_string_append_printf (s, " reset=%.3fs", reset);
}

/**
 * pft_http_rate_headers_to_string:
 * @self: a #PftHttpRateHeaders
 *
 * Describes what was understood, for logs: for example
 * `RateHeaders(window=60s requests limit=60 remaining=0 reset=0.500s)`.
 *
 * Returns: (transfer full): a string
 *
 * Since: 0.1
 */
char *
pft_http_rate_headers_to_string (PftHttpRateHeaders *self)
{
  GString *s;
  double ra;

  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), NULL);

  s = g_string_new ("RateHeaders(");
  g_string_append_printf (s, "window=%gs%s", pft_http_rate_headers_get_window (self),
                          self->window > 0 ? "" : " (assumed)");
  ra = pft_http_rate_headers_get_retry_after (self);
  if (ra >= 0)
    g_string_append_printf (s, " retry-after=%.3fs", ra);
  append_quota (s, "requests", pft_http_rate_headers_get_request_limit (self),
                pft_http_rate_headers_get_request_remaining (self),
                pft_http_rate_headers_get_request_reset (self));
  append_quota (s, "tokens", pft_http_rate_headers_get_token_limit (self),
                pft_http_rate_headers_get_token_remaining (self),
                pft_http_rate_headers_get_token_reset (self));
  g_string_append_c (s, ')');
  return g_string_free (s, FALSE);
}

/* ------------------------------------------------------------------ */
/* Acting on a limiter                                                  */

/* The ceiling the user configured, kept as qdata on the limiter itself:
 * the limiter is what users share (registry, several nodes), so the
 * ceiling must travel with it, not with one node. "configured" is the
 * limiter's value the first time headers touched it; if someone else set
 * the limit since (its value is no longer the one we left), that value is
 * the new configuration. 0 = no limit configured. */
typedef struct
{
  gboolean has_requests;
  guint    configured_requests;
  guint    learned_requests;
  gboolean has_tokens;
  guint64  configured_tokens;
  guint64  learned_tokens;
} Ceiling;

static GMutex ceiling_mutex;

static GQuark
ceiling_quark (void)
{
  return g_quark_from_static_string ("pft-http-rate-ceiling");
}

/* Called with ceiling_mutex held. */
static Ceiling *
ceiling_get (PftRateLimiter *limiter)
{
  Ceiling *c = g_object_get_qdata (G_OBJECT (limiter), ceiling_quark ());

  if (c == NULL)
    {
      c = g_new0 (Ceiling, 1);
      g_object_set_qdata_full (G_OBJECT (limiter), ceiling_quark (), c, g_free);
    }
  return c;
}

/* @limit per @header_window seconds, in the limiter's window, rounded
 * down (never promise more than the provider allows) but at least 1. */
static guint64
convert_limit (gint64 limit,
               double header_window,
               double limiter_window,
               guint64 max)
{
  double v = floor ((double) limit * limiter_window / header_window + 1e-9);

  if (!(v >= 1))
    return 1;
  if (v >= (double) max)
    return max;
  return (guint64) v;
}

/**
 * pft_http_rate_headers_get_configured_max_per_window:
 * @limiter: a limiter
 *
 * The request ceiling that [method@PftHttp.RateHeaders.apply] keeps for
 * the limiter: its `max-per-window` as the user configured it, which
 * headers never exceed. It is the limiter's value when headers first acted on it,
 * or the value someone set since.
 *
 * Returns: the ceiling (0 = none), or the current `max-per-window` when
 *   headers never acted on @limiter
 *
 * Since: 0.1
 */
guint
pft_http_rate_headers_get_configured_max_per_window (PftRateLimiter *limiter)
{
  Ceiling *c;
  guint ret;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (limiter), 0);

  g_mutex_lock (&ceiling_mutex);
  c = g_object_get_qdata (G_OBJECT (limiter), ceiling_quark ());
  if (c != NULL && c->has_requests &&
      pft_rate_limiter_get_max_per_window (limiter) == c->learned_requests)
    ret = c->configured_requests;
  else
    ret = pft_rate_limiter_get_max_per_window (limiter);
  g_mutex_unlock (&ceiling_mutex);
  return ret;
}

/**
 * pft_http_rate_headers_get_configured_max_cost_per_window:
 * @limiter: a limiter
 *
 * As [func@PftHttp.RateHeaders.get_configured_max_per_window], for
 * `max-cost-per-window` (tokens).
 *
 * Returns: the ceiling (0 = none)
 *
 * Since: 0.1
 */
guint64
pft_http_rate_headers_get_configured_max_cost_per_window (PftRateLimiter *limiter)
{
  Ceiling *c;
  guint64 ret;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (limiter), 0);

  g_mutex_lock (&ceiling_mutex);
  c = g_object_get_qdata (G_OBJECT (limiter), ceiling_quark ());
  if (c != NULL && c->has_tokens &&
      pft_rate_limiter_get_max_cost_per_window (limiter) == c->learned_tokens)
    ret = c->configured_tokens;
  else
    ret = pft_rate_limiter_get_max_cost_per_window (limiter);
  g_mutex_unlock (&ceiling_mutex);
  return ret;
}

/* The new limit given the provider's (converted) @target, the limiter's
 * @current and the user's @configured (0 = none): never above what the
 * user configured, down as far as the provider says. */
static guint64
calibrate (guint64 target,
           guint64 current,
           guint64 configured)
{
  return configured == 0 ? target : MIN (target, configured);
}

static PftHttpRateAction
pft_http_rate_headers_pause_for (PftRateLimiter *limiter,
                                 gint64          remaining,
                                 double          reset,
                                 gboolean        requests)
{
  /* No capacity left at the provider: hold admissions until its reset,
   * before the next call gets a 429. Unless the limiter's own window is
   * full too: it holds admissions itself until its oldest entry expires,
   * which is no sooner than the provider's (its window is at least the
   * provider's), and a pause would make the next request go alone (the
   * limiter's half-open probe), serialising a batch that runs at its
   * limit. */
  if (remaining == 0 && reset > 0)
    {
      double before;

      if (requests && pft_rate_limiter_get_max_per_window (limiter) > 0 &&
          pft_rate_limiter_get_window_count (limiter) >= pft_rate_limiter_get_max_per_window (limiter))
        return PFT_HTTP_RATE_ACTION_NONE;
      before = pft_rate_limiter_get_paused_for (limiter);
      pft_rate_limiter_pause (limiter, reset);
      if (reset > before)
        return PFT_HTTP_RATE_ACTION_PAUSED;
    }
  return PFT_HTTP_RATE_ACTION_NONE;
}

/**
 * pft_http_rate_headers_apply_requests:
 * @self: a #PftHttpRateHeaders
 * @limiter: the limiter of the requests to that provider
 *
 * Acts on the request fields and the retry-after:
 *
 * - a retry-after pauses @limiter for that long (as
 *   [method@Pft.RateLimiter.pause]);
 * - `remaining` 0 with a reset pauses @limiter until the reset, so that
 *   the next call waits instead of being refused;
 * - a request limit, converted to @limiter's window (limit × limiter
 *   window / [method@PftHttp.RateHeaders.get_window], rounded down, at
 *   least 1), lower than `max-per-window` lowers it (calibration); a
 *   higher one raises it only back towards the configured ceiling
 *   ([func@PftHttp.RateHeaders.get_configured_max_per_window]), never
 *   above what the user configured. A limiter configured without a window
 *   limit (0) takes the provider's.
 *
 * Returns: what was done
 *
 * Since: 0.1
 */
PftHttpRateAction
pft_http_rate_headers_apply_requests (PftHttpRateHeaders *self,
                                      PftRateLimiter     *limiter)
{
  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), PFT_HTTP_RATE_ACTION_NONE);
  g_return_val_if_fail (PFT_IS_RATE_LIMITER (limiter), PFT_HTTP_RATE_ACTION_NONE);

  return _pft_http_rate_headers_apply_requests (self, limiter, TRUE);
}

PftHttpRateAction
_pft_http_rate_headers_apply_requests (PftHttpRateHeaders *self,
                                       PftRateLimiter     *limiter,
                                       gboolean            honour_retry_after)
{
  PftHttpRateAction done = PFT_HTTP_RATE_ACTION_NONE;
  gint64 limit;
  double retry_after;

  retry_after = honour_retry_after ? pft_http_rate_headers_get_retry_after (self) : -1;
  if (retry_after > 0)
    {
      double before = pft_rate_limiter_get_paused_for (limiter);
      pft_rate_limiter_pause (limiter, retry_after);
      if (retry_after > before)
        done |= PFT_HTTP_RATE_ACTION_PAUSED;
    }

  limit = pft_http_rate_headers_get_request_limit (self);
  if (limit > 0)
    {
      guint current, target, wanted;
      double limiter_window, provider_window;
      Ceiling *c;

      g_mutex_lock (&ceiling_mutex);
      c = ceiling_get (limiter);
      current = pft_rate_limiter_get_max_per_window (limiter);
      if (!c->has_requests || current != c->learned_requests)
        {
          c->has_requests = TRUE;
          c->configured_requests = current;
        }
      limiter_window = pft_rate_limiter_get_window (limiter);
      provider_window = pft_http_rate_headers_get_window (self);
      /* The provider counts a request when it arrives, a moment after the
       * limiter admitted it, and that moment varies: a limiter counting
       * exactly the provider's window lets a request arrive a hair before
       * the provider's oldest one expires, and it is refused. A limiter
       * window within the margin of the provider's is widened to it, and
       * counts as the provider's for the conversion. */
      if (self->arrival_margin > 0 && limiter_window >= provider_window - 1e-9 &&
          limiter_window < provider_window + self->arrival_margin - 1e-9)
        {
          pft_rate_limiter_set_window (limiter, provider_window + self->arrival_margin);
          done |= PFT_HTTP_RATE_ACTION_WIDENED_WINDOW;
        }
      if (fabs (limiter_window - provider_window) <= self->arrival_margin + 1e-9)
        limiter_window = provider_window;
      target = convert_limit (limit, provider_window, limiter_window, G_MAXUINT);
      wanted = calibrate (target, current, c->configured_requests);
      if (wanted != current)
        {
          pft_rate_limiter_set_max_per_window (limiter, wanted);
          done |= (current == 0 || wanted < current) ? PFT_HTTP_RATE_ACTION_LOWERED_REQUESTS
                                                     : PFT_HTTP_RATE_ACTION_RAISED_REQUESTS;
        }
      c->learned_requests = wanted;
      g_mutex_unlock (&ceiling_mutex);
    }

  done |= pft_http_rate_headers_pause_for (limiter, pft_http_rate_headers_get_request_remaining (self),
                                           pft_http_rate_headers_get_request_reset (self), TRUE);
  return done;
}

/**
 * pft_http_rate_headers_apply_tokens:
 * @self: a #PftHttpRateHeaders
 * @limiter: the limiter whose `max-cost-per-window` counts tokens
 *
 * As [method@PftHttp.RateHeaders.apply_requests] for the token fields,
 * acting on `max-cost-per-window` (the ceiling is
 * [func@PftHttp.RateHeaders.get_configured_max_cost_per_window]); it does
 * not look at the retry-after.
 *
 * Returns: what was done
 *
 * Since: 0.1
 */
PftHttpRateAction
pft_http_rate_headers_apply_tokens (PftHttpRateHeaders *self,
                                    PftRateLimiter     *limiter)
{
  PftHttpRateAction done = PFT_HTTP_RATE_ACTION_NONE;
  gint64 limit;

  g_return_val_if_fail (PFT_HTTP_IS_RATE_HEADERS (self), PFT_HTTP_RATE_ACTION_NONE);
  g_return_val_if_fail (PFT_IS_RATE_LIMITER (limiter), PFT_HTTP_RATE_ACTION_NONE);

  limit = pft_http_rate_headers_get_token_limit (self);
  if (limit > 0)
    {
      guint64 current, target, wanted;
      Ceiling *c;

      g_mutex_lock (&ceiling_mutex);
      c = ceiling_get (limiter);
      current = pft_rate_limiter_get_max_cost_per_window (limiter);
      if (!c->has_tokens || current != c->learned_tokens)
        {
          c->has_tokens = TRUE;
          c->configured_tokens = current;
        }
      target = convert_limit (limit, pft_http_rate_headers_get_window (self),
                              pft_rate_limiter_get_window (limiter), G_MAXUINT64 / 2);
      wanted = calibrate (target, current, c->configured_tokens);
      if (wanted != current)
        {
          pft_rate_limiter_set_max_cost_per_window (limiter, wanted);
          done |= (current == 0 || wanted < current) ? PFT_HTTP_RATE_ACTION_LOWERED_TOKENS
                                                     : PFT_HTTP_RATE_ACTION_RAISED_TOKENS;
        }
      c->learned_tokens = wanted;
      g_mutex_unlock (&ceiling_mutex);
    }

  done |= pft_http_rate_headers_pause_for (limiter, pft_http_rate_headers_get_token_remaining (self),
                                           pft_http_rate_headers_get_token_reset (self), FALSE);
  return done;
}

/**
 * pft_http_rate_headers_apply:
 * @self: a #PftHttpRateHeaders
 * @limiter: the limiter of the requests to that provider
 *
 * Acts on @limiter with everything the headers said: requests (see
 * [method@PftHttp.RateHeaders.apply_requests]) and tokens on its
 * `max-cost-per-window` (see [method@PftHttp.RateHeaders.apply_tokens]).
 * For code that keeps its own libsoup calls and one limiter per provider:
 * acquire a permit with the request's estimated tokens as its cost, send,
 * call this with the response's headers, settle the permit with the
 * response's usage, release it.
 *
 * Returns: what was done
 *
 * Since: 0.1
 */
PftHttpRateAction
pft_http_rate_headers_apply (PftHttpRateHeaders *self,
                             PftRateLimiter     *limiter)
{
  return pft_http_rate_headers_apply_requests (self, limiter) |
         pft_http_rate_headers_apply_tokens (self, limiter);
}
