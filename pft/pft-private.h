/* pft-private.h: library-internal helpers, never installed
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include "pft.h"

G_BEGIN_DECLS

void _pft_init_i18n (void);

G_END_DECLS
