/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The software datapath end to end: a real mpflowd replays a pcap the test
 * wrote, a real client installs rules, attaches RX queues and reads them;
 * every counter and every queue is compared with what the test computed
 * from the frames it wrote. A second case sends frames into a veth pair in
 * a network namespace the test makes (skipped without CAP_NET_ADMIN).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <arpa/inet.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "tests/harness.h"
#include "tests/packet_builder.h"
#include "tests/pcap_writer.h"

#include "tests/rule_literals.h"
#define BE16(x) ((uint16_t)__builtin_bswap16(x))
#define BE32(x) ((uint32_t)__builtin_bswap32(x))

/* What the test sends, by kind, and what it expects each rule to count. */
struct traffic {
	unsigned dns, dns_bytes;     /* UDP to port 53: rule 1, queue 1 */
	unsigned web, web_bytes;     /* TCP to port 80: rule 2, dropped */
	unsigned icmp, icmp_bytes;   /* ICMP: rule 3 counts, default queue */
	unsigned other, other_bytes; /* nothing matches: default queue */
};

static struct frame make_frame(unsigned i, void *arg)
{
	struct traffic *t = arg;
	struct frame f = {.length = 0};

	switch (i % 7) {
	case 0:
	case 1:
	case 2:
		f = frame_ipv4_l4(0x0a000001u + i, 0x0a000002u, 17, 1024 + i, 53, i % 50);
		t->dns++;
		t->dns_bytes += (unsigned)f.length;
		break;
	case 3:
	case 4:
		f = frame_ipv4_l4(0x0a000001u + i, 0x0a000002u, 6, 1024 + i, 80, i % 30);
		t->web++;
		t->web_bytes += (unsigned)f.length;
		break;
	case 5:
		frame_eth(&f, NULL, NULL, 0x0800);
		frame_ipv4(&f, 0x0a000003u, 0x0a000004u, 1);
		frame_put(&f, "\x08\x00\x00\x00\x00\x01\x00\x01", 8);
		t->icmp++;
		t->icmp_bytes += (unsigned)f.length;
		break;
	default:
		f = frame_ipv4_l4(0x0a000001u, 0x0a000002u, 17, 1, 9999, 0);
		t->other++;
		t->other_bytes += (unsigned)f.length;
		break;
	}
	return f;
}

static unsigned count_pcap(const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, errbuf);
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned n = 0;

	assert_non_null(p);
	while (pcap_next_ex(p, &h, &data) == 1)
		n++;
	pcap_close(p);
	return n;
}

static const struct mpf_flow_attr ingress = {.ingress = 1};
static const struct mpf_flow_action_queue to_q1 = {.index = 1};

/* Rules 1-3 of struct traffic; handles in h[]. */
static void install(struct mpf_client *c, uint64_t h[3], unsigned flags)
{
	const struct mpf_flow_item_udp dns = {.hdr.dst_port = BE16(53)};
	const struct mpf_flow_item_udp port = {.hdr.dst_port = BE16(0xffff)};
	const struct mpf_flow_item_tcp web = {.hdr.dst_port = BE16(80)};
	const struct mpf_flow_item_tcp tport = {.hdr.dst_port = BE16(0xffff)};
	const struct mpf_flow_item p_dns[] = {ITEM(ETH), ITEM(IPV4),
					      ITEM(UDP, .spec = &dns, .mask = &port), ITEM(END)};
	const struct mpf_flow_item p_web[] = {ITEM(ETH), ITEM(IPV4),
					      ITEM(TCP, .spec = &web, .mask = &tport), ITEM(END)};
	const struct mpf_flow_item p_icmp[] = {ITEM(IPV4), ITEM(ICMP), ITEM(END)};
	const struct mpf_flow_action a_dns[] = {ACTION(COUNT, NULL), ACTION(QUEUE, &to_q1),
						ACTION(END, NULL)};
	const struct mpf_flow_action a_web[] = {ACTION(COUNT, NULL), ACTION(DROP, NULL),
						ACTION(END, NULL)};
	const struct mpf_flow_action a_icmp[] = {ACTION(COUNT, NULL), ACTION(END, NULL)};
	struct mpf_flow_error error;

	assert_int_equal(mpf_flow_create(c, 0, &ingress, p_dns, a_dns, flags, &h[0], &error), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, p_web, a_web, flags, &h[1], &error), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, p_icmp, a_icmp, flags, &h[2], &error), 0);
}

/* Wait until rule `handle` counted `hits` (or 5 s passed). */
static void settle(struct mpf_client *c, uint64_t handle, unsigned hits)
{
	for (int tries = 0; tries < 100; tries++) {
		struct mpf_flow_query_count count = {0};

		mpf_flow_query(c, 0, handle, MPF_FLOW_ACTION_TYPE_COUNT, &count, NULL);
		if (count.hits == hits)
			break;
		usleep(50000);
	}
}

/* The same for port 0's received frames. */
static void settle_port(struct mpf_client *c, uint64_t packets)
{
	for (int tries = 0; tries < 100; tries++) {
		struct mpf_port_stats ps = {0};

		if (mpf_port_stats(c, 0, &ps) == 0 && ps.rx_packets == packets)
			break;
		usleep(50000);
	}
}

/* Every rule of install() and the port have counted what was sent: with
 * several workers each publishes its own, and one can be behind. */
static void settle_all(struct mpf_client *c, const uint64_t h[3], const struct traffic *t,
		       uint64_t packets)
{
	settle(c, h[0], t->dns);
	settle(c, h[1], t->web);
	settle(c, h[2], t->icmp);
	settle_port(c, packets);
}

static void expect_count(struct mpf_client *c, uint64_t handle, unsigned hits, unsigned bytes)
{
	struct mpf_flow_query_count count = {0};
	struct mpf_flow_error error;

	assert_int_equal(mpf_flow_query(c, 0, handle, MPF_FLOW_ACTION_TYPE_COUNT, &count, &error),
			 0);
	assert_int_equal(count.hits, hits);
	assert_int_equal(count.bytes, bytes);
}

/* Drain a queue until `expect` packets came or 10 s passed; returns how
 * many, checking each one's length against its wire length, and how many
 * were delivered by default (no rule decided) in *defaults. */
static unsigned drain(struct mpf_rxq *q, unsigned expect, unsigned *bytes, unsigned *defaults)
{
	static uint8_t buf[1 << 20];
	struct mpf_packet pkts[64];
	unsigned got = 0;
	time_t deadline = time(NULL) + 10;

	*bytes = *defaults = 0;
	while (got < expect && time(NULL) < deadline) {
		int n = mpf_rxq_burst(q, pkts, 64, buf, sizeof(buf));

		assert_true(n >= 0);
		if (n == 0) {
			mpf_rxq_wait(q, 100);
			continue;
		}
		for (int i = 0; i < n; i++) {
			assert_int_equal(pkts[i].length, pkts[i].wire_length);
			*bytes += pkts[i].length;
			*defaults += (pkts[i].flags & MPF_PACKET_DEFAULT) != 0;
		}
		got += (unsigned)n;
	}
	/* Nothing more may come. */
	usleep(100000);
	assert_int_equal(mpf_rxq_burst(q, pkts, 64, buf, sizeof(buf)), 0);
	return got;
}

/* The port's statistics say what became of every frame of the pcap, the
 * same through a session and a monitor; a reset starts them from zero. */
