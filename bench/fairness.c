/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench/fairness: what one client's whole-table requests cost another.
 *
 * A bystander times synchronous creates (each destroyed after) for a few
 * seconds: p50, p99, p99.9 and the worst. Baseline: the same bystander on
 * the same primary with nobody else, in the same run. Then the same while
 *   1. 4 clients flood audits (mpf_audit in a loop, EAGAIN and all), on a
 *      table of --max-rules slots (default 1,048,576, the case);
 *      then 2 processes connect and disconnect sessions as fast as they
 *      can (each session's set-up and end is the loop's work);
 *   2. a client creates N rules and flushes them, again and again;
 *   3. a client creates N rules and disconnects, again and again;
 *   4. a client keeps N persistent rules live and replaces a tenth of them
 *      at a time, so the journal's dead records set compactions off (they
 *      run beside the loop, server/compact.c); the row counts them;
 *   5. (the bystander's creates persistent, each acknowledged once its
 *      journal sync is done; its own baseline first) a client loading
 *      --rules persistent rules through the asynchronous API and
 *      destroying them again, over and over: group commit's promise that
 *      a lone synchronous create waits for about two syncs at most, the
 *      one in flight and its own;
 *   6. (as root, where group 65534 exists: the primary admits it with
 *      --allow-group) another user, uid 65534, floods creates and
 *      destroys on --stranger-sessions sessions (default 100 of the 128
 *      another user may hold): its sessions share one slice of the
 *      loop's round, as one client's would;
 *   7. a raw client (the wire protocol without the library, which sends
 *      one handle a destroy) makes 1,024 persistent rules, then destroys
 *      them with one DESTROY of all their handles, again and again: a
 *      job in steps of 64 handles (dispatch.c), not one piece of the loop;
 *   8. with mpflowd-faults ($MPFLOWD_FAULTS; its own baseline first): a
 *      client keeps N persistent rules live and makes a journal sync fail
 *      again and again, so that the journal is rebuilt from the table each
 *      time (server/rebuild.c); the row counts the failed syncs.
 *
 * usage: fairness [--max-rules N] [--rules N] [--compact-rules N]
 *                 [--rebuild-rules N] [--stranger-sessions N] [--seconds S]
 *        (mpflowd from $MPFLOWD, mpflowd-faults from $MPFLOWD_FAULTS)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/clock.h"
#include "bench/rule.h"
#include "shm/wire.h"
#include "tests/harness.h"

/* The bystander: synchronous create + destroy for `seconds` (persistent
 * rules with MPF_FLOW_PERSISTENT in `flags`); prints a row. */
static void bystander(const struct primary *p, const char *what, uint32_t flags, double seconds)
{
	static double samples[4000000];
	struct mpf_flow_error error;
	struct mpf_client *c;
	struct sample_rule s;
	unsigned n = 0;
	double end;

	if (primary_connect(p, "bystander", &c) != 0) {
		fprintf(stderr, "fairness: cannot connect\n");
		exit(1);
	}
	sample_rule_init(&s, 0xfffff);
	end = bench_now_ns() + seconds * 1e9;
	while (bench_now_ns() < end && n < sizeof(samples) / sizeof(samples[0])) {
		uint64_t handle;
		double t0 = bench_now_ns();

		if (mpf_flow_create(c, 0, &ingress, s.pattern, s.actions, flags, &handle, &error) !=
		    0) {
			fprintf(stderr, "fairness: create: %s\n", error.message);
			exit(1);
		}
		samples[n++] = bench_now_ns() - t0;
		mpf_flow_destroy(c, 0, handle, &error);
	}
	mpf_disconnect(c);
	qsort(samples, n, sizeof(samples[0]), bench_compare_doubles);
	printf("%-44s %9u %9.1f %9.1f %9.1f %9.1f\n", what, n, samples[n / 2] / 1e3,
	       samples[(size_t)(n * 0.99)] / 1e3, samples[(size_t)(n * 0.999)] / 1e3,
	       samples[n - 1] / 1e3);
	fflush(stdout);
}

