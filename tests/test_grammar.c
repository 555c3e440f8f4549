/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowctl's grammar against a corpus of testpmd commands
 * (tests/flowctl/commands.txt, its format is described there): every
 * command parses and prints canonically, the canonical text is a fixed
 * point, and every malformed command is refused at the right word with the
 * right reason. A few properties the corpus cannot show are tested below it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shm/rule/rule.h"
#include "tools/flowctl/grammar.h"

static const char *corpus_path;
static struct grammar_command *cmd;

static char *field(char *line, const char *tag)
{
	size_t n = strlen(tag);

	if (strncmp(line, tag, n) != 0)
		return NULL;
	line[strcspn(line, "\n")] = '\0';
	return line + n;
}

/* Parse and print `text`, into `out`. */
static void canonical(const char *text, char *out, size_t cap, unsigned line)
{
	struct grammar_error error;
	struct mpf_flow_error flow_error = {0};
	int n;

	if (grammar_parse(text, cmd, &error) != 0)
		fail_msg("line %u: '%s' refused at token %d: %s", line, text, error.token,
			 error.message);
	n = grammar_print(out, cap, cmd, &flow_error);
	if (n < 0)
		fail_msg("line %u: '%s' parsed but does not validate: %s", line, text,
			 flow_error.message);
	assert_true((size_t)n < cap);
}

static void test_corpus(void **state)
{
	char line[GRAMMAR_LINE_MAX], in[GRAMMAR_LINE_MAX] = "", bad[GRAMMAR_LINE_MAX] = "";
	char got[GRAMMAR_LINE_MAX], again[GRAMMAR_LINE_MAX];
	unsigned number = 0, round_trips = 0, refusals = 0;
	struct grammar_error error;
	FILE *f = fopen(corpus_path, "r");
	char *v;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		number++;
		if ((v = field(line, "in:  ")) != NULL) {
			snprintf(in, sizeof(in), "%s", v);
		} else if ((v = field(line, "out: ")) != NULL) {
			canonical(in, got, sizeof(got), number);
			if (strcmp(got, v) != 0)
				fail_msg("line %u: '%s'\n printed '%s'\n expected '%s'", number, in,
					 got, v);
			canonical(v, again, sizeof(again), number);
			assert_string_equal(again, v);
			round_trips++;
		} else if ((v = field(line, "bad: ")) != NULL) {
			snprintf(bad, sizeof(bad), "%s", v);
			if (grammar_parse(bad, cmd, &error) == 0)
				fail_msg("line %u: '%s' was accepted", number, bad);
		} else if ((v = field(line, "at:  ")) != NULL) {
			/* The caret's column in `bad`; at the end: past the last word. */
			unsigned column = (unsigned)(strchr(v, '^') - v);
			unsigned at = (unsigned)error.token < cmd->words.count
					      ? cmd->words.tokens[error.token].column
					      : (unsigned)strlen(bad);

			if (at != column)
				fail_msg("line %u: '%s' refused at column %u, expected %u: %s",
					 number, bad, at, column, error.message);
		} else if ((v = field(line, "why: ")) != NULL) {
			if (strstr(error.message, v) == NULL)
				fail_msg("line %u: '%s' refused with '%s', expected '%s'", number,
					 bad, error.message, v);
			refusals++;
		}
	}
	fclose(f);
	/* The corpus is the test: it must not be empty by accident. */
	assert_true(round_trips >= 60);
	assert_true(refusals >= 30);
}

/* What the corpus cannot show: the bytes behind the text. */
static void test_fields_land_in_network_order_with_testpmd_masks(void **state)
{
	struct grammar_error error;
	const struct mpf_flow_item_vlan *vlan, *vlan_mask;
	const struct mpf_flow_item_ipv4 *ip, *ip_mask;
	const struct mpf_flow_item_tcp *tcp, *tcp_last;

	(void)state;
	assert_int_equal(
		grammar_parse("create 0 ingress pattern eth / vlan vid is 0x123 pcp is 5 / "
			      "ipv4 src spec 10.1.2.3 src prefix 16 / tcp dst spec 1000 "
			      "dst last 2000 / end actions drop / end",
			      cmd, &error),
		0);
	vlan = cmd->rule.pattern[1].spec;
	vlan_mask = cmd->rule.pattern[1].mask;
	assert_int_equal(ntohs(vlan->tci), 5u << 13 | 0x123);
	assert_int_equal(ntohs(vlan_mask->tci), 0xe000 | 0x0fff);
	ip = cmd->rule.pattern[2].spec;
	ip_mask = cmd->rule.pattern[2].mask;
	assert_int_equal(ntohl(ip->hdr.src_addr), 0x0a010203);
	assert_int_equal(ntohl(ip_mask->hdr.src_addr), 0xffff0000);
	assert_int_equal(ip_mask->hdr.dst_addr, 0);
	/* spec and last without a mask: TCP's default mask applies. */
	tcp = cmd->rule.pattern[3].spec;
	tcp_last = cmd->rule.pattern[3].last;
	assert_null(cmd->rule.pattern[3].mask);
	assert_int_equal(ntohs(tcp->hdr.dst_port), 1000);
	assert_int_equal(ntohs(tcp_last->hdr.dst_port), 2000);
	assert_int_equal(cmd->rule.pattern[4].type, MPF_FLOW_ITEM_TYPE_END);
	assert_int_equal(cmd->rule.actions[0].type, MPF_FLOW_ACTION_TYPE_DROP);
}

