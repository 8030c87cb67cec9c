/* pft-redis-scripts-private.h: the admission decisions, as Lua scripts
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

#include "pft-redis-connection-private.h"

G_BEGIN_DECLS

/* Each decision about a shared quota is one Lua script run atomically by
 * Redis (EVALSHA; loaded again after NOSCRIPT), so no two processes ever
 * read-then-write the same state. Every script reads the time with
 * redis.call('TIME') (Redis 7 replicates scripts by effects, so TIME may
 * precede writes): all decisions and every logged grant are on the
 * server's one clock, never on a client's. Times are microseconds.
 *
 * Every script takes the same KEYS, built by _pft_redis_keys_init(), all
 * under one hash tag so that a cluster keeps them on one slot:
 *
 *   1 win    ZSET  "<id>|<cost>" -> grant time: the sliding window
 *   2 meta   HASH  sum (cost in the window), tat_req, tat_cost (GCRA)
 *   3 lease  ZSET  request id -> lease expiry: requests in flight
 *   4 pause  STR   paused until (us); expires with the pause
 *   5 probe  HASH  half_open, probe (id), probe_exp, failed
 *   6 debug  STR   when it exists, grants/releases/expiries are logged
 *   7 log    LIST  "g <us> <id> <cost>", "r <us> <id>", "x <us> <id>",
 *                  "p <us> <until>"   (tests and benchmarks only)
 *
 * A request id is chosen by the client and sent again unchanged when a
 * reply was lost, so every script is idempotent: admitting an id that
 * already holds a lease (or, without a concurrency limit, a window entry)
 * answers "granted" again without counting it twice; settle names the
 * old and the new cost; release and renew touch only what exists. The
 * lease TTL (or the window) must outlast the backend timeout, after
 * which nothing is sent again.
 *
 * ADMIT   ARGV smooth (0|1), max_per_window, max_cost, window_us, burst,
 *              max_concurrent, lease_ttl_us, poll_us, then (id, cost)
 *              for each request of the batch, in FIFO order
 *         -> three values a request: 1, now_us, again (0|1) when
 *            granted (a lease until now + ttl when max_concurrent > 0);
 *            0, retry_after_us, reason when refused, with reason
 *            "paused", "probe", "concurrency" or "window". Once one is
 *            refused, those behind it wait with it. For "window" and
 *            "paused" the wait is exact; for "concurrency" and "probe"
 *            it is the earliest lease expiry, capped at poll_us (a
 *            release in another process is not announced).
 *         The window is exact: a grant at t counts in [t, t + window);
 *         at most max_per_window grants and max_cost cost in any window.
 *         In smooth mode the window is recorded (stats, settle) but GCRA
 *         decides: interval = ceil (window / max_per_window), tolerance
 *         (burst - 1) intervals, as the in-process limiter.
 *         Expired leases are reclaimed here (logged "x").
 * RELEASE ARGV id... -> how many leases were still held. Releasing the
 *         half-open probe closes the limiter, or, when a pause came while
 *         it was out, lets the next request probe.
 * RENEW   ARGV lease_ttl_us, id... -> the ids that were no longer held.
 * SETTLE  ARGV id, old_cost, new_cost, smooth, max_cost, window_us -> 1
 *         when the request is in the window (its cost is now new_cost),
 *         0 when it has left it.
 * PAUSE   ARGV duration_us -> {extended (0|1), paused_until_us}.
 * STATS   ARGV window_us -> {in_window, cost_in_window, in_flight,
 *              paused_until_us, now_us, half_open}. */
typedef enum
{
  PFT_REDIS_SCRIPT_ADMIT,
  PFT_REDIS_SCRIPT_RELEASE,
  PFT_REDIS_SCRIPT_RENEW,
  PFT_REDIS_SCRIPT_SETTLE,
  PFT_REDIS_SCRIPT_PAUSE,
  PFT_REDIS_SCRIPT_STATS,
  PFT_REDIS_N_SCRIPTS
} PftRedisScriptId;

#define PFT_REDIS_N_KEYS 7

typedef struct
{
  char *keys[PFT_REDIS_N_KEYS];
} PftRedisKeys;

void        _pft_redis_keys_init        (PftRedisKeys     *keys,
                                         const char       *key);
void        _pft_redis_keys_clear       (PftRedisKeys     *keys);

const char *_pft_redis_script_get_body  (PftRedisScriptId  id);
/* SHA1 of the body, as Redis names it: computed here, so nothing has to
 * be loaded before the first EVALSHA. */
const char *_pft_redis_script_get_sha   (PftRedisScriptId  id);

/* Runs @script by EVALSHA on @conn with @keys and then @args; @data is
 * handed to @func. */
void        _pft_redis_script_eval      (PftRedisConnection *conn,
                                         const PftRedisKeys *keys,
                                         PftRedisScriptId    script,
                                         guint               n_args,
                                         const char        **args,
                                         PftRedisReplyFunc   func,
                                         gpointer            data);

G_END_DECLS
