/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bringing an RDMA device up for flow steering, and what it turns out to
 * take. open(): the device (by name, or the first with an Ethernet port),
 * its port, a PD, one CQ and one receive WQ per queue plus the sink's, the
 * sink's QP; then the capability probes; then, unless the port is
 * isolated, the default flow. close() undoes it in reverse.
 *
 * Probes are trial flows created and destroyed at once on the sink QP,
 * matching frames sent to 00:00:00:00:00:00 (which no frame is), at the
 * lowest priority: they take no traffic from anyone while they exist.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hwdrv/verbs/verbs.h"

/* --- probes --- */

struct probe {
	_Alignas(8) uint8_t bytes[VERBS_FLOW_BYTES];
	uint16_t length;
};

static void probe_begin(struct probe *p, const struct verbs *v, uint16_t priority, uint32_t flags)
{
	static const uint8_t nobody[6], all[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct ibv_flow_attr attr;
	struct ibv_flow_spec_eth eth;

	/* Zeroed, then set: the padding goes to the device too. */
	memset(&attr, 0, sizeof(attr));
	attr.type = IBV_FLOW_ATTR_NORMAL;
	attr.size = sizeof(attr);
	attr.priority = priority;
	attr.port = v->caps.port;
	attr.flags = flags;
	memset(&eth, 0, sizeof(eth));
	eth.type = IBV_FLOW_SPEC_ETH;
	eth.size = sizeof(eth);
	memcpy(p->bytes, &attr, sizeof(attr));
	p->length = sizeof(attr);
	memcpy(eth.val.dst_mac, nobody, 6);
	memcpy(eth.mask.dst_mac, all, 6);
	memcpy(p->bytes + p->length, &eth, sizeof(eth));
	p->length += sizeof(eth);
	((struct ibv_flow_attr *)(void *)p->bytes)->num_of_specs = 1;
	((struct ibv_flow_attr *)(void *)p->bytes)->size = p->length;
}

/* Append a spec: a matching one from its filters, or an action spec whole. */
static void probe_add(struct probe *p, uint32_t type, const void *val, const void *mask,
		      size_t filter_size)
{
	const struct verbs_spec_layout *l = verbs_spec_layout(type);
	_Alignas(8) uint8_t spec[sizeof(struct ibv_flow_spec)] = {0};
	uint16_t size = l ? l->size : (uint16_t)filter_size;
	struct ibv_flow_attr *attr = (struct ibv_flow_attr *)(void *)p->bytes;

	if (l) {
		memcpy(spec, &type, sizeof(type));
		memcpy(spec + sizeof(type), &size, sizeof(size));
		memcpy(spec + l->val, val, filter_size);
		memcpy(spec + l->mask, mask, filter_size);
	} else {
		memcpy(spec, val, filter_size);
	}
	memcpy(p->bytes + p->length, spec, size);
	p->length = (uint16_t)(p->length + size);
	attr->num_of_specs++;
	attr->size = p->length;
}

static struct ibv_flow *probe_create(struct verbs *v, struct probe *p)
{
	return ibv_create_flow(v->sink_qp->qp, (struct ibv_flow_attr *)(void *)p->bytes);
}

static bool probe_try(struct verbs *v, struct probe *p)
{
	struct ibv_flow *flow = probe_create(v, p);

	if (flow == NULL)
		return false;
	ibv_destroy_flow(flow);
	return true;
}

/* The flows the probes add to the base one, by spec kind. */
static void probe_spec(struct probe *p, int kind)
{
	struct ibv_flow_ipv4_filter ip = {0}, ip_mask = {.src_ip = 0xffffffff};
	struct ibv_flow_tcp_udp_filter l4 = {.dst_port = htons(9)}, l4_mask = {.dst_port = 0xffff};
	struct ibv_flow_tunnel_filter id = {.tunnel_id = htonl(1)},
				      id_mask = {.tunnel_id = htonl(0xffffff)};

	if (kind != VERBS_SPEC_MPLS && kind != VERBS_SPEC_IPV6 && kind != VERBS_SPEC_IPV4_EXT &&
	    kind != VERBS_SPEC_ETH)
		probe_add(p, IBV_FLOW_SPEC_IPV4, &ip, &ip_mask, sizeof(ip));
	switch (kind) {
	case VERBS_SPEC_IPV4_EXT: {
		struct ibv_flow_ipv4_ext_filter v = {.proto = 6}, m = {.proto = 0xff};

		probe_add(p, IBV_FLOW_SPEC_IPV4_EXT, &v, &m, sizeof(v));
		break;
	}
	case VERBS_SPEC_IPV6: {
		struct ibv_flow_ipv6_filter v = {.next_hdr = 6}, m = {.next_hdr = 0xff};

		probe_add(p, IBV_FLOW_SPEC_IPV6, &v, &m, sizeof(v));
		break;
	}
	case VERBS_SPEC_TCP:
		probe_add(p, IBV_FLOW_SPEC_TCP, &l4, &l4_mask, sizeof(l4));
		break;
	case VERBS_SPEC_UDP:
		probe_add(p, IBV_FLOW_SPEC_UDP, &l4, &l4_mask, sizeof(l4));
		break;
	case VERBS_SPEC_VXLAN:
	case VERBS_SPEC_INNER: {
		struct ibv_flow_tcp_udp_filter port = {.dst_port = htons(4789)};
		struct ibv_flow_eth_filter eth = {0}, eth_mask = {.ether_type = 0xffff};

		probe_add(p, IBV_FLOW_SPEC_UDP, &port, &l4_mask, sizeof(port));
		probe_add(p, IBV_FLOW_SPEC_VXLAN_TUNNEL, &id, &id_mask, sizeof(id));
		eth.ether_type = htons(0x0800);
		if (kind == VERBS_SPEC_INNER)
			probe_add(p, IBV_FLOW_SPEC_ETH | IBV_FLOW_SPEC_INNER, &eth, &eth_mask,
				  sizeof(eth));
		break;
	}
	case VERBS_SPEC_GRE: {
		struct ibv_flow_gre_filter v = {.protocol = htons(0x6558)},
					   m = {.protocol = 0xffff};

		probe_add(p, IBV_FLOW_SPEC_GRE, &v, &m, sizeof(v));
		break;
	}
	case VERBS_SPEC_MPLS: {
		struct ibv_flow_mpls_filter v = {.label = htonl(16 << 12)},
					    m = {.label = htonl(0xfffff000)};

		probe_add(p, IBV_FLOW_SPEC_MPLS, &v, &m, sizeof(v));
		break;
	}
	case VERBS_SPEC_ESP: {
		struct ibv_flow_esp_filter v = {.spi = htonl(1)}, m = {.spi = 0xffffffff};

		probe_add(p, IBV_FLOW_SPEC_ESP, &v, &m, sizeof(v));
		break;
	}
	case VERBS_SPEC_DROP: {
		struct ibv_flow_spec_action_drop drop;

		memset(&drop, 0, sizeof(drop));
		drop.type = IBV_FLOW_SPEC_ACTION_DROP;
		drop.size = sizeof(drop);
		probe_add(p, IBV_FLOW_SPEC_ACTION_DROP, &drop, NULL, sizeof(drop));
		break;
	}
	case VERBS_SPEC_TAG: {
		struct ibv_flow_spec_action_tag tag;

		memset(&tag, 0, sizeof(tag));
		tag.type = IBV_FLOW_SPEC_ACTION_TAG;
		tag.size = sizeof(tag);
		tag.tag_id = 1;
		probe_add(p, IBV_FLOW_SPEC_ACTION_TAG, &tag, NULL, sizeof(tag));
		break;
	}
	default: /* ETH, IPV4: the base flow and its IPv4 spec */
		break;
	}
}

/* Counters: made, bound to packets and bytes, used by a trial flow. */
static bool probe_counters(struct verbs *v, uint16_t priority)
{
	struct ibv_counters_init_attr init = {0};
	struct ibv_counters *counters = ibv_create_counters(v->context, &init);
	struct ibv_counter_attach_attr packets = {.counter_desc = IBV_COUNTER_PACKETS, .index = 0};
	struct ibv_counter_attach_attr bytes = {.counter_desc = IBV_COUNTER_BYTES, .index = 1};
	struct ibv_flow_spec_counter_action count;
	struct probe p;
	bool ok;

	if (counters == NULL)
		return false;
	memset(&count, 0, sizeof(count));
	count.type = IBV_FLOW_SPEC_ACTION_COUNT;
	count.size = sizeof(count);
	ok = ibv_attach_counters_point_flow(counters, &packets, NULL) == 0 &&
	     ibv_attach_counters_point_flow(counters, &bytes, NULL) == 0;
	if (ok) {
		count.counters = counters;
		probe_begin(&p, v, priority, 0);
		probe_add(&p, IBV_FLOW_SPEC_ACTION_COUNT, &count, NULL, sizeof(count));
		ok = probe_try(v, &p);
	}
	ibv_destroy_counters(counters);
	return ok;
}

static int probe_caps(struct verbs *v, struct mpf_flow_error *error)
{
	static const uint16_t levels[] = {15, 7, 3, 1, 0};
	struct verbs_caps *caps = &v->caps;
	struct ibv_flow_ipv4_filter ip = {0}, exact = {.src_ip = 0xffffffff},
				    partial = {.src_ip = htonl(0xfffff000)}; /* a /20 */
	struct ibv_flow *held;
	struct probe p;
	uint16_t lowest;

	caps->levels = 0;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]) && !caps->levels; i++) {
		probe_begin(&p, v, levels[i], 0);
		if (probe_try(v, &p))
			caps->levels = (uint16_t)(levels[i] + 1);
	}
	if (caps->levels == 0)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "%s: the device refuses flow steering rules: %s", v->name,
				      strerror(errno));
	if (verbs_priorities_per_group(caps) == 0)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "%s: %u priority levels cannot hold %u group(s) of %u levels "
				      "(--groups)",
				      v->name, caps->levels, caps->groups, VERBS_SUBLEVELS);
	lowest = (uint16_t)(caps->levels - 1);

	caps->specs = 0;
	for (int kind = 0; kind < VERBS_SPEC_KINDS; kind++) {
		bool ok;

		if (kind == VERBS_SPEC_COUNT) {
			ok = probe_counters(v, lowest);
		} else {
			probe_begin(&p, v, lowest, 0);
			probe_spec(&p, kind);
			ok = probe_try(v, &p);
		}
		if (ok)
			caps->specs |= VERBS_CAP(kind);
	}
	probe_begin(&p, v, lowest, IBV_FLOW_ATTR_FLAGS_DONT_TRAP);
	caps->dont_trap = probe_try(v, &p);
	probe_begin(&p, v, lowest, IBV_FLOW_ATTR_FLAGS_EGRESS);
	caps->egress = probe_try(v, &p);

	probe_begin(&p, v, lowest, 0);
	probe_add(&p, IBV_FLOW_SPEC_IPV4, &ip, &partial, sizeof(ip));
	caps->partial_masks = probe_try(v, &p);
	/* One mask per layer: a /20 is refused while a /32 rule exists. */
	caps->global_masks = false;
	if (caps->partial_masks) {
		probe_begin(&p, v, lowest, 0);
		probe_add(&p, IBV_FLOW_SPEC_IPV4, &ip, &exact, sizeof(ip));
		held = probe_create(v, &p);
		if (held) {
			probe_begin(&p, v, lowest, 0);
			probe_add(&p, IBV_FLOW_SPEC_IPV4, &ip, &partial, sizeof(ip));
			caps->global_masks = !probe_try(v, &p);
			ibv_destroy_flow(held);
		}
	}
	caps->tag_max = VERBS_TAG_FLAG - 2;
	return 0;
}

