/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the soft datapath's packet path: the parser, then the
 * classifier against its linear baseline over a fixed rule set that uses
 * every matcher feature (exact tuples, tunnels, ranges, RAW search and
 * negative offsets, ANY, INVERT, GRE/GTP aliases).
 *
 * The input is one frame as captured. Bugs it catches: a read outside the
 * frame (ASan), a layer whose item-shaped bytes do not lie within the frame,
 * layers out of order, and any packet the tuple space classifies differently
 * from the linear scan.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "hwdrv/soft/classify.h"
#include "hwdrv/soft/packet.h"
#include "shm/rule/rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ITEM(ETH) hands ITEM_ an empty variadic argument: C11, no GNU extension. */
#define ITEM(...) ITEM_(__VA_ARGS__, )
#define ITEM_(t, ...)                                                                              \
	{                                                                                          \
		.type = MPF_FLOW_ITEM_TYPE_##t, __VA_ARGS__                                        \
	}
#define END	ITEM(END)
#define BE16(v) ((uint16_t)__builtin_bswap16((uint16_t)(v)))
#define BE32(v) ((uint32_t)__builtin_bswap32((uint32_t)(v)))

static const struct mpf_flow_item_ipv4 net10 = {.hdr.src_addr = BE32(0x0a000000)};
static const struct mpf_flow_item_ipv4 net10_mask = {.hdr.src_addr = BE32(0xff000000)};
static const struct mpf_flow_item_ipv4 range_lo = {.hdr.dst_addr = BE32(0x0a010203)};
static const struct mpf_flow_item_ipv4 range_hi = {.hdr.dst_addr = BE32(0x0a030405)};
static const struct mpf_flow_item_ipv4 range_mask = {.hdr.dst_addr = BE32(0xffff0000)};
static const struct mpf_flow_item_tcp http = {.hdr.dst_port = BE16(80)};
static const struct mpf_flow_item_udp dns = {.hdr.dst_port = BE16(53)};
static const struct mpf_flow_item_vxlan vni42 = {.vni = {0, 0, 42}};
static const struct mpf_flow_item_vlan vid5 = {.tci = BE16(5)};
static const struct mpf_flow_item_any any2 = {.num = 2};
static const struct mpf_flow_item_raw foo = {.relative = 1,
					     .search = 1,
					     .offset = 2,
					     .limit = 64,
					     .length = 3,
					     .pattern = (const uint8_t *)"foo"};
static const struct mpf_flow_item_raw back = {
	.relative = 1, .offset = -4, .length = 2, .pattern = (const uint8_t *)"\x00\x50"};
static const struct mpf_flow_item_ipv6 v6 = {.hdr.proto = 17};
static const struct mpf_flow_item_gtp teid = {.teid = BE32(7)};
static const struct mpf_flow_item_mpls label = {.label_tc_s = {0, 0x01, 0x01}};

static const struct mpf_flow_item patterns[][6] = {
	{ITEM(ETH), ITEM(IPV4, .spec = &net10, .mask = &net10_mask), ITEM(TCP, .spec = &http), END},
	{ITEM(ETH), ITEM(IPV4), ITEM(UDP, .spec = &dns), END},
	{ITEM(ETH), ITEM(VLAN, .spec = &vid5), ITEM(IPV4), END},
	{ITEM(ETH), ITEM(IPV4, .spec = &range_lo, .last = &range_hi, .mask = &range_mask), END},
	{ITEM(UDP), ITEM(VXLAN, .spec = &vni42), ITEM(ETH), ITEM(IPV6, .spec = &v6), END},
	{ITEM(ETH), ITEM(ANY, .spec = &any2), ITEM(TCP), ITEM(RAW, .spec = &foo), END},
	{ITEM(TCP), ITEM(RAW, .spec = &back), END},
	{ITEM(INVERT), ITEM(ETH), ITEM(IPV4), END},
	{ITEM(GRE), ITEM(IPV4), END},
	{ITEM(GTP, .spec = &teid), END},
	{ITEM(ETH), ITEM(MPLS, .spec = &label), END},
	{ITEM(ESP), END},
	{ITEM(ICMP), END},
	{ITEM(SCTP), END},
	{ITEM(ETH), END},
};
#define N_RULES (sizeof(patterns) / sizeof(patterns[0]))

static struct rcu rcu;
static struct cls cls;
static struct cls_rule rules[N_RULES];
static struct match_pattern patterns_compiled[N_RULES];
static struct pool pool; /* the rules' compiled items, for the whole run */
static const struct cls_rule *linear[N_RULES];

/* At exit, before the leak check: the compiled items live in the pool's
 * mapped chunks, which the leak checker does not scan for what they point
 * to (ranges, raw patterns). */
static void teardown(void)
{
	for (unsigned i = 0; i < N_RULES; i++)
		match_free(&patterns_compiled[i], &pool);
	cls_fini(&cls);
	pool_fini(&pool);
}

static void setup(void)
{
	static const struct mpf_flow_action drop[] = {{.type = MPF_FLOW_ACTION_TYPE_DROP},
						      {.type = MPF_FLOW_ACTION_TYPE_END}};
	const struct mpf_flow_attr ingress = {.ingress = 1};
	struct mpf_flow_error error;
	struct rule_shape shape;

	rcu_init(&rcu, 1);
	cls_init(&cls, &rcu);
	for (unsigned i = 0; i < N_RULES; i++) {
		struct cls_rule *r = &rules[i];

		struct hwdrv_rule hw = {
			.attr = &ingress, .pattern = patterns[i], .actions = drop, .shape = &shape};

		r->match = &patterns_compiled[i];
		if (rule_validate(&ingress, patterns[i], drop, &shape, &error) != 0 ||
		    match_compile(r->match, &hw, &pool, &error) != 0)
			abort();
		r->rank = i % 3; /* ties broken by creation order */
		r->seq = i + 1;
		r->terminating = i % 2 == 0;
		if (cls_insert(&cls, r) != 0)
			abort();
	}
	/* The baseline wants (rank, seq) order. */
	unsigned n = 0;
	for (uint64_t rank = 0; rank < 3; rank++)
		for (unsigned i = 0; i < N_RULES; i++)
			if (rules[i].rank == rank)
				linear[n++] = &rules[i];
	atexit(teardown);
}

static void check_layers(const struct packet *p)
{
	uint32_t previous = 0;

	if (p->n_layers > PACKET_LAYERS_MAX)
		abort();
	for (unsigned i = 0; i < p->n_layers; i++) {
		const struct packet_layer *l = &p->layers[i];
		const struct rule_item_desc *d = rule_item_desc(l->type);

		if (d == NULL || l->end > p->length || l->hdr > l->end)
			abort();
		if ((uint32_t)l->hdr + d->size > p->length)
			abort();
		/* VLAN and E_TAG start 2 bytes before their header proper. */
		if (l->hdr + 2u < previous)
			abort();
		previous = l->end;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct packet p = {.data = data,
			   .length = (uint32_t)size,
			   .wire_length = (uint32_t)size,
			   .function = PACKET_FUNCTION_PF};
	struct cls_result a, b;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size > 65535)
		return 0;
	packet_parse(&p);
	check_layers(&p);
	cls_lookup(&cls, &p, &a);
	cls_lookup_linear(linear, N_RULES, &p, &b);
	if (a.n != b.n || a.terminated != b.terminated || a.overflow != b.overflow)
		abort();
	for (unsigned i = 0; i < a.n; i++)
		if (a.rules[i] != b.rules[i])
			abort();
	return 0;
}
