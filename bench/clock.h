/* SPDX-License-Identifier: BSD-3-Clause */
/* The benchmarks' clock and the sort of their samples. */
#ifndef MPFLOW_BENCH_CLOCK_H
#define MPFLOW_BENCH_CLOCK_H

#include <time.h>

static inline double bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* qsort() order of doubles. */
static inline int bench_compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#endif
