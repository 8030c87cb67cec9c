// fakeLlm.js: an in-process stand-in for an LLM API, for the cookbook
//
// SPDX-License-Identifier: MIT
//
// It translates a word or two after about 20 ms, and has limits of its own
// that the caller is not told about, like a real provider: a call beyond
// them is answered at once with a rate-limit error (the "429"), with a
// retry-after when the per-second quota is what ran out.
//
// JavaScript cannot block a worker thread, so a call is asynchronous: it
// answers from a timeout on the main context it is given. Under the
// synchronous run() that must be the run's context, ctx.get_main_context().

import GLib from 'gi://GLib';
import Pft from 'gi://Pft?version=1';

const WORDS = {
    'hello': ['hallo', 'bonjour'], 'world': ['Welt', 'monde'],
    'good morning': ['guten Morgen', 'bonjour'], 'thank you': ['danke', 'merci'],
    'cat': ['Katze', 'chat'], 'dog': ['Hund', 'chien'],
    'rate limit': ['Ratenbegrenzung', 'limite de débit'], 'flow': ['Fluss', 'flux'],
};

export class FakeLlm {
    // Hidden limits: calls at once, calls in any second (0: none).
    constructor({maxConcurrent = 0, maxPerSecond = 0} = {}) {
        this.maxConcurrent = maxConcurrent;
        this.maxPerSecond = maxPerSecond;
        this.inFlight = 0;
        this.peakInFlight = 0;
        this.served = 0;
        this.rejected = 0;
        this._starts = [];
    }

    // Calls callback(error, translation) on context: error is a GLib.Error
    // (Pft.Error.RATE_LIMITED for a 429), translation a string.
    translate(text, lang, context, callback) {
        const now = GLib.get_monotonic_time();
        this._starts = this._starts.filter(t => t > now - 1000000);
        let error = null;
        if (this.maxConcurrent && this.inFlight >= this.maxConcurrent) {
            error = Pft.error_new_rate_limited(-1, 'fake-llm',
                '429 Too Many Requests: too many calls at once');
        } else if (this.maxPerSecond && this._starts.length >= this.maxPerSecond) {
            error = Pft.error_new_rate_limited((this._starts[0] + 1000000 - now) / 1e6,
                'fake-llm', '429 Too Many Requests: quota per second used up');
        }
        if (error) {
            this.rejected++;
            this._later(context, 0, () => callback(error, null));
            return;
        }
        this.inFlight++;
        this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
        this._starts.push(now);
        this._later(context, 20, () => {
            this.inFlight--;
            this.served++;
            const words = WORDS[text];
            callback(null, words ? words[lang === 'fr' ? 1 : 0] : `[${lang}] ${text}`);
        });
    }

    _later(context, ms, fn) {
        const source = GLib.timeout_source_new(ms);
        source.set_callback(() => {
            fn();
            return GLib.SOURCE_REMOVE;
        });
        source.attach(context);
    }
}

// The usual exec_task body: call the API, complete the task with its answer.
export function translateTask(api, ctx, text, lang, task) {
    api.translate(text, lang, ctx.get_main_context(), (error, translation) => {
        if (error)
            task.return_error(error);
        else
            task.return_value(translation);
    });
}
