/* pft-adaptive-node.c: a throttled batch node whose concurrency adapts
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-throttle-private.h"

/**
 * PftAdaptiveNode:
 *
 * A throttled batch node whose concurrency follows the provider: it
 * starts at [property@Pft.AdaptiveNode:initial-concurrent], multiplies
 * it by [property@Pft.AdaptiveNode:backoff-factor] on a rate limit (never
 * below [property@Pft.AdaptiveNode:min-concurrent]) and honours the
 * retry-after, and after [property@Pft.AdaptiveNode:recovery-threshold]
 * consecutive successes grows it by
 * [property@Pft.AdaptiveNode:recovery-factor], by at least one, up to
 * [property@Pft.BatchNode:max-concurrent] (20 here), while the limit is in
 * use. The seed's `AdaptiveThrottledNode`, with its defects fixed:
 *
 * - the live limiter is resized in place, so items already waiting obey
 *   the new value at once (the seed's queued items kept the old limiter);
 * - recovery grows by at least one (the seed's `int(4 * 1.2)` stayed 4);
 * - a rate limit absorbed by a retry or the fallback still counts;
 * - a rate-limited item is retried after the pause, not lost;
 * - the level where the last rate limit hit is remembered, and is probed
 *   again only now and then rather than at every recovery.
 *
 * The counters live on this object, the one the user holds: nodes are
 * never copied per run.
 *
 * Since: 0.1
 */

/**
 * PftAdaptiveNode:initial-concurrent:
 *
 * The concurrency to start at (and to go back to on reset).
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveNode:min-concurrent:
 *
 * The floor of back-off. It may not be above
 * [property@Pft.BatchNode:max-concurrent]: a run then fails at once with
 * [error@Pft.Error.INVALID_ARGUMENT] naming both (whatever order they were
 * set in; until then the ceiling wins).
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveNode:backoff-factor:
 *
 * The multiplier applied to the concurrency on a rate limit, in [0, 1].
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveNode:recovery-threshold:
 *
 * Consecutive successes before the concurrency grows.
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveNode:recovery-factor:
 *
 * The multiplier applied on recovery (>= 1); growth is at least one.
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveNode:propagate-rate-limit:
 *
 * Whether a rate-limited item fails at once with
 * [error@Pft.Error.RATE_LIMITED] (carrying the retry-after) instead of
 * being retried, so that an enclosing [class@Pft.AdaptiveBatchFlow] adapts
 * too. The node still backs off.
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveNode:current-concurrent:
 *
 * The concurrency in force now.
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveNode:total-successes:
 *
 * Successful attempts since the last reset.
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveNode:total-rate-limits:
 *
 * Rate-limit errors seen since the last reset, those absorbed by retries
 * or the fallback included.
 *
 * Since: 0.1
 */
/**
 * PftAdaptiveNode:consecutive-successes:
 *
 * Successes since the last rate limit or growth step.
 *
 * Since: 0.1
 */

typedef struct
{
  PftAdaptiveController *adaptive;
} PftAdaptiveNodePrivate;

G_DEFINE_TYPE_WITH_PRIVATE (PftAdaptiveNode, pft_adaptive_node, PFT_TYPE_THROTTLED_BATCH_NODE)

enum {
  PROP_0,
  PROP_FIRST_ADAPTIVE = 1000,
};

static GParamSpec *properties[PFT_ADAPTIVE_CONTROLLER_N_PROPS];

#define ADAPTIVE(self) (((PftAdaptiveNodePrivate *) pft_adaptive_node_get_instance_private (self))->adaptive)

static GObject *
pft_adaptive_node_constructor (GType                  type,
                               guint                  n_props,
                               GObjectConstructParam *props)
{
  GObject *object = G_OBJECT_CLASS (pft_adaptive_node_parent_class)->constructor (type, n_props, props);
  PftAdaptiveNodeClass *klass = g_type_class_peek (type);
  PftAdaptiveNode *self = PFT_ADAPTIVE_NODE (object);
  PftAdaptiveNodePrivate *priv = pft_adaptive_node_get_instance_private (self);
  PftAdaptiveControllerDefaults defaults = {
    .initial_concurrent = klass->default_initial_concurrent,
    .min_concurrent = klass->default_min_concurrent,
    .max_concurrent = PFT_THROTTLED_BATCH_NODE_CLASS (klass)->default_max_concurrent,
    .backoff_factor = klass->default_backoff_factor,
    .recovery_threshold = klass->default_recovery_threshold,
    .recovery_factor = klass->default_recovery_factor,
  };

  priv->adaptive = _pft_adaptive_controller_new (object, properties, &defaults);
  _pft_throttle_set_adaptive (_pft_throttled_batch_node_get_throttle (PFT_THROTTLED_BATCH_NODE (self)),
                              priv->adaptive);
  return object;
}

