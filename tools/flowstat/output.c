/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What flowstat prints: the header and table (the screen draws the same
 * lines), one JSON object, and the Prometheus text exposition format
 * (version 0.0.4: HELP and TYPE lines, one series per rule).
 */
#include <bsd/libutil.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/common/clock.h"
#include "tools/common/json.h"
#include "tools/flowstat/flowstat.h"

static const char *const state_names[] = {
	[MPF_INSTANCE_RUNNING] = "running",
	[MPF_INSTANCE_STOPPING] = "stopping",
	[MPF_INSTANCE_GONE] = "gone",
};

void output_human(char *buf, size_t width, double value, const char *suffix)
{
	if (humanize_number(buf, width, (int64_t)(value + 0.5), suffix, HN_AUTOSCALE,
			    HN_DECIMAL | HN_NOSPACE | HN_DIVISOR_1000) < 0)
		snprintf(buf, width, "?");
}

static void owner_text(const struct mpf_flow_info *info, char *buf, size_t size)
{
	if (info->flags & MPF_FLOW_INFO_UNRESTORED)
		snprintf(buf, size, "(not restored)");
	else if (info->flags & MPF_FLOW_INFO_PERSISTENT)
		snprintf(buf, size, "(instance)");
	else
		snprintf(buf, size, "%s/%" PRIu32, info->owner_name, info->owner_pid);
}

static void age_text(uint64_t now_ns, uint64_t then_ns, char *buf, size_t size)
{
	uint64_t s;

	if (then_ns == 0) {
		snprintf(buf, size, "never");
		return;
	}
	s = now_ns > then_ns ? (now_ns - then_ns) / 1000000000ull : 0;
	if (s < 60)
		snprintf(buf, size, "%" PRIu64 "s ago", s);
	else if (s < 3600)
		snprintf(buf, size, "%" PRIu64 "m ago", s / 60);
	else
		snprintf(buf, size, "%" PRIu64 "h ago", s / 3600);
}

void output_header(const struct flowstat *fs, const struct snapshot *s, FILE *out)
{
	const struct mpf_instance_info *in = &s->instance;
	uint64_t now = clock_ns(CLOCK_REALTIME);
	uint64_t up = in->start_ns && now > in->start_ns ? (now - in->start_ns) / 1000000000ull : 0;
	char hits[8], bytes[8], pps[8], bps[8];

	if (!s->attached) {
		fprintf(out, "mpflow: %s\n", fs->status[0] ? fs->status : "no primary");
		return;
	}

	fprintf(out,
		"mpflow %s  backend %s  pid %" PRIu32 "  up %" PRIu64 ":%02" PRIu64 ":%02" PRIu64
		"  %s  clients %" PRIu32 "  rules %" PRIu32 "/%" PRIu32 "\n",
		in->instance, in->backend, in->primary_pid, up / 3600, up / 60 % 60, up % 60,
		fs->status[0] ? fs->status : state_names[in->state], in->clients, in->rules,
		in->max_rules);
	output_human(hits, sizeof(hits) - 1, (double)s->hits, "");
	output_human(bytes, sizeof(bytes) - 1, (double)s->bytes, "B");
	output_human(pps, sizeof(pps) - 1, s->pps, "");
	output_human(bps, sizeof(bps) - 1, s->bps, "");
	fprintf(out, "shown %zu  hits %s  bytes %s  %s pkt/s  %s bit/s  sort %s%s\n", s->count,
		hits, bytes, pps, bps, column_name(fs->sort), fs->reverse ? " (reversed)" : "");
	if (in->unrestored)
		fprintf(out,
			"%" PRIu32 " persistent rule(s) in the journal not restored by this "
			"start (see mpflowd's log)\n",
			in->unrestored);
}

void output_columns(const struct flowstat *fs, FILE *out)
{
	(void)fs;
	fprintf(out, "%-18s %-20s %5s %5s %5s %7s %7s %7s %7s %-9s %s\n", "ID", "OWNER", "PORT",
		"GROUP", "PRIO", "HITS", "BYTES", "PKT/S", "BIT/S", "LAST HIT", "RULE");
}

