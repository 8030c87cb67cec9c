#!/usr/bin/python3
# nested.py: throttling at two levels
#
# A throttled batch flow translates documents, 2 at once; inside each
# walk, a throttled batch node translates the document's sentences, 3
# calls at once. The node's limiter belongs to the node object, which
# every walk shares, so the API sees at most 3 calls at once in total,
# not 2 x 3 (the seed copied the node per walk and made up to 6).
#
# SPDX-License-Identifier: MIT

import gi
gi.require_version("Pft", "1")
from gi.repository import Pft

from fake_llm import FakeLlm

api = FakeLlm()                          # no hidden limit: we watch the peak


class Sentences(Pft.ThrottledBatchNode):
    max_concurrent = 3

    def do_prep(self, ctx):              # this walk's document, from its params
        return ctx.params["doc"].split(". ")

    def do_exec(self, ctx, sentence):
        return api.translate(sentence, "de")

    def do_post(self, ctx, sentences, german):
        ctx.store["doc-%d" % ctx.params["index"]] = ". ".join(german)
        return None


class Documents(Pft.ThrottledBatchFlow):
    max_concurrent_flows = 2

    def do_prep(self, ctx):
        return [{"index": i, "doc": doc} for i, doc in enumerate(ctx.store["documents"])]


documents = ["hello. good morning. thank you", "cat. dog. flow. rate limit",
             "hello. world", "thank you. good morning. cat"]
store = Pft.Store()
store["documents"] = documents
Documents(start=Sentences()).run(store)
for i, doc in enumerate(documents):
    print("%s\n  -> %s" % (doc, store["doc-%d" % i]))
print("%d calls; the API saw at most %d at once (2 documents at once, 3 calls at once)"
      % (api.served, api.peak_in_flight))
