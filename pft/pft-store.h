/* pft-store.h: the shared store of a run
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-types.h"

G_BEGIN_DECLS

#define PFT_TYPE_STORE (pft_store_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PftStore, pft_store, PFT, STORE, GObject)

PFT_AVAILABLE_IN_ALL
PftStore   *pft_store_new          (void);
PFT_AVAILABLE_IN_ALL
void        pft_store_set_value    (PftStore     *self,
                                    const char   *key,
                                    const GValue *value);
PFT_AVAILABLE_IN_ALL
void        pft_store_lookup       (PftStore     *self,
                                    const char   *key,
                                    GValue       *value);
PFT_AVAILABLE_IN_ALL
gboolean    pft_store_contains     (PftStore     *self,
                                    const char   *key);
PFT_AVAILABLE_IN_ALL
gboolean    pft_store_remove       (PftStore     *self,
                                    const char   *key);
PFT_AVAILABLE_IN_ALL
guint       pft_store_get_size     (PftStore     *self);
PFT_AVAILABLE_IN_ALL
char      **pft_store_dup_keys     (PftStore     *self);

PFT_AVAILABLE_IN_ALL
void        pft_store_set_string   (PftStore     *self,
                                    const char   *key,
                                    const char   *value);
PFT_AVAILABLE_IN_ALL
char       *pft_store_dup_string   (PftStore     *self,
                                    const char   *key);
PFT_AVAILABLE_IN_ALL
void        pft_store_set_int      (PftStore     *self,
                                    const char   *key,
                                    gint64        value);
PFT_AVAILABLE_IN_ALL
gint64      pft_store_get_int      (PftStore     *self,
                                    const char   *key,
                                    gint64        default_value);
PFT_AVAILABLE_IN_ALL
void        pft_store_set_double   (PftStore     *self,
                                    const char   *key,
                                    double        value);
PFT_AVAILABLE_IN_ALL
double      pft_store_get_double   (PftStore     *self,
                                    const char   *key,
                                    double        default_value);
PFT_AVAILABLE_IN_ALL
void        pft_store_set_boolean  (PftStore     *self,
                                    const char   *key,
                                    gboolean      value);
PFT_AVAILABLE_IN_ALL
gboolean    pft_store_get_boolean  (PftStore     *self,
                                    const char   *key,
                                    gboolean      default_value);
PFT_AVAILABLE_IN_ALL
void        pft_store_set_object   (PftStore     *self,
                                    const char   *key,
                                    gpointer      object);
PFT_AVAILABLE_IN_ALL
gpointer    pft_store_dup_object   (PftStore     *self,
                                    const char   *key);
PFT_AVAILABLE_IN_ALL
void        pft_store_set_values   (PftStore     *self,
                                    const char   *key,
                                    PftValues    *values);
PFT_AVAILABLE_IN_ALL
PftValues  *pft_store_dup_values   (PftStore     *self,
                                    const char   *key);
PFT_AVAILABLE_IN_ALL
gint64      pft_store_add_int      (PftStore     *self,
                                    const char   *key,
                                    gint64        delta);

G_END_DECLS
