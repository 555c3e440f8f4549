/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <sys/mman.h>

#include "hwdrv/soft/pool.h"

#define CHUNK (2u << 20)

static int size_class(size_t size)
{
	int c = 0;

	while (((size_t)64 << c) < size)
		c++;
	return c < POOL_CLASSES ? c : -1;
}

/* A fresh chunk, faulted in now: a page fault per block on first use cost
 * the soft backend more than the rest of a create. */
static int grow(struct pool *pool)
{
	void **chunks = realloc(pool->chunks, (pool->chunk_count + 1) * sizeof(*chunks));
	char *chunk;

	if (chunks == NULL)
		return -1;
	pool->chunks = chunks;
	chunk = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (chunk == MAP_FAILED)
		return -1;
	madvise(chunk, CHUNK, MADV_HUGEPAGE); /* a hint: fine if refused */
	for (size_t offset = 0; offset < CHUNK; offset += 4096)
		chunk[offset] = 0;
	pool->chunks[pool->chunk_count++] = chunk;
	pool->next = chunk;
	pool->left = CHUNK;
	return 0;
}

void *pool_alloc(struct pool *pool, size_t size)
{
	int c = size_class(size);
	size_t bytes;
	void *block;

	if (c < 0)
		return NULL;
	if (pool->free[c]) {
		block = pool->free[c];
		pool->free[c] = *(void **)block;
		return block;
	}
	bytes = (size_t)64 << c;
	if (pool->left < bytes && grow(pool) != 0)
		return NULL;
	block = pool->next;
	pool->next += bytes;
	pool->left -= bytes;
	return block;
}

void pool_free(struct pool *pool, void *block, size_t size)
{
	int c = size_class(size);

	*(void **)block = pool->free[c];
	pool->free[c] = block;
}

void pool_destroy(struct pool *pool)
{
	for (size_t i = 0; i < pool->chunk_count; i++)
		munmap(pool->chunks[i], CHUNK);
	free(pool->chunks);
	*pool = (struct pool){0};
}
