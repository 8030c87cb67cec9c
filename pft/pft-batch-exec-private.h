/* pft-batch-exec-private.h: the exec phases of batch nodes and batch flows
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PftInvocation PftInvocation;

/* The exec phase of a batch node: the node's exec on each item of prep's
 * PftValues, as its run policy allows; post gets the results in order. */
void _pft_batch_exec_items (PftInvocation *inv);

/* The exec phase of a batch flow: a walk of its graph per param set
 * (prep's PftValues of a{sv}), each laid over the flow's params. */
void _pft_batch_exec_walks (PftInvocation *inv);

G_END_DECLS
