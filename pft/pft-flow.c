/* pft-flow.c: a graph of nodes routed by action
 *
 * SPDX-License-Identifier: MIT
 */

#include <glib/gi18n-lib.h>

#include "pft-context.h"
#include "pft-error.h"
#include "pft-flow.h"
#include "pft-invocation-private.h"
#include "pft-node-private.h"

/**
 * PftFlow:
 *
 * Runs a graph of nodes from [property@Pft.Flow:start]: each node runs
 * (prep, exec, post), and the action its post returns picks the
 * successor connected with [method@Pft.Node.add_successor]. The walk ends when
 * a node has no successor for its action; when the node has successors
 * for other actions, a warning says so (as PocketFlow does).
 *
 * A flow is a node: it nests in other flows, and its default post returns
 * the action of its last node, so the enclosing flow routes on it. The
 * params of a flow's context are passed to every node it runs, laid over
 * each node's own params.
 *
 * Loops are allowed (agents loop); [property@Pft.Flow:max-steps] stops a
 * runaway graph with [error@Pft.Error.MAX_STEPS].
 *
 * Since: 0.1
 */

typedef struct
{
  PftNode *start;
  guint    max_steps;
} PftFlowPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (PftFlow, pft_flow, PFT_TYPE_NODE)

enum {
  PROP_0,
  PROP_START,
  PROP_MAX_STEPS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
pft_flow_dispose (GObject *object)
{
  PftFlow *self = (PftFlow *)object;
  PftFlowPrivate *priv = pft_flow_get_instance_private (self);

  g_clear_object (&priv->start);

  G_OBJECT_CLASS (pft_flow_parent_class)->dispose (object);
}

static void
pft_flow_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  PftFlow *self = PFT_FLOW (object);

