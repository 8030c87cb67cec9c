/* pft-context.c: what one node invocation sees
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-context.h"
#include "pft-node.h"
#include "pft-rate-limiter.h"
#include "pft-store.h"
#include "pft-private.h"
#include "pft-context-private.h"
#include "pft-node-private.h"
#include "pft-rate-limiter-private.h"

/**
 * PftContext:
 *
 * What one invocation of a node sees: the run's [class@Pft.Store], the
 * params (an immutable `a{sv}` #GVariant, so that parallel runs of the
 * same node never see each other's), the attempt number, the index of
 * the batch item, and the run's #GCancellable.
 *
 * Every vfunc of [class@Pft.Node] receives one. Nodes are never copied
 * per run (unlike PocketFlow's `copy.copy`): keep per-run state here or
 * in the store, not in the node. Batch items each get their own context,
 * which shares the store, params and cancellable of the batch's.
 *
 * An item context is reused for a later item of the same batch once
 * nobody holds a reference to it any more. An exec may keep a reference
 * to its context as long as it likes: the context then serves no other
 * item until that reference is dropped. Data attached with
 * g_object_set_data() to a context the exec did not keep may therefore
 * be seen again by a later item: keep per-item data in the store, the
 * item or the exec's result instead. A #GWeakRef to an item context may
 * be cleared when its last reference goes even though the context is
 * reused afterwards (GLib 2.74 does so), and g_object_run_dispose() must
 * not be called on a context.
 *
 * Timers and idles that user code adds must go on
 * [method@Pft.Context.get_main_context] (the thread-default context of
 * the run), not on the global default context: a synchronous
 * [method@Pft.Node.run] iterates a private context.
 *
 * Since: 0.1
 */
/* A window entry whose request has not started: its exec starts it. */
typedef struct
{
  PftRateLimiter *limiter;
  guint64         entry;
} PftRequestStart;

static void
pft_request_start_free (PftRequestStart *rs)
{
  if (rs != NULL)
    {
      g_object_unref (rs->limiter);
      g_free (rs);
    }
}

struct _PftContext
{
  GObject       parent_instance;

  PftNode      *node;
  PftStore     *store;
  GVariant     *params;
  GCancellable *cancellable;
  GMainContext *main_context;
  guint         attempt;
  gint64        index;
  PftSyncReturn *sync_return;  /* while a class's exec_async runs */
  /* (atomic) (nullable): the request start the exec marks itself with
   * pft_context_begin_request(); an exec in a worker thread may call it. */
  PftRequestStart *request_start;
  /* (nullable) (owned): the batch pool an item context goes back to
   * when nobody holds it any more (see pft_context_dispose()). */
  PftContextPool *pool;
  PftContext     *pool_next;   /* chains the pool's free contexts */
};

/* The item contexts of one batch that nobody holds, for its next items:
 * a lock-free stack that any thread pushes to (a context's last reference
 * can go anywhere) and only the batch pops from, so no ABA. Refcounted:
 * a context can be disposed after its batch ended; the stack is closed
 * then, and the context dies normally. */
struct _PftContextPool
{
  gatomicrefcount  ref_count;
  PftContext      *free;       /* (atomic): chained by pool_next, one reference
                                * each, or PFT_CONTEXT_POOL_CLOSED */
};

#define PFT_CONTEXT_POOL_CLOSED ((PftContext *) &pft_context_pool_closed)
static const char pft_context_pool_closed;

static void
pft_context_pool_unref (PftContextPool *pool)
{
  if (g_atomic_ref_count_dec (&pool->ref_count))
    g_free (pool);
}

/* Puts @ctx, whose last reference just went, back; FALSE if the batch
 * ended. */
static gboolean
pft_context_pool_push (PftContextPool *pool,
                       PftContext     *ctx)
{
  PftContext *head;

  g_object_ref (ctx);
  do
    {
      head = g_atomic_pointer_get (&pool->free);
      if (head == PFT_CONTEXT_POOL_CLOSED)
        {
          /* Not the last: the one being dropped still counts until dispose
           * returns. Taken before the push, or the batch could pop @ctx
           * and drop it before we hold it. */
          g_object_unref (ctx);
          return FALSE;
        }
      ctx->pool_next = head;
    }
  while (!g_atomic_pointer_compare_and_exchange (&pool->free, head, ctx));
  return TRUE;
}

