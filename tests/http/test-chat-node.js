// test-chat-node.js: PftHttp.ChatNode from GJS against the mock API
//
// SPDX-License-Identifier: MIT

import GObject from 'gi://GObject';
import Pft from 'gi://Pft?version=1';
import PftHttp from 'gi://PftHttp?version=1';

import {assert, runTests} from '../gjs/harness.js';

const Translate = GObject.registerClass(
class Translate extends PftHttp.ChatNode {
    vfunc_build_messages(ctx, item) {
        return `Translate to French: ${item}`;
    }

    vfunc_handle_reply(ctx, item, reply) {
        return `${item} => ${reply.get_text()}`;
    }
});

const check = assert;

function testChatNodeAgainstMock() {
    const mock = new PftHttp.MockServer();
    mock.start_in_thread();
    try {
        const client = new PftHttp.ChatClient({
            provider: PftHttp.Provider.OPENAI,
            base_url: `${mock.get_uri()}/v1`,
            model: 'mock-model',
        });

        const node = new PftHttp.ChatNode({client});
        let store = new Pft.Store();
        store.set_values('prompts', Pft.Values.new_from_strv(['one', 'two', 'three']));
        node.run(store, null);
        let replies = store.dup_values('replies');
        check(replies.get_length() === 3, 'three replies');
        for (let i = 0; i < 3; i++) {
            const reply = replies.dup_object(i);
            check(reply instanceof PftHttp.ChatReply, 'a ChatReply');
            check(reply.get_status() === 200 && reply.get_text().length > 0, 'a 200 with text');
        }

        const sub = new Translate({client, max_concurrent: 2});
        store = new Pft.Store();
        store.set_values('prompts', Pft.Values.new_from_strv(['cat', 'dog', 'bird', 'fish']));
        sub.run(store, null);
        replies = store.dup_values('replies');
        const texts = [0, 1, 2, 3].map(i => replies.get_string(i));
        check(JSON.stringify(texts.map(t => t.split(' => ')[0])) ===
              JSON.stringify(['cat', 'dog', 'bird', 'fish']), `in order: ${texts}`);
        check(texts.every(t => t.split(' => ')[1].length > 0), 'texts');
    } finally {
        mock.stop();
    }
}

runTests({
    'ChatNode and a subclass against the mock API': testChatNodeAgainstMock,
});
