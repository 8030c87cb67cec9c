/* test-redis-limiter.c: PftRateLimiter on the Redis backend, against a
 * real redis-server started by the fixture
 *
 * The limiter's own semantics (window, FIFO, cancellation, pause, live
 * resize, cost and settle, blocking acquire) with the limits kept in
 * Redis, and the failure policy. Limits are checked from the server-side
 * grant log (stamped with Redis TIME by the scripts) or from the shared
 * counts, never from the limiter's own bookkeeping.
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include <pft.h>

#include "redis-scenarios.h"
#include "sim-api.h"
#include "test-util.h"

#define MS 1000
#define SEC G_USEC_PER_SEC

static PftRedisServer *server;

/* ------------------------------------------------------------------ */
/* Helpers */

static PftRateLimiter *
limiter_new (const char *key,
             guint       max_concurrent,
             guint       max_per_window,
             double      window)
{
  g_autoptr(GError) error = NULL;
  PftRateLimiter *limiter = pft_rate_limiter_new_redis (server->uri, key, max_concurrent,
                                                        max_per_window, window, &error);

  g_assert_no_error (error);
  g_assert_nonnull (limiter);
  return limiter;
}

/* The shared counts; also a barrier for the releases asked before. */
static guint64
shared (PftRateLimiter *limiter,
        const char     *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) stats = pft_rate_limiter_dup_shared_stats (limiter, NULL, &error);
  g_autoptr(GVariant) v = NULL;

  g_assert_no_error (error);
  v = g_variant_lookup_value (stats, name, NULL);
  g_assert_nonnull (v);
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT32))
    return g_variant_get_uint32 (v);
  return g_variant_get_uint64 (v);
}

typedef struct
{
  PftRateLimiter *limiter;
  GPtrArray      *order;     /* names of granted waiters, in order */
  PftPermit      *permit;
  GError         *error;
  const char     *name;
  gboolean        done;
} Waiter;

static void
waiter_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Waiter *w = data;

  w->permit = pft_rate_limiter_acquire_finish (w->limiter, result, &w->error);
  if (w->permit != NULL && w->order != NULL)
    g_ptr_array_add (w->order, (gpointer) w->name);
  w->done = TRUE;
}

static void
waiter_wait (Waiter *w)
{
  while (!w->done)
    g_main_context_iteration (NULL, TRUE);
}

static void
waiter_clear (Waiter *w)
{
  g_clear_object (&w->permit);
  g_clear_error (&w->error);
}

static PftPermit *
acquire (PftRateLimiter *limiter,
         guint64         cost)
{
  g_autoptr(GError) error = NULL;
  PftPermit *permit = pft_rate_limiter_acquire (limiter, cost, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (permit);
  return permit;
}

/* ------------------------------------------------------------------ */
/* Construction and properties */

static void
test_new_errors (void)
{
  g_autoptr(GError) error = NULL;
  int port = pft_redis_free_port ();
  g_autofree char *down = g_strdup_printf ("redis://:hunter2@127.0.0.1:%d/0", port);
  PftRateLimiter *limiter;

  limiter = pft_rate_limiter_new_redis ("http://:hunter2@127.0.0.1:1/0", "k", 1, 1, 1.0, &error);
  g_assert_null (limiter);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_null (strstr (error->message, "hunter2"));

  g_clear_error (&error);
  limiter = pft_rate_limiter_new_redis (down, "k", 1, 1, 1.0, &error);
  g_assert_null (limiter);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, ":***@127.0.0.1"));
  g_assert_null (strstr (error->message, "hunter2"));

  g_clear_error (&error);
  limiter = pft_rate_limiter_new_redis (server->uri, "a{b}", 1, 1, 1.0, &error);
  g_assert_null (limiter);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "a{b}"));

  /* The limiter's own rules, with the key named. */
  g_clear_error (&error);
  limiter = pft_rate_limiter_new_redis (server->uri, "k", 0, 1, 1.0, &error);
  g_assert_null (limiter);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "max-concurrent"));
  g_clear_error (&error);
  limiter = pft_rate_limiter_new_redis (server->uri, "k", 1, 1, 0.0, &error);
  g_assert_null (limiter);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "window"));
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    data)
{
  (*(guint *) data)++;
}

