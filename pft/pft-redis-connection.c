/* pft-redis-connection.c: one shared, pipelined Redis connection
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/glib.h>

#include "pft-error.h"
#include "pft-redis-connection-private.h"

#define PFT_REDIS_BACKOFF_MIN_MS  10
#define PFT_REDIS_BACKOFF_MAX_MS  1000
/* How often deadlines are checked: the backend timeout is met to within
 * this much. */
#define PFT_REDIS_TICK_MS         20

typedef enum
{
  PFT_REDIS_CONN_DOWN,      /* waiting to reconnect */
  PFT_REDIS_CONN_UP,        /* a hiredis context exists (maybe connecting) */
} PftRedisConnState;

typedef struct
{
  PftRedisConnection *conn;       /* strong */
  char               *resp;       /* the formatted command (hiredis malloc) */
  gsize               resp_len;
  const char         *body;       /* script body for NOSCRIPT, or NULL */
  PftRedisReplyFunc   func;
  gpointer            user_data;
  gint64              deadline;   /* monotonic us */
  gboolean            reloaded;
} PftRedisCommand;

struct _PftRedisConnection
{
  gatomicrefcount     ref;
  char               *table_key;
  PftRedisUri         uri;

  GMutex              lock;
  GQueue              queue;          /* PftRedisCommand, not written yet */
  GHashTable         *scripts;        /* sha -> body (static), loaded on connect */
  gboolean            wake_pending;
  gint64              timeout_us;

  /* Only on the "pft-redis" thread. */
  redisAsyncContext  *ac;
  GSource            *source;         /* hiredis's GLib adapter */
  GQueue              sent;           /* handed to hiredis, oldest first */
  GQueue              lost;           /* to send again once reconnected */
  PftRedisConnState   state;
  guint               backoff_ms;
  GSource            *retry_source;
  GSource            *tick_source;
  GError             *handshake_error;
  gint                connects;
};

static GMutex      pft_redis_table_lock;
static GHashTable *pft_redis_table;       /* table_key -> connection (no ref) */

static void pft_redis_connection_connect (PftRedisConnection *conn);
static gboolean pft_redis_connection_try_ref (PftRedisConnection *conn);
static void pft_redis_connection_send    (PftRedisConnection *conn,
                                          PftRedisCommand    *cmd);

/* ------------------------------------------------------------------ */
/* The "pft-redis" thread */

static gpointer
pft_redis_thread_func (gpointer data)
{
  GMainContext *ctx = data;

  g_main_context_push_thread_default (ctx);
  for (;;)
    g_main_context_iteration (ctx, TRUE);
  return NULL;
}

GMainContext *
_pft_redis_connection_get_context (PftRedisConnection *conn)
{
  static GMainContext *ctx;

  if (g_once_init_enter (&ctx))
    {
      GMainContext *c = g_main_context_new ();

      g_thread_unref (g_thread_new ("pft-redis", pft_redis_thread_func, c));
      g_once_init_leave (&ctx, c);
    }
  return ctx;
}

static GSource *
pft_redis_connection_add_source (PftRedisConnection *conn,
                                 GSource            *source,
                                 GSourceFunc         func)
{
  g_source_set_callback (source, func, conn, NULL);
  g_source_attach (source, _pft_redis_connection_get_context (conn));
  return source;
}

/* ------------------------------------------------------------------ */
/* Commands */

static gint64
pft_redis_connection_timeout (PftRedisConnection *conn)
{
  gint64 t;

  g_mutex_lock (&conn->lock);
  t = conn->timeout_us;
  g_mutex_unlock (&conn->lock);
  return t;
}

void
_pft_redis_connection_set_timeout (PftRedisConnection *conn,
                                   gint64              timeout_us)
{
  g_return_if_fail (conn != NULL);
  g_return_if_fail (timeout_us > 0);

  g_mutex_lock (&conn->lock);
  conn->timeout_us = timeout_us;
  g_mutex_unlock (&conn->lock);
}

static void
pft_redis_command_free (PftRedisCommand *cmd)
{
  PftRedisConnection *conn = cmd->conn;

  redisFreeCommand (cmd->resp);
  g_free (cmd);
  _pft_redis_connection_unref (conn);
}

