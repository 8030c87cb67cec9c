/* bench-dispatch.c: 1M items through a throttled batch node, real clock
 *
 * Prints one `key: value` line per figure (see BENCHMARKS.md). Asserts
 * nothing about speed.
 *
 * Scenarios (each in a fresh child process, so that its peak RSS is its
 * own; the child reads VmHWM from /proc/self/status when done):
 *
 * - baseline: builds the 1M-item PftValues of gint64 and stops. Its RSS is
 *   the input array; the results array of a run is about the same again.
 * - bare: a plain loop over the 1M GValues doing the same work as the
 *   nodes (read the gint64, compute, append to a results PftValues).
 * - async: a PftThrottledBatchNode subclass (max-concurrent 100, no
 *   window) whose C exec_async completes at once, the way Pft offers for
 *   that: pft_context_return_value() before it returns.
 * - async_gtask: the same with an exec_async that completes at once with
 *   a GTask, the usual GIO way (GTask defers the callback to an idle of
 *   the next main-context iteration by itself).
 * - gtask_loop: no Pft, the reference for async_gtask: a loop keeping 100
 *   GTasks in flight, each created and returned at once, the next one
 *   started from the callback of the previous.
 * - thread: the same node class with a blocking C exec (trivial work) and
 *   no exec_async, so the default exec_async sends it to Pft's worker
 *   threads (thread-policy AUTO = THREAD for C).
 * - gthreadpool: a plain GThreadPool doing 1M trivial jobs, at most 100 in
 *   flight like the node, each result marshalled back to the main loop
 *   with g_main_context_invoke (an idle source, as GTask does).
 *
 * Items/s covers the whole pft_node_run (prep, dispatch, post), the input
 * being built beforehand. Run with an argument (async, async_gtask,
 * gtask_loop, thread, bare, gthreadpool, baseline) to do a single
 * scenario in this process, and a
 * second one to change the number of items (for callgrind).
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pft.h>

/* 1M unless a second argument says otherwise (for profiling). */
static guint N_ITEMS = 1000000;
#define MAX_CONCURRENT 100

static inline gint64
work (gint64 v)
{
  return v * 2 + 1;
}

static double
vm_hwm_mb (void)
{
  g_autofree char *status = NULL;
  const char *p;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  p = strstr (status, "VmHWM:");
  if (p == NULL)
    return -1;
  return g_ascii_strtod (p + strlen ("VmHWM:"), NULL) / 1024.0;
}

static double
vm_rss_mb (void)
{
  g_autofree char *status = NULL;
  const char *p;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  p = strstr (status, "VmRSS:");
  if (p == NULL)
    return -1;
  return g_ascii_strtod (p + strlen ("VmRSS:"), NULL) / 1024.0;
}

static PftValues *
build_input (void)
{
  PftValues *values = pft_values_new_sized (N_ITEMS);

  for (guint i = 0; i < N_ITEMS; i++)
    pft_values_append_int (values, i);
  return values;
}

/* ------------------------------------------------------------------ */
/* The nodes                                                            */

#define BENCH_TYPE_ASYNC_NODE (bench_async_node_get_type ())
G_DECLARE_FINAL_TYPE (BenchAsyncNode, bench_async_node, BENCH, ASYNC_NODE, PftThrottledBatchNode)
struct _BenchAsyncNode { PftThrottledBatchNode parent_instance; };
G_DEFINE_FINAL_TYPE (BenchAsyncNode, bench_async_node, PFT_TYPE_THROTTLED_BATCH_NODE)

#define BENCH_TYPE_GTASK_NODE (bench_gtask_node_get_type ())
G_DECLARE_FINAL_TYPE (BenchGTaskNode, bench_gtask_node, BENCH, GTASK_NODE, PftThrottledBatchNode)
struct _BenchGTaskNode { PftThrottledBatchNode parent_instance; };
G_DEFINE_FINAL_TYPE (BenchGTaskNode, bench_gtask_node, PFT_TYPE_THROTTLED_BATCH_NODE)

#define BENCH_TYPE_THREAD_NODE (bench_thread_node_get_type ())
G_DECLARE_FINAL_TYPE (BenchThreadNode, bench_thread_node, BENCH, THREAD_NODE, PftThrottledBatchNode)
struct _BenchThreadNode { PftThrottledBatchNode parent_instance; };
G_DEFINE_FINAL_TYPE (BenchThreadNode, bench_thread_node, PFT_TYPE_THROTTLED_BATCH_NODE)

