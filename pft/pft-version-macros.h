/* pft-version-macros.h: symbol visibility and availability
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include <glib.h>

/* _PFT_EXTERN is defined by meson (see pft/meson.build) while building the
 * library, so that only symbols marked with PFT_AVAILABLE_IN_* are exported
 * from a library built with hidden visibility. */
#ifndef _PFT_EXTERN
# define _PFT_EXTERN extern
#endif

#define PFT_AVAILABLE_IN_ALL _PFT_EXTERN
#define PFT_AVAILABLE_IN_0_1 _PFT_EXTERN
