/* pft-dispatch-private.h: the one runner of items (retries, permits,
 * rate limits, fallback) and the one batch dispatcher, shared by nodes,
 * batch nodes and batch flows, plain and throttled
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft-node-private.h"
#include "pft-adaptive-controller-private.h"

G_BEGIN_DECLS

typedef struct _PftThrottle PftThrottle;

/* How the items of one invocation run. Built at the start of an exec
 * phase from the node (and its throttle, if any); immutable after. */
typedef struct
{
  gatomicrefcount  ref_count;
  PftRateLimiter  *limiter;            /* nullable: every attempt takes a permit */
  guint            max_concurrent;     /* without a limiter: items in flight, 0 = no bound */
  guint64          cost;               /* token cost of an attempt (0: requests only) */
  int              max_retries;        /* attempts, >= 1 */
  double           wait;               /* seconds between attempts */
  guint            rate_limit_retries; /* extra attempts after rate-limit errors */
  gboolean         propagate_rate_limit;
  gboolean         continue_on_error;
  PftAdaptiveController *adaptive;     /* nullable */
  PftThrottle     *throttle;           /* nullable: stats and progress */
  GObject         *owner;              /* the node or flow the throttle belongs to */
  double           timeout;            /* seconds per exec attempt, 0 = none */
  PftClock        *clock;              /* times @timeout */
} PftRunPolicy;

PftRunPolicy *_pft_run_policy_new   (PftNode      *node);
PftRunPolicy *_pft_run_policy_ref   (PftRunPolicy *policy);
void          _pft_run_policy_unref (PftRunPolicy *policy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PftRunPolicy, _pft_run_policy_unref)

typedef enum
{
  PFT_JOB_EXEC,   /* the node's exec on @item, with fallback */
  PFT_JOB_WALK,   /* a walk of the flow's graph with @params */
} PftJobKind;

/* Runs one item to its end: attempts (each with a permit when the policy
 * has a limiter), waits, rate-limit handling, fallback. @item is borrowed
 * and must outlive the run. @permit (transfer full, nullable) serves the
 * first attempt. @done is called once, maybe from inside this call (an
 * exec that completed at once). */
void     _pft_run_item       (PftNode         *node,
                              PftJobKind       kind,
                              PftContext      *ctx,
                              const GValue    *item,
                              GVariant        *params,
                              guint            index,
                              GCancellable    *cancellable,
                              PftRunPolicy    *policy,
                              PftPermit       *permit,
                              PftItemDoneFunc  done,
                              gpointer         user_data);

typedef struct _PftDispatch PftDispatch;

/* Starts item @index; when @holds_slot, with a slot of the policy's
 * limiter (window entry @entry) that the item now owns and serves its
 * first attempt. The job ends with one call of _pft_dispatch_item_done(),
 * maybe from inside this one. */
typedef void (*PftDispatchStartFunc) (PftDispatch  *dispatch,
                                      guint         index,
                                      GCancellable *cancellable,
                                      gboolean      holds_slot,
                                      guint64       entry,
                                      gpointer      user_data);

/* Called once at the end with the results in input order (transfer full)
 * or the first error (transfer full). With continue-on-error, failed
 * items hold their GError (G_TYPE_ERROR) in the results. */
typedef void (*PftDispatchDoneFunc)  (PftValues *results,
                                      GError    *error,
                                      gpointer   user_data);

void     _pft_dispatch_start     (guint                 n_items,
                                  PftRunPolicy         *policy,
                                  GCancellable         *cancellable,
                                  PftDispatchStartFunc  start,
                                  PftDispatchDoneFunc   done,
                                  gpointer              user_data);

/* The exec phase of a batch node (PFT_JOB_EXEC on each item of prep's
 * PftValues) or of a batch flow (PFT_JOB_WALK with each param set). */
void     _pft_batch_exec_phase   (PftInvocation        *inv,
                                  PftJobKind            kind);

/* A PftItemDoneFunc: @user_data is the PftDispatch. */
void     _pft_dispatch_item_done (gpointer  user_data,
                                  guint     index,
                                  GValue   *result,
                                  GError   *error);

/* One exec attempt, as the engine sees it: @done is called once with the
 * outcome, on the run's main context, and may be called before
 * _pft_node_start_exec() returns (an exec that had its result at once).
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
  PftNode         *node;   /* set by _pft_node_start_exec() */
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

/* From pft-node.c: start one exec attempt in the node's shape. */
void     _pft_node_start_exec    (PftNode             *node,
                                  PftContext          *ctx,
                                  const GValue        *item,
                                  GCancellable        *cancellable,
                                  PftExecCall         *call);

/* What pft_context_return_value() fills in while a class's exec_async
 * runs (see _pft_node_start_exec()). */
typedef struct
{
  GThread  *thread;     /* the one that may return */
  gboolean  returned;
  GValue    value;
  GError   *error;
} PftSyncReturn;

/* From pft-throttle.c: the throttle of a throttled node or flow, or NULL. */
PftThrottle *_pft_node_get_throttle (PftNode *node);
void     _pft_throttle_fill_policy  (PftThrottle  *throttle,
                                     PftRunPolicy *policy);
void     _pft_throttle_batch_started (PftThrottle *throttle,
                                      guint        n_items);
void     _pft_throttle_item_done     (PftThrottle  *throttle,
                                      guint         index,
                                      const GError *error);

/* From pft-context.c: reuse of item contexts within a batch. */
gboolean _pft_context_is_recyclable  (PftContext  *self);
PftSyncReturn *_pft_context_set_sync_return (PftContext    *self,
                                             PftSyncReturn *sync_return);
void     _pft_context_reset_for_item (PftContext  *self,
                                      gint64       index);

G_END_DECLS
