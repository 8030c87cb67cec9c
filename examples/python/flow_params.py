#!/usr/bin/python3
# flow_params.py: flow-level throttling, one walk per param set
#
# A throttled batch flow runs its graph once per user, 3 users at once and
# at most 60 started a minute. Each walk sees its user in ctx.params (the
# seed's self.params): the node greets the user in the user's language.
#
# SPDX-License-Identifier: MIT

import gi
gi.require_version("Pft", "1")
from gi.repository import Pft

from fake_llm import FakeLlm

api = FakeLlm(max_concurrent=3)


class Greet(Pft.Node):
    def do_exec(self, ctx, _):
        return api.translate("hello", ctx.params["lang"])

    def do_post(self, ctx, _, greeting):
        # The store is shared by all walks: one key per user.
        ctx.store["greeting-%d" % ctx.params["user_id"]] = greeting
        return None


class Users(Pft.ThrottledBatchFlow):
    max_concurrent_flows = 3             # 3 users at once
    max_flows_per_minute = 60            # 60 users a minute

    def do_prep(self, ctx):              # one dict of params per walk
        return [{"user_id": uid, "lang": "fr" if uid % 2 else "de"}
                for uid in range(ctx.store["n_users"])]


store = Pft.Store()
store["n_users"] = 6
users = Users(start=Greet())
users.run(store)
for uid in range(6):
    print("user %d: %s" % (uid, store["greeting-%d" % uid]))
print("%d walks, %d at once at most (the API saw %d), %d rejected"
      % (users.props.completed, users.props.max_concurrent_flows,
         api.peak_in_flight, api.rejected))
