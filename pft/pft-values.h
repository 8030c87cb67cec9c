/* pft-values.h: an ordered sequence of GValues
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-types.h"

G_BEGIN_DECLS

#define PFT_TYPE_VALUES (pft_values_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PftValues, pft_values, PFT, VALUES, GObject)

PFT_AVAILABLE_IN_ALL
PftValues  *pft_values_new          (void);
PFT_AVAILABLE_IN_ALL
PftValues  *pft_values_new_sized    (guint         reserved);
PFT_AVAILABLE_IN_ALL
PftValues  *pft_values_new_from_strv (const char * const *strv);
PFT_AVAILABLE_IN_ALL
guint       pft_values_get_length   (PftValues    *self);
PFT_AVAILABLE_IN_ALL
void        pft_values_append       (PftValues    *self,
                                     const GValue *value);
PFT_AVAILABLE_IN_ALL
void        pft_values_take         (PftValues    *self,
                                     GValue       *value);
PFT_AVAILABLE_IN_ALL
void        pft_values_append_string (PftValues   *self,
                                     const char   *value);
PFT_AVAILABLE_IN_ALL
void        pft_values_append_int   (PftValues    *self,
                                     gint64        value);
PFT_AVAILABLE_IN_ALL
void        pft_values_append_double (PftValues   *self,
                                     double        value);
PFT_AVAILABLE_IN_ALL
void        pft_values_append_object (PftValues   *self,
                                     gpointer      object);
PFT_AVAILABLE_IN_ALL
void        pft_values_append_variant (PftValues  *self,
                                     GVariant     *variant);
PFT_AVAILABLE_IN_ALL
void        pft_values_get          (PftValues    *self,
                                     guint         index_,
                                     GValue       *value);
PFT_AVAILABLE_IN_ALL
const GValue *pft_values_peek       (PftValues    *self,
                                     guint         index_);
PFT_AVAILABLE_IN_ALL
void        pft_values_set          (PftValues    *self,
                                     guint         index_,
                                     const GValue *value);
PFT_AVAILABLE_IN_ALL
const char *pft_values_get_string   (PftValues    *self,
                                     guint         index_);
PFT_AVAILABLE_IN_ALL
gint64      pft_values_get_int      (PftValues    *self,
                                     guint         index_);
PFT_AVAILABLE_IN_ALL
double      pft_values_get_double   (PftValues    *self,
                                     guint         index_);
PFT_AVAILABLE_IN_ALL
gpointer    pft_values_dup_object   (PftValues    *self,
                                     guint         index_);
PFT_AVAILABLE_IN_ALL
GVariant   *pft_values_dup_variant  (PftValues    *self,
                                     guint         index_);
PFT_AVAILABLE_IN_ALL
const GError *pft_values_get_error  (PftValues    *self,
                                     guint         index_);
PFT_AVAILABLE_IN_ALL
char      **pft_values_dup_strv     (PftValues    *self);

G_END_DECLS
