/* pft-limiter-registry-config-private.h: limiter definitions read from a
 * key file (internal)
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

#include "pft-types.h"
#include "pft-rate-limiter.h"

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

PftRateLimiter *_pft_limiter_registry_config_new_limiter (const PftLimiterRegistryConfig *config);
/* Sets every limit of @limiter to @config's, with one round of notifies. */
void       _pft_limiter_registry_config_apply        (const PftLimiterRegistryConfig *config,
                                                       PftRateLimiter                 *limiter);

G_END_DECLS