static void
pft_redis_command_finish (PftRedisCommand *cmd,
                          redisReply      *reply,
                          const GError    *error)
{
  cmd->func (cmd->conn, reply, error, cmd->user_data);
  pft_redis_command_free (cmd);
}

static void
pft_redis_command_fail_unavailable (PftRedisCommand *cmd,
                                    const char      *why)
{
  g_autoptr(GError) error = NULL;

  error = g_error_new (PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE,
                       "Redis at %s did not answer within %.3g s (%s)",
                       cmd->conn->uri.display,
                       (double) pft_redis_connection_timeout (cmd->conn) / G_USEC_PER_SEC,
                       why);
  pft_redis_command_finish (cmd, NULL, error);
}

static PftRedisCommand *
pft_redis_command_new (PftRedisConnection *conn,
                       char               *resp,
                       gsize               resp_len,
                       PftRedisReplyFunc   func,
                       gpointer            user_data)
{
  PftRedisCommand *cmd = g_new0 (PftRedisCommand, 1);

  cmd->conn = _pft_redis_connection_ref (conn);
  cmd->resp = resp;
  cmd->resp_len = resp_len;
  cmd->func = func;
  cmd->user_data = user_data;
  cmd->deadline = g_get_monotonic_time () + pft_redis_connection_timeout (conn);
  return cmd;
}

static gboolean
pft_redis_connection_is_transient (const char *message)
{
  /* A server that is starting, or a script running too long elsewhere:
   * the command did not run, send it again later. */
  return g_str_has_prefix (message, "LOADING") ||
         g_str_has_prefix (message, "BUSY") ||
         g_str_has_prefix (message, "TRYAGAIN") ||
         g_str_has_prefix (message, "MASTERDOWN");
}

static void
pft_redis_connection_schedule_reconnect (PftRedisConnection *conn);

static void
pft_redis_connection_on_handshake (PftRedisConnection *conn,
                                   redisReply         *reply,
                                   const GError       *error,
                                   gpointer            user_data);

static void
pft_redis_connection_on_script_loaded (PftRedisConnection *conn,
                                       redisReply         *reply,
                                       const GError       *error,
                                       gpointer            user_data)
{
  /* The EVALSHA sent right behind reports any failure. */
  if (error != NULL)
    g_debug ("SCRIPT LOAD on %s: %s", conn->uri.display, error->message);
}

static void
pft_redis_connection_on_reply (redisAsyncContext *ac,
                               void              *r,
                               void              *privdata)
{
  PftRedisCommand *cmd = privdata;
  PftRedisConnection *conn = cmd->conn;
  redisReply *reply = r;

  g_queue_remove (&conn->sent, cmd);

  if (reply == NULL)
    {
      /* The connection dropped before the reply: the command may or may
       * not have run. It goes again (they are idempotent), except a
       * handshake, which the next connection makes anew. */
      if (cmd->func == pft_redis_connection_on_handshake ||
          cmd->func == pft_redis_connection_on_script_loaded)
        pft_redis_command_free (cmd);
      else
        g_queue_push_tail (&conn->lost, cmd);
      return;
    }

  if (reply->type == REDIS_REPLY_ERROR)
    {
      g_autoptr(GError) error = NULL;

      if (g_str_has_prefix (reply->str, "NOSCRIPT") && cmd->body != NULL && !cmd->reloaded)
        {
          const char *argv[] = { "SCRIPT", "LOAD", cmd->body };
          char *resp = NULL;
          int len;

          cmd->reloaded = TRUE;
          len = redisFormatCommandArgv (&resp, 3, argv, NULL);
          pft_redis_connection_send (conn,
                                     pft_redis_command_new (conn, resp, (gsize) len,
                                                            pft_redis_connection_on_script_loaded,
                                                            NULL));
          pft_redis_connection_send (conn, cmd);
          return;
        }
      if (pft_redis_connection_is_transient (reply->str))
        {
          g_queue_push_tail (&conn->lost, cmd);
          pft_redis_connection_schedule_reconnect (conn);
          return;
        }
      if (conn->handshake_error != NULL)
        error = g_error_copy (conn->handshake_error);
      else
        error = g_error_new (PFT_ERROR, PFT_ERROR_FAILED, "Redis at %s: %s",
                             conn->uri.display, reply->str);
      pft_redis_command_finish (cmd, NULL, error);
      return;
    }

  conn->backoff_ms = 0;
  pft_redis_command_finish (cmd, reply, NULL);
}

