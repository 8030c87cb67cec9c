/* test-redis.vala: a limiter shared through Redis, from Vala
 *
 * SPDX-License-Identifier: MIT
 *
 * Run by tests/redis-run, which starts a private redis-server and sets
 * PFT_TEST_REDIS_URI.
 */

string uri;

void test_new_redis () {
    try {
        var limiter = new Pft.RateLimiter.redis (uri, "vala-new", 2, 10, 1.0);
        assert (limiter.backend == "redis");
        assert (limiter.redis_key == "vala-new");
        limiter.fallback = Pft.LimiterFallback.LOCAL;
        assert (limiter.get_fallback () == Pft.LimiterFallback.LOCAL);
        limiter.backend_timeout = 0.5;
        assert (limiter.backend_timeout == 0.5);
    } catch (Error e) {
        error ("%s", e.message);
    }
}

void test_one_quota () {
    try {
        var a = new Pft.RateLimiter.redis (uri, "vala-shared", 2, 100, 1.0);
        /* Another spelling of the server: another connection. */
        var b = new Pft.RateLimiter.redis (uri.substring (0, uri.length - 2), "vala-shared", 2, 100, 1.0);
        var p1 = a.acquire (1, null);
        var p2 = b.acquire (1, null);
        var stats = a.dup_shared_stats (null);
        assert (stats.lookup_value ("in_flight", VariantType.UINT32).get_uint32 () == 2);
        p1.release ();
        p2.release ();
        stats = b.dup_shared_stats (null);
        assert (stats.lookup_value ("in_flight", VariantType.UINT32).get_uint32 () == 0);
        assert (stats.lookup_value ("window_count", VariantType.UINT32).get_uint32 () == 2);
    } catch (Error e) {
        error ("%s", e.message);
    }
}

void test_unreachable () {
    try {
        new Pft.RateLimiter.redis ("redis://:hunter2@127.0.0.1:1/0", "vala-down", 1, 1, 1.0);
        assert_not_reached ();
    } catch (Error e) {
        assert (e is Pft.Error.BACKEND_UNAVAILABLE);
        assert (":***@127.0.0.1" in e.message);
        assert (!("hunter2" in e.message));
    }
}

int main (string[] args) {
    Test.init (ref args);
    uri = Environment.get_variable ("PFT_TEST_REDIS_URI");
    Test.add_func ("/vala/redis/new", test_new_redis);
    Test.add_func ("/vala/redis/one-quota", test_one_quota);
    Test.add_func ("/vala/redis/unreachable", test_unreachable);
    return Test.run ();
}
