/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Group commit: nothing that depends on a journal record is acknowledged
 * before a sync covers the record, and syncing costs the loop nothing.
 *
 * Every completion goes through its client's outbox, in order. One that
 * depends on a record carries the record's LSN and waits for it; the ones
 * behind it wait their turn. At the end of each loop round, if records were
 * appended since the last sync and none is in flight, one io_uring
 * IORING_OP_FSYNC (IORING_FSYNC_DATASYNC) is submitted covering everything
 * appended so far; the loop goes on decoding, validating, installing and
 * appending meanwhile. When it completes, the operations it covers are
 * done for good (a persistent rule's destroy takes it out of the device
 * now, rules.c) and every outbox publishes what became durable. A lone
 * synchronous create waits for at most the sync in flight and its own.
 *
 * A sync that fails fails everything not yet durable: each pending
 * operation is undone, newest first (a create is taken out of the device,
 * a destroyed rule is live again, a meter comes back), each completion
 * that depended on one becomes an error with the sync's errno, and the
 * journal is rewritten from the table before anything is acknowledged
 * again (journal.c says why). Until a rewrite succeeds, persistent
 * requests are refused with that errno and the rewrite is retried every
 * second.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "shm/clock.h"

/* A completion in an outbox, followed by its encoded bytes (8-aligned). */
struct outbox_record {
	uint64_t lsn;	    /* published once the journal is durable to here */
	uint64_t first;	    /* a job's: the end of its first records; 0: none */
	uint64_t user_data; /* to rewrite it as an error */
	uint32_t length;    /* of the encoded completion */
	uint8_t request_op;
	uint8_t reserved;
	uint16_t stays; /* commit_wait.stays (at most WIRE_DESTROY_MAX) */
};
_Static_assert(WIRE_DESTROY_MAX <= UINT16_MAX, "a DESTROY's count fits stays");
_Static_assert(sizeof(struct outbox_record) % 8 == 0, "records stay 8-aligned");

#define OUTBOX_IOV 64u

static size_t record_span(uint32_t length)
{
	return sizeof(struct outbox_record) + ((length + 7u) & ~(size_t)7u);
}

/* --- pending operations --- */

int commit_note(struct server *s, enum pending_kind kind, uint64_t key, uint64_t lsn)
{
	struct commit *cm = &s->commit;

	if (kind == PENDING_NOTHING)
		return 0;
	if (cm->count == cm->cap) {
		size_t cap = cm->cap ? 2 * cm->cap : 1024;
		struct pending *items = malloc(cap * sizeof(*items));

		if (items == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < cm->count; i++)
			items[i] = cm->items[(cm->head + i) % cm->cap];
		free(cm->items);
		cm->items = items;
		cm->head = 0;
		cm->cap = cap;
	}
	cm->items[(cm->head + cm->count) % cm->cap] =
		(struct pending){.lsn = lsn, .key = key, .kind = kind, .job = cm->job};
	cm->count++;
	return 0;
}

/* A rule whose meter's record is not yet durable: were that sync to fail,
 * the meter would be undone under a rule that holds it (the device refuses
 * to destroy a meter in use), and the meter would stay in the device with
 * no record, its creator told it was not made. So the rule waits for the
 * same sync and is undone with it, newest first, before the meter. Its
 * LSN is the journal's end, not the meter's: the pending queue stays in
 * LSN order. */
int commit_depend(struct server *s, uint64_t handle)
{
	int err = commit_note(s, PENDING_RULE, handle, s->journal.end);

	if (err == 0)
		s->commit.depends = s->journal.end;
	return err;
}

/* A journal record kept outside the directory (journal.c): its handle
 * names no rule of the table — beyond --max-rules, in a retired slot, or
 * in a slot that holds another rule (or none). */
static bool orphan_slot(const struct server *s, uint64_t key)
{
	uint32_t slot = (uint32_t)key;

	return slot >= s->rules.max || !rule_slot_used(&s->rules.slots[slot]) ||
	       s->rules.slots[slot].generation != (uint32_t)(key >> 32);
}

