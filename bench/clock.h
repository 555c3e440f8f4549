/* SPDX-License-Identifier: BSD-3-Clause */
/* The benchmarks' clocks (the wall's, and the process's kernel time) and
 * the sort of their samples. */
#ifndef MPFLOW_BENCH_CLOCK_H
#define MPFLOW_BENCH_CLOCK_H

#include <sys/resource.h>
#include <time.h>

static inline double bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Seconds the process (every thread) spent in the kernel so far: a first
 * fill's share of it is mostly the kernel zeroing fresh pages. */
static inline double bench_kernel_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* qsort() order of doubles. */
static inline int bench_compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#endif
