/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verbs spec types as data: each one's size, where its value and mask
 * filters sit, and the filter's fields (name, offset, size, format). The
 * translation sizes and checks specs with it; describe.c prints them.
 */
#include <stddef.h>
#include <stdio.h>

#include "hwdrv/verbs/verbs.h"
#include "shm/rule/rule.h"

int verbs_spec_kind(uint32_t type)
{
	switch (type & ~(uint32_t)IBV_FLOW_SPEC_INNER) {
	case IBV_FLOW_SPEC_ETH:
		return VERBS_SPEC_ETH;
	case IBV_FLOW_SPEC_IPV4:
		return VERBS_SPEC_IPV4;
	case IBV_FLOW_SPEC_IPV4_EXT:
		return VERBS_SPEC_IPV4_EXT;
	case IBV_FLOW_SPEC_IPV6:
		return VERBS_SPEC_IPV6;
	case IBV_FLOW_SPEC_TCP:
		return VERBS_SPEC_TCP;
	case IBV_FLOW_SPEC_UDP:
		return VERBS_SPEC_UDP;
	case IBV_FLOW_SPEC_VXLAN_TUNNEL:
		return VERBS_SPEC_VXLAN;
	case IBV_FLOW_SPEC_GRE:
		return VERBS_SPEC_GRE;
	case IBV_FLOW_SPEC_MPLS:
		return VERBS_SPEC_MPLS;
	case IBV_FLOW_SPEC_ESP:
		return VERBS_SPEC_ESP;
	case IBV_FLOW_SPEC_ACTION_DROP:
		return VERBS_SPEC_DROP;
	case IBV_FLOW_SPEC_ACTION_TAG:
		return VERBS_SPEC_TAG;
	case IBV_FLOW_SPEC_ACTION_COUNT:
		return VERBS_SPEC_COUNT;
	default:
		return -1;
	}
}

#define F(filter, member, fmt)                                                                     \
	{                                                                                          \
#member, offsetof(struct filter, member), sizeof(((struct filter *)0)->member),    \
			RULE_FORMAT_##fmt                                                          \
	}
static const struct verbs_spec_field eth_fields[] = {
	F(ibv_flow_eth_filter, dst_mac, MAC), F(ibv_flow_eth_filter, src_mac, MAC),
	F(ibv_flow_eth_filter, ether_type, INT), F(ibv_flow_eth_filter, vlan_tag, INT)};
static const struct verbs_spec_field ipv4_fields[] = {F(ibv_flow_ipv4_filter, src_ip, IPV4),
						      F(ibv_flow_ipv4_filter, dst_ip, IPV4)};
static const struct verbs_spec_field ipv4_ext_fields[] = {
	F(ibv_flow_ipv4_ext_filter, src_ip, IPV4), F(ibv_flow_ipv4_ext_filter, dst_ip, IPV4),
	F(ibv_flow_ipv4_ext_filter, proto, INT),   F(ibv_flow_ipv4_ext_filter, tos, INT),
	F(ibv_flow_ipv4_ext_filter, ttl, INT),	   F(ibv_flow_ipv4_ext_filter, flags, INT)};
static const struct verbs_spec_field ipv6_fields[] = {
	F(ibv_flow_ipv6_filter, src_ip, IPV6),	     F(ibv_flow_ipv6_filter, dst_ip, IPV6),
	F(ibv_flow_ipv6_filter, flow_label, INT),    F(ibv_flow_ipv6_filter, next_hdr, INT),
	F(ibv_flow_ipv6_filter, traffic_class, INT), F(ibv_flow_ipv6_filter, hop_limit, INT)};
static const struct verbs_spec_field l4_fields[] = {F(ibv_flow_tcp_udp_filter, dst_port, INT),
						    F(ibv_flow_tcp_udp_filter, src_port, INT)};
static const struct verbs_spec_field tunnel_fields[] = {F(ibv_flow_tunnel_filter, tunnel_id, INT)};
static const struct verbs_spec_field gre_fields[] = {F(ibv_flow_gre_filter, c_ks_res0_ver, INT),
						     F(ibv_flow_gre_filter, protocol, INT),
						     F(ibv_flow_gre_filter, key, INT)};
static const struct verbs_spec_field mpls_fields[] = {F(ibv_flow_mpls_filter, label, INT)};
static const struct verbs_spec_field esp_fields[] = {F(ibv_flow_esp_filter, spi, INT),
						     F(ibv_flow_esp_filter, seq, INT)};
#undef F

#define L(t, spec, label, f)                                                                       \
	{                                                                                          \
		IBV_FLOW_SPEC_##t, label, sizeof(struct spec), offsetof(struct spec, val),         \
			offsetof(struct spec, mask), f, sizeof(f) / sizeof(f[0])                   \
	}
static const struct verbs_spec_layout layouts[] = {
	L(ETH, ibv_flow_spec_eth, "ETH", eth_fields),
	L(IPV4, ibv_flow_spec_ipv4, "IPV4", ipv4_fields),
	L(IPV4_EXT, ibv_flow_spec_ipv4_ext, "IPV4_EXT", ipv4_ext_fields),
	L(IPV6, ibv_flow_spec_ipv6, "IPV6", ipv6_fields),
	L(TCP, ibv_flow_spec_tcp_udp, "TCP", l4_fields),
	L(UDP, ibv_flow_spec_tcp_udp, "UDP", l4_fields),
	L(VXLAN_TUNNEL, ibv_flow_spec_tunnel, "VXLAN_TUNNEL", tunnel_fields),
	L(GRE, ibv_flow_spec_gre, "GRE", gre_fields),
	L(MPLS, ibv_flow_spec_mpls, "MPLS", mpls_fields),
	L(ESP, ibv_flow_spec_esp, "ESP", esp_fields),
};
#undef L

const struct verbs_spec_layout *verbs_spec_layout(uint32_t type)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].type == (type & ~(uint32_t)IBV_FLOW_SPEC_INNER))
			return &layouts[i];
	return NULL;
}

const char *verbs_spec_name(uint32_t type, char *buf, size_t size)
{
	const struct verbs_spec_layout *l = verbs_spec_layout(type);
	const char *name = l					 ? l->name
			   : type == IBV_FLOW_SPEC_ACTION_TAG	 ? "ACTION_TAG"
			   : type == IBV_FLOW_SPEC_ACTION_DROP	 ? "ACTION_DROP"
			   : type == IBV_FLOW_SPEC_ACTION_HANDLE ? "ACTION_HANDLE"
			   : type == IBV_FLOW_SPEC_ACTION_COUNT	 ? "ACTION_COUNT"
								 : NULL;

	if (name == NULL)
		return NULL;
	snprintf(buf, size, "%s%s", l && (type & IBV_FLOW_SPEC_INNER) ? "INNER " : "", name);
	return buf;
}
