/* pft-redis-admission-private.h: one quota shared through Redis
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* PftRedisAdmission decides admissions against a quota kept in Redis, so
 * that every process (on any machine) using the same Redis key shares
 * one window, one cost budget, one concurrency limit and one pause. The
 * limiter reaches it through pft-redis-backend.c, its implementation of
 * the admission seam (pft-admission-private.h).
 *
 *  - ask (cost) -> granted (a lease id) | wait hint (microseconds) |
 *    error, answered later. The asks and releases queued meanwhile by all
 *    waiters of the process go in one script, decided in their order
 *    (FIFO: once one is refused, the ones behind it wait too). The hint
 *    is exact for the window and the pause (from the server's clock), and
 *    a bounded poll for concurrency held by other processes.
 *  - A grant counts from the server's time of the decision; there is no
 *    restamp (it would cost a second round trip per request).
 *  - release (lease): fire and forget; the lease stops being renewed at
 *    once. settle (lease, old_cost, new_cost): absolute, so a resend is
 *    harmless. pause (seconds): everyone sharing the key waits; the
 *    half-open probe after it is one request across all processes.
 *  - Leases of granted requests are renewed every third of their TTL
 *    while held (pft-redis-leases.c).
 *  - Failure: a backend that cannot be reached, or does not answer within
 *    backend_timeout_us, fails the request with
 *    PFT_ERROR_BACKEND_UNAVAILABLE. A request whose reply was lost is sent
 *    again with the same id, so it is never counted or granted twice.
 *  - Threads: every function may be called from any thread. */

typedef struct _PftRedisAdmission PftRedisAdmission;

typedef struct
{
  guint    max_concurrent;   /* 0 = no limit */
  guint    max_per_window;   /* requests per window, 0 = none */
  guint64  max_cost;         /* cost per window, 0 = none */
  gint64   window_us;        /* > 0 */
  gboolean smooth;           /* GCRA pacing instead of the sliding window */
  guint    burst;            /* >= 1, smooth mode */
  gint64   lease_ttl_us;     /* > 0: how long a dead process keeps its slots */
  gint64   poll_us;          /* > 0: longest wait for a slot held elsewhere */
} PftRedisLimits;

#define PFT_REDIS_LIMITS_INIT { 0, 0, 0, G_USEC_PER_SEC, FALSE, 1, 10 * G_USEC_PER_SEC, 5000 }

typedef struct
{
  guint   in_window;        /* requests in the window, all processes */
  guint64 cost_in_window;
  guint   in_flight;        /* unexpired leases, all processes */
  gint64  paused_until_us;  /* Redis TIME, 0 = not paused */
  gint64  now_us;           /* Redis TIME of the reading */
  gboolean half_open;
} PftRedisStats;

/* Connects (synchronously: a wrong URI, host, password or database is an
 * error naming the URI, never the password) and returns the admission
 * for @key. @backend_timeout_us bounds how long a request waits for an
 * unreachable server. */
PftRedisAdmission *_pft_redis_admission_new           (const char           *uri,
                                                       const char           *key,
                                                       const PftRedisLimits *limits,
                                                       gint64                backend_timeout_us,
                                                       GError              **error);
PftRedisAdmission *_pft_redis_admission_ref           (PftRedisAdmission    *self);
void               _pft_redis_admission_unref         (PftRedisAdmission    *self);
const char        *_pft_redis_admission_get_key       (PftRedisAdmission    *self);
/* The URI with its password replaced by "***". */
const char        *_pft_redis_admission_get_display   (PftRedisAdmission    *self);
/* See _pft_redis_connection_set_timeout(). */
void               _pft_redis_admission_set_backend_timeout (PftRedisAdmission *self,
                                                             gint64             timeout_us);
/* Live resize: the next decision uses them. */
void               _pft_redis_admission_set_limits    (PftRedisAdmission    *self,
                                                       const PftRedisLimits *limits);

/* Answers run on the "pft-redis" thread, after the call returns: the
 * limiter answers its waiters from any thread and runs no main context
 * of its own; tests wait on a condition. */

/* One decision: @func gets a @lease (transfer full) when granted,
 * @retry_after_us > 0 when refused, or @error. The caller checks @cost
 * against max_cost; a grant is the caller's to release. */
typedef void (*PftRedisAskFunc) (char         *lease,
                                 gint64        retry_after_us,
                                 const GError *error,
                                 gpointer      data);
void               _pft_redis_admission_ask              (PftRedisAdmission   *self,
                                                          guint64              cost,
                                                          PftRedisAskFunc      func,
                                                          gpointer             data);
/* Tries until granted (sleeping each hint, or until a release of this
 * process frees a slot), cancelled or failed; @callback runs on the
 * caller's thread-default main context, as GTask does. A grant that
 * arrives after cancellation is released. @cost above max_cost is
 * PFT_ERROR_INVALID_ARGUMENT. Returns the lease. */
void               _pft_redis_admission_admit_async      (PftRedisAdmission   *self,
                                                          guint64              cost,
                                                          GCancellable        *cancellable,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
char              *_pft_redis_admission_admit_finish     (PftRedisAdmission   *self,
                                                          GAsyncResult        *result,
                                                          GError             **error);
void               _pft_redis_admission_release          (PftRedisAdmission   *self,
                                                          const char          *lease);
/* A settle's or a pause's answer; @func may be NULL (fire and forget). */
typedef void (*PftRedisDoneFunc) (gint64        value,
                                  const GError *error,
                                  gpointer      data);
/* The request of @lease was charged @old_cost and really cost @new_cost
 * (both absolute, so a resend is harmless). @value: 1 when the request is
 * in the window (its cost is now @new_cost), 0 when it has left it. */
void               _pft_redis_admission_settle           (PftRedisAdmission   *self,
                                                          const char          *lease,
                                                          guint64              old_cost,
                                                          guint64              new_cost,
                                                          PftRedisDoneFunc     func,
                                                          gpointer             data);
/* @value: 1 when this pause lasts longer than the one in force. */
void               _pft_redis_admission_pause            (PftRedisAdmission   *self,
                                                          double               seconds,
                                                          PftRedisDoneFunc     func,
                                                          gpointer             data);
/* The shared counts: @stats, or NULL and @error. Queued behind the asks
 * and releases of this process asked before: a reading after a release
 * sees it. */
typedef void (*PftRedisStatsFunc) (const PftRedisStats *stats,
                                   const GError        *error,
                                   gpointer             data);
void               _pft_redis_admission_query_stats      (PftRedisAdmission   *self,
                                                          PftRedisStatsFunc    func,
                                                          gpointer             data);
/* The same, waiting for it (at most the backend timeout) unless
 * @cancellable fires. */
gboolean           _pft_redis_admission_read_stats       (PftRedisAdmission   *self,
                                                          GCancellable        *cancellable,
                                                          PftRedisStats       *stats,
                                                          GError             **error);
/* Leases this object holds and renews (granted, not released, not found
 * gone), and how many a renewal found gone (expired while this process
 * stalled, or lost with the server's data; each is reported once, with a
 * warning, and no longer renewed). */
guint              _pft_redis_admission_get_held         (PftRedisAdmission   *self);
guint              _pft_redis_admission_get_lost_leases  (PftRedisAdmission   *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PftRedisAdmission, _pft_redis_admission_unref)

G_END_DECLS
