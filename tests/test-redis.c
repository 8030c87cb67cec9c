/* test-redis.c: one quota shared through Redis (connection, scripts,
 * admission), against a real redis-server started by the fixture
 *
 * Limits are checked from the server-side grant log: each grant, release
 * and lease expiry is appended by the scripts themselves, stamped with
 * Redis TIME, so the observer is outside the clients' bookkeeping.
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include <pft.h>

#include "pft-redis-admission-private.h"
#include "pft-redis-connection-private.h"
#include "pft-redis-scripts-private.h"
#include "redis-scenarios.h"

#define MS 1000
#define SEC G_USEC_PER_SEC

static PftRedisServer *server;   /* shared by the tests; each uses its own key */

/* ------------------------------------------------------------------ */
/* Helpers */

static PftRedisAdmission *
admission_new (const char           *uri,
               const char           *key,
               const PftRedisLimits *limits)
{
  g_autoptr(GError) error = NULL;
  PftRedisAdmission *adm = _pft_redis_admission_new (uri, key, limits, 5 * SEC, &error);

  g_assert_no_error (error);
  g_assert_nonnull (adm);
  return adm;
}

/* An answer from the "pft-redis" thread, waited for on a condition. */
typedef struct
{
  GMutex   lock;
  GCond    cond;
  gboolean done;
  char    *lease;
  gint64   value;     /* retry-after, settle's or pause's number */
  GError  *error;
} Answer;

static void
answer_set (Answer       *a,
            char         *lease,
            gint64        value,
            const GError *error)
{
  g_mutex_lock (&a->lock);
  a->lease = lease;
  a->value = value;
  a->error = error != NULL ? g_error_copy (error) : NULL;
  a->done = TRUE;
  g_cond_signal (&a->cond);
  g_mutex_unlock (&a->lock);
}

static void
answer_ask_cb (char         *lease,
               gint64        retry_after_us,
               const GError *error,
               gpointer      data)
{
  answer_set (data, lease, retry_after_us, error);
}

static void
answer_done_cb (gint64        value,
                const GError *error,
                gpointer      data)
{
  answer_set (data, NULL, value, error);
}

static void
answer_init (Answer *a)
{
  memset (a, 0, sizeof *a);
  g_mutex_init (&a->lock);
  g_cond_init (&a->cond);
}

/* Waits; the error (if any) goes to @error, or fails the test. */
static void
answer_wait (Answer  *a,
             GError **error)
{
  g_mutex_lock (&a->lock);
  while (!a->done)
    g_cond_wait (&a->cond, &a->lock);
  g_mutex_unlock (&a->lock);
  g_mutex_clear (&a->lock);
  g_cond_clear (&a->cond);
  if (error != NULL && a->error != NULL)
    g_propagate_error (error, a->error);
  else
    g_assert_no_error (a->error);
}

/* One decision: the lease, or NULL and *retry_after_us. */
static char *
try_admit (PftRedisAdmission *adm,
           guint64            cost,
           gint64            *retry_after_us,
           GError           **error)
{
  Answer a;

  answer_init (&a);
  _pft_redis_admission_ask (adm, cost, answer_ask_cb, &a);
  answer_wait (&a, error);
  if (retry_after_us != NULL)
    *retry_after_us = a.lease != NULL ? 0 : a.value;
  return a.lease;
}

static char *
admit (PftRedisAdmission *adm,
       guint64            cost)
{
  g_autoptr(GError) error = NULL;
  PftRedisWait w = { 0 };
  char *lease;

  _pft_redis_admission_admit_async (adm, cost, NULL, pft_redis_wait_cb, &w);
  lease = _pft_redis_admission_admit_finish (adm, pft_redis_wait_for (&w), &error);
  g_object_unref (w.result);
  g_assert_no_error (error);
  return lease;
}

static PftRedisStats
stats (PftRedisAdmission *adm)
{
  g_autoptr(GError) error = NULL;
  PftRedisStats s = { 0 };

  /* Also a barrier: a reading is queued behind the releases asked
   * before it. */
  _pft_redis_admission_read_stats (adm, NULL, &s, &error);
  g_assert_no_error (error);
  return s;
}

static gboolean
pause_for (PftRedisAdmission *adm,
           double             seconds)
{
  Answer a;

  answer_init (&a);
  _pft_redis_admission_pause (adm, seconds, answer_done_cb, &a);
  answer_wait (&a, NULL);
  return a.value != 0;
}

