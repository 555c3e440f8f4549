/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A rule -> the ibv_flow_attr + specs of each device flow that implements
 * it. Pure: reads the rule and a capability table, writes bytes; device.c
 * probes the table, flows.c creates what this writes, flowctl's dry run
 * prints it.
 *
 * The pattern becomes a list of spec records, in pattern order (an MPLS
 * spec stands where its label stands, as ibv_create_flow(3) requires), with
 * IBV_FLOW_SPEC_INNER on every L2-L4 spec after a tunnel item. The rule
 * then becomes one flow per *variant*: the one mechanism behind every
 * emulation of rte_flow.rst's "Device compatibility" section:
 *  - ANY as L3 (between ETH and TCP/UDP, num 1): an IPv4 and an IPv6 flow;
 *  - RSS over several queues on a pattern that leaves L3/L4 open: one flow
 *    per protocol the hash types name (IPv4/TCP, IPv4/UDP, IPv4, IPv6/...,
 *    and the rest unhashed), since a device hashes one protocol per QP;
 *  - DUP: a DONT_TRAP copy to the DUP queue, tried first, then the rule;
 *  - ingress and egress at once: one flow per direction.
 * Each flow gets a sub-level (VERBS_SUBLEVELS) of the rule's priority: DUP
 * copies on 0, then by specificity as mlx5 orders it, the layer of the
 * flow's last header (L4 or a tunnel on 1, L3 on 2, L2 on 3), so the more
 * specific of two overlapping flows at one priority is tried first,
 * whether both come from one rule's expansion or from two rules. RSS with
 * one queue is QUEUE.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hwdrv/verbs/verbs.h"
#include "shm/rule/rule.h"

/* The Microsoft verification key, as the soft backend's default. */
static const uint8_t default_rss_key[VERBS_RSS_KEY_LENGTH] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

void verbs_caps_full(struct verbs_caps *caps, uint16_t queues, uint16_t groups, uint8_t port)
{
	*caps = (struct verbs_caps){
		.levels = 16,
		.groups = groups ? groups : 1,
		.queues = queues,
		.port = port ? port : 1,
		.specs = VERBS_CAP(VERBS_SPEC_KINDS) - 1,
		.dont_trap = true,
		.egress = true,
		.partial_masks = true,
		.global_masks = false,
		.tag_max = VERBS_TAG_FLAG - 2,
	};
}

uint32_t verbs_priorities_per_group(const struct verbs_caps *caps)
{
	return caps->levels / VERBS_SUBLEVELS / (caps->groups ? caps->groups : 1);
}

/* --- errors --- */

/* ENOTSUP naming item `index` of `pattern`, and why. */
static int item_error(const struct mpf_flow_item *pattern, struct mpf_flow_error *error, int index,
		      const char *why)
{
	return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, index, "item %d (%s): %s",
			      index, mpf_flow_item_name(pattern[index].type), why);
}

/* --- the pattern as spec records --- */

struct record {
	_Alignas(8) uint8_t bytes[sizeof(struct ibv_flow_spec)];
	uint16_t size;
	int16_t item;
	bool any_l3; /* placeholder: an IPv4 or IPv6 spec, per variant */
	bool inner;
};

struct pattern {
	const struct mpf_flow_item *items; /* the rule's, for messages */
	unsigned n;
	int eth;       /* record of the current level's ETH spec, -1 */
	int l3, l4;    /* records of the current level's IP and TCP/UDP specs, -1 */
	int last_item; /* type of the previous non-meta item, -1 */
	bool vlan;     /* the current ETH spec holds a VLAN tag */
	bool inner;    /* after a tunnel item */
	bool tunnel;
	uint8_t outer_l3; /* 0, 4, 6: the outer L3 the pattern pins */
	uint8_t outer_l4; /* 0, IPPROTO_TCP, IPPROTO_UDP, or 1: another L4 */
	uint8_t depth;	  /* layer of the last header item: 2, 3, 4 (0: none) */
	bool any_l3;
	struct record rec[VERBS_SPECS_MAX]; /* last: written only as used */
};

/* Start a record of spec `type` for item `index`; returns its filter
 * pair (val, then mask at `*mask`). */
static int record_begin(struct pattern *p, const struct verbs_caps *caps, uint32_t type, int index,
			uint8_t **val, uint8_t **mask, struct mpf_flow_error *error)
{
	const struct verbs_spec_layout *l = verbs_spec_layout(type);
	struct record *r;
	char name[32];

	if (p->inner && type != IBV_FLOW_SPEC_VXLAN_TUNNEL && type != IBV_FLOW_SPEC_GRE &&
	    type != IBV_FLOW_SPEC_MPLS) {
		if (!(caps->specs & VERBS_CAP(VERBS_SPEC_INNER)))
			return item_error(p->items, error, index,
					  "the device matches no headers inside a tunnel");
		type |= IBV_FLOW_SPEC_INNER;
	}
	if (!(caps->specs & VERBS_CAP(verbs_spec_kind(type)))) {
		char why[64];

		snprintf(why, sizeof(why), "the device takes no spec %s",
			 verbs_spec_name(type, name, sizeof(name)));
		return item_error(p->items, error, index, why);
	}
	if (p->n == VERBS_SPECS_MAX - 4) /* room for the action specs */
		return item_error(p->items, error, index, "more specs than one device flow holds");
	r = &p->rec[p->n++];
	memset(r, 0, sizeof(*r));
	r->item = (int16_t)index;
	r->size = l->size;
	r->inner = p->inner;
	memcpy(r->bytes, &type, sizeof(type));
	memcpy(r->bytes + sizeof(type), &r->size, sizeof(r->size));
	*val = r->bytes + l->val;
	*mask = r->bytes + l->mask;
	return 0;
}

/* Record `i`'s value and mask filters. */
static void record_filters(struct record *r, uint8_t **val, uint8_t **mask)
{
	uint32_t type;
	const struct verbs_spec_layout *l;

	memcpy(&type, r->bytes, sizeof(type));
	l = verbs_spec_layout(type & ~(uint32_t)IBV_FLOW_SPEC_INNER);
	*val = r->bytes + l->val;
	*mask = r->bytes + l->mask;
}

static uint32_t record_type(const struct record *r)
{
	uint32_t type;

	memcpy(&type, r->bytes, sizeof(type));
	return type & ~(uint32_t)IBV_FLOW_SPEC_INNER;
}

/* A field mask of all zeros or all ones: devices take no partial protocol
 * or type masks (mlx5 refuses them). */
static int whole_or_nothing(const struct pattern *p, int index, const char *field, uint32_t mask,
			    uint32_t ones, struct mpf_flow_error *error)
{
	char why[96];

	if (mask == 0 || mask == ones)
		return 0;
	snprintf(why, sizeof(why), "field %s: the device takes no partial mask here", field);
	return item_error(p->items, error, index, why);
}

/* The item's spec & mask and its mask (the model's); all-zero without a spec. */
static void item_values(const struct mpf_flow_item *item, const struct rule_item_view *view,
			size_t size, uint8_t *spec, uint8_t *mask)
{
	memset(spec, 0, size);
	memset(mask, 0, size);
	if (view->mask == NULL)
		return;
	memcpy(mask, view->mask, size);
	for (size_t i = 0; i < size; i++)
		spec[i] = ((const uint8_t *)item->spec)[i] & mask[i];
}

