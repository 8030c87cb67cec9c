/* pft-rate-limiter.c: admission control for rate-limited APIs
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "pft.h"
#include "pft-private.h"
#include "pft-clock-private.h"
#include "pft-rate-limiter-private.h"

/* ================================================================== */
/* The in-memory admission backend (see the seam in
 * pft-rate-limiter-private.h).
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
 * (the pending ones marked with PENDING_ID), so both are found by
 * subtraction.
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
 * TIME_FAR, far beyond any real deadline and far from overflow.
 */

#define TIME_FAR   (G_MAXINT64 / 4)
#define PENDING_ID PFT_ENTRY_PENDING_BIT

typedef struct
{
  gint64  t;
  guint64 cost;
} Entry;

typedef struct
{
  guint64  cost;
  gboolean gone;     /* started (moved to the ring) */
} Pending;

/* A sum of 64-bit costs that cannot wrap. */
typedef struct
{
  guint64 hi;
  guint64 lo;
} CostSum;

static inline void
cost_sum_add (CostSum *s,
              guint64  c)
{
  s->lo += c;
  if (s->lo < c)
    s->hi++;
}

static inline void
cost_sum_sub (CostSum *s,
              guint64  c)
{
  if (s->lo < c)
    s->hi--;
  s->lo -= c;
}

/* Whether @s + @c <= @max. */
static inline gboolean
cost_sum_fits (const CostSum *s,
               guint64        c,
               guint64        max)
{
  return s->hi == 0 && s->lo <= max && c <= max - s->lo;
}

static inline guint64
cost_sum_get (const CostSum *s)
{
  return s->hi != 0 ? G_MAXUINT64 : s->lo;
}

typedef struct
{
  PftAdmissionBackend parent;

  PftAdmissionLimits  limits;

  /* Started requests, in start order. */
  Entry              *ring;
  guint               cap;       /* a power of two, or 0 */
  guint               head;
  guint               len;
  guint64             head_id;   /* id of the entry at head */

  /* Pending requests, in grant order; started ones leave holes, dropped
   * from the head. */
  Pending            *pq;
  guint               pq_cap;    /* a power of two, or 0 */
  guint               pq_head;
  guint               pq_len;
  guint64             pq_head_id;
  guint               n_pending;

  CostSum             cost_sum;  /* of the live entries and the pending */

  gint64              tat_req;   /* smooth mode */
  gint64              tat_cost;  /* smooth mode */

  gint64              paused_until;
} MemoryBackend;

static inline Entry *
ring_at (MemoryBackend *mb,
         guint          i)
{
  return &mb->ring[(mb->head + i) & (mb->cap - 1)];
}

static inline Pending *
pq_at (MemoryBackend *mb,
       guint          i)
{
  return &mb->pq[(mb->pq_head + i) & (mb->pq_cap - 1)];
}

/* Grows a power-of-two ring of @size-byte elements, unwrapping it. */
static gpointer
ring_grow (gpointer  data,
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
ring_expire (MemoryBackend *mb,
             gint64         now)
{
  gint64 window = mb->limits.window_us;

  while (mb->len > 0)
    {
      Entry *e = &mb->ring[mb->head];

      if (e->t + window > now)
        break;
      cost_sum_sub (&mb->cost_sum, e->cost);
      mb->head = (mb->head + 1) & (mb->cap - 1);
      mb->len--;
      mb->head_id++;
    }
}

/* Records a request started at @t (never before the last one: the times
 * come from one monotonic clock, read under the limiter's lock). */
static guint64
ring_push (MemoryBackend *mb,
           gint64         t,
           guint64        cost)
{
  Entry *e;

  if (mb->len == mb->cap)
    mb->ring = ring_grow (mb->ring, sizeof (Entry), &mb->cap, &mb->head, mb->len);
  e = ring_at (mb, mb->len);
  e->t = t;
  e->cost = cost;
  mb->len++;
  cost_sum_add (&mb->cost_sum, cost);
  return mb->head_id + mb->len - 1;
}

static inline Entry *
ring_find (MemoryBackend *mb,
           guint64        entry)
{
  if (entry == PFT_ENTRY_NONE || (entry & PENDING_ID) != 0 ||
      entry < mb->head_id || entry - mb->head_id >= mb->len)
    return NULL;
  return ring_at (mb, (guint) (entry - mb->head_id));
}

static guint64
pq_push (MemoryBackend *mb,
         guint64        cost)
{
  Pending *p;

  if (mb->pq_len == mb->pq_cap)
    mb->pq = ring_grow (mb->pq, sizeof (Pending), &mb->pq_cap, &mb->pq_head, mb->pq_len);
  p = pq_at (mb, mb->pq_len);
  p->cost = cost;
  p->gone = FALSE;
  mb->pq_len++;
  mb->n_pending++;
  cost_sum_add (&mb->cost_sum, cost);
  return PENDING_ID | (mb->pq_head_id + mb->pq_len - 1);
}

static inline Pending *
pq_find (MemoryBackend *mb,
         guint64        entry)
{
  guint64 id;
  Pending *p;

  if (entry == PFT_ENTRY_NONE || (entry & PENDING_ID) == 0)
    return NULL;
  id = entry & ~PENDING_ID;
  if (id < mb->pq_head_id || id - mb->pq_head_id >= mb->pq_len)
    return NULL;
  p = pq_at (mb, (guint) (id - mb->pq_head_id));
  return p->gone ? NULL : p;
}

/* @a + @b for 0 <= @b <= TIME_FAR and @a <= TIME_FAR, at most TIME_FAR. */
static inline gint64
time_add (gint64 a,
          gint64 b)
{
  return MIN (a + b, TIME_FAR);
}

static gint64
smooth_interval (const PftAdmissionLimits *limits)
{
  /* Rounded up: pacing may be a microsecond slow, never fast. */
  return (limits->window_us + limits->max_per_window - 1) / limits->max_per_window;
}

static gint64
smooth_cost_span (const PftAdmissionLimits *limits,
                  guint64                   cost)
{
  double span = ceil ((double) cost * (double) limits->window_us / (double) limits->max_cost);

  return span >= (double) TIME_FAR ? TIME_FAR : (gint64) span;
}

static gint64
smooth_tolerance (const PftAdmissionLimits *limits)
{
  gint64 interval;

  if (limits->max_per_window == 0)
    return 0;
  interval = smooth_interval (limits);
  /* A burst of 2^32 - 1 spans more than the int64 range of microseconds:
   * it means "no pacing", which TIME_FAR says without overflowing. */
  if ((gint64) limits->burst - 1 > TIME_FAR / interval)
    return TIME_FAR;
  return ((gint64) limits->burst - 1) * interval;
}

/* The earliest time (>= @now) at which the window has room for one more
 * request of @cost; PFT_TIME_PENDING when that waits for a pending request
 * to start (pending requests never expire). */
static gint64
window_ready (MemoryBackend *mb,
              guint64        cost,
              gint64         now)
{
  const PftAdmissionLimits *limits = &mb->limits;
  gint64 window = limits->window_us;
  gint64 ready = now;
  guint count;

  ring_expire (mb, now);
  count = mb->len + mb->n_pending;

  if (limits->max_per_window > 0 && count >= limits->max_per_window)
    {
      /* The oldest count + 1 - max started ones must leave first. */
      guint need = count + 1 - limits->max_per_window;

      if (need > mb->len)
        return PFT_TIME_PENDING;
      ready = MAX (ready, ring_at (mb, need - 1)->t + window);
    }

  if (limits->max_cost > 0 && !cost_sum_fits (&mb->cost_sum, cost, limits->max_cost))
    {
      CostSum left = mb->cost_sum;
      guint i;

      /* Enough of the oldest must leave for @cost to fit (it always fits
       * in an empty window: the caller checked cost <= max). */
      for (i = 0; i < mb->len; i++)
        {
          cost_sum_sub (&left, ring_at (mb, i)->cost);
          if (cost_sum_fits (&left, cost, limits->max_cost))
            break;
        }
      if (i == mb->len)
        return PFT_TIME_PENDING;
      ready = MAX (ready, ring_at (mb, i)->t + window);
    }
  return ready;
}

static void
memory_free (PftAdmissionBackend *backend)
{
  MemoryBackend *mb = (MemoryBackend *) backend;

  g_free (mb->ring);
  g_free (mb->pq);
  g_free (mb);
}

static void
memory_configure (PftAdmissionBackend      *backend,
                  const PftAdmissionLimits *limits,
                  gint64                    now)
{
  MemoryBackend *mb = (MemoryBackend *) backend;
  gboolean to_smooth = limits->mode == PFT_LIMITER_MODE_SMOOTH &&
                       mb->limits.mode != PFT_LIMITER_MODE_SMOOTH;

  mb->limits = *limits;
  ring_expire (mb, now);

  /* Switching to smooth pacing: go on from the last admission rather than
   * allowing a fresh burst. */
  if (to_smooth && (mb->len > 0 || mb->n_pending > 0))
    {
      gint64 last = mb->n_pending > 0 ? now : ring_at (mb, mb->len - 1)->t;

      if (limits->max_per_window > 0)
        mb->tat_req = MAX (mb->tat_req, time_add (last, smooth_interval (limits)));
      if (limits->max_cost > 0)
        mb->tat_cost = MAX (mb->tat_cost, last);
    }
}

static gboolean
memory_decide (PftAdmissionBackend *backend,
               guint64              cost,
               gint64               now,
               gint64              *ready_at)
{
  MemoryBackend *mb = (MemoryBackend *) backend;
  const PftAdmissionLimits *limits = &mb->limits;
  gint64 ready = now;

  if (mb->paused_until > now)
    ready = mb->paused_until;

  if (limits->mode == PFT_LIMITER_MODE_SMOOTH)
    {
      gint64 tau = smooth_tolerance (limits);

      if (limits->max_per_window > 0 && mb->tat_req - tau > now)
        ready = MAX (ready, mb->tat_req - tau);
      if (limits->max_cost > 0 && mb->tat_cost - tau > now)
        ready = MAX (ready, mb->tat_cost - tau);
    }

  if (limits->max_per_window > 0 || limits->max_cost > 0)
    ready = MAX (ready, window_ready (mb, cost, now));

  if (ready > now)
    {
      *ready_at = ready;
      return FALSE;
    }
  return TRUE;
}

static guint64
memory_record (PftAdmissionBackend *backend,
               guint64              cost,
               gint64               now,
               gboolean             pending)
{
  MemoryBackend *mb = (MemoryBackend *) backend;
  const PftAdmissionLimits *limits = &mb->limits;

  /* Without a window limit, nothing is kept: a limiter that only bounds
   * concurrency must not grow a window of a million entries. */
  if (limits->max_per_window == 0 && limits->max_cost == 0)
    return PFT_ENTRY_NONE;

  if (limits->mode == PFT_LIMITER_MODE_SMOOTH)
    {
      if (limits->max_per_window > 0)
        mb->tat_req = time_add (MAX (mb->tat_req, now), smooth_interval (limits));
      if (limits->max_cost > 0)
        mb->tat_cost = time_add (MAX (mb->tat_cost, now), smooth_cost_span (limits, cost));
    }

  if (pending)
    return pq_push (mb, cost);
  ring_expire (mb, now);
  return ring_push (mb, now, cost);
}

static gboolean
memory_settle (PftAdmissionBackend *backend,
               guint64              entry,
               guint64              old_cost,
               guint64              new_cost,
               gint64               now)
{
  MemoryBackend *mb = (MemoryBackend *) backend;
  const PftAdmissionLimits *limits = &mb->limits;
  Pending *p;
  Entry *e;

  ring_expire (mb, now);
  e = ring_find (mb, entry);
  p = e == NULL ? pq_find (mb, entry) : NULL;
  if (e != NULL || p != NULL)
    {
      guint64 *cost = e != NULL ? &e->cost : &p->cost;

      cost_sum_sub (&mb->cost_sum, *cost);
      cost_sum_add (&mb->cost_sum, new_cost);
      *cost = new_cost;

      if (limits->mode == PFT_LIMITER_MODE_SMOOTH && limits->max_cost > 0)
        mb->tat_cost = MIN (mb->tat_cost + smooth_cost_span (limits, new_cost) -
                            smooth_cost_span (limits, old_cost), TIME_FAR);
    }
  return new_cost < old_cost;
}

static guint64
memory_start (PftAdmissionBackend *backend,
              guint64              entry,
              gint64               now)
{
  MemoryBackend *mb = (MemoryBackend *) backend;
  Pending *p = pq_find (mb, entry);
  guint64 cost;

  if (p == NULL)
    return PFT_ENTRY_NONE;
  cost = p->cost;
  p->gone = TRUE;
  mb->n_pending--;
  cost_sum_sub (&mb->cost_sum, cost);
  while (mb->pq_len > 0 && pq_at (mb, 0)->gone)
    {
      mb->pq_head = (mb->pq_head + 1) & (mb->pq_cap - 1);
      mb->pq_len--;
      mb->pq_head_id++;
    }
  ring_expire (mb, now);
  return ring_push (mb, now, cost);
}

static gboolean
memory_pause (PftAdmissionBackend *backend,
              gint64               until)
{
  MemoryBackend *mb = (MemoryBackend *) backend;

  if (until <= mb->paused_until)
    return FALSE;
  mb->paused_until = until;
  return TRUE;
}

static gint64
memory_paused_until (PftAdmissionBackend *backend)
{
  return ((MemoryBackend *) backend)->paused_until;
}

static void
memory_usage (PftAdmissionBackend *backend,
              gint64               now,
              guint               *count,
              guint64             *cost)
{
  MemoryBackend *mb = (MemoryBackend *) backend;

  ring_expire (mb, now);
  *count = mb->len + mb->n_pending;
  *cost = cost_sum_get (&mb->cost_sum);
}

static void
memory_reset (PftAdmissionBackend *backend)
{
  MemoryBackend *mb = (MemoryBackend *) backend;

  /* Forget the started requests (their ids are never reused) and the
   * pacing; pending ones are about to reach the provider, so they stay. */
  for (guint i = 0; i < mb->len; i++)
    cost_sum_sub (&mb->cost_sum, ring_at (mb, i)->cost);
  mb->head_id += mb->len;
  mb->head = 0;
  mb->len = 0;
  mb->tat_req = G_MININT64 / 2;
  mb->tat_cost = G_MININT64 / 2;
  mb->paused_until = G_MININT64 / 2;
}

static const PftAdmissionBackendVTable memory_vtable = {
  .free = memory_free,
  .configure = memory_configure,
  .decide = memory_decide,
  .record = memory_record,
  .settle = memory_settle,
  .start = memory_start,
  .pause = memory_pause,
  .paused_until = memory_paused_until,
  .usage = memory_usage,
  .reset = memory_reset,
};

PftAdmissionBackend *
_pft_admission_backend_new_memory (const PftAdmissionLimits *limits)
{
  MemoryBackend *mb = g_new0 (MemoryBackend, 1);

  mb->parent.vtable = &memory_vtable;
  mb->limits = *limits;
  mb->tat_req = G_MININT64 / 2;
  mb->tat_cost = G_MININT64 / 2;
  mb->paused_until = G_MININT64 / 2;
  return &mb->parent;
}

/* ================================================================== */
/* The numbers a user gives a limiter.
 *
 * One rule per limit, used by every door: the constructor and the setters
 * (bad numbers there are programmer errors: a critical naming the key and
 * the value, nothing changes), properties (GObject's own warning from the
 * same bounds in the GParamSpecs, nothing changes),
 * the registry (PFT_ERROR_INVALID_ARGUMENT) and the key-file loader
 * (PFT_ERROR_PARSE with the file's line). The bounds match the
 * properties' GParamSpecs. */

typedef struct
{
  const char *key;
  guint64     min;
  guint64     max;
} UintLimit;

static const UintLimit uint_limits[] = {
  { "max-concurrent",      1, G_MAXUINT },
  { "max-per-window",      0, G_MAXUINT },
  { "max-cost-per-window", 0, G_MAXUINT64 },
  { "burst",               1, G_MAXUINT },
};

gboolean
_pft_limit_uint_range (const char *key,
                       guint64    *min,
                       guint64    *max)
{
  for (guint i = 0; i < G_N_ELEMENTS (uint_limits); i++)
    if (g_str_equal (uint_limits[i].key, key))
      {
        *min = uint_limits[i].min;
        *max = uint_limits[i].max;
        return TRUE;
      }
  return FALSE;
}

gboolean
_pft_limit_check_uint (const char  *key,
                       guint64      value,
                       GError     **error)
{
  guint64 min = 0, max = G_MAXUINT64;
  g_autofree char *v = NULL, *min_s = NULL, *max_s = NULL;

  if (!_pft_limit_uint_range (key, &min, &max))
    g_return_val_if_reached (FALSE);
  if (value >= min && value <= max)
    return TRUE;

  /* Numbers pre-formatted: xgettext cannot see through G_GUINT64_FORMAT. */
  v = g_strdup_printf ("%" G_GUINT64_FORMAT, value);
  min_s = g_strdup_printf ("%" G_GUINT64_FORMAT, min);
  max_s = g_strdup_printf ("%" G_GUINT64_FORMAT, max);
  g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
               /* Translators: "max-concurrent = 0 is out of range: ..." */
               _("%s = %s is out of range: it must be a whole number from %s to %s"),
               key, v, min_s, max_s);
  return FALSE;
}

