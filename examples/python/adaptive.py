#!/usr/bin/python3
# adaptive.py: adaptive concurrency against a limit nobody told us about
#
# The API accepts 3 calls at once and rejects the rest with a 429. An
# adaptive node starts at 8 at once, backs off on the 429s, retries the
# rejected items (a rate limit does not use up max_retries) and settles
# near what the API takes; every item is translated in the end.
#
# SPDX-License-Identifier: MIT

import gi
gi.require_version("Pft", "1")
from gi.repository import Pft

from fake_llm import FakeLlm

api = FakeLlm(max_concurrent=3)          # the hidden limit


class Smart(Pft.AdaptiveNode):
    initial_concurrent = 8               # start optimistic
    min_concurrent = 1
    max_concurrent = 12
    backoff_factor = 0.5                 # halve on a 429
    recovery_threshold = 10              # grow after 10 successes

    def do_prep(self, ctx):
        return ctx.store["texts"]

    def do_exec(self, ctx, text):
        return api.translate(text, "fr")   # a 429 raises Pft.RateLimited

    def do_post(self, ctx, texts, translations):
        ctx.store["translations"] = list(translations)
        return None


def on_concurrency(node, pspec):
    print("  concurrency now %d (after %d rate limits)"
          % (node.props.current_concurrent, node.props.total_rate_limits))


store = Pft.Store()
store["texts"] = ["cat", "dog"] * 30
smart = Smart()
smart.connect("notify::current-concurrent", on_concurrency)
print("starting at %d at once" % smart.props.current_concurrent)
Pft.Flow.new(smart).run(store)
print("translated %d of %d texts; the API rejected %d calls, never saw more than %d at once; "
      "the node ended at %d at once"
      % (smart.props.total_successes, len(store["texts"]), api.rejected,
         api.peak_in_flight, smart.props.current_concurrent))
