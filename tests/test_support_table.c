/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * docs/backends.md, "Items and actions by backend", kept true: every row's
 * example rule is built and put to the soft backend's validation and to the
 * verbs translation, which must say what the row says; and every item and
 * action type must have exactly one row.
 *
 *   test_support_table DOCS/backends.md
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

#include "hwdrv/hwdrv.h"
#include "shm/rule/rule.h"
#include "tools/flowctl/grammar.h"
#ifdef MPFLOW_HAVE_VERBS
#include "hwdrv/verbs/verbs.h"
#endif

static const char *doc_path;
static struct grammar_command *cmd;

struct row {
	char name[32], example[160], soft[16], verbs[16];
	bool action;
	unsigned line;
};

/* "| `name` | `example` | soft | verbs |" */
static bool parse_row(const char *text, struct row *row)
{
	return sscanf(text, "| `%31[^`]` | `%159[^`]` | %15[a-z] | %15[a-z] |", row->name,
		      row->example, row->soft, row->verbs) == 4;
}

static unsigned read_rows(struct row *rows, unsigned max)
{
	FILE *f = fopen(doc_path, "r");
	char text[512];
	bool in_section = false, action = false;
	unsigned n = 0, line = 0;

	assert_non_null(f);
	while (fgets(text, sizeof(text), f)) {
		line++;
		if (strncmp(text, "## ", 3) == 0)
			in_section = strstr(text, "Items and actions by backend") != NULL;
		if (!in_section)
			continue;
		if (strncmp(text, "| action |", 10) == 0)
			action = true;
		if (n < max && parse_row(text, &rows[n])) {
			rows[n].action = action;
			rows[n].line = line;
			n++;
		}
	}
	fclose(f);
	return n;
}

/* The index of the first item (or action) of `type` in the parsed rule. */
static int index_of(bool action, int type)
{
	for (int i = 0;; i++) {
		int t = action ? (int)cmd->rule.actions[i].type : (int)cmd->rule.pattern[i].type;

		if (t == type)
			return i;
		if (t == 0)
			return -1;
	}
}

static void build(const struct row *row, struct hwdrv_rule *hw, struct rule_shape *shape)
{
	char text[512];
	struct grammar_error gerr;
	struct mpf_flow_error error = {0};

	if (row->action)
		snprintf(text, sizeof(text),
			 "create 0 ingress pattern eth / ipv4 / tcp / end actions %s / end",
			 row->example);
	else
		snprintf(text, sizeof(text), "create 0 ingress pattern %s / end actions drop / end",
			 row->example);
	if (grammar_parse(text, cmd, &gerr) != 0)
		fail_msg("line %u: '%s': %s", row->line, text, gerr.message);
	if (rule_validate(&cmd->rule.attr, cmd->rule.pattern, cmd->rule.actions, shape, &error))
		fail_msg("line %u: '%s': %s", row->line, text, error.message);
	*hw = (struct hwdrv_rule){.port = 0,
				  .attr = &cmd->rule.attr,
				  .pattern = cmd->rule.pattern,
				  .actions = cmd->rule.actions,
				  .shape = shape};
}

static void check_refusal(const struct row *row, int err, const struct mpf_flow_error *error,
			  const char *backend)
{
	int type = 0;

	for (; type < (row->action ? MPF_FLOW_ACTION_TYPES : MPF_FLOW_ITEM_TYPES); type++)
		if (strcmp(row->action ? mpf_flow_action_name(type) : mpf_flow_item_name(type),
			   row->name) == 0)
			break;
	if (err != -ENOTSUP)
		fail_msg("line %u: %s %s: %d (%s), the table says refused", row->line, backend,
			 row->name, err, error->message);
	assert_int_equal(error->type,
			 row->action ? MPF_FLOW_ERROR_TYPE_ACTION : MPF_FLOW_ERROR_TYPE_ITEM);
	assert_int_equal(error->cause, index_of(row->action, type));
}

static void test_the_table_is_what_the_backends_do(void **state)
{
	struct hwdrv_config config = {.ports = 1, .queues = 4, .vfs = 2};
	struct hwdrv_meter meter = {.cir = 1000, .cbs = 1000, .pir = 2000, .pbs = 2000};
	bool items[MPF_FLOW_ITEM_TYPES] = {0}, actions[MPF_FLOW_ACTION_TYPES] = {0};
	struct mpf_flow_error error = {0};
	struct row rows[64];
	struct hwdrv soft;
	unsigned n = read_rows(rows, 64);

	(void)state;
	assert_int_equal(hwdrv_open(&soft, "soft", &config, &error), 0);
	assert_int_equal(soft.ops.meter_create(&soft, 0, 1, &meter, &error), 0);
	for (unsigned i = 0; i < n; i++) {
		const struct row *row = &rows[i];
		struct rule_shape shape;
		struct hwdrv_rule hw;
		int err, type;
		bool *seen = row->action ? actions : items;

		for (type = 1; type < (row->action ? MPF_FLOW_ACTION_TYPES : MPF_FLOW_ITEM_TYPES);
		     type++)
			if (strcmp(row->action ? mpf_flow_action_name(type)
					       : mpf_flow_item_name(type),
				   row->name) == 0)
				break;
		if (type == (row->action ? MPF_FLOW_ACTION_TYPES : MPF_FLOW_ITEM_TYPES) ||
		    seen[type])
			fail_msg("line %u: '%s' is no type, or a second row of it", row->line,
				 row->name);
		seen[type] = true;
		build(row, &hw, &shape);
		assert_true(index_of(row->action, type) >= 0); /* the example uses it */

		err = soft.ops.validate(&soft, &hw, &error);
		if (strcmp(row->soft, "yes") == 0 && err)
			fail_msg("line %u: soft refuses %s: %s", row->line, row->name,
				 error.message);
		if (strcmp(row->soft, "refused") == 0)
			check_refusal(row, err, &error, "soft");
#ifdef MPFLOW_HAVE_VERBS
		{
			static struct verbs_translation t;
			struct verbs_caps caps;

			verbs_caps_full(&caps, 4, 1, 1);
			err = verbs_translate(&caps, &hw, &t, &error);
			if (strcmp(row->verbs, "refused") == 0) {
				check_refusal(row, err, &error, "verbs");
				continue;
			}
			if (err)
				fail_msg("line %u: verbs refuses %s: %s", row->line, row->name,
					 error.message);
			if (strcmp(row->verbs, "native") == 0 && (t.emulation || t.n_flows != 1))
				fail_msg("line %u: verbs %s is emulated (%s)", row->line, row->name,
					 t.emulation ? t.emulation : "several flows");
			if (strcmp(row->verbs, "emulated") == 0 && !t.emulation)
				fail_msg("line %u: verbs %s is native", row->line, row->name);
		}
#endif
	}
	hwdrv_close(&soft);
	for (int t = 1; t < MPF_FLOW_ITEM_TYPES; t++)
		if (!items[t])
			fail_msg("item %s has no row", mpf_flow_item_name(t));
	for (int t = 1; t < MPF_FLOW_ACTION_TYPES; t++)
		if (!actions[t])
			fail_msg("action %s has no row", mpf_flow_action_name(t));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_table_is_what_the_backends_do),
	};
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DOCS/backends.md\n", argv[0]);
		return 2;
	}
	doc_path = argv[1];
	cmd = calloc(1, sizeof(*cmd));
	rc = cmocka_run_group_tests_name("support-table", tests, NULL, NULL);
	free(cmd);
	return rc;
}
