/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a seed corpus for fuzz_handshake: a client's and a monitor's hello,
 * and a small counters region laid out by the primary's own code (first
 * byte: 0 hello, 1 region).
 * usage: make-handshake-corpus DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/handshake.h"
#include "shm/region.h"

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
	const struct region_layout layout = {.max_rules = 8, .ports = 2, .pf_queues = 2, .vfs = 1};
	size_t size = (size_t)region_memsize(&layout);
	void *mem = aligned_alloc(64, size);

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
	free(mem);
	return 0;
}
