/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The headroom the memory cgroups above this process leave it (memcg.c).
 */
#ifndef MPFLOW_SERVER_MEMCG_H
#define MPFLOW_SERVER_MEMCG_H

#include <stdbool.h>
#include <stdint.h>

#define MEMCG_SELF "/proc/self/cgroup"
#define MEMCG_ROOT "/sys/fs/cgroup"

/* Bytes the cgroups the process is charged to can still take: the least,
 * over its memory cgroup and each above it, of limit less use, use less
 * the inactive file pages the kernel reclaims before it kills anything
 * (memory.stat). UINT64_MAX where none limits it or none can be read.
 * `self` and `root` are MEMCG_SELF and MEMCG_ROOT but in tests. */
uint64_t memcg_headroom(const char *self, const char *root);

/*
 * Creates held to what the cgroups leave: where a limit is near, the rule
 * that would cross it is refused, not met by the OOM killer. The files are
 * read again once the creates since the last reading could have taken
 * half the room then spare beyond MEMCG_RESERVE, at what a create takes
 * (MEMCG_RULE_BYTES at first, counted high; more if the readings show
 * more: a sanitizer's build, rules of many items), every MEMCG_READ_EVERY
 * creates at most, and while short no oftener than every MEMCG_REREAD_NS.
 * A rule destroyed gives its memory to the next create.
 */
#define MEMCG_RESERVE (32ull << 20) /* for the daemon itself: clients, journal, compaction */
/* What a rule that a start keeps but does not restore still takes: its
 * directory entry and counter line (128) and its slot, counted high. A
 * start holds it back for each rule still to replay (memcg_guard's
 * held_back), so that those it cannot restore still fit when it keeps
 * them: a start that filled the cgroup with restored rules, then kept the
 * rest past its limit, thrashed on the journal's pages and never finished. */
#define MEMCG_KEEP_BYTES 256u
/* The least it takes: the entry and counter line (128) and the slot (56,
 * and its place on the free stack). A journal with more rules than the
 * cgroup holds at that is refused at the start, saying so. */
#define MEMCG_KEEP_LEAST 192u
#define MEMCG_RULE_BYTES 2048u
/* A reading is 3-4 files a cgroup level, a few hundred microseconds in
 * all (v1's memory.stat sums its subtree): no oftener than this many
 * creates where the room is ample, a few nanoseconds a create. */
#define MEMCG_READ_EVERY     65536u
#define MEMCG_READ_FIRST     256u	 /* until a reading has measured a create */
#define MEMCG_RULE_BYTES_MAX (64u << 10) /* the most a measure is believed */
#define MEMCG_REREAD_NS	     10000000ull

struct memcg_guard {
	const char *self, *root;
	uint64_t allowed;    /* creates before the next read */
	uint64_t since_read; /* creates admitted since it */
	uint64_t room;	     /* headroom at the last read */
	uint64_t read_ns;    /* CLOCK_MONOTONIC of the last read; 0: none yet */
	uint64_t rule_bytes; /* what a create takes, as the readings show it */
	bool measured;	     /* by a reading after MEMCG_READ_FIRST creates */
	uint64_t held_back;  /* beyond MEMCG_RESERVE: a start's rules still to come */
	/* Beyond MEMCG_RESERVE too: what one create may fault in at once
	 * where the region is on huge pages, a 2 MiB page of each array a
	 * new slot's first rule touches (main.c). */
	uint64_t at_once;
};

void memcg_guard_init(struct memcg_guard *g, const char *self, const char *root);
/* What the guard keeps back: MEMCG_RESERVE, and a create's huge pages. */
static inline uint64_t memcg_reserve(const struct memcg_guard *g)
{
	return MEMCG_RESERVE + g->at_once;
}
/* Whether one more rule may take memory now. */
bool memcg_admit(struct memcg_guard *g);
/* The room the last reading found, less what the creates admitted since
 * may have taken: what memory taken ahead of need may count on, with no
 * reading of its own. UINT64_MAX where no limit binds. */
uint64_t memcg_spare(const struct memcg_guard *g);
/* A rule's memory is free again: the next create may take it (short of
 * a reading, which churn does not put off: MEMCG_READ_EVERY). */
static inline void memcg_release(struct memcg_guard *g)
{
	if (g->allowed < MEMCG_READ_EVERY)
		g->allowed++;
}

#endif
