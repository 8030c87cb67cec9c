/* pft-redis-backend-private.h: a limiter's admission through Redis
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft-admission-private.h"
#include "pft-rate-limiter-redis.h"
#include "pft-redis-admission-private.h"

G_BEGIN_DECLS

/* PftRedisBackend is the Redis implementation of the admission seam
 * (pft-admission-private.h) on top of PftRedisAdmission: a waiter's ask
 * goes to Redis (batched with the other asks of the process) and is
 * answered from the "pft-redis" thread; entries are this object's own
 * numbers, mapped to the lease ids Redis knows. A try (no ask) is refused
 * at once: a decision takes a round trip, which a try must not wait for.
 *
 * Fallback. When an ask fails with PFT_ERROR_BACKEND_UNAVAILABLE and the
 * policy is PFT_LIMITER_FALLBACK_LOCAL, the backend decides on an
 * in-memory window (PftRateWindow) with the same limits, for this
 * process alone, from then on (one warning), and probes Redis every
 * 500 ms; once it answers, asks go to Redis again (one message). Entries
 * admitted locally are released locally.
 *
 * Stats. usage() is this process's last reading of the shared counts
 * (refreshed in the background when older than 100 ms);
 * _pft_redis_backend_query_stats() reads them now. */
typedef struct _PftRedisBackend PftRedisBackend;

PftRedisBackend *_pft_redis_backend_new           (const char                *uri,
                                                   const char                *key,
                                                   const PftAdmissionLimits  *limits,
                                                   gint64                     backend_timeout_us,
                                                   gint64                     lease_ttl_us,
                                                   GError                   **error);
/* The table's free drops the reference the limiter holds. */
#define PFT_REDIS_BACKEND_ADMISSION(b) ((PftAdmission *) (b))

PftRedisBackend *_pft_redis_backend_ref            (PftRedisBackend *self);
void             _pft_redis_backend_unref          (PftRedisBackend *self);
const char      *_pft_redis_backend_get_key        (PftRedisBackend *self);
const char      *_pft_redis_backend_get_display    (PftRedisBackend *self);
void             _pft_redis_backend_set_timeout    (PftRedisBackend *self,
                                                    gint64           timeout_us);
void             _pft_redis_backend_set_lease_ttl  (PftRedisBackend *self,
                                                    gint64           lease_ttl_us);
void             _pft_redis_backend_set_fallback   (PftRedisBackend   *self,
                                                    PftLimiterFallback fallback);
/* Whether asks are decided locally now (fallback). */
gboolean         _pft_redis_backend_is_local       (PftRedisBackend *self);
/* Reads the shared counts (a round trip, at most the backend timeout);
 * FALSE with @error when Redis does not answer or @cancellable fires. */
gboolean         _pft_redis_backend_query_stats    (PftRedisBackend *self,
                                                    GCancellable    *cancellable,
                                                    PftRedisStats   *stats,
                                                    GError         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PftRedisBackend, _pft_redis_backend_unref)

G_END_DECLS
