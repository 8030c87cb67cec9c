/* pft-rate-limiter-stats.c: reading a limiter's use
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-enums.h"
#include "pft-rate-limiter-queue-private.h"

/**
 * pft_rate_limiter_get_in_flight:
 * @self: a limiter
 *
 * Gets the number of permits granted and not released yet. A snapshot:
 * other threads may change it as soon as it is read.
 *
 * Returns: how many permits are held right now
 *
 * Since: 0.1
 */
guint
pft_rate_limiter_get_in_flight (PftRateLimiter *self)
{
  guint v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->in_flight;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_get_waiting:
 * @self: a limiter
 *
 * Gets the number of callers queued for a permit. A snapshot: other
 * threads may change it as soon as it is read.
 *
 * Returns: how many callers are waiting for a permit right now
 *
 * Since: 0.1
 */
guint
pft_rate_limiter_get_waiting (PftRateLimiter *self)
{
  guint v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->waiters.length;
  g_mutex_unlock (&self->mutex);
  return v;
}

/* The window's use now, read under the lock. */
static void
pft_rate_limiter_stats_usage (PftRateLimiter *self,
                              guint          *count,
                              guint64        *cost)
{
  g_mutex_lock (&self->mutex);
  self->admission->vtable->usage (self->admission, _pft_rate_limiter_now_locked (self), count, cost);
  g_mutex_unlock (&self->mutex);
}

/**
 * pft_rate_limiter_get_window_count:
 * @self: a limiter
 *
 * Gets the number of requests counted in the current window, the figure
 * compared with [property@Pft.RateLimiter:max-per-window].
 *
 * Returns: how many requests started less than
 *   [property@Pft.RateLimiter:window] seconds ago or were granted and have
 *   not started yet (recorded while a window limit is set)
 *
 * Since: 0.1
 */
guint
pft_rate_limiter_get_window_count (PftRateLimiter *self)
{
  guint count;
  guint64 cost;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  pft_rate_limiter_stats_usage (self, &count, &cost);
  return count;
}

/**
 * pft_rate_limiter_get_window_cost:
 * @self: a limiter
 *
 * Gets the cost counted in the current window, the figure compared with
 * [property@Pft.RateLimiter:max-cost-per-window].
 *
 * Returns: the total cost of the requests admitted less than
 *   [property@Pft.RateLimiter:window] seconds ago, settled costs included
 *
 * Since: 0.1
 */
guint64
pft_rate_limiter_get_window_cost (PftRateLimiter *self)
{
  guint count;
  guint64 cost;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  pft_rate_limiter_stats_usage (self, &count, &cost);
  return cost;
}

/**
 * pft_rate_limiter_get_total_admitted:
 * @self: a limiter
 *
 * Gets the number of permits granted over the limiter's life; a counter
 * for statistics that is never reset.
 *
 * Returns: how many permits were granted since the limiter was created
 *
 * Since: 0.1
 */
guint64
pft_rate_limiter_get_total_admitted (PftRateLimiter *self)
{
  guint64 v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->total_admitted;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_get_total_pauses:
 * @self: a limiter
 *
 * Gets the number of times a retry-after paused the limiter (see
 * [method@Pft.RateLimiter.pause]); a counter for statistics.
 *
 * Returns: how many pauses were started or extended
 *
 * Since: 0.1
 */
guint64
pft_rate_limiter_get_total_pauses (PftRateLimiter *self)
{
  guint64 v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->total_pauses;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_get_paused_for:
 * @self: a limiter
 *
 * Gets the time left before a pause set by a retry-after ends and
 * admissions resume.
 *
 * Returns: the seconds left in the current pause, or 0 when not paused
 *
 * Since: 0.1
 */
double
pft_rate_limiter_get_paused_for (PftRateLimiter *self)
{
  gint64 left;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  left = self->admission->vtable->paused_until (self->admission) - _pft_rate_limiter_now_locked (self);
  g_mutex_unlock (&self->mutex);
  return left > 0 ? (double) left / G_USEC_PER_SEC : 0.0;
}

/**
 * pft_rate_limiter_dup_stats:
 * @self: a limiter
 *
 * Takes a snapshot of the limiter's limits and use, all read at one
 * instant under the limiter's lock (the separate getters may each see a
 * different moment), as a dictionary (`a{sv}`) with these keys:
 *
 * - `max_concurrent` (`u`): [property@Pft.RateLimiter:max-concurrent]
 * - `max_per_window` (`u`): [property@Pft.RateLimiter:max-per-window],
 *   0 for no limit
 * - `window` (`d`): [property@Pft.RateLimiter:window], in seconds
 * - `max_cost_per_window` (`t`):
 *   [property@Pft.RateLimiter:max-cost-per-window], 0 for no limit
 * - `mode` (`s`): the nick of [property@Pft.RateLimiter:mode],
 *   `sliding-window` or `smooth`
 * - `burst` (`u`): [property@Pft.RateLimiter:burst]
 * - `in_flight` (`u`): permits held now
 * - `waiting` (`u`): acquires queued now
 * - `window_count` (`u`) and `window_cost` (`t`): the requests and the
 *   cost counted in the current window, as
 *   [method@Pft.RateLimiter.get_window_count] and
 *   [method@Pft.RateLimiter.get_window_cost] give them
 * - `total_admitted` (`t`): permits granted since the limiter was created
 * - `total_pauses` (`t`): pauses started or extended by retry-afters
 * - `paused_for` (`d`): seconds left in the current pause, 0 when not
 *   paused
 *
 * Keys may be added in later versions; none will be removed.
 *
 * Returns: (transfer full): the statistics, a non-floating `a{sv}`
 *
 * Since: 0.1
 */
GVariant *
pft_rate_limiter_dup_stats (PftRateLimiter *self)
{
  g_autoptr(GEnumClass) mode_class = NULL;
  GEnumValue *mode_value;
  GVariantBuilder b;
  PftAdmissionLimits limits;
  guint max_concurrent, in_flight, waiting, window_count;
  guint64 window_cost, total_admitted, total_pauses;
  gint64 now, paused;
  double window;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);

  g_mutex_lock (&self->mutex);
  now = _pft_rate_limiter_now_locked (self);
  if (self->admission->vtable->add_stats != NULL)
    self->admission->vtable->add_stats (self->admission, &b);
  limits = self->limits;
  max_concurrent = self->limits.max_concurrent;
  window = self->window;
  in_flight = self->in_flight;
  waiting = self->waiters.length;
  self->admission->vtable->usage (self->admission, now, &window_count, &window_cost);
  total_admitted = self->total_admitted;
  total_pauses = self->total_pauses;
  paused = self->admission->vtable->paused_until (self->admission) - now;
  g_mutex_unlock (&self->mutex);

  /* Nicks live in the static storage of the registered type. */
  mode_class = g_type_class_ref (PFT_TYPE_LIMITER_MODE);
  mode_value = g_enum_get_value (mode_class, limits.mode);

  g_variant_builder_add (&b, "{sv}", "max_concurrent", g_variant_new_uint32 (max_concurrent));
  g_variant_builder_add (&b, "{sv}", "max_per_window", g_variant_new_uint32 (limits.max_per_window));
  g_variant_builder_add (&b, "{sv}", "window", g_variant_new_double (window));
  g_variant_builder_add (&b, "{sv}", "max_cost_per_window", g_variant_new_uint64 (limits.max_cost));
  g_variant_builder_add (&b, "{sv}", "mode",
                         g_variant_new_string (mode_value != NULL ? mode_value->value_nick : "unknown"));
  g_variant_builder_add (&b, "{sv}", "burst", g_variant_new_uint32 (limits.burst));
  g_variant_builder_add (&b, "{sv}", "in_flight", g_variant_new_uint32 (in_flight));
  g_variant_builder_add (&b, "{sv}", "waiting", g_variant_new_uint32 (waiting));
  g_variant_builder_add (&b, "{sv}", "window_count", g_variant_new_uint32 (window_count));
  g_variant_builder_add (&b, "{sv}", "window_cost", g_variant_new_uint64 (window_cost));
  g_variant_builder_add (&b, "{sv}", "total_admitted", g_variant_new_uint64 (total_admitted));
  g_variant_builder_add (&b, "{sv}", "total_pauses", g_variant_new_uint64 (total_pauses));
  g_variant_builder_add (&b, "{sv}", "paused_for",
                         g_variant_new_double (paused > 0 ? (double) paused / G_USEC_PER_SEC : 0.0));

  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/**
 * pft_rate_limiter_to_string:
 * @self: a limiter
 *
 * Describes the limiter's limits and current use for logs and debugging,
 * in the style of the Python original, for example
 * `RateLimiter(max_concurrent=5, max_per_window=60, window=60s, in_flight=2, waiting=0)`.
 * A limit of 0 (none) reads `None`; the cost limit, smooth mode and a
 * running pause are shown when set.
 *
 * Returns: (transfer full): a new string
 *
 * Since: 0.1
 */
char *
pft_rate_limiter_to_string (PftRateLimiter *self)
{
  GString *s;
  char window[G_ASCII_DTOSTR_BUF_SIZE];
  PftAdmissionLimits limits;
  guint max_concurrent, in_flight, waiting;
  gint64 paused;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);

  g_mutex_lock (&self->mutex);
  limits = self->limits;
  max_concurrent = self->limits.max_concurrent;
  in_flight = self->in_flight;
  waiting = self->waiters.length;
  paused = self->admission->vtable->paused_until (self->admission) - _pft_rate_limiter_now_locked (self);
  g_ascii_formatd (window, sizeof window, "%g", self->window);
  g_mutex_unlock (&self->mutex);

  s = g_string_new ("RateLimiter(");
  g_string_append_printf (s, "max_concurrent=%u, ", max_concurrent);
  if (limits.max_per_window > 0)
    g_string_append_printf (s, "max_per_window=%u, ", limits.max_per_window);
  else
    g_string_append (s, "max_per_window=None, ");
  if (limits.max_cost > 0)
    g_string_append_printf (s, "max_cost_per_window=%" G_GUINT64_FORMAT ", ", limits.max_cost);
  g_string_append_printf (s, "window=%ss, ", window);
  if (limits.mode == PFT_LIMITER_MODE_SMOOTH)
    g_string_append_printf (s, "mode=smooth, burst=%u, ", limits.burst);
  g_string_append_printf (s, "in_flight=%u, waiting=%u", in_flight, waiting);
  if (paused > 0)
    {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      g_string_append_printf (s, ", paused=%ss",
                              g_ascii_formatd (buf, sizeof buf, "%.3g", (double) paused / G_USEC_PER_SEC));
    }
  g_string_append_c (s, ')');
  return g_string_free (s, FALSE);
}
