// test-limiter.js: GJS nodes sharing a limiter of the registry
//
// SPDX-License-Identifier: MIT

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Pft from 'gi://Pft?version=1';

import {assert, assertEqual, assertThrows, runLoop, runTests} from './harness.js';

const NAME = 'gjs-test-shared';

const shared = {now: 0, max: 0, limiterMax: 0, limiter: null};

// Each exec takes a permit with acquire_async (GJS may not block the
// main context), holds it a few ms, then completes its task.
const Caller = GObject.registerClass(class Caller extends Pft.BatchNode {
    vfunc_prep(ctx) {
        const items = [];
        for (let i = 0; i < 6; i++)
            items.push(`${this.name}${i}`);
        return Pft.Values.new_from_strv(items);
    }

    vfunc_exec_task(ctx, item, task) {
        const context = GLib.MainContext.ref_thread_default();
        shared.limiter.acquire_async(1, ctx.get_cancellable(), (limiter, res) => {
            let permit;
            try {
                permit = limiter.acquire_finish(res);
            } catch (e) {
                task.return_error(e);
                return;
            }
            shared.now++;
            shared.max = Math.max(shared.max, shared.now);
            shared.limiterMax = Math.max(shared.limiterMax, limiter.get_in_flight());
            const source = GLib.timeout_source_new(5);
            source.set_callback(() => {
                shared.now--;
                permit.release();
                task.return_value(item.toUpperCase());
                return GLib.SOURCE_REMOVE;
            });
            source.attach(context);
        });
    }

    vfunc_post(ctx, prep, results) {
        ctx.get_store().set_values(this.name, results);
        return null;
    }
});

function runBoth(nodes, store) {
    return runLoop(() => Promise.all(nodes.map(node => new Promise((resolve, reject) => {
        node.run_async(store, null, (src, res) => {
            try {
                resolve(src.run_finish(res));
            } catch (e) {
                reject(e);
            }
        });
    }))));
}

runTests({
    twoNodesShareOneLimiter() {
        const registry = Pft.LimiterRegistry.get_default();
        registry.remove(NAME);
        registry.register_new(NAME, 2, 0, 60.0);
        try {
            shared.limiter = registry.lookup(NAME);
            const a = new Caller({name: 'a', max_concurrent: 4});
            const b = new Caller({name: 'b', max_concurrent: 4});
            const store = new Pft.Store();
            runBoth([a, b], store);
            assertEqual(store.dup_values('a').dup_strv(), ['A0', 'A1', 'A2', 'A3', 'A4', 'A5'], 'a');
            assertEqual(store.dup_values('b').dup_strv(), ['B0', 'B1', 'B2', 'B3', 'B4', 'B5'], 'b');
            assert(shared.max >= 1 && shared.max <= 2, `max in flight ${shared.max}`);
            assert(shared.limiterMax <= 2, `limiter in flight ${shared.limiterMax}`);
            assertEqual(shared.limiter.get_total_admitted(), 12, 'admitted');
            assertEqual(shared.limiter.get_in_flight(), 0, 'in flight at the end');
        } finally {
            registry.remove(NAME);
        }
    },

    rateLimitErrorPausesTheLimiter() {
        const registry = Pft.LimiterRegistry.get_default();
        registry.remove(NAME);
        const limiter = registry.register_new(NAME, 2, 0, 60.0);
        const seen = {};
        const Limited = GObject.registerClass(class Limited extends Pft.Node {
            vfunc_exec(ctx, item) {
                throw Pft.error_new_rate_limited(30.0, 'gjs-api', null);
            }

            vfunc_exec_fallback(ctx, item, reason) {
                seen.retryAfter = Pft.error_get_retry_after(reason);
                seen.reported = limiter.report_error(reason);
                throw reason;
            }
        });
        try {
            const e = assertThrows(() => new Limited().run(new Pft.Store(), null));
            assert(e.matches(Pft.Error, Pft.Error.RATE_LIMITED), String(e));
            assertEqual(Pft.error_get_retry_after(e), 30.0, 'retry-after of the error');
            assertEqual(seen.retryAfter, 30.0, 'retry-after in fallback');
            assert(seen.reported, 'report_error');
            assert(limiter.get_paused_for() > 0, 'paused');
        } finally {
            registry.remove(NAME);
        }
    },
});
