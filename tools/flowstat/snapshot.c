/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Snapshots of the rule directory and counters through a monitor, and the
 * rates between two of them. A primary that went away is shown as such and
 * reattached to when a new one answers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shm/bigmem.h"
#include "shm/clock.h"
#include "tools/flowstat/flowstat.h"

static const char *const column_names[COLUMNS] = {
	[COL_ID] = "id",       [COL_OWNER] = "owner",	    [COL_PORT] = "port",
	[COL_GROUP] = "group", [COL_PRIORITY] = "priority", [COL_HITS] = "hits",
	[COL_BYTES] = "bytes", [COL_PPS] = "pps",	    [COL_BPS] = "bps",
	[COL_LAST] = "last",
};

int column_by_name(const char *name)
{
	for (int c = 0; c < COLUMNS; c++)
		if (strcmp(name, column_names[c]) == 0)
			return c;
	return -1;
}

const char *column_name(enum column c)
{
	return column_names[c];
}

/* Make sure a monitor shows a live primary: open one, or reattach after the
 * primary restarted. */
static int attach(struct flowstat *fs, struct snapshot *next)
{
	struct mpf_flow_error error;
	int err;

	if (fs->monitor == NULL) {
		err = mpf_monitor_open(&fs->connect, &fs->monitor, &error);
		if (err) {
			fs->monitor = NULL;
			snprintf(fs->status, sizeof(fs->status), "%s", error.message);
			return err;
		}
	}
	if (mpf_monitor_instance(fs->monitor, &next->instance) == 0 &&
	    next->instance.state != MPF_INSTANCE_RUNNING) {
		uint32_t gone = next->instance.primary_pid;

		if (mpf_monitor_reattach(fs->monitor, &error) != 0) {
			snprintf(fs->status, sizeof(fs->status),
				 "the primary (pid %u) is %s; waiting for a new one", gone,
				 next->instance.state == MPF_INSTANCE_GONE ? "gone" : "stopping");
			/* Still show the old region: its last counts. */
		}
	}
	next->attached = mpf_monitor_instance(fs->monitor, &next->instance) == 0;
	if (next->attached && next->instance.state == MPF_INSTANCE_RUNNING)
		fs->status[0] = '\0';
	return 0;
}

static bool wanted(const struct filter *f, const struct mpf_flow_info *info)
{
	if (f->port >= 0 && info->port != (uint16_t)f->port)
		return false;
	if (f->group >= 0 && info->group != (uint32_t)f->group)
		return false;
	if (f->owner) {
		char *end;
		unsigned long pid = strtoul(f->owner, &end, 10);

		if (*end == '\0' && *f->owner)
			return info->owner_pid == pid;
		return strcmp(info->owner_name, f->owner) == 0 ||
		       (strcmp(f->owner, "instance") == 0 &&
			(info->flags & MPF_FLOW_INFO_PERSISTENT));
	}
	return true;
}

uint16_t snapshot_queue_number(const struct snapshot *s, unsigned i)
{
	return (uint16_t)(i < s->instance.queues ? i : MPF_RXQ_VF(i - s->instance.queues));
}

