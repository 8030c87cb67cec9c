/* bench-limiter.c: PftRateLimiter cost and window accuracy, real clock
 *
 * Prints one `key: value` line per figure (see BENCHMARKS.md).
 *
 * Utilization = ideal time / measured time. The ideal is the makespan of a
 * perfect scheduler under the same limits: zero overhead, first come first
 * served, every job starting at the earliest instant that the concurrency
 * limit, the window limit and the hold time allow. With constant hold H,
 * concurrency C and M per window W, job i can start at
 *
 *   s[i] = max (s[i-1], s[i-C] + H, s[i-M] + W)
 *
 * (the C-th most recent job must have finished, the M-th most recent
 * admission must have left the window), and the batch ends at
 * s[N-1] + H. For 500 jobs of 10 ms at 100 per 1 s with 50 concurrent,
 * that is not "500 / 100 = 5 s" (the first window's burst is free) nor
 * "last start at 4.0 s": 50 start at 0, the next 50 at 10 ms when the
 * first ones finish, then each window repeats that, so the last start is at
 * 4.010 s and the ideal end at 4.020 s. For 5000 no-op jobs at 1000 per
 * 1 s the last start, and the end, is at 4.0 s. The measured time runs from
 * the first acquire to the end of the last job, on the same clock.
 *
 * The observer stamps each job when it starts (when it has its permit) and
 * counts the largest number of starts within any window 2 ms shorter than
 * the limiter's; it must never exceed the limit.
 *
 * The `exec_max_in_window` figures run the same limits through throttled
 * batch nodes, where a service sees them: each exec stamps its own start
 * (blocking execs in worker threads on three main contexts sharing one
 * registry limiter, and exec_async execs), counted in windows 2 ms shorter
 * than the limiter's, BENCHMARKS.md's observer slack. Pft counts a request
 * from right before it calls the exec; what an observer inside the exec
 * adds is the time to its own stamp: a function call, or a preemption that
 * falls right there on a loaded machine. The `exec_max_in_exact_window`
 * figures count in windows of exactly the limiter's length, to show it.
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdio.h>

#include <pft.h>

static double
ideal_makespan (guint  n,
                guint  concurrency,
                guint  per_window,
                double window,
                double hold)
{
  g_autofree double *s = g_new (double, n);

  for (guint i = 0; i < n; i++)
    {
      double t = i > 0 ? s[i - 1] : 0;

      if (i >= concurrency)
        t = MAX (t, s[i - concurrency] + hold);
      if (i >= per_window)
        t = MAX (t, s[i - per_window] + window);
      s[i] = t;
    }
  return s[n - 1] + hold;
}

static guint
max_in_window (GArray *stamps,
               gint64  window_us)
{
  guint best = 0, j = 0;

  /* Stamps are appended in callback order, which is start order. */
  for (guint i = 0; i < stamps->len; i++)
    {
      gint64 t = g_array_index (stamps, gint64, i);

      while (g_array_index (stamps, gint64, j) <= t - window_us)
        j++;
      best = MAX (best, i - j + 1);
    }
  return best;
}

/* ------------------------------------------------------------------ */

static void
bench_try_acquire_release (void)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (100, 0, 1);
  g_autoptr(PftRateLimiter) windowed = pft_rate_limiter_new (100, G_MAXUINT, 0.01);
  const guint n = 2000000;
  gint64 t0, t1;

  /* Warm up type and class initialisation. */
  g_object_unref (pft_rate_limiter_try_acquire (limiter, 0, NULL));

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      PftPermit *permit = pft_rate_limiter_try_acquire (limiter, 0, NULL);
      pft_permit_release (permit);
      g_object_unref (permit);
    }
  t1 = g_get_monotonic_time ();
  printf ("limiter.acquire_release_ns: %.1f\n", (double) (t1 - t0) * 1000.0 / n);

  /* The same with a window limit, so every admission is recorded. */
  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      PftPermit *permit = pft_rate_limiter_try_acquire (windowed, 1, NULL);
      pft_permit_release (permit);
      g_object_unref (permit);
    }
  t1 = g_get_monotonic_time ();
  printf ("limiter.acquire_release_window_ns: %.1f\n", (double) (t1 - t0) * 1000.0 / n);
}

