/* test-version.c: PFT_*_VERSION and PFT_CHECK_VERSION agree with the
 * library's own version
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft.h>

/* The macro works in the preprocessor, where it is meant to be used. */
#if !PFT_CHECK_VERSION (0, 1, 0)
# error "PFT_CHECK_VERSION (0, 1, 0) is false in the preprocessor"
#endif
#if PFT_CHECK_VERSION (PFT_MAJOR_VERSION + 1, 0, 0)
# error "PFT_CHECK_VERSION of the next major version is true in the preprocessor"
#endif

static void
test_version_numbers (void)
{
  g_autofree char *from_macros = g_strdup_printf ("%d.%d.%d", PFT_MAJOR_VERSION,
                                                  PFT_MINOR_VERSION, PFT_MICRO_VERSION);

  /* pft_get_version_string() is meson's project version, compiled into
   * the library; the macros come from the generated header. */
  g_assert_cmpstr (from_macros, ==, pft_get_version_string ());
  g_assert_cmpstr (PFT_VERSION_S, ==, pft_get_version_string ());
}

static void
test_check_version (void)
{
  const int major = PFT_MAJOR_VERSION, minor = PFT_MINOR_VERSION, micro = PFT_MICRO_VERSION;

  g_assert_true (PFT_CHECK_VERSION (major, minor, micro));
  g_assert_true (PFT_CHECK_VERSION (0, 0, 0));
  g_assert_false (PFT_CHECK_VERSION (major, minor, micro + 1));
  g_assert_false (PFT_CHECK_VERSION (major, minor + 1, 0));
  g_assert_false (PFT_CHECK_VERSION (major + 1, 0, 0));
  /* A newer minor satisfies any micro of an older one. */
  if (minor > 0)
    g_assert_true (PFT_CHECK_VERSION (major, minor - 1, 99));
  if (major > 0)
    g_assert_true (PFT_CHECK_VERSION (major - 1, 99, 99));
  if (micro > 0)
    g_assert_true (PFT_CHECK_VERSION (major, minor, micro - 1));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft/version/numbers", test_version_numbers);
  g_test_add_func ("/pft/version/check", test_check_version);

  return g_test_run ();
}
