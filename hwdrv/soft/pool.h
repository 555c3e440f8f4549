/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A pool for the soft backend's per-rule memory: 2 MiB chunks (huge pages
 * where the kernel gives them), faulted in when taken, carved into blocks of
 * power-of-two size classes with a free list per class. Blocks are reused,
 * never returned to the system. One thread.
 */
#ifndef MPFLOW_HWDRV_SOFT_POOL_H
#define MPFLOW_HWDRV_SOFT_POOL_H

#include <stddef.h>

#define POOL_CLASSES 10 /* 64 B .. 32 KiB */

struct pool {
	void *free[POOL_CLASSES];
	char *next; /* bump pointer in the current chunk */
	size_t left;
	void **chunks;
	size_t chunk_count;
};

/* A block of at least `size` bytes (at most 32 KiB), or NULL. */
void *pool_alloc(struct pool *pool, size_t size);
/* Give back a block pool_alloc(pool, size) returned. */
void pool_free(struct pool *pool, void *block, size_t size);
/* Unmap every chunk. */
void pool_destroy(struct pool *pool);

#endif
