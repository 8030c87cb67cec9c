/* test-rate-limiter.c: PftRateLimiter and PftPermit
 *
 * Most tests run on the fake clock, so that 60-second windows take
 * microseconds and every admission time is checked to the microsecond; a
 * few run on the real clock with generous bounds to prove the wiring (the
 * timer thread, blocking waits, several main contexts).
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft.h>

#include "pft-clock-private.h"
#include "pft-rate-limiter-private.h"

#define SEC G_USEC_PER_SEC
#define START_US ((gint64) 1000 * SEC)

/* ------------------------------------------------------------------ */
/* Helpers */

static PftClock *current_clock;   /* for callbacks that stamp times */
static int       completion_counter;

typedef struct
{
  PftPermit *permit;
  GError    *error;
  gboolean   done;
  gint64     at;
  int        order;
} Acq;

static void
acq_clear (Acq *a)
{
  g_clear_object (&a->permit);
  g_clear_error (&a->error);
  a->done = FALSE;
}

static void
acq_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      data)
{
  Acq *a = data;

  g_assert_false (a->done);
  a->permit = pft_rate_limiter_acquire_finish (PFT_RATE_LIMITER (source), result, &a->error);
  g_assert_true ((a->permit != NULL) != (a->error != NULL));
  a->done = TRUE;
  a->at = current_clock != NULL ? _pft_clock_now_us (current_clock) : g_get_monotonic_time ();
  a->order = completion_counter++;
}

static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static PftRateLimiter *
fake_limiter (PftClock *clock,
              guint     max_concurrent,
              guint     max_per_window,
              double    window)
{
  PftRateLimiter *limiter = pft_rate_limiter_new (max_concurrent, max_per_window, window);

  _pft_rate_limiter_set_clock (limiter, clock);
  return limiter;
}

static PftClock *
fake_clock (void)
{
  PftClock *clock = _pft_fake_clock_new (START_US);

  current_clock = clock;
  completion_counter = 0;
  return clock;
}

static void
fake_clock_done (PftClock *clock)
{
  current_clock = NULL;
  _pft_clock_unref (clock);
}

static void
advance (PftClock *clock,
         gint64    usec)
{
  _pft_fake_clock_advance (clock, usec);
  drain ();
}

/* ------------------------------------------------------------------ */

static void
test_defaults (void)
{
  g_autoptr(PftRateLimiter) limiter = g_object_new (PFT_TYPE_RATE_LIMITER, NULL);
  g_autofree char *str = NULL;
  guint max_concurrent, max_per_window, burst;
  double window;
  guint64 max_cost;
  PftLimiterMode mode;

  g_object_get (limiter,
                "max-concurrent", &max_concurrent,
                "max-per-window", &max_per_window,
                "window", &window,
                "max-cost-per-window", &max_cost,
                "mode", &mode,
                "burst", &burst,
                NULL);
  g_assert_cmpuint (max_concurrent, ==, 5);
  g_assert_cmpuint (max_per_window, ==, 0);
  g_assert_cmpfloat (window, ==, 60.0);
  g_assert_cmpuint (max_cost, ==, 0);
  g_assert_cmpint (mode, ==, PFT_LIMITER_MODE_SLIDING_WINDOW);
  g_assert_cmpuint (burst, ==, 1);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 0);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), ==, 0.0);

  str = pft_rate_limiter_to_string (limiter);
  g_assert_cmpstr (str, ==, "RateLimiter(max_concurrent=5, max_per_window=None, window=60s, in_flight=0, waiting=0)");
}

static void
test_to_string (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 5, 60, 60);
  g_autoptr(PftPermit) p1 = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  g_autoptr(PftPermit) p2 = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  char *str;

  str = pft_rate_limiter_to_string (limiter);
  g_assert_cmpstr (str, ==, "RateLimiter(max_concurrent=5, max_per_window=60, window=60s, in_flight=2, waiting=0)");
  g_free (str);

  pft_rate_limiter_set_window (limiter, 0.5);
  pft_rate_limiter_set_max_cost_per_window (limiter, 1000);
  pft_rate_limiter_set_mode (limiter, PFT_LIMITER_MODE_SMOOTH);
  pft_rate_limiter_set_burst (limiter, 3);
  pft_rate_limiter_pause (limiter, 2.5);
  str = pft_rate_limiter_to_string (limiter);
  g_assert_cmpstr (str, ==, "RateLimiter(max_concurrent=5, max_per_window=60, max_cost_per_window=1000, window=0.5s, mode=smooth, burst=3, in_flight=2, waiting=0, paused=2.5s)");
  g_free (str);

  g_clear_object (&p1);
  g_clear_object (&p2);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

static void
test_try_acquire (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 2, 3, 60);
  g_autoptr(GError) error = NULL;
  PftPermit *a, *b, *c;

  a = pft_rate_limiter_try_acquire (limiter, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (a);
  b = pft_rate_limiter_try_acquire (limiter, 0, &error);
  g_assert_nonnull (b);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 2);

  /* Concurrency full: NULL and no error. */
  c = pft_rate_limiter_try_acquire (limiter, 0, &error);
  g_assert_no_error (error);
  g_assert_null (c);

  /* Release is idempotent; the request stays in the window. */
  pft_permit_release (a);
  g_assert_true (pft_permit_is_released (a));
  pft_permit_release (a);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 2);
  g_object_unref (a);   /* dispose does not release twice */
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);

  c = pft_rate_limiter_try_acquire (limiter, 0, &error);
  g_assert_nonnull (c);
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 3);
  g_assert_true (pft_permit_get_limiter (c) == limiter);

  /* Window full (3 per 60 s) although a slot is free after this. */
  g_object_unref (b);   /* dispose releases */
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);
  g_assert_null (pft_rate_limiter_try_acquire (limiter, 0, &error));
  g_assert_no_error (error);

  /* One microsecond short of the window: still full. */
  _pft_fake_clock_advance (clock, 60 * SEC - 1);
  g_assert_null (pft_rate_limiter_try_acquire (limiter, 0, NULL));
  _pft_fake_clock_advance (clock, 1);
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 0);
  a = pft_rate_limiter_try_acquire (limiter, 0, &error);
  g_assert_nonnull (a);
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (limiter), ==, 4);

  g_object_unref (a);
  g_object_unref (c);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

static void
test_try_acquire_respects_queue (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 1, 0, 60);
  g_autoptr(PftPermit) held = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  Acq w = { 0 };

  pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &w);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 1);

  /* The slot is handed to the waiter on release, not to a later
   * try_acquire (first come, first served). */
  g_clear_object (&held);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);
  g_assert_null (pft_rate_limiter_try_acquire (limiter, 0, NULL));
  drain ();
  g_assert_true (w.done);
  g_assert_nonnull (w.permit);
  acq_clear (&w);

  g_clear_object (&limiter);
  fake_clock_done (clock);
}

static void
test_cost_too_large (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 5, 10, 60);
  g_autoptr(GError) error = NULL;
  g_autoptr(PftPermit) held = NULL;
  PftPermit *permit;
  Acq a = { 0 }, b = { 0 };

  pft_rate_limiter_set_max_cost_per_window (limiter, 1000);

  permit = pft_rate_limiter_try_acquire (limiter, 1001, &error);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_null (permit);
  g_clear_error (&error);

  permit = pft_rate_limiter_acquire (limiter, 5000, NULL, &error);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_null (permit);
  g_clear_error (&error);

  pft_rate_limiter_acquire_async (limiter, 1001, NULL, acq_cb, &a);
  g_assert_false (a.done);   /* never before acquire_async returns */
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 0);
  drain ();
  g_assert_true (a.done);
  g_assert_error (a.error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  acq_clear (&a);

  /* Exactly the limit is fine. */
  held = pft_rate_limiter_try_acquire (limiter, 1000, &error);
  g_assert_no_error (error);
  g_assert_nonnull (held);

  /* A waiter whose cost no longer fits after the limit is lowered fails
   * at once instead of waiting forever; the one behind it goes on. */
  pft_rate_limiter_acquire_async (limiter, 800, NULL, acq_cb, &a);
  pft_rate_limiter_acquire_async (limiter, 100, NULL, acq_cb, &b);
  drain ();
  g_assert_false (a.done);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 2);
  pft_rate_limiter_set_max_cost_per_window (limiter, 500);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 1);
  drain ();
  g_assert_true (a.done);
  g_assert_error (a.error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_assert_false (b.done);
  advance (clock, 60 * SEC);
  g_assert_true (b.done);
  g_assert_nonnull (b.permit);
  acq_clear (&a);
  acq_clear (&b);

  g_clear_object (&held);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

/* ------------------------------------------------------------------ */
/* The property test: random arrival patterns against an oracle. */

typedef struct
{
  int        idx;
  gint64     arrive;
  guint64    cost;
  gint64     hold;
  gboolean   submitted;
  gboolean   released;
  gint64     admitted;   /* -1 until admitted */
  PftPermit *permit;
} Req;

static void
req_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      data)
{
  Req *r = data;
  g_autoptr(GError) error = NULL;

  r->permit = pft_rate_limiter_acquire_finish (PFT_RATE_LIMITER (source), result, &error);
  g_assert_no_error (error);
  r->admitted = _pft_clock_now_us (current_clock);
}

