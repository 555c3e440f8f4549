/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pattern compilation and the general matcher of the soft datapath; the
 * semantics are spelled out in match.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hwdrv/soft/match.h"
#include "shm/rule/rule.h"

/* Add a meta item's span of values (its one 32-bit field) to a value set. */
static int select_add(struct match_select *s, const struct mpf_flow_item *item,
		      const struct rule_item_view *view, int index, struct mpf_flow_error *error)
{
	struct match_span *span = &s->first;

	if (s->n == MATCH_SELECT_MAX)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, index,
				      "item %d (%s): more than %d in one pattern", index,
				      mpf_flow_item_name(item->type), MATCH_SELECT_MAX);
	if (s->n > 0) {
		struct match_span *more = realloc(s->more, s->n * sizeof(*more));

		if (more == NULL)
			return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "soft datapath: out of memory");
		s->more = more;
		span = &more[s->n - 1];
	}
	span->mask = view->mask ? *(const uint32_t *)(const void *)view->mask : 0;
	rule_field_span32(rule_item_desc((int)item->type), item, view, 0, &span->low, &span->high);
	s->n++;
	return 0;
}

bool match_select(const struct match_select *s, uint32_t value)
{
	if (s->n == 0)
		return true;
	for (unsigned i = 0; i < s->n; i++) {
		const struct match_span *span = match_span_at(s, i);
		uint32_t v = value & span->mask;

		if (v >= span->low && v <= span->high)
			return true;
	}
	return false;
}

bool match_function(const struct match_pattern *m, uint16_t function)
{
	if (m->functions.n == 0 && !m->pf)
		return true;
	if (function == PACKET_FUNCTION_PF)
		return m->pf;
	return m->functions.n > 0 && match_select(&m->functions, function);
}

static int compile_header(struct match_item *out, const struct mpf_flow_item *item,
			  const struct rule_item_view *view, const struct rule_item_desc *desc,
			  int index, struct mpf_flow_error *error)
{
	const uint8_t *spec = item->spec, *mask = view->mask;
	struct match_range ranges[MATCH_RANGES_MAX];

	if (desc->size > MATCH_ITEM_BYTES)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, index,
				      "item %d (%s): too large for the soft datapath", index,
				      desc->name);
	out->kind = MATCH_HEADER;
	out->size = (uint8_t)desc->size;
	if (mask == NULL)
		return 0;
	/* Eight bytes at a time (a byte loop was a seventh of a bulk insert:
	 * the compiler cannot tell `out` from the request's bytes). */
	for (unsigned i = 0; i < desc->size;) {
		if (desc->size - i >= 8) {
			uint64_t m, v;

			memcpy(&m, mask + i, 8);
			memcpy(&v, spec + i, 8);
			v &= m;
			memcpy(out->mask + i, &m, 8);
			memcpy(out->value + i, &v, 8);
			i += 8;
		} else {
			out->mask[i] = mask[i];
			out->value[i] = spec[i] & mask[i];
			i++;
		}
	}
	for (unsigned f = 0; f < desc->n_fields && view->ranges >> f; f++) {
		const struct rule_field *field = &desc->fields[f];
		struct match_range *r;

		if (!(view->ranges & 1u << f))
			continue;
		if (out->n_ranges == MATCH_RANGES_MAX || field->size > sizeof(r->mask))
			return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, index,
					      "item %d (%s): range on field %s not supported",
					      index, desc->name, field->name);
		r = &ranges[out->n_ranges++];
		r->offset = (uint8_t)field->offset;
		r->size = field->size;
		r->order = field->order;
		memcpy(r->mask, mask + field->offset, field->size);
		rule_field_span(desc, item, view, f, r->low, r->high);
		/* The range's bytes are compared by the range alone. */
		memset(out->mask + field->offset, 0, field->size);
		memset(out->value + field->offset, 0, field->size);
	}
	/* Most rules have no range: they pay no memory for one. */
	if (out->n_ranges) {
		out->ranges = malloc(out->n_ranges * sizeof(*out->ranges));
		if (out->ranges == NULL)
			return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_ITEM, index,
					      "item %d (%s): out of memory", index, desc->name);
		memcpy(out->ranges, ranges, out->n_ranges * sizeof(*out->ranges));
	}
	return 0;
}

