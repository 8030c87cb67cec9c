/* pft-node.c: prep -> exec -> post, retries, thread policy, run API
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib/gi18n-lib.h>

#include "pft.h"
#include "pft-enums.h"
#include "pft-dispatch-private.h"
#include "pft-rate-limiter-private.h"
#include "pft-clock-private.h"
#include "pft-hang-watch-private.h"
#include "pft-main-context-batch-private.h"

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

/* Per class, copied into each subclass's class when it is created. */
typedef struct
{
  gboolean begins_requests;   /* see pft_node_class_set_begins_requests() */
} PftNodeClassPrivate;

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

/* The worker threads of THREAD exec. Not GTask's pool: that one starts at
 * 10 threads and grows slowly, which would cap a batch of blocking calls
 * far below its max-concurrent. The dispatcher bounds how many execs run at
 * once; this bound only protects against an unbounded batch. */
#define PFT_EXEC_MAX_THREADS 512

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

static void pft_node_real_exec_async  (PftNode *, PftContext *, const GValue *, GCancellable *,
                                       GAsyncReadyCallback, gpointer);
static void pft_node_real_exec_finish (PftNode *, GAsyncResult *, GValue *, GError **);
static void pft_node_real_exec_fallback (PftNode *, PftContext *, const GValue *, const GError *,
                                         GValue *, GError **);
static gboolean pft_node_real_is_rate_limit (PftNode *, const GError *);

static void
pft_node_class_init (PftNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  _pft_init_i18n ();

  object_class->dispose = pft_node_dispose;
  object_class->finalize = pft_node_finalize;
  object_class->get_property = pft_node_get_property;
  object_class->set_property = pft_node_set_property;

  klass->exec_async = pft_node_real_exec_async;
  klass->exec_finish = pft_node_real_exec_finish;
  klass->exec_fallback = pft_node_real_exec_fallback;
  klass->is_rate_limit = pft_node_real_is_rate_limit;

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
/* Default vfuncs and their public invokers                             */

/* Which binding implements a node type. */
typedef enum
{
  PFT_NODE_LANGUAGE_C,
  PFT_NODE_LANGUAGE_GJS,
  PFT_NODE_LANGUAGE_PYTHON,
} PftNodeLanguage;

/* GJS and PyGObject mark every type they register; a C type derived from
 * a binding's type is not a thing, so the first marked type up the chain
 * decides. One walk answers both, as each level takes GType's lock. */
static PftNodeLanguage
pft_node_type_get_language (GType type)
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
        return PFT_NODE_LANGUAGE_GJS;
      if (g_type_get_qdata (type, python_quark) != NULL)
        return PFT_NODE_LANGUAGE_PYTHON;
    }
  return PFT_NODE_LANGUAGE_C;
}

static PftThreadPolicy
resolve_policy (PftNode  *self,
                gboolean  is_gjs)
{
  PftNodePrivate *priv = pft_node_get_instance_private (self);

  if (priv->thread_policy != PFT_THREAD_POLICY_AUTO)
    return priv->thread_policy;
  return is_gjs ? PFT_THREAD_POLICY_MAIN_CONTEXT : PFT_THREAD_POLICY_THREAD;
}

/* Normalises "no value" to a NULL gpointer, which every binding reads as
 * None/null, where an unset GValue would make them choke. */
static inline void
ensure_value (GValue *value)
{
  if (!G_IS_VALUE (value))
    g_value_init (value, G_TYPE_POINTER);
}

/* ------------------------------------------------------------------ */
/* The default exec: MAIN_CONTEXT inline, THREAD in Pft's pool          */
/*
 * The engine runs a node's own sync exec without a GTask: on the main
 * context it calls exec and reports at once; for a worker thread it
 * queues a ThreadExec. The worker runs the sync exec and, if it won the
 * race against a cancellation (@done), keeps the result in the ThreadExec
 * and appends it to the batch of the run's GMainContext. A batch is a
 * GSource attached to that context when the first item of a burst
 * arrives (one wakeup per burst, not per item); it reports every item of
 * the batch there and destroys itself. The registry of batches only holds
 * a context while a batch of it is pending, and the pending items hold
 * the context, so no context is ever looked up after it went away and a
 * private per-run context owns no long-lived source.
 *
 * Cancellation: the ThreadExecs of one cancellable are listed in one
 * ExecGroup, kept on the cancellable and connected to it once, not once
 * per item (a connect and a disconnect cost more than the rest of an
 * item). Cancelling reports CANCELLED at once for every exec still queued
 * or running, so that the run ends promptly; a worker that comes back
 * later drops its result. An exec still running then is still a request
 * at the provider: it keeps counting in its limiter's in-flight (a hold
 * taken before the report gives the slot back) until it really returns.
 *
 * The pool starts with as many threads as processors, which is what
 * trivial execs want (a worker drains many queued items without sleeping).
 * Blocking execs (HTTP calls) must still overlap up to the batch's
 * max-concurrent: a watchdog thread, ticking only while work is queued,
 * grows the pool when queued work saw no exec start for two ticks and the
 * workers look blocked (see exec_pool_blocked()), never beyond the work in
 * the pool (running + queued, which the dispatchers bound) nor
 * PFT_EXEC_MAX_THREADS; a growth that did not make execs finish faster is
 * undone (workers waiting for a lock, such as Python's GIL, look busy but
 * only contend harder when there are more of them); it goes back to the
 * base size once the demand stayed low for a while.
 */

typedef struct _ExecGroup ExecGroup;
typedef struct _ThreadExec ThreadExec;

struct _ThreadExec
{
  ThreadExec      *qnext;     /* in the pool's queue */
  PftMainContextBatchItem batch_item; /* the report, in its context's batch */
  ThreadExec      *gprev;     /* in the group's list, under its lock */
  ThreadExec      *gnext;
  gatomicrefcount  ref_count; /* the worker's and the report's */
  PftExecCall     *call;      /* the report's: valid until reported */
  GMainContext    *context;   /* where it is reported */
  ExecGroup       *group;     /* nullable */
  PftNode         *node;      /* what only the exec needs, dropped after it */
  PftContext      *ctx;
  GValue           item;
  GValue           result;
  GError          *error;
  gint64           queued_at; /* monotonic, when pushed to the pool */
  PftRateLimiter  *limiter;   /* (owned) (nullable): of the attempt's slot */
  guint64          entry;     /* the slot's window entry */
  gint             state;     /* atomic, a ThreadExecState */
  gboolean         python;    /* a Python exec: runs under the GIL */
};

typedef enum
{
  TE_QUEUED,     /* not started */
  TE_RUNNING,    /* in the exec */
  TE_REPORTED,   /* reported, or about to be: by the worker, or by a
                  * cancellation before the exec started */
  TE_ORPHANED,   /* reported cancelled while the exec runs: the worker
                  * gives back the limiter hold when it returns */
} ThreadExecState;

struct _ExecGroup
{
  gatomicrefcount  ref_count;
  GMutex           lock;
  ThreadExec      *pending;   /* queued or running, under @lock */
};

static void exec_batch_add (ThreadExec *te);

