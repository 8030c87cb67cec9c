/* pft-error.c: the PFT_ERROR domain and rate-limit errors
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "pft-error.h"
#include "pft-private.h"

/* The retry-after and source of a rate-limit error travel as extended
 * error data, which C, Vala and GJS keep. PyGObject drops extended data
 * when it turns a GError into an exception and back, so the message of
 * every error built by pft_error_new_rate_limited() also states the
 * retry-after in a fixed form that pft_error_get_retry_after() parses as a
 * fallback. */
typedef struct
{
  double  retry_after;
  char   *source;
} PftErrorPrivate;

static void
pft_error_private_init (PftErrorPrivate *priv)
{
  priv->retry_after = -1;
  priv->source = NULL;
}

static void
pft_error_private_copy (const PftErrorPrivate *src,
                        PftErrorPrivate       *dest)
{
  dest->retry_after = src->retry_after;
  dest->source = g_strdup (src->source);
}

static void
pft_error_private_clear (PftErrorPrivate *priv)
{
  g_clear_pointer (&priv->source, g_free);
}

/**
 * pft_error_quark:
 *
 * The quark of the [error@Pft.Error] domain.
 *
 * Returns: the error domain
 *
 * Since: 0.1
 */
G_DEFINE_EXTENDED_ERROR (PftError, pft_error)

#define RETRY_AFTER_MARK "retry after "

/**
 * pft_error_new_rate_limited:
 * @retry_after: seconds to wait before the next call, or a negative number
 *   when the provider did not say
 * @source: (nullable): what answered with the rate limit (a provider or
 *   limiter name), for messages and logs
 * @message: (nullable): a description; %NULL for a generic one
 *
 * Builds a [error@Pft.Error.RATE_LIMITED] error that carries @retry_after
 * and @source. This works from every language: Python code raises the
 * returned error (`raise Pft.error_new_rate_limited(2.0, "api", None)`),
 * which keeps the retry-after even though PyGObject drops extended error
 * data, because the message states it too.
 *
 * Returns: (transfer full): a new #GError
 *
 * Since: 0.1
 */
GError *
pft_error_new_rate_limited (double      retry_after,
                            const char *source,
                            const char *message)
{
  GString *msg = g_string_new (message != NULL ? message : _("Rate limited"));
  GError *error;
  PftErrorPrivate *priv;

  if (source != NULL)
    g_string_append_printf (msg, " [%s]", source);
  if (retry_after >= 0 && isfinite (retry_after))
    {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      /* Not translated: pft_error_get_retry_after() parses it. */
      g_string_append_printf (msg, " (" RETRY_AFTER_MARK "%s s)",
                              g_ascii_dtostr (buf, sizeof buf, retry_after));
    }
  else
    retry_after = -1;

  error = g_error_new_literal (PFT_ERROR, PFT_ERROR_RATE_LIMITED, msg->str);
  g_string_free (msg, TRUE);

  priv = pft_error_get_private (error);
  priv->retry_after = retry_after;
  priv->source = g_strdup (source);
  return error;
}

/* "429" as a number of its own: not a part of a port, an id or a decimal. */
static gboolean
pft_error_message_mentions_429 (const char *lower)
{
  for (const char *p = strstr (lower, "429"); p != NULL; p = strstr (p + 1, "429"))
    {
      gboolean before = p > lower && (g_ascii_isdigit (p[-1]) || p[-1] == '.');
      gboolean after = g_ascii_isdigit (p[3]) || (p[3] == '.' && g_ascii_isdigit (p[4]));

      if (!before && !after)
        return TRUE;
    }
  return FALSE;
}

static gboolean
pft_error_message_mentions_rate_limit (const char *message)
{
  static const char * const needles[] = {
    "rate limit", "rate_limit", "ratelimit", "too many requests",
    "quota exceeded", "throttl",
  };
  g_autofree char *lower = NULL;

  if (message == NULL)
    return FALSE;
  lower = g_ascii_strdown (message, -1);
  /* strerror (EDQUOT) is a full disk, not a provider's quota. */
  if (strstr (lower, "disk quota") != NULL)
    return FALSE;
  if (pft_error_message_mentions_429 (lower))
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (needles); i++)
    if (strstr (lower, needles[i]) != NULL)
      return TRUE;
  return FALSE;
}

/**
 * pft_error_is_rate_limit:
 * @error: (nullable): an error
 *
 * Tells whether @error means "rate limited": a
 * [error@Pft.Error.RATE_LIMITED] error; an HTTP 429 status error, that is
 * any error whose code is 429 in a domain whose name contains "http" or
 * "soup" (libsoup 2's `SOUP_HTTP_ERROR` uses the status as the code;
 * libsoup 3 reports statuses on the message, not as errors, and GIO has no
 * code for them: code that turns a 429 into a `G_IO_ERROR` or its own
 * domain says so in the message); or, like the Python original, any error
 * of another domain whose message mentions 429, rate limit, too many
 * requests, quota exceeded or throttling. An error of the
 * [error@Pft.Error] domain is a rate limit only with the code
 * %PFT_ERROR_RATE_LIMITED, and a full disk ("Disk quota exceeded",
 * `G_IO_ERROR_NO_SPACE`) is never one. The core does not link libsoup: domains
 * are matched by name.
 *
 * Nodes can refine this with [vfunc@Pft.Node.is_rate_limit].
 *
 * Returns: %TRUE if @error is a rate-limit error
 *
 * Since: 0.1
 */
