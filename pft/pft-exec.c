/* pft-exec.c: one exec attempt in the node's shape
 *
 * exec_task (with the engine's GTask around the user's), a class's own
 * exec_async (maybe returning at once through pft_context_return_value()),
 * or the default: the sync exec on the main context or in the exec pool,
 * per thread-policy and the binding that implements the node.
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include <glib/gi18n-lib.h>

#include "pft-context.h"
#include "pft-node.h"
#include "pft-private.h"
#include "pft-context-private.h"
#include "pft-exec-private.h"
#include "pft-exec-pool-private.h"
#include "pft-exec-request-private.h"
#include "pft-main-context-batch-private.h"
#include "pft-node-private.h"
#include "pft-rate-limiter-private.h"

/* Which binding implements a node type. */
typedef enum
{
  PFT_EXEC_LANGUAGE_C,
  PFT_EXEC_LANGUAGE_GJS,
  PFT_EXEC_LANGUAGE_PYTHON,
} PftExecLanguage;

/* GJS and PyGObject mark every type they register; a C type derived from
 * a binding's type is not a thing, so the first marked type up the chain
 * decides. One walk answers both, as each level takes GType's lock. */
static PftExecLanguage
pft_exec_type_get_language (GType type)
{
  static GQuark gjs_quark;
  static GQuark python_quark;

  if (G_UNLIKELY (gjs_quark == 0))
    gjs_quark = g_quark_from_static_string ("gjs::custom-type");
  if (G_UNLIKELY (python_quark == 0))
    python_quark = g_quark_from_static_string ("PyGObject::custom");
  for (; type != 0 && type != PFT_TYPE_NODE; type = g_type_parent (type))
    {
      if (g_type_get_qdata (type, gjs_quark) != NULL)
        return PFT_EXEC_LANGUAGE_GJS;
      if (g_type_get_qdata (type, python_quark) != NULL)
        return PFT_EXEC_LANGUAGE_PYTHON;
    }
  return PFT_EXEC_LANGUAGE_C;
}

static PftThreadPolicy
pft_exec_resolve_policy (PftNode  *self,
                         gboolean  is_gjs)
{
  PftThreadPolicy policy = _pft_node_peek_thread_policy (self);

  if (policy != PFT_THREAD_POLICY_AUTO)
    return policy;
  return is_gjs ? PFT_THREAD_POLICY_MAIN_CONTEXT : PFT_THREAD_POLICY_THREAD;
}

/* ------------------------------------------------------------------ */
/* The default exec: MAIN_CONTEXT inline, THREAD in the exec pool       */
/* No GTask: on the main context the sync exec is called and reported at
 * once; for a worker thread a PftThreadExec goes to the exec pool and its
 * result comes back through one batched source per burst. The execs of a
 * cancellable are reported cancelled at once, running or not (see
 * "Design notes: the exec engine" in docs/throttling.md). */

typedef struct _PftExecGroup PftExecGroup;
typedef struct _PftThreadExec PftThreadExec;

struct _PftThreadExec
{
  PftExecPoolJob   job;       /* in the exec pool */
  PftMainContextBatchItem batch_item; /* the report, in its context's batch */
  PftThreadExec   *gprev;     /* in the group's list, under its lock */
  PftThreadExec   *gnext;
  gatomicrefcount  ref_count; /* the worker's and the report's */
  PftExecCall     *call;      /* the report's: valid until reported */
  GMainContext    *context;   /* where it is reported */
  PftExecGroup    *group;     /* nullable */
  PftNode         *node;      /* what only the exec needs, dropped after it */
  PftContext      *ctx;
  GValue           item;
  GValue           result;
  GError          *error;
  PftRateLimiter  *limiter;   /* (owned) (nullable): of the attempt's slot */
  guint64          entry;     /* the slot's window entry */
  gint             state;     /* atomic, a PftThreadExecState */
};

typedef enum
{
  PFT_THREAD_EXEC_QUEUED,     /* not started */
  PFT_THREAD_EXEC_RUNNING,    /* in the exec */
  PFT_THREAD_EXEC_REPORTED,   /* reported, or about to be: by the worker,
                               * or by a cancellation before the exec started */
  PFT_THREAD_EXEC_ORPHANED,   /* reported cancelled while the exec runs: the
                               * worker gives back the limiter hold when it returns */
} PftThreadExecState;

