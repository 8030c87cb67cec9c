/* pft-http-version-macros.h: symbol visibility and availability of PftHttp
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_HTTP_INSIDE) && !defined(PFT_HTTP_COMPILATION)
# error "Only <pft-http.h> can be included directly."
#endif

#include <glib.h>

/* _PFT_HTTP_EXTERN is defined by meson (see pft-http/meson.build) while
 * building the library, so that only symbols marked with
 * PFT_HTTP_AVAILABLE_IN_* are exported from a library built with hidden
 * visibility. */
#ifndef _PFT_HTTP_EXTERN
# define _PFT_HTTP_EXTERN extern
#endif

#define PFT_HTTP_AVAILABLE_IN_ALL _PFT_HTTP_EXTERN
#define PFT_HTTP_AVAILABLE_IN_0_1 _PFT_HTTP_EXTERN
