/* pft-throttle.c: the limiter, stats and progress of throttled nodes and
 * flows
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include <glib/gi18n-lib.h>

#include "pft-throttle-private.h"

/* Throttled nodes and flows own a limiter, or share one; they never count
 * on their own. The owner's max-concurrent and max-per-minute configure the
 * owned limiter live; a shared limiter is configured by whoever owns it. */
struct _PftThrottle
{
  GObject        *owner;        /* not a reference: the owner holds us */
  GParamSpec    **pspecs;       /* the owner's, PFT_THROTTLE_N_PROPS of them */
  guint           item_done_signal;

  GMutex          mutex;
  PftRateLimiter *own;
  PftRateLimiter *shared;
  guint           max_per_minute;
  guint           rate_limit_retries;
  guint64         token_cost;
  gboolean        continue_on_error;
  guint64         completed;
  guint64         failed;
  guint64         total;
  PftAdaptiveController *adaptive; /* not owned */
};

#define DEFAULT_RATE_LIMIT_RETRIES 10

static gboolean set_field (PftThrottle *throttle,
                           guint        offset,
                           gpointer     field,
                           gsize        size,
                           gconstpointer new_value);

void
_pft_throttle_install_properties (GObjectClass  *klass,
                                  guint          first_prop_id,
                                  gboolean       for_flows,
                                  GParamSpec   **pspecs)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  pspecs[PFT_THROTTLE_PROP_MAX_PER_MINUTE] =
    g_param_spec_uint (for_flows ? "max-flows-per-minute" : "max-per-minute", NULL, NULL,
                       0, G_MAXUINT, 0, rw);
  pspecs[PFT_THROTTLE_PROP_LIMITER] =
    g_param_spec_object ("limiter", NULL, NULL, PFT_TYPE_RATE_LIMITER, rw);
  pspecs[PFT_THROTTLE_PROP_CONTINUE_ON_ERROR] =
    g_param_spec_boolean ("continue-on-error", NULL, NULL, FALSE, rw);
  pspecs[PFT_THROTTLE_PROP_RATE_LIMIT_RETRIES] =
    g_param_spec_uint ("rate-limit-retries", NULL, NULL, 0, G_MAXUINT, DEFAULT_RATE_LIMIT_RETRIES, rw);
  pspecs[PFT_THROTTLE_PROP_TOKEN_COST] =
    g_param_spec_uint64 ("token-cost", NULL, NULL, 0, G_MAXUINT64, 0, rw);
  pspecs[PFT_THROTTLE_PROP_COMPLETED] =
    g_param_spec_uint64 ("completed", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  pspecs[PFT_THROTTLE_PROP_FAILED] =
    g_param_spec_uint64 ("failed", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  pspecs[PFT_THROTTLE_PROP_TOTAL] =
    g_param_spec_uint64 ("total", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  for (guint i = 0; i < PFT_THROTTLE_N_PROPS; i++)
    g_object_class_install_property (klass, first_prop_id + i, pspecs[i]);
}

guint
_pft_throttle_install_signal (GObjectClass *klass)
{
  return g_signal_new ("item-done",
                       G_TYPE_FROM_CLASS (klass),
                       G_SIGNAL_RUN_LAST,
                       0, NULL, NULL, NULL,
                       G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_ERROR);
}

PftThrottle *
_pft_throttle_new (GObject                   *owner,
                   GParamSpec               **pspecs,
                   guint                      item_done_signal,
                   const PftThrottleDefaults *defaults)
{
  PftThrottle *throttle = g_new0 (PftThrottle, 1);

  throttle->owner = owner;
  throttle->pspecs = pspecs;
  throttle->item_done_signal = item_done_signal;
  g_mutex_init (&throttle->mutex);
  throttle->max_per_minute = defaults->max_per_minute;
  throttle->rate_limit_retries = DEFAULT_RATE_LIMIT_RETRIES;
  throttle->own = pft_rate_limiter_new (MAX (defaults->max_concurrent, 1),
                                        defaults->max_per_minute, 60.0);
  return throttle;
}

void
_pft_throttle_free (PftThrottle *throttle)
{
  g_clear_object (&throttle->own);
  g_clear_object (&throttle->shared);
  g_mutex_clear (&throttle->mutex);
  g_free (throttle);
}

/* The limiter runs use: the shared one if set, else the owned one. */
PftRateLimiter *
_pft_throttle_get_limiter (PftThrottle *throttle)
{
  PftRateLimiter *ret;

  g_mutex_lock (&throttle->mutex);
  ret = throttle->shared != NULL ? throttle->shared : throttle->own;
  g_mutex_unlock (&throttle->mutex);
  return ret;
}

void
_pft_throttle_set_adaptive (PftThrottle *throttle,
                            PftAdaptiveController *adaptive)
{
  throttle->adaptive = adaptive;
  _pft_adaptive_controller_set_limiter (adaptive, _pft_throttle_get_limiter (throttle), throttle->shared != NULL);
}

void
_pft_throttle_set_limiter (PftThrottle    *throttle,
                           PftRateLimiter *limiter)
{
  gboolean changed;

  g_mutex_lock (&throttle->mutex);
  changed = g_set_object (&throttle->shared, limiter);
  g_mutex_unlock (&throttle->mutex);

  if (changed)
    {
      if (throttle->adaptive != NULL)
        _pft_adaptive_controller_set_limiter (throttle->adaptive, _pft_throttle_get_limiter (throttle), limiter != NULL);
      g_object_notify_by_pspec (throttle->owner, throttle->pspecs[PFT_THROTTLE_PROP_LIMITER]);
    }
}

gboolean
_pft_throttle_use_limiter_named (PftThrottle  *throttle,
                                 const char   *name,
                                 GError      **error)
{
  g_autoptr(PftRateLimiter) limiter =
    pft_limiter_registry_lookup (pft_limiter_registry_get_default (), name, error);

  if (limiter == NULL)
    return FALSE;
  _pft_throttle_set_limiter (throttle, limiter);
  return TRUE;
}

void
_pft_throttle_max_concurrent_changed (PftThrottle *throttle,
                                      guint        max_concurrent)
{
  /* An adaptive owner's max-concurrent is the ceiling of its controller,
   * which sizes the limiter itself. */
  if (throttle->adaptive != NULL)
    _pft_adaptive_controller_set_max_concurrent (throttle->adaptive, max_concurrent);
  else
    /* 0 is "no bound" for every batch node, not "one at a time". */
    pft_rate_limiter_set_max_concurrent (throttle->own, max_concurrent != 0 ? max_concurrent : G_MAXUINT);
}

guint
_pft_throttle_get_max_per_minute (PftThrottle *throttle)
{
  return throttle->max_per_minute;
}

void
_pft_throttle_set_max_per_minute (PftThrottle *throttle,
                                  guint        max_per_minute)
{
  if (throttle->max_per_minute == max_per_minute)
    return;
  throttle->max_per_minute = max_per_minute;
  /* Keeps the window history: a resize never forgets recent calls. */
  pft_rate_limiter_set_window (throttle->own, 60.0);
  pft_rate_limiter_set_max_per_window (throttle->own, max_per_minute);
  g_object_notify_by_pspec (throttle->owner, throttle->pspecs[PFT_THROTTLE_PROP_MAX_PER_MINUTE]);
}

gboolean
_pft_throttle_get_continue_on_error (PftThrottle *throttle)
{
  gboolean ret;

  g_mutex_lock (&throttle->mutex);
  ret = throttle->continue_on_error;
  g_mutex_unlock (&throttle->mutex);
  return ret;
}

void
_pft_throttle_set_continue_on_error (PftThrottle *throttle,
                                     gboolean     continue_on_error)
{
  gboolean v = !!continue_on_error;

  set_field (throttle, PFT_THROTTLE_PROP_CONTINUE_ON_ERROR,
             &throttle->continue_on_error, sizeof v, &v);
}

gboolean
_pft_throttle_apply_preset (PftThrottle  *throttle,
                            const char   *name,
                            GError      **error)
{
  g_autoptr(PftPreset) preset = pft_presets_lookup (name, error);

  if (preset == NULL)
    return FALSE;

  g_object_freeze_notify (throttle->owner);
  if (throttle->adaptive != NULL)
    _pft_adaptive_controller_apply_preset (throttle->adaptive, preset);
  g_object_set (throttle->owner, "max-concurrent", pft_preset_get_max_concurrent (preset), NULL);
  _pft_throttle_set_max_per_minute (throttle, pft_preset_get_max_per_minute (preset));
  g_object_thaw_notify (throttle->owner);
  return TRUE;
}

guint64
_pft_throttle_get_stat (PftThrottle *throttle,
                        guint        offset)
{
  guint64 ret = 0;

  g_mutex_lock (&throttle->mutex);
  switch (offset)
    {
    case PFT_THROTTLE_PROP_COMPLETED: ret = throttle->completed; break;
    case PFT_THROTTLE_PROP_FAILED: ret = throttle->failed; break;
    case PFT_THROTTLE_PROP_TOTAL: ret = throttle->total; break;
    default: g_assert_not_reached ();
    }
  g_mutex_unlock (&throttle->mutex);
  return ret;
}

void
_pft_throttle_reset_stats (PftThrottle *throttle)
{
  g_mutex_lock (&throttle->mutex);
  throttle->completed = throttle->failed = throttle->total = 0;
  g_mutex_unlock (&throttle->mutex);

  g_object_freeze_notify (throttle->owner);
  g_object_notify_by_pspec (throttle->owner, throttle->pspecs[PFT_THROTTLE_PROP_COMPLETED]);
  g_object_notify_by_pspec (throttle->owner, throttle->pspecs[PFT_THROTTLE_PROP_FAILED]);
  g_object_notify_by_pspec (throttle->owner, throttle->pspecs[PFT_THROTTLE_PROP_TOTAL]);
  g_object_thaw_notify (throttle->owner);
}

void
_pft_throttle_fill_policy (PftThrottle  *throttle,
                           PftRunPolicy *policy)
{
  policy->limiter = g_object_ref (_pft_throttle_get_limiter (throttle));
  g_mutex_lock (&throttle->mutex);
  policy->cost = throttle->token_cost;
  policy->rate_limit_retries = throttle->rate_limit_retries;
  policy->continue_on_error = throttle->continue_on_error;
  g_mutex_unlock (&throttle->mutex);
  policy->throttle = throttle;
  policy->adaptive = throttle->adaptive;
  if (throttle->adaptive != NULL)
    policy->propagate_rate_limit = _pft_adaptive_controller_get_propagate (throttle->adaptive);
}

void
_pft_throttle_batch_started (PftThrottle *throttle,
                             guint        n_items)
{
  g_mutex_lock (&throttle->mutex);
  throttle->total += n_items;
  g_mutex_unlock (&throttle->mutex);
  g_object_notify_by_pspec (throttle->owner, throttle->pspecs[PFT_THROTTLE_PROP_TOTAL]);
}

void
_pft_throttle_item_done (PftThrottle  *throttle,
                         guint         index,
                         const GError *error)
{
  /* A cancelled item neither completed nor failed: the run was stopped. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  g_mutex_lock (&throttle->mutex);
  if (error == NULL)
    throttle->completed++;
  else
    throttle->failed++;
  g_mutex_unlock (&throttle->mutex);

  g_object_notify_by_pspec (throttle->owner,
                            throttle->pspecs[error == NULL ? PFT_THROTTLE_PROP_COMPLETED
                                                           : PFT_THROTTLE_PROP_FAILED]);
  g_signal_emit (throttle->owner, throttle->item_done_signal, 0, index, error);
}

gboolean
_pft_throttle_get_property (PftThrottle *throttle,
                            guint        offset,
                            GValue      *value)
{
  switch (offset)
    {
    case PFT_THROTTLE_PROP_MAX_PER_MINUTE:
      g_value_set_uint (value, throttle->max_per_minute);
      return TRUE;
    case PFT_THROTTLE_PROP_LIMITER:
      g_value_set_object (value, _pft_throttle_get_limiter (throttle));
      return TRUE;
    case PFT_THROTTLE_PROP_CONTINUE_ON_ERROR:
      g_value_set_boolean (value, _pft_throttle_get_continue_on_error (throttle));
      return TRUE;
    case PFT_THROTTLE_PROP_RATE_LIMIT_RETRIES:
      g_value_set_uint (value, throttle->rate_limit_retries);
      return TRUE;
    case PFT_THROTTLE_PROP_TOKEN_COST:
      g_value_set_uint64 (value, throttle->token_cost);
      return TRUE;
    case PFT_THROTTLE_PROP_COMPLETED:
    case PFT_THROTTLE_PROP_FAILED:
    case PFT_THROTTLE_PROP_TOTAL:
      g_value_set_uint64 (value, _pft_throttle_get_stat (throttle, offset));
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
set_field (PftThrottle *throttle,
           guint        offset,
           gpointer     field,
           gsize        size,
           gconstpointer new_value)
{
  gboolean changed;

  g_mutex_lock (&throttle->mutex);
  changed = memcmp (field, new_value, size) != 0;
  if (changed)
    memcpy (field, new_value, size);
  g_mutex_unlock (&throttle->mutex);
  if (changed)
    g_object_notify_by_pspec (throttle->owner, throttle->pspecs[offset]);
  return TRUE;
}

gboolean
_pft_throttle_set_property (PftThrottle  *throttle,
                            guint         offset,
                            const GValue *value)
{
  switch (offset)
    {
    case PFT_THROTTLE_PROP_MAX_PER_MINUTE:
      _pft_throttle_set_max_per_minute (throttle, g_value_get_uint (value));
      return TRUE;
    case PFT_THROTTLE_PROP_LIMITER:
      _pft_throttle_set_limiter (throttle, g_value_get_object (value));
      return TRUE;
    case PFT_THROTTLE_PROP_CONTINUE_ON_ERROR:
      _pft_throttle_set_continue_on_error (throttle, g_value_get_boolean (value));
      return TRUE;
    case PFT_THROTTLE_PROP_RATE_LIMIT_RETRIES:
      {
        guint v = g_value_get_uint (value);
        return set_field (throttle, offset, &throttle->rate_limit_retries, sizeof v, &v);
      }
    case PFT_THROTTLE_PROP_TOKEN_COST:
      {
        guint64 v = g_value_get_uint64 (value);
        return set_field (throttle, offset, &throttle->token_cost, sizeof v, &v);
      }
    default:
      return FALSE;
    }
}

PftThrottle *
_pft_node_get_throttle (PftNode *node)
{
  if (PFT_IS_THROTTLED_BATCH_NODE (node))
    return _pft_throttled_batch_node_get_throttle (PFT_THROTTLED_BATCH_NODE (node));
  if (PFT_IS_THROTTLED_BATCH_FLOW (node))
    return _pft_throttled_batch_flow_get_throttle (PFT_THROTTLED_BATCH_FLOW (node));
  return NULL;
}

/* The max-concurrent of a batch node or flow changed: a throttled one runs
 * under its limiter (or adaptive controller), sized from there. */
void
_pft_node_max_concurrent_changed (PftNode *node,
                                  guint    max_concurrent)
{
  PftThrottle *throttle = _pft_node_get_throttle (node);

  if (throttle != NULL)
    _pft_throttle_max_concurrent_changed (throttle, max_concurrent);
}
