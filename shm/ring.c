/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPSC variable-length message ring; see ring.h for the layout and the trust
 * rules. Synchronising pairs used here:
 *
 *   R1 producer_publish() store tail (release)  ->  A1 consumer_refresh() load tail (acquire)
 *   R2 consumer_publish() store head (release)  ->  A2 producer_refresh() load head (acquire)
 *
 * and two Dekker pairs, each side storing its word then loading the other's,
 * all four accesses seq_cst (see atomics.h):
 *
 *   D1 producer_publish(): store tail, load consumer_flags
 *      <-> D2 ring_consumer_prepare_sleep(): store NEED_WAKEUP, load tail
 *   D3 consumer_publish(): store head, load producer_flags
 *      <-> D4 ring_producer_prepare_sleep(): store NEED_SPACE, load head
 *
 * A lost wakeup needs both loads of a pair to miss the other side's store;
 * the single total order of seq_cst accesses forbids it. So a consumer never
 * sleeps on data it was not told about, and a producer rings the doorbell
 * only when the consumer asked (no system call per message when busy).
 */
#include <errno.h>
#include <string.h>

#include "shm/doorbell.h"
#include "shm/ring.h"

size_t ring_memsize(uint32_t size)
{
	return sizeof(struct ring_shared) + (size_t)size;
}

static bool ring_geometry_valid(uint32_t size, uint32_t msg_max)
{
	if (size < RING_SIZE_MIN || size > RING_SIZE_MAX || (size & (size - 1)) != 0)
		return false;
	if (msg_max == 0 || msg_max > RING_MSG_MAX_LIMIT)
		return false;
	/* A record of the largest size must fit twice, so a full ring always
	 * drains to a state where the next maximum-size message fits. */
	return ring_record_size(msg_max) <= size / 2;
}

static void ring_init_view(struct ring *r, void *mem, uint32_t size, uint32_t msg_max,
			   enum ring_role role, int peer_doorbell)
{
	memset(r, 0, sizeof(*r));
	r->shared = mem;
	r->data = (uint8_t *)mem + sizeof(struct ring_shared);
	r->size = size;
	r->mask = size - 1;
	r->msg_max = msg_max;
	r->role = role;
	r->peer_doorbell = peer_doorbell;
}

int ring_create(struct ring *r, void *mem, size_t mem_len, uint32_t size, uint32_t msg_max,
		enum ring_role role, int peer_doorbell)
{
	struct ring_shared *s = mem;

	if (!ring_geometry_valid(size, msg_max) || mem_len < ring_memsize(size) ||
	    ((uintptr_t)mem & (SHM_CACHE_LINE - 1)) != 0)
		return -EINVAL;

	memset(s, 0, sizeof(*s));
	s->magic = RING_MAGIC;
	s->version = RING_LAYOUT_VERSION;
	s->size = size;
	s->msg_max = msg_max;
	s->data_offset = sizeof(struct ring_shared);
	/* Relaxed: the memory is not shared yet; whatever shares it (fd passing,
	 * thread creation) orders these stores before the peer's first load. */
	shm_store_relaxed32(&s->tail, 0);
	shm_store_relaxed32(&s->head, 0);
	shm_store_relaxed32(&s->producer_flags, 0);
	shm_store_relaxed32(&s->consumer_flags, 0);

	ring_init_view(r, mem, size, msg_max, role, peer_doorbell);
	return 0;
}

int ring_attach(struct ring *r, void *mem, size_t mem_len, enum ring_role role, int peer_doorbell)
{
	struct ring_shared geometry;
	uint32_t tail, head;

	if (mem_len < sizeof(struct ring_shared) || ((uintptr_t)mem & (SHM_CACHE_LINE - 1)) != 0)
		return -EINVAL;
	/* One copy of the geometry; only the copy is checked and used. */
	memcpy(&geometry, mem, offsetof(struct ring_shared, geometry_pad));
	if (geometry.magic != RING_MAGIC || geometry.version != RING_LAYOUT_VERSION ||
	    geometry.data_offset != sizeof(struct ring_shared) ||
	    !ring_geometry_valid(geometry.size, geometry.msg_max))
		return -EPROTO;
	if (mem_len < ring_memsize(geometry.size))
		return -EINVAL;

	ring_init_view(r, mem, geometry.size, geometry.msg_max, role, peer_doorbell);
	/* Acquire: pairs with the peer's release of its index (R1 / R2) in case
	 * the ring is already in use when we attach. */
	tail = shm_load_acquire32(&r->shared->tail);
	head = shm_load_acquire32(&r->shared->head);
	if ((uint32_t)(tail - head) > r->size || (head & 7u) != 0 || (tail & 7u) != 0)
		return -EPROTO;
	r->index = role == RING_PRODUCER ? tail : head;
	r->peer = role == RING_PRODUCER ? head : tail;
	r->published = r->index;
	return 0;
}

static int ring_break(struct ring *r, int error)
{
	r->error = error;
	return error;
}

