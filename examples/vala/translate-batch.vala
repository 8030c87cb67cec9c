/* translate-batch.vala: a batch of translations under a provider preset
 *
 * A throttled batch node translates a list of texts, one call to the
 * (simulated) API each, with the limits of the preset "openai_tier1":
 * 5 calls at once, 60 a minute.
 *
 * SPDX-License-Identifier: MIT
 */

FakeLlm api;

class Translate : Pft.ThrottledBatchNode {
    public override Value prep (Pft.Context ctx) throws Error {
        return ctx.get_store ().dup_values ("texts");
    }

    /* A worker thread, once the limiter grants a permit. */
    public override Value exec (Pft.Context ctx, Value text) throws Error {
        return api.translate ((string) text, "de");
    }

    public override string? post (Pft.Context ctx, Value texts, Value translations) throws Error {
        ctx.get_store ().set_values ("translations", (Pft.Values) translations);
        return null;
    }
}

int main () {
    string[] texts = { "hello", "world", "good morning", "thank you", "cat", "dog", "rate limit", "flow" };
    api = new FakeLlm (5);   /* its limits, unknown to the node */
    var store = new Pft.Store ();
    store.set_values ("texts", new Pft.Values.from_strv (texts));
    var node = new Translate ();
    try {
        node.apply_preset ("openai_tier1");
        new Pft.Flow (node).run (store, null);
    } catch (Error e) {
        printerr ("translation failed: %s\n", e.message);
        return 1;
    }
    var translations = store.dup_values ("translations");
    for (uint i = 0; i < texts.length; i++)
        print ("%-14s -> %s\n", texts[i], translations.get_string (i));
    print ("translated %llu texts under openai_tier1 (max-concurrent %u, max-per-minute %u); " +
           "the API saw at most %u at once and rejected %u\n",
           node.completed, node.max_concurrent, node.max_per_minute, api.peak_in_flight, api.rejected);
    return 0;
}
