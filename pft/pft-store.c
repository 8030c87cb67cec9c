/* pft-store.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft.h"
