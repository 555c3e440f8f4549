/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fault hook of mpflowd-faults (server.h: fault_sync), a test build of
 * the primary: every sync of the journal — io_uring's and fdatasync(2)'s
 * alike — reports what the test wants.
 *
 * $MPFLOW_FAULTS names a file the test writes while the primary runs. When
 * it holds an errno name (EIO, ENOSPC, EDQUOT), every sync fails with that
 * errno, and fails the way Linux fails: the data written since the last
 * good sync of the file is lost (it reads back as zeros, the file keeps its
 * size), and the next sync may succeed without it. A primary that went on
 * appending after such a failure without rewriting the file would lose
 * what it acknowledged next; the tests look for exactly that.
 */
#include <errno.h>
#include <fcntl.h>
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

static int wanted_errno(void)
{
	const char *path = getenv("MPFLOW_FAULTS");
	char word[32] = "";
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%31s", word) != 1)
		word[0] = '\0';
	fclose(f);
	if (strcmp(word, "EIO") == 0)
		return EIO;
	if (strcmp(word, "ENOSPC") == 0)
		return ENOSPC;
	if (strcmp(word, "EDQUOT") == 0)
		return EDQUOT;
	return 0;
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

int fault_sync(int fd, int result)
{
	struct stat st;
	int fault;

	if (fd < 0 || fd >= FAULT_FDS || fstat(fd, &st) != 0)
		return result;
	if (files[fd].dev != st.st_dev || files[fd].ino != st.st_ino)
		files[fd] = (typeof(files[fd])){.dev = st.st_dev, .ino = st.st_ino, .synced = 0};
	fault = wanted_errno();
	if (fault) {
		lose_unsynced(fd, &st, files[fd].synced);
		return -fault;
	}
	if (result == 0)
		files[fd].synced = st.st_size;
	return result;
}
