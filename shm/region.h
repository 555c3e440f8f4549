/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The global region: per-rule counters and the rule directory, in one memfd
 * the primary writes and seals, and every client maps read-only.
 *
 *   0                  struct region_header (256 bytes)
 *   ports_offset       struct region_port[workers][ports]  (192 bytes each)
 *                      struct region_queue[workers][ports][port_queues] (64 bytes)
 *   counters_offset    struct region_counter[max_rules]   (64 bytes each)
 *   directory_offset   struct region_entry[max_rules]     (64 bytes each):
 *                      the rule's place, its owner and the rule itself,
 *                      packed (shm/pack.h)
 *   shares_offset      struct region_share[workers - 1][max_rules] (32 bytes)
 *   owners_offset      struct region_owner[max_owners]    (64 bytes each)
 *   activity_offset    shm_u64[workers + 1][activity_blocks]: each writer's
 *                      stamp of each block of REGION_BLOCK_SLOTS slots
 *   heap_offset        the rule heap: struct region_chunk[heap_size / 64],
 *                      each packed rule too long for its entry (more than
 *                      REGION_ENTRY_RULE_BYTES) in a chain of chunks
 *
 * Nothing is faulted in ahead: a page costs memory once a rule uses it, and
 * a primary starts in the same time whatever its --max-rules.
 *
 * Slot i of both arrays belongs to the rule whose handle has slot i; the
 * counter's `generation` is the handle's, 0 while the slot is free. A
 * 5-tuple rule costs its two lines and nothing else: 128 bytes.
 *
 * Writers: the primary alone writes entries, generations, creation times
 * and reset baselines, inside the seqlock of the slot's counter line
 * (`sequence` odd while it writes). Hits and bytes are written by whoever
 * counts (the datapath, or the primary's poller for hardware counters)
 * with relaxed stores, one writer per slot. Readers copy inside the
 * seqlock window with bounded retries and use only the copy; a slot whose
 * generation is not the handle's is refused (a query on a destroyed or
 * reused rule fails, it never reports another rule).
 *
 * With several datapath workers, each counts into its own copy: worker 0
 * into the counter itself, worker w into share w - 1 of the slot, and
 * readers sum them (as VPP's stats segment does); the bases in the counter
 * are the sums at the last reset.
 *
 * Activity: whoever changes what a reader would see of a slot bumps, after
 * the change, its own stamp of the slot's block of REGION_BLOCK_SLOTS
 * slots (release): datapath worker w in row w, the primary in the last row
 * (a rule made or gone, a reset, a device's counts polled). The sum of a
 * block's stamps changes whenever anything in the block did, so a monitor
 * that kept what it read of a block skips it while the sum stays (at ten
 * million mostly idle rules, a few megabytes read per refresh instead of a
 * gigabyte). A reader that saw a sum reads the block after it (acquire):
 * a change it missed bumps the sum again.
 *
 * Port and queue statistics follow the same rules, one copy per worker:
 * each worker adds to its `value`s; on a reset the primary moves every
 * worker's `base` inside worker 0's port seqlock; readers report the sum of
 * value - base. A port's queues are its PF queues, then its VFs' (queue
 * RXQ_VF_BASE + n at index pf_queues + n).
 */
#ifndef MPFLOW_SHM_REGION_H
#define MPFLOW_SHM_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/atomics.h"

#define REGION_MAGIC	0x5246504du /* "MPFR" */
#define REGION_VERSION	7u	    /* 7: packed rules in the entries */
#define REGION_TEXT_MAX 432u	    /* mpf_flow_info.text: rule text, NUL included */
#define REGION_NAME_MAX 32u	    /* client name, NUL included */
/* Rule heap bytes per rule of --max-rules: a rule's request is 100-300
 * bytes for the rules users load by the million, and up to WIRE_MSG_MAX. */
#define REGION_HEAP_PER_RULE	512u
#define REGION_CHUNK_BYTES	56u /* of a packed rule in each 64-byte chunk */
#define REGION_BLOCK_SLOTS	64u /* slots per activity stamp */
#define REGION_ENTRY_RULE_BYTES 40u /* a packed rule kept in its entry */

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
	/* Constant again: the port statistics' layout. */
	uint64_t ports_offset;
	uint16_t ports;
	uint16_t port_flags; /* REGION_PORTS_* */
	uint16_t pf_queues;  /* of each port; its VFs' queues follow them */
	uint16_t vfs;
	uint32_t port_size;
	uint32_t queue_size;
	/* Live: CLOCK_MONOTONIC of the primary's last read of counters a
	 * device keeps itself (verbs); 0 where the datapath counts in place. */
	shm_u64 counters_read_ns;
	/* Constant: the datapath workers' copies of the counts. */
	uint64_t shares_offset;
	uint32_t workers;
	uint32_t share_size;
	/* Constant: the owners' names, the rule heap. */
	uint64_t owners_offset;
	uint32_t max_owners;
	uint32_t owner_size;
	uint64_t heap_offset;
	uint64_t heap_size;
	/* Live: no slot from here on has held a rule this run, so readers
	 * walking the directory stop here (relaxed: a rule made during a walk
	 * may or may not be seen). */
	shm_u32 slots_end;
	/* Live: 0, or the errno every persistent request is refused with
	 * until the journal is rewritten (a failed sync; a damaged journal
	 * with no room for a new one). */
	shm_u32 journal_error;
	/* Constant: the activity stamps. */
	uint64_t activity_offset;
	uint32_t activity_blocks; /* per writer's row: a multiple of 8 */
	uint32_t reserved2;
	uint8_t pad[256 - 240];
};
_Static_assert(offsetof(struct region_header, state) == 112, "region header layout");
_Static_assert(offsetof(struct region_header, ports_offset) == 136, "region header layout");
_Static_assert(sizeof(struct region_header) == 256, "region header size");

/* region_counter.flags */
#define REGION_COUNTER_ENABLED 0x1u /* the rule has a COUNT action */

/* A slot's line: its seqlock and generation, which also guard the slot's
 * directory entry, and the rule's counts. */
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
	shm_u64 created_ns;  /* primary: when the rule was made, CLOCK_REALTIME */
};
_Static_assert(sizeof(struct region_counter) == SHM_CACHE_LINE, "one counter per line");

