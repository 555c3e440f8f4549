/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rule model against rte_flow.rst: one case per rule of the document,
 * each asserting the errno, the error type and the index of the cause.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "shm/rule/rule.h"

#include "tests/rule_literals.h"
#define END_ITEM   ITEM(END)
#define END_ACTION ACTION(END, NULL)

static const struct mpf_flow_attr ingress = {.ingress = 1};
static const struct mpf_flow_action_queue queue0 = {.index = 0};
static const struct mpf_flow_action queue0_actions[] = {
	{.type = MPF_FLOW_ACTION_TYPE_QUEUE, .conf = &queue0},
	{.type = MPF_FLOW_ACTION_TYPE_END},
};

static struct mpf_flow_error error;

static int pattern_result(const struct mpf_flow_item *pattern)
{
	memset(&error, 0, sizeof(error));
	return rule_validate(&ingress, pattern, queue0_actions, NULL, &error);
}

/* The pattern's resolution, as a backend reads it. */
static struct rule_shape shape;

static int shape_result(const struct mpf_flow_item *pattern)
{
	memset(&error, 0, sizeof(error));
	return rule_validate(&ingress, pattern, queue0_actions, &shape, &error);
}

/* The `ranges` bit of item type `type`'s field `name`. */
static uint32_t field_bit(int type, const char *name)
{
	const struct rule_item_desc *desc = rule_item_desc(type);

	for (unsigned f = 0; f < desc->n_fields; f++)
		if (strcmp(desc->fields[f].name, name) == 0)
			return 1u << f;
	fail_msg("no field %s", name);
	return 0;
}

static int actions_result(const struct mpf_flow_action *actions, struct rule_actions *out)
{
	memset(&error, 0, sizeof(error));
	return rule_validate_actions(actions, out, &error);
}

static void assert_refused(int result, int code, enum mpf_flow_error_type type, int cause)
{
	assert_int_equal(result, -code);
	assert_int_equal(error.type, type);
	assert_int_equal(error.cause, cause);
	assert_true(error.message[0] != '\0');
}

/* ---- attributes ---------------------------------------------------------- */

static void test_attr_without_direction_is_einval(void **state)
{
	const struct mpf_flow_attr none = {.group = 1};
	const struct mpf_flow_item pattern[] = {END_ITEM};

	(void)state;
	assert_refused(rule_validate(&none, pattern, queue0_actions, NULL, &error), EINVAL,
		       MPF_FLOW_ERROR_TYPE_ATTR, -1);
}

static void test_attr_reserved_bits_are_einval(void **state)
{
	const struct mpf_flow_attr attr = {.ingress = 1, .reserved = 4};

	(void)state;
	assert_refused(rule_validate_attr(&attr, &error), EINVAL, MPF_FLOW_ERROR_TYPE_ATTR, -1);
}

static void test_attr_both_directions_and_any_group_priority_are_valid(void **state)
{
	const struct mpf_flow_attr attr = {
		.ingress = 1, .egress = 1, .group = 0xffffffff, .priority = 0xffffffff};

	(void)state;
	assert_int_equal(rule_validate_attr(&attr, &error), 0);
}

/* ---- spec / last / mask ------------------------------------------------- */

static void test_mask_without_spec_is_einval(void **state)
{
	struct mpf_flow_item_eth mask = {.type = 0xffff};
	const struct mpf_flow_item pattern[] = {ITEM(ETH, .mask = &mask), END_ITEM};

	(void)state;
	assert_refused(pattern_result(pattern), EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, 0);
	assert_non_null(strstr(error.message, "mask without spec"));
}

static void test_last_without_spec_is_einval(void **state)
{
	struct mpf_flow_item_udp last = {.hdr.dst_port = htons(90)};
	const struct mpf_flow_item pattern[] = {ITEM(IPV4), ITEM(UDP, .last = &last), END_ITEM};

	(void)state;
	assert_refused(pattern_result(pattern), EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, 1);
	assert_non_null(strstr(error.message, "last without spec"));
}

static void test_spec_without_mask_uses_the_default_mask(void **state)
{
	struct mpf_flow_item_ipv4 spec = {.hdr.src_addr = htonl(0x0a000001)};
	const struct mpf_flow_item item = ITEM(IPV4, .spec = &spec);
	struct mpf_flow_item_ipv4 own = {.hdr.dst_addr = 0xffffffff};
	const struct mpf_flow_item masked = ITEM(IPV4, .spec = &spec, .mask = &own);

	(void)state;
	assert_ptr_equal(rule_item_mask(&item), &mpf_flow_item_ipv4_mask);
	assert_ptr_equal(rule_item_mask(&masked), &own);
}

static void test_item_without_spec_matches_broadly(void **state)
{
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(IPV4), ITEM(TCP), END_ITEM};

	(void)state;
	assert_int_equal(pattern_result(pattern), 0);
}

static void test_last_of_zero_is_ignored(void **state)
{
	struct mpf_flow_item_tcp spec = {.hdr.dst_port = htons(80)};
	struct mpf_flow_item_tcp last = {0};
	const struct mpf_flow_item pattern[] = {ITEM(IPV4), ITEM(TCP, .spec = &spec, .last = &last),
						END_ITEM};

	(void)state;
	assert_int_equal(shape_result(pattern), 0);
	assert_int_equal(shape.item[1].ranges, 0);
}

static void test_last_equal_to_spec_is_ignored(void **state)
{
	struct mpf_flow_item_tcp spec = {.hdr.dst_port = htons(80)};
	const struct mpf_flow_item pattern[] = {ITEM(IPV4), ITEM(TCP, .spec = &spec, .last = &spec),
						END_ITEM};

	(void)state;
	assert_int_equal(shape_result(pattern), 0);
	assert_int_equal(shape.item[1].ranges, 0);
}

