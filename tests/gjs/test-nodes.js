// test-nodes.js: nodes, batch nodes, flows and batch flows written in GJS
//
// SPDX-License-Identifier: MIT

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Pft from 'gi://Pft?version=1';

import {assert, assertEqual, assertThrows, runLoop, runTests} from './harness.js';

// Runs a callback after ms on the thread-default main context (the one
// a sync run() iterates), not on the global default one.
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
        else if (Number.isInteger(v))
            d[k] = new GLib.Variant('x', v);
        else
            d[k] = new GLib.Variant('d', v);
    }
    return new GLib.Variant('a{sv}', d);
}

// load -> words -> (short | long); a flow of them.

const Load = GObject.registerClass(class Load extends Pft.Node {
    vfunc_prep(ctx) {
        return ctx.dup_param_string('path');
    }

    vfunc_exec(ctx, path) {
        // A plain sync exec of a JS type: AUTO runs it on the main context.
        this._ran = true;
        return `text of ${path}`;
    }

    vfunc_post(ctx, prep, result) {
        ctx.get_store().set_string('text', result);
        return null;
    }
});

const Words = GObject.registerClass(class Words extends Pft.BatchNode {
    vfunc_prep(ctx) {
        const text = ctx.get_store().dup_string('text');
        return Pft.Values.new_from_strv(text.split(' '));
    }

    vfunc_exec_task(ctx, word, task) {
        // Longer words finish first: order must come from the engine.
        later(5 * word.length, () => task.return_value(word.length));
    }

    vfunc_post(ctx, prep, results) {
        const lengths = [];
        for (let i = 0; i < results.get_length(); i++)
            lengths.push(results.get_int(i));
        ctx.get_store().set_string('lengths', JSON.stringify(lengths));
        const sum = lengths.reduce((a, b) => a + b, 0);
        return sum > ctx.get_param_int('threshold', 0) ? 'long' : 'short';
    }
});

const Report = GObject.registerClass({
    Properties: {
        'label': GObject.ParamSpec.string('label', '', '', GObject.ParamFlags.READWRITE, ''),
    },
}, class Report extends Pft.Node {
    vfunc_exec(ctx, item) {
        return this.label;
    }

    vfunc_post(ctx, prep, result) {
        ctx.get_store().set_string('report', result);
        return 'finished';
    }
});

const MyFlow = GObject.registerClass(class MyFlow extends Pft.Flow {
    vfunc_post(ctx, prep, lastAction) {
        ctx.get_store().set_string('last', lastAction);
        return 'flow-done';
    }
});

function buildFlow(threshold) {
    const load = new Load();
    const words = new Words({max_concurrent: 3});
    load.add_successor(null, words);
    words.add_successor('short', new Report({label: 'short'}));
    words.add_successor('long', new Report({label: 'long'}));
    const flow = new MyFlow({start: load});
    flow.set_params(vardict({path: 'a.txt', threshold}));
    return [flow, load];
}

const Failing = GObject.registerClass(class Failing extends Pft.Node {
    _init(params = {}) {
        super._init(params);
        this.calls = 0;
        this.attempts = [];
        this.makeError = () => new Error('js boom');
    }

    vfunc_exec(ctx, item) {
        this.calls++;
        this.attempts.push(ctx.get_attempt());
        throw this.makeError();
    }
});

const Greet = GObject.registerClass(class Greet extends Pft.Node {
    vfunc_prep(ctx) {
        return ctx.get_params();
    }

    vfunc_exec(ctx, params) {
        const p = params.deepUnpack();
        return `${p.name.unpack()}-${p.n.unpack()}`;
    }

    vfunc_post(ctx, prep, result) {
        ctx.get_store().set_string(`greet-${ctx.get_param_int('n', -1)}`, result);
        return 'greeted';
    }
});

