/* test-admission-seam.c: the limiter's queue over an admission that
 * answers later, from another thread (as a remote backend does)
 *
 * The backend here wraps a PftRateWindow: every ask is kept, and the test
 * answers it when it chooses, from a thread of its own, with a grant
 * decided by the window, a refusal with a retry hint, or an error.
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft.h>

#include "pft-clock-private.h"
#include "pft-rate-limiter-private.h"
#include "pft-rate-window-private.h"

#define SEC G_USEC_PER_SEC
#define START_US ((gint64) 1000 * SEC)

/* ------------------------------------------------------------------ */
/* An admission that answers later */

typedef struct
{
  PftAdmission   parent;
  GMutex         mutex;
  PftClock      *clock;       /* (owned) */
  PftRateWindow *window;      /* (owned): decides the grants */
  GQueue         asks;        /* PftAdmissionAsk, in the order asked */
  GArray        *asked_costs; /* guint64, every ask in order */
  GArray        *released;    /* guint64 entries given back */
  guint          n_configured;
} AsyncAdmission;

static void
async_free (PftAdmission *admission)
{
  AsyncAdmission *self = (AsyncAdmission *) admission;

  g_assert_cmpuint (self->asks.length, ==, 0);
  PFT_RATE_WINDOW_ADMISSION (self->window)->vtable->free (PFT_RATE_WINDOW_ADMISSION (self->window));
  _pft_clock_unref (self->clock);
  g_array_unref (self->asked_costs);
  g_array_unref (self->released);
  g_mutex_clear (&self->mutex);
  g_free (self);
}

#define WINDOW(self) PFT_RATE_WINDOW_ADMISSION ((self)->window)

static void
async_configure (PftAdmission             *admission,
                 const PftAdmissionLimits *limits,
                 gint64                    now)
{
  AsyncAdmission *self = (AsyncAdmission *) admission;

  g_mutex_lock (&self->mutex);
  self->n_configured++;
  WINDOW (self)->vtable->configure (WINDOW (self), limits, now);
  g_mutex_unlock (&self->mutex);
}

static PftAdmissionVerdict
async_admit (PftAdmission    *admission,
             guint64          cost,
             gint64           now,
             gboolean         pending,
             PftAdmissionAsk *ask,
             guint64         *entry,
             gint64          *ready_at)
{
  AsyncAdmission *self = (AsyncAdmission *) admission;

  /* A try cannot wait for the answer: refused, as a remote backend that
   * knows nothing locally would. */
  if (ask == NULL)
    {
      *ready_at = PFT_TIME_PENDING;
      return PFT_ADMISSION_REFUSED;
    }
  g_assert_cmpuint (_pft_admission_ask_get_cost (ask), ==, cost);
  g_mutex_lock (&self->mutex);
  g_queue_push_tail (&self->asks, ask);
  g_array_append_val (self->asked_costs, cost);
  g_mutex_unlock (&self->mutex);
  return PFT_ADMISSION_ASKED;
}

static void
async_release (PftAdmission *admission,
               guint64       entry)
{
  AsyncAdmission *self = (AsyncAdmission *) admission;

  g_mutex_lock (&self->mutex);
  g_array_append_val (self->released, entry);
  g_mutex_unlock (&self->mutex);
}

static gboolean
async_settle (PftAdmission *admission,
              guint64       entry,
              guint64       old_cost,
              guint64       new_cost,
              gint64        now)
{
  AsyncAdmission *self = (AsyncAdmission *) admission;
  gboolean ret;

  g_mutex_lock (&self->mutex);
  ret = WINDOW (self)->vtable->settle (WINDOW (self), entry, old_cost, new_cost, now);
  g_mutex_unlock (&self->mutex);
  return ret;
}

static guint64
async_start (PftAdmission *admission,
             guint64       entry,
             gint64        now)
{
  g_assert_not_reached ();   /* its grants never carry the pending bit */
  return PFT_ENTRY_NONE;
}

static gboolean
async_pause (PftAdmission *admission,
             gint64        until)
{
  AsyncAdmission *self = (AsyncAdmission *) admission;
  gboolean ret;

  g_mutex_lock (&self->mutex);
  ret = WINDOW (self)->vtable->pause (WINDOW (self), until);
  g_mutex_unlock (&self->mutex);
  return ret;
}

