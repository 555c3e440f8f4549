/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Multi-process test harness: a real mpflowd on a private runtime directory,
 * started and stopped by the test (always, also when it fails), and a raw
 * session that does the handshake by hand so a test can write what no
 * well-behaved client would into its own rings.
 */
#ifndef MPFLOW_TESTS_HARNESS_H
#define MPFLOW_TESTS_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include <mpflow/mpflow.h>

#include "shm/region.h"
#include "shm/ring.h"

struct primary {
	pid_t pid;
	char dir[64]; /* /tmp/mpflow-test-XXXXXX */
	char log[96];
};

/* Start mpflowd (from $MPFLOWD) in the foreground on a fresh directory, with
 * extra arguments (NULL-terminated); wait until it accepts. 0 or -1. */
int primary_start(struct primary *p, const char *const *extra);
/* Start it again on the same directory. */
int primary_restart(struct primary *p, const char *const *extra);
/* Run another mpflowd on p's directory, with extra arguments
 * (NULL-terminated; NULL for none), to its exit, output to `log`; returns
 * its exit status, or -1 if it ran for 10 s (it is killed). */
int primary_run_once(const struct primary *p, const char *log, const char *const *extra);
/* SIGTERM, wait; returns its exit status (or -1 if it had to be killed). */
int primary_stop(struct primary *p);
/* Stop if running, remove the directory. -1 if the primary exited with an
 * error or its log holds a sanitizer report (copied to stderr). */
int primary_cleanup(struct primary *p);
/* Lines of the primary's log that hold `what` (with --log-level info, what
 * the primary did: "compacted beside the loop", ...). */
unsigned primary_log_lines(const struct primary *p, const char *what);
/* For a test fixture (cmocka setup/teardown): a started primary, allocated,
 * in *state; and its cleanup and release. 0 or -1, as primary_start() and
 * primary_cleanup(). */
int primary_fixture_start(void **state, const char *const *extra);
int primary_fixture_stop(void **state);
int primary_connect(const struct primary *p, const char *name, struct mpf_client **client);
/* The other user of the tests and benches: uid and gid 65534 (nobody,
 * nogroup), whom --allow-group 65534 admits. */
#define STRANGER 65534u
/* Become the stranger, for good (root only): 0, or -1. */
int become_stranger(void);

/* A distinct rule per n: eth / ipv4 src 10.x.y.z / udp / end, count +
 * queue 1. Its pointers point into itself. */
struct sample_rule {
	struct mpf_flow_item_ipv4 ip, ip_mask;
	struct mpf_flow_action_queue queue;
	struct mpf_flow_item pattern[4];
	struct mpf_flow_action actions[3];
};
void sample_rule_init(struct sample_rule *s, uint32_t n);
/* Sample rules first..first + n - 1 made on port 0 with `flags` through the
 * asynchronous API, as fast as the rings take them: 0 once each completed
 * without error, else the first error (-ETIMEDOUT: 10 s without one). */
int sample_rules_load(struct mpf_client *c, uint32_t first, uint32_t n, uint32_t flags);

/* Create the rule testpmd `text` says (mpf_flow_parse()) on port 0 with
 * `flags`: mpf_flow_create()'s result, or the parser's. */
int create_from_text(struct mpf_client *c, const char *text, uint32_t flags, uint64_t *handle,
		     struct mpf_flow_error *error);
/* Into `text`: a rule with a RAW pattern of `pattern_length` (< 512)
 * bytes, "ingress pattern eth / raw ... / end actions drop / end"; `text`. */
const char *raw_rule_text(char *text, size_t size, unsigned pattern_length);

/* A session without libmpflow. */
struct raw_session {
	int sock;
	int fds[4];
	void *mem;
	size_t mem_length;
	const void *region;
	struct region_view view;
	struct ring requests;	 /* we produce */
	struct ring completions; /* we consume */
	int status;		 /* of the welcome */
	char reason[128];
};

int raw_connect(const struct primary *p, struct raw_session *raw);
/* Write `text` to `dir`/`name` (a test's fake cgroup files); aborts on failure. */
void put_file(const char *dir, const char *name, const char *text);
/* A memory cgroup tree that mpflowd-faults reads in place of the system's
 * ($MPFLOW_MEMCG_SELF and $MPFLOW_MEMCG_ROOT set to it): made under /tmp
 * into `tree`, its one cgroup's directory into `svc`, with memory.max
 * `max` and memory.current 0. Aborts on failure. */
void fake_memcg_make(char *tree, size_t tree_size, char *svc, size_t svc_size, const char *max);
void raw_close(struct raw_session *raw);
/* True if the primary hung up on this session within `ms`. */
bool raw_hung_up(struct raw_session *raw, int ms);

/* The persistent rules the directory lists, into out[] (at most `max`);
 * how many of them are not restored, and how many other rules it lists
 * (either pointer may be NULL). */
unsigned persistent_rules(struct mpf_client *c, uint64_t *out, unsigned max, unsigned *unrestored,
			  unsigned *others);

/* The file mpflowd-faults reads ($MPFLOW_FAULTS). faults_on(): one of this
 * process's, none written yet, for the primaries started from now on;
 * set_fault(): its words replaced whole (a rename: a primary that reads
 * while they change sees the old words or the new, never none);
 * clear_fault(): removed. Abort on failure. */
void faults_on(void);
void set_fault(const char *words);
void clear_fault(void);

/* The number of live rules in the primary's region, read as flowstat would. */
unsigned region_rules(const struct raw_session *raw);

#endif
