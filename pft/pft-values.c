/* pft-values.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft.h"
