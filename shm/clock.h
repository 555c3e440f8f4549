/* SPDX-License-Identifier: BSD-3-Clause */
/* Clocks in nanoseconds: rates, ages, deadlines, timestamps. */
#ifndef MPFLOW_SHM_CLOCK_H
#define MPFLOW_SHM_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC for intervals, CLOCK_REALTIME to compare with the
 * region's timestamps (last hit, start time). */
static inline uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
