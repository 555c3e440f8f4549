/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for libmpflow's RX queue reader (client_rxq_read, what
 * mpf_rxq_burst() runs): the queue's ring and descriptors are memory the
 * primary writes, so a broken or hostile primary must not make a client
 * read out of bounds. The input: 4 bytes of tail index the "primary"
 * publishes, then the bytes of the ring's data area. A crash, a sanitizer
 * report, a packet outside the caller's buffer, or an errno other than
 * EPROTO / EBADMSG, is a bug.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libclient/client.h"

#define RING_BYTES 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
