/* pft-rate-limiter-acquire.c: the public ways to take a permit, over the
 * acquire core (pft-rate-limiter-queue.c)
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-rate-limiter-private.h"

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

/* The dispatcher's slot wait, until it calls the core itself. */
void
_pft_rate_limiter_acquire_slot_async (PftRateLimiter   *self,
                                      guint64           cost,
                                      GCancellable     *cancellable,
                                      PftSlotReadyFunc  callback,
                                      gpointer          user_data)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();

  _pft_rate_limiter_acquire_full (self, cost, PFT_ACQUIRE_DEFERRED, cancellable, context,
                                  callback, user_data, NULL, NULL);
}
