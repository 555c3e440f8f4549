/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal rebuilt from the rule table.
 *
 * A sync that failed leaves the journal's file untrusted (journal.c), and
 * a start that found it damaged keeps nothing after the damage: a new file
 * is written from the table — the epoch, the meters, then each port's
 * persistent rules in testpmd's order, those kept without a slot in their
 * place by the numbers they took (rule_table.ports[].reserved), so that a
 * start restores them in the order they were made — synced, and renamed
 * over INSTANCE.journal. A start does that at once (rebuild_now). A running
 * primary does it in steps of the loop (rebuild_start, rebuild_step): at
 * millions of rules the table is seconds of writing, and clients whose
 * rules are not persistent are served all along.
 *
 * A step writes rules, those kept without a slot among them, for
 * REBUILD_STEP_NS; its place on the port's list (rule_table.walk) is the
 * rule it looked at last, which a rule leaving the list hands back to the
 * one before it, and in the kept rules journal_rebuild.orphan. The persistent rules cannot
 * change meanwhile: until the new file is in place the journal is broken
 * and every persistent request is refused. Rules of clients come and go
 * around the walk, new ones at the list's end, and are skipped; a rule is
 * written once, in its place. Once every rule is written,
 * a damaged file is linked aside (it keeps the journal's name until the
 * rename), and a linked io_uring chain (loop.c) syncs the new file, renames
 * it over the journal and syncs the directory; its completion puts the new
 * file in the journal's place and acknowledges what waited. A failure
 * anywhere drops the new file; the timer tries again a second later.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/journal_file.h"
#include "shm/clock.h"

#define REBUILD_STEP_NS	     1000000ull	    /* of writing in one loop round */
#define REBUILD_RETRY_NS     1000000000ull  /* from a failed rebuild to the next */
#define REBUILD_SAY_AGAIN_NS 60000000000ull /* the same failure, said again */
#define REBUILD_CHECK	     256u	    /* rules between looks at the clock */
#define REBUILD_TAG_MASK     0xffffffu	    /* of a rebuild's generation: its chain's tag */

/* The new file's name in the state directory. */
static void new_name(const struct journal *j, char *out, size_t size)
{
	snprintf(out, size, "%s.new", j->name);
}

/* Forget a rebuild: its file goes (a chain in flight finds nothing to
 * rename). */
static void drop(struct server *s)
{
	struct journal_rebuild *b = &s->journal.rebuild;
	char name[sizeof(s->journal.name) + 8];

	if (b->fd < 0)
		return;
	journal_buffer_free(&b->w.buffer);
	loop_close(s, b->fd); /* unlinked below: its blocks are freed */
	b->fd = -1;
	b->written = b->syncing = false;
	new_name(&s->journal, name, sizeof(name));
	if (unlinkat(s->state_fd, name, 0) != 0 && errno != ENOENT)
		log_warn("journal %s: cannot remove %s", s->journal.path, name);
}

static void put_orphan(struct journal_rebuild *b, const struct journal_orphan *o)
{
	journal_rewrite_put(&b->w, o->type, o->handle, o->payload, o->length);
}

/* A step's records so far (`looked`, counted here): whether its time is
 * up, or its `cap` of them reached (the test build's steps; 0: none). */
struct step {
	uint64_t deadline_ns;
	unsigned cap, looked;
};

static bool step_over(struct step *t)
{
	if ((t->cap && t->looked == t->cap) || (t->looked % REBUILD_CHECK == REBUILD_CHECK - 1 &&
						clock_ns(CLOCK_MONOTONIC) >= t->deadline_ns))
		return true;
	t->looked++;
	return false;
}

/* The rules kept without a slot on the port being written whose numbers
 * are below `below` (all that are left: UINT32_MAX), in their order: each
 * in its place among the table's, as the order made wants. The array is
 * in place order (journal.orphans), so the whole rebuild reads it once.
 * False where the step's time ran out first (a port may keep millions). */
static bool write_orphans(struct server *s, uint32_t below, struct step *t)
{
	struct journal *j = &s->journal;
	struct journal_rebuild *b = &j->rebuild;

	for (; b->orphan < j->n_orphans; b->orphan++) {
		const struct journal_orphan *o = &j->orphans[b->orphan];

		if (o->port != b->port || o->number >= below)
			return true;
		if (o->dying || o->gone)
			continue;
		if (step_over(t))
			return false;
		put_orphan(b, o);
	}
	return true;
}

/* A new file with what precedes the rules: the epoch, the meters, the rules
 * kept without a port they can be on (persistent state is frozen while the
 * journal is broken, so these do not change under the steps). 0 or
 * -errno. */