static void
test_properties (void)
{
  PftRedisServer *secured = pft_redis_server_start ("s3cret");
  g_autofree char *key = pft_redis_unique_key ("props");
  g_autofree char *shown = g_strdup_printf ("redis://:***@127.0.0.1:%d/0", secured->port);
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) memory = pft_rate_limiter_new (2, 10, 1.0);
  g_autoptr(PftRateLimiter) limiter = NULL;
  g_autofree char *backend = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *redis_key = NULL;
  g_autofree char *wrong = g_strdup_printf ("redis://:hunter2@127.0.0.1:%d/0", secured->port);
  PftLimiterFallback fallback;
  double timeout, ttl;
  guint notified = 0;

  g_assert_null (pft_rate_limiter_new_redis (wrong, key, 1, 1, 1.0, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "refused the password"));
  g_assert_null (strstr (error->message, "hunter2"));
  g_clear_error (&error);

  limiter = pft_rate_limiter_new_redis (secured->uri, key, 3, 10, 2.0, &error);
  g_assert_no_error (error);
  g_object_get (limiter, "backend", &backend, "redis-uri", &uri, "redis-key", &redis_key,
                "backend-timeout", &timeout, "fallback", &fallback, "lease-ttl", &ttl, NULL);
  g_assert_cmpstr (backend, ==, "redis");
  g_assert_cmpstr (uri, ==, shown);   /* never the password */
  g_assert_cmpstr (redis_key, ==, key);
  g_assert_cmpfloat (timeout, ==, 5.0);
  g_assert_cmpint (fallback, ==, PFT_LIMITER_FALLBACK_FAIL);
  g_assert_cmpfloat (ttl, ==, 10.0);
  /* The limits are the limiter's, as with new(). */
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (limiter), ==, 3);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (limiter), ==, 10);
  g_assert_cmpfloat (pft_rate_limiter_get_window (limiter), ==, 2.0);

  g_signal_connect (limiter, "notify", G_CALLBACK (on_notify), &notified);
  g_object_set (limiter, "backend-timeout", 0.5, "fallback", PFT_LIMITER_FALLBACK_LOCAL,
                "lease-ttl", 2.0, NULL);
  g_assert_cmpuint (notified, ==, 3);
  g_object_set (limiter, "backend-timeout", 0.5, NULL);
  g_assert_cmpuint (notified, ==, 3);   /* unchanged: no notify */
  g_assert_cmpfloat (pft_rate_limiter_get_backend_timeout (limiter), ==, 0.5);
  g_assert_cmpint (pft_rate_limiter_get_fallback (limiter), ==, PFT_LIMITER_FALLBACK_LOCAL);
  g_assert_cmpfloat (pft_rate_limiter_get_lease_ttl (limiter), ==, 2.0);

  /* The memory limiter says so, and keeps what it is given. */
  g_assert_cmpstr (pft_rate_limiter_get_backend (memory), ==, "memory");
  g_assert_null (pft_rate_limiter_get_redis_key (memory));
  g_assert_null (pft_rate_limiter_get_redis_uri (memory));
  pft_rate_limiter_set_fallback (memory, PFT_LIMITER_FALLBACK_LOCAL);
  g_assert_cmpint (pft_rate_limiter_get_fallback (memory), ==, PFT_LIMITER_FALLBACK_LOCAL);
  {
    g_autoptr(PftPermit) permit = acquire (memory, 1);
    g_autoptr(GVariant) stats = pft_rate_limiter_dup_shared_stats (memory, NULL, &error);
    const char *b = NULL;
    guint32 n = 0;

    /* Its own counts, in the same keys. */
    g_assert_no_error (error);
    g_assert_true (g_variant_lookup (stats, "backend", "&s", &b));
    g_assert_cmpstr (b, ==, "memory");
    g_assert_true (g_variant_lookup (stats, "in_flight", "u", &n));
    g_assert_cmpuint (n, ==, 1);
    g_assert_true (g_variant_lookup (stats, "window_count", "u", &n));
    g_assert_cmpuint (n, ==, 1);
  }

  /* AUTH on the running connection too: an admission goes through. */
  g_clear_object (&limiter);
  limiter = pft_rate_limiter_new_redis (secured->uri, key, 3, 10, 2.0, &error);
  g_assert_no_error (error);
  {
    g_autoptr(PftPermit) permit = acquire (limiter, 1);

    g_assert_cmpuint (shared (limiter, "in_flight"), ==, 1);
    pft_permit_release (permit);
    g_assert_cmpuint (shared (limiter, "in_flight"), ==, 0);
    g_assert_cmpuint (shared (limiter, "window_count"), ==, 1);
  }
  g_clear_object (&limiter);
  pft_redis_server_free (secured);
}

/* ------------------------------------------------------------------ */
/* The limiter's semantics on Redis */

/* Workers through the limiter: never more than the limit in any window
 * of the server's clock, and the limit binds. */
static void
test_window_exact (void)
{
  pft_redis_scenario_window (server, TRUE);
}

/* Smooth mode through the limiter: GCRA decided by Redis. */
static void
test_smooth (void)
{
  pft_redis_scenario_smooth (server, TRUE);
}