/* Refuse ranges and mask bits verbs has no field for, naming the field. */
static int check_item(const struct mpf_flow_item *item, const struct rule_item_view *view,
		      int index, const uint8_t *mask, const void *carried,
		      struct mpf_flow_error *error)
{
	const struct rule_item_desc *desc = rule_item_desc((int)item->type);
	const uint8_t *c = carried;

	for (unsigned f = 0; f < desc->n_fields; f++) {
		const struct rule_field *field = &desc->fields[f];
		bool uncovered = false;

		if (view->ranges & 1u << f)
			return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, index,
					      "item %d (%s): verbs matches no ranges (field %s)",
					      index, desc->name, field->name);
		for (unsigned b = field->offset; b < field->offset + field->size; b++)
			uncovered = uncovered || (mask[b] & ~c[b]);
		if (uncovered)
			return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, index,
					      "item %d (%s): verbs cannot match field %s", index,
					      desc->name, field->name);
	}
	return 0;
}

/* What verbs carries of each item: the bits a mask may set. */
static const struct mpf_flow_item_eth carried_eth = {
	.dst = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	.src = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	.type = 0xffff,
};
static const struct mpf_flow_item_vlan carried_vlan = {.tci = 0xffff};
/* The IPv4 ext spec's ttl and flags, IPv6's hop limit, MPLS's TC, S and
 * TTL, and GRE's bits other than C, K and S have fields in verbs but no
 * match in the devices (mlx5 refuses them): refused here, at validate,
 * rather than by the device at create. */
static const struct mpf_flow_item_ipv4 carried_ipv4 = {
	.hdr = {.type_of_service = 0xff,
		.next_proto_id = 0xff,
		.src_addr = 0xffffffff,
		.dst_addr = 0xffffffff},
};
static const struct mpf_flow_item_ipv6 carried_ipv6 = {
	.hdr = {.vtc_flow = RULE_BE32(0x0fffffff), /* traffic class and flow label */
		.proto = 0xff,
		.src_addr = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			     0xff, 0xff, 0xff, 0xff},
		.dst_addr = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			     0xff, 0xff, 0xff, 0xff}},
};
static const struct mpf_flow_item_tcp carried_tcp = {
	.hdr = {.src_port = 0xffff, .dst_port = 0xffff}};
static const struct mpf_flow_item_udp carried_udp = {
	.hdr = {.src_port = 0xffff, .dst_port = 0xffff}};
static const struct mpf_flow_item_vxlan carried_vxlan = {.vni = {0xff, 0xff, 0xff}};
static const struct mpf_flow_item_gre carried_gre = {.c_rsvd0_ver = RULE_BE16(0xb000),
						     .protocol = 0xffff};
static const struct mpf_flow_item_mpls carried_mpls = {.label_tc_s = {0xff, 0xff, 0xf0}};
static const struct mpf_flow_item_esp carried_esp = {.hdr = {.spi = 0xffffffff, .seq = 0xffffffff}};
static const struct mpf_flow_item_port carried_port = {.index = 0xffffffff};
static const struct mpf_flow_item_any carried_any = {.num = 0xffffffff};

static int add_eth(struct pattern *p, const struct verbs_caps *caps, const uint8_t *spec,
		   const uint8_t *mask, int index, struct mpf_flow_error *error)
{
	const struct mpf_flow_item_eth *s = (const void *)spec, *m = (const void *)mask;
	struct ibv_flow_eth_filter *val, *msk;
	uint8_t *v, *k;
	int err = whole_or_nothing(p, index, "type", m->type, 0xffff, error);

	if (!err)
		err = record_begin(p, caps, IBV_FLOW_SPEC_ETH, index, &v, &k, error);
	if (err)
		return err;
	val = (void *)v;
	msk = (void *)k;
	memcpy(val->dst_mac, s->dst, 6);
	memcpy(val->src_mac, s->src, 6);
	memcpy(msk->dst_mac, m->dst, 6);
	memcpy(msk->src_mac, m->src, 6);
	val->ether_type = s->type;
	msk->ether_type = m->type;
	p->eth = (int)p->n - 1;
	p->vlan = false;
	return 0;
}

/* An IP item at this level: not a second one (IP in IP has no verbs
 * tunnel spec, and the second IP spec would constrain the outer header:
 * mlx5 refuses it), and not one the ETH item's type excludes. */
static int l3_fits(struct pattern *p, int index, uint8_t version, struct mpf_flow_error *error)
{
	uint16_t want = htons(version == 4 ? 0x0800 : 0x86dd);
	char why[128];

	if (p->l3 >= 0)
		return item_error(p->items, error, index,
				  "IP in IP: verbs has no tunnel spec for it, and a second IP spec "
				  "would constrain the outer header");
	if (p->eth >= 0) {
		uint8_t *v, *k;
		const struct ibv_flow_eth_filter *val, *msk;

		record_filters(&p->rec[p->eth], &v, &k);
		val = (const void *)v;
		msk = (const void *)k;
		if (msk->ether_type && val->ether_type != want) {
			snprintf(why, sizeof(why), "the ETH item's type 0x%04x contradicts it",
				 ntohs(val->ether_type));
			return item_error(p->items, error, index, why);
		}
	}
	return 0;
}

/* The current level's IP protocol field: its value and mask, or NULL (no
 * IP spec, or one without the field). */
static uint8_t *l3_proto(struct pattern *p, uint8_t **mask)
{
	struct record *r;
	uint8_t *v, *k;

	if (p->l3 < 0 || p->rec[p->l3].any_l3)
		return NULL;
	r = &p->rec[p->l3];
	record_filters(r, &v, &k);
	switch (record_type(r)) {
	case IBV_FLOW_SPEC_IPV4_EXT:
		*mask = &((struct ibv_flow_ipv4_ext_filter *)(void *)k)->proto;
		return &((struct ibv_flow_ipv4_ext_filter *)(void *)v)->proto;
	case IBV_FLOW_SPEC_IPV6:
		*mask = &((struct ibv_flow_ipv6_filter *)(void *)k)->next_hdr;
		return &((struct ibv_flow_ipv6_filter *)(void *)v)->next_hdr;
	default:
		return NULL;
	}
}

/* An item whose protocol is `proto` after this level's IP item: refused if
 * the IP item names another. */
static int l4_fits(struct pattern *p, int index, uint8_t proto, struct mpf_flow_error *error)
{
	uint8_t *mask, *val = l3_proto(p, &mask);
	char why[96];

	if (val == NULL || *mask == 0 || *val == proto)
		return 0;
	snprintf(why, sizeof(why), "the IP item's protocol %u contradicts it", *val);
	return item_error(p->items, error, index, why);
}

/* Make this level's IP spec match protocol `proto` (as mlx5 does for GRE),
 * an IPv4 spec becoming the ext spec that has the field. */
static int pin_l3_proto(struct pattern *p, const struct verbs_caps *caps, uint8_t proto, int index,
			struct mpf_flow_error *error)
{
	uint8_t *mask, *val;

