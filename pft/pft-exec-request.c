/* pft-exec-request.c: an exec's request at its limiter: when it starts,
 * and the hold an exec reported before it returned keeps until it does
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-context.h"
#include "pft-context-private.h"
#include "pft-exec-request-private.h"
#include "pft-node-private.h"
#include "pft-rate-limiter-private.h"

/* The exec of @node, with @ctx, is being called: its request starts now,
 * or when the exec says so (pft_context_begin_request()). */
void
_pft_exec_request_starts (PftNode        *node,
                          PftContext     *ctx,
                          PftRateLimiter *limiter,
                          guint64         entry)
{
  if (limiter == NULL)
    return;
  if (_pft_node_get_class_private (node)->begins_requests)
    _pft_context_defer_request_start (ctx, limiter, entry);
  else
    _pft_rate_limiter_start (limiter, entry);
}

/* An exec reported early (PftExecCall.exec_running) has returned: a
 * request start it deferred and never marked counts from now (its slot's
 * release left the entry pending), and its hold goes. */
void
_pft_exec_request_returned_after_report (PftContext     *ctx,
                                         PftRateLimiter *limiter)
{
  if (limiter != NULL)
    {
      if (ctx != NULL)
        pft_context_begin_request (ctx);
      _pft_rate_limiter_unhold (limiter);
    }
}

/* Reports early (@report with @data) unless the exec did first. The hold
 * is taken before the report lets the run give its slot back. */
void
_pft_exec_request_report_early (gint           *state,
                                PftRateLimiter *limiter,
                                void          (*report) (gpointer data),
                                gpointer        data)
{
  if (limiter != NULL)
    _pft_rate_limiter_hold (limiter);
  if (g_atomic_int_compare_and_exchange (state, PFT_EXEC_REQUEST_PENDING,
                                         limiter != NULL ? PFT_EXEC_REQUEST_HOLDING : PFT_EXEC_REQUEST_DONE))
    report (data);
  else if (limiter != NULL)
    _pft_rate_limiter_unhold (limiter);
}

/* The exec returned. TRUE if it reports; otherwise its outcome is
 * dropped, and the hold of an early report, if any, goes. */
gboolean
_pft_exec_request_report_returned (gint           *state,
                                   PftContext     *ctx,
                                   PftRateLimiter *limiter)
{
  if (g_atomic_int_compare_and_exchange (state, PFT_EXEC_REQUEST_PENDING, PFT_EXEC_REQUEST_DONE))
    return TRUE;
  if (g_atomic_int_compare_and_exchange (state, PFT_EXEC_REQUEST_HOLDING, PFT_EXEC_REQUEST_DONE))
    _pft_exec_request_returned_after_report (ctx, limiter);
  return FALSE;
}
