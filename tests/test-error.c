/* test-error.c: which errors are rate limits, and their retry-after
 *
 * SPDX-License-Identifier: MIT
 */

#include <gio/gio.h>
#include <pft.h>

static void
assert_rate_limit (GQuark      domain,
                   int         code,
                   const char *message,
                   gboolean    expected)
{
  g_autoptr(GError) error = g_error_new_literal (domain, code, message);

  if (pft_error_is_rate_limit (error) != expected)
    g_error ("%s/%d \"%s\": expected %s", g_quark_to_string (domain), code, message,
             expected ? "a rate limit" : "no rate limit");
}

static void
test_error_pft_domain (void)
{
  g_autoptr(GError) limited = pft_error_new_rate_limited (2.5, "api", NULL);

  g_assert_false (pft_error_is_rate_limit (NULL));
  g_assert_true (pft_error_is_rate_limit (limited));
  g_assert_cmpfloat (pft_error_get_retry_after (limited), ==, 2.5);
  /* Pft's own codes say what they mean, whatever the message. */
  assert_rate_limit (PFT_ERROR, PFT_ERROR_FAILED, "upstream said 429", FALSE);
  assert_rate_limit (PFT_ERROR, PFT_ERROR_RATE_LIMITED, "", TRUE);
}

static void
test_error_http_domains (void)
{
  /* libsoup 2: SOUP_HTTP_ERROR, the status as the code. */
  GQuark soup2 = g_quark_from_static_string ("soup_http_error_quark");
  /* libsoup 3: SoupSessionError has no status codes; 2 is
   * SOUP_SESSION_ERROR_TOO_MANY_REDIRECTS. */
  GQuark soup3 = g_quark_from_static_string ("soup-session-error-quark");
  GQuark app = g_quark_from_static_string ("my-app-http-error-quark");
  GQuark other = g_quark_from_static_string ("my-app-db-error-quark");

  assert_rate_limit (soup2, 429, "Too Many Requests", TRUE);
  assert_rate_limit (soup2, 429, "", TRUE);
  assert_rate_limit (soup2, 503, "Service Unavailable", FALSE);
  assert_rate_limit (soup3, 2, "Too many redirects", FALSE);
  assert_rate_limit (app, 429, "", TRUE);
  /* 429 as a code means nothing in a domain that is not HTTP's. */
  assert_rate_limit (other, 429, "row locked", FALSE);
}

static void
test_error_gio_messages (void)
{
  g_autoptr(GError) with_header = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED,
                                                       "HTTP 429 Too Many Requests; Retry-After: 7");

  /* GIO has no code for HTTP statuses: the message tells. */
  g_assert_true (pft_error_is_rate_limit (with_header));
  g_assert_cmpfloat (pft_error_get_retry_after (with_header), ==, 7.0);
  assert_rate_limit (G_IO_ERROR, G_IO_ERROR_FAILED, "Rate limit reached for gpt-4", TRUE);
  assert_rate_limit (G_IO_ERROR, G_IO_ERROR_FAILED, "You exceeded your current quota exceeded", TRUE);
  assert_rate_limit (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Socket I/O timed out", FALSE);
  assert_rate_limit (G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES, "Too many open files", FALSE);
  /* A full disk is no provider's quota. */
  assert_rate_limit (G_IO_ERROR, G_IO_ERROR_NO_SPACE, "Disk quota exceeded", FALSE);
  assert_rate_limit (G_FILE_ERROR, G_FILE_ERROR_FAILED, "Disk quota exceeded", FALSE);
  /* 429 counts as a number of its own, not inside a port, an id or a decimal. */
  assert_rate_limit (G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
                     "Could not connect to 127.0.0.1:42913: Connection refused", FALSE);
  assert_rate_limit (G_IO_ERROR, G_IO_ERROR_FAILED, "request 14290 failed", FALSE);
  assert_rate_limit (G_IO_ERROR, G_IO_ERROR_FAILED, "took 1.429 s", FALSE);
  assert_rate_limit (G_IO_ERROR, G_IO_ERROR_FAILED, "status 429", TRUE);
  assert_rate_limit (G_IO_ERROR, G_IO_ERROR_FAILED, "(429) slow down", TRUE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft/error/pft-domain", test_error_pft_domain);
  g_test_add_func ("/pft/error/http-domains", test_error_http_domains);
  g_test_add_func ("/pft/error/gio-messages", test_error_gio_messages);

  return g_test_run ();
}
