/* registry-keyfile.c: limits per provider from a key file
 *
 * The limits live in a key file (the path given, else limits.ini in the
 * current directory or in examples/: run it from the tree's root or from
 * examples/), one
 * group per limiter. The registry loads it at start-up; the nodes of the
 * flow name the limiter they use, and the registry reports how each was
 * used.
 *
 * SPDX-License-Identifier: MIT
 */

#include <locale.h>

#include <pft.h>

#include "fake-llm.h"

static FakeLlm *api;

/* One node class for both steps: it translates the texts at the store key
 * @from into @lang and puts them at @to, under the registry's limiter that
 * has the node's name. */
#define EX_TYPE_STEP (ex_step_get_type ())
G_DECLARE_FINAL_TYPE (ExStep, ex_step, EX, STEP, PftThrottledBatchNode)
struct _ExStep { PftThrottledBatchNode parent_instance; const char *from, *to, *lang; };
G_DEFINE_FINAL_TYPE (ExStep, ex_step, PFT_TYPE_THROTTLED_BATCH_NODE)

static void
ex_step_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, pft_store_dup_values (pft_context_get_store (ctx), EX_STEP (node)->from));
}

static void
ex_step_exec (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  char *text = fake_llm_translate (api, g_value_get_string (item), EX_STEP (node)->lang, error);

  if (text == NULL)
    return;
  g_value_init (result, G_TYPE_STRING);
  g_value_take_string (result, text);
}

static char *
ex_step_post (PftNode *node, PftContext *ctx, const GValue *prep_result,
              const GValue *exec_result, GError **error)
{
  pft_store_set_values (pft_context_get_store (ctx), EX_STEP (node)->to, g_value_get_object (exec_result));
  return NULL;
}

static void
ex_step_class_init (ExStepClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = ex_step_prep;
  PFT_NODE_CLASS (klass)->exec = ex_step_exec;
  PFT_NODE_CLASS (klass)->post = ex_step_post;
}

static void ex_step_init (ExStep *self) { }

static PftNode *
ex_step_new (const char *limiter, const char *from, const char *to, const char *lang, GError **error)
{
  ExStep *step = g_object_new (EX_TYPE_STEP, "name", limiter, NULL);

  step->from = from;
  step->to = to;
  step->lang = lang;
  if (!pft_throttled_batch_node_use_registry_limiter (PFT_THROTTLED_BATCH_NODE (step), limiter, error))
    g_clear_object (&step);
  return PFT_NODE (step);
}

int
main (int argc, char **argv)
{
  const char *path = argc > 1 ? argv[1]
                     : g_file_test ("limits.ini", G_FILE_TEST_EXISTS) ? "limits.ini"
                     : "examples/limits.ini";
  PftLimiterRegistry *registry = pft_limiter_registry_get_default ();
  static const char *words[] = { "hello", "world", "cat", "dog", "flow", "thank you", NULL };
  g_autoptr(PftNode) translate = NULL;
  g_autoptr(PftNode) check = NULL;
  g_autoptr(PftFlow) flow = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) texts = pft_values_new_from_strv (words);
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  GVariantIter iter;
  const char *name;
  GVariant *limiter_stats;

  setlocale (LC_ALL, "");   /* messages quote “values” in the locale's charset */
  if (!pft_limiter_registry_load_from_file (registry, path, &error))
    {
      g_printerr ("%s\nUsage: %s [PATH/limits.ini]\n", error->message, argv[0]);
      return 1;
    }
  api = fake_llm_new (0, 0);

  translate = ex_step_new ("translator", "texts", "german", "de", &error);
  check = translate ? ex_step_new ("summarizer", "german", "checked", "fr", &error) : NULL;
  if (check == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  pft_node_add_successor (translate, NULL, check);
  flow = pft_flow_new (translate);
  pft_store_set_values (store, "texts", texts);
  action = pft_node_run (PFT_NODE (flow), store, NULL, &error);
  if (error != NULL)
    {
      g_printerr ("failed: %s\n", error->message);
      return 1;
    }

  /* name -> a{sv} of limits and use, like the seed's list_all(). */
  stats = pft_limiter_registry_get_all_stats (registry);
  g_variant_iter_init (&iter, stats);
  while (g_variant_iter_loop (&iter, "{&s@a{sv}}", &name, &limiter_stats))
    {
      guint max_concurrent = 0, max_per_window = 0;
      guint64 admitted = 0;

      g_variant_lookup (limiter_stats, "max_concurrent", "u", &max_concurrent);
      g_variant_lookup (limiter_stats, "max_per_window", "u", &max_per_window);
      g_variant_lookup (limiter_stats, "total_admitted", "t", &admitted);
      g_print ("limiter %-10s max-concurrent %u, max-per-window %u: %" G_GUINT64_FORMAT " calls\n",
               name, max_concurrent, max_per_window, admitted);
    }
  fake_llm_free (api);
  return 0;
}