/* Each port's statistics and its queues', with rates against `prev`. */
static int take_ports(struct flowstat *fs, const struct snapshot *prev, struct snapshot *next,
		      double seconds)
{
	unsigned ports = next->instance.port_stats ? next->instance.ports : 0;
	unsigned per_port = (unsigned)next->instance.queues + next->instance.vfs;

	if (ports != next->n_ports || per_port != next->queues_per_port) {
		free(next->ports);
		free(next->queues);
		next->ports = calloc((size_t)ports + 1, sizeof(*next->ports));
		next->queues = calloc((size_t)ports * per_port + 1, sizeof(*next->queues));
		next->n_ports = next->queues_per_port = 0;
		if (next->ports == NULL || next->queues == NULL) {
			snprintf(fs->status, sizeof(fs->status), "out of memory");
			return -ENOMEM;
		}
		next->n_ports = ports;
		next->queues_per_port = per_port;
	}
	for (unsigned p = 0; p < ports; p++) {
		struct port_row *r = &next->ports[p];
		const struct port_row *before = prev->n_ports == ports ? &prev->ports[p] : NULL;

		for (unsigned i = 0; i < per_port; i++)
			if (mpf_monitor_queue_stats(fs->monitor, (uint16_t)p,
						    snapshot_queue_number(next, i),
						    &next->queues[p * per_port + i]) != 0)
				memset(&next->queues[p * per_port + i], 0, sizeof(next->queues[0]));
		if (mpf_monitor_port_stats(fs->monitor, (uint16_t)p, &r->stats) != 0)
			memset(&r->stats, 0, sizeof(r->stats));
		/* A reset in between (a figure went down) leaves no rate. */
		r->rated = seconds > 0 && before &&
			   r->stats.rx_packets >= before->stats.rx_packets &&
			   r->stats.tx_packets >= before->stats.tx_packets;
		r->rx_pps = r->rx_bps = r->tx_pps = r->tx_bps = 0;
		if (r->rated) {
			r->rx_pps =
				(double)(r->stats.rx_packets - before->stats.rx_packets) / seconds;
			r->rx_bps =
				(double)(r->stats.rx_bytes - before->stats.rx_bytes) * 8 / seconds;
			r->tx_pps =
				(double)(r->stats.tx_packets - before->stats.tx_packets) / seconds;
			r->tx_bps =
				(double)(r->stats.tx_bytes - before->stats.tx_bytes) * 8 / seconds;
		}
	}
	return 0;
}

/* Room for one more in an array of `*cap` `size`-byte items: the rules the
 * primary counts and some at first, then doubling (a table of millions is
 * not copied over and over). */
static int grow(void **items, size_t *cap, size_t count, size_t size, size_t rules)
{
	size_t want = *cap ? 2 * *cap : rules + rules / 8 + 256;
	void *grown;

	if (count < *cap)
		return 0;
	grown = realloc(*items, want * size);
	if (grown == NULL)
		return -ENOMEM;
	*items = grown;
	*cap = want;
	return 0;
}

static void heap_down(struct row *heap, size_t k, size_t i, const struct flowstat *fs);

#define CMP(u, v) ((u) < (v) ? -1 : (u) > (v))

/* Below 0 when `x` comes before `y` by the sort's column alone, reverse
 * aside. */
static inline int compare_keys(const struct row *x, const struct row *y, const struct flowstat *fs)
{
	switch (fs->sort) {
	case COL_OWNER: {
		int c = strcmp(x->info.owner_name, y->info.owner_name);

		return c ? c : CMP(x->info.owner_pid, y->info.owner_pid);
	}
	case COL_PORT:
		return CMP(x->info.port, y->info.port);
	case COL_GROUP:
		return CMP(x->info.group, y->info.group);
	case COL_PRIORITY:
		return CMP(x->info.priority, y->info.priority);
	/* Counters sort the busiest first. */
	case COL_HITS:
		return CMP(y->info.hits, x->info.hits);
	case COL_BYTES:
		return CMP(y->info.bytes, x->info.bytes);
	case COL_PPS:
		return CMP(y->pps, x->pps);
	case COL_BPS:
		return CMP(y->bps, x->bps);
	case COL_LAST:
		return CMP(y->info.last_hit_ns, x->info.last_hit_ns);
	default: /* COL_ID: the slot order below */
		return 0;
	}
}

/* Among equals, slot order (a handle's low half): the order a block of
 * idle rules is read in (skipped_rows()). */
static inline int compare_slots(const struct row *x, const struct row *y)
{
	int c = CMP((uint32_t)x->info.handle, (uint32_t)y->info.handle);

	return c ? c : CMP(x->info.handle, y->info.handle);
}

/* Below 0 when `x` comes before `y` in display order. */
static inline __attribute__((always_inline)) int
compare_rows(const struct row *x, const struct row *y, const struct flowstat *fs)
{
	int c = compare_keys(x, y, fs);

	if (c == 0)
		c = compare_slots(x, y);
	return fs->reverse ? -c : c;
}
#undef CMP

/* A row for the snapshot: every one, or the `keep` best in a heap with the
 * worst kept at the root. */