/* The earliest time request i can start under first-come-first-served
 * admission with these limits, given when the earlier ones started. */
static gint64
oracle_admit (Req     *reqs,
              int      i,
              gint64  *admit,
              guint    max_c,
              guint    max_w,
              guint64  max_cost,
              gint64   window)
{
  gint64 t0 = reqs[i].arrive;
  g_autoptr(GArray) cand = g_array_new (FALSE, FALSE, sizeof (gint64));

  if (i > 0)
    t0 = MAX (t0, admit[i - 1]);
  g_array_append_val (cand, t0);
  for (int j = 0; j < i; j++)
    {
      gint64 rel = admit[j] + reqs[j].hold;
      gint64 exp = admit[j] + window;
      if (rel > t0)
        g_array_append_val (cand, rel);
      if (exp > t0)
        g_array_append_val (cand, exp);
    }

  for (;;)
    {
      /* The smallest candidate not yet tried. */
      guint best = 0;
      gint64 t;
      guint conc = 0, win = 0;
      guint64 cost = 0;

      g_assert_cmpuint (cand->len, >, 0);
      for (guint k = 1; k < cand->len; k++)
        if (g_array_index (cand, gint64, k) < g_array_index (cand, gint64, best))
          best = k;
      t = g_array_index (cand, gint64, best);
      g_array_remove_index_fast (cand, best);

      for (int j = 0; j < i; j++)
        {
          if (admit[j] + reqs[j].hold > t)
            conc++;
          if (admit[j] + window > t)
            {
              win++;
              cost += reqs[j].cost;
            }
        }
      if (conc < max_c &&
          (max_w == 0 || win < max_w) &&
          (max_cost == 0 || cost + reqs[i].cost <= max_cost))
        return t;
    }
}

static void
run_pattern (guint pattern)
{
  PftClock *clock = fake_clock ();
  guint max_c = g_test_rand_int_range (1, 5);
  guint max_w = g_test_rand_int_range (0, 7);
  guint64 max_cost = g_test_rand_bit () ? 0 : (guint64) g_test_rand_int_range (10, 61);
  gint64 window = g_test_rand_bit () ? g_test_rand_int_range (1, 6) * SEC
                                     : g_test_rand_int_range (1000, 5 * SEC);
  int n = g_test_rand_int_range (10, 41);
  Req *reqs = g_new0 (Req, n);
  g_autofree gint64 *admit = g_new (gint64, n);
  PftRateLimiter *limiter;
  gint64 t = START_US;

  if (max_w == 0 && max_cost == 0)
    max_w = 3;

  limiter = fake_limiter (clock, max_c, max_w, (double) window / SEC);
  pft_rate_limiter_set_max_cost_per_window (limiter, max_cost);

  for (int i = 0; i < n; i++)
    {
      switch (g_test_rand_int_range (0, 3))
        {
        case 0: break;                                             /* same instant */
        case 1: t += g_test_rand_int_range (1, 1000); break;       /* close */
        default: t += g_test_rand_int_range (1, (gint32) MIN (2 * window, G_MAXINT32)); break;
        }
      reqs[i].idx = i;
      reqs[i].arrive = t;
      reqs[i].cost = max_cost ? (guint64) g_test_rand_int_range (0, (gint32) max_cost + 1)
                              : (guint64) g_test_rand_int_range (0, 6);
      reqs[i].hold = g_test_rand_int_range (1, (gint32) MIN (2 * window, G_MAXINT32));
      reqs[i].admitted = -1;
    }

  /* Drive the limiter event by event: releases, arrivals, and the
   * limiter's own deadline, whichever comes first. */
  for (;;)
    {
      gint64 now = _pft_clock_now_us (clock);
      gint64 next = -1, deadline;
      gboolean changed = TRUE;

      while (changed)
        {
          changed = FALSE;
          for (int i = 0; i < n; i++)
            if (reqs[i].admitted >= 0 && !reqs[i].released &&
                reqs[i].admitted + reqs[i].hold <= now)
              {
                reqs[i].released = TRUE;
                g_clear_object (&reqs[i].permit);
                changed = TRUE;
              }
          for (int i = 0; i < n; i++)
            if (!reqs[i].submitted && reqs[i].arrive <= now)
              {
                reqs[i].submitted = TRUE;
                pft_rate_limiter_acquire_async (limiter, reqs[i].cost, NULL, req_cb, &reqs[i]);
                changed = TRUE;
              }
          while (g_main_context_iteration (NULL, FALSE))
            changed = TRUE;
        }

      for (int i = 0; i < n; i++)
        {
          if (!reqs[i].submitted && (next < 0 || reqs[i].arrive < next))
            next = reqs[i].arrive;
          if (reqs[i].admitted >= 0 && !reqs[i].released &&
              (next < 0 || reqs[i].admitted + reqs[i].hold < next))
            next = reqs[i].admitted + reqs[i].hold;
        }
      deadline = _pft_fake_clock_get_next_deadline (clock);
      if (deadline >= 0 && (next < 0 || deadline < next))
        next = deadline;
      if (next < 0)
        break;
      g_assert_cmpint (next, >, now);
      /* One timer per limiter, armed only while someone waits. */
      g_assert_cmpuint (_pft_fake_clock_get_n_armed (clock), <=, 1);
      _pft_fake_clock_advance (clock, next - now);
    }

  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);

  for (int i = 0; i < n; i++)
    {
      guint conc = 0, win = 0;
      guint64 cost = 0;

      g_assert_cmpint (reqs[i].admitted, >=, reqs[i].arrive);

      /* No window (a, a + window] around any admission exceeds a limit,
       * and concurrency never exceeds its limit. */
      for (int j = 0; j < n; j++)
        {
          if (reqs[j].admitted <= reqs[i].admitted &&
              reqs[j].admitted + window > reqs[i].admitted)
            {
              win++;
              cost += reqs[j].cost;
            }
          if (reqs[j].admitted <= reqs[i].admitted &&
              reqs[j].admitted + reqs[j].hold > reqs[i].admitted)
            conc++;
        }
      if (max_w > 0)
        g_assert_cmpuint (win, <=, max_w);
      if (max_cost > 0)
        g_assert_cmpuint (cost, <=, max_cost);
      g_assert_cmpuint (conc, <=, max_c);

      /* And nobody waited while there was room: every admission happens
       * at the earliest time the limits allow, in arrival order. */
      admit[i] = oracle_admit (reqs, i, admit, max_c, max_w, max_cost, window);
      if (admit[i] != reqs[i].admitted)
        g_error ("pattern %u (max_c=%u max_w=%u max_cost=%" G_GUINT64_FORMAT " window=%" G_GINT64_FORMAT "us): "
                 "request %d admitted at %" G_GINT64_FORMAT ", the limits allow %" G_GINT64_FORMAT,
                 pattern, max_c, max_w, max_cost, window, i,
                 reqs[i].admitted - START_US, admit[i] - START_US);
    }

  g_object_unref (limiter);
  g_free (reqs);
  fake_clock_done (clock);
}

static void
test_exact_window_property (void)
{
  guint patterns = g_test_thorough () ? 20000 : 2000;

  for (guint p = 0; p < patterns; p++)
    run_pattern (p);
}

/* ------------------------------------------------------------------ */

