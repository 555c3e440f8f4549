/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench/scale: the control plane at ten million rules (issue 18, point 4),
 * beside the same steps at a hundredth of the size in the same run (the
 * baseline: what each rule costs while the tables are small).
 *
 * For each size, a fresh primary with --max-rules 16777216 (start-up, and
 * a --max-rules 1024 start as its baseline), one client inserting the
 * rules persistently through the asynchronous API, the shared and private
 * memory each rule costs (from /proc/PID/smaps_rollup), counter queries
 * from shared memory, a monitor's walk of the directory without the text
 * (what flowstat does each interval), `flowstat --once --interval 0` (the
 * top 20 printed; $FLOWSTAT), flowstat's live view on a terminal (the time
 * to its first frame, then the share of a core it takes at the default
 * interval, 1 s: no traffic moves the counters here), a stop (every rule out of the device), a
 * restart (the journal replayed) and a flush of them all.
 * For the insert, where the primary's CPU time went (/proc/PID/stat): the
 * share of it its loop's thread was on a CPU, the time of its other
 * threads (the helpers faulting memory in ahead, the journal's syncs) and
 * its time in the kernel, most of it zeroing the fresh pages the fill
 * takes.
 *
 *   MPFLOWD=build/server/mpflowd FLOWSTAT=build/tools/flowstat \
 *   build/bench/scale [--rules N] [--live-seconds S]
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/clock.h"
#include "bench/rule.h"
#include "tests/harness.h"

struct figures {
	double start_s, insert_s, query_ns, scan_s, flowstat_s, stop_s, replay_s, flush_s;
	/* flowstat's live view: first frame, share of a core; idle, then with
	 * a gen: source sending to every rule in turn at `busy_pps` frames/s. */
	double live_first_s, live_cpu, busy_first_s, busy_cpu, busy_pps;
	double shared_bytes, private_bytes; /* per rule */
	/* During the insert: the primary's loop thread on a CPU (0-1), the
	 * CPU seconds of its other threads, and its kernel seconds. */
	double loop_busy, helpers_s, kernel_s;
};

struct cpu {
	double user, kernel; /* seconds */
};

/* The CPU time of /proc/PID/stat (every thread) or /proc/PID/task/PID/stat
 * (the main thread: the primary's loop). 0, or -1. */
static int cpu_time(pid_t pid, bool loop_only, struct cpu *c)
{
	char path[64], line[1024], *p;
	unsigned long long user, kernel;
	double tick = (double)sysconf(_SC_CLK_TCK);
	FILE *f;

	if (loop_only)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	/* After the command's ")": state, then ten fields before utime. */
	if (p == NULL || (p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &user,
		   &kernel) != 2)
		return -1;
	c->user = (double)user / tick;
	c->kernel = (double)kernel / tick;
	return 0;
}

/* The nanoseconds a single-threaded process has run on a CPU
 * (/proc/PID/schedstat: finer than the clock ticks of stat), or -1. */
static double run_ns(pid_t pid)
{
	char path[64];
	unsigned long long ns;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fscanf(f, "%llu", &ns);
	fclose(f);
	return n == 1 ? (double)ns : -1;
}

/* A field of /proc/PID/smaps_rollup, in bytes; -1 if missing. */
static double smaps(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	double kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kb = strtod(line + n + 1, NULL);
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

extern char **environ;

/* The wall time of `flowstat --once --interval 0` on the primary of `dir`
 * (its output thrown away), or -1 if it did not exit 0. */
static double flowstat_once(const char *flowstat, const char *dir)
{
	/* posix_spawn's argv is not const: its own copies of the words. */
	char binary[4096], once[] = "--once", interval[] = "--interval", zero[] = "0",
			   runtime[] = "--runtime-dir", where[sizeof(((struct primary *)0)->dir)];
	char *const argv[] = {binary, once, interval, zero, runtime, where, NULL};
	posix_spawn_file_actions_t actions;
	double t0 = bench_now_ns();
	int status, rc;
	pid_t pid;

	if ((size_t)snprintf(binary, sizeof(binary), "%s", flowstat) >= sizeof(binary) ||
	    (size_t)snprintf(where, sizeof(where), "%s", dir) >= sizeof(where) ||
	    posix_spawn_file_actions_init(&actions) != 0)
		return -1;
	rc = posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	if (rc == 0)
		rc = posix_spawn(&pid, flowstat, &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (rc != 0) {
		fprintf(stderr, "scale: %s: %s\n", flowstat, strerror(rc));
		return -1;
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "scale: %s --once failed\n", flowstat);
		return -1;
	}
	return (bench_now_ns() - t0) / 1e9;
}

/* Read and drop what a terminal's program writes, for `ms` (or until its
 * first bytes, with `first`): the bytes read, or -1 when it closed. */
static long drain(int fd, int ms, bool first)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	double until = bench_now_ns() + ms * 1e6;
	char buf[65536];
	long total = 0;
	ssize_t n;

	while (bench_now_ns() < until && !(first && total)) {
		if (poll(&pfd, 1, (int)((until - bench_now_ns()) / 1e6) + 1) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return -1;
		total += n;
	}
	return total;
}

/* The CPU nanoseconds `pid` has run: /proc/PID/schedstat where the kernel
 * keeps it, else its clock ticks; -1 when neither reads. */
static double cpu_ns(pid_t pid)
{
	struct cpu c;
	double ns = run_ns(pid);

	if (ns >= 0)
		return ns;
	return cpu_time(pid, false, &c) == 0 ? (c.user + c.kernel) * 1e9 : -1;
}

/* The start of the live view's next frame (its first bytes after a quiet
 * moment), within `ms`: 0, or -1. */
static int next_frame(int master, int ms)
{
	while (drain(master, 50, false) > 0) /* the end of the frame being drawn */
		;
	return drain(master, ms, true) > 0 ? 0 : -1;
}

/*
 * flowstat's live view at its default interval on a pseudo-terminal of
 * 50 rows: the wall time to its first frame (*first_s), then the share of a
 * core it takes (its CPU time over the wall time, *cpu) from the start of
 * a frame to the start of the one `seconds` later, so that the window
 * holds whole intervals. 0, or -1.
 */
static int flowstat_live(const char *flowstat, const char *dir, double seconds, double *first_s,
			 double *cpu)
{
	char binary[4096], runtime[] = "--runtime-dir", where[sizeof(((struct primary *)0)->dir)];
	char *const argv[] = {binary, runtime, where, NULL};
	struct winsize ws = {.ws_row = 50, .ws_col = 200};
	posix_spawn_file_actions_t actions;
	int master, terminal, status = 0, rc, err = -1;
	double c0, c1, t0, t1, quit;
	pid_t pid;

	if ((size_t)snprintf(binary, sizeof(binary), "%s", flowstat) >= sizeof(binary) ||
	    (size_t)snprintf(where, sizeof(where), "%s", dir) >= sizeof(where) ||
	    openpty(&master, &terminal, NULL, NULL, &ws) != 0)
		return -1;
	/* Its terminal on stdin and stdout; its stderr is ours, to be read. */
	rc = posix_spawn_file_actions_init(&actions);
	for (int fd = 0; rc == 0 && fd < 2; fd++)
		rc = posix_spawn_file_actions_adddup2(&actions, terminal, fd);
	if (rc == 0)
		rc = posix_spawn_file_actions_addclose(&actions, master);
	if (rc == 0)
		rc = posix_spawn_file_actions_addclose(&actions, terminal);
	if (rc == 0)
		rc = posix_spawn(&pid, flowstat, &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	close(terminal);
	if (rc != 0) {
		fprintf(stderr, "scale: %s: %s\n", flowstat, strerror(rc));
		close(master);
		return -1;
	}
	/* The first frame: its first bytes (nothing is written before it). */
	t0 = bench_now_ns();
	if (drain(master, 60000, true) > 0) {
		*first_s = (bench_now_ns() - t0) / 1e9;
		/* Whole intervals: from a frame's start to a later one's. */
		if (next_frame(master, 5000) == 0 && (c0 = cpu_ns(pid)) >= 0) {
			t1 = bench_now_ns();
			drain(master, (int)(seconds * 1000) - 500, false);
			if (next_frame(master, 5000) == 0 && (c1 = cpu_ns(pid)) >= 0) {
				*cpu = (c1 - c0) / (bench_now_ns() - t1);
				err = 0;
			}
		}
	}
	/* q, then SIGTERM, then SIGKILL: it goes, whatever state it is in. */
	if (write(master, "q", 1) != 1)
		kill(pid, SIGTERM);
	quit = bench_now_ns();
	while (waitpid(pid, &status, WNOHANG) == 0) {
		double waited = bench_now_ns() - quit;

		if (waited > 10e9)
			kill(pid, waited > 15e9 ? SIGKILL : SIGTERM);
		if (drain(master, 100, false) < 0)
			usleep(100000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		err = -1;
	close(master);
	if (err)
		fprintf(stderr, "scale: %s (the live view) failed\n", flowstat);
	return err;
}

/*
 * The live view again, with traffic: the stopped primary restarted (the
 * journal replayed, not timed) with a gen: source sending to each of the
 * `count` rules in turn as fast as its worker goes, so that every block of
 * the table moves between two frames; the frames a second the port
 * received meanwhile. The primary is stopped again. 0, or -1.
 */
static int live_with_traffic(struct primary *p, uint32_t count, const char *flowstat,
			     double live_seconds, struct figures *f)
{
	char gen[64];
	const char *const args[] = {"--max-rules", "16777216", "--source", gen, NULL};
	struct mpf_port_stats before, after;
	struct mpf_client *c;
	double t0;
	int err;

	snprintf(gen, sizeof(gen), "0=gen:flows=%u,dport=4789", count);
	if (primary_restart(p, args) != 0 || primary_connect(p, "bench-scale", &c) != 0)
		return -1;
	t0 = bench_now_ns();
	err = mpf_port_stats(c, 0, &before);
	if (!err)
		err = flowstat_live(flowstat, p->dir, live_seconds, &f->busy_first_s, &f->busy_cpu);
	if (!err)
		err = mpf_port_stats(c, 0, &after);
	f->busy_pps =
		err ? 0 : (after.rx_packets - before.rx_packets) / ((bench_now_ns() - t0) / 1e9);
	mpf_disconnect(c);
	return primary_stop(p) == 0 ? err : -1;
}

static int measure(uint32_t count, const char *flowstat, double live_seconds, struct figures *f)
{
	static const char *const args[] = {"--max-rules", "16777216", NULL};
	struct mpf_connect_options o = {0};
	struct mpf_flow_query_count q = {0};
	struct mpf_flow_error error;
	struct mpf_flow_info info;
	struct mpf_monitor *m;
	struct mpf_client *c;
	struct primary p;
	struct cpu loop0, loop1, all0, all1;
	uint64_t *handles = malloc(count * sizeof(*handles));
	uint32_t cursor = 0, seen = 0;
	const unsigned queries = 1000000;
	double t0;
	int flushed;

	if (handles == NULL)
		return -1;
	t0 = bench_now_ns();
	if (primary_start(&p, args) != 0)
		return -1;
	f->start_s = (bench_now_ns() - t0) / 1e9;
	if (primary_connect(&p, "bench-scale", &c) != 0)
		goto fail;
	if (cpu_time(p.pid, true, &loop0) != 0 || cpu_time(p.pid, false, &all0) != 0)
		goto fail;
	t0 = bench_now_ns();
	if (insert_pipelined(c, 0, count, MPF_FLOW_PERSISTENT, handles) != 0)
		goto fail;
	f->insert_s = (bench_now_ns() - t0) / 1e9;
	if (cpu_time(p.pid, true, &loop1) != 0 || cpu_time(p.pid, false, &all1) != 0)
		goto fail;
	f->loop_busy = (loop1.user + loop1.kernel - loop0.user - loop0.kernel) / f->insert_s;
	f->helpers_s = (all1.user + all1.kernel - all0.user - all0.kernel) -
		       (loop1.user + loop1.kernel - loop0.user - loop0.kernel);
	f->kernel_s = all1.kernel - all0.kernel;
	f->shared_bytes = smaps(p.pid, "Pss_Shmem") / count;
	f->private_bytes = smaps(p.pid, "Anonymous") / count;
	/* Queries of rules spread over the table (a stride of a prime). */
	t0 = bench_now_ns();
	for (unsigned i = 0; i < queries; i++)
		if (mpf_flow_query(c, 0, handles[(i * 7919u) % count], MPF_FLOW_ACTION_TYPE_COUNT,
				   &q, &error) != 0)
			goto fail;
	f->query_ns = (bench_now_ns() - t0) / queries;
	o.runtime_dir = p.dir;
	if (mpf_monitor_open(&o, &m, &error) != 0)
		goto fail;
	t0 = bench_now_ns();
	while (mpf_monitor_scan(m, &cursor, &info) == 1)
		seen++;
	f->scan_s = (bench_now_ns() - t0) / 1e9;
	mpf_monitor_close(m);
	if (seen != count) {
		fprintf(stderr, "scale: the directory lists %u rules, %u were made\n", seen, count);
		goto fail;
	}
	if (flowstat && (f->flowstat_s = flowstat_once(flowstat, p.dir)) < 0)
		goto fail;
	if (flowstat &&
	    flowstat_live(flowstat, p.dir, live_seconds, &f->live_first_s, &f->live_cpu) != 0)
		goto fail;
	mpf_disconnect(c);
	t0 = bench_now_ns();
	if (primary_stop(&p) != 0)
		goto fail;
	f->stop_s = (bench_now_ns() - t0) / 1e9;
	if (flowstat && live_with_traffic(&p, count, flowstat, live_seconds, f) != 0)
		goto fail;
	t0 = bench_now_ns();
	if (primary_restart(&p, args) != 0)
		goto fail;
	f->replay_s = (bench_now_ns() - t0) / 1e9;
	if (primary_connect(&p, "bench-scale", &c) != 0)
		goto fail;
	t0 = bench_now_ns();
	flushed = mpf_flow_flush_persistent(c, 0, &error);
	f->flush_s = (bench_now_ns() - t0) / 1e9;
	if (flushed != (int)count) {
		fprintf(stderr, "scale: flush: %d of %u (%s)\n", flushed, count, error.message);
		goto fail;
	}
	mpf_disconnect(c);
	free(handles);
	return primary_cleanup(&p);
fail:
	fprintf(stderr, "scale: a step failed at %u rules; mpflowd's log: %s\n", count, p.log);
	primary_cleanup(&p);
	free(handles);
	return -1;
}

static double small_start(void)
{
	static const char *const args[] = {"--max-rules", "1024", NULL};
	struct primary p;
	double t0 = bench_now_ns(), s;

	if (primary_start(&p, args) != 0)
		return -1;
	s = (bench_now_ns() - t0) / 1e9;
	primary_cleanup(&p);
	return s;
}

static void row(const char *name, double base, double big, uint32_t nb, uint32_t nn,
		const char *unit, bool per_rule)
{
	/* Per-rule cost at full size over per-rule cost at the baseline. */
	double ratio = per_rule ? (big / nn) / (base / nb) : big / base;

	printf("  %-40s %12.3f %12.3f %-6s x%.2f\n", name, base, big, unit, ratio);
}

int main(int argc, char **argv)
{
	uint32_t rules = 10000000, base;
	const char *flowstat = getenv("FLOWSTAT");
	double live_seconds = 10;
	struct figures a, b;
	double small;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
			rules = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--live-seconds") == 0 && i + 1 < argc)
			live_seconds = strtod(argv[++i], NULL);
		else {
			fprintf(stderr, "usage: %s [--rules N] [--live-seconds S]\n", argv[0]);
			return 2;
		}
	}
	if (rules < 100 || rules > 16000000) {
		fprintf(stderr, "scale: --rules between 100 and 16000000\n");
		return 2;
	}
	if (!(live_seconds >= 1 && live_seconds <= 600)) {
		fprintf(stderr, "scale: --live-seconds between 1 and 600\n");
		return 2;
	}
	base = rules / 100;
	small = small_start();
	if (small < 0 || measure(base, flowstat, live_seconds, &a) != 0 ||
	    measure(rules, flowstat, live_seconds, &b) != 0)
		return 1;
	printf("bench/scale: soft backend, persistent rules: eth / ipv4 src is A / udp dst is 4789 "
	       "/ end actions count / queue index 1 / end\n");
	printf("start-up: --max-rules 1024 %.3f s, --max-rules 16777216 %.3f s (x%.2f)\n\n", small,
	       b.start_s, b.start_s / small);
	printf("  %-40s %12u %12u %-6s %s\n", "rules", base, rules, "", "per rule, vs baseline");
	row("insert, 1 client, async", a.insert_s, b.insert_s, base, rules, "s", true);
	printf("  %-40s %12.0f %12.0f %-6s\n", "  rate", base / a.insert_s, rules / b.insert_s,
	       "/s");
	row("  the primary's loop on a CPU", 100 * a.loop_busy, 100 * b.loop_busy, 1, 1, "%",
	    false);
	row("  the primary's other threads' CPU", a.helpers_s, b.helpers_s, base, rules, "s", true);
	row("  the primary's kernel time", a.kernel_s, b.kernel_s, base, rules, "s", true);
	row("shared memory per rule", a.shared_bytes, b.shared_bytes, 1, 1, "B", false);
	row("primary's private memory per rule", a.private_bytes, b.private_bytes, 1, 1, "B",
	    false);
	row("counter query from shared memory", a.query_ns, b.query_ns, 1, 1, "ns", false);
	row("directory walk, no text (flowstat)", a.scan_s, b.scan_s, base, rules, "s", true);
	if (flowstat) {
		row("flowstat --once --interval 0 (top 20)", a.flowstat_s, b.flowstat_s, 1, 1, "s",
		    false);
		row("flowstat live view: first frame", a.live_first_s, b.live_first_s, 1, 1, "s",
		    false);
		row("  then, of a core (1 s interval, idle)", 100 * a.live_cpu, 100 * b.live_cpu, 1,
		    1, "%", false);
		row("flowstat live view, traffic: first frame", a.busy_first_s, b.busy_first_s, 1,
		    1, "s", false);
		row("  then, of a core (1 s interval)", 100 * a.busy_cpu, 100 * b.busy_cpu, 1, 1,
		    "%", false);
		printf("  %-40s %12.0f %12.0f %-6s\n", "  the traffic (a gen: source, every rule)",
		       a.busy_pps, b.busy_pps, "pkt/s");
	} else
		printf("  flowstat --once: not run ($FLOWSTAT names no binary)\n");
	row("stop (every rule out of the device)", a.stop_s, b.stop_s, base, rules, "s", true);
	row("restart (journal replay)", a.replay_s, b.replay_s, base, rules, "s", true);
	row("flush of the persistent rules", a.flush_s, b.flush_s, base, rules, "s", true);
	return 0;
}
