/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ring stress test: a producer and a consumer move N messages through one
 * ring, either as two processes over a memfd mapping (each maps the fd
 * itself) or as two threads (so ThreadSanitizer can check the ordering,
 * which it cannot see across processes).
 *
 * Every message carries its sequence number and a checksum of its payload;
 * the payload itself is regenerated from the sequence number and compared.
 * Lengths vary from 8 bytes to the ring's maximum, bursts vary from 1 to 32,
 * and both sides sleep on their doorbells when the ring is empty or full, so
 * a lost wakeup shows up as a timeout, not as a slow pass.
 *
 * usage: test_ring_stress processes|threads [messages]
 * exit: 0 pass, 1 fail, 77 skip
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/doorbell.h"
#include "shm/ring.h"

#define RING_BYTES (64u * 1024u)
#define MSG_MAX	   4096u
#define WAIT_MS	   10000 /* a wait this long means a lost wakeup */
#define SPIN_NS	   5000	 /* poll this long before sleeping on the doorbell */

struct message_header {
	uint64_t sequence;
	uint32_t checksum;
	uint32_t length;
};

struct side {
	void *mem;
	size_t mem_len;
	int own_bell;  /* this side sleeps on it */
	int peer_bell; /* this side rings it */
	uint64_t messages;
	uint64_t sleeps;
	const char *failure;
	char detail[160];
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Mostly small messages, with every size up to the maximum now and then. */
static uint32_t length_of(uint64_t sequence)
{
	uint64_t r = mix(sequence);

	if ((r & 1023) == 0)
		return MSG_MAX;
	if ((r & 63) == 1)
		return sizeof(struct message_header) + (uint32_t)((r >> 10) % (MSG_MAX - 15));
	return sizeof(struct message_header) + (uint32_t)((r >> 10) % 113);
}

static void payload_of(uint64_t sequence, uint8_t *p, uint32_t length)
{
	uint64_t word = mix(sequence ^ 0x9e3779b97f4a7c15ull);

	for (uint32_t i = 0; i < length; i += 8) {
		uint32_t n = length - i < 8 ? length - i : 8;

		memcpy(p + i, &word, n);
		word = word * 6364136223846793005ull + 1442695040888963407ull;
	}
}

/* FNV-1a over the payload, 32 bits. */
static uint32_t checksum_of(const uint8_t *p, uint32_t length)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < length; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void build(uint64_t sequence, uint8_t *buf, uint32_t length)
{
	struct message_header h = {.sequence = sequence, .length = length};
	uint32_t body = length - (uint32_t)sizeof(h);

	payload_of(sequence, buf + sizeof(h), body);
	h.checksum = checksum_of(buf + sizeof(h), body);
	memcpy(buf, &h, sizeof(h));
}

static int fail(struct side *s, const char *what, uint64_t sequence)
{
	s->failure = what;
	snprintf(s->detail, sizeof(s->detail), "%s at message %" PRIu64, what, sequence);
	return -1;
}

static int run_producer(struct side *s, struct ring *r)
{
	static uint8_t bufs[32][MSG_MAX];
	struct iovec iov[32];
	uint64_t next = 0;

	while (next < s->messages) {
		unsigned burst = 1 + (unsigned)(mix(next * 3) % 32);
		int sent;

		if (burst > s->messages - next)
			burst = (unsigned)(s->messages - next);
		for (unsigned i = 0; i < burst; i++) {
			uint32_t length = length_of(next + i);

			build(next + i, bufs[i], length);
			iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = length};
		}
		sent = ring_enqueue_burst(r, iov, burst);
		if (sent == -EAGAIN) {
			struct ring_wait w = {.bell = s->own_bell,
					      .hangup_fd = -1,
					      .spin_ns = SPIN_NS,
					      .timeout_ms = WAIT_MS};
			int err = ring_wait_writable(r, (uint32_t)iov[0].iov_len, &w);

			s->sleeps++;
			if (err == -ETIMEDOUT)
				return fail(s, "producer waited 10 s for space (lost wakeup?)",
					    next);
			continue;
		}
		if (sent < 0)
			return fail(s, "enqueue failed", next);
		next += (uint64_t)sent;
	}
	return 0;
}

static int check_message(struct side *s, const uint8_t *msg, int length, uint64_t expected)
{
	static uint8_t want[MSG_MAX];
	struct message_header h;

	if (length < (int)sizeof(h))
		return fail(s, "message shorter than its header", expected);
	memcpy(&h, msg, sizeof(h));
	if (h.sequence != expected)
		return fail(s, "sequence gap or reorder", expected);
	if (h.length != (uint32_t)length || (uint32_t)length != length_of(expected))
		return fail(s, "length mismatch", expected);
	if (checksum_of(msg + sizeof(h), (uint32_t)length - sizeof(h)) != h.checksum)
		return fail(s, "checksum mismatch", expected);
	payload_of(expected, want, (uint32_t)length - sizeof(h));
	if (memcmp(want, msg + sizeof(h), (uint32_t)length - sizeof(h)) != 0)
		return fail(s, "payload mismatch", expected);
	return 0;
}