static void test_service_errors_point_at_their_word(void **state)
{
	const char *line = "create 0 group 3 ingress pattern eth / ipv4 / udp / end "
			   "actions count / queue index 9 / end";
	struct grammar_error error;
	struct mpf_flow_error item = {.type = MPF_FLOW_ERROR_TYPE_ITEM, .cause = 2};
	struct mpf_flow_error action = {.type = MPF_FLOW_ERROR_TYPE_ACTION, .cause = 1};
	struct mpf_flow_error group = {.type = MPF_FLOW_ERROR_TYPE_ATTR_GROUP, .cause = -1};
	struct mpf_flow_error items = {.type = MPF_FLOW_ERROR_TYPE_ITEM_NUM, .cause = -1};

	(void)state;
	assert_int_equal(grammar_parse(line, cmd, &error), 0);
	assert_int_equal(cmd->words.tokens[grammar_error_token(cmd, &item)].column,
			 strstr(line, "udp") - line);
	assert_int_equal(cmd->words.tokens[grammar_error_token(cmd, &action)].column,
			 strstr(line, "queue") - line);
	assert_int_equal(cmd->words.tokens[grammar_error_token(cmd, &group)].column,
			 strstr(line, "group") - line);
	assert_int_equal(cmd->words.tokens[grammar_error_token(cmd, &items)].column,
			 strstr(line, "end actions") - line);
}

/* RAW's fields take every operator; a range or mask of RAW is the
 * validator's to refuse, with its cause and the item named. */
static void test_raw_ranges_and_masks_reach_validation(void **state)
{
	static const char *const lines[] = {
		"create 0 ingress pattern eth / raw offset is 0 offset last 8 pattern is a / end "
		"actions drop / end",
		"create 0 ingress pattern eth / raw offset is 4 offset mask 0xff pattern is a / "
		"end "
		"actions drop / end",
		"create 0 ingress pattern eth / raw pattern is ab pattern mask ff / end actions "
		"drop "
		"/ end",
		"create 0 ingress pattern eth / raw relative is 1 relative last 1 pattern is a / "
		"end "
		"actions drop / end",
	};
	struct grammar_error error;
	struct mpf_flow_error refused;

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		int err;

		assert_int_equal(grammar_parse(lines[i], cmd, &error), 0);
		err = rule_validate(&cmd->rule.attr, cmd->rule.pattern, cmd->rule.actions, NULL,
				    &refused);
		if (err != -ENOTSUP && err != -EINVAL)
			fail_msg("'%s': %d (%s)", lines[i], err, refused.message);
		assert_int_equal(refused.type, MPF_FLOW_ERROR_TYPE_ITEM);
		assert_int_equal(refused.cause, 1);
		assert_non_null(strstr(refused.message, "raw"));
	}
}

static void test_limits_are_refused_not_truncated(void **state)
{
	static char line[GRAMMAR_LINE_MAX + 16];
	struct grammar_error error;
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(line, sizeof(line), "create 0 ingress pattern");
	for (unsigned i = 0; i <= MPF_FLOW_ITEMS_MAX; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " void /");
	snprintf(line + n, sizeof(line) - n, " end actions drop / end");
	assert_int_equal(grammar_parse(line, cmd, &error), -EINVAL);
	assert_non_null(strstr(error.message, "more than 64 items"));

	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(grammar_parse(line, cmd, &error), -EINVAL);
	assert_non_null(strstr(error.message, "at most"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_fields_land_in_network_order_with_testpmd_masks),
		cmocka_unit_test(test_service_errors_point_at_their_word),
		cmocka_unit_test(test_raw_ranges_and_masks_reach_validation),
		cmocka_unit_test(test_limits_are_refused_not_truncated),
	};
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS\n", argv[0]);
		return 2;
	}
	corpus_path = argv[1];
	cmd = malloc(sizeof(*cmd));
	rc = cmocka_run_group_tests_name("grammar", tests, NULL, NULL);
	free(cmd);
	return rc;
}
