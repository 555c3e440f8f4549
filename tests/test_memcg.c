/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The memory cgroup's headroom (server/memcg.c), on cgroup trees written
 * here as the kernel shows them: v1's memory controller and v2, a parent's
 * limit binding a child, "max", use over the limit, and what cannot be
 * read limiting nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/memcg.h"

struct tree {
	char dir[64];  /* the test's own temporary directory */
	char self[96]; /* its /proc/self/cgroup */
	char root[96]; /* its /sys/fs/cgroup */
};

static void put(const struct tree *t, const char *relative, const char *text)
{
	char path[256], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->root, relative);
	for (slash = strchr(path + strlen(t->dir) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void self_is(const struct tree *t, const char *text)
{
	FILE *f = fopen(t->self, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/mpflow-memcg-XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->self, sizeof(t->self), "%s/cgroup", t->dir);
	snprintf(t->root, sizeof(t->root), "%s/fs", t->dir);
	mkdir(t->root, 0700);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tree *t = *state;
	char command[128];

	snprintf(command, sizeof(command), "rm -rf '%s'", t->dir);
	if (system(command) != 0)
		return -1;
	free(t);
	return 0;
}

static void test_v1_the_tightest_limit_up_the_tree_wins(void **state)
{
	const struct tree *t = *state;

	self_is(t, "9:name=systemd:/\n5:cpu,memory:/svc/mpflowd\n0::/\n");
	put(t, "memory/memory.limit_in_bytes", "9223372036854771712\n");
	put(t, "memory/memory.usage_in_bytes", "4000000000\n");
	put(t, "memory/svc/mpflowd/memory.limit_in_bytes", "100000000\n");
	put(t, "memory/svc/mpflowd/memory.usage_in_bytes", "30000000\n");
	assert_int_equal(memcg_headroom(t->self, t->root), 70000000);
	/* The parent's limit binds the child tighter. */
	put(t, "memory/svc/memory.limit_in_bytes", "50000000\n");
	put(t, "memory/svc/memory.usage_in_bytes", "45000000\n");
	assert_int_equal(memcg_headroom(t->self, t->root), 5000000);
	/* Use over a limit (it happens, briefly): no room, not a wrap. */
	put(t, "memory/svc/memory.usage_in_bytes", "60000000\n");
	assert_int_equal(memcg_headroom(t->self, t->root), 0);
}

static void test_v2_max_is_no_limit(void **state)
{
	const struct tree *t = *state;

	self_is(t, "0::/system.slice/mpflowd.service\n");
	put(t, "system.slice/mpflowd.service/memory.max", "max\n");
	put(t, "system.slice/mpflowd.service/memory.current", "123456\n");
	assert_true(memcg_headroom(t->self, t->root) == UINT64_MAX);
	put(t, "system.slice/memory.max", "1000000\n");
	put(t, "system.slice/memory.current", "400000\n");
	assert_int_equal(memcg_headroom(t->self, t->root), 600000);
	put(t, "system.slice/mpflowd.service/memory.max", "500000\n");
	assert_int_equal(memcg_headroom(t->self, t->root), 376544);
}

/* v1's memory controller where both are mounted (a hybrid system): the
 * v2 tree there has no memory files. */
static void test_v1_memory_wins_over_the_unified_line(void **state)
{
	const struct tree *t = *state;

	self_is(t, "0::/user.slice\n4:memory:/box\n");
	put(t, "memory/box/memory.limit_in_bytes", "2000\n");
	put(t, "memory/box/memory.usage_in_bytes", "500\n");
	put(t, "user.slice/memory.max", "10\n");
	put(t, "user.slice/memory.current", "0\n");
	assert_int_equal(memcg_headroom(t->self, t->root), 1500);
}

static void test_what_cannot_be_read_limits_nothing(void **state)
{
	const struct tree *t = *state;
	char missing[128];

	snprintf(missing, sizeof(missing), "%s/none", t->dir);
	assert_true(memcg_headroom(missing, t->root) == UINT64_MAX);
	self_is(t, "no colons here\n");
	assert_true(memcg_headroom(t->self, t->root) == UINT64_MAX);
	/* A cgroup of another namespace's path: no such directory. */
	self_is(t, "0::/elsewhere/entirely\n");
	assert_true(memcg_headroom(t->self, t->root) == UINT64_MAX);
	/* Garbage where a number should be: that level is skipped. */
	self_is(t, "0::/a\n");
	put(t, "a/memory.max", "lots\n");
	put(t, "a/memory.current", "1\n");
	assert_true(memcg_headroom(t->self, t->root) == UINT64_MAX);
	put(t, "a/memory.max", "12x\n");
	assert_true(memcg_headroom(t->self, t->root) == UINT64_MAX);
	put(t, "a/memory.max", "12\n");
	assert_int_equal(memcg_headroom(t->self, t->root), 11);
}

/* The kernel reclaims inactive file pages before it kills: they are room
 * (v1 counts the cgroups below in total_inactive_file, as its use does). */
static void test_inactive_file_pages_are_room(void **state)
{
	const struct tree *t = *state;

	self_is(t, "4:memory:/box\n");
	put(t, "memory/box/memory.limit_in_bytes", "100000\n");
	put(t, "memory/box/memory.usage_in_bytes", "90000\n");
	put(t, "memory/box/memory.stat",
	    "cache 50000\ninactive_file 1000\n"
	    "total_inactive_file 30000\ntotal_active_file 5\n");
	assert_int_equal(memcg_headroom(t->self, t->root), 40000);
	/* More reclaimable than used (stale figures): all of it is room. */
	put(t, "memory/box/memory.stat", "total_inactive_file 95000\n");
	assert_int_equal(memcg_headroom(t->self, t->root), 100000);
	/* A figure that is no number counts nothing. */
	put(t, "memory/box/memory.stat", "total_inactive_file lots\n");
	assert_int_equal(memcg_headroom(t->self, t->root), 10000);
	self_is(t, "0::/svc\n");
	put(t, "svc/memory.max", "100000\n");
	put(t, "svc/memory.current", "90000\n");
	put(t, "svc/memory.stat",
	    "anon 60000\nfile 30000\ninactive_file_x 1\n"
	    "inactive_file 20000\n");
	assert_int_equal(memcg_headroom(t->self, t->root), 30000);
}

/* Creates are admitted out of the room beyond the reserve, the files read
 * again only once that could be spent; refused below the reserve, without
 * a read each time; a destroyed rule's memory admits the next. */
static void test_creates_are_admitted_out_of_the_room_beyond_the_reserve(void **state)
{
	const struct tree *t = *state;
	struct memcg_guard g;
	struct timespec now;
	char text[64];
	unsigned admitted = 0;

	/* No limit anywhere (the common case): the longest stretch from the
	 * first reading, nothing to measure. */
	self_is(t, "0::/svc\n");
	put(t, "svc/memory.max", "max\n");
	put(t, "svc/memory.current", "0\n");
	memcg_guard_init(&g, t->self, t->root);
	assert_true(memcg_admit(&g));
	assert_int_equal(g.allowed, MEMCG_READ_EVERY);
	assert_true(memcg_spare(&g) == UINT64_MAX);
	snprintf(text, sizeof(text), "%llu\n",
		 (unsigned long long)(MEMCG_RESERVE + 20 * MEMCG_RULE_BYTES));
	put(t, "svc/memory.max", text);
	put(t, "svc/memory.current", "0\n");
	memcg_guard_init(&g, t->self, t->root);
	/* Room for 20 beyond the reserve: half of it, 10, and the one that
	 * read, before the files are read again. */
	for (int i = 0; i < 11; i++)
		admitted += memcg_admit(&g);
	assert_int_equal(admitted, 11);
	assert_int_equal(g.allowed, 0);
	/* What memory taken ahead may count on: the room read, less the ten
	 * creates admitted since, at 2 KiB each. */
	assert_int_equal(memcg_spare(&g), MEMCG_RESERVE + 10 * MEMCG_RULE_BYTES);
	/* Used up meanwhile: the next read refuses. */
	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)(21 * MEMCG_RULE_BYTES));
	put(t, "svc/memory.current", text);
	assert_false(memcg_admit(&g));
	assert_true(g.room < MEMCG_RESERVE);
	/* Room again, but no read before MEMCG_REREAD_NS: still refused. The
	 * reading dated after the file is written (on a slow disk that took
	 * longer than MEMCG_REREAD_NS), as if just taken. */
	put(t, "svc/memory.current", "0\n");
	clock_gettime(CLOCK_MONOTONIC, &now);
	g.read_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	assert_false(memcg_admit(&g));
	/* A rule destroyed: its memory takes the next create. */
	memcg_release(&g);
	assert_true(memcg_admit(&g));
	assert_false(memcg_admit(&g));
	usleep(MEMCG_REREAD_NS / 1000 * 2);
	assert_true(memcg_admit(&g));
	/* Creates that take more than counted: the readings see it, and
	 * read more often. 100 creates took 8 KiB each: the next reading
	 * allows half the spare at 8 KiB a create. */
	snprintf(text, sizeof(text), "%llu\n",
		 (unsigned long long)(MEMCG_RESERVE + (16ull << 20) + 100 * 8192));
	put(t, "svc/memory.max", text);
	put(t, "svc/memory.current", "0\n");
	usleep(MEMCG_REREAD_NS / 1000 * 2);
	memcg_guard_init(&g, t->self, t->root);
	assert_true(memcg_admit(&g));
	/* Until a reading measured a create: a short first stretch. */
	assert_int_equal(g.allowed, MEMCG_READ_FIRST);
	for (int i = 0; i < 100; i++)
		assert_true(memcg_admit(&g));
	put(t, "svc/memory.current", "819200\n");
	g.allowed = 0; /* as if they were all that was allowed */
	assert_true(memcg_admit(&g));
	assert_int_equal(g.rule_bytes, 8192);
	assert_true(g.measured);
	assert_int_equal(g.allowed, (16ull << 20) / 2 / 8192);
	/* The next reading measures afresh: creates that took little bring
	 * the estimate back down. */
	for (unsigned i = 0; i < 100; i++)
		assert_true(memcg_admit(&g));
	g.allowed = 0;
	assert_true(memcg_admit(&g));
	assert_int_equal(g.rule_bytes, MEMCG_RULE_BYTES);
	/* A limit set after a reading found none measures nothing: the next
	 * stretch is as long as the room says, not a reading a create. */
	put(t, "svc/memory.max", "max\n");
	put(t, "svc/memory.current", "0\n");
	usleep(MEMCG_REREAD_NS / 1000 * 2);
	g.allowed = 0;
	assert_true(memcg_admit(&g));
	assert_true(g.room == UINT64_MAX);
	for (unsigned i = 0; i < 100; i++)
		assert_true(memcg_admit(&g));
	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)(MEMCG_RESERVE + (64ull << 20)));
	put(t, "svc/memory.max", text);
	g.allowed = 0;
	assert_true(memcg_admit(&g));
	assert_int_equal(g.rule_bytes, MEMCG_RULE_BYTES);
	assert_int_equal(g.allowed, (64ull << 20) / 2 / MEMCG_RULE_BYTES);
	/* No limit: read again every MEMCG_READ_EVERY creates. */
	put(t, "svc/memory.max", "max\n");
	usleep(MEMCG_REREAD_NS / 1000 * 2);
	while (memcg_admit(&g) && g.allowed != MEMCG_READ_EVERY)
		;
	assert_int_equal(g.allowed, MEMCG_READ_EVERY);
	assert_true(g.room == UINT64_MAX);
	/* Churn (a destroy for each create) does not put the next reading
	 * off: a limit set meanwhile is seen within MEMCG_READ_EVERY. */
	put(t, "svc/memory.current", "0\n");
	put(t, "svc/memory.max", "1000\n");
	for (unsigned i = 0; i < MEMCG_READ_EVERY; i++) {
		assert_true(memcg_admit(&g));
		memcg_release(&g);
	}
	assert_false(memcg_admit(&g));
	assert_int_equal(g.room, 1000);
}

