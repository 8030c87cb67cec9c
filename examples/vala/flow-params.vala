/* flow-params.vala: flow-level throttling, one walk per param set
 *
 * A throttled batch flow runs its graph once per user, 3 users at once and
 * at most 60 started a minute. Each walk sees its user in the params of
 * its context: the node greets the user in the user's language.
 *
 * SPDX-License-Identifier: MIT
 */

const int N_USERS = 6;
FakeLlm api;

class Greet : Pft.Node {
    public override Value exec (Pft.Context ctx, Value item) throws Error {
        return api.translate ("hello", ctx.dup_param_string ("lang"));
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value greeting) throws Error {
        /* The store is shared by all walks: one key per user. */
        var key = "greeting-%lld".printf (ctx.get_param_int ("user_id", -1));
        ctx.get_store ().set_string (key, (string) greeting);
        return null;
    }
}

class Users : Pft.ThrottledBatchFlow {
    construct {
        max_concurrent_flows = 3;    /* 3 users at once */
        max_flows_per_minute = 60;   /* 60 users a minute */
    }

    /* One a{sv} param set per walk. */
    public override Value prep (Pft.Context ctx) throws Error {
        var sets = new Pft.Values ();
        for (int64 id = 0; id < ctx.get_store ().get_int ("n-users", 0); id++) {
            var set = new VariantDict ();
            set.insert ("user_id", "x", id);
            set.insert ("lang", "s", id % 2 == 1 ? "fr" : "de");
            sets.append_variant (set.end ());
        }
        return sets;
    }
}

int main () {
    api = new FakeLlm (3);
    var store = new Pft.Store ();
    store.set_int ("n-users", N_USERS);
    var users = new Users ();
    users.start = new Greet ();
    try {
        users.run (store, null);
    } catch (Error e) {
        printerr ("failed: %s\n", e.message);
        return 1;
    }
    for (int id = 0; id < N_USERS; id++)
        print ("user %d: %s\n", id, store.dup_string ("greeting-%d".printf (id)));
    print ("%llu walks, %u at once at most (the API saw %u), %u rejected\n",
           users.completed, users.max_concurrent_flows, api.peak_in_flight, api.rejected);
    return 0;
}