	if (p->l3 < 0)
		return item_error(p->items, error, index, "needs an IPv4 or IPv6 item before it");
	if (record_type(&p->rec[p->l3]) == IBV_FLOW_SPEC_IPV4) {
		struct record *r = &p->rec[p->l3];
		const struct verbs_spec_layout *l = verbs_spec_layout(IBV_FLOW_SPEC_IPV4_EXT);
		struct ibv_flow_ipv4_filter ip, ip_mask;
		struct ibv_flow_ipv4_ext_filter *ext, *ext_mask;
		uint32_t type = IBV_FLOW_SPEC_IPV4_EXT | (r->inner ? IBV_FLOW_SPEC_INNER : 0);
		uint8_t *v, *k;

		if (!(caps->specs & VERBS_CAP(verbs_spec_kind(IBV_FLOW_SPEC_IPV4_EXT))))
			return item_error(
				p->items, error, index,
				"the device takes no IPv4 protocol match (ipv4 ext spec)");
		record_filters(r, &v, &k);
		memcpy(&ip, v, sizeof(ip));
		memcpy(&ip_mask, k, sizeof(ip_mask));
		memset(r->bytes, 0, sizeof(r->bytes));
		r->size = l->size;
		memcpy(r->bytes, &type, sizeof(type));
		memcpy(r->bytes + sizeof(type), &r->size, sizeof(r->size));
		ext = (void *)(r->bytes + l->val);
		ext_mask = (void *)(r->bytes + l->mask);
		ext->src_ip = ip.src_ip, ext_mask->src_ip = ip_mask.src_ip;
		ext->dst_ip = ip.dst_ip, ext_mask->dst_ip = ip_mask.dst_ip;
	}
	val = l3_proto(p, &mask);
	if (val && *mask == 0)
		*val = proto, *mask = 0xff;
	return 0;
}

/* Make this level's UDP spec match destination port `port` when the rule
 * leaves it open (mlx5: 4789 under VXLAN, 6635 under MPLS). */
static int pin_udp_dst(struct pattern *p, uint16_t port, int index, const char *what,
		       struct mpf_flow_error *error)
{
	struct ibv_flow_tcp_udp_filter *val, *mask;
	uint8_t *v, *k;
	char why[96];

	if (p->l4 < 0 || record_type(&p->rec[p->l4]) != IBV_FLOW_SPEC_UDP) {
		snprintf(why, sizeof(why), "%s needs a UDP item before it", what);
		return item_error(p->items, error, index, why);
	}
	record_filters(&p->rec[p->l4], &v, &k);
	val = (void *)v;
	mask = (void *)k;
	if (mask->dst_port == 0)
		val->dst_port = htons(port), mask->dst_port = 0xffff;
	return 0;
}

static int add_ipv4(struct pattern *p, const struct verbs_caps *caps, const uint8_t *spec,
		    const uint8_t *mask, int index, struct mpf_flow_error *error)
{
	const struct mpf_ipv4_hdr *s = (const void *)spec, *m = (const void *)mask;
	bool ext = m->type_of_service || m->next_proto_id;
	uint8_t *v, *k;
	int err = whole_or_nothing(p, index, "next_proto_id", m->next_proto_id, 0xff, error);

	if (!err)
		err = l3_fits(p, index, 4, error);
	if (!err)
		err = record_begin(p, caps, ext ? IBV_FLOW_SPEC_IPV4_EXT : IBV_FLOW_SPEC_IPV4,
				   index, &v, &k, error);
	if (err)
		return err;
	p->l3 = (int)p->n - 1;
	if (ext) {
		struct ibv_flow_ipv4_ext_filter *val = (void *)v, *msk = (void *)k;

		val->src_ip = s->src_addr, msk->src_ip = m->src_addr;
		val->dst_ip = s->dst_addr, msk->dst_ip = m->dst_addr;
		val->proto = s->next_proto_id, msk->proto = m->next_proto_id;
		val->tos = s->type_of_service, msk->tos = m->type_of_service;
	} else {
		struct ibv_flow_ipv4_filter *val = (void *)v, *msk = (void *)k;

		val->src_ip = s->src_addr, msk->src_ip = m->src_addr;
		val->dst_ip = s->dst_addr, msk->dst_ip = m->dst_addr;
	}
	if (!p->inner && !p->tunnel)
		p->outer_l3 = 4;
	return 0;
}

static int add_ipv6(struct pattern *p, const struct verbs_caps *caps, const uint8_t *spec,
		    const uint8_t *mask, int index, struct mpf_flow_error *error)
{
	const struct mpf_ipv6_hdr *s = (const void *)spec, *m = (const void *)mask;
	struct ibv_flow_ipv6_filter *val, *msk;
	uint32_t vtc = ntohl(s->vtc_flow), vtc_mask = ntohl(m->vtc_flow);
	uint8_t *v, *k;
	int err = whole_or_nothing(p, index, "proto", m->proto, 0xff, error);

	/* The device's next header is the protocol after the extension
	 * headers, never one of them (mlx5 refuses these values). */
	if (!err && m->proto &&
	    (s->proto == 0 || s->proto == 43 || s->proto == 44 || s->proto == 50 ||
	     s->proto == 51 || s->proto == 60)) {
		char why[96];

		snprintf(why, sizeof(why),
			 "proto %u is an extension header, which the device does not match",
			 s->proto);
		return item_error(p->items, error, index, why);
	}
	if (!err)
		err = l3_fits(p, index, 6, error);
	if (!err)
		err = record_begin(p, caps, IBV_FLOW_SPEC_IPV6, index, &v, &k, error);
	if (err)
		return err;
	p->l3 = (int)p->n - 1;
	val = (void *)v;
	msk = (void *)k;
	memcpy(val->src_ip, s->src_addr, 16), memcpy(msk->src_ip, m->src_addr, 16);
	memcpy(val->dst_ip, s->dst_addr, 16), memcpy(msk->dst_ip, m->dst_addr, 16);
	/* vtc_flow is version (4b), traffic class (8b), flow label (20b);
	 * verbs has the label (network order) and the class apart. */
	val->flow_label = htonl(vtc & 0xfffff);
	msk->flow_label = htonl(vtc_mask & 0xfffff);
	val->traffic_class = (uint8_t)(vtc >> 20), msk->traffic_class = (uint8_t)(vtc_mask >> 20);
	val->next_hdr = s->proto, msk->next_hdr = m->proto;
	if (!p->inner && !p->tunnel)
		p->outer_l3 = 6;
	return 0;
}

static int add_l4(struct pattern *p, const struct verbs_caps *caps, uint32_t type,
		  const uint8_t *spec, const uint8_t *mask, int index, struct mpf_flow_error *error)
{
	/* TCP and UDP headers begin alike: source then destination port. */
	const struct mpf_udp_hdr *s = (const void *)spec, *m = (const void *)mask;
	struct ibv_flow_tcp_udp_filter *val, *msk;
	uint8_t *v, *k;
	int err = l4_fits(p, index, type == IBV_FLOW_SPEC_TCP ? 6 : 17, error);

	if (!err)
		err = record_begin(p, caps, type, index, &v, &k, error);
	if (err)
		return err;
	p->l4 = (int)p->n - 1;
	val = (void *)v;
	msk = (void *)k;
	val->src_port = s->src_port, msk->src_port = m->src_port;
	val->dst_port = s->dst_port, msk->dst_port = m->dst_port;
	if (!p->inner && !p->tunnel)
		p->outer_l4 = type == IBV_FLOW_SPEC_TCP ? 6 : 17;
	return 0;
}

