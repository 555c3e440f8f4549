/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a seed corpus for fuzz_rxq: RX queue rings as the soft datapath
 * fills them (descriptor + frame per record, staged and committed through
 * the ring's own producer), empty, and with one packet or several; and as
 * the verbs backend fills a zero-copy queue's (descriptor + buffer index).
 * usage: make-rxq-corpus DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "shm/ring.h"
#include "shm/rxq.h"

#define RING_BYTES 4096u

static void save(const char *dir, const char *name, const struct ring *r)
{
	char path[4096];
	uint32_t tail = shm_load_relaxed32(&r->shared->tail);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(&tail, sizeof(tail), 1, f) != 1 ||
	    fwrite(r->data, 1, RING_BYTES, f) != RING_BYTES)
		exit(1);
	fclose(f);
}

int main(int argc, char **argv)
{
	static _Alignas(64) uint8_t mem[sizeof(struct ring_shared) + RING_BYTES];
	uint8_t frame[128];
	struct ring r;

	if (argc != 2 ||
	    ring_create(&r, mem, sizeof(mem), RING_BYTES, 1024, RING_PRODUCER, -1) != 0)
		return 2;
	save(argv[1], "empty", &r);
	for (unsigned n = 1; n <= 12; n++) {
		struct rxq_desc d = {.length = 60 + n,
				     .wire_length = 60 + n,
				     .mark = n,
				     .rss_hash = 0x1234 * n,
				     .port = 0,
				     .queue = 1};
		struct iovec pieces[2] = {{&d, sizeof(d)}, {frame, d.length}};

		memset(frame, (int)n, sizeof(frame));
		if (ring_stagev(&r, pieces, 2) != 0)
			return 1;
		ring_commit(&r);
		if (n == 1)
			save(argv[1], "one-packet", &r);
	}
	save(argv[1], "twelve-packets", &r);
	if (ring_create(&r, mem, sizeof(mem), RING_BYTES, 1024, RING_PRODUCER, -1) != 0)
		return 2;
	for (unsigned n = 0; n < 12; n++) {
		struct rxq_desc d = {
			.length = 60 + n, .wire_length = 60 + n, .mark = n, .queue = 1};
		struct rxq_ref ref = {.buffer = n % 10}; /* two past the fuzzer's 8 */
		struct iovec pieces[2] = {{&d, sizeof(d)}, {&ref, sizeof(ref)}};

		if (ring_stagev(&r, pieces, 2) != 0)
			return 1;
		ring_commit(&r);
	}
	save(argv[1], "zero-copy-twelve", &r);
	return 0;
}