/* Waiters of one process are granted in their order, one slot at a time. */
static void
test_fifo (void)
{
  g_autofree char *key = pft_redis_unique_key ("fifo");
  g_autoptr(PftRateLimiter) limiter = limiter_new (key, 1, 0, 1.0);
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  g_autoptr(PftPermit) first = acquire (limiter, 1);
  const char *names[] = { "b", "c", "d", "e" };
  Waiter w[G_N_ELEMENTS (names)] = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    {
      w[i].limiter = limiter;
      w[i].order = order;
      w[i].name = names[i];
      pft_rate_limiter_acquire_async (limiter, 1, NULL, waiter_cb, &w[i]);
    }
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 4);
  pft_redis_spin_for (30 * MS);
  g_assert_cmpuint (order->len, ==, 0);

  pft_permit_release (first);
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    {
      waiter_wait (&w[i]);
      g_assert_no_error (w[i].error);
      /* Only one at a time holds the shared slot. */
      g_assert_cmpuint (shared (limiter, "in_flight"), ==, 1);
      pft_permit_release (w[i].permit);
    }
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    {
      g_assert_cmpstr (g_ptr_array_index (order, i), ==, names[i]);
      waiter_clear (&w[i]);
    }
  g_assert_cmpuint (shared (limiter, "in_flight"), ==, 0);
}

/* A waiter cancelled while its ask is out at Redis: it fails cancelled
 * and the grant, if one comes, is given back. */
static void
test_cancel (void)
{
  g_autofree char *key = pft_redis_unique_key ("cancel");
  g_autofree char *other_uri = g_strdup_printf ("redis://127.0.0.1:%d", server->port);
  g_autoptr(PftRateLimiter) limiter = limiter_new (key, 1, 0, 1.0);
  g_autoptr(PftRateLimiter) other = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PftPermit) held = NULL;
  Waiter w = { limiter };

  /* Another connection holds the slot, as another process would. */
  other = pft_rate_limiter_new_redis (other_uri, key, 1, 0, 1.0, &error);
  g_assert_no_error (error);
  held = acquire (other, 1);

  pft_rate_limiter_acquire_async (limiter, 1, cancellable, waiter_cb, &w);
  pft_redis_spin_for (50 * MS);   /* asked, refused, asked again... */
  g_assert_false (w.done);
  g_cancellable_cancel (cancellable);
  waiter_wait (&w);
  g_assert_error (w.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (w.permit);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 0);

  /* The slot comes back to the other; whatever this one was asking for
   * is not left held. */
  pft_permit_release (held);
  pft_redis_spin_for (50 * MS);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_assert_cmpuint (shared (limiter, "in_flight"), ==, 0);
  g_clear_object (&held);
  held = acquire (limiter, 1);
  g_assert_cmpuint (shared (limiter, "in_flight"), ==, 1);
  waiter_clear (&w);
}

/* A 429 in one limiter pauses the other (another connection, as another
 * process): the server's log shows no grant before the pause's end. */
static void
test_pause (void)
{
  g_autofree char *key = pft_redis_unique_key ("pause");
  g_autofree char *other_uri = g_strdup_printf ("redis://127.0.0.1:%d", server->port);
  g_autoptr(PftRateLimiter) a = limiter_new (key, 4, 100, 1.0);
  g_autoptr(PftRateLimiter) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) limited = pft_error_new_rate_limited (0.3, "test", "slow down");
  g_autoptr(GArray) log = NULL;
  g_autoptr(PftPermit) permit = NULL;
  gint64 paused_until = 0, granted_at = 0;

  b = pft_rate_limiter_new_redis (other_uri, key, 4, 100, 1.0, &error);
  g_assert_no_error (error);
  pft_redis_log_enable (server, key);

  g_assert_true (pft_rate_limiter_report_error (a, limited));
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (a), >, 0);
  shared (a, "in_flight");   /* after the pause it sent, on its connection */
  {
    g_autoptr(GVariant) stats = pft_rate_limiter_dup_shared_stats (b, NULL, &error);
    double paused_for = 0;

    g_assert_no_error (error);
    g_assert_true (g_variant_lookup (stats, "paused_for", "d", &paused_for));
    g_assert_cmpfloat (paused_for, >, 0.1);
  }

  permit = acquire (b, 1);
  log = pft_redis_log_read (server, key);
  for (guint i = 0; i < log->len; i++)
    {
      PftRedisLogEntry *e = &g_array_index (log, PftRedisLogEntry, i);

      if (e->kind == 'p')
        paused_until = e->value;
      else if (e->kind == 'g')
        granted_at = e->t_us;
    }
  g_assert_cmpint (paused_until, >, 0);
  g_assert_cmpint (granted_at, >=, paused_until);
}

/* Raising max-per-window live lets the waiters held by the window go. */
static void
test_resize (void)
{
  g_autofree char *key = pft_redis_unique_key ("resize");
  g_autoptr(PftRateLimiter) limiter = limiter_new (key, 100, 3, 60.0);
  g_autoptr(GPtrArray) permits = g_ptr_array_new_with_free_func (g_object_unref);
  Waiter w[3] = { { limiter }, { limiter }, { limiter } };

  for (guint i = 0; i < 3; i++)
    g_ptr_array_add (permits, acquire (limiter, 1));
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    pft_rate_limiter_acquire_async (limiter, 1, NULL, waiter_cb, &w[i]);
  pft_redis_spin_for (50 * MS);
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    g_assert_false (w[i].done);   /* the window is full for a minute */
  g_assert_cmpuint (shared (limiter, "window_count"), ==, 3);

  pft_rate_limiter_set_max_per_window (limiter, 5);
  waiter_wait (&w[0]);
  waiter_wait (&w[1]);
  pft_redis_spin_for (50 * MS);
  g_assert_false (w[2].done);
  g_assert_cmpuint (shared (limiter, "window_count"), ==, 5);

  pft_rate_limiter_set_max_per_window (limiter, 6);
  waiter_wait (&w[2]);
  g_assert_cmpuint (shared (limiter, "window_count"), ==, 6);
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    waiter_clear (&w[i]);
}

