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
 *  2. the thread reads the old file up to there with pread(2) (a mapping
 *     would turn a read error into SIGBUS), scanning it as a start does
 *     (journal_file.c); reads it again and writes the EPOCH, METER and RULE
 *     records still live, verbatim, in the order they were appended; syncs;
 *     copies what the loop wrote meanwhile (the loop publishes its written
 *     end), record by record, each one checked, until less than
 *     CATCHUP_BYTES are left; syncs again; rings the bell.
 *  3. switch (loop), at a moment no sync of the old file is in flight (so
 *     that sync's verdict is never lost): the last records are copied, each
 *     checked, the compacted file becomes the journal's fd (journal.file +
 *     1), and the next group-commit sync is a chain (loop_submit_fsync):
 *     fdatasync of the new file, then, once it succeeded, its rename over
 *     INSTANCE.journal linked to an fsync of the directory
 *     (compact_chain_step). Until that chain completes
 *     nothing written after the switch is acknowledged, and the old file,
 *     complete up to the switch, is the journal a crash leaves: an
 *     acknowledged record is always in the file that has the name.
 *
 * A failure in the thread (ENOSPC, EIO, a record that does not check)
 * drops the new file (the thread unlinks it: a large unlink is not the
 * loop's to wait for) and leaves the journal as it was; the next try waits
 * a second, doubling to a minute while they keep failing. None starts
 * without room for the live records and half as much again beside the
 * appends (room_needed), nor while a file it replaced is still closing;
 * short of room, the next sync 10 ms on looks again. A failure
 * of the chain is a failed sync: commit.c undoes what it covered and
 * rewrites the journal from the table (rebuild.c), which drops
 * whatever a compaction made. One compaction at a time, and none while a
 * chain is in flight: a late rename never names another compaction's file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/journal_file.h"
#include "shm/clock.h"

#define CATCHUP_BYTES  (1u << 20) /* what the thread leaves to the loop */
#define CATCHUP_ROUNDS 64u	  /* against a loop that appends faster */
#define RETRY_NS       1000000000ull
#define RETRY_MAX_NS   (64 * RETRY_NS)
/* A compaction short of room looks again this soon (at the next sync):
 * a second's wait let the churn of a small state directory fill it. It
 * says so once a minute. */
#define ROOM_RETRY_NS 10000000ull
#define ROOM_SAID_NS  60000000000ull
/* Bytes free beyond room_needed()'s estimate: the file system's own. A
 * margin of megabytes kept a small state directory from ever compacting,
 * until dead records filled it and every persistent request failed. */
#define ROOM_MARGIN (64u << 10)
/* Free space beyond that which the loop's appends take seconds to fill
 * (at a million persistent records a second, 40 MB/s): a compaction may
 * then run behind the loop without the disk filling meanwhile. */
#define POLITE_ROOM (256ull << 20)

static bool stopped(struct journal_compaction *c)
{
	return atomic_load_explicit(&c->stop, memory_order_relaxed);
}

/* Records [from, end) of the old file, each checked, appended to `w`
 * (all of them, or those `sc` left live). 0 or -errno. */
static int copy_records(struct journal_compaction *c, uint64_t from, uint64_t end,
			const struct journal_scan *sc, struct journal_rewrite *w)
{
	struct journal_reader r = {.fd = c->old_fd, .end = end, .base = from};
	const uint8_t *record;
	struct journal_record h;
	uint64_t at, n = 0;
	int got;

	while ((got = journal_read(&r, &h, &record, &at)) == 1) {
		if (sc == NULL || journal_scan_live(sc, &h, at))
			journal_rewrite_raw(w, record, sizeof(h) + h.length);
		if (w->err || (++n % 4096 == 0 && stopped(c)))
			break;
	}
	journal_reader_free(&r);
	if (got < 0)
		c->damage = r.damage;
	return got < 0 ? got : w->err ? w->err : stopped(c) ? -ECANCELED : 0;
}

/* What is live in the first c->copied bytes of the old file, into the new. */
static int snapshot(struct journal_compaction *c)
{
	struct journal_reader r = {.fd = c->old_fd, .end = c->copied};
	struct journal_rewrite w = {.fd = c->fd};
	struct journal_scan sc = {0};
	const uint8_t *record;
	struct journal_record h;
	uint64_t at;
	int err = 0, got;

	while (!err && (got = journal_read(&r, &h, &record, &at)) == 1)
		if ((err = journal_scan_record(&sc, &h, at)) == 0 && sc.records % 4096 == 0 &&
		    stopped(c))
			err = -ECANCELED;
	if (!err && got < 0) {
		c->damage = r.damage;
		err = got;
	}
	journal_reader_free(&r);
	if (!err && sc.has_epoch)
		journal_rewrite_put(&w, JOURNAL_EPOCH, sc.epoch, NULL, 0);
	if (!err)
		err = copy_records(c, 0, c->copied, &sc, &w);
	if (journal_rewrite_finish(&w) != 0 && !err)
		err = w.err;
	c->size = c->snapshot_size = w.at;
	c->kept = w.records;
	journal_scan_free(&sc);
	return err;
}

/* Copy the records the loop wrote from c->copied to `end` into the new
 * file. 0 or -errno. */
static int append_written(struct journal_compaction *c, uint64_t end)
{
	struct journal_rewrite w = {.fd = c->fd, .at = c->size};
	int err = copy_records(c, c->copied, end, NULL, &w);

	if (journal_rewrite_finish(&w) != 0 && !err)
		err = w.err;
	if (err)
		return err;
	c->size = w.at;
	c->kept += w.records;
	c->copied = end;
	return 0;
}

/* Copy what the loop wrote since, until little is left. */
static int catch_up(struct journal_compaction *c)
{
	bool copied = false;

	for (unsigned round = 0; round < CATCHUP_ROUNDS && !stopped(c); round++) {
		uint64_t end = atomic_load_explicit(&c->written_end, memory_order_acquire);
		int err;

		if (end - c->copied < CATCHUP_BYTES)
			break;
		err = append_written(c, end);
		if (err)
			return err;
		copied = true;
	}
	/* So that the sync the switch waits for has little to do. */
	return copied ? journal_fdatasync(c->fd) : 0;
}

static void *compact_thread(void *arg)
{
	struct journal_compaction *c = arg;
	int err;

	/* Background work: where the loop and it want the same core, the
	 * loop serves first; unless the disk is tight, where a compaction
	 * outrun by the loop's appends would fill it. */
	if (c->polite)
		setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	err = snapshot(c);

	if (!err)
		err = journal_fdatasync(c->fd);
	if (!err)
		err = catch_up(c);
	if (err) {
		/* Dropped here: unlinking gigabytes is not the loop's to wait for. */
		unlinkat(c->state_fd, c->name, 0);
		close(c->fd);
		c->fd = -1;
	}
	c->err = err;
	eventfd_write(c->bell, 1);
	return NULL;
}

/* The new file is dropped: the journal stays as it is. */
static void drop(struct server *s)
{
	struct journal_compaction *c = &s->journal.compact;

	c->ready = false;
	loop_close(s, c->fd); /* unlinked below: its blocks are freed */
	c->fd = -1;
	/* None to remove (read-only: none could be made) is no news. */
	if (unlinkat(s->state_fd, c->name, 0) != 0 && errno != ENOENT && errno != EROFS)
		log_warn("journal %s: cannot remove %s", s->journal.path, c->name);
}

static void log_deferred(const struct server *s, int err)
{
	const char *damage = s->journal.compact.damage;

	log_warnx("journal %s: compaction deferred: %s%s%s", s->journal.path, strerror(-err),
		  damage ? ": the file reads back with " : "", damage ? damage : "");
}

/* The old file is no longer the one with the journal's name. */
/* The old file: once renamed over, closing it frees its blocks. */
static void forget_named(struct server *s)
{
	struct journal_compaction *c = &s->journal.compact;

	loop_close(s, c->named_fd);
	c->named_fd = -1;
}

static void close_old(struct journal_compaction *c)
{
	if (c->old_fd >= 0)
		close(c->old_fd);
	c->old_fd = -1;
}

/* The next try waits, longer while they keep failing. */
static void defer(struct journal_compaction *c, uint64_t now)
{
	c->retry_ns = now + c->backoff_ns;
	c->backoff_ns = c->backoff_ns * 2 < RETRY_MAX_NS ? c->backoff_ns * 2 : RETRY_MAX_NS;
}

int compact_init(struct server *s)
{
	struct journal *j = &s->journal;
	struct journal_compaction *c = &j->compact;

	*c = (struct journal_compaction){.bell = -1,
					 .old_fd = -1,
					 .fd = -1,
					 .named_fd = -1,
					 .state_fd = s->state_fd,
					 .backoff_ns = RETRY_NS};
	snprintf(c->name, sizeof(c->name), "%s.compact", j->name);
	c->bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->bell < 0)
		return -errno;
	/* What a compaction that a crash cut short left. On a read-only
	 * state it stays: a compaction removes it first anyway. */
	return journal_remove_leftover(s, c->name);
}

