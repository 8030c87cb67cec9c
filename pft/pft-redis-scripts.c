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
  "local logging = redis.call('EXISTS', KEYS[7]) == 1\n" \
  "local function log(s) if logging then redis.call('RPUSH', KEYS[8], s) end end\n"

/* Drops the requests older than the window, and their cost from the sum. */
#define EXPIRE_WINDOW \
  "local function expire(window)\n" \
  "  local cut = now - window\n" \
  "  while true do\n" \
  "    local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', fmt(cut), 'LIMIT', 0, 1000)\n" \
  "    if #old == 0 then break end\n" \
  "    local costs = redis.call('HMGET', KEYS[2], unpack(old))\n" \
  "    local sum = 0\n" \
  "    for i = 1, #costs do sum = sum + (tonumber(costs[i]) or 0) end\n" \
  "    redis.call('ZREM', KEYS[1], unpack(old))\n" \
  "    redis.call('HDEL', KEYS[2], unpack(old))\n" \
  "    if sum ~= 0 then redis.call('HINCRBY', KEYS[3], 'sum', fmt(-sum)) end\n" \
  "    if #old < 1000 then break end\n" \
  "  end\n" \
  "end\n"

static const char admit_body[] =
  PRELUDE
  EXPIRE_WINDOW
  "local id = ARGV[1]\n"
  "local cost = tonumber(ARGV[2])\n"
  "local smooth = ARGV[3] == '1'\n"
  "local maxw = tonumber(ARGV[4])\n"
  "local maxcost = tonumber(ARGV[5])\n"
  "local window = tonumber(ARGV[6])\n"
  "local burst = tonumber(ARGV[7])\n"
  "local maxc = tonumber(ARGV[8])\n"
  "local ttl = tonumber(ARGV[9])\n"
  "local poll = tonumber(ARGV[10])\n"
  "local windowed = maxw > 0 or maxcost > 0\n"
  /* Sent again after a lost reply: it was granted already. */
  "if (maxc > 0 and redis.call('ZSCORE', KEYS[4], id)) or\n"
  "   (windowed and redis.call('HEXISTS', KEYS[2], id) == 1) then\n"
  "  return {1, now, 1}\n"
  "end\n"
  "local pu = tonumber(redis.call('GET', KEYS[5]) or '0')\n"
  "if pu > now then return {0, pu - now, 'paused'} end\n"
  "local probe = redis.call('HMGET', KEYS[6], 'half_open', 'probe', 'probe_exp')\n"
  "local half_open = probe[1] == '1'\n"
  "if half_open and probe[2] then\n"
  "  local exp = tonumber(probe[3])\n"
  "  if exp > now then return {0, math.max(1, math.min(exp - now, poll)), 'probe'} end\n"
  /* Its holder vanished without a verdict: this request probes. */
  "  redis.call('HDEL', KEYS[6], 'probe', 'probe_exp', 'failed')\n"
  "end\n"
  "if maxc > 0 then\n"
  "  local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', fmt(now))\n"
  "  if #gone > 0 then\n"
  "    redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', fmt(now))\n"
  "    for i = 1, #gone do log('x ' .. fmt(now) .. ' ' .. gone[i]) end\n"
  "  end\n"
  "  if redis.call('ZCARD', KEYS[4]) >= maxc then\n"
  "    local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')\n"
  "    return {0, math.max(1, math.min(tonumber(first[2]) - now, poll)), 'concurrency'}\n"
  "  end\n"
  "end\n"
  "local ready = now\n"
  "local meta = {false, false}\n"
  "local interval = 0\n"
  "if windowed then\n"
  "  expire(window)\n"
  "  if smooth then\n"
  "    meta = redis.call('HMGET', KEYS[3], 'tat_req', 'tat_cost')\n"
  "    local tau = 0\n"
  "    if maxw > 0 then\n"
  "      interval = math.ceil(window / maxw)\n"
  "      tau = (burst - 1) * interval\n"
  "      local tat = tonumber(meta[1] or '0')\n"
  "      if tat - tau > now then ready = math.max(ready, tat - tau) end\n"
  "    end\n"
  "    if maxcost > 0 then\n"
  "      local tat = tonumber(meta[2] or '0')\n"
  "      if tat - tau > now then ready = math.max(ready, tat - tau) end\n"
  "    end\n"
  "  else\n"
  "    local n = redis.call('ZCARD', KEYS[1])\n"
  "    if maxw > 0 and n >= maxw then\n"
  /* The oldest n + 1 - maxw must leave first. */
  "      local e = redis.call('ZRANGE', KEYS[1], n - maxw, n - maxw, 'WITHSCORES')\n"
  "      ready = math.max(ready, tonumber(e[2]) + window)\n"
  "    end\n"
  "    if maxcost > 0 then\n"
  "      local left = tonumber(redis.call('HGET', KEYS[3], 'sum') or '0')\n"
  "      local start = 0\n"
  "      local found = left + cost <= maxcost\n"
  "      while not found do\n"
  "        local es = redis.call('ZRANGE', KEYS[1], start, start + 199, 'WITHSCORES')\n"
  "        if #es == 0 then break end\n"
  "        local ids = {}\n"
  "        for i = 1, #es, 2 do ids[#ids + 1] = es[i] end\n"
  "        local cs = redis.call('HMGET', KEYS[2], unpack(ids))\n"
  "        for i = 1, #ids do\n"
  "          left = left - (tonumber(cs[i]) or 0)\n"
  "          if left + cost <= maxcost then\n"
  "            ready = math.max(ready, tonumber(es[2 * i]) + window)\n"
  "            found = true\n"
  "            break\n"
  "          end\n"
  "        end\n"
  "        start = start + 200\n"
  "      end\n"
  "    end\n"
  "  end\n"
  "end\n"
  "if ready > now then return {0, ready - now, 'window'} end\n"
  "if windowed then\n"
  "  redis.call('ZADD', KEYS[1], fmt(now), id)\n"
  "  redis.call('HSET', KEYS[2], id, fmt(cost))\n"
  "  redis.call('HINCRBY', KEYS[3], 'sum', fmt(cost))\n"
  "  local ahead = 0\n"
  "  if smooth then\n"
  "    if maxw > 0 then\n"
  "      local tat = math.max(tonumber(meta[1] or '0'), now) + interval\n"
  "      redis.call('HSET', KEYS[3], 'tat_req', fmt(tat))\n"
  "      ahead = math.max(ahead, tat - now)\n"
  "    end\n"
  "    if maxcost > 0 then\n"
  "      local tat = math.max(tonumber(meta[2] or '0'), now) + math.ceil(cost * window / maxcost)\n"
  "      redis.call('HSET', KEYS[3], 'tat_cost', fmt(tat))\n"
  "      ahead = math.max(ahead, tat - now)\n"
  "    end\n"
  "  end\n"
  /* Idle quotas vanish by themselves. */
  "  local keep = math.ceil((window + ahead) / 1000) + 1000\n"
  "  redis.call('PEXPIRE', KEYS[1], keep)\n"
  "  redis.call('PEXPIRE', KEYS[2], keep)\n"
  "  redis.call('PEXPIRE', KEYS[3], keep)\n"
  "end\n"
  "if maxc > 0 then\n"
  "  redis.call('ZADD', KEYS[4], fmt(now + ttl), id)\n"
  "  redis.call('PEXPIRE', KEYS[4], math.ceil(ttl / 1000) * 2 + 1000)\n"
  "end\n"
  "if half_open then\n"
  "  redis.call('HSET', KEYS[6], 'probe', id, 'probe_exp', fmt(now + ttl))\n"
  "end\n"
  "log('g ' .. fmt(now) .. ' ' .. id .. ' ' .. fmt(cost))\n"
  "return {1, now, 0}\n";

