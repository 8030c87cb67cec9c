/* pft-dispatch.c: the item runner and the batch dispatcher
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include <glib/gi18n-lib.h>

#include "pft-node-vfuncs.h"
#include "pft-private.h"
#include "pft-dispatch-private.h"
#include "pft-context-private.h"
#include "pft-exec-private.h"
#include "pft-node-private.h"
#include "pft-rate-limiter-private.h"
#include "pft-hang-watch-private.h"
#include "pft-sleep-private.h"
#include "pft-throttle-private.h"

/* ------------------------------------------------------------------ */
/* Run policy                                                           */

PftRunPolicy *
_pft_run_policy_new (PftNode *node)
{
  PftRunPolicy *policy = g_new0 (PftRunPolicy, 1);
  PftNodeClassPrivate *hooks = _pft_node_get_class_private (node);
  PftThrottle *throttle = hooks->get_throttle != NULL ? hooks->get_throttle (node) : NULL;

  g_atomic_ref_count_init (&policy->ref_count);
  policy->max_retries = pft_node_get_max_retries (node);
  policy->wait = pft_node_get_wait (node);
  policy->timeout = pft_node_get_timeout (node);
  policy->clock = _pft_clock_ref (_pft_node_get_clock (node));
  policy->max_concurrent = hooks->get_max_concurrent (node);
  if (throttle != NULL)
    {
      policy->owner = g_object_ref (G_OBJECT (node));
      _pft_throttle_fill_policy (throttle, policy);
    }
  return policy;
}

PftRunPolicy *
_pft_run_policy_ref (PftRunPolicy *policy)
{
  g_atomic_ref_count_inc (&policy->ref_count);
  return policy;
}

void
_pft_run_policy_unref (PftRunPolicy *policy)
{
  if (g_atomic_ref_count_dec (&policy->ref_count))
    {
      g_clear_object (&policy->limiter);
      g_clear_object (&policy->owner);
      _pft_clock_unref (policy->clock);
      g_free (policy);
    }
}

/* ------------------------------------------------------------------ */
/* Slots of the policy's limiter                                        */

/* The one place that takes a slot, for an item's attempt or for the
 * dispatcher's next item: TRUE with *@entry when one is free now; FALSE
 * with @error when the cost can never go; FALSE alone when @func will be
 * called later, on the thread-default main context, with the slot or an
 * error. */
static gboolean
dispatch_acquire_slot (PftRunPolicy      *policy,
                       GCancellable      *cancellable,
                       PftAcquireFunc     func,
                       gpointer           user_data,
                       guint64           *entry,
                       GError           **error)
{
  GMainContext *context = g_main_context_get_thread_default ();

  return _pft_rate_limiter_acquire_full (policy->limiter, policy->cost, PFT_ACQUIRE_NONE,
                                         cancellable,
                                         context != NULL ? context : g_main_context_default (),
                                         func, user_data, entry, error);
}

/* ------------------------------------------------------------------ */
/* One item: attempts, slots, waits, rate limits, fallback              */

typedef struct _ItemRun ItemRun;
typedef struct _AttemptTimeout AttemptTimeout;

/* What the items of one batch recycle: an item's ItemRun serves the next
 * item (its context goes back to the batch's PftContextPool by itself). */
struct _PftItemPool
{
  ItemRun   *free_runs;  /* chained by next_free */
};
typedef PftItemPool ItemPool;

struct _ItemRun
{
  PftExecCall      call;             /* first: an attempt reports into it */
  PftNode         *node;
  PftJobKind       kind;
  PftContext      *ctx;
  const GValue    *item;
  GVariant        *params;
  GCancellable    *cancellable;
  PftRunPolicy    *policy;
  gboolean         holds_slot;       /* a slot of policy->limiter */
  guint64          entry;            /* its window entry */
  guint            index;
  int              attempt;          /* attempts that count against max-retries */
  guint            rate_limited;     /* attempts that were rate limited and retried */
  guint64          epoch;            /* adaptive epoch when the slot was granted */
  AttemptTimeout  *timeout;          /* nullable: the running attempt's, see below */
  gboolean         timed_out;        /* the last attempt ended by its timeout */
  PftItemDoneFunc  done;
  gpointer         done_data;
  /* (nullable): a batch's pool, where @ctx and the run go back when done.
   * The batch then also holds @node, @cancellable and @policy for the
   * run, which borrows them. */
  ItemPool        *pool;
  ItemRun         *next_free;
};

