/* pft-limits-private.h: the rules for the numbers a user gives a limiter
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One rule per limit, for every door. FALSE with
 * PFT_ERROR_INVALID_ARGUMENT naming the key and the value. */

#define PFT_WINDOW_MIN 1e-6
#define PFT_WINDOW_MAX 1e9

gboolean   _pft_limit_check_window      (double          window,
                                         GError        **error);
/* @key: "max-concurrent", "max-per-window", "max-cost-per-window" or
 * "burst". */
gboolean   _pft_limit_check_uint        (const char     *key,
                                         guint64         value,
                                         GError        **error);
gboolean   _pft_limit_uint_range        (const char     *key,
                                         guint64        *min,
                                         guint64        *max);

/* A bad number from C code: reported as g_return_if_fail() would, with
 * the rule's own message (@func: G_STRFUNC). Consumes @error; TRUE when
 * it is NULL. */
gboolean   _pft_limit_ok_or_critical    (const char     *func,
                                         GError         *error);

#define PFT_LIMIT_RETURN_IF_BAD_UINT(key, value) \
  G_STMT_START { \
    GError *limit_error_ = NULL; \
    _pft_limit_check_uint ((key), (value), &limit_error_); \
    if (!_pft_limit_ok_or_critical (G_STRFUNC, limit_error_)) \
      return; \
  } G_STMT_END

G_END_DECLS