static void
test_smooth_spacing (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 100, 60, 60);
  Acq acq[8] = { 0 };

  pft_rate_limiter_set_mode (limiter, PFT_LIMITER_MODE_SMOOTH);

  /* 60 per minute, burst 1: one per second, not 60 at once. */
  for (guint i = 0; i < 5; i++)
    pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &acq[i]);
  drain ();
  g_assert_true (acq[0].done);
  g_assert_false (acq[1].done);
  for (guint i = 1; i < 5; i++)
    {
      advance (clock, SEC - 1);
      g_assert_false (acq[i].done);
      advance (clock, 1);
      g_assert_true (acq[i].done);
      g_assert_cmpint (acq[i].at - acq[i - 1].at, ==, SEC);
    }
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 5);
  for (guint i = 0; i < 5; i++)
    acq_clear (&acq[i]);

  /* Burst 3 after a quiet spell: three at once, then one a second. */
  advance (clock, 10 * SEC);
  pft_rate_limiter_set_burst (limiter, 3);
  for (guint i = 0; i < 5; i++)
    pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &acq[i]);
  drain ();
  g_assert_true (acq[0].done && acq[1].done && acq[2].done);
  g_assert_false (acq[3].done);
  advance (clock, SEC);
  g_assert_true (acq[3].done);
  g_assert_false (acq[4].done);
  advance (clock, SEC);
  g_assert_true (acq[4].done);
  for (guint i = 0; i < 5; i++)
    acq_clear (&acq[i]);

  /* The cost budget is paced too: 600 per minute is 10 a second, so a
   * request of 20 pushes the next one 2 s later. */
  advance (clock, 10 * SEC);
  pft_rate_limiter_set_burst (limiter, 1);
  pft_rate_limiter_set_max_per_window (limiter, 0);
  pft_rate_limiter_set_max_cost_per_window (limiter, 600);
  pft_rate_limiter_acquire_async (limiter, 20, NULL, acq_cb, &acq[0]);
  pft_rate_limiter_acquire_async (limiter, 10, NULL, acq_cb, &acq[1]);
  pft_rate_limiter_acquire_async (limiter, 10, NULL, acq_cb, &acq[2]);
  drain ();
  g_assert_true (acq[0].done);
  advance (clock, 2 * SEC - 1);
  g_assert_false (acq[1].done);
  advance (clock, 1);
  g_assert_true (acq[1].done);
  advance (clock, SEC);
  g_assert_true (acq[2].done);
  for (guint i = 0; i < 3; i++)
    acq_clear (&acq[i]);

  g_clear_object (&limiter);
  fake_clock_done (clock);
}

static void
test_fifo_mixed_costs (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 10, 0, 60);
  g_autoptr(PftPermit) first = NULL;
  Acq big = { 0 }, small = { 0 }, mid = { 0 }, late = { 0 };

  pft_rate_limiter_set_max_cost_per_window (limiter, 100);
  first = pft_rate_limiter_try_acquire (limiter, 60, NULL);
  g_assert_nonnull (first);

  /* 60 used: the head (50) must wait for the window; the 10 behind it
   * would fit, but waits its turn, so the head is never starved. */
  pft_rate_limiter_acquire_async (limiter, 50, NULL, acq_cb, &big);
  pft_rate_limiter_acquire_async (limiter, 10, NULL, acq_cb, &small);
  pft_rate_limiter_acquire_async (limiter, 30, NULL, acq_cb, &mid);
  drain ();
  g_assert_false (big.done);
  g_assert_false (small.done);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 3);
  g_assert_null (pft_rate_limiter_try_acquire (limiter, 1, NULL));

  /* No slot is held while waiting. */
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);

  advance (clock, 60 * SEC);
  g_assert_true (big.done && small.done && mid.done);
  g_assert_cmpint (big.order, <, small.order);
  g_assert_cmpint (small.order, <, mid.order);
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (limiter), ==, 90);

  /* 90 used: a request of 20 waits even though a 10 would fit later. */
  pft_rate_limiter_acquire_async (limiter, 20, NULL, acq_cb, &late);
  drain ();
  g_assert_false (late.done);
  advance (clock, 60 * SEC);
  g_assert_true (late.done);

  acq_clear (&big);
  acq_clear (&small);
  acq_clear (&mid);
  acq_clear (&late);
  g_clear_object (&first);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

static void
test_cancel_middle (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 1, 0, 60);
  g_autoptr(PftPermit) held = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  g_autoptr(GCancellable) cb = g_cancellable_new ();
  Acq a = { 0 }, b = { 0 }, c = { 0 };

  pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &a);
  pft_rate_limiter_acquire_async (limiter, 0, cb, acq_cb, &b);
  pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &c);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 3);

  g_cancellable_cancel (cb);
  /* Out of the queue at once, before any main loop iteration. */
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 2);
  drain ();
  g_assert_true (b.done);
  g_assert_error (b.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (a.done);

  g_clear_object (&held);
  drain ();
  g_assert_true (a.done);
  g_assert_false (c.done);
  g_clear_object (&a.permit);
  drain ();
  g_assert_true (c.done);
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (limiter), ==, 3);

  acq_clear (&a);
  acq_clear (&b);
  acq_clear (&c);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

static void
test_cancel_head (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 10, 0, 60);
  g_autoptr(PftPermit) held = NULL;
  g_autoptr(GCancellable) ca = g_cancellable_new ();
  Acq a = { 0 }, b = { 0 };

  pft_rate_limiter_set_max_cost_per_window (limiter, 100);
  held = pft_rate_limiter_try_acquire (limiter, 70, NULL);

  /* The head needs 50 (only 30 left); the one behind needs 20. */
  pft_rate_limiter_acquire_async (limiter, 50, ca, acq_cb, &a);
  pft_rate_limiter_acquire_async (limiter, 20, NULL, acq_cb, &b);
  drain ();
  g_assert_false (a.done || b.done);
  g_assert_cmpuint (_pft_fake_clock_get_n_armed (clock), ==, 1);

  /* Cancelling the head wakes the next one, which fits: no time passes. */
  g_cancellable_cancel (ca);
  drain ();
  g_assert_true (a.done);
  g_assert_error (a.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (b.done);
  g_assert_nonnull (b.permit);
  /* The cancelled waiter consumed nothing. */
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (limiter), ==, 90);
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 2);
  g_assert_cmpuint (_pft_fake_clock_get_n_armed (clock), ==, 0);

  /* A cancellable cancelled before the call: fails without queueing. */
  acq_clear (&a);
  pft_rate_limiter_acquire_async (limiter, 1, ca, acq_cb, &a);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 0);
  drain ();
  g_assert_error (a.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  acq_clear (&a);
  acq_clear (&b);
  g_clear_object (&held);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

/* The Python original leaked the concurrency slot of every cancelled (or
 * timed out) waiter: with max_concurrent=2, two cancels left no slot at all
 * and every later acquire hung for good. */
static void
test_two_cancels_no_deadlock (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 2, 0, 60);
  PftPermit *p1 = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  PftPermit *p2 = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  GCancellable *c1 = g_cancellable_new ();
  GCancellable *c2 = g_cancellable_new ();
  Acq w1 = { 0 }, w2 = { 0 }, w3 = { 0 }, w4 = { 0 };

  /* Two waiters time out (are cancelled) while the limiter is full. */
  pft_rate_limiter_acquire_async (limiter, 0, c1, acq_cb, &w1);
  pft_rate_limiter_acquire_async (limiter, 0, c2, acq_cb, &w2);
  g_cancellable_cancel (c1);
  g_cancellable_cancel (c2);
  drain ();
  g_assert_error (w1.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_error (w2.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  g_object_unref (p1);
  g_object_unref (p2);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);

  /* Both slots are there: two new waiters go at once. */
  pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &w3);
  pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &w4);
  drain ();
  g_assert_nonnull (w3.permit);
  g_assert_nonnull (w4.permit);
  acq_clear (&w3);
  acq_clear (&w4);

  /* Worse case: the waiter was already granted when it was cancelled
   * (its callback had not run yet). The permit is returned to the limiter
   * by the cancelled task, not leaked. */
  acq_clear (&w1);
  acq_clear (&w2);
  g_object_unref (c1);
  g_object_unref (c2);
  c1 = g_cancellable_new ();
  c2 = g_cancellable_new ();
  p1 = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  p2 = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  pft_rate_limiter_acquire_async (limiter, 0, c1, acq_cb, &w1);
  pft_rate_limiter_acquire_async (limiter, 0, c2, acq_cb, &w2);
  g_object_unref (p1);
  g_object_unref (p2);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 2);
  g_cancellable_cancel (c1);
  g_cancellable_cancel (c2);
  drain ();
  g_assert_error (w1.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_error (w2.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  p1 = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  p2 = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  g_assert_nonnull (p1);
  g_assert_nonnull (p2);

  g_object_unref (p1);
  g_object_unref (p2);
  acq_clear (&w1);
  acq_clear (&w2);
  g_object_unref (c1);
  g_object_unref (c2);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    data)
{
  (*(int *) data)++;
}

static void
test_resize (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 1, 0, 60);
  PftPermit *held = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  Acq w[4] = { 0 };
  int n_max_notify = 0, n_in_flight_notify = 0;

  g_signal_connect (limiter, "notify::max-concurrent", G_CALLBACK (count_notify), &n_max_notify);
  g_signal_connect (limiter, "notify::in-flight", G_CALLBACK (count_notify), &n_in_flight_notify);

  for (guint i = 0; i < 4; i++)
    pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &w[i]);
  drain ();
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 4);

  /* Up: waiters go at once. */
  pft_rate_limiter_set_max_concurrent (limiter, 3);
  g_assert_cmpint (n_max_notify, ==, 1);
  pft_rate_limiter_set_max_concurrent (limiter, 3);
  g_assert_cmpint (n_max_notify, ==, 1);   /* no change, no notify */
  g_assert_cmpint (n_in_flight_notify, ==, 1);
  drain ();
  g_assert_true (w[0].done && w[1].done);
  g_assert_false (w[2].done);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 3);

  /* Down: nobody new until in flight is below the new value. */
  pft_rate_limiter_set_max_concurrent (limiter, 1);
  g_object_unref (held);
  drain ();
  g_assert_false (w[2].done);
  g_clear_object (&w[0].permit);
  drain ();
  g_assert_false (w[2].done);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);
  g_clear_object (&w[1].permit);
  drain ();
  g_assert_true (w[2].done);
  g_assert_false (w[3].done);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);
  g_clear_object (&w[2].permit);
  drain ();
  g_assert_true (w[3].done);
  for (guint i = 0; i < 4; i++)
    acq_clear (&w[i]);
  g_object_set (limiter, "max-concurrent", 10, NULL);

  /* Window limits: resizing keeps the history. */
  pft_rate_limiter_set_max_per_window (limiter, 2);
  {
    PftPermit *a = pft_rate_limiter_try_acquire (limiter, 0, NULL);
    PftPermit *b;

    advance (clock, 10 * SEC);
    b = pft_rate_limiter_try_acquire (limiter, 0, NULL);
    g_assert_nonnull (a);
    g_assert_nonnull (b);
    pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &w[0]);
    drain ();
    g_assert_false (w[0].done);

    /* Up: goes at once. */
    pft_rate_limiter_set_max_per_window (limiter, 3);
    drain ();
    g_assert_true (w[0].done);
    g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 3);

    /* Down to 1: the three admissions still count. */
    pft_rate_limiter_set_max_per_window (limiter, 1);
    pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &w[1]);
    advance (clock, 50 * SEC - 1);   /* t = 60 s - 1 µs: all three live */
    g_assert_false (w[1].done);
    advance (clock, 1);              /* the first expires; two still live */
    g_assert_false (w[1].done);

    /* A shorter window lets the rest expire now (admitted 10 s ago). */
    pft_rate_limiter_set_window (limiter, 10);
    drain ();
    g_assert_true (w[1].done);
    g_assert_cmpfloat (pft_rate_limiter_get_window (limiter), ==, 10.0);

    g_object_unref (a);
    g_object_unref (b);
    acq_clear (&w[0]);
    acq_clear (&w[1]);
  }

  g_clear_object (&limiter);
  fake_clock_done (clock);
}