static void test_last_above_spec_makes_a_range(void **state)
{
	struct mpf_flow_item_tcp spec = {.hdr.dst_port = htons(80)};
	struct mpf_flow_item_tcp last = {.hdr.dst_port = htons(8080)};
	const struct mpf_flow_item pattern[] = {ITEM(IPV4), ITEM(TCP, .spec = &spec, .last = &last),
						END_ITEM};
	uint16_t low, high;

	(void)state;
	assert_int_equal(shape_result(pattern), 0);
	assert_int_equal(shape.items, 2);
	assert_null(shape.item[0].mask); /* no spec: any IPv4 header */
	assert_ptr_equal(shape.item[1].mask, &mpf_flow_item_tcp_mask); /* the default */
	assert_int_equal(shape.item[1].ranges, field_bit(MPF_FLOW_ITEM_TYPE_TCP, "dst"));
	rule_field_span(&rule_item_tcp, &pattern[1], &shape.item[1], 1, (uint8_t *)&low,
			(uint8_t *)&high);
	assert_int_equal(ntohs(low), 80);
	assert_int_equal(ntohs(high), 8080);
	/* A field that is no range spans its spec alone. */
	rule_field_span(&rule_item_tcp, &pattern[1], &shape.item[1], 0, (uint8_t *)&low,
			(uint8_t *)&high);
	assert_int_equal(low, 0);
	assert_int_equal(high, 0);
}

static void test_last_zero_under_the_mask_makes_no_range(void **state)
{
	/* last is not 0, but its bits under the mask are: no range (a backend
	 * that compared the raw bytes would build 5..0, matching nothing). */
	struct mpf_flow_item_tcp spec = {.hdr.dst_port = htons(5)};
	struct mpf_flow_item_tcp last = {.hdr.dst_port = htons(0x10)};
	struct mpf_flow_item_tcp mask = {.hdr.dst_port = htons(0x0f)};
	const struct mpf_flow_item pattern[] = {
		ITEM(IPV4), ITEM(TCP, .spec = &spec, .last = &last, .mask = &mask), END_ITEM};

	(void)state;
	assert_int_equal(shape_result(pattern), 0);
	assert_ptr_equal(shape.item[1].mask, &mask);
	assert_int_equal(shape.item[1].ranges, 0);
}

static void test_last_ignored_field_by_field(void **state)
{
	/* A ClassBench wildcard beside an exact port: src 0 : 65535 under
	 * mask 0, dst 80 : 80. No range. */
	struct mpf_flow_item_tcp spec = {.hdr.dst_port = htons(80)};
	struct mpf_flow_item_tcp last = {.hdr.src_port = 0xffff, .hdr.dst_port = htons(80)};
	struct mpf_flow_item_tcp mask = {.hdr.dst_port = 0xffff};
	const struct mpf_flow_item pattern[] = {
		ITEM(IPV4), ITEM(TCP, .spec = &spec, .last = &last, .mask = &mask), END_ITEM};

	(void)state;
	assert_int_equal(shape_result(pattern), 0);
	assert_int_equal(shape.item[1].ranges, 0);
	/* One field's last 0, another's equal to spec: each ignored, though
	 * the item's last is neither all zero nor all spec. */
	mask.hdr.src_port = 0xffff;
	spec.hdr.src_port = htons(5);
	last.hdr.src_port = 0;
	assert_int_equal(shape_result(pattern), 0);
	assert_int_equal(shape.item[1].ranges, 0);
	/* And the same with the other field below its spec: refused. */
	last.hdr.dst_port = htons(79);
	assert_refused(pattern_result(pattern), ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, 1);
	assert_non_null(strstr(error.message, "last.dst is lower than spec.dst"));
	/* Above it: a range on that field alone. */
	last.hdr.dst_port = htons(81);
	assert_int_equal(shape_result(pattern), 0);
	assert_int_equal(shape.item[1].ranges, field_bit(MPF_FLOW_ITEM_TYPE_TCP, "dst"));
}

static void test_every_item_type_fits_the_range_bits(void **state)
{
	(void)state;
	for (int t = 0; t < MPF_FLOW_ITEM_TYPES; t++)
		assert_true(rule_item_desc(t)->n_fields <= RULE_FIELDS_MAX);
}

static void test_last_below_spec_is_enotsup(void **state)
{
	/* 0x0100 > 0x00ff in network order, though not byte by byte in host
	 * order on little-endian machines. */
	struct mpf_flow_item_tcp spec = {.hdr.src_port = htons(0x0100)};
	struct mpf_flow_item_tcp last = {.hdr.src_port = htons(0x00ff)};
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(IPV4),
						ITEM(TCP, .spec = &spec, .last = &last), END_ITEM};

	(void)state;
	assert_refused(pattern_result(pattern), ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, 2);
	assert_non_null(strstr(error.message, "last.src is lower than spec.src"));
}

static void test_mask_applies_to_last_before_comparing(void **state)
{
	/* The document's example: 10.1.2.3 .. 10.3.4.5 under 255.255.0.0 is
	 * the range 10.1.0.0 .. 10.3.255.255. */
	struct mpf_flow_item_ipv4 spec = {.hdr.src_addr = htonl(0x0a010203)};
	struct mpf_flow_item_ipv4 last = {.hdr.src_addr = htonl(0x0a030405)};
	struct mpf_flow_item_ipv4 mask = {.hdr.src_addr = htonl(0xffff0000)};
	/* And a last below spec only in masked-out bits is no range at all. */
	struct mpf_flow_item_ipv4 spec2 = {.hdr.src_addr = htonl(0x0a0102ff)};
	struct mpf_flow_item_ipv4 last2 = {.hdr.src_addr = htonl(0x0a010200)};
	const struct mpf_flow_item pattern[] = {
		ITEM(IPV4, .spec = &spec, .last = &last, .mask = &mask), END_ITEM};
	const struct mpf_flow_item pattern2[] = {
		ITEM(IPV4, .spec = &spec2, .last = &last2, .mask = &mask), END_ITEM};

	uint32_t low, high;

	(void)state;
	assert_int_equal(shape_result(pattern), 0);
	assert_int_equal(shape.item[0].ranges, field_bit(MPF_FLOW_ITEM_TYPE_IPV4, "src"));
	for (unsigned f = 0; f < rule_item_ipv4.n_fields; f++)
		if (shape.item[0].ranges & 1u << f)
			rule_field_span(&rule_item_ipv4, &pattern[0], &shape.item[0], f,
					(uint8_t *)&low, (uint8_t *)&high);
	assert_int_equal(ntohl(low), 0x0a010000);
	assert_int_equal(ntohl(high), 0x0a030000);
	assert_int_equal(shape_result(pattern2), 0);
	assert_int_equal(shape.item[0].ranges, 0);
	mask.hdr.src_addr = 0xffffffff;
	assert_refused(pattern_result(pattern2), ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, 0);
}

