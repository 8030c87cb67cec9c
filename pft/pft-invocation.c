/* pft-invocation.c: one invocation of a node: prep, the exec phase of its
 * class, post
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "pft-context.h"
#include "pft-node.h"
#include "pft-private.h"
#include "pft-context-private.h"
#include "pft-dispatch-private.h"
#include "pft-invocation-private.h"
#include "pft-node-private.h"

/* Normalises "no value" to a NULL gpointer, which every binding reads as
 * None/null, where an unset GValue would make them choke. */
static inline void
pft_invocation_ensure_value (GValue *value)
{
  if (!G_IS_VALUE (value))
    g_value_init (value, G_TYPE_POINTER);
}

static void
pft_invocation_free (gpointer data)
{
  PftInvocation *inv = data;

  g_clear_object (&inv->node);
  g_clear_object (&inv->ctx);
  if (G_IS_VALUE (&inv->prep_result))
    g_value_unset (&inv->prep_result);
  if (G_IS_VALUE (&inv->exec_result))
    g_value_unset (&inv->exec_result);
  g_free (inv);
}

void
_pft_invocation_exec_done (PftInvocation *inv,
                           GError        *error)
{
  GTask *task = inv->task;   /* the reference the exec phase held */
  PftNode *node = inv->node;
  PftNodeClass *klass = PFT_NODE_GET_CLASS (node);
  char *action;

  /* A run cancelled while its last exec was finishing must not post. */
  if (error == NULL)
    g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  pft_invocation_ensure_value (&inv->exec_result);
  action = klass->post != NULL
           ? klass->post (node, inv->ctx, &inv->prep_result, &inv->exec_result, &error)
           : NULL;
  if (error != NULL)
    {
      g_free (action);
      g_task_return_error (task, error);
    }
  else
    {
      g_task_return_pointer (task, action != NULL ? action : g_strdup (PFT_DEFAULT_ACTION), g_free);
    }
  g_object_unref (task);
}

static void
pft_invocation_item_done (gpointer  user_data,
                          guint     index,
                          GValue   *result,
                          GError   *error)
{
  PftInvocation *inv = user_data;

  if (error == NULL)
    {
      inv->exec_result = *result;
      memset (result, 0, sizeof *result);
    }
  _pft_invocation_exec_done (inv, error);
}

void
_pft_invocation_exec_one (PftInvocation *inv)
{
  g_autoptr(PftRunPolicy) policy = _pft_run_policy_new (inv->node);

  _pft_run_item (inv->node, PFT_JOB_EXEC, inv->ctx, &inv->prep_result, NULL, 0,
                 pft_context_get_cancellable (inv->ctx), policy,
                 pft_invocation_item_done, inv);
}

void
_pft_invocation_run_async (PftNode             *node,
                           PftStore            *store,
                           GVariant            *incoming_params,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GVariant) params = _pft_params_merge (pft_node_get_params (node), incoming_params);
  PftNodeClass *klass = PFT_NODE_GET_CLASS (node);
  PftInvocation *inv;
  GTask *task;
  GError *error = NULL;

  task = g_task_new (node, cancellable, callback, user_data);
  g_task_set_source_tag (task, _pft_invocation_run_async);

  inv = g_new0 (PftInvocation, 1);
  inv->node = g_object_ref (node);
  inv->ctx = _pft_context_new (node, store, params, cancellable);
  inv->task = task;
  g_task_set_task_data (task, inv, pft_invocation_free);

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }

  if (klass->prep != NULL)
    klass->prep (node, inv->ctx, &inv->prep_result, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  pft_invocation_ensure_value (&inv->prep_result);

  _pft_node_get_class_private (node)->exec_phase (inv);
}

char *
_pft_invocation_run_finish (PftNode       *node,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, node), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == _pft_invocation_run_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
