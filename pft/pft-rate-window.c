/* pft-rate-window.c: the window store and GCRA pacing, in memory
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <string.h>

#include "pft-rate-window-private.h"

/* PftRateWindow: the in-memory implementation of the admission seam
 * (pft-admission-private.h). It answers every admission at once.
 *
 * The provider counts a request when it arrives, so an admission counts
 * in the window from when its request starts (its exec is called, its
 * permit reaches its holder), not from its grant. Between the two it is
 * pending: it counts, and it cannot expire. Admission keeps the count,
 * pending requests included, within the limit at every instant, so every
 * request that started in the window ending at a start is still counted
 * there: no window of that length ever holds more starts than the limit,
 * however late a granted request starts.
 *
 * Started requests are entries (time, cost) in a ring, in start order, so
 * times never decrease; an entry made at t counts for [t, t + window): it
 * expires once now >= t + window. A request may go when the live entries,
 * the pending ones and itself stay within both limits; otherwise it may go
 * when enough of the oldest entries have expired, which gives the exact
 * time to arm the timer for (or none, when that needs a pending request to
 * start first). Pending requests wait in a queue of their own, in grant
 * order, and move to the ring when they start. Ids are consecutive in each
 * (the pending ones marked with PFT_ENTRY_PENDING_BIT), so both are found
 * by subtraction.
 *
 * Smooth mode: GCRA (the virtual scheduling form). Requests are spaced by
 * T = window / max-per-window; tat is the theoretical arrival time of the
 * next one, and a request conforms when tat - tau <= now, with a tolerance
 * tau = (burst - 1) * T. The cost budget is paced the same way, with a
 * request of cost c advancing its own tat by c * window / max-cost. The
 * exact window applies in this mode too, so that a burst never puts more
 * than the limits into any window (a provider counting a sliding window
 * refuses the excess, however well paced).
 *
 * Arithmetic saturates: cost sums are 128-bit, and computed times stop at
 * PFT_RATE_WINDOW_TIME_FAR, far beyond any real deadline and far from
 * overflow.
 */

#define PFT_RATE_WINDOW_TIME_FAR   (G_MAXINT64 / 4)

typedef struct
{
  gint64  t;
  guint64 cost;
} PftRateWindowEntry;

typedef struct
{
  guint64  cost;
  gboolean gone;     /* started (moved to the ring) */
} PftRateWindowPending;

/* A sum of 64-bit costs that cannot wrap. */
typedef struct
{
  guint64 hi;
  guint64 lo;
} PftRateWindowCostSum;

static inline void
pft_rate_window_cost_sum_add (PftRateWindowCostSum *s,
                              guint64               c)
{
  s->lo += c;
  if (s->lo < c)
    s->hi++;
}

static inline void
pft_rate_window_cost_sum_sub (PftRateWindowCostSum *s,
                              guint64               c)
{
  if (s->lo < c)
    s->hi--;
  s->lo -= c;
}

/* Whether @s + @c <= @max. */
static inline gboolean
pft_rate_window_cost_sum_fits (const PftRateWindowCostSum *s,
                               guint64                     c,
                               guint64                     max)
{
  return s->hi == 0 && s->lo <= max && c <= max - s->lo;
}

static inline guint64
pft_rate_window_cost_sum_get (const PftRateWindowCostSum *s)
{
  return s->hi != 0 ? G_MAXUINT64 : s->lo;
}

struct _PftRateWindow
{
  PftAdmission        parent;

  PftAdmissionLimits  limits;

  /* Started requests, in start order. */
  PftRateWindowEntry *ring;
  guint               cap;       /* a power of two, or 0 */
  guint               head;
  guint               len;
  guint64             head_id;   /* id of the entry at head */

  /* Pending requests, in grant order; started ones leave holes, dropped
   * from the head. */
  PftRateWindowPending *pq;
  guint               pq_cap;    /* a power of two, or 0 */
  guint               pq_head;
  guint               pq_len;
  guint64             pq_head_id;
  guint               n_pending;

