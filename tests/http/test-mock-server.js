// test-mock-server.js: the mock API server through the PftHttp typelib,
// driven by a Soup.Session from GJS
//
// SPDX-License-Identifier: MIT

import GLib from 'gi://GLib';
import Soup from 'gi://Soup?version=3.0';
import PftHttp from 'gi://PftHttp?version=1';

import {assert, runTests} from '../gjs/harness.js';

const check = assert;

function testMockServerFromSoup() {
    const server = new PftHttp.MockServer({max_requests: 2, window: 60.0});
    server.start_in_thread();

    const session = new Soup.Session();
    const body = JSON.stringify({model: 'm', messages: [{role: 'user', content: 'hola'}]});
    const statuses = [];
    let lastReply = null;
    for (let i = 0; i < 3; i++) {
        const msg = Soup.Message.new('POST', `${server.get_uri()}/v1/chat/completions`);
        msg.set_request_body_from_bytes('application/json', new GLib.Bytes(new TextEncoder().encode(body)));
        const bytes = session.send_and_read(msg, null);
        // The status-code property: Soup 3.2's Status enum has no 429.
        statuses.push(msg.status_code);
        lastReply = {msg, text: new TextDecoder().decode(bytes.toArray())};
        if (i === 0)
            check(JSON.parse(lastReply.text).choices[0].message.content === 'echo: hola', lastReply.text);
    }
    check(statuses.join() === '200,200,429', statuses.join());
    check(Number(lastReply.msg.get_response_headers().get_one('retry-after-ms')) >= 1, 'retry-after-ms');

    const stats = server.get_stats();
    check(stats.requests === 3 && stats.accepted === 2 && stats.rate_limited === 1, stats.to_string());
    const records = server.get_records();
    check(records.map(r => r.status).join() === '200,200,429', 'record statuses');
    check(server.get_arrivals().length === 3, 'arrivals');

    server.stop();
}

runTests({
    'the mock API server driven by Soup.Session': testMockServerFromSoup,
});
