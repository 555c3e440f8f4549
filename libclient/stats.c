/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port and queue statistics: read from the counters region without a round
 * trip, like a rule's counters (shm/region.h); a reset goes through the
 * primary, which alone moves the baselines.
 */
#include <errno.h>
#include <string.h>

#include "libclient/client.h"
#include "shm/wire.h"

static int port_check(const struct region_view *v, uint16_t port)
{
	if (!v->ports_kept)
		return -ENOTSUP;
	return port < v->n_ports ? 0 : -EINVAL;
}

int client_port_stats(const struct region_view *v, uint16_t port, struct mpf_port_stats *out)
{
	unsigned per_port = (unsigned)v->pf_queues + v->vfs;
	uint64_t value[REGION_PORT_STATS], queue[REGION_QUEUE_STATS];
	int err = port_check(v, port);

	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	for (unsigned q = 0; q < per_port; q++) {
		err = region_port_read(&v->ports[port], value, &v->queues[port * per_port + q],
				       queue);
		if (err)
			return err;
		out->queue_full += queue[REGION_QUEUE_FULL];
		out->queue_unattached += queue[REGION_QUEUE_UNATTACHED];
	}
	/* The port's own figures last: at least as new as its queues'. */
	err = region_port_read(&v->ports[port], value, NULL, NULL);
	if (err)
		return err;
	out->rx_packets = value[REGION_PORT_RX_PACKETS];
	out->rx_bytes = value[REGION_PORT_RX_BYTES];
	out->rx_missed = value[REGION_PORT_RX_MISSED];
	out->rx_dropped = value[REGION_PORT_RX_DROPPED];
	out->rx_default = value[REGION_PORT_RX_DEFAULT];
	out->rx_undelivered = value[REGION_PORT_RX_UNDELIVERED];
	out->tx_packets = value[REGION_PORT_TX_PACKETS];
	out->tx_bytes = value[REGION_PORT_TX_BYTES];
	out->tx_dropped = value[REGION_PORT_TX_DROPPED];
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
	err = region_port_read(&v->ports[port], value,
			       &v->queues[port * ((unsigned)v->pf_queues + v->vfs) + (unsigned)index],
			       q);
	if (err)
		return err;
	out->packets = q[REGION_QUEUE_PACKETS];
	out->bytes = q[REGION_QUEUE_BYTES];
	out->full = q[REGION_QUEUE_FULL];
	out->unattached = q[REGION_QUEUE_UNATTACHED];
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
