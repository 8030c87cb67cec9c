/* shared-limiter.vala: one limiter for every caller of one provider
 *
 * The API takes 4 calls at once. Two flows run at the same time, each in
 * its own thread, with a node that translates into its own language; a
 * third thread calls the API directly, outside any node. All of them take
 * their permits from the limiter registered as "llm" in the default
 * registry, so together they never exceed 4, and the API rejects nothing.
 *
 * SPDX-License-Identifier: MIT
 */

const uint N_TEXTS = 12;
FakeLlm api;

class Translate : Pft.ThrottledBatchNode {
    public string lang { get; construct; }

    public Translate (string lang) throws Error {
        Object (lang: lang);
        use_registry_limiter ("llm");   /* the node's own limits give way */
    }

    public override Value prep (Pft.Context ctx) throws Error {
        return ctx.get_store ().dup_values ("texts");
    }

    public override Value exec (Pft.Context ctx, Value text) throws Error {
        return api.translate ((string) text, lang);
    }
}

void translate_thread (string lang) throws Error {
    var texts = new Pft.Values ();
    for (uint i = 0; i < N_TEXTS; i++)
        texts.append_string ("thank you");
    var store = new Pft.Store ();
    store.set_values ("texts", texts);
    new Translate (lang).run (store, null);
    print ("[%s] %u texts translated\n", lang, N_TEXTS);
}

/* A caller outside any node: acquire a permit, call, release. */
void direct_thread () throws Error {
    var llm = Pft.LimiterRegistry.get_default ().lookup ("llm");
    for (uint i = 0; i < N_TEXTS; i++) {
        var permit = llm.acquire (1);
        try {
            api.translate ("hello", "de");
        } finally {
            permit.release ();
        }
    }
    print ("[direct] %u calls made\n", N_TEXTS);
}

int main () {
    api = new FakeLlm (4);
    try {
        /* At start-up: one limiter per provider, by name. */
        Pft.LimiterRegistry.get_default ().register_new ("llm", 4, 600, 60.0);
    } catch (Error e) {
        printerr ("%s\n", e.message);
        return 1;
    }

    bool ok = true;
    var threads = new Thread<bool>[] {
        new Thread<bool> ("de", () => run_or_report (() => translate_thread ("de"))),
        new Thread<bool> ("fr", () => run_or_report (() => translate_thread ("fr"))),
        new Thread<bool> ("direct", () => run_or_report (direct_thread)),
    };
    foreach (var thread in threads)
        ok = thread.join () && ok;
    print ("%u calls served; the API saw at most %u at once (limit 4) and rejected %u\n",
           api.served, api.peak_in_flight, api.rejected);
    return ok ? 0 : 1;
}

delegate void Work () throws Error;

bool run_or_report (Work work) {
    try {
        work ();
        return true;
    } catch (Error e) {
        printerr ("%s\n", e.message);
        return false;
    }
}
