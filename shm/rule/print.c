/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A rule as testpmd's flow syntax, from the descriptor tables: every field
 * whose effective mask is not zero is written ("src is X" under a full mask,
 * "src spec X [src last Y] src mask Z" otherwise), so that reading the text
 * back gives the same spec, last and mask. The rule directory carries
 * this text; the parser beside it (parse.c) reads the same syntax, and an
 * action's parameters are printed from the parser's own table.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shm/rule/rule.h"
#include "shm/rule/text.h"

/* An appender that counts what it could not write, like snprintf. */
struct text {
	char *buf;
	size_t cap;
	size_t length;
};

static void put(struct text *t, const char *s, size_t n)
{
	if (t->length < t->cap) {
		size_t room = t->cap - t->length;

		memcpy(t->buf + t->length, s, n < room ? n : room);
	}
	t->length += n;
}

static void puts_(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

static void putf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct text *t, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(t, tmp, n < (int)sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static uint64_t field_number(const struct rule_field *f, const uint8_t *p)
{
	uint64_t v = 0;

	if (f->order == RULE_ORDER_HOST) {
		uint32_t host;

		memcpy(&host, p, sizeof(host));
		return host;
	}
	for (unsigned i = 0; i < f->size && i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_value(struct text *t, const struct rule_field *f, const uint8_t *p, bool as_mask)
{
	char addr[INET6_ADDRSTRLEN];

	switch (f->format) {
	case RULE_FORMAT_MAC:
		putf(t, "%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1], p[2], p[3], p[4], p[5]);
		return;
	case RULE_FORMAT_IPV4:
	case RULE_FORMAT_IPV6:
		inet_ntop(f->format == RULE_FORMAT_IPV4 ? AF_INET : AF_INET6, p, addr,
			  sizeof(addr));
		puts_(t, addr);
		return;
	default:
		putf(t, as_mask ? "0x%" PRIx64 : "%" PRIu64, field_number(f, p));
	}
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t value)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != value)
			return false;
	return true;
}

static void put_field(struct text *t, const struct rule_field *f, const uint8_t *spec,
		      const uint8_t *last, const uint8_t *mask)
{
	uint8_t s[16], l[16];
	bool full = all_bytes(mask + f->offset, f->size, 0xff);
	bool range = false;

	if (all_bytes(mask + f->offset, f->size, 0))
		return;
	for (unsigned i = 0; i < f->size; i++) {
		s[i] = spec[f->offset + i];
		l[i] = last ? last[f->offset + i] & mask[f->offset + i] : 0;
		range = range || (l[i] != 0 && l[i] != (s[i] & mask[f->offset + i]));
	}
	if (full && !range) {
		putf(t, " %s is ", f->name);
		put_value(t, f, s, false);
		return;
	}
	putf(t, " %s spec ", f->name);
	put_value(t, f, s, false);
	if (range) {
		putf(t, " %s last ", f->name);
		put_value(t, f, last + f->offset, false);
	}
	/* A range always says its mask: "spec" and "last" leave the mask as
	 * it is, and once another field of the item is written with "is" the
	 * reader's mask holds only what was written. */
	if (!full || range) {
		putf(t, " %s mask ", f->name);
		put_value(t, f, mask + f->offset, true);
	}
}

static void put_raw(struct text *t, const struct mpf_flow_item_raw *raw)
{
	bool printable = raw->length > 0;

	putf(t, " relative is %u search is %u offset is %" PRId32 " limit is %u", raw->relative,
	     raw->search, raw->offset, raw->limit);
	for (unsigned i = 0; i < raw->length; i++)
		printable = printable && raw->pattern[i] > ' ' && raw->pattern[i] < 0x7f &&
			    raw->pattern[i] != '/';
	if (printable) {
		puts_(t, " pattern is ");
		put(t, (const char *)raw->pattern, raw->length);
	} else if (raw->length) {
		puts_(t, " pattern_hex is ");
		for (unsigned i = 0; i < raw->length; i++)
			putf(t, "%02x", raw->pattern[i]);
	}
}

static void put_item(struct text *t, const struct mpf_flow_item *item)
{
	const struct rule_item_desc *desc = rule_item_desc((int)item->type);

	puts_(t, desc->name);
	if (item->spec == NULL || desc->spec_use != RULE_SPEC_MATCHED)
		return;
	if (item->type == MPF_FLOW_ITEM_TYPE_RAW) {
		put_raw(t, item->spec);
		return;
	}
	for (unsigned f = 0; f < desc->n_fields; f++)
		put_field(t, &desc->fields[f], item->spec, item->last, rule_item_mask(item));
}

static void put_action(struct text *t, const struct mpf_flow_action *action)
{
	const struct rule_action_desc *desc = rule_action_desc((int)action->type);
	const struct mpf_flow_action_rss *rss = action->conf;
	char params[96];
	size_t n;

	puts_(t, desc->name);
	if (action->type != MPF_FLOW_ACTION_TYPE_RSS) {
		/* The parameters the parser reads, from its own table. */
		n = rule_action_params_print(params, sizeof(params), action);
		put(t, params, n < sizeof(params) ? n : sizeof(params) - 1);
		return;
	}
	if (rss->types) {
		puts_(t, " types");
		for (int b = 0; b < 64; b++)
			if ((rss->types >> b) & 1)
				putf(t, " %s", rule_rss_type_name((unsigned)b));
		puts_(t, " end");
	}
	if (rss->key_len) {
		puts_(t, " key ");
		for (uint32_t i = 0; i < rss->key_len; i++)
			putf(t, "%02x", rss->key[i]);
	}
	puts_(t, " queues");
	for (uint32_t i = 0; i < rss->queue_num; i++)
		putf(t, " %u", rss->queue[i]);
	puts_(t, " end");
}

size_t rule_print(char *buf, size_t cap, const struct mpf_flow_attr *attr,
		  const struct mpf_flow_item *pattern, const struct mpf_flow_action *actions)
{
	struct text t = {.buf = buf, .cap = cap ? cap - 1 : 0};

	if (attr->group)
		putf(&t, "group %" PRIu32 " ", attr->group);
	if (attr->priority)
		putf(&t, "priority %" PRIu32 " ", attr->priority);
	if (attr->ingress)
		puts_(&t, "ingress ");
	if (attr->egress)
		puts_(&t, "egress ");
	puts_(&t, "pattern ");
	for (; pattern->type != MPF_FLOW_ITEM_TYPE_END; pattern++) {
		put_item(&t, pattern);
		puts_(&t, " / ");
	}
	puts_(&t, "end actions ");
	for (; actions->type != MPF_FLOW_ACTION_TYPE_END; actions++) {
		put_action(&t, actions);
		puts_(&t, " / ");
	}
	puts_(&t, "end");
	if (cap)
		buf[t.length < cap ? t.length : cap - 1] = '\0';
	return t.length;
}
