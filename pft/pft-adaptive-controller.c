/* pft-adaptive-controller.c: back off on rate limits, recover on success
 *
 * (the policy and why: docs/throttling.md, "The adaptive controller")
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>

#include <glib/gi18n-lib.h>

#include "pft-adaptive-controller-private.h"
#include "pft-error.h"
#include "pft-node.h"
#include "pft-rate-limiter.h"
#include "pft-rate-limiter-limits.h"

/* Probing past the last wall: allowed after PROBE_EVERY rounds in use
 * just below it; each failed probe doubles the wait, up to the max. */
#define PROBE_EVERY     20
#define PROBE_EVERY_MAX 320

struct _PftAdaptiveController
{
  GObject        *owner;     /* not a reference */
  GParamSpec    **pspecs;    /* the owner's, PFT_ADAPTIVE_CONTROLLER_N_PROPS */

  GMutex          mutex;
  PftRateLimiter *limiter;
  guint           initial;
  guint           min;
  guint           max;
  double          backoff;
  guint           threshold;
  double          recovery;
  gboolean        propagate;

  guint           current;
  gboolean        settled;   /* current no longer follows initial (events, or a shared limiter's size) */
  guint           ceiling;   /* 0: none known */
  guint64         probe_credit;   /* successes in use just below the ceiling */
  guint           probe_every;
  gboolean        probing;   /* current is a probe past the last ceiling */
  gboolean        accepted;  /* a success of an attempt started since the last back-off */
  guint64         epoch;
  guint64         total_successes;
  guint64         total_rate_limits;
  guint           consecutive;
  guint           peak_in_flight;  /* the most in flight since the last threshold */
};

