/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of shm/ring.c and shm/doorbell.c. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm/doorbell.h"
#include "shm/ring.h"

#define SIZE	4096u
#define MSG_MAX 1024u

/* A ring in private memory with both sides' views, and a doorbell per side. */
struct pair {
	void *mem;
	struct ring producer;
	struct ring consumer;
	int producer_bell; /* the producer sleeps on it */
	int consumer_bell; /* the consumer sleeps on it */
};

static int pair_setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->mem = aligned_alloc(64, ring_memsize(SIZE));
	assert_non_null(p->mem);
	p->producer_bell = doorbell_create();
	p->consumer_bell = doorbell_create();
	assert_true(p->producer_bell >= 0 && p->consumer_bell >= 0);
	assert_int_equal(ring_create(&p->producer, p->mem, ring_memsize(SIZE), SIZE, MSG_MAX,
				     RING_PRODUCER, p->consumer_bell),
			 0);
	assert_int_equal(ring_attach(&p->consumer, p->mem, ring_memsize(SIZE), RING_CONSUMER,
				     p->producer_bell),
			 0);
	*state = p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;

	close(p->producer_bell);
	close(p->consumer_bell);
	free(p->mem);
	free(p);
	return 0;
}

static bool bell_signalled(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return poll(&pfd, 1, 0) == 1;
}

static void fill(uint8_t *buf, uint32_t length, uint32_t seed)
{
	for (uint32_t i = 0; i < length; i++)
		buf[i] = (uint8_t)(seed * 131u + i * 7u);
}

static void test_empty_ring_dequeue_is_eagain(void **state)
{
	struct pair *p = *state;
	uint8_t buf[16];

	assert_int_equal(ring_dequeue(&p->consumer, buf, sizeof(buf)), -EAGAIN);
	assert_false(ring_readable(&p->consumer));
}

static void test_message_round_trips_byte_for_byte(void **state)
{
	struct pair *p = *state;
	uint8_t in[100], out[100];

	fill(in, sizeof(in), 1);
	assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), 0);
	assert_true(ring_readable(&p->consumer));
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), sizeof(in));
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), -EAGAIN);
}

static void test_zero_length_message_is_delivered(void **state)
{
	struct pair *p = *state;
	uint8_t out[8];

	assert_int_equal(ring_enqueue(&p->producer, NULL, 0), 0);
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), 0);
}

/* Odd sizes walk the write position across the end of the data area many
 * times, so payloads are split in two and headers land at every offset. */
static void test_wrap_around_keeps_every_payload_intact(void **state)
{
	struct pair *p = *state;
	uint8_t in[MSG_MAX], out[MSG_MAX];

	for (uint32_t i = 0; i < 5000; i++) {
		uint32_t length = 1 + (i * 37u) % 700u;

		fill(in, length, i);
		assert_int_equal(ring_enqueue(&p->producer, in, length), 0);
		assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), (int)length);
		assert_memory_equal(in, out, length);
	}
	/* 5000 records of ~360 bytes went through a 4 KiB ring. */
	assert_true(p->producer.index > 100u * SIZE);
}

static void test_full_ring_is_eagain_until_consumer_frees_space(void **state)
{
	struct pair *p = *state;
	uint8_t in[248] = {0}, out[248];
	int queued = 0, drained = 0;

	/* 248-byte payloads make 256-byte records: exactly 16 fit. */
	while (ring_enqueue(&p->producer, in, sizeof(in)) == 0)
		queued++;
	assert_int_equal(queued, (int)(SIZE / ring_record_size(sizeof(in))));
	assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), -EAGAIN);
	assert_int_equal(ring_free_space(&p->producer), 0);

	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), sizeof(in));
	assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), 0);
	assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), -EAGAIN);
	/* One out, one in: the ring holds `queued` records again. */
	while (ring_dequeue(&p->consumer, out, sizeof(out)) > 0)
		drained++;
	assert_int_equal(drained, queued);
}

