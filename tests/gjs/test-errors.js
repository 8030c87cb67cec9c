// test-errors.js: JavaScript errors reach Pft as GErrors, thrown or
// returned through exec_task's task (Pft's GJS override)
//
// SPDX-License-Identifier: MIT

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Pft from 'gi://Pft?version=1';

import {assert, assertEqual, assertThrows, runTests} from './harness.js';

// On the thread-default main context, the one a sync run() iterates.
function later(ms, fn) {
    const source = GLib.timeout_source_new(ms);
    source.set_callback(() => {
        fn();
        return GLib.SOURCE_REMOVE;
    });
    source.attach(GLib.MainContext.ref_thread_default());
}

// A node whose exec_task fails every attempt the way fail(task, attempt)
// says, and counts its attempts.
function failingNode(fail) {
    const Failing = GObject.registerClass(class extends Pft.Node {
        vfunc_exec_task(ctx, item, task) {
            this.attempts = (this.attempts ?? 0) + 1;
            fail(task, ctx.get_attempt());
        }
    });
    return new Failing({max_retries: 2});
}

runTests({
    returnedErrorLater() {
        // The case that hung: return_error() from a timer callback, where
        // GJS's TypeError went to the log and the task never completed.
        const node = failingNode((task, attempt) =>
            later(1, () => task.return_error(new TypeError(`bad input ${attempt}`))));
        const e = assertThrows(() => node.run(new Pft.Store(), null));
        assert(e instanceof TypeError, `a TypeError again in JS, got ${e}`);
        assertEqual(e.message, 'bad input 2', 'the last attempt\'s message');
        assertEqual(node.attempts, 2, 'a returned Error is a failed attempt, retried');
    },

    returnedErrorAtOnce() {
        const node = failingNode(task => task.return_error(new Error('at once')));
        const e = assertThrows(() => node.run(new Pft.Store(), null));
        assert(e instanceof Error && !(e instanceof GLib.Error), String(e));
        assertEqual(e.message, 'at once');
        assertEqual(node.attempts, 2);
    },

    returnedAndThrownAgree() {
        // Thrown from exec_task, GJS makes the GError; returned, the
        // override makes the same one: same class and message back in JS.
        const thrown = assertThrows(() => failingNode(() => {
            throw new RangeError('out of range');
        }).run(new Pft.Store(), null));
        const returned = assertThrows(() => failingNode(task =>
            task.return_error(new RangeError('out of range'))).run(new Pft.Store(), null));
        assert(thrown instanceof RangeError && returned instanceof RangeError,
            `${thrown} / ${returned}`);
        assertEqual(returned.message, thrown.message);
    },

    errorSeenByFallbackAndItemDone() {
        // The C side sees a GError: exec_fallback receives it as reason, and
        // a batch that continues on error keeps it in the item's slot.
        const Batch = GObject.registerClass(class extends Pft.ThrottledBatchNode {
            vfunc_prep(ctx) {
                return Pft.Values.new_from_strv(['ok', 'bad']);
            }

            vfunc_exec_task(ctx, item, task) {
                later(1, () => {
                    if (item === 'bad')
                        task.return_error(new SyntaxError(`cannot parse ${item}`));
                    else
                        task.return_value(item.toUpperCase());
                });
            }

            vfunc_post(ctx, prep, results) {
                this.results = results;
                return null;
            }
        });
        const node = new Batch({max_concurrent: 2, continue_on_error: true});
        const seen = [];
        node.connect('item-done', (n, index, error) => seen.push([index, error ? error.message : null]));
        node.run(new Pft.Store(), null);
        assertEqual(node.results.get_string(0), 'OK');
        const err = node.results.get_error(1);
        assert(err instanceof SyntaxError, `item 1 holds the error: ${err}`);
        assertEqual(err.message, 'cannot parse bad');
        seen.sort();
        assertEqual(seen, [[0, null], [1, 'cannot parse bad']]);
    },

    nonErrorValues() {
        const e = assertThrows(() => failingNode(task => task.return_error('just a string'))
            .run(new Pft.Store(), null));
        assert(e.message.includes('just a string'), e.message);
    },

    glibErrorUnchanged() {
        const node = failingNode(task => task.return_error(
            new GLib.Error(Pft.Error, Pft.Error.FAILED, 'a GLib.Error')));
        const e = assertThrows(() => node.run(new Pft.Store(), null));
        assert(e.matches(Pft.Error, Pft.Error.FAILED), String(e));
        assertEqual(e.message, 'a GLib.Error');
    },

    timeoutEndsSetTimeoutTrap() {
        // setTimeout attaches to the global default context, which a sync
        // run() does not iterate: without a timeout this run never ends.
        const Trapped = GObject.registerClass(class extends Pft.Node {
            vfunc_exec_task(ctx, item, task) {
                this.attempts = (this.attempts ?? 0) + 1;
                setTimeout(() => task.return_value(1), 0);
            }
        });
        const node = new Trapped({timeout: 0.2, max_retries: 2});
        const e = assertThrows(() => node.run(new Pft.Store(), null));
        assert(e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT), String(e));
        assertEqual(node.attempts, 2, 'a timed-out attempt is retried');
    },

    otherTasksUntouched() {
        // Only the tasks Pft hands to exec_task are converted: GIO's own
        // behaviour (a TypeError) stays for every other task.
        const task = Gio.Task.new(null, null, () => {});
        assertThrows(() => task.return_error(new Error('not for Pft')),
            e => assert(e instanceof TypeError, String(e)));
        task.return_boolean(true);
    },
});