G_DEFINE_FINAL_TYPE (PftContext, pft_context, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NODE,
  PROP_STORE,
  PROP_PARAMS,
  PROP_CANCELLABLE,
  PROP_ATTEMPT,
  PROP_INDEX,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Called by g_object_unref() when the last reference goes, on whatever
 * thread dropped it: an item context whose batch still runs takes a new
 * reference and goes back to the pool instead of dying (GObject then does
 * not finalize it: it was "resurrected"). Not chaining up keeps its
 * qdata and handlers, which is why they may be seen on reuse. */
static void
pft_context_dispose (GObject *object)
{
  PftContext *self = (PftContext *)object;

  if (self->pool != NULL)
    {
      if (pft_context_pool_push (self->pool, self))
        return;
      g_clear_pointer (&self->pool, pft_context_pool_unref);
    }

  G_OBJECT_CLASS (pft_context_parent_class)->dispose (object);
}

static void
pft_context_finalize (GObject *object)
{
  PftContext *self = (PftContext *)object;

  /* Set if a thread that resurrected @self lost the race with the item
   * that took it from the pool and dropped it meanwhile. */
  g_clear_pointer (&self->pool, pft_context_pool_unref);

  g_clear_object (&self->node);
  g_clear_object (&self->store);
  g_clear_pointer (&self->params, g_variant_unref);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->main_context, g_main_context_unref);
  pft_request_start_free (self->request_start);

  G_OBJECT_CLASS (pft_context_parent_class)->finalize (object);
}

