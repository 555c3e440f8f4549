/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The global region: per-rule counters and the rule directory, in one memfd
 * the primary writes and seals, and every client maps read-only.
 *
 *   0                  struct region_header (256 bytes)
 *   counters_offset    struct region_counter[max_rules]   (64 bytes each)
 *   directory_offset   struct region_entry[max_rules]     (512 bytes each)
 *
 * Slot i of both arrays belongs to the rule whose handle has slot i; the
 * entry's `generation` is the handle's, 0 while the slot is free.
 *
 * Writers: the primary alone writes headers of entries, generations and
 * reset baselines, inside a seqlock (`sequence` odd while it writes). Hits
 * and bytes are written by whoever counts (the datapath, or the primary's
 * poller for hardware counters) with relaxed stores, one writer per slot.
 * Readers copy inside the seqlock window with bounded retries and use only
 * the copy; a slot whose generation is not the handle's is refused (a query
 * on a destroyed or reused rule fails, it never reports another rule).
 */
#ifndef MPFLOW_SHM_REGION_H
#define MPFLOW_SHM_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/atomics.h"

#define REGION_MAGIC	0x5246504du /* "MPFR" */
#define REGION_VERSION	2u	    /* 2: entries carry the rule's number */
#define REGION_TEXT_MAX 432u	    /* bytes of rule text, NUL included */
#define REGION_NAME_MAX 32u	    /* client name, NUL included */

/* region_header.state */
#define REGION_STATE_RUNNING  1u
#define REGION_STATE_STOPPING 2u

struct region_header {
	uint32_t magic;
	uint32_t version;
	uint32_t max_rules;
	uint32_t header_size;
	uint64_t size;
	uint64_t counters_offset;
	uint64_t directory_offset;
	uint32_t counter_size;
	uint32_t entry_size;
	uint32_t primary_pid;
	uint32_t reserved0;
	uint64_t start_time_ns; /* CLOCK_REALTIME at start */
	char backend[16];
	char instance[32];
	/* Live figures for monitors; relaxed, each a plain count. */
	shm_u32 state;
	shm_u32 clients;
	shm_u32 rules;
	shm_u32 unrestored;   /* journaled persistent rules not in the device */
	shm_u64 heartbeat_ns; /* CLOCK_MONOTONIC of the primary's last tick */
	uint8_t pad[256 - 136];
};
_Static_assert(offsetof(struct region_header, state) == 112, "region header layout");
_Static_assert(sizeof(struct region_header) == 256, "region header size");

/* region_counter.flags */
#define REGION_COUNTER_ENABLED 0x1u /* the rule has a COUNT action */

struct region_counter {
	shm_u32 sequence;   /* seqlock, primary-written */
	shm_u32 generation; /* of the rule in this slot; 0: free */
	shm_u32 flags;
	uint32_t reserved;
	shm_u64 hits;	     /* counting side */
	shm_u64 bytes;	     /* counting side */
	shm_u64 hits_base;   /* primary: the value at the last reset */
	shm_u64 bytes_base;  /* primary */
	shm_u64 last_hit_ns; /* counting side, CLOCK_REALTIME */
	uint8_t pad[8];
};
_Static_assert(sizeof(struct region_counter) == SHM_CACHE_LINE, "one counter per line");

/* region_entry.flags */
#define REGION_ENTRY_INGRESS	    0x1u
#define REGION_ENTRY_EGRESS	    0x2u
#define REGION_ENTRY_PERSISTENT	    0x4u
#define REGION_ENTRY_COUNT	    0x8u
#define REGION_ENTRY_TEXT_TRUNCATED 0x10u /* the text ends with "..." */
#define REGION_ENTRY_UNRESTORED	    0x20u /* journaled, but this start could not make it */

struct region_entry {
	shm_u32 sequence;   /* seqlock, primary-written */
	shm_u32 generation; /* 0: free */
	uint32_t owner_pid; /* 0 for a persistent rule */
	uint32_t owner_id;  /* the primary's client id; 0 for a persistent rule */
	char owner_name[REGION_NAME_MAX];
	uint64_t created_ns; /* CLOCK_REALTIME */
	uint32_t group;
	uint32_t priority;
	uint16_t port;
	uint16_t flags;
	uint16_t text_length; /* without the NUL */
	uint16_t reserved;
	uint32_t number; /* testpmd's rule id on its port */
	uint32_t reserved1;
	char text[REGION_TEXT_MAX]; /* testpmd syntax, NUL-terminated */
};
_Static_assert(sizeof(struct region_entry) == 512, "directory entry size");

/* A client's checked view of a mapped region. */
struct region_view {
	const struct region_header *header;
	const struct region_counter *counters;
	const struct region_entry *entries;
	uint32_t max_rules;
};

/* Bytes of a region for `max_rules` slots. */
size_t region_memsize(uint32_t max_rules);

/* Primary: lay out an empty region in `mem` (region_memsize() bytes). */
void region_init(void *mem, uint32_t max_rules, const char *backend, const char *instance,
		 uint32_t pid);

/* Reader: check the header of a mapped region once (magic, version, sizes,
 * every offset within `length`) and fill `view`. 0, -EPROTO or -EINVAL. */
int region_attach(struct region_view *view, const void *mem, size_t length);

/* Primary, the only writer of these: publish a new rule's counter (zeroed,
 * `generation`), retire it, or move its reset baseline to the current value. */
void region_counter_open(struct region_counter *c, uint32_t generation, bool enabled);
void region_counter_close(struct region_counter *c);
void region_counter_reset(struct region_counter *c);

/* Counting side: add a hit of `bytes` (single writer per slot). */
void region_counter_add(struct region_counter *c, uint64_t hits, uint64_t bytes, uint64_t now_ns);
/* Counting side, for a device that keeps totals itself: publish them (they
 * only grow); the last-hit time moves when the hits did. */
void region_counter_set(struct region_counter *c, uint64_t hits, uint64_t bytes, uint64_t now_ns);

struct region_count {
	uint64_t hits;	/* since the last reset */
	uint64_t bytes; /* since the last reset */
	uint64_t last_hit_ns;
};

/*
 * Reader: the counts of the rule `generation` in slot `c`.
 * Returns 0, -ENOENT (no such rule any more), -ENOTSUP (the rule does not
 * count), or -EAGAIN if a writer held the slot for every retry.
 */
int region_counter_read(const struct region_counter *c, uint32_t generation,
			struct region_count *out);

/* Primary: publish or retire a directory entry. `entry` is the new content
 * (its sequence and generation fields are ignored). */
void region_entry_publish(struct region_entry *slot, const struct region_entry *entry,
			  uint32_t generation);
void region_entry_retire(struct region_entry *slot);

/* Reader: the owner (client session, 0 for the instance) and the port of
 * the rule `generation` in this slot, without copying the entry. 0,
 * -ENOENT, -EAGAIN. */
int region_entry_owner(const struct region_entry *slot, uint32_t generation, uint32_t *owner,
		       uint16_t *port);

/* Reader: copy a live entry. 0, -ENOENT (free slot) or -EAGAIN. */
int region_entry_read(const struct region_entry *slot, struct region_entry *out);

#endif
