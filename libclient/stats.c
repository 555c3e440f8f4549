/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port and queue statistics: read from the counters region without a round
 * trip, like a rule's counters (shm/region.h); a reset goes through the
 * primary, which alone moves the baselines.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "libclient/client.h"
#include "shm/wire.h"

static int port_check(const struct region_view *v, uint16_t port)
{
	if (!v->ports_kept)
		return -ENOTSUP;
	return port < v->n_ports ? 0 : -EINVAL;
}

/* One window over the port and `n` of its queues from `first`, every
 * worker's copies summed; a reset in progress is waited out. */
static int read_port(const struct region_view *v, uint16_t port, size_t first, size_t n,
		     uint64_t value[REGION_PORT_STATS], uint64_t queues[REGION_QUEUE_STATS])
{
	struct region_port_set set = region_view_port(v, port);
	int err = -EAGAIN;

	for (int i = 0; i < 1000 && err == -EAGAIN; i++) {
		err = region_port_read(&set, first, n, value, queues);
		if (err == -EAGAIN)
			nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
	}
	return err;
}

int client_port_stats(const struct region_view *v, uint16_t port, struct mpf_port_stats *out)
{
	uint64_t value[REGION_PORT_STATS], queues[REGION_QUEUE_STATS] = {0};
	int err = port_check(v, port);

	if (!err)
		err = read_port(v, port, 0, (size_t)v->pf_queues + v->vfs, value, queues);
	if (err)
		return err;
	*out = (struct mpf_port_stats){
		.rx_packets = value[REGION_PORT_RX_PACKETS],
		.rx_bytes = value[REGION_PORT_RX_BYTES],
		.rx_missed = value[REGION_PORT_RX_MISSED],
		.rx_dropped = value[REGION_PORT_RX_DROPPED],
		.rx_default = value[REGION_PORT_RX_DEFAULT],
		.rx_undelivered = value[REGION_PORT_RX_UNDELIVERED],
		.tx_packets = value[REGION_PORT_TX_PACKETS],
		.tx_bytes = value[REGION_PORT_TX_BYTES],
		.tx_dropped = value[REGION_PORT_TX_DROPPED],
		.tx_errors = value[REGION_PORT_TX_ERRORS],
		.queue_full = queues[REGION_QUEUE_FULL],
		.queue_unattached = queues[REGION_QUEUE_UNATTACHED],
	};
	return 0;
}

int client_queue_stats(const struct region_view *v, uint16_t port, uint16_t queue,
		       struct mpf_queue_stats *out)
{
	uint64_t value[REGION_PORT_STATS], q[REGION_QUEUE_STATS];
	int index, err = port_check(v, port);

	if (err)
		return err;
	index = region_queue_index(v->pf_queues, v->vfs, queue);
	if (index < 0)
		return -EINVAL;
	err = read_port(v, port, (size_t)index, 1, value, q);
	if (err)
		return err;
	*out = (struct mpf_queue_stats){.packets = q[REGION_QUEUE_PACKETS],
					.bytes = q[REGION_QUEUE_BYTES],
					.full = q[REGION_QUEUE_FULL],
					.unattached = q[REGION_QUEUE_UNATTACHED]};
	return 0;
}

int mpf_port_stats(struct mpf_client *c, uint16_t port, struct mpf_port_stats *stats)
{
	int err;

	/* The lock keeps mpf_reconnect() from unmapping the region. */
	pthread_mutex_lock(&c->lock);
	err = c->connected && !c->dead ? client_port_stats(&c->region.view, port, stats)
				       : -ESHUTDOWN;
	pthread_mutex_unlock(&c->lock);
	return err;
}

int mpf_queue_stats(struct mpf_client *c, uint16_t port, uint16_t queue,
		    struct mpf_queue_stats *stats)
{
	int err;

	pthread_mutex_lock(&c->lock);
	err = c->connected && !c->dead ? client_queue_stats(&c->region.view, port, queue, stats)
				       : -ESHUTDOWN;
	pthread_mutex_unlock(&c->lock);
	return err;
}

int mpf_port_stats_reset(struct mpf_client *c, uint16_t port, struct mpf_flow_error *error)
{
	struct wire_completion raw;
	int err;

	pthread_mutex_lock(&c->lock);
	err = client_call(c, wire_encode_port_stats_reset(c->out, sizeof(c->out), 0, port, error),
			  &raw, error);
	pthread_mutex_unlock(&c->lock);
	return err;
}
