/* test-throttled.vala: throttled and adaptive batch nodes and flows
 * written in Vala
 *
 * SPDX-License-Identifier: MIT
 *
 * The throttled node has a blocking exec (worker threads, AUTO); the
 * adaptive node and the walks of the flows have an async exec_async
 * completing from a timeout on the thread-default main context. No
 * assertion depends on wall-clock time.
 */

/* Calls in flight, counted inside exec (from any thread). */
class InFlight : Object {
    Mutex mutex = Mutex ();
    public int now = 0;
    public int max = 0;
    public int calls = 0;

    public void enter () {
        mutex.lock ();
        now++;
        calls++;
        if (now > max)
            max = now;
        mutex.unlock ();
    }

    public void leave () {
        mutex.lock ();
        now--;
        mutex.unlock ();
    }
}

/* An API with a hidden concurrency limit: a call beyond it is answered at
 * once with a rate-limit error. Runs on the main context. */
class FakeApi : Object {
    public int limit;
    public int now = 0;
    public int max = 0;
    public int rejected = 0;

    public FakeApi (int limit) {
        this.limit = limit;
    }

    public async int64 call (int64 value) throws GLib.Error {
        if (now >= limit) {
            rejected++;
            /* Both ways of raising a rate limit from Vala. */
            if (rejected % 2 == 1)
                throw Pft.Error.new_rate_limited (0.01, "fake-api", "too many requests");
            throw new Pft.Error.RATE_LIMITED ("too many requests");
        }
        now++;
        max = int.max (max, now);
        var source = new TimeoutSource (3);
        source.set_callback (call.callback);
        source.attach (MainContext.ref_thread_default ());
        yield;
        now--;
        return value;
    }
}

static Pft.Store store_with_items (int n) {
    var store = new Pft.Store ();
    var items = new Pft.Values ();
    for (int i = 0; i < n; i++)
        items.append_int (i);
    store.set_values ("items", items);
    return store;
}

/* Records item-done: the indices, and which failed. */
class Progress : Object {
    public int count = 0;
    public int errors = 0;
    public bool[] seen;
    public bool[] failed;

    public Progress (int n) {
        seen = new bool[n];
        failed = new bool[n];
    }

    public void done (uint index, GLib.Error? error) {
        count++;
        assert (!seen[index]);
        seen[index] = true;
        if (error != null) {
            errors++;
            failed[index] = true;
        }
    }

    public bool all_seen () {
        foreach (var s in seen)
            if (!s)
                return false;
        return true;
    }
}

/* The smallest value a uint property took, through notify. */
class MinTracker : Object {
    public uint min;

    public MinTracker (Object obj, string prop) {
        Value v = Value (typeof (uint));
        obj.get_property (prop, ref v);
        min = v.get_uint ();
        obj.notify[prop].connect ((o, pspec) => {
            Value now = Value (typeof (uint));
            o.get_property (prop, ref now);
            min = uint.min (min, now.get_uint ());
        });
    }
}

static uint64 u64_prop (Object obj, string prop) {
    Value v = Value (typeof (uint64));
    obj.get_property (prop, ref v);
    return v.get_uint64 ();
}

/* The error held at @index of @values, or null when it holds a result. */
static GLib.Error? error_at (Pft.Values values, uint index) {
    Value v = values.get (index);
    if (!v.holds (typeof (GLib.Error)))
        return null;
    unowned GLib.Error e = (GLib.Error) v.get_boxed ();
    return e.copy ();
}

/* ------------------------------------------------------------------ */
/* PftThrottledBatchNode: the knobs are construct properties, given to
 * Object () in the constructor. */

class Translate : Pft.ThrottledBatchNode {
    public InFlight inflight = new InFlight ();
    public Pft.Values? results = null;
    public int fail_every = 0;

    public Translate (uint max_concurrent = 3) {
        Object (max_concurrent: max_concurrent, max_per_minute: 6000, max_retries: 1);
    }

    public override Value prep (Pft.Context ctx) throws GLib.Error {
        return ctx.get_store ().dup_values ("items");
    }

    public override Value exec (Pft.Context ctx, Value item) throws GLib.Error {
        int64 i = item.get_int64 ();
        inflight.enter ();
        Thread.usleep (1000 + 500 * (ulong) (i % 4));
        inflight.leave ();
        if (fail_every > 0 && i % fail_every == 0)
            throw new Pft.Error.FAILED ("failed %" + int64.FORMAT, i);
        return "r" + i.to_string ();
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        results = (Pft.Values) exec_result.get_object ();
        return "translated";
    }
}

