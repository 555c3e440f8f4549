/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Single-producer / single-consumer ring of variable-length messages in
 * shared memory.
 *
 * Layout of a ring object (all offsets fixed, checked at compile time):
 *
 *   0    struct ring_shared    geometry (written once by the creator), then the
 *                              producer's line, then the consumer's line, each
 *                              followed by a guard line against the adjacent-
 *                              line prefetcher
 *   384  data[size]            records, size a power of two
 *
 * A record is an 8-byte header { u32 length; u32 reserved (0) } followed by
 * the payload, padded to 8 bytes. Payloads may wrap around the end of the
 * data area; headers never do (everything is 8-aligned and size is a
 * multiple of 8). head and tail are free-running 32-bit byte counters,
 * masked on access, so `tail - head` is the number of bytes in use even
 * after they wrap.
 *
 * Trust: each side keeps the ring geometry and its own index in private
 * memory and only ever publishes that index; it never reads its own index
 * back from shared memory. The peer's index is loaded once per refill and
 * checked (`tail - head <= size`); every record header is copied out once
 * and checked before its payload is copied out once. A violation marks the
 * ring broken: every later call returns the same error, and the owner of the
 * other side is expected to drop that peer.
 *
 * Waiting: see ring_consumer_prepare_sleep() and ring_producer_prepare_sleep()
 * for the wakeup-suppression protocol; doorbell.h has the eventfd half.
 *
 * Threads: a struct ring is one side of one ring; it is used by one thread at
 * a time (callers serialise).
 */
#ifndef MPFLOW_SHM_RING_H
#define MPFLOW_SHM_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "shm/atomics.h"

#define RING_MAGIC	    0x474e4952u /* "RING" */
#define RING_LAYOUT_VERSION 1u
#define RING_RECORD_HEADER  8u
#define RING_SIZE_MIN	    4096u
#define RING_SIZE_MAX	    (1u << 30)
/* The largest payload any ring accepts; a ring may set a smaller maximum. */
#define RING_MSG_MAX_LIMIT (1u << 20)

/* Bits of ring_shared.consumer_flags, written only by the consumer. */
#define RING_NEED_WAKEUP 1u /* consumer sleeps until data arrives */
/* Bits of ring_shared.producer_flags, written only by the producer. */
#define RING_NEED_SPACE 1u /* producer sleeps until space is freed */

struct ring_shared {
	/* Geometry: written by ring_create() before the memory is shared,
	 * read once by ring_attach(); never read again by either side. */
	uint32_t magic;
	uint32_t version;
	uint32_t size;	  /* bytes of data, power of two */
	uint32_t msg_max; /* largest payload accepted */
	uint32_t data_offset;
	uint8_t geometry_pad[2 * SHM_CACHE_LINE - 5 * sizeof(uint32_t)];

	/* Producer's line: only the producer stores here. */
	shm_u32 tail;
	shm_u32 producer_flags;
	uint8_t producer_pad[2 * SHM_CACHE_LINE - 2 * sizeof(shm_u32)];

	/* Consumer's line: only the consumer stores here. */
	shm_u32 head;
	shm_u32 consumer_flags;
	uint8_t consumer_pad[2 * SHM_CACHE_LINE - 2 * sizeof(shm_u32)];
};

_Static_assert(offsetof(struct ring_shared, tail) == 2 * SHM_CACHE_LINE, "tail line");
_Static_assert(offsetof(struct ring_shared, head) == 4 * SHM_CACHE_LINE, "head line");
_Static_assert(sizeof(struct ring_shared) == 6 * SHM_CACHE_LINE, "ring header size");

enum ring_role {
	RING_PRODUCER,
	RING_CONSUMER,
};

/* One side's private view of a ring. Nothing here is shared. */
struct ring {
	struct ring_shared *shared;
	uint8_t *data;
	uint32_t size; /* cached geometry */
	uint32_t mask;
	uint32_t msg_max;
	uint32_t index;	    /* producer: tail, consumer: head (ours, authoritative) */
	uint32_t peer;	    /* last value of the peer's index we loaded and checked */
	uint32_t published; /* our index as last published */
	int error;	    /* sticky: 0, or -EPROTO / -EBADMSG once the peer broke the ring */
	int peer_doorbell;  /* eventfd to signal the peer, or -1 */
	enum ring_role role;
};

/* A message copied out by ring_dequeue_burst(): its place in the caller's
 * buffer. */
struct ring_msg {
	uint32_t offset;
	uint32_t length;
	uint32_t end; /* the consumer index just past it: see ring_release() */
};

/* Bytes of shared memory a ring of `size` data bytes needs. */
size_t ring_memsize(uint32_t size);

/*
 * Initialise a ring in `mem` (ring_memsize(size) bytes, 64-byte aligned) and
 * this side's view of it. The creator calls this before the memory is shared.
 * `msg_max` bounds payloads: 0 < msg_max <= RING_MSG_MAX_LIMIT and a
 * max-size record fits in half the ring. `peer_doorbell` is the eventfd that
 * wakes the other side (-1: none).
 * Returns 0, or -EINVAL for a bad size or maximum.
 */
