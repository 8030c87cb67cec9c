/* pft-adaptive-controller.c: back off on rate limits, recover on success
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>

#include <glib/gi18n-lib.h>

#include "pft-throttle-private.h"

/* One controller serves the adaptive node and the adaptive batch flow. It
 * resizes the live limiter in place (the seed built a new limiter on every
 * change, and items already queued kept the old one).
 *
 * Back off: on a rate-limit event, concurrency is multiplied by
 * backoff-factor (floor min-concurrent), once per episode: events from
 * attempts that started before the last back-off are counted but do not
 * back off again, so a burst of 429s from one overload halves once.
 *
 * Recover: after recovery-threshold consecutive successes, concurrency
 * grows by recovery-factor and always by at least one (the seed's
 * int(4 * 1.2) == 4 never grew), up to max-concurrent, and only while the
 * limit is in use (in flight at the limit when the success came).
 *
 * Memory: the level at which the last rate limit hit is a ceiling, unless
 * it came before the provider accepted any call since the last back-off:
 * that is the same overload going on (the first calls after a retry-after
 * pause that find a rate window still full), which backs off again but
 * does not teach a lower wall. Growth up to just below the ceiling is as
 * above; going past it is a probe, allowed once probe_every rounds were
 * spent just below it in use, a round being as many successes as the
 * level (one call duration, whatever the level: counted in recoveries, a
 * node at 1 took 100 calls, 50 times longer than at 8, and a rate window
 * that had pushed it down kept it there for seconds). A probe that hits
 * the wall again doubles probe_every (up to PROBE_EVERY_MAX): a provider
 * whose limit stays put costs fewer and fewer back-offs. A probe that
 * holds (the next threshold passes at the probed level, in use) means the
 * wall moved: the next probe comes at the usual pace. (Growing freely
 * after it instead made the node burst into a provider's rate window.)
 * The seed climbed back into the same wall at every recovery. */
#define PROBE_EVERY     20
#define PROBE_EVERY_MAX 320

