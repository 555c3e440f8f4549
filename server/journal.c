/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal: persistent rules and meter objects survive the primary.
 *
 * STATE_DIR/INSTANCE.journal is a sequence of records, each a header with
 * a CRC-32C over the header and its payload:
 *   EPOCH          key: the epoch of the handles made from here on
 *   RULE_PACKED    key: the handle; payload: the rule's packed form
 *                  (shm/pack.h), as its directory entry holds it
 *   RULE           the same with the CREATE request as payload: what
 *                  journals had before the packed form (still read; kept
 *                  as it is for a rule kept without a slot)
 *   RULE_GONE      key: the handle
 *   METER          key: port << 32 | id; payload: the METER_CREATE request
 *   METER_GONE     key: port << 32 | id
 *
 * Write policy: a record is appended when a rule or meter is made or
 * destroyed, and nothing that depends on it is acknowledged before a sync
 * covers it (commit.c: group commit through io_uring). A record that could
 * not be written whole is cut off again, and its request fails with the
 * write's errno (ENOSPC is ENOSPC). A sync that fails poisons the file:
 * Linux reports a write-back error once, and the pages it lost may read
 * back as anything, so the file is rewritten from the table (a new file,
 * synced, renamed over it; rebuild.c, in steps of the loop) before
 * anything is acknowledged again; until a rewrite succeeds every persistent
 * request is refused with that errno.
 *
 * On start the file is read and checked record by record; the first record
 * that is truncated, has a bad magic, type, length or CRC ends it. A new
 * journal is written from what was restored (rebuild.c) and, once it is
 * whole, the damaged file is linked aside (INSTANCE.journal.damaged-TIMESTAMP)
 * and the new one, synced, renamed over its name: never overwritten, what follows the damage
 * can still be recovered by hand, and until a rewrite succeeds (no space:
 * refused, retried each second) the damaged file keeps the name, so that a
 * start meanwhile restores the same rules again. An intact file is
 * kept and appended to: a start needs no free space beyond one EPOCH
 * record, and compacts only when dead records dominate (and if it cannot,
 * says why and goes on with the file it has).
 *
 * A journaled rule this start cannot make — its slot beyond a smaller
 * --max-rules, fewer ports or queues, a device that refuses it — is not
 * dropped: it stays in the journal (and every rewrite keeps it), listed as
 * not restored, until it is destroyed or a later start restores it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "server/journal_file.h"
#include "shm/clock.h"

#define JOURNAL_COMPACT_AT    4096u /* dead records before compaction is worth it */
#define JOURNAL_COMPACT_SHORT 64u   /* the same, where the disk's room runs short */

int journal_fdatasync(int fd)
{
	return fault_sync(fd, fdatasync(fd) != 0 ? -errno : 0);
}

/* Append a record and note what its durability will finish or undo. */
static int append(struct server *s, enum journal_type type, uint64_t key, const void *payload,
		  uint32_t length, enum pending_kind kind)
{
	struct journal *j = &s->journal;
	ssize_t n;
	int err;

	if (j->broken)
		return j->broken;
	n = journal_buffer_put(&j->unwritten, type, key, payload, length);
	if (n < 0)
		return (int)n;
	err = commit_note(s, kind, key, j->end + (uint64_t)n);
	if (err) {
		j->unwritten.used -= (size_t)n;
		j->unwritten.records--;
		return err;
	}
	j->end += (uint64_t)n;
	j->records++;
	return 0;
}

void journal_set_broken(struct server *s, int err)
{
	s->journal.broken = err;
	shm_store_relaxed32(&s->region->journal_error, (uint32_t)-err);
}

int journal_write(struct server *s)
{
	struct journal *j = &s->journal;
	int err;

	if (j->unwritten.used == 0 || j->fd < 0)
		return 0;
	err = journal_write_all(j->fd, (off_t)j->file_end, j->unwritten.bytes, j->unwritten.used);
	if (err) {
		/* A torn record would end every later one's replay: cut it. */
		if (ftruncate(j->fd, (off_t)j->file_end) != 0) {
			log_warn("journal %s: cannot cut a torn write", j->path);
			journal_set_broken(s, err);
		}
		log_warnx("journal %s: write: %s", j->path, strerror(-err));
		return err;
	}
	j->file_end += j->unwritten.used;
	j->unwritten.used = 0;
	j->unwritten.records = 0;
	/* For a compaction's catch-up (compact.c). */
	atomic_store_explicit(&j->compact.written_end, j->file_end, memory_order_release);
	return 0;
}

void journal_unwritten_drop(struct server *s)
{
	struct journal *j = &s->journal;

	j->end -= j->unwritten.used;
	j->records -= j->unwritten.records;
	j->unwritten.used = 0;
	j->unwritten.records = 0;
}

