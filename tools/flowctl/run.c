/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One command against the service, and what flowctl prints about it: the
 * result as text (testpmd's wording where testpmd has one) or as one JSON
 * object, and errors as the command echoed with a caret under the word at
 * fault, the rte_flow error type and the message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* strvisx() only; strnvis() would be NetBSD's (libbsd's next default). */
#define LIBBSD_NETBSD_VIS
#include <bsd/vis.h>

#include "tools/common/json.h"
#include "shm/rule/rule.h"
#include "tools/flowctl/flowctl.h"

/* No primary to talk to, or to read: said on stderr, and on stdout with
 * --json (an error object, as for any other refusal). Returns `err`. */
static int unreachable(const struct flowctl *f, int err, const struct mpf_flow_error *error)
{
	if (f->json) {
		printf("{\"status\":\"error\",\"errno\":\"%s\",\"message\":",
		       strerrorname_np(-err));
		json_string(stdout, error->message);
		printf("}\n");
	}
	fprintf(stderr, "flowctl: %s\n", error->message);
	return err;
}

int flowctl_client(struct flowctl *f, struct mpf_client **client)
{
	struct mpf_flow_error error;
	int err = 0;

	if (f->client == NULL) {
		err = mpf_connect(&f->connect, &f->client, &error);
		if (err) {
			f->client = NULL;
			unreachable(f, err, &error);
		}
	}
	*client = f->client;
	return err;
}

static int monitor(struct flowctl *f, struct mpf_monitor **out)
{
	struct mpf_flow_error error;
	int err = 0;

	if (f->monitor == NULL) {
		err = mpf_monitor_open(&f->connect, &f->monitor, &error);
		if (err) {
			f->monitor = NULL;
			unreachable(f, err, &error);
		}
	}
	*out = f->monitor;
	return err;
}

/* ------------------------------------------------------------------------ */
/* Reports                                                                  */
/* ------------------------------------------------------------------------ */

/* The line with a caret under token `t` (none when t < 0). */
/* Bytes of a line shown on either side of the token a caret points at, and
 * of the token itself: a line may be a mebibyte long. */
#define CARET_CONTEXT 64u

/* `n` bytes of `text` as a terminal should show them: control bytes and
 * backslashes in C style (vis(3)), so that a hostile file's escape
 * sequences are shown, not obeyed; tabs kept. Into out[4 * n + 1]. */
static void shown(char *out, const char *text, size_t n)
{
	strvisx(out, text, n, VIS_CSTYLE | VIS_OCTAL);
}

/* A message that may quote the input (a token, a rule's text), shown. */
static const char *shown_message(const char *message, char out[4 * MPF_FLOW_ERROR_MESSAGE_MAX + 1])
{
	shown(out, message, strnlen(message, MPF_FLOW_ERROR_MESSAGE_MAX - 1));
	return out;
}

/* The line, or the part of it around token `t` (-1: none; past the last:
 * the line's end), and under it a caret at the token. */
static void caret(const char *line, const struct grammar_command *cmd, int t)
{
	static char before[4 * CARET_CONTEXT + 1], at[4 * 2 * CARET_CONTEXT + 1];
	static char token[4 * CARET_CONTEXT + 1], marks[2 * 4 * CARET_CONTEXT + 8];
	size_t length = strcspn(line, "\r\n"), column = 0, width = 1, from, to, m = 0;

	if (t >= 0 && (unsigned)t < cmd->words.count) {
		column = cmd->words.tokens[t].column;
		width = cmd->words.tokens[t].length;
	} else if (t >= 0) {
		column = length;
	}
	column = column < length ? column : length;
	width = width < CARET_CONTEXT ? width : CARET_CONTEXT;
	from = column > CARET_CONTEXT ? column - CARET_CONTEXT : 0;
	to = length - column > width + CARET_CONTEXT ? column + width + CARET_CONTEXT : length;
	shown(before, line + from, column - from);
	shown(at, line + column, to - column);
	fprintf(stderr, "  %s%s%s%s\n", from ? "..." : "", before, at, to < length ? "..." : "");
	if (t < 0)
		return;
	for (const char *c = before; *c; c++)
		marks[m++] = *c == '\t' ? '\t' : ' ';
	/* As wide as it is shown; past the line's end, one caret. */
	shown(token, line + column,
	      column < length ? (width < length - column ? width : length - column) : 0);
	marks[m++] = '^';
	for (size_t i = 1; i < strlen(token); i++)
		marks[m++] = '~';
	marks[m] = '\0';
	fprintf(stderr, "  %s%s\n", from ? "   " : "", marks);
}

