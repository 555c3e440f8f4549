/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench/control: what the control plane costs, each figure beside a baseline
 * measured in the same run.
 *
 *  1. Round trip of a synchronous create of a simple rule (soft backend),
 *     median and p99, with client and primary polling ("spinning") and with
 *     both sleeping on their doorbells; baseline: a request/response of the
 *     same sizes over a Unix SOCK_SEQPACKET socketpair to another process.
 *  2. Sustained asynchronous inserts (rules/s) up to N installed rules, with
 *     1 and 4 client processes; then the flush that removes them.
 *  3. A counter query (no reset: shared memory only); baseline: the same
 *     query with reset, which is a round trip to the primary.
 *
 * usage: control [--rules N] [--rounds N]   (mpflowd from $MPFLOWD)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/clock.h"
#include "bench/rule.h"
#include "shm/wire.h"
#include "tests/harness.h"

struct stats {
	double median, p99;
};

static struct stats summarize(double *samples, unsigned n)
{
	qsort(samples, n, sizeof(*samples), bench_compare_doubles);
	return (struct stats){samples[n / 2], samples[n * 99 / 100]};
}

static int connect_client(const struct primary *p, const char *name, int busy_poll_us,
			  struct mpf_client **c)
{
	struct mpf_connect_options o = {.runtime_dir = p->dir,
					.name = name,
					.busy_poll_us = busy_poll_us,
					.timeout_ms = 30000};
	struct mpf_flow_error error;
	int err = mpf_connect(&o, c, &error);

	if (err)
		fprintf(stderr, "control: connect: %s\n", error.message);
	return err;
}

/* 1. Synchronous create round trips. */
static int create_round_trips(const struct primary *p, int busy_poll_us, unsigned rounds,
			      struct stats *out)
{
	double *samples = malloc(rounds * sizeof(*samples));
	struct mpf_flow_error error;
	struct mpf_client *c;
	struct rule r;

	if (samples == NULL || connect_client(p, "bench-sync", busy_poll_us, &c))
		return -1;
	rule_init(&r, 1);
	for (unsigned i = 0; i < rounds + rounds / 10; i++) {
		uint64_t handle;
		double t0 = bench_now_ns();

		if (mpf_flow_create(c, 0, &ingress, r.pattern, r.actions, 0, &handle, &error)) {
			fprintf(stderr, "control: create: %s\n", error.message);
			return -1;
		}
		if (i >= rounds / 10) /* the first tenth warms up */
			samples[i - rounds / 10] = bench_now_ns() - t0;
		mpf_flow_destroy(c, 0, handle, &error);
	}
	*out = summarize(samples, rounds);
	free(samples);
	mpf_disconnect(c);
	return 0;
}

/* Baseline: request/response of the same sizes over SOCK_SEQPACKET. */
static struct stats socket_round_trips(unsigned rounds, size_t request, size_t response)
{
	double *samples = malloc(rounds * sizeof(*samples));
	uint8_t buf[WIRE_MSG_MAX] = {0};
	int fds[2];
	pid_t echo;
	struct stats s;

	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds);
	echo = fork();
	if (echo == 0) {
		close(fds[0]);
		while (recv(fds[1], buf, sizeof(buf), 0) > 0)
			if (send(fds[1], buf, response, 0) < 0)
				break;
		_exit(0);
	}
	close(fds[1]);
	for (unsigned i = 0; i < rounds + rounds / 10; i++) {
		double t0 = bench_now_ns();

		if (send(fds[0], buf, request, 0) < 0 || recv(fds[0], buf, sizeof(buf), 0) < 0)
			break;
		if (i >= rounds / 10)
			samples[i - rounds / 10] = bench_now_ns() - t0;
	}
	close(fds[0]);
	waitpid(echo, NULL, 0);
	s = summarize(samples, rounds);
	free(samples);
	return s;
}

/* 2. Inserts through the async API as fast as they go. */
/* One client's share: `count` creates, asynchronous. Persistent rules
 * outlive it; the others are destroyed when it disconnects, after the
 * time it reports (ns from its first submit to its last completion, into
 * *elapsed_ns). */
static int insert_rules(const struct primary *p, const char *name, uint32_t first, uint32_t count,
			uint32_t flags, double *elapsed_ns)
{
	struct mpf_client *c;
	double t0;

	if (connect_client(p, name, 20, &c))
		return -1;
	t0 = bench_now_ns();
	if (insert_pipelined(c, first, count, flags, NULL) != 0)
		return -1;
	*elapsed_ns = bench_now_ns() - t0;
	mpf_disconnect(c);
	return 0;
}

