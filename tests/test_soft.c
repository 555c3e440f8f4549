/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The soft datapath, in process: every example of rte_flow.rst that says
 * what a packet should undergo, with packets built here, delivered through
 * real RX queue rings (memfds, as a secondary would read them), counters
 * in a real counters array; the classifier against the linear baseline on
 * random rules; the parser on every truncation.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hwdrv/soft/soft.h"
#include "shm/region.h"
#include "tests/packet_builder.h"

#include "tests/rule_literals.h"
#define END_ITEM       ITEM(END)
#define END_ACTION     ACTION(END, NULL)
#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define BE32(x)	       __builtin_bswap32(x)
#define BE16(x)	       __builtin_bswap16(x)

#define QUEUES 16
#define VFS    2
#define PORTS  2
#define RULES  64

struct rig {
	struct hwdrv dev;
	struct soft *soft;
	struct ring rx[PORTS][QUEUES + VFS];
	void *mem[PORTS][QUEUES + VFS];
	size_t length;
	struct region_counter *counters;
	unsigned n_rules;
	uint64_t now_ns;
};

static int setup(void **state)
{
	struct hwdrv_config config = {
		.ports = PORTS, .queues = QUEUES, .vfs = VFS, .rxq_bytes = 1u << 16};
	struct rig *rig = calloc(1, sizeof(*rig));
	struct mpf_flow_error error;

	assert_int_equal(hwdrv_open(&rig->dev, "soft", &config, &error), 0);
	rig->soft = rig->dev.priv;
	rig->counters = aligned_alloc(64, RULES * sizeof(struct region_counter));
	memset(rig->counters, 0, RULES * sizeof(struct region_counter));
	for (unsigned p = 0; p < PORTS; p++)
		for (unsigned q = 0; q < QUEUES + VFS; q++) {
			uint16_t number = (uint16_t)(q < QUEUES ? q : RXQ_VF_BASE + q - QUEUES);
			int fds[HWDRV_QUEUE_FDS];

			assert_int_equal(rig->dev.ops.queue_attach(&rig->dev, (uint16_t)p, number,
								   false, 7, fds, &error),
					 0);
			/* One worker: one ring block, its counts then the ring. */
			rig->length =
				RXQ_HEADER_SIZE + RXQ_RING_STATS + ring_memsize(config.rxq_bytes);
			rig->mem[p][q] = mmap(NULL, rig->length, PROT_READ | PROT_WRITE, MAP_SHARED,
					      fds[0], 0);
			assert_true(rig->mem[p][q] != MAP_FAILED);
			assert_int_equal(ring_attach(&rig->rx[p][q],
						     (uint8_t *)rig->mem[p][q] + RXQ_HEADER_SIZE +
							     RXQ_RING_STATS,
						     rig->length - RXQ_HEADER_SIZE - RXQ_RING_STATS,
						     RING_CONSUMER, -1),
					 0);
		}
	rig->now_ns = 1000000000ull;
	*state = rig;
	return 0;
}

static int teardown(void **state)
{
	struct rig *rig = *state;

	for (unsigned p = 0; p < PORTS; p++)
		for (unsigned q = 0; q < QUEUES + VFS; q++)
			munmap(rig->mem[p][q], rig->length);
	hwdrv_close(&rig->dev);
	free(rig->counters);
	free(rig);
	return 0;
}

/* Create a rule on `port`; its counter (if it counts) is rig->counters[n].
 * Deferred: it takes traffic once ops.activate() is called. */
static void *rule_made(struct rig *rig, uint16_t port, const struct mpf_flow_attr *attr,
		       const struct mpf_flow_item *pattern, const struct mpf_flow_action *actions,
		       bool deferred)
{
	struct rule_shape shape;
	struct mpf_flow_error error = {0};
	struct hwdrv_rule hw;
	void *handle = NULL;
	struct region_counter *counter = &rig->counters[rig->n_rules++];

	assert_int_equal(rule_validate(attr, pattern, actions, &shape, &error), 0);
	region_counter_open(counter, 1, true);
	hw = (struct hwdrv_rule){.port = port,
				 .attr = attr,
				 .pattern = pattern,
				 .actions = actions,
				 .shape = &shape,
				 .counter = counter,
				 .deferred = deferred};
	if (rig->dev.ops.create(&rig->dev, &hw, &handle, &error) != 0)
		fail_msg("create: %s", error.message);
	return handle;
}

static void *rule_on(struct rig *rig, uint16_t port, const struct mpf_flow_attr *attr,
		     const struct mpf_flow_item *pattern, const struct mpf_flow_action *actions)
{
	return rule_made(rig, port, attr, pattern, actions, false);
}

static const struct mpf_flow_attr ingress = {.ingress = 1};

static void *rule(struct rig *rig, const struct mpf_flow_item *pattern,
		  const struct mpf_flow_action *actions)
{
	return rule_on(rig, 0, &ingress, pattern, actions);
}

static void destroy(struct rig *rig, void *handle)
{
	assert_int_equal(rig->dev.ops.destroy(&rig->dev, handle, NULL), 0);
}

static void send_on(struct rig *rig, uint16_t port, const struct frame *f)
{
	struct packet p = {.data = f->bytes,
			   .length = (uint32_t)f->length,
			   .wire_length = (uint32_t)f->length,
			   .port = port};

	p.function = packet_function(p.data, p.length, port, VFS);
	packet_parse(&p);
	soft_process(&rig->soft->workers[0], &rig->soft->ports[port], &p, false, rig->now_ns);
	soft_rxq_commit(&rig->soft->workers[0]);
}

static void send_frame(struct rig *rig, const struct frame *f)
{
	send_on(rig, 0, f);
}

/* Take every packet waiting on queue index q of port 0; the last one's
 * descriptor in *last. Returns how many. */
static unsigned received_on(struct rig *rig, unsigned port, unsigned q, struct rxq_desc *last)
{
	uint8_t buf[4096];
	unsigned n = 0;
	int length;

	while ((length = ring_dequeue(&rig->rx[port][q], buf, sizeof(buf))) > 0) {
		if (last)
			memcpy(last, buf, sizeof(*last));
		n++;
	}
	return n;
}

static unsigned received(struct rig *rig, unsigned q)
{
	return received_on(rig, 0, q, NULL);
}

/* Port 0's statistic `which` (enum region_port_stat), as the datapath
 * counted it. */
static uint64_t port_stat(struct rig *rig, unsigned which)
{
	return shm_load_relaxed64(&rig->soft->ports[0].stats->value[which]);
}

/* Queue index q of port 0: its statistic `which` (enum region_queue_stat). */
static uint64_t queue_stat(struct rig *rig, unsigned q, unsigned which)
{
	return shm_load_relaxed64(&rig->soft->ports[0].queues[q].stats->value[which]);
}

/* Queues of port 0 that hold a packet, as a bit set; emptied. */

static uint32_t delivered(struct rig *rig)
{
	uint32_t set = 0;

	for (unsigned q = 0; q < QUEUES + VFS; q++)
		if (received(rig, q))
			set |= 1u << q;
	return set;
}

static const struct mpf_flow_action_queue q1 = {.index = 1}, q2 = {.index = 2}, q3 = {.index = 3},
					  q5 = {.index = 5}, q8 = {.index = 8}, q10 = {.index = 10};

/* ------------------------------------------------------------------------ */
/* Matching pattern examples                                                */
/* ------------------------------------------------------------------------ */

static void test_tcpv4_as_l4_takes_tcp_over_ipv4_only(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(IPV4), ITEM(TCP), END_ITEM};
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q1), END_ACTION};
	struct frame tcp = frame_ipv4_l4(IP(10, 0, 0, 1), IP(10, 0, 0, 2), 6, 1234, 80, 0);
	struct frame udp = frame_ipv4_l4(IP(10, 0, 0, 1), IP(10, 0, 0, 2), 17, 1234, 80, 0);

	rule(rig, pattern, actions);
	send_frame(rig, &tcp);
	assert_int_equal(delivered(rig), 1u << 1);
	send_frame(rig, &udp);
	assert_int_equal(delivered(rig), 1u << 0); /* unmatched: the default queue */
}

static void test_meta_items_do_not_change_the_pattern(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item pattern[] = {ITEM(VOID), ITEM(ETH),	ITEM(VOID), ITEM(IPV4),
						ITEM(TCP),  ITEM(VOID), ITEM(VOID), END_ITEM};
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q1), END_ACTION};
	struct frame tcp = frame_ipv4_l4(IP(10, 0, 0, 1), IP(10, 0, 0, 2), 6, 1234, 80, 0);

	rule(rig, pattern, actions);
	send_frame(rig, &tcp);
	assert_int_equal(delivered(rig), 1u << 1);
}

static struct frame vxlan_frame(bool inner_v6, unsigned inner_proto)
{
	struct frame f = {.length = 0};

	frame_eth(&f, NULL, NULL, 0x0800);
	frame_ipv4(&f, IP(192, 168, 0, 1), IP(192, 168, 0, 2), 17);
	frame_udp(&f, 40000, PACKET_UDP_VXLAN);
	frame_vxlan(&f, 42);
	frame_eth(&f, NULL, NULL, inner_v6 ? 0x86dd : 0x0800);
	if (inner_v6)
		frame_ipv6(&f, 1, 2, inner_proto);
	else
		frame_ipv4(&f, IP(10, 0, 0, 1), IP(10, 0, 0, 2), inner_proto);
	if (inner_proto == 6)
		frame_tcp(&f, 1000, 2000);
	else
		frame_udp(&f, 1000, 2000);
	return f;
}

static void test_tcpv6_in_vxlan_matches_the_inner_stack(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(IPV4), ITEM(UDP), ITEM(VXLAN),
						ITEM(ETH), ITEM(IPV6), ITEM(TCP), END_ITEM};
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q2), END_ACTION};
	struct frame v6tcp = vxlan_frame(true, 6), v4tcp = vxlan_frame(false, 6);

	rule(rig, pattern, actions);
	send_frame(rig, &v6tcp);
	assert_int_equal(delivered(rig), 1u << 2);
	send_frame(rig, &v4tcp);
	assert_int_equal(delivered(rig), 1u << 0);
}

static void test_udpv6_anywhere_floats_over_the_stack(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item pattern[] = {ITEM(IPV6), ITEM(UDP), END_ITEM};
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q3), END_ACTION};
	struct frame plain = {.length = 0}, tunnelled = vxlan_frame(true, 17),
		     v6tcp = vxlan_frame(true, 6);

	frame_eth(&plain, NULL, NULL, 0x86dd);
	frame_ipv6(&plain, 1, 2, 17);
	frame_udp(&plain, 1, 2);
	rule(rig, pattern, actions);
	send_frame(rig, &plain);
	assert_int_equal(delivered(rig), 1u << 3);
	send_frame(rig, &tunnelled); /* the inner packet: both layers searched */
	assert_int_equal(delivered(rig), 1u << 3);
	send_frame(rig, &v6tcp);
	assert_int_equal(delivered(rig), 1u << 0);
}

static void test_eth_item_example_masks_bytes(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item_eth spec = {.src = {0x00, 0x01, 0x02, 0x03, 0x04, 0x00},
					       .dst = {0x00, 0x2a, 0x66, 0x00, 0x01, 0x00},
					       .type = RULE_BE16(0x22aa)};
	const struct mpf_flow_item_eth mask = {.src = {0x00, 0xff, 0xff, 0xff, 0x00, 0x00},
					       .dst = {0x00, 0x00, 0x00, 0x00, 0xff, 0x00}};
	const struct mpf_flow_item pattern[] = {ITEM(ETH, .spec = &spec, .mask = &mask), END_ITEM};
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q1), END_ACTION};
	const uint8_t src_hit[6] = {0xaa, 0x01, 0x02, 0x03, 0xbb, 0xcc};
	const uint8_t dst_hit[6] = {0x11, 0x22, 0x33, 0x44, 0x01, 0x55};
	const uint8_t src_miss[6] = {0xaa, 0x01, 0x02, 0x04, 0xbb, 0xcc};
	struct frame hit = {.length = 0}, miss = {.length = 0};

	frame_eth(&hit, dst_hit, src_hit, 0x1234);
	frame_eth(&miss, dst_hit, src_miss, 0x1234);
	rule(rig, pattern, actions);
	send_frame(rig, &hit);
	assert_int_equal(delivered(rig), 1u << 1);
	send_frame(rig, &miss);
	assert_int_equal(delivered(rig), 1u << 0);
}

static void test_invert_takes_anything_but_tcpv4(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item pattern[] = {ITEM(INVERT), ITEM(ETH), ITEM(IPV4), ITEM(TCP),
						END_ITEM};
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q5), END_ACTION};
	struct frame tcp = frame_ipv4_l4(1, 2, 6, 1, 2, 0), udp = frame_ipv4_l4(1, 2, 17, 1, 2, 0);

	rule(rig, pattern, actions);
	send_frame(rig, &udp);
	assert_int_equal(delivered(rig), 1u << 5);
	send_frame(rig, &tcp);
	assert_int_equal(delivered(rig), 1u << 0);
	/* The rule is port 0's: INVERT does not take port 1's traffic (the
	 * code before sent port 1's UDP and TCP frames alike to queue 5). */
	send_on(rig, 1, &udp);
	send_on(rig, 1, &tcp);
	assert_int_equal(received_on(rig, 1, 5, NULL), 0);
	assert_int_equal(received_on(rig, 1, 0, NULL), 2);
}

