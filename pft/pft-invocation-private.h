/* pft-invocation-private.h: one invocation of a node (prep, exec phase,
 * post)
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gio/gio.h>

#include "pft-types.h"

G_BEGIN_DECLS

typedef struct _PftInvocation PftInvocation;

/* The exec phase of the node's class (PftNodeClassPrivate.exec_phase)
 * fills @exec_result and calls _pft_invocation_exec_done() exactly once. */
struct _PftInvocation
{
  PftNode      *node;
  PftContext   *ctx;
  GTask        *task;
  GValue        prep_result;
  GValue        exec_result;
};

void     _pft_invocation_exec_done (PftInvocation *inv,
                                    GError        *error);

/* The exec phase of a plain node: its exec on prep's result, with
 * retries, fallback and its run policy. */
void     _pft_invocation_exec_one  (PftInvocation *inv);

/* Invokes @node with params = node's own params overlaid with
 * @incoming_params (nullable). Completes with the action (char *). */
void     _pft_invocation_run_async (PftNode             *node,
                                    PftStore            *store,
                                    GVariant            *incoming_params,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
char    *_pft_invocation_run_finish (PftNode      *node,
                                     GAsyncResult *result,
                                     GError      **error);

G_END_DECLS
