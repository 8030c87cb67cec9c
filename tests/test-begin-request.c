/* test-begin-request.c: an exec that marks its request's start itself
 * (pft_node_class_set_begins_requests(), pft_context_begin_request())
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "test-util.h"
#include "pft-clock-private.h"
#include "pft-node-private.h"
#include "pft-rate-limiter-private.h"

#define SEC G_USEC_PER_SEC

/* A throttled batch node whose exec_async waits on the fake clock before
 * it "sends" (a wait of its own, as the HTTP chat node's for tokens),
 * marks the send with pft_context_begin_request() (or not), then takes
 * @busy_us more to answer. It stamps, on the clock, when each exec was
 * called and when it sent: the observer outside the limiter. */
#define TEST_TYPE_SENDER_NODE (test_sender_node_get_type ())
#define TEST_SENDER_NODE(o) (G_TYPE_CHECK_INSTANCE_CAST ((o), TEST_TYPE_SENDER_NODE, TestSenderNode))

/* Derivable, with its fields here: the flag-off test subclasses it. */
typedef struct _TestSenderNode TestSenderNode;
typedef struct
{
  PftThrottledBatchNodeClass parent_class;
} TestSenderNodeClass;

GType test_sender_node_get_type (void);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestSenderNode, g_object_unref)

struct _TestSenderNode
{
  PftThrottledBatchNode parent_instance;
  PftClock             *clock;
  gint64                first_wait_us;  /* the wait of the first max_per_window items */
  gint64                wait_us;        /* the wait of the others */
  gint64                busy_us;        /* from the send to the answer */
  gboolean              begins;         /* calls pft_context_begin_request() */
  gboolean              ignore_cancel;  /* answers late even when cancelled */
  guint                 n_first;
  GArray               *called;         /* gint64 µs, in call order */
  GArray               *sent;           /* gint64 µs, in send order */
};

G_DEFINE_TYPE (TestSenderNode, test_sender_node, PFT_TYPE_THROTTLED_BATCH_NODE)

/* One exec in flight: a GObject so that the clock's timer can target it. */
#define TEST_TYPE_SEND (test_send_get_type ())
G_DECLARE_FINAL_TYPE (TestSend, test_send, TEST, SEND, GObject)

struct _TestSend
{
  GObject         parent_instance;
  TestSenderNode *node;
  PftContext     *ctx;
  GTask          *task;
  PftClockTimer  *timer;
  gboolean        sent;
};

G_DEFINE_FINAL_TYPE (TestSend, test_send, G_TYPE_OBJECT)

static void
test_send_finalize (GObject *object)
{
  TestSend *self = TEST_SEND (object);

  g_clear_pointer (&self->timer, _pft_clock_timer_free);
  g_clear_object (&self->ctx);
  g_clear_object (&self->task);
  G_OBJECT_CLASS (test_send_parent_class)->finalize (object);
}

static void
test_send_class_init (TestSendClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_send_finalize;
}

static void
test_send_init (TestSend *self)
{
}

static void sender_exec_task (PftNode *node, PftContext *ctx, const GValue *item, GTask *task,
                              GError **error);

static void
test_send_fire (GObject *target)
{
  TestSend *self = TEST_SEND (target);
  gint64 now = _pft_clock_now_us (self->node->clock);

  if (!self->sent)
    {
      self->sent = TRUE;
      if (self->node->ignore_cancel || !g_cancellable_is_cancelled (g_task_get_cancellable (self->task)))
        {
          if (self->node->begins)
            pft_context_begin_request (self->ctx);
          g_array_append_val (self->node->sent, now);
          if (self->node->busy_us > 0)
            {
              _pft_clock_timer_set_deadline (self->timer, now + self->node->busy_us);
              return;
            }
        }
    }
  if (g_task_get_source_tag (self->task) == sender_exec_task)
    {
      g_auto(GValue) v = G_VALUE_INIT;

      /* exec_task: the engine's task reads a GValue. */
      g_value_init (&v, G_TYPE_BOOLEAN);
      g_value_set_boolean (&v, TRUE);
      g_task_return_value (self->task, &v);
    }
  else
    g_task_return_boolean (self->task, TRUE);
  /* The timer's reference to us is weak: the exec's own goes now. */
  g_object_unref (self);
}