  switch (prop_id)
    {
    case PROP_START:
      g_value_set_object (value, pft_flow_get_start (self));
      break;
    case PROP_MAX_STEPS:
      g_value_set_uint (value, pft_flow_get_max_steps (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_flow_set_property (GObject      *object,
                       guint         prop_id,
                       const GValue *value,
                       GParamSpec   *pspec)
{
  PftFlow *self = PFT_FLOW (object);

  switch (prop_id)
    {
    case PROP_START:
      pft_flow_set_start (self, g_value_get_object (value));
      break;
    case PROP_MAX_STEPS:
      pft_flow_set_max_steps (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* The default post of a flow: the last node's action, so that a nested
 * flow routes like a node. */
static char *
pft_flow_real_post (PftNode       *node,
                    PftContext    *ctx,
                    const GValue  *prep_result,
                    const GValue  *exec_result,
                    GError       **error)
{
  if (G_VALUE_HOLDS_STRING (exec_result))
    return g_value_dup_string (exec_result);
  return NULL;
}

static void  pft_flow_exec_phase  (PftInvocation       *inv);
static void  pft_flow_walk_async  (PftNode             *node,
                                   PftStore            *store,
                                   GVariant            *params,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
static char *pft_flow_walk_finish (PftNode             *node,
                                   GAsyncResult        *result,
                                   GError             **error);

static void
pft_flow_class_init (PftFlowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  PftNodeClass *node_class = PFT_NODE_CLASS (klass);
  PftNodeClassPrivate *hooks = _pft_node_class_get_private (klass);

  hooks->exec_phase = pft_flow_exec_phase;
  hooks->walk_async = pft_flow_walk_async;
  hooks->walk_finish = pft_flow_walk_finish;

  object_class->dispose = pft_flow_dispose;
  object_class->get_property = pft_flow_get_property;
  object_class->set_property = pft_flow_set_property;

  node_class->post = pft_flow_real_post;

  /**
   * PftFlow:start:
   *
   * The node the walk starts at. Running a flow without one fails with
   * [error@Pft.Error.NO_START].
   *
   * Since: 0.1
   */
  properties[PROP_START] =
    g_param_spec_object ("start", NULL, NULL, PFT_TYPE_NODE,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * PftFlow:max-steps:
   *
   * The most node invocations one walk may make, 0 for no bound. A walk
   * that needs more fails with [error@Pft.Error.MAX_STEPS].
   *
   * Since: 0.1
   */
  properties[PROP_MAX_STEPS] =
    g_param_spec_uint ("max-steps", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pft_flow_init (PftFlow *self)
{
}

/**
 * pft_flow_new:
 * @start: (nullable): the start node
 *
 * Creates a flow that starts at @start.
 *
 * Returns: (transfer full): a new #PftFlow
 *
 * Since: 0.1
 */
PftFlow *
pft_flow_new (PftNode *start)
{
  g_return_val_if_fail (start == NULL || PFT_IS_NODE (start), NULL);

  return g_object_new (PFT_TYPE_FLOW, "start", start, NULL);
}

/**
 * pft_flow_get_start:
 * @self: a #PftFlow
 *
 * Gets the start node.
 *
 * Returns: (transfer none) (nullable): the start node
 *
 * Since: 0.1
 */
PftNode *
pft_flow_get_start (PftFlow *self)
{
  PftFlowPrivate *priv = pft_flow_get_instance_private (self);

  g_return_val_if_fail (PFT_IS_FLOW (self), NULL);

  return priv->start;
}

/**
 * pft_flow_set_start:
 * @self: a #PftFlow
 * @start: (nullable): the start node
 *
 * Sets the start node.
 *
 * Since: 0.1
 */
void
pft_flow_set_start (PftFlow *self,
                    PftNode *start)
{
  PftFlowPrivate *priv = pft_flow_get_instance_private (self);

  g_return_if_fail (PFT_IS_FLOW (self));
  g_return_if_fail (start == NULL || PFT_IS_NODE (start));
  g_return_if_fail (start != PFT_NODE (self));

  if (g_set_object (&priv->start, start))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_START]);
}

/**
 * pft_flow_get_max_steps:
 * @self: a #PftFlow
 *
 * Gets the bound on node invocations of one walk.
 *
 * Returns: the bound, 0 for none
 *
 * Since: 0.1
 */
guint
pft_flow_get_max_steps (PftFlow *self)
{
  PftFlowPrivate *priv = pft_flow_get_instance_private (self);

  g_return_val_if_fail (PFT_IS_FLOW (self), 0);

  return priv->max_steps;
}

/**
 * pft_flow_set_max_steps:
 * @self: a #PftFlow
 * @max_steps: the most node invocations of one walk, 0 for no bound
 *
 * Bounds the node invocations of one walk, to stop runaway loops.
 *
 * Since: 0.1
 */
void
pft_flow_set_max_steps (PftFlow *self,
                        guint    max_steps)
{
  PftFlowPrivate *priv = pft_flow_get_instance_private (self);

  g_return_if_fail (PFT_IS_FLOW (self));

  if (priv->max_steps != max_steps)
    {
      priv->max_steps = max_steps;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_STEPS]);
    }
}

/* ------------------------------------------------------------------ */
/* The walk                                                             */

typedef struct
{
  PftFlow      *flow;
  PftStore     *store;
  GVariant     *params;
  PftNode      *current;
  guint         steps;
  guint         max_steps;
} PftFlowWalk;

static void
pft_flow_walk_free (gpointer data)
{
  PftFlowWalk *walk = data;

  g_clear_object (&walk->flow);
  g_clear_object (&walk->store);
  g_clear_pointer (&walk->params, g_variant_unref);
  g_clear_object (&walk->current);
  g_free (walk);
}

static void pft_flow_walk_step (GTask *task);

static void
pft_flow_warn_dead_end (PftFlow    *flow,
                        PftNode    *node,
                        const char *action)
{
  g_auto(GStrv) actions = pft_node_dup_actions (node);
  g_autofree char *list = NULL;

  if (actions[0] == NULL)
    return;
  list = g_strjoinv ("', '", actions);
  g_warning ("%s: flow ends: action '%s' of %s not found in ['%s']",
             pft_node_get_name (PFT_NODE (flow)), action, pft_node_get_name (node), list);
}

static void
pft_flow_walk_step_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PftFlowWalk *walk = g_task_get_task_data (task);
  GError *error = NULL;
  char *action;
  PftNode *next;

  action = _pft_invocation_run_finish (PFT_NODE (source), result, &error);
  if (action == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  next = pft_node_get_successor (walk->current, action);
  if (next == NULL)
    {
      pft_flow_warn_dead_end (walk->flow, walk->current, action);
      g_task_return_pointer (task, action, g_free);
      return;
    }

  g_free (action);
  g_set_object (&walk->current, next);
  pft_flow_walk_step (g_steal_pointer (&task));
}

static void
pft_flow_walk_step (GTask *task)
{
  PftFlowWalk *walk = g_task_get_task_data (task);

  if (walk->max_steps != 0 && walk->steps >= walk->max_steps)
    {
      g_task_return_new_error (task, PFT_ERROR, PFT_ERROR_MAX_STEPS,
                               _("%s: stopped after %u steps (max-steps); the next node was %s"),
                               pft_node_get_name (PFT_NODE (walk->flow)), walk->steps,
                               pft_node_get_name (walk->current));
      g_object_unref (task);
      return;
    }
  walk->steps++;
  _pft_invocation_run_async (walk->current, walk->store, walk->params,
                             g_task_get_cancellable (task), pft_flow_walk_step_cb, task);
}

/* The walk hook: runs the graph from the start node with @params;
 * completes with the last action (char *). */
static void
pft_flow_walk_async (PftNode             *node,
                     PftStore            *store,
                     GVariant            *params,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  PftFlow *flow = PFT_FLOW (node);
  PftFlowPrivate *priv = pft_flow_get_instance_private (flow);
  GTask *task = g_task_new (flow, cancellable, callback, user_data);
  PftFlowWalk *walk;

  g_task_set_source_tag (task, pft_flow_walk_async);

  if (priv->start == NULL)
    {
      g_task_return_new_error (task, PFT_ERROR, PFT_ERROR_NO_START,
                               _("%s: the flow has no start node"),
                               pft_node_get_name (PFT_NODE (flow)));
      g_object_unref (task);
      return;
    }

  walk = g_new0 (PftFlowWalk, 1);
  walk->flow = g_object_ref (flow);
  walk->store = g_object_ref (store);
  walk->params = g_variant_ref (params);
  walk->current = g_object_ref (priv->start);
  walk->max_steps = priv->max_steps;
  g_task_set_task_data (task, walk, pft_flow_walk_free);
  pft_flow_walk_step (task);
}

static char *
pft_flow_walk_finish (PftNode       *node,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, node), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
pft_flow_walk_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  PftInvocation *inv = user_data;
  GError *error = NULL;
  char *action = pft_flow_walk_finish (PFT_NODE (source), result, &error);

  if (action != NULL)
    {
      g_value_init (&inv->exec_result, G_TYPE_STRING);
      g_value_take_string (&inv->exec_result, action);
    }
  _pft_invocation_exec_done (inv, error);
}

/* The exec phase of a flow: the walk of its graph. */
static void
pft_flow_exec_phase (PftInvocation *inv)
{
  pft_flow_walk_async (inv->node,
                       pft_context_get_store (inv->ctx),
                       pft_context_get_params (inv->ctx),
                       pft_context_get_cancellable (inv->ctx),
                       pft_flow_walk_cb, inv);
}
