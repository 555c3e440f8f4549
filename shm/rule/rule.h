/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rule model shared by libmpflow and mpflowd: one descriptor per item
 * and action type (data, not code), validation exactly as rte_flow.rst
 * states it, and the resolution of an action list into its effect.
 *
 * The descriptors are the single source of truth for names, struct sizes,
 * fields (offset, size, byte order) and default masks; the wire codec, the
 * validators and (later) flowctl's grammar and the rule printer read them.
 */
#ifndef MPFLOW_SHM_RULE_H
#define MPFLOW_SHM_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpflow/flow.h>

/* How a field's bytes compare, for ranges (spec..last). */
enum rule_field_order {
	RULE_ORDER_BE,	 /* network byte order or a byte string: memcmp order */
	RULE_ORDER_HOST, /* host-order unsigned 32-bit integer */
};

/* How a field's value is written in testpmd syntax. */
enum rule_field_format {
	RULE_FORMAT_INT,  /* a number (a 3-byte field is a 24-bit one) */
	RULE_FORMAT_MAC,  /* 00:11:22:33:44:55 */
	RULE_FORMAT_IPV4, /* 10.0.0.1 */
	RULE_FORMAT_IPV6, /* 2001:db8::1 */
};

/* One member of an item struct. */
struct rule_field {
	const char *name; /* testpmd's name where it has one */
	uint16_t offset;
	uint8_t size;
	uint8_t order;	/* enum rule_field_order */
	uint8_t format; /* enum rule_field_format */
};

/* 16- and 32-bit constants in network byte order, usable in initialisers. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define RULE_BE16(x) ((uint16_t)__builtin_bswap16(x))
#define RULE_BE32(x) ((uint32_t)__builtin_bswap32(x))
#else
#define RULE_BE16(x) ((uint16_t)(x))
#define RULE_BE32(x) ((uint32_t)(x))
#endif

/* Initialisers for field tables. */
#define RULE_FIELD_OF(type, member, label, byte_order, fmt)                                        \
	{                                                                                          \
		.name = (label), .offset = offsetof(type, member),                                 \
		.size = sizeof(((type *)0)->member), .order = (byte_order), .format = (fmt)        \
	}
#define RULE_FIELD_BE(type, member, label)                                                         \
	RULE_FIELD_OF(type, member, label, RULE_ORDER_BE, RULE_FORMAT_INT)
#define RULE_FIELD_HOST(type, member, label)                                                       \
	RULE_FIELD_OF(type, member, label, RULE_ORDER_HOST, RULE_FORMAT_INT)
#define RULE_FIELD_ADDRESS(type, member, label, fmt)                                               \
	RULE_FIELD_OF(type, member, label, RULE_ORDER_BE, fmt)

/* What an item does with spec / last / mask. */
enum rule_spec_use {
	RULE_SPEC_IGNORED,   /* END, VOID, INVERT: the document says "ignored" */
	RULE_SPEC_FORBIDDEN, /* PF: "must not be set" */
	RULE_SPEC_MATCHED,   /* every other item */
};

/* Where an item may stand in a pattern. */
enum rule_stacking {
	RULE_STACK_META,     /* anywhere, without affecting the stack */
	RULE_STACK_HEADER,   /* a protocol layer: only the layers in `next` follow it */
	RULE_STACK_WILDCARD, /* ANY, RAW: follows and is followed by anything */
};

struct rule_item_desc {
	const char *name;
	uint16_t size;	  /* of the item struct; 0 when it has none */
	uint8_t spec_use; /* enum rule_spec_use */
	uint8_t stacking; /* enum rule_stacking */
	uint64_t next;	  /* RULE_STACK_HEADER: bit per item type that may follow */
	const void *default_mask;
	const struct rule_field *fields;
	uint8_t n_fields;
	/* Rules of this item beyond the generic spec/last/mask ones; NULL if
	 * none. `mask` is the effective mask. Returns 0 or -errno. */
	int (*check)(const struct mpf_flow_item *item, const void *mask, int index,
		     struct mpf_flow_error *error);
};

#define RULE_ITEM_BIT(type) (1ull << (type))

/* Descriptor of an item type, NULL for an unknown type. */
const struct rule_item_desc *rule_item_desc(int type);

/* The descriptors, one file per family (items_meta.c, items_headers.c,
 * items_tunnel.c); rule_item_desc() indexes them. */
extern const struct rule_item_desc rule_item_end, rule_item_void, rule_item_invert, rule_item_any,
	rule_item_pf, rule_item_vf, rule_item_port, rule_item_raw, rule_item_fuzzy;
extern const struct rule_item_desc rule_item_eth, rule_item_vlan, rule_item_e_tag, rule_item_ipv4,
	rule_item_ipv6, rule_item_icmp, rule_item_udp, rule_item_tcp, rule_item_sctp, rule_item_esp;
extern const struct rule_item_desc rule_item_vxlan, rule_item_nvgre, rule_item_mpls, rule_item_gre,
	rule_item_gtp, rule_item_gtpc, rule_item_gtpu;

/* How an action bears on the fate of a packet (rte_flow.rst, "Actions"). */
enum rule_action_kind {
	RULE_ACTION_META,	     /* END, VOID, MARK, FLAG, COUNT, SECURITY */
	RULE_ACTION_TERMINATING,     /* QUEUE, DROP, RSS, PF, VF */
	RULE_ACTION_NON_TERMINATING, /* PASSTHRU, DUP, METER */
};