gboolean
_pft_limit_check_window (double   window,
                         GError **error)
{
  char v[G_ASCII_DTOSTR_BUF_SIZE], min_s[G_ASCII_DTOSTR_BUF_SIZE], max_s[G_ASCII_DTOSTR_BUF_SIZE];

  /* Written so that NaN fails too. */
  if (window >= PFT_WINDOW_MIN && window <= PFT_WINDOW_MAX)
    return TRUE;

  g_ascii_formatd (v, sizeof v, "%g", window);
  g_ascii_formatd (min_s, sizeof min_s, "%g", PFT_WINDOW_MIN);
  g_ascii_formatd (max_s, sizeof max_s, "%g", PFT_WINDOW_MAX);
  g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
               _("window = %s is out of range: it must be a number of seconds from %s to %s"),
               v, min_s, max_s);
  return FALSE;
}

/* A bad number from C code: reported as g_return_if_fail() would, with
 * the rule's own message. Consumes @error. */
static gboolean
limit_ok_or_critical (const char *func,
                      GError     *error)
{
  if (error == NULL)
    return TRUE;
  g_critical ("%s: %s", func, error->message);
  g_error_free (error);
  return FALSE;
}

#define RETURN_IF_BAD_UINT(key, value) \
  G_STMT_START { \
    GError *limit_error_ = NULL; \
    _pft_limit_check_uint ((key), (value), &limit_error_); \
    if (!limit_ok_or_critical (G_STRFUNC, limit_error_)) \
      return; \
  } G_STMT_END

/* ================================================================== */
/* The limiter. */

/**
 * PftRateLimiter:
 *
 * Admission control for a rate-limited API: at most
 * [property@Pft.RateLimiter:max-concurrent] requests in flight, at most
 * [property@Pft.RateLimiter:max-per-window] requests and
 * [property@Pft.RateLimiter:max-cost-per-window] cost (for example
 * tokens) per [property@Pft.RateLimiter:window] seconds, and a pause after
 * the provider answered "rate limited".
 *
 * Take a [class@Pft.Permit] with [method@Pft.RateLimiter.acquire_async]
 * on a main context, with [method@Pft.RateLimiter.acquire] in a worker
 * thread, or with [method@Pft.RateLimiter.try_acquire] when waiting is not
 * an option, make the request, and release the permit.
 *
 * A request counts in the window from when its permit reaches its holder
 * (for throttled nodes: from when the exec starts), not from the grant,
 * and until then it counts without expiring, so that no window of the
 * limiter's length ever sees more than the limit start, however late the
 * holder gets to it.
 *
 * Admission is first come, first served: waiters are admitted strictly in
 * the order they asked, a costly one at the head holding back cheaper ones
 * behind it (so it is never starved). A waiter holds nothing while it
 * waits; a cancelled waiter leaves the queue at once and lets the next one
 * go. Every limit can be changed while the limiter is in use and takes
 * effect at once, keeping the window's history.
 *
 * A limiter may be shared by threads and main contexts: each asynchronous
 * waiter completes on the thread-default main context of its caller. The
 * `notify` signals of [property@Pft.RateLimiter:in-flight] and
 * [property@Pft.RateLimiter:waiting], and
 * [signal@Pft.RateLimiter::rate-limited], are emitted in whichever thread
 * made the change.
 *
 * Since: 0.1
 */
struct _PftRateLimiter
{
  GObject              parent_instance;

  GMutex               mutex;

