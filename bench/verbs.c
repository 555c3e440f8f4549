/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench/verbs: what the verbs backend costs the primary per rule, beside a
 * baseline from the same run: the rule model's own validation, which every
 * create pays anyway.
 *
 *  - translate: validation + the rule's device flows (hwdrv/verbs/translate.c)
 *  - create + destroy: the whole backend path (translation, shared QP
 *    lookup, counters, ibv_create_flow) on the fake NIC of the tests, whose
 *    calls cost next to nothing: what is left is ours. A real NIC adds its
 *    own (a kernel round trip per verbs object).
 *
 * Two rule shapes: a 5-tuple (eth / ipv4 / udp, count + queue: one flow)
 * and RSS on an open pattern (eth, rss over 4 queues: 7 flows).
 *
 * Then the delivery path, per packet, in bursts of 32 frames of 128 bytes
 * steered by one rule (count, mark, queue 1) to an attached queue:
 *  - verbs: the NIC model writes the frames into posted buffers (the
 *    device's work, shown apart); the primary polls the CQ and publishes
 *    descriptors (service op); the secondary reads each descriptor, sums
 *    the frame where the NIC wrote it, and hands the buffers back; the
 *    primary posts them again (the next service);
 *  - soft, the baseline: the datapath classifies each frame and copies it
 *    with its descriptor into the queue's ring; the secondary copies them
 *    out (as mpf_rxq_burst does) and sums them.
 *
 * usage: verbs [--rules N] [--packets N]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/mman.h>
#include <unistd.h>

#include "hwdrv/hwdrv.h"
#include "hwdrv/soft/soft.h"
#include "hwdrv/verbs/verbs.h"
#include "shm/rxq.h"
#include "shm/rule/rule.h"
#include "tests/verbs/fake_ibv.h"
#include "tests/verbs/queue_reader.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct shape {
	const char *name;
	struct mpf_flow_item_ipv4 ip, ip_mask;
	struct mpf_flow_item_udp udp;
	struct mpf_flow_item pattern[4];
	struct mpf_flow_action actions[3];
	struct mpf_flow_action_queue queue;
	struct mpf_flow_action_rss rss;
	uint16_t queues[4];
};

static void five_tuple(struct shape *s, uint32_t n)
{
	memset(s, 0, sizeof(*s));
	s->name = "5-tuple, 1 flow";
	s->ip.hdr.src_addr = htonl(0x0a000000u | n);
	s->ip.hdr.dst_addr = htonl(0xc0a80001u);
	s->ip_mask.hdr.src_addr = s->ip_mask.hdr.dst_addr = 0xffffffff;
	s->udp.hdr.src_port = htons((uint16_t)n);
	s->udp.hdr.dst_port = htons(4789);
	s->pattern[0] = (struct mpf_flow_item){.type = MPF_FLOW_ITEM_TYPE_ETH};
	s->pattern[1] = (struct mpf_flow_item){
		.type = MPF_FLOW_ITEM_TYPE_IPV4, .spec = &s->ip, .mask = &s->ip_mask};
	s->pattern[2] = (struct mpf_flow_item){.type = MPF_FLOW_ITEM_TYPE_UDP, .spec = &s->udp};
	s->queue.index = (uint16_t)(n % 4);
	s->actions[0] = (struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_COUNT};
	s->actions[1] =
		(struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_QUEUE, .conf = &s->queue};
}

static void open_rss(struct shape *s, uint32_t n)
{
	memset(s, 0, sizeof(*s));
	s->name = "RSS, open pattern, 7 flows";
	for (uint16_t q = 0; q < 4; q++)
		s->queues[q] = q;
	s->rss = (struct mpf_flow_action_rss){.queue_num = 4, .queue = s->queues};
	s->pattern[0] = (struct mpf_flow_item){.type = MPF_FLOW_ITEM_TYPE_ETH};
	s->actions[0] = (struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_RSS, .conf = &s->rss};
	(void)n;
}

#define BURST 32

