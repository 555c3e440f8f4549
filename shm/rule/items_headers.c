/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Protocol header items, L2 to L4: ETH, VLAN, E_TAG, IPV4, IPV6, ICMP, UDP,
 * TCP, SCTP, ESP. Default masks as rte_flow.rst (17.11) states them.
 */
#include "shm/rule/rule.h"

#define B(type) RULE_ITEM_BIT(MPF_FLOW_ITEM_TYPE_##type)

const struct mpf_flow_item_eth mpf_flow_item_eth_mask = {
	.dst = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	.src = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	.type = 0x0000,
};
const struct mpf_flow_item_vlan mpf_flow_item_vlan_mask = {.tpid = 0x0000, .tci = 0xffff};
const struct mpf_flow_item_e_tag mpf_flow_item_e_tag_mask = {
	.rsvd_grp_ecid_b = RULE_BE16(0x3fff),
};
const struct mpf_flow_item_ipv4 mpf_flow_item_ipv4_mask = {
	.hdr = {.src_addr = 0xffffffff, .dst_addr = 0xffffffff},
};
const struct mpf_flow_item_ipv6 mpf_flow_item_ipv6_mask = {
	.hdr = {.src_addr = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			     0xff, 0xff, 0xff, 0xff},
		.dst_addr = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			     0xff, 0xff, 0xff, 0xff}},
};
const struct mpf_flow_item_icmp mpf_flow_item_icmp_mask = {
	.hdr = {.icmp_type = 0xff, .icmp_code = 0xff},
};
const struct mpf_flow_item_udp mpf_flow_item_udp_mask = {
	.hdr = {.src_port = 0xffff, .dst_port = 0xffff},
};
const struct mpf_flow_item_tcp mpf_flow_item_tcp_mask = {
	.hdr = {.src_port = 0xffff, .dst_port = 0xffff},
};
const struct mpf_flow_item_sctp mpf_flow_item_sctp_mask = {
	.hdr = {.src_port = 0xffff, .dst_port = 0xffff},
};
const struct mpf_flow_item_esp mpf_flow_item_esp_mask = {.hdr = {.spi = 0xffffffff}};

static const struct rule_field eth_fields[] = {
	RULE_FIELD_ADDRESS(struct mpf_flow_item_eth, dst, "dst", RULE_FORMAT_MAC),
	RULE_FIELD_ADDRESS(struct mpf_flow_item_eth, src, "src", RULE_FORMAT_MAC),
	RULE_FIELD_BE(struct mpf_flow_item_eth, type, "type"),
};

const struct rule_item_desc rule_item_eth = {
	.name = "eth",
	.size = sizeof(struct mpf_flow_item_eth),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.next = B(VLAN) | B(E_TAG) | B(IPV4) | B(IPV6) | B(MPLS),
	.default_mask = &mpf_flow_item_eth_mask,
	.fields = eth_fields,
	.n_fields = 3,
};

static const struct rule_field vlan_fields[] = {
	RULE_FIELD_BE(struct mpf_flow_item_vlan, tpid, "tpid"),
	RULE_FIELD_BE(struct mpf_flow_item_vlan, tci, "tci"),
};

const struct rule_item_desc rule_item_vlan = {
	.name = "vlan",
	.size = sizeof(struct mpf_flow_item_vlan),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.next = B(VLAN) | B(IPV4) | B(IPV6) | B(MPLS),
	.default_mask = &mpf_flow_item_vlan_mask,
	.fields = vlan_fields,
	.n_fields = 2,
};

static const struct rule_field e_tag_fields[] = {
	RULE_FIELD_BE(struct mpf_flow_item_e_tag, tpid, "tpid"),
	RULE_FIELD_BE(struct mpf_flow_item_e_tag, epcp_edei_in_ecid_b, "epcp_edei_in_ecid_b"),
	RULE_FIELD_BE(struct mpf_flow_item_e_tag, rsvd_grp_ecid_b, "rsvd_grp_ecid_b"),
	RULE_FIELD_BE(struct mpf_flow_item_e_tag, in_ecid_e, "in_ecid_e"),
	RULE_FIELD_BE(struct mpf_flow_item_e_tag, ecid_e, "ecid_e"),
};

const struct rule_item_desc rule_item_e_tag = {
	.name = "e_tag",
	.size = sizeof(struct mpf_flow_item_e_tag),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.next = B(VLAN) | B(IPV4) | B(IPV6) | B(MPLS),
	.default_mask = &mpf_flow_item_e_tag_mask,
	.fields = e_tag_fields,
	.n_fields = 5,
};

#define IPV4_FIELD(member, label) RULE_FIELD_BE(struct mpf_flow_item_ipv4, hdr.member, label)
static const struct rule_field ipv4_fields[] = {
	IPV4_FIELD(version_ihl, "version_ihl"),
	IPV4_FIELD(type_of_service, "tos"),
	IPV4_FIELD(total_length, "total_length"),
	IPV4_FIELD(packet_id, "packet_id"),
	IPV4_FIELD(fragment_offset, "fragment_offset"),
	IPV4_FIELD(time_to_live, "ttl"),
	IPV4_FIELD(next_proto_id, "proto"),
	IPV4_FIELD(hdr_checksum, "hdr_checksum"),
	RULE_FIELD_ADDRESS(struct mpf_flow_item_ipv4, hdr.src_addr, "src", RULE_FORMAT_IPV4),
	RULE_FIELD_ADDRESS(struct mpf_flow_item_ipv4, hdr.dst_addr, "dst", RULE_FORMAT_IPV4),
};

