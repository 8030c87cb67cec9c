/* pft-rate-limiter.c: admission control for rate-limited APIs
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>

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
GParamSpec *_pft_rate_limiter_pspecs[PFT_RATE_LIMITER_N_PSPECS];
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

  /* Notified from the limiter's other files. */
  for (guint i = 0; i < PFT_RATE_LIMITER_N_PSPECS; i++)
    _pft_rate_limiter_pspecs[i] = properties[PROP_MAX_CONCURRENT + i];
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

/* ------------------------------------------------------------------ */
/* Acquire: over the core in pft-rate-limiter-queue.c */

/**
 * pft_rate_limiter_try_acquire:
 * @self: a limiter
 * @cost: the request's cost counted against
 *   [property@Pft.RateLimiter:max-cost-per-window] (for example estimated
 *   tokens), or 0 to count the request only
 * @error: return location for a #GError
 *
 * Takes a permit if one can be granted right now, without waiting: a
 * concurrency slot is free, the window has room for one request and @cost,
 * no pause is running, and nobody is waiting already (waiters are served
 * first come, first served).
 *
 * Returns: (transfer full) (nullable): a permit, or %NULL with no error
 *   set when the caller would have to wait, or %NULL with
 *   [error@Pft.Error.INVALID_ARGUMENT] when @cost exceeds
 *   [property@Pft.RateLimiter:max-cost-per-window] (it could never go)
 *
 * Since: 0.1
 */
PftPermit *
pft_rate_limiter_try_acquire (PftRateLimiter  *self,
                              guint64          cost,
                              GError         **error)
{
  guint64 entry;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* The caller has it now: the request counts from now. */
  if (!_pft_rate_limiter_acquire_full (self, cost, PFT_ACQUIRE_STARTED, NULL, NULL, NULL, NULL,
                                       &entry, error))
    return NULL;
  return _pft_permit_new (self, cost, entry);
}

static void
pft_rate_limiter_acquire_async_done (gpointer  user_data,
                                     guint64   entry,
                                     GError   *error)
{
  GTask *task = user_data;
  PftRateLimiter *self = g_task_get_source_object (task);
  PftPermit *permit;

  if (error != NULL)
    g_task_return_error (task, error);
  else
    {
      gpointer data = g_task_get_task_data (task);
      guint64 cost = sizeof (gpointer) >= sizeof (guint64) ? (guint64) GPOINTER_TO_SIZE (data)
                                                           : *(guint64 *) data;

      permit = _pft_permit_new (self, cost, entry);
      /* The callback runs now: count the request from here. */
      _pft_permit_start (permit);
      g_task_return_pointer (task, permit, g_object_unref);
    }
  g_object_unref (task);
}

/**
 * pft_rate_limiter_acquire_async:
 * @self: a limiter
 * @cost: the request's cost counted against
 *   [property@Pft.RateLimiter:max-cost-per-window] (for example estimated
 *   tokens), or 0 to count the request only
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the permit is granted, or on error
 * @user_data: data for @callback
 *
 * Waits, without blocking, for a permit: until a concurrency slot is free
 * and the window has room for one request and @cost, after every earlier
 * waiter (first come, first served) and after any pause. @callback runs on
 * the thread-default main context of the caller of this function, never
 * before it returns.
 *
 * Cancelling @cancellable takes the waiter out of the queue at once,
 * counts nothing, and lets the next waiter go; the callback then gets
 * `G_IO_ERROR_CANCELLED`.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_acquire_async (PftRateLimiter      *self,
                                guint64              cost,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pft_rate_limiter_acquire_async);
  /* The cost, for the permit: in the pointer itself where it fits (an
   * allocation per acquire shows in the benchmarks). */
  if (sizeof (gpointer) >= sizeof (guint64))
    g_task_set_task_data (task, GSIZE_TO_POINTER ((gsize) cost), NULL);
  else
    g_task_set_task_data (task, g_memdup2 (&cost, sizeof cost), g_free);

  /* Every outcome comes back on the task's context (the caller's
   * thread-default one), even an immediate grant; the task is the
   * callback's. */
  _pft_rate_limiter_acquire_full (self, cost, PFT_ACQUIRE_DEFERRED, cancellable,
                                  g_task_get_context (task), pft_rate_limiter_acquire_async_done,
                                  task, NULL, NULL);
}

