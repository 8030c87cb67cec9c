/* pft-http-error.h: the PFT_HTTP_ERROR domain
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_HTTP_INSIDE) && !defined(PFT_HTTP_COMPILATION)
# error "Only <pft-http.h> can be included directly."
#endif

#include <gio/gio.h>

#include "pft-http-version-macros.h"

G_BEGIN_DECLS

/**
 * PFT_HTTP_ERROR:
 *
 * The error domain of PftHttp. Errors in this domain come from the
 * [enum@PftHttp.Error] enumeration.
 *
 * Since: 0.1
 */
#define PFT_HTTP_ERROR (pft_http_error_quark ())

/**
 * PftHttpError:
 * @PFT_HTTP_ERROR_STATUS: the server answered with an HTTP error status
 *   other than 429 (which is [error@Pft.Error.RATE_LIMITED]); the status is
 *   [func@PftHttp.Error.get_status], the message quotes the provider's
 *   error message
 * @PFT_HTTP_ERROR_INVALID_REPLY: the server answered 2xx with something
 *   that is not a chat reply (not JSON, no `choices` / `content`)
 * @PFT_HTTP_ERROR_INVALID_CONFIG: the client cannot send anything as
 *   configured (no base URL, a malformed one, no model); retrying cannot help
 *
 * Error codes of the [error@PftHttp.Error] domain. Transport failures keep
 * their own domains (`G_IO_ERROR_CONNECTION_REFUSED`,
 * `G_IO_ERROR_TIMED_OUT`, libsoup's errors), prefixed with the URL, and a
 * 429 is [error@Pft.Error.RATE_LIMITED] with the provider's retry-after, so
 * that Pft's limiters and adaptive nodes see it.
 *
 * Since: 0.1
 */
typedef enum {
  PFT_HTTP_ERROR_STATUS,
  PFT_HTTP_ERROR_INVALID_REPLY,
  PFT_HTTP_ERROR_INVALID_CONFIG,
} PftHttpError;

PFT_HTTP_AVAILABLE_IN_ALL
GQuark  pft_http_error_quark      (void);
PFT_HTTP_AVAILABLE_IN_ALL
guint   pft_http_error_get_status (const GError *error);

G_END_DECLS
