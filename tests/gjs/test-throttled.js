// test-throttled.js: throttled and adaptive batch nodes and flows
// written in GJS
//
// SPDX-License-Identifier: MIT
//
// JS may not leave its thread, so every exec here is an exec_task that
// completes from a timeout on the thread-default main context (the one
// the run iterates). No assertion depends on wall-clock time.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Pft from 'gi://Pft?version=1';

import {assert, assertEqual, assertThrows, runLoop, runTests} from './harness.js';

// No Pft.error_quark() call up front: the library registers its extended
// error domain when it is loaded, so `new GLib.Error(Pft.Error, ...)` made
// in a vfunc always carries the private data the engine copies and frees.

function later(ms, fn) {
    const source = GLib.timeout_source_new(ms);
    source.set_callback(() => {
        fn();
        return GLib.SOURCE_REMOVE;
    });
    source.attach(GLib.MainContext.ref_thread_default());
}

function vardict(obj) {
    const d = {};
    for (const [k, v] of Object.entries(obj)) {
        if (typeof v === 'string')
            d[k] = new GLib.Variant('s', v);
        else if (typeof v === 'boolean')
            d[k] = new GLib.Variant('b', v);
        else
            d[k] = new GLib.Variant('x', v);
    }
    return new GLib.Variant('a{sv}', d);
}

// Calls in flight, counted inside exec.
class InFlight {
    constructor() {
        this.now = 0;
        this.max = 0;
        this.calls = 0;
    }

    enter() {
        this.now++;
        this.calls++;
        this.max = Math.max(this.max, this.now);
    }

    exit() {
        this.now--;
    }
}

// An API with a hidden concurrency limit: a call beyond it is answered
// at once with a rate-limit error.
class FakeAPI {
    constructor(limit) {
        this.limit = limit;
        this.now = 0;
        this.max = 0;
        this.rejected = 0;
    }

    // Completes task; calls before() just before, so that the caller
    // counts the call as done before the engine may start the next one.
    call(task, value, before) {
        if (this.now >= this.limit) {
            this.rejected++;
            before();
            // Both ways of answering a rate limit from JS.
            if (this.rejected % 2)
                Pft.task_return_rate_limited(task, 0.01, 'fake-api', 'too many requests');
            else
                task.return_error(Pft.error_new_rate_limited(0.01, 'fake-api', null));
            return;
        }
        this.now++;
        this.max = Math.max(this.max, this.now);
        later(3, () => {
            this.now--;
            before();
            task.return_value(value);
        });
    }
}

function trackItemDone(node) {
    const seen = [];
    node.connect('item-done', (n, index, error) => seen.push([index, error]));
    return seen;
}

function trackMin(node, prop) {
    const box = {min: node[prop.replace(/-/g, '_')], values: []};
    node.connect(`notify::${prop}`, obj => {
        const v = obj[prop.replace(/-/g, '_')];
        box.values.push(v);
        box.min = Math.min(box.min, v);
    });
    return box;
}

function valuesToArray(values) {
    const out = [];
    for (let i = 0; i < values.get_length(); i++)
        out.push(values.get(i));
    return out;
}

function range(n) {
    return [...Array(n).keys()];
}

// ------------------------------------------------------------------ //
// The knobs: GJS has no class attributes for GObject properties, so a
// subclass gives its defaults to super._init(), under the params.

const Translate = GObject.registerClass(class Translate extends Pft.ThrottledBatchNode {
    _init(params = {}) {
        super._init({max_concurrent: 3, max_per_minute: 6000, max_retries: 2, ...params});
        this.inflight = new InFlight();
        this.failing = new Set();
        this.throwing = new Set();
    }

    vfunc_prep(ctx) {
        return ctx.get_store().dup_values('items');
    }

    vfunc_exec_task(ctx, item, task) {
        if (this.throwing.has(item))
            throw new Error(`thrown for ${item}`);
        this.inflight.enter();
        later(1 + item % 4, () => {
            this.inflight.exit();
            if (this.failing.has(item))
                task.return_error(new GLib.Error(Pft.Error, Pft.Error.FAILED, `failed ${item}`));
            else
                task.return_value(`r${item}`);
        });
    }

    vfunc_post(ctx, prep, results) {
        this.results = valuesToArray(results);
        return 'translated';
    }
});