static void test_any_covers_layers_of_any_protocol(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item_any two = {.num = 2}, one = {.num = 1};
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(ANY, .spec = &two), ITEM(VXLAN),
						ITEM(ETH), ITEM(ANY, .spec = &one), ITEM(TCP),
						END_ITEM};
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q2), END_ACTION};
	struct frame v6 = vxlan_frame(true, 6), v4 = vxlan_frame(false, 6),
		     udp = vxlan_frame(false, 17);

	rule(rig, pattern, actions);
	send_frame(rig, &v6);
	assert_int_equal(delivered(rig), 1u << 2);
	send_frame(rig, &v4);
	assert_int_equal(delivered(rig), 1u << 2);
	send_frame(rig, &udp);
	assert_int_equal(delivered(rig), 1u << 0);
}

/* "foo" at least 10 bytes into the UDP payload, "bar" 20 bytes after
 * "foo", "baz" 29 bytes before the end of "bar". */
static struct frame foo_bar_baz(size_t foo_at)
{
	struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, 0);
	size_t payload = f.length;

	frame_put(&f, NULL, 80);
	memcpy(f.bytes + payload + foo_at, "foo", 3);
	memcpy(f.bytes + payload + foo_at + 3 + 20, "bar", 3);
	memcpy(f.bytes + payload + foo_at + 3 + 20 + 3 - 29, "baz", 3);
	return f;
}

static void test_raw_example_finds_foo_bar_baz(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item_raw foo = {.relative = 1,
					      .search = 1,
					      .offset = 10,
					      .length = 3,
					      .pattern = (const uint8_t *)"foo"};
	const struct mpf_flow_item_raw bar = {
		.relative = 1, .offset = 20, .length = 3, .pattern = (const uint8_t *)"bar"};
	const struct mpf_flow_item_raw baz = {
		.relative = 1, .offset = -29, .length = 3, .pattern = (const uint8_t *)"baz"};
	const struct mpf_flow_item pattern[] = {ITEM(ETH),
						ITEM(IPV4),
						ITEM(UDP),
						ITEM(RAW, .spec = &foo),
						ITEM(RAW, .spec = &bar),
						ITEM(RAW, .spec = &baz),
						END_ITEM};
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q3), END_ACTION};
	struct frame hit = foo_bar_baz(12), shallow = foo_bar_baz(5), broken = foo_bar_baz(12);

	broken.bytes[broken.length - 80 + 12 + 23] = 'c'; /* "bar" -> "car" */
	rule(rig, pattern, actions);
	send_frame(rig, &hit);
	assert_int_equal(delivered(rig), 1u << 3);
	send_frame(rig, &shallow); /* foo less than 10 bytes deep */
	assert_int_equal(delivered(rig), 1u << 0);
	send_frame(rig, &broken);
	assert_int_equal(delivered(rig), 1u << 0);
}

/*
 * Searches that match anywhere, chained: each RAW item searches from where
 * the one before ended, its one-byte pattern masked out, and a last one
 * that matches nowhere (or, in the second rule, at the frame's end). The
 * depth-first matcher tried every way of each item under every way of the
 * ones before: an outside test's rule of seven such items held a datapath
 * worker minutes a frame, and the loop's next RCU wait as long; ten would
 * take hours. By sets of positions each item is a pass over the frame.
 */
static void test_chained_searches_cost_a_pass_each(void **state)
{
	enum { SEARCHES = 10 };
	struct rig *rig = *state;
	static const uint8_t any_byte = 0, no_mask = 0, last[] = "zq", end[] = "\xee\xee";
	const struct mpf_flow_item_raw search = {
		.relative = 1, .search = 1, .limit = 65535, .length = 1, .pattern = &any_byte};
	const struct mpf_flow_item_raw search_mask = {.relative = 1,
						      .search = 1,
						      .offset = -1,
						      .limit = 0xffff,
						      .length = 0xffff,
						      .pattern = &no_mask};
	const struct mpf_flow_item_raw nowhere = {
		.relative = 1, .search = 1, .length = 2, .pattern = last};
	const struct mpf_flow_item_raw at_end = {
		.relative = 1, .search = 1, .length = 2, .pattern = end};
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q3), END_ACTION};
	struct mpf_flow_item pattern[SEARCHES + 3];
	struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, 0);

	pattern[0] = ITEM(ETH);
	for (unsigned i = 1; i <= SEARCHES; i++)
		pattern[i] = ITEM(RAW, .spec = &search, .mask = &search_mask);
	pattern[SEARCHES + 1] = ITEM(RAW, .spec = &nowhere);
	pattern[SEARCHES + 2] = END_ITEM;
	frame_put(&f, NULL, 400); /* zeros: any byte, never "zq" */
	destroy(rig, rule(rig, pattern, actions));
	rule(rig, pattern, actions);
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 0);
	pattern[SEARCHES + 1] = ITEM(RAW, .spec = &at_end);
	memcpy(frame_put(&f, NULL, 2), end, 2);
	rule(rig, pattern, actions);
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 3);
}

/*
 * Both ways of walking a pattern give the same answer: random patterns of
 * header, ANY and RAW items (searches with and without limits, offsets
 * below zero, some past the frame's start and some near -2^31, masked-out
 * bytes) against random frames, depth first and by sets of positions.
 * Both walked from the offset before the frame: -2^31 took seconds a
 * frame (a reviewer's finding).
 */
static void test_matching_by_sets_agrees_with_depth_first(void **state)
{
	enum { PATTERNS = 300, FRAMES = 40, ITEMS = 5, BRANCHING = 3 };
	struct rig *rig = *state;
	static const uint8_t alphabet[] = "ab";
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q3), END_ACTION};
	unsigned hits = 0, both = 0;

	srand(11);
	for (unsigned n = 0; n < PATTERNS; n++) {
		struct mpf_flow_item_raw raw[ITEMS], raw_mask[ITEMS];
		struct mpf_flow_item_any any[ITEMS], any_mask[ITEMS];
		uint8_t bytes[ITEMS][3], masks[ITEMS][3];
		struct mpf_flow_item pattern[ITEMS + 2];
		unsigned k = 0, items = 1 + (unsigned)rand() % ITEMS, branching = 0;
		struct match_pattern m;
		struct mpf_flow_error error;
		struct rule_shape shape;
		struct hwdrv_rule hw = {
			.attr = &ingress, .pattern = pattern, .actions = actions, .shape = &shape};

		if (rand() % 2)
			pattern[k++] = ITEM(ETH);
		for (unsigned i = 0; i < items; i++) {
			int kind = rand() % 8;

			if (kind == 0) {
				/* A header where one may stand. */
				bool after_ip = k && pattern[k - 1].type == MPF_FLOW_ITEM_TYPE_IPV4;
				bool after_eth = k && pattern[k - 1].type == MPF_FLOW_ITEM_TYPE_ETH;

				if (k && pattern[k - 1].type == MPF_FLOW_ITEM_TYPE_UDP)
					continue; /* nothing stands on UDP here */
				pattern[k++] = after_ip	   ? ITEM(UDP)
					       : after_eth ? ITEM(IPV4)
							   : ITEM(UDP);
			} else if (kind == 1) {
				/* Depth first, branches multiply: a few, for its time. */
				bool spans = branching < BRANCHING && rand() % 2;

				branching += spans;
				any[i] = (struct mpf_flow_item_any){.num = (uint32_t)(rand() % 3)};
				any_mask[i] = (struct mpf_flow_item_any){.num = spans ? 0 : ~0u};
				pattern[k++] = ITEM(ANY, .spec = &any[i], .mask = &any_mask[i]);
			} else {
				uint16_t length = (uint16_t)(rand() % 3);

				for (unsigned b = 0; b < length; b++) {
					bytes[i][b] = alphabet[rand() % 2];
					masks[i][b] = rand() % 4 ? 0xff : 0;
				}
				raw[i] = (struct mpf_flow_item_raw){
					.relative = rand() % 4 != 0,
					.search = branching < BRANCHING && rand() % 2,
					.offset = rand() % 8   ? rand() % 9 - 2
						  : rand() % 2 ? -(rand() % 120)
							       : INT32_MIN + rand() % 120,
					.length = length,
					.pattern = bytes[i]};
				if (!raw[i].relative && raw[i].offset < 0)
					raw[i].offset = 0;
				if (raw[i].search)
					raw[i].limit = (uint16_t)(rand() % 3 ? rand() % 12 : 0);
				branching += raw[i].search;
				raw_mask[i] = (struct mpf_flow_item_raw){.relative = 1,
									 .search = 1,
									 .offset = -1,
									 .limit = 0xffff,
									 .length = 0xffff,
									 .pattern = masks[i]};
				pattern[k++] = ITEM(RAW, .spec = &raw[i], .mask = &raw_mask[i]);
			}
		}
		pattern[k] = END_ITEM;
		if (rule_validate(&ingress, pattern, actions, &shape, &error) != 0)
			fail_msg("pattern %u: %s", n, error.message);
		assert_int_equal(match_compile(&m, &hw, &rig->soft->pool, &error), 0);
		for (unsigned f = 0; f < FRAMES; f++) {
			struct frame fr = frame_ipv4_l4(1, 2, 17, 1, 2, 0);
			unsigned payload = (unsigned)rand() % 40;
			struct packet p;
			bool deep, sets;

			for (unsigned b = 0; b < payload; b++)
				frame_put(&fr, &alphabet[rand() % 2], 1);
			p = (struct packet){.data = fr.bytes,
					    .length = (uint32_t)fr.length,
					    .function = PACKET_FUNCTION_PF};
			packet_parse(&p);
			deep = match_walk(&m, &p, MATCH_DEPTH_FIRST);
			sets = match_walk(&m, &p, MATCH_BY_SETS);
			if (deep != sets)
				fail_msg("pattern %u, frame %u: depth first %d, by sets %d", n, f,
					 deep, sets);
			hits += deep;
			both++;
		}
		match_free(&m, &rig->soft->pool);
	}
	/* Neither all nor none: the patterns tell frames apart. */
	assert_true(hits > both / 20 && hits < both - both / 20);
}

/*
 * A packet runs 32 rules at most: past that, the ones that come first by
 * group, priority and age stay, whichever the search found first. Here 5
 * general rules of priority 20 (found first: the general list is searched
 * before the tuples) and 35 keyed rules of priority 0, all only counting,
 * take one packet: the 32 oldest of priority 0 count it, and the port's
 * overflow says the packet met more. (The code before kept the first 31
 * found: the 5 of priority 20 counted, 5 of priority 0 did not.)
 */
static void test_a_packet_past_32_rules_runs_the_first_ones(void **state)
{
	enum { LOW = 5, HIGH = 35 };
	struct rig *rig = *state;
	const struct mpf_flow_attr low = {.ingress = 1, .priority = 20};
	const struct mpf_flow_item_any one = {.num = 1};
	const struct mpf_flow_item_udp port = {.hdr.dst_port = BE16(7777)};
	const struct mpf_flow_item general[] = {ITEM(ETH), ITEM(ANY, .spec = &one),
						ITEM(UDP, .spec = &port), END_ITEM};
	const struct mpf_flow_item keyed[] = {ITEM(ETH), ITEM(IPV4), ITEM(UDP, .spec = &port),
					      END_ITEM};
	const struct mpf_flow_action count[] = {ACTION(COUNT, NULL), END_ACTION};
	struct frame f = frame_ipv4_l4(1, 2, 17, 0, 7777, 0); /* the default mask: source 0 */
	struct region_count c;

	for (unsigned i = 0; i < LOW; i++)
		rule_on(rig, 0, &low, general, count);
	for (unsigned i = 0; i < HIGH; i++)
		rule_on(rig, 0, &ingress, keyed, count);
	send_frame(rig, &f);
	for (unsigned i = 0; i < LOW + HIGH; i++) {
		assert_int_equal(region_counter_read(&rig->counters[i], 1, &c), 0);
		if (c.hits != (i >= LOW && i < LOW + 32))
			fail_msg("rule %u (priority %u) counted %llu", i, i < LOW ? 20 : 0,
				 (unsigned long long)c.hits);
	}
	assert_int_equal(shm_load_relaxed64(&rig->soft->ports[0].overflow), 1);
	assert_int_equal(delivered(rig), 1u << 0);
}

/*
 * GRE of version 1 (PPTP) is a GRE layer: `gre` takes it, and its version
 * is a field a rule may match (the parser stopped before it, and neither
 * matched: an outside test's PPTP frame was never counted).
 */
static void test_gre_of_version_1_is_a_gre_layer(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item_gre v1 = {.c_rsvd0_ver = BE16(0x0001)},
				       version = {.c_rsvd0_ver = BE16(0x0007)};
	const struct mpf_flow_item any_gre[] = {ITEM(ETH), ITEM(IPV4), ITEM(GRE), END_ITEM};
	const struct mpf_flow_item gre_v1[] = {ITEM(ETH), ITEM(IPV4),
					       ITEM(GRE, .spec = &v1, .mask = &version), END_ITEM};
	const struct mpf_flow_action to_q1[] = {ACTION(QUEUE, &q1), END_ACTION};
	const struct mpf_flow_action to_q3[] = {ACTION(QUEUE, &q3), END_ACTION};
	/* Flags K and S, version 1; PPP; key; sequence number. */
	static const uint8_t pptp[] = {0x30, 0x01, 0x88, 0x0b, 0,    4, 0, 9,
				       0,    0,	   0,	 1,    0xff, 3, 0, 0x21};
	struct frame f = {.length = 0};
	void *rule_any;

	frame_eth(&f, NULL, NULL, 0x0800);
	frame_ipv4(&f, 1, 2, 47);
	frame_put(&f, pptp, sizeof(pptp));
	rule_any = rule(rig, any_gre, to_q1);
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 1);
	destroy(rig, rule_any);
	rule(rig, gre_v1, to_q3);
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 3);
}

