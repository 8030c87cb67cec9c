/* pft-redis-backend.c: a limiter's admission through Redis
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-error.h"
#include "pft-rate-window-private.h"
#include "pft-redis-backend-private.h"
#include "pft-redis-connection-private.h"

/* A reading of the shared counts older than this is refreshed in the
 * background when the limiter's stats are read. */
#define PFT_REDIS_BACKEND_STATS_AGE_US (100 * 1000)
/* While deciding locally, how often Redis is asked whether it is back. */
#define PFT_REDIS_BACKEND_PROBE_MS 500

/* An admission this process holds: its Redis lease, or none when it was
 * admitted locally (fallback), then its entry in the local window. */
typedef struct
{
  guint64  id;            /* the key of the table: the limiter's entry */
  char    *lease;         /* (nullable) */
  guint64  local_entry;
} PftRedisHeld;

struct _PftRedisBackend
{
  PftAdmission        parent;
  gatomicrefcount     ref;
  PftRedisAdmission  *adm;
  PftRedisLimits      redis_limits;   /* what the next configure keeps */

  GMutex              lock;
  /* Everything below is protected by @lock, taken after the limiter's. */
  PftAdmission       *local;          /* a PftRateWindow: the fallback's limits */
  GHashTable         *held;           /* &id -> PftRedisHeld */
  guint64             next_id;
  PftLimiterFallback  fallback;
  gboolean            is_local;       /* deciding locally until Redis answers */
  GSource            *probe;          /* (nullable): while is_local */
  PftRedisStats       reading;
  /* Monotonic time at which @reading was asked for (0: none): its age
   * counts from the question, since the answer may come much later. */
  gint64              reading_at;
  gint64              reading_asked_at;   /* 0: no reading asked */
};

static void
pft_redis_held_free (gpointer data)
{
  PftRedisHeld *h = data;

  g_free (h->lease);
  g_free (h);
}

static PftRedisLimits
pft_redis_backend_limits (const PftRedisLimits     *base,
                          const PftAdmissionLimits *limits)
{
  PftRedisLimits r = *base;

  r.max_concurrent = limits->max_concurrent;
  r.max_per_window = limits->max_per_window;
  r.max_cost = limits->max_cost;
  r.window_us = limits->window_us;
  r.smooth = limits->mode == PFT_LIMITER_MODE_SMOOTH;
  r.burst = MAX (limits->burst, 1);
  return r;
}

/* Under @lock: a new entry of this process. */
static guint64
pft_redis_backend_hold_locked (PftRedisBackend *self,
                               char            *lease,
                               guint64          local_entry)
{
  PftRedisHeld *h = g_new0 (PftRedisHeld, 1);

  /* Never the pending bit, never PFT_ENTRY_NONE: Redis counts a request
   * from its grant, so start is never called. */
  h->id = ++self->next_id;
  h->lease = lease;
  h->local_entry = local_entry;
  g_hash_table_insert (self->held, &h->id, h);
  return h->id;
}

/* ------------------------------------------------------------------ */
/* The local fallback */

static void pft_redis_backend_on_probe_reply (const PftRedisStats *stats,
                                              const GError        *error,
                                              gpointer             data);

static gboolean
pft_redis_backend_on_probe (gpointer data)
{
  PftRedisBackend *self = data;

  _pft_redis_admission_query_stats (self->adm, pft_redis_backend_on_probe_reply,
                                    _pft_redis_backend_ref (self));
  return G_SOURCE_CONTINUE;
}

static void
pft_redis_backend_on_probe_reply (const PftRedisStats *stats,
                                  const GError        *error,
                                  gpointer             data)
{
  PftRedisBackend *self = data;
  gboolean back = FALSE;

  g_mutex_lock (&self->lock);
  if (stats != NULL && self->is_local)
    {
      self->is_local = FALSE;
      back = TRUE;
      if (self->probe != NULL)
        {
          g_source_destroy (self->probe);
          g_clear_pointer (&self->probe, g_source_unref);
        }
    }
  g_mutex_unlock (&self->lock);

  if (back)
    g_message ("Quota “%s”: Redis at %s answers again; admissions are shared again",
               _pft_redis_admission_get_key (self->adm), _pft_redis_admission_get_display (self->adm));
  _pft_redis_backend_unref (self);
}

