/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowctl's commands around the rule model's text (shm/rule/parse.c): the
 * verbs, rule ids, groups, isolate, meters; the rule itself is
 * rule_text_parse()'s.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "shm/rule/rule.h"
#include "tools/flowctl/grammar.h"

static const char *const verb_names[] = {
	[GRAMMAR_NONE] = "",
	[GRAMMAR_CREATE] = "create",
	[GRAMMAR_VALIDATE] = "validate",
	[GRAMMAR_DESTROY] = "destroy",
	[GRAMMAR_FLUSH] = "flush",
	[GRAMMAR_QUERY] = "query",
	[GRAMMAR_LIST] = "list",
	[GRAMMAR_ISOLATE] = "isolate",
	[GRAMMAR_METER_CREATE] = "meter create",
	[GRAMMAR_METER_DESTROY] = "meter destroy",
	[GRAMMAR_METER_QUERY] = "meter query",
	[GRAMMAR_AUDIT] = "audit",
	[GRAMMAR_PORT_STATS] = "port stats",
};

const char *grammar_verb_name(enum grammar_verb verb)
{
	return verb_names[verb];
}

static int rule_id(struct rule_parser *p, struct grammar_command *cmd)
{
	int err;

	if (cmd->handle_count == GRAMMAR_DESTROY_MAX)
		return rule_parser_fail(p, p->at, "more than %u rules in one command",
					GRAMMAR_DESTROY_MAX);
	cmd->handle_tokens[cmd->handle_count] = (int)p->at;
	err = rule_parser_number(p, UINT64_MAX, &cmd->handles[cmd->handle_count], "rule id");
	if (!err)
		cmd->handle_count++;
	return err;
}

static int meter_color(struct rule_parser *p, uint32_t *drop)
{
	static const char *const colors[] = {"green", "yellow", "red"};

	for (unsigned c = 0; c < 3; c++) {
		if (rule_parser_take(p, colors[c])) {
			*drop |= 1u << c;
			return 0;
		}
	}
	return rule_parser_fail(p, p->at, "meter drop: 'green', 'yellow' or 'red' expected");
}

static int meter(struct rule_parser *p, struct grammar_command *cmd)
{
	struct mpf_meter_params *m = &cmd->meter;
	int err;

	if (rule_parser_take(p, "create"))
		cmd->verb = GRAMMAR_METER_CREATE;
	else if (rule_parser_take(p, "destroy"))
		cmd->verb = GRAMMAR_METER_DESTROY;
	else if (rule_parser_take(p, "query"))
		cmd->verb = GRAMMAR_METER_QUERY;
	else
		return rule_parser_fail(p, p->at, "meter: 'create', 'destroy' or 'query' expected");
	err = rule_parser_number16(p, &cmd->port, "port");
	if (!err)
		err = rule_parser_number32(p, &cmd->meter_id, "meter id");
	if (err || cmd->verb == GRAMMAR_METER_DESTROY)
		return err;
	if (cmd->verb == GRAMMAR_METER_QUERY) {
		cmd->reset = rule_parser_take(p, "clear");
		return 0;
	}
	while (!err && rule_parser_more(p)) {
		if (rule_parser_take(p, "cir"))
			err = rule_parser_number(p, UINT64_MAX, &m->cir, "cir (bytes/s)");
		else if (rule_parser_take(p, "cbs"))
			err = rule_parser_number(p, UINT64_MAX, &m->cbs, "cbs (bytes)");
		else if (rule_parser_take(p, "pir"))
			err = rule_parser_number(p, UINT64_MAX, &m->pir, "pir (bytes/s)");
		else if (rule_parser_take(p, "pbs"))
			err = rule_parser_number(p, UINT64_MAX, &m->pbs, "pbs (bytes)");
		else if (rule_parser_take(p, "drop"))
			do
				err = meter_color(p, &m->drop);
			while (!err && rule_parser_more(p) && !rule_parser_is(p, p->at, "cir") &&
			       !rule_parser_is(p, p->at, "cbs") &&
			       !rule_parser_is(p, p->at, "pir") &&
			       !rule_parser_is(p, p->at, "pbs"));
		else
			return rule_parser_fail(
				p, p->at,
				"meter create: 'cir', 'cbs', 'pir', 'pbs' or 'drop' "
				"expected");
	}
	return err;
}

/* "port stats PORT|all [reset]", testpmd's "show port stats PORT|all" and
 * "clear port stats PORT|all"; `verb` is the word already taken. */