static void
count_rate_limited (PftRateLimiter *limiter,
                    double          retry_after,
                    gpointer        data)
{
  GArray *seen = data;

  g_array_append_val (seen, retry_after);
}

static void
test_pause (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 5, 10, 60);
  g_autoptr(GArray) seen = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(PftPermit) before = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  Acq w = { 0 };

  g_signal_connect (limiter, "rate-limited", G_CALLBACK (count_rate_limited), seen);

  pft_rate_limiter_pause (limiter, 5);
  g_assert_cmpuint (seen->len, ==, 1);
  g_assert_cmpfloat (g_array_index (seen, double, 0), ==, 5.0);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), ==, 5.0);
  g_assert_null (pft_rate_limiter_try_acquire (limiter, 0, NULL));
  g_assert_cmpuint (pft_rate_limiter_get_total_pauses (limiter), ==, 1);

  /* Shorter: no change, no signal. Longer: extends. */
  pft_rate_limiter_pause (limiter, 2);
  g_assert_cmpuint (seen->len, ==, 1);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), ==, 5.0);
  pft_rate_limiter_pause (limiter, 8);
  g_assert_cmpuint (seen->len, ==, 2);
  g_assert_cmpuint (pft_rate_limiter_get_total_pauses (limiter), ==, 2);

  pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &w);
  advance (clock, 8 * SEC - 1);
  g_assert_false (w.done);
  advance (clock, 1);
  g_assert_true (w.done);
  g_assert_cmpint (w.at, ==, START_US + 8 * SEC);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), ==, 0.0);
  /* The pause kept the window's history. */
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 2);
  acq_clear (&w);

  g_clear_object (&before);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

static void
test_report_error (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 5, 0, 60);
  g_autoptr(GArray) seen = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GError) limited = pft_error_new_rate_limited (3.0, "api", NULL);
  g_autoptr(GError) plain = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "disk on fire");
  g_autoptr(GError) no_retry = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "HTTP 429 Too Many Requests");
  Acq w = { 0 };

  g_signal_connect (limiter, "rate-limited", G_CALLBACK (count_rate_limited), seen);

  g_assert_false (pft_rate_limiter_report_error (limiter, NULL));
  g_assert_false (pft_rate_limiter_report_error (limiter, plain));
  g_assert_cmpuint (seen->len, ==, 0);

  /* A rate limit without retry-after: signalled, no pause. */
  g_assert_true (pft_rate_limiter_report_error (limiter, no_retry));
  g_assert_cmpuint (seen->len, ==, 1);
  g_assert_cmpfloat (g_array_index (seen, double, 0), ==, -1.0);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), ==, 0.0);
  g_assert_cmpuint (pft_rate_limiter_get_total_pauses (limiter), ==, 0);

  /* With a retry-after: pauses for it and signals once. */
  g_assert_true (pft_rate_limiter_report_error (limiter, limited));
  g_assert_cmpuint (seen->len, ==, 2);
  g_assert_cmpfloat (g_array_index (seen, double, 1), ==, 3.0);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), ==, 3.0);
  g_assert_cmpuint (pft_rate_limiter_get_total_pauses (limiter), ==, 1);

  pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &w);
  advance (clock, 3 * SEC - 1);
  g_assert_false (w.done);
  advance (clock, 1);
  g_assert_true (w.done);
  acq_clear (&w);

  g_clear_object (&limiter);
  fake_clock_done (clock);
}

static void
test_reset (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 5, 2, 60);
  g_autoptr(PftPermit) a = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  g_autoptr(PftPermit) b = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  g_autoptr(PftPermit) c = NULL;
  g_autoptr(PftPermit) d = NULL;
  Acq w = { 0 };

  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_null (pft_rate_limiter_try_acquire (limiter, 0, NULL));
  pft_rate_limiter_pause (limiter, 10);
  pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &w);
  drain ();
  g_assert_false (w.done);

  /* The window and the pause are forgotten: the waiter goes now. */
  pft_rate_limiter_reset (limiter);
  drain ();
  g_assert_true (w.done);
  g_assert_cmpint (w.at, ==, START_US);
  g_assert_cmpfloat (pft_rate_limiter_get_paused_for (limiter), ==, 0.0);
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 1);

  /* The limits, the held permits and the totals stay. */
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (limiter), ==, 2);
  g_assert_cmpfloat (pft_rate_limiter_get_window (limiter), ==, 60.0);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (limiter), ==, 5);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 3);
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (limiter), ==, 3);
  g_assert_cmpuint (pft_rate_limiter_get_total_pauses (limiter), ==, 1);
  c = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  g_assert_nonnull (c);
  g_assert_null (pft_rate_limiter_try_acquire (limiter, 0, NULL));

  /* Permits from before the reset are released as usual. */
  pft_permit_release (a);
  pft_permit_release (b);
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 2);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 2);

  /* A full window later, admissions resume as usual. */
  advance (clock, 60 * SEC);
  d = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  g_assert_nonnull (d);

  acq_clear (&w);
  g_clear_object (&a);
  g_clear_object (&b);
  g_clear_object (&c);
  g_clear_object (&d);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