/* A permit settled to less than its estimate gives the rest back to
 * everyone sharing the key. */
static void
test_cost_settle (void)
{
  g_autofree char *key = pft_redis_unique_key ("cost");
  g_autoptr(PftRateLimiter) limiter = limiter_new (key, 10, 0, 60.0);
  g_autoptr(PftPermit) first = NULL;
  g_autoptr(GError) error = NULL;
  Waiter w = { limiter };

  pft_rate_limiter_set_max_cost_per_window (limiter, 100);
  first = acquire (limiter, 60);
  pft_rate_limiter_acquire_async (limiter, 50, NULL, waiter_cb, &w);
  pft_redis_spin_for (50 * MS);
  g_assert_false (w.done);
  g_assert_cmpuint (shared (limiter, "window_cost"), ==, 60);

  pft_permit_settle (first, 10);
  waiter_wait (&w);
  g_assert_no_error (w.error);
  g_assert_cmpuint (shared (limiter, "window_cost"), ==, 60);   /* 10 + 50 */

  /* Above the budget: refused by the limiter, as with memory. */
  g_assert_null (pft_rate_limiter_acquire (limiter, 101, NULL, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  waiter_clear (&w);
}

/* Blocking acquires from threads, and a try that does not wait. */
typedef struct
{
  PftRateLimiter *limiter;
  guint           n;
} ThreadData;

static gpointer
acquire_thread (gpointer data)
{
  ThreadData *t = data;

  for (guint i = 0; i < t->n; i++)
    {
      g_autoptr(PftPermit) permit = acquire (t->limiter, 1);

      pft_permit_release (permit);
    }
  return NULL;
}

static void
test_blocking_threads (void)
{
  g_autofree char *key = pft_redis_unique_key ("threads");
  g_autoptr(PftRateLimiter) limiter = limiter_new (key, 2, 0, 1.0);
  g_autoptr(GError) error = NULL;
  ThreadData t = { limiter, 50 };
  GThread *threads[4];
  PftPermit *none;

  pft_redis_log_enable (server, key);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("acquire", acquire_thread, &t);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_assert_cmpuint (shared (limiter, "in_flight"), ==, 0);
  {
    g_autoptr(GArray) log = pft_redis_log_read (server, key);

    g_assert_cmpuint (pft_redis_log_count (log, 'g'), ==, 200);
    g_assert_cmpuint (pft_redis_log_max_in_flight (log), <=, 2);
  }

  /* A decision takes a round trip: a try admits nothing, and says so
   * without an error. */
  none = pft_rate_limiter_try_acquire (limiter, 1, &error);
  g_assert_no_error (error);
  g_assert_null (none);
}

/* Lowering lease-ttl while a permit is held: the renewals follow the new
 * pace (a third of it), so the lease is not lost once its TTL is short. */
static void
test_lease_ttl_live (void)
{
  g_autofree char *key = pft_redis_unique_key ("ttl");
  g_autoptr(PftRateLimiter) limiter = limiter_new (key, 2, 0, 1.0);
  g_autoptr(PftPermit) permit = acquire (limiter, 1);

  /* The first renewal is due a third of 10 s after the grant; from then
   * on the lease lives 0.3 s and must be renewed every 0.1 s. */
  pft_rate_limiter_set_lease_ttl (limiter, 0.3);
  pft_redis_spin_for (4500 * MS);
  g_assert_cmpuint (shared (limiter, "in_flight"), ==, 1);
  pft_permit_release (permit);
  g_assert_cmpuint (shared (limiter, "in_flight"), ==, 0);
}

/* A throttled batch node on a Redis limiter: the engine's dispatcher
 * (slots, not permits) goes through the same asks; the server's log
 * shows every item admitted once and never more than the limit at once. */
static void
test_throttled_node (void)
{
  g_autofree char *key = pft_redis_unique_key ("node");
  g_autoptr(PftRateLimiter) limiter = limiter_new (key, 3, 0, 1.0);
  SimApi api = { .duration_ms = 3 };
  SimProbe probe = { 0 };
  g_autoptr(PftNode) node = NULL;
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) items = pft_values_new ();
  g_autoptr(PftValues) results = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) log = NULL;
  g_autofree char *action = NULL;

  sim_api_init (&api);
  node = sim_throttled_node_new (&api);
  pft_throttled_batch_node_set_limiter (PFT_THROTTLED_BATCH_NODE (node), limiter);
  pft_batch_node_set_max_concurrent (PFT_BATCH_NODE (node), 3);
  sim_node_set_probe (node, &probe);
  for (guint i = 0; i < 40; i++)
    pft_values_append_int (items, i);
  pft_store_set_values (store, "items", items);
  pft_redis_log_enable (server, key);

  action = test_run_async (node, store, NULL, &error);
  g_assert_no_error (error);
  results = pft_store_dup_values (store, "results");
  g_assert_cmpuint (pft_values_get_length (results), ==, 40);
  for (guint i = 0; i < 40; i++)
    g_assert_cmpint (pft_values_get_int (results, i), ==, i);
  g_assert_cmpint (probe.max_in_flight, <=, 3);

  g_assert_cmpuint (shared (limiter, "in_flight"), ==, 0);   /* also a barrier */
  log = pft_redis_log_read (server, key);
  g_assert_cmpuint (pft_redis_log_count (log, 'g'), ==, 40);
  g_assert_cmpuint (pft_redis_log_count (log, 'r'), ==, 40);
  g_assert_cmpuint (pft_redis_log_max_in_flight (log), <=, 3);
  sim_api_clear (&api);
}