static int port_stats(struct rule_parser *p, struct grammar_command *cmd, const char *verb)
{
	int err = 0;

	cmd->verb = GRAMMAR_PORT_STATS;
	cmd->reset = strcmp(verb, "clear") == 0;
	if (strcmp(verb, "port") != 0)
		err = rule_parser_expect(
			p, "port", verb[0] == 's' ? "(show port stats)" : "(clear port stats)");
	if (!err)
		err = rule_parser_expect(p, "stats", "(port statistics)");
	if (err)
		return err;
	if (rule_parser_take(p, "all"))
		cmd->all_ports = true;
	else if ((err = rule_parser_number16(p, &cmd->port, "port or 'all'")) != 0)
		return err;
	if (strcmp(verb, "port") == 0 && rule_parser_take(p, "reset"))
		cmd->reset = true;
	return 0;
}

static int command(struct rule_parser *p, struct grammar_command *cmd)
{
	static const char *const stats_words[] = {"port", "show", "clear"};
	int err;

	rule_parser_take(p, "flow");
	cmd->verb_token = (int)p->at;
	for (int v = GRAMMAR_CREATE; v <= GRAMMAR_ISOLATE; v++)
		if (rule_parser_take(p, verb_names[v]))
			cmd->verb = (enum grammar_verb)v;
	if (cmd->verb == GRAMMAR_NONE) {
		if (rule_parser_take(p, "meter"))
			return meter(p, cmd);
		if (rule_parser_take(p, "audit")) {
			cmd->verb = GRAMMAR_AUDIT;
			return 0;
		}
		for (unsigned i = 0; i < sizeof(stats_words) / sizeof(stats_words[0]); i++)
			if (rule_parser_take(p, stats_words[i]))
				return port_stats(p, cmd, stats_words[i]);
		return rule_parser_fail(
			p, p->at,
			"a command expected: create, validate, destroy, flush, query, "
			"list, isolate, meter, port stats or audit");
	}
	err = rule_parser_number16(p, &cmd->port, "port");
	if (err)
		return err;
	switch (cmd->verb) {
	case GRAMMAR_CREATE:
	case GRAMMAR_VALIDATE:
		return rule_text_parse(p, &cmd->rule);
	case GRAMMAR_DESTROY:
		do {
			err = rule_parser_expect(p, "rule", "before a rule id");
			if (!err)
				err = rule_id(p, cmd);
		} while (!err && rule_parser_more(p));
		return err;
	case GRAMMAR_QUERY:
		err = rule_id(p, cmd);
		if (!err)
			err = rule_parser_expect(p, "count", "(query reads the count action)");
		/* testpmd's "reset"; "fresh" (ours) reads the device first. */
		while (!err) {
			if (rule_parser_take(p, "reset"))
				cmd->reset = true;
			else if (rule_parser_take(p, "fresh"))
				cmd->fresh = true;
			else
				break;
		}
		return err;
	case GRAMMAR_LIST:
		while (!err && rule_parser_take(p, "group")) {
			if (cmd->group_count == GRAMMAR_GROUPS_MAX)
				return rule_parser_fail(p, p->at, "more than %u groups",
							GRAMMAR_GROUPS_MAX);
			err = rule_parser_number32(p, &cmd->groups[cmd->group_count++], "group");
		}
		return err;
	case GRAMMAR_ISOLATE:
		return rule_parser_boolean(p, &cmd->isolate, "isolate mode");
	default:
		return 0;
	}
}

static void reset_command(struct grammar_command *cmd)
{
	cmd->verb = GRAMMAR_NONE;
	cmd->verb_token = -1;
	cmd->port = 0;
	cmd->handle_count = 0;
	cmd->group_count = 0;
	cmd->reset = false;
	cmd->fresh = false;
	cmd->isolate = false;
	cmd->all_ports = false;
	cmd->meter_id = 0;
	memset(&cmd->meter, 0, sizeof(cmd->meter));
	rule_text_reset(&cmd->rule);
}

int grammar_parse(const char *line, struct grammar_command *cmd, struct grammar_error *error)
{
	struct rule_parser p;
	int err;

	reset_command(cmd);
	err = rule_words_split(&cmd->words, line, &p);
	if (!err && cmd->words.count > 0) {
		err = command(&p, cmd);
		if (!err && rule_parser_more(&p))
			err = rule_parser_fail(&p, p.at, "unexpected '%.*s' after the command",
					       (int)cmd->words.tokens[p.at].length,
					       line + cmd->words.tokens[p.at].column);
	}
	if (err) {
		error->token = (int)p.error_token;
		memcpy(error->message, p.message, sizeof(error->message));
	}
	return err;
}

/* ------------------------------------------------------------------------ */
/* Printing and errors                                                      */
/* ------------------------------------------------------------------------ */