static void item_run_try_attempt (ItemRun *run);

static void
item_run_release_slot (ItemRun *run)
{
  if (run->holds_slot)
    {
      run->holds_slot = FALSE;
      _pft_rate_limiter_release (run->policy->limiter, run->entry);
    }
}

static void
item_run_finish (ItemRun *run,
                 GValue  *result,
                 GError  *error)
{
  PftItemDoneFunc done = run->done;
  gpointer done_data = run->done_data;
  guint index = run->index;

  item_run_release_slot (run);
  if (run->policy->throttle != NULL)
    _pft_throttle_item_done (run->policy->throttle, index, error);

  /* An item context of a batch goes back to its pool if this was the
   * last reference (see pft_context_dispose()). */
  g_object_unref (run->ctx);
  g_clear_pointer (&run->params, g_variant_unref);
  if (run->pool != NULL)
    {
      run->next_free = run->pool->free_runs;
      run->pool->free_runs = run;
    }
  else
    {
      g_object_unref (run->node);
      g_clear_object (&run->cancellable);
      _pft_run_policy_unref (run->policy);
      g_free (run);
    }

  if (result != NULL && !G_IS_VALUE (result))
    g_value_init (result, G_TYPE_POINTER);
  done (done_data, index, result, error);
}

static void
item_run_wait_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ItemRun *run = user_data;
  GError *error = NULL;

  if (!_pft_sleep_finish (result, &error))
    item_run_finish (run, NULL, error);
  else
    item_run_try_attempt (run);
}

static GError *
item_run_rate_limit_error (PftNode *node,
                           GError  *error)
{
  GError *converted;

  if (g_error_matches (error, PFT_ERROR, PFT_ERROR_RATE_LIMITED))
    return error;
  converted = pft_error_new_rate_limited (pft_error_get_retry_after (error),
                                          pft_node_get_name (node), error->message);
  g_error_free (error);
  return converted;
}

/* An attempt ended: tell the limiter and the controller, then give the
 * slot back. In this order, so that a rate limit shrinks the limiter
 * before the freed slot can go to the next waiter under the old size. */
static gboolean
item_run_attempt_ended (ItemRun      *run,
                        const GError *error)
{
  PftRunPolicy *policy = run->policy;
  gboolean rate_limited = FALSE;
  guint in_flight = 0;

  if (error == NULL)
    {
      if (policy->adaptive != NULL)
        {
          if (policy->limiter != NULL)
            in_flight = pft_rate_limiter_get_in_flight (policy->limiter);
          _pft_adaptive_controller_success (policy->adaptive, in_flight, run->epoch);
        }
    }
  /* The engine's own timeout is not the provider's answer: never a rate
   * limit, whatever the node's name in its message says. */
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !run->timed_out &&
           pft_node_is_rate_limit (run->node, error))
    {
      rate_limited = TRUE;
      /* Tell everyone who shares the limiter: a retry-after pauses all of
       * its admissions; the adaptive controller backs off. */
      if (policy->limiter != NULL)
        pft_rate_limiter_report_error (policy->limiter, error);
      if (policy->adaptive != NULL)
        _pft_adaptive_controller_rate_limited (policy->adaptive, run->epoch);
    }
  item_run_release_slot (run);
  return rate_limited;
}