static gint64
async_paused_until (PftAdmission *admission)
{
  AsyncAdmission *self = (AsyncAdmission *) admission;
  gint64 ret;

  g_mutex_lock (&self->mutex);
  ret = WINDOW (self)->vtable->paused_until (WINDOW (self));
  g_mutex_unlock (&self->mutex);
  return ret;
}

static void
async_usage (PftAdmission *admission,
             gint64        now,
             guint        *count,
             guint64      *cost)
{
  AsyncAdmission *self = (AsyncAdmission *) admission;

  g_mutex_lock (&self->mutex);
  WINDOW (self)->vtable->usage (WINDOW (self), now, count, cost);
  g_mutex_unlock (&self->mutex);
}

static void
async_reset (PftAdmission *admission)
{
  AsyncAdmission *self = (AsyncAdmission *) admission;

  g_mutex_lock (&self->mutex);
  WINDOW (self)->vtable->reset (WINDOW (self));
  g_mutex_unlock (&self->mutex);
}

static void
async_add_stats (PftAdmission    *admission,
                 GVariantBuilder *builder)
{
  AsyncAdmission *self = (AsyncAdmission *) admission;

  g_mutex_lock (&self->mutex);
  g_variant_builder_add (builder, "{sv}", "test_asks_pending",
                         g_variant_new_uint32 (self->asks.length));
  g_mutex_unlock (&self->mutex);
}

static const PftAdmissionVTable async_vtable = {
  .free = async_free,
  .configure = async_configure,
  .admit = async_admit,
  .release = async_release,
  .settle = async_settle,
  .start = async_start,
  .pause = async_pause,
  .paused_until = async_paused_until,
  .usage = async_usage,
  .reset = async_reset,
  .add_stats = async_add_stats,
};

static AsyncAdmission *
async_admission_new (PftClock *clock)
{
  AsyncAdmission *self = g_new0 (AsyncAdmission, 1);
  PftAdmissionLimits limits = { 1, 0, 0, SEC, PFT_LIMITER_MODE_SLIDING_WINDOW, 1 };

  self->parent.vtable = &async_vtable;
  g_mutex_init (&self->mutex);
  self->clock = _pft_clock_ref (clock);
  self->window = _pft_rate_window_new (&limits);
  g_queue_init (&self->asks);
  self->asked_costs = g_array_new (FALSE, FALSE, sizeof (guint64));
  self->released = g_array_new (FALSE, FALSE, sizeof (guint64));
  return self;
}

static guint
async_n_asks (AsyncAdmission *self)
{
  guint n;

  g_mutex_lock (&self->mutex);
  n = self->asks.length;
  g_mutex_unlock (&self->mutex);
  return n;
}

typedef enum {
  ANSWER_BY_WINDOW,   /* the window decides; a refusal carries its hint */
  ANSWER_REFUSE,      /* refused with Answer.retry_after_us */
  ANSWER_FAIL,        /* PFT_ERROR_BACKEND_UNAVAILABLE */
} AnswerKind;

typedef struct
{
  AsyncAdmission *backend;
  AnswerKind      kind;
  gint64          retry_after_us;
  guint64         entry;         /* out: the entry granted, or PFT_ENTRY_NONE */
} Answer;

/* Answers the oldest ask; the window is read under the backend's lock,
 * the answer given without it. */
static gpointer
answer_oldest (gpointer data)
{
  Answer *a = data;
  AsyncAdmission *self = a->backend;
  PftAdmissionVerdict verdict = PFT_ADMISSION_REFUSED;
  PftAdmissionAsk *ask;
  GError *error = NULL;
  gint64 ready = 0;
  gint64 now = _pft_clock_now_us (self->clock);
  guint64 entry = PFT_ENTRY_NONE;

  g_mutex_lock (&self->mutex);
  ask = g_queue_pop_head (&self->asks);
  g_assert_nonnull (ask);
  switch (a->kind)
    {
    case ANSWER_BY_WINDOW:
      verdict = WINDOW (self)->vtable->admit (WINDOW (self), _pft_admission_ask_get_cost (ask),
                                              now, FALSE, NULL, &entry, &ready);
      break;
    case ANSWER_REFUSE:
      ready = now + a->retry_after_us;
      break;
    case ANSWER_FAIL:
      error = g_error_new_literal (PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE, "backend went away");
      break;
    default:
      g_assert_not_reached ();
    }
  g_mutex_unlock (&self->mutex);

  a->entry = verdict == PFT_ADMISSION_GRANTED ? entry : PFT_ENTRY_NONE;
  _pft_admission_ask_answer (ask, verdict, entry, ready - now, error);
  return NULL;
}