int grammar_print(char *buf, size_t cap, const struct grammar_command *cmd,
		  struct mpf_flow_error *error)
{
	const char *verb = verb_names[cmd->verb];
	size_t n = 0;
	int err;

#define OUT(...)                                                                                   \
	(n += (size_t)snprintf(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, __VA_ARGS__))
	switch (cmd->verb) {
	case GRAMMAR_NONE:
		OUT("%s", "");
		break;
	case GRAMMAR_CREATE:
	case GRAMMAR_VALIDATE:
		err = rule_validate(&cmd->rule.attr, cmd->rule.pattern, cmd->rule.actions, NULL,
				    error);
		if (err)
			return err;
		OUT("%s %u ", verb, cmd->port);
		n += rule_print(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, &cmd->rule.attr,
				cmd->rule.pattern, cmd->rule.actions);
		break;
	case GRAMMAR_DESTROY:
		OUT("%s %u", verb, cmd->port);
		for (unsigned i = 0; i < cmd->handle_count; i++)
			OUT(cmd->handles[i] >> 32 ? " rule 0x%" PRIx64 : " rule %" PRIu64,
			    cmd->handles[i]);
		break;
	case GRAMMAR_FLUSH:
		OUT("%s %u", verb, cmd->port);
		break;
	case GRAMMAR_QUERY:
		OUT(cmd->handles[0] >> 32 ? "%s %u 0x%" PRIx64 " count%s%s"
					  : "%s %u %" PRIu64 " count%s%s",
		    verb, cmd->port, cmd->handles[0], cmd->reset ? " reset" : "",
		    cmd->fresh ? " fresh" : "");
		break;
	case GRAMMAR_LIST:
		OUT("%s %u", verb, cmd->port);
		for (unsigned i = 0; i < cmd->group_count; i++)
			OUT(" group %" PRIu32, cmd->groups[i]);
		break;
	case GRAMMAR_ISOLATE:
		OUT("%s %u %d", verb, cmd->port, cmd->isolate);
		break;
	case GRAMMAR_AUDIT:
		OUT("%s", verb);
		break;
	case GRAMMAR_PORT_STATS:
		if (cmd->all_ports)
			OUT("%s all%s", verb, cmd->reset ? " reset" : "");
		else
			OUT("%s %u%s", verb, cmd->port, cmd->reset ? " reset" : "");
		break;
	case GRAMMAR_METER_CREATE:
		OUT("%s %u %" PRIu32 " cir %" PRIu64 " cbs %" PRIu64 " pir %" PRIu64
		    " pbs %" PRIu64,
		    verb, cmd->port, cmd->meter_id, cmd->meter.cir, cmd->meter.cbs, cmd->meter.pir,
		    cmd->meter.pbs);
		if (cmd->meter.drop)
			OUT(" drop%s%s%s", cmd->meter.drop & MPF_METER_DROP_GREEN ? " green" : "",
			    cmd->meter.drop & MPF_METER_DROP_YELLOW ? " yellow" : "",
			    cmd->meter.drop & MPF_METER_DROP_RED ? " red" : "");
		break;
	case GRAMMAR_METER_DESTROY:
		OUT("%s %u %" PRIu32, verb, cmd->port, cmd->meter_id);
		break;
	case GRAMMAR_METER_QUERY:
		OUT("%s %u %" PRIu32 "%s", verb, cmd->port, cmd->meter_id,
		    cmd->reset ? " clear" : "");
		break;
	}
#undef OUT
	if (cap)
		buf[n < cap ? n : cap - 1] = '\0';
	return (int)n;
}

int grammar_error_token(const struct grammar_command *cmd, const struct mpf_flow_error *error)
{
	bool rule_verb = cmd->verb == GRAMMAR_CREATE || cmd->verb == GRAMMAR_VALIDATE;
	int t = rule_verb ? rule_text_error_token(&cmd->rule, error) : -1;

	if (t >= 0)
		return t;
	switch (error->type) {
	case MPF_FLOW_ERROR_TYPE_ATTR_GROUP:
	case MPF_FLOW_ERROR_TYPE_ATTR_PRIORITY:
	case MPF_FLOW_ERROR_TYPE_ATTR_INGRESS:
	case MPF_FLOW_ERROR_TYPE_ATTR_EGRESS:
	case MPF_FLOW_ERROR_TYPE_ATTR:
		return cmd->verb_token;
	case MPF_FLOW_ERROR_TYPE_HANDLE:
		return cmd->handle_count ? cmd->handle_tokens[0] : -1;
	default:
		return -1;
	}
}
