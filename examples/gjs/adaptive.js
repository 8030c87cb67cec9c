// adaptive.js: adaptive concurrency against a limit nobody told us about
//
// The API accepts 3 calls at once and rejects the rest with a 429. An
// adaptive node starts at 8 at once, backs off on the 429s, retries the
// rejected items (a rate limit does not use up max-retries) and settles
// near what the API takes; every item is translated in the end.
//
// SPDX-License-Identifier: MIT

import GObject from 'gi://GObject';
import Pft from 'gi://Pft?version=1';

import {FakeLlm, translateTask} from './fakeLlm.js';

const N_TEXTS = 60;
const api = new FakeLlm({maxConcurrent: 3});   // the hidden limit

const Smart = GObject.registerClass(
class Smart extends Pft.AdaptiveNode {
    vfunc_prep(ctx) {
        return ctx.get_store().dup_values('texts');
    }

    vfunc_exec_task(ctx, text, task) {
        // A 429 completes the task with Pft.Error.RATE_LIMITED: the node adapts.
        translateTask(api, ctx, text, 'fr', task);
    }
});

const texts = new Pft.Values();
for (let i = 0; i < N_TEXTS; i++)
    texts.append_string(i % 2 ? 'cat' : 'dog');
const store = new Pft.Store();
store.set_values('texts', texts);

const smart = new Smart({
    initial_concurrent: 8,      // start optimistic
    min_concurrent: 1,
    max_concurrent: 12,
    backoff_factor: 0.5,        // halve on a 429
    recovery_threshold: 10,     // grow after 10 successes
});
smart.connect('notify::current-concurrent', node => {
    print(`  concurrency now ${node.current_concurrent} (after ${node.total_rate_limits} rate limits)`);
});
print(`starting at ${smart.current_concurrent} at once`);
new Pft.Flow({start: smart}).run(store, null);
print(`translated ${smart.total_successes} of ${N_TEXTS} texts; the API rejected ${api.rejected} calls, ` +
      `never saw more than ${api.peakInFlight} at once; the node ended at ${smart.current_concurrent} at once`);