/*
 * ESP in UDP 4500 (NAT traversal, RFC 3948) is an ESP layer, as the rule
 * model's stacking (UDP: ... ESP) lets a rule say; 4 zero bytes first (the
 * non-ESP marker) are IKE, not ESP. (The parser stopped at UDP: an outside
 * test's `udp / esp spi is 0x1234` was accepted and never matched.)
 */
static void test_esp_in_udp_4500_is_an_esp_layer(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item_esp spi = {.hdr.spi = BE32(0x1234)};
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(IPV4), ITEM(UDP),
						ITEM(ESP, .spec = &spi), END_ITEM};
	const struct mpf_flow_action to_q3[] = {ACTION(QUEUE, &q3), END_ACTION};
	static const uint8_t esp[] = {0, 0, 0x12, 0x34, 0, 0, 0, 1};
	static const uint8_t ike[] = {0, 0, 0, 0, 0, 0, 0x12, 0x34};
	struct frame nat_t = frame_ipv4_l4(1, 2, 17, 4500, 4500, 0);
	struct frame not_esp = frame_ipv4_l4(1, 2, 17, 4500, 4500, 0);

	frame_put(&nat_t, esp, sizeof(esp));
	frame_put(&not_esp, ike, sizeof(ike));
	rule(rig, pattern, to_q3);
	send_frame(rig, &nat_t);
	assert_int_equal(delivered(rig), 1u << 3);
	send_frame(rig, &not_esp);
	assert_int_equal(delivered(rig), 1u << 0);
}

/* An item without spec matches any such header; RAW's "header" is any
 * data, so a RAW without spec takes every frame. Every item type alone,
 * without spec, is taken or refused with a reason: never a crash. */
static void test_items_without_spec_match_broadly(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q3), END_ACTION};
	const struct mpf_flow_item raw[] = {ITEM(ETH), ITEM(RAW), END_ITEM};
	struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, 0);

	destroy(rig, rule(rig, raw, actions));
	for (int t = 1; t < MPF_FLOW_ITEM_TYPES; t++) {
		const struct mpf_flow_item alone[] = {{.type = (enum mpf_flow_item_type)t},
						      END_ITEM};
		struct mpf_flow_error error = {0};
		struct rule_shape shape;
		struct hwdrv_rule hw = {
			.attr = &ingress, .pattern = alone, .actions = actions, .shape = &shape};
		void *handle = NULL;

		if (rule_validate(&ingress, alone, actions, &shape, &error) != 0)
			continue;
		if (rig->dev.ops.create(&rig->dev, &hw, &handle, &error) != 0) {
			assert_true(error.message[0] != '\0');
			continue;
		}
		send_frame(rig, &f);
		delivered(rig);
		destroy(rig, handle);
	}
	rule(rig, raw, actions);
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 3);
}

static void test_range_with_mask_spans_the_document_example(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item_ipv4 spec = {.hdr.src_addr = BE32(IP(10, 1, 2, 3))};
	const struct mpf_flow_item_ipv4 last = {.hdr.src_addr = BE32(IP(10, 3, 4, 5))};
	const struct mpf_flow_item_ipv4 mask = {.hdr.src_addr = BE32(IP(255, 255, 0, 0))};
	const struct mpf_flow_item pattern[] = {
		ITEM(ETH), ITEM(IPV4, .spec = &spec, .last = &last, .mask = &mask), END_ITEM};
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q1), END_ACTION};
	const uint32_t in[] = {IP(10, 1, 0, 0), IP(10, 2, 9, 9), IP(10, 3, 255, 255)};
	const uint32_t out[] = {IP(10, 0, 255, 255), IP(10, 4, 0, 0), IP(11, 1, 0, 0)};

	rule(rig, pattern, actions);
	for (unsigned i = 0; i < 3; i++) {
		struct frame f = frame_ipv4_l4(in[i], 1, 17, 1, 2, 0);

		send_frame(rig, &f);
		assert_int_equal(delivered(rig), 1u << 1);
		f = frame_ipv4_l4(out[i], 1, 17, 1, 2, 0);
		send_frame(rig, &f);
		assert_int_equal(delivered(rig), 1u << 0);
	}
}

/* A last that is zero under the mask makes no range: the rule matches its
 * masked spec, as the model resolved it (not an empty range 5..0). */
static void test_last_zero_under_the_mask_matches_the_spec(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item_udp spec = {.hdr.dst_port = BE16(5)};
	const struct mpf_flow_item_udp last = {.hdr.dst_port = BE16(0x10)};
	const struct mpf_flow_item_udp mask = {.hdr.dst_port = BE16(0x0f)};
	const struct mpf_flow_item pattern[] = {
		ITEM(ETH), ITEM(IPV4), ITEM(UDP, .spec = &spec, .last = &last, .mask = &mask),
		END_ITEM};
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q1), END_ACTION};
	struct frame five = frame_ipv4_l4(1, 2, 17, 9, 5, 0);
	struct frame twenty_one = frame_ipv4_l4(1, 2, 17, 9, 0x15, 0);
	struct frame six = frame_ipv4_l4(1, 2, 17, 9, 6, 0);

	rule(rig, pattern, actions);
	send_frame(rig, &five);
	assert_int_equal(delivered(rig), 1u << 1);
	send_frame(rig, &twenty_one); /* 0x15 & 0x0f == 5 */
	assert_int_equal(delivered(rig), 1u << 1);
	send_frame(rig, &six);
	assert_int_equal(delivered(rig), 1u << 0);
}

/* ------------------------------------------------------------------------ */
/* Action list examples                                                     */
/* ------------------------------------------------------------------------ */

#define ANY_ETH const struct mpf_flow_item any_eth[] = {ITEM(ETH), END_ITEM}

static void test_drop_and_queue_5_delivers_to_5(void **state)
{
	struct rig *rig = *state;
	ANY_ETH;
	const struct mpf_flow_action actions[] = {ACTION(DROP, NULL), ACTION(QUEUE, &q5),
						  END_ACTION};
	struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, 0);

	rule(rig, any_eth, actions);
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 5);
}

static void test_queue_5_then_3_delivers_to_3(void **state)
{
	struct rig *rig = *state;
	ANY_ETH;
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q5), ACTION(VOID, NULL),
						  ACTION(QUEUE, &q3), END_ACTION};
	struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, 0);

	rule(rig, any_eth, actions);
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 3);
}

static void test_passthru_copies_to_8_and_goes_on(void **state)
{
	struct rig *rig = *state;
	ANY_ETH;
	const struct mpf_flow_attr first = {.ingress = 1, .priority = 0};
	const struct mpf_flow_attr later = {.ingress = 1, .priority = 1};
	const struct mpf_flow_action copy[] = {ACTION(PASSTHRU, NULL), ACTION(QUEUE, &q8),
					       END_ACTION};
	const struct mpf_flow_action to2[] = {ACTION(QUEUE, &q2), END_ACTION};
	struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, 0);

	rule_on(rig, 0, &later, any_eth, to2);
	rule_on(rig, 0, &first, any_eth, copy);
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 8 | 1u << 2);
}

static void test_dup_copies_alongside_the_fate(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_action_dup dup2 = {.index = 2};
	const struct mpf_flow_action with_queue[] = {ACTION(DUP, &dup2), ACTION(QUEUE, &q1),
						     END_ACTION};
	const struct mpf_flow_action alone[] = {ACTION(DUP, &dup2), END_ACTION};
	const struct mpf_flow_item_ipv4 a = {.hdr.src_addr = BE32(1)},
					b = {.hdr.src_addr = BE32(9)};
	const struct mpf_flow_item_ipv4 src = {.hdr.src_addr = BE32(0xffffffffu)};
	const struct mpf_flow_item pa[] = {ITEM(ETH), ITEM(IPV4, .spec = &a, .mask = &src),
					   END_ITEM};
	const struct mpf_flow_item pb[] = {ITEM(ETH), ITEM(IPV4, .spec = &b, .mask = &src),
					   END_ITEM};
	struct frame fa = frame_ipv4_l4(1, 2, 17, 1, 2, 0), fb = frame_ipv4_l4(9, 2, 17, 1, 2, 0);

	rule(rig, pa, with_queue);
	rule(rig, pb, alone);
	send_frame(rig, &fa);
	assert_int_equal(delivered(rig), 1u << 1 | 1u << 2);
	send_frame(rig, &fb); /* DUP alone is QUEUE + PASSTHRU: the default still applies */
	assert_int_equal(delivered(rig), 1u << 2 | 1u << 0);
}

/* DROP drops the packet, not the copies already made (rte_flow.rst,
 * "Action: PASSTHRU": the packet is copied and processing continues;
 * "Action: DUP"): an earlier passthru rule's copy and the dropping rule's
 * own DUP still arrive. */
static void test_drop_keeps_the_copies_already_made(void **state)
{
	struct rig *rig = *state;
	ANY_ETH;
	const struct mpf_flow_attr first = {.ingress = 1, .priority = 0};
	const struct mpf_flow_attr later = {.ingress = 1, .priority = 1};
	const struct mpf_flow_action_dup dup5 = {.index = 5};
	const struct mpf_flow_action copy[] = {ACTION(PASSTHRU, NULL), ACTION(QUEUE, &q8),
					       END_ACTION};
	const struct mpf_flow_action dup_drop[] = {ACTION(DUP, &dup5), ACTION(DROP, NULL),
						   END_ACTION};
	struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, 0);

	void *d = rule_on(rig, 0, &later, any_eth, dup_drop);
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 5);
	assert_int_equal(port_stat(rig, REGION_PORT_RX_DROPPED), 1);
	rule_on(rig, 0, &first, any_eth, copy);
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 8 | 1u << 5);
	assert_int_equal(port_stat(rig, REGION_PORT_RX_DROPPED), 2);
	destroy(rig, d);
	rule_on(rig, 0, &later, any_eth,
		(const struct mpf_flow_action[]){ACTION(DROP, NULL), END_ACTION});
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 8); /* no default delivery */
	assert_int_equal(port_stat(rig, REGION_PORT_RX_DROPPED), 3);
}

static void test_count_and_drop_counts_every_byte(void **state)
{
	struct rig *rig = *state;
	ANY_ETH;
	const struct mpf_flow_action actions[] = {ACTION(COUNT, NULL), ACTION(DROP, NULL),
						  END_ACTION};
	struct region_count count;
	uint64_t bytes = 0;

	rule(rig, any_eth, actions);
	for (unsigned i = 0; i < 10; i++) {
		struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, i * 7);

		bytes += f.length;
		send_frame(rig, &f);
	}
	assert_int_equal(delivered(rig), 0);
	assert_int_equal(region_counter_read(&rig->counters[0], 1, &count), 0);
	assert_int_equal(count.hits, 10);
	assert_int_equal(count.bytes, bytes);
	assert_int_equal(port_stat(rig, REGION_PORT_RX_DROPPED), 10);
}

static void test_mark_count_redirect_marks_the_descriptor(void **state)
{
	struct rig *rig = *state;
	ANY_ETH;
	const struct mpf_flow_action_mark mark = {.id = 0x2a};
	const struct mpf_flow_action actions[] = {ACTION(MARK, &mark), ACTION(COUNT, NULL),
						  ACTION(QUEUE, &q10), END_ACTION};
	struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, 10);
	struct rxq_desc desc = {0};
	struct region_count count;

	rule(rig, any_eth, actions);
	send_frame(rig, &f);
	assert_int_equal(received_on(rig, 0, 10, &desc), 1);
	assert_true(desc.flags & RXQ_DESC_MARK);
	assert_int_equal(desc.mark, 0x2a);
	assert_int_equal(desc.length, f.length);
	assert_int_equal(desc.queue, 10);
	assert_int_equal(region_counter_read(&rig->counters[0], 1, &count), 0);
	assert_int_equal(count.hits, 1);
	assert_int_equal(count.bytes, f.length);
}

static void test_lower_group_wins_over_lower_priority(void **state)
{
	struct rig *rig = *state;
	ANY_ETH;
	const struct mpf_flow_attr g8p0 = {.ingress = 1, .group = 8, .priority = 0};
	const struct mpf_flow_attr g0p8 = {.ingress = 1, .group = 0, .priority = 8};
	const struct mpf_flow_action to1[] = {ACTION(QUEUE, &q1), END_ACTION};
	const struct mpf_flow_action to2[] = {ACTION(QUEUE, &q2), END_ACTION};
	const struct mpf_flow_action to3[] = {ACTION(QUEUE, &q3), END_ACTION};
	struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, 0);
	void *r2;

	rule_on(rig, 0, &g8p0, any_eth, to1);
	r2 = rule_on(rig, 0, &g0p8, any_eth, to2);
	rule_on(rig, 0, &g0p8, any_eth, to3); /* same level, younger: never first */
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 2);
	destroy(rig, r2);
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 3);
}