static int keep_row(const struct flowstat *fs, struct snapshot *next, const struct row *r)
{
	size_t keep = fs->keep;

	if (keep == 0 || next->n_rows < keep) {
		if (grow((void **)&next->rows, &next->cap, next->n_rows, sizeof(*r),
			 keep && keep < next->instance.rules ? keep : next->instance.rules) != 0)
			return -ENOMEM;
		next->rows[next->n_rows++] = *r;
		if (keep && next->n_rows == keep)
			for (size_t i = keep / 2; i-- > 0;)
				heap_down(next->rows, keep, i, fs);
		return 0;
	}
	if (compare_rows(r, &next->rows[0], fs) < 0) {
		next->rows[0] = *r;
		heap_down(next->rows, keep, 0, fs);
	}
	return 0;
}

static bool rate_sort(enum column c)
{
	return c == COL_PPS || c == COL_BPS;
}

/* Room in the cache for blocks [0, blocks): new ones never read. Ten
 * million rules keep a third of a gigabyte here: on huge pages where the
 * system grants them (a fault per 2 MiB, not per 4 KiB), and sized for
 * the whole table at once (snapshot_take): a copy at each doubling
 * touched every page, used or not, and the first frame of the live view
 * at 10 M rules took 1.9-2.4 s, four times flowstat --once. */
static int cache_grow(struct scan_cache *c, size_t blocks)
{
	size_t want = c->n_blocks ? c->n_blocks : blocks > 1024 ? blocks : 1024;
	struct block_seen *b;
	struct slot_seen *sl;

	if (blocks <= c->n_blocks)
		return 0;
	while (want < blocks)
		want *= 2;
	b = big_alloc(want * sizeof(*b));
	sl = big_alloc(want * MPF_MONITOR_BLOCK * sizeof(*sl));
	if (b == NULL || sl == NULL) {
		big_free(b, want * sizeof(*b));
		big_free(sl, want * MPF_MONITOR_BLOCK * sizeof(*sl));
		return -ENOMEM;
	}
	if (c->n_blocks) { /* zeroed beyond what is copied */
		memcpy(b, c->blocks, c->n_blocks * sizeof(*b));
		memcpy(sl, c->slots, c->n_blocks * MPF_MONITOR_BLOCK * sizeof(*sl));
	}
	big_free(c->blocks, c->n_blocks * sizeof(*b));
	big_free(c->slots, c->n_blocks * MPF_MONITOR_BLOCK * sizeof(*sl));
	c->blocks = b;
	c->slots = sl;
	c->n_blocks = want;
	return 0;
}

static void cache_free(struct scan_cache *c)
{
	big_free(c->slots, c->n_blocks * MPF_MONITOR_BLOCK * sizeof(*c->slots));
	big_free(c->blocks, c->n_blocks * sizeof(*c->blocks));
	memset(c, 0, sizeof(*c));
}

static void row_of(struct row *r, const struct mpf_flow_info *info)
{
	r->info = (struct row_info){
		.handle = info->handle,
		.number = info->number,
		.owner_pid = info->owner_pid,
		.port = info->port,
		.group = info->group,
		.priority = info->priority,
		.flags = info->flags,
		.created_ns = info->created_ns,
		.hits = info->hits,
		.bytes = info->bytes,
		.last_hit_ns = info->last_hit_ns,
	};
	memcpy(r->info.owner_name, info->owner_name, sizeof(r->info.owner_name));
	r->pps = r->bps = 0;
	r->rated = false;
}

/* What a scan's rates are made with: the seconds since the cache was
 * kept, and the last deltas divided (traffic spread evenly moves the
 * rules of a block alike: one division for a run of them). */
struct rater {
	double seconds;
	uint64_t hits, bytes; /* deltas */
	double pps, bps;      /* theirs */
};

static struct rater rater(double seconds)
{
	return (struct rater){.seconds = seconds}; /* 0 / seconds: 0 */
}

/* The rates of `r` against what was kept of its rule (`old`: NULL when
 * nothing, or another rule in the slot), `m->seconds` ago. */
