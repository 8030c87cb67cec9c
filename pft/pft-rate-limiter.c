/* pft-rate-limiter.c: admission control for rate-limited APIs
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>

#include <glib/gi18n-lib.h>

#include "pft-enums.h"
#include "pft-error.h"
#include "pft-private.h"
#include "pft-rate-limiter-queue-private.h"
#include "pft-rate-limiter-redis-private.h"
#include "pft-rate-window-private.h"


/**
 * PftRateLimiter:
 *
 * Admission control for a rate-limited API: at most
 * [property@Pft.RateLimiter:max-concurrent] requests in flight, at most
 * [property@Pft.RateLimiter:max-per-window] requests and
 * [property@Pft.RateLimiter:max-cost-per-window] cost (for example
 * tokens) per [property@Pft.RateLimiter:window] seconds, and a pause after
 * the provider answered "rate limited".
 *
 * Take a [class@Pft.Permit] with [method@Pft.RateLimiter.acquire_async]
 * on a main context, with [method@Pft.RateLimiter.acquire] in a worker
 * thread, or with [method@Pft.RateLimiter.try_acquire] when waiting is not
 * an option, make the request, and release the permit.
 *
 * A request counts in the window from when its permit reaches its holder
 * (for throttled nodes: from when the exec starts), not from the grant,
 * and until then it counts without expiring, so that no window of the
 * limiter's length ever sees more than the limit start, however late the
 * holder gets to it.
 *
 * Admission is first come, first served: waiters are admitted strictly in
 * the order they asked, a costly one at the head holding back cheaper ones
 * behind it (so it is never starved). A waiter holds nothing while it
 * waits; a cancelled waiter leaves the queue at once and lets the next one
 * go. Every limit can be changed while the limiter is in use and takes
 * effect at once, keeping the window's history.
 *
 * A limiter may be shared by threads and main contexts: each asynchronous
 * waiter completes on the thread-default main context of its caller. The
 * `notify` signals of [property@Pft.RateLimiter:in-flight] and
 * [property@Pft.RateLimiter:waiting], and
 * [signal@Pft.RateLimiter::rate-limited], are emitted in whichever thread
 * made the change.
 *
 * Since: 0.1
 */
G_DEFINE_FINAL_TYPE (PftRateLimiter, pft_rate_limiter, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MAX_CONCURRENT,
  PROP_MAX_PER_WINDOW,
  PROP_WINDOW,
  PROP_MAX_COST_PER_WINDOW,
  PROP_MODE,
  PROP_BURST,
  PROP_IN_FLIGHT,
  PROP_WAITING,
  PROP_WINDOW_COUNT,
  PROP_WINDOW_COST,
  PROP_TOTAL_ADMITTED,
  PROP_TOTAL_PAUSES,
  PROP_PAUSED_FOR,
  N_PROPS
};

enum {
  SIGNAL_RATE_LIMITED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
GParamSpec *_pft_rate_limiter_pspec_in_flight;
GParamSpec *_pft_rate_limiter_pspec_waiting;
static guint signals[N_SIGNALS];

#define DEFAULT_MAX_CONCURRENT 5
#define DEFAULT_WINDOW         60.0

/* ------------------------------------------------------------------ */
/* GObject */

static void
pft_rate_limiter_finalize (GObject *object)
{
  PftRateLimiter *self = PFT_RATE_LIMITER (object);

  /* Waiters keep the limiter alive, so none is left. */
  g_assert (self->waiters.length == 0);
  g_assert (self->parked.length == 0);

  g_clear_pointer (&self->timer, _pft_clock_timer_free);
  self->admission->vtable->free (self->admission);
  _pft_clock_unref (self->clock);
  g_mutex_clear (&self->mutex);

  G_OBJECT_CLASS (pft_rate_limiter_parent_class)->finalize (object);
}

static void
pft_rate_limiter_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  PftRateLimiter *self = PFT_RATE_LIMITER (object);