static void
pft_redis_connection_send (PftRedisConnection *conn,
                           PftRedisCommand    *cmd)
{
  if (conn->ac == NULL ||
      redisAsyncFormattedCommand (conn->ac, pft_redis_connection_on_reply, cmd,
                                  cmd->resp, cmd->resp_len) != REDIS_OK)
    {
      g_queue_push_tail (&conn->lost, cmd);
      return;
    }
  g_queue_push_tail (&conn->sent, cmd);
}

/* Writes what was queued by any thread, behind what was lost. */
static void
pft_redis_connection_flush (PftRedisConnection *conn)
{
  GQueue queue = G_QUEUE_INIT;
  PftRedisCommand *cmd;

  g_mutex_lock (&conn->lock);
  conn->wake_pending = FALSE;
  if (conn->state == PFT_REDIS_CONN_UP)
    {
      queue = conn->queue;
      g_queue_init (&conn->queue);
    }
  g_mutex_unlock (&conn->lock);

  if (conn->state != PFT_REDIS_CONN_UP)
    return;

  while ((cmd = g_queue_pop_head (&conn->lost)) != NULL)
    {
      pft_redis_connection_send (conn, cmd);
      if (conn->ac == NULL)
        break;
    }
  while ((cmd = g_queue_pop_head (&queue)) != NULL)
    pft_redis_connection_send (conn, cmd);
}

static gboolean
pft_redis_connection_on_wake (gpointer data)
{
  PftRedisConnection *conn = data;

  pft_redis_connection_flush (conn);
  return G_SOURCE_REMOVE;
}

static void
pft_redis_connection_push (PftRedisConnection *conn,
                           PftRedisCommand    *cmd)
{
  gboolean wake;

  g_mutex_lock (&conn->lock);
  g_queue_push_tail (&conn->queue, cmd);
  wake = !conn->wake_pending;
  conn->wake_pending = TRUE;
  g_mutex_unlock (&conn->lock);

  /* One wake-up for everything queued until the thread runs: the
   * commands go out in one write. */
  if (wake)
    {
      GSource *idle = g_idle_source_new ();

      g_source_set_priority (idle, G_PRIORITY_DEFAULT);
      g_source_set_callback (idle, pft_redis_connection_on_wake,
                             _pft_redis_connection_ref (conn),
                             (GDestroyNotify) _pft_redis_connection_unref);
      g_source_attach (idle, _pft_redis_connection_get_context (conn));
      g_source_unref (idle);
    }
}

void
_pft_redis_connection_command (PftRedisConnection *conn,
                               guint               argc,
                               const char        **argv,
                               const gsize        *argv_len,
                               PftRedisReplyFunc   func,
                               gpointer            user_data)
{
  char *resp = NULL;
  int len;

  g_return_if_fail (conn != NULL);
  g_return_if_fail (argc > 0 && argv != NULL);
  g_return_if_fail (func != NULL);

  len = redisFormatCommandArgv (&resp, (int) argc, argv, (const size_t *) argv_len);
  g_assert (len > 0);
  pft_redis_connection_push (conn, pft_redis_command_new (conn, resp, (gsize) len, func, user_data));
}

void
_pft_redis_connection_preload (PftRedisConnection *conn,
                               const char         *sha,
                               const char         *body)
{
  gboolean added;

  g_return_if_fail (conn != NULL);
  g_return_if_fail (sha != NULL && body != NULL);

  g_mutex_lock (&conn->lock);
  added = !g_hash_table_contains (conn->scripts, sha);
  g_hash_table_replace (conn->scripts, (gpointer) sha, (gpointer) body);
  g_mutex_unlock (&conn->lock);
  if (added)
    {
      const char *argv[] = { "SCRIPT", "LOAD", body };
      char *resp = NULL;
      int len = redisFormatCommandArgv (&resp, 3, argv, NULL);

      pft_redis_connection_push (conn, pft_redis_command_new (conn, resp, (gsize) len,
                                                              pft_redis_connection_on_script_loaded,
                                                              NULL));
    }
}