static inline void rate(struct row *r, const struct slot_seen *old, struct rater *m)
{
	uint64_t hits, bytes;

	r->rated = old != NULL && m->seconds > 0 && (r->info.flags & MPF_FLOW_INFO_COUNTED) &&
		   r->info.hits >= old->hits && r->info.bytes >= old->bytes;
	if (!r->rated) {
		r->pps = r->bps = 0;
		return;
	}
	hits = r->info.hits - old->hits;
	bytes = r->info.bytes - old->bytes;
	if (hits != m->hits) {
		m->hits = hits;
		m->pps = (double)hits / m->seconds;
	}
	if (bytes != m->bytes) {
		m->bytes = bytes;
		m->bps = 8.0 * (double)bytes / m->seconds;
	}
	r->pps = m->pps;
	r->bps = m->bps;
}

/* How a snapshot reads a block. */
enum read_mode {
	READ_FRESH,  /* rates against the cache (if any), which then keeps the block */
	READ_RERANK, /* the rates the cache kept, the cache unchanged */
	READ_IDLE,   /* a block whose activity stayed: rows only, rates 0 */
};

/* Read block `b`'s rules the filter keeps into `next` (rows, and totals
 * unless READ_IDLE), at most `limit` of them: how many, or -ENOMEM. */
static long read_block(struct flowstat *fs, struct snapshot *next, uint32_t b, uint64_t activity,
		       double seconds, enum read_mode mode, size_t limit)
{
	struct scan_cache *c = &fs->cache;
	struct block_seen *seen = c->slots ? &c->blocks[b] : NULL;
	struct block_seen sum = {.activity = activity, .read_ns = next->taken_ns};
	struct rater m = rater(seconds);
	uint64_t present = 0;
	uint32_t cursor = 0;
	size_t rows = 0;
	struct mpf_flow_info info;
	int n;

	while (rows < limit && (n = mpf_monitor_scan_block(fs->monitor, b, &cursor, &info)) == 1) {
		uint32_t slot = (uint32_t)info.handle;
		struct slot_seen *old = seen ? &c->slots[slot] : NULL;
		struct row r;

		if (!wanted(&fs->filter, &info))
			continue;
		row_of(&r, &info);
		if (old && old->handle != info.handle)
			old = NULL;
		if (mode == READ_FRESH) {
			rate(&r, old, &m);
		} else if (old) {
			/* Idle: nothing moved. Re-ranking: the last rates, if the
			 * last snapshot read the block. A rule that does not
			 * count has no rate, as rate() says. */
			r.rated = (r.info.flags & MPF_FLOW_INFO_COUNTED) != 0;
			if (mode == READ_RERANK && seen->read_ns == c->taken_ns) {
				r.pps = old->pps;
				r.bps = old->bps;
			}
		}
		if (mode == READ_FRESH && seen) {
			c->slots[slot] = (struct slot_seen){.handle = info.handle,
							    .hits = info.hits,
							    .bytes = info.bytes,
							    .pps = (float)r.pps,
							    .bps = (float)r.bps};
			present |= 1ull << (slot % MPF_MONITOR_BLOCK);
		}
		if (mode != READ_IDLE) {
			sum.count++;
			sum.hits += r.info.hits;
			sum.bytes += r.info.bytes;
			next->pps += r.pps;
			next->bps += r.bps;
		}
		rows++;
		if (keep_row(fs, next, &r) != 0)
			return -ENOMEM;
	}
	if (mode == READ_IDLE)
		return (long)rows;
	if (mode == READ_FRESH && seen) {
		/* Slots of the block that hold no rule the filter keeps now
		 * (written only where they held one: the pages of a table's
		 * never-used slots stay untouched). */
		for (unsigned i = 0; i < MPF_MONITOR_BLOCK; i++) {
			struct slot_seen *sl = &c->slots[(size_t)b * MPF_MONITOR_BLOCK + i];

			if (!(present >> i & 1) && sl->handle)
				sl->handle = 0;
		}
		*seen = sum;
	}
	next->count += sum.count;
	next->hits += sum.hits;
	next->bytes += sum.bytes;
	return (long)rows;
}

/* Whether a fresh read of a block can rank its rules by their counter
 * lines alone (read_counts()): no filter (it reads the entries), a top
 * rather than every row, and a sort the counts decide (or the slot). */