  switch (prop_id)
    {
    case PROP_MAX_CONCURRENT:
      g_value_set_uint (value, pft_rate_limiter_get_max_concurrent (self));
      break;
    case PROP_MAX_PER_WINDOW:
      g_value_set_uint (value, pft_rate_limiter_get_max_per_window (self));
      break;
    case PROP_WINDOW:
      g_value_set_double (value, pft_rate_limiter_get_window (self));
      break;
    case PROP_MAX_COST_PER_WINDOW:
      g_value_set_uint64 (value, pft_rate_limiter_get_max_cost_per_window (self));
      break;
    case PROP_MODE:
      g_value_set_enum (value, pft_rate_limiter_get_mode (self));
      break;
    case PROP_BURST:
      g_value_set_uint (value, pft_rate_limiter_get_burst (self));
      break;
    case PROP_IN_FLIGHT:
      g_value_set_uint (value, pft_rate_limiter_get_in_flight (self));
      break;
    case PROP_WAITING:
      g_value_set_uint (value, pft_rate_limiter_get_waiting (self));
      break;
    case PROP_WINDOW_COUNT:
      g_value_set_uint (value, pft_rate_limiter_get_window_count (self));
      break;
    case PROP_WINDOW_COST:
      g_value_set_uint64 (value, pft_rate_limiter_get_window_cost (self));
      break;
    case PROP_TOTAL_ADMITTED:
      g_value_set_uint64 (value, pft_rate_limiter_get_total_admitted (self));
      break;
    case PROP_TOTAL_PAUSES:
      g_value_set_uint64 (value, pft_rate_limiter_get_total_pauses (self));
      break;
    case PROP_PAUSED_FOR:
      g_value_set_double (value, pft_rate_limiter_get_paused_for (self));
      break;
    default:
      if (!_pft_rate_limiter_redis_get_property (object, prop_id, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_rate_limiter_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  PftRateLimiter *self = PFT_RATE_LIMITER (object);

  switch (prop_id)
    {
    case PROP_MAX_CONCURRENT:
      pft_rate_limiter_set_max_concurrent (self, g_value_get_uint (value));
      break;
    case PROP_MAX_PER_WINDOW:
      pft_rate_limiter_set_max_per_window (self, g_value_get_uint (value));
      break;
    case PROP_WINDOW:
      pft_rate_limiter_set_window (self, g_value_get_double (value));
      break;
    case PROP_MAX_COST_PER_WINDOW:
      pft_rate_limiter_set_max_cost_per_window (self, g_value_get_uint64 (value));
      break;
    case PROP_MODE:
      pft_rate_limiter_set_mode (self, g_value_get_enum (value));
      break;
    case PROP_BURST:
      pft_rate_limiter_set_burst (self, g_value_get_uint (value));
      break;
    default:
      if (!_pft_rate_limiter_redis_set_property (object, prop_id, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_rate_limiter_class_init (PftRateLimiterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  _pft_init_i18n ();

  object_class->finalize = pft_rate_limiter_finalize;
  object_class->get_property = pft_rate_limiter_get_property;
  object_class->set_property = pft_rate_limiter_set_property;

  /**
   * PftRateLimiter:max-concurrent:
   *
   * How many permits may be held at once (requests in flight), at least 1.
   * Lowering it admits nobody new until fewer than the new value are in
   * flight, and a permit granted before but not yet handed to its holder
   * is handed over only once fewer than the new value have been handed
   * over; raising it admits waiters at once.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_CONCURRENT] =
    g_param_spec_uint ("max-concurrent", NULL, NULL,
                       1, G_MAXUINT, DEFAULT_MAX_CONCURRENT, rw);

  /**
   * PftRateLimiter:max-per-window:
   *
   * How many requests may be admitted in any window of
   * [property@Pft.RateLimiter:window] seconds, or 0 for no limit. Every
   * acquire counts one request, whatever its cost.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_PER_WINDOW] =
    g_param_spec_uint ("max-per-window", NULL, NULL,
                       0, G_MAXUINT, 0, rw);

  /**
   * PftRateLimiter:window:
   *
   * The length of the rate window, in seconds, from 1e-6 (a microsecond,
   * its resolution) to 1e9 (about 31 years). Changing it keeps the
   * admissions already counted.
   *
   * Since: 0.1
   */
  properties[PROP_WINDOW] =
    g_param_spec_double ("window", NULL, NULL,
                         PFT_WINDOW_MIN, PFT_WINDOW_MAX, DEFAULT_WINDOW, rw);

  /**
   * PftRateLimiter:max-cost-per-window:
   *
   * How much cost (for example tokens) may be admitted in any window of
   * [property@Pft.RateLimiter:window] seconds, alongside
   * [property@Pft.RateLimiter:max-per-window], or 0 for no limit. A single
   * request costing more than this is refused with
   * [error@Pft.Error.INVALID_ARGUMENT] rather than waiting forever.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_COST_PER_WINDOW] =
    g_param_spec_uint64 ("max-cost-per-window", NULL, NULL,
                         0, G_MAXUINT64, 0, rw);

  /**
   * PftRateLimiter:mode:
   *
   * How the window limits are spread over time: an exact sliding window
   * (the default) or smooth pacing.
   *
   * Since: 0.1
   */
  properties[PROP_MODE] =
    g_param_spec_enum ("mode", NULL, NULL,
                       PFT_TYPE_LIMITER_MODE, PFT_LIMITER_MODE_SLIDING_WINDOW, rw);

  /**
   * PftRateLimiter:burst:
   *
   * In [enum@Pft.LimiterMode.SMOOTH] mode, how many requests may be
   * admitted back to back before the pacing of window / max-per-window
   * seconds applies (at least 1). Unused in sliding-window mode.
   *
   * Since: 0.1
   */
  properties[PROP_BURST] =
    g_param_spec_uint ("burst", NULL, NULL,
                       1, G_MAXUINT, 1, rw);

  /**
   * PftRateLimiter:in-flight:
   *
   * How many permits are held right now.
   *
   * Since: 0.1
   */
  properties[PROP_IN_FLIGHT] =
    g_param_spec_uint ("in-flight", NULL, NULL, 0, G_MAXUINT, 0, ro);

  /**
   * PftRateLimiter:waiting:
   *
   * How many callers are waiting for a permit right now.
   *
   * Since: 0.1
   */
  properties[PROP_WAITING] =
    g_param_spec_uint ("waiting", NULL, NULL, 0, G_MAXUINT, 0, ro);

  /**
   * PftRateLimiter:window-count:
   *
   * How many requests the current window holds: those that started less
   * than [property@Pft.RateLimiter:window] seconds ago, and those granted
   * that have not started yet (only live entries count).
   * Admissions are recorded while a window limit is set. Not notified:
   * it changes as time passes; read it when needed.
   *
   * Since: 0.1
   */
  properties[PROP_WINDOW_COUNT] =
    g_param_spec_uint ("window-count", NULL, NULL, 0, G_MAXUINT, 0, ro);

  /**
   * PftRateLimiter:window-cost:
   *
   * The total cost of the requests the current window holds (see
   * [property@Pft.RateLimiter:window-count]). Not notified.
   *
   * Since: 0.1
   */
  properties[PROP_WINDOW_COST] =
    g_param_spec_uint64 ("window-cost", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  /**
   * PftRateLimiter:total-admitted:
   *
   * How many permits were granted since the limiter was created. Not
   * notified (it would cost every admission a signal).
   *
   * Since: 0.1
   */
  properties[PROP_TOTAL_ADMITTED] =
    g_param_spec_uint64 ("total-admitted", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  /**
   * PftRateLimiter:total-pauses:
   *
   * How many pauses were started or extended, by
   * [method@Pft.RateLimiter.pause] or [method@Pft.RateLimiter.report_error].
   *
   * Since: 0.1
   */
  properties[PROP_TOTAL_PAUSES] =
    g_param_spec_uint64 ("total-pauses", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  /**
   * PftRateLimiter:paused-for:
   *
   * Seconds left in the current pause, or 0. Not notified.
   *
   * Since: 0.1
   */
  properties[PROP_PAUSED_FOR] =
    g_param_spec_double ("paused-for", NULL, NULL, 0, G_MAXDOUBLE, 0, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);
  /* backend, redis-key, ...: see pft-rate-limiter-redis.c. */
  _pft_rate_limiter_redis_install_properties (object_class, N_PROPS);

  /**
   * PftRateLimiter::rate-limited:
   * @self: the limiter
   * @retry_after: the pause in seconds, or -1 when the provider did not say
   *
   * Emitted when the limiter learns that the provider is rate limiting:
   * once for every rate-limit error given to
   * [method@Pft.RateLimiter.report_error], and when
   * [method@Pft.RateLimiter.pause] starts or extends a pause. Emitted in
   * the thread that reported it.
   *
   * Since: 0.1
   */
  signals[SIGNAL_RATE_LIMITED] =
    g_signal_new ("rate-limited",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_DOUBLE);

  /* For the queue, which notifies them without a call. */
  _pft_rate_limiter_pspec_in_flight = properties[PROP_IN_FLIGHT];
  _pft_rate_limiter_pspec_waiting = properties[PROP_WAITING];
}

static void
pft_rate_limiter_init (PftRateLimiter *self)
{
  g_mutex_init (&self->mutex);
  self->clock = _pft_clock_get_system ();
  self->timer_deadline = -1;
  self->ask_retry_at = -1;
  self->limits.max_concurrent = DEFAULT_MAX_CONCURRENT;
  self->window = DEFAULT_WINDOW;
  self->limits.max_per_window = 0;
  self->limits.max_cost = 0;
  self->limits.window_us = (gint64) (DEFAULT_WINDOW * G_USEC_PER_SEC);
  self->limits.mode = PFT_LIMITER_MODE_SLIDING_WINDOW;
  self->limits.burst = 1;
  self->admission = PFT_RATE_WINDOW_ADMISSION (_pft_rate_window_new (&self->limits));
  g_queue_init (&self->waiters);
}

/**
 * pft_rate_limiter_new:
 * @max_concurrent: how many permits may be held at once, at least 1
 * @max_per_window: how many requests may start in any window, or 0 for no
 *   limit
 * @window: the window length in seconds, from 1e-6 to 1e9 (60 for "per
 *   minute")
 *
 * Creates a limiter in sliding-window mode with no cost limit; set
 * [property@Pft.RateLimiter:max-cost-per-window] and
 * [property@Pft.RateLimiter:mode] for more. A number out of range is a
 * programmer error (a critical that names it, and %NULL); numbers from
 * users go through [method@Pft.LimiterRegistry.register_new] or a key
 * file, which report them as errors.
 *
 * Returns: (transfer full) (nullable): a new limiter, or %NULL when a
 *   number is out of range
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_rate_limiter_new (guint  max_concurrent,
                      guint  max_per_window,
                      double window)
{
  GError *error = NULL;

  if (_pft_limit_check_uint ("max-concurrent", max_concurrent, &error))
    _pft_limit_check_window (window, &error);
  if (!_pft_limit_ok_or_critical (G_STRFUNC, error))
    return NULL;

  return g_object_new (PFT_TYPE_RATE_LIMITER,
                       "max-concurrent", max_concurrent,
                       "max-per-window", max_per_window,
                       "window", window,
                       NULL);
}

static gboolean
pft_rate_limiter_pause_internal (PftRateLimiter *self,
                                 double          seconds)
{
  PftRateLimiterHeld held;
  gboolean extended;
  gint64 until;

  _pft_rate_limiter_lock (self, &held);
  /* Capped at about 292 years to stay clear of overflow. */
  until = _pft_rate_limiter_now_locked (self) + (gint64) ceil (MIN (seconds, 9.2e9) * G_USEC_PER_SEC);
  extended = self->admission->vtable->pause (self->admission, until);
  if (extended)
    {
      self->half_open = TRUE;
      if (self->probe_out)
        self->probe_failed = TRUE;
      self->total_pauses++;
      _pft_rate_limiter_process_locked (self, &held);
    }
  _pft_rate_limiter_unlock (self, &held);

  if (extended)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOTAL_PAUSES]);
  return extended;
}

/**
 * pft_rate_limiter_pause:
 * @self: a limiter
 * @seconds: how long to hold all admissions, in seconds (0 or more)
 *
 * Holds every admission until @seconds from now, for example because the
 * provider asked to retry later. Permits already granted stay valid. A
 * later call that ends later extends the pause; one that would end sooner
 * changes nothing. The window's history is kept.
 *
 * When the pause ends, one request goes first, alone; the others wait
 * until its permit is released without a rate limit reported (with
 * [method@Pft.RateLimiter.report_error]) in between, so that a provider
 * still at its limit sees one request, not a burst.
 *
 * Emits [signal@Pft.RateLimiter::rate-limited] when this starts or extends
 * a pause.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_pause (PftRateLimiter *self,
                        double          seconds)
{
  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  g_return_if_fail (!isnan (seconds));

  if (seconds <= 0)
    return;
  if (pft_rate_limiter_pause_internal (self, seconds))
    g_signal_emit (self, signals[SIGNAL_RATE_LIMITED], 0, seconds);
}

/**
 * pft_rate_limiter_report_error:
 * @self: a limiter
 * @error: (nullable): the error a request failed with
 *
 * Tells the limiter how a request it admitted failed. When @error is a
 * rate-limit error (see [func@Pft.Error.is_rate_limit]), the limiter
 * pauses for its retry-after ([func@Pft.Error.get_retry_after]) if it has
 * one, and emits [signal@Pft.RateLimiter::rate-limited] once.
 *
 * Returns: %TRUE if @error was a rate-limit error
 *
 * Since: 0.1
 */
gboolean
pft_rate_limiter_report_error (PftRateLimiter *self,
                               const GError   *error)
{
  double retry_after;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), FALSE);

  if (error == NULL || !pft_error_is_rate_limit (error))
    return FALSE;

  g_mutex_lock (&self->mutex);
  if (self->probe_out)
    self->probe_failed = TRUE;
  g_mutex_unlock (&self->mutex);
  retry_after = pft_error_get_retry_after (error);
  if (retry_after > 0)
    pft_rate_limiter_pause_internal (self, retry_after);
  g_signal_emit (self, signals[SIGNAL_RATE_LIMITED], 0, retry_after >= 0 ? retry_after : -1.0);
  return TRUE;
}

/**
 * pft_rate_limiter_reset:
 * @self: a limiter
 *
 * Forgets the window's history and any pause, as if no request had been
 * made yet: the next requests are admitted up to the full limits at once.
 * The limits, the permits already held (they still count against
 * max-concurrent until released), the waiters (who are admitted now if the
 * limits allow) and the totals ([property@Pft.RateLimiter:total-admitted],
 * [property@Pft.RateLimiter:total-pauses]) are kept. This is the original's
 * `RateLimiter.reset()`.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_reset (PftRateLimiter *self)
{
  PftRateLimiterHeld held;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));

  _pft_rate_limiter_lock (self, &held);
  self->admission->vtable->reset (self->admission);
  self->ask_retry_at = -1;
  self->half_open = FALSE;
  self->probe_out = FALSE;
  self->probe_failed = FALSE;
  _pft_rate_limiter_process_locked (self, &held);
  _pft_rate_limiter_unlock (self, &held);
}

/* ------------------------------------------------------------------ */
/* Limits */

/**
 * pft_rate_limiter_get_max_concurrent:
 * @self: a limiter
 *
 * Gets the concurrency limit, [property@Pft.RateLimiter:max-concurrent].
 *
 * Returns: how many permits may be held at once
 *
 * Since: 0.1
 */
guint
pft_rate_limiter_get_max_concurrent (PftRateLimiter *self)
{
  guint v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->limits.max_concurrent;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_set_max_concurrent:
 * @self: a limiter
 * @max_concurrent: how many permits may be held at once, at least 1
 *
 * Sets [property@Pft.RateLimiter:max-concurrent]. Raising it admits
 * waiters at once; lowering it admits nobody until fewer than
 * @max_concurrent permits are held (permits already held stay valid), and
 * holds back a permit granted before but not yet handed to its holder
 * until it can be handed over within @max_concurrent.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_max_concurrent (PftRateLimiter *self,
                                     guint           max_concurrent)
{
  PftRateLimiterHeld held;
  gboolean changed;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  PFT_LIMIT_RETURN_IF_BAD_UINT ("max-concurrent", max_concurrent);

  _pft_rate_limiter_lock (self, &held);
  changed = self->limits.max_concurrent != max_concurrent;
  self->limits.max_concurrent = max_concurrent;
  if (changed)
    {
      _pft_rate_limiter_unpark_locked (self, &held);
      _pft_rate_limiter_reconfigure_locked (self, &held);
    }
  _pft_rate_limiter_unlock (self, &held);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_CONCURRENT]);
}

/**
 * pft_rate_limiter_get_max_per_window:
 * @self: a limiter
 *
 * Gets the request limit per window,
 * [property@Pft.RateLimiter:max-per-window].
 *
 * Returns: how many requests may start in any window, or 0 for no limit
 *
 * Since: 0.1
 */
guint
pft_rate_limiter_get_max_per_window (PftRateLimiter *self)
{
  guint v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->limits.max_per_window;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_set_max_per_window:
 * @self: a limiter
 * @max_per_window: how many requests may start in any window of
 *   [property@Pft.RateLimiter:window] seconds, or 0 for no limit
 *
 * Sets [property@Pft.RateLimiter:max-per-window]; takes effect at once and
 * keeps the requests already counted in the window.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_max_per_window (PftRateLimiter *self,
                                     guint           max_per_window)
{
  PftRateLimiterHeld held;
  gboolean changed;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));

  _pft_rate_limiter_lock (self, &held);
  changed = self->limits.max_per_window != max_per_window;
  self->limits.max_per_window = max_per_window;
  if (changed)
    _pft_rate_limiter_reconfigure_locked (self, &held);
  _pft_rate_limiter_unlock (self, &held);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_PER_WINDOW]);
}

/**
 * pft_rate_limiter_get_window:
 * @self: a limiter
 *
 * Gets the length of the sliding window, [property@Pft.RateLimiter:window].
 *
 * Returns: the window length, in seconds
 *
 * Since: 0.1
 */
double
pft_rate_limiter_get_window (PftRateLimiter *self)
{
  double v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->window;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_set_window:
 * @self: a limiter
 * @window: the window length in seconds, from 1e-6 to 1e9
 *
 * Sets [property@Pft.RateLimiter:window]; takes effect at once and keeps
 * the requests already counted (they expire @window seconds after they
 * were admitted).
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_window (PftRateLimiter *self,
                             double          window)
{
  PftRateLimiterHeld held;
  gboolean changed;
  gint64 window_us;

  GError *error = NULL;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  _pft_limit_check_window (window, &error);
  if (!_pft_limit_ok_or_critical (G_STRFUNC, error))
    return;

  window_us = MAX (1, (gint64) llround (window * G_USEC_PER_SEC));

  _pft_rate_limiter_lock (self, &held);
  changed = self->window != window;
  self->window = window;
  if (self->limits.window_us != window_us)
    {
      self->limits.window_us = window_us;
      _pft_rate_limiter_reconfigure_locked (self, &held);
    }
  _pft_rate_limiter_unlock (self, &held);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WINDOW]);
}