void
_pft_redis_connection_evalsha (PftRedisConnection *conn,
                               const char         *sha,
                               const char         *body,
                               guint               argc,
                               const char        **argv,
                               PftRedisReplyFunc   func,
                               gpointer            user_data)
{
  g_autofree const char **full = g_new (const char *, argc + 2);
  PftRedisCommand *cmd;
  char *resp = NULL;
  int len;

  g_return_if_fail (conn != NULL);
  g_return_if_fail (sha != NULL && body != NULL);
  g_return_if_fail (func != NULL);

  full[0] = "EVALSHA";
  full[1] = sha;
  memcpy (full + 2, argv, argc * sizeof (const char *));
  len = redisFormatCommandArgv (&resp, (int) argc + 2, full, NULL);
  g_assert (len > 0);
  cmd = pft_redis_command_new (conn, resp, (gsize) len, func, user_data);
  cmd->body = body;
  g_mutex_lock (&conn->lock);
  g_hash_table_replace (conn->scripts, (gpointer) sha, (gpointer) body);
  g_mutex_unlock (&conn->lock);
  pft_redis_connection_push (conn, cmd);
}

/* ------------------------------------------------------------------ */
/* Connecting, losing, reconnecting */

static gboolean
pft_redis_connection_on_retry (gpointer data)
{
  PftRedisConnection *conn = data;

  g_clear_pointer (&conn->retry_source, g_source_unref);
  /* The timer holds no reference (it would keep a connection nobody
   * uses reconnecting for ever): when the last one went meanwhile, the
   * close is queued behind this, and a reconnection would hand
   * references to new commands of a connection being freed. */
  if (!pft_redis_connection_try_ref (conn))
    return G_SOURCE_REMOVE;
  /* Still connected: a transient error reply, send the lost ones again. */
  if (conn->ac != NULL)
    pft_redis_connection_flush (conn);
  else
    pft_redis_connection_connect (conn);
  _pft_redis_connection_unref (conn);
  return G_SOURCE_REMOVE;
}

static void
pft_redis_connection_schedule_reconnect (PftRedisConnection *conn)
{
  guint delay;

  if (conn->retry_source != NULL)
    return;
  conn->backoff_ms = CLAMP (conn->backoff_ms * 2, PFT_REDIS_BACKOFF_MIN_MS, PFT_REDIS_BACKOFF_MAX_MS);
  /* Jitter: processes that lost the server together do not come back in
   * lockstep. */
  delay = conn->backoff_ms / 2 + (guint) g_random_int_range (0, (gint32) conn->backoff_ms / 2 + 1);
  conn->retry_source = pft_redis_connection_add_source (conn, g_timeout_source_new (delay),
                                                        pft_redis_connection_on_retry);
}

/* hiredis frees its context from inside the adapter's dispatch (a write
 * error, a failed connect), and the adapter then goes on to read with
 * the freed context when both directions were ready. Its cleanup hook
 * runs before the free: forgetting the ready events there stops that. */
static void
pft_redis_connection_on_cleanup (gpointer data)
{
  RedisSource *rs = data;
  PftRedisConnection *conn = rs->ac->data;

  redis_source_cleanup (data);
  rs->poll_fd.revents = 0;

  conn->ac = NULL;
  conn->state = PFT_REDIS_CONN_DOWN;
  if (conn->source != NULL)
    {
      g_source_destroy (conn->source);
      g_clear_pointer (&conn->source, g_source_unref);
    }
  /* The connection is being closed for good when nothing holds it. */
  if (!g_atomic_ref_count_compare (&conn->ref, 0))
    pft_redis_connection_schedule_reconnect (conn);
}

static void
pft_redis_connection_on_handshake (PftRedisConnection *conn,
                                   redisReply         *reply,
                                   const GError       *error,
                                   gpointer            user_data)
{
  const char *what = user_data;

  if (error == NULL)
    {
      /* Accepted (again, after a restart with a fixed configuration). */
      g_clear_error (&conn->handshake_error);
      return;
    }
  if (error->code != PFT_ERROR_FAILED || conn->handshake_error != NULL)
    return;
  /* The server refused the password or the database after a restart
   * with another configuration: every command fails with this. */
  conn->handshake_error = g_error_new (PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE,
                                       "Redis at %s refused %s: %s",
                                       conn->uri.display, what, error->message);
  g_warning ("%s", conn->handshake_error->message);
}