enum load { AUDITS, SESSIONS, FLUSHES, LEAVERS, COMPACTIONS, BULK, REBUILDS, STRANGERS, DESTROYS };

#define STRANGER_BURST 256u /* requests each of its sessions has in flight */

/* Another user's `sessions` sessions, each with a burst of creates, then
 * of destroys, in flight at once, again and again. */
static void stranger_sessions(const struct primary *p, unsigned sessions, int ready)
{
	struct mpf_client **cs = calloc(sessions, sizeof(*cs));
	uint64_t *live = calloc((size_t)sessions * STRANGER_BURST, sizeof(*live));
	struct mpf_completion done[STRANGER_BURST];
	struct mpf_flow_error error;

	if (cs == NULL || live == NULL || become_stranger() != 0)
		_exit(126);
	for (unsigned i = 0; i < sessions; i++)
		if (primary_connect(p, "stranger", &cs[i]) != 0)
			_exit(1);
	if (write(ready, "r", 1) != 1)
		_exit(1);
	for (;;) {
		for (int destroy = 0; destroy < 2; destroy++) {
			for (unsigned i = 0; i < sessions; i++)
				for (unsigned k = 0; k < STRANGER_BURST; k++) {
					size_t at = (size_t)i * STRANGER_BURST + k;
					struct sample_rule s;

					sample_rule_init(&s, (uint32_t)(1u << 23 | at));
					if ((destroy ? mpf_submit_destroy(cs[i], 0, live[at], at,
									  &error)
						     : mpf_submit_create(cs[i], 0, &ingress,
									 s.pattern, s.actions, 0,
									 at, &error)) != 0)
						_exit(1);
				}
			for (unsigned i = 0; i < sessions; i++)
				while (mpf_inflight(cs[i]) > 0) {
					int n = mpf_poll(cs[i], done, STRANGER_BURST, 1000);

					if (n < 0)
						_exit(1);
					for (int j = 0; j < n; j++)
						if (!destroy && done[j].status == 0)
							live[done[j].user_data] = done[j].handle;
				}
		}
	}
}

/* The next completion of a raw session, spinning (a loader never sleeps). */
static void raw_next(struct raw_session *raw, struct wire_completion *done)
{
	static uint8_t buf[WIRE_MSG_MAX];
	int n;

	while ((n = ring_dequeue(&raw->completions, buf, sizeof(buf))) < 0)
		if (n != -EAGAIN)
			_exit(1);
	if (wire_decode_completion(buf, (size_t)n, done) != 0)
		_exit(1);
}

/* A raw session (the library destroys one handle a request): 1,024
 * persistent rules made, then destroyed by one DESTROY of all their
 * handles, again and again. */
static void raw_destroyer(const struct primary *p, int ready)
{
	enum { BURST = 64 };
	static uint8_t msg[WIRE_MSG_MAX];
	static uint64_t handles[WIRE_DESTROY_MAX];
	struct wire_completion done;
	struct mpf_flow_error error;
	struct raw_session raw;
	int length;

	if (raw_connect(p, &raw) != 0 || write(ready, "r", 1) != 1)
		_exit(1);
	for (;;) {
		for (uint32_t i = 0; i < WIRE_DESTROY_MAX; i += BURST) {
			for (uint32_t k = i; k < i + BURST; k++) {
				struct sample_rule s;

				sample_rule_init(&s, 1u << 22 | k);
				length = wire_encode_rule(msg, sizeof(msg), WIRE_OP_CREATE, k, 0,
							  true, &ingress, s.pattern, s.actions,
							  &error);
				if (length < 0 ||
				    ring_enqueue(&raw.requests, msg, (uint32_t)length) != 0)
					_exit(1);
			}
			for (uint32_t k = i; k < i + BURST; k++) {
				raw_next(&raw, &done);
				if (done.status)
					_exit(1);
				handles[done.user_data % WIRE_DESTROY_MAX] = done.handle;
			}
		}
		length = wire_encode_destroy(msg, sizeof(msg), 0, 0, handles, WIRE_DESTROY_MAX,
					     &error);
		if (length < 0 || ring_enqueue(&raw.requests, msg, (uint32_t)length) != 0)
			_exit(1);
		raw_next(&raw, &done);
		if (done.status)
			_exit(1);
	}
}

