/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowstat: every rule of an mpflow instance with its hits, bytes and
 * rates, read from shared memory through a read-only monitor. A live view
 * on a terminal; --once, --json, --prometheus print one snapshot; --listen
 * serves /metrics. See flowstat(1); a test keeps the man page's options
 * equal to these.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/flowstat/flowstat.h"

static void usage(FILE *out)
{
	fputs("Usage: flowstat [OPTION]...\n"
	      "Show the rules of an mpflow instance with their counters and rates, read\n"
	      "from shared memory (no request is sent to the primary).\n"
	      "\n"
	      "Modes (default: a live view, refreshed every interval):\n"
	      "  -1, --once             print the table once and exit\n"
	      "  -j, --json             print one JSON snapshot and exit\n"
	      "  -p, --prometheus       print the Prometheus text exposition and exit\n"
	      "  -l, --listen=ADDR:PORT serve the Prometheus text at http://ADDR:PORT/metrics\n"
	      "\n"
	      "Options:\n"
	      "  -d, --interval=SECONDS refresh interval, and the window of the rates that\n"
	      "                         --once and --json print (default 1; 0: no rates)\n"
	      "  -s, --sort=COLUMN      id, owner, port, group, priority, hits, bytes, pps,\n"
	      "                         bps or last (default: pps)\n"
	      "  -R, --reverse          reverse the order\n"
	      "  -o, --owner=NAME|PID   only the rules of this client (instance: persistent)\n"
	      "  -P, --port=N           only the rules of port N\n"
	      "  -g, --group=N          only the rules of group N\n"
	      "  -n, --top=N            rules that --once, --json and --prometheus print,\n"
	      "                         the first N in the sort order (default 20; 0: all)\n"
	      "  -a, --all              every rule (--top 0)\n"
	      "  -t, --ports            each port's statistics and its queues', in place of\n"
	      "                         the rules (a line per port is above them anyway)\n"
	      "  -i, --instance=NAME    the instance (default: default)\n"
	      "  -r, --runtime-dir=DIR  its runtime directory (default: $MPFLOW_RUNTIME_DIR,\n"
	      "                         /run/mpflow as root, else $XDG_RUNTIME_DIR/mpflow)\n"
	      "  -h, --help             print this help and exit\n"
	      "  -V, --version          print the version and exit\n"
	      "\n"
	      "Keys of the live view: q quit, < > sort by the previous / next column,\n"
	      "r reverse.\n"
	      "Exit status: 0 success; 1 no primary could be read; 2 usage error.\n",
	      out);
}

static int number(const char *text, const char *option, long long max, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(text, &end, 10);
	if (*text == '\0' || *end || errno || *out < 0 || *out > max) {
		fprintf(stderr, "flowstat: %s: '%s' is not a number from 0 to %lld\n", option, text,
			max);
		return -1;
	}
	return 0;
}

/* Seconds in decimal, 0 to 3600: strtod's hex, inf and nan are not. */
static int interval(const char *text, unsigned *ms)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(text, &end);
	if (*text == '\0' || text[strspn(text, "0123456789.")] || *end || errno ||
	    !(s >= 0 && s <= 3600)) {
		fprintf(stderr,
			"flowstat: --interval: '%s' is not a number of seconds (0 to 3600)\n",
			text);
		return -1;
	}
	*ms = (unsigned)(s * 1000 + 0.5);
	return 0;
}

/* One snapshot for --once, --json, --prometheus: two, `interval` apart, when
 * rates are wanted. */