static void
test_half_open_after_pause (void)
{
  /* After a pause, one request goes alone: the others wait until it
   * comes back without a rate limit. A probe refused (and paused again)
   * keeps them waiting, and the first one after the new pause is the next
   * probe. */
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 5, 0, 60);
  g_autoptr(GError) limited = pft_error_new_rate_limited (2.0, "api", NULL);
  Acq w[4] = { { 0 } };

  g_assert_true (pft_rate_limiter_report_error (limiter, limited));
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &w[i]);

  advance (clock, 2 * SEC);
  g_assert_true (w[0].done);
  g_assert_false (w[1].done);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 3);

  /* The probe is refused: paused again, the others still wait. */
  g_assert_true (pft_rate_limiter_report_error (limiter, limited));
  pft_permit_release (w[0].permit);
  drain ();
  g_assert_false (w[1].done);
  advance (clock, 2 * SEC - 1);
  g_assert_false (w[1].done);
  advance (clock, 1);
  g_assert_true (w[1].done);       /* the next probe */
  g_assert_false (w[2].done);

  /* It comes back accepted: everyone goes. */
  pft_permit_release (w[1].permit);
  drain ();
  g_assert_true (w[2].done);
  g_assert_true (w[3].done);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 2);

  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    acq_clear (&w[i]);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

static void
test_settle (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 10, 0, 60);
  g_autoptr(PftPermit) a = NULL;
  g_autoptr(PftPermit) b = NULL;
  Acq w = { 0 };

  pft_rate_limiter_set_max_cost_per_window (limiter, 100);
  a = pft_rate_limiter_try_acquire (limiter, 80, NULL);
  g_assert_cmpuint (pft_permit_get_cost (a), ==, 80);
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (limiter), ==, 80);
  g_assert_null (pft_rate_limiter_try_acquire (limiter, 30, NULL));

  /* The estimate was high: give the difference back. */
  pft_permit_settle (a, 10);
  g_assert_cmpuint (pft_permit_get_cost (a), ==, 10);
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (limiter), ==, 10);
  b = pft_rate_limiter_try_acquire (limiter, 30, NULL);
  g_assert_nonnull (b);
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (limiter), ==, 40);

  /* Too low: charge the difference (after release, too). */
  pft_permit_release (b);
  pft_permit_settle (b, 85);
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (limiter), ==, 95);

  /* Giving back wakes a waiter that now fits. */
  pft_rate_limiter_acquire_async (limiter, 50, NULL, acq_cb, &w);
  drain ();
  g_assert_false (w.done);
  pft_permit_settle (b, 20);
  drain ();
  g_assert_true (w.done);
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (limiter), ==, 80);
  acq_clear (&w);

  /* Once the entry has left the window, only the permit's cost changes. */
  advance (clock, 60 * SEC);
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (limiter), ==, 0);
  pft_permit_settle (a, 99);
  g_assert_cmpuint (pft_permit_get_cost (a), ==, 99);
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (limiter), ==, 0);

  g_clear_object (&a);
  g_clear_object (&b);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

static void
test_permit_keeps_limiter (void)
{
  PftRateLimiter *limiter = pft_rate_limiter_new (1, 0, 1);
  PftPermit *permit = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  GWeakRef weak;

  g_weak_ref_init (&weak, limiter);
  g_object_unref (limiter);
  limiter = g_weak_ref_get (&weak);
  g_assert_nonnull (limiter);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);
  g_object_unref (limiter);
  g_object_unref (permit);
  g_assert_null (g_weak_ref_get (&weak));
  g_weak_ref_clear (&weak);
}

/* ------------------------------------------------------------------ */
/* Blocking acquire */

typedef struct
{
  PftRateLimiter *limiter;
  GCancellable   *cancellable;
  guint64         cost;
  PftPermit      *permit;
  GError         *error;
  gint            done;
} BlockingCall;

static gpointer
blocking_thread (gpointer data)
{
  BlockingCall *call = data;

  call->permit = pft_rate_limiter_acquire (call->limiter, call->cost, call->cancellable, &call->error);
  g_atomic_int_set (&call->done, 1);
  return NULL;
}

static void
wait_for_waiting (PftRateLimiter *limiter,
                  guint           n)
{
  gint64 end = g_get_monotonic_time () + 10 * SEC;

  while (pft_rate_limiter_get_waiting (limiter) != n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_usleep (100);
    }
}

static void
test_blocking_fake_clock (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 5, 1, 60);
  g_autoptr(PftPermit) first = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  BlockingCall a = { limiter, NULL, 0 }, b = { limiter, cancellable, 0 };
  GThread *ta, *tb;

  ta = g_thread_new ("blocking-a", blocking_thread, &a);
  wait_for_waiting (limiter, 1);
  tb = g_thread_new ("blocking-b", blocking_thread, &b);
  wait_for_waiting (limiter, 2);

  /* Cancelling the second wakes its thread with an error. */
  g_cancellable_cancel (cancellable);
  g_thread_join (tb);
  g_assert_error (b.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (b.permit);
  g_assert_false (g_atomic_int_get (&a.done));

  /* The first is admitted when the window moves on. */
  _pft_fake_clock_advance (clock, 60 * SEC - 1);
  g_usleep (1000);
  g_assert_false (g_atomic_int_get (&a.done));
  _pft_fake_clock_advance (clock, 1);
  g_thread_join (ta);
  g_assert_no_error (a.error);
  g_assert_nonnull (a.permit);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 2);

  g_clear_object (&a.permit);
  g_clear_error (&b.error);
  g_clear_object (&first);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

typedef struct
{
  PftRateLimiter *limiter;
  guint           max;
  gint            in_flight;
  gint            max_seen;
  guint           rounds;
} Hammer;

static gpointer
hammer_thread (gpointer data)
{
  Hammer *h = data;

  for (guint i = 0; i < h->rounds; i++)
    {
      g_autoptr(GError) error = NULL;
      PftPermit *permit;
      gint now, seen;

      if (i % 3 == 0)
        {
          permit = pft_rate_limiter_try_acquire (h->limiter, 0, &error);
          g_assert_no_error (error);
          if (permit == NULL)
            continue;
        }
      else
        permit = pft_rate_limiter_acquire (h->limiter, 1, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (permit);

      now = g_atomic_int_add (&h->in_flight, 1) + 1;
      do
        seen = g_atomic_int_get (&h->max_seen);
      while (now > seen && !g_atomic_int_compare_and_exchange (&h->max_seen, seen, now));
      if (i % 7 == 0)
        g_usleep (20);
      g_atomic_int_add (&h->in_flight, -1);

      if (i % 2 == 0)
        pft_permit_release (permit);
      g_object_unref (permit);
    }
  return NULL;
}

static void
test_threads_hammer (void)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (3, 0, 1);
  Hammer h = { limiter, 3, 0, 0, 2000 };
  GThread *threads[8];

  /* A generous window limit so that the window and timer paths run too:
   * 4000 per 0.2 s. */
  pft_rate_limiter_set_max_per_window (limiter, 4000);
  pft_rate_limiter_set_window (limiter, 0.2);

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("hammer", hammer_thread, &h);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (h.max_seen, >=, 1);
  g_assert_cmpint (h.max_seen, <=, 3);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (limiter), >=, 8 * 2000 * 2 / 3);
}

/* ------------------------------------------------------------------ */
/* Statistics snapshot */

static void
assert_stat_uint (GVariant   *stats,
                  const char *key,
                  guint64     expected)
{
  g_autoptr(GVariant) v = g_variant_lookup_value (stats, key, NULL);

  g_assert_nonnull (v);
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT32))
    g_assert_cmpuint (g_variant_get_uint32 (v), ==, expected);
  else
    {
      g_assert_true (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64));
      g_assert_cmpuint (g_variant_get_uint64 (v), ==, expected);
    }
}

static double
stat_double (GVariant   *stats,
             const char *key)
{
  double v = -1;

  g_assert_true (g_variant_lookup (stats, key, "d", &v));
  return v;
}

