/* pft-throttled-batch-flow.c: a batch flow under a rate limiter
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-rate-limiter.h"
#include "pft-throttled-batch-flow.h"
#include "pft-node-private.h"
#include "pft-throttle-private.h"

/**
 * PftThrottledBatchFlow:
 *
 * A batch flow whose walks (one per param set) run under a
 * [class@Pft.RateLimiter]: at most
 * [property@Pft.ThrottledBatchFlow:max-concurrent-flows] at once and at
 * most [property@Pft.ThrottledBatchFlow:max-flows-per-minute] started in
 * any 60 seconds (pocketflow-throttled's
 * `ThrottledAsyncParallelBatchFlow`, defaults 5 and no limit), or under a
 * shared [property@Pft.ThrottledBatchFlow:limiter].
 *
 * Nodes inside the walks keep their own limits, so both levels hold: 5
 * flows of 3 throttled calls never make more than 15 calls at once, nor
 * more than the inner nodes' limiter allows. A walk that fails with a
 * rate-limit error pauses the flow's limiter and runs again after the
 * pause, up to [property@Pft.ThrottledBatchFlow:rate-limit-retries] times.
 * Completed and failed walks are counted either way; with
 * [property@Pft.ThrottledBatchFlow:continue-on-error] the batch goes on
 * past failures.
 *
 * Since: 0.1
 */

/**
 * PftThrottledBatchFlow:max-concurrent-flows:
 *
 * Walks in flight at once: the same value as
 * [property@Pft.BatchFlow:max-concurrent], under pocketflow-throttled's name.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchFlow:max-flows-per-minute:
 *
 * Walks started in any 60 seconds, 0 for no limit. Configures the flow's
 * own limiter; ignored while a shared limiter is set.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchFlow:limiter:
 *
 * The limiter the walks run under: the flow's own unless a shared one
 * was set. Setting %NULL goes back to its own.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchFlow:continue-on-error:
 *
 * Whether a failed walk lets the batch go on (its result is then its
 * #GError) rather than cancel it.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchFlow:rate-limit-retries:
 *
 * How many times one walk runs again after rate-limit errors (10).
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchFlow:token-cost:
 *
 * The cost each walk takes from the limiter's
 * [property@Pft.RateLimiter:max-cost-per-window], 0 for requests only.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchFlow:completed:
 *
 * Walks that succeeded, over all runs since the last reset.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchFlow:failed:
 *
 * Walks that failed, over all runs since the last reset.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchFlow:total:
 *
 * Param sets of all batches started since the last reset.
 *
 * Since: 0.1
 */
/**
 * PftThrottledBatchFlow::item-done:
 * @self: the flow
 * @index: the index of the param set
 * @error: (nullable): why its walk failed, or %NULL when it succeeded
 *
 * Emitted on the run's main context when a walk is done for good.
 *
 * Since: 0.1
 */

typedef struct
{
  PftThrottle *throttle;
} PftThrottledBatchFlowPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (PftThrottledBatchFlow, pft_throttled_batch_flow, PFT_TYPE_BATCH_FLOW)

enum {
  PROP_0,
  PROP_MAX_CONCURRENT_FLOWS,
  PROP_FIRST_THROTTLE,
};

static GParamSpec *properties[PFT_THROTTLE_N_PROPS];
static GParamSpec *max_concurrent_flows_pspec;
static guint item_done_signal;

#define THROTTLE(self) (((PftThrottledBatchFlowPrivate *) pft_throttled_batch_flow_get_instance_private (self))->throttle)

static PftThrottle *
pft_throttled_batch_flow_get_throttle (PftNode *node)
{
  return THROTTLE (PFT_THROTTLED_BATCH_FLOW (node));
}

static void
pft_throttled_batch_flow_max_concurrent_changed (PftNode *node,
                                                 guint    max_concurrent)
{
  _pft_throttle_max_concurrent_changed (THROTTLE (PFT_THROTTLED_BATCH_FLOW (node)), max_concurrent);
}

