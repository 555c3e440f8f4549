/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for libmpflow's RX queue readers (client_rxq_read and,
 * for a zero-copy queue, client_rxq_read_zero_copy: what mpf_rxq_burst()
 * runs): the queue's ring and descriptors are memory the primary writes,
 * so a broken or hostile primary must not make a client read out of
 * bounds. The input: 4 bytes of tail index the "primary" publishes, then
 * the bytes of the ring's data area; both readers take the same bytes. A
 * crash, a sanitizer report, a packet outside the caller's buffer (or
 * outside the zero-copy queue's buffers), or an errno other than EPROTO /
 * EBADMSG, is a bug.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libclient/client.h"

#define RING_BYTES 4096u
#define BUFFERS	   8u
#define BUFFER	   2048u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The same ring bytes read as a zero-copy queue's descriptors. */
static void zero_copy(const uint8_t *mem_template, size_t mem_size)
{
	static _Alignas(64) uint8_t mem[sizeof(struct ring_shared) + RING_BYTES];
	static _Alignas(64) uint8_t returns[sizeof(struct ring_shared) + RING_BYTES];
	static uint8_t buffers[BUFFERS * BUFFER];
	static struct client_queue q;
	struct mpf_packet pkts[64];
	struct ring consumer;

	memcpy(mem, mem_template, mem_size);
	memset(&q, 0, sizeof(q));
	memset(returns, 0, sizeof(returns));
	if (ring_attach(&q.rings[0], mem, sizeof(mem), RING_CONSUMER, -1) != 0 ||
	    ring_create(&consumer, returns, sizeof(returns), RING_BYTES, 256, RING_CONSUMER, -1) !=
		    0 ||
	    ring_attach(&q.returns, returns, sizeof(returns), RING_PRODUCER, -1) != 0)
		return;
	q.zero_copy = true;
	q.n_rings = 1;
	q.buffers = buffers;
	q.n_buffers = BUFFERS;
	q.buffer_size = BUFFER;
	q.primary_bell = -1;
	for (int rounds = 0; rounds < 64; rounds++) {
		int got = client_rxq_read_zero_copy(&q, pkts, 64);

		if (got <= 0) {
			if (got != 0 && got != -EPROTO && got != -EBADMSG)
				abort();
			break;
		}
		for (int i = 0; i < got; i++)
			if (pkts[i].data < buffers ||
			    pkts[i].data + pkts[i].length > buffers + sizeof(buffers))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static _Alignas(64) uint8_t mem[sizeof(struct ring_shared) + RING_BYTES];
	static uint8_t buf[64 * 1024];
	struct mpf_packet pkts[64];
	struct ring producer, consumer;
	uint32_t tail;
	int got;

	if (size < sizeof(tail))
		return 0;
	memcpy(&tail, data, sizeof(tail));
	data += sizeof(tail);
	size -= sizeof(tail);
	memset(mem, 0, sizeof(mem));
	if (ring_create(&producer, mem, sizeof(mem), RING_BYTES, 1024, RING_PRODUCER, -1) != 0)
		abort();
	memcpy(producer.data, data, size < RING_BYTES ? size : RING_BYTES);
	shm_store_release32(&producer.shared->tail, tail);
	/* A tail no ring can have is refused at attach: the queue is not used. */
	if (ring_attach(&consumer, mem, sizeof(mem), RING_CONSUMER, -1) != 0)
		return 0;
	zero_copy(mem, sizeof(mem));
	for (int rounds = 0; rounds < 64; rounds++) {
		got = client_rxq_read(&consumer, pkts, 64, buf, sizeof(buf));
		if (got <= 0) {
			if (got != 0 && got != -EPROTO && got != -EBADMSG)
				abort();
			break;
		}
		for (int i = 0; i < got; i++)
			if (pkts[i].data < buf || pkts[i].data + pkts[i].length > buf + sizeof(buf))
				abort();
	}
	return 0;
}
