/* pft-node.c: the node's GObject: properties, successors, the run API
 * and the engine's hooks of its class (the vfuncs: pft-node-vfuncs.c)
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>

#include "pft-enums.h"
#include "pft-node.h"
#include "pft-store.h"
#include "pft-private.h"
#include "pft-clock-private.h"
#include "pft-hang-watch-private.h"
#include "pft-invocation-private.h"
#include "pft-node-private.h"
#include "pft-node-vfuncs-private.h"

/**
 * PftNode:
 *
 * The unit of work of PocketFlow: `prep` reads the store, `exec` does the
 * work (an LLM or API call), `post` writes the result back and returns an
 * action string that picks the next node of a [class@Pft.Flow].
 *
 * `exec` comes in three shapes; override one:
 *
 * - [vfunc@Pft.Node.exec], synchronous, run where
 *   [property@Pft.Node:thread-policy] says (worker threads for C, Vala and
 *   Python, the main context for JavaScript);
 * - [vfunc@Pft.Node.exec_async] and [vfunc@Pft.Node.exec_finish], for
 *   truly asynchronous code (libsoup) in C, Vala or Python;
 * - [vfunc@Pft.Node.exec_task], which completes a #GTask it is handed:
 *   the shape GJS can implement.
 *
 * A failed exec is retried until [property@Pft.Node:max-retries] attempts
 * were made, waiting [property@Pft.Node:wait] seconds between attempts;
 * then [vfunc@Pft.Node.exec_fallback] may substitute a result. Every
 * failure is a #GError: exceptions raised in Python become
 * [error@Pft.Error.FAILED] errors naming the exception, and a JavaScript
 * exec that could not run is an error, never an empty success.
 *
 * Nodes are connected with [method@Pft.Node.add_successor]. A node object is
 * never copied: one node may run in several invocations at once, each
 * with its own [class@Pft.Context].
 *
 * Since: 0.1
 */

typedef struct
{
  char            *name;
  int              max_retries;
  double           wait;
  PftThreadPolicy  thread_policy;
  GVariant        *params;
  GHashTable      *successors;   /* action -> PftNode (ref) */
  double           timeout;      /* seconds per exec attempt, 0 = none */
  PftClock        *clock;        /* nullable: the system clock (tests inject a fake one) */
} PftNodePrivate;

G_DEFINE_TYPE_WITH_CODE (PftNode, pft_node, G_TYPE_OBJECT,
                         G_ADD_PRIVATE (PftNode)
                         g_type_add_class_private (g_define_type_id, sizeof (PftNodeClassPrivate)))

#define PFT_NODE_CLASS_GET_PRIVATE(klass) \
  G_TYPE_CLASS_GET_PRIVATE ((klass), PFT_TYPE_NODE, PftNodeClassPrivate)

