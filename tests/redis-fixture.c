/* redis-fixture.c: a private redis-server for one test program
 *
 * SPDX-License-Identifier: MIT
 */

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <signal.h>
#include <sys/prctl.h>

#include <glib/gstdio.h>

#include "redis-fixture.h"

int
pft_redis_free_port (void)
{
  g_autoptr(GSocket) sock = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (sock, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static redisContext *
pft_redis_try_connect (int port)
{
  struct timeval tv = { 1, 0 };
  redisContext *c = redisConnectWithTimeout ("127.0.0.1", port, tv);

  if (c != NULL && c->err)
    {
      redisFree (c);
      return NULL;
    }
  return c;
}

/* Up once it answers anything to PING (NOAUTH included). */
static gboolean
pft_redis_server_wait_up (PftRedisServer *server)
{
  for (guint i = 0; i < 500; i++)
    {
      redisContext *c;

      if (g_subprocess_get_identifier (server->proc) == NULL)   /* it exited */
        return FALSE;
      c = pft_redis_try_connect (server->port);
      if (c != NULL)
        {
          redisReply *r = redisCommand (c, "PING");
          gboolean up = r != NULL &&
                        (r->type != REDIS_REPLY_ERROR || !g_str_has_prefix (r->str, "LOADING"));

          if (r != NULL)
            freeReplyObject (r);
          redisFree (c);
          if (up)
            return TRUE;
        }
      g_usleep (10000);
    }
  return FALSE;
}

/* A test killed by its timeout takes its server along. */
static void
pft_redis_child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
pft_redis_server_spawn (PftRedisServer *server)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autofree char *program = g_find_program_in_path ("redis-server");
  g_autofree char *port = g_strdup_printf ("%d", server->port);
  g_autofree char *logfile = g_build_filename (server->dir, "redis.log", NULL);
  g_autoptr(GError) error = NULL;
  GPtrArray *argv;

  if (program == NULL)
    g_error ("redis-server is not installed: the Redis tests need it "
             "(apt-get install redis-server; it is listed in build-aux/debian-packages.txt)");

  argv = g_ptr_array_new ();
  g_ptr_array_add (argv, program);
  g_ptr_array_add (argv, "--port");
  g_ptr_array_add (argv, port);
  g_ptr_array_add (argv, "--bind");
  g_ptr_array_add (argv, "127.0.0.1");
  g_ptr_array_add (argv, "--save");
  g_ptr_array_add (argv, "");
  g_ptr_array_add (argv, "--appendonly");
  g_ptr_array_add (argv, "no");
  g_ptr_array_add (argv, "--daemonize");
  g_ptr_array_add (argv, "no");
  g_ptr_array_add (argv, "--dir");
  g_ptr_array_add (argv, server->dir);
  g_ptr_array_add (argv, "--logfile");
  g_ptr_array_add (argv, logfile);
  if (server->password != NULL)
    {
      g_ptr_array_add (argv, "--requirepass");
      g_ptr_array_add (argv, server->password);
    }
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_set_child_setup (launcher, pft_redis_child_setup, NULL, NULL);
  server->proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_ptr_array_free (argv, TRUE);
  g_assert_no_error (error);

  if (pft_redis_server_wait_up (server))
    return TRUE;
  g_subprocess_force_exit (server->proc);
  g_subprocess_wait (server->proc, NULL, NULL);
  g_clear_object (&server->proc);
  return FALSE;
}

PftRedisServer *
pft_redis_server_start (const char *password)
{
  PftRedisServer *server = g_new0 (PftRedisServer, 1);
  g_autoptr(GError) error = NULL;

  server->dir = g_dir_make_tmp ("pft-redis-XXXXXX", &error);
  g_assert_no_error (error);
  server->password = g_strdup (password);

  /* The free port may be taken between the check and the start. */
  for (guint attempt = 0; ; attempt++)
    {
      server->port = pft_redis_free_port ();
      if (pft_redis_server_spawn (server))
        break;
      if (attempt == 5)
        g_error ("redis-server did not start on 127.0.0.1 (see %s/redis.log)", server->dir);
    }

  server->uri = g_strdup_printf ("redis://%s%s%s127.0.0.1:%d/0",
                                 password != NULL ? ":" : "",
                                 password != NULL ? password : "",
                                 password != NULL ? "@" : "",
                                 server->port);
  return server;
}

static void
pft_redis_server_stop (PftRedisServer *server,
                       gboolean        save)
{
  redisContext *c;

  if (server->proc == NULL)
    return;
  c = pft_redis_server_connect (server);
  if (c != NULL)
    {
      /* No reply: the server exits. */
      redisReply *r = redisCommand (c, save ? "SHUTDOWN SAVE" : "SHUTDOWN NOSAVE");

      if (r != NULL)
        freeReplyObject (r);
      redisFree (c);
    }
  if (!g_subprocess_wait (server->proc, NULL, NULL) || !g_subprocess_get_if_exited (server->proc))
    g_subprocess_force_exit (server->proc);
  g_clear_object (&server->proc);
}

void
pft_redis_server_shutdown (PftRedisServer *server)
{
  pft_redis_server_stop (server, FALSE);
}

void
pft_redis_server_start_again (PftRedisServer *server)
{
  g_assert_null (server->proc);
  if (!pft_redis_server_spawn (server))
    g_error ("redis-server did not start again on port %d (see %s/redis.log)",
             server->port, server->dir);
}

void
pft_redis_server_restart (PftRedisServer *server,
                          gboolean        keep_data)
{
  pft_redis_server_stop (server, keep_data);
  pft_redis_server_start_again (server);
}

void
pft_redis_server_free (PftRedisServer *server)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  pft_redis_server_stop (server, FALSE);
  dir = g_dir_open (server->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (server->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (server->dir);
  g_free (server->dir);
  g_free (server->password);
  g_free (server->uri);
  g_free (server);
}

redisContext *
pft_redis_server_connect (PftRedisServer *server)
{
  redisContext *c = pft_redis_try_connect (server->port);

  if (c != NULL && server->password != NULL)
    {
      redisReply *r = redisCommand (c, "AUTH %s", server->password);

      g_assert_nonnull (r);
      g_assert_cmpint (r->type, !=, REDIS_REPLY_ERROR);
      freeReplyObject (r);
    }
  return c;
}

redisReply *
pft_redis_server_command (PftRedisServer *server,
                          const char     *format,
                          ...)
{
  redisContext *c = pft_redis_server_connect (server);
  redisReply *r;
  va_list ap;

  g_assert_nonnull (c);
  va_start (ap, format);
  r = redisvCommand (c, format, ap);
  va_end (ap);
  if (r == NULL)
    g_error ("Redis command “%s” failed: %s", format, c->errstr);
  redisFree (c);
  return r;
}

gint64
pft_redis_server_time (PftRedisServer *server)
{
  redisReply *r = pft_redis_server_command (server, "TIME");
  gint64 t;

  g_assert_cmpint (r->type, ==, REDIS_REPLY_ARRAY);
  g_assert_cmpint (r->elements, ==, 2);
  t = g_ascii_strtoll (r->element[0]->str, NULL, 10) * G_USEC_PER_SEC +
      g_ascii_strtoll (r->element[1]->str, NULL, 10);
  freeReplyObject (r);
  return t;
}

void
pft_redis_log_enable (PftRedisServer *server,
                      const char     *key)
{
  freeReplyObject (pft_redis_server_command (server, "SET pft:{%s}:debug 1", key));
}

static void
pft_redis_log_entry_clear (gpointer data)
{
  PftRedisLogEntry *e = data;

  g_free (e->id);
}

GArray *
pft_redis_log_read (PftRedisServer *server,
                    const char     *key)
{
  redisReply *r = pft_redis_server_command (server, "LRANGE pft:{%s}:log 0 -1", key);
  GArray *log = g_array_new (FALSE, TRUE, sizeof (PftRedisLogEntry));

  g_array_set_clear_func (log, pft_redis_log_entry_clear);
  g_assert_cmpint (r->type, ==, REDIS_REPLY_ARRAY);
  for (gsize i = 0; i < r->elements; i++)
    {
      g_auto(GStrv) parts = g_strsplit (r->element[i]->str, " ", -1);
      PftRedisLogEntry e = { 0 };

      g_assert_cmpuint (g_strv_length (parts), >=, 3);
      e.kind = parts[0][0];
      e.t_us = g_ascii_strtoll (parts[1], NULL, 10);
      if (e.kind == 'p')
        e.value = g_ascii_strtoll (parts[2], NULL, 10);
      else
        e.id = g_strdup (parts[2]);
      if (e.kind == 'g')
        e.value = g_ascii_strtoll (parts[3], NULL, 10);
      g_array_append_val (log, e);
    }
  freeReplyObject (r);
  return log;
}

static int
pft_redis_cmp_i64 (gconstpointer a,
                   gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

guint
pft_redis_log_max_in_window (GArray *log,
                             gint64  window_us)
{
  g_autoptr(GArray) t = pft_redis_log_grant_times (log);
  guint best = 0, j = 0;

  /* For each grant i, the grants in [t_i, t_i + window). */
  for (guint i = 0; i < t->len; i++)
    {
      if (j < i)
        j = i;
      while (j < t->len && g_array_index (t, gint64, j) < g_array_index (t, gint64, i) + window_us)
        j++;
      best = MAX (best, j - i);
    }
  return best;
}

guint
pft_redis_log_max_in_flight (GArray *log)
{
  gint held = 0, best = 0;

  for (guint i = 0; i < log->len; i++)
    {
      char k = g_array_index (log, PftRedisLogEntry, i).kind;

      if (k == 'g')
        {
          held++;
          best = MAX (best, held);
        }
      else if (k == 'r' || k == 'x')
        held--;
    }
  g_assert_cmpint (held, >=, 0);
  return (guint) best;
}

guint
pft_redis_log_count (GArray *log,
                     char    kind)
{
  guint n = 0;

  for (guint i = 0; i < log->len; i++)
    n += g_array_index (log, PftRedisLogEntry, i).kind == kind;
  return n;
}

void
pft_redis_log_assert_ids_unique (GArray *log)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < log->len; i++)
    {
      PftRedisLogEntry *e = &g_array_index (log, PftRedisLogEntry, i);

      if (e->kind != 'g')
        continue;
      g_assert_false (g_hash_table_contains (seen, e->id));
      g_hash_table_add (seen, e->id);
    }
}

GArray *
pft_redis_log_grant_times (GArray *log)
{
  GArray *t = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < log->len; i++)
    if (g_array_index (log, PftRedisLogEntry, i).kind == 'g')
      g_array_append_val (t, g_array_index (log, PftRedisLogEntry, i).t_us);
  g_array_sort (t, pft_redis_cmp_i64);
  return t;
}