static gboolean
settle (PftRedisAdmission *adm,
        const char        *lease,
        guint64            old_cost,
        guint64            new_cost)
{
  Answer a;

  answer_init (&a);
  _pft_redis_admission_settle (adm, lease, old_cost, new_cost, answer_done_cb, &a);
  answer_wait (&a, NULL);
  return a.value != 0;
}

/* Releases and waits until Redis has them. */
static void
release_all (PftRedisAdmission *adm,
             GPtrArray         *leases)
{
  for (guint i = 0; i < leases->len; i++)
    _pft_redis_admission_release (adm, g_ptr_array_index (leases, i));
  g_ptr_array_set_size (leases, 0);
  stats (adm);
}

/* ------------------------------------------------------------------ */
/* URIs and connecting */

static void
test_uri_parse (void)
{
  PftRedisUri u;
  g_autoptr(GError) error = NULL;
  const char *bad[] = {
    "http://127.0.0.1:6379",
    "redis://:hunter2@127.0.0.1:notaport/0",
    "redis://:hunter2@127.0.0.1:6379/zero",
    "redis://:hunter2@127.0.0.1:6379/0?timeout=1",
    "redis://:hunter2@:6379/0",
    "not a uri :hunter2@",
    "rediss://:hunter2@127.0.0.1:6380/0",
  };

  g_assert_true (_pft_redis_uri_parse ("redis://localhost", &u, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (u.host, ==, "localhost");
  g_assert_cmpint (u.port, ==, 6379);
  g_assert_cmpint (u.db, ==, 0);
  g_assert_null (u.password);
  g_assert_cmpstr (u.display, ==, "redis://localhost:6379/0");
  _pft_redis_uri_clear (&u);

  g_assert_true (_pft_redis_uri_parse ("redis://:hunter2@10.0.0.1:6380/3", &u, &error));
  g_assert_cmpstr (u.host, ==, "10.0.0.1");
  g_assert_cmpint (u.port, ==, 6380);
  g_assert_cmpint (u.db, ==, 3);
  g_assert_null (u.user);
  g_assert_cmpstr (u.password, ==, "hunter2");
  g_assert_cmpstr (u.display, ==, "redis://:***@10.0.0.1:6380/3");
  _pft_redis_uri_clear (&u);

  g_assert_true (_pft_redis_uri_parse ("redis://app:p%40ss@h:1/", &u, &error));
  g_assert_cmpstr (u.user, ==, "app");
  g_assert_cmpstr (u.password, ==, "p@ss");
  g_assert_cmpstr (u.display, ==, "redis://app:***@h:1/0");
  _pft_redis_uri_clear (&u);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_clear_error (&error);
      g_assert_false (_pft_redis_uri_parse (bad[i], &u, &error));
      g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
      g_test_message ("%s -> %s", bad[i], error->message);
      /* The password never leaves, whatever is wrong. */
      g_assert_null (strstr (error->message, "hunter2"));
    }
  /* TLS: says why, with the hiredis version. */
  g_assert_nonnull (strstr (error->message, "TLS"));
  g_assert_nonnull (strstr (error->message, "0.14"));
}

static void
test_connect_unreachable (void)
{
  PftRedisLimits limits = PFT_REDIS_LIMITS_INIT;
  g_autoptr(GError) error = NULL;
  int port = pft_redis_free_port ();
  g_autofree char *uri = g_strdup_printf ("redis://:hunter2@127.0.0.1:%d/0", port);
  g_autofree char *shown = g_strdup_printf ("redis://:***@127.0.0.1:%d/0", port);
  PftRedisAdmission *adm;

  adm = _pft_redis_admission_new (uri, "k", &limits, SEC, &error);
  g_assert_null (adm);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, shown));
  g_assert_null (strstr (error->message, "hunter2"));

  g_clear_error (&error);
  adm = _pft_redis_admission_new (server->uri, "bad{key}", &limits, SEC, &error);
  g_assert_null (adm);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "bad{key}"));
}