void
_pft_adaptive_controller_install_properties (GObjectClass  *klass,
                                             guint          first_prop_id,
                                             gboolean       for_flows,
                                             GParamSpec   **pspecs)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  pspecs[PFT_ADAPTIVE_CONTROLLER_PROP_INITIAL_CONCURRENT] =
    g_param_spec_uint (for_flows ? "initial-concurrent-flows" : "initial-concurrent", NULL, NULL,
                       1, G_MAXUINT, 5, rw);
  pspecs[PFT_ADAPTIVE_CONTROLLER_PROP_MIN_CONCURRENT] =
    g_param_spec_uint (for_flows ? "min-concurrent-flows" : "min-concurrent", NULL, NULL,
                       1, G_MAXUINT, 1, rw);
  pspecs[PFT_ADAPTIVE_CONTROLLER_PROP_BACKOFF_FACTOR] =
    g_param_spec_double ("backoff-factor", NULL, NULL, 0.0, 1.0, 0.5, rw);
  pspecs[PFT_ADAPTIVE_CONTROLLER_PROP_RECOVERY_THRESHOLD] =
    g_param_spec_uint ("recovery-threshold", NULL, NULL, 1, G_MAXUINT, 10, rw);
  pspecs[PFT_ADAPTIVE_CONTROLLER_PROP_RECOVERY_FACTOR] =
    g_param_spec_double ("recovery-factor", NULL, NULL, 1.0, G_MAXDOUBLE, 1.2, rw);
  pspecs[PFT_ADAPTIVE_CONTROLLER_PROP_PROPAGATE_RATE_LIMIT] =
    g_param_spec_boolean ("propagate-rate-limit", NULL, NULL, FALSE, rw);
  pspecs[PFT_ADAPTIVE_CONTROLLER_PROP_CURRENT_CONCURRENT] =
    g_param_spec_uint (for_flows ? "current-concurrent-flows" : "current-concurrent", NULL, NULL,
                       0, G_MAXUINT, 5, ro);
  pspecs[PFT_ADAPTIVE_CONTROLLER_PROP_TOTAL_SUCCESSES] =
    g_param_spec_uint64 ("total-successes", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  pspecs[PFT_ADAPTIVE_CONTROLLER_PROP_TOTAL_RATE_LIMITS] =
    g_param_spec_uint64 ("total-rate-limits", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  pspecs[PFT_ADAPTIVE_CONTROLLER_PROP_CONSECUTIVE_SUCCESSES] =
    g_param_spec_uint ("consecutive-successes", NULL, NULL, 0, G_MAXUINT, 0, ro);

  for (guint i = 0; i < PFT_ADAPTIVE_CONTROLLER_N_PROPS; i++)
    g_object_class_install_property (klass, first_prop_id + i, pspecs[i]);
}

/* min-concurrent and max-concurrent are kept as set, whatever the order
 * they were set in; a floor above the ceiling is an error that fails the
 * next run (_pft_adaptive_controller_check()), and until then the ceiling wins. */
static inline guint
pft_adaptive_controller_floor_locked (PftAdaptiveController *self)
{
  return MIN (self->min, self->max);
}

PftAdaptiveController *
_pft_adaptive_controller_new (GObject                              *owner,
                              GParamSpec                          **pspecs,
                              const PftAdaptiveControllerDefaults  *defaults)
{
  PftAdaptiveController *self = g_new0 (PftAdaptiveController, 1);

  self->owner = owner;
  self->pspecs = pspecs;
  g_mutex_init (&self->mutex);
  self->initial = MAX (defaults->initial_concurrent, 1);
  self->min = MAX (defaults->min_concurrent, 1);
  self->max = MAX (defaults->max_concurrent, 1);
  self->backoff = defaults->backoff_factor;
  self->threshold = MAX (defaults->recovery_threshold, 1);
  self->recovery = defaults->recovery_factor;
  self->current = CLAMP (self->initial, pft_adaptive_controller_floor_locked (self), self->max);
  self->probe_every = PROBE_EVERY;
  self->accepted = TRUE;
  return self;
}

void
_pft_adaptive_controller_free (PftAdaptiveController *self)
{
  g_clear_object (&self->limiter);
  g_mutex_clear (&self->mutex);
  g_free (self);
}

static void
pft_adaptive_controller_notify (PftAdaptiveController *self,
                                guint                  offset)
{
  g_object_notify_by_pspec (self->owner, self->pspecs[offset]);
}

/* Outside the lock: the limiter has its own, and notifies. current-concurrent
 * is notified only when @changed: a back-off already at the floor is no
 * change to report. */
static void
pft_adaptive_controller_apply (PftAdaptiveController *self,
                               PftRateLimiter        *limiter,
                               guint                  current,
                               gboolean               changed)
{
  if (limiter != NULL)
    pft_rate_limiter_set_max_concurrent (limiter, current);
  if (changed)
    pft_adaptive_controller_notify (self, PFT_ADAPTIVE_CONTROLLER_PROP_CURRENT_CONCURRENT);
}

static PftRateLimiter *
pft_adaptive_controller_dup_limiter_locked (PftAdaptiveController *self)
{
  return self->limiter != NULL ? g_object_ref (self->limiter) : NULL;
}

/* Brings current within [min, max] after a change of the knobs (until the
 * first event, current is initial) and applies it to the limiter. */
static void
pft_adaptive_controller_reapply (PftAdaptiveController *self)
{
  g_autoptr(PftRateLimiter) target = NULL;
  guint current, old;

  g_mutex_lock (&self->mutex);
  old = self->current;
  self->current = CLAMP (self->settled ? self->current : self->initial, pft_adaptive_controller_floor_locked (self), self->max);
  current = self->current;
  target = pft_adaptive_controller_dup_limiter_locked (self);
  g_mutex_unlock (&self->mutex);
  pft_adaptive_controller_apply (self, target, current, current != old);
}

void
_pft_adaptive_controller_set_limiter (PftAdaptiveController *self,
                                      PftRateLimiter        *limiter,
                                      gboolean               adopt)
{
  g_mutex_lock (&self->mutex);
  g_set_object (&self->limiter, limiter);
  /* A shared limiter is sized by whoever set it up: start from its size
   * (within min and max) rather than impose ours on everyone sharing it. */
  if (adopt && limiter != NULL)
    {
      self->current = pft_rate_limiter_get_max_concurrent (limiter);
      self->settled = TRUE;
    }
  g_mutex_unlock (&self->mutex);
  pft_adaptive_controller_reapply (self);
}

void
_pft_adaptive_controller_set_max_concurrent (PftAdaptiveController *self,
                                             guint                  max_concurrent)
{
  g_mutex_lock (&self->mutex);
  self->max = MAX (max_concurrent, 1);
  g_mutex_unlock (&self->mutex);
  pft_adaptive_controller_reapply (self);
}

gboolean
_pft_adaptive_controller_check (PftAdaptiveController  *self,
                                GError                **error)
{
  const char *min_name = g_param_spec_get_name (self->pspecs[PFT_ADAPTIVE_CONTROLLER_PROP_MIN_CONCURRENT]);
  g_autofree char *max_name = g_strconcat ("max", min_name + 3, NULL);
  guint min, max;

  g_mutex_lock (&self->mutex);
  min = self->min;
  max = self->max;
  g_mutex_unlock (&self->mutex);

  if (min <= max)
    return TRUE;
  g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
               /* Translators: "min-concurrent = 100 is above max-concurrent = 20" */
               _("%s: %s = %u is above %s = %u"),
               PFT_IS_NODE (self->owner) ? pft_node_get_name (PFT_NODE (self->owner)) : G_OBJECT_TYPE_NAME (self->owner),
               min_name, min, max_name, max);
  return FALSE;
}