static void test_rss_is_toeplitz_and_keeps_a_flow_on_one_queue(void **state)
{
	struct rig *rig = *state;
	ANY_ETH;
	/* The Microsoft RSS verification suite: 66.9.149.187:2794 ->
	 * 161.142.100.80:1766, IPv4 with TCP ports: 0x51ccc178. */
	struct frame f =
		frame_ipv4_l4(IP(66, 9, 149, 187), IP(161, 142, 100, 80), 6, 2794, 1766, 0);
	const uint16_t queues[] = {4, 5, 6, 7};
	const struct mpf_flow_action_rss rss = {
		.types = MPF_RSS_NONFRAG_IPV4_TCP, .queue_num = 4, .queue = queues};
	const struct mpf_flow_action actions[] = {ACTION(RSS, &rss), END_ACTION};
	struct rxq_desc desc = {0};
	uint32_t seen = 0;

	rule(rig, any_eth, actions);
	send_frame(rig, &f);
	assert_int_equal(received_on(rig, 0, 4 + 0x51ccc178u % 4, &desc), 1);
	assert_true(desc.flags & RXQ_DESC_RSS);
	assert_int_equal(desc.rss_hash, 0x51ccc178u);
	srand(7);
	for (unsigned i = 0; i < 64; i++) {
		struct frame g = frame_ipv4_l4((uint32_t)rand(), (uint32_t)rand(), 6,
					       (unsigned)rand() & 0xffff, 80, 0);
		uint32_t before;

		send_frame(rig, &g);
		before = delivered(rig);
		send_frame(rig, &g);
		assert_int_equal(delivered(rig), before);
		seen |= before;
	}
	assert_int_equal(seen, 0xf0u); /* 64 flows spread over all four queues */
}

/*
 * A datagram's fragments go to one queue: a first fragment (MF set) is
 * hashed by its addresses, as the later ones (which carry no ports) are,
 * under `ipv4 ipv4-udp`; whole datagrams by addresses and ports. Under
 * `ipv4-other` alone a UDP datagram is not hashed. (The code before hashed
 * a first fragment's ports too: 15 of an outside test's 16 datagrams had
 * their two fragments on different queues.)
 */
static void test_rss_keeps_a_datagram_s_fragments_together(void **state)
{
	struct rig *rig = *state;
	ANY_ETH;
	const uint16_t queues[] = {0, 1, 2, 3};
	const struct mpf_flow_action_rss rss = {.types = MPF_RSS_IPV4 | MPF_RSS_NONFRAG_IPV4_UDP,
						.queue_num = 4,
						.queue = queues},
					 other = {.types = MPF_RSS_NONFRAG_IPV4_OTHER,
						  .queue_num = 4,
						  .queue = queues};
	const struct mpf_flow_action actions[] = {ACTION(RSS, &rss), END_ACTION};
	const struct mpf_flow_action other_only[] = {ACTION(RSS, &other), END_ACTION};
	void *by_types = rule(rig, any_eth, actions);
	uint32_t spread = 0;
	struct rxq_desc desc = {0};

	for (unsigned i = 0; i < 16; i++) {
		struct frame first = frame_ipv4_l4(IP(10, 0, 0, i), IP(10, 0, 1, 1), 17, 1000 + i,
						   53, 0),
			     later = frame_ipv4_l4(IP(10, 0, 0, i), IP(10, 0, 1, 1), 17, 0, 0, 0);
		uint32_t a, b;

		first.bytes[14 + 6] = 0x20; /* MF */
		later.bytes[14 + 7] = 0x10; /* offset 128 */
		send_frame(rig, &first);
		a = delivered(rig);
		send_frame(rig, &later);
		b = delivered(rig);
		if (a != b)
			fail_msg("datagram %u: its fragments went to queues %#x and %#x", i, a, b);
		spread |= a;
	}
	assert_true(__builtin_popcount(spread) > 1);
	destroy(rig, by_types);
	rule(rig, any_eth, other_only);
	{
		struct frame udp = frame_ipv4_l4(1, 2, 17, 7, 53, 0);

		send_frame(rig, &udp);
		assert_int_equal(received_on(rig, 0, 0, &desc), 1);
		assert_false(desc.flags & RXQ_DESC_RSS);
	}
}

static void test_isolated_port_drops_what_no_rule_takes(void **state)
{
	struct rig *rig = *state;
	struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, 0);

	assert_int_equal(rig->dev.ops.isolate(&rig->dev, 0, true, NULL), 0);
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 0);
	assert_int_equal(rig->dev.ops.isolate(&rig->dev, 0, false, NULL), 0);
	send_frame(rig, &f);
	assert_int_equal(delivered(rig), 1u << 0);
}

static void test_vf_items_and_actions_follow_the_destination_mac(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item_vf vf1 = {.id = 1}, exact = {.id = UINT32_MAX};
	const struct mpf_flow_item to_vf1[] = {ITEM(VF, .spec = &vf1, .mask = &exact), ITEM(ETH),
					       END_ITEM};
	const struct mpf_flow_item to_pf[] = {ITEM(PF), ITEM(ETH), END_ITEM};
	const struct mpf_flow_action_vf redirect = {.id = 0};
	const struct mpf_flow_action to_q1[] = {ACTION(QUEUE, &q1), END_ACTION};
	const struct mpf_flow_action to_vf0[] = {ACTION(VF, &redirect), END_ACTION};
	uint8_t mac1[6], mac0[6];
	struct frame a = {.length = 0}, b = {.length = 0}, c = {.length = 0};

	packet_vf_mac(0, 1, mac1);
	packet_vf_mac(0, 0, mac0);
	frame_eth(&a, mac1, NULL, 0x0800);
	frame_ipv4(&a, 1, 2, 17);
	frame_eth(&b, mac0, NULL, 0x0800);
	frame_ipv4(&b, 1, 2, 17);
	frame_eth(&c, NULL, NULL, 0x0800);
	frame_ipv4(&c, 1, 2, 17);
	send_frame(rig, &b); /* no rule: a VF's frame goes to that VF */
	assert_int_equal(delivered(rig), 1u << QUEUES);
	rule(rig, to_vf1, to_q1);
	rule(rig, to_pf, to_vf0);
	send_frame(rig, &a);
	assert_int_equal(delivered(rig), 1u << 1);
	send_frame(rig, &b); /* VF 0 is not VF 1, and not the PF */
	assert_int_equal(delivered(rig), 1u << QUEUES);
	send_frame(rig, &c);
	assert_int_equal(delivered(rig), 1u << QUEUES);
}

static void test_port_item_selects_the_physical_port(void **state)
{
	struct rig *rig = *state;
	const struct mpf_flow_item_port one = {.index = 1}, exact = {.index = UINT32_MAX};
	const struct mpf_flow_item pattern[] = {ITEM(PORT, .spec = &one, .mask = &exact), ITEM(ETH),
						END_ITEM};
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q3), END_ACTION};
	struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, 0);

	const struct mpf_flow_item_port zero = {.index = 0};
	const struct mpf_flow_item either[] = {ITEM(PORT, .spec = &one, .mask = &exact),
					       ITEM(PORT, .spec = &zero, .mask = &exact), ITEM(ETH),
					       END_ITEM};
	const struct mpf_flow_action to_5[] = {ACTION(QUEUE, &q5), END_ACTION};

	rule(rig, pattern, actions);
	send_on(rig, 1, &f);
	assert_int_equal(received_on(rig, 1, 3, NULL), 1);
	send_on(rig, 0, &f); /* port 0's own traffic no longer selected */
	assert_int_equal(delivered(rig), 1u << 0);
	/* Two PORT items: either port; the first rule keeps port 1's. */
	rule(rig, either, to_5);
	send_on(rig, 0, &f);
	assert_int_equal(received_on(rig, 0, 5, NULL), 1);
	send_on(rig, 1, &f);
	assert_int_equal(received_on(rig, 1, 3, NULL), 1);
}

static void test_meter_colors_per_rfc_2698(void **state)
{
	struct rig *rig = *state;
	ANY_ETH;
	const struct hwdrv_meter params = {
		.cir = 1000, .cbs = 200, .pir = 2000, .pbs = 400, .drop = HWDRV_METER_DROP_RED};
	const struct mpf_flow_action_meter meter = {.mtr_id = 9};
	const struct mpf_flow_action actions[] = {ACTION(METER, &meter), ACTION(QUEUE, &q1),
						  END_ACTION};
	struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, 100 - 42);
	struct hwdrv_meter_stats stats;
	unsigned got = 0;

	assert_int_equal(f.length, 100);
	assert_int_equal(rig->dev.ops.meter_create(&rig->dev, 0, 9, &params, NULL), 0);
	rule(rig, any_eth, actions);
	/* At one instant: 200 committed bytes are two green frames, the
	 * peak's other 200 two yellow, then red, dropped. */
	for (unsigned i = 0; i < 6; i++) {
		send_frame(rig, &f);
		got += received(rig, 1);
	}
	assert_int_equal(got, 4);
	assert_int_equal(rig->dev.ops.meter_query(&rig->dev, 0, 9, true, &stats, NULL), 0);
	assert_int_equal(stats.packets[0], 2);
	assert_int_equal(stats.packets[1], 2);
	assert_int_equal(stats.packets[2], 2);
	assert_int_equal(stats.bytes[2], 200);
	/* 0.1 s later: 100 committed and 200 peak bytes came back. */
	rig->now_ns += 100000000ull;
	for (unsigned i = 0; i < 4; i++)
		send_frame(rig, &f);
	assert_int_equal(rig->dev.ops.meter_query(&rig->dev, 0, 9, false, &stats, NULL), 0);
	assert_int_equal(stats.packets[0], 1);
	assert_int_equal(stats.packets[1], 1);
	assert_int_equal(stats.packets[2], 2);
	assert_int_equal(rig->dev.ops.meter_destroy(&rig->dev, 0, 9, NULL), -EBUSY);
}

static void test_egress_rules_see_transmitted_packets_only(void **state)
{
	struct rig *rig = *state;
	ANY_ETH;
	const struct mpf_flow_attr egress = {.egress = 1};
	const struct mpf_flow_action actions[] = {ACTION(COUNT, NULL), ACTION(DROP, NULL),
						  END_ACTION};
	const struct mpf_flow_action to_q1[] = {ACTION(QUEUE, &q1), END_ACTION};
	struct frame f = frame_ipv4_l4(1, 2, 17, 1, 2, 0);
	struct packet p = {.data = f.bytes,
			   .length = (uint32_t)f.length,
			   .wire_length = (uint32_t)f.length,
			   .function = PACKET_FUNCTION_PF};
	struct region_count count;
	struct mpf_flow_error error;

	/* The model refuses it before any backend sees it. */
	assert_int_equal(rule_validate(&egress, any_eth, to_q1, NULL, &error), -ENOTSUP);
	assert_int_equal(error.cause, 0);
	rule_on(rig, 0, &egress, any_eth, actions);
	send_frame(rig, &f); /* received: the egress rule does not apply */
	assert_int_equal(delivered(rig), 1u << 0);
	packet_parse(&p);
	soft_process(&rig->soft->workers[0], &rig->soft->ports[0], &p, true, rig->now_ns);
	assert_int_equal(region_counter_read(&rig->counters[0], 1, &count), 0);
	assert_int_equal(count.hits, 1);
	assert_int_equal(port_stat(rig, REGION_PORT_TX_PACKETS), 0);
}

/* Every packet ends in one of the port's fates, each counted once; the
 * queues count what reached them and what they lost, and why. */
