/* SPDX-License-Identifier: BSD-3-Clause */
/* Meter objects: one round trip each (see mpflow/mpflow.h). */
#include <errno.h>
#include <string.h>

#include "libclient/client.h"

int mpf_meter_create(struct mpf_client *c, uint16_t port, uint32_t id,
		     const struct mpf_meter_params *params, struct mpf_flow_error *error)
{
	struct wire_completion raw;
	int err;

	pthread_mutex_lock(&c->lock);
	err = client_call(c,
			  wire_encode_meter_create(c->out, sizeof(c->out), 0, port, id, params->cir,
						   params->cbs, params->pir, params->pbs,
						   params->drop, error),
			  &raw, error);
	pthread_mutex_unlock(&c->lock);
	return err;
}

int mpf_meter_destroy(struct mpf_client *c, uint16_t port, uint32_t id,
		      struct mpf_flow_error *error)
{
	struct wire_completion raw;
	int err;

	pthread_mutex_lock(&c->lock);
	err = client_call(c,
			  wire_encode_meter_ref(c->out, sizeof(c->out), WIRE_OP_METER_DESTROY, 0,
						port, id, false, error),
			  &raw, error);
	pthread_mutex_unlock(&c->lock);
	return err;
}

int mpf_meter_query(struct mpf_client *c, uint16_t port, uint32_t id, bool clear,
		    struct mpf_meter_stats *stats, struct mpf_flow_error *error)
{
	struct wire_completion raw;
	int err;

	pthread_mutex_lock(&c->lock);
	err = client_call(c,
			  wire_encode_meter_ref(c->out, sizeof(c->out), WIRE_OP_METER_QUERY, 0,
						port, id, clear, error),
			  &raw, error);
	pthread_mutex_unlock(&c->lock);
	if (err)
		return err;
	if (!raw.has_meter)
		return flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the primary's answer has no meter statistics");
	memcpy(stats->packets, raw.meter.packets, sizeof(stats->packets));
	memcpy(stats->bytes, raw.meter.bytes, sizeof(stats->bytes));
	return 0;
}