char *
pft_redis_unique_key (const char *name)
{
  static int n;

  return g_strdup_printf ("test-%s-%d-%d", name, (int) getpid (), n++);
}

void
pft_redis_spin_for (gint64 us)
{
  gint64 end = g_get_monotonic_time () + us;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

GSubprocess *
pft_redis_worker_spawn (PftRedisServer     *server,
                        const char         *key,
                        const char * const *extra)
{
  g_autofree char *program = g_test_build_filename (G_TEST_BUILT, "redis-worker", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *proc;

  g_ptr_array_add (argv, program);
  g_ptr_array_add (argv, "--uri");
  g_ptr_array_add (argv, server->uri);
  g_ptr_array_add (argv, "--key");
  g_ptr_array_add (argv, (gpointer) key);
  for (guint i = 0; extra[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra[i]);
  g_ptr_array_add (argv, NULL);
  proc = g_subprocess_newv ((const char * const *) argv->pdata, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  return proc;
}

guint64
pft_redis_worker_wait (GSubprocess *proc)
{
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  const char *line;

  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  line = strstr (out, "granted ");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("granted "), NULL, 10);
}

void
pft_redis_wait_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  ((PftRedisWait *) data)->result = g_object_ref (result);
}

GAsyncResult *
pft_redis_wait_for (PftRedisWait *w)
{
  while (w->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return w->result;
}
