/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPSC variable-length message ring; see ring.h for the layout and the trust
 * rules. Synchronising pairs used here:
 *
 *   R1 producer_publish() store-release tail   ->  A1 consumer_refresh() load-acquire tail
 *   R2 consumer_publish() store-release head   ->  A2 producer_refresh() load-acquire head
 *   F1 producer_publish() fence  <->  F2 ring_consumer_prepare_sleep() fence   (NEED_WAKEUP)
 *   F3 consumer_publish() fence  <->  F4 ring_producer_prepare_sleep() fence   (NEED_SPACE)
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

int ring_attach(struct ring *r, void *mem, size_t mem_len, enum ring_role role,
		int peer_doorbell)
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

	memcpy(r->data + offset, src, first);
	memcpy(r->data, (const uint8_t *)src + first, length - first);
}

static void ring_copy_out(const struct ring *r, uint32_t pos, void *dst, uint32_t length)
{
	uint32_t offset = pos & r->mask;
	uint32_t first = r->size - offset < length ? r->size - offset : length;

	memcpy(dst, r->data + offset, first);
	memcpy((uint8_t *)dst + first, r->data, length - first);
}

/* ------------------------------------------------------------------------ */
/* Producer side                                                            */
/* ------------------------------------------------------------------------ */

/* Producer only. Load and check the consumer's head. */
static int producer_refresh(struct ring *r)
{
	/* A2: pairs with R2 in consumer_publish(): the consumer finished
	 * copying out every byte before this head, so we may overwrite them. */
	uint32_t head = shm_load_acquire32(&r->shared->head);

	/* A head ahead of our tail, or further back than the ring holds, is a
	 * lie: refuse it rather than overwrite unread records. */
	if ((uint32_t)(r->index - head) > r->size)
		return ring_break(r, -EPROTO);
	r->peer = head;
	return 0;
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
	/* R1: pairs with A1 in consumer_refresh(): every record staged before
	 * this store is visible to a consumer that sees the new tail. */
	shm_store_release32(&r->shared->tail, r->index);
	r->published = r->index;
	/* F1: pairs with F2 in ring_consumer_prepare_sleep(). A store followed
	 * by a load of another word needs a full fence: with it, either we see
	 * NEED_WAKEUP below, or the consumer's re-check after F2 sees our tail.
	 * A lost wakeup would need both loads to miss, which the two fences
	 * forbid. */
	shm_fence_full();
	/* Relaxed: ordered by F1; only the bit matters. */
	if (shm_load_relaxed32(&r->shared->consumer_flags) & RING_NEED_WAKEUP)
		doorbell_ring(r->peer_doorbell);
}

int ring_enqueue_burst(struct ring *r, const struct iovec *msgs, unsigned count)
{
	unsigned i;

	if (r->error)
		return r->error;
	for (i = 0; i < count; i++) {
		uint32_t length, need;
		uint32_t header[2];

		if (msgs[i].iov_len > r->msg_max) {
			if (i == 0)
				return -EMSGSIZE;
			break;
		}
		length = (uint32_t)msgs[i].iov_len;
		need = ring_record_size(length);
		if (ring_free_space(r) < need) {
			int err = producer_refresh(r);

			if (err && i == 0)
				return err;
			if (err || ring_free_space(r) < need)
				break;
		}
		header[0] = length;
		header[1] = 0;
		/* Headers are 8-aligned and size is a multiple of 8: one piece. */
		memcpy(r->data + (r->index & r->mask), header, sizeof(header));
		ring_copy_in(r, r->index + RING_RECORD_HEADER, msgs[i].iov_base, length);
		r->index += need;
	}
	if (i == 0)
		return -EAGAIN;
	producer_publish(r);
	return (int)i;
}

int ring_enqueue(struct ring *r, const void *msg, uint32_t length)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)msg, .iov_len = length};
	int ret = ring_enqueue_burst(r, &iov, 1);

	return ret < 0 ? ret : 0;
}