static void test_max_size_message_fits_and_larger_is_emsgsize(void **state)
{
	struct pair *p = *state;
	static uint8_t in[MSG_MAX + 1], out[MSG_MAX];

	fill(in, MSG_MAX, 9);
	assert_int_equal(ring_enqueue(&p->producer, in, MSG_MAX + 1), -EMSGSIZE);
	assert_int_equal(ring_enqueue(&p->producer, in, MSG_MAX), 0);
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), MSG_MAX);
	assert_memory_equal(in, out, MSG_MAX);
}

static void test_short_buffer_is_enobufs_and_message_stays(void **state)
{
	struct pair *p = *state;
	uint8_t in[64], out[64];

	fill(in, sizeof(in), 3);
	assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), 0);
	assert_int_equal(ring_dequeue(&p->consumer, out, 63), -ENOBUFS);
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), sizeof(in));
	assert_memory_equal(in, out, sizeof(in));
}

static void test_burst_enqueue_stops_at_first_message_that_does_not_fit(void **state)
{
	struct pair *p = *state;
	static uint8_t big[1000];
	struct iovec iov[8];

	for (int i = 0; i < 8; i++)
		iov[i] = (struct iovec){.iov_base = big, .iov_len = sizeof(big)};
	/* 1008-byte records: four fit in 4096. */
	assert_int_equal(ring_enqueue_burst(&p->producer, iov, 8), 4);
	assert_int_equal(ring_enqueue_burst(&p->producer, iov, 8), -EAGAIN);
}

static void test_staged_messages_are_invisible_until_commit(void **state)
{
	struct pair *p = *state;
	uint8_t in[16] = {1}, out[16];

	assert_int_equal(ring_stage(&p->producer, in, sizeof(in)), 0);
	assert_int_equal(ring_stage(&p->producer, in, sizeof(in)), 0);
	assert_true(ring_staged(&p->producer));
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), -EAGAIN);
	ring_commit(&p->producer);
	assert_false(ring_staged(&p->producer));
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), sizeof(in));
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), sizeof(in));
}

static void test_burst_dequeue_copies_messages_back_to_back(void **state)
{
	struct pair *p = *state;
	uint8_t a[5], b[17], c[1];
	struct iovec iov[3] = {{a, sizeof(a)}, {b, sizeof(b)}, {c, sizeof(c)}};
	uint8_t buf[256];
	struct ring_msg msgs[8];

	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	fill(c, sizeof(c), 3);
	assert_int_equal(ring_enqueue_burst(&p->producer, iov, 3), 3);
	assert_int_equal(ring_dequeue_burst(&p->consumer, buf, sizeof(buf), msgs, 8), 3);
	assert_int_equal(msgs[0].offset, 0);
	assert_int_equal(msgs[0].length, 5);
	assert_int_equal(msgs[1].offset, 8);
	assert_int_equal(msgs[1].length, 17);
	assert_int_equal(msgs[2].offset, 32);
	assert_memory_equal(buf + msgs[1].offset, b, sizeof(b));
	assert_memory_equal(buf + msgs[2].offset, c, sizeof(c));
	assert_int_equal(ring_dequeue_burst(&p->consumer, buf, sizeof(buf), msgs, 8), 0);
}

static void test_burst_dequeue_stops_when_buffer_is_full(void **state)
{
	struct pair *p = *state;
	uint8_t in[40] = {0}, buf[100];
	struct ring_msg msgs[8];

	for (int i = 0; i < 3; i++)
		assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), 0);
	/* Two 40-byte messages at offsets 0 and 40 fill 80 of 100 bytes. */
	assert_int_equal(ring_dequeue_burst(&p->consumer, buf, sizeof(buf), msgs, 8), 2);
	assert_int_equal(ring_dequeue_burst(&p->consumer, buf, sizeof(buf), msgs, 8), 1);
}

/* Hostile producers: what they write into the shared ring. */
static void write_header(struct pair *p, uint32_t at, uint32_t length, uint32_t reserved)
{
	uint32_t header[2] = {length, reserved};

	memcpy(p->producer.data + (at & p->producer.mask), header, sizeof(header));
}

