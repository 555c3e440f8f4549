/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rule in testpmd's text, both ways: the parser (parse.c) reads
 * "[group N] [priority N] [ingress] [egress] pattern ITEM ... / end actions
 * ACTION ... / end" into the rule model's structs, the printer (print.c)
 * writes them back, and parsing the printed text gives the same rule. The
 * names of items, fields and actions are the descriptors' (rule.h), plus
 * testpmd's bit fields (vlan vid, ipv6 tc, mpls label...) listed in
 * parse.c.
 *
 * Text is split into words that keep their column, so that a refusal (the
 * parser's, or a service's naming an item, an action or an attribute) can
 * point at its word. flowctl parses its commands with the same words and
 * primitives (tools/flowctl/grammar.c); libmpflow exports the rule part as
 * mpf_flow_parse() and mpf_flow_print().
 */
#ifndef MPFLOW_SHM_RULE_TEXT_H
#define MPFLOW_SHM_RULE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpflow/flow.h>

#define RULE_TEXT_LINE_MAX   8192 /* bytes of one line */
#define RULE_TEXT_TOKENS_MAX 2048 /* words of one line */
#define RULE_TEXT_ITEM_BYTES 48	  /* the largest item struct (IPV6: 40) */

struct rule_token {
	uint16_t column; /* byte offset in the line */
	uint16_t length;
};

/* A line, split into words. */
struct rule_words {
	const char *line;
	struct rule_token tokens[RULE_TEXT_TOKENS_MAX];
	unsigned count;
};

/* A parse in progress over `words`: the next word, and on a refusal the
 * word at fault (`count` for "after the last one") and why. */
struct rule_parser {
	const struct rule_words *words;
	unsigned at;
	unsigned error_token;
	char message[160];
};

/* A rule read from text, and the storage its pointers point into (do not
 * copy it: its pointers point into itself). */
struct rule_text {
	struct mpf_flow_attr attr;
	struct mpf_flow_item pattern[MPF_FLOW_ITEMS_MAX + 1];
	struct mpf_flow_action actions[MPF_FLOW_ACTIONS_MAX + 1];
	/* The word of each attribute, item and action (-1: none), for carets. */
	int group_token, priority_token, ingress_token, egress_token;
	int pattern_end_token, actions_end_token;
	int item_token[MPF_FLOW_ITEMS_MAX + 1];
	int action_token[MPF_FLOW_ACTIONS_MAX + 1];
	/* spec, last, mask of each item. */
	_Alignas(8) uint8_t item_data[MPF_FLOW_ITEMS_MAX][3][RULE_TEXT_ITEM_BYTES];
	uint8_t raw_pattern[MPF_FLOW_ITEMS_MAX][3][MPF_FLOW_RAW_PATTERN_MAX];
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

/* The length of a line's text: `length` bytes less its end of line (LF or
 * CRLF, as a file's lines come), which counts toward no limit. */
size_t rule_line_text_length(const char *line, size_t length);

/* Split `line` into words ("#" starts a comment). 0, or -EINVAL with the
 * parser's error set (a line or word count beyond the limits). */
int rule_words_split(struct rule_words *words, const char *line, struct rule_parser *p);

/* An empty rule: no attribute, item or action, every token -1. */
void rule_text_reset(struct rule_text *r);

/*
 * Parse a rule from p->at: attributes, "pattern", items, "end", "actions",
 * actions, "end". 0 with `r` filled, or -EINVAL with p->error_token and
 * p->message. Syntax only: the rule is not validated.
 */
int rule_text_parse(struct rule_parser *p, struct rule_text *r);

/* The word (an item's, an action's, an attribute's) a rule_validate() error
 * of this rule points at, or -1 when it names none of them. */
int rule_text_error_token(const struct rule_text *r, const struct mpf_flow_error *error);

/* An action's parameters (" index 3"), from the parser's table; RSS is
 * the printer's own. Returns the length the text needs, as snprintf. */
size_t rule_action_params_print(char *buf, size_t cap, const struct mpf_flow_action *action);

/* Every word the rule's text uses (keywords, item, field, bit-field,
 * action, parameter and RSS type names), for completion. */
void rule_text_vocabulary(void (*word)(const char *name, void *arg), void *arg);

/* --- primitives, for the commands around a rule (flowctl) --- */

/* Refuse at word `token`; returns -EINVAL. */
int rule_parser_fail(struct rule_parser *p, unsigned token, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool rule_parser_more(const struct rule_parser *p);
bool rule_parser_is(const struct rule_parser *p, unsigned token, const char *word);
/* Take the next word if it is `word`. */
bool rule_parser_take(struct rule_parser *p, const char *word);
/* Take `word` or refuse, saying where it was expected (`context`). */
int rule_parser_expect(struct rule_parser *p, const char *word, const char *context);
/*
 * The value readers write `*out` only when they return 0: an unsigned
 * number (decimal, 0x hex or 0 octal, as testpmd) of at most `max`; 32 and
 * 16 bits; a boolean (0/1, true/false, on/off, yes/no).
 */
int rule_parser_number(struct rule_parser *p, uint64_t max, uint64_t *out, const char *what);
int rule_parser_number32(struct rule_parser *p, uint32_t *out, const char *what);
int rule_parser_number16(struct rule_parser *p, uint16_t *out, const char *what);
int rule_parser_boolean(struct rule_parser *p, bool *out, const char *what);

#endif
