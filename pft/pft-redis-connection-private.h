/* pft-redis-connection-private.h: one shared, pipelined Redis connection
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gio/gio.h>
#include <hiredis/hiredis.h>

#include "pft-redis-uri-private.h"

G_BEGIN_DECLS

/* A PftRedisConnection is one hiredis async connection, attached with
 * hiredis's adapters/glib.h to the GMainContext of one process-wide
 * thread, "pft-redis". Commands may be sent from any thread: they queue
 * under a mutex and the thread writes everything queued in one go, so
 * many pending commands share one round trip (pipelining). Replies come
 * back on the "pft-redis" thread, in the order the commands were sent.
 *
 * Failure policy. The connection is opened, authenticated (AUTH) and
 * switched to its database (SELECT) once synchronously by
 * _pft_redis_connection_get(), so a wrong URI, host or password is a
 * GError at once. Once running, a lost connection is reopened with an
 * exponential backoff (10 ms doubling to 1 s, with jitter); the commands
 * whose replies were lost are sent again, in order, once it is back, so
 * every command must be idempotent (the admission scripts are: each
 * request carries its own id). A command that got no reply within the
 * backend timeout after it was queued fails with
 * PFT_ERROR_BACKEND_UNAVAILABLE. A command that ran and failed (a script
 * error, WRONGTYPE) fails at once with PFT_ERROR_FAILED and the server's
 * message. Errors name the URI with its password replaced by "***".
 *
 * Sharing. _pft_redis_connection_get() returns the one connection of the
 * process for a (URI, key) pair, so that all limiters of one key share
 * it; the table holds no reference, the last unref closes it, even
 * while it is reconnecting (the retry timer holds none either, and finds
 * it closing rather than reviving it). */
typedef struct _PftRedisConnection PftRedisConnection;

/* Called on the "pft-redis" thread with the reply, or with @reply NULL and
 * @error set. @reply belongs to the connection: copy what you keep. */
typedef void (*PftRedisReplyFunc) (PftRedisConnection *conn,
                                   redisReply         *reply,
                                   const GError       *error,
                                   gpointer            user_data);

/* The shared connection for (@uri, @key): checks synchronously that the
 * server answers, accepts the password and the database, within
 * @timeout_us. @timeout_us is also the backend timeout of its commands
 * (the largest asked for, when several callers share it). */
PftRedisConnection *_pft_redis_connection_get          (const char         *uri,
                                                        const char         *key,
                                                        gint64              timeout_us,
                                                        GError            **error);
PftRedisConnection *_pft_redis_connection_ref          (PftRedisConnection *conn);
void                _pft_redis_connection_unref        (PftRedisConnection *conn);
const char         *_pft_redis_connection_get_display  (PftRedisConnection *conn);
/* A new backend timeout for the commands queued from now on (a live
 * change: the last one set wins for every user of @conn). */
void                _pft_redis_connection_set_timeout  (PftRedisConnection *conn,
                                                        gint64              timeout_us);
/* The context of the "pft-redis" thread: one for every connection, so
 * @conn may be NULL. */
GMainContext       *_pft_redis_connection_get_context  (PftRedisConnection *conn);

/* Queues one command (binary-safe arguments). Thread-safe. @func is
 * always called exactly once, on the "pft-redis" thread. */
void                _pft_redis_connection_command      (PftRedisConnection *conn,
                                                        guint               argc,
                                                        const char        **argv,
                                                        const gsize        *argv_len,
                                                        PftRedisReplyFunc   func,
                                                        gpointer            user_data);
/* Runs a script by EVALSHA @sha; when the server answers NOSCRIPT (a
 * SCRIPT FLUSH), loads @body with SCRIPT LOAD on the same connection and
 * runs the EVALSHA again. The connection remembers the scripts it ran and
 * loads them first thing on every reconnection. @sha and @body must live
 * as long as the process (static strings). @argv holds the keys count, the
 * keys and the arguments, as after "EVALSHA sha". */
void                _pft_redis_connection_evalsha      (PftRedisConnection *conn,
                                                        const char         *sha,
                                                        const char         *body,
                                                        guint               argc,
                                                        const char        **argv,
                                                        PftRedisReplyFunc   func,
                                                        gpointer            user_data);

/* Loads @body now (SCRIPT LOAD, queued like a command) and on every
 * reconnection, so that the first EVALSHA of each script does not come
 * back NOSCRIPT and run after the commands queued behind it. */
void                _pft_redis_connection_preload      (PftRedisConnection *conn,
                                                        const char         *sha,
                                                        const char         *body);

/* Testing: how many times the connection was (re)opened since it was
 * made, the synchronous check excluded. */
guint               _pft_redis_connection_get_connects (PftRedisConnection *conn);
/* Testing: the monotonic time (us) at which the next reconnection is due,
 * or -1 when none is scheduled. Only while the "pft-redis" thread is held
 * still (blocked in a source of its context): the field is the thread's. */
gint64              _pft_redis_connection_get_retry_time (PftRedisConnection *conn);

G_END_DECLS