/* region_entry.flags */
#define REGION_ENTRY_INGRESS	    0x1u
#define REGION_ENTRY_EGRESS	    0x2u
#define REGION_ENTRY_PERSISTENT	    0x4u
#define REGION_ENTRY_COUNT	    0x8u
#define REGION_ENTRY_TEXT_TRUNCATED 0x10u /* readers: the printed text was cut ("...") */
#define REGION_ENTRY_UNRESTORED	    0x20u /* journaled, but this start could not make it */

/* A rule's directory entry, written by the primary inside the seqlock of
 * the slot's counter line, whose generation says whose entry it is. */
struct region_entry {
	uint32_t owner_id;    /* the primary's client id; 0 for a persistent rule */
	uint16_t owner_index; /* the owner's record in the owners table */
	uint16_t flags;	      /* REGION_ENTRY_* */
	uint32_t group;
	uint32_t priority;
	uint32_t number; /* testpmd's rule id on its port */
	uint16_t port;
	uint16_t rule_length; /* bytes of the packed rule (shm/pack.h) */
	/* The packed rule when it fits (rule_length <= REGION_ENTRY_RULE_BYTES),
	 * else the first of its chunks in the heap (a uint32_t). */
	uint8_t rule[REGION_ENTRY_RULE_BYTES];
};
_Static_assert(sizeof(struct region_entry) == 64, "directory entry size");

/* Is a packed rule of this length kept in its entry (else in the heap)? */
static inline bool region_rule_inline(uint32_t length)
{
	return length <= REGION_ENTRY_RULE_BYTES;
}

/* A piece of a packed rule too long for its entry, in the heap. Any free chunk serves any rule,
 * so the heap never fragments: what one client frees, another can use. */
struct region_chunk {
	shm_u64 next; /* index + 1 of the next chunk of the rule; 0: the last */
	uint8_t bytes[REGION_CHUNK_BYTES];
};
_Static_assert(sizeof(struct region_chunk) == 64, "chunk size");

/* A connected client's name, for the entries of the rules it owns: entry
 * owner_index names the record, which is that client's while its `id` is
 * the entry's owner_id. */