static int compile_raw(struct match_item *out, const struct mpf_flow_item *item,
		       const struct rule_item_view *view, int index, struct mpf_flow_error *error)
{
	const struct mpf_flow_item_raw *spec = item->spec;
	const struct mpf_flow_item_raw *mask = (const void *)view->mask;

	out->kind = MATCH_RAW;
	if (spec == NULL)
		return 0; /* no spec: an empty pattern at the start, found in any frame */
	out->relative = spec->relative;
	out->search = spec->search;
	out->offset = spec->offset;
	out->limit = spec->limit;
	out->length = spec->length;
	if (spec->length == 0)
		return 0;
	out->raw_value = malloc(2u * spec->length);
	if (out->raw_value == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_ITEM, index,
				      "item %d (raw): out of memory", index);
	out->raw_mask = out->raw_value + spec->length;
	for (unsigned i = 0; i < spec->length; i++) {
		out->raw_mask[i] = mask->pattern ? mask->pattern[i] : 0xff;
		out->raw_value[i] = spec->pattern[i] & out->raw_mask[i];
	}
	return 0;
}

static void compile_any(struct match_item *out, const struct mpf_flow_item *item,
			const struct rule_item_view *view)
{
	out->kind = MATCH_ANY;
	if (view->mask == NULL ||
	    ((const struct mpf_flow_item_any *)(const void *)view->mask)->num == 0) {
		out->any_min = 0;
		out->any_max = UINT32_MAX;
		return;
	}
	rule_field_span32(&rule_item_any, item, view, 0, &out->any_min, &out->any_max);
}

int match_compile(struct match_pattern *m, const struct hwdrv_rule *rule, struct pool *pool,
		  struct mpf_flow_error *error)
{
	const struct mpf_flow_item *pattern = rule->pattern;
	const struct rule_shape *shape = rule->shape;
	unsigned n = shape->items;
	bool first_data = true;
	int err = 0;

	memset(m, 0, sizeof(*m));
	m->directions =
		(rule->attr->ingress ? MATCH_INGRESS : 0) | (rule->attr->egress ? MATCH_EGRESS : 0);
	m->cap_items = n ? n : 1;
	m->items = pool_zalloc(pool, m->cap_items * sizeof(*m->items));
	if (m->items == NULL) {
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "soft datapath: out of memory");
	}
	for (int i = 0; i < (int)n && !err; i++) {
		const struct mpf_flow_item *item = &pattern[i];
		const struct rule_item_view *view = &shape->item[i];
		const struct rule_item_desc *desc = rule_item_desc(item->type);
		struct match_item *out = &m->items[m->n_items];

		switch (item->type) {
		case MPF_FLOW_ITEM_TYPE_VOID:
		case MPF_FLOW_ITEM_TYPE_FUZZY:
			continue;
		case MPF_FLOW_ITEM_TYPE_INVERT:
			m->invert = true;
			continue;
		case MPF_FLOW_ITEM_TYPE_PF:
			m->pf = true;
			continue;
		case MPF_FLOW_ITEM_TYPE_VF:
			err = select_add(&m->functions, item, view, i, error);
			continue;
		case MPF_FLOW_ITEM_TYPE_PORT:
			err = select_add(&m->ports, item, view, i, error);
			continue;
		case MPF_FLOW_ITEM_TYPE_ANY:
			compile_any(out, item, view);
			break;
		case MPF_FLOW_ITEM_TYPE_RAW:
			err = compile_raw(out, item, view, i, error);
			if (first_data && !out->relative)
				first_data = false; /* anchored at the frame's start */
			break;
		default:
			err = compile_header(out, item, view, desc, i, error);
			break;
		}
		out->type = (uint8_t)item->type;
		/* A search, or a span of layers: more than one way to go on. */
		m->branching += (out->kind == MATCH_RAW && out->search) ||
				(out->kind == MATCH_ANY && out->any_min < out->any_max);
		if (first_data)
			m->floating = item->type != MPF_FLOW_ITEM_TYPE_ETH &&
				      item->type != MPF_FLOW_ITEM_TYPE_ANY;
		first_data = false;
		m->n_items++;
	}
	if (m->ports.n == 0) {
		m->own_port = true;
		m->ports.n = 1;
		m->ports.first = (struct match_span){
			.low = rule->port, .high = rule->port, .mask = UINT32_MAX};
	}
	if (err)
		match_free(m, pool);
	return err;
}

