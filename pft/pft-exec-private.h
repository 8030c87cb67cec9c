/* pft-exec-private.h: one exec attempt in the node's shape
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gio/gio.h>

#include "pft-types.h"
#include "pft-context-private.h"

G_BEGIN_DECLS

/* One exec attempt, as the engine sees it: @done is called once with the
 * outcome, on the run's main context, and may be called before
 * _pft_exec_start() returns (an exec that had its result at once).
 * @value is the callee's to take or unset (unset when there is no value);
 * @error is transfer full. Embed it in the caller's own state.
 *
 * @limiter (nullable, borrowed) is the limiter whose slot serves the
 * attempt, with the slot's window entry @entry: the exec machinery calls
 * _pft_rate_limiter_start() right before the exec starts, and an exec
 * still running when @done reports it cancelled (its run was cancelled,
 * or its attempt timed out) keeps counting in the limiter
 * (_pft_rate_limiter_hold()) until it really returns. The caller gives
 * its slot back when @done is called, whatever the error. */
typedef struct _PftExecCall PftExecCall;
typedef void (*PftExecDoneFunc) (PftExecCall *call,
                                 GValue      *value,
                                 GError      *error);
struct _PftExecCall
{
  PftNode         *node;   /* set by _pft_exec_start() */
  PftExecDoneFunc  done;
  PftRateLimiter  *limiter;
  guint64          entry;
  /* Set by the caller: report G_IO_ERROR_CANCELLED as soon as the
   * cancellable is cancelled, whatever the exec's shape, rather than wait
   * for an exec_async or exec_task that ignores it (a thread exec always
   * reports at once). Used for attempts with a timeout. An exec reported
   * early keeps its @limiter's count until it really returns, as above. */
  gboolean         report_cancel_at_once;
  /* Set by such an early report, cleared by the caller per attempt: the
   * exec still runs, and a request start it deferred
   * (pft_node_class_set_begins_requests()) stays pending until it marks
   * it or returns: the caller's release must not start the entry. */
  gboolean         exec_running;
};

/* Starts one exec attempt of @node on @item in the node's shape. */
void     _pft_exec_start         (PftNode             *node,
                                  PftContext          *ctx,
                                  const GValue        *item,
                                  GCancellable        *cancellable,
                                  PftExecCall         *call);

/* PftNode's default exec_async: the sync exec per thread-policy, as a
 * GTask (what a caller of pft_node_exec_async() gets; the engine itself
 * goes through _pft_exec_start() without a task). */
void     _pft_exec_default_async (PftNode             *node,
                                  PftContext          *ctx,
                                  const GValue        *item,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);

/* Calls the class's exec_async with @ctx open for
 * pft_context_return_value() / _error(). Returns whether the result was
 * handed over at once; @sr then holds it (a value, or an error and no
 * value), and @callback will not be called. */
gboolean _pft_exec_call_async    (PftNode             *node,
                                  PftContext          *ctx,
                                  const GValue        *item,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data,
                                  PftSyncReturn       *sr);

G_END_DECLS
