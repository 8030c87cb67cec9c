// translate-batch.js: a batch of translations under a provider preset
//
// A throttled batch node translates a list of texts, one call to the
// (simulated) API each, with the limits of the preset "openai_tier1":
// 5 calls at once, 60 a minute. Run with `gjs -m translate-batch.js`.
//
// SPDX-License-Identifier: MIT

import GObject from 'gi://GObject';
import Pft from 'gi://Pft?version=1';

import {FakeLlm, translateTask} from './fakeLlm.js';

const api = new FakeLlm({maxConcurrent: 5});   // its limits, unknown to the node

const Translate = GObject.registerClass(
class Translate extends Pft.ThrottledBatchNode {
    vfunc_prep(ctx) {
        return ctx.get_store().dup_values('texts');
    }

    // JavaScript runs on the main context: exec_task overlaps the calls.
    vfunc_exec_task(ctx, text, task) {
        translateTask(api, ctx, text, 'de', task);
    }

    vfunc_post(ctx, texts, translations) {
        ctx.get_store().set_values('translations', translations);
        return null;
    }
});

const texts = ['hello', 'world', 'good morning', 'thank you', 'cat', 'dog', 'rate limit', 'flow'];
const store = new Pft.Store();
store.set_values('texts', Pft.Values.new_from_strv(texts));
const node = new Translate();
node.apply_preset('openai_tier1');
new Pft.Flow({start: node}).run(store, null);

const translations = store.dup_values('translations');
texts.forEach((text, i) => print(`${text.padEnd(14)} -> ${translations.get_string(i)}`));
print(`translated ${node.completed} texts under openai_tier1 (max-concurrent ${node.max_concurrent}, ` +
      `max-per-minute ${node.max_per_minute}); the API saw at most ${api.peakInFlight} at once ` +
      `and rejected ${api.rejected}`);
