/* pft-dispatch-private.h: the one runner of items (retries, slots,
 * rate limits, fallback) and the one batch dispatcher, shared by nodes,
 * batch nodes and batch flows, plain and throttled
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gio/gio.h>

#include "pft-types.h"
#include "pft-clock-private.h"
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

/* Called once per item with the result moved into @result (or @error
 * set, owned by the callee). */
typedef void (*PftItemDoneFunc) (gpointer  user_data,
                                 guint     index,
                                 GValue   *result,
                                 GError   *error);

PftRunPolicy *_pft_run_policy_new   (PftNode      *node);
PftRunPolicy *_pft_run_policy_ref   (PftRunPolicy *policy);
void          _pft_run_policy_unref (PftRunPolicy *policy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PftRunPolicy, _pft_run_policy_unref)

typedef enum
{
  PFT_JOB_EXEC,   /* the node's exec on @item, with fallback */
  PFT_JOB_WALK,   /* a walk of the flow's graph with @params */
} PftJobKind;

/* Runs one item to its end: attempts (each with a slot of the policy's
 * limiter, if any), waits on the policy's clock, rate-limit handling,
 * fallback. @item is borrowed and must outlive the run. @done is called
 * once, maybe from inside this call (an exec that completed at once). */
void     _pft_run_item       (PftNode         *node,
                              PftJobKind       kind,
                              PftContext      *ctx,
                              const GValue    *item,
                              GVariant        *params,
                              guint            index,
                              GCancellable    *cancellable,
                              PftRunPolicy    *policy,
                              PftItemDoneFunc  done,
                              gpointer         user_data);

/* What the items of one batch recycle (their runs; contexts recycle
 * through PftContextPool), so that an item costs no allocation. */
typedef struct _PftItemPool PftItemPool;

PftItemPool *_pft_item_pool_new         (void);
void         _pft_item_pool_free        (PftItemPool *pool);

/* _pft_run_item() for an item of a batch: takes @ctx's reference;
 * borrows @node, @cancellable and @policy, which the batch holds; when
 * @holds_slot, the item owns a slot of the policy's limiter (window entry
 * @entry) that serves its first attempt. */
void     _pft_run_pooled_item (PftNode         *node,
                               PftJobKind       kind,
                               PftContext      *ctx,
                               const GValue    *item,
                               GVariant        *params,
                               guint            index,
                               GCancellable    *cancellable,
                               PftRunPolicy    *policy,
                               gboolean         holds_slot,
                               guint64          entry,
                               PftItemPool     *pool,
                               PftItemDoneFunc  done,
                               gpointer         user_data);

typedef struct _PftDispatch PftDispatch;

/* Items that complete at once finish inside the pump that started them,
 * which then starts the next (a loop, not a recursion). After this many
 * starts the pump yields to the main context and an idle resumes it, so
 * that a long batch of such items leaves timers and cancellation their
 * turn. */
#define PFT_DISPATCH_BURST 256

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

/* A PftItemDoneFunc: @user_data is the PftDispatch. */
void     _pft_dispatch_item_done (gpointer  user_data,
                                  guint     index,
                                  GValue   *result,
                                  GError   *error);


G_END_DECLS