static void
pft_redis_connection_connect (PftRedisConnection *conn)
{
  redisAsyncContext *ac;

  ac = redisAsyncConnect (conn->uri.host, conn->uri.port);
  if (ac == NULL || ac->err)
    {
      g_debug ("Connecting to Redis at %s: %s", conn->uri.display,
               ac != NULL ? ac->errstr : "out of memory");
      if (ac != NULL)
        redisAsyncFree (ac);
      pft_redis_connection_schedule_reconnect (conn);
      return;
    }

  g_atomic_int_inc (&conn->connects);
  conn->ac = ac;
  ac->data = conn;
  conn->source = redis_source_new (ac);
  ac->ev.cleanup = pft_redis_connection_on_cleanup;
  g_source_attach (conn->source, _pft_redis_connection_get_context (conn));
  conn->state = PFT_REDIS_CONN_UP;

  /* AUTH and SELECT go first on the new connection; everything else is
   * pipelined right behind them. */
  if (conn->uri.password != NULL)
    {
      const char *argv[] = { "AUTH", conn->uri.user != NULL ? conn->uri.user : conn->uri.password,
                             conn->uri.password };
      char *resp = NULL;
      int len = redisFormatCommandArgv (&resp, conn->uri.user != NULL ? 3 : 2, argv, NULL);

      pft_redis_connection_send (conn, pft_redis_command_new (conn, resp, (gsize) len,
                                                              pft_redis_connection_on_handshake,
                                                              (gpointer) "the password"));
    }
  if (conn->uri.db != 0)
    {
      char *resp = NULL;
      int len = redisFormatCommand (&resp, "SELECT %d", conn->uri.db);

      pft_redis_connection_send (conn, pft_redis_command_new (conn, resp, (gsize) len,
                                                              pft_redis_connection_on_handshake,
                                                              (gpointer) "the database"));
    }
  /* The scripts used so far, loaded before anything is sent again: a
   * server that restarted has none, and each resent EVALSHA would
   * otherwise come back NOSCRIPT first. */
  {
    g_autoptr(GPtrArray) bodies = g_ptr_array_new ();
    GHashTableIter iter;
    gpointer body;

    g_mutex_lock (&conn->lock);
    g_hash_table_iter_init (&iter, conn->scripts);
    while (g_hash_table_iter_next (&iter, NULL, &body))
      g_ptr_array_add (bodies, body);
    g_mutex_unlock (&conn->lock);
    for (guint i = 0; i < bodies->len; i++)
      {
        const char *argv[] = { "SCRIPT", "LOAD", g_ptr_array_index (bodies, i) };
        char *resp = NULL;
        int len = redisFormatCommandArgv (&resp, 3, argv, NULL);

        pft_redis_connection_send (conn, pft_redis_command_new (conn, resp, (gsize) len,
                                                                pft_redis_connection_on_script_loaded,
                                                                NULL));
      }
  }
  pft_redis_connection_flush (conn);
}

/* Fails what waited longer than the backend timeout, and drops a
 * connection whose oldest command got no reply within it (a server that
 * hangs): its commands then wait for the next one. */
static gboolean
pft_redis_connection_on_tick (gpointer data)
{
  PftRedisConnection *conn = data;
  gint64 now = g_get_monotonic_time ();
  PftRedisCommand *cmd;
  GQueue expired = G_QUEUE_INIT;
  GList *l, *next;

  cmd = g_queue_peek_head (&conn->sent);
  if (cmd != NULL && cmd->deadline <= now && conn->ac != NULL)
    redisAsyncFree (conn->ac);   /* its commands move to lost */

  for (l = conn->lost.head; l != NULL; l = next)
    {
      next = l->next;
      cmd = l->data;
      if (cmd->deadline <= now)
        {
          g_queue_delete_link (&conn->lost, l);
          g_queue_push_tail (&expired, cmd);
        }
    }
  g_mutex_lock (&conn->lock);
  for (l = conn->queue.head; l != NULL; l = next)
    {
      next = l->next;
      cmd = l->data;
      if (cmd->deadline <= now)
        {
          g_queue_delete_link (&conn->queue, l);
          g_queue_push_tail (&expired, cmd);
        }
    }
  g_mutex_unlock (&conn->lock);

  while ((cmd = g_queue_pop_head (&expired)) != NULL)
    pft_redis_command_fail_unavailable (cmd, conn->state == PFT_REDIS_CONN_UP ?
                                        "no reply" : "reconnecting");
  return G_SOURCE_CONTINUE;
}

