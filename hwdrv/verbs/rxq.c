/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Delivery: the frames the NIC steers to an RX queue reach the client that
 * attached it, without a copy (shm/rxq.h, "zero-copy RX queue").
 *
 * Attaching queue q makes a memfd for that client alone: its buffers are
 * registered as an MR and each is posted as a receive on WQ q. The loop
 * (hwdrv service op) polls the queue's extended CQ; each completion
 * becomes a descriptor (length, mark or flag decoded from the flow tag,
 * timestamp) in the client's ring, naming the buffer the NIC wrote. The
 * client reads the frame in place and hands the buffer back through the
 * return ring; we check each index (in range, the client's to return) and
 * post the buffer again. A client that keeps its buffers only runs its own
 * queue dry: the NIC drops what finds no buffer (counted by the device),
 * and a descriptor that finds the client's ring full is counted in its
 * `dropped` and the buffer posted again.
 *
 * Events: every CQ reports to one completion channel; each queue's client
 * rings the queue's own eventfd when it returns buffers while the primary
 * sleeps (the return ring's NEED_WAKEUP, published only when the loop is
 * about to sleep); the channel and those eventfds sit in an epoll set
 * whose fd the loop watches (event_fd). The loop calls service() on every
 * pass too, so a busy loop takes completions and returns without events.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hwdrv/verbs/verbs.h"
#include "shm/doorbell.h"
#include "shm/ring.h"
#include "shm/rxq.h"

enum buffer_state { BUFFER_FREE, BUFFER_POSTED, BUFFER_CLIENT };

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t size = RING_SIZE_MIN;

	while (size < n && size < RING_SIZE_MAX)
		size <<= 1;
	return size;
}

static uint64_t align64(uint64_t n)
{
	return (n + 63u) & ~(uint64_t)63u;
}

static void rxq_free(struct verbs_rxq *r)
{
	if (r->mr)
		ibv_dereg_mr(r->mr);
	if (r->mem)
		munmap(r->mem, r->length);
	/* A client that keeps its mapping keeps the memfd alive: its pages
	 * are given back here, so that what a client holds on to (attach,
	 * disconnect, reconnect, again) is charged to it, not to us. (Should
	 * the punch fail, the pages go when the client unmaps them.) */
	if (r->memfd >= 0) {
		(void)fallocate(r->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
				(off_t)r->length);
		close(r->memfd);
	}
	doorbell_close_outbound(r->bell);
	if (r->primary_bell >= 0)
		close(r->primary_bell);
	free(r->state);
	free(r->free_list);
	free(r);
}

static void buffer_free(struct verbs_rxq *r, uint32_t i)
{
	r->state[i] = BUFFER_FREE;
	r->free_list[r->n_free++] = i;
}

/* Post buffer `i` on the queue's WQ, tagged with the attachment's
 * generation: a completion of an older one is recognised and dropped. */
static int post(struct verbs *v, struct verbs_rxq *r, uint32_t i)
{
	struct ibv_sge sge = {.addr = (uintptr_t)(r->buffers + (size_t)i * r->buffer_size),
			      .length = r->buffer_size,
			      .lkey = r->mr->lkey};
	struct ibv_recv_wr wr = {.wr_id = (uint64_t)r->generation << 32 | i,
				 .sg_list = &sge,
				 .num_sge = 1},
			   *bad = NULL;
	int err = ibv_post_wq_recv(v->wqs[r->queue], &wr, &bad);

	if (err)
		return -err;
	r->state[i] = BUFFER_POSTED;
	return 0;
}

/* Post every free buffer (none once the queue is broken). */
static int refill(struct verbs *v, struct verbs_rxq *r)
{
	while (r->n_free > 0 && !r->broken) {
		int err = post(v, r, r->free_list[r->n_free - 1]);

		if (err)
			return err;
		r->n_free--;
	}
	return 0;
}

/* The queue's WQ back to ready with nothing posted (RDY -> RESET -> RDY:
 * RESET forgets the posted buffers, and on mlx5 also clears a WQ that an
 * error completion put in ERR), its CQ drained of what the WQ left there.
 * Every buffer that was posted is free; the generation moves on, so that a
 * completion still on its way is not taken for one of the next. */
