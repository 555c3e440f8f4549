/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The datapath workers (--workers N): threads that each take bursts from
 * their sources (a port's one source is worker (port % N)'s; live: and xdp:
 * have an instance per worker, fed by the kernel's fanout or by an
 * interface queue each) and their inboxes (what loop: ports sent through
 * them), then from their TX queues (queue q is worker q % N's); classify
 * and act on each packet with the shared tables (RCU, a reader per worker);
 * commit their rings of the RX queues once per round; and pass a quiescent
 * point. With nothing to do a worker goes offline and sleeps until its next
 * paced frame is due, one of its sockets is readable, a secondary rings one
 * of its TX queues, the primary wakes it, or 10 ms have passed (to notice a
 * stop).
 *
 * Counts: each worker writes its own copies (a rule's counter or its share,
 * its port and queue statistics), which readers sum.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hwdrv/soft/soft.h"
#include "shm/clock.h"

/* Where worker w keeps a port's counts at a reset: its port figures, then
 * each queue's. */
static uint64_t *pending_of(const struct soft *soft, const struct soft_port *port, unsigned w)
{
	size_t per_port = (size_t)soft->queues + soft->vfs;

	return port->pending + w * (REGION_PORT_STATS + per_port * REGION_QUEUE_STATS);
}

void soft_apply_resets(struct soft_worker *w)
{
	struct soft *soft = w->soft;
	unsigned per_port = (unsigned)soft->queues + soft->vfs;

	for (unsigned p = 0; p < soft->n_ports; p++) {
		struct soft_port *port = &soft->ports[p];
		/* Acquire: pairs with the primary's release of its request. */
		uint32_t asked = shm_load_acquire32(&port->reset_request);
		struct region_port *stats = soft_port_stats(soft, port, w->id);
		uint64_t *pending = pending_of(soft, port, w->id);

		if (asked == shm_load_relaxed32(&port->reset_done[w->id]))
			continue;
		/* We are the one writer of our counts: between two packets,
		 * every figure is copied at the same point. */
		for (unsigned i = 0; i < REGION_PORT_STATS; i++)
			pending[i] = shm_load_relaxed64(&stats->value[i]);
		for (unsigned q = 0; q < per_port; q++) {
			struct region_queue *qs = soft_queue_stats(soft, &port->queues[q], w->id);

			for (unsigned i = 0; i < REGION_QUEUE_STATS; i++)
				pending[REGION_PORT_STATS + q * REGION_QUEUE_STATS + i] =
					shm_load_relaxed64(&qs->value[i]);
		}
		/* Release: the primary reads `pending` after it sees this. */
		shm_store_release32(&port->reset_done[w->id], asked);
	}
}

/* The primary: every worker's copies of the port's counts are in
 * `pending`; publish them as the baselines, in one seqlock window. */
static void publish_bases(struct soft *soft, struct soft_port *port)
{
	unsigned per_port = (unsigned)soft->queues + soft->vfs;

	region_port_reset_begin(port->stats);
	for (unsigned w = 0; w < soft->n_workers; w++) {
		struct region_port *stats = soft_port_stats(soft, port, w);
		const uint64_t *pending = pending_of(soft, port, w);

		for (unsigned i = 0; i < REGION_PORT_STATS; i++)
			shm_store_release64(&stats->base[i], pending[i]);
		for (unsigned q = 0; q < per_port; q++) {
			struct region_queue *qs = soft_queue_stats(soft, &port->queues[q], w);

			for (unsigned i = 0; i < REGION_QUEUE_STATS; i++)
				shm_store_release64(
					&qs->base[i],
					pending[REGION_PORT_STATS + q * REGION_QUEUE_STATS + i]);
		}
	}
	region_port_reset_end(port->stats);
}

/* A worker answers a reset in its next round (microseconds; a sleeping one
 * wakes on its eventfd): one that has not within this has stopped. */
#define SOFT_RESET_WAIT_NS 1000000000ull

/* The primary: ask every worker for its copy of the port's counts
 * (soft_apply_resets()); soft_port_stats_reset_done() publishes them. One
 * request a port at a time: a second one moving `pending` under the first's
 * publish would mix two instants' figures. */
int soft_port_stats_reset(struct soft *soft, uint16_t port, uint32_t *ticket)
{
	struct soft_port *sp = &soft->ports[port];
	uint32_t asked = shm_load_relaxed32(&sp->reset_request) + 1;
	unsigned per_port = (unsigned)soft->queues + soft->vfs;

	/* The one under way is finished here, whoever asked it (its asker
	 * may have left, its job dropped): its asker reads the outcome by
	 * its ticket. */
	if (sp->reset_waiting &&
	    soft_port_stats_reset_done(soft, port, sp->reset_asked, NULL) == -EINPROGRESS)
		return -EBUSY;
	if (!soft->running) {
		/* Nobody counts: the primary may move the baselines itself. */
		region_port_reset(&(struct region_port_set){.port = sp->stats,
							    .queues = sp->queues[0].stats,
							    .port_stride = soft->n_ports,
							    .queue_stride = soft->queue_stride,
							    .workers = soft->n_workers,
							    .n_queues = per_port});
		return 0;
	}
	shm_store_release32(&sp->reset_request, asked);
	for (unsigned w = 0; w < soft->n_workers; w++)
		soft_worker_wake(&soft->workers[w]);
	sp->reset_waiting = true;
	sp->reset_asked = asked;
	sp->reset_asked_ns = clock_ns(CLOCK_MONOTONIC);
	*ticket = asked;
	return -EINPROGRESS;
}

static int reset_timed_out(struct mpf_flow_error *error)
{
	return flow_error_set(error, ETIMEDOUT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			      "the datapath did not carry out the reset within a second");
}

/* The primary: 0 once every worker answered the port's request `ticket`
 * (the baselines published), -EINPROGRESS before, or -ETIMEDOUT. A later
 * request does not hold an earlier one's answer back (the code before
 * answered each asker with the port's last request: one whose workers
 * were done waited for another's, and took its timeout). */
int soft_port_stats_reset_done(struct soft *soft, uint16_t port, uint32_t ticket,
			       struct mpf_flow_error *error)
{
	struct soft_port *sp = &soft->ports[port];
	unsigned answered = 0;

	/* Its outcome is known: one request at a time, and a later one is
	 * asked only once it was carried out or timed out (a second later:
	 * its asker, looking each 20 us, has read it by then). */
	if (!sp->reset_waiting || ticket != sp->reset_asked)
		return sp->reset_timed_out && ticket == sp->reset_failed ? reset_timed_out(error)
									 : 0;
	for (unsigned w = 0; w < soft->n_workers; w++)
		answered +=
			(int32_t)(shm_load_acquire32(&sp->reset_done[w]) - sp->reset_asked) >= 0;
	if (answered == soft->n_workers) {
		publish_bases(soft, sp);
		sp->reset_waiting = false;
		return 0;
	}
	if (clock_ns(CLOCK_MONOTONIC) - sp->reset_asked_ns < SOFT_RESET_WAIT_NS)
		return -EINPROGRESS;
	sp->reset_waiting = false;
	sp->reset_timed_out = true;
	sp->reset_failed = ticket;
	return reset_timed_out(error);
}

void soft_worker_wake(struct soft_worker *w)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is full, it is being woken already. */
	if (write(w->wake, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}

/* One pass over what the worker owns; the number of frames processed. */
static unsigned datapath_round(struct soft_worker *w)
{
	struct soft *soft = w->soft;
	struct packet pkts[SOFT_BURST];
	uint64_t now = clock_ns(CLOCK_REALTIME);
	unsigned total = 0;

	soft_apply_resets(w);
	for (unsigned p = 0; p < soft->n_ports; p++) {
		struct soft_port *port = &soft->ports[p];
		struct soft_source *source = soft_worker_source(soft, port, w->id);
		struct region_port *stats = soft_port_stats(soft, port, w->id);
		unsigned n = source ? soft_source_burst(source, pkts, SOFT_BURST, now) : 0;
		uint64_t missed = source ? soft_source_missed(source, now) : 0;

		if (missed)
			region_stat_add(&stats->value[REGION_PORT_RX_MISSED], missed);
		for (unsigned i = 0; i < n; i++) {
			struct packet *pkt = &pkts[i];

			pkt->port = (uint16_t)p;
			pkt->function = source->egress ? PACKET_FUNCTION_PF
						       : packet_function(pkt->data, pkt->length,
									 (uint16_t)p, soft->vfs);
			packet_parse(pkt);
			if (!source->egress) {
				region_stat_add(&stats->value[REGION_PORT_RX_PACKETS], 1);
				region_stat_add(&stats->value[REGION_PORT_RX_BYTES],
						pkt->wire_length);
			}
		}
		if (n)
			soft_process_burst(w, port, pkts, n, source->egress, now);
		if (source)
			soft_source_release(source);
		total += n + soft_inbox_receive(w, port, now);
	}
	for (unsigned p = 0; p < soft->n_ports; p++)
		total += soft_transmit_queues(w, &soft->ports[p], now);
	soft_rxq_commit(w);
	return total;
}

static void datapath_sleep(struct soft_worker *w)
{
	struct soft *soft = w->soft;
	uint64_t wait = 10000000u, now = clock_ns(CLOCK_REALTIME);
	unsigned n;

	for (unsigned p = 0; p < soft->n_ports; p++) {
		struct soft_source *source = soft_worker_source(soft, &soft->ports[p], w->id);
		uint64_t due = source ? soft_source_due(source, now) : UINT64_MAX;

		if (due < wait)
			wait = due;
	}
	if (wait == 0 || !soft_prepare_sleep(w, w->poll_fds, &n))
		return;
	shm_store_relaxed32(&w->idle, 1);
	rcu_offline(&soft->rcu, w->id);
	/* The fds were read under RCU: one closed meanwhile (its queue
	 * detached) wakes us early, or not at all until the timeout. */
	ppoll(w->poll_fds, n, &(struct timespec){.tv_nsec = (long)wait}, NULL);
	rcu_online(&soft->rcu, w->id);
	soft_finish_sleep(w);
	shm_store_relaxed32(&w->idle, 0);
}

static void *datapath_main(void *arg)
{
	struct soft_worker *w = arg;
	struct soft *soft = w->soft;
	unsigned idle_rounds = 0;

	rcu_online(&soft->rcu, w->id);
	while (!shm_load_acquire32(&soft->stop)) {
		if (datapath_round(w)) {
			idle_rounds = 0;
		} else if (++idle_rounds > 64) {
			datapath_sleep(w);
		}
		rcu_quiescent(&soft->rcu, w->id);
	}
	rcu_offline(&soft->rcu, w->id);
	return NULL;
}

int soft_datapath_start(struct soft *soft, struct mpf_flow_error *error)
{
	sigset_t all, old;
	int err = 0;
	unsigned w;

	shm_store_relaxed32(&soft->stop, 0);
	/* Signals are the primary's thread's business (its signalfd): the
	 * workers start with every one blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (w = 0; w < soft->n_workers && !err; w++) {
		err = pthread_create(&soft->workers[w].thread, NULL, datapath_main,
				     &soft->workers[w]);
		if (!err) {
			char name[16];

			snprintf(name, sizeof(name), "mpflow-dp%u", w % 100u);
			pthread_setname_np(soft->workers[w].thread, name);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		/* Stop the ones that started. */
		shm_store_release32(&soft->stop, 1);
		for (unsigned i = 0; i + 1 < w; i++)
			pthread_join(soft->workers[i].thread, NULL);
		return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "datapath thread: %s", strerror(err));
	}
	soft->running = true;
	return 0;
}

void soft_datapath_stop(struct soft *soft)
{
	if (!soft->running)
		return;
	shm_store_release32(&soft->stop, 1);
	for (unsigned w = 0; w < soft->n_workers; w++)
		pthread_join(soft->workers[w].thread, NULL);
	soft->running = false;
}