static void test_last_compares_host_order_fields_as_numbers(void **state)
{
	struct mpf_flow_item_any spec = {.num = 256}, last = {.num = 2};
	struct mpf_flow_item_any mask = {.num = 0xffffffff};
	const struct mpf_flow_item pattern[] = {
		ITEM(ANY, .spec = &spec, .last = &last, .mask = &mask), ITEM(TCP), END_ITEM};

	(void)state;
	assert_refused(pattern_result(pattern), ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, 0);
	spec.num = 2;
	last.num = 256;
	assert_int_equal(shape_result(pattern), 0);
	assert_int_equal(shape.item[0].ranges, 1);
	rule_field_span32(&rule_item_any, &pattern[0], &shape.item[0], 0, &spec.num, &last.num);
	assert_int_equal(spec.num, 2);
	assert_int_equal(last.num, 256);
}

static void test_default_masks_are_the_documents(void **state)
{
	const uint8_t ff6[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	(void)state;
	assert_memory_equal(mpf_flow_item_eth_mask.dst, ff6, 6);
	assert_memory_equal(mpf_flow_item_eth_mask.src, ff6, 6);
	assert_int_equal(mpf_flow_item_eth_mask.type, 0);
	assert_int_equal(mpf_flow_item_vlan_mask.tci, 0xffff); /* the whole TCI */
	assert_int_equal(mpf_flow_item_vlan_mask.tpid, 0);
	assert_int_equal(mpf_flow_item_ipv4_mask.hdr.src_addr, 0xffffffff);
	assert_int_equal(mpf_flow_item_ipv4_mask.hdr.dst_addr, 0xffffffff);
	assert_int_equal(mpf_flow_item_ipv4_mask.hdr.next_proto_id, 0);
	assert_int_equal(mpf_flow_item_ipv6_mask.hdr.src_addr[15], 0xff);
	assert_int_equal(mpf_flow_item_ipv6_mask.hdr.vtc_flow, 0);
	assert_int_equal(mpf_flow_item_icmp_mask.hdr.icmp_type, 0xff);
	assert_int_equal(mpf_flow_item_icmp_mask.hdr.icmp_code, 0xff);
	assert_int_equal(mpf_flow_item_icmp_mask.hdr.icmp_cksum, 0);
	assert_int_equal(mpf_flow_item_udp_mask.hdr.dst_port, 0xffff);
	assert_int_equal(mpf_flow_item_udp_mask.hdr.dgram_len, 0);
	assert_int_equal(mpf_flow_item_tcp_mask.hdr.src_port, 0xffff);
	assert_int_equal(mpf_flow_item_tcp_mask.hdr.tcp_flags, 0);
	assert_int_equal(mpf_flow_item_sctp_mask.hdr.dst_port, 0xffff);
	assert_int_equal(mpf_flow_item_sctp_mask.hdr.tag, 0);
	assert_memory_equal(mpf_flow_item_vxlan_mask.vni, ff6, 3);
	assert_int_equal(mpf_flow_item_vxlan_mask.flags, 0);
	assert_int_equal(ntohs(mpf_flow_item_e_tag_mask.rsvd_grp_ecid_b), 0x3fff);
	assert_int_equal(mpf_flow_item_e_tag_mask.epcp_edei_in_ecid_b, 0);
	assert_memory_equal(mpf_flow_item_nvgre_mask.tni, ff6, 3);
	assert_int_equal(mpf_flow_item_nvgre_mask.flow_id, 0);
	assert_memory_equal(mpf_flow_item_mpls_mask.label_tc_s, ((uint8_t[]){0xff, 0xff, 0xf0}), 3);
	assert_int_equal(mpf_flow_item_mpls_mask.ttl, 0);
	assert_int_equal(mpf_flow_item_gre_mask.protocol, 0xffff);
	assert_int_equal(mpf_flow_item_gre_mask.c_rsvd0_ver, 0);
	assert_int_equal(mpf_flow_item_gtp_mask.teid, 0xffffffff);
	assert_int_equal(mpf_flow_item_gtp_mask.msg_type, 0);
	assert_int_equal(mpf_flow_item_esp_mask.hdr.spi, 0xffffffff);
	assert_int_equal(mpf_flow_item_esp_mask.hdr.seq, 0);
	assert_int_equal(mpf_flow_item_fuzzy_mask.thresh, 0xffffffff);
	assert_int_equal(mpf_flow_item_any_mask.num, 0);
	assert_int_equal(mpf_flow_item_vf_mask.id, 0);
	assert_int_equal(mpf_flow_item_port_mask.index, 0);
	assert_true(mpf_flow_item_raw_mask.relative && mpf_flow_item_raw_mask.search);
	assert_int_equal(mpf_flow_item_raw_mask.length, 0xffff);
	assert_int_equal(mpf_flow_item_raw_mask.limit, 0xffff);
	assert_int_equal(mpf_flow_item_raw_mask.offset, -1);
	assert_null(mpf_flow_item_raw_mask.pattern);
	/* GTPC and GTPU share GTP's mask. */
	assert_ptr_equal(rule_item_desc(MPF_FLOW_ITEM_TYPE_GTPC)->default_mask,
			 &mpf_flow_item_gtp_mask);
	assert_ptr_equal(rule_item_desc(MPF_FLOW_ITEM_TYPE_GTPU)->default_mask,
			 &mpf_flow_item_gtp_mask);
}

static void test_field_tables_cover_each_item_struct_exactly(void **state)
{
	(void)state;
	for (int t = 0; t < MPF_FLOW_ITEM_TYPES; t++) {
		const struct rule_item_desc *desc = rule_item_desc(t);
		unsigned expected = 0;

		assert_non_null(desc);
		if (desc->fields == NULL)
			continue;
		for (unsigned f = 0; f < desc->n_fields; f++) {
			assert_int_equal(desc->fields[f].offset, expected);
			assert_true(desc->fields[f].size <= 16);
			expected += desc->fields[f].size;
		}
		assert_int_equal(expected, desc->size);
	}
}

/* ---- meta items ---------------------------------------------------------- */

static void test_void_end_and_invert_ignore_spec_last_and_mask(void **state)
{
	struct mpf_flow_item_eth junk = {.type = 0x1234};
	const struct mpf_flow_item pattern[] = {ITEM(INVERT, .last = &junk, .mask = &junk),
						ITEM(VOID, .mask = &junk), ITEM(ETH), END_ITEM};

	(void)state;
	assert_int_equal(pattern_result(pattern), 0);
}

static void test_pf_with_spec_last_or_mask_is_einval(void **state)
{
	struct mpf_flow_item_vf junk = {.id = 1};
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(PF, .mask = &junk), END_ITEM};
	const struct mpf_flow_item good[] = {ITEM(PF), ITEM(ETH), END_ITEM};

	(void)state;
	assert_refused(pattern_result(pattern), EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, 1);
	assert_int_equal(pattern_result(good), 0);
}