/**
 * pft_rate_limiter_get_max_cost_per_window:
 * @self: a limiter
 *
 * Gets the cost limit per window,
 * [property@Pft.RateLimiter:max-cost-per-window].
 *
 * Returns: how much cost may be admitted in any window, or 0 for no limit
 *
 * Since: 0.1
 */
guint64
pft_rate_limiter_get_max_cost_per_window (PftRateLimiter *self)
{
  guint64 v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->limits.max_cost;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_set_max_cost_per_window:
 * @self: a limiter
 * @max_cost: how much cost (for example tokens) may be admitted in any
 *   window of [property@Pft.RateLimiter:window] seconds, or 0 for no limit
 *
 * Sets [property@Pft.RateLimiter:max-cost-per-window]; takes effect at
 * once and keeps the costs already counted. Waiters whose cost is above
 * the new limit fail with [error@Pft.Error.INVALID_ARGUMENT].
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_max_cost_per_window (PftRateLimiter *self,
                                          guint64         max_cost)
{
  PftRateLimiterHeld held;
  gboolean changed;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));

  _pft_rate_limiter_lock (self, &held);
  changed = self->limits.max_cost != max_cost;
  self->limits.max_cost = max_cost;
  if (changed)
    {
      _pft_rate_limiter_fail_costly_locked (self, &held);
      _pft_rate_limiter_reconfigure_locked (self, &held);
    }
  _pft_rate_limiter_unlock (self, &held);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_COST_PER_WINDOW]);
}

