/* pft-node.h: prep -> exec -> post
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-types.h"

G_BEGIN_DECLS

/**
 * PFT_DEFAULT_ACTION:
 *
 * The action a node's [vfunc@Pft.Node.post] stands for when it returns
 * %NULL, and the successor [method@Pft.Node.add_successor] uses when given none.
 *
 * Since: 0.1
 */
#define PFT_DEFAULT_ACTION "default"

#define PFT_TYPE_NODE (pft_node_get_type ())

PFT_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (PftNode, pft_node, PFT, NODE, GObject)

/**
 * PftNodeClass:
 * @parent_class: the parent class
 * @prep: reads what the node needs from the store; runs on the run's main
 *   context. Its result is handed to @exec (and to @post). The default
 *   leaves the result unset.
 * @exec: the work, synchronous; runs where [property@Pft.Node:thread-policy]
 *   says. Retried up to [property@Pft.Node:max-retries] attempts. The default
 *   leaves the result unset.
 * @exec_async: the work, asynchronous (C, Vala, Python); started on the
 *   run's main context. The default runs @exec per the thread policy.
 * @exec_finish: completes @exec_async.
 * @exec_task: the work, completing a #GTask handed to it (for GJS, which
 *   cannot implement a vfunc that takes a callback). When a class
 *   overrides it, it is used instead of @exec_async and @exec.
 * @exec_fallback: called with the last error once all attempts failed;
 *   returns a substitute result or an error. The default propagates the
 *   error.
 * @post: writes results to the store and returns the action that picks the
 *   next node, or %NULL for [const@Pft.DEFAULT_ACTION]; runs on the run's
 *   main context.
 * @is_rate_limit: tells whether an error means "rate limited"; the default
 *   is [func@Pft.Error.is_rate_limit].
 *
 * The virtual functions of [class@Pft.Node]. All of them receive the
 * [class@Pft.Context] of the invocation; a node object is never copied and
 * may run in several invocations at once, so per-run state belongs in the
 * context or the store, not in the node.
 *
 * Since: 0.1
 */
struct _PftNodeClass
{
  GObjectClass parent_class;

  void      (*prep)          (PftNode       *self,
                              PftContext    *ctx,
                              GValue        *result,
                              GError       **error);
  void      (*exec)          (PftNode       *self,
                              PftContext    *ctx,
                              const GValue  *item,
                              GValue        *result,
                              GError       **error);
  void      (*exec_async)    (PftNode       *self,
                              PftContext    *ctx,
                              const GValue  *item,
                              GCancellable  *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer       user_data);
  void      (*exec_finish)   (PftNode       *self,
                              GAsyncResult  *result,
                              GValue        *value,
                              GError       **error);
  void      (*exec_task)     (PftNode       *self,
                              PftContext    *ctx,
                              const GValue  *item,
                              GTask         *task,
                              GError       **error);
  void      (*exec_fallback) (PftNode       *self,
                              PftContext    *ctx,
                              const GValue  *item,
                              const GError  *reason,
                              GValue        *result,
                              GError       **error);
  char     *(*post)          (PftNode       *self,
                              PftContext    *ctx,
                              const GValue  *prep_result,
                              const GValue  *exec_result,
                              GError       **error);
  gboolean  (*is_rate_limit) (PftNode       *self,
                              const GError  *error);

  /*< private >*/
  gpointer _reserved[8];
};

PFT_AVAILABLE_IN_ALL
const char     *pft_node_get_name          (PftNode         *self);
PFT_AVAILABLE_IN_ALL
void            pft_node_set_name          (PftNode         *self,
                                            const char      *name);
PFT_AVAILABLE_IN_ALL
int             pft_node_get_max_retries   (PftNode         *self);
PFT_AVAILABLE_IN_ALL
void            pft_node_set_max_retries   (PftNode         *self,
                                            int              max_retries);
PFT_AVAILABLE_IN_ALL
double          pft_node_get_wait          (PftNode         *self);
PFT_AVAILABLE_IN_ALL
void            pft_node_set_wait          (PftNode         *self,
                                            double           wait);
PFT_AVAILABLE_IN_ALL
double          pft_node_get_timeout       (PftNode         *self);
PFT_AVAILABLE_IN_ALL
void            pft_node_set_timeout       (PftNode         *self,
                                            double           timeout);
PFT_AVAILABLE_IN_ALL
PftThreadPolicy pft_node_get_thread_policy (PftNode         *self);
PFT_AVAILABLE_IN_ALL
void            pft_node_set_thread_policy (PftNode         *self,
                                            PftThreadPolicy  policy);
PFT_AVAILABLE_IN_ALL
GVariant       *pft_node_get_params        (PftNode         *self);
PFT_AVAILABLE_IN_ALL
void            pft_node_set_params        (PftNode         *self,
                                            GVariant        *params);

PFT_AVAILABLE_IN_ALL
PftNode        *pft_node_add_successor           (PftNode         *self,
                                            const char      *action,
                                            PftNode         *next);
PFT_AVAILABLE_IN_ALL
PftNode        *pft_node_get_successor     (PftNode         *self,
                                            const char      *action);
PFT_AVAILABLE_IN_ALL
char          **pft_node_dup_actions       (PftNode         *self);

PFT_AVAILABLE_IN_ALL
void            pft_node_run_async         (PftNode         *self,
                                            PftStore        *store,
                                            GCancellable    *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer         user_data);
PFT_AVAILABLE_IN_ALL
char           *pft_node_run_finish        (PftNode         *self,
                                            GAsyncResult    *result,
                                            GError         **error);
PFT_AVAILABLE_IN_ALL
char           *pft_node_run               (PftNode         *self,
                                            PftStore        *store,
                                            GCancellable    *cancellable,
                                            GError         **error);

G_END_DECLS