struct _PftExecGroup
{
  gatomicrefcount  ref_count;
  GMutex           lock;
  PftThreadExec   *pending;   /* queued or running, under @lock */
};

static void pft_thread_exec_report (PftThreadExec *te);

static PftExecGroup *
pft_exec_group_ref (PftExecGroup *group)
{
  g_atomic_ref_count_inc (&group->ref_count);
  return group;
}

static void
pft_exec_group_unref (gpointer data)
{
  PftExecGroup *group = data;

  if (g_atomic_ref_count_dec (&group->ref_count))
    {
      g_mutex_clear (&group->lock);
      g_free (group);
    }
}

static void
pft_thread_exec_clear_work (PftThreadExec *te)
{
  g_clear_object (&te->node);
  g_clear_object (&te->ctx);
  if (G_IS_VALUE (&te->item))
    g_value_unset (&te->item);
}

static void
pft_thread_exec_unref (PftThreadExec *te)
{
  if (g_atomic_ref_count_dec (&te->ref_count))
    {
      pft_thread_exec_clear_work (te);
      if (G_IS_VALUE (&te->result))
        g_value_unset (&te->result);
      g_clear_error (&te->error);
      g_clear_pointer (&te->group, pft_exec_group_unref);
      g_clear_object (&te->limiter);
      g_main_context_unref (te->context);
      g_free (te);
    }
}

static void
pft_thread_exec_report_cancelled (PftThreadExec *te)
{
  te->error = _pft_error_new_cancelled ();
  pft_thread_exec_report (te);
}

/* Runs in the cancelling thread. */
static void
pft_exec_group_cancelled (GCancellable *cancellable,
                          PftExecGroup *group)
{
  g_autoptr(GPtrArray) pending = g_ptr_array_new ();

  /* Collected first (each listed exec is alive: its worker unlinks it
   * before letting go), handled outside the lock: the limiter's notify
   * handlers are user code. */
  g_mutex_lock (&group->lock);
  for (PftThreadExec *te = group->pending; te != NULL; te = te->gnext)
    {
      g_atomic_ref_count_inc (&te->ref_count);
      g_ptr_array_add (pending, te);
    }
  g_mutex_unlock (&group->lock);

  for (guint i = 0; i < pending->len; i++)
    {
      PftThreadExec *te = g_ptr_array_index (pending, i);

      /* An exec may still be blocked in user code: report it now so that
       * the run ends promptly; its worker drops the result when it comes
       * back. A running one keeps its limiter's count until then: the
       * hold is taken before the report lets the run give its slot back. */
      if (g_atomic_int_compare_and_exchange (&te->state, PFT_THREAD_EXEC_QUEUED, PFT_THREAD_EXEC_REPORTED))
        pft_thread_exec_report_cancelled (te);
      else if (g_atomic_int_get (&te->state) == PFT_THREAD_EXEC_RUNNING)
        {
          if (te->limiter != NULL)
            _pft_rate_limiter_hold (te->limiter);
          if (g_atomic_int_compare_and_exchange (&te->state, PFT_THREAD_EXEC_RUNNING, PFT_THREAD_EXEC_ORPHANED))
            {
              te->call->exec_running = TRUE;
              pft_thread_exec_report_cancelled (te);
            }
          else if (te->limiter != NULL)
            _pft_rate_limiter_unhold (te->limiter);   /* it just returned */
        }
      pft_thread_exec_unref (te);
    }
}

static G_DEFINE_QUARK (pft-exec-group, pft_exec_group)

/* The group of @cancellable, created on first use. (transfer full) */
static PftExecGroup *
pft_exec_group_for (GCancellable *cancellable)
{
  G_LOCK_DEFINE_STATIC (create);
  GQuark quark = pft_exec_group_quark ();
  PftExecGroup *group;

  /* The caller's reference on @cancellable keeps its qdata. */
  group = g_object_get_qdata (G_OBJECT (cancellable), quark);
  if (G_LIKELY (group != NULL))
    return pft_exec_group_ref (group);

  G_LOCK (create);
  group = g_object_get_qdata (G_OBJECT (cancellable), quark);
  if (group == NULL)
    {
      group = g_new0 (PftExecGroup, 1);
      g_atomic_ref_count_init (&group->ref_count);
      g_mutex_init (&group->lock);
      g_object_set_qdata_full (G_OBJECT (cancellable), quark, group, pft_exec_group_unref);
      /* Runs the handler at once if already cancelled. */
      g_cancellable_connect (cancellable, G_CALLBACK (pft_exec_group_cancelled),
                             pft_exec_group_ref (group), pft_exec_group_unref);
    }
  pft_exec_group_ref (group);
  G_UNLOCK (create);
  return group;
}

