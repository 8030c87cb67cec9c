/* pft-throttled-batch-node.c: a batch node under a rate limiter
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-rate-limiter.h"
#include "pft-throttled-batch-node.h"
#include "pft-node-private.h"
#include "pft-throttle-private.h"

/**
 * PftThrottledBatchNode:
 *
 * A batch node whose items run under a [class@Pft.RateLimiter]: at most
 * [property@Pft.BatchNode:max-concurrent] at once (0: no bound, as for
 * every batch node) and at most
 * [property@Pft.ThrottledBatchNode:max-per-minute] started in any 60
 * seconds (pocketflow-throttled's `ThrottledParallelBatchNode`, defaults
 * 5 and no limit). Set [property@Pft.ThrottledBatchNode:limiter] to share a limiter
 * between nodes instead, for example one from the
 * [class@Pft.LimiterRegistry].
 *
 * Items are pulled one at a time as the limiter grants permits, so a
 * million items never make a million waiters. Every attempt takes a
 * permit (a retry is a call the provider counts), holds it while exec
 * runs, and gives it back before a retry's wait.
 *
 * A rate-limit error ([func@Pft.Error.is_rate_limit], or the node's
 * [vfunc@Pft.Node.is_rate_limit]) pauses the limiter for its retry-after,
 * for everyone who shares it, and the item is tried again after the pause
 * without using up [property@Pft.Node:max-retries], up to
 * [property@Pft.ThrottledBatchNode:rate-limit-retries] times, rather
 * than the whole batch failing on the first 429.
 *
 * With [property@Pft.ThrottledBatchNode:continue-on-error] the batch runs
 * to its end and a failed item's result is its #GError (a `G_TYPE_ERROR`
 * value in the results, as `gather(return_exceptions=True)` does);
 * otherwise the first failure cancels the batch.
 *
 * Since: 0.1
 */

/**
 * PftThrottledBatchNode:max-per-minute:
 *
 * Items started in any 60 seconds, 0 for no limit. Configures the node's
 * own limiter; ignored while [property@Pft.ThrottledBatchNode:limiter] is
 * set to a shared one.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchNode:limiter:
 *
 * The limiter the node runs under: its own unless a shared one was set.
 * Setting %NULL goes back to its own.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchNode:continue-on-error:
 *
 * Whether a failed item lets the batch go on (its result is then its
 * #GError) rather than cancel it.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchNode:rate-limit-retries:
 *
 * How many times one item is tried again after rate-limit errors, beyond
 * [property@Pft.Node:max-retries] (10).
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchNode:token-cost:
 *
 * The cost each attempt takes from the limiter's
 * [property@Pft.RateLimiter:max-cost-per-window] (estimated tokens), 0
 * for requests only.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchNode:completed:
 *
 * Items that succeeded, over all runs since the last reset.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchNode:failed:
 *
 * Items that failed for good, over all runs since the last reset.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchNode:total:
 *
 * Items of all batches started since the last reset.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchNode::item-done:
 * @self: the node
 * @index: the index of the item in its batch
 * @error: (nullable): why it failed, or %NULL when it succeeded
 *
 * Emitted on the run's main context when an item is done for good, for
 * progress bars. Cancelled items are not reported.
 *
 * Since: 0.1
 */

typedef struct
{
  PftThrottle *throttle;
} PftThrottledBatchNodePrivate;

G_DEFINE_TYPE_WITH_PRIVATE (PftThrottledBatchNode, pft_throttled_batch_node, PFT_TYPE_BATCH_NODE)

enum {
  PROP_0,
  PROP_FIRST_THROTTLE,
  N_PROPS = PROP_FIRST_THROTTLE + PFT_THROTTLE_N_PROPS
};

static GParamSpec *properties[PFT_THROTTLE_N_PROPS];
static guint item_done_signal;

#define THROTTLE(self) (((PftThrottledBatchNodePrivate *) pft_throttled_batch_node_get_instance_private (self))->throttle)

static PftThrottle *
pft_throttled_batch_node_get_throttle (PftNode *node)
{
  return THROTTLE (PFT_THROTTLED_BATCH_NODE (node));
}

static void
pft_throttled_batch_node_max_concurrent_changed (PftNode *node,
                                                  guint    max_concurrent)
{
  _pft_throttle_max_concurrent_changed (THROTTLE (PFT_THROTTLED_BATCH_NODE (node)), max_concurrent);
}

static GObject *
pft_throttled_batch_node_constructor (GType                  type,
                                      guint                  n_props,
                                      GObjectConstructParam *props)
{
  GObject *object = G_OBJECT_CLASS (pft_throttled_batch_node_parent_class)->constructor (type, n_props, props);
  PftThrottledBatchNodeClass *klass = g_type_class_peek (type);
  PftThrottledBatchNode *self = PFT_THROTTLED_BATCH_NODE (object);
  PftThrottledBatchNodePrivate *priv = pft_throttled_batch_node_get_instance_private (self);
  PftThrottleDefaults defaults = { klass->default_max_concurrent, klass->default_max_per_minute };

  /* Here, not in init: only now is the class the final one, whose
   * class_init may have changed the defaults; properties given to
   * g_object_new() are set after this and win. */
  priv->throttle = _pft_throttle_new (object, properties, item_done_signal, &defaults);
  pft_batch_node_set_max_concurrent (PFT_BATCH_NODE (self), MAX (defaults.max_concurrent, 1));
  return object;
}