  PftRateWindowCostSum cost_sum;  /* of the live entries and the pending */

  gint64              tat_req;   /* smooth mode */
  gint64              tat_cost;  /* smooth mode */

  gint64              paused_until;
};

static inline PftRateWindowEntry *
pft_rate_window_ring_at (PftRateWindow *self,
                         guint          i)
{
  return &self->ring[(self->head + i) & (self->cap - 1)];
}

static inline PftRateWindowPending *
pft_rate_window_pq_at (PftRateWindow *self,
                       guint          i)
{
  return &self->pq[(self->pq_head + i) & (self->pq_cap - 1)];
}

/* Grows a power-of-two ring of @size-byte elements, unwrapping it. */
static gpointer
pft_rate_window_ring_grow (gpointer  data,
                           gsize     size,
                           guint    *cap,
                           guint    *head,
                           guint     len)
{
  guint new_cap = *cap ? *cap * 2 : 16;
  char *grown = g_malloc (new_cap * size);

  for (guint i = 0; i < len; i++)
    memcpy (grown + i * size, (char *) data + ((*head + i) & (*cap - 1)) * size, size);
  g_free (data);
  *cap = new_cap;
  *head = 0;
  return grown;
}

static void
pft_rate_window_expire (PftRateWindow *self,
                        gint64         now)
{
  gint64 window = self->limits.window_us;

  while (self->len > 0)
    {
      PftRateWindowEntry *e = &self->ring[self->head];

      if (e->t + window > now)
        break;
      pft_rate_window_cost_sum_sub (&self->cost_sum, e->cost);
      self->head = (self->head + 1) & (self->cap - 1);
      self->len--;
      self->head_id++;
    }
}

/* Records a request started at @t (never before the last one: the times
 * come from one monotonic clock, read under the limiter's lock). */
static guint64
pft_rate_window_ring_push (PftRateWindow *self,
                           gint64         t,
                           guint64        cost)
{
  PftRateWindowEntry *e;

  if (self->len == self->cap)
    self->ring = pft_rate_window_ring_grow (self->ring, sizeof (PftRateWindowEntry), &self->cap, &self->head, self->len);
  e = pft_rate_window_ring_at (self, self->len);
  e->t = t;
  e->cost = cost;
  self->len++;
  pft_rate_window_cost_sum_add (&self->cost_sum, cost);
  return self->head_id + self->len - 1;
}

static inline PftRateWindowEntry *
pft_rate_window_ring_find (PftRateWindow *self,
                           guint64        entry)
{
  if (entry == PFT_ENTRY_NONE || (entry & PFT_ENTRY_PENDING_BIT) != 0 ||
      entry < self->head_id || entry - self->head_id >= self->len)
    return NULL;
  return pft_rate_window_ring_at (self, (guint) (entry - self->head_id));
}

static guint64
pft_rate_window_pq_push (PftRateWindow *self,
                         guint64        cost)
{
  PftRateWindowPending *p;

  if (self->pq_len == self->pq_cap)
    self->pq = pft_rate_window_ring_grow (self->pq, sizeof (PftRateWindowPending), &self->pq_cap, &self->pq_head, self->pq_len);
  p = pft_rate_window_pq_at (self, self->pq_len);
  p->cost = cost;
  p->gone = FALSE;
  self->pq_len++;
  self->n_pending++;
  pft_rate_window_cost_sum_add (&self->cost_sum, cost);
  return PFT_ENTRY_PENDING_BIT | (self->pq_head_id + self->pq_len - 1);
}

static inline PftRateWindowPending *
pft_rate_window_pq_find (PftRateWindow *self,
                         guint64        entry)
{
  guint64 id;
  PftRateWindowPending *p;

  if (entry == PFT_ENTRY_NONE || (entry & PFT_ENTRY_PENDING_BIT) == 0)
    return NULL;
  id = entry & ~PFT_ENTRY_PENDING_BIT;
  if (id < self->pq_head_id || id - self->pq_head_id >= self->pq_len)
    return NULL;
  p = pft_rate_window_pq_at (self, (guint) (id - self->pq_head_id));
  return p->gone ? NULL : p;
}

