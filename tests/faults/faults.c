/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fault hook of mpflowd-faults (server.h: fault_sync), a test build of
 * the primary: every sync of the journal — io_uring's and fdatasync(2)'s
 * alike — reports what the test wants.
 *
 * $MPFLOW_FAULTS names a file the test writes while the primary runs. When
 * its first word is an errno name (EIO, ENOSPC, EDQUOT), every sync fails with that
 * errno, and fails the way Linux fails: the data written since the last
 * good sync of the file is lost (it reads back as zeros, the file keeps its
 * size), and the next sync may succeed without it. A primary that went on
 * appending after such a failure without rewriting the file would lose
 * what it acknowledged next; the tests look for exactly that. With ":KEEP"
 * after the name (EIO:KEEP), the data stays readable instead, as pages a
 * failed write-back left in the page cache read until they are evicted: a
 * start that finds them there must not bring back what they recorded. With
 * ":ONCE" (EIO:ONCE) only the first sync that runs fails, and those after
 * it succeed, as Linux reports a writeback error to one sync of an open
 * file: an io_uring sync takes it when submitted, where the kernel runs
 * it, and reports it when it completes. When a
 * word is STOP:POINT, the primary stops itself (SIGSTOP) at that point of
 * its code (fault_point), for a test to kill it there or to act while it
 * stands ("EIO STOP:rebuild-step": a failed sync, then a stop in the
 * rebuild it sets off; STOP:job-step stops between two steps of a
 * client's job: a flush, a DESTROY of many handles; STOP:damaged-copy
 * stops once the copy of a damaged journal is made, empty). HOLD:sync holds the
 * journal's syncs back (none is submitted while the word is there), for a
 * test to have operations pending as long as it needs; HOLD:job holds a
 * client's job between two steps while the loop goes on, for a test to
 * let a sync land there however slow the disk. NOLINKS refuses
 * hard links (EPERM), as vfat does; NOCUT refuses to cut the journal's
 * file after a failed sync, as a file system gone read-only does.
 * $MPFLOW_LOCK_WAIT_MS shortens a start's wait for the journal's lock (a
 * test's second primary, refused, need not wait 5 s). $MPFLOW_STEP_RULES
 * caps the rules a step of a journal's rebuild writes (rebuild.c), so
 * that a test sees the loop serve between steps.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server.h"

#define FAULT_FDS 4096

/* What each fd held at its last good sync. */
static struct {
	dev_t dev;
	ino_t ino;
	off_t synced;
} files[FAULT_FDS];

/* The `n`th word the test wrote (from 0), or "". */
static void wanted(unsigned n, char word[static 64])
{
	const char *path = getenv("MPFLOW_FAULTS");
	FILE *f;

	word[0] = '\0';
	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return;
	for (unsigned i = 0; i <= n; i++)
		if (fscanf(f, "%63s", word) != 1) {
			word[0] = '\0';
			break;
		}
	fclose(f);
}

/* The word file whose :ONCE failure was reported: the test writes a new
 * file (a new inode) for each word. The loop's syncs and a compaction
 * thread's ask (the first to take it fails). */
static _Atomic ino_t once_reported;

/* The test's errno word (0: none), and its :KEEP or :ONCE. */
static int wanted_word(bool *keep, bool *once)
{
	char word[64], *colon;

	wanted(0, word);
	colon = strchr(word, ':');
	*keep = colon && strcmp(colon, ":KEEP") == 0;
	*once = colon && strcmp(colon, ":ONCE") == 0;
	if (colon)
		*colon = '\0';
	if (strcmp(word, "EIO") == 0)
		return EIO;
	if (strcmp(word, "ENOSPC") == 0)
		return ENOSPC;
	if (strcmp(word, "EDQUOT") == 0)
		return EDQUOT;
	return 0;
}

/* The word file, when its :ONCE failure is still to be reported. */
static ino_t once_unreported(void)
{
	const char *path = getenv("MPFLOW_FAULTS");
	struct stat st;

	return path && stat(path, &st) == 0 && st.st_ino != once_reported ? st.st_ino : 0;
}

/* The errno the test wants syncs to fail with (0: none), and whether the
 * data they did not write stays readable (`keep`). A :ONCE word's errno
 * is wanted once, by the first sync that asks. */
static int wanted_errno(bool *keep)
{
	bool once;
	int err = wanted_word(keep, &once);
	ino_t word;

	if (err && once) {
		word = once_unreported();
		/* Taken by the first to swap it in. */
		if (word == 0 || atomic_exchange(&once_reported, word) == word)
			return 0;
	}
	return err;
}

/* Whether the test's word is an errno's :ONCE, not yet reported. */
static bool once_wanted(void)
{
	bool keep, once;

	return wanted_word(&keep, &once) && once && once_unreported() != 0;
}

/* Zero what was written since the last good sync, as lost pages read. */
static void lose_unsynced(int fd, const struct stat *st, off_t synced)
{
	static const uint8_t zeros[4096];

	for (off_t at = synced; at < st->st_size;) {
		size_t n = (size_t)(st->st_size - at) < sizeof(zeros) ? (size_t)(st->st_size - at)
								      : sizeof(zeros);
		ssize_t w = pwrite(fd, zeros, n, at);

		if (w <= 0)
			break;
		at += w;
	}
	fdatasync(fd);
}

bool fault_held(const char *what)
{
	char word[64];

	for (unsigned n = 0; wanted(n, word), word[0]; n++)
		if (strncmp(word, "HOLD:", 5) == 0 && strcmp(word + 5, what) == 0)
			return true;
	return false;
}

bool fault_no_links(void)
{
	char word[64];

	for (unsigned n = 0; wanted(n, word), word[0]; n++)
		if (strcmp(word, "NOLINKS") == 0)
			return true;
	return false;
}

bool fault_no_cut(void)
{
	char word[64];

	for (unsigned n = 0; wanted(n, word), word[0]; n++)
		if (strcmp(word, "NOCUT") == 0) {
			errno = EROFS; /* what the primary's log then says */
			return true;
		}
	return false;
}

void fault_point(const char *where)
{
	char word[64];

	/* Any word: "EIO STOP:rebuild-step" fails syncs, then stops there. */
	for (unsigned n = 0; wanted(n, word), word[0]; n++)
		if (strncmp(word, "STOP:", 5) == 0 && strcmp(word + 5, where) == 0) {
			raise(SIGSTOP);
			return;
		}
}

int fault_sync_submitted(int fd, bool chain)
{
	bool keep;

	if (once_wanted())
		return -fault_sync(fd, 0); /* reported now: its pages are lost now */
	/* A chain's, now; another sync's when it completes. */
	return chain ? wanted_errno(&keep) : 0;
}

unsigned fault_lock_wait_ms(unsigned ms)
{
	const char *wait = getenv("MPFLOW_LOCK_WAIT_MS");

	return wait ? (unsigned)strtoul(wait, NULL, 10) : ms;
}

unsigned fault_step_rules(void)
{
	const char *rules = getenv("MPFLOW_STEP_RULES");

	return rules ? (unsigned)strtoul(rules, NULL, 10) : 0;
}

int fault_chain_step(int fd, int result, int fault)
{
	struct stat st;

	if (fault)
		return fault_sync(fd, -fault); /* loses what a failed sync loses */
	/* Let through: the test's word now does not fail it after the fact
	 * (the chain's rename has run). */
	if (result == 0 && fd >= 0 && fd < FAULT_FDS && fstat(fd, &st) == 0)
		files[fd] = (typeof(files[fd])){
			.dev = st.st_dev, .ino = st.st_ino, .synced = st.st_size};
	return result;
}

int fault_sync(int fd, int result)
{
	struct stat st;
	bool keep;
	int fault;

	if (fd < 0 || fd >= FAULT_FDS || fstat(fd, &st) != 0)
		return result;
	if (files[fd].dev != st.st_dev || files[fd].ino != st.st_ino)
		files[fd] = (typeof(files[fd])){.dev = st.st_dev, .ino = st.st_ino, .synced = 0};
	fault = wanted_errno(&keep);
	if (fault) {
		if (!keep)
			lose_unsynced(fd, &st, files[fd].synced);
		return -fault;
	}
	if (result == 0)
		files[fd].synced = st.st_size;
	return result;
}

void fault_memcg_paths(const char **self, const char **root)
{
	const char *test_self = getenv("MPFLOW_MEMCG_SELF"),
		   *test_root = getenv("MPFLOW_MEMCG_ROOT");

	*self = test_self && test_root ? test_self : MEMCG_SELF;
	*root = test_self && test_root ? test_root : MEMCG_ROOT;
}