static void json_head(unsigned line_number, const struct grammar_command *cmd)
{
	printf("{");
	if (line_number)
		printf("\"line\":%u,", line_number);
	printf("\"command\":\"%s\"", grammar_verb_name(cmd->verb));
}

static void json_column(const struct grammar_command *cmd, int t)
{
	if (t >= 0 && (unsigned)t < cmd->words.count)
		printf(",\"token\":%d,\"column\":%u", t, cmd->words.tokens[t].column);
}

void flowctl_report_syntax(const struct flowctl *f, const char *line, unsigned line_number,
			   const struct grammar_command *cmd, const struct grammar_error *error)
{
	char said[4 * MPF_FLOW_ERROR_MESSAGE_MAX + 1];

	if (f->json) {
		json_head(line_number, cmd);
		printf(",\"status\":\"usage\",\"message\":");
		json_string(stdout, error->message);
		json_column(cmd, error->token);
		printf("}\n");
	}
	if (line_number)
		fprintf(stderr, "flowctl: line %u: %s\n", line_number,
			shown_message(error->message, said));
	else
		fprintf(stderr, "flowctl: %s\n", shown_message(error->message, said));
	caret(line, cmd, error->token);
}

void flowctl_report_refusal(const struct flowctl *f, const char *line, unsigned line_number,
			    const struct grammar_command *cmd, int t, int err,
			    const struct mpf_flow_error *error)
{
	const char *type = mpf_flow_error_type_name(error->type);
	char said[4 * MPF_FLOW_ERROR_MESSAGE_MAX + 1];

	if (f->json) {
		json_head(line_number, cmd);
		printf(",\"status\":\"error\",\"errno\":\"%s\",\"error_type\":\"%s\",\"cause\":%d,"
		       "\"message\":",
		       strerrorname_np(-err) ? strerrorname_np(-err) : "?", type ? type : "?",
		       (int)error->cause);
		json_string(stdout, error->message);
		json_column(cmd, t);
		printf("}\n");
	}
	fprintf(stderr, "flowctl: ");
	if (line_number)
		fprintf(stderr, "line %u: ", line_number);
	fprintf(stderr, "%s refused (%s, %s", grammar_verb_name(cmd->verb),
		strerrorname_np(-err) ? strerrorname_np(-err) : "?", type ? type : "?");
	if (error->cause >= 0)
		fprintf(stderr, " %d", (int)error->cause);
	fprintf(stderr, "): %s\n", shown_message(error->message, said));
	caret(line, cmd, t);
}

void flowctl_report_rule(const struct flowctl *f, unsigned line_number, enum grammar_verb verb,
			 uint64_t handle, int64_t number, bool quiet)
{
	const char *done = verb == GRAMMAR_CREATE ? "created" : "destroyed";

	if (f->json) {
		printf("{");
		if (line_number)
			printf("\"line\":%u,", line_number);
		printf("\"command\":\"%s\",\"status\":\"ok\"", grammar_verb_name(verb));
		if (number >= 0)
			printf(",\"id\":%" PRId64, number);
		if (handle)
			printf(",\"rule\":\"0x%" PRIx64 "\"", handle);
		printf("}\n");
	} else if (quiet) {
		return;
	} else if (number >= 0) {
		printf("Flow rule #%" PRId64 " %s\n", number, done); /* as testpmd says it */
	} else {
		printf("Flow rule 0x%" PRIx64 " %s\n", handle, done);
	}
}

