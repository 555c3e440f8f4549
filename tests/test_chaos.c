/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Chaos: 64 client processes create, query and destroy rules against one
 * primary with live traffic, while this process SIGSTOPs/SIGCONTs them
 * and SIGKILLs some at random. Afterwards the primary's own audit
 * (mpf_audit) finds its table, the clients' lists, the free slots and the
 * region consistent; the directory holds no rule of a dead client and
 * exactly the rules each survivor says it has; every survivor's rule still
 * matches traffic; and once the survivors leave, nothing is left.
 *
 *   test_chaos [OPS]   operations per client (default 3000); bounded in
 *                      time: the chaos lasts 3 s, every wait has a deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"

#define CLIENTS	  64
#define KILLS_MAX 20
#define CHAOS_MS  3000
#define RULES_MAX 4096

static unsigned ops = 3000;
static const char *const args[] = {
	"--max-rules", "65536", "--max-clients", "128",
	"--queues",    "4",	"--source",	 "0=gen:flows=64,proto=udp,pps=20000",
	NULL};
/* Tracers at priority 0, before the churn's rules (priority 1), some of
 * which match the generator's flows and end their processing. */
static const struct mpf_flow_attr ingress = {.ingress = 1};
static const struct mpf_flow_attr churn = {.ingress = 1, .priority = 1};

struct worker {
	pid_t pid;
	int to_child, from_child; /* pipes */
	bool killed, stopped;
	unsigned rules; /* what it says it holds */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A rule client `index`'s own generator flow (source 10.0.0.index) matches,
 * letting it go on. One flow each: a packet hits at most CLS_MATCH_MAX (32)
 * rules in the soft datapath, so 64 rules on one flow would not all count. */
static int create_tracer(struct mpf_client *c, unsigned index, uint64_t *handle,
			 struct mpf_flow_error *error)
{
	struct mpf_flow_item_ipv4 ip = {.hdr.src_addr = htonl(0x0a000000u | index)};
	struct mpf_flow_item_ipv4 ip_mask = {.hdr.src_addr = 0xffffffff};
	struct mpf_flow_item pattern[] = {
		{.type = MPF_FLOW_ITEM_TYPE_ETH},
		{.type = MPF_FLOW_ITEM_TYPE_IPV4, .spec = &ip, .mask = &ip_mask},
		{.type = MPF_FLOW_ITEM_TYPE_UDP},
		{.type = MPF_FLOW_ITEM_TYPE_END},
	};
	struct mpf_flow_action actions[] = {
		{.type = MPF_FLOW_ACTION_TYPE_COUNT},
		{.type = MPF_FLOW_ACTION_TYPE_PASSTHRU},
		{.type = MPF_FLOW_ACTION_TYPE_END},
	};

