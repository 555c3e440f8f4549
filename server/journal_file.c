/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal's file format: see journal.c for what the records mean and
 * journal_file.h for what is here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "server/crc32c.h"
#include "server/journal_file.h"

#define REWRITE_CHUNK (1u << 20)

static uint32_t record_crc(const struct journal_record *h, const void *payload)
{
	struct journal_record copy = *h;

	copy.crc = 0;
	return crc32c(crc32c(0, &copy, sizeof(copy)), payload, h->length);
}

static int buffer_reserve(struct journal_buffer *b, size_t total)
{
	size_t cap = b->cap ? b->cap : 64 * 1024;
	uint8_t *bytes;

	if (b->used + total <= b->cap)
		return 0;
	while (cap < b->used + total)
		cap *= 2;
	bytes = realloc(b->bytes, cap);
	if (bytes == NULL)
		return -ENOMEM;
	b->bytes = bytes;
	b->cap = cap;
	return 0;
}

ssize_t journal_buffer_put(struct journal_buffer *b, enum journal_type type, uint64_t key,
			   const void *payload, uint32_t length)
{
	struct journal_record h = {
		.magic = JOURNAL_MAGIC, .type = (uint16_t)type, .length = length, .key = key};
	size_t total = sizeof(h) + length;

	if (buffer_reserve(b, total) != 0)
		return -ENOMEM;
	h.crc = record_crc(&h, payload);
	memcpy(b->bytes + b->used, &h, sizeof(h));
	if (length)
		memcpy(b->bytes + b->used + sizeof(h), payload, length);
	b->used += total;
	b->records++;
	return (ssize_t)total;
}

uint32_t journal_rule_of_uid(uid_t uid, const void *packed, uint32_t length, uint8_t *out)
{
	uint32_t u = (uint32_t)uid;

	memcpy(out, &u, sizeof(u));
	memcpy(out + sizeof(u), packed, length);
	return (uint32_t)sizeof(u) + length;
}

const uint8_t *journal_rule_packed(unsigned type, const uint8_t *payload, uint32_t payload_length,
				   uint32_t *length, uid_t *uid)
{
	uint32_t u;

	*uid = (uid_t)-1;
	*length = payload_length;
	switch (type) {
	case JOURNAL_RULE_PACKED:
		return payload;
	case JOURNAL_RULE_OF_UID:
		memcpy(&u, payload, sizeof(u));
		*uid = (uid_t)u;
		*length = payload_length - (uint32_t)sizeof(u);
		return payload + sizeof(u);
	default:
		return NULL;
	}
}

void journal_buffer_free(struct journal_buffer *b)
{
	free(b->bytes);
	*b = (struct journal_buffer){0};
}

int journal_write_all(int fd, off_t offset, const uint8_t *bytes, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = pwrite(fd, bytes + done, n - done, offset + (off_t)done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		done += (size_t)w;
	}
	return 0;
}

uint64_t journal_fs_room(int fd)
{
	struct statvfs st;
	struct statfs fs;
	uint64_t blocks;

	if (fstatvfs(fd, &st) != 0 || st.f_blocks == 0 || st.f_frsize == 0)
		return UINT64_MAX;
	blocks = st.f_bavail;
	if (geteuid() == 0) {
		/* ext2/3/4 also keep back what not even root may take
		 * (s_resv_clusters: 2% of the blocks, 4,096 at most), which
		 * f_bfree counts: 327 KB of a 16 MiB file system. */
		uint64_t kept = fstatfs(fd, &fs) == 0 && fs.f_type == EXT4_SUPER_MAGIC
					? (st.f_blocks / 50 < 4096 ? st.f_blocks / 50 : 4096)
					: 0;

		if (st.f_bfree > kept && st.f_bfree - kept > blocks)
			blocks = st.f_bfree - kept;
	}
	return blocks * st.f_frsize;
}

/* --- reading --- */

/* Check the record at the start of `data` (`size` bytes left in the file
 * from there); its size, or 0 with *stop saying why. */
static size_t check_record(const uint8_t *data, uint64_t size, const char **stop,
			   struct journal_record *h)
{
	if (size < sizeof(*h)) {
		*stop = "a truncated record header";
		return 0;
	}
	memcpy(h, data, sizeof(*h));
	if (h->magic != JOURNAL_MAGIC || h->type < JOURNAL_EPOCH || h->type > JOURNAL_TYPE_LAST ||
	    h->reserved) {
		*stop = "a record with a bad magic or type";
		return 0;
	}
	if (h->length > journal_payload_max(h->type) || h->length > size - sizeof(*h)) {
		*stop = "a truncated record";
		return 0;
	}
	if (h->length < journal_payload_min(h->type)) {
		*stop = "a record too short for its type";
		return 0;
	}
	if (record_crc(h, data + sizeof(*h)) != h->crc) {
		*stop = "a record whose checksum does not match";
		return 0;
	}
	return sizeof(*h) + h->length;
}