/* `rules` persistent rules in, then out, pipelined, again and again: every
 * sync covers a burst of the loader's records. */
static void bulk_loader(struct mpf_client *c, unsigned rules, int ready)
{
	uint64_t *live = calloc(rules, sizeof(*live));
	struct mpf_completion done[256];
	struct mpf_flow_error error;

	if (live == NULL || write(ready, "r", 1) != 1)
		_exit(1);
	for (;;) {
		unsigned submitted = 0, completed = 0;

		if (insert_pipelined(c, 0, rules, MPF_FLOW_PERSISTENT, live) != 0)
			_exit(1);
		while (completed < rules) {
			int n;

			if (submitted < rules &&
			    mpf_submit_destroy(c, 0, live[submitted], submitted, &error) == 0) {
				submitted++;
				continue;
			}
			n = mpf_poll(c, done, 256, -1);
			if (n <= 0)
				_exit(1);
			completed += (unsigned)n;
		}
	}
}

/* `rules` persistent rules live, then a tenth of them replaced at a time,
 * pipelined: each round's destroys and creates add dead records to the
 * journal until a compaction starts. Writes a byte to `ready` once the
 * rules are in. */
static void churn_loader(struct mpf_client *c, unsigned rules, int ready)
{
	uint64_t *live = calloc(rules, sizeof(*live));
	unsigned step = rules / 10 ? rules / 10 : 1, oldest = 0;
	uint32_t next = rules;
	struct mpf_completion done[256];
	struct mpf_flow_error error;

	if (live == NULL || insert_pipelined(c, 0, rules, MPF_FLOW_PERSISTENT, live) != 0)
		_exit(1);
	if (write(ready, "r", 1) != 1)
		_exit(1);
	for (;;) {
		unsigned submitted = 0, completed = 0;

		/* Each slot of `live`: its rule destroyed, a new one made. */
		while (completed < 2 * step) {
			int n;

			if (submitted < 2 * step) {
				unsigned at = (oldest + submitted / 2) % rules;
				struct rule r;
				int err;

				rule_init(&r, next % (1u << 24));
				err = submitted % 2 == 0
					      ? mpf_submit_destroy(c, 0, live[at], UINT64_MAX,
								   &error)
					      : mpf_submit_create(c, 0, &ingress, r.pattern,
								  r.actions, MPF_FLOW_PERSISTENT,
								  at, &error);
				if (err == 0) {
					next += submitted % 2;
					submitted++;
					continue;
				}
			}
			n = mpf_poll(c, done, 256, -1);
			if (n <= 0)
				_exit(1);
			for (int i = 0; i < n; i++)
				if (done[i].user_data != UINT64_MAX && done[i].status == 0)
					live[done[i].user_data] = done[i].handle;
			completed += (unsigned)n;
		}
		oldest = (oldest + step) % rules;
	}
}

/* `rules` persistent rules live, then again and again: a sync made to fail
 * (mpflowd-faults reads the word in $MPFLOW_FAULTS), and a persistent
 * create retried until the journal, rebuilt from the table, serves it. */
static void rebuild_loader(struct mpf_client *c, unsigned rules, int ready)
{
	const char *faults = getenv("MPFLOW_FAULTS");
	uint64_t *live = calloc(rules, sizeof(*live));
	struct mpf_flow_error error;

	if (live == NULL || faults == NULL ||
	    insert_pipelined(c, 0, rules, MPF_FLOW_PERSISTENT, live) != 0)
		_exit(1);
	if (write(ready, "r", 1) != 1)
		_exit(1);
	for (uint32_t next = rules;; next++) {
		FILE *f = fopen(faults, "w");
		uint64_t handle;
		struct rule r;

		if (f == NULL || fputs("EIO\n", f) < 0 || fclose(f) != 0)
			_exit(1);
		rule_init(&r, next % (1u << 24));
		if (mpf_flow_create(c, 0, &ingress, r.pattern, r.actions, MPF_FLOW_PERSISTENT,
				    &handle, &error) == 0)
			_exit(1); /* the sync did not fail */
		unlink(faults);
		while (mpf_flow_create(c, 0, &ingress, r.pattern, r.actions, MPF_FLOW_PERSISTENT,
				       &handle, &error) != 0)
			usleep(1000);
		if (mpf_flow_destroy(c, 0, handle, &error) != 0)
			_exit(1);
	}
}

