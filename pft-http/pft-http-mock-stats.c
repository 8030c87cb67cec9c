/* pft-http-mock-stats.c: what the mock API server saw
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-http-mock-stats.h"

G_DEFINE_BOXED_TYPE (PftHttpMockStats, pft_http_mock_stats,
                     pft_http_mock_stats_copy, pft_http_mock_stats_free)

G_DEFINE_BOXED_TYPE (PftHttpMockRecord, pft_http_mock_record,
                     pft_http_mock_record_copy, pft_http_mock_record_free)

/**
 * pft_http_mock_stats_copy:
 * @stats: statistics
 *
 * Copies @stats.
 *
 * Returns: (transfer full): a copy of @stats
 *
 * Since: 0.1
 */
PftHttpMockStats *
pft_http_mock_stats_copy (const PftHttpMockStats *stats)
{
  g_return_val_if_fail (stats != NULL, NULL);

  return g_memdup2 (stats, sizeof *stats);
}

/**
 * pft_http_mock_stats_free:
 * @stats: statistics
 *
 * Frees @stats.
 *
 * Since: 0.1
 */
void
pft_http_mock_stats_free (PftHttpMockStats *stats)
{
  g_free (stats);
}

/**
 * pft_http_mock_stats_to_string:
 * @stats: statistics
 *
 * Formats @stats as `key: value` lines, one counter a line, in the order
 * of the fields (`requests: 12`, `accepted: 10`, ...), each line ending
 * with a newline: the form pft-mock-llm prints and benchmarks parse.
 *
 * Returns: (transfer full): the lines
 *
 * Since: 0.1
 */
char *
pft_http_mock_stats_to_string (const PftHttpMockStats *stats)
{
  g_return_val_if_fail (stats != NULL, NULL);

  return g_strdup_printf ("requests: %" G_GUINT64_FORMAT "\n"
                          "accepted: %" G_GUINT64_FORMAT "\n"
                          "rate_limited: %" G_GUINT64_FORMAT "\n"
                          "server_errors: %" G_GUINT64_FORMAT "\n"
                          "dropped: %" G_GUINT64_FORMAT "\n"
                          "slow: %" G_GUINT64_FORMAT "\n"
                          "bad_requests: %" G_GUINT64_FORMAT "\n"
                          "unauthorized: %" G_GUINT64_FORMAT "\n"
                          "cancelled: %" G_GUINT64_FORMAT "\n"
                          "tokens: %" G_GUINT64_FORMAT "\n"
                          "in_flight: %u\n"
                          "max_concurrency: %u\n"
                          "max_in_window: %u\n",
                          stats->requests, stats->accepted, stats->rate_limited,
                          stats->server_errors, stats->dropped, stats->slow,
                          stats->bad_requests, stats->unauthorized, stats->cancelled,
                          stats->tokens, stats->in_flight, stats->max_concurrency,
                          stats->max_in_window);
}

/**
 * pft_http_mock_record_copy:
 * @record: a request record
 *
 * Copies @record.
 *
 * Returns: (transfer full): a copy of @record
 *
 * Since: 0.1
 */
PftHttpMockRecord *
pft_http_mock_record_copy (const PftHttpMockRecord *record)
{
  g_return_val_if_fail (record != NULL, NULL);

  return g_memdup2 (record, sizeof *record);
}

/**
 * pft_http_mock_record_free:
 * @record: a request record
 *
 * Frees @record.
 *
 * Since: 0.1
 */
void
pft_http_mock_record_free (PftHttpMockRecord *record)
{
  g_free (record);
}