/* --- open and close --- */

static bool ethernet_port(struct ibv_context *context, uint8_t port)
{
	struct ibv_port_attr attr;

	return ibv_query_port(context, port, &attr) == 0 &&
	       attr.link_layer == IBV_LINK_LAYER_ETHERNET;
}

/* Enough CQs and QPs for the queues, the sink, and a QP per queue set. */
static int check_attributes(struct verbs *v, struct mpf_flow_error *error)
{
	struct ibv_device_attr attr;
	int err = ibv_query_device(v->context, &attr);

	if (err)
		return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "%s: ibv_query_device: %s", v->name, strerror(err));
	if (attr.max_cq < v->n_queues + 1 || attr.max_qp < v->n_queues + 1)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "%s: %u queues need %u CQs and QPs; the device has %d and %d "
				      "(--queues)",
				      v->name, v->n_queues, v->n_queues + 1, attr.max_cq,
				      attr.max_qp);
	/* As many buffers as --rxq-size asks for, as far as a WQ and a CQ
	 * hold them. */
	if (attr.max_qp_wr > 0 && v->rx_buffers > (uint32_t)attr.max_qp_wr)
		v->rx_buffers = (uint32_t)attr.max_qp_wr;
	if (attr.max_cqe > 0 && v->rx_buffers > (uint32_t)attr.max_cqe)
		v->rx_buffers = (uint32_t)attr.max_cqe;
	if (v->rx_buffers < 1)
		v->rx_buffers = 1;
	return 0;
}

