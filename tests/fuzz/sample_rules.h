/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Rules of each item and action family, made by the real encoder: the
 * seeds that the wire and pack fuzz targets' corpora share.
 */
#ifndef MPFLOW_TESTS_FUZZ_SAMPLE_RULES_H
#define MPFLOW_TESTS_FUZZ_SAMPLE_RULES_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/wire.h"

#include "tests/rule_literals.h"

#define SAMPLE_RULES 5

static const char *const sample_rule_names[SAMPLE_RULES] = {
	"rule-l4", "rule-tunnel-raw", "rule-meta", "rule-five-tuple", "rule-ipv6",
};

/* Sample rule `i` as a request of `op` into msg[cap]: its length, or
 * -errno. */
static inline int sample_rule(unsigned i, uint8_t *msg, size_t cap, enum wire_op op,
			      uint64_t user_data)
{
	const struct mpf_flow_attr attr = {.ingress = 1, .priority = 1};
	const struct mpf_flow_attr ranked = {.ingress = 1, .group = 300, .priority = 70000};
	struct mpf_flow_item_eth eth = {.dst = {0x66, 0x11, 0x22, 0x33, 0x44, 0x55}};
	struct mpf_flow_item_ipv4 ip = {.hdr.src_addr = 0x0B86C806, .hdr.next_proto_id = 17};
	struct mpf_flow_item_ipv4 ip_mask = {.hdr.src_addr = 0x00ffffff, .hdr.next_proto_id = 0xff};
	struct mpf_flow_item_ipv6 ip6 = {.hdr.src_addr = {0xfe, 0x80, [15] = 1}};
	struct mpf_flow_item_udp udp = {.hdr.dst_port = 0xb512};
	struct mpf_flow_item_vxlan vxlan = {.vni = {0, 0, 42}};
	struct mpf_flow_item_raw raw = {.relative = 1,
					.search = 1,
					.offset = 10,
					.length = 3,
					.pattern = (const uint8_t *)"foo"};
	struct mpf_flow_item_any any = {.num = 2};
	const uint16_t queues[] = {0, 1, 2, 3};
	const uint8_t key[40] = {0x6d, 0x5a};
	const struct mpf_flow_action_rss rss = {
		.types = MPF_RSS_IPV4, .key_len = 40, .queue_num = 4, .key = key, .queue = queues};
	const struct mpf_flow_action_queue queue = {.index = 3};
	const struct mpf_flow_action_mark mark = {.id = 42};
	const struct mpf_flow_action_vf vf = {.id = 1};
	struct mpf_flow_error error;

	switch (i) {
	case 0:
		return wire_encode_rule(
			msg, cap, op, user_data, 0, false, &attr,
			(struct mpf_flow_item[]){ITEM(ETH, .spec = &eth), ITEM(IPV4, .spec = &ip),
						 ITEM(UDP, .spec = &udp, .last = &udp), ITEM(END)},
			(struct mpf_flow_action[]){ACTION(MARK, &mark), ACTION(COUNT, NULL),
						   ACTION(QUEUE, &queue), ACTION(END, NULL)},
			&error);
	case 1:
		return wire_encode_rule(
			msg, cap, op, user_data, 1, false, &attr,
			(struct mpf_flow_item[]){ITEM(ETH), ITEM(ANY, .spec = &any),
						 ITEM(VXLAN, .spec = &vxlan), ITEM(ETH),
						 ITEM(RAW, .spec = &raw), ITEM(END)},
			(struct mpf_flow_action[]){ACTION(RSS, &rss), ACTION(END, NULL)}, &error);
	case 2:
		return wire_encode_rule(
			msg, cap, op, user_data, 0, true, &attr,
			(struct mpf_flow_item[]){ITEM(INVERT), ITEM(PF), ITEM(VOID), ITEM(END)},
			(struct mpf_flow_action[]){ACTION(VF, &vf), ACTION(PASSTHRU, NULL),
						   ACTION(END, NULL)},
			&error);
	case 3:
		return wire_encode_rule(
			msg, cap, op, user_data, 0, false, &ranked,
			(struct mpf_flow_item[]){ITEM(ETH, .spec = &eth),
						 ITEM(IPV4, .spec = &ip, .mask = &ip_mask),
						 ITEM(UDP, .spec = &udp, .last = &udp), ITEM(END)},
			(struct mpf_flow_action[]){ACTION(MARK, &mark), ACTION(COUNT, NULL),
						   ACTION(QUEUE, &queue), ACTION(END, NULL)},
			&error);
	case 4:
		return wire_encode_rule(
			msg, cap, op, user_data, 3, true, &ranked,
			(struct mpf_flow_item[]){ITEM(ETH), ITEM(IPV6, .spec = &ip6), ITEM(UDP),
						 ITEM(END)},
			(struct mpf_flow_action[]){ACTION(QUEUE, &queue), ACTION(END, NULL)},
			&error);
	default:
		return -EINVAL;
	}
}

#endif
