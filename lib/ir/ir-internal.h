/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ir.h"

/* Like VEC_FOREACH, also over a vector reached through a const pointer. */
#define IR_FOREACH(p, v) \
	for (__typeof__((v)->items[0]) *p = (v)->items; p && p < (v)->items + (v)->n; p++)
