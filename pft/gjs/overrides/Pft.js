// Pft.js: GJS override for the Pft namespace
//
// SPDX-License-Identifier: MIT
//
// GJS runs `overrides/<Namespace>.js` from its search path (GJS_PATH,
// then <datadir>/gjs-1.0 of /usr/local and /usr) when a namespace is first
// imported, with `gi://Pft` as with `imports.gi.Pft`. Pft installs this
// file to <datadir>/gjs-1.0/overrides.
//
// What it fixes: `task.return_error(new Error('...'))` in an exec_task.
// GJS can only pass a GLib.Error there; any other value throws a TypeError
// inside the caller (often a timer or promise callback, where nobody sees
// it) and the task is never completed: the run hangs. Here a task that Pft
// handed to exec_task accepts any thrown value and completes with the
// GError GJS itself makes of a JS error thrown from a vfunc (domain
// gjs-js-error-quark, code from the error's name), through
// Pft.task_return_js_error(). Tasks of anything else are left alone.

const {GLib, Gio} = imports.gi;

function _init() {
    const Pft = this;
    const returnError = Gio.Task.prototype.return_error;

    // The task exec_task gets has its node as source object.
    function isPftTask(task) {
        const source = task.get_source_object();
        return source !== null && source instanceof Pft.Node;
    }

    Gio.Task.prototype.return_error = function (error) {
        if (error instanceof GLib.Error || !isPftTask(this))
            return returnError.call(this, error);

        let name = 'Error', message;
        if (error !== null && typeof error === 'object' &&
            typeof error.name === 'string' && typeof error.message === 'string') {
            name = error.name;
            message = error.message;
        } else {
            message = `Non-exception ${typeof error} value ${String(error)} returned`;
        }
        return Pft.task_return_js_error(this, name, message);
    };
}
