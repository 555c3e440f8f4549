/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Rules in and out of the device: the hwdrv ops. A rule is translated
 * (translate.c), checked against the device-wide masks when the device has
 * them, then each of its flows gets its QP, its counters and its
 * ibv_create_flow(). Any failure unwinds what the rule made so far, in
 * reverse, and returns the device's errno: nothing is left behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hwdrv/verbs/verbs.h"

/* --- hashing QPs, shared --- */

static bool qp_matches(const struct verbs_qp *qp, const struct verbs_target *t)
{
	if (t->sink)
		return qp->n_queues == 0;
	return qp->n_queues == t->n_queues && qp->hash_fields == t->hash_fields &&
	       memcmp(qp->queues, t->queues, t->n_queues * sizeof(uint16_t)) == 0 &&
	       (!t->hash_fields || memcmp(qp->key, t->key, VERBS_RSS_KEY_LENGTH) == 0);
}

int verbs_qp_get(struct verbs *v, const struct verbs_target *t, struct verbs_qp **out)
{
	static const uint8_t unused_key[VERBS_RSS_KEY_LENGTH];
	struct ibv_wq *table[MPF_FLOW_RSS_QUEUES_MAX];
	uint32_t n = t->sink ? 1 : t->n_queues, size = 1, log = 0;
	struct verbs_qp *qp;
	int err;

	for (qp = v->qps; qp; qp = qp->next)
		if (qp_matches(qp, t)) {
			qp->users++;
			*out = qp;
			return 0;
		}
	/* A power-of-two table, the queues repeated to fill it. */
	while (size < n)
		size <<= 1, log++;
	for (uint32_t i = 0; i < size; i++)
		table[i] = v->wqs[t->sink ? v->n_queues : t->queues[i % n]];
	qp = calloc(1, sizeof(*qp) + (t->sink ? 0 : n) * sizeof(uint16_t));
	if (qp == NULL)
		return -ENOMEM;
	errno = 0;
	qp->n_queues = t->sink ? 0 : n;
	if (!t->sink)
		memcpy(qp->queues, t->queues, n * sizeof(uint16_t));
	qp->hash_fields = t->hash_fields;
	memcpy(qp->key, t->hash_fields ? t->key : unused_key, VERBS_RSS_KEY_LENGTH);
	qp->table = ibv_create_rwq_ind_table(
		v->context,
		&(struct ibv_rwq_ind_table_init_attr){.log_ind_tbl_size = log, .ind_tbl = table});
	if (qp->table) {
		struct ibv_qp_init_attr_ex init = {
			.qp_type = IBV_QPT_RAW_PACKET,
			.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_IND_TABLE |
				     IBV_QP_INIT_ATTR_RX_HASH,
			.pd = v->pd,
			.rwq_ind_tbl = qp->table,
			.rx_hash_conf = {.rx_hash_function = IBV_RX_HASH_FUNC_TOEPLITZ,
					 .rx_hash_key_len = VERBS_RSS_KEY_LENGTH,
					 .rx_hash_key = qp->key,
					 .rx_hash_fields_mask = qp->hash_fields},
		};

		qp->qp = ibv_create_qp_ex(v->context, &init);
	}
	if (qp->qp == NULL) {
		/* verbs reports through errno; a provider that forgot gets EIO. */
		err = errno ? errno : EIO;
		if (qp->table)
			ibv_destroy_rwq_ind_table(qp->table);
		free(qp);
		return -err;
	}
	qp->users = 1;
	qp->next = v->qps;
	v->qps = qp;
	*out = qp;
	return 0;
}

void verbs_qp_put(struct verbs *v, struct verbs_qp *qp)
{
	struct verbs_qp **at;

	if (--qp->users)
		return;
	for (at = &v->qps; *at != qp; at = &(*at)->next)
		;
	*at = qp->next;
	ibv_destroy_qp(qp->qp);
	ibv_destroy_rwq_ind_table(qp->table);
	free(qp);
}

/* --- device-wide masks (rte_flow.rst, "Global bit-masks") --- */

static struct verbs_layer_mask *mask_find(struct verbs *v, uint32_t type)
{
	for (unsigned i = 0; i < VERBS_LAYER_MASKS_MAX; i++)
		if (v->masks[i].users && v->masks[i].type == type)
			return &v->masks[i];
	return NULL;
}

/* Call `visit` on each matching spec of the translation. */
#define FOR_EACH_MATCH_SPEC(t, flow, i, type, layout)                                              \
	for (unsigned flow = 0; flow < (t)->n_flows; flow++)                                       \
		for (unsigned i = 0; i < (t)->flows[flow].n_specs; i++)                            \
			if (memcpy(&type,                                                          \
				   (t)->flows[flow].bytes + (t)->flows[flow].spec_offset[i],       \
				   sizeof(type)),                                                  \
			    (layout = verbs_spec_layout(type)) != NULL)

/* The first layer whose mask differs from the one the device has: EEXIST. */
static int masks_check(struct verbs *v, const struct verbs_translation *t,
		       struct mpf_flow_error *error)
{
	const struct verbs_spec_layout *l;
	uint32_t type;