void output_row(const struct row *r, uint64_t now_ns, FILE *out, unsigned text_width)
{
	const struct mpf_flow_info *info = &r->info;
	const char *rule = strstr(info->text, "pattern ");
	char owner[48], hits[8] = "-", bytes[8] = "-", pps[8] = "-", bps[8] = "-", last[16] = "-";

	owner_text(info, owner, sizeof(owner));
	if (info->flags & MPF_FLOW_INFO_COUNTED) {
		output_human(hits, sizeof(hits) - 1, (double)info->hits, "");
		output_human(bytes, sizeof(bytes) - 1, (double)info->bytes, "B");
		age_text(now_ns, info->last_hit_ns, last, sizeof(last));
	}
	if (r->rated) {
		output_human(pps, sizeof(pps) - 1, r->pps, "");
		output_human(bps, sizeof(bps) - 1, r->bps, "");
	}
	fprintf(out,
		"0x%-16" PRIx64 " %-20.20s %5u %5" PRIu32 " %5" PRIu32
		" %7s %7s %7s %7s %-9s %.*s\n",
		info->handle, owner, info->port, info->group, info->priority, hits, bytes, pps, bps,
		last, (int)text_width, rule ? rule : info->text);
}

void output_table(const struct flowstat *fs, const struct snapshot *s, FILE *out)
{
	size_t count;
	const struct row **view = snapshot_view(fs, s, &count);
	uint64_t now = clock_ns(CLOCK_REALTIME);

	output_header(fs, s, out);
	output_columns(fs, out);
	for (size_t i = 0; view && i < count; i++)
		output_row(view[i], now, out, (unsigned)sizeof(view[i]->info.text));
	free(view);
}

void output_json(const struct flowstat *fs, const struct snapshot *s, FILE *out)
{
	const struct mpf_instance_info *in = &s->instance;
	size_t count;
	const struct row **view = snapshot_view(fs, s, &count);

	fprintf(out, "{\"instance\":");
	if (s->attached) {
		fprintf(out, "{\"name\":");
		json_string(out, in->instance);
		fprintf(out, ",\"backend\":");
		json_string(out, in->backend);
		fprintf(out,
			",\"pid\":%" PRIu32 ",\"state\":\"%s\",\"start_ns\":%" PRIu64
			",\"heartbeat_age_ns\":%" PRIu64 ",\"clients\":%" PRIu32
			",\"rules\":%" PRIu32 ",\"max_rules\":%" PRIu32 ",\"unrestored\":%" PRIu32
			"}",
			in->primary_pid, state_names[in->state], in->start_ns, in->heartbeat_age_ns,
			in->clients, in->rules, in->max_rules, in->unrestored);
	} else {
		fprintf(out, "null,\"error\":");
		json_string(out, fs->status);
	}
	fprintf(out,
		",\"totals\":{\"rules\":%zu,\"hits\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"pps\":%.1f,\"bps\":%.1f},\"rules\":[",
		s->count, s->hits, s->bytes, s->pps, s->bps);
	for (size_t i = 0; view && i < count; i++) {
		const struct mpf_flow_info *info = &view[i]->info;
		bool counted = info->flags & MPF_FLOW_INFO_COUNTED;

		fprintf(out, "%s{\"id\":\"0x%" PRIx64 "\",\"owner\":", i ? "," : "", info->handle);
		json_string(out, info->owner_name);
		fprintf(out,
			",\"pid\":%" PRIu32 ",\"persistent\":%s,\"restored\":%s,\"port\":%u,"
			"\"group\":%" PRIu32 ",\"priority\":%" PRIu32
			",\"ingress\":%s,\"egress\":%s,\"counted\":%s",
			info->owner_pid, info->flags & MPF_FLOW_INFO_PERSISTENT ? "true" : "false",
			info->flags & MPF_FLOW_INFO_UNRESTORED ? "false" : "true", info->port,
			info->group, info->priority,
			info->flags & MPF_FLOW_INFO_INGRESS ? "true" : "false",
			info->flags & MPF_FLOW_INFO_EGRESS ? "true" : "false",
			counted ? "true" : "false");
		if (counted)
			fprintf(out,
				",\"hits\":%" PRIu64 ",\"bytes\":%" PRIu64
				",\"last_hit_ns\":%" PRIu64,
				info->hits, info->bytes, info->last_hit_ns);
		if (view[i]->rated)
			fprintf(out, ",\"pps\":%.1f,\"bps\":%.1f", view[i]->pps, view[i]->bps);
		fprintf(out, ",\"created_ns\":%" PRIu64 ",\"text\":", info->created_ns);
		json_string(out, info->text);
		fputc('}', out);
	}
	fprintf(out, "]}\n");
	free(view);
}

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *out, const char *name, const char *value)
{
	fprintf(out, "%s=\"", name);
	for (; *value; value++) {
		if (*value == '\\' || *value == '"')
			fprintf(out, "\\%c", *value);
		else if (*value == '\n')
			fputs("\\n", out);
		else
			fputc(*value, out);
	}
	fputc('"', out);
}