guint
_pft_adaptive_controller_get_current (PftAdaptiveController *self)
{
  guint ret;

  g_mutex_lock (&self->mutex);
  ret = self->current;
  g_mutex_unlock (&self->mutex);
  return ret;
}

gboolean
_pft_adaptive_controller_get_propagate (PftAdaptiveController *self)
{
  return self->propagate;
}

guint64
_pft_adaptive_controller_get_epoch (PftAdaptiveController *self)
{
  guint64 ret;

  g_mutex_lock (&self->mutex);
  ret = self->epoch;
  g_mutex_unlock (&self->mutex);
  return ret;
}

void
_pft_adaptive_controller_reset (PftAdaptiveController *self)
{
  g_mutex_lock (&self->mutex);
  self->total_successes = 0;
  self->total_rate_limits = 0;
  self->consecutive = 0;
  self->peak_in_flight = 0;
  self->ceiling = 0;
  self->probe_credit = 0;
  self->probe_every = PROBE_EVERY;
  self->probing = FALSE;
  self->accepted = TRUE;
  self->settled = FALSE;
  self->epoch++;
  g_mutex_unlock (&self->mutex);

  g_object_freeze_notify (self->owner);
  pft_adaptive_controller_reapply (self);
  pft_adaptive_controller_notify (self, PFT_ADAPTIVE_CONTROLLER_PROP_TOTAL_SUCCESSES);
  pft_adaptive_controller_notify (self, PFT_ADAPTIVE_CONTROLLER_PROP_TOTAL_RATE_LIMITS);
  pft_adaptive_controller_notify (self, PFT_ADAPTIVE_CONTROLLER_PROP_CONSECUTIVE_SUCCESSES);
  g_object_thaw_notify (self->owner);
}

void
_pft_adaptive_controller_apply_preset (PftAdaptiveController *self,
                                       PftPreset             *preset)
{
  g_mutex_lock (&self->mutex);
  self->initial = MAX (pft_preset_get_initial_concurrent (preset), 1);
  self->min = MAX (pft_preset_get_min_concurrent (preset), 1);
  self->backoff = pft_preset_get_backoff_factor (preset);
  self->threshold = MAX (pft_preset_get_recovery_threshold (preset), 1);
  self->recovery = MAX (pft_preset_get_recovery_factor (preset), 1.0);
  g_mutex_unlock (&self->mutex);

  for (guint i = PFT_ADAPTIVE_CONTROLLER_PROP_INITIAL_CONCURRENT; i <= PFT_ADAPTIVE_CONTROLLER_PROP_RECOVERY_FACTOR; i++)
    pft_adaptive_controller_notify (self, i);
  /* max-concurrent comes through the owner's property; start over there. */
  _pft_adaptive_controller_reset (self);
}