	if (!v->caps.global_masks)
		return 0;
	FOR_EACH_MATCH_SPEC(t, f, i, type, l)
	{
		const uint8_t *mask = t->flows[f].bytes + t->flows[f].spec_offset[i] + l->mask;
		const struct verbs_layer_mask *held = mask_find(v, type);
		int item = t->flows[f].spec_item[i];
		char name[32];

		if (held && memcmp(held->mask, mask, held->size) != 0)
			return flow_error_set(error, EEXIST,
					      item >= 0 ? MPF_FLOW_ERROR_TYPE_ITEM
							: MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
					      item,
					      "item %d: the device has one %s mask for all rules, "
					      "and another rule set it differently",
					      item, verbs_spec_name(type, name, sizeof(name)));
	}
	return 0;
}

static void masks_take(struct verbs *v, const struct verbs_translation *t, struct verbs_rule *r)
{
	const struct verbs_spec_layout *l;
	uint32_t type;

	if (!v->caps.global_masks)
		return;
	FOR_EACH_MATCH_SPEC(t, f, i, type, l)
	{
		struct verbs_layer_mask *m = mask_find(v, type);
		unsigned at;

		if (m == NULL) {
			for (at = 0; at < VERBS_LAYER_MASKS_MAX && v->masks[at].users; at++)
				;
			if (at == VERBS_LAYER_MASKS_MAX)
				continue; /* more layer types than exist: cannot happen */
			m = &v->masks[at];
			m->type = type;
			m->size = (uint16_t)(l->mask - l->val); /* the filter: val, then mask */
			memcpy(m->mask, t->flows[f].bytes + t->flows[f].spec_offset[i] + l->mask,
			       m->size);
		}
		at = (unsigned)(m - v->masks);
		if (!(r->masks & (1u << at))) {
			r->masks |= 1u << at;
			m->users++;
		}
	}
}

static void masks_release(struct verbs *v, struct verbs_rule *r)
{
	for (unsigned i = 0; i < VERBS_LAYER_MASKS_MAX; i++)
		if (r->masks & (1u << i))
			v->masks[i].users--;
	r->masks = 0;
}

/* --- rules --- */

/* The rule's device flows into `t`, checked against the device's masks. */
static int translate(struct verbs *v, const struct hwdrv_rule *rule, struct verbs_translation *t,
		     struct mpf_flow_error *error)
{
	int err;

	if (rule->port != 0)
		return flow_error_set(
			error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			"no port %u: the verbs backend has port 0 (device %s port %u)", rule->port,
			v->name, v->caps.port);
	err = verbs_translate(&v->caps, rule, t, error);
	return err ? err : masks_check(v, t, error);
}

static int verbs_validate(struct hwdrv *dev, const struct hwdrv_rule *rule,
			  struct mpf_flow_error *error)
{
	struct verbs *v = dev->priv;

	return translate(v, rule, &v->translation, error);
}

/* Undo flows [0, n) of `r`, last first. The first errno, or 0. */
static int unwind(struct verbs *v, struct verbs_rule *r, unsigned n)
{
	int first = 0;

	while (n--) {
		struct verbs_rule_flow *f = &r->flows[n];
		int err = 0;

		if (f->flow)
			err = ibv_destroy_flow(f->flow);
		if (f->counters && !err)
			err = ibv_destroy_counters(f->counters);
		if (f->qp)
			verbs_qp_put(v, f->qp);
		if (err && !first)
			first = err;
		*f = (struct verbs_rule_flow){0};
	}
	return first;
}

static struct ibv_counters *counters_create(struct verbs *v)
{
	struct ibv_counters_init_attr init = {0};
	struct ibv_counter_attach_attr packets = {.counter_desc = IBV_COUNTER_PACKETS, .index = 0};
	struct ibv_counter_attach_attr bytes = {.counter_desc = IBV_COUNTER_BYTES, .index = 1};
	struct ibv_counters *counters = ibv_create_counters(v->context, &init);
	int err;

	if (counters == NULL)
		return NULL;
	err = ibv_attach_counters_point_flow(counters, &packets, NULL);
	if (!err)
		err = ibv_attach_counters_point_flow(counters, &bytes, NULL);
	if (err) {
		ibv_destroy_counters(counters);
		errno = err;
		return NULL;
	}
	return counters;
}

/* Make flow `i` of the translation: its QP, counters, the flow itself. */
static int flow_create(struct verbs *v, struct verbs_flow *flow, struct verbs_rule_flow *out,
		       unsigned i, unsigned n, struct mpf_flow_error *error)
{
	const char *what = "its QP";
	int err = -verbs_qp_get(v, &flow->target, &out->qp);

	if (err)
		goto fail;
	/* verbs reports through errno; a provider that forgot gets EIO. */
	errno = 0;
	if (flow->count_offset >= 0) {
		what = "its counters";
		out->counters = counters_create(v);
		if (out->counters == NULL) {
			err = errno ? errno : EIO;
			goto fail;
		}
		memcpy(flow->bytes + flow->count_offset +
			       offsetof(struct ibv_flow_spec_counter_action, counters),
		       &out->counters, sizeof(out->counters));
	}
	what = "ibv_create_flow";
	out->flow = ibv_create_flow(out->qp->qp, verbs_flow_attr(flow));
	if (out->flow)
		return 0;
	err = errno ? errno : EIO;
fail:
	return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
			      "device %s refused flow %u of %u (%s%s%s): %s", v->name, i + 1, n,
			      flow->variant[0] ? flow->variant : "the rule",
			      flow->variant[0] ? ", " : ": ", what, strerror(err));
}

