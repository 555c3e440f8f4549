/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowctl's grammar: DPDK testpmd's `flow` commands (create, validate,
 * destroy, flush, query, list, isolate), meter objects and port statistics
 * (testpmd's `show port stats` and `clear port stats` too), parsed into the
 * rule model's structs, and printed back in one canonical form.
 *
 * The rule inside create and validate is the rule model's text
 * (shm/rule/text.h: the same parser libmpflow exports as mpf_flow_parse());
 * this file adds the commands around it, with the same words and
 * primitives, so that an error (the parser's, or the service's naming an
 * item, an action or an attribute) is shown with a caret under its word.
 */
#ifndef MPFLOW_TOOLS_FLOWCTL_GRAMMAR_H
#define MPFLOW_TOOLS_FLOWCTL_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpflow/mpflow.h>

#include "shm/rule/text.h"

#define GRAMMAR_LINE_MAX    RULE_TEXT_LINE_MAX /* bytes of one command */
#define GRAMMAR_DESTROY_MAX 64		       /* rule ids in one destroy */
#define GRAMMAR_GROUPS_MAX  16		       /* group filters of one list */

enum grammar_verb {
	GRAMMAR_NONE, /* an empty line or a comment */
	GRAMMAR_CREATE,
	GRAMMAR_VALIDATE,
	GRAMMAR_DESTROY,
	GRAMMAR_FLUSH,
	GRAMMAR_QUERY,
	GRAMMAR_LIST,
	GRAMMAR_ISOLATE,
	GRAMMAR_METER_CREATE,
	GRAMMAR_METER_DESTROY,
	GRAMMAR_METER_QUERY,
	GRAMMAR_AUDIT,	    /* the primary checks its consistency (no port) */
	GRAMMAR_PORT_STATS, /* port statistics: show, or reset */
};

struct grammar_command {
	enum grammar_verb verb;
	int verb_token;
	uint16_t port;
	struct rule_text rule;		       /* CREATE, VALIDATE */
	uint64_t handles[GRAMMAR_DESTROY_MAX]; /* DESTROY; QUERY uses [0] */
	int handle_tokens[GRAMMAR_DESTROY_MAX];
	unsigned handle_count;
	bool reset;	/* QUERY: count reset; METER_QUERY, PORT_STATS: clear */
	bool all_ports; /* PORT_STATS: every port */
	bool fresh;	/* QUERY: read the device first */
	uint32_t groups[GRAMMAR_GROUPS_MAX]; /* LIST */
	unsigned group_count;
	bool isolate;		       /* ISOLATE */
	uint32_t meter_id;	       /* METER_* */
	struct mpf_meter_params meter; /* METER_CREATE */
	struct rule_words words;       /* the line, split */
};

/* Where and why a command was refused. */
struct grammar_error {
	int token; /* the token at fault; token_count: after the last one */
	char message[160];
};

/*
 * Parse one command (a leading "flow" is accepted; "#" starts a comment).
 * 0 with `cmd` filled (verb GRAMMAR_NONE for an empty line), or -EINVAL
 * with `error` naming the token. `cmd`'s pointers point into itself: do not
 * copy it.
 */
int grammar_parse(const char *line, struct grammar_command *cmd, struct grammar_error *error);

/*
 * Write a parsed command in canonical form ("create 0 ingress pattern eth /
 * end actions drop / end"); parsing that text again gives the same command.
 * Returns the length the text needs, as snprintf; -EINVAL (with `error`) if
 * the rule does not pass the model's validation, which the printer needs.
 */
int grammar_print(char *buf, size_t cap, const struct grammar_command *cmd,
		  struct mpf_flow_error *error);

/* The token a service error points at (an item, an action, an attribute,
 * a rule id), or -1 when it names none of them. */
int grammar_error_token(const struct grammar_command *cmd, const struct mpf_flow_error *error);

/* The command's name, as the grammar spells it ("create", "meter query"). */
const char *grammar_verb_name(enum grammar_verb verb);

#endif
