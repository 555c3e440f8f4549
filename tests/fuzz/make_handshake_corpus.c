/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a seed corpus for fuzz_handshake: a client's and a monitor's hello,
 * and a small counters region laid out by the primary's own code (first
 * byte: 0 hello, 1 region), one with two rules in its directory: a client's
 * packed in its entry, and an instance rule too long for it, in the heap.
 * usage: make-handshake-corpus DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/handshake.h"
#include "shm/pack.h"
#include "shm/region.h"
#include "shm/wire.h"

static void save(const char *dir, const char *name, uint8_t kind, const void *bytes, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fputc(kind, f) == EOF || fwrite(bytes, 1, n, f) != n)
		exit(1);
	fclose(f);
}

int main(int argc, char **argv)
{
	struct handshake_hello hello = {.magic = HANDSHAKE_MAGIC, .version = HANDSHAKE_VERSION};
	const struct region_layout layout = {
		.max_rules = 8, .ports = 2, .pf_queues = 2, .vfs = 1, .max_owners = 2};
	size_t size = (size_t)region_memsize(&layout);
	uint8_t *mem = aligned_alloc(64, size);
	struct mpf_flow_item_ipv4 ip = {.hdr.src_addr = 0x0100000a};
	struct mpf_flow_item_ipv4 ip_mask = {.hdr.src_addr = 0xffffffff};
	const struct mpf_flow_item pattern[] = {
		{.type = MPF_FLOW_ITEM_TYPE_ETH},
		{.type = MPF_FLOW_ITEM_TYPE_IPV4, .spec = &ip, .mask = &ip_mask},
		{.type = MPF_FLOW_ITEM_TYPE_END},
	};
	const struct mpf_flow_action actions[] = {
		{.type = MPF_FLOW_ACTION_TYPE_COUNT},
		{.type = MPF_FLOW_ACTION_TYPE_DROP},
		{.type = MPF_FLOW_ACTION_TYPE_END},
	};
	const struct mpf_flow_attr attr = {.ingress = 1};
	struct mpf_flow_item_raw raw = {
		.offset = 14,
		.length = 40,
		.pattern = (const uint8_t *)"a pattern of forty bytes, in the heap..."};
	const struct mpf_flow_item long_pattern[] = {
		{.type = MPF_FLOW_ITEM_TYPE_ETH},
		{.type = MPF_FLOW_ITEM_TYPE_RAW, .spec = &raw},
		{.type = MPF_FLOW_ITEM_TYPE_END},
	};
	struct region_header *h = (struct region_header *)mem;
	struct region_counter *counters;
	struct region_entry *entries;
	struct region_entry entry = {
		.owner_id = 7, .owner_index = 1, .flags = REGION_ENTRY_INGRESS};
	uint8_t rule[WIRE_MSG_MAX], packed[PACK_MAX];
	const uint32_t chunks[] = {5, 2, 9, 0, 7};
	int length;

	if (argc != 2 || mem == NULL)
		return 2;
	snprintf(hello.name, sizeof(hello.name), "flowctl");
	save(argv[1], "hello-client", 0, &hello, sizeof(hello));
	hello.flags = HANDSHAKE_HELLO_MONITOR;
	snprintf(hello.name, sizeof(hello.name), "flowstat");
	save(argv[1], "hello-monitor", 0, &hello, sizeof(hello));
	memset(mem, 0, size);
	region_init(mem, &layout, "soft", "default", 1234);
	save(argv[1], "region-8", 1, mem, size);
	counters = (struct region_counter *)(mem + h->counters_offset);
	entries = (struct region_entry *)(mem + h->directory_offset);
	length = wire_encode_rule(rule, sizeof(rule), WIRE_OP_CREATE, 0, 0, false, &attr, pattern,
				  actions, NULL);
	length = length > 0 ? rule_pack(rule, (size_t)length, packed, sizeof(packed), NULL) : -1;
	if (length < 0 || !region_rule_inline((uint32_t)length))
		return 1;
	entry.rule_length = (uint16_t)length;
	memcpy(entry.rule, packed, (size_t)length);
	region_counter_prepare(&counters[3], NULL, 3, true);
	region_entry_publish(&counters[3], &entries[3], &entry, 5, 1);
	length = wire_encode_rule(rule, sizeof(rule), WIRE_OP_CREATE, 0, 1, true, &attr,
				  long_pattern, actions, NULL);
	length = length > 0 ? rule_pack(rule, (size_t)length, packed, sizeof(packed), NULL) : -1;
	if (length < 0 || region_rule_inline((uint32_t)length) ||
	    region_rule_chunks((uint32_t)length) > sizeof(chunks) / sizeof(chunks[0]))
		return 1;
	/* Its chunks out of order, as a heap that has been used hands them. */
	region_rule_write((struct region_chunk *)(mem + h->heap_offset), chunks, packed,
			  (uint32_t)length);
	entry = (struct region_entry){.port = 1,
				      .flags = REGION_ENTRY_INGRESS | REGION_ENTRY_PERSISTENT,
				      .rule_length = (uint16_t)length};
	memcpy(entry.rule, &chunks[0], sizeof(chunks[0]));
	region_counter_prepare(&counters[6], NULL, 6, false);
	region_entry_publish(&counters[6], &entries[6], &entry, 9, 2);
	region_owner_publish((struct region_owner *)(mem + h->owners_offset) + 1, 7, 4321, "app");
	save(argv[1], "region-8-rule", 1, mem, size);
	free(mem);
	return 0;
}
