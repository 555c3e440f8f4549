/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rule heap's allocator: where each live rule's request bytes go in the
 * region (region.h). Blocks are whole 16-byte granules; a freed block goes
 * on the free list of its size and is reused by the next rule of that size,
 * else fresh space is cut from the top. Requests come in few sizes (a table
 * of millions of rules is made of a handful of rule shapes), so the lists
 * stay short and the heap dense. Only the primary's loop calls this; the
 * lists are private memory, never in the region.
 */
#include <errno.h>
#include <stdlib.h>

#include "server/server.h"

#define GRANULE 16u

static uint32_t granules(uint32_t length)
{
	return (length + GRANULE - 1) / GRANULE;
}

void rule_heap_init(struct rule_heap *h, uint8_t *base, uint64_t size)
{
	*h = (struct rule_heap){.base = base, .size = size};
}

void rule_heap_fini(struct rule_heap *h)
{
	for (unsigned i = 0; i < RULE_HEAP_CLASSES; i++)
		free(h->free[i].offsets);
	*h = (struct rule_heap){0};
}

int rule_heap_alloc(struct rule_heap *h, uint32_t length, uint64_t *offset)
{
	uint32_t g = granules(length);
	struct rule_heap_list *list;

	if (g == 0 || g >= RULE_HEAP_CLASSES)
		return -EMSGSIZE;
	list = &h->free[g];
	if (list->count) {
		*offset = list->offsets[--list->count];
		return 0;
	}
	if ((uint64_t)g * GRANULE > h->size - h->top)
		return -ENOSPC;
	*offset = h->top;
	h->top += (uint64_t)g * GRANULE;
	return 0;
}

void rule_heap_free(struct rule_heap *h, uint64_t offset, uint32_t length)
{
	uint32_t g = granules(length);
	struct rule_heap_list *list = &h->free[g];

	if (list->count == list->cap) {
		uint32_t cap = list->cap ? 2 * list->cap : 64;
		uint64_t *offsets = realloc(list->offsets, cap * sizeof(*offsets));

		/* Without room to remember it the block is lost to this run:
		 * the heap leaks a block rather than the rule a byte. */
		if (offsets == NULL)
			return;
		list->offsets = offsets;
		list->cap = cap;
	}
	list->offsets[list->count++] = offset;
}
