/* pft-permit.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft.h"
