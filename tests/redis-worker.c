/* redis-worker.c: one process hammering a Redis-shared quota
 *
 * SPDX-License-Identifier: MIT
 *
 * Run by test-redis and bench-redis-limiter as a child (GSubprocess).
 * --parallel loops each admit, hold the lease --hold-ms, release, and
 * again, until --seconds have passed; then the worker prints
 *
 *   granted N
 *   elapsed_us E
 *   acquire_us_p50 X
 *   acquire_us_p99 Y
 *
 * With --hold-forever, it takes --parallel leases, prints "held N" and
 * keeps them (renewing) until it is killed. --start-at is a monotonic
 * time (microseconds, CLOCK_MONOTONIC is system-wide) to start at, so
 * that several workers start together. Exit status 1 on a backend error.
 *
 * With --limiter, the same loops go through a PftRateLimiter made by
 * pft_rate_limiter_new_redis() (acquire_async, PftPermit) instead of the
 * admission underneath it; --fallback-local sets its fallback policy.
 * With --keep-going, a failed acquire is counted and tried again, and
 * the worker also prints its grants and failures per 100 ms from its
 * start ("timeline_g n n ...", "timeline_f n n ...").
 */

#include <stdio.h>
#include <stdlib.h>

#include "pft.h"
#include "pft-redis-admission-private.h"

static char    *opt_uri;
static char    *opt_key;
static int      opt_max_concurrent;
static int      opt_per_window;
static gint64   opt_max_cost;
static gint64   opt_cost = 1;
static int      opt_window_ms = 1000;
static int      opt_ttl_ms = 2000;
static double   opt_poll_ms = 2;
static double   opt_seconds = 2;
static int      opt_parallel = 1;
static double   opt_hold_ms;
static gboolean opt_hold_forever;
static int      opt_timeout_ms = 5000;
static gint64   opt_start_at;
static gboolean opt_smooth;
static int      opt_burst = 1;
static gboolean opt_limiter;
static gboolean opt_fallback_local;
static gboolean opt_keep_going;

#define TIMELINE_BUCKET_US (100 * 1000)

static const GOptionEntry entries[] = {
  { "uri", 0, 0, G_OPTION_ARG_STRING, &opt_uri, "Redis URI", NULL },
  { "key", 0, 0, G_OPTION_ARG_STRING, &opt_key, "Quota key", NULL },
  { "max-concurrent", 0, 0, G_OPTION_ARG_INT, &opt_max_concurrent, "Concurrency limit", NULL },
  { "per-window", 0, 0, G_OPTION_ARG_INT, &opt_per_window, "Requests per window", NULL },
  { "max-cost", 0, 0, G_OPTION_ARG_INT64, &opt_max_cost, "Cost per window", NULL },
  { "cost", 0, 0, G_OPTION_ARG_INT64, &opt_cost, "Cost of each request", NULL },
  { "window-ms", 0, 0, G_OPTION_ARG_INT, &opt_window_ms, "Window", NULL },
  { "ttl-ms", 0, 0, G_OPTION_ARG_INT, &opt_ttl_ms, "Lease TTL", NULL },
  { "poll-ms", 0, 0, G_OPTION_ARG_DOUBLE, &opt_poll_ms, "Longest wait for a slot held elsewhere", NULL },
  { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &opt_seconds, "How long to run", NULL },
  { "parallel", 0, 0, G_OPTION_ARG_INT, &opt_parallel, "Admission loops", NULL },
  { "hold-ms", 0, 0, G_OPTION_ARG_DOUBLE, &opt_hold_ms, "How long each lease is held", NULL },
  { "hold-forever", 0, 0, G_OPTION_ARG_NONE, &opt_hold_forever, "Take the leases and keep them", NULL },
  { "timeout-ms", 0, 0, G_OPTION_ARG_INT, &opt_timeout_ms, "Backend timeout", NULL },
  { "start-at", 0, 0, G_OPTION_ARG_INT64, &opt_start_at, "Monotonic start time (us)", NULL },
  { "smooth", 0, 0, G_OPTION_ARG_NONE, &opt_smooth, "GCRA pacing", NULL },
  { "burst", 0, 0, G_OPTION_ARG_INT, &opt_burst, "Smooth burst", NULL },
  { "limiter", 0, 0, G_OPTION_ARG_NONE, &opt_limiter, "Through a PftRateLimiter", NULL },
  { "fallback-local", 0, 0, G_OPTION_ARG_NONE, &opt_fallback_local, "Limiter: local fallback", NULL },
  { "keep-going", 0, 0, G_OPTION_ARG_NONE, &opt_keep_going, "Count failures and go on", NULL },
  { NULL }
};

