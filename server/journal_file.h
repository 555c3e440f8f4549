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
#include "shm/pack.h"

#define JOURNAL_MAGIC	 0x4a46504du /* "MPFJ" */
#define JOURNAL_FILE_MAX (64ull << 30)

enum journal_type {
	JOURNAL_EPOCH = 1,
	JOURNAL_RULE, /* a persistent rule: its CREATE request (as journals before
		       * the packed form had them; still read) */
	JOURNAL_RULE_GONE,
	JOURNAL_METER,
	JOURNAL_METER_GONE,
	JOURNAL_RULE_PACKED, /* a persistent rule: its packed form (shm/pack.h), as
			      * its directory entry holds it: 3-6 times smaller */
	JOURNAL_RULE_OF_UID, /* a persistent rule made by a user other than the
			      * instance's own (rule_table.makers): its uid
			      * (uint32_t), then its packed form */
	JOURNAL_TYPE_LAST = JOURNAL_RULE_OF_UID,
};
#define JOURNAL_OF_UID_MAX (sizeof(uint32_t) + PACK_MAX)

static inline bool journal_is_rule(unsigned type)
{
	return type == JOURNAL_RULE || type == JOURNAL_RULE_PACKED || type == JOURNAL_RULE_OF_UID;
}

/* The shortest and the longest payload of a record of `type`. */
static inline uint32_t journal_payload_min(unsigned type)
{
	return type == JOURNAL_RULE_OF_UID ? sizeof(uint32_t) : 0;
}

static inline uint32_t journal_payload_max(unsigned type)
{
	return type == JOURNAL_RULE_OF_UID   ? JOURNAL_OF_UID_MAX
	       : type == JOURNAL_RULE_PACKED ? PACK_MAX
					     : WIRE_MSG_MAX;
}

/* The payload of a JOURNAL_RULE_OF_UID record: `uid`, then the packed
 * form, into out[JOURNAL_OF_UID_MAX]. Its length. */
uint32_t journal_rule_of_uid(uid_t uid, const void *packed, uint32_t length, uint8_t *out);
/* The packed form in a checked rule record's payload (NULL: the record
 * holds a CREATE request), its length in *length, and its maker's uid in
 * *uid ((uid_t)-1: the instance's own). */
const uint8_t *journal_rule_packed(unsigned type, const uint8_t *payload, uint32_t payload_length,
				   uint32_t *length, uid_t *uid);

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

/* The bytes the primary may still write on the file system of `fd`: those
 * free to everyone and, as root, those the file system keeps back for root
 * (ext4's 5%, less the 2% it keeps from root too), which root's appends
 * take as well. UINT64_MAX where it
 * cannot tell (fstatvfs fails, or the file system counts no blocks, as
 * FUSE without statfs): a hint, not taken at its word. */
uint64_t journal_fs_room(int fd);

/* What a file's records leave live: per slot the last RULE record not
 * followed by its RULE_GONE, per meter the last METER record not followed
 * by its METER_GONE, the last epoch. Records are named by their offset in
 * the file, plus one (0: none). */
struct journal_scan_meter {
	uint64_t key;
	uint64_t record; /* offset + 1 */
};
struct journal_scan_rule {
	uint64_t record; /* offset + 1, or 0: none live in the slot */
	uint32_t generation;
	uint32_t reserved;
};
/* Slots from here on are beyond any table (--max-rules is at most 2^24):
 * their rules can only be kept as not restored, and are listed apart. */
#define JOURNAL_SCAN_DENSE (1u << 24)
struct journal_scan_far {
	uint32_t slot;
	struct journal_scan_rule rule;
};
struct journal_scan {
	struct journal_scan_rule *rule; /* per slot below JOURNAL_SCAN_DENSE */
	uint32_t slots;			/* of `rule`: grows with the slots records name */
	struct journal_scan_far *far;	/* the others */
	unsigned n_far, cap_far;
	uint32_t epoch;
	bool has_epoch;
	struct journal_scan_meter *meters;
	unsigned n_meters, cap_meters;
	uint64_t good_end; /* bytes that passed every check */
	uint64_t records;
	uint64_t live_rules; /* rules the records leave live */
	const char *stop;    /* why reading stopped early, or NULL */
};

/* Scan `size` bytes in memory (a start). 0, or -ENOMEM. A damaged record
 * ends the scan with sc->stop set; what precedes it is scanned. */
int journal_scan(const uint8_t *data, uint64_t size, struct journal_scan *sc);
/* The live rule of `slot`, or NULL. */
const struct journal_scan_rule *journal_scan_slot(const struct journal_scan *sc, uint32_t slot);
/* Take one checked record at offset `at` into the scan. 0 or -ENOMEM. */
int journal_scan_record(struct journal_scan *sc, const struct journal_record *h, uint64_t at);
void journal_scan_free(struct journal_scan *sc);
/* Whether the record `h` at `at` is one the scan left live. */
bool journal_scan_live(const struct journal_scan *sc, const struct journal_record *h, uint64_t at);
/* The next rule record the scan of `data` left live, from offset `*at` on,
 * in the file's order (the order the rules were made: a start restores
 * them so, and same-priority rules keep which one wins); *at moves past
 * it. NULL after the last. */
const uint8_t *journal_scan_next_rule(const struct journal_scan *sc, const uint8_t *data,
				      uint64_t *at);

/* A file's records read with pread(2), window by window (a compaction
 * beside the loop: a mapping would turn a read error into SIGBUS). */
struct journal_reader {
	int fd;
	uint64_t end;  /* read up to here */
	uint64_t base; /* the file offset of buf[0] */
	uint8_t *buf;
	size_t len, pos;
	const char *damage; /* why a record did not check */
};
/* The next record from `at` on: 1 with *h, *record (header and payload,
 * valid until the next call) and *at its offset; 0 at r->end; -errno, or
 * -EIO with r->damage set for a record that does not check. */
int journal_read(struct journal_reader *r, struct journal_record *h, const uint8_t **record,
		 uint64_t *at);
void journal_reader_free(struct journal_reader *r);

/* A new file (struct journal_rewrite, server.h), record by record. */
void journal_rewrite_put(struct journal_rewrite *w, enum journal_type type, uint64_t key,
			 const void *payload, uint32_t length);
/* A record as it is (checked, with its CRC), `n` bytes with its header. */
void journal_rewrite_raw(struct journal_rewrite *w, const uint8_t *record, size_t n);
/* Write what is buffered and free the buffer: w->err. */
int journal_rewrite_finish(struct journal_rewrite *w);

#endif
