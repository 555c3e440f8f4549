/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Attaching and detaching a device queue, RX or TX alike: the primary
 * hands the queue's memfd and doorbell over the session socket before it
 * answers (shm/rxq.h); we check the memory's header and attach to its ring,
 * as consumer (RX) or producer (TX).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libclient/client.h"
#include "shm/fdpass.h"
#include "shm/rxq.h"

static int malformed(struct mpf_flow_error *error)
{
	return flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			      "the queue's memory is malformed");
}

/* A zero-copy queue's buffers and return ring, inside the mapping. */
static int map_zero_copy(struct client_queue *q, const struct rxq_header *h,
			 struct mpf_flow_error *error)
{
	uint64_t length = q->length;

	/* Each region inside the mapping, in 64-bit arithmetic that cannot
	 * wrap: offsets checked against the length before anything is added
	 * to them (the primary is trusted, its bytes are still checked). */
	if (q->tx || q->primary_bell < 0 || h->rings != 1 || h->buffers == 0 ||
	    h->buffer_size < 64 || h->buffer_size > RXQ_FRAME_MAX || h->buffer_offset % 64 ||
	    h->return_offset % 64 || h->return_bytes < RING_SIZE_MIN ||
	    h->return_bytes > RING_SIZE_MAX || h->buffer_offset > length ||
	    (uint64_t)h->buffers * h->buffer_size > length - h->buffer_offset ||
	    h->return_offset > length ||
	    RXQ_RING_STATS + ring_memsize(h->return_bytes) > length - h->return_offset ||
	    ring_attach(&q->returns, (uint8_t *)q->mem + h->return_offset + RXQ_RING_STATS,
			ring_memsize(h->return_bytes), RING_PRODUCER, q->primary_bell) != 0 ||
	    q->returns.msg_max < RXQ_RETURN_MAX * sizeof(uint32_t))
		return malformed(error);
	q->zero_copy = true;
	q->buffers = (const uint8_t *)q->mem + h->buffer_offset;
	q->n_buffers = h->buffers;
	q->buffer_size = h->buffer_size;
	return 0;
}

static int map_queue(struct client_queue *q, int memfd, struct mpf_flow_error *error)
{
	struct stat st;
	struct rxq_header h;

	if (fstat(memfd, &st) != 0 || st.st_size < (off_t)(RXQ_HEADER_SIZE + RING_SIZE_MIN))
		return flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the queue's memory is too small");
	q->length = (size_t)st.st_size;
	q->mem = mmap(NULL, q->length, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (q->mem == MAP_FAILED) {
		q->mem = NULL;
		return flow_error_set(error, errno, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "mapping the queue: %s", strerror(errno));
	}
	q->header = q->mem;
	memcpy(&h, q->mem, sizeof(h));
	/* The header, copied once and checked, then each ring block inside
	 * the mapping (64-bit arithmetic: the primary is trusted, the
	 * bytes are still checked). */
	if (h.magic != (q->tx ? TXQ_MAGIC : RXQ_MAGIC) || h.version != RXQ_VERSION ||
	    h.ring_offset != RXQ_HEADER_SIZE || h.port != q->port || h.queue != q->queue ||
	    h.rings < 1 || h.rings > RXQ_RINGS_MAX || (q->tx && h.rings != 1) ||
	    h.ring_stride <= RXQ_RING_STATS || h.ring_stride % 64 != 0 ||
	    (uint64_t)h.ring_offset + (uint64_t)h.rings * h.ring_stride > q->length ||
	    (h.flags & ~RXQ_ZERO_COPY) || (!(h.flags & RXQ_ZERO_COPY) && q->primary_bell >= 0))
		return malformed(error);
	if (h.flags & RXQ_ZERO_COPY) {
		int err = map_zero_copy(q, &h, error);

		if (err)
			return err;
	}
	q->n_rings = h.rings;
	for (unsigned i = 0; i < h.rings; i++) {
		uint8_t *block = (uint8_t *)q->mem + h.ring_offset + (size_t)i * h.ring_stride;

		q->stats[i] = (const struct rxq_ring_stats *)(const void *)block;
		if (ring_attach(&q->rings[i], block + RXQ_RING_STATS,
				h.ring_stride - RXQ_RING_STATS,
				q->tx ? RING_PRODUCER : RING_CONSUMER, q->tx ? q->bell : -1) != 0)
			return flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "the queue's ring %u is malformed", i);
	}
	return 0;
}

static void unmap_queue(struct client_queue *q)
{
	if (q->mem)
		munmap(q->mem, q->length);
	if (q->bell >= 0)
		close(q->bell);
	if (q->hangup >= 0)
		close(q->hangup);
	if (q->primary_bell >= 0)
		close(q->primary_bell);
	q->mem = NULL;
	q->bell = q->hangup = q->primary_bell = -1;
}

