/* pft-rate-limiter-redis.c: one quota shared by processes through Redis
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>

#include <glib/gi18n-lib.h>

#include "pft-enums.h"
#include "pft-error.h"
#include "pft-limits-private.h"
#include "pft-rate-limiter-private.h"
#include "pft-rate-limiter-redis.h"
#include "pft-rate-limiter-redis-private.h"
#include "pft-rate-limiter-stats.h"

#ifdef PFT_HAVE_REDIS
# include "pft-redis-backend-private.h"
#endif

#define PFT_REDIS_DEFAULT_TIMEOUT   5.0
#define PFT_REDIS_DEFAULT_LEASE_TTL 10.0
/* Long enough for one renewal (every third of it) to get through. */
#define PFT_REDIS_MIN_LEASE_TTL     0.05
#define PFT_REDIS_MIN_TIMEOUT       0.001

/* What a limiter knows about its shared backend, kept beside it (qdata)
 * so that the limiter's own code does not carry it. A memory limiter gets
 * one only when a setter is called. */
typedef struct
{
  GMutex              lock;
  double              backend_timeout;
  double              lease_ttl;
  PftLimiterFallback  fallback;
#ifdef PFT_HAVE_REDIS
  PftRedisBackend    *redis;    /* (owned) (nullable) */
#endif
  char               *uri;      /* as given (never shown: it may hold a password) */
} PftLimiterShared;

enum {
  PFT_SHARED_PROP_BACKEND = 1,
  PFT_SHARED_PROP_REDIS_KEY,
  PFT_SHARED_PROP_REDIS_URI,
  PFT_SHARED_PROP_BACKEND_TIMEOUT,
  PFT_SHARED_PROP_FALLBACK,
  PFT_SHARED_PROP_LEASE_TTL,
  PFT_SHARED_N_PROPS
};

static GParamSpec *pft_shared_props[PFT_SHARED_N_PROPS];
static guint pft_shared_first_prop;

static void
pft_limiter_shared_free (gpointer data)
{
  PftLimiterShared *s = data;

#ifdef PFT_HAVE_REDIS
  g_clear_pointer (&s->redis, _pft_redis_backend_unref);
#endif
  g_mutex_clear (&s->lock);
  g_free (s->uri);
  g_free (s);
}

static PftLimiterShared *
pft_limiter_shared_get (PftRateLimiter *self,
                        gboolean        create)
{
  static GQuark quark;
  PftLimiterShared *s;

  if (G_UNLIKELY (quark == 0))
    quark = g_quark_from_static_string ("pft-limiter-shared");
  s = g_object_get_qdata (G_OBJECT (self), quark);
  if (s != NULL || !create)
    return s;

  s = g_new0 (PftLimiterShared, 1);
  g_mutex_init (&s->lock);
  s->backend_timeout = PFT_REDIS_DEFAULT_TIMEOUT;
  s->lease_ttl = PFT_REDIS_DEFAULT_LEASE_TTL;
  s->fallback = PFT_LIMITER_FALLBACK_FAIL;
  /* Setters of one limiter from two threads at once are the caller's
   * race; the qdata itself is set once, before the limiter is shared, or
   * by a setter (documented as not thread-safe against itself). */
  if (!g_object_replace_qdata (G_OBJECT (self), quark, NULL, s, pft_limiter_shared_free, NULL))
    {
      pft_limiter_shared_free (s);
      s = g_object_get_qdata (G_OBJECT (self), quark);
    }
  return s;
}

/* ------------------------------------------------------------------ */
/* Properties, installed on PftRateLimiter by its class_init */

