# test_mock_server.py: the mock API server through the PftHttp typelib
#
# A plain urllib client; checks that what C tests see reads the same from
# Python (the stats struct, the records list, the arrivals array, the enum).
#
# SPDX-License-Identifier: MIT

import json
import unittest
import urllib.error
import urllib.request

import gi
gi.require_version('PftHttp', '1')
from gi.repository import PftHttp  # noqa: E402

BODY = json.dumps({'model': 'm', 'messages': [{'role': 'user', 'content': 'hi'}]}).encode()


def post(server, path='/v1/chat/completions'):
    request = urllib.request.Request(server.get_uri() + path, BODY,
                                     {'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, reply.headers, json.load(reply)
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.load(e)


class TestMockServer(unittest.TestCase):
    def setUp(self):
        self.server = PftHttp.MockServer(max_requests=2, window=60.0)
        self.server.start_in_thread()

    def tearDown(self):
        self.server.stop()

    def test_limit_and_stats(self):
        results = [post(self.server) for _ in range(3)]
        self.assertEqual([r[0] for r in results], [200, 200, 429])
        self.assertEqual(results[0][2]['choices'][0]['message']['content'], 'echo: hi')
        self.assertEqual(results[1][1]['x-ratelimit-remaining-requests'], '0')
        retry_ms = int(results[2][1]['retry-after-ms'])
        self.assertTrue(1 <= retry_ms <= 60000, retry_ms)

        stats = self.server.get_stats()
        self.assertEqual((stats.requests, stats.accepted, stats.rate_limited), (3, 2, 1))
        self.assertEqual(stats.max_in_window, 3)
        self.assertIn('rate_limited: 1\n', stats.to_string())

        records = self.server.get_records()
        self.assertEqual([r.status for r in records], [200, 200, 429])
        self.assertEqual([r.retry_after_ms for r in records], [-1, -1, retry_ms])
        self.assertEqual([r.arrival for r in records], list(self.server.get_arrivals()))
        for r in records:
            self.assertGreaterEqual(r.finished, r.arrival)

        self.server.reset_stats()
        self.assertEqual(self.server.get_stats().requests, 0)
        self.assertEqual(self.server.get_records(), [])

    def test_live_properties(self):
        self.server.props.header_style = PftHttp.MockHeaderStyle.IETF
        self.server.set_limits(10, 60.0, 0, 0)
        status, headers, _ = post(self.server)
        self.assertEqual(status, 200)
        self.assertEqual(headers['RateLimit-Limit'], '10')
        self.assertIsNone(headers['x-ratelimit-limit-requests'])
        self.assertEqual(self.server.props.max_requests, 10)

    def test_anthropic_errors(self):
        status, _, body = post(self.server, '/v1/messages')
        self.assertEqual(status, 400)
        self.assertEqual(body['type'], 'error')
        self.assertIn('anthropic-version', body['error']['message'])


if __name__ == '__main__':
    unittest.main()
