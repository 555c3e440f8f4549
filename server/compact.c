/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal compacted beside the loop.
 *
 * The journal grows by a record per create and destroy; once dead records
 * outnumber twice the live ones (journal_maybe_compact), a new file that
 * holds only what is live takes its place. At millions of rules that is
 * seconds of reading and writing, so a thread of its own does it while the
 * loop goes on serving and appending to the old file:
 *
 *  1. start (loop): INSTANCE.journal.compact is made (O_EXCL after any
 *     stale one is unlinked, never followed); the thread gets a dup of the
 *     journal's fd and the offset written so far.
 *  2. the thread scans the old file up to there (the scan a start makes,
 *     journal_file.c) and writes the EPOCH, METER and RULE records still
 *     live, verbatim, in the order they were appended; syncs; copies what
 *     the loop wrote meanwhile (the loop publishes its written end) until
 *     less than CATCHUP_BYTES are left; syncs again; rings the bell.
 *  3. done (loop): the last bytes are copied, the compacted file becomes the
 *     journal's fd (journal.file + 1: a sync in flight on the old file no
 *     longer counts), and the next group-commit sync is a linked io_uring
 *     chain (loop_submit_fsync): fdatasync of the new file, rename over
 *     INSTANCE.journal, fsync of the directory. Until that chain completes
 *     nothing written after the switch is acknowledged, and the old file,
 *     complete up to the switch, is the journal a crash leaves: an
 *     acknowledged record is always in the file that has the name.
 *
 * A failure in the thread (ENOSPC, EIO, a record that does not read back)
 * drops the new file and leaves the journal as it was; the next try waits
 * a second. A failure of the chain is a failed sync: commit.c undoes what
 * it covered and rewrites the journal from the table (journal_rewrite),
 * which drops whatever a compaction made. One compaction at a time, and
 * none while a chain is in flight: a late rename never names another
 * compaction's file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "server/journal_file.h"
#include "shm/clock.h"

#define CATCHUP_BYTES  (1u << 20) /* what the thread leaves to the loop */
#define CATCHUP_ROUNDS 64u	  /* against a loop that appends faster */
#define COPY_CHUNK     (1u << 20)
#define RETRY_NS       1000000000ull

