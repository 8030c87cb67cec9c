/* pft-batch-flow.c: a flow run once per param set
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-batch-flow.h"
#include "pft-batch-exec-private.h"
#include "pft-node-private.h"

/**
 * PftBatchFlow:
 *
 * A flow whose graph runs once per param set: `prep` returns a
 * [class@Pft.Values] of `a{sv}` variants, and each set, laid over the
 * flow's own params, becomes the params of one walk of the graph. Walks
 * run one after another, or up to [property@Pft.BatchFlow:max-concurrent]
 * at once; each has its own contexts, all share the store.
 *
 * `post` receives a [class@Pft.Values] of each walk's last action, in
 * order. The default post returns %NULL: a batch's results never become
 * a routing action (the Python original used them as one when nested).
 *
 * Since: 0.1
 */

typedef struct
{
  guint max_concurrent;
} PftBatchFlowPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (PftBatchFlow, pft_batch_flow, PFT_TYPE_FLOW)

enum {
  PROP_0,
  PROP_MAX_CONCURRENT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
pft_batch_flow_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  PftBatchFlow *self = PFT_BATCH_FLOW (object);

  switch (prop_id)
    {
    case PROP_MAX_CONCURRENT:
      g_value_set_uint (value, pft_batch_flow_get_max_concurrent (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_batch_flow_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  PftBatchFlow *self = PFT_BATCH_FLOW (object);

  switch (prop_id)
    {
    case PROP_MAX_CONCURRENT:
      pft_batch_flow_set_max_concurrent (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static char *
pft_batch_flow_real_post (PftNode       *node,
                          PftContext    *ctx,
                          const GValue  *prep_result,
                          const GValue  *exec_result,
                          GError       **error)
{
  return NULL;
}

static guint
pft_batch_flow_real_get_max_concurrent (PftNode *node)
{
  return pft_batch_flow_get_max_concurrent (PFT_BATCH_FLOW (node));
}

static void
pft_batch_flow_class_init (PftBatchFlowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  PftNodeClass *node_class = PFT_NODE_CLASS (klass);
  PftNodeClassPrivate *hooks = _pft_node_class_get_private (klass);

  hooks->exec_phase = _pft_batch_exec_walks;
  hooks->get_max_concurrent = pft_batch_flow_real_get_max_concurrent;

  object_class->get_property = pft_batch_flow_get_property;
  object_class->set_property = pft_batch_flow_set_property;

  node_class->post = pft_batch_flow_real_post;

  /**
   * PftBatchFlow:max-concurrent:
   *
   * How many walks of the graph may run at once: 1 for one after
   * another, 0 for no bound.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_CONCURRENT] =
    g_param_spec_uint ("max-concurrent", NULL, NULL, 0, G_MAXUINT, 1,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pft_batch_flow_init (PftBatchFlow *self)
{
  PftBatchFlowPrivate *priv = pft_batch_flow_get_instance_private (self);

  priv->max_concurrent = 1;
}

/**
 * pft_batch_flow_new:
 * @start: (nullable): the start node of the graph
 *
 * Creates a batch flow. Its default prep returns no param sets, so it is
 * meant to be subclassed.
 *
 * Returns: (transfer full): a new #PftBatchFlow
 *
 * Since: 0.1
 */
PftBatchFlow *
pft_batch_flow_new (PftNode *start)
{
  g_return_val_if_fail (start == NULL || PFT_IS_NODE (start), NULL);

  return g_object_new (PFT_TYPE_BATCH_FLOW, "start", start, NULL);
}

/**
 * pft_batch_flow_get_max_concurrent:
 * @self: a #PftBatchFlow
 *
 * Gets how many walks may run at once.
 *
 * Returns: the bound, 0 for none
 *
 * Since: 0.1
 */
guint
pft_batch_flow_get_max_concurrent (PftBatchFlow *self)
{
  PftBatchFlowPrivate *priv = pft_batch_flow_get_instance_private (self);

  g_return_val_if_fail (PFT_IS_BATCH_FLOW (self), 1);

  return priv->max_concurrent;
}

/**
 * pft_batch_flow_set_max_concurrent:
 * @self: a #PftBatchFlow
 * @max_concurrent: how many walks may run at once; 0 for no bound
 *
 * Sets how many walks may run at once.
 *
 * Since: 0.1
 */
void
pft_batch_flow_set_max_concurrent (PftBatchFlow *self,
                                   guint         max_concurrent)
{
  PftBatchFlowPrivate *priv = pft_batch_flow_get_instance_private (self);

  g_return_if_fail (PFT_IS_BATCH_FLOW (self));

  if (priv->max_concurrent != max_concurrent)
    {
      priv->max_concurrent = max_concurrent;
      _pft_node_max_concurrent_changed (PFT_NODE (self), max_concurrent);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_CONCURRENT]);
    }
}
