/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench/datapath: frames per second through the soft datapath end to end —
 * source, parser, classifier (N rules), actions (COUNT + QUEUE), the RX
 * ring, and a secondary consuming it — beside a baseline from the same run:
 * the same source code (hwdrv/soft/source.c) receiving and dropping in
 * this process, with nothing classified. The ratio says what classifying
 * and delivering costs against what the source alone can give.
 *
 *  1. gen: the in-memory generator (no system call per frame): the
 *     datapath's own cost per frame. Its baseline is mpflowd's floor: the
 *     same source on an isolated port with no rule (parse, an empty
 *     lookup, nothing delivered), since the generator alone costs nothing.
 *  2. live: and xdp: on a veth pair in a network namespace the bench makes
 *     (root only; skipped otherwise), a sender thread blasting frames into
 *     the peer with sendmmsg(): AF_PACKET TPACKET_V3 as mpflowd's live:
 *     source, and AF_XDP in copy mode (veth has no zero copy).
 *
 * The socket paths run with 1 and 2 datapath workers (--workers; a gen:
 * source is one sequence, read by one worker). On a 2-vCPU machine the
 * sender, the workers and the consumer share two cores, which the figures
 * show. Each figure is the median of --runs runs, with the spread.
 *
 * usage: datapath [--rules N] [--seconds S] [--runs R]   (mpflowd: $MPFLOWD)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/clock.h"
#include "hwdrv/soft/soft.h"
#include "tests/harness.h"
#include "tests/packet_builder.h"

#define FLOWS 1024u /* the generator's flows; rules 0..FLOWS-1 match them */

static unsigned n_rules = 10000, runs = 3;
static double seconds = 2;

struct figure {
	double rate[16]; /* frames per second, one per run */
	double missed[16];
};

static void print_figure(const char *what, struct figure *f)
{
	double sorted[16];

	memcpy(sorted, f->rate, sizeof(sorted));
	qsort(sorted, runs, sizeof(sorted[0]), bench_compare_doubles);
	printf("  %-44s %7.2f Mpps  (%.2f-%.2f)  %6.1f ns/frame\n", what, sorted[runs / 2] / 1e6,
	       sorted[0] / 1e6, sorted[runs - 1] / 1e6, 1e9 / sorted[runs / 2]);
}

static double median(const struct figure *f)
{
	double sorted[16];

	memcpy(sorted, f->rate, sizeof(sorted));
	qsort(sorted, runs, sizeof(sorted[0]), bench_compare_doubles);
	return sorted[runs / 2];
}

/* ---- the baseline: the source alone, in this process ---------------------- */

static double source_alone(const char *spec, volatile int *stop_sender, double *missed)
{
	struct soft_source s;
	struct packet pkts[SOFT_BURST];
	struct mpf_flow_error error;
	uint64_t frames = 0, lost = 0;
	double t0, t;

	if (soft_source_open(&s, spec, 0, 1, &(uint16_t){0}, &error) != 0) {
		fprintf(stderr, "datapath: %s: %s\n", spec, error.message);
		exit(1);
	}
	t0 = bench_now_ns();
	do {
		unsigned n = soft_source_burst(&s, pkts, SOFT_BURST, (uint64_t)t0);

		frames += n;
		soft_source_release(&s);
		lost += soft_source_missed(&s, (uint64_t)bench_now_ns());
		t = bench_now_ns();
	} while (t - t0 < seconds * 1e9);
	if (stop_sender)
		*stop_sender = 1;
	soft_source_close(&s);
	*missed = (double)lost / (t - t0) * 1e9;
	return (double)frames / (t - t0) * 1e9;
}

/* ---- the whole path: mpflowd and a consuming secondary -------------------- */

struct consumer {
	struct mpf_rxq *q;
	volatile int stop;
	uint64_t packets;
};

static void *consume(void *arg)
{
	static uint8_t buf[64 * MPF_RXQ_PACKET_MAX];
	struct consumer *c = arg;
	struct mpf_packet pkts[64];

	while (!c->stop) {
		int n = mpf_rxq_burst(c->q, pkts, 64, buf, sizeof(buf));

		if (n > 0)
			c->packets += (unsigned)n;
		else
			mpf_rxq_wait(c->q, 10);
	}
	return NULL;
}