/* Every key with its documented type and the value the getter gives. */
static void
test_dup_stats (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 4, 10, 60);
  g_autoptr(PftPermit) p1 = NULL;
  g_autoptr(PftPermit) p2 = NULL;
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) smooth = NULL;
  g_autoptr(GVariant) later = NULL;
  const char *mode = NULL;
  static const struct { const char *key, *type; } keys[] = {
    { "max_concurrent", "u" }, { "max_per_window", "u" }, { "window", "d" },
    { "max_cost_per_window", "t" }, { "mode", "s" }, { "burst", "u" },
    { "in_flight", "u" }, { "waiting", "u" }, { "window_count", "u" },
    { "window_cost", "t" }, { "total_admitted", "t" }, { "total_pauses", "t" },
    { "paused_for", "d" },
  };

  pft_rate_limiter_set_max_cost_per_window (limiter, 100);
  p1 = pft_rate_limiter_try_acquire (limiter, 3, NULL);
  p2 = pft_rate_limiter_try_acquire (limiter, 5, NULL);
  g_assert_nonnull (p1);
  g_assert_nonnull (p2);
  pft_rate_limiter_pause (limiter, 2.5);

  stats = pft_rate_limiter_dup_stats (limiter);
  g_assert_false (g_variant_is_floating (stats));
  g_assert_true (g_variant_is_of_type (stats, G_VARIANT_TYPE_VARDICT));
  g_assert_cmpuint (g_variant_n_children (stats), ==, G_N_ELEMENTS (keys));
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autoptr(GVariant) v = g_variant_lookup_value (stats, keys[i].key, NULL);

      g_assert_nonnull (v);
      g_assert_cmpstr (g_variant_get_type_string (v), ==, keys[i].type);
    }

  assert_stat_uint (stats, "max_concurrent", 4);
  assert_stat_uint (stats, "max_per_window", 10);
  g_assert_cmpfloat (stat_double (stats, "window"), ==, 60.0);
  assert_stat_uint (stats, "max_cost_per_window", 100);
  g_assert_true (g_variant_lookup (stats, "mode", "&s", &mode));
  g_assert_cmpstr (mode, ==, "sliding-window");
  assert_stat_uint (stats, "burst", pft_rate_limiter_get_burst (limiter));
  assert_stat_uint (stats, "in_flight", 2);
  assert_stat_uint (stats, "waiting", 0);
  assert_stat_uint (stats, "window_count", 2);
  assert_stat_uint (stats, "window_cost", 8);
  assert_stat_uint (stats, "total_admitted", 2);
  assert_stat_uint (stats, "total_pauses", 1);
  g_assert_cmpfloat (stat_double (stats, "paused_for"), ==, 2.5);

  /* Limits changed later show in a later snapshot, not in the old one. */
  pft_rate_limiter_set_mode (limiter, PFT_LIMITER_MODE_SMOOTH);
  pft_rate_limiter_set_burst (limiter, 3);
  smooth = pft_rate_limiter_dup_stats (limiter);
  g_assert_true (g_variant_lookup (smooth, "mode", "&s", &mode));
  g_assert_cmpstr (mode, ==, "smooth");
  assert_stat_uint (smooth, "burst", 3);
  g_assert_true (g_variant_lookup (stats, "mode", "&s", &mode));
  g_assert_cmpstr (mode, ==, "sliding-window");

  /* Past the pause and the window: both read from the limiter's clock. */
  advance (clock, 61 * SEC);
  later = pft_rate_limiter_dup_stats (limiter);
  g_assert_cmpfloat (stat_double (later, "paused_for"), ==, 0.0);
  assert_stat_uint (later, "window_count", pft_rate_limiter_get_window_count (limiter));
  assert_stat_uint (later, "window_cost", pft_rate_limiter_get_window_cost (limiter));
  assert_stat_uint (later, "in_flight", 2);

  pft_permit_release (p1);
  pft_permit_release (p2);
  fake_clock_done (clock);
}

typedef struct
{
  PftRateLimiter *limiter;
  guint           rounds;
} StatsHammer;

static gpointer
stats_hammer_thread (gpointer data)
{
  StatsHammer *h = data;

  for (guint i = 0; i < h->rounds; i++)
    {
      g_autoptr(PftPermit) permit = pft_rate_limiter_try_acquire (h->limiter, 2, NULL);

      if (permit != NULL)
        pft_permit_release (permit);
    }
  return NULL;
}

/* Threads admit and release while snapshots are taken. On a clock that
 * stands still nothing leaves the window, so in any one instant every
 * admission is in the window: window_count == total_admitted and
 * window_cost == 2 * window_count. Keys read one lock apart (as the
 * registry did with 13 getters) drift apart under this load. */
static void
test_dup_stats_concurrent (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 3, 1000000, 60);
  StatsHammer h = { limiter, 5000 };
  GThread *threads[4];
  guint64 admitted = 0;
  guint snapshots = 0;

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("stats-hammer", stats_hammer_thread, &h);

  do
    {
      g_autoptr(GVariant) stats = pft_rate_limiter_dup_stats (limiter);
      guint32 count = 0, in_flight = 0;
      guint64 cost = 0;

      g_assert_true (g_variant_lookup (stats, "window_count", "u", &count));
      g_assert_true (g_variant_lookup (stats, "window_cost", "t", &cost));
      g_assert_true (g_variant_lookup (stats, "total_admitted", "t", &admitted));
      g_assert_true (g_variant_lookup (stats, "in_flight", "u", &in_flight));
      g_assert_cmpuint (count, ==, admitted);
      g_assert_cmpuint (cost, ==, 2 * (guint64) count);
      g_assert_cmpuint (in_flight, <=, 3);
      snapshots++;
    }
  while (pft_rate_limiter_get_total_admitted (limiter) < G_N_ELEMENTS (threads) * h.rounds / 2
         && snapshots < 1000000);

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  fake_clock_done (clock);
}

/* ------------------------------------------------------------------ */
/* Real clock */

static void
test_real_clock_window (void)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (10, 3, 0.1);
  Acq acq[7] = { 0 };
  gint64 start = g_get_monotonic_time ();
  gint64 end = start + 10 * SEC;
  guint done = 0;

  for (guint i = 0; i < G_N_ELEMENTS (acq); i++)
    pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &acq[i]);
  while (done < G_N_ELEMENTS (acq))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_main_context_iteration (NULL, TRUE);
      done = 0;
      for (guint i = 0; i < G_N_ELEMENTS (acq); i++)
        done += acq[i].done;
    }

  /* 3 per 100 ms: the 4th to 6th no sooner than 100 ms after the start,
   * the 7th no sooner than 200 ms ("not much later" is left to the
   * benchmark). Callbacks run after admission, so these bounds hold
   * however late the main loop gets to them. */
  for (guint i = 0; i < G_N_ELEMENTS (acq); i++)
    {
      g_assert_nonnull (acq[i].permit);
      g_assert_cmpint (acq[i].at - start, >=, (gint64) (i / 3) * 100000);
    }
  g_assert_cmpint (acq[6].at - start, >=, 200000);
  g_assert_cmpint (acq[6].at - start, <, 5 * SEC);

  for (guint i = 0; i < G_N_ELEMENTS (acq); i++)
    acq_clear (&acq[i]);
}

static void
test_real_clock_blocking (void)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (10, 2, 0.05);
  gint64 start = g_get_monotonic_time ();
  gint64 last = 0;

  /* Blocking waits end at the deadline, in the waiting thread. */
  for (guint i = 0; i < 6; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PftPermit) permit = pft_rate_limiter_acquire (limiter, 0, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (permit);
      last = g_get_monotonic_time ();
    }
  g_assert_cmpint (last - start, >=, 100000);
  g_assert_cmpint (last - start, <, 5 * SEC);
}

typedef struct
{
  PftRateLimiter *limiter;
  GMainContext   *context;
  GThread        *thread;
  guint           wanted;
  guint           got;
  gboolean        wrong_context;
} ContextRun;

static void context_acquire_next (ContextRun *run);

static void
context_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  ContextRun *run = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PftPermit) permit = pft_rate_limiter_acquire_finish (PFT_RATE_LIMITER (source), result, &error);

  g_assert_no_error (error);
  g_assert_nonnull (permit);
  if (g_main_context_get_thread_default () != run->context || g_thread_self () != run->thread)
    run->wrong_context = TRUE;
  run->got++;
  if (run->got < run->wanted)
    context_acquire_next (run);
}

static void
context_acquire_next (ContextRun *run)
{
  pft_rate_limiter_acquire_async (run->limiter, 0, NULL, context_cb, run);
}

static gpointer
context_thread (gpointer data)
{
  ContextRun *run = data;
  gint64 end = g_get_monotonic_time () + 20 * SEC;

  /* Set here, not from g_thread_new()'s return: callbacks may run first. */
  run->thread = g_thread_self ();
  g_main_context_push_thread_default (run->context);
  /* Two waiters at a time from each context. */
  context_acquire_next (run);
  context_acquire_next (run);
  while (run->got < run->wanted + 1 && g_get_monotonic_time () < end)
    g_main_context_iteration (run->context, TRUE);
  g_main_context_pop_thread_default (run->context);
  return NULL;
}