static gboolean
pft_redis_connection_on_start (gpointer data)
{
  PftRedisConnection *conn = data;

  conn->tick_source = pft_redis_connection_add_source (conn, g_timeout_source_new (PFT_REDIS_TICK_MS),
                                                       pft_redis_connection_on_tick);
  pft_redis_connection_connect (conn);
  return G_SOURCE_REMOVE;
}

/* Runs on the thread once nothing holds the connection: no command is
 * pending (each holds a reference), so hiredis calls nobody back. */
static gboolean
pft_redis_connection_on_close (gpointer data)
{
  PftRedisConnection *conn = data;

  if (conn->tick_source != NULL)
    {
      g_source_destroy (conn->tick_source);
      g_clear_pointer (&conn->tick_source, g_source_unref);
    }
  if (conn->retry_source != NULL)
    {
      g_source_destroy (conn->retry_source);
      g_clear_pointer (&conn->retry_source, g_source_unref);
    }
  if (conn->ac != NULL)
    redisAsyncFree (conn->ac);
  g_assert (conn->ac == NULL && conn->source == NULL);
  g_assert (g_queue_is_empty (&conn->sent) && g_queue_is_empty (&conn->lost) &&
            g_queue_is_empty (&conn->queue));

  g_clear_error (&conn->handshake_error);
  g_hash_table_unref (conn->scripts);
  _pft_redis_uri_clear (&conn->uri);
  g_free (conn->table_key);
  g_mutex_clear (&conn->lock);
  g_free (conn);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------ */
/* The synchronous check and the table */

static gboolean
pft_redis_check_reply (redisContext  *c,
                       redisReply    *reply,
                       const char    *display,
                       const char    *what,
                       GError       **error)
{
  if (reply == NULL)
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE,
                   "Could not reach Redis at %s: %s", display, c->errstr);
      return FALSE;
    }
  if (reply->type == REDIS_REPLY_ERROR)
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE,
                   "Redis at %s refused %s: %s", display, what, reply->str);
      freeReplyObject (reply);
      return FALSE;
    }
  freeReplyObject (reply);
  return TRUE;
}

static gboolean
pft_redis_check_server (const PftRedisUri  *uri,
                        gint64              timeout_us,
                        GError            **error)
{
  struct timeval tv = { timeout_us / G_USEC_PER_SEC, timeout_us % G_USEC_PER_SEC };
  redisContext *c;
  gboolean ok = FALSE;

  c = redisConnectWithTimeout (uri->host, uri->port, tv);
  if (c == NULL || c->err)
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE,
                   "Could not connect to Redis at %s: %s", uri->display,
                   c != NULL ? c->errstr : "out of memory");
      goto out;
    }
  redisSetTimeout (c, tv);

  if (uri->password != NULL)
    {
      redisReply *r;

      if (uri->user != NULL)
        r = redisCommand (c, "AUTH %s %s", uri->user, uri->password);
      else
        r = redisCommand (c, "AUTH %s", uri->password);
      if (!pft_redis_check_reply (c, r, uri->display, "the password", error))
        goto out;
    }
  if (!pft_redis_check_reply (c, redisCommand (c, "SELECT %d", uri->db),
                              uri->display, "the database", error))
    goto out;
  ok = TRUE;

out:
  if (c != NULL)
    redisFree (c);
  return ok;
}

