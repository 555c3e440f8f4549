/* SPDX-License-Identifier: BSD-3-Clause */
/* Backend lookup and the -ENOTSUP defaults (rdma-core's dummy_ops shape). */
#include <errno.h>
#include <string.h>

#include "hwdrv/hwdrv.h"

static const struct hwdrv_ops *const backends[] = {
	&hwdrv_soft_ops,
};

const char *hwdrv_backend_names(void)
{
	return "soft";
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

int hwdrv_open(struct hwdrv *dev, const char *name, const struct hwdrv_config *config,
	       struct mpf_flow_error *error)
{
	const struct hwdrv_ops *found = NULL;

	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			found = backends[i];
	if (found == NULL)
		return flow_error_set(error, ENOENT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no backend '%s' in this build (built in: %s)", name,
				      hwdrv_backend_names());
	memset(dev, 0, sizeof(*dev));
	dev->ops = *found;
	dev->config = *config;
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
	return dev->ops.open(dev, config, error);
}

void hwdrv_close(struct hwdrv *dev)
{
	dev->ops.close(dev);
}