/* @a + @b for 0 <= @b <= PFT_RATE_WINDOW_TIME_FAR and @a <= PFT_RATE_WINDOW_TIME_FAR, at most PFT_RATE_WINDOW_TIME_FAR. */
static inline gint64
pft_rate_window_time_add (gint64 a,
                          gint64 b)
{
  return MIN (a + b, PFT_RATE_WINDOW_TIME_FAR);
}

static gint64
pft_rate_window_smooth_interval (const PftAdmissionLimits *limits)
{
  /* Rounded up: pacing may be a microsecond slow, never fast. */
  return (limits->window_us + limits->max_per_window - 1) / limits->max_per_window;
}

static gint64
pft_rate_window_smooth_cost_span (const PftAdmissionLimits *limits,
                                  guint64                   cost)
{
  double span = ceil ((double) cost * (double) limits->window_us / (double) limits->max_cost);

  return span >= (double) PFT_RATE_WINDOW_TIME_FAR ? PFT_RATE_WINDOW_TIME_FAR : (gint64) span;
}

static gint64
pft_rate_window_smooth_tolerance (const PftAdmissionLimits *limits)
{
  gint64 interval;

  if (limits->max_per_window == 0)
    return 0;
  interval = pft_rate_window_smooth_interval (limits);
  /* A burst of 2^32 - 1 spans more than the int64 range of microseconds:
   * it means "no pacing", which PFT_RATE_WINDOW_TIME_FAR says without overflowing. */
  if ((gint64) limits->burst - 1 > PFT_RATE_WINDOW_TIME_FAR / interval)
    return PFT_RATE_WINDOW_TIME_FAR;
  return ((gint64) limits->burst - 1) * interval;
}

/* The earliest time (>= @now) at which the window has room for one more
 * request of @cost; PFT_TIME_PENDING when that waits for a pending request
 * to start (pending requests never expire). */
static gint64
pft_rate_window_ready (PftRateWindow *self,
                       guint64        cost,
                       gint64         now)
{
  const PftAdmissionLimits *limits = &self->limits;
  gint64 window = limits->window_us;
  gint64 ready = now;
  guint count;

  pft_rate_window_expire (self, now);
  count = self->len + self->n_pending;

  if (limits->max_per_window > 0 && count >= limits->max_per_window)
    {
      /* The oldest count + 1 - max started ones must leave first. */
      guint need = count + 1 - limits->max_per_window;

      if (need > self->len)
        return PFT_TIME_PENDING;
      ready = MAX (ready, pft_rate_window_ring_at (self, need - 1)->t + window);
    }

  if (limits->max_cost > 0 && !pft_rate_window_cost_sum_fits (&self->cost_sum, cost, limits->max_cost))
    {
      PftRateWindowCostSum left = self->cost_sum;
      guint i;

      /* Enough of the oldest must leave for @cost to fit (it always fits
       * in an empty window: the caller checked cost <= max). */
      for (i = 0; i < self->len; i++)
        {
          pft_rate_window_cost_sum_sub (&left, pft_rate_window_ring_at (self, i)->cost);
          if (pft_rate_window_cost_sum_fits (&left, cost, limits->max_cost))
            break;
        }
      if (i == self->len)
        return PFT_TIME_PENDING;
      ready = MAX (ready, pft_rate_window_ring_at (self, i)->t + window);
    }
  return ready;
}

static void
pft_rate_window_free (PftAdmission *admission)
{
  PftRateWindow *self = (PftRateWindow *) admission;

  g_free (self->ring);
  g_free (self->pq);
  g_free (self);
}