struct region_owner {
	shm_u32 sequence; /* seqlock, primary-written */
	shm_u32 id;	  /* client session; 0: free */
	uint32_t pid;
	uint32_t reserved;
	char name[REGION_NAME_MAX];
	uint8_t pad[16];
};
_Static_assert(sizeof(struct region_owner) == 64, "owner record size");

/* region_header.port_flags */
#define REGION_PORTS_KEPT 0x1u /* the backend counts them (soft); else all stay 0 */

/* What a port's packets became; DPDK's rte_eth_stats names in brackets. */
enum region_port_stat {
	REGION_PORT_RX_PACKETS,	    /* received (ipackets) */
	REGION_PORT_RX_BYTES,	    /* (ibytes) */
	REGION_PORT_RX_MISSED,	    /* lost by the source before classification (imissed) */
	REGION_PORT_RX_DROPPED,	    /* taken by a DROP action */
	REGION_PORT_RX_DEFAULT,	    /* delivered by default: no rule decided */
	REGION_PORT_RX_UNDELIVERED, /* no fate at all: isolated, nothing took it */
	REGION_PORT_TX_PACKETS,	    /* transmitted (opackets) */
	REGION_PORT_TX_BYTES,	    /* (obytes) */
	REGION_PORT_TX_DROPPED,	    /* taken by an egress DROP action */
	REGION_PORT_TX_ERRORS,	    /* the interface refused to send them (oerrors) */
	REGION_PORT_STATS
};

/* What became of the packets handed to one queue. */
enum region_queue_stat {
	REGION_QUEUE_PACKETS,	 /* delivered into its ring */
	REGION_QUEUE_BYTES,	 /* wire bytes of those */
	REGION_QUEUE_FULL,	 /* lost: the ring was full */
	REGION_QUEUE_UNATTACHED, /* lost: no secondary had attached it */
	REGION_QUEUE_STATS
};

struct region_port {
	shm_u32 sequence; /* seqlock over the bases of the port and its queues */
	uint32_t reserved;
	shm_u64 value[REGION_PORT_STATS]; /* counting side */
	shm_u64 base[REGION_PORT_STATS];  /* primary: the values at the last reset */
	uint8_t pad[192 - 8 - 16 * REGION_PORT_STATS];
};
_Static_assert(sizeof(struct region_port) == 3 * SHM_CACHE_LINE, "port statistics size");

struct region_queue {
	shm_u64 value[REGION_QUEUE_STATS];
	shm_u64 base[REGION_QUEUE_STATS];
};
_Static_assert(sizeof(struct region_queue) == SHM_CACHE_LINE, "one queue per line");

/* A datapath worker's (other than the first) copy of one rule's counts. */
struct region_share {
	shm_u64 hits;
	shm_u64 bytes;
	shm_u64 last_hit_ns;
	uint64_t reserved;
};
_Static_assert(sizeof(struct region_share) == 32, "share size");

/* Where the shares of a region are: worker w > 0's of slot i is
 * base[(w - 1) * max_rules + i]. n: workers - 1 (0: one worker). */
struct region_shares {
	struct region_share *base;
	uint32_t max_rules;
	uint32_t n;
};

/* The shape of a region. */
struct region_layout {
	uint32_t max_rules;
	uint16_t ports;
	uint16_t pf_queues;  /* per port */
	uint16_t vfs;	     /* per port, one queue each */
	uint16_t workers;    /* datapath workers counting (at least 1) */
	uint32_t max_owners; /* clients at once */
};

/* A client's checked view of a mapped region. */
struct region_view {
	const struct region_header *header;
	const struct region_port *ports;
	const struct region_queue *queues; /* [ports][port_queues] */
	const struct region_counter *counters;
	const struct region_entry *entries;
	const struct region_owner *owners;
	const struct region_chunk *heap;
	uint32_t heap_chunks;
	const shm_u64 *activity; /* [workers + 1][activity_blocks] */
	uint32_t activity_blocks;
	uint32_t max_rules, max_owners;
	uint16_t n_ports, pf_queues, vfs;
	uint16_t workers;
	bool ports_kept;
	struct region_shares shares;
};

/* Where each writer's activity stamps are: row w is worker w's, row
 * `writers - 1` the primary's. */
struct region_activity {
	shm_u64 *base;
	uint32_t blocks;  /* per row */
	uint32_t writers; /* workers + 1 */
};