function storeWithItems(n) {
    const store = new Pft.Store();
    const items = new Pft.Values();
    for (let i = 0; i < n; i++)
        items.append_int(i);
    store.set_values('items', items);
    return store;
}

const CallsAPI = GObject.registerClass(class CallsAPI extends Pft.AdaptiveNode {
    _init(params = {}) {
        // The ceiling first: the C setter of initial-concurrent clamps
        // it into [min, max] as they are at that moment, so
        // {initial_concurrent: 30, max_concurrent: 50} in that order
        // would start at 20 (the default ceiling). Spreading params over
        // these keeps this key order.
        super._init({
            max_concurrent: 10, min_concurrent: 1, initial_concurrent: 8,
            recovery_threshold: 5, ...params,
        });
        this.inflight = new InFlight();
    }

    vfunc_prep(ctx) {
        return ctx.get_store().dup_values('items');
    }

    vfunc_exec_task(ctx, item, task) {
        this.inflight.enter();
        this.api.call(task, item * 2, () => this.inflight.exit());
    }

    vfunc_post(ctx, prep, results) {
        this.results = valuesToArray(results);
        return null;
    }
});

// The node of each walk: reads its param set.
const FetchUser = GObject.registerClass(class FetchUser extends Pft.Node {
    vfunc_prep(ctx) {
        return ctx.get_param_int('user_id', -1);
    }

    vfunc_exec_task(ctx, uid, task) {
        const fail = ctx.lookup_param('fail');
        if (fail !== null && fail.unpack()) {
            task.return_error(new GLib.Error(Pft.Error, Pft.Error.FAILED, `user ${uid}`));
            return;
        }
        this.inflight.enter();
        const exit = () => this.inflight.exit();
        if (this.api) {
            this.api.call(task, uid * 2, exit);
        } else {
            later(1 + uid % 3, () => {
                exit();
                task.return_value(uid * 2);
            });
        }
    }

    vfunc_post(ctx, uid, result) {
        ctx.get_store().set_string(`user-${uid}`, `${ctx.dup_param_string('name')}:${result}`);
        return 'fetched';
    }
});

function makeFetchUser(api = null) {
    const node = new FetchUser();
    node.inflight = new InFlight();
    node.api = api;
    return node;
}

function userSets(n, failing = []) {
    const sets = new Pft.Values();
    for (let uid = 0; uid < n; uid++)
        sets.append_variant(vardict({user_id: uid, name: `u${uid}`, fail: failing.includes(uid)}));
    return sets;
}

const ProcessUsers = GObject.registerClass(class ProcessUsers extends Pft.ThrottledBatchFlow {
    _init(params = {}) {
        super._init({max_concurrent_flows: 2, max_flows_per_minute: 6000, ...params});
        this.n = 0;
        this.failing = [];
    }

    vfunc_prep(ctx) {
        return userSets(this.n, this.failing);
    }

    vfunc_post(ctx, prep, results) {
        this.results = valuesToArray(results);
        return null;
    }
});

const AdaptiveUsers = GObject.registerClass(class AdaptiveUsers extends Pft.AdaptiveBatchFlow {
    _init(params = {}) {
        super._init({
            max_concurrent_flows: 8, initial_concurrent_flows: 6,
            recovery_threshold: 4, ...params,
        });
        this.n = 0;
    }

    vfunc_prep(ctx) {
        return userSets(this.n);
    }

    vfunc_post(ctx, prep, results) {
        this.results = valuesToArray(results);
        return null;
    }
});

function runAsync(node, store) {
    return new Promise((resolve, reject) => {
        node.run_async(store, null, (src, res) => {
            try {
                resolve(src.run_finish(res));
            } catch (e) {
                reject(e);
            }
        });
    });
}

const REGISTRY_NAME = 'gjs-test-throttled';