static TestSend *
sender_send_new (TestSenderNode *self,
                 PftContext     *ctx,
                 GTask          *task)
{
  TestSend *send = g_object_new (TEST_TYPE_SEND, NULL);
  gint64 now = _pft_clock_now_us (self->clock);
  gint64 wait = self->called->len < self->n_first ? self->first_wait_us : self->wait_us;

  g_array_append_val (self->called, now);
  send->node = self;
  send->ctx = g_object_ref (ctx);
  send->task = task;
  send->timer = _pft_clock_timer_new (self->clock, G_OBJECT (send), test_send_fire);
  _pft_clock_timer_set_deadline (send->timer, now + wait);
  return send;
}

/* The same exec in the exec_task shape (as a JavaScript node would). */
static void
sender_exec_task (PftNode *node, PftContext *ctx, const GValue *item, GTask *task, GError **error)
{
  g_task_set_source_tag (task, sender_exec_task);
  sender_send_new (TEST_SENDER_NODE (node), ctx, g_object_ref (task));
}

static void
sender_exec_async (PftNode *node, PftContext *ctx, const GValue *item, GCancellable *cancellable,
                   GAsyncReadyCallback callback, gpointer user_data)
{
  sender_send_new (TEST_SENDER_NODE (node), ctx, g_task_new (node, cancellable, callback, user_data));
}

static void
sender_exec_finish (PftNode *node, GAsyncResult *result, GValue *value, GError **error)
{
  if (g_task_propagate_boolean (G_TASK (result), error))
    {
      g_value_init (value, G_TYPE_BOOLEAN);
      g_value_set_boolean (value, TRUE);
    }
}

static void
items_prep (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, pft_store_dup_values (pft_context_get_store (ctx), "items"));
}

static void
test_sender_node_finalize (GObject *object)
{
  TestSenderNode *self = TEST_SENDER_NODE (object);

  g_array_unref (self->called);
  g_array_unref (self->sent);
  G_OBJECT_CLASS (test_sender_node_parent_class)->finalize (object);
}

static void
test_sender_node_class_init (TestSenderNodeClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_sender_node_finalize;
  PFT_NODE_CLASS (klass)->prep = items_prep;
  PFT_NODE_CLASS (klass)->exec_async = sender_exec_async;
  PFT_NODE_CLASS (klass)->exec_finish = sender_exec_finish;
  PFT_NODE_CLASS (klass)->post = NULL;
  pft_node_class_set_begins_requests (PFT_NODE_CLASS (klass), TRUE);
}

static void
test_sender_node_init (TestSenderNode *self)
{
  self->called = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->sent = g_array_new (FALSE, FALSE, sizeof (gint64));
}

/* Inherits the class flag. */
typedef TestSenderNode TestTaskSenderNode;
typedef TestSenderNodeClass TestTaskSenderNodeClass;
GType test_task_sender_node_get_type (void);
G_DEFINE_TYPE (TestTaskSenderNode, test_task_sender_node, TEST_TYPE_SENDER_NODE)

static void
test_task_sender_node_class_init (TestTaskSenderNodeClass *klass)
{
  PFT_NODE_CLASS (klass)->exec_task = sender_exec_task;
}

static void
test_task_sender_node_init (TestTaskSenderNode *self)
{
}

/* A sender of @type, run per the test's data: exec_async or exec_task. */
static TestSenderNode *
sender_new (PftClock *clock,
            guint     max_per_window,
            double    window)
{
  GType type = strstr (g_test_get_path (), "/task/") != NULL
               ? test_task_sender_node_get_type () : TEST_TYPE_SENDER_NODE;
  TestSenderNode *node = g_object_new (type, "max-concurrent", 10,
                                       "continue-on-error", TRUE, NULL);
  PftRateLimiter *limiter = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));

  node->clock = clock;
  node->n_first = max_per_window;
  _pft_rate_limiter_set_clock (limiter, clock);
  _pft_node_set_clock (PFT_NODE (node), clock);
  pft_rate_limiter_set_max_per_window (limiter, max_per_window);
  pft_rate_limiter_set_window (limiter, window);
  return node;
}

static void
run_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* Runs @n items, letting the fake clock go on a second at a time
 * whenever nothing can run. */
static void
sender_run (TestSenderNode *node,
            guint           n)
{
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(PftValues) items = pft_values_new_sized (n);
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  GAsyncResult *result = NULL;

  for (guint i = 0; i < n; i++)
    pft_values_append_int (items, i);
  pft_store_set_values (store, "items", items);
  g_main_context_push_thread_default (context);
  pft_node_run_async (PFT_NODE (node), store, NULL, run_cb, &result);
  while (result == NULL)
    {
      while (g_main_context_iteration (context, FALSE))
        ;
      if (result == NULL)
        _pft_fake_clock_advance (node->clock, 1 * SEC);
    }
  action = pft_node_run_finish (PFT_NODE (node), result, &error);
  g_object_unref (result);
  /* Execs still running past their timeout answer later. */
  while (_pft_fake_clock_get_n_armed (node->clock) > 0 ||
         pft_rate_limiter_get_in_flight (pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node))) > 0)
    {
      _pft_fake_clock_advance (node->clock, 1 * SEC);
      while (g_main_context_iteration (context, FALSE))
        ;
    }
  g_main_context_pop_thread_default (context);
  g_assert_no_error (error);
}

