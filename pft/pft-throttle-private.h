/* pft-throttle-private.h: what throttled and adaptive nodes and flows
 * share: the limiter they run under, their stats and progress, and the
 * adaptive controller
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft-dispatch-private.h"
#include "pft-adaptive-controller-private.h"

G_BEGIN_DECLS

/* The properties a throttle adds to its owner's class, in this order from
 * the first id the owner gives. Flows use the "-flows" names. */
enum
{
  PFT_THROTTLE_PROP_MAX_PER_MINUTE,
  PFT_THROTTLE_PROP_LIMITER,
  PFT_THROTTLE_PROP_CONTINUE_ON_ERROR,
  PFT_THROTTLE_PROP_RATE_LIMIT_RETRIES,
  PFT_THROTTLE_PROP_TOKEN_COST,
  PFT_THROTTLE_PROP_COMPLETED,
  PFT_THROTTLE_PROP_FAILED,
  PFT_THROTTLE_PROP_TOTAL,
  PFT_THROTTLE_N_PROPS
};

typedef struct
{
  guint max_concurrent;
  guint max_per_minute;
} PftThrottleDefaults;

/* Throttle */
void         _pft_throttle_install_properties (GObjectClass   *klass,
                                               guint           first_prop_id,
                                               gboolean        for_flows,
                                               GParamSpec    **pspecs);
guint        _pft_throttle_install_signal     (GObjectClass   *klass);
PftThrottle *_pft_throttle_new                (GObject        *owner,
                                               GParamSpec    **pspecs,
                                               guint           item_done_signal,
                                               const PftThrottleDefaults *defaults);
void         _pft_throttle_free               (PftThrottle    *throttle);
gboolean     _pft_throttle_get_property       (PftThrottle    *throttle,
                                               guint           offset,
                                               GValue         *value);
gboolean     _pft_throttle_set_property       (PftThrottle    *throttle,
                                               guint           offset,
                                               const GValue   *value);
/* The owner's max-concurrent changed. */
void         _pft_throttle_max_concurrent_changed (PftThrottle *throttle,
                                                   guint        max_concurrent);
void         _pft_node_max_concurrent_changed     (PftNode     *node,
                                                   guint        max_concurrent);
PftRateLimiter *_pft_throttle_get_limiter     (PftThrottle    *throttle);
void         _pft_throttle_set_limiter        (PftThrottle    *throttle,
                                               PftRateLimiter *limiter);
gboolean     _pft_throttle_use_limiter_named  (PftThrottle    *throttle,
                                               const char     *name,
                                               GError        **error);
gboolean     _pft_throttle_apply_preset       (PftThrottle    *throttle,
                                               const char     *name,
                                               GError        **error);
guint        _pft_throttle_get_max_per_minute (PftThrottle    *throttle);
void         _pft_throttle_set_max_per_minute (PftThrottle    *throttle,
                                               guint           max_per_minute);
gboolean     _pft_throttle_get_continue_on_error (PftThrottle *throttle);
void         _pft_throttle_set_continue_on_error (PftThrottle *throttle,
                                                  gboolean     continue_on_error);
void         _pft_throttle_reset_stats        (PftThrottle    *throttle);
guint64      _pft_throttle_get_stat           (PftThrottle    *throttle,
                                               guint           offset);
void         _pft_throttle_set_adaptive       (PftThrottle    *throttle,
                                               PftAdaptiveController *adaptive);

G_END_DECLS

G_BEGIN_DECLS
PftThrottle *_pft_throttled_batch_node_get_throttle (PftThrottledBatchNode *self);
PftThrottle *_pft_throttled_batch_flow_get_throttle (PftThrottledBatchFlow *self);
G_END_DECLS
