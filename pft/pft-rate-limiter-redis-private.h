/* pft-rate-limiter-redis-private.h: the limiter's hooks for its shared backend
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib-object.h>

#include "pft-rate-limiter.h"

G_BEGIN_DECLS

/* The properties of pft-rate-limiter-redis.h (backend, redis-key,
 * redis-uri, backend-timeout, fallback, lease-ttl) belong to
 * PftRateLimiter but live in pft-rate-limiter-redis.c: the limiter's
 * class_init installs them from @first_prop_id on, and its get/set_property
 * hand them any id they do not know (FALSE: not one of these either). */
void       _pft_rate_limiter_redis_install_properties (GObjectClass *klass,
                                                       guint         first_prop_id);
gboolean   _pft_rate_limiter_redis_get_property       (GObject      *object,
                                                       guint         prop_id,
                                                       GValue       *value);
gboolean   _pft_rate_limiter_redis_set_property       (GObject      *object,
                                                       guint         prop_id,
                                                       const GValue *value);

/* For a limiter shared through Redis, reads the counts of every process
 * now (a round trip, at most the backend timeout), so that the next
 * pft_rate_limiter_dup_stats() shows them in its shared_* keys; a memory
 * limiter, or a Redis that does not answer, leaves them as they were. */
void       _pft_rate_limiter_redis_refresh_stats      (PftRateLimiter *self);

/* Whether @self was made by pft_rate_limiter_new_redis() with @uri. */
gboolean   _pft_rate_limiter_redis_has_uri            (PftRateLimiter *self,
                                                       const char     *uri);

G_END_DECLS