static void test_length_above_maximum_is_ebadmsg_not_followed(void **state)
{
	struct pair *p = *state;
	uint8_t out[MSG_MAX];

	write_header(p, 0, 0x7ffffff0u, 0);
	shm_store_release32(&p->producer.shared->tail, 64);
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), -EBADMSG);
	/* The consumer's head did not move past the bad record. */
	assert_int_equal(shm_load_relaxed32(&p->producer.shared->head), 0);
}

static void test_length_beyond_published_tail_is_ebadmsg(void **state)
{
	struct pair *p = *state;
	uint8_t out[MSG_MAX];

	write_header(p, 0, 100, 0); /* needs 112 bytes, only 64 published */
	shm_store_release32(&p->producer.shared->tail, 64);
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), -EBADMSG);
}

static void test_reserved_header_bits_are_ebadmsg(void **state)
{
	struct pair *p = *state;
	uint8_t out[MSG_MAX];

	write_header(p, 0, 8, 1);
	shm_store_release32(&p->producer.shared->tail, 16);
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), -EBADMSG);
}

static void test_tail_not_on_record_boundary_is_ebadmsg(void **state)
{
	struct pair *p = *state;
	uint8_t out[MSG_MAX];

	write_header(p, 0, 8, 0);
	shm_store_release32(&p->producer.shared->tail, 20); /* 16 + 4 stray bytes */
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), 8);
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), -EBADMSG);
}

static void test_tail_beyond_capacity_is_eproto(void **state)
{
	struct pair *p = *state;
	uint8_t out[MSG_MAX];

	shm_store_release32(&p->producer.shared->tail, SIZE + 8);
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), -EPROTO);
}

static void test_tail_moved_backwards_is_eproto(void **state)
{
	struct pair *p = *state;
	uint8_t in[8] = {0}, out[MSG_MAX];

	assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), 0);
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), 8);
	shm_store_release32(&p->producer.shared->tail, 0); /* behind the consumer */
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), -EPROTO);
}

static void test_broken_ring_stays_broken(void **state)
{
	struct pair *p = *state;
	uint8_t out[MSG_MAX];
	struct ring_msg msgs[4];

	write_header(p, 0, MSG_MAX + 1, 0);
	shm_store_release32(&p->producer.shared->tail, 64);
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), -EBADMSG);
	/* Even once the producer "repairs" the header. */
	write_header(p, 0, 8, 0);
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), -EBADMSG);
	assert_int_equal(ring_dequeue_burst(&p->consumer, out, sizeof(out), msgs, 4), -EBADMSG);
	assert_true(ring_readable(&p->consumer));
}

/* Hostile consumer: a head that would let the producer overwrite unread
 * records. */
static void test_head_ahead_of_tail_is_eproto(void **state)
{
	struct pair *p = *state;
	uint8_t in[248] = {0};

	while (ring_enqueue(&p->producer, in, sizeof(in)) == 0)
		;
	shm_store_release32(&p->consumer.shared->head, 2 * SIZE);
	assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), -EPROTO);
	assert_int_equal(ring_enqueue(&p->producer, in, 8), -EPROTO);
}

static void test_attach_refuses_bad_geometry(void **state)
{
	struct pair *p = *state;
	struct ring r;

	assert_int_equal(ring_attach(&r, p->mem, ring_memsize(SIZE) - 1, RING_CONSUMER, -1),
			 -EINVAL);
	p->producer.shared->size = SIZE + 8; /* not a power of two */
	assert_int_equal(ring_attach(&r, p->mem, ring_memsize(SIZE), RING_CONSUMER, -1), -EPROTO);
	p->producer.shared->size = SIZE;
	p->producer.shared->msg_max = SIZE; /* a max record must fit twice */
	assert_int_equal(ring_attach(&r, p->mem, ring_memsize(SIZE), RING_CONSUMER, -1), -EPROTO);
	p->producer.shared->msg_max = MSG_MAX;
	p->producer.shared->version = RING_LAYOUT_VERSION + 1;
	assert_int_equal(ring_attach(&r, p->mem, ring_memsize(SIZE), RING_CONSUMER, -1), -EPROTO);
	p->producer.shared->version = RING_LAYOUT_VERSION;
	p->producer.shared->magic = 0;
	assert_int_equal(ring_attach(&r, p->mem, ring_memsize(SIZE), RING_CONSUMER, -1), -EPROTO);
}