int journal_rule(struct server *s, uint64_t handle, uint32_t maker, const void *packed,
		 uint32_t length)
{
	uint8_t *of_uid = s->scratch->of_uid;

	if (maker == 0)
		return append(s, JOURNAL_RULE_PACKED, handle, packed, length, PENDING_RULE);
	return append(s, JOURNAL_RULE_OF_UID, handle, of_uid,
		      journal_rule_of_uid(s->rules.makers[maker].uid, packed, length, of_uid),
		      PENDING_RULE);
}

int journal_rule_gone(struct server *s, uint64_t handle)
{
	return append(s, JOURNAL_RULE_GONE, handle, NULL, 0, PENDING_RULE_GONE);
}

static struct journal_meter *meter_find(const struct journal *j, uint64_t key)
{
	for (unsigned i = 0; i < j->n_meters; i++)
		if (j->meters[i].key == key)
			return &j->meters[i];
	return NULL;
}

static int meter_keep(struct journal *j, uint64_t key, const void *request, uint32_t length)
{
	struct journal_meter *m = meter_find(j, key);
	void *copy = malloc(length ? length : 1);

	if (copy == NULL)
		return -ENOMEM;
	if (m == NULL) {
		m = realloc(j->meters, (j->n_meters + 1) * sizeof(*m));
		if (m == NULL) {
			free(copy);
			return -ENOMEM;
		}
		j->meters = m;
		m = &j->meters[j->n_meters++];
		*m = (struct journal_meter){.key = key};
	}
	free(m->request);
	m->request = copy;
	memcpy(m->request, request, length);
	m->length = length;
	m->dying = false;
	return 0;
}

static void meter_forget(struct journal *j, uint64_t key)
{
	struct journal_meter *m = meter_find(j, key);

	if (m) {
		free(m->request);
		*m = j->meters[--j->n_meters];
	}
}

bool journal_meter_dying(struct server *s, uint16_t port, uint32_t id)
{
	struct journal_meter *m = meter_find(&s->journal, (uint64_t)port << 32 | id);

	return m && m->dying;
}

int journal_meter(struct server *s, uint16_t port, uint32_t id, const void *request,
		  uint32_t length)
{
	uint64_t key = (uint64_t)port << 32 | id;
	int err;

	if (s->journal.broken)
		return s->journal.broken;
	err = meter_keep(&s->journal, key, request, length);
	if (!err)
		err = append(s, JOURNAL_METER, key, request, length, PENDING_METER);
	if (err)
		meter_forget(&s->journal, key);
	else
		meter_find(&s->journal, key)->lsn = s->journal.end;
	return err;
}

bool journal_rule_meters_pending(const struct server *s, const struct wire_rule *rule)
{
	const struct journal *j = &s->journal;

	if (j->end == j->durable)
		return false; /* nothing is pending: no meter's record either */
	for (unsigned i = 0; i < rule->n_actions; i++) {
		const struct mpf_flow_action_meter *conf = rule->actions[i].conf;
		const struct journal_meter *m;

		if (rule->actions[i].type != MPF_FLOW_ACTION_TYPE_METER)
			continue;
		m = meter_find(j, (uint64_t)rule->port << 32 | conf->mtr_id);
		if (m && m->lsn > j->durable)
			return true;
	}
	return false;
}

int journal_meter_gone(struct server *s, uint16_t port, uint32_t id)
{
	uint64_t key = (uint64_t)port << 32 | id;
	struct journal_meter *m = meter_find(&s->journal, key);

	/* Dying from now on: if the record cannot be appended, the caller's
	 * journal_meter_gone_undone() makes the meter again. */
	if (m)
		m->dying = true;
	return append(s, JOURNAL_METER_GONE, key, NULL, 0, PENDING_METER_GONE);
}

/* commit.c: a METER record's fate, a METER_GONE record's fate. */
void journal_meter_undone(struct server *s, uint64_t key)
{
	meter_forget(&s->journal, key);
	s->device.ops.meter_destroy(&s->device, (uint16_t)(key >> 32), (uint32_t)key, NULL);
}

void journal_meter_gone_durable(struct server *s, uint64_t key)
{
	struct journal_meter *m = meter_find(&s->journal, key);

	if (m && m->dying)
		meter_forget(&s->journal, key);
}

/* The device's meter from its journaled request. */
static int meter_make(struct server *s, const struct journal_meter *m, struct mpf_flow_error *error)
{
	struct wire_request *request = &s->scratch->restore;
	int err = wire_decode_request(m->request, m->length, request, error);
	struct hwdrv_meter params;

	if (err)
		return err;
	if (request->header.op != WIRE_OP_METER_CREATE)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "not a meter create");
	params = (struct hwdrv_meter){.cir = request->meter.cir,
				      .cbs = request->meter.cbs,
				      .pir = request->meter.pir,
				      .pbs = request->meter.pbs,
				      .drop = request->meter.drop};
	return s->device.ops.meter_create(&s->device, request->meter.port, request->meter.id,
					  &params, error);
}