static void
pft_context_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  PftContext *self = PFT_CONTEXT (object);

  switch (prop_id)
    {
    case PROP_NODE:
      g_value_set_object (value, self->node);
      break;
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;
    case PROP_PARAMS:
      g_value_set_variant (value, self->params);
      break;
    case PROP_CANCELLABLE:
      g_value_set_object (value, self->cancellable);
      break;
    case PROP_ATTEMPT:
      g_value_set_uint (value, self->attempt);
      break;
    case PROP_INDEX:
      g_value_set_int64 (value, self->index);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_context_class_init (PftContextClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pft_context_dispose;
  object_class->finalize = pft_context_finalize;
  object_class->get_property = pft_context_get_property;

  /**
   * PftContext:node:
   *
   * The node being invoked.
   *
   * Since: 0.1
   */
  properties[PROP_NODE] =
    g_param_spec_object ("node", NULL, NULL, PFT_TYPE_NODE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * PftContext:store:
   *
   * The store shared by the whole run.
   *
   * Since: 0.1
   */
  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL, PFT_TYPE_STORE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * PftContext:params:
   *
   * The params of this invocation, an `a{sv}` variant: the node's own
   * [property@Pft.Node:params] overlaid with what enclosing flows passed.
   *
   * Since: 0.1
   */
  properties[PROP_PARAMS] =
    g_param_spec_variant ("params", NULL, NULL, G_VARIANT_TYPE_VARDICT, NULL,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * PftContext:cancellable:
   *
   * The cancellable of the run; cancelled when the run is cancelled or,
   * in a batch, when a sibling item failed.
   *
   * Since: 0.1
   */
  properties[PROP_CANCELLABLE] =
    g_param_spec_object ("cancellable", NULL, NULL, G_TYPE_CANCELLABLE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * PftContext:attempt:
   *
   * The attempt number of the exec under way, from 1; 0 in `prep` and `post`.
   *
   * Since: 0.1
   */
  properties[PROP_ATTEMPT] =
    g_param_spec_uint ("attempt", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * PftContext:index:
   *
   * The index of the batch item (or param set) this context is for, or -1
   * outside of a batch.
   *
   * Since: 0.1
   */
  properties[PROP_INDEX] =
    g_param_spec_int64 ("index", NULL, NULL, -1, G_MAXINT64, -1,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pft_context_init (PftContext *self)
{
  self->index = -1;
}

/* @params must be a{sv} (a floating reference is sunk). */
PftContext *
_pft_context_new (PftNode      *node,
                  PftStore     *store,
                  GVariant     *params,
                  GCancellable *cancellable)
{
  PftContext *self = g_object_new (PFT_TYPE_CONTEXT, NULL);

  self->node = g_object_ref (node);
  self->store = g_object_ref (store);
  self->params = g_variant_ref_sink (params);
  self->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  self->main_context = g_main_context_ref_thread_default ();
  return self;
}

PftContext *
_pft_context_new_for_item (PftContext   *parent,
                           gint64        index,
                           GCancellable *cancellable)
{
  PftContext *self = g_object_new (PFT_TYPE_CONTEXT, NULL);

  self->node = g_object_ref (parent->node);
  self->store = g_object_ref (parent->store);
  self->params = g_variant_ref (parent->params);
  self->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  self->main_context = g_main_context_ref (parent->main_context);
  self->index = index;
  return self;
}

PftContext *
_pft_context_new_for_attempt (PftContext   *parent,
                              GCancellable *cancellable)
{
  PftContext *self = _pft_context_new_for_item (parent, parent->index, cancellable);

  self->attempt = parent->attempt;
  return self;
}

/* Returns the previous one, to put back after: an exec_async may call
 * pft_node_exec_async() on another node with the same context. */
PftSyncReturn *
_pft_context_set_sync_return (PftContext    *self,
                              PftSyncReturn *sync_return)
{
  PftSyncReturn *previous = self->sync_return;

  self->sync_return = sync_return;
  return previous;
}

/**
 * pft_context_return_value:
 * @self: the #PftContext handed to [vfunc@Pft.Node.exec_async]
 * @value: (nullable): the result of the exec, copied; %NULL for none
 *
 * Completes the exec attempt of @self at once with @value, from inside
 * an implementation of [vfunc@Pft.Node.exec_async] that has its result
 * without waiting (a cache hit, a computation). Call it before
 * exec_async returns, on the thread that called it, at most once, and
 * then do not call the callback: the engine goes on with the result
 * without the main-loop iteration that a #GTask completed at once costs
 * (GTask defers such a callback to an idle), and exec_finish is not
 * called. A result that is not ready when exec_async returns goes
 * through the callback as usual.
 *
 * Calling it anywhere else is a programmer error, and so is completing
 * the attempt twice (with this and with the callback as well): that is
 * reported as a critical, and the second completion is ignored.
 *
 * Since: 0.1
 */
void
pft_context_return_value (PftContext   *self,
                          const GValue *value)
{
  PftSyncReturn *sr;

  g_return_if_fail (PFT_IS_CONTEXT (self));
  g_return_if_fail (value == NULL || G_IS_VALUE (value));
  sr = self->sync_return;
  g_return_if_fail (sr != NULL && sr->thread == g_thread_self ());
  g_return_if_fail (!sr->returned);

  sr->returned = TRUE;
  if (value != NULL)
    {
      g_value_init (&sr->value, G_VALUE_TYPE (value));
      g_value_copy (value, &sr->value);
    }
}

/**
 * pft_context_return_error:
 * @self: the #PftContext handed to [vfunc@Pft.Node.exec_async]
 * @error: (transfer full): why the attempt failed
 *
 * Fails the exec attempt of @self at once with @error, under the same
 * rules as [method@Pft.Context.return_value]: from inside exec_async,
 * before it returns, instead of its callback. The attempt is then retried
 * or handed to exec_fallback like any failed attempt.
 *
 * Since: 0.1
 */
void
pft_context_return_error (PftContext *self,
                          GError     *error)
{
  PftSyncReturn *sr;

  g_return_if_fail (PFT_IS_CONTEXT (self));
  g_return_if_fail (error != NULL);
  sr = self->sync_return;
  if (sr == NULL || sr->thread != g_thread_self () || sr->returned)
    {
      g_error_free (error);
      g_return_if_fail (sr != NULL && sr->thread == g_thread_self ());
      g_return_if_fail (!sr->returned);
      return;
    }

  sr->returned = TRUE;
  sr->error = error;
}

/* Makes a recycled item context new for item @index: what the engine
 * sets differs between the items of one batch in the index, the attempt
 * and the request start only. */
static void
pft_context_reset_for_item (PftContext *self,
                            gint64      index)
{
  self->index = index;
  self->attempt = 0;
  self->pool_next = NULL;
  _pft_context_defer_request_start (self, NULL, 0);
}

PftContextPool *
_pft_context_pool_new (void)
{
  PftContextPool *pool = g_new0 (PftContextPool, 1);

  g_atomic_ref_count_init (&pool->ref_count);
  return pool;
}

PftContext *
_pft_context_pool_take (PftContextPool *pool,
                        PftContext     *parent,
                        gint64          index,
                        GCancellable   *cancellable)
{
  PftContext *self;

  do
    {
      self = g_atomic_pointer_get (&pool->free);
      g_return_val_if_fail (self != PFT_CONTEXT_POOL_CLOSED, NULL);
      if (self == NULL)
        break;
    }
  while (!g_atomic_pointer_compare_and_exchange (&pool->free, self, self->pool_next));

  if (self != NULL)
    {
      pft_context_reset_for_item (self, index);
      return self;
    }
  self = _pft_context_new_for_item (parent, index, cancellable);
  g_atomic_ref_count_inc (&pool->ref_count);
  self->pool = pool;
  /* g_object_unref() freezes notifications around dispose, and makes and
   * frees a queue each time when none is frozen already: frozen for good
   * (a context never notifies), the reuse of each item costs no allocation. */
  g_object_freeze_notify (G_OBJECT (self));
  return self;
}

void
_pft_context_pool_close (PftContextPool *pool)
{
  PftContext *free_list = g_atomic_pointer_exchange (&pool->free, PFT_CONTEXT_POOL_CLOSED);

  /* Their dispose sees the pool closed and lets them die. */
  while (free_list != NULL)
    {
      PftContext *ctx = free_list;

      free_list = ctx->pool_next;
      g_object_unref (ctx);
    }
  pft_context_pool_unref (pool);
}

void
_pft_context_defer_request_start (PftContext     *self,
                                  PftRateLimiter *limiter,
                                  guint64         entry)
{
  PftRequestStart *rs = NULL;

  if (limiter != NULL)
    {
      rs = g_new (PftRequestStart, 1);
      rs->limiter = g_object_ref (limiter);
      rs->entry = entry;
    }
  pft_request_start_free (g_atomic_pointer_exchange (&self->request_start, rs));
}

/**
 * pft_context_begin_request:
 * @self: a #PftContext
 *
 * Marks that the exec of @self sends its request now: the window of the
 * node's rate limiter counts the attempt from this moment.
 *
 * Only the execs of a class that said so with
 * [method@Pft.NodeClass.set_begins_requests] mark their start: the engine
 * then does not stamp it when it calls the exec, and the attempt's window
 * entry counts, and does not expire, until this call. Call it right before
 * the request goes out (after any wait of the exec's own, for tokens for
 * instance); an exec that fails before sending need not call it: its
 * entry then counts from when the attempt ends, as for a request that
 * never started.
 *
 * Only the first call of an attempt counts; anywhere else (another
 * class, prep or post, an attempt without a rate limiter, or after the
 * attempt was reported) it does nothing. Callable from any thread.
 *
 * Since: 0.1
 */
void
pft_context_begin_request (PftContext *self)
{
  PftRequestStart *rs;

  g_return_if_fail (PFT_IS_CONTEXT (self));

  rs = g_atomic_pointer_exchange (&self->request_start, NULL);
  if (rs != NULL)
    {
      _pft_rate_limiter_start (rs->limiter, rs->entry);
      pft_request_start_free (rs);
    }
}

void
_pft_context_set_attempt (PftContext *self,
                          guint       attempt)
{
  self->attempt = attempt;
}

/**
 * pft_context_get_store:
 * @self: a #PftContext
 *
 * Gets the store of the run.
 *
 * Returns: (transfer none): the store
 *
 * Since: 0.1
 */
PftStore *
pft_context_get_store (PftContext *self)
{
  g_return_val_if_fail (PFT_IS_CONTEXT (self), NULL);

  return self->store;
}

/**
 * pft_context_get_params:
 * @self: a #PftContext
 *
 * Gets the params of this invocation.
 *
 * Returns: (transfer none): an `a{sv}` variant, never %NULL
 *
 * Since: 0.1
 */
GVariant *
pft_context_get_params (PftContext *self)
{
  g_return_val_if_fail (PFT_IS_CONTEXT (self), NULL);

  return self->params;
}

/**
 * pft_context_lookup_param:
 * @self: a #PftContext
 * @key: a param name
 *
 * Looks up one param.
 *
 * Returns: (transfer full) (nullable): the value, or %NULL when absent
 *
 * Since: 0.1
 */
GVariant *
pft_context_lookup_param (PftContext *self,
                          const char *key)
{
  g_return_val_if_fail (PFT_IS_CONTEXT (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  return g_variant_lookup_value (self->params, key, NULL);
}

/**
 * pft_context_dup_param_string:
 * @self: a #PftContext
 * @key: a param name
 *
 * Looks up a string param.
 *
 * Returns: (transfer full) (nullable): the string, or %NULL when absent or
 *   not a string
 *
 * Since: 0.1
 */
char *
pft_context_dup_param_string (PftContext *self,
                              const char *key)
{
  g_autoptr(GVariant) v = NULL;

  g_return_val_if_fail (PFT_IS_CONTEXT (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  v = g_variant_lookup_value (self->params, key, G_VARIANT_TYPE_STRING);
  return v != NULL ? g_variant_dup_string (v, NULL) : NULL;
}

/**
 * pft_context_get_param_int:
 * @self: a #PftContext
 * @key: a param name
 * @default_value: what to return when absent or not an integer
 *
 * Looks up an integer param of any integer variant type (`i`, `u`, `x`,
 * `t`, `n`, `q`, `y`).
 *
 * Returns: the integer, or @default_value
 *
 * Since: 0.1
 */
gint64
pft_context_get_param_int (PftContext *self,
                           const char *key,
                           gint64      default_value)
{
  g_autoptr(GVariant) v = NULL;

  g_return_val_if_fail (PFT_IS_CONTEXT (self), default_value);
  g_return_val_if_fail (key != NULL, default_value);

  v = g_variant_lookup_value (self->params, key, NULL);
  if (v == NULL)
    return default_value;
  switch (g_variant_classify (v))
    {
    case G_VARIANT_CLASS_INT32: return g_variant_get_int32 (v);
    case G_VARIANT_CLASS_UINT32: return g_variant_get_uint32 (v);
    case G_VARIANT_CLASS_INT64: return g_variant_get_int64 (v);
    case G_VARIANT_CLASS_UINT64: return (gint64) g_variant_get_uint64 (v);
    case G_VARIANT_CLASS_INT16: return g_variant_get_int16 (v);
    case G_VARIANT_CLASS_UINT16: return g_variant_get_uint16 (v);
    case G_VARIANT_CLASS_BYTE: return g_variant_get_byte (v);
    default: return default_value;
    }
}

/**
 * pft_context_get_cancellable:
 * @self: a #PftContext
 *
 * Gets the cancellable of the run. Blocking user code should pass it on
 * (for example to libsoup) or check it, so that cancellation is prompt.
 *
 * Returns: (transfer none) (nullable): the cancellable
 *
 * Since: 0.1
 */
GCancellable *
pft_context_get_cancellable (PftContext *self)
{
  g_return_val_if_fail (PFT_IS_CONTEXT (self), NULL);

  return self->cancellable;
}

/**
 * pft_context_get_attempt:
 * @self: a #PftContext
 *
 * Gets the attempt number of the exec under way (1 for the first call).
 *
 * Returns: the attempt number, from 1; 0 outside exec
 *
 * Since: 0.1
 */
guint
pft_context_get_attempt (PftContext *self)
{
  g_return_val_if_fail (PFT_IS_CONTEXT (self), 0);

  return self->attempt;
}

/**
 * pft_context_get_index:
 * @self: a #PftContext
 *
 * Gets the index of the batch item this context is for.
 *
 * Returns: the index, or -1 outside of a batch
 *
 * Since: 0.1
 */
gint64
pft_context_get_index (PftContext *self)
{
  g_return_val_if_fail (PFT_IS_CONTEXT (self), -1);

  return self->index;
}

/**
 * pft_context_get_node:
 * @self: a #PftContext
 *
 * Gets the node being invoked.
 *
 * Returns: (transfer none): the node
 *
 * Since: 0.1
 */
PftNode *
pft_context_get_node (PftContext *self)
{
  g_return_val_if_fail (PFT_IS_CONTEXT (self), NULL);

  return self->node;
}

/**
 * pft_context_get_main_context:
 * @self: a #PftContext
 *
 * Gets the main context the run is driven by: the one to attach timers
 * and idles to (`GLib.MainContext.ref_thread_default()` in the thread
 * that runs prep and post returns the same).
 *
 * Returns: (transfer none): the main context
 *
 * Since: 0.1
 */
GMainContext *
pft_context_get_main_context (PftContext *self)
{
  g_return_val_if_fail (PFT_IS_CONTEXT (self), NULL);

  return self->main_context;
}
