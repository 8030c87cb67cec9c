/* pft-http-error.c: the PFT_HTTP_ERROR domain and the HTTP status of errors
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "pft-http.h"
#include "pft-http-private.h"

/* The status travels as extended error data (C, Vala, GJS) and in the
 * message as "HTTP <status>" (PyGObject drops extended data), which
 * pft_http_error_get_status() reads as a fallback, as Pft does for the
 * retry-after of rate-limit errors. */
typedef struct
{
  guint status;
} PftHttpErrorPrivate;

static void
pft_http_error_private_init (PftHttpErrorPrivate *priv)
{
  priv->status = 0;
}

static void
pft_http_error_private_copy (const PftHttpErrorPrivate *src,
                             PftHttpErrorPrivate       *dest)
{
  dest->status = src->status;
}

static void
pft_http_error_private_clear (PftHttpErrorPrivate *priv)
{
}

/**
 * pft_http_error_quark:
 *
 * The quark of the [error@PftHttp.Error] domain.
 *
 * Returns: the error domain
 *
 * Since: 0.1
 */
G_DEFINE_EXTENDED_ERROR (PftHttpError, pft_http_error)

GError *
_pft_http_error_new_status (PftHttpError  code,
                            guint         status,
                            const char   *message)
{
  GError *error = g_error_new_literal (PFT_HTTP_ERROR, code, message);
  PftHttpErrorPrivate *priv = pft_http_error_get_private (error);

  priv->status = status;
  return error;
}

/**
 * pft_http_error_get_status:
 * @error: an error from a [class@PftHttp.ChatClient] or
 *   [class@PftHttp.ChatNode]
 *
 * The HTTP status the server answered with: from a
 * [error@PftHttp.Error] error, or from any error whose message says
 * "HTTP <status>" (rate-limit errors, which are
 * [error@Pft.Error.RATE_LIMITED], and errors that went through Python).
 *
 * Returns: the status (100-599), or 0 if @error came before any answer
 *   (connection refused, timeout, bad configuration)
 *
 * Since: 0.1
 */
guint
pft_http_error_get_status (const GError *error)
{
  const char *p;

  g_return_val_if_fail (error != NULL, 0);

  if (error->domain == PFT_HTTP_ERROR)
    {
      PftHttpErrorPrivate *priv = pft_http_error_get_private (error);
      if (priv != NULL && priv->status != 0)
        return priv->status;
    }
  if (error->message == NULL)
    return 0;
  for (p = strstr (error->message, "HTTP "); p != NULL; p = strstr (p + 1, "HTTP "))
    {
      const char *d = p + 5;
      if (g_ascii_isdigit (d[0]) && g_ascii_isdigit (d[1]) && g_ascii_isdigit (d[2]) &&
          !g_ascii_isdigit (d[3]))
        {
          guint status = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
          if (status >= 100 && status <= 599)
            return status;
        }
    }
  return 0;
}
