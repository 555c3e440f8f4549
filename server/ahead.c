/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A slot's memory faulted in ahead of the rule that will take it. The first
 * store to a page of the region costs a fault: 11 us a 4 KiB page of the
 * memfd in this VM, a page of entries and one of counters for each 64
 * rules, a fifth of the loop's time in a bulk load. So once half the slots
 * of a window of AHEAD_SLOTS have been taken (each counted at its first
 * rule of the run, when its pages are new), the next window's pages (its
 * entries, counters, rule slots and the workers' shares: 2 MiB of entries)
 * are asked for, once, of a helper thread of the daemon's, mpflow-ahead,
 * which faults them in beside the loop; the loop only asks, once a window,
 * through a ring of windows and an eventfd, and never waits for it. The
 * first window is never asked for: a table that stays under half of it
 * pays for nothing, and at most one window is ahead of a fill. Nothing is
 * taken ahead that the memory cgroups above the daemon do not have to
 * spare twice over (memcg.c).
 *
 * The helper asks the kernel (MADV_POPULATE_WRITE), then reads a word of
 * each page of the region from user mode: under a hypervisor that shadows
 * the guest's page tables (no nested paging: PVM, as on this project's
 * VMs), the first user-mode access to a page the kernel filled is a fault
 * of the host's, 4.7 us a page here, which the read takes in the helper's
 * stead. The rule slots are the loop's plain memory, which another
 * thread's read would race with: they are only populated. The helper runs
 * at SCHED_IDLE, on spare cycles only: at normal priority it pushed the
 * client off the second core onto the loop's, which then lost more to the
 * two preempting each other than the helper saved it (docs/performance-history.md).
 * Where it is behind, the kernel cannot (before 5.14: the reads alone
 * fault the pages in) or no thread could be had, the stores fault their
 * pages in as they would without it.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <unistd.h>

#include "server/server.h"

_Static_assert((uint64_t)AHEAD_WINDOWS *AHEAD_SLOTS >= 1u << 24, "every --max-rules");
_Static_assert(AHEAD_SLOTS / 2 <= UINT16_MAX, "a window's count to half of it");
_Static_assert((AHEAD_ASKED & (AHEAD_ASKED - 1)) == 0, "the ring of windows is a power of 2");

/* The kernel's populating holds the process's mmap lock, which the loop's
 * mmap() and munmap() wait for: a helper at SCHED_IDLE preempted with it
 * held would stall them until it runs again. So a range is populated a
 * chunk at a time, each a short hold, and a stop is seen between chunks. */
#define AHEAD_CHUNK (256u << 10)

/* Helper: fault in [from, to), from the page `from` is in up to the one
 * `to` is in (which the next window's range takes), or through it when
 * `last`; then, where `touch`, read a word of each of those pages from
 * user mode (which alone faults them in before 5.14, where the kernel does
 * not know the advice). False when told to stop. */
static bool ahead_range(struct ahead *a, const void *from, const void *to, bool last, bool touch)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)from & ~(page - 1);
	uintptr_t end = ((uintptr_t)to + (last ? page - 1 : 0)) & ~(page - 1);

	for (uintptr_t chunk = start; chunk < end; chunk += AHEAD_CHUNK) {
		uintptr_t stop = end - chunk > AHEAD_CHUNK ? chunk + AHEAD_CHUNK : end;

		if (shm_load_acquire32(&a->stop))
			return false;
		if (madvise((void *)chunk, stop - chunk, MADV_POPULATE_WRITE) != 0 &&
		    errno != EINVAL)
			return true; /* no memory now: those pages are left to the stores */
		for (uintptr_t at = chunk; touch && at < stop; at += page)
			(void)shm_load_relaxed64((const shm_u64 *)at);
	}
	return true;
}