/* A spec whose filter is the item's bytes, with the item's layout. */
static int add_copy(struct pattern *p, const struct verbs_caps *caps, uint32_t type,
		    const void *spec, const void *mask, size_t size, int index,
		    struct mpf_flow_error *error)
{
	uint8_t *v, *k;
	int err = record_begin(p, caps, type, index, &v, &k, error);

	if (err)
		return err;
	memcpy(v, spec, size);
	memcpy(k, mask, size);
	return 0;
}

/* MPLS over Ethernet (a VLAN tag or not): the ETH spec's type (verbs':
 * the type after any tag) is MPLS unicast unless the rule says MPLS
 * multicast; anything else before MPLS has nothing to pin it to. */
static int pin_eth_mpls(struct pattern *p, int index, struct mpf_flow_error *error)
{
	struct ibv_flow_eth_filter *val, *mask;
	uint8_t *v, *k;
	char why[96];

	if (p->eth < 0 ||
	    (p->last_item != MPF_FLOW_ITEM_TYPE_ETH && p->last_item != MPF_FLOW_ITEM_TYPE_VLAN))
		return item_error(p->items, error, index,
				  "MPLS needs an ETH, VLAN, UDP or GRE item right before it");
	record_filters(&p->rec[p->eth], &v, &k);
	val = (void *)v;
	mask = (void *)k;
	if (mask->ether_type == 0) {
		val->ether_type = htons(0x8847), mask->ether_type = 0xffff;
	} else if (val->ether_type != htons(0x8847) && val->ether_type != htons(0x8848)) {
		snprintf(why, sizeof(why), "the ETH item's type 0x%04x contradicts it",
			 ntohs(val->ether_type));
		return item_error(p->items, error, index, why);
	}
	return 0;
}

/* MPLS in GRE: the GRE spec's protocol is MPLS unicast unless the rule
 * says otherwise (mlx5's choice). */
static int pin_gre_protocol(struct pattern *p, uint16_t protocol)
{
	struct ibv_flow_gre_filter *val, *mask;
	uint8_t *v, *k;

	record_filters(&p->rec[p->n - 1], &v, &k);
	val = (void *)v;
	mask = (void *)k;
	if (mask->protocol == 0)
		val->protocol = htons(protocol), mask->protocol = 0xffff;
	return 0;
}

static int add_tunnel(struct pattern *p, const struct verbs_caps *caps, int type,
		      const uint8_t *spec, const uint8_t *mask, int index,
		      struct mpf_flow_error *error)
{
	int err = 0;

	/* MPLS may ride in GRE; other tunnels do not nest, and the device has
	 * one MPLS label (a second spec would not be the next label). */
	if (type == MPF_FLOW_ITEM_TYPE_MPLS && p->last_item == MPF_FLOW_ITEM_TYPE_MPLS)
		return item_error(p->items, error, index, "the device matches one MPLS label");
	if (p->tunnel &&
	    !(type == MPF_FLOW_ITEM_TYPE_MPLS && p->last_item == MPF_FLOW_ITEM_TYPE_GRE))
		return item_error(p->items, error, index, "verbs matches one tunnel level");
	/* A tunnel header is recognised by what carries it: pin it where the
	 * rule leaves it open, as mlx5 does, or every UDP (IP) packet would
	 * match an unmasked tunnel spec. */
	if (type == MPF_FLOW_ITEM_TYPE_VXLAN)
		err = pin_udp_dst(p, 4789, index, "VXLAN", error);
	else if (type == MPF_FLOW_ITEM_TYPE_GRE && (err = l4_fits(p, index, 47, error)) == 0)
		err = pin_l3_proto(p, caps, 47, index, error);
	else if (type == MPF_FLOW_ITEM_TYPE_MPLS && p->last_item == MPF_FLOW_ITEM_TYPE_UDP)
		err = pin_udp_dst(p, 6635, index, "MPLS in UDP", error);
	else if (type == MPF_FLOW_ITEM_TYPE_MPLS && p->last_item == MPF_FLOW_ITEM_TYPE_GRE)
		err = pin_gre_protocol(p, 0x8847);
	else if (type == MPF_FLOW_ITEM_TYPE_MPLS)
		err = pin_eth_mpls(p, index, error);
	if (err)
		return err;
	p->inner = false; /* the tunnel header itself is not inner */
	switch (type) {
	case MPF_FLOW_ITEM_TYPE_VXLAN: {
		const struct mpf_flow_item_vxlan *s = (const void *)spec, *m = (const void *)mask;
		uint8_t id[4] = {0, s->vni[0], s->vni[1], s->vni[2]};
		uint8_t id_mask[4] = {0, m->vni[0], m->vni[1], m->vni[2]};

		err = add_copy(p, caps, IBV_FLOW_SPEC_VXLAN_TUNNEL, id, id_mask, 4, index, error);
		break;
	}
	case MPF_FLOW_ITEM_TYPE_GRE: {
		const struct mpf_flow_item_gre *s = (const void *)spec, *m = (const void *)mask;
		struct ibv_flow_gre_filter val = {.c_ks_res0_ver = s->c_rsvd0_ver,
						  .protocol = s->protocol};
		struct ibv_flow_gre_filter msk = {.c_ks_res0_ver = m->c_rsvd0_ver,
						  .protocol = m->protocol};

		err = add_copy(p, caps, IBV_FLOW_SPEC_GRE, &val, &msk, sizeof(val), index, error);
		break;
	}
	default: /* MPLS: the whole label entry, as it is on the wire */
		err = add_copy(p, caps, IBV_FLOW_SPEC_MPLS, spec, mask, 4, index, error);
		break;
	}
	p->tunnel = true;
	p->inner = true;
	p->eth = p->l3 = p->l4 = -1;
	return err;
}

static bool is_l4(const struct mpf_flow_item *item)
{
	while (item->type == MPF_FLOW_ITEM_TYPE_VOID)
		item++;
	return item->type == MPF_FLOW_ITEM_TYPE_TCP || item->type == MPF_FLOW_ITEM_TYPE_UDP;
}

static bool is_l3(const struct mpf_flow_item *item)
{
	while (item->type == MPF_FLOW_ITEM_TYPE_VOID)
		item++;
	return item->type == MPF_FLOW_ITEM_TYPE_IPV4 || item->type == MPF_FLOW_ITEM_TYPE_IPV6;
}

/* ANY with num 1 as L2 (first, before an L3 item) or as L3 (after ETH,
 * before TCP or UDP). */
static int add_any(struct pattern *p, const struct verbs_caps *caps,
		   const struct mpf_flow_item *item, const uint8_t *spec, const uint8_t *mask,
		   int index, struct mpf_flow_error *error)
{
	const struct mpf_flow_item_any *s = (const void *)spec, *m = (const void *)mask;
	static const uint8_t zero[sizeof(struct mpf_flow_item_eth)];

	if (s->num != 1 || m->num != 0xffffffff)
		return item_error(p->items, error, index,
				  "verbs emulates ANY only with num 1 (one layer exactly)");
	if (p->n == 0 && p->eth < 0 && is_l3(item + 1))
		return add_eth(p, caps, zero, zero, index, error); /* any L2: Ethernet */
	if (p->eth == (int)p->n - 1 && is_l4(item + 1)) {
		struct record *r;

		if (p->n == VERBS_SPECS_MAX - 4)
			return item_error(p->items, error, index,
					  "more specs than one device flow holds");
		r = &p->rec[p->n++];
		memset(r, 0, sizeof(*r));
		r->item = (int16_t)index;
		r->any_l3 = true;
		r->inner = p->inner;
		p->any_l3 = true;
		return 0;
	}
	return item_error(p->items, error, index,
			  "verbs emulates ANY only as L2 (before IPv4/IPv6) or as L3 (between "
			  "ETH and TCP/UDP)");
}

