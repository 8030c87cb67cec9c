/* pft-example.c: a flow with a batch node over a few hundred items
 *
 * load -> count words (batch, 8 at a time, in worker threads) -> report
 *
 * Each "document" takes a few milliseconds to process, like a small API
 * call; the progress line is redrawn from the main loop while the batch
 * runs. Run it with `build-aux/pft-dev example`.
 *
 * SPDX-License-Identifier: MIT
 */

#include <locale.h>
#include <unistd.h>

#include <pft.h>

#define N_DOCS 300

/* ---- load: puts the documents into the store ---- */

#define EX_TYPE_LOAD (ex_load_get_type ())
G_DECLARE_FINAL_TYPE (ExLoad, ex_load, EX, LOAD, PftNode)
struct _ExLoad { PftNode parent_instance; };
G_DEFINE_FINAL_TYPE (ExLoad, ex_load, PFT_TYPE_NODE)

static char *
ex_load_post (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  static const char *words[] = { "flow", "node", "batch", "limit", "token", "quota", "retry" };
  g_autoptr(PftValues) docs = pft_values_new_sized (N_DOCS);
  GRand *rand = g_rand_new_with_seed (42);

  for (guint i = 0; i < N_DOCS; i++)
    {
      GString *doc = g_string_new (NULL);
      guint n = g_rand_int_range (rand, 5, 60);

      for (guint w = 0; w < n; w++)
        g_string_append_printf (doc, "%s%s", w ? " " : "", words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
      pft_values_append_string (docs, doc->str);
      g_string_free (doc, TRUE);
    }
  g_rand_free (rand);
  pft_store_set_values (pft_context_get_store (ctx), "documents", docs);
  return NULL;
}

static void ex_load_class_init (ExLoadClass *klass) { PFT_NODE_CLASS (klass)->post = ex_load_post; }
static void ex_load_init (ExLoad *self) { }

/* ---- count: a batch node, one exec per document ---- */

#define EX_TYPE_COUNT (ex_count_get_type ())
G_DECLARE_FINAL_TYPE (ExCount, ex_count, EX, COUNT, PftBatchNode)
struct _ExCount { PftBatchNode parent_instance; };
G_DEFINE_FINAL_TYPE (ExCount, ex_count, PFT_TYPE_BATCH_NODE)

static void
ex_count_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, pft_store_dup_values (pft_context_get_store (ctx), "documents"));
}

static void
ex_count_exec (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  g_auto(GStrv) words = g_strsplit (g_value_get_string (item), " ", -1);

  /* Runs in a worker thread: a blocking call is fine here. */
  g_usleep (4000);
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, g_strv_length (words));
  pft_store_add_int (pft_context_get_store (ctx), "processed", 1);
}

static char *
ex_count_post (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  pft_store_set_values (pft_context_get_store (ctx), "counts", g_value_get_object (exec));
  return NULL;
}

static void
ex_count_class_init (ExCountClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = ex_count_prep;
  PFT_NODE_CLASS (klass)->exec = ex_count_exec;
  PFT_NODE_CLASS (klass)->post = ex_count_post;
}

static void ex_count_init (ExCount *self) { }

/* ---- report ---- */

#define EX_TYPE_REPORT (ex_report_get_type ())
G_DECLARE_FINAL_TYPE (ExReport, ex_report, EX, REPORT, PftNode)
struct _ExReport { PftNode parent_instance; };
G_DEFINE_FINAL_TYPE (ExReport, ex_report, PFT_TYPE_NODE)

static char *
ex_report_post (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  g_autoptr(PftValues) counts = pft_store_dup_values (pft_context_get_store (ctx), "counts");
  gint64 total = 0, longest = 0;
  guint n = pft_values_get_length (counts);

  for (guint i = 0; i < n; i++)
    {
      gint64 c = pft_values_get_int (counts, i);
      total += c;
      longest = MAX (longest, c);
    }
  pft_store_set_int (pft_context_get_store (ctx), "total-words", total);
  pft_store_set_int (pft_context_get_store (ctx), "longest", longest);
  return g_strdup ("reported");
}

static void ex_report_class_init (ExReportClass *klass) { PFT_NODE_CLASS (klass)->post = ex_report_post; }
static void ex_report_init (ExReport *self) { }

/* ---- main ---- */

typedef struct
{
  GMainLoop *loop;
  PftStore  *store;
  char      *action;
  GError    *error;
  gboolean   tty;
  gboolean   final;
} Run;

static gboolean
show_progress (gpointer data)
{
  Run *run = data;
  gint64 done = pft_store_get_int (run->store, "processed", 0);
  int width = 40, filled = (int) (done * width / N_DOCS);

  /* Redrawn in place on a terminal; a pipe or a log gets the last one only. */
  if (run->tty || run->final)
    g_print ("%s  [%-*.*s] %3" G_GINT64_FORMAT "/%d", run->tty ? "\r" : "", width, filled,
             "########################################", done, N_DOCS);
  return G_SOURCE_CONTINUE;
}

static void
flow_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *run = data;

  run->action = pft_node_run_finish (PFT_NODE (source), result, &run->error);
  g_main_loop_quit (run->loop);
}

int
main (int argc, char *argv[])
{
  g_autoptr(PftNode) load = g_object_new (EX_TYPE_LOAD, "name", "load", NULL);
  g_autoptr(PftNode) count = g_object_new (EX_TYPE_COUNT, "name", "count", "max-concurrent", 8,
                                           "max-retries", 3, "wait", 0.1, NULL);
  g_autoptr(PftNode) report = g_object_new (EX_TYPE_REPORT, "name", "report", NULL);
  g_autoptr(PftFlow) flow = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GOptionContext) options = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  Run run = { 0 };
  gint64 start;
  guint progress_id;

  setlocale (LC_ALL, "");
  g_option_context_set_summary (options,
    "Counts the words of 300 generated documents with a flow: load -> count (a batch node,\n"
    "8 items at a time in worker threads) -> report. Takes no options.");
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc > 1)
    {
      g_printerr ("%s\n", error != NULL ? error->message : "pft-example takes no arguments");
      return 2;
    }

  pft_node_add_successor (pft_node_add_successor (load, NULL, count), NULL, report);
  flow = pft_flow_new (load);

  g_print ("Pft %s: counting words in %d documents, 8 at a time\n", pft_get_version_string (), N_DOCS);
  run.loop = g_main_loop_new (NULL, FALSE);
  run.store = store;
  run.tty = isatty (STDOUT_FILENO);
  progress_id = g_timeout_add (50, show_progress, &run);
  start = g_get_monotonic_time ();
  pft_node_run_async (PFT_NODE (flow), store, NULL, flow_done, &run);
  g_main_loop_run (run.loop);
  g_source_remove (progress_id);
  run.final = TRUE;
  show_progress (&run);
  g_print ("\n");

  if (run.error != NULL)
    {
      g_printerr ("flow failed: %s\n", run.error->message);
      g_error_free (run.error);
      g_main_loop_unref (run.loop);
      return 1;
    }

  g_print ("flow ended with action '%s' after %.2f s\n", run.action,
           (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
  g_print ("documents: %d, words: %" G_GINT64_FORMAT ", longest document: %" G_GINT64_FORMAT " words\n",
           N_DOCS, pft_store_get_int (store, "total-words", 0), pft_store_get_int (store, "longest", 0));
  g_free (run.action);
  g_main_loop_unref (run.loop);
  return pft_store_get_int (store, "processed", 0) == N_DOCS ? 0 : 1;
}
