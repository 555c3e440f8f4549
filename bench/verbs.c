/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench/verbs: what the verbs backend costs the primary per rule, beside a
 * baseline from the same run: the rule model's own validation, which every
 * create pays anyway.
 *
 *  - translate: validation + the rule's device flows (hwdrv/verbs/translate.c)
 *  - create + destroy: the whole backend path (translation, shared QP
 *    lookup, counters, ibv_create_flow) on the fake NIC of the tests, whose
 *    calls cost next to nothing: what is left is ours. A real NIC adds its
 *    own (a kernel round trip per verbs object).
 *
 * Two rule shapes: a 5-tuple (eth / ipv4 / udp, count + queue: one flow)
 * and RSS on an open pattern (eth, rss over 4 queues: 7 flows).
 *
 * usage: verbs [--rules N]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hwdrv/hwdrv.h"
#include "hwdrv/verbs/verbs.h"
#include "shm/rule/rule.h"
#include "tests/verbs/fake_ibv.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct shape {
	const char *name;
	struct mpf_flow_item_ipv4 ip, ip_mask;
	struct mpf_flow_item_udp udp;
	struct mpf_flow_item pattern[4];
	struct mpf_flow_action actions[3];
	struct mpf_flow_action_queue queue;
	struct mpf_flow_action_rss rss;
	uint16_t queues[4];
};

static void five_tuple(struct shape *s, uint32_t n)
{
	memset(s, 0, sizeof(*s));
	s->name = "5-tuple, 1 flow";
	s->ip.hdr.src_addr = htonl(0x0a000000u | n);
	s->ip.hdr.dst_addr = htonl(0xc0a80001u);
	s->ip_mask.hdr.src_addr = s->ip_mask.hdr.dst_addr = 0xffffffff;
	s->udp.hdr.src_port = htons((uint16_t)n);
	s->udp.hdr.dst_port = htons(4789);
	s->pattern[0] = (struct mpf_flow_item){.type = MPF_FLOW_ITEM_TYPE_ETH};
	s->pattern[1] = (struct mpf_flow_item){
		.type = MPF_FLOW_ITEM_TYPE_IPV4, .spec = &s->ip, .mask = &s->ip_mask};
	s->pattern[2] = (struct mpf_flow_item){.type = MPF_FLOW_ITEM_TYPE_UDP, .spec = &s->udp};
	s->queue.index = (uint16_t)(n % 4);
	s->actions[0] = (struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_COUNT};
	s->actions[1] =
		(struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_QUEUE, .conf = &s->queue};
}

static void open_rss(struct shape *s, uint32_t n)
{
	memset(s, 0, sizeof(*s));
	s->name = "RSS, open pattern, 7 flows";
	for (uint16_t q = 0; q < 4; q++)
		s->queues[q] = q;
	s->rss = (struct mpf_flow_action_rss){.queue_num = 4, .queue = s->queues};
	s->pattern[0] = (struct mpf_flow_item){.type = MPF_FLOW_ITEM_TYPE_ETH};
	s->actions[0] = (struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_RSS, .conf = &s->rss};
	(void)n;
}

int main(int argc, char **argv)
{
	static const struct mpf_flow_attr attr = {.ingress = 1};
	void (*const shapes[])(struct shape *, uint32_t) = {five_tuple, open_rss};
	struct hwdrv_config config = {.ports = 1, .queues = 4, .device_port = 1, .groups = 1};
	uint32_t n =
		argc == 3 && strcmp(argv[1], "--rules") == 0 ? (uint32_t)atoi(argv[2]) : 100000;
	struct verbs_translation *t = malloc(sizeof(*t));
	struct region_counter *counter = aligned_alloc(64, sizeof(*counter));
	void **handles = calloc(n, sizeof(*handles));
	struct mpf_flow_error error;
	struct hwdrv dev;

	if (n == 0 || !t || !counter || !handles || fake_ibv_configure(NULL) ||
	    hwdrv_open(&dev, "verbs", &config, &error)) {
		fprintf(stderr, "verbs: cannot set up (%s)\n", error.message);
		return 1;
	}
	printf("%u rules per figure; ns per rule, and x the validation baseline\n\n", n);
	printf("| rule | validate (baseline) | translate | x | create + destroy | x |\n");
	printf("|---|---:|---:|---:|---:|---:|\n");
	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		struct shape s;
		struct rule_shape rs;
		struct hwdrv_rule hw = {.attr = &attr,
					.pattern = s.pattern,
					.actions = s.actions,
					.shape = &rs,
					.counter = counter};
		uint64_t t0, validate, translate, create;

		t0 = now_ns();
		for (uint32_t i = 0; i < n; i++) {
			shapes[k](&s, i);
			if (rule_validate(&attr, s.pattern, s.actions, &rs, &error))
				return fprintf(stderr, "%s\n", error.message), 1;
		}
		validate = now_ns() - t0;
		t0 = now_ns();
		for (uint32_t i = 0; i < n; i++) {
			shapes[k](&s, i);
			if (rule_validate(&attr, s.pattern, s.actions, &rs, &error) ||
			    verbs_translate(&((struct verbs *)dev.priv)->caps, &hw, t, &error))
				return fprintf(stderr, "%s\n", error.message), 1;
		}
		translate = now_ns() - t0;
		t0 = now_ns();
		for (uint32_t i = 0; i < n; i++) {
			shapes[k](&s, i);
			if (rule_validate(&attr, s.pattern, s.actions, &rs, &error) ||
			    dev.ops.create(&dev, &hw, &handles[i], &error))
				return fprintf(stderr, "%s\n", error.message), 1;
		}
		for (uint32_t i = 0; i < n; i++)
			dev.ops.destroy(&dev, handles[i], &error);
		create = now_ns() - t0;
		printf("| %s | %.0f | %.0f | %.1f | %.0f | %.1f |\n", s.name, (double)validate / n,
		       (double)translate / n, (double)translate / (double)validate,
		       (double)create / n, (double)create / (double)validate);
	}
	hwdrv_close(&dev);
	free(handles);
	free(counter);
	free(t);
	return fake_ibv_live_total() == 0 ? 0 : 1;
}
