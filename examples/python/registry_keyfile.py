#!/usr/bin/python3
# registry_keyfile.py: limits per provider from a key file
#
# The limits live in a key file (examples/limits.ini by default), one
# group per limiter. The registry loads it at start-up; the nodes of the
# flow name the limiter they use, and the registry reports how each was
# used.
#
# SPDX-License-Identifier: MIT

import os
import sys

import gi
gi.require_version("Pft", "1")
from gi.repository import GLib, Pft

from fake_llm import FakeLlm

api = FakeLlm()


class Step(Pft.ThrottledBatchNode):
    """Translates the texts at store[source] into lang, into store[target],
    under the registry's limiter called like the node."""

    def __init__(self, name, source, target, lang):
        super().__init__(name=name, limiter=name)
        self.source, self.target, self.lang = source, target, lang

    def do_prep(self, ctx):
        return ctx.store[self.source]

    def do_exec(self, ctx, text):
        return api.translate(text, self.lang)

    def do_post(self, ctx, texts, results):
        ctx.store[self.target] = list(results)
        return None


path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "limits.ini")
registry = Pft.LimiterRegistry.get_default()
try:
    registry.load_from_file(path)
except GLib.Error as e:
    sys.exit("%s: %s" % (path, e.message))

translate = Step("translator", "texts", "german", "de")
translate >> Step("summarizer", "german", "checked", "fr")
store = Pft.Store()
store["texts"] = ["hello", "world", "cat", "dog", "flow", "thank you"]
Pft.Flow.new(translate).run(store)

# name -> limits and use, like the seed's list_all().
for name, stats in registry.get_all_stats().unpack().items():
    print("limiter %-10s max-concurrent %d, max-per-window %d: %d calls"
          % (name, stats["max_concurrent"], stats["max_per_window"], stats["total_admitted"]))
