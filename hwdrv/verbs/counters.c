/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device counters into the shared counters region. Each counted flow has
 * an ibv_counters object with packets at index 0 and bytes at index 1; a
 * rule's count is the sum over its flows (its hidden flows match disjoint
 * packets; a DUP copy does not count). The primary is the region's one
 * writer for these slots: it polls on its timer (the provider's cached
 * values), and reads the device itself for a fresh query or a reset.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "hwdrv/verbs/verbs.h"

/* Copy one rule's device counters into its region counter. `fresh`: ask
 * the device, not the provider's cache. 0 or -errno. */
static int publish(struct verbs *v, struct verbs_rule *r, bool fresh)
{
	uint64_t hits = 0, bytes = 0;
	struct timespec now;
	bool counted = false;

	for (unsigned i = 0; i < r->n_flows; i++) {
		uint64_t values[2] = {0, 0};
		int err;

		if (r->flows[i].counters == NULL)
			continue;
		err = ibv_read_counters(r->flows[i].counters, values, 2,
					fresh ? 0 : IBV_READ_COUNTERS_ATTR_PREFER_CACHED);
		if (err)
			return -err;
		hits += values[0];
		bytes += values[1];
		counted = true;
	}
	if (!counted)
		return 0; /* no COUNT action: the slot says so to readers */
	clock_gettime(CLOCK_REALTIME, &now);
	if (region_counter_set(r->counter, r->hits_origin + hits, r->bytes_origin + bytes,
			       (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec) &&
	    v->activity)
		region_activity_bump(v->activity, (uint32_t)(r->counter - v->counters));
	return 0;
}

void verbs_counters_poll(struct hwdrv *dev)
{
	struct verbs *v = dev->priv;

	/* A read that fails leaves the last counts; the next tick retries. */
	for (struct verbs_rule *r = v->rules; r; r = r->next)
		if (r->counted)
			publish(v, r, false);
}

int verbs_counter_read(struct hwdrv *dev, void *handle, struct mpf_flow_error *error)
{
	struct verbs *v = dev->priv;
	struct verbs_rule *r = handle;
	int err = publish(v, r, true);

	if (err)
		return flow_error_set(error, -err, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "device %s: ibv_read_counters: %s", v->name, strerror(-err));
	return 0;
}
