/* pft-limiter-registry-config-private.h: limiter definitions read from a
 * key file (internal)
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

#include "pft-types.h"
#include "pft-rate-limiter.h"
#include "pft-rate-limiter-redis.h"

G_BEGIN_DECLS

/* One group of a key file: a limiter described completely (a key left
 * out has its default, the preset's value or the limiter's). */
typedef struct
{
  char           *name;                 /* the group */
  guint           max_concurrent;
  guint           max_per_window;
  double          window;               /* seconds */
  guint64         max_cost_per_window;
  PftLimiterMode  mode;
  guint           burst;
  /* The shared backend (pft-rate-limiter-redis.h): backend=redis needs
   * redis-uri; redis-key defaults to the group's name. */
  gboolean            redis;
  char               *redis_uri;        /* (nullable), never shown */
  char               *redis_key;        /* (nullable) */
  double              backend_timeout;  /* seconds */
  PftLimiterFallback  fallback;
  double              lease_ttl;        /* seconds */
} PftLimiterRegistryConfig;

void _pft_limiter_registry_config_free (gpointer config);

/* Reads every group of @keyfile, checking each value by the limiter's own
 * rules. Returns a GPtrArray of PftLimiterRegistryConfig in group order,
 * or NULL with PFT_ERROR_PARSE naming the group, the key and the value. */
GPtrArray *_pft_limiter_registry_config_parse_keyfile (GKeyFile    *keyfile,
                                                       GError     **error);

/* Loads @text (a leading byte-order mark skipped; it must be UTF-8) with
 * GKeyFile and reads it as above; errors also give the line, after
 * @source (a file name, nullable) or as "line N". */
GPtrArray *_pft_limiter_registry_config_parse_text    (const char  *text,
                                                       gsize        length,
                                                       const char  *source,
                                                       GError     **error);

/* NULL with @error when @config's Redis cannot be reached (the message
 * names the group; the URI's password is never shown). */
PftRateLimiter *_pft_limiter_registry_config_new_limiter (const PftLimiterRegistryConfig *config,
                                                          GError                        **error);
/* FALSE with @error when @limiter cannot take @config in place: its
 * backend, Redis server or key differ (those are fixed at creation). */
gboolean   _pft_limiter_registry_config_check_update (const PftLimiterRegistryConfig *config,
                                                       PftRateLimiter                 *limiter,
                                                       GError                        **error);
/* Sets every limit of @limiter to @config's, with one round of notifies. */
void       _pft_limiter_registry_config_apply        (const PftLimiterRegistryConfig *config,
                                                       PftRateLimiter                 *limiter);

G_END_DECLS