/* The list of the client's queues; its lock held. */
static void list_remove(struct mpf_client *c, struct client_queue *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else if (c->queues == q)
		c->queues = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

void client_queues_cut(struct mpf_client *c, bool orphan)
{
	/* The queues hold duplicates of the session's socket (for their
	 * waits): closing ours would not end the session while they live.
	 * shutdown() ends it for every holder at once: the primary sees the
	 * client go, and each queue's wait sees the hang-up. Lock held. */
	if (c->connected && c->sock >= 0)
		shutdown(c->sock, SHUT_RDWR);
	while (orphan && c->queues) {
		struct client_queue *q = c->queues;

		list_remove(c, q);
		q->client = NULL;
	}
}

int client_queue_attach(struct mpf_client *c, bool tx, uint16_t port, uint16_t queue,
			struct client_queue *q, struct mpf_flow_error *error)
{
	struct wire_completion raw;
	struct wire_rxq tag;
	int fds[FDPASS_MAX];
	unsigned nfds = 0;
	int err;

	*q = (struct client_queue){.client = c,
				   .tx = tx,
				   .port = port,
				   .queue = queue,
				   .bell = -1,
				   .hangup = -1,
				   .primary_bell = -1};
	pthread_mutex_lock(&c->lock);
	/* The fds of an attach whose answer came after its call gave up wait
	 * on the socket: they would be taken for this queue's, and the
	 * primary attaches nothing more while they are unread. */
	fdpass_discard(c->sock);
	err = client_call(c,
			  wire_encode_rxq(c->out, sizeof(c->out),
					  tx ? WIRE_OP_TXQ_ATTACH : WIRE_OP_RXQ_ATTACH, 0, port,
					  queue, error),
			  &raw, error);
	if (err) {
		pthread_mutex_unlock(&c->lock);
		return err;
	}
	/* The primary attached it: the fds were sent before the completion
	 * was published. From here on a failure gives the queue back. */
	err = fdpass_receive(c->sock, &tag, sizeof(tag), fds, &nfds, c->at.timeout_ms);
	q->session = c->session;
	q->hangup = err ? -1 : fcntl(c->sock, F_DUPFD_CLOEXEC, 0);
	if (!err && q->hangup < 0)
		err = -errno; /* out of fds: a queue must see its session end */
	pthread_mutex_unlock(&c->lock);
	if (err == 0 && (nfds < 2 || nfds > 3 || tag.port != port || tag.queue != queue)) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		err = flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				     "the primary passed the wrong queue");
	} else if (err) {
		err = flow_error_set(error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				     "the queue's memory did not arrive: %s", strerror(-err));
	}
	if (err) {
		client_queue_detach(q, NULL);
		return err;
	}
	q->bell = fds[1];
	q->primary_bell = nfds == 3 ? fds[2] : -1; /* a zero-copy queue's */
	err = map_queue(q, fds[0], error);
	close(fds[0]);
	if (err) {
		client_queue_detach(q, NULL);
		return err;
	}
	pthread_mutex_lock(&c->lock);
	q->next = c->queues;
	if (c->queues)
		c->queues->prev = q;
	c->queues = q;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int client_queue_open(struct mpf_client *c, bool tx, uint16_t port, uint16_t queue, size_t size,
		      struct client_queue **out, struct mpf_flow_error *error)
{
	struct client_queue *q = calloc(1, size);
	int err;

	if (q == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "out of memory");
	err = client_queue_attach(c, tx, port, queue, q, error);
	if (err) {
		free(q);
		return err;
	}
	*out = q;
	return 0;
}

int client_queue_close(struct client_queue *q, struct mpf_flow_error *error)
{
	int err = client_queue_detach(q, error);

	free(q);
	return err;
}

int client_queue_detach(struct client_queue *q, struct mpf_flow_error *error)
{
	struct mpf_client *c = q->client;
	struct wire_completion raw;
	int err = 0;

	/* After mpf_disconnect() the queue is only memory: the session that
	 * held it is gone, and the primary detached it. */
	if (c) {
		pthread_mutex_lock(&c->lock);
		list_remove(c, q);
		/* A queue of an earlier session went with it. */
		if (c->connected && !c->dead && c->session == q->session)
			err = client_call(
				c,
				wire_encode_rxq(c->out, sizeof(c->out),
						q->tx ? WIRE_OP_TXQ_DETACH : WIRE_OP_RXQ_DETACH, 0,
						q->port, q->queue, error),
				&raw, error);
		pthread_mutex_unlock(&c->lock);
	}
	unmap_queue(q);
	return err;
}