  /* Everything below is protected by @mutex. */
  PftClock            *clock;
  PftClockTimer       *timer;          /* created when first needed */
  gint64               timer_deadline; /* -1: disarmed */
  PftAdmissionBackend *backend;
  PftAdmissionLimits   limits;
  double               window;         /* seconds, as set */
  guint                max_concurrent;
  guint                in_flight;
  GQueue               waiters;        /* (element-type Waiter), FIFO */
  GQueue               parked;         /* (element-type Waiter), FIFO: see park_locked() */
  guint64              total_admitted;
  guint64              total_pauses;
  /* After a pause, one request (the probe) goes first, and the others
   * wait for it to come back without a rate limit; see admit_locked(). */
  gboolean             half_open;
  gboolean             probe_out;
  gboolean             probe_failed;
};

G_DEFINE_FINAL_TYPE (PftRateLimiter, pft_rate_limiter, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MAX_CONCURRENT,
  PROP_MAX_PER_WINDOW,
  PROP_WINDOW,
  PROP_MAX_COST_PER_WINDOW,
  PROP_MODE,
  PROP_BURST,
  PROP_IN_FLIGHT,
  PROP_WAITING,
  PROP_WINDOW_COUNT,
  PROP_WINDOW_COST,
  PROP_TOTAL_ADMITTED,
  PROP_TOTAL_PAUSES,
  PROP_PAUSED_FOR,
  N_PROPS
};

enum {
  SIGNAL_RATE_LIMITED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

#define DEFAULT_MAX_CONCURRENT 5
#define DEFAULT_WINDOW         60.0

/* ------------------------------------------------------------------ */
/* Waiters */

typedef enum {
  WAITER_NEW,        /* not queued yet */
  WAITER_QUEUED,
  WAITER_GRANTED,
  WAITER_PARKED,     /* granted, held back at delivery: see park_locked() */
  WAITER_FAILED,
  WAITER_CANCELLED,
} WaiterState;

typedef struct _Waiter Waiter;

struct _Waiter
{
  gatomicrefcount  ref_count;
  GList            link;          /* in self->waiters or self->parked; data = the waiter */
  Waiter          *next_done;
  PftRateLimiter  *limiter;       /* (unowned): the task or caller keeps it */
  guint64          cost;
  guint64          entry;
  WaiterState      state;         /* protected by the limiter's mutex */
  GTask           *task;          /* (owned) (nullable): async waiters */
  PftSlotReadyFunc slot_ready;    /* (nullable): slot waiters (async, no task) */
  gpointer         slot_data;
  GMainContext    *context;       /* (owned) (nullable): slot waiters */
  gboolean         blocking;      /* neither a task nor a slot callback */
  gboolean         slot_held;     /* a granted slot not handed over yet */
  GCond            cond;          /* blocking waiters */
  GCancellable    *cancellable;   /* (owned) (nullable) */
  gulong           cancel_id;
  PftPermit       *permit;        /* (owned) (nullable) */
  GError          *error;         /* (owned) (nullable) */
};

/* Async waiters finished under the lock, completed after unlocking. */
typedef struct
{
  Waiter  *head;
  Waiter **tail;
} DoneList;

#define DONE_LIST_INIT(d) { NULL, &(d).head }

static Waiter *
waiter_new (PftRateLimiter *limiter,
            guint64         cost,
            GTask          *task,
            GCancellable   *cancellable)
{
  Waiter *w = g_new0 (Waiter, 1);

  g_atomic_ref_count_init (&w->ref_count);
  w->link.data = w;
  w->limiter = limiter;
  w->cost = cost;
  w->entry = PFT_ENTRY_NONE;
  w->state = WAITER_NEW;
  w->task = task != NULL ? g_object_ref (task) : NULL;
  w->blocking = task == NULL;
  if (w->blocking)
    g_cond_init (&w->cond);
  w->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  return w;
}

static Waiter *
waiter_ref (Waiter *w)
{
  g_atomic_ref_count_inc (&w->ref_count);
  return w;
}

static void
waiter_unref (gpointer data)
{
  Waiter *w = data;

  if (!g_atomic_ref_count_dec (&w->ref_count))
    return;

  if (w->blocking)
    g_cond_clear (&w->cond);
  /* A permit that was never handed over releases itself here; so does a
   * slot. */
  g_clear_object (&w->permit);
  if (w->slot_ready != NULL)
    {
      if (w->slot_held)
        _pft_rate_limiter_release (w->limiter, w->entry);
      g_clear_pointer (&w->context, g_main_context_unref);
      g_object_unref (w->limiter);
    }
  g_clear_error (&w->error);
  g_clear_object (&w->task);
  g_clear_object (&w->cancellable);
  g_free (w);
}

/* ------------------------------------------------------------------ */
/* Locking. Notifications are emitted after unlocking, for what changed. */

typedef struct
{
  guint in_flight;
  guint waiting;
} Snapshot;

static void flush_done (PftRateLimiter *self,
                        DoneList       *done);

static inline void
limiter_lock (PftRateLimiter *self,
              Snapshot       *snap)
{
  g_mutex_lock (&self->mutex);
  snap->in_flight = self->in_flight;
  snap->waiting = self->waiters.length;
}

static inline void
limiter_unlock (PftRateLimiter *self,
                Snapshot       *snap,
                DoneList       *done)
{
  guint in_flight = self->in_flight;
  guint waiting = self->waiters.length;

  g_mutex_unlock (&self->mutex);

  if (done != NULL && done->head != NULL)
    flush_done (self, done);
  if (in_flight != snap->in_flight)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IN_FLIGHT]);
  if (waiting != snap->waiting)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WAITING]);
}

static inline gint64
now_locked (PftRateLimiter *self)
{
  return _pft_clock_now_us (self->clock);
}

static inline gboolean
cost_too_large_locked (PftRateLimiter *self,
                       guint64         cost)
{
  return self->limits.max_cost > 0 && cost > self->limits.max_cost;
}

static GError *
cost_too_large_error (guint64 cost,
                      guint64 max_cost)
{
  g_autofree char *c = g_strdup_printf ("%" G_GUINT64_FORMAT, cost);
  g_autofree char *m = g_strdup_printf ("%" G_GUINT64_FORMAT, max_cost);

  return g_error_new (PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                      /* Translators: the first %s is a cost (for example a
                       * number of tokens), the second the limit per window */
                      _("A request costing %s can never be admitted: the limiter allows at most %s per window (max-cost-per-window)"),
                      c, m);
}

static void on_timer (GObject *object);

static void
set_timer_locked (PftRateLimiter *self,
                  gint64          deadline)
{
  if (deadline == self->timer_deadline)
    return;
  if (self->timer == NULL)
    {
      if (deadline < 0)
        return;
      self->timer = _pft_clock_timer_new (self->clock, G_OBJECT (self), on_timer);
    }
  self->timer_deadline = deadline;
  _pft_clock_timer_set_deadline (self->timer, deadline);
}

/* Half-open after a pause, as a circuit breaker: a provider that asked
 * for a pause is often still at its limit when the pause ends (a rate
 * window frees one slot at a time), and the requests held back would all
 * go at once and all be refused. So the first request after a pause goes
 * alone; when it is released without a rate limit reported in between,
 * the limiter is closed again and the others go; when it is refused (and
 * paused again), the next one after that pause is the new probe. Any
 * release while a probe is out counts as its outcome: in-process, the
 * limiter cannot tell permits apart, and a request admitted earlier that
 * now comes back accepted is good news too. */
static inline gboolean
held_for_probe_locked (PftRateLimiter *self)
{
  return self->half_open && self->probe_out;
}

/* @pending: the request starts later than now (when its permit reaches
 * its holder, or its exec is called), see _pft_rate_limiter_start(). */
static inline guint64
admit_locked (PftRateLimiter *self,
              guint64         cost,
              gint64          now,
              gboolean        pending)
{
  if (self->half_open)
    self->probe_out = TRUE;
  self->in_flight++;
  self->total_admitted++;
  return self->backend->vtable->record (self->backend, cost, now, pending);
}

/* The one place where admission is decided: concurrency and the backend
 * (window, cost, pause) together, for the request at the head only. */
static gboolean
try_admit_locked (PftRateLimiter *self,
                  guint64         cost,
                  gboolean        pending,
                  guint64        *entry)
{
  gint64 now, ready;

  if (self->waiters.length > 0 || self->in_flight >= self->max_concurrent ||
      held_for_probe_locked (self))
    return FALSE;
  now = now_locked (self);
  if (!self->backend->vtable->decide (self->backend, cost, now, &ready))
    return FALSE;
  *entry = admit_locked (self, cost, now, pending);
  return TRUE;
}

static void
finish_waiter_locked (PftRateLimiter *self,
                      Waiter         *w,
                      WaiterState     state,
                      DoneList       *done)
{
  if (w->state == WAITER_QUEUED)
    g_queue_unlink (&self->waiters, &w->link);
  w->state = state;

  /* The queue's reference moves to the done list (async), or is dropped
   * (blocking: the waiting thread holds its own). */
  if (w->blocking)
    {
      g_cond_signal (&w->cond);
      waiter_unref (w);
    }
  else
    {
      w->next_done = NULL;
      *done->tail = w;
      done->tail = &w->next_done;
    }
}

/* Admits waiters from the head of the queue for as long as they can go,
 * then arms the timer for the time the head may go (if the window or a
 * pause holds it back; a full concurrency needs no timer, a release will
 * come). */
static void
process_locked (PftRateLimiter *self,
                DoneList       *done)
{
  gint64 deadline = -1;
  gint64 now;

  if (self->waiters.head == NULL)
    {
      set_timer_locked (self, -1);
      return;
    }

  now = now_locked (self);
  while (self->waiters.head != NULL)
    {
      Waiter *w = self->waiters.head->data;
      gint64 ready;

      if (cost_too_large_locked (self, w->cost))
        {
          w->error = cost_too_large_error (w->cost, self->limits.max_cost);
          finish_waiter_locked (self, w, WAITER_FAILED, done);
          continue;
        }
      if (self->in_flight >= self->max_concurrent || held_for_probe_locked (self))
        break;
      if (!self->backend->vtable->decide (self->backend, w->cost, now, &ready))
        {
          /* Waiting for a request to start needs no timer: its start
           * comes back here. */
          deadline = ready >= PFT_TIME_PENDING ? -1 : ready;
          break;
        }
      /* Counted from when the waiter gets it (a thread wakes, a callback
       * runs) or, for a slot, from when its exec starts. */
      w->entry = admit_locked (self, w->cost, now, TRUE);
      finish_waiter_locked (self, w, WAITER_GRANTED, done);
    }
  set_timer_locked (self, deadline);
}

