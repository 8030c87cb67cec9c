# test_chat_node.py: PftHttp.ChatNode from Python against the mock API
#
# SPDX-License-Identifier: MIT
#
# A small batch through the ready node (replies as objects), and through a
# Python subclass that builds the prompt and keeps only the text.

import sys

import gi

gi.require_version('Pft', '1')
gi.require_version('PftHttp', '1')

from gi.repository import GLib, Pft, PftHttp  # noqa: E402


class Translate(PftHttp.ChatNode):
    def do_build_messages(self, ctx, item):
        return 'Translate to French: ' + item

    def do_handle_reply(self, ctx, item, reply):
        return '%s => %s' % (item, reply.get_text())


def main():
    mock = PftHttp.MockServer()
    mock.start_in_thread()
    try:
        base = mock.get_uri() + '/v1'
        client = PftHttp.ChatClient(provider=PftHttp.Provider.OPENAI,
                                    base_url=base, model='mock-model')
        client.set_api_key('sk-python-test')

        node = PftHttp.ChatNode(client=client)
        store = Pft.Store()
        store['prompts'] = ['one', 'two', 'three']
        node.run(store, None)
        replies = store['replies']
        assert len(replies) == 3, replies
        for reply in replies:
            assert isinstance(reply, PftHttp.ChatReply), reply
            assert reply.get_status() == 200
            assert reply.get_text(), 'empty text'
        assert node.get_requests_sent() == 3

        sub = Translate(client=client, max_concurrent=2)
        store = Pft.Store()
        store['prompts'] = ['cat', 'dog', 'bird', 'fish']
        sub.run(store, None)
        texts = list(store['replies'])
        assert [t.split(' => ')[0] for t in texts] == ['cat', 'dog', 'bird', 'fish'], texts
        assert all(' => ' in t and len(t.split(' => ')[1]) > 0 for t in texts), texts

        # The key cannot be read back.
        try:
            client.get_property('api-key')
        except TypeError:
            pass
        else:
            raise AssertionError('api-key is readable')
        assert client.props.has_api_key
    finally:
        mock.stop()
    print('ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
