// flow-params.js: flow-level throttling, one walk per param set
//
// A throttled batch flow runs its graph once per user, 3 users at once and
// at most 60 started a minute. Each walk sees its user in the params of
// its context: the node greets the user in the user's language.
//
// SPDX-License-Identifier: MIT

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Pft from 'gi://Pft?version=1';

import {FakeLlm, translateTask} from './fakeLlm.js';

const N_USERS = 6;
const api = new FakeLlm({maxConcurrent: 3});

const Greet = GObject.registerClass(
class Greet extends Pft.Node {
    vfunc_exec_task(ctx, item, task) {
        translateTask(api, ctx, 'hello', ctx.dup_param_string('lang'), task);
    }

    vfunc_post(ctx, prepResult, greeting) {
        // The store is shared by all walks: one key per user.
        ctx.get_store().set_string(`greeting-${ctx.get_param_int('user_id', -1)}`, greeting);
        return null;
    }
});

const Users = GObject.registerClass(
class Users extends Pft.ThrottledBatchFlow {
    // One a{sv} param set per walk.
    vfunc_prep(ctx) {
        const sets = new Pft.Values();
        for (let id = 0; id < ctx.get_store().get_int('n-users', 0); id++) {
            sets.append_variant(new GLib.Variant('a{sv}', {
                user_id: new GLib.Variant('x', id),
                lang: new GLib.Variant('s', id % 2 ? 'fr' : 'de'),
            }));
        }
        return sets;
    }
});

const store = new Pft.Store();
store.set_int('n-users', N_USERS);
const users = new Users({
    start: new Greet(),
    max_concurrent_flows: 3,    // 3 users at once
    max_flows_per_minute: 60,   // 60 users a minute
});
users.run(store, null);
for (let id = 0; id < N_USERS; id++)
    print(`user ${id}: ${store.dup_string(`greeting-${id}`)}`);
print(`${users.completed} walks, ${users.max_concurrent_flows} at once at most ` +
      `(the API saw ${api.peakInFlight}), ${api.rejected} rejected`);
