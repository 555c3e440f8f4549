/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench/ring: what one message through an shm ring costs, next to two
 * baselines measured in the same run on the same two CPUs:
 *   - a cache-line ping-pong (the floor: one line moving between cores),
 *   - a Unix SOCK_SEQPACKET socketpair moving the same messages (what the
 *     ring replaces), one message per call and 32 per sendmmsg/recvmmsg.
 * Producer and consumer are threads pinned to different CPUs and poll
 * without sleeping, so the figure is the transfer cost, not wakeup latency.
 *
 * usage: ring [--messages N]     (default 2,000,000 per row)
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/clock.h"
#include "shm/ring.h"

#define RING_BYTES (256u * 1024u)
#define BURST	   32
#define MSG_SIZE   512

struct job {
	struct ring *ring;
	int fd;
	unsigned size;
	unsigned burst;
	long messages;
	int cpu;
	pthread_barrier_t *start;
};

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* ---- ring ---------------------------------------------------------------- */

static void *ring_consumer(void *arg)
{
	struct job *job = arg;
	static uint8_t buf[BURST * (MSG_SIZE + 8)];
	struct ring_msg msgs[BURST];
	long got = 0;

	pin(job->cpu);
	pthread_barrier_wait(job->start);
	while (got < job->messages) {
		int n = job->burst == 1
				? (ring_dequeue(job->ring, buf, MSG_SIZE) >= 0)
				: ring_dequeue_burst(job->ring, buf, sizeof(buf), msgs, job->burst);
		if (n <= 0)
			shm_cpu_relax();
		else
			got += n;
	}
	return NULL;
}

static double run_ring(unsigned size, unsigned burst, long messages, int cpu_a, int cpu_b)
{
	void *mem = aligned_alloc(64, ring_memsize(RING_BYTES));
	struct ring producer, consumer;
	static uint8_t payload[MSG_SIZE];
	struct iovec iov[BURST];
	pthread_barrier_t start;
	pthread_t thread;
	struct job job = {.ring = &consumer,
			  .burst = burst,
			  .messages = messages,
			  .cpu = cpu_b,
			  .start = &start};
	double t0, t1;
	long sent = 0;

	ring_create(&producer, mem, ring_memsize(RING_BYTES), RING_BYTES, 4096, RING_PRODUCER, -1);
	ring_attach(&consumer, mem, ring_memsize(RING_BYTES), RING_CONSUMER, -1);
	for (unsigned i = 0; i < BURST; i++)
		iov[i] = (struct iovec){.iov_base = payload, .iov_len = size};
	pthread_barrier_init(&start, NULL, 2);
	pthread_create(&thread, NULL, ring_consumer, &job);
	pin(cpu_a);
	pthread_barrier_wait(&start);
	t0 = bench_now_ns();
	while (sent < messages) {
		unsigned want = messages - sent < burst ? (unsigned)(messages - sent) : burst;
		int n = ring_enqueue_burst(&producer, iov, want);

		if (n < 0)
			shm_cpu_relax();
		else
			sent += n;
	}
	pthread_join(thread, NULL);
	t1 = bench_now_ns();
	pthread_barrier_destroy(&start);
	free(mem);
	return (t1 - t0) / (double)messages;
}

/* ---- SOCK_SEQPACKET ------------------------------------------------------ */

static void *socket_consumer(void *arg)
{
	struct job *job = arg;
	static uint8_t bufs[BURST][MSG_SIZE];
	struct mmsghdr msgs[BURST];
	struct iovec iov[BURST];
	long got = 0;

	pin(job->cpu);
	for (unsigned i = 0; i < BURST; i++) {
		iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = MSG_SIZE};
		msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
	}
	pthread_barrier_wait(job->start);
	while (got < job->messages) {
		int n = job->burst == 1 ? (recv(job->fd, bufs[0], MSG_SIZE, 0) >= 0)
					: recvmmsg(job->fd, msgs, job->burst, MSG_WAITFORONE, NULL);
		if (n > 0)
			got += n;
	}
	return NULL;
}