static ExecGroup *
exec_group_ref (ExecGroup *group)
{
  g_atomic_ref_count_inc (&group->ref_count);
  return group;
}

static void
exec_group_unref (gpointer data)
{
  ExecGroup *group = data;

  if (g_atomic_ref_count_dec (&group->ref_count))
    {
      g_mutex_clear (&group->lock);
      g_free (group);
    }
}

static void
thread_exec_clear_work (ThreadExec *te)
{
  g_clear_object (&te->node);
  g_clear_object (&te->ctx);
  if (G_IS_VALUE (&te->item))
    g_value_unset (&te->item);
}

static void
thread_exec_unref (ThreadExec *te)
{
  if (g_atomic_ref_count_dec (&te->ref_count))
    {
      thread_exec_clear_work (te);
      if (G_IS_VALUE (&te->result))
        g_value_unset (&te->result);
      g_clear_error (&te->error);
      g_clear_pointer (&te->group, exec_group_unref);
      g_clear_object (&te->limiter);
      g_main_context_unref (te->context);
      g_free (te);
    }
}

static void
thread_exec_report_cancelled (ThreadExec *te)
{
  te->error = _pft_error_new_cancelled ();
  exec_batch_add (te);
}

/* Runs in the cancelling thread. */
static void
exec_group_cancelled (GCancellable *cancellable,
                      ExecGroup    *group)
{
  g_autoptr(GPtrArray) pending = g_ptr_array_new ();

  /* Collected first (each listed exec is alive: its worker unlinks it
   * before letting go), handled outside the lock: the limiter's notify
   * handlers are user code. */
  g_mutex_lock (&group->lock);
  for (ThreadExec *te = group->pending; te != NULL; te = te->gnext)
    {
      g_atomic_ref_count_inc (&te->ref_count);
      g_ptr_array_add (pending, te);
    }
  g_mutex_unlock (&group->lock);

  for (guint i = 0; i < pending->len; i++)
    {
      ThreadExec *te = g_ptr_array_index (pending, i);

      /* An exec may still be blocked in user code: report it now so that
       * the run ends promptly; its worker drops the result when it comes
       * back. A running one keeps its limiter's count until then: the
       * hold is taken before the report lets the run give its slot back. */
      if (g_atomic_int_compare_and_exchange (&te->state, TE_QUEUED, TE_REPORTED))
        thread_exec_report_cancelled (te);
      else if (g_atomic_int_get (&te->state) == TE_RUNNING)
        {
          if (te->limiter != NULL)
            _pft_rate_limiter_hold (te->limiter);
          if (g_atomic_int_compare_and_exchange (&te->state, TE_RUNNING, TE_ORPHANED))
            {
              te->call->exec_running = TRUE;
              thread_exec_report_cancelled (te);
            }
          else if (te->limiter != NULL)
            _pft_rate_limiter_unhold (te->limiter);   /* it just returned */
        }
      thread_exec_unref (te);
    }
}

static G_DEFINE_QUARK (pft-exec-group, exec_group)

/* The group of @cancellable, created on first use. (transfer full) */
static ExecGroup *
exec_group_for (GCancellable *cancellable)
{
  G_LOCK_DEFINE_STATIC (create);
  GQuark quark = exec_group_quark ();
  ExecGroup *group;

  /* The caller's reference on @cancellable keeps its qdata. */
  group = g_object_get_qdata (G_OBJECT (cancellable), quark);
  if (G_LIKELY (group != NULL))
    return exec_group_ref (group);

  G_LOCK (create);
  group = g_object_get_qdata (G_OBJECT (cancellable), quark);
  if (group == NULL)
    {
      group = g_new0 (ExecGroup, 1);
      g_atomic_ref_count_init (&group->ref_count);
      g_mutex_init (&group->lock);
      g_object_set_qdata_full (G_OBJECT (cancellable), quark, group, exec_group_unref);
      /* Runs the handler at once if already cancelled. */
      g_cancellable_connect (cancellable, G_CALLBACK (exec_group_cancelled),
                             exec_group_ref (group), exec_group_unref);
    }
  exec_group_ref (group);
  G_UNLOCK (create);
  return group;
}

/* Puts @te in its group's list; FALSE if @cancellable was cancelled.
 * GCancellable sets its flag before it runs the handlers: either the
 * handler finds @te in the list, or this finds the flag. (Not a flag of
 * the group's own: a cancellable can be reset and used again.) */
