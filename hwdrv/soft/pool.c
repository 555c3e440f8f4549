/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-rule objects in pooled chunks (see pool.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hwdrv/soft/pool.h"

/*
 * Allocations of 2 MiB and more are anonymous maps aligned to 2 MiB and
 * offered to transparent huge pages (MADV_HUGEPAGE: systems set to
 * "madvise" grant them only where asked): where granted, one page fault and
 * one TLB entry per 2 MiB instead of 512; where not, 4 KiB pages as from
 * malloc. Zeroed, as from calloc.
 */
#define HUGE_BYTES (2u << 20)

static size_t big_length(size_t bytes)
{
	return (bytes + HUGE_BYTES - 1) & ~(size_t)(HUGE_BYTES - 1);
}

void *big_alloc(size_t bytes)
{
	size_t length = big_length(bytes);
	uint8_t *map, *aligned;

	if (bytes < HUGE_BYTES)
		return calloc(1, bytes);
	map = mmap(NULL, length + HUGE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	aligned = (uint8_t *)(((uintptr_t)map + HUGE_BYTES - 1) & ~(uintptr_t)(HUGE_BYTES - 1));
	if (aligned > map)
		munmap(map, (size_t)(aligned - map));
	if (aligned + length < map + length + HUGE_BYTES)
		munmap(aligned + length, (size_t)(map + length + HUGE_BYTES - (aligned + length)));
	(void)madvise(aligned, length, MADV_HUGEPAGE); /* refused: small pages */
	return aligned;
}

void big_free(void *mem, size_t bytes)
{
	if (bytes < HUGE_BYTES)
		free(mem);
	else if (mem)
		munmap(mem, big_length(bytes));
}

static unsigned size_class(size_t size)
{
	return (unsigned)((size + POOL_ALIGN - 1) / POOL_ALIGN);
}

void *pool_alloc(struct pool *pool, size_t size)
{
	unsigned class = size_class(size);
	size_t bytes = (size_t) class * POOL_ALIGN;
	void *object;

	if (class >= POOL_CLASSES)
		return malloc(size);
	if (pool->free[class]) {
		object = pool->free[class];
		memcpy(&pool->free[class], object, sizeof(void *));
		/* Freed objects are cold: the next one's line is on its way
		 * by the time it is taken. */
		if (pool->free[class])
			__builtin_prefetch(pool->free[class], 1);
		return object;
	}
	if (pool->left < bytes) {
		/* A new chunk; its first bytes link it to the others. */
		uint8_t *chunk = big_alloc(HUGE_BYTES);

		if (chunk == NULL)
			return NULL;
		memcpy(chunk, &pool->chunks, sizeof(void *));
		pool->chunks = chunk;
		pool->carve = chunk + POOL_ALIGN;
		pool->left = HUGE_BYTES - POOL_ALIGN;
	}
	object = pool->carve;
	pool->carve += bytes;
	pool->left -= bytes;
	return object;
}

void *pool_zalloc(struct pool *pool, size_t size)
{
	void *object = pool_alloc(pool, size);

	if (object)
		memset(object, 0, size);
	return object;
}

void pool_free(struct pool *pool, void *object, size_t size)
{
	unsigned class = size_class(size);

	if (object == NULL)
		return;
	if (class >= POOL_CLASSES) {
		free(object);
		return;
	}
	memcpy(object, &pool->free[class], sizeof(void *));
	pool->free[class] = object;
}

void pool_fini(struct pool *pool)
{
	while (pool->chunks) {
		void *next;

		memcpy(&next, pool->chunks, sizeof(void *));
		big_free(pool->chunks, HUGE_BYTES);
		pool->chunks = next;
	}
	memset(pool, 0, sizeof(*pool));
}