static void rules_link(struct verbs *v, struct verbs_rule *r)
{
	r->prev = NULL;
	r->next = v->rules;
	if (v->rules)
		v->rules->prev = r;
	v->rules = r;
}

static void rules_unlink(struct verbs *v, struct verbs_rule *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else if (v->rules == r)
		v->rules = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static int verbs_create(struct hwdrv *dev, const struct hwdrv_rule *rule, void **handle,
			struct mpf_flow_error *error)
{
	struct verbs *v = dev->priv;
	struct verbs_translation *t = &v->translation;
	struct verbs_rule *r;
	bool counted = false;
	int err = translate(v, rule, t, error);

	if (err)
		return err;
	r = calloc(1, sizeof(*r) + t->n_flows * sizeof(r->flows[0]));
	if (r == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "no memory for the rule's %u flows", t->n_flows);
	for (unsigned i = 0; i < t->n_flows; i++) {
		struct verbs_rule_flow *f = &r->flows[i];

		err = flow_create(v, &t->flows[i], f, i, t->n_flows, error);
		if (err) {
			unwind(v, r, i + 1);
			free(r);
			return err;
		}
		counted = counted || f->counters;
	}
	r->n_flows = t->n_flows;
	r->counter = rule->counter;
	r->counted = counted;
	if (counted) {
		r->hits_origin = shm_load_relaxed64(&rule->counter->hits);
		r->bytes_origin = shm_load_relaxed64(&rule->counter->bytes);
	}
	masks_take(v, t, r);
	rules_link(v, r);
	*handle = r;
	return 0;
}

int verbs_rule_destroy(struct verbs *v, struct verbs_rule *r)
{
	int err;

	rules_unlink(v, r);
	masks_release(v, r);
	err = unwind(v, r, r->n_flows);
	free(r);
	return err;
}

static int verbs_destroy(struct hwdrv *dev, void *handle, struct mpf_flow_error *error)
{
	struct verbs *v = dev->priv;
	int err = verbs_rule_destroy(v, handle);

	if (err)
		return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "device %s: destroying the rule's flows: %s", v->name,
				      strerror(err));
	return 0;
}

/* --- isolated mode: the default flow comes and goes --- */

int verbs_default_flow_create(struct verbs *v)
{
	struct ibv_flow_attr attr;
	struct verbs_target queue0 = {.n_queues = 1, .queues = &queue0.queue};
	int err;

	if (v->default_flow)
		return 0;
	/* Zeroed, then set: the padding goes to the device too. */
	memset(&attr, 0, sizeof(attr));
	attr.type = IBV_FLOW_ATTR_ALL_DEFAULT;
	attr.size = sizeof(attr);
	attr.port = v->caps.port;
	err = verbs_qp_get(v, &queue0, &v->default_flow_qp);
	if (err)
		return err;
	errno = 0;
	v->default_flow = ibv_create_flow(v->default_flow_qp->qp, &attr);
	if (v->default_flow)
		return 0;
	if (v->default_flow_qp)
		verbs_qp_put(v, v->default_flow_qp);
	v->default_flow_qp = NULL;
	return -(errno ? errno : EIO);
}

void verbs_default_flow_destroy(struct verbs *v)
{
	if (v->default_flow)
		ibv_destroy_flow(v->default_flow);
	if (v->default_flow_qp)
		verbs_qp_put(v, v->default_flow_qp);
	v->default_flow = NULL;
	v->default_flow_qp = NULL;
}

int verbs_isolate(struct hwdrv *dev, uint16_t port, bool enable, struct mpf_flow_error *error)
{
	struct verbs *v = dev->priv;
	int err;

	if (port != 0)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no port %u: the verbs backend has port 0", port);
	if (enable) {
		verbs_default_flow_destroy(v);
	} else if ((err = verbs_default_flow_create(v)) != 0) {
		return flow_error_set(error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "device %s: the default flow (ALL_DEFAULT): %s", v->name,
				      strerror(-err));
	}
	return 0;
}

const struct hwdrv_ops hwdrv_verbs_ops = {
	.name = "verbs",
	.open = verbs_open,
	.close = verbs_close,
	.validate = verbs_validate,
	.create = verbs_create,
	.destroy = verbs_destroy,
	.isolate = verbs_isolate,
	.counters_poll = verbs_counters_poll,
	.counter_read = verbs_counter_read,
	.queue_attach = verbs_queue_attach,
	.queue_detach = verbs_queue_detach,
	.release = verbs_queues_release,
	.event_fd = verbs_event_fd,
	.service = verbs_service,
	.prepare_sleep = verbs_prepare_sleep,
	.finish_sleep = verbs_finish_sleep,
};