/* An operation whose record is durable (the destroys of rules in the
 * table go in bursts: commit_durable()). */
static void finish(struct server *s, const struct pending *p)
{
	switch (p->kind) {
	case PENDING_RULE_GONE:
		journal_orphan_gone_durable(s, p->key);
		break;
	case PENDING_METER_GONE:
		journal_meter_gone_durable(s, p->key);
		break;
	default: /* a create: nothing left to do */
		break;
	}
}

static void undo(struct server *s, const struct pending *p)
{
	switch (p->kind) {
	case PENDING_RULE:
		rules_create_undone(s, p->key);
		break;
	case PENDING_RULE_GONE:
		if (orphan_slot(s, p->key))
			journal_orphan_gone_undone(s, p->key);
		else
			rules_destroy_undone(s, p->key);
		break;
	case PENDING_METER:
		journal_meter_undone(s, p->key);
		break;
	case PENDING_METER_GONE:
		journal_meter_gone_undone(s, p->key);
		break;
	default:
		break;
	}
}

/* A destroy a client's job made and a failed sync undid: the job counts
 * it, to say how many of its destroys stay done. Only the job that wrote
 * it: one begun on the same client since began after its record. */
static void undone_for_job(struct server *s, const struct pending *p)
{
	struct job *job;

	if (p->job == 0 || p->job > s->config.max_clients || p->kind != PENDING_RULE_GONE)
		return;
	job = &s->clients[p->job - 1].job;
	if ((job->kind == JOB_FLUSH_PERSISTENT || job->kind == JOB_DESTROY) && p->lsn > job->begun)
		job->undone_rules++;
}

/* --- outboxes --- */

static int outbox_reserve(struct outbox *ob, size_t need)
{
	if (ob->head == ob->tail)
		ob->head = ob->tail = 0;
	if (ob->tail + need <= ob->cap)
		return 0;
	if (ob->head > 0) {
		memmove(ob->bytes, ob->bytes + ob->head, ob->tail - ob->head);
		ob->tail -= ob->head;
		ob->head = 0;
		if (ob->tail + need <= ob->cap)
			return 0;
	}
	size_t cap = ob->cap ? ob->cap : 4096;
	uint8_t *bytes;

	while (cap < ob->tail + need)
		cap *= 2;
	bytes = realloc(ob->bytes, cap);
	if (bytes == NULL)
		return -ENOMEM;
	ob->bytes = bytes;
	ob->cap = cap;
	return 0;
}

static int outbox_put(struct outbox *ob, const struct wire_completion *completion,
		      struct commit_wait wait)
{
	size_t max = record_span(WIRE_COMPLETION_MAX);
	struct outbox_record *rec;
	int length;

	if (outbox_reserve(ob, max) != 0)
		return -ENOMEM;
	rec = (struct outbox_record *)(ob->bytes + ob->tail);
	length = wire_encode_completion(rec + 1, WIRE_COMPLETION_MAX, completion);
	*rec = (struct outbox_record){.lsn = wait.lsn,
				      .first = wait.first,
				      .stays = (uint16_t)wait.stays,
				      .user_data = completion->user_data,
				      .length = (uint32_t)length,
				      .request_op = completion->request_op};
	ob->tail += record_span(rec->length);
	ob->ring_bytes += ring_record_size(rec->length);
	return 0;
}

void commit_complete(struct client *c, const struct wire_completion *completion,
		     struct commit_wait wait)
{
	if (outbox_put(&c->outbox, completion, wait) != 0)
		log_warnx("client %u: no memory for a completion: dropped (user_data %llu)",
			  c->session, (unsigned long long)completion->user_data);
}

