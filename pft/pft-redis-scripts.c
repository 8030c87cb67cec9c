/* pft-redis-scripts.c: the admission decisions, as Lua scripts
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-redis-scripts-private.h"

/* The contract of each script is in pft-redis-scripts-private.h. Numbers
 * go to Redis through fmt(): Lua's tostring() keeps 14 digits, and a
 * microsecond time has 16. */
#define PRELUDE \
  "local t = redis.call('TIME')\n" \
  "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n" \
  "local function fmt(x) return string.format('%.0f', x) end\n" \
  "local logging = redis.call('EXISTS', KEYS[6]) == 1\n" \
  "local function log(s) if logging then redis.call('RPUSH', KEYS[7], s) end end\n"

/* Drops the requests older than the window, and their cost from the
 * sum. A window member is "<id>|<cost>": no second structure to keep in
 * step. */
#define EXPIRE_WINDOW \
  "local function member_cost(m) return tonumber(string.match(m, '|(%d+)$')) or 0 end\n" \
  "local function expire(window)\n" \
  "  local cut = fmt(now - window)\n" \
  "  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cut)\n" \
  "  if #old == 0 then return end\n" \
  "  local s = 0\n" \
  "  for i = 1, #old do s = s + member_cost(old[i]) end\n" \
  "  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cut)\n" \
  "  if s ~= 0 then redis.call('HINCRBY', KEYS[2], 'sum', fmt(-s)) end\n" \
  "end\n"

/* Decides a batch of requests in their order: the shared state is read
 * once, each request costs one lookup (was it granted already?) and its
 * writes. Once one is refused, the ones behind it wait too (FIFO). */