static void test_vf_and_port_may_repeat_anywhere(void **state)
{
	struct mpf_flow_item_vf vf1 = {.id = 1}, vf2 = {.id = 2};
	struct mpf_flow_item_port port = {.index = 3};
	const struct mpf_flow_item pattern[] = {ITEM(ETH),
						ITEM(VF, .spec = &vf1),
						ITEM(IPV4),
						ITEM(VF, .spec = &vf2),
						ITEM(PORT, .spec = &port),
						ITEM(PF),
						ITEM(UDP),
						END_ITEM};

	(void)state;
	assert_int_equal(pattern_result(pattern), 0);
}

/* ---- stacking ------------------------------------------------------------ */

static void test_missing_l3_between_l2_and_l4_is_einval(void **state)
{
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(UDP), END_ITEM};

	(void)state;
	assert_refused(pattern_result(pattern), EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, 1);
	assert_non_null(strstr(error.message, "missing"));
}

static void test_layers_may_be_left_out_at_the_bottom(void **state)
{
	const struct mpf_flow_item pattern[] = {ITEM(IPV6), ITEM(UDP), END_ITEM};
	const struct mpf_flow_item tcp_only[] = {ITEM(TCP), END_ITEM};

	(void)state;
	assert_int_equal(pattern_result(pattern), 0);
	assert_int_equal(pattern_result(tcp_only), 0);
}

static void test_layers_may_be_left_out_at_the_top(void **state)
{
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(IPV4), END_ITEM};

	(void)state;
	assert_int_equal(pattern_result(pattern), 0);
}

static void test_meta_items_do_not_break_the_stack(void **state)
{
	const struct mpf_flow_item pattern[] = {ITEM(VOID), ITEM(ETH),	ITEM(VOID), ITEM(IPV4),
						ITEM(TCP),  ITEM(VOID), ITEM(VOID), END_ITEM};

	(void)state;
	assert_int_equal(pattern_result(pattern), 0);
}

static void test_tcpv6_in_vxlan_is_valid(void **state)
{
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(IPV4), ITEM(UDP), ITEM(VXLAN),
						ITEM(ETH), ITEM(IPV6), ITEM(TCP), END_ITEM};

	(void)state;
	assert_int_equal(pattern_result(pattern), 0);
}

static void test_any_stands_for_one_or_several_layers(void **state)
{
	struct mpf_flow_item_any two = {.num = 2}, one = {.num = 1};
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(ANY, .spec = &two), ITEM(VXLAN),
						ITEM(ETH), ITEM(ANY, .spec = &one), ITEM(TCP),
						END_ITEM};

	(void)state;
	assert_int_equal(pattern_result(pattern), 0);
}

static void test_raw_items_follow_and_precede_anything(void **state)
{
	struct mpf_flow_item_raw foo = {.relative = 1,
					.search = 1,
					.offset = 10,
					.length = 3,
					.pattern = (const uint8_t *)"foo"};
	struct mpf_flow_item_raw bar = {
		.relative = 1, .offset = 20, .length = 3, .pattern = (const uint8_t *)"bar"};
	struct mpf_flow_item_raw baz = {
		.relative = 1, .offset = -29, .length = 3, .pattern = (const uint8_t *)"baz"};
	const struct mpf_flow_item pattern[] = {ITEM(ETH),
						ITEM(IPV4),
						ITEM(UDP),
						ITEM(RAW, .spec = &foo),
						ITEM(RAW, .spec = &bar),
						ITEM(RAW, .spec = &baz),
						END_ITEM};

	(void)state;
	assert_int_equal(pattern_result(pattern), 0);
}

static void test_icmp_cannot_follow_ipv6(void **state)
{
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(IPV6), ITEM(ICMP), END_ITEM};

	(void)state;
	assert_refused(pattern_result(pattern), EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, 2);
}

static void test_fuzzy_and_invert_qualify_a_whole_pattern(void **state)
{
	struct mpf_flow_item_fuzzy fuzzy = {.thresh = 0};
	const struct mpf_flow_item fuzzy_tcp[] = {ITEM(FUZZY, .spec = &fuzzy), ITEM(ETH),
						  ITEM(IPV4), ITEM(TCP), END_ITEM};
	const struct mpf_flow_item not_tcp[] = {ITEM(INVERT), ITEM(ETH), ITEM(IPV4), ITEM(TCP),
						END_ITEM};

	(void)state;
	assert_int_equal(pattern_result(fuzzy_tcp), 0);
	assert_int_equal(pattern_result(not_tcp), 0);
}

static void test_end_terminates_the_pattern(void **state)
{
	const struct mpf_flow_item pattern[] = {
		ITEM(ETH), END_ITEM, {.type = (enum mpf_flow_item_type)999}};
	(void)state;
	assert_int_equal(rule_validate_pattern(pattern, &shape, &error), 0);
	assert_int_equal(shape.items, 1);
}

