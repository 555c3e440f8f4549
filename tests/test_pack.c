/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The packed form of a rule (shm/pack.c), what the rule directory keeps:
 * every rule of flowctl's corpus (tests/flowctl/commands.txt) and rules
 * with hand-made oddities unpack to their request exactly; the rules users
 * load by the million pack into an entry's inline bytes; and bytes another
 * process wrote are refused unless they are a packed rule in its one form.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mpflow/mpflow.h>

#include "shm/pack.h"
#include "shm/region.h"
#include "shm/wire.h"

static const char *corpus_path;

/* `text` as libmpflow sends it: a CREATE request (user_data 0). */
static int encode_text(const char *text, uint16_t port, bool persistent, uint8_t *msg, size_t cap)
{
	struct mpf_flow_parsed *parsed;
	struct mpf_flow_error error;
	int n;

	if (mpf_flow_parse(text, &parsed, &error) != 0)
		fail_msg("'%s' refused: %s", text, error.message);
	n = wire_encode_rule(msg, cap, WIRE_OP_CREATE, 0, port, persistent,
			     mpf_flow_parsed_attr(parsed), mpf_flow_parsed_pattern(parsed),
			     mpf_flow_parsed_actions(parsed), &error);
	mpf_flow_parsed_free(parsed);
	if (n < 0)
		fail_msg("'%s' not encoded: %s", text, error.message);
	return n;
}

/* What the packer and the unpacker remember, over every rule of this
 * file's tests in turn: alike or not, one after another, as the primary
 * packs them and replays its journal. */
static struct pack_memo memo;
static struct unpack_memo unmemo;

/* Pack `length` bytes of `msg` into out[cap], and again with the memo:
 * the same result and bytes either way. The packed length or -errno. */
static int pack(const uint8_t *msg, int length, uint8_t *out, size_t cap)
{
	static uint8_t again[PACK_MAX];
	int n = rule_pack(msg, (size_t)length, out, cap, NULL);

	assert_int_equal(rule_pack(msg, (size_t)length, again, cap, &memo), n);
	if (n > 0)
		assert_memory_equal(again, out, (size_t)n);
	return n;
}

/* Unpack `length` bytes of `packed` into out[cap], and again with the
 * memo: the same result and bytes either way. The request's length or
 * -errno. */
static int unpack(const uint8_t *packed, int length, uint8_t *out, size_t cap)
{
	alignas(8) static uint8_t again[WIRE_MSG_MAX];
	int n = rule_unpack(packed, (size_t)length, out, cap, NULL);

	assert_int_equal(rule_unpack(packed, (size_t)length, again, cap, &unmemo), n);
	if (n > 0)
		assert_memory_equal(again, out, (size_t)n);
	return n;
}

/* Pack, unpack, compare; the packed length. */
static int round_trip(const uint8_t *msg, int length)
{
	static uint8_t packed[PACK_MAX];
	alignas(8) static uint8_t back[WIRE_MSG_MAX];
	int n = pack(msg, length, packed, sizeof(packed));

	assert_true(n > 0);
	assert_int_equal(unpack(packed, n, back, sizeof(back)), length);
	assert_memory_equal(back, msg, (size_t)length);
	/* Too small a buffer either way is said, never cut. */
	assert_int_equal(pack(msg, length, packed, (size_t)n - 1), -EMSGSIZE);
	assert_int_equal(unpack(packed, n, back, (size_t)length - 8), -EMSGSIZE);
	return n;
}

static void test_every_corpus_rule_comes_back_exactly(void **state)
{
	alignas(8) static uint8_t msg[WIRE_MSG_MAX];
	char line[8192];
	unsigned rules = 0;
	size_t packed = 0, wire = 0;
	FILE *f = fopen(corpus_path, "r");

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *rule;
		int n;

		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "out: create ", 12) != 0)
			continue;
		rule = strchr(line + 12, ' ');
		assert_non_null(rule);
		n = encode_text(rule + 1, (uint16_t)(rules % 3 == 0 ? 300 : 0), rules % 2, msg,
				sizeof(msg));
		packed += (size_t)round_trip(msg, n);
		wire += (size_t)n;
		rules++;
	}
	fclose(f);
	print_message("%u rules: %zu bytes packed, %zu as requests\n", rules, packed, wire);
	assert_true(rules >= 60);
}

