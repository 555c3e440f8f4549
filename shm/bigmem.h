/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Large process-private arrays on huge pages where the system grants them:
 * the primary's rule table, the soft backend's pool chunks and classifier
 * tables. Never shared: the region is a memfd of its own (server/region.c).
 */
#ifndef MPFLOW_SHM_BIGMEM_H
#define MPFLOW_SHM_BIGMEM_H

#include <stddef.h>

/* A huge page (a PMD's): allocations of this size and more are whole ones;
 * the pool's chunks and the region's pages are measured by it too. */
#define BIGMEM_HUGE_BYTES (2u << 20)

/* Zeroed memory for a large array: 2 MiB and more in whole huge pages where
 * the system grants them, less from calloc; NULL when out of memory.
 * big_free() takes the size it was allocated with. */
void *big_alloc(size_t bytes);
void big_free(void *mem, size_t bytes);

#endif
