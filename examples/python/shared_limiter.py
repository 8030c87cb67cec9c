#!/usr/bin/python3
# shared_limiter.py: one limiter for every caller of one provider
#
# The API takes 4 calls at once. Two flows run at the same time, each in
# its own thread, with a node that translates into its own language; a
# third thread calls the API directly, outside any node. All of them take
# their permits from the limiter registered as "llm" in the default
# registry, so together they never exceed 4, and the API rejects nothing.
#
# SPDX-License-Identifier: MIT

import threading

import gi
gi.require_version("Pft", "1")
from gi.repository import Pft

from fake_llm import FakeLlm

N_TEXTS = 12
api = FakeLlm(max_concurrent=4)


class Translate(Pft.ThrottledBatchNode):
    limiter = "llm"                      # the registry's limiter, by name

    def __init__(self, lang, **kwargs):
        super().__init__(**kwargs)
        self.lang = lang

    def do_prep(self, ctx):
        return ctx.store["texts"]

    def do_exec(self, ctx, text):
        return api.translate(text, self.lang)


def translate_thread(lang):
    store = Pft.Store()
    store["texts"] = ["thank you"] * N_TEXTS
    Translate(lang).run(store)
    print("[%s] %d texts translated" % (lang, N_TEXTS))


def direct_thread():
    llm = Pft.LimiterRegistry.get_default().lookup("llm")
    for _ in range(N_TEXTS):
        permit = llm.acquire(1, None)    # blocks until the limiter admits
        try:
            api.translate("hello", "de")
        finally:
            permit.release()
    print("[direct] %d calls made" % N_TEXTS)


# At start-up: one limiter per provider, by name.
Pft.LimiterRegistry.get_default().register_new("llm", 4, 600, 60.0)

threads = [threading.Thread(target=translate_thread, args=("de",)),
           threading.Thread(target=translate_thread, args=("fr",)),
           threading.Thread(target=direct_thread)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("%d calls served; the API saw at most %d at once (limit 4) and rejected %d"
      % (api.served, api.peak_in_flight, api.rejected))
