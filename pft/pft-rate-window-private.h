/* pft-rate-window-private.h: the window store and GCRA pacing, in memory
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft-admission-private.h"

G_BEGIN_DECLS

/* The in-memory admission: an exact sliding window of request starts (and
 * their costs), GCRA pacing in smooth mode, and the pause. Not locked: it
 * lives under its owner's lock (the limiter's, or a test backend's). It
 * answers every admission at once, never PFT_ADMISSION_ASKED. */
typedef struct _PftRateWindow PftRateWindow;

/* Freed with the table's free. */
PftRateWindow *_pft_rate_window_new (const PftAdmissionLimits *limits);

/* Its PftAdmission (the first member of the struct). */
#define PFT_RATE_WINDOW_ADMISSION(w) ((PftAdmission *) (w))

G_END_DECLS