void
_pft_adaptive_controller_success (PftAdaptiveController *self,
                                  guint                  in_flight,
                                  guint64                epoch)
{
  g_autoptr(PftRateLimiter) target = NULL;
  gboolean grew = FALSE;
  guint current;

  g_mutex_lock (&self->mutex);
  self->total_successes++;
  self->consecutive++;
  if (epoch == self->epoch)
    self->accepted = TRUE;
  self->peak_in_flight = MAX (self->peak_in_flight, in_flight);
  if (self->consecutive >= self->threshold)
    {
      guint peak = self->peak_in_flight;

      self->consecutive = 0;
      self->peak_in_flight = 0;
      if (self->probing && peak >= self->current)
        {
          /* The probe held at a level in use: the wall moved, by one at
           * least; the next probe comes at the usual pace. */
          self->probing = FALSE;
          self->probe_every = PROBE_EVERY;
        }
      /* Only grow a limit in use, judged by the peak since the last
       * threshold (why the peak: docs/throttling.md). */
      if (peak >= self->current && self->current < self->max)
        {
          guint target_value = MAX (self->current + 1, (guint) floor (self->current * self->recovery));

          if (self->ceiling != 0 && target_value >= self->ceiling)
            {
              if (self->current + 1 < self->ceiling)
                target_value = self->ceiling - 1;
              else if ((self->probe_credit += self->threshold) >= (guint64) self->probe_every * self->current)
                {
                  self->probe_credit = 0;
                  target_value = self->current + 1;
                  self->ceiling = target_value + 1;
                  self->probing = TRUE;
                }
              else
                target_value = self->current;
            }
          target_value = MIN (target_value, self->max);
          if (target_value != self->current)
            {
              self->current = target_value;
              self->settled = TRUE;
              grew = TRUE;
              target = pft_adaptive_controller_dup_limiter_locked (self);
            }
        }
    }
  current = self->current;
  g_mutex_unlock (&self->mutex);

  if (grew)
    {
      g_debug ("%s: recovered to %u concurrent", G_OBJECT_TYPE_NAME (self->owner), current);
      pft_adaptive_controller_apply (self, target, current, TRUE);
    }
  pft_adaptive_controller_notify (self, PFT_ADAPTIVE_CONTROLLER_PROP_TOTAL_SUCCESSES);
  pft_adaptive_controller_notify (self, PFT_ADAPTIVE_CONTROLLER_PROP_CONSECUTIVE_SUCCESSES);
}

void
_pft_adaptive_controller_rate_limited (PftAdaptiveController *self,
                                       guint64                epoch)
{
  g_autoptr(PftRateLimiter) target = NULL;
  gboolean backed_off = FALSE, changed = FALSE;
  guint current;

  g_mutex_lock (&self->mutex);
  self->total_rate_limits++;
  self->consecutive = 0;
  self->peak_in_flight = 0;
  if (epoch == self->epoch)
    {
      guint next = (guint) floor (self->current * self->backoff);

      /* A failed probe: the wall is where it was, look less often. A
       * rate limit below a probe: a new wall, learnt afresh. */
      self->probe_every = self->probing ? MIN (self->probe_every * 2, PROBE_EVERY_MAX) : PROBE_EVERY;
      /* Before any success since the last back-off it is the same
       * overload going on: back off again, but learn no lower wall. */
      if (self->accepted || self->ceiling < self->current)
        self->ceiling = self->current;
      self->probe_credit = 0;
      self->probing = FALSE;
      self->accepted = FALSE;
      self->settled = TRUE;
      self->epoch++;
      next = MAX (next, pft_adaptive_controller_floor_locked (self));
      if (next != self->current)
        {
          self->current = next;
          target = pft_adaptive_controller_dup_limiter_locked (self);
          changed = TRUE;
        }
      backed_off = TRUE;
    }
  current = self->current;
  g_mutex_unlock (&self->mutex);

  if (backed_off)
    {
      g_debug ("%s: rate limited, backed off to %u concurrent", G_OBJECT_TYPE_NAME (self->owner), current);
      pft_adaptive_controller_apply (self, target, current, changed);
    }
  pft_adaptive_controller_notify (self, PFT_ADAPTIVE_CONTROLLER_PROP_TOTAL_RATE_LIMITS);
  pft_adaptive_controller_notify (self, PFT_ADAPTIVE_CONTROLLER_PROP_CONSECUTIVE_SUCCESSES);
}

