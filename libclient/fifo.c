/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "libclient/fifo.h"

void fifo_init(struct fifo *f, size_t item_size)
{
	*f = (struct fifo){.item_size = item_size};
}

int fifo_push(struct fifo *f, const void *item)
{
	if (f->count == f->capacity) {
		uint32_t capacity = f->capacity ? 2 * f->capacity : 256;
		unsigned char *grown = malloc((size_t)capacity * f->item_size);

		if (grown == NULL)
			return -ENOMEM;
		/* Unwrap into the new array: oldest first, at index 0. */
		for (uint32_t i = 0; i < f->count; i++)
			memcpy(grown + (size_t)i * f->item_size,
			       f->items + (size_t)((f->head + i) % f->capacity) * f->item_size,
			       f->item_size);
		free(f->items);
		f->items = grown;
		f->capacity = capacity;
		f->head = 0;
	}
	memcpy(f->items + (size_t)((f->head + f->count) % f->capacity) * f->item_size, item,
	       f->item_size);
	f->count++;
	return 0;
}

int fifo_pop(struct fifo *f, void *item)
{
	if (f->count == 0)
		return -ENOENT;
	memcpy(item, f->items + (size_t)f->head * f->item_size, f->item_size);
	f->head = (f->head + 1) % f->capacity;
	f->count--;
	return 0;
}

void *fifo_newest(struct fifo *f)
{
	if (f->count == 0)
		return NULL;
	return f->items + (size_t)((f->head + f->count - 1) % f->capacity) * f->item_size;
}

void fifo_clear(struct fifo *f)
{
	f->head = 0;
	f->count = 0;
}

void fifo_free(struct fifo *f)
{
	free(f->items);
	fifo_init(f, f->item_size);
}
