/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Rule validation, rule by rule as rte_flow.rst states it. Every refusal
 * names its cause (error type + item/action index) and uses the errno the
 * document gives: EINVAL for an invalid specification, ENOTSUP for a valid
 * one this implementation does not support.
 */
#include <errno.h>
#include <string.h>

#include "shm/rule/rule.h"

int rule_validate_attr(const struct mpf_flow_attr *attr, struct mpf_flow_error *error)
{
	if (attr == NULL)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ATTR, -1,
				      "attributes are missing");
	if (attr->reserved != 0)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ATTR, -1,
				      "reserved attribute bits must be zero");
	if (!attr->ingress && !attr->egress)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ATTR, -1,
				      "at least one direction (ingress or egress) is required");
	return 0;
}

static uint32_t host_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Field `f` of `bytes` under the mask, into `out`. */
static void field_masked(const struct rule_field *field, const uint8_t *bytes, const uint8_t *mask,
			 uint8_t *out)
{
	for (unsigned i = 0; i < field->size; i++)
		out[i] = bytes[field->offset + i] & mask[field->offset + i];
}

static bool zero(const uint8_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/*
 * Whether `last`, under the mask, is all zero or all equal to `spec`: then
 * no field of it makes a range, nor can one be lower than spec. A bulk
 * load's wildcards are such (a port "0 : 65535" under mask 0 beside an
 * exact one, last = spec): known in a few words instead of field by field.
 */
static bool last_ignored(const struct rule_item_desc *desc, const struct mpf_flow_item *item,
			 const uint8_t *mask)
{
	const uint8_t *spec = item->spec, *last = item->last;
	uint64_t zero = 0, equal = 0;
	unsigned i = 0;

	for (; i + 8 <= desc->size; i += 8) {
		uint64_t s, l, m;

		memcpy(&s, spec + i, 8);
		memcpy(&l, last + i, 8);
		memcpy(&m, mask + i, 8);
		zero |= l & m;
		equal |= (l ^ s) & m;
	}
	for (; i < desc->size; i++) {
		zero |= last[i] & mask[i];
		equal |= (last[i] ^ spec[i]) & mask[i];
	}
	return zero == 0 || equal == 0;
}

/*
 * "Field values in last which are either 0 or equal to the corresponding
 * values in spec are ignored; they do not generate a range. Nonzero values
 * lower than those in spec are not supported." The mask applies to both
 * before they are compared. Each field that makes a range sets its bit.
 */
static int find_ranges(const struct rule_item_desc *desc, const struct mpf_flow_item *item,
		       struct rule_item_view *view, int index, struct mpf_flow_error *error)
{
	if (last_ignored(desc, item, view->mask))
		return 0;
	for (unsigned f = 0; f < desc->n_fields; f++) {
		const struct rule_field *field = &desc->fields[f];
		uint8_t s[16], l[16];
		int order;

		field_masked(field, item->spec, view->mask, s);
		field_masked(field, item->last, view->mask, l);
		if (zero(l, field->size))
			continue;
		if (field->order == RULE_ORDER_HOST)
			order = host_u32(l) < host_u32(s) ? -1 : host_u32(l) != host_u32(s);
		else
			order = memcmp(l, s, field->size);
		if (order < 0)
			return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, index,
					      "item %d (%s): last.%s is lower than spec.%s", index,
					      desc->name, field->name, field->name);
		if (order > 0)
			view->ranges |= 1u << f;
	}
	return 0;
}

static int check_item(const struct rule_item_desc *desc, const struct mpf_flow_item *item,
		      struct rule_item_view *view, int index, struct mpf_flow_error *error)
{
	*view = (struct rule_item_view){0};
	switch (desc->spec_use) {
	case RULE_SPEC_IGNORED:
		return 0;
	case RULE_SPEC_FORBIDDEN:
		if (item->spec || item->last || item->mask)
			return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, index,
					      "item %d (%s): spec, last and mask must not be set",
					      index, desc->name);
		return 0;
	default:
		break;
	}
	if (item->spec == NULL) {
		if (item->last || item->mask)
			return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, index,
					      "item %d (%s): %s without spec", index, desc->name,
					      item->mask ? "mask" : "last");
		return 0; /* no spec: matches any such header */
	}
	view->mask = rule_item_mask(item);
	if (item->last && desc->fields) {
		int err = find_ranges(desc, item, view, index, error);

		if (err)
			return err;
	}
	return desc->check ? desc->check(item, view->mask, index, error) : 0;
}

void rule_field_span(const struct rule_item_desc *desc, const struct mpf_flow_item *item,
		     const struct rule_item_view *view, unsigned f, uint8_t *low, uint8_t *high)
{
	const struct rule_field *field = &desc->fields[f];

	if (view->mask == NULL) {
		memset(low, 0, field->size);
		memset(high, 0, field->size);
		return;
	}
	field_masked(field, item->spec, view->mask, low);
	if (view->ranges & 1u << f)
		field_masked(field, item->last, view->mask, high);
	else
		memcpy(high, low, field->size);
}

void rule_field_span32(const struct rule_item_desc *desc, const struct mpf_flow_item *item,
		       const struct rule_item_view *view, unsigned f, uint32_t *low, uint32_t *high)
{
	uint8_t l[4], h[4];

	rule_field_span(desc, item, view, f, l, h);
	*low = host_u32(l);
	*high = host_u32(h);
}

int rule_validate_pattern(const struct mpf_flow_item *pattern, struct rule_shape *shape,
			  struct mpf_flow_error *error)
{
	const struct rule_item_desc *below = NULL; /* the last header item */
	struct rule_item_view view;
	int below_index = -1;
	int i;