void match_free(struct match_pattern *m, struct pool *pool)
{
	if (m->items)
		for (unsigned i = 0; i < m->n_items; i++) {
			free(m->items[i].raw_value);
			free(m->items[i].ranges);
		}
	pool_free(pool, m->items, m->cap_items * sizeof(*m->items));
	free(m->ports.more);
	free(m->functions.more);
	m->items = NULL;
	m->ports.more = m->functions.more = NULL;
	m->n_items = m->cap_items = m->branching = 0;
}

bool match_is_keyed(const struct match_pattern *m)
{
	if (m->invert || (m->directions != MATCH_INGRESS && m->directions != MATCH_EGRESS) ||
	    m->ports.n != 1 || m->ports.first.mask != UINT32_MAX ||
	    m->ports.first.low != m->ports.first.high || m->functions.n + m->pf > 1 ||
	    (m->functions.n == 1 && (m->functions.first.mask != UINT32_MAX ||
				     m->functions.first.low != m->functions.first.high)))
		return false;
	for (unsigned i = 0; i < m->n_items; i++)
		if (m->items[i].kind != MATCH_HEADER)
			return false;
	return true;
}

/* ------------------------------------------------------------------------ */
/* The general matcher                                                      */
/* ------------------------------------------------------------------------ */

static int range_compare(const uint8_t *a, const uint8_t *b, const struct match_range *r)
{
	if (r->order == RULE_ORDER_HOST) {
		uint32_t x, y;

		memcpy(&x, a, sizeof(x));
		memcpy(&y, b, sizeof(y));
		return x < y ? -1 : x > y;
	}
	return memcmp(a, b, r->size);
}

bool match_header(const struct match_item *item, const uint8_t *bytes)
{
	for (unsigned i = 0; i < item->size; i++)
		if ((bytes[i] & item->mask[i]) != item->value[i])
			return false;
	for (unsigned i = 0; i < item->n_ranges; i++) {
		const struct match_range *r = &item->ranges[i];
		uint8_t v[sizeof(r->mask)];

		for (unsigned b = 0; b < r->size; b++)
			v[b] = bytes[r->offset + b] & r->mask[b];
		if (range_compare(v, r->low, r) < 0 || range_compare(v, r->high, r) > 0)
			return false;
	}
	return true;
}

static bool raw_at(const struct match_item *item, const struct packet *p, int64_t at)
{
	if (at < 0 || at > (int64_t)p->length || item->length > p->length - at)
		return false;
	for (unsigned i = 0; i < item->length; i++)
		if ((p->data[at + i] & item->raw_mask[i]) != item->raw_value[i])
			return false;
	return true;
}

/* The layer that starts at byte `pos`, or n_layers. */
static unsigned layer_at(const struct packet *p, uint32_t pos)
{
	for (unsigned l = 0; l < p->n_layers; l++) {
		uint32_t start = l ? p->layers[l - 1].end : 0;

		if (start >= pos)
			return start == pos ? l : p->n_layers;
	}
	return p->n_layers;
}

/* Items [i, n) against the packet from layer `layer`, byte `pos` (the end of
 * what the previous item matched). */