static void
pft_throttled_batch_node_finalize (GObject *object)
{
  PftThrottledBatchNode *self = PFT_THROTTLED_BATCH_NODE (object);

  g_clear_pointer (&THROTTLE (self), _pft_throttle_free);

  G_OBJECT_CLASS (pft_throttled_batch_node_parent_class)->finalize (object);
}

static void
pft_throttled_batch_node_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  PftThrottledBatchNode *self = PFT_THROTTLED_BATCH_NODE (object);

  if (!_pft_throttle_get_property (THROTTLE (self), prop_id - PROP_FIRST_THROTTLE, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
pft_throttled_batch_node_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  PftThrottledBatchNode *self = PFT_THROTTLED_BATCH_NODE (object);

  if (!_pft_throttle_set_property (THROTTLE (self), prop_id - PROP_FIRST_THROTTLE, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
pft_throttled_batch_node_class_init (PftThrottledBatchNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  PftNodeClassPrivate *hooks = _pft_node_class_get_private (klass);

  hooks->get_throttle = pft_throttled_batch_node_get_throttle;
  hooks->max_concurrent_changed = pft_throttled_batch_node_max_concurrent_changed;

  object_class->constructor = pft_throttled_batch_node_constructor;
  object_class->finalize = pft_throttled_batch_node_finalize;
  object_class->get_property = pft_throttled_batch_node_get_property;
  object_class->set_property = pft_throttled_batch_node_set_property;

  klass->default_max_concurrent = 5;
  klass->default_max_per_minute = 0;

  _pft_throttle_install_properties (object_class, PROP_FIRST_THROTTLE, FALSE, properties);
  item_done_signal = _pft_throttle_install_signal (object_class);
}

static void
pft_throttled_batch_node_init (PftThrottledBatchNode *self)
{
}

/**
 * pft_throttled_batch_node_new:
 * @max_concurrent: items in flight at once, >= 1
 * @max_per_minute: items started in any 60 seconds, 0 for no limit
 *
 * Creates a throttled batch node with its own limiter; mostly useful to
 * subclass from bindings, or with a shared limiter set afterwards.
 *
 * Returns: (transfer full): a new #PftThrottledBatchNode
 *
 * Since: 0.1
 */
PftNode *
pft_throttled_batch_node_new (guint max_concurrent,
                              guint max_per_minute)
{
  g_return_val_if_fail (max_concurrent >= 1, NULL);

  return g_object_new (PFT_TYPE_THROTTLED_BATCH_NODE,
                       "max-concurrent", max_concurrent,
                       "max-per-minute", max_per_minute,
                       NULL);
}

/**
 * pft_throttled_batch_node_get_max_per_minute:
 * @self: a #PftThrottledBatchNode
 *
 * Gets the per-minute limit of the node's own limiter.
 *
 * Returns: items started in any 60 seconds, 0 for no limit
 *
 * Since: 0.1
 */
guint
pft_throttled_batch_node_get_max_per_minute (PftThrottledBatchNode *self)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_NODE (self), 0);

  return _pft_throttle_get_max_per_minute (THROTTLE (self));
}

/**
 * pft_throttled_batch_node_set_max_per_minute:
 * @self: a #PftThrottledBatchNode
 * @max_per_minute: items started in any 60 seconds, 0 for no limit
 *
 * Sets the per-minute limit of the node's own limiter; a run under way
 * obeys it at once, and the calls of the last minute still count.
 *
 * Since: 0.1
 */
void
pft_throttled_batch_node_set_max_per_minute (PftThrottledBatchNode *self,
                                             guint                  max_per_minute)
{
  g_return_if_fail (PFT_IS_THROTTLED_BATCH_NODE (self));

  _pft_throttle_set_max_per_minute (THROTTLE (self), max_per_minute);
}

/**
 * pft_throttled_batch_node_get_limiter:
 * @self: a #PftThrottledBatchNode
 *
 * Gets the limiter the node runs under.
 *
 * Returns: (transfer none): the shared limiter if one was set, else the
 *   node's own
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_throttled_batch_node_get_limiter (PftThrottledBatchNode *self)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_NODE (self), NULL);

  return _pft_throttle_get_limiter (THROTTLE (self));
}

/**
 * pft_throttled_batch_node_set_limiter:
 * @self: a #PftThrottledBatchNode
 * @limiter: (nullable): a limiter to share, or %NULL for the node's own
 *
 * Runs the node under @limiter, shared with whoever else uses it. Runs
 * under way keep the limiter they started with.
 *
 * Since: 0.1
 */
void
pft_throttled_batch_node_set_limiter (PftThrottledBatchNode *self,
                                      PftRateLimiter        *limiter)
{
  g_return_if_fail (PFT_IS_THROTTLED_BATCH_NODE (self));
  g_return_if_fail (limiter == NULL || PFT_IS_RATE_LIMITER (limiter));

  _pft_throttle_set_limiter (THROTTLE (self), limiter);
}

/**
 * pft_throttled_batch_node_use_registry_limiter:
 * @self: a #PftThrottledBatchNode
 * @name: the name of a limiter in the default [class@Pft.LimiterRegistry]
 * @error: return location for a #GError
 *
 * Runs the node under the registry's limiter @name.
 *
 * Returns: %TRUE on success; %FALSE with [error@Pft.Error.NOT_FOUND] when
 *   no limiter has that name
 *
 * Since: 0.1
 */
gboolean
pft_throttled_batch_node_use_registry_limiter (PftThrottledBatchNode  *self,
                                               const char             *name,
                                               GError                **error)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_NODE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  return _pft_throttle_use_limiter_named (THROTTLE (self), name, error);
}

/**
 * pft_throttled_batch_node_apply_preset:
 * @self: a #PftThrottledBatchNode
 * @name: a preset name, such as "openai_tier1" (case does not matter)
 * @error: return location for a #GError
 *
 * Sets max-concurrent and max-per-minute (and, for an adaptive node, its
 * adaptive knobs) from a preset; see [func@Pft.presets_lookup].
 *
 * Returns: %TRUE on success; %FALSE with [error@Pft.Error.NOT_FOUND],
 *   whose message lists the valid names
 *
 * Since: 0.1
 */
gboolean
pft_throttled_batch_node_apply_preset (PftThrottledBatchNode  *self,
                                       const char             *name,
                                       GError                **error)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_NODE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  return _pft_throttle_apply_preset (THROTTLE (self), name, error);
}