static void expect_port_stats(const struct primary *p, struct mpf_client *c,
			      const struct traffic *t)
{
	struct mpf_port_stats s, m;
	struct mpf_queue_stats q;
	struct mpf_monitor *monitor;
	struct mpf_connect_options options = {.runtime_dir = p->dir};
	struct mpf_flow_error error;
	unsigned frames = t->dns + t->web + t->icmp + t->other;

	assert_int_equal(mpf_port_stats(c, 0, &s), 0);
	assert_int_equal(s.rx_packets, frames);
	assert_int_equal(s.rx_bytes, t->dns_bytes + t->web_bytes + t->icmp_bytes + t->other_bytes);
	assert_int_equal(s.rx_dropped, t->web);
	assert_int_equal(s.rx_default, t->icmp + t->other);
	assert_int_equal(s.rx_undelivered, 0);
	assert_int_equal(s.rx_missed, 0);
	assert_int_equal(s.tx_packets, 0);
	assert_int_equal(s.queue_full, 0);
	assert_int_equal(s.queue_unattached, 0);
	assert_int_equal(mpf_queue_stats(c, 0, 1, &q), 0);
	assert_int_equal(q.packets, t->dns);
	assert_int_equal(q.bytes, t->dns_bytes);
	assert_int_equal(mpf_queue_stats(c, 0, 0, &q), 0);
	assert_int_equal(q.packets, t->icmp + t->other);
	assert_int_equal(q.bytes, t->icmp_bytes + t->other_bytes);
	assert_int_equal(mpf_queue_stats(c, 0, 2, &q), 0);
	assert_int_equal(q.packets + q.full + q.unattached, 0);
	/* What does not exist is refused. */
	assert_int_equal(mpf_port_stats(c, 1, &s), -EINVAL);
	assert_int_equal(mpf_queue_stats(c, 0, 4, &q), -EINVAL);
	assert_int_equal(mpf_queue_stats(c, 0, MPF_RXQ_VF(0), &q), -EINVAL);
	assert_int_equal(mpf_port_stats_reset(c, 1, &error), -EINVAL);
	/* A monitor reads the same figures. */
	assert_int_equal(mpf_monitor_open(&options, &monitor, &error), 0);
	assert_int_equal(mpf_port_stats(c, 0, &s), 0);
	assert_int_equal(mpf_monitor_port_stats(monitor, 0, &m), 0);
	assert_memory_equal(&s, &m, sizeof(s));
	/* Reset: zero for everyone, the rules' counters untouched. */
	assert_int_equal(mpf_port_stats_reset(c, 0, &error), 0);
	assert_int_equal(mpf_monitor_port_stats(monitor, 0, &m), 0);
	assert_int_equal(m.rx_packets + m.rx_bytes + m.rx_dropped + m.rx_default, 0);
	assert_int_equal(mpf_monitor_queue_stats(monitor, 0, 1, &q), 0);
	assert_int_equal(q.packets + q.bytes, 0);
	mpf_monitor_close(monitor);
}

static void test_pcap_replay_counts_and_delivers_exactly(void **state)
{
	struct primary p;
	struct traffic t = {0};
	char pcap[128], source[192], dump[128];
	const char *args[] = {"--source", source, "--dump-queues", dump, NULL};
	struct mpf_client *c;
	struct mpf_rxq *q0, *q1;
	struct mpf_rxq_stats stats;
	struct mpf_flow_error error;
	uint64_t h[3];
	unsigned bytes, defaults;
	struct timespec t0, t1;

	(void)state;
	snprintf(pcap, sizeof(pcap), "/tmp/mpflow-datapath-%d.pcap", (int)getpid());
	snprintf(dump, sizeof(dump), "/tmp/mpflow-dump-%d", (int)getpid());
	assert_int_equal(mkdir(dump, 0700), 0);
	assert_int_equal(pcap_write_frames(pcap, 7000, make_frame, &t), 0);
	/* The replay starts 3 s after the primary: rules and queues first. */
	snprintf(source, sizeof(source), "0=pcap:%s,delay=3000", pcap);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(primary_connect(&p, "datapath", &c), 0);
	install(c, h, 0);
	assert_int_equal(mpf_rxq_attach(c, 0, 0, &q0, &error), 0);
	assert_int_equal(mpf_rxq_attach(c, 0, 1, &q1, &error), 0);
	assert_int_equal(mpf_rxq_attach(c, 0, 1, &q1, &error), -EBUSY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (t1.tv_sec - t0.tv_sec >= 3)
		fail_msg("setting up took longer than the replay delay");

	assert_int_equal(drain(q1, t.dns, &bytes, &defaults), t.dns);
	assert_int_equal(bytes, t.dns_bytes);
	assert_int_equal(defaults, 0);
	assert_int_equal(drain(q0, t.icmp + t.other, &bytes, &defaults), t.icmp + t.other);
	assert_int_equal(defaults, t.icmp + t.other); /* no rule decided their fate */
	expect_port_stats(&p, c, &t);
	expect_count(c, h[0], t.dns, t.dns_bytes);
	expect_count(c, h[1], t.web, t.web_bytes);
	expect_count(c, h[2], t.icmp, t.icmp_bytes);
	mpf_rxq_stats(q1, &stats);
	assert_int_equal(stats.packets, t.dns);
	assert_int_equal(stats.dropped, 0);
	assert_int_equal(mpf_rxq_detach(q0, &error), 0);
	assert_int_equal(mpf_rxq_detach(q1, &error), 0);
	mpf_disconnect(c);
	assert_int_equal(primary_stop(&p), 0);
	assert_int_equal(primary_cleanup(&p), 0);
	/* --dump-queues saw the same packets. */
	snprintf(source, sizeof(source), "%s/port0-queue1.pcap", dump);
	assert_int_equal(count_pcap(source), t.dns);
	snprintf(source, sizeof(source), "%s/port0-queue0.pcap", dump);
	assert_int_equal(count_pcap(source), t.icmp + t.other);
	unlink(pcap);
	/* Its own directory only: another run's may be in /tmp too. */
	snprintf(source, sizeof(source), "rm -rf %s", dump);
	assert_int_equal(system(source), 0);
}

/* A rule's hits and bytes as a monitor reads them (0 if it is not there). */
static void monitor_count(struct mpf_monitor *m, uint64_t handle, uint64_t *hits, uint64_t *bytes)
{
	struct mpf_flow_info info;
	uint32_t cursor = 0;

	*hits = *bytes = 0;
	while (mpf_monitor_scan(m, &cursor, &info) == 1)
		if (info.handle == handle) {
			*hits = info.hits;
			*bytes = info.bytes;
		}
}

/* Persistent rules come back from the journal taking traffic at once:
 * before any client has a session with the restarted primary (a monitor
 * reads the counters, asking the primary nothing). */
static void test_restored_rules_take_traffic_before_any_request(void **state)
{
	struct primary p;
	struct traffic t = {0};
	char pcap[128], source[192];
	const char *args[] = {"--source", source, NULL};
	struct mpf_connect_options o = {.runtime_dir = p.dir};
	const unsigned *expect[3][2] = {
		{&t.dns, &t.dns_bytes}, {&t.web, &t.web_bytes}, {&t.icmp, &t.icmp_bytes}};
	struct mpf_monitor *m;
	struct mpf_client *c;
	uint64_t h[3], hits, bytes;

	(void)state;
	snprintf(pcap, sizeof(pcap), "/tmp/mpflow-restored-%d.pcap", (int)getpid());
	assert_int_equal(pcap_write_frames(pcap, 700, make_frame, &t), 0);
	assert_int_equal(primary_start(&p, NULL), 0);
	assert_int_equal(primary_connect(&p, "before", &c), 0);
	install(c, h, MPF_FLOW_PERSISTENT);
	mpf_disconnect(c);
	assert_int_equal(primary_stop(&p), 0);
	snprintf(source, sizeof(source), "0=pcap:%s,delay=500", pcap);
	assert_int_equal(primary_restart(&p, args), 0);
	assert_int_equal(mpf_monitor_open(&o, &m, NULL), 0);
	for (int tries = 0; tries < 100; tries++) {
		monitor_count(m, h[2], &hits, &bytes);
		if (hits == t.icmp)
			break;
		usleep(50000);
	}
	for (unsigned i = 0; i < 3; i++) {
		monitor_count(m, h[i], &hits, &bytes);
		assert_int_equal(hits, *expect[i][0]);
		assert_int_equal(bytes, *expect[i][1]);
	}
	mpf_monitor_close(m);
	assert_int_equal(primary_stop(&p), 0);
	assert_int_equal(primary_cleanup(&p), 0);
	unlink(pcap);
}

/* A gen: source sends its flows round robin to the port dport= names: the
 * flow a rule picks out by source address and that port counts its share
 * of the frames exactly, and none reach the default port 80. */
static void test_generated_flows_go_to_the_port_asked(void **state)
{
	static const char *const args[] = {"--source",
					   "0=gen:flows=4,dport=4789,count=400,delay=1000", NULL};
	const struct mpf_flow_item_ipv4 one = {.hdr.src_addr = BE32(0x0a000001)},
					two = {.hdr.src_addr = BE32(0x0a000002)},
					ip_mask = {.hdr.src_addr = 0xffffffff};
	const struct mpf_flow_item_udp vxlan = {.hdr.dst_port = BE16(4789)},
				       web = {.hdr.dst_port = BE16(80)},
				       port_mask = {.hdr.dst_port = 0xffff};
	const struct mpf_flow_item asked[] = {ITEM(ETH), ITEM(IPV4, .spec = &one, .mask = &ip_mask),
					      ITEM(UDP, .spec = &vxlan, .mask = &port_mask),
					      ITEM(END)};
	const struct mpf_flow_item usual[] = {ITEM(ETH), ITEM(IPV4, .spec = &two, .mask = &ip_mask),
					      ITEM(UDP, .spec = &web, .mask = &port_mask),
					      ITEM(END)};
	const struct mpf_flow_action count[] = {ACTION(COUNT, NULL), ACTION(END, NULL)};
	struct mpf_flow_query_count q = {0}, none = {0};
	struct mpf_flow_error error;
	struct mpf_client *c;
	struct primary p;
	uint64_t h[2];

	(void)state;
	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(primary_connect(&p, "gen", &c), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, asked, count, 0, &h[0], &error), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, usual, count, 0, &h[1], &error), 0);
	for (int tries = 0; tries < 200 && q.hits < 100; tries++) {
		usleep(50000);
		assert_int_equal(mpf_flow_query(c, 0, h[0], MPF_FLOW_ACTION_TYPE_COUNT, &q, &error),
				 0);
	}
	assert_int_equal(q.hits, 100); /* flow 1 of 4, of 400 frames */
	assert_int_equal(q.bytes, 100 * 64);
	assert_int_equal(mpf_flow_query(c, 0, h[1], MPF_FLOW_ACTION_TYPE_COUNT, &none, &error), 0);
	assert_int_equal(none.hits, 0);
	mpf_disconnect(c);
	assert_int_equal(primary_cleanup(&p), 0);
}

