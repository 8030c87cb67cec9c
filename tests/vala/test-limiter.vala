/* test-limiter.vala: Vala nodes sharing a limiter of the registry
 *
 * SPDX-License-Identifier: MIT
 */

const string NAME = "vala-test-shared";

class Shared : Object {
    public Pft.RateLimiter limiter;
    public Mutex mutex = Mutex ();
    public int now = 0;
    public int max = 0;
    public uint limiter_max = 0;

    public Shared (Pft.RateLimiter limiter) {
        this.limiter = limiter;
    }
}

/* Each exec blocks its worker thread on the shared limiter, as a call to
 * a rate-limited API would. */
class Caller : Pft.BatchNode {
    public Shared shared;

    public Caller (string name, Shared shared) {
        Object (name: name, max_concurrent: 4);
        this.shared = shared;
    }

    public override Value prep (Pft.Context ctx) throws GLib.Error {
        var items = new Pft.Values ();
        for (int i = 0; i < 6; i++)
            items.append_string ("%s%d".printf (name, i));
        return items;
    }

    public override Value exec (Pft.Context ctx, Value item) throws GLib.Error {
        var permit = shared.limiter.acquire (1, ctx.get_cancellable ());
        shared.mutex.lock ();
        shared.now++;
        shared.max = int.max (shared.max, shared.now);
        shared.limiter_max = uint.max (shared.limiter_max, shared.limiter.get_in_flight ());
        shared.mutex.unlock ();
        Thread.usleep (5000);
        shared.mutex.lock ();
        shared.now--;
        shared.mutex.unlock ();
        permit.release ();
        return ((string) item).up ();
    }

    public override string? post (Pft.Context ctx, Value prep_result, Value exec_result) throws GLib.Error {
        ctx.get_store ().set_values (name, (Pft.Values) exec_result.get_object ());
        return null;
    }
}

static void test_shared_limiter () {
    var registry = Pft.LimiterRegistry.get_default ();
    registry.remove (NAME);
    try {
        registry.register_new (NAME, 2, 0, 60.0);
        var shared = new Shared (registry.lookup (NAME));
        var a = new Caller ("a", shared);
        var b = new Caller ("b", shared);
        var store = new Pft.Store ();
        var loop = new MainLoop ();
        int pending = 2;
        AsyncReadyCallback done = (obj, res) => {
            try {
                ((Pft.Node) obj).run_async.end (res);
            } catch (GLib.Error e) {
                error ("run failed: %s", e.message);
            }
            if (--pending == 0)
                loop.quit ();
        };
        a.run_async.begin (store, null, done);
        b.run_async.begin (store, null, done);
        loop.run ();

        var ra = store.dup_values ("a").dup_strv ();
        var rb = store.dup_values ("b").dup_strv ();
        assert (string.joinv (",", ra) == "A0,A1,A2,A3,A4,A5");
        assert (string.joinv (",", rb) == "B0,B1,B2,B3,B4,B5");
        assert (shared.max >= 1 && shared.max <= 2);
        assert (shared.limiter_max <= 2);
        assert (shared.limiter.get_total_admitted () == 12);
        assert (shared.limiter.get_in_flight () == 0);
    } catch (GLib.Error e) {
        error ("%s", e.message);
    } finally {
        registry.remove (NAME);
    }
}

class Limited : Pft.Node {
    public Pft.RateLimiter limiter;
    public double seen_retry_after = -1;
    public bool reported = false;

    public override Value exec (Pft.Context ctx, Value item) throws GLib.Error {
        throw Pft.Error.new_rate_limited (30.0, "vala-api", null);
    }

    public override Value exec_fallback (Pft.Context ctx, Value item, GLib.Error reason) throws GLib.Error {
        seen_retry_after = Pft.Error.get_retry_after (reason);
        reported = limiter.report_error (reason);
        throw reason.copy ();
    }
}

static void test_rate_limit_error () {
    var registry = Pft.LimiterRegistry.get_default ();
    registry.remove (NAME);
    try {
        var node = new Limited ();
        node.limiter = registry.register_new (NAME, 2, 0, 60.0);
        try {
            node.run (new Pft.Store ());
            assert_not_reached ();
        } catch (GLib.Error e) {
            assert (e is Pft.Error.RATE_LIMITED);
            assert (Pft.Error.get_retry_after (e) == 30.0);
            assert (Pft.Error.get_source (e) == "vala-api");
        }
        assert (node.seen_retry_after == 30.0);
        assert (node.reported);
        assert (node.limiter.get_paused_for () > 0);
    } catch (GLib.Error e) {
        error ("%s", e.message);
    } finally {
        registry.remove (NAME);
    }
}

int main (string[] args) {
    Test.init (ref args);
    Test.add_func ("/pft/vala/limiter/shared", test_shared_limiter);
    Test.add_func ("/pft/vala/limiter/rate-limit-error", test_rate_limit_error);
    return Test.run ();
}
