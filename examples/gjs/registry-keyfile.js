// registry-keyfile.js: limits per provider from a key file
//
// The limits live in a key file (examples/limits.ini, or the path given
// as the first argument), one group per limiter. The registry loads it at
// start-up; the nodes of the flow name the limiter they use, and the
// registry reports how each was used.
//
// SPDX-License-Identifier: MIT

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Pft from 'gi://Pft?version=1';
import System from 'system';

import {FakeLlm, translateTask} from './fakeLlm.js';

const api = new FakeLlm();

// Translates the texts at store[source] into lang, into store[target],
// under the registry's limiter called like the node.
const Step = GObject.registerClass(
class Step extends Pft.ThrottledBatchNode {
    _init(name, source, target, lang) {
        super._init({name});
        Object.assign(this, {source, target, lang});
        this.use_registry_limiter(name);
    }

    vfunc_prep(ctx) {
        return ctx.get_store().dup_values(this.source);
    }

    vfunc_exec_task(ctx, text, task) {
        translateTask(api, ctx, text, this.lang, task);
    }

    vfunc_post(ctx, texts, results) {
        ctx.get_store().set_values(this.target, results);
        return null;
    }
});

const here = GLib.path_get_dirname(GLib.filename_from_uri(import.meta.url)[0]);
const path = ARGV[0] ?? GLib.build_filenamev([here, '..', 'limits.ini']);
const registry = Pft.LimiterRegistry.get_default();
try {
    registry.load_from_file(path);
} catch (e) {
    printerr(`${path}: ${e.message}`);
    System.exit(1);
}

const translate = new Step('translator', 'texts', 'german', 'de');
translate.add_successor(null, new Step('summarizer', 'german', 'checked', 'fr'));
const store = new Pft.Store();
store.set_values('texts', Pft.Values.new_from_strv(['hello', 'world', 'cat', 'dog', 'flow', 'thank you']));
new Pft.Flow({start: translate}).run(store, null);

// name -> limits and use, like the seed's list_all().
for (const [name, stats] of Object.entries(registry.get_all_stats().deepUnpack())) {
    const s = Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, v.unpack()]));
    print(`limiter ${name.padEnd(10)} max-concurrent ${s.max_concurrent}, ` +
          `max-per-window ${s.max_per_window}: ${s.total_admitted} calls`);
}
