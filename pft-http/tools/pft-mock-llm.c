/* pft-mock-llm: runs the PftHttp mock API server until SIGINT/SIGTERM
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft-http.h>

#include <glib-unix.h>
#include <stdlib.h>

static gboolean
pft_mock_llm_quit (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(PftHttpMockServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  g_autoptr(GOptionContext) options = NULL;
  int port = 0;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "TCP port on 127.0.0.1 (0: any free port)", "PORT" },
    { NULL }
  };

  options = g_option_context_new ("- a mock OpenAI/Anthropic API on loopback");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("pft-mock-llm: %s\n", error->message);
      return 2;
    }

  server = g_object_new (PFT_HTTP_TYPE_MOCK_SERVER, "port", port, NULL);
  if (!pft_http_mock_server_start (server, &error))
    {
      g_printerr ("pft-mock-llm: %s\n", error->message);
      return EXIT_FAILURE;
    }
  uri = pft_http_mock_server_get_uri (server);
  g_print ("%s\n", uri);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, pft_mock_llm_quit, loop);
  g_unix_signal_add (SIGTERM, pft_mock_llm_quit, loop);
  g_main_loop_run (loop);
  pft_http_mock_server_stop (server);
  return EXIT_SUCCESS;
}
