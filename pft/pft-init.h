/* pft-init.h: library initialisation
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-types.h"

G_BEGIN_DECLS

PFT_AVAILABLE_IN_ALL
const char *pft_get_version_string (void);

G_END_DECLS
