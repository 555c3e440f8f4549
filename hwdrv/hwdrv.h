/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device backend seam: one ops table, named after the public verbs, per
 * backend folder (soft/, verbs/). The primary reaches a device only through
 * it; a backend leaves an op NULL to get a default that refuses with
 * -ENOTSUP and says which backend and op, so callers never test for NULL.
 */
#ifndef MPFLOW_HWDRV_H
#define MPFLOW_HWDRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpflow/flow.h>

#include "shm/region.h"
#include "shm/rule/rule.h"

struct hwdrv_config {
	uint16_t ports;	 /* ports the device exposes, numbered from 0 */
	uint16_t queues; /* RX queues per port */
	uint16_t vfs;	 /* virtual functions per port */
};

/* A rule as the primary hands it to a backend: decoded, validated against the
 * model, its actions resolved. Everything here is the primary's and lives
 * only for the call; a backend copies what it keeps. */
struct hwdrv_rule {
	uint16_t port;
	const struct mpf_flow_attr *attr;
	const struct mpf_flow_item *pattern;
	const struct mpf_flow_action *actions;
	const struct rule_actions *resolved;
	const void *wire;   /* the encoded rule it was decoded from */
	size_t wire_length;
	struct region_counter *counter; /* where this rule counts, if it does */
};

struct hwdrv;

struct hwdrv_ops {
	const char *name;
	/* Bring the device up. 0 or -errno with `error` saying why. */
	int (*open)(struct hwdrv *dev, const struct hwdrv_config *config,
		    struct mpf_flow_error *error);
	/* Destroy whatever open() and create() made. */
	void (*close)(struct hwdrv *dev);
	/* Would create() take this rule now? See mpf_flow_validate(). */
	int (*validate)(struct hwdrv *dev, const struct hwdrv_rule *rule,
			struct mpf_flow_error *error);
	/* Install a rule; *handle is the backend's. See mpf_flow_create(). */
	int (*create)(struct hwdrv *dev, const struct hwdrv_rule *rule, void **handle,
		      struct mpf_flow_error *error);
	/* Remove a rule create() made. See mpf_flow_destroy(). */
	int (*destroy)(struct hwdrv *dev, void *handle, struct mpf_flow_error *error);
	/* Enter or leave isolated mode on a port. See mpf_flow_isolate(). */
	int (*isolate)(struct hwdrv *dev, uint16_t port, bool enable,
		       struct mpf_flow_error *error);
};

struct hwdrv {
	struct hwdrv_ops ops; /* the backend's, defaults filled in */
	struct hwdrv_config config;
	void *priv; /* the backend's state */
};

/* Backends built into this mpflowd. */
extern const struct hwdrv_ops hwdrv_soft_ops;

/* Names of the backends built in, for --help: "soft" or "soft, verbs". */
const char *hwdrv_backend_names(void);

/* Bind backend `name` (defaults filled) and open it. 0, -ENOENT for an
 * unknown backend, or the backend's error. */
int hwdrv_open(struct hwdrv *dev, const char *name, const struct hwdrv_config *config,
	       struct mpf_flow_error *error);
void hwdrv_close(struct hwdrv *dev);

#endif