static int add_vlan(struct pattern *p, const struct verbs_caps *caps, const uint8_t *spec,
		    const uint8_t *mask, int index, struct mpf_flow_error *error)
{
	static const uint8_t zero[sizeof(struct mpf_flow_item_eth)];
	const struct mpf_flow_item_vlan *s = (const void *)spec, *m = (const void *)mask;
	struct ibv_flow_eth_filter *val, *msk;
	struct record *eth;
	const struct verbs_spec_layout *l = verbs_spec_layout(IBV_FLOW_SPEC_ETH);
	int err;

	if (p->vlan)
		return item_error(p->items, error, index, "verbs matches one VLAN tag");
	/* The ETH spec's vlan_tag with a zero mask matches untagged frames
	 * too: a VLAN item must say which TCI bits (mlx5 refuses an empty one). */
	if (m->tci == 0)
		return item_error(p->items, error, index,
				  "an empty VLAN item would match untagged frames too on verbs "
				  "(give the tci, e.g. vlan vid is N)");
	if (p->eth < 0) {
		err = add_eth(p, caps, zero, zero, index, error);
		if (err)
			return err;
	}
	eth = &p->rec[p->eth];
	val = (void *)(eth->bytes + l->val);
	msk = (void *)(eth->bytes + l->mask);
	/* In a tagged frame the ETH item's type is the TPID; verbs' ether_type
	 * is the type after the tag. */
	if (msk->ether_type)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, eth->item,
				      "item %d (eth): with a VLAN item, verbs matches the type "
				      "after the tag, not the TPID",
				      eth->item);
	val->vlan_tag = s->tci;
	msk->vlan_tag = m->tci;
	p->vlan = true;
	return 0;
}

/* The layer of a header item, for specificity (mlx5's order: the layer of
 * the last header, inner ones included; a tunnel rides in an L4). */
static uint8_t item_depth(enum mpf_flow_item_type type)
{
	switch (type) {
	case MPF_FLOW_ITEM_TYPE_ETH:
	case MPF_FLOW_ITEM_TYPE_VLAN:
		return 2;
	case MPF_FLOW_ITEM_TYPE_IPV4:
	case MPF_FLOW_ITEM_TYPE_IPV6:
	case MPF_FLOW_ITEM_TYPE_ANY: /* an IPv4 and an IPv6 flow */
		return 3;
	default: /* TCP, UDP, ESP, the tunnels */
		return 4;
	}
}

static int add_item(struct pattern *p, const struct verbs_caps *caps, uint16_t port,
		    const struct mpf_flow_item *item, const struct rule_item_view *view, int index,
		    struct mpf_flow_error *error)
{
	const struct rule_item_desc *desc = rule_item_desc((int)item->type);
	_Alignas(8) uint8_t spec[64], mask[64];
	const void *carried = NULL;
	int err;

	switch (item->type) {
	case MPF_FLOW_ITEM_TYPE_VOID:
	case MPF_FLOW_ITEM_TYPE_PF: /* the device's QPs are the PF's */
		return 0;
	case MPF_FLOW_ITEM_TYPE_PORT:
		carried = &carried_port;
		break;
	case MPF_FLOW_ITEM_TYPE_ANY:
		carried = &carried_any;
		break;
	case MPF_FLOW_ITEM_TYPE_ETH:
		carried = &carried_eth;
		break;
	case MPF_FLOW_ITEM_TYPE_VLAN:
		carried = &carried_vlan;
		break;
	case MPF_FLOW_ITEM_TYPE_IPV4:
		carried = &carried_ipv4;
		break;
	case MPF_FLOW_ITEM_TYPE_IPV6:
		carried = &carried_ipv6;
		break;
	case MPF_FLOW_ITEM_TYPE_TCP:
		carried = &carried_tcp;
		break;
	case MPF_FLOW_ITEM_TYPE_UDP:
		carried = &carried_udp;
		break;
	case MPF_FLOW_ITEM_TYPE_VXLAN:
		carried = &carried_vxlan;
		break;
	case MPF_FLOW_ITEM_TYPE_GRE:
		carried = &carried_gre;
		break;
	case MPF_FLOW_ITEM_TYPE_MPLS:
		carried = &carried_mpls;
		break;
	case MPF_FLOW_ITEM_TYPE_ESP:
		carried = &carried_esp;
		break;
	default:
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, index,
				      "item %d (%s): not supported by the verbs backend", index,
				      desc ? desc->name : "?");
	}
	item_values(item, view, desc->size, spec, mask);
	err = check_item(item, view, index, mask, carried, error);
	if (err)
		return err;
	switch (item->type) {
	case MPF_FLOW_ITEM_TYPE_PORT:
		if (((const struct mpf_flow_item_port *)(const void *)mask)->index &&
		    ((const struct mpf_flow_item_port *)(const void *)spec)->index != port)
			return item_error(p->items, error, index,
					  "a verbs rule matches only its own port's traffic");
		return 0;
	case MPF_FLOW_ITEM_TYPE_ANY:
		err = add_any(p, caps, item, spec, mask, index, error);
		break;
	case MPF_FLOW_ITEM_TYPE_ETH:
		err = add_eth(p, caps, spec, mask, index, error);
		break;
	case MPF_FLOW_ITEM_TYPE_VLAN:
		err = add_vlan(p, caps, spec, mask, index, error);
		break;
	case MPF_FLOW_ITEM_TYPE_IPV4:
		err = add_ipv4(p, caps, spec, mask, index, error);
		break;
	case MPF_FLOW_ITEM_TYPE_IPV6:
		err = add_ipv6(p, caps, spec, mask, index, error);
		break;
	case MPF_FLOW_ITEM_TYPE_TCP:
		err = add_l4(p, caps, IBV_FLOW_SPEC_TCP, spec, mask, index, error);
		break;
	case MPF_FLOW_ITEM_TYPE_UDP:
		err = add_l4(p, caps, IBV_FLOW_SPEC_UDP, spec, mask, index, error);
		break;
	case MPF_FLOW_ITEM_TYPE_ESP:
		err = add_copy(p, caps, IBV_FLOW_SPEC_ESP, spec, mask,
			       sizeof(struct mpf_flow_item_esp), index, error);
		if (!err && !p->inner && !p->tunnel && !p->outer_l4)
			p->outer_l4 = 1;
		break;
	default:
		err = add_tunnel(p, caps, (int)item->type, spec, mask, index, error);
		break;
	}
	p->last_item = (int)item->type;
	p->depth = item_depth(item->type);
	return err;
}

