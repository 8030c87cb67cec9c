/* pft-init.c: library-wide set-up
 *
 * SPDX-License-Identifier: MIT
 */

#include <glib/gi18n-lib.h>

#include "pft-error.h"
#include "pft-init.h"
#include "pft-private.h"

/* The error domain carries extended data (a retry-after), which GLib can
 * only attach to errors made after the domain was registered. GJS and
 * PyGObject build Pft errors from the typelib's quark without calling
 * pft_error_quark(), so register it as soon as the library is loaded. */
__attribute__((constructor)) static void
pft_register_error_domain (void)
{
  (void) pft_error_quark ();
}

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
 *
 * Since: 0.1
 */
const char *
pft_get_version_string (void)
{
  return PFT_VERSION_STRING;
}

int
_pft_strptr_cmp (const char **a,
                 const char **b)
{
  return g_strcmp0 (*a, *b);
}

/* Returns a new a{sv} holding @base's entries overlaid with @over's (either
 * may be NULL). */
GVariant *
_pft_params_merge (GVariant *base,
                   GVariant *over)
{
  GVariantDict dict;

  if (over == NULL || g_variant_n_children (over) == 0)
    return base != NULL ? g_variant_ref (base) : g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  if (base == NULL || g_variant_n_children (base) == 0)
    return g_variant_ref (over);

  g_variant_dict_init (&dict, base);
  {
    GVariantIter iter;
    const char *key;
    GVariant *value;

    g_variant_iter_init (&iter, over);
    while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
      {
        g_variant_dict_insert_value (&dict, key, value);
        g_variant_unref (value);
      }
  }
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}