static bool counts_suffice(const struct flowstat *fs)
{
	switch (fs->sort) {
	case COL_ID:
	case COL_HITS:
	case COL_BYTES:
	case COL_PPS:
	case COL_BPS:
	case COL_LAST:
		return fs->keep && fs->filter.port < 0 && fs->filter.group < 0 &&
		       fs->filter.owner == NULL;
	default:
		return false;
	}
}

/* The sort's key of a row by counts_suffice()'s sorts, higher before
 * lower (as compare_rows() orders them, reverse aside): a count as a
 * double, so equal keys may still differ ("id": the slot, negated). */
static inline double count_key(const struct flowstat *fs, const struct row *r)
{
	switch (fs->sort) {
	case COL_HITS:
		return (double)r->info.hits;
	case COL_BYTES:
		return (double)r->info.bytes;
	case COL_PPS:
		return r->pps;
	case COL_BPS:
		return r->bps;
	case COL_LAST:
		return (double)r->info.last_hit_ns;
	default:
		return -(double)(uint32_t)r->info.handle;
	}
}

/* Whether `r`, of key `k`, comes before `worst`, of key `w`
 * (compare_rows() < 0), their keys compared first: two keys that differ
 * as doubles differ so as counts. */
static inline bool beats(const struct flowstat *fs, const struct row *r, double k,
			 const struct row *worst, double w)
{
	if (k != w)
		return fs->reverse ? k < w : k > w;
	return compare_rows(r, worst, fs) < 0;
}

/* The entry of the rule `r` has the counts of (its owner, port, ...), read
 * from its slot: false if another rule is there now. */
static bool entry_of(struct flowstat *fs, struct row *r)
{
	uint32_t slot = (uint32_t)r->info.handle;
	uint32_t cursor = slot;
	struct mpf_flow_info info;
	struct row full;

	if (mpf_monitor_scan_block(fs->monitor, slot / MPF_MONITOR_BLOCK, &cursor, &info) != 1 ||
	    info.handle != r->info.handle)
		return false;
	row_of(&full, &info);
	full.info.hits = r->info.hits;
	full.info.bytes = r->info.bytes;
	full.info.last_hit_ns = r->info.last_hit_ns;
	full.pps = r->pps;
	full.bps = r->bps;
	full.rated = r->rated;
	*r = full;
	return true;
}

/*
 * A fresh read of block `b` when counts suffice: each rule's counts,
 * rates and totals from its counter line (mpf_monitor_counts()), its entry
 * read only when its row makes the top `keep` so far. With traffic on
 * every block of ten million rules, the entries' 640 MB are not read each
 * interval. The rules found, or -ENOMEM.
 */
static long read_counts(struct flowstat *fs, struct snapshot *next, uint32_t b, uint64_t activity,
			double seconds)
{
	struct scan_cache *c = &fs->cache;
	struct block_seen *seen = c->slots ? &c->blocks[b] : NULL;
	struct block_seen sum = {.activity = activity, .read_ns = next->taken_ns};
	struct mpf_flow_counts counts[MPF_MONITOR_BLOCK];
	int err = mpf_monitor_counts(fs->monitor, b, counts);
	struct rater m = rater(seconds);
	bool full = next->n_rows >= fs->keep;
	/* the key of the top's worst row, once the top is full */
	double worst = full ? count_key(fs, &next->rows[0]) : 0;
	double pps = 0, bps = 0; /* the block's, added to the snapshot's once */
	struct row r;

	if (err < 0)
		return err;
	/* Only the fields the counts fill are set for each rule: clearing a
	 * whole row for each of millions was most of the time. */
	memset(&r, 0, sizeof(r));
	for (uint32_t i = 0; i < MPF_MONITOR_BLOCK; i++) {
		const struct mpf_flow_counts *k = &counts[i];
		size_t slot = (size_t)b * MPF_MONITOR_BLOCK + i;
		struct slot_seen *old = seen ? &c->slots[slot] : NULL;

		r.info.handle = k->handle;
		r.info.flags = k->flags;
		r.info.hits = k->hits;
		r.info.bytes = k->bytes;
		r.info.last_hit_ns = k->last_hit_ns;
		if (k->handle == 0) {
			if (old && old->handle) /* written only where a rule was */
				old->handle = 0;
			continue;
		}
		rate(&r, old && old->handle == k->handle ? old : NULL, &m);
		if (old)
			*old = (struct slot_seen){.handle = k->handle,
						  .hits = k->hits,
						  .bytes = k->bytes,
						  .pps = (float)r.pps,
						  .bps = (float)r.bps};
		sum.count++;
		sum.hits += k->hits;
		sum.bytes += k->bytes;
		pps += r.pps;
		bps += r.bps;
		/* Below the worst of a full top: its entry is not needed. */
		if (full && !beats(fs, &r, count_key(fs, &r), &next->rows[0], worst))
			continue;
		if (entry_of(fs, &r)) {
			if (keep_row(fs, next, &r) != 0)
				return -ENOMEM;
			full = next->n_rows >= fs->keep;
			if (full)
				worst = count_key(fs, &next->rows[0]);
		}
	}
	if (seen)
		*seen = sum;
	next->pps += pps;
	next->bps += bps;
	next->count += sum.count;
	next->hits += sum.hits;
	next->bytes += sum.bytes;
	return sum.count;
}

