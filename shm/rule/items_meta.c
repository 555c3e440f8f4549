/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Items that match meta-data or shape the pattern (END, VOID, INVERT, PF, VF,
 * PORT, FUZZY), and the two wildcards (ANY, RAW).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "shm/rule/rule.h"

const struct mpf_flow_item_any mpf_flow_item_any_mask = {.num = 0x00000000};
const struct mpf_flow_item_vf mpf_flow_item_vf_mask = {.id = 0x00000000};
const struct mpf_flow_item_port mpf_flow_item_port_mask = {.index = 0x00000000};
const struct mpf_flow_item_fuzzy mpf_flow_item_fuzzy_mask = {.thresh = 0xffffffff};
const struct mpf_flow_item_raw mpf_flow_item_raw_mask = {
	.relative = 1,
	.search = 1,
	.reserved = 0x3fffffff,
	.offset = -1, /* all bits */
	.limit = 0xffff,
	.length = 0xffff,
	.pattern = NULL, /* every pattern byte */
};

const struct rule_item_desc rule_item_end = {
	.name = "end",
	.spec_use = RULE_SPEC_IGNORED,
	.stacking = RULE_STACK_META,
};

const struct rule_item_desc rule_item_void = {
	.name = "void",
	.spec_use = RULE_SPEC_IGNORED,
	.stacking = RULE_STACK_META,
};

const struct rule_item_desc rule_item_invert = {
	.name = "invert",
	.spec_use = RULE_SPEC_IGNORED,
	.stacking = RULE_STACK_META,
};

const struct rule_item_desc rule_item_pf = {
	.name = "pf",
	.spec_use = RULE_SPEC_FORBIDDEN,
	.stacking = RULE_STACK_META,
};

static const struct rule_field vf_fields[] = {
	RULE_FIELD_HOST(struct mpf_flow_item_vf, id, "id"),
};

const struct rule_item_desc rule_item_vf = {
	.name = "vf",
	.size = sizeof(struct mpf_flow_item_vf),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_META,
	.default_mask = &mpf_flow_item_vf_mask,
	.fields = vf_fields,
	.n_fields = 1,
};

static const struct rule_field port_fields[] = {
	RULE_FIELD_HOST(struct mpf_flow_item_port, index, "index"),
};

const struct rule_item_desc rule_item_port = {
	.name = "port",
	.size = sizeof(struct mpf_flow_item_port),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_META,
	.default_mask = &mpf_flow_item_port_mask,
	.fields = port_fields,
	.n_fields = 1,
};

static const struct rule_field fuzzy_fields[] = {
	RULE_FIELD_HOST(struct mpf_flow_item_fuzzy, thresh, "thresh"),
};

/* FUZZY qualifies the whole pattern (the document's example puts it first,
 * before ETH), so it stacks like a meta item. */
const struct rule_item_desc rule_item_fuzzy = {
	.name = "fuzzy",
	.size = sizeof(struct mpf_flow_item_fuzzy),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_META,
	.default_mask = &mpf_flow_item_fuzzy_mask,
	.fields = fuzzy_fields,
	.n_fields = 1,
};

static const struct rule_field any_fields[] = {
	RULE_FIELD_HOST(struct mpf_flow_item_any, num, "num"),
};

const struct rule_item_desc rule_item_any = {
	.name = "any",
	.size = sizeof(struct mpf_flow_item_any),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_WILDCARD,
	.default_mask = &mpf_flow_item_any_mask,
	.fields = any_fields,
	.n_fields = 1,
};

/* RAW's last: "if specified, either all 0 or with the same values as spec". */
static bool raw_last_is_zero(const struct mpf_flow_item_raw *last)
{
	return !(last->relative || last->search || last->reserved || last->offset || last->limit ||
		 last->length);
}

static bool raw_last_equals_spec(const struct mpf_flow_item_raw *last,
				 const struct mpf_flow_item_raw *spec)
{
	if (last->relative != spec->relative || last->search != spec->search ||
	    last->reserved != spec->reserved || last->offset != spec->offset ||
	    last->limit != spec->limit || last->length != spec->length)
		return false;
	if (spec->length == 0)
		return true;
	return last->pattern != NULL && memcmp(last->pattern, spec->pattern, spec->length) == 0;
}

static int raw_check(const struct mpf_flow_item *item, const void *mask, int index,
		     struct mpf_flow_error *error)
{
	const struct mpf_flow_item_raw *spec = item->spec;
	const struct mpf_flow_item_raw *last = item->last;
	const struct mpf_flow_item_raw *m = mask;

	if (spec->reserved != 0)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, index,
				      "item %d (raw): reserved bits must be zero", index);
	if (spec->length > MPF_FLOW_RAW_PATTERN_MAX)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, index,
				      "item %d (raw): pattern of %u bytes, at most %u supported",
				      index, (unsigned)spec->length, MPF_FLOW_RAW_PATTERN_MAX);
	if (spec->length > 0 && spec->pattern == NULL)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, index,
				      "item %d (raw): length %u without a pattern", index,
				      (unsigned)spec->length);
	if (!spec->relative && spec->offset < 0)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, index,
				      "item %d (raw): negative offset %d needs relative", index,
				      (int)spec->offset);
	if (spec->limit != 0 && !spec->search)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, index,
				      "item %d (raw): limit %u needs search", index,
				      (unsigned)spec->limit);
	/* A mask may leave out pattern bytes, not the fields that place the
	 * pattern: nothing could honour a partial offset or length. */
	if (!m->relative || !m->search || m->offset != -1 || m->limit != 0xffff ||
	    m->length != 0xffff)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, index,
				      "item %d (raw): a mask must cover relative, search, offset, "
				      "limit and length (only pattern bytes may be masked out)",
				      index);
	if (last != NULL && !raw_last_is_zero(last) && !raw_last_equals_spec(last, spec))
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, index,
				      "item %d (raw): ranges are not supported, last must be "
				      "all zero or equal to spec",
				      index);
	return 0;
}

/* RAW compares its own fields (no ranges, a variable pattern): no field
 * table, its check above instead. */
const struct rule_item_desc rule_item_raw = {
	.name = "raw",
	.size = sizeof(struct mpf_flow_item_raw),
	.spec_use = RULE_SPEC_MATCHED,
	.stacking = RULE_STACK_WILDCARD,
	.default_mask = &mpf_flow_item_raw_mask,
	.check = raw_check,
};
