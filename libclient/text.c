/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpf_flow_parse() and mpf_flow_print(): the rule model's testpmd text
 * (shm/rule/text.h), for applications that load or show rules as text.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mpflow/mpflow.h>

#include "shm/rule/rule.h"
#include "shm/rule/text.h"

struct mpf_flow_parsed {
	struct rule_words words; /* point into `line` */
	struct rule_text rule;	 /* points into itself */
	char line[];
};

int mpf_flow_parse(const char *text, struct mpf_flow_parsed **out, struct mpf_flow_error *error)
{
	/* Room for a line end after the longest text: it is not counted. */
	size_t length = strnlen(text, RULE_TEXT_LINE_MAX + 2);
	struct mpf_flow_parsed *parsed;
	struct rule_parser p;
	int err;

	*out = NULL;
	if (rule_line_text_length(text, length) >= RULE_TEXT_LINE_MAX)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
				      RULE_TEXT_LINE_MAX, "a rule of more than %u bytes",
				      RULE_TEXT_LINE_MAX - 1);
	parsed = malloc(sizeof(*parsed) + length + 1);
	if (parsed == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "out of memory");
	memcpy(parsed->line, text, length + 1);
	rule_text_reset(&parsed->rule);
	err = rule_words_split(&parsed->words, parsed->line, &p);
	if (!err)
		err = rule_text_parse(&p, &parsed->rule);
	if (!err && rule_parser_more(&p))
		err = rule_parser_fail(&p, p.at, "unexpected words after the rule's 'end'");
	if (err) {
		/* The cause is where the word at fault starts in `text`. */
		int32_t at = p.error_token < parsed->words.count
				     ? parsed->words.tokens[p.error_token].column
				     : (int32_t)length;

		free(parsed);
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, at, "%s",
				      p.message);
	}
	*out = parsed;
	return 0;
}

const struct mpf_flow_attr *mpf_flow_parsed_attr(const struct mpf_flow_parsed *parsed)
{
	return &parsed->rule.attr;
}

const struct mpf_flow_item *mpf_flow_parsed_pattern(const struct mpf_flow_parsed *parsed)
{
	return parsed->rule.pattern;
}

const struct mpf_flow_action *mpf_flow_parsed_actions(const struct mpf_flow_parsed *parsed)
{
	return parsed->rule.actions;
}

void mpf_flow_parsed_free(struct mpf_flow_parsed *parsed)
{
	free(parsed);
}

int mpf_flow_print(char *buf, size_t cap, const struct mpf_flow_attr *attr,
		   const struct mpf_flow_item pattern[], const struct mpf_flow_action actions[],
		   struct mpf_flow_error *error)
{
	int err = rule_validate(attr, pattern, actions, NULL, error);
	size_t n;

	if (err)
		return err;
	n = rule_print(buf, cap, attr, pattern, actions);
	if (n > INT32_MAX)
		return flow_error_set(error, EOVERFLOW, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "a rule text of %zu bytes", n);
	return (int)n;
}
