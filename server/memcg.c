/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the memory cgroups this process is charged to can still take. Memory
 * faulted in ahead of need (ahead.c) is charged as any other: where a
 * cgroup limits the daemon, the charge that crosses the limit is met by its
 * OOM killer, not by a failure the daemon could fall back from. So memory
 * is only taken ahead out of what the limits leave spare.
 *
 * /proc/self/cgroup names the cgroup: "N:memory:/path" under cgroup v1's
 * memory controller (limit memory.limit_in_bytes, use
 * memory.usage_in_bytes), else "0::/path" under v2 (memory.max,
 * memory.current). A parent's limit binds its children, so each cgroup
 * from the process's up to the hierarchy's root is read, and the least
 * headroom wins. Use counts the page cache, and the kernel reclaims its
 * inactive file pages (the journal written and synced long ago) before it
 * kills: those count as room (memory.stat: v1's total_inactive_file, which
 * takes the cgroups below in as its use does; v2's inactive_file). What
 * cannot be read (no cgroup file system, another namespace's path) limits
 * nothing.
 *
 * The same reading admits creates (memcg_admit): the primary refuses a
 * rule with ENOMEM while less than MEMCG_RESERVE is left (and what one
 * create may fault in at once, where the region is on huge pages), and a start
 * keeps what does not fit in the journal, not restored.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/memcg.h"

/* A file's one number, "max" as UINT64_MAX; false if it holds neither. */
static bool read_number(const char *dir, const char *name, uint64_t *out)
{
	char path[PATH_MAX], text[64], *end;
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return false;
	text[n] = '\0';
	if (strncmp(text, "max", 3) == 0) {
		*out = UINT64_MAX;
		return true;
	}
	errno = 0;
	*out = strtoull(text, &end, 10);
	return errno == 0 && end != text && (*end == '\n' || *end == '\0');
}

/* Does the comma-separated list `list` (`length` bytes) name "memory"? */
static bool names_memory(const char *list, size_t length)
{
	for (size_t at = 0; at < length;) {
		const char *comma = memchr(list + at, ',', length - at);
		size_t word = comma ? (size_t)(comma - (list + at)) : length - at;

		if (word == 6 && memcmp(list + at, "memory", 6) == 0)
			return true;
		at += word + 1;
	}
	return false;
}

/* The directory of the process's memory cgroup under `root` into `dir`,
 * the hierarchy's own into `base`, and whether it is v1's. */
static bool locate(const char *self, const char *root, char *dir, char *base, bool *v1)
{
	char line[PATH_MAX + 64];
	char v2_path[PATH_MAX] = "";
	bool found = false, v2 = false;
	FILE *f = fopen(self, "re");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *first = strchr(line, ':'), *second = first ? strchr(first + 1, ':') : NULL;
		size_t length;

		if (second == NULL)
			continue;
		length = strcspn(second + 1, "\n");
		second[1 + length] = '\0';
		if (names_memory(first + 1, (size_t)(second - first - 1))) {
			found = (size_t)snprintf(base, PATH_MAX, "%s/memory", root) < PATH_MAX &&
				(size_t)snprintf(dir, PATH_MAX, "%s%s", base, second + 1) <
					PATH_MAX;
			*v1 = true;
		} else if (line[0] == '0' && first == line + 1 && second == first + 1 &&
			   length < sizeof(v2_path)) {
			memcpy(v2_path, second + 1, length + 1);
			v2 = true;
		}
	}
	fclose(f);
	if (found || !v2)
		return found;
	*v1 = false;
	return (size_t)snprintf(base, PATH_MAX, "%s", root) < PATH_MAX &&
	       (size_t)snprintf(dir, PATH_MAX, "%s%s", base, v2_path) < PATH_MAX;
}

/* The value of `key` in a memory.stat of `dir`; false if there is none. */
static bool read_stat(const char *dir, const char *key, uint64_t *out)
{
	char path[PATH_MAX], line[128];
	size_t length = strlen(key);
	bool found = false;
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/memory.stat", dir) >= sizeof(path) ||
	    (f = fopen(path, "re")) == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *end;

		if (strncmp(line, key, length) != 0 || line[length] != ' ')
			continue;
		errno = 0;
		*out = strtoull(line + length + 1, &end, 10);
		found = errno == 0 && end != line + length + 1 && (*end == '\n' || *end == '\0');
	}
	fclose(f);
	return found;
}

