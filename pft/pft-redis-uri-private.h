/* pft-redis-uri-private.h: what a redis:// URI says, and how it is shown
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* redis://[[user]:password@]host[:port][/db]: port 6379 and database 0 by
 * default, percent-escapes in the user and the password. Every message
 * shows the URI with its password replaced by "***", even for a string
 * that does not parse; GLib's own messages (which may quote it whole) are
 * never passed on. rediss:// is refused: hiredis 0.14 has no TLS. */
typedef struct
{
  char *host;
  int   port;
  int   db;
  char *user;       /* ACL user (Redis 6+), or NULL */
  char *password;   /* or NULL */
  char *display;    /* the URI with the password replaced by "***" */
} PftRedisUri;

gboolean            _pft_redis_uri_parse               (const char         *uri,
                                                        PftRedisUri        *out,
                                                        GError            **error);
void                _pft_redis_uri_clear               (PftRedisUri        *uri);
/* @uri with anything between "://" and the last '@' replaced by "***":
 * safe to print even when @uri does not parse. */
char               *_pft_redis_uri_redact              (const char         *uri);

G_END_DECLS