/* From a thread of its own, as a client library's reply thread would. */
static guint64
answer_from_thread (AsyncAdmission *backend,
                    AnswerKind      kind,
                    gint64          retry_after_us)
{
  Answer a = { backend, kind, retry_after_us, PFT_ENTRY_NONE };
  GThread *thread = g_thread_new ("answer", answer_oldest, &a);

  g_thread_join (thread);
  return a.entry;
}

/* ------------------------------------------------------------------ */
/* Helpers */

static GThread *main_thread;

typedef struct
{
  PftPermit *permit;
  GError    *error;
  gboolean   done;
  int        order;
} Acq;

static int completion_counter;

static void
acq_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      data)
{
  Acq *a = data;

  /* On the caller's context, whatever thread answered. */
  g_assert_true (g_thread_self () == main_thread);
  g_assert_false (a->done);
  a->permit = pft_rate_limiter_acquire_finish (PFT_RATE_LIMITER (source), result, &a->error);
  a->done = TRUE;
  a->order = completion_counter++;
}

static void
wait_done (Acq *a)
{
  while (!a->done)
    g_main_context_iteration (NULL, TRUE);
}

static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static PftRateLimiter *
seam_limiter (PftClock        *clock,
              guint            max_concurrent,
              AsyncAdmission **backend)
{
  PftRateLimiter *limiter = pft_rate_limiter_new (max_concurrent, 0, 1);

  _pft_rate_limiter_set_clock (limiter, clock);
  *backend = async_admission_new (clock);
  _pft_rate_limiter_set_admission (limiter, &(*backend)->parent);
  return limiter;
}

/* ------------------------------------------------------------------ */
/* Tests */

/* Asks go out in FIFO order, as many as the local concurrency allows, and
 * answers from another thread grant them in that order. */
static void
test_fifo (void)
{
  g_autoptr(PftClock) clock = _pft_fake_clock_new (START_US);
  AsyncAdmission *backend;
  g_autoptr(PftRateLimiter) limiter = seam_limiter (clock, 2, &backend);
  Acq acq[5] = { { 0, } };

  completion_counter = 0;
  /* Costs 1..5 name the waiters in the backend's record. */
  for (guint i = 0; i < 5; i++)
    pft_rate_limiter_acquire_async (limiter, i + 1, NULL, acq_cb, &acq[i]);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 5);
  g_assert_cmpuint (async_n_asks (backend), ==, 2);
  /* A try waits its turn behind them. */
  g_assert_null (pft_rate_limiter_try_acquire (limiter, 0, NULL));

  for (guint i = 0; i < 5; i++)
    {
      guint64 entry = answer_from_thread (backend, ANSWER_BY_WINDOW, 0);

      /* Window without limits: nothing recorded. */
      g_assert_cmpuint (entry, ==, PFT_ENTRY_NONE);
      wait_done (&acq[i]);
      g_assert_no_error (acq[i].error);
      g_assert_cmpint (acq[i].order, ==, i);
      g_assert_cmpuint (pft_permit_get_cost (acq[i].permit), ==, i + 1);
      if (i + 2 < 5)
        {
          /* Concurrency 2: the next ask waits for a release. */
          g_assert_cmpuint (async_n_asks (backend), ==, 1);
          pft_permit_release (acq[i].permit);
          g_assert_cmpuint (async_n_asks (backend), ==, 2);
        }
    }
  for (guint i = 0; i < 5; i++)
    g_assert_cmpuint (g_array_index (backend->asked_costs, guint64, i), ==, i + 1);
  g_assert_cmpuint (backend->asked_costs->len, ==, 5);
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (limiter), ==, 5);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 2);
  for (guint i = 0; i < 5; i++)
    g_clear_object (&acq[i].permit);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
}

/* A waiter cancelled while its admission is asked leaves at once; the
 * grant that comes later is given back to the backend, and never counted
 * locally. */
