/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowstat's parts: main.c (options and modes), snapshot.c (the rule
 * directory and counters read through a monitor, rates between two
 * snapshots, filters, sorting), output.c (table, JSON, Prometheus text),
 * screen.c (the live view), http.c (--listen, serving /metrics through
 * libmicrohttpd), http_route.c (which answer a request gets).
 *
 * flowstat reads through libmpflow's monitor API only: a read-only mapping
 * of the counters region, no session, no request to the primary.
 */
#ifndef MPFLOW_TOOLS_FLOWSTAT_FLOWSTAT_H
#define MPFLOW_TOOLS_FLOWSTAT_FLOWSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mpflow/mpflow.h>

/* Columns, in screen order; also the sort keys. */
enum column {
	COL_ID,
	COL_OWNER,
	COL_PORT,
	COL_GROUP,
	COL_PRIORITY,
	COL_HITS,
	COL_BYTES,
	COL_PPS,
	COL_BPS,
	COL_LAST,
	COLUMNS
};

/* A rule in a snapshot: its directory entry (mpf_monitor_scan) without the
 * text, which is printed only for the rows shown (snapshot_view): a
 * snapshot of millions of rules stays small and costs no printing. */
struct row_info {
	uint64_t handle;
	uint32_t number, owner_pid;
	char owner_name[sizeof(((struct mpf_flow_info *)0)->owner_name)];
	uint16_t port;
	uint32_t group, priority, flags;
	uint64_t created_ns, hits, bytes, last_hit_ns;
};

struct row {
	struct row_info info;
	double pps, bps; /* since the previous snapshot */
	bool rated;	 /* the rule was in the previous snapshot too */
};

/* A row chosen to be shown, with its rule's testpmd text: none when the
 * rule was destroyed between the snapshot and the read of its text
 * (`gone`: its row is what the snapshot saw). */
struct shown {
	const struct row *row;
	bool gone;
	bool text_truncated; /* cut with "...": MPF_FLOW_INFO_TEXT_TRUNCATED */
	char text[sizeof(((struct mpf_flow_info *)0)->text)];
};

/* A port's statistics in a snapshot, and its rates since the previous. */
struct port_row {
	struct mpf_port_stats stats;
	double rx_pps, rx_bps, tx_pps, tx_bps;
	bool rated;
};

struct filter {
	const char *owner; /* a name, or a pid in digits; NULL: any */
	int port;	   /* -1: any */
	int64_t group;	   /* -1: any */
};

/*
 * What the snapshots read of each rule and each block of MPF_MONITOR_BLOCK
 * slots, kept from one to the next: a block whose activity
 * (mpf_monitor_activity) has not moved since it was read is not read again
 * (its rules' counts are those kept, their rates 0). At ten million rules
 * of which few see traffic, a refresh reads a few megabytes of stamps, not
 * every entry and counter.
 */
struct slot_seen {
	uint64_t handle; /* 0: no rule the filter keeps */
	uint64_t hits, bytes;
	float pps, bps; /* from the read that kept these */
};

struct block_seen {
	uint64_t activity; /* when it was read */
	uint64_t hits, bytes;
	uint64_t read_ns; /* the snapshot that read it (0: never) */
	uint32_t count;	  /* rules the filter keeps */
	bool skipped;	  /* by the snapshot being taken */
};

struct scan_cache {
	struct slot_seen *slots; /* [n_blocks * MPF_MONITOR_BLOCK] */
	struct block_seen *blocks;
	size_t n_blocks;
	/* The primary's run it was read from: its pid and start (a restart
	 * may reuse the pid; its stamps start over). */
	uint32_t primary_pid;
	uint64_t primary_start_ns;
	uint64_t taken_ns; /* the last snapshot that updated it; 0: none */
};
struct snapshot {
	/* Every rule the filter keeps (flowstat.keep 0), in slot order; or the
	 * `keep` best of them by the sort, chosen while scanning. */
	struct row *rows;
	size_t n_rows, cap;
	size_t count; /* rules the filter keeps */
	/* The order the rows were chosen by. */
	enum column sort;
	bool reverse;
	size_t keep;
	uint64_t taken_ns; /* CLOCK_MONOTONIC */
	bool attached;	   /* `instance` is valid */
	struct mpf_instance_info instance;
	/* totals of the rows shown */
	uint64_t hits, bytes;
	double pps, bps;
	/* Port statistics (none when the backend keeps none): ports[p], and
	 * queues[p * queues_per_port + i], the PF queues then the VFs'. */
	struct port_row *ports;
	struct mpf_queue_stats *queues;
	unsigned n_ports, queues_per_port;
};

struct flowstat {
	struct mpf_connect_options connect;
	struct mpf_monitor *monitor; /* NULL until a primary answered */
	struct filter filter;
	enum column sort;
	bool reverse;
	bool ports_view; /* --ports: ports and queues instead of rules */
	size_t top;	 /* rules printed by --once, --json, --prometheus (0: all) */
	size_t keep;	 /* rows a snapshot keeps, the best by the sort (0: all) */
	bool last;	 /* no snapshot follows: no counts kept for rates */
	bool rerank;	 /* the next snapshot only orders again (a new sort key): the
			  * rates are the last ones, nothing is kept */
	struct scan_cache cache;
	unsigned interval_ms;
	char status[160]; /* why nothing is shown (no primary, ...) */
};

/* snapshot.c */
/* The column named `name` ("id", "pps", ...), or -1. */
int column_by_name(const char *name);
const char *column_name(enum column c);
/* Take a snapshot into `next`, rates against `prev` (may be empty); opens
 * or reattaches the monitor as needed. 0, or -errno with fs->status set. */
int snapshot_take(struct flowstat *fs, const struct snapshot *prev, struct snapshot *next);
void snapshot_free(struct snapshot *s);
/* What the snapshots kept between them (flowstat.cache). */
void snapshot_cache_free(struct flowstat *fs);
/* The first `limit` rows (0: all) of those kept, in display order,
 * each with its text read now when `text` (else empty): an array of
 * `*count`, to free(). */
struct shown *snapshot_view(const struct flowstat *fs, const struct snapshot *s, size_t limit,
			    bool text, size_t *count);

/* output.c */
void output_table(const struct flowstat *fs, const struct snapshot *s, FILE *out);
void output_json(const struct flowstat *fs, const struct snapshot *s, FILE *out);
void output_prometheus(const struct flowstat *fs, const struct snapshot *s, FILE *out);
/* A number as humanize_number(3) writes it, in `width` characters. */
void output_human(char *buf, size_t width, double value, const char *suffix);
/* The header lines of the table and the screen. */
void output_header(const struct flowstat *fs, const struct snapshot *s, FILE *out);
/* The line of each port above the rules. */
void output_port_lines(const struct snapshot *s, FILE *out);
/* The --ports view: each port's statistics and its queues'. */
void output_ports(const struct snapshot *s, FILE *out, unsigned max_lines);
/* The queue number (MPF_RXQ_VF(n) for VFs') of queue index `i`. */
uint16_t snapshot_queue_number(const struct snapshot *s, unsigned i);
/* One row of the table. */
void output_row(const struct shown *v, uint64_t now_ns, FILE *out, unsigned text_width);
void output_columns(const struct flowstat *fs, FILE *out);

/* screen.c: the live view until 'q' or a signal. Returns the exit status. */
int screen_run(struct flowstat *fs);

/* http.c: serve /metrics on `address` ("127.0.0.1:9469") until a signal. */
int http_serve(struct flowstat *fs, const char *address);

#endif