static void
test_connect_wrong_password (void)
{
  PftRedisServer *secured = pft_redis_server_start ("s3cret");
  PftRedisLimits limits = PFT_REDIS_LIMITS_INIT;
  g_autoptr(GError) error = NULL;
  g_autofree char *wrong = g_strdup_printf ("redis://:hunter2@127.0.0.1:%d/0", secured->port);
  g_autofree char *none = g_strdup_printf ("redis://127.0.0.1:%d/0", secured->port);
  g_autofree char *bad_db = g_strdup_printf ("redis://:s3cret@127.0.0.1:%d/99", secured->port);
  PftRedisAdmission *adm;
  char *lease;

  adm = _pft_redis_admission_new (wrong, "k", &limits, SEC, &error);
  g_assert_null (adm);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "refused the password"));
  g_assert_nonnull (strstr (error->message, ":***@127.0.0.1"));
  g_assert_null (strstr (error->message, "hunter2"));

  g_clear_error (&error);
  adm = _pft_redis_admission_new (none, "k", &limits, SEC, &error);
  g_assert_null (adm);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "NOAUTH"));

  g_clear_error (&error);
  adm = _pft_redis_admission_new (bad_db, "k", &limits, SEC, &error);
  g_assert_null (adm);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "refused the database"));
  g_assert_null (strstr (error->message, "s3cret"));

  /* The right one: AUTH on the async connection too. */
  adm = admission_new (secured->uri, "k", &limits);
  lease = admit (adm, 1);
  g_assert_nonnull (lease);
  _pft_redis_admission_release (adm, lease);
  g_free (lease);
  stats (adm);
  _pft_redis_admission_unref (adm);
  pft_redis_server_free (secured);
}

/* ------------------------------------------------------------------ */
/* Window, cost, GCRA */

static void
test_window_exact (void)
{
  pft_redis_scenario_window (server, FALSE);
}

static void
test_window_retry_hint (void)
{
  g_autofree char *key = pft_redis_unique_key ("hint");
  PftRedisLimits limits = PFT_REDIS_LIMITS_INIT;
  g_autoptr(PftRedisAdmission) adm = NULL;
  g_autoptr(GPtrArray) leases = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  gint64 retry = 0;
  char *lease;

  limits.max_per_window = 3;
  limits.window_us = 300 * MS;
  adm = admission_new (server->uri, key, &limits);
  for (guint i = 0; i < 3; i++)
    {
      lease = try_admit (adm, 1, &retry, &error);
      g_assert_no_error (error);
      g_assert_nonnull (lease);
      g_ptr_array_add (leases, lease);
    }
  lease = try_admit (adm, 1, &retry, &error);
  g_assert_no_error (error);
  g_assert_null (lease);
  /* The first grant leaves the window in at most 300 ms. */
  g_assert_cmpint (retry, >, 0);
  g_assert_cmpint (retry, <=, 300 * MS);
  g_assert_cmpuint (stats (adm).in_window, ==, 3);

  /* Trying again after the hint (server time has moved at least as
   * much) is granted. */
  g_usleep ((gulong) retry);
  lease = try_admit (adm, 1, &retry, &error);
  g_assert_no_error (error);
  g_assert_nonnull (lease);
  g_ptr_array_add (leases, lease);
  release_all (adm, leases);
}

static void
test_cost_settle (void)
{
  g_autofree char *key = pft_redis_unique_key ("cost");
  PftRedisLimits limits = PFT_REDIS_LIMITS_INIT;
  g_autoptr(PftRedisAdmission) adm = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *c = NULL;
  gint64 retry;

  limits.max_cost = 100;
  limits.window_us = 10 * SEC;
  adm = admission_new (server->uri, key, &limits);

  a = try_admit (adm, 60, &retry, &error);
  g_assert_nonnull (a);
  b = try_admit (adm, 50, &retry, &error);
  g_assert_null (b);
  g_assert_no_error (error);
  /* 60 leaves with its window: up to 10 s. */
  g_assert_cmpint (retry, >, 9 * SEC);
  g_assert_cmpint (retry, <=, 10 * SEC);

  /* The request cost 10, not 60: room for 50 now. */
  g_assert_true (settle (adm, a, 60, 10));
  g_assert_true (settle (adm, a, 60, 10));   /* absolute: sent twice, counted once */
  g_assert_cmpuint (stats (adm).cost_in_window, ==, 10);
  b = try_admit (adm, 50, &retry, &error);
  g_assert_nonnull (b);
  g_assert_cmpuint (stats (adm).cost_in_window, ==, 60);

  /* Above the budget: never admissible. */
  {
    PftRedisWait w = { 0 };

    _pft_redis_admission_admit_async (adm, 101, NULL, pft_redis_wait_cb, &w);
    c = _pft_redis_admission_admit_finish (adm, pft_redis_wait_for (&w), &error);
    g_object_unref (w.result);
  }
  g_assert_null (c);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, key));

  /* Settling something that left the window changes nothing. */
  g_assert_false (settle (adm, "no-such-request", 1, 5));

  _pft_redis_admission_release (adm, a);
  _pft_redis_admission_release (adm, b);
  stats (adm);
}

static void
test_smooth_gcra (void)
{
  pft_redis_scenario_smooth (server, FALSE);
}

/* ------------------------------------------------------------------ */
/* Pause and the half-open probe, across connections */