/* A device that takes only all-zero or all-one masks per field. */
static int check_full_masks(const struct pattern *p, struct mpf_flow_error *error)
{
	for (unsigned i = 0; i < p->n; i++) {
		const struct record *r = &p->rec[i];
		uint32_t type;
		const struct verbs_spec_layout *l;

		if (r->any_l3)
			continue;
		memcpy(&type, r->bytes, sizeof(type));
		l = verbs_spec_layout(type);
		for (unsigned f = 0; f < l->n_fields; f++) {
			const uint8_t *m = r->bytes + l->mask + l->fields[f].offset;
			bool zero = true, ones = true;

			for (unsigned b = 0; b < l->fields[f].size; b++) {
				zero = zero && m[b] == 0;
				ones = ones && m[b] == 0xff;
			}
			if (!zero && !ones)
				return flow_error_set(
					error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, r->item,
					"item %d: the device takes no partial mask (%s field %s)",
					r->item, l->name, l->fields[f].name);
		}
	}
	return 0;
}

/* --- actions --- */

struct actions {
	const struct verbs_caps *caps;
	struct verbs_target target;
	bool drop_spec; /* IBV_FLOW_SPEC_ACTION_DROP */
	bool tag;
	uint32_t tag_id;
	bool count;
	bool dont_trap;
	bool rss; /* hash over several queues: the RSS expansion applies */
	uint64_t rss_types;
	int dup; /* DUP's queue, -1 */
	const char *emulation;
};

/* The RSS types verbs can hash on: IP addresses and TCP/UDP ports. */
#define RSS_V4 (MPF_RSS_IPV4 | MPF_RSS_FRAG_IPV4 | MPF_RSS_NONFRAG_IPV4_OTHER)
#define RSS_V6 (MPF_RSS_IPV6 | MPF_RSS_FRAG_IPV6 | MPF_RSS_NONFRAG_IPV6_OTHER)
#define RSS_OK                                                                                     \
	(RSS_V4 | RSS_V6 | MPF_RSS_NONFRAG_IPV4_TCP | MPF_RSS_NONFRAG_IPV4_UDP |                   \
	 MPF_RSS_NONFRAG_IPV6_TCP | MPF_RSS_NONFRAG_IPV6_UDP)
#define RSS_DEFAULT                                                                                \
	(MPF_RSS_IPV4 | MPF_RSS_IPV6 | MPF_RSS_NONFRAG_IPV4_TCP | MPF_RSS_NONFRAG_IPV4_UDP |       \
	 MPF_RSS_NONFRAG_IPV6_TCP | MPF_RSS_NONFRAG_IPV6_UDP)

static int check_rss(const struct verbs_caps *caps, const struct mpf_flow_action_rss *rss,
		     int index, struct mpf_flow_error *error)
{
	uint64_t refused = rss->types & ~(uint64_t)RSS_OK;

	for (uint32_t q = 0; q < rss->queue_num; q++) {
		int err = hwdrv_check_queue(rss->queue[q], caps->queues, index, "rss", error);

		if (err)
			return err;
	}
	if (rss->queue_num == 1)
		return 0; /* QUEUE: nothing is hashed */
	if (refused)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, index,
				      "action %d (rss): verbs cannot hash on type %s", index,
				      rule_rss_type_name((unsigned)__builtin_ctzll(refused)));
	if (rss->key_len && rss->key_len != VERBS_RSS_KEY_LENGTH)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, index,
				      "action %d (rss): the device takes a %u-byte key, not %u",
				      index, VERBS_RSS_KEY_LENGTH, rss->key_len);
	return 0;
}

static int need(bool have, struct mpf_flow_error *error, int index, const char *what)
{
	if (have)
		return 0;
	return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, index,
			      "action %d: the device has no %s", index, what);
}

static int add_actions(struct actions *a, const struct hwdrv_rule *rule,
		       struct mpf_flow_error *error)
{
	const struct verbs_caps *caps = a->caps;
	const struct rule_actions *r = &rule->shape->actions;
	int err = 0;

	/* Every action is checked, though only the last of a type counts. */
	for (int i = 0; rule->actions[i].type != MPF_FLOW_ACTION_TYPE_END && !err; i++) {
		const struct mpf_flow_action *act = &rule->actions[i];
		const char *name = mpf_flow_action_name(act->type);

		switch (act->type) {
		case MPF_FLOW_ACTION_TYPE_QUEUE:
			err = hwdrv_check_queue(
				((const struct mpf_flow_action_queue *)act->conf)->index,
				caps->queues, i, name, error);
			break;
		case MPF_FLOW_ACTION_TYPE_DUP:
			err = hwdrv_check_queue(
				((const struct mpf_flow_action_dup *)act->conf)->index,
				caps->queues, i, name, error);
			if (!err)
				err = need(caps->dont_trap, error, i,
					   "DONT_TRAP flag (DUP needs a pass-through copy)");
			break;
		case MPF_FLOW_ACTION_TYPE_RSS:
			err = check_rss(caps, act->conf, i, error);
			break;
		case MPF_FLOW_ACTION_TYPE_MARK:
			if (((const struct mpf_flow_action_mark *)act->conf)->id > caps->tag_max)
				err = flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, i,
						     "action %d (mark): the device tags up to %u",
						     i, caps->tag_max);
			else
				err = need(caps->specs & VERBS_CAP(VERBS_SPEC_TAG), error, i,
					   "tag action");
			break;
		case MPF_FLOW_ACTION_TYPE_FLAG:
			err = need(caps->specs & VERBS_CAP(VERBS_SPEC_TAG), error, i, "tag action");
			break;
		case MPF_FLOW_ACTION_TYPE_COUNT:
			err = need(caps->specs & VERBS_CAP(VERBS_SPEC_COUNT), error, i, "counters");
			break;
		case MPF_FLOW_ACTION_TYPE_PASSTHRU:
			err = need(caps->dont_trap, error, i, "DONT_TRAP flag");
			break;
		case MPF_FLOW_ACTION_TYPE_VF:
		case MPF_FLOW_ACTION_TYPE_METER:
		case MPF_FLOW_ACTION_TYPE_SECURITY:
			err = flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, i,
					     "action %d (%s): not supported by the verbs backend",
					     i, name);
			break;
		default:
			break;
		}
	}
	if (err)
		return err;

	a->dup = -1;
	a->target.sink = true;
	switch (r->fate) {
	case MPF_FLOW_ACTION_TYPE_QUEUE:
		a->target =
			(struct verbs_target){.queue = ((const struct mpf_flow_action_queue *)rule
								->actions[r->last[r->fate]]
								.conf)
							       ->index,
					      .n_queues = 1};
		break;
	case MPF_FLOW_ACTION_TYPE_PF:
		a->target = (struct verbs_target){.queue = 0, .n_queues = 1};
		a->emulation = "PF as queue 0";
		break;
	case MPF_FLOW_ACTION_TYPE_RSS: {
		const struct mpf_flow_action_rss *rss = rule->actions[r->last[r->fate]].conf;

		if (rss->queue_num == 1) {
			a->target = (struct verbs_target){.queue = rss->queue[0], .n_queues = 1};
			a->emulation = "RSS with one queue as QUEUE";
			break;
		}
		a->target = (struct verbs_target){
			.n_queues = rss->queue_num,
			.queues = rss->queue,
			.key = rss->key_len ? rss->key : default_rss_key,
		};
		a->rss = true;
		a->rss_types = rss->types ? rss->types : RSS_DEFAULT;
		break;
	}
	case MPF_FLOW_ACTION_TYPE_DROP:
		a->drop_spec = caps->specs & VERBS_CAP(VERBS_SPEC_DROP);
		if (!a->drop_spec)
			a->emulation = "DROP as the sink queue";
		break;
	default: /* no fate: the packet goes on */
		break;
	}
	if (!r->terminating) {
		if (!caps->dont_trap)
			return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION_NUM, -1,
					      "a rule that lets packets go on needs the DONT_TRAP "
					      "flag, which the device lacks");
		a->dont_trap = true;
	}
	if (r->last[MPF_FLOW_ACTION_TYPE_MARK] >= 0) {
		a->tag = true;
		/* id + 1: a completion's tag 0 means no tag, so MARK 0 must
		 * not be 0 on the device (mlx5 does the same). */
		a->tag_id = ((const struct mpf_flow_action_mark *)rule
				     ->actions[r->last[MPF_FLOW_ACTION_TYPE_MARK]]
				     .conf)
				    ->id +
			    1;
	} else if (r->last[MPF_FLOW_ACTION_TYPE_FLAG] >= 0) {
		a->tag = true;
		a->tag_id = VERBS_TAG_FLAG;
	}
	a->count = r->last[MPF_FLOW_ACTION_TYPE_COUNT] >= 0;
	if (r->last[MPF_FLOW_ACTION_TYPE_DUP] >= 0) {
		a->dup = ((const struct mpf_flow_action_dup *)rule
				  ->actions[r->last[MPF_FLOW_ACTION_TYPE_DUP]]
				  .conf)
				 ->index;
		a->emulation = "DUP as a pass-through copy and the rule";
	}
	return 0;
}