/* The attempt ended and was accounted for by item_run_attempt_ended(). */
static void
item_run_attempt_done (ItemRun  *run,
                       GValue   *value,
                       GError   *error,
                       gboolean  rate_limited)
{
  PftRunPolicy *policy = run->policy;

  if (error == NULL)
    {
      item_run_finish (run, value, NULL);
      return;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      g_cancellable_is_cancelled (run->cancellable))
    {
      item_run_finish (run, NULL, error);
      return;
    }

  if (rate_limited)
    {
      if (policy->propagate_rate_limit)
        {
          item_run_finish (run, NULL, item_run_rate_limit_error (run->node, error));
          return;
        }
      /* The provider asks to come back later: not a failure of the item,
       * so it does not use up max-retries; the next slot honours the pause. */
      if (policy->limiter != NULL && run->rate_limited < policy->rate_limit_retries)
        {
          g_debug ("%s: item %u rate limited (%s), retrying after the pause",
                   pft_node_get_name (run->node), run->index, error->message);
          run->rate_limited++;
          run->attempt--;
          g_error_free (error);
          item_run_try_attempt (run);
          return;
        }
    }

  if (run->attempt < policy->max_retries)
    {
      g_debug ("%s: attempt %d of %d failed: %s", pft_node_get_name (run->node),
               run->attempt, policy->max_retries, error->message);
      g_error_free (error);
      if (policy->wait > 0)
        _pft_sleep_async (policy->clock, policy->wait, run->cancellable, item_run_wait_cb, run);
      else
        item_run_try_attempt (run);
      return;
    }

  if (run->kind == PFT_JOB_EXEC)
    {
      /* Out of attempts: the fallback decides. A rate limit it absorbs
       * was already counted above. */
      GValue fallback = G_VALUE_INIT;
      GError *fallback_error = NULL;

      pft_node_exec_fallback (run->node, run->ctx, run->item, error, &fallback, &fallback_error);
      g_error_free (error);
      if (fallback_error != NULL)
        {
          if (G_IS_VALUE (&fallback))
            g_value_unset (&fallback);
          item_run_finish (run, NULL, fallback_error);
        }
      else
        item_run_finish (run, &fallback, NULL);
      return;
    }

  item_run_finish (run, NULL, error);
}

/* ------------------------------------------------------------------ */
/* Per-attempt timeout (PftNode:timeout)                                */

/* A timed attempt has its own cancellable (a child of the run's) that the
 * clock's timer cancels at the deadline, so that it ends through the
 * cancellation path; item_run_exec_done() then reports it as
 * G_IO_ERROR_TIMED_OUT, an ordinary failure that is retried. */
struct _AttemptTimeout
{
  GCancellable  *cancellable;   /* the attempt's; the timer's target */
  GCancellable  *parent;        /* nullable: the run's */
  gulong         parent_id;
  PftContext    *ctx;           /* the attempt's */
  PftClockTimer *timer;
};

static G_DEFINE_QUARK (pft-attempt-timed-out, attempt_timeout_expired)

/* In the clock's timer thread (or the fake clock's caller). */
static void
attempt_timeout_fired (GObject *target)
{
  g_object_set_qdata (target, attempt_timeout_expired_quark (), GINT_TO_POINTER (1));
  g_cancellable_cancel (G_CANCELLABLE (target));
}

static void
attempt_timeout_parent_cancelled (GCancellable *parent,
                                  GCancellable *attempt)
{
  g_cancellable_cancel (attempt);
}

