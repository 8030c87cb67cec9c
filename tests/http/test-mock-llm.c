/* test-mock-llm.c: the pft-mock-llm program, run as a user runs it
 *
 * The path of the program is the first argument (meson passes the built
 * one).
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft-http.h>

static const char *mock_llm_path;

static GSubprocess *
spawn (GError     **error,
       const char  *first_arg,
       ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  va_list args;

  g_ptr_array_add (argv, (char *) mock_llm_path);
  va_start (args, first_arg);
  for (const char *a = first_arg; a != NULL; a = va_arg (args, const char *))
    g_ptr_array_add (argv, (char *) a);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  return g_subprocess_newv ((const char * const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                            error);
}

static guint
post (SoupSession *session,
      const char  *base)
{
  static const char body[] = "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}";
  g_autofree char *uri = g_strconcat (base, "/v1/chat/completions", NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("POST", uri);
  g_autoptr(GBytes) request = g_bytes_new_static (body, strlen (body));
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;

  soup_message_set_request_body_from_bytes (msg, "application/json", request);
  reply = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  return soup_message_get_status (msg);
}

static void
test_mock_llm_run (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(GHashTable) stats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *uri = NULL;
  char *line;

  process = spawn (&error, "--rpm", "2", "--window", "60", "--latency", "1ms-5ms", "--seed", "9", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));

  /* The first line is the base URL. */
  uri = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (uri);
  g_assert_true (g_str_has_prefix (uri, "http://127.0.0.1:"));

  g_assert_cmpuint (post (session, uri), ==, 200);
  g_assert_cmpuint (post (session, uri), ==, 200);
  g_assert_cmpuint (post (session, uri), ==, 429);

  g_subprocess_send_signal (process, SIGTERM);
  while ((line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error)) != NULL)
    {
      g_auto(GStrv) kv = g_strsplit (line, ": ", 2);

      g_assert_nonnull (kv[1]);
      g_hash_table_insert (stats, g_strdup (kv[0]), g_strdup (kv[1]));
      g_free (line);
    }
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (process, NULL, &error));
  g_assert_no_error (error);

  g_assert_cmpstr (g_hash_table_lookup (stats, "requests"), ==, "3");
  g_assert_cmpstr (g_hash_table_lookup (stats, "accepted"), ==, "2");
  g_assert_cmpstr (g_hash_table_lookup (stats, "rate_limited"), ==, "1");
  g_assert_cmpstr (g_hash_table_lookup (stats, "max_in_window"), ==, "3");
  g_assert_cmpstr (g_hash_table_lookup (stats, "in_flight"), ==, "0");
}

static void
test_mock_llm_bad_option (void)
{
  static const struct { const char *option; const char *value; const char *complaint; } cases[] = {
    { "--latency", "20", "--latency: '20' is not a duration" },
    { "--latency", "50ms-10ms", "--latency: '50ms-10ms'" },
    { "--error-rate", "1.5", "--error-rate: 1.5 is not a share" },
    { "--style", "grpc", "--style: 'grpc' is not one of" },
    { "--rpm", "-3", "--rpm: -3 is out of range" },
    { "--window", "0", "--window: '0' is shorter" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSubprocess) process = spawn (&error, cases[i].option, cases[i].value, NULL);
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_assert_no_error (error);
      g_assert_true (g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error));
      g_assert_no_error (error);
      g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 2);
      g_assert_cmpstr (out, ==, "");
      g_assert_nonnull (strstr (err, cases[i].complaint));
    }
}

static void
test_mock_llm_help (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = spawn (&error, "--help", NULL);
  g_autofree char *out = NULL;

  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  g_assert_nonnull (strstr (out, "--rpm"));
  g_assert_nonnull (strstr (out, "--latency"));
  g_assert_nonnull (strstr (out, "--drop-rate"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (argc, ==, 2);
  mock_llm_path = argv[1];

  g_test_add_func ("/pft-http/mock-llm/run", test_mock_llm_run);
  g_test_add_func ("/pft-http/mock-llm/bad-option", test_mock_llm_bad_option);
  g_test_add_func ("/pft-http/mock-llm/help", test_mock_llm_help);

  return g_test_run ();
}
