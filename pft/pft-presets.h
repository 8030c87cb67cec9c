/* pft-presets.h: named rate-limit settings for popular providers
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-types.h"

G_BEGIN_DECLS

/**
 * PftPresetKind:
 * @PFT_PRESET_KIND_NODE: limits for the calls of a node (requests to an
 *   API): pocketflow-throttled's `Presets`
 * @PFT_PRESET_KIND_FLOW: limits for sub-flow instances of a throttled batch
 *   flow: pocketflow-throttled's `FlowPresets`
 * @PFT_PRESET_KIND_ADAPTIVE_FLOW: starting point and bounds for an adaptive
 *   batch flow: pocketflow-throttled's `FlowPresets.ADAPTIVE_*`; the
 *   adaptive properties of [class@Pft.Preset] are meaningful only for this
 *   kind
 *
 * What a [class@Pft.Preset] is meant to configure.
 *
 * Since: 0.1
 */
typedef enum {
  PFT_PRESET_KIND_NODE,
  PFT_PRESET_KIND_FLOW,
  PFT_PRESET_KIND_ADAPTIVE_FLOW,
} PftPresetKind;

#define PFT_TYPE_PRESET (pft_preset_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (PftPreset, pft_preset, PFT, PRESET, GObject)

PFT_AVAILABLE_IN_ALL
PftPreset      *pft_presets_lookup                 (const char     *name,
                                                    GError        **error);
PFT_AVAILABLE_IN_ALL
char          **pft_presets_list                   (void);

PFT_AVAILABLE_IN_ALL
const char     *pft_preset_get_name                (PftPreset      *self);
PFT_AVAILABLE_IN_ALL
const char     *pft_preset_get_description         (PftPreset      *self);
PFT_AVAILABLE_IN_ALL
PftPresetKind   pft_preset_get_kind                (PftPreset      *self);
PFT_AVAILABLE_IN_ALL
guint           pft_preset_get_max_concurrent      (PftPreset      *self);
PFT_AVAILABLE_IN_ALL
guint           pft_preset_get_max_per_minute      (PftPreset      *self);
PFT_AVAILABLE_IN_ALL
guint           pft_preset_get_initial_concurrent  (PftPreset      *self);
PFT_AVAILABLE_IN_ALL
guint           pft_preset_get_min_concurrent      (PftPreset      *self);
PFT_AVAILABLE_IN_ALL
double          pft_preset_get_backoff_factor      (PftPreset      *self);
PFT_AVAILABLE_IN_ALL
guint           pft_preset_get_recovery_threshold  (PftPreset      *self);
PFT_AVAILABLE_IN_ALL
double          pft_preset_get_recovery_factor     (PftPreset      *self);

PFT_AVAILABLE_IN_ALL
void            pft_preset_apply_to_limiter        (PftPreset      *self,
                                                    PftRateLimiter *limiter);
PFT_AVAILABLE_IN_ALL
PftRateLimiter *pft_preset_new_limiter             (PftPreset      *self);

/* Defined with the presets: the limiter itself knows nothing of them. */
PFT_AVAILABLE_IN_ALL
PftRateLimiter *pft_rate_limiter_new_for_preset    (const char     *preset,
                                                    GError        **error);

G_END_DECLS
