/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A growable FIFO of fixed-size items in one array (a ring that doubles when
 * full). libmpflow keeps its in-flight requests and the completions held
 * for mpf_poll() in two of them. sys/queue.h lists would cost an allocation
 * per request on the submit path; this costs one per doubling.
 */
#ifndef MPFLOW_LIBCLIENT_FIFO_H
#define MPFLOW_LIBCLIENT_FIFO_H

#include <stddef.h>
#include <stdint.h>

struct fifo {
	unsigned char *items;
	size_t item_size;
	uint32_t capacity, head, count;
};

/* An empty FIFO of items of `item_size` bytes. */
void fifo_init(struct fifo *f, size_t item_size);
/* Append a copy of *item. 0 or -ENOMEM. */
int fifo_push(struct fifo *f, const void *item);
/* Copy the oldest item out and remove it. 0, or -ENOENT when empty. */
int fifo_pop(struct fifo *f, void *item);
/* The newest item, in place, or NULL when empty. */
void *fifo_newest(struct fifo *f);
/* Forget every item (the memory stays for reuse). */
void fifo_clear(struct fifo *f);
void fifo_free(struct fifo *f);

#endif