const PerName = GObject.registerClass(class PerName extends Pft.BatchFlow {
    vfunc_prep(ctx) {
        const sets = new Pft.Values();
        ['ann', 'bob', 'cy'].forEach((name, n) => sets.append_variant(vardict({name, n})));
        return sets;
    }

    vfunc_post(ctx, prep, actions) {
        ctx.get_store().set_int('runs', actions.get_length());
        return null;
    }
});

runTests({
    typelib() {
        assert(/^\d+\.\d+\.\d+$/.test(Pft.get_version_string()), Pft.get_version_string());
    },

    flowWithParamsAndRouting() {
        let [flow, load] = buildFlow(100);
        let store = new Pft.Store();
        assertEqual(flow.run(store, null), 'flow-done', 'action');
        assertEqual(store.dup_string('text'), 'text of a.txt', 'text');
        assertEqual(store.dup_string('lengths'), '[4,2,5]', 'lengths in order');
        assertEqual(store.dup_string('report'), 'short', 'route');
        assertEqual(store.dup_string('last'), 'finished', 'last action');
        assert(load._ran, 'sync exec ran');
        assertEqual(load.thread_policy, Pft.ThreadPolicy.AUTO, 'policy');

        [flow] = buildFlow(3);
        store = new Pft.Store();
        flow.run(store, null);
        assertEqual(store.dup_string('report'), 'long', 'route long');
    },

    nodeParams() {
        const node = new Load();
        node.set_params(vardict({path: 'b.txt'}));
        const store = new Pft.Store();
        assertEqual(node.run(store, null), 'default');
        assertEqual(store.dup_string('text'), 'text of b.txt');
    },

    runAsyncInMainLoop() {
        const [flow] = buildFlow(100);
        const store = new Pft.Store();
        const action = runLoop(() => new Promise((resolve, reject) => {
            flow.run_async(store, null, (src, res) => {
                try {
                    resolve(src.run_finish(res));
                } catch (e) {
                    reject(e);
                }
            });
        }));
        assertEqual(action, 'flow-done');
        assertEqual(store.dup_string('report'), 'short');
    },

    jsErrorReachesCallerAfterRetries() {
        const node = new Failing({max_retries: 3});
        const e = assertThrows(() => node.run(new Pft.Store(), null));
        assert(String(e).includes('js boom'), String(e));
        assertEqual(node.calls, 3, 'calls');
        assertEqual(node.attempts, [1, 2, 3], 'attempts');
    },

    glibErrorReachesCaller() {
        const node = new Failing({max_retries: 2});
        node.makeError = () => new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND, 'no such file');
        const e = assertThrows(() => node.run(new Pft.Store(), null));
        assert(e instanceof GLib.Error, `not a GLib.Error: ${e}`);
        assert(e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND), `${e.domain} ${e.code}`);
        assertEqual(e.message, 'no such file');
        assertEqual(node.calls, 2);
    },

    errorInFlowAndAsync() {
        const ok = new Report({label: 'x'});
        ok.add_successor('finished', new Failing());
        const flow = Pft.Flow.new(ok);
        assertThrows(() => flow.run(new Pft.Store(), null), e => assert(String(e).includes('js boom'), String(e)));
        assertThrows(() => runLoop(() => new Promise((resolve, reject) => {
            flow.run_async(new Pft.Store(), null, (src, res) => {
                try {
                    resolve(src.run_finish(res));
                } catch (e) {
                    reject(e);
                }
            });
        })), e => assert(String(e).includes('js boom'), String(e)));
    },

    execTaskErrors() {
        const Thrower = GObject.registerClass(class Thrower extends Pft.Node {
            vfunc_exec_task(ctx, item, task) {
                throw new Error('thrown from exec_task');
            }
        });
        assertThrows(() => new Thrower({max_retries: 2}).run(new Pft.Store(), null),
            e => assert(String(e).includes('thrown from exec_task'), String(e)));

        const Returner = GObject.registerClass(class Returner extends Pft.Node {
            vfunc_exec_task(ctx, item, task) {
                later(1, () => task.return_error(new GLib.Error(Pft.Error, Pft.Error.FAILED, 'returned')));
            }
        });
        assertThrows(() => new Returner().run(new Pft.Store(), null),
            e => assert(e.matches(Pft.Error, Pft.Error.FAILED) && e.message === 'returned', String(e)));
    },

    parallelBatchInOrder() {
        let inflight = 0, maxInflight = 0;
        const Par = GObject.registerClass(class Par extends Pft.BatchNode {
            vfunc_prep(ctx) {
                const v = new Pft.Values();
                for (let i = 0; i < 10; i++)
                    v.append_int(i);
                return v;
            }

            vfunc_exec_task(ctx, item, task) {
                inflight++;
                maxInflight = Math.max(maxInflight, inflight);
                later(2 * (10 - item), () => {
                    inflight--;
                    task.return_value(`r${item}`);
                });
            }

            vfunc_post(ctx, prep, results) {
                ctx.get_store().set_values('results', results);
                return null;
            }
        });
        const store = new Pft.Store();
        new Par({max_concurrent: 4}).run(store, null);
        const results = store.dup_values('results');
        assertEqual(results.dup_strv(), [...Array(10).keys()].map(i => `r${i}`), 'order');
        assert(maxInflight > 1 && maxInflight <= 4, `max in flight ${maxInflight}`);
    },

    syncExecBatchOnMainContext() {
        // A sync vfunc_exec in a parallel batch: AUTO keeps it on the main
        // context, where JS can run; results still come in order.
        const Sync = GObject.registerClass(class Sync extends Pft.BatchNode {
            vfunc_prep(ctx) {
                return Pft.Values.new_from_strv(['a', 'bb', 'ccc']);
            }

            vfunc_exec(ctx, item) {
                return item.toUpperCase();
            }

            vfunc_post(ctx, prep, results) {
                ctx.get_store().set_values('r', results);
                return null;
            }
        });
        const store = new Pft.Store();
        new Sync({max_concurrent: 3}).run(store, null);
        assertEqual(store.dup_values('r').dup_strv(), ['A', 'BB', 'CCC']);
    },

    batchFlowWithParamSets() {
        const flow = new PerName({start: new Greet(), max_concurrent: 2});
        const store = new Pft.Store();
        assertEqual(flow.run(store, null), 'default');
        assertEqual(store.dup_string('greet-0'), 'ann-0');
        assertEqual(store.dup_string('greet-2'), 'cy-2');
        assertEqual(store.get_int('runs', -1), 3);
    },

    storeValues() {
        const store = new Pft.Store();
        store.set_int('big', 2 ** 40);
        assertEqual(store.get_int('big', 0), 2 ** 40);
        store.set_value('s', 'str');   // a string is guessed fine
        const v = store.lookup('s');
        assertEqual(v, 'str');
        assertEqual(store.lookup('absent'), null);
        assert(store.contains('s') && !store.contains('absent'));
    },

    rateLimitError() {
        const Limited = GObject.registerClass(class Limited extends Pft.Node {
            vfunc_exec(ctx, item) {
                throw Pft.error_new_rate_limited(2.5, 'api', null);
            }
        });
        const e = assertThrows(() => new Limited().run(new Pft.Store(), null));
        assert(e.matches(Pft.Error, Pft.Error.RATE_LIMITED), String(e));
        assert(Pft.error_is_rate_limit(e));
        assertEqual(Pft.error_get_retry_after(e), 2.5);

        const Tasked = GObject.registerClass(class Tasked extends Pft.Node {
            vfunc_exec_task(ctx, item, task) {
                Pft.task_return_rate_limited(task, 1.5, 'src', null);
            }
        });
        const e2 = assertThrows(() => new Tasked().run(new Pft.Store(), null));
        assertEqual(Pft.error_get_retry_after(e2), 1.5);
    },
});