static void test_unknown_item_types_are_einval(void **state)
{
	const struct mpf_flow_item unknown[] = {ITEM(ETH), {.type = MPF_FLOW_ITEM_TYPES}, END_ITEM};
	const struct mpf_flow_item negative[] = {{.type = (enum mpf_flow_item_type) - 3}, END_ITEM};

	(void)state;
	assert_refused(pattern_result(unknown), EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, 1);
	assert_refused(pattern_result(negative), EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, 0);
}

static void test_pattern_over_the_limit_is_enotsup(void **state)
{
	struct mpf_flow_item pattern[MPF_FLOW_ITEMS_MAX + 2];

	(void)state;
	for (int i = 0; i <= MPF_FLOW_ITEMS_MAX; i++)
		pattern[i] = ITEM(VOID);
	pattern[MPF_FLOW_ITEMS_MAX + 1] = END_ITEM;
	assert_refused(pattern_result(pattern), ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM_NUM,
		       MPF_FLOW_ITEMS_MAX);
	pattern[MPF_FLOW_ITEMS_MAX] = END_ITEM;
	assert_int_equal(pattern_result(pattern), 0);
}

/* ---- RAW ----------------------------------------------------------------- */

static int raw_result(const struct mpf_flow_item_raw *spec, const struct mpf_flow_item_raw *last)
{
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(RAW, .spec = spec, .last = last),
						END_ITEM};

	return pattern_result(pattern);
}

static void test_raw_reserved_bits_are_einval(void **state)
{
	struct mpf_flow_item_raw raw = {.reserved = 1};

	(void)state;
	assert_refused(raw_result(&raw, NULL), EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, 1);
}

static void test_raw_negative_offset_needs_relative(void **state)
{
	struct mpf_flow_item_raw raw = {.offset = -4, .length = 1, .pattern = (const uint8_t *)"x"};

	(void)state;
	assert_refused(raw_result(&raw, NULL), EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, 1);
	raw.relative = 1;
	assert_int_equal(raw_result(&raw, NULL), 0);
}

static void test_raw_limit_needs_search(void **state)
{
	struct mpf_flow_item_raw raw = {.limit = 10, .length = 1, .pattern = (const uint8_t *)"x"};

	(void)state;
	assert_refused(raw_result(&raw, NULL), EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, 1);
	raw.search = 1;
	assert_int_equal(raw_result(&raw, NULL), 0);
}

static void test_raw_length_without_pattern_is_einval(void **state)
{
	struct mpf_flow_item_raw raw = {.length = 4};

	(void)state;
	assert_refused(raw_result(&raw, NULL), EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, 1);
}

static void test_raw_pattern_over_the_limit_is_enotsup(void **state)
{
	static uint8_t bytes[MPF_FLOW_RAW_PATTERN_MAX + 1];
	struct mpf_flow_item_raw raw = {.length = sizeof(bytes), .pattern = bytes};

	(void)state;
	assert_refused(raw_result(&raw, NULL), ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, 1);
}

static void test_raw_zero_length_pattern_is_valid(void **state)
{
	struct mpf_flow_item_raw raw = {.relative = 1};

	(void)state;
	assert_int_equal(raw_result(&raw, NULL), 0);
}

static void test_raw_ranges_are_enotsup(void **state)
{
	struct mpf_flow_item_raw spec = {
		.offset = 10, .length = 3, .pattern = (const uint8_t *)"foo"};
	struct mpf_flow_item_raw range = {
		.offset = 20, .length = 3, .pattern = (const uint8_t *)"foo"};
	struct mpf_flow_item_raw zero = {0};
	struct mpf_flow_item_raw same = spec;
	struct mpf_flow_item_raw other_bytes = spec;

	(void)state;
	other_bytes.pattern = (const uint8_t *)"fop";
	assert_refused(raw_result(&spec, &range), ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, 1);
	assert_refused(raw_result(&spec, &other_bytes), ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, 1);
	assert_int_equal(raw_result(&spec, &zero), 0);
	assert_int_equal(raw_result(&spec, &same), 0);
}

/* ---- actions ------------------------------------------------------------- */

static const struct mpf_flow_action_queue q3 = {.index = 3}, q5 = {.index = 5};
static const uint16_t queues[] = {0, 1, 2, 3};

static void test_empty_action_list_passes_packets_through(void **state)
{
	const struct mpf_flow_action actions[] = {END_ACTION};
	struct rule_actions r;

	(void)state;
	assert_int_equal(actions_result(actions, &r), 0);
	assert_int_equal(r.fate, MPF_FLOW_ACTION_TYPE_END);
	assert_false(r.terminating);
	assert_int_equal(r.count, 0);
}

static void test_unknown_action_types_are_einval(void **state)
{
	const struct mpf_flow_action actions[] = {
		ACTION(COUNT, NULL), {.type = MPF_FLOW_ACTION_TYPES}, END_ACTION};

	(void)state;
	assert_refused(actions_result(actions, NULL), EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, 1);
}

static void test_only_the_last_action_of_a_type_counts(void **state)
{
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q5), ACTION(VOID, NULL),
						  ACTION(QUEUE, &q3), END_ACTION};
	struct rule_actions r;

	(void)state;
	assert_int_equal(actions_result(actions, &r), 0);
	assert_int_equal(r.last[MPF_FLOW_ACTION_TYPE_QUEUE], 2);
	assert_int_equal(r.last[MPF_FLOW_ACTION_TYPE_VOID], -1);
	assert_int_equal(r.fate, MPF_FLOW_ACTION_TYPE_QUEUE);
	assert_true(r.terminating);
}

static void test_every_action_is_checked_even_when_a_later_one_wins(void **state)
{
	const struct mpf_flow_action_rss bad = {.queue_num = 0};
	const struct mpf_flow_action_rss good = {.queue_num = 4, .queue = queues};
	const struct mpf_flow_action actions[] = {ACTION(RSS, &bad), ACTION(RSS, &good),
						  END_ACTION};

	(void)state;
	assert_refused(actions_result(actions, NULL), EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, 0);
}