static int wq_reset(struct verbs *v, struct verbs_rxq *r)
{
	struct ibv_wq_attr to_reset = {.attr_mask = IBV_WQ_ATTR_STATE, .wq_state = IBV_WQS_RESET};
	struct ibv_wq_attr to_ready = {.attr_mask = IBV_WQ_ATTR_STATE, .wq_state = IBV_WQS_RDY};
	struct ibv_cq_ex *cq = v->cqs[r->queue];
	struct ibv_poll_cq_attr attr = {0};
	int err = ibv_modify_wq(v->wqs[r->queue], &to_reset);

	if (err) {
		/* Still posted, perhaps: its memory must outlive the WQ. */
		v->wq_failed[r->queue] = true;
		r->parked = true;
		return err;
	}
	if (ibv_start_poll(cq, &attr) == 0) {
		while (ibv_next_poll(cq) == 0)
			;
		ibv_end_poll(cq);
	}
	r->generation = ++v->generations[r->queue];
	r->n_free = 0;
	for (uint32_t i = 0; i < r->n_buffers; i++)
		if (r->state[i] != BUFFER_CLIENT)
			buffer_free(r, i);
	err = ibv_modify_wq(v->wqs[r->queue], &to_ready);
	if (err)
		v->wq_failed[r->queue] = true; /* no attach takes it again */
	return err;
}

static int rxq_make(struct verbs *v, uint16_t queue, uint32_t owner, struct verbs_rxq **out,
		    struct mpf_flow_error *error)
{
	struct verbs_rxq *r = calloc(1, sizeof(*r));
	uint32_t n = v->rx_buffers, size = VERBS_RX_BUFFER_SIZE;
	uint32_t ring_bytes = pow2_at_least(
		(uint64_t)n * ring_record_size(sizeof(struct rxq_desc) + sizeof(struct rxq_ref)) *
		2);
	uint32_t return_bytes = pow2_at_least((uint64_t)n * ring_record_size(4) * 2);
	uint64_t ring_block = align64(RXQ_RING_STATS + ring_memsize(ring_bytes));
	uint64_t return_block = align64(RXQ_RING_STATS + ring_memsize(return_bytes));
	uint64_t buffer_offset = (RXQ_HEADER_SIZE + ring_block + return_block + 4095u) & ~4095ull;
	const char *what = "memfd_create";
	int err;

