/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TX queues (queue.c attaches them): we produce frames into a ring the
 * datapath consumes; each record is one frame. The datapath sends a burst
 * per queue per round through the port's egress rules.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "libclient/client.h"
#include "shm/rxq.h"

struct mpf_txq {
	struct client_queue q;
};

_Static_assert(MPF_TXQ_FRAME_MAX == RXQ_FRAME_MAX, "TX frame bound");

int mpf_txq_attach(struct mpf_client *c, uint16_t port, uint16_t queue, struct mpf_txq **out,
		   struct mpf_flow_error *error)
{
	struct mpf_txq *txq = calloc(1, sizeof(*txq));
	int err;

	if (txq == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "out of memory");
	err = client_queue_attach(c, true, port, queue, &txq->q, error);
	if (err) {
		free(txq);
		return err;
	}
	*out = txq;
	return 0;
}

int mpf_txq_burst(struct mpf_txq *txq, const struct mpf_tx_frame *frames, uint32_t count)
{
	struct iovec msgs[64];
	uint32_t sent = 0;

	while (sent < count) {
		unsigned n = count - sent < 64 ? count - sent : 64;
		int got;

		for (unsigned i = 0; i < n; i++) {
			if (frames[sent + i].length > MPF_TXQ_FRAME_MAX)
				return sent ? (int)sent : -EMSGSIZE;
			msgs[i] =
				(struct iovec){.iov_base = (void *)(uintptr_t)frames[sent + i].data,
					       .iov_len = frames[sent + i].length};
		}
		got = ring_enqueue_burst(&txq->q.ring, msgs, n);
		if (got == -EAGAIN)
			break; /* full: the caller tries the rest later */
		if (got < 0)
			return sent ? (int)sent : -ESHUTDOWN; /* the datapath broke the ring */
		sent += (uint32_t)got;
		if ((unsigned)got < n)
			break;
	}
	return (int)sent;
}

void mpf_txq_stats(const struct mpf_txq *txq, struct mpf_txq_stats *stats)
{
	stats->packets = shm_load_relaxed64(&txq->q.header->packets);
	stats->bytes = shm_load_relaxed64(&txq->q.header->bytes);
}

int mpf_txq_detach(struct mpf_txq *txq, struct mpf_flow_error *error)
{
	int err = client_queue_detach(&txq->q, error);

	free(txq);
	return err;
}
