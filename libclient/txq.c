/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TX queues (queue.c attaches them): we produce frames into a ring the
 * datapath consumes; each record is one frame. The datapath sends a burst
 * per queue per round through the port's egress rules.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "libclient/client.h"
#include "shm/rxq.h"

struct mpf_txq {
	struct client_queue q;
};
_Static_assert(offsetof(struct mpf_txq, q) == 0, "the queue comes first");

_Static_assert(MPF_TXQ_FRAME_MAX == RXQ_FRAME_MAX, "TX frame bound");

int mpf_txq_attach(struct mpf_client *c, uint16_t port, uint16_t queue, struct mpf_txq **out,
		   struct mpf_flow_error *error)
{
	struct client_queue *q;
	int err = client_queue_open(c, true, port, queue, sizeof(struct mpf_txq), &q, error);

	if (!err)
		*out = (struct mpf_txq *)(void *)q; /* its first member */
	return err;
}

/* Nothing was taken: is that a full ring, or a session that is over (the
 * primary gone, or the client disconnected)? One poll, only then. */
static bool session_over(const struct client_queue *q)
{
	struct pollfd p = {.fd = q->hangup, .events = POLLRDHUP};

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

int mpf_txq_burst(struct mpf_txq *txq, const struct mpf_tx_frame *frames, uint32_t count)
{
	struct iovec msgs[64];
	uint32_t sent = 0;

	while (sent < count) {
		unsigned n = count - sent < 64 ? count - sent : 64;
		bool too_long = false;
		int got;

		for (unsigned i = 0; i < n; i++) {
			if (frames[sent + i].length > MPF_TXQ_FRAME_MAX) {
				/* The frames before it go; it ends the burst. */
				n = i;
				too_long = true;
				break;
			}
			msgs[i] =
				(struct iovec){.iov_base = (void *)(uintptr_t)frames[sent + i].data,
					       .iov_len = frames[sent + i].length};
		}
		got = n ? ring_enqueue_burst(&txq->q.rings[0], msgs, n) : 0;
		if (got == -EAGAIN)
			got = 0; /* full: the caller tries the rest later */
		if (got < 0)
			return sent ? (int)sent : -ESHUTDOWN; /* the ring is broken */
		sent += (uint32_t)got;
		if (too_long && sent == 0)
			return -EMSGSIZE;
		if (too_long || (unsigned)got < n)
			break;
	}
	if (sent == 0 && count > 0 && session_over(&txq->q))
		return -ESHUTDOWN;
	return (int)sent;
}

void mpf_txq_stats(const struct mpf_txq *txq, struct mpf_txq_stats *stats)
{
	stats->packets = shm_load_relaxed64(&txq->q.stats[0]->packets);
	stats->bytes = shm_load_relaxed64(&txq->q.stats[0]->bytes);
}

int mpf_txq_detach(struct mpf_txq *txq, struct mpf_flow_error *error)
{
	return client_queue_close(&txq->q, error);
}