static void labels(FILE *out, const struct snapshot *s, const struct mpf_flow_info *info)
{
	char text[32];

	fputc('{', out);
	label(out, "mpflow_instance", s->instance.instance);
	snprintf(text, sizeof(text), "0x%" PRIx64, info->handle);
	label(out, ",id", text);
	label(out, ",owner",
	      info->flags & MPF_FLOW_INFO_PERSISTENT ? "instance" : info->owner_name);
	snprintf(text, sizeof(text), "%" PRIu32, info->owner_pid);
	label(out, ",pid", text);
	snprintf(text, sizeof(text), "%u", info->port);
	label(out, ",port", text);
	snprintf(text, sizeof(text), "%" PRIu32, info->group);
	label(out, ",group", text);
	fputc('}', out);
}

enum rule_metric { METRIC_HITS, METRIC_BYTES, METRIC_LAST_HIT, METRIC_PRIORITY, METRICS };

static const struct {
	const char *name, *type, *help;
	bool counted; /* exists only for rules with a COUNT action */
} rule_metrics[METRICS] = {
	[METRIC_HITS] = {"mpflow_rule_hits_total", "counter",
			 "Packets that matched the rule since it was created or reset.", true},
	[METRIC_BYTES] = {"mpflow_rule_bytes_total", "counter",
			  "Bytes of the packets that matched the rule.", true},
	[METRIC_LAST_HIT] = {"mpflow_rule_last_hit_seconds", "gauge",
			     "Unix time of the rule's last hit (0: never).", true},
	[METRIC_PRIORITY] = {"mpflow_rule_priority", "gauge",
			     "The rule's priority within its group.", false},
};

void output_prometheus(const struct flowstat *fs, const struct snapshot *s, FILE *out)
{
	const struct mpf_instance_info *in = &s->instance;

	(void)fs;
	fprintf(out, "# HELP mpflow_up Whether a running primary serves the instance.\n"
		     "# TYPE mpflow_up gauge\n"
		     "mpflow_up{");
	label(out, "mpflow_instance", s->attached ? in->instance : "");
	fprintf(out, "} %d\n", s->attached && in->state == MPF_INSTANCE_RUNNING);
	if (!s->attached)
		return;
	fprintf(out, "# HELP mpflow_clients Sessions connected to the primary.\n"
		     "# TYPE mpflow_clients gauge\nmpflow_clients{");
	label(out, "mpflow_instance", in->instance);
	fprintf(out,
		"} %" PRIu32 "\n# HELP mpflow_rules Live rules of the instance.\n"
		"# TYPE mpflow_rules gauge\nmpflow_rules{",
		in->clients);
	label(out, "mpflow_instance", in->instance);
	fprintf(out,
		"} %" PRIu32 "\n# HELP mpflow_rules_unrestored Persistent rules in the journal "
		"this start could not restore.\n"
		"# TYPE mpflow_rules_unrestored gauge\nmpflow_rules_unrestored{",
		in->rules);
	label(out, "mpflow_instance", in->instance);
	fprintf(out,
		"} %" PRIu32 "\n# HELP mpflow_start_time_seconds Unix time the primary started.\n"
		"# TYPE mpflow_start_time_seconds gauge\nmpflow_start_time_seconds{",
		in->unrestored);
	label(out, "mpflow_instance", in->instance);
	fprintf(out,
		"} %.3f\n# HELP mpflow_heartbeat_age_seconds Since the primary's last tick "
		"(about once a second while it runs).\n"
		"# TYPE mpflow_heartbeat_age_seconds gauge\nmpflow_heartbeat_age_seconds{",
		(double)in->start_ns / 1e9);
	label(out, "mpflow_instance", in->instance);
	fprintf(out, "} %.3f\n", (double)in->heartbeat_age_ns / 1e9);
	for (int m = 0; m < METRICS; m++) {
		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", rule_metrics[m].name,
			rule_metrics[m].help, rule_metrics[m].name, rule_metrics[m].type);
		for (size_t i = 0; i < s->count; i++) {
			const struct mpf_flow_info *info = &s->rows[i].info;

			if (rule_metrics[m].counted && !(info->flags & MPF_FLOW_INFO_COUNTED))
				continue;
			fputs(rule_metrics[m].name, out);
			labels(out, s, info);
			switch ((enum rule_metric)m) {
			case METRIC_HITS:
				fprintf(out, " %" PRIu64 "\n", info->hits);
				break;
			case METRIC_BYTES:
				fprintf(out, " %" PRIu64 "\n", info->bytes);
				break;
			case METRIC_LAST_HIT:
				fprintf(out, " %.3f\n", (double)info->last_hit_ns / 1e9);
				break;
			default:
				fprintf(out, " %" PRIu32 "\n", info->priority);
			}
		}
	}
}