/* Helper: a window's pages, slots [from, to). False when told to stop. */
static bool ahead_window(struct server *s, uint32_t from, uint32_t to)
{
	struct ahead *a = &s->ahead;
	bool last = to == s->config.max_rules;

	if (!ahead_range(a, &s->entries[from], &s->entries[to], last, true) ||
	    !ahead_range(a, &s->counters[from], &s->counters[to], last, true) ||
	    !ahead_range(a, &s->rules.slots[from], &s->rules.slots[to], last, false))
		return false;
	for (uint32_t w = 0; w < s->shares.n; w++) {
		const struct region_share *row = &s->shares.base[(size_t)w * s->shares.max_rules];

		if (!ahead_range(a, &row[from], &row[to], last, true))
			return false;
	}
	return true;
}

/* The helper: the windows asked for, in turn, until told to stop. Its
 * cycles are spare ones (SCHED_IDLE); where that policy is refused, the
 * lowest nice value is the nearest. */
static void *ahead_run(void *arg)
{
	const struct sched_param idle = {.sched_priority = 0};
	struct server *s = arg;
	struct ahead *a = &s->ahead;
	eventfd_t n;

	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) != 0)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 19);

	while (eventfd_read(a->wake, &n) == 0 || errno == EINTR) {
		uint32_t asked = shm_load_acquire32(&a->asked_end);

		for (; a->done_own != asked; a->done_own++) {
			const struct ahead_window *w = &a->asked[a->done_own % AHEAD_ASKED];

			if (!ahead_window(s, w->from, w->to))
				return NULL;
			shm_store_release32(&a->done, a->done_own + 1);
		}
		if (shm_load_acquire32(&a->stop))
			break;
	}
	return NULL;
}

/* The helper, with every signal blocked (they are the loop's to take). */
static bool ahead_start(struct server *s)
{
	struct ahead *a = &s->ahead;
	sigset_t all, old;
	int err;

	a->wake = eventfd(0, EFD_CLOEXEC);
	if (a->wake < 0)
		return false;
	shm_store_relaxed32(&a->stop, 0);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&a->thread, NULL, ahead_run, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		close(a->wake);
		return false;
	}
	pthread_setname_np(a->thread, "mpflow-ahead");
	a->started = true;
	return true;
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
	uint32_t from = (window + 1) * AHEAD_SLOTS, asked = a->asked_own;

	/* A window asks for the next once half its slots were taken for
	 * the first time in the run (a count that stops there): a fill from
	 * below asks at its middle, rules restored here and there by a
	 * replay ask for nothing, and neither does a small table's churn. */
	if (a->failed || window >= AHEAD_WINDOWS || a->taken[window] == AHEAD_SLOTS / 2 ||
	    ++a->taken[window] < AHEAD_SLOTS / 2 || from >= max)
		return;
	/* Memory taken ahead is charged as any other: where a cgroup's
	 * limit is near, the charge that crosses it is met by the OOM
	 * killer. Only out of what it leaves spare, twice over, as the
	 * creates' guard last read it (every create here was admitted by
	 * it: a reading of its own would only read the same files again). */
	if (memcg_spare(&s->memcg) / 2 < window_bytes(s))
		return;
	if (!a->started && !ahead_start(s)) {
		a->failed = true;
		return;
	}
	/* A full ring: the helper is windows behind, the stores will do. */
	if (asked - shm_load_acquire32(&a->done) == AHEAD_ASKED)
		return;
	a->asked[asked % AHEAD_ASKED] = (struct ahead_window){
		.from = from, .to = max - from > AHEAD_SLOTS ? from + AHEAD_SLOTS : max};
	a->asked_own = asked + 1;
	shm_store_release32(&a->asked_end, asked + 1);
	eventfd_write(a->wake, 1);
}

void ahead_fini(struct server *s)
{
	struct ahead *a = &s->ahead;

	if (!a->started)
		return;
	shm_store_release32(&a->stop, 1);
	eventfd_write(a->wake, 1);
	pthread_join(a->thread, NULL);
	close(a->wake);
	a->started = false;
	/* Whatever it had not done is dropped; a later start begins anew. */
	a->done_own = a->asked_own;
	shm_store_relaxed32(&a->asked_end, a->asked_own);
	shm_store_relaxed32(&a->done, a->asked_own);
}
