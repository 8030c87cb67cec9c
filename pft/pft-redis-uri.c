/* pft-redis-uri.c: what a redis:// URI says, and how it is shown
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include <hiredis/hiredis.h>

#include "pft-error.h"
#include "pft-redis-uri-private.h"

#define PFT_REDIS_DEFAULT_PORT 6379

char *
_pft_redis_uri_redact (const char *uri)
{
  const char *start, *at;

  g_return_val_if_fail (uri != NULL, NULL);

  /* Whatever comes before the last '@' may be a password, even in a
   * string that is no URI at all. */
  at = strrchr (uri, '@');
  if (at == NULL)
    return g_strdup (uri);
  start = strstr (uri, "://");
  start = start != NULL && start < at ? start + 3 : uri;
  return g_strdup_printf ("%.*s***%s", (int) (start - uri), uri, at);
}

void
_pft_redis_uri_clear (PftRedisUri *uri)
{
  g_clear_pointer (&uri->host, g_free);
  g_clear_pointer (&uri->user, g_free);
  if (uri->password != NULL)
    memset (uri->password, 0, strlen (uri->password));
  g_clear_pointer (&uri->password, g_free);
  g_clear_pointer (&uri->display, g_free);
}

gboolean
_pft_redis_uri_parse (const char   *uri,
                      PftRedisUri  *out,
                      GError      **error)
{
  g_autoptr(GUri) parsed = NULL;
  g_autofree char *redacted = NULL;
  const char *scheme, *path, *host;
  int port;

  g_return_val_if_fail (uri != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  memset (out, 0, sizeof *out);
  redacted = _pft_redis_uri_redact (uri);

  /* GLib's own messages may quote the whole URI, password included:
   * only ours, with the redacted form, go out. */
  parsed = g_uri_parse (uri, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED_PATH, NULL);
  if (parsed == NULL)
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                   "Invalid Redis URI “%s”: expected redis://[[user]:password@]host[:port][/db]",
                   redacted);
      return FALSE;
    }

  scheme = g_uri_get_scheme (parsed);
  if (g_ascii_strcasecmp (scheme, "rediss") == 0)
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                   "Redis URI “%s”: TLS (rediss://) is not available: this build uses hiredis %d.%d, "
                   "which has no TLS support (hiredis >= 1.0 with SSL is needed)",
                   redacted, HIREDIS_MAJOR, HIREDIS_MINOR);
      return FALSE;
    }
  if (g_ascii_strcasecmp (scheme, "redis") != 0)
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                   "Redis URI “%s”: unsupported scheme “%s” (expected redis://)",
                   redacted, scheme);
      return FALSE;
    }

  host = g_uri_get_host (parsed);
  if (host == NULL || *host == '\0')
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                   "Redis URI “%s” has no host", redacted);
      return FALSE;
    }

  port = g_uri_get_port (parsed);
  if (port == -1)
    port = PFT_REDIS_DEFAULT_PORT;
  if (port <= 0 || port > 65535)
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                   "Redis URI “%s”: port %d is out of range", redacted, port);
      return FALSE;
    }

  path = g_uri_get_path (parsed);
  if (path[0] == '/')
    path++;
  if (path[0] != '\0')
    {
      guint64 db;

      if (!g_ascii_string_to_unsigned (path, 10, 0, G_MAXINT, &db, NULL))
        {
          g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                       "Redis URI “%s”: database “%s” is not a number",
                       redacted, path);
          return FALSE;
        }
      out->db = (int) db;
    }

  if (g_uri_get_query (parsed) != NULL)
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                   "Redis URI “%s”: query parameters are not supported", redacted);
      return FALSE;
    }

  out->host = g_strdup (host);
  out->port = port;
  if (g_uri_get_user (parsed) != NULL && g_uri_get_user (parsed)[0] != '\0')
    out->user = g_uri_unescape_string (g_uri_get_user (parsed), NULL);
  if (g_uri_get_password (parsed) != NULL && g_uri_get_password (parsed)[0] != '\0')
    out->password = g_uri_unescape_string (g_uri_get_password (parsed), NULL);
  out->display = g_strdup_printf ("redis://%s%s%s%s:%d/%d",
                                  out->user != NULL ? out->user : "",
                                  out->password != NULL ? ":***" : "",
                                  out->user != NULL || out->password != NULL ? "@" : "",
                                  out->host, out->port, out->db);
  return TRUE;
}
