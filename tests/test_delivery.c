/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Delivery to secondaries, on either backend ($MPFLOWD_BACKEND): a real
 * primary replays a pcap the test wrote (soft: its datapath; verbs: the
 * fake NIC's model, tests/verbs/nic_model.h, through posted buffers and
 * completions), a real client installs rules that steer, mark, flag, drop
 * and spread the frames, attaches RX queues and reads them. Every frame
 * must reach the queue its rule names, with its mark or flag, and every
 * counter must say exactly what the test wrote. On verbs the client reads
 * the frames where the NIC wrote them (zero-copy queues); the last cases
 * try what a slow and a hostile secondary can do to the others.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "libclient/client.h"
#include "shm/doorbell.h"
#include "shm/rxq.h"
#include "tests/harness.h"
#include "tests/packet_builder.h"
#include "tests/pcap_writer.h"
#include "tests/rule_literals.h"

#define BE16(x) ((uint16_t)__builtin_bswap16(x))

/* The kinds of frame the pcap holds, in turn. */
enum kind { DNS, MARK0, WEB, JUNK, TLS, ICMP, KINDS };

struct expect {
	unsigned frames[KINDS];
	unsigned bytes[KINDS];
};

static struct frame make_frame(unsigned i, void *arg)
{
	struct expect *e = arg;
	struct frame f = {.length = 0};
	enum kind k = (enum kind)(i % KINDS);
	uint32_t src = 0x0a000001u + i; /* RSS spreads on the source */

	switch (k) {
	case DNS:
		f = frame_ipv4_l4(src, 0x0a000002u, 17, 1024 + i % 1000, 53, i % 40);
		break;
	case MARK0:
		f = frame_ipv4_l4(src, 0x0a000002u, 17, 1024 + i % 1000, 54, i % 40);
		break;
	case WEB:
		f = frame_ipv4_l4(src, 0x0a000002u, 6, 1024 + i % 1000, 80, i % 30);
		break;
	case JUNK:
		f = frame_ipv4_l4(src, 0x0a000002u, 17, 1, 9999, 0);
		break;
	case TLS:
		f = frame_ipv4_l4(src, 0x0a000002u, 6, 1024 + i % 1000, 443, i % 20);
		break;
	default:
		frame_eth(&f, NULL, NULL, 0x0800);
		frame_ipv4(&f, 0x0a000003u, 0x0a000004u, 1);
		frame_put(&f, "\x08\x00\x00\x00\x00\x01\x00\x01", 8);
		break;
	}
	e->frames[k]++;
	e->bytes[k] += (unsigned)f.length;
	return f;
}

static bool verbs(void)
{
	const char *b = getenv("MPFLOWD_BACKEND");

	return b && strcmp(b, "verbs") == 0;
}

static const struct mpf_flow_attr ingress = {.ingress = 1};