void
_pft_rate_limiter_redis_install_properties (GObjectClass *klass,
                                            guint         first_prop_id)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  /**
   * PftRateLimiter:backend:
   *
   * Where the limits are kept: `memory` (this process only, the default)
   * or `redis` (shared by every limiter with the same
   * [property@Pft.RateLimiter:redis-key] on the same server, see
   * [ctor@Pft.RateLimiter.new_redis]).
   *
   * Since: 0.1
   */
  pft_shared_props[PFT_SHARED_PROP_BACKEND] =
    g_param_spec_string ("backend", NULL, NULL, "memory", ro);

  /**
   * PftRateLimiter:redis-key:
   *
   * The Redis key naming the shared quota, or %NULL for a memory limiter.
   *
   * Since: 0.1
   */
  pft_shared_props[PFT_SHARED_PROP_REDIS_KEY] =
    g_param_spec_string ("redis-key", NULL, NULL, NULL, ro);

  /**
   * PftRateLimiter:redis-uri:
   *
   * The Redis server, as `redis://[user][:***@]host:port/db` (the
   * password, if any, replaced by `***`), or %NULL for a memory limiter.
   *
   * Since: 0.1
   */
  pft_shared_props[PFT_SHARED_PROP_REDIS_URI] =
    g_param_spec_string ("redis-uri", NULL, NULL, NULL, ro);

  /**
   * PftRateLimiter:backend-timeout:
   *
   * How long, in seconds, an admission waits for a shared backend that
   * does not answer (while it reconnects) before
   * [property@Pft.RateLimiter:fallback] applies. Limiters of one process
   * sharing a Redis key share one connection, and the value set last.
   * A memory limiter keeps it and ignores it.
   *
   * Since: 0.1
   */
  pft_shared_props[PFT_SHARED_PROP_BACKEND_TIMEOUT] =
    g_param_spec_double ("backend-timeout", NULL, NULL,
                         PFT_REDIS_MIN_TIMEOUT, 1e6, PFT_REDIS_DEFAULT_TIMEOUT, rw);

  /**
   * PftRateLimiter:fallback:
   *
   * What happens when the shared backend has not answered within
   * [property@Pft.RateLimiter:backend-timeout]: fail the acquisition, or
   * go on with the local limits. A memory limiter keeps it and ignores it.
   *
   * Since: 0.1
   */
  pft_shared_props[PFT_SHARED_PROP_FALLBACK] =
    g_param_spec_enum ("fallback", NULL, NULL, PFT_TYPE_LIMITER_FALLBACK,
                       PFT_LIMITER_FALLBACK_FAIL, rw);

  /**
   * PftRateLimiter:lease-ttl:
   *
   * With a shared backend, each request in flight holds a lease that this
   * process renews every third of this many seconds; a process that dies
   * (even by `kill -9`) gives its slots back within it. It must be longer
   * than the longest stall of the process. A memory limiter ignores it.
   *
   * Since: 0.1
   */
  pft_shared_props[PFT_SHARED_PROP_LEASE_TTL] =
    g_param_spec_double ("lease-ttl", NULL, NULL,
                         PFT_REDIS_MIN_LEASE_TTL, 1e6, PFT_REDIS_DEFAULT_LEASE_TTL, rw);

  pft_shared_first_prop = first_prop_id;
  for (guint i = 1; i < PFT_SHARED_N_PROPS; i++)
    g_object_class_install_property (klass, first_prop_id + i - 1, pft_shared_props[i]);
}

gboolean
_pft_rate_limiter_redis_get_property (GObject *object,
                                      guint    prop_id,
                                      GValue  *value)
{
  PftRateLimiter *self = PFT_RATE_LIMITER (object);

  switch (prop_id - pft_shared_first_prop + 1)
    {
    case PFT_SHARED_PROP_BACKEND:
      g_value_set_string (value, pft_rate_limiter_get_backend (self));
      return TRUE;
    case PFT_SHARED_PROP_REDIS_KEY:
      g_value_set_string (value, pft_rate_limiter_get_redis_key (self));
      return TRUE;
    case PFT_SHARED_PROP_REDIS_URI:
      g_value_set_string (value, pft_rate_limiter_get_redis_uri (self));
      return TRUE;
    case PFT_SHARED_PROP_BACKEND_TIMEOUT:
      g_value_set_double (value, pft_rate_limiter_get_backend_timeout (self));
      return TRUE;
    case PFT_SHARED_PROP_FALLBACK:
      g_value_set_enum (value, pft_rate_limiter_get_fallback (self));
      return TRUE;
    case PFT_SHARED_PROP_LEASE_TTL:
      g_value_set_double (value, pft_rate_limiter_get_lease_ttl (self));
      return TRUE;
    default:
      return FALSE;
    }
}

