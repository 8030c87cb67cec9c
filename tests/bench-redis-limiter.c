/* bench-redis-limiter.c: one quota shared through Redis, measured
 *
 * Starts its own redis-server (tests/redis-fixture.c) and runs
 * redis-worker processes against it, each acquiring through a
 * PftRateLimiter made by pft_rate_limiter_new_redis() (acquire_async and
 * PftPermit); prints `key: value` lines (see BENCHMARKS.md):
 *
 *   redis_limiter.admissions_per_s_1_proc    one process, a limit that
 *   redis_limiter.admissions_per_s_4_procs   never binds (window, cost
 *                                            and concurrency all set), 256
 *                                            admissions in flight a process;
 *                                            each admission is an admit
 *                                            script and a release script
 *   redis_limiter.acquire_us_p50|p99         one process, one admission at
 *                                            a time: the round trip of a
 *                                            decision (the backend's cost)
 *   redis_limiter.utilization                4 processes sharing 200 per
 *   redis_limiter.max_in_window              1 s for 5 s: grants in the 5
 *                                            full windows from the first
 *                                            grant / 1000, and the most in
 *                                            any 1 s, from the server's log
 *   redis_limiter.shared_acquire_us_p50|p99  the wait for a grant in that run
 *   redis_limiter.outage_fail.*, .outage_local.*
 *                                            Redis goes away mid-run (shut down
 *                                            without saving at 1.5 s, started
 *                                            again at 3 s) under one process
 *                                            acquiring 8 at a time, backend
 *                                            timeout 1 s, fallback fail or local:
 *                                            first_failure_ms after the shutdown,
 *                                            failed acquires, granted while down,
 *                                            resumed_ms: first grant after the
 *                                            restart
 *   redis_admission.admissions_per_s_1|4_proc(s)  the first two without the
 *                                            limiter (the admission under it):
 *                                            what the limiter layer costs
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdio.h>
#include <string.h>

#include <gio/gio.h>

#include "redis-fixture.h"

#define SEC G_USEC_PER_SEC

typedef struct
{
  guint64 granted;
  gint64  elapsed_us;
  gint64  p50;
  gint64  p99;
} WorkerResult;

static gint64
bench_field (const char *out,
             const char *name)
{
  g_autofree char *needle = g_strdup_printf ("%s ", name);
  const char *at = strstr (out, needle);

  g_assert_nonnull (at);
  return g_ascii_strtoll (at + strlen (needle), NULL, 10);
}

/* Runs @n workers together with @args; fills @results. */
static void
bench_run (PftRedisServer     *server,
           const char         *key,
           guint               n,
           const char * const *args,
           WorkerResult       *results)
{
  g_autofree char *program = g_test_build_filename (G_TEST_BUILT, "redis-worker", NULL);
  g_autofree char *start_at = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_monotonic_time () + 300000);
  GSubprocess **procs = g_new0 (GSubprocess *, n);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GPtrArray) argv = g_ptr_array_new ();
      g_autoptr(GError) error = NULL;

      g_ptr_array_add (argv, program);
      g_ptr_array_add (argv, "--uri");
      g_ptr_array_add (argv, server->uri);
      g_ptr_array_add (argv, "--key");
      g_ptr_array_add (argv, (gpointer) key);
      g_ptr_array_add (argv, "--start-at");
      g_ptr_array_add (argv, start_at);
      for (guint j = 0; args[j] != NULL; j++)
        g_ptr_array_add (argv, (gpointer) args[j]);
      g_ptr_array_add (argv, NULL);
      procs[i] = g_subprocess_newv ((const char * const *) argv->pdata,
                                    G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
      g_assert_no_error (error);
    }
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *out = NULL;
      g_autoptr(GError) error = NULL;

      g_subprocess_communicate_utf8 (procs[i], NULL, NULL, &out, NULL, &error);
      g_assert_no_error (error);
      if (!g_subprocess_get_if_exited (procs[i]) || g_subprocess_get_exit_status (procs[i]) != 0)
        g_error ("redis-worker failed");
      results[i].granted = (guint64) bench_field (out, "granted");
      results[i].elapsed_us = bench_field (out, "elapsed_us");
      results[i].p50 = bench_field (out, "acquire_us_p50");
      results[i].p99 = bench_field (out, "acquire_us_p99");
      g_object_unref (procs[i]);
    }
  g_free (procs);
}