	return mpf_flow_create(c, 0, &ingress, pattern, actions, 0, handle, error);
}

/* A client: ops at random, then "done <rules>"; on a byte from the parent,
 * checks its tracer counts traffic, says "ok" and leaves. Exit status 0 or
 * the step that failed. */
static int worker_main(const struct primary *p, unsigned index, int in, int out)
{
	static uint64_t mine[RULES_MAX];
	struct mpf_flow_query_count before = {0}, after = {0};
	struct mpf_flow_error error;
	struct mpf_client *c;
	unsigned n = 0, seed = index * 7919u + 1;
	uint64_t tracer;
	char name[32], line[64];

	snprintf(name, sizeof(name), "chaos-%u", index);
	if (primary_connect(p, name, &c) != 0 || create_tracer(c, index, &tracer, &error) != 0)
		return 2;
	for (unsigned k = 0; k < ops; k++) {
		unsigned what = rand_r(&seed) % 10;

		if (what < 5 && n < RULES_MAX) {
			struct sample_rule s;

			sample_rule_init(&s, index << 16 | k);
			if (mpf_flow_create(c, 0, &churn, s.pattern, s.actions, 0, &mine[n],
					    &error) != 0)
				return 3;
			n++;
		} else if (what < 8 && n > 0) {
			unsigned i = rand_r(&seed) % n;

			if (mpf_flow_destroy(c, 0, mine[i], &error) != 0)
				return 4;
			mine[i] = mine[--n];
		} else if (n > 0) {
			struct mpf_flow_query_count count = {0};

			if (mpf_flow_query(c, 0, mine[rand_r(&seed) % n],
					   MPF_FLOW_ACTION_TYPE_COUNT, &count, &error) != 0)
				return 5;
		}
	}
	snprintf(line, sizeof(line), "done %u\n", n + 1); /* its rules and the tracer */
	if (write(out, line, strlen(line)) < 0 || read(in, line, 1) != 1)
		return 6;
	/* After the chaos: the tracer still matches traffic. */
	if (mpf_flow_query(c, 0, tracer, MPF_FLOW_ACTION_TYPE_COUNT, &before, &error) != 0)
		return 7;
	for (int i = 0; i < 100 && after.hits <= before.hits; i++) {
		usleep(20000);
		if (mpf_flow_query(c, 0, tracer, MPF_FLOW_ACTION_TYPE_COUNT, &after, &error) != 0)
			return 8;
	}
	if (after.hits <= before.hits)
		return 9;
	if (write(out, "ok\n", 3) != 3 || read(in, line, 1) != 1)
		return 10;
	mpf_disconnect(c);
	return 0;
}

static void start_workers(const struct primary *p, struct worker *w)
{
	for (unsigned i = 0; i < CLIENTS; i++) {
		int down[2], up[2];

		assert_int_equal(pipe(down), 0);
		assert_int_equal(pipe(up), 0);
		w[i].pid = fork();
		assert_true(w[i].pid >= 0);
		if (w[i].pid == 0) {
			close(down[1]);
			close(up[0]);
			_exit(worker_main(p, i, down[0], up[1]));
		}
		close(down[0]);
		close(up[1]);
		w[i].to_child = down[1];
		w[i].from_child = up[0];
	}
}

/* SIGSTOP/SIGCONT and SIGKILL at random for CHAOS_MS. */
static unsigned chaos(struct worker *w, unsigned *stops)
{
	unsigned seed = 4242, kills = 0;
	uint64_t end = now_ms() + CHAOS_MS;

	while (now_ms() < end) {
		struct worker *v = &w[rand_r(&seed) % CLIENTS];
		unsigned what = rand_r(&seed) % 10;

		if (v->killed)
			continue;
		if (what == 0 && kills < KILLS_MAX) {
			kill(v->pid, SIGKILL);
			v->killed = true;
			kills++;
		} else if (v->stopped) {
			kill(v->pid, SIGCONT);
			v->stopped = false;
		} else if (what < 6) {
			kill(v->pid, SIGSTOP);
			v->stopped = true;
			(*stops)++;
		}
		usleep(5000 + rand_r(&seed) % 20000);
	}
	for (unsigned i = 0; i < CLIENTS; i++)
		if (w[i].stopped && !w[i].killed)
			kill(w[i].pid, SIGCONT);
	return kills;
}

/* The rules the directory lists for `pid`; -1 when it lists a rule of a
 * pid that is no survivor's. */
static int directory_rules(struct mpf_client *c, const struct worker *w, pid_t pid)
{
	struct mpf_flow_info info;
	uint32_t cursor = 0;
	int n = 0;

	while (mpf_flow_next(c, &cursor, &info) == 1) {
		bool alive = false;

		for (unsigned i = 0; i < CLIENTS; i++)
			alive = alive || (!w[i].killed && (pid_t)info.owner_pid == w[i].pid);
		if (!alive && (pid_t)info.owner_pid != getpid())
			return -1;
		n += (pid_t)info.owner_pid == pid;
	}
	return n;
}

static int total_rules(struct mpf_client *c)
{
	struct mpf_flow_info info;
	uint32_t cursor = 0;
	int n = 0;

	while (mpf_flow_next(c, &cursor, &info) == 1)
		n++;
	return n;
}

static void test_clients_killed_and_stopped_at_random_leave_the_primary_whole(void **state)
{
	struct primary p = {0};
	struct worker w[CLIENTS] = {0};
	struct mpf_flow_error error;
	struct mpf_client *c;
	unsigned stops = 0, kills, survivors = 0;
	int audited;

	(void)state;
	assert_int_equal(primary_start(&p, args), 0);
	start_workers(&p, w);
	kills = chaos(w, &stops);

	/* Each survivor finishes its operations and reports. */
	for (unsigned i = 0; i < CLIENTS; i++) {
		char line[64] = "";
		ssize_t got;

		if (w[i].killed)
			continue;
		got = read(w[i].from_child, line, sizeof(line) - 1);
		if (got <= 0 || sscanf(line, "done %u", &w[i].rules) != 1)
			fail_msg("client %u (pid %d) did not finish: '%s'", i, (int)w[i].pid, line);
		survivors++;
	}
	assert_int_equal(primary_connect(&p, "auditor", &c), 0);
	/* The primary notices each death by its hang-up. */
	for (int i = 0; i < 300 && directory_rules(c, w, 0) < 0; i++)
		usleep(10000);
	audited = mpf_audit(c, &error);
	if (audited < 0)
		fail_msg("audit: %s", error.message);
	for (unsigned i = 0; i < CLIENTS; i++)
		if (!w[i].killed && directory_rules(c, w, w[i].pid) != (int)w[i].rules)
			fail_msg("client %u says it holds %u rules, the directory %d", i,
				 w[i].rules, directory_rules(c, w, w[i].pid));

	/* Every survivor's tracer still counts traffic. */
	for (unsigned i = 0; i < CLIENTS; i++) {
		char line[16] = "";

		if (w[i].killed)
			continue;
		assert_int_equal(write(w[i].to_child, "x", 1), 1);
		if (read(w[i].from_child, line, sizeof(line) - 1) <= 0 || strncmp(line, "ok", 2)) {
			int status = 0;

			waitpid(w[i].pid, &status, 0);
			fail_msg("client %u: its rule no longer matches traffic (exit %d)", i,
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		}
	}
	/* They leave; nothing of theirs stays. */
	for (unsigned i = 0; i < CLIENTS; i++) {
		int status;

		if (!w[i].killed)
			assert_int_equal(write(w[i].to_child, "x", 1), 1);
		assert_int_equal(waitpid(w[i].pid, &status, 0), w[i].pid);
		if (!w[i].killed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			fail_msg("client %u exited with status %d", i, status);
		close(w[i].to_child);
		close(w[i].from_child);
	}
	for (int i = 0; i < 300 && total_rules(c) != 0; i++)
		usleep(10000);
	assert_int_equal(total_rules(c), 0);
	assert_int_equal(mpf_audit(c, &error), 0);
	print_message("%u clients x %u operations, %u SIGSTOPs, %u SIGKILLs, %u survivors; the "
		      "audit checked %d rules mid-way and found the primary consistent\n",
		      CLIENTS, ops, stops, kills, survivors, audited);
	mpf_disconnect(c);
	assert_int_equal(primary_cleanup(&p), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clients_killed_and_stopped_at_random_leave_the_primary_whole),
	};

	if (argc > 1)
		ops = (unsigned)atoi(argv[1]);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("chaos", tests, NULL, NULL);
}
