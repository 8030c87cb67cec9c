/* pft-batch-node.c: one exec per item
 *
 * SPDX-License-Identifier: MIT
 */

#include <glib/gi18n-lib.h>

#include "pft.h"
#include "pft-throttle-private.h"

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

static void
pft_batch_node_class_init (PftBatchNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = pft_batch_node_get_property;
  object_class->set_property = pft_batch_node_set_property;

  /**
   * PftBatchNode:max-concurrent:
   *
   * How many items may be in flight at once: 1 for one after another, 0
   * for no bound.
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
 */
void
pft_batch_node_set_max_concurrent (PftBatchNode *self,
                                   guint         max_concurrent)
{
  PftBatchNodePrivate *priv = pft_batch_node_get_instance_private (self);

  g_return_if_fail (PFT_IS_BATCH_NODE (self));

  if (priv->max_concurrent != max_concurrent)
    {
      PftThrottle *throttle = _pft_node_get_throttle (PFT_NODE (self));

      priv->max_concurrent = max_concurrent;
      /* A throttled subclass runs under its limiter, sized from here. */
      if (throttle != NULL)
        _pft_throttle_max_concurrent_changed (throttle, max_concurrent);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_CONCURRENT]);
    }
}

/* Reads the PftValues a batch prep returned; "none" is an empty batch, as
 * PocketFlow's `prep_res or []`. */
PftValues *
_pft_batch_items_from_prep (PftNode       *node,
                            const GValue  *prep_result,
                            GError       **error)
{
  if (G_VALUE_HOLDS_POINTER (prep_result) && g_value_get_pointer (prep_result) == NULL)
    return pft_values_new ();
  if (G_VALUE_HOLDS (prep_result, PFT_TYPE_VALUES) && g_value_get_object (prep_result) != NULL)
    return g_value_dup_object (prep_result);

  g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
               _("%s: prep of a batch must return a PftValues, not %s"),
               pft_node_get_name (node), G_VALUE_TYPE_NAME (prep_result));
  return NULL;
}

typedef struct
{
  PftInvocation *inv;
  PftValues     *items;
  PftRunPolicy  *policy;
} BatchRun;

static void
batch_start_item (PftDispatch  *dispatch,
                  guint         index,
                  GCancellable *cancellable,
                  PftPermit    *permit,
                  gpointer      user_data)
{
  BatchRun *br = user_data;
  g_autoptr(PftContext) ctx = _pft_context_new_for_item (br->inv->ctx, index, cancellable);

  _pft_run_item (br->inv->node, PFT_JOB_EXEC, ctx, pft_values_peek (br->items, index), NULL,
                 index, cancellable, br->policy, permit, _pft_dispatch_item_done, dispatch);
}

static void
batch_done (PftValues *results,
            GError    *error,
            gpointer   user_data)
{
  BatchRun *br = user_data;
  PftInvocation *inv = br->inv;

  g_object_unref (br->items);
  _pft_run_policy_unref (br->policy);
  g_free (br);

  if (error == NULL)
    {
      g_value_init (&inv->exec_result, PFT_TYPE_VALUES);
      g_value_take_object (&inv->exec_result, results);
    }
  _pft_invocation_exec_done (inv, error);
}

void
_pft_batch_node_exec_phase (PftInvocation *inv)
{
  GError *error = NULL;
  BatchRun *br;
  PftValues *items;

  items = _pft_batch_items_from_prep (inv->node, &inv->prep_result, &error);
  if (items == NULL)
    {
      _pft_invocation_exec_done (inv, error);
      return;
    }

  br = g_new0 (BatchRun, 1);
  br->inv = inv;
  br->items = items;
  br->policy = _pft_run_policy_new (inv->node);
  _pft_dispatch_start (pft_values_get_length (items), br->policy,
                       pft_context_get_cancellable (inv->ctx),
                       batch_start_item, batch_done, br);
}
