/* redis-scenarios.c: many processes sharing one quota, checked from Redis
 *
 * SPDX-License-Identifier: MIT
 */

#include <signal.h>

#include "redis-scenarios.h"

#define MS 1000
#define SEC G_USEC_PER_SEC

/* @args with "--limiter" in front when @limiter. */
static GPtrArray *
pft_redis_scenario_args (gboolean            limiter,
                         const char * const *args)
{
  GPtrArray *a = g_ptr_array_new ();

  if (limiter)
    g_ptr_array_add (a, "--limiter");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (a, (gpointer) args[i]);
  g_ptr_array_add (a, NULL);
  return a;
}

void
pft_redis_scenario_window (PftRedisServer *server,
                           gboolean        limiter)
{
  g_autofree char *key = pft_redis_unique_key ("window");
  const char *args[] = { "--per-window", "20", "--window-ms", "200", "--parallel", "30",
                         "--seconds", "1", NULL };
  g_autoptr(GPtrArray) argv = pft_redis_scenario_args (limiter, args);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GArray) log = NULL;
  guint64 granted;

  pft_redis_log_enable (server, key);
  proc = pft_redis_worker_spawn (server, key, (const char * const *) argv->pdata);
  granted = pft_redis_worker_wait (proc);
  log = pft_redis_log_read (server, key);

  g_assert_cmpuint (pft_redis_log_count (log, 'g'), ==, granted);
  g_test_message ("granted %" G_GUINT64_FORMAT " in 1 s at 20 per 200 ms", granted);
  /* Never more than 20 in any 200 ms, and the limit did bind. */
  g_assert_cmpuint (pft_redis_log_max_in_window (log, 200 * MS), ==, 20);
  g_assert_cmpuint (granted, >, 20);
  pft_redis_log_assert_ids_unique (log);
}

void
pft_redis_scenario_smooth (PftRedisServer *server,
                           gboolean        limiter)
{
  g_autofree char *key = pft_redis_unique_key ("gcra");
  const char *args[] = { "--per-window", "10", "--window-ms", "1000", "--smooth",
                         "--parallel", "4", "--seconds", "0.55", NULL };
  g_autoptr(GPtrArray) argv = pft_redis_scenario_args (limiter, args);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GArray) log = NULL;
  gint64 prev = 0;
  guint n = 0;

  pft_redis_log_enable (server, key);
  proc = pft_redis_worker_spawn (server, key, (const char * const *) argv->pdata);
  pft_redis_worker_wait (proc);
  log = pft_redis_log_read (server, key);
  /* Paced: one every 100 ms on the server's clock, no burst. */
  for (guint i = 0; i < log->len; i++)
    {
      PftRedisLogEntry *e = &g_array_index (log, PftRedisLogEntry, i);

      if (e->kind != 'g')
        continue;
      if (n++ > 0)
        g_assert_cmpint (e->t_us - prev, >=, 100 * MS);
      prev = e->t_us;
    }
  g_assert_cmpuint (n, >=, 5);
}

void
pft_redis_scenario_one_quota (PftRedisServer *server,
                              gboolean        limiter)
{
  g_autofree char *key = pft_redis_unique_key ("procs");
  const char *args[] = { "--per-window", "100", "--window-ms", "1000", "--max-concurrent", "8",
                         "--parallel", "8", "--hold-ms", "5", "--seconds", "3", NULL };
  g_autoptr(GPtrArray) argv = pft_redis_scenario_args (limiter, args);
  GSubprocess *procs[4];
  g_autoptr(GArray) log = NULL;
  g_autoptr(GArray) t = NULL;
  guint64 granted = 0;
  guint max_window, max_flight, in_two = 0;

  pft_redis_log_enable (server, key);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    procs[i] = pft_redis_worker_spawn (server, key, (const char * const *) argv->pdata);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    {
      granted += pft_redis_worker_wait (procs[i]);
      g_object_unref (procs[i]);
    }
  log = pft_redis_log_read (server, key);
  t = pft_redis_log_grant_times (log);
  max_window = pft_redis_log_max_in_window (log, 1 * SEC);
  max_flight = pft_redis_log_max_in_flight (log);
  for (guint i = 0; i < t->len; i++)
    in_two += g_array_index (t, gint64, i) < g_array_index (t, gint64, 0) + 2 * SEC;
  g_test_message ("4 processes%s: %" G_GUINT64_FORMAT " grants in 3 s, at most %u in a 1 s window, "
                  "%u in flight; utilization of the first 2 windows %.3f",
                  limiter ? " through PftRateLimiter" : "", granted, max_window, max_flight,
                  in_two / 200.0);

  g_assert_cmpuint (pft_redis_log_count (log, 'g'), ==, granted);
  g_assert_cmpuint (max_window, ==, 100);   /* bound, and never over */
  g_assert_cmpuint (max_flight, <=, 8);
  g_assert_cmpuint (max_flight, >=, 2);
  g_assert_cmpuint (granted, >, 200);
  pft_redis_log_assert_ids_unique (log);
}