static void
pft_throttled_batch_flow_renotify_alias (GObject    *object,
                                         GParamSpec *pspec,
                                         gpointer    user_data)
{
  g_object_notify_by_pspec (object, max_concurrent_flows_pspec);
}

static GObject *
pft_throttled_batch_flow_constructor (GType                  type,
                                      guint                  n_props,
                                      GObjectConstructParam *props)
{
  GObject *object = G_OBJECT_CLASS (pft_throttled_batch_flow_parent_class)->constructor (type, n_props, props);
  PftThrottledBatchFlowClass *klass = g_type_class_peek (type);
  PftThrottledBatchFlow *self = PFT_THROTTLED_BATCH_FLOW (object);
  PftThrottledBatchFlowPrivate *priv = pft_throttled_batch_flow_get_instance_private (self);
  PftThrottleDefaults defaults = { klass->default_max_concurrent_flows, klass->default_max_flows_per_minute };

  /* As for PftThrottledBatchNode: the final class's defaults, overridden
   * by what g_object_new() was given. */
  priv->throttle = _pft_throttle_new (object, properties, item_done_signal, &defaults);
  pft_batch_flow_set_max_concurrent (PFT_BATCH_FLOW (self), MAX (defaults.max_concurrent, 1));
  g_signal_connect (object, "notify::max-concurrent",
                    G_CALLBACK (pft_throttled_batch_flow_renotify_alias), NULL);
  return object;
}

static void
pft_throttled_batch_flow_finalize (GObject *object)
{
  PftThrottledBatchFlow *self = PFT_THROTTLED_BATCH_FLOW (object);

  g_clear_pointer (&THROTTLE (self), _pft_throttle_free);

  G_OBJECT_CLASS (pft_throttled_batch_flow_parent_class)->finalize (object);
}

