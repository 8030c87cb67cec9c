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
  /* The same through acquire_async only. A permit counts from its grant,
   * but a callback runs only once the caller's main loop gets to it: the
   * first 1000 are granted during the caller's own loop of 1000 calls and
   * delivered ~3 ms later, while later ones are delivered within
   * ~0.1 ms; that spread is more than the observer's 2 ms margin, so this
   * may exceed 1000. Reported, not hidden: see the notes. */
  run_scenario ("window_1000_per_1s.async_only", 5000, 1000, 1000, 1.0, 0, FALSE, TRUE);
  return 0;
}