static void
bench_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, pft_store_dup_values (pft_context_get_store (ctx), "items"));
}

static char *
bench_post (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  pft_store_set_values (pft_context_get_store (ctx), "results", g_value_get_object (exec));
  return NULL;
}

static void
bench_exec_async (PftNode *node, PftContext *ctx, const GValue *item, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
  GValue result = G_VALUE_INIT;

  g_value_init (&result, G_TYPE_INT64);
  g_value_set_int64 (&result, work (g_value_get_int64 (item)));
  /* The result is there: hand it over now, no callback. */
  pft_context_return_value (ctx, &result);
}

static void
bench_exec_finish_unused (PftNode *node, GAsyncResult *result, GValue *value, GError **error)
{
  g_assert_not_reached ();
}

static void
bench_gtask_exec_async (PftNode *node, PftContext *ctx, const GValue *item, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (node, NULL, callback, user_data);
  GValue result = G_VALUE_INIT;

  g_value_init (&result, G_TYPE_INT64);
  g_value_set_int64 (&result, work (g_value_get_int64 (item)));
  /* GTask returns in an idle source: the callback is never synchronous. */
  g_task_return_value (task, &result);
  g_object_unref (task);
}

static void
bench_gtask_exec_finish (PftNode *node, GAsyncResult *result, GValue *value, GError **error)
{
  g_task_propagate_value (G_TASK (result), value, error);
}

static void
bench_exec (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  g_value_init (result, G_TYPE_INT64);
  g_value_set_int64 (result, work (g_value_get_int64 (item)));
}

static void
bench_async_node_class_init (BenchAsyncNodeClass *klass)
{
  PftNodeClass *node_class = PFT_NODE_CLASS (klass);

  node_class->prep = bench_prep;
  node_class->post = bench_post;
  node_class->exec_async = bench_exec_async;
  node_class->exec_finish = bench_exec_finish_unused;
}

static void bench_async_node_init (BenchAsyncNode *self) { }

static void
bench_gtask_node_class_init (BenchGTaskNodeClass *klass)
{
  PftNodeClass *node_class = PFT_NODE_CLASS (klass);

  node_class->prep = bench_prep;
  node_class->post = bench_post;
  node_class->exec_async = bench_gtask_exec_async;
  node_class->exec_finish = bench_gtask_exec_finish;
}

static void bench_gtask_node_init (BenchGTaskNode *self) { }

static void
bench_thread_node_class_init (BenchThreadNodeClass *klass)
{
  PftNodeClass *node_class = PFT_NODE_CLASS (klass);

  node_class->prep = bench_prep;
  node_class->post = bench_post;
  node_class->exec = bench_exec;
}

static void bench_thread_node_init (BenchThreadNode *self) { }

/* ------------------------------------------------------------------ */
/* Scenarios; each prints its figures                                   */

static gboolean
check_results (PftValues *results)
{
  if (results == NULL || pft_values_get_length (results) != N_ITEMS)
    return FALSE;
  for (guint i = 0; i < N_ITEMS; i += 9973)
    if (pft_values_get_int (results, i) != work (i))
      return FALSE;
  return pft_values_get_int (results, N_ITEMS - 1) == work (N_ITEMS - 1);
}

static int
scenario_node (const char *name,
               GType       type)
{
  g_autoptr(PftValues) input = build_input ();
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftNode) node = g_object_new (type, "max-concurrent", MAX_CONCURRENT,
                                          "max-per-minute", 0, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PftValues) results = NULL;
  g_autofree char *action = NULL;
  gint64 t0, t1;

  pft_store_set_values (store, "items", input);
  g_clear_object (&input);

  t0 = g_get_monotonic_time ();
  action = pft_node_run (node, store, NULL, &error);
  t1 = g_get_monotonic_time ();
  if (error != NULL)
    {
      fprintf (stderr, "%s: run failed: %s\n", name, error->message);
      return 1;
    }
  results = pft_store_dup_values (store, "results");
  if (!check_results (results))
    {
      fprintf (stderr, "%s: wrong results\n", name);
      return 1;
    }
  printf ("dispatch_1m_%s.items_per_s: %.0f\n", name, N_ITEMS * (double) G_USEC_PER_SEC / (t1 - t0));
  printf ("dispatch_1m_%s.seconds: %.3f\n", name, (t1 - t0) / (double) G_USEC_PER_SEC);
  printf ("dispatch_1m_%s.peak_rss_mb: %.1f\n", name, vm_hwm_mb ());
  return 0;
}