/* Wait (up to a minute) until the region shows no rule. */
static int wait_rules_gone(const struct primary *p)
{
	struct raw_session raw;
	int err = -1;

	if (raw_connect(p, &raw))
		return -1;
	for (int i = 0; i < 60000 && err; i++) {
		if (shm_load_relaxed32(&raw.view.header->rules) == 0)
			err = 0;
		else
			usleep(1000);
	}
	raw_close(&raw);
	return err;
}

/* Rules/s for `clients` processes inserting `total` rules together: total
 * over the longest client's time. Rules that are not persistent are gone
 * with their clients; this returns once the primary has destroyed them. */
static double insert_rate(const struct primary *p, unsigned clients, uint32_t total, uint32_t flags)
{
	double *elapsed =
		mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double longest = 0;
	pid_t pids[16];
	int failed = 0;

	if (elapsed == MAP_FAILED)
		return -1;
	for (unsigned i = 0; i < clients; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			char name[32];

			snprintf(name, sizeof(name), "bench-insert-%u", i);
			_exit(insert_rules(p, name, i * (total / clients), total / clients, flags,
					   &elapsed[i])
				      ? 1
				      : 0);
		}
	}
	for (unsigned i = 0; i < clients; i++) {
		int status;

		waitpid(pids[i], &status, 0);
		failed |= !WIFEXITED(status) || WEXITSTATUS(status);
		if (elapsed[i] > longest)
			longest = elapsed[i];
	}
	munmap(elapsed, 4096);
	if (!failed && !(flags & MPF_FLOW_PERSISTENT) && wait_rules_gone(p) != 0)
		failed = 1;
	return failed ? -1 : total / (longest / 1e9);
}

/* Remove what insert_rate() installed. The rules are persistent (so that
 * they outlive the clients that inserted them), so no flush takes them:
 * destroy each by its handle, read from the rule directory. Rules/s. */
static double remove_all(const struct primary *p, uint32_t expected)
{
	struct raw_session raw;
	struct mpf_completion done[256];
	struct mpf_flow_error error;
	struct mpf_client *c;
	uint32_t submitted = 0, completed = 0, slot = 0;
	double t0;

	if (raw_connect(p, &raw) || connect_client(p, "bench-remove", 20, &c))
		return -1;
	t0 = bench_now_ns();
	while (completed < expected) {
		int n;

		while (submitted < expected && slot < raw.view.max_rules) {
			uint32_t generation =
				shm_load_acquire32(&raw.view.counters[slot].generation);
			uint64_t handle = (uint64_t)generation << 32 | slot;

			if (generation == 0) {
				slot++;
				continue;
			}
			if (mpf_submit_destroy(c, 0, handle, slot, &error) != 0)
				break;
			slot++;
			submitted++;
		}
		n = mpf_poll(c, done, 256, -1);
		if (n <= 0)
			return -1;
		completed += (uint32_t)n;
	}
	t0 = expected / ((bench_now_ns() - t0) / 1e9);
	mpf_disconnect(c);
	raw_close(&raw);
	return t0;
}

/* 3. Counter queries. */
static int query_costs(const struct primary *p, double *local_ns, double *reset_ns)
{
	struct mpf_flow_query_count count = {0};
	struct mpf_flow_error error;
	struct mpf_client *c;
	struct rule r;
	uint64_t handle;
	const unsigned n = 2000000, m = 20000;
	double t0;

	if (connect_client(p, "bench-query", 200, &c))
		return -1;
	rule_init(&r, 77);
	if (mpf_flow_create(c, 0, &ingress, r.pattern, r.actions, 0, &handle, &error))
		return -1;
	t0 = bench_now_ns();
	for (unsigned i = 0; i < n; i++)
		if (mpf_flow_query(c, 0, handle, MPF_FLOW_ACTION_TYPE_COUNT, &count, &error))
			return -1;
	*local_ns = (bench_now_ns() - t0) / n;
	count.reset = 1;
	t0 = bench_now_ns();
	for (unsigned i = 0; i < m; i++)
		if (mpf_flow_query(c, 0, handle, MPF_FLOW_ACTION_TYPE_COUNT, &count, &error))
			return -1;
	*reset_ns = (bench_now_ns() - t0) / m;
	mpf_disconnect(c);
	return 0;
}