/**
 * pft_rate_limiter_get_mode:
 * @self: a limiter
 *
 * Gets the admission mode, [property@Pft.RateLimiter:mode].
 *
 * Returns: how the window limits are spread over time
 *
 * Since: 0.1
 */
PftLimiterMode
pft_rate_limiter_get_mode (PftRateLimiter *self)
{
  PftLimiterMode v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), PFT_LIMITER_MODE_SLIDING_WINDOW);

  g_mutex_lock (&self->mutex);
  v = self->limits.mode;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_set_mode:
 * @self: a limiter
 * @mode: the new mode
 *
 * Sets [property@Pft.RateLimiter:mode]. Switching to smooth pacing goes on
 * from the last admission (no fresh burst); switching back keeps the
 * window's history.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_mode (PftRateLimiter *self,
                           PftLimiterMode  mode)
{
  PftRateLimiterHeld held;
  gboolean changed;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  g_return_if_fail (mode == PFT_LIMITER_MODE_SLIDING_WINDOW || mode == PFT_LIMITER_MODE_SMOOTH);

  _pft_rate_limiter_lock (self, &held);
  changed = self->limits.mode != mode;
  self->limits.mode = mode;
  if (changed)
    _pft_rate_limiter_reconfigure_locked (self, &held);
  _pft_rate_limiter_unlock (self, &held);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODE]);
}