/* What a compaction needs free: room for the live records, and half as
 * much again for what the loop appends meanwhile (written to the old file,
 * then copied to the new). Asking twice the live records kept a state
 * directory a third full from ever compacting once a little was dead: a
 * compaction outrun by the appends fails with ENOSPC, harmlessly, and is
 * tried again. */
static uint64_t room_needed(const struct server *s)
{
	const struct journal *j = &s->journal;
	uint64_t live = journal_live_records(s) + 1, /* + the epoch */
		bytes = j->records ? j->file_end / j->records * live : 0;

	return bytes + bytes / 2 + ROOM_MARGIN;
}

bool compact_room_short(const struct server *s)
{
	return journal_fs_room(s->journal.fd) < 2 * room_needed(s);
}

/* Room for a compaction (room_needed()); whether there is so much more
 * that the thread may yield to the loop (c->polite). Short of room is said
 * once a minute: it is looked at again every ROOM_RETRY_NS. */
static bool room_for(struct server *s, uint64_t now)
{
	struct journal *j = &s->journal;
	struct journal_compaction *c = &j->compact;
	uint64_t need = room_needed(s), free_bytes = journal_fs_room(j->fd);

	c->polite = free_bytes >= need + POLITE_ROOM;
	if (free_bytes >= need) {
		c->room_said_ns = 0; /* the next shortage is news */
		return true;
	}
	if (c->room_said_ns == 0 || now - c->room_said_ns >= ROOM_SAID_NS) {
		log_warnx("journal %s: compaction deferred: %llu bytes free, about %llu needed",
			  j->path, (unsigned long long)free_bytes, (unsigned long long)need);
		c->room_said_ns = now;
	}
	return false;
}