/* One rule per kind but ICMP (the default queue's); handles in h[]. */
static void install(struct mpf_client *c, uint64_t h[KINDS])
{
	static const struct mpf_flow_item_udp dns = {.hdr.dst_port = BE16(53)};
	static const struct mpf_flow_item_udp mark0 = {.hdr.dst_port = BE16(54)};
	static const struct mpf_flow_item_udp junk = {.hdr.dst_port = BE16(9999)};
	static const struct mpf_flow_item_udp uport = {.hdr.dst_port = BE16(0xffff)};
	static const struct mpf_flow_item_tcp web = {.hdr.dst_port = BE16(80)};
	static const struct mpf_flow_item_tcp tls = {.hdr.dst_port = BE16(443)};
	static const struct mpf_flow_item_tcp tport = {.hdr.dst_port = BE16(0xffff)};
	static const struct mpf_flow_action_queue q1 = {.index = 1}, q2 = {.index = 2};
	static const struct mpf_flow_action_mark id7 = {.id = 7}, id0 = {.id = 0};
	static const uint16_t spread[] = {2, 3};
	static const struct mpf_flow_action_rss rss = {
		.types = MPF_RSS_NONFRAG_IPV4_TCP, .queue_num = 2, .queue = spread};
	const struct mpf_flow_item p[KINDS - 1][4] = {
		[DNS] = {ITEM(ETH), ITEM(IPV4), ITEM(UDP, .spec = &dns, .mask = &uport), ITEM(END)},
		[MARK0] = {ITEM(ETH), ITEM(IPV4), ITEM(UDP, .spec = &mark0, .mask = &uport),
			   ITEM(END)},
		[WEB] = {ITEM(ETH), ITEM(IPV4), ITEM(TCP, .spec = &web, .mask = &tport), ITEM(END)},
		[JUNK] = {ITEM(ETH), ITEM(IPV4), ITEM(UDP, .spec = &junk, .mask = &uport),
			  ITEM(END)},
		[TLS] = {ITEM(ETH), ITEM(IPV4), ITEM(TCP, .spec = &tls, .mask = &tport), ITEM(END)},
	};
	const struct mpf_flow_action a[KINDS - 1][4] = {
		[DNS] = {ACTION(COUNT, NULL), ACTION(MARK, &id7), ACTION(QUEUE, &q1),
			 ACTION(END, NULL)},
		[MARK0] = {ACTION(COUNT, NULL), ACTION(MARK, &id0), ACTION(QUEUE, &q1),
			   ACTION(END, NULL)},
		[WEB] = {ACTION(COUNT, NULL), ACTION(FLAG, NULL), ACTION(QUEUE, &q2),
			 ACTION(END, NULL)},
		[JUNK] = {ACTION(COUNT, NULL), ACTION(DROP, NULL), ACTION(END, NULL)},
		[TLS] = {ACTION(COUNT, NULL), ACTION(RSS, &rss), ACTION(END, NULL)},
	};
	struct mpf_flow_error error;

	for (int k = 0; k < KINDS - 1; k++)
		assert_int_equal(mpf_flow_create(c, 0, &ingress, p[k], a[k], 0, &h[k], &error), 0);
}

static unsigned dport(const struct mpf_packet *pkt)
{
	/* Ethernet, IPv4 without options, then the L4 ports. */
	return pkt->length >= 38 ? (unsigned)pkt->data[36] << 8 | pkt->data[37] : 0;
}

/* What one queue received, by kind. */
struct got {
	unsigned frames[KINDS];
	unsigned bytes[KINDS];
	unsigned total;
};

static enum kind kind_of(const struct mpf_packet *pkt)
{
	if (pkt->length >= 24 && pkt->data[23] == 1)
		return ICMP;
	switch (dport(pkt)) {
	case 53:
		return DNS;
	case 54:
		return MARK0;
	case 80:
		return WEB;
	case 443:
		return TLS;
	default:
		return JUNK;
	}
}

/* Read queue `q` until `expect` frames came (10 s at most), checking each
 * frame's mark and flag against what its rule says; with `all`, on until
 * nothing came for half a second. */
static void drain(struct mpf_rxq *q, unsigned queue, unsigned expect, bool all, struct got *g)
{
	static uint8_t buf[64 * MPF_RXQ_PACKET_MAX];
	struct mpf_packet pkts[64];
	time_t deadline = time(NULL) + 10;
	unsigned quiet = 0;

	memset(g, 0, sizeof(*g));
	while ((g->total < expect || (all && quiet < 5)) && time(NULL) < deadline) {
		int n = mpf_rxq_burst(q, pkts, 64, buf, sizeof(buf));

		assert_true(n >= 0);
		if (n == 0) {
			quiet += mpf_rxq_wait(q, 100) == 0;
			continue;
		}
		quiet = 0;
		for (int i = 0; i < n; i++) {
			enum kind k = kind_of(&pkts[i]);
			uint32_t marks = pkts[i].flags & (MPF_PACKET_MARK | MPF_PACKET_FLAG);

			assert_int_equal(pkts[i].queue, queue);
			assert_int_equal(pkts[i].length, pkts[i].wire_length);
			if (k == DNS || k == MARK0) {
				assert_int_equal(marks, MPF_PACKET_MARK);
				assert_int_equal(pkts[i].mark, k == DNS ? 7 : 0);
			} else if (k == WEB) {
				assert_int_equal(marks, MPF_PACKET_FLAG);
			} else {
				assert_int_equal(marks, 0);
			}
			/* soft says which frames no rule decided; the verbs
			 * device does not (docs/backends.md). */
			if (!verbs())
				assert_int_equal((pkts[i].flags & MPF_PACKET_DEFAULT) != 0,
						 k == ICMP);
			g->frames[k]++;
			g->bytes[k] += pkts[i].length;
			g->total++;
		}
	}
	/* Nothing more may come. */
	usleep(100000);
	assert_int_equal(mpf_rxq_burst(q, pkts, 64, buf, sizeof(buf)), 0);
}

