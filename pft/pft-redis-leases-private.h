/* pft-redis-leases-private.h: the leases a process holds, renewed
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft-redis-scripts-private.h"

G_BEGIN_DECLS

/* The concurrency slots a process holds in one shared quota, as leases in
 * Redis that expire unless renewed. While any is held, a timer on the
 * "pft-redis" thread renews them all every third of their TTL (two
 * renewals may be lost before a live holder loses one), so that a process
 * killed with SIGKILL gives its slots back within the TTL. A renewal that
 * finds a lease gone (the process stalled past the TTL, or the server lost
 * its data) reports it once, with a warning, and stops renewing it: the
 * slot may be someone else's by then.
 *
 * While it renews, the timer holds a reference to @owner (the admission),
 * so that the owner outlives the leases it handed out. */
typedef struct _PftRedisLeases PftRedisLeases;

PftRedisLeases *_pft_redis_leases_new        (PftRedisConnection *conn,
                                              const PftRedisKeys *keys,
                                              const char         *quota,
                                              gint64              ttl_us,
                                              gpointer            owner,
                                              gpointer          (*owner_ref) (gpointer),
                                              GDestroyNotify      owner_unref);
/* Not while renewing (the owner is alive then). */
void            _pft_redis_leases_free       (PftRedisLeases     *self);
/* Live: the next renewal uses it (and its timer follows). */
void            _pft_redis_leases_set_ttl    (PftRedisLeases     *self,
                                              gint64              ttl_us);
/* A grant in hand: on the "pft-redis" thread. */
void            _pft_redis_leases_hold       (PftRedisLeases     *self,
                                              const char         *id);
/* Released: no longer renewed. Any thread. */
void            _pft_redis_leases_drop       (PftRedisLeases     *self,
                                              const char         *id);
guint           _pft_redis_leases_count      (PftRedisLeases     *self);
guint           _pft_redis_leases_get_lost   (PftRedisLeases     *self);
gboolean        _pft_redis_leases_is_renewing (PftRedisLeases    *self);

G_END_DECLS