static void test_create_refuses_bad_geometry(void **state)
{
	struct pair *p = *state;
	struct ring r;

	assert_int_equal(ring_create(&r, p->mem, ring_memsize(SIZE), 3000, 64, RING_PRODUCER, -1),
			 -EINVAL);
	assert_int_equal(ring_create(&r, p->mem, ring_memsize(SIZE), SIZE, 0, RING_PRODUCER, -1),
			 -EINVAL);
	assert_int_equal(
		ring_create(&r, p->mem, ring_memsize(SIZE), SIZE, SIZE / 2, RING_PRODUCER, -1),
		-EINVAL);
	assert_int_equal(
		ring_create(&r, p->mem, ring_memsize(SIZE) - 1, SIZE, 64, RING_PRODUCER, -1),
		-EINVAL);
	assert_int_equal(ring_create(&r, (uint8_t *)p->mem + 8, ring_memsize(SIZE), SIZE, 64,
				     RING_PRODUCER, -1),
			 -EINVAL);
}

/* Wakeup suppression: the doorbell rings only when the consumer asked. */
static void test_doorbell_stays_silent_while_consumer_is_awake(void **state)
{
	struct pair *p = *state;
	uint8_t in[8] = {0};

	for (int i = 0; i < 10; i++)
		assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), 0);
	assert_false(bell_signalled(p->consumer_bell));
}

static void test_doorbell_rings_once_consumer_needs_wakeup(void **state)
{
	struct pair *p = *state;
	uint8_t in[8] = {0}, out[8];

	assert_true(ring_consumer_prepare_sleep(&p->consumer));
	assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), 0);
	assert_true(bell_signalled(p->consumer_bell));
	ring_consumer_finish_sleep(&p->consumer);
	doorbell_drain(p->consumer_bell);
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), 8);
	assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), 0);
	assert_false(bell_signalled(p->consumer_bell));
}

static void test_prepare_sleep_declines_when_data_is_waiting(void **state)
{
	struct pair *p = *state;
	uint8_t in[8] = {0};

	assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), 0);
	assert_false(ring_consumer_prepare_sleep(&p->consumer));
	/* The flag was withdrawn: a further message rings nothing. */
	assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), 0);
	assert_false(bell_signalled(p->consumer_bell));
}

static void test_producer_waiting_for_space_is_woken_by_dequeue(void **state)
{
	struct pair *p = *state;
	uint8_t in[248] = {0}, out[248];

	while (ring_enqueue(&p->producer, in, sizeof(in)) == 0)
		;
	assert_true(ring_producer_prepare_sleep(&p->producer, sizeof(in)));
	assert_false(bell_signalled(p->producer_bell));
	assert_int_equal(ring_dequeue(&p->consumer, out, sizeof(out)), sizeof(in));
	assert_true(bell_signalled(p->producer_bell));
	ring_producer_finish_sleep(&p->producer);
	assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), 0);
}

static void test_wait_readable_times_out_on_empty_ring(void **state)
{
	struct pair *p = *state;

	assert_int_equal(
		ring_wait_readable(&p->consumer, &(struct ring_wait){.bell = p->consumer_bell,
								     .hangup_fd = -1,
								     .spin_ns = 1000,
								     .timeout_ms = 20}),
		-ETIMEDOUT);
	/* Nobody is asleep afterwards. */
	assert_int_equal(shm_load_relaxed32(&p->consumer.shared->consumer_flags), 0);
}