static void
pft_rate_window_configure (PftAdmission             *admission,
                           const PftAdmissionLimits *limits,
                           gint64                    now)
{
  PftRateWindow *self = (PftRateWindow *) admission;
  gboolean to_smooth = limits->mode == PFT_LIMITER_MODE_SMOOTH &&
                       self->limits.mode != PFT_LIMITER_MODE_SMOOTH;

  self->limits = *limits;
  pft_rate_window_expire (self, now);

  /* Switching to smooth pacing: go on from the last admission rather than
   * allowing a fresh burst. */
  if (to_smooth && (self->len > 0 || self->n_pending > 0))
    {
      gint64 last = self->n_pending > 0 ? now : pft_rate_window_ring_at (self, self->len - 1)->t;

      if (limits->max_per_window > 0)
        self->tat_req = MAX (self->tat_req, pft_rate_window_time_add (last, pft_rate_window_smooth_interval (limits)));
      if (limits->max_cost > 0)
        self->tat_cost = MAX (self->tat_cost, last);
    }
}

/* The earliest time (>= @now) at which one more request of @cost may go:
 * the pause, the pacing and the window together. */
static inline gint64
pft_rate_window_ready_at (PftRateWindow *self,
                          guint64        cost,
                          gint64         now)
{
  const PftAdmissionLimits *limits = &self->limits;
  gint64 ready = now;

  if (self->paused_until > now)
    ready = self->paused_until;

  if (limits->mode == PFT_LIMITER_MODE_SMOOTH)
    {
      gint64 tau = pft_rate_window_smooth_tolerance (limits);

      if (limits->max_per_window > 0 && self->tat_req - tau > now)
        ready = MAX (ready, self->tat_req - tau);
      if (limits->max_cost > 0 && self->tat_cost - tau > now)
        ready = MAX (ready, self->tat_cost - tau);
    }

  if (limits->max_per_window > 0 || limits->max_cost > 0)
    ready = MAX (ready, pft_rate_window_ready (self, cost, now));
  return ready;
}

static inline guint64
pft_rate_window_record (PftRateWindow *self,
                        guint64        cost,
                        gint64         now,
                        gboolean       pending)
{
  const PftAdmissionLimits *limits = &self->limits;

  /* Without a window limit, nothing is kept: a limiter that only bounds
   * concurrency must not grow a window of a million entries. */
  if (limits->max_per_window == 0 && limits->max_cost == 0)
    return PFT_ENTRY_NONE;

  if (limits->mode == PFT_LIMITER_MODE_SMOOTH)
    {
      if (limits->max_per_window > 0)
        self->tat_req = pft_rate_window_time_add (MAX (self->tat_req, now), pft_rate_window_smooth_interval (limits));
      if (limits->max_cost > 0)
        self->tat_cost = pft_rate_window_time_add (MAX (self->tat_cost, now), pft_rate_window_smooth_cost_span (limits, cost));
    }

  if (pending)
    return pft_rate_window_pq_push (self, cost);
  pft_rate_window_expire (self, now);
  return pft_rate_window_ring_push (self, now, cost);
}

/* Always answers at once: @ask is never kept. */
static PftAdmissionVerdict
pft_rate_window_admit (PftAdmission    *admission,
                       guint64          cost,
                       gint64           now,
                       gboolean         pending,
                       PftAdmissionAsk *ask,
                       guint64         *entry,
                       gint64          *ready_at)
{
  PftRateWindow *self = (PftRateWindow *) admission;
  gint64 ready = pft_rate_window_ready_at (self, cost, now);

  if (ready > now)
    {
      *ready_at = ready;
      return PFT_ADMISSION_REFUSED;
    }
  *entry = pft_rate_window_record (self, cost, now, pending);
  return PFT_ADMISSION_GRANTED;
}