runTests({
    knobs() {
        const node = new Translate();
        assertEqual(node.max_concurrent, 3);
        assertEqual(node.max_per_minute, 6000);
        assertEqual(node.max_retries, 2);
        assertEqual(node.limiter.max_concurrent, 3, 'own limiter follows');
        assertEqual(new Translate({max_concurrent: 1}).max_concurrent, 1, 'params win');

        const smart = new CallsAPI({initial_concurrent: 30, max_concurrent: 50});
        assertEqual(smart.current_concurrent, 30, 'initial above the default ceiling');
        assertEqual(smart.max_concurrent, 50);
        const users = new AdaptiveUsers();
        assertEqual(users.current_concurrent_flows, 6);
        assertEqual(users.max_concurrent_flows, 8);

        const tier1 = Pft.presets_lookup('openai_tier1');
        const preset = new Translate();
        preset.apply_preset('openai_tier1');
        assertEqual(preset.max_per_minute, tier1.get_max_per_minute());
        assertThrows(() => preset.apply_preset('no-such-provider'),
            e => assert(e.matches(Pft.Error, Pft.Error.NOT_FOUND), String(e)));
    },

    throttledBatchNode() {
        const node = new Translate();
        const done = trackItemDone(node);
        assertEqual(node.run(storeWithItems(20), null), 'translated');
        assertEqual(node.results, range(20).map(i => `r${i}`), 'results in order');
        assert(node.inflight.max <= 3, `max in flight ${node.inflight.max}`);
        assertEqual(node.inflight.calls, 20);
        assertEqual(done.map(([i]) => i).sort((a, b) => a - b), range(20), 'item-done');
        assert(done.every(([, e]) => e === null), 'no errors');
        assertEqual([node.completed, node.failed, node.total], [20, 0, 20]);
        assertEqual(node.limiter.get_in_flight(), 0);
        node.reset_stats();
        assertEqual([node.completed, node.failed, node.total], [0, 0, 0]);
    },

    continueOnError() {
        const node = new Translate({continue_on_error: true, max_retries: 1});
        node.failing = new Set([0, 3, 6]);
        node.throwing = new Set([8]);
        const done = trackItemDone(node);
        node.run(storeWithItems(10), null);
        // A G_TYPE_ERROR value in the results reads as a GLib.Error.
        node.results.forEach((r, i) => {
            if (node.failing.has(i)) {
                assert(r instanceof GLib.Error, `result ${i}: ${r}`);
                assert(r.matches(Pft.Error, Pft.Error.FAILED), `${r.domain} ${r.code}`);
                assertEqual(r.message, `failed ${i}`);
            } else if (i === 8) {
                // A JS exception travels as a gjs-js-error-quark GError,
                // which GJS turns back into the JS Error.
                assert(r instanceof Error && !(r instanceof GLib.Error), `result 8: ${r}`);
                assertEqual(r.message, 'thrown for 8');
            } else {
                assertEqual(r, `r${i}`, `result ${i}`);
            }
        });
        assertEqual([node.completed, node.failed, node.total], [6, 4, 10]);
        assertEqual(done.length, 10, 'item-done count');
        assertEqual(done.filter(([, e]) => e !== null).map(([i]) => i).sort((a, b) => a - b), [0, 3, 6, 8]);
        assert(done.filter(([i, e]) => e !== null && i !== 8).every(([, e]) => e instanceof GLib.Error));
        assert(done.find(([i]) => i === 8)[1].message === 'thrown for 8');

        const strict = new Translate({max_retries: 1});
        strict.failing = new Set([4]);
        assertThrows(() => strict.run(storeWithItems(10), null),
            e => assert(e.message === 'failed 4', String(e)));
        assert(strict.failed >= 1, `failed ${strict.failed}`);
        assertEqual(strict.limiter.get_in_flight(), 0, 'every permit back');
    },

    adaptiveNodeAgainstFakeAPI() {
        const node = new CallsAPI();
        node.api = new FakeAPI(3);
        const current = trackMin(node, 'current-concurrent');
        const done = trackItemDone(node);
        node.run(storeWithItems(60), null);
        assertEqual(node.results, range(60).map(i => i * 2), 'every item, in order');
        assert(node.total_rate_limits > 0, 'rate limited at least once');
        assertEqual(node.total_rate_limits, node.api.rejected, 'every 429 counted');
        assertEqual(node.total_successes, 60);
        assert(current.min < 8, `current-concurrent went ${JSON.stringify(current.values)}`);
        assert(node.inflight.max <= 10, `max in flight ${node.inflight.max}`);
        assert(node.api.max <= 3, `api max ${node.api.max}`);
        assertEqual(done.length, 60);
        assertEqual([node.completed, node.failed, node.total], [60, 0, 60]);
        node.reset();
        assertEqual(node.current_concurrent, 8);
        assertEqual(node.total_rate_limits, 0);
    },

    throttledBatchFlowOverParamSets() {
        const fetch = makeFetchUser();
        const flow = new ProcessUsers({start: fetch});
        flow.n = 12;
        const done = trackItemDone(flow);
        const store = new Pft.Store();
        assertEqual(flow.run(store, null), 'default');
        assert(fetch.inflight.max <= 2, `max walks ${fetch.inflight.max}`);
        assertEqual(fetch.inflight.calls, 12);
        for (const uid of range(12))
            assertEqual(store.dup_string(`user-${uid}`), `u${uid}:${uid * 2}`);
        assertEqual(flow.results, Array(12).fill('fetched'));
        assertEqual(done.map(([i]) => i).sort((a, b) => a - b), range(12));
        assertEqual([flow.completed, flow.failed, flow.total], [12, 0, 12]);
    },

    throttledBatchFlowContinueOnError() {
        const flow = new ProcessUsers({start: makeFetchUser(), continue_on_error: true});
        flow.n = 8;
        flow.failing = [2, 5];
        const done = trackItemDone(flow);
        const store = new Pft.Store();
        flow.run(store, null);
        flow.results.forEach((r, i) => {
            if (flow.failing.includes(i))
                assert(r instanceof GLib.Error && r.message === `user ${i}`, `result ${i}: ${r}`);
            else
                assertEqual(r, 'fetched', `result ${i}`);
        });
        assertEqual([flow.completed, flow.failed, flow.total], [6, 2, 8]);
        assertEqual(done.filter(([, e]) => e !== null).map(([i]) => i).sort((a, b) => a - b), [2, 5]);
        assert(!store.contains('user-2'));

        const strict = new ProcessUsers({start: makeFetchUser()});
        strict.n = 6;
        strict.failing = [3];
        assertThrows(() => strict.run(new Pft.Store(), null),
            e => assert(e.message === 'user 3', String(e)));
        assert(strict.failed >= 1);
    },

    adaptiveBatchFlow() {
        const fetch = makeFetchUser(new FakeAPI(2));
        const flow = new AdaptiveUsers({start: fetch});
        flow.n = 30;
        const current = trackMin(flow, 'current-concurrent-flows');
        const done = trackItemDone(flow);
        const store = new Pft.Store();
        flow.run(store, null);
        assertEqual(flow.results, Array(30).fill('fetched'));
        for (const uid of range(30))
            assertEqual(store.dup_string(`user-${uid}`), `u${uid}:${uid * 2}`);
        assert(flow.total_rate_limits > 0, 'rate limited at least once');
        assert(current.min < 6, `current-concurrent-flows went ${JSON.stringify(current.values)}`);
        assert(fetch.inflight.max <= 8, `max walks ${fetch.inflight.max}`);
        assert(fetch.api.max <= 2, `api max ${fetch.api.max}`);
        assertEqual(done.length, 30);
        assertEqual([flow.completed, flow.failed, flow.total], [30, 0, 30]);
    },

    registryLimiterShared() {
        const registry = Pft.LimiterRegistry.get_default();
        registry.remove(REGISTRY_NAME);
        const limiter = registry.register_new(REGISTRY_NAME, 2, 0, 60.0);
        try {
            const shared = new InFlight();
            const a = new Translate({max_concurrent: 5});
            const b = new Translate({max_concurrent: 5, limiter: registry.lookup(REGISTRY_NAME)});
            a.use_registry_limiter(REGISTRY_NAME);
            a.inflight = b.inflight = shared;
            assert(a.limiter === limiter && b.limiter === limiter, 'both on the registry limiter');
            const [ra, rb] = runLoop(() => Promise.all([
                runAsync(a, storeWithItems(10)),
                runAsync(b, storeWithItems(10)),
            ]));
            assertEqual([ra, rb], ['translated', 'translated']);
            assertEqual(a.results, range(10).map(i => `r${i}`));
            assert(shared.max <= 2, `max in flight over both ${shared.max}`);
            assertEqual(shared.calls, 20);
            assertEqual(limiter.get_in_flight(), 0);
            assertEqual(a.completed + b.completed, 20);
            assertThrows(() => a.use_registry_limiter('gjs-no-such-limiter'),
                e => assert(e.matches(Pft.Error, Pft.Error.NOT_FOUND), String(e)));
        } finally {
            registry.remove(REGISTRY_NAME);
        }
    },
});