/* Puts @te in its group's list; FALSE if @cancellable was cancelled.
 * GCancellable sets its flag before it runs the handlers: either the
 * handler finds @te in the list, or this finds the flag. (Not a flag of
 * the group's own: a cancellable can be reset and used again.) */
static gboolean
pft_exec_group_link (PftThreadExec *te,
                     GCancellable  *cancellable)
{
  PftExecGroup *group = te->group;
  gboolean linked = FALSE;

  g_mutex_lock (&group->lock);
  if (!g_cancellable_is_cancelled (cancellable))
    {
      te->gprev = NULL;
      te->gnext = group->pending;
      if (group->pending != NULL)
        group->pending->gprev = te;
      group->pending = te;
      linked = TRUE;
    }
  g_mutex_unlock (&group->lock);
  return linked;
}

static void
pft_exec_group_unlink (PftThreadExec *te)
{
  PftExecGroup *group = te->group;

  g_mutex_lock (&group->lock);
  if (te->gprev != NULL)
    te->gprev->gnext = te->gnext;
  else
    group->pending = te->gnext;
  if (te->gnext != NULL)
    te->gnext->gprev = te->gprev;
  te->gprev = te->gnext = NULL;
  g_mutex_unlock (&group->lock);
}

/* Reports a PftThreadExec in its run's context (the report reference). */
static void
pft_thread_exec_deliver (PftMainContextBatchItem *item)
{
  PftThreadExec *te = PFT_MAIN_CONTEXT_BATCH_ITEM_CONTAINER (item, PftThreadExec, batch_item);
  PftExecCall *call = te->call;

  call->done (call, &te->result, g_steal_pointer (&te->error));
  pft_thread_exec_unref (te);
}

/* Its context went away first: nothing can be reported. */
static void
pft_thread_exec_drop (PftMainContextBatchItem *item)
{
  pft_thread_exec_unref (PFT_MAIN_CONTEXT_BATCH_ITEM_CONTAINER (item, PftThreadExec, batch_item));
}

static PftMainContextBatch pft_thread_exec_results =
  PFT_MAIN_CONTEXT_BATCH_INIT ("[pft] thread exec results", G_PRIORITY_DEFAULT,
                               pft_thread_exec_deliver, pft_thread_exec_drop);

/* Hands @te's report reference to the batch of its context. */
static void
pft_thread_exec_report (PftThreadExec *te)
{
  _pft_main_context_batch_add (&pft_thread_exec_results, te->context, &te->batch_item);
}

static void
pft_thread_exec_run (PftExecPoolJob *job)
{
  PftThreadExec *te = (PftThreadExec *) job;
  GValue result = G_VALUE_INIT;
  GError *error = NULL;
  gboolean won = FALSE;

  if (g_atomic_int_compare_and_exchange (&te->state, PFT_THREAD_EXEC_QUEUED, PFT_THREAD_EXEC_RUNNING))
    {
      PftNodeClass *klass = PFT_NODE_GET_CLASS (te->node);

      /* The request starts now, in this thread: the window counts it
       * from here, not from when its slot was granted. */
      _pft_exec_request_starts (te->node, te->ctx, te->limiter, te->entry);
      if (klass->exec != NULL)
        klass->exec (te->node, te->ctx, &te->item, &result, &error);
      /* Whoever moves @state on first reports: the exec (through its
       * context's batch), or a cancellation that came first and did not
       * wait for it, and that took a hold on the limiter for us. */
      won = g_atomic_int_compare_and_exchange (&te->state, PFT_THREAD_EXEC_RUNNING, PFT_THREAD_EXEC_REPORTED);
      if (!won)
        _pft_exec_request_returned_after_report (te->ctx, te->limiter);
    }
  if (te->group != NULL)
    pft_exec_group_unlink (te);
  pft_thread_exec_clear_work (te);
  if (won)
    {
      te->result = result;
      te->error = error;
      if (error != NULL && G_IS_VALUE (&te->result))
        g_value_unset (&te->result);
      pft_thread_exec_report (te);
    }
  else
    {
      if (G_IS_VALUE (&result))
        g_value_unset (&result);
      g_clear_error (&error);
    }
  pft_thread_exec_unref (te);   /* the worker's */
}