static void
test_two_contexts (void)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (1, 20, 0.1);
  ContextRun runs[2] = { 0 };
  GThread *threads[2];

  /* 2 x 20 admissions at 20 per 100 ms, one at a time: the window holds
   * waiters back, so the timer thread completes them on their contexts. */
  for (guint i = 0; i < 2; i++)
    {
      runs[i].limiter = limiter;
      runs[i].context = g_main_context_new ();
      runs[i].wanted = 20;
    }
  for (guint i = 0; i < 2; i++)
    threads[i] = g_thread_new ("context", context_thread, &runs[i]);
  for (guint i = 0; i < 2; i++)
    {
      g_thread_join (threads[i]);
      g_assert_false (runs[i].wrong_context);
      g_assert_cmpuint (runs[i].got, ==, runs[i].wanted + 1);
      g_main_context_unref (runs[i].context);
    }
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (limiter), ==, 42);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
}

typedef struct
{
  gboolean called;
  guint64  entry;
  GError  *error;
} SlotResult;

static void
slot_ready (gpointer user_data,
            guint64  entry,
            GError  *error)
{
  SlotResult *r = user_data;

  r->called = TRUE;
  r->entry = entry;
  r->error = error;
}

static void
test_slot_cancel_after_grant (void)
{
  /* The dispatcher's slot path: a waiter granted a slot and cancelled
   * before its callback ran gets the cancellation, and the slot goes back,
   * so the limiter is as it was. */
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (1, 0, 60);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GMainContext) context = g_main_context_new ();
  SlotResult r = { 0 };
  guint64 entry = 0;
  GError *error = NULL;

  g_main_context_push_thread_default (context);
  g_assert_true (_pft_rate_limiter_try_acquire_slot (limiter, 0, &entry, &error));
  g_assert_no_error (error);
  g_assert_false (_pft_rate_limiter_try_acquire_slot (limiter, 0, &entry, &error));
  g_assert_no_error (error);

  _pft_rate_limiter_acquire_slot_async (limiter, 0, cancellable, slot_ready, &r);
  g_assert_false (r.called);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 1);

  /* The release grants the waiter; the cancellation comes before its
   * callback could run. */
  _pft_rate_limiter_release (limiter, entry);
  g_cancellable_cancel (cancellable);
  while (!r.called)
    g_main_context_iteration (context, TRUE);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 0);

  /* And a plain grant delivers the slot, to be released exactly once. */
  r.called = FALSE;
  _pft_rate_limiter_acquire_slot_async (limiter, 0, NULL, slot_ready, &r);
  while (!r.called)
    g_main_context_iteration (context, TRUE);
  g_assert_no_error (r.error);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);
  _pft_rate_limiter_release (limiter, r.entry);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_main_context_pop_thread_default (context);
}


static void
test_lowered_before_delivery (void)
{
  /* Grants on their way to their holders (an idle away) when
   * max-concurrent is lowered: none starts while as many requests as the
   * new value have started, so the provider never sees more at once than
   * the limit in force when a request begins. They keep their place and
   * their count, and go oldest first; a cancelled one gives its slot back. */
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (4, 0, 60);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  SlotResult a = { 0 }, c = { 0 };
  Acq b = { 0 };
  guint64 held[4];
  GError *error = NULL;

  for (guint i = 0; i < 4; i++)
    {
      g_assert_true (_pft_rate_limiter_try_acquire_slot (limiter, 0, &held[i], &error));
      g_assert_no_error (error);
    }
  _pft_rate_limiter_acquire_slot_async (limiter, 0, NULL, slot_ready, &a);
  pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &b);
  _pft_rate_limiter_acquire_slot_async (limiter, 0, cancellable, slot_ready, &c);
  for (guint i = 0; i < 3; i++)
    _pft_rate_limiter_release (limiter, held[i]);
  g_assert_cmpuint (pft_rate_limiter_get_waiting (limiter), ==, 0);

  /* Granted under 4, delivered under 1 with one request running. */
  pft_rate_limiter_set_max_concurrent (limiter, 1);
  drain ();
  g_assert_false (a.called || b.done || c.called);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 4);

  g_cancellable_cancel (cancellable);
  drain ();
  g_assert_true (c.called);
  g_assert_error (c.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&c.error);
  g_assert_false (a.called || b.done);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 3);

  /* The running request ends: the oldest grant starts, alone. */
  _pft_rate_limiter_release (limiter, held[3]);
  drain ();
  g_assert_true (a.called);
  g_assert_no_error (a.error);
  g_assert_false (b.done);

  _pft_rate_limiter_release (limiter, a.entry);
  drain ();
  g_assert_true (b.done);
  g_assert_no_error (b.error);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);
  acq_clear (&b);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  g_assert_cmpuint (pft_rate_limiter_get_total_admitted (limiter), ==, 7);
}

static void
test_lowered_then_raised (void)
{
  /* A grant held back by a lowered limit goes as soon as the limit is
   * raised again, without waiting for a release. */
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (2, 0, 60);
  SlotResult a = { 0 };
  guint64 held[2];
  GError *error = NULL;

  for (guint i = 0; i < 2; i++)
    {
      g_assert_true (_pft_rate_limiter_try_acquire_slot (limiter, 0, &held[i], &error));
      g_assert_no_error (error);
    }
  _pft_rate_limiter_acquire_slot_async (limiter, 0, NULL, slot_ready, &a);
  _pft_rate_limiter_release (limiter, held[0]);
  pft_rate_limiter_set_max_concurrent (limiter, 1);
  drain ();
  g_assert_false (a.called);
  pft_rate_limiter_set_max_concurrent (limiter, 2);
  drain ();
  g_assert_true (a.called);
  g_assert_no_error (a.error);
  _pft_rate_limiter_release (limiter, a.entry);
  _pft_rate_limiter_release (limiter, held[1]);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
}


/* ------------------------------------------------------------------ */
/* Issue 8: measured where the provider sees it                        */

/* Smooth mode with a burst never puts more than max-per-window into any
 * window: 10 per second with a burst of 5, asked for as fast as it
 * grants, over 5 s. */
static void
test_smooth_burst_keeps_window (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 1000, 10, 1);
  g_autoptr(GArray) stamps = g_array_new (FALSE, FALSE, sizeof (gint64));
  guint best = 0, j = 0;

  pft_rate_limiter_set_mode (limiter, PFT_LIMITER_MODE_SMOOTH);
  pft_rate_limiter_set_burst (limiter, 5);

  for (gint64 t = 0; t < 5 * SEC; t += SEC / 100)
    {
      PftPermit *permit;

      while ((permit = pft_rate_limiter_try_acquire (limiter, 0, NULL)) != NULL)
        {
          gint64 now = _pft_clock_now_us (clock);

          g_array_append_val (stamps, now);
          g_object_unref (permit);
        }
      advance (clock, SEC / 100);
    }
  for (guint i = 0; i < stamps->len; i++)
    {
      gint64 t = g_array_index (stamps, gint64, i);

      while (g_array_index (stamps, gint64, j) <= t - SEC)
        j++;
      best = MAX (best, i - j + 1);
    }
  g_assert_cmpuint (best, ==, 10);
  /* The burst still goes at once: 5 in the first instant. */
  g_assert_cmpint (g_array_index (stamps, gint64, 4), ==, g_array_index (stamps, gint64, 0));
  /* And the pacing still applies after it: about 10 a second, not 10
   * in a burst every second. */
  g_assert_cmpuint (stamps->len, <=, 5 * 10 + 5);

  g_clear_object (&limiter);
  fake_clock_done (clock);
}

/* A burst so large that its tolerance overflows 64-bit microseconds
 * (2^32 - 2 intervals of 3600 s) means "no pacing", not "a negative
 * tolerance"; the window still holds. */
static void
test_smooth_huge_burst (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 100, 2, 7200);
  PftPermit *permits[3];

  pft_rate_limiter_set_mode (limiter, PFT_LIMITER_MODE_SMOOTH);
  pft_rate_limiter_set_burst (limiter, G_MAXUINT);
  for (guint i = 0; i < 2; i++)
    {
      permits[i] = pft_rate_limiter_try_acquire (limiter, 0, NULL);
      g_assert_nonnull (permits[i]);
    }
  permits[2] = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  g_assert_null (permits[2]);
  for (guint i = 0; i < 2; i++)
    g_object_unref (permits[i]);

  g_clear_object (&limiter);
  fake_clock_done (clock);
}

/* Costs near 2^64 neither wrap the window's sum nor slip past the
 * limit. */
