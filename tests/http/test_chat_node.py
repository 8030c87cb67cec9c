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

        # An exception in either vfunc fails that item with the exception's
        # text (the override converts it; PyGObject alone printed a
        # traceback and the node saw no value), and the others go on.
        class Picky(PftHttp.ChatNode):
            def do_build_messages(self, ctx, item):
                if item == 'bad prompt':
                    raise ValueError('cannot build a prompt from %r' % item)
                return item

            def do_handle_reply(self, ctx, item, reply):
                if item == 'bad reply':
                    raise KeyError('translation')
                if item == 'none':
                    return None
                return reply.get_text()

        picky = Picky(client=client, max_retries=2, wait=0.0)
        store = Pft.Store()
        store['prompts'] = ['fine', 'bad prompt', 'bad reply', 'none']
        sent = mock.get_stats().requests
        picky.run(store, None)
        replies = store['replies']
        assert replies.get_error(0) is None and replies[0] == 'echo: fine', replies[0]
        error = replies.get_error(1)
        assert error is not None and error.matches(Pft.error_quark(), Pft.Error.FAILED), error
        assert "ValueError: cannot build a prompt from 'bad prompt'" in error.message, error.message
        error = replies.get_error(2)
        assert error is not None and "KeyError: 'translation'" in error.message, error
        # None is a result like any other, as from do_exec.
        assert replies.get_error(3) is None and replies[3] is None, replies[3]
        # 'bad prompt' never reached the server; 'bad reply' was tried twice.
        assert mock.get_stats().requests - sent == 1 + 2 + 1, mock.get_stats().requests - sent

        # A conversation as Python writes it: OpenAI's list of dicts, or
        # (role, content) pairs; the mock answers the last user message.
        class Conversations(PftHttp.ChatNode):
            def do_build_messages(self, ctx, item):
                if item.startswith('dict:'):
                    return [{'role': 'system', 'content': 'Be brief.'},
                            {'role': 'user', 'content': item[5:]}]
                return [('system', 'Be brief.'), ('user', item[6:])]

            def do_handle_reply(self, ctx, item, reply):
                return reply.get_text()

        store = Pft.Store()
        store['prompts'] = ['dict:hello', 'pairs:world']
        Conversations(client=client).run(store, None)
        assert list(store['replies']) == ['echo: hello', 'echo: world'], list(store['replies'])

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