void journal_meter_gone_undone(struct server *s, uint64_t key)
{
	struct journal_meter *m = meter_find(&s->journal, key);
	struct mpf_flow_error error = {0};

	if (m == NULL || !m->dying)
		return;
	m->dying = false;
	/* Its destroy failed to reach the disk: the meter comes back, with
	 * its statistics from zero. */
	if (meter_make(s, m, &error) != 0)
		log_warnx("meter %u of port %u: its destroy was not recorded, and it cannot be "
			  "made again: %s",
			  (uint32_t)key, (unsigned)(key >> 32), error.message);
}

/* The kept rule of `handle` (not gone): a binary search of its key. */
static struct journal_orphan *orphan_find(struct journal *j, uint64_t handle)
{
	unsigned lo = 0, hi = j->n_orphans;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (j->orphan_keys[mid].handle < handle)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == j->n_orphans || j->orphan_keys[lo].handle != handle)
		return NULL;
	return j->orphans[j->orphan_keys[lo].at].gone ? NULL : &j->orphans[j->orphan_keys[lo].at];
}

/* A kept rule's place: its port (those on none, HWDRV_PORTS_MAX, last),
 * then its number there (on none: the order they were read in). */
static uint64_t orphan_place(const struct journal_orphan *o)
{
	uint64_t port = o->port < HWDRV_PORTS_MAX ? o->port : HWDRV_PORTS_MAX;

	return port << 32 | o->number;
}

static int by_place(const void *a, const void *b)
{
	uint64_t x = orphan_place(a), y = orphan_place(b);

	return x < y ? -1 : x > y;
}

static int by_handle(const void *a, const void *b)
{
	uint64_t x = ((const struct journal_orphan_key *)a)->handle,
		 y = ((const struct journal_orphan_key *)b)->handle;

	return x < y ? -1 : x > y;
}

static void orphan_keys_sort(struct journal *j)
{
	for (unsigned i = 0; i < j->n_orphans; i++)
		j->orphan_keys[i] = (struct journal_orphan_key){j->orphans[i].handle, i};
	if (j->n_orphans) /* none: no array, which qsort may not be given */
		qsort(j->orphan_keys, j->n_orphans, sizeof(*j->orphan_keys), by_handle);
}

/* After the replay: the kept rules in the order of their places, and
 * their keys. Read in the order made, each port's are in number order
 * already; the sort groups them by port. 0 or -ENOMEM. */
static int orphans_index(struct journal *j)
{
	if (j->n_orphans == 0)
		return 0;
	qsort(j->orphans, j->n_orphans, sizeof(*j->orphans), by_place);
	j->orphan_keys = malloc(j->n_orphans * sizeof(*j->orphan_keys));
	if (j->orphan_keys == NULL)
		return -ENOMEM;
	orphan_keys_sort(j);
	return 0;
}

static void orphans_free(struct journal *j)
{
	for (unsigned i = 0; i < j->n_orphans; i++)
		free(j->orphans[i].payload);
	free(j->orphans);
	free(j->orphan_keys);
	j->orphans = NULL;
	j->orphan_keys = NULL;
	j->n_orphans = j->orphans_gone = j->orphans_cap = 0;
}

/* Once half the array is gone, the rest packed down, in their order (not
 * while a rebuild holds a place in it: persistent state is frozen then,
 * and this is not reached). */
static void orphans_pack(struct journal *j)
{
	unsigned kept = 0;

	if (j->orphans_gone * 2 < j->n_orphans || j->rebuild.fd >= 0)
		return;
	if (j->orphans_gone == j->n_orphans) {
		orphans_free(j);
		return;
	}
	for (unsigned i = 0; i < j->n_orphans; i++)
		if (!j->orphans[i].gone)
			j->orphans[kept++] = j->orphans[i];
	j->n_orphans = kept;
	j->orphans_gone = 0;
	orphan_keys_sort(j);
}

/* The number a port's next rule must pass once its kept rule at `at`, the
 * one with the highest number there, is gone: past the highest number of
 * those left, the next one down in place order. Each gone place is walked
 * over once: the top only comes down. */
static uint32_t orphans_reserved_below(const struct journal *j, unsigned at)
{
	uint16_t port = j->orphans[at].port;

	while (at-- > 0 && j->orphans[at].port == port)
		if (!j->orphans[at].gone)
			return j->orphans[at].number + 1;
	return 0;
}

