/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A rule's pattern compiled for the soft datapath, and the general matcher
 * that runs it against a parsed packet.
 *
 * Compiling resolves everything the document leaves to interpretation once:
 * default masks, spec & mask, which fields of `last` make a range (a field
 * that is 0 or equal to spec does not), the functions and physical ports a
 * meta item selects. The general matcher handles every item (ANY with its
 * backtracking, RAW with relative offsets and search, INVERT, ranges); the
 * classifier sends the common case (exact masked matches) through its hash
 * tables instead and keeps this matcher for the rest.
 *
 * Matching semantics (docs/backends.md, "Soft datapath"):
 *  - items match consecutive layers of the packet's stack, tunnel payloads
 *    included; a pattern whose first data item is not ETH, ANY or an absolute
 *    RAW floats: it matches at any layer (the document's "UDPv6 anywhere");
 *  - item GRE matches GRE and NVGRE layers, item GTP GTP-C and GTP-U layers;
 *  - PORT items select physical ports (several: any of them; none: the
 *    rule's port), PF and VF items the destination function (several: any of
 *    them; none: any function);
 *  - FUZZY is accepted with any threshold; matching is always exact, which
 *    every threshold allows;
 *  - INVERT inverts the whole pattern, meta items included.
 */
#ifndef MPFLOW_SOFT_MATCH_H
#define MPFLOW_SOFT_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <mpflow/flow.h>

#include "hwdrv/hwdrv.h"
#include "hwdrv/soft/pool.h"
#include "hwdrv/soft/packet.h"

#define MATCH_ITEM_BYTES 40 /* largest item matched bytewise (IPv6) */
#define MATCH_RANGES_MAX 16 /* range fields in one item */
#define MATCH_SELECT_MAX 16 /* PORT or PF/VF items in one pattern */

enum match_kind {
	MATCH_HEADER,
	MATCH_ANY,
	MATCH_RAW,
};

/* One field of an item matched as an inclusive range of masked values. */
struct match_range {
	uint8_t offset, size, order; /* enum rule_field_order */
	uint8_t mask[16];
	uint8_t low[16];  /* spec & mask */
	uint8_t high[16]; /* last & mask */
};

struct match_item {
	uint8_t kind; /* enum match_kind */
	uint8_t type; /* enum mpf_flow_item_type */
	uint8_t size; /* bytes compared at the layer's hdr */
	uint8_t n_ranges;
	uint8_t mask[MATCH_ITEM_BYTES];	 /* zero where a range field is */
	uint8_t value[MATCH_ITEM_BYTES]; /* spec & mask */
	struct match_range *ranges;	 /* n_ranges of them, NULL when none */
	/* ANY: layers covered, inclusive. */
	uint32_t any_min, any_max;
	/* RAW */
	bool relative, search;
	int32_t offset;
	uint16_t limit, length;
	uint8_t *raw_value; /* pattern & mask */
	uint8_t *raw_mask;
};

/* A span of values of a meta property, under a mask. */
struct match_span {
	uint32_t low, high, mask;
};

/* A set of values of a meta property (physical port, function). Nearly
 * every rule has one span or none: the first is kept here, the others
 * (a pattern with several PORT or VF items) allocated. */
struct match_select {
	uint8_t n; /* 0: no constraint */
	struct match_span first;
	struct match_span *more; /* n - 1 of them */
};

static inline const struct match_span *match_span_at(const struct match_select *s, unsigned i)
{
	return i == 0 ? &s->first : &s->more[i - 1];
}

#define MATCH_INGRESS 0x1u
#define MATCH_EGRESS  0x2u

struct match_pattern {
	uint8_t directions; /* MATCH_INGRESS | MATCH_EGRESS */
	bool invert;
	bool floating;		       /* may match at any layer */
	struct match_select ports;     /* never empty: the rule's port by default */
	bool own_port;		       /* no PORT item: the rule's port scopes it */
	struct match_select functions; /* VF ids */
	bool pf;		       /* a PF item: the PF's traffic too */
	unsigned n_items;	       /* data items, meta items left out */
	unsigned branching;	       /* items that may match more than one way */
	unsigned cap_items;	       /* items has room for: the pool's size */
	struct match_item *items;
};

/* Compile the pattern of `rule` (validated: its shape read, nothing
 * derived again), its items from `pool`. -ENOMEM or -ENOTSUP (with
 * `error`) for a pattern beyond the MATCH_* limits. match_free() releases
 * it, to the same pool (again: nothing). */
int match_compile(struct match_pattern *m, const struct hwdrv_rule *rule, struct pool *pool,
		  struct mpf_flow_error *error);
void match_free(struct match_pattern *m, struct pool *pool);

/* Does item type `item` describe a layer of type `layer`? */
static inline bool match_type(unsigned item, unsigned layer)
{
	if (item == layer)
		return true;
	if (item == MPF_FLOW_ITEM_TYPE_GRE)
		return layer == MPF_FLOW_ITEM_TYPE_NVGRE;
	if (item == MPF_FLOW_ITEM_TYPE_GTP)
		return layer == MPF_FLOW_ITEM_TYPE_GTPC || layer == MPF_FLOW_ITEM_TYPE_GTPU;
	return false;
}

/* Is `value` in the set (an empty set holds everything)? */
bool match_select(const struct match_select *s, uint32_t value);

/* Is a packet addressed to `function` selected by the PF and VF items? */
bool match_function(const struct match_pattern *m, uint16_t function);

/* The general matcher: does the packet match the whole pattern? */
bool match_packet(const struct match_pattern *m, const struct packet *p);

/* How the items are walked (match_packet() picks): depth first, each way
 * an item may match followed to the end before the next (cheap while at
 * most one item branches), or by sets of positions, an item at a time
 * (each item a pass over the frame, however many branch). The answer is
 * the same; the tests compare them. Ports, functions, the direction and
 * INVERT are match_packet()'s. */
enum match_way { MATCH_DEPTH_FIRST, MATCH_BY_SETS };
bool match_walk(const struct match_pattern *m, const struct packet *p, enum match_way way);

/* Does a header item match the item-shaped `bytes` (masked bytes, ranges)? */
bool match_header(const struct match_item *item, const uint8_t *bytes);

/* Could the classifier's hash tables take this pattern: header items only
 * (their masked bytes make a key, ranges are checked after it), one
 * direction, one port, at most one function? */
bool match_is_keyed(const struct match_pattern *m);

#endif
