/* pft-dispatch.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft.h"