static void install_rules(struct mpf_client *c)
{
	struct sample_rule r;
	struct mpf_flow_error error;
	uint64_t handle;

	for (unsigned i = 0; i < n_rules; i++) {
		/* Rules FLOWS.. match nothing the sources send (11.x.y.z). */
		sample_rule_init(&r, i < FLOWS ? i : 0x01000000u | i);
		if (mpf_flow_create(c, 0, &(struct mpf_flow_attr){.ingress = 1}, r.pattern,
				    r.actions, 0, &handle, &error) != 0) {
			fprintf(stderr, "datapath: rule %u: %s\n", i, error.message);
			exit(1);
		}
	}
}

/* mpflowd with `source` on port 0: frames per second received while a
 * consumer drains queue 1 (where the matching rules send them); with
 * `floor`, no rule and an isolated port instead. */
static double whole_path(const char *source, bool floor, const char *workers,
			 volatile int *stop_sender, double *missed, double *delivered)
{
	char spec[160];
	const char *args[] = {"--source", spec, "--max-rules", "65536", "--workers", workers, NULL};
	struct consumer consumer = {0};
	struct mpf_port_stats a, b;
	struct mpf_queue_stats qa, qb;
	struct mpf_flow_error error;
	struct mpf_client *c;
	struct primary p;
	pthread_t thread;
	double t0, t1;

	snprintf(spec, sizeof(spec), "0=%s", source);
	if (primary_start(&p, args) != 0 || primary_connect(&p, "bench", &c) != 0) {
		FILE *log = fopen(p.log, "r");
		char line[512];

		fprintf(stderr,
			"datapath: cannot start mpflowd (MPFLOWD=%s) with --source %s; its log:\n",
			getenv("MPFLOWD") ? getenv("MPFLOWD") : "", spec);
		while (log && fgets(line, sizeof(line), log))
			fputs(line, stderr);
		exit(1);
	}
	if (floor)
		mpf_flow_isolate(c, 0, true, &error);
	else
		install_rules(c);
	if (mpf_rxq_attach(c, 0, 1, &consumer.q, &error) != 0) {
		fprintf(stderr, "datapath: %s\n", error.message);
		exit(1);
	}
	pthread_create(&thread, NULL, consume, &consumer);
	usleep(300000); /* warm: caches, the ring's pages, the rates */
	mpf_port_stats(c, 0, &a);
	mpf_queue_stats(c, 0, 1, &qa);
	t0 = bench_now_ns();
	usleep((useconds_t)(seconds * 1e6));
	mpf_port_stats(c, 0, &b);
	mpf_queue_stats(c, 0, 1, &qb);
	t1 = bench_now_ns();
	if (stop_sender)
		*stop_sender = 1;
	consumer.stop = 1;
	pthread_join(thread, NULL);
	mpf_rxq_detach(consumer.q, NULL);
	mpf_disconnect(c);
	primary_stop(&p);
	primary_cleanup(&p);
	*missed = (double)(b.rx_missed - a.rx_missed) / (t1 - t0) * 1e9;
	*delivered = (double)(qb.packets - qa.packets) / (t1 - t0) * 1e9;
	return (double)(b.rx_packets - a.rx_packets) / (t1 - t0) * 1e9;
}

/* ---- live: a veth pair and a sender --------------------------------------- */

struct sender {
	int sock;
	volatile int stop;
	pthread_t thread;
};

static void *send_frames(void *arg)
{
	struct sender *s = arg;
	static struct frame frames[64];
	struct mmsghdr msgs[64];
	struct iovec iov[64];
	unsigned next = 0;

	while (!s->stop) {
		for (unsigned i = 0; i < 64; i++, next++) {
			uint32_t f = next % FLOWS;

			/* The generator's flows: 10.0.x.y -> 10.255.0.1, UDP
			 * 10000+f -> 80, 64 bytes. */
			frames[i] =
				frame_ipv4_l4(0x0a000000u + f, 0x0aff0001u, 17, 10000 + f, 80, 18);
			iov[i] = (struct iovec){.iov_base = frames[i].bytes,
						.iov_len = frames[i].length};
			msgs[i] =
				(struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
		}
		if (sendmmsg(s->sock, msgs, 64, 0) < 0 && errno != ENOBUFS && errno != EAGAIN)
			break;
	}
	return NULL;
}

static bool veth_up(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0)
		return false;
	return system("ip link add mpfb0 type veth peer name mpfb1 && ip link set mpfb0 up && "
		      "ip link set mpfb1 up && sysctl -qw net.ipv6.conf.all.disable_ipv6=1") == 0;
}

