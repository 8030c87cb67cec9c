/* pft-init.c: library-wide set-up
 *
 * SPDX-License-Identifier: MIT
 */

#include <glib/gi18n-lib.h>

#include "pft.h"
#include "pft-private.h"

/* Called from every class_init and from the error quark, so that
 * translations are bound before the first message is built, whatever the
 * program touches first. */
void
_pft_init_i18n (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      g_once_init_leave (&initialized, 1);
    }
}

/**
 * pft_get_version_string:
 *
 * The version of the Pft library the program runs with.
 *
 * Returns: a version string such as "0.1.0"
 */
const char *
pft_get_version_string (void)
{
  return PFT_VERSION_STRING;
}