/* One rule: eth / ipv4 / udp, count, mark 7, queue 1. */
static int deliver_rule(struct hwdrv *dev, struct region_counter *counter, void **handle)
{
	static const struct mpf_flow_attr attr = {.ingress = 1};
	static const struct mpf_flow_action_mark mark = {.id = 7};
	static const struct mpf_flow_action_queue q1 = {.index = 1};
	const struct mpf_flow_item pattern[] = {{.type = MPF_FLOW_ITEM_TYPE_ETH},
						{.type = MPF_FLOW_ITEM_TYPE_IPV4},
						{.type = MPF_FLOW_ITEM_TYPE_UDP},
						{.type = MPF_FLOW_ITEM_TYPE_END}};
	const struct mpf_flow_action actions[] = {
		{.type = MPF_FLOW_ACTION_TYPE_COUNT},
		{.type = MPF_FLOW_ACTION_TYPE_MARK, .conf = &mark},
		{.type = MPF_FLOW_ACTION_TYPE_QUEUE, .conf = &q1},
		{.type = MPF_FLOW_ACTION_TYPE_END}};
	struct rule_shape rs;
	struct hwdrv_rule hw = {.attr = &attr,
				.pattern = pattern,
				.actions = actions,
				.shape = &rs,
				.counter = counter};
	struct mpf_flow_error error;

	region_counter_open(counter, 1, true);
	if (rule_validate(&attr, pattern, actions, &rs, &error) ||
	    dev->ops.create(dev, &hw, handle, &error))
		return fprintf(stderr, "delivery rule: %s\n", error.message), -1;
	return 0;
}

/* Queue 1 attached: fds[] as the client gets them. */
static int attach(struct hwdrv *dev, int fds[HWDRV_QUEUE_FDS])
{
	struct mpf_flow_error error;

	if (dev->ops.queue_attach(dev, 0, 1, false, 1, fds, &error))
		return fprintf(stderr, "attach: %s\n", error.message), -1;
	return 0;
}