static void
test_cancel_asked (void)
{
  g_autoptr(PftClock) clock = _pft_fake_clock_new (START_US);
  AsyncAdmission *backend;
  g_autoptr(PftRateLimiter) limiter = seam_limiter (clock, 1, &backend);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Acq a = { 0, }, b = { 0, };
  guint64 entry;

  pft_rate_limiter_set_max_per_window (limiter, 10);   /* so that grants have entries */
  pft_rate_limiter_acquire_async (limiter, 0, cancellable, acq_cb, &a);
  pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &b);
  g_assert_cmpuint (async_n_asks (backend), ==, 1);

  g_cancellable_cancel (cancellable);
  wait_done (&a);
  g_assert_error (a.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 1);
  /* Its ask still holds the local slot: b is not asked before the
   * answer. */
  g_assert_cmpuint (async_n_asks (backend), ==, 1);

  entry = answer_from_thread (backend, ANSWER_BY_WINDOW, 0);
  g_assert_cmpuint (entry, !=, PFT_ENTRY_NONE);
  g_assert_cmpuint (backend->released->len, ==, 1);
  g_assert_cmpuint (g_array_index (backend->released, guint64, 0), ==, entry);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (limiter), ==, 0);

  /* The slot is free again: b is asked now, and granted. */
  g_assert_cmpuint (async_n_asks (backend), ==, 1);
  entry = answer_from_thread (backend, ANSWER_BY_WINDOW, 0);
  wait_done (&b);
  g_assert_no_error (b.error);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);
  g_clear_object (&b.permit);
  /* A granted admission is given back on release, with its entry. */
  g_assert_cmpuint (backend->released->len, ==, 2);
  g_assert_cmpuint (g_array_index (backend->released, guint64, 1), ==, entry);
  g_clear_error (&a.error);
}

/* An error from the backend fails the waiter with that error, async and
 * blocking alike, and the next waiter is asked. */
typedef struct
{
  PftRateLimiter *limiter;
  PftPermit      *permit;
  GError         *error;
} Blocking;

static gpointer
blocking_acquire (gpointer data)
{
  Blocking *bl = data;

  bl->permit = pft_rate_limiter_acquire (bl->limiter, 0, NULL, &bl->error);
  return NULL;
}

static void
test_backend_error (void)
{
  g_autoptr(PftClock) clock = _pft_fake_clock_new (START_US);
  AsyncAdmission *backend;
  g_autoptr(PftRateLimiter) limiter = seam_limiter (clock, 1, &backend);
  Acq a = { 0, };
  Blocking bl = { limiter, NULL, NULL };
  GThread *thread;

  pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &a);
  thread = g_thread_new ("blocking", blocking_acquire, &bl);
  while (pft_rate_limiter_get_waiting (limiter) < 2)
    g_thread_yield ();

  answer_from_thread (backend, ANSWER_FAIL, 0);
  wait_done (&a);
  g_assert_error (a.error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE);
  g_assert_cmpstr (a.error->message, ==, "backend went away");

  /* The blocking waiter is asked next; it fails the same way, its thread
   * woken by the answering one. */
  while (async_n_asks (backend) < 1)
    g_thread_yield ();
  answer_from_thread (backend, ANSWER_FAIL, 0);
  g_thread_join (thread);
  g_assert_null (bl.permit);
  g_assert_error (bl.error, PFT_ERROR, PFT_ERROR_BACKEND_UNAVAILABLE);

  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (limiter), ==, 0);
  g_clear_error (&a.error);
  g_clear_error (&bl.error);
}

/* A refusal keeps the waiter at its place and asks again after the hint,
 * on the limiter's clock. */
static void
test_refusal_hint (void)
{
  g_autoptr(PftClock) clock = _pft_fake_clock_new (START_US);
  AsyncAdmission *backend;
  g_autoptr(PftRateLimiter) limiter = seam_limiter (clock, 2, &backend);
  Acq a = { 0, }, b = { 0, };

  completion_counter = 0;
  pft_rate_limiter_acquire_async (limiter, 1, NULL, acq_cb, &a);
  pft_rate_limiter_acquire_async (limiter, 2, NULL, acq_cb, &b);
  g_assert_cmpuint (async_n_asks (backend), ==, 2);

  /* Both refused (the backend refuses those behind a refused one). */
  answer_from_thread (backend, ANSWER_REFUSE, SEC / 2);
  answer_from_thread (backend, ANSWER_REFUSE, SEC / 2);
  drain ();
  g_assert_false (a.done);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 2);
  g_assert_cmpuint (async_n_asks (backend), ==, 0);
  g_assert_cmpint (_pft_fake_clock_get_next_deadline (clock), ==, START_US + SEC / 2);

  _pft_fake_clock_advance (clock, SEC / 2 - 1);
  g_assert_cmpuint (async_n_asks (backend), ==, 0);
  _pft_fake_clock_advance (clock, 1);
  /* Asked again, in their order. */
  g_assert_cmpuint (async_n_asks (backend), ==, 2);
  g_assert_cmpuint (backend->asked_costs->len, ==, 4);
  g_assert_cmpuint (g_array_index (backend->asked_costs, guint64, 2), ==, 1);
  g_assert_cmpuint (g_array_index (backend->asked_costs, guint64, 3), ==, 2);

  answer_from_thread (backend, ANSWER_BY_WINDOW, 0);
  answer_from_thread (backend, ANSWER_BY_WINDOW, 0);
  wait_done (&a);
  wait_done (&b);
  g_assert_no_error (a.error);
  g_assert_no_error (b.error);
  g_assert_cmpint (a.order, ==, 0);
  g_assert_cmpint (b.order, ==, 1);
  g_clear_object (&a.permit);
  g_clear_object (&b.permit);
}