static void test_wait_readable_returns_at_once_with_data(void **state)
{
	struct pair *p = *state;
	uint8_t in[8] = {0};

	assert_int_equal(ring_enqueue(&p->producer, in, sizeof(in)), 0);
	assert_int_equal(
		ring_wait_readable(&p->consumer, &(struct ring_wait){.bell = p->consumer_bell,
								     .hangup_fd = -1,
								     .timeout_ms = 1000}),
		0);
}

/* A bell the primary rings for a client (a socket pair): rung, it reads
 * as signalled; drained, silent; rung past its buffer, it never blocks
 * and stays signalled. */
static void test_outbound_bell_rings_drains_and_never_blocks(void **state)
{
	int bell[2];

	(void)state;
	assert_int_equal(doorbell_create_outbound(bell), 0);
	assert_false(bell_signalled(bell[0]));
	doorbell_ring(bell[1]);
	assert_true(bell_signalled(bell[0]));
	doorbell_drain(bell[0]);
	assert_false(bell_signalled(bell[0]));
	for (int i = 0; i < 100000; i++) /* a peer that never drains */
		doorbell_ring(bell[1]);
	assert_true(bell_signalled(bell[0]));
	for (int i = 0; i < 100000 && bell_signalled(bell[0]); i++)
		doorbell_drain(bell[0]);
	assert_false(bell_signalled(bell[0]));
	doorbell_close_outbound(bell);
	assert_int_equal(bell[0], -1);
	assert_int_equal(bell[1], -1);
}

/* A wait on a bell whose ringer closed its end ends at once with
 * -ESHUTDOWN: the bell would poll as ready, and read empty, for ever. */
static void test_wait_on_a_bell_whose_ringer_went_is_eshutdown(void **state)
{
	struct pair *p = *state;
	struct timespec t0, t1;
	int bell[2];

	assert_int_equal(doorbell_create_outbound(bell), 0);
	close(bell[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ring_wait_readable(&p->consumer, &(struct ring_wait){.bell = bell[0],
									      .hangup_fd = -1,
									      .timeout_ms = 5000}),
			 -ESHUTDOWN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 4); /* not the timeout */
	close(bell[0]);
}

#define T(name) cmocka_unit_test_setup_teardown(name, pair_setup, pair_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_empty_ring_dequeue_is_eagain),
		T(test_outbound_bell_rings_drains_and_never_blocks),
		T(test_wait_on_a_bell_whose_ringer_went_is_eshutdown),
		T(test_message_round_trips_byte_for_byte),
		T(test_zero_length_message_is_delivered),
		T(test_wrap_around_keeps_every_payload_intact),
		T(test_full_ring_is_eagain_until_consumer_frees_space),
		T(test_max_size_message_fits_and_larger_is_emsgsize),
		T(test_short_buffer_is_enobufs_and_message_stays),
		T(test_burst_enqueue_stops_at_first_message_that_does_not_fit),
		T(test_staged_messages_are_invisible_until_commit),
		T(test_burst_dequeue_copies_messages_back_to_back),
		T(test_burst_dequeue_stops_when_buffer_is_full),
		T(test_length_above_maximum_is_ebadmsg_not_followed),
		T(test_length_beyond_published_tail_is_ebadmsg),
		T(test_reserved_header_bits_are_ebadmsg),
		T(test_tail_not_on_record_boundary_is_ebadmsg),
		T(test_tail_beyond_capacity_is_eproto),
		T(test_tail_moved_backwards_is_eproto),
		T(test_broken_ring_stays_broken),
		T(test_head_ahead_of_tail_is_eproto),
		T(test_attach_refuses_bad_geometry),
		T(test_create_refuses_bad_geometry),
		T(test_doorbell_stays_silent_while_consumer_is_awake),
		T(test_doorbell_rings_once_consumer_needs_wakeup),
		T(test_prepare_sleep_declines_when_data_is_waiting),
		T(test_producer_waiting_for_space_is_woken_by_dequeue),
		T(test_wait_readable_times_out_on_empty_ring),
		T(test_wait_readable_returns_at_once_with_data),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