static struct journal_scan_meter *scan_meter(struct journal_scan *sc, uint64_t key)
{
	for (unsigned i = 0; i < sc->n_meters; i++)
		if (sc->meters[i].key == key)
			return &sc->meters[i];
	return NULL;
}

static int scan_meter_keep(struct journal_scan *sc, uint64_t key, uint64_t at)
{
	struct journal_scan_meter *m = scan_meter(sc, key);

	if (m == NULL) {
		if (sc->n_meters == sc->cap_meters) {
			unsigned cap = sc->cap_meters ? 2 * sc->cap_meters : 16;

			m = realloc(sc->meters, cap * sizeof(*m));
			if (m == NULL)
				return -ENOMEM;
			sc->meters = m;
			sc->cap_meters = cap;
		}
		m = &sc->meters[sc->n_meters++];
		m->key = key;
	}
	m->record = at + 1;
	return 0;
}

/* The entry of `slot`, made when `make`; NULL (no memory, or none). */
static struct journal_scan_rule *scan_slot(struct journal_scan *sc, uint32_t slot, bool make)
{
	if (slot < JOURNAL_SCAN_DENSE) {
		uint32_t slots = sc->slots ? sc->slots : 1024;
		struct journal_scan_rule *rule;

		if (slot < sc->slots)
			return &sc->rule[slot];
		if (!make)
			return NULL;
		while (slots <= slot)
			slots *= 2;
		rule = realloc(sc->rule, (size_t)slots * sizeof(*rule));
		if (rule == NULL)
			return NULL;
		memset(rule + sc->slots, 0, (size_t)(slots - sc->slots) * sizeof(*rule));
		sc->rule = rule;
		sc->slots = slots;
		return &sc->rule[slot];
	}
	for (unsigned i = 0; i < sc->n_far; i++)
		if (sc->far[i].slot == slot)
			return &sc->far[i].rule;
	if (!make)
		return NULL;
	if (sc->n_far == sc->cap_far) {
		unsigned cap = sc->cap_far ? 2 * sc->cap_far : 16;
		struct journal_scan_far *far = realloc(sc->far, cap * sizeof(*far));

		if (far == NULL)
			return NULL;
		sc->far = far;
		sc->cap_far = cap;
	}
	sc->far[sc->n_far] = (struct journal_scan_far){.slot = slot};
	return &sc->far[sc->n_far++].rule;
}

const struct journal_scan_rule *journal_scan_slot(const struct journal_scan *sc, uint32_t slot)
{
	const struct journal_scan_rule *r =
		scan_slot((struct journal_scan *)(uintptr_t)sc, slot, false);

	return r && r->record ? r : NULL;
}

int journal_scan_record(struct journal_scan *sc, const struct journal_record *h, uint64_t at)
{
	uint32_t slot = (uint32_t)h->key, generation = (uint32_t)(h->key >> 32);
	struct journal_scan_rule *r;

	sc->records++;
	switch (h->type) {
	case JOURNAL_EPOCH:
		sc->epoch = (uint32_t)h->key;
		sc->has_epoch = true;
		return 0;
	case JOURNAL_RULE:
	case JOURNAL_RULE_PACKED:
	case JOURNAL_RULE_OF_UID:
		r = scan_slot(sc, slot, true);
		if (r == NULL)
			return -ENOMEM;
		sc->live_rules += r->record == 0;
		*r = (struct journal_scan_rule){.record = at + 1, .generation = generation};
		return 0;
	case JOURNAL_RULE_GONE:
		/* Only the rule it names: the slot may hold a later one. */
		r = scan_slot(sc, slot, false);
		if (r && r->record && r->generation == generation) {
			r->record = 0;
			sc->live_rules--;
		}
		return 0;
	case JOURNAL_METER:
		return scan_meter_keep(sc, h->key, at);
	default: {
		struct journal_scan_meter *m = scan_meter(sc, h->key);

		if (m)
			*m = sc->meters[--sc->n_meters];
		return 0;
	}
	}
}

int journal_scan(const uint8_t *data, uint64_t size, struct journal_scan *sc)
{
	struct journal_record h;
	uint64_t at = 0;
	size_t n;

	while (at < size && (n = check_record(data + at, size - at, &sc->stop, &h)) != 0) {
		if (journal_scan_record(sc, &h, at) != 0)
			return -ENOMEM;
		at += n;
	}
	sc->good_end = at;
	return 0;
}

