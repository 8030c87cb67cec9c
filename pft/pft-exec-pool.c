/* pft-exec-pool.c: the worker threads of THREAD execs
 *
 * SPDX-License-Identifier: MIT
 */

#include <time.h>

#include "pft-exec-pool-private.h"

/* Why a pool of its own, and how it sizes itself: "Design notes: the
 * exec engine" in docs/throttling.md. */
#define PFT_EXEC_POOL_TICK_US      2000
#define PFT_EXEC_POOL_SHRINK_US    (2 * G_USEC_PER_SEC)
#define PFT_EXEC_POOL_SPIN_US      50
#define PFT_EXEC_POOL_MAX_WAIT_US  2000
#define PFT_EXEC_POOL_PROBATION_US (8 * PFT_EXEC_POOL_TICK_US)

struct _PftExecPool
{
  GMutex          lock;
  PftExecPoolJob *head;             /* the queue, under @lock */
  PftExecPoolJob *tail;
  guint           drainers;         /* awake workers, under @lock */
  guint           searching;        /* of which not in a job */
  guint           drainers_max;     /* under @lock */
  guint           base;             /* set once */
  guint           not_serialised;   /* queued or running jobs that are not
                                     * serialised, under @lock */
  gint            queued;           /* atomic mirror of the queue's length */
  guint           pushed;           /* atomic counters for the watchdog */
  guint           started;
  guint           finished;
  gint            watch_idle;       /* atomic: the watchdog waits for work */
  gint            stopping;         /* atomic: _pft_exec_pool_free() */
  GMutex          watch_lock;
  GCond           watch_cond;
  GThreadPool    *threads;
  GThread        *watch;
};

static PftExecPool *pft_exec_pool_default;

/* Under @lock. While every job queued or running is serialised, one
 * worker fewer than the base (plus what the watchdog added for blocked
 * jobs): they run one at a time anyway, and each job would cost a hand-off
 * of their lock (a futex wake) between the workers. */
static guint
pft_exec_pool_drain_max (PftExecPool *pool)
{
  if (pool->not_serialised > 0)
    return pool->drainers_max;
  return pool->drainers_max > pool->base ? pool->drainers_max - pool->base + 1 : 1;
}

/* Under @lock. */
static PftExecPoolJob *
pft_exec_pool_pop (PftExecPool *pool)
{
  PftExecPoolJob *job = pool->head;

  if (job != NULL)
    {
      pool->head = job->next;
      if (pool->head == NULL)
        pool->tail = NULL;
      job->next = NULL;
      g_atomic_int_add (&pool->queued, -1);
      g_atomic_int_inc (&pool->started);
    }
  return job;
}

static void
pft_exec_pool_drain (gpointer data,
                     gpointer pool_data)
{
  PftExecPool *pool = pool_data;

  /* Woken by a push, which counted us as a searching drainer. */
  g_mutex_lock (&pool->lock);
  for (;;)
    {
      PftExecPoolJob *job = NULL;

      if (pool->drainers <= pft_exec_pool_drain_max (pool))
        job = pft_exec_pool_pop (pool);
      if (job != NULL)
        {
          gboolean serialised = job->serialised;   /* @job may be freed by its run */

          pool->searching--;
          g_mutex_unlock (&pool->lock);
          job->run (job);
          g_atomic_int_inc (&pool->finished);
          g_mutex_lock (&pool->lock);
          if (!serialised)
            pool->not_serialised--;
          pool->searching++;
          continue;
        }
      if (pool->drainers <= pft_exec_pool_drain_max (pool) && pool->searching == 1)
        {
          /* The last searcher waits a little for the next job rather than
           * have the next push wake a thread. */
          gint64 until = g_get_monotonic_time () + PFT_EXEC_POOL_SPIN_US;

          g_mutex_unlock (&pool->lock);
          while (g_atomic_int_get (&pool->queued) == 0 && g_get_monotonic_time () < until)
            g_thread_yield ();
          g_mutex_lock (&pool->lock);
          if (pool->head != NULL)
            continue;
        }
      pool->searching--;
      pool->drainers--;
      g_mutex_unlock (&pool->lock);
      return;
    }
}

/* Under @lock; returns how many workers to wake. */
static guint
pft_exec_pool_wake_count (PftExecPool *pool)
{
  guint queued = g_atomic_int_get (&pool->queued);
  guint max = pft_exec_pool_drain_max (pool);
  guint n = 0;

  while (n < queued && pool->drainers < max && pool->searching < queued)
    {
      pool->drainers++;
      pool->searching++;
      n++;
    }
  return n;
}

static void
pft_exec_pool_wake (PftExecPool *pool,
                    guint        n)
{
  for (; n > 0; n--)
    if (!g_thread_pool_push (pool->threads, GINT_TO_POINTER (1), NULL))
      {
        /* No thread: the queued work stays for the drainers there are,
         * and the watchdog tries again at its next tick. */
        g_mutex_lock (&pool->lock);
        pool->drainers -= n;
        pool->searching -= n;
        g_mutex_unlock (&pool->lock);
        return;
      }
}

