/* pft-hang-watch.c: telling a synchronous run that waits forever on the
 * global default main context
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-context.h"
#include "pft-node.h"
#include "pft-clock-private.h"
#include "pft-hang-watch-private.h"
#include "pft-node-private.h"

/*
 * pft_node_run() iterates a private main context. A timer or idle that an
 * exec attaches to the global default context instead (Vala's
 * Timeout.add, GJS's setTimeout, g_idle_add) is then never dispatched,
 * unless another thread iterates that context, and the exec waits
 * forever. This watch says so, once per run, with a warning naming the
 * nodes whose execs are waiting.
 *
 * Every PFT_HANG_WATCH_INTERVAL_US (on the node's clock) the run's thread
 * checks, and warns only when all of these hold, so that a long exec
 * alone never warns:
 *
 * - an exec attempt is in flight, and the run dispatched nothing for a
 *   whole interval (no exec, retry or permit came back);
 * - nobody else iterates the global default context: this thread owns it
 *   (run() called from one of its callbacks, which run() now blocks) or
 *   nobody does;
 * - a source attached to it since the run began (source ids grow) is
 *   ready and starved: a timer past its ready time, or an idle, of a
 *   priority at least G_PRIORITY_DEFAULT_IDLE. Sources from before the
 *   run, and low-priority housekeeping (GJS schedules its garbage
 *   collection at G_PRIORITY_LOW), are not counted.
 *
 * Not detected: work queued on a source that existed before the run, such
 * as GJS's promise-job source (an `await` in exec_task under run());
 * PftNode:timeout is the safety net for those.
 *
 * The cost outside a check is a thread-local pointer per exec attempt,
 * one timer per run, and one probe source on the default context when
 * the run begins.
 */

/* How many of the most recent source ids a check looks at. */
#define PFT_HANG_WATCH_MAX_SCAN 4096

typedef struct
{
  PftNode *node;   /* borrowed: its invocation holds it while in flight */
  guint    count;
} InFlight;

struct _PftHangWatch
{
  GObject       *target;        /* the timer's target, owning this struct */
  PftHangWatch  *previous;      /* the thread's watch before this run's */
  PftNode       *node;
  GMainContext  *context;       /* the run's private context */
  PftClock      *clock;
  PftClockTimer *timer;
  gint           due;           /* atomic: the timer fired */
  gint64         last_progress; /* clock time of the last dispatch */
  guint          baseline_id;   /* no source of the default context before the run has a larger id */
  gboolean       warned;
  GArray        *in_flight;     /* InFlight, run thread only */
};

/* TLS, not a GPrivate: read twice per exec. */
static __thread PftHangWatch *pft_hang_watch_current_watch;

static G_DEFINE_QUARK (pft-hang-watch, pft_hang_watch)

static void
pft_hang_watch_free (gpointer data)
{
  PftHangWatch *watch = data;

  g_object_unref (watch->node);
  g_main_context_unref (watch->context);
  _pft_clock_unref (watch->clock);
  g_array_unref (watch->in_flight);
  g_free (watch);
}

/* The id the default context gives the next source (ids only grow). */
static guint
pft_hang_watch_probe_next_id (void)
{
  GSource *probe = g_idle_source_new ();
  guint id;

  g_source_set_static_name (probe, "[pft] hang watch probe");
  id = g_source_attach (probe, NULL);
  g_source_destroy (probe);
  g_source_unref (probe);
  return id;
}

/* In the clock's timer thread (or the fake clock's caller). */
static void
pft_hang_watch_timer_cb (GObject *target)
{
  PftHangWatch *watch = g_object_get_qdata (target, pft_hang_watch_quark ());

  g_atomic_int_set (&watch->due, 1);
  g_main_context_wakeup (watch->context);
}

PftHangWatch *
_pft_hang_watch_begin (PftNode      *node,
                       GMainContext *context)
{
  PftHangWatch *watch = g_new0 (PftHangWatch, 1);

  watch->target = g_object_new (G_TYPE_OBJECT, NULL);
  g_object_set_qdata_full (watch->target, pft_hang_watch_quark (), watch, pft_hang_watch_free);
  watch->node = g_object_ref (node);
  watch->context = g_main_context_ref (context);
  watch->clock = _pft_clock_ref (_pft_node_get_clock (node));
  watch->in_flight = g_array_new (FALSE, FALSE, sizeof (InFlight));
  watch->baseline_id = pft_hang_watch_probe_next_id ();
  watch->last_progress = _pft_clock_now_us (watch->clock);
  watch->timer = _pft_clock_timer_new (watch->clock, watch->target, pft_hang_watch_timer_cb);
  _pft_clock_timer_set_deadline (watch->timer, watch->last_progress + PFT_HANG_WATCH_INTERVAL_US);

  watch->previous = pft_hang_watch_current_watch;
  pft_hang_watch_current_watch = watch;
  return watch;
}

void
_pft_hang_watch_end (PftHangWatch *watch)
{
  pft_hang_watch_current_watch = watch->previous;
  _pft_clock_timer_free (watch->timer);
  /* A timer callback running right now holds the target, hence the
   * struct, until it returns. */
  g_object_unref (watch->target);
}