static void test_port_statistics_account_for_every_packet(void **state)
{
	struct rig *rig = *state;
	uint32_t ticket = 0;
	ANY_ETH;
	const struct mpf_flow_item_udp dport = {.hdr.dst_port = BE16(0xffff)};
	const struct mpf_flow_item_udp to53 = {.hdr.dst_port = BE16(53)};
	const struct mpf_flow_item_udp to54 = {.hdr.dst_port = BE16(54)};
	const struct mpf_flow_item_udp to55 = {.hdr.dst_port = BE16(55)};
	const struct mpf_flow_item_udp to56 = {.hdr.dst_port = BE16(56)};
	const struct mpf_flow_item p53[] = {ITEM(ETH), ITEM(IPV4),
					    ITEM(UDP, .spec = &to53, .mask = &dport), END_ITEM};
	const struct mpf_flow_item p54[] = {ITEM(ETH), ITEM(IPV4),
					    ITEM(UDP, .spec = &to54, .mask = &dport), END_ITEM};
	const struct mpf_flow_item p55[] = {ITEM(ETH), ITEM(IPV4),
					    ITEM(UDP, .spec = &to55, .mask = &dport), END_ITEM};
	const struct mpf_flow_item p56[] = {ITEM(ETH), ITEM(IPV4),
					    ITEM(UDP, .spec = &to56, .mask = &dport), END_ITEM};
	const struct mpf_flow_attr egress = {.egress = 1};
	const struct mpf_flow_action drop[] = {ACTION(DROP, NULL), END_ACTION};
	struct frame f53 = frame_ipv4_l4(1, 2, 17, 1, 53, 0),
		     f54 = frame_ipv4_l4(1, 2, 17, 1, 54, 0),
		     f55 = frame_ipv4_l4(1, 2, 17, 1, 55, 0),
		     f56 = frame_ipv4_l4(1, 2, 17, 1, 56, 0),
		     other = frame_ipv4_l4(1, 2, 17, 1, 9, 10);
	struct rxq_desc desc = {0};
	uint64_t values[REGION_PORT_STATS], queue[REGION_QUEUE_STATS];
	unsigned full_sent = 0, in_ring;

	rule(rig, p53, (const struct mpf_flow_action[]){ACTION(QUEUE, &q1), END_ACTION});
	rule(rig, p54, drop);
	rule(rig, p55, (const struct mpf_flow_action[]){ACTION(QUEUE, &q2), END_ACTION});
	rule(rig, p56, (const struct mpf_flow_action[]){ACTION(QUEUE, &q3), END_ACTION});
	rule_on(rig, 0, &egress, any_eth, drop);

	/* No rule: delivered by default, and the descriptor says so. */
	send_frame(rig, &other);
	assert_int_equal(received_on(rig, 0, 0, &desc), 1);
	assert_true(desc.flags & RXQ_DESC_DEFAULT);
	assert_int_equal(port_stat(rig, REGION_PORT_RX_DEFAULT), 1);
	/* A rule's queue: no default flag. */
	send_frame(rig, &f53);
	assert_int_equal(received_on(rig, 0, 1, &desc), 1);
	assert_false(desc.flags & RXQ_DESC_DEFAULT);
	assert_int_equal(queue_stat(rig, 1, REGION_QUEUE_PACKETS), 1);
	assert_int_equal(queue_stat(rig, 1, REGION_QUEUE_BYTES), f53.length);
	/* DROP. */
	send_frame(rig, &f54);
	assert_int_equal(port_stat(rig, REGION_PORT_RX_DROPPED), 1);
	/* Nobody attached to queue 2. */
	assert_int_equal(rig->dev.ops.queue_detach(&rig->dev, 0, 2, false, 7, NULL), 0);
	send_frame(rig, &f55);
	assert_int_equal(queue_stat(rig, 2, REGION_QUEUE_UNATTACHED), 1);
	assert_int_equal(queue_stat(rig, 2, REGION_QUEUE_PACKETS), 0);
	/* Queue 3 fills up: what does not fit is lost, and counted. */
	while (queue_stat(rig, 3, REGION_QUEUE_FULL) < 5) {
		send_frame(rig, &f56);
		full_sent++;
	}
	in_ring = received(rig, 3);
	assert_int_equal(queue_stat(rig, 3, REGION_QUEUE_PACKETS), in_ring);
	assert_int_equal(in_ring + 5, full_sent);
	/* Isolated: what no rule takes goes nowhere. */
	assert_int_equal(rig->dev.ops.isolate(&rig->dev, 0, true, NULL), 0);
	send_frame(rig, &other);
	assert_int_equal(port_stat(rig, REGION_PORT_RX_UNDELIVERED), 1);
	assert_int_equal(port_stat(rig, REGION_PORT_RX_DEFAULT), 1);
	assert_int_equal(rig->dev.ops.isolate(&rig->dev, 0, false, NULL), 0);
	/* Transmitted on port 1 (no egress rule there) and dropped on port 0. */
	for (uint16_t port = 0; port < 2; port++) {
		struct packet p = {.data = other.bytes,
				   .length = (uint32_t)other.length,
				   .wire_length = (uint32_t)other.length,
				   .function = PACKET_FUNCTION_PF,
				   .port = port};

		packet_parse(&p);
		soft_process(&rig->soft->workers[0], &rig->soft->ports[port], &p, true,
			     rig->now_ns);
	}
	assert_int_equal(port_stat(rig, REGION_PORT_TX_DROPPED), 1);
	assert_int_equal(port_stat(rig, REGION_PORT_TX_PACKETS), 0);
	assert_int_equal(
		shm_load_relaxed64(&rig->soft->ports[1].stats->value[REGION_PORT_TX_PACKETS]), 1);
	assert_int_equal(
		shm_load_relaxed64(&rig->soft->ports[1].stats->value[REGION_PORT_TX_BYTES]),
		other.length);
	/* A reset starts the port and its queues from zero for readers. */
	struct region_port_set set = {.port = rig->soft->ports[0].stats,
				      .queues = rig->soft->ports[0].queues[0].stats,
				      .port_stride = PORTS,
				      .queue_stride = PORTS * (QUEUES + VFS),
				      .workers = 1,
				      .n_queues = QUEUES + VFS};

	assert_int_equal(rig->dev.ops.port_stats_reset(&rig->dev, 0, &ticket, NULL), 0);
	assert_int_equal(region_port_read(&set, 3, 1, values, queue), 0);
	for (unsigned i = 0; i < REGION_PORT_STATS; i++)
		assert_int_equal(values[i], 0);
	for (unsigned i = 0; i < REGION_QUEUE_STATS; i++)
		assert_int_equal(queue[i], 0);
	send_frame(rig, &f54);
	assert_int_equal(region_port_read(&set, 0, 0, values, queue), 0);
	assert_int_equal(values[REGION_PORT_RX_DROPPED], 1);
}

static void test_security_is_refused_naming_the_action(void **state)
{
	struct rig *rig = *state;
	ANY_ETH;
	const struct mpf_flow_action_security session = {.security_session = 1};
	const struct mpf_flow_action actions[] = {ACTION(COUNT, NULL), ACTION(SECURITY, &session),
						  END_ACTION};
	struct rule_shape shape;
	struct mpf_flow_error error;
	struct hwdrv_rule hw = {
		.attr = &ingress, .pattern = any_eth, .actions = actions, .shape = &shape};

	assert_int_equal(rule_validate(&ingress, any_eth, actions, &shape, NULL), 0);
	assert_int_equal(rig->dev.ops.validate(&rig->dev, &hw, &error), -ENOTSUP);
	assert_int_equal(error.type, MPF_FLOW_ERROR_TYPE_ACTION);
	assert_int_equal(error.cause, 1);
	assert_non_null(strstr(error.message, "security"));
}

/* ------------------------------------------------------------------------ */
/* The classifier against its baseline                                      */
/* ------------------------------------------------------------------------ */

/* Destroy `n` rules through the backend's burst (41 at a time: more than
 * the classifier's burst, so that bursts are split). */
static void destroy_in_bursts(struct rig *rig, const struct cls_rule *const *rules, unsigned n)
{
	for (unsigned done = 0; done < n;) {
		void *handles[41];
		int errs[41];
		unsigned k = n - done < 41 ? n - done : 41;

		for (unsigned i = 0; i < k; i++)
			handles[i] = (void *)(uintptr_t)rules[done + i];
		assert_int_equal(rig->dev.ops.destroy_burst(&rig->dev, handles, k, errs), 0);
		for (unsigned i = 0; i < k; i++)
			assert_int_equal(errs[i], 0);
		done += k;
	}
}

/* A rule of the linear baseline, compiled on its own from the rule the
 * backend installed (which frees its compiled pattern once its classifier
 * node holds all that lookups need). */
static void baseline_compile(struct cls_linear_rule *b, struct pool *pool,
			     const struct cls_rule *installed, const struct mpf_flow_attr *attr,
			     const struct mpf_flow_item *pattern,
			     const struct mpf_flow_action *actions)
{
	struct rule_shape shape;
	struct mpf_flow_error error;
	struct hwdrv_rule hw = {
		.attr = attr, .pattern = pattern, .actions = actions, .shape = &shape};

	assert_int_equal(rule_validate(attr, pattern, actions, &shape, &error), 0);
	assert_int_equal(cls_linear_rule(b, installed, &hw, pool, &error), 0);
}

/* The linear baseline wants its rules in (rank, creation) order. */
static void sort_by_rank(const struct cls_rule **rules, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && (rules[j]->rank < rules[j - 1]->rank ||
					       (rules[j]->rank == rules[j - 1]->rank &&
						rules[j]->seq < rules[j - 1]->seq));
		     j--) {
			const struct cls_rule *t = rules[j];

			rules[j] = rules[j - 1];
			rules[j - 1] = t;
		}
}

/* Random packets near the rules of the linear scan test: the classifier
 * finds what a scan of the baseline `rules` in order finds, in the same
 * order. */
static void agrees_with_linear(struct rig *rig, const struct cls_rule *const *rules, unsigned n,
			       unsigned packets)
{
	for (unsigned k = 0; k < packets; k++) {
		struct frame f =
			frame_ipv4_l4(IP(10, rand() % 5, rand() % 5, rand() % 3),
				      IP(10, 9, 9, rand() % 5), 17, 7, (unsigned)(rand() % 5), 0);
		struct packet p = {.data = f.bytes,
				   .length = (uint32_t)f.length,
				   .function = PACKET_FUNCTION_PF};
		struct cls_result a, b;

		packet_parse(&p);
		cls_lookup(&rig->soft->cls, &p, &a);
		cls_lookup_linear(rules, n, &p, &b);
		assert_int_equal(a.n, b.n);
		assert_int_equal(a.terminated, b.terminated);
		for (unsigned i = 0; i < a.n; i++)
			assert_ptr_equal(a.rules[i], cls_linear_installed(b.rules[i]));
	}
}

/* The rules installed behind baseline rules (their handles). */
static void installed_of(const struct cls_rule *const *rules, unsigned n, void **out)
{
	for (unsigned i = 0; i < n; i++)
		out[i] = (void *)(uintptr_t)cls_linear_installed(rules[i]);
}

static void test_tuple_space_agrees_with_linear_scan(void **state)
{
	struct rig *rig = *state;
	enum { N = 400, PACKETS = 4000 };
	static struct mpf_flow_item_ipv4 spec[N], last[N], mask[N];
	static struct mpf_flow_item_udp uspec[N], umask[N];
	static struct mpf_flow_item patterns[N][6];
	static const struct mpf_flow_item_vf vf1 = {.id = 1};
	static struct mpf_flow_attr attrs[N];
	const struct mpf_flow_action actions[][2] = {{ACTION(DROP, NULL), END_ACTION},
						     {ACTION(PASSTHRU, NULL), END_ACTION}};
	static struct cls_linear_rule baseline[N];
	static void *handles[N];
	const struct cls_rule *linear[N];
	struct pool pool = {0};
	unsigned seed = 1, kept = 0;

	srand(seed);
	for (unsigned i = 0; i < N; i++) {
		bool range = rand() % 4 == 0;
		/* PF + VF selects two functions: the general list's kind. */
		bool general = rand() % 8 == 0;
		struct mpf_flow_item *at = patterns[i];

		mask[i].hdr.src_addr = BE32(rand() % 2 ? 0xffffff00u : 0xffff0000u);
		mask[i].hdr.dst_addr = rand() % 2 ? BE32(0xffffffffu) : 0;
		spec[i].hdr.src_addr = BE32(IP(10, rand() % 4, rand() % 4, 0));
		spec[i].hdr.dst_addr = BE32(IP(10, 9, 9, rand() % 4));
		last[i] = spec[i];
		last[i].hdr.src_addr = BE32(IP(10, 3, 3, 0));
		umask[i].hdr.dst_port = rand() % 2 ? RULE_BE16(0xffff) : 0;
		uspec[i].hdr.dst_port = RULE_BE16((uint16_t)(rand() % 4));
		if (general) {
			*at++ = ITEM(PF);
			*at++ = ITEM(VF, .spec = &vf1);
		}
		*at++ = ITEM(ETH);
		*at++ = ITEM(IPV4, .spec = &spec[i], .last = range ? &last[i] : NULL,
			     .mask = &mask[i]);
		*at++ = ITEM(UDP, .spec = &uspec[i], .mask = &umask[i]);
		*at = END_ITEM;
		attrs[i] = (struct mpf_flow_attr){.ingress = 1, .priority = (uint32_t)(rand() % 8)};
		const struct mpf_flow_action *list = actions[rand() % 5 == 0];
		const struct cls_rule *installed;

		rig->n_rules = 0;
		installed = rule_on(rig, 0, &attrs[i], patterns[i], list);
		baseline_compile(&baseline[i], &pool, installed, &attrs[i], patterns[i], list);
		linear[i] = &baseline[i].cls;
		/* Only what lookups read is kept: the ranges' and the general
		 * rules' patterns, not those the node confirms alone. */
		assert_int_equal(installed->match != NULL, installed->reads_match);
		kept += installed->reads_match;
	}
	assert_true(cls_tuple_count(&rig->soft->cls) > 1);
	assert_true(rig->soft->cls.general_rules > 0);
	assert_true(kept > 0 && kept < N);
	sort_by_rank(linear, N);
	agrees_with_linear(rig, linear, N, PACKETS);
	/* Half of them destroyed, in a random order: the chains they leave
	 * (and their buckets' tags) still find every rule that is left. */
	for (unsigned i = N; i-- > 1;) {
		unsigned j = (unsigned)rand() % (i + 1);
		const struct cls_rule *t = linear[i];

		linear[i] = linear[j];
		linear[j] = t;
	}
	installed_of(linear + N / 2, N - N / 2, handles);
	destroy_in_bursts(rig, (const struct cls_rule *const *)handles, N - N / 2);
	sort_by_rank(linear, N / 2);
	agrees_with_linear(rig, linear, N / 2, PACKETS);
	/* The rest: every tuple emptied goes, once, however many of its
	 * rules a burst held. */
	installed_of(linear, N / 2, handles);
	destroy_in_bursts(rig, (const struct cls_rule *const *)handles, N / 2);
	assert_int_equal(cls_tuple_count(&rig->soft->cls), 0);
	assert_int_equal(rig->soft->cls.keyed_rules + rig->soft->cls.general_rules, 0);
	agrees_with_linear(rig, linear, 0, PACKETS / 10);
	for (unsigned i = 0; i < N; i++)
		match_free(&baseline[i].match, &pool);
	pool_fini(&pool);
}

