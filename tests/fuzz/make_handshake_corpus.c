/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a seed corpus for fuzz_handshake: a client's and a monitor's hello,
 * and a small counters region laid out by the primary's own code (first
 * byte: 0 hello, 1 region), one with a client's rule in its directory.
 * usage: make-handshake-corpus DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/handshake.h"
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
	struct region_header *h = (struct region_header *)mem;
	struct region_entry entry = {
		.owner_id = 7, .owner_index = 1, .flags = REGION_ENTRY_INGRESS};
	uint8_t rule[WIRE_MSG_MAX];
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
	length = wire_encode_rule(rule, sizeof(rule), WIRE_OP_CREATE, 0, 0, false, &attr, pattern,
				  actions, NULL);
	if (length < 0)
		return 1;
	/* Its chunks out of order, as a heap that has been used hands them. */
	region_rule_write((struct region_chunk *)(mem + h->heap_offset), chunks, rule,
			  (uint32_t)length);
	entry.rule_chunk = chunks[0];
	entry.rule_length = (uint32_t)length;
	region_entry_publish((struct region_entry *)(mem + h->directory_offset) + 3, &entry, 5);
	region_owner_publish((struct region_owner *)(mem + h->owners_offset) + 1, 7, 4321, "app");
	save(argv[1], "region-8-rule", 1, mem, size);
	free(mem);
	return 0;
}