/* A loader process: its load until killed. */
static void loader(const struct primary *p, enum load load, unsigned rules, unsigned index,
		   int ready)
{
	struct mpf_completion done[64];
	struct mpf_flow_error error;
	struct mpf_client *c = NULL;
	uint64_t audits = 0, refused = 0;

	if (load == STRANGERS)
		stranger_sessions(p, rules, ready);
	if (load == DESTROYS)
		raw_destroyer(p, ready);
	for (;;) {
		if (load == SESSIONS) {
			/* A session set up and torn down, as fast as it goes. */
			if (primary_connect(p, "sessions", &c) != 0)
				_exit(1);
			mpf_disconnect(c);
			continue;
		}
		if (c == NULL && primary_connect(p, "loader", &c) != 0)
			_exit(1);
		if (load == COMPACTIONS)
			churn_loader(c, rules, ready);
		if (load == BULK)
			bulk_loader(c, rules, ready);
		if (load == REBUILDS)
			rebuild_loader(c, rules, ready);
		if (load == AUDITS) {
			if (mpf_audit(c, &error) < 0)
				refused++;
			audits++;
			continue;
		}
		for (uint32_t i = 0; i < rules; i++) {
			struct sample_rule s;

			sample_rule_init(&s, index << 22 | i);
			while (mpf_submit_create(c, 0, &ingress, s.pattern, s.actions, 0, i,
						 &error) == -EAGAIN)
				mpf_poll(c, done, 64, 1000);
		}
		while (mpf_inflight(c) > 0)
			mpf_poll(c, done, 64, 1000);
		if (load == FLUSHES) {
			mpf_flow_flush(c, 0, &error);
		} else {
			mpf_disconnect(c);
			c = NULL;
		}
	}
}