static void expect_count(struct mpf_client *c, uint64_t handle, unsigned hits, unsigned bytes)
{
	struct mpf_flow_query_count count = {.fresh = 1};
	struct mpf_flow_error error;

	assert_int_equal(mpf_flow_query(c, 0, handle, MPF_FLOW_ACTION_TYPE_COUNT, &count, &error),
			 0);
	assert_int_equal(count.hits, hits);
	assert_int_equal(count.bytes, bytes);
}

struct setup {
	struct primary p;
	struct mpf_client *c;
	char pcap[128], source[192];
	struct expect e;
	uint64_t h[KINDS];
};

/* A primary that replays `frames` frames at `pps` (0: at once) from 2 s
 * after its start, the rules installed; `rxq_size`: --rxq-size. */
static void start(struct setup *s, unsigned frames, unsigned pps, const char *rxq_size)
{
	const char *args[] = {"--source", s->source, "--queues", "4", "--rxq-size", rxq_size, NULL};

	snprintf(s->pcap, sizeof(s->pcap), "/tmp/mpflow-delivery-%d.pcap", (int)getpid());
	memset(&s->e, 0, sizeof(s->e));
	assert_int_equal(pcap_write_frames(s->pcap, frames, make_frame, &s->e), 0);
	if (pps)
		snprintf(s->source, sizeof(s->source), "0=pcap:%s,delay=2000,pps=%u", s->pcap, pps);
	else
		snprintf(s->source, sizeof(s->source), "0=pcap:%s,delay=2000", s->pcap);
	assert_int_equal(primary_start(&s->p, args), 0);
	assert_int_equal(primary_connect(&s->p, "delivery", &s->c), 0);
	install(s->c, s->h);
}

static void stop(struct setup *s)
{
	mpf_disconnect(s->c);
	assert_int_equal(primary_stop(&s->p), 0);
	assert_int_equal(primary_cleanup(&s->p), 0);
	unlink(s->pcap);
}