static AttemptTimeout *
attempt_timeout_start (ItemRun *run)
{
  AttemptTimeout *at = g_new0 (AttemptTimeout, 1);
  PftClock *clock = run->policy->clock;
  gint64 now;
  double span;

  at->cancellable = g_cancellable_new ();
  if (run->cancellable != NULL)
    {
      at->parent = g_object_ref (run->cancellable);
      /* Runs the handler at once if the run is already cancelled. */
      at->parent_id = g_cancellable_connect (run->cancellable,
                                             G_CALLBACK (attempt_timeout_parent_cancelled),
                                             g_object_ref (at->cancellable), g_object_unref);
    }
  at->ctx = _pft_context_new_for_attempt (run->ctx, at->cancellable);
  at->timer = _pft_clock_timer_new (clock, G_OBJECT (at->cancellable), attempt_timeout_fired);
  now = _pft_clock_now_us (clock);
  span = run->policy->timeout * G_USEC_PER_SEC;
  /* A timeout beyond any clock's range (the property allows up to
   * G_MAXDOUBLE) never fires, rather than overflow into the past. */
  if (span < (double) (G_MAXINT64 / 2 - now))
    _pft_clock_timer_set_deadline (at->timer, now + (gint64) span);
  return at;
}

/* The attempt was reported with @error (transfer full, nullable): returns
 * the error it stands for. */
static GError *
attempt_timeout_finish (ItemRun *run,
                        GError  *error)
{
  AttemptTimeout *at = g_steal_pointer (&run->timeout);

  _pft_clock_timer_free (at->timer);
  /* Not g_cancellable_disconnect(): this may run inside the emission of
   * the run's "cancelled" (a user's handler completing the exec at once),
   * where it would wait for itself. A handler still running elsewhere only
   * cancels a cancellable nobody uses any more, which it holds. */
  if (at->parent_id != 0)
    g_signal_handler_disconnect (at->parent, at->parent_id);
  /* The timer fired, and the run itself goes on: a failure of this
   * attempt, not a cancellation of the run. A result that came first
   * stands. */
  if (error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      g_object_get_qdata (G_OBJECT (at->cancellable), attempt_timeout_expired_quark ()) != NULL &&
      !g_cancellable_is_cancelled (run->cancellable))
    {
      g_error_free (error);
      run->timed_out = TRUE;
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           _("%s: exec attempt %d timed out after %g s"),
                           pft_node_get_name (run->node), run->attempt, run->policy->timeout);
    }
  g_clear_object (&at->parent);
  g_object_unref (at->ctx);
  g_object_unref (at->cancellable);
  g_free (at);
  return error;
}

static void
item_run_exec_done (PftExecCall *call,
                    GValue      *value,
                    GError      *error)
{
  ItemRun *run = (ItemRun *) call;
  gboolean rate_limited;

  _pft_hang_watch_exec_ended (run->node, run->ctx);
  /* A deferred start the exec did not mark (pft_context_begin_request())
   * counts from the release below, and a later mark does not count; but
   * an exec reported early that still runs starts it itself. */
  if (call->exec_running)
    run->entry = PFT_ENTRY_NONE;
  else
    _pft_context_defer_request_start (run->timeout != NULL ? run->timeout->ctx : run->ctx, NULL, 0);
  /* Cancelled becomes timed out here, before the attempt is accounted:
   * the slot goes back whatever the error, and an exec still running
   * holds the limiter's count by itself (see _pft_exec_start()). */
  run->timed_out = FALSE;
  if (run->timeout != NULL)
    error = attempt_timeout_finish (run, error);
  rate_limited = item_run_attempt_ended (run, error);

  if (error != NULL && G_IS_VALUE (value))
    g_value_unset (value);
  item_run_attempt_done (run, value, error, rate_limited);
}

static void
item_run_walk_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ItemRun *run = user_data;
  GValue value = G_VALUE_INIT;
  GError *error = NULL;
  char *action = _pft_node_get_class_private (run->node)->walk_finish (run->node, result, &error);
  gboolean rate_limited = item_run_attempt_ended (run, error);

  if (action != NULL)
    {
      g_value_init (&value, G_TYPE_STRING);
      g_value_take_string (&value, action);
    }
  item_run_attempt_done (run, &value, error, rate_limited);
}

