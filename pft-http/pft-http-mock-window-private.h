/* pft-http-mock-window-private.h: the mock server's sliding windows
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What was admitted in the last window, oldest first: (time, amount)
 * pairs on the server's monotonic clock, in microseconds. One for
 * requests (amount 1), one for tokens. Not locked: the server's mutex
 * guards it. */
typedef struct
{
  GArray *entries;
  guint64 total;
} PftHttpMockWindow;

void    pft_http_mock_window_init      (PftHttpMockWindow *window);
void    pft_http_mock_window_clear     (PftHttpMockWindow *window);
void    pft_http_mock_window_prune     (PftHttpMockWindow *window,
                                        gint64             now,
                                        gint64             length);
void    pft_http_mock_window_add       (PftHttpMockWindow *window,
                                        gint64             now,
                                        guint64            amount);
gint64  pft_http_mock_window_wait      (PftHttpMockWindow *window,
                                        gint64             now,
                                        gint64             length,
                                        guint64            limit,
                                        guint64            cost);
gint64  pft_http_mock_window_reset     (PftHttpMockWindow *window,
                                        gint64             now,
                                        gint64             length);
guint   pft_http_mock_window_max_count (const gint64      *times,
                                        guint              n_times,
                                        gint64             length);

G_END_DECLS