/* The named device, or the first whose port is Ethernet; opened. */
static int open_device(struct verbs *v, const struct hwdrv_config *config,
		       struct mpf_flow_error *error)
{
	int n = 0;
	struct ibv_device **list = ibv_get_device_list(&n);
	char names[256] = "";
	size_t used = 0;

	if (list == NULL || n == 0) {
		if (list)
			ibv_free_device_list(list);
		return flow_error_set(error, ENODEV, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no RDMA device found; use --backend soft");
	}
	for (int i = 0; i < n && v->context == NULL; i++) {
		const char *name = ibv_get_device_name(list[i]);
		struct ibv_context *context;

		used += (size_t)snprintf(names + used,
					 used < sizeof(names) ? sizeof(names) - used : 0, "%s%s",
					 i ? ", " : "", name);
		if (config->device_name && strcmp(name, config->device_name) != 0)
			continue;
		context = ibv_open_device(list[i]);
		if (context == NULL)
			continue;
		if (config->device_name || ethernet_port(context, v->caps.port)) {
			v->context = context;
			snprintf(v->name, sizeof(v->name), "%s", name);
		} else {
			ibv_close_device(context);
		}
	}
	ibv_free_device_list(list);
	if (v->context == NULL && config->device_name)
		return flow_error_set(error, ENODEV, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no RDMA device %s (found: %s)", config->device_name, names);
	if (v->context == NULL)
		return flow_error_set(error, ENODEV, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no RDMA device with an Ethernet port %u (found: %s); use "
				      "--backend soft",
				      v->caps.port, names);
	if (!ethernet_port(v->context, v->caps.port))
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "%s port %u: not an Ethernet port (or no such port)", v->name,
				      v->caps.port);
	return check_attributes(v, error);
}

/* Queue q's CQ and receive WQ, the WQ ready. 0 or an errno; `*what` is
 * the verb that failed. */
static int open_queue(struct verbs *v, unsigned q, const char **what)
{
	struct ibv_wq_init_attr init = {
		.wq_type = IBV_WQT_RQ,
		.max_wr = v->rx_buffers,
		.max_sge = 1,
		.pd = v->pd,
	};
	struct ibv_wq_attr ready = {.attr_mask = IBV_WQ_ATTR_STATE, .wq_state = IBV_WQS_RDY};
	/* An extended CQ reporting each frame's length and flow tag (MARK,
	 * FLAG), on the channel the loop watches. A device that reports no
	 * tags gets a CQ without, and MARK and FLAG are refused. */
	struct ibv_cq_init_attr_ex cq = {
		.cqe = v->rx_buffers,
		.channel = v->channel,
		.wc_flags = IBV_WC_EX_WITH_BYTE_LEN | IBV_WC_EX_WITH_FLOW_TAG,
	};

	*what = "ibv_create_cq_ex";
	errno = 0;
	if (!v->tagged_cqs)
		cq.wc_flags = IBV_WC_EX_WITH_BYTE_LEN;
	v->cqs[q] = ibv_create_cq_ex(v->context, &cq);
	if (v->cqs[q] == NULL && q == 0 && v->tagged_cqs) {
		/* The first CQ decides for all: without tags, every CQ. */
		v->tagged_cqs = false;
		cq.wc_flags = IBV_WC_EX_WITH_BYTE_LEN;
		v->cqs[q] = ibv_create_cq_ex(v->context, &cq);
	}
	if (v->cqs[q] == NULL)
		return errno ? errno : EIO;
	*what = "ibv_create_wq";
	init.cq = ibv_cq_ex_to_cq(v->cqs[q]);
	v->wqs[q] = ibv_create_wq(v->context, &init);
	if (v->wqs[q] == NULL)
		return errno ? errno : EIO;
	*what = "ibv_modify_wq";
	return ibv_modify_wq(v->wqs[q], &ready);
}

static int open_queues(struct verbs *v, struct mpf_flow_error *error)
{
	v->cqs = calloc(v->n_queues + 1u, sizeof(*v->cqs));
	v->wqs = calloc(v->n_queues + 1u, sizeof(*v->wqs));
	if (v->cqs == NULL || v->wqs == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no memory for %u queues", v->n_queues);
	/* Queue q's WQ is wqs[q]; the sink's is wqs[n_queues]. */
	for (unsigned q = 0; q <= v->n_queues; q++) {
		const char *what;
		int err = open_queue(v, q, &what);

		if (err)
			return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "%s: queue %u: %s: %s", v->name, q, what,
					      strerror(err));
	}
	return 0;
}

static int open_all(struct hwdrv *dev, const struct hwdrv_config *config,
		    struct mpf_flow_error *error)
{
	struct verbs *v = calloc(1, sizeof(*v));
	struct verbs_target sink = {.sink = true};
	int err;