/* Under @lock: from now on, decides locally (once per outage). Returns
 * whether this call started it. */
static gboolean
pft_redis_backend_go_local_locked (PftRedisBackend *self)
{
  if (self->is_local)
    return FALSE;
  self->is_local = TRUE;
  self->probe = g_timeout_source_new (PFT_REDIS_BACKEND_PROBE_MS);
  g_source_set_callback (self->probe, pft_redis_backend_on_probe, _pft_redis_backend_ref (self),
                         (GDestroyNotify) _pft_redis_backend_unref);
  g_source_attach (self->probe, _pft_redis_connection_get_context (NULL));
  return TRUE;
}

/* Under @lock: one decision on the local window. */
static PftAdmissionVerdict
pft_redis_backend_admit_local_locked (PftRedisBackend *self,
                                      guint64          cost,
                                      gint64           now_us,
                                      guint64         *entry,
                                      gint64          *ready_at_us)
{
  guint64 local_entry = PFT_ENTRY_NONE;
  PftAdmissionVerdict v;

  v = self->local->vtable->admit (self->local, cost, now_us, FALSE, NULL, &local_entry, ready_at_us);
  if (v == PFT_ADMISSION_GRANTED)
    *entry = pft_redis_backend_hold_locked (self, NULL, local_entry);
  return v;
}

/* ------------------------------------------------------------------ */
/* Asks */

typedef struct
{
  PftRedisBackend *self;
  PftAdmissionAsk *ask;
  guint64          cost;
} PftRedisBackendAsk;

static void
pft_redis_backend_on_ask_reply (char         *lease,
                                gint64        retry_after_us,
                                const GError *error,
                                gpointer      data)
{
  PftRedisBackendAsk *a = data;
  PftRedisBackend *self = a->self;
  PftAdmissionVerdict verdict = PFT_ADMISSION_REFUSED;
  guint64 entry = PFT_ENTRY_NONE;
  GError *failed = NULL;
  gboolean warn = FALSE;

  g_mutex_lock (&self->lock);
  if (lease != NULL)
    {
      verdict = PFT_ADMISSION_GRANTED;
      entry = pft_redis_backend_hold_locked (self, lease, PFT_ENTRY_NONE);
    }
  else if (error == NULL)
    verdict = PFT_ADMISSION_REFUSED;
  else if (g_error_matches (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE) &&
           self->fallback == PFT_LIMITER_FALLBACK_LOCAL)
    {
      gint64 now = g_get_monotonic_time (), ready = 0;

      warn = pft_redis_backend_go_local_locked (self);
      verdict = pft_redis_backend_admit_local_locked (self, a->cost, now, &entry, &ready);
      retry_after_us = CLAMP (ready - now, 1, PFT_REDIS_BACKEND_PROBE_MS * 1000);
    }
  else
    failed = g_error_copy (error);
  g_mutex_unlock (&self->lock);

  if (warn)
    g_warning ("%s; going on with this process's own limits until Redis answers again",
               error->message);
  /* Outside the lock: the limiter takes its own, then may call us. */
  _pft_admission_ask_answer (a->ask, verdict, entry, retry_after_us, failed);
  _pft_redis_backend_unref (self);
  g_free (a);
}

/* ------------------------------------------------------------------ */
/* The admission table */

#define PFT_REDIS_BACKEND(a) ((PftRedisBackend *) (a))

static void
pft_redis_backend_free (PftAdmission *admission)
{
  PftRedisBackend *self = PFT_REDIS_BACKEND (admission);
  GSource *probe;

  /* The probe holds a reference: the limiter going ends it. */
  g_mutex_lock (&self->lock);
  probe = g_steal_pointer (&self->probe);
  g_mutex_unlock (&self->lock);
  if (probe != NULL)
    {
      g_source_destroy (probe);
      g_source_unref (probe);
    }
  _pft_redis_backend_unref (self);
}

static void
pft_redis_backend_configure (PftAdmission             *admission,
                             const PftAdmissionLimits *limits,
                             gint64                    now_us)
{
  PftRedisBackend *self = PFT_REDIS_BACKEND (admission);
  PftRedisLimits r;

  g_mutex_lock (&self->lock);
  self->local->vtable->configure (self->local, limits, now_us);
  self->redis_limits = r = pft_redis_backend_limits (&self->redis_limits, limits);
  g_mutex_unlock (&self->lock);
  _pft_redis_admission_set_limits (self->adm, &r);
}

