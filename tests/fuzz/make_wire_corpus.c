/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a seed corpus for fuzz_wire: one encoded message per request type
 * and per item and action family, made by the real encoders.
 * usage: make-wire-corpus DIR
 */
#include <stdio.h>
#include <string.h>

#include "shm/wire.h"

#include "tests/fuzz/sample_rules.h"

static int seeds;

static void save(const char *dir, const char *name, const void *msg, int length)
{
	char path[4096];
	FILE *f;

	if (length <= 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f && fwrite(msg, 1, (size_t)length, f) == (size_t)length)
		seeds++;
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	static _Alignas(8) uint8_t msg[WIRE_MSG_MAX], sub[WIRE_MSG_MAX];
	struct mpf_flow_error error;
	const uint64_t handles[] = {1, 2, 3};
	struct wire_completion completion = {.user_data = 1,
					     .request_op = WIRE_OP_CREATE,
					     .status = -22,
					     .error = {.type = 9, .cause = 1, .message = "bad"}};
	struct wire_batch_writer w;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	/* The sample rules, one of them as a VALIDATE. */
	for (unsigned i = 0; i < SAMPLE_RULES; i++)
		save(argv[1], sample_rule_names[i], msg,
		     sample_rule(i, msg, sizeof(msg), i == 1 ? WIRE_OP_VALIDATE : WIRE_OP_CREATE,
				 i + 1));
	save(argv[1], "destroy", msg,
	     wire_encode_destroy(msg, sizeof(msg), 4, 0, handles, 3, &error));
	save(argv[1], "flush", msg, wire_encode_flush(msg, sizeof(msg), 5, 0, false, &error));
	save(argv[1], "query", msg,
	     wire_encode_query(msg, sizeof(msg), 6, 0, 7, MPF_FLOW_ACTION_TYPE_COUNT,
			       WIRE_QUERY_RESET, &error));
	save(argv[1], "isolate", msg, wire_encode_isolate(msg, sizeof(msg), 7, 0, true, &error));
	save(argv[1], "completion", msg, wire_encode_completion(msg, sizeof(msg), &completion));
	wire_batch_begin(&w, msg, sizeof(msg), 8, true);
	wire_batch_add(&w, sub, (size_t)wire_encode_flush(sub, sizeof(sub), 9, 0, false, &error));
	wire_batch_add(&w, sub,
		       (size_t)wire_encode_destroy(sub, sizeof(sub), 10, 0, handles, 1, &error));
	save(argv[1], "batch", msg, wire_batch_finish(&w));
	printf("%d seeds in %s\n", seeds, argv[1]);
	return seeds == 6 + SAMPLE_RULES ? 0 : 1;
}
