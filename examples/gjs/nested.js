// nested.js: throttling at two levels
//
// A throttled batch flow translates documents, 2 at once; inside each
// walk, a throttled batch node translates the document's sentences, 3
// calls at once. The node's limiter belongs to the node object, which
// every walk shares, so the API sees at most 3 calls at once in total,
// not 2 x 3 (the seed copied the node per walk and made up to 6).
//
// SPDX-License-Identifier: MIT

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Pft from 'gi://Pft?version=1';

import {FakeLlm, translateTask} from './fakeLlm.js';

const api = new FakeLlm();   // no hidden limit: we watch the peak

const Sentences = GObject.registerClass(
class Sentences extends Pft.ThrottledBatchNode {
    // This walk's document, from its params.
    vfunc_prep(ctx) {
        return Pft.Values.new_from_strv(ctx.dup_param_string('doc').split('. '));
    }

    vfunc_exec_task(ctx, sentence, task) {
        translateTask(api, ctx, sentence, 'de', task);
    }

    vfunc_post(ctx, sentences, german) {
        ctx.get_store().set_string(`doc-${ctx.get_param_int('index', 0)}`,
            german.dup_strv().join('. '));
        return null;
    }
});

const Documents = GObject.registerClass(
class Documents extends Pft.ThrottledBatchFlow {
    vfunc_prep(ctx) {
        const docs = ctx.get_store().dup_values('documents').dup_strv();
        const sets = new Pft.Values();
        docs.forEach((doc, index) => sets.append_variant(new GLib.Variant('a{sv}', {
            index: new GLib.Variant('x', index),
            doc: new GLib.Variant('s', doc),
        })));
        return sets;
    }
});

const documents = ['hello. good morning. thank you', 'cat. dog. flow. rate limit',
    'hello. world', 'thank you. good morning. cat'];
const store = new Pft.Store();
store.set_values('documents', Pft.Values.new_from_strv(documents));
new Documents({
    start: new Sentences({max_concurrent: 3}),
    max_concurrent_flows: 2,
}).run(store, null);
documents.forEach((doc, i) => print(`${doc}\n  -> ${store.dup_string(`doc-${i}`)}`));
print(`${api.served} calls; the API saw at most ${api.peakInFlight} at once ` +
      '(2 documents at once, 3 calls at once)');