uint64_t memcg_headroom(const char *self, const char *root)
{
	char dir[PATH_MAX], base[PATH_MAX];
	uint64_t least = UINT64_MAX;
	size_t base_length;
	bool v1;

	if (!locate(self, root, dir, base, &v1))
		return UINT64_MAX;
	base_length = strlen(base);
	for (;;) {
		uint64_t limit, usage, reclaimable;
		char *slash;

		if (read_number(dir, v1 ? "memory.limit_in_bytes" : "memory.max", &limit) &&
		    read_number(dir, v1 ? "memory.usage_in_bytes" : "memory.current", &usage) &&
		    limit != UINT64_MAX) {
			uint64_t room;

			if (read_stat(dir, v1 ? "total_inactive_file" : "inactive_file",
				      &reclaimable))
				usage -= reclaimable < usage ? reclaimable : usage;
			room = limit > usage ? limit - usage : 0;

			if (room < least)
				least = room;
		}
		slash = strrchr(dir, '/');
		if (slash == NULL || (size_t)(slash - dir) < base_length)
			break;
		*slash = '\0'; /* the parent; the hierarchy's root last */
	}
	return least;
}

void memcg_guard_init(struct memcg_guard *g, const char *self, const char *root)
{
	*g = (struct memcg_guard){.self = self, .root = root, .rule_bytes = MEMCG_RULE_BYTES};
}

bool memcg_admit(struct memcg_guard *g)
{
	struct timespec ts;
	uint64_t now, room, cap, reserve;

	if (g->allowed && g->since_read < MEMCG_READ_EVERY) {
		g->allowed--;
		g->since_read++;
		return true;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	reserve = memcg_reserve(g) + g->held_back;
	if (g->read_ns && g->room < reserve && now - g->read_ns < MEMCG_REREAD_NS)
		return false;
	room = memcg_headroom(g->self, g->root);
	/* What each create since took, as the room shrank, between two
	 * limited readings (a limit set meanwhile measures nothing). What else
	 * moved the use moves this too: it sets how often the files are read,
	 * never what is refused, and each reading measures afresh, within
	 * [MEMCG_RULE_BYTES, MEMCG_RULE_BYTES_MAX]. */
	if (g->read_ns && g->since_read >= MEMCG_READ_FIRST / 4 && g->room != UINT64_MAX &&
	    room != UINT64_MAX) {
		uint64_t each = room < g->room ? (g->room - room) / g->since_read : 0;

		g->measured = true;
		g->rule_bytes = each < MEMCG_RULE_BYTES	      ? MEMCG_RULE_BYTES
				: each > MEMCG_RULE_BYTES_MAX ? MEMCG_RULE_BYTES_MAX
							      : each;
	}
	g->room = room;
	g->read_ns = now;
	g->since_read = 0;
	if (g->room < reserve)
		return false;
	/* Where no limit binds, nothing to measure: the longest stretch. */
	cap = g->measured || g->room == UINT64_MAX ? MEMCG_READ_EVERY : MEMCG_READ_FIRST;
	g->allowed = (g->room - reserve) / 2 / g->rule_bytes;
	if (g->allowed > cap)
		g->allowed = cap;
	return true;
}

uint64_t memcg_spare(const struct memcg_guard *g)
{
	uint64_t spent = g->since_read * g->rule_bytes;

	if (g->room == UINT64_MAX)
		return UINT64_MAX;
	return g->room > spent ? g->room - spent : 0;
}