/* The rules users load by the million keep inside the directory entry. */
static void test_five_tuple_rules_fit_an_entry(void **state)
{
	static const char *const rules[] = {
		"ingress pattern eth / ipv4 src is 10.0.0.1 / udp dst is 4789 / end actions "
		"count / queue index 1 / end",
		"ingress pattern eth / ipv4 src is 10.1.2.3 dst is 192.168.7.9 proto is 6 / tcp "
		"src is 40000 dst is 443 / end actions count / queue index 3 / end",
		"ingress priority 3 pattern eth / ipv4 src spec 10.1.2.0 src mask 255.255.255.0 "
		"dst spec 172.16.0.0 dst mask 255.240.0.0 / udp src is 53 dst is 5353 / end "
		"actions mark id 7 / count / queue index 2 / end",
		"ingress group 1 pattern eth / ipv4 dst is 10.9.8.7 / tcp dst is 22 / end actions "
		"drop / count / end",
	};
	alignas(8) static uint8_t msg[WIRE_MSG_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		int wire = encode_text(rules[i], 0, true, msg, sizeof(msg));
		int n = round_trip(msg, wire);

		print_message("%d bytes packed (%d as a request): %s\n", n, wire, rules[i]);
		assert_true(n <= (int)REGION_ENTRY_RULE_BYTES);
	}
}

/* What libmpflow never sends but a client may: spec bits outside the mask,
 * padding bytes set, a fixed part of the wrong length, RAW and RSS. */
static void test_odd_requests_come_back_exactly(void **state)
{
	alignas(8) static uint8_t msg[WIRE_MSG_MAX];
	const struct mpf_flow_attr attr = {.ingress = 1, .group = 70000, .priority = 9};
	struct mpf_flow_item_ipv4 ip = {.hdr.src_addr = 0x0100000a, .hdr.dst_addr = 0xffffffff};
	struct mpf_flow_item_ipv4 ip_mask = {.hdr.src_addr = 0xffffffff};
	struct mpf_flow_item_udp udp = {.hdr.dst_port = 0xb512};
	struct mpf_flow_item_raw raw = {
		.relative = 1, .offset = 10, .length = 3, .pattern = (const uint8_t *)"foo"};
	const uint16_t queues[] = {0, 1, 2, 3};
	const uint8_t key[40] = {0x6d, 0x5a, 0xff};
	const struct mpf_flow_action_rss rss = {
		.types = MPF_RSS_IPV4, .key_len = 40, .queue_num = 4, .key = key, .queue = queues};
	struct mpf_flow_error error;
	struct wire_element el;
	size_t at;
	int n;

	(void)state;
	n = wire_encode_rule(
		msg, sizeof(msg), WIRE_OP_CREATE, 0, 7, false, &attr,
		(struct mpf_flow_item[]){
			{.type = MPF_FLOW_ITEM_TYPE_ETH},
			{.type = MPF_FLOW_ITEM_TYPE_IPV4, .spec = &ip, .mask = &ip_mask},
			{.type = MPF_FLOW_ITEM_TYPE_UDP, .spec = &udp, .last = &udp},
			{.type = MPF_FLOW_ITEM_TYPE_RAW, .spec = &raw},
			{.type = MPF_FLOW_ITEM_TYPE_END}},
		(struct mpf_flow_action[]){{.type = MPF_FLOW_ACTION_TYPE_RSS, .conf = &rss},
					   {.type = MPF_FLOW_ACTION_TYPE_END}},
		&error);
	assert_true(n > 0);
	round_trip(msg, n);
	/* The encoder masks a spec; a hostile client need not: the ipv4
	 * spec's destination (not under the mask) set again, and a padding
	 * byte of the udp spec. */
	at = sizeof(struct wire_header) + sizeof(struct wire_rule_header) + sizeof(el);
	memcpy(&el, msg + at, sizeof(el));
	assert_int_equal(el.type, MPF_FLOW_ITEM_TYPE_IPV4);
	at += sizeof(el);
	memset(msg + at + offsetof(struct mpf_ipv4_hdr, dst_addr), 0xee, 4);
	assert_int_equal(wire_decode_request(msg, (size_t)n, &(struct wire_request){0}, &error), 0);
	round_trip(msg, n);
	at += el.length;
	memcpy(&el, msg + at, sizeof(el));
	assert_int_equal(el.type, MPF_FLOW_ITEM_TYPE_UDP);
	msg[at + sizeof(el) + 7] = 0x5a;
	round_trip(msg, n);
}

/* A run of rules alike but for their specs, as a bulk load sends them, and
 * the turns that break the run (a mask, an element, a spec outside its
 * mask, a rule longer than the memo), each packs as it would alone (pack()
 * compares); and what the memo keeps of an item is its mask. */
