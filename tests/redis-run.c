/* redis-run.c: runs a command next to a private redis-server
 *
 * SPDX-License-Identifier: MIT
 *
 *   redis-run PROGRAM [ARGS...]
 *
 * Starts a redis-server on a free loopback port (tests/redis-fixture.c),
 * runs PROGRAM with PFT_TEST_REDIS_URI set to its URI, stops the server
 * and exits with PROGRAM's status. The binding suites (Python, GJS,
 * Vala) run their Redis tests through it, so that they share the C
 * tests' fixture rather than starting servers of their own.
 */

#include "redis-fixture.h"

int
main (int argc, char **argv)
{
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  PftRedisServer *server;
  int status;

  if (argc < 2)
    {
      g_printerr ("usage: redis-run PROGRAM [ARGS...]\n");
      return 2;
    }
  server = pft_redis_server_start (NULL);
  g_setenv ("PFT_TEST_REDIS_URI", server->uri, TRUE);
  proc = g_subprocess_newv ((const char * const *) argv + 1, G_SUBPROCESS_FLAGS_NONE, &error);
  if (proc == NULL)
    {
      g_printerr ("redis-run: %s\n", error->message);
      pft_redis_server_free (server);
      return 2;
    }
  g_subprocess_wait (proc, NULL, NULL);
  status = g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : 1;
  pft_redis_server_free (server);
  return status;
}