void compact_start(struct server *s)
{
	struct journal *j = &s->journal;
	struct journal_compaction *c = &j->compact;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	int err;

	if (c->running || c->ready || c->rename_owed || c->chains || j->broken || j->fd < 0 ||
	    c->bell < 0 || now < c->retry_ns)
		return;
	/* A file closing in io_uring's worker (the journal a compaction
	 * replaced, a dropped one) still holds its blocks: the room read now
	 * would be short by them. The next sync looks again. */
	if (s->closing)
		return;
	/* Short of room, looked at again soon (what frees it, a close or an
	 * operator's rm, comes any moment): not a failure that backs off. */
	if (!room_for(s, now)) {
		c->retry_ns = now + ROOM_RETRY_NS;
		return;
	}
	if (unlinkat(s->state_fd, c->name, 0) != 0 && errno != ENOENT) {
		log_warn("journal %s: compaction deferred: cannot remove %s", j->path, c->name);
		defer(c, now);
		return;
	}
	c->fd = openat(s->state_fd, c->name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		       0600);
	if (c->fd < 0 || journal_lock(c->fd) != 0) {
		log_warn("journal %s: compaction deferred: cannot create %s", j->path, c->name);
		goto fail;
	}
	c->old_fd = fcntl(j->fd, F_DUPFD_CLOEXEC, 0);
	if (c->old_fd < 0) {
		log_warn("journal %s: compaction deferred: cannot duplicate its fd", j->path);
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
	close_old(c);
	drop(s);
	defer(c, now);
}

/* Wait for the thread; its result is c->err. */
static void join(struct journal_compaction *c)
{
	pthread_join(c->thread, NULL);
	c->running = false;
}

void compact_done(struct server *s)
{
	struct journal *j = &s->journal;
	struct journal_compaction *c = &j->compact;

	if (!c->running)
		return;
	join(c);
	if (c->err) {
		/* The thread dropped its file. */
		close_old(c);
		if (c->file != j->file)
			return; /* abandoned: the journal was rewritten meanwhile */
		if (c->err == -ECANCELED) {
			log_info("journal %s: compaction abandoned: the journal is rewritten",
				 j->path);
			return;
		}
		log_deferred(s, c->err);
		defer(c, clock_ns(CLOCK_MONOTONIC));
		return;
	}
	c->ready = true;
	compact_switch(s);
}

void compact_switch(struct server *s)
{
	struct journal *j = &s->journal;
	struct journal_compaction *c = &j->compact;
	uint64_t now = clock_ns(CLOCK_MONOTONIC), was = j->file_end, records, unsynced;
	int err;

	/* A sync of the old file in flight is waited for: its verdict
	 * counts (commit_synced calls again). */
	if (!c->ready || j->sync_target)
		return;
	if (c->file != j->file || j->broken || j->fd < 0) {
		close_old(c);
		drop(s); /* the journal was rewritten meanwhile */
		return;
	}
	err = append_written(c, j->file_end);
	close_old(c);
	if (err) {
		log_deferred(s, err);
		drop(s);
		defer(c, now);
		return;
	}
	c->ready = false;
	records = c->kept + j->unwritten.records;
	/* Bytes of the old file past its last good sync; nothing is cut
	 * where the figures do not fit (they always do: durable data is
	 * never what goes). */
	unsynced = j->end - j->unwritten.used - j->durable;
	c->old_durable_end = unsynced <= was ? was - unsynced : was;
	forget_named(s);
	c->named_fd = j->fd; /* until the rename */
	j->verbatim_from = c->snapshot_size;
	j->fd = c->fd;
	c->fd = -1;
	log_info("journal %s: compacted beside the loop in %.2f s: %llu records in %llu bytes, "
		 "were %llu in %llu",
		 j->path, (double)(now - c->started_ns) / 1e9, (unsigned long long)records,
		 (unsigned long long)c->size, (unsigned long long)j->records,
		 (unsigned long long)was);
	j->file_end = c->size;
	j->records = records;
	atomic_store_explicit(&c->written_end, j->file_end, memory_order_relaxed);
	j->file++;
	c->rename_owed = true;
	c->backoff_ns = RETRY_NS;
	fault_point("compact-chain");
	commit_start_sync(s);
	fault_point("compact-switch");
}

bool compact_chain_step(struct server *s, uint32_t file, unsigned step, int *res)
{
	struct journal *j = &s->journal;
	struct journal_compaction *c = &j->compact;

	if (step == 1) {
		/* The test build's failing sync (loop.c). */
		*res = fault_chain_step(file == j->file ? j->fd : -1, *res, c->chain_fault);
		/* Named once synced, if it still is the journal's file: a
		 * chain of a file since replaced has nothing to name. */
		if (*res == 0 && file == j->file && c->rename_owed) {
			loop_submit_journal_naming(s, file, c->name);
			return false;
		}
		c->chains--;
		return true;
	}
	if (*res < 0 && c->chain_err == 0)
		c->chain_err = *res; /* a failed rename: its directory sync says ECANCELED */
	if (step < 3)
		return false;
	c->chains--;
	*res = c->chain_err;
	c->chain_err = 0;
	if (*res == 0 && file == j->file) {
		c->rename_owed = false;
		forget_named(s);
	}
	return true;
}

/* Whether the journal's name already is the file `fd` (a chain's rename
 * did it, its completion not yet read). */
static bool named(struct server *s, int fd)
{
	struct stat a, b;

	return fstatat(s->state_fd, s->journal.name, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	       fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int compact_name_now(struct server *s)
{
	struct journal *j = &s->journal;
	struct journal_compaction *c = &j->compact;
	int err;

	if (!c->rename_owed)
		return 0;
	err = journal_fdatasync(j->fd);
	if (!err && renameat(s->state_fd, c->name, s->state_fd, j->name) != 0 &&
	    !(errno == ENOENT && named(s, j->fd)))
		err = -errno;
	if (!err && fsync(s->state_fd) != 0)
		err = -errno;
	if (err)
		return err;
	c->rename_owed = false;
	forget_named(s);
	/* A chain in flight is late now: its rename finds nothing to move. */
	j->file++;
	j->sync_target = 0;
	return 0;
}

bool compact_cut_old(struct server *s)
{
	struct journal_compaction *c = &s->journal.compact;

	if (c->named_fd < 0)
		return true;
	if (fault_no_cut() || ftruncate(c->named_fd, (off_t)c->old_durable_end) != 0) {
		log_warn("journal %s: cannot cut what the failed sync undid from the old file",
			 s->journal.path);
		return false;
	}
	return true;
}

void compact_abandon(struct server *s)
{
	struct journal_compaction *c = &s->journal.compact;

	c->rename_owed = false;
	forget_named(s);
	if (c->running) {
		/* Its file is the thread's until it is joined: only the name
		 * goes now; compact_done drops the rest. */
		atomic_store_explicit(&c->stop, true, memory_order_relaxed);
		if (unlinkat(s->state_fd, c->name, 0) != 0 && errno != ENOENT)
			log_warn("journal %s: cannot remove %s", s->journal.path, c->name);
		return;
	}
	close_old(c);
	drop(s);
}

void compact_fini(struct server *s)
{
	struct journal_compaction *c = &s->journal.compact;

	if (c->running) {
		atomic_store_explicit(&c->stop, true, memory_order_relaxed);
		join(c);
	}
	close_old(c); /* a thread's, or a compaction waiting for its switch */
	forget_named(s);
	if (c->fd >= 0)
		drop(s);
	if (c->bell >= 0)
		close(c->bell);
	c->bell = -1;
}
