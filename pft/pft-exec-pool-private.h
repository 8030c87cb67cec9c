/* pft-exec-pool-private.h: the worker threads of THREAD execs
 *
 * A queue of jobs drained by a self-sizing set of workers: as many as
 * processors for trivial jobs, more when the running ones are blocked (a
 * sleep, I/O), fewer for jobs that all hold one lock (Python's GIL).
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PftExecPool PftExecPool;
typedef struct _PftExecPoolJob PftExecPoolJob;

/* Runs in a worker; may free @job. */
typedef void (*PftExecPoolJobFunc) (PftExecPoolJob *job);

/* Embedded in the caller's own struct. */
struct _PftExecPoolJob
{
  PftExecPoolJobFunc  run;        /* set by the caller */
  /* Set by the caller: the job holds one lock with every other such job
   * (Python's GIL), so more workers than one only contend for it. */
  gboolean            serialised;
  PftExecPoolJob     *next;       /* private: in the queue */
  gint64              queued_at;  /* private: monotonic */
};

/* Never more workers than this: the dispatchers bound how many execs run
 * at once; this bound only protects against an unbounded batch. */
#define PFT_EXEC_POOL_MAX_THREADS 512

/* The pool of the library, created on first use, never freed. */
PftExecPool *_pft_exec_pool_get_default (void);

/* A pool of its own, for tests: @base_size workers when idle (0: as many
 * as processors). */
PftExecPool *_pft_exec_pool_new         (guint           base_size);
/* Waits until every job pushed has run, then stops the watchdog and the
 * workers. No push may come meanwhile. */
void         _pft_exec_pool_free        (PftExecPool    *pool);

void         _pft_exec_pool_push        (PftExecPool    *pool,
                                         PftExecPoolJob *job);

/* How many workers may drain now (grown by the watchdog, shrunk back
 * once idle), and the size the pool goes back to. */
guint        _pft_exec_pool_get_size      (PftExecPool  *pool);
guint        _pft_exec_pool_get_base_size (PftExecPool  *pool);

/* What the watchdog remembers between its ticks, to tell workers blocked
 * in a sleep or I/O (grow the pool) from workers that compute or contend
 * for one lock (do not). */
#define PFT_EXEC_BLOCKED_US    200
#define PFT_EXEC_STUCK_US      2000
#define PFT_EXEC_BLOCKED_TICKS 3

typedef struct
{
  gint64 at;
  gint64 cpu;
  guint  finished;
  guint  blocked;   /* consecutive ticks that looked blocked */
  gint64 streak_at; /* where they began */
  guint  streak_finished;
} PftExecTick;

/* One tick of the watchdog's judgement: TRUE when the workers of a pool
 * of @size looked blocked for PFT_EXEC_BLOCKED_TICKS ticks in a row. @now
 * and @cpu (the process's CPU time, -1 if unknown) are in microseconds,
 * @finished counts the jobs ever finished. */
gboolean  _pft_exec_tick_update (PftExecTick *tick,
                                 gint64       now,
                                 gint64       cpu,
                                 guint        finished,
                                 guint        size);

G_END_DECLS
