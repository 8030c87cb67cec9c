# bench_dispatch.py: a Python subclass of Pft.ThrottledBatchNode with a
# trivial do_exec, 100k items, max_concurrent 100, under each thread policy
#
# SPDX-License-Identifier: MIT
#
# Prints `key: value` lines (see BENCHMARKS.md); asserts nothing about
# speed. Run by `meson test --benchmark` with /usr/bin/python3.

import os
import resource
import sys
import time

from pfttest import Pft

ITEMS = int(os.environ.get('PFT_BENCH_ITEMS', '100000'))
ROUNDS = int(os.environ.get('PFT_BENCH_ROUNDS', '3'))


class Trivial(Pft.ThrottledBatchNode):
    max_concurrent = 100

    def do_prep(self, ctx):
        return ctx.store['items']

    def do_exec(self, ctx, item):
        return item

    def do_post(self, ctx, prep_res, exec_res):
        ctx.store['n'] = len(exec_res)
        return 'default'


def measure(policy):
    best = 0.0
    for _ in range(ROUNDS):
        node = Trivial(thread_policy=policy)
        store = Pft.Store.new()
        store['items'] = list(range(ITEMS))
        start = time.perf_counter()
        node.run(store)
        elapsed = time.perf_counter() - start
        if store['n'] != ITEMS or node.props.completed != ITEMS:
            sys.exit('bench_dispatch: %d of %d items done' % (node.props.completed, ITEMS))
        best = max(best, ITEMS / elapsed)
    return best


def main():
    main_rate = measure(Pft.ThreadPolicy.MAIN_CONTEXT)
    thread_rate = measure(Pft.ThreadPolicy.AUTO)
    key = 'python_dispatch_%dk' % (ITEMS // 1000)
    print('%s.thread_items_per_s: %.0f' % (key, thread_rate))
    print('%s.main_items_per_s: %.0f' % (key, main_rate))
    print('%s.thread_to_main: %.2f' % (key, thread_rate / main_rate))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print('%s.peak_rss_mb: %.1f' % (key, rss))
    sys.stdout.flush()


if __name__ == '__main__':
    main()
