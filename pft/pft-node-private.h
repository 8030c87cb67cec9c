/* pft-node-private.h: the engine's internal interfaces
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft-private.h"
#include "pft-clock-private.h"

G_BEGIN_DECLS

/* One invocation of a node: prep, then the exec phase of its class, then
 * post. The exec phase fills @exec_result and calls
 * _pft_invocation_exec_done() exactly once. */
typedef struct _PftInvocation
{
  PftNode      *node;
  PftContext   *ctx;
  GTask        *task;
  GValue        prep_result;
  GValue        exec_result;
} PftInvocation;

void     _pft_invocation_exec_done (PftInvocation *inv,
                                    GError        *error);

/* Invokes @node with params = node's own params overlaid with
 * @incoming_params (nullable). Completes with the action (char *). */
void     _pft_node_invoke_async    (PftNode      *node,
                                    PftStore     *store,
                                    GVariant     *incoming_params,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer      user_data);
char    *_pft_node_invoke_finish   (PftNode      *node,
                                    GAsyncResult *result,
                                    GError      **error);

/* The exec phase of a flow: the walk of its graph. */
void     _pft_flow_exec_phase       (PftInvocation *inv);

/* Called once per item with the result moved into @result (or @error
 * set, owned by the callee). */
typedef void (*PftItemDoneFunc) (gpointer  user_data,
                                 guint     index,
                                 GValue   *result,
                                 GError   *error);

/* Runs the graph of @flow from its start node with @params; completes with
 * the last action (char *). */
void     _pft_flow_walk_async       (PftFlow      *flow,
                                     PftStore     *store,
                                     GVariant     *params,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer      user_data);
char    *_pft_flow_walk_finish      (PftFlow      *flow,
                                     GAsyncResult *result,
                                     GError      **error);

/* The clock of the node's exec timeouts and of run()'s hang watch: the
 * system clock unless a test injected a fake one (transfer none). */
PftClock *_pft_node_get_clock       (PftNode      *node);
void      _pft_node_set_clock       (PftNode      *node,
                                     PftClock     *clock);

/* What the exec pool's watchdog remembers between its ticks, to tell
 * workers blocked in a sleep or I/O (grow the pool) from workers that
 * compute or contend for one lock (do not). */
#define PFT_EXEC_BLOCKED_US    200
#define PFT_EXEC_STUCK_US      2000
#define PFT_EXEC_BLOCKED_TICKS 3

typedef struct
{
  gint64 at;
  gint64 cpu;
  guint  finished;
  guint  blocked;   /* consecutive ticks that looked blocked */
  gint64 streak_at; /* where they began */
  guint  streak_finished;
} PftExecTick;

gboolean  _pft_exec_tick_update     (PftExecTick  *tick,
                                     gint64        now,
                                     gint64        cpu,
                                     guint         finished,
                                     guint         size);

G_END_DECLS