static const char release_body[] =
  PRELUDE
  "local id = ARGV[1]\n"
  "local removed = redis.call('ZREM', KEYS[4], id)\n"
  "local p = redis.call('HMGET', KEYS[6], 'probe', 'failed')\n"
  "if p[1] == id then\n"
  "  if p[2] == '1' then\n"
  "    redis.call('HDEL', KEYS[6], 'probe', 'probe_exp', 'failed')\n"
  "  else\n"
  "    redis.call('DEL', KEYS[6])\n"
  "  end\n"
  "end\n"
  "if removed == 1 then log('r ' .. fmt(now) .. ' ' .. id) end\n"
  "return removed\n";

static const char renew_body[] =
  PRELUDE
  "local ttl = tonumber(ARGV[1])\n"
  "local probe = redis.call('HGET', KEYS[6], 'probe')\n"
  "local lost = {}\n"
  "for i = 2, #ARGV do\n"
  "  if redis.call('ZADD', KEYS[4], 'XX', 'CH', fmt(now + ttl), ARGV[i]) == 0 then\n"
  "    lost[#lost + 1] = ARGV[i]\n"
  "  end\n"
  "  if probe == ARGV[i] then redis.call('HSET', KEYS[6], 'probe_exp', fmt(now + ttl)) end\n"
  "end\n"
  "if redis.call('EXISTS', KEYS[4]) == 1 then\n"
  "  redis.call('PEXPIRE', KEYS[4], math.ceil(ttl / 1000) * 2 + 1000)\n"
  "end\n"
  "return lost\n";

