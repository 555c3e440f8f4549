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

/* The counts of `handle`'s rule in `prev`, if it was there: both
 * snapshots are in slot order (the directory's), so a cursor into `prev`
 * moves forward only. */
static const struct rule_count *previous(uint64_t handle, const struct snapshot *prev, size_t *at)
{
	uint32_t slot = (uint32_t)handle;

	while (*at < prev->n_counts && (uint32_t)prev->counts[*at].handle < slot)
		(*at)++;
	return *at < prev->n_counts && prev->counts[*at].handle == handle ? &prev->counts[*at]
									  : NULL;
}

static void rate(struct row *r, const struct rule_count *old, double seconds)
{
	r->rated = old != NULL && seconds > 0 && (r->info.flags & MPF_FLOW_INFO_COUNTED) &&
		   r->info.hits >= old->hits && r->info.bytes >= old->bytes;
	r->pps = r->bps = 0;
	if (r->rated) {
		r->pps = (double)(r->info.hits - old->hits) / seconds;
		r->bps = 8.0 * (double)(r->info.bytes - old->bytes) / seconds;
	}
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
static int compare_rows(const struct row *x, const struct row *y, const struct flowstat *fs);

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

int snapshot_take(struct flowstat *fs, const struct snapshot *prev, struct snapshot *next)
{
	struct mpf_flow_info info;
	uint32_t cursor = 0; /* the directory's walk is in slot order, and so are the counts */
	size_t at = 0;
	double seconds;
	int err;

	next->count = next->n_rows = next->n_counts = 0;
	next->hits = next->bytes = 0;
	next->pps = next->bps = 0;
	next->attached = false;
	err = attach(fs, next);
	next->taken_ns = clock_ns(CLOCK_MONOTONIC);
	if (err)
		return err;
	seconds = prev->taken_ns && prev->attached &&
				  prev->instance.primary_pid == next->instance.primary_pid
			  ? (double)(next->taken_ns - prev->taken_ns) / 1e9
			  : 0;
	while (mpf_monitor_scan(fs->monitor, &cursor, &info) == 1) {
		struct row r;

		if (!wanted(&fs->filter, &info))
			continue;
		if (!fs->last) {
			if (grow((void **)&next->counts, &next->cap_counts, next->n_counts,
				 sizeof(*next->counts), next->instance.rules) != 0)
				goto no_memory;
			next->counts[next->n_counts++] = (struct rule_count){
				.handle = info.handle, .hits = info.hits, .bytes = info.bytes};
		}
		r.info = (struct row_info){
			.handle = info.handle,
			.number = info.number,
			.owner_pid = info.owner_pid,
			.port = info.port,
			.group = info.group,
			.priority = info.priority,
			.flags = info.flags,
			.created_ns = info.created_ns,
			.hits = info.hits,
			.bytes = info.bytes,
			.last_hit_ns = info.last_hit_ns,
		};
		memcpy(r.info.owner_name, info.owner_name, sizeof(r.info.owner_name));
		rate(&r, previous(info.handle, prev, &at), seconds);
		next->count++;
		next->hits += r.info.hits;
		next->bytes += r.info.bytes;
		next->pps += r.pps;
		next->bps += r.bps;
		if (keep_row(fs, next, &r) != 0)
			goto no_memory;
	}
	return take_ports(fs, prev, next, seconds);
no_memory:
	snprintf(fs->status, sizeof(fs->status), "out of memory");
	return -ENOMEM;
}

void snapshot_free(struct snapshot *s)
{
	free(s->rows);
	free(s->counts);
	free(s->ports);
	free(s->queues);
	memset(s, 0, sizeof(*s));
}

/* Below 0 when `x` comes before `y` in display order. */
static int compare_rows(const struct row *x, const struct row *y, const struct flowstat *fs)
{
	int c = 0;

#define CMP(u, v) ((u) < (v) ? -1 : (u) > (v))
	switch (fs->sort) {
	case COL_ID:
		c = 0;
		break;
	case COL_OWNER:
		c = strcmp(x->info.owner_name, y->info.owner_name);
		if (c == 0)
			c = CMP(x->info.owner_pid, y->info.owner_pid);
		break;
	case COL_PORT:
		c = CMP(x->info.port, y->info.port);
		break;
	case COL_GROUP:
		c = CMP(x->info.group, y->info.group);
		break;
	case COL_PRIORITY:
		c = CMP(x->info.priority, y->info.priority);
		break;
	/* Counters sort the busiest first. */
	case COL_HITS:
		c = CMP(y->info.hits, x->info.hits);
		break;
	case COL_BYTES:
		c = CMP(y->info.bytes, x->info.bytes);
		break;
	case COL_PPS:
		c = CMP(y->pps, x->pps);
		break;
	case COL_BPS:
		c = CMP(y->bps, x->bps);
		break;
	case COL_LAST:
		c = CMP(y->info.last_hit_ns, x->info.last_hit_ns);
		break;
	default:
		break;
	}
	if (c == 0)
		c = CMP(x->info.handle, y->info.handle);
#undef CMP
	return fs->reverse ? -c : c;
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
		if (fs->monitor && mpf_monitor_get(fs->monitor, best[i]->info.handle, &info) == 0)
			memcpy(view[i].text, info.text, sizeof(view[i].text));
		else
			snprintf(view[i].text, sizeof(view[i].text), "(gone since the snapshot)");
	}
	free(best);
	*count = k;
	return view;
}
