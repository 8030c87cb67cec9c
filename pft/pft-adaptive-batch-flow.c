/* pft-adaptive-batch-flow.c: a throttled batch flow whose concurrency adapts
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-throttle-private.h"

/**
 * PftAdaptiveBatchFlow:
 *
 * A throttled batch flow whose walk concurrency adapts, with the same
 * controller as [class@Pft.AdaptiveNode] (the seed's
 * `AdaptiveThrottledBatchFlow`): walks that fail with a rate-limit error
 * (for example from an inner [class@Pft.AdaptiveNode] with
 * [property@Pft.AdaptiveNode:propagate-rate-limit]) back the flow off and
 * run again after the pause; successful walks make it recover.
 *
 * Since: 0.1
 */

/**
 * PftAdaptiveBatchFlow:initial-concurrent-flows:
 *
 * The walk concurrency to start at (and to go back to on reset).
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveBatchFlow:min-concurrent-flows:
 *
 * The floor of back-off. It may not be above
 * [property@Pft.ThrottledBatchFlow:max-concurrent-flows]: a run then fails at once with
 * [error@Pft.Error.INVALID_ARGUMENT] naming both (whatever order they were
 * set in; until then the ceiling wins).
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveBatchFlow:backoff-factor:
 *
 * The multiplier applied to the concurrency on a rate limit, in [0, 1].
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveBatchFlow:recovery-threshold:
 *
 * Consecutive successful walks before the concurrency grows.
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveBatchFlow:recovery-factor:
 *
 * The multiplier applied on recovery (>= 1); growth is at least one.
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveBatchFlow:propagate-rate-limit:
 *
 * Whether a rate-limited walk fails at once with
 * [error@Pft.Error.RATE_LIMITED] instead of running again, so that an
 * enclosing adaptive flow adapts too.
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveBatchFlow:current-concurrent-flows:
 *
 * The walk concurrency in force now.
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveBatchFlow:total-successes:
 *
 * Successful walks since the last reset.
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveBatchFlow:total-rate-limits:
 *
 * Rate-limited walks since the last reset.
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveBatchFlow:consecutive-successes:
 *
 * Successful walks since the last rate limit or growth step.
 *
 * Since: 0.1
 */

typedef struct
{
  PftAdaptiveController *adaptive;
} PftAdaptiveBatchFlowPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (PftAdaptiveBatchFlow, pft_adaptive_batch_flow, PFT_TYPE_THROTTLED_BATCH_FLOW)

enum {
  PROP_0,
  PROP_FIRST_ADAPTIVE = 1000,
};

static GParamSpec *properties[PFT_ADAPTIVE_CONTROLLER_N_PROPS];

#define ADAPTIVE(self) (((PftAdaptiveBatchFlowPrivate *) pft_adaptive_batch_flow_get_instance_private (self))->adaptive)

static GObject *
pft_adaptive_batch_flow_constructor (GType                  type,
                                     guint                  n_props,
                                     GObjectConstructParam *props)
{
  GObject *object = G_OBJECT_CLASS (pft_adaptive_batch_flow_parent_class)->constructor (type, n_props, props);
  PftAdaptiveBatchFlowClass *klass = g_type_class_peek (type);
  PftAdaptiveBatchFlow *self = PFT_ADAPTIVE_BATCH_FLOW (object);
  PftAdaptiveBatchFlowPrivate *priv = pft_adaptive_batch_flow_get_instance_private (self);
  PftAdaptiveControllerDefaults defaults = {
    .initial_concurrent = klass->default_initial_concurrent_flows,
    .min_concurrent = klass->default_min_concurrent_flows,
    .max_concurrent = PFT_THROTTLED_BATCH_FLOW_CLASS (klass)->default_max_concurrent_flows,
    .backoff_factor = klass->default_backoff_factor,
    .recovery_threshold = klass->default_recovery_threshold,
    .recovery_factor = klass->default_recovery_factor,
  };

  priv->adaptive = _pft_adaptive_controller_new (object, properties, &defaults);
  _pft_throttle_set_adaptive (_pft_throttled_batch_flow_get_throttle (PFT_THROTTLED_BATCH_FLOW (self)),
                              priv->adaptive);
  return object;
}

static void
pft_adaptive_batch_flow_finalize (GObject *object)
{
  PftAdaptiveBatchFlow *self = PFT_ADAPTIVE_BATCH_FLOW (object);

  g_clear_pointer (&ADAPTIVE (self), _pft_adaptive_controller_free);

  G_OBJECT_CLASS (pft_adaptive_batch_flow_parent_class)->finalize (object);
}

