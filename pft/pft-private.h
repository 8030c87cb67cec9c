/* pft-private.h: library-internal helpers, never installed
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft-types.h"

G_BEGIN_DECLS

void        _pft_init_i18n            (void);
/* A G_IO_ERROR_CANCELLED error with GLib's own message, translated in
 * GLib's domain rather than re-translated in Pft's. */
GError     *_pft_error_new_cancelled  (void);
int         _pft_strptr_cmp           (const char **a,
                                       const char **b);

/* Params */
GVariant   *_pft_params_merge         (GVariant     *base,
                                       GVariant     *over);

/* PftValues */
void        _pft_values_take_at       (PftValues    *self,
                                       guint         index_,
                                       GValue       *value);
void        _pft_values_set_length    (PftValues    *self,
                                       guint         length);


/* Calls @func (@data) once, from an idle on @context, when @cancellable
 * is cancelled (at once if it already is); @notify frees @data when the
 * cancellable goes. See pft-cancel-watch.c. */
void        _pft_cancel_watch_connect (GMainContext  *context,
                                       GCancellable  *cancellable,
                                       GSourceFunc    func,
                                       gpointer       data,
                                       GDestroyNotify notify);

G_END_DECLS