static int
scenario_baseline (void)
{
  g_autoptr(PftValues) input = build_input ();

  printf ("dispatch_1m.baseline_rss_mb: %.1f\n", vm_rss_mb ());
  printf ("dispatch_1m.baseline_peak_rss_mb: %.1f\n", vm_hwm_mb ());
  return 0;
}

static int
scenario_bare (void)
{
  g_autoptr(PftValues) input = build_input ();
  g_autoptr(PftValues) results = NULL;
  gint64 t0, t1;

  t0 = g_get_monotonic_time ();
  results = pft_values_new_sized (N_ITEMS);
  for (guint i = 0; i < N_ITEMS; i++)
    {
      const GValue *item = pft_values_peek (input, i);
      GValue result = G_VALUE_INIT;

      g_value_init (&result, G_TYPE_INT64);
      g_value_set_int64 (&result, work (g_value_get_int64 (item)));
      pft_values_take (results, &result);
    }
  t1 = g_get_monotonic_time ();
  if (!check_results (results))
    {
      fprintf (stderr, "bare: wrong results\n");
      return 1;
    }
  printf ("dispatch_1m.bare_loop_items_per_s: %.0f\n", N_ITEMS * (double) G_USEC_PER_SEC / (t1 - t0));
  printf ("dispatch_1m.bare_loop_peak_rss_mb: %.1f\n", vm_hwm_mb ());
  return 0;
}

/* GTask alone: what one GTask created and returned at once costs, with
 * MAX_CONCURRENT in flight, results appended like the nodes'. */
typedef struct
{
  GObject   *source;
  PftValues *input;
  PftValues *results;
  guint      next;
  guint      done;
} GTaskLoop;

static void gtask_loop_start (GTaskLoop *loop);

static void
gtask_loop_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GTaskLoop *loop = user_data;
  GValue value = G_VALUE_INIT;

  g_task_propagate_value (G_TASK (result), &value, NULL);
  pft_values_take (loop->results, &value);
  loop->done++;
  if (loop->next < N_ITEMS)
    gtask_loop_start (loop);
}

static void
gtask_loop_start (GTaskLoop *loop)
{
  GTask *task = g_task_new (loop->source, NULL, gtask_loop_cb, loop);
  GValue result = G_VALUE_INIT;

  g_value_init (&result, G_TYPE_INT64);
  g_value_set_int64 (&result, work (g_value_get_int64 (pft_values_peek (loop->input, loop->next++))));
  g_task_return_value (task, &result);
  g_object_unref (task);
}

static int
scenario_gtask_loop (void)
{
  g_autoptr(PftValues) input = build_input ();
  g_autoptr(GObject) source = g_object_new (G_TYPE_OBJECT, NULL);
  GTaskLoop loop = { source, input, NULL, 0, 0 };
  gint64 t0, t1;

  t0 = g_get_monotonic_time ();
  loop.results = pft_values_new_sized (N_ITEMS);
  for (guint i = 0; i < MAX_CONCURRENT && loop.next < N_ITEMS; i++)
    gtask_loop_start (&loop);
  while (loop.done < N_ITEMS)
    g_main_context_iteration (NULL, TRUE);
  t1 = g_get_monotonic_time ();
  /* In completion order, which is the input order here. */
  if (!check_results (loop.results))
    {
      fprintf (stderr, "gtask_loop: wrong results\n");
      return 1;
    }
  g_object_unref (loop.results);
  printf ("dispatch_1m.gtask_loop_items_per_s: %.0f\n", N_ITEMS * (double) G_USEC_PER_SEC / (t1 - t0));
  return 0;
}

/* A plain GThreadPool, at most MAX_CONCURRENT jobs in flight, results
 * marshalled back to the main context one by one. */
typedef struct
{
  GMainContext *context;
  GThreadPool  *pool;
  PftValues    *input;
  PftValues    *results;
  guint         next;
  guint         in_flight;
  guint         done;
} PoolRun;

typedef struct
{
  PoolRun *run;
  guint    index;
  gint64   value;
} PoolJob;

static void pool_push_more (PoolRun *run);

static gboolean
pool_job_returned (gpointer data)
{
  PoolJob *job = data;
  PoolRun *run = job->run;
  GValue result = G_VALUE_INIT;

  g_value_init (&result, G_TYPE_INT64);
  g_value_set_int64 (&result, job->value);
  pft_values_set (run->results, job->index, &result);
  g_value_unset (&result);
  g_free (job);
  run->in_flight--;
  run->done++;
  pool_push_more (run);
  return G_SOURCE_REMOVE;
}