static void
test_pause_half_open (void)
{
  g_autofree char *key = pft_redis_unique_key ("pause");
  /* Another spelling of the same server: another connection, as another
   * process would have. */
  g_autofree char *other_uri = g_strdup_printf ("redis://127.0.0.1:%d", server->port);
  PftRedisLimits limits = PFT_REDIS_LIMITS_INIT;
  g_autoptr(PftRedisAdmission) a = NULL;
  g_autoptr(PftRedisAdmission) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *probe = NULL;
  g_autofree char *probe2 = NULL;
  g_autofree char *after = NULL;
  char *none;
  gint64 retry;
  PftRedisStats s;

  limits.max_per_window = 100;
  a = admission_new (server->uri, key, &limits);
  b = admission_new (other_uri, key, &limits);

  g_assert_true (pause_for (a, 0.3));
  g_assert_false (pause_for (b, 0.1));   /* shorter: does not shorten it */
  s = stats (b);
  g_assert_cmpint (s.paused_until_us, >, s.now_us);
  g_assert_true (s.half_open);

  none = try_admit (b, 1, &retry, &error);
  g_assert_no_error (error);
  g_assert_null (none);
  g_assert_cmpint (retry, >, 0);
  g_assert_cmpint (retry, <=, 300 * MS);

  /* After the pause: one request (the probe) across both, then the
   * others wait for its verdict. */
  g_usleep ((gulong) retry);
  probe = try_admit (b, 1, &retry, &error);
  g_assert_nonnull (probe);
  none = try_admit (a, 1, &retry, &error);
  g_assert_no_error (error);
  g_assert_null (none);
  g_assert_cmpint (retry, <=, limits.poll_us);

  /* A 429 while the probe is out: its release does not close. */
  g_assert_true (pause_for (a, 0.1));
  _pft_redis_admission_release (b, probe);
  stats (b);
  none = try_admit (a, 1, &retry, &error);
  g_assert_null (none);
  g_usleep ((gulong) retry);
  probe2 = try_admit (a, 1, &retry, &error);
  g_assert_nonnull (probe2);
  none = try_admit (b, 1, &retry, &error);
  g_assert_null (none);

  /* The new probe comes back fine: closed for everyone. */
  _pft_redis_admission_release (a, probe2);
  stats (a);
  g_assert_false (stats (b).half_open);
  after = try_admit (b, 1, &retry, &error);
  g_assert_nonnull (after);
  _pft_redis_admission_release (b, after);
  stats (b);
}

/* ------------------------------------------------------------------ */
/* Concurrency leases */

static void
test_leases_renewed (void)
{
  g_autofree char *key = pft_redis_unique_key ("lease");
  PftRedisLimits limits = PFT_REDIS_LIMITS_INIT;
  g_autoptr(PftRedisAdmission) adm = NULL;
  g_autoptr(GPtrArray) leases = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  gint64 retry;
  char *lease;

  limits.max_concurrent = 2;
  limits.lease_ttl_us = 500 * MS;
  adm = admission_new (server->uri, key, &limits);
  g_ptr_array_add (leases, admit (adm, 1));
  g_ptr_array_add (leases, admit (adm, 1));
  lease = try_admit (adm, 1, &retry, &error);
  g_assert_null (lease);
  g_assert_cmpint (retry, <=, limits.poll_us);
  g_assert_cmpuint (_pft_redis_admission_get_held (adm), ==, 2);

  /* Three TTLs later both are still held: renewed, not expired. */
  pft_redis_spin_for (1500 * MS);
  g_assert_cmpuint (stats (adm).in_flight, ==, 2);
  g_assert_cmpuint (_pft_redis_admission_get_lost_leases (adm), ==, 0);
  lease = try_admit (adm, 1, &retry, &error);
  g_assert_null (lease);

  /* A release frees the slot at once. */
  _pft_redis_admission_release (adm, g_ptr_array_index (leases, 0));
  g_ptr_array_remove_index (leases, 0);
  lease = try_admit (adm, 1, &retry, &error);
  g_assert_nonnull (lease);
  g_ptr_array_add (leases, lease);
  release_all (adm, leases);
  g_assert_cmpuint (stats (adm).in_flight, ==, 0);
  g_assert_cmpuint (_pft_redis_admission_get_held (adm), ==, 0);
}

/* ------------------------------------------------------------------ */
/* Sharing and batching */