static const char settle_body[] =
  PRELUDE
  "local id = ARGV[1]\n"
  "local new = tonumber(ARGV[2])\n"
  "local smooth = ARGV[3] == '1'\n"
  "local maxcost = tonumber(ARGV[4])\n"
  "local window = tonumber(ARGV[5])\n"
  "local old = redis.call('HGET', KEYS[2], id)\n"
  "if not old then return -1 end\n"
  "old = tonumber(old)\n"
  "if old ~= new then\n"
  "  redis.call('HSET', KEYS[2], id, fmt(new))\n"
  "  redis.call('HINCRBY', KEYS[3], 'sum', fmt(new - old))\n"
  "  if smooth and maxcost > 0 and redis.call('HEXISTS', KEYS[3], 'tat_cost') == 1 then\n"
  "    local span = math.ceil(new * window / maxcost) - math.ceil(old * window / maxcost)\n"
  "    redis.call('HINCRBY', KEYS[3], 'tat_cost', fmt(span))\n"
  "  end\n"
  "end\n"
  "return old\n";

static const char pause_body[] =
  PRELUDE
  "local d = tonumber(ARGV[1])\n"
  "local untl = now + d\n"
  "local cur = tonumber(redis.call('GET', KEYS[5]) or '0')\n"
  "if untl <= cur then return {0, cur} end\n"
  "redis.call('SET', KEYS[5], fmt(untl), 'PX', math.max(1, math.ceil(d / 1000)))\n"
  "redis.call('HSET', KEYS[6], 'half_open', '1')\n"
  "if redis.call('HEXISTS', KEYS[6], 'probe') == 1 then\n"
  "  redis.call('HSET', KEYS[6], 'failed', '1')\n"
  "end\n"
  "log('p ' .. fmt(now) .. ' ' .. fmt(untl))\n"
  "return {1, untl}\n";

static const char stats_body[] =
  PRELUDE
  EXPIRE_WINDOW
  "expire(tonumber(ARGV[1]))\n"
  "local n = redis.call('ZCARD', KEYS[1])\n"
  "local sum = tonumber(redis.call('HGET', KEYS[3], 'sum') or '0')\n"
  "local inflight = redis.call('ZCOUNT', KEYS[4], '(' .. fmt(now), '+inf')\n"
  "local pu = tonumber(redis.call('GET', KEYS[5]) or '0')\n"
  "if pu <= now then pu = 0 end\n"
  "local ho = redis.call('HGET', KEYS[6], 'half_open') == '1' and 1 or 0\n"
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
  "win", "cost", "meta", "lease", "pause", "probe", "debug", "log",
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