gboolean
_pft_adaptive_controller_get_property (PftAdaptiveController *self,
                                       guint                  offset,
                                       GValue                *value)
{
  g_mutex_lock (&self->mutex);
  switch (offset)
    {
    case PFT_ADAPTIVE_CONTROLLER_PROP_INITIAL_CONCURRENT: g_value_set_uint (value, self->initial); break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_MIN_CONCURRENT: g_value_set_uint (value, self->min); break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_BACKOFF_FACTOR: g_value_set_double (value, self->backoff); break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_RECOVERY_THRESHOLD: g_value_set_uint (value, self->threshold); break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_RECOVERY_FACTOR: g_value_set_double (value, self->recovery); break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_PROPAGATE_RATE_LIMIT: g_value_set_boolean (value, self->propagate); break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_CURRENT_CONCURRENT: g_value_set_uint (value, self->current); break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_TOTAL_SUCCESSES: g_value_set_uint64 (value, self->total_successes); break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_TOTAL_RATE_LIMITS: g_value_set_uint64 (value, self->total_rate_limits); break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_CONSECUTIVE_SUCCESSES: g_value_set_uint (value, self->consecutive); break;
    default:
      g_mutex_unlock (&self->mutex);
      return FALSE;
    }
  g_mutex_unlock (&self->mutex);
  return TRUE;
}

gboolean
_pft_adaptive_controller_set_property (PftAdaptiveController *self,
                                       guint                  offset,
                                       const GValue          *value)
{
  switch (offset)
    {
    case PFT_ADAPTIVE_CONTROLLER_PROP_INITIAL_CONCURRENT:
      g_mutex_lock (&self->mutex);
      self->initial = g_value_get_uint (value);
      g_mutex_unlock (&self->mutex);
      pft_adaptive_controller_reapply (self);
      break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_MIN_CONCURRENT:
      g_mutex_lock (&self->mutex);
      self->min = g_value_get_uint (value);
      g_mutex_unlock (&self->mutex);
      pft_adaptive_controller_reapply (self);
      break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_BACKOFF_FACTOR:
      g_mutex_lock (&self->mutex);
      self->backoff = g_value_get_double (value);
      g_mutex_unlock (&self->mutex);
      break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_RECOVERY_THRESHOLD:
      g_mutex_lock (&self->mutex);
      self->threshold = g_value_get_uint (value);
      g_mutex_unlock (&self->mutex);
      break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_RECOVERY_FACTOR:
      g_mutex_lock (&self->mutex);
      self->recovery = g_value_get_double (value);
      g_mutex_unlock (&self->mutex);
      break;
    case PFT_ADAPTIVE_CONTROLLER_PROP_PROPAGATE_RATE_LIMIT:
      self->propagate = g_value_get_boolean (value);
      break;
    default:
      return FALSE;
    }
  pft_adaptive_controller_notify (self, offset);
  return TRUE;
}

guint64
_pft_adaptive_controller_get_total_successes (PftAdaptiveController *self)
{
  guint64 ret;

  g_mutex_lock (&self->mutex);
  ret = self->total_successes;
  g_mutex_unlock (&self->mutex);
  return ret;
}

guint64
_pft_adaptive_controller_get_total_rate_limits (PftAdaptiveController *self)
{
  guint64 ret;

  g_mutex_lock (&self->mutex);
  ret = self->total_rate_limits;
  g_mutex_unlock (&self->mutex);
  return ret;
}

guint
_pft_adaptive_controller_get_consecutive_successes (PftAdaptiveController *self)
{
  guint ret;

  g_mutex_lock (&self->mutex);
  ret = self->consecutive;
  g_mutex_unlock (&self->mutex);
  return ret;
}