static bool match_from(const struct match_pattern *m, unsigned i, const struct packet *p,
		       unsigned layer, uint32_t pos)
{
	for (; i < m->n_items; i++) {
		const struct match_item *item = &m->items[i];

		switch (item->kind) {
		case MATCH_HEADER: {
			const struct packet_layer *l = &p->layers[layer];

			if (layer >= p->n_layers || !match_type(item->type, l->type) ||
			    !match_header(item, p->data + l->hdr))
				return false;
			layer++;
			pos = l->end;
			break;
		}
		case MATCH_ANY: {
			uint32_t left = p->n_layers - layer;
			uint32_t max = item->any_max < left ? item->any_max : left;

			for (uint32_t k = item->any_min; k <= max; k++)
				if (match_from(m, i + 1, p, layer + k,
					       k ? p->layers[layer + k - 1].end : pos))
					return true;
			return false;
		}
		case MATCH_RAW: {
			int64_t start = (item->relative ? (int64_t)pos : 0) + item->offset;
			int64_t stop = start;

			if (item->search)
				stop = item->limit ? start + item->limit : (int64_t)p->length;
			/* Not past where the pattern still fits in the frame,
			 * nor before it: an offset of -2^31 is valid, and walking
			 * from there took seconds a frame. */
			if (stop > (int64_t)p->length - item->length)
				stop = (int64_t)p->length - item->length;
			if (start < 0)
				start = 0;
			for (int64_t at = start; at <= stop; at++) {
				if (!raw_at(item, p, at))
					continue;
				if (match_from(m, i + 1, p,
					       layer_at(p, (uint32_t)(at + item->length)),
					       (uint32_t)(at + item->length)))
					return true;
			}
			return false;
		}
		}
	}
	return true;
}

/*
 * The same items, a set of positions at a time: what matching one item
 * from every position the items before can end at gives, as a bitmap over
 * the frame's bytes [0, length]. match_from() goes depth first and tries
 * every way again under each way of the item before: two searches (or
 * spans of layers) in a pattern multiply, and a rule of seven RAW searches
 * whose masked-out pattern matches anywhere took minutes a frame (an
 * outside test's; the loop's next RCU wait then stood as long). Here each
 * item costs the frame's length (a search: times its pattern's length)
 * whatever came before.
 */
#define SET_WORDS (65535 / 64 + 1) /* on the stack: frames to 64 KiB */

static inline void set_add(uint64_t *set, uint32_t pos)
{
	set[pos / 64] |= 1ull << (pos % 64);
}

static inline bool set_has(const uint64_t *set, int64_t pos, uint32_t length)
{
	return pos >= 0 && pos <= length && (set[pos / 64] >> (pos % 64) & 1);
}

/* A search item from every position of `from` at once: the pattern may
 * start in [s, s + limit] (limit 0: to the frame's end) for s each
 * position plus the offset (just the offset when absolute). One pass over
 * the frame, counting the windows open at each byte. */
static bool search_set(const struct match_item *item, const struct packet *p, const uint64_t *from,
		       uint64_t *to)
{
	int64_t last = (int64_t)p->length - item->length, open = 0;
	bool any = false;

	if (last < 0)
		return false;
	/* A negative offset opens windows before the frame: those open at
	 * byte -1 (the loop closes those that end there), counted at once (an
	 * offset of -2^31 is valid, and walking from it took seconds a frame). */
	if (item->relative && item->offset < 0) {
		int64_t lo = -(int64_t)item->offset - item->limit - 1,
			hi = -(int64_t)item->offset - 1;

		if (!item->limit || lo < 0)
			lo = 0;
		for (int64_t q = lo; q <= hi && q <= p->length; q++)
			open += set_has(from, q, p->length);
	}
	for (int64_t at = 0; at <= last; at++) {
		/* Windows starting at `at`, and those that ended just before. */
		if (item->relative) {
			open += set_has(from, at - item->offset, p->length);
			if (item->limit)
				open -= set_has(from, at - item->offset - item->limit - 1,
						p->length);
		} else {
			open = at >= item->offset &&
			       (!item->limit || at <= (int64_t)item->offset + item->limit);
		}
		if (open > 0 && raw_at(item, p, at)) {
			set_add(to, (uint32_t)(at + item->length));
			any = true;
		}
	}
	return any;
}

