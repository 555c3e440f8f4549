/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RX and TX queues: per port, `queues` PF queues then one queue per VF. An
 * RX queue delivers to the client that attached it, through a ring in a
 * memfd made for that client alone (shm/rxq.h), and to a pcap file with
 * --dump-queues; with nobody attached, a packet for it is counted and
 * dropped. A TX queue (PF queues only) is the same memory the other way
 * round: the client writes frames, the datapath sends them (transmit.c).
 *
 * Memory: a queue's ring is a memfd passed to its client. A detached
 * queue keeps its memfd as a spare for the same client: attaching again
 * gives back the same memory (the client still maps it, so nothing of
 * another client's can be seen), and a client that attaches and detaches
 * in a loop without reading its socket — each unread SCM_RIGHTS keeps a
 * memfd alive — pins one ring per queue, not one per attach. Another
 * client attaching the queue gets fresh memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "hwdrv/soft/soft.h"
#include "shm/doorbell.h"

int soft_queue_index(const struct soft *soft, uint16_t queue)
{
	return region_queue_index(soft->queues, soft->vfs, queue);
}

/* DIR/NAME.pcap, made through the directory's descriptor (checked by the
 * primary: ours, writable by us alone), never following a symbolic link,
 * and readable by its owner only: the capture is the traffic. */
static pcap_dumper_t *dump_open(struct soft *soft, const char *name, struct mpf_flow_error *error)
{
	char file[96];
	pcap_dumper_t *d;
	struct stat st;
	FILE *f;
	int fd;

	snprintf(file, sizeof(file), "%s.pcap", name);
	fd = openat(soft->dump_dirfd, file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int err = fd < 0 ? errno : EPERM;

		if (fd >= 0)
			close(fd);
		flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			       "--dump-queues: %s/%s: %s", soft->dump_dir, file,
			       err == ELOOP   ? "a symbolic link: refusing it"
			       : err == EPERM ? "not a regular file: refusing it"
					      : strerror(err));
		return NULL;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		flow_error_set(error, errno, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			       "--dump-queues: %s/%s: %s", soft->dump_dir, file, strerror(errno));
		close(fd);
		return NULL;
	}
	d = pcap_dump_fopen(soft->dead, f);
	if (d == NULL) {
		flow_error_set(error, EIO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			       "--dump-queues: %s/%s: %s", soft->dump_dir, file,
			       pcap_geterr(soft->dead));
		fclose(f);
	}
	return d;
}

int soft_queues_open(struct soft *soft, const struct hwdrv_config *config,
		     struct mpf_flow_error *error)
{
	unsigned per_port = soft->queues + soft->vfs;
	struct region_port *port_stats = config->port_stats;
	struct region_queue *queue_stats = config->queue_stats;

	soft->queue_stride = (size_t)soft->n_ports * per_port;
	if (port_stats == NULL || queue_stats == NULL) {
		/* No region (a tool or a test drives the backend): the same
		 * counts, kept privately, laid out as the region has them. */
		size_t ports = (size_t)soft->n_workers * soft->n_ports * sizeof(*port_stats);

		soft->own_stats = calloc(1, ports + soft->n_workers * soft->queue_stride *
							    sizeof(*queue_stats));
		if (soft->own_stats == NULL)
			return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "soft backend: out of memory");
		port_stats = soft->own_stats;
		queue_stats = (struct region_queue *)((uint8_t *)soft->own_stats + ports);
	}
	if (soft->dump_dir[0]) {
		soft->dead = pcap_open_dead(DLT_EN10MB, 65535);
		if (soft->dead == NULL)
			return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "pcap_open_dead failed");
	}
	for (unsigned p = 0; p < soft->n_ports; p++) {
		struct soft_port *port = &soft->ports[p];
		char name[64];

		port->queues = calloc(per_port, sizeof(*port->queues));
		if (port->queues == NULL)
			return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "soft backend: out of memory");
		port->stats = &port_stats[p];
		for (unsigned q = 0; q < per_port; q++)
			port->queues[q].stats = &queue_stats[p * per_port + q];
		port->pending =
			calloc((size_t)soft->n_workers *
				       (REGION_PORT_STATS + (size_t)per_port * REGION_QUEUE_STATS),
			       sizeof(*port->pending));
		if (port->pending == NULL)
			return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "soft backend: out of memory");
		if (!soft->dump_dir[0])
			continue;
		for (unsigned q = 0; q < per_port; q++) {
			if (q < soft->queues)
				snprintf(name, sizeof(name), "port%u-queue%u", p, q);
			else
				snprintf(name, sizeof(name), "port%u-vf%u", p, q - soft->queues);
			port->queues[q].dump = dump_open(soft, name, error);
			if (port->queues[q].dump == NULL)
				return -EIO;
		}
		snprintf(name, sizeof(name), "port%u-tx", p);
		port->tx_dump = dump_open(soft, name, error);
		if (port->tx_dump == NULL)
			return -EIO;
	}
	return 0;
}