static gboolean
exec_group_link (ThreadExec   *te,
                 GCancellable *cancellable)
{
  ExecGroup *group = te->group;
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
exec_group_unlink (ThreadExec *te)
{
  ExecGroup *group = te->group;

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

/* Reports a ThreadExec in its run's context (the report reference). */
static void
thread_exec_deliver (PftMainContextBatchItem *item)
{
  ThreadExec *te = PFT_MAIN_CONTEXT_BATCH_ITEM_CONTAINER (item, ThreadExec, batch_item);
  PftExecCall *call = te->call;

  call->done (call, &te->result, g_steal_pointer (&te->error));
  thread_exec_unref (te);
}

/* Its context went away first: nothing can be reported. */
static void
thread_exec_drop (PftMainContextBatchItem *item)
{
  thread_exec_unref (PFT_MAIN_CONTEXT_BATCH_ITEM_CONTAINER (item, ThreadExec, batch_item));
}

static PftMainContextBatch exec_results =
  PFT_MAIN_CONTEXT_BATCH_INIT ("[pft] thread exec results", G_PRIORITY_DEFAULT,
                               thread_exec_deliver, thread_exec_drop);

/* Hands @te's report reference to the batch of its context. */
static void
exec_batch_add (ThreadExec *te)
{
  _pft_main_context_batch_add (&exec_results, te->context, &te->batch_item);
}

/* The pool: a queue of ThreadExecs drained by up to exec_drainers_max
 * workers of a GThreadPool. A push wakes a worker only when none is
 * between two items (searching) and fewer than the maximum are awake; a
 * worker keeps taking items until the queue stays empty a little while,
 * so that a stream of trivial execs costs no wakeup per item. Python
 * execs, which the GIL serialises, get one worker fewer than the others
 * (see exec_drain_max()). */
#define PFT_EXEC_WATCH_TICK_US   2000
#define PFT_EXEC_SHRINK_US       (2 * G_USEC_PER_SEC)
#define PFT_EXEC_SPIN_US         50
#define PFT_EXEC_MAX_WAIT_US     2000

static GMutex      exec_lock;
static ThreadExec *exec_head;          /* under exec_lock */
static ThreadExec *exec_tail;
static guint       exec_drainers;      /* awake workers, under exec_lock */
static guint       exec_searching;     /* of which not in an exec */
static guint       exec_drainers_max;  /* under exec_lock */
static guint       exec_base;          /* exec_pool_base(), set once */
static guint       exec_not_python;    /* queued or running execs that are not
                                        * Python's, under exec_lock */
static gint        exec_queued;        /* atomic mirror of the queue's length */
static guint       exec_pushed;        /* atomic counters for the watchdog */
static guint       exec_started;
static guint       exec_finished;
static gint        exec_watch_idle;    /* atomic: the watchdog waits for work */
static GMutex      exec_watch_lock;
static GCond       exec_watch_cond;
static GThreadPool *exec_threads;

static void exec_request_starts (PftNode        *node,
                                 PftContext     *ctx,
                                 PftRateLimiter *limiter,
                                 guint64         entry);

static void exec_returned_after_report (PftContext     *ctx,
                                        PftRateLimiter *limiter);

/* Under exec_lock. How many workers may drain: while every exec queued
 * or running is a Python one, one worker fewer than the base (plus what
 * the watchdog added for blocked execs). Python execs run under the GIL
 * one at a time; a second worker only waits for it, and each item then
 * costs a GIL hand-off (a futex wake) between the workers. */
static guint
exec_drain_max (void)
{
  if (exec_not_python > 0)
    return exec_drainers_max;
  return exec_drainers_max > exec_base ? exec_drainers_max - exec_base + 1 : 1;
}

static void
thread_exec_run (ThreadExec *te)
{
  GValue result = G_VALUE_INIT;
  GError *error = NULL;
  gboolean won = FALSE;

  if (g_atomic_int_compare_and_exchange (&te->state, TE_QUEUED, TE_RUNNING))
    {
      PftNodeClass *klass = PFT_NODE_GET_CLASS (te->node);

      /* The request starts now, in this thread: the window counts it
       * from here, not from when its slot was granted. */
      exec_request_starts (te->node, te->ctx, te->limiter, te->entry);
      if (klass->exec != NULL)
        klass->exec (te->node, te->ctx, &te->item, &result, &error);
      /* Whoever moves @state on first reports: the exec (through its
       * context's batch), or a cancellation that came first and did not
       * wait for it, and that took a hold on the limiter for us. */
      won = g_atomic_int_compare_and_exchange (&te->state, TE_RUNNING, TE_REPORTED);
      if (!won)
        exec_returned_after_report (te->ctx, te->limiter);
    }
  if (te->group != NULL)
    exec_group_unlink (te);
  g_atomic_int_inc (&exec_finished);
  thread_exec_clear_work (te);
  if (won)
    {
      te->result = result;
      te->error = error;
      if (error != NULL && G_IS_VALUE (&te->result))
        g_value_unset (&te->result);
      exec_batch_add (te);
    }
  else
    {
      if (G_IS_VALUE (&result))
        g_value_unset (&result);
      g_clear_error (&error);
    }
  thread_exec_unref (te);   /* the worker's */
}

/* Under exec_lock. */
static ThreadExec *
exec_queue_pop (void)
{
  ThreadExec *te = exec_head;

  if (te != NULL)
    {
      exec_head = te->qnext;
      if (exec_head == NULL)
        exec_tail = NULL;
      te->qnext = NULL;
      g_atomic_int_add (&exec_queued, -1);
      g_atomic_int_inc (&exec_started);
    }
  return te;
}

static void
exec_drain (gpointer data,
            gpointer pool_data)
{
  /* Woken by a push, which counted us as a searching drainer. */
  g_mutex_lock (&exec_lock);
  for (;;)
    {
      ThreadExec *te = NULL;

      if (exec_drainers <= exec_drain_max ())
        te = exec_queue_pop ();
      if (te != NULL)
        {
          gboolean python = te->python;

          exec_searching--;
          g_mutex_unlock (&exec_lock);
          thread_exec_run (te);
          g_mutex_lock (&exec_lock);
          if (!python)
            exec_not_python--;
          exec_searching++;
          continue;
        }
      if (exec_drainers <= exec_drain_max () && exec_searching == 1)
        {
          /* The last searcher waits a little for the next item rather
           * than have the next push wake a thread. */
          gint64 until = g_get_monotonic_time () + PFT_EXEC_SPIN_US;

          g_mutex_unlock (&exec_lock);
          while (g_atomic_int_get (&exec_queued) == 0 && g_get_monotonic_time () < until)
            g_thread_yield ();
          g_mutex_lock (&exec_lock);
          if (exec_head != NULL)
            continue;
        }
      exec_searching--;
      exec_drainers--;
      g_mutex_unlock (&exec_lock);
      return;
    }
}

static guint
exec_pool_base (void)
{
  return CLAMP (g_get_num_processors (), 2, PFT_EXEC_MAX_THREADS);
}

/* Under exec_lock; returns how many workers to wake. */
static guint
exec_wake_count (void)
{
  guint queued = g_atomic_int_get (&exec_queued);
  guint max = exec_drain_max ();
  guint n = 0;

  while (n < queued && exec_drainers < max && exec_searching < queued)
    {
      exec_drainers++;
      exec_searching++;
      n++;
    }
  return n;
}

static void
exec_wake (guint n)
{
  for (; n > 0; n--)
    if (!g_thread_pool_push (exec_threads, GINT_TO_POINTER (1), NULL))
      {
        /* No thread: the queued work stays for the drainers there are,
         * and the watchdog tries again at its next tick. */
        g_mutex_lock (&exec_lock);
        exec_drainers -= n;
        exec_searching -= n;
        g_mutex_unlock (&exec_lock);
        return;
      }
}

/* CPU time of the whole process, in microseconds; -1 where unknown. */
static gint64
exec_process_cpu_us (void)
{
#ifdef CLOCK_PROCESS_CPUTIME_ID
  struct timespec ts;

  if (clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
    return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
#endif
  return -1;
}

static void
exec_tick_start (PftExecTick *tick,
                 gint64       now)
{
  tick->at = now;
  tick->cpu = exec_process_cpu_us ();
  tick->finished = g_atomic_int_get (&exec_finished);
  tick->blocked = 0;
}

/* Whether the workers holding up the queue look blocked, for
 * PFT_EXEC_BLOCKED_TICKS ticks in a row: each of them finished less than
 * one exec per PFT_EXEC_BLOCKED_US on average while the process kept less
 * than a quarter of a core busy, or less than one per PFT_EXEC_STUCK_US
 * whatever the CPU did (valgrind, or a busy main thread, keep the process
 * busy while the workers sleep). Workers that finish execs quickly are
 * computing or waiting for a lock one of them holds (Python's GIL): more
 * threads would only contend. An unknown CPU time (-1) counts as idle.
 * @now and @cpu are in microseconds, @finished counts execs ever finished. */
gboolean
_pft_exec_tick_update (PftExecTick *tick,
                       gint64       now,
                       gint64       cpu,
                       guint        finished,
                       guint        size)
{
  gint64 span = now - tick->at;
  gboolean computing = cpu >= 0 && tick->cpu >= 0 && (cpu - tick->cpu) * 4 >= span;
  gboolean slow = (gint64) (finished - tick->finished) * PFT_EXEC_BLOCKED_US < (gint64) size * span;
  gboolean stuck = (gint64) (finished - tick->finished) * PFT_EXEC_STUCK_US < (gint64) size * span;

  if ((slow && !computing) || stuck)
    {
      /* Several ticks in a row: a worker starting up, or the process left
       * without a core for a moment, looks blocked too. */
      if (tick->blocked++ == 0)
        {
          tick->streak_at = tick->at;
          tick->streak_finished = tick->finished;
        }
    }
  else
    tick->blocked = 0;
  tick->at = now;
  tick->cpu = cpu;
  tick->finished = finished;
  return tick->blocked >= PFT_EXEC_BLOCKED_TICKS;
}

static gboolean
exec_pool_blocked (PftExecTick *tick,
                   gint64       now,
                   guint        size)
{
  return _pft_exec_tick_update (tick, now, exec_process_cpu_us (),
                                g_atomic_int_get (&exec_finished), size);
}

/* A growth of the pool on probation: kept if the execs finish faster for
 * it, else undone, and the pool holds its size for a while (until it is
 * idle again). Contention that looked like blocking (a lock, a process
 * left without a core for a moment) does not feed on itself. */
typedef struct
{
  guint  from;         /* the size before, 0: none on probation */
  gint64 at;
  gint64 mid_at;       /* the rate after is measured from here (new
                        * threads need a while to finish their first exec) */
  guint  mid_finished;
  double rate;         /* the rate before, while the workers looked blocked */
  gint64 hold_until;
} ExecGrowth;

#define PFT_EXEC_PROBATION_US (8 * PFT_EXEC_WATCH_TICK_US)

static gpointer
exec_watch_run (gpointer data)
{
  guint base = exec_pool_base ();
  guint window_peak = 0;
  gint64 window_start = g_get_monotonic_time ();
  PftExecTick tick = { 0, };
  ExecGrowth growth = { 0, };

  exec_tick_start (&tick, window_start);

  for (;;)
    {
      guint started = g_atomic_int_get (&exec_started);
      guint queued = g_atomic_int_get (&exec_pushed) - started;
      guint running = started - g_atomic_int_get (&exec_finished);
      gint64 now = g_get_monotonic_time ();
      gboolean blocked;
      gint64 oldest;
      guint size, wake = 0;

      g_mutex_lock (&exec_lock);
      size = exec_drainers_max;
      oldest = exec_head != NULL ? exec_head->queued_at : now;
      g_mutex_unlock (&exec_lock);
      blocked = exec_pool_blocked (&tick, now, size);

      if (queued == 0 && running == 0 && size == base)
        {
          /* Nothing to watch: sleep until a push finds us idle. */
          g_mutex_lock (&exec_watch_lock);
          g_atomic_int_set (&exec_watch_idle, 1);
          while (g_atomic_int_get (&exec_pushed) == g_atomic_int_get (&exec_started))
            g_cond_wait (&exec_watch_cond, &exec_watch_lock);
          g_atomic_int_set (&exec_watch_idle, 0);
          g_mutex_unlock (&exec_watch_lock);
          window_peak = 0;
          window_start = g_get_monotonic_time ();
          exec_tick_start (&tick, window_start);
          growth = (ExecGrowth) { 0, };
          continue;
        }

      if (queued > 0)
        {
          g_mutex_lock (&exec_lock);
          wake = exec_searching == 0 ? exec_wake_count () : 0;
          g_mutex_unlock (&exec_lock);
          exec_wake (wake);
        }

      if (growth.from != 0 && growth.mid_at == 0 && now - growth.at >= PFT_EXEC_PROBATION_US / 2)
        {
          growth.mid_at = now;
          growth.mid_finished = g_atomic_int_get (&exec_finished);
        }
      else if (growth.from != 0 && growth.mid_at != 0 && now - growth.at >= PFT_EXEC_PROBATION_US)
        {
          double rate = (double) (g_atomic_int_get (&exec_finished) - growth.mid_finished) / (now - growth.mid_at);

          if (rate < growth.rate * 1.25)
            {
              g_mutex_lock (&exec_lock);
              exec_drainers_max = MAX (growth.from, base);
              g_mutex_unlock (&exec_lock);
              growth.hold_until = now + 4 * PFT_EXEC_PROBATION_US;
            }
          growth.from = 0;
        }

      if (now - oldest >= PFT_EXEC_MAX_WAIT_US && size < PFT_EXEC_MAX_THREADS && size < running + queued &&
          blocked && growth.from == 0 && now >= growth.hold_until)
        {
          /* Queued work waited while every worker was busy, blocked, not
           * computing. */
          g_mutex_lock (&exec_lock);
          exec_drainers_max = MIN (MIN (size * 2, running + queued), PFT_EXEC_MAX_THREADS);
          tick.blocked = 0;
          wake = exec_wake_count ();
          g_mutex_unlock (&exec_lock);
          exec_wake (wake);
          growth.from = size;
          growth.at = now;
          growth.mid_at = 0;
          growth.rate = now > tick.streak_at ?
            (double) (g_atomic_int_get (&exec_finished) - tick.streak_finished) / (now - tick.streak_at) : 0;
          window_peak = 0;
          window_start = now;
        }

      window_peak = MAX (window_peak, running + queued);
      if (now - window_start >= PFT_EXEC_SHRINK_US)
        {
          g_mutex_lock (&exec_lock);
          exec_drainers_max = CLAMP (window_peak, base, exec_drainers_max);
          g_mutex_unlock (&exec_lock);
          window_peak = 0;
          window_start = now;
        }

      g_usleep (PFT_EXEC_WATCH_TICK_US);
    }
  return NULL;
}

static void
exec_pool_init (void)
{
  static gsize inited;

  if (g_once_init_enter (&inited))
    {
      g_mutex_lock (&exec_lock);
      exec_drainers_max = exec_base = exec_pool_base ();
      g_mutex_unlock (&exec_lock);
      exec_threads = g_thread_pool_new (exec_drain, NULL, PFT_EXEC_MAX_THREADS, FALSE, NULL);
      g_thread_unref (g_thread_new ("pft-exec-watch", exec_watch_run, NULL));
      g_once_init_leave (&inited, 1);
    }
}

static void
exec_pool_push (ThreadExec *te)
{
  guint wake;

  exec_pool_init ();
  g_mutex_lock (&exec_lock);
  te->qnext = NULL;
  te->queued_at = g_get_monotonic_time ();
  if (exec_tail != NULL)
    exec_tail->qnext = te;
  else
    exec_head = te;
  exec_tail = te;
  if (!te->python)
    exec_not_python++;
  g_atomic_int_inc (&exec_queued);
  g_atomic_int_inc (&exec_pushed);
  wake = exec_searching == 0 ? exec_wake_count () : 0;
  g_mutex_unlock (&exec_lock);
  exec_wake (wake);

  if (G_UNLIKELY (g_atomic_int_get (&exec_watch_idle)))
    {
      g_mutex_lock (&exec_watch_lock);
      g_cond_signal (&exec_watch_cond);
      g_mutex_unlock (&exec_watch_lock);
    }
}

static void
report_error (PftExecCall *call,
              GError      *error)
{
  GValue none = G_VALUE_INIT;

  call->done (call, &none, error);
}

/* The engine's default exec (no GTask): the node's sync exec, inline on
 * the main context or in Pft's pool, per thread-policy. @call is reported
 * once, maybe before this returns. */
static void
exec_default (PftNode      *self,
              PftContext   *ctx,
              const GValue *item,
              GCancellable *cancellable,
              PftExecCall  *call)
{
  PftNodeClass *klass = PFT_NODE_GET_CLASS (self);
  PftThreadPolicy policy;
  GError *error = NULL;
  PftNodeLanguage language;
  gboolean is_gjs;
  ThreadExec *te;

  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      report_error (call, error);
      return;
    }

  /* A node that does all its work in prep and post has no exec: nothing
   * to send to a thread. Walking the type chain takes GType's lock once
   * per level, so it is done once per exec. */
  language = pft_node_type_get_language (G_OBJECT_TYPE (self));
  is_gjs = language == PFT_NODE_LANGUAGE_GJS;
  policy = klass->exec == NULL ? PFT_THREAD_POLICY_MAIN_CONTEXT : resolve_policy (self, is_gjs);
  if (policy == PFT_THREAD_POLICY_MAIN_CONTEXT)
    {
      GValue result = G_VALUE_INIT;

      exec_request_starts (self, ctx, call->limiter, call->entry);
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
      report_error (call, g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                       _("%s: exec of a JavaScript node cannot run in a worker thread; "
                                         "use thread-policy AUTO or MAIN_CONTEXT, or implement exec_task"),
                                       pft_node_get_name (self)));
      return;
    }

  te = g_new0 (ThreadExec, 1);
  /* One reference for the worker, one for the report. */
  g_atomic_ref_count_init (&te->ref_count);
  g_atomic_ref_count_inc (&te->ref_count);
  te->call = call;
  te->python = language == PFT_NODE_LANGUAGE_PYTHON;
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
      te->group = exec_group_for (cancellable);
      if (!exec_group_link (te, cancellable))
        {
          /* Cancelled since the check above. */
          te->call = NULL;
          thread_exec_unref (te);
          thread_exec_unref (te);
          g_cancellable_set_error_if_cancelled (cancellable, &error);
          report_error (call, error);
          return;
        }
    }
  exec_pool_push (te);
}

