/* pft-batch-node.c: one exec per item
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-batch-node.h"
#include "pft-batch-exec-private.h"
#include "pft-node-private.h"

/**
 * PftBatchNode:
 *
 * A node whose exec runs once per item: `prep` returns a
 * [class@Pft.Values], `exec` (in any of its shapes) receives one item at
 * a time, and `post` receives a [class@Pft.Values] of the results in
 * input order.
 *
 * [property@Pft.BatchNode:max-concurrent] bounds how many items are in
 * flight: 1 runs them one after another (PocketFlow's `BatchNode`), 0
 * runs them all at once (`AsyncParallelBatchNode`). Items are started
 * lazily, so a batch of a million items holds only max-concurrent of
 * them in flight.
 *
 * Every item gets its own retries and fallback. When an item fails for
 * good, the node fails with that error: the items in flight are
 * cancelled and no new one starts.
 *
 * Since: 0.1
 */

typedef struct
{
  guint max_concurrent;
} PftBatchNodePrivate;

G_DEFINE_TYPE_WITH_PRIVATE (PftBatchNode, pft_batch_node, PFT_TYPE_NODE)

enum {
  PROP_0,
  PROP_MAX_CONCURRENT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
pft_batch_node_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  PftBatchNode *self = PFT_BATCH_NODE (object);

  switch (prop_id)
    {
    case PROP_MAX_CONCURRENT:
      g_value_set_uint (value, pft_batch_node_get_max_concurrent (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_batch_node_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  PftBatchNode *self = PFT_BATCH_NODE (object);

  switch (prop_id)
    {
    case PROP_MAX_CONCURRENT:
      pft_batch_node_set_max_concurrent (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static guint
pft_batch_node_real_get_max_concurrent (PftNode *node)
{
  return pft_batch_node_get_max_concurrent (PFT_BATCH_NODE (node));
}

static void
pft_batch_node_class_init (PftBatchNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  PftNodeClassPrivate *hooks = _pft_node_class_get_private (klass);

  hooks->exec_phase = _pft_batch_exec_items;
  hooks->get_max_concurrent = pft_batch_node_real_get_max_concurrent;

  object_class->get_property = pft_batch_node_get_property;
  object_class->set_property = pft_batch_node_set_property;

  /**
   * PftBatchNode:max-concurrent:
   *
   * How many items may be in flight at once: 1 for one after another, 0
   * for no bound.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_CONCURRENT] =
    g_param_spec_uint ("max-concurrent", NULL, NULL, 0, G_MAXUINT, 1,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pft_batch_node_init (PftBatchNode *self)
{
  PftBatchNodePrivate *priv = pft_batch_node_get_instance_private (self);

  priv->max_concurrent = 1;
}

/**
 * pft_batch_node_new:
 *
 * Creates a batch node that runs the default (empty) vfuncs; mostly
 * useful to subclass from bindings through `g_object_new()`.
 *
 * Returns: (transfer full): a new #PftBatchNode
 *
 * Since: 0.1
 */
PftNode *
pft_batch_node_new (void)
{
  return g_object_new (PFT_TYPE_BATCH_NODE, NULL);
}

/**
 * pft_batch_node_get_max_concurrent:
 * @self: a #PftBatchNode
 *
 * Gets how many items may be in flight at once.
 *
 * Returns: the bound, 0 for none
 *
 * Since: 0.1
 */
guint
pft_batch_node_get_max_concurrent (PftBatchNode *self)
{
  PftBatchNodePrivate *priv = pft_batch_node_get_instance_private (self);

  g_return_val_if_fail (PFT_IS_BATCH_NODE (self), 1);

  return priv->max_concurrent;
}

/**
 * pft_batch_node_set_max_concurrent:
 * @self: a #PftBatchNode
 * @max_concurrent: how many items may be in flight at once; 0 for no bound
 *
 * Sets how many items may be in flight at once. A run already under way
 * keeps the bound it started with.
 *
 * Since: 0.1
 */
void
pft_batch_node_set_max_concurrent (PftBatchNode *self,
                                   guint         max_concurrent)
{
  PftBatchNodePrivate *priv = pft_batch_node_get_instance_private (self);

  g_return_if_fail (PFT_IS_BATCH_NODE (self));

  if (priv->max_concurrent != max_concurrent)
    {
      priv->max_concurrent = max_concurrent;
      _pft_node_max_concurrent_changed (PFT_NODE (self), max_concurrent);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_CONCURRENT]);
    }
}
