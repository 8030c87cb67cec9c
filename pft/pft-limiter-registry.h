/* pft-limiter-registry.h: named rate limiters shared across a process
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-types.h"

G_BEGIN_DECLS

#define PFT_TYPE_LIMITER_REGISTRY (pft_limiter_registry_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PftLimiterRegistry, pft_limiter_registry, PFT, LIMITER_REGISTRY, GObject)

PFT_AVAILABLE_IN_ALL
PftLimiterRegistry *pft_limiter_registry_get_default   (void);
PFT_AVAILABLE_IN_ALL
PftLimiterRegistry *pft_limiter_registry_new           (void);

PFT_AVAILABLE_IN_ALL
gboolean        pft_limiter_registry_register          (PftLimiterRegistry  *self,
                                                        const char          *name,
                                                        PftRateLimiter      *limiter,
                                                        gboolean             replace,
                                                        GError             **error);
PFT_AVAILABLE_IN_ALL
PftRateLimiter *pft_limiter_registry_register_new      (PftLimiterRegistry  *self,
                                                        const char          *name,
                                                        guint                max_concurrent,
                                                        guint                max_per_window,
                                                        double               window,
                                                        GError             **error);
PFT_AVAILABLE_IN_ALL
PftRateLimiter *pft_limiter_registry_register_preset   (PftLimiterRegistry  *self,
                                                        const char          *name,
                                                        const char          *preset_name,
                                                        GError             **error);
PFT_AVAILABLE_IN_ALL
PftRateLimiter *pft_limiter_registry_lookup            (PftLimiterRegistry  *self,
                                                        const char          *name,
                                                        GError             **error);
PFT_AVAILABLE_IN_ALL
PftRateLimiter *pft_limiter_registry_get_or_create     (PftLimiterRegistry  *self,
                                                        const char          *name,
                                                        guint                max_concurrent,
                                                        guint                max_per_window,
                                                        double               window);
PFT_AVAILABLE_IN_ALL
gboolean        pft_limiter_registry_remove            (PftLimiterRegistry  *self,
                                                        const char          *name);
PFT_AVAILABLE_IN_ALL
void            pft_limiter_registry_clear             (PftLimiterRegistry  *self);
PFT_AVAILABLE_IN_ALL
gboolean        pft_limiter_registry_contains          (PftLimiterRegistry  *self,
                                                        const char          *name);
PFT_AVAILABLE_IN_ALL
char          **pft_limiter_registry_dup_names         (PftLimiterRegistry  *self);
PFT_AVAILABLE_IN_ALL
char           *pft_limiter_registry_dup_name_of       (PftLimiterRegistry  *self,
                                                        PftRateLimiter      *limiter);
PFT_AVAILABLE_IN_ALL
GVariant       *pft_limiter_registry_get_stats         (PftLimiterRegistry  *self,
                                                        const char          *name,
                                                        GError             **error);
PFT_AVAILABLE_IN_ALL
GVariant       *pft_limiter_registry_get_all_stats     (PftLimiterRegistry  *self);
PFT_AVAILABLE_IN_ALL
GListModel     *pft_limiter_registry_get_model         (PftLimiterRegistry  *self);

PFT_AVAILABLE_IN_ALL
gboolean        pft_limiter_registry_load_keyfile      (PftLimiterRegistry  *self,
                                                        GKeyFile            *keyfile,
                                                        GError             **error);
PFT_AVAILABLE_IN_ALL
gboolean        pft_limiter_registry_load_from_data    (PftLimiterRegistry  *self,
                                                        const char          *data,
                                                        gssize               length,
                                                        GError             **error);
PFT_AVAILABLE_IN_ALL
gboolean        pft_limiter_registry_load_from_file    (PftLimiterRegistry  *self,
                                                        const char          *path,
                                                        GError             **error);

G_END_DECLS