static void test_a_run_of_like_rules_packs_as_each_alone(void **state)
{
	static const char *const rules[] = {
		"ingress pattern eth / ipv4 src is 10.0.0.1 / udp dst is 4789 / end actions count "
		"/ "
		"queue index 1 / end",
		"ingress pattern eth / ipv4 src is 10.0.0.2 / udp dst is 4789 / end actions count "
		"/ "
		"queue index 1 / end",
		"ingress pattern eth / ipv4 src is 10.0.0.0 / udp dst is 4790 / end actions count "
		"/ "
		"queue index 2 / end",
		"ingress pattern eth / ipv4 src is 0.0.0.0 / udp dst is 0 / end actions count / "
		"queue "
		"index 0 / end",
		"ingress pattern eth / ipv4 src spec 10.1.0.0 src mask 255.255.0.0 / udp dst is "
		"4789 "
		"/ end actions count / queue index 1 / end",
		"ingress pattern eth / ipv4 src spec 10.2.0.0 src mask 255.255.0.0 / udp dst is "
		"4789 "
		"/ end actions count / queue index 1 / end",
		"ingress pattern eth / ipv4 src spec 10.0.0.1 src last 10.0.0.9 src mask "
		"255.255.255.255 / udp dst is 4789 / end actions count / queue index 1 / end",
		"ingress pattern eth / ipv4 src spec 10.0.0.2 src last 10.0.0.7 src mask "
		"255.255.255.255 / udp dst is 4789 / end actions count / queue index 1 / end",
		"ingress pattern eth / ipv6 src is ::1 / udp dst is 4789 / end actions count / "
		"queue "
		"index 1 / end",
		"ingress pattern eth / ipv4 src is 10.0.0.3 / end actions count / drop / end",
		"ingress pattern eth / vlan vid is 7 / ipv4 src is 10.0.0.4 / udp dst is 4789 / "
		"vxlan "
		"vni is 9 / eth / ipv4 dst is 10.9.9.9 / tcp dst is 80 / end actions mark id 1 / "
		"count / queue index 1 / end",
		"ingress pattern eth / vlan vid is 8 / ipv4 src is 10.0.0.5 / udp dst is 4789 / "
		"vxlan "
		"vni is 9 / eth / ipv4 dst is 10.9.9.8 / tcp dst is 81 / end actions mark id 2 / "
		"count / queue index 1 / end",
		/* Ten items and ten actions: more than the memo keeps. */
		"ingress pattern eth / vlan vid is 1 / vlan vid is 2 / ipv4 src is 10.0.0.7 / udp "
		"dst is 4789 / vxlan vni is 9 / eth / vlan vid is 3 / ipv4 dst is 10.9.9.9 / tcp "
		"dst is 80 / end actions mark id 1 / flag / count / dup index 1 / dup index 2 / "
		"dup index 3 / dup index 4 / dup index 5 / dup index 6 / queue index 1 / end",
		"ingress pattern eth / vlan vid is 1 / vlan vid is 2 / ipv4 src is 10.0.0.8 / udp "
		"dst is 4789 / vxlan vni is 9 / eth / vlan vid is 3 / ipv4 dst is 10.9.9.8 / tcp "
		"dst is 81 / end actions mark id 2 / flag / count / dup index 1 / dup index 2 / "
		"dup index 3 / dup index 4 / dup index 5 / dup index 6 / queue index 1 / end",
		"ingress pattern eth / ipv4 src is 10.0.0.6 / udp dst is 4789 / end actions count "
		"/ queue index 1 / end",
	};
	alignas(8) static uint8_t msg[WIRE_MSG_MAX];
	size_t spec = sizeof(struct wire_header) + sizeof(struct wire_rule_header) +
		      2 * sizeof(struct wire_element);
	int wire;

	(void)state;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		round_trip(msg, encode_text(rules[i], 0, i % 2, msg, sizeof(msg)));
	assert_int_equal(memo.item[1].key_length, sizeof(struct mpf_flow_item_ipv4) + 4);
	/* The same ipv4 mask with a spec byte outside it (a hostile client's),
	 * then within it again. */
	wire = encode_text(rules[0], 0, false, msg, sizeof(msg));
	msg[spec + offsetof(struct mpf_ipv4_hdr, dst_addr)] = 0x42;
	round_trip(msg, wire);
	msg[spec + offsetof(struct mpf_ipv4_hdr, dst_addr)] = 0;
	round_trip(msg, wire);
	round_trip(msg, wire);
}

/* Item and action types share numbers (VLAN is 9, and so is RSS): an item
 * at one place in a rule and an action at the same place in the next are
 * two elements, never one the memos know (each packs and unpacks as it
 * would alone: here the action is refused, or goes verbatim). */
