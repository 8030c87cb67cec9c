// harness.js: a tiny test runner for the GJS binding tests
//
// SPDX-License-Identifier: MIT
//
// Each test is a function, sync or async; the run exits non-zero when any
// fails, printing TAP-like lines.

import GLib from 'gi://GLib';
import System from 'system';

export class AssertionError extends Error {}

export function assert(cond, what = 'assertion failed') {
    if (!cond)
        throw new AssertionError(what);
}

export function assertEqual(got, want, what = '') {
    const g = JSON.stringify(got), w = JSON.stringify(want);
    if (g !== w)
        throw new AssertionError(`${what}: got ${g}, want ${w}`);
}

export function assertThrows(fn, check, what = 'expected an error') {
    let thrown = null;
    try {
        fn();
    } catch (e) {
        thrown = e;
    }
    if (thrown === null)
        throw new AssertionError(what);
    if (check)
        check(thrown);
    return thrown;
}

// Runs a GLib.MainLoop on the default main context until the promise
// made by start() settles (or timeout seconds pass).
export function runLoop(start, timeout = 20) {
    const loop = new GLib.MainLoop(null, false);
    let result, error, done = false, late = false;
    const guard = GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, timeout, () => {
        late = true;
        loop.quit();
        return GLib.SOURCE_REMOVE;
    });
    start().then(r => {
        result = r;
    }, e => {
        error = e;
    }).finally(() => {
        done = true;
        loop.quit();
    });
    if (!done)
        loop.run();
    if (late)
        throw new AssertionError(`main loop did not finish in ${timeout} s`);
    GLib.source_remove(guard);
    if (error !== undefined)
        throw error;
    return result;
}

export function runTests(tests) {
    let failed = 0, n = 0;
    print(`1..${Object.keys(tests).length}`);
    for (const [name, fn] of Object.entries(tests)) {
        n++;
        try {
            fn();
            print(`ok ${n} ${name}`);
        } catch (e) {
            failed++;
            print(`not ok ${n} ${name}: ${e}`);
            if (e.stack)
                printerr(e.stack);
        }
    }
    System.exit(failed > 0 ? 1 : 0);
}