static const char admit_body[] =
  PRELUDE
  EXPIRE_WINDOW
  "local smooth = ARGV[1] == '1'\n"
  "local maxw = tonumber(ARGV[2])\n"
  "local maxcost = tonumber(ARGV[3])\n"
  "local window = tonumber(ARGV[4])\n"
  "local burst = tonumber(ARGV[5])\n"
  "local maxc = tonumber(ARGV[6])\n"
  "local ttl = tonumber(ARGV[7])\n"
  "local poll = tonumber(ARGV[8])\n"
  "local windowed = maxw > 0 or maxcost > 0\n"
  "local out = {}\n"
  "local wait, reason = nil, nil\n"
  "local pu = tonumber(redis.call('GET', KEYS[4]) or '0')\n"
  "if pu > now then wait, reason = pu - now, 'paused' end\n"
  "local probe = redis.call('HMGET', KEYS[5], 'half_open', 'probe', 'probe_exp')\n"
  "local half_open = probe[1] == '1'\n"
  "local probe_exp = nil\n"
  "if half_open and probe[2] then\n"
  "  if tonumber(probe[3]) > now then probe_exp = tonumber(probe[3])\n"
  /* Its holder vanished without a verdict: the next request probes. */
  "  else redis.call('HDEL', KEYS[5], 'probe', 'probe_exp', 'failed') end\n"
  "end\n"
  "local held = 0\n"
  "if maxc > 0 then\n"
  "  if logging then\n"
  "    local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', fmt(now))\n"
  "    for i = 1, #gone do log('x ' .. fmt(now) .. ' ' .. gone[i]) end\n"
  "  end\n"
  "  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', fmt(now))\n"
  "  held = redis.call('ZCARD', KEYS[3])\n"
  "end\n"
  "local count, sum, tat_req, tat_cost, interval, tau = 0, 0, 0, 0, 0, 0\n"
  "if windowed then\n"
  "  expire(window)\n"
  "  count = redis.call('ZCARD', KEYS[1])\n"
  "  local m = redis.call('HMGET', KEYS[2], 'sum', 'tat_req', 'tat_cost')\n"
  "  sum = tonumber(m[1] or '0')\n"
  "  tat_req = tonumber(m[2] or '0')\n"
  "  tat_cost = tonumber(m[3] or '0')\n"
  "  if maxw > 0 then interval = math.ceil(window / maxw) end\n"
  "  if smooth and maxw > 0 then tau = (burst - 1) * interval end\n"
  "end\n"
  /* The earliest time a request of @cost fits the window, or now. */
  "local function window_ready(cost)\n"
  "  local ready = now\n"
  "  if smooth then\n"
  "    if maxw > 0 and tat_req - tau > now then ready = math.max(ready, tat_req - tau) end\n"
  "    if maxcost > 0 and tat_cost - tau > now then ready = math.max(ready, tat_cost - tau) end\n"
  "    return ready\n"
  "  end\n"
  "  if maxw > 0 and count >= maxw then\n"
  /* The oldest count + 1 - maxw must leave first. */
  "    local e = redis.call('ZRANGE', KEYS[1], count - maxw, count - maxw, 'WITHSCORES')\n"
  "    ready = math.max(ready, tonumber(e[2]) + window)\n"
  "  end\n"
  "  if maxcost > 0 and sum + cost > maxcost then\n"
  "    local left, start = sum, 0\n"
  "    while true do\n"
  "      local es = redis.call('ZRANGE', KEYS[1], start, start + 199, 'WITHSCORES')\n"
  "      if #es == 0 then break end\n"
  "      for i = 1, #es, 2 do\n"
  "        left = left - member_cost(es[i])\n"
  "        if left + cost <= maxcost then return math.max(ready, tonumber(es[i + 1]) + window) end\n"
  "      end\n"
  "      start = start + 200\n"
  "    end\n"
  "  end\n"
  "  return ready\n"
  "end\n"
  "local added, added_cost = 0, 0\n"
  "for i = 9, #ARGV, 2 do\n"
  "  local id, cost = ARGV[i], tonumber(ARGV[i + 1])\n"
  "  local member = id .. '|' .. ARGV[i + 1]\n"
  /* Sent again after a lost reply: granted already, counted once. */
  "  local again\n"
  "  if maxc > 0 then again = redis.call('ZSCORE', KEYS[3], id)\n"
  "  elseif windowed then again = redis.call('ZSCORE', KEYS[1], member) end\n"
  "  if again then\n"
  "    out[#out + 1] = 1; out[#out + 1] = now; out[#out + 1] = 1\n"
  "  else\n"
  "    if not wait and probe_exp then wait, reason = math.max(1, math.min(probe_exp - now, poll)), 'probe' end\n"
  "    if not wait and maxc > 0 and held >= maxc then\n"
  "      local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')\n"
  "      wait, reason = math.max(1, math.min(tonumber(first[2]) - now, poll)), 'concurrency'\n"
  "    end\n"
  "    if not wait and windowed then\n"
  "      local ready = window_ready(cost)\n"
  "      if ready > now then wait, reason = ready - now, 'window' end\n"
  "    end\n"
  "    if wait then\n"
  "      out[#out + 1] = 0; out[#out + 1] = wait; out[#out + 1] = reason\n"
  "    else\n"
  "      if windowed then\n"
  "        redis.call('ZADD', KEYS[1], fmt(now), member)\n"
  "        count = count + 1\n"
  "        sum = sum + cost\n"
  "        added_cost = added_cost + cost\n"
  "        if smooth and maxw > 0 then tat_req = math.max(tat_req, now) + interval end\n"
  "        if smooth and maxcost > 0 then tat_cost = math.max(tat_cost, now) + math.ceil(cost * window / maxcost) end\n"
  "      end\n"
  "      if maxc > 0 then\n"
  "        redis.call('ZADD', KEYS[3], fmt(now + ttl), id)\n"
  "        held = held + 1\n"
  "      end\n"
  "      if half_open then\n"
  "        redis.call('HSET', KEYS[5], 'probe', id, 'probe_exp', fmt(now + ttl))\n"
  "        probe_exp = now + ttl\n"
  "      end\n"
  "      log('g ' .. fmt(now) .. ' ' .. id .. ' ' .. fmt(cost))\n"
  "      added = added + 1\n"
  "      out[#out + 1] = 1; out[#out + 1] = now; out[#out + 1] = 0\n"
  "    end\n"
  "  end\n"
  "end\n"
  "if added > 0 then\n"
  "  if windowed then\n"
  "    if added_cost ~= 0 then redis.call('HINCRBY', KEYS[2], 'sum', fmt(added_cost)) end\n"
  "    local ahead = 0\n"
  "    if smooth then\n"
  "      redis.call('HSET', KEYS[2], 'tat_req', fmt(tat_req), 'tat_cost', fmt(tat_cost))\n"
  "      ahead = math.max(0, tat_req - now, tat_cost - now)\n"
  "    end\n"
  /* Idle quotas vanish by themselves. */
  "    local keep = math.ceil((window + ahead) / 1000) + 1000\n"
  "    redis.call('PEXPIRE', KEYS[1], keep)\n"
  "    redis.call('PEXPIRE', KEYS[2], keep)\n"
  "  end\n"
  "  if maxc > 0 then redis.call('PEXPIRE', KEYS[3], math.ceil(ttl / 1000) * 2 + 1000) end\n"
  "end\n"
  "return out\n";