static PftAdmissionVerdict
pft_redis_backend_admit (PftAdmission    *admission,
                         guint64          cost,
                         gint64           now_us,
                         gboolean         pending,
                         PftAdmissionAsk *ask,
                         guint64         *entry,
                         gint64          *ready_at_us)
{
  PftRedisBackend *self = PFT_REDIS_BACKEND (admission);
  PftRedisBackendAsk *a;

  g_mutex_lock (&self->lock);
  if (self->is_local)
    {
      PftAdmissionVerdict v = pft_redis_backend_admit_local_locked (self, cost, now_us, entry, ready_at_us);

      g_mutex_unlock (&self->lock);
      /* Asked again at least as often as Redis is probed, so that a
       * waiter goes back to Redis soon after it answers. */
      if (v == PFT_ADMISSION_REFUSED)
        *ready_at_us = MIN (*ready_at_us, now_us + PFT_REDIS_BACKEND_PROBE_MS * 1000);
      return v;
    }
  g_mutex_unlock (&self->lock);

  if (ask == NULL)
    {
      /* A try: the answer would take a round trip. */
      *ready_at_us = now_us + 1;
      return PFT_ADMISSION_REFUSED;
    }

  a = g_new0 (PftRedisBackendAsk, 1);
  a->self = _pft_redis_backend_ref (self);
  a->ask = ask;
  a->cost = cost;
  _pft_redis_admission_ask (self->adm, cost, pft_redis_backend_on_ask_reply, a);
  return PFT_ADMISSION_ASKED;
}

static void
pft_redis_backend_release (PftAdmission *admission,
                           guint64       entry)
{
  PftRedisBackend *self = PFT_REDIS_BACKEND (admission);
  PftRedisHeld *h;

  g_mutex_lock (&self->lock);
  h = g_hash_table_lookup (self->held, &entry);
  if (h != NULL)
    {
      g_hash_table_steal (self->held, &entry);
      if (h->lease == NULL && h->local_entry != PFT_ENTRY_NONE && self->local->vtable->release != NULL)
        self->local->vtable->release (self->local, h->local_entry);
    }
  g_mutex_unlock (&self->lock);

  if (h == NULL)
    return;
  if (h->lease != NULL)
    _pft_redis_admission_release (self->adm, h->lease);
  pft_redis_held_free (h);
}

static gboolean
pft_redis_backend_settle (PftAdmission *admission,
                          guint64       entry,
                          guint64       old_cost,
                          guint64       new_cost,
                          gint64        now_us)
{
  PftRedisBackend *self = PFT_REDIS_BACKEND (admission);
  g_autofree char *lease = NULL;
  gboolean freed = FALSE;
  PftRedisHeld *h;

  g_mutex_lock (&self->lock);
  h = g_hash_table_lookup (self->held, &entry);
  if (h != NULL && h->lease == NULL)
    freed = self->local->vtable->settle (self->local, h->local_entry, old_cost, new_cost, now_us);
  else if (h != NULL)
    lease = g_strdup (h->lease);
  g_mutex_unlock (&self->lock);

  if (lease == NULL)
    return freed;
  /* Fire and forget: the script makes it absolute, so a resend is
   * harmless; the room it frees shows at the next ask. */
  _pft_redis_admission_settle (self->adm, lease, old_cost, new_cost, NULL, NULL);
  return new_cost < old_cost;
}

static guint64
pft_redis_backend_start (PftAdmission *admission,
                         guint64       entry,
                         gint64        now_us)
{
  /* Only called for pending entries, which this backend never makes. */
  return PFT_ENTRY_NONE;
}

static gboolean
pft_redis_backend_pause (PftAdmission *admission,
                         gint64        until_us)
{
  PftRedisBackend *self = PFT_REDIS_BACKEND (admission);
  gint64 now = g_get_monotonic_time ();
  gboolean extended;

  g_mutex_lock (&self->lock);
  extended = self->local->vtable->pause (self->local, until_us);
  g_mutex_unlock (&self->lock);
  /* Everyone sharing the key waits; this process knows at once. */
  if (until_us > now)
    _pft_redis_admission_pause (self->adm, (double) (until_us - now) / G_USEC_PER_SEC, NULL, NULL);
  return extended;
}

