/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowctl's parts: main.c (options), run.c (one command against the
 * service, its output and its errors), batch.c (files and stdin through
 * the asynchronous API), interactive.c (the prompt), grammar.c (the
 * testpmd syntax), numbers.c (testpmd's rule numbers to handles),
 * translate.c (a rule as verbs device flows, offline).
 */
#ifndef MPFLOW_TOOLS_FLOWCTL_FLOWCTL_H
#define MPFLOW_TOOLS_FLOWCTL_FLOWCTL_H

#include <stdbool.h>
#include <stdio.h>

#include <mpflow/mpflow.h>

#include "tools/flowctl/grammar.h"

/* Exit statuses (flowctl(1), EXIT STATUS). */
#define FLOWCTL_OK	0
#define FLOWCTL_REFUSED 1 /* the service refused a command, or could not be reached */
#define FLOWCTL_USAGE	2 /* bad options or a command that does not parse */

struct flowctl {
	struct mpf_connect_options connect;
	bool json;
	bool stop_on_error;
	unsigned depth;			 /* batch: requests in flight at most */
	struct mpf_client *client;	 /* connected on first need */
	struct mpf_monitor *monitor;	 /* list reads the directory through one */
	struct grammar_command *cmd;	 /* scratch for one command */
	struct flowctl_numbers *numbers; /* built on the first number asked */
};

/* The command words, joined by single spaces, as one line to parse
 * (malloc'd; NULL when out of memory). */
char *flowctl_join(int argc, char **argv);

/* flowctl translate [OPTION]... COMMAND: a rule as verbs device flows. */
int flowctl_translate(struct flowctl *f, int argc, char **argv);

/* The session, connected on first use. 0 or -errno (reported). */
int flowctl_client(struct flowctl *f, struct mpf_client **client);

/*
 * Run one parsed command synchronously and print its result. `line_number`
 * (0: none) and `line` are for messages. Returns 0 or -errno (reported).
 */
int flowctl_run(struct flowctl *f, const struct grammar_command *cmd, const char *line,
		unsigned line_number);

/* Report a command that does not parse (usage error). */
void flowctl_report_syntax(const struct flowctl *f, const char *line, unsigned line_number,
			   const struct grammar_command *cmd, const struct grammar_error *error);

/* Report a refusal of the service for `cmd` (`line` as typed), with a
 * caret under token `token` (grammar_error_token(), or -1 for none). */
void flowctl_report_refusal(const struct flowctl *f, const char *line, unsigned line_number,
			    const struct grammar_command *cmd, int token, int err,
			    const struct mpf_flow_error *error);

/* Report a rule created or destroyed (`verb`), by its testpmd `number`
 * (-1: unknown) and `handle` (0: unknown): JSON, one object with each one
 * known; text, unless `quiet`, testpmd's "Flow rule #N created". */
void flowctl_report_rule(const struct flowctl *f, unsigned line_number, enum grammar_verb verb,
			 uint64_t handle, int64_t number, bool quiet);

/* The testpmd number of the live rule `handle`, or -1 (learnt by the
 * index of numbers, flowctl_number_learn()). */
int64_t flowctl_number(struct flowctl *f, struct mpf_client *c, uint64_t handle);

/* A rule id below 2^32 is testpmd's number of the rule on its port; a
 * handle is larger (its generation, never 0, is in the top 32 bits). */
static inline bool flowctl_id_is_number(uint64_t id)
{
	return id >> 32 == 0;
}

/* The handles of a destroy's or query's ids, numbers looked up
 * (flowctl_number_handle()): 0, or -ENOENT with *bad the index of a number
 * no rule of the port has. */
int flowctl_resolve_ids(struct flowctl *f, struct mpf_client *c, const struct grammar_command *cmd,
			uint64_t handles[], unsigned *bad, struct mpf_flow_error *error);

/* The handle of the rule that holds testpmd's `number` on `port` now,
 * through the index (numbers.c): 0, -ENOENT, or -errno of the walk. */
int flowctl_number_handle(struct flowctl *f, struct mpf_client *c, uint16_t port, uint32_t number,
			  uint64_t *handle);
/* A rule flowctl made or saw: the index holds its number (once built). */
void flowctl_number_learn(struct flowctl *f, uint16_t port, uint32_t number, uint64_t handle);
void flowctl_numbers_free(struct flowctl *f);

/* Interactive mode (a terminal, no command, no --file): a prompt with
 * history and completion. Returns the last failure's exit status. */
int flowctl_interactive(struct flowctl *f);

/* Batch mode: every command of `in`. Returns the exit status. */
int flowctl_batch(struct flowctl *f, FILE *in, const char *name);

#endif