static int run_consumer(struct side *s, struct ring *r)
{
	static uint8_t buf[32 * (MSG_MAX + 8)];
	struct ring_msg msgs[32];
	uint64_t expected = 0;

	while (expected < s->messages) {
		int n;

		/* Alternate single and burst dequeues. */
		if (expected & 1) {
			n = ring_dequeue(r, buf, MSG_MAX);
			if (n >= 0) {
				msgs[0] = (struct ring_msg){.offset = 0, .length = (uint32_t)n};
				n = 1;
			}
		} else {
			n = ring_dequeue_burst(r, buf, sizeof(buf), msgs, 32);
			if (n == 0)
				n = -EAGAIN;
		}
		if (n == -EAGAIN) {
			s->sleeps++;
			struct ring_wait w = {.bell = s->own_bell,
					      .hangup_fd = -1,
					      .spin_ns = SPIN_NS,
					      .timeout_ms = WAIT_MS};

			if (ring_wait_readable(r, &w) == -ETIMEDOUT)
				return fail(s, "consumer waited 10 s for data (lost wakeup?)",
					    expected);
			continue;
		}
		if (n < 0)
			return fail(s, "dequeue failed", expected);
		for (int i = 0; i < n; i++, expected++)
			if (check_message(s, buf + msgs[i].offset, (int)msgs[i].length, expected) !=
			    0)
				return -1;
	}
	return 0;
}

static void *consumer_thread(void *arg)
{
	struct side *s = arg;
	struct ring r;

	if (ring_attach(&r, s->mem, s->mem_len, RING_CONSUMER, s->peer_bell) != 0)
		fail(s, "attach failed", 0);
	else
		run_consumer(s, &r);
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct side producer = {0}, consumer = {0};
	bool processes;
	uint64_t messages = 10000000;
	struct ring ring;
	int memfd, status, result;
	double start;
	pid_t child = -1;
	pthread_t thread;

	if (argc < 2 || (strcmp(argv[1], "processes") && strcmp(argv[1], "threads"))) {
		fprintf(stderr, "usage: %s processes|threads [messages]\n", argv[0]);
		return 1;
	}
	processes = strcmp(argv[1], "processes") == 0;
	if (argc > 2)
		messages = strtoull(argv[2], NULL, 0);

	memfd = memfd_create("mpflow-ring-stress", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)ring_memsize(RING_BYTES)) != 0) {
		perror("memfd");
		return 77;
	}
	producer.mem_len = consumer.mem_len = ring_memsize(RING_BYTES);
	producer.mem = mmap(NULL, producer.mem_len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	producer.own_bell = consumer.peer_bell = doorbell_create();
	consumer.own_bell = producer.peer_bell = doorbell_create();
	if (producer.mem == MAP_FAILED || producer.own_bell < 0 || consumer.own_bell < 0) {
		perror("setup");
		return 1;
	}
	producer.messages = consumer.messages = messages;
	if (ring_create(&ring, producer.mem, producer.mem_len, RING_BYTES, MSG_MAX, RING_PRODUCER,
			producer.peer_bell) != 0) {
		fprintf(stderr, "ring_create failed\n");
		return 1;
	}

	start = now();
	if (processes) {
		child = fork();
		if (child == 0) {
			/* The consumer maps the memfd itself, at its own address. */
			consumer.mem = mmap(NULL, consumer.mem_len, PROT_READ | PROT_WRITE,
					    MAP_SHARED, memfd, 0);
			if (consumer.mem == MAP_FAILED)
				_exit(1);
			consumer_thread(&consumer);
			if (consumer.failure)
				fprintf(stderr, "consumer: %s\n", consumer.detail);
			_exit(consumer.failure ? 1 : 0);
		}
		if (child < 0) {
			perror("fork");
			return 1;
		}
	} else {
		consumer.mem = producer.mem;
		if (pthread_create(&thread, NULL, consumer_thread, &consumer) != 0)
			return 1;
	}

	result = run_producer(&producer, &ring) == 0 ? 0 : 1;
	if (result)
		fprintf(stderr, "producer: %s\n", producer.detail);
	if (processes) {
		if (result)
			kill(child, SIGKILL);
		if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			result = 1;
	} else {
		pthread_join(thread, NULL);
		if (consumer.failure) {
			fprintf(stderr, "consumer: %s\n", consumer.detail);
			result = 1;
		}
	}
	printf("%s: %" PRIu64 " messages in %.2f s, producer slept %" PRIu64 " times: %s\n",
	       argv[1], messages, now() - start, producer.sleeps, result ? "FAIL" : "ok");
	return result;
}