static void test_throttled_batch_node () {
    var node = new Translate ();
    assert (node.max_concurrent == 3);
    assert (node.max_per_minute == 6000);
    assert (node.limiter.max_concurrent == 3);
    var progress = new Progress (20);
    node.item_done.connect (progress.done);
    try {
        assert (node.run (store_with_items (20)) == "translated");
    } catch (GLib.Error e) {
        error ("run failed: %s", e.message);
    }
    for (uint i = 0; i < 20; i++)
        assert (node.results.get_string (i) == "r" + i.to_string ());
    assert (node.inflight.max <= 3);
    assert (node.inflight.calls == 20);
    assert (progress.count == 20 && progress.errors == 0 && progress.all_seen ());
    assert (node.completed == 20 && node.failed == 0 && node.total == 20);
    assert (node.limiter.get_in_flight () == 0);
    node.reset_stats ();
    assert (node.completed == 0 && node.total == 0);
}

static void test_continue_on_error () {
    var node = new Translate (2);
    node.fail_every = 3;
    node.continue_on_error = true;
    var progress = new Progress (10);
    node.item_done.connect (progress.done);
    try {
        node.run (store_with_items (10));
    } catch (GLib.Error e) {
        error ("run failed: %s", e.message);
    }
    /* A failed item's result is a G_TYPE_ERROR value. */
    for (uint i = 0; i < 10; i++) {
        var err = error_at (node.results, i);
        if (i % 3 == 0) {
            assert (err != null);
            assert (err is Pft.Error.FAILED);
            assert (err.message == "failed " + i.to_string ());
            assert (progress.failed[i]);
        } else {
            assert (err == null);
            assert (node.results.get_string (i) == "r" + i.to_string ());
            assert (!progress.failed[i]);
        }
    }
    assert (node.completed == 6 && node.failed == 4 && node.total == 10);
    assert (progress.count == 10 && progress.errors == 4);

    var strict = new Translate (2);
    strict.fail_every = 4;
    try {
        strict.run (store_with_items (10));
        assert_not_reached ();
    } catch (GLib.Error e) {
        assert (e is Pft.Error.FAILED);
    }
    assert (strict.failed >= 1);
    /* A sibling still running in its worker thread when the batch failed
     * keeps its permit until it really returns (the provider still sees
     * it); then the limiter holds nothing. */
    var deadline = GLib.get_monotonic_time () + 5 * GLib.TimeSpan.SECOND;
    while (strict.limiter.get_in_flight () != 0 && GLib.get_monotonic_time () < deadline)
        Thread.usleep (1000);
    assert (strict.inflight.now == 0);
    assert (strict.limiter.get_in_flight () == 0);
}

/* ------------------------------------------------------------------ */
/* PftAdaptiveNode against the fake API */

class CallsApi : Pft.AdaptiveNode {
    public FakeApi api;
    public InFlight inflight = new InFlight ();
    public Pft.Values? results = null;

    public CallsApi (FakeApi api) {
        /* The ceiling first: the C setter of initial-concurrent clamps
         * into [min, max] as they are when it runs. */
        Object (max_concurrent: 10, min_concurrent: 1, initial_concurrent: 8, recovery_threshold: 5);
        this.api = api;
    }

    public override Value prep (Pft.Context ctx) throws GLib.Error {
        return ctx.get_store ().dup_values ("items");
    }

    public override async Value exec_async (Pft.Context ctx, Value item, Cancellable? cancellable) throws GLib.Error {
        inflight.enter ();
        try {
            return yield api.call (item.get_int64 () * 2);
        } finally {
            inflight.leave ();
        }
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        results = (Pft.Values) exec_result.get_object ();
        return null;
    }
}

static void test_adaptive_node () {
    var api = new FakeApi (3);
    var node = new CallsApi (api);
    assert (node.current_concurrent == 8);
    var current = new MinTracker (node, "current-concurrent");
    var progress = new Progress (60);
    node.item_done.connect (progress.done);
    try {
        node.run (store_with_items (60));
    } catch (GLib.Error e) {
        error ("run failed: %s", e.message);
    }
    for (uint i = 0; i < 60; i++)
        assert (node.results.get_int (i) == i * 2);
    assert (node.total_rate_limits > 0);
    assert (node.total_rate_limits == api.rejected);
    assert (node.total_successes == 60);
    assert (current.min < 8);
    assert (node.inflight.max <= 10);
    assert (api.max <= 3);
    assert (progress.count == 60 && progress.errors == 0);
    assert (node.completed == 60 && node.failed == 0 && node.total == 60);
    node.reset ();
    assert (node.current_concurrent == 8 && node.total_rate_limits == 0);
}

