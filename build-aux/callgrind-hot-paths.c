/* callgrind-hot-paths.c: the driver of build-aux/pft-callgrind: its
 * instruction count, minus that of the same run with n = 0, is the cost of
 * n operations of one hot path of the limiter.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
try_release (PftRateLimiter *limiter, guint64 cost, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      PftPermit *permit = pft_rate_limiter_try_acquire (limiter, cost, NULL);
      pft_permit_release (permit);
      g_object_unref (permit);
    }
}

typedef struct { PftRateLimiter *limiter; GMainLoop *loop; guint left; } Async;

static void
async_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  Async *a = data;
  PftPermit *permit = pft_rate_limiter_acquire_finish (PFT_RATE_LIMITER (source), res, NULL);
  pft_permit_release (permit);
  g_object_unref (permit);
  if (--a->left == 0)
    g_main_loop_quit (a->loop);
  else
    pft_rate_limiter_acquire_async (a->limiter, 0, NULL, async_cb, a);
}

int
main (int argc, char **argv)
{
  const char *path = argv[1];
  guint n = (guint) atoi (argv[2]);
  g_autoptr(PftRateLimiter) plain = pft_rate_limiter_new (100, 0, 1);
  g_autoptr(PftRateLimiter) windowed = pft_rate_limiter_new (100, G_MAXUINT, 0.01);

  /* Warm up type and class initialisation in every run. */
  try_release (plain, 0, 1);
  try_release (windowed, 1, 1);
  if (strcmp (path, "try_release") == 0)
    try_release (plain, 0, n);
  else if (strcmp (path, "try_release_window") == 0)
    try_release (windowed, 1, n);
  else if (strcmp (path, "async_release") == 0 && n > 0)
    {
      g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
      Async a = { plain, loop, n };
      pft_rate_limiter_acquire_async (plain, 0, NULL, async_cb, &a);
      g_main_loop_run (loop);
    }
  return 0;
}