static void
item_run_start_job (ItemRun *run)
{
  run->attempt++;
  if (run->policy->adaptive != NULL)
    run->epoch = _pft_adaptive_controller_get_epoch (run->policy->adaptive);

  /* The window counts the attempt from when its exec (or walk) starts,
   * which is what the provider sees, not from when its slot was granted. */
  if (run->kind == PFT_JOB_EXEC)
    {
      _pft_context_set_attempt (run->ctx, run->attempt);
      run->call.done = item_run_exec_done;
      /* For every attempt, timed or not: a timed-out exec still running
       * keeps its slot counted through the same path as a cancelled one. */
      run->call.limiter = run->holds_slot ? run->policy->limiter : NULL;
      run->call.entry = run->entry;
      run->call.exec_running = FALSE;
      _pft_hang_watch_exec_started (run->node, run->ctx);
      if (run->policy->timeout > 0)
        {
          run->timeout = attempt_timeout_start (run);
          run->call.report_cancel_at_once = TRUE;
          _pft_exec_start (run->node, run->timeout->ctx, run->item, run->timeout->cancellable,
                                &run->call);
          return;
        }
      _pft_exec_start (run->node, run->ctx, run->item, run->cancellable, &run->call);
    }
  else
    {
      if (run->holds_slot)
        _pft_rate_limiter_start (run->policy->limiter, run->entry);
      _pft_node_get_class_private (run->node)->walk_async (run->node, pft_context_get_store (run->ctx),
                                                           run->params, run->cancellable,
                                                           item_run_walk_cb, run);
    }
}

static void
item_run_slot_cb (gpointer  user_data,
                  guint64   entry,
                  GError   *error)
{
  ItemRun *run = user_data;

  if (error != NULL)
    item_run_finish (run, NULL, error);
  else
    {
      run->holds_slot = TRUE;
      run->entry = entry;
      item_run_start_job (run);
    }
}

static void
item_run_try_attempt (ItemRun *run)
{
  if (run->policy->limiter != NULL && !run->holds_slot)
    {
      GError *error = NULL;

      /* Every attempt is a call the provider counts: it takes a slot. */
      if (!dispatch_acquire_slot (run->policy, run->cancellable, item_run_slot_cb, run,
                                  &run->entry, &error))
        {
          if (error != NULL)
            item_run_finish (run, NULL, error);
          return;
        }
      run->holds_slot = TRUE;
    }
  item_run_start_job (run);
}

/* Takes @ctx's reference: an item that completes at once may be done
 * before this returns, and its context can only serve the next item if
 * nobody else holds it then. */
void
_pft_run_pooled_item (PftNode         *node,
                      PftJobKind       kind,
                      PftContext      *ctx,
                      const GValue    *item,
                      GVariant        *params,
                      guint            index,
                      GCancellable    *cancellable,
                      PftRunPolicy    *policy,
                      gboolean         holds_slot,
                      guint64          entry,
                      ItemPool        *pool,
                      PftItemDoneFunc  done,
                      gpointer         user_data)
{
  ItemRun *run;

  if (pool != NULL && pool->free_runs != NULL)
    {
      run = pool->free_runs;
      pool->free_runs = run->next_free;
      memset (run, 0, sizeof *run);
    }
  else
    run = g_new0 (ItemRun, 1);

  run->pool = pool;
  run->holds_slot = holds_slot;
  run->entry = entry;
  run->kind = kind;
  run->ctx = ctx;   /* the caller's reference */
  run->item = item;
  run->params = params != NULL ? g_variant_ref (params) : NULL;
  run->index = index;
  if (pool != NULL)
    {
      run->node = node;
      run->cancellable = cancellable;
      run->policy = policy;
    }
  else
    {
      run->node = g_object_ref (node);
      run->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
      run->policy = _pft_run_policy_ref (policy);
    }
  run->done = done;
  run->done_data = user_data;
  item_run_try_attempt (run);
}

