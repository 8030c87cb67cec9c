/* pft-adaptive-controller.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft.h"
