/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What flowstat prints: the header and table (the screen draws the same
 * lines), one JSON object, and the Prometheus text exposition format
 * (version 0.0.4: HELP and TYPE lines, one series per rule).
 */
#include <bsd/libutil.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shm/clock.h"
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

static void owner_text(const struct row_info *info, char *buf, size_t size)
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
	fprintf(out, "shown %zu  hits %s  bytes %s  %s pkt/s  %s bit/s  sort %s%s  counters ",
		s->count, hits, bytes, pps, bps, column_name(fs->sort),
		fs->reverse ? " (reversed)" : "");
	if (in->counters_age_ns)
		fprintf(out, "read %" PRIu64 " ms ago\n", in->counters_age_ns / 1000000u);
	else
		fprintf(out, "live\n");
	if (in->unrestored)
		fprintf(out,
			"%" PRIu32 " persistent rule(s) in the journal not restored by this "
			"start (see mpflowd's log)\n",
			in->unrestored);
	if (in->journal_error)
		fprintf(out,
			"the journal refuses persistent requests (%s) until it is rewritten "
			"(see mpflowd's log)\n",
			strerror(-in->journal_error));
}

static void port_line(const struct snapshot *s, unsigned p, FILE *out)
{
	const struct port_row *r = &s->ports[p];
	const struct mpf_port_stats *st = &r->stats;
	char rx[8], rx_pps[8] = "-", dropped[8], dflt[8], undelivered[8], missed[8], full[8],
		    unattached[8], tx[8], tx_pps[8] = "-";

	output_human(rx, sizeof(rx) - 1, (double)st->rx_packets, "");
	output_human(dropped, sizeof(dropped) - 1, (double)st->rx_dropped, "");
	output_human(dflt, sizeof(dflt) - 1, (double)st->rx_default, "");
	output_human(undelivered, sizeof(undelivered) - 1, (double)st->rx_undelivered, "");
	output_human(missed, sizeof(missed) - 1, (double)st->rx_missed, "");
	output_human(full, sizeof(full) - 1, (double)st->queue_full, "");
	output_human(unattached, sizeof(unattached) - 1, (double)st->queue_unattached, "");
	output_human(tx, sizeof(tx) - 1, (double)st->tx_packets, "");
	if (r->rated) {
		output_human(rx_pps, sizeof(rx_pps) - 1, r->rx_pps, "");
		output_human(tx_pps, sizeof(tx_pps) - 1, r->tx_pps, "");
	}
	fprintf(out,
		"port %-3u rx %s (%s/s)  dropped %s  default %s  undelivered %s  missed %s  "
		"queue full %s  unattached %s  tx %s (%s/s)\n",
		p, rx, rx_pps, dropped, dflt, undelivered, missed, full, unattached, tx, tx_pps);
}

void output_port_lines(const struct snapshot *s, FILE *out)
{
	for (unsigned p = 0; p < s->n_ports; p++)
		port_line(s, p, out);
}

/* A VF's queue is shown once it saw something; PF queues always. */
static bool queue_shown(const struct snapshot *s, unsigned i, const struct mpf_queue_stats *q)
{
	return i < s->instance.queues || q->packets + q->full + q->unattached > 0;
}

void output_ports(const struct snapshot *s, FILE *out, unsigned max_lines)
{
	unsigned lines = 0;

	if (s->attached && !s->instance.port_stats)
		fprintf(out, "the %s backend keeps no port statistics\n", s->instance.backend);
	for (unsigned p = 0; p < s->n_ports && lines < max_lines; p++) {
		port_line(s, p, out);
		fprintf(out, "  %-8s %10s %10s %10s %10s\n", "QUEUE", "PACKETS", "BYTES", "FULL",
			"UNATTACHED");
		lines += 2;
		for (unsigned i = 0; i < s->queues_per_port && lines < max_lines; i++) {
			const struct mpf_queue_stats *q = &s->queues[p * s->queues_per_port + i];
			char name[16], packets[8], bytes[8], full[8], unattached[8];

			if (!queue_shown(s, i, q))
				continue;
			if (i < s->instance.queues)
				snprintf(name, sizeof(name), "%u", i);
			else
				snprintf(name, sizeof(name), "vf %u", i - s->instance.queues);
			output_human(packets, sizeof(packets) - 1, (double)q->packets, "");
			output_human(bytes, sizeof(bytes) - 1, (double)q->bytes, "B");
			output_human(full, sizeof(full) - 1, (double)q->full, "");
			output_human(unattached, sizeof(unattached) - 1, (double)q->unattached, "");
			fprintf(out, "  %-8s %10s %10s %10s %10s\n", name, packets, bytes, full,
				unattached);
			lines++;
		}
	}
}