static double run_socket(unsigned size, unsigned burst, long messages, int cpu_a, int cpu_b)
{
	static uint8_t payload[MSG_SIZE];
	struct mmsghdr msgs[BURST];
	struct iovec iov = {.iov_base = payload, .iov_len = size};
	pthread_barrier_t start;
	pthread_t thread;
	int fds[2], buffer = 4 << 20;
	struct job job = {.burst = burst, .messages = messages, .cpu = cpu_b, .start = &start};
	double t0, t1;
	long sent = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) != 0)
		return -1;
	setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
	setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
	for (unsigned i = 0; i < BURST; i++)
		msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
	job.fd = fds[1];
	pthread_barrier_init(&start, NULL, 2);
	pthread_create(&thread, NULL, socket_consumer, &job);
	pin(cpu_a);
	pthread_barrier_wait(&start);
	t0 = bench_now_ns();
	while (sent < messages) {
		unsigned want = messages - sent < burst ? (unsigned)(messages - sent) : burst;
		int n = burst == 1 ? (send(fds[0], payload, size, 0) >= 0)
				   : sendmmsg(fds[0], msgs, want, 0);
		if (n > 0)
			sent += n;
	}
	pthread_join(thread, NULL);
	t1 = bench_now_ns();
	pthread_barrier_destroy(&start);
	close(fds[0]);
	close(fds[1]);
	return (t1 - t0) / (double)messages;
}

/* ---- cache-line ping-pong ------------------------------------------------ */

static _Alignas(64) shm_u32 ball;

struct pong_job {
	long rounds;
	int cpu;
	pthread_barrier_t *start;
};

static void *pong(void *arg)
{
	struct pong_job *job = arg;

	pin(job->cpu);
	pthread_barrier_wait(job->start);
	for (long i = 0; i < job->rounds; i++) {
		/* Acquire/release pair with ping(): the ball is the only data. */
		while (shm_load_acquire32(&ball) != 2u * (uint32_t)i + 1u)
			shm_cpu_relax();
		shm_store_release32(&ball, 2u * (uint32_t)i + 2u);
	}
	return NULL;
}

/* One-way cost of moving one cache line between the two CPUs. */
static double run_pingpong(long rounds, int cpu_a, int cpu_b)
{
	pthread_barrier_t start;
	pthread_t thread;
	struct pong_job job = {.rounds = rounds, .cpu = cpu_b, .start = &start};
	double t0, t1;

	shm_store_relaxed32(&ball, 0);
	pthread_barrier_init(&start, NULL, 2);
	pthread_create(&thread, NULL, pong, &job);
	pin(cpu_a);
	pthread_barrier_wait(&start);
	t0 = bench_now_ns();
	for (long i = 0; i < rounds; i++) {
		shm_store_release32(&ball, 2u * (uint32_t)i + 1u);
		while (shm_load_acquire32(&ball) != 2u * (uint32_t)i + 2u)
			shm_cpu_relax();
	}
	t1 = bench_now_ns();
	pthread_join(thread, NULL);
	pthread_barrier_destroy(&start);
	return (t1 - t0) / (double)rounds / 2.0;
}

int main(int argc, char **argv)
{
	static const unsigned sizes[] = {16, 64, 512};
	long messages = 2000000;
	int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	int cpu_a = 0, cpu_b = cpus > 1 ? 1 : 0;
	double line;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc) {
			messages = strtol(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: %s [--messages N]\n", argv[0]);
			return 2;
		}
	}
	line = run_pingpong(messages / 4 > 1000 ? messages / 4 : 1000, cpu_a, cpu_b);
	printf("bench/ring: %ld messages per row, producer on CPU %d, consumer on CPU %d\n",
	       messages, cpu_a, cpu_b);
	printf("baseline: cache-line ping-pong, one way: %.1f ns\n\n", line);
	printf("%5s %6s | %11s %10s %9s | %15s %11s\n", "size", "burst", "ring ns/msg",
	       "ring Mmsg/s", "x line", "seqpacket ns/msg", "x ring");
	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (unsigned burst = 1; burst <= BURST; burst += BURST - 1) {
			double ring = run_ring(sizes[s], burst, messages, cpu_a, cpu_b);
			double sock = run_socket(sizes[s], burst, messages / 4, cpu_a, cpu_b);

			printf("%5u %6u | %11.1f %10.1f %9.2f | %15.1f %11.1f\n", sizes[s], burst,
			       ring, 1e3 / ring, ring / line, sock, sock / ring);
		}
	}
	printf("\nx line: ring cost per message in cache-line transfers; "
	       "x ring: how many times the socket costs more.\n");
	return 0;
}
