/* progress.c: a progress bar from item-done
 *
 * A throttled batch node emits item-done once per item, on the run's main
 * context, with the item's index and its error (NULL on success). With
 * continue-on-error the batch goes on past a failed item, whose result is
 * its GError. Here one text in five is one the API refuses.
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft.h>

#include "fake-llm.h"

#define N_TEXTS 20

static FakeLlm *api;

#define EX_TYPE_TRANSLATE (ex_translate_get_type ())
G_DECLARE_FINAL_TYPE (ExTranslate, ex_translate, EX, TRANSLATE, PftThrottledBatchNode)
struct _ExTranslate { PftThrottledBatchNode parent_instance; guint done; };
G_DEFINE_FINAL_TYPE (ExTranslate, ex_translate, PFT_TYPE_THROTTLED_BATCH_NODE)

static void
ex_translate_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, pft_store_dup_values (pft_context_get_store (ctx), "texts"));
}

static void
ex_translate_exec (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  const char *text = g_value_get_string (item);
  char *german;

  if (*text == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "nothing to translate");
      return;
    }
  german = fake_llm_translate (api, text, "de", error);
  if (german == NULL)
    return;
  g_value_init (result, G_TYPE_STRING);
  g_value_take_string (result, german);
}

static void
ex_translate_class_init (ExTranslateClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = ex_translate_prep;
  PFT_NODE_CLASS (klass)->exec = ex_translate_exec;
}

static void ex_translate_init (ExTranslate *self) { }

/* Runs on the main context of the run, so it may touch anything the main
 * thread owns (a GTK progress bar, say). */
static void
on_item_done (PftThrottledBatchNode *node, guint index, GError *error, gpointer user_data)
{
  ExTranslate *self = EX_TRANSLATE (node);
  guint width = 20 * ++self->done / N_TEXTS;

  g_print ("[%.*s%*s] %2u/%u item %2u %s\n", (int) width, "####################",
           (int) (20 - width), "", self->done, N_TEXTS, index,
           error != NULL ? error->message : "ok");
}

int
main (void)
{
  g_autoptr(PftNode) translate = g_object_new (EX_TYPE_TRANSLATE,
                                               "max-concurrent", 4,
                                               "continue-on-error", TRUE,
                                               NULL);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) texts = pft_values_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  api = fake_llm_new (4, 0);
  for (guint i = 0; i < N_TEXTS; i++)
    pft_values_append_string (texts, i % 5 == 3 ? "" : "good morning");
  pft_store_set_values (store, "texts", texts);
  g_signal_connect (translate, "item-done", G_CALLBACK (on_item_done), NULL);

  action = pft_node_run (translate, store, NULL, &error);
  if (error != NULL)
    {
      g_printerr ("failed: %s\n", error->message);
      return 1;
    }
  g_print ("%" G_GUINT64_FORMAT " translated, %" G_GUINT64_FORMAT " failed\n",
           pft_throttled_batch_node_get_completed (PFT_THROTTLED_BATCH_NODE (translate)),
           pft_throttled_batch_node_get_failed (PFT_THROTTLED_BATCH_NODE (translate)));
  fake_llm_free (api);
  return 0;
}