/* The worst of `n` rows by the sort (what a new row must beat). */
static const struct row *worst_row(const struct flowstat *fs, const struct row *rows, size_t n)
{
	const struct row *worst = NULL;

	for (size_t i = 0; i < n; i++)
		if (worst == NULL || compare_rows(&rows[i], worst, fs) > 0)
			worst = &rows[i];
	return worst;
}

/* By a rate, the best rows of skipped blocks: the first `keep` in slot
 * order (the last, reversed), all at rate 0. */
static int idle_rows_by_slot(struct flowstat *fs, struct snapshot *next, size_t blocks)
{
	const struct scan_cache *c = &fs->cache;
	size_t taken = 0;

	for (size_t i = 0; i < blocks && taken < fs->keep; i++) {
		uint32_t b = (uint32_t)(fs->reverse ? blocks - 1 - i : i);
		long n;

		if (!c->blocks[b].skipped || c->blocks[b].count == 0)
			continue;
		/* Reversed, a block's last rules are its best: all of them
		 * (a block's worth at most). */
		n = read_block(fs, next, b, c->blocks[b].activity, 0, READ_IDLE,
			       fs->reverse ? SIZE_MAX : fs->keep - taken);
		if (n < 0)
			return (int)n;
		taken += (size_t)n;
	}
	return 0;
}

/*
 * The rows of the blocks this snapshot skipped (their activity stayed):
 * nothing in them moved, so
 * - by a rate, each of their rules is at 0, and among equals the order is
 *   the slot's: the best of them are the first `keep` in slot order (the
 *   last, reversed), read now;
 * - by anything else, each kept its place: those of the previous snapshot's
 *   rows in skipped blocks compete again, and no other can beat them
 *   unless the rows found fall short of the previous snapshot's worst; then
 *   every skipped block's rules are read instead.
 */
static int skipped_rows(struct flowstat *fs, const struct snapshot *prev, struct snapshot *next,
			size_t blocks)
{
	struct scan_cache *c = &fs->cache;
	const struct row *threshold;
	size_t k = 0;
	long n;

	if (rate_sort(fs->sort))
		return idle_rows_by_slot(fs, next, blocks);
	for (size_t i = 0; i < prev->n_rows; i++) {
		struct row r = prev->rows[i];
		uint32_t b = (uint32_t)r.info.handle / MPF_MONITOR_BLOCK;

		if (b >= blocks || !c->blocks[b].skipped)
			continue;
		r.pps = r.bps = 0;
		r.rated = (r.info.flags & MPF_FLOW_INFO_COUNTED) != 0;
		if (keep_row(fs, next, &r) != 0)
			return -ENOMEM;
	}
	threshold = prev->n_rows >= fs->keep ? worst_row(fs, prev->rows, prev->n_rows) : NULL;
	if (threshold == NULL ||
	    (next->n_rows == fs->keep &&
	     compare_rows(worst_row(fs, next->rows, next->n_rows), threshold, fs) <= 0))
		return 0;
	/* Short: the skipped blocks' rows out, then all of them in. A row
	 * of a block read that was pushed out had `keep` better ones, which
	 * are still here or come back. */
	for (size_t i = 0; i < next->n_rows; i++)
		if (!c->blocks[(uint32_t)next->rows[i].info.handle / MPF_MONITOR_BLOCK].skipped)
			next->rows[k++] = next->rows[i];
	next->n_rows = k;
	for (uint32_t b = 0; b < blocks; b++)
		if (c->blocks[b].skipped && c->blocks[b].count &&
		    (n = read_block(fs, next, b, c->blocks[b].activity, 0, READ_IDLE, SIZE_MAX)) <
			    0)
			return (int)n;
	return 0;
}