static void
pft_exec_report_error (PftExecCall *call,
                       GError      *error)
{
  GValue none = G_VALUE_INIT;

  call->done (call, &none, error);
}

/* The engine's default exec (no GTask): the node's sync exec, inline on
 * the main context or in Pft's pool, per thread-policy. @call is reported
 * once, maybe before this returns. */
static void
pft_exec_default (PftNode      *self,
                  PftContext   *ctx,
                  const GValue *item,
                  GCancellable *cancellable,
                  PftExecCall  *call)
{
  PftNodeClass *klass = PFT_NODE_GET_CLASS (self);
  PftThreadPolicy policy;
  GError *error = NULL;
  PftExecLanguage language;
  gboolean is_gjs;
  PftThreadExec *te;

  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      pft_exec_report_error (call, error);
      return;
    }

  /* A node that does all its work in prep and post has no exec: nothing
   * to send to a thread. Walking the type chain takes GType's lock once
   * per level, so it is done once per exec. */
  language = pft_exec_type_get_language (G_OBJECT_TYPE (self));
  is_gjs = language == PFT_EXEC_LANGUAGE_GJS;
  policy = klass->exec == NULL ? PFT_THREAD_POLICY_MAIN_CONTEXT : pft_exec_resolve_policy (self, is_gjs);
  if (policy == PFT_THREAD_POLICY_MAIN_CONTEXT)
    {
      GValue result = G_VALUE_INIT;

      _pft_exec_request_starts (self, ctx, call->limiter, call->entry);
      if (klass->exec != NULL)
        klass->exec (self, ctx, item, &result, &error);
      if (error != NULL && G_IS_VALUE (&result))
        g_value_unset (&result);
      call->done (call, &result, error);
      return;
    }

  if (is_gjs)
    {
      /* GJS blocks calls into JS from other threads and the caller then
       * sees an empty "success"; refuse instead. */
      pft_exec_report_error (call, g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                       _("%s: exec of a JavaScript node cannot run in a worker thread; "
                                         "use thread-policy AUTO or MAIN_CONTEXT, or implement exec_task"),
                                       pft_node_get_name (self)));
      return;
    }

  te = g_new0 (PftThreadExec, 1);
  /* One reference for the worker, one for the report. */
  g_atomic_ref_count_init (&te->ref_count);
  g_atomic_ref_count_inc (&te->ref_count);
  te->call = call;
  te->job.run = pft_thread_exec_run;
  /* Python execs run under the GIL, one at a time. */
  te->job.serialised = language == PFT_EXEC_LANGUAGE_PYTHON;
  te->context = g_main_context_ref (pft_context_get_main_context (ctx));
  te->node = g_object_ref (self);
  te->ctx = g_object_ref (ctx);
  /* Kept by the exec's own record: the run (and its slot) may be gone
   * before the worker comes back. */
  te->limiter = call->limiter != NULL ? g_object_ref (call->limiter) : NULL;
  te->entry = call->entry;
  /* The item belongs to the batch, which a cancelled run may free while
   * the exec still runs. */
  if (item != NULL && G_IS_VALUE (item))
    {
      g_value_init (&te->item, G_VALUE_TYPE (item));
      g_value_copy (item, &te->item);
    }
  else
    g_value_init (&te->item, G_TYPE_POINTER);
  if (cancellable != NULL)
    {
      te->group = pft_exec_group_for (cancellable);
      if (!pft_exec_group_link (te, cancellable))
        {
          /* Cancelled since the check above. */
          te->call = NULL;
          pft_thread_exec_unref (te);
          pft_thread_exec_unref (te);
          g_cancellable_set_error_if_cancelled (cancellable, &error);
          pft_exec_report_error (call, error);
          return;
        }
    }
  _pft_exec_pool_push (_pft_exec_pool_get_default (), &te->job);
}

/* _pft_exec_default_async() over pft_exec_default(): what a caller of
 * pft_node_exec_async() gets, a GTask. The engine itself calls
 * pft_exec_default() directly. */
typedef struct
{
  PftExecCall  call;
  GTask       *task;
} PftExecTaskCall;