/* Limits reach the backend (a shared one enforces them for every
 * process), and so does the stats snapshot. */
static void
test_configure_and_stats (void)
{
  g_autoptr(PftClock) clock = _pft_fake_clock_new (START_US);
  AsyncAdmission *backend;
  g_autoptr(PftRateLimiter) limiter = seam_limiter (clock, 1, &backend);
  g_autoptr(GVariant) stats = NULL;
  guint configured = backend->n_configured;
  Acq a = { 0, };
  guint32 pending = 0;

  pft_rate_limiter_set_max_concurrent (limiter, 3);
  pft_rate_limiter_set_max_per_window (limiter, 7);
  g_assert_cmpuint (backend->n_configured, ==, configured + 2);

  pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &a);
  stats = pft_rate_limiter_dup_stats (limiter);
  g_assert_true (g_variant_lookup (stats, "test_asks_pending", "u", &pending));
  g_assert_cmpuint (pending, ==, 1);
  answer_from_thread (backend, ANSWER_BY_WINDOW, 0);
  wait_done (&a);
  g_assert_no_error (a.error);
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 1);
  g_clear_object (&a.permit);
}

/* The core, with no context: the waiter's func runs in the thread that
 * grants it, without the limiter's lock (it may call the limiter). */
typedef struct
{
  PftRateLimiter *limiter;
  GThread        *thread;
  guint64         entry;
  guint           in_flight;
  gboolean        done;
} InPlace;

static void
in_place_func (gpointer  user_data,
               guint64   entry,
               GError   *error)
{
  InPlace *ip = user_data;

  g_assert_no_error (error);
  ip->thread = g_thread_self ();
  ip->entry = entry;
  ip->in_flight = pft_rate_limiter_get_in_flight (ip->limiter);
  ip->done = TRUE;
}

static PftRateLimiter *release_thread_limiter;

static gpointer
release_slot (gpointer data)
{
  _pft_rate_limiter_release (release_thread_limiter, *(guint64 *) data);
  return NULL;
}

static void
test_in_place (void)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (1, 0, 1);
  InPlace ip = { limiter, NULL, 0, 0, FALSE };
  GError *error = NULL;
  guint64 held, entry = 0;

  g_assert_true (_pft_rate_limiter_acquire_full (limiter, 0, PFT_ACQUIRE_NONE, NULL, NULL, NULL, NULL,
                                                 &held, &error));
  g_assert_no_error (error);
  /* Queued: FALSE, no error, func not called yet. */
  g_assert_false (_pft_rate_limiter_acquire_full (limiter, 0, PFT_ACQUIRE_NONE, NULL, NULL,
                                                  in_place_func, &ip, &entry, &error));
  g_assert_no_error (error);
  g_assert_false (ip.done);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 1);

  /* Released from another thread: the waiter is granted there. */
  release_thread_limiter = limiter;
  g_thread_join (g_thread_new ("release", release_slot, &held));
  g_assert_true (ip.done);
  g_assert_true (ip.thread != main_thread);
  g_assert_cmpuint (ip.in_flight, ==, 1);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 0);
  _pft_rate_limiter_release (limiter, ip.entry);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  main_thread = g_thread_self ();

  g_test_add_func ("/admission-seam/fifo", test_fifo);
  g_test_add_func ("/admission-seam/cancel-asked", test_cancel_asked);
  g_test_add_func ("/admission-seam/backend-error", test_backend_error);
  g_test_add_func ("/admission-seam/refusal-hint", test_refusal_hint);
  g_test_add_func ("/admission-seam/configure-and-stats", test_configure_and_stats);
  g_test_add_func ("/admission-seam/in-place", test_in_place);

  return g_test_run ();
}
