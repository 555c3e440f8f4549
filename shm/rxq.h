/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An RX or TX queue as a secondary maps it: one memfd per attached queue,
 * made by the primary when a client attaches and handed to that client
 * alone. A TX queue (TXQ_MAGIC) has the same header and a ring the client
 * produces into: each record is one frame, at most RXQ_FRAME_MAX bytes; the
 * datapath counts what it took in `packets` and `bytes`.
 *
 *   0            struct rxq_header (256 bytes)
 *   256 + i * ring_stride   ring block i: struct rxq_ring_stats (64 bytes),
 *                then the ring (shm/ring.h)
 *
 * An RX queue has a ring per datapath worker (producer: that worker,
 * consumer: the client, who reads them all); a TX queue has one.
 *
 * Each ring record is a struct rxq_desc followed by `length` bytes of the
 * frame. A frame larger than the ring's message limit is cut to it and the
 * descriptor says so (RXQ_DESC_TRUNCATED, wire_length the real size). When
 * the ring is full the datapath drops the packet and counts it in `dropped`:
 * a slow or dead consumer never blocks it.
 *
 * A zero-copy RX queue (flags RXQ_ZERO_COPY: the verbs backend) holds the
 * frames where the NIC wrote them:
 *
 *   buffer_offset + i * buffer_size   buffer i (buffers of them), registered
 *                with the NIC; the primary posts each one to receive into
 *   ring_offset  one ring block as above: each record is a struct rxq_desc
 *                and a struct rxq_ref naming the buffer (no frame bytes)
 *   return_offset  the return ring (its own stats block first, unused): the
 *                client, done with a buffer, hands its index back in
 *                records of up to RXQ_RETURN_MAX uint32_t, ringing the
 *                primary's bell (the third fd the primary passes)
 *
 * Of what the client writes the primary reads the return ring (every
 * index checked: one out of range, or not the client's to return, breaks
 * that queue alone, nothing posted from it again until re-attached) and
 * the descriptor ring's consumer words (checked as any ring's are).
 */
#ifndef MPFLOW_SHM_RXQ_H
#define MPFLOW_SHM_RXQ_H

#include <stddef.h>
#include <stdint.h>

#include "shm/atomics.h"

#define RXQ_MAGIC	0x51585250u /* "PRXQ" */
#define TXQ_MAGIC	0x51585450u /* "PTXQ": a TX queue, records are bare frames */
#define RXQ_VERSION	3u	    /* 2: a ring per datapath worker; 3: zero-copy queues */
#define RXQ_RINGS_MAX	64u
#define RXQ_RING_STATS	64u /* bytes of counts before each ring */
#define RXQ_HEADER_SIZE 256u
#define RXQ_FRAME_MAX	16384u /* bytes of a frame a record carries */

/* Queue numbers at or above this one are VFs' queues: VF n is RXQ_VF_BASE + n. */
#define RXQ_VF_BASE 0x8000u

struct rxq_header {
	uint32_t magic;
	uint32_t version;
	uint16_t port;
	uint16_t queue;
	uint32_t ring_offset; /* of ring block 0 */
	uint64_t ring_bytes;  /* data bytes of each ring */
	uint32_t rings;	      /* 1 to RXQ_RINGS_MAX */
	uint32_t ring_stride; /* from one ring block to the next */
	uint32_t flags;	      /* RXQ_ZERO_COPY */
	/* Zero-copy queues only (0 otherwise). */
	uint32_t buffers;
	uint32_t buffer_size;
	uint32_t return_bytes; /* data bytes of the return ring */
	uint64_t buffer_offset;
	uint64_t return_offset; /* of the return ring's block */
	uint8_t pad[RXQ_HEADER_SIZE - 64];
};
_Static_assert(sizeof(struct rxq_header) == RXQ_HEADER_SIZE, "rxq header size");

/* A ring's counts since the queue was attached: producer-written, relaxed
 * (RX: delivered, their bytes, lost to a full ring; TX: taken, bytes). */
struct rxq_ring_stats {
	shm_u64 packets;
	shm_u64 bytes;
	shm_u64 dropped;
	uint8_t pad[RXQ_RING_STATS - 24];
};
_Static_assert(sizeof(struct rxq_ring_stats) == RXQ_RING_STATS, "ring counts size");

#define RXQ_DESC_MARK	   0x1u	 /* mark holds a MARK action's id */
#define RXQ_DESC_FLAG	   0x2u	 /* a FLAG action matched */
#define RXQ_DESC_RSS	   0x4u	 /* rss_hash holds the Toeplitz hash */
#define RXQ_DESC_TRUNCATED 0x8u	 /* length < wire_length */
#define RXQ_DESC_DEFAULT   0x10u /* no rule decided: default delivery */

#define RXQ_ZERO_COPY  0x1u /* rxq_header.flags: frames stay in the queue's buffers */
#define RXQ_RETURN_MAX 64u  /* buffer indexes in one return record */

struct rxq_desc {
	uint32_t length;      /* bytes of frame that follow */
	uint32_t wire_length; /* bytes of the frame as received */
	uint32_t mark;
	uint32_t rss_hash;
	uint64_t timestamp_ns; /* CLOCK_REALTIME when classified */
	uint16_t port;
	uint16_t queue;
	uint32_t flags; /* RXQ_DESC_* */
};
_Static_assert(sizeof(struct rxq_desc) == 32, "rxq descriptor size");

/* What follows a zero-copy queue's descriptor: the buffer holding the
 * frame (its first `length` bytes). */
struct rxq_ref {
	uint32_t buffer;
	uint32_t reserved; /* 0 */
};

#endif