/* A grant travels to its holder (an idle of its main context, a thread
 * waking) before its request starts. If max-concurrent was lowered on the
 * way, starting it would open more requests at the provider than the new
 * value: it waits here, still counted in @in_flight (its window entry
 * still pending), until those that started are fewer than the new value.
 * Returns whether @w was parked; the queue takes a reference of an async
 * waiter (a blocking one's thread keeps its own). */
static gboolean
park_locked (PftRateLimiter *self,
             Waiter         *w)
{
  if (w->state != WAITER_GRANTED ||
      self->in_flight - self->parked.length <= self->max_concurrent ||
      g_cancellable_is_cancelled (w->cancellable))
    return FALSE;
  w->state = WAITER_PARKED;
  g_queue_push_tail_link (&self->parked, &w->link);
  if (!w->blocking)
    waiter_ref (w);
  return TRUE;
}

static void
unpark_one_locked (PftRateLimiter *self,
                   Waiter         *w,
                   DoneList       *done)
{
  g_queue_unlink (&self->parked, &w->link);
  w->state = WAITER_GRANTED;
  if (w->blocking)
    g_cond_signal (&w->cond);
  else
    {
      /* The queue's reference moves to the done list. */
      w->next_done = NULL;
      *done->tail = w;
      done->tail = &w->next_done;
    }
}

/* Hands parked grants on, oldest first, while each can start within
 * max-concurrent. Before process_locked(): they were granted first. */
static inline void
unpark_locked (PftRateLimiter *self,
               DoneList       *done)
{
  while (self->parked.head != NULL &&
         self->in_flight - self->parked.length < self->max_concurrent)
    unpark_one_locked (self, self->parked.head->data, done);
}

static gboolean
waiter_park (Waiter *w)
{
  PftRateLimiter *self = w->limiter;
  Snapshot snap;
  gboolean parked;

  limiter_lock (self, &snap);
  parked = park_locked (self, w);
  limiter_unlock (self, &snap, NULL);
  return parked;
}

static void
on_timer (GObject *object)
{
  PftRateLimiter *self = PFT_RATE_LIMITER (object);
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;

  limiter_lock (self, &snap);
  self->timer_deadline = -1;   /* it fired: a timer fires once per arming */
  process_locked (self, &done);
  limiter_unlock (self, &snap, &done);
}

/* Runs on the waiter's own main context: a slot waiter, completed as
 * complete_waiter() completes a task (a cancellation seen at delivery
 * wins over the outcome, as GTask's check-cancellable does, and gives the
 * slot back before the callback runs). */
static void
complete_slot_waiter (Waiter *w)
{
  PftRateLimiter *self = w->limiter;
  GError *error = NULL;
  guint64 entry = PFT_ENTRY_NONE;

  if (w->cancel_id != 0)
    {
      g_cancellable_disconnect (w->cancellable, w->cancel_id);
      w->cancel_id = 0;
    }

  if (g_cancellable_set_error_if_cancelled (w->cancellable, &error))
    {
      if (w->slot_held)
        {
          w->slot_held = FALSE;
          _pft_rate_limiter_release (self, w->entry);
        }
      g_clear_error (&w->error);
      w->slot_ready (w->slot_data, PFT_ENTRY_NONE, error);
      return;
    }

  switch (w->state)
    {
    case WAITER_GRANTED:
      /* Handed over; its request starts when its holder calls the exec. */
      w->slot_held = FALSE;
      entry = w->entry;
      break;
    case WAITER_FAILED:
      error = g_steal_pointer (&w->error);
      break;
    case WAITER_CANCELLED:
      error = _pft_error_new_cancelled ();
      break;
    case WAITER_NEW:
    case WAITER_QUEUED:
    default:
      g_assert_not_reached ();
    }
  w->slot_ready (w->slot_data, entry, error);
}

/* Runs on the waiter's own main context. */
static void
complete_waiter (Waiter *w)
{
  /* Before the cancellable is disconnected: a parked waiter leaves the
   * queue when it is cancelled. */
  if (waiter_park (w))
    return;
  if (w->slot_ready != NULL)
    {
      complete_slot_waiter (w);
      return;
    }

  /* Never inside the cancellable's handler here, so this cannot
   * deadlock; the handler does nothing once the waiter is finished. */
  if (w->cancel_id != 0)
    {
      g_cancellable_disconnect (w->cancellable, w->cancel_id);
      w->cancel_id = 0;
    }

  switch (w->state)
    {
    case WAITER_GRANTED:
      /* The callback runs now: count the request from here. */
      _pft_permit_start (w->permit);
      g_task_return_pointer (w->task, g_steal_pointer (&w->permit), g_object_unref);
      break;
    case WAITER_FAILED:
      g_task_return_error (w->task, g_steal_pointer (&w->error));
      break;
    case WAITER_CANCELLED:
      g_task_return_error (w->task, _pft_error_new_cancelled ());
      break;
    case WAITER_NEW:
    case WAITER_QUEUED:
    default:
      g_assert_not_reached ();
    }
}

/* Waiters finished together that complete on the same context share one
 * idle source: one wakeup of that context, not one per waiter. */
typedef struct
{
  Waiter *head;   /* (owned), chained by next_done */
} Batch;

static gboolean
complete_batch_cb (gpointer data)
{
  Batch *batch = data;
  Waiter *w;

  while ((w = batch->head) != NULL)
    {
      batch->head = w->next_done;
      complete_waiter (w);
      waiter_unref (w);
    }
  return G_SOURCE_REMOVE;
}

static void
batch_free (gpointer data)
{
  Batch *batch = data;
  Waiter *w;

  /* Only left if the context went away before the source ran: the
   * permits are released as the waiters are freed. */
  while ((w = batch->head) != NULL)
    {
      batch->head = w->next_done;
      waiter_unref (w);
    }
  g_free (batch);
}

static void
attach_batch (Batch        *batch,
              GMainContext *context)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "[pft] limiter admission");
  g_source_set_callback (source, complete_batch_cb, batch, batch_free);
  /* Once attached, the batch may run in the context's thread at once and
   * drop the waiters' references to the context, which its owner may then
   * finalize: keep it alive until the source is unreferenced here. */
  g_main_context_ref (context);
  g_source_attach (source, context);
  g_source_unref (source);
  g_main_context_unref (context);
}

static void
flush_done (PftRateLimiter *self,
            DoneList       *done)
{
  Waiter *w = done->head;
  Batch *batch = NULL;
  Waiter **tail = NULL;
  GMainContext *context = NULL;

  done->head = NULL;
  done->tail = &done->head;

  /* The list's references move into the batches. */
  while (w != NULL)
    {
      Waiter *next = w->next_done;
      GMainContext *c = w->task != NULL ? g_task_get_context (w->task) : w->context;

      w->next_done = NULL;
      if (w->state == WAITER_GRANTED)
        {
          if (w->slot_ready != NULL)
            w->slot_held = TRUE;
          else if (w->permit == NULL)   /* not one coming back from the parked */
            w->permit = _pft_permit_new (self, w->cost, w->entry);
        }

      if (batch == NULL || c != context)
        {
          if (batch != NULL)
            attach_batch (batch, context);
          batch = g_new0 (Batch, 1);
          tail = &batch->head;
          context = c;
        }
      *tail = w;
      tail = &w->next_done;
      w = next;
    }
  if (batch != NULL)
    attach_batch (batch, context);
}

static void
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  Waiter *w = data;
  PftRateLimiter *self = w->limiter;
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;

  limiter_lock (self, &snap);
  if (w->state == WAITER_NEW)
    w->state = WAITER_CANCELLED;   /* enqueue_waiter() finishes it */
  else if (w->state == WAITER_QUEUED)
    {
      finish_waiter_locked (self, w, WAITER_CANCELLED, &done);
      /* The head may have changed: let whoever can go now go. */
      process_locked (self, &done);
    }
  else if (w->state == WAITER_PARKED)
    unpark_one_locked (self, w, &done);   /* delivered cancelled: its slot goes back */
  limiter_unlock (self, &snap, &done);
}

/* Queues @w (or finishes it at once). Takes the caller's reference, which
 * the queue holds until the waiter is finished. */
static void
enqueue_waiter (PftRateLimiter *self,
                Waiter         *w)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;

  /* Connected before queueing and without the lock: an already cancelled
   * cancellable calls on_cancelled() right here. */
  if (w->cancellable != NULL)
    w->cancel_id = g_cancellable_connect (w->cancellable, G_CALLBACK (on_cancelled),
                                          waiter_ref (w), waiter_unref);

  limiter_lock (self, &snap);
  if (w->state == WAITER_CANCELLED)
    {
      if (!w->blocking)
        {
          *done.tail = w;
          done.tail = &w->next_done;
        }
      else
        waiter_unref (w);
    }
  else
    {
      w->state = WAITER_QUEUED;
      g_queue_push_tail_link (&self->waiters, &w->link);
      process_locked (self, &done);
    }
  limiter_unlock (self, &snap, &done);
}

/* ------------------------------------------------------------------ */
/* GObject */

static void
pft_rate_limiter_finalize (GObject *object)
{
  PftRateLimiter *self = PFT_RATE_LIMITER (object);

  /* Waiters keep the limiter alive, so none is left. */
  g_assert (self->waiters.length == 0);
  g_assert (self->parked.length == 0);

  g_clear_pointer (&self->timer, _pft_clock_timer_free);
  self->backend->vtable->free (self->backend);
  _pft_clock_unref (self->clock);
  g_mutex_clear (&self->mutex);

  G_OBJECT_CLASS (pft_rate_limiter_parent_class)->finalize (object);
}

