/* pft-rate-limiter.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft.h"
