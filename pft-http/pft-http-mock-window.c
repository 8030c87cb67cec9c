/* pft-http-mock-window.c: the mock server's sliding windows
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-http-mock-window-private.h"

typedef struct
{
  gint64 time;
  guint64 amount;
} PftHttpMockWindowEntry;

void
pft_http_mock_window_init (PftHttpMockWindow *window)
{
  window->entries = g_array_new (FALSE, FALSE, sizeof (PftHttpMockWindowEntry));
  window->total = 0;
}

void
pft_http_mock_window_clear (PftHttpMockWindow *window)
{
  g_clear_pointer (&window->entries, g_array_unref);
  window->total = 0;
}

/* Forgets what was admitted @length or more microseconds before @now. */
void
pft_http_mock_window_prune (PftHttpMockWindow *window,
                            gint64             now,
                            gint64             length)
{
  guint n = 0;

  while (n < window->entries->len)
    {
      PftHttpMockWindowEntry *e = &g_array_index (window->entries, PftHttpMockWindowEntry, n);

      if (now - e->time < length)
        break;
      window->total -= e->amount;
      n++;
    }
  if (n > 0)
    g_array_remove_range (window->entries, 0, n);
}

void
pft_http_mock_window_add (PftHttpMockWindow *window,
                          gint64             now,
                          guint64            amount)
{
  PftHttpMockWindowEntry e = { now, amount };

  g_array_append_val (window->entries, e);
  window->total += amount;
}

/* Microseconds from @now until @cost more fits under @limit, 0 when it fits
 * now, G_MAXINT64 when it never will (@cost > @limit). Expects a pruned
 * window. */
gint64
pft_http_mock_window_wait (PftHttpMockWindow *window,
                           gint64             now,
                           gint64             length,
                           guint64            limit,
                           guint64            cost)
{
  guint64 total = window->total;

  if (cost > limit)
    return G_MAXINT64;

  for (guint i = 0; i < window->entries->len && total + cost > limit; i++)
    {
      PftHttpMockWindowEntry *e = &g_array_index (window->entries, PftHttpMockWindowEntry, i);

      total -= e->amount;
      if (total + cost <= limit)
        return MAX (e->time + length - now, 1);
    }
  return 0;
}

/* Microseconds from @now until the oldest admission leaves the window (and
 * the remaining count goes up), 0 for an empty window. Expects a pruned
 * window. */
gint64
pft_http_mock_window_reset (PftHttpMockWindow *window,
                            gint64             now,
                            gint64             length)
{
  if (window->entries->len == 0)
    return 0;
  return MAX (g_array_index (window->entries, PftHttpMockWindowEntry, 0).time + length - now, 0);
}

/* The most of the sorted @times that fall within any half-open interval
 * of @length microseconds. */
guint
pft_http_mock_window_max_count (const gint64 *times,
                                guint         n_times,
                                gint64        length)
{
  guint best = 0;
  guint first = 0;

  for (guint last = 0; last < n_times; last++)
    {
      while (times[last] - times[first] >= length)
        first++;
      best = MAX (best, last - first + 1);
    }
  return best;
}
