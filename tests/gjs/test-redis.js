// test-redis.js: a limiter shared through Redis, from GJS
//
// SPDX-License-Identifier: MIT
//
// Run by tests/redis-run, which starts a private redis-server and sets
// PFT_TEST_REDIS_URI.

import GLib from 'gi://GLib';
import Pft from 'gi://Pft?version=1';

import {assert, assertEqual, assertThrows, runLoop, runTests} from './harness.js';

const URI = GLib.getenv('PFT_TEST_REDIS_URI');

function acquire(limiter) {
    return new Promise((resolve, reject) => {
        limiter.acquire_async(1, null, (l, res) => {
            try {
                resolve(l.acquire_finish(res));
            } catch (e) {
                reject(e);
            }
        });
    });
}

runTests({
    newRedis() {
        const limiter = Pft.RateLimiter.new_redis(URI, 'gjs-new', 2, 10, 1.0);
        assertEqual(limiter.backend, 'redis', 'backend');
        assertEqual(limiter.redis_key, 'gjs-new', 'redis-key');
        assertEqual(limiter.fallback, Pft.LimiterFallback.FAIL, 'fallback');
        limiter.fallback = Pft.LimiterFallback.LOCAL;
        assertEqual(limiter.get_fallback(), Pft.LimiterFallback.LOCAL, 'fallback set');
    },

    oneQuotaTwoConnections() {
        // Another spelling of the server: another connection, as another
        // process would have.
        const a = Pft.RateLimiter.new_redis(URI, 'gjs-shared', 1, 100, 1.0);
        const b = Pft.RateLimiter.new_redis(URI.replace(/\/0$/, ''), 'gjs-shared', 1, 100, 1.0);
        runLoop(async () => {
            const held = await acquire(a);
            let second = null;
            const waiting = acquire(b).then(p => {
                second = p;
            });
            await new Promise(r => GLib.timeout_add(GLib.PRIORITY_DEFAULT, 100, () => r()));
            assertEqual(second, null, 'b waits for the slot a holds');
            held.release();
            await waiting;
            assert(second !== null, 'b got it once a released');
            // Without blocking the main loop: the round trip waits in a thread.
            const stats = await new Promise((resolve, reject) => {
                b.dup_shared_stats_async(null, (l, res) => {
                    try {
                        resolve(l.dup_shared_stats_finish(res).deepUnpack());
                    } catch (e) {
                        reject(e);
                    }
                });
            });
            assertEqual(stats.in_flight.deepUnpack(), 1, 'in flight, both connections');
            second.release();
        });
    },

    unreachable() {
        const e = assertThrows(() => Pft.RateLimiter.new_redis('redis://:hunter2@127.0.0.1:1/0', 'gjs-down', 1, 1, 1.0));
        assert(e.matches(Pft.Error, Pft.Error.BACKEND_UNAVAILABLE), String(e));
        assert(e.message.includes(':***@127.0.0.1'), e.message);
        assert(!e.message.includes('hunter2'), e.message);
    },
});
