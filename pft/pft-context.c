/* pft-context.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft.h"