/* pft_node_real_exec_async() over exec_default(): what a caller of
 * pft_node_exec_async() gets, a GTask. The engine itself calls
 * exec_default() directly. */
typedef struct
{
  PftExecCall  call;
  GTask       *task;
} TaskCall;

static void
task_call_done (PftExecCall *call,
                GValue      *value,
                GError      *error)
{
  TaskCall *tc = (TaskCall *) call;

  if (error != NULL)
    g_task_return_error (tc->task, error);
  else
    g_task_return_value (tc->task, G_IS_VALUE (value) ? value : NULL);
  if (G_IS_VALUE (value))
    g_value_unset (value);
  g_object_unref (tc->task);
  g_free (tc);
}

static void
pft_node_real_exec_async (PftNode             *self,
                          PftContext          *ctx,
                          const GValue        *item,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  TaskCall *tc = g_new0 (TaskCall, 1);

  tc->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (tc->task, pft_node_real_exec_async);
  tc->call.node = self;
  tc->call.done = task_call_done;
  exec_default (self, ctx, item, cancellable, &tc->call);
}

static void
pft_node_real_exec_finish (PftNode       *self,
                           GAsyncResult  *result,
                           GValue        *value,
                           GError       **error)
{
  g_task_propagate_value (G_TASK (result), value, error);
}