static void test_meter_objects_through_the_service(void **state)
{
	struct primary p;
	struct mpf_client *c;
	struct mpf_flow_error error;
	const struct mpf_meter_params params = {
		.cir = 1000, .cbs = 100, .pir = 2000, .pbs = 200, .drop = MPF_METER_DROP_RED};
	const struct mpf_meter_params bad = {.cir = 3000, .cbs = 100, .pir = 2000, .pbs = 200};
	const struct mpf_flow_action_meter meter = {.mtr_id = 4};
	const struct mpf_flow_item eth[] = {ITEM(ETH), ITEM(END)};
	const struct mpf_flow_action metered[] = {ACTION(METER, &meter), ACTION(END, NULL)};
	struct mpf_meter_stats stats;
	uint64_t handle;

	(void)state;
	assert_int_equal(primary_start(&p, NULL), 0);
	assert_int_equal(primary_connect(&p, "meters", &c), 0);
	assert_int_equal(mpf_meter_create(c, 0, 4, &bad, &error), -EINVAL);
	assert_int_equal(mpf_meter_create(c, 0, 4, &params, &error), 0);
	assert_int_equal(mpf_meter_create(c, 0, 4, &params, &error), -EEXIST);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, eth, metered, 0, &handle, &error), 0);
	assert_int_equal(mpf_meter_destroy(c, 0, 4, &error), -EBUSY);
	assert_int_equal(mpf_meter_query(c, 0, 4, 0, &stats, &error), 0);
	assert_int_equal(stats.packets[MPF_COLOR_GREEN], 0);
	assert_int_equal(mpf_flow_destroy(c, 0, handle, &error), 0);
	assert_int_equal(mpf_meter_destroy(c, 0, 4, &error), 0);
	assert_int_equal(mpf_meter_query(c, 0, 4, 0, &stats, &error), -ENOENT);
	mpf_disconnect(c);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* ------------------------------------------------------------------------ */
/* Live: a veth pair in a namespace of our own                              */
/* ------------------------------------------------------------------------ */

