/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The runtime and state directories are part of the trust boundary. A
 * directory that another user can write lets that user plant what the
 * primary (often root) then opens: a symlink where the pidfile goes, a
 * journal whose rules the primary restores. So each directory is opened
 * once, O_DIRECTORY | O_NOFOLLOW, and checked on that descriptor: owned by
 * the primary's uid or root, not writable by group or others. Every file
 * in it is then reached through the descriptor, never by a path that could
 * be swapped after the check: openat() with O_NOFOLLOW, renameat(),
 * unlinkat(); calls that take only a path (bind(2), libbsd's
 * pidfile_open()) get /proc/self/fd/N/NAME, which resolves through the
 * checked descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server.h"

/* Whether `st` may be trusted: ours or root's, writable by its owner only. */
static bool trusted(const struct stat *st)
{
	return (st->st_uid == geteuid() || st->st_uid == 0) && !(st->st_mode & 0022);
}

int dir_open(const char *path, mode_t mode, gid_t group, int *out, char *reason, size_t reason_size)
{
	struct stat st;
	bool made = false;
	int fd, err;

	if (mkdir(path, mode) == 0)
		made = true;
	else if (errno != EEXIST)
		goto fail_errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR) {
			snprintf(reason, reason_size,
				 "%s: not a directory (a symbolic link or "
				 "another file): refusing it",
				 path);
			return -ENOTDIR;
		}
		goto fail_errno;
	}
	/* The one we made: its group and mode exactly, whatever the umask. */
	if (made &&
	    ((group != (gid_t)-1 && fchown(fd, (uid_t)-1, group) != 0) || fchmod(fd, mode) != 0)) {
		err = errno;
		close(fd);
		errno = err;
		goto fail_errno;
	}
	if (fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		errno = err;
		goto fail_errno;
	}
	if (!trusted(&st)) {
		snprintf(reason, reason_size,
			 "%s: owned by uid %u with mode %04o; it must be owned by uid %u or root "
			 "and not writable by group or others",
			 path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
			 (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	*out = fd;
	return 0;
fail_errno:
	err = errno;
	snprintf(reason, reason_size, "%s: %s", path, strerror(err));
	return -err;
}

int dir_proc_path(int dirfd, const char *name, char *out, size_t size)
{
	int n = snprintf(out, size, "/proc/self/fd/%d/%s", dirfd, name);

	return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

int dir_check_entry(int dirfd, const char *dirpath, const char *name, char *reason,
		    size_t reason_size)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(reason, reason_size, "%s/%s: %s", dirpath, name, strerror(errno));
		return -errno;
	}
	if (S_ISLNK(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0)) {
		snprintf(reason, reason_size,
			 "%s/%s: %s owned by uid %u, not made by this primary: refusing it",
			 dirpath, name, S_ISLNK(st.st_mode) ? "a symbolic link" : "a file",
			 (unsigned)st.st_uid);
		return -EPERM;
	}
	return 0;
}

int dir_open_file(int dirfd, const char *dirpath, const char *name, int flags, char *reason,
		  size_t reason_size)
{
	struct stat st;
	int fd, err;

	/* O_NONBLOCK: a FIFO planted here must not hang the primary. */
	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = errno;
		snprintf(reason, reason_size, "%s/%s: %s", dirpath, name,
			 err == ELOOP ? "a symbolic link: refusing it" : strerror(err));
		return -err;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != geteuid() && st.st_uid != 0)) {
		snprintf(reason, reason_size,
			 "%s/%s: not a regular file of uid %u or root "
			 "(uid %u, mode %06o): refusing it",
			 dirpath, name, (unsigned)geteuid(), (unsigned)st.st_uid,
			 (unsigned)st.st_mode);
		close(fd);
		return -EPERM;
	}
	/* Back to blocking I/O for a regular file (O_NONBLOCK means nothing
	 * to it, but say what we mean). */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
		err = errno;
		close(fd);
		snprintf(reason, reason_size, "%s/%s: %s", dirpath, name, strerror(err));
		return -err;
	}
	return fd;
}

void state_lock_mark(struct server *s)
{
	char text[STATE_LOCK_PID_LEN + 1], name[48], reason[PATH_MAX + 160];
	int fd = s->state_lock_fd;

	if (!s->state_lock_stale)
		return;
	/* Taken read-only (a read-only state): written through a writable
	 * fd of its own once there can be one; the lock stays the first
	 * fd's. */
	if (s->state_lock_read_only) {
		snprintf(name, sizeof(name), INSTANCE_FMT ".lock", s->config.instance);
		fd = dir_open_file(s->state_fd, s->config.state_dir, name, O_RDWR, reason,
				   sizeof(reason));
		if (fd < 0)
			return;
	}
	snprintf(text, sizeof(text), STATE_LOCK_PID_FMT, (int)getpid());
	/* Only what the refusal of a second primary says: a full disk
	 * that has no block for it costs the lock nothing. */
	if (pwrite(fd, text, STATE_LOCK_PID_LEN, 0) == STATE_LOCK_PID_LEN)
		s->state_lock_stale = false;
	else
		log_debug("state lock: the pid was not written: %s", strerror(errno));
	if (fd != s->state_lock_fd)
		close(fd);
}
