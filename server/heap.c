/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rule heap's allocator: where a packed rule too long for its
 * directory entry goes in the region (region.h; a 5-tuple rule stays in
 * its entry). The heap is an array of 64-byte chunks; a packed rule takes
 * as many as it needs, linked in the heap itself. Freed chunks go on a
 * stack and serve the next rule whatever its size, so no pattern of creates and destroys can leave
 * free room that nobody can use. Chunks never used are taken from a fresh mark upwards, so the
 * heap's pages are touched as the table grows. Only the primary's loop calls this; the stack is
 * private memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

void rule_heap_init(struct rule_heap *h, struct region_chunk *chunks, uint32_t n_chunks)
{
	*h = (struct rule_heap){.chunks = chunks, .n_chunks = n_chunks};
}

void rule_heap_fini(struct rule_heap *h)
{
	free(h->free);
	*h = (struct rule_heap){0};
}

uint32_t rule_heap_available(const struct rule_heap *h)
{
	return h->free_count + (h->n_chunks - h->fresh);
}

int rule_heap_alloc(struct rule_heap *h, uint32_t length, uint32_t *chunks)
{
	uint32_t n = region_rule_chunks(length);

	if (n == 0 || n > RULE_HEAP_CHAIN_MAX)
		return -EMSGSIZE;
	if (n > rule_heap_available(h))
		return -ENOSPC;
	for (uint32_t i = 0; i < n; i++)
		chunks[i] = h->free_count ? h->free[--h->free_count] : h->fresh++;
	return 0;
}

void rule_heap_free(struct rule_heap *h, uint32_t first, uint32_t length)
{
	uint32_t n = region_rule_chunks(length), at = first;

	if (h->free_count + n > h->free_cap) {
		uint32_t cap = h->free_cap ? h->free_cap : 1024;
		uint32_t *grown;

		while (cap < h->free_count + n)
			cap *= 2;
		grown = realloc(h->free, (size_t)cap * sizeof(*grown));
		/* Without room to remember them the chunks are lost to this
		 * run: the heap leaks them rather than a rule its bytes. */
		if (grown == NULL)
			return;
		h->free = grown;
		h->free_cap = cap;
	}
	/* The chain as the primary wrote it (its own stores). */
	for (uint32_t i = 0; i < n && at < h->n_chunks; i++) {
		h->free[h->free_count++] = at;
		at = (uint32_t)(shm_load_relaxed64(&h->chunks[at].next) - 1);
	}
}

void rule_heap_read(const struct rule_heap *h, uint32_t first, uint32_t length, uint8_t *out)
{
	uint32_t n = region_rule_chunks(length), at = first;

	for (uint32_t i = 0; i < n && at < h->n_chunks; i++) {
		uint32_t take = length - i * REGION_CHUNK_BYTES;

		if (take > REGION_CHUNK_BYTES)
			take = REGION_CHUNK_BYTES;
		memcpy(out + (size_t)i * REGION_CHUNK_BYTES, h->chunks[at].bytes, take);
		at = (uint32_t)(shm_load_relaxed64(&h->chunks[at].next) - 1);
	}
}
