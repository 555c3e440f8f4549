/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowctl's grammar: DPDK testpmd's `flow` commands (create, validate,
 * destroy, flush, query, list, isolate) and meter objects, parsed into the
 * rule model's structs, and printed back in one canonical form.
 *
 * A command is a line of whitespace-separated tokens; every token keeps its
 * column, so that an error (the parser's, or the service's naming an item,
 * an action or an attribute) can be shown with a caret under its word.
 * The names of items, fields and actions are the rule model's descriptors
 * (shm/rule/), plus testpmd's bit fields (vlan vid, ipv6 tc, mpls label...)
 * listed in grammar.c.
 */
#ifndef MPFLOW_TOOLS_FLOWCTL_GRAMMAR_H
#define MPFLOW_TOOLS_FLOWCTL_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpflow/mpflow.h>

#define GRAMMAR_LINE_MAX   8192 /* bytes of one command */
#define GRAMMAR_TOKENS_MAX 2048
#define GRAMMAR_DESTROY_MAX 64	/* rule ids in one destroy */
#define GRAMMAR_GROUPS_MAX 16	/* group filters of one list */
#define GRAMMAR_ITEM_BYTES 48	/* the largest item struct (IPV6: 40) */

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
	GRAMMAR_AUDIT, /* the primary checks its consistency (no port) */
};

struct grammar_token {
	uint16_t column; /* byte offset in the line */
	uint16_t length;
};

/* A rule and the storage its pointers point into. */
struct grammar_rule {
	struct mpf_flow_attr attr;
	struct mpf_flow_item pattern[MPF_FLOW_ITEMS_MAX + 1];
	struct mpf_flow_action actions[MPF_FLOW_ACTIONS_MAX + 1];
	/* Token of each attribute, item and action (-1: none), for carets. */
	int group_token, priority_token, ingress_token, egress_token;
	int pattern_end_token, actions_end_token;
	int item_token[MPF_FLOW_ITEMS_MAX + 1];
	int action_token[MPF_FLOW_ACTIONS_MAX + 1];
	/* spec, last, mask of each item. */
	_Alignas(8) uint8_t item_data[MPF_FLOW_ITEMS_MAX][3][GRAMMAR_ITEM_BYTES];
	uint8_t raw_pattern[MPF_FLOW_ITEMS_MAX][MPF_FLOW_RAW_PATTERN_MAX];
	union {
		struct mpf_flow_action_mark mark;
		struct mpf_flow_action_queue queue;
		struct mpf_flow_action_dup dup;
		struct mpf_flow_action_rss rss;
		struct mpf_flow_action_vf vf;
		struct mpf_flow_action_meter meter;
		struct mpf_flow_action_security security;
	} conf[MPF_FLOW_ACTIONS_MAX];
	uint16_t rss_queues[MPF_FLOW_RSS_QUEUES_MAX];
	uint8_t rss_key[MPF_FLOW_RSS_KEY_MAX];
};

struct grammar_command {
	enum grammar_verb verb;
	int verb_token;
	uint16_t port;
	struct grammar_rule rule;		      /* CREATE, VALIDATE */
	uint64_t handles[GRAMMAR_DESTROY_MAX];	      /* DESTROY; QUERY uses [0] */
	int handle_tokens[GRAMMAR_DESTROY_MAX];
	unsigned handle_count;
	bool reset;				      /* QUERY: count reset; METER_QUERY: clear */
	bool fresh;				      /* QUERY: read the device first */
	uint32_t groups[GRAMMAR_GROUPS_MAX];	      /* LIST */
	unsigned group_count;
	bool isolate;				      /* ISOLATE */
	uint32_t meter_id;			      /* METER_* */
	struct mpf_meter_params meter;		      /* METER_CREATE */
	/* The line, split. */
	struct grammar_token tokens[GRAMMAR_TOKENS_MAX];
	unsigned token_count;
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
