/* SPDX-License-Identifier: BSD-3-Clause */
/* The fake NIC's parser, matcher and RSS hash: see nic_model.h. */
#include <arpa/inet.h>
#include <string.h>

#include "tests/verbs/nic_model.h"

#define ETH_P_IPV4   0x0800
#define ETH_P_IPV6   0x86dd
#define ETH_P_VLAN   0x8100
#define ETH_P_QINQ   0x88a8
#define ETH_P_MPLS   0x8847
#define ETH_P_MPLS_M 0x8848
#define ETH_P_TEB    0x6558 /* GRE carrying Ethernet */
#define UDP_VXLAN    4789
#define UDP_MPLS     6635

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The header stack a frame, or a tunnel's payload, starts with. */
enum start { START_ETH, START_IPV4, START_IPV6 };

struct cursor {
	const uint8_t *p;
	size_t left;
};

static bool take(struct cursor *c, size_t n, const uint8_t **at)
{
	if (c->left < n)
		return false;
	*at = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

static void parse_stack(struct nic_frame *f, struct nic_layers *l, struct cursor c,
			enum start start, bool outer);

/* After MPLS labels: the payload's first nibble says its IP version. */
static void parse_mpls(struct nic_frame *f, struct cursor c, bool outer)
{
	const uint8_t *h;

	f->tunnel = NIC_TUNNEL_MPLS;
	for (bool first = true; take(&c, 4, &h); first = false) {
		if (first) {
			f->mpls = true;
			memcpy(&f->mpls_label, h, 4);
		}
		if (h[2] & 1) /* bottom of stack */
			break;
	}
	if (!outer || c.left == 0)
		return;
	f->has_inner = true;
	if (c.p[0] >> 4 == 4)
		parse_stack(f, &f->inner, c, START_IPV4, false);
	else if (c.p[0] >> 4 == 6)
		parse_stack(f, &f->inner, c, START_IPV6, false);
}

static void parse_gre(struct nic_frame *f, struct cursor c)
{
	const uint8_t *h, *word;
	uint16_t flags;

	if (!take(&c, 4, &h))
		return;
	flags = get16(h);
	f->tunnel = NIC_TUNNEL_GRE;
	f->gre_flags = htons(flags);
	f->gre_protocol = htons(get16(h + 2));
	if ((flags & 0x8000) && !take(&c, 4, &word)) /* checksum */
		return;
	if (flags & 0x2000) {
		if (!take(&c, 4, &word))
			return;
		memcpy(&f->gre_key, word, 4);
	}
	if ((flags & 0x1000) && !take(&c, 4, &word)) /* sequence */
		return;
	switch (get16(h + 2)) {
	case ETH_P_TEB:
		f->has_inner = true;
		parse_stack(f, &f->inner, c, START_ETH, false);
		break;
	case ETH_P_IPV4:
		f->has_inner = true;
		parse_stack(f, &f->inner, c, START_IPV4, false);
		break;
	case ETH_P_IPV6:
		f->has_inner = true;
		parse_stack(f, &f->inner, c, START_IPV6, false);
		break;
	case ETH_P_MPLS:
		parse_mpls(f, c, true);
		break;
	default:
		break;
	}
}

static void parse_l4(struct nic_frame *f, struct nic_layers *l, struct cursor c, bool outer)
{
	const uint8_t *h;

	switch (l->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (!take(&c, l->proto == IPPROTO_TCP ? 20 : 8, &h))
			return;
		l->l4 = l->proto;
		memcpy(&l->sport, h, 2);
		memcpy(&l->dport, h + 2, 2);
		if (!outer || l->proto != IPPROTO_UDP)
			return;
		if (get16(h + 2) == UDP_VXLAN) {
			if (!take(&c, 8, &h))
				return;
			f->tunnel = NIC_TUNNEL_VXLAN;
			f->vni = 0;
			memcpy((uint8_t *)&f->vni + 1, h + 4, 3);
			f->has_inner = true;
			parse_stack(f, &f->inner, c, START_ETH, false);
		} else if (get16(h + 2) == UDP_MPLS) {
			parse_mpls(f, c, true);
		}
		return;
	case IPPROTO_GRE:
		if (outer)
			parse_gre(f, c);
		return;
	case IPPROTO_ESP:
		if (!outer || !take(&c, 8, &h))
			return;
		f->esp = true;
		memcpy(&f->esp_spi, h, 4);
		memcpy(&f->esp_seq, h + 4, 4);
		return;
	default:
		return;
	}
}

static void parse_ipv4(struct nic_frame *f, struct nic_layers *l, struct cursor c, bool outer)
{
	const uint8_t *h, *options;
	unsigned ihl;

	if (!take(&c, 20, &h) || h[0] >> 4 != 4 || (ihl = (h[0] & 15u) * 4u) < 20 ||
	    !take(&c, ihl - 20, &options))
		return;
	l->l3 = 4;
	memset(l->src, 0, sizeof(l->src));
	memset(l->dst, 0, sizeof(l->dst));
	memcpy(l->src, h + 12, 4);
	memcpy(l->dst, h + 16, 4);
	l->tos = h[1];
	l->ttl = h[8];
	l->ipv4_flags = h[6] >> 5;
	l->proto = h[9];
	if (get16(h + 6) & 0x1fff) /* a later fragment: no L4 header */
		return;
	parse_l4(f, l, c, outer);
}

static bool ipv6_extension(uint8_t next)
{
	return next == 0 || next == 43 || next == 44 || next == 60;
}

static void parse_ipv6(struct nic_frame *f, struct nic_layers *l, struct cursor c, bool outer)
{
	const uint8_t *h, *ext;
	uint8_t next;

	if (!take(&c, 40, &h) || h[0] >> 4 != 6)
		return;
	l->l3 = 6;
	memcpy(l->src, h + 8, 16);
	memcpy(l->dst, h + 24, 16);
	l->tos = (uint8_t)((h[0] & 15u) << 4 | h[1] >> 4); /* traffic class */
	l->flow_label = htonl((uint32_t)(h[1] & 15u) << 16 | (uint32_t)h[2] << 8 | h[3]);
	l->ttl = h[7]; /* hop limit */
	next = h[6];
	for (unsigned n = 0; ipv6_extension(next) && n < 8; n++) {
		const uint8_t *rest;
		bool fragment = next == 44;

		if (!take(&c, 8, &ext))
			return;
		if (!fragment && !take(&c, (size_t)ext[1] * 8u, &rest))
			return;
		next = ext[0];
		if (fragment && (get16(ext + 2) & 0xfff8)) {
			l->proto = next; /* a later fragment: no L4 header */
			return;
		}
	}
	l->proto = next;
	parse_l4(f, l, c, outer);
}

static void parse_stack(struct nic_frame *f, struct nic_layers *l, struct cursor c,
			enum start start, bool outer)
{
	const uint8_t *h;
	uint16_t type;

	if (start == START_IPV4) {
		parse_ipv4(f, l, c, outer);
		return;
	}
	if (start == START_IPV6) {
		parse_ipv6(f, l, c, outer);
		return;
	}
	if (!take(&c, 14, &h))
		return;
	l->eth = true;
	memcpy(l->dmac, h, 6);
	memcpy(l->smac, h + 6, 6);
	type = get16(h + 12);
	/* A customer tag (0x8100) first is what ETH's vlan_tag matches
	 * (mlx5: cvlan_tag); a frame whose outer tag is a service tag
	 * (0x88a8) is not "tagged" for it. */
	l->tagged = type == ETH_P_VLAN;
	for (unsigned tags = 0; (type == ETH_P_VLAN || type == ETH_P_QINQ) && tags < 2; tags++) {
		if (!take(&c, 4, &h))
			return;
		if (tags == 0 && l->tagged)
			memcpy(&l->tci, h, 2);
		type = get16(h + 2);
	}
	l->ether_type = htons(type);
	if (type == ETH_P_IPV4)
		parse_ipv4(f, l, c, outer);
	else if (type == ETH_P_IPV6)
		parse_ipv6(f, l, c, outer);
	else if ((type == ETH_P_MPLS || type == ETH_P_MPLS_M) && outer)
		parse_mpls(f, c, true);
}

void nic_parse(const uint8_t *data, size_t length, struct nic_frame *f)
{
	memset(f, 0, sizeof(*f));
	parse_stack(f, &f->outer, (struct cursor){data, length}, START_ETH, true);
	f->multicast = f->outer.eth && (f->outer.dmac[0] & 1);
}

/* (value & mask) == (want & mask) over n bytes. */
static bool masked_equal(const void *value, const void *want, const void *mask, size_t n)
{
	const uint8_t *v = value, *w = want, *m = mask;

	for (size_t i = 0; i < n; i++)
		if ((v[i] & m[i]) != (w[i] & m[i]))
			return false;
	return true;
}

static bool zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

#define FIELD(val, msk, field, have)                                                               \
	masked_equal(&(have), &(val)->field, &(msk)->field, sizeof((val)->field))

static bool match_eth(const struct ibv_flow_spec_eth *s, const struct nic_layers *l)
{
	if (zero(&s->mask, sizeof(s->mask)))
		return true;
	if (!l->eth || (s->mask.vlan_tag && !l->tagged))
		return false;
	return FIELD(&s->val, &s->mask, dst_mac, l->dmac) &&
	       FIELD(&s->val, &s->mask, src_mac, l->smac) &&
	       FIELD(&s->val, &s->mask, ether_type, l->ether_type) &&
	       FIELD(&s->val, &s->mask, vlan_tag, l->tci);
}

static bool match_ipv4(const struct ibv_flow_ipv4_ext_filter *val,
		       const struct ibv_flow_ipv4_ext_filter *msk, bool ext,
		       const struct nic_layers *l)
{
	if (l->l3 != 4)
		return false;
	if (!FIELD(val, msk, src_ip, l->src) || !FIELD(val, msk, dst_ip, l->dst))
		return false;
	return !ext || (FIELD(val, msk, proto, l->proto) && FIELD(val, msk, tos, l->tos) &&
			FIELD(val, msk, ttl, l->ttl) && FIELD(val, msk, flags, l->ipv4_flags));
}

static bool match_ipv6(const struct ibv_flow_spec_ipv6 *s, const struct nic_layers *l)
{
	const struct ibv_flow_ipv6_filter *v = &s->val, *m = &s->mask;

	return l->l3 == 6 && FIELD(v, m, src_ip, l->src) && FIELD(v, m, dst_ip, l->dst) &&
	       FIELD(v, m, flow_label, l->flow_label) && FIELD(v, m, next_hdr, l->proto) &&
	       FIELD(v, m, traffic_class, l->tos) && FIELD(v, m, hop_limit, l->ttl);
}

static bool match_l4(const struct ibv_flow_spec_tcp_udp *s, uint8_t proto,
		     const struct nic_layers *l)
{
	return l->l4 == proto && FIELD(&s->val, &s->mask, src_port, l->sport) &&
	       FIELD(&s->val, &s->mask, dst_port, l->dport);
}

/* One matching spec against its layer. */
static bool match_spec(const uint8_t *spec, uint32_t type, const struct nic_frame *f)
{
	const struct nic_layers *l = (type & IBV_FLOW_SPEC_INNER) ? &f->inner : &f->outer;

	switch (type & ~(uint32_t)IBV_FLOW_SPEC_INNER) {
	case IBV_FLOW_SPEC_ETH:
		return match_eth((const void *)spec, l);
	case IBV_FLOW_SPEC_IPV4: {
		const struct ibv_flow_spec_ipv4 *s = (const void *)spec;
		struct ibv_flow_ipv4_ext_filter v = {.src_ip = s->val.src_ip,
						     .dst_ip = s->val.dst_ip};
		struct ibv_flow_ipv4_ext_filter m = {.src_ip = s->mask.src_ip,
						     .dst_ip = s->mask.dst_ip};

		return match_ipv4(&v, &m, false, l);
	}
	case IBV_FLOW_SPEC_IPV4_EXT: {
		const struct ibv_flow_spec_ipv4_ext *s = (const void *)spec;

		return match_ipv4(&s->val, &s->mask, true, l);
	}
	case IBV_FLOW_SPEC_IPV6:
		return match_ipv6((const void *)spec, l);
	case IBV_FLOW_SPEC_TCP:
		return match_l4((const void *)spec, IPPROTO_TCP, l);
	case IBV_FLOW_SPEC_UDP:
		return match_l4((const void *)spec, IPPROTO_UDP, l);
	case IBV_FLOW_SPEC_VXLAN_TUNNEL: {
		const struct ibv_flow_spec_tunnel *s = (const void *)spec;

		return s->mask.tunnel_id == 0 || (f->tunnel == NIC_TUNNEL_VXLAN &&
						  FIELD(&s->val, &s->mask, tunnel_id, f->vni));
	}
	case IBV_FLOW_SPEC_GRE: {
		const struct ibv_flow_spec_gre *s = (const void *)spec;

		return f->tunnel == NIC_TUNNEL_GRE &&
		       FIELD(&s->val, &s->mask, c_ks_res0_ver, f->gre_flags) &&
		       FIELD(&s->val, &s->mask, protocol, f->gre_protocol) &&
		       FIELD(&s->val, &s->mask, key, f->gre_key);
	}
	case IBV_FLOW_SPEC_MPLS: {
		const struct ibv_flow_spec_mpls *s = (const void *)spec;

		return s->mask.label == 0 ||
		       (f->mpls && FIELD(&s->val, &s->mask, label, f->mpls_label));
	}
	case IBV_FLOW_SPEC_ESP: {
		const struct ibv_flow_spec_esp *s = (const void *)spec;

		return zero(&s->mask, sizeof(s->mask)) ||
		       (f->esp && FIELD(&s->val, &s->mask, spi, f->esp_spi) &&
			FIELD(&s->val, &s->mask, seq, f->esp_seq));
	}
	default:
		return false;
	}
}

bool nic_flow_matches(const struct ibv_flow_attr *attr, const struct nic_frame *f,
		      struct nic_actions *actions)
{
	const uint8_t *bytes = (const uint8_t *)attr;
	size_t at = sizeof(*attr);
	bool match = true;

	memset(actions, 0, sizeof(*actions));
	for (unsigned i = 0; i < attr->num_of_specs; i++) {
		_Alignas(8) uint8_t spec[sizeof(struct ibv_flow_spec)];
		uint32_t type;
		uint16_t size;

		memcpy(&type, bytes + at, sizeof(type));
		memcpy(&size, bytes + at + 4, sizeof(size));
		memcpy(spec, bytes + at, size < sizeof(spec) ? size : sizeof(spec));
		at += size;
		switch (type) {
		case IBV_FLOW_SPEC_ACTION_DROP:
			actions->drop = true;
			break;
		case IBV_FLOW_SPEC_ACTION_TAG:
			actions->tagged = true;
			actions->tag =
				((const struct ibv_flow_spec_action_tag *)(void *)spec)->tag_id;
			break;
		case IBV_FLOW_SPEC_ACTION_COUNT:
			actions->counters =
				((const struct ibv_flow_spec_counter_action *)(void *)spec)
					->counters;
			break;
		default:
			if (match && !match_spec(spec, type, f))
				match = false;
			break;
		}
	}
	return match;
}

uint32_t nic_toeplitz(const uint8_t key[40], const uint8_t *data, size_t n)
{
	uint32_t hash = 0;
	uint32_t window =
		(uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];

	for (size_t i = 0; i < n; i++) {
		for (int bit = 7; bit >= 0; bit--) {
			if (data[i] & (1u << bit))
				hash ^= window;
			window <<= 1;
			/* The next key bit: key bit 32 + 8i + (7 - bit). */
			size_t next = 32 + i * 8 + (size_t)(7 - bit);

			if (next / 8 < 40 && (key[next / 8] & (0x80u >> (next % 8))))
				window |= 1;
		}
	}
	return hash;
}

bool nic_rss_hash(const struct nic_frame *f, uint64_t fields, const uint8_t key[40], uint32_t *hash)
{
	const struct nic_layers *l = (fields & IBV_RX_HASH_INNER) ? &f->inner : &f->outer;
	uint8_t input[36];
	size_t n = 0;
	bool v4 = fields & (IBV_RX_HASH_SRC_IPV4 | IBV_RX_HASH_DST_IPV4);
	bool v6 = fields & (IBV_RX_HASH_SRC_IPV6 | IBV_RX_HASH_DST_IPV6);
	bool tcp = fields & (IBV_RX_HASH_SRC_PORT_TCP | IBV_RX_HASH_DST_PORT_TCP);
	bool udp = fields & (IBV_RX_HASH_SRC_PORT_UDP | IBV_RX_HASH_DST_PORT_UDP);
	unsigned size = v6 ? 16 : 4;

	*hash = 0;
	if ((v4 && l->l3 != 4) || (v6 && l->l3 != 6) || (tcp && l->l4 != IPPROTO_TCP) ||
	    (udp && l->l4 != IPPROTO_UDP) || (fields & IBV_RX_HASH_INNER && !f->has_inner))
		return false;
	if (fields & (IBV_RX_HASH_SRC_IPV4 | IBV_RX_HASH_SRC_IPV6))
		memcpy(input + n, l->src, size), n += size;
	if (fields & (IBV_RX_HASH_DST_IPV4 | IBV_RX_HASH_DST_IPV6))
		memcpy(input + n, l->dst, size), n += size;
	if (fields & (IBV_RX_HASH_SRC_PORT_TCP | IBV_RX_HASH_SRC_PORT_UDP))
		memcpy(input + n, &l->sport, 2), n += 2;
	if (fields & (IBV_RX_HASH_DST_PORT_TCP | IBV_RX_HASH_DST_PORT_UDP))
		memcpy(input + n, &l->dport, 2), n += 2;
	*hash = nic_toeplitz(key, input, n);
	return n > 0;
}
