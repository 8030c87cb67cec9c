/* pft-limits.c: the rules for the numbers a user gives a limiter
 *
 * SPDX-License-Identifier: MIT
 */

#include <glib/gi18n-lib.h>

#include "pft-error.h"
#include "pft-limits-private.h"

/* The numbers a user gives a limiter.
 *
 * One rule per limit, used by every door: the constructor and the setters
 * (bad numbers there are programmer errors: a critical naming the key and
 * the value, nothing changes), properties (GObject's own warning from the
 * same bounds in the GParamSpecs, nothing changes),
 * the registry (PFT_ERROR_INVALID_ARGUMENT) and the key-file loader
 * (PFT_ERROR_PARSE with the file's line). The bounds match the
 * properties' GParamSpecs. */

typedef struct
{
  const char *key;
  guint64     min;
  guint64     max;
} PftUintLimit;

static const PftUintLimit pft_limits_uint[] = {
  { "max-concurrent",      1, G_MAXUINT },
  { "max-per-window",      0, G_MAXUINT },
  { "max-cost-per-window", 0, G_MAXUINT64 },
  { "burst",               1, G_MAXUINT },
};

gboolean
_pft_limit_uint_range (const char *key,
                       guint64    *min,
                       guint64    *max)
{
  for (guint i = 0; i < G_N_ELEMENTS (pft_limits_uint); i++)
    if (g_str_equal (pft_limits_uint[i].key, key))
      {
        *min = pft_limits_uint[i].min;
        *max = pft_limits_uint[i].max;
        return TRUE;
      }
  return FALSE;
}

gboolean
_pft_limit_check_uint (const char  *key,
                       guint64      value,
                       GError     **error)
{
  guint64 min = 0, max = G_MAXUINT64;
  g_autofree char *v = NULL, *min_s = NULL, *max_s = NULL;

  if (!_pft_limit_uint_range (key, &min, &max))
    g_return_val_if_reached (FALSE);
  if (value >= min && value <= max)
    return TRUE;

  /* Numbers pre-formatted: xgettext cannot see through G_GUINT64_FORMAT. */
  v = g_strdup_printf ("%" G_GUINT64_FORMAT, value);
  min_s = g_strdup_printf ("%" G_GUINT64_FORMAT, min);
  max_s = g_strdup_printf ("%" G_GUINT64_FORMAT, max);
  g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
               /* Translators: "max-concurrent = 0 is out of range: ..." */
               _("%s = %s is out of range: it must be a whole number from %s to %s"),
               key, v, min_s, max_s);
  return FALSE;
}

gboolean
_pft_limit_check_window (double   window,
                         GError **error)
{
  char v[G_ASCII_DTOSTR_BUF_SIZE], min_s[G_ASCII_DTOSTR_BUF_SIZE], max_s[G_ASCII_DTOSTR_BUF_SIZE];

  /* Written so that NaN fails too. */
  if (window >= PFT_WINDOW_MIN && window <= PFT_WINDOW_MAX)
    return TRUE;

  g_ascii_formatd (v, sizeof v, "%g", window);
  g_ascii_formatd (min_s, sizeof min_s, "%g", PFT_WINDOW_MIN);
  g_ascii_formatd (max_s, sizeof max_s, "%g", PFT_WINDOW_MAX);
  g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
               _("window = %s is out of range: it must be a number of seconds from %s to %s"),
               v, min_s, max_s);
  return FALSE;
}

gboolean
_pft_limit_ok_or_critical (const char *func,
                           GError     *error)
{
  if (error == NULL)
    return TRUE;
  g_critical ("%s: %s", func, error->message);
  g_error_free (error);
  return FALSE;
}
