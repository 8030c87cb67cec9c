/* test-mock-server.c: the mock API server, driven by a plain SoupSession
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft-http.h>

static void
test_mock_start_stop (void)
{
  g_autoptr(PftHttpMockServer) server = pft_http_mock_server_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;

  g_assert_cmpuint (pft_http_mock_server_get_port (server), ==, 0);
  g_assert_true (pft_http_mock_server_start_in_thread (server, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pft_http_mock_server_get_port (server), >, 0);
  uri = pft_http_mock_server_get_uri (server);
  g_assert_true (g_str_has_prefix (uri, "http://127.0.0.1:"));
  pft_http_mock_server_stop (server);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft-http/mock/start-stop", test_mock_start_stop);

  return g_test_run ();
}
