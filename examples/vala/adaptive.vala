/* adaptive.vala: adaptive concurrency against a limit nobody told us about
 *
 * The API accepts 3 calls at once and rejects the rest with a 429. An
 * adaptive node starts at 8 at once, backs off on the 429s, retries the
 * rejected items (a rate limit does not use up max-retries) and settles
 * near what the API takes; every item is translated in the end.
 *
 * SPDX-License-Identifier: MIT
 */

const uint N_TEXTS = 60;
FakeLlm api;

class Smart : Pft.AdaptiveNode {
    construct {
        initial_concurrent = 8;    /* start optimistic */
        min_concurrent = 1;
        max_concurrent = 12;
        backoff_factor = 0.5;      /* halve on a 429 */
        recovery_threshold = 10;   /* grow after 10 successes */
    }

    public override Value prep (Pft.Context ctx) throws Error {
        return ctx.get_store ().dup_values ("texts");
    }

    /* A 429 is thrown as Pft.Error.RATE_LIMITED: the node adapts. */
    public override Value exec (Pft.Context ctx, Value text) throws Error {
        return api.translate ((string) text, "fr");
    }
}

int main () {
    api = new FakeLlm (3);   /* the hidden limit */
    var texts = new Pft.Values ();
    for (uint i = 0; i < N_TEXTS; i++)
        texts.append_string (i % 2 == 1 ? "cat" : "dog");
    var store = new Pft.Store ();
    store.set_values ("texts", texts);

    var smart = new Smart ();
    smart.notify["current-concurrent"].connect (() => {
        print ("  concurrency now %u (after %llu rate limits)\n",
               smart.current_concurrent, smart.total_rate_limits);
    });
    print ("starting at %u at once\n", smart.current_concurrent);
    try {
        new Pft.Flow (smart).run (store, null);
    } catch (Error e) {
        printerr ("failed: %s\n", e.message);
        return 1;
    }
    print ("translated %llu of %u texts; the API rejected %u calls, never saw more than %u at once; " +
           "the node ended at %u at once\n",
           smart.total_successes, N_TEXTS, api.rejected, api.peak_in_flight, smart.current_concurrent);
    return 0;
}