/* CPU time of the whole process, in microseconds; -1 where unknown. */
static gint64
pft_exec_pool_process_cpu_us (void)
{
#ifdef CLOCK_PROCESS_CPUTIME_ID
  struct timespec ts;

  if (clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
    return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
#endif
  return -1;
}

static void
pft_exec_pool_tick_start (PftExecPool *pool,
                          PftExecTick *tick,
                          gint64       now)
{
  tick->at = now;
  tick->cpu = pft_exec_pool_process_cpu_us ();
  tick->finished = g_atomic_int_get (&pool->finished);
  tick->blocked = 0;
}

/* Blocked: each worker finished less than one job per PFT_EXEC_BLOCKED_US
 * while the process kept less than a quarter of a core busy, or less than
 * one per PFT_EXEC_STUCK_US whatever the CPU did (valgrind, or a busy main
 * thread, keep the process busy while the workers sleep). Workers that
 * finish jobs quickly compute or wait for a lock one of them holds: more
 * threads would only contend. */
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

/* A growth of the pool on probation: kept if the jobs finish faster for
 * it, else undone, and the pool holds its size for a while. Contention
 * that looked like blocking does not feed on itself. */
typedef struct
{
  guint  from;         /* the size before, 0: none on probation */
  gint64 at;
  gint64 mid_at;       /* the rate after is measured from here (new
                        * threads need a while to finish their first job) */
  guint  mid_finished;
  double rate;         /* the rate before, while the workers looked blocked */
  gint64 hold_until;
} PftExecPoolGrowth;

/* Sleeps until there is work or the pool stops; FALSE when it stops. */
static gboolean
pft_exec_pool_watch_wait (PftExecPool *pool)
{
  gboolean running;

  g_mutex_lock (&pool->watch_lock);
  g_atomic_int_set (&pool->watch_idle, 1);
  while (g_atomic_int_get (&pool->pushed) == g_atomic_int_get (&pool->started) &&
         !g_atomic_int_get (&pool->stopping))
    g_cond_wait (&pool->watch_cond, &pool->watch_lock);
  g_atomic_int_set (&pool->watch_idle, 0);
  running = !g_atomic_int_get (&pool->stopping);
  g_mutex_unlock (&pool->watch_lock);
  return running;
}

static gpointer
pft_exec_pool_watch_run (gpointer data)
{
  PftExecPool *pool = data;
  guint base = pool->base;
  guint window_peak = 0;
  gint64 window_start = g_get_monotonic_time ();
  PftExecTick tick = { 0, };
  PftExecPoolGrowth growth = { 0, };

  pft_exec_pool_tick_start (pool, &tick, window_start);

  while (!g_atomic_int_get (&pool->stopping))
    {
      guint started = g_atomic_int_get (&pool->started);
      guint queued = g_atomic_int_get (&pool->pushed) - started;
      guint running = started - g_atomic_int_get (&pool->finished);
      gint64 now = g_get_monotonic_time ();
      gboolean blocked;
      gint64 oldest;
      guint size, wake = 0;

      g_mutex_lock (&pool->lock);
      size = pool->drainers_max;
      oldest = pool->head != NULL ? pool->head->queued_at : now;
      g_mutex_unlock (&pool->lock);
      blocked = _pft_exec_tick_update (&tick, now, pft_exec_pool_process_cpu_us (),
                                       g_atomic_int_get (&pool->finished), size);

      if (queued == 0 && running == 0 && size == base)
        {
          if (!pft_exec_pool_watch_wait (pool))
            break;
          window_peak = 0;
          window_start = g_get_monotonic_time ();
          pft_exec_pool_tick_start (pool, &tick, window_start);
          growth = (PftExecPoolGrowth) { 0, };
          continue;
        }

      if (queued > 0)
        {
          g_mutex_lock (&pool->lock);
          wake = pool->searching == 0 ? pft_exec_pool_wake_count (pool) : 0;
          g_mutex_unlock (&pool->lock);
          pft_exec_pool_wake (pool, wake);
        }

      if (growth.from != 0 && growth.mid_at == 0 && now - growth.at >= PFT_EXEC_POOL_PROBATION_US / 2)
        {
          growth.mid_at = now;
          growth.mid_finished = g_atomic_int_get (&pool->finished);
        }
      else if (growth.from != 0 && growth.mid_at != 0 && now - growth.at >= PFT_EXEC_POOL_PROBATION_US)
        {
          double rate = (double) (g_atomic_int_get (&pool->finished) - growth.mid_finished) / (now - growth.mid_at);

          if (rate < growth.rate * 1.25)
            {
              g_mutex_lock (&pool->lock);
              pool->drainers_max = MAX (growth.from, base);
              g_mutex_unlock (&pool->lock);
              growth.hold_until = now + 4 * PFT_EXEC_POOL_PROBATION_US;
            }
          growth.from = 0;
        }

      if (now - oldest >= PFT_EXEC_POOL_MAX_WAIT_US && size < PFT_EXEC_POOL_MAX_THREADS &&
          size < running + queued && blocked && growth.from == 0 && now >= growth.hold_until)
        {
          /* Queued work waited while every worker was busy, blocked, not
           * computing. */
          g_mutex_lock (&pool->lock);
          pool->drainers_max = MIN (MIN (size * 2, running + queued), PFT_EXEC_POOL_MAX_THREADS);
          tick.blocked = 0;
          wake = pft_exec_pool_wake_count (pool);
          g_mutex_unlock (&pool->lock);
          pft_exec_pool_wake (pool, wake);
          growth.from = size;
          growth.at = now;
          growth.mid_at = 0;
          growth.rate = now > tick.streak_at ?
            (double) (g_atomic_int_get (&pool->finished) - tick.streak_finished) / (now - tick.streak_at) : 0;
          window_peak = 0;
          window_start = now;
        }

      window_peak = MAX (window_peak, running + queued);
      if (now - window_start >= PFT_EXEC_POOL_SHRINK_US)
        {
          g_mutex_lock (&pool->lock);
          pool->drainers_max = CLAMP (window_peak, base, pool->drainers_max);
          g_mutex_unlock (&pool->lock);
          window_peak = 0;
          window_start = now;
        }

      g_usleep (PFT_EXEC_POOL_TICK_US);
    }
  return NULL;
}

PftExecPool *
_pft_exec_pool_new (guint base_size)
{
  PftExecPool *pool = g_new0 (PftExecPool, 1);

  if (base_size == 0)
    base_size = g_get_num_processors ();
  g_mutex_init (&pool->lock);
  g_mutex_init (&pool->watch_lock);
  g_cond_init (&pool->watch_cond);
  pool->drainers_max = pool->base = CLAMP (base_size, 2, PFT_EXEC_POOL_MAX_THREADS);
  pool->threads = g_thread_pool_new (pft_exec_pool_drain, pool, PFT_EXEC_POOL_MAX_THREADS, FALSE, NULL);
  pool->watch = g_thread_new ("pft-exec-watch", pft_exec_pool_watch_run, pool);
  return pool;
}

PftExecPool *
_pft_exec_pool_get_default (void)
{
  static gsize inited;

  if (g_once_init_enter (&inited))
    {
      pft_exec_pool_default = _pft_exec_pool_new (0);
      g_once_init_leave (&inited, 1);
    }
  return pft_exec_pool_default;
}

void
_pft_exec_pool_free (PftExecPool *pool)
{
  g_return_if_fail (pool != NULL);
  g_return_if_fail (pool != pft_exec_pool_default);

  /* The watchdog keeps waking workers meanwhile (a wake may have failed). */
  while (g_atomic_int_get (&pool->finished) != g_atomic_int_get (&pool->pushed))
    g_usleep (1000);
  g_mutex_lock (&pool->watch_lock);
  g_atomic_int_set (&pool->stopping, 1);
  g_cond_signal (&pool->watch_cond);
  g_mutex_unlock (&pool->watch_lock);
  g_thread_join (pool->watch);
  /* Waits for the workers still spinning for a next job. */
  g_thread_pool_free (pool->threads, FALSE, TRUE);
  g_warn_if_fail (pool->head == NULL);
  g_mutex_clear (&pool->lock);
  g_mutex_clear (&pool->watch_lock);
  g_cond_clear (&pool->watch_cond);
  g_free (pool);
}

void
_pft_exec_pool_push (PftExecPool    *pool,
                     PftExecPoolJob *job)
{
  guint wake;

  g_mutex_lock (&pool->lock);
  job->next = NULL;
  job->queued_at = g_get_monotonic_time ();
  if (pool->tail != NULL)
    pool->tail->next = job;
  else
    pool->head = job;
  pool->tail = job;
  if (!job->serialised)
    pool->not_serialised++;
  g_atomic_int_inc (&pool->queued);
  g_atomic_int_inc (&pool->pushed);
  wake = pool->searching == 0 ? pft_exec_pool_wake_count (pool) : 0;
  g_mutex_unlock (&pool->lock);
  pft_exec_pool_wake (pool, wake);

  if (G_UNLIKELY (g_atomic_int_get (&pool->watch_idle)))
    {
      g_mutex_lock (&pool->watch_lock);
      g_cond_signal (&pool->watch_cond);
      g_mutex_unlock (&pool->watch_lock);
    }
}

guint
_pft_exec_pool_get_size (PftExecPool *pool)
{
  guint size;

  g_mutex_lock (&pool->lock);
  size = pool->drainers_max;
  g_mutex_unlock (&pool->lock);
  return size;
}

guint
_pft_exec_pool_get_base_size (PftExecPool *pool)
{
  return pool->base;
}
