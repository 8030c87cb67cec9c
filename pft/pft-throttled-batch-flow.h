/* pft-throttled-batch-flow.h
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-types.h"

G_BEGIN_DECLS

G_END_DECLS
