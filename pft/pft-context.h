/* pft-context.h: what one node invocation sees
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-types.h"

G_BEGIN_DECLS

#define PFT_TYPE_CONTEXT (pft_context_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PftContext, pft_context, PFT, CONTEXT, GObject)

PFT_AVAILABLE_IN_ALL
PftStore     *pft_context_get_store       (PftContext *self);
PFT_AVAILABLE_IN_ALL
GVariant     *pft_context_get_params      (PftContext *self);
PFT_AVAILABLE_IN_ALL
GVariant     *pft_context_lookup_param    (PftContext *self,
                                           const char *key);
PFT_AVAILABLE_IN_ALL
char         *pft_context_dup_param_string (PftContext *self,
                                           const char *key);
PFT_AVAILABLE_IN_ALL
gint64        pft_context_get_param_int   (PftContext *self,
                                           const char *key,
                                           gint64      default_value);
PFT_AVAILABLE_IN_ALL
GCancellable *pft_context_get_cancellable (PftContext *self);
PFT_AVAILABLE_IN_ALL
guint         pft_context_get_attempt     (PftContext *self);
PFT_AVAILABLE_IN_ALL
gint64        pft_context_get_index       (PftContext *self);
PFT_AVAILABLE_IN_ALL
PftNode      *pft_context_get_node        (PftContext *self);
PFT_AVAILABLE_IN_ALL
GMainContext *pft_context_get_main_context (PftContext *self);

PFT_AVAILABLE_IN_ALL
void          pft_context_begin_request   (PftContext   *self);

PFT_AVAILABLE_IN_ALL
void          pft_context_return_value    (PftContext   *self,
                                           const GValue *value);
PFT_AVAILABLE_IN_ALL
void          pft_context_return_error    (PftContext   *self,
                                           GError       *error);

G_END_DECLS