typedef struct
{
  PftRateLimiter *limiter;
  GMainLoop      *loop;
  guint           left;
} AsyncLoop;

static void
async_loop_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  AsyncLoop *al = data;
  PftPermit *permit = pft_rate_limiter_acquire_finish (al->limiter, result, NULL);

  g_assert (permit != NULL);
  pft_permit_release (permit);
  g_object_unref (permit);
  if (--al->left == 0)
    g_main_loop_quit (al->loop);
  else
    pft_rate_limiter_acquire_async (al->limiter, 0, NULL, async_loop_cb, al);
}

static void
bench_async_acquire_release (void)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (100, 0, 1);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  const guint n = 200000;
  AsyncLoop al = { limiter, loop, n };
  gint64 t0, t1;

  t0 = g_get_monotonic_time ();
  pft_rate_limiter_acquire_async (limiter, 0, NULL, async_loop_cb, &al);
  g_main_loop_run (loop);
  t1 = g_get_monotonic_time ();
  printf ("limiter.async_acquire_release_ns: %.1f\n", (double) (t1 - t0) * 1000.0 / n);
}

/* ------------------------------------------------------------------ */

typedef struct
{
  const char     *name;
  PftRateLimiter *limiter;
  GMainLoop      *loop;
  guint           n_jobs;
  guint           hold_ms;
  gboolean        try_first;
  guint           started;
  guint           finished;
  guint           wanted;   /* jobs to start, flattened out of recursion */
  gboolean        in_next;
  GArray         *stamps;   /* start times, µs */
  gint64          end;
} Scenario;

static void scenario_next (Scenario *sc);

typedef struct
{
  Scenario  *sc;
  PftPermit *permit;
} Job;

static gboolean
job_done (gpointer data)
{
  Job *job = data;
  Scenario *sc = job->sc;

  pft_permit_release (job->permit);
  g_object_unref (job->permit);
  g_free (job);
  if (++sc->finished == sc->n_jobs)
    {
      sc->end = g_get_monotonic_time ();
      g_main_loop_quit (sc->loop);
    }
  else
    scenario_next (sc);
  return G_SOURCE_REMOVE;
}

/* The job starts: the observer stamps it. */
static void
job_begin (Scenario  *sc,
           PftPermit *permit)
{
  Job *job = g_new0 (Job, 1);
  gint64 now = g_get_monotonic_time ();

  job->sc = sc;
  job->permit = permit;
  g_array_append_val (sc->stamps, now);

  if (sc->hold_ms > 0)
    g_timeout_add (sc->hold_ms, job_done, job);
  else
    job_done (job);
}

static void
job_started (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Scenario *sc = data;
  g_autoptr(GError) error = NULL;
  PftPermit *permit = pft_rate_limiter_acquire_finish (sc->limiter, result, &error);

  g_assert_no_error (error);
  job_begin (sc, permit);
}

/* Worker-style, like the batch dispatcher: the next job asks for a permit
 * when a job finishes, so at most max-concurrent are outstanding. With
 * try_first, like the engine's dispatcher, a permit that is free right now
 * is taken with try_acquire and the job starts at once; otherwise (and
 * always without try_first) it waits with acquire_async. */
static void
scenario_next (Scenario *sc)
{
  sc->wanted++;
  if (sc->in_next)
    return;
  sc->in_next = TRUE;
  while (sc->wanted > 0 && sc->started < sc->n_jobs)
    {
      PftPermit *permit = NULL;

      sc->wanted--;
      sc->started++;
      if (sc->try_first)
        permit = pft_rate_limiter_try_acquire (sc->limiter, 0, NULL);
      if (permit != NULL)
        job_begin (sc, permit);
      else
        pft_rate_limiter_acquire_async (sc->limiter, 0, NULL, job_started, sc);
    }
  sc->wanted = 0;
  sc->in_next = FALSE;
}

