/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal's file format (journal_file.c): records, their checks, the
 * scan a start and a compaction share, a file written in large chunks.
 * Nothing here touches the server's state, so the compaction thread
 * (compact.c) uses it beside the loop.
 */
#ifndef MPFLOW_SERVER_JOURNAL_FILE_H
#define MPFLOW_SERVER_JOURNAL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "server/server.h"

#define JOURNAL_MAGIC	 0x4a46504du /* "MPFJ" */
#define JOURNAL_FILE_MAX (64ull << 30)

enum journal_type {
	JOURNAL_EPOCH = 1,
	JOURNAL_RULE,
	JOURNAL_RULE_GONE,
	JOURNAL_METER,
	JOURNAL_METER_GONE,
};

struct journal_record {
	uint32_t magic;
	uint16_t type;
	uint16_t reserved;
	uint32_t length; /* of the payload */
	uint32_t crc;	 /* CRC-32C of the header (crc 0) and the payload */
	uint64_t key;
};
_Static_assert(sizeof(struct journal_record) == 24, "journal record header");

/* Encode one record at the end of `b`. Its size, or -ENOMEM. */
ssize_t journal_buffer_put(struct journal_buffer *b, enum journal_type type, uint64_t key,
			   const void *payload, uint32_t length);
void journal_buffer_free(struct journal_buffer *b);

/* Write `n` bytes to `fd` at `offset`: a short write goes on until the file
 * system says why it stopped (ENOSPC, EIO, ...). 0 or -errno. */
int journal_write_all(int fd, off_t offset, const uint8_t *bytes, size_t n);

/* What a file's records leave live: per slot the last RULE record not
 * followed by its RULE_GONE, per meter the last METER record not followed
 * by its METER_GONE, the last epoch. Pointers into the scanned bytes. */
struct journal_scan_meter {
	uint64_t key;
	const uint8_t *record;
};
struct journal_scan {
	const uint8_t **rule; /* per slot: the RULE record's header, or NULL */
	uint32_t slots;	      /* of `rule` */
	uint32_t epoch;
	bool has_epoch;
	struct journal_scan_meter *meters;
	unsigned n_meters, cap_meters;
	uint64_t good_end; /* bytes that passed every check */
	uint64_t records;
	const char *stop; /* why reading stopped early, or NULL */
};

/* Scan `size` bytes: `sc->rule` sized for the highest slot a record names
 * (at least `min_slots`). 0, or -ENOMEM. A damaged record ends the scan
 * with sc->stop set; what precedes it is scanned. */
int journal_scan(const uint8_t *data, uint64_t size, uint32_t min_slots, struct journal_scan *sc);
void journal_scan_free(struct journal_scan *sc);
/* Whether the record at `at` (checked by the scan) is one it left live. */
bool journal_scan_live(const struct journal_scan *sc, const uint8_t *data, uint64_t at);

/* A new file written in chunks of 1 MiB: one pwrite(2) per chunk, not per
 * record. The first error stops it. */
struct journal_rewrite {
	int fd;
	uint64_t at; /* bytes written */
	uint64_t records;
	struct journal_buffer buffer;
	int err;
};
void journal_rewrite_put(struct journal_rewrite *w, enum journal_type type, uint64_t key,
			 const void *payload, uint32_t length);
/* A record as it is (checked, with its CRC), `n` bytes with its header. */
void journal_rewrite_raw(struct journal_rewrite *w, const uint8_t *record, size_t n);
/* Write what is buffered and free the buffer: w->err. */
int journal_rewrite_finish(struct journal_rewrite *w);

#endif