static void
test_connection_shared (void)
{
  g_autoptr(GError) error = NULL;
  PftRedisConnection *a, *b, *c;

  a = _pft_redis_connection_get (server->uri, "one", SEC, &error);
  g_assert_no_error (error);
  b = _pft_redis_connection_get (server->uri, "one", SEC, &error);
  c = _pft_redis_connection_get (server->uri, "two", SEC, &error);
  g_assert_no_error (error);
  /* One per process and key. */
  g_assert_true (a == b);
  g_assert_true (a != c);
  _pft_redis_connection_unref (a);
  _pft_redis_connection_unref (b);
  _pft_redis_connection_unref (c);
}

static gint64
evalsha_calls (void)
{
  redisReply *r = pft_redis_server_command (server, "INFO commandstats");
  const char *at;
  gint64 calls = 0;

  g_assert_cmpint (r->type, ==, REDIS_REPLY_STRING);
  at = strstr (r->str, "cmdstat_evalsha:calls=");
  if (at != NULL)
    calls = g_ascii_strtoll (at + strlen ("cmdstat_evalsha:calls="), NULL, 10);
  freeReplyObject (r);
  return calls;
}

typedef struct
{
  GMutex             lock;
  GCond              cond;
  guint              done;
  guint              granted;
  GPtrArray         *leases;
} Many;

/* On the "pft-redis" thread. */
static void
many_cb (char         *lease,
         gint64        retry_after_us,
         const GError *error,
         gpointer      data)
{
  Many *m = data;

  g_assert_no_error (error);
  g_mutex_lock (&m->lock);
  if (lease != NULL)
    {
      m->granted++;
      g_ptr_array_add (m->leases, lease);
    }
  m->done++;
  g_cond_signal (&m->cond);
  g_mutex_unlock (&m->lock);
}

/* Holds the "pft-redis" thread still, so that a test can queue work that
 * it then finds all at once. */
typedef struct
{
  GMutex   lock;
  GCond    cond;
  gboolean entered;
  gboolean open;
} Gate;

static gboolean
gate_block (gpointer data)
{
  Gate *g = data;

  g_mutex_lock (&g->lock);
  g->entered = TRUE;
  g_cond_broadcast (&g->cond);
  while (!g->open)
    g_cond_wait (&g->cond, &g->lock);
  g_mutex_unlock (&g->lock);
  return G_SOURCE_REMOVE;
}

static void
gate_close (Gate *g)
{
  g_mutex_init (&g->lock);
  g_cond_init (&g->cond);
  g_main_context_invoke_full (_pft_redis_connection_get_context (NULL), G_PRIORITY_HIGH,
                              gate_block, g, NULL);
  g_mutex_lock (&g->lock);
  while (!g->entered)
    g_cond_wait (&g->cond, &g->lock);
  g_mutex_unlock (&g->lock);
}

static void
gate_open (Gate *g)
{
  g_mutex_lock (&g->lock);
  g->open = TRUE;
  g_cond_broadcast (&g->cond);
  g_mutex_unlock (&g->lock);
}

/* One PING through @conn, waited for on this thread: the reply comes on
 * the "pft-redis" thread. */
typedef struct
{
  GMutex   lock;
  GCond    cond;
  gboolean done;
  GError  *error;
} Ping;

static void
ping_cb (PftRedisConnection *conn,
         redisReply         *reply,
         const GError       *error,
         gpointer            data)
{
  Ping *p = data;

  g_mutex_lock (&p->lock);
  if (error != NULL)
    p->error = g_error_copy (error);
  else if (reply->type != REDIS_REPLY_STATUS || strcmp (reply->str, "PONG") != 0)
    p->error = g_error_new (PFT_ERROR, PFT_ERROR_FAILED, "PING: unexpected reply");
  p->done = TRUE;
  g_cond_signal (&p->cond);
  g_mutex_unlock (&p->lock);
}

static void
ping (PftRedisConnection *conn)
{
  const char *argv[] = { "PING" };
  Ping p = { 0 };

  g_mutex_init (&p.lock);
  g_cond_init (&p.cond);
  _pft_redis_connection_command (conn, 1, argv, NULL, ping_cb, &p);
  g_mutex_lock (&p.lock);
  while (!p.done)
    g_cond_wait (&p.cond, &p.lock);
  g_mutex_unlock (&p.lock);
  g_assert_no_error (p.error);
  g_mutex_clear (&p.lock);
  g_cond_clear (&p.cond);
}

static gboolean
barrier_cb (gpointer data)
{
  g_atomic_int_set ((gint *) data, TRUE);
  return G_SOURCE_REMOVE;
}

/* Returns once the "pft-redis" thread has run everything that was ready
 * (the barrier has the lowest priority of all its sources). */
