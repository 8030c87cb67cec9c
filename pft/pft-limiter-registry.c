/* pft-limiter-registry.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft.h"