/* The same run of the same primary (a restart may reuse its pid). */
static bool same_run(const struct mpf_instance_info *a, const struct mpf_instance_info *b)
{
	return a->primary_pid == b->primary_pid && a->start_ns == b->start_ns;
}

int snapshot_take(struct flowstat *fs, const struct snapshot *prev, struct snapshot *next)
{
	struct scan_cache *c = &fs->cache;
	bool rerank = fs->rerank, may_skip, keep_cache;
	double seconds, port_seconds;
	size_t blocks = 0;
	long n;
	int err;

	fs->rerank = false;
	next->sort = fs->sort;
	next->reverse = fs->reverse;
	next->keep = fs->keep;
	next->attached = false;
	next->count = next->n_rows = 0;
	next->hits = next->bytes = 0;
	next->pps = next->bps = 0;
	err = attach(fs, next);
	next->taken_ns = clock_ns(CLOCK_MONOTONIC);
	if (err)
		return err;
	port_seconds =
		prev->taken_ns && prev->attached && same_run(&prev->instance, &next->instance)
			? (double)(next->taken_ns - prev->taken_ns) / 1e9
			: 0;
	/* What was kept is another run's: its slots and stamps mean nothing
	 * here. */
	if (c->taken_ns && (c->primary_pid != next->instance.primary_pid ||
			    c->primary_start_ns != next->instance.start_ns))
		cache_free(c);
	/* A lone snapshot keeps nothing; rates need what an earlier one kept. */
	keep_cache = !fs->last || c->taken_ns;
	if (!keep_cache) {
		cache_free(c);
	} else {
		c->primary_pid = next->instance.primary_pid;
		c->primary_start_ns = next->instance.start_ns;
	}
	seconds = c->taken_ns ? (double)(next->taken_ns - c->taken_ns) / 1e9 : 0;
	/* Skipping idle blocks needs what they held, and a way to know their
	 * rows: by a rate, their order alone; else the previous snapshot's
	 * rows, chosen by the same order. */
	may_skip = c->taken_ns && !rerank && fs->keep &&
		   (rate_sort(fs->sort) ||
		    (prev->attached && same_run(&prev->instance, &next->instance) &&
		     prev->sort == fs->sort && prev->reverse == fs->reverse &&
		     prev->keep == fs->keep));
	if (keep_cache && cache_grow(c, ((size_t)next->instance.max_rules + MPF_MONITOR_BLOCK - 1) /
						MPF_MONITOR_BLOCK) != 0)
		goto no_memory;
	for (uint32_t b = 0;; b++) {
		uint64_t activity = 0;

		err = mpf_monitor_activity(fs->monitor, b, &activity);
		if (err == -ERANGE)
			break;
		if (err)
			goto failed;
		blocks = (size_t)b + 1;
		if (keep_cache && cache_grow(c, blocks) != 0)
			goto no_memory;
		if (c->slots) {
			struct block_seen *seen = &c->blocks[b];

			seen->skipped = may_skip && seen->read_ns && seen->activity == activity;
			if (seen->skipped) {
				next->count += seen->count;
				next->hits += seen->hits;
				next->bytes += seen->bytes;
				continue;
			}
		}
		if (!rerank && counts_suffice(fs))
			n = read_counts(fs, next, b, activity, seconds);
		else
			n = read_block(fs, next, b, activity, seconds,
				       rerank ? READ_RERANK : READ_FRESH, SIZE_MAX);
		if (n < 0) {
			err = (int)n;
			goto failed;
		}
	}
	if (may_skip && (err = skipped_rows(fs, prev, next, blocks)) != 0)
		goto failed;
	if (c->slots && !rerank)
		c->taken_ns = next->taken_ns;
	return take_ports(fs, prev, next, port_seconds);
no_memory:
	err = -ENOMEM;
failed:
	cache_free(c);
	snprintf(fs->status, sizeof(fs->status), "%s",
		 err == -ENOMEM ? "out of memory" : strerror(-err));
	return err;
}

