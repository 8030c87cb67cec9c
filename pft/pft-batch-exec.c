/* pft-batch-exec.c: the exec phase of batch nodes (an exec per item of
 * prep's PftValues) and batch flows (a walk per param set)
 *
 * SPDX-License-Identifier: MIT
 */

#include <glib/gi18n-lib.h>

#include "pft-context.h"
#include "pft-error.h"
#include "pft-node.h"
#include "pft-values.h"
#include "pft-private.h"
#include "pft-batch-exec-private.h"
#include "pft-context-private.h"
#include "pft-dispatch-private.h"
#include "pft-invocation-private.h"

/* Reads the PftValues a batch prep returned; "none" is an empty batch, as
 * PocketFlow's `prep_res or []`. */
static PftValues *
pft_batch_exec_items_from_prep (PftNode       *node,
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

/* Every param set of a batch flow is checked before the first walk
 * starts: a bad one is a bug in prep, better reported before any side
 * effect. */
static gboolean
pft_batch_exec_check_param_sets (PftNode    *node,
                                 PftValues  *sets,
                                 GError    **error)
{
  guint n = pft_values_get_length (sets);

  for (guint i = 0; i < n; i++)
    {
      const GValue *v = pft_values_peek (sets, i);
      GVariant *set = G_VALUE_HOLDS_VARIANT (v) ? g_value_get_variant (v) : NULL;

      if (set == NULL || !g_variant_is_of_type (set, G_VARIANT_TYPE_VARDICT))
        {
          g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                       _("%s: param set %u is not an a{sv} variant (it holds %s)"),
                       pft_node_get_name (node), i,
                       set != NULL ? g_variant_get_type_string (set) : G_VALUE_TYPE_NAME (v));
          return FALSE;
        }
    }
  return TRUE;
}

typedef struct
{
  PftInvocation *inv;
  PftJobKind     kind;
  PftValues     *items;
  PftRunPolicy  *policy;
  PftItemPool   *pool;
  PftContextPool *contexts;  /* of exec items */
} PftBatchExec;

static void
pft_batch_exec_start_item (PftDispatch  *dispatch,
                           guint         index,
                           GCancellable *cancellable,
                           gboolean      holds_slot,
                           guint64       entry,
                           gpointer      user_data)
{
  PftBatchExec *be = user_data;

  if (be->kind == PFT_JOB_EXEC)
    {
      /* All items of the batch share the cancellable, store, params. */
      PftContext *ctx = _pft_context_pool_take (be->contexts, be->inv->ctx, index, cancellable);

      _pft_run_pooled_item (be->inv->node, PFT_JOB_EXEC, ctx, pft_values_peek (be->items, index),
                            NULL, index, cancellable, be->policy, holds_slot, entry,
                            be->pool, _pft_dispatch_item_done, dispatch);
    }
  else
    {
      /* A param set is laid over the flow's own params. */
      g_autoptr(GVariant) set = pft_values_dup_variant (be->items, index);
      g_autoptr(GVariant) params = _pft_params_merge (pft_context_get_params (be->inv->ctx), set);

      _pft_run_pooled_item (be->inv->node, PFT_JOB_WALK, g_object_ref (be->inv->ctx), NULL,
                            params, index, cancellable, be->policy, holds_slot, entry,
                            be->pool, _pft_dispatch_item_done, dispatch);
    }
}

static void
pft_batch_exec_done (PftValues *results,
                     GError    *error,
                     gpointer   user_data)
{
  PftBatchExec *be = user_data;
  PftInvocation *inv = be->inv;

  g_object_unref (be->items);
  _pft_item_pool_free (be->pool);
  if (be->contexts != NULL)
    _pft_context_pool_close (be->contexts);
  _pft_run_policy_unref (be->policy);
  g_free (be);

  if (error == NULL)
    {
      g_value_init (&inv->exec_result, PFT_TYPE_VALUES);
      g_value_take_object (&inv->exec_result, results);
    }
  _pft_invocation_exec_done (inv, error);
}

static void
pft_batch_exec_phase (PftInvocation *inv,
                      PftJobKind     kind)
{
  GError *error = NULL;
  PftRunPolicy *policy;
  PftValues *items;
  PftBatchExec *be;

  items = pft_batch_exec_items_from_prep (inv->node, &inv->prep_result, &error);
  if (items != NULL && kind == PFT_JOB_WALK && !pft_batch_exec_check_param_sets (inv->node, items, &error))
    g_clear_object (&items);
  if (items == NULL)
    {
      _pft_invocation_exec_done (inv, error);
      return;
    }

  policy = _pft_run_policy_new (inv->node);
  if (policy->adaptive != NULL && !_pft_adaptive_controller_check (policy->adaptive, &error))
    {
      _pft_run_policy_unref (policy);
      g_object_unref (items);
      _pft_invocation_exec_done (inv, error);
      return;
    }

  be = g_new0 (PftBatchExec, 1);
  be->policy = policy;
  be->inv = inv;
  be->kind = kind;
  be->items = items;
  be->pool = _pft_item_pool_new ();
  if (kind == PFT_JOB_EXEC)
    be->contexts = _pft_context_pool_new ();
  /* A walk is not retried for ordinary errors (its nodes retry their own
   * execs); only a throttled flow runs a rate-limited walk again. */
  if (kind == PFT_JOB_WALK)
    be->policy->max_retries = 1;
  _pft_dispatch_start (pft_values_get_length (items), be->policy,
                       pft_context_get_cancellable (inv->ctx),
                       pft_batch_exec_start_item, pft_batch_exec_done, be);
}

void
_pft_batch_exec_items (PftInvocation *inv)
{
  pft_batch_exec_phase (inv, PFT_JOB_EXEC);
}

void
_pft_batch_exec_walks (PftInvocation *inv)
{
  pft_batch_exec_phase (inv, PFT_JOB_WALK);
}