static int sh(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* How many sessions the primary counts, read through a monitor. */
static uint32_t sessions(const struct primary *p)
{
	struct mpf_connect_options o = {.runtime_dir = p->dir};
	struct mpf_instance_info info = {0};
	struct mpf_flow_error error;
	struct mpf_monitor *m;

	assert_int_equal(mpf_monitor_open(&o, &m, &error), 0);
	assert_int_equal(mpf_monitor_instance(m, &info), 0);
	mpf_monitor_close(m);
	return info.clients;
}

struct waiter {
	struct mpf_rxq *q;
	int timeout_ms;
	int result;
};

static void *wait_on(void *arg)
{
	struct waiter *w = arg;

	w->result = mpf_rxq_wait(w->q, w->timeout_ms);
	return NULL;
}

static void transmit_all(struct mpf_txq *q, const struct frame *f, unsigned count);

/* Two datapath workers, each with its own TX queue of a loop: port (queue
 * q is worker q % 2's), classify with the same rules while rules come and
 * go: every count is the sum of both workers' copies and exact, the RX
 * queue gets both workers' packets (a ring each), and nothing is lost. */
struct churn {
	const struct primary *p;
	shm_u32 stop;
	shm_u32 made; /* rules made and gone */
};

static void *churn_rules(void *arg)
{
	struct churn *ch = arg;
	struct mpf_flow_error error;
	struct mpf_client *c;
	struct sample_rule r;

	if (primary_connect(ch->p, "churn", &c) != 0)
		return NULL;
	for (unsigned cycle = 0, made = 0; !shm_load_relaxed32(&ch->stop); cycle++) {
		uint64_t h[600];
		unsigned n = 0;

		/* Rules on 11.x.y.z, which the traffic never matches but
		 * probes: 600 at a time, so that their table grows four-fold
		 * several times, then empties and goes, under the lookups;
		 * destroyed one by one, or flushed (bursts of 32). */
		for (; n < 600 && !shm_load_relaxed32(&ch->stop); n++) {
			sample_rule_init(&r, 0x01000000u | (made + n));
			if (mpf_flow_create(c, 0, &ingress, r.pattern, r.actions, 0, &h[n], &error))
				break;
		}
		if (cycle % 2 && mpf_flow_flush(c, 0, &error) == 0)
			made += n;
		for (unsigned i = 0; cycle % 2 == 0 && i < n; i++)
			made += mpf_flow_destroy(c, 0, h[i], &error) == 0;
		shm_store_relaxed32(&ch->made, made);
	}
	mpf_disconnect(c);
	return NULL;
}

static void test_two_workers_classify_count_and_deliver_exactly(void **state)
{
	struct primary p;
	const char *args[] = {"--workers", "2", "--source", "0=loop:", NULL};
	const struct mpf_flow_item_udp dport = {.hdr.dst_port = BE16(0xffff)};
	const struct mpf_flow_item_udp to53 = {.hdr.dst_port = BE16(53)},
				       to9 = {.hdr.dst_port = BE16(9)};
	const struct mpf_flow_item p53[] = {ITEM(ETH), ITEM(IPV4),
					    ITEM(UDP, .spec = &to53, .mask = &dport), ITEM(END)};
	const struct mpf_flow_item p9[] = {ITEM(ETH), ITEM(IPV4),
					   ITEM(UDP, .spec = &to9, .mask = &dport), ITEM(END)};
	const struct mpf_flow_action to_q1_counted[] = {ACTION(COUNT, NULL), ACTION(QUEUE, &to_q1),
							ACTION(END, NULL)};
	const struct mpf_flow_action drop_counted[] = {ACTION(COUNT, NULL), ACTION(DROP, NULL),
						       ACTION(END, NULL)};
	struct frame a53 = frame_ipv4_l4(1, 2, 17, 1000, 53, 0),
		     b53 = frame_ipv4_l4(3, 4, 17, 2000, 53, 10),
		     a9 = frame_ipv4_l4(1, 2, 17, 1000, 9, 0);
	struct churn ch = {.p = &p};
	struct mpf_port_stats ps;
	struct mpf_rxq_stats rs;
	struct mpf_flow_error error;
	struct mpf_client *c;
	struct mpf_txq *tx0, *tx1;
	struct mpf_rxq *q1;
	pthread_t churner;
	uint64_t in53, in9;
	unsigned bytes, defaults;

	(void)state;
	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(primary_connect(&p, "workers", &c), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, p53, to_q1_counted, 0, &in53, &error), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, p9, drop_counted, 0, &in9, &error), 0);
	assert_int_equal(mpf_rxq_attach(c, 0, 1, &q1, &error), 0);
	assert_int_equal(mpf_txq_attach(c, 0, 0, &tx0, &error), 0);
	assert_int_equal(mpf_txq_attach(c, 0, 1, &tx1, &error), 0);
	assert_int_equal(pthread_create(&churner, NULL, churn_rules, &ch), 0);
	for (unsigned round = 0; round < 10; round++) {
		transmit_all(tx0, &a53, 500);
		transmit_all(tx1, &b53, 500);
		transmit_all(tx0, &a9, 300);
		transmit_all(tx1, &a9, 300);
		/* Drain as it comes: the queue holds less than all of it. */
		assert_int_equal(drain(q1, 1000, &bytes, &defaults), 1000);
		assert_int_equal(bytes, 500 * (a53.length + b53.length));
	}
	/* Two whole cycles at least: one destroyed, one flushed. */
	for (int tries = 0; tries < 400 && shm_load_relaxed32(&ch.made) < 1200; tries++)
		usleep(50000);
	shm_store_relaxed32(&ch.stop, 1);
	pthread_join(churner, NULL);
	assert_true(shm_load_relaxed32(&ch.made) >= 1200);
	expect_count(c, in53, 10000, 5000 * (unsigned)(a53.length + b53.length));
	settle(c, in9, 6000);
	expect_count(c, in9, 6000, 6000 * (unsigned)a9.length);
	assert_int_equal(mpf_port_stats(c, 0, &ps), 0);
	assert_int_equal(ps.rx_packets, 16000);
	assert_int_equal(ps.tx_packets, 16000);
	assert_int_equal(ps.rx_dropped, 6000);
	assert_int_equal(ps.queue_full, 0);
	mpf_rxq_stats(q1, &rs);
	assert_int_equal(rs.packets, 10000);
	assert_int_equal(mpf_txq_detach(tx0, &error), 0);
	assert_int_equal(mpf_txq_detach(tx1, &error), 0);
	assert_int_equal(mpf_rxq_detach(q1, &error), 0);
	mpf_disconnect(c);
	assert_int_equal(primary_stop(&p), 0);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* A queue's waits end when its session does: the primary killed, or the
 * client disconnected first; a queue detached after mpf_disconnect() is
 * only memory to free (no use of the freed client), and holding one does
 * not keep the session open in the primary. */
