/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal's file format: see journal.c for what the records mean and
 * journal_file.h for what is here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

/* --- reading --- */

/* Check the record at `at`; its size, or 0 with sc->stop set. */
static size_t check_record(const uint8_t *data, uint64_t size, uint64_t at, struct journal_scan *sc,
			   struct journal_record *h)
{
	if (size - at < sizeof(*h)) {
		sc->stop = "a truncated record header";
		return 0;
	}
	memcpy(h, data + at, sizeof(*h));
	if (h->magic != JOURNAL_MAGIC || h->type < JOURNAL_EPOCH || h->type > JOURNAL_METER_GONE ||
	    h->reserved) {
		sc->stop = "a record with a bad magic or type";
		return 0;
	}
	if (h->length > WIRE_MSG_MAX || h->length > size - at - sizeof(*h)) {
		sc->stop = "a truncated record";
		return 0;
	}
	if (record_crc(h, data + at + sizeof(*h)) != h->crc) {
		sc->stop = "a record whose checksum does not match";
		return 0;
	}
	return sizeof(*h) + h->length;
}

/* The first pass: the highest slot any rule record names, plus one. */
static uint32_t highest_slot(const uint8_t *data, uint64_t size)
{
	struct journal_scan sc = {0};
	struct journal_record h;
	uint32_t high = 0;
	size_t n;

	for (uint64_t at = 0; at < size && (n = check_record(data, size, at, &sc, &h)); at += n)
		if ((h.type == JOURNAL_RULE || h.type == JOURNAL_RULE_GONE) &&
		    (uint32_t)h.key >= high)
			high = (uint32_t)h.key + 1;
	return high;
}

static struct journal_scan_meter *scan_meter(struct journal_scan *sc, uint64_t key)
{
	for (unsigned i = 0; i < sc->n_meters; i++)
		if (sc->meters[i].key == key)
			return &sc->meters[i];
	return NULL;
}

static int scan_meter_keep(struct journal_scan *sc, uint64_t key, const uint8_t *record)
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
	m->record = record;
	return 0;
}

int journal_scan(const uint8_t *data, uint64_t size, uint32_t min_slots, struct journal_scan *sc)
{
	struct journal_record h;
	uint64_t at = 0;
	size_t n;

	sc->slots = highest_slot(data, size);
	if (sc->slots < min_slots)
		sc->slots = min_slots;
	sc->rule = calloc(sc->slots ? sc->slots : 1, sizeof(*sc->rule));
	if (sc->rule == NULL)
		return -ENOMEM;
	while (at < size && (n = check_record(data, size, at, sc, &h)) != 0) {
		switch (h.type) {
		case JOURNAL_EPOCH:
			sc->epoch = (uint32_t)h.key;
			sc->has_epoch = true;
			break;
		case JOURNAL_RULE:
		case JOURNAL_RULE_GONE: {
			uint32_t slot = (uint32_t)h.key;

			if (slot >= sc->slots)
				break; /* the first pass sized it: cannot happen */
			if (h.type == JOURNAL_RULE)
				sc->rule[slot] = data + at;
			else if (sc->rule[slot] &&
				 memcmp(sc->rule[slot] + offsetof(struct journal_record, key),
					&h.key, sizeof(h.key)) == 0)
				sc->rule[slot] = NULL;
			break;
		}
		case JOURNAL_METER:
			if (scan_meter_keep(sc, h.key, data + at) != 0)
				return -ENOMEM;
			break;
		default: {
			struct journal_scan_meter *m = scan_meter(sc, h.key);

			if (m)
				*m = sc->meters[--sc->n_meters];
			break;
		}
		}
		at += n;
		sc->records++;
	}
	sc->good_end = at;
	return 0;
}

void journal_scan_free(struct journal_scan *sc)
{
	free(sc->rule);
	free(sc->meters);
	sc->rule = NULL;
	sc->meters = NULL;
}

bool journal_scan_live(const struct journal_scan *sc, const uint8_t *data, uint64_t at)
{
	struct journal_record h;

	memcpy(&h, data + at, sizeof(h));
	if (h.type == JOURNAL_RULE)
		return (uint32_t)h.key < sc->slots && sc->rule[(uint32_t)h.key] == data + at;
	if (h.type == JOURNAL_METER)
		for (unsigned i = 0; i < sc->n_meters; i++)
			if (sc->meters[i].record == data + at)
				return true;
	return false;
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