bool commit_publish(struct server *s, struct client *c)
{
	struct outbox *ob = &c->outbox;

	rules_activate(s); /* nothing is acknowledged that takes no traffic */
	while (ob->head < ob->tail) {
		struct iovec iov[OUTBOX_IOV];
		uint32_t ring_bytes[OUTBOX_IOV];
		size_t at = ob->head, ends[OUTBOX_IOV];
		unsigned n = 0;
		int done;

		while (at < ob->tail && n < OUTBOX_IOV) {
			const struct outbox_record *rec = (const void *)(ob->bytes + at);

			if (rec->lsn > s->journal.durable)
				break;
			iov[n] = (struct iovec){(void *)(uintptr_t)(rec + 1), rec->length};
			ring_bytes[n] = ring_record_size(rec->length);
			at += record_span(rec->length);
			ends[n++] = at;
		}
		if (n == 0)
			break;
		done = ring_enqueue_burst(&c->completions, iov, n);
		if (done <= 0)
			return false; /* full (or broken: the dispatcher sees it) */
		for (int i = 0; i < done; i++)
			ob->ring_bytes -= ring_bytes[i];
		ob->head = ends[done - 1];
		if ((unsigned)done < n)
			return false;
	}
	if (ob->head == ob->tail)
		ob->head = ob->tail = 0;
	return true;
}

bool commit_outbox_blocked(const struct server *s, const struct client *c, uint32_t *need)
{
	const struct outbox *ob = &c->outbox;
	const struct outbox_record *rec;

	if (ob->head == ob->tail)
		return false;
	rec = (const void *)(ob->bytes + ob->head);
	if (rec->lsn > s->journal.durable)
		return false; /* waiting for the disk, not for the client */
	*need = rec->length;
	return true;
}

void commit_forget(struct client *c)
{
	free(c->outbox.bytes);
	c->outbox = (struct outbox){0};
}

/* Every completion waiting for a record beyond `kept` (an LSN) becomes an
 * error; the others keep their place and what they wait for. A job whose
 * first steps' records are kept says it was partly done, once those are
 * durable: if their own sync fails, this runs again and it says "not
 * done". A DESTROY says which of its destroys stay: those of rules that
 * were not persistent, which no record undoes. */
static void fail_outbox(struct client *c, uint64_t kept, int err, bool uncut)
{
	struct outbox *ob = &c->outbox, old = *ob;
	struct wire_completion failed;

	if (old.head == old.tail)
		return;
	*ob = (struct outbox){0};
	for (size_t at = old.head; at < old.tail;) {
		const struct outbox_record *rec = (const void *)(old.bytes + at);
		bool partly;

		at += record_span(rec->length);
		if (rec->lsn <= kept) {
			struct wire_completion same;

			if (wire_decode_completion(rec + 1, rec->length, &same) == 0)
				commit_complete(c, &same,
						(struct commit_wait){.lsn = rec->lsn,
								     .first = rec->first,
								     .stays = rec->stays});
			continue;
		}
		failed = (struct wire_completion){.user_data = rec->user_data,
						  .request_op = rec->request_op};
		/* Each message fits MPF_FLOW_ERROR_MESSAGE_MAX: 132 characters
		 * at most (ENOSPC's text, 1,024 destroys that stay). */
		partly = rec->first && rec->first <= kept;
		if (uncut)
			/* Undone here, but its record stays in the file. */
			failed.status = flow_error_set(
				&failed.error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				"%s, but not cut from the journal (%s): may come back at a start "
				"before the journal is rewritten",
				partly ? "partly done, the rest undone" : "undone", strerror(-err));
		else if (partly && rec->stays)
			failed.status = flow_error_set(
				&failed.error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				"partly done (%s): the first steps stay done, the rest is undone "
				"but for %u destroy(s) of rules not persistent",
				strerror(-err), rec->stays);
		else if (partly)
			failed.status = flow_error_set(
				&failed.error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				"partly done: the journal could not make its last steps durable "
				"(%s); its first steps stay done, the rest is undone",
				strerror(-err));
		else if (rec->stays)
			failed.status = flow_error_set(&failed.error, -err,
						       MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
						       "not done: the journal could not make it "
						       "durable (%s); %u destroy(s) "
						       "of rules not persistent stay done",
						       strerror(-err), rec->stays);
		else
			failed.status = flow_error_set(
				&failed.error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				"not done: the journal could not make it durable (%s)",
				strerror(-err));
		/* Partly done: said once the first steps are durable. */
		commit_complete(c, &failed,
				partly ? (struct commit_wait){.lsn = kept,
							      .first = rec->first,
							      .stays = rec->stays}
				       : (struct commit_wait){0});
	}
	free(old.bytes);
}