static void rxq_free(struct soft_rxq *rxq)
{
	if (rxq->mem)
		munmap(rxq->mem, rxq->length);
	/* A client that keeps its mapping or the fd keeps the memfd alive:
	 * its pages are given back here, so that what a client holds on to
	 * is charged to it, not to us (as verbs' queues do). */
	if (rxq->memfd >= 0) {
		(void)fallocate(rxq->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
				(off_t)rxq->length);
		close(rxq->memfd);
	}
	doorbell_close_outbound(rxq->bell);
	free(rxq);
}

void soft_queues_close(struct soft *soft)
{
	for (unsigned p = 0; soft->ports && p < soft->n_ports; p++) {
		struct soft_port *port = &soft->ports[p];

		for (unsigned q = 0; port->queues && q < (unsigned)soft->queues + soft->vfs; q++) {
			if (port->queues[q].rxq)
				rxq_free(port->queues[q].rxq);
			if (port->queues[q].spare)
				rxq_free(port->queues[q].spare);
			if (port->queues[q].txq)
				rxq_free(port->queues[q].txq);
			if (port->queues[q].tx_spare)
				rxq_free(port->queues[q].tx_spare);
			if (port->queues[q].dump)
				pcap_dump_close(port->queues[q].dump);
		}
		if (port->tx_dump)
			pcap_dump_close(port->tx_dump);
		free(port->pending);
		port->pending = NULL;
		free(port->queues);
		port->queues = NULL;
		port->tx_dump = NULL;
	}
	if (soft->dead)
		pcap_close(soft->dead);
	soft->dead = NULL;
	free(soft->own_stats);
	soft->own_stats = NULL;
}

static int queue_lookup(struct soft *soft, uint16_t port, uint16_t queue, struct soft_queue **out,
			struct mpf_flow_error *error)
{
	int index;

	if (port >= soft->n_ports)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "port %u does not exist (the soft device has %u)", port,
				      soft->n_ports);
	index = soft_queue_index(soft, queue);
	if (index < 0)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "queue %u does not exist (port %u has %u queues and %u VFs)",
				      queue, port, soft->queues, soft->vfs);
	*out = &soft->ports[port].queues[index];
	return 0;
}

/* Bytes from one ring block to the next: its counts, then the ring. */
static size_t ring_stride(const struct soft *soft)
{
	return RXQ_RING_STATS + ring_memsize(soft->rxq_bytes);
}

/* A new queue's memory: its memfd, doorbell and mapping; a ring per worker
 * for RX, one for TX. */
static int rxq_make(struct soft *soft, uint32_t owner, bool tx, struct soft_rxq **out,
		    struct mpf_flow_error *error)
{
	struct soft_rxq *rxq = calloc(1, sizeof(*rxq));
	int err;

	if (rxq == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "out of memory");
	rxq->owner = owner;
	rxq->n_rings = tx ? 1 : soft->n_workers;
	rxq->length = RXQ_HEADER_SIZE + rxq->n_rings * ring_stride(soft);
	rxq->memfd = memfd_create("mpflow-queue", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	/* TX: the client rings, the worker waits; RX: the other way. */
	if (tx) {
		rxq->bell[0] = err = doorbell_create();
		rxq->bell[1] = -1;
	} else {
		err = doorbell_create_outbound(rxq->bell);
	}
	if (err < 0 || rxq->memfd < 0 || ftruncate(rxq->memfd, (off_t)rxq->length) != 0 ||
	    fcntl(rxq->memfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
		err = err < 0 ? -err : errno;
		rxq_free(rxq);
		return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "queue memory: %s", strerror(err));
	}
	rxq->mem = mmap(NULL, rxq->length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			rxq->memfd, 0);
	if (rxq->mem == MAP_FAILED) {
		err = errno;
		rxq->mem = NULL;
		rxq_free(rxq);
		return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "queue mapping: %s", strerror(err));
	}
	*out = rxq;
	return 0;
}