/* ------------------------------------------------------------------ */
/* Batch flows over param sets */

class FetchUser : Pft.Node {
    public InFlight inflight = new InFlight ();
    public FakeApi? api = null;

    public override Value prep (Pft.Context ctx) throws GLib.Error {
        return ctx.get_param_int ("user_id", -1);
    }

    public override async Value exec_async (Pft.Context ctx, Value item, Cancellable? cancellable) throws GLib.Error {
        int64 uid = item.get_int64 ();
        var fail = ctx.lookup_param ("fail");
        if (fail != null && fail.get_boolean ())
            throw new Pft.Error.FAILED ("user %" + int64.FORMAT, uid);
        inflight.enter ();
        try {
            if (api != null)
                return yield api.call (uid * 2);
            var source = new TimeoutSource (1 + (uint) (uid % 3));
            source.set_callback (exec_async.callback);
            source.attach (MainContext.ref_thread_default ());
            yield;
            return uid * 2;
        } finally {
            inflight.leave ();
        }
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        ctx.get_store ().set_string ("user-" + prep_result.get_int64 ().to_string (),
                                     "%s:%s".printf (ctx.dup_param_string ("name"),
                                                     exec_result.get_int64 ().to_string ()));
        return "fetched";
    }
}

static Pft.Values user_sets (int n, int fail_a = -1, int fail_b = -1) {
    var sets = new Pft.Values ();
    for (int uid = 0; uid < n; uid++) {
        var b = new VariantBuilder (VariantType.VARDICT);
        b.add ("{sv}", "user_id", new Variant.int64 (uid));
        b.add ("{sv}", "name", new Variant.string ("u" + uid.to_string ()));
        b.add ("{sv}", "fail", new Variant.boolean (uid == fail_a || uid == fail_b));
        sets.append_variant (b.end ());
    }
    return sets;
}

class ProcessUsers : Pft.ThrottledBatchFlow {
    public int n = 0;
    public int fail_a = -1;
    public int fail_b = -1;
    public Pft.Values? results = null;

    public ProcessUsers (Pft.Node start) {
        Object (start: start, max_concurrent_flows: 2, max_flows_per_minute: 6000);
    }

    public override Value prep (Pft.Context ctx) throws GLib.Error {
        return user_sets (n, fail_a, fail_b);
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        results = (Pft.Values) exec_result.get_object ();
        return null;
    }
}

static void test_throttled_batch_flow () {
    var fetch = new FetchUser ();
    var flow = new ProcessUsers (fetch);
    flow.n = 12;
    assert (flow.max_concurrent_flows == 2);
    assert (flow.max_flows_per_minute == 6000);
    var progress = new Progress (12);
    flow.item_done.connect (progress.done);
    var store = new Pft.Store ();
    try {
        assert (flow.run (store) == Pft.DEFAULT_ACTION);
    } catch (GLib.Error e) {
        error ("run failed: %s", e.message);
    }
    assert (fetch.inflight.max <= 2);
    assert (fetch.inflight.calls == 12);
    for (int uid = 0; uid < 12; uid++)
        assert (store.dup_string ("user-" + uid.to_string ()) == "u%d:%d".printf (uid, uid * 2));
    for (uint i = 0; i < 12; i++)
        assert (flow.results.get_string (i) == "fetched");
    assert (progress.count == 12 && progress.errors == 0 && progress.all_seen ());
    assert (flow.completed == 12 && flow.failed == 0 && flow.total == 12);
}

static void test_throttled_batch_flow_errors () {
    var flow = new ProcessUsers (new FetchUser ());
    flow.n = 8;
    flow.fail_a = 2;
    flow.fail_b = 5;
    flow.continue_on_error = true;
    var progress = new Progress (8);
    flow.item_done.connect (progress.done);
    var store = new Pft.Store ();
    try {
        flow.run (store);
    } catch (GLib.Error e) {
        error ("run failed: %s", e.message);
    }
    for (uint i = 0; i < 8; i++) {
        var err = error_at (flow.results, i);
        if (i == 2 || i == 5) {
            assert (err != null && err.message == "user " + i.to_string ());
            assert (progress.failed[i]);
        } else {
            assert (err == null && flow.results.get_string (i) == "fetched");
        }
    }
    assert (flow.completed == 6 && flow.failed == 2 && flow.total == 8);
    assert (!store.contains ("user-2"));

    var strict = new ProcessUsers (new FetchUser ());
    strict.n = 6;
    strict.fail_a = 3;
    try {
        strict.run (new Pft.Store ());
        assert_not_reached ();
    } catch (GLib.Error e) {
        assert (e.message == "user 3");
    }
    assert (strict.failed >= 1);
}