/* Starts a worker taking all 8 slots; returns once it holds them. */
static GSubprocess *
pft_redis_scenario_hold_all (PftRedisServer *server,
                             const char     *key,
                             gboolean        limiter)
{
  const char *args[] = { "--max-concurrent", "8", "--ttl-ms", "1000", "--parallel", "8",
                         "--hold-forever", NULL };
  g_autoptr(GPtrArray) argv = pft_redis_scenario_args (limiter, args);
  GSubprocess *proc = pft_redis_worker_spawn (server, key, (const char * const *) argv->pdata);
  g_autoptr(GDataInputStream) out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line (out, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "held 8");
  return proc;
}

void
pft_redis_scenario_crash (PftRedisServer *server,
                          gboolean        limiter)
{
  g_autofree char *key = pft_redis_unique_key ("crash");
  g_autoptr(GSubprocess) first = NULL;
  g_autoptr(GSubprocess) second = NULL;
  g_autoptr(GArray) log = NULL;
  gint64 killed_at;
  guint expired = 0, regranted = 0;

  pft_redis_log_enable (server, key);
  first = pft_redis_scenario_hold_all (server, key, limiter);
  /* Past two renewals, so the child did renew while it lived. */
  g_usleep (700 * MS);
  killed_at = pft_redis_server_time (server);
  g_subprocess_send_signal (first, SIGKILL);
  g_subprocess_wait (first, NULL, NULL);

  second = pft_redis_scenario_hold_all (server, key, limiter);
  log = pft_redis_log_read (server, key);
  for (guint i = 0; i < log->len; i++)
    {
      PftRedisLogEntry *e = &g_array_index (log, PftRedisLogEntry, i);

      if (e->kind == 'x')
        {
          expired++;
          g_assert_cmpint (e->t_us, >, killed_at);
        }
      if (e->kind == 'g' && e->t_us > killed_at)
        {
          regranted++;
          /* Within the TTL of the last renewal before the kill, plus one
           * poll and scheduling slack on a loaded machine. */
          g_assert_cmpint (e->t_us, <=, killed_at + 1 * SEC + 500 * MS);
        }
    }
  g_assert_cmpuint (expired, ==, 8);
  g_assert_cmpuint (regranted, ==, 8);
  g_assert_cmpuint (pft_redis_log_max_in_flight (log), ==, 8);
  g_subprocess_send_signal (second, SIGKILL);
  g_subprocess_wait (second, NULL, NULL);
}

void
pft_redis_scenario_restart (PftRedisServer *server,
                            gboolean        limiter)
{
  g_autofree char *key = pft_redis_unique_key ("restart");
  const char *args[] = { "--per-window", "50", "--window-ms", "1000", "--max-concurrent", "4",
                         "--parallel", "4", "--hold-ms", "5", "--seconds", "3",
                         "--timeout-ms", "10000", NULL };
  g_autoptr(GPtrArray) argv = pft_redis_scenario_args (limiter, args);
  GSubprocess *procs[2];
  g_autoptr(GArray) log = NULL;
  guint64 granted = 0;
  gint64 restarted_at;
  guint after = 0;

  pft_redis_log_enable (server, key);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    procs[i] = pft_redis_worker_spawn (server, key, (const char * const *) argv->pdata);
  g_usleep (1200 * MS);
  /* The data survive (SHUTDOWN SAVE): the window, the leases and the
   * log; the clients lose their connection and replies in flight. */
  pft_redis_server_restart (server, TRUE);
  restarted_at = pft_redis_server_time (server);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    {
      granted += pft_redis_worker_wait (procs[i]);
      g_object_unref (procs[i]);
    }

  log = pft_redis_log_read (server, key);
  for (guint i = 0; i < log->len; i++)
    after += g_array_index (log, PftRedisLogEntry, i).kind == 'g' &&
             g_array_index (log, PftRedisLogEntry, i).t_us > restarted_at;
  g_test_message ("%" G_GUINT64_FORMAT " grants, %u after the restart", granted, after);
  /* Every grant the workers saw is logged once: a request resent after
   * a lost reply was not granted again. */
  g_assert_cmpuint (pft_redis_log_count (log, 'g'), ==, granted);
  pft_redis_log_assert_ids_unique (log);
  g_assert_cmpuint (after, >, 0);
  g_assert_cmpuint (pft_redis_log_max_in_window (log, 1 * SEC), <=, 50);
  g_assert_cmpuint (pft_redis_log_max_in_flight (log), <=, 4);
}
