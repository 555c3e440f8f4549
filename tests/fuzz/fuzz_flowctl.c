/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for flowctl's grammar, which reads what people and
 * scripts type: any input is parsed; a refusal must point at a word of the
 * line (or just past it); an accepted command that validates must print a
 * canonical text that parses again and prints as itself; and the service's
 * error of any type and cause must map to a word of the line or to none.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/flowctl/grammar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct grammar_command cmd, again;
static char line[GRAMMAR_LINE_MAX + 1], printed[2 * GRAMMAR_LINE_MAX],
	reprinted[2 * GRAMMAR_LINE_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct grammar_error error;
	struct mpf_flow_error flow_error;
	int n;

	if (size > GRAMMAR_LINE_MAX)
		size = GRAMMAR_LINE_MAX;
	memcpy(line, data, size);
	line[size] = '\0';
	if (grammar_parse(line, &cmd, &error) != 0) {
		if (error.token < 0 || (unsigned)error.token > cmd.words.count ||
		    memchr(error.message, '\0', sizeof(error.message)) == NULL)
			abort();
		return 0;
	}
	for (int type = 0; type < MPF_FLOW_ERROR_TYPES; type++) {
		for (int cause = -1; cause <= MPF_FLOW_ITEMS_MAX + 1; cause++) {
			struct mpf_flow_error e = {.type = (enum mpf_flow_error_type)type,
						   .cause = cause};
			int t = grammar_error_token(&cmd, &e);

			if (t < -1 || t >= (int)cmd.words.count)
				abort();
		}
	}
	n = grammar_print(printed, sizeof(printed), &cmd, &flow_error);
	if (n < 0 || n >= GRAMMAR_LINE_MAX)
		return 0; /* does not validate, or longer than a command may be */
	if (grammar_parse(printed, &again, &error) != 0)
		abort();
	if (grammar_print(reprinted, sizeof(reprinted), &again, &flow_error) != n ||
	    strcmp(printed, reprinted) != 0)
		abort();
	return 0;
}