void output_columns(const struct flowstat *fs, FILE *out)
{
	(void)fs;
	fprintf(out, "%-18s %-20s %5s %5s %5s %7s %7s %7s %7s %-9s %s\n", "ID", "OWNER", "PORT",
		"GROUP", "PRIO", "HITS", "BYTES", "PKT/S", "BIT/S", "LAST HIT", "RULE");
}

/* The rule's text from its direction on: the group and priority have
 * columns of their own, the direction does not. */
static const char *rule_column(const char *text)
{
	static const char *const directions[] = {"ingress ", "egress "};
	const char *rule = strstr(text, "pattern ");

	if (rule == NULL)
		return text;
	for (int i = 1; i >= 0; i--) {
		size_t n = strlen(directions[i]);

		if ((size_t)(rule - text) >= n && memcmp(rule - n, directions[i], n) == 0)
			rule -= n;
	}
	return rule;
}

void output_row(const struct shown *v, uint64_t now_ns, FILE *out, unsigned text_width)
{
	const struct row *r = v->row;
	const struct row_info *info = &r->info;
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
		last, (int)text_width,
		v->gone ? "(destroyed since the snapshot)" : rule_column(v->text));
}

void output_table(const struct flowstat *fs, const struct snapshot *s, FILE *out)
{
	size_t count;
	struct shown *view = snapshot_view(fs, s, fs->top, true, &count);
	uint64_t now = clock_ns(CLOCK_REALTIME);

	output_header(fs, s, out);
	if (fs->ports_view) {
		output_ports(s, out, UINT32_MAX);
		free(view);
		return;
	}
	output_port_lines(s, out);
	output_columns(fs, out);
	for (size_t i = 0; view && i < count; i++)
		output_row(&view[i], now, out, (unsigned)sizeof(view[i].text));
	if (count < s->count)
		fprintf(out, "... %zu more (--all, or --top N)\n", s->count - count);
	free(view);
}