/* Releases a batch of leases. */
static const char release_body[] =
  PRELUDE
  "local removed = 0\n"
  "if logging then\n"
  "  for i = 1, #ARGV do\n"
  "    if redis.call('ZREM', KEYS[3], ARGV[i]) == 1 then\n"
  "      removed = removed + 1\n"
  "      log('r ' .. fmt(now) .. ' ' .. ARGV[i])\n"
  "    end\n"
  "  end\n"
  "else\n"
  "  for i = 1, #ARGV, 500 do\n"
  "    removed = removed + redis.call('ZREM', KEYS[3], unpack(ARGV, i, math.min(i + 499, #ARGV)))\n"
  "  end\n"
  "end\n"
  "local p = redis.call('HMGET', KEYS[5], 'probe', 'failed')\n"
  "if p[1] then\n"
  "  for i = 1, #ARGV do\n"
  "    if ARGV[i] == p[1] then\n"
  /* The probe came back: closed, unless a pause came meanwhile (then
   * the next request after it probes). */
  "      if p[2] == '1' then redis.call('HDEL', KEYS[5], 'probe', 'probe_exp', 'failed')\n"
  "      else redis.call('DEL', KEYS[5]) end\n"
  "    end\n"
  "  end\n"
  "end\n"
  "return removed\n";

static const char renew_body[] =
  PRELUDE
  "local ttl = tonumber(ARGV[1])\n"
  "local probe = redis.call('HGET', KEYS[5], 'probe')\n"
  "local lost = {}\n"
  "for i = 2, #ARGV do\n"
  "  if redis.call('ZADD', KEYS[3], 'XX', 'CH', fmt(now + ttl), ARGV[i]) == 0 then\n"
  "    lost[#lost + 1] = ARGV[i]\n"
  "  end\n"
  "  if probe == ARGV[i] then redis.call('HSET', KEYS[5], 'probe_exp', fmt(now + ttl)) end\n"
  "end\n"
  "if redis.call('EXISTS', KEYS[3]) == 1 then\n"
  "  redis.call('PEXPIRE', KEYS[3], math.ceil(ttl / 1000) * 2 + 1000)\n"
  "end\n"
  "return lost\n";

static const char settle_body[] =
  PRELUDE
  "local id = ARGV[1]\n"
  "local old, new = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
  "local smooth = ARGV[4] == '1'\n"
  "local maxcost = tonumber(ARGV[5])\n"
  "local window = tonumber(ARGV[6])\n"
  "local m_old, m_new = id .. '|' .. ARGV[2], id .. '|' .. ARGV[3]\n"
  "local score = redis.call('ZSCORE', KEYS[1], m_old)\n"
  "if not score then\n"
  /* Settled already (a resend), or out of the window. */
  "  if redis.call('ZSCORE', KEYS[1], m_new) then return 1 end\n"
  "  return 0\n"
  "end\n"
  "if old ~= new then\n"
  "  redis.call('ZREM', KEYS[1], m_old)\n"
  "  redis.call('ZADD', KEYS[1], score, m_new)\n"
  "  redis.call('HINCRBY', KEYS[2], 'sum', fmt(new - old))\n"
  "  if smooth and maxcost > 0 and redis.call('HEXISTS', KEYS[2], 'tat_cost') == 1 then\n"
  "    local span = math.ceil(new * window / maxcost) - math.ceil(old * window / maxcost)\n"
  "    redis.call('HINCRBY', KEYS[2], 'tat_cost', fmt(span))\n"
  "  end\n"
  "end\n"
  "return 1\n";

