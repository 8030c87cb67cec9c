/* pft-node-private.h: what the engine asks a node, and its test seams
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gio/gio.h>

#include "pft-types.h"
#include "pft-clock-private.h"

G_BEGIN_DECLS

typedef struct _PftInvocation PftInvocation;
typedef struct _PftThrottle PftThrottle;

/* The engine's per-class hooks: set in a class's class_init, copied into
 * each subclass's class when it is created (GType copies class private
 * data), so Python, GJS and Vala subclasses inherit them. Kept out of the
 * public class structs: they are ABI and introspected. */
typedef struct
{
  /* See pft_node_class_set_begins_requests(). */
  gboolean      begins_requests;
  /* The exec phase of an invocation, between prep and post: fills
   * inv->exec_result and calls _pft_invocation_exec_done() once. */
  void         (*exec_phase)         (PftInvocation *inv);
  /* How many items of one invocation may be in flight. */
  guint        (*get_max_concurrent) (PftNode       *node);
  /* (nullable): the throttle of a throttled class. */
  PftThrottle *(*get_throttle)       (PftNode       *node);
  /* (nullable): the max-concurrent of a batch changed (a throttled one
   * sizes its limiter or controller from it). */
  void         (*max_concurrent_changed) (PftNode   *node,
                                          guint      max_concurrent);
  /* (nullable): a walk of the node's graph with @params, for the items
   * of a batch flow; completes with the last action (char *). */
  void         (*walk_async)         (PftNode             *node,
                                      PftStore            *store,
                                      GVariant            *params,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data);
  char        *(*walk_finish)        (PftNode             *node,
                                      GAsyncResult        *result,
                                      GError             **error);
} PftNodeClassPrivate;

PftNodeClassPrivate *_pft_node_class_get_private (gpointer  klass);
PftNodeClassPrivate *_pft_node_get_class_private (PftNode  *node);

/* The throttle of @node's class, or NULL (get_throttle). */
PftThrottle *_pft_node_get_throttle (PftNode  *node);
/* Tells the class's max_concurrent_changed hook, if any. */
void         _pft_node_max_concurrent_changed (PftNode *node,
                                               guint    max_concurrent);

/* pft_node_get_thread_policy() without the type check: per exec. */
PftThreadPolicy _pft_node_peek_thread_policy (PftNode *node);

/* The clock of the node's exec timeouts and of run()'s hang watch: the
 * system clock unless a test injected a fake one (transfer none). */
PftClock *_pft_node_get_clock       (PftNode      *node);
void      _pft_node_set_clock       (PftNode      *node,
                                     PftClock     *clock);

G_END_DECLS