static void test_drop_with_queue_leaves_only_queue(void **state)
{
	const struct mpf_flow_action actions[] = {ACTION(DROP, NULL), ACTION(QUEUE, &q5),
						  END_ACTION};
	struct rule_actions r;

	(void)state;
	assert_int_equal(actions_result(actions, &r), 0);
	assert_int_equal(r.fate, MPF_FLOW_ACTION_TYPE_QUEUE);
	assert_true(r.terminating);
}

static void test_passthru_overrides_drop(void **state)
{
	const struct mpf_flow_action actions[] = {ACTION(DROP, NULL), ACTION(PASSTHRU, NULL),
						  END_ACTION};
	struct rule_actions r;

	(void)state;
	assert_int_equal(actions_result(actions, &r), 0);
	assert_int_equal(r.fate, MPF_FLOW_ACTION_TYPE_END);
	assert_false(r.terminating);
}

static void test_passthru_with_queue_copies_and_continues(void **state)
{
	const struct mpf_flow_action actions[] = {ACTION(PASSTHRU, NULL), ACTION(QUEUE, &q5),
						  END_ACTION};
	struct rule_actions r;

	(void)state;
	assert_int_equal(actions_result(actions, &r), 0);
	assert_int_equal(r.fate, MPF_FLOW_ACTION_TYPE_QUEUE);
	assert_false(r.terminating);
}

static void test_terminating_actions_terminate(void **state)
{
	const struct mpf_flow_action_rss rss = {.queue_num = 4, .queue = queues};
	const struct mpf_flow_action_vf vf = {.id = 1};
	const struct mpf_flow_action lists[][2] = {
		{ACTION(QUEUE, &q3), END_ACTION}, {ACTION(DROP, NULL), END_ACTION},
		{ACTION(RSS, &rss), END_ACTION},  {ACTION(PF, NULL), END_ACTION},
		{ACTION(VF, &vf), END_ACTION},
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct rule_actions r;

		assert_int_equal(actions_result(lists[i], &r), 0);
		assert_int_equal(r.fate, lists[i][0].type);
		assert_true(r.terminating);
	}
}

static void test_non_terminating_and_meta_actions_leave_the_fate_open(void **state)
{
	const struct mpf_flow_action_dup dup = {.index = 2};
	const struct mpf_flow_action_mark mark = {.id = 42};
	const struct mpf_flow_action_meter meter = {.mtr_id = 1};
	const struct mpf_flow_action_security sec = {.security_session = 7};
	const struct mpf_flow_action actions[] = {
		ACTION(DUP, &dup),   ACTION(MARK, &mark),   ACTION(FLAG, NULL),
		ACTION(COUNT, NULL), ACTION(METER, &meter), ACTION(SECURITY, &sec),
		END_ACTION};
	struct rule_actions r;

	(void)state;
	assert_int_equal(actions_result(actions, &r), 0);
	assert_int_equal(r.fate, MPF_FLOW_ACTION_TYPE_END);
	assert_false(r.terminating);
	assert_int_equal(r.count, 6);
}

static void test_an_egress_rule_cannot_act_for_a_receiver(void **state)
{
	const struct mpf_flow_attr egress = {.egress = 1}, both = {.ingress = 1, .egress = 1};
	const struct mpf_flow_item pattern[] = {ITEM(ETH), END_ITEM};
	const struct mpf_flow_action_mark mark = {.id = 1};
	const struct mpf_flow_action_vf vf = {.id = 1};
	const struct mpf_flow_action_meter meter = {.mtr_id = 1};
	const struct mpf_flow_action count_queue[] = {ACTION(COUNT, NULL), ACTION(QUEUE, &queue0),
						      END_ACTION};
	const struct mpf_flow_action count_mark[] = {ACTION(COUNT, NULL), ACTION(MARK, &mark),
						     ACTION(DROP, NULL), END_ACTION};
	const struct mpf_flow_action to_vf[] = {ACTION(VF, &vf), END_ACTION};
	const struct mpf_flow_action its_own[] = {ACTION(COUNT, NULL), ACTION(METER, &meter),
						  ACTION(PASSTHRU, NULL), ACTION(DROP, NULL),
						  END_ACTION};

	(void)state;
	assert_refused(rule_validate(&egress, pattern, count_queue, NULL, &error), ENOTSUP,
		       MPF_FLOW_ERROR_TYPE_ACTION, 1);
	assert_non_null(strstr(error.message, "not meaningful on an egress rule"));
	assert_refused(rule_validate(&egress, pattern, count_mark, NULL, &error), ENOTSUP,
		       MPF_FLOW_ERROR_TYPE_ACTION, 1);
	assert_refused(rule_validate(&egress, pattern, to_vf, NULL, &error), ENOTSUP,
		       MPF_FLOW_ERROR_TYPE_ACTION, 0);
	assert_int_equal(rule_validate(&egress, pattern, its_own, NULL, &error), 0);
	/* Both directions: the ingress side has a receiver. */
	assert_int_equal(rule_validate(&both, pattern, count_queue, NULL, &error), 0);
}

static void test_two_different_fates_are_einval(void **state)
{
	const struct mpf_flow_action_rss rss = {.queue_num = 4, .queue = queues};
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, &q3), ACTION(COUNT, NULL),
						  ACTION(RSS, &rss), END_ACTION};

	(void)state;
	assert_refused(actions_result(actions, NULL), EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, 2);
}

static void test_missing_configuration_is_einval(void **state)
{
	const struct mpf_flow_action actions[] = {ACTION(QUEUE, NULL), END_ACTION};

	(void)state;
	assert_refused(actions_result(actions, NULL), EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, 0);
}

static void test_configuration_on_an_action_without_one_is_einval(void **state)
{
	const struct mpf_flow_action actions[] = {ACTION(COUNT, NULL), ACTION(DROP, &q3),
						  END_ACTION};

	(void)state;
	assert_refused(actions_result(actions, NULL), EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, 1);
}