/**
 * pft_rate_limiter_acquire_finish:
 * @self: a limiter
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Pft.RateLimiter.acquire_async].
 *
 * Returns: (transfer full): the permit, or %NULL with `G_IO_ERROR_CANCELLED`
 *   or [error@Pft.Error.INVALID_ARGUMENT] (a cost above
 *   [property@Pft.RateLimiter:max-cost-per-window], also when the limit
 *   was lowered while waiting)
 *
 * Since: 0.1
 */
PftPermit *
pft_rate_limiter_acquire_finish (PftRateLimiter  *self,
                                 GAsyncResult    *result,
                                 GError         **error)
{
  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pft_rate_limiter_acquire_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* A blocking caller, woken by its waiter's func. */
typedef struct
{
  GMutex   mutex;
  GCond    cond;
  gboolean done;
  guint64  entry;
  GError  *error;
} PftRateLimiterBlocking;

static void
pft_rate_limiter_blocking_done (gpointer  user_data,
                                guint64   entry,
                                GError   *error)
{
  PftRateLimiterBlocking *b = user_data;

  g_mutex_lock (&b->mutex);
  b->entry = entry;
  b->error = error;
  b->done = TRUE;
  g_cond_signal (&b->cond);
  g_mutex_unlock (&b->mutex);
}

/**
 * pft_rate_limiter_acquire:
 * @self: a limiter
 * @cost: the request's cost counted against
 *   [property@Pft.RateLimiter:max-cost-per-window] (for example estimated
 *   tokens), or 0 to count the request only
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Blocks the calling thread until a permit is granted, with the same
 * rules as [method@Pft.RateLimiter.acquire_async]. Meant for worker
 * threads: it does not iterate any main context.
 *
 * Returns: (transfer full): the permit, or %NULL with `G_IO_ERROR_CANCELLED`
 *   or [error@Pft.Error.INVALID_ARGUMENT] (a cost above
 *   [property@Pft.RateLimiter:max-cost-per-window])
 *
 * Since: 0.1
 */
PftPermit *
pft_rate_limiter_acquire (PftRateLimiter  *self,
                          guint64          cost,
                          GCancellable    *cancellable,
                          GError         **error)
{
  PftRateLimiterBlocking b = { 0, };
  GError *local_error = NULL;
  guint64 entry;
  PftPermit *permit;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  g_mutex_init (&b.mutex);
  g_cond_init (&b.cond);
  if (_pft_rate_limiter_acquire_full (self, cost, PFT_ACQUIRE_STARTED, cancellable, NULL,
                                      pft_rate_limiter_blocking_done, &b, &entry, &local_error))
    permit = _pft_permit_new (self, cost, entry);
  else if (local_error != NULL)
    permit = NULL;
  else
    {
      /* The waiter's func runs in the thread that grants or cancels it
       * (maybe this one, already). */
      g_mutex_lock (&b.mutex);
      while (!b.done)
        g_cond_wait (&b.cond, &b.mutex);
      g_mutex_unlock (&b.mutex);
      local_error = b.error;
      permit = NULL;
      if (local_error == NULL)
        {
          permit = _pft_permit_new (self, cost, b.entry);
          /* The thread runs again now: count the request from here. */
          _pft_permit_start (permit);
        }
    }
  g_mutex_clear (&b.mutex);
  g_cond_clear (&b.cond);
  if (local_error != NULL)
    g_propagate_error (error, local_error);
  return permit;
}

/* ------------------------------------------------------------------ */
/* Pause and reset */

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