static void
pft_throttled_batch_flow_get_property (GObject    *object,
                                       guint       prop_id,
                                       GValue     *value,
                                       GParamSpec *pspec)
{
  PftThrottledBatchFlow *self = PFT_THROTTLED_BATCH_FLOW (object);

  if (prop_id == PROP_MAX_CONCURRENT_FLOWS)
    g_value_set_uint (value, pft_batch_flow_get_max_concurrent (PFT_BATCH_FLOW (self)));
  else if (!_pft_throttle_get_property (THROTTLE (self), prop_id - PROP_FIRST_THROTTLE, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
pft_throttled_batch_flow_set_property (GObject      *object,
                                       guint         prop_id,
                                       const GValue *value,
                                       GParamSpec   *pspec)
{
  PftThrottledBatchFlow *self = PFT_THROTTLED_BATCH_FLOW (object);

  if (prop_id == PROP_MAX_CONCURRENT_FLOWS)
    pft_batch_flow_set_max_concurrent (PFT_BATCH_FLOW (self), MAX (g_value_get_uint (value), 1));
  else if (!_pft_throttle_set_property (THROTTLE (self), prop_id - PROP_FIRST_THROTTLE, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
pft_throttled_batch_flow_class_init (PftThrottledBatchFlowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  PftNodeClassPrivate *hooks = _pft_node_class_get_private (klass);

  hooks->get_throttle = pft_throttled_batch_flow_get_throttle;
  hooks->max_concurrent_changed = pft_throttled_batch_flow_max_concurrent_changed;

  object_class->constructor = pft_throttled_batch_flow_constructor;
  object_class->finalize = pft_throttled_batch_flow_finalize;
  object_class->get_property = pft_throttled_batch_flow_get_property;
  object_class->set_property = pft_throttled_batch_flow_set_property;

  klass->default_max_concurrent_flows = 5;
  klass->default_max_flows_per_minute = 0;

  max_concurrent_flows_pspec =
    g_param_spec_uint ("max-concurrent-flows", NULL, NULL, 1, G_MAXUINT, 5,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (object_class, PROP_MAX_CONCURRENT_FLOWS, max_concurrent_flows_pspec);
  _pft_throttle_install_properties (object_class, PROP_FIRST_THROTTLE, TRUE, properties);
  item_done_signal = _pft_throttle_install_signal (object_class);
}

static void
pft_throttled_batch_flow_init (PftThrottledBatchFlow *self)
{
}

/**
 * pft_throttled_batch_flow_new:
 * @start: (nullable): the start node of the graph
 * @max_concurrent_flows: walks in flight at once, >= 1
 * @max_flows_per_minute: walks started in any 60 seconds, 0 for no limit
 *
 * Creates a throttled batch flow with its own limiter. Its default prep
 * returns no param sets, so it is meant to be subclassed.
 *
 * Returns: (transfer full): a new #PftThrottledBatchFlow
 *
 * Since: 0.1
 */
PftBatchFlow *
pft_throttled_batch_flow_new (PftNode *start,
                              guint    max_concurrent_flows,
                              guint    max_flows_per_minute)
{
  g_return_val_if_fail (start == NULL || PFT_IS_NODE (start), NULL);
  g_return_val_if_fail (max_concurrent_flows >= 1, NULL);

  return g_object_new (PFT_TYPE_THROTTLED_BATCH_FLOW,
                       "start", start,
                       "max-concurrent-flows", max_concurrent_flows,
                       "max-flows-per-minute", max_flows_per_minute,
                       NULL);
}

/**
 * pft_throttled_batch_flow_get_max_flows_per_minute:
 * @self: a #PftThrottledBatchFlow
 *
 * Gets the per-minute limit of the flow's own limiter,
 * [property@Pft.ThrottledBatchFlow:max-flows-per-minute].
 *
 * Returns: walks started in any 60 seconds, 0 for no limit
 *
 * Since: 0.1
 */
guint
pft_throttled_batch_flow_get_max_flows_per_minute (PftThrottledBatchFlow *self)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_FLOW (self), 0);

  return _pft_throttle_get_max_per_minute (THROTTLE (self));
}

/**
 * pft_throttled_batch_flow_set_max_flows_per_minute:
 * @self: a #PftThrottledBatchFlow
 * @max_flows_per_minute: walks started in any 60 seconds, 0 for no limit
 *
 * Sets the per-minute limit of the flow's own limiter; a run under way
 * obeys it at once, and the walks of the last minute still count.
 *
 * Since: 0.1
 */
void
pft_throttled_batch_flow_set_max_flows_per_minute (PftThrottledBatchFlow *self,
                                                   guint                  max_flows_per_minute)
{
  g_return_if_fail (PFT_IS_THROTTLED_BATCH_FLOW (self));

  _pft_throttle_set_max_per_minute (THROTTLE (self), max_flows_per_minute);
}

/**
 * pft_throttled_batch_flow_get_limiter:
 * @self: a #PftThrottledBatchFlow
 *
 * Gets the limiter the walks run under.
 *
 * Returns: (transfer none): the shared limiter if one was set, else the
 *   flow's own
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_throttled_batch_flow_get_limiter (PftThrottledBatchFlow *self)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_FLOW (self), NULL);

  return _pft_throttle_get_limiter (THROTTLE (self));
}

/**
 * pft_throttled_batch_flow_set_limiter:
 * @self: a #PftThrottledBatchFlow
 * @limiter: (nullable): a limiter to share, or %NULL for the flow's own
 *
 * Runs the walks under @limiter.
 *
 * Since: 0.1
 */
void
pft_throttled_batch_flow_set_limiter (PftThrottledBatchFlow *self,
                                      PftRateLimiter        *limiter)
{
  g_return_if_fail (PFT_IS_THROTTLED_BATCH_FLOW (self));
  g_return_if_fail (limiter == NULL || PFT_IS_RATE_LIMITER (limiter));

  _pft_throttle_set_limiter (THROTTLE (self), limiter);
}

/**
 * pft_throttled_batch_flow_use_registry_limiter:
 * @self: a #PftThrottledBatchFlow
 * @name: the name of a limiter in the default [class@Pft.LimiterRegistry]
 * @error: return location for a #GError
 *
 * Runs the walks under the registry's limiter @name.
 *
 * Returns: %TRUE on success; %FALSE with [error@Pft.Error.NOT_FOUND]
 *
 * Since: 0.1
 */
gboolean
pft_throttled_batch_flow_use_registry_limiter (PftThrottledBatchFlow  *self,
                                               const char             *name,
                                               GError                **error)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_FLOW (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  return _pft_throttle_use_limiter_named (THROTTLE (self), name, error);
}

/**
 * pft_throttled_batch_flow_apply_preset:
 * @self: a #PftThrottledBatchFlow
 * @name: a preset name, such as "flow_moderate"
 * @error: return location for a #GError
 *
 * Sets max-concurrent-flows and max-flows-per-minute (and, for an
 * adaptive flow, its adaptive knobs) from a preset.
 *
 * Returns: %TRUE on success; %FALSE with [error@Pft.Error.NOT_FOUND]
 *
 * Since: 0.1
 */
gboolean
pft_throttled_batch_flow_apply_preset (PftThrottledBatchFlow  *self,
                                       const char             *name,
                                       GError                **error)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_FLOW (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  return _pft_throttle_apply_preset (THROTTLE (self), name, error);
}

/**
 * pft_throttled_batch_flow_get_continue_on_error:
 * @self: a #PftThrottledBatchFlow
 *
 * Gets whether a failed walk lets the batch go on.
 *
 * Returns: the setting
 *
 * Since: 0.1
 */
gboolean
pft_throttled_batch_flow_get_continue_on_error (PftThrottledBatchFlow *self)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_FLOW (self), FALSE);

  return _pft_throttle_get_continue_on_error (THROTTLE (self));
}

/**
 * pft_throttled_batch_flow_set_continue_on_error:
 * @self: a #PftThrottledBatchFlow
 * @continue_on_error: whether a failed walk lets the batch go on
 *
 * Sets the error policy; see [property@Pft.ThrottledBatchFlow:continue-on-error].
 *
 * Since: 0.1
 */
void
pft_throttled_batch_flow_set_continue_on_error (PftThrottledBatchFlow *self,
                                                gboolean               continue_on_error)
{
  g_return_if_fail (PFT_IS_THROTTLED_BATCH_FLOW (self));

  _pft_throttle_set_continue_on_error (THROTTLE (self), continue_on_error);
}

/**
 * pft_throttled_batch_flow_get_completed:
 * @self: a #PftThrottledBatchFlow
 *
 * Counts the walks that succeeded since the last reset.
 *
 * Returns: the count
 *
 * Since: 0.1
 */
guint64
pft_throttled_batch_flow_get_completed (PftThrottledBatchFlow *self)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_FLOW (self), 0);

  return _pft_throttle_get_stat (THROTTLE (self), PFT_THROTTLE_PROP_COMPLETED);
}

/**
 * pft_throttled_batch_flow_get_failed:
 * @self: a #PftThrottledBatchFlow
 *
 * Counts the walks that failed since the last reset.
 *
 * Returns: the count
 *
 * Since: 0.1
 */
guint64
pft_throttled_batch_flow_get_failed (PftThrottledBatchFlow *self)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_FLOW (self), 0);

  return _pft_throttle_get_stat (THROTTLE (self), PFT_THROTTLE_PROP_FAILED);
}

/**
 * pft_throttled_batch_flow_get_total:
 * @self: a #PftThrottledBatchFlow
 *
 * Counts the param sets of the batches started since the last reset.
 *
 * Returns: the count
 *
 * Since: 0.1
 */
guint64
pft_throttled_batch_flow_get_total (PftThrottledBatchFlow *self)
{
  g_return_val_if_fail (PFT_IS_THROTTLED_BATCH_FLOW (self), 0);

  return _pft_throttle_get_stat (THROTTLE (self), PFT_THROTTLE_PROP_TOTAL);
}

/**
 * pft_throttled_batch_flow_reset_stats:
 * @self: a #PftThrottledBatchFlow
 *
 * Sets completed, failed and total back to 0.
 *
 * Since: 0.1
 */
void
pft_throttled_batch_flow_reset_stats (PftThrottledBatchFlow *self)
{
  g_return_if_fail (PFT_IS_THROTTLED_BATCH_FLOW (self));

  _pft_throttle_reset_stats (THROTTLE (self));
}
