/* test-hang-watch.c: run() warns about an exec waiting on the global
 * default main context, and only then
 *
 * The run's node has a fake clock; a helper thread moves it while the
 * test's thread is blocked in pft_node_run(), and waits for the watch to
 * re-arm its timer, which it does after each check.
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft.h>

#include "pft-clock-private.h"
#include "pft-node-private.h"
#include "pft-hang-watch-private.h"

#define START_US (1000 * G_USEC_PER_SEC)

/* ------------------------------------------------------------------ */
/* The trap: an exec_async that waits for a timer it attached to the
 * global default context, as Vala's Timeout.add or GJS's setTimeout do. */

#define TRAP_TYPE_NODE (trap_node_get_type ())
G_DECLARE_FINAL_TYPE (TrapNode, trap_node, TRAP, NODE, PftNode)

struct _TrapNode
{
  PftNode              parent_instance;
  gint                 started;   /* atomic */
  guint                timer_id;
  GAsyncReadyCallback  callback;
  gpointer             user_data;
};

G_DEFINE_FINAL_TYPE (TrapNode, trap_node, PFT_TYPE_NODE)

static gboolean
trap_fire (gpointer data)
{
  TrapNode *self = data;
  GTask *task = g_task_new (self, NULL, NULL, NULL);

  /* Completes the exec the way its GTask would have, had the timer
   * fired in time. */
  self->timer_id = 0;
  g_task_return_pointer (task, g_strdup ("fired"), g_free);
  self->callback (G_OBJECT (self), G_ASYNC_RESULT (task), self->user_data);
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

static void
trap_node_exec_async (PftNode             *node,
                      PftContext          *ctx,
                      const GValue        *item,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  TrapNode *self = TRAP_NODE (node);

  self->callback = callback;
  self->user_data = user_data;
  self->timer_id = g_timeout_add (0, trap_fire, self);   /* the global default context */
  g_atomic_int_inc (&self->started);
}

static void
trap_node_exec_finish (PftNode       *node,
                       GAsyncResult  *result,
                       GValue        *value,
                       GError       **error)
{
  char *s = g_task_propagate_pointer (G_TASK (result), error);

  if (s != NULL)
    {
      g_value_init (value, G_TYPE_STRING);
      g_value_take_string (value, s);
    }
}

static void
trap_node_class_init (TrapNodeClass *klass)
{
  PFT_NODE_CLASS (klass)->exec_async = trap_node_exec_async;
  PFT_NODE_CLASS (klass)->exec_finish = trap_node_exec_finish;
}

static void
trap_node_init (TrapNode *self)
{
}

/* ------------------------------------------------------------------ */
/* A long exec in a worker thread, released by the test. */

#define LONG_TYPE_NODE (long_node_get_type ())
G_DECLARE_FINAL_TYPE (LongNode, long_node, LONG, NODE, PftNode)

struct _LongNode
{
  PftNode  parent_instance;
  gint     started;     /* atomic */
  gint     release;     /* atomic */
  guint    low_id;      /* a low-priority timer it left on the default context */
};

G_DEFINE_FINAL_TYPE (LongNode, long_node, PFT_TYPE_NODE)

static gboolean
never_called (gpointer data)
{
  g_assert_not_reached ();
  return G_SOURCE_REMOVE;
}

static void
long_node_exec (PftNode      *node,
                PftContext   *ctx,
                const GValue *item,
                GValue       *result,
                GError      **error)
{
  LongNode *self = LONG_NODE (node);

  /* Housekeeping at G_PRIORITY_LOW, as GJS schedules its garbage
   * collection: starved too, but no sign of a hang. */
  self->low_id = g_timeout_add_full (G_PRIORITY_LOW, 0, never_called, NULL, NULL);
  g_atomic_int_inc (&self->started);
  while (!g_atomic_int_get (&self->release))
    g_usleep (1000);
  g_value_init (result, G_TYPE_STRING);
  g_value_set_static_string (result, "done");
}

static void
long_node_class_init (LongNodeClass *klass)
{
  PFT_NODE_CLASS (klass)->exec = long_node_exec;
}

static void
long_node_init (LongNode *self)
{
}

/* ------------------------------------------------------------------ */
/* The helper thread that moves the clock                               */

typedef struct
{
  PftClock *clock;
  gint     *started;
  gint     *release;        /* nullable: set after the steps */
  guint     n_timers;       /* armed while the run waits: the watch's, and the exec timeout's if any */
  gint64    steps[4];       /* advances, each after the watch re-armed */
  guint     n_steps;
} Driver;

/* A timer is disarmed when it fires, inside _pft_fake_clock_advance();
 * the watch re-arms its own after its check, in the run's thread. */
static void
driver_wait_armed (Driver *d)
{
  while (_pft_fake_clock_get_n_armed (d->clock) != d->n_timers)
    g_usleep (100);
}

static gpointer
driver_run (gpointer data)
{
  Driver *d = data;

  while (!g_atomic_int_get (d->started))
    g_usleep (100);
  for (guint i = 0; i < d->n_steps; i++)
    {
      driver_wait_armed (d);
      _pft_fake_clock_advance (d->clock, d->steps[i]);
    }
  if (d->release != NULL)
    {
      driver_wait_armed (d);
      g_atomic_int_set (d->release, 1);
    }
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */

/* The trap under run(): a warning naming the node after an interval
 * without progress; the node's timeout then ends the attempt. */
static void
run_trap (TrapNode *node)
{
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  PftClock *clock = _pft_fake_clock_new (START_US);
  Driver d = { clock, &node->started, NULL, 2, { PFT_HANG_WATCH_INTERVAL_US, 15 * G_USEC_PER_SEC }, 2 };
  GThread *driver;
  char *action;

  _pft_node_set_clock (PFT_NODE (node), clock);
  g_test_expect_message ("Pft", G_LOG_LEVEL_WARNING,
                         "timer-on-default: the exec of timer-on-default has not completed for 5 s, "
                         "and 1 timeout or idle source(s) added to the global default main context "
                         "since run() began are due but never dispatched*");
  driver = g_thread_new ("driver", driver_run, &d);
  action = pft_node_run (PFT_NODE (node), store, NULL, &error);
  g_thread_join (driver);
  g_test_assert_expected_messages ();

  g_assert_null (action);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  _pft_node_set_clock (PFT_NODE (node), NULL);
  _pft_clock_unref (clock);
}

static void
test_hang_watch_warns (void)
{
  TrapNode *node = g_object_new (TRAP_TYPE_NODE, "name", "timer-on-default", "timeout", 20.0, NULL);

  run_trap (node);
  /* The stale timer completes the abandoned exec, which is ignored. */
  while (node->timer_id != 0)
    g_main_context_iteration (NULL, TRUE);
  g_object_unref (node);
}

/* The same from a callback of a main loop on the global default context,
 * as GJS runs code: this thread owns that context, and run() blocks it. */
static gboolean
run_trap_in_loop (gpointer data)
{
  run_trap (data);
  return G_SOURCE_REMOVE;
}

static void
test_hang_watch_warns_nested (void)
{
  TrapNode *node = g_object_new (TRAP_TYPE_NODE, "name", "timer-on-default", "timeout", 20.0, NULL);

  g_idle_add (run_trap_in_loop, node);
  while (g_atomic_int_get (&node->started) == 0 || node->timer_id != 0)
    g_main_context_iteration (NULL, TRUE);
  g_object_unref (node);
}

/* A long exec alone never warns, through six checks: a due timer from
 * before the run and a low-priority one added during it do not count. */
static void
test_hang_watch_quiet_for_long_exec (void)
{
  LongNode *node = g_object_new (LONG_TYPE_NODE, "name", "long-call", NULL);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  PftClock *clock = _pft_fake_clock_new (START_US);
  Driver d = { clock, &node->started, &node->release, 1, { 0 }, 4 };
  guint before = g_timeout_add (0, never_called, NULL);
  GThread *driver;

  for (guint i = 0; i < d.n_steps; i++)
    d.steps[i] = PFT_HANG_WATCH_INTERVAL_US + G_USEC_PER_SEC;
  _pft_node_set_clock (PFT_NODE (node), clock);
  driver = g_thread_new ("driver", driver_run, &d);
  /* Fatal warnings: any warning fails the test. */
  action = pft_node_run (PFT_NODE (node), store, NULL, &error);
  g_thread_join (driver);
  g_assert_no_error (error);
  g_assert_cmpstr (action, ==, PFT_DEFAULT_ACTION);

  g_source_remove (before);
  g_source_remove (node->low_id);
  _pft_node_set_clock (PFT_NODE (node), NULL);
  _pft_clock_unref (clock);
  g_object_unref (node);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/hang-watch/warns", test_hang_watch_warns);
  g_test_add_func ("/hang-watch/warns-nested", test_hang_watch_warns_nested);
  g_test_add_func ("/hang-watch/quiet-for-long-exec", test_hang_watch_quiet_for_long_exec);

  return g_test_run ();
}