static gboolean
pft_rate_window_settle (PftAdmission *admission,
                        guint64       entry,
                        guint64       old_cost,
                        guint64       new_cost,
                        gint64        now)
{
  PftRateWindow *self = (PftRateWindow *) admission;
  const PftAdmissionLimits *limits = &self->limits;
  PftRateWindowPending *p;
  PftRateWindowEntry *e;

  pft_rate_window_expire (self, now);
  e = pft_rate_window_ring_find (self, entry);
  p = e == NULL ? pft_rate_window_pq_find (self, entry) : NULL;
  if (e != NULL || p != NULL)
    {
      guint64 *cost = e != NULL ? &e->cost : &p->cost;

      pft_rate_window_cost_sum_sub (&self->cost_sum, *cost);
      pft_rate_window_cost_sum_add (&self->cost_sum, new_cost);
      *cost = new_cost;

      if (limits->mode == PFT_LIMITER_MODE_SMOOTH && limits->max_cost > 0)
        self->tat_cost = MIN (self->tat_cost + pft_rate_window_smooth_cost_span (limits, new_cost) -
                              pft_rate_window_smooth_cost_span (limits, old_cost), PFT_RATE_WINDOW_TIME_FAR);
    }
  return new_cost < old_cost;
}

static guint64
pft_rate_window_start (PftAdmission *admission,
                       guint64       entry,
                       gint64        now)
{
  PftRateWindow *self = (PftRateWindow *) admission;
  PftRateWindowPending *p = pft_rate_window_pq_find (self, entry);
  guint64 cost;

  if (p == NULL)
    return PFT_ENTRY_NONE;
  cost = p->cost;
  p->gone = TRUE;
  self->n_pending--;
  pft_rate_window_cost_sum_sub (&self->cost_sum, cost);
  while (self->pq_len > 0 && pft_rate_window_pq_at (self, 0)->gone)
    {
      self->pq_head = (self->pq_head + 1) & (self->pq_cap - 1);
      self->pq_len--;
      self->pq_head_id++;
    }
  pft_rate_window_expire (self, now);
  return pft_rate_window_ring_push (self, now, cost);
}

static gboolean
pft_rate_window_pause (PftAdmission *admission,
                       gint64        until)
{
  PftRateWindow *self = (PftRateWindow *) admission;

  if (until <= self->paused_until)
    return FALSE;
  self->paused_until = until;
  return TRUE;
}

static gint64
pft_rate_window_paused_until (PftAdmission *admission)
{
  return ((PftRateWindow *) admission)->paused_until;
}

static void
pft_rate_window_usage (PftAdmission *admission,
                       gint64        now,
                       guint        *count,
                       guint64      *cost)
{
  PftRateWindow *self = (PftRateWindow *) admission;

  pft_rate_window_expire (self, now);
  *count = self->len + self->n_pending;
  *cost = pft_rate_window_cost_sum_get (&self->cost_sum);
}

static void
pft_rate_window_reset (PftAdmission *admission)
{
  PftRateWindow *self = (PftRateWindow *) admission;

  /* Forget the started requests (their ids are never reused) and the
   * pacing; pending ones are about to reach the provider, so they stay. */
  for (guint i = 0; i < self->len; i++)
    pft_rate_window_cost_sum_sub (&self->cost_sum, pft_rate_window_ring_at (self, i)->cost);
  self->head_id += self->len;
  self->head = 0;
  self->len = 0;
  self->tat_req = G_MININT64 / 2;
  self->tat_cost = G_MININT64 / 2;
  self->paused_until = G_MININT64 / 2;
}

static const PftAdmissionVTable pft_rate_window_vtable = {
  .free = pft_rate_window_free,
  .configure = pft_rate_window_configure,
  .admit = pft_rate_window_admit,
  .release = NULL,   /* a started request stays in the window; nothing to give back */
  .settle = pft_rate_window_settle,
  .start = pft_rate_window_start,
  .pause = pft_rate_window_pause,
  .paused_until = pft_rate_window_paused_until,
  .usage = pft_rate_window_usage,
  .reset = pft_rate_window_reset,
  .add_stats = NULL,
};

PftRateWindow *
_pft_rate_window_new (const PftAdmissionLimits *limits)
{
  PftRateWindow *self = g_new0 (PftRateWindow, 1);

  self->parent.vtable = &pft_rate_window_vtable;
  self->limits = *limits;
  self->tat_req = G_MININT64 / 2;
  self->tat_cost = G_MININT64 / 2;
  self->paused_until = G_MININT64 / 2;
  return self;
}