typedef struct
{
  PftRedisAdmission *adm;       /* or */
  PftRateLimiter    *limiter;
  GMainLoop         *loop;
  gint64             deadline;
  guint              running;
  guint64            granted;
  GArray            *latency;    /* gint64 us */
  int                status;
  gint64             started;
  GArray            *timeline_g; /* guint per 100 ms */
  GArray            *timeline_f;
} Worker;

static void
worker_mark (Worker *w,
             GArray *timeline)
{
  guint bucket = (guint) ((g_get_monotonic_time () - w->started) / TIMELINE_BUCKET_US);

  if (timeline->len <= bucket)
    g_array_set_size (timeline, bucket + 1);
  g_array_index (timeline, guint, bucket)++;
}

static void
worker_print_timeline (const char *name,
                       GArray     *timeline,
                       guint       len)
{
  printf ("%s", name);
  for (guint i = 0; i < len; i++)
    printf (" %u", i < timeline->len ? g_array_index (timeline, guint, i) : 0);
  printf ("\n");
}

typedef struct
{
  Worker    *w;
  gint64     asked_at;
  char      *lease;    /* admission */
  PftPermit *permit;   /* limiter */
} Slot;

static void worker_admit (Slot *slot);

static void
worker_slot_done (Slot *slot)
{
  Worker *w = slot->w;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  g_free (slot);
  if (--w->running > 0)
    return;
  /* A reading is queued behind the releases sent before it: once it is
   * here, they have run. */
  if (w->limiter != NULL)
    {
      g_autoptr(GVariant) stats = pft_rate_limiter_dup_shared_stats (w->limiter, NULL, &error);

      ok = stats != NULL;
    }
  else
    ok = _pft_redis_admission_read_stats (w->adm, NULL, NULL, &error);
  if (!ok)
    {
      g_printerr ("redis-worker: %s\n", error->message);
      w->status = 1;
    }
  g_main_loop_quit (w->loop);
}

static gboolean
worker_on_held (gpointer data)
{
  Slot *slot = data;

  if (slot->permit != NULL)
    {
      pft_permit_release (slot->permit);
      g_clear_object (&slot->permit);
    }
  else
    {
      _pft_redis_admission_release (slot->w->adm, slot->lease);
      g_clear_pointer (&slot->lease, g_free);
    }
  if (g_get_monotonic_time () >= slot->w->deadline)
    worker_slot_done (slot);
  else
    worker_admit (slot);
  return G_SOURCE_REMOVE;
}

static void
worker_on_admitted (GObject      *source,
                    GAsyncResult *result,
                    gpointer      data)
{
  Slot *slot = data;
  Worker *w = slot->w;
  g_autoptr(GError) error = NULL;
  gint64 latency;

  if (w->limiter != NULL)
    slot->permit = pft_rate_limiter_acquire_finish (w->limiter, result, &error);
  else
    slot->lease = _pft_redis_admission_admit_finish (w->adm, result, &error);
  if (slot->lease == NULL && slot->permit == NULL && opt_keep_going &&
      g_get_monotonic_time () < w->deadline)
    {
      worker_mark (w, w->timeline_f);
      worker_admit (slot);
      return;
    }
  if (slot->lease == NULL && slot->permit == NULL)
    {
      g_printerr ("redis-worker: %s\n", error->message);
      w->status = 1;
      worker_slot_done (slot);
      return;
    }
  latency = g_get_monotonic_time () - slot->asked_at;
  g_array_append_val (w->latency, latency);
  w->granted++;
  worker_mark (w, w->timeline_g);

  if (opt_hold_forever)
    {
      if (w->granted == (guint64) opt_parallel)
        {
          printf ("held %d\n", opt_parallel);
          fflush (stdout);
        }
      return;   /* the lease stays, renewed, until the process is killed */
    }
  if (opt_hold_ms > 0)
    g_timeout_add ((guint) opt_hold_ms, worker_on_held, slot);
  else
    worker_on_held (slot);
}

static void
worker_admit (Slot *slot)
{
  slot->asked_at = g_get_monotonic_time ();
  if (slot->w->limiter != NULL)
    {
      pft_rate_limiter_acquire_async (slot->w->limiter, (guint64) opt_cost, NULL,
                                      worker_on_admitted, slot);
      return;
    }
  _pft_redis_admission_admit_async (slot->w->adm, (guint64) opt_cost, NULL,
                                    worker_on_admitted, slot);
}

