/* pft-node-vfuncs-private.h: the defaults of a node's virtual functions
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft-node.h"

G_BEGIN_DECLS

/* Sets PftNodeClass's default exec_async, exec_finish, exec_fallback and
 * is_rate_limit; called from pft_node_class_init(). */
void _pft_node_class_set_default_vfuncs (PftNodeClass *klass);

G_END_DECLS