	if (r == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no memory for queue %u", queue);
	r->memfd = r->bell[0] = r->bell[1] = r->primary_bell = -1;
	r->queue = queue;
	r->owner = owner;
	r->n_buffers = n;
	r->buffer_size = size;
	r->ring_bytes = ring_bytes;
	r->return_bytes = return_bytes;
	r->ring_block = ring_block;
	r->return_block = return_block;
	r->buffer_offset = buffer_offset;
	r->length = buffer_offset + (size_t)n * size;
	r->state = calloc(n, 1);
	r->free_list = calloc(n, sizeof(*r->free_list));
	r->memfd = memfd_create("mpflow-queue", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	r->primary_bell = doorbell_create();
	if (r->state == NULL || r->free_list == NULL || r->memfd < 0 ||
	    doorbell_create_outbound(r->bell) != 0 || r->primary_bell < 0 ||
	    ftruncate(r->memfd, (off_t)r->length) != 0 ||
	    fcntl(r->memfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
		goto fail;
	what = "mmap";
	r->mem = mmap(NULL, r->length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->memfd,
		      0);
	if (r->mem == MAP_FAILED) {
		r->mem = NULL;
		goto fail;
	}
	r->header = r->mem;
	r->stats = (struct rxq_ring_stats *)(void *)((uint8_t *)r->mem + RXQ_HEADER_SIZE);
	r->buffers = (uint8_t *)r->mem + buffer_offset;
	what = "ibv_reg_mr";
	errno = 0;
	r->mr = ibv_reg_mr(v->pd, r->buffers, (size_t)n * size, IBV_ACCESS_LOCAL_WRITE);
	if (r->mr == NULL)
		goto fail;
	*out = r;
	return 0;
fail:
	err = errno ? errno : EIO;
	rxq_free(r);
	return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			      "%s: queue %u's memory: %s: %s", v->name, queue, what, strerror(err));
}

/* A fresh attachment of `r`: header, empty rings, every buffer free, counts
 * at zero. The memory may be a spare its owner had before: nothing of that
 * attachment stays readable as this one's. */
static int rxq_init(struct verbs *v, struct verbs_rxq *r)
{
	uint8_t *returns = (uint8_t *)r->mem + RXQ_HEADER_SIZE + r->ring_block;
	int err;

	*r->header = (struct rxq_header){.magic = RXQ_MAGIC,
					 .version = RXQ_VERSION,
					 .port = 0,
					 .queue = r->queue,
					 .ring_offset = RXQ_HEADER_SIZE,
					 .ring_bytes = r->ring_bytes,
					 .rings = 1,
					 .ring_stride = (uint32_t)r->ring_block,
					 .flags = RXQ_ZERO_COPY,
					 .buffers = r->n_buffers,
					 .buffer_size = r->buffer_size,
					 .return_bytes = r->return_bytes,
					 .buffer_offset = r->buffer_offset,
					 .return_offset = RXQ_HEADER_SIZE + r->ring_block};
	memset(r->stats, 0, sizeof(*r->stats));
	r->packets = r->bytes = r->dropped = 0;
	r->broken = r->needs_reset = r->parked = false;
	r->generation = ++v->generations[r->queue];
	r->n_free = 0;
	for (uint32_t i = 0; i < r->n_buffers; i++)
		buffer_free(r, i);
	doorbell_drain(r->primary_bell);
	err = ring_create(&r->ring, (uint8_t *)r->stats + RXQ_RING_STATS,
			  r->ring_block - RXQ_RING_STATS, r->ring_bytes,
			  sizeof(struct rxq_desc) + sizeof(struct rxq_ref), RING_PRODUCER,
			  r->bell[1]);
	if (!err)
		err = ring_create(&r->returns, returns + RXQ_RING_STATS,
				  r->return_block - RXQ_RING_STATS, r->return_bytes,
				  RXQ_RETURN_MAX * sizeof(uint32_t), RING_CONSUMER, -1);
	return err;
}

int verbs_queue_attach(struct hwdrv *dev, uint16_t port, uint16_t queue, bool tx, uint32_t owner,
		       int fds[HWDRV_QUEUE_FDS], struct mpf_flow_error *error)
{
	struct verbs *v = dev->priv;
	struct verbs_rxq *r = NULL;
	struct epoll_event ev = {.events = EPOLLIN};
	int err;

	if (tx)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "verbs backend: TX queues for secondaries are the soft "
				      "backend's");
	if (port != 0)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "port %u does not exist (the verbs backend drives port 0)",
				      port);
	if (queue >= v->n_queues)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "queue %u does not exist (the port has %u)", queue,
				      v->n_queues);
	if (v->rxqs[queue])
		return flow_error_set(error, EBUSY, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "RX queue %u of port 0 is attached by another client", queue);
	if (v->wq_failed[queue])
		return flow_error_set(error, EIO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "%s: queue %u's WQ did not come back to ready after its last "
				      "owner; it cannot receive",
				      v->name, queue);
	/* The owner's spare memory from its last attachment, or new memory
	 * (a client that attaches and detaches in a loop pins one memfd). */
	if (v->spares[queue] && v->spares[queue]->owner == owner) {
		r = v->spares[queue];
	} else {
		if (v->spares[queue])
			rxq_free(v->spares[queue]);
		v->spares[queue] = NULL;
		err = rxq_make(v, queue, owner, &r, error);
		if (err)
			return err;
	}
	v->spares[queue] = NULL;
	ev.data.ptr = r;
	err = rxq_init(v, r);
	if (err || epoll_ctl(v->epoll_fd, EPOLL_CTL_ADD, r->primary_bell, &ev) != 0) {
		err = err ? -err : errno;
		rxq_free(r);
		return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "queue %u's rings: %s", queue, strerror(err));
	}
	v->rxqs[queue] = r;
	err = refill(v, r);
	if (err) {
		verbs_rxq_detach(v, r, false);
		return flow_error_set(error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "%s: queue %u: ibv_post_wq_recv: %s", v->name, queue,
				      strerror(-err));
	}
	ibv_req_notify_cq(ibv_cq_ex_to_cq(v->cqs[queue]), 0);
	fds[0] = r->memfd;
	fds[1] = r->bell[0];
	fds[2] = r->primary_bell;
	return 0;
}

