/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RX queues: the primary hands an attached queue's memfd and doorbell over
 * the session socket (shm/rxq.h); we consume its ring. The ring's producer
 * is the primary; its records are still copied out once and checked (the
 * ring code refuses impossible indexes and headers).
 */
#include <errno.h>
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
	struct mpf_client *client;
	uint32_t session; /* the session that attached it */
	uint16_t port, queue;
	void *mem;
	size_t length;
	const struct rxq_header *header;
	struct ring ring;
	int bell;
};

static int map_queue(struct mpf_rxq *q, int memfd, struct mpf_flow_error *error)
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
	if (h.magic != RXQ_MAGIC || h.version != RXQ_VERSION || h.ring_offset != RXQ_HEADER_SIZE ||
	    h.port != q->port || h.queue != q->queue ||
	    ring_attach(&q->ring, (uint8_t *)q->mem + RXQ_HEADER_SIZE, q->length - RXQ_HEADER_SIZE,
			RING_CONSUMER, -1) != 0)
		return flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the queue's memory is malformed");
	return 0;
}

static void rxq_free(struct mpf_rxq *q)
{
	if (q->mem)
		munmap(q->mem, q->length);
	if (q->bell >= 0)
		close(q->bell);
	free(q);
}

int mpf_rxq_attach(struct mpf_client *c, uint16_t port, uint16_t queue, struct mpf_rxq **out,
		   struct mpf_flow_error *error)
{
	struct mpf_rxq *q = calloc(1, sizeof(*q));
	struct wire_completion raw;
	struct wire_rxq tag;
	int fds[FDPASS_MAX];
	unsigned nfds = 0;
	int err;

	if (q == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "out of memory");
	q->client = c;
	q->port = port;
	q->queue = queue;
	q->bell = -1;
	pthread_mutex_lock(&c->lock);
	err = client_call(
		c,
		wire_encode_rxq(c->out, sizeof(c->out), WIRE_OP_RXQ_ATTACH, 0, port, queue, error),
		&raw, error);
	/* Success: the fds were sent before the completion was published. */
	if (!err)
		err = fdpass_receive(c->sock, &tag, sizeof(tag), fds, &nfds, c->at.timeout_ms);
	q->session = c->session;
	pthread_mutex_unlock(&c->lock);
	if (err == 0 && (nfds != 2 || tag.port != port || tag.queue != queue)) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		err = flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				     "the primary passed the wrong queue");
	} else if (err == -EPROTO || err == -ETIMEDOUT) {
		err = flow_error_set(error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				     "the queue's memory did not arrive");
	}
	if (err) {
		free(q);
		return err;
	}
	q->bell = fds[1];
	err = map_queue(q, fds[0], error);
	close(fds[0]);
	if (err) {
		mpf_rxq_detach(q, NULL);
		return err;
	}
	*out = q;
	return 0;
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
		pkts[i] = (struct mpf_packet){.data = record + sizeof(d),
					      .length = d.length,
					      .wire_length = d.wire_length,
					      .mark = d.mark,
					      .rss_hash = d.rss_hash,
					      .flags = d.flags,
					      .port = d.port,
					      .queue = d.queue,
					      .timestamp_ns = d.timestamp_ns};
	}
	return got;
}

int mpf_rxq_burst(struct mpf_rxq *q, struct mpf_packet *pkts, uint32_t max, void *buf, size_t cap)
{
	return client_rxq_read(&q->ring, pkts, max, buf, cap);
}

int mpf_rxq_wait(struct mpf_rxq *q, int timeout_ms)
{
	struct ring_wait w = {.bell = q->bell, .hangup_fd = -1, .timeout_ms = timeout_ms};

	return ring_wait_readable(&q->ring, &w) == 0 && ring_readable(&q->ring) ? 1 : 0;
}

void mpf_rxq_stats(const struct mpf_rxq *q, struct mpf_rxq_stats *stats)
{
	/* Written by the primary with relaxed stores; each is a plain count. */
	stats->packets = shm_load_relaxed64(&q->header->packets);
	stats->bytes = shm_load_relaxed64(&q->header->bytes);
	stats->dropped = shm_load_relaxed64(&q->header->dropped);
}

int mpf_rxq_detach(struct mpf_rxq *q, struct mpf_flow_error *error)
{
	struct mpf_client *c = q->client;
	struct wire_completion raw;
	int err = 0;

	pthread_mutex_lock(&c->lock);
	/* A queue of an earlier session went with it. */
	if (c->connected && !c->dead && c->session == q->session)
		err = client_call(c,
				  wire_encode_rxq(c->out, sizeof(c->out), WIRE_OP_RXQ_DETACH, 0,
						  q->port, q->queue, error),
				  &raw, error);
	pthread_mutex_unlock(&c->lock);
	rxq_free(q);
	return err;
}