/* The most sends that fell in one window [t, t + window). */
static guint
max_in_window (GArray *stamps,
               gint64  window_us)
{
  guint most = 0;

  for (guint i = 0; i < stamps->len; i++)
    {
      gint64 start = g_array_index (stamps, gint64, i);
      guint in_window = 0;

      for (guint j = 0; j < stamps->len; j++)
        {
          gint64 t = g_array_index (stamps, gint64, j);

          if (t >= start && t < start + window_us)
            in_window++;
        }
      most = MAX (most, in_window);
    }
  return most;
}

/* Two per 10 s; the first two execs wait 9 s before they send, the
 * others send at once. Stamped when the exec is called, the first two
 * entries would expire at 10 s and items 2 and 3 would send at 10 s,
 * four sends in [9 s, 19 s). Stamped at the send, they go at 19 s. */
static void
test_begin_request_counts_from_send (void)
{
  g_autoptr(PftClock) clock = _pft_fake_clock_new (0);
  g_autoptr(TestSenderNode) node = sender_new (clock, 2, 10.0);
  PftRateLimiter *limiter = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));

  node->begins = TRUE;
  node->first_wait_us = 9 * SEC;
  node->wait_us = 0;
  sender_run (node, 6);

  g_assert_cmpuint (node->sent->len, ==, 6);
  g_assert_cmpuint (max_in_window (node->sent, 10 * SEC), <=, 2);
  /* Sent as soon as the window allows: 9, 9, 19, 19, 29, 29 s. */
  g_assert_cmpint (g_array_index (node->sent, gint64, 0), ==, 9 * SEC);
  g_assert_cmpint (g_array_index (node->sent, gint64, 2), ==, 19 * SEC);
  g_assert_cmpint (g_array_index (node->sent, gint64, 5), ==, 29 * SEC);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_assert_cmpuint (pft_throttled_batch_node_get_completed (PFT_THROTTLED_BATCH_NODE (node)), ==, 6);
  /* Every entry expires a window after its send: none stayed pending. */
  _pft_fake_clock_advance (clock, 10 * SEC);
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 0);
}

/* The same node without the class flag (the engine stamps the call):
 * the provider sees the burst the test above rules out. This is the
 * defect the flag exists for; it also shows the observer can see it. */
#define TEST_TYPE_EAGER_NODE (test_eager_node_get_type ())
G_DECLARE_FINAL_TYPE (TestEagerNode, test_eager_node, TEST, EAGER_NODE, TestSenderNode)
struct _TestEagerNode
{
  TestSenderNode parent_instance;
};
G_DEFINE_FINAL_TYPE (TestEagerNode, test_eager_node, TEST_TYPE_SENDER_NODE)

static void
test_eager_node_class_init (TestEagerNodeClass *klass)
{
  pft_node_class_set_begins_requests (PFT_NODE_CLASS (klass), FALSE);
}

static void
test_eager_node_init (TestEagerNode *self)
{
}

static void
test_begin_request_flag_off (void)
{
  g_autoptr(PftClock) clock = _pft_fake_clock_new (0);
  g_autoptr(TestSenderNode) node = NULL;
  PftRateLimiter *limiter;

  /* The subclass inherited the flag, and turned it off. */
  node = g_object_new (TEST_TYPE_EAGER_NODE, "max-concurrent", 10, NULL);
  limiter = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));
  node->clock = clock;
  node->n_first = 2;
  _pft_rate_limiter_set_clock (limiter, clock);
  pft_rate_limiter_set_max_per_window (limiter, 2);
  pft_rate_limiter_set_window (limiter, 10.0);
  node->begins = TRUE;   /* a mark the engine ignores: it stamped the call */
  node->first_wait_us = 9 * SEC;
  sender_run (node, 6);

  g_assert_cmpuint (node->sent->len, ==, 6);
  g_assert_cmpint (g_array_index (node->sent, gint64, 2), ==, 10 * SEC);
  g_assert_cmpuint (max_in_window (node->sent, 10 * SEC), ==, 4);
}

