/* test-nodes.vala: nodes, batch nodes, flows and batch flows written in Vala
 *
 * SPDX-License-Identifier: MIT
 */

static GLib.Variant vardict_s (string key, string val) {
    var b = new VariantBuilder (VariantType.VARDICT);
    b.add ("{sv}", key, new Variant.string (val));
    return b.end ();
}

/* load -> words -> (short | long) */

class Load : Pft.Node {
    public void* exec_thread_id = null;

    public override Value prep (Pft.Context ctx) throws GLib.Error {
        return ctx.dup_param_string ("path");
    }

    public override Value exec (Pft.Context ctx, Value item) throws GLib.Error {
        exec_thread_id = (void*) Thread.self<void*> ();
        return "text of " + (string) item;
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        ctx.get_store ().set_string ("text", (string) exec_result);
        return null;
    }
}

class Words : Pft.BatchNode {
    public int inflight = 0;
    public int max_inflight = 0;
    Mutex mutex = Mutex ();

    public Words (uint max_concurrent) {
        Object (max_concurrent: max_concurrent);
    }

    public override Value prep (Pft.Context ctx) throws GLib.Error {
        var text = ctx.get_store ().dup_string ("text");
        var values = new Pft.Values.from_strv (text.split (" "));
        return values;
    }

    public override Value exec (Pft.Context ctx, Value item) throws GLib.Error {
        var word = (string) item;
        mutex.lock ();
        inflight++;
        max_inflight = int.max (max_inflight, inflight);
        mutex.unlock ();
        /* Longer words finish first: order must come from the engine. */
        Thread.usleep (5000 * (10 - word.length));
        mutex.lock ();
        inflight--;
        mutex.unlock ();
        return (int64) word.length;
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        var results = (Pft.Values) exec_result.get_object ();
        int64 sum = 0;
        var lengths = new StringBuilder ();
        for (uint i = 0; i < results.get_length (); i++) {
            sum += results.get_int (i);
            lengths.append_printf ("%s%" + int64.FORMAT, i > 0 ? "," : "", results.get_int (i));
        }
        ctx.get_store ().set_string ("lengths", lengths.str);
        return sum > ctx.get_param_int ("threshold", 0) ? "long" : "short";
    }
}

class Report : Pft.Node {
    /* Not `{ get; construct; }`: valac 0.56 emits a setter for a string
     * auto-property that discards a const (a valac bug, not Pft's). */
    private string _label;
    public string label { get { return _label; } construct { _label = value; } }

    public Report (string label) {
        Object (label: label);
    }

    public override Value exec (Pft.Context ctx, Value item) throws GLib.Error {
        return label;
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        ctx.get_store ().set_string ("report", (string) exec_result);
        return "finished";
    }
}

class MyFlow : Pft.Flow {
    public MyFlow (Pft.Node start) {
        Object (start: start);
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        ctx.get_store ().set_string ("last", (string) exec_result);
        return "flow-done";
    }
}

class Failing : Pft.Node {
    public int calls = 0;
    public uint last_attempt = 0;

    public Failing (int max_retries) {
        Object (max_retries: max_retries);
    }

    public override Value exec (Pft.Context ctx, Value item) throws GLib.Error {
        calls++;
        last_attempt = ctx.get_attempt ();
        throw new IOError.FAILED ("vala boom");
    }
}

class Later : Pft.Node {
    public override async Value exec_async (Pft.Context ctx, Value item, Cancellable? cancellable) throws GLib.Error {
        var source = new TimeoutSource (5);
        source.set_callback (exec_async.callback);
        source.attach (MainContext.ref_thread_default ());
        yield;
        return "later";
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        ctx.get_store ().set_string ("later", (string) exec_result);
        return null;
    }
}

class Greet : Pft.Node {
    public override Value prep (Pft.Context ctx) throws GLib.Error {
        return ctx.dup_param_string ("name");
    }

    public override Value exec (Pft.Context ctx, Value item) throws GLib.Error {
        return "hello " + (string) item;
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        ctx.get_store ().set_string ("greet-" + (string) prep_result, (string) exec_result);
        return "greeted";
    }
}

class PerName : Pft.BatchFlow {
    public PerName (Pft.Node start, uint max_concurrent) {
        Object (start: start, max_concurrent: max_concurrent);
    }

    public override Value prep (Pft.Context ctx) throws GLib.Error {
        var sets = new Pft.Values ();
        foreach (var name in new string[] { "ann", "bob", "cy" })
            sets.append_variant (vardict_s ("name", name));
        return sets;
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        var actions = (Pft.Values) exec_result.get_object ();
        ctx.get_store ().set_int ("runs", actions.get_length ());
        return null;
    }
}