static void
pft_exec_task_call_done (PftExecCall *call,
                         GValue      *value,
                         GError      *error)
{
  PftExecTaskCall *tc = (PftExecTaskCall *) call;

  if (error != NULL)
    g_task_return_error (tc->task, error);
  else
    g_task_return_value (tc->task, G_IS_VALUE (value) ? value : NULL);
  if (G_IS_VALUE (value))
    g_value_unset (value);
  g_object_unref (tc->task);
  g_free (tc);
}

void
_pft_exec_default_async (PftNode             *self,
                         PftContext          *ctx,
                         const GValue        *item,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  PftExecTaskCall *tc = g_new0 (PftExecTaskCall, 1);

  tc->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (tc->task, _pft_exec_default_async);
  tc->call.node = self;
  tc->call.done = pft_exec_task_call_done;
  pft_exec_default (self, ctx, item, cancellable, &tc->call);
}

/* The callback data of a class's exec_async, to catch a second
 * completion of one attempt. Recycled FIFO behind PFT_EXEC_TOKEN_MIN_FREE
 * others and never freed, so a late callback never reads freed memory. */
#define PFT_EXEC_TOKEN_MIN_FREE 64

enum
{
  PFT_EXEC_TOKEN_LEFT        = 1 << 0,   /* exec_async has returned */
  PFT_EXEC_TOKEN_CALLED_BACK = 1 << 1,
  PFT_EXEC_TOKEN_RETURNED    = 1 << 2,   /* completed at once */
};

typedef struct _PftExecToken PftExecToken;
struct _PftExecToken
{
  /* PFT_EXEC_TOKEN_*: read and written on the run's main context only,
   * where exec_async is called and its callback comes (GIO's rule). */
  gint                 state;
  GAsyncReadyCallback  callback;
  gpointer             user_data;
  GType                type;       /* the node's, for the critical */
  PftExecToken        *next_free;
};

/* The free tokens of a thread, oldest first: no lock per exec. */
typedef struct
{
  PftExecToken *head;
  PftExecToken *tail;
  guint         n_free;
} PftExecTokenCache;

static void pft_exec_token_cache_orphan (gpointer data);

static GPrivate pft_exec_token_cache_key = G_PRIVATE_INIT (pft_exec_token_cache_orphan);

/* A thread's free tokens when it exits: kept (a late callback may still
 * come), reachable, never reused. */
static GMutex         pft_exec_token_orphans_lock;
static GPtrArray     *pft_exec_token_orphans;

static void
pft_exec_token_cache_orphan (gpointer data)
{
  g_mutex_lock (&pft_exec_token_orphans_lock);
  if (pft_exec_token_orphans == NULL)
    pft_exec_token_orphans = g_ptr_array_new ();
  g_ptr_array_add (pft_exec_token_orphans, data);
  g_mutex_unlock (&pft_exec_token_orphans_lock);
}

/* TLS for speed (g_private_get() costs a call per exec); the GPrivate
 * only hands the cache over when the thread exits. */
static __thread PftExecTokenCache *pft_exec_token_cache;

static PftExecTokenCache *
pft_exec_token_cache_get (void)
{
  PftExecTokenCache *cache = pft_exec_token_cache;

  if (G_UNLIKELY (cache == NULL))
    {
      cache = g_new0 (PftExecTokenCache, 1);
      g_private_set (&pft_exec_token_cache_key, cache);
      pft_exec_token_cache = cache;
    }
  return cache;
}

static PftExecToken *
pft_exec_token_get (void)
{
  PftExecTokenCache *cache = pft_exec_token_cache_get ();
  PftExecToken *token;

  if (cache->n_free > PFT_EXEC_TOKEN_MIN_FREE)
    {
      token = cache->head;
      cache->head = token->next_free;
      cache->n_free--;
    }
  else
    token = g_new (PftExecToken, 1);
  token->next_free = NULL;
  /* Published to the callback's thread by the exec_async call itself. */
  token->state = 0;
  return token;
}

static void
pft_exec_token_recycle (PftExecToken *token)
{
  PftExecTokenCache *cache = pft_exec_token_cache_get ();

  token->next_free = NULL;
  if (cache->n_free > 0)
    cache->tail->next_free = token;
  else
    cache->head = token;
  cache->tail = token;
  cache->n_free++;
}

static void
pft_exec_token_report_twice (PftExecToken *token)
{
  g_critical ("%s: exec_async completed an attempt twice (pft_context_return_value() or "
              "pft_context_return_error() and its callback, or its callback twice); "
              "the second completion is ignored", g_type_name (token->type));
}