/* Soft's queue 1 (a copy queue): its memory mapped, its header copied. */
static void *attach_soft(struct hwdrv *dev, struct rxq_header *h, size_t *length)
{
	int fds[HWDRV_QUEUE_FDS];
	void *mem;

	if (attach(dev, fds))
		return NULL;
	*length = (size_t)lseek(fds[0], 0, SEEK_END);
	mem = mmap(NULL, *length, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	if (mem == MAP_FAILED)
		return NULL;
	memcpy(h, mem, sizeof(*h));
	return mem;
}

static void frame(uint8_t *f, uint32_t i)
{
	memset(f, 0, 128);
	memcpy(f, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00\x45", 15);
	f[23] = 17;
	f[26] = 10, f[29] = (uint8_t)i; /* source 10.0.0.i */
	f[34] = 0x13, f[35] = 0x88, f[36] = 0x12, f[37] = 0xb5;
}

struct delivery_figures {
	uint64_t device, primary, secondary; /* ns in all */
	uint64_t packets, sum;
};

static int verbs_delivery(uint32_t packets, struct delivery_figures *fig)
{
	struct hwdrv_config config = {
		.ports = 1, .queues = 4, .device_port = 1, .groups = 1, .rxq_bytes = 1u << 21};
	struct region_counter *counter = aligned_alloc(64, sizeof(*counter));
	struct hwdrv dev;
	struct mpf_flow_error error;
	struct queue_reader q;
	int fds[HWDRV_QUEUE_FDS];
	void *handle;
	uint8_t f[BURST][128];

	memset(fig, 0, sizeof(*fig));
	if (fake_ibv_configure(NULL) || hwdrv_open(&dev, "verbs", &config, &error))
		return fprintf(stderr, "verbs: %s\n", error.message), -1;
	if (deliver_rule(&dev, counter, &handle) || attach(&dev, fds) || queue_reader_map(&q, fds))
		return -1;
	for (unsigned i = 0; i < BURST; i++)
		frame(f[i], i);
	for (uint32_t done = 0; done < packets; done += BURST) {
		struct queue_record recs[BURST];
		struct ring_msg msgs[BURST];
		uint32_t back[BURST];
		uint64_t t0 = now_ns(), t1, t2;
		int n;

		for (unsigned i = 0; i < BURST; i++)
			fake_ibv_receive(f[i], 128, 128);
		t1 = now_ns();
		dev.ops.service(&dev, false);
		t2 = now_ns();
		n = ring_dequeue_burst(&q.rx, recs, sizeof(recs), msgs, BURST);
		for (int i = 0; i < n; i++) {
			struct queue_record rec;
			const uint8_t *frame_at;

			memcpy(&rec, (const uint8_t *)recs + msgs[i].offset, sizeof(rec));
			if (rec.ref.buffer >= q.h.buffers || rec.desc.length > q.h.buffer_size ||
			    rec.desc.mark != 7)
				return fprintf(stderr, "verbs: a bad descriptor\n"), -1;
			frame_at = queue_reader_frame(&q, &rec);
			for (uint32_t b = 0; b < rec.desc.length; b++)
				fig->sum += frame_at[b];
			back[i] = rec.ref.buffer;
		}
		if (n > 0 && ring_enqueue(&q.returns, back, (uint32_t)n * 4) != 0)
			return fprintf(stderr, "verbs: the return ring is full\n"), -1;
		fig->secondary += now_ns() - t2;
		fig->device += t1 - t0;
		fig->primary += t2 - t1;
		fig->packets += n > 0 ? (uint64_t)n : 0;
	}
	queue_reader_unmap(&q);
	dev.ops.destroy(&dev, handle, &error);
	hwdrv_close(&dev);
	free(counter);
	return fig->packets == packets ? 0 : (fprintf(stderr, "verbs: lost packets\n"), -1);
}

static int soft_delivery(uint32_t packets, struct delivery_figures *fig)
{
	struct hwdrv_config config = {.ports = 1, .queues = 4, .rxq_bytes = 1u << 21};
	struct region_counter *counter = aligned_alloc(64, sizeof(*counter));
	struct hwdrv dev;
	struct mpf_flow_error error;
	struct rxq_header h;
	struct ring rx;
	size_t length;
	void *mem, *handle;
	struct soft *soft;
	uint8_t f[BURST][128];
	static uint8_t buf[BURST * (sizeof(struct rxq_desc) + 136)];

	memset(fig, 0, sizeof(*fig));
	if (hwdrv_open(&dev, "soft", &config, &error))
		return fprintf(stderr, "soft: %s\n", error.message), -1;
	soft = dev.priv;
	if (deliver_rule(&dev, counter, &handle) || !(mem = attach_soft(&dev, &h, &length)) ||
	    ring_attach(&rx, (uint8_t *)mem + h.ring_offset + RXQ_RING_STATS,
			h.ring_stride - RXQ_RING_STATS, RING_CONSUMER, -1))
		return -1;
	for (unsigned i = 0; i < BURST; i++)
		frame(f[i], i);
	for (uint32_t done = 0; done < packets; done += BURST) {
		struct ring_msg msgs[BURST];
		uint64_t t0 = now_ns(), t1;
		int n;

		for (unsigned i = 0; i < BURST; i++) {
			struct packet p = {.data = f[i], .length = 128, .wire_length = 128};

			packet_parse(&p);
			soft_process(&soft->workers[0], &soft->ports[0], &p, false, t0);
		}
		soft_rxq_commit(&soft->workers[0]);
		t1 = now_ns();
		n = ring_dequeue_burst(&rx, buf, sizeof(buf), msgs, BURST);
		for (int i = 0; i < n; i++) {
			const uint8_t *r = buf + msgs[i].offset;
			struct rxq_desc d;

			memcpy(&d, r, sizeof(d));
			if (d.length != msgs[i].length - sizeof(d) || d.mark != 7)
				return fprintf(stderr, "soft: a bad descriptor\n"), -1;
			for (uint32_t b = 0; b < d.length; b++)
				fig->sum += r[sizeof(d) + b];
		}
		fig->secondary += now_ns() - t1;
		fig->primary += t1 - t0;
		fig->packets += n > 0 ? (uint64_t)n : 0;
	}
	munmap(mem, length);
	dev.ops.destroy(&dev, handle, &error);
	hwdrv_close(&dev);
	free(counter);
	return fig->packets == packets ? 0 : (fprintf(stderr, "soft: lost packets\n"), -1);
}

static int delivery(uint32_t packets)
{
	struct delivery_figures v, s;

	uint32_t warm = (packets / 10 + BURST) / BURST * BURST;

	packets = (packets + BURST - 1) / BURST * BURST;
	/* A warm-up pass of each, then the measured one. */
	if (verbs_delivery(warm, &v) || soft_delivery(warm, &s) || verbs_delivery(packets, &v) ||
	    soft_delivery(packets, &s))
		return -1;
	if (v.sum != s.sum)
		return fprintf(stderr, "delivery: the secondaries read different bytes\n"), -1;
	printf("\n%u packets of 128 bytes, bursts of %u; ns per packet, and x soft's whole "
	       "path\n\n",
	       packets, BURST);
	printf("| path | device (model) | primary | secondary | ours in all | x soft |\n");
	printf("|---|---:|---:|---:|---:|---:|\n");
	printf("| soft (baseline): classify + copy, then copy out | - | %.1f | %.1f | %.1f | 1.0 "
	       "|\n",
	       (double)s.primary / packets, (double)s.secondary / packets,
	       (double)(s.primary + s.secondary) / packets);
	printf("| verbs: CQ poll + descriptor, then read in place + return | %.1f | %.1f | %.1f | "
	       "%.1f | %.2f |\n",
	       (double)v.device / packets, (double)v.primary / packets,
	       (double)v.secondary / packets, (double)(v.primary + v.secondary) / packets,
	       (double)(v.primary + v.secondary) / (double)(s.primary + s.secondary));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct mpf_flow_attr attr = {.ingress = 1};
	void (*const shapes[])(struct shape *, uint32_t) = {five_tuple, open_rss};
	struct hwdrv_config config = {.ports = 1, .queues = 4, .device_port = 1, .groups = 1};
	uint32_t n = 100000, packets = 1000000;
	struct verbs_translation *t = malloc(sizeof(*t));
	struct region_counter *counter = aligned_alloc(64, sizeof(*counter));
	void **handles;
	struct mpf_flow_error error;
	struct hwdrv dev;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--rules") == 0)
			n = (uint32_t)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--packets") == 0)
			packets = (uint32_t)atoi(argv[i + 1]);
	}
	handles = calloc(n ? n : 1, sizeof(*handles));
	if (n == 0 || packets == 0 || !t || !counter || !handles || fake_ibv_configure(NULL) ||
	    hwdrv_open(&dev, "verbs", &config, &error)) {
		fprintf(stderr, "verbs: cannot set up (%s)\n", error.message);
		return 1;
	}
	printf("%u rules per figure; ns per rule, and x the validation baseline\n\n", n);
	printf("| rule | validate (baseline) | translate | x | create + destroy | x |\n");
	printf("|---|---:|---:|---:|---:|---:|\n");
	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		struct shape s;
		struct rule_shape rs;
		struct hwdrv_rule hw = {.attr = &attr,
					.pattern = s.pattern,
					.actions = s.actions,
					.shape = &rs,
					.counter = counter};
		uint64_t t0, validate, translate, create;

		t0 = now_ns();
		for (uint32_t i = 0; i < n; i++) {
			shapes[k](&s, i);
			if (rule_validate(&attr, s.pattern, s.actions, &rs, &error))
				return fprintf(stderr, "%s\n", error.message), 1;
		}
		validate = now_ns() - t0;
		t0 = now_ns();
		for (uint32_t i = 0; i < n; i++) {
			shapes[k](&s, i);
			if (rule_validate(&attr, s.pattern, s.actions, &rs, &error) ||
			    verbs_translate(&((struct verbs *)dev.priv)->caps, &hw, t, &error))
				return fprintf(stderr, "%s\n", error.message), 1;
		}
		translate = now_ns() - t0;
		t0 = now_ns();
		for (uint32_t i = 0; i < n; i++) {
			shapes[k](&s, i);
			if (rule_validate(&attr, s.pattern, s.actions, &rs, &error) ||
			    dev.ops.create(&dev, &hw, &handles[i], &error))
				return fprintf(stderr, "%s\n", error.message), 1;
		}
		for (uint32_t i = 0; i < n; i++)
			dev.ops.destroy(&dev, handles[i], &error);
		create = now_ns() - t0;
		printf("| %s | %.0f | %.0f | %.1f | %.0f | %.1f |\n", s.name, (double)validate / n,
		       (double)translate / n, (double)translate / (double)validate,
		       (double)create / n, (double)create / (double)validate);
	}
	hwdrv_close(&dev);
	free(handles);
	free(counter);
	free(t);
	if (fake_ibv_live_total() != 0)
		return fprintf(stderr, "verbs: device objects left\n"), 1;
	return delivery(packets) ? 1 : 0;
}
