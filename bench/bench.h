/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the benchmarks share. */
#pragma once

#include <time.h>

/* Returns clock c (CLOCK_MONOTONIC for wall time, CLOCK_PROCESS_CPUTIME_ID for the CPU time of
 * every thread, CLOCK_THREAD_CPUTIME_ID for this thread's) in milliseconds. */
static inline double clock_ms(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