int main(int argc, char **argv)
{
	uint32_t rules = 1000000;
	unsigned rounds = 20000;
	char max_rules[16];
	const char *spin_args[] = {"--max-rules", max_rules, "--busy-poll-us", "200", NULL};
	const char *sleep_args[] = {"--max-rules", "1024", "--busy-poll-us", "0", NULL};
	struct primary p;
	struct stats spin, sleep, sock;
	double cold, one, four, removal, local, reset, volatile1, volatile4;
	_Alignas(8) uint8_t sizing[WIRE_MSG_MAX];
	struct wire_completion completion = {.request_op = WIRE_OP_CREATE};
	struct rule r;
	int request, response;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
			rules = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = (unsigned)strtoul(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: %s [--rules N] [--rounds N]\n", argv[0]);
			return 2;
		}
	}
	rules -= rules % 4;
	snprintf(max_rules, sizeof(max_rules), "%u", rules + 1024);
	rule_init(&r, 1);
	request = wire_encode_rule(sizing, sizeof(sizing), WIRE_OP_CREATE, 0, 0, false, &ingress,
				   r.pattern, r.actions, NULL);
	response = wire_encode_completion(sizing, sizeof(sizing), &completion);

	if (primary_start(&p, spin_args) != 0) {
		fprintf(stderr, "control: cannot start mpflowd (MPFLOWD=%s)\n", getenv("MPFLOWD"));
		return 1;
	}
	if (create_round_trips(&p, 200, rounds, &spin) || query_costs(&p, &local, &reset))
		goto fail;
	sock = socket_round_trips(rounds, (size_t)request, (size_t)response);
	/* The first fill also faults in the backend's memory; later fills
	 * reuse it, as a long-running primary does. Both are reported. */
	cold = insert_rate(&p, 1, rules, MPF_FLOW_PERSISTENT);
	removal = remove_all(&p, rules);
	one = insert_rate(&p, 1, rules, MPF_FLOW_PERSISTENT);
	if (cold < 0 || removal < 0 || one < 0 || remove_all(&p, rules) < 0)
		goto fail;
	four = insert_rate(&p, 4, rules, MPF_FLOW_PERSISTENT);
	if (four < 0 || remove_all(&p, rules) < 0)
		goto fail;
	volatile1 = insert_rate(&p, 1, rules, 0);
	volatile4 = insert_rate(&p, 4, rules, 0);
	if (volatile1 < 0 || volatile4 < 0)
		goto fail;
	primary_cleanup(&p);
	if (primary_start(&p, sleep_args) != 0 || create_round_trips(&p, -1, rounds / 4, &sleep))
		goto fail;
	primary_cleanup(&p);

	printf("bench/control: soft backend, rule: eth / ipv4 src is A / udp dst is 4789 / end "
	       "actions count / queue index 1 / end\n");
	printf("request %d bytes, completion %d bytes\n\n", request, response);
	printf("synchronous create, round trip (%u rounds)    median       p99\n", rounds);
	printf("  spinning (client and primary poll)        %7.2f us %7.2f us\n", spin.median / 1e3,
	       spin.p99 / 1e3);
	printf("  sleeping (doorbells, no polling)          %7.2f us %7.2f us\n",
	       sleep.median / 1e3, sleep.p99 / 1e3);
	printf("  baseline: SOCK_SEQPACKET request/response %7.2f us %7.2f us\n", sock.median / 1e3,
	       sock.p99 / 1e3);
	printf("  spinning vs baseline: %.1fx faster (median)\n\n", sock.median / spin.median);
	printf("asynchronous persistent inserts (durable before acknowledged), up to %u rules\n",
	       rules);
	printf("  1 client, first fill (memory faulted in)  %10.0f rules/s\n", cold);
	printf("  1 client                                  %10.0f rules/s\n", one);
	printf("  4 clients                                 %10.0f rules/s\n", four);
	printf("  destroy (1 client, async)                 %10.0f rules/s\n", removal);
	printf("asynchronous inserts, not persistent\n");
	printf("  1 client                                  %10.0f rules/s\n", volatile1);
	printf("  4 clients                                 %10.0f rules/s\n\n", volatile4);
	printf("counter query\n");
	printf("  from shared memory (no reset)             %10.1f ns\n", local);
	printf("  baseline: with reset (round trip)         %10.1f ns  (%.0fx)\n", reset,
	       reset / local);
	return 0;
fail:
	fprintf(stderr, "control: a measurement failed; mpflowd's log: %s\n", p.log);
	primary_cleanup(&p);
	return 1;
}