gboolean
_pft_rate_limiter_redis_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value)
{
  PftRateLimiter *self = PFT_RATE_LIMITER (object);

  switch (prop_id - pft_shared_first_prop + 1)
    {
    case PFT_SHARED_PROP_BACKEND_TIMEOUT:
      pft_rate_limiter_set_backend_timeout (self, g_value_get_double (value));
      return TRUE;
    case PFT_SHARED_PROP_FALLBACK:
      pft_rate_limiter_set_fallback (self, g_value_get_enum (value));
      return TRUE;
    case PFT_SHARED_PROP_LEASE_TTL:
      pft_rate_limiter_set_lease_ttl (self, g_value_get_double (value));
      return TRUE;
    default:
      return FALSE;
    }
}

/* ------------------------------------------------------------------ */
/* Construction */

/**
 * pft_rate_limiter_new_redis:
 * @uri: the Redis server: `redis://[[user]:password@]host[:port][/db]`
 *   (port 6379 and database 0 by default; percent-escapes allowed in the
 *   user and the password; no TLS: hiredis 0.14 has none)
 * @redis_key: the name of the shared quota: every limiter with this key
 *   on this server, in any process on any machine, shares its limits. Not
 *   empty, no `{` or `}`
 * @max_concurrent: how many requests may be in flight at once, across
 *   every process sharing the key, at least 1
 * @max_per_window: how many requests may start in any window, across every
 *   process, or 0 for no limit
 * @window: the window, in seconds, from 1e-6 to 1e9
 * @error: return location for a #GError
 *
 * Creates a limiter whose limits are kept in Redis, so that several
 * processes (or machines) using one provider's API key share one quota.
 * The limiter behaves as one made by [ctor@Pft.RateLimiter.new]: FIFO
 * waiters in this process, cancellation, async and blocking acquires,
 * cost and settle, pause, live resize, signals and stats. Every decision
 * is one Lua script run by Redis on its own clock; a request in flight
 * holds a lease renewed by this process (see
 * [property@Pft.RateLimiter:lease-ttl]).
 *
 * Differences from a memory limiter: a request counts in the window from
 * its grant at the server, not from when its permit reaches its holder;
 * [method@Pft.RateLimiter.try_acquire] admits nothing while Redis answers
 * (a decision takes a round trip); [method@Pft.RateLimiter.reset] forgets
 * only what this process keeps (the shared state is everyone's). Every
 * process sharing a key should give it the same limits: each decision
 * uses the limits of the process asking.
 *
 * The server is checked now: an unreachable server, a refused password or
 * database fail with %PFT_ERROR_BACKEND_UNAVAILABLE, a URI or key that
 * does not parse with %PFT_ERROR_INVALID_ARGUMENT; messages show the URI
 * with its password replaced by `***`. Later, see
 * [property@Pft.RateLimiter:backend-timeout] and
 * [property@Pft.RateLimiter:fallback]. Pft built without hiredis fails
 * with %PFT_ERROR_BACKEND_UNAVAILABLE.
 *
 * Returns: (transfer full): a new limiter, or %NULL with @error set
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_rate_limiter_new_redis (const char  *uri,
                            const char  *redis_key,
                            guint        max_concurrent,
                            guint        max_per_window,
                            double       window,
                            GError     **error)
{
  g_return_val_if_fail (uri != NULL, NULL);
  g_return_val_if_fail (redis_key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!_pft_limit_check_uint ("max-concurrent", max_concurrent, error) ||
      !_pft_limit_check_uint ("max-per-window", max_per_window, error) ||
      !_pft_limit_check_window (window, error))
    return NULL;

#ifdef PFT_HAVE_REDIS
  {
    g_autoptr(PftRateLimiter) self = pft_rate_limiter_new (max_concurrent, max_per_window, window);
    PftLimiterShared *s = pft_limiter_shared_get (self, TRUE);
    /* The rest of the limits: set_admission() configures it. */
    PftAdmissionLimits limits = { max_concurrent, max_per_window, 0,
                                  (gint64) ceil (window * G_USEC_PER_SEC),
                                  PFT_LIMITER_MODE_SLIDING_WINDOW, 1 };
    PftRedisBackend *backend;

    backend = _pft_redis_backend_new (uri, redis_key, &limits,
                                      (gint64) (s->backend_timeout * G_USEC_PER_SEC),
                                      (gint64) (s->lease_ttl * G_USEC_PER_SEC), error);
    if (backend == NULL)
      return NULL;
    s->redis = _pft_redis_backend_ref (backend);
    s->uri = g_strdup (uri);
    /* The limiter owns the other reference, dropped by the table's free. */
    _pft_rate_limiter_set_admission (self, PFT_REDIS_BACKEND_ADMISSION (backend));
    return g_steal_pointer (&self);
  }