static Pft.Flow build_flow (int64 threshold, out Load load, out Words words) {
    load = new Load ();
    words = new Words (3);
    load.add_successor (null, words);
    words.add_successor ("short", new Report ("short"));
    words.add_successor ("long", new Report ("long"));
    var flow = new MyFlow (load);
    var b = new VariantBuilder (VariantType.VARDICT);
    b.add ("{sv}", "path", new Variant.string ("a.txt"));
    b.add ("{sv}", "threshold", new Variant.int64 (threshold));
    flow.set_params (b.end ());
    return flow;
}

static void test_flow () {
    Load load;
    Words words;
    var flow = build_flow (100, out load, out words);
    var store = new Pft.Store ();
    try {
        assert (flow.run (store) == "flow-done");
    } catch (GLib.Error e) {
        error ("run failed: %s", e.message);
    }
    assert (store.dup_string ("text") == "text of a.txt");
    assert (store.dup_string ("lengths") == "4,2,5");
    assert (store.dup_string ("report") == "short");
    assert (store.dup_string ("last") == "finished");
    /* Vala exec runs in worker threads (AUTO). */
    assert (load.exec_thread_id != null);
    assert (load.exec_thread_id != (void*) Thread.self<void*> ());
    assert (words.max_inflight > 1 && words.max_inflight <= 3);

    flow = build_flow (3, out load, out words);
    store = new Pft.Store ();
    try {
        flow.run (store);
    } catch (GLib.Error e) {
        error ("run failed: %s", e.message);
    }
    assert (store.dup_string ("report") == "long");
}

static void test_node_params () {
    var node = new Load ();
    node.set_params (vardict_s ("path", "b.txt"));
    var store = new Pft.Store ();
    try {
        assert (node.run (store) == Pft.DEFAULT_ACTION);
    } catch (GLib.Error e) {
        error ("run failed: %s", e.message);
    }
    assert (store.dup_string ("text") == "text of b.txt");
}

static void test_error () {
    var node = new Failing (3);
    try {
        node.run (new Pft.Store ());
        assert_not_reached ();
    } catch (GLib.Error e) {
        assert (e is IOError.FAILED);
        assert (e.message == "vala boom");
    }
    assert (node.calls == 3);
    assert (node.last_attempt == 3);

    /* ...also inside a flow. */
    var first = new Report ("x");
    first.add_successor ("finished", new Failing (1));
    try {
        new Pft.Flow (first).run (new Pft.Store ());
        assert_not_reached ();
    } catch (GLib.Error e) {
        assert (e is IOError.FAILED);
    }
}

static void test_exec_async_and_run_async () {
    var loop = new MainLoop ();
    var store = new Pft.Store ();
    string? action = null;
    var node = new Later ();
    node.run_async.begin (store, null, (obj, res) => {
        try {
            action = node.run_async.end (res);
        } catch (GLib.Error e) {
            error ("run failed: %s", e.message);
        }
        loop.quit ();
    });
    loop.run ();
    assert (action == Pft.DEFAULT_ACTION);
    assert (store.dup_string ("later") == "later");
}

static void test_batch_flow () {
    var flow = new PerName (new Greet (), 2);
    var store = new Pft.Store ();
    try {
        flow.run (store);
    } catch (GLib.Error e) {
        error ("run failed: %s", e.message);
    }
    assert (store.dup_string ("greet-ann") == "hello ann");
    assert (store.dup_string ("greet-cy") == "hello cy");
    assert (store.get_int ("runs", -1) == 3);
}

class Limited : Pft.Node {
    public override Value exec (Pft.Context ctx, Value item) throws GLib.Error {
        throw Pft.Error.new_rate_limited (2.5, "api", null);
    }
}

static void test_rate_limit_error () {
    try {
        new Limited ().run (new Pft.Store ());
        assert_not_reached ();
    } catch (GLib.Error e) {
        assert (e is Pft.Error.RATE_LIMITED);
        assert (Pft.Error.is_rate_limit (e));
        assert (Pft.Error.get_retry_after (e) == 2.5);
        assert (Pft.Error.get_source (e) == "api");
    }
}

static void test_typelib_version () {
    assert (Pft.get_version_string ().split (".").length == 3);
}

int main (string[] args) {
    Test.init (ref args);
    Test.add_func ("/pft/vala/version", test_typelib_version);
    Test.add_func ("/pft/vala/flow", test_flow);
    Test.add_func ("/pft/vala/node-params", test_node_params);
    Test.add_func ("/pft/vala/error", test_error);
    Test.add_func ("/pft/vala/exec-async", test_exec_async_and_run_async);
    Test.add_func ("/pft/vala/batch-flow", test_batch_flow);
    Test.add_func ("/pft/vala/rate-limit-error", test_rate_limit_error);
    return Test.run ();
}