static void test_rx_queues_outlive_their_session_safely(void **state)
{
	struct primary p;
	struct mpf_client *c;
	struct mpf_rxq *q0, *q1;
	struct mpf_flow_error error;
	struct timespec t0, t1;

	(void)state;
	assert_int_equal(primary_start(&p, NULL), 0);
	assert_int_equal(primary_connect(&p, "holder", &c), 0);
	assert_int_equal(mpf_rxq_attach(c, 0, 0, &q0, &error), 0);
	assert_int_equal(mpf_rxq_attach(c, 0, 1, &q1, &error), 0);
	assert_int_equal(mpf_rxq_wait(q0, 10), 0); /* nothing yet: a timeout */
	mpf_disconnect(c);
	for (int i = 0; i < 100 && sessions(&p) != 0; i++)
		usleep(20000);
	assert_int_equal(sessions(&p), 0); /* the queues did not keep it open */
	assert_int_equal(mpf_rxq_wait(q0, 5000), -ESHUTDOWN);
	assert_int_equal(mpf_rxq_detach(q0, &error), 0);

	/* A thread waiting on a queue while another disconnects the client:
	 * the wait ends with ESHUTDOWN, and the primary sees the session end
	 * at once, not when the wait would have timed out. */
	{
		struct waiter w = {.timeout_ms = 20000};
		pthread_t thread;

		assert_int_equal(primary_connect(&p, "waited", &c), 0);
		assert_int_equal(mpf_rxq_attach(c, 0, 0, &w.q, &error), 0);
		assert_int_equal(pthread_create(&thread, NULL, wait_on, &w), 0);
		usleep(100000);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		mpf_disconnect(c);
		pthread_join(thread, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_int_equal(w.result, -ESHUTDOWN);
		assert_true(t1.tv_sec - t0.tv_sec < 5);
		for (int i = 0; i < 100 && sessions(&p) != 0; i++)
			usleep(20000);
		assert_int_equal(sessions(&p), 0);
		assert_int_equal(mpf_rxq_detach(w.q, &error), 0);
	}

	/* The primary killed under a waiting queue. */
	assert_int_equal(primary_connect(&p, "waiter", &c), 0);
	assert_int_equal(mpf_rxq_attach(c, 0, 0, &q0, &error), 0);
	kill(p.pid, SIGKILL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(mpf_rxq_wait(q0, 10000), -ESHUTDOWN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	mpf_rxq_detach(q0, NULL);
	mpf_disconnect(c);
	assert_int_equal(mpf_rxq_detach(q1, &error), 0); /* of the first client */
	primary_cleanup(&p);
}

/* Send every frame through a TX queue, retrying what a full ring did not
 * take; frames[i] are the same `f` each time. */
static void transmit_all(struct mpf_txq *q, const struct frame *f, unsigned count)
{
	struct mpf_tx_frame burst[32];
	time_t deadline = time(NULL) + 10;

	for (unsigned i = 0; i < 32; i++)
		burst[i] = (struct mpf_tx_frame){.data = f->bytes, .length = (uint32_t)f->length};
	while (count > 0) {
		int n = mpf_txq_burst(q, burst, count < 32 ? count : 32);

		assert_true(n >= 0);
		count -= (unsigned)n;
		if (n == 0) {
			if (time(NULL) > deadline)
				fail_msg("the TX queue did not drain");
			usleep(100);
		}
	}
}

struct sender {
	struct mpf_txq *tx;
	const struct frame *frames; /* three, sent round robin */
	unsigned count;
	shm_u32 left; /* frames still to send */
};

static void *send_frames(void *arg)
{
	struct sender *s = arg;

	for (unsigned i = 0; i < s->count; i += 1000) {
		for (unsigned k = 0; k < 3; k++)
			transmit_all(s->tx, &s->frames[k], 333);
		transmit_all(s->tx, &s->frames[0], 1);
		shm_store_relaxed32(&s->left, s->count - i - 1000);
	}
	return NULL;
}

/* Statistics resets while two datapath workers count flat out (a sender
 * thread per worker loops frames through port 0): each worker carries a
 * reset out between two of its packets and the primary publishes them
 * together, so at rest every packet received since the last reset has
 * exactly one fate. (A reset made by the primary beside the counting
 * thread left them off by a packet now and then.) */
static void test_resets_under_traffic_keep_every_fate_exact(void **state)
{
	struct primary p;
	const char *args[] = {"--workers", "2", "--source", "0=loop:", NULL};
	const struct mpf_flow_item_ipv4 src0 = {.hdr.src_addr = BE32(0x0a000000u)},
					src1 = {.hdr.src_addr = BE32(0x0a000001u)};
	const struct mpf_flow_item p0[] = {ITEM(ETH), ITEM(IPV4, .spec = &src0), ITEM(END)};
	const struct mpf_flow_item p1[] = {ITEM(ETH), ITEM(IPV4, .spec = &src1), ITEM(END)};
	const struct mpf_flow_action drop[] = {ACTION(DROP, NULL), ACTION(END, NULL)};
	const struct mpf_flow_action queue1[] = {ACTION(QUEUE, &to_q1), ACTION(END, NULL)};
	const struct frame frames[3] = {frame_ipv4_l4(0x0a000000u, 2, 17, 1, 2, 0),
					frame_ipv4_l4(0x0a000001u, 2, 17, 1, 2, 0),
					frame_ipv4_l4(0x0a000002u, 2, 17, 1, 2, 0)};
	/* Two senders, on TX queues 0 and 1: one per worker. */
	struct sender sender = {.frames = frames, .count = 600000},
		      other = {.frames = frames, .count = 600000};
	struct mpf_port_stats ps, again;
	struct mpf_queue_stats q0, q1;
	struct mpf_flow_error error;
	struct mpf_client *c;
	pthread_t thread, thread2;
	uint64_t h;
	unsigned resets = 0;

	(void)state;
	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(primary_connect(&p, "resets", &c), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, p0, drop, 0, &h, &error), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, p1, queue1, 0, &h, &error), 0);
	assert_int_equal(mpf_txq_attach(c, 0, 0, &sender.tx, &error), 0);
	assert_int_equal(mpf_txq_attach(c, 0, 1, &other.tx, &error), 0);
	shm_store_relaxed32(&sender.left, sender.count);
	shm_store_relaxed32(&other.left, other.count);
	assert_int_equal(pthread_create(&thread, NULL, send_frames, &sender), 0);
	assert_int_equal(pthread_create(&thread2, NULL, send_frames, &other), 0);
	/* Reset until the last 100000 frames of each: the last reset is under
	 * both workers' traffic. */
	while (shm_load_relaxed32(&sender.left) > 100000 &&
	       shm_load_relaxed32(&other.left) > 100000) {
		assert_int_equal(mpf_port_stats_reset(c, 0, &error), 0);
		resets++;
		usleep(100);
	}
	pthread_join(thread, NULL);
	pthread_join(thread2, NULL);
	do {
		assert_int_equal(mpf_port_stats(c, 0, &ps), 0);
		usleep(50000);
		assert_int_equal(mpf_port_stats(c, 0, &again), 0);
	} while (again.rx_packets != ps.rx_packets);
	assert_true(resets > 10);
	assert_true(again.rx_packets >= 100000);
	assert_int_equal(mpf_queue_stats(c, 0, 0, &q0), 0);
	assert_int_equal(mpf_queue_stats(c, 0, 1, &q1), 0);
	assert_int_equal(again.rx_packets, again.rx_dropped + again.rx_default + q1.packets +
						   q1.full + q1.unattached);
	assert_int_equal(again.rx_default, q0.packets + q0.full + q0.unattached);
	/* Sent before the last reset, received after it: at most an inbox
	 * per worker. */
	assert_true(again.rx_packets >= again.tx_packets &&
		    again.rx_packets - again.tx_packets <= 2 * 64);
	assert_int_equal(mpf_txq_detach(sender.tx, &error), 0);
	assert_int_equal(mpf_txq_detach(other.tx, &error), 0);
	mpf_disconnect(c);
	assert_int_equal(primary_stop(&p), 0);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* A loop: port receives back what secondaries transmit on it (port 1 is
 * wired to port 0): egress rules first, then the ingress rules, the RX
 * queues, the port statistics and the tx dumps, with no root and no
 * interface; a flood through a full ring loses nothing. */
static void test_loop_port_receives_what_secondaries_transmit(void **state)
{
	struct primary p;
	char dump[128], path[192];
	const char *args[] = {"--ports",  "2",	      "--vfs",	       "1",  "--source", "0=loop:",
			      "--source", "1=loop:0", "--dump-queues", dump, NULL};
	const struct mpf_flow_item_udp dport = {.hdr.dst_port = BE16(0xffff)};
	const struct mpf_flow_item_udp to53 = {.hdr.dst_port = BE16(53)},
				       to54 = {.hdr.dst_port = BE16(54)},
				       to7 = {.hdr.dst_port = BE16(7)};
	const struct mpf_flow_item p53[] = {ITEM(ETH), ITEM(IPV4),
					    ITEM(UDP, .spec = &to53, .mask = &dport), ITEM(END)};
	const struct mpf_flow_item p54[] = {ITEM(ETH), ITEM(IPV4),
					    ITEM(UDP, .spec = &to54, .mask = &dport), ITEM(END)};
	const struct mpf_flow_item p7[] = {ITEM(ETH), ITEM(IPV4),
					   ITEM(UDP, .spec = &to7, .mask = &dport), ITEM(END)};
	const struct mpf_flow_attr egress = {.egress = 1};
	const struct mpf_flow_action to_q1_counted[] = {ACTION(COUNT, NULL), ACTION(QUEUE, &to_q1),
							ACTION(END, NULL)};
	const struct mpf_flow_action drop_counted[] = {ACTION(COUNT, NULL), ACTION(DROP, NULL),
						       ACTION(END, NULL)};
	struct frame f53 = frame_ipv4_l4(1, 2, 17, 1000, 53, 0),
		     f54 = frame_ipv4_l4(1, 2, 17, 1000, 54, 0),
		     f9 = frame_ipv4_l4(1, 2, 17, 1000, 9, 0),
		     f7 = frame_ipv4_l4(1, 2, 17, 1000, 7, 0);
	static uint8_t huge[MPF_TXQ_FRAME_MAX + 1];
	const struct mpf_tx_frame too_long = {.data = huge, .length = sizeof(huge)};
	struct mpf_client *c;
	struct mpf_txq *tx0, *tx1, *other;
	struct mpf_rxq *q0, *q1;
	struct mpf_txq_stats ts;
	struct mpf_port_stats ps;
	struct mpf_flow_error error;
	uint64_t in53, out54, in7;
	unsigned bytes, defaults;

	(void)state;
	snprintf(dump, sizeof(dump), "/tmp/mpflow-loop-%d", (int)getpid());
	assert_int_equal(mkdir(dump, 0700), 0);
	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(primary_connect(&p, "looped", &c), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, p53, to_q1_counted, 0, &in53, &error), 0);
	assert_int_equal(mpf_flow_create(c, 0, &egress, p54, drop_counted, 0, &out54, &error), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, p7, drop_counted, 0, &in7, &error), 0);
	assert_int_equal(mpf_rxq_attach(c, 0, 0, &q0, &error), 0);
	assert_int_equal(mpf_rxq_attach(c, 0, 1, &q1, &error), 0);
	assert_int_equal(mpf_txq_attach(c, 0, 0, &tx0, &error), 0);
	assert_int_equal(mpf_txq_attach(c, 1, 2, &tx1, &error), 0);
	/* One sender per queue; TX queues are the PF's. */
	assert_int_equal(mpf_txq_attach(c, 0, 0, &other, &error), -EBUSY);
	assert_int_equal(mpf_txq_attach(c, 0, MPF_RXQ_VF(0), &other, &error), -EINVAL);
	assert_int_equal(mpf_txq_attach(c, 0, 4, &other, &error), -EINVAL);
	assert_int_equal(mpf_txq_burst(tx0, &too_long, 1), -EMSGSIZE);

	/* A burst stops at a frame too long, taking those before it; frames
	 * shorter than an Ethernet header are refused on the way out. */
	{
		const struct mpf_tx_frame mixed[] = {
			{.data = f9.bytes, .length = (uint32_t)f9.length},
			{.data = f9.bytes, .length = 10},
			{.data = huge, .length = sizeof(huge)},
			{.data = f9.bytes, .length = (uint32_t)f9.length}};

		assert_int_equal(mpf_txq_burst(tx0, mixed, 4), 2);
		assert_int_equal(drain(q0, 1, &bytes, &defaults), 1);
		assert_int_equal(mpf_port_stats(c, 0, &ps), 0);
		assert_int_equal(ps.tx_errors, 1);
		assert_int_equal(ps.tx_packets, 1);
		assert_int_equal(mpf_port_stats_reset(c, 0, &error), 0);
	}
	transmit_all(tx0, &f53, 100);
	transmit_all(tx0, &f54, 100); /* dropped on the way out */
	transmit_all(tx0, &f9, 100);  /* comes back to no rule: the default queue */
	transmit_all(tx1, &f53, 50);  /* port 1 is wired to port 0 */
	assert_int_equal(drain(q1, 150, &bytes, &defaults), 150);
	assert_int_equal(bytes, 150 * f53.length);
	assert_int_equal(defaults, 0);
	assert_int_equal(drain(q0, 100, &bytes, &defaults), 100);
	assert_int_equal(defaults, 100);
	expect_count(c, in53, 150, 150 * (unsigned)f53.length);
	expect_count(c, out54, 100, 100 * (unsigned)f54.length);
	mpf_txq_stats(tx0, &ts);
	assert_int_equal(ts.packets, 302); /* and the two of the mixed burst */
	assert_int_equal(mpf_port_stats(c, 0, &ps), 0);
	assert_int_equal(ps.tx_packets, 200);
	assert_int_equal(ps.tx_dropped, 100);
	assert_int_equal(ps.rx_packets, 250);
	assert_int_equal(ps.rx_default, 100);
	assert_int_equal(mpf_port_stats(c, 1, &ps), 0);
	assert_int_equal(ps.tx_packets, 50);
	assert_int_equal(ps.rx_packets, 0);

	/* A flood: the inbox takes what it has room for, the ring holds the
	 * rest, mpf_txq_burst() takes fewer; nothing is lost. */
	transmit_all(tx0, &f7, 20000);
	settle(c, in7, 20000);
	expect_count(c, in7, 20000, 20000 * (unsigned)f7.length);
	assert_int_equal(mpf_port_stats(c, 0, &ps), 0);
	assert_int_equal(ps.rx_missed, 0);

	assert_int_equal(mpf_txq_detach(tx0, &error), 0);
	assert_int_equal(mpf_txq_detach(tx1, &error), 0);
	assert_int_equal(mpf_rxq_detach(q0, &error), 0);
	assert_int_equal(mpf_rxq_detach(q1, &error), 0);
	mpf_disconnect(c);
	assert_int_equal(primary_stop(&p), 0);
	assert_int_equal(primary_cleanup(&p), 0);
	/* --dump-queues recorded what each port sent (not what egress dropped). */
	snprintf(path, sizeof(path), "%s/port0-tx.pcap", dump);
	assert_int_equal(count_pcap(path), 1 + 200 + 20000); /* the mixed burst sent one */
	snprintf(path, sizeof(path), "%s/port1-tx.pcap", dump);
	assert_int_equal(count_pcap(path), 50);
	snprintf(path, sizeof(path), "rm -rf %s", dump);
	assert_int_equal(system(path), 0);
}