/* Where the region is on huge pages a create may fault in a 2 MiB page of
 * each of its arrays at once: the guard keeps that back beside the
 * reserve, and refuses room that would do without it. */
static void test_a_creates_huge_pages_are_kept_back(void **state)
{
	const struct tree *t = *state;
	struct memcg_guard g;
	char text[64];

	self_is(t, "0::/svc\n");
	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)(MEMCG_RESERVE + (8ull << 20)));
	put(t, "svc/memory.max", text);
	put(t, "svc/memory.current", "0\n");
	memcg_guard_init(&g, t->self, t->root);
	assert_true(memcg_admit(&g));
	memcg_guard_init(&g, t->self, t->root);
	g.at_once = 16ull << 20;
	assert_int_equal(memcg_reserve(&g), MEMCG_RESERVE + (16ull << 20));
	assert_false(memcg_admit(&g));
	g.at_once = 4ull << 20;
	assert_true(memcg_admit(&g));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_v1_the_tightest_limit_up_the_tree_wins),
		T(test_v2_max_is_no_limit),
		T(test_v1_memory_wins_over_the_unified_line),
		T(test_what_cannot_be_read_limits_nothing),
		T(test_inactive_file_pages_are_room),
		T(test_creates_are_admitted_out_of_the_room_beyond_the_reserve),
		T(test_a_creates_huge_pages_are_kept_back),
	};

	return cmocka_run_group_tests_name("memcg", tests, NULL, NULL);
}