static void
pft_node_real_exec_fallback (PftNode       *self,
                             PftContext    *ctx,
                             const GValue  *item,
                             const GError  *reason,
                             GValue        *result,
                             GError       **error)
{
  g_propagate_error (error, g_error_copy (reason));
}

static gboolean
pft_node_real_is_rate_limit (PftNode      *self,
                             const GError *error)
{
  return pft_error_is_rate_limit (error);
}

/**
 * pft_node_prep: (virtual prep)
 * @self: a #PftNode
 * @ctx: the context of the invocation
 * @result: (out caller-allocates): the prep result, handed to exec and post
 * @error: return location for a #GError
 *
 * Reads what the node needs, usually from [method@Pft.Context.get_store].
 * Runs on the run's main context. A batch node's prep returns a
 * [class@Pft.Values] of items; a batch flow's a [class@Pft.Values] of
 * `a{sv}` param sets. Leaving @result unset means "none".
 *
 * Since: 0.1
 */
void
pft_node_prep (PftNode     *self,
               PftContext  *ctx,
               GValue      *result,
               GError     **error)
{
  PftNodeClass *klass;

  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (PFT_IS_CONTEXT (ctx));

  klass = PFT_NODE_GET_CLASS (self);
  if (klass->prep != NULL)
    klass->prep (self, ctx, result, error);
}

/**
 * pft_node_exec: (virtual exec)
 * @self: a #PftNode
 * @ctx: the context of this attempt
 * @item: the prep result, or one item of a batch
 * @result: (out caller-allocates): the result, handed to post
 * @error: return location for a #GError
 *
 * Does the work, synchronously. It runs in a worker thread or on the main
 * context as [property@Pft.Node:thread-policy] says, so blocking is fine
 * in C, Vala and Python; it should honour
 * [method@Pft.Context.get_cancellable]. Report failures through @error:
 * a failed attempt is retried.
 *
 * Since: 0.1
 */
void
pft_node_exec (PftNode       *self,
               PftContext    *ctx,
               const GValue  *item,
               GValue        *result,
               GError       **error)
{
  PftNodeClass *klass;

  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (PFT_IS_CONTEXT (ctx));

  klass = PFT_NODE_GET_CLASS (self);
  if (klass->exec != NULL)
    klass->exec (self, ctx, item, result, error);
}

/* Calls the class's exec_async with @ctx open for
 * pft_context_return_value() / _error(). Returns whether the result was
 * handed over at once; @sr then holds it (a value, or an error and no
 * value), and @callback will not be called. */
static gboolean
call_exec_async (PftNode             *node,
                 PftContext          *ctx,
                 const GValue        *item,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data,
                 PftSyncReturn       *sr)
{
  PftSyncReturn *previous;

  sr->thread = g_thread_self ();
  sr->returned = FALSE;
  sr->error = NULL;
  memset (&sr->value, 0, sizeof sr->value);
  /* Saved and put back: an exec_async may call another node's with the
   * same context. */
  previous = _pft_context_set_sync_return (ctx, sr);
  PFT_NODE_GET_CLASS (node)->exec_async (node, ctx, item, cancellable, callback, user_data);
  _pft_context_set_sync_return (ctx, previous);
  if (sr->returned && sr->error != NULL && G_IS_VALUE (&sr->value))
    g_value_unset (&sr->value);
  return sr->returned;
}

/**
 * pft_node_exec_async: (virtual exec_async)
 * @self: a #PftNode
 * @ctx: the context of this attempt
 * @item: the prep result, or one item of a batch; valid only during the
 *   call (copy it to keep it)
 * @cancellable: (nullable): the run's cancellable
 * @callback: (scope async): called when the exec is done
 * @user_data: data for @callback
 *
 * Does the work asynchronously: override this (and
 * [vfunc@Pft.Node.exec_finish]) for truly asynchronous code such as
 * libsoup calls. The default runs [vfunc@Pft.Node.exec] per
 * [property@Pft.Node:thread-policy]. Called on the run's main context.
 *
 * An implementation that has its result at once may hand it over with
 * [method@Pft.Context.return_value] or [method@Pft.Context.return_error]
 * instead of calling @callback. Called through this function, such a
 * result still reaches @callback (in a later main-loop iteration, as
 * GIO requires), and [method@Pft.Node.exec_finish] reads it.
 *
 * Since: 0.1
 */