/* A veth pair, mpft0 (the primary's) and mpft1 (the test's), in a network
 * namespace of our own: the pair and its traffic vanish with this process.
 * Returns an AF_PACKET socket bound to send on mpft1, or skips. */
static int veth_namespace(struct sockaddr_ll *to)
{
	int sock;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0 ||
	    sh("ip link add mpft0 type veth peer name mpft1 && ip link set mpft0 up && "
	       "ip link set mpft1 up && sysctl -qw net.ipv6.conf.all.disable_ipv6=1") != 0)
		skip();
	sock = socket(AF_PACKET, SOCK_RAW, 0);
	assert_true(sock >= 0);
	*to = (struct sockaddr_ll){.sll_family = AF_PACKET,
				   .sll_halen = 6,
				   .sll_ifindex = (int)if_nametoindex("mpft1")};
	return sock;
}

static void send_veth(int sock, const struct sockaddr_ll *to, const struct frame *f, unsigned i)
{
	assert_int_equal(
		sendto(sock, f->bytes, f->length, 0, (const struct sockaddr *)to, sizeof(*to)),
		(ssize_t)f->length);
	if (i % 64 == 63)
		usleep(2000); /* stay within the veth queue */
}

/* Close sockets many at once: each AF_PACKET close waits for an RCU grace
 * period (synchronize_net), 15 ms under some hypervisors, and closes in
 * parallel share one. A pool of CLOSERS threads made once: a thread a
 * close (65,536 of them) took minutes under TSan. */
#define FANOUT_BATCH 256
#define CLOSERS	     64

struct closers {
	pthread_t threads[CLOSERS];
	pthread_barrier_t start, done; /* CLOSERS + the caller */
	const int *fds;
	unsigned n, next;
	bool stop;
};

static void *closer(void *arg)
{
	struct closers *c = arg;

	for (;;) {
		pthread_barrier_wait(&c->start);
		if (c->stop)
			return NULL;
		for (unsigned i; (i = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED)) < c->n;)
			close(c->fds[i]);
		pthread_barrier_wait(&c->done);
	}
}

