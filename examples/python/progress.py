#!/usr/bin/python3
# progress.py: a progress bar from item-done
#
# A throttled batch node emits item-done once per item, on the run's main
# context, with the item's index and its error (None on success). With
# continue_on_error the batch goes on past a failed item, whose result is
# its error. Here one text in five is one the node refuses.
#
# SPDX-License-Identifier: MIT

import gi
gi.require_version("Pft", "1")
from gi.repository import Pft

from fake_llm import FakeLlm

N_TEXTS = 20
api = FakeLlm(max_concurrent=4)


class Translate(Pft.ThrottledBatchNode):
    max_concurrent = 4
    continue_on_error = True

    def do_prep(self, ctx):
        return ctx.store["texts"]

    def do_exec(self, ctx, text):
        if not text:
            raise ValueError("nothing to translate")
        return api.translate(text, "de")


done = 0


def on_item_done(node, index, error):
    # The run's main context: safe to touch what the main thread owns.
    global done
    done += 1
    width = 20 * done // N_TEXTS
    print("[%-20s] %2d/%d item %2d %s"
          % ("#" * width, done, N_TEXTS, index, error.message if error else "ok"))


store = Pft.Store()
store["texts"] = ["" if i % 5 == 3 else "good morning" for i in range(N_TEXTS)]
node = Translate()
node.connect("item-done", on_item_done)
node.run(store)
print("%d translated, %d failed" % (node.props.completed, node.props.failed))