/* Free every spare `owner` keeps. */
static void spares_free(struct verbs *v, uint32_t owner)
{
	for (unsigned q = 0; q < v->n_queues; q++)
		if (v->spares[q] && v->spares[q]->owner == owner) {
			rxq_free(v->spares[q]);
			v->spares[q] = NULL;
		}
}

/* Kept (`keep`), the memory is its owner's one spare: the one it kept
 * before goes, so that attaching every queue in turn pins no more than
 * attaching one again and again. */
void verbs_rxq_detach(struct verbs *v, struct verbs_rxq *r, bool keep)
{
	v->rxqs[r->queue] = NULL;
	epoll_ctl(v->epoll_fd, EPOLL_CTL_DEL, r->primary_bell, NULL);
	wq_reset(v, r);
	if (r->parked) {
		/* The WQ would not reset: buffers may still be posted. The
		 * memory stays registered until the WQ is destroyed. */
		r->next_parked = v->parked;
		v->parked = r;
	} else if (keep) {
		spares_free(v, r->owner);
		if (v->spares[r->queue])
			rxq_free(v->spares[r->queue]);
		v->spares[r->queue] = r;
	} else {
		rxq_free(r);
	}
}

int verbs_queue_detach(struct hwdrv *dev, uint16_t port, uint16_t queue, bool tx, uint32_t owner,
		       struct mpf_flow_error *error)
{
	struct verbs *v = dev->priv;

	if (tx || port != 0 || queue >= v->n_queues || v->rxqs[queue] == NULL ||
	    v->rxqs[queue]->owner != owner)
		return flow_error_set(error, ENOENT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "%s queue %u of port %u is not attached by this client",
				      tx ? "TX" : "RX", queue, port);
	verbs_rxq_detach(v, v->rxqs[queue], true);
	return 0;
}

void verbs_queues_release(struct hwdrv *dev, uint32_t owner)
{
	struct verbs *v = dev->priv;

	/* The client is gone: its queues and its spare memory. */
	for (unsigned q = 0; q < v->n_queues; q++)
		if (v->rxqs[q] && v->rxqs[q]->owner == owner)
			verbs_rxq_detach(v, v->rxqs[q], false);
	spares_free(v, owner);
}

/* Buffers the client handed back: checked, posted again. A bad index, or
 * an empty record, breaks the queue (its client broke the protocol; others
 * are untouched). At most one record per buffer per call: valid records
 * cannot outnumber the buffers the client holds, so a client cannot keep
 * the loop here. */
