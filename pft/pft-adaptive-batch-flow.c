/* pft-adaptive-batch-flow.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft.h"
