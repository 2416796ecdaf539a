/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The shared helpers of every component: cleanup macros, errors, strings, maps, sets. */
#include "cleanup.h"
#include "error.h"
#include "hashmap.h"
#include "iset.h"
#include "strbuf.h"
#include "vec.h"