static void
test_cost_sum_saturates (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 100, 0, 60);
  g_autoptr(PftPermit) first = NULL;
  g_autoptr(PftPermit) second = NULL;
  g_autoptr(PftPermit) small = NULL;
  g_autoptr(GError) error = NULL;
  const guint64 half = G_GUINT64_CONSTANT (1) << 63;

  pft_rate_limiter_set_max_cost_per_window (limiter, G_MAXUINT64);
  first = pft_rate_limiter_try_acquire (limiter, half, &error);
  g_assert_no_error (error);
  g_assert_nonnull (first);
  /* 2^63 + 2^63 is more than 2^64 - 1. */
  second = pft_rate_limiter_try_acquire (limiter, half, &error);
  g_assert_no_error (error);
  g_assert_null (second);
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (limiter), ==, half);

  /* A permit settled far above the limit: the window is full for good
   * (until it expires), and its reported cost saturates. */
  pft_rate_limiter_set_max_cost_per_window (limiter, 100);
  pft_permit_settle (first, G_MAXUINT64);
  small = pft_rate_limiter_try_acquire (limiter, 1, &error);
  g_assert_no_error (error);
  g_assert_null (small);
  g_assert_cmpuint (pft_rate_limiter_get_window_cost (limiter), ==, G_MAXUINT64);
  advance (clock, 60 * SEC);
  small = pft_rate_limiter_try_acquire (limiter, 1, &error);
  g_assert_nonnull (small);

  g_clear_object (&first);
  g_clear_object (&small);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

/* A slot's request counts from when its exec starts, however late:
 * until then its entry counts and does not expire; a slot released
 * without starting counts from its release. */
static void
test_entry_counts_from_start (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 10, 1, 1);
  guint64 entry, entry2;
  GError *error = NULL;
  Acq w = { 0 };

  g_assert_true (_pft_rate_limiter_try_acquire_slot (limiter, 0, &entry, &error));
  /* The exec has not started after two windows: nothing else may go. */
  advance (clock, 2 * SEC);
  g_assert_false (_pft_rate_limiter_try_acquire_slot (limiter, 0, &entry2, &error));
  g_assert_no_error (error);
  pft_rate_limiter_acquire_async (limiter, 0, NULL, acq_cb, &w);
  drain ();
  g_assert_false (w.done);
  /* A waiter held by a request that has not started needs no timer. */
  g_assert_cmpuint (_pft_fake_clock_get_n_armed (clock), ==, 0);

  /* It starts now: it counts for one window from here, and the waiter
   * goes exactly then. */
  _pft_rate_limiter_start (limiter, entry);
  advance (clock, SEC - 1);
  g_assert_false (w.done);
  advance (clock, 1);
  g_assert_true (w.done);
  g_assert_cmpint (w.at, ==, START_US + 3 * SEC);
  /* Only the first start counts. */
  _pft_rate_limiter_start (limiter, entry);
  _pft_rate_limiter_release (limiter, entry);
  acq_clear (&w);

  /* Released without starting (its run was cancelled first): counted
   * from the release. */
  advance (clock, SEC);
  g_assert_true (_pft_rate_limiter_try_acquire_slot (limiter, 0, &entry, &error));
  advance (clock, 5 * SEC);
  _pft_rate_limiter_release (limiter, entry);
  advance (clock, SEC - 1);
  g_assert_false (_pft_rate_limiter_try_acquire_slot (limiter, 0, &entry2, &error));
  advance (clock, 1);
  g_assert_true (_pft_rate_limiter_try_acquire_slot (limiter, 0, &entry2, &error));
  _pft_rate_limiter_release (limiter, entry2);
  g_assert_no_error (error);

  g_clear_object (&limiter);
  fake_clock_done (clock);
}


/* A request that has not started holds only its own place: requests
 * that started after it was granted expire on their own schedule. */
static void
test_pending_does_not_block_others (void)
{
  PftClock *clock = fake_clock ();
  g_autoptr(PftRateLimiter) limiter = fake_limiter (clock, 10, 2, 1);
  g_autoptr(PftPermit) b = NULL;
  g_autoptr(PftPermit) c = NULL;
  g_autoptr(PftPermit) d = NULL;
  guint64 a;
  GError *error = NULL;

  g_assert_true (_pft_rate_limiter_try_acquire_slot (limiter, 0, &a, &error));
  b = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  g_assert_nonnull (b);
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 2);
  advance (clock, SEC);
  /* b left the window; a still counts. */
  g_assert_cmpuint (pft_rate_limiter_get_window_count (limiter), ==, 1);
  c = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  g_assert_nonnull (c);
  d = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  g_assert_null (d);
  _pft_rate_limiter_release (limiter, a);
  g_assert_no_error (error);

  g_clear_object (&b);
  g_clear_object (&c);
  g_clear_object (&limiter);
  fake_clock_done (clock);
}

/* An exec that outlives its run keeps counting in in-flight. */
static void
test_hold_counts_in_flight (void)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (1, 0, 1);
  g_autoptr(PftPermit) permit = NULL;

  _pft_rate_limiter_hold (limiter);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 1);
  g_assert_null (pft_rate_limiter_try_acquire (limiter, 0, NULL));
  _pft_rate_limiter_unhold (limiter);
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (limiter), ==, 0);
  permit = pft_rate_limiter_try_acquire (limiter, 0, NULL);
  g_assert_nonnull (permit);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft/rate-limiter/defaults", test_defaults);
  g_test_add_func ("/pft/rate-limiter/to-string", test_to_string);
  g_test_add_func ("/pft/rate-limiter/try-acquire", test_try_acquire);
  g_test_add_func ("/pft/rate-limiter/try-acquire-respects-queue", test_try_acquire_respects_queue);
  g_test_add_func ("/pft/rate-limiter/cost-too-large", test_cost_too_large);
  g_test_add_func ("/pft/rate-limiter/exact-window-property", test_exact_window_property);
  g_test_add_func ("/pft/rate-limiter/smooth-spacing", test_smooth_spacing);
  g_test_add_func ("/pft/rate-limiter/smooth-burst-keeps-window", test_smooth_burst_keeps_window);
  g_test_add_func ("/pft/rate-limiter/smooth-huge-burst", test_smooth_huge_burst);
  g_test_add_func ("/pft/rate-limiter/cost-sum-saturates", test_cost_sum_saturates);
  g_test_add_func ("/pft/rate-limiter/entry-counts-from-start", test_entry_counts_from_start);
  g_test_add_func ("/pft/rate-limiter/hold-counts-in-flight", test_hold_counts_in_flight);
  g_test_add_func ("/pft/rate-limiter/pending-does-not-block-others", test_pending_does_not_block_others);
  g_test_add_func ("/pft/rate-limiter/fifo-mixed-costs", test_fifo_mixed_costs);
  g_test_add_func ("/pft/rate-limiter/cancel-middle", test_cancel_middle);
  g_test_add_func ("/pft/rate-limiter/cancel-head", test_cancel_head);
  g_test_add_func ("/pft/rate-limiter/two-cancels-no-deadlock", test_two_cancels_no_deadlock);
  g_test_add_func ("/pft/rate-limiter/resize", test_resize);
  g_test_add_func ("/pft/rate-limiter/pause", test_pause);
  g_test_add_func ("/pft/rate-limiter/report-error", test_report_error);
  g_test_add_func ("/pft/rate-limiter/half-open-after-pause", test_half_open_after_pause);
  g_test_add_func ("/pft/rate-limiter/reset", test_reset);
  g_test_add_func ("/pft/rate-limiter/settle", test_settle);
  g_test_add_func ("/pft/rate-limiter/permit-keeps-limiter", test_permit_keeps_limiter);
  g_test_add_func ("/pft/rate-limiter/blocking-fake-clock", test_blocking_fake_clock);
  g_test_add_func ("/pft/rate-limiter/threads-hammer", test_threads_hammer);
  g_test_add_func ("/pft/rate-limiter/dup-stats", test_dup_stats);
  g_test_add_func ("/pft/rate-limiter/dup-stats-concurrent", test_dup_stats_concurrent);
  g_test_add_func ("/pft/rate-limiter/real-clock-window", test_real_clock_window);
  g_test_add_func ("/pft/rate-limiter/real-clock-blocking", test_real_clock_blocking);
  g_test_add_func ("/pft/rate-limiter/two-contexts", test_two_contexts);

  g_test_add_func ("/pft/rate-limiter/slot-cancel-after-grant", test_slot_cancel_after_grant);
  g_test_add_func ("/pft/rate-limiter/lowered-before-delivery", test_lowered_before_delivery);
  g_test_add_func ("/pft/rate-limiter/lowered-then-raised", test_lowered_then_raised);

  return g_test_run ();
}