static gint64
pft_redis_backend_paused_until (PftAdmission *admission)
{
  PftRedisBackend *self = PFT_REDIS_BACKEND (admission);
  gint64 until;

  g_mutex_lock (&self->lock);
  until = self->local->vtable->paused_until (self->local);
  g_mutex_unlock (&self->lock);
  return until;
}

/* Keeps @stats, asked for at @asked_at, unless a reading asked later came
 * in first (readings may overtake each other). */
static void
pft_redis_backend_keep_reading_locked (PftRedisBackend     *self,
                                       const PftRedisStats *stats,
                                       gint64               asked_at)
{
  if (asked_at > self->reading_at)
    {
      self->reading = *stats;
      self->reading_at = asked_at;
    }
}

static void
pft_redis_backend_on_reading (const PftRedisStats *stats,
                              const GError        *error,
                              gpointer             data)
{
  PftRedisBackend *self = data;

  g_mutex_lock (&self->lock);
  if (stats != NULL)
    pft_redis_backend_keep_reading_locked (self, stats, self->reading_asked_at);
  self->reading_asked_at = 0;
  g_mutex_unlock (&self->lock);
  _pft_redis_backend_unref (self);
}

static void
pft_redis_backend_usage (PftAdmission *admission,
                         gint64        now_us,
                         guint        *count,
                         guint64      *cost)
{
  PftRedisBackend *self = PFT_REDIS_BACKEND (admission);
  gboolean refresh;
  gint64 now;

  g_mutex_lock (&self->lock);
  if (self->is_local)
    self->local->vtable->usage (self->local, now_us, count, cost);
  else
    {
      *count = self->reading.in_window;
      *cost = self->reading.cost_in_window;
    }
  now = g_get_monotonic_time ();
  refresh = self->reading_asked_at == 0 && now - self->reading_at > PFT_REDIS_BACKEND_STATS_AGE_US;
  if (refresh)
    self->reading_asked_at = now;
  g_mutex_unlock (&self->lock);

  if (refresh)
    _pft_redis_admission_query_stats (self->adm, pft_redis_backend_on_reading,
                                      _pft_redis_backend_ref (self));
}

static void
pft_redis_backend_reset (PftAdmission *admission)
{
  PftRedisBackend *self = PFT_REDIS_BACKEND (admission);

  /* The shared state is everyone's: only what this process keeps. */
  g_mutex_lock (&self->lock);
  self->local->vtable->reset (self->local);
  g_mutex_unlock (&self->lock);
}

static void
pft_redis_backend_add_stats (PftAdmission    *admission,
                             GVariantBuilder *builder)
{
  PftRedisBackend *self = PFT_REDIS_BACKEND (admission);
  PftRedisStats r;
  gint64 at;
  gboolean is_local;

  g_mutex_lock (&self->lock);
  r = self->reading;
  at = self->reading_at;
  is_local = self->is_local;
  g_mutex_unlock (&self->lock);

  g_variant_builder_add (builder, "{sv}", "backend", g_variant_new_string ("redis"));
  g_variant_builder_add (builder, "{sv}", "redis_key",
                         g_variant_new_string (_pft_redis_admission_get_key (self->adm)));
  g_variant_builder_add (builder, "{sv}", "fallback_active", g_variant_new_boolean (is_local));
  if (at == 0)
    return;
  g_variant_builder_add (builder, "{sv}", "shared_window_count", g_variant_new_uint32 (r.in_window));
  g_variant_builder_add (builder, "{sv}", "shared_window_cost", g_variant_new_uint64 (r.cost_in_window));
  g_variant_builder_add (builder, "{sv}", "shared_in_flight", g_variant_new_uint32 (r.in_flight));
  g_variant_builder_add (builder, "{sv}", "shared_paused_for",
                         g_variant_new_double (r.paused_until_us > r.now_us ?
                                               (double) (r.paused_until_us - r.now_us) / G_USEC_PER_SEC : 0));
  g_variant_builder_add (builder, "{sv}", "shared_reading_age",
                         g_variant_new_double ((double) (g_get_monotonic_time () - at) / G_USEC_PER_SEC));
}