static void ring_copy_in(struct ring *r, uint32_t pos, const void *src, uint32_t length)
{
	uint32_t offset = pos & r->mask;
	uint32_t first = r->size - offset < length ? r->size - offset : length;

	if (length == 0) /* src may be NULL for an empty message */
		return;
	memcpy(r->data + offset, src, first);
	memcpy(r->data, (const uint8_t *)src + first, length - first);
}

static void ring_copy_out(const struct ring *r, uint32_t pos, void *dst, uint32_t length)
{
	uint32_t offset = pos & r->mask;
	uint32_t first = r->size - offset < length ? r->size - offset : length;

	if (length == 0)
		return;
	memcpy(dst, r->data + offset, first);
	memcpy((uint8_t *)dst + first, r->data, length - first);
}

/* ------------------------------------------------------------------------ */
/* Producer side                                                            */
/* ------------------------------------------------------------------------ */

/* Producer only. Check a head loaded from the consumer and adopt it. */
static int producer_accept_head(struct ring *r, uint32_t head)
{
	/* A head ahead of our tail, or further back than the ring holds, is a
	 * lie: refuse it rather than overwrite unread records. */
	if ((uint32_t)(r->index - head) > r->size)
		return ring_break(r, -EPROTO);
	r->peer = head;
	return 0;
}

static int producer_refresh(struct ring *r)
{
	/* A2: pairs with R2 in consumer_publish(): the consumer finished
	 * copying out every byte before this head, so we may overwrite them. */
	return producer_accept_head(r, shm_load_acquire32(&r->shared->head));
}

bool ring_consumed(struct ring *r)
{
	return r->error || r->published == r->peer || producer_refresh(r) != 0 ||
	       r->published == r->peer;
}

uint32_t ring_free_space(const struct ring *r)
{
	return r->size - (r->index - r->peer);
}

bool ring_writable(struct ring *r, uint32_t length)
{
	uint32_t need = ring_record_size(length);

	if (r->error || ring_free_space(r) >= need)
		return true;
	return producer_refresh(r) != 0 || ring_free_space(r) >= need;
}

static void producer_publish(struct ring *r)
{
	/* R1 + D1: pairs with A1 in consumer_refresh(): every record staged
	 * before this store is visible to a consumer that sees the new tail.
	 * Also the store half of D1: either the load below sees NEED_WAKEUP,
	 * or the consumer's re-check in D2 sees this tail. */
	shm_store_seq_cst32(&r->shared->tail, r->index);
	r->published = r->index;
	if (shm_load_seq_cst32(&r->shared->consumer_flags) & RING_NEED_WAKEUP)
		doorbell_ring(r->peer_doorbell);
}

int ring_stagev(struct ring *r, const struct iovec *pieces, unsigned count)
{
	uint32_t length = 0, need, at;
	uint32_t header[2];

	if (r->error)
		return r->error;
	for (unsigned i = 0; i < count; i++) {
		if (pieces[i].iov_len > r->msg_max - length)
			return -EMSGSIZE;
		length += (uint32_t)pieces[i].iov_len;
	}
	need = ring_record_size(length);
	if (ring_free_space(r) < need) {
		int err = producer_refresh(r);

		if (err)
			return err;
		if (ring_free_space(r) < need)
			return -EAGAIN;
	}
	/* Headers are 8-aligned and size is a multiple of 8: one piece. */
	header[0] = length;
	header[1] = 0;
	memcpy(r->data + (r->index & r->mask), header, sizeof(header));
	at = r->index + RING_RECORD_HEADER;
	for (unsigned i = 0; i < count; i++) {
		ring_copy_in(r, at, pieces[i].iov_base, (uint32_t)pieces[i].iov_len);
		at += (uint32_t)pieces[i].iov_len;
	}
	r->index += need;
	return 0;
}

int ring_stage(struct ring *r, const void *msg, uint32_t length)
{
	struct iovec piece = {.iov_base = (void *)(uintptr_t)msg, .iov_len = length};

	return ring_stagev(r, &piece, 1);
}

bool ring_staged(const struct ring *r)
{
	return r->index != r->published;
}

void ring_commit(struct ring *r)
{
	if (ring_staged(r))
		producer_publish(r);
}

int ring_enqueue_burst(struct ring *r, const struct iovec *msgs, unsigned count)
{
	unsigned i;

	for (i = 0; i < count; i++) {
		int err = ring_stage(r, msgs[i].iov_base, (uint32_t)msgs[i].iov_len);

		if (err) {
			if (i == 0)
				return err;
			break;
		}
	}
	ring_commit(r);
	return (int)i;
}

int ring_enqueue(struct ring *r, const void *msg, uint32_t length)
{
	int err = ring_stage(r, msg, length);

	ring_commit(r);
	return err;
}

bool ring_producer_prepare_sleep(struct ring *r, uint32_t need)
{
	/* D4: pairs with D3 in consumer_publish(); see the top of this file. */
	shm_store_seq_cst32(&r->shared->producer_flags, RING_NEED_SPACE);
	if (producer_accept_head(r, shm_load_seq_cst32(&r->shared->head)) != 0 ||
	    ring_free_space(r) >= ring_record_size(need)) {
		shm_store_relaxed32(&r->shared->producer_flags, 0);
		return false;
	}
	return true;
}