static void
pft_rate_limiter_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  PftRateLimiter *self = PFT_RATE_LIMITER (object);

  switch (prop_id)
    {
    case PROP_MAX_CONCURRENT:
      g_value_set_uint (value, pft_rate_limiter_get_max_concurrent (self));
      break;
    case PROP_MAX_PER_WINDOW:
      g_value_set_uint (value, pft_rate_limiter_get_max_per_window (self));
      break;
    case PROP_WINDOW:
      g_value_set_double (value, pft_rate_limiter_get_window (self));
      break;
    case PROP_MAX_COST_PER_WINDOW:
      g_value_set_uint64 (value, pft_rate_limiter_get_max_cost_per_window (self));
      break;
    case PROP_MODE:
      g_value_set_enum (value, pft_rate_limiter_get_mode (self));
      break;
    case PROP_BURST:
      g_value_set_uint (value, pft_rate_limiter_get_burst (self));
      break;
    case PROP_IN_FLIGHT:
      g_value_set_uint (value, pft_rate_limiter_get_in_flight (self));
      break;
    case PROP_WAITING:
      g_value_set_uint (value, pft_rate_limiter_get_waiting (self));
      break;
    case PROP_WINDOW_COUNT:
      g_value_set_uint (value, pft_rate_limiter_get_window_count (self));
      break;
    case PROP_WINDOW_COST:
      g_value_set_uint64 (value, pft_rate_limiter_get_window_cost (self));
      break;
    case PROP_TOTAL_ADMITTED:
      g_value_set_uint64 (value, pft_rate_limiter_get_total_admitted (self));
      break;
    case PROP_TOTAL_PAUSES:
      g_value_set_uint64 (value, pft_rate_limiter_get_total_pauses (self));
      break;
    case PROP_PAUSED_FOR:
      g_value_set_double (value, pft_rate_limiter_get_paused_for (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_rate_limiter_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  PftRateLimiter *self = PFT_RATE_LIMITER (object);

  switch (prop_id)
    {
    case PROP_MAX_CONCURRENT:
      pft_rate_limiter_set_max_concurrent (self, g_value_get_uint (value));
      break;
    case PROP_MAX_PER_WINDOW:
      pft_rate_limiter_set_max_per_window (self, g_value_get_uint (value));
      break;
    case PROP_WINDOW:
      pft_rate_limiter_set_window (self, g_value_get_double (value));
      break;
    case PROP_MAX_COST_PER_WINDOW:
      pft_rate_limiter_set_max_cost_per_window (self, g_value_get_uint64 (value));
      break;
    case PROP_MODE:
      pft_rate_limiter_set_mode (self, g_value_get_enum (value));
      break;
    case PROP_BURST:
      pft_rate_limiter_set_burst (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_rate_limiter_class_init (PftRateLimiterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  _pft_init_i18n ();

  object_class->finalize = pft_rate_limiter_finalize;
  object_class->get_property = pft_rate_limiter_get_property;
  object_class->set_property = pft_rate_limiter_set_property;

  /**
   * PftRateLimiter:max-concurrent:
   *
   * How many permits may be held at once (requests in flight), at least 1.
   * Lowering it admits nobody new until fewer than the new value are in
   * flight, and a permit granted before but not yet handed to its holder
   * is handed over only once fewer than the new value have been handed
   * over; raising it admits waiters at once.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_CONCURRENT] =
    g_param_spec_uint ("max-concurrent", NULL, NULL,
                       1, G_MAXUINT, DEFAULT_MAX_CONCURRENT, rw);

  /**
   * PftRateLimiter:max-per-window:
   *
   * How many requests may be admitted in any window of
   * [property@Pft.RateLimiter:window] seconds, or 0 for no limit. Every
   * acquire counts one request, whatever its cost.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_PER_WINDOW] =
    g_param_spec_uint ("max-per-window", NULL, NULL,
                       0, G_MAXUINT, 0, rw);

  /**
   * PftRateLimiter:window:
   *
   * The length of the rate window, in seconds, from 1e-6 (a microsecond,
   * its resolution) to 1e9 (about 31 years). Changing it keeps the
   * admissions already counted.
   *
   * Since: 0.1
   */
  properties[PROP_WINDOW] =
    g_param_spec_double ("window", NULL, NULL,
                         PFT_WINDOW_MIN, PFT_WINDOW_MAX, DEFAULT_WINDOW, rw);

  /**
   * PftRateLimiter:max-cost-per-window:
   *
   * How much cost (for example tokens) may be admitted in any window of
   * [property@Pft.RateLimiter:window] seconds, alongside
   * [property@Pft.RateLimiter:max-per-window], or 0 for no limit. A single
   * request costing more than this is refused with
   * [error@Pft.Error.INVALID_ARGUMENT] rather than waiting forever.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_COST_PER_WINDOW] =
    g_param_spec_uint64 ("max-cost-per-window", NULL, NULL,
                         0, G_MAXUINT64, 0, rw);

  /**
   * PftRateLimiter:mode:
   *
   * How the window limits are spread over time: an exact sliding window
   * (the default) or smooth pacing.
   *
   * Since: 0.1
   */
  properties[PROP_MODE] =
    g_param_spec_enum ("mode", NULL, NULL,
                       PFT_TYPE_LIMITER_MODE, PFT_LIMITER_MODE_SLIDING_WINDOW, rw);

  /**
   * PftRateLimiter:burst:
   *
   * In [enum@Pft.LimiterMode.SMOOTH] mode, how many requests may be
   * admitted back to back before the pacing of window / max-per-window
   * seconds applies (at least 1). Unused in sliding-window mode.
   *
   * Since: 0.1
   */
  properties[PROP_BURST] =
    g_param_spec_uint ("burst", NULL, NULL,
                       1, G_MAXUINT, 1, rw);

  /**
   * PftRateLimiter:in-flight:
   *
   * How many permits are held right now.
   *
   * Since: 0.1
   */
  properties[PROP_IN_FLIGHT] =
    g_param_spec_uint ("in-flight", NULL, NULL, 0, G_MAXUINT, 0, ro);

  /**
   * PftRateLimiter:waiting:
   *
   * How many callers are waiting for a permit right now.
   *
   * Since: 0.1
   */
  properties[PROP_WAITING] =
    g_param_spec_uint ("waiting", NULL, NULL, 0, G_MAXUINT, 0, ro);

  /**
   * PftRateLimiter:window-count:
   *
   * How many requests the current window holds: those that started less
   * than [property@Pft.RateLimiter:window] seconds ago, and those granted
   * that have not started yet (only live entries count).
   * Admissions are recorded while a window limit is set. Not notified:
   * it changes as time passes; read it when needed.
   *
   * Since: 0.1
   */
  properties[PROP_WINDOW_COUNT] =
    g_param_spec_uint ("window-count", NULL, NULL, 0, G_MAXUINT, 0, ro);

  /**
   * PftRateLimiter:window-cost:
   *
   * The total cost of the requests the current window holds (see
   * [property@Pft.RateLimiter:window-count]). Not notified.
   *
   * Since: 0.1
   */
  properties[PROP_WINDOW_COST] =
    g_param_spec_uint64 ("window-cost", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  /**
   * PftRateLimiter:total-admitted:
   *
   * How many permits were granted since the limiter was created. Not
   * notified (it would cost every admission a signal).
   *
   * Since: 0.1
   */
  properties[PROP_TOTAL_ADMITTED] =
    g_param_spec_uint64 ("total-admitted", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  /**
   * PftRateLimiter:total-pauses:
   *
   * How many pauses were started or extended, by
   * [method@Pft.RateLimiter.pause] or [method@Pft.RateLimiter.report_error].
   *
   * Since: 0.1
   */
  properties[PROP_TOTAL_PAUSES] =
    g_param_spec_uint64 ("total-pauses", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  /**
   * PftRateLimiter:paused-for:
   *
   * Seconds left in the current pause, or 0. Not notified.
   *
   * Since: 0.1
   */
  properties[PROP_PAUSED_FOR] =
    g_param_spec_double ("paused-for", NULL, NULL, 0, G_MAXDOUBLE, 0, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PftRateLimiter::rate-limited:
   * @self: the limiter
   * @retry_after: the pause in seconds, or -1 when the provider did not say
   *
   * Emitted when the limiter learns that the provider is rate limiting:
   * once for every rate-limit error given to
   * [method@Pft.RateLimiter.report_error], and when
   * [method@Pft.RateLimiter.pause] starts or extends a pause. Emitted in
   * the thread that reported it.
   *
   * Since: 0.1
   */
  signals[SIGNAL_RATE_LIMITED] =
    g_signal_new ("rate-limited",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_DOUBLE);
}

static void
pft_rate_limiter_init (PftRateLimiter *self)
{
  g_mutex_init (&self->mutex);
  self->clock = _pft_clock_get_system ();
  self->timer_deadline = -1;
  self->max_concurrent = DEFAULT_MAX_CONCURRENT;
  self->window = DEFAULT_WINDOW;
  self->limits.max_per_window = 0;
  self->limits.max_cost = 0;
  self->limits.window_us = (gint64) (DEFAULT_WINDOW * G_USEC_PER_SEC);
  self->limits.mode = PFT_LIMITER_MODE_SLIDING_WINDOW;
  self->limits.burst = 1;
  self->backend = _pft_admission_backend_new_memory (&self->limits);
  g_queue_init (&self->waiters);
}

/**
 * pft_rate_limiter_new:
 * @max_concurrent: how many permits may be held at once, at least 1
 * @max_per_window: how many requests may start in any window, or 0 for no
 *   limit
 * @window: the window length in seconds, from 1e-6 to 1e9 (60 for "per
 *   minute")
 *
 * Creates a limiter in sliding-window mode with no cost limit; set
 * [property@Pft.RateLimiter:max-cost-per-window] and
 * [property@Pft.RateLimiter:mode] for more. A number out of range is a
 * programmer error (a critical that names it, and %NULL); numbers from
 * users go through [method@Pft.LimiterRegistry.register_new] or a key
 * file, which report them as errors.
 *
 * Returns: (transfer full) (nullable): a new limiter, or %NULL when a
 *   number is out of range
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_rate_limiter_new (guint  max_concurrent,
                      guint  max_per_window,
                      double window)
{
  GError *error = NULL;

  if (_pft_limit_check_uint ("max-concurrent", max_concurrent, &error))
    _pft_limit_check_window (window, &error);
  if (!limit_ok_or_critical (G_STRFUNC, error))
    return NULL;

  return g_object_new (PFT_TYPE_RATE_LIMITER,
                       "max-concurrent", max_concurrent,
                       "max-per-window", max_per_window,
                       "window", window,
                       NULL);
}

/* ------------------------------------------------------------------ */
/* Acquire */

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
  Snapshot snap;
  guint64 entry;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  limiter_lock (self, &snap);
  if (G_UNLIKELY (cost_too_large_locked (self, cost)))
    {
      guint64 max_cost = self->limits.max_cost;
      limiter_unlock (self, &snap, NULL);
      g_propagate_error (error, cost_too_large_error (cost, max_cost));
      return NULL;
    }
  /* The caller has it now: the request counts from now. */
  if (!try_admit_locked (self, cost, FALSE, &entry))
    {
      limiter_unlock (self, &snap, NULL);
      return NULL;
    }
  limiter_unlock (self, &snap, NULL);

  return _pft_permit_new (self, cost, entry);
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
  g_autoptr(GTask) task = NULL;
  Snapshot snap;
  guint64 entry;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pft_rate_limiter_acquire_async);

  if (g_task_return_error_if_cancelled (task))
    return;

  limiter_lock (self, &snap);
  if (G_UNLIKELY (cost_too_large_locked (self, cost)))
    {
      guint64 max_cost = self->limits.max_cost;
      limiter_unlock (self, &snap, NULL);
      g_task_return_error (task, cost_too_large_error (cost, max_cost));
      return;
    }
  if (try_admit_locked (self, cost, TRUE, &entry))
    {
      /* Completed like any granted waiter: in an idle on the caller's
       * context, which also counts the request from when it is delivered. */
      DoneList done = DONE_LIST_INIT (done);
      Waiter *w = waiter_new (self, cost, task, NULL);

      w->state = WAITER_GRANTED;
      w->entry = entry;
      *done.tail = w;
      done.tail = &w->next_done;
      limiter_unlock (self, &snap, &done);
      return;
    }
  limiter_unlock (self, &snap, NULL);

  enqueue_waiter (self, waiter_new (self, cost, task, cancellable));
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
  Snapshot snap;
  guint64 entry;
  Waiter *w;
  WaiterState state;
  PftPermit *permit = NULL;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  limiter_lock (self, &snap);
  if (G_UNLIKELY (cost_too_large_locked (self, cost)))
    {
      guint64 max_cost = self->limits.max_cost;
      limiter_unlock (self, &snap, NULL);
      g_propagate_error (error, cost_too_large_error (cost, max_cost));
      return NULL;
    }
  if (try_admit_locked (self, cost, FALSE, &entry))
    {
      limiter_unlock (self, &snap, NULL);
      return _pft_permit_new (self, cost, entry);
    }
  limiter_unlock (self, &snap, NULL);

  w = waiter_new (self, cost, NULL, cancellable);
  enqueue_waiter (self, waiter_ref (w));

  limiter_lock (self, &snap);
  for (;;)
    {
      park_locked (self, w);
      if (w->state != WAITER_QUEUED && w->state != WAITER_PARKED)
        break;
      if (!_pft_clock_cond_wait_until (self->clock, &w->cond, &self->mutex, self->timer_deadline) &&
          w->state == WAITER_QUEUED)
        {
          /* The deadline passed: do the timer's work here rather than wait
           * for the timer thread to get to it. */
          DoneList done = DONE_LIST_INIT (done);

          process_locked (self, &done);
          if (done.head != NULL)
            {
              limiter_unlock (self, &snap, &done);
              limiter_lock (self, &snap);
            }
        }
    }
  state = w->state;
  if (state == WAITER_GRANTED)
    {
      /* The thread runs again now: count the request from here. */
      guint64 started = self->backend->vtable->start (self->backend, w->entry, now_locked (self));

      if (started != PFT_ENTRY_NONE)
        w->entry = started;
      if (started != PFT_ENTRY_NONE && self->waiters.head != NULL)
        {
          DoneList done = DONE_LIST_INIT (done);

          process_locked (self, &done);
          limiter_unlock (self, &snap, &done);
          limiter_lock (self, &snap);
        }
    }
  limiter_unlock (self, &snap, NULL);

  if (w->cancel_id != 0)
    g_cancellable_disconnect (w->cancellable, w->cancel_id);

  switch (state)
    {
    case WAITER_GRANTED:
      permit = _pft_permit_new (self, cost, w->entry);
      break;
    case WAITER_FAILED:
      g_propagate_error (error, g_steal_pointer (&w->error));
      break;
    case WAITER_CANCELLED:
      g_propagate_error (error, _pft_error_new_cancelled ());
      break;
    case WAITER_NEW:
    case WAITER_QUEUED:
    default:
      g_assert_not_reached ();
    }
  waiter_unref (w);
  return permit;
}

/* ------------------------------------------------------------------ */
/* Release, settle, pause */

void
_pft_rate_limiter_release (PftRateLimiter *self,
                           guint64         entry)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;

  limiter_lock (self, &snap);
  g_assert (self->in_flight > 0);
  /* A request that never started (its run was cancelled first) counts
   * from now: conservative, and its entry must not stay pending. */
  if (PFT_ENTRY_IS_PENDING (entry))
    self->backend->vtable->start (self->backend, entry, now_locked (self));
  self->in_flight--;
  unpark_locked (self, &done);
  if (held_for_probe_locked (self))
    {
      if (self->probe_failed)
        self->probe_failed = FALSE;   /* the next probe goes after the pause */
      else
        self->half_open = FALSE;
      self->probe_out = FALSE;
    }
  if (self->waiters.head != NULL)
    process_locked (self, &done);
  limiter_unlock (self, &snap, &done);
}

/* Slots: admissions without a PftPermit, for the dispatcher. */

gboolean
_pft_rate_limiter_try_acquire_slot (PftRateLimiter  *self,
                                    guint64          cost,
                                    guint64         *entry,
                                    GError         **error)
{
  Snapshot snap;

  limiter_lock (self, &snap);
  if (G_UNLIKELY (cost_too_large_locked (self, cost)))
    {
      guint64 max_cost = self->limits.max_cost;
      limiter_unlock (self, &snap, NULL);
      g_propagate_error (error, cost_too_large_error (cost, max_cost));
      return FALSE;
    }
  if (!try_admit_locked (self, cost, TRUE, entry))
    {
      limiter_unlock (self, &snap, NULL);
      return FALSE;
    }
  limiter_unlock (self, &snap, NULL);
  return TRUE;
}

static Waiter *
slot_waiter_new (PftRateLimiter   *self,
                 guint64           cost,
                 GCancellable     *cancellable,
                 PftSlotReadyFunc  callback,
                 gpointer          user_data)
{
  Waiter *w = waiter_new (self, cost, NULL, cancellable);

  g_cond_clear (&w->cond);
  w->blocking = FALSE;
  w->limiter = g_object_ref (self);
  w->slot_ready = callback;
  w->slot_data = user_data;
  w->context = g_main_context_ref_thread_default ();
  return w;
}

void
_pft_rate_limiter_acquire_slot_async (PftRateLimiter   *self,
                                      guint64           cost,
                                      GCancellable     *cancellable,
                                      PftSlotReadyFunc  callback,
                                      gpointer          user_data)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;
  guint64 entry;
  Waiter *w = slot_waiter_new (self, cost, cancellable, callback, user_data);

  /* Already cancelled: reported from an idle, as acquire_async does. */
  if (g_cancellable_is_cancelled (cancellable))
    {
      w->state = WAITER_CANCELLED;
      *done.tail = w;
      flush_done (self, &done);
      return;
    }

  limiter_lock (self, &snap);
  if (G_UNLIKELY (cost_too_large_locked (self, cost)))
    {
      w->error = cost_too_large_error (cost, self->limits.max_cost);
      w->state = WAITER_FAILED;
      *done.tail = w;
      limiter_unlock (self, &snap, &done);
      return;
    }
  if (try_admit_locked (self, cost, TRUE, &entry))
    {
      w->state = WAITER_GRANTED;
      w->entry = entry;
      *done.tail = w;
      limiter_unlock (self, &snap, &done);
      return;
    }
  limiter_unlock (self, &snap, NULL);

  enqueue_waiter (self, w);
}

void
_pft_rate_limiter_release_slot (PftRateLimiter *self,
                                guint64         entry)
{
  _pft_rate_limiter_release (self, entry);
}

guint64
_pft_rate_limiter_start (PftRateLimiter *self,
                         guint64         entry)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;
  guint64 started;

  if (!PFT_ENTRY_IS_PENDING (entry))
    return PFT_ENTRY_NONE;
  limiter_lock (self, &snap);
  started = self->backend->vtable->start (self->backend, entry, now_locked (self));
  /* A waiter held back by this pending entry had no timer: its deadline
   * is known now. */
  if (started != PFT_ENTRY_NONE && self->waiters.head != NULL)
    process_locked (self, &done);
  limiter_unlock (self, &snap, &done);
  return started;
}

void
_pft_rate_limiter_hold (PftRateLimiter *self)
{
  Snapshot snap;

  limiter_lock (self, &snap);
  self->in_flight++;
  limiter_unlock (self, &snap, NULL);
}

void
_pft_rate_limiter_unhold (PftRateLimiter *self)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;

  /* Not a probe's outcome: the exec it stands for was cancelled. */
  limiter_lock (self, &snap);
  g_assert (self->in_flight > 0);
  self->in_flight--;
  unpark_locked (self, &done);
  if (self->waiters.head != NULL)
    process_locked (self, &done);
  limiter_unlock (self, &snap, &done);
}

gboolean
_pft_rate_limiter_settle (PftRateLimiter *self,
                          guint64         entry,
                          guint64        *cost,
                          guint64         new_cost)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;
  guint64 old_cost;

  limiter_lock (self, &snap);
  old_cost = *cost;
  if (old_cost == new_cost)
    {
      limiter_unlock (self, &snap, NULL);
      return FALSE;
    }
  *cost = new_cost;
  self->backend->vtable->settle (self->backend, entry, old_cost, new_cost, now_locked (self));
  /* Given back: the head may fit now. Charged: its deadline moved. */
  process_locked (self, &done);
  limiter_unlock (self, &snap, &done);
  return TRUE;
}

static gboolean
pause_internal (PftRateLimiter *self,
                double          seconds)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;
  gboolean extended;
  gint64 until;

  limiter_lock (self, &snap);
  /* Capped at about 292 years to stay clear of overflow. */
  until = now_locked (self) + (gint64) ceil (MIN (seconds, 9.2e9) * G_USEC_PER_SEC);
  extended = self->backend->vtable->pause (self->backend, until);
  if (extended)
    {
      self->half_open = TRUE;
      if (self->probe_out)
        self->probe_failed = TRUE;
      self->total_pauses++;
      process_locked (self, &done);
    }
  limiter_unlock (self, &snap, &done);

  if (extended)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOTAL_PAUSES]);
  return extended;
}