/* ------------------------------------------------------------------ */
/* Many processes */

static void
test_processes_one_quota (void)
{
  pft_redis_scenario_one_quota (server, TRUE);
}

static void
test_processes_crash (void)
{
  pft_redis_scenario_crash (server, TRUE);
}

/* Redis restarts (data kept) under two worker processes: every grant is
 * logged once, limits hold, and the run completes. */
static void
test_restart_mid_run (void)
{
  pft_redis_scenario_restart (server, TRUE);
}

/* ------------------------------------------------------------------ */
/* Redis goes away */

/* Fallback "fail": an acquire fails with the backend error after
 * backend-timeout; the limiter works again once Redis is back. */
static void
test_down_fail (void)
{
  g_autofree char *key = pft_redis_unique_key ("downfail");
  g_autoptr(PftRateLimiter) limiter = limiter_new (key, 4, 100, 1.0);
  g_autoptr(GError) error = NULL;
  g_autoptr(PftPermit) permit = NULL;
  PftPermit *none;

  pft_rate_limiter_set_backend_timeout (limiter, 0.3);
  permit = acquire (limiter, 1);
  pft_permit_release (permit);
  g_clear_object (&permit);

  pft_redis_server_shutdown (server);
  none = pft_rate_limiter_acquire (limiter, 1, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, key));
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 0);
  g_clear_error (&error);
  g_assert_null (pft_rate_limiter_dup_shared_stats (limiter, NULL, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE);

  /* Back: once the reconnection's backoff (at most 1 s) has run, it
   * admits again; until then an acquire may still time out. */
  pft_redis_server_start_again (server);
  for (guint i = 0; permit == NULL && i < 20; i++)
    {
      g_clear_error (&error);
      permit = pft_rate_limiter_acquire (limiter, 1, NULL, &error);
      if (permit == NULL)
        g_assert_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE);
    }
  g_assert_nonnull (permit);
  g_assert_cmpuint (shared (limiter, "in_flight"), ==, 1);
}

/* Fallback "local": admissions go on with this process's limits and one
 * warning; once Redis answers again they are shared again. */
static void
test_down_local (void)
{
  g_autofree char *key = pft_redis_unique_key ("downlocal");
  g_autoptr(PftRateLimiter) limiter = limiter_new (key, 4, 5, 60.0);
  g_autoptr(GPtrArray) permits = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GError) error = NULL;
  gboolean active = FALSE;
  Waiter w = { limiter };

  pft_rate_limiter_set_backend_timeout (limiter, 0.3);
  pft_rate_limiter_set_fallback (limiter, PFT_LIMITER_FALLBACK_LOCAL);
  pft_rate_limiter_set_max_concurrent (limiter, 10);
  g_ptr_array_add (permits, acquire (limiter, 1));
  g_ptr_array_set_size (permits, 0);   /* released */

  pft_redis_server_shutdown (server);
  g_test_expect_message ("Pft", G_LOG_LEVEL_WARNING, "*downlocal*did not answer*own limits*");
  /* The local window is empty: five go, the sixth waits for it. */
  for (guint i = 0; i < 5; i++)
    g_ptr_array_add (permits, acquire (limiter, 1));
  g_test_assert_expected_messages ();
  stats = pft_rate_limiter_dup_stats (limiter);
  g_assert_true (g_variant_lookup (stats, "fallback_active", "b", &active));
  g_assert_true (active);
  pft_rate_limiter_acquire_async (limiter, 1, NULL, waiter_cb, &w);
  pft_redis_spin_for (100 * MS);
  g_assert_false (w.done);

  /* Back: the probe finds it (every 500 ms) and says so once. */
  g_test_expect_message ("Pft", G_LOG_LEVEL_MESSAGE, "*downlocal*answers again*");
  pft_redis_server_start_again (server);
  for (guint i = 0; active && i < 100; i++)
    {
      pft_redis_spin_for (50 * MS);
      g_clear_pointer (&stats, g_variant_unref);
      stats = pft_rate_limiter_dup_stats (limiter);
      g_assert_true (g_variant_lookup (stats, "fallback_active", "b", &active));
    }
  g_assert_false (active);
  g_test_assert_expected_messages ();

  /* The waiter is asked of Redis again (the server came back empty, as
   * it was shut down without saving) and counted there. */
  waiter_wait (&w);
  g_assert_no_error (w.error);
  g_assert_cmpuint (shared (limiter, "window_count"), ==, 1);
  /* Local releases stay local; Redis's in-flight is the waiter's. */
  g_ptr_array_set_size (permits, 0);
  g_assert_cmpuint (shared (limiter, "in_flight"), ==, 1);
  waiter_clear (&w);
}

