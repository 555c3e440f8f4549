/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Correctness at scale, in a time CI can afford: a million persistent rules
 * through the asynchronous API into a real mpflowd, every one listed once
 * with its own testpmd number, a sample read back and queried, half of them
 * destroyed, the rest restored by a restart from the journal (handles kept,
 * numbers made again in the order the rules were made); then a start with
 * a smaller table keeps most of them without a slot, and one flush
 * destroys them all.
 * Speed is bench/control's business; this asserts only what users rely on.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/harness.h"

#define RULES	1000000u
#define SAMPLES 1000u

static const struct mpf_flow_attr ingress = {.ingress = 1};

static uint64_t *handles; /* by rule index */

static void connect_to(const struct primary *p, struct mpf_client **c)
{
	assert_int_equal(primary_connect(p, "scale", c), 0);
}

/* Create rules 0..RULES-1 (distinct sources, count + queue 1), persistent,
 * pipelined; their handles in handles[]. */
static void create_all(struct mpf_client *c)
{
	struct mpf_completion done[256];
	struct mpf_flow_error error;
	uint32_t submitted = 0, completed = 0;
	struct sample_rule r;

	while (completed < RULES) {
		int n;

		if (submitted < RULES) {
			sample_rule_init(&r, submitted);
			if (mpf_submit_create(c, 0, &ingress, r.pattern, r.actions,
					      MPF_FLOW_PERSISTENT, submitted, &error) == 0) {
				submitted++;
				continue;
			}
		}
		n = mpf_poll(c, done, 256, 60000);
		assert_true(n > 0);
		for (int i = 0; i < n; i++) {
			if (done[i].status != 0)
				fail_msg("create %llu: %s", (unsigned long long)done[i].user_data,
					 done[i].error.message);
			handles[done[i].user_data] = done[i].handle;
		}
		completed += (uint32_t)n;
	}
}

/* Every live rule is listed once: `expected` of them, their numbers unique
 * and below `numbers`. */
static void walk(struct mpf_client *c, uint32_t numbers, uint32_t expected)
{
	uint8_t *seen = calloc(numbers ? numbers : 1, 1);
	struct mpf_flow_info info;
	uint32_t cursor = 0, listed = 0;
	int n;

	assert_non_null(seen);
	while ((n = mpf_flow_next(c, &cursor, &info)) == 1) {
		assert_true(info.number < numbers);
		assert_int_equal(seen[info.number], 0);
		seen[info.number] = 1;
		listed++;
	}
	assert_int_equal(n, 0);
	assert_int_equal(listed, expected);
	free(seen);
}

/* Rule `i`, read back by handle: its number is `number`, its counter 0. */
static void expect_rule(struct mpf_client *c, uint32_t i, uint32_t number)
{
	struct mpf_flow_query_count count = {0};
	struct mpf_flow_info info;
	struct mpf_flow_error error;

	assert_int_equal(mpf_flow_get(c, handles[i], &info), 0);
	assert_int_equal(info.number, number);
	assert_int_equal(info.handle, handles[i]);
	assert_non_null(strstr(info.text, "udp"));
	assert_int_equal(
		mpf_flow_query(c, 0, handles[i], MPF_FLOW_ACTION_TYPE_COUNT, &count, &error), 0);
	assert_int_equal(count.hits, 0);
}

static unsigned unrestored(const struct primary *p)
{
	struct mpf_connect_options o = {.runtime_dir = p->dir};
	struct mpf_instance_info info;
	struct mpf_flow_error error;
	struct mpf_monitor *m;

	assert_int_equal(mpf_monitor_open(&o, &m, &error), 0);
	assert_int_equal(mpf_monitor_instance(m, &info), 0);
	mpf_monitor_close(m);
	return info.unrestored;
}

/* A new persistent rule (index `i`): its testpmd number. */
static uint32_t create_one(struct mpf_client *c, uint32_t i)
{
	struct mpf_flow_error error;
	struct mpf_flow_info info;
	struct sample_rule r;
	uint64_t handle;

	sample_rule_init(&r, i);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, r.pattern, r.actions, MPF_FLOW_PERSISTENT,
					 &handle, &error),
			 0);
	assert_int_equal(mpf_flow_get(c, handle, &info), 0);
	return info.number;
}