static PftRateLimiter *
worker_limiter_new (GError **error)
{
  /* No concurrency limit is not a limiter's: a large one instead. */
  guint max_concurrent = opt_max_concurrent > 0 ? (guint) opt_max_concurrent : 1000000;
  PftRateLimiter *limiter;

  limiter = pft_rate_limiter_new_redis (opt_uri, opt_key, max_concurrent, (guint) opt_per_window,
                                        opt_window_ms / 1000.0, error);
  if (limiter == NULL)
    return NULL;
  pft_rate_limiter_set_max_cost_per_window (limiter, (guint64) opt_max_cost);
  pft_rate_limiter_set_lease_ttl (limiter, opt_ttl_ms / 1000.0);
  pft_rate_limiter_set_backend_timeout (limiter, opt_timeout_ms / 1000.0);
  if (opt_smooth)
    {
      pft_rate_limiter_set_mode (limiter, PFT_LIMITER_MODE_SMOOTH);
      pft_rate_limiter_set_burst (limiter, (guint) opt_burst);
    }
  if (opt_fallback_local)
    pft_rate_limiter_set_fallback (limiter, PFT_LIMITER_FALLBACK_LOCAL);
  return limiter;
}

static int
worker_cmp_i64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- hammer a Redis-shared quota");
  g_autoptr(GError) error = NULL;
  PftRedisLimits limits = PFT_REDIS_LIMITS_INIT;
  Worker w = { 0 };
  gint64 started;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || opt_uri == NULL || opt_key == NULL)
    {
      g_printerr ("redis-worker: %s\n", error != NULL ? error->message : "--uri and --key are needed");
      return 2;
    }

  limits.max_concurrent = (guint) opt_max_concurrent;
  limits.max_per_window = (guint) opt_per_window;
  limits.max_cost = (guint64) opt_max_cost;
  limits.window_us = (gint64) opt_window_ms * 1000;
  limits.lease_ttl_us = (gint64) opt_ttl_ms * 1000;
  limits.poll_us = (gint64) (opt_poll_ms * 1000);
  limits.smooth = opt_smooth;
  limits.burst = (guint) opt_burst;

  if (opt_limiter)
    w.limiter = worker_limiter_new (&error);
  else
    w.adm = _pft_redis_admission_new (opt_uri, opt_key, &limits,
                                      (gint64) opt_timeout_ms * 1000, &error);
  if (w.adm == NULL && w.limiter == NULL)
    {
      g_printerr ("redis-worker: %s\n", error->message);
      return 1;
    }
  w.loop = g_main_loop_new (NULL, FALSE);
  w.latency = g_array_new (FALSE, FALSE, sizeof (gint64));

  if (opt_start_at > g_get_monotonic_time ())
    g_usleep ((gulong) (opt_start_at - g_get_monotonic_time ()));
  started = w.started = g_get_monotonic_time ();
  w.timeline_g = g_array_new (FALSE, TRUE, sizeof (guint));
  w.timeline_f = g_array_new (FALSE, TRUE, sizeof (guint));
  w.deadline = started + (gint64) (opt_seconds * G_USEC_PER_SEC);
  w.running = (guint) opt_parallel;
  for (int i = 0; i < opt_parallel; i++)
    {
      Slot *slot = g_new0 (Slot, 1);

      slot->w = &w;
      worker_admit (slot);
    }
  g_main_loop_run (w.loop);

  g_array_sort (w.latency, worker_cmp_i64);
  printf ("granted %" G_GUINT64_FORMAT "\n", w.granted);
  printf ("elapsed_us %" G_GINT64_FORMAT "\n", g_get_monotonic_time () - started);
  if (w.latency->len > 0)
    {
      printf ("acquire_us_p50 %" G_GINT64_FORMAT "\n",
              g_array_index (w.latency, gint64, w.latency->len / 2));
      printf ("acquire_us_p99 %" G_GINT64_FORMAT "\n",
              g_array_index (w.latency, gint64, MIN (w.latency->len - 1, w.latency->len * 99 / 100)));
    }
  if (opt_keep_going)
    {
      guint len = MAX (w.timeline_g->len, w.timeline_f->len);

      worker_print_timeline ("timeline_g", w.timeline_g, len);
      worker_print_timeline ("timeline_f", w.timeline_f, len);
    }
  g_array_unref (w.timeline_g);
  g_array_unref (w.timeline_f);
  g_array_unref (w.latency);
  g_main_loop_unref (w.loop);
  if (w.limiter != NULL)
    g_object_unref (w.limiter);
  else
    _pft_redis_admission_unref (w.adm);
  g_free (opt_uri);
  g_free (opt_key);
  return w.status;
}
