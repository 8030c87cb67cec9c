// progress.js: a progress bar from item-done
//
// A throttled batch node emits item-done once per item, on the run's main
// context, with the item's index and its error (null on success). With
// continue-on-error the batch goes on past a failed item, whose result is
// its error. Here one text in five is one the node refuses.
//
// SPDX-License-Identifier: MIT

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import GObject from 'gi://GObject';
import Pft from 'gi://Pft?version=1';

import {FakeLlm, translateTask} from './fakeLlm.js';

const N_TEXTS = 20;
const api = new FakeLlm({maxConcurrent: 4});

const Translate = GObject.registerClass(
class Translate extends Pft.ThrottledBatchNode {
    vfunc_prep(ctx) {
        return ctx.get_store().dup_values('texts');
    }

    vfunc_exec_task(ctx, text, task) {
        if (!text) {
            // A GLib.Error, not a JavaScript Error: the task takes a GError.
            task.return_error(new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_DATA,
                'nothing to translate'));
            return;
        }
        translateTask(api, ctx, text, 'de', task);
    }
});

const texts = new Pft.Values();
for (let i = 0; i < N_TEXTS; i++)
    texts.append_string(i % 5 === 3 ? '' : 'good morning');
const store = new Pft.Store();
store.set_values('texts', texts);

const node = new Translate({max_concurrent: 4, continue_on_error: true});
let done = 0;
node.connect('item-done', (n, index, error) => {
    done++;
    const bar = '#'.repeat(20 * done / N_TEXTS).padEnd(20);
    print(`[${bar}] ${String(done).padStart(2)}/${N_TEXTS} item ${String(index).padStart(2)} ` +
          `${error ? error.message : 'ok'}`);
});
node.run(store, null);
print(`${node.completed} translated, ${node.failed} failed`);
