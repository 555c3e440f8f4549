/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * testpmd's flow grammar over the rule model's descriptors. The parser is a
 * plain recursive descent over the tokens of one line; every refusal names
 * the token at fault. Field operators are testpmd's:
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
 * sum of those fields alone.
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
#include "tools/flowctl/grammar.h"

enum { SPEC, LAST, MASK };

_Static_assert(sizeof(struct mpf_flow_item_ipv6) <= GRAMMAR_ITEM_BYTES &&
		       sizeof(struct mpf_flow_item_raw) <= GRAMMAR_ITEM_BYTES &&
		       sizeof(struct mpf_flow_item_tcp) <= GRAMMAR_ITEM_BYTES,
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

struct parser {
	const char *line;
	struct grammar_command *cmd;
	struct grammar_error *error;
	unsigned at; /* the next token */
};

static const char *const verb_names[] = {
	[GRAMMAR_NONE] = "",
	[GRAMMAR_CREATE] = "create",
	[GRAMMAR_VALIDATE] = "validate",
	[GRAMMAR_DESTROY] = "destroy",
	[GRAMMAR_FLUSH] = "flush",
	[GRAMMAR_QUERY] = "query",
	[GRAMMAR_LIST] = "list",
	[GRAMMAR_ISOLATE] = "isolate",
	[GRAMMAR_METER_CREATE] = "meter create",
	[GRAMMAR_METER_DESTROY] = "meter destroy",
	[GRAMMAR_METER_QUERY] = "meter query",
	[GRAMMAR_AUDIT] = "audit",
};

const char *grammar_verb_name(enum grammar_verb verb)
{
	return verb_names[verb];
}

/* ------------------------------------------------------------------------ */
/* Tokens                                                                   */
/* ------------------------------------------------------------------------ */

static int fail(struct parser *p, unsigned token, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct parser *p, unsigned token, const char *fmt, ...)
{
	va_list ap;

	p->error->token = (int)token;
	va_start(ap, fmt);
	vsnprintf(p->error->message, sizeof(p->error->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int tokenize(struct parser *p)
{
	struct grammar_command *cmd = p->cmd;
	size_t length = strlen(p->line);
	size_t i = 0;

	if (length >= GRAMMAR_LINE_MAX)
		return fail(p, 0, "command of %zu bytes, at most %u", length, GRAMMAR_LINE_MAX - 1);
	for (;;) {
		size_t start;

		while (i < length && isspace((unsigned char)p->line[i]))
			i++;
		if (i == length || p->line[i] == '#')
			return 0;
		if (cmd->token_count == GRAMMAR_TOKENS_MAX)
			return fail(p, cmd->token_count - 1, "more than %u words in one command",
				    GRAMMAR_TOKENS_MAX);
		start = i;
		while (i < length && !isspace((unsigned char)p->line[i]))
			i++;
		cmd->tokens[cmd->token_count++] =
			(struct grammar_token){.column = (uint16_t)start, .length = (uint16_t)(i - start)};
	}
}

static bool more(const struct parser *p)
{
	return p->at < p->cmd->token_count;
}

static bool token_is(const struct parser *p, unsigned t, const char *word)
{
	const struct grammar_token *tok = &p->cmd->tokens[t];

	return t < p->cmd->token_count && strlen(word) == tok->length &&
	       memcmp(p->line + tok->column, word, tok->length) == 0;
}

/* Take the next token if it is `word`. */
static bool take(struct parser *p, const char *word)
{
	if (!more(p) || !token_is(p, p->at, word))
		return false;
	p->at++;
	return true;
}

static int expect(struct parser *p, const char *word, const char *context)
{
	if (take(p, word))
		return 0;
	if (!more(p))
		return fail(p, p->at, "'%s' expected %s", word, context);
	return fail(p, p->at, "'%s' expected %s, not '%.*s'", word, context,
		    (int)p->cmd->tokens[p->at].length, p->line + p->cmd->tokens[p->at].column);
}

/* The next token as a C string in `buf` (not consumed). */
static int peek_word(struct parser *p, char *buf, size_t size, const char *what)
{
	const struct grammar_token *tok = &p->cmd->tokens[p->at];

	if (!more(p))
		return fail(p, p->at, "%s expected", what);
	if (tok->length >= size)
		return fail(p, p->at, "%s of %u characters, at most %zu", what, tok->length,
			    size - 1);
	memcpy(buf, p->line + tok->column, tok->length);
	buf[tok->length] = '\0';
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * The value readers below share one contract: `*out` is written only when
 * they return 0. On a refusal it is left as it was, so a caller that reads
 * into a local must not use that local unless the reader returned 0 (it
 * may never have been set).
 */

/* An unsigned number (decimal, 0x hex or 0 octal, as strtoull and testpmd)
 * of at most `max`. */
static int number(struct parser *p, uint64_t max, uint64_t *out, const char *what)
{
	char buf[32], *end;
	unsigned long long v;
	int err = peek_word(p, buf, sizeof(buf), what);

	if (err)
		return err;
	errno = 0;
	v = strtoull(buf, &end, 0);
	if (!isdigit((unsigned char)buf[0]) || *end != '\0' || errno != 0)
		return fail(p, p->at, "%s expected, not '%s'", what, buf);
	if (v > max)
		return fail(p, p->at, "%s %s is too large (at most %" PRIu64 ")", what, buf, max);
	*out = v;
	p->at++;
	return 0;
}

static int number32(struct parser *p, uint32_t *out, const char *what)
{
	uint64_t v;
	int err = number(p, UINT32_MAX, &v, what);

	if (err)
		return err;
	*out = (uint32_t)v;
	return 0;
}

static int number16(struct parser *p, uint16_t *out, const char *what)
{
	uint64_t v;
	int err = number(p, UINT16_MAX, &v, what);

	if (err)
		return err;
	*out = (uint16_t)v;
	return 0;
}

static int signed32(struct parser *p, int32_t *out, const char *what)
{
	char buf[32], *end;
	long long v;
	int err = peek_word(p, buf, sizeof(buf), what);

	if (err)
		return err;
	errno = 0;
	v = strtoll(buf, &end, 0);
	if (*end != '\0' || errno != 0 || end == buf)
		return fail(p, p->at, "%s expected, not '%s'", what, buf);
	if (v < INT32_MIN || v > INT32_MAX)
		return fail(p, p->at, "%s %s is out of range", what, buf);
	*out = (int32_t)v;
	p->at++;
	return 0;
}

static int boolean(struct parser *p, bool *out, const char *what)
{
	static const char *const yes[] = {"1", "true", "on", "yes"};
	static const char *const no[] = {"0", "false", "off", "no"};

	for (unsigned i = 0; i < 4; i++) {
		if (take(p, yes[i]) || take(p, no[i])) {
			*out = token_is(p, p->at - 1, yes[i]);
			return 0;
		}
	}
	if (!more(p))
		return fail(p, p->at, "%s expected (0 or 1)", what);
	return fail(p, p->at, "%s expected (0 or 1), not '%.*s'", what,
		    (int)p->cmd->tokens[p->at].length, p->line + p->cmd->tokens[p->at].column);
}

/* Bytes of hex digits ("00ff10"), at most `cap`. */
static int hex_bytes(struct parser *p, uint8_t *out, size_t cap, size_t *length, const char *what)
{
	const struct grammar_token *tok = &p->cmd->tokens[p->at];
	const char *s;

	if (!more(p))
		return fail(p, p->at, "%s expected", what);
	s = p->line + tok->column;
	if (tok->length % 2 || tok->length / 2 > cap || tok->length == 0)
		return fail(p, p->at, "%s: an even number of hex digits, at most %zu bytes", what,
			    cap);
	for (unsigned i = 0; i < tok->length; i++)
		if (!isxdigit((unsigned char)s[i]))
			return fail(p, p->at, "%s: '%c' is not a hex digit", what, s[i]);
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

static bool find_field(const struct rule_item_desc *desc, int type, const struct parser *p,
		       unsigned t, struct field_ref *ref)
{
	for (unsigned i = 0; i < desc->n_fields; i++) {
		if (token_is(p, t, desc->fields[i].name)) {
			ref->field = &desc->fields[i];
			ref->shift = 0;
			ref->width = (uint8_t)(desc->fields[i].size * 8);
			return true;
		}
	}
	for (size_t s = 0; s < sizeof(subfields) / sizeof(subfields[0]); s++) {
		if (subfields[s].item != type || !token_is(p, t, subfields[s].name))
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
static int field_value(struct parser *p, const struct field_ref *ref, uint8_t *out)
{
	const struct rule_field *f = ref->field;
	char buf[64];
	int err;

	if (f->format == RULE_FORMAT_INT) {
		uint64_t v, max = ref->width >= 64 ? UINT64_MAX : (1ull << ref->width) - 1;

		err = number(p, max, &v, f->name);
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
			return fail(p, p->at, "%s: '%s' is not a MAC address", f->name, buf);
		memcpy(out, mac.ether_addr_octet, 6);
	} else if (inet_pton(f->format == RULE_FORMAT_IPV4 ? AF_INET : AF_INET6, buf, out) != 1) {
		return fail(p, p->at, "%s: '%s' is not an %s address", f->name, buf,
			    f->format == RULE_FORMAT_IPV4 ? "IPv4" : "IPv6");
	}
	p->at++;
	return 0;
}

/* The mask of the field's top `bits` bits. */
static int field_prefix(struct parser *p, const struct field_ref *ref, uint8_t *out)
{
	const struct rule_field *f = ref->field;
	uint64_t bits;
	int err = number(p, ref->width, &bits, "prefix length");

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
static void use(struct grammar_rule *r, unsigned index, int which)
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

static int item_field(struct parser *p, unsigned index, const struct rule_item_desc *desc)
{
	struct grammar_rule *r = &p->cmd->rule;
	int type = (int)r->pattern[index].type;
	uint8_t value[16] = {0}, ones[16];
	struct field_ref ref;
	unsigned field_token = p->at;
	int err;

	if (!find_field(desc, type, p, p->at, &ref)) {
		char names[160] = "";
		size_t n = 0;

		for (unsigned i = 0; i < desc->n_fields && n < sizeof(names); i++)
			n += (size_t)snprintf(names + n, sizeof(names) - n, " %s", desc->fields[i].name);
		for (size_t s = 0; s < sizeof(subfields) / sizeof(subfields[0]); s++)
			if (subfields[s].item == type && n < sizeof(names))
				n += (size_t)snprintf(names + n, sizeof(names) - n, " %s",
						      subfields[s].name);
		if (desc->n_fields == 0)
			return fail(p, field_token, "item %s takes no fields ('/' expected)",
				    desc->name);
		return fail(p, field_token, "item %s has no field '%.*s' (fields:%s)", desc->name,
			    (int)p->cmd->tokens[field_token].length,
			    p->line + p->cmd->tokens[field_token].column, names);
	}
	p->at++;
	if (take(p, "is")) {
		err = field_value(p, &ref, value);
		if (err)
			return err;
		memset(ones, 0xff, sizeof(ones));
		store(r->item_data[index][SPEC], &ref, value);
		store(r->item_data[index][MASK], &ref, ones);
		use(r, index, SPEC);
		use(r, index, MASK);
	} else if (take(p, "spec") || take(p, "last")) {
		int which = token_is(p, p->at - 1, "spec") ? SPEC : LAST;

		err = field_value(p, &ref, value);
		if (err)
			return err;
		store(r->item_data[index][which], &ref, value);
		use(r, index, which);
	} else if (take(p, "mask") || take(p, "prefix")) {
		err = token_is(p, p->at - 1, "mask") ? field_value(p, &ref, value)
						     : field_prefix(p, &ref, value);
		if (err)
			return err;
		store(r->item_data[index][MASK], &ref, value);
		use(r, index, MASK);
	} else {
		return fail(p, p->at, "%s %s: 'is', 'spec', 'last', 'mask' or 'prefix' expected",
			    desc->name, ref.field->name);
	}
	return 0;
}

/* RAW has its own fields: flags, offsets, and a pattern of bytes. Its mask
 * is the default one (every field exactly), so only is / spec are taken. */
static int raw_field(struct parser *p, unsigned index)
{
	struct grammar_rule *r = &p->cmd->rule;
	struct mpf_flow_item_raw *raw = (struct mpf_flow_item_raw *)r->item_data[index][SPEC];
	unsigned field_token = p->at;
	size_t length = 0;
	bool flag;
	int err;

	r->pattern[index].spec = raw;
	if (!more(p))
		return fail(p, p->at, "raw: a field or '/' expected");
	p->at++;
	if (!take(p, "is") && !take(p, "spec"))
		return fail(p, p->at, "raw fields take 'is' (ranges and masks of raw are not "
				     "supported)");
	if (token_is(p, field_token, "relative") || token_is(p, field_token, "search")) {
		err = boolean(p, &flag, "raw flag");
		if (err)
			return err;
		if (token_is(p, field_token, "relative"))
			raw->relative = flag;
		else
			raw->search = flag;
		return 0;
	}
	if (token_is(p, field_token, "offset"))
		return signed32(p, &raw->offset, "raw offset");
	if (token_is(p, field_token, "limit"))
		return number16(p, &raw->limit, "raw limit");
	if (token_is(p, field_token, "pattern_hex")) {
		err = hex_bytes(p, r->raw_pattern[index], MPF_FLOW_RAW_PATTERN_MAX, &length,
				"raw pattern_hex");
	} else if (token_is(p, field_token, "pattern")) {
		const struct grammar_token *tok = &p->cmd->tokens[p->at];

		if (!more(p))
			return fail(p, p->at, "raw pattern expected");
		if (tok->length > MPF_FLOW_RAW_PATTERN_MAX)
			return fail(p, p->at, "raw pattern of %u bytes, at most %u", tok->length,
				    MPF_FLOW_RAW_PATTERN_MAX);
		memcpy(r->raw_pattern[index], p->line + tok->column, tok->length);
		length = tok->length;
		p->at++;
		err = 0;
	} else {
		return fail(p, field_token, "item raw has no field '%.*s' (fields: relative search "
					    "offset limit pattern pattern_hex)",
			    (int)p->cmd->tokens[field_token].length,
			    p->line + p->cmd->tokens[field_token].column);
	}
	raw->pattern = r->raw_pattern[index];
	raw->length = (uint16_t)length;
	return err;
}

static int item_type(struct parser *p, enum mpf_flow_item_type *out)
{
	for (int t = 0; t < MPF_FLOW_ITEM_TYPES; t++) {
		if (token_is(p, p->at, rule_item_desc(t)->name)) {
			*out = (enum mpf_flow_item_type)t;
			p->at++;
			return 0;
		}
	}
	if (!more(p))
		return fail(p, p->at, "an item or 'end' expected");
	return fail(p, p->at, "unknown item '%.*s'", (int)p->cmd->tokens[p->at].length,
		    p->line + p->cmd->tokens[p->at].column);
}

static int pattern(struct parser *p)
{
	struct grammar_rule *r = &p->cmd->rule;

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
			return fail(p, token, "more than %u items", MPF_FLOW_ITEMS_MAX);
		r->item_token[i] = (int)token;
		r->pattern[i].type = type;
		desc = rule_item_desc((int)type);
		while (more(p) && !token_is(p, p->at, "/")) {
			err = type == MPF_FLOW_ITEM_TYPE_RAW ? raw_field(p, i) : item_field(p, i, desc);
			if (err)
				return err;
		}
		err = expect(p, "/", "after an item");
		if (err)
			return err;
	}
}

/* ------------------------------------------------------------------------ */
/* Actions                                                                  */
/* ------------------------------------------------------------------------ */

static int rss_types(struct parser *p, uint64_t *types)
{
	while (!take(p, "end")) {
		unsigned bit;

		for (bit = 0; bit < 64; bit++) {
			const char *name = rule_rss_type_name(bit);

			if (name && token_is(p, p->at, name))
				break;
		}
		if (bit == 64) {
			if (!more(p))
				return fail(p, p->at, "rss types: 'end' expected");
			return fail(p, p->at, "rss types: unknown type '%.*s'",
				    (int)p->cmd->tokens[p->at].length,
				    p->line + p->cmd->tokens[p->at].column);
		}
		*types |= 1ull << bit;
		p->at++;
	}
	return 0;
}

static int rss(struct parser *p, struct mpf_flow_action_rss *conf)
{
	struct grammar_rule *r = &p->cmd->rule;
	size_t key_len;
	int err = 0;

	conf->queue = r->rss_queues;
	conf->key = r->rss_key;
	while (!err && more(p) && !token_is(p, p->at, "/")) {
		if (take(p, "queues")) {
			while (!err && !take(p, "end")) {
				if (conf->queue_num == MPF_FLOW_RSS_QUEUES_MAX)
					return fail(p, p->at, "rss: more than %u queues",
						    MPF_FLOW_RSS_QUEUES_MAX);
				err = number16(p, &r->rss_queues[conf->queue_num++],
					       "rss queue or 'end'");
			}
		} else if (take(p, "types")) {
			err = rss_types(p, &conf->types);
		} else if (take(p, "key")) {
			err = hex_bytes(p, r->rss_key, MPF_FLOW_RSS_KEY_MAX, &key_len, "rss key");
			conf->key_len = (uint32_t)key_len;
		} else {
			return fail(p, p->at, "rss: 'queues', 'types', 'key' or '/' expected");
		}
	}
	return err;
}

/* One parameter NAME VALUE of a simple action. */
static int action_param(struct parser *p, struct mpf_flow_action *a, void *conf)
{
	const char *name = rule_action_desc((int)a->type)->name;

	switch (a->type) {
	case MPF_FLOW_ACTION_TYPE_MARK:
		if (take(p, "id"))
			return number32(p, &((struct mpf_flow_action_mark *)conf)->id, "mark id");
		break;
	case MPF_FLOW_ACTION_TYPE_QUEUE:
		if (take(p, "index"))
			return number16(p, &((struct mpf_flow_action_queue *)conf)->index,
					"queue index");
		break;
	case MPF_FLOW_ACTION_TYPE_DUP:
		if (take(p, "index"))
			return number16(p, &((struct mpf_flow_action_dup *)conf)->index, "dup index");
		break;
	case MPF_FLOW_ACTION_TYPE_VF: {
		struct mpf_flow_action_vf *vf = conf;
		bool original;
		int err;

		if (take(p, "original")) {
			err = boolean(p, &original, "vf original");
			if (err)
				return err;
			vf->original = original;
			return 0;
		}
		if (take(p, "id"))
			return number32(p, &vf->id, "vf id");
		break;
	}
	case MPF_FLOW_ACTION_TYPE_METER:
		if (take(p, "mtr_id"))
			return number32(p, &((struct mpf_flow_action_meter *)conf)->mtr_id,
					"meter mtr_id");
		break;
	case MPF_FLOW_ACTION_TYPE_SECURITY: {
		uint64_t session;
		int err;

		if (!take(p, "security_session"))
			break;
		err = number(p, UINT64_MAX, &session, "security_session");
		if (err)
			return err;
		((struct mpf_flow_action_security *)conf)->security_session = session;
		return 0;
	}
	case MPF_FLOW_ACTION_TYPE_RSS:
		return rss(p, conf);
	default:
		return fail(p, p->at, "action %s takes no parameters ('/' expected)", name);
	}
	return fail(p, p->at, "action %s has no parameter '%.*s'", name,
		    (int)p->cmd->tokens[p->at].length, p->line + p->cmd->tokens[p->at].column);
}

static int actions(struct parser *p)
{
	struct grammar_rule *r = &p->cmd->rule;

	for (unsigned i = 0;; i++) {
		struct mpf_flow_action *a = &r->actions[i];
		unsigned token = p->at;
		int t, err;

		for (t = 0; t < MPF_FLOW_ACTION_TYPES; t++)
			if (token_is(p, p->at, rule_action_desc(t)->name))
				break;
		if (t == MPF_FLOW_ACTION_TYPES) {
			if (!more(p))
				return fail(p, p->at, "an action or 'end' expected");
			return fail(p, p->at, "unknown action '%.*s'",
				    (int)p->cmd->tokens[p->at].length,
				    p->line + p->cmd->tokens[p->at].column);
		}
		p->at++;
		r->action_token[i] = (int)token;
		if (t == MPF_FLOW_ACTION_TYPE_END) {
			r->actions_end_token = (int)token;
			return 0;
		}
		if (i == MPF_FLOW_ACTIONS_MAX)
			return fail(p, token, "more than %u actions", MPF_FLOW_ACTIONS_MAX);
		a->type = (enum mpf_flow_action_type)t;
		a->conf = rule_action_desc(t)->conf_size ? &r->conf[i] : NULL;
		while (more(p) && !token_is(p, p->at, "/")) {
			err = action_param(p, a, &r->conf[i]);
			if (err)
				return err;
		}
		err = expect(p, "/", "after an action");
		if (err)
			return err;
	}
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */
/* ------------------------------------------------------------------------ */

static int rule(struct parser *p)
{
	struct grammar_rule *r = &p->cmd->rule;
	int err;

	for (;;) {
		unsigned token = p->at;

		if (take(p, "group")) {
			r->group_token = (int)token;
			err = number32(p, &r->attr.group, "group");
		} else if (take(p, "priority")) {
			r->priority_token = (int)token;
			err = number32(p, &r->attr.priority, "priority");
		} else if (take(p, "ingress")) {
			r->ingress_token = (int)token;
			r->attr.ingress = 1;
			err = 0;
		} else if (take(p, "egress")) {
			r->egress_token = (int)token;
			r->attr.egress = 1;
			err = 0;
		} else {
			break;
		}
		if (err)
			return err;
	}
	err = expect(p, "pattern", "(after group, priority, ingress, egress)");
	if (!err)
		err = pattern(p);
	if (!err)
		err = expect(p, "actions", "after the pattern");
	if (!err)
		err = actions(p);
	return err;
}

static int rule_id(struct parser *p)
{
	struct grammar_command *cmd = p->cmd;

	if (cmd->handle_count == GRAMMAR_DESTROY_MAX)
		return fail(p, p->at, "more than %u rules in one command", GRAMMAR_DESTROY_MAX);
	cmd->handle_tokens[cmd->handle_count] = (int)p->at;
	return number(p, UINT64_MAX, &cmd->handles[cmd->handle_count++], "rule id");
}

static int meter_color(struct parser *p, uint32_t *drop)
{
	static const char *const colors[] = {"green", "yellow", "red"};

	for (unsigned c = 0; c < 3; c++) {
		if (take(p, colors[c])) {
			*drop |= 1u << c;
			return 0;
		}
	}
	return fail(p, p->at, "meter drop: 'green', 'yellow' or 'red' expected");
}

static int meter(struct parser *p)
{
	struct grammar_command *cmd = p->cmd;
	struct mpf_meter_params *m = &cmd->meter;
	int err;

	if (take(p, "create"))
		cmd->verb = GRAMMAR_METER_CREATE;
	else if (take(p, "destroy"))
		cmd->verb = GRAMMAR_METER_DESTROY;
	else if (take(p, "query"))
		cmd->verb = GRAMMAR_METER_QUERY;
	else
		return fail(p, p->at, "meter: 'create', 'destroy' or 'query' expected");
	err = number16(p, &cmd->port, "port");
	if (!err)
		err = number32(p, &cmd->meter_id, "meter id");
	if (err || cmd->verb == GRAMMAR_METER_DESTROY)
		return err;
	if (cmd->verb == GRAMMAR_METER_QUERY) {
		cmd->reset = take(p, "clear");
		return 0;
	}
	while (!err && more(p)) {
		if (take(p, "cir"))
			err = number(p, UINT64_MAX, &m->cir, "cir (bytes/s)");
		else if (take(p, "cbs"))
			err = number(p, UINT64_MAX, &m->cbs, "cbs (bytes)");
		else if (take(p, "pir"))
			err = number(p, UINT64_MAX, &m->pir, "pir (bytes/s)");
		else if (take(p, "pbs"))
			err = number(p, UINT64_MAX, &m->pbs, "pbs (bytes)");
		else if (take(p, "drop"))
			do
				err = meter_color(p, &m->drop);
			while (!err && more(p) && !token_is(p, p->at, "cir") &&
			       !token_is(p, p->at, "cbs") && !token_is(p, p->at, "pir") &&
			       !token_is(p, p->at, "pbs"));
		else
			return fail(p, p->at, "meter create: 'cir', 'cbs', 'pir', 'pbs' or 'drop' "
					     "expected");
	}
	return err;
}

static int command(struct parser *p)
{
	struct grammar_command *cmd = p->cmd;
	int err;

	take(p, "flow");
	cmd->verb_token = (int)p->at;
	for (int v = GRAMMAR_CREATE; v <= GRAMMAR_ISOLATE; v++)
		if (take(p, verb_names[v]))
			cmd->verb = (enum grammar_verb)v;
	if (cmd->verb == GRAMMAR_NONE) {
		if (take(p, "meter"))
			return meter(p);
		if (take(p, "audit")) {
			cmd->verb = GRAMMAR_AUDIT;
			return 0;
		}
		return fail(p, p->at, "a command expected: create, validate, destroy, flush, query, "
				     "list, isolate, meter or audit");
	}
	err = number16(p, &cmd->port, "port");
	if (err)
		return err;
	switch (cmd->verb) {
	case GRAMMAR_CREATE:
	case GRAMMAR_VALIDATE:
		return rule(p);
	case GRAMMAR_DESTROY:
		do {
			err = expect(p, "rule", "before a rule id");
			if (!err)
				err = rule_id(p);
		} while (!err && more(p));
		return err;
	case GRAMMAR_QUERY:
		err = rule_id(p);
		if (!err)
			err = expect(p, "count", "(query reads the count action)");
		/* testpmd's "reset"; "fresh" (ours) reads the device first. */
		while (!err) {
			if (take(p, "reset"))
				cmd->reset = true;
			else if (take(p, "fresh"))
				cmd->fresh = true;
			else
				break;
		}
		return err;
	case GRAMMAR_LIST:
		while (!err && take(p, "group")) {
			if (cmd->group_count == GRAMMAR_GROUPS_MAX)
				return fail(p, p->at, "more than %u groups", GRAMMAR_GROUPS_MAX);
			err = number32(p, &cmd->groups[cmd->group_count++], "group");
		}
		return err;
	case GRAMMAR_ISOLATE:
		return boolean(p, &cmd->isolate, "isolate mode");
	default:
		return 0;
	}
}

static void reset_command(struct grammar_command *cmd)
{
	struct grammar_rule *r = &cmd->rule;

	cmd->verb = GRAMMAR_NONE;
	cmd->verb_token = -1;
	cmd->port = 0;
	cmd->handle_count = 0;
	cmd->group_count = 0;
	cmd->reset = false;
	cmd->fresh = false;
	cmd->isolate = false;
	cmd->meter_id = 0;
	memset(&cmd->meter, 0, sizeof(cmd->meter));
	cmd->token_count = 0;
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

int grammar_parse(const char *line, struct grammar_command *cmd, struct grammar_error *error)
{
	struct parser p = {.line = line, .cmd = cmd, .error = error};
	int err;

	reset_command(cmd);
	err = tokenize(&p);
	if (err || cmd->token_count == 0)
		return err;
	err = command(&p);
	if (!err && more(&p))
		err = fail(&p, p.at, "unexpected '%.*s' after the command",
			   (int)cmd->tokens[p.at].length, line + cmd->tokens[p.at].column);
	return err;
}

/* ------------------------------------------------------------------------ */
/* Printing and errors                                                      */
/* ------------------------------------------------------------------------ */

int grammar_print(char *buf, size_t cap, const struct grammar_command *cmd,
		  struct mpf_flow_error *error)
{
	const char *verb = verb_names[cmd->verb];
	size_t n = 0;
	int err;

#define OUT(...) (n += (size_t)snprintf(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, __VA_ARGS__))
	switch (cmd->verb) {
	case GRAMMAR_NONE:
		OUT("%s", "");
		break;
	case GRAMMAR_CREATE:
	case GRAMMAR_VALIDATE:
		err = rule_validate(&cmd->rule.attr, cmd->rule.pattern, cmd->rule.actions, NULL,
				    error);
		if (err)
			return err;
		OUT("%s %u ", verb, cmd->port);
		n += rule_print(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, &cmd->rule.attr,
				cmd->rule.pattern, cmd->rule.actions);
		break;
	case GRAMMAR_DESTROY:
		OUT("%s %u", verb, cmd->port);
		for (unsigned i = 0; i < cmd->handle_count; i++)
			OUT(" rule 0x%" PRIx64, cmd->handles[i]);
		break;
	case GRAMMAR_FLUSH:
		OUT("%s %u", verb, cmd->port);
		break;
	case GRAMMAR_QUERY:
		OUT("%s %u 0x%" PRIx64 " count%s%s", verb, cmd->port, cmd->handles[0],
		    cmd->reset ? " reset" : "", cmd->fresh ? " fresh" : "");
		break;
	case GRAMMAR_LIST:
		OUT("%s %u", verb, cmd->port);
		for (unsigned i = 0; i < cmd->group_count; i++)
			OUT(" group %" PRIu32, cmd->groups[i]);
		break;
	case GRAMMAR_ISOLATE:
		OUT("%s %u %d", verb, cmd->port, cmd->isolate);
		break;
	case GRAMMAR_AUDIT:
		OUT("%s", verb);
		break;
	case GRAMMAR_METER_CREATE:
		OUT("%s %u %" PRIu32 " cir %" PRIu64 " cbs %" PRIu64 " pir %" PRIu64 " pbs %" PRIu64,
		    verb, cmd->port, cmd->meter_id, cmd->meter.cir, cmd->meter.cbs, cmd->meter.pir,
		    cmd->meter.pbs);
		if (cmd->meter.drop)
			OUT(" drop%s%s%s", cmd->meter.drop & MPF_METER_DROP_GREEN ? " green" : "",
			    cmd->meter.drop & MPF_METER_DROP_YELLOW ? " yellow" : "",
			    cmd->meter.drop & MPF_METER_DROP_RED ? " red" : "");
		break;
	case GRAMMAR_METER_DESTROY:
		OUT("%s %u %" PRIu32, verb, cmd->port, cmd->meter_id);
		break;
	case GRAMMAR_METER_QUERY:
		OUT("%s %u %" PRIu32 "%s", verb, cmd->port, cmd->meter_id,
		    cmd->reset ? " clear" : "");
		break;
	}
#undef OUT
	if (cap)
		buf[n < cap ? n : cap - 1] = '\0';
	return (int)n;
}

/* Index of END in a pattern or action list (their item / action count). */
static unsigned item_count(const struct grammar_rule *r)
{
	unsigned n = 0;

	while (r->pattern[n].type != MPF_FLOW_ITEM_TYPE_END)
		n++;
	return n;
}

static unsigned action_count(const struct grammar_rule *r)
{
	unsigned n = 0;

	while (r->actions[n].type != MPF_FLOW_ACTION_TYPE_END)
		n++;
	return n;
}

int grammar_error_token(const struct grammar_command *cmd, const struct mpf_flow_error *error)
{
	const struct grammar_rule *r = &cmd->rule;
	int cause = error->cause;
	int rule_verb = cmd->verb == GRAMMAR_CREATE || cmd->verb == GRAMMAR_VALIDATE;

	switch (error->type) {
	case MPF_FLOW_ERROR_TYPE_ITEM:
	case MPF_FLOW_ERROR_TYPE_ITEM_NUM:
		if (!rule_verb)
			return -1;
		return cause >= 0 && (unsigned)cause <= item_count(r) ? r->item_token[cause]
								       : r->pattern_end_token;
	case MPF_FLOW_ERROR_TYPE_ACTION:
	case MPF_FLOW_ERROR_TYPE_ACTION_NUM:
		if (!rule_verb)
			return -1;
		return cause >= 0 && (unsigned)cause <= action_count(r) ? r->action_token[cause]
									 : r->actions_end_token;
	case MPF_FLOW_ERROR_TYPE_ATTR_GROUP:
		return rule_verb && r->group_token >= 0 ? r->group_token : cmd->verb_token;
	case MPF_FLOW_ERROR_TYPE_ATTR_PRIORITY:
		return rule_verb && r->priority_token >= 0 ? r->priority_token : cmd->verb_token;
	case MPF_FLOW_ERROR_TYPE_ATTR_INGRESS:
		return rule_verb && r->ingress_token >= 0 ? r->ingress_token : cmd->verb_token;
	case MPF_FLOW_ERROR_TYPE_ATTR_EGRESS:
		return rule_verb && r->egress_token >= 0 ? r->egress_token : cmd->verb_token;
	case MPF_FLOW_ERROR_TYPE_ATTR:
		return cmd->verb_token;
	case MPF_FLOW_ERROR_TYPE_HANDLE:
		return cmd->handle_count ? cmd->handle_tokens[0] : -1;
	default:
		return -1;
	}
}
