/* pft-hang-watch-private.h: telling a synchronous run that waits forever
 * on the global default main context (internal)
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft-types.h"

G_BEGIN_DECLS

typedef struct _PftHangWatch PftHangWatch;

/* Interval of the check, and how long the run must have made no
 * progress: "a few seconds". */
#define PFT_HANG_WATCH_INTERVAL_US (5 * G_USEC_PER_SEC)

/* pft_node_run() calls these around its loop over @context, the private
 * context it pushed; the watch is the thread's current one meanwhile.
 * @node's clock times the checks. */
PftHangWatch *_pft_hang_watch_begin     (PftNode      *node,
                                         GMainContext *context);
/* After each g_main_context_iteration() of the run; @dispatched is what
 * it returned. Runs the check when one is due. */
void          _pft_hang_watch_iterated  (PftHangWatch *watch,
                                         gboolean      dispatched);
void          _pft_hang_watch_end       (PftHangWatch *watch);

/* From the dispatcher, on the run's main context: an exec attempt of
 * @node started / was reported. Cheap no-ops outside a synchronous run. */
void          _pft_hang_watch_exec_started (PftNode    *node,
                                            PftContext *ctx);
void          _pft_hang_watch_exec_ended   (PftNode    *node,
                                            PftContext *ctx);

G_END_DECLS