/* One item from position `pos`: where it may end, added to `to`. */
static bool step_from(const struct match_item *item, const struct packet *p, uint32_t pos,
		      uint64_t *to)
{
	unsigned layer = layer_at(p, pos);
	bool any = false;

	switch (item->kind) {
	case MATCH_HEADER:
		if (layer < p->n_layers && match_type(item->type, p->layers[layer].type) &&
		    match_header(item, p->data + p->layers[layer].hdr)) {
			set_add(to, p->layers[layer].end);
			any = true;
		}
		break;
	case MATCH_ANY: {
		uint32_t left = p->n_layers - layer;
		uint32_t max = item->any_max < left ? item->any_max : left;

		for (uint32_t k = item->any_min; k <= max; k++) {
			set_add(to, k ? p->layers[layer + k - 1].end : pos);
			any = true;
		}
		break;
	}
	case MATCH_RAW: {
		int64_t at = (item->relative ? (int64_t)pos : 0) + item->offset;

		if (raw_at(item, p, at)) {
			set_add(to, (uint32_t)(at + item->length));
			any = true;
		}
		break;
	}
	}
	return any;
}

static bool match_sets(const struct match_pattern *m, const struct packet *p, uint64_t *from,
		       uint64_t *to)
{
	size_t words = p->length / 64 + 1;

	for (unsigned i = 0; i < m->n_items; i++) {
		const struct match_item *item = &m->items[i];
		bool any = false;
		uint64_t *swap;

		memset(to, 0, words * sizeof(*to));
		if (item->kind == MATCH_RAW && item->search) {
			any = search_set(item, p, from, to);
		} else {
			for (size_t w = 0; w < words; w++)
				for (uint64_t bits = from[w]; bits; bits &= bits - 1)
					any |= step_from(
						item, p,
						(uint32_t)(w * 64 +
							   (unsigned)__builtin_ctzll(bits)),
						to);
		}
		if (!any)
			return false;
		swap = from;
		from = to;
		to = swap;
	}
	return true;
}

bool match_walk(const struct match_pattern *m, const struct packet *p, enum match_way way)
{
	if (way == MATCH_DEPTH_FIRST) {
		bool hit = match_from(m, 0, p, 0, 0);

		for (unsigned start = 1; !hit && m->floating && start < p->n_layers; start++)
			hit = match_from(m, 0, p, start, p->layers[start - 1].end);
		return hit;
	} else {
		size_t words = p->length / 64 + 1;
		uint64_t stack[2][SET_WORDS], *sets = stack[0];
		bool hit;

		/* A longer capture (a pcap's snap length may be 256 KiB). */
		if (words > SET_WORDS && (sets = malloc(2 * words * sizeof(*sets))) == NULL)
			return match_walk(m, p, MATCH_DEPTH_FIRST); /* slow, never wrong */
		if (words <= SET_WORDS)
			words = SET_WORDS;
		memset(sets, 0, (p->length / 64 + 1) * sizeof(*sets));
		set_add(sets, 0);
		for (unsigned start = 1; m->floating && start < p->n_layers; start++)
			set_add(sets, p->layers[start - 1].end);
		hit = match_sets(m, p, sets, sets + words);
		if (sets != stack[0])
			free(sets);
		return hit;
	}
}

bool match_packet(const struct match_pattern *m, const struct packet *p)
{
	bool hit;

	/* The direction scopes the rule, and so does its own port (PORT items
	 * are the pattern's): INVERT turns neither around. The code before
	 * inverted the port too, and an inverted DROP on port 0 dropped every
	 * frame of every other port. */
	if (!(m->directions & (p->egress ? MATCH_EGRESS : MATCH_INGRESS)) ||
	    (m->own_port && !match_select(&m->ports, p->port)))
		return false;
	hit = match_select(&m->ports, p->port) && match_function(m, p->function);
	/* Depth first while at most one item branches: each way then costs
	 * the items after it once. */
	if (hit)
		hit = match_walk(m, p, m->branching > 1 ? MATCH_BY_SETS : MATCH_DEPTH_FIRST);
	return hit != m->invert;
}