static PftHangWatch *
pft_hang_watch_current (PftContext *ctx)
{
  PftHangWatch *watch = pft_hang_watch_current_watch;

  /* Only execs of the run this thread is blocked in. */
  if (watch == NULL || pft_context_get_main_context (ctx) != watch->context)
    return NULL;
  return watch;
}

void
_pft_hang_watch_exec_started (PftNode    *node,
                              PftContext *ctx)
{
  PftHangWatch *watch = pft_hang_watch_current (ctx);
  InFlight entry = { node, 1 };

  if (G_LIKELY (watch == NULL))
    return;
  /* A handful of distinct nodes at most: a flow runs one node at a time,
   * a batch node's items are one node. */
  for (guint i = 0; i < watch->in_flight->len; i++)
    {
      InFlight *e = &g_array_index (watch->in_flight, InFlight, i);
      if (e->node == node)
        {
          e->count++;
          return;
        }
    }
  g_array_append_val (watch->in_flight, entry);
}

void
_pft_hang_watch_exec_ended (PftNode    *node,
                            PftContext *ctx)
{
  PftHangWatch *watch = pft_hang_watch_current (ctx);

  if (G_LIKELY (watch == NULL))
    return;
  for (guint i = 0; i < watch->in_flight->len; i++)
    {
      InFlight *e = &g_array_index (watch->in_flight, InFlight, i);
      if (e->node == node)
        {
          if (--e->count == 0)
            g_array_remove_index_fast (watch->in_flight, i);
          return;
        }
    }
}

/* Whether anyone but this thread's blocked run could dispatch the global
 * default context. */
static gboolean
pft_hang_watch_default_is_iterated (GMainContext *main_default)
{
  if (g_main_context_is_owner (main_default))
    return FALSE;   /* by a loop of this thread, which run() blocks */
  if (!g_main_context_acquire (main_default))
    return TRUE;    /* by another thread */
  g_main_context_release (main_default);
  return FALSE;
}

/* Sources of the default context newer than @baseline_id that are ready
 * and wait to be dispatched. Nobody iterates that context, so sources are
 * only removed there by explicit calls, which a source found here would
 * have to race. */
static guint
pft_hang_watch_count_starved (GMainContext *main_default,
                              guint         baseline_id)
{
  guint current = pft_hang_watch_probe_next_id ();
  guint first = baseline_id + 1;
  gint64 now = g_get_monotonic_time ();
  guint n = 0;

  if (current - first > PFT_HANG_WATCH_MAX_SCAN)
    first = current - PFT_HANG_WATCH_MAX_SCAN;
  for (guint id = first; id != current; id++)
    {
      GSource *source = g_main_context_find_source_by_id (main_default, id);
      gint64 ready_time;
      const char *name;

      if (source == NULL || g_source_is_destroyed (source) ||
          g_source_get_priority (source) > G_PRIORITY_DEFAULT_IDLE)
        continue;
      ready_time = g_source_get_ready_time (source);
      name = g_source_get_name (source);
      if ((ready_time >= 0 && ready_time <= now) ||
          (ready_time < 0 && g_strcmp0 (name, "GIdleSource") == 0))
        n++;
    }
  return n;
}

static void
pft_hang_watch_check (PftHangWatch *watch,
                      gint64        now)
{
  GMainContext *main_default = g_main_context_default ();
  g_autoptr(GString) names = NULL;
  guint starved;
  gint64 waited;

  if (watch->warned || watch->in_flight->len == 0 || main_default == watch->context)
    return;
  waited = now - watch->last_progress;
  if (waited < PFT_HANG_WATCH_INTERVAL_US)
    return;
  if (pft_hang_watch_default_is_iterated (main_default))
    return;
  starved = pft_hang_watch_count_starved (main_default, watch->baseline_id);
  if (starved == 0)
    return;

  watch->warned = TRUE;
  names = g_string_new (NULL);
  for (guint i = 0; i < watch->in_flight->len; i++)
    g_string_append_printf (names, "%s%s", i > 0 ? ", " : "",
                            pft_node_get_name (g_array_index (watch->in_flight, InFlight, i).node));
  g_warning ("%s: the exec of %s has not completed for %.0f s, and %u timeout or idle "
             "source(s) added to the global default main context since run() began are "
             "due but never dispatched: run() iterates its own main context. Attach "
             "sources to the thread-default context (GLib.MainContext.ref_thread_default(), "
             "pft_context_get_main_context()), use run_async() under a running main loop, "
             "or set the node's timeout property.",
             pft_node_get_name (watch->node), names->str,
             waited / (double) G_USEC_PER_SEC, starved);
}

void
_pft_hang_watch_iterated (PftHangWatch *watch,
                          gboolean      dispatched)
{
  gint64 now;

  if (G_LIKELY (!dispatched && !g_atomic_int_get (&watch->due)))
    return;
  now = _pft_clock_now_us (watch->clock);
  if (dispatched)
    watch->last_progress = now;
  if (g_atomic_int_compare_and_exchange (&watch->due, 1, 0))
    {
      pft_hang_watch_check (watch, now);
      _pft_clock_timer_set_deadline (watch->timer, now + PFT_HANG_WATCH_INTERVAL_US);
    }
}