static void run(const struct primary *p, const char *what, enum load load, unsigned loaders,
		unsigned rules, double seconds)
{
	uint32_t flags = load == BULK ? MPF_FLOW_PERSISTENT : 0;
	unsigned compactions = primary_log_lines(p, "compacted beside the loop"),
		 failed = primary_log_lines(p, "sync failed (");
	pid_t pids[8];
	int ready[2];
	char byte;

	if (pipe(ready) != 0)
		exit(1);
	for (unsigned i = 0; i < loaders; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			loader(p, load, rules, i, ready[1]);
	}
	if ((load == COMPACTIONS || load == BULK || load == REBUILDS || load == STRANGERS ||
	     load == DESTROYS) &&
	    read(ready[0], &byte, 1) != 1) {
		fprintf(stderr, "fairness: the loader did not start\n");
		exit(1);
	}
	close(ready[0]);
	close(ready[1]);
	usleep(300000);
	bystander(p, what, flags, seconds);
	if (load == COMPACTIONS)
		printf("%-44s %9u\n", "  compactions of the journal meanwhile",
		       primary_log_lines(p, "compacted beside the loop") - compactions);
	if (load == REBUILDS)
		printf("%-44s %9u\n", "  failed syncs (journal rebuilds) meanwhile",
		       primary_log_lines(p, "sync failed (") - failed);
	for (unsigned i = 0; i < loaders; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
}

/* Rows 5: mpflowd-faults, its own baseline, then journals rebuilt. */
static int rebuilds(const char *faulty, const char *max_text, unsigned rules, double seconds)
{
	char faults[64], what[64];
	struct primary p;
	int err;

	snprintf(faults, sizeof(faults), "/tmp/mpflow-fairness-faults-%d", (int)getpid());
	unlink(faults);
	setenv("MPFLOW_FAULTS", faults, 1);
	setenv("MPFLOWD", faulty, 1);
	if (primary_start(&p, (const char *const[]){"--max-rules", max_text, "--log-level", "info",
						    NULL}) != 0) {
		fprintf(stderr, "fairness: mpflowd-faults did not start (MPFLOWD_FAULTS?)\n");
		return 1;
	}
	bystander(&p, "mpflowd-faults, nothing else (baseline)", 0, seconds);
	snprintf(what, sizeof(what), "%u persistent rules, journal rebuilt", rules);
	run(&p, what, REBUILDS, 1, rules, 2 * seconds);
	err = primary_cleanup(&p);
	unlink(faults);
	return err == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	unsigned max_rules = 1u << 20, rules = 100000, compact_rules = 900000,
		 rebuild_rules = 900000, stranger_sessions_n = 100;
	bool stranger = geteuid() == 0 && getgrgid(STRANGER) != NULL;
	const char *faulty = getenv("MPFLOWD_FAULTS");
	double seconds = 5;
	char max_text[16];
	struct primary p;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--max-rules") == 0)
			max_rules = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else if (strcmp(argv[i], "--rules") == 0)
			rules = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else if (strcmp(argv[i], "--compact-rules") == 0)
			compact_rules = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else if (strcmp(argv[i], "--rebuild-rules") == 0)
			rebuild_rules = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else if (strcmp(argv[i], "--stranger-sessions") == 0)
			stranger_sessions_n = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = strtod(argv[i + 1], NULL);
	}
	snprintf(max_text, sizeof(max_text), "%u", max_rules);
	if (primary_start(&p, (const char *const[]){"--max-rules", max_text, "--log-level", "info",
						    stranger ? "--allow-group" : NULL, "65534",
						    NULL}) != 0) {
		fprintf(stderr, "fairness: mpflowd did not start (MPFLOWD?)\n");
		return 1;
	}
	/* The stranger's group may reach the socket. */
	if (stranger && (chown(p.dir, (uid_t)-1, STRANGER) != 0 || chmod(p.dir, 0750) != 0))
		stranger = false;
	printf("bystander's synchronous create, --max-rules %u, %.0f s each (microseconds)\n",
	       max_rules, seconds);
	printf("%-44s %9s %9s %9s %9s %9s\n", "while", "creates", "p50", "p99", "p99.9", "max");
	bystander(&p, "nothing else (baseline)", 0, seconds);
	run(&p, "4 clients flooding audits", AUDITS, 4, rules, seconds);
	run(&p, "2 clients connecting and leaving, again", SESSIONS, 2, rules, seconds);
	{
		char what[64];

		snprintf(what, sizeof(what), "a client creating and flushing %u rules", rules);
		run(&p, what, FLUSHES, 1, rules, seconds);
		snprintf(what, sizeof(what), "a client leaving %u rules, again", rules);
		run(&p, what, LEAVERS, 1, rules, seconds);
		snprintf(what, sizeof(what), "%u persistent rules, a tenth replaced",
			 compact_rules);
		run(&p, what, COMPACTIONS, 1, compact_rules, 2 * seconds);
		bystander(&p, "persistent creates alone (baseline: a sync)", MPF_FLOW_PERSISTENT,
			  seconds);
		snprintf(what, sizeof(what), "persistent, beside a bulk load of %u", rules);
		run(&p, what, BULK, 1, rules, seconds);
		run(&p, "a raw client destroying 1,024 handles at once", DESTROYS, 1, 0, seconds);
		snprintf(what, sizeof(what), "another user flooding on %u sessions",
			 stranger_sessions_n);
		if (stranger)
			run(&p, what, STRANGERS, 1, stranger_sessions_n, seconds);
		else
			printf("(not root, or no group 65534: another user's row is not "
			       "measured)\n");
	}
	if (primary_cleanup(&p) != 0)
		return 1;
	if (faulty == NULL) {
		printf("(no $MPFLOWD_FAULTS: the rebuild's rows are not measured)\n");
		return 0;
	}
	return rebuilds(faulty, max_text, rebuild_rules, seconds);
}