void journal_orphan_gone_durable(struct server *s, uint64_t handle)
{
	struct journal *j = &s->journal;
	struct journal_orphan *o = orphan_find(j, handle);

	if (o && o->dying) {
		uint16_t port = o->port;

		s->rules.makers[o->maker].rules--;
		free(o->payload);
		o->payload = NULL;
		o->dying = false;
		o->gone = true;
		j->orphans_gone++;
		/* Its number is free again, as a destroyed rule's is. */
		if (port < HWDRV_PORTS_MAX && o->number + 1 == s->rules.ports[port].reserved)
			s->rules.ports[port].reserved =
				orphans_reserved_below(j, (unsigned)(o - j->orphans));
		s->unrestored_rules--;
		shm_store_relaxed32(&s->region->unrestored, s->unrestored_rules);
		orphans_pack(j);
	}
}

void journal_orphan_gone_undone(struct server *s, uint64_t handle)
{
	struct journal_orphan *o = orphan_find(&s->journal, handle);

	if (o)
		o->dying = false;
}

int journal_orphans_destroy(struct server *s, uint16_t port, uint32_t maker, uint32_t *count)
{
	struct journal *j = &s->journal;

	for (unsigned i = 0; i < j->n_orphans; i++) {
		struct journal_orphan *o = &j->orphans[i];
		int err;

		if (o->dying || o->gone || o->port != port || (maker != 0 && o->maker != maker))
			continue;
		err = journal_rule_gone(s, o->handle);
		if (err)
			return err;
		o->dying = true;
		(*count)++;
	}
	return 0;
}

/* After a successful sync: compact when dead records outnumber the live
 * ones by a margin (compact.c: beside the loop; a failure is only logged,
 * the file is intact). */
uint64_t journal_live_records(const struct server *s)
{
	/* The records of rules this start could not restore too (kept for
	 * the next one): counted as dead, a start with a smaller table
	 * compacted for ever, freeing nothing. */
	return (uint64_t)s->persistent_rules + s->journal.n_meters +
	       journal_orphans_live(&s->journal);
}

void journal_maybe_compact(struct server *s)
{
	uint64_t live = journal_live_records(s), records = s->journal.records;

	/* Dead records well past the live ones; or, where the disk's room
	 * runs short, an eighth of the file dead: waiting for more let them
	 * take the room a compaction needs, and the state directory then
	 * refused every persistent request for good. */
	if (records > 2 * live + JOURNAL_COMPACT_AT ||
	    (records > live + live / 8 + JOURNAL_COMPACT_SHORT && compact_room_short(s)))
		compact_start(s);
}

static void epoch_keep(struct server *s);

int journal_advance_epoch(struct server *s)
{
	struct journal *j = &s->journal;
	uint32_t old = j->epoch;
	int err;

	/* Durable before any handle of it is given out. */
	j->epoch = (j->epoch + 1) & 0xff;
	err = append(s, JOURNAL_EPOCH, j->epoch, NULL, 0, PENDING_NOTHING);
	if (!err)
		err = commit_sync_now(s);
	if (err) {
		j->epoch = old;
		return err;
	}
	log_info("journal %s: epoch %u", j->path, j->epoch);
	epoch_keep(s);
	return 0;
}

/* --- start-up: read, check, restore --- */

/*
 * This run's epoch: the journal's last + 1, or, where a run since could
 * not record its own (a read-only state, a damaged journal on a full
 * disk: it made no persistent rule, but gave out handles), the one after
 * that run's. The epoch in use is also kept in the runtime directory
 * (INSTANCE.epoch, a tmpfs: what a reboot clears, with every process that
 * could hold such a handle), written once a start is through and at each
 * advance (epoch_keep), so that failed starts move nothing. An epoch
 * "after" is one ahead by less than half the 8-bit circle.
 */
static uint32_t start_epoch(struct server *s, uint32_t journaled)
{
	struct journal *j = &s->journal;
	char name[48], reason[PATH_MAX + 160], text[8] = "";
	uint32_t epoch = (journaled + 1) & 0xff;
	unsigned long memo;
	char *end;

	if (s->runtime_fd < 0)
		return epoch;
	snprintf(name, sizeof(name), INSTANCE_FMT ".epoch", s->config.instance);
	j->epoch_fd = dir_open_file(s->runtime_fd, s->config.runtime_dir, name, O_RDWR | O_CREAT,
				    reason, sizeof(reason));
	if (j->epoch_fd < 0) {
		log_warnx("%s: handles of this run may repeat those of a run that could not "
			  "record its epoch",
			  reason);
		j->epoch_fd = -1;
		return epoch;
	}
	if (pread(j->epoch_fd, text, sizeof(text) - 1, 0) > 0) {
		memo = strtoul(text, &end, 10);
		if (end == text || *end != '\n' || memo > 0xff)
			return epoch;
		if (((memo - journaled) & 0xff) >= 1 && ((memo - journaled) & 0xff) < 128)
			epoch = (uint32_t)(memo + 1) & 0xff;
		else if (memo != journaled)
			/* 128 starts or more since the journal last recorded
			 * one: which is later cannot be told. */
			log_warnx("%s/%s: epoch %lu, the journal's %u: half the 8-bit circle "
				  "apart or more; handles of this run may repeat those of a run "
				  "before",
				  s->config.runtime_dir, name, memo, journaled);
	}
	return epoch;
}

