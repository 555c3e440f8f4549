/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory for the soft backend's per-rule objects (rules, their compiled
 * items, the classifier's nodes): carved from chunks of 2 MiB offered to
 * transparent huge pages, by size in 16-byte classes, and kept on a free
 * list per class when freed. At a million rules a first fill takes one page
 * fault per 2 MiB (where huge pages are granted) instead of one per 4 KiB
 * from malloc, and later fills none: freed objects are reused, not handed
 * back to the system. During a bulk load a helper thread faults the next
 * chunks in ahead, so that the kernel's zeroing of fresh pages is not the
 * writer's (pool.c). One writer per pool; objects freed only once no reader
 * holds them (the caller's RCU).
 */
#ifndef MPFLOW_HWDRV_SOFT_POOL_H
#define MPFLOW_HWDRV_SOFT_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "shm/bigmem.h"

#define POOL_ALIGN   16u
#define POOL_CLASSES 64u /* objects up to 1 KiB; larger ones come from malloc */

struct pool {
	void *free[POOL_CLASSES]; /* each a list through the object's first word */
	uint8_t *carve;		  /* the rest of the newest chunk */
	size_t left;
	void *chunks; /* every chunk, linked through its first word */
};

/* An object of `size` bytes (not zeroed; pool_zalloc(): zeroed), aligned
 * to 16, or NULL. */
void *pool_alloc(struct pool *pool, size_t size);
void *pool_zalloc(struct pool *pool, size_t size);
/* Give back an object of `size` bytes (the size it was allocated with). */
void pool_free(struct pool *pool, void *object, size_t size);
/* Every chunk back to the system; every object of the pool is gone. */
void pool_fini(struct pool *pool);

#endif