void
_pft_run_item (PftNode         *node,
               PftJobKind       kind,
               PftContext      *ctx,
               const GValue    *item,
               GVariant        *params,
               guint            index,
               GCancellable    *cancellable,
               PftRunPolicy    *policy,
               PftItemDoneFunc  done,
               gpointer         user_data)
{
  _pft_run_pooled_item (node, kind, g_object_ref (ctx), item, params, index, cancellable, policy,
                        FALSE, PFT_ENTRY_NONE, NULL, done, user_data);
}

/* ------------------------------------------------------------------ */
/* The batch dispatcher                                                 */

/* Items start lazily, one when a slot is free: with a limiter, when it
 * grants one (one request outstanding at a time), otherwise when fewer
 * than max-concurrent are in flight. So memory in flight is
 * O(concurrency); the results are the only O(items) structure. The burst
 * yield: see PFT_DISPATCH_BURST. */
struct _PftDispatch
{
  guint                 n_items;
  guint                 next;
  guint                 in_flight;
  gboolean              acquiring;
  gboolean              pumping;
  gboolean              resuming;         /* an idle will pump again */
  GMainContext         *context;          /* the run's */
  PftRunPolicy         *policy;
  PftValues            *results;
  GError               *error;
  GCancellable         *cancellable;      /* ours, cancelled on failure */
  GCancellable         *parent;
  gulong                parent_id;
  PftDispatchStartFunc  start;
  PftDispatchDoneFunc   done;
  gpointer              user_data;
};

static void dispatch_pump (PftDispatch *d);

static void
dispatch_parent_cancelled (GCancellable *parent,
                           GCancellable *ours)
{
  g_cancellable_cancel (ours);
}

static void
dispatch_finish (PftDispatch *d)
{
  PftDispatchDoneFunc done = d->done;
  gpointer user_data = d->user_data;
  PftValues *results = g_steal_pointer (&d->results);
  GError *error = g_steal_pointer (&d->error);

  if (d->parent_id != 0)
    g_cancellable_disconnect (d->parent, d->parent_id);
  g_clear_object (&d->parent);
  g_clear_object (&d->cancellable);
  g_main_context_unref (d->context);
  _pft_run_policy_unref (d->policy);
  g_free (d);

  if (error != NULL)
    g_clear_object (&results);
  done (results, error, user_data);
}

static gboolean
dispatch_stopped (PftDispatch *d)
{
  return d->error != NULL || d->next >= d->n_items;
}

static gboolean
dispatch_resume_cb (gpointer data)
{
  PftDispatch *d = data;

  d->resuming = FALSE;
  dispatch_pump (d);
  return G_SOURCE_REMOVE;
}

static void
dispatch_start_next (PftDispatch *d,
                     gboolean     holds_slot,
                     guint64      entry)
{
  guint index = d->next++;

  d->in_flight++;
  d->start (d, index, d->cancellable, holds_slot, entry, d->user_data);
}

static void
dispatch_slot_cb (gpointer  user_data,
                  guint64   entry,
                  GError   *error)
{
  PftDispatch *d = user_data;

  d->acquiring = FALSE;
  if (error != NULL)
    {
      if (d->error == NULL)
        d->error = error;
      else
        g_error_free (error);
    }
  else if (dispatch_stopped (d))
    {
      /* Granted just as the batch failed: give it back untouched. */
      _pft_rate_limiter_release (d->policy->limiter, entry);
    }
  else
    {
      /* An item that is done at once (its run was cancelled meanwhile)
       * must not let the pump it calls finish, and free, the dispatch
       * under us: the pump below decides. */
      d->pumping = TRUE;
      dispatch_start_next (d, TRUE, entry);
      d->pumping = FALSE;
    }
  dispatch_pump (d);
}