static void test_frames_reach_the_queue_their_rule_names_with_mark_and_flag(void **state)
{
	struct setup s;
	struct mpf_rxq *q[4];
	struct got g[4];
	struct mpf_rxq_stats stats;
	struct mpf_flow_error error;

	(void)state;
	/* The frames come at once: each queue's memory holds all of its
	 * share (verbs: 4,096 buffers) while the test reads another. */
	start(&s, 6000, 0, "8388608");
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(mpf_rxq_attach(s.c, 0, (uint16_t)i, &q[i], &error), 0);
	drain(q[1], 1, s.e.frames[DNS] + s.e.frames[MARK0], false, &g[1]);
	drain(q[0], 0, s.e.frames[ICMP], false, &g[0]);
	/* Queue 2 has WEB and part of TLS, queue 3 the rest of TLS. */
	drain(q[2], 2, s.e.frames[WEB], true, &g[2]);
	drain(q[3], 3, s.e.frames[TLS] - g[2].frames[TLS], false, &g[3]);

	assert_int_equal(g[1].frames[DNS], s.e.frames[DNS]);
	assert_int_equal(g[1].frames[MARK0], s.e.frames[MARK0]);
	assert_int_equal(g[1].total, s.e.frames[DNS] + s.e.frames[MARK0]);
	assert_int_equal(g[0].total, s.e.frames[ICMP]);
	assert_int_equal(g[0].bytes[ICMP], s.e.bytes[ICMP]);
	assert_int_equal(g[2].frames[WEB], s.e.frames[WEB]);
	assert_int_equal(g[2].bytes[WEB], s.e.bytes[WEB]);
	assert_int_equal(g[2].frames[TLS] + g[3].frames[TLS], s.e.frames[TLS]);
	assert_int_equal(g[3].total, g[3].frames[TLS]);
	/* RSS spread them: each queue of the set took a share. */
	assert_true(g[2].frames[TLS] > s.e.frames[TLS] / 5);
	assert_true(g[3].frames[TLS] > s.e.frames[TLS] / 5);
	assert_int_equal(
		g[0].frames[JUNK] + g[1].frames[JUNK] + g[2].frames[JUNK] + g[3].frames[JUNK], 0);

	for (int k = 0; k < KINDS - 1; k++)
		expect_count(s.c, s.h[k], s.e.frames[k], s.e.bytes[k]);
	mpf_rxq_stats(q[1], &stats);
	assert_int_equal(stats.packets, g[1].total);
	assert_int_equal(stats.dropped, 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(mpf_rxq_detach(q[i], &error), 0);
	stop(&s);
}

/* A secondary that does not read holds only its own queue: the NIC drops
 * what finds no buffer there, the other queues get everything; once it
 * reads, its buffers go back and frames flow again. */
static void test_a_stalled_queue_costs_only_its_own_frames(void **state)
{
	struct setup s;
	struct mpf_rxq *q1, *q2;
	struct got g;
	struct mpf_flow_error error;
	struct mpf_client *other;
	static uint8_t buf[64 * MPF_RXQ_PACKET_MAX];
	struct mpf_packet pkts[64];
	unsigned read = 0;

	(void)state;
	if (!verbs())
		skip(); /* soft's rings: test_datapath's overflow cases */
	/* 12,000 frames at 4,000 a second: 2,000 for queue 1, more than
	 * the 256 buffers a queue has with --rxq-size 524288. */
	start(&s, 12000, 4000, "524288");
	assert_int_equal(primary_connect(&s.p, "reader", &other), 0);
	assert_int_equal(mpf_rxq_attach(s.c, 0, 1, &q1, &error), 0);
	assert_int_equal(mpf_rxq_attach(other, 0, 2, &q2, &error), 0);
	drain(q2, 2, s.e.frames[WEB], true, &g);
	assert_int_equal(g.frames[WEB], s.e.frames[WEB]);
	/* Queue 1's client read nothing: it holds every buffer it had. */
	for (int n; (n = mpf_rxq_burst(q1, pkts, 64, buf, sizeof(buf))) > 0;)
		read += (unsigned)n;
	assert_true(read > 0);
	assert_true(read < s.e.frames[DNS] + s.e.frames[MARK0]);
	assert_int_equal(mpf_rxq_detach(q1, &error), 0);
	assert_int_equal(mpf_rxq_detach(q2, &error), 0);
	mpf_disconnect(other);
	stop(&s);
}

/* A secondary that hands back a buffer it does not hold breaks its own
 * queue, nothing else: the primary lives, the other queues deliver. */
static void test_a_forged_buffer_return_breaks_only_that_queue(void **state)
{
	struct setup s;
	struct mpf_rxq *q1, *q2;
	struct got g;
	struct mpf_flow_error error;
	struct client_queue *raw;
	uint32_t forged[2] = {0xffffffu, 0};

	(void)state;
	if (!verbs())
		skip(); /* soft's queues take nothing back */
	start(&s, 6000, 2000, "2097152");
	assert_int_equal(mpf_rxq_attach(s.c, 0, 1, &q1, &error), 0);
	assert_int_equal(mpf_rxq_attach(s.c, 0, 2, &q2, &error), 0);
	raw = (struct client_queue *)(void *)q1; /* its first member */
	assert_true(raw->zero_copy);
	/* Out of range, then one that is still posted on the WQ. */
	assert_int_equal(ring_enqueue(&raw->returns, forged, sizeof(forged)), 0);
	doorbell_ring(raw->primary_bell);
	drain(q2, 2, s.e.frames[WEB], true, &g);
	assert_int_equal(g.frames[WEB], s.e.frames[WEB]);
	assert_int_equal(kill(s.p.pid, 0), 0);
	/* Queue 1 is broken: what the NIC gave it is dropped, counted. */
	{
		static uint8_t buf[64 * MPF_RXQ_PACKET_MAX];
		struct mpf_packet pkts[64];
		struct mpf_rxq_stats stats;

		assert_int_equal(mpf_rxq_burst(q1, pkts, 64, buf, sizeof(buf)), 0);
		mpf_rxq_stats(q1, &stats);
		assert_int_equal(stats.packets, 0);
		assert_true(stats.dropped > 0);
	}
	assert_int_equal(mpf_rxq_detach(q1, &error), 0);
	/* Attached again, the queue is whole. */
	assert_int_equal(mpf_rxq_attach(s.c, 0, 1, &q1, &error), 0);
	assert_int_equal(mpf_rxq_detach(q1, &error), 0);
	assert_int_equal(mpf_rxq_detach(q2, &error), 0);
	stop(&s);
}

/* A thief: reads a bell it shares with the primary with blocking reads,
 * taking what was rung before the primary can (until cancelled). */
static void *steal(void *arg)
{
	int fd = *(const int *)arg;
	uint64_t rung;

	for (;;)
		if (read(fd, &rung, sizeof(rung)) < 0)
			usleep(100);
	return NULL;
}

/* What a hostile secondary does to a bell it holds: the O_NONBLOCK of the
 * open file description it shares with the primary cleared, and the
 * counter filled to one below its limit (refused where it cannot write). */
static void make_blocking_and_full(int fd)
{
	uint64_t full = 0xfffffffffffffffeull;
	ssize_t n;

	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
	n = write(fd, &full, sizeof(full));
	(void)n;
}

/* Another: a process of its own splices out of a bell it holds into a
 * socket whose peer never reads (or, where the kernel will not splice
 * that, a full pipe): the splice waits holding the bell's lock for as long
 * as it likes (a pipe's mutex; a socket's reading lock). */
static pid_t splice_forever(int fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		char junk[4096] = {0};
		int full[2], stuck[2];

		if (pipe2(full, O_NONBLOCK) != 0 ||
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, stuck) != 0)
			_exit(1);
		while (write(full[1], junk, sizeof(junk)) > 0)
			;
		while (write(stuck[0], junk, sizeof(junk)) > 0)
			;
		if (fcntl(full[1], F_SETFL, 0) != 0 || fcntl(stuck[0], F_SETFL, 0) != 0 ||
		    fcntl(fd, F_SETFL, 0) != 0)
			_exit(1);
		for (;;)
			if (splice(fd, NULL, stuck[0], NULL, sizeof(junk), 0) < 0 &&
			    splice(fd, NULL, full[1], NULL, sizeof(junk), 0) < 0)
				usleep(1000);
	}
	return pid;
}

