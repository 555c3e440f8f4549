/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A translated flow for people: what flowctl's dry run prints and what the
 * primary logs at -vv. Every field is decoded from the bytes themselves
 * (the same bytes ibv_create_flow() gets), then the bytes are shown.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hwdrv/verbs/verbs.h"
#include "shm/rule/rule.h"

static void hex(FILE *out, const uint8_t *bytes, size_t length)
{
	for (size_t i = 0; i < length; i++)
		fprintf(out, "%s%02x", i % 16 == 0 ? (i ? "\n           " : "           ") : " ",
			bytes[i]);
	fputc('\n', out);
}

static void field(FILE *out, const struct verbs_spec_field *f, const uint8_t *p)
{
	char text[INET6_ADDRSTRLEN];
	uint64_t value = 0;

	fprintf(out, " %s ", f->name);
	switch (f->format) {
	case RULE_FORMAT_MAC:
		fprintf(out, "%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1], p[2], p[3], p[4], p[5]);
		return;
	case RULE_FORMAT_IPV4:
	case RULE_FORMAT_IPV6:
		fputs(inet_ntop(f->format == RULE_FORMAT_IPV4 ? AF_INET : AF_INET6, p, text,
				sizeof(text)),
		      out);
		return;
	default:
		/* Header fields are in network order. */
		for (unsigned i = 0; i < f->size; i++)
			value = value << 8 | p[i];
		fprintf(out, "0x%0*" PRIx64, f->size * 2, value);
	}
}

static void flags(FILE *out, uint32_t value)
{
	fprintf(out, "0x%x", value);
	if (value & IBV_FLOW_ATTR_FLAGS_DONT_TRAP)
		fputs(" DONT_TRAP", out);
	if (value & IBV_FLOW_ATTR_FLAGS_EGRESS)
		fputs(" EGRESS", out);
}

static const char *attr_type(uint32_t type)
{
	switch (type) {
	case IBV_FLOW_ATTR_NORMAL:
		return "NORMAL";
	case IBV_FLOW_ATTR_ALL_DEFAULT:
		return "ALL_DEFAULT";
	case IBV_FLOW_ATTR_MC_DEFAULT:
		return "MC_DEFAULT";
	case IBV_FLOW_ATTR_SNIFFER:
		return "SNIFFER";
	default:
		return "?";
	}
}

static void spec(FILE *out, unsigned index, const uint8_t *p, int item)
{
	const struct verbs_spec_layout *l;
	char name[32];
	uint32_t type;
	uint16_t size;

	memcpy(&type, p, sizeof(type));
	memcpy(&size, p + sizeof(type), sizeof(size));
	l = verbs_spec_layout(type);
	fprintf(out, "  spec %-2u  %s (0x%x), size %u", index,
		verbs_spec_name(type, name, sizeof(name)) ? name : "?", type, size);
	if (item >= 0)
		fprintf(out, ", from item %d", item);
	if (l) {
		fputs("\n    val  ", out);
		for (unsigned f = 0; f < l->n_fields; f++)
			field(out, &l->fields[f], p + l->val + l->fields[f].offset);
		fputs("\n    mask ", out);
		for (unsigned f = 0; f < l->n_fields; f++)
			field(out, &l->fields[f], p + l->mask + l->fields[f].offset);
	} else if (type == IBV_FLOW_SPEC_ACTION_TAG) {
		struct ibv_flow_spec_action_tag tag;

		memcpy(&tag, p, sizeof(tag));
		fprintf(out, "\n    tag_id 0x%x", tag.tag_id);
	} else if (type == IBV_FLOW_SPEC_ACTION_COUNT) {
		fputs("\n    counters: packets (index 0) and bytes (index 1), made with the rule",
		      out);
	}
	fputc('\n', out);
	hex(out, p, size);
}

static void target(FILE *out, const struct verbs_target *t)
{
	fputs("  qp       ", out);
	if (t->sink) {
		fputs("the sink (no queue: dropped, or egress)\n", out);
		return;
	}
	fprintf(out, "%s", t->n_queues == 1 ? "queue" : "queues");
	for (uint32_t i = 0; i < t->n_queues; i++)
		fprintf(out, "%s%u", i ? "," : " ", t->queues[i]);
	if (!t->hash_fields) {
		fputs(t->n_queues > 1 ? ", not hashed (all to the first)\n" : "\n", out);
		return;
	}
	fputs(", Toeplitz over", out);
	if (t->hash_fields & IBV_RX_HASH_SRC_IPV4)
		fputs(" src_ipv4 dst_ipv4", out);
	if (t->hash_fields & IBV_RX_HASH_SRC_IPV6)
		fputs(" src_ipv6 dst_ipv6", out);
	if (t->hash_fields & IBV_RX_HASH_SRC_PORT_TCP)
		fputs(" src_port_tcp dst_port_tcp", out);
	if (t->hash_fields & IBV_RX_HASH_SRC_PORT_UDP)
		fputs(" src_port_udp dst_port_udp", out);
	fputs(", key", out);
	for (unsigned i = 0; i < VERBS_RSS_KEY_LENGTH; i++)
		fprintf(out, "%s%02x", i ? "" : " ", t->key[i]);
	fputc('\n', out);
}

void verbs_describe(FILE *out, const struct verbs_flow *flow)
{
	struct ibv_flow_attr attr;

	memcpy(&attr, flow->bytes, sizeof(attr));
	fprintf(out, "  attr     type %s, size %u, priority %u, num_of_specs %u, port %u, flags ",
		attr_type(attr.type), attr.size, attr.priority, attr.num_of_specs, attr.port);
	flags(out, attr.flags);
	fprintf(out, ", comp_mask %u\n", attr.comp_mask);
	hex(out, flow->bytes, sizeof(attr));
	for (unsigned i = 0; i < flow->n_specs; i++)
		spec(out, i, flow->bytes + flow->spec_offset[i], flow->spec_item[i]);
	target(out, &flow->target);
}
