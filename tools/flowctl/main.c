/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowctl: DPDK testpmd's flow commands against an mpflow instance, one at
 * a time from the command line, or many from a file or stdin. See
 * flowctl(1); the options below and the man page's are kept equal by a test.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/flowctl/flowctl.h"

static void usage(FILE *out)
{
	fputs("Usage: flowctl [OPTION]... COMMAND...\n"
	      "       flowctl [OPTION]... -f FILE\n"
	      "       flowctl [OPTION]...          (a prompt on a terminal, else stdin)\n"
	      "Submit flow rules in DPDK testpmd syntax to an mpflow instance.\n"
	      "\n"
	      "Commands (a leading \"flow\" is accepted):\n"
	      "  create PORT [group N] [priority N] [ingress] [egress]\n"
	      "         pattern ITEM [FIELD OP VALUE]... / ... / end\n"
	      "         actions ACTION [PARAM VALUE]... / ... / end\n"
	      "  validate PORT ...            check a rule, create nothing\n"
	      "  destroy PORT rule ID [rule ID]...\n"
	      "  flush PORT                   destroy every rule flowctl made on PORT\n"
	      "  query PORT ID count [reset] [fresh]\n"
	      "  list PORT [group N]...\n"
	      "  isolate PORT 0|1\n"
	      "  meter create PORT ID cir N cbs N pir N pbs N [drop COLOR...]\n"
	      "  meter destroy PORT ID\n"
	      "  meter query PORT ID [clear]\n"
	      "  port stats PORT|all [reset]  packets received, dropped, delivered, lost,\n"
	      "                               transmitted, per port and queue (testpmd's\n"
	      "                               show port stats / clear port stats too)\n"
	      "  audit                        the primary checks its own consistency\n"
	      "  translate [--backend=verbs] [--queues=N] [--groups=N] [--levels=N]\n"
	      "            create|validate PORT ...\n"
	      "                               the device flows a rule becomes on an RDMA\n"
	      "                               NIC, decoded and in hex (no NIC, no service)\n"
	      "Field operators: is, spec, last, mask, prefix.\n"
	      "A rule ID is testpmd's (0, 1, ...: the port's highest + 1) or the rule's\n"
	      "handle (0x100000000 and above, as list shows it).\n"
	      "\n"
	      "Options:\n"
	      "  -f, --file=FILE        run the commands of FILE, one per line (-: stdin)\n"
	      "  -d, --depth=N          batch: requests in flight at most (default 64)\n"
	      "  -s, --stop-on-error    batch: stop at the first failed command\n"
	      "  -j, --json             results and errors as JSON, one object per line\n"
	      "  -i, --instance=NAME    the instance (default: default)\n"
	      "  -r, --runtime-dir=DIR  its runtime directory (default: $MPFLOW_RUNTIME_DIR,\n"
	      "                         /run/mpflow as root, else $XDG_RUNTIME_DIR/mpflow)\n"
	      "  -t, --timeout=MS       longest wait for an answer from a primary that shows no\n"
	      "                         sign of life (default 10000)\n"
	      "  -h, --help             print this help and exit\n"
	      "  -V, --version          print the version and exit\n"
	      "\n"
	      "Exit status: 0 success; 1 the service refused a command or could not be\n"
	      "reached; 2 usage error (an option or a command that does not parse).\n",
	      out);
}

static int positive(const char *text, const char *option, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (*text == '\0' || *end != '\0' || errno || v == 0 || v > max) {
		fprintf(stderr, "flowctl: %s: '%s' is not a number from 1 to %u\n", option, text,
			max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

char *flowctl_join(int argc, char **argv)
{
	size_t length = 1;
	char *line;

	for (int i = 0; i < argc; i++)
		length += strlen(argv[i]) + 1;
	line = calloc(1, length);
	if (line == NULL)
		return NULL;
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(line, " ");
		strcat(line, argv[i]);
	}
	return line;
}

static int one_shot(struct flowctl *f, int argc, char **argv)
{
	struct grammar_error error;
	char *line = flowctl_join(argc, argv);
	int status;

	if (line == NULL) {
		fprintf(stderr, "flowctl: out of memory\n");
		return FLOWCTL_REFUSED;
	}
	if (grammar_parse(line, f->cmd, &error) != 0) {
		flowctl_report_syntax(f, line, 0, f->cmd, &error);
		status = FLOWCTL_USAGE;
	} else {
		status = flowctl_run(f, f->cmd, line, 0) ? FLOWCTL_REFUSED : FLOWCTL_OK;
	}
	free(line);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"file", required_argument, NULL, 'f'},
		{"depth", required_argument, NULL, 'd'},
		{"stop-on-error", no_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"instance", required_argument, NULL, 'i'},
		{"runtime-dir", required_argument, NULL, 'r'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct flowctl f = {.depth = 64, .connect = {.name = "flowctl"}};
	const char *file = NULL;
	unsigned timeout = 0;
	int opt, status;

	/* '+': options end at the command, whose words may start with '-'
	 * (raw offset is -4). */
	while ((opt = getopt_long(argc, argv, "+f:d:sji:r:t:hV", options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			file = optarg;
			break;
		case 'd':
			if (positive(optarg, "--depth", 65536, &f.depth))
				return FLOWCTL_USAGE;
			break;
		case 's':
			f.stop_on_error = true;
			break;
		case 'j':
			f.json = true;
			break;
		case 'i':
			f.connect.instance = optarg;
			break;
		case 'r':
			f.connect.runtime_dir = optarg;
			break;
		case 't':
			if (positive(optarg, "--timeout", 3600000, &timeout))
				return FLOWCTL_USAGE;
			f.connect.timeout_ms = (int)timeout;
			break;
		case 'h':
			usage(stdout);
			return FLOWCTL_OK;
		case 'V':
			printf("flowctl (mpflow) %s\n", MPFLOW_VERSION);
			return FLOWCTL_OK;
		default:
			usage(stderr);
			return FLOWCTL_USAGE;
		}
	}
	if (file && optind < argc) {
		fprintf(stderr, "flowctl: a command and --file are exclusive\n");
		return FLOWCTL_USAGE;
	}
	f.cmd = malloc(sizeof(*f.cmd));
	if (f.cmd == NULL) {
		fprintf(stderr, "flowctl: out of memory\n");
		return FLOWCTL_REFUSED;
	}
	if (optind < argc && strcmp(argv[optind], "translate") == 0) {
		status = flowctl_translate(&f, argc - optind, argv + optind);
	} else if (optind < argc) {
		status = one_shot(&f, argc - optind, argv + optind);
	} else if (file == NULL && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
		status = flowctl_interactive(&f);
	} else if (file == NULL || strcmp(file, "-") == 0) {
		status = flowctl_batch(&f, stdin, "stdin");
	} else {
		FILE *in = fopen(file, "r");

		if (in == NULL) {
			fprintf(stderr, "flowctl: %s: %s\n", file, strerror(errno));
			status = FLOWCTL_USAGE;
		} else {
			status = flowctl_batch(&f, in, file);
			fclose(in);
		}
	}
	mpf_disconnect(f.client);
	flowctl_numbers_free(&f);
	mpf_monitor_close(f.monitor);
	free(f.cmd);
	return status;
}