/* The slot of a queue's ring in one direction, and of its spare. */
static struct soft_rxq **ring_slot(struct soft_queue *q, bool tx)
{
	return tx ? &q->txq : &q->rxq;
}

static struct soft_rxq **spare_slot(struct soft_queue *q, bool tx)
{
	return tx ? &q->tx_spare : &q->spare;
}

int soft_queue_attach(struct soft *soft, uint16_t port, uint16_t queue, bool tx, uint32_t owner,
		      int fds[HWDRV_QUEUE_FDS], struct mpf_flow_error *error)
{
	struct soft_queue *q;
	struct soft_rxq *rxq = NULL, **slot, **spare;
	int err = queue_lookup(soft, port, queue, &q, error);

	if (err)
		return err;
	if (tx && queue >= soft->queues)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "queue %u: TX queues are the PF's (port %u has %u)", queue,
				      port, soft->queues);
	slot = ring_slot(q, tx);
	spare = spare_slot(q, tx);
	if (*slot)
		return flow_error_set(error, EBUSY, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "%s queue %u of port %u is attached by another client",
				      tx ? "TX" : "RX", queue, port);
	if (*spare && (*spare)->owner == owner) {
		rxq = *spare;
	} else {
		if (*spare)
			rxq_free(*spare);
		*spare = NULL;
		err = rxq_make(soft, owner, tx, &rxq, error);
		if (err)
			return err;
	}
	*spare = NULL;
	rxq->header = rxq->mem;
	*rxq->header = (struct rxq_header){.magic = tx ? TXQ_MAGIC : RXQ_MAGIC,
					   .version = RXQ_VERSION,
					   .port = port,
					   .queue = queue,
					   .ring_offset = RXQ_HEADER_SIZE,
					   .ring_bytes = soft->rxq_bytes,
					   .rings = rxq->n_rings,
					   .ring_stride = (uint32_t)ring_stride(soft)};
	for (unsigned i = 0; i < rxq->n_rings; i++) {
		struct soft_ring *r = &rxq->rings[i];
		uint8_t *block = (uint8_t *)rxq->mem + RXQ_HEADER_SIZE + i * ring_stride(soft);

		r->stats = (struct rxq_ring_stats *)(void *)block;
		memset(r->stats, 0, sizeof(*r->stats));
		r->packets = r->bytes = r->dropped = 0;
		r->staged = false;
		/* RX: the worker produces descriptors and frames, and rings
		 * the client. TX: the client produces bare frames and rings
		 * the worker. */
		err = ring_create(&r->ring, block + RXQ_RING_STATS,
				  ring_stride(soft) - RXQ_RING_STATS, soft->rxq_bytes,
				  tx ? RXQ_FRAME_MAX
				     : (uint32_t)(sizeof(struct rxq_desc) + RXQ_FRAME_MAX),
				  tx ? RING_CONSUMER : RING_PRODUCER, rxq->bell[1]);
		if (err) {
			rxq_free(rxq);
			return flow_error_set(error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "queue ring: %s", strerror(-err));
		}
	}
	/* The ring is whole before the datapath can see it. */
	rcu_publish(*slot, rxq);
	fds[0] = rxq->memfd;
	fds[1] = rxq->bell[0];
	fds[2] = -1;
	return 0;
}

/* Free every spare `owner` keeps. */
static void spares_free(struct soft *soft, uint32_t owner)
{
	for (unsigned p = 0; p < soft->n_ports; p++)
		for (unsigned q = 0; q < (unsigned)soft->queues + soft->vfs; q++)
			for (int tx = 0; tx < 2; tx++) {
				struct soft_rxq **spare = spare_slot(&soft->ports[p].queues[q], tx);

				if (*spare && (*spare)->owner == owner) {
					rxq_free(*spare);
					*spare = NULL;
				}
			}
}

/* The datapath lets go of the queue. Its memory stays as its owner's spare
 * (`keep`), the one spare a client keeps: attached again, the queue reuses
 * it; the one it kept before goes, so that attaching every queue in turn
 * pins no more than attaching one again and again. */
static void queue_detach(struct soft *soft, struct soft_queue *q, bool tx, bool keep)
{
	struct soft_rxq **slot = ring_slot(q, tx), **spare = spare_slot(q, tx);
	struct soft_rxq *rxq = *slot;

	rcu_publish(*slot, NULL);
	rcu_synchronize(&soft->rcu);
	if (keep) {
		spares_free(soft, rxq->owner);
		if (*spare)
			rxq_free(*spare);
		*spare = rxq;
	} else {
		rxq_free(rxq);
	}
}