/* --- flows --- */

static void put(struct verbs_flow *f, const void *spec, uint16_t size, int item)
{
	struct ibv_flow_attr *attr = verbs_flow_attr(f);

	f->spec_offset[f->n_specs] = f->length;
	f->spec_item[f->n_specs] = (int16_t)item;
	f->n_specs++;
	memcpy(f->bytes + f->length, spec, size);
	f->length = (uint16_t)(f->length + size);
	attr->num_of_specs++;
	attr->size = f->length;
}

/* A zero-mask IPv4 or IPv6 spec (an L3 the variant chooses), or a TCP/UDP one. */
static void put_protocol(struct verbs_flow *f, uint32_t type, bool inner, int item)
{
	const struct verbs_spec_layout *l = verbs_spec_layout(type);
	_Alignas(8) uint8_t bytes[sizeof(struct ibv_flow_spec)] = {0};
	uint16_t size = l->size;

	if (inner)
		type |= IBV_FLOW_SPEC_INNER;
	memcpy(bytes, &type, sizeof(type));
	memcpy(bytes + sizeof(type), &size, sizeof(size));
	put(f, bytes, size, item);
}

/* One variant of the rule. */
struct variant {
	uint8_t l3;    /* 0, 4, 6: ANY's choice, or the RSS expansion's */
	uint8_t l4;    /* 0, 6, 17: the RSS expansion's */
	bool dup_copy; /* the DUP's pass-through copy */
	bool egress;
	uint8_t sub; /* sub-level of the rule's priority */
	char name[40];
};

static uint64_t hash_fields(uint64_t types, uint8_t l3, uint8_t l4)
{
	uint64_t fields = 0;
	bool v4 = l3 == 4, v6 = l3 == 6;
	uint64_t tcp = v4 ? MPF_RSS_NONFRAG_IPV4_TCP : MPF_RSS_NONFRAG_IPV6_TCP;
	uint64_t udp = v4 ? MPF_RSS_NONFRAG_IPV4_UDP : MPF_RSS_NONFRAG_IPV6_UDP;
	uint64_t ip = v4 ? RSS_V4 : RSS_V6;
	bool ports = (l4 == 6 && (types & tcp)) || (l4 == 17 && (types & udp));

	if (!v4 && !v6)
		return 0;
	if (ports || (types & ip))
		fields |= v4 ? IBV_RX_HASH_SRC_IPV4 | IBV_RX_HASH_DST_IPV4
			     : IBV_RX_HASH_SRC_IPV6 | IBV_RX_HASH_DST_IPV6;
	if (ports)
		fields |= l4 == 6 ? IBV_RX_HASH_SRC_PORT_TCP | IBV_RX_HASH_DST_PORT_TCP
				  : IBV_RX_HASH_SRC_PORT_UDP | IBV_RX_HASH_DST_PORT_UDP;
	return fields;
}

static void build(struct verbs_flow *f, const struct verbs_caps *caps,
		  const struct hwdrv_rule *rule, const struct pattern *p, const struct actions *a,
		  const struct variant *v)
{
	const struct mpf_flow_attr *ra = rule->attr;
	uint32_t rank = ra->group * verbs_priorities_per_group(caps) + ra->priority;
	struct ibv_flow_attr *attr;

	memset(f, 0, offsetof(struct verbs_flow, bytes));
	f->count_offset = -1;
	memcpy(f->variant, v->name, sizeof(f->variant));
	f->length = sizeof(struct ibv_flow_attr);
	memset(f->bytes, 0, sizeof(struct ibv_flow_attr));
	attr = verbs_flow_attr(f);
	attr->type = IBV_FLOW_ATTR_NORMAL;
	attr->size = f->length;
	attr->port = caps->port;

	for (unsigned i = 0; i < p->n; i++) {
		const struct record *r = &p->rec[i];

		if (r->any_l3)
			put_protocol(f, v->l3 == 4 ? IBV_FLOW_SPEC_IPV4 : IBV_FLOW_SPEC_IPV6,
				     r->inner, r->item);
		else
			put(f, r->bytes, r->size, r->item);
	}
	/* The RSS expansion's protocols go after the pattern (no tunnel). */
	if (!p->any_l3 && v->l3 && !p->outer_l3) {
		put_protocol(f, v->l3 == 4 ? IBV_FLOW_SPEC_IPV4 : IBV_FLOW_SPEC_IPV6, false, -1);
	}
	if (v->l4 && !p->outer_l4) {
		put_protocol(f, v->l4 == 6 ? IBV_FLOW_SPEC_TCP : IBV_FLOW_SPEC_UDP, false, -1);
	}

	if (v->egress) {
		attr->flags |= IBV_FLOW_ATTR_FLAGS_EGRESS;
		f->target = (struct verbs_target){.sink = true};
	} else if (v->dup_copy) {
		f->target = (struct verbs_target){.queue = (uint16_t)a->dup, .n_queues = 1};
	} else {
		f->target = a->target;
		if (a->rss)
			f->target.hash_fields =
				hash_fields(a->rss_types, v->l3 ? v->l3 : p->outer_l3,
					    v->l4 ? v->l4 : p->outer_l4);
	}
	if (a->dont_trap || v->dup_copy)
		attr->flags |= IBV_FLOW_ATTR_FLAGS_DONT_TRAP;
	attr->priority = (uint16_t)(rank * VERBS_SUBLEVELS + v->sub);

	/* Action specs are zeroed before their fields are set: their padding
	 * goes to the device too, and an initializer leaves it unspecified. */
	if (a->tag && !v->egress) {
		struct ibv_flow_spec_action_tag tag;

		memset(&tag, 0, sizeof(tag));
		tag.type = IBV_FLOW_SPEC_ACTION_TAG;
		tag.size = sizeof(tag);
		tag.tag_id = a->tag_id;
		put(f, &tag, sizeof(tag), -1);
	}
	if (a->drop_spec && !v->dup_copy) {
		struct ibv_flow_spec_action_drop drop;

		memset(&drop, 0, sizeof(drop));
		drop.type = IBV_FLOW_SPEC_ACTION_DROP;
		drop.size = sizeof(drop);
		put(f, &drop, sizeof(drop), -1);
	}
	/* The DUP copy sees the packets the rule does: count them once. */
	if (a->count && !v->dup_copy) {
		struct ibv_flow_spec_counter_action count;

		memset(&count, 0, sizeof(count));
		count.type = IBV_FLOW_SPEC_ACTION_COUNT;
		count.size = sizeof(count);
		f->count_offset = f->length;
		put(f, &count, sizeof(count), -1);
	}
}