static void
pft_exec_token_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  PftExecToken *token = user_data;
  gint old = token->state;

  if (old & (PFT_EXEC_TOKEN_CALLED_BACK | PFT_EXEC_TOKEN_RETURNED))
    {
      pft_exec_token_report_twice (token);
      return;
    }
  token->state = old | PFT_EXEC_TOKEN_CALLED_BACK;
  token->callback (source, result, token->user_data);
  /* Inside exec_async, its caller recycles the token once it returned. */
  if (old & PFT_EXEC_TOKEN_LEFT)
    pft_exec_token_recycle (token);
}

/* Calls the class's exec_async with @ctx open for
 * pft_context_return_value() / _error(). Returns whether the result was
 * handed over at once; @sr then holds it (a value, or an error and no
 * value), and @callback will not be called. */
static inline gboolean
pft_exec_call_async (PftNode             *node,
                     PftContext          *ctx,
                     const GValue        *item,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data,
                     PftSyncReturn       *sr)
{
  PftExecToken *token = pft_exec_token_get ();
  PftSyncReturn *previous;
  gint old;

  token->callback = callback;
  token->user_data = user_data;
  token->type = G_OBJECT_TYPE (node);
  sr->thread = g_thread_self ();
  sr->returned = FALSE;
  sr->error = NULL;
  memset (&sr->value, 0, sizeof sr->value);
  /* Saved and put back: an exec_async may call another node's with the
   * same context. */
  previous = _pft_context_set_sync_return (ctx, sr);
  PFT_NODE_GET_CLASS (node)->exec_async (node, ctx, item, cancellable, pft_exec_token_cb, token);
  _pft_context_set_sync_return (ctx, previous);

  old = token->state;
  token->state = old | PFT_EXEC_TOKEN_LEFT | (sr->returned ? PFT_EXEC_TOKEN_RETURNED : 0);
  if (sr->returned && (old & PFT_EXEC_TOKEN_CALLED_BACK))
    {
      /* The callback came first, from inside exec_async, and reported. */
      pft_exec_token_report_twice (token);
      if (G_IS_VALUE (&sr->value))
        g_value_unset (&sr->value);
      g_clear_error (&sr->error);
      sr->returned = FALSE;
    }
  /* Done with unless the callback is still to come. */
  if (sr->returned || (old & PFT_EXEC_TOKEN_CALLED_BACK))
    pft_exec_token_recycle (token);

  if (sr->returned && sr->error != NULL && G_IS_VALUE (&sr->value))
    g_value_unset (&sr->value);
  return sr->returned;
}

gboolean
_pft_exec_call_async (PftNode             *node,
                      PftContext          *ctx,
                      const GValue        *item,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data,
                      PftSyncReturn       *sr)
{
  return pft_exec_call_async (node, ctx, item, cancellable, callback, user_data, sr);
}

/* ------------------------------------------------------------------ */
/* Starting one exec in the node's shape                                */

/* The engine's task around exec_task: its task data. */
typedef struct
{
  gint            state;     /* atomic, PFT_EXEC_REQUEST_* */
  PftRateLimiter *limiter;   /* (owned) (nullable): outlives the run's slot */
  PftContext     *ctx;       /* (owned) (nullable): the exec's, if it may be reported early */
  PftExecCall    *call;      /* valid until reported */
} PftExecTaskData;

static void
pft_exec_task_data_free (gpointer data)
{
  PftExecTaskData *etd = data;

  g_clear_object (&etd->limiter);
  g_clear_object (&etd->ctx);
  g_free (etd);
}

/* The task handed to exec_task holds a reference on the engine's task as
 * its task data, so that the reference goes when the user's task does,
 * whether or not it was ever completed. */
static void
pft_exec_task_inner_cb (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  GTask *outer = g_task_get_task_data (G_TASK (result));
  PftExecTaskData *etd = g_task_get_task_data (outer);
  GValue value = G_VALUE_INIT;
  GError *error = NULL;

  g_task_propagate_value (G_TASK (result), &value, &error);
  if (_pft_exec_request_report_returned (&etd->state, etd->ctx, etd->limiter))
    {
      if (error != NULL)
        g_task_return_error (outer, g_steal_pointer (&error));
      else
        g_task_return_value (outer, G_IS_VALUE (&value) ? &value : NULL);
    }
  g_clear_error (&error);
  if (G_IS_VALUE (&value))
    g_value_unset (&value);
}