enum {
  PROP_0,
  PROP_NAME,
  PROP_MAX_RETRIES,
  PROP_WAIT,
  PROP_THREAD_POLICY,
  PROP_PARAMS,
  PROP_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ------------------------------------------------------------------ */
/* GObject boilerplate                                                  */

static void
pft_node_dispose (GObject *object)
{
  PftNode *self = (PftNode *)object;
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  /* Dropping successors here lets g_object_run_dispose() break a loop in
   * a graph (agents loop), which references alone would keep alive. */
  g_hash_table_remove_all (priv->successors);

  G_OBJECT_CLASS (pft_node_parent_class)->dispose (object);
}

static void
pft_node_finalize (GObject *object)
{
  PftNode *self = (PftNode *)object;
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_free (priv->name);
  g_clear_pointer (&priv->params, g_variant_unref);
  g_hash_table_unref (priv->successors);
  g_clear_pointer (&priv->clock, _pft_clock_unref);

  G_OBJECT_CLASS (pft_node_parent_class)->finalize (object);
}

static void
pft_node_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  PftNode *self = PFT_NODE (object);
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, pft_node_get_name (self));
      break;
    case PROP_MAX_RETRIES:
      g_value_set_int (value, priv->max_retries);
      break;
    case PROP_WAIT:
      g_value_set_double (value, priv->wait);
      break;
    case PROP_THREAD_POLICY:
      g_value_set_enum (value, priv->thread_policy);
      break;
    case PROP_PARAMS:
      g_value_set_variant (value, priv->params);
      break;
    case PROP_TIMEOUT:
      g_value_set_double (value, priv->timeout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_node_set_property (GObject      *object,
                       guint         prop_id,
                       const GValue *value,
                       GParamSpec   *pspec)
{
  PftNode *self = PFT_NODE (object);

  switch (prop_id)
    {
    case PROP_NAME:
      pft_node_set_name (self, g_value_get_string (value));
      break;
    case PROP_MAX_RETRIES:
      pft_node_set_max_retries (self, g_value_get_int (value));
      break;
    case PROP_WAIT:
      pft_node_set_wait (self, g_value_get_double (value));
      break;
    case PROP_THREAD_POLICY:
      pft_node_set_thread_policy (self, g_value_get_enum (value));
      break;
    case PROP_PARAMS:
      pft_node_set_params (self, g_value_get_variant (value));
      break;
    case PROP_TIMEOUT:
      pft_node_set_timeout (self, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* One item: its exec. */
static guint
pft_node_real_get_max_concurrent (PftNode *self)
{
  return 1;
}

static void
pft_node_class_init (PftNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  PftNodeClassPrivate *hooks;

  _pft_init_i18n ();

  object_class->dispose = pft_node_dispose;
  object_class->finalize = pft_node_finalize;
  object_class->get_property = pft_node_get_property;
  object_class->set_property = pft_node_set_property;

  _pft_node_class_set_default_vfuncs (klass);

  hooks = _pft_node_class_get_private (klass);
  hooks->exec_phase = _pft_invocation_exec_one;
  hooks->get_max_concurrent = pft_node_real_get_max_concurrent;

  /**
   * PftNode:name:
   *
   * A name for logs and error messages; the type name when unset.
   *
   * Since: 0.1
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * PftNode:max-retries:
   *
   * How many attempts exec gets, the first included (PocketFlow's
   * `max_retries`): 1 means no retry.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_RETRIES] =
    g_param_spec_int ("max-retries", NULL, NULL, 1, G_MAXINT, 1,
                      G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * PftNode:wait:
   *
   * Seconds to wait between two attempts of exec. The wait is cancellable
   * and holds no rate-limiter permit.
   *
   * Since: 0.1
   */
  properties[PROP_WAIT] =
    g_param_spec_double ("wait", NULL, NULL, 0, G_MAXDOUBLE, 0,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * PftNode:thread-policy:
   *
   * Where the synchronous exec runs; see [enum@Pft.ThreadPolicy].
   *
   * Since: 0.1
   */
  properties[PROP_THREAD_POLICY] =
    g_param_spec_enum ("thread-policy", NULL, NULL,
                       PFT_TYPE_THREAD_POLICY, PFT_THREAD_POLICY_AUTO,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * PftNode:params:
   *
   * The node's own params, an `a{sv}` variant (PocketFlow's `set_params`).
   * When the node runs inside a flow, the params the flow passes are laid
   * over these: outer params win, and reach the node through
   * [property@Pft.Context:params].
   *
   * Since: 0.1
   */
  /**
   * PftNode:timeout:
   *
   * Seconds one exec attempt may take, 0 for no limit. An attempt still
   * running then fails with %G_IO_ERROR_TIMED_OUT and is retried per
   * [property@Pft.Node:max-retries] like any failure; its
   * [property@Pft.Context:cancellable] is cancelled, so an exec that
   * honours it stops. The engine stops waiting for it whatever its shape
   * ([vfunc@Pft.Node.exec] in a worker thread, [vfunc@Pft.Node.exec_async],
   * [vfunc@Pft.Node.exec_task]); an exec that ignores the cancellable
   * keeps running, and its result is dropped; under a limiter it keeps
   * its permit counted until it really returns, as after a cancelled run.
   * A synchronous exec on the main context cannot be interrupted: it is
   * judged when it returns.
   *
   * The safety net for an exec waiting on something that never comes, such
   * as a timer attached to a main context nobody iterates (see
   * [method@Pft.Node.run]). Applies to the execs of this node (each item
   * of a batch node), not to the walks of a flow.
   *
   * Since: 0.1
   */
  properties[PROP_TIMEOUT] =
    g_param_spec_double ("timeout", NULL, NULL, 0, G_MAXDOUBLE, 0,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PARAMS] =
    g_param_spec_variant ("params", NULL, NULL, G_VARIANT_TYPE_VARDICT, NULL,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pft_node_init (PftNode *self)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  priv->max_retries = 1;
  priv->successors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

/* ------------------------------------------------------------------ */
/* The engine's hooks                                                   */

/* Asked per exec: g_type_class_get_private() walks the type's ancestry,
 * so the last class looked up in this thread is remembered (with its
 * type: a class of an unloaded type module could come back elsewhere). */
static __thread gpointer             pft_node_last_class;
static __thread GType                pft_node_last_class_type;
static __thread PftNodeClassPrivate *pft_node_last_class_private;

PftNodeClassPrivate *
_pft_node_class_get_private (gpointer klass)
{
  GType type = G_TYPE_FROM_CLASS (klass);

  if (G_LIKELY (klass == pft_node_last_class && type == pft_node_last_class_type))
    return pft_node_last_class_private;
  pft_node_last_class_private = PFT_NODE_CLASS_GET_PRIVATE (klass);
  pft_node_last_class = klass;
  pft_node_last_class_type = type;
  return pft_node_last_class_private;
}

PftNodeClassPrivate *
_pft_node_get_class_private (PftNode *node)
{
  return _pft_node_class_get_private (PFT_NODE_GET_CLASS (node));
}

PftThrottle *
_pft_node_get_throttle (PftNode *node)
{
  PftNodeClassPrivate *hooks = _pft_node_get_class_private (node);

  return hooks->get_throttle != NULL ? hooks->get_throttle (node) : NULL;
}

void
_pft_node_max_concurrent_changed (PftNode *node,
                                  guint    max_concurrent)
{
  PftNodeClassPrivate *hooks = _pft_node_get_class_private (node);

  if (hooks->max_concurrent_changed != NULL)
    hooks->max_concurrent_changed (node, max_concurrent);
}

/* ------------------------------------------------------------------ */
/* Properties                                                           */

/**
 * pft_node_get_name:
 * @self: a #PftNode
 *
 * Gets the name used in logs.
 *
 * Returns: the name, or the type name when none was set
 *
 * Since: 0.1
 */
const char *
pft_node_get_name (PftNode *self)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_val_if_fail (PFT_IS_NODE (self), NULL);

  return priv->name != NULL ? priv->name : G_OBJECT_TYPE_NAME (self);
}

/**
 * pft_node_set_name:
 * @self: a #PftNode
 * @name: (nullable): a name for logs
 *
 * Sets the name used in logs and error messages.
 *
 * Since: 0.1
 */
void
pft_node_set_name (PftNode    *self,
                   const char *name)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_if_fail (PFT_IS_NODE (self));

  if (g_strcmp0 (priv->name, name) != 0)
    {
      g_free (priv->name);
      priv->name = g_strdup (name);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
    }
}

/**
 * pft_node_get_max_retries:
 * @self: a #PftNode
 *
 * Gets how many attempts exec gets.
 *
 * Returns: the number of attempts, at least 1
 *
 * Since: 0.1
 */
int
pft_node_get_max_retries (PftNode *self)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_val_if_fail (PFT_IS_NODE (self), 1);

  return priv->max_retries;
}

/**
 * pft_node_set_max_retries:
 * @self: a #PftNode
 * @max_retries: attempts, the first included; at least 1
 *
 * Sets how many attempts exec gets.
 *
 * Since: 0.1
 */
void
pft_node_set_max_retries (PftNode *self,
                          int      max_retries)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (max_retries >= 1);

  if (priv->max_retries != max_retries)
    {
      priv->max_retries = max_retries;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_RETRIES]);
    }
}

/**
 * pft_node_get_wait:
 * @self: a #PftNode
 *
 * Gets the wait between attempts.
 *
 * Returns: the wait, in seconds
 *
 * Since: 0.1
 */
double
pft_node_get_wait (PftNode *self)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_val_if_fail (PFT_IS_NODE (self), 0);

  return priv->wait;
}