static const char pause_body[] =
  PRELUDE
  "local d = tonumber(ARGV[1])\n"
  "local untl = now + d\n"
  "local cur = tonumber(redis.call('GET', KEYS[4]) or '0')\n"
  "if untl <= cur then return {0, cur} end\n"
  "redis.call('SET', KEYS[4], fmt(untl), 'PX', math.max(1, math.ceil(d / 1000)))\n"
  "redis.call('HSET', KEYS[5], 'half_open', '1')\n"
  "if redis.call('HEXISTS', KEYS[5], 'probe') == 1 then\n"
  "  redis.call('HSET', KEYS[5], 'failed', '1')\n"
  "end\n"
  "log('p ' .. fmt(now) .. ' ' .. fmt(untl))\n"
  "return {1, untl}\n";

static const char stats_body[] =
  PRELUDE
  EXPIRE_WINDOW
  "expire(tonumber(ARGV[1]))\n"
  "local n = redis.call('ZCARD', KEYS[1])\n"
  "local sum = tonumber(redis.call('HGET', KEYS[2], 'sum') or '0')\n"
  "local inflight = redis.call('ZCOUNT', KEYS[3], '(' .. fmt(now), '+inf')\n"
  "local pu = tonumber(redis.call('GET', KEYS[4]) or '0')\n"
  "if pu <= now then pu = 0 end\n"
  "local ho = redis.call('HGET', KEYS[5], 'half_open') == '1' and 1 or 0\n"
  "return {n, sum, inflight, pu, now, ho}\n";

static const char *const pft_redis_bodies[PFT_REDIS_N_SCRIPTS] = {
  [PFT_REDIS_SCRIPT_ADMIT] = admit_body,
  [PFT_REDIS_SCRIPT_RELEASE] = release_body,
  [PFT_REDIS_SCRIPT_RENEW] = renew_body,
  [PFT_REDIS_SCRIPT_SETTLE] = settle_body,
  [PFT_REDIS_SCRIPT_PAUSE] = pause_body,
  [PFT_REDIS_SCRIPT_STATS] = stats_body,
};

static const char *const pft_redis_key_suffixes[PFT_REDIS_N_KEYS] = {
  "win", "meta", "lease", "pause", "probe", "debug", "log",
};

void
_pft_redis_keys_init (PftRedisKeys *keys,
                      const char   *key)
{
  g_return_if_fail (keys != NULL);
  g_return_if_fail (key != NULL);

  for (guint i = 0; i < PFT_REDIS_N_KEYS; i++)
    keys->keys[i] = g_strdup_printf ("pft:{%s}:%s", key, pft_redis_key_suffixes[i]);
}

void
_pft_redis_keys_clear (PftRedisKeys *keys)
{
  for (guint i = 0; i < PFT_REDIS_N_KEYS; i++)
    g_clear_pointer (&keys->keys[i], g_free);
}

const char *
_pft_redis_script_get_body (PftRedisScriptId id)
{
  g_return_val_if_fail (id < PFT_REDIS_N_SCRIPTS, NULL);

  return pft_redis_bodies[id];
}

const char *
_pft_redis_script_get_sha (PftRedisScriptId id)
{
  static const char *shas[PFT_REDIS_N_SCRIPTS];
  static gsize done;

  g_return_val_if_fail (id < PFT_REDIS_N_SCRIPTS, NULL);

  if (g_once_init_enter (&done))
    {
      for (guint i = 0; i < PFT_REDIS_N_SCRIPTS; i++)
        shas[i] = g_compute_checksum_for_string (G_CHECKSUM_SHA1, pft_redis_bodies[i], -1);
      g_once_init_leave (&done, 1);
    }
  return shas[id];
}

void
_pft_redis_script_eval (PftRedisConnection *conn,
                        const PftRedisKeys *keys,
                        PftRedisScriptId    script,
                        guint               n_args,
                        const char        **args,
                        PftRedisReplyFunc   func,
                        gpointer            data)
{
  g_autofree const char **argv = g_new (const char *, 1 + PFT_REDIS_N_KEYS + n_args);
  char nkeys[8];

  g_snprintf (nkeys, sizeof nkeys, "%d", PFT_REDIS_N_KEYS);
  argv[0] = nkeys;
  for (guint i = 0; i < PFT_REDIS_N_KEYS; i++)
    argv[1 + i] = keys->keys[i];
  for (guint i = 0; i < n_args; i++)
    argv[1 + PFT_REDIS_N_KEYS + i] = args[i];
  _pft_redis_connection_evalsha (conn, _pft_redis_script_get_sha (script), _pft_redis_script_get_body (script),
                                 1 + PFT_REDIS_N_KEYS + n_args, argv, func, data);
}