#else
  g_set_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE,
               _("Redis limiter “%s”: Pft was built without Redis support (hiredis)"), redis_key);
  return NULL;
#endif
}

/* ------------------------------------------------------------------ */
/* Accessors */

/**
 * pft_rate_limiter_get_backend:
 * @self: a limiter
 *
 * Gets where the limits of @self are kept, see
 * [property@Pft.RateLimiter:backend].
 *
 * Returns: `memory` or `redis`
 *
 * Since: 0.1
 */
const char *
pft_rate_limiter_get_backend (PftRateLimiter *self)
{
  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);

#ifdef PFT_HAVE_REDIS
  {
    PftLimiterShared *s = pft_limiter_shared_get (self, FALSE);

    if (s != NULL && s->redis != NULL)
      return "redis";
  }
#endif
  return "memory";
}

/**
 * pft_rate_limiter_get_redis_key:
 * @self: a limiter
 *
 * Gets [property@Pft.RateLimiter:redis-key].
 *
 * Returns: (nullable): the shared quota's key, or %NULL for a memory
 *   limiter
 *
 * Since: 0.1
 */
const char *
pft_rate_limiter_get_redis_key (PftRateLimiter *self)
{
  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);

#ifdef PFT_HAVE_REDIS
  {
    PftLimiterShared *s = pft_limiter_shared_get (self, FALSE);

    if (s != NULL && s->redis != NULL)
      return _pft_redis_backend_get_key (s->redis);
  }
#endif
  return NULL;
}

/**
 * pft_rate_limiter_get_redis_uri:
 * @self: a limiter
 *
 * Gets [property@Pft.RateLimiter:redis-uri]: the server's URI with the
 * password, if any, replaced by `***`.
 *
 * Returns: (nullable): the URI, or %NULL for a memory limiter
 *
 * Since: 0.1
 */
const char *
pft_rate_limiter_get_redis_uri (PftRateLimiter *self)
{
  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);

#ifdef PFT_HAVE_REDIS
  {
    PftLimiterShared *s = pft_limiter_shared_get (self, FALSE);

    if (s != NULL && s->redis != NULL)
      return _pft_redis_backend_get_display (s->redis);
  }
#endif
  return NULL;
}

/**
 * pft_rate_limiter_get_backend_timeout:
 * @self: a limiter
 *
 * Gets [property@Pft.RateLimiter:backend-timeout].
 *
 * Returns: the timeout, in seconds
 *
 * Since: 0.1
 */
double
pft_rate_limiter_get_backend_timeout (PftRateLimiter *self)
{
  PftLimiterShared *s;
  double v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), PFT_REDIS_DEFAULT_TIMEOUT);

  s = pft_limiter_shared_get (self, FALSE);
  if (s == NULL)
    return PFT_REDIS_DEFAULT_TIMEOUT;
  g_mutex_lock (&s->lock);
  v = s->backend_timeout;
  g_mutex_unlock (&s->lock);
  return v;
}

/**
 * pft_rate_limiter_set_backend_timeout:
 * @self: a limiter
 * @seconds: how long an admission waits for an unreachable shared
 *   backend, in seconds, from 0.001 to 1e6
 *
 * Sets [property@Pft.RateLimiter:backend-timeout]; admissions asked from
 * now on use it.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_backend_timeout (PftRateLimiter *self,
                                      double          seconds)
{
  PftLimiterShared *s;
  gboolean changed;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  g_return_if_fail (seconds >= PFT_REDIS_MIN_TIMEOUT && seconds <= 1e6);

  s = pft_limiter_shared_get (self, TRUE);
  g_mutex_lock (&s->lock);
  changed = s->backend_timeout != seconds;
  s->backend_timeout = seconds;
#ifdef PFT_HAVE_REDIS
  if (s->redis != NULL)
    _pft_redis_backend_set_timeout (s->redis, (gint64) (seconds * G_USEC_PER_SEC));
#endif
  g_mutex_unlock (&s->lock);
  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), pft_shared_props[PFT_SHARED_PROP_BACKEND_TIMEOUT]);
}

/**
 * pft_rate_limiter_get_fallback:
 * @self: a limiter
 *
 * Gets [property@Pft.RateLimiter:fallback].
 *
 * Returns: the policy
 *
 * Since: 0.1
 */