static void
thread_barrier (void)
{
  gint done = FALSE;

  g_main_context_invoke_full (_pft_redis_connection_get_context (NULL), G_PRIORITY_LOW,
                              barrier_cb, &done, NULL);
  while (!g_atomic_int_get (&done))
    g_usleep (1000);
}

/* Once the last reference is gone, the connection closes: a reconnection
 * that comes due in between must not take it back. The retry timer
 * (G_PRIORITY_DEFAULT) runs before the close (an idle): it used to
 * connect again and hand references to the new SELECT command, which
 * the CI's ASan run saw as "g_atomic_ref_count_inc: assertion
 * 'old_value > 0' failed" on the "pft-redis" thread. */
static void
test_connection_close_while_reconnecting (void)
{
  PftRedisServer *own = pft_redis_server_start (NULL);
  /* Database 1: each connection sends SELECT, a command of its own. */
  g_autofree char *uri = g_strdup_printf ("redis://127.0.0.1:%d/1", own->port);
  g_autoptr(GError) error = NULL;
  PftRedisConnection *conn;
  gint64 due;

  conn = _pft_redis_connection_get (uri, "closing", 5 * SEC, &error);
  g_assert_no_error (error);
  ping (conn);

  /* Down: the connection tries again and again, with a backoff. Held
   * still between two tries, with one due. */
  pft_redis_server_shutdown (own);
  for (;;)
    {
      Gate gate = { 0 };

      gate_close (&gate);
      due = _pft_redis_connection_get_retry_time (conn);
      if (due >= 0)
        {
          /* The last reference goes; the close queues behind the try. */
          _pft_redis_connection_unref (conn);
          while (g_get_monotonic_time () <= due)
            g_usleep (1000);
          gate_open (&gate);
          thread_barrier ();
          g_mutex_clear (&gate.lock);
          g_cond_clear (&gate.cond);
          break;
        }
      gate_open (&gate);
      thread_barrier ();
      g_mutex_clear (&gate.lock);
      g_cond_clear (&gate.cond);
    }

  /* Closed for good, not revived: the same URI and key make a new one,
   * which works (valgrind and ASan see the old one freed). */
  pft_redis_server_start_again (own);
  conn = _pft_redis_connection_get (uri, "closing", 5 * SEC, &error);
  g_assert_no_error (error);
  ping (conn);
  _pft_redis_connection_unref (conn);
  thread_barrier ();
  pft_redis_server_free (own);
}

typedef struct
{
  const char *uri;
  guint       rounds;
} Churn;

static gpointer
churn_thread (gpointer data)
{
  Churn *c = data;

  for (guint i = 0; i < c->rounds; i++)
    {
      g_autoptr(GError) error = NULL;
      PftRedisConnection *conn = _pft_redis_connection_get (c->uri, "churn", SEC, &error);

      g_assert_no_error (error);
      ping (conn);
      _pft_redis_connection_unref (conn);
    }
  return NULL;
}

/* Two threads get and drop the connection of one URI and key over and
 * over: the last unref of one races the lookup of the other, which must
 * get either the live connection or a new one, never the dying one. */
static void
test_connection_churn (void)
{
  Churn c = { server->uri, 150 };
  GThread *threads[2];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("churn", churn_thread, &c);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  thread_barrier ();
}


static void
test_admission_batched (void)
{
  g_autofree char *key = pft_redis_unique_key ("batch");
  PftRedisLimits limits = PFT_REDIS_LIMITS_INIT;
  g_autoptr(PftRedisAdmission) adm = NULL;
  g_autoptr(GPtrArray) leases = g_ptr_array_new_with_free_func (g_free);
  Many m = { 0 };
  gint64 before, scripts;

  limits.max_per_window = 150;
  limits.max_concurrent = 1000;
  adm = admission_new (server->uri, key, &limits);
  m.leases = leases;
  g_mutex_init (&m.lock);
  g_cond_init (&m.cond);

  /* 200 waiters ask at once: a few scripts, not 200 round trips; the
   * first 150 in FIFO order are granted, the others refused. */
  before = evalsha_calls ();
  {
    Gate gate = { 0 };

    gate_close (&gate);
    for (guint i = 0; i < 200; i++)
      _pft_redis_admission_ask (adm, 1, many_cb, &m);
    gate_open (&gate);
    g_mutex_lock (&m.lock);
    while (m.done < 200)
      g_cond_wait (&m.cond, &m.lock);
    g_mutex_unlock (&m.lock);
    g_mutex_clear (&gate.lock);
    g_cond_clear (&gate.cond);
  }
  scripts = evalsha_calls () - before;
  /* Batches of 128. */
  g_assert_cmpint (scripts, ==, 2);
  g_assert_cmpuint (m.granted, ==, 150);
  g_assert_cmpuint (_pft_redis_admission_get_held (adm), ==, 150);
  release_all (adm, leases);
  g_assert_cmpuint (stats (adm).in_flight, ==, 0);
}