/**
 * pft_node_set_wait:
 * @self: a #PftNode
 * @wait: seconds to wait between attempts, >= 0
 *
 * Sets the wait between attempts.
 *
 * Since: 0.1
 */
void
pft_node_set_wait (PftNode *self,
                   double   wait)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (wait >= 0 && isfinite (wait));

  if (priv->wait != wait)
    {
      priv->wait = wait;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WAIT]);
    }
}

/**
 * pft_node_get_timeout:
 * @self: a #PftNode
 *
 * Gets how long one exec attempt may take.
 *
 * Returns: seconds, 0 for no limit
 *
 * Since: 0.1
 */
double
pft_node_get_timeout (PftNode *self)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_val_if_fail (PFT_IS_NODE (self), 0);

  return priv->timeout;
}

/**
 * pft_node_set_timeout:
 * @self: a #PftNode
 * @timeout: seconds, finite and not negative; 0 for no limit
 *
 * Sets how long one exec attempt may take; see [property@Pft.Node:timeout].
 *
 * Since: 0.1
 */
void
pft_node_set_timeout (PftNode *self,
                      double   timeout)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (timeout >= 0 && isfinite (timeout));

  if (priv->timeout != timeout)
    {
      priv->timeout = timeout;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
    }
}

PftClock *
_pft_node_get_clock (PftNode *self)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  return priv->clock != NULL ? priv->clock : _pft_clock_get_system ();
}