/**
 * pft_rate_limiter_pause:
 * @self: a limiter
 * @seconds: how long to hold all admissions, in seconds (0 or more)
 *
 * Holds every admission until @seconds from now, for example because the
 * provider asked to retry later. Permits already granted stay valid. A
 * later call that ends later extends the pause; one that would end sooner
 * changes nothing. The window's history is kept.
 *
 * When the pause ends, one request goes first, alone; the others wait
 * until its permit is released without a rate limit reported (with
 * [method@Pft.RateLimiter.report_error]) in between, so that a provider
 * still at its limit sees one request, not a burst.
 *
 * Emits [signal@Pft.RateLimiter::rate-limited] when this starts or extends
 * a pause.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_pause (PftRateLimiter *self,
                        double          seconds)
{
  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  g_return_if_fail (!isnan (seconds));

  if (seconds <= 0)
    return;
  if (pause_internal (self, seconds))
    g_signal_emit (self, signals[SIGNAL_RATE_LIMITED], 0, seconds);
}

/**
 * pft_rate_limiter_report_error:
 * @self: a limiter
 * @error: (nullable): the error a request failed with
 *
 * Tells the limiter how a request it admitted failed. When @error is a
 * rate-limit error (see [func@Pft.Error.is_rate_limit]), the limiter
 * pauses for its retry-after ([func@Pft.Error.get_retry_after]) if it has
 * one, and emits [signal@Pft.RateLimiter::rate-limited] once.
 *
 * Returns: %TRUE if @error was a rate-limit error
 *
 * Since: 0.1
 */