void
pft_node_exec_async (PftNode             *self,
                     PftContext          *ctx,
                     const GValue        *item,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  PftSyncReturn sr;
  GTask *task;

  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (PFT_IS_CONTEXT (ctx));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if (!call_exec_async (self, ctx, item, cancellable, callback, user_data, &sr))
    return;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pft_node_exec_async);
  if (sr.error != NULL)
    g_task_return_error (task, sr.error);
  else
    g_task_return_value (task, G_IS_VALUE (&sr.value) ? &sr.value : NULL);
  if (G_IS_VALUE (&sr.value))
    g_value_unset (&sr.value);
  g_object_unref (task);
}

/**
 * pft_node_exec_finish: (virtual exec_finish)
 * @self: a #PftNode
 * @result: the #GAsyncResult
 * @value: (out caller-allocates): the result of the exec
 * @error: return location for a #GError
 *
 * Completes [method@Pft.Node.exec_async].
 *
 * Since: 0.1
 */
void
pft_node_exec_finish (PftNode       *self,
                      GAsyncResult  *result,
                      GValue        *value,
                      GError       **error)
{
  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (G_IS_ASYNC_RESULT (result));

  if (g_task_is_valid (result, self) && g_task_get_source_tag (G_TASK (result)) == pft_node_exec_async)
    g_task_propagate_value (G_TASK (result), value, error);
  else
    PFT_NODE_GET_CLASS (self)->exec_finish (self, result, value, error);
}

/**
 * pft_node_exec_task: (virtual exec_task)
 * @self: a #PftNode
 * @ctx: the context of this attempt
 * @item: the prep result, or one item of a batch; valid only during the
 *   call
 * @task: the task to complete with the result: `task.return_value(v)` or
 *   `task.return_error(e)` (or [func@Pft.task_return_rate_limited])
 * @error: return location for a #GError thrown before @task was completed
 *
 * Does the work by completing @task, now or later: the asynchronous shape
 * that GJS can implement (it cannot implement a vfunc that takes a
 * callback). When a class overrides it, it is used instead of
 * [vfunc@Pft.Node.exec_async] and [vfunc@Pft.Node.exec]. An error thrown
 * from it fails the attempt, even if @task is never completed. Called on
 * the run's main context.
 *
 * Since: 0.1
 */
void
pft_node_exec_task (PftNode     *self,
                    PftContext  *ctx,
                    const GValue *item,
                    GTask       *task,
                    GError     **error)
{
  PftNodeClass *klass;

  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (PFT_IS_CONTEXT (ctx));
  g_return_if_fail (G_IS_TASK (task));

  klass = PFT_NODE_GET_CLASS (self);
  if (klass->exec_task != NULL)
    klass->exec_task (self, ctx, item, task, error);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                             _("%s does not implement exec_task"), pft_node_get_name (self));
}

/**
 * pft_node_exec_fallback: (virtual exec_fallback)
 * @self: a #PftNode
 * @ctx: the context of the last attempt
 * @item: the prep result, or one item of a batch
 * @reason: the error of the last attempt
 * @result: (out caller-allocates): a substitute result
 * @error: return location for a #GError
 *
 * Called on the main context once every attempt failed. The default sets
 * @error to a copy of @reason; override it to return a substitute result
 * instead (PocketFlow's `exec_fallback`).
 *
 * Since: 0.1
 */
void
pft_node_exec_fallback (PftNode       *self,
                        PftContext    *ctx,
                        const GValue  *item,
                        const GError  *reason,
                        GValue        *result,
                        GError       **error)
{
  g_return_if_fail (PFT_IS_NODE (self));
  g_return_if_fail (PFT_IS_CONTEXT (ctx));
  g_return_if_fail (reason != NULL);

  PFT_NODE_GET_CLASS (self)->exec_fallback (self, ctx, item, reason, result, error);
}

/**
 * pft_node_post: (virtual post)
 * @self: a #PftNode
 * @ctx: the context of the invocation
 * @prep_result: what prep returned
 * @exec_result: what exec returned; for a batch node a [class@Pft.Values]
 *   of the results in input order
 * @error: return location for a #GError
 *
 * Writes results to the store and picks the next node. Runs on the run's
 * main context.
 *
 * Returns: (transfer full) (nullable): the action, or %NULL for
 *   [const@Pft.DEFAULT_ACTION]
 *
 * Since: 0.1
 */
char *
pft_node_post (PftNode       *self,
               PftContext    *ctx,
               const GValue  *prep_result,
               const GValue  *exec_result,
               GError       **error)
{
  PftNodeClass *klass;

  g_return_val_if_fail (PFT_IS_NODE (self), NULL);
  g_return_val_if_fail (PFT_IS_CONTEXT (ctx), NULL);

  klass = PFT_NODE_GET_CLASS (self);
  if (klass->post != NULL)
    return klass->post (self, ctx, prep_result, exec_result, error);
  return NULL;
}

/**
 * pft_node_is_rate_limit: (virtual is_rate_limit)
 * @self: a #PftNode
 * @error: an error from exec
 *
 * Tells whether @error means the provider rate-limited the call. The
 * default is [func@Pft.Error.is_rate_limit]; override it for providers
 * with their own error shapes.
 *
 * Returns: %TRUE if @error is a rate-limit error
 *
 * Since: 0.1
 */
gboolean
pft_node_is_rate_limit (PftNode      *self,
                        const GError *error)
{
  g_return_val_if_fail (PFT_IS_NODE (self), FALSE);
  g_return_val_if_fail (error != NULL, FALSE);

  return PFT_NODE_GET_CLASS (self)->is_rate_limit (self, error);
}

/**
 * pft_node_class_set_begins_requests:
 * @klass: a #PftNodeClass
 * @begins_requests: whether the execs of @klass mark their request's start
 *
 * Says whether the execs of @klass (every shape: exec, exec_async,
 * exec_task) mark the moment their request starts themselves, with
 * [method@Pft.Context.begin_request], instead of the engine stamping it
 * when it calls them.
 *
 * The window of the node's rate limiter counts an attempt from its start;
 * an exec that waits for something of its own before it sends (a second
 * limiter for tokens, say) would otherwise have its window entry expire
 * that much before the provider forgets the request. Until the exec
 * marks it, the entry counts and does not expire.
 *
 * Call it from the class's class_init; subclasses created afterwards
 * inherit the setting.
 *
 * Since: 0.1
 */
void
pft_node_class_set_begins_requests (PftNodeClass *klass,
                                    gboolean      begins_requests)
{
  g_return_if_fail (g_type_is_a (G_TYPE_FROM_CLASS (klass), PFT_TYPE_NODE));

  PFT_NODE_CLASS_GET_PRIVATE (klass)->begins_requests = begins_requests != FALSE;
}

/* ------------------------------------------------------------------ */
/* Starting one exec in the node's shape                                */

/* The exec of @node, with @ctx, is being called: its request starts now,
 * or when the exec says so (pft_context_begin_request()). */