void
_pft_node_set_clock (PftNode  *self,
                     PftClock *clock)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_clear_pointer (&priv->clock, _pft_clock_unref);
  if (clock != NULL)
    priv->clock = _pft_clock_ref (clock);
}

/**
 * pft_node_get_thread_policy:
 * @self: a #PftNode
 *
 * Gets where the synchronous exec runs.
 *
 * Returns: the thread policy
 *
 * Since: 0.1
 */
PftThreadPolicy
pft_node_get_thread_policy (PftNode *self)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_val_if_fail (PFT_IS_NODE (self), PFT_THREAD_POLICY_AUTO);

  return priv->thread_policy;
}

PftThreadPolicy
_pft_node_peek_thread_policy (PftNode *self)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  return priv->thread_policy;
}

/**
 * pft_node_set_thread_policy:
 * @self: a #PftNode
 * @policy: a #PftThreadPolicy
 *
 * Sets where the synchronous exec runs.
 *
 * Since: 0.1
 */
void
pft_node_set_thread_policy (PftNode         *self,
                            PftThreadPolicy  policy)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (policy <= PFT_THREAD_POLICY_MAIN_CONTEXT);

  if (priv->thread_policy != policy)
    {
      priv->thread_policy = policy;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_THREAD_POLICY]);
    }
}

/**
 * pft_node_get_params:
 * @self: a #PftNode
 *
 * Gets the node's own params.
 *
 * Returns: (transfer none) (nullable): an `a{sv}` variant, or %NULL
 *
 * Since: 0.1
 */
GVariant *
pft_node_get_params (PftNode *self)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_val_if_fail (PFT_IS_NODE (self), NULL);

  return priv->params;
}

/**
 * pft_node_set_params:
 * @self: a #PftNode
 * @params: (nullable): an `a{sv}` variant
 *
 * Sets the node's own params. A floating @params is sunk.
 *
 * Since: 0.1
 */
void
pft_node_set_params (PftNode  *self,
                     GVariant *params)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (params == NULL || g_variant_is_of_type (params, G_VARIANT_TYPE_VARDICT));

  if (params != NULL)
    g_variant_ref_sink (params);
  g_clear_pointer (&priv->params, g_variant_unref);
  priv->params = params;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PARAMS]);
}

/* ------------------------------------------------------------------ */
/* Successors                                                           */

/**
 * pft_node_add_successor:
 * @self: a #PftNode
 * @action: (nullable): the action, or %NULL for [const@Pft.DEFAULT_ACTION]
 * @next: the node to run after @self when its post returns @action
 *
 * Makes @next the successor of @self for @action (PocketFlow's
 * `self - "action" >> next`), replacing any previous one. @self keeps a
 * reference on @next; a graph with a loop is freed when one of its nodes
 * is disposed with g_object_run_dispose(), or when its edges are
 * reconnected.
 *
 * Returns: (transfer none): @next, so that calls chain like `>>`
 *
 * Since: 0.1
 */
PftNode *
pft_node_add_successor (PftNode    *self,
                  const char *action,
                  PftNode    *next)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_val_if_fail (PFT_IS_NODE (self), NULL);
  g_return_val_if_fail (PFT_IS_NODE (next), NULL);

  if (action == NULL)
    action = PFT_DEFAULT_ACTION;
  if (g_hash_table_contains (priv->successors, action))
    g_debug ("%s: overwriting successor for action '%s'", pft_node_get_name (self), action);
  g_hash_table_replace (priv->successors, g_strdup (action), g_object_ref (next));
  return next;
}

/**
 * pft_node_get_successor:
 * @self: a #PftNode
 * @action: (nullable): an action, or %NULL for [const@Pft.DEFAULT_ACTION]
 *
 * Looks up the successor for @action.
 *
 * Returns: (transfer none) (nullable): the successor, or %NULL
 *
 * Since: 0.1
 */