gboolean
pft_error_is_rate_limit (const GError *error)
{
  if (error == NULL)
    return FALSE;
  if (error->domain == PFT_ERROR)
    return error->code == PFT_ERROR_RATE_LIMITED;
  if (error->domain == G_IO_ERROR && error->code == G_IO_ERROR_NO_SPACE)
    return FALSE;
  if (error->code == 429)
    {
      const char *domain = g_quark_to_string (error->domain);
      if (domain != NULL && (strstr (domain, "http") != NULL || strstr (domain, "soup") != NULL))
        return TRUE;
    }
  return pft_error_message_mentions_rate_limit (error->message);
}

/**
 * pft_error_get_retry_after:
 * @error: an error
 *
 * Reads how long the provider asked to wait, from an error built by
 * [func@Pft.Error.new_rate_limited] (also after it went through Python),
 * or from a message that says "retry after N s", "retry-after: N" or
 * "retry in N s".
 *
 * Returns: the retry-after in seconds, or -1 when @error carries none
 *
 * Since: 0.1
 */
double
pft_error_get_retry_after (const GError *error)
{
  static const char * const marks[] = { RETRY_AFTER_MARK, "retry-after:", "retry-after ", "retry in " };
  g_autofree char *lower = NULL;

  g_return_val_if_fail (error != NULL, -1);

  if (error->domain == PFT_ERROR && error->code == PFT_ERROR_RATE_LIMITED)
    {
      PftErrorPrivate *priv = pft_error_get_private (error);
      if (priv != NULL && priv->retry_after >= 0)
        return priv->retry_after;
    }

  if (error->message == NULL)
    return -1;
  lower = g_ascii_strdown (error->message, -1);
  for (guint i = 0; i < G_N_ELEMENTS (marks); i++)
    {
      const char *p = strstr (lower, marks[i]);
      if (p != NULL)
        {
          char *end = NULL;
          double v;

          p += strlen (marks[i]);
          while (*p == ' ')
            p++;
          v = g_ascii_strtod (p, &end);
          if (end != p && v >= 0 && isfinite (v))
            return v;
        }
    }
  return -1;
}

/**
 * pft_error_get_source:
 * @error: an error
 *
 * Reads the source that [func@Pft.Error.new_rate_limited] recorded. Only C,
 * Vala and GJS keep it (PyGObject drops extended error data).
 *
 * Returns: (nullable): the source, or %NULL
 *
 * Since: 0.1
 */
const char *
pft_error_get_source (const GError *error)
{
  g_return_val_if_fail (error != NULL, NULL);

  if (error->domain == PFT_ERROR && error->code == PFT_ERROR_RATE_LIMITED)
    {
      PftErrorPrivate *priv = pft_error_get_private (error);
      if (priv != NULL)
        return priv->source;
    }
  return NULL;
}

/**
 * pft_task_return_rate_limited:
 * @task: a #GTask
 * @retry_after: seconds to wait, or a negative number when unknown
 * @source: (nullable): what answered with the rate limit
 * @message: (nullable): a description
 *
 * Completes @task with the error of [func@Pft.Error.new_rate_limited], so
 * that code in any language (GJS's `exec_task`, Python's `exec_async`)
 * reports a rate limit with its retry-after intact.
 *
 * Since: 0.1
 */
void
pft_task_return_rate_limited (GTask      *task,
                              double      retry_after,
                              const char *source,
                              const char *message)
{
  g_return_if_fail (G_IS_TASK (task));

  g_task_return_error (task, pft_error_new_rate_limited (retry_after, source, message));
}

/* GJS's own names for its error codes (GjsJSError, gjs/error-types.h),
 * in code order: a JS error's name picks the code. */
static const char * const pft_js_error_names[] = {
  "Error", "EvalError", "InternalError", "RangeError", "ReferenceError",
  "StopIteration", "SyntaxError", "TypeError", "URIError",
};

/**
 * pft_task_return_js_error:
 * @task: a #GTask
 * @name: (nullable): the JavaScript error's `name` (`"TypeError"`), or
 *   %NULL for `"Error"`
 * @message: the JavaScript error's `message`
 *
 * Completes @task with the #GError that GJS makes of a JavaScript error
 * thrown from a vfunc: domain `gjs-js-error-quark`, the code GJS gives
 * @name (`Error` for a name it does not know), @message as is. Back in
 * JavaScript that error is an instance of the original class again.
 *
 * GJS cannot pass a JavaScript `Error` where a #GError is expected, and
 * cannot build a `GLib.Error` in GJS's own domain either; Pft's GJS
 * override calls this from `task.return_error(e)` when @e is not a
 * `GLib.Error`, so that an `exec_task` completing its task with a plain
 * `Error` fails the attempt instead of throwing and never completing it.
 *
 * Since: 0.1
 */
void
pft_task_return_js_error (GTask      *task,
                          const char *name,
                          const char *message)
{
  int code = 0;

  g_return_if_fail (G_IS_TASK (task));
  g_return_if_fail (message != NULL);

  for (guint i = 0; name != NULL && i < G_N_ELEMENTS (pft_js_error_names); i++)
    if (strcmp (name, pft_js_error_names[i]) == 0)
      code = i;
  g_task_return_error (task, g_error_new_literal (g_quark_from_static_string ("gjs-js-error-quark"),
                                                  code, message));
}

/* The message g_cancellable_set_error_if_cancelled() uses, looked up in
 * GLib's domain: kept out of a literal in a gettext call so that xgettext
 * does not put it into Pft's catalogue. */
#define PFT_GLIB_GETTEXT_DOMAIN "glib20"
static const char pft_glib_cancelled_msgid[] = "Operation was cancelled";

GError *
_pft_error_new_cancelled (void)
{
  return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                              g_dgettext (PFT_GLIB_GETTEXT_DOMAIN, pft_glib_cancelled_msgid));
}
