/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * testpmd's rule text over the rule model's descriptors (text.h). The
 * parser is a plain recursive descent over the words of one line; every
 * refusal names the word at fault. Field operators are testpmd's:
 *
 *   FIELD is V       spec = V, and the field's bits set in the mask
 *   FIELD spec V     spec = V
 *   FIELD last V     last = V (the upper end of a range)
 *   FIELD mask V     the field's bits of the mask = V
 *   FIELD prefix N   the field's top N bits set in the mask
 *
 * and, as in testpmd, an item's spec, last and mask exist only once an
 * operator touched them: an item with a spec and no mask uses the default
 * mask; once any field is given with is, mask or prefix, the mask is the
 * sum of those fields alone. RAW's fields (relative, search, offset,
 * limit, pattern, pattern_hex) take every operator too, except that `is`
 * sets only the spec (RAW's default mask covers every field): a RAW last or
 * mask reaches validation, which refuses it with its cause.
 *
 * An action's parameters are data (action_params below): each names a
 * member of the action's configuration and how its value is read; RSS's
 * lists (types, queues, key) are the one special reader.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/ether.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/rule/rule.h"
#include "shm/rule/text.h"

enum { SPEC, LAST, MASK };

_Static_assert(sizeof(struct mpf_flow_item_ipv6) <= RULE_TEXT_ITEM_BYTES &&
		       sizeof(struct mpf_flow_item_raw) <= RULE_TEXT_ITEM_BYTES &&
		       sizeof(struct mpf_flow_item_tcp) <= RULE_TEXT_ITEM_BYTES,
	       "every item struct fits its storage");

/* testpmd's names for bits of a field (a 12-bit VLAN id inside the TCI). */
struct subfield {
	uint8_t item; /* enum mpf_flow_item_type */
	const char *name;
	const char *field; /* the descriptor's field that holds the bits */
	uint8_t shift, width;
};

static const struct subfield subfields[] = {
	{MPF_FLOW_ITEM_TYPE_VLAN, "pcp", "tci", 13, 3},
	{MPF_FLOW_ITEM_TYPE_VLAN, "dei", "tci", 12, 1},
	{MPF_FLOW_ITEM_TYPE_VLAN, "vid", "tci", 0, 12},
	{MPF_FLOW_ITEM_TYPE_IPV6, "tc", "vtc_flow", 20, 8},
	{MPF_FLOW_ITEM_TYPE_IPV6, "flow", "vtc_flow", 0, 20},
	{MPF_FLOW_ITEM_TYPE_MPLS, "label", "label_tc_s", 4, 20},
	{MPF_FLOW_ITEM_TYPE_MPLS, "tc", "label_tc_s", 1, 3},
	{MPF_FLOW_ITEM_TYPE_MPLS, "s", "label_tc_s", 0, 1},
	{MPF_FLOW_ITEM_TYPE_E_TAG, "grp_ecid_b", "rsvd_grp_ecid_b", 0, 14},
	{MPF_FLOW_ITEM_TYPE_E_TAG, "in_ecid_b", "epcp_edei_in_ecid_b", 0, 12},
};

/* A field as the parser addresses it: a descriptor's field, or some of its
 * bits. */
struct field_ref {
	const struct rule_field *field;
	uint8_t shift, width; /* width: bits of the value */
};

/* ------------------------------------------------------------------------ */
/* Words                                                                    */
/* ------------------------------------------------------------------------ */

int rule_parser_fail(struct rule_parser *p, unsigned token, const char *fmt, ...)
{
	va_list ap;

	p->error_token = token;
	va_start(ap, fmt);
	vsnprintf(p->message, sizeof(p->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

size_t rule_line_text_length(const char *line, size_t length)
{
	while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r'))
		length--;
	return length;
}

int rule_words_split(struct rule_words *w, const char *line, struct rule_parser *p)
{
	size_t length = strlen(line), text = rule_line_text_length(line, length);
	size_t i = 0;

	w->line = line;
	w->count = 0;
	p->words = w;
	p->at = 0;
	if (text >= RULE_TEXT_LINE_MAX)
		return rule_parser_fail(p, 0, "a line of %zu bytes, at most %u", text,
					RULE_TEXT_LINE_MAX - 1);
	for (;;) {
		size_t start;

		while (i < length && isspace((unsigned char)line[i]))
			i++;
		if (i == length || line[i] == '#')
			return 0;
		if (w->count == RULE_TEXT_TOKENS_MAX)
			return rule_parser_fail(p, w->count - 1, "more than %u words in one line",
						RULE_TEXT_TOKENS_MAX);
		start = i;
		while (i < length && !isspace((unsigned char)line[i]))
			i++;
		w->tokens[w->count++] = (struct rule_token){.column = (uint16_t)start,
							    .length = (uint16_t)(i - start)};
	}
}

bool rule_parser_more(const struct rule_parser *p)
{
	return p->at < p->words->count;
}

bool rule_parser_is(const struct rule_parser *p, unsigned t, const char *word)
{
	const struct rule_token *tok = &p->words->tokens[t];

	return t < p->words->count && strlen(word) == tok->length &&
	       memcmp(p->words->line + tok->column, word, tok->length) == 0;
}

bool rule_parser_take(struct rule_parser *p, const char *word)
{
	if (!rule_parser_more(p) || !rule_parser_is(p, p->at, word))
		return false;
	p->at++;
	return true;
}

/* The word at `t`, for messages: its length and its text. */
#define WORD(p, t)                                                                                 \
	(int)(p)->words->tokens[t].length, (p)->words->line + (p)->words->tokens[t].column

int rule_parser_expect(struct rule_parser *p, const char *word, const char *context)
{
	if (rule_parser_take(p, word))
		return 0;
	if (!rule_parser_more(p))
		return rule_parser_fail(p, p->at, "'%s' expected %s", word, context);
	return rule_parser_fail(p, p->at, "'%s' expected %s, not '%.*s'", word, context,
				WORD(p, p->at));
}

/* The next word as a C string in `buf` (not consumed). */
static int peek_word(struct rule_parser *p, char *buf, size_t size, const char *what)
{
	const struct rule_token *tok = &p->words->tokens[p->at];

	if (!rule_parser_more(p))
		return rule_parser_fail(p, p->at, "%s expected", what);
	if (tok->length >= size)
		return rule_parser_fail(p, p->at, "%s of %u characters, at most %zu", what,
					tok->length, size - 1);
	memcpy(buf, p->words->line + tok->column, tok->length);
	buf[tok->length] = '\0';
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Values: each reader writes *out only when it returns 0                   */
/* ------------------------------------------------------------------------ */

int rule_parser_number(struct rule_parser *p, uint64_t max, uint64_t *out, const char *what)
{
	char buf[32], *end;
	unsigned long long v;
	int err = peek_word(p, buf, sizeof(buf), what);

	if (err)
		return err;
	errno = 0;
	v = strtoull(buf, &end, 0);
	if (!isdigit((unsigned char)buf[0]) || *end != '\0' || errno != 0)
		return rule_parser_fail(p, p->at, "%s expected, not '%s'", what, buf);
	if (v > max)
		return rule_parser_fail(p, p->at, "%s %s is too large (at most %" PRIu64 ")", what,
					buf, max);
	*out = v;
	p->at++;
	return 0;
}

int rule_parser_number32(struct rule_parser *p, uint32_t *out, const char *what)
{
	uint64_t v;
	int err = rule_parser_number(p, UINT32_MAX, &v, what);

	if (err)
		return err;
	*out = (uint32_t)v;
	return 0;
}

int rule_parser_number16(struct rule_parser *p, uint16_t *out, const char *what)
{
	uint64_t v;
	int err = rule_parser_number(p, UINT16_MAX, &v, what);

	if (err)
		return err;
	*out = (uint16_t)v;
	return 0;
}

static int signed32(struct rule_parser *p, int32_t *out, const char *what)
{
	char buf[32], *end;
	long long v;
	int err = peek_word(p, buf, sizeof(buf), what);

	if (err)
		return err;
	errno = 0;
	v = strtoll(buf, &end, 0);
	if (*end != '\0' || errno != 0 || end == buf)
		return rule_parser_fail(p, p->at, "%s expected, not '%s'", what, buf);
	if (v < INT32_MIN || v > INT32_MAX)
		return rule_parser_fail(p, p->at, "%s %s is out of range", what, buf);
	*out = (int32_t)v;
	p->at++;
	return 0;
}

int rule_parser_boolean(struct rule_parser *p, bool *out, const char *what)
{
	static const char *const yes[] = {"1", "true", "on", "yes"};
	static const char *const no[] = {"0", "false", "off", "no"};

	for (unsigned i = 0; i < 4; i++) {
		if (rule_parser_take(p, yes[i]) || rule_parser_take(p, no[i])) {
			*out = rule_parser_is(p, p->at - 1, yes[i]);
			return 0;
		}
	}
	if (!rule_parser_more(p))
		return rule_parser_fail(p, p->at, "%s expected (0 or 1)", what);
	return rule_parser_fail(p, p->at, "%s expected (0 or 1), not '%.*s'", what, WORD(p, p->at));
}

/* Bytes of hex digits ("00ff10"), at most `cap`. */
static int hex_bytes(struct rule_parser *p, uint8_t *out, size_t cap, size_t *length,
		     const char *what)
{
	const struct rule_token *tok = &p->words->tokens[p->at];
	const char *s;

	if (!rule_parser_more(p))
		return rule_parser_fail(p, p->at, "%s expected", what);
	s = p->words->line + tok->column;
	if (tok->length % 2 || tok->length / 2 > cap || tok->length == 0)
		return rule_parser_fail(
			p, p->at, "%s: an even number of hex digits, at most %zu bytes", what, cap);
	for (unsigned i = 0; i < tok->length; i++)
		if (!isxdigit((unsigned char)s[i]))
			return rule_parser_fail(p, p->at, "%s: '%c' is not a hex digit", what,
						s[i]);
	for (unsigned i = 0; i < tok->length / 2u; i++) {
		char pair[3] = {s[2 * i], s[2 * i + 1], '\0'};

		out[i] = (uint8_t)strtoul(pair, NULL, 16);
	}
	*length = tok->length / 2u;
	p->at++;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Item fields                                                              */
/* ------------------------------------------------------------------------ */

/* A number `v` as the field's bytes: network order, or host order for the
 * host-order fields (RULE_ORDER_HOST, always 32 bits). */
static void encode_number(const struct rule_field *f, uint64_t v, uint8_t *out)
{
	if (f->order == RULE_ORDER_HOST) {
		uint32_t host = (uint32_t)v;

		memcpy(out, &host, sizeof(host));
		return;
	}
	for (unsigned i = 0; i < f->size; i++)
		out[f->size - 1 - i] = (uint8_t)(v >> (8 * i));
}

/* The mask of the field's bits the reference addresses. */
static void field_bits(const struct field_ref *ref, uint8_t *out)
{
	if (ref->field->format != RULE_FORMAT_INT || ref->width >= 64) {
		memset(out, 0xff, ref->field->size);
		return;
	}
	encode_number(ref->field, ((1ull << ref->width) - 1) << ref->shift, out);
}

static bool find_field(const struct rule_item_desc *desc, int type, const struct rule_parser *p,
		       unsigned t, struct field_ref *ref)
{
	for (unsigned i = 0; i < desc->n_fields; i++) {
		if (rule_parser_is(p, t, desc->fields[i].name)) {
			ref->field = &desc->fields[i];
			ref->shift = 0;
			ref->width = (uint8_t)(desc->fields[i].size * 8);
			return true;
		}
	}
	for (size_t s = 0; s < sizeof(subfields) / sizeof(subfields[0]); s++) {
		if (subfields[s].item != type || !rule_parser_is(p, t, subfields[s].name))
			continue;
		for (unsigned i = 0; i < desc->n_fields; i++) {
			if (strcmp(desc->fields[i].name, subfields[s].field) == 0) {
				ref->field = &desc->fields[i];
				ref->shift = subfields[s].shift;
				ref->width = subfields[s].width;
				return true;
			}
		}
	}
	return false;
}

/* The value after an operator, as the field's bytes (shifted into place
 * for a bit field). */
static int field_value(struct rule_parser *p, const struct field_ref *ref, uint8_t *out)
{
	const struct rule_field *f = ref->field;
	char buf[64];
	int err;

	if (f->format == RULE_FORMAT_INT) {
		uint64_t v, max = ref->width >= 64 ? UINT64_MAX : (1ull << ref->width) - 1;

		err = rule_parser_number(p, max, &v, f->name);
		if (!err)
			encode_number(f, v << ref->shift, out);
		return err;
	}
	err = peek_word(p, buf, sizeof(buf), f->name);
	if (err)
		return err;
	if (f->format == RULE_FORMAT_MAC) {
		struct ether_addr mac;

		if (ether_aton_r(buf, &mac) == NULL)
			return rule_parser_fail(p, p->at, "%s: '%s' is not a MAC address", f->name,
						buf);
		memcpy(out, mac.ether_addr_octet, 6);
	} else if (inet_pton(f->format == RULE_FORMAT_IPV4 ? AF_INET : AF_INET6, buf, out) != 1) {
		return rule_parser_fail(p, p->at, "%s: '%s' is not an %s address", f->name, buf,
					f->format == RULE_FORMAT_IPV4 ? "IPv4" : "IPv6");
	}
	p->at++;
	return 0;
}

/* The mask of the field's top `bits` bits. */
static int field_prefix(struct rule_parser *p, const struct field_ref *ref, uint8_t *out)
{
	const struct rule_field *f = ref->field;
	uint64_t bits;
	int err = rule_parser_number(p, ref->width, &bits, "prefix length");

	if (err)
		return err;
	if (f->format == RULE_FORMAT_INT && ref->width < 64) {
		uint64_t ones = bits ? (~0ull >> (64 - bits)) << (ref->width - bits) : 0;

		encode_number(f, ones << ref->shift, out);
		return 0;
	}
	for (unsigned i = 0; i < f->size; i++) {
		unsigned left = bits > 8 * i ? (unsigned)(bits - 8 * i) : 0;

		out[i] = left >= 8 ? 0xff : (uint8_t)(0xff00u >> left);
	}
	return 0;
}

/* Write `value`'s bits of the field into one of spec, last, mask. */
static void store(uint8_t *object, const struct field_ref *ref, const uint8_t *value)
{
	uint8_t bits[16];

	field_bits(ref, bits);
	for (unsigned i = 0; i < ref->field->size; i++) {
		uint8_t *b = &object[ref->field->offset + i];

		*b = (uint8_t)((*b & ~bits[i]) | (value[i] & bits[i]));
	}
}

/* Point the item at its spec, last or mask storage. */
static void use(struct rule_text *r, unsigned index, int which)
{
	struct mpf_flow_item *item = &r->pattern[index];
	const void *data = r->item_data[index][which];

	if (which == SPEC)
		item->spec = data;
	else if (which == LAST)
		item->last = data;
	else
		item->mask = data;
}

/* The operator after a field: which of spec, last, mask it writes, and
 * whether `is` also sets the mask. -1 if there is none. */
static int operator(struct rule_parser *p, bool *both, bool *prefix)
{
	*both = *prefix = false;
	if (rule_parser_take(p, "is")) {
		*both = true;
		return SPEC;
	}
	if (rule_parser_take(p, "spec"))
		return SPEC;
	if (rule_parser_take(p, "last"))
		return LAST;
	if (rule_parser_take(p, "mask"))
		return MASK;
	if (rule_parser_take(p, "prefix")) {
		*prefix = true;
		return MASK;
	}
	return -1;
}

static int item_field(struct rule_parser *p, struct rule_text *r, unsigned index,
		      const struct rule_item_desc *desc)
{
	int type = (int)r->pattern[index].type;
	uint8_t value[16] = {0}, ones[16];
	struct field_ref ref;
	unsigned field_token = p->at;
	bool both, prefix;
	int which, err;

	if (!find_field(desc, type, p, p->at, &ref)) {
		char names[160] = "";
		size_t n = 0;

		for (unsigned i = 0; i < desc->n_fields && n < sizeof(names); i++)
			n += (size_t)snprintf(names + n, sizeof(names) - n, " %s",
					      desc->fields[i].name);
		for (size_t s = 0; s < sizeof(subfields) / sizeof(subfields[0]); s++)
			if (subfields[s].item == type && n < sizeof(names))
				n += (size_t)snprintf(names + n, sizeof(names) - n, " %s",
						      subfields[s].name);
		if (desc->n_fields == 0)
			return rule_parser_fail(p, field_token,
						"item %s takes no fields ('/' expected)",
						desc->name);
		return rule_parser_fail(p, field_token, "item %s has no field '%.*s' (fields:%s)",
					desc->name, WORD(p, field_token), names);
	}
	p->at++;
	which = operator(p, &both, &prefix);
	if (which < 0)
		return rule_parser_fail(p, p->at,
					"%s %s: 'is', 'spec', 'last', 'mask' or 'prefix' expected",
					desc->name, ref.field->name);
	err = prefix ? field_prefix(p, &ref, value) : field_value(p, &ref, value);
	if (err)
		return err;
	store(r->item_data[index][which], &ref, value);
	use(r, index, which);
	if (both) {
		memset(ones, 0xff, sizeof(ones));
		store(r->item_data[index][MASK], &ref, ones);
		use(r, index, MASK);
	}
	return 0;
}

/* RAW's fields, in whichever of spec, last, mask the operator names. */
static int raw_field(struct rule_parser *p, struct rule_text *r, unsigned index)
{
	unsigned field_token = p->at;
	struct mpf_flow_item_raw *raw;
	uint8_t *pattern;
	size_t length = 0;
	bool both, prefix, flag;
	int which, err;

	if (!rule_parser_more(p))
		return rule_parser_fail(p, p->at, "raw: a field or '/' expected");
	p->at++;
	which = operator(p, &both, &prefix);
	if (which < 0 || prefix)
		return rule_parser_fail(p, prefix ? p->at - 1 : p->at,
					"raw %.*s: 'is', 'spec', 'last' or 'mask' expected",
					WORD(p, field_token));
	/* RAW's default mask covers every field: `is` sets the spec alone. */
	raw = (struct mpf_flow_item_raw *)(void *)r->item_data[index][which];
	pattern = r->raw_pattern[index][which];
	use(r, index, which);
	if (rule_parser_is(p, field_token, "relative") ||
	    rule_parser_is(p, field_token, "search")) {
		err = rule_parser_boolean(p, &flag, "raw flag");
		if (err)
			return err;
		if (rule_parser_is(p, field_token, "relative"))
			raw->relative = flag;
		else
			raw->search = flag;
		return 0;
	}
	if (rule_parser_is(p, field_token, "offset"))
		return signed32(p, &raw->offset, "raw offset");
	if (rule_parser_is(p, field_token, "limit"))
		return rule_parser_number16(p, &raw->limit, "raw limit");
	if (rule_parser_is(p, field_token, "pattern_hex")) {
		err = hex_bytes(p, pattern, MPF_FLOW_RAW_PATTERN_MAX, &length, "raw pattern_hex");
		if (err)
			return err;
	} else if (rule_parser_is(p, field_token, "pattern")) {
		const struct rule_token *tok = &p->words->tokens[p->at];

		if (!rule_parser_more(p))
			return rule_parser_fail(p, p->at, "raw pattern expected");
		if (tok->length > MPF_FLOW_RAW_PATTERN_MAX)
			return rule_parser_fail(p, p->at, "raw pattern of %u bytes, at most %u",
						tok->length, MPF_FLOW_RAW_PATTERN_MAX);
		memcpy(pattern, p->words->line + tok->column, tok->length);
		length = tok->length;
		p->at++;
	} else {
		return rule_parser_fail(p, field_token,
					"item raw has no field '%.*s' (fields: relative search "
					"offset limit pattern pattern_hex)",
					WORD(p, field_token));
	}
	raw->pattern = pattern;
	raw->length = (uint16_t)length;
	return 0;
}

static int item_type(struct rule_parser *p, enum mpf_flow_item_type *out)
{
	for (int t = 0; t < MPF_FLOW_ITEM_TYPES; t++) {
		if (rule_parser_is(p, p->at, rule_item_desc(t)->name)) {
			*out = (enum mpf_flow_item_type)t;
			p->at++;
			return 0;
		}
	}
	if (!rule_parser_more(p))
		return rule_parser_fail(p, p->at, "an item or 'end' expected");
	return rule_parser_fail(p, p->at, "unknown item '%.*s'", WORD(p, p->at));
}

static int pattern(struct rule_parser *p, struct rule_text *r)
{
	for (unsigned i = 0;; i++) {
		const struct rule_item_desc *desc;
		enum mpf_flow_item_type type = MPF_FLOW_ITEM_TYPE_END;
		unsigned token = p->at;
		int err = item_type(p, &type);

		if (err)
			return err;
		if (type == MPF_FLOW_ITEM_TYPE_END) {
			r->pattern_end_token = (int)token;
			r->item_token[i] = (int)token;
			return 0;
		}
		if (i == MPF_FLOW_ITEMS_MAX)
			return rule_parser_fail(p, token, "more than %u items", MPF_FLOW_ITEMS_MAX);
		r->item_token[i] = (int)token;
		r->pattern[i].type = type;
		desc = rule_item_desc((int)type);
		while (rule_parser_more(p) && !rule_parser_is(p, p->at, "/")) {
			err = type == MPF_FLOW_ITEM_TYPE_RAW ? raw_field(p, r, i)
							     : item_field(p, r, i, desc);
			if (err)
				return err;
		}
		err = rule_parser_expect(p, "/", "after an item");
		if (err)
			return err;
	}
}

/* ------------------------------------------------------------------------ */
/* Actions                                                                  */
/* ------------------------------------------------------------------------ */

/* How a parameter's value is read and stored. */
enum param_kind {
	PARAM_U16,
	PARAM_U32,
	PARAM_U64,
	PARAM_VF_ORIGINAL, /* a boolean in the VF action's bit field */
	PARAM_RSS,	   /* the RSS action's lists: types, queues, key */
};

/* One parameter NAME VALUE of an action: the printer's too (print.c). */
struct action_param {
	uint8_t action; /* enum mpf_flow_action_type */
	const char *name;
	uint8_t kind; /* enum param_kind */
	uint16_t offset;
};

#define PARAM(type, conf_type, member, label, how)                                                 \
	{                                                                                          \
		.action = MPF_FLOW_ACTION_TYPE_##type, .name = (label), .kind = (how),             \
		.offset = offsetof(struct conf_type, member)                                       \
	}

/* Every action parameter testpmd knows, in its order of printing. */
static const struct action_param action_params[] = {
	PARAM(MARK, mpf_flow_action_mark, id, "id", PARAM_U32),
	PARAM(QUEUE, mpf_flow_action_queue, index, "index", PARAM_U16),
	PARAM(DUP, mpf_flow_action_dup, index, "index", PARAM_U16),
	{.action = MPF_FLOW_ACTION_TYPE_VF, .name = "original", .kind = PARAM_VF_ORIGINAL},
	PARAM(VF, mpf_flow_action_vf, id, "id", PARAM_U32),
	PARAM(METER, mpf_flow_action_meter, mtr_id, "mtr_id", PARAM_U32),
	PARAM(SECURITY, mpf_flow_action_security, security_session, "security_session", PARAM_U64),
	{.action = MPF_FLOW_ACTION_TYPE_RSS, .name = NULL, .kind = PARAM_RSS},
};

static int rss_types(struct rule_parser *p, uint64_t *types)
{
	while (!rule_parser_take(p, "end")) {
		unsigned bit;

		for (bit = 0; bit < 64; bit++) {
			const char *name = rule_rss_type_name(bit);

			if (name && rule_parser_is(p, p->at, name))
				break;
		}
		if (bit == 64) {
			if (!rule_parser_more(p))
				return rule_parser_fail(p, p->at, "rss types: 'end' expected");
			return rule_parser_fail(p, p->at, "rss types: unknown type '%.*s'",
						WORD(p, p->at));
		}
		*types |= 1ull << bit;
		p->at++;
	}
	return 0;
}

static int rss(struct rule_parser *p, struct rule_text *r, struct mpf_flow_action_rss *conf)
{
	size_t key_len;
	int err = 0;

	conf->queue = r->rss_queues;
	conf->key = r->rss_key;
	while (!err && rule_parser_more(p) && !rule_parser_is(p, p->at, "/")) {
		if (rule_parser_take(p, "queues")) {
			while (!err && !rule_parser_take(p, "end")) {
				if (conf->queue_num == MPF_FLOW_RSS_QUEUES_MAX)
					return rule_parser_fail(p, p->at,
								"rss: more than %u queues",
								MPF_FLOW_RSS_QUEUES_MAX);
				err = rule_parser_number16(p, &r->rss_queues[conf->queue_num],
							   "rss queue or 'end'");
				if (!err)
					conf->queue_num++;
			}
		} else if (rule_parser_take(p, "types")) {
			err = rss_types(p, &conf->types);
		} else if (rule_parser_take(p, "key")) {
			err = hex_bytes(p, r->rss_key, MPF_FLOW_RSS_KEY_MAX, &key_len, "rss key");
			if (!err)
				conf->key_len = (uint32_t)key_len;
		} else {
			return rule_parser_fail(p, p->at,
						"rss: 'queues', 'types', 'key' or '/' expected");
		}
	}
	return err;
}

/* Read parameter `param`'s value into the configuration `conf`. */
static int param_value(struct rule_parser *p, const struct action_param *param, uint8_t *conf)
{
	char what[48];
	uint64_t v;
	bool b;
	int err;

	snprintf(what, sizeof(what), "%s %s", rule_action_desc(param->action)->name, param->name);
	switch (param->kind) {
	case PARAM_U16:
		err = rule_parser_number(p, UINT16_MAX, &v, what);
		if (!err) {
			uint16_t x = (uint16_t)v;

			memcpy(conf + param->offset, &x, sizeof(x));
		}
		return err;
	case PARAM_U32:
		err = rule_parser_number(p, UINT32_MAX, &v, what);
		if (!err) {
			uint32_t x = (uint32_t)v;

			memcpy(conf + param->offset, &x, sizeof(x));
		}
		return err;
	case PARAM_U64:
		err = rule_parser_number(p, UINT64_MAX, &v, what);
		if (!err)
			memcpy(conf + param->offset, &v, sizeof(v));
		return err;
	case PARAM_VF_ORIGINAL:
		err = rule_parser_boolean(p, &b, what);
		if (!err)
			((struct mpf_flow_action_vf *)(void *)conf)->original = b;
		return err;
	default:
		return -EINVAL;
	}
}

static int action_parameters(struct rule_parser *p, struct rule_text *r, unsigned index)
{
	const struct mpf_flow_action *a = &r->actions[index];
	const char *name = rule_action_desc((int)a->type)->name;
	uint8_t *conf = (uint8_t *)&r->conf[index];
	bool any = false;

	while (rule_parser_more(p) && !rule_parser_is(p, p->at, "/")) {
		const struct action_param *found = NULL;

		for (size_t i = 0; i < sizeof(action_params) / sizeof(action_params[0]); i++) {
			const struct action_param *param = &action_params[i];

			if (param->action != a->type)
				continue;
			any = true;
			if (param->kind == PARAM_RSS)
				return rss(p, r, &r->conf[index].rss);
			if (rule_parser_is(p, p->at, param->name))
				found = param;
		}
		if (!any)
			return rule_parser_fail(
				p, p->at, "action %s takes no parameters ('/' expected)", name);
		if (found == NULL)
			return rule_parser_fail(p, p->at, "action %s has no parameter '%.*s'", name,
						WORD(p, p->at));
		p->at++;
		if (param_value(p, found, conf) != 0)
			return -EINVAL;
	}
	return 0;
}

static int actions(struct rule_parser *p, struct rule_text *r)
{
	for (unsigned i = 0;; i++) {
		struct mpf_flow_action *a = &r->actions[i];
		unsigned token = p->at;
		int t, err;

		for (t = 0; t < MPF_FLOW_ACTION_TYPES; t++)
			if (rule_parser_is(p, p->at, rule_action_desc(t)->name))
				break;
		if (t == MPF_FLOW_ACTION_TYPES) {
			if (!rule_parser_more(p))
				return rule_parser_fail(p, p->at, "an action or 'end' expected");
			return rule_parser_fail(p, p->at, "unknown action '%.*s'", WORD(p, p->at));
		}
		p->at++;
		r->action_token[i] = (int)token;
		if (t == MPF_FLOW_ACTION_TYPE_END) {
			r->actions_end_token = (int)token;
			return 0;
		}
		if (i == MPF_FLOW_ACTIONS_MAX)
			return rule_parser_fail(p, token, "more than %u actions",
						MPF_FLOW_ACTIONS_MAX);
		a->type = (enum mpf_flow_action_type)t;
		a->conf = rule_action_desc(t)->conf_size ? &r->conf[i] : NULL;
		err = action_parameters(p, r, i);
		if (!err)
			err = rule_parser_expect(p, "/", "after an action");
		if (err)
			return err;
	}
}

/* The parameters of an action as text (" index 3"), for the printer. */
size_t rule_action_params_print(char *buf, size_t cap, const struct mpf_flow_action *action)
{
	const uint8_t *conf = action->conf;
	size_t n = 0;

	for (size_t i = 0; conf && i < sizeof(action_params) / sizeof(action_params[0]); i++) {
		const struct action_param *param = &action_params[i];
		uint16_t u16;
		uint32_t u32;
		uint64_t u64 = 0;

		if (param->action != action->type || param->kind == PARAM_RSS)
			continue;
		switch (param->kind) {
		case PARAM_U16:
			memcpy(&u16, conf + param->offset, sizeof(u16));
			u64 = u16;
			break;
		case PARAM_U32:
			memcpy(&u32, conf + param->offset, sizeof(u32));
			u64 = u32;
			break;
		case PARAM_U64:
			memcpy(&u64, conf + param->offset, sizeof(u64));
			break;
		case PARAM_VF_ORIGINAL:
			u64 = ((const struct mpf_flow_action_vf *)action->conf)->original;
			break;
		default:
			break;
		}
		n += (size_t)snprintf(buf + (n < cap ? n : cap), n < cap ? cap - n : 0,
				      " %s %" PRIu64, param->name, u64);
	}
	return n;
}

/* ------------------------------------------------------------------------ */
/* The rule                                                                 */
/* ------------------------------------------------------------------------ */

void rule_text_reset(struct rule_text *r)
{
	memset(&r->attr, 0, sizeof(r->attr));
	memset(r->pattern, 0, sizeof(r->pattern));
	memset(r->actions, 0, sizeof(r->actions));
	memset(r->item_data, 0, sizeof(r->item_data));
	memset(r->conf, 0, sizeof(r->conf));
	r->group_token = r->priority_token = r->ingress_token = r->egress_token = -1;
	r->pattern_end_token = r->actions_end_token = -1;
	for (unsigned i = 0; i <= MPF_FLOW_ITEMS_MAX; i++)
		r->item_token[i] = -1;
	for (unsigned i = 0; i <= MPF_FLOW_ACTIONS_MAX; i++)
		r->action_token[i] = -1;
}

int rule_text_parse(struct rule_parser *p, struct rule_text *r)
{
	int err;

	for (;;) {
		unsigned token = p->at;

		if (rule_parser_take(p, "group")) {
			r->group_token = (int)token;
			err = rule_parser_number32(p, &r->attr.group, "group");
		} else if (rule_parser_take(p, "priority")) {
			r->priority_token = (int)token;
			err = rule_parser_number32(p, &r->attr.priority, "priority");
		} else if (rule_parser_take(p, "ingress")) {
			r->ingress_token = (int)token;
			r->attr.ingress = 1;
			err = 0;
		} else if (rule_parser_take(p, "egress")) {
			r->egress_token = (int)token;
			r->attr.egress = 1;
			err = 0;
		} else {
			break;
		}
		if (err)
			return err;
	}
	err = rule_parser_expect(p, "pattern", "(after group, priority, ingress, egress)");
	if (!err)
		err = pattern(p, r);
	if (!err)
		err = rule_parser_expect(p, "actions", "after the pattern");
	if (!err)
		err = actions(p, r);
	return err;
}

/* Index of END in a pattern or action list (their item / action count). */
static unsigned item_count(const struct rule_text *r)
{
	unsigned n = 0;

	while (r->pattern[n].type != MPF_FLOW_ITEM_TYPE_END)
		n++;
	return n;
}

static unsigned action_count(const struct rule_text *r)
{
	unsigned n = 0;

	while (r->actions[n].type != MPF_FLOW_ACTION_TYPE_END)
		n++;
	return n;
}

int rule_text_error_token(const struct rule_text *r, const struct mpf_flow_error *error)
{
	int cause = error->cause;

	switch (error->type) {
	case MPF_FLOW_ERROR_TYPE_ITEM:
	case MPF_FLOW_ERROR_TYPE_ITEM_NUM:
		return cause >= 0 && (unsigned)cause <= item_count(r) ? r->item_token[cause]
								      : r->pattern_end_token;
	case MPF_FLOW_ERROR_TYPE_ACTION:
	case MPF_FLOW_ERROR_TYPE_ACTION_NUM:
		return cause >= 0 && (unsigned)cause <= action_count(r) ? r->action_token[cause]
									: r->actions_end_token;
	case MPF_FLOW_ERROR_TYPE_ATTR_GROUP:
		return r->group_token;
	case MPF_FLOW_ERROR_TYPE_ATTR_PRIORITY:
		return r->priority_token;
	case MPF_FLOW_ERROR_TYPE_ATTR_INGRESS:
		return r->ingress_token;
	case MPF_FLOW_ERROR_TYPE_ATTR_EGRESS:
		return r->egress_token;
	default:
		return -1;
	}
}

void rule_text_vocabulary(void (*word)(const char *name, void *arg), void *arg)
{
	static const char *const keywords[] = {
		"group",  "priority", "ingress",     "egress", "pattern", "actions",  "end",
		"is",	  "spec",     "last",	     "mask",   "prefix",  "relative", "search",
		"offset", "limit",    "pattern_hex", "queues", "types",	  "key",
	};

	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		word(keywords[i], arg);
	for (int t = 0; t < MPF_FLOW_ITEM_TYPES; t++) {
		const struct rule_item_desc *d = rule_item_desc(t);

		word(d->name, arg);
		for (unsigned f = 0; f < d->n_fields; f++)
			word(d->fields[f].name, arg);
	}
	for (size_t s = 0; s < sizeof(subfields) / sizeof(subfields[0]); s++)
		word(subfields[s].name, arg);
	for (int t = 0; t < MPF_FLOW_ACTION_TYPES; t++)
		word(rule_action_desc(t)->name, arg);
	for (size_t i = 0; i < sizeof(action_params) / sizeof(action_params[0]); i++)
		if (action_params[i].name)
			word(action_params[i].name, arg);
	for (unsigned b = 0; b < 64; b++)
		if (rule_rss_type_name(b))
			word(rule_rss_type_name(b), arg);
}
