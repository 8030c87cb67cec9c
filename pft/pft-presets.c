/* pft-presets.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft.h"
