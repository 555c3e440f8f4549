/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The packed form of a rule: how the rule directory keeps each live rule's
 * CREATE request in a few dozen bytes of shared memory (a 5-tuple rule in
 * about 34, where the request takes 150), so that the directory costs no
 * more than a cache line per rule.
 *
 * It is lossless: rule_unpack(rule_pack(request)) gives the request's bytes
 * back exactly, its user_data word cleared (the client's own business). The
 * primary writes the journal's compaction from it; readers decode what it
 * gives back with the wire decoder, as any request.
 *
 *   packed  := flags [port] [group] [priority] n_items n_actions element*
 *   flags   := the request's WIRE_RULE_* bits, then PACK_HAS_PORT, _GROUP,
 *              _PRIORITY: which of those follow (as varints) because they
 *              are not zero
 *   element := byte (type | parts << 5), then its parts; or, for a type
 *              PACK_ESCAPE: type, flags (parts and PACK_PART_* bits), then
 *              its parts, or (PACK_VERBATIM) its length and its bytes
 *
 * Each fixed-size part (an item's spec, last and mask, an action's conf:
 * the public struct and its padding to 8 bytes) is a bitmap of its non-zero
 * bytes and those bytes. A mask goes first, with a second bitmap over its
 * non-zero bytes saying which are 0xff (and are not repeated); a spec or a
 * last that is zero wherever the mask is (as libmpflow sends them) has its
 * bitmap over the mask's non-zero bytes only. RAW items and RSS and VF
 * actions, whose parts vary in length, go verbatim. Integers are LEB128
 * varints.
 *
 * The unpacker is a trust boundary like the wire decoder: its input is
 * shared memory another process wrote, so every count and length is
 * bounded and anything it cannot read back is refused.
 */
#ifndef MPFLOW_SHM_PACK_H
#define MPFLOW_SHM_PACK_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

/* The largest packed rule: a request of WIRE_MSG_MAX bytes packs to at
 * most its length plus an eighth (the bitmaps) and a few headers. */
#define PACK_MAX (16384u + 16384u / 8u + 512u)

/*
 * What the packer remembers of the rules it packed last, so that a rule
 * like them costs a compare per element: for each of the first
 * PACK_MEMO_ELEMENTS items and actions (apart: an item and an action may
 * share a type number), its header, its key (its mask, or all its bytes
 * when it has no mask) and the packed bytes those gave (the element byte
 * and the packed mask; or the whole element). A bulk load's rules differ
 * in their specs alone: only those are packed again. What the memo holds
 * never changes the output, only how fast it comes.
 */
#define PACK_MEMO_ELEMENTS 8
#define PACK_MEMO_KEY	   64u
struct pack_memo {
	struct pack_memo_element {
		uint64_t header; /* the wire_element's bytes; 0: nothing kept */
		uint32_t key_length, out_length;
		uint64_t key[PACK_MEMO_KEY / 8];
		/* A mask: 0xff where its bytes are zero, and where they are not. */
		uint64_t outside[PACK_MEMO_KEY / 8];
		uint8_t position[PACK_MEMO_KEY];
		uint32_t positions;
		uint8_t out[1 + 2 * (PACK_MEMO_KEY / 8 + PACK_MEMO_KEY)];
	} item[PACK_MEMO_ELEMENTS], action[PACK_MEMO_ELEMENTS];
};

/*
 * Pack the CREATE request `wire` of `length` bytes (one that the wire
 * decoder took) into out[cap]. Returns the packed length, -EMSGSIZE if it
 * does not fit, or -EBADMSG if `wire` is not a well-formed CREATE request.
 * `memo`: NULL, or a memo (zeroed before its first use) that this call
 * reads and updates.
 */
int rule_pack(const void *wire, size_t length, uint8_t *out, size_t cap, struct pack_memo *memo);

/*
 * The unpacker's memo, the same idea the other way: for each of the first
 * PACK_MEMO_ELEMENTS items and actions, the packed bytes of its element byte and
 * mask (or of the whole element, without a mask) and the element they gave
 * (its header, its mask, its spec and last zero), with the mask's non-zero
 * positions. An element whose packed bytes begin with the same ones is
 * that element, and only its spec and last are read. The same bytes give
 * the same result (checks included) with or without it.
 */
struct unpack_memo {
	struct unpack_memo_element {
		uint32_t in_length; /* 0: nothing kept */
		uint32_t out_length;
		uint32_t positions;
		uint16_t spec_at, last_at; /* offsets in `out`; 0: none (or no mask) */
		uint8_t in[1 + 2 * (PACK_MEMO_KEY / 8 + PACK_MEMO_KEY)];
		uint8_t position[PACK_MEMO_KEY];
		alignas(8) uint8_t out[8 + 3 * PACK_MEMO_KEY];
	} item[PACK_MEMO_ELEMENTS], action[PACK_MEMO_ELEMENTS];
};

/*
 * Unpack `length` packed bytes into the request they came from, in
 * out[cap] (8-aligned). Returns the request's length, -EMSGSIZE if it does
 * not fit in `cap`, or -EBADMSG for bytes that are not a packed rule.
 * `memo`: NULL, or a memo (zeroed before its first use) that this call
 * reads and updates.
 */
int rule_unpack(const uint8_t *packed, size_t length, void *out, size_t cap,
		struct unpack_memo *memo);

#endif