/* The epoch in use into INSTANCE.epoch (see start_epoch). */
static void epoch_keep(struct server *s)
{
	struct journal *j = &s->journal;
	char text[8];

	snprintf(text, sizeof(text), "%3u\n", j->epoch);
	if (j->epoch_fd >= 0 && pwrite(j->epoch_fd, text, 4, 0) != 4)
		log_warn("%s/" INSTANCE_FMT ".epoch: the epoch in use not kept",
			 s->config.runtime_dir, s->config.instance);
}

/* A rule this start cannot put in a slot: its record (its type, its
 * payload) kept for the journal. Its slot, when the table has it, serves
 * nothing else this run: a rule made there would outdate the record, and
 * the next start would drop it. */
static int keep_orphan(struct server *s, const struct journal_record *h, int port, uint32_t maker,
		       const void *payload)
{
	struct journal *j = &s->journal;
	struct journal_orphan *o;

	if ((uint32_t)h->key < s->rules.max)
		rules_retire(s, (uint32_t)h->key);
	if (j->n_orphans == j->orphans_cap) {
		unsigned cap = j->orphans_cap ? 2 * j->orphans_cap : 64;

		if ((o = reallocarray(j->orphans, cap, sizeof(*o))) == NULL)
			return -ENOMEM;
		j->orphans = o;
		j->orphans_cap = cap;
	}
	o = &j->orphans[j->n_orphans];
	*o = (struct journal_orphan){
		.handle = h->key,
		.number = port < 0 || port >= HWDRV_PORTS_MAX
				  ? j->n_orphans
				  : rules_reserve_number(&s->rules, (uint16_t)port),
		.port = (uint16_t)(port < 0 ? 0xffff : port),
		.type = h->type,
		.maker = maker,
		.payload = malloc(h->length ? h->length : 1),
		.length = h->length};
	if (o->payload == NULL)
		return -ENOMEM;
	memcpy(o->payload, payload, h->length);
	j->n_orphans++;
	s->rules.makers[maker].rules++;
	s->unrestored_rules++;
	return 0;
}

/* Create again what a rule record describes, in its slot, as its maker's;
 * or keep it as not restored, saying why. */
/* The first few rules a start cannot restore are named in the log, one a
 * line; the others are counted and said once (a start with a smaller
 * --max-rules may keep millions). */
#define UNRESTORED_NAMED 16u

static bool named_unrestored(struct server *s)
{
	if (s->unrestored_named < UNRESTORED_NAMED) {
		s->unrestored_named++;
		return true;
	}
	s->unrestored_unnamed++;
	return false;
}