/* Blocks the server for @data microseconds (a script runs alone). */
static gpointer
block_server_thread (gpointer data)
{
  freeReplyObject (pft_redis_server_command (server,
      "EVAL %s 0 %s",
      "local s = redis.call('TIME') "
      "repeat local n = redis.call('TIME') "
      "until (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > tonumber(ARGV[1])",
      (const char *) data));
  return NULL;
}

static double
stats_double (GVariant   *stats,
              const char *name)
{
  double d = -1;

  g_assert_true (g_variant_lookup (stats, name, "d", &d));
  return d;
}

/* dup_stats() shows the last reading of the shared counts and asks for a
 * new one in the background; its age counts from the question, since a
 * slow server answers late. */
static void
test_stats_reading_age (void)
{
  g_autofree char *key = pft_redis_unique_key ("age");
  g_autoptr(PftRateLimiter) limiter = limiter_new (key, 4, 100, 60.0);
  g_autoptr(GThread) blocker = NULL;
  g_autoptr(GVariant) stats = NULL;
  guint32 count = 0;
  gint64 asked;

  g_object_unref (acquire (limiter, 1));
  g_assert_cmpuint (shared (limiter, "window_count"), ==, 1);   /* a reading of 1 */
  g_object_unref (acquire (limiter, 1));
  g_object_unref (acquire (limiter, 1));
  pft_redis_spin_for (150 * MS);   /* older than the refresh age */

  blocker = g_thread_new ("block", block_server_thread, (gpointer) "500000");
  pft_redis_spin_for (100 * MS);   /* the script runs */
  asked = g_get_monotonic_time ();
  stats = pft_rate_limiter_dup_stats (limiter);   /* asks, answered after the block */
  g_assert_true (g_variant_lookup (stats, "shared_window_count", "u", &count));
  g_assert_cmpuint (count, ==, 1);
  while (count != 3)
    {
      pft_redis_spin_for (20 * MS);
      g_clear_pointer (&stats, g_variant_unref);
      stats = pft_rate_limiter_dup_stats (limiter);
      g_assert_true (g_variant_lookup (stats, "shared_window_count", "u", &count));
    }
  /* The answer came about 400 ms after the question. */
  g_assert_cmpfloat (stats_double (stats, "shared_reading_age"), >=,
                     (double) (g_get_monotonic_time () - asked) / G_USEC_PER_SEC - 0.05);
  g_assert_cmpfloat (stats_double (stats, "shared_reading_age"), >=, 0.3);
}

static void
test_wrong_type (void)
{
  g_autofree char *key = pft_redis_unique_key ("type");
  g_autoptr(PftRateLimiter) limiter = limiter_new (key, 4, 10, 1.0);
  g_autoptr(GError) error = NULL;
  g_autoptr(PftPermit) permit = NULL;

  freeReplyObject (pft_redis_server_command (server, "SET pft:{%s}:win oops", key));
  g_assert_null (pft_rate_limiter_acquire (limiter, 1, NULL, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "WRONGTYPE"));
  g_assert_nonnull (strstr (error->message, key));
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);

  freeReplyObject (pft_redis_server_command (server, "DEL pft:{%s}:win", key));
  permit = acquire (limiter, 1);
}

static void
test_script_flush (void)
{
  g_autofree char *key = pft_redis_unique_key ("flush");
  g_autoptr(PftRateLimiter) limiter = limiter_new (key, 4, 10, 1.0);
  g_autoptr(PftPermit) a = NULL;
  g_autoptr(PftPermit) b = NULL;

  a = acquire (limiter, 1);
  freeReplyObject (pft_redis_server_command (server, "SCRIPT FLUSH"));
  b = acquire (limiter, 1);
  g_assert_cmpuint (shared (limiter, "window_count"), ==, 2);
}

