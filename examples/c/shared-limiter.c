/* shared-limiter.c: one limiter for every caller of one provider
 *
 * The API takes 4 calls at once. Two flows run at the same time, each in
 * its own thread, with a node that translates into its own language; a
 * third thread calls the API directly, outside any node. All of them take
 * their permits from the limiter registered as "llm" in the default
 * registry, so together they never exceed 4, and the API rejects nothing.
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft.h>

#include "fake-llm.h"

#define N_TEXTS 12

static FakeLlm *api;

#define EX_TYPE_TRANSLATE (ex_translate_get_type ())
G_DECLARE_FINAL_TYPE (ExTranslate, ex_translate, EX, TRANSLATE, PftThrottledBatchNode)
struct _ExTranslate { PftThrottledBatchNode parent_instance; char *lang; };
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
  char *text = fake_llm_translate (api, g_value_get_string (item), EX_TRANSLATE (node)->lang, error);

  if (text == NULL)
    return;
  g_value_init (result, G_TYPE_STRING);
  g_value_take_string (result, text);
}

static void
ex_translate_finalize (GObject *object)
{
  g_free (EX_TRANSLATE (object)->lang);
  G_OBJECT_CLASS (ex_translate_parent_class)->finalize (object);
}

static void
ex_translate_class_init (ExTranslateClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ex_translate_finalize;
  PFT_NODE_CLASS (klass)->prep = ex_translate_prep;
  PFT_NODE_CLASS (klass)->exec = ex_translate_exec;
}

static void ex_translate_init (ExTranslate *self) { }

/* A thread that runs a whole flow: translate every text into @lang. */
static gpointer
translate_thread (gpointer lang)
{
  g_autoptr(ExTranslate) node = g_object_new (EX_TYPE_TRANSLATE, NULL);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) texts = pft_values_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  node->lang = g_strdup (lang);
  /* The node's own limits give way to the shared limiter. */
  if (!pft_throttled_batch_node_use_registry_limiter (PFT_THROTTLED_BATCH_NODE (node), "llm", &error))
    g_error ("%s", error->message);
  for (guint i = 0; i < N_TEXTS; i++)
    pft_values_append_string (texts, "thank you");
  pft_store_set_values (store, "texts", texts);
  action = pft_node_run (PFT_NODE (node), store, NULL, &error);
  if (error != NULL)
    g_error ("%s flow failed: %s", (char *) lang, error->message);
  g_print ("[%s] %u texts translated\n", (char *) lang, N_TEXTS);
  return NULL;
}

/* A thread that calls the API itself: acquire a permit, call, release. */
static gpointer
direct_thread (gpointer data)
{
  PftRateLimiter *llm = pft_limiter_registry_lookup (pft_limiter_registry_get_default (), "llm", NULL);

  for (guint i = 0; i < N_TEXTS; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PftPermit) permit = pft_rate_limiter_acquire (llm, 1, NULL, &error);
      g_autofree char *text = NULL;

      if (permit == NULL)
        g_error ("%s", error->message);
      text = fake_llm_translate (api, "hello", "de", &error);
      if (text == NULL)
        g_error ("%s", error->message);
      /* The permit goes back when it is freed (or with pft_permit_release). */
    }
  g_print ("[direct] %u calls made\n", N_TEXTS);
  return NULL;
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  GThread *threads[3];

  api = fake_llm_new (4, 0);
  /* At start-up: one limiter per provider, by name. */
  if (pft_limiter_registry_register_new (pft_limiter_registry_get_default (), "llm",
                                         4, 600, 60.0, &error) == NULL)
    g_error ("%s", error->message);

  threads[0] = g_thread_new ("de", translate_thread, "de");
  threads[1] = g_thread_new ("fr", translate_thread, "fr");
  threads[2] = g_thread_new ("direct", direct_thread, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  g_print ("%u calls served; the API saw at most %u at once (limit 4) and rejected %u\n",
           fake_llm_get_served (api), fake_llm_get_peak_in_flight (api), fake_llm_get_rejected (api));
  fake_llm_free (api);
  return 0;
}