static unsigned take_returns(struct verbs_rxq *r)
{
	uint32_t idx[RXQ_RETURN_MAX];
	unsigned done = 0;

	for (uint32_t records = 0; !r->broken && records <= r->n_buffers; records++) {
		int n = ring_dequeue(&r->returns, idx, sizeof(idx));

		if (n == -EAGAIN)
			break;
		if (n <= 0 || n % 4 != 0) {
			r->broken = true;
			break;
		}
		for (int k = 0; k < n / 4; k++) {
			if (idx[k] >= r->n_buffers || r->state[idx[k]] != BUFFER_CLIENT) {
				r->broken = true;
				break;
			}
			buffer_free(r, idx[k]);
			done++;
		}
	}
	return done;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One completion of queue r: a descriptor for the client, or the buffer
 * freed (posted again by the refill after the poll). */
static void complete(struct verbs *v, struct verbs_rxq *r, struct ibv_cq_ex *cq, uint64_t now)
{
	uint32_t i = (uint32_t)cq->wr_id;
	struct {
		struct rxq_desc desc;
		struct rxq_ref ref;
	} rec;

	if (cq->wr_id >> 32 != r->generation || i >= r->n_buffers || r->state[i] != BUFFER_POSTED)
		return; /* an earlier attachment's, or before a reset */
	if (cq->status != IBV_WC_SUCCESS) {
		/* A frame too large for the buffer, say: on mlx5 the WQ is
		 * in ERR now and takes nothing until it is reset (and its
		 * buffers come back flushed, if at all). */
		r->dropped++;
		buffer_free(r, i);
		r->needs_reset = true; /* a flush too: the WQ is in ERR */
		return;
	}
	memset(&rec, 0, sizeof(rec));
	rec.desc.length = ibv_wc_read_byte_len(cq);
	rec.desc.wire_length = rec.desc.length;
	rec.desc.timestamp_ns = now;
	rec.desc.queue = r->queue;
	if (v->tagged_cqs) {
		uint32_t tag = ibv_wc_read_flow_tag(cq);

		if (tag == VERBS_TAG_FLAG)
			rec.desc.flags |= RXQ_DESC_FLAG;
		else if (tag != 0)
			rec.desc.flags |= RXQ_DESC_MARK, rec.desc.mark = tag - 1;
	}
	rec.ref.buffer = i;
	if (r->broken || rec.desc.length > r->buffer_size ||
	    ring_stage(&r->ring, &rec, sizeof(rec)) != 0) {
		r->dropped++; /* the client's ring is full: it keeps what it has */
		buffer_free(r, i);
		return;
	}
	r->state[i] = BUFFER_CLIENT;
	r->packets++;
	r->bytes += rec.desc.length;
}

/* Completions of an attached queue, published with one commit. (A queue
 * nobody holds has nothing posted, and its CQ was drained at the reset
 * that took its buffers back: it is not polled.) */
static unsigned poll_queue(struct verbs *v, struct verbs_rxq *r)
{
	struct ibv_cq_ex *cq = v->cqs[r->queue];
	struct ibv_poll_cq_attr attr = {0};
	unsigned n = 0;
	uint64_t now;

	if (ibv_start_poll(cq, &attr) != 0)
		return 0;
	now = realtime_ns();
	do {
		complete(v, r, cq, now);
		n++;
	} while (n < VERBS_POLL_BUDGET && ibv_next_poll(cq) == 0);
	ibv_end_poll(cq);
	ring_commit(&r->ring);
	shm_store_relaxed64(&r->stats->packets, r->packets);
	shm_store_relaxed64(&r->stats->bytes, r->bytes);
	shm_store_relaxed64(&r->stats->dropped, r->dropped);
	return n;
}

/* After an error completion, the WQ reset; then every free buffer posted
 * (those freed by completions, returns, a reset, or a post that failed
 * before: they are retried on every pass). */
static void repost(struct verbs *v, struct verbs_rxq *r)
{
	if (r->needs_reset) {
		r->needs_reset = false;
		if (wq_reset(v, r) != 0) {
			r->broken = true; /* the WQ is gone: nothing to post on */
			return;
		}
	}
	refill(v, r);
}

/* Events on the channel: acknowledged and the CQ armed again before it is
 * polled, so that no completion slips between the poll and the arming.
 * A queue's own bell (its client returned buffers) is only drained: every
 * attached queue's returns are taken on each pass. */
static void take_events(struct verbs *v)
{
	struct epoll_event evs[16];
	struct ibv_cq *cq;
	void *context;
	int n;

	do {
		n = epoll_wait(v->epoll_fd, evs, 16, 0);
		for (int i = 0; i < n; i++)
			if (evs[i].data.ptr)
				doorbell_drain(((struct verbs_rxq *)evs[i].data.ptr)->primary_bell);
	} while (n == 16);
	/* The channel is non-blocking: read it dry whatever epoll said. */
	while (ibv_get_cq_event(v->channel, &cq, &context) == 0) {
		ibv_ack_cq_events(cq, 1);
		ibv_req_notify_cq(cq, 0);
	}
}

unsigned verbs_service(struct hwdrv *dev, bool woken)
{
	struct verbs *v = dev->priv;
	unsigned done = 0;

	if (woken)
		take_events(v);
	for (unsigned q = 0; q < v->n_queues; q++) {
		struct verbs_rxq *r = v->rxqs[q];

		if (r == NULL)
			continue;
		done += take_returns(r);
		done += poll_queue(v, r);
		repost(v, r);
	}
	return done;
}

/* Before the loop sleeps: each client must ring for its next returns
 * (NEED_WAKEUP on its return ring); false if one came meanwhile. */
bool verbs_prepare_sleep(struct hwdrv *dev)
{
	struct verbs *v = dev->priv;
	bool may_sleep = true;

	for (unsigned q = 0; q < v->n_queues; q++)
		if (v->rxqs[q] && !v->rxqs[q]->broken &&
		    !ring_consumer_prepare_sleep(&v->rxqs[q]->returns))
			may_sleep = false;
	return may_sleep;
}

void verbs_finish_sleep(struct hwdrv *dev)
{
	struct verbs *v = dev->priv;

	for (unsigned q = 0; q < v->n_queues; q++)
		if (v->rxqs[q])
			ring_consumer_finish_sleep(&v->rxqs[q]->returns);
}

int verbs_event_fd(struct hwdrv *dev)
{
	struct verbs *v = dev->priv;

	return v->epoll_fd;
}

int verbs_rx_open(struct verbs *v, struct mpf_flow_error *error)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	v->rxqs = calloc(v->n_queues, sizeof(*v->rxqs));
	v->spares = calloc(v->n_queues, sizeof(*v->spares));
	v->wq_failed = calloc(v->n_queues, sizeof(*v->wq_failed));
	v->generations = calloc(v->n_queues, sizeof(*v->generations));
	v->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (v->rxqs == NULL || v->spares == NULL || v->wq_failed == NULL ||
	    v->generations == NULL || v->epoll_fd < 0)
		return flow_error_set(
			error, errno ? errno : ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			"the receive path's descriptors: %s", strerror(errno ? errno : ENOMEM));
	errno = 0;
	v->channel = ibv_create_comp_channel(v->context);
	if (v->channel == NULL)
		return flow_error_set(error, errno ? errno : EIO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
				      -1, "%s: ibv_create_comp_channel: %s", v->name,
				      strerror(errno ? errno : EIO));
	if (fcntl(v->channel->fd, F_SETFL, fcntl(v->channel->fd, F_GETFL) | O_NONBLOCK) != 0 ||
	    epoll_ctl(v->epoll_fd, EPOLL_CTL_ADD, v->channel->fd, &ev) != 0)
		return flow_error_set(error, errno, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the receive path's events: %s", strerror(errno));
	return 0;
}

void verbs_rx_close(struct verbs *v)
{
	for (unsigned q = 0; v->rxqs && q < v->n_queues; q++)
		if (v->rxqs[q])
			verbs_rxq_detach(v, v->rxqs[q], false);
	for (unsigned q = 0; v->spares && q < v->n_queues; q++)
		if (v->spares[q])
			rxq_free(v->spares[q]);
	free(v->rxqs);
	free(v->spares);
	v->rxqs = v->spares = NULL;
	if (v->epoll_fd >= 0)
		close(v->epoll_fd);
	v->epoll_fd = -1;
}

void verbs_rx_close_late(struct verbs *v)
{
	while (v->parked) {
		struct verbs_rxq *r = v->parked;

		v->parked = r->next_parked;
		rxq_free(r);
	}
	free(v->wq_failed);
	free(v->generations);
	v->wq_failed = NULL;
	v->generations = NULL;
	if (v->channel)
		ibv_destroy_comp_channel(v->channel);
	v->channel = NULL;
}
