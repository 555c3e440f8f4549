/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a seed corpus for fuzz_flowctl: every command of flowctl's grammar
 * corpus (tests/flowctl/commands.txt, its in/out/bad lines), one per file.
 * usage: make-flowctl-corpus DIR
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	char line[16384], path[4096];
	unsigned seeds = 0;
	FILE *in;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	in = fopen(GRAMMAR_CORPUS, "r");
	if (in == NULL) {
		perror(GRAMMAR_CORPUS);
		return 1;
	}
	while (fgets(line, sizeof(line), in)) {
		FILE *out;

		if (strncmp(line, "in:  ", 5) && strncmp(line, "out: ", 5) &&
		    strncmp(line, "bad: ", 5))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(path, sizeof(path), "%s/command-%u", argv[1], seeds);
		out = fopen(path, "w");
		if (out == NULL || fputs(line + 5, out) < 0) {
			perror(path);
			return 1;
		}
		fclose(out);
		seeds++;
	}
	fclose(in);
	printf("%u seeds\n", seeds);
	return seeds ? 0 : 1;
}