static void
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
}

static void
test_admission_cancelled (void)
{
  g_autofree char *key = pft_redis_unique_key ("cancel");
  PftRedisLimits limits = PFT_REDIS_LIMITS_INIT;
  g_autoptr(PftRedisAdmission) adm = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL;
  PftRedisWait w = { 0 };
  char *lease;

  limits.max_concurrent = 1;
  adm = admission_new (server->uri, key, &limits);
  first = admit (adm, 1);

  /* Waits for the slot (polling), then is cancelled: no lease is left
   * behind, and the slot holder is untouched. */
  _pft_redis_admission_admit_async (adm, 1, cancellable, pft_redis_wait_cb, &w);
  g_timeout_add_once (50, cancel_later, cancellable);
  lease = _pft_redis_admission_admit_finish (adm, pft_redis_wait_for (&w), &error);
  g_object_unref (w.result);
  g_assert_null (lease);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (_pft_redis_admission_get_held (adm), ==, 1);
  g_assert_cmpuint (stats (adm).in_flight, ==, 1);

  _pft_redis_admission_release (adm, first);
  stats (adm);
  g_assert_cmpuint (stats (adm).in_flight, ==, 0);
}

/* ------------------------------------------------------------------ */
/* Many processes */

static void
test_processes_one_quota (void)
{
  pft_redis_scenario_one_quota (server, FALSE);
}

static void
test_processes_crash (void)
{
  pft_redis_scenario_crash (server, FALSE);
}

static void
test_restart_mid_run (void)
{
  pft_redis_scenario_restart (server, FALSE);
}

static gint64 script_exists (PftRedisScriptId id);

static void
test_restart_lost_data (void)
{
  g_autofree char *key = pft_redis_unique_key ("lostdata");
  PftRedisLimits limits = PFT_REDIS_LIMITS_INIT;
  g_autoptr(PftRedisAdmission) adm = NULL;
  g_autoptr(GPtrArray) leases = g_ptr_array_new_with_free_func (g_free);

  limits.max_concurrent = 4;
  limits.lease_ttl_us = 300 * MS;
  adm = admission_new (server->uri, key, &limits);
  g_ptr_array_add (leases, admit (adm, 1));
  g_ptr_array_add (leases, admit (adm, 1));

  /* The server comes back empty: the renewals find the leases gone and
   * say so; nothing crashes and new admissions work. */
  g_test_expect_message ("Pft", G_LOG_LEVEL_WARNING, "*2 leases expired in Redis while held*");
  pft_redis_server_restart (server, FALSE);
  while (_pft_redis_admission_get_lost_leases (adm) == 0)
    pft_redis_spin_for (10 * MS);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (_pft_redis_admission_get_lost_leases (adm), ==, 2);
  /* Reported once: no longer renewed, so no second warning. */
  g_assert_cmpuint (_pft_redis_admission_get_held (adm), ==, 0);
  pft_redis_spin_for (300 * MS);
  /* The reconnection loaded the scripts it had used before anything else:
   * ADMIT is there although none ran since the restart. */
  g_assert_cmpint (script_exists (PFT_REDIS_SCRIPT_ADMIT), ==, 1);
  g_ptr_array_add (leases, admit (adm, 1));
  release_all (adm, leases);
  g_assert_cmpuint (stats (adm).in_flight, ==, 0);
}

/* ------------------------------------------------------------------ */
/* Failures */

static void
test_backend_unavailable (void)
{
  g_autofree char *key = pft_redis_unique_key ("down");
  PftRedisLimits limits = PFT_REDIS_LIMITS_INIT;
  g_autoptr(PftRedisAdmission) adm = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *lease = NULL;
  PftRedisWait w = { 0 };
  char *got;

  limits.max_per_window = 1000;
  adm = _pft_redis_admission_new (server->uri, key, &limits, 300 * MS, &error);
  g_assert_no_error (error);
  lease = admit (adm, 1);
  _pft_redis_admission_release (adm, lease);
  stats (adm);

  pft_redis_server_shutdown (server);
  _pft_redis_admission_admit_async (adm, 1, NULL, pft_redis_wait_cb, &w);
  got = _pft_redis_admission_admit_finish (adm, pft_redis_wait_for (&w), &error);
  g_object_unref (w.result);
  g_assert_null (got);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, key));
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));

  /* Back: the connection comes back by itself. */
  pft_redis_server_start_again (server);
  g_clear_pointer (&lease, g_free);
  lease = admit (adm, 1);
  g_assert_nonnull (lease);
  _pft_redis_admission_release (adm, lease);
  stats (adm);
}