PftNode *
pft_node_get_successor (PftNode    *self,
                        const char *action)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  g_return_val_if_fail (PFT_IS_NODE (self), NULL);

  return g_hash_table_lookup (priv->successors, action != NULL ? action : PFT_DEFAULT_ACTION);
}

/**
 * pft_node_dup_actions:
 * @self: a #PftNode
 *
 * Lists the actions that have a successor, sorted.
 *
 * Returns: (transfer full) (array zero-terminated=1): the actions
 *
 * Since: 0.1
 */
char **
pft_node_dup_actions (PftNode *self)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);
  g_autofree const char **keys = NULL;
  char **ret;
  guint n = 0;

  g_return_val_if_fail (PFT_IS_NODE (self), NULL);

  keys = (const char **) g_hash_table_get_keys_as_array (priv->successors, &n);
  qsort (keys, n, sizeof (char *), (int (*)(const void *, const void *)) _pft_strptr_cmp);
  ret = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    ret[i] = g_strdup (keys[i]);
  return ret;
}

/* ------------------------------------------------------------------ */
/* Run API                                                              */

/**
 * pft_node_run_async:
 * @self: a #PftNode (or flow)
 * @store: the store shared by the run
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the run is done
 * @user_data: data for @callback
 *
 * Runs the node (prep, exec, post) or, for a flow, its whole graph, on
 * the thread-default main context: prep and post run there, exec as
 * [property@Pft.Node:thread-policy] says. Finish with
 * [method@Pft.Node.run_finish].
 *
 * Cancelling @cancellable reaches every waiting retry and every exec in
 * flight; the run then ends promptly with %G_IO_ERROR_CANCELLED, even if
 * a blocking exec in a worker thread has not returned yet (its result is
 * dropped).
 *
 * Since: 0.1
 */
void
pft_node_run_async (PftNode             *self,
                    PftStore            *store,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (PFT_IS_STORE (store));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  _pft_invocation_run_async (self, store, NULL, cancellable, callback, user_data);
}

/**
 * pft_node_run_finish:
 * @self: a #PftNode
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Completes [method@Pft.Node.run_async].
 *
 * Returns: (transfer full): the action the node's post returned
 *   ([const@Pft.DEFAULT_ACTION] for %NULL), or %NULL with @error set: the
 *   first error of prep, exec (after retries and fallback) or post,
 *   %G_IO_ERROR_CANCELLED, or a [error@Pft.Error] such as
 *   [error@Pft.Error.NO_START]
 *
 * Since: 0.1
 */
char *
pft_node_run_finish (PftNode       *self,
                     GAsyncResult  *result,
                     GError       **error)
{
  g_return_val_if_fail (PFT_IS_NODE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return _pft_invocation_run_finish (self, result, error);
}

static void
pft_node_run_sync_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/**
 * pft_node_run:
 * @self: a #PftNode (or flow)
 * @store: the store shared by the run
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs the node synchronously: pushes a private main context as the
 * thread-default one and iterates it until the run is done. It works
 * from any thread, including from inside another run. Sources that user
 * code adds must go on `GLib.MainContext.ref_thread_default()` (or
 * [method@Pft.Context.get_main_context]): the global default context is
 * not iterated meanwhile, so a timer there (Vala's `Timeout.add`, GJS's
 * `setTimeout`, g_timeout_add()) never fires. When an exec has waited a
 * few seconds while such a source, added during the run, is due and
 * nobody iterates the global default context, a warning names the node;
 * [property@Pft.Node:timeout] fails such an attempt instead of waiting.
 *
 * Returns: (transfer full): the action, as [method@Pft.Node.run_finish]
 *
 * Since: 0.1
 */
char *
pft_node_run (PftNode       *self,
              PftStore      *store,
              GCancellable  *cancellable,
              GError       **error)
{
  g_autoptr(GMainContext) context = NULL;
  GAsyncResult *result = NULL;
  PftHangWatch *watch;
  char *action;

  g_return_val_if_fail (PFT_IS_NODE (self), NULL);
  g_return_val_if_fail (PFT_IS_STORE (store), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);

  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  watch = _pft_hang_watch_begin (self, context);
  pft_node_run_async (self, store, cancellable, pft_node_run_sync_cb, &result);
  while (result == NULL)
    _pft_hang_watch_iterated (watch, g_main_context_iteration (context, TRUE));
  _pft_hang_watch_end (watch);
  action = pft_node_run_finish (self, result, error);
  g_object_unref (result);
  g_main_context_pop_thread_default (context);
  return action;
}
