/* adaptive.c: adaptive concurrency against a limit nobody told us about
 *
 * The API accepts 3 calls at once and rejects the rest with a 429. An
 * adaptive node starts at 8 at once, backs off on the 429s, retries the
 * rejected items (a rate limit does not use up max-retries) and settles
 * near what the API takes; every item is translated in the end.
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft.h>

#include "fake-llm.h"

#define N_ITEMS 60

static FakeLlm *api;

#define EX_TYPE_SMART (ex_smart_get_type ())
G_DECLARE_FINAL_TYPE (ExSmart, ex_smart, EX, SMART, PftAdaptiveNode)
struct _ExSmart { PftAdaptiveNode parent_instance; };
G_DEFINE_FINAL_TYPE (ExSmart, ex_smart, PFT_TYPE_ADAPTIVE_NODE)

static void
ex_smart_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, pft_store_dup_values (pft_context_get_store (ctx), "texts"));
}

static void
ex_smart_exec (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  char *french = fake_llm_translate (api, g_value_get_string (item), "fr", error);

  if (french == NULL)
    return;   /* a 429 is a PFT_ERROR_RATE_LIMITED error: the node adapts */
  g_value_init (result, G_TYPE_STRING);
  g_value_take_string (result, french);
}

static char *
ex_smart_post (PftNode *node, PftContext *ctx, const GValue *prep_result,
               const GValue *exec_result, GError **error)
{
  pft_store_set_values (pft_context_get_store (ctx), "translations", g_value_get_object (exec_result));
  return NULL;
}

static void
ex_smart_class_init (ExSmartClass *klass)
{
  PftNodeClass *node_class = PFT_NODE_CLASS (klass);
  PftAdaptiveNodeClass *adaptive_class = PFT_ADAPTIVE_NODE_CLASS (klass);

  node_class->prep = ex_smart_prep;
  node_class->exec = ex_smart_exec;
  node_class->post = ex_smart_post;
  /* The seed's class attributes are class fields in C. */
  adaptive_class->default_initial_concurrent = 8;   /* start optimistic */
  adaptive_class->default_min_concurrent = 1;
  adaptive_class->default_backoff_factor = 0.5;     /* halve on a 429 */
  adaptive_class->default_recovery_threshold = 10;  /* grow after 10 successes */
}

static void ex_smart_init (ExSmart *self) { }

/* Shows each change of concurrency as it happens. */
static void
on_concurrency (PftAdaptiveNode *node, GParamSpec *pspec, gpointer user_data)
{
  g_print ("  concurrency now %u (after %" G_GUINT64_FORMAT " rate limits)\n",
           pft_adaptive_node_get_current_concurrent (node),
           pft_adaptive_node_get_total_rate_limits (node));
}

int
main (void)
{
  g_autoptr(PftNode) smart = g_object_new (EX_TYPE_SMART, "max-concurrent", 12, NULL);
  g_autoptr(PftFlow) flow = pft_flow_new (smart);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) texts = pft_values_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  api = fake_llm_new (3, 0);   /* the hidden limit: 3 calls at once */
  for (guint i = 0; i < N_ITEMS; i++)
    pft_values_append_string (texts, i % 2 ? "cat" : "dog");
  pft_store_set_values (store, "texts", texts);
  g_signal_connect (smart, "notify::current-concurrent", G_CALLBACK (on_concurrency), NULL);

  g_print ("starting at %u at once\n", pft_adaptive_node_get_current_concurrent (PFT_ADAPTIVE_NODE (smart)));
  action = pft_node_run (PFT_NODE (flow), store, NULL, &error);
  if (error != NULL)
    {
      g_printerr ("failed: %s\n", error->message);
      return 1;
    }
  g_print ("translated %" G_GUINT64_FORMAT " of %u texts; the API rejected %u calls, "
           "never saw more than %u at once; the node ended at %u at once\n",
           pft_adaptive_node_get_total_successes (PFT_ADAPTIVE_NODE (smart)), N_ITEMS,
           fake_llm_get_rejected (api), fake_llm_get_peak_in_flight (api),
           pft_adaptive_node_get_current_concurrent (PFT_ADAPTIVE_NODE (smart)));
  fake_llm_free (api);
  return 0;
}
