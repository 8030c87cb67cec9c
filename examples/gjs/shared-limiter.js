// shared-limiter.js: one limiter for every caller of one provider
//
// The API takes 4 calls at once. Two flows run at the same time on one
// main loop, each with a node that translates into its own language, and
// a third caller uses the API directly, outside any node. All of them take
// their permits from the limiter registered as "llm" in the default
// registry, so together they never exceed 4, and the API rejects nothing.
// (JavaScript has one thread: the C, Python and Vala versions of this
// recipe share the limiter across threads too.)
//
// SPDX-License-Identifier: MIT

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Pft from 'gi://Pft?version=1';
import System from 'system';

import {FakeLlm, translateTask} from './fakeLlm.js';

const N_TEXTS = 12;
const api = new FakeLlm({maxConcurrent: 4});
const loop = new GLib.MainLoop(null, false);
let running = 3;

function finished(what) {
    print(what);
    if (--running === 0)
        loop.quit();
}

const Translate = GObject.registerClass({
    Properties: {
        lang: GObject.ParamSpec.string('lang', 'lang', 'target language',
            GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY, 'de'),
    },
}, class Translate extends Pft.ThrottledBatchNode {
    vfunc_prep(ctx) {
        return ctx.get_store().dup_values('texts');
    }

    vfunc_exec_task(ctx, text, task) {
        translateTask(api, ctx, text, this.lang, task);
    }
});

function runFlow(lang) {
    const node = new Translate({lang});
    node.use_registry_limiter('llm');   // the node's own limits give way
    const texts = new Pft.Values();
    for (let i = 0; i < N_TEXTS; i++)
        texts.append_string('thank you');
    const store = new Pft.Store();
    store.set_values('texts', texts);
    // run_async: the flow runs on this thread's main loop, beside the others.
    node.run_async(store, null, (obj, result) => {
        obj.run_finish(result);
        finished(`[${lang}] ${N_TEXTS} texts translated`);
    });
}

// A caller outside any node: acquire a permit, call, release.
function directCalls(limiter, left) {
    if (left === 0) {
        finished(`[direct] ${N_TEXTS} calls made`);
        return;
    }
    limiter.acquire_async(1, null, (obj, result) => {
        const permit = limiter.acquire_finish(result);
        api.translate('hello', 'de', GLib.MainContext.default(), error => {
            permit.release();
            if (error) {
                printerr(error.message);
                System.exit(1);
            }
            directCalls(limiter, left - 1);
        });
    });
}

// At start-up: one limiter per provider, by name.
const registry = Pft.LimiterRegistry.get_default();
registry.register_new('llm', 4, 600, 60.0);

runFlow('de');
runFlow('fr');
directCalls(registry.lookup('llm'), N_TEXTS);
loop.run();
print(`${api.served} calls served; the API saw at most ${api.peakInFlight} at once (limit 4) ` +
      `and rejected ${api.rejected}`);
