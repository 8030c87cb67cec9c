/* pft-node-vfuncs.c: the public invokers of a node's virtual functions,
 * their defaults, and the class setting of the execs' request start
 *
 * SPDX-License-Identifier: MIT
 */

#include <glib/gi18n-lib.h>

#include "pft-context.h"
#include "pft-error.h"
#include "pft-node.h"
#include "pft-node-vfuncs.h"
#include "pft-exec-private.h"
#include "pft-node-private.h"
#include "pft-node-vfuncs-private.h"

/* ------------------------------------------------------------------ */
/* Defaults                                                             */

static void
pft_node_real_exec_finish (PftNode       *self,
                           GAsyncResult  *result,
                           GValue        *value,
                           GError       **error)
{
  g_task_propagate_value (G_TASK (result), value, error);
}

static void
pft_node_real_exec_fallback (PftNode       *self,
                             PftContext    *ctx,
                             const GValue  *item,
                             const GError  *reason,
                             GValue        *result,
                             GError       **error)
{
  g_propagate_error (error, g_error_copy (reason));
}

static gboolean
pft_node_real_is_rate_limit (PftNode      *self,
                             const GError *error)
{
  return pft_error_is_rate_limit (error);
}

void
_pft_node_class_set_default_vfuncs (PftNodeClass *klass)
{
  klass->exec_async = _pft_exec_default_async;
  klass->exec_finish = pft_node_real_exec_finish;
  klass->exec_fallback = pft_node_real_exec_fallback;
  klass->is_rate_limit = pft_node_real_is_rate_limit;
}

/* ------------------------------------------------------------------ */
/* Public invokers                                                      */

/**
 * pft_node_prep: (virtual prep)
 * @self: a #PftNode
 * @ctx: the context of the invocation
 * @result: (out caller-allocates): the prep result, handed to exec and post
 * @error: return location for a #GError
 *
 * Reads what the node needs, usually from [method@Pft.Context.get_store].
 * Runs on the run's main context. A batch node's prep returns a
 * [class@Pft.Values] of items; a batch flow's a [class@Pft.Values] of
 * `a{sv}` param sets. Leaving @result unset means "none".
 *
 * Since: 0.1
 */
void
pft_node_prep (PftNode     *self,
               PftContext  *ctx,
               GValue      *result,
               GError     **error)
{
  PftNodeClass *klass;

  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (PFT_IS_CONTEXT (ctx));

  klass = PFT_NODE_GET_CLASS (self);
  if (klass->prep != NULL)
    klass->prep (self, ctx, result, error);
}

/**
 * pft_node_exec: (virtual exec)
 * @self: a #PftNode
 * @ctx: the context of this attempt
 * @item: the prep result, or one item of a batch
 * @result: (out caller-allocates): the result, handed to post
 * @error: return location for a #GError
 *
 * Does the work, synchronously. It runs in a worker thread or on the main
 * context as [property@Pft.Node:thread-policy] says, so blocking is fine
 * in C, Vala and Python; it should honour
 * [method@Pft.Context.get_cancellable]. Report failures through @error:
 * a failed attempt is retried.
 *
 * Since: 0.1
 */
void
pft_node_exec (PftNode       *self,
               PftContext    *ctx,
               const GValue  *item,
               GValue        *result,
               GError       **error)
{
  PftNodeClass *klass;

  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (PFT_IS_CONTEXT (ctx));

  klass = PFT_NODE_GET_CLASS (self);
  if (klass->exec != NULL)
    klass->exec (self, ctx, item, result, error);
}

/**
 * pft_node_exec_async: (virtual exec_async)
 * @self: a #PftNode
 * @ctx: the context of this attempt
 * @item: the prep result, or one item of a batch; valid only during the
 *   call (copy it to keep it)
 * @cancellable: (nullable): the run's cancellable
 * @callback: (scope async): called when the exec is done
 * @user_data: data for @callback
 *
 * Does the work asynchronously: override this (and
 * [vfunc@Pft.Node.exec_finish]) for truly asynchronous code such as
 * libsoup calls. The default runs [vfunc@Pft.Node.exec] per
 * [property@Pft.Node:thread-policy]. Called on the run's main context.
 *
 * An implementation that has its result at once may hand it over with
 * [method@Pft.Context.return_value] or [method@Pft.Context.return_error]
 * instead of calling @callback. Called through this function, such a
 * result still reaches @callback (in a later main-loop iteration, as
 * GIO requires), and [method@Pft.Node.exec_finish] reads it.
 *
 * Since: 0.1
 */
void
pft_node_exec_async (PftNode             *self,
                     PftContext          *ctx,
                     const GValue        *item,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  PftSyncReturn sr;
  GTask *task;

  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (PFT_IS_CONTEXT (ctx));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if (!_pft_exec_call_async (self, ctx, item, cancellable, callback, user_data, &sr))
    return;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pft_node_exec_async);
  if (sr.error != NULL)
    g_task_return_error (task, sr.error);
  else
    g_task_return_value (task, G_IS_VALUE (&sr.value) ? &sr.value : NULL);
  if (G_IS_VALUE (&sr.value))
    g_value_unset (&sr.value);
  g_object_unref (task);
}

/**
 * pft_node_exec_finish: (virtual exec_finish)
 * @self: a #PftNode
 * @result: the #GAsyncResult
 * @value: (out caller-allocates): the result of the exec
 * @error: return location for a #GError
 *
 * Completes [method@Pft.Node.exec_async].
 *
 * Since: 0.1
 */