/* --- syncs --- */

static void publish_all(struct server *s)
{
	for (uint32_t i = 0; i < s->config.max_clients; i++) {
		struct client *c = &s->clients[i];

		if (c->active && !c->leaving && c->outbox.head != c->outbox.tail)
			commit_publish(s, c);
	}
}

void commit_durable(struct server *s, uint64_t lsn)
{
	struct commit *cm = &s->commit;
	struct journal *j = &s->journal;

	struct rules_removal gone = {.n = 0};

	if (lsn > j->durable)
		j->durable = lsn;
	for (unsigned n = 1; cm->count && cm->items[cm->head].lsn <= j->durable; n++) {
		struct pending p = cm->items[cm->head];

		cm->head = (cm->head + 1) % cm->cap;
		cm->count--;
		/* Rules of the table leave in bursts, in order with the rest. */
		if (p.kind == PENDING_RULE_GONE && !orphan_slot(s, p.key)) {
			rules_destroy_durable(s, &gone, p.key);
		} else {
			rules_removal_finish(s, &gone);
			finish(s, &p);
		}
		/* A sync may cover tens of thousands of destroys, each out of
		 * the device now: the heartbeat goes on meanwhile. */
		if (n % 1024 == 0)
			loop_heartbeat(s, clock_ns(CLOCK_MONOTONIC));
	}
	rules_removal_finish(s, &gone);
	publish_all(s);
}

/* Undo every operation whose record is beyond `kept` (an LSN), newest
 * first, and fail the completions that waited for them with `err` (their
 * records left in the file when `uncut`). */
static void fail_beyond(struct server *s, uint64_t kept, int err, bool uncut)
{
	struct commit *cm = &s->commit;

	while (cm->count && cm->items[(cm->head + cm->count - 1) % cm->cap].lsn > kept) {
		const struct pending *p = &cm->items[(cm->head + cm->count - 1) % cm->cap];

		cm->count--;
		undone_for_job(s, p);
		undo(s, p);
	}
	if (cm->count == 0)
		cm->head = 0;
	for (uint32_t i = 0; i < s->config.max_clients; i++) {
		struct client *c = &s->clients[i];
		struct job *job = &c->job;

		if (!c->active)
			continue;
		/* Its records beyond `kept` are gone and their LSNs may be
		 * given again: they are still the job's, past its start. */
		if (job->kind != JOB_NONE && job->begun > kept)
			job->begun = kept;
		/* A running job's records beyond `kept` are undone: it says so
		 * when it ends, and waits only for those kept (LSNs beyond
		 * `kept` may be written again). */
		if (job->kind != JOB_NONE && job->lsn > kept) {
			job->undone = err;
			if (uncut) {
				job->undone_uncut = true;
				job->uncut_file = s->journal.file;
			}
			job->lsn = job->first && job->first <= kept ? kept : 0;
			if (job->first > kept)
				job->first = 0;
		}
		if (!c->leaving)
			fail_outbox(c, kept, err, uncut);
	}
}

/*
 * A failed sync undid every operation beyond `durable`: their records go
 * too. Those not yet written are dropped; those written since the last
 * good sync are cut from the journal's file, and from the old file while
 * a compacted one's rename is not known to be done (whichever has the
 * name is what a start finds). Pages a failed write-back kept read back
 * as written: a start that found them, the rewrite failing too and the
 * primary then stopped, would bring back what clients were told failed.
 * The undone records are always the file's last, past its verbatim start
 * (a compacted file's snapshot ends before its last good sync). False when
 * they stay (a file system gone read-only refuses the cut): the answers
 * then say the operations may come back at a start before a rewrite.
 */