struct _PftAdaptive
{
  GObject        *owner;     /* not a reference */
  GParamSpec    **pspecs;    /* the owner's, PFT_ADAPTIVE_N_PROPS */

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
_pft_adaptive_install_properties (GObjectClass  *klass,
                                  guint          first_prop_id,
                                  gboolean       for_flows,
                                  GParamSpec   **pspecs)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  pspecs[PFT_ADAPTIVE_PROP_INITIAL_CONCURRENT] =
    g_param_spec_uint (for_flows ? "initial-concurrent-flows" : "initial-concurrent", NULL, NULL,
                       1, G_MAXUINT, 5, rw);
  pspecs[PFT_ADAPTIVE_PROP_MIN_CONCURRENT] =
    g_param_spec_uint (for_flows ? "min-concurrent-flows" : "min-concurrent", NULL, NULL,
                       1, G_MAXUINT, 1, rw);
  pspecs[PFT_ADAPTIVE_PROP_BACKOFF_FACTOR] =
    g_param_spec_double ("backoff-factor", NULL, NULL, 0.0, 1.0, 0.5, rw);
  pspecs[PFT_ADAPTIVE_PROP_RECOVERY_THRESHOLD] =
    g_param_spec_uint ("recovery-threshold", NULL, NULL, 1, G_MAXUINT, 10, rw);
  pspecs[PFT_ADAPTIVE_PROP_RECOVERY_FACTOR] =
    g_param_spec_double ("recovery-factor", NULL, NULL, 1.0, G_MAXDOUBLE, 1.2, rw);
  pspecs[PFT_ADAPTIVE_PROP_PROPAGATE_RATE_LIMIT] =
    g_param_spec_boolean ("propagate-rate-limit", NULL, NULL, FALSE, rw);
  pspecs[PFT_ADAPTIVE_PROP_CURRENT_CONCURRENT] =
    g_param_spec_uint (for_flows ? "current-concurrent-flows" : "current-concurrent", NULL, NULL,
                       0, G_MAXUINT, 5, ro);
  pspecs[PFT_ADAPTIVE_PROP_TOTAL_SUCCESSES] =
    g_param_spec_uint64 ("total-successes", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  pspecs[PFT_ADAPTIVE_PROP_TOTAL_RATE_LIMITS] =
    g_param_spec_uint64 ("total-rate-limits", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  pspecs[PFT_ADAPTIVE_PROP_CONSECUTIVE_SUCCESSES] =
    g_param_spec_uint ("consecutive-successes", NULL, NULL, 0, G_MAXUINT, 0, ro);

  for (guint i = 0; i < PFT_ADAPTIVE_N_PROPS; i++)
    g_object_class_install_property (klass, first_prop_id + i, pspecs[i]);
}

/* min-concurrent and max-concurrent are kept as set, whatever the order
 * they were set in; a floor above the ceiling is an error that fails the
 * next run (_pft_adaptive_check()), and until then the ceiling wins. */
static inline guint
floor_locked (PftAdaptive *a)
{
  return MIN (a->min, a->max);
}

PftAdaptive *
_pft_adaptive_new (GObject                   *owner,
                   GParamSpec               **pspecs,
                   const PftAdaptiveDefaults *defaults)
{
  PftAdaptive *a = g_new0 (PftAdaptive, 1);

  a->owner = owner;
  a->pspecs = pspecs;
  g_mutex_init (&a->mutex);
  a->initial = MAX (defaults->initial_concurrent, 1);
  a->min = MAX (defaults->min_concurrent, 1);
  a->max = MAX (defaults->max_concurrent, 1);
  a->backoff = defaults->backoff_factor;
  a->threshold = MAX (defaults->recovery_threshold, 1);
  a->recovery = defaults->recovery_factor;
  a->current = CLAMP (a->initial, floor_locked (a), a->max);
  a->probe_every = PROBE_EVERY;
  a->accepted = TRUE;
  return a;
}

void
_pft_adaptive_free (PftAdaptive *a)
{
  g_clear_object (&a->limiter);
  g_mutex_clear (&a->mutex);
  g_free (a);
}

static void
notify (PftAdaptive *a,
        guint        offset)
{
  g_object_notify_by_pspec (a->owner, a->pspecs[offset]);
}

/* Outside the lock: the limiter has its own, and notifies. current-concurrent
 * is notified only when @changed: a back-off already at the floor is no
 * change to report. */
static void
apply (PftAdaptive    *a,
       PftRateLimiter *limiter,
       guint           current,
       gboolean        changed)
{
  if (limiter != NULL)
    pft_rate_limiter_set_max_concurrent (limiter, current);
  if (changed)
    notify (a, PFT_ADAPTIVE_PROP_CURRENT_CONCURRENT);
}

static PftRateLimiter *
dup_limiter_locked (PftAdaptive *a)
{
  return a->limiter != NULL ? g_object_ref (a->limiter) : NULL;
}

/* Brings current within [min, max] after a change of the knobs (until the
 * first event, current is initial) and applies it to the limiter. */
static void
reapply (PftAdaptive *a)
{
  g_autoptr(PftRateLimiter) target = NULL;
  guint current, old;

  g_mutex_lock (&a->mutex);
  old = a->current;
  a->current = CLAMP (a->settled ? a->current : a->initial, floor_locked (a), a->max);
  current = a->current;
  target = dup_limiter_locked (a);
  g_mutex_unlock (&a->mutex);
  apply (a, target, current, current != old);
}

void
_pft_adaptive_set_limiter (PftAdaptive    *a,
                           PftRateLimiter *limiter,
                           gboolean        adopt)
{
  g_mutex_lock (&a->mutex);
  g_set_object (&a->limiter, limiter);
  /* A shared limiter is sized by whoever set it up: start from its size
   * (within min and max) rather than impose ours on everyone sharing it. */
  if (adopt && limiter != NULL)
    {
      a->current = pft_rate_limiter_get_max_concurrent (limiter);
      a->settled = TRUE;
    }
  g_mutex_unlock (&a->mutex);
  reapply (a);
}

void
_pft_adaptive_set_max_concurrent (PftAdaptive *a,
                                  guint        max_concurrent)
{
  g_mutex_lock (&a->mutex);
  a->max = MAX (max_concurrent, 1);
  g_mutex_unlock (&a->mutex);
  reapply (a);
}

gboolean
_pft_adaptive_check (PftAdaptive  *a,
                     GError      **error)
{
  const char *min_name = g_param_spec_get_name (a->pspecs[PFT_ADAPTIVE_PROP_MIN_CONCURRENT]);
  g_autofree char *max_name = g_strconcat ("max", min_name + 3, NULL);
  guint min, max;

  g_mutex_lock (&a->mutex);
  min = a->min;
  max = a->max;
  g_mutex_unlock (&a->mutex);

  if (min <= max)
    return TRUE;
  g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
               /* Translators: "min-concurrent = 100 is above max-concurrent = 20" */
               _("%s: %s = %u is above %s = %u"),
               PFT_IS_NODE (a->owner) ? pft_node_get_name (PFT_NODE (a->owner)) : G_OBJECT_TYPE_NAME (a->owner),
               min_name, min, max_name, max);
  return FALSE;
}

guint
_pft_adaptive_get_current (PftAdaptive *a)
{
  guint ret;

  g_mutex_lock (&a->mutex);
  ret = a->current;
  g_mutex_unlock (&a->mutex);
  return ret;
}

gboolean
_pft_adaptive_get_propagate (PftAdaptive *a)
{
  return a->propagate;
}

guint64
_pft_adaptive_get_epoch (PftAdaptive *a)
{
  guint64 ret;

  g_mutex_lock (&a->mutex);
  ret = a->epoch;
  g_mutex_unlock (&a->mutex);
  return ret;
}

void
_pft_adaptive_reset (PftAdaptive *a)
{
  g_mutex_lock (&a->mutex);
  a->total_successes = 0;
  a->total_rate_limits = 0;
  a->consecutive = 0;
  a->peak_in_flight = 0;
  a->ceiling = 0;
  a->probe_credit = 0;
  a->probe_every = PROBE_EVERY;
  a->probing = FALSE;
  a->accepted = TRUE;
  a->settled = FALSE;
  a->epoch++;
  g_mutex_unlock (&a->mutex);

  g_object_freeze_notify (a->owner);
  reapply (a);
  notify (a, PFT_ADAPTIVE_PROP_TOTAL_SUCCESSES);
  notify (a, PFT_ADAPTIVE_PROP_TOTAL_RATE_LIMITS);
  notify (a, PFT_ADAPTIVE_PROP_CONSECUTIVE_SUCCESSES);
  g_object_thaw_notify (a->owner);
}

void
_pft_adaptive_apply_preset (PftAdaptive *a,
                            PftPreset   *preset)
{
  g_mutex_lock (&a->mutex);
  a->initial = MAX (pft_preset_get_initial_concurrent (preset), 1);
  a->min = MAX (pft_preset_get_min_concurrent (preset), 1);
  a->backoff = pft_preset_get_backoff_factor (preset);
  a->threshold = MAX (pft_preset_get_recovery_threshold (preset), 1);
  a->recovery = MAX (pft_preset_get_recovery_factor (preset), 1.0);
  g_mutex_unlock (&a->mutex);

  for (guint i = PFT_ADAPTIVE_PROP_INITIAL_CONCURRENT; i <= PFT_ADAPTIVE_PROP_RECOVERY_FACTOR; i++)
    notify (a, i);
  /* max-concurrent comes through the owner's property; start over there. */
  _pft_adaptive_reset (a);
}

void
_pft_adaptive_success (PftAdaptive *a,
                       guint        in_flight,
                       guint64      epoch)
{
  g_autoptr(PftRateLimiter) target = NULL;
  gboolean grew = FALSE;
  guint current;

  g_mutex_lock (&a->mutex);
  a->total_successes++;
  a->consecutive++;
  if (epoch == a->epoch)
    a->accepted = TRUE;
  a->peak_in_flight = MAX (a->peak_in_flight, in_flight);
  if (a->consecutive >= a->threshold)
    {
      guint peak = a->peak_in_flight;

      a->consecutive = 0;
      a->peak_in_flight = 0;
      if (a->probing && peak >= a->current)
        {
          /* The probe held at a level in use: the wall moved, by one at
           * least; the next probe comes at the usual pace. */
          a->probing = FALSE;
          a->probe_every = PROBE_EVERY;
        }
      /* Only grow a limit that is in use: a half-idle batch proves nothing.
       * The peak since the last threshold, not the in-flight of this one
       * success: calls that end in one main-loop iteration free their slots
       * before the dispatcher takes them again, so the last of them always
       * sees a half-empty limiter (the node never grew). */
      if (peak >= a->current && a->current < a->max)
        {
          guint target_value = MAX (a->current + 1, (guint) floor (a->current * a->recovery));

          if (a->ceiling != 0 && target_value >= a->ceiling)
            {
              if (a->current + 1 < a->ceiling)
                target_value = a->ceiling - 1;
              else if ((a->probe_credit += a->threshold) >= (guint64) a->probe_every * a->current)
                {
                  a->probe_credit = 0;
                  target_value = a->current + 1;
                  a->ceiling = target_value + 1;
                  a->probing = TRUE;
                }
              else
                target_value = a->current;
            }
          target_value = MIN (target_value, a->max);
          if (target_value != a->current)
            {
              a->current = target_value;
              a->settled = TRUE;
              grew = TRUE;
              target = dup_limiter_locked (a);
            }
        }
    }
  current = a->current;
  g_mutex_unlock (&a->mutex);

  if (grew)
    {
      g_debug ("%s: recovered to %u concurrent", G_OBJECT_TYPE_NAME (a->owner), current);
      apply (a, target, current, TRUE);
    }
  notify (a, PFT_ADAPTIVE_PROP_TOTAL_SUCCESSES);
  notify (a, PFT_ADAPTIVE_PROP_CONSECUTIVE_SUCCESSES);
}

void
_pft_adaptive_rate_limited (PftAdaptive *a,
                            guint64      epoch)
{
  g_autoptr(PftRateLimiter) target = NULL;
  gboolean backed_off = FALSE, changed = FALSE;
  guint current;

  g_mutex_lock (&a->mutex);
  a->total_rate_limits++;
  a->consecutive = 0;
  a->peak_in_flight = 0;
  if (epoch == a->epoch)
    {
      guint next = (guint) floor (a->current * a->backoff);

      /* A failed probe: the wall is where it was, look less often. A
       * rate limit below a probe: a new wall, learnt afresh. */
      a->probe_every = a->probing ? MIN (a->probe_every * 2, PROBE_EVERY_MAX) : PROBE_EVERY;
      if (a->accepted || a->ceiling < a->current)
        a->ceiling = a->current;
      a->probe_credit = 0;
      a->probing = FALSE;
      a->accepted = FALSE;
      a->settled = TRUE;
      a->epoch++;
      next = MAX (next, floor_locked (a));
      if (next != a->current)
        {
          a->current = next;
          target = dup_limiter_locked (a);
          changed = TRUE;
        }
      backed_off = TRUE;
    }
  current = a->current;
  g_mutex_unlock (&a->mutex);

  if (backed_off)
    {
      g_debug ("%s: rate limited, backed off to %u concurrent", G_OBJECT_TYPE_NAME (a->owner), current);
      apply (a, target, current, changed);
    }
  notify (a, PFT_ADAPTIVE_PROP_TOTAL_RATE_LIMITS);
  notify (a, PFT_ADAPTIVE_PROP_CONSECUTIVE_SUCCESSES);
}

gboolean
_pft_adaptive_get_property (PftAdaptive *a,
                            guint        offset,
                            GValue      *value)
{
  g_mutex_lock (&a->mutex);
  switch (offset)
    {
    case PFT_ADAPTIVE_PROP_INITIAL_CONCURRENT: g_value_set_uint (value, a->initial); break;
    case PFT_ADAPTIVE_PROP_MIN_CONCURRENT: g_value_set_uint (value, a->min); break;
    case PFT_ADAPTIVE_PROP_BACKOFF_FACTOR: g_value_set_double (value, a->backoff); break;
    case PFT_ADAPTIVE_PROP_RECOVERY_THRESHOLD: g_value_set_uint (value, a->threshold); break;
    case PFT_ADAPTIVE_PROP_RECOVERY_FACTOR: g_value_set_double (value, a->recovery); break;
    case PFT_ADAPTIVE_PROP_PROPAGATE_RATE_LIMIT: g_value_set_boolean (value, a->propagate); break;
    case PFT_ADAPTIVE_PROP_CURRENT_CONCURRENT: g_value_set_uint (value, a->current); break;
    case PFT_ADAPTIVE_PROP_TOTAL_SUCCESSES: g_value_set_uint64 (value, a->total_successes); break;
    case PFT_ADAPTIVE_PROP_TOTAL_RATE_LIMITS: g_value_set_uint64 (value, a->total_rate_limits); break;
    case PFT_ADAPTIVE_PROP_CONSECUTIVE_SUCCESSES: g_value_set_uint (value, a->consecutive); break;
    default:
      g_mutex_unlock (&a->mutex);
      return FALSE;
    }
  g_mutex_unlock (&a->mutex);
  return TRUE;
}

gboolean
_pft_adaptive_set_property (PftAdaptive  *a,
                            guint         offset,
                            const GValue *value)
{
  switch (offset)
    {
    case PFT_ADAPTIVE_PROP_INITIAL_CONCURRENT:
      g_mutex_lock (&a->mutex);
      a->initial = g_value_get_uint (value);
      g_mutex_unlock (&a->mutex);
      reapply (a);
      break;
    case PFT_ADAPTIVE_PROP_MIN_CONCURRENT:
      g_mutex_lock (&a->mutex);
      a->min = g_value_get_uint (value);
      g_mutex_unlock (&a->mutex);
      reapply (a);
      break;
    case PFT_ADAPTIVE_PROP_BACKOFF_FACTOR:
      g_mutex_lock (&a->mutex);
      a->backoff = g_value_get_double (value);
      g_mutex_unlock (&a->mutex);
      break;
    case PFT_ADAPTIVE_PROP_RECOVERY_THRESHOLD:
      g_mutex_lock (&a->mutex);
      a->threshold = g_value_get_uint (value);
      g_mutex_unlock (&a->mutex);
      break;
    case PFT_ADAPTIVE_PROP_RECOVERY_FACTOR:
      g_mutex_lock (&a->mutex);
      a->recovery = g_value_get_double (value);
      g_mutex_unlock (&a->mutex);
      break;
    case PFT_ADAPTIVE_PROP_PROPAGATE_RATE_LIMIT:
      a->propagate = g_value_get_boolean (value);
      break;
    default:
      return FALSE;
    }
  notify (a, offset);
  return TRUE;
}

guint64
_pft_adaptive_get_total_successes (PftAdaptive *a)
{
  guint64 ret;

  g_mutex_lock (&a->mutex);
  ret = a->total_successes;
  g_mutex_unlock (&a->mutex);
  return ret;
}

guint64
_pft_adaptive_get_total_rate_limits (PftAdaptive *a)
{
  guint64 ret;

  g_mutex_lock (&a->mutex);
  ret = a->total_rate_limits;
  g_mutex_unlock (&a->mutex);
  return ret;
}

guint
_pft_adaptive_get_consecutive_successes (PftAdaptive *a)
{
  guint ret;

  g_mutex_lock (&a->mutex);
  ret = a->consecutive;
  g_mutex_unlock (&a->mutex);
  return ret;
}
