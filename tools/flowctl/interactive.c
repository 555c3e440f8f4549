/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Interactive mode: a prompt with line editing and history (libedit, kept
 * in ~/.flowctl_history) and tab completion of the grammar's words: verbs,
 * items and their fields, actions and their parameters, operators, RSS
 * types. Each line is one command, run at once as on the command line.
 */
#include <editline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/rule/rule.h"
#include "shm/rule/text.h"
#include "tools/flowctl/flowctl.h"

#define WORDS_MAX 512

static const char *words[WORDS_MAX + 1];
static size_t word_count;

static void add_word(const char *w)
{
	for (size_t i = 0; i < word_count; i++)
		if (strcmp(words[i], w) == 0)
			return;
	if (word_count < WORDS_MAX)
		words[word_count++] = w;
}

static void add_vocabulary_word(const char *w, void *arg)
{
	(void)arg;
	add_word(w);
}

/* Every word the grammar knows: the rule's text (the rule model's
 * vocabulary) and the commands around it. */
static void collect_words(void)
{
	static const char *const keywords[] = {
		"flow",	   "create", "validate", "destroy", "flush", "query", "list",
		"isolate", "audit",  "meter",	 "rule",    "count", "reset", "fresh",
		"cir",	   "cbs",    "pir",	 "pbs",	    "drop",  "green", "yellow",
		"red",	   "clear",  "quit",	 "port",    "stats", "show",  "all",
	};

	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		add_word(keywords[i]);
	rule_text_vocabulary(add_vocabulary_word, NULL);
}

static char *next_match(const char *text, int state)
{
	static size_t at, length;

	if (state == 0) {
		at = 0;
		length = strlen(text);
	}
	while (at < word_count) {
		const char *w = words[at++];

		if (strncmp(w, text, length) == 0)
			return strdup(w);
	}
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	(void)start;
	(void)end;
	rl_attempted_completion_over = 1; /* words only, never file names */
	return rl_completion_matches(text, next_match);
}

int flowctl_interactive(struct flowctl *f)
{
	const char *home = getenv("HOME");
	char history[4096] = "";
	struct grammar_error error;
	int status = FLOWCTL_OK;
	char *line;

	collect_words();
	rl_readline_name = "flowctl";
	rl_attempted_completion_function = complete;
	if (home && *home) {
		snprintf(history, sizeof(history), "%s/.flowctl_history", home);
		read_history(history);
	}
	while ((line = readline("flowctl> ")) != NULL) {
		const char *s = line + strspn(line, " \t");

		if (*s)
			add_history(line);
		if (strcmp(s, "quit") == 0 || strcmp(s, "exit") == 0) {
			free(line);
			break;
		}
		if (grammar_parse(line, f->cmd, &error) != 0) {
			flowctl_report_syntax(f, line, 0, f->cmd, &error);
			status = FLOWCTL_USAGE;
		} else if (flowctl_run(f, f->cmd, line, 0) != 0) {
			status = FLOWCTL_REFUSED;
		}
		free(line);
	}
	if (history[0])
		write_history(history);
	return status;
}