void ring_producer_finish_sleep(struct ring *r)
{
	shm_store_relaxed32(&r->shared->producer_flags, 0);
}

/* ------------------------------------------------------------------------ */
/* Consumer side                                                            */
/* ------------------------------------------------------------------------ */

/* Consumer only. Check a tail loaded from the producer and adopt it. */
static int consumer_accept_tail(struct ring *r, uint32_t tail)
{
	if ((uint32_t)(tail - r->index) > r->size)
		return ring_break(r, -EPROTO);
	r->peer = tail;
	return 0;
}

static int consumer_refresh(struct ring *r)
{
	/* A1: pairs with R1 in producer_publish(): the records before this
	 * tail were fully written before it was published. */
	return consumer_accept_tail(r, shm_load_acquire32(&r->shared->tail));
}

bool ring_readable(struct ring *r)
{
	if (r->error || r->peer != r->index)
		return true;
	return consumer_refresh(r) != 0 || r->peer != r->index;
}

/* Consumer only. Copy the next record's payload out once, advance our private
 * head; the caller publishes. */
/* Copy the record at `*at` (the consumer index or a peek cursor) out. */
static int consumer_take(struct ring *r, uint32_t *at, void *dst, size_t cap)
{
	uint32_t available = r->peer - *at;
	uint32_t header[2];

	if (available == 0) {
		int err = consumer_refresh(r);

		if (err)
			return err;
		available = r->peer - *at;
		if (available == 0)
			return -EAGAIN;
	}
	if (available < RING_RECORD_HEADER)
		return ring_break(r, -EBADMSG);
	/* The header is copied once; only the copy is checked and used. */
	memcpy(header, r->data + (*at & r->mask), sizeof(header));
	if (header[1] != 0 || header[0] > r->msg_max || ring_record_size(header[0]) > available)
		return ring_break(r, -EBADMSG);
	if (header[0] > cap)
		return -ENOBUFS;
	ring_copy_out(r, *at + RING_RECORD_HEADER, dst, header[0]);
	*at += ring_record_size(header[0]);
	return (int)header[0];
}

static void consumer_publish(struct ring *r)
{
	/* R2 + D3: pairs with A2 in producer_refresh(): our copies out of the
	 * released records are complete before the producer may reuse them.
	 * Also the store half of D3 (NEED_SPACE), as R1/D1 for NEED_WAKEUP. */
	shm_store_seq_cst32(&r->shared->head, r->index);
	r->published = r->index;
	if (shm_load_seq_cst32(&r->shared->producer_flags) & RING_NEED_SPACE)
		doorbell_ring(r->peer_doorbell);
}

int ring_dequeue(struct ring *r, void *buf, uint32_t cap)
{
	int ret;

	if (r->error)
		return r->error;
	ret = consumer_take(r, &r->index, buf, cap);
	if (ret >= 0)
		consumer_publish(r);
	return ret;
}

int ring_peek_burst(struct ring *r, void *buf, size_t cap, struct ring_msg *msgs, unsigned count)
{
	uint32_t at = r->index;
	size_t offset = 0;
	unsigned i;

	if (r->error)
		return r->error;
	for (i = 0; i < count && offset <= cap; i++) {
		int ret = consumer_take(r, &at, (uint8_t *)buf + offset, cap - offset);

		if (ret < 0) {
			if (i == 0 && ret != -EAGAIN)
				return ret;
			break;
		}
		msgs[i].offset = (uint32_t)offset;
		msgs[i].length = (uint32_t)ret;
		msgs[i].end = at;
		offset = (offset + (uint32_t)ret + 7u) & ~(size_t)7u;
	}
	return (int)i;
}

void ring_release(struct ring *r, uint32_t end)
{
	/* `end` came from our own peek: between our index and the tail we
	 * accepted, so no check against the peer is needed. */
	if (end == r->index)
		return;
	r->index = end;
	consumer_publish(r);
}

int ring_dequeue_burst(struct ring *r, void *buf, size_t cap, struct ring_msg *msgs, unsigned count)
{
	int n = ring_peek_burst(r, buf, cap, msgs, count);

	if (n > 0)
		ring_release(r, msgs[n - 1].end);
	return n;
}

bool ring_consumer_prepare_sleep(struct ring *r)
{
	/* D2: pairs with D1 in producer_publish(); see the top of this file. */
	shm_store_seq_cst32(&r->shared->consumer_flags, RING_NEED_WAKEUP);
	if (r->error || consumer_accept_tail(r, shm_load_seq_cst32(&r->shared->tail)) != 0 ||
	    r->peer != r->index) {
		shm_store_relaxed32(&r->shared->consumer_flags, 0);
		return false;
	}
	return true;
}

void ring_consumer_finish_sleep(struct ring *r)
{
	shm_store_relaxed32(&r->shared->consumer_flags, 0);
}
