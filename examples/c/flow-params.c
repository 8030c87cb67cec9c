/* flow-params.c: flow-level throttling, one walk per param set
 *
 * A throttled batch flow runs its graph once per user, 3 users at once and
 * at most 60 started a minute. Each walk sees its user in the params of
 * its context, as the seed's self.params: the node greets the user in the
 * user's language.
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft.h>

#include "fake-llm.h"

static FakeLlm *api;

/* ---- the node each walk runs: reads its params ---- */

#define EX_TYPE_GREET (ex_greet_get_type ())
G_DECLARE_FINAL_TYPE (ExGreet, ex_greet, EX, GREET, PftNode)
struct _ExGreet { PftNode parent_instance; };
G_DEFINE_FINAL_TYPE (ExGreet, ex_greet, PFT_TYPE_NODE)

static void
ex_greet_exec (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  g_autofree char *lang = pft_context_dup_param_string (ctx, "lang");
  char *greeting = fake_llm_translate (api, "hello", lang, error);

  if (greeting == NULL)
    return;
  g_value_init (result, G_TYPE_STRING);
  g_value_take_string (result, greeting);
}

static char *
ex_greet_post (PftNode *node, PftContext *ctx, const GValue *prep_result,
               const GValue *exec_result, GError **error)
{
  gint64 user = pft_context_get_param_int (ctx, "user_id", -1);
  g_autofree char *key = g_strdup_printf ("greeting-%" G_GINT64_FORMAT, user);

  /* The store is shared by all walks: one key per user. */
  pft_store_set_string (pft_context_get_store (ctx), key, g_value_get_string (exec_result));
  return NULL;
}

static void
ex_greet_class_init (ExGreetClass *klass)
{
  PFT_NODE_CLASS (klass)->exec = ex_greet_exec;
  PFT_NODE_CLASS (klass)->post = ex_greet_post;
}

static void ex_greet_init (ExGreet *self) { }

/* ---- the flow: one param set per user ---- */

#define EX_TYPE_USERS (ex_users_get_type ())
G_DECLARE_FINAL_TYPE (ExUsers, ex_users, EX, USERS, PftThrottledBatchFlow)
struct _ExUsers { PftThrottledBatchFlow parent_instance; };
G_DEFINE_FINAL_TYPE (ExUsers, ex_users, PFT_TYPE_THROTTLED_BATCH_FLOW)

static void
ex_users_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  gint64 n = pft_store_get_int (pft_context_get_store (ctx), "n-users", 0);
  PftValues *sets = pft_values_new ();

  for (gint64 id = 0; id < n; id++)
    pft_values_append_variant (sets, g_variant_new_parsed ("{'user_id': <%x>, 'lang': <%s>}",
                                                           id, id % 2 ? "fr" : "de"));
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, sets);
}

static void
ex_users_class_init (ExUsersClass *klass)
{
  PftThrottledBatchFlowClass *flow_class = PFT_THROTTLED_BATCH_FLOW_CLASS (klass);

  PFT_NODE_CLASS (klass)->prep = ex_users_prep;
  flow_class->default_max_concurrent_flows = 3;   /* 3 users at once */
  flow_class->default_max_flows_per_minute = 60;  /* 60 users a minute */
}

static void ex_users_init (ExUsers *self) { }

int
main (void)
{
  g_autoptr(PftNode) greet = g_object_new (EX_TYPE_GREET, NULL);
  g_autoptr(ExUsers) users = g_object_new (EX_TYPE_USERS, "start", greet, NULL);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  api = fake_llm_new (3, 0);
  pft_store_set_int (store, "n-users", 6);
  action = pft_node_run (PFT_NODE (users), store, NULL, &error);
  if (error != NULL)
    {
      g_printerr ("failed: %s\n", error->message);
      return 1;
    }
  for (int id = 0; id < 6; id++)
    {
      g_autofree char *key = g_strdup_printf ("greeting-%d", id);
      g_autofree char *greeting = pft_store_dup_string (store, key);

      g_print ("user %d: %s\n", id, greeting);
    }
  g_print ("%" G_GUINT64_FORMAT " walks, %u at once at most (the API saw %u), %u rejected\n",
           pft_throttled_batch_flow_get_completed (PFT_THROTTLED_BATCH_FLOW (users)),
           pft_batch_flow_get_max_concurrent (PFT_BATCH_FLOW (users)),
           fake_llm_get_peak_in_flight (api), fake_llm_get_rejected (api));
  fake_llm_free (api);
  return 0;
}