	if (pattern == NULL)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM_NUM, -1,
				      "pattern is missing");
	for (i = 0; pattern[i].type != MPF_FLOW_ITEM_TYPE_END; i++) {
		const struct rule_item_desc *desc;
		int err;

		if (i == MPF_FLOW_ITEMS_MAX)
			return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM_NUM, i,
					      "pattern longer than %d items", MPF_FLOW_ITEMS_MAX);
		desc = rule_item_desc((int)pattern[i].type);
		if (desc == NULL)
			return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, i,
					      "item %d: unknown item type %d", i,
					      (int)pattern[i].type);
		err = check_item(desc, &pattern[i], shape ? &shape->item[i] : &view, i, error);
		if (err)
			return err;

		/* Stacking: meta items stand anywhere; a header must be one
		 * that can sit on the header below it. Layers may be left out
		 * only at the bottom and top of the stack, never between. */
		if (desc->stacking == RULE_STACK_META)
			continue;
		if (below != NULL && below->stacking == RULE_STACK_HEADER &&
		    desc->stacking == RULE_STACK_HEADER &&
		    !(below->next & RULE_ITEM_BIT(pattern[i].type)))
			return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, i,
					      "item %d (%s) cannot follow item %d (%s): a "
					      "protocol layer is missing between them",
					      i, desc->name, below_index, below->name);
		below = desc;
		below_index = i;
	}
	if (shape)
		shape->items = (unsigned)i;
	return 0;
}

int rule_validate_actions(const struct mpf_flow_action *actions, struct rule_actions *out,
			  struct mpf_flow_error *error)
{
	struct rule_actions resolved;
	int deliver = -1; /* index of the last delivering fate (QUEUE, RSS, PF, VF) */
	int i;

	if (actions == NULL)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION_NUM, -1,
				      "action list is missing");
	memset(&resolved, 0, sizeof(resolved));
	for (int t = 0; t < MPF_FLOW_ACTION_TYPES; t++)
		resolved.last[t] = -1;

	/* Every action is checked, though only the last of a type counts. */
	for (i = 0; actions[i].type != MPF_FLOW_ACTION_TYPE_END; i++) {
		const struct rule_action_desc *desc;
		int type = (int)actions[i].type;

		if (i == MPF_FLOW_ACTIONS_MAX)
			return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION_NUM, i,
					      "action list longer than %d actions",
					      MPF_FLOW_ACTIONS_MAX);
		desc = rule_action_desc(type);
		if (desc == NULL)
			return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, i,
					      "action %d: unknown action type %d", i, type);
		if (desc->conf_size == 0 && actions[i].conf != NULL)
			return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, i,
					      "action %d (%s) takes no configuration", i,
					      desc->name);
		if (desc->conf_size != 0 && actions[i].conf == NULL)
			return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, i,
					      "action %d (%s) needs a configuration", i,
					      desc->name);
		if (desc->check) {
			int err = desc->check(actions[i].conf, i, error);

			if (err)
				return err;
		}
		if (type == MPF_FLOW_ACTION_TYPE_VOID)
			continue;
		resolved.last[type] = (int16_t)i;
		if (desc->kind == RULE_ACTION_TERMINATING && type != MPF_FLOW_ACTION_TYPE_DROP) {
			if (deliver >= 0 && actions[deliver].type != actions[i].type)
				return flow_error_set(
					error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, i,
					"action %d (%s) conflicts with action %d (%s): one rule "
					"has one fate",
					i, desc->name, deliver,
					rule_action_desc((int)actions[deliver].type)->name);
			deliver = i;
		}
	}
	resolved.count = (uint8_t)i;

	if (deliver >= 0)
		resolved.fate = (uint8_t)actions[deliver].type;
	else if (resolved.last[MPF_FLOW_ACTION_TYPE_DROP] >= 0 &&
		 resolved.last[MPF_FLOW_ACTION_TYPE_PASSTHRU] < 0)
		resolved.fate = MPF_FLOW_ACTION_TYPE_DROP;
	else
		resolved.fate = MPF_FLOW_ACTION_TYPE_END;
	resolved.terminating = resolved.fate != MPF_FLOW_ACTION_TYPE_END &&
			       resolved.last[MPF_FLOW_ACTION_TYPE_PASSTHRU] < 0;
	if (out)
		*out = resolved;
	return 0;
}

/* An egress-only rule sees packets leaving the port: none reaches a
 * receiver on this side, so nothing can be delivered or marked for one. */
static int check_directions(const struct mpf_flow_attr *attr, const struct mpf_flow_action *actions,
			    struct mpf_flow_error *error)
{
	if (attr->ingress)
		return 0;
	for (int i = 0; actions[i].type != MPF_FLOW_ACTION_TYPE_END; i++) {
		const struct rule_action_desc *desc = rule_action_desc((int)actions[i].type);

		if (desc->receive)
			return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, i,
					      "action %d (%s): not meaningful on an egress rule", i,
					      desc->name);
	}
	return 0;
}

int rule_validate(const struct mpf_flow_attr *attr, const struct mpf_flow_item *pattern,
		  const struct mpf_flow_action *actions, struct rule_shape *shape,
		  struct mpf_flow_error *error)
{
	struct rule_actions resolved;
	int err = rule_validate_attr(attr, error);

	if (!err)
		err = rule_validate_pattern(pattern, shape, error);
	if (!err)
		err = rule_validate_actions(actions, shape ? &shape->actions : &resolved, error);
	if (!err)
		err = check_directions(attr, actions, error);
	return err;
}
