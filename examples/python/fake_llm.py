# fake_llm.py: an in-process stand-in for an LLM API, for the cookbook
#
# SPDX-License-Identifier: MIT

"""It translates a word or two after a short delay, and has limits of its
own that the caller is not told about, like a real provider: a call beyond
them raises a rate-limit error (the "429") at once, with a retry-after when
the per-second quota is what ran out. Thread-safe."""

import collections
import threading
import time

import gi
gi.require_version("Pft", "1")
from gi.repository import Pft

WORDS = {
    "hello": ("hallo", "bonjour"), "world": ("Welt", "monde"),
    "good morning": ("guten Morgen", "bonjour"), "thank you": ("danke", "merci"),
    "cat": ("Katze", "chat"), "dog": ("Hund", "chien"),
    "rate limit": ("Ratenbegrenzung", "limite de débit"), "flow": ("Fluss", "flux"),
}


class FakeLlm:
    def __init__(self, max_concurrent=0, max_per_second=0):
        self.max_concurrent = max_concurrent      # hidden limits, 0: none
        self.max_per_second = max_per_second
        self.in_flight = 0
        self.peak_in_flight = 0
        self.served = 0
        self.rejected = 0
        self._starts = collections.deque()
        self._lock = threading.Lock()

    def _admit(self):
        now = time.monotonic()
        with self._lock:
            while self._starts and self._starts[0] <= now - 1.0:
                self._starts.popleft()
            if self.max_concurrent and self.in_flight >= self.max_concurrent:
                self.rejected += 1
                raise Pft.RateLimited(retry_after=-1.0,
                                      message="429 Too Many Requests: too many calls at once")
            if self.max_per_second and len(self._starts) >= self.max_per_second:
                self.rejected += 1
                raise Pft.RateLimited(retry_after=self._starts[0] + 1.0 - now,
                                      message="429 Too Many Requests: quota per second used up")
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self._starts.append(now)

    def translate(self, text, lang):
        """Blocks for about 20 ms, like a network call: call it from
        do_exec, which runs in a worker thread."""
        self._admit()
        time.sleep(0.02)
        with self._lock:
            self.in_flight -= 1
            self.served += 1
        if text in WORDS:
            return WORDS[text][1 if lang == "fr" else 0]
        return "[%s] %s" % (lang, text)