/* More rule shapes than the classifier keeps (1,500 masks: pairs of
 * source and destination prefix lengths, with and without the UDP port):
 * shapes are replaced in its table, described again when met again, and
 * lookups still agree with the linear scan; every tuple goes with its
 * rules. */
static void test_more_shapes_than_the_classifier_keeps(void **state)
{
	struct rig *rig = *state;
	enum { N = 1500, PACKETS = 300 };
	static struct mpf_flow_item_ipv4 spec[N], mask[N];
	static struct mpf_flow_item_udp uspec[N], umask[N];
	static struct mpf_flow_item patterns[N][4];
	static struct mpf_flow_attr attrs[N];
	static struct cls_linear_rule baseline[N];
	static void *handles[N];
	const struct mpf_flow_action actions[][2] = {{ACTION(DROP, NULL), END_ACTION},
						     {ACTION(PASSTHRU, NULL), END_ACTION}};
	const struct cls_rule *linear[N];
	struct pool pool = {0};

	srand(11);
	for (unsigned i = 0; i < N; i++) {
		unsigned src_len = i % 33, dst_len = i / 33 % 33;
		const struct mpf_flow_action *list = actions[rand() % 4 == 0];
		const struct cls_rule *installed;

		mask[i].hdr.src_addr = BE32(src_len ? ~0u << (32 - src_len) : 0);
		mask[i].hdr.dst_addr = BE32(dst_len ? ~0u << (32 - dst_len) : 0);
		spec[i].hdr.src_addr =
			BE32(IP(10, rand() % 5, rand() % 5, rand() % 3)) & mask[i].hdr.src_addr;
		spec[i].hdr.dst_addr = BE32(IP(10, 9, 9, rand() % 5)) & mask[i].hdr.dst_addr;
		umask[i].hdr.dst_port = i / 1089 ? RULE_BE16(0xffff) : 0;
		uspec[i].hdr.dst_port = RULE_BE16((uint16_t)(rand() % 5)) & umask[i].hdr.dst_port;
		patterns[i][0] = ITEM(ETH);
		patterns[i][1] = ITEM(IPV4, .spec = &spec[i], .mask = &mask[i]);
		patterns[i][2] = ITEM(UDP, .spec = &uspec[i], .mask = &umask[i]);
		patterns[i][3] = END_ITEM;
		attrs[i] = (struct mpf_flow_attr){.ingress = 1, .priority = (uint32_t)(rand() % 8)};
		rig->n_rules = 0;
		installed = rule_on(rig, 0, &attrs[i], patterns[i], list);
		baseline_compile(&baseline[i], &pool, installed, &attrs[i], patterns[i], list);
		linear[i] = &baseline[i].cls;
	}
	assert_true(rig->soft->cls.shape_evictions > 0);
	sort_by_rank(linear, N);
	agrees_with_linear(rig, linear, N, PACKETS);
	installed_of(linear, N, handles);
	destroy_in_bursts(rig, (const struct cls_rule *const *)handles, N);
	assert_int_equal(cls_tuple_count(&rig->soft->cls), 0);
	for (unsigned i = 0; i < N; i++)
		match_free(&baseline[i].match, &pool);
	pool_fini(&pool);
}

/* What the classifier finds for a UDP frame from `src` to port `dport`. */
static struct cls_result classify_udp(struct rig *rig, uint32_t src, unsigned dport)
{
	struct frame f = frame_ipv4_l4(src, IP(192, 0, 2, 1), 17, 7, dport, 0);
	struct packet p = {
		.data = f.bytes, .length = (uint32_t)f.length, .function = PACKET_FUNCTION_PF};
	struct cls_result r;

	packet_parse(&p);
	cls_lookup(&rig->soft->cls, &p, &r);
	return r;
}

/* The tuple a rule goes to depends on its shape and on its key: rules of
 * a /24 shape fill the relaxed /8 tuple until CLS_COLLISIONS_MAX of them
 * share a key; the next goes to a tuple of its own masks, which then takes
 * every rule of that shape. A /16 rule goes to the relaxed tuple where its
 * key is free and to a /16 tuple of its own where it is crowded: one shape,
 * two tuples, chosen per rule. What the classifier remembers of a shape
 * must not outlive the tuples: a rule of a known shape inserted once every
 * tuple is gone, and the whole again, created deferred. */
static void test_crowded_keys_go_to_a_tuple_of_their_own(void **state)
{
	struct rig *rig = *state;
	enum { A = CLS_COLLISIONS_MAX + 2, N = A + 3 };
	static struct mpf_flow_item_ipv4 spec[N];
	static const struct mpf_flow_item_ipv4 mask24 = {.hdr.src_addr = BE32(0xffffff00u)},
					       mask16 = {.hdr.src_addr = BE32(0xffff0000u)};
	static struct mpf_flow_item patterns[N][2];
	const struct mpf_flow_action drop[] = {ACTION(DROP, NULL), END_ACTION};
	const struct cls_rule *installed[N];

	for (unsigned i = 0; i < N; i++) {
		/* A /24 rules, all of key 10/8; then /16 rules of keys 12/8,
		 * 10/8 (crowded) and 12/8 again. */
		static const uint32_t b16[] = {IP(12, 0, 0, 0), IP(10, 100, 0, 0), IP(12, 1, 0, 0)};

		spec[i].hdr.src_addr = BE32(i < A ? IP(10, i, 0, 0) : b16[i - A]);
		patterns[i][0] = ITEM(IPV4, .spec = &spec[i], .mask = i < A ? &mask24 : &mask16);
		patterns[i][1] = END_ITEM;
	}
	for (unsigned round = 0; round < 2; round++) {
		const struct cls_tuple *relaxed, *own24, *own16;

		/* The second time deferred: crowding counts the rules prepared
		 * and not yet linked too. */
		rig->n_rules = 0;
		for (unsigned i = 0; i < N; i++)
			installed[i] = rule_made(rig, 0, &ingress, patterns[i], drop, round == 1);
		assert_true(cls_crowd_consistent(&rig->soft->cls)); /* some pending */
		rig->dev.ops.activate(&rig->dev);
		assert_true(cls_crowd_consistent(&rig->soft->cls));
		relaxed = installed[0]->tuple;
		own24 = installed[CLS_COLLISIONS_MAX]->tuple;
		own16 = installed[A + 1]->tuple;
		assert_non_null(relaxed);
		for (unsigned i = 0; i < CLS_COLLISIONS_MAX; i++)
			assert_ptr_equal(installed[i]->tuple, relaxed);
		assert_ptr_not_equal(own24, relaxed);
		assert_ptr_equal(installed[A - 1]->tuple, own24);
		assert_ptr_equal(installed[A]->tuple, relaxed); /* its key is free there */
		assert_ptr_not_equal(own16, relaxed);		/* crowded there */
		assert_ptr_not_equal(own16, own24);
		assert_ptr_equal(installed[A + 2]->tuple, own16); /* its own, once it exists */
		assert_int_equal(cls_tuple_count(&rig->soft->cls), 3);
		/* Each rule is found by its own packets, wherever it went. */
		for (unsigned i = 0; i < N; i++) {
			struct cls_result r =
				classify_udp(rig, RULE_BE32(spec[i].hdr.src_addr) | 7, 9);

			assert_int_equal(r.n, 1);
			assert_ptr_equal(r.rules[0], installed[i]);
		}
		destroy_in_bursts(rig, installed, N);
		assert_int_equal(cls_tuple_count(&rig->soft->cls), 0);
		/* A rule of a shape seen before, and no tuple left to hold
		 * it: a new one. */
		installed[0] = rule_on(rig, 0, &ingress, patterns[A], drop);
		assert_int_equal(cls_tuple_count(&rig->soft->cls), 1);
		destroy_in_bursts(rig, installed, 1);
	}
}

/* Crowding follows the rules that come and go: a key that fell below
 * CLS_COLLISIONS_MAX rules takes a finer rule again, and is crowded again
 * once it has them all back (the classifier keeps a count of its crowded
 * keys, so that a rule whose key is not crowded is placed without a look
 * at the chains). */
static void test_a_key_is_crowded_again_once_its_rules_are_back(void **state)
{
	struct rig *rig = *state;
	enum { A = CLS_COLLISIONS_MAX };
	static struct mpf_flow_item_ipv4 spec[A + 1];
	static const struct mpf_flow_item_ipv4 mask24 = {.hdr.src_addr = BE32(0xffffff00u)},
					       mask16 = {.hdr.src_addr = BE32(0xffff0000u)};
	static struct mpf_flow_item patterns[A + 1][2];
	const struct mpf_flow_action drop[] = {ACTION(DROP, NULL), END_ACTION};
	const struct cls_rule *installed[A + 1];
	const struct cls_tuple *relaxed;

	for (unsigned i = 0; i <= A; i++) {
		/* A /24 rules of key 10/8, and a /16 rule of that key. */
		spec[i].hdr.src_addr = BE32(i < A ? IP(10, i, 0, 0) : IP(10, 100, 0, 0));
		patterns[i][0] = ITEM(IPV4, .spec = &spec[i], .mask = i < A ? &mask24 : &mask16);
		patterns[i][1] = END_ITEM;
	}
	rig->n_rules = 0;
	for (unsigned i = 0; i < A; i++)
		installed[i] = rule_on(rig, 0, &ingress, patterns[i], drop);
	relaxed = installed[0]->tuple;
	/* One goes and comes back (deferred, the second time): 10/8 holds A
	 * rules again, and the /16 rule goes to a tuple of its own. */
	for (unsigned round = 0; round < 2; round++) {
		destroy_in_bursts(rig, &installed[0], 1);
		installed[0] = rule_made(rig, 0, &ingress, patterns[0], drop, round == 1);
		installed[A] = rule_made(rig, 0, &ingress, patterns[A], drop, round == 1);
		if (round == 1) { /* and one that goes before it is linked */
			const struct cls_rule *gone =
				rule_made(rig, 0, &ingress, patterns[1], drop, true);

			destroy_in_bursts(rig, &gone, 1);
		}
		rig->dev.ops.activate(&rig->dev);
		assert_ptr_equal(installed[0]->tuple, relaxed);
		assert_ptr_not_equal(installed[A]->tuple, relaxed);
		assert_true(cls_crowd_consistent(&rig->soft->cls));
		destroy_in_bursts(rig, &installed[A], 1);
	}
	/* One goes for good: the /16 rule now fits there. */
	destroy_in_bursts(rig, &installed[1], 1);
	installed[1] = rule_on(rig, 0, &ingress, patterns[A], drop);
	assert_ptr_equal(installed[1]->tuple, relaxed);
	assert_true(cls_crowd_consistent(&rig->soft->cls));
	assert_int_equal(cls_tuple_count(&rig->soft->cls), 1);
	for (unsigned i = 0; i < A; i++) {
		struct cls_result r =
			classify_udp(rig, RULE_BE32(spec[i == 1 ? A : i].hdr.src_addr) | 7, 9);

		assert_int_equal(r.n, 1);
		assert_ptr_equal(r.rules[0], installed[i]);
	}
	destroy_in_bursts(rig, installed, A);
	assert_int_equal(cls_tuple_count(&rig->soft->cls), 0);
}

/* The counts behind crowding agree with the chains after every step of a
 * random churn: creates deferred or not, of six prefix lengths over a few
 * addresses and three priorities (many shared keys, crowded keys, nodes
 * linked at a chain's head, tables that grow), destroy bursts mixing
 * pending and linked rules, activations. */
static void test_crowding_counts_hold_through_churn(void **state)
{
	struct rig *rig = *state;
	enum { LIVE = 400, STEPS = 20000, BURST = 50 };
	static const uint32_t masks[] = {0xff000000u, 0xfff00000u, 0xffff0000u,
					 0xfffff000u, 0xffffff00u, 0xffffffffu};
	static struct mpf_flow_item_ipv4 spec[LIVE], mask[LIVE];
	static struct mpf_flow_item patterns[LIVE][2];
	static struct mpf_flow_attr attrs[LIVE];
	static const struct cls_rule *live[LIVE];
	const struct mpf_flow_action drop[] = {ACTION(DROP, NULL), END_ACTION};
	unsigned n = 0;

	srand(11);
	for (unsigned step = 0; step < STEPS; step++) {
		unsigned op = (unsigned)rand() % 10;

		if (op < 6 && n < LIVE) {
			uint32_t m = masks[rand() % 6];
			uint32_t a = IP(10 + (unsigned)rand() % 2, (unsigned)rand() % 3,
					(unsigned)rand() % 3 * 16, (unsigned)rand() % 2);

			spec[n].hdr.src_addr = BE32(a & m);
			mask[n].hdr.src_addr = BE32(m);
			patterns[n][0] = ITEM(IPV4, .spec = &spec[n], .mask = &mask[n]);
			patterns[n][1] = END_ITEM;
			attrs[n] = (struct mpf_flow_attr){.ingress = 1,
							  .priority = (uint32_t)rand() % 3};
			rig->n_rules = 0;
			live[n] = rule_made(rig, 0, &attrs[n], patterns[n], drop, op < 4);
			n++;
		} else if (op < 8 && n > 0) {
			const struct cls_rule *gone[BURST];
			unsigned k = 1 + (unsigned)rand() % (n < BURST ? n : BURST);

			for (unsigned i = 0; i < k; i++) {
				unsigned j = (unsigned)rand() % n;

				gone[i] = live[j];
				live[j] = live[--n];
			}
			destroy_in_bursts(rig, gone, k);
		} else {
			rig->dev.ops.activate(&rig->dev);
		}
		if (!cls_crowd_consistent(&rig->soft->cls))
			fail_msg("the crowding counts disagree with the chains at step %u", step);
	}
	rig->dev.ops.activate(&rig->dev);
	destroy_in_bursts(rig, live, n);
	assert_int_equal(cls_tuple_count(&rig->soft->cls), 0);
}