/* Writer: after changing what readers see of `slot`, in its own row. */
static inline void region_activity_bump(shm_u64 *row, uint32_t slot)
{
	shm_u64 *stamp = &row[slot / REGION_BLOCK_SLOTS];

	shm_store_release64(stamp, shm_load_relaxed64(stamp) + 1);
}

/* A writer's row: worker w's, or the primary's (w = writers - 1). */
static inline shm_u64 *region_activity_row(const struct region_activity *a, unsigned w)
{
	return a->base + (size_t)w * a->blocks;
}

/* Reader: the sum of block `block`'s stamps (block < activity_blocks). */
uint64_t region_activity_read(const struct region_view *view, uint32_t block);

/* Bytes of a region of this layout (64-bit: a hostile header's layout may
 * not fit a 32-bit size_t, and region_attach() refuses it). */
uint64_t region_memsize(const struct region_layout *layout);
/* Bytes before the counters: the header and the port statistics. */
uint64_t region_prefix(const struct region_layout *layout);

/* Primary: lay out an empty region in `mem` (region_memsize() bytes). */
void region_init(void *mem, const struct region_layout *layout, const char *backend,
		 const char *instance, uint32_t pid);

/* Where a layout's port statistics are, in a region laid out by it:
 * worker w's entry of port p is region_ports()[w * ports + p], its queues
 * from region_queues()[(w * ports + p) * (pf_queues + vfs)]. */
struct region_port *region_ports(void *mem);
struct region_queue *region_queues(void *mem, const struct region_layout *layout);
/* And its counter shares, and its activity stamps. */
struct region_shares region_shares(void *mem, const struct region_layout *layout);
struct region_activity region_activity(void *mem, const struct region_layout *layout);

/* Index of queue number `queue` (RXQ_VF_BASE + n for VF n) among a port's
 * queues, or -1. */
int region_queue_index(uint16_t pf_queues, uint16_t vfs, uint16_t queue);

/* Reader: check the header of a mapped region once (magic, version, sizes,
 * every offset within `length`) and fill `view`. 0, -EPROTO or -EINVAL. */
int region_attach(struct region_view *view, const void *mem, size_t length);

/*
 * Primary, the only writer of these. A new rule's slot is prepared before
 * its device rule may count (baselines at the counts now, which run on
 * across a slot's lives; the generation stays 0), then published with its
 * entry (region_entry_publish); a rule going is closed before its device
 * rule goes (generation 0: the entry and the counter with it). A reset
 * moves the baselines to the counts now.
 */
void region_counter_prepare(struct region_counter *c, const struct region_shares *shares,
			    uint32_t slot, bool enabled);
void region_counter_close(struct region_counter *c);
void region_counter_reset(struct region_counter *c);
void region_counter_reset_shared(struct region_counter *c, const struct region_shares *shares,
				 uint32_t slot);
/* A counter without an entry (one worker), prepared and live as `generation`. */
void region_counter_open(struct region_counter *c, uint32_t generation, bool enabled);

/* Counting side: add a hit of `bytes` (single writer per slot). */
void region_counter_add(struct region_counter *c, uint64_t hits, uint64_t bytes, uint64_t now_ns);
/* Counting side, worker w > 0 of the soft datapath: its share of a rule. */
void region_share_add(struct region_share *s, uint64_t hits, uint64_t bytes, uint64_t now_ns);
/* Counting side, for a device that keeps totals itself: publish them (they
 * only grow); the last-hit time moves when the hits did. True when they
 * moved. */
bool region_counter_set(struct region_counter *c, uint64_t hits, uint64_t bytes, uint64_t now_ns);

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
/* The same, summing the workers' shares of slot `slot`. */
int region_counter_read_shared(const struct region_counter *c, const struct region_shares *shares,
			       uint32_t slot, uint32_t generation, struct region_count *out);
/* The same for whichever rule lives in each slot of [first, first + n)
 * of a view, into out[0..n - 1]: its generation (0 with -ENOENT: the slot
 * is free, or its rule is being made or destroyed), and its counts (zeros
 * unless rc is 0). The counter lines alone are read, not the entries, in
 * one loop with the reads inlined: a monitor's block of millions a second. */
