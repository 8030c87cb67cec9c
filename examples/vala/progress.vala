/* progress.vala: a progress bar from item-done
 *
 * A throttled batch node emits item-done once per item, on the run's main
 * context, with the item's index and its error (null on success). With
 * continue-on-error the batch goes on past a failed item, whose result is
 * its error. Here one text in five is one the node refuses.
 *
 * SPDX-License-Identifier: MIT
 */

const uint N_TEXTS = 20;
FakeLlm api;

class Translate : Pft.ThrottledBatchNode {
    public override Value prep (Pft.Context ctx) throws Error {
        return ctx.get_store ().dup_values ("texts");
    }

    public override Value exec (Pft.Context ctx, Value text) throws Error {
        if ((string) text == "")
            throw new IOError.INVALID_DATA ("nothing to translate");
        return api.translate ((string) text, "de");
    }
}

int main () {
    api = new FakeLlm (4);
    var texts = new Pft.Values ();
    for (uint i = 0; i < N_TEXTS; i++)
        texts.append_string (i % 5 == 3 ? "" : "good morning");
    var store = new Pft.Store ();
    store.set_values ("texts", texts);

    var node = new Translate ();
    node.max_concurrent = 4;
    node.continue_on_error = true;
    uint done = 0;
    /* Runs on the run's main context: safe to touch what the main thread owns. */
    node.item_done.connect ((index, error) => {
        done++;
        var width = 20 * done / N_TEXTS;
        print ("[%s%s] %2u/%u item %2u %s\n", string.nfill (width, '#'), string.nfill (20 - width, ' '),
               done, N_TEXTS, index, error != null ? error.message : "ok");
    });
    try {
        node.run (store, null);
    } catch (Error e) {
        printerr ("failed: %s\n", e.message);
        return 1;
    }
    print ("%llu translated, %llu failed\n", node.completed, node.failed);
    return 0;
}