PftLimiterFallback
pft_rate_limiter_get_fallback (PftRateLimiter *self)
{
  PftLimiterShared *s;
  PftLimiterFallback v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), PFT_LIMITER_FALLBACK_FAIL);

  s = pft_limiter_shared_get (self, FALSE);
  if (s == NULL)
    return PFT_LIMITER_FALLBACK_FAIL;
  g_mutex_lock (&s->lock);
  v = s->fallback;
  g_mutex_unlock (&s->lock);
  return v;
}

/**
 * pft_rate_limiter_set_fallback:
 * @self: a limiter
 * @fallback: the policy
 *
 * Sets [property@Pft.RateLimiter:fallback].
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_fallback (PftRateLimiter     *self,
                               PftLimiterFallback  fallback)
{
  PftLimiterShared *s;
  gboolean changed;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  g_return_if_fail (fallback == PFT_LIMITER_FALLBACK_FAIL || fallback == PFT_LIMITER_FALLBACK_LOCAL);

  s = pft_limiter_shared_get (self, TRUE);
  g_mutex_lock (&s->lock);
  changed = s->fallback != fallback;
  s->fallback = fallback;
#ifdef PFT_HAVE_REDIS
  if (s->redis != NULL)
    _pft_redis_backend_set_fallback (s->redis, fallback);
#endif
  g_mutex_unlock (&s->lock);
  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), pft_shared_props[PFT_SHARED_PROP_FALLBACK]);
}

/**
 * pft_rate_limiter_get_lease_ttl:
 * @self: a limiter
 *
 * Gets [property@Pft.RateLimiter:lease-ttl].
 *
 * Returns: the lease time-to-live, in seconds
 *
 * Since: 0.1
 */
double
pft_rate_limiter_get_lease_ttl (PftRateLimiter *self)
{
  PftLimiterShared *s;
  double v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), PFT_REDIS_DEFAULT_LEASE_TTL);

  s = pft_limiter_shared_get (self, FALSE);
  if (s == NULL)
    return PFT_REDIS_DEFAULT_LEASE_TTL;
  g_mutex_lock (&s->lock);
  v = s->lease_ttl;
  g_mutex_unlock (&s->lock);
  return v;
}

/**
 * pft_rate_limiter_set_lease_ttl:
 * @self: a limiter
 * @seconds: the lease time-to-live, from 0.05 to 1e6 seconds
 *
 * Sets [property@Pft.RateLimiter:lease-ttl]; leases granted and renewed
 * from now on use it.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_lease_ttl (PftRateLimiter *self,
                                double          seconds)
{
  PftLimiterShared *s;
  gboolean changed;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  g_return_if_fail (seconds >= PFT_REDIS_MIN_LEASE_TTL && seconds <= 1e6);

  s = pft_limiter_shared_get (self, TRUE);
  g_mutex_lock (&s->lock);
  changed = s->lease_ttl != seconds;
  s->lease_ttl = seconds;
#ifdef PFT_HAVE_REDIS
  if (s->redis != NULL)
    _pft_redis_backend_set_lease_ttl (s->redis, (gint64) (seconds * G_USEC_PER_SEC));
#endif
  g_mutex_unlock (&s->lock);
  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), pft_shared_props[PFT_SHARED_PROP_LEASE_TTL]);
}

/**
 * pft_rate_limiter_dup_shared_stats:
 * @self: a limiter
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Reads the counts of every process sharing the limits of @self, as a
 * dictionary (`a{sv}`):
 *
 * - `backend` (`s`): as [property@Pft.RateLimiter:backend]
 * - `window_count` (`u`) and `window_cost` (`t`): requests and cost in
 *   the current window, all processes
 * - `in_flight` (`u`): requests in flight (unexpired leases), all
 *   processes
 * - `paused_for` (`d`): seconds left in the shared pause, 0 when none
 *
 * For a Redis limiter this is a round trip to the server: it blocks for
 * up to [property@Pft.RateLimiter:backend-timeout] and fails with
 * %PFT_ERROR_BACKEND_UNAVAILABLE when Redis does not answer (a main loop
 * uses [method@Pft.RateLimiter.dup_shared_stats_async]). A memory
 * limiter answers its own counts at once. Keys may be added later.
 *
 * Returns: (transfer full): the counts, a non-floating `a{sv}`, or %NULL
 *   with @error set
 *
 * Since: 0.1
 */