PftRedisConnection *
_pft_redis_connection_get (const char  *uri,
                           const char  *key,
                           gint64       timeout_us,
                           GError     **error)
{
  PftRedisUri parsed;
  PftRedisConnection *conn;
  g_autofree char *table_key = NULL;

  g_return_val_if_fail (uri != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (timeout_us > 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!_pft_redis_uri_parse (uri, &parsed, error))
    return NULL;

  table_key = g_strdup_printf ("%s\n%s", uri, key);
  g_mutex_lock (&pft_redis_table_lock);
  if (pft_redis_table == NULL)
    pft_redis_table = g_hash_table_new (g_str_hash, g_str_equal);
  conn = g_hash_table_lookup (pft_redis_table, table_key);
  if (conn != NULL)
    {
      _pft_redis_connection_ref (conn);
      g_mutex_lock (&conn->lock);
      conn->timeout_us = MAX (conn->timeout_us, timeout_us);
      g_mutex_unlock (&conn->lock);
      g_mutex_unlock (&pft_redis_table_lock);
      _pft_redis_uri_clear (&parsed);
      return conn;
    }
  g_mutex_unlock (&pft_redis_table_lock);

  if (!pft_redis_check_server (&parsed, timeout_us, error))
    {
      _pft_redis_uri_clear (&parsed);
      return NULL;
    }

  conn = g_new0 (PftRedisConnection, 1);
  g_atomic_ref_count_init (&conn->ref);
  g_mutex_init (&conn->lock);
  conn->uri = parsed;
  conn->timeout_us = timeout_us;
  conn->table_key = g_steal_pointer (&table_key);
  conn->state = PFT_REDIS_CONN_DOWN;
  conn->scripts = g_hash_table_new (g_str_hash, g_str_equal);

  g_mutex_lock (&pft_redis_table_lock);
  {
    /* Another thread may have made it meanwhile: use the first. */
    PftRedisConnection *other = g_hash_table_lookup (pft_redis_table, conn->table_key);

    if (other != NULL)
      {
        _pft_redis_connection_ref (other);
        g_mutex_unlock (&pft_redis_table_lock);
        _pft_redis_uri_clear (&conn->uri);
        g_hash_table_unref (conn->scripts);
        g_free (conn->table_key);
        g_mutex_clear (&conn->lock);
        g_free (conn);
        return other;
      }
    g_hash_table_insert (pft_redis_table, conn->table_key, conn);
  }
  g_mutex_unlock (&pft_redis_table_lock);

  {
    GSource *start = g_idle_source_new ();

    g_source_set_priority (start, G_PRIORITY_HIGH);
    g_source_set_callback (start, pft_redis_connection_on_start,
                           _pft_redis_connection_ref (conn),
                           (GDestroyNotify) _pft_redis_connection_unref);
    g_source_attach (start, _pft_redis_connection_get_context (conn));
    g_source_unref (start);
  }
  return conn;
}

PftRedisConnection *
_pft_redis_connection_ref (PftRedisConnection *conn)
{
  g_return_val_if_fail (conn != NULL, NULL);

  g_atomic_ref_count_inc (&conn->ref);
  return conn;
}

/* A reference for the thread's own work, unless the last one is gone
 * (the connection is closing): the count only drops to zero under the
 * table lock, so checking and taking under it cannot revive a dying one. */
static gboolean
pft_redis_connection_try_ref (PftRedisConnection *conn)
{
  gboolean alive;

  g_mutex_lock (&pft_redis_table_lock);
  alive = !g_atomic_ref_count_compare (&conn->ref, 0);
  if (alive)
    g_atomic_ref_count_inc (&conn->ref);
  g_mutex_unlock (&pft_redis_table_lock);
  return alive;
}

void
_pft_redis_connection_unref (PftRedisConnection *conn)
{
  GSource *close;

  g_return_if_fail (conn != NULL);

  /* Under the table lock, so that _get() never revives a dying one. */
  g_mutex_lock (&pft_redis_table_lock);
  if (!g_atomic_ref_count_dec (&conn->ref))
    {
      g_mutex_unlock (&pft_redis_table_lock);
      return;
    }
  g_hash_table_remove (pft_redis_table, conn->table_key);
  g_mutex_unlock (&pft_redis_table_lock);

  close = g_idle_source_new ();
  g_source_set_callback (close, pft_redis_connection_on_close, conn, NULL);
  g_source_attach (close, _pft_redis_connection_get_context (conn));
  g_source_unref (close);
}

const char *
_pft_redis_connection_get_display (PftRedisConnection *conn)
{
  g_return_val_if_fail (conn != NULL, NULL);

  return conn->uri.display;
}

guint
_pft_redis_connection_get_connects (PftRedisConnection *conn)
{
  g_return_val_if_fail (conn != NULL, 0);

  return (guint) g_atomic_int_get (&conn->connects);
}

gint64
_pft_redis_connection_get_retry_time (PftRedisConnection *conn)
{
  g_return_val_if_fail (conn != NULL, -1);

  return conn->retry_source != NULL ? g_source_get_ready_time (conn->retry_source) : -1;
}
