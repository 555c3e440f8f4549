/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control-plane benches' rule and their pipelined insert:
 * eth / ipv4 src is 10.x.y.z / udp dst is 4789 / end actions count / queue 1.
 */
#ifndef MPFLOW_BENCH_RULE_H
#define MPFLOW_BENCH_RULE_H

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "mpflow/mpflow.h"
#include "tests/rule_literals.h"

static const struct mpf_flow_attr ingress = {.ingress = 1};
static const struct mpf_flow_action_queue queue1 = {.index = 1};

struct rule {
	struct mpf_flow_item_ipv4 ip, ip_mask;
	struct mpf_flow_item_udp udp, udp_mask;
	struct mpf_flow_item pattern[4];
	struct mpf_flow_action actions[3];
};

/* Rule `n` (n below 2^24: each its own source address). */
static inline void rule_init(struct rule *r, uint32_t n)
{
	memset(r, 0, sizeof(*r));
	r->ip.hdr.src_addr = htonl(0x0a000000u | (n & 0xffffff));
	r->ip_mask.hdr.src_addr = 0xffffffff;
	r->udp.hdr.dst_port = htons(4789);
	r->udp_mask.hdr.dst_port = 0xffff;
	r->pattern[0] = ITEM(ETH);
	r->pattern[1] = ITEM(IPV4, .spec = &r->ip, .mask = &r->ip_mask);
	r->pattern[2] = ITEM(UDP, .spec = &r->udp, .mask = &r->udp_mask);
	r->pattern[3] = ITEM(END);
	r->actions[0] = ACTION(COUNT, NULL);
	r->actions[1] = ACTION(QUEUE, &queue1);
	r->actions[2] = ACTION(END, NULL);
}

/* Create rules first..first+count-1 with `flags` through the asynchronous
 * API as fast as they go; each one's handle into handles[i] (i from 0) when
 * `handles` is not NULL. 0, or -1 with the cause on stderr. */
static inline int insert_pipelined(struct mpf_client *c, uint32_t first, uint32_t count,
				   uint32_t flags, uint64_t *handles)
{
	struct mpf_completion done[256];
	struct mpf_flow_error error;
	uint32_t submitted = 0, completed = 0;
	struct rule r;

	while (completed < count) {
		int n;

		if (submitted < count) {
			rule_init(&r, first + submitted);
			if (mpf_submit_create(c, 0, &ingress, r.pattern, r.actions, flags,
					      submitted, &error) == 0) {
				submitted++;
				continue;
			}
		}
		n = mpf_poll(c, done, 256, -1);
		if (n <= 0)
			return -1;
		for (int i = 0; i < n; i++) {
			if (done[i].status) {
				fprintf(stderr, "insert: %s\n", done[i].error.message);
				return -1;
			}
			if (handles)
				handles[done[i].user_data] = done[i].handle;
		}
		completed += (uint32_t)n;
	}
	return 0;
}

#endif
