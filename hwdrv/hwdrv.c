/* SPDX-License-Identifier: BSD-3-Clause */
/* Backend lookup and the -ENOTSUP defaults (rdma-core's dummy_ops shape). */
#include <errno.h>
#include <string.h>

#include "hwdrv/hwdrv.h"
#include "hwdrv/soft/soft.h"

static const struct hwdrv_ops *const backends[] = {
	&hwdrv_soft_ops,
#ifdef MPFLOW_HAVE_VERBS
	&hwdrv_verbs_ops,
#endif
};

const char *hwdrv_backend_names(void)
{
#ifdef MPFLOW_HAVE_VERBS
	return "soft, verbs";
#else
	return "soft";
#endif
}

static int unsupported(struct hwdrv *dev, const char *op, struct mpf_flow_error *error)
{
	return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			      "the %s backend does not support %s", dev->ops.name, op);
}

static int default_open(struct hwdrv *dev, const struct hwdrv_config *config,
			struct mpf_flow_error *error)
{
	(void)config;
	(void)error;
	(void)dev;
	return 0;
}

static void default_close(struct hwdrv *dev)
{
	(void)dev;
}

static int default_validate(struct hwdrv *dev, const struct hwdrv_rule *rule,
			    struct mpf_flow_error *error)
{
	(void)rule;
	return unsupported(dev, "validate", error);
}

static int default_create(struct hwdrv *dev, const struct hwdrv_rule *rule, void **handle,
			  struct mpf_flow_error *error)
{
	(void)rule;
	(void)handle;
	return unsupported(dev, "create", error);
}

static int default_destroy(struct hwdrv *dev, void *handle, struct mpf_flow_error *error)
{
	(void)handle;
	return unsupported(dev, "destroy", error);
}

static int default_isolate(struct hwdrv *dev, uint16_t port, bool enable,
			   struct mpf_flow_error *error)
{
	(void)port;
	(void)enable;
	return unsupported(dev, "isolate", error);
}

static int default_queue_attach(struct hwdrv *dev, uint16_t port, uint16_t queue, bool tx,
				uint32_t owner, int fds[HWDRV_QUEUE_FDS],
				struct mpf_flow_error *error)
{
	(void)port, (void)queue, (void)owner, (void)fds;
	return unsupported(dev, tx ? "TX queues for secondaries" : "RX queues for secondaries",
			   error);
}

static int default_queue_detach(struct hwdrv *dev, uint16_t port, uint16_t queue, bool tx,
				uint32_t owner, struct mpf_flow_error *error)
{
	(void)port, (void)queue, (void)owner;
	return unsupported(dev, tx ? "TX queues for secondaries" : "RX queues for secondaries",
			   error);
}

static int default_port_stats_reset(struct hwdrv *dev, uint16_t port, uint32_t *ticket,
				    struct mpf_flow_error *error)
{
	(void)port, (void)ticket;
	return unsupported(dev, "port statistics", error);
}

/* A backend whose reset is done when it returns waits for nothing. */
static int default_port_stats_reset_done(struct hwdrv *dev, uint16_t port, uint32_t ticket,
					 struct mpf_flow_error *error)
{
	(void)dev, (void)port, (void)ticket, (void)error;
	return 0;
}

static int default_event_fd(struct hwdrv *dev)
{
	(void)dev;
	return -1;
}

static unsigned default_service(struct hwdrv *dev, bool woken)
{
	(void)dev, (void)woken;
	return 0;
}

static bool default_prepare_sleep(struct hwdrv *dev)
{
	(void)dev;
	return true;
}

static void default_finish_sleep(struct hwdrv *dev)
{
	(void)dev;
}

static void default_release(struct hwdrv *dev, uint32_t owner)
{
	(void)dev, (void)owner;
}

static int default_meter_create(struct hwdrv *dev, uint16_t port, uint32_t id,
				const struct hwdrv_meter *params, struct mpf_flow_error *error)
{
	(void)port, (void)id, (void)params;
	return unsupported(dev, "meter objects", error);
}

static int default_meter_destroy(struct hwdrv *dev, uint16_t port, uint32_t id,
				 struct mpf_flow_error *error)
{
	(void)port, (void)id;
	return unsupported(dev, "meter objects", error);
}

static int default_meter_query(struct hwdrv *dev, uint16_t port, uint32_t id, bool clear,
			       struct hwdrv_meter_stats *stats, struct mpf_flow_error *error)
{
	(void)port, (void)id, (void)clear, (void)stats;
	return unsupported(dev, "meter objects", error);
}

static void default_counters_poll(struct hwdrv *dev)
{
	(void)dev;
}

static int default_counter_read(struct hwdrv *dev, void *handle, struct mpf_flow_error *error)
{
	(void)dev, (void)handle, (void)error;
	return 0;
}

static const struct hwdrv_ops *backend(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

bool hwdrv_backend_known(const char *name)
{
	return backend(name) != NULL;
}

int hwdrv_source_check(const char *spec, unsigned ports, const char *from,
		       struct mpf_flow_error *error)
{
	int err = soft_source_check(spec, ports, error);

	if (err)
		soft_source_named(error, from);
	return err;
}

int hwdrv_open(struct hwdrv *dev, const char *name, const struct hwdrv_config *config,
	       struct mpf_flow_error *error)
{
	const struct hwdrv_ops *found = backend(name);

	if (found == NULL)
		return flow_error_set(error, ENOENT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no backend '%s' in this build (built in: %s)", name,
				      hwdrv_backend_names());
	memset(dev, 0, sizeof(*dev));
	dev->ops = *found;
	dev->config = *config;
	dev->polled_counters = found->counters_poll != NULL;
	if (!dev->ops.open)
		dev->ops.open = default_open;
	if (!dev->ops.close)
		dev->ops.close = default_close;
	if (!dev->ops.validate)
		dev->ops.validate = default_validate;
	if (!dev->ops.create)
		dev->ops.create = default_create;
	if (!dev->ops.destroy)
		dev->ops.destroy = default_destroy;
	if (!dev->ops.isolate)
		dev->ops.isolate = default_isolate;
	if (!dev->ops.port_stats_reset)
		dev->ops.port_stats_reset = default_port_stats_reset;
	if (!dev->ops.port_stats_reset_done)
		dev->ops.port_stats_reset_done = default_port_stats_reset_done;
	if (!dev->ops.event_fd)
		dev->ops.event_fd = default_event_fd;
	if (!dev->ops.service)
		dev->ops.service = default_service;
	if (!dev->ops.prepare_sleep)
		dev->ops.prepare_sleep = default_prepare_sleep;
	if (!dev->ops.finish_sleep)
		dev->ops.finish_sleep = default_finish_sleep;
	if (!dev->ops.queue_attach)
		dev->ops.queue_attach = default_queue_attach;
	if (!dev->ops.queue_detach)
		dev->ops.queue_detach = default_queue_detach;
	if (!dev->ops.release)
		dev->ops.release = default_release;
	if (!dev->ops.meter_create)
		dev->ops.meter_create = default_meter_create;
	if (!dev->ops.meter_destroy)
		dev->ops.meter_destroy = default_meter_destroy;
	if (!dev->ops.meter_query)
		dev->ops.meter_query = default_meter_query;
	if (!dev->ops.counters_poll)
		dev->ops.counters_poll = default_counters_poll;
	if (!dev->ops.counter_read)
		dev->ops.counter_read = default_counter_read;
	return dev->ops.open(dev, config, error);
}

void hwdrv_close(struct hwdrv *dev)
{
	dev->ops.close(dev);
}