void snapshot_cache_free(struct flowstat *fs)
{
	cache_free(&fs->cache);
}

void snapshot_free(struct snapshot *s)
{
	free(s->rows);
	free(s->ports);
	free(s->queues);
	memset(s, 0, sizeof(*s));
}

static int compare(const void *a, const void *b, void *context)
{
	return compare_rows(*(const struct row *const *)a, *(const struct row *const *)b, context);
}

/* The heap of the scan (keep_row): rows by value, the worst at the root. */
static void heap_down(struct row *heap, size_t k, size_t i, const struct flowstat *fs)
{
	for (;;) {
		size_t worst = i, l = 2 * i + 1, r = l + 1;
		struct row t;

		if (l < k && compare_rows(&heap[l], &heap[worst], fs) > 0)
			worst = l;
		if (r < k && compare_rows(&heap[r], &heap[worst], fs) > 0)
			worst = r;
		if (worst == i)
			return;
		t = heap[i];
		heap[i] = heap[worst];
		heap[worst] = t;
		i = worst;
	}
}

/* A heap of the `k` best rows seen, the worst of them at the root. */
static void sift_down(const struct row **heap, size_t k, size_t i, const struct flowstat *fs)
{
	for (;;) {
		size_t worst = i, l = 2 * i + 1, r = l + 1;

		if (l < k && compare(&heap[l], &heap[worst], (void *)(uintptr_t)fs) > 0)
			worst = l;
		if (r < k && compare(&heap[r], &heap[worst], (void *)(uintptr_t)fs) > 0)
			worst = r;
		if (worst == i)
			return;
		const struct row *t = heap[i];

		heap[i] = heap[worst];
		heap[worst] = t;
		i = worst;
	}
}

struct shown *snapshot_view(const struct flowstat *fs, const struct snapshot *s, size_t limit,
			    bool text, size_t *count)
{
	size_t k = limit && limit < s->n_rows ? limit : s->n_rows;
	const struct row **best = malloc((k ? k : 1) * sizeof(*best));
	struct shown *view = calloc(k ? k : 1, sizeof(*view));

	*count = 0;
	if (best == NULL || view == NULL) {
		free(best);
		free(view);
		return NULL;
	}
	/* The first k rows, then each later one in place of the worst kept
	 * if it is better: O(n log k), not a sort of millions of rows. */
	for (size_t i = 0; i < k; i++)
		best[i] = &s->rows[i];
	for (size_t i = k / 2; k < s->n_rows && i-- > 0;)
		sift_down(best, k, i, fs);
	for (size_t i = k; i < s->n_rows; i++) {
		const struct row *r = &s->rows[i];

		if (compare(&r, &best[0], (void *)(uintptr_t)fs) < 0) {
			best[0] = r;
			sift_down(best, k, 0, fs);
		}
	}
	qsort_r(best, k, sizeof(*best), compare, (void *)(uintptr_t)fs);
	/* The text of the rows shown, and of those only. */
	for (size_t i = 0; i < k; i++) {
		struct mpf_flow_info info;

		view[i].row = best[i];
		if (!text)
			continue;
		if (fs->monitor && mpf_monitor_get(fs->monitor, best[i]->info.handle, &info) == 0) {
			memcpy(view[i].text, info.text, sizeof(view[i].text));
			view[i].text_truncated = info.flags & MPF_FLOW_INFO_TEXT_TRUNCATED;
		} else
			view[i].gone = true;
	}
	free(best);
	*count = k;
	return view;
}