static void
run_scenario (const char *name,
              guint       n_jobs,
              guint       concurrency,
              guint       per_window,
              double      window,
              guint       hold_ms,
              gboolean    try_first,
              gboolean    brief)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (concurrency, per_window, window);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GArray) stamps = g_array_sized_new (FALSE, FALSE, sizeof (gint64), n_jobs);
  Scenario sc = { name, limiter, loop, n_jobs, hold_ms, try_first, 0, 0, 0, FALSE, stamps, 0 };
  gint64 start;
  double ideal, measured;
  guint seen;

  start = g_get_monotonic_time ();
  for (guint i = 0; i < concurrency; i++)
    scenario_next (&sc);
  g_main_loop_run (loop);

  ideal = ideal_makespan (n_jobs, concurrency, per_window, window, hold_ms / 1000.0);
  measured = (double) (sc.end - start) / G_USEC_PER_SEC;
  seen = max_in_window (stamps, (gint64) (window * G_USEC_PER_SEC) - 2000);

  if (brief)
    {
      printf ("%s_max_in_window: %u\n", name, seen);
      return;
    }
  printf ("%s.utilization: %.5f\n", name, ideal / measured);
  printf ("%s.max_in_window: %u\n", name, seen);
  printf ("%s.ideal_s: %.4f\n", name, ideal);
  printf ("%s.measured_s: %.4f\n", name, measured);
  printf ("%s.violations: %u\n", name, seen > per_window ? seen - per_window : 0);
}


/* ------------------------------------------------------------------ */
/* Measured at the request: execs stamp their own start.               */

/* The same window scenarios run by throttled batch nodes, as a service
 * would: the observer is the exec itself, stamping its start with
 * g_get_monotonic_time() before doing anything else. "thread": blocking
 * execs in Pft's worker threads, three nodes on three threads' own main
 * contexts sharing one registry limiter; "async": exec_async, started on
 * the run's main context. The window counted is the limiter's less
 * EXEC_OBSERVER_SLACK_US. */

#define EXEC_OBSERVER_SLACK_US 2000

typedef struct
{
  GMutex  mutex;
  GArray *stamps;
  guint   hold_ms;
} ExecObserver;

static ExecObserver exec_obs;

static void
exec_obs_stamp (void)
{
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&exec_obs.mutex);
  g_array_append_val (exec_obs.stamps, now);
  g_mutex_unlock (&exec_obs.mutex);
}

#define BENCH_TYPE_THREAD_NODE (bench_thread_node_get_type ())
G_DECLARE_FINAL_TYPE (BenchThreadNode, bench_thread_node, BENCH, THREAD_NODE, PftThrottledBatchNode)
struct _BenchThreadNode { PftThrottledBatchNode parent_instance; guint n; };
G_DEFINE_FINAL_TYPE (BenchThreadNode, bench_thread_node, PFT_TYPE_THROTTLED_BATCH_NODE)

static void
bench_items_prep (PftNode    *node,
                  PftContext *ctx,
                  GValue     *result,
                  GError    **error)
{
  guint n = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (node), "n-items"));
  PftValues *items = pft_values_new_sized (n);

  for (guint i = 0; i < n; i++)
    pft_values_append_int (items, i);
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, items);
}

static void
bench_thread_exec (PftNode      *node,
                   PftContext   *ctx,
                   const GValue *item,
                   GValue       *result,
                   GError      **error)
{
  exec_obs_stamp ();
  if (exec_obs.hold_ms > 0)
    g_usleep (exec_obs.hold_ms * 1000);
}

static void
bench_thread_node_class_init (BenchThreadNodeClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = bench_items_prep;
  PFT_NODE_CLASS (klass)->exec = bench_thread_exec;
}

static void bench_thread_node_init (BenchThreadNode *self) { }

#define BENCH_TYPE_ASYNC_NODE (bench_async_node_get_type ())
G_DECLARE_FINAL_TYPE (BenchAsyncNode, bench_async_node, BENCH, ASYNC_NODE, PftThrottledBatchNode)
struct _BenchAsyncNode { PftThrottledBatchNode parent_instance; };
G_DEFINE_FINAL_TYPE (BenchAsyncNode, bench_async_node, PFT_TYPE_THROTTLED_BATCH_NODE)

