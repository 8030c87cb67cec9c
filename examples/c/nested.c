/* nested.c: throttling at two levels
 *
 * A throttled batch flow translates documents, 2 at once; inside each
 * walk, a throttled batch node translates the document's sentences, 3
 * calls at once. The node's limiter belongs to the node object, which
 * every walk shares, so the API sees at most 3 calls at once in total,
 * not 2 x 3 (the seed copied the node per walk and made up to 6).
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft.h>

#include "fake-llm.h"

static FakeLlm *api;

/* ---- inner: the sentences of one document, 3 calls at once ---- */

#define EX_TYPE_SENTENCES (ex_sentences_get_type ())
G_DECLARE_FINAL_TYPE (ExSentences, ex_sentences, EX, SENTENCES, PftThrottledBatchNode)
struct _ExSentences { PftThrottledBatchNode parent_instance; };
G_DEFINE_FINAL_TYPE (ExSentences, ex_sentences, PFT_TYPE_THROTTLED_BATCH_NODE)

/* The document of this walk comes in the params. */
static void
ex_sentences_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_autofree char *doc = pft_context_dup_param_string (ctx, "doc");
  g_auto(GStrv) sentences = g_strsplit (doc, ". ", -1);

  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, pft_values_new_from_strv ((const char * const *) sentences));
}

static void
ex_sentences_exec (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  char *text = fake_llm_translate (api, g_value_get_string (item), "de", error);

  if (text == NULL)
    return;
  g_value_init (result, G_TYPE_STRING);
  g_value_take_string (result, text);
}

static char *
ex_sentences_post (PftNode *node, PftContext *ctx, const GValue *prep_result,
                   const GValue *exec_result, GError **error)
{
  g_autofree char *key = g_strdup_printf ("doc-%" G_GINT64_FORMAT, pft_context_get_param_int (ctx, "index", 0));
  g_auto(GStrv) parts = pft_values_dup_strv (g_value_get_object (exec_result));
  g_autofree char *joined = g_strjoinv (". ", parts);

  pft_store_set_string (pft_context_get_store (ctx), key, joined);
  return NULL;
}

static void
ex_sentences_class_init (ExSentencesClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = ex_sentences_prep;
  PFT_NODE_CLASS (klass)->exec = ex_sentences_exec;
  PFT_NODE_CLASS (klass)->post = ex_sentences_post;
  PFT_THROTTLED_BATCH_NODE_CLASS (klass)->default_max_concurrent = 3;
}

static void ex_sentences_init (ExSentences *self) { }

/* ---- outer: the documents, 2 walks at once ---- */

#define EX_TYPE_DOCUMENTS (ex_documents_get_type ())
G_DECLARE_FINAL_TYPE (ExDocuments, ex_documents, EX, DOCUMENTS, PftThrottledBatchFlow)
struct _ExDocuments { PftThrottledBatchFlow parent_instance; };
G_DEFINE_FINAL_TYPE (ExDocuments, ex_documents, PFT_TYPE_THROTTLED_BATCH_FLOW)

static void
ex_documents_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_autoptr(PftValues) docs = pft_store_dup_values (pft_context_get_store (ctx), "documents");
  PftValues *sets = pft_values_new ();

  for (guint i = 0; i < pft_values_get_length (docs); i++)
    pft_values_append_variant (sets, g_variant_new_parsed ("{'index': <%x>, 'doc': <%s>}",
                                                           (gint64) i, pft_values_get_string (docs, i)));
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, sets);
}

static void
ex_documents_class_init (ExDocumentsClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = ex_documents_prep;
  PFT_THROTTLED_BATCH_FLOW_CLASS (klass)->default_max_concurrent_flows = 2;
}

static void ex_documents_init (ExDocuments *self) { }

int
main (void)
{
  static const char *documents[] = {
    "hello. good morning. thank you",
    "cat. dog. flow. rate limit",
    "hello. world",
    "thank you. good morning. cat",
    NULL,
  };
  g_autoptr(PftNode) sentences = g_object_new (EX_TYPE_SENTENCES, NULL);
  g_autoptr(PftNode) docs = g_object_new (EX_TYPE_DOCUMENTS, "start", sentences, NULL);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) input = pft_values_new_from_strv (documents);
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  api = fake_llm_new (0, 0);   /* no hidden limit: we watch the peak */
  pft_store_set_values (store, "documents", input);
  action = pft_node_run (docs, store, NULL, &error);
  if (error != NULL)
    {
      g_printerr ("failed: %s\n", error->message);
      return 1;
    }
  for (guint i = 0; documents[i] != NULL; i++)
    {
      g_autofree char *key = g_strdup_printf ("doc-%u", i);
      g_autofree char *german = pft_store_dup_string (store, key);

      g_print ("%s\n  -> %s\n", documents[i], german);
    }
  g_print ("%u calls; the API saw at most %u at once (2 documents at once, 3 calls at once)\n",
           fake_llm_get_served (api), fake_llm_get_peak_in_flight (api));
  fake_llm_free (api);
  return 0;
}