const uint8_t *journal_scan_next_rule(const struct journal_scan *sc, const uint8_t *data,
				      uint64_t *at)
{
	struct journal_record h;

	/* Every record before good_end checked whole in the scan. */
	while (*at < sc->good_end) {
		const uint8_t *record = data + *at;
		uint64_t here = *at;

		memcpy(&h, record, sizeof(h));
		*at += sizeof(h) + h.length;
		if (journal_is_rule(h.type) && journal_scan_live(sc, &h, here))
			return record;
	}
	return NULL;
}

void journal_scan_free(struct journal_scan *sc)
{
	free(sc->rule);
	free(sc->far);
	free(sc->meters);
	sc->rule = NULL;
	sc->far = NULL;
	sc->meters = NULL;
}

bool journal_scan_live(const struct journal_scan *sc, const struct journal_record *h, uint64_t at)
{
	if (journal_is_rule(h->type)) {
		const struct journal_scan_rule *r = journal_scan_slot(sc, (uint32_t)h->key);

		return r && r->record == at + 1;
	}
	if (h->type == JOURNAL_METER)
		for (unsigned i = 0; i < sc->n_meters; i++)
			if (sc->meters[i].record == at + 1)
				return true;
	return false;
}

#define READ_WINDOW (8u << 20) /* bytes of file a reader holds: many records */
_Static_assert(READ_WINDOW >= sizeof(struct journal_record) + JOURNAL_OF_UID_MAX, "a record fits");

int journal_read(struct journal_reader *r, struct journal_record *h, const uint8_t **record,
		 uint64_t *at)
{
	size_t n;

	if (r->buf == NULL && (r->buf = malloc(READ_WINDOW)) == NULL)
		return -ENOMEM;
	for (;;) {
		uint64_t left = r->end - (r->base + r->pos);
		size_t avail = r->len - r->pos, need = sizeof(*h);
		ssize_t got;

		if (left == 0)
			return 0;
		if (avail >= sizeof(*h)) {
			memcpy(h, r->buf + r->pos, sizeof(*h));
			if (h->length <= journal_payload_max(h->type))
				need += h->length;
		}
		if (avail >= need || avail == left)
			break; /* a whole record, or all there is (check_record says what) */
		/* The rest of the window to its front, then more of the file. */
		memmove(r->buf, r->buf + r->pos, avail);
		r->base += r->pos;
		r->pos = 0;
		r->len = avail;
		n = READ_WINDOW - avail;
		if (n > left - avail)
			n = (size_t)(left - avail);
		got = pread(r->fd, r->buf + avail, n, (off_t)(r->base + avail));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0) {
			r->damage = "a file shorter than it was written";
			return -EIO;
		}
		r->len += (size_t)got;
	}
	n = check_record(r->buf + r->pos, r->end - (r->base + r->pos), &r->damage, h);
	if (n == 0)
		return -EIO;
	*record = r->buf + r->pos;
	*at = r->base + r->pos;
	r->pos += n;
	return 1;
}

void journal_reader_free(struct journal_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* --- writing a new file --- */

static void rewrite_flush(struct journal_rewrite *w)
{
	if (w->err || w->buffer.used == 0)
		return;
	w->err = journal_write_all(w->fd, (off_t)w->at, w->buffer.bytes, w->buffer.used);
	w->at += w->buffer.used;
	w->buffer.used = 0;
}

void journal_rewrite_put(struct journal_rewrite *w, enum journal_type type, uint64_t key,
			 const void *payload, uint32_t length)
{
	ssize_t n;

	if (w->err)
		return;
	n = journal_buffer_put(&w->buffer, type, key, payload, length);
	if (n < 0)
		w->err = (int)n;
	w->records++;
	if (w->buffer.used >= REWRITE_CHUNK)
		rewrite_flush(w);
}

void journal_rewrite_raw(struct journal_rewrite *w, const uint8_t *record, size_t n)
{
	if (w->err)
		return;
	if (buffer_reserve(&w->buffer, n) != 0) {
		w->err = -ENOMEM;
		return;
	}
	memcpy(w->buffer.bytes + w->buffer.used, record, n);
	w->buffer.used += n;
	w->records++;
	if (w->buffer.used >= REWRITE_CHUNK)
		rewrite_flush(w);
}

int journal_rewrite_finish(struct journal_rewrite *w)
{
	rewrite_flush(w);
	journal_buffer_free(&w->buffer);
	return w->err;
}
