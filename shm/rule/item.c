/* SPDX-License-Identifier: BSD-3-Clause */
/* The index of item descriptors by type. */
#include "shm/rule/rule.h"

#define ITEM(type, desc) [MPF_FLOW_ITEM_TYPE_##type] = &(desc)

static const struct rule_item_desc *const item_descs[MPF_FLOW_ITEM_TYPES] = {
	ITEM(END, rule_item_end),     ITEM(VOID, rule_item_void),   ITEM(INVERT, rule_item_invert),
	ITEM(ANY, rule_item_any),     ITEM(PF, rule_item_pf),	    ITEM(VF, rule_item_vf),
	ITEM(PORT, rule_item_port),   ITEM(RAW, rule_item_raw),	    ITEM(ETH, rule_item_eth),
	ITEM(VLAN, rule_item_vlan),   ITEM(IPV4, rule_item_ipv4),   ITEM(IPV6, rule_item_ipv6),
	ITEM(ICMP, rule_item_icmp),   ITEM(UDP, rule_item_udp),	    ITEM(TCP, rule_item_tcp),
	ITEM(SCTP, rule_item_sctp),   ITEM(VXLAN, rule_item_vxlan), ITEM(E_TAG, rule_item_e_tag),
	ITEM(NVGRE, rule_item_nvgre), ITEM(MPLS, rule_item_mpls),   ITEM(GRE, rule_item_gre),
	ITEM(FUZZY, rule_item_fuzzy), ITEM(GTP, rule_item_gtp),	    ITEM(GTPC, rule_item_gtpc),
	ITEM(GTPU, rule_item_gtpu),   ITEM(ESP, rule_item_esp),
};

const struct rule_item_desc *rule_item_desc(int type)
{
	if (type < 0 || type >= MPF_FLOW_ITEM_TYPES)
		return NULL;
	return item_descs[type];
}

const char *mpf_flow_item_name(enum mpf_flow_item_type type)
{
	const struct rule_item_desc *desc = rule_item_desc((int)type);

	return desc ? desc->name : NULL;
}

const void *rule_item_mask(const struct mpf_flow_item *item)
{
	const struct rule_item_desc *desc = rule_item_desc((int)item->type);

	if (item->mask)
		return item->mask;
	return desc ? desc->default_mask : NULL;
}
