/* redis-fixture.h: a private redis-server for one test program
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gio/gio.h>
#include <hiredis/hiredis.h>

G_BEGIN_DECLS

/* A redis-server started on a free loopback port, with its data in a
 * temporary directory and nothing saved unless asked (SHUTDOWN SAVE on a
 * restart that keeps the data). Never a system service: CI starts it
 * here. When redis-server is not installed the test aborts with a
 * message saying which package to install: it is listed in
 * build-aux/debian-packages.txt, so a missing one is a broken machine,
 * not a reason to skip. */
typedef struct
{
  char        *dir;
  int          port;
  char        *password;   /* --requirepass, or NULL */
  GSubprocess *proc;
  char        *uri;        /* redis://[:password@]127.0.0.1:port/0 */
} PftRedisServer;

PftRedisServer *pft_redis_server_start       (const char     *password);
/* Stops it (SHUTDOWN SAVE when @keep_data, else NOSAVE) and starts it
 * again on the same port and directory. */
void            pft_redis_server_restart     (PftRedisServer *server,
                                              gboolean        keep_data);
/* Stops it for good (the port then refuses connections). */
void            pft_redis_server_shutdown    (PftRedisServer *server);
/* Starts it again after pft_redis_server_shutdown(). */
void            pft_redis_server_start_again (PftRedisServer *server);
void            pft_redis_server_free        (PftRedisServer *server);

/* A blocking client for the test's own checks (authenticated). */
redisContext   *pft_redis_server_connect     (PftRedisServer *server);
/* Runs a command on a fresh blocking client; aborts on a failure. */
redisReply     *pft_redis_server_command     (PftRedisServer *server,
                                              const char     *format,
                                              ...);
/* Redis TIME, microseconds. */
gint64          pft_redis_server_time        (PftRedisServer *server);

/* A loopback port that nothing listens on (just freed). */
int             pft_redis_free_port          (void);

/* The grant log of @key (see pft-redis-scripts-private.h): turns logging
 * on, and reads it back. */
void            pft_redis_log_enable         (PftRedisServer *server,
                                              const char     *key);
typedef struct
{
  char   kind;      /* 'g' grant, 'r' release, 'x' expired, 'p' pause */
  gint64 t_us;
  char  *id;
  gint64 value;     /* cost of a grant, end of a pause */
} PftRedisLogEntry;

GArray         *pft_redis_log_read           (PftRedisServer *server,
                                              const char     *key);
/* Most grants in any window [t, t + window) of the log. */
guint           pft_redis_log_max_in_window  (GArray         *log,
                                              gint64          window_us);
/* Highest number of leases held at once, replaying g/r/x in order. */
guint           pft_redis_log_max_in_flight  (GArray         *log);
guint           pft_redis_log_count          (GArray         *log,
                                              char            kind);
/* Fails the test when a request id was granted twice. */
void            pft_redis_log_assert_ids_unique (GArray      *log);
/* Grant times of the log, sorted. */
GArray         *pft_redis_log_grant_times    (GArray         *log);

/* A key no other test of this process (or another test program) uses. */
char           *pft_redis_unique_key         (const char     *name);
/* Lets the default main context (and the "pft-redis" thread) run for @us. */
void            pft_redis_spin_for           (gint64          us);

/* An async result waited for on the default main context:
 * `PftRedisWait w = { 0 }; x_async (..., pft_redis_wait_cb, &w);
 * x_finish (..., pft_redis_wait_for (&w), ...); g_object_unref (w.result);` */
typedef struct
{
  GAsyncResult *result;
} PftRedisWait;

void            pft_redis_wait_cb            (GObject        *source,
                                              GAsyncResult   *result,
                                              gpointer        data);
GAsyncResult   *pft_redis_wait_for           (PftRedisWait   *w);

/* Starts tests/redis-worker (a child sharing @key on @server) with
 * @extra arguments; its stdout is a pipe. */
GSubprocess    *pft_redis_worker_spawn       (PftRedisServer     *server,
                                              const char         *key,
                                              const char * const *extra);
/* Waits for a worker that must succeed; returns its "granted" count. */
guint64         pft_redis_worker_wait        (GSubprocess    *proc);

G_END_DECLS