/* An exec that never marks its start (it failed, or never sent): its
 * entry counts from when the attempt ended, and goes a window later. One
 * per 10 s, each exec takes 5 s: calls at 0, 15 and 30 s. */
static void
test_begin_request_never_called (void)
{
  g_autoptr(PftClock) clock = _pft_fake_clock_new (0);
  g_autoptr(TestSenderNode) node = sender_new (clock, 1, 10.0);
  PftRateLimiter *limiter = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));

  node->begins = FALSE;
  node->first_wait_us = 5 * SEC;
  node->wait_us = 5 * SEC;
  sender_run (node, 3);

  g_assert_cmpuint (node->called->len, ==, 3);
  g_assert_cmpint (g_array_index (node->called, gint64, 0), ==, 0);
  g_assert_cmpint (g_array_index (node->called, gint64, 1), ==, 15 * SEC);
  g_assert_cmpint (g_array_index (node->called, gint64, 2), ==, 30 * SEC);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  /* The last entry counts from 35 s, for one window; then nothing is left. */
  g_assert_cmpint (_pft_clock_now_us (clock), <, 45 * SEC);
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 1);
  _pft_fake_clock_advance (clock, 45 * SEC - _pft_clock_now_us (clock));
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 0);
}

/* With a per-attempt timeout shorter than the exec's wait: the attempt
 * times out at 3 s and its slot goes back, but the exec keeps running
 * (it ignores the cancellation) and sends at 5 s, or never sends and
 * answers at 6 s. Its entry stays pending until then and counts from
 * that moment; the exec holds the limiter's concurrency until it
 * answers. One per 10 s, one at a time. */
static void
after_timeout_run (gboolean begins,
                   gint64   counted_from)
{
  g_autoptr(PftClock) clock = _pft_fake_clock_new (0);
  g_autoptr(TestSenderNode) node = sender_new (clock, 1, 10.0);
  PftRateLimiter *limiter = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (node));
  gint64 item1_counted;

  pft_node_set_timeout (PFT_NODE (node), 3.0);
  pft_node_set_max_retries (PFT_NODE (node), 1);
  pft_batch_node_set_max_concurrent (PFT_BATCH_NODE (node), 1);
  node->begins = begins;
  node->ignore_cancel = TRUE;
  node->first_wait_us = 5 * SEC;
  node->busy_us = 1 * SEC;
  node->n_first = 1;
  node->wait_us = 0;
  sender_run (node, 2);

  g_assert_cmpuint (node->called->len, ==, 2);
  g_assert_cmpuint (pft_throttled_batch_node_get_failed (PFT_THROTTLED_BATCH_NODE (node)), ==, 1);
  g_assert_cmpint (g_array_index (node->sent, gint64, 0), ==, 5 * SEC);
  /* Item 1 waited a window from when item 0 counted. */
  g_assert_cmpint (g_array_index (node->called, gint64, 1), ==, counted_from + 10 * SEC);
  g_assert_cmpint (g_array_index (node->sent, gint64, 1), ==, counted_from + 10 * SEC);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  /* Only item 1's entry is left: it counts from its send, or from its
   * answer a second later when it never marks it; a window on, it goes. */
  item1_counted = counted_from + 10 * SEC + (begins ? 0 : node->busy_us);
  _pft_fake_clock_advance (clock, item1_counted + 10 * SEC - 1 - _pft_clock_now_us (clock));
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 1);
  _pft_fake_clock_advance (clock, 1);
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (limiter), ==, 2);
}

static void
test_begin_request_after_timeout (void)
{
  after_timeout_run (TRUE, 5 * SEC);
}

static void
test_begin_request_after_timeout_never_called (void)
{
  after_timeout_run (FALSE, 6 * SEC);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/begin-request/async/counts-from-send", test_begin_request_counts_from_send);
  g_test_add_func ("/begin-request/task/counts-from-send", test_begin_request_counts_from_send);
  g_test_add_func ("/begin-request/flag-off", test_begin_request_flag_off);
  g_test_add_func ("/begin-request/never-called", test_begin_request_never_called);
  g_test_add_func ("/begin-request/async/after-timeout", test_begin_request_after_timeout);
  g_test_add_func ("/begin-request/task/after-timeout", test_begin_request_after_timeout);
  g_test_add_func ("/begin-request/async/after-timeout-never-called", test_begin_request_after_timeout_never_called);
  g_test_add_func ("/begin-request/task/after-timeout-never-called", test_begin_request_after_timeout_never_called);
  return g_test_run ();
}