GVariant *
pft_rate_limiter_dup_shared_stats (PftRateLimiter  *self,
                                   GCancellable    *cancellable,
                                   GError         **error)
{
  GVariantBuilder b;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
#ifdef PFT_HAVE_REDIS
  {
    PftLimiterShared *s = pft_limiter_shared_get (self, FALSE);

    if (s != NULL && s->redis != NULL)
      {
        PftRedisStats r;

        if (!_pft_redis_backend_query_stats (s->redis, cancellable, &r, error))
          {
            g_variant_builder_clear (&b);
            return NULL;
          }
        g_variant_builder_add (&b, "{sv}", "backend", g_variant_new_string ("redis"));
        g_variant_builder_add (&b, "{sv}", "window_count", g_variant_new_uint32 (r.in_window));
        g_variant_builder_add (&b, "{sv}", "window_cost", g_variant_new_uint64 (r.cost_in_window));
        g_variant_builder_add (&b, "{sv}", "in_flight", g_variant_new_uint32 (r.in_flight));
        g_variant_builder_add (&b, "{sv}", "paused_for",
                               g_variant_new_double (r.paused_until_us > r.now_us ?
                                                     (double) (r.paused_until_us - r.now_us) / G_USEC_PER_SEC : 0));
        return g_variant_ref_sink (g_variant_builder_end (&b));
      }
  }
#endif
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    {
      g_variant_builder_clear (&b);
      return NULL;
    }
  {
    g_autoptr(GVariant) local = pft_rate_limiter_dup_stats (self);
    const char *keys[] = { "window_count", "window_cost", "in_flight", "paused_for" };

    g_variant_builder_add (&b, "{sv}", "backend", g_variant_new_string ("memory"));
    for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
      {
        g_autoptr(GVariant) v = g_variant_lookup_value (local, keys[i], NULL);

        g_variant_builder_add (&b, "{sv}", keys[i], v);
      }
  }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

static void
pft_rate_limiter_redis_stats_thread (GTask        *task,
                                     gpointer      source,
                                     gpointer      task_data,
                                     GCancellable *cancellable)
{
  GError *error = NULL;
  GVariant *stats = pft_rate_limiter_dup_shared_stats (source, cancellable, &error);

  if (stats == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, stats, (GDestroyNotify) g_variant_unref);
}

/**
 * pft_rate_limiter_dup_shared_stats_async:
 * @self: a limiter
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the result, on the thread-default main context
 *   of the caller
 * @user_data: data for @callback
 *
 * Reads the counts of every process sharing the limits of @self, as
 * [method@Pft.RateLimiter.dup_shared_stats] does, without blocking the
 * caller (the round trip waits in a worker thread): for a main loop, GJS
 * in particular.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_dup_shared_stats_async (PftRateLimiter      *self,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pft_rate_limiter_dup_shared_stats_async);
  g_task_run_in_thread (task, pft_rate_limiter_redis_stats_thread);
}

/**
 * pft_rate_limiter_dup_shared_stats_finish:
 * @self: a limiter
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Pft.RateLimiter.dup_shared_stats_async].
 *
 * Returns: (transfer full): the counts, a non-floating `a{sv}` as
 *   [method@Pft.RateLimiter.dup_shared_stats] describes it, or %NULL with
 *   @error set
 *
 * Since: 0.1
 */
GVariant *
pft_rate_limiter_dup_shared_stats_finish (PftRateLimiter  *self,
                                          GAsyncResult    *result,
                                          GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pft_rate_limiter_dup_shared_stats_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
_pft_rate_limiter_redis_refresh_stats (PftRateLimiter *self)
{
#ifdef PFT_HAVE_REDIS
  PftLimiterShared *s = pft_limiter_shared_get (self, FALSE);
  g_autoptr(GError) error = NULL;
  PftRedisStats r;

  if (s != NULL && s->redis != NULL &&
      !_pft_redis_backend_query_stats (s->redis, NULL, &r, &error))
    g_debug ("%s", error->message);
#endif
}

gboolean
_pft_rate_limiter_redis_has_uri (PftRateLimiter *self,
                                 const char     *uri)
{
  PftLimiterShared *s = pft_limiter_shared_get (self, FALSE);

  return s != NULL && g_strcmp0 (s->uri, uri) == 0;
}