/* A rule created deferred takes no traffic until the backend activates
 * it, and is then found as any other, even when its tuple's table grew
 * while it waited (60 wait together here, in one tuple of 16 buckets at
 * first: rules of one exact shape, UDP destination ports, which need no
 * look at crowding). One destroyed before its activation is gone, and its
 * tuple with it; a destroy links the rules prepared before it. */
static void test_deferred_rules_take_traffic_once_activated(void **state)
{
	struct rig *rig = *state;
	enum { N = RULES - 4 };
	static struct mpf_flow_item_udp spec[N + 1];
	static const struct mpf_flow_item_udp mask = {.hdr.dst_port = RULE_BE16(0xffff)};
	static struct mpf_flow_item patterns[N + 1][4];
	const struct mpf_flow_action drop[] = {ACTION(DROP, NULL), END_ACTION};
	const struct cls_rule *made[N + 1];
	struct cls_result replacement;

	for (unsigned i = 0; i <= N; i++) {
		spec[i].hdr.dst_port = RULE_BE16((uint16_t)(1000 + i));
		patterns[i][0] = ITEM(ETH);
		patterns[i][1] = ITEM(IPV4);
		patterns[i][2] = ITEM(UDP, .spec = &spec[i], .mask = &mask);
		patterns[i][3] = END_ITEM;
	}
	/* Alone, destroyed before it ever took traffic. */
	made[N] = rule_made(rig, 0, &ingress, patterns[N], drop, true);
	assert_int_equal(cls_tuple_count(&rig->soft->cls), 1);
	destroy_in_bursts(rig, &made[N], 1);
	assert_int_equal(cls_tuple_count(&rig->soft->cls), 0);
	assert_int_equal(rig->soft->cls.keyed_rules, 0);
	rig->dev.ops.activate(&rig->dev); /* nothing left to link */

	for (unsigned i = 0; i < N; i++)
		made[i] = rule_made(rig, 0, &ingress, patterns[i], drop, true);
	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < N; i++) {
			struct cls_result r = classify_udp(rig, IP(10, 0, 0, 1), 1000 + i);

			if (pass == 0) {
				assert_int_equal(r.n, 0);
			} else {
				assert_int_equal(r.n, 1);
				assert_ptr_equal(r.rules[0], made[i]);
			}
		}
		rig->dev.ops.activate(&rig->dev);
	}
	/* A replacement: rule 0's twin created deferred, then rule 0
	 * destroyed. The removal links what was prepared before it, so its
	 * packets never fall between the two (make-before-break). */
	made[N] = rule_made(rig, 0, &ingress, patterns[0], drop, true);
	destroy_in_bursts(rig, &made[0], 1);
	replacement = classify_udp(rig, IP(10, 0, 0, 1), 1000);
	assert_int_equal(replacement.n, 1);
	assert_ptr_equal(replacement.rules[0], made[N]);
	destroy_in_bursts(rig, made + 1, N);
	assert_int_equal(cls_tuple_count(&rig->soft->cls), 0);
}

/* Past the size where tables stay in cache, lookups go in bursts whose
 * probes overlap (cls_lookup_burst): each packet's result must be exactly
 * its own lookup's, terminating or not, general rules included. */
static void test_burst_lookups_agree_with_single_ones_at_scale(void **state)
{
	struct rig *rig = *state;
	enum { N = 20000, BURSTS = 200 };
	static struct mpf_flow_item_ipv4 spec[N], mask[N];
	static struct mpf_flow_item_udp uspec[N], umask[N];
	static struct mpf_flow_item patterns[N][6];
	static const struct mpf_flow_item_vf vf1 = {.id = 1};
	static struct mpf_flow_attr attrs[N];
	const struct mpf_flow_action actions[][2] = {{ACTION(DROP, NULL), END_ACTION},
						     {ACTION(PASSTHRU, NULL), END_ACTION}};

	srand(7);
	for (unsigned i = 0; i < N; i++) {
		struct mpf_flow_item *at = patterns[i];

		/* Two tuples (/32 and /24 sources), a few general rules. */
		mask[i].hdr.src_addr = BE32(i % 3 ? 0xffffffffu : 0xffffff00u);
		spec[i].hdr.src_addr = BE32(IP(10, i >> 16 & 255, i >> 8 & 255, i & 255));
		umask[i].hdr.dst_port = RULE_BE16(0xffff);
		uspec[i].hdr.dst_port = RULE_BE16((uint16_t)(rand() % 4));
		if (i % 1000 == 0) {
			*at++ = ITEM(PF);
			*at++ = ITEM(VF, .spec = &vf1);
		}
		*at++ = ITEM(ETH);
		*at++ = ITEM(IPV4, .spec = &spec[i], .mask = &mask[i]);
		*at++ = ITEM(UDP, .spec = &uspec[i], .mask = &umask[i]);
		*at = END_ITEM;
		/* The /24 rules rank after the /32 ones, so the early exit has
		 * a tuple to skip (it saves work; results never depend on it). */
		attrs[i] = (struct mpf_flow_attr){
			.ingress = 1, .priority = (uint32_t)(rand() % 2 + (i % 3 ? 0 : 2))};
		rig->n_rules = 0;
		rule_on(rig, 0, &attrs[i], patterns[i], actions[rand() % 4 == 0]);
	}
	assert_true(cls_tuple_count(&rig->soft->cls) >= 2);
	assert_true(cls_crowd_consistent(&rig->soft->cls));
	assert_true(cls_lookup_overlaps(&rig->soft->cls)); /* the burst path, not the fallback */
	for (unsigned b = 0; b < BURSTS; b++) {
		static struct frame f[CLS_BURST];
		struct packet p[CLS_BURST];
		const struct packet *burst[CLS_BURST];
		struct cls_result got[CLS_BURST];
		unsigned hits = 0;

		for (unsigned k = 0; k < CLS_BURST; k++) {
			unsigned i = (unsigned)rand() % (N + N / 4);

			f[k] = frame_ipv4_l4(IP(10, i >> 16 & 255, i >> 8 & 255, i & 255),
					     IP(10, 9, 9, 1), 17, 7, (unsigned)(rand() % 5), 0);
			p[k] = (struct packet){.data = f[k].bytes,
					       .length = (uint32_t)f[k].length,
					       .function = PACKET_FUNCTION_PF};
			packet_parse(&p[k]);
			burst[k] = &p[k];
		}
		cls_lookup_burst(&rig->soft->cls, burst, CLS_BURST, got);
		for (unsigned k = 0; k < CLS_BURST; k++) {
			struct cls_result one;

			cls_lookup(&rig->soft->cls, burst[k], &one);
			assert_int_equal(got[k].n, one.n);
			assert_int_equal(got[k].terminated, one.terminated);
			assert_int_equal(got[k].overflow, one.overflow);
			for (unsigned i = 0; i < one.n; i++)
				assert_ptr_equal(got[k].rules[i], one.rules[i]);
			hits += one.n > 0;
		}
		assert_true(hits > 0);
	}
}

/* A reader on another thread while the writer grows one tuple's table
 * four-fold five times (16 buckets to 16,384: 20,000 rules of one shape),
 * empties it, and fills and empties it again (tables do not shrink: the
 * second fill relinks into the grown table): every lookup finds each of
 * the rules that stay. A growth builds the larger table through the nodes'
 * other link and must never touch the one the published table's chains
 * run through. */
struct grow_reader {
	struct rig *rig;
	void *const *stay;
	unsigned n_stay;
	shm_u32 stop, online;
	unsigned lookups, misses;
};

static void *read_while_tables_grow(void *arg)
{
	struct grow_reader *g = arg;
	struct rcu *rcu = &g->rig->soft->rcu;

	rcu_online(rcu, 0);
	while (!shm_load_relaxed32(&g->stop)) {
		for (unsigned i = 0; i < g->n_stay; i++) {
			struct cls_result r = classify_udp(g->rig, IP(10, 0, 0, i), 4789);

			g->misses += r.n != 1 || r.rules[0] != g->stay[i];
			g->lookups++;
		}
		rcu_quiescent(rcu, 0);
		shm_store_release32(&g->online, 1);
	}
	rcu_offline(rcu, 0);
	return NULL;
}

static void test_lookups_find_every_rule_while_tables_grow(void **state)
{
	struct rig *rig = *state;
	/* Four growths of the table (16 buckets, x4 past 2 rules a bucket);
	 * each destroy waits a grace period for the reader, which on a loaded
	 * 2-CPU machine can be a scheduler slice: 20,000 of them twice took a
	 * CI run past its 120 s. */
	enum { STAY = 40, N = 5000 };
	static struct mpf_flow_item_ipv4 spec[STAY + N];
	static struct mpf_flow_item patterns[STAY + N][4];
	static void *made[STAY + N];
	const struct mpf_flow_item_ipv4 mask = {.hdr.src_addr = BE32(0xffffffffu)};
	const struct mpf_flow_item_udp uspec = {.hdr.dst_port = RULE_BE16(4789)},
				       umask = {.hdr.dst_port = RULE_BE16(0xffff)};
	const struct mpf_flow_action drop[] = {ACTION(DROP, NULL), END_ACTION};
	struct grow_reader g = {.rig = rig, .stay = made, .n_stay = STAY};
	unsigned failed = 0;
	pthread_t reader;

	for (unsigned i = 0; i < STAY + N; i++) {
		spec[i].hdr.src_addr = BE32(
			i < STAY ? IP(10, 0, 0, i) : IP(10, 1 + (i >> 16), i >> 8 & 255, i & 255));
		patterns[i][0] = ITEM(ETH);
		patterns[i][1] = ITEM(IPV4, .spec = &spec[i], .mask = &mask);
		patterns[i][2] = ITEM(UDP, .spec = &uspec, .mask = &umask);
		patterns[i][3] = END_ITEM;
	}
	rcu_init(&rig->soft->rcu, 1); /* the reader below, before it runs */
	for (unsigned i = 0; i < STAY; i++) {
		rig->n_rules = 0;
		made[i] = rule(rig, patterns[i], drop);
	}
	/* Nothing below fails before the reader is stopped: it reads `g`. */
	assert_int_equal(pthread_create(&reader, NULL, read_while_tables_grow, &g), 0);
	/* Online before the first growth: a grace period then waits for it
	 * (on a loaded machine the writer was through before the reader ran,
	 * and the test saw no lookup at all). */
	while (!shm_load_acquire32(&g.online))
		sched_yield();
	for (unsigned cycle = 0; cycle < 2; cycle++) {
		for (unsigned i = STAY; i < STAY + N; i++) {
			struct rule_shape shape;
			struct hwdrv_rule hw = {.attr = &ingress,
						.pattern = patterns[i],
						.actions = drop,
						.shape = &shape,
						.counter = rig->counters};

			made[i] = NULL;
			if (rule_validate(&ingress, patterns[i], drop, &shape, NULL) == 0)
				rig->dev.ops.create(&rig->dev, &hw, &made[i], NULL);
			failed += made[i] == NULL;
		}
		for (unsigned i = STAY; i < STAY + N; i++)
			if (made[i])
				failed += rig->dev.ops.destroy(&rig->dev, made[i], NULL) != 0;
	}
	shm_store_relaxed32(&g.stop, 1);
	pthread_join(reader, NULL);
	print_message("%u lookups, %u misses\n", g.lookups, g.misses);
	assert_int_equal(failed, 0);
	assert_true(g.lookups > 0);
	assert_int_equal(g.misses, 0);
}

/*
 * Two resets of one port: the second asked once the workers answered the
 * first, before the first's asker looked. The first is done, whatever
 * becomes of the second; the second, its workers silent, times out alone.
 * The code before answered each asker with the port's last request: the
 * first waited for the second and took its ETIMEDOUT.
 */
static void test_a_port_reset_is_answered_by_its_own_request(void **state)
{
	struct rig *rig = *state;
	struct hwdrv *dev = &rig->dev;
	struct soft *soft = rig->soft;
	struct mpf_flow_error error;
	uint32_t first = 0, second = 0;

	soft->running = true; /* as if workers counted: a reset is theirs to do */
	assert_int_equal(dev->ops.port_stats_reset(dev, 0, &first, &error), -EINPROGRESS);
	assert_int_equal(dev->ops.port_stats_reset(dev, 0, &second, &error), -EBUSY);
	assert_int_equal(dev->ops.port_stats_reset_done(dev, 0, first, &error), -EINPROGRESS);
	for (unsigned w = 0; w < soft->n_workers; w++)
		soft_apply_resets(&soft->workers[w]);
	assert_int_equal(dev->ops.port_stats_reset(dev, 0, &second, &error), -EINPROGRESS);
	assert_int_not_equal(second, first);
	assert_int_equal(dev->ops.port_stats_reset_done(dev, 0, first, &error), 0);
	assert_int_equal(dev->ops.port_stats_reset_done(dev, 0, second, &error), -EINPROGRESS);
	soft->ports[0].reset_asked_ns -= 2000000000ull; /* a second and more: silent */
	assert_int_equal(dev->ops.port_stats_reset_done(dev, 0, second, &error), -ETIMEDOUT);
	assert_non_null(strstr(error.message, "within a second"));
	assert_int_equal(dev->ops.port_stats_reset_done(dev, 0, second, &error), -ETIMEDOUT);
	assert_int_equal(dev->ops.port_stats_reset_done(dev, 0, first, &error), 0);
	soft->running = false;
}

