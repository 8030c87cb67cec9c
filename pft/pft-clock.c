/* pft-clock.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft.h"
