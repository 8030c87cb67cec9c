// test-hang.js: the setTimeout trap under a synchronous run(), seen from
// GJS: run() warns, naming the node, and the node's timeout ends it
//
// SPDX-License-Identifier: MIT
//
// The warning comes after 5 s on the system clock (the C suite tests the
// same on a fake clock); the trapped script runs in a subprocess so that
// its stderr can be read.

import Gio from 'gi://Gio';

import {assert, runTests} from './harness.js';

const TRAPPED = `
import GObject from 'gi://GObject';
import Pft from 'gi://Pft?version=1';

const Waiting = GObject.registerClass(class extends Pft.Node {
    vfunc_exec_task(ctx, item, task) {
        // The trap: setTimeout attaches to the global default context.
        setTimeout(() => task.return_value('fired'), 10);
    }
});
try {
    new Waiting({name: 'waits-for-settimeout', timeout: 7}).run(new Pft.Store(), null);
    print('RESULT: completed');
} catch (e) {
    print('RESULT: ' + e.message);
}
`;

runTests({
    warnsAndTimesOut() {
        const launcher = new Gio.SubprocessLauncher({
            flags: Gio.SubprocessFlags.STDOUT_PIPE | Gio.SubprocessFlags.STDERR_PIPE,
        });
        // Warnings must not abort the child.
        launcher.setenv('G_DEBUG', 'gc-friendly', true);
        const [file, stream] = Gio.File.new_tmp('pft-hang-XXXXXX.js');
        stream.output_stream.write_all(new TextEncoder().encode(TRAPPED), null);
        stream.close(null);
        const proc = launcher.spawnv(['gjs', '-m', file.get_path()]);
        const [, stdout, stderr] = proc.communicate_utf8(null, null);
        file.delete(null);
        assert(proc.get_successful(), `child failed: ${stderr}`);
        assert(/Pft-WARNING.*waits-for-settimeout: the exec of waits-for-settimeout has not completed/.test(stderr),
            `no warning naming the node in: ${stderr}`);
        assert(stderr.includes('never dispatched'), stderr);
        assert(stdout.includes('RESULT: waits-for-settimeout: exec attempt 1 timed out after 7 s'),
            `the timeout did not end the run: ${stdout}`);
        // Once: the second check, at 10 s, is past the timeout.
        assert(stderr.split('Pft-WARNING').length === 2, stderr);
    },
});