static void
dispatch_pump (PftDispatch *d)
{
  guint started = 0;

  if (d->pumping || d->resuming)
    return;
  d->pumping = TRUE;
  while (!dispatch_stopped (d) && !d->acquiring)
    {
      /* Execs that ignore the cancellable and complete at once would
       * otherwise run the batch to its end. */
      if (G_UNLIKELY (g_cancellable_is_cancelled (d->cancellable)))
        {
          g_cancellable_set_error_if_cancelled (d->cancellable, &d->error);
          break;
        }
      if (started++ == PFT_DISPATCH_BURST)
        {
          GSource *source = g_idle_source_new ();

          d->resuming = TRUE;
          g_source_set_priority (source, G_PRIORITY_DEFAULT);
          g_source_set_static_name (source, "[pft] batch dispatch");
          g_source_set_callback (source, dispatch_resume_cb, d, NULL);
          g_source_attach (source, d->context);
          g_source_unref (source);
          break;
        }
      if (d->policy->limiter != NULL)
        {
          GError *error = NULL;
          guint64 entry;

          if (!dispatch_acquire_slot (d->policy, d->cancellable, dispatch_slot_cb, d, &entry, &error))
            {
              if (error != NULL)
                d->error = error;
              else
                d->acquiring = TRUE;
              break;
            }
          dispatch_start_next (d, TRUE, entry);
        }
      else
        {
          if (d->policy->max_concurrent != 0 && d->in_flight >= d->policy->max_concurrent)
            break;
          dispatch_start_next (d, FALSE, PFT_ENTRY_NONE);
        }
    }
  d->pumping = FALSE;

  if (d->in_flight == 0 && !d->acquiring && !d->resuming && dispatch_stopped (d))
    dispatch_finish (d);
}

void
_pft_dispatch_start (guint                 n_items,
                     PftRunPolicy         *policy,
                     GCancellable         *cancellable,
                     PftDispatchStartFunc  start,
                     PftDispatchDoneFunc   done,
                     gpointer              user_data)
{
  PftDispatch *d = g_new0 (PftDispatch, 1);

  d->n_items = n_items;
  d->policy = _pft_run_policy_ref (policy);
  d->results = pft_values_new_sized (n_items);
  _pft_values_set_length (d->results, n_items);
  d->cancellable = g_cancellable_new ();
  d->context = g_main_context_ref_thread_default ();
  if (cancellable != NULL)
    {
      d->parent = g_object_ref (cancellable);
      /* Calls dispatch_parent_cancelled at once if already cancelled. */
      d->parent_id = g_cancellable_connect (cancellable, G_CALLBACK (dispatch_parent_cancelled),
                                            d->cancellable, NULL);
    }
  d->start = start;
  d->done = done;
  d->user_data = user_data;
  if (policy->throttle != NULL)
    _pft_throttle_batch_started (policy->throttle, n_items);

  dispatch_pump (d);
}

void
_pft_dispatch_item_done (gpointer  user_data,
                         guint     index,
                         GValue   *result,
                         GError   *error)
{
  PftDispatch *d = user_data;

  g_assert (d->in_flight > 0);
  d->in_flight--;

  if (error != NULL && d->policy->continue_on_error &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* The caller finds an item's failure where its result would be. */
      GValue slot = G_VALUE_INIT;

      g_value_init (&slot, G_TYPE_ERROR);
      g_value_take_boxed (&slot, error);
      _pft_values_take_at (d->results, index, &slot);
    }
  else if (error != NULL)
    {
      /* The first real failure wins; the cancellations it causes in the
       * siblings are consequences, not news. */
      if (d->error == NULL)
        {
          d->error = error;
          g_cancellable_cancel (d->cancellable);
        }
      else
        g_error_free (error);
    }
  else
    {
      _pft_values_take_at (d->results, index, result);
    }

  dispatch_pump (d);
}

/* ------------------------------------------------------------------ */
/* The item pool of a batch                                             */

PftItemPool *
_pft_item_pool_new (void)
{
  return g_new0 (PftItemPool, 1);
}

void
_pft_item_pool_free (PftItemPool *pool)
{
  while (pool->free_runs != NULL)
    {
      ItemRun *run = pool->free_runs;

      pool->free_runs = run->next_free;
      g_free (run);
    }
  g_free (pool);
}