static int begin(struct server *s)
{
	struct journal *j = &s->journal;
	struct journal_rebuild *b = &j->rebuild;
	char name[sizeof(j->name) + 8];
	uint32_t generation = b->generation + 1;
	unsigned portless;
	int fd, err;

	drop(s);
	compact_abandon(s);
	new_name(j, name, sizeof(name));
	/* A stale one is removed (a symlink is not followed), then made anew. */
	if (unlinkat(s->state_fd, name, 0) != 0 && errno != ENOENT)
		return -errno;
	fd = openat(s->state_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if ((err = journal_lock(fd)) != 0) {
		close(fd);
		return err;
	}
	*b = (struct journal_rebuild){.fd = fd,
				      .w = {.fd = fd},
				      .generation = generation,
				      .started_ns = clock_ns(CLOCK_MONOTONIC)};
	s->rules.walk = 0;
	journal_rewrite_put(&b->w, JOURNAL_EPOCH, j->epoch, NULL, 0);
	for (unsigned i = 0; i < j->n_meters; i++)
		if (!j->meters[i].dying)
			journal_rewrite_put(&b->w, JOURNAL_METER, j->meters[i].key,
					    j->meters[i].request, j->meters[i].length);
	/* The kept rules lie in place order, those on no port last
	 * (journal.orphans), and persistent state is frozen while the
	 * journal is broken: they stay put until the rebuild ends. */
	portless = j->n_orphans;
	while (portless > 0 && j->orphans[portless - 1].port >= HWDRV_PORTS_MAX)
		portless--;
	for (unsigned i = portless; i < j->n_orphans; i++)
		if (!j->orphans[i].dying && !j->orphans[i].gone)
			put_orphan(b, &j->orphans[i]);
	return b->w.err;
}

/* Write rules until `deadline_ns` (or `cap` rules, the test build's
 * steps; 0: no cap): 1 while some are left, 0 when all are written,
 * -errno. */
static int write_rules(struct server *s, uint64_t deadline_ns, unsigned cap)
{
	struct journal_rebuild *b = &s->journal.rebuild;
	/* Each rule's packed form, from the directory (or its heap). */
	uint8_t packed[RULE_HEAP_CHAIN_MAX * REGION_CHUNK_BYTES];
	struct step t = {.deadline_ns = deadline_ns, .cap = cap};
	uint32_t walk = s->rules.walk, next;

	next = walk ? s->rules.slots[walk - 1].port_next : s->rules.ports[b->port].first;
	for (;;) {
		const struct rule_slot *r;
		const uint8_t *bytes;
		uint32_t slot, length;

		if (b->w.err)
			return b->w.err;
		if (next == 0) {
			if (!write_orphans(s, UINT32_MAX, &t))
				return 1;
			if (++b->port == HWDRV_PORTS_MAX)
				return b->w.err;
			s->rules.walk = 0;
			next = s->rules.ports[b->port].first;
			continue;
		}
		slot = next - 1;
		r = &s->rules.slots[slot];
		/* The kept rules before it first: the walk stays on it until
		 * they are written. */
		if (!r->dying && r->owner == 0 && !write_orphans(s, r->number, &t))
			return 1;
		if (step_over(&t))
			return 1;
		next = r->port_next;
		s->rules.walk = slot + 1;
		if (r->dying || r->owner != 0)
			continue;
		/* A rule whose packed form does not unpack fails the rebuild:
		 * never a record no start could read in its place. */
		bytes = rules_packed(s, slot, packed, &length);
		if (bytes == NULL ||
		    rule_unpack(bytes, length, s->scratch->unpacked, sizeof(s->scratch->unpacked),
				&s->scratch->unpack_memo) <= 0)
			return -EPROTO;
		if (r->maker)
			journal_rewrite_put(&b->w, JOURNAL_RULE_OF_UID,
					    (uint64_t)r->generation << 32 | slot,
					    s->scratch->of_uid,
					    journal_rule_of_uid(s->rules.makers[r->maker].uid,
								bytes, length, s->scratch->of_uid));
		else
			journal_rewrite_put(&b->w, JOURNAL_RULE_PACKED,
					    (uint64_t)r->generation << 32 | slot, bytes, length);
	}
}

/* Where the file system has no hard links (vfat, some FUSE and network
 * file systems): the damaged file `from` copied to `to`, a new file
 * (O_EXCL: nothing planted there is followed or overwritten), synced, its
 * name too. The loop waits for it (seconds for a journal of gigabytes, in
 * this rare case); a partial copy is removed. 0 or -errno. */
static int copy_damaged(struct server *s, const char *from, const char *to)
{
	static uint8_t buffer[64 << 10];
	int in = openat(s->state_fd, from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1, err = 0;
	struct stat st;
	off_t at = 0;

	if (in < 0)
		return -errno;
	/* No room for it: said at once, not found by filling the disk each
	 * second the rebuild tries again (a hint: journal_fs_room()). */
	if (fstat(in, &st) != 0)
		err = -errno;
	else if (journal_fs_room(in) < (uint64_t)st.st_size)
		err = -ENOSPC;
	else if ((out = openat(s->state_fd, to,
			       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		err = -errno;
	else
		fault_point("damaged-copy"); /* made, nothing in it yet */
	while (!err) {
		ssize_t n = pread(in, buffer, sizeof(buffer), at);

		if (n == 0)
			break;
		if (n < 0) {
			err = errno == EINTR ? 0 : -errno;
			continue;
		}
		err = journal_write_all(out, at, buffer, (size_t)n);
		at += n;
	}
	if (!err && fsync(out) != 0)
		err = -errno;
	if (!err && fsync(s->state_fd) != 0) /* its name, before the journal's moves */
		err = -errno;
	close(in);
	if (out >= 0) {
		close(out);
		if (err) /* not kept: the next try makes another */
			unlinkat(s->state_fd, to, 0);
	}
	return err;
}

/* The damaged file, still under the journal's name, is linked under a name
 * of its own before a new file takes that name: never overwritten. Where
 * the file system has no hard links, it is copied there. */
static int keep_damaged(struct server *s)
{
	struct journal *j = &s->journal;
	char name[sizeof(j->name) + 64];
	struct timespec ts;
	struct tm tm;
	int err = 0;

	if (!j->damaged || j->damage_kept)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(name, sizeof(name), "%s.damaged-%04d%02d%02dT%02d%02d%02d.%09ld", j->name,
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts.tv_nsec);
	if (fault_no_links())
		err = -EPERM;
	else if (linkat(s->state_fd, j->name, s->state_fd, name, 0) != 0)
		err = -errno;
	/* What file systems without hard links say to link(2). A failed copy
	 * is the rebuild's failure, said as failed() says it. */
	if (err == -EPERM || err == -EOPNOTSUPP || err == -EMLINK || err == -ENOSYS) {
		err = copy_damaged(s, j->name, name);
		if (!err)
			log_warnx("journal %s: the damaged file is kept as %s/%s (a copy: no hard "
				  "links on this file system)",
				  j->path, s->config.state_dir, name);
	} else if (!err) {
		log_warnx("journal %s: the damaged file is kept as %s/%s", j->path,
			  s->config.state_dir, name);
	}
	if (err)
		return err;
	j->damage_kept = true;
	return 0;
}

/* The new file, synced and named, is the journal now: everything appended
 * so far is in it, durable. */
static void adopt(struct server *s)
{
	struct journal *j = &s->journal;
	struct journal_rebuild *b = &j->rebuild;

	/* The file renamed over: closing it frees its blocks. */
	loop_close(s, j->fd);
	journal_release_name(s);
	j->fd = b->fd;
	b->fd = -1;
	b->syncing = false;
	j->file_end = b->w.at;
	j->verbatim_from = 0;
	j->records = b->w.records;
	/* What was appended and not written is in the new file already. */
	j->unwritten.used = 0;
	j->unwritten.records = 0;
	j->file++;
	j->sync_target = 0;
	journal_set_broken(s, 0);
	state_lock_mark(s); /* the state is writable: the lock names us */
	j->said_err = 0;    /* the next failure is news */
	j->damaged = j->damage_kept = false;
	commit_durable(s, j->end);
}

int rebuild_now(struct server *s)
{
	struct journal *j = &s->journal;
	char name[sizeof(j->name) + 8];
	int err = begin(s);

	if (!err)
		err = write_rules(s, UINT64_MAX, 0);
	if (!err)
		err = journal_rewrite_finish(&j->rebuild.w);
	if (!err)
		err = journal_fdatasync(j->rebuild.fd);
	if (!err)
		err = keep_damaged(s);
	new_name(j, name, sizeof(name));
	if (!err && renameat(s->state_fd, name, s->state_fd, j->name) != 0)
		err = -errno;
	if (err) {
		drop(s);
		return err;
	}
	adopt(s);
	/* The rename itself is durable once the directory is. */
	if (fsync(s->state_fd) != 0)
		log_warn("journal %s: fsync of the state directory", j->path);
	return 0;
}

static void failed(struct server *s, int err)
{
	struct journal *j = &s->journal;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);

	drop(s);
	j->retry_ns = now + REBUILD_RETRY_NS;
	/* Persistent requests are refused with the reason of now (a disk
	 * made writable again may be full). */
	journal_set_broken(s, err);
	/* A read-only or full disk fails each second for as long as it
	 * lasts: said when the reason changes, and once a minute. */
	if (err == j->said_err && now - j->said_ns < REBUILD_SAY_AGAIN_NS)
		return;
	j->said_err = err;
	j->said_ns = now;
	log_warnx("journal %s: not rewritten (%s): persistent requests are refused until it is; "
		  "tried again each second",
		  j->path, strerror(-err));
}

void rebuild_start(struct server *s)
{
	int err = begin(s);

	if (err)
		failed(s, err);
}

void rebuild_retry(struct server *s, uint64_t now_ns)
{
	struct journal *j = &s->journal;

	/* Not while a sync is in flight (a write failed beside it): what it
	 * covers is in the table, and is undone if it fails, which starts a
	 * rebuild of its own (commit.c). No sync starts while the journal is
	 * broken, so a rebuild never has one beside it. */
	if (j->broken && j->rebuild.fd < 0 && !j->sync_target && now_ns >= j->retry_ns)
		rebuild_start(s);
}

unsigned rebuild_step(struct server *s)
{
	struct journal *j = &s->journal;
	struct journal_rebuild *b = &j->rebuild;
	int err;

	if (b->fd < 0 || b->syncing)
		return 0;
	if (!b->written) {
		b->steps++;
		err = write_rules(s, clock_ns(CLOCK_MONOTONIC) + REBUILD_STEP_NS,
				  fault_step_rules());
		if (err == 1) {
			fault_point("rebuild-step");
			return 1;
		}
		if (!err)
			err = journal_rewrite_finish(&b->w);
		if (!err)
			err = keep_damaged(s);
		if (err) {
			failed(s, err);
			return 0;
		}
		b->written = true;
	}
	loop_submit_rebuild(s, b->fd, b->generation & REBUILD_TAG_MASK, &b->chain_fault);
	b->syncing = true;
	return 1;
}

void rebuild_synced(struct server *s, uint32_t tag, unsigned step, int res)
{
	struct journal *j = &s->journal;
	struct journal_rebuild *b = &j->rebuild;
	uint64_t took;

	if (!b->syncing || tag != (b->generation & REBUILD_TAG_MASK))
		return; /* a chain of a rebuild since dropped (shutdown) */
	if (step == 1) {
		char name[sizeof(j->name) + 8];

		/* The test build's failing sync (loop.c). */
		res = fault_chain_step(b->fd, res, b->chain_fault);
		if (res < 0) {
			failed(s, res); /* never named */
			return;
		}
		new_name(j, name, sizeof(name));
		loop_submit_rebuild_naming(s, tag, name);
		return;
	}
	if (res < 0 && b->chain_err == 0)
		b->chain_err = res; /* a failed rename: its directory sync says ECANCELED */
	if (step < 3)
		return;
	if (b->chain_err) {
		failed(s, b->chain_err);
		return;
	}
	took = clock_ns(CLOCK_MONOTONIC) - b->started_ns;
	log_info("journal %s: rewritten from the table in %.2f s (%u steps, %llu records); "
		 "persistent requests are served again",
		 j->path, (double)took / 1e9, b->steps, (unsigned long long)b->w.records);
	adopt(s);
}

int rebuild_init(struct server *s)
{
	char name[sizeof(s->journal.name) + 8];

	s->journal.rebuild.fd = -1;
	/* What a rebuild that a crash cut short left. On a read-only state
	 * it stays: a rebuild removes it first anyway. */
	new_name(&s->journal, name, sizeof(name));
	return journal_remove_leftover(s, name);
}

void rebuild_before_stop(struct server *s)
{
	struct journal *j = &s->journal;
	int err;

	/* A chain in flight names its file, or fails and leaves the journal
	 * broken: the loop no longer reads its completions. */
	loop_settle_journal(s);
	if (!j->broken)
		return;
	err = rebuild_now(s);
	if (err)
		log_warnx("journal %s: not rewritten before the stop (%s): the next start reads "
			  "it as it is",
			  j->path, strerror(-err));
	else
		log_info("journal %s: rewritten before the stop", j->path);
}

void rebuild_abandon(struct server *s)
{
	drop(s);
}
