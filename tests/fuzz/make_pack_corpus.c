/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a seed corpus for fuzz_pack: the sample rules (the wire target's
 * too), each as its CREATE request and as its packed form.
 * usage: make-pack-corpus DIR
 */
#include <stdio.h>
#include <stdlib.h>

#include "shm/pack.h"

#include "tests/fuzz/sample_rules.h"

static void save(const char *dir, const char *name, const char *form, const void *bytes, int n)
{
	char path[4096];
	FILE *f;

	if (n <= 0)
		exit(1);
	snprintf(path, sizeof(path), "%s/%s-%s", dir, name, form);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(bytes, 1, (size_t)n, f) != (size_t)n)
		exit(1);
	fclose(f);
}

int main(int argc, char **argv)
{
	_Alignas(8) static uint8_t msg[WIRE_MSG_MAX];
	static uint8_t packed[PACK_MAX];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	for (unsigned i = 0; i < SAMPLE_RULES; i++) {
		int length = sample_rule(i, msg, sizeof(msg), WIRE_OP_CREATE, 0);

		save(argv[1], sample_rule_names[i], "request", msg, length);
		save(argv[1], sample_rule_names[i], "packed", packed,
		     rule_pack(msg, (size_t)length, packed, sizeof(packed), NULL));
	}
	return 0;
}
