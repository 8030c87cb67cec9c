/* test-chat-node.vala: PftHttp.ChatNode from Vala against the mock API
 *
 * SPDX-License-Identifier: MIT
 */

class Translate : PftHttp.ChatNode {
    public Translate (PftHttp.ChatClient client) {
        Object (client: client, max_concurrent: 2);
    }

    public override GLib.Value build_messages (Pft.Context ctx, GLib.Value item) throws GLib.Error {
        return "Translate to French: " + (string) item;
    }

    public override GLib.Value handle_reply (Pft.Context ctx, GLib.Value item, PftHttp.ChatReply reply) throws GLib.Error {
        return "%s => %s".printf ((string) item, reply.get_text ());
    }
}

static PftHttp.ChatClient client_for (PftHttp.MockServer mock) {
    var client = new PftHttp.ChatClient (PftHttp.Provider.ANTHROPIC, mock.get_uri (), "mock-model");
    return client;
}

static void test_ready_node () {
    var mock = new PftHttp.MockServer ();
    try {
        mock.start_in_thread ();
        var node = new PftHttp.ChatNode (client_for (mock));
        var store = new Pft.Store ();
        store.set_values ("prompts", new Pft.Values.from_strv ({ "one", "two", "three" }));
        node.run (store, null);
        var replies = store.dup_values ("replies");
        assert (replies.get_length () == 3);
        for (uint i = 0; i < 3; i++) {
            var reply = (PftHttp.ChatReply) replies.dup_object (i);
            assert (reply.get_status () == 200);
            assert (reply.get_text ().length > 0);
        }
    } catch (GLib.Error e) {
        error ("%s", e.message);
    }
    mock.stop ();
}

static void test_subclass () {
    var mock = new PftHttp.MockServer ();
    try {
        mock.start_in_thread ();
        var node = new Translate (client_for (mock));
        var store = new Pft.Store ();
        store.set_values ("prompts", new Pft.Values.from_strv ({ "cat", "dog", "bird" }));
        node.run (store, null);
        var replies = store.dup_values ("replies");
        assert (replies.get_length () == 3);
        assert (replies.get_string (0).has_prefix ("cat => "));
        assert (replies.get_string (1).has_prefix ("dog => "));
        assert (replies.get_string (2).has_prefix ("bird => "));
    } catch (GLib.Error e) {
        error ("%s", e.message);
    }
    mock.stop ();
}

int main (string[] args) {
    Test.init (ref args);
    Test.add_func ("/pft-http/vala/ready-node", test_ready_node);
    Test.add_func ("/pft-http/vala/subclass", test_subclass);
    return Test.run ();
}