static void
exec_request_starts (PftNode        *node,
                     PftContext     *ctx,
                     PftRateLimiter *limiter,
                     guint64         entry)
{
  if (limiter == NULL)
    return;
  if (PFT_NODE_CLASS_GET_PRIVATE (PFT_NODE_GET_CLASS (node))->begins_requests)
    _pft_context_defer_request_start (ctx, limiter, entry);
  else
    _pft_rate_limiter_start (limiter, entry);
}

/* An exec reported before it returned keeps its limiter's count until it
 * returns (PftExecCall.limiter): the early report takes a hold first,
 * and whatever then tells that the exec returned gives it back. The
 * states of such a report, moved on atomically: */
enum
{
  EXEC_REPORT_PENDING,   /* nobody reported yet */
  EXEC_REPORT_DONE,      /* reported; nothing held */
  EXEC_REPORT_HOLDING,   /* reported cancelled while the exec runs, with a hold */
};

/* An exec reported early (PftExecCall.exec_running) has returned: a
 * request start it deferred and never marked counts from now (its slot's
 * release left the entry pending), and its hold goes. */
static void
exec_returned_after_report (PftContext     *ctx,
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
static void
exec_report_cancelled_early (gint           *state,
                             PftRateLimiter *limiter,
                             void          (*report) (gpointer data),
                             gpointer        data)
{
  if (limiter != NULL)
    _pft_rate_limiter_hold (limiter);
  if (g_atomic_int_compare_and_exchange (state, EXEC_REPORT_PENDING,
                                         limiter != NULL ? EXEC_REPORT_HOLDING : EXEC_REPORT_DONE))
    report (data);
  else if (limiter != NULL)
    _pft_rate_limiter_unhold (limiter);
}

/* The exec returned. TRUE if it reports; otherwise its outcome is
 * dropped, and the hold of an early report, if any, goes. */
static gboolean
exec_report_returned (gint           *state,
                      PftContext     *ctx,
                      PftRateLimiter *limiter)
{
  if (g_atomic_int_compare_and_exchange (state, EXEC_REPORT_PENDING, EXEC_REPORT_DONE))
    return TRUE;
  if (g_atomic_int_compare_and_exchange (state, EXEC_REPORT_HOLDING, EXEC_REPORT_DONE))
    exec_returned_after_report (ctx, limiter);
  return FALSE;
}

/* The engine's task around exec_task: its task data. */
typedef struct
{
  gint            state;     /* atomic, EXEC_REPORT_* */
  PftRateLimiter *limiter;   /* (owned) (nullable): outlives the run's slot */
  PftContext     *ctx;       /* (owned) (nullable): the exec's, if it may be reported early */
  PftExecCall    *call;      /* valid until reported */
} ExecTaskData;

static void
exec_task_data_free (gpointer data)
{
  ExecTaskData *etd = data;

  g_clear_object (&etd->limiter);
  g_clear_object (&etd->ctx);
  g_free (etd);
}

/* The task handed to exec_task holds a reference on the engine's task as
 * its task data, so that the reference goes when the user's task does,
 * whether or not it was ever completed. */
static void
exec_task_inner_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  GTask *outer = g_task_get_task_data (G_TASK (result));
  ExecTaskData *etd = g_task_get_task_data (outer);
  GValue value = G_VALUE_INIT;
  GError *error = NULL;

  g_task_propagate_value (G_TASK (result), &value, &error);
  if (exec_report_returned (&etd->state, etd->ctx, etd->limiter))
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
exec_async_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  PftExecCall *call = user_data;
  GValue value = G_VALUE_INIT;
  GError *error = NULL;

  if (G_IS_TASK (result) && g_task_get_source_tag (G_TASK (result)) == _pft_node_start_exec)
    g_task_propagate_value (G_TASK (result), &value, &error);
  else
    PFT_NODE_GET_CLASS (call->node)->exec_finish (call->node, result, &value, &error);
  if (error != NULL && G_IS_VALUE (&value))
    g_value_unset (&value);
  call->done (call, &value, error);
}

/* Reporting a cancelled attempt at once (PftExecCall.report_cancel_at_once,
 * set for an attempt with a timeout). A thread exec already reports when
 * its cancellable is cancelled (ExecGroup); these make an exec_task or a
 * class's exec_async that ignores the cancellable report then too, from
 * the run's main context (_pft_cancel_watch_connect()). */

static void
exec_task_return_cancelled (gpointer data)
{
  ExecTaskData *etd = g_task_get_task_data (G_TASK (data));

  etd->call->exec_running = TRUE;
  g_task_return_error (G_TASK (data), _pft_error_new_cancelled ());
}

/* exec_task: completes the engine's task (not the user's) as cancelled;
 * the user's task, completed later, is then ignored. */
static gboolean
exec_task_cancelled_cb (gpointer data)
{
  GTask *outer = data;
  ExecTaskData *etd = g_task_get_task_data (outer);

  exec_report_cancelled_early (&etd->state, etd->limiter, exec_task_return_cancelled, outer);
  return G_SOURCE_REMOVE;
}

/* A class's exec_async: its callback and the cancel watch race for the
 * report; each holds a reference. */
typedef struct
{
  gatomicrefcount  ref_count;
  gint             state;      /* atomic, EXEC_REPORT_* */
  PftExecCall     *call;       /* valid until reported */
  PftNode         *node;
  PftContext      *ctx;        /* (owned): the exec's */
  PftRateLimiter  *limiter;    /* (owned) (nullable): outlives the run's slot */
} AsyncReport;

static AsyncReport *
async_report_ref (AsyncReport *ar)
{
  g_atomic_ref_count_inc (&ar->ref_count);
  return ar;
}

static void
async_report_unref (gpointer data)
{
  AsyncReport *ar = data;

  if (g_atomic_ref_count_dec (&ar->ref_count))
    {
      g_object_unref (ar->node);
      g_object_unref (ar->ctx);
      g_clear_object (&ar->limiter);
      g_free (ar);
    }
}

static void
async_report_cancelled (gpointer data)
{
  AsyncReport *ar = data;
  PftExecCall *call = g_steal_pointer (&ar->call);

  call->exec_running = TRUE;
  report_error (call, _pft_error_new_cancelled ());
}

static gboolean
async_report_cancelled_cb (gpointer data)
{
  AsyncReport *ar = data;

  exec_report_cancelled_early (&ar->state, ar->limiter, async_report_cancelled, ar);
  return G_SOURCE_REMOVE;
}

static void
async_report_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  AsyncReport *ar = user_data;
  GValue value = G_VALUE_INIT;
  GError *error = NULL;

  /* Finished either way, as GIO expects of a started operation. */
  PFT_NODE_GET_CLASS (ar->node)->exec_finish (ar->node, result, &value, &error);
  if (exec_report_returned (&ar->state, ar->ctx, ar->limiter))
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
  async_report_unref (ar);
}