/* The numbers of a "timeline_X n n ..." line, one per 100 ms. */
static GArray *
bench_timeline (const char *out,
                const char *name)
{
  g_autofree char *needle = g_strdup_printf ("%s ", name);
  const char *at = strstr (out, needle);
  g_autofree char *line = NULL;
  g_auto(GStrv) fields = NULL;
  GArray *t = g_array_new (FALSE, TRUE, sizeof (guint));

  g_assert_nonnull (at);
  line = g_strndup (at + strlen (needle), strcspn (at + strlen (needle), "\n"));
  fields = g_strsplit (line, " ", -1);
  for (guint i = 0; fields[i] != NULL; i++)
    {
      guint v = (guint) g_ascii_strtoull (fields[i], NULL, 10);

      g_array_append_val (t, v);
    }
  return t;
}

static guint
bench_sum (GArray *t,
           guint   from,
           guint   to)
{
  guint n = 0;

  for (guint i = from; i < MIN (to, t->len); i++)
    n += g_array_index (t, guint, i);
  return n;
}

/* Redis goes away for 1.5 s under a worker that keeps acquiring. */
static void
bench_outage (PftRedisServer *server,
              gboolean        local)
{
  const char *name = local ? "outage_local" : "outage_fail";
  g_autofree char *program = g_test_build_filename (G_TEST_BUILT, "redis-worker", NULL);
  gint64 start = g_get_monotonic_time () + 300000;
  g_autofree char *start_at = g_strdup_printf ("%" G_GINT64_FORMAT, start);
  const char *argv[] = { program, "--uri", server->uri, "--key", name, "--start-at", start_at,
                         "--limiter", "--keep-going", "--per-window", "1000", "--window-ms", "1000",
                         "--max-concurrent", "8", "--parallel", "8", "--hold-ms", "5",
                         "--seconds", "5", "--timeout-ms", "1000",
                         local ? "--fallback-local" : NULL, NULL };
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) g = NULL;
  g_autoptr(GArray) f = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GArray) log = NULL;
  g_autoptr(GArray) shared_grants = NULL;
  gint first_failure = -1, resumed = -1;
  gint64 restarted;
  /* Buckets of 100 ms from the start: the first one wholly after the
   * shutdown has returned, and after the server is back. */
  guint down, up;

  proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error (error);
  g_usleep ((gulong) (start + 1500000 - g_get_monotonic_time ()));
  pft_redis_server_shutdown (server);
  down = (guint) ((g_get_monotonic_time () - start + 99999) / 100000);
  g_usleep ((gulong) (start + 3000000 - g_get_monotonic_time ()));
  pft_redis_server_start_again (server);
  up = (guint) ((g_get_monotonic_time () - start + 99999) / 100000);
  /* It came back empty: logging on again, from the restart. */
  pft_redis_log_enable (server, name);
  restarted = pft_redis_server_time (server);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g = bench_timeline (out, "timeline_g");
  f = bench_timeline (out, "timeline_f");
  for (guint i = down; i < f->len && first_failure < 0; i++)
    if (g_array_index (f, guint, i) > 0)
      first_failure = (gint) (i - down) * 100;
  for (guint i = up; i < g->len && resumed < 0; i++)
    if (g_array_index (g, guint, i) > 0)
      resumed = (gint) (i - up) * 100;
  printf ("redis_limiter.%s.granted_before_per_s: %.0f\n", name, bench_sum (g, 0, 15) / 1.5);
  printf ("redis_limiter.%s.first_failure_ms: %d\n", name, first_failure);
  printf ("redis_limiter.%s.failed: %u\n", name, bench_sum (f, 0, G_MAXUINT));
  printf ("redis_limiter.%s.granted_while_down: %u\n", name, bench_sum (g, down, up));
  printf ("redis_limiter.%s.resumed_ms: %d\n", name, resumed);
  /* The first grant Redis decided again (its own log and clock). */
  log = pft_redis_log_read (server, name);
  shared_grants = pft_redis_log_grant_times (log);
  printf ("redis_limiter.%s.back_on_redis_ms: %.0f\n", name,
          shared_grants->len > 0 ? (g_array_index (shared_grants, gint64, 0) - restarted) / 1000.0 : -1.0);
  fflush (stdout);
}