/* The callback of an exec that reports through a GAsyncResult: the
 * engine's own task around exec_task, or a class's own exec_async. */
static void
pft_exec_async_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  PftExecCall *call = user_data;
  GValue value = G_VALUE_INIT;
  GError *error = NULL;

  if (G_IS_TASK (result) && g_task_get_source_tag (G_TASK (result)) == _pft_exec_start)
    g_task_propagate_value (G_TASK (result), &value, &error);
  else
    PFT_NODE_GET_CLASS (call->node)->exec_finish (call->node, result, &value, &error);
  if (error != NULL && G_IS_VALUE (&value))
    g_value_unset (&value);
  call->done (call, &value, error);
}

/* Reporting a cancelled attempt at once (PftExecCall.report_cancel_at_once,
 * set for an attempt with a timeout). A thread exec already reports when
 * its cancellable is cancelled (PftExecGroup); these make an exec_task or a
 * class's exec_async that ignores the cancellable report then too, from
 * the run's main context (_pft_cancel_watch_connect()). */

static void
pft_exec_task_return_cancelled (gpointer data)
{
  PftExecTaskData *etd = g_task_get_task_data (G_TASK (data));

  etd->call->exec_running = TRUE;
  g_task_return_error (G_TASK (data), _pft_error_new_cancelled ());
}

/* exec_task: completes the engine's task (not the user's) as cancelled;
 * the user's task, completed later, is then ignored. */
static gboolean
pft_exec_task_cancelled_cb (gpointer data)
{
  GTask *outer = data;
  PftExecTaskData *etd = g_task_get_task_data (outer);

  _pft_exec_request_report_early (&etd->state, etd->limiter, pft_exec_task_return_cancelled, outer);
  return G_SOURCE_REMOVE;
}

/* A class's exec_async: its callback and the cancel watch race for the
 * report; each holds a reference. */
typedef struct
{
  gatomicrefcount  ref_count;
  gint             state;      /* atomic, PFT_EXEC_REQUEST_* */
  PftExecCall     *call;       /* valid until reported */
  PftNode         *node;
  PftContext      *ctx;        /* (owned): the exec's */
  PftRateLimiter  *limiter;    /* (owned) (nullable): outlives the run's slot */
} PftExecAsyncReport;

static PftExecAsyncReport *
pft_exec_async_report_ref (PftExecAsyncReport *ar)
{
  g_atomic_ref_count_inc (&ar->ref_count);
  return ar;
}

static void
pft_exec_async_report_unref (gpointer data)
{
  PftExecAsyncReport *ar = data;

  if (g_atomic_ref_count_dec (&ar->ref_count))
    {
      g_object_unref (ar->node);
      g_object_unref (ar->ctx);
      g_clear_object (&ar->limiter);
      g_free (ar);
    }
}

static void
pft_exec_async_report_cancelled (gpointer data)
{
  PftExecAsyncReport *ar = data;
  PftExecCall *call = g_steal_pointer (&ar->call);

  call->exec_running = TRUE;
  pft_exec_report_error (call, _pft_error_new_cancelled ());
}

static gboolean
pft_exec_async_report_cancelled_cb (gpointer data)
{
  PftExecAsyncReport *ar = data;

  _pft_exec_request_report_early (&ar->state, ar->limiter, pft_exec_async_report_cancelled, ar);
  return G_SOURCE_REMOVE;
}

static void
pft_exec_async_report_cb (GObject      *source,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  PftExecAsyncReport *ar = user_data;
  GValue value = G_VALUE_INIT;
  GError *error = NULL;

  /* Finished either way, as GIO expects of a started operation. */
  PFT_NODE_GET_CLASS (ar->node)->exec_finish (ar->node, result, &value, &error);
  if (_pft_exec_request_report_returned (&ar->state, ar->ctx, ar->limiter))
    {
      PftExecCall *call = g_steal_pointer (&ar->call);

      if (error != NULL && G_IS_VALUE (&value))
        g_value_unset (&value);
      call->done (call, &value, error);
    }
  else
    {
      if (G_IS_VALUE (&value))
        g_value_unset (&value);
      g_clear_error (&error);
    }
  pft_exec_async_report_unref (ar);
}