void output_json(const struct flowstat *fs, const struct snapshot *s, FILE *out)
{
	const struct mpf_instance_info *in = &s->instance;
	size_t count;
	struct shown *view = snapshot_view(fs, s, fs->top, true, &count);

	fprintf(out, "{\"instance\":");
	if (s->attached) {
		fprintf(out, "{\"name\":");
		json_string(out, in->instance);
		fprintf(out, ",\"backend\":");
		json_string(out, in->backend);
		fprintf(out,
			",\"pid\":%" PRIu32 ",\"state\":\"%s\",\"start_ns\":%" PRIu64
			",\"heartbeat_age_ns\":%" PRIu64 ",\"counters_age_ns\":%" PRIu64
			",\"clients\":%" PRIu32 ",\"rules\":%" PRIu32 ",\"max_rules\":%" PRIu32
			",\"unrestored\":%" PRIu32 ",\"journal_error\":",
			in->primary_pid, state_names[in->state], in->start_ns, in->heartbeat_age_ns,
			in->counters_age_ns, in->clients, in->rules, in->max_rules, in->unrestored);
		if (in->journal_error)
			json_string(out, strerror(-in->journal_error));
		else
			fprintf(out, "null");
		fprintf(out, "}");
	} else {
		fprintf(out, "null,\"error\":");
		json_string(out, fs->status);
	}
	fprintf(out,
		",\"totals\":{\"rules\":%zu,\"shown\":%zu,\"hits\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"pps\":%.1f,\"bps\":%.1f},\"ports\":[",
		s->count, count, s->hits, s->bytes, s->pps, s->bps);
	for (unsigned p = 0; p < s->n_ports; p++) {
		const struct port_row *r = &s->ports[p];
		const struct mpf_port_stats *st = &r->stats;
		bool first = true;

		fprintf(out,
			"%s{\"port\":%u,\"rx_packets\":%" PRIu64 ",\"rx_bytes\":%" PRIu64
			",\"rx_missed\":%" PRIu64 ",\"rx_dropped\":%" PRIu64
			",\"rx_default\":%" PRIu64 ",\"rx_undelivered\":%" PRIu64
			",\"tx_packets\":%" PRIu64 ",\"tx_bytes\":%" PRIu64
			",\"tx_dropped\":%" PRIu64 ",\"tx_errors\":%" PRIu64
			",\"queue_full\":%" PRIu64 ",\"queue_unattached\":%" PRIu64,
			p ? "," : "", p, st->rx_packets, st->rx_bytes, st->rx_missed,
			st->rx_dropped, st->rx_default, st->rx_undelivered, st->tx_packets,
			st->tx_bytes, st->tx_dropped, st->tx_errors, st->queue_full,
			st->queue_unattached);
		if (r->rated)
			fprintf(out,
				",\"rx_pps\":%.1f,\"rx_bps\":%.1f,\"tx_pps\":%.1f,\"tx_bps\":%.1f",
				r->rx_pps, r->rx_bps, r->tx_pps, r->tx_bps);
		fprintf(out, ",\"queues\":[");
		for (unsigned i = 0; i < s->queues_per_port; i++) {
			const struct mpf_queue_stats *q = &s->queues[p * s->queues_per_port + i];

			if (!queue_shown(s, i, q))
				continue;
			fprintf(out,
				"%s{\"queue\":%u,\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
				",\"full\":%" PRIu64 ",\"unattached\":%" PRIu64 "}",
				first ? "" : ",", snapshot_queue_number(s, i), q->packets, q->bytes,
				q->full, q->unattached);
			first = false;
		}
		fprintf(out, "]}");
	}
	fprintf(out, "],\"rules\":[");
	for (size_t i = 0; view && i < count; i++) {
		const struct row_info *info = &view[i].row->info;
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
		if (view[i].row->rated)
			fprintf(out, ",\"pps\":%.1f,\"bps\":%.1f", view[i].row->pps,
				view[i].row->bps);
		fprintf(out, ",\"created_ns\":%" PRIu64 ",\"text\":", info->created_ns);
		if (view[i].gone) {
			fputs("null,\"gone\":true", out);
		} else {
			json_string(out, view[i].text);
			fprintf(out, ",\"text_truncated\":%s",
				view[i].text_truncated ? "true" : "false");
		}
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

static void labels(FILE *out, const struct snapshot *s, const struct row_info *info)
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

/* Port and queue metrics: name, help, and where the figure is. */
static const struct {
	const char *name, *help;
	size_t offset; /* in struct mpf_port_stats */
} port_metrics[] =
	{
#define PORT_METRIC(field, help)                                                                   \
	{                                                                                          \
		"mpflow_port_" #field "_total", help, offsetof(struct mpf_port_stats, field)       \
	}
		PORT_METRIC(rx_packets, "Packets the port received."),
		PORT_METRIC(rx_bytes, "Bytes of the packets the port received."),
		PORT_METRIC(rx_missed,
			    "Packets the source lost before classification (ring full)."),
		PORT_METRIC(rx_dropped, "Packets a DROP action or a meter's drop color took."),
		PORT_METRIC(rx_default, "Packets delivered by default: no rule decided."),
		PORT_METRIC(rx_undelivered,
			    "Packets neither dropped nor delivered (isolated port)."),
		PORT_METRIC(tx_packets, "Packets the port transmitted."),
		PORT_METRIC(tx_bytes, "Bytes of the packets the port transmitted."),
		PORT_METRIC(tx_dropped, "Packets an egress DROP action took."),
		PORT_METRIC(tx_errors, "Packets the interface refused to send."),
#undef PORT_METRIC
},
  queue_metrics[] = {
#define QUEUE_METRIC(field, help)                                                                  \
	{                                                                                          \
		"mpflow_queue_" #field "_total", help, offsetof(struct mpf_queue_stats, field)     \
	}
	  QUEUE_METRIC(packets, "Packets delivered into the RX queue."),
	  QUEUE_METRIC(bytes, "Bytes of the packets delivered into the RX queue."),
	  QUEUE_METRIC(full, "Packets for the RX queue lost because it was full."),
	  QUEUE_METRIC(unattached,
		       "Packets for the RX queue lost because no secondary had attached it."),
#undef QUEUE_METRIC
};

static void port_labels(FILE *out, const struct snapshot *s, unsigned port, int queue_index)
{
	char text[16];

	fputc('{', out);
	label(out, "mpflow_instance", s->instance.instance);
	snprintf(text, sizeof(text), "%u", port);
	label(out, ",port", text);
	if (queue_index >= 0) {
		if ((unsigned)queue_index < s->instance.queues)
			snprintf(text, sizeof(text), "%d", queue_index);
		else
			snprintf(text, sizeof(text), "vf%u", queue_index - s->instance.queues);
		label(out, ",queue", text);
	}
	fputc('}', out);
}

static void output_port_metrics(const struct snapshot *s, FILE *out)
{
	for (size_t m = 0; s->n_ports && m < sizeof(port_metrics) / sizeof(port_metrics[0]); m++) {
		fprintf(out, "# HELP %s %s\n# TYPE %s counter\n", port_metrics[m].name,
			port_metrics[m].help, port_metrics[m].name);
		for (unsigned p = 0; p < s->n_ports; p++) {
			uint64_t v;

			memcpy(&v, (const uint8_t *)&s->ports[p].stats + port_metrics[m].offset,
			       sizeof(v));
			fputs(port_metrics[m].name, out);
			port_labels(out, s, p, -1);
			fprintf(out, " %" PRIu64 "\n", v);
		}
	}
	for (size_t m = 0; s->n_ports && m < sizeof(queue_metrics) / sizeof(queue_metrics[0]);
	     m++) {
		fprintf(out, "# HELP %s %s\n# TYPE %s counter\n", queue_metrics[m].name,
			queue_metrics[m].help, queue_metrics[m].name);
		for (unsigned p = 0; p < s->n_ports; p++) {
			for (unsigned i = 0; i < s->queues_per_port; i++) {
				const struct mpf_queue_stats *q =
					&s->queues[p * s->queues_per_port + i];
				uint64_t v;

				if (!queue_shown(s, i, q))
					continue;
				memcpy(&v, (const uint8_t *)q + queue_metrics[m].offset, sizeof(v));
				fputs(queue_metrics[m].name, out);
				port_labels(out, s, p, (int)i);
				fprintf(out, " %" PRIu64 "\n", v);
			}
		}
	}
}

/* One gauge of the instance: its HELP and TYPE lines and its sample. */
static void __attribute__((format(printf, 5, 6)))
gauge(FILE *out, const char *instance, const char *name, const char *help, const char *format, ...)
{
	va_list ap;

	fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n%s{", name, help, name, name);
	label(out, "mpflow_instance", instance);
	fputs("} ", out);
	va_start(ap, format);
	vfprintf(out, format, ap);
	va_end(ap);
	fputc('\n', out);
}

void output_prometheus(const struct flowstat *fs, const struct snapshot *s, FILE *out)
{
	const struct mpf_instance_info *in = &s->instance;

	fprintf(out, "# HELP mpflow_up Whether a running primary serves the instance.\n"
		     "# TYPE mpflow_up gauge\n"
		     "mpflow_up{");
	/* Down, it is the instance asked for: an alert on mpflow_up == 0
	 * names it, as the samples did while it ran. */
	label(out, "mpflow_instance",
	      s->attached ? in->instance
			  : (fs->connect.instance ? fs->connect.instance : "default"));
	fprintf(out, "} %d\n", s->attached && in->state == MPF_INSTANCE_RUNNING);
	if (!s->attached)
		return;
	gauge(out, in->instance, "mpflow_clients", "Sessions connected to the primary.", "%" PRIu32,
	      in->clients);
	gauge(out, in->instance, "mpflow_rules", "Live rules of the instance.", "%" PRIu32,
	      in->rules);
	gauge(out, in->instance, "mpflow_rules_unrestored",
	      "Persistent rules in the journal this start could not restore.", "%" PRIu32,
	      in->unrestored);
	gauge(out, in->instance, "mpflow_journal_errno",
	      "The errno persistent requests are refused with until the journal is rewritten; "
	      "0: served.",
	      "%d", -in->journal_error);
	gauge(out, in->instance, "mpflow_start_time_seconds", "Unix time the primary started.",
	      "%.3f", (double)in->start_ns / 1e9);
	gauge(out, in->instance, "mpflow_heartbeat_age_seconds",
	      "Since the primary's last tick (about once a second while it runs).", "%.3f",
	      (double)in->heartbeat_age_ns / 1e9);
	gauge(out, in->instance, "mpflow_counters_age_seconds",
	      "How old the rules' counts are (since the last read of a device's counters; 0: "
	      "counted in place).",
	      "%.3f", (double)in->counters_age_ns / 1e9);
	output_port_metrics(s, out);
	/* Every rule's counts summed, then the top rules one by one. */
	gauge(out, in->instance, "mpflow_rules_hits",
	      "Packets counted by the live rules (a sum: it drops when rules go).", "%" PRIu64,
	      s->hits);
	gauge(out, in->instance, "mpflow_rules_bytes", "Bytes counted by the live rules.",
	      "%" PRIu64, s->bytes);
	size_t count;
	struct shown *view = snapshot_view(fs, s, fs->top, false, &count); /* no text in metrics */

	for (int m = 0; m < METRICS; m++) {
		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", rule_metrics[m].name,
			rule_metrics[m].help, rule_metrics[m].name, rule_metrics[m].type);
		for (size_t i = 0; view && i < count; i++) {
			const struct row_info *info = &view[i].row->info;

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
	free(view);
}
