/* pft.h: the umbrella header of Pft
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#define PFT_INSIDE
# include "pft-version-macros.h"
# include "pft-version.h"
# include "pft-types.h"
# include "pft-enums.h"
# include "pft-error.h"
# include "pft-init.h"
# include "pft-store.h"
# include "pft-values.h"
# include "pft-context.h"
# include "pft-node.h"
# include "pft-node-vfuncs.h"
# include "pft-batch-node.h"
# include "pft-flow.h"
# include "pft-batch-flow.h"
# include "pft-rate-limiter.h"
# include "pft-rate-limiter-redis.h"
# include "pft-permit.h"
# include "pft-rate-limiter-limits.h"
# include "pft-rate-limiter-stats.h"
# include "pft-limiter-registry.h"
# include "pft-presets.h"
# include "pft-throttled-batch-node.h"
# include "pft-adaptive-node.h"
# include "pft-throttled-batch-flow.h"
# include "pft-adaptive-batch-flow.h"
#undef PFT_INSIDE
