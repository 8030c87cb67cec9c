/* pft-rate-limiter-limits.c: reading and changing a limiter's limits while
 * it runs
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>

#include "pft-rate-limiter-queue-private.h"

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
    g_object_notify_by_pspec ((GObject *) self, _pft_rate_limiter_pspecs[PFT_RATE_LIMITER_PSPEC_MAX_CONCURRENT]);
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
    g_object_notify_by_pspec ((GObject *) self, _pft_rate_limiter_pspecs[PFT_RATE_LIMITER_PSPEC_MAX_PER_WINDOW]);
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
    g_object_notify_by_pspec ((GObject *) self, _pft_rate_limiter_pspecs[PFT_RATE_LIMITER_PSPEC_WINDOW]);
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
    g_object_notify_by_pspec ((GObject *) self, _pft_rate_limiter_pspecs[PFT_RATE_LIMITER_PSPEC_MAX_COST_PER_WINDOW]);
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
    g_object_notify_by_pspec ((GObject *) self, _pft_rate_limiter_pspecs[PFT_RATE_LIMITER_PSPEC_MODE]);
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
    g_object_notify_by_pspec ((GObject *) self, _pft_rate_limiter_pspecs[PFT_RATE_LIMITER_PSPEC_BURST]);
}