bool ring_producer_prepare_sleep(struct ring *r, uint32_t need)
{
	/* Relaxed: F4 below orders it before the head load. */
	shm_store_relaxed32(&r->shared->producer_flags, RING_NEED_SPACE);
	/* F4: pairs with F3 in consumer_publish(); see F1/F2. */
	shm_fence_full();
	if (producer_refresh(r) != 0 || ring_free_space(r) >= ring_record_size(need)) {
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

/* Consumer only. Load and check the producer's tail. */
static int consumer_refresh(struct ring *r)
{
	/* A1: pairs with R1 in producer_publish(): the records before this
	 * tail were fully written before it was published. */
	uint32_t tail = shm_load_acquire32(&r->shared->tail);

	if ((uint32_t)(tail - r->index) > r->size)
		return ring_break(r, -EPROTO);
	r->peer = tail;
	return 0;
}

bool ring_readable(struct ring *r)
{
	if (r->error || r->peer != r->index)
		return true;
	return consumer_refresh(r) != 0 || r->peer != r->index;
}

/* Consumer only. Copy the next record's payload out once, advance our private
 * head; the caller publishes. */
static int consumer_take(struct ring *r, void *dst, size_t cap)
{
	uint32_t available = r->peer - r->index;
	uint32_t header[2];

	if (available == 0) {
		int err = consumer_refresh(r);

		if (err)
			return err;
		available = r->peer - r->index;
		if (available == 0)
			return -EAGAIN;
	}
	if (available < RING_RECORD_HEADER)
		return ring_break(r, -EBADMSG);
	/* The header is copied once; only the copy is checked and used. */
	memcpy(header, r->data + (r->index & r->mask), sizeof(header));
	if (header[1] != 0 || header[0] > r->msg_max || ring_record_size(header[0]) > available)
		return ring_break(r, -EBADMSG);
	if (header[0] > cap)
		return -ENOBUFS;
	ring_copy_out(r, r->index + RING_RECORD_HEADER, dst, header[0]);
	r->index += ring_record_size(header[0]);
	return (int)header[0];
}

static void consumer_publish(struct ring *r)
{
	/* R2: pairs with A2 in producer_refresh(): our copies out of the
	 * released records are complete before the producer may reuse them. */
	shm_store_release32(&r->shared->head, r->index);
	r->published = r->index;
	/* F3: pairs with F4 in ring_producer_prepare_sleep(); see F1/F2. */
	shm_fence_full();
	if (shm_load_relaxed32(&r->shared->producer_flags) & RING_NEED_SPACE)
		doorbell_ring(r->peer_doorbell);
}

int ring_dequeue(struct ring *r, void *buf, uint32_t cap)
{
	int ret;

	if (r->error)
		return r->error;
	ret = consumer_take(r, buf, cap);
	if (ret >= 0)
		consumer_publish(r);
	return ret;
}

int ring_dequeue_burst(struct ring *r, void *buf, size_t cap, struct ring_msg *msgs,
		       unsigned count)
{
	size_t offset = 0;
	unsigned i;

	if (r->error)
		return r->error;
	for (i = 0; i < count && offset <= cap; i++) {
		int ret = consumer_take(r, (uint8_t *)buf + offset, cap - offset);

		if (ret < 0) {
			if (i == 0 && ret != -EAGAIN)
				return ret;
			break;
		}
		msgs[i].offset = (uint32_t)offset;
		msgs[i].length = (uint32_t)ret;
		offset = (offset + (uint32_t)ret + 7u) & ~(size_t)7u;
	}
	if (i > 0)
		consumer_publish(r);
	return (int)i;
}

bool ring_consumer_prepare_sleep(struct ring *r)
{
	/* Relaxed: F2 below orders it before the tail load. */
	shm_store_relaxed32(&r->shared->consumer_flags, RING_NEED_WAKEUP);
	/* F2: pairs with F1 in producer_publish(). */
	shm_fence_full();
	if (ring_readable(r)) {
		shm_store_relaxed32(&r->shared->consumer_flags, 0);
		return false;
	}
	return true;
}

void ring_consumer_finish_sleep(struct ring *r)
{
	shm_store_relaxed32(&r->shared->consumer_flags, 0);
}
