/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a port sends. Secondaries write frames into TX queues (queues.c);
 * each datapath round takes a burst from each, runs the port's egress rules
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

/* The inbox a port's frames go to, or NULL when it is not a loop: port. */
static struct soft_inbox *sends_to(struct soft *soft, const struct soft_port *port)
{
	if (port->source.kind != SOURCE_LOOP)
		return NULL;
	return soft->ports[port->source.loop_port].inbox;
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

void soft_transmit(struct soft *soft, struct soft_port *port, const struct packet *p,
		   uint64_t now_ns)
{
	struct soft_inbox *inbox = sends_to(soft, port);

	if (port->tx_dump) {
		struct pcap_pkthdr h = {.caplen = p->length, .len = p->wire_length};

		h.ts.tv_sec = (time_t)(now_ns / 1000000000u);
		h.ts.tv_usec = (suseconds_t)(now_ns % 1000000000u / 1000u);
		pcap_dump((u_char *)port->tx_dump, &h, p->data);
	}
	if ((port->source.kind == SOURCE_LIVE &&
	     send(port->source.fd, p->data, p->length, MSG_DONTWAIT) != (ssize_t)p->length) ||
	    (port->source.kind == SOURCE_XDP && !xdp_send(&port->source, p))) {
		/* The interface refused it (larger than its MTU, no buffer). */
		region_stat_add(&port->stats->value[REGION_PORT_TX_ERRORS], 1);
		return;
	}
	if (inbox) {
		unsigned slot = (inbox->head + inbox->count) % SOFT_INBOX_FRAMES;

		if (inbox->count == SOFT_INBOX_FRAMES) {
			/* Only an egress trace source can outrun the inbox
			 * (TX queues wait for room): the receiver missed it. */
			region_stat_add(&soft->ports[port->source.loop_port]
						 .stats->value[REGION_PORT_RX_MISSED],
					1);
		} else {
			memcpy(inbox->bytes + (size_t)slot * RXQ_FRAME_MAX, p->data, p->length);
			inbox->length[slot] = p->length;
			inbox->count++;
		}
	}
	region_stat_add(&port->stats->value[REGION_PORT_TX_PACKETS], 1);
	region_stat_add(&port->stats->value[REGION_PORT_TX_BYTES], p->wire_length);
}

unsigned soft_inbox_receive(struct soft *soft, struct soft_port *port, uint64_t now_ns)
{
	struct soft_inbox *inbox = port->inbox;
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
		region_stat_add(&port->stats->value[REGION_PORT_RX_PACKETS], 1);
		region_stat_add(&port->stats->value[REGION_PORT_RX_BYTES], pkt.wire_length);
		soft_process(soft, port, &pkt, false, now_ns);
		inbox->head = (slot + 1) % SOFT_INBOX_FRAMES;
		inbox->count--;
	}
	return n;
}

unsigned soft_transmit_queues(struct soft *soft, struct soft_port *port, uint64_t now_ns)
{
	struct soft_inbox *inbox = sends_to(soft, port);
	unsigned total = 0;

	for (unsigned q = 0; q < soft->queues; q++) {
		struct soft_rxq *txq = rcu_dereference(port->queues[q].txq);
		struct ring_msg msgs[SOFT_BURST];
		unsigned room = SOFT_BURST;
		int n;

		/* A ring its client broke stays broken (its sticky error):
		 * read no more, and it does not keep the worker awake. */
		if (txq == NULL || txq->ring.error)
			continue;
		if (inbox && SOFT_INBOX_FRAMES - inbox->count < room)
			room = SOFT_INBOX_FRAMES - inbox->count;
		if (room == 0)
			break;
		/* The client's frames are copied out once, each bounded by
		 * the ring (RXQ_FRAME_MAX); a ring it broke stays broken and
		 * is read no more (its sticky error). */
		n = ring_dequeue_burst(&txq->ring, soft->tx_buf, SOFT_TX_BUF, msgs, room);
		for (int i = 0; i < n; i++) {
			struct packet pkt = {.data = soft->tx_buf + msgs[i].offset,
					     .length = msgs[i].length,
					     .wire_length = msgs[i].length,
					     .port = (uint16_t)(port - soft->ports),
					     .function = PACKET_FUNCTION_PF};

			txq->bytes += pkt.wire_length;
			if (pkt.length < 14) {
				/* Not even an Ethernet header: no wire takes it
				 * (and AF_XDP would keep its frame for good). */
				region_stat_add(&port->stats->value[REGION_PORT_TX_ERRORS], 1);
				continue;
			}
			packet_parse(&pkt);
			soft_process(soft, port, &pkt, true, now_ns);
		}
		if (n > 0) {
			txq->packets += (unsigned)n;
			shm_store_relaxed64(&txq->header->packets, txq->packets);
			shm_store_relaxed64(&txq->header->bytes, txq->bytes);
			total += (unsigned)n;
		}
	}
#ifdef MPFLOW_HAVE_XDP
	if (port->source.kind == SOURCE_XDP)
		soft_xdp_flush(&port->source);
#endif
	return total;
}

bool soft_prepare_sleep(struct soft *soft, struct pollfd *fds, unsigned *n)
{
	*n = 0;
	fds[(*n)++] = (struct pollfd){.fd = soft->wake, .events = POLLIN};
	for (unsigned p = 0; p < soft->n_ports; p++) {
		if (shm_load_relaxed32(&soft->ports[p].reset_request) !=
		    shm_load_relaxed32(&soft->ports[p].reset_done))
			return false;
	}
	for (unsigned p = 0; p < soft->n_ports; p++) {
		struct soft_port *port = &soft->ports[p];

		if (port->source.kind == SOURCE_LIVE || port->source.kind == SOURCE_XDP)
			fds[(*n)++] = (struct pollfd){.fd = port->source.fd, .events = POLLIN};
		if (port->inbox && port->inbox->count)
			goto busy;
		for (unsigned q = 0; q < soft->queues; q++) {
			struct soft_rxq *txq = rcu_dereference(port->queues[q].txq);

			if (txq == NULL || txq->ring.error)
				continue;
			/* Ask its producer to ring, then look once more. */
			if (!ring_consumer_prepare_sleep(&txq->ring))
				goto busy;
			fds[(*n)++] = (struct pollfd){.fd = txq->bell, .events = POLLIN};
		}
	}
	return true;
busy:
	soft_finish_sleep(soft);
	return false;
}

void soft_finish_sleep(struct soft *soft)
{
	uint64_t rung;
	ssize_t got = read(soft->wake, &rung, sizeof(rung));

	(void)got;
	for (unsigned p = 0; p < soft->n_ports; p++)
		for (unsigned q = 0; q < soft->queues; q++) {
			struct soft_rxq *txq = rcu_dereference(soft->ports[p].queues[q].txq);

			if (txq == NULL)
				continue;
			ring_consumer_finish_sleep(&txq->ring);
			/* Reset the bell (non-blocking: it may not have rung). */
			got = read(txq->bell, &rung, sizeof(rung));
			(void)got;
		}
}