static void closers_start(struct closers *c)
{
	*c = (struct closers){.stop = false};
	assert_int_equal(pthread_barrier_init(&c->start, NULL, CLOSERS + 1), 0);
	assert_int_equal(pthread_barrier_init(&c->done, NULL, CLOSERS + 1), 0);
	for (unsigned i = 0; i < CLOSERS; i++)
		assert_int_equal(pthread_create(&c->threads[i], NULL, closer, c), 0);
}

static void close_together(struct closers *c, const int *fds, unsigned n)
{
	c->fds = fds;
	c->n = n;
	c->next = 0;
	pthread_barrier_wait(&c->start);
	pthread_barrier_wait(&c->done);
}

static void closers_stop(struct closers *c)
{
	c->stop = true;
	pthread_barrier_wait(&c->start);
	for (unsigned i = 0; i < CLOSERS; i++)
		pthread_join(c->threads[i], NULL);
	pthread_barrier_destroy(&c->start);
	pthread_barrier_destroy(&c->done);
}

/* Spend the kernel's AF_PACKET fanout group ids (one 16-bit counter for
 * the whole kernel) until the next one it gives is 0, the first a booted
 * kernel gives: the primary once took it for "no group yet" and made a
 * second group, and each worker then counted every frame (the first
 * datapath test after a boot failed so). 65,536 sockets at most, held
 * FANOUT_BATCH at a time (an id in use is skipped) and closed together:
 * seconds where closing them one by one took 16 minutes. */
static void next_fanout_id_is_zero(void)
{
	struct closers closers;
	int fds[FANOUT_BATCH];
	unsigned n = 0;

	closers_start(&closers);
	for (unsigned i = 0; i <= 0xffff; i++) {
		int sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
		int arg = (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
		socklen_t length = sizeof(arg);

		assert_true(sock >= 0);
		fds[n++] = sock;
		assert_int_equal(setsockopt(sock, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)), 0);
		assert_int_equal(getsockopt(sock, SOL_PACKET, PACKET_FANOUT, &arg, &length), 0);
		if ((arg & 0xffff) == 0xffff || n == FANOUT_BATCH) {
			close_together(&closers, fds, n);
			n = 0;
		}
		if ((arg & 0xffff) == 0xffff) {
			closers_stop(&closers);
			return;
		}
	}
	close_together(&closers, fds, n);
	closers_stop(&closers);
	fail_msg("the kernel's fanout ids did not come round to 0xffff");
}

/* 700 frames of many flows into the veth: each rule counts exactly, and
 * the port received them all, with `workers` datapath threads (several:
 * an AF_PACKET fanout group spreads the flows, the counts are summed; its
 * id is 0, the edge). */
static void veth_traffic(const char *workers)
{
	struct primary p;
	struct traffic t = {0};
	const char *args[] = {"--source", "0=live:mpft0", "--workers", workers, NULL};
	struct mpf_port_stats ps;
	struct mpf_client *c;
	struct sockaddr_ll to;
	uint64_t h[3];
	int sock;

	sock = veth_namespace(&to);
	if (strcmp(workers, "1") != 0)
		next_fanout_id_is_zero();
	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(primary_connect(&p, "live", &c), 0);
	install(c, h, 0);
	for (unsigned i = 0; i < 700; i++) {
		struct frame f = make_frame(i, &t);

		send_veth(sock, &to, &f, i);
	}
	close(sock);
	settle_all(c, h, &t, 700);
	assert_int_equal(mpf_port_stats(c, 0, &ps), 0);
	assert_int_equal(ps.rx_packets, 700);
	expect_count(c, h[0], t.dns, t.dns_bytes);
	expect_count(c, h[1], t.web, t.web_bytes);
	expect_count(c, h[2], t.icmp, t.icmp_bytes);
	assert_int_equal(ps.rx_dropped, t.web);
	mpf_disconnect(c);
	assert_int_equal(primary_cleanup(&p), 0);
}

static void test_veth_traffic_is_classified_and_counted(void **state)
{
	(void)state;
	veth_traffic("1");
}

static void test_veth_traffic_spread_over_two_workers_is_counted_exactly(void **state)
{
	(void)state;
	veth_traffic("2");
}

/* Read `capture` until `want` copies of `f` came, byte for byte, or 5 s
 * passed; returns how many came. */
static unsigned capture_copies(int capture, const struct frame *f, unsigned want)
{
	struct timeval tv = {.tv_usec = 100000};
	uint8_t buf[2048];
	unsigned seen = 0;

	setsockopt(capture, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (time_t deadline = time(NULL) + 5; seen < want && time(NULL) < deadline;) {
		ssize_t n = recv(capture, buf, sizeof(buf), 0);

		if (n == (ssize_t)f->length && memcmp(buf, f->bytes, f->length) == 0)
			seen++;
	}
	return seen;
}

/* What a secondary transmits on a live: port goes out of its interface
 * (the peer end of the veth sees every frame, byte for byte), and the port
 * receives neither its own transmissions nor the host's. */
static void test_veth_transmit_puts_frames_on_the_wire(void **state)
{
	struct primary p;
	const char *args[] = {"--source", "0=live:mpft0", NULL};
	const struct mpf_flow_item any[] = {ITEM(ETH), ITEM(END)};
	const struct mpf_flow_action count[] = {ACTION(COUNT, NULL), ACTION(END, NULL)};
	struct frame f = frame_ipv4_l4(0x0a000001u, 0x0a000002u, 17, 4242, 4343, 20);
	struct mpf_flow_error error;
	struct mpf_port_stats ps;
	struct mpf_client *c;
	struct mpf_txq *tx;
	struct sockaddr_ll to;
	uint64_t h;
	int sock, capture;

	(void)state;
	sock = veth_namespace(&to);
	close(sock);
	capture = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	assert_true(capture >= 0);
	assert_int_equal(bind(capture, (const struct sockaddr *)&to, sizeof(to)), 0);
	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(primary_connect(&p, "sender", &c), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, any, count, 0, &h, &error), 0);
	assert_int_equal(mpf_txq_attach(c, 0, 0, &tx, &error), 0);
	transmit_all(tx, &f, 100);
	assert_int_equal(capture_copies(capture, &f, 100), 100);
	close(capture);
	/* What the host itself sends out of mpft0 is no received traffic
	 * either (a NIC's receive side does not see the host's sends). */
	to.sll_ifindex = (int)if_nametoindex("mpft0");
	sock = socket(AF_PACKET, SOCK_RAW, 0);
	for (unsigned i = 0; i < 10; i++)
		send_veth(sock, &to, &f, i);
	close(sock);
	usleep(100000);
	expect_count(c, h, 0, 0); /* nothing came back */
	assert_int_equal(mpf_port_stats(c, 0, &ps), 0);
	assert_int_equal(ps.tx_packets, 100);
	assert_int_equal(ps.tx_bytes, 100 * f.length);
	assert_int_equal(ps.tx_errors, 0);
	assert_int_equal(mpf_txq_detach(tx, &error), 0);
	mpf_disconnect(c);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* An AF_XDP source on the veth: libxdp's program redirects queue 0 to the
 * socket (copy mode: veth cannot do zero copy, which mode=zc refuses with
 * the reason); every frame is classified and counted exactly, and what a
 * secondary transmits leaves through the same socket. */
static void test_veth_xdp_source_receives_and_sends(void **state)
{
#ifdef MPFLOW_HAVE_XDP
	struct primary p;
	struct traffic t = {0};
	const char *args[] = {"--source", "0=xdp:mpft0", NULL};
	struct frame out = frame_ipv4_l4(0x0a000009u, 0x0a000002u, 17, 4242, 4343, 20);
	struct mpf_flow_error error;
	struct mpf_port_stats ps;
	struct mpf_client *c;
	struct mpf_txq *tx;
	struct sockaddr_ll to;
	char cmd[512], log[64];
	uint64_t h[3];
	unsigned seen;
	int sock, capture;

	(void)state;
	sock = veth_namespace(&to);
	/* Zero copy, asked for on a driver that cannot: refused, saying why. */
	snprintf(log, sizeof(log), "/tmp/mpflow-xdp-%d.log", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "d=$(mktemp -d) && \"$MPFLOWD\" -f --no-config --runtime-dir \"$d\" --state-dir "
		 "\"$d\" --source 0=xdp:mpft0,mode=zc 2>%s; rc=$?; rm -rf \"$d\"; exit $rc",
		 log);
	assert_int_equal(WEXITSTATUS(system(cmd)), 1);
	snprintf(cmd, sizeof(cmd), "grep -q 'zero copy on mpft0 queue 0.*try mode=copy' %s", log);
	assert_int_equal(system(cmd), 0);
	unlink(log);

	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(primary_connect(&p, "xdp", &c), 0);
	install(c, h, 0);
	for (unsigned i = 0; i < 700; i++) {
		struct frame f = make_frame(i, &t);

		send_veth(sock, &to, &f, i);
	}
	settle_all(c, h, &t, 700);
	assert_int_equal(mpf_port_stats(c, 0, &ps), 0);
	assert_int_equal(ps.rx_packets, 700);
	expect_count(c, h[0], t.dns, t.dns_bytes);
	expect_count(c, h[1], t.web, t.web_bytes);
	expect_count(c, h[2], t.icmp, t.icmp_bytes);
	assert_int_equal(ps.rx_missed, 0);

	capture = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	assert_true(capture >= 0);
	assert_int_equal(bind(capture, (const struct sockaddr *)&to, sizeof(to)), 0);
	assert_int_equal(mpf_txq_attach(c, 0, 0, &tx, &error), 0);
	transmit_all(tx, &out, 100);
	seen = capture_copies(capture, &out, 100);
	close(capture);
	close(sock);
	assert_int_equal(seen, 100);
	assert_int_equal(mpf_port_stats(c, 0, &ps), 0);
	assert_int_equal(ps.tx_packets, 100);
	assert_int_equal(ps.tx_errors, 0);
	assert_int_equal(mpf_txq_detach(tx, &error), 0);
	mpf_disconnect(c);
	/* Restarted at once on the same queue, which the kernel lets go of a
	 * moment after the last primary is gone (EBUSY meanwhile): it starts,
	 * five times over. */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(primary_stop(&p), 0);
		assert_int_equal(primary_restart(&p, args), 0);
	}
	assert_int_equal(primary_cleanup(&p), 0);
#else
	(void)state;
	skip(); /* built without libxdp */
#endif
}