/*
 * A secondary holds doorbells it shares with the primary: its completion
 * bell, its own bell to the primary, its queues' bells. Whatever it does
 * to them (their O_NONBLOCK cleared, counters filled, what the primary
 * would read taken first, splices out of them that never end, wakeups
 * asked for and never read), the primary
 * and its datapath never wait on them: another client's frames still
 * arrive and its requests are answered, and SIGTERM stops the primary.
 * (Before, the loop blocked for good in write() on the client's bell or
 * in read() on its own, and the datapath worker on a queue's bell; with
 * the bells it rings as pipes, in write() on the pipe's mutex.)
 */
static void test_a_secondary_cannot_make_the_primary_wait_on_a_doorbell(void **state)
{
	const struct mpf_flow_action drop[] = {ACTION(DROP, NULL), ACTION(END, NULL)};
	const struct mpf_flow_item any[] = {ITEM(ETH), ITEM(END)};
	static const struct mpf_flow_attr egress = {.egress = 1};
	struct mpf_connect_options o = {.name = "victim", .timeout_ms = 10000};
	pthread_t thieves[2];
	pid_t splicers[2];
	int stolen[2];
	struct client_queue *bad_rx;
	struct mpf_client *bad, *victim;
	struct mpf_rxq *q1, *q2;
	struct mpf_txq *tq = NULL;
	struct mpf_flow_error error;
	struct setup s;
	struct got g;
	uint64_t handle;
	unsigned n_thieves = 0;

	(void)state;
	start(&s, 6000, 2000, "2097152");
	o.runtime_dir = s.p.dir;
	assert_int_equal(primary_connect(&s.p, "hostile", &bad), 0);
	assert_int_equal(mpf_rxq_attach(bad, 0, 1, &q1, &error), 0);
	bad_rx = (struct client_queue *)(void *)q1; /* its first member */
	if (!verbs())				    /* soft's TX queues: a bell the worker drains */
		assert_int_equal(mpf_txq_attach(bad, 0, 0, &tq, &error), 0);

	splicers[0] = splice_forever(bad->client_bell);
	splicers[1] = splice_forever(bad_rx->bell);
	assert_true(splicers[0] > 0 && splicers[1] > 0);
	make_blocking_and_full(bad->client_bell);
	make_blocking_and_full(bad_rx->bell);
	for (unsigned i = 0; i < bad_rx->n_rings; i++)
		shm_store_seq_cst32(&bad_rx->rings[i].shared->consumer_flags, RING_NEED_WAKEUP);
	if (tq) /* never rung: a drain of it would wait */
		assert_int_equal(fcntl(((struct client_queue *)(void *)tq)->bell, F_SETFL, 0), 0);
	stolen[n_thieves++] = bad->primary_bell;
	if (bad_rx->primary_bell >= 0) /* verbs: the bell of returned buffers */
		stolen[n_thieves++] = bad_rx->primary_bell;
	for (unsigned i = 0; i < n_thieves; i++) {
		assert_int_equal(fcntl(stolen[i], F_SETFL, 0), 0);
		assert_int_equal(pthread_create(&thieves[i], NULL, steal, &stolen[i]), 0);
	}
	/* A request whose completion the primary must ring for. */
	shm_store_seq_cst32(&bad->completions.shared->consumer_flags, RING_NEED_WAKEUP);
	assert_int_equal(mpf_submit_create(bad, 0, &egress, any, drop, 0, 1, &error), 0);
	assert_int_equal(mpf_submit_publish(bad), 0);

	/* Another client: its frames come, its requests are answered. */
	assert_int_equal(mpf_connect(&o, &victim, &error), 0);
	assert_int_equal(mpf_rxq_attach(victim, 0, 2, &q2, &error), 0);
	drain(q2, 2, s.e.frames[WEB], true, &g);
	assert_int_equal(g.frames[WEB], s.e.frames[WEB]);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(mpf_flow_create(victim, 0, &egress, any, drop, 0, &handle, &error),
				 0);
		assert_int_equal(mpf_flow_destroy(victim, 0, handle, &error), 0);
	}
	expect_count(s.c, s.h[WEB], s.e.frames[WEB], s.e.bytes[WEB]);
	assert_int_equal(mpf_rxq_detach(q2, &error), 0);
	mpf_disconnect(victim);

	for (unsigned i = 0; i < n_thieves; i++) {
		assert_int_equal(pthread_cancel(thieves[i]), 0); /* in read() */
		assert_int_equal(pthread_join(thieves[i], NULL), 0);
	}
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(kill(splicers[i], SIGKILL), 0);
		assert_int_equal(waitpid(splicers[i], NULL, 0), splicers[i]);
	}
	assert_int_equal(mpf_rxq_detach(q1, &error), 0);
	if (tq)
		assert_int_equal(mpf_txq_detach(tq, &error), 0);
	mpf_disconnect(bad);
	stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_reach_the_queue_their_rule_names_with_mark_and_flag),
		cmocka_unit_test(test_a_stalled_queue_costs_only_its_own_frames),
		cmocka_unit_test(test_a_forged_buffer_return_breaks_only_that_queue),
		cmocka_unit_test(test_a_secondary_cannot_make_the_primary_wait_on_a_doorbell),
	};

	return cmocka_run_group_tests_name("delivery", tests, NULL, NULL);
}