	if (v == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no memory for the verbs backend");
	dev->priv = v;
	verbs_caps_full(&v->caps, config->queues, config->groups, config->device_port);
	v->n_queues = config->queues;
	v->counters = config->counters;
	v->activity = config->activity.base && config->counters
			      ? region_activity_row(&config->activity, config->activity.writers - 1)
			      : NULL;
	v->rx_buffers = (config->rxq_bytes ? config->rxq_bytes : 1u << 21) / VERBS_RX_BUFFER_SIZE;
	v->tagged_cqs = true;
	v->epoll_fd = -1;
	if (config->ports != 1 || config->vfs)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the verbs backend drives one device port as port 0 (--port "
				      "picks it); --ports and --vfs are the soft backend's");
	for (unsigned p = 0; p < HWDRV_PORTS_MAX; p++)
		if ((config->sources[p] && (p > 0 || !verbs_model_source)) || config->dump_dir)
			return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "--source and --dump-queues are the soft backend's: "
					      "the NIC is the verbs backend's source");
	err = open_device(v, config, error);
	if (err)
		return err;
	v->pd = ibv_alloc_pd(v->context);
	if (v->pd == NULL)
		return flow_error_set(error, errno ? errno : EIO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
				      -1, "%s: ibv_alloc_pd: %s", v->name,
				      strerror(errno ? errno : EIO));
	err = verbs_rx_open(v, error);
	if (err)
		return err;
	err = open_queues(v, error);
	if (err)
		return err;
	err = verbs_qp_get(v, &sink, &v->sink_qp);
	if (err)
		return flow_error_set(error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "%s: the sink QP: %s", v->name, strerror(-err));
	err = probe_caps(v, error);
	if (err)
		return err;
	/* A tag no completion reports would be lost: MARK and FLAG are
	 * refused when the CQs carry none, whatever the flows take. */
	if (!v->tagged_cqs)
		v->caps.specs &= ~VERBS_CAP(VERBS_SPEC_TAG);
	err = verbs_default_flow_create(v);
	if (err)
		return flow_error_set(error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "%s: the default flow (ALL_DEFAULT): %s", v->name,
				      strerror(-err));
	if (config->sources[0])
		return verbs_model_source(v->context, config->sources[0], error);
	return 0;
}

int verbs_open(struct hwdrv *dev, const struct hwdrv_config *config, struct mpf_flow_error *error)
{
	int err = open_all(dev, config, error);

	if (err)
		verbs_close(dev); /* what was made, in reverse: nothing leaks */
	return err;
}

void verbs_close(struct hwdrv *dev)
{
	struct verbs *v = dev->priv;

	if (v == NULL)
		return;
	/* Rules first (the primary destroys its own before closing). */
	while (v->rules)
		verbs_rule_destroy(v, v->rules);
	verbs_default_flow_destroy(v);
	if (v->sink_qp)
		verbs_qp_put(v, v->sink_qp);
	verbs_rx_close(v);
	for (unsigned q = 0; v->wqs && q <= v->n_queues; q++) {
		if (v->wqs[q])
			ibv_destroy_wq(v->wqs[q]);
		if (v->cqs[q])
			ibv_destroy_cq(ibv_cq_ex_to_cq(v->cqs[q]));
	}
	verbs_rx_close_late(v);
	free(v->wqs);
	free(v->cqs);
	if (v->pd)
		ibv_dealloc_pd(v->pd);
	if (v->context)
		ibv_close_device(v->context);
	free(v);
	dev->priv = NULL;
}
