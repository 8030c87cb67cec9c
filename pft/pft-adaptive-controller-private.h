/* pft-adaptive-controller-private.h: the concurrency controller of the
 * adaptive node and the adaptive batch flow (internal)
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib-object.h>

#include "pft-types.h"
#include "pft-presets.h"

G_BEGIN_DECLS

/* Backs off on rate-limit errors and recovers after runs of successes,
 * resizing the owner's live limiter in place (docs/throttling.md, "The
 * adaptive controller", explains the policy). Thread-safe. */
typedef struct _PftAdaptiveController PftAdaptiveController;

/* The properties the controller adds to its owner's class, in this order
 * from the first id the owner gives. Flows use the "-flows" names. */
enum
{
  PFT_ADAPTIVE_CONTROLLER_PROP_INITIAL_CONCURRENT,
  PFT_ADAPTIVE_CONTROLLER_PROP_MIN_CONCURRENT,
  PFT_ADAPTIVE_CONTROLLER_PROP_BACKOFF_FACTOR,
  PFT_ADAPTIVE_CONTROLLER_PROP_RECOVERY_THRESHOLD,
  PFT_ADAPTIVE_CONTROLLER_PROP_RECOVERY_FACTOR,
  PFT_ADAPTIVE_CONTROLLER_PROP_PROPAGATE_RATE_LIMIT,
  PFT_ADAPTIVE_CONTROLLER_PROP_CURRENT_CONCURRENT,
  PFT_ADAPTIVE_CONTROLLER_PROP_TOTAL_SUCCESSES,
  PFT_ADAPTIVE_CONTROLLER_PROP_TOTAL_RATE_LIMITS,
  PFT_ADAPTIVE_CONTROLLER_PROP_CONSECUTIVE_SUCCESSES,
  PFT_ADAPTIVE_CONTROLLER_N_PROPS
};

typedef struct
{
  guint  initial_concurrent;
  guint  min_concurrent;
  guint  max_concurrent;
  double backoff_factor;
  guint  recovery_threshold;
  double recovery_factor;
} PftAdaptiveControllerDefaults;

/* Installs the properties above on @klass from @first_prop_id and fills
 * @pspecs (PFT_ADAPTIVE_CONTROLLER_N_PROPS) for notifications. */
void     _pft_adaptive_controller_install_properties (GObjectClass  *klass,
                                                      guint          first_prop_id,
                                                      gboolean       for_flows,
                                                      GParamSpec   **pspecs);

/* @owner is not referenced: the owner frees the controller in finalize. */
PftAdaptiveController *
         _pft_adaptive_controller_new                (GObject       *owner,
                                                      GParamSpec   **pspecs,
                                                      const PftAdaptiveControllerDefaults *defaults);
void     _pft_adaptive_controller_free               (PftAdaptiveController *self);

/* Property offsets are from the first id given to install_properties();
 * FALSE for an offset that is not the controller's. */
gboolean _pft_adaptive_controller_get_property       (PftAdaptiveController *self,
                                                      guint          offset,
                                                      GValue        *value);
gboolean _pft_adaptive_controller_set_property       (PftAdaptiveController *self,
                                                      guint          offset,
                                                      const GValue  *value);

/* The limiter to resize (nullable). With @adopt (a shared limiter), the
 * controller starts from the limiter's size instead of imposing its own. */
void     _pft_adaptive_controller_set_limiter        (PftAdaptiveController *self,
                                                      PftRateLimiter *limiter,
                                                      gboolean       adopt);
void     _pft_adaptive_controller_set_max_concurrent (PftAdaptiveController *self,
                                                      guint          max_concurrent);
/* Forgets counters and learnt walls, back to initial-concurrent. */
void     _pft_adaptive_controller_reset              (PftAdaptiveController *self);
void     _pft_adaptive_controller_apply_preset       (PftAdaptiveController *self,
                                                      PftPreset     *preset);

guint    _pft_adaptive_controller_get_current        (PftAdaptiveController *self);
guint64  _pft_adaptive_controller_get_total_successes   (PftAdaptiveController *self);
guint64  _pft_adaptive_controller_get_total_rate_limits (PftAdaptiveController *self);
guint    _pft_adaptive_controller_get_consecutive_successes (PftAdaptiveController *self);
gboolean _pft_adaptive_controller_get_propagate      (PftAdaptiveController *self);

/* Events from the dispatcher. An attempt reads the epoch when it starts
 * and passes it back: a rate limit from an attempt started before the
 * last back-off counts but does not back off again. */
guint64  _pft_adaptive_controller_get_epoch          (PftAdaptiveController *self);
void     _pft_adaptive_controller_success            (PftAdaptiveController *self,
                                                      guint          in_flight,
                                                      guint64        epoch);
void     _pft_adaptive_controller_rate_limited       (PftAdaptiveController *self,
                                                      guint64        epoch);
/* FALSE with PFT_ERROR_INVALID_ARGUMENT when min-concurrent is above
 * max-concurrent: a run does not start with knobs that contradict. */
gboolean _pft_adaptive_controller_check              (PftAdaptiveController  *self,
                                                      GError        **error);

G_END_DECLS