static double
bench_rate (const WorkerResult *results,
            guint               n)
{
  double rate = 0;

  /* They ran together: the sum of each one's rate. */
  for (guint i = 0; i < n; i++)
    rate += (double) results[i].granted * SEC / (double) results[i].elapsed_us;
  return rate;
}

int
main (int argc, char **argv)
{
  const char *unbound[] = { "--limiter", "--per-window", "1000000000", "--max-cost", "1000000000000",
                            "--max-concurrent", "1000000", "--window-ms", "1000",
                            "--parallel", "256", "--seconds", "3", NULL };
  const char *single[] = { "--limiter", "--per-window", "1000000000", "--max-concurrent", "1000000",
                           "--window-ms", "1000", "--parallel", "1", "--seconds", "2", NULL };
  const char *shared[] = { "--limiter", "--per-window", "200", "--window-ms", "1000", "--parallel", "8",
                           "--seconds", "5.5", NULL };
  PftRedisServer *server;
  WorkerResult r[4];
  g_autoptr(GArray) log = NULL;
  g_autoptr(GArray) t = NULL;
  guint in_five = 0;
  gint64 p50 = 0, p99 = 0;

  g_test_init (&argc, &argv, NULL);
  server = pft_redis_server_start (NULL);

  bench_run (server, "bench-1", 1, unbound, r);
  printf ("redis_limiter.admissions_per_s_1_proc: %.0f\n", bench_rate (r, 1));
  fflush (stdout);

  bench_run (server, "bench-4", 4, unbound, r);
  printf ("redis_limiter.admissions_per_s_4_procs: %.0f\n", bench_rate (r, 4));
  fflush (stdout);

  bench_run (server, "bench-single", 1, single, r);
  printf ("redis_limiter.acquire_us_p50: %" G_GINT64_FORMAT "\n", r[0].p50);
  printf ("redis_limiter.acquire_us_p99: %" G_GINT64_FORMAT "\n", r[0].p99);
  fflush (stdout);

  pft_redis_log_enable (server, "bench-shared");
  bench_run (server, "bench-shared", 4, shared, r);
  log = pft_redis_log_read (server, "bench-shared");
  t = pft_redis_log_grant_times (log);
  g_assert_cmpuint (t->len, >, 0);
  for (guint i = 0; i < t->len; i++)
    in_five += g_array_index (t, gint64, i) < g_array_index (t, gint64, 0) + 5 * SEC;
  for (guint i = 0; i < 4; i++)
    {
      p50 = MAX (p50, r[i].p50);
      p99 = MAX (p99, r[i].p99);
    }
  printf ("redis_limiter.utilization: %.3f\n", in_five / 1000.0);
  printf ("redis_limiter.max_in_window: %u\n", pft_redis_log_max_in_window (log, 1 * SEC));
  printf ("redis_limiter.shared_acquire_us_p50: %" G_GINT64_FORMAT "\n", p50);
  printf ("redis_limiter.shared_acquire_us_p99: %" G_GINT64_FORMAT "\n", p99);
  fflush (stdout);

  /* The same throughput without the limiter: its own cost. */
  bench_run (server, "bench-adm-1", 1, unbound + 1, r);
  printf ("redis_admission.admissions_per_s_1_proc: %.0f\n", bench_rate (r, 1));
  fflush (stdout);
  bench_run (server, "bench-adm-4", 4, unbound + 1, r);
  printf ("redis_admission.admissions_per_s_4_procs: %.0f\n", bench_rate (r, 4));
  fflush (stdout);

  bench_outage (server, FALSE);
  bench_outage (server, TRUE);

  pft_redis_server_free (server);
  return 0;
}
