/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A slot's memory faulted in ahead of the rule that will take it. The first
 * store to a page costs a fault: 2.3 us a 4 KiB page of the region in this
 * VM, about a tenth of the loop's time in a bulk load at a million rules
 * (a page of entries and one of counters each 64 rules, one of the rule
 * table's slots each 73). So once half the slots of a window of
 * AHEAD_SLOTS have been taken (each counted at its first rule of the run,
 * when its pages are new), the next window's pages (its entries,
 * counters, the workers' shares and the table's slots: 2 MiB of entries)
 * are asked for, once, with MADV_POPULATE_WRITE, through an io_uring of
 * its own (the loop's is made after the journal's replay, which gains too)
 * whose one worker thread does the faulting beside the loop; the loop only
 * submits, once a window. The first window is never asked for: a table
 * that stays under half of it pays for nothing, and at most one window is
 * ahead of a fill. Nothing is taken ahead that the memory cgroups above
 * the daemon do not have to spare twice over (memcg.c). Where the kernel
 * cannot (before 5.14, or io_uring disabled), the stores fault their
 * pages in as they would without this.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "server/server.h"

/* A window's requests (entries, counters, slots and a row of shares per
 * worker but the first: --workers is at most 64) fit the queue whole. */
#define AHEAD_QUEUE 128u
_Static_assert(AHEAD_QUEUE >= 3 + 63, "a window's requests fit the queue");
_Static_assert((uint64_t)AHEAD_WINDOWS *AHEAD_SLOTS >= 1u << 24, "every --max-rules");
_Static_assert(AHEAD_SLOTS / 2 <= UINT16_MAX, "a window's count to half of it");

/* [from, to) to be faulted in: from the page `from` is in, to the one `to`
 * is in, which the next window's range takes (or up to it, the last). */
static void ahead_range(struct ahead *a, const void *from, const void *to, bool last)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)from & ~(page - 1);
	uintptr_t end = ((uintptr_t)to + (last ? page - 1 : 0)) & ~(page - 1);
	struct io_uring_sqe *sqe;

	if (end <= start || (sqe = io_uring_get_sqe(&a->ring)) == NULL)
		return; /* (no room: the worker is windows behind, the stores will do) */
	io_uring_prep_madvise(sqe, (void *)start, (off_t)(end - start), MADV_POPULATE_WRITE);
	io_uring_sqe_set_data64(sqe, 0);
}

/* Results of requests done: an advice the kernel does not know turns this
 * off; any other failure leaves those pages to the stores. */
static void ahead_reap(struct ahead *a)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&a->ring, head, cqe)
	{
		if (cqe->res == -EINVAL || cqe->res == -EOPNOTSUPP)
			a->off = true;
		n++;
	}
	io_uring_cq_advance(&a->ring, n);
}

/* What a window's pages take: entries, counters, slots, share rows. */
static uint64_t window_bytes(const struct server *s)
{
	return (uint64_t)AHEAD_SLOTS *
	       (sizeof(s->entries[0]) + sizeof(s->counters[0]) + sizeof(s->rules.slots[0]) +
		s->shares.n * sizeof(s->shares.base[0]));
}

void ahead_slot(struct server *s, uint32_t slot)
{
	struct ahead *a = &s->ahead;
	uint32_t max = s->config.max_rules, window = slot / AHEAD_SLOTS;
	uint32_t from = (window + 1) * AHEAD_SLOTS, to;

	/* A window asks for the next once half its slots were taken for
	 * the first time in the run (a count that stops there): a fill from
	 * below asks at its middle, rules restored here and there by a
	 * replay ask for nothing, and neither does a small table's churn. */
	if (a->off || window >= AHEAD_WINDOWS || a->taken[window] == AHEAD_SLOTS / 2 ||
	    ++a->taken[window] < AHEAD_SLOTS / 2 || from >= max)
		return;
	/* Memory taken ahead is charged as any other: where a cgroup's
	 * limit is near, the charge that crosses it is met by the OOM
	 * killer. Only out of what it leaves spare, twice over, as the
	 * creates' guard last read it (every create here was admitted by
	 * it: a reading of its own would only read the same files again). */
	if (memcg_spare(&s->memcg) / 2 < window_bytes(s))
		return;
	to = max - from > AHEAD_SLOTS ? from + AHEAD_SLOTS : max;
	if (!a->ready) {
		/* One worker, doing the windows in turn: more would only take
		 * the loop's core on a machine of two. */
		unsigned workers[2] = {1, 1};

		if (io_uring_queue_init(AHEAD_QUEUE, &a->ring, 0) != 0) {
			a->off = true;
			return;
		}
		io_uring_register_iowq_max_workers(&a->ring, workers);
		a->ready = true;
	}
	ahead_reap(a);
	if (a->off)
		return;
	ahead_range(a, &s->entries[from], &s->entries[to], to == max);
	ahead_range(a, &s->counters[from], &s->counters[to], to == max);
	ahead_range(a, &s->rules.slots[from], &s->rules.slots[to], to == max);
	for (uint32_t w = 0; w < s->shares.n; w++) {
		const struct region_share *row = &s->shares.base[(size_t)w * s->shares.max_rules];

		ahead_range(a, &row[from], &row[to], to == max);
	}
	io_uring_submit(&a->ring);
}

void ahead_fini(struct server *s)
{
	if (s->ahead.ready) {
		io_uring_queue_exit(&s->ahead.ring);
		s->ahead.ready = false;
	}
}
