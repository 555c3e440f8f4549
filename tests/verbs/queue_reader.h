/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An attached zero-copy RX queue (shm/rxq.h) read the way its client reads
 * it, for in-process tests and benchmarks of the verbs backend: the memory
 * queue_attach() handed over mapped, the descriptor ring consumed, the
 * return ring produced into (ringing the primary's bell when it asks).
 * libmpflow does the same for real clients (libclient/queue.c, rxq.c),
 * with every field of the header checked; here the backend is the code
 * under test and its header is taken as written.
 */
#ifndef MPFLOW_TESTS_QUEUE_READER_H
#define MPFLOW_TESTS_QUEUE_READER_H

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hwdrv/hwdrv.h"
#include "shm/ring.h"
#include "shm/rxq.h"

struct queue_reader {
	void *mem;
	size_t length;
	struct rxq_header h;
	struct ring rx, returns;
	const uint8_t *buffers;
};

/* One record of the descriptor ring. */
struct queue_record {
	struct rxq_desc desc;
	struct rxq_ref ref;
};

/* Map the queue whose fds queue_attach() gave: 0, or -1 when it is not a
 * zero-copy queue or its rings do not attach. */
static inline int queue_reader_map(struct queue_reader *r, const int fds[HWDRV_QUEUE_FDS])
{
	r->length = (size_t)lseek(fds[0], 0, SEEK_END);
	r->mem = mmap(NULL, r->length, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	if (r->mem == MAP_FAILED)
		return -1;
	memcpy(&r->h, r->mem, sizeof(r->h));
	r->buffers = (const uint8_t *)r->mem + r->h.buffer_offset;
	if (r->h.flags != RXQ_ZERO_COPY ||
	    ring_attach(&r->rx, (uint8_t *)r->mem + r->h.ring_offset + RXQ_RING_STATS,
			r->h.ring_stride - RXQ_RING_STATS, RING_CONSUMER, -1) != 0 ||
	    ring_attach(&r->returns, (uint8_t *)r->mem + r->h.return_offset + RXQ_RING_STATS,
			ring_memsize(r->h.return_bytes), RING_PRODUCER, fds[2]) != 0)
		return -1;
	return 0;
}

static inline void queue_reader_unmap(struct queue_reader *r)
{
	munmap(r->mem, r->length);
}

/* The frame a record names. */
static inline const uint8_t *queue_reader_frame(const struct queue_reader *r,
						const struct queue_record *rec)
{
	return r->buffers + (size_t)rec->ref.buffer * r->h.buffer_size;
}

/* The queue's counts (its ring's stats block). */
static inline const struct rxq_ring_stats *queue_reader_stats(const struct queue_reader *r)
{
	return (const struct rxq_ring_stats *)(const void *)((const uint8_t *)r->mem +
							     r->h.ring_offset);
}

#endif
