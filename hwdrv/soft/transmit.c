/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a port sends. Secondaries write frames into TX queues (queues.c);
 * TX queue q is worker q % workers's: each of its rounds takes a burst
 * from each of its queues, runs the port's egress rules
 * (actions.c), and what they let through is the port's to send: recorded in
 * its tx dump (--dump-queues), then put on the wire of a live: interface,
 * or into the inbox of the port a loop: port is wired to, which the next
 * round receives like any other traffic.
 *
 * The wire of a loop: port cannot be faster than its receiver: a TX queue
 * is read only as far as the inbox has room, so a burst too large for it
 * waits in the sender's ring (which then fills, and mpf_txq_burst() takes
 * fewer frames) instead of being lost.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "hwdrv/soft/soft.h"
#include "shm/doorbell.h"

/* The kind of the port's source (every instance is of it). */
static enum soft_source_kind kind_of(const struct soft_port *port)
{
	return port->n_sources ? port->sources[0].kind : SOURCE_NONE;
}

/* The inbox worker `w` puts a port's frames in, or NULL when the port is
 * not a loop: port. */
static struct soft_inbox *sends_to(const struct soft_worker *w, const struct soft_port *port)
{
	if (kind_of(port) != SOURCE_LOOP)
		return NULL;
	return w->soft->ports[port->sources[0].loop_port].inbox[w->id];
}

/* The socket worker `w` sends a port's frames through: its own instance
 * where there is one per worker (AF_XDP rings have one producer), else the
 * one (an AF_PACKET send is any thread's). */
static struct soft_source *sender(const struct soft_worker *w, struct soft_port *port)
{
	return port->n_sources > 1 ? &port->sources[w->id] : &port->sources[0];
}

static bool xdp_send(struct soft_source *s, const struct packet *p)
{
#ifdef MPFLOW_HAVE_XDP
	return soft_xdp_send(s, p->data, p->length);
#else
	(void)s, (void)p;
	return false; /* no xdp: source is opened without libxdp */
#endif
}

void soft_transmit(struct soft_worker *w, struct soft_port *port, const struct packet *p,
		   uint64_t now_ns)
{
	struct soft *soft = w->soft;
	struct region_port *stats = soft_port_stats(soft, port, w->id);
	struct soft_inbox *inbox = sends_to(w, port);
	enum soft_source_kind kind = kind_of(port);

	if (port->tx_dump)
		soft_dump(soft, port->tx_dump, p, now_ns);
	if ((kind == SOURCE_LIVE &&
	     send(sender(w, port)->fd, p->data, p->length, MSG_DONTWAIT) != (ssize_t)p->length) ||
	    (kind == SOURCE_XDP && !xdp_send(sender(w, port), p))) {
		/* The interface refused it (larger than its MTU, no buffer). */
		region_stat_add(&stats->value[REGION_PORT_TX_ERRORS], 1);
		return;
	}
	if (inbox) {
		unsigned slot = (inbox->head + inbox->count) % SOFT_INBOX_FRAMES;
		unsigned to = (unsigned)port->sources[0].loop_port;

		if (inbox->count == SOFT_INBOX_FRAMES) {
			/* Only an egress trace source can outrun the inbox
			 * (TX queues wait for room): the receiver missed it. */
			region_stat_add(&soft_port_stats(soft, &soft->ports[to], w->id)
						 ->value[REGION_PORT_RX_MISSED],
					1);
		} else {
			memcpy(inbox->bytes + (size_t)slot * RXQ_FRAME_MAX, p->data, p->length);
			inbox->length[slot] = p->length;
			inbox->count++;
		}
	}
	region_stat_add(&stats->value[REGION_PORT_TX_PACKETS], 1);
	region_stat_add(&stats->value[REGION_PORT_TX_BYTES], p->wire_length);
}

unsigned soft_inbox_receive(struct soft_worker *w, struct soft_port *port, uint64_t now_ns)
{
	struct soft *soft = w->soft;
	struct soft_inbox *inbox = port->inbox ? port->inbox[w->id] : NULL;
	struct region_port *stats = soft_port_stats(soft, port, w->id);
	unsigned n = inbox ? inbox->count : 0;

	/* Frames looped in by this round's transmissions wait for the next. */
	for (unsigned i = 0; i < n; i++) {
		unsigned slot = inbox->head;
		struct packet pkt = {.data = inbox->bytes + (size_t)slot * RXQ_FRAME_MAX,
				     .length = inbox->length[slot],
				     .wire_length = inbox->length[slot],
				     .port = (uint16_t)(port - soft->ports)};

		pkt.function = packet_function(pkt.data, pkt.length, pkt.port, soft->vfs);
		packet_parse(&pkt);
		region_stat_add(&stats->value[REGION_PORT_RX_PACKETS], 1);
		region_stat_add(&stats->value[REGION_PORT_RX_BYTES], pkt.wire_length);
		soft_process(w, port, &pkt, false, now_ns);
		inbox->head = (slot + 1) % SOFT_INBOX_FRAMES;
		inbox->count--;
	}
	return n;
}