/**
 * pft_throttled_batch_node_get_continue_on_error:
 * @self: a #PftThrottledBatchNode
 *
 * Gets whether a failed item lets the batch go on.
 *
 * Returns: the setting
 *
 * Since: 0.1
 */
gboolean
pft_throttled_batch_node_get_continue_on_error (PftThrottledBatchNode *self)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_NODE (self), FALSE);

  return _pft_throttle_get_continue_on_error (THROTTLE (self));
}

/**
 * pft_throttled_batch_node_set_continue_on_error:
 * @self: a #PftThrottledBatchNode
 * @continue_on_error: whether a failed item lets the batch go on
 *
 * Sets the error policy; see [property@Pft.ThrottledBatchNode:continue-on-error].
 *
 * Since: 0.1
 */
void
pft_throttled_batch_node_set_continue_on_error (PftThrottledBatchNode *self,
                                                gboolean               continue_on_error)
{
  g_return_if_fail (PFT_IS_THROTTLED_BATCH_NODE (self));

  _pft_throttle_set_continue_on_error (THROTTLE (self), continue_on_error);
}

/**
 * pft_throttled_batch_node_get_completed:
 * @self: a #PftThrottledBatchNode
 *
 * Counts the items that succeeded since the last reset.
 *
 * Returns: the count
 *
 * Since: 0.1
 */
guint64
pft_throttled_batch_node_get_completed (PftThrottledBatchNode *self)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_NODE (self), 0);

  return _pft_throttle_get_stat (THROTTLE (self), PFT_THROTTLE_PROP_COMPLETED);
}

/**
 * pft_throttled_batch_node_get_failed:
 * @self: a #PftThrottledBatchNode
 *
 * Counts the items that failed for good since the last reset.
 *
 * Returns: the count
 *
 * Since: 0.1
 */
guint64
pft_throttled_batch_node_get_failed (PftThrottledBatchNode *self)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_NODE (self), 0);

  return _pft_throttle_get_stat (THROTTLE (self), PFT_THROTTLE_PROP_FAILED);
}

/**
 * pft_throttled_batch_node_get_total:
 * @self: a #PftThrottledBatchNode
 *
 * Counts the items of the batches started since the last reset.
 *
 * Returns: the count
 *
 * Since: 0.1
 */
guint64
pft_throttled_batch_node_get_total (PftThrottledBatchNode *self)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_NODE (self), 0);

  return _pft_throttle_get_stat (THROTTLE (self), PFT_THROTTLE_PROP_TOTAL);
}

/**
 * pft_throttled_batch_node_reset_stats:
 * @self: a #PftThrottledBatchNode
 *
 * Sets completed, failed and total back to 0.
 *
 * Since: 0.1
 */
void
pft_throttled_batch_node_reset_stats (PftThrottledBatchNode *self)
{
  g_return_if_fail (PFT_IS_THROTTLED_BATCH_NODE (self));

  _pft_throttle_reset_stats (THROTTLE (self));
}