void
pft_node_exec_finish (PftNode       *self,
                      GAsyncResult  *result,
                      GValue        *value,
                      GError       **error)
{
  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (G_IS_ASYNC_RESULT (result));

  if (g_task_is_valid (result, self) && g_task_get_source_tag (G_TASK (result)) == pft_node_exec_async)
    g_task_propagate_value (G_TASK (result), value, error);
  else
    PFT_NODE_GET_CLASS (self)->exec_finish (self, result, value, error);
}

/**
 * pft_node_exec_task: (virtual exec_task)
 * @self: a #PftNode
 * @ctx: the context of this attempt
 * @item: the prep result, or one item of a batch; valid only during the
 *   call
 * @task: the task to complete with the result: `task.return_value(v)` or
 *   `task.return_error(e)` (or [func@Pft.task_return_rate_limited])
 * @error: return location for a #GError thrown before @task was completed
 *
 * Does the work by completing @task, now or later: the asynchronous shape
 * that GJS can implement (it cannot implement a vfunc that takes a
 * callback). When a class overrides it, it is used instead of
 * [vfunc@Pft.Node.exec_async] and [vfunc@Pft.Node.exec]. An error thrown
 * from it fails the attempt, even if @task is never completed. Called on
 * the run's main context.
 *
 * Since: 0.1
 */
void
pft_node_exec_task (PftNode     *self,
                    PftContext  *ctx,
                    const GValue *item,
                    GTask       *task,
                    GError     **error)
{
  PftNodeClass *klass;

  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (PFT_IS_CONTEXT (ctx));
  g_return_if_fail (G_IS_TASK (task));

  klass = PFT_NODE_GET_CLASS (self);
  if (klass->exec_task != NULL)
    klass->exec_task (self, ctx, item, task, error);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                             _("%s does not implement exec_task"), pft_node_get_name (self));
}

/**
 * pft_node_exec_fallback: (virtual exec_fallback)
 * @self: a #PftNode
 * @ctx: the context of the last attempt
 * @item: the prep result, or one item of a batch
 * @reason: the error of the last attempt
 * @result: (out caller-allocates): a substitute result
 * @error: return location for a #GError
 *
 * Called on the main context once every attempt failed. The default sets
 * @error to a copy of @reason; override it to return a substitute result
 * instead (PocketFlow's `exec_fallback`).
 *
 * Since: 0.1
 */
void
pft_node_exec_fallback (PftNode       *self,
                        PftContext    *ctx,
                        const GValue  *item,
                        const GError  *reason,
                        GValue        *result,
                        GError       **error)
{
  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (PFT_IS_CONTEXT (ctx));
  g_return_if_fail (reason != NULL);

  PFT_NODE_GET_CLASS (self)->exec_fallback (self, ctx, item, reason, result, error);
}

/**
 * pft_node_post: (virtual post)
 * @self: a #PftNode
 * @ctx: the context of the invocation
 * @prep_result: what prep returned
 * @exec_result: what exec returned; for a batch node a [class@Pft.Values]
 *   of the results in input order
 * @error: return location for a #GError
 *
 * Writes results to the store and picks the next node. Runs on the run's
 * main context.
 *
 * Returns: (transfer full) (nullable): the action, or %NULL for
 *   [const@Pft.DEFAULT_ACTION]
 *
 * Since: 0.1
 */
char *
pft_node_post (PftNode       *self,
               PftContext    *ctx,
               const GValue  *prep_result,
               const GValue  *exec_result,
               GError       **error)
{
  PftNodeClass *klass;

  g_return_val_if_fail (PFT_IS_NODE (self), NULL);
  g_return_val_if_fail (PFT_IS_CONTEXT (ctx), NULL);

  klass = PFT_NODE_GET_CLASS (self);
  if (klass->post != NULL)
    return klass->post (self, ctx, prep_result, exec_result, error);
  return NULL;
}

/**
 * pft_node_is_rate_limit: (virtual is_rate_limit)
 * @self: a #PftNode
 * @error: an error from exec
 *
 * Tells whether @error means the provider rate-limited the call. The
 * default is [func@Pft.Error.is_rate_limit]; override it for providers
 * with their own error shapes.
 *
 * Returns: %TRUE if @error is a rate-limit error
 *
 * Since: 0.1
 */
gboolean
pft_node_is_rate_limit (PftNode      *self,
                        const GError *error)
{
  g_return_val_if_fail (PFT_IS_NODE (self), FALSE);
  g_return_val_if_fail (error != NULL, FALSE);

  return PFT_NODE_GET_CLASS (self)->is_rate_limit (self, error);
}

/**
 * pft_node_class_set_begins_requests:
 * @klass: a #PftNodeClass
 * @begins_requests: whether the execs of @klass mark their request's start
 *
 * Says whether the execs of @klass (every shape: exec, exec_async,
 * exec_task) mark the moment their request starts themselves, with
 * [method@Pft.Context.begin_request], instead of the engine stamping it
 * when it calls them.
 *
 * The window of the node's rate limiter counts an attempt from its start;
 * an exec that waits for something of its own before it sends (a second
 * limiter for tokens, say) would otherwise have its window entry expire
 * that much before the provider forgets the request. Until the exec
 * marks it, the entry counts and does not expire.
 *
 * Call it from the class's class_init; subclasses created afterwards
 * inherit the setting.
 *
 * Since: 0.1
 */
void
pft_node_class_set_begins_requests (PftNodeClass *klass,
                                    gboolean      begins_requests)
{
  g_return_if_fail (g_type_is_a (G_TYPE_FROM_CLASS (klass), PFT_TYPE_NODE));

  _pft_node_class_get_private (klass)->begins_requests = begins_requests != FALSE;
}