static void
pft_exec_start_async_reporting_cancel (PftNode      *node,
                                       PftContext   *ctx,
                                       const GValue *item,
                                       GCancellable *cancellable,
                                       PftExecCall  *call)
{
  PftExecAsyncReport *ar = g_new0 (PftExecAsyncReport, 1);
  PftSyncReturn sr;

  g_atomic_ref_count_init (&ar->ref_count);   /* the callback's */
  ar->call = call;
  ar->node = g_object_ref (node);
  ar->ctx = g_object_ref (ctx);
  ar->limiter = call->limiter != NULL ? g_object_ref (call->limiter) : NULL;
  /* Before the call: a report through the callback or the watch comes
   * from a later main-loop iteration, never from inside it. */
  _pft_cancel_watch_connect (pft_context_get_main_context (ctx), cancellable,
                             pft_exec_async_report_cancelled_cb, pft_exec_async_report_ref (ar), pft_exec_async_report_unref);
  if (pft_exec_call_async (node, ctx, item, cancellable, pft_exec_async_report_cb, ar, &sr))
    {
      /* Returned at once: the callback will not be called. */
      if (_pft_exec_request_report_returned (&ar->state, ar->ctx, ar->limiter))
        {
          ar->call = NULL;
          call->done (call, &sr.value, sr.error);
        }
      else
        {
          if (G_IS_VALUE (&sr.value))
            g_value_unset (&sr.value);
          g_clear_error (&sr.error);
        }
      pft_exec_async_report_unref (ar);
    }
}

void
_pft_exec_start (PftNode      *node,
                 PftContext   *ctx,
                 const GValue *item,
                 GCancellable *cancellable,
                 PftExecCall  *call)
{
  PftNodeClass *klass = PFT_NODE_GET_CLASS (node);
  PftSyncReturn sr;

  call->node = node;

  if (klass->exec_task != NULL)
    {
      /* The user's task reports into @outer, which completes the attempt;
       * an error thrown by the vfunc completes @outer directly, so that an
       * exception in JS can never leave the attempt hanging. */
      GTask *outer = g_task_new (node, cancellable, pft_exec_async_cb, call);
      PftExecTaskData *etd = g_new0 (PftExecTaskData, 1);
      GTask *inner;
      GError *error = NULL;

      g_task_set_source_tag (outer, _pft_exec_start);
      etd->limiter = call->limiter != NULL ? g_object_ref (call->limiter) : NULL;
      /* Only an early report needs the context later; a reference held
       * otherwise would keep a batch from recycling it. */
      if (call->limiter != NULL && call->report_cancel_at_once && cancellable != NULL)
        etd->ctx = g_object_ref (ctx);
      etd->call = call;
      g_task_set_task_data (outer, etd, pft_exec_task_data_free);
      inner = g_task_new (node, cancellable, pft_exec_task_inner_cb, NULL);
      g_task_set_task_data (inner, g_object_ref (outer), g_object_unref);
      _pft_exec_request_starts (node, ctx, call->limiter, call->entry);
      if (call->report_cancel_at_once && cancellable != NULL)
        _pft_cancel_watch_connect (pft_context_get_main_context (ctx), cancellable,
                                   pft_exec_task_cancelled_cb, g_object_ref (outer), g_object_unref);
      klass->exec_task (node, ctx, item, inner, &error);
      /* A vfunc that threw has returned, whether or not it completes its
       * task later. */
      if (error != NULL)
        {
          if (_pft_exec_request_report_returned (&etd->state, etd->ctx, etd->limiter))
            g_task_return_error (outer, error);
          else
            g_error_free (error);
        }
      g_object_unref (inner);
      g_object_unref (outer);
      return;
    }

  if (klass->exec_async == _pft_exec_default_async)
    {
      pft_exec_default (node, ctx, item, cancellable, call);
      return;
    }

  /* The class's own exec_async may report through
   * pft_context_return_value() before it returns, instead of its
   * callback: no GTask, no main-loop iteration. Its request starts when
   * it is called, in either shape of the report. */
  _pft_exec_request_starts (node, ctx, call->limiter, call->entry);

  if (call->report_cancel_at_once && cancellable != NULL)
    {
      pft_exec_start_async_reporting_cancel (node, ctx, item, cancellable, call);
      return;
    }

  if (pft_exec_call_async (node, ctx, item, cancellable, pft_exec_async_cb, call, &sr))
    call->done (call, &sr.value, sr.error);
}
