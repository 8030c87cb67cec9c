/* pft-batch-node.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft.h"
