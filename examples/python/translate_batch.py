#!/usr/bin/python3
# translate_batch.py: a batch of translations under a provider preset
#
# A throttled batch node translates a list of texts, one call to the
# (simulated) API each, with the limits of the preset "openai_tier1":
# 5 calls at once, 60 a minute.
#
# SPDX-License-Identifier: MIT

import gi
gi.require_version("Pft", "1")
from gi.repository import Pft

from fake_llm import FakeLlm

api = FakeLlm(max_concurrent=5)          # its limits, unknown to the node


class Translate(Pft.ThrottledBatchNode):
    preset = "openai_tier1"              # 5 at once, 60 a minute

    def do_prep(self, ctx):
        return ctx.store["texts"]

    def do_exec(self, ctx, text):        # a worker thread, once a permit is granted
        return api.translate(text, "de")

    def do_post(self, ctx, texts, translations):
        ctx.store["translations"] = list(translations)
        return None


texts = ["hello", "world", "good morning", "thank you", "cat", "dog", "rate limit", "flow"]
store = Pft.Store()
store["texts"] = texts
node = Translate()
Pft.Flow.new(node).run(store)

for text, german in zip(texts, store["translations"]):
    print("%-14s -> %s" % (text, german))
print("translated %d texts under openai_tier1 (max-concurrent %d, max-per-minute %d); "
      "the API saw at most %d at once and rejected %d"
      % (node.props.completed, node.props.max_concurrent, node.props.max_per_minute,
         api.peak_in_flight, api.rejected))
