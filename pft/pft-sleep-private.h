/* pft-sleep-private.h: a cancellable sleep on a PftClock, completing on
 * the thread-default main context (internal)
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <gio/gio.h>

#include "pft-clock-private.h"

G_BEGIN_DECLS

/* Completes once @clock reads @seconds later than now (on a fake clock:
 * when a test advances it that far), or with G_IO_ERROR_CANCELLED as soon
 * as @cancellable is cancelled, from any thread. A span beyond the clock's
 * range never ends by itself. */
void     _pft_sleep_async  (PftClock            *clock,
                            double               seconds,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data);
gboolean _pft_sleep_finish (GAsyncResult        *result,
                            GError             **error);

G_END_DECLS
