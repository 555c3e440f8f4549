/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal: persistent rules and meter objects survive the primary.
 *
 * STATE_DIR/INSTANCE.journal is a sequence of records, each a header with
 * a CRC-32C over the header and its payload:
 *   EPOCH          key: this run's epoch (the first record of a file)
 *   RULE           key: the handle; payload: the CREATE request, re-encoded
 *   RULE_GONE      key: the handle
 *   METER          key: port << 32 | id; payload: the METER_CREATE request
 *   METER_GONE     key: port << 32 | id
 *
 * Write policy: a record is appended (write(2)) when the rule or meter is
 * made or destroyed, and the dispatcher calls journal_sync() — one
 * fdatasync(2) — before it publishes the completions of a burst: nothing
 * is acknowledged before it is on disk, and a burst of creates costs one
 * sync. A primary killed at any point restarts with every acknowledged
 * persistent rule (and perhaps ones it made but had not acknowledged).
 *
 * On start the file is read and checked record by record; the first record
 * that is truncated, has a bad magic, type, length or CRC ends it: that is
 * logged with its offset and the bytes dropped, never read further. The
 * live rules are created again in their slots with their generations (the
 * same handles), then the file is rewritten with them alone (a new file,
 * fsync, rename). It is compacted the same way at run time once dead
 * records outnumber live ones.
 *
 * Handles: each run takes the next epoch; a fresh rule's generation carries
 * it in its top 8 bits (rules.c), so a handle of an earlier run's rule
 * never names a rule of this one (until 256 restarts wrap it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server.h"

#define JOURNAL_MAGIC	   0x4a46504du /* "MPFJ" */
#define JOURNAL_FILE_MAX   (1ull << 30)
#define JOURNAL_COMPACT_AT 4096u /* dead records before compaction is worth it */

enum journal_type {
	JOURNAL_EPOCH = 1,
	JOURNAL_RULE,
	JOURNAL_RULE_GONE,
	JOURNAL_METER,
	JOURNAL_METER_GONE,
};

struct journal_record {
	uint32_t magic;
	uint16_t type;
	uint16_t reserved;
	uint32_t length; /* of the payload */
	uint32_t crc;	 /* CRC-32C of the header (crc 0) and the payload */
	uint64_t key;
};
_Static_assert(sizeof(struct journal_record) == 24, "journal record header");

/* CRC-32C (Castagnoli, RFC 3720), table-driven: none of our dependencies
 * has a checksum, and this one catches every burst error up to 32 bits. */
static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32c(uint32_t crc, const void *data, size_t length)
{
	const uint8_t *p = data;

	crc = ~crc;
	while (length--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static uint32_t record_crc(const struct journal_record *h, const void *payload)
{
	struct journal_record copy = *h;

	copy.crc = 0;
	return crc32c(crc32c(0, &copy, sizeof(copy)), payload, h->length);
}

/* Append one record to `fd`. 0 or -errno. */
static int put(int fd, enum journal_type type, uint64_t key, const void *payload, uint32_t length)
{
	struct journal_record h = {.magic = JOURNAL_MAGIC, .type = (uint16_t)type,
				   .length = length, .key = key};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)(uintptr_t)payload, length}};
	ssize_t n;

	h.crc = record_crc(&h, payload);
	n = writev(fd, iov, length ? 2 : 1);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(h) + length ? 0 : -EIO;
}

static int append(struct server *s, enum journal_type type, uint64_t key, const void *payload,
		  uint32_t length)
{
	struct journal *j = &s->journal;
	off_t end;
	int err;

	if (j->fd < 0)
		return 0;
	end = lseek(j->fd, 0, SEEK_CUR);
	err = end < 0 ? -errno : put(j->fd, type, key, payload, length);
	if (err) {
		/* A torn record would end every later one's replay: cut it. */
		if (end >= 0 && (ftruncate(j->fd, end) != 0 || lseek(j->fd, end, SEEK_SET) < 0))
			log_warn("journal %s: cannot cut a torn record", j->path);
		log_warnx("journal %s: %s", j->path, strerror(-err));
		return err;
	}
	j->records++;
	j->dirty = true;
	return 0;
}

int journal_rule(struct server *s, uint64_t handle, const void *request, uint32_t length)
{
	return append(s, JOURNAL_RULE, handle, request, length);
}

int journal_rule_gone(struct server *s, uint64_t handle)
{
	return s->journal.frozen ? 0 : append(s, JOURNAL_RULE_GONE, handle, NULL, 0);
}

static struct journal_meter *meter_find(struct journal *j, uint64_t key)
{
	for (unsigned i = 0; i < j->n_meters; i++)
		if (j->meters[i].key == key)
			return &j->meters[i];
	return NULL;
}