static gboolean
bench_async_complete (gpointer data)
{
  g_task_return_pointer (data, NULL, NULL);
  return G_SOURCE_REMOVE;
}

static void
bench_async_exec_async (PftNode             *node,
                        PftContext          *ctx,
                        const GValue        *item,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  GTask *task;
  GSource *source;

  exec_obs_stamp ();
  if (exec_obs.hold_ms == 0)
    {
      /* Done at once, the engine's fast path. */
      pft_context_return_value (ctx, NULL);
      return;
    }
  task = g_task_new (node, cancellable, callback, user_data);
  source = g_timeout_source_new (exec_obs.hold_ms);
  g_source_set_callback (source, bench_async_complete, task, g_object_unref);
  g_source_attach (source, pft_context_get_main_context (ctx));
  g_source_unref (source);
}

static void
bench_async_exec_finish (PftNode      *node,
                         GAsyncResult *result,
                         GValue       *value,
                         GError      **error)
{
  g_task_propagate_pointer (G_TASK (result), error);
}

static void
bench_async_node_class_init (BenchAsyncNodeClass *klass)
{
  PFT_NODE_CLASS (klass)->prep = bench_items_prep;
  PFT_NODE_CLASS (klass)->exec_async = bench_async_exec_async;
  PFT_NODE_CLASS (klass)->exec_finish = bench_async_exec_finish;
}

static void bench_async_node_init (BenchAsyncNode *self) { }

static gpointer
bench_run_thread (gpointer data)
{
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;

  /* pft_node_run iterates a main context of its own in this thread. */
  g_free (pft_node_run (data, store, NULL, &error));
  g_assert_no_error (error);
  return NULL;
}

static gint
cmp_stamp (gconstpointer a,
           gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static guint
run_exec_scenario (const char *name,
                   const char *variant,
                   guint       n_jobs,
                   guint       concurrency,
                   guint       per_window,
                   double      window,
                   guint       hold_ms)
{
  PftLimiterRegistry *registry = pft_limiter_registry_get_default ();
  g_autoptr(GError) error = NULL;
  gboolean threads = g_str_equal (variant, "thread");
  guint n_nodes = threads ? 3 : 1;
  PftNode *nodes[3];
  GThread *runners[3];
  gint64 start, end;
  double ideal;
  guint seen;

  g_mutex_init (&exec_obs.mutex);
  exec_obs.stamps = g_array_sized_new (FALSE, FALSE, sizeof (gint64), n_jobs);
  exec_obs.hold_ms = hold_ms;
  pft_limiter_registry_remove (registry, "bench-exec");
  g_assert_nonnull (pft_limiter_registry_register_new (registry, "bench-exec", concurrency,
                                                       per_window, window, &error));

  for (guint i = 0; i < n_nodes; i++)
    {
      nodes[i] = g_object_new (threads ? BENCH_TYPE_THREAD_NODE : BENCH_TYPE_ASYNC_NODE, NULL);
      g_object_set_data (G_OBJECT (nodes[i]), "n-items",
                         GUINT_TO_POINTER (n_jobs / n_nodes + (i < n_jobs % n_nodes)));
      pft_throttled_batch_node_use_registry_limiter (PFT_THROTTLED_BATCH_NODE (nodes[i]), "bench-exec", &error);
      g_assert_no_error (error);
    }

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n_nodes; i++)
    runners[i] = g_thread_new ("bench-run", bench_run_thread, nodes[i]);
  for (guint i = 0; i < n_nodes; i++)
    {
      g_thread_join (runners[i]);
      g_object_unref (nodes[i]);
    }
  end = g_get_monotonic_time ();

  g_array_sort (exec_obs.stamps, cmp_stamp);
  g_assert_cmpuint (exec_obs.stamps->len, ==, n_jobs);
  seen = max_in_window (exec_obs.stamps, (gint64) (window * G_USEC_PER_SEC) - EXEC_OBSERVER_SLACK_US);
  ideal = ideal_makespan (n_jobs, concurrency, per_window, window, hold_ms / 1000.0);
  printf ("%s.exec_max_in_window_%s: %u\n", name, variant, seen);
  printf ("%s.exec_max_in_exact_window_%s: %u\n", name, variant,
          max_in_window (exec_obs.stamps, (gint64) (window * G_USEC_PER_SEC)));
  printf ("%s.exec_utilization_%s: %.5f\n", name, variant,
          ideal / ((double) (end - start) / G_USEC_PER_SEC));

  pft_limiter_registry_remove (registry, "bench-exec");
  g_array_unref (exec_obs.stamps);
  g_mutex_clear (&exec_obs.mutex);
  return seen;
}

