/* redis-scenarios.h: many processes sharing one quota, checked from Redis
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "redis-fixture.h"

G_BEGIN_DECLS

/* Each runs tests/redis-worker children on a fresh key of @server and
 * checks the limits from the server-side grant log. With @limiter the
 * workers acquire through PftRateLimiter (pft_rate_limiter_new_redis()),
 * else through the admission under it: the same guarantees, tested at
 * both levels. */

/* One process, 30 at a time against 20 per 200 ms for 1 s: never more
 * than 20 in any 200 ms of the server's clock, and the limit binds. */
void pft_redis_scenario_window    (PftRedisServer *server,
                                   gboolean        limiter);
/* Smooth mode, 10 per 1 s, burst 1: grants at least 100 ms apart on the
 * server's clock (GCRA). */
void pft_redis_scenario_smooth    (PftRedisServer *server,
                                   gboolean        limiter);
/* 4 processes share 100 per 1 s and 8 in flight for 3 s: never more
 * than 100 in any 1 s window nor 8 at once, and the limit binds. */
void pft_redis_scenario_one_quota (PftRedisServer *server,
                                   gboolean        limiter);
/* A process holding all 8 slots is killed with SIGKILL: another gets
 * them within the lease TTL (1 s) of the kill. */
void pft_redis_scenario_crash     (PftRedisServer *server,
                                   gboolean        limiter);
/* Redis restarts (data kept) under two processes: every grant is logged
 * once, the limits hold and the run completes. */
void pft_redis_scenario_restart   (PftRedisServer *server,
                                   gboolean        limiter);

G_END_DECLS