int soft_queue_detach(struct soft *soft, uint16_t port, uint16_t queue, bool tx, uint32_t owner,
		      struct mpf_flow_error *error)
{
	struct soft_queue *q;
	int err = queue_lookup(soft, port, queue, &q, error);

	if (err)
		return err;
	if (*ring_slot(q, tx) == NULL || (*ring_slot(q, tx))->owner != owner)
		return flow_error_set(error, ENOENT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "%s queue %u of port %u is not attached by this client",
				      tx ? "TX" : "RX", queue, port);
	queue_detach(soft, q, tx, true);
	return 0;
}

void soft_queues_release(struct soft *soft, uint32_t owner)
{
	for (unsigned p = 0; p < soft->n_ports; p++)
		for (unsigned q = 0; q < (unsigned)soft->queues + soft->vfs; q++) {
			struct soft_queue *queue = &soft->ports[p].queues[q];

			for (int tx = 0; tx < 2; tx++) {
				struct soft_rxq **slot = ring_slot(queue, tx);

				if (*slot && (*slot)->owner == owner)
					queue_detach(soft, queue, tx, false);
			}
		}
	spares_free(soft, owner);
}

void soft_dump(struct soft *soft, pcap_dumper_t *dump, const struct packet *p, uint64_t when_ns)
{
	struct pcap_pkthdr h = {.caplen = p->length, .len = p->wire_length};

	h.ts.tv_sec = (time_t)(when_ns / 1000000000u);
	h.ts.tv_usec = (suseconds_t)(when_ns % 1000000000u / 1000u);
	pthread_mutex_lock(&soft->dump_lock);
	pcap_dump((u_char *)dump, &h, p->data);
	pthread_mutex_unlock(&soft->dump_lock);
}

void soft_deliver(struct soft_worker *w, struct soft_port *port, unsigned q, const struct packet *p,
		  const struct rxq_desc *desc)
{
	struct soft *soft = w->soft;
	struct soft_queue *queue = &port->queues[q];
	struct soft_rxq *rxq = rcu_dereference(queue->rxq);
	struct region_queue *stats = soft_queue_stats(soft, queue, w->id);
	struct rxq_desc d = *desc;
	struct iovec pieces[2];
	struct soft_ring *r;

	d.queue = (uint16_t)(q < soft->queues ? q : RXQ_VF_BASE + (q - soft->queues));
	d.length = p->length < RXQ_FRAME_MAX ? p->length : RXQ_FRAME_MAX;
	if (d.length < p->wire_length)
		d.flags |= RXQ_DESC_TRUNCATED;
	if (queue->dump)
		soft_dump(soft, queue->dump, p, desc->timestamp_ns);
	if (rxq == NULL) {
		region_stat_add(&stats->value[REGION_QUEUE_UNATTACHED], 1);
		return;
	}
	r = &rxq->rings[w->id];
	pieces[0] = (struct iovec){.iov_base = &d, .iov_len = sizeof(d)};
	pieces[1] = (struct iovec){.iov_base = (void *)(uintptr_t)p->data, .iov_len = d.length};
	if (ring_stagev(&r->ring, pieces, 2) != 0) {
		shm_store_relaxed64(&r->stats->dropped, ++r->dropped);
		region_stat_add(&stats->value[REGION_QUEUE_FULL], 1);
		return;
	}
	shm_store_relaxed64(&r->stats->packets, ++r->packets);
	r->bytes += p->wire_length;
	shm_store_relaxed64(&r->stats->bytes, r->bytes);
	region_stat_add(&stats->value[REGION_QUEUE_PACKETS], 1);
	region_stat_add(&stats->value[REGION_QUEUE_BYTES], p->wire_length);
	if (!r->staged) {
		if (w->n_staged == sizeof(w->staged) / sizeof(w->staged[0]))
			soft_rxq_commit(w);
		r->staged = true;
		w->staged[w->n_staged++] = rxq;
	}
}

void soft_rxq_commit(struct soft_worker *w)
{
	for (unsigned i = 0; i < w->n_staged; i++) {
		struct soft_ring *r = &w->staged[i]->rings[w->id];

		ring_commit(&r->ring);
		r->staged = false;
	}
	w->n_staged = 0;
}