/* Copy `n` bytes of `from` at `at` to `to` at `to_at`. 0 or -errno. */
static int copy_bytes(int from, uint64_t at, int to, uint64_t to_at, uint64_t n)
{
	size_t size = n < COPY_CHUNK ? (size_t)n : COPY_CHUNK;
	uint8_t *buffer = n ? malloc(size) : NULL;
	int err = 0;

	if (n && buffer == NULL)
		return -ENOMEM;
	for (uint64_t done = 0; done < n && !err;) {
		size_t want = n - done < size ? (size_t)(n - done) : size;
		ssize_t r = pread(from, buffer, want, (off_t)(at + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO; /* the file is shorter than it was written */
			break;
		}
		err = journal_write_all(to, (off_t)(to_at + done), buffer, (size_t)r);
		done += (uint64_t)r;
	}
	free(buffer);
	return err;
}

/* What is live in the first c->copied bytes of the old file, into the new. */
static int snapshot(struct journal_compaction *c)
{
	struct journal_rewrite w = {.fd = c->fd};
	struct journal_scan sc = {0};
	uint64_t end = c->copied;
	uint8_t *data;
	int err;

	if (end == 0)
		return 0;
	data = mmap(NULL, end, PROT_READ, MAP_PRIVATE, c->old_fd, 0);
	if (data == MAP_FAILED)
		return -errno;
	madvise(data, end, MADV_SEQUENTIAL);
	err = journal_scan(data, end, 0, &sc);
	if (!err && sc.good_end != end) {
		c->damage = sc.stop;
		err = -EIO;
	}
	if (!err && sc.has_epoch)
		journal_rewrite_put(&w, JOURNAL_EPOCH, sc.epoch, NULL, 0);
	for (uint64_t at = 0, records = 0; !err && at < end; records++) {
		struct journal_record h;

		memcpy(&h, data + at, sizeof(h));
		if (journal_scan_live(&sc, data, at))
			journal_rewrite_raw(&w, data + at, sizeof(h) + h.length);
		at += sizeof(h) + h.length;
		if (records % 4096 == 0 && atomic_load_explicit(&c->stop, memory_order_relaxed))
			err = -ECANCELED;
	}
	if (journal_rewrite_finish(&w) != 0 && !err)
		err = w.err;
	c->size = w.at;
	c->kept = w.records;
	journal_scan_free(&sc);
	munmap(data, end);
	return err;
}

/* Copy what the loop wrote since, until little is left. */
static int catch_up(struct journal_compaction *c)
{
	bool copied = false;

	for (unsigned round = 0; round < CATCHUP_ROUNDS; round++) {
		uint64_t end = atomic_load_explicit(&c->written_end, memory_order_acquire);
		int err;

		if (end - c->copied < CATCHUP_BYTES ||
		    atomic_load_explicit(&c->stop, memory_order_relaxed))
			break;
		err = copy_bytes(c->old_fd, c->copied, c->fd, c->size, end - c->copied);
		if (err)
			return err;
		c->size += end - c->copied;
		c->copied = end;
		copied = true;
	}
	/* So that the sync the loop's switch waits for has little to do. */
	return copied ? journal_fdatasync(c->fd) : 0;
}

static void *compact_thread(void *arg)
{
	struct journal_compaction *c = arg;
	int err = snapshot(c);

	if (!err)
		err = journal_fdatasync(c->fd);
	if (!err)
		err = catch_up(c);
	c->err = err;
	eventfd_write(c->bell, 1);
	return NULL;
}

/* The new file is dropped: the journal stays as it is. */
static void drop(struct server *s)
{
	struct journal_compaction *c = &s->journal.compact;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (unlinkat(s->state_fd, c->name, 0) != 0 && errno != ENOENT)
		log_warn("journal %s: cannot remove %s", s->journal.path, c->name);
}

int compact_init(struct server *s)
{
	struct journal *j = &s->journal;
	struct journal_compaction *c = &j->compact;

	*c = (struct journal_compaction){.bell = -1, .old_fd = -1, .fd = -1};
	snprintf(c->name, sizeof(c->name), "%s.compact", j->name);
	c->bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->bell < 0)
		return -errno;
	/* What a compaction that a crash cut short left. */
	if (unlinkat(s->state_fd, c->name, 0) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}

void compact_start(struct server *s)
{
	struct journal *j = &s->journal;
	struct journal_compaction *c = &j->compact;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	int err;

	if (c->running || c->rename_owed || c->chains || j->broken || j->fd < 0 || c->bell < 0 ||
	    now < c->retry_ns)
		return;
	c->retry_ns = now + RETRY_NS;
	if (unlinkat(s->state_fd, c->name, 0) != 0 && errno != ENOENT) {
		log_warn("journal %s: compaction deferred: cannot remove %s", j->path, c->name);
		return;
	}
	c->fd = openat(s->state_fd, c->name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		       0600);
	c->old_fd = fcntl(j->fd, F_DUPFD_CLOEXEC, 0);
	if (c->fd < 0 || c->old_fd < 0) {
		log_warn("journal %s: compaction deferred: cannot open %s", j->path, c->name);
		goto fail;
	}
	c->file = j->file;
	c->copied = j->file_end;
	c->records_at = j->records - j->unwritten.records;
	c->started_ns = now;
	c->err = 0;
	c->size = c->kept = 0;
	c->damage = NULL;
	atomic_store_explicit(&c->written_end, j->file_end, memory_order_relaxed);
	atomic_store_explicit(&c->stop, false, memory_order_relaxed);
	/* The thread inherits the loop's blocked signals (signalfd). */
	err = pthread_create(&c->thread, NULL, compact_thread, c);
	if (err) {
		log_warnx("journal %s: compaction deferred: no thread: %s", j->path, strerror(err));
		goto fail;
	}
	c->running = true;
	log_info("journal %s: compacting %llu records (%u persistent rules live) beside the loop",
		 j->path, (unsigned long long)c->records_at, s->persistent_rules);
	return;
fail:
	if (c->old_fd >= 0)
		close(c->old_fd);
	c->old_fd = -1;
	drop(s);
}

/* Wait for the thread; its result is c->err. */
static void join(struct journal_compaction *c)
{
	pthread_join(c->thread, NULL);
	c->running = false;
	close(c->old_fd);
	c->old_fd = -1;
}

void compact_done(struct server *s)
{
	struct journal *j = &s->journal;
	struct journal_compaction *c = &j->compact;
	uint64_t now = clock_ns(CLOCK_MONOTONIC), was = j->file_end, records;
	int err;

	if (!c->running)
		return;
	join(c);
	if (c->file != j->file || j->broken || j->fd < 0) {
		drop(s); /* the journal was rewritten meanwhile */
		return;
	}
	err = c->err;
	if (!err)
		err = copy_bytes(j->fd, c->copied, c->fd, c->size, j->file_end - c->copied);
	if (err) {
		log_warnx("journal %s: compaction deferred: %s%s%s", j->path, strerror(-err),
			  c->damage ? ": the file reads back with " : "",
			  c->damage ? c->damage : "");
		drop(s);
		c->retry_ns = now + RETRY_NS;
		return;
	}
	records = c->kept + (j->records - c->records_at);
	close(j->fd);
	j->fd = c->fd;
	c->fd = -1;
	j->file_end = c->size + (j->file_end - c->copied);
	atomic_store_explicit(&c->written_end, j->file_end, memory_order_relaxed);
	log_info("journal %s: compacted beside the loop in %.2f s: %llu records in %llu bytes, "
		 "were %llu in %llu",
		 j->path, (double)(now - c->started_ns) / 1e9, (unsigned long long)records,
		 (unsigned long long)j->file_end, (unsigned long long)j->records,
		 (unsigned long long)was);
	j->records = records;
	/* A sync in flight covers the old file: the chain covers it all. */
	j->file++;
	j->sync_target = 0;
	c->rename_owed = true;
	commit_start_sync(s);
}

bool compact_chain_step(struct server *s, uint32_t file, unsigned step, int *res)
{
	struct journal *j = &s->journal;
	struct journal_compaction *c = &j->compact;

	if (step == 1 && file == j->file)
		*res = fault_sync(j->fd, *res);
	if (*res < 0 && c->chain_err == 0)
		c->chain_err = *res; /* the steps after it say ECANCELED */
	if (step < 3)
		return false;
	c->chains--;
	*res = c->chain_err;
	c->chain_err = 0;
	if (*res == 0 && file == j->file)
		c->rename_owed = false;
	return true;
}

int compact_name_now(struct server *s)
{
	struct journal *j = &s->journal;
	struct journal_compaction *c = &j->compact;
	int err;

	if (!c->rename_owed)
		return 0;
	err = journal_fdatasync(j->fd);
	if (!err && renameat(s->state_fd, c->name, s->state_fd, j->name) != 0)
		err = -errno;
	if (!err && fsync(s->state_fd) != 0)
		err = -errno;
	if (err)
		return err;
	c->rename_owed = false;
	/* A chain in flight is late now: its rename finds nothing to move. */
	j->file++;
	j->sync_target = 0;
	return 0;
}

void compact_abandon(struct server *s)
{
	struct journal_compaction *c = &s->journal.compact;

	atomic_store_explicit(&c->stop, true, memory_order_relaxed);
	c->rename_owed = false;
	if (unlinkat(s->state_fd, c->name, 0) != 0 && errno != ENOENT)
		log_warn("journal %s: cannot remove %s", s->journal.path, c->name);
}

void compact_fini(struct server *s)
{
	struct journal_compaction *c = &s->journal.compact;

	if (c->running) {
		atomic_store_explicit(&c->stop, true, memory_order_relaxed);
		join(c);
		drop(s);
	}
	if (c->bell >= 0)
		close(c->bell);
	c->bell = -1;
}
