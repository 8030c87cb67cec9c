/* pft-redis-admission-private.h: one quota shared through Redis
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* PftRedisAdmission decides admissions against a quota kept in Redis, so
 * that every process (on any machine) using the same Redis key shares
 * one window, one cost budget, one concurrency limit and one pause.
 *
 * Proposed admission seam for issue 11 (what the limiter's local queue
 * asks of a backend that may be remote):
 *
 *  - try_admit (cost) -> granted (a lease id) | wait hint (microseconds)
 *    | error. Asynchronous: the answer takes a round trip; the tries and
 *    releases queued meanwhile by all waiters of the process go in one
 *    script, decided in their order (FIFO: once one is refused, the ones
 *    behind it wait too). The limiter
 *    asks for its head waiter only, and never has more than one try of
 *    its own in flight per waiter; when refused it sleeps the hint on
 *    its own timer and asks again (or earlier, when a local release or
 *    a live resize may have freed room). The hint is exact for the
 *    window and the pause (it comes from the server's clock), and a
 *    bounded poll for concurrency held by other processes.
 *  - A grant is counted from the server's time of the decision; there is
 *    no restamp (it would cost a second round trip per request).
 *  - release (lease): fire and forget; the lease stops being renewed at
 *    once. settle (lease, old_cost, new_cost): the request really cost
 *    new_cost (absolute, so a resend is harmless). pause (seconds): everyone sharing the key
 *    waits; the half-open probe after it is one request across all
 *    processes. stats: the global counts.
 *  - Leases of granted requests are renewed by the backend every third
 *    of their TTL while held, so a process killed with SIGKILL gives its
 *    slots back within the TTL.
 *  - Failure: a backend that cannot be reached, or does not answer
 *    within backend_timeout_us, fails the request with
 *    PFT_ERROR_BACKEND_UNAVAILABLE; the limiter then fails the waiter
 *    (or, with a fallback policy, decides locally and warns). A request
 *    whose reply was lost is sent again with the same id, so it is never
 *    counted or granted twice.
 *  - Threads: every function may be called from any thread; callbacks
 *    run in the thread-default main context of the caller, as GTask
 *    does. Nothing is called with a limiter lock held.
 *
 * The in-memory backend fits the same shape with answers that are
 * immediate (try_admit completes at once), which is why the seam is
 * callback-based rather than two different tables. */

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

/* One decision. Finish: TRUE and *@lease when granted; FALSE with
 * *@retry_after_us > 0 and no error when refused; FALSE and @error when
 * it failed. @cost above max_cost is PFT_ERROR_INVALID_ARGUMENT. */
void               _pft_redis_admission_try_admit_async  (PftRedisAdmission   *self,
                                                          guint64              cost,
                                                          GCancellable        *cancellable,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
gboolean           _pft_redis_admission_try_admit_finish (PftRedisAdmission   *self,
                                                          GAsyncResult        *result,
                                                          char               **lease,
                                                          gint64              *retry_after_us,
                                                          GError             **error);
/* One decision, for a caller that runs no main context of its own (the
 * limiter, which answers its waiters from any thread): @func runs on the
 * "pft-redis" thread, after this returns, with a @lease (transfer full)
 * when granted, @retry_after_us > 0 when refused, or @error. The caller
 * checks @cost against max_cost; a grant is the caller's to release. */
typedef void (*PftRedisAskFunc) (char         *lease,
                                 gint64        retry_after_us,
                                 const GError *error,
                                 gpointer      data);
void               _pft_redis_admission_ask              (PftRedisAdmission   *self,
                                                          guint64              cost,
                                                          PftRedisAskFunc      func,
                                                          gpointer             data);
/* Tries until granted (sleeping each hint), cancelled or failed. A grant
 * that arrives after cancellation is released. Returns the lease. */
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
/* The request of @lease was charged @old_cost and really cost @new_cost
 * (both absolute, so a resend is harmless). */
/* @callback may be NULL (settle and pause): fire and forget. */
void               _pft_redis_admission_settle_async     (PftRedisAdmission   *self,
                                                          const char          *lease,
                                                          guint64              old_cost,
                                                          guint64              new_cost,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
/* TRUE when the request is in the window (its cost is now @new_cost). */
gboolean           _pft_redis_admission_settle_finish    (PftRedisAdmission   *self,
                                                          GAsyncResult        *result,
                                                          GError             **error);
void               _pft_redis_admission_pause_async      (PftRedisAdmission   *self,
                                                          double               seconds,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
/* *@extended: whether this pause lasts longer than the one in force. */
gboolean           _pft_redis_admission_pause_finish     (PftRedisAdmission   *self,
                                                          GAsyncResult        *result,
                                                          gboolean            *extended,
                                                          GError             **error);
void               _pft_redis_admission_stats_async      (PftRedisAdmission   *self,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
gboolean           _pft_redis_admission_stats_finish     (PftRedisAdmission   *self,
                                                          GAsyncResult        *result,
                                                          PftRedisStats       *stats,
                                                          GError             **error);
/* The same reading, answered on the "pft-redis" thread (see
 * _pft_redis_admission_ask()): @stats, or NULL and @error. */
typedef void (*PftRedisStatsFunc) (const PftRedisStats *stats,
                                   const GError        *error,
                                   gpointer             data);
void               _pft_redis_admission_query_stats      (PftRedisAdmission   *self,
                                                          PftRedisStatsFunc    func,
                                                          gpointer             data);
/* Leases this object holds and renews (granted, not released, not found
 * gone), and how many a renewal found gone (expired while this process
 * stalled, or lost with the server's data; each is reported once, with a
 * warning, and no longer renewed). */
guint              _pft_redis_admission_get_held         (PftRedisAdmission   *self);
guint              _pft_redis_admission_get_lost_leases  (PftRedisAdmission   *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PftRedisAdmission, _pft_redis_admission_unref)

G_END_DECLS