gboolean
pft_rate_limiter_report_error (PftRateLimiter *self,
                               const GError   *error)
{
  double retry_after;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), FALSE);

  if (error == NULL || !pft_error_is_rate_limit (error))
    return FALSE;

  g_mutex_lock (&self->mutex);
  if (self->probe_out)
    self->probe_failed = TRUE;
  g_mutex_unlock (&self->mutex);
  retry_after = pft_error_get_retry_after (error);
  if (retry_after > 0)
    pause_internal (self, retry_after);
  g_signal_emit (self, signals[SIGNAL_RATE_LIMITED], 0, retry_after >= 0 ? retry_after : -1.0);
  return TRUE;
}

/**
 * pft_rate_limiter_reset:
 * @self: a limiter
 *
 * Forgets the window's history and any pause, as if no request had been
 * made yet: the next requests are admitted up to the full limits at once.
 * The limits, the permits already held (they still count against
 * max-concurrent until released), the waiters (who are admitted now if the
 * limits allow) and the totals ([property@Pft.RateLimiter:total-admitted],
 * [property@Pft.RateLimiter:total-pauses]) are kept. This is the original's
 * `RateLimiter.reset()`.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_reset (PftRateLimiter *self)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));

  limiter_lock (self, &snap);
  self->backend->vtable->reset (self->backend);
  self->half_open = FALSE;
  self->probe_out = FALSE;
  self->probe_failed = FALSE;
  process_locked (self, &done);
  limiter_unlock (self, &snap, &done);
}

/* ------------------------------------------------------------------ */
/* Limits */

/* Applies self->limits to the backend, then admits whoever can now go. */
static void
reconfigure_locked (PftRateLimiter *self,
                    DoneList       *done)
{
  self->backend->vtable->configure (self->backend, &self->limits, now_locked (self));
  process_locked (self, done);
}

/**
 * pft_rate_limiter_get_max_concurrent:
 * @self: a limiter
 *
 * Gets the concurrency limit, [property@Pft.RateLimiter:max-concurrent].
 *
 * Returns: how many permits may be held at once
 *
 * Since: 0.1
 */
guint
pft_rate_limiter_get_max_concurrent (PftRateLimiter *self)
{
  guint v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->max_concurrent;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_set_max_concurrent:
 * @self: a limiter
 * @max_concurrent: how many permits may be held at once, at least 1
 *
 * Sets [property@Pft.RateLimiter:max-concurrent]. Raising it admits
 * waiters at once; lowering it admits nobody until fewer than
 * @max_concurrent permits are held (permits already held stay valid), and
 * holds back a permit granted before but not yet handed to its holder
 * until it can be handed over within @max_concurrent.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_max_concurrent (PftRateLimiter *self,
                                     guint           max_concurrent)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;
  gboolean changed;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  RETURN_IF_BAD_UINT ("max-concurrent", max_concurrent);

  limiter_lock (self, &snap);
  changed = self->max_concurrent != max_concurrent;
  self->max_concurrent = max_concurrent;
  if (changed)
    {
      unpark_locked (self, &done);
      process_locked (self, &done);
    }
  limiter_unlock (self, &snap, &done);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_CONCURRENT]);
}

/**
 * pft_rate_limiter_get_max_per_window:
 * @self: a limiter
 *
 * Gets the request limit per window,
 * [property@Pft.RateLimiter:max-per-window].
 *
 * Returns: how many requests may start in any window, or 0 for no limit
 *
 * Since: 0.1
 */
guint
pft_rate_limiter_get_max_per_window (PftRateLimiter *self)
{
  guint v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->limits.max_per_window;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_set_max_per_window:
 * @self: a limiter
 * @max_per_window: how many requests may start in any window of
 *   [property@Pft.RateLimiter:window] seconds, or 0 for no limit
 *
 * Sets [property@Pft.RateLimiter:max-per-window]; takes effect at once and
 * keeps the requests already counted in the window.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_max_per_window (PftRateLimiter *self,
                                     guint           max_per_window)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;
  gboolean changed;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));

  limiter_lock (self, &snap);
  changed = self->limits.max_per_window != max_per_window;
  self->limits.max_per_window = max_per_window;
  if (changed)
    reconfigure_locked (self, &done);
  limiter_unlock (self, &snap, &done);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_PER_WINDOW]);
}

/**
 * pft_rate_limiter_get_window:
 * @self: a limiter
 *
 * Gets the length of the sliding window, [property@Pft.RateLimiter:window].
 *
 * Returns: the window length, in seconds
 *
 * Since: 0.1
 */
double
pft_rate_limiter_get_window (PftRateLimiter *self)
{
  double v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->window;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_set_window:
 * @self: a limiter
 * @window: the window length in seconds, from 1e-6 to 1e9
 *
 * Sets [property@Pft.RateLimiter:window]; takes effect at once and keeps
 * the requests already counted (they expire @window seconds after they
 * were admitted).
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_window (PftRateLimiter *self,
                             double          window)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;
  gboolean changed;
  gint64 window_us;

  GError *error = NULL;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  _pft_limit_check_window (window, &error);
  if (!limit_ok_or_critical (G_STRFUNC, error))
    return;

  window_us = MAX (1, (gint64) llround (window * G_USEC_PER_SEC));

  limiter_lock (self, &snap);
  changed = self->window != window;
  self->window = window;
  if (self->limits.window_us != window_us)
    {
      self->limits.window_us = window_us;
      reconfigure_locked (self, &done);
    }
  limiter_unlock (self, &snap, &done);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WINDOW]);
}

/**
 * pft_rate_limiter_get_max_cost_per_window:
 * @self: a limiter
 *
 * Gets the cost limit per window,
 * [property@Pft.RateLimiter:max-cost-per-window].
 *
 * Returns: how much cost may be admitted in any window, or 0 for no limit
 *
 * Since: 0.1
 */
guint64
pft_rate_limiter_get_max_cost_per_window (PftRateLimiter *self)
{
  guint64 v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->limits.max_cost;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_set_max_cost_per_window:
 * @self: a limiter
 * @max_cost: how much cost (for example tokens) may be admitted in any
 *   window of [property@Pft.RateLimiter:window] seconds, or 0 for no limit
 *
 * Sets [property@Pft.RateLimiter:max-cost-per-window]; takes effect at
 * once and keeps the costs already counted. Waiters whose cost is above
 * the new limit fail with [error@Pft.Error.INVALID_ARGUMENT].
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_max_cost_per_window (PftRateLimiter *self,
                                          guint64         max_cost)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;
  gboolean changed;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));

  limiter_lock (self, &snap);
  changed = self->limits.max_cost != max_cost;
  self->limits.max_cost = max_cost;
  if (changed)
    {
      /* Any waiter may be the one that no longer fits, not just the head. */
      GList *l = self->waiters.head;

      while (l != NULL)
        {
          Waiter *w = l->data;

          l = l->next;
          if (cost_too_large_locked (self, w->cost))
            {
              w->error = cost_too_large_error (w->cost, max_cost);
              finish_waiter_locked (self, w, WAITER_FAILED, &done);
            }
        }
      reconfigure_locked (self, &done);
    }
  limiter_unlock (self, &snap, &done);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_COST_PER_WINDOW]);
}

/**
 * pft_rate_limiter_get_mode:
 * @self: a limiter
 *
 * Gets the admission mode, [property@Pft.RateLimiter:mode].
 *
 * Returns: how the window limits are spread over time
 *
 * Since: 0.1
 */
PftLimiterMode
pft_rate_limiter_get_mode (PftRateLimiter *self)
{
  PftLimiterMode v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), PFT_LIMITER_MODE_SLIDING_WINDOW);

  g_mutex_lock (&self->mutex);
  v = self->limits.mode;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_set_mode:
 * @self: a limiter
 * @mode: the new mode
 *
 * Sets [property@Pft.RateLimiter:mode]. Switching to smooth pacing goes on
 * from the last admission (no fresh burst); switching back keeps the
 * window's history.
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_mode (PftRateLimiter *self,
                           PftLimiterMode  mode)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;
  gboolean changed;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  g_return_if_fail (mode == PFT_LIMITER_MODE_SLIDING_WINDOW || mode == PFT_LIMITER_MODE_SMOOTH);

  limiter_lock (self, &snap);
  changed = self->limits.mode != mode;
  self->limits.mode = mode;
  if (changed)
    reconfigure_locked (self, &done);
  limiter_unlock (self, &snap, &done);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODE]);
}

/**
 * pft_rate_limiter_get_burst:
 * @self: a limiter
 *
 * Gets the burst size of the smooth mode, [property@Pft.RateLimiter:burst].
 *
 * Returns: how many requests smooth mode admits back to back
 *
 * Since: 0.1
 */
guint
pft_rate_limiter_get_burst (PftRateLimiter *self)
{
  guint v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 1);

  g_mutex_lock (&self->mutex);
  v = self->limits.burst;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_set_burst:
 * @self: a limiter
 * @burst: how many requests smooth mode admits back to back, at least 1
 *
 * Sets [property@Pft.RateLimiter:burst].
 *
 * Since: 0.1
 */
void
pft_rate_limiter_set_burst (PftRateLimiter *self,
                            guint           burst)
{
  DoneList done = DONE_LIST_INIT (done);
  Snapshot snap;
  gboolean changed;

  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  RETURN_IF_BAD_UINT ("burst", burst);

  limiter_lock (self, &snap);
  changed = self->limits.burst != burst;
  self->limits.burst = burst;
  if (changed)
    reconfigure_locked (self, &done);
  limiter_unlock (self, &snap, &done);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BURST]);
}

/* ------------------------------------------------------------------ */
/* Observation */

/**
 * pft_rate_limiter_get_in_flight:
 * @self: a limiter
 *
 * Gets the number of permits granted and not released yet. A snapshot:
 * other threads may change it as soon as it is read.
 *
 * Returns: how many permits are held right now
 *
 * Since: 0.1
 */