static void sender_start(struct sender *s)
{
	struct sockaddr_ll at = {.sll_family = AF_PACKET,
				 .sll_protocol = htons(ETH_P_ALL),
				 .sll_ifindex = (int)if_nametoindex("mpfb1")};
	int one = 1;

	s->stop = 0;
	s->sock = socket(AF_PACKET, SOCK_RAW, 0);
	if (s->sock < 0 || bind(s->sock, (struct sockaddr *)&at, sizeof(at)) != 0) {
		perror("datapath: sender socket");
		exit(1);
	}
	setsockopt(s->sock, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	pthread_create(&s->thread, NULL, send_frames, s);
}

static void sender_stop(struct sender *s)
{
	s->stop = 1;
	pthread_join(s->thread, NULL);
	close(s->sock);
}

/* A socket source, alone in this process and then under mpflowd, fed by
 * the same sender. */
static void socket_path(const char *spec, const char *title, bool with_two)
{
	struct figure base = {0}, path = {0}, two = {0}, delivered = {0}, delivered2 = {0};

	printf("%s\n", title);
	for (unsigned r = 0; r < runs; r++) {
		struct sender s;

		sender_start(&s);
		base.rate[r] = source_alone(spec, &s.stop, &base.missed[r]);
		sender_stop(&s);
		sender_start(&s);
		path.rate[r] =
			whole_path(spec, false, "1", &s.stop, &path.missed[r], &delivered.rate[r]);
		sender_stop(&s);
		if (!with_two)
			continue;
		sender_start(&s);
		two.rate[r] =
			whole_path(spec, false, "2", &s.stop, &two.missed[r], &delivered2.rate[r]);
		sender_stop(&s);
	}
	print_figure("baseline: the socket alone, dropping", &base);
	print_figure("mpflowd, 1 worker: classified, delivered", &path);
	if (with_two)
		print_figure("mpflowd, 2 workers", &two);
	printf("  ratio to the baseline: 1 worker %.2f", median(&path) / median(&base));
	if (with_two)
		printf(", 2 workers %.2f", median(&two) / median(&base));
	printf("   (missed by the socket: baseline %.2f Mpps, mpflowd %.2f Mpps)\n",
	       base.missed[runs / 2] / 1e6, path.missed[runs / 2] / 1e6);
}

int main(int argc, char **argv)
{
	struct figure base = {0}, path = {0}, delivered = {0};
	char gen[64];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--rules") == 0)
			n_rules = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--runs") == 0)
			runs = (unsigned)atoi(argv[i + 1]);
	}
	if (runs < 1 || runs > 16 || seconds <= 0 || n_rules < FLOWS) {
		fprintf(stderr, "usage: datapath [--rules N>=%u] [--seconds S] [--runs 1-16]\n",
			FLOWS);
		return 2;
	}
	snprintf(gen, sizeof(gen), "gen:flows=%u,size=64", FLOWS);
	printf("bench/datapath: %u rules (%u match: count + queue 1), a secondary draining "
	       "queue 1; %u runs of %.1f s, median (min-max)\n",
	       n_rules, FLOWS, runs, seconds);
	printf("gen: (in-memory frames, 64 bytes, %u flows)\n", FLOWS);
	for (unsigned r = 0; r < runs; r++) {
		double none;

		base.rate[r] = whole_path(gen, true, "1", NULL, &base.missed[r], &none);
		path.rate[r] =
			whole_path(gen, false, "1", NULL, &path.missed[r], &delivered.rate[r]);
	}
	print_figure("baseline: mpflowd, no rule, isolated port", &base);
	print_figure("mpflowd: classified, delivered, consumed", &path);
	print_figure("  of which the consumer got", &delivered);
	printf("  ratio to the baseline: %.2f\n", median(&path) / median(&base));

	if (!veth_up()) {
		printf("live: skipped (needs root to make a veth pair in its own namespace)\n");
		return 0;
	}
	socket_path("live:mpfb0",
		    "live: (AF_PACKET TPACKET_V3 on a veth; the sender shares the cores)", true);
#ifdef MPFLOW_HAVE_XDP
	/* One worker: a second would read queue 1, which a veth lacks. */
	socket_path("xdp:mpfb0,mode=copy", "xdp: (AF_XDP, copy mode: veth has no zero copy)",
		    false);
#else
	printf("xdp: skipped (built without libxdp)\n");
#endif
	return 0;
}
