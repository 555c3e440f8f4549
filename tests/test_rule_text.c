/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rule model's text both ways, through libmpflow's public API
 * (mpf_flow_parse, mpf_flow_print): every rule of flowctl's corpus
 * (tests/flowctl/commands.txt, the "out:" lines of create commands) reads
 * and prints back as itself, and a refusal points at its word.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mpflow/mpflow.h>

static const char *corpus_path;

static void test_every_corpus_rule_prints_as_itself(void **state)
{
	char line[8192], printed[8192];
	unsigned rules = 0;
	FILE *f = fopen(corpus_path, "r");

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		struct mpf_flow_parsed *parsed;
		struct mpf_flow_error error;
		char *rule;
		int n;

		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "out: create ", 12) != 0)
			continue;
		/* "out: create PORT RULE": the rule after the port. */
		rule = strchr(line + 12, ' ');
		assert_non_null(rule);
		rule++;
		if (mpf_flow_parse(rule, &parsed, &error) != 0)
			fail_msg("'%s' refused at %d: %s", rule, error.cause, error.message);
		n = mpf_flow_print(printed, sizeof(printed), mpf_flow_parsed_attr(parsed),
				   mpf_flow_parsed_pattern(parsed), mpf_flow_parsed_actions(parsed),
				   &error);
		if (n < 0 || strcmp(printed, rule) != 0)
			fail_msg("'%s' printed as '%s' (%d: %s)", rule, printed, n,
				 n < 0 ? error.message : "");
		mpf_flow_parsed_free(parsed);
		rules++;
	}
	fclose(f);
	print_message("%u rules read and printed back\n", rules);
	assert_true(rules >= 60);
}

static void test_a_refusal_points_at_its_word(void **state)
{
	static const struct {
		const char *text;
		const char *at; /* the word at fault; NULL: the end of the text */
		const char *why;
	} cases[] = {
		{"ingress pattern eth / ipv4 src is 10.0.0.300 / end actions drop / end",
		 "10.0.0.300", "not an IPv4 address"},
		{"ingress pattern eth / udp dst is 80 / end actions queue idx 3 / end", "idx",
		 "no parameter 'idx'"},
		{"ingress pattern eth / end actions drop / end extra", "extra", "unexpected"},
		{"ingress pattern eth / end actions drop /", NULL, "an action or 'end' expected"},
		{"ingress pattern vlan vid is 5000 / end actions drop / end", "5000", "too large"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mpf_flow_parsed *parsed = (void *)1;
		struct mpf_flow_error error;
		const char *text = cases[i].text;
		int32_t at = cases[i].at ? (int32_t)(strstr(text, cases[i].at) - text)
					 : (int32_t)strlen(text);

		assert_int_equal(mpf_flow_parse(text, &parsed, &error), -EINVAL);
		assert_null(parsed);
		assert_int_equal(error.cause, at);
		if (strstr(error.message, cases[i].why) == NULL)
			fail_msg("'%s': '%s' does not say '%s'", text, error.message, cases[i].why);
	}
}

/* At most 8191 bytes of text, as a file's line or on its own: the line end
 * (LF or CRLF) a file's line keeps counts toward nothing. */
static void test_the_length_limit_leaves_out_the_line_end(void **state)
{
	static const char rule[] = "ingress pattern eth / end actions drop / end";
	static const char *const ends[] = {"", "\n", "\r\n"};
	char text[8192 + 3];

	(void)state;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		struct mpf_flow_parsed *parsed;
		struct mpf_flow_error error;

		/* 8191 bytes: the rule, then spaces. */
		memset(text, ' ', 8191);
		memcpy(text, rule, strlen(rule));
		strcpy(text + 8191, ends[i]);
		assert_int_equal(mpf_flow_parse(text, &parsed, &error), 0);
		assert_int_equal(mpf_flow_parsed_actions(parsed)[0].type,
				 MPF_FLOW_ACTION_TYPE_DROP);
		mpf_flow_parsed_free(parsed);

		/* 8192 bytes: refused, whatever ends it. */
		memset(text, ' ', 8192);
		memcpy(text, rule, strlen(rule));
		strcpy(text + 8192, ends[i]);
		assert_int_equal(mpf_flow_parse(text, &parsed, &error), -EINVAL);
		assert_int_equal(error.cause, 8192);
		assert_non_null(strstr(error.message, "more than 8191 bytes"));
	}
}

/* The parsed rule is what an application hands mpf_flow_create(). */
static void test_a_parsed_rule_is_the_api_s_rule(void **state)
{
	struct mpf_flow_parsed *parsed;
	struct mpf_flow_error error;
	const struct mpf_flow_item *pattern;
	const struct mpf_flow_action *actions;
	const struct mpf_flow_item_ipv4 *ip, *mask;
	const struct mpf_flow_action_queue *queue;
	char printed[256];

	(void)state;
	assert_int_equal(mpf_flow_parse("group 2 ingress pattern eth / ipv4 src is 10.1.2.3 / end "
					"actions queue index 3 / count / end",
					&parsed, &error),
			 0);
	assert_int_equal(mpf_flow_parsed_attr(parsed)->group, 2);
	pattern = mpf_flow_parsed_pattern(parsed);
	actions = mpf_flow_parsed_actions(parsed);
	assert_int_equal(pattern[1].type, MPF_FLOW_ITEM_TYPE_IPV4);
	ip = pattern[1].spec;
	mask = pattern[1].mask;
	assert_int_equal(ip->hdr.src_addr, __builtin_bswap32(0x0a010203));
	assert_int_equal(mask->hdr.src_addr, 0xffffffff);
	assert_int_equal(pattern[2].type, MPF_FLOW_ITEM_TYPE_END);
	queue = actions[0].conf;
	assert_int_equal(queue->index, 3);
	assert_int_equal(actions[1].type, MPF_FLOW_ACTION_TYPE_COUNT);
	assert_int_equal(actions[2].type, MPF_FLOW_ACTION_TYPE_END);
	/* A buffer too small is cut, and says how much was needed. */
	assert_true(mpf_flow_print(printed, 10, mpf_flow_parsed_attr(parsed), pattern, actions,
				   &error) > 10);
	assert_int_equal(strlen(printed), 9);
	mpf_flow_parsed_free(parsed);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_corpus_rule_prints_as_itself),
		cmocka_unit_test(test_a_refusal_points_at_its_word),
		cmocka_unit_test(test_the_length_limit_leaves_out_the_line_end),
		cmocka_unit_test(test_a_parsed_rule_is_the_api_s_rule),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS\n", argv[0]);
		return 2;
	}
	corpus_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
