/* pft-http.h: the umbrella header of PftHttp, Pft's HTTP layer
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <pft.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#define PFT_HTTP_INSIDE
# include "pft-http-version-macros.h"
# include "pft-http-enums.h"
# include "pft-http-mock-stats.h"
# include "pft-http-mock-server.h"
# include "pft-http-error.h"
# include "pft-http-rate-headers.h"
# include "pft-http-chat-reply.h"
# include "pft-http-chat-client.h"
# include "pft-http-chat-node.h"
#undef PFT_HTTP_INSIDE
