/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The soft backend: the default, needing no hardware.
 *
 * In this release it is a rule store: it checks each rule against its ports,
 * queues and VFs, keeps a private copy of the encoded rule for every rule it
 * accepts, and isolated mode per port. It moves no packets, so counters stay
 * at zero; the software datapath (packet sources, classifier, actions, RX
 * rings) replaces this store in a later release, behind the same ops.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hwdrv/hwdrv.h"
#include "hwdrv/soft/pool.h"

struct soft_rule {
	uint16_t port;
	size_t wire_length;
	uint8_t wire[]; /* the rule, as the client encoded it */
};

struct soft_port {
	bool isolated;
};

struct soft {
	struct soft_port *ports;
	uint64_t rules;
	struct pool pool; /* soft_rule copies */
};

static int soft_open(struct hwdrv *dev, const struct hwdrv_config *config,
		     struct mpf_flow_error *error)
{
	struct soft *soft = calloc(1, sizeof(*soft));

	if (soft)
		soft->ports = calloc(config->ports ? config->ports : 1, sizeof(*soft->ports));
	if (soft == NULL || soft->ports == NULL) {
		free(soft);
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "soft backend: out of memory");
	}
	dev->priv = soft;
	return 0;
}

static void soft_close(struct hwdrv *dev)
{
	struct soft *soft = dev->priv;

	pool_destroy(&soft->pool);
	free(soft->ports);
	free(soft);
	dev->priv = NULL;
}

static int check_queue(const struct hwdrv *dev, unsigned queue, int index, const char *what,
		       struct mpf_flow_error *error)
{
	if (queue < dev->config.queues)
		return 0;
	return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, index,
			      "action %d (%s): queue %u does not exist (the port has %u)", index,
			      what, queue, dev->config.queues);
}

static int soft_validate(struct hwdrv *dev, const struct hwdrv_rule *rule,
			 struct mpf_flow_error *error)
{
	if (rule->port >= dev->config.ports)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "port %u does not exist (the soft device has %u)", rule->port,
				      dev->config.ports);
	for (const struct mpf_flow_item *item = rule->pattern;
	     item->type != MPF_FLOW_ITEM_TYPE_END; item++) {
		const struct mpf_flow_item_vf *vf = item->spec;

		if (item->type == MPF_FLOW_ITEM_TYPE_VF && vf && vf->id >= dev->config.vfs &&
		    (((const struct mpf_flow_item_vf *)rule_item_mask(item))->id != 0))
			return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM,
					      (int32_t)(item - rule->pattern),
					      "item %d (vf): VF %u does not exist (the port has %u)",
					      (int)(item - rule->pattern), vf->id, dev->config.vfs);
	}
	/* Every action is checked, though only the last of a type counts. */
	for (int i = 0; rule->actions[i].type != MPF_FLOW_ACTION_TYPE_END; i++) {
		const struct mpf_flow_action *a = &rule->actions[i];
		int err = 0;

		switch (a->type) {
		case MPF_FLOW_ACTION_TYPE_QUEUE:
			err = check_queue(dev, ((const struct mpf_flow_action_queue *)a->conf)->index,
					  i, "queue", error);
			break;
		case MPF_FLOW_ACTION_TYPE_DUP:
			err = check_queue(dev, ((const struct mpf_flow_action_dup *)a->conf)->index,
					  i, "dup", error);
			break;
		case MPF_FLOW_ACTION_TYPE_RSS: {
			const struct mpf_flow_action_rss *rss = a->conf;

			for (uint32_t q = 0; q < rss->queue_num && !err; q++)
				err = check_queue(dev, rss->queue[q], i, "rss", error);
			break;
		}
		case MPF_FLOW_ACTION_TYPE_VF: {
			const struct mpf_flow_action_vf *vf = a->conf;

			if (!vf->original && vf->id >= dev->config.vfs)
				err = flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, i,
						     "action %d (vf): VF %u does not exist (the "
						     "port has %u)",
						     i, vf->id, dev->config.vfs);
			break;
		}
		case MPF_FLOW_ACTION_TYPE_METER:
			err = flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, i,
					     "action %d (meter): the soft backend has no meter "
					     "objects yet",
					     i);
			break;
		case MPF_FLOW_ACTION_TYPE_SECURITY:
			err = flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, i,
					     "action %d (security): not supported by the soft "
					     "backend",
					     i);
			break;
		default:
			break;
		}
		if (err)
			return err;
	}
	return 0;
}

static int soft_create(struct hwdrv *dev, const struct hwdrv_rule *rule, void **handle,
		       struct mpf_flow_error *error)
{
	struct soft *soft = dev->priv;
	struct soft_rule *copy;
	int err = soft_validate(dev, rule, error);

	if (err)
		return err;
	copy = pool_alloc(&soft->pool, sizeof(*copy) + rule->wire_length);
	if (copy == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "soft backend: out of memory");
	copy->port = rule->port;
	copy->wire_length = rule->wire_length;
	memcpy(copy->wire, rule->wire, rule->wire_length);
	soft->rules++;
	*handle = copy;
	return 0;
}

static int soft_destroy(struct hwdrv *dev, void *handle, struct mpf_flow_error *error)
{
	struct soft *soft = dev->priv;

	struct soft_rule *copy = handle;

	(void)error;
	pool_free(&soft->pool, copy, sizeof(*copy) + copy->wire_length);
	soft->rules--;
	return 0;
}

static int soft_isolate(struct hwdrv *dev, uint16_t port, bool enable,
			struct mpf_flow_error *error)
{
	struct soft *soft = dev->priv;

	if (port >= dev->config.ports)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "port %u does not exist (the soft device has %u)", port,
				      dev->config.ports);
	soft->ports[port].isolated = enable;
	return 0;
}

const struct hwdrv_ops hwdrv_soft_ops = {
	.name = "soft",
	.open = soft_open,
	.close = soft_close,
	.validate = soft_validate,
	.create = soft_create,
	.destroy = soft_destroy,
	.isolate = soft_isolate,
};