/* The registry shows the counts of every process. */
static void
test_registry_stats (void)
{
  g_autofree char *key = pft_redis_unique_key ("registry");
  g_autofree char *other_uri = g_strdup_printf ("redis://127.0.0.1:%d", server->port);
  g_autoptr(PftLimiterRegistry) registry = pft_limiter_registry_new ();
  g_autoptr(PftRateLimiter) limiter = limiter_new (key, 8, 100, 10.0);
  g_autoptr(PftRateLimiter) other = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(PftPermit) mine = NULL;
  g_autoptr(GPtrArray) theirs = g_ptr_array_new_with_free_func (g_object_unref);
  const char *backend = NULL;
  guint32 in_flight = 0, window_count = 0;

  other = pft_rate_limiter_new_redis (other_uri, key, 8, 100, 10.0, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 3; i++)
    g_ptr_array_add (theirs, acquire (other, 1));
  mine = acquire (limiter, 1);

  pft_limiter_registry_register (registry, "shared", limiter, FALSE, &error);
  g_assert_no_error (error);
  stats = pft_limiter_registry_get_stats (registry, "shared", &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (stats, "backend", "&s", &backend));
  g_assert_cmpstr (backend, ==, "redis");
  g_assert_true (g_variant_lookup (stats, "shared_in_flight", "u", &in_flight));
  g_assert_true (g_variant_lookup (stats, "shared_window_count", "u", &window_count));
  g_assert_cmpuint (in_flight, ==, 4);
  g_assert_cmpuint (window_count, ==, 4);
  /* This process's own count beside it. */
  g_assert_true (g_variant_lookup (stats, "in_flight", "u", &in_flight));
  g_assert_cmpuint (in_flight, ==, 1);

  /* The same counts without blocking the caller. */
  {
    PftRedisWait w = { 0 };
    g_autoptr(GVariant) shared_stats = NULL;

    pft_rate_limiter_dup_shared_stats_async (other, NULL, pft_redis_wait_cb, &w);
    shared_stats = pft_rate_limiter_dup_shared_stats_finish (other, pft_redis_wait_for (&w), &error);
    g_object_unref (w.result);
    g_assert_no_error (error);
    g_assert_true (g_variant_lookup (shared_stats, "in_flight", "u", &in_flight));
    g_assert_cmpuint (in_flight, ==, 4);
  }
}

/* The registry's key file: backend = redis and its keys. */
static PftRateLimiter *
load_one (PftLimiterRegistry *registry,
          const char         *name,
          const char         *text)
{
  g_autoptr(GError) error = NULL;

  pft_limiter_registry_load_from_data (registry, text, -1, &error);
  g_assert_no_error (error);
  return pft_limiter_registry_lookup (registry, name, &error);
}

