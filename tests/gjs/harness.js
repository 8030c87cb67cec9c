// harness.js: a tiny test runner for the GJS binding tests
//
// SPDX-License-Identifier: MIT
//
// Each test is a function (one that starts async work runs it to the end
// with runLoop()). runTests() speaks TAP 13 on stdout, which meson reads
// (protocol: 'tap'): the plan, one ok / not ok line per test, and a failure's
// message and stack as `#` diagnostics. The run also exits non-zero when a
// test fails.

import GLib from 'gi://GLib';
import System from 'system';

export class AssertionError extends Error {
    constructor(message) {
        super(message);
        this.name = 'AssertionError';
    }
}

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

// Anything a test prints must not read as a TAP line: diagnostics are
// comments, one `#` per line.
function tapDiagnostic(text) {
    for (const line of String(text).split('\n'))
        print(`# ${line}`);
}

// A description may not hold `#` (it would start a directive) nor a
// newline.
function tapDescription(name) {
    return name.replace(/#/g, '').replace(/\s+/g, ' ');
}

export function runTests(tests) {
    const entries = Object.entries(tests);
    let failed = 0, n = 0;
    print('TAP version 13');
    print(`1..${entries.length}`);
    for (const [name, fn] of entries) {
        n++;
        try {
            fn();
            print(`ok ${n} - ${tapDescription(name)}`);
        } catch (e) {
            failed++;
            print(`not ok ${n} - ${tapDescription(name)}`);
            tapDiagnostic(e);
            if (e && e.stack)
                tapDiagnostic(e.stack.trimEnd());
        }
    }
    System.exit(failed > 0 ? 1 : 0);
}
