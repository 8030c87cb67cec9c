/* pft-exec-request-private.h: an exec's request at its limiter
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft-types.h"

G_BEGIN_DECLS

/* An exec reported before it returned keeps its limiter's count until it
 * returns (PftExecCall.limiter): the early report takes a hold first,
 * and whatever then tells that the exec returned gives it back. The
 * states of such a report, moved on atomically: */
enum
{
  PFT_EXEC_REQUEST_PENDING,   /* nobody reported yet */
  PFT_EXEC_REQUEST_DONE,      /* reported; nothing held */
  PFT_EXEC_REQUEST_HOLDING,   /* reported cancelled while the exec runs, with a hold */
};

/* The exec of @node, with @ctx, is being called: its request starts now,
 * or when the exec says so (pft_context_begin_request()). */
void     _pft_exec_request_starts                (PftNode        *node,
                                                  PftContext     *ctx,
                                                  PftRateLimiter *limiter,
                                                  guint64         entry);
/* An exec reported early has returned: a request start it deferred and
 * never marked counts from now, and its hold goes. */
void     _pft_exec_request_returned_after_report (PftContext     *ctx,
                                                  PftRateLimiter *limiter);
/* Reports early (@report with @data) unless the exec did first, with a
 * hold taken before the report lets the run give its slot back. */
void     _pft_exec_request_report_early          (gint           *state,
                                                  PftRateLimiter *limiter,
                                                  void          (*report) (gpointer data),
                                                  gpointer        data);
/* The exec returned: TRUE if it reports; otherwise its outcome is
 * dropped, and the hold of an early report, if any, goes. */
gboolean _pft_exec_request_report_returned       (gint           *state,
                                                  PftContext     *ctx,
                                                  PftRateLimiter *limiter);

G_END_DECLS