static bool cut_undone(struct server *s)
{
	struct journal *j = &s->journal;
	uint64_t written = j->end - j->unwritten.used, beyond = written - j->durable;
	bool cut;

	journal_unwritten_drop(s);
	if (j->durable > written || beyond == 0)
		return true;
	cut = compact_cut_old(s);
	if (j->fd < 0)
		return cut;
	if (beyond > j->file_end - j->verbatim_from) {
		log_warnx("journal %s: what the failed sync undid reaches before the file's "
			  "appends: not cut",
			  j->path);
		return false;
	}
	if (fault_no_cut() || ftruncate(j->fd, (off_t)(j->file_end - beyond)) != 0) {
		log_warn("journal %s: cannot cut what the failed sync undid", j->path);
		return false;
	}
	j->file_end -= beyond;
	atomic_store_explicit(&j->compact.written_end, j->file_end, memory_order_release);
	return cut;
}

static void commit_failed(struct server *s, int err)
{
	struct journal *j = &s->journal;

	log_warnx("journal %s: sync failed (%s): %zu operation(s) not yet durable are undone and "
		  "refused; the journal is rewritten before anything is acknowledged again",
		  j->path, strerror(-err), s->commit.count);
	journal_set_broken(s, err);
	j->sync_target = 0;
	fail_beyond(s, j->durable, err, !cut_undone(s));
	/* Nothing is pending now: what the outboxes wait for is gone. */
	j->durable = j->end;
	rebuild_start(s);
	publish_all(s);
}

int commit_write(struct server *s)
{
	struct journal *j = &s->journal;
	uint64_t written = j->end - j->unwritten.used;
	int err;

	if (j->unwritten.used == 0)
		return 0;
	err = journal_write(s);
	if (err == 0)
		return 0;
	/* Not written, so not durable: what these records recorded is undone
	 * and refused; what was written before them still waits for its
	 * sync, and the file is as it was (journal_write cut it back). */
	log_warnx("journal %s: %llu byte(s) of records not written (%s): what they recorded is "
		  "undone and refused",
		  j->path, (unsigned long long)j->unwritten.used, strerror(-err));
	fail_beyond(s, written, err, false);
	journal_unwritten_drop(s);
	publish_all(s);
	return err;
}

void commit_start_sync(struct server *s)
{
	struct journal *j = &s->journal;

	if (commit_write(s) != 0)
		return;
	if (j->sync_target || j->fd < 0 || j->broken || fault_held("sync"))
		return;
	if (j->end == j->durable && !j->compact.rename_owed)
		return;
	/* A compacted file is named by its first sync (compact.c). */
	loop_submit_fsync(s, j->fd, j->file, j->compact.rename_owed);
	j->sync_target = j->end;
	if (j->compact.rename_owed)
		j->compact.chains++;
}

void commit_synced(struct server *s, uint32_t file, unsigned step, int res)
{
	struct journal *j = &s->journal;
	uint64_t target = j->sync_target;

	if (step && !compact_chain_step(s, file, step, &res))
		return; /* the chain goes on */
	if (file != j->file || target == 0)
		return; /* a sync of a file since replaced */
	j->sync_target = 0;
	if (!step)
		res = j->sync_fault ? fault_chain_step(j->fd, res, j->sync_fault)
				    : fault_sync(j->fd, res);
	if (res < 0) {
		commit_failed(s, res);
		return;
	}
	commit_durable(s, target);
	compact_switch(s); /* a compaction waiting for this sync */
	journal_maybe_compact(s);
	commit_start_sync(s); /* what was appended meanwhile */
}

int commit_sync_now(struct server *s)
{
	struct journal *j = &s->journal;
	uint64_t target;
	int err;

	/* The syncs in flight first: their failure is theirs to read. */
	loop_settle_journal(s);
	target = j->end;
	if (j->broken)
		return j->broken;
	if (j->fd < 0 || (target == j->durable && !j->compact.rename_owed))
		return 0;
	err = commit_write(s);
	if (err)
		return err;
	err = j->compact.rename_owed ? compact_name_now(s) : journal_fdatasync(j->fd);
	if (err) {
		commit_failed(s, err);
		return err;
	}
	commit_durable(s, target);
	return 0;
}

void commit_fini(struct server *s)
{
	free(s->commit.items);
	s->commit = (struct commit){0};
}