/* The kernel takes the outer tag off a received frame before AF_PACKET
 * sees it; the primary puts it back, so rules match VLAN IDs and COUNT
 * counts every byte of the frame as it was on the wire: 802.1Q, and 802.1ad
 * with an 802.1Q tag inside it. */
static void test_veth_vlan_tags_are_matched_and_counted_whole(void **state)
{
	struct primary p;
	const char *args[] = {"--source", "0=live:mpft0", NULL};
	const struct mpf_flow_item_vlan vid100 = {.tci = BE16(100)}, vid200 = {.tci = BE16(200)},
					vid300 = {.tci = BE16(300)}, vid = {.tci = BE16(0x0fff)};
	const struct mpf_flow_item_raw tag = {
		.offset = 12, .length = 4, .pattern = (const uint8_t *)"\x81\x00\x00\x64"};
	const struct mpf_flow_item dot1q[] = {ITEM(ETH), ITEM(VLAN, .spec = &vid100, .mask = &vid),
					      ITEM(IPV4), ITEM(UDP), ITEM(END)};
	const struct mpf_flow_item qinq[] = {ITEM(ETH), ITEM(VLAN, .spec = &vid200, .mask = &vid),
					     ITEM(VLAN, .spec = &vid300, .mask = &vid), ITEM(IPV4),
					     ITEM(END)};
	const struct mpf_flow_item raw[] = {ITEM(RAW, .spec = &tag), ITEM(END)};
	const struct mpf_flow_action count[] = {ACTION(COUNT, NULL), ACTION(PASSTHRU, NULL),
						ACTION(END, NULL)};
	unsigned n1 = 0, bytes1 = 0, n2 = 0, bytes2 = 0;
	struct mpf_flow_error error;
	struct mpf_client *c;
	struct sockaddr_ll to;
	uint64_t h[3];
	int sock;

	(void)state;
	sock = veth_namespace(&to);
	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(primary_connect(&p, "tags", &c), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, dot1q, count, 0, &h[0], &error), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, qinq, count, 0, &h[1], &error), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, raw, count, 0, &h[2], &error), 0);
	for (unsigned i = 0; i < 300; i++) {
		struct frame f = {.length = 0};

		if (i % 3 == 0) {
			frame_eth(&f, NULL, NULL, 0x8100);
			frame_vlan(&f, 100, 0x0800);
			n1++;
		} else if (i % 3 == 1) {
			frame_eth(&f, NULL, NULL, 0x88a8);
			frame_vlan(&f, 200, 0x8100);
			frame_vlan(&f, 300, 0x0800);
			n2++;
		} else {
			frame_eth(&f, NULL, NULL, 0x0800); /* untagged: no rule */
		}
		frame_ipv4(&f, 0x0a000001u + i, 0x0a000002u, 17);
		frame_udp(&f, 1000 + i, 2000);
		frame_put(&f, NULL, i % 40);
		if (i % 3 == 0)
			bytes1 += (unsigned)f.length;
		else if (i % 3 == 1)
			bytes2 += (unsigned)f.length;
		send_veth(sock, &to, &f, i);
	}
	close(sock);
	settle(c, h[1], n2);
	expect_count(c, h[0], n1, bytes1);
	expect_count(c, h[1], n2, bytes2);
	expect_count(c, h[2], n1, bytes1); /* the tag's bytes where the wire had them */
	mpf_disconnect(c);
	assert_int_equal(primary_cleanup(&p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pcap_replay_counts_and_delivers_exactly),
		cmocka_unit_test(test_restored_rules_take_traffic_before_any_request),
		cmocka_unit_test(test_generated_flows_go_to_the_port_asked),
		cmocka_unit_test(test_meter_objects_through_the_service),
		cmocka_unit_test(test_loop_port_receives_what_secondaries_transmit),
		cmocka_unit_test(test_rx_queues_outlive_their_session_safely),
		cmocka_unit_test(test_two_workers_classify_count_and_deliver_exactly),
		cmocka_unit_test(test_resets_under_traffic_keep_every_fate_exact),
		cmocka_unit_test(test_veth_traffic_is_classified_and_counted),
		cmocka_unit_test(test_veth_traffic_spread_over_two_workers_is_counted_exactly),
		cmocka_unit_test(test_veth_vlan_tags_are_matched_and_counted_whole),
		cmocka_unit_test(test_veth_transmit_puts_frames_on_the_wire),
		cmocka_unit_test(test_veth_xdp_source_receives_and_sends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