guint
pft_rate_limiter_get_in_flight (PftRateLimiter *self)
{
  guint v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->in_flight;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_get_waiting:
 * @self: a limiter
 *
 * Gets the number of callers queued for a permit. A snapshot: other
 * threads may change it as soon as it is read.
 *
 * Returns: how many callers are waiting for a permit right now
 *
 * Since: 0.1
 */
guint
pft_rate_limiter_get_waiting (PftRateLimiter *self)
{
  guint v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->waiters.length;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_get_window_count:
 * @self: a limiter
 *
 * Gets the number of requests counted in the current window, the figure
 * compared with [property@Pft.RateLimiter:max-per-window].
 *
 * Returns: how many requests started less than
 *   [property@Pft.RateLimiter:window] seconds ago or were granted and have
 *   not started yet (recorded while a window limit is set)
 *
 * Since: 0.1
 */
guint
pft_rate_limiter_get_window_count (PftRateLimiter *self)
{
  guint count;
  guint64 cost;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  self->backend->vtable->usage (self->backend, now_locked (self), &count, &cost);
  g_mutex_unlock (&self->mutex);
  return count;
}

/**
 * pft_rate_limiter_get_window_cost:
 * @self: a limiter
 *
 * Gets the cost counted in the current window, the figure compared with
 * [property@Pft.RateLimiter:max-cost-per-window].
 *
 * Returns: the total cost of the requests admitted less than
 *   [property@Pft.RateLimiter:window] seconds ago, settled costs included
 *
 * Since: 0.1
 */
guint64
pft_rate_limiter_get_window_cost (PftRateLimiter *self)
{
  guint count;
  guint64 cost;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  self->backend->vtable->usage (self->backend, now_locked (self), &count, &cost);
  g_mutex_unlock (&self->mutex);
  return cost;
}

/**
 * pft_rate_limiter_get_total_admitted:
 * @self: a limiter
 *
 * Gets the number of permits granted over the limiter's life; a counter
 * for statistics that is never reset.
 *
 * Returns: how many permits were granted since the limiter was created
 *
 * Since: 0.1
 */
guint64
pft_rate_limiter_get_total_admitted (PftRateLimiter *self)
{
  guint64 v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->total_admitted;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_get_total_pauses:
 * @self: a limiter
 *
 * Gets the number of times a retry-after paused the limiter (see
 * [method@Pft.RateLimiter.pause]); a counter for statistics.
 *
 * Returns: how many pauses were started or extended
 *
 * Since: 0.1
 */
guint64
pft_rate_limiter_get_total_pauses (PftRateLimiter *self)
{
  guint64 v;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  v = self->total_pauses;
  g_mutex_unlock (&self->mutex);
  return v;
}

/**
 * pft_rate_limiter_get_paused_for:
 * @self: a limiter
 *
 * Gets the time left before a pause set by a retry-after ends and
 * admissions resume.
 *
 * Returns: the seconds left in the current pause, or 0 when not paused
 *
 * Since: 0.1
 */
double
pft_rate_limiter_get_paused_for (PftRateLimiter *self)
{
  gint64 left;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), 0);

  g_mutex_lock (&self->mutex);
  left = self->backend->vtable->paused_until (self->backend) - now_locked (self);
  g_mutex_unlock (&self->mutex);
  return left > 0 ? (double) left / G_USEC_PER_SEC : 0.0;
}

/**
 * pft_rate_limiter_dup_stats:
 * @self: a limiter
 *
 * Takes a snapshot of the limiter's limits and use, all read at one
 * instant under the limiter's lock (the separate getters may each see a
 * different moment), as a dictionary (`a{sv}`) with these keys:
 *
 * - `max_concurrent` (`u`): [property@Pft.RateLimiter:max-concurrent]
 * - `max_per_window` (`u`): [property@Pft.RateLimiter:max-per-window],
 *   0 for no limit
 * - `window` (`d`): [property@Pft.RateLimiter:window], in seconds
 * - `max_cost_per_window` (`t`):
 *   [property@Pft.RateLimiter:max-cost-per-window], 0 for no limit
 * - `mode` (`s`): the nick of [property@Pft.RateLimiter:mode],
 *   `sliding-window` or `smooth`
 * - `burst` (`u`): [property@Pft.RateLimiter:burst]
 * - `in_flight` (`u`): permits held now
 * - `waiting` (`u`): acquires queued now
 * - `window_count` (`u`) and `window_cost` (`t`): the requests and the
 *   cost counted in the current window, as
 *   [method@Pft.RateLimiter.get_window_count] and
 *   [method@Pft.RateLimiter.get_window_cost] give them
 * - `total_admitted` (`t`): permits granted since the limiter was created
 * - `total_pauses` (`t`): pauses started or extended by retry-afters
 * - `paused_for` (`d`): seconds left in the current pause, 0 when not
 *   paused
 *
 * Keys may be added in later versions; none will be removed.
 *
 * Returns: (transfer full): the statistics, a non-floating `a{sv}`
 *
 * Since: 0.1
 */
GVariant *
pft_rate_limiter_dup_stats (PftRateLimiter *self)
{
  g_autoptr(GEnumClass) mode_class = NULL;
  GEnumValue *mode_value;
  GVariantBuilder b;
  PftAdmissionLimits limits;
  guint max_concurrent, in_flight, waiting, window_count;
  guint64 window_cost, total_admitted, total_pauses;
  gint64 now, paused;
  double window;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);

  g_mutex_lock (&self->mutex);
  now = now_locked (self);
  limits = self->limits;
  max_concurrent = self->max_concurrent;
  window = self->window;
  in_flight = self->in_flight;
  waiting = self->waiters.length;
  self->backend->vtable->usage (self->backend, now, &window_count, &window_cost);
  total_admitted = self->total_admitted;
  total_pauses = self->total_pauses;
  paused = self->backend->vtable->paused_until (self->backend) - now;
  g_mutex_unlock (&self->mutex);

  /* Nicks live in the static storage of the registered type. */
  mode_class = g_type_class_ref (PFT_TYPE_LIMITER_MODE);
  mode_value = g_enum_get_value (mode_class, limits.mode);

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "max_concurrent", g_variant_new_uint32 (max_concurrent));
  g_variant_builder_add (&b, "{sv}", "max_per_window", g_variant_new_uint32 (limits.max_per_window));
  g_variant_builder_add (&b, "{sv}", "window", g_variant_new_double (window));
  g_variant_builder_add (&b, "{sv}", "max_cost_per_window", g_variant_new_uint64 (limits.max_cost));
  g_variant_builder_add (&b, "{sv}", "mode",
                         g_variant_new_string (mode_value != NULL ? mode_value->value_nick : "unknown"));
  g_variant_builder_add (&b, "{sv}", "burst", g_variant_new_uint32 (limits.burst));
  g_variant_builder_add (&b, "{sv}", "in_flight", g_variant_new_uint32 (in_flight));
  g_variant_builder_add (&b, "{sv}", "waiting", g_variant_new_uint32 (waiting));
  g_variant_builder_add (&b, "{sv}", "window_count", g_variant_new_uint32 (window_count));
  g_variant_builder_add (&b, "{sv}", "window_cost", g_variant_new_uint64 (window_cost));
  g_variant_builder_add (&b, "{sv}", "total_admitted", g_variant_new_uint64 (total_admitted));
  g_variant_builder_add (&b, "{sv}", "total_pauses", g_variant_new_uint64 (total_pauses));
  g_variant_builder_add (&b, "{sv}", "paused_for",
                         g_variant_new_double (paused > 0 ? (double) paused / G_USEC_PER_SEC : 0.0));

  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/**
 * pft_rate_limiter_to_string:
 * @self: a limiter
 *
 * Describes the limiter's limits and current use for logs and debugging,
 * in the style of the Python original, for example
 * `RateLimiter(max_concurrent=5, max_per_window=60, window=60s, in_flight=2, waiting=0)`.
 * A limit of 0 (none) reads `None`; the cost limit, smooth mode and a
 * running pause are shown when set.
 *
 * Returns: (transfer full): a new string
 *
 * Since: 0.1
 */
char *
pft_rate_limiter_to_string (PftRateLimiter *self)
{
  GString *s;
  char window[G_ASCII_DTOSTR_BUF_SIZE];
  PftAdmissionLimits limits;
  guint max_concurrent, in_flight, waiting;
  gint64 paused;

  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);

  g_mutex_lock (&self->mutex);
  limits = self->limits;
  max_concurrent = self->max_concurrent;
  in_flight = self->in_flight;
  waiting = self->waiters.length;
  paused = self->backend->vtable->paused_until (self->backend) - now_locked (self);
  g_ascii_formatd (window, sizeof window, "%g", self->window);
  g_mutex_unlock (&self->mutex);

  s = g_string_new ("RateLimiter(");
  g_string_append_printf (s, "max_concurrent=%u, ", max_concurrent);
  if (limits.max_per_window > 0)
    g_string_append_printf (s, "max_per_window=%u, ", limits.max_per_window);
  else
    g_string_append (s, "max_per_window=None, ");
  if (limits.max_cost > 0)
    g_string_append_printf (s, "max_cost_per_window=%" G_GUINT64_FORMAT ", ", limits.max_cost);
  g_string_append_printf (s, "window=%ss, ", window);
  if (limits.mode == PFT_LIMITER_MODE_SMOOTH)
    g_string_append_printf (s, "mode=smooth, burst=%u, ", limits.burst);
  g_string_append_printf (s, "in_flight=%u, waiting=%u", in_flight, waiting);
  if (paused > 0)
    {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      g_string_append_printf (s, ", paused=%ss",
                              g_ascii_formatd (buf, sizeof buf, "%.3g", (double) paused / G_USEC_PER_SEC));
    }
  g_string_append_c (s, ')');
  return g_string_free (s, FALSE);
}

/* ------------------------------------------------------------------ */
/* Private */

void
_pft_rate_limiter_set_clock (PftRateLimiter *self,
                             PftClock       *clock)
{
  g_return_if_fail (PFT_IS_RATE_LIMITER (self));
  g_return_if_fail (clock != NULL);

  g_mutex_lock (&self->mutex);
  g_warn_if_fail (self->waiters.length == 0);
  g_clear_pointer (&self->timer, _pft_clock_timer_free);
  self->timer_deadline = -1;
  _pft_clock_unref (self->clock);
  self->clock = _pft_clock_ref (clock);
  g_mutex_unlock (&self->mutex);
}

PftClock *
_pft_rate_limiter_get_clock (PftRateLimiter *self)
{
  g_return_val_if_fail (PFT_IS_RATE_LIMITER (self), NULL);

  return self->clock;
}