static void
pool_job_run (gpointer data,
              gpointer pool_data)
{
  PoolJob *job = data;

  job->value = work (job->value);
  g_main_context_invoke (job->run->context, pool_job_returned, job);
}

static void
pool_push_more (PoolRun *run)
{
  while (run->in_flight < MAX_CONCURRENT && run->next < N_ITEMS)
    {
      PoolJob *job = g_new (PoolJob, 1);

      job->run = run;
      job->index = run->next++;
      job->value = g_value_get_int64 (pft_values_peek (run->input, job->index));
      run->in_flight++;
      g_thread_pool_push (run->pool, job, NULL);
    }
}

static int
scenario_gthreadpool (void)
{
  PoolRun run = { 0 };
  g_autoptr(PftValues) input = build_input ();
  gint64 t0, t1;

  run.context = g_main_context_new ();
  g_main_context_push_thread_default (run.context);
  run.input = input;

  t0 = g_get_monotonic_time ();
  run.results = pft_values_new_sized (N_ITEMS);
  {
    /* Presized with a placeholder, like the dispatcher's results. */
    GValue zero = G_VALUE_INIT;

    g_value_init (&zero, G_TYPE_INT64);
    for (guint i = 0; i < N_ITEMS; i++)
      pft_values_append (run.results, &zero);
  }
  run.pool = g_thread_pool_new (pool_job_run, NULL, MAX_CONCURRENT, FALSE, NULL);
  pool_push_more (&run);
  while (run.done < N_ITEMS)
    g_main_context_iteration (run.context, TRUE);
  t1 = g_get_monotonic_time ();
  g_thread_pool_free (run.pool, FALSE, TRUE);
  g_main_context_pop_thread_default (run.context);
  g_main_context_unref (run.context);

  if (!check_results (run.results))
    {
      fprintf (stderr, "gthreadpool: wrong results\n");
      return 1;
    }
  g_object_unref (run.results);
  printf ("dispatch_1m.gthreadpool_items_per_s: %.0f\n", N_ITEMS * (double) G_USEC_PER_SEC / (t1 - t0));
  printf ("dispatch_1m.gthreadpool_peak_rss_mb: %.1f\n", vm_hwm_mb ());
  return 0;
}

static int
run_scenario (const char *name)
{
  if (strcmp (name, "async") == 0)
    return scenario_node ("async", BENCH_TYPE_ASYNC_NODE);
  if (strcmp (name, "async_gtask") == 0)
    return scenario_node ("async_gtask", BENCH_TYPE_GTASK_NODE);
  if (strcmp (name, "gtask_loop") == 0)
    return scenario_gtask_loop ();
  if (strcmp (name, "thread") == 0)
    return scenario_node ("thread", BENCH_TYPE_THREAD_NODE);
  if (strcmp (name, "bare") == 0)
    return scenario_bare ();
  if (strcmp (name, "gthreadpool") == 0)
    return scenario_gthreadpool ();
  if (strcmp (name, "baseline") == 0)
    return scenario_baseline ();
  fprintf (stderr, "unknown scenario %s\n", name);
  return 2;
}

int
main (int argc, char **argv)
{
  static const char *const all[] = { "baseline", "bare", "async", "async_gtask", "gtask_loop",
                                     "thread", "gthreadpool" };
  int status = 0;

  if (argc > 2)
    N_ITEMS = MAX (1, atoi (argv[2]));
  if (argc > 1)
    return run_scenario (argv[1]);

  /* No GLib threads exist yet in this process: each scenario forks a
   * child that starts from a clean heap. */
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    {
      struct rusage usage;
      int child_status;
      pid_t pid;

      fflush (stdout);
      pid = fork ();
      if (pid < 0)
        {
          perror ("fork");
          return 1;
        }
      if (pid == 0)
        {
          int rc = run_scenario (all[i]);

          fflush (stdout);
          _exit (rc);
        }
      if (wait4 (pid, &child_status, 0, &usage) < 0)
        {
          perror ("wait4");
          return 1;
        }
      if (!WIFEXITED (child_status) || WEXITSTATUS (child_status) != 0)
        {
          fprintf (stderr, "scenario %s failed (status %d)\n", all[i], child_status);
          status = 1;
        }
      else if (strcmp (all[i], "async") == 0 || strcmp (all[i], "thread") == 0)
        printf ("dispatch_1m_%s.ru_maxrss_mb: %.1f\n", all[i], usage.ru_maxrss / 1024.0);
    }
  return status;
}