/*
 * The odd half restarted with a table of 64 Ki slots: the 32 Ki rules in
 * its slots come back, the other 467 232 are kept in the journal without
 * a slot, their numbers taken (a new rule numbers past them); one flush
 * destroys them all, frees their numbers, and no start finds them again.
 * (The code before looked each kept rule up, and its port's highest
 * number, by walking all of them: this flush took an hour.)
 */
static void flush_kept_rules(struct primary *p, const char *const *wide)
{
	static const char *const narrow[] = {"--max-rules", "65536", NULL};
	const uint32_t restored = 65536 / 2, kept = RULES / 2 - restored;
	struct mpf_flow_error error;
	struct mpf_client *c;

	assert_int_equal(primary_restart(p, narrow), 0);
	connect_to(p, &c);
	walk(c, restored, restored);
	assert_int_equal(unrestored(p), kept);
	assert_true(mpf_audit(c, &error) >= 0);
	assert_int_equal(create_one(c, RULES), RULES / 2);
	assert_int_equal(mpf_flow_flush_persistent(c, 0, &error), (int)(RULES / 2 + 1));
	walk(c, 0, 0);
	assert_int_equal(unrestored(p), 0);
	assert_true(mpf_audit(c, &error) >= 0);
	assert_int_equal(create_one(c, RULES + 1), 0);
	mpf_disconnect(c);
	assert_int_equal(primary_stop(p), 0);

	assert_int_equal(primary_restart(p, wide), 0);
	connect_to(p, &c);
	walk(c, 1, 1);
	assert_int_equal(unrestored(p), 0);
	assert_int_equal(mpf_flow_flush_persistent(c, 0, &error), 1);
	mpf_disconnect(c);
	assert_int_equal(primary_stop(p), 0);
}

static void test_a_million_persistent_rules_in_and_out(void **state)
{
	static const char *const args[] = {"--max-rules", "1048576", NULL};
	struct mpf_completion done[256];
	struct mpf_flow_error error;
	struct mpf_flow_info info;
	struct mpf_client *c;
	struct primary p;
	uint32_t submitted = 0, completed = 0;

	(void)state;
	handles = calloc(RULES, sizeof(*handles));
	assert_non_null(handles);
	assert_int_equal(primary_start(&p, args), 0);
	connect_to(&p, &c);
	create_all(c);
	walk(c, RULES, RULES);
	/* One client, in order: rule i is testpmd's number i. */
	for (uint32_t k = 0; k < SAMPLES; k++) {
		uint32_t i = (uint32_t)(((uint64_t)k * 7919u * 104729u) % RULES);

		expect_rule(c, i, i);
	}

	/* Destroy the even ones, pipelined. */
	while (completed < RULES / 2) {
		int n;

		if (submitted < RULES / 2 &&
		    mpf_submit_destroy(c, 0, handles[2 * submitted], submitted, &error) == 0) {
			submitted++;
			continue;
		}
		n = mpf_poll(c, done, 256, 60000);
		assert_true(n > 0);
		for (int i = 0; i < n; i++)
			assert_int_equal(done[i].status, 0);
		completed += (uint32_t)n;
	}
	assert_int_equal(mpf_flow_get(c, handles[0], &info), -ENOENT);
	assert_int_equal(mpf_flow_get(c, handles[RULES - 2], &info), -ENOENT);
	walk(c, RULES, RULES / 2);
	mpf_disconnect(c);

	/* A restart restores the odd half from the journal: the same handles,
	 * numbered again in the order they were made. */
	assert_int_equal(primary_stop(&p), 0);
	assert_int_equal(primary_restart(&p, args), 0);
	connect_to(&p, &c);
	walk(c, RULES / 2, RULES / 2);
	for (uint32_t k = 0; k < SAMPLES; k++) {
		uint32_t i = (uint32_t)(((uint64_t)k * 7919u * 104729u) % (RULES / 2)) * 2 + 1;

		expect_rule(c, i, (i - 1) / 2);
	}
	mpf_disconnect(c);
	assert_int_equal(primary_stop(&p), 0);
	flush_kept_rules(&p, args);
	assert_int_equal(primary_cleanup(&p), 0);
	free(handles);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_million_persistent_rules_in_and_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