/* What may follow an IP header: L4, tunnels carried by IP, IP in IP. */
#define IP_NEXT (B(UDP) | B(TCP) | B(SCTP) | B(GRE) | B(NVGRE) | B(ESP) | B(IPV4) | B(IPV6))

const struct rule_item_desc rule_item_ipv4 = {
	.name = "ipv4",
	.size = sizeof(struct mpf_flow_item_ipv4),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.next = IP_NEXT | B(ICMP),
	.default_mask = &mpf_flow_item_ipv4_mask,
	.fields = ipv4_fields,
	.n_fields = 10,
};

#define IPV6_FIELD(member, label) RULE_FIELD_BE(struct mpf_flow_item_ipv6, hdr.member, label)
static const struct rule_field ipv6_fields[] = {
	IPV6_FIELD(vtc_flow, "vtc_flow"),
	IPV6_FIELD(payload_len, "payload_len"),
	IPV6_FIELD(proto, "proto"),
	IPV6_FIELD(hop_limits, "hop"),
	RULE_FIELD_ADDRESS(struct mpf_flow_item_ipv6, hdr.src_addr, "src", RULE_FORMAT_IPV6),
	RULE_FIELD_ADDRESS(struct mpf_flow_item_ipv6, hdr.dst_addr, "dst", RULE_FORMAT_IPV6),
};

/* ICMP is the ICMPv4 header: it cannot follow IPV6. */
const struct rule_item_desc rule_item_ipv6 = {
	.name = "ipv6",
	.size = sizeof(struct mpf_flow_item_ipv6),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.next = IP_NEXT,
	.default_mask = &mpf_flow_item_ipv6_mask,
	.fields = ipv6_fields,
	.n_fields = 6,
};

#define ICMP_FIELD(member, label) RULE_FIELD_BE(struct mpf_flow_item_icmp, hdr.member, label)
static const struct rule_field icmp_fields[] = {
	ICMP_FIELD(icmp_type, "type"),	 ICMP_FIELD(icmp_code, "code"),
	ICMP_FIELD(icmp_cksum, "cksum"), ICMP_FIELD(icmp_ident, "ident"),
	ICMP_FIELD(icmp_seq_nb, "seq"),
};

const struct rule_item_desc rule_item_icmp = {
	.name = "icmp",
	.size = sizeof(struct mpf_flow_item_icmp),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.default_mask = &mpf_flow_item_icmp_mask,
	.fields = icmp_fields,
	.n_fields = 5,
};

#define UDP_FIELD(member, label) RULE_FIELD_BE(struct mpf_flow_item_udp, hdr.member, label)
static const struct rule_field udp_fields[] = {
	UDP_FIELD(src_port, "src"),
	UDP_FIELD(dst_port, "dst"),
	UDP_FIELD(dgram_len, "len"),
	UDP_FIELD(dgram_cksum, "cksum"),
};

/* UDP carries VXLAN, GTP, MPLS (RFC 7510) and ESP (NAT traversal). */
const struct rule_item_desc rule_item_udp = {
	.name = "udp",
	.size = sizeof(struct mpf_flow_item_udp),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.next = B(VXLAN) | B(GTP) | B(GTPC) | B(GTPU) | B(MPLS) | B(ESP),
	.default_mask = &mpf_flow_item_udp_mask,
	.fields = udp_fields,
	.n_fields = 4,
};

#define TCP_FIELD(member, label) RULE_FIELD_BE(struct mpf_flow_item_tcp, hdr.member, label)
static const struct rule_field tcp_fields[] = {
	TCP_FIELD(src_port, "src"), TCP_FIELD(dst_port, "dst"),	     TCP_FIELD(sent_seq, "seq"),
	TCP_FIELD(recv_ack, "ack"), TCP_FIELD(data_off, "data_off"), TCP_FIELD(tcp_flags, "flags"),
	TCP_FIELD(rx_win, "win"),   TCP_FIELD(cksum, "cksum"),	     TCP_FIELD(tcp_urp, "urp"),
};

const struct rule_item_desc rule_item_tcp = {
	.name = "tcp",
	.size = sizeof(struct mpf_flow_item_tcp),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.default_mask = &mpf_flow_item_tcp_mask,
	.fields = tcp_fields,
	.n_fields = 9,
};

#define SCTP_FIELD(member, label) RULE_FIELD_BE(struct mpf_flow_item_sctp, hdr.member, label)
static const struct rule_field sctp_fields[] = {
	SCTP_FIELD(src_port, "src"),
	SCTP_FIELD(dst_port, "dst"),
	SCTP_FIELD(tag, "tag"),
	SCTP_FIELD(cksum, "cksum"),
};

const struct rule_item_desc rule_item_sctp = {
	.name = "sctp",
	.size = sizeof(struct mpf_flow_item_sctp),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.default_mask = &mpf_flow_item_sctp_mask,
	.fields = sctp_fields,
	.n_fields = 4,
};

static const struct rule_field esp_fields[] = {
	RULE_FIELD_BE(struct mpf_flow_item_esp, hdr.spi, "spi"),
	RULE_FIELD_BE(struct mpf_flow_item_esp, hdr.seq, "seq"),
};

const struct rule_item_desc rule_item_esp = {
	.name = "esp",
	.size = sizeof(struct mpf_flow_item_esp),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.default_mask = &mpf_flow_item_esp_mask,
	.fields = esp_fields,
	.n_fields = 2,
};
