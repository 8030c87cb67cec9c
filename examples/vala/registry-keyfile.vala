/* registry-keyfile.vala: limits per provider from a key file
 *
 * The limits live in a key file (the path given, else limits.ini in the
 * current directory or in examples/: run it from the tree's root or from
 * examples/), one
 * group per limiter. The registry loads it at start-up; the nodes of the
 * flow name the limiter they use, and the registry reports how each was
 * used.
 *
 * SPDX-License-Identifier: MIT
 */

FakeLlm api;

/* Translates the texts at store[source] into lang, into store[target],
 * under the registry's limiter called like the node. */
class Step : Pft.ThrottledBatchNode {
    string source;
    string target;
    string lang;

    public Step (string name, string source, string target, string lang) throws Error {
        Object (name: name);
        this.source = source;
        this.target = target;
        this.lang = lang;
        use_registry_limiter (name);
    }

    public override Value prep (Pft.Context ctx) throws Error {
        return ctx.get_store ().dup_values (source);
    }

    public override Value exec (Pft.Context ctx, Value text) throws Error {
        return api.translate ((string) text, lang);
    }

    public override string? post (Pft.Context ctx, Value texts, Value results) throws Error {
        ctx.get_store ().set_values (target, (Pft.Values) results);
        return null;
    }
}

int main (string[] args) {
    var path = args.length > 1 ? args[1]
               : FileUtils.test ("limits.ini", FileTest.EXISTS) ? "limits.ini"
               : "examples/limits.ini";
    var registry = Pft.LimiterRegistry.get_default ();
    Intl.setlocale ();   /* messages quote “values” in the locale's charset */
    api = new FakeLlm ();
    try {
        registry.load_from_file (path);
        var translate = new Step ("translator", "texts", "german", "de");
        translate.add_successor (null, new Step ("summarizer", "german", "checked", "fr"));
        var store = new Pft.Store ();
        store.set_values ("texts", new Pft.Values.from_strv ({ "hello", "world", "cat", "dog", "flow", "thank you" }));
        new Pft.Flow (translate).run (store, null);
    } catch (Error e) {
        printerr ("%s\nUsage: %s [PATH/limits.ini]\n", e.message, args[0]);
        return 1;
    }

    /* name -> a{sv} of limits and use, like the seed's list_all(). */
    var iter = registry.get_all_stats ().iterator ();
    string name;
    Variant stats;
    while (iter.next ("{s@a{sv}}", out name, out stats)) {
        var dict = new VariantDict (stats);
        print ("limiter %-10s max-concurrent %u, max-per-window %u: %llu calls\n", name,
               dict.lookup_value ("max_concurrent", VariantType.UINT32).get_uint32 (),
               dict.lookup_value ("max_per_window", VariantType.UINT32).get_uint32 (),
               dict.lookup_value ("total_admitted", VariantType.UINT64).get_uint64 ());
    }
    return 0;
}