static int meter_keep(struct journal *j, uint64_t key, const void *request, uint32_t length)
{
	struct journal_meter *m = meter_find(j, key);

	if (m == NULL) {
		m = realloc(j->meters, (j->n_meters + 1) * sizeof(*m));
		if (m == NULL)
			return -ENOMEM;
		j->meters = m;
		m = &j->meters[j->n_meters++];
		m->key = key;
		m->request = NULL;
	}
	free(m->request);
	m->request = malloc(length);
	if (m->request == NULL)
		return -ENOMEM;
	memcpy(m->request, request, length);
	m->length = length;
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

int journal_meter(struct server *s, uint16_t port, uint32_t id, const void *request,
		  uint32_t length)
{
	uint64_t key = (uint64_t)port << 32 | id;
	int err = meter_keep(&s->journal, key, request, length);

	return err ? err : append(s, JOURNAL_METER, key, request, length);
}

int journal_meter_gone(struct server *s, uint16_t port, uint32_t id)
{
	uint64_t key = (uint64_t)port << 32 | id;

	meter_forget(&s->journal, key);
	return append(s, JOURNAL_METER_GONE, key, NULL, 0);
}

/* Write the live state to a new file and put it in the journal's place. */
static int compact(struct server *s)
{
	struct journal *j = &s->journal;
	char tmp[sizeof(j->path) + 8];
	int fd, err = 0;
	uint64_t records = 1;

	snprintf(tmp, sizeof(tmp), "%s.new", j->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = put(fd, JOURNAL_EPOCH, j->epoch, NULL, 0);
	for (unsigned i = 0; i < j->n_meters && !err; i++, records++)
		err = put(fd, JOURNAL_METER, j->meters[i].key, j->meters[i].request,
			  j->meters[i].length);
	for (uint32_t slot = 0; slot < s->rules.max && !err; slot++) {
		const struct rule_slot *r = &s->rules.slots[slot];

		if (r->in_use && r->journal) {
			err = put(fd, JOURNAL_RULE, (uint64_t)r->generation << 32 | slot, r->journal,
				  r->journal_length);
			records++;
		}
	}
	if (!err && fdatasync(fd) != 0)
		err = -errno;
	if (!err && rename(tmp, j->path) != 0)
		err = -errno;
	if (err) {
		close(fd);
		unlink(tmp);
		return err;
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	j->records = records;
	j->dirty = false;
	/* The rename itself is durable once the directory is. */
	fd = open(s->config.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

int journal_sync(struct server *s)
{
	struct journal *j = &s->journal;

	if (j->fd < 0 || !j->dirty)
		return 0;
	if (fdatasync(j->fd) != 0) {
		log_warn("journal %s: fdatasync", j->path);
		return -errno;
	}
	j->dirty = false;
	/* Dead records outnumber the live ones by a margin: rewrite. */
	if (j->records > 2 * (uint64_t)(s->persistent_rules + j->n_meters) + JOURNAL_COMPACT_AT) {
		int err = compact(s);

		if (err)
			log_warnx("journal %s: compaction: %s", j->path, strerror(-err));
	}
	return 0;
}

/* --- start-up: read, check, restore --- */

struct scan {
	const uint8_t **rule;	/* per slot: the RULE record's header, or NULL */
	uint32_t epoch;
	uint64_t good_end;	/* bytes that passed every check */
	const char *stop;	/* why reading stopped early, or NULL */
};

static void scan_file(struct server *s, const uint8_t *data, uint64_t size, struct scan *sc)
{
	struct journal *j = &s->journal;
	uint64_t at = 0;

	while (at < size) {
		struct journal_record h;
		const uint8_t *payload;

		if (size - at < sizeof(h)) {
			sc->stop = "a truncated record header";
			break;
		}
		memcpy(&h, data + at, sizeof(h));
		payload = data + at + sizeof(h);
		if (h.magic != JOURNAL_MAGIC || h.type < JOURNAL_EPOCH ||
		    h.type > JOURNAL_METER_GONE || h.reserved) {
			sc->stop = "a record with a bad magic or type";
			break;
		}
		if (h.length > WIRE_MSG_MAX || h.length > size - at - sizeof(h)) {
			sc->stop = "a truncated record";
			break;
		}
		if (record_crc(&h, payload) != h.crc) {
			sc->stop = "a record whose checksum does not match";
			break;
		}
		switch (h.type) {
		case JOURNAL_EPOCH:
			sc->epoch = (uint32_t)h.key;
			break;
		case JOURNAL_RULE:
		case JOURNAL_RULE_GONE: {
			uint32_t slot = (uint32_t)h.key;

			if (slot >= s->rules.max) {
				log_warnx("journal %s: rule 0x%llx beyond --max-rules %u: not "
					  "restored",
					  j->path, (unsigned long long)h.key, s->rules.max);
				break;
			}
			if (h.type == JOURNAL_RULE)
				sc->rule[slot] = data + at;
			else if (sc->rule[slot] &&
				 memcmp(sc->rule[slot] + offsetof(struct journal_record, key), &h.key,
					sizeof(h.key)) == 0)
				sc->rule[slot] = NULL;
			break;
		}
		case JOURNAL_METER:
			if (meter_keep(j, h.key, payload, h.length) != 0)
				log_warnx("journal %s: no memory for meter records", j->path);
			break;
		default:
			meter_forget(j, h.key);
			break;
		}
		at += sizeof(h) + h.length;
		j->records++;
	}
	sc->good_end = at;
}

/* Create again what a RULE record describes, in its slot. */
static void restore_rule(struct server *s, const uint8_t *record)
{
	static struct wire_request request;
	struct journal_record h;
	struct mpf_flow_error error = {0};
	int err;

	memcpy(&h, record, sizeof(h));
	err = wire_decode_request(record + sizeof(h), h.length, &request, &error);
	if (!err && (request.header.op != WIRE_OP_CREATE || !request.rule.persistent))
		err = flow_error_set(&error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				     "not a persistent create");
	if (!err)
		err = rules_restore(s, h.key, &request, record + sizeof(h), h.length, &error);
	if (err)
		log_warnx("journal %s: rule 0x%llx not restored: %s", s->journal.path,
			  (unsigned long long)h.key, error.message);
}

static void restore_meters(struct server *s)
{
	static struct wire_request request;
	struct journal *j = &s->journal;

	for (unsigned i = 0; i < j->n_meters;) {
		struct journal_meter *m = &j->meters[i];
		struct mpf_flow_error error = {0};
		int err = wire_decode_request(m->request, m->length, &request, &error);

		if (!err) {
			struct hwdrv_meter params = {.cir = request.meter.cir,
						     .cbs = request.meter.cbs,
						     .pir = request.meter.pir,
						     .pbs = request.meter.pbs,
						     .drop = request.meter.drop};

			err = request.header.op != WIRE_OP_METER_CREATE
				      ? -EINVAL
				      : s->device.ops.meter_create(&s->device, request.meter.port,
								   request.meter.id, &params, &error);
		}
		if (err) {
			log_warnx("journal %s: meter %u of port %u not restored: %s", j->path,
				  (uint32_t)m->key, (unsigned)(m->key >> 32), error.message);
			meter_forget(j, m->key);
			continue;
		}
		i++;
	}
}

int journal_open(struct server *s)
{
	struct journal *j = &s->journal;
	struct scan sc = {0};
	uint8_t *data = NULL;
	struct stat st;
	int fd, err = 0;

	crc_init();
	j->fd = -1;
	snprintf(j->path, sizeof(j->path), "%s/%s.journal", s->config.state_dir,
		 s->config.instance);
	fd = open(j->path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) != 0) {
		err = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size > JOURNAL_FILE_MAX) {
		err = -EFBIG;
		goto out;
	}
	data = malloc(st.st_size ? (size_t)st.st_size : 1);
	sc.rule = calloc(s->rules.max, sizeof(*sc.rule));
	if (data == NULL || sc.rule == NULL) {
		err = -ENOMEM;
		goto out;
	}
	for (off_t got = 0; got < st.st_size;) {
		ssize_t n = pread(fd, data + got, (size_t)(st.st_size - got), got);

		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += n;
	}
	scan_file(s, data, (uint64_t)st.st_size, &sc);
	if (sc.stop)
		log_warnx("journal %s: %s at byte %llu; the %llu bytes from there were dropped",
			  j->path, sc.stop, (unsigned long long)sc.good_end,
			  (unsigned long long)((uint64_t)st.st_size - sc.good_end));
	j->epoch = (sc.epoch + 1) & 0xff;
	restore_meters(s);
	for (uint32_t slot = 0; slot < s->rules.max; slot++)
		if (sc.rule[slot])
			restore_rule(s, sc.rule[slot]);
	rules_restored(s);
	err = compact(s);
	if (!err)
		log_info("journal %s: %u persistent rule(s) and %u meter(s) restored, epoch %u",
			 j->path, s->persistent_rules, j->n_meters, j->epoch);
out:
	if (fd >= 0)
		close(fd);
	free(data);
	free(sc.rule);
	return err;
}

void journal_close(struct server *s)
{
	struct journal *j = &s->journal;

	if (j->fd >= 0) {
		fdatasync(j->fd);
		close(j->fd);
	}
	j->fd = -1;
	for (unsigned i = 0; i < j->n_meters; i++)
		free(j->meters[i].request);
	free(j->meters);
	j->meters = NULL;
	j->n_meters = 0;
}