static void test_an_item_and_an_action_of_one_number_are_not_confused(void **state)
{
	alignas(8) static uint8_t msg[WIRE_MSG_MAX];
	static uint8_t packed[PACK_MAX], out[PACK_MAX];
	alignas(8) static uint8_t back[WIRE_MSG_MAX];
	const struct mpf_flow_item_vlan vlan = {.tci = 0x0700};
	struct wire_rule_header rh;
	struct mpf_flow_error error;
	const size_t at = sizeof(struct wire_header);
	int n, p;

	(void)state;
	assert_int_equal(MPF_FLOW_ITEM_TYPE_VLAN, MPF_FLOW_ACTION_TYPE_RSS);
	n = wire_encode_rule(
		msg, sizeof(msg), WIRE_OP_CREATE, 0, 0, true, &(struct mpf_flow_attr){.ingress = 1},
		(struct mpf_flow_item[]){{.type = MPF_FLOW_ITEM_TYPE_ETH},
					 {.type = MPF_FLOW_ITEM_TYPE_VLAN, .spec = &vlan},
					 {.type = MPF_FLOW_ITEM_TYPE_END}},
		(struct mpf_flow_action[]){{.type = MPF_FLOW_ACTION_TYPE_DROP},
					   {.type = MPF_FLOW_ACTION_TYPE_END}},
		&error);
	assert_true(n > 0);
	p = round_trip(msg, n);
	assert_int_equal(pack(msg, n, packed, sizeof(packed)), p);
	/* The same bytes with the vlan item counted as the first action. */
	memcpy(&rh, msg + at, sizeof(rh));
	assert_int_equal(rh.n_items, 2);
	rh.n_items = 1;
	rh.n_actions++;
	memcpy(msg + at, &rh, sizeof(rh));
	assert_true(pack(msg, n, out, sizeof(out)) > 0); /* RSS: verbatim */
	/* Packed: the counts are the head's two varints (after its flags). */
	assert_int_equal(packed[1], 2);
	packed[1] = 1;
	packed[2]++;
	assert_int_equal(unpack(packed, p, back, sizeof(back)), -EBADMSG);
}

/* Another process's bytes: every cut of a packed rule is refused, and any
 * byte changed is refused or unpacks to a request that packs back to the
 * same bytes (one form per rule), which the wire decoder then checks. */
static void test_hostile_packed_bytes_are_refused_or_exact(void **state)
{
	alignas(8) static uint8_t msg[WIRE_MSG_MAX], back[WIRE_MSG_MAX];
	static uint8_t packed[PACK_MAX], again[PACK_MAX];
	int wire = encode_text("ingress priority 2 pattern eth / vlan vid is 7 / ipv4 src is "
			       "10.0.0.1 / udp dst is 4789 / end actions mark id 9 / count / "
			       "queue index 1 / end",
			       5, false, msg, sizeof(msg));
	int n = pack(msg, wire, packed, sizeof(packed));
	unsigned accepted = 0;

	(void)state;
	assert_true(n > 0);
	for (int cut = 0; cut < n; cut++)
		assert_int_equal(unpack(packed, cut, back, sizeof(back)), -EBADMSG);
	packed[n] = 0;
	assert_int_equal(unpack(packed, n + 1, back, sizeof(back)), -EBADMSG);
	for (int at = 0; at < n; at++)
		for (unsigned bit = 0; bit < 8; bit++) {
			int m, k;

			packed[at] ^= (uint8_t)(1u << bit);
			m = unpack(packed, n, back, sizeof(back));
			if (m > 0) {
				accepted++;
				k = pack(back, m, again, sizeof(again));
				assert_int_equal(k, n);
				assert_memory_equal(again, packed, (size_t)n);
			} else {
				assert_int_equal(m, -EBADMSG);
			}
			packed[at] ^= (uint8_t)(1u << bit);
		}
	print_message("%u of %d one-bit changes unpack (each to its own rule)\n", accepted, n * 8);
	/* Not a create request: refused to pack. */
	msg[offsetof(struct wire_header, op)] = WIRE_OP_VALIDATE;
	assert_int_equal(pack(msg, wire, packed, sizeof(packed)), -EBADMSG);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_corpus_rule_comes_back_exactly),
		cmocka_unit_test(test_five_tuple_rules_fit_an_entry),
		cmocka_unit_test(test_odd_requests_come_back_exactly),
		cmocka_unit_test(test_a_run_of_like_rules_packs_as_each_alone),
		cmocka_unit_test(test_an_item_and_an_action_of_one_number_are_not_confused),
		cmocka_unit_test(test_hostile_packed_bytes_are_refused_or_exact),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s COMMANDS.TXT\n", argv[0]);
		return 1;
	}
	corpus_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