static int once(struct flowstat *fs, char mode)
{
	struct snapshot prev = {0}, now = {0};
	bool rates = fs->interval_ms && mode != 'p';
	int err;

	fs->last = !rates;
	err = snapshot_take(fs, &prev, &now);
	if (!err && rates) {
		struct timespec ts = {.tv_sec = fs->interval_ms / 1000,
				      .tv_nsec = (long)(fs->interval_ms % 1000) * 1000000};

		nanosleep(&ts, NULL);
		fs->last = true;
		err = snapshot_take(fs, &now, &prev);
		if (!err) {
			struct snapshot t = prev;

			prev = now;
			now = t;
		}
	}
	if (err && mode != 'p' && mode != 'j') {
		fprintf(stderr, "flowstat: %s\n", fs->status);
	} else if (mode == 'j') {
		output_json(fs, &now, stdout);
	} else if (mode == 'p') {
		output_prometheus(fs, &now, stdout);
	} else {
		output_table(fs, &now, stdout);
	}
	snapshot_free(&prev);
	snapshot_free(&now);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"once", no_argument, NULL, '1'},
		{"json", no_argument, NULL, 'j'},
		{"prometheus", no_argument, NULL, 'p'},
		{"listen", required_argument, NULL, 'l'},
		{"interval", required_argument, NULL, 'd'},
		{"sort", required_argument, NULL, 's'},
		{"reverse", no_argument, NULL, 'R'},
		{"owner", required_argument, NULL, 'o'},
		{"port", required_argument, NULL, 'P'},
		{"group", required_argument, NULL, 'g'},
		{"ports", no_argument, NULL, 't'},
		{"top", required_argument, NULL, 'n'},
		{"all", no_argument, NULL, 'a'},
		{"instance", required_argument, NULL, 'i'},
		{"runtime-dir", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct flowstat fs = {
		.connect = {.name = "flowstat"},
		.filter = {.port = -1, .group = -1},
		.sort = COL_PPS,
		.interval_ms = 1000,
		.top = 20,
	};
	const char *listen = NULL;
	char mode = 0;
	bool sort_given = false;
	long long v;
	int opt, status, c;

	while ((opt = getopt_long(argc, argv, "1jpl:d:s:Ro:P:g:tn:ai:r:hV", options, NULL)) != -1) {
		switch (opt) {
		case '1':
		case 'j':
		case 'p':
			mode = (char)opt;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'd':
			if (interval(optarg, &fs.interval_ms))
				return 2;
			break;
		case 's':
			sort_given = true;
			c = column_by_name(optarg);
			if (c < 0) {
				fprintf(stderr, "flowstat: --sort: no column '%s'\n", optarg);
				return 2;
			}
			fs.sort = (enum column)c;
			break;
		case 'R':
			fs.reverse = true;
			break;
		case 'o':
			if (*optarg == '\0') {
				fprintf(stderr, "flowstat: --owner: empty: a client's name or "
						"pid, or instance\n");
				return 2;
			}
			fs.filter.owner = optarg;
			break;
		case 'P':
			if (number(optarg, "--port", 65535, &v))
				return 2;
			fs.filter.port = (int)v;
			break;
		case 'g':
			if (number(optarg, "--group", UINT32_MAX, &v))
				return 2;
			fs.filter.group = v;
			break;
		case 't':
			fs.ports_view = true;
			break;
		case 'n':
			if (number(optarg, "--top", 100000000, &v))
				return 2;
			fs.top = (size_t)v;
			break;
		case 'a':
			fs.top = 0;
			break;
		case 'i':
			fs.connect.instance = optarg;
			break;
		case 'r':
			fs.connect.runtime_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("flowstat (mpflow) %s\n", MPFLOW_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || (mode && listen)) {
		fprintf(stderr, "flowstat: %s\n",
			optind < argc ? "unexpected arguments"
				      : "--listen and a one-shot mode are exclusive");
		return 2;
	}
	/* Prometheus has no rates to sort by (one snapshot): the busiest by
	 * hits, unless asked otherwise. */
	if ((mode == 'p' || listen) && !sort_given)
		fs.sort = COL_HITS;
	if (!mode && fs.interval_ms < 100)
		fs.interval_ms = 100; /* the live view: 0 would spin */
	/* A one-shot or /metrics shows the top N: a snapshot keeps only
	 * those (the live view: the rows it has room for). */
	fs.keep = fs.top;
	if (listen)
		status = http_serve(&fs, listen);
	else if (mode)
		status = once(&fs, mode);
	else if (!isatty(STDOUT_FILENO))
		status = once(&fs, '1');
	else
		status = screen_run(&fs);
	snapshot_cache_free(&fs);
	mpf_monitor_close(fs.monitor);
	return status;
}