unsigned soft_transmit_queues(struct soft_worker *w, struct soft_port *port, uint64_t now_ns)
{
	struct soft *soft = w->soft;
	struct soft_inbox *inbox = sends_to(w, port);
	struct region_port *stats = soft_port_stats(soft, port, w->id);
	unsigned total = 0;

	for (unsigned q = w->id; q < soft->queues; q += soft->n_workers) {
		struct soft_rxq *txq = rcu_dereference(port->queues[q].txq);
		struct ring_msg msgs[SOFT_BURST];
		unsigned room = SOFT_BURST;
		struct soft_ring *r;
		int n;

		/* A ring its client broke stays broken (its sticky error):
		 * read no more, and it does not keep the worker awake. */
		if (txq == NULL || txq->rings[0].ring.error)
			continue;
		r = &txq->rings[0];
		if (inbox && SOFT_INBOX_FRAMES - inbox->count < room)
			room = SOFT_INBOX_FRAMES - inbox->count;
		if (room == 0)
			break;
		/* The client's frames are copied out once, each bounded by
		 * the ring (RXQ_FRAME_MAX). */
		n = ring_dequeue_burst(&r->ring, w->tx_buf, SOFT_TX_BUF, msgs, room);
		for (int i = 0; i < n; i++) {
			struct packet pkt = {.data = w->tx_buf + msgs[i].offset,
					     .length = msgs[i].length,
					     .wire_length = msgs[i].length,
					     .port = (uint16_t)(port - soft->ports),
					     .function = PACKET_FUNCTION_PF};

			r->bytes += pkt.wire_length;
			if (pkt.length < 14) {
				/* Not even an Ethernet header: no wire takes it
				 * (and AF_XDP would keep its frame for good). */
				region_stat_add(&stats->value[REGION_PORT_TX_ERRORS], 1);
				continue;
			}
			packet_parse(&pkt);
			soft_process(w, port, &pkt, true, now_ns);
		}
		if (n > 0) {
			r->packets += (unsigned)n;
			shm_store_relaxed64(&r->stats->packets, r->packets);
			shm_store_relaxed64(&r->stats->bytes, r->bytes);
			total += (unsigned)n;
		}
	}
#ifdef MPFLOW_HAVE_XDP
	if (kind_of(port) == SOURCE_XDP)
		soft_xdp_flush(sender(w, port));
#endif
	return total;
}

bool soft_prepare_sleep(struct soft_worker *w, struct pollfd *fds, unsigned *n)
{
	struct soft *soft = w->soft;

	*n = 0;
	fds[(*n)++] = (struct pollfd){.fd = w->wake, .events = POLLIN};
	for (unsigned p = 0; p < soft->n_ports; p++) {
		if (shm_load_relaxed32(&soft->ports[p].reset_request) !=
		    shm_load_relaxed32(&soft->ports[p].reset_done[w->id]))
			return false;
	}
	for (unsigned p = 0; p < soft->n_ports; p++) {
		struct soft_port *port = &soft->ports[p];
		struct soft_source *own = soft_worker_source(soft, port, w->id);

		if (own && (own->kind == SOURCE_LIVE || own->kind == SOURCE_XDP))
			fds[(*n)++] = (struct pollfd){.fd = own->fd, .events = POLLIN};
		if (port->inbox && port->inbox[w->id]->count)
			goto busy;
		for (unsigned q = w->id; q < soft->queues; q += soft->n_workers) {
			struct soft_rxq *txq = rcu_dereference(port->queues[q].txq);

			if (txq == NULL || txq->rings[0].ring.error)
				continue;
			/* Ask its producer to ring, then look once more. */
			if (!ring_consumer_prepare_sleep(&txq->rings[0].ring))
				goto busy;
			fds[(*n)++] = (struct pollfd){.fd = txq->bell[0], .events = POLLIN};
		}
	}
	return true;
busy:
	soft_finish_sleep(w);
	return false;
}

void soft_finish_sleep(struct soft_worker *w)
{
	struct soft *soft = w->soft;
	uint64_t rung;
	ssize_t got = read(w->wake, &rung, sizeof(rung));

	(void)got;
	for (unsigned p = 0; p < soft->n_ports; p++)
		for (unsigned q = w->id; q < soft->queues; q += soft->n_workers) {
			struct soft_rxq *txq = rcu_dereference(soft->ports[p].queues[q].txq);

			if (txq == NULL)
				continue;
			ring_consumer_finish_sleep(&txq->rings[0].ring);
			/* Reset the bell, never waiting: it may not have rung,
			 * and its client may have cleared its O_NONBLOCK. */
			doorbell_drain(txq->bell[0]);
		}
}
