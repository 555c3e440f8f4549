/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RX queues (queue.c attaches them): we consume the ring the primary
 * produces into; its records are still copied out once and checked (the
 * ring code refuses impossible indexes and headers). A zero-copy queue's
 * records name the buffer the NIC wrote the frame into: the packet points
 * there, and the buffer goes back to the primary at the next burst.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libclient/client.h"
#include "shm/doorbell.h"
#include "shm/fdpass.h"
#include "shm/rxq.h"

struct mpf_rxq {
	struct client_queue q;
};
_Static_assert(offsetof(struct mpf_rxq, q) == 0, "the queue comes first");

int mpf_rxq_attach(struct mpf_client *c, uint16_t port, uint16_t queue, struct mpf_rxq **out,
		   struct mpf_flow_error *error)
{
	struct client_queue *q;
	int err = client_queue_open(c, false, port, queue, sizeof(struct mpf_rxq), &q, error);

	if (!err)
		*out = (struct mpf_rxq *)(void *)q; /* its first member */
	return err;
}

/* A descriptor (already copied out of the ring and checked) and where its
 * frame is, as the caller sees the packet. */
static struct mpf_packet packet_of(const struct rxq_desc *d, const uint8_t *data)
{
	return (struct mpf_packet){.data = data,
				   .length = d->length,
				   .wire_length = d->wire_length,
				   .mark = d->mark,
				   .rss_hash = d->rss_hash,
				   .flags = d->flags,
				   .port = d->port,
				   .queue = d->queue,
				   .timestamp_ns = d->timestamp_ns};
}

int client_rxq_read(struct ring *ring, struct mpf_packet *pkts, uint32_t max, void *buf, size_t cap)
{
	struct ring_msg msgs[64];
	unsigned n = max < 64 ? max : 64;
	int got = ring_dequeue_burst(ring, buf, cap, msgs, n);

	if (got == -EAGAIN)
		return 0;
	if (got < 0)
		return got;
	for (int i = 0; i < got; i++) {
		const uint8_t *record = (const uint8_t *)buf + msgs[i].offset;
		struct rxq_desc d;

		/* The primary's descriptor, copied once, checked against the
		 * record the ring bounded. */
		if (msgs[i].length < sizeof(d))
			return -EPROTO;
		memcpy(&d, record, sizeof(d));
		if (d.length != msgs[i].length - sizeof(d))
			return -EPROTO;
		pkts[i] = packet_of(&d, record + sizeof(d));
	}
	return got;
}

/* Hand the buffers of the last burst back: 0, or -EAGAIN when the return
 * ring is full (the primary is behind; they stay held). */
static int give_back(struct client_queue *q)
{
	int err;

	if (q->n_held == 0)
		return 0;
	err = ring_enqueue(&q->returns, q->held, q->n_held * (uint32_t)sizeof(uint32_t));
	if (err < 0)
		return err;
	q->n_held = 0;
	return 0;
}

int client_rxq_read_zero_copy(struct client_queue *q, struct mpf_packet *pkts, uint32_t max)
{
	struct {
		struct rxq_desc desc;
		struct rxq_ref ref;
	} recs[RXQ_RETURN_MAX];
	struct ring_msg msgs[RXQ_RETURN_MAX];
	unsigned n = max < RXQ_RETURN_MAX ? max : RXQ_RETURN_MAX;
	int got, err = give_back(q);

	if (err == -EAGAIN)
		return 0;
	if (err < 0)
		return err;
	got = ring_dequeue_burst(&q->rings[0], recs, sizeof(recs), msgs, n);
	if (got == -EAGAIN)
		return 0;
	if (got < 0)
		return got;
	for (int i = 0; i < got; i++) {
		/* Records are 40 bytes, each copied to an 8-aligned offset:
		 * the i-th sits at msgs[i].offset. A bad one breaks the burst,
		 * but the good ones' buffers still go back. */
		const uint8_t *record = (const uint8_t *)recs + msgs[i].offset;
		struct rxq_desc d;
		struct rxq_ref ref;

		if (msgs[i].length != sizeof(d) + sizeof(ref)) {
			err = -EPROTO;
			continue;
		}
		memcpy(&d, record, sizeof(d));
		memcpy(&ref, record + sizeof(d), sizeof(ref));
		if (ref.buffer >= q->n_buffers || d.length > q->buffer_size) {
			err = -EPROTO;
			continue;
		}
		q->held[q->n_held++] = ref.buffer;
		pkts[i] = packet_of(&d, q->buffers + (size_t)ref.buffer * q->buffer_size);
	}
	if (err)
		return err;
	return got;
}

int mpf_rxq_burst(struct mpf_rxq *rxq, struct mpf_packet *pkts, uint32_t max, void *buf, size_t cap)
{
	struct client_queue *q = &rxq->q;
	uint32_t got = 0;
	size_t used = 0;

	if (q->zero_copy)
		return client_rxq_read_zero_copy(q, pkts, max);

	/* Each worker's ring in turn, starting with the next one each burst
	 * so that none waits behind another; a flow keeps its order (it has
	 * one worker). */
	for (unsigned k = 0; k < q->n_rings && got < max; k++) {
		unsigned i = (q->next_ring + k) % q->n_rings;
		int n = client_rxq_read(&q->rings[i], pkts + got, max - got, (uint8_t *)buf + used,
					cap - used);

		if (n < 0) {
			if (got)
				break; /* the next call says so */
			return n;
		}
		if (n > 0) {
			const struct mpf_packet *last = &pkts[got + (uint32_t)n - 1];

			used = (size_t)(last->data + last->length - (const uint8_t *)buf);
			used = (used + 7) & ~(size_t)7;
			if (used > cap)
				used = cap;
			got += (uint32_t)n;
		}
	}
	q->next_ring = (q->next_ring + 1) % q->n_rings;
	return (int)got;
}

int mpf_rxq_wait(struct mpf_rxq *rxq, int timeout_ms)
{
	/* The session's hang-up ends the wait: nothing more will come. */
	struct ring_wait w = {
		.bell = rxq->q.bell, .hangup_fd = rxq->q.hangup, .timeout_ms = timeout_ms};
	int err = ring_wait_readable_any(rxq->q.rings, rxq->q.n_rings, &w);

	for (unsigned i = 0; i < rxq->q.n_rings; i++)
		if (ring_readable(&rxq->q.rings[i]))
			return 1;
	return err == -ESHUTDOWN ? -ESHUTDOWN : 0;
}

void mpf_rxq_stats(const struct mpf_rxq *rxq, struct mpf_rxq_stats *stats)
{
	/* Written by the primary's workers with relaxed stores; each ring's
	 * a plain count, summed. */
	memset(stats, 0, sizeof(*stats));
	for (unsigned i = 0; i < rxq->q.n_rings; i++) {
		stats->packets += shm_load_relaxed64(&rxq->q.stats[i]->packets);
		stats->bytes += shm_load_relaxed64(&rxq->q.stats[i]->bytes);
		stats->dropped += shm_load_relaxed64(&rxq->q.stats[i]->dropped);
	}
}

int mpf_rxq_detach(struct mpf_rxq *rxq, struct mpf_flow_error *error)
{
	return client_queue_close(&rxq->q, error);
}