/* ------------------------------------------------------------------------ */
/* The parser                                                               */
/* ------------------------------------------------------------------------ */

static void test_parser_walks_tunnels_and_tags(void **state)
{
	struct frame f = {.length = 0};
	struct packet p;
	static const uint8_t expect[] = {
		MPF_FLOW_ITEM_TYPE_ETH,	 MPF_FLOW_ITEM_TYPE_VLAN, MPF_FLOW_ITEM_TYPE_VLAN,
		MPF_FLOW_ITEM_TYPE_IPV4, MPF_FLOW_ITEM_TYPE_UDP,  MPF_FLOW_ITEM_TYPE_VXLAN,
		MPF_FLOW_ITEM_TYPE_ETH,	 MPF_FLOW_ITEM_TYPE_IPV6, MPF_FLOW_ITEM_TYPE_TCP};

	(void)state;
	frame_eth(&f, NULL, NULL, 0x88a8);
	frame_vlan(&f, 100, 0x8100);
	frame_vlan(&f, 200, 0x0800);
	frame_ipv4(&f, 1, 2, 17);
	frame_udp(&f, 1, PACKET_UDP_VXLAN);
	frame_vxlan(&f, 5);
	frame_eth(&f, NULL, NULL, 0x86dd);
	frame_ipv6(&f, 1, 2, 6);
	frame_tcp(&f, 1, 2);
	p = (struct packet){.data = f.bytes, .length = (uint32_t)f.length};
	packet_parse(&p);
	assert_int_equal(p.n_layers, sizeof(expect));
	assert_false(p.truncated);
	for (unsigned i = 0; i < sizeof(expect); i++)
		assert_int_equal(p.layers[i].type, expect[i]);
	/* The first tag's item bytes start at its TPID: 0x88a8, TCI 100. */
	assert_int_equal(p.layers[1].hdr, 12);
	assert_int_equal(f.bytes[p.layers[1].hdr + 3], 100);
	/* Cut anywhere: never past the end, and a cut header is reported. */
	for (size_t n = 0; n < f.length; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		struct packet q = {.data = copy, .length = (uint32_t)n};

		memcpy(copy, f.bytes, n);
		packet_parse(&q);
		for (unsigned i = 0; i < q.n_layers; i++)
			assert_true(q.layers[i].end <= n);
		assert_true(q.truncated || q.n_layers == sizeof(expect));
		free(copy);
	}
}

/* A label stack entry: label, bottom of stack or not. */
static void frame_mpls(struct frame *f, uint32_t label, bool bottom)
{
	const uint8_t entry[4] = {(uint8_t)(label >> 12), (uint8_t)(label >> 4),
				  (uint8_t)((label & 0xf) << 4 | bottom), 64};

	frame_put(f, entry, sizeof(entry));
}

/*
 * What an MPLS label stack carries: an IP packet by its version nibble, or
 * an Ethernet pseudowire, with a control word (first nibble 0, RFC 4385)
 * or without one. The rule model takes `eth / mpls / eth`; the parser
 * before read every payload as IP, and such a rule matched nothing.
 */
static void test_parser_reads_what_an_mpls_stack_carries(void **state)
{
	struct rig *rig = *state;
	static const uint8_t control_word[4] = {0}, inner_dst[6] = {0xaa, 1, 2, 3, 4, 5};
	const struct mpf_flow_item_eth eth_spec = {.dst = {0xaa, 1, 2, 3, 4, 5}},
				       eth_mask = {.dst = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
	const struct mpf_flow_item pattern[] = {
		ITEM(ETH),  ITEM(MPLS), ITEM(ETH, .spec = &eth_spec, .mask = &eth_mask),
		ITEM(IPV4), ITEM(UDP),	END_ITEM};
	const struct mpf_flow_action actions[] = {ACTION(DROP, NULL), END_ACTION};
	static const uint8_t with_ip[] = {MPF_FLOW_ITEM_TYPE_ETH, MPF_FLOW_ITEM_TYPE_MPLS,
					  MPF_FLOW_ITEM_TYPE_MPLS, MPF_FLOW_ITEM_TYPE_IPV4,
					  MPF_FLOW_ITEM_TYPE_UDP},
			     with_eth[] = {MPF_FLOW_ITEM_TYPE_ETH, MPF_FLOW_ITEM_TYPE_MPLS,
					   MPF_FLOW_ITEM_TYPE_ETH, MPF_FLOW_ITEM_TYPE_IPV4,
					   MPF_FLOW_ITEM_TYPE_UDP};
	struct mpf_flow_error error;
	struct rule_shape shape;
	struct hwdrv_rule hw = {
		.attr = &ingress, .pattern = pattern, .actions = actions, .shape = &shape};
	struct match_pattern m;

	assert_int_equal(rule_validate(&ingress, pattern, actions, &shape, &error), 0);
	assert_int_equal(match_compile(&m, &hw, &rig->soft->pool, &error), 0);
	for (unsigned kind = 0; kind < 3; kind++) {
		struct frame f = {.length = 0};
		const uint8_t *expect = kind ? with_eth : with_ip;
		struct packet p;

		frame_eth(&f, NULL, NULL, 0x8847);
		if (kind == 0) /* an IP packet under two labels */
			frame_mpls(&f, 16, false);
		frame_mpls(&f, 17, true);
		if (kind == 1) /* a pseudowire's control word */
			frame_put(&f, control_word, sizeof(control_word));
		if (kind)
			frame_eth(&f, inner_dst, NULL, 0x0800);
		frame_ipv4(&f, 1, 2, 17);
		frame_udp(&f, 1, 2);
		p = (struct packet){.data = f.bytes, .length = (uint32_t)f.length};
		packet_parse(&p);
		assert_false(p.truncated);
		assert_int_equal(p.n_layers, sizeof(with_ip));
		for (unsigned i = 0; i < sizeof(with_ip); i++)
			assert_int_equal(p.layers[i].type, expect[i]);
		if (kind == 1) /* the inner header after the word */
			assert_int_equal(p.layers[2].hdr, p.layers[1].end + 4);
		/* Both walks of the rule: it takes the pseudowires only. */
		assert_int_equal(match_walk(&m, &p, MATCH_DEPTH_FIRST), kind != 0);
		assert_int_equal(match_walk(&m, &p, MATCH_BY_SETS), kind != 0);
	}
	match_free(&m, &rig->soft->pool);
}

/* ------------------------------------------------------------------------ */
/* The pool                                                                 */
/* ------------------------------------------------------------------------ */

/* The pool's helper thread, by name: its task id, or 0. */
static pid_t pool_helper(void)
{
	DIR *tasks = opendir("/proc/self/task");
	struct dirent *d;
	pid_t found = 0;

	assert_non_null(tasks);
	while (found == 0 && (d = readdir(tasks)) != NULL) {
		char path[300], comm[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) && strcmp(comm, "mpflow-pool\n") == 0)
			found = (pid_t)atoi(d->d_name);
		if (f)
			fclose(f);
	}
	closedir(tasks);
	return found;
}

/* A line of /proc/self/task/TID/status, after its "Name:". */
static void task_status(pid_t tid, const char *name, char *out, size_t size)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	f = fopen(path, "r");
	assert_non_null(f);
	out[0] = 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, strlen(name)) == 0)
			snprintf(out, size, "%s", line + strlen(name));
	fclose(f);
}

/* Page faults this thread has taken. */
static long thread_faults(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_THREAD, &ru), 0);
	return ru.ru_minflt + ru.ru_majflt;
}

/* A bulk load's chunks are faulted in ahead, off the writer's thread: once
 * a process has taken a few chunks, the writer takes the next one without
 * a page fault of its own (a chunk mapped on demand faults at the first
 * write, the link the pool writes in it). The helper takes no signal: they
 * are the primary's main loop's; and it runs on spare cycles only. */
static void test_pool_faults_chunks_in_ahead_of_a_bulk_load(void **state)
{
	enum { OBJECT = 512, CHUNK = 2u << 20 };
	struct pool pool = {0};
	static const int signals[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE, SIGUSR1, SIGALRM};
	unsigned long long blocked;
	long faults;
	pid_t child;
	int status;
	char line[128];
	uint8_t *object, *chunk;
	pid_t helper;

	(void)state;
	/* Twelve chunks' worth: past the point the helper starts at. */
	for (unsigned i = 0; i < 12 * (CHUNK / OBJECT); i++)
		assert_non_null(pool_alloc(&pool, OBJECT));
	helper = pool_helper();
	assert_int_not_equal(helper, 0);
	assert_int_equal(sched_getscheduler(helper), SCHED_IDLE); /* spare cycles only */
	/* On cores other tests keep busy an idle-class thread may wait long:
	 * let it run as any other now (root may; else it waits its turn). */
	(void)sched_setscheduler(helper, SCHED_OTHER, &(struct sched_param){0});
	task_status(helper, "SigBlk:", line, sizeof(line));
	blocked = strtoull(line, NULL, 16);
	for (unsigned i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		assert_true(blocked >> (signals[i] - 1) & 1);
	/* Once it sleeps, its chunks are ready. */
	for (unsigned waited = 0; waited < 30000; waited++) {
		task_status(helper, "State:", line, sizeof(line));
		if (line[1] == 'S')
			break;
		usleep(1000);
	}
	assert_int_equal(line[1], 'S');
	/* Carve (without touching the objects) until the pool takes a new
	 * chunk. */
	object = pool_alloc(&pool, OBJECT);
	chunk = (uint8_t *)((uintptr_t)object & ~(uintptr_t)(CHUNK - 1));
	faults = thread_faults();
	do
		object = pool_alloc(&pool, OBJECT);
	while ((uint8_t *)((uintptr_t)object & ~(uintptr_t)(CHUNK - 1)) == chunk);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	assert_int_equal(thread_faults() - faults, 0);
#else
	(void)faults; /* the sanitizer reads its shadow of the chunk: a fault of its own */
#endif
	pool_fini(&pool);
#ifndef __SANITIZE_THREAD__ /* TSan starts no thread in the child of a threaded fork */
	/* A fork (the primary's daemon() after a long replay) takes no thread
	 * along: the child's next chunk starts a helper of its own. */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct pool mine = {0};
		int helpers = 0;

		for (unsigned i = 0; i < 2 * (CHUNK / OBJECT); i++)
			pool_alloc(&mine, OBJECT);
		for (unsigned waited = 0; waited < 5000 && !helpers; waited++) {
			helpers = pool_helper() != 0;
			usleep(1000);
		}
		_exit(helpers ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
#else
	(void)child;
	(void)status;
#endif
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_tcpv4_as_l4_takes_tcp_over_ipv4_only),
		T(test_meta_items_do_not_change_the_pattern),
		T(test_tcpv6_in_vxlan_matches_the_inner_stack),
		T(test_udpv6_anywhere_floats_over_the_stack),
		T(test_eth_item_example_masks_bytes),
		T(test_invert_takes_anything_but_tcpv4),
		T(test_any_covers_layers_of_any_protocol),
		T(test_raw_example_finds_foo_bar_baz),
		T(test_chained_searches_cost_a_pass_each),
		T(test_parser_reads_what_an_mpls_stack_carries),
		T(test_gre_of_version_1_is_a_gre_layer),
		T(test_esp_in_udp_4500_is_an_esp_layer),
		T(test_a_packet_past_32_rules_runs_the_first_ones),
		T(test_matching_by_sets_agrees_with_depth_first),
		T(test_items_without_spec_match_broadly),
		T(test_last_zero_under_the_mask_matches_the_spec),
		T(test_range_with_mask_spans_the_document_example),
		T(test_drop_and_queue_5_delivers_to_5),
		T(test_queue_5_then_3_delivers_to_3),
		T(test_passthru_copies_to_8_and_goes_on),
		T(test_dup_copies_alongside_the_fate),
		T(test_drop_keeps_the_copies_already_made),
		T(test_count_and_drop_counts_every_byte),
		T(test_mark_count_redirect_marks_the_descriptor),
		T(test_lower_group_wins_over_lower_priority),
		T(test_rss_is_toeplitz_and_keeps_a_flow_on_one_queue),
		T(test_rss_keeps_a_datagram_s_fragments_together),
		T(test_isolated_port_drops_what_no_rule_takes),
		T(test_port_statistics_account_for_every_packet),
		T(test_a_port_reset_is_answered_by_its_own_request),
		T(test_vf_items_and_actions_follow_the_destination_mac),
		T(test_port_item_selects_the_physical_port),
		T(test_meter_colors_per_rfc_2698),
		T(test_egress_rules_see_transmitted_packets_only),
		T(test_security_is_refused_naming_the_action),
		T(test_tuple_space_agrees_with_linear_scan),
		T(test_more_shapes_than_the_classifier_keeps),
		T(test_crowded_keys_go_to_a_tuple_of_their_own),
		T(test_a_key_is_crowded_again_once_its_rules_are_back),
		T(test_crowding_counts_hold_through_churn),
		T(test_deferred_rules_take_traffic_once_activated),
		T(test_burst_lookups_agree_with_single_ones_at_scale),
		T(test_lookups_find_every_rule_while_tables_grow),
		cmocka_unit_test(test_parser_walks_tunnels_and_tags),
		cmocka_unit_test(test_pool_faults_chunks_in_ahead_of_a_bulk_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
