/* pft-error.h: the PFT_ERROR domain
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include "pft-types.h"

G_BEGIN_DECLS

/**
 * PFT_ERROR:
 *
 * The error domain of Pft. Errors in this domain come from the
 * [enum@Pft.Error] enumeration.
 *
 * Since: 0.1
 */
#define PFT_ERROR (pft_error_quark ())

/**
 * PftError:
 * @PFT_ERROR_FAILED: a generic failure, or an exception raised in a
 *   language binding that was not a `GLib.Error` (its message names the
 *   exception type)
 * @PFT_ERROR_INVALID_ARGUMENT: an argument or a value returned by user code
 *   has the wrong type or range (for example a batch `prep` that did not
 *   return a [class@Pft.Values], or a param set that is not `a{sv}`)
 * @PFT_ERROR_NOT_FOUND: a named thing (limiter, preset) does not exist
 * @PFT_ERROR_EXISTS: a named thing already exists
 * @PFT_ERROR_RATE_LIMITED: the provider answered that the caller is rate
 *   limited (HTTP 429); may carry a retry-after, see
 *   [func@Pft.Error.get_retry_after]
 * @PFT_ERROR_NO_START: a flow was run without a start node
 * @PFT_ERROR_MAX_STEPS: a flow ran more steps than its `max-steps` allows
 * @PFT_ERROR_PARSE: a configuration file could not be parsed
 * @PFT_ERROR_BACKEND_UNAVAILABLE: a shared admission backend (Redis) could
 *   not be reached, or answered nothing, within its timeout. Since: 0.1
 *
 * Error codes of the [error@Pft.Error] domain.
 *
 * Since: 0.1
 */
typedef enum {
  PFT_ERROR_FAILED,
  PFT_ERROR_INVALID_ARGUMENT,
  PFT_ERROR_NOT_FOUND,
  PFT_ERROR_EXISTS,
  PFT_ERROR_RATE_LIMITED,
  PFT_ERROR_NO_START,
  PFT_ERROR_MAX_STEPS,
  PFT_ERROR_PARSE,
  PFT_ERROR_BACKEND_UNAVAILABLE,
} PftError;

PFT_AVAILABLE_IN_ALL
GQuark    pft_error_quark              (void);

PFT_AVAILABLE_IN_ALL
GError   *pft_error_new_rate_limited   (double        retry_after,
                                        const char   *source,
                                        const char   *message);
PFT_AVAILABLE_IN_ALL
gboolean  pft_error_is_rate_limit      (const GError *error);
PFT_AVAILABLE_IN_ALL
double    pft_error_get_retry_after    (const GError *error);
PFT_AVAILABLE_IN_ALL
const char *pft_error_get_source       (const GError *error);
PFT_AVAILABLE_IN_ALL
void      pft_task_return_rate_limited (GTask        *task,
                                        double        retry_after,
                                        const char   *source,
                                        const char   *message);
PFT_AVAILABLE_IN_ALL
void      pft_task_return_js_error     (GTask        *task,
                                        const char   *name,
                                        const char   *message);

G_END_DECLS
