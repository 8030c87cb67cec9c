/* test-vfuncs.vala: every vfunc of Pft.Node overridden in Vala
 *
 * The point is as much the build as the run: this file is compiled
 * without -w and with -Werror=incompatible-pointer-types and
 * -Werror=discarded-qualifiers (see meson.build), which the C that valac
 * emits for these overrides only passes because pft-1.vapi gives the
 * const types of the vfuncs' parameters (pft/Pft-1.metadata).
 *
 * SPDX-License-Identifier: MIT
 */

/* A throttled batch: items "ok" succeed, "boom" fails (falls back),
 * "slow" goes through exec_async; post reads both prep and exec results. */
class Every : Pft.ThrottledBatchNode {
    public int fallbacks = 0;

    public Every () {
        Object (max_concurrent: 2, max_per_minute: 0, continue_on_error: true);
    }

    public override Value prep (Pft.Context ctx) throws GLib.Error {
        return new Pft.Values.from_strv ({ "ok", "boom", "odd" });
    }

    public override Value exec (Pft.Context ctx, Value item) throws GLib.Error {
        unowned string s = (string) item;
        if (s == "boom")
            throw new IOError.FAILED ("boom failed");
        if (s == "odd")
            throw new IOError.INVALID_DATA ("odd item");
        return s.up ();
    }

    public override Value exec_fallback (Pft.Context ctx, Value item, GLib.Error reason) throws GLib.Error {
        fallbacks++;
        if (reason is IOError.INVALID_DATA)
            throw reason.copy ();
        return "fallback(%s: %s)".printf ((string) item, reason.message);
    }

    public override bool is_rate_limit (GLib.Error error) {
        /* Nothing here is a rate limit; the default would say the same,
         * the override is what is being compiled and called. */
        return error.message.has_prefix ("429");
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        var items = (Pft.Values) prep_result;
        var results = (Pft.Values) exec_result;
        var sb = new StringBuilder ();

        for (uint i = 0; i < results.get_length (); i++) {
            unowned Value? v = results.peek (i);
            unowned GLib.Error? e = results.get_error (i);
            if (i > 0)
                sb.append (";");
            sb.append_printf ("%s=", items.get_string (i));
            if (e != null)
                sb.append_printf ("error:%s", e.message);
            else
                sb.append ((string) v);
        }
        ctx.get_store ().set_string ("every", sb.str);
        return "posted";
    }
}

/* exec_async and post, the async shape of Vala. */
class AsyncEcho : Pft.Node {
    public override Value prep (Pft.Context ctx) throws GLib.Error {
        return "ping";
    }

    public override async Value exec_async (Pft.Context ctx, Value item, Cancellable? cancellable) throws GLib.Error {
        /* On the run's context: under the synchronous run() nobody
         * iterates the global default one (Idle.add would hang). */
        var source = new IdleSource ();
        source.set_callback (exec_async.callback);
        source.attach (ctx.get_main_context ());
        yield;
        return (string) item + "-pong";
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        ctx.get_store ().set_string ("echo", "%s/%s".printf ((string) prep_result, (string) exec_result));
        return null;
    }
}

/* exec_task, the shape GJS uses, written in Vala. */
class TaskEcho : Pft.Node {
    public override Value prep (Pft.Context ctx) throws GLib.Error {
        return 21;
    }

    public override void exec_task (Pft.Context ctx, Value item, Task task) throws GLib.Error {
        Value doubled = Value (typeof (int));
        doubled.set_int ((int) item * 2);
        task.return_value (doubled);
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        ctx.get_store ().set_int ("task", (int) exec_result);
        return null;
    }
}

void test_sync_fallback_post () {
    var node = new Every ();
    var store = new Pft.Store ();

    try {
        var action = node.run (store, null);
        assert_cmpstr (action, CompareOperator.EQ, "posted");
    } catch (GLib.Error e) {
        error ("run failed: %s", e.message);
    }
    assert_cmpstr (store.dup_string ("every"), CompareOperator.EQ,
                   "ok=OK;boom=fallback(boom: boom failed);odd=error:odd item");
    assert_cmpint (node.fallbacks, CompareOperator.EQ, 2);

    /* The public invoker reaches the Vala override through the vfunc. */
    assert_true (node.is_rate_limit (new IOError.FAILED ("429 slow down")));
    assert_false (node.is_rate_limit (new IOError.FAILED ("500")));
}

void test_exec_async_post () {
    var node = new AsyncEcho ();
    var store = new Pft.Store ();

    try {
        node.run (store, null);
    } catch (GLib.Error e) {
        error ("run failed: %s", e.message);
    }
    assert_cmpstr (store.dup_string ("echo"), CompareOperator.EQ, "ping/ping-pong");
}

void test_exec_task () {
    var node = new TaskEcho ();
    var store = new Pft.Store ();

    try {
        node.run (store, null);
    } catch (GLib.Error e) {
        error ("run failed: %s", e.message);
    }
    assert_cmpint ((int) store.get_int ("task", -1), CompareOperator.EQ, 42);
}

/* The trap: Timeout.add attaches to the global default context, which the
 * synchronous run() does not iterate. Only the timeout ends this run. */
class Trapped : Pft.Node {
    public int attempts = 0;

    public override async Value exec_async (Pft.Context ctx, Value item, Cancellable? cancellable) throws GLib.Error {
        attempts++;
        Timeout.add (0, exec_async.callback);
        yield;
        return "never";
    }
}

void test_timeout_ends_trap () {
    var node = new Trapped ();
    node.timeout = 0.2;
    node.max_retries = 2;
    try {
        node.run (new Pft.Store (), null);
        assert_not_reached ();
    } catch (GLib.Error e) {
        assert_true (e is IOError.TIMED_OUT);
    }
    assert_cmpint (node.attempts, CompareOperator.EQ, 2);
    /* The abandoned attempts resume once the default context runs. */
    while (MainContext.default ().iteration (false)) { }
}

int main (string[] args) {
    Test.init (ref args);
    Test.add_func ("/pft/vala/vfuncs/sync-fallback-post", test_sync_fallback_post);
    Test.add_func ("/pft/vala/vfuncs/exec-async-post", test_exec_async_post);
    Test.add_func ("/pft/vala/vfuncs/exec-task", test_exec_task);
    Test.add_func ("/pft/vala/vfuncs/timeout-ends-trap", test_timeout_ends_trap);
    return Test.run ();
}