static void test_rss_configuration_is_checked(void **state)
{
	static const uint8_t key[MPF_FLOW_RSS_KEY_MAX + 1];
	static uint16_t many[MPF_FLOW_RSS_QUEUES_MAX + 1];
	struct mpf_flow_action_rss rss = {.queue_num = 4, .queue = queues};
	const struct mpf_flow_action actions[] = {ACTION(RSS, &rss), END_ACTION};

	(void)state;
	rss.types = 1ull << 40;
	assert_refused(actions_result(actions, NULL), EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, 0);
	rss.types = MPF_RSS_IPV4 | MPF_RSS_NONFRAG_IPV4_TCP;
	rss.key_len = 40;
	assert_refused(actions_result(actions, NULL), EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, 0);
	rss.key = key;
	assert_int_equal(actions_result(actions, NULL), 0);
	rss.key_len = sizeof(key);
	assert_refused(actions_result(actions, NULL), ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, 0);
	rss.key_len = 40;
	rss.queue = many;
	rss.queue_num = MPF_FLOW_RSS_QUEUES_MAX + 1;
	assert_refused(actions_result(actions, NULL), ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, 0);
}

static void test_vf_reserved_bits_are_einval(void **state)
{
	const struct mpf_flow_action_vf vf = {.reserved = 2, .id = 1};
	const struct mpf_flow_action actions[] = {ACTION(VF, &vf), END_ACTION};

	(void)state;
	assert_refused(actions_result(actions, NULL), EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, 0);
}

static void test_action_list_over_the_limit_is_enotsup(void **state)
{
	struct mpf_flow_action actions[MPF_FLOW_ACTIONS_MAX + 2];

	(void)state;
	for (int i = 0; i <= MPF_FLOW_ACTIONS_MAX; i++)
		actions[i] = ACTION(COUNT, NULL);
	actions[MPF_FLOW_ACTIONS_MAX + 1] = END_ACTION;
	assert_refused(actions_result(actions, NULL), ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION_NUM,
		       MPF_FLOW_ACTIONS_MAX);
}

/* ---- names and the error helper ----------------------------------------- */

static void test_names_are_testpmds(void **state)
{
	(void)state;
	assert_string_equal(mpf_flow_item_name(MPF_FLOW_ITEM_TYPE_IPV4), "ipv4");
	assert_string_equal(mpf_flow_item_name(MPF_FLOW_ITEM_TYPE_E_TAG), "e_tag");
	assert_string_equal(mpf_flow_action_name(MPF_FLOW_ACTION_TYPE_RSS), "rss");
	assert_string_equal(mpf_flow_error_type_name(MPF_FLOW_ERROR_TYPE_ITEM), "item");
	assert_null(mpf_flow_item_name(MPF_FLOW_ITEM_TYPES));
	assert_null(mpf_flow_action_name((enum mpf_flow_action_type) - 1));
	assert_null(mpf_flow_error_type_name(MPF_FLOW_ERROR_TYPES));
	for (int t = 0; t < MPF_FLOW_ITEM_TYPES; t++)
		assert_non_null(mpf_flow_item_name((enum mpf_flow_item_type)t));
	for (int t = 0; t < MPF_FLOW_ACTION_TYPES; t++)
		assert_non_null(mpf_flow_action_name((enum mpf_flow_action_type)t));
}