/*
 * The variants of a rule: direction x L3 x L4, and the DUP copies. The
 * sub-levels order overlapping flows: DUP copies first (they let packets
 * go on), then by specificity (L4, then L3, then the rest). At most
 * 2 copies + 7 expanded flows + 2 egress flows: within VERBS_FLOWS_MAX.
 */
static unsigned variants(const struct hwdrv_rule *rule, const struct pattern *p,
			 const struct actions *a, struct variant *out)
{
	static const char *const l3_names[] = {[0] = "", [4] = "IPv4", [6] = "IPv6"};
	bool expand_l3 = a->rss && !p->tunnel && !p->any_l3 && !p->outer_l3;
	bool expand_l4 = a->rss && !p->tunnel && !p->outer_l4;
	unsigned n = 0;

	for (int egress = 0; egress < 2; egress++) {
		uint8_t l3s[3], l4s[3];
		unsigned n_l3 = 0;

		if (!(egress ? rule->attr->egress : rule->attr->ingress))
			continue;
		if (p->any_l3) {
			l3s[n_l3++] = 4;
			l3s[n_l3++] = 6;
		} else {
			l3s[n_l3++] = 0;
		}
		if (!egress && a->dup >= 0)
			for (unsigned i = 0; i < n_l3; i++)
				out[n++] = (struct variant){
					.l3 = l3s[i], .dup_copy = true, .name = "DUP copy"};
		if (!egress && expand_l3) {
			n_l3 = 0;
			if (a->rss_types &
			    (RSS_V4 | MPF_RSS_NONFRAG_IPV4_TCP | MPF_RSS_NONFRAG_IPV4_UDP))
				l3s[n_l3++] = 4;
			if (a->rss_types &
			    (RSS_V6 | MPF_RSS_NONFRAG_IPV6_TCP | MPF_RSS_NONFRAG_IPV6_UDP))
				l3s[n_l3++] = 6;
			l3s[n_l3++] = 0; /* the rest, unhashed */
		}
		for (unsigned i = 0; i < n_l3; i++) {
			uint8_t l3 = l3s[i] ? l3s[i] : p->outer_l3;
			unsigned n_l4 = 0;

			if (!egress && expand_l4 && l3) {
				if (a->rss_types &
				    (l3 == 4 ? MPF_RSS_NONFRAG_IPV4_TCP : MPF_RSS_NONFRAG_IPV6_TCP))
					l4s[n_l4++] = 6;
				if (a->rss_types &
				    (l3 == 4 ? MPF_RSS_NONFRAG_IPV4_UDP : MPF_RSS_NONFRAG_IPV6_UDP))
					l4s[n_l4++] = 17;
			}
			l4s[n_l4++] = 0;
			for (unsigned j = 0; j < n_l4; j++) {
				struct variant v = {.l3 = l3s[i], .l4 = l4s[j], .egress = egress};
				bool expanded = !egress && (expand_l3 || n_l4 > 1);

				/* Specificity, as mlx5 orders it within a priority:
				 * by the layer of the flow's last header (an L4 or
				 * a tunnel first, then L3, then L2), after the DUP
				 * copies on sub-level 0. It orders one rule's
				 * expansions and overlapping rules alike, whether
				 * or not they copy. */
				uint8_t depth = v.l4 ? 4 : v.l3 && p->depth < 3 ? 3 : p->depth;

				v.sub = (uint8_t)(1 + (4 - (depth < 2 ? 2 : depth)));
				snprintf(v.name, sizeof(v.name), "%s%s%s%s",
					 egress ? "egress " : "", l3_names[v.l3],
					 v.l4 == 6    ? "/TCP"
					 : v.l4 == 17 ? "/UDP"
						      : "",
					 expanded && !l3 ? "other" : "");
				out[n++] = v;
			}
		}
	}
	return n;
}

int verbs_translate(const struct verbs_caps *caps, const struct hwdrv_rule *rule,
		    struct verbs_translation *out, struct mpf_flow_error *error)
{
	const struct mpf_flow_attr *attr = rule->attr;
	uint32_t per_group = verbs_priorities_per_group(caps);
	struct pattern p; /* about 2.5 KiB, on the stack: translation keeps no state */
	struct actions a = {.caps = caps};
	struct variant v[VERBS_FLOWS_MAX];
	unsigned n;
	int err;

	if (attr->group >= caps->groups)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ATTR_GROUP, -1,
				      "group %u: the device's %u priority levels hold %u group(s) "
				      "(mpflowd --groups)",
				      attr->group, caps->levels, caps->groups);
	if (attr->priority >= per_group)
		return flow_error_set(
			error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ATTR_PRIORITY, -1,
			"priority %u: the device's %u levels give each of %u group(s) "
			"priorities 0 to %u",
			attr->priority, caps->levels, caps->groups, per_group - 1);
	if (attr->egress && !caps->egress)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ATTR_EGRESS, -1,
				      "the device has no egress flows");

	memset(&p, 0, offsetof(struct pattern, rec)); /* records are written as used */
	p.items = rule->pattern;
	p.eth = p.l3 = p.l4 = -1;
	p.last_item = -1;
	for (int i = 0; i < (int)rule->shape->items; i++) {
		err = add_item(&p, caps, rule->port, &rule->pattern[i], &rule->shape->item[i], i,
			       error);
		if (err)
			return err;
	}
	if (!caps->partial_masks && (err = check_full_masks(&p, error)) != 0)
		return err;
	err = add_actions(&a, rule, error);
	if (err)
		return err;

	n = variants(rule, &p, &a, v);
	out->n_flows = n;
	out->emulation = p.any_l3 ? "ANY as L3: an IPv4 and an IPv6 flow" : a.emulation;
	if (a.rss && n > 1 + (attr->egress ? 1u : 0u) && !p.any_l3)
		out->emulation = "RSS as one flow per hashed protocol";
	if (attr->ingress && attr->egress && !out->emulation)
		out->emulation = "ingress and egress as one flow each";
	for (unsigned i = 0; i < n; i++) {
		build(&out->flows[i], caps, rule, &p, &a, &v[i]);
		/* QUEUE's one queue lives in the flow: point at it there. */
		if (out->flows[i].target.n_queues == 1 && out->flows[i].target.queues == NULL)
			out->flows[i].target.queues = &out->flows[i].target.queue;
	}
	return 0;
}