static void
pft_adaptive_node_finalize (GObject *object)
{
  PftAdaptiveNode *self = PFT_ADAPTIVE_NODE (object);

  g_clear_pointer (&ADAPTIVE (self), _pft_adaptive_controller_free);

  G_OBJECT_CLASS (pft_adaptive_node_parent_class)->finalize (object);
}

static void
pft_adaptive_node_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  if (!_pft_adaptive_controller_get_property (ADAPTIVE (PFT_ADAPTIVE_NODE (object)), prop_id - PROP_FIRST_ADAPTIVE, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
pft_adaptive_node_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  if (!_pft_adaptive_controller_set_property (ADAPTIVE (PFT_ADAPTIVE_NODE (object)), prop_id - PROP_FIRST_ADAPTIVE, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
pft_adaptive_node_class_init (PftAdaptiveNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructor = pft_adaptive_node_constructor;
  object_class->finalize = pft_adaptive_node_finalize;
  object_class->get_property = pft_adaptive_node_get_property;
  object_class->set_property = pft_adaptive_node_set_property;

  PFT_THROTTLED_BATCH_NODE_CLASS (klass)->default_max_concurrent = 20;
  klass->default_initial_concurrent = 5;
  klass->default_min_concurrent = 1;
  klass->default_backoff_factor = 0.5;
  klass->default_recovery_threshold = 10;
  klass->default_recovery_factor = 1.2;

  _pft_adaptive_controller_install_properties (object_class, PROP_FIRST_ADAPTIVE, FALSE, properties);
}

static void
pft_adaptive_node_init (PftAdaptiveNode *self)
{
}

/**
 * pft_adaptive_node_new:
 *
 * Creates an adaptive node with the seed's defaults (5 initial, 1 min, 20
 * max, 0.5 back-off, 10 successes, 1.2 recovery); mostly useful to
 * subclass from bindings.
 *
 * Returns: (transfer full): a new #PftAdaptiveNode
 *
 * Since: 0.1
 */
PftNode *
pft_adaptive_node_new (void)
{
  return g_object_new (PFT_TYPE_ADAPTIVE_NODE, NULL);
}

/**
 * pft_adaptive_node_get_current_concurrent:
 * @self: a #PftAdaptiveNode
 *
 * Gets the concurrency in force now.
 *
 * Returns: the concurrency
 *
 * Since: 0.1
 */
guint
pft_adaptive_node_get_current_concurrent (PftAdaptiveNode *self)
{
  g_return_val_if_fail (PFT_IS_ADAPTIVE_NODE (self), 0);

  return _pft_adaptive_controller_get_current (ADAPTIVE (self));
}

/**
 * pft_adaptive_node_get_total_successes:
 * @self: a #PftAdaptiveNode
 *
 * Counts successful attempts since the last reset.
 *
 * Returns: the count
 *
 * Since: 0.1
 */
guint64
pft_adaptive_node_get_total_successes (PftAdaptiveNode *self)
{
  g_return_val_if_fail (PFT_IS_ADAPTIVE_NODE (self), 0);

  return _pft_adaptive_controller_get_total_successes (ADAPTIVE (self));
}

/**
 * pft_adaptive_node_get_total_rate_limits:
 * @self: a #PftAdaptiveNode
 *
 * Counts rate-limit errors since the last reset, absorbed ones included.
 *
 * Returns: the count
 *
 * Since: 0.1
 */
guint64
pft_adaptive_node_get_total_rate_limits (PftAdaptiveNode *self)
{
  g_return_val_if_fail (PFT_IS_ADAPTIVE_NODE (self), 0);

  return _pft_adaptive_controller_get_total_rate_limits (ADAPTIVE (self));
}

/**
 * pft_adaptive_node_get_consecutive_successes:
 * @self: a #PftAdaptiveNode
 *
 * Counts successes since the last rate limit or growth step.
 *
 * Returns: the count
 *
 * Since: 0.1
 */
guint
pft_adaptive_node_get_consecutive_successes (PftAdaptiveNode *self)
{
  g_return_val_if_fail (PFT_IS_ADAPTIVE_NODE (self), 0);

  return _pft_adaptive_controller_get_consecutive_successes (ADAPTIVE (self));
}

/**
 * pft_adaptive_node_reset:
 * @self: a #PftAdaptiveNode
 *
 * Forgets what was learnt: the concurrency goes back to
 * initial-concurrent, the counters to 0.
 *
 * Since: 0.1
 */
void
pft_adaptive_node_reset (PftAdaptiveNode *self)
{
  g_return_if_fail (PFT_IS_ADAPTIVE_NODE (self));

  _pft_adaptive_controller_reset (ADAPTIVE (self));
}