static void
run_exec_scenarios (const char *name,
                    guint       n_jobs,
                    guint       concurrency,
                    guint       per_window,
                    double      window,
                    guint       hold_ms)
{
  guint thread = run_exec_scenario (name, "thread", n_jobs, concurrency, per_window, window, hold_ms);
  guint async = run_exec_scenario (name, "async", n_jobs, concurrency, per_window, window, hold_ms);

  printf ("%s.exec_max_in_window: %u\n", name, MAX (thread, async));
  printf ("%s.exec_window_slack_us: %d\n", name, EXEC_OBSERVER_SLACK_US);
}

/* ------------------------------------------------------------------ */
/* Contention: 16 threads, blocking acquire and release, no window.    */

typedef struct
{
  PftRateLimiter *limiter;
  guint           n;
  GMutex         *start_lock;
} Hammer;

static gpointer
hammer_thread (gpointer data)
{
  Hammer *h = data;

  /* Wait for the start. */
  g_mutex_lock (h->start_lock);
  g_mutex_unlock (h->start_lock);
  for (guint i = 0; i < h->n; i++)
    {
      PftPermit *permit = pft_rate_limiter_acquire (h->limiter, 0, NULL, NULL);

      pft_permit_release (permit);
      g_object_unref (permit);
    }
  return NULL;
}

static void
bench_16_threads (void)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (64, 0, 1);
  const guint n_threads = 16, n = 100000;
  GThread *threads[16];
  GMutex start_lock;
  Hammer h;
  gint64 t0, t1;

  g_mutex_init (&start_lock);
  h.limiter = limiter;
  h.n = n;
  h.start_lock = &start_lock;
  g_mutex_lock (&start_lock);
  for (guint i = 0; i < n_threads; i++)
    threads[i] = g_thread_new ("hammer", hammer_thread, &h);
  t0 = g_get_monotonic_time ();
  g_mutex_unlock (&start_lock);
  for (guint i = 0; i < n_threads; i++)
    g_thread_join (threads[i]);
  t1 = g_get_monotonic_time ();
  g_mutex_clear (&start_lock);
  /* Wall time per operation of all threads together, as Go's
   * RunParallel reports it. */
  printf ("limiter.acquire_release_16_threads_ns: %.1f\n",
          (double) (t1 - t0) * 1000.0 / ((double) n * n_threads));
}

int
main (int   argc,
      char *argv[])
{
  setvbuf (stdout, NULL, _IOLBF, 0);

  bench_try_acquire_release ();
  bench_async_acquire_release ();
  /* As BENCHMARKS.md describes it: every permit through acquire_async. */
  run_scenario ("window_100_per_1s", 500, 50, 100, 1.0, 10, FALSE, FALSE);
  /* Like the engine's dispatcher: try_acquire, then acquire_async. */
  run_scenario ("window_1000_per_1s", 5000, 1000, 1000, 1.0, 0, TRUE, FALSE);
  /* The same through acquire_async only. A permit counts from when its
   * callback runs (the request cannot start earlier), not from its grant,
   * however late the caller's main loop gets to it. */
  run_scenario ("window_1000_per_1s.async_only", 5000, 1000, 1000, 1.0, 0, FALSE, TRUE);
  bench_16_threads ();
  /* The same limits, observed by the execs themselves. */
  run_exec_scenarios ("window_100_per_1s", 500, 50, 100, 1.0, 10);
  run_exec_scenarios ("window_1000_per_1s", 5000, 1000, 1000, 1.0, 0);
  return 0;
}
