/* SPDX-License-Identifier: BSD-3-Clause */
/* Action descriptors and the checks of each action's configuration. */
#include <errno.h>

#include "shm/rule/rule.h"

static int rss_check(const void *conf, int index, struct mpf_flow_error *error)
{
	const struct mpf_flow_action_rss *rss = conf;

	if (rss->types & ~MPF_RSS_ALL_TYPES)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, index,
				      "action %d (rss): unknown hash types 0x%llx", index,
				      (unsigned long long)(rss->types & ~MPF_RSS_ALL_TYPES));
	if (rss->queue_num == 0 || rss->queue == NULL)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, index,
				      "action %d (rss): needs at least one queue", index);
	if (rss->queue_num > MPF_FLOW_RSS_QUEUES_MAX)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, index,
				      "action %d (rss): %u queues, at most %u supported", index,
				      rss->queue_num, MPF_FLOW_RSS_QUEUES_MAX);
	if (rss->key_len > MPF_FLOW_RSS_KEY_MAX)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, index,
				      "action %d (rss): key of %u bytes, at most %u supported",
				      index, rss->key_len, MPF_FLOW_RSS_KEY_MAX);
	if (rss->key_len > 0 && rss->key == NULL)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, index,
				      "action %d (rss): key_len %u without a key", index,
				      rss->key_len);
	return 0;
}

static int vf_check(const void *conf, int index, struct mpf_flow_error *error)
{
	const struct mpf_flow_action_vf *vf = conf;

	if (vf->reserved != 0)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, index,
				      "action %d (vf): reserved bits must be zero", index);
	return 0;
}

#define ACTION(type) [MPF_FLOW_ACTION_TYPE_##type]

static const struct rule_action_desc action_descs[MPF_FLOW_ACTION_TYPES] = {
	ACTION(END) = {.name = "end", .kind = RULE_ACTION_META},
	ACTION(VOID) = {.name = "void", .kind = RULE_ACTION_META},
	ACTION(PASSTHRU) = {.name = "passthru", .kind = RULE_ACTION_NON_TERMINATING},
	ACTION(MARK) = {.name = "mark",
			.receive = true,
			.conf_size = sizeof(struct mpf_flow_action_mark),
			.kind = RULE_ACTION_META},
	ACTION(FLAG) = {.name = "flag", .receive = true, .kind = RULE_ACTION_META},
	ACTION(QUEUE) = {.name = "queue",
			 .receive = true,
			 .conf_size = sizeof(struct mpf_flow_action_queue),
			 .kind = RULE_ACTION_TERMINATING},
	ACTION(DROP) = {.name = "drop", .kind = RULE_ACTION_TERMINATING},
	ACTION(COUNT) = {.name = "count", .kind = RULE_ACTION_META},
	ACTION(DUP) = {.name = "dup",
		       .receive = true,
		       .conf_size = sizeof(struct mpf_flow_action_dup),
		       .kind = RULE_ACTION_NON_TERMINATING},
	ACTION(RSS) = {.name = "rss",
		       .receive = true,
		       .conf_size = sizeof(struct mpf_flow_action_rss),
		       .kind = RULE_ACTION_TERMINATING,
		       .check = rss_check},
	ACTION(PF) = {.name = "pf", .receive = true, .kind = RULE_ACTION_TERMINATING},
	ACTION(VF) = {.name = "vf",
		      .receive = true,
		      .conf_size = sizeof(struct mpf_flow_action_vf),
		      .kind = RULE_ACTION_TERMINATING,
		      .check = vf_check},
	ACTION(METER) = {.name = "meter",
			 .conf_size = sizeof(struct mpf_flow_action_meter),
			 .kind = RULE_ACTION_NON_TERMINATING},
	ACTION(SECURITY) = {.name = "security",
			    .conf_size = sizeof(struct mpf_flow_action_security),
			    .kind = RULE_ACTION_META},
};

/* testpmd's names of the MPF_RSS_* bits. */
static const char *const rss_type_names[64] = {
	[2] = "ipv4",	     [3] = "ipv4-frag",	 [4] = "ipv4-tcp",     [5] = "ipv4-udp",
	[6] = "ipv4-sctp",   [7] = "ipv4-other", [8] = "ipv6",	       [9] = "ipv6-frag",
	[10] = "ipv6-tcp",   [11] = "ipv6-udp",	 [12] = "ipv6-sctp",   [13] = "ipv6-other",
	[14] = "l2-payload", [15] = "ipv6-ex",	 [16] = "ipv6-tcp-ex", [17] = "ipv6-udp-ex",
	[18] = "port",	     [19] = "vxlan",	 [20] = "geneve",      [21] = "nvgre",
};

const char *rule_rss_type_name(unsigned bit)
{
	return bit < 64 ? rss_type_names[bit] : NULL;
}

const struct rule_action_desc *rule_action_desc(int type)
{
	if (type < 0 || type >= MPF_FLOW_ACTION_TYPES)
		return NULL;
	return &action_descs[type];
}

const char *mpf_flow_action_name(enum mpf_flow_action_type type)
{
	const struct rule_action_desc *desc = rule_action_desc((int)type);

	return desc ? desc->name : NULL;
}