class AdaptiveUsers : Pft.AdaptiveBatchFlow {
    public int n = 0;
    public Pft.Values? results = null;

    public AdaptiveUsers (Pft.Node start) {
        Object (start: start, max_concurrent_flows: 8, initial_concurrent_flows: 6, recovery_threshold: 4);
    }

    public override Value prep (Pft.Context ctx) throws GLib.Error {
        return user_sets (n);
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        results = (Pft.Values) exec_result.get_object ();
        return null;
    }
}

static void test_adaptive_batch_flow () {
    var fetch = new FetchUser ();
    fetch.api = new FakeApi (2);
    var flow = new AdaptiveUsers (fetch);
    flow.n = 30;
    assert (flow.current_concurrent_flows == 6);
    var current = new MinTracker (flow, "current-concurrent-flows");
    var progress = new Progress (30);
    flow.item_done.connect (progress.done);
    var store = new Pft.Store ();
    try {
        flow.run (store);
    } catch (GLib.Error e) {
        error ("run failed: %s", e.message);
    }
    for (int uid = 0; uid < 30; uid++)
        assert (store.dup_string ("user-" + uid.to_string ()) == "u%d:%d".printf (uid, uid * 2));
    /* Read through GObject, not the accessor: the C accessors
     * pft_adaptive_batch_flow_get_total_successes/_get_total_rate_limits
     * (and _reset) check PFT_IS_ADAPTIVE_NODE and so fail on every flow
     * (a critical, 0). Vala calls the accessor for `flow.total_rate_limits`. */
    assert (u64_prop (flow, "total-rate-limits") > 0);
    assert (u64_prop (flow, "total-successes") == 30);
    assert (current.min < 6);
    assert (fetch.inflight.max <= 8);
    assert (fetch.api.max <= 2);
    assert (progress.count == 30 && progress.errors == 0);
    assert (flow.completed == 30 && flow.failed == 0 && flow.total == 30);
}

/* ------------------------------------------------------------------ */
/* A shared limiter of the registry */

const string REGISTRY_NAME = "vala-test-throttled";

static void test_registry_limiter () {
    var registry = Pft.LimiterRegistry.get_default ();
    registry.remove (REGISTRY_NAME);
    Pft.RateLimiter limiter;
    try {
        limiter = registry.register_new (REGISTRY_NAME, 2, 0, 60.0);
    } catch (GLib.Error e) {
        error ("register failed: %s", e.message);
    }
    var shared = new InFlight ();
    var a = new Translate (5);
    var b = new Translate (5);
    a.inflight = b.inflight = shared;
    try {
        a.use_registry_limiter (REGISTRY_NAME);
    } catch (GLib.Error e) {
        error ("use_registry_limiter failed: %s", e.message);
    }
    b.limiter = limiter;
    assert (a.limiter == limiter && b.limiter == limiter);

    var loop = new MainLoop ();
    int pending = 2;
    Pft.Node[] nodes = { a, b };
    foreach (var node in nodes) {
        node.run_async.begin (store_with_items (10), null, (obj, res) => {
            try {
                ((Pft.Node) obj).run_async.end (res);
            } catch (GLib.Error e) {
                error ("run failed: %s", e.message);
            }
            if (--pending == 0)
                loop.quit ();
        });
    }
    loop.run ();
    assert (shared.max <= 2);
    assert (shared.calls == 20);
    assert (limiter.get_in_flight () == 0);
    assert (a.completed + b.completed == 20);
    assert (a.results.get_string (9) == "r9");

    try {
        a.use_registry_limiter ("vala-no-such-limiter");
        assert_not_reached ();
    } catch (GLib.Error e) {
        assert (e is Pft.Error.NOT_FOUND);
    }
    registry.remove (REGISTRY_NAME);
}

int main (string[] args) {
    Test.init (ref args);
    Test.add_func ("/pft/vala/throttled/batch-node", test_throttled_batch_node);
    Test.add_func ("/pft/vala/throttled/continue-on-error", test_continue_on_error);
    Test.add_func ("/pft/vala/throttled/adaptive-node", test_adaptive_node);
    Test.add_func ("/pft/vala/throttled/batch-flow", test_throttled_batch_flow);
    Test.add_func ("/pft/vala/throttled/batch-flow-errors", test_throttled_batch_flow_errors);
    Test.add_func ("/pft/vala/throttled/adaptive-batch-flow", test_adaptive_batch_flow);
    Test.add_func ("/pft/vala/throttled/registry-limiter", test_registry_limiter);
    return Test.run ();
}