struct rule_action_desc {
	const char *name;
	uint16_t conf_size; /* 0: the action takes no configuration */
	uint8_t kind;	    /* enum rule_action_kind */
	/* It acts for the receiver (delivers the packet to a queue or a
	 * function, or marks it for one): an egress-only rule cannot take it. */
	bool receive;
	int (*check)(const void *conf, int index, struct mpf_flow_error *error);
};

/* testpmd's name of RSS type bit `bit` (MPF_RSS_IPV4 is bit 2: "ipv4"), or
 * NULL for a bit that names no type. */
const char *rule_rss_type_name(unsigned bit);

/* Descriptor of an action type, NULL for an unknown type. */
const struct rule_action_desc *rule_action_desc(int type);

/*
 * The effect of an action list. Only the last action of each type counts
 * (`last`); every action was still checked.
 *  - fate: the action that decides where the packet goes: QUEUE, RSS, PF or
 *    VF; else DROP; else END (no fate: the packet goes on, as with PASSTHRU).
 *    DROP with a delivering fate is overridden by it (the document's
 *    "DROP + QUEUE: only QUEUE has any effect"); PASSTHRU overrides DROP.
 *  - terminating: later rules do not see the packet (a fate and no PASSTHRU).
 */
struct rule_actions {
	int16_t last[MPF_FLOW_ACTION_TYPES]; /* index of the last of each type, or -1 */
	uint8_t fate;			     /* enum mpf_flow_action_type */
	bool terminating;
	uint8_t count; /* actions before END */
};

/*
 * An item as every backend reads it, resolved once by validation:
 *  - mask: the mask in force, the item's own or its type's default; NULL
 *    when the item has no spec (it matches any such header).
 *  - ranges: bit f set when field f of the item's descriptor is a range
 *    spec..last. rte_flow.rst: "Field values in last which are either 0 or
 *    equal to the corresponding values in spec are ignored; they do not
 *    generate a range." Both are compared under the mask.
 * A backend matches spec & mask, and rule_field_span() for a range.
 */
#define RULE_FIELDS_MAX 32 /* of one item type: `ranges` has a bit for each */
struct rule_item_view {
	const uint8_t *mask;
	uint32_t ranges;
};

/* What validating a whole rule learns, for the backends that go on with it. */
struct rule_shape {
	unsigned items; /* before END */
	struct rule_item_view item[MPF_FLOW_ITEMS_MAX];
	struct rule_actions actions;
};

/*
 * Validation, exactly as rte_flow.rst states it. Each returns 0, or a
 * negative errno with `error` (when not NULL) naming the cause:
 *  -EINVAL   unknown or invalid specification
 *  -ENOTSUP  valid but unsupported (a range whose last is below spec, RAW
 *            ranges, more than the MPF_FLOW_*_MAX limits, an action for the
 *            receiver on an egress-only rule)
 * The pattern's and the actions' parts fill theirs of `shape` (may be NULL).
 */
int rule_validate_attr(const struct mpf_flow_attr *attr, struct mpf_flow_error *error);
int rule_validate_pattern(const struct mpf_flow_item *pattern, struct rule_shape *shape,
			  struct mpf_flow_error *error);
int rule_validate_actions(const struct mpf_flow_action *actions, struct rule_actions *out,
			  struct mpf_flow_error *error);

/* All three of the above, and what only the whole rule says (directions
 * against actions). */
int rule_validate(const struct mpf_flow_attr *attr, const struct mpf_flow_item *pattern,
		  const struct mpf_flow_action *actions, struct rule_shape *shape,
		  struct mpf_flow_error *error);

/*
 * Field `f` of a validated item as a span of values, each desc->fields[f].size
 * bytes in the field's order: `low` its spec & mask, `high` its last & mask
 * when the field is a range, else `low` again. All zero without a spec.
 */
void rule_field_span(const struct rule_item_desc *desc, const struct mpf_flow_item *item,
		     const struct rule_item_view *view, unsigned f, uint8_t *low, uint8_t *high);

/* rule_field_span() of a host-order 32-bit field (ANY num, VF id, PORT index). */
void rule_field_span32(const struct rule_item_desc *desc, const struct mpf_flow_item *item,
		       const struct rule_item_view *view, unsigned f, uint32_t *low,
		       uint32_t *high);

/*
 * Write a rule in testpmd's flow syntax ("ingress pattern eth / ipv4 src is
 * 10.0.0.1 / end actions queue index 3 / end") into buf, NUL-terminated.
 * Returns the length the whole text needs, as snprintf does: a result >= cap
 * means it was cut. The rule must have passed rule_validate().
 */
size_t rule_print(char *buf, size_t cap, const struct mpf_flow_attr *attr,
		  const struct mpf_flow_item *pattern, const struct mpf_flow_action *actions);

/* The mask in force for an item with a spec: its own, or the default. */
const void *rule_item_mask(const struct mpf_flow_item *item);

/*
 * The one way to fill an error: sets type, cause and a formatted message
 * (when `error` is not NULL) and returns -code.
 */
int flow_error_set(struct mpf_flow_error *error, int code, enum mpf_flow_error_type type,
		   int32_t cause, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