static void
test_wrong_type (void)
{
  g_autofree char *key = pft_redis_unique_key ("type");
  PftRedisLimits limits = PFT_REDIS_LIMITS_INIT;
  g_autoptr(PftRedisAdmission) adm = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *lease = NULL;
  gint64 retry;

  limits.max_per_window = 10;
  adm = admission_new (server->uri, key, &limits);
  freeReplyObject (pft_redis_server_command (server, "SET pft:{%s}:win oops", key));
  lease = try_admit (adm, 1, &retry, &error);
  g_assert_null (lease);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "WRONGTYPE"));
  g_assert_nonnull (strstr (error->message, key));

  /* Fixed by hand: works again on the same connection. */
  freeReplyObject (pft_redis_server_command (server, "DEL pft:{%s}:win", key));
  g_clear_error (&error);
  lease = try_admit (adm, 1, &retry, &error);
  g_assert_no_error (error);
  g_assert_nonnull (lease);
  _pft_redis_admission_release (adm, lease);
  stats (adm);
}

static gint64
script_exists (PftRedisScriptId id)
{
  redisReply *r = pft_redis_server_command (server, "SCRIPT EXISTS %s", _pft_redis_script_get_sha (id));
  gint64 v;

  g_assert_cmpint (r->type, ==, REDIS_REPLY_ARRAY);
  v = r->element[0]->integer;
  freeReplyObject (r);
  return v;
}

static void
test_script_flush (void)
{
  g_autofree char *key = pft_redis_unique_key ("flush");
  PftRedisLimits limits = PFT_REDIS_LIMITS_INIT;
  g_autoptr(PftRedisAdmission) adm = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;

  limits.max_per_window = 10;
  adm = admission_new (server->uri, key, &limits);
  a = admit (adm, 1);
  g_assert_cmpint (script_exists (PFT_REDIS_SCRIPT_ADMIT), ==, 1);
  freeReplyObject (pft_redis_server_command (server, "SCRIPT FLUSH"));
  g_assert_cmpint (script_exists (PFT_REDIS_SCRIPT_ADMIT), ==, 0);

  /* NOSCRIPT: loaded again on the same connection, and run. */
  b = admit (adm, 1);
  g_assert_nonnull (b);
  g_assert_cmpint (script_exists (PFT_REDIS_SCRIPT_ADMIT), ==, 1);
  g_assert_cmpuint (stats (adm).in_window, ==, 2);
  _pft_redis_admission_release (adm, a);
  _pft_redis_admission_release (adm, b);
  stats (adm);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);

  server = pft_redis_server_start (NULL);

  g_test_add_func ("/redis/uri/parse", test_uri_parse);
  g_test_add_func ("/redis/connect/unreachable", test_connect_unreachable);
  g_test_add_func ("/redis/connect/wrong-password", test_connect_wrong_password);
  g_test_add_func ("/redis/window/exact", test_window_exact);
  g_test_add_func ("/redis/window/retry-hint", test_window_retry_hint);
  g_test_add_func ("/redis/cost/settle", test_cost_settle);
  g_test_add_func ("/redis/smooth/gcra", test_smooth_gcra);
  g_test_add_func ("/redis/pause/half-open", test_pause_half_open);
  g_test_add_func ("/redis/leases/renewed", test_leases_renewed);
  g_test_add_func ("/redis/connection/shared", test_connection_shared);
  g_test_add_func ("/redis/connection/close-while-reconnecting",
                   test_connection_close_while_reconnecting);
  g_test_add_func ("/redis/connection/churn", test_connection_churn);
  g_test_add_func ("/redis/admission/batched", test_admission_batched);
  g_test_add_func ("/redis/admission/cancelled", test_admission_cancelled);
  g_test_add_func ("/redis/processes/one-quota", test_processes_one_quota);
  g_test_add_func ("/redis/processes/crash", test_processes_crash);
  g_test_add_func ("/redis/processes/restart", test_restart_mid_run);
  g_test_add_func ("/redis/processes/restart-empty", test_restart_lost_data);
  g_test_add_func ("/redis/errors/unavailable", test_backend_unavailable);
  g_test_add_func ("/redis/errors/wrong-type", test_wrong_type);
  g_test_add_func ("/redis/errors/script-flush", test_script_flush);

  ret = g_test_run ();
  pft_redis_server_free (server);
  return ret;
}