static void
test_config (void)
{
  g_autoptr(PftLimiterRegistry) registry = pft_limiter_registry_new ();
  g_autofree char *name = pft_redis_unique_key ("config");
  g_autofree char *key = pft_redis_unique_key ("config-key");
  g_autofree char *text = NULL;
  g_autofree char *reload = NULL;
  g_autofree char *moved = NULL;
  g_autoptr(PftRateLimiter) limiter = NULL;
  g_autoptr(PftRateLimiter) again = NULL;
  g_autoptr(PftPermit) permit = NULL;
  g_autoptr(GError) error = NULL;

  text = g_strdup_printf ("[%s]\nbackend = redis\nredis-uri = %s\nmax-concurrent = 3\n"
                          "max-per-window = 10\nwindow = 2\nbackend-timeout = 0.7\n"
                          "fallback = local\nlease-ttl = 3\n", name, server->uri);
  limiter = load_one (registry, name, text);
  g_assert_cmpstr (pft_rate_limiter_get_backend (limiter), ==, "redis");
  /* The key defaults to the group's name. */
  g_assert_cmpstr (pft_rate_limiter_get_redis_key (limiter), ==, name);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (limiter), ==, 3);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (limiter), ==, 10);
  g_assert_cmpfloat (pft_rate_limiter_get_window (limiter), ==, 2.0);
  g_assert_cmpfloat (pft_rate_limiter_get_backend_timeout (limiter), ==, 0.7);
  g_assert_cmpint (pft_rate_limiter_get_fallback (limiter), ==, PFT_LIMITER_FALLBACK_LOCAL);
  g_assert_cmpfloat (pft_rate_limiter_get_lease_ttl (limiter), ==, 3.0);
  permit = acquire (limiter, 1);
  {
    redisReply *r = pft_redis_server_command (server, "ZCARD pft:{%s}:lease", name);

    g_assert_cmpint (r->integer, ==, 1);   /* counted in Redis, under the name */
    freeReplyObject (r);
  }

  /* A reload updates it in place (the same object). */
  reload = g_strdup_printf ("[%s]\nbackend = redis\nredis-uri = %s\nmax-concurrent = 4\n",
                            name, server->uri);
  again = load_one (registry, name, reload);
  g_assert_true (again == limiter);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (limiter), ==, 4);
  g_assert_cmpint (pft_rate_limiter_get_fallback (limiter), ==, PFT_LIMITER_FALLBACK_FAIL);

  /* Not another key, nor another backend, in place. */
  moved = g_strdup_printf ("[%s]\nbackend = redis\nredis-uri = %s\nredis-key = %s\n",
                           name, server->uri, key);
  g_assert_false (pft_limiter_registry_load_from_data (registry, moved, -1, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, name));
  g_clear_error (&error);
  g_clear_pointer (&moved, g_free);
  moved = g_strdup_printf ("[%s]\nmax-concurrent = 4\n", name);
  g_assert_false (pft_limiter_registry_load_from_data (registry, moved, -1, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
  g_clear_error (&error);

  /* A new group may name its key. */
  g_clear_pointer (&moved, g_free);
  moved = g_strdup_printf ("[%s-2]\nbackend = redis\nredis-uri = %s\nredis-key = %s\n",
                           name, server->uri, key);
  {
    g_autofree char *name2 = g_strdup_printf ("%s-2", name);
    g_autoptr(PftRateLimiter) other = load_one (registry, name2, moved);

    g_assert_cmpstr (pft_rate_limiter_get_redis_key (other), ==, key);
  }
}

static void
test_config_errors (void)
{
  g_autoptr(PftLimiterRegistry) registry = pft_limiter_registry_new ();
  g_autoptr(GError) error = NULL;
  int port = pft_redis_free_port ();
  g_autofree char *down = g_strdup_printf ("[first]\nmax-concurrent = 2\n\n"
                                           "[shared]\nbackend = redis\n"
                                           "redis-uri = redis://:hunter2@127.0.0.1:%d/0\n", port);
  struct { const char *text; const char *key; } bad[] = {
    { "[a]\nbackend = redis\n", "backend" },
    { "[a]\nredis-uri = redis://:hunter2@h:1/0\n", "redis-uri" },
    { "[a]\nredis-key = k\n", "redis-key" },
    { "[a]\nbackend = etcd\n", "backend" },
    { "[a]\nbackend = redis\nredis-uri = redis://h\nfallback = retry\n", "fallback" },
    { "[a]\nbackend = redis\nredis-uri = redis://h\nbackend-timeout = 0\n", "backend-timeout" },
    { "[a]\nbackend = redis\nredis-uri = redis://h\nlease-ttl = soon\n", "lease-ttl" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *where = g_strdup_printf ("key “%s”", bad[i].key);

      g_clear_error (&error);
      g_assert_false (pft_limiter_registry_load_from_data (registry, bad[i].text, -1, &error));
      g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, where));
      g_assert_null (strstr (error->message, "hunter2"));
    }

  /* An unreachable server: the load fails whole, naming the group and
   * the URI without its password. */
  g_clear_error (&error);
  g_assert_false (pft_limiter_registry_load_from_data (registry, down, -1, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "“shared”"));
  g_assert_nonnull (strstr (error->message, ":***@127.0.0.1"));
  g_assert_null (strstr (error->message, "hunter2"));
  g_assert_null (pft_limiter_registry_lookup (registry, "first", NULL));
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  server = pft_redis_server_start (NULL);

  g_test_add_func ("/redis-limiter/new/errors", test_new_errors);
  g_test_add_func ("/redis-limiter/new/properties", test_properties);
  g_test_add_func ("/redis-limiter/window/exact", test_window_exact);
  g_test_add_func ("/redis-limiter/smooth", test_smooth);
  g_test_add_func ("/redis-limiter/fifo", test_fifo);
  g_test_add_func ("/redis-limiter/cancel", test_cancel);
  g_test_add_func ("/redis-limiter/pause", test_pause);
  g_test_add_func ("/redis-limiter/resize", test_resize);
  g_test_add_func ("/redis-limiter/cost-settle", test_cost_settle);
  g_test_add_func ("/redis-limiter/blocking-threads", test_blocking_threads);
  g_test_add_func ("/redis-limiter/lease-ttl-live", test_lease_ttl_live);
  g_test_add_func ("/redis-limiter/throttled-node", test_throttled_node);
  g_test_add_func ("/redis-limiter/processes/one-quota", test_processes_one_quota);
  g_test_add_func ("/redis-limiter/processes/crash", test_processes_crash);
  g_test_add_func ("/redis-limiter/processes/restart", test_restart_mid_run);
  g_test_add_func ("/redis-limiter/down/fail", test_down_fail);
  g_test_add_func ("/redis-limiter/down/local", test_down_local);
  g_test_add_func ("/redis-limiter/stats/reading-age", test_stats_reading_age);
  g_test_add_func ("/redis-limiter/errors/wrong-type", test_wrong_type);
  g_test_add_func ("/redis-limiter/errors/script-flush", test_script_flush);
  g_test_add_func ("/redis-limiter/registry/stats", test_registry_stats);
  g_test_add_func ("/redis-limiter/registry/config", test_config);
  g_test_add_func ("/redis-limiter/registry/config-errors", test_config_errors);

  ret = g_test_run ();
  pft_redis_server_free (server);
  return ret;
}