static int restore_rule(struct server *s, const uint8_t *record)
{
	struct wire_request *request = &s->scratch->restore;
	const uint8_t *payload = record + sizeof(struct journal_record), *bytes = payload, *packed;
	struct mpf_flow_error error = {0};
	struct journal_record h;
	struct rule_bytes kept;
	bool short_of_memory, named;
	uint32_t length, packed_length;
	int err = 0, maker;
	uid_t uid;

	memcpy(&h, record, sizeof(h));
	length = h.length;
	packed = journal_rule_packed(h.type, payload, h.length, &packed_length, &uid);
	maker = rules_maker(&s->rules, uid);
	if (maker < 0)
		return maker;
	if (packed) {
		int n = rule_unpack(packed, packed_length, s->scratch->unpacked,
				    sizeof(s->scratch->unpacked), &s->scratch->unpack_memo);

		if (n < 0)
			err = flow_error_set(&error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					     "not a packed rule: %s", strerror(-n));
		bytes = s->scratch->unpacked;
		length = n < 0 ? 0 : (uint32_t)n;
	}
	/* An unpacked request is ours already: decoded where it is. */
	if (!err)
		err = (packed ? wire_decode_private : wire_decode_request)(bytes, length, request,
									   &error);
	if (!err && (request->header.op != WIRE_OP_CREATE || !request->rule.persistent))
		err = flow_error_set(&error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				     "not a persistent create");
	if (err) {
		if (named_unrestored(s))
			log_warnx("journal %s: rule 0x%llx cannot be read (%s): kept, not restored",
				  s->journal.path, (unsigned long long)h.key, error.message);
		return keep_orphan(s, &h, -1, (uint32_t)maker, payload);
	}
	if ((uint32_t)h.key >= s->rules.max) {
		if (named_unrestored(s))
			log_warnx("journal %s: rule 0x%llx is beyond --max-rules %u: kept, not "
				  "restored",
				  s->journal.path, (unsigned long long)h.key, s->rules.max);
		return keep_orphan(s, &h, request->rule.port, (uint32_t)maker, payload);
	}
	if ((uint32_t)(h.key >> 32) == 0) {
		if (named_unrestored(s))
			log_warnx("journal %s: rule 0x%llx has no generation: kept, not restored",
				  s->journal.path, (unsigned long long)h.key);
		return keep_orphan(s, &h, request->rule.port, (uint32_t)maker, payload);
	}
	if (request->rule.port >= HWDRV_PORTS_MAX) {
		if (named_unrestored(s))
			log_warnx("journal %s: rule 0x%llx is on port %u, beyond any device's: "
				  "kept, not restored",
				  s->journal.path, (unsigned long long)h.key,
				  (unsigned)request->rule.port);
		return keep_orphan(s, &h, -1, (uint32_t)maker, payload);
	}
	kept = (struct rule_bytes){.wire = bytes,
				   .wire_length = length,
				   .packed = packed,
				   .packed_length = packed_length};
	/* Past what the memory cgroup leaves: kept, not restored (said once,
	 * with their count, at the end). */
	short_of_memory = !memcg_admit(&s->memcg);
	if (short_of_memory) {
		s->unrestored_memory++;
		err = -ENOMEM;
	} else {
		err = rules_restore(s, h.key, (uint32_t)maker, request, &kept, &error);
	}
	if (!err)
		return 0;
	named = !short_of_memory && named_unrestored(s);
	if (named)
		log_warnx("journal %s: rule 0x%llx not restored (%s): kept in the journal "
			  "until it is destroyed or a start can make it",
			  s->journal.path, (unsigned long long)h.key, error.message);
	err = rules_keep_unrestored(s, h.key, (uint32_t)maker, &request->rule, &kept);
	if (!err)
		s->unrestored_rules++;
	if (err == -ENOSPC) {
		/* No room in the rule heap (a start with a smaller --max-rules):
		 * the record is kept all the same, outside the directory, and
		 * its slot serves nothing else this run. */
		if (named)
			log_warnx("journal %s: rule 0x%llx: the rule heap is full: kept in the "
				  "journal, not listed",
				  s->journal.path, (unsigned long long)h.key);
		return keep_orphan(s, &h, request->rule.port, (uint32_t)maker, payload);
	}
	return err;
}

/* The journal's meters made again in the device: how many were. */
static unsigned restore_meters(struct server *s)
{
	struct journal *j = &s->journal;
	unsigned made = 0;

	for (unsigned i = 0; i < j->n_meters; i++) {
		struct mpf_flow_error error = {0};

		if (meter_make(s, &j->meters[i], &error) == 0)
			made++;
		else
			log_warnx("journal %s: meter %u of port %u not restored (%s): kept in the "
				  "journal",
				  j->path, (uint32_t)j->meters[i].key,
				  (unsigned)(j->meters[i].key >> 32), error.message);
	}
	return made;
}

int journal_lock(int fd)
{
	return flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : -errno;
}

void journal_release_name(struct server *s)
{
	if (s->journal.name_fd >= 0)
		close(s->journal.name_fd);
	s->journal.name_fd = -1;
}

/*
 * The journal's lock, taken at a start that holds INSTANCE.lock already:
 * held by another process, that is a primary killed a moment ago (its
 * io_uring lets go of the file once the requests in flight at its death
 * complete: a sync on a slow disk takes seconds) or one whose lock file
 * was removed (which never lets go). Tried every 10 ms for
 * JOURNAL_LOCK_WAIT_MS, said once after the first second. 0 or -errno.
 */
#define JOURNAL_LOCK_WAIT_MS 5000u
static int lock_journal(struct server *s, int fd)
{
	unsigned wait_ms = fault_lock_wait_ms(JOURNAL_LOCK_WAIT_MS);

	for (unsigned waited = 0;; waited += 10) {
		int err = journal_lock(fd);

		if (err != -EWOULDBLOCK || waited >= wait_ms)
			return err;
		if (waited == 1000)
			log_warnx("journal %s: locked by another process: waiting up to %u s for "
				  "it to let go (a primary killed a moment ago does once its last "
				  "journal I/O completes)",
				  s->journal.path, JOURNAL_LOCK_WAIT_MS / 1000);
		usleep(10000);
	}
}

