/* nested.vala: throttling at two levels
 *
 * A throttled batch flow translates documents, 2 at once; inside each
 * walk, a throttled batch node translates the document's sentences, 3
 * calls at once. The node's limiter belongs to the node object, which
 * every walk shares, so the API sees at most 3 calls at once in total,
 * not 2 x 3 (the seed copied the node per walk and made up to 6).
 *
 * SPDX-License-Identifier: MIT
 */

FakeLlm api;

class Sentences : Pft.ThrottledBatchNode {
    construct {
        max_concurrent = 3;
    }

    /* This walk's document, from its params. */
    public override Value prep (Pft.Context ctx) throws Error {
        return new Pft.Values.from_strv (ctx.dup_param_string ("doc").split (". "));
    }

    public override Value exec (Pft.Context ctx, Value sentence) throws Error {
        return api.translate ((string) sentence, "de");
    }

    public override string? post (Pft.Context ctx, Value sentences, Value german) throws Error {
        var key = "doc-%lld".printf (ctx.get_param_int ("index", 0));
        ctx.get_store ().set_string (key, string.joinv (". ", ((Pft.Values) german).dup_strv ()));
        return null;
    }
}

class Documents : Pft.ThrottledBatchFlow {
    construct {
        max_concurrent_flows = 2;
    }

    public override Value prep (Pft.Context ctx) throws Error {
        var docs = ctx.get_store ().dup_values ("documents").dup_strv ();
        var sets = new Pft.Values ();
        for (int i = 0; i < docs.length; i++) {
            var set = new VariantDict ();
            set.insert ("index", "x", (int64) i);
            set.insert ("doc", "s", docs[i]);
            sets.append_variant (set.end ());
        }
        return sets;
    }
}

int main () {
    string[] documents = { "hello. good morning. thank you", "cat. dog. flow. rate limit",
                           "hello. world", "thank you. good morning. cat" };
    api = new FakeLlm ();   /* no hidden limit: we watch the peak */
    var store = new Pft.Store ();
    store.set_values ("documents", new Pft.Values.from_strv (documents));
    var flow = new Documents ();
    flow.start = new Sentences ();
    try {
        flow.run (store, null);
    } catch (Error e) {
        printerr ("failed: %s\n", e.message);
        return 1;
    }
    for (int i = 0; i < documents.length; i++)
        print ("%s\n  -> %s\n", documents[i], store.dup_string ("doc-%d".printf (i)));
    print ("%u calls; the API saw at most %u at once (2 documents at once, 3 calls at once)\n",
           api.served, api.peak_in_flight);
    return 0;
}