static const PftAdmissionVTable pft_redis_backend_vtable = {
  pft_redis_backend_free,
  pft_redis_backend_configure,
  pft_redis_backend_admit,
  pft_redis_backend_release,
  pft_redis_backend_settle,
  pft_redis_backend_start,
  pft_redis_backend_pause,
  pft_redis_backend_paused_until,
  pft_redis_backend_usage,
  pft_redis_backend_reset,
  pft_redis_backend_add_stats,
};

/* ------------------------------------------------------------------ */
/* Life */

PftRedisBackend *
_pft_redis_backend_new (const char                *uri,
                        const char                *key,
                        const PftAdmissionLimits  *limits,
                        gint64                     backend_timeout_us,
                        gint64                     lease_ttl_us,
                        GError                   **error)
{
  PftRedisLimits base = PFT_REDIS_LIMITS_INIT;
  PftRedisAdmission *adm;
  PftRedisBackend *self;

  base.lease_ttl_us = lease_ttl_us;
  base = pft_redis_backend_limits (&base, limits);
  adm = _pft_redis_admission_new (uri, key, &base, backend_timeout_us, error);
  if (adm == NULL)
    return NULL;

  self = g_new0 (PftRedisBackend, 1);
  self->parent.vtable = &pft_redis_backend_vtable;
  g_atomic_ref_count_init (&self->ref);
  self->adm = adm;
  self->redis_limits = base;
  g_mutex_init (&self->lock);
  self->local = PFT_RATE_WINDOW_ADMISSION (_pft_rate_window_new (limits));
  self->held = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, pft_redis_held_free);
  return self;
}

PftRedisBackend *
_pft_redis_backend_ref (PftRedisBackend *self)
{
  g_atomic_ref_count_inc (&self->ref);
  return self;
}

void
_pft_redis_backend_unref (PftRedisBackend *self)
{
  g_autoptr(GList) leases = NULL;

  if (!g_atomic_ref_count_dec (&self->ref))
    return;
  /* Every holder released before the limiter went; anything left (a
   * grant nobody took) is given back rather than left to its TTL. */
  leases = g_hash_table_get_values (self->held);
  for (GList *l = leases; l != NULL; l = l->next)
    if (((PftRedisHeld *) l->data)->lease != NULL)
      _pft_redis_admission_release (self->adm, ((PftRedisHeld *) l->data)->lease);
  g_hash_table_unref (self->held);
  g_assert (self->probe == NULL);
  self->local->vtable->free (self->local);
  g_mutex_clear (&self->lock);
  _pft_redis_admission_unref (self->adm);
  g_free (self);
}

const char *
_pft_redis_backend_get_key (PftRedisBackend *self)
{
  return _pft_redis_admission_get_key (self->adm);
}

const char *
_pft_redis_backend_get_display (PftRedisBackend *self)
{
  return _pft_redis_admission_get_display (self->adm);
}

void
_pft_redis_backend_set_timeout (PftRedisBackend *self,
                                gint64           timeout_us)
{
  _pft_redis_admission_set_backend_timeout (self->adm, timeout_us);
}

void
_pft_redis_backend_set_lease_ttl (PftRedisBackend *self,
                                  gint64           lease_ttl_us)
{
  PftRedisLimits r;

  g_mutex_lock (&self->lock);
  self->redis_limits.lease_ttl_us = lease_ttl_us;
  r = self->redis_limits;
  g_mutex_unlock (&self->lock);
  _pft_redis_admission_set_limits (self->adm, &r);
}

void
_pft_redis_backend_set_fallback (PftRedisBackend   *self,
                                 PftLimiterFallback fallback)
{
  g_mutex_lock (&self->lock);
  self->fallback = fallback;
  g_mutex_unlock (&self->lock);
}

gboolean
_pft_redis_backend_is_local (PftRedisBackend *self)
{
  gboolean is_local;

  g_mutex_lock (&self->lock);
  is_local = self->is_local;
  g_mutex_unlock (&self->lock);
  return is_local;
}

gboolean
_pft_redis_backend_query_stats (PftRedisBackend *self,
                                GCancellable    *cancellable,
                                PftRedisStats   *stats,
                                GError         **error)
{
  gint64 asked_at = g_get_monotonic_time ();

  if (!_pft_redis_admission_read_stats (self->adm, cancellable, stats, error))
    return FALSE;
  g_mutex_lock (&self->lock);
  pft_redis_backend_keep_reading_locked (self, stats, asked_at);
  g_mutex_unlock (&self->lock);
  return TRUE;
}