int journal_remove_leftover(struct server *s, const char *name)
{
	int err;

	if (unlinkat(s->state_fd, name, 0) == 0 || errno == ENOENT || errno == EROFS)
		return 0;
	err = -errno;
	snprintf(s->journal.refusal, sizeof(s->journal.refusal),
		 "%s/%s: what a crash left of a new journal file cannot be removed (%s): "
		 "remove it by hand",
		 s->config.state_dir, name, strerror(-err));
	return err;
}

int journal_open(struct server *s)
{
	struct journal *j = &s->journal;
	struct journal_scan sc = {0};
	const uint8_t *rule;
	uint8_t *data = NULL;
	struct stat st;
	uint64_t size;
	bool read_only = false, fresh;
	unsigned meters = 0; /* restored */
	int fd, err = 0;

	j->fd = j->name_fd = j->rebuild.fd = j->epoch_fd = -1;
	snprintf(j->name, sizeof(j->name), INSTANCE_FMT ".journal", s->config.instance);
	snprintf(j->path, sizeof(j->path), "%s/%s", s->config.state_dir, j->name);
	/* None yet: written whole (its epoch, synced, renamed into place)
	 * below, so that an empty journal is never mpflowd's doing. */
	fd = dir_open_file(s->state_fd, s->config.state_dir, j->name, O_RDWR, j->refusal,
			   sizeof(j->refusal));
	if (fd == -EROFS) {
		/* A state file system mounted read-only (after errors, say):
		 * the rules are restored from the file as it is, and
		 * persistent requests refused until it can be rewritten. */
		read_only = true;
		fd = dir_open_file(s->state_fd, s->config.state_dir, j->name, O_RDONLY, j->refusal,
				   sizeof(j->refusal));
	}
	if (fd < 0 && fd != -ENOENT)
		return fd; /* the caller says why: j->refusal */
	/* Its writer's, before anything of it is touched (the files a
	 * compaction or a rewrite of that writer has in flight, below). */
	if (fd >= 0 && (err = lock_journal(s, fd)) != 0) {
		if (err == -EWOULDBLOCK)
			snprintf(j->refusal, sizeof(j->refusal),
				 "%s: locked: another primary writes it (its " INSTANCE_FMT
				 ".lock beside it was removed or replaced while it ran): stop "
				 "that one first",
				 j->path, s->config.instance);
		else
			snprintf(j->refusal, sizeof(j->refusal), "%s: cannot be locked: %s",
				 j->path, strerror(-err));
		close(fd);
		return err;
	}
	err = compact_init(s);
	if (!err)
		err = rebuild_init(s);
	if (err) {
		if (fd >= 0)
			close(fd);
		return err;
	}
	fresh = fd == -ENOENT;
	if (fd >= 0 && fstat(fd, &st) != 0) {
		err = -errno;
		goto out;
	}
	size = fd >= 0 ? (uint64_t)st.st_size : 0;
	if (fd >= 0 && size == 0)
		log_warnx(
			"journal %s is empty (0 bytes): no rule or meter to restore. mpflowd "
			"never leaves an empty journal (it writes a new one whole): if it held "
			"rules, they were lost outside mpflowd (truncated by hand, or by the file "
			"system)",
			j->path);
	if (size > JOURNAL_FILE_MAX) {
		err = -EFBIG;
		goto out;
	}
	if (size) {
		data = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (data == MAP_FAILED) {
			data = NULL;
			err = -errno;
			goto out;
		}
	}
	err = journal_scan(data, size, &sc);
	for (unsigned i = 0; i < sc.n_meters && !err; i++) {
		const uint8_t *record = data + sc.meters[i].record - 1;
		struct journal_record h;

		memcpy(&h, record, sizeof(h));
		err = meter_keep(j, h.key, record + sizeof(h), h.length);
	}
	if (err)
		goto out;
	j->epoch = start_epoch(s, sc.epoch);
	if (sc.stop) {
		log_warnx("journal %s: %s at byte %llu; the %llu bytes from there are not read",
			  j->path, sc.stop, (unsigned long long)sc.good_end,
			  (unsigned long long)(size - sc.good_end));
		j->damaged = true;
	}
	meters = restore_meters(s);
	/* In the order they were made, not by slot: a later rule in a reused
	 * slot would come back older, and win its ties (and take a smaller
	 * testpmd number). */
	/* Where the memory cgroup cannot hold even the rules' directory
	 * entries, no start can keep them: refused, saying so, rather than a
	 * start that thrashes on the journal's pages and never finishes. */
	if (sc.live_rules) {
		uint64_t room = memcg_headroom(s->memcg.self, s->memcg.root),
			 least = sc.live_rules * MEMCG_KEEP_LEAST;

		if (room != UINT64_MAX && room < least) {
			snprintf(j->refusal, sizeof(j->refusal),
				 "%s: its %llu rules take at least %llu MiB even kept unrestored, "
				 "and the memory cgroup leaves %llu MiB: raise its limit",
				 j->path, (unsigned long long)sc.live_rules,
				 (unsigned long long)((least + (1u << 20) - 1) >> 20),
				 (unsigned long long)(room >> 20));
			err = -ENOMEM;
			goto out;
		}
	}
	/* What keeping the rules it may not restore will take is held back
	 * from what restoring them may take (memcg.h). */
	for (uint64_t at = 0, left = sc.live_rules;
	     !err && (rule = journal_scan_next_rule(&sc, data, &at)); left--) {
		s->memcg.held_back = left * MEMCG_KEEP_BYTES;
		err = restore_rule(s, rule);
	}
	s->memcg.held_back = 0;
	if (!err)
		err = orphans_index(j);
	if (err)
		goto out;
	if (s->unrestored_unnamed)
		log_warnx("journal %s: %u more rule(s) not restored for the reasons above, not "
			  "named one by one: kept in the journal",
			  j->path, s->unrestored_unnamed);
	if (s->unrestored_memory)
		log_warnx("journal %s: %u rule(s) not restored: the memory cgroup left %llu MiB, "
			  "less than the %llu MiB mpflowd keeps for itself and %u bytes for each "
			  "rule still to replay (what keeping it unrestored takes); kept in the "
			  "journal until a start with more memory",
			  j->path, s->unrestored_memory, (unsigned long long)(s->memcg.room >> 20),
			  (unsigned long long)(memcg_reserve(&s->memcg) >> 20), MEMCG_KEEP_BYTES);
	shm_store_relaxed32(&s->region->unrestored, s->unrestored_rules);
	rules_restored(s);
	j->records = sc.records;
	if (sc.stop || read_only || fresh) {
		/* A fresh journal of what was restored (of nothing, when there
		 * was none); the old file stays locked until it is in place. */
		j->name_fd = fd;
		fd = -1;
		err = rebuild_now(s);
		if (err) {
			journal_set_broken(s, err);
			j->said_err = err; /* said here: not again at each retry */
			j->said_ns = clock_ns(CLOCK_MONOTONIC);
			log_warnx("journal %s: no new journal written (%s): %s, and persistent "
				  "requests are refused until one is (tried each second)",
				  j->path, strerror(-err),
				  sc.stop     ? "the damaged one keeps its name"
				  : read_only ? "its rules were restored from it as it is"
					      : "there was none to restore from");
			err = 0;
		}
	} else {
		j->fd = fd;
		fd = -1;
		j->file_end = sc.good_end;
		j->verbatim_from = 0;
		/* This run's epoch, durable before its first handle. */
		err = append(s, JOURNAL_EPOCH, j->epoch, NULL, 0, PENDING_NOTHING);
		if (!err)
			err = journal_write(s);
		if (!err)
			err = journal_fdatasync(j->fd);
		if (err) {
			journal_unwritten_drop(s);
			log_warnx(
				"journal %s: cannot record epoch %u (%s): handles of this run may "
				"repeat those of the next",
				j->path, j->epoch, strerror(-err));
			err = 0;
		}
		j->durable = j->end;
	}
	epoch_keep(s);
	log_info("journal %s: %u persistent rule(s) and %u meter(s) restored, %u rule(s) and %u "
		 "meter(s) kept but not restored, epoch %u",
		 j->path, s->persistent_rules - (s->unrestored_rules - journal_orphans_live(j)),
		 meters, s->unrestored_rules, j->n_meters - meters, j->epoch);
out:
	if (fd >= 0)
		close(fd);
	if (data)
		munmap(data, size);
	journal_scan_free(&sc);
	return err;
}

void journal_close(struct server *s)
{
	struct journal *j = &s->journal;

	if (j->fd >= 0) {
		if (journal_write(s) == 0 && compact_name_now(s) == 0)
			journal_fdatasync(j->fd);
		close(j->fd);
	}
	j->fd = -1;
	journal_release_name(s);
	if (j->epoch_fd >= 0)
		close(j->epoch_fd);
	j->epoch_fd = -1;
	rebuild_abandon(s);
	compact_fini(s);
	journal_buffer_free(&j->unwritten);
	for (unsigned i = 0; i < j->n_meters; i++)
		free(j->meters[i].request);
	free(j->meters);
	j->meters = NULL;
	j->n_meters = 0;
	orphans_free(j);
}
