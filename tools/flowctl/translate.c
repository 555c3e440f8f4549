/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowctl translate: what a rule becomes on an RDMA NIC, without one and
 * without a primary. The rule goes through the model's validation and the
 * verbs backend's own translation (hwdrv/verbs/translate.c) for a device
 * with every capability (verbs_caps_full(): 16 priority levels, per-rule
 * masks) unless the options say otherwise; each device flow is printed
 * decoded field by field and as the bytes ibv_create_flow() would get.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/flowctl/flowctl.h"

#ifdef MPFLOW_HAVE_VERBS
#include "hwdrv/verbs/verbs.h"
#include "shm/rule/rule.h"

static int number(const char *text, const char *option, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (*text == '\0' || *end != '\0' || errno || v < min || v > max) {
		fprintf(stderr, "flowctl translate: %s: '%s' is not a number from %u to %u\n",
			option, text, min, max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int usage_error(const char *what)
{
	fprintf(stderr, "flowctl translate: %s\n", what);
	return FLOWCTL_USAGE;
}

int flowctl_translate(struct flowctl *f, int argc, char **argv)
{
	static const struct option options[] = {
		{"backend", required_argument, NULL, 'b'},
		{"queues", required_argument, NULL, 'q'},
		{"groups", required_argument, NULL, 'g'},
		{"levels", required_argument, NULL, 'l'},
		{NULL, 0, NULL, 0},
	};
	unsigned queues = 4, groups = 1, levels = 16;
	struct verbs_translation *t;
	struct mpf_flow_error error = {.cause = -1};
	struct grammar_error syntax;
	struct rule_shape shape;
	struct hwdrv_rule hw;
	struct verbs_caps caps;
	char *line;
	int opt, err;

	optind = 1; /* argv[0] is "translate" */
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (opt) {
		case 'b':
			if (strcmp(optarg, "verbs") != 0)
				return usage_error(
					"--backend: only verbs has a translation to show");
			break;
		case 'q':
			if (number(optarg, "--queues", 1, 65535, &queues))
				return FLOWCTL_USAGE;
			break;
		case 'g':
			if (number(optarg, "--groups", 1, 1024, &groups))
				return FLOWCTL_USAGE;
			break;
		case 'l':
			if (number(optarg, "--levels", 1, 65535, &levels))
				return FLOWCTL_USAGE;
			break;
		default:
			return FLOWCTL_USAGE;
		}
	}
	if (optind == argc)
		return usage_error("a create or validate command to translate is missing");
	line = flowctl_join(argc - optind, argv + optind);
	if (line == NULL)
		return usage_error("out of memory");
	if (grammar_parse(line, f->cmd, &syntax) != 0) {
		flowctl_report_syntax(f, line, 0, f->cmd, &syntax);
		free(line);
		return FLOWCTL_USAGE;
	}
	if (f->cmd->verb != GRAMMAR_CREATE && f->cmd->verb != GRAMMAR_VALIDATE) {
		free(line);
		return usage_error("only a create or validate command has a rule to translate");
	}
	verbs_caps_full(&caps, (uint16_t)queues, (uint16_t)groups, 1);
	caps.levels = (uint16_t)levels;
	hw = (struct hwdrv_rule){.port = f->cmd->port,
				 .attr = &f->cmd->rule.attr,
				 .pattern = f->cmd->rule.pattern,
				 .actions = f->cmd->rule.actions,
				 .shape = &shape};
	t = malloc(sizeof(*t));
	err = t ? rule_validate(hw.attr, hw.pattern, hw.actions, &shape, &error) : -ENOMEM;
	if (!err)
		err = verbs_translate(&caps, &hw, t, &error);
	if (err) {
		flowctl_report_refusal(f, line, 0, f->cmd, grammar_error_token(f->cmd, &error), err,
				       &error);
		free(t);
		free(line);
		return FLOWCTL_REFUSED;
	}
	printf("%u device flow%s", t->n_flows, t->n_flows == 1 ? "" : "s");
	if (t->emulation)
		printf(" (emulated: %s)", t->emulation);
	printf(", for a device with %u priority levels, %u group(s), %u queues\n", caps.levels,
	       caps.groups, caps.queues);
	for (unsigned i = 0; i < t->n_flows; i++) {
		printf("flow %u of %u%s%s\n", i + 1, t->n_flows, t->flows[i].variant[0] ? ": " : "",
		       t->flows[i].variant);
		verbs_describe(stdout, &t->flows[i]);
	}
	free(t);
	free(line);
	return FLOWCTL_OK;
}
#else
int flowctl_translate(struct flowctl *f, int argc, char **argv)
{
	(void)f, (void)argc, (void)argv;
	fprintf(stderr, "flowctl translate: this flowctl was built without libibverbs\n");
	return FLOWCTL_USAGE;
}
#endif