int ring_create(struct ring *r, void *mem, size_t mem_len, uint32_t size, uint32_t msg_max,
		enum ring_role role, int peer_doorbell);

/*
 * Attach to a ring another process created: read its geometry once, check it
 * against the mapping length, and take our index from the shared word of our
 * role (this side is trusted with its own memory here: it is the side that
 * is joining, not the one guarding against the peer).
 * Returns 0, -EINVAL (mapping too small), -EPROTO (bad magic, version or
 * geometry).
 */
int ring_attach(struct ring *r, void *mem, size_t mem_len, enum ring_role role, int peer_doorbell);

/*
 * Producer: stage up to `count` messages and publish them with one release
 * store; ring the peer's doorbell if it asked to be woken.
 * Returns the number of messages enqueued (burst semantics: stops at the
 * first that does not fit), or a negative errno if none was:
 *   -EAGAIN   the ring is full (see ring_producer_prepare_sleep())
 *   -EMSGSIZE the first message is larger than msg_max
 *   -EPROTO   the consumer published an impossible head; the ring is broken
 */
int ring_enqueue_burst(struct ring *r, const struct iovec *msgs, unsigned count);

/* Producer: one message. Returns 0 or a negative errno as above. */
int ring_enqueue(struct ring *r, const void *msg, uint32_t length);

/*
 * Producer, in two steps: ring_stage() writes a message into the ring
 * without publishing it (0, -EAGAIN, -EMSGSIZE, -EPROTO as above);
 * ring_commit() publishes everything staged with one store (and rings the
 * doorbell if asked). The consumer sees nothing of a staged message before
 * the commit. ring_staged() tells whether anything waits for a commit.
 */
int ring_stage(struct ring *r, const void *msg, uint32_t length);
/* ring_stage() of one message gathered from `count` pieces. */
int ring_stagev(struct ring *r, const struct iovec *pieces, unsigned count);
void ring_commit(struct ring *r);
bool ring_staged(const struct ring *r);

/*
 * Consumer: copy the next message into `buf` and release its space.
 * Returns the message length, or:
 *   -EAGAIN   the ring is empty
 *   -ENOBUFS  the message is longer than `cap` (it stays in the ring)
 *   -EPROTO   the producer published an impossible tail; the ring is broken
 *   -EBADMSG  a record header is corrupt; the ring is broken
 */
int ring_dequeue(struct ring *r, void *buf, uint32_t cap);

/*
 * Consumer: copy up to `count` messages back to back (each at an 8-aligned
 * offset) into `buf`, describe them in `msgs`, and release their space with
 * one store. Returns the number copied (0 when empty), or a negative errno as
 * for ring_dequeue() if the first message cannot be taken; an error after
 * the first message is reported by the next call.
 */
int ring_dequeue_burst(struct ring *r, void *buf, size_t cap, struct ring_msg *msgs,
		       unsigned count);

/*
 * Consumer: as ring_dequeue_burst(), but nothing is released: the messages
 * stay in the ring until ring_release() is given the `end` of the last one
 * the caller is done with; the next peek starts after it. A consumer that
 * stops part-way through a burst releases what it used and reads the rest
 * again later, from the ring, as new copies.
 */
int ring_peek_burst(struct ring *r, void *buf, size_t cap, struct ring_msg *msgs, unsigned count);
/* Consumer: release every record up to `end` (a ring_msg.end of the last
 * peek) with one store. */
void ring_release(struct ring *r, uint32_t end);

/* Consumer: true if a message is waiting (loads the producer's tail). */
bool ring_readable(struct ring *r);

/* Producer: true once the consumer has released every record published
 * (loads its head; r->peer is it then), or if the ring is broken. */
bool ring_consumed(struct ring *r);

/* Bytes the producer may still stage, from its last view of the head. */
uint32_t ring_free_space(const struct ring *r);

/* Producer: true if a `length`-byte message fits now (loads the consumer's
 * head when the last view says no), or if the ring is broken. */
bool ring_writable(struct ring *r, uint32_t length);

/*
 * Consumer, before sleeping on its doorbell: publish NEED_WAKEUP, then look at
 * the ring once more. Returns true if the ring is still empty and the caller
 * may sleep; false (flag withdrawn) if data arrived meanwhile.
 */
bool ring_consumer_prepare_sleep(struct ring *r);
/* Consumer, after waking: withdraw NEED_WAKEUP. */
void ring_consumer_finish_sleep(struct ring *r);

/* Producer, before sleeping because `need` payload bytes do not fit: the same
 * protocol with NEED_SPACE. Returns true if the caller may sleep. */
bool ring_producer_prepare_sleep(struct ring *r, uint32_t need);
void ring_producer_finish_sleep(struct ring *r);

/* Record size of a payload of `length` bytes. */
static inline uint32_t ring_record_size(uint32_t length)
{
	return RING_RECORD_HEADER + ((length + 7u) & ~7u);
}

#endif