/**
 * pft_rate_limiter_get_burst:
 * @self: a limiter
 *
 * Gets the burst size of the smooth mode, [property@Pft.RateLimiter:burst].
 *
 * Returns: how many requests smooth mode admits back to back
 *
 * Since: 0.1
 */
guint
pft_rate_limiter_get_burst (PftRateLimiter *self)
{
  guint v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 1);

  g_mutex_lock (&self->mutex);
  v = self->limits.burst;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_set_burst:
 * @self: a limiter
 * @burst: how many requests smooth mode admits back to back, at least 1
 *
 * Sets [property@Pft.RateLimiter:burst].
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_burst (PftRateLimiter *self,
                            guint           burst)
{
  PftRateLimiterHeld held;
  gboolean changed;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  PFT_LIMIT_RETURN_IF_BAD_UINT ("burst", burst);

  _pft_rate_limiter_lock (self, &held);
  changed = self->limits.burst != burst;
  self->limits.burst = burst;
  if (changed)
    _pft_rate_limiter_reconfigure_locked (self, &held);
  _pft_rate_limiter_unlock (self, &held);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BURST]);
}

/* ------------------------------------------------------------------ */
/* Private */

void
_pft_rate_limiter_set_clock (PftRateLimiter *self,
                             PftClock       *clock)
{
  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  g_return_if_fail (clock != NULL);

  g_mutex_lock (&self->mutex);
  g_warn_if_fail (self->waiters.length == 0);
  g_clear_pointer (&self->timer, _pft_clock_timer_free);
  self->timer_deadline = -1;
  _pft_clock_unref (self->clock);
  self->clock = _pft_clock_ref (clock);
  g_mutex_unlock (&self->mutex);
}

void
_pft_rate_limiter_set_admission (PftRateLimiter *self,
                                 PftAdmission   *admission)
{
  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  g_return_if_fail (admission != NULL);

  g_mutex_lock (&self->mutex);
  g_warn_if_fail (self->waiters.length == 0 && self->in_flight == 0);
  self->admission->vtable->free (self->admission);
  self->admission = admission;
  admission->vtable->configure (admission, &self->limits, _pft_rate_limiter_now_locked (self));
  g_mutex_unlock (&self->mutex);
}