static void
start_exec_async_reporting_cancel (PftNode      *node,
                                   PftContext   *ctx,
                                   const GValue *item,
                                   GCancellable *cancellable,
                                   PftExecCall  *call)
{
  AsyncReport *ar = g_new0 (AsyncReport, 1);
  PftSyncReturn sr;

  g_atomic_ref_count_init (&ar->ref_count);   /* the callback's */
  ar->call = call;
  ar->node = g_object_ref (node);
  ar->ctx = g_object_ref (ctx);
  ar->limiter = call->limiter != NULL ? g_object_ref (call->limiter) : NULL;
  /* Before the call: a report through the callback or the watch comes
   * from a later main-loop iteration, never from inside it. */
  _pft_cancel_watch_connect (pft_context_get_main_context (ctx), cancellable,
                             async_report_cancelled_cb, async_report_ref (ar), async_report_unref);
  if (call_exec_async (node, ctx, item, cancellable, async_report_cb, ar, &sr))
    {
      /* Returned at once: the callback will not be called. */
      if (exec_report_returned (&ar->state, ar->ctx, ar->limiter))
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
      async_report_unref (ar);
    }
}

void
_pft_node_start_exec (PftNode      *node,
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
      GTask *outer = g_task_new (node, cancellable, exec_async_cb, call);
      ExecTaskData *etd = g_new0 (ExecTaskData, 1);
      GTask *inner;
      GError *error = NULL;

      g_task_set_source_tag (outer, _pft_node_start_exec);
      etd->limiter = call->limiter != NULL ? g_object_ref (call->limiter) : NULL;
      /* Only an early report needs the context later; a reference held
       * otherwise would keep a batch from recycling it. */
      if (call->limiter != NULL && call->report_cancel_at_once && cancellable != NULL)
        etd->ctx = g_object_ref (ctx);
      etd->call = call;
      g_task_set_task_data (outer, etd, exec_task_data_free);
      inner = g_task_new (node, cancellable, exec_task_inner_cb, NULL);
      g_task_set_task_data (inner, g_object_ref (outer), g_object_unref);
      exec_request_starts (node, ctx, call->limiter, call->entry);
      if (call->report_cancel_at_once && cancellable != NULL)
        _pft_cancel_watch_connect (pft_context_get_main_context (ctx), cancellable,
                                   exec_task_cancelled_cb, g_object_ref (outer), g_object_unref);
      klass->exec_task (node, ctx, item, inner, &error);
      /* A vfunc that threw has returned, whether or not it completes its
       * task later. */
      if (error != NULL)
        {
          if (exec_report_returned (&etd->state, etd->ctx, etd->limiter))
            g_task_return_error (outer, error);
          else
            g_error_free (error);
        }
      g_object_unref (inner);
      g_object_unref (outer);
      return;
    }

  if (klass->exec_async == pft_node_real_exec_async)
    {
      exec_default (node, ctx, item, cancellable, call);
      return;
    }

  /* The class's own exec_async may report through
   * pft_context_return_value() before it returns, instead of its
   * callback: no GTask, no main-loop iteration. Its request starts when
   * it is called, in either shape of the report. */
  exec_request_starts (node, ctx, call->limiter, call->entry);

  if (call->report_cancel_at_once && cancellable != NULL)
    {
      start_exec_async_reporting_cancel (node, ctx, item, cancellable, call);
      return;
    }

  if (call_exec_async (node, ctx, item, cancellable, exec_async_cb, call, &sr))
    call->done (call, &sr.value, sr.error);
}

/* ------------------------------------------------------------------ */
/* An invocation: prep, exec phase, post                                */

static void
invocation_free (gpointer data)
{
  PftInvocation *inv = data;

  g_clear_object (&inv->node);
  g_clear_object (&inv->ctx);
  if (G_IS_VALUE (&inv->prep_result))
    g_value_unset (&inv->prep_result);
  if (G_IS_VALUE (&inv->exec_result))
    g_value_unset (&inv->exec_result);
  g_free (inv);
}

void
_pft_invocation_exec_done (PftInvocation *inv,
                           GError        *error)
{
  GTask *task = inv->task;   /* the reference the exec phase held */
  PftNode *node = inv->node;
  char *action;

  /* A run cancelled while its last exec was finishing must not post. */
  if (error == NULL)
    g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  ensure_value (&inv->exec_result);
  action = PFT_NODE_GET_CLASS (node)->post != NULL
           ? PFT_NODE_GET_CLASS (node)->post (node, inv->ctx, &inv->prep_result, &inv->exec_result, &error)
           : NULL;
  if (error != NULL)
    {
      g_free (action);
      g_task_return_error (task, error);
    }
  else
    {
      g_task_return_pointer (task, action != NULL ? action : g_strdup (PFT_DEFAULT_ACTION), g_free);
    }
  g_object_unref (task);
}

static void
single_item_done (gpointer  user_data,
                  guint     index,
                  GValue   *result,
                  GError   *error)
{
  PftInvocation *inv = user_data;

  if (error == NULL)
    {
      inv->exec_result = *result;
      memset (result, 0, sizeof *result);
    }
  _pft_invocation_exec_done (inv, error);
}

void
_pft_node_invoke_async (PftNode             *node,
                        PftStore            *store,
                        GVariant            *incoming_params,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  PftNodePrivate *priv = pft_node_get_instance_private (node);
  g_autoptr(GVariant) params = _pft_params_merge (priv->params, incoming_params);
  PftInvocation *inv;
  GTask *task;
  GError *error = NULL;

  task = g_task_new (node, cancellable, callback, user_data);
  g_task_set_source_tag (task, _pft_node_invoke_async);

  inv = g_new0 (PftInvocation, 1);
  inv->node = g_object_ref (node);
  inv->ctx = _pft_context_new (node, store, params, cancellable);
  inv->task = task;
  g_task_set_task_data (task, inv, invocation_free);

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }

  PFT_NODE_GET_CLASS (node)->prep != NULL
    ? PFT_NODE_GET_CLASS (node)->prep (node, inv->ctx, &inv->prep_result, &error)
    : (void) 0;
  if (error != NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  ensure_value (&inv->prep_result);

  if (PFT_IS_BATCH_FLOW (node))
    _pft_batch_exec_phase (inv, PFT_JOB_WALK);
  else if (PFT_IS_FLOW (node))
    _pft_flow_exec_phase (inv);
  else if (PFT_IS_BATCH_NODE (node))
    _pft_batch_exec_phase (inv, PFT_JOB_EXEC);
  else
    {
      g_autoptr(PftRunPolicy) policy = _pft_run_policy_new (node);

      _pft_run_item (node, PFT_JOB_EXEC, inv->ctx, &inv->prep_result, NULL, 0,
                     cancellable, policy, NULL, single_item_done, inv);
    }
}

char *
_pft_node_invoke_finish (PftNode       *node,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, node), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == _pft_node_invoke_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
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

  _pft_node_invoke_async (self, store, NULL, cancellable, callback, user_data);
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

  return _pft_node_invoke_finish (self, result, error);
}

static void
sync_run_cb (GObject      *source,
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
  pft_node_run_async (self, store, cancellable, sync_run_cb, &result);
  while (result == NULL)
    _pft_hang_watch_iterated (watch, g_main_context_iteration (context, TRUE));
  _pft_hang_watch_end (watch);
  action = pft_node_run_finish (self, result, error);
  g_object_unref (result);
  g_main_context_pop_thread_default (context);
  return action;
}