static void
pft_adaptive_batch_flow_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  if (!_pft_adaptive_controller_get_property (ADAPTIVE (PFT_ADAPTIVE_BATCH_FLOW (object)), prop_id - PROP_FIRST_ADAPTIVE, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
pft_adaptive_batch_flow_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  if (!_pft_adaptive_controller_set_property (ADAPTIVE (PFT_ADAPTIVE_BATCH_FLOW (object)), prop_id - PROP_FIRST_ADAPTIVE, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
pft_adaptive_batch_flow_class_init (PftAdaptiveBatchFlowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructor = pft_adaptive_batch_flow_constructor;
  object_class->finalize = pft_adaptive_batch_flow_finalize;
  object_class->get_property = pft_adaptive_batch_flow_get_property;
  object_class->set_property = pft_adaptive_batch_flow_set_property;

  PFT_THROTTLED_BATCH_FLOW_CLASS (klass)->default_max_concurrent_flows = 20;
  klass->default_initial_concurrent_flows = 5;
  klass->default_min_concurrent_flows = 1;
  klass->default_backoff_factor = 0.5;
  klass->default_recovery_threshold = 10;
  klass->default_recovery_factor = 1.2;

  _pft_adaptive_controller_install_properties (object_class, PROP_FIRST_ADAPTIVE, TRUE, properties);
}

static void
pft_adaptive_batch_flow_init (PftAdaptiveBatchFlow *self)
{
}

/**
 * pft_adaptive_batch_flow_new:
 * @start: (nullable): the start node of the graph
 *
 * Creates an adaptive batch flow with the seed's defaults (5 initial, 1
 * min, 20 max walks, 0.5 back-off, 10 successes, 1.2 recovery). Its
 * default prep returns no param sets, so it is meant to be subclassed.
 *
 * Returns: (transfer full): a new #PftAdaptiveBatchFlow
 *
 * Since: 0.1
 */
PftBatchFlow *
pft_adaptive_batch_flow_new (PftNode *start)
{
  g_return_val_if_fail (start == NULL || PFT_IS_NODE (start), NULL);

  return g_object_new (PFT_TYPE_ADAPTIVE_BATCH_FLOW, "start", start, NULL);
}

/**
 * pft_adaptive_batch_flow_get_current_concurrent_flows:
 * @self: a #PftAdaptiveBatchFlow
 *
 * Gets the walk concurrency in force now.
 *
 * Returns: the concurrency
 *
 * Since: 0.1
 */
guint
pft_adaptive_batch_flow_get_current_concurrent_flows (PftAdaptiveBatchFlow *self)
{
  g_return_val_if_fail (PFT_IS_ADAPTIVE_BATCH_FLOW (self), 0);

  return _pft_adaptive_controller_get_current (ADAPTIVE (self));
}

/**
 * pft_adaptive_batch_flow_get_total_successes:
 * @self: a #PftAdaptiveBatchFlow
 *
 * Counts successful walks since the last reset.
 *
 * Returns: the count
 *
 * Since: 0.1
 */
guint64
pft_adaptive_batch_flow_get_total_successes (PftAdaptiveBatchFlow *self)
{
  g_return_val_if_fail (PFT_IS_ADAPTIVE_BATCH_FLOW (self), 0);

  return _pft_adaptive_controller_get_total_successes (ADAPTIVE (self));
}

/**
 * pft_adaptive_batch_flow_get_total_rate_limits:
 * @self: a #PftAdaptiveBatchFlow
 *
 * Counts rate-limited walks since the last reset.
 *
 * Returns: the count
 *
 * Since: 0.1
 */
guint64
pft_adaptive_batch_flow_get_total_rate_limits (PftAdaptiveBatchFlow *self)
{
  g_return_val_if_fail (PFT_IS_ADAPTIVE_BATCH_FLOW (self), 0);

  return _pft_adaptive_controller_get_total_rate_limits (ADAPTIVE (self));
}

/**
 * pft_adaptive_batch_flow_get_consecutive_successes:
 * @self: a #PftAdaptiveBatchFlow
 *
 * Counts successful walks since the last rate limit or growth step, the
 * figure compared with [property@Pft.AdaptiveBatchFlow:recovery-threshold].
 *
 * Returns: the count
 *
 * Since: 0.1
 */
guint
pft_adaptive_batch_flow_get_consecutive_successes (PftAdaptiveBatchFlow *self)
{
  g_return_val_if_fail (PFT_IS_ADAPTIVE_BATCH_FLOW (self), 0);

  return _pft_adaptive_controller_get_consecutive_successes (ADAPTIVE (self));
}

/**
 * pft_adaptive_batch_flow_reset:
 * @self: a #PftAdaptiveBatchFlow
 *
 * Forgets what was learnt: the concurrency goes back to
 * initial-concurrent, the counters to 0.
 *
 * Since: 0.1
 */
void
pft_adaptive_batch_flow_reset (PftAdaptiveBatchFlow *self)
{
  g_return_if_fail (PFT_IS_ADAPTIVE_BATCH_FLOW (self));

  _pft_adaptive_controller_reset (ADAPTIVE (self));
}
