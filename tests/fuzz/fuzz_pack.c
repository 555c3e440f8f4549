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
 * Every packing and unpacking is done twice, plainly and with a memo kept
 * from input to input (as the primary keeps them from rule to rule and
 * record to record): the same result and bytes.
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

/* rule_unpack(), checked against itself with the memo. */
static int unpack(const uint8_t *packed, size_t length, uint8_t *out, size_t cap)
{
	static struct unpack_memo memo;
	alignas(8) static uint8_t again[WIRE_MSG_MAX];
	int n = rule_unpack(packed, length, out, cap, NULL);

	if (rule_unpack(packed, length, again, cap, &memo) != n ||
	    (n > 0 && memcmp(again, out, (size_t)n) != 0))
		abort();
	return n;
}

/* rule_pack(), checked against itself with the memo. */
static int pack(const void *wire, size_t length, uint8_t *out, size_t cap)
{
	static struct pack_memo memo;
	static uint8_t again[PACK_MAX];
	int n = rule_pack(wire, length, out, cap, NULL);

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
	as_packed(data, size);
	as_request(data, size);
	return 0;
}
