/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tunnel and label items: VXLAN, NVGRE, MPLS, GRE, GTP / GTPC / GTPU.
 */
#include "shm/rule/rule.h"

#define B(type) RULE_ITEM_BIT(MPF_FLOW_ITEM_TYPE_##type)

const struct mpf_flow_item_vxlan mpf_flow_item_vxlan_mask = {.vni = {0xff, 0xff, 0xff}};
const struct mpf_flow_item_nvgre mpf_flow_item_nvgre_mask = {.tni = {0xff, 0xff, 0xff}};
const struct mpf_flow_item_mpls mpf_flow_item_mpls_mask = {.label_tc_s = {0xff, 0xff, 0xf0}};
const struct mpf_flow_item_gre mpf_flow_item_gre_mask = {.protocol = 0xffff};
const struct mpf_flow_item_gtp mpf_flow_item_gtp_mask = {.teid = 0xffffffff};

static const struct rule_field vxlan_fields[] = {
	RULE_FIELD_BE(struct mpf_flow_item_vxlan, flags, "flags"),
	RULE_FIELD_BE(struct mpf_flow_item_vxlan, rsvd0, "rsvd0"),
	RULE_FIELD_BE(struct mpf_flow_item_vxlan, vni, "vni"),
	RULE_FIELD_BE(struct mpf_flow_item_vxlan, rsvd1, "rsvd1"),
};

/* VXLAN carries Ethernet frames. */
const struct rule_item_desc rule_item_vxlan = {
	.name = "vxlan",
	.size = sizeof(struct mpf_flow_item_vxlan),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.next = B(ETH),
	.default_mask = &mpf_flow_item_vxlan_mask,
	.fields = vxlan_fields,
	.n_fields = 4,
};

static const struct rule_field nvgre_fields[] = {
	RULE_FIELD_BE(struct mpf_flow_item_nvgre, c_k_s_rsvd0_ver, "c_k_s_rsvd0_ver"),
	RULE_FIELD_BE(struct mpf_flow_item_nvgre, protocol, "protocol"),
	RULE_FIELD_BE(struct mpf_flow_item_nvgre, tni, "tni"),
	RULE_FIELD_BE(struct mpf_flow_item_nvgre, flow_id, "flow_id"),
};

/* NVGRE carries Ethernet frames (protocol 0x6558). */
const struct rule_item_desc rule_item_nvgre = {
	.name = "nvgre",
	.size = sizeof(struct mpf_flow_item_nvgre),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.next = B(ETH),
	.default_mask = &mpf_flow_item_nvgre_mask,
	.fields = nvgre_fields,
	.n_fields = 4,
};

static const struct rule_field mpls_fields[] = {
	RULE_FIELD_BE(struct mpf_flow_item_mpls, label_tc_s, "label_tc_s"),
	RULE_FIELD_BE(struct mpf_flow_item_mpls, ttl, "ttl"),
};

/* MPLS stacks labels, then carries IP or (pseudowire) Ethernet. */
const struct rule_item_desc rule_item_mpls = {
	.name = "mpls",
	.size = sizeof(struct mpf_flow_item_mpls),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.next = B(MPLS) | B(IPV4) | B(IPV6) | B(ETH),
	.default_mask = &mpf_flow_item_mpls_mask,
	.fields = mpls_fields,
	.n_fields = 2,
};

static const struct rule_field gre_fields[] = {
	RULE_FIELD_BE(struct mpf_flow_item_gre, c_rsvd0_ver, "c_rsvd0_ver"),
	RULE_FIELD_BE(struct mpf_flow_item_gre, protocol, "protocol"),
};

/* GRE carries IP, MPLS or (transparent bridging) Ethernet. */
const struct rule_item_desc rule_item_gre = {
	.name = "gre",
	.size = sizeof(struct mpf_flow_item_gre),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.next = B(IPV4) | B(IPV6) | B(MPLS) | B(ETH),
	.default_mask = &mpf_flow_item_gre_mask,
	.fields = gre_fields,
	.n_fields = 2,
};

static const struct rule_field gtp_fields[] = {
	RULE_FIELD_BE(struct mpf_flow_item_gtp, v_pt_rsv_flags, "v_pt_rsv_flags"),
	RULE_FIELD_BE(struct mpf_flow_item_gtp, msg_type, "msg_type"),
	RULE_FIELD_BE(struct mpf_flow_item_gtp, msg_len, "msg_len"),
	RULE_FIELD_BE(struct mpf_flow_item_gtp, teid, "teid"),
};

/* GTP and GTP-U carry user IP packets; GTP-C carries signalling only. */
const struct rule_item_desc rule_item_gtp = {
	.name = "gtp",
	.size = sizeof(struct mpf_flow_item_gtp),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.next = B(IPV4) | B(IPV6),
	.default_mask = &mpf_flow_item_gtp_mask,
	.fields = gtp_fields,
	.n_fields = 4,
};

const struct rule_item_desc rule_item_gtpc = {
	.name = "gtpc",
	.size = sizeof(struct mpf_flow_item_gtp),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.default_mask = &mpf_flow_item_gtp_mask,
	.fields = gtp_fields,
	.n_fields = 4,
};

const struct rule_item_desc rule_item_gtpu = {
	.name = "gtpu",
	.size = sizeof(struct mpf_flow_item_gtp),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_HEADER,
	.next = B(IPV4) | B(IPV6),
	.default_mask = &mpf_flow_item_gtp_mask,
	.fields = gtp_fields,
	.n_fields = 4,
};