int64_t flowctl_number(struct flowctl *f, struct mpf_client *c, uint64_t handle)
{
	struct mpf_flow_info info;

	if (mpf_flow_get(c, handle, &info) != 0)
		return -1;
	flowctl_number_learn(f, info.port, info.number, handle);
	return info.number;
}

int flowctl_resolve_ids(struct flowctl *f, struct mpf_client *c, const struct grammar_command *cmd,
			uint64_t handles[], unsigned *bad, struct mpf_flow_error *error)
{
	for (unsigned i = 0; i < cmd->handle_count; i++) {
		int err = 0;

		handles[i] = cmd->handles[i];
		if (flowctl_id_is_number(cmd->handles[i]))
			err = flowctl_number_handle(f, c, cmd->port, (uint32_t)cmd->handles[i],
						    &handles[i]);
		if (err == -ENOENT) {
			*bad = i;
			return flow_error_set(error, ENOENT, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
					      "no rule %" PRIu64 " on port %u", cmd->handles[i],
					      cmd->port);
		}
		if (err) {
			*bad = i;
			return flow_error_set(error, -err, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
					      "reading the rule directory: %s", strerror(-err));
		}
	}
	return 0;
}

static void json_ok(unsigned line_number, const struct grammar_command *cmd)
{
	json_head(line_number, cmd);
	printf(",\"status\":\"ok\"");
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */
/* ------------------------------------------------------------------------ */

/* A rule of the port to list: its number and where the directory has it. */
struct listed {
	uint64_t handle;
	uint32_t number;
};

static int by_number(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;

	return x->number < y->number ? -1 : x->number > y->number;
}

static void list_one(const struct flowctl *f, const struct mpf_flow_info *info, bool first)
{
	const char *rule = strstr(info->text, "pattern ");
	char owner[48];

	if (info->flags & MPF_FLOW_INFO_UNRESTORED)
		snprintf(owner, sizeof(owner), "(not restored)");
	else if (info->flags & MPF_FLOW_INFO_PERSISTENT)
		snprintf(owner, sizeof(owner), "(instance)");
	else
		snprintf(owner, sizeof(owner), "%s/%" PRIu32, info->owner_name, info->owner_pid);
	if (f->json) {
		printf("%s{\"id\":%" PRIu32 ",\"rule\":\"0x%" PRIx64 "\",\"group\":%" PRIu32
		       ",\"priority\":%" PRIu32 ",\"ingress\":%s,\"egress\":%s,"
		       "\"persistent\":%s,\"restored\":%s,\"owner_pid\":%" PRIu32 ",\"owner\":",
		       first ? "" : ",", info->number, info->handle, info->group, info->priority,
		       info->flags & MPF_FLOW_INFO_INGRESS ? "true" : "false",
		       info->flags & MPF_FLOW_INFO_EGRESS ? "true" : "false",
		       info->flags & MPF_FLOW_INFO_PERSISTENT ? "true" : "false",
		       info->flags & MPF_FLOW_INFO_UNRESTORED ? "false" : "true", info->owner_pid);
		json_string(stdout, info->owner_name);
		printf(",\"text\":");
		json_string(stdout, info->text);
		printf(",\"text_truncated\":%s}",
		       info->flags & MPF_FLOW_INFO_TEXT_TRUNCATED ? "true" : "false");
	} else {
		printf("%-7" PRIu32 " %-5" PRIu32 " %-5" PRIu32 " %c%c   0x%-16" PRIx64
		       " %-20s %s\n",
		       info->number, info->group, info->priority,
		       info->flags & MPF_FLOW_INFO_INGRESS ? 'i' : '-',
		       info->flags & MPF_FLOW_INFO_EGRESS ? 'e' : '-', info->handle, owner,
		       rule ? rule : info->text);
	}
}

/*
 * list: the port's rules by testpmd's number, read from the directory
 * through a monitor (no request to the primary). One walk collects the
 * numbers without printing any rule's text, then each rule is read in
 * order, text and all; a rule gone or replaced in between is left out.
 */
static int list(struct flowctl *f, const struct grammar_command *cmd, unsigned line_number)
{
	struct mpf_flow_info info;
	struct listed *rows = NULL;
	size_t count = 0, cap = 0;
	struct mpf_monitor *m;
	uint32_t cursor = 0;
	bool first = true;
	int err = monitor(f, &m), n;

	if (err)
		return err;
	while ((n = mpf_monitor_scan(m, &cursor, &info)) == 1) {
		bool wanted = cmd->group_count == 0;

		for (unsigned g = 0; g < cmd->group_count; g++)
			wanted = wanted || cmd->groups[g] == info.group;
		if (info.port != cmd->port || !wanted)
			continue;
		if (count == cap) {
			struct listed *grown =
				realloc(rows, (cap = cap ? 2 * cap : 256) * sizeof(*rows));

			if (grown == NULL) {
				free(rows);
				fprintf(stderr, "flowctl: list: out of memory\n");
				return -ENOMEM;
			}
			rows = grown;
		}
		rows[count++] = (struct listed){.number = info.number, .handle = info.handle};
	}
	if (n < 0) {
		free(rows);
		fprintf(stderr, "flowctl: list: %s\n", strerror(-n));
		return n;
	}
	if (count)
		qsort(rows, count, sizeof(*rows), by_number);
	if (f->json)
		json_ok(line_number, cmd), printf(",\"rules\":[");
	else
		printf("%-7s %-5s %-5s %-4s %-18s %-20s %s\n", "ID", "Group", "Prio", "Attr",
		       "Handle", "Owner", "Rule");
	for (size_t i = 0; n >= 0 && i < count; i++) {
		n = mpf_monitor_get(m, rows[i].handle, &info);
		if (n == -ENOENT || (n == 0 && info.number != rows[i].number)) {
			n = 0;
			continue;
		}
		if (n < 0)
			break;
		list_one(f, &info, first);
		first = false;
	}
	free(rows);
	if (f->json)
		printf("]}\n");
	return n < 0 ? n : 0;
}

static int query(struct mpf_client *c, struct flowctl *f, const struct grammar_command *cmd,
		 uint64_t handle, unsigned line_number, struct mpf_flow_error *error)
{
	struct mpf_flow_query_count count = {.reset = cmd->reset, .fresh = cmd->fresh};
	int err = mpf_flow_query(c, cmd->port, handle, MPF_FLOW_ACTION_TYPE_COUNT, &count, error);

	if (err)
		return err;
	if (f->json) {
		json_ok(line_number, cmd);
		printf(",\"rule\":\"0x%" PRIx64 "\",\"hits\":%" PRIu64 ",\"bytes\":%" PRIu64
		       ",\"reset\":%s}\n",
		       handle, (uint64_t)count.hits, (uint64_t)count.bytes,
		       cmd->reset ? "true" : "false");
	} else {
		printf("COUNT:\n hits_set: %u\n bytes_set: %u\n hits: %" PRIu64 "\n bytes: %" PRIu64
		       "\n",
		       (unsigned)count.hits_set, (unsigned)count.bytes_set, (uint64_t)count.hits,
		       (uint64_t)count.bytes);
	}
	return 0;
}

static int meter_query(struct mpf_client *c, struct flowctl *f, const struct grammar_command *cmd,
		       unsigned line_number, struct mpf_flow_error *error)
{
	static const char *const colors[MPF_COLORS] = {"green", "yellow", "red"};
	struct mpf_meter_stats stats;
	int err = mpf_meter_query(c, cmd->port, cmd->meter_id, cmd->reset, &stats, error);

	if (err)
		return err;
	if (f->json)
		json_ok(line_number, cmd), printf(",\"meter\":%" PRIu32, cmd->meter_id);
	else
		printf("Meter %" PRIu32 " on port %u:\n", cmd->meter_id, cmd->port);
	for (int k = 0; k < MPF_COLORS; k++) {
		if (f->json)
			printf(",\"%s_packets\":%" PRIu64 ",\"%s_bytes\":%" PRIu64, colors[k],
			       stats.packets[k], colors[k], stats.bytes[k]);
		else
			printf(" %-6s packets: %" PRIu64 " bytes: %" PRIu64 "\n", colors[k],
			       stats.packets[k], stats.bytes[k]);
	}
	if (f->json)
		printf("}\n");
	return 0;
}

/* One port's statistics, testpmd's `show port stats` block with mpflow's
 * fates and the queues that saw traffic; or JSON. */
static int port_stats_show(struct flowctl *f, struct mpf_monitor *m,
			   const struct mpf_instance_info *instance, uint16_t port, bool first,
			   struct mpf_flow_error *error)
{
	struct mpf_port_stats s;
	int err = mpf_monitor_port_stats(m, port, &s);

	if (err) {
		snprintf(error->message, sizeof(error->message), "%s",
			 err == -ENOTSUP  ? "the backend keeps no port statistics"
			 : err == -EINVAL ? "no such port"
					  : "the port's statistics are being reset: try again");
		return err;
	}
	if (f->json) {
		printf("%s{\"port\":%u,\"rx_packets\":%" PRIu64 ",\"rx_bytes\":%" PRIu64
		       ",\"rx_missed\":%" PRIu64 ",\"rx_dropped\":%" PRIu64
		       ",\"rx_default\":%" PRIu64 ",\"rx_undelivered\":%" PRIu64
		       ",\"tx_packets\":%" PRIu64 ",\"tx_bytes\":%" PRIu64
		       ",\"tx_dropped\":%" PRIu64 ",\"tx_errors\":%" PRIu64
		       ",\"queue_full\":%" PRIu64 ",\"queue_unattached\":%" PRIu64 ",\"queues\":[",
		       first ? "" : ",", port, s.rx_packets, s.rx_bytes, s.rx_missed, s.rx_dropped,
		       s.rx_default, s.rx_undelivered, s.tx_packets, s.tx_bytes, s.tx_dropped,
		       s.tx_errors, s.queue_full, s.queue_unattached);
	} else {
		printf("\n  ######################## NIC statistics for port %-2u "
		       "########################\n",
		       port);
		printf("  RX-packets: %-10" PRIu64 " RX-missed: %-10" PRIu64 " RX-bytes:  %" PRIu64
		       "\n",
		       s.rx_packets, s.rx_missed, s.rx_bytes);
		printf("  RX-dropped: %-10" PRIu64 " RX-default: %-9" PRIu64
		       " RX-undelivered: %" PRIu64 "\n",
		       s.rx_dropped, s.rx_default, s.rx_undelivered);
		printf("  RX-queue-full: %-7" PRIu64 " RX-unattached: %" PRIu64 "\n", s.queue_full,
		       s.queue_unattached);
		printf("  TX-packets: %-10" PRIu64 " TX-errors: %-10" PRIu64 " TX-bytes:  %" PRIu64
		       "\n",
		       s.tx_packets, s.tx_errors, s.tx_bytes);
		printf("  TX-dropped: %" PRIu64 "\n", s.tx_dropped);
	}
	/* Every PF queue; a VF's queue once it saw something. */
	bool first_queue = true;

	for (uint32_t i = 0; i < (uint32_t)instance->queues + instance->vfs; i++) {
		uint16_t queue =
			(uint16_t)(i < instance->queues ? i : MPF_RXQ_VF(i - instance->queues));
		struct mpf_queue_stats q;

		if (mpf_monitor_queue_stats(m, port, queue, &q) != 0 ||
		    (i >= instance->queues && q.packets + q.full + q.unattached == 0))
			continue;
		if (f->json) {
			printf("%s{\"queue\":%u,\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
			       ",\"full\":%" PRIu64 ",\"unattached\":%" PRIu64 "}",
			       first_queue ? "" : ",", queue, q.packets, q.bytes, q.full,
			       q.unattached);
		} else {
			char name[16];

			if (first_queue)
				printf("  %-8s %-14s %-16s %-10s %s\n", "Queue", "RX-packets",
				       "RX-bytes", "Full", "Unattached");
			if (i < instance->queues)
				snprintf(name, sizeof(name), "%u", queue);
			else
				snprintf(name, sizeof(name), "vf %u", i - instance->queues);
			printf("  %-8s %-14" PRIu64 " %-16" PRIu64 " %-10" PRIu64 " %" PRIu64 "\n",
			       name, q.packets, q.bytes, q.full, q.unattached);
		}
		first_queue = false;
	}
	if (f->json)
		printf("]}");
	else
		printf("  ########################################################################"
		       "####\n");
	return 0;
}

/* port stats PORT|all [reset]: read from shared memory through a monitor;
 * a reset goes through the primary. */
static int port_stats(struct flowctl *f, const struct grammar_command *cmd, const char *line,
		      unsigned line_number)
{
	struct mpf_flow_error error = {.cause = -1};
	struct mpf_instance_info instance;
	struct mpf_monitor *m;
	struct mpf_client *c;
	unsigned from = cmd->port, to = cmd->port + 1u;
	int err = monitor(f, &m);

	if (!err)
		err = mpf_monitor_instance(m, &instance);
	if (err)
		return err;
	if (cmd->all_ports)
		from = 0, to = instance.ports;
	/* Refusals before any output, so that JSON stays one object. */
	if (!instance.port_stats || from >= instance.ports) {
		err = !instance.port_stats ? -ENOTSUP : -EINVAL;
		if (err == -ENOTSUP)
			snprintf(error.message, sizeof(error.message),
				 "the %s backend keeps no port statistics", instance.backend);
		else
			snprintf(error.message, sizeof(error.message),
				 "port %u does not exist (the device has %u)", cmd->port,
				 instance.ports);
	} else if (cmd->reset) {
		err = flowctl_client(f, &c);
		for (unsigned p = from; !err && p < to; p++)
			err = mpf_port_stats_reset(c, (uint16_t)p, &error);
		if (!err && f->json)
			json_ok(line_number, cmd), printf("}\n");
		for (unsigned p = from; !err && !f->json && p < to; p++)
			printf("\n  NIC statistics for port %u cleared\n", p);
	} else {
		if (f->json)
			json_ok(line_number, cmd), printf(",\"ports\":[");
		for (unsigned p = from; !err && p < to; p++)
			err = port_stats_show(f, m, &instance, (uint16_t)p, p == from, &error);
		if (f->json && !err)
			printf("]}\n");
	}
	if (err)
		flowctl_report_refusal(f, line, line_number, cmd, -1, err, &error);
	return err;
}

/* The commands that are one call and a line of output. */
static int simple(struct mpf_client *c, struct flowctl *f, const struct grammar_command *cmd,
		  unsigned line_number, struct mpf_flow_error *error)
{
	char text[128];
	int err;

	switch (cmd->verb) {
	case GRAMMAR_VALIDATE:
		err = mpf_flow_validate(c, cmd->port, &cmd->rule.attr, cmd->rule.pattern,
					cmd->rule.actions, error);
		snprintf(text, sizeof(text), "Flow rule validated");
		break;
	case GRAMMAR_FLUSH:
		err = mpf_flow_flush_persistent(c, cmd->port, error);
		if (err >= 0 && f->json) {
			json_ok(line_number, cmd);
			printf(",\"destroyed\":%d}\n", err);
			return 0;
		}
		snprintf(text, sizeof(text), "Flushed %d rules on port %u", err, cmd->port);
		break;
	case GRAMMAR_ISOLATE:
		err = mpf_flow_isolate(c, cmd->port, cmd->isolate, error);
		snprintf(text, sizeof(text),
			 "Ingress traffic on port %u is %s restricted to the "
			 "defined flow rules",
			 cmd->port, cmd->isolate ? "now" : "no longer");
		break;
	case GRAMMAR_METER_CREATE:
		err = mpf_meter_create(c, cmd->port, cmd->meter_id, &cmd->meter, error);
		snprintf(text, sizeof(text), "Meter %" PRIu32 " created on port %u", cmd->meter_id,
			 cmd->port);
		break;
	case GRAMMAR_METER_DESTROY:
		err = mpf_meter_destroy(c, cmd->port, cmd->meter_id, error);
		snprintf(text, sizeof(text), "Meter %" PRIu32 " destroyed on port %u",
			 cmd->meter_id, cmd->port);
		break;
	case GRAMMAR_AUDIT:
		err = mpf_audit(c, error);
		if (err >= 0 && f->json) {
			json_ok(line_number, cmd);
			printf(",\"consistent\":true,\"rules\":%d}\n", err);
			return 0;
		}
		snprintf(text, sizeof(text), "Consistent: %d rules checked", err);
		break;
	default:
		return -EINVAL;
	}
	if (err < 0)
		return err;
	if (f->json)
		json_ok(line_number, cmd), printf("}\n");
	else
		printf("%s\n", text);
	return 0;
}

int flowctl_run(struct flowctl *f, const struct grammar_command *cmd, const char *line,
		unsigned line_number)
{
	struct mpf_flow_error error = {.cause = -1};
	struct mpf_client *c;
	uint64_t handle;
	int err;

	if (cmd->verb == GRAMMAR_NONE)
		return 0;
	if (cmd->verb == GRAMMAR_LIST)
		return list(f, cmd, line_number);
	if (cmd->verb == GRAMMAR_PORT_STATS)
		return port_stats(f, cmd, line, line_number);
	err = flowctl_client(f, &c);
	if (err)
		return err;
	switch (cmd->verb) {
	case GRAMMAR_CREATE:
		/* Rules flowctl creates belong to the instance: they outlive
		 * flowctl, as testpmd's outlive the command that made them. */
		err = mpf_flow_create(c, cmd->port, &cmd->rule.attr, cmd->rule.pattern,
				      cmd->rule.actions, MPF_FLOW_PERSISTENT, &handle, &error);
		if (!err)
			flowctl_report_rule(f, line_number, GRAMMAR_CREATE, handle,
					    flowctl_number(f, c, handle), false);
		break;
	case GRAMMAR_DESTROY:
	case GRAMMAR_QUERY: {
		uint64_t handles[GRAMMAR_DESTROY_MAX];
		unsigned bad = 0;

		err = flowctl_resolve_ids(f, c, cmd, handles, &bad, &error);
		if (err) {
			flowctl_report_refusal(f, line, line_number, cmd, cmd->handle_tokens[bad],
					       err, &error);
			return err;
		}
		if (cmd->verb == GRAMMAR_QUERY) {
			err = query(c, f, cmd, handles[0], line_number, &error);
			break;
		}
		for (unsigned i = 0; i < cmd->handle_count; i++) {
			int64_t number = flowctl_number(f, c, handles[i]);

			err = mpf_flow_destroy(c, cmd->port, handles[i], &error);
			if (err) {
				flowctl_report_refusal(f, line, line_number, cmd,
						       cmd->handle_tokens[i], err, &error);
				return err;
			}
			flowctl_report_rule(f, line_number, GRAMMAR_DESTROY, handles[i], number,
					    false);
		}
		return 0;
	}
	case GRAMMAR_METER_QUERY:
		err = meter_query(c, f, cmd, line_number, &error);
		break;
	default:
		err = simple(c, f, cmd, line_number, &error);
		break;
	}
	if (err)
		flowctl_report_refusal(f, line, line_number, cmd, grammar_error_token(cmd, &error),
				       err, &error);
	return err;
}
