/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The datapath worker: one thread that takes bursts from every port's
 * source and inbox (what loop: ports sent it), then from every TX queue,
 * classifies and acts on each packet, commits the RX rings once per round,
 * and then passes a quiescent point (rcu.h). With nothing to do it goes
 * offline and sleeps until the next paced frame is due, a live socket is
 * readable, a secondary rings a TX queue's bell, or 10 ms have passed (to
 * notice a stop).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "hwdrv/soft/soft.h"
#include "shm/clock.h"

void soft_apply_resets(struct soft *soft)
{
	unsigned per_port = (unsigned)soft->queues + soft->vfs;

	for (unsigned p = 0; p < soft->n_ports; p++) {
		struct soft_port *port = &soft->ports[p];
		/* Acquire: pairs with the primary's release of its request. */
		uint32_t asked = shm_load_acquire32(&port->reset_request);

		if (asked == shm_load_relaxed32(&port->reset_done))
			continue;
		/* We are the one writer of the counts: between two packets,
		 * every figure moves to its baseline at the same point. */
		region_port_reset(port->stats, port->queues[0].stats, per_port);
		shm_store_release32(&port->reset_done, asked);
	}
}

int soft_port_stats_reset(struct soft *soft, uint16_t port, struct mpf_flow_error *error)
{
	struct soft_port *sp = &soft->ports[port];
	uint32_t asked = shm_load_relaxed32(&sp->reset_request) + 1;
	uint64_t one = 1;

	if (!soft->running) {
		/* Nobody counts: the primary may move the baselines itself. */
		region_port_reset(sp->stats, sp->queues[0].stats,
				  (unsigned)soft->queues + soft->vfs);
		return 0;
	}
	shm_store_release32(&sp->reset_request, asked);
	if (write(soft->wake, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return flow_error_set(error, errno, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "waking the datapath: %s", strerror(errno));
	/* A round is microseconds; a sleeping datapath wakes on `wake`. */
	for (int i = 0; i < 20000; i++) {
		if ((int32_t)(shm_load_acquire32(&sp->reset_done) - asked) >= 0)
			return 0;
		nanosleep(&(struct timespec){.tv_nsec = 50000}, NULL);
	}
	return flow_error_set(error, ETIMEDOUT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			      "the datapath did not carry out the reset within a second");
}

/* One pass over the ports; the number of frames processed. */
static unsigned datapath_round(struct soft *soft)
{
	struct packet pkts[SOFT_BURST];
	uint64_t now = clock_ns(CLOCK_REALTIME);
	unsigned total = 0;

	soft_apply_resets(soft);
	for (unsigned p = 0; p < soft->n_ports; p++) {
		struct soft_port *port = &soft->ports[p];
		struct soft_source *source = &port->source;
		unsigned n = soft_source_burst(source, pkts, SOFT_BURST, now);
		uint64_t missed = soft_source_missed(source, now);

		if (missed)
			region_stat_add(&port->stats->value[REGION_PORT_RX_MISSED], missed);

		for (unsigned i = 0; i < n; i++) {
			struct packet *pkt = &pkts[i];

			pkt->port = (uint16_t)p;
			pkt->function = source->egress ? PACKET_FUNCTION_PF
						       : packet_function(pkt->data, pkt->length,
									 (uint16_t)p, soft->vfs);
			packet_parse(pkt);
			if (!source->egress) {
				region_stat_add(&port->stats->value[REGION_PORT_RX_PACKETS], 1);
				region_stat_add(&port->stats->value[REGION_PORT_RX_BYTES],
						pkt->wire_length);
			}
			soft_process(soft, port, pkt, source->egress, now);
		}
		soft_source_release(source);
		total += n + soft_inbox_receive(soft, port, now);
	}
	for (unsigned p = 0; p < soft->n_ports; p++)
		total += soft_transmit_queues(soft, &soft->ports[p], now);
	soft_rxq_commit(soft);
	return total;
}

static void datapath_sleep(struct soft *soft)
{
	uint64_t wait = 10000000u, now = clock_ns(CLOCK_REALTIME);
	unsigned n;

	for (unsigned p = 0; p < soft->n_ports; p++) {
		uint64_t due = soft_source_due(&soft->ports[p].source, now);

		if (due < wait)
			wait = due;
	}
	if (wait == 0 || !soft_prepare_sleep(soft, soft->poll_fds, &n))
		return;
	shm_store_relaxed32(&soft->idle, 1);
	rcu_offline(&soft->rcu);
	/* The fds were read under RCU: one closed meanwhile (its queue
	 * detached) wakes us early, or not at all until the timeout. With
	 * none, ppoll() is a plain sleep. */
	ppoll(soft->poll_fds, n, &(struct timespec){.tv_nsec = (long)wait}, NULL);
	rcu_online(&soft->rcu);
	soft_finish_sleep(soft);
	shm_store_relaxed32(&soft->idle, 0);
}

static void *datapath_main(void *arg)
{
	struct soft *soft = arg;
	unsigned idle_rounds = 0;

	rcu_online(&soft->rcu);
	while (!shm_load_acquire32(&soft->stop)) {
		if (datapath_round(soft)) {
			idle_rounds = 0;
		} else if (++idle_rounds > 64) {
			datapath_sleep(soft);
		}
		rcu_quiescent(&soft->rcu);
	}
	rcu_offline(&soft->rcu);
	return NULL;
}

int soft_datapath_start(struct soft *soft, struct mpf_flow_error *error)
{
	int err;

	sigset_t all, old;

	shm_store_relaxed32(&soft->stop, 0);
	/* Signals are the primary's thread's business (its signalfd): the
	 * worker starts with every one blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&soft->worker, NULL, datapath_main, soft);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "datapath thread: %s", strerror(err));
	pthread_setname_np(soft->worker, "mpflow-datapath");
	soft->running = true;
	return 0;
}

void soft_datapath_stop(struct soft *soft)
{
	if (!soft->running)
		return;
	shm_store_release32(&soft->stop, 1);
	pthread_join(soft->worker, NULL);
	soft->running = false;
}
