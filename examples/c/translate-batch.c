/* translate-batch.c: a batch of translations under a provider preset
 *
 * A throttled batch node translates a list of texts, each text one call to
 * the (simulated) API, with the limits of the preset "openai_tier1":
 * 5 calls at once, 60 a minute. The API allows 5 at once, so no call is
 * ever rejected.
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft.h>

#include "fake-llm.h"

static FakeLlm *api;

#define EX_TYPE_TRANSLATE (ex_translate_get_type ())
G_DECLARE_FINAL_TYPE (ExTranslate, ex_translate, EX, TRANSLATE, PftThrottledBatchNode)
struct _ExTranslate { PftThrottledBatchNode parent_instance; };
G_DEFINE_FINAL_TYPE (ExTranslate, ex_translate, PFT_TYPE_THROTTLED_BATCH_NODE)

/* The items of the batch: one per text. */
static void
ex_translate_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, pft_store_dup_values (pft_context_get_store (ctx), "texts"));
}

/* One call per item, in a worker thread, once the limiter lets it go. */
static void
ex_translate_exec (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  char *german = fake_llm_translate (api, g_value_get_string (item), "de", error);

  if (german == NULL)
    return;
  g_value_init (result, G_TYPE_STRING);
  g_value_take_string (result, german);
}

/* The results come in the order of the items. */
static char *
ex_translate_post (PftNode *node, PftContext *ctx, const GValue *prep_result,
                   const GValue *exec_result, GError **error)
{
  pft_store_set_values (pft_context_get_store (ctx), "translations", g_value_get_object (exec_result));
  return NULL;
}

static void
ex_translate_class_init (ExTranslateClass *klass)
{
  PftNodeClass *node_class = PFT_NODE_CLASS (klass);

  node_class->prep = ex_translate_prep;
  node_class->exec = ex_translate_exec;
  node_class->post = ex_translate_post;
}

static void ex_translate_init (ExTranslate *self) { }

int
main (void)
{
  static const char *texts[] = { "hello", "world", "good morning", "thank you",
                                 "cat", "dog", "rate limit", "flow", NULL };
  g_autoptr(PftNode) translate = g_object_new (EX_TYPE_TRANSLATE, NULL);
  g_autoptr(PftFlow) flow = pft_flow_new (translate);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) input = pft_values_new_from_strv (texts);
  g_autoptr(PftValues) output = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  api = fake_llm_new (5, 0);   /* its limits, unknown to the node */
  if (!pft_throttled_batch_node_apply_preset (PFT_THROTTLED_BATCH_NODE (translate), "openai_tier1", &error))
    g_error ("%s", error->message);

  pft_store_set_values (store, "texts", input);
  action = pft_node_run (PFT_NODE (flow), store, NULL, &error);
  if (error != NULL)
    {
      g_printerr ("translation failed: %s\n", error->message);
      return 1;
    }

  output = pft_store_dup_values (store, "translations");
  for (guint i = 0; i < pft_values_get_length (output); i++)
    g_print ("%-14s -> %s\n", texts[i], pft_values_get_string (output, i));
  g_print ("translated %" G_GUINT64_FORMAT " texts under openai_tier1 "
           "(max-concurrent %u, max-per-minute %u); the API saw at most %u at once and rejected %u\n",
           pft_throttled_batch_node_get_completed (PFT_THROTTLED_BATCH_NODE (translate)),
           pft_batch_node_get_max_concurrent (PFT_BATCH_NODE (translate)),
           pft_throttled_batch_node_get_max_per_minute (PFT_THROTTLED_BATCH_NODE (translate)),
           fake_llm_get_peak_in_flight (api), fake_llm_get_rejected (api));
  fake_llm_free (api);
  return 0;
}