static void test_error_helper_fills_type_cause_message_and_returns_minus_code(void **state)
{
	struct mpf_flow_error e;
	char long_text[400];

	(void)state;
	assert_int_equal(flow_error_set(&e, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, 4, "x %d", 1),
			 -ENOTSUP);
	assert_int_equal(e.type, MPF_FLOW_ERROR_TYPE_ACTION);
	assert_int_equal(e.cause, 4);
	assert_string_equal(e.message, "x 1");
	assert_int_equal(flow_error_set(NULL, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, 0, "y"), -EINVAL);
	/* Messages longer than the object are cut, and stay terminated. */
	memset(long_text, 'a', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	flow_error_set(&e, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, 0, "%s", long_text);
	assert_int_equal(strlen(e.message), MPF_FLOW_ERROR_MESSAGE_MAX - 1);
}

/* ---- the testpmd printer ------------------------------------------------- */

static void test_printer_writes_testpmd_syntax(void **state)
{
	struct mpf_flow_item_ipv4 ip = {.hdr.src_addr = htonl(0x0a000001)};
	struct mpf_flow_item_tcp tcp = {.hdr.dst_port = htons(80)};
	struct mpf_flow_item_tcp tcp_last = {.hdr.dst_port = htons(90)};
	struct mpf_flow_item_eth eth = {.dst = {0x66, 0x11, 0x22, 0x33, 0x44, 0x55}};
	struct mpf_flow_item_eth eth_mask = {.dst = {0xff, 0xff, 0xff, 0, 0, 0}};
	const struct mpf_flow_attr attr = {.ingress = 1, .group = 2};
	/* Masks as testpmd's "is" sets them: that field only. */
	struct mpf_flow_item_ipv4 ip_mask = {.hdr.src_addr = 0xffffffff};
	struct mpf_flow_item_tcp tcp_mask = {.hdr.dst_port = 0xffff};
	const struct mpf_flow_item pattern[] = {
		ITEM(ETH, .spec = &eth, .mask = &eth_mask),
		ITEM(IPV4, .spec = &ip, .mask = &ip_mask),
		ITEM(TCP, .spec = &tcp, .last = &tcp_last, .mask = &tcp_mask), END_ITEM};
	/* The default mask covers both addresses: dst 0.0.0.0 is matched too. */
	const struct mpf_flow_item defaults[] = {ITEM(IPV4, .spec = &ip), END_ITEM};
	const struct mpf_flow_action_mark mark = {.id = 42};
	const struct mpf_flow_action actions[] = {ACTION(MARK, &mark), ACTION(QUEUE, &q3),
						  ACTION(COUNT, NULL), END_ACTION};
	char text[512];
	size_t n;

	(void)state;
	n = rule_print(text, sizeof(text), &attr, pattern, actions);
	assert_string_equal(
		text, "group 2 ingress pattern eth dst spec 66:11:22:33:44:55 dst mask "
		      "ff:ff:ff:00:00:00 / ipv4 src is 10.0.0.1 / tcp dst spec 80 "
		      "dst last 90 dst mask 0xffff / end actions mark id 42 / queue index 3 / "
		      "count / end");
	assert_int_equal(n, strlen(text));
	rule_print(text, sizeof(text), &ingress, defaults, actions);
	assert_non_null(strstr(text, "ipv4 src is 10.0.0.1 dst is 0.0.0.0 /"));
}

static void test_printer_reports_the_length_it_needed(void **state)
{
	static const uint16_t qs[] = {0, 1};
	const struct mpf_flow_action_rss rss = {
		.types = MPF_RSS_IPV4 | MPF_RSS_NONFRAG_IPV4_TCP, .queue_num = 2, .queue = qs};
	const struct mpf_flow_action actions[] = {ACTION(RSS, &rss), END_ACTION};
	const struct mpf_flow_item pattern[] = {ITEM(ETH), END_ITEM};
	char full[256], cut[16];
	size_t n;

	(void)state;
	n = rule_print(full, sizeof(full), &ingress, pattern, actions);
	assert_string_equal(full, "ingress pattern eth / end actions rss types ipv4 ipv4-tcp end "
				  "queues 0 1 end / end");
	assert_int_equal(rule_print(cut, sizeof(cut), &ingress, pattern, actions), n);
	assert_int_equal(strlen(cut), sizeof(cut) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attr_without_direction_is_einval),
		cmocka_unit_test(test_attr_reserved_bits_are_einval),
		cmocka_unit_test(test_attr_both_directions_and_any_group_priority_are_valid),
		cmocka_unit_test(test_mask_without_spec_is_einval),
		cmocka_unit_test(test_last_without_spec_is_einval),
		cmocka_unit_test(test_spec_without_mask_uses_the_default_mask),
		cmocka_unit_test(test_item_without_spec_matches_broadly),
		cmocka_unit_test(test_last_of_zero_is_ignored),
		cmocka_unit_test(test_last_equal_to_spec_is_ignored),
		cmocka_unit_test(test_last_above_spec_makes_a_range),
		cmocka_unit_test(test_last_zero_under_the_mask_makes_no_range),
		cmocka_unit_test(test_every_item_type_fits_the_range_bits),
		cmocka_unit_test(test_last_below_spec_is_enotsup),
		cmocka_unit_test(test_mask_applies_to_last_before_comparing),
		cmocka_unit_test(test_last_compares_host_order_fields_as_numbers),
		cmocka_unit_test(test_default_masks_are_the_documents),
		cmocka_unit_test(test_field_tables_cover_each_item_struct_exactly),
		cmocka_unit_test(test_void_end_and_invert_ignore_spec_last_and_mask),
		cmocka_unit_test(test_pf_with_spec_last_or_mask_is_einval),
		cmocka_unit_test(test_vf_and_port_may_repeat_anywhere),
		cmocka_unit_test(test_missing_l3_between_l2_and_l4_is_einval),
		cmocka_unit_test(test_layers_may_be_left_out_at_the_bottom),
		cmocka_unit_test(test_layers_may_be_left_out_at_the_top),
		cmocka_unit_test(test_meta_items_do_not_break_the_stack),
		cmocka_unit_test(test_tcpv6_in_vxlan_is_valid),
		cmocka_unit_test(test_any_stands_for_one_or_several_layers),
		cmocka_unit_test(test_raw_items_follow_and_precede_anything),
		cmocka_unit_test(test_icmp_cannot_follow_ipv6),
		cmocka_unit_test(test_fuzzy_and_invert_qualify_a_whole_pattern),
		cmocka_unit_test(test_end_terminates_the_pattern),
		cmocka_unit_test(test_unknown_item_types_are_einval),
		cmocka_unit_test(test_pattern_over_the_limit_is_enotsup),
		cmocka_unit_test(test_raw_reserved_bits_are_einval),
		cmocka_unit_test(test_raw_negative_offset_needs_relative),
		cmocka_unit_test(test_raw_limit_needs_search),
		cmocka_unit_test(test_raw_length_without_pattern_is_einval),
		cmocka_unit_test(test_raw_pattern_over_the_limit_is_enotsup),
		cmocka_unit_test(test_raw_zero_length_pattern_is_valid),
		cmocka_unit_test(test_raw_ranges_are_enotsup),
		cmocka_unit_test(test_last_ignored_field_by_field),
		cmocka_unit_test(test_empty_action_list_passes_packets_through),
		cmocka_unit_test(test_unknown_action_types_are_einval),
		cmocka_unit_test(test_only_the_last_action_of_a_type_counts),
		cmocka_unit_test(test_every_action_is_checked_even_when_a_later_one_wins),
		cmocka_unit_test(test_drop_with_queue_leaves_only_queue),
		cmocka_unit_test(test_passthru_overrides_drop),
		cmocka_unit_test(test_passthru_with_queue_copies_and_continues),
		cmocka_unit_test(test_terminating_actions_terminate),
		cmocka_unit_test(test_non_terminating_and_meta_actions_leave_the_fate_open),
		cmocka_unit_test(test_an_egress_rule_cannot_act_for_a_receiver),
		cmocka_unit_test(test_two_different_fates_are_einval),
		cmocka_unit_test(test_missing_configuration_is_einval),
		cmocka_unit_test(test_configuration_on_an_action_without_one_is_einval),
		cmocka_unit_test(test_rss_configuration_is_checked),
		cmocka_unit_test(test_vf_reserved_bits_are_einval),
		cmocka_unit_test(test_action_list_over_the_limit_is_enotsup),
		cmocka_unit_test(test_names_are_testpmds),
		cmocka_unit_test(test_error_helper_fills_type_cause_message_and_returns_minus_code),
		cmocka_unit_test(test_printer_writes_testpmd_syntax),
		cmocka_unit_test(test_printer_reports_the_length_it_needed),
	};

	return cmocka_run_group_tests_name("rule", tests, NULL, NULL);
}
