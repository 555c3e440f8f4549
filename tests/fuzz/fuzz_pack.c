/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the packed form of rules (shm/pack.c), which every
 * reader of the rule directory unpacks from shared memory. Each input is
 * tried both ways:
 *   - as packed bytes: refused (-EBADMSG, -EMSGSIZE), or unpacked to a
 *     request that packs back to exactly these bytes (one form per rule)
 *     and that the wire decoder then judges like any other;
 *   - as a request: one the decoder takes as a CREATE packs, and unpacks
 *     to exactly its bytes, user_data cleared.
 * Every packing and unpacking is done plainly and with memos, which must
 * give the same result and bytes: memos that a sample 5-tuple rule has
 * filled (an input like it meets a memo that knows its elements), then the
 * same memos after the input itself (it meets itself). The memos are made
 * again for each input, so that a finding replays alone.
 * A crash, a sanitizer report, an undocumented errno or a difference aborts.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shm/pack.h"
#include "shm/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pack_memo memo;
static struct unpack_memo unmemo;

/* The memos as a sample rule leaves them: what each input meets first. */
static void memos_reset(void)
{
	struct mpf_flow_item_ipv4 ip = {.hdr.src_addr = 0x0100000a},
				  ip_mask = {.hdr.src_addr = ~0u};
	struct mpf_flow_item_udp udp = {.hdr.dst_port = 0xb512},
				 udp_mask = {.hdr.dst_port = 0xffff};
	struct mpf_flow_action_queue queue = {.index = 1};
	alignas(8) static uint8_t wire[WIRE_MSG_MAX], back[WIRE_MSG_MAX];
	static uint8_t packed[PACK_MAX];
	int n, p;

	memset(&memo, 0, sizeof(memo));
	memset(&unmemo, 0, sizeof(unmemo));
	n = wire_encode_rule(
		wire, sizeof(wire), WIRE_OP_CREATE, 0, 0, true,
		&(struct mpf_flow_attr){.ingress = 1},
		(struct mpf_flow_item[]){
			{.type = MPF_FLOW_ITEM_TYPE_ETH},
			{.type = MPF_FLOW_ITEM_TYPE_IPV4, .spec = &ip, .mask = &ip_mask},
			{.type = MPF_FLOW_ITEM_TYPE_UDP, .spec = &udp, .mask = &udp_mask},
			{.type = MPF_FLOW_ITEM_TYPE_END}},
		(struct mpf_flow_action[]){{.type = MPF_FLOW_ACTION_TYPE_COUNT},
					   {.type = MPF_FLOW_ACTION_TYPE_QUEUE, .conf = &queue},
					   {.type = MPF_FLOW_ACTION_TYPE_END}},
		NULL);
	p = n > 0 ? rule_pack(wire, (size_t)n, packed, sizeof(packed), &memo) : -1;
	if (p <= 0 || rule_unpack(packed, (size_t)p, back, sizeof(back), &unmemo) != n)
		abort();
}

/* rule_unpack(), checked against itself with the memo, twice. */
static int unpack(const uint8_t *packed, size_t length, uint8_t *out, size_t cap)
{
	alignas(8) static uint8_t again[WIRE_MSG_MAX];
	int n = rule_unpack(packed, length, out, cap, NULL);

	for (int pass = 0; pass < 2; pass++)
		if (rule_unpack(packed, length, again, cap, &unmemo) != n ||
		    (n > 0 && memcmp(again, out, (size_t)n) != 0))
			abort();
	return n;
}

/* rule_pack(), checked against itself with the memo, twice. */
static int pack(const void *wire, size_t length, uint8_t *out, size_t cap)
{
	static uint8_t again[PACK_MAX];
	int n = rule_pack(wire, length, out, cap, NULL);

	for (int pass = 0; pass < 2; pass++)
		if (rule_pack(wire, length, again, cap, &memo) != n ||
		    (n > 0 && memcmp(again, out, (size_t)n) != 0))
			abort();
	return n;
}

static void as_packed(const uint8_t *data, size_t size)
{
	alignas(8) static uint8_t wire[WIRE_MSG_MAX];
	static uint8_t again[PACK_MAX];
	static struct wire_request req;
	struct mpf_flow_error error;
	int n = unpack(data, size, wire, sizeof(wire)), rc;

	if (n == -EBADMSG || n == -EMSGSIZE)
		return;
	if (n <= 0 || pack(wire, (size_t)n, again, sizeof(again)) != (int)size ||
	    memcmp(again, data, size) != 0)
		abort();
	rc = wire_decode_private(wire, (size_t)n, &req, &error);
	if (rc != 0 && rc != -EBADMSG && rc != -EINVAL && rc != -ENOTSUP)
		abort();
}

static void as_request(const uint8_t *data, size_t size)
{
	alignas(8) static uint8_t copy[WIRE_MSG_MAX], back[WIRE_MSG_MAX];
	static uint8_t packed[PACK_MAX];
	static struct wire_request req;
	struct mpf_flow_error error;
	int n;

	if (size > sizeof(copy) || wire_decode_request(data, size, &req, &error) != 0 ||
	    req.header.op != WIRE_OP_CREATE)
		return;
	memcpy(copy, data, size);
	memset(copy + offsetof(struct wire_header, user_data), 0, sizeof(uint64_t));
	n = pack(copy, size, packed, sizeof(packed));
	if (n <= 0 || unpack(packed, (size_t)n, back, sizeof(back)) != (int)size ||
	    memcmp(back, copy, size) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	memos_reset();
	as_packed(data, size);
	as_request(data, size);
	return 0;
}