struct region_live_count {
	int rc;
	uint32_t generation;
	struct region_count count;
};
void region_counters_read_live(const struct region_view *view, uint32_t first, uint32_t n,
			       struct region_live_count *out);

/* Primary: publish a prepared slot's entry (`entry`, its packed rule in
 * it or in the heap already) as rule `generation`, made at `created_ns`. */
void region_entry_publish(struct region_counter *c, struct region_entry *slot,
			  const struct region_entry *entry, uint32_t generation,
			  uint64_t created_ns);

/* Reader: the owner (client session, 0 for the instance), the port and the
 * REGION_ENTRY_* flags of the rule `generation` in slot `slot`, without
 * copying the rest. 0, -ENOENT, -EAGAIN. */
int region_entry_owner(const struct region_view *view, uint32_t slot, uint32_t generation,
		       uint32_t *owner, uint16_t *port, uint16_t *flags);

/* Counting side: add to a port or queue statistic (single writer). */
static inline void region_stat_add(shm_u64 *value, uint64_t n)
{
	shm_store_relaxed64(value, shm_load_relaxed64(value) + n);
}

/* One port's statistics in a region: its entry and its queues, for each
 * worker (`port_stride` entries and `queue_stride` queues apart). */
struct region_port_set {
	struct region_port *port; /* worker 0's: its sequence guards them all */
	struct region_queue *queues;
	size_t port_stride, queue_stride;
	unsigned workers, n_queues;
};

/* Primary: a statistics reset, its baselines written between
 * region_port_reset_begin() and _end() (worker 0's seqlock). */
void region_port_reset_begin(struct region_port *port0);
void region_port_reset_end(struct region_port *port0);
/* Primary, where nobody counts meanwhile: every baseline to its value now. */
void region_port_reset(const struct region_port_set *set);

/*
 * Reader: a port's statistics since the last reset, summed over the
 * workers, into out[REGION_PORT_STATS], and the sums of queues
 * [first, first + n) into queue_sums[REGION_QUEUE_STATS], all from one
 * window: all before a reset or all after it. (Counts move outside the
 * window: under traffic, a packet may show in rx_packets before its fate.)
 * 0, or -EAGAIN if resets held the port through every retry.
 */
int region_port_read(const struct region_port_set *set, size_t first, size_t n,
		     uint64_t out[REGION_PORT_STATS], uint64_t queue_sums[REGION_QUEUE_STATS]);
/* A reader's set for port `port` of a view. */
struct region_port_set region_view_port(const struct region_view *view, uint16_t port);

/* Chunks a packed rule of `length` bytes takes in the heap. */
static inline uint32_t region_rule_chunks(uint32_t length)
{
	return (length + REGION_CHUNK_BYTES - 1) / REGION_CHUNK_BYTES;
}

/* Primary: put a packed rule's `length` bytes into the heap's chunks chunks[0..n)
 * (n = region_rule_chunks(length)), linked in that order, before an entry
 * names the first; they stay unchanged while it does. */
void region_rule_write(struct region_chunk *heap, const uint32_t *chunks, const void *bytes,
		       uint32_t length);

/* A reader's copy of a live slot's entry. */
struct region_entry_copy {
	uint32_t generation;
	uint64_t created_ns;
	struct region_entry entry;
};

/*
 * Reader: copy the live entry of `slot` and, when `rule` is not NULL, its
 * packed rule (entry.rule_length bytes, from the entry or the heap; up to
 * `cap`), both from one window: the copy is one rule's. 0, -ENOENT (free
 * slot), -EPROTO (a chunk outside the heap, or a rule longer than `cap`)
 * or -EAGAIN.
 */
int region_entry_read(const struct region_view *view, uint32_t slot, struct region_entry_copy *out,
		      void *rule, size_t cap);

/* Primary: a client's owner record, published when it says its name and
 * retired when it leaves. */
void region_owner_publish(struct region_owner *o, uint32_t id, uint32_t pid, const char *name);
void region_owner_retire(struct region_owner *o);
/* Reader: the name (NUL-terminated in name[REGION_NAME_MAX]) and pid of
 * client `id` from record `index`. 0, -ENOENT (it left), -EAGAIN. */
int region_owner_name(const struct region_view *view, uint16_t index, uint32_t id,
		      char name[REGION_NAME_MAX], uint32_t *pid);

#endif
