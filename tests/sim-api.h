/* sim-api.h: an in-process API with hidden limits, for the adaptive tests
 * and benchmarks
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <pft.h>

#include "pft-clock-private.h"

G_BEGIN_DECLS

/* A provider that answers rate-limit errors beyond a hidden concurrency
 * limit (no retry-after: there is nothing to wait for but a free slot) or
 * beyond a hidden number of calls per sliding window (with a retry-after:
 * when the oldest call leaves the window). Calls take duration_ms on the
 * caller's main context, on real time, or on @clock when it is set (a
 * fake clock: see sim_run_on_clock()). Thread-safe. */
typedef struct
{
  guint   hidden_concurrency;  /* 0: none */
  guint   hidden_rate;         /* calls per window, 0: none */
  double  window;              /* seconds */
  guint   duration_ms;
  guint   fail_first;          /* the first calls answer 429 (retry-after 10 ms) */
  PftClock *clock;             /* NULL: real time */

  GMutex  mutex;
  guint   in_flight;
  guint   max_in_flight;
  guint64 calls;
  guint64 rate_limited;
  guint64 served;
  GQueue  stamps;              /* gint64 µs of accepted calls, in the window */
} SimApi;

void     sim_api_init        (SimApi       *api);
void     sim_api_clear       (SimApi       *api);
void     sim_api_call_async  (SimApi       *api,
                              GMainContext *context,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer      user_data);
gboolean sim_api_call_finish (GAsyncResult *result,
                              GError      **error);

/* Batch nodes whose exec_async calls the API with each item, and return
 * the item. prep reads the PftValues at the store key "items"; post puts
 * the results at "results". */
#define SIM_TYPE_THROTTLED_NODE (sim_throttled_node_get_type ())
G_DECLARE_FINAL_TYPE (SimThrottledNode, sim_throttled_node, SIM, THROTTLED_NODE, PftThrottledBatchNode)

#define SIM_TYPE_ADAPTIVE_NODE (sim_adaptive_node_get_type ())
G_DECLARE_FINAL_TYPE (SimAdaptiveNode, sim_adaptive_node, SIM, ADAPTIVE_NODE, PftAdaptiveNode)

PftNode *sim_throttled_node_new (SimApi *api);
PftNode *sim_adaptive_node_new  (SimApi *api);

/* Concurrency seen from inside exec (across all nodes using the probe). */
typedef struct
{
  gint            in_flight;
  gint            max_in_flight;
  PftRateLimiter *limiter;      /* if set: how far above its max-concurrent execs started */
  gint            violations;   /* execs that started above it */
  gint            max_excess;   /* the most above it */
} SimProbe;

void     sim_node_set_probe  (PftNode  *node,
                              SimProbe *probe);
/* Record the adaptive node's current-concurrent at each item (min/max). */
typedef struct
{
  guint min_seen;
  guint max_seen;
  guint last;
  guint grew_after_backoff;   /* TRUE once it grew after having backed off */
} SimTrace;

void     sim_node_set_trace  (PftNode  *node,
                              SimTrace *trace);

/* Runs @node on @clock, a fake clock that @node's limiter and its API
 * also use: drains the main context, then moves the clock to the next
 * deadline, until the run is over. Everything runs in this thread, so a
 * run's outcome is exact. Fails the test if the run waits for nothing
 * on the clock. */
char    *sim_run_on_clock    (PftNode  *node,
                              PftStore *store,
                              PftClock *clock,
                              GError  **error);

G_END_DECLS
