/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The same rules and frames on both backends, in process: the soft
 * backend's datapath (frames through soft_process into its RX rings) and
 * the verbs backend on the fake NIC's model (frames through the device's
 * flows into posted buffers, completions polled by the backend's own
 * service op into zero-copy queues). Rules are generated from a seed over
 * ETH / VLAN / IPv4 / IPv6 / TCP / UDP / VXLAN with COUNT and QUEUE, DROP,
 * MARK, FLAG, RSS; frames from the same small value sets, so that about
 * half match. Every rule both backends accept must give every frame the
 * same fate (the queues it reaches), mark and flag, and the same counts.
 * Where they differ on purpose (docs/backends.md, "Where the backends
 * differ on purpose"), the difference must be the one that row names, and
 * is counted under it; anything else fails with the rule and the frame.
 * MPFLOW_DIFF_SEED=N replays another seed; DIFF_DEBUG=1 prints every
 * frame's fate on both sides.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "hwdrv/soft/soft.h"
#include "hwdrv/verbs/verbs.h"
#include "shm/region.h"
#include "shm/rxq.h"
#include "tests/packet_builder.h"
#include "tests/verbs/fake_ibv.h"
#include "tests/verbs/nic_model.h"
#include "tests/verbs/queue_reader.h"
#include "tools/flowctl/grammar.h"

#define QUEUES	   4
#define RULES	   400
#define FRAMES	   24
#define OUTCOMES   4
#define ROW_VLAN   "`eth / ipv4` also matches VLAN-tagged frames on verbs"
#define SEED_VAR   "MPFLOW_DIFF_SEED"
#define FRAME_SIZE 256

/* What became of one frame: the queues it reached, in queue order. */
struct outcome {
	unsigned n;
	struct {
		uint16_t queue;
		uint32_t flags; /* MARK, FLAG */
		uint32_t mark;
	} at[OUTCOMES];
};

struct soft_side {
	struct hwdrv dev;
	struct soft *soft;
	struct ring rx[QUEUES];
	void *mem[QUEUES];
	size_t length;
};

struct verbs_side {
	struct hwdrv dev;
	struct queue_reader q[QUEUES];
};

static struct soft_side soft_side;
static struct verbs_side verbs_side;
static _Alignas(64) struct region_counter counters[2];
static struct grammar_command *cmd;

static void open_soft(void)
{
	struct soft_side *s = &soft_side;
	struct hwdrv_config config = {.ports = 1, .queues = QUEUES, .rxq_bytes = 1u << 16};
	struct mpf_flow_error error;

	assert_int_equal(hwdrv_open(&s->dev, "soft", &config, &error), 0);
	s->soft = s->dev.priv;
	s->length = RXQ_HEADER_SIZE + RXQ_RING_STATS + ring_memsize(config.rxq_bytes);
	for (uint16_t q = 0; q < QUEUES; q++) {
		int fds[HWDRV_QUEUE_FDS];

		assert_int_equal(s->dev.ops.queue_attach(&s->dev, 0, q, false, 7, fds, &error), 0);
		s->mem[q] = mmap(NULL, s->length, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
		assert_true(s->mem[q] != MAP_FAILED);
		assert_int_equal(
			ring_attach(
				&s->rx[q], (uint8_t *)s->mem[q] + RXQ_HEADER_SIZE + RXQ_RING_STATS,
				s->length - RXQ_HEADER_SIZE - RXQ_RING_STATS, RING_CONSUMER, -1),
			0);
	}
}

static void open_verbs(void)
{
	struct verbs_side *v = &verbs_side;
	struct hwdrv_config config = {
		.ports = 1, .queues = QUEUES, .device_port = 1, .groups = 1, .rxq_bytes = 1u << 16};
	struct mpf_flow_error error;

	assert_int_equal(fake_ibv_configure(NULL), 0);
	assert_int_equal(hwdrv_open(&v->dev, "verbs", &config, &error), 0);
	for (uint16_t q = 0; q < QUEUES; q++) {
		int fds[HWDRV_QUEUE_FDS];

		assert_int_equal(v->dev.ops.queue_attach(&v->dev, 0, q, false, 7, fds, &error), 0);
		assert_int_equal(queue_reader_map(&v->q[q], fds), 0);
	}
}

static int setup(void **state)
{
	(void)state;
	cmd = calloc(1, sizeof(*cmd));
	open_soft();
	open_verbs();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned q = 0; q < QUEUES; q++) {
		munmap(soft_side.mem[q], soft_side.length);
		queue_reader_unmap(&verbs_side.q[q]);
	}
	hwdrv_close(&soft_side.dev);
	hwdrv_close(&verbs_side.dev);
	free(cmd);
	return 0;
}

/* --- generation: a small PRNG (xorshift), so a seed replays a run --- */

static uint64_t rng;

static unsigned pick(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Value sets rules and frames share. */
static const unsigned ports[] = {53, 80, 443, 1000};
static const unsigned vids[] = {10, 20};
static const unsigned vnis[] = {1, 2};

struct gen_rule {
	char text[512];
	bool vlan;  /* the pattern has a VLAN item */
	bool inner; /* ... a VXLAN item */
};

static void append(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t size, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + used, size - used, fmt, ap);
	va_end(ap);
}

/* An IPv4 / L4 stretch of a pattern. */
static void gen_l3_l4(char *t, size_t size, bool inner)
{
	unsigned l3 = pick(inner ? 2 : 3); /* 0 none, 1 ipv4, 2 ipv6 */

	if (l3 == 0)
		return;
	if (l3 == 1) {
		append(t, size, " / ipv4");
		if (pick(2))
			append(t, size, " src is 10.0.0.%u", 1 + pick(3));
		if (pick(3) == 0)
			append(t, size, " dst is 10.0.1.%u", 1 + pick(2));
		if (pick(6) == 0)
			append(t, size, " proto is %u", pick(2) ? 17 : 6);
		if (pick(12) == 0)
			append(t, size, " / ipv4"); /* IP in IP: verbs refuses */
	} else {
		append(t, size, " / ipv6");
		if (pick(2))
			append(t, size, " src is 2001::%u", 1 + pick(3));
	}
	switch (pick(3)) {
	case 0:
		break;
	case 1:
		append(t, size, " / udp");
		if (pick(2))
			append(t, size, " dst is %u", ports[pick(4)]);
		break;
	default:
		append(t, size, " / tcp");
		if (pick(2))
			append(t, size, " dst is %u", ports[pick(4)]);
		if (pick(4) == 0)
			append(t, size, " src is %u", 2000 + pick(2));
		break;
	}
}

static void gen_rule(struct gen_rule *r)
{
	char *t = r->text;
	size_t size = sizeof(r->text);

	memset(r, 0, sizeof(*r));
	snprintf(t, size, "create 0 ingress pattern eth");
	if (pick(4) == 0)
		append(t, size, " dst is 02:00:00:00:00:0%u", 1 + pick(2));
	if (pick(10) == 0)
		append(t, size, " type is 0x%04x", pick(2) ? 0x0800 : 0x86dd);
	if (pick(4) == 0) {
		/* An empty one: verbs refuses it (it would match untagged
		 * frames too). */
		append(t, size, pick(8) ? " / vlan vid is %u" : " / vlan", vids[pick(2)]);
		r->vlan = true;
	}
	if (pick(6) == 0) {
		/* VXLAN: ipv4 / udp / vxlan [vni] / eth / inner stack (no
		 * VNI: verbs pins UDP 4789, as mlx5). */
		append(t, size, " / ipv4 / udp / vxlan");
		if (pick(4))
			append(t, size, " vni is %u", vnis[pick(2)]);
		append(t, size, " / eth");
		r->inner = true;
		gen_l3_l4(t, size, true);
	} else {
		gen_l3_l4(t, size, false);
	}
	append(t, size, " / end actions count");
	switch (pick(6)) {
	case 0:
		append(t, size, " / drop");
		break;
	case 1:
		append(t, size, " / mark id %u / queue index %u", pick(3) == 0 ? 0 : 1 + pick(1000),
		       1 + pick(QUEUES - 1));
		break;
	case 2:
		append(t, size, " / flag / queue index %u", 1 + pick(QUEUES - 1));
		break;
	case 3:
		append(t, size, " / rss queues 2 3 end types ipv4-tcp ipv4-udp end");
		break;
	default:
		append(t, size, " / queue index %u", 1 + pick(QUEUES - 1));
		break;
	}
	append(t, size, " / end");
}

/* A frame from the same value sets; `tagged` says whether it has a tag. */
static struct frame gen_frame(bool *tagged)
{
	static const uint8_t macs[2][6] = {{0x02, 0, 0, 0, 0, 1}, {0x02, 0, 0, 0, 0, 2}};
	struct frame f = {.length = 0};
	unsigned l3 = pick(10); /* 0-6 ipv4, 7-8 ipv6, 9 ARP */
	unsigned l4 = pick(3);	/* udp, tcp, icmp */
	bool vxlan = l3 < 7 && pick(5) == 0;
	unsigned type = l3 < 7 ? 0x0800 : l3 < 9 ? 0x86dd : 0x0806;

	*tagged = pick(4) == 0;
	frame_eth(&f, macs[pick(2)], NULL, *tagged ? 0x8100 : type);
	if (*tagged)
		frame_vlan(&f, vids[pick(2)] | (pick(2) << 13), type);
	if (l3 == 9) {
		frame_put(&f, NULL, 28);
		return f;
	}
	if (vxlan) {
		frame_ipv4(&f, 0x0a000001u + pick(3), 0x0a000101u + pick(2), 17);
		frame_udp(&f, 5000 + pick(100), 4789);
		frame_vxlan(&f, vnis[pick(2)]);
		frame_eth(&f, macs[pick(2)], NULL, 0x0800);
		l3 = 0;
	}
	if (l3 < 7)
		frame_ipv4(&f, 0x0a000001u + pick(3), 0x0a000101u + pick(2),
			   l4 == 0   ? 17
			   : l4 == 1 ? 6
				     : 1);
	else
		frame_ipv6(&f, (uint8_t)(1 + pick(3)), 1, l4 == 0 ? 17 : l4 == 1 ? 6 : 58);
	if (l4 == 0)
		frame_udp(&f, 2000 + pick(2), ports[pick(4)]);
	else if (l4 == 1)
		frame_tcp(&f, 2000 + pick(2), ports[pick(4)]);
	else
		frame_put(&f, "\x08\x00\x00\x00\x00\x01\x00\x01", 8);
	frame_put(&f, NULL, pick(40));
	return f;
}

/* --- running a frame on each side --- */

static void outcome_add(struct outcome *o, uint16_t queue, uint32_t flags, uint32_t mark)
{
	if (o->n == OUTCOMES)
		fail_msg("a frame reached more than %u queues", OUTCOMES);
	o->at[o->n].queue = queue;
	o->at[o->n].flags = flags & (RXQ_DESC_MARK | RXQ_DESC_FLAG);
	o->at[o->n].mark = flags & RXQ_DESC_MARK ? mark : 0;
	o->n++;
}

static void run_soft(const struct frame *f, struct outcome *o)
{
	struct soft_side *s = &soft_side;
	struct packet p = {.data = f->bytes,
			   .length = (uint32_t)f->length,
			   .wire_length = (uint32_t)f->length,
			   .port = 0};
	uint8_t buf[FRAME_SIZE + 64];

	p.function = packet_function(p.data, p.length, 0, 0);
	packet_parse(&p);
	soft_process(&s->soft->workers[0], &s->soft->ports[0], &p, false, 1000000000ull);
	soft_rxq_commit(&s->soft->workers[0]);
	memset(o, 0, sizeof(*o));
	for (uint16_t q = 0; q < QUEUES; q++)
		while (ring_dequeue(&s->rx[q], buf, sizeof(buf)) > 0) {
			struct rxq_desc d;

			memcpy(&d, buf, sizeof(d));
			outcome_add(o, q, d.flags, d.mark);
		}
}

static void run_verbs(const struct frame *f, struct outcome *o)
{
	struct verbs_side *v = &verbs_side;
	struct queue_record rec;

	fake_ibv_receive(f->bytes, (uint32_t)f->length, (uint32_t)f->length);
	v->dev.ops.service(&v->dev, false);
	memset(o, 0, sizeof(*o));
	for (uint16_t q = 0; q < QUEUES; q++)
		while (ring_dequeue(&v->q[q].rx, &rec, sizeof(rec)) == (int)sizeof(rec)) {
			const uint8_t *data = queue_reader_frame(&v->q[q], &rec);

			/* The NIC wrote the frame where the descriptor says. */
			assert_int_equal(rec.desc.length, f->length);
			assert_memory_equal(data, f->bytes, f->length);
			outcome_add(o, q, rec.desc.flags, rec.desc.mark);
			assert_int_equal(ring_enqueue(&v->q[q].returns, &rec.ref.buffer, 4), 0);
		}
	v->dev.ops.service(&v->dev, false); /* the buffers go back */
}

static bool same(const struct outcome *a, const struct outcome *b)
{
	if (a->n != b->n)
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (a->at[i].queue != b->at[i].queue || a->at[i].flags != b->at[i].flags ||
		    a->at[i].mark != b->at[i].mark)
			return false;
	return true;
}

static void describe(const char *side, const struct outcome *o, char *buf, size_t size)
{
	snprintf(buf, size, "%s:", side);
	if (o->n == 0)
		append(buf, size, " dropped");
	for (unsigned i = 0; i < o->n; i++)
		append(buf, size, " queue %u flags %#x mark %u", o->at[i].queue, o->at[i].flags,
		       o->at[i].mark);
}

static void hex(const struct frame *f, char *buf, size_t size)
{
	buf[0] = 0;
	for (size_t i = 0; i < f->length && i < 80; i++)
		append(buf, size, "%02x", f->bytes[i]);
}

/* A rule on one side: 0, or the refusal's errno. */
static int create_on(struct hwdrv *dev, struct region_counter *counter, const struct gen_rule *r,
		     void **handle)
{
	struct grammar_error gerr;
	struct mpf_flow_error error = {0};
	struct rule_shape shape;
	struct hwdrv_rule hw;

	if (grammar_parse(r->text, cmd, &gerr) != 0)
		fail_msg("'%s': %s", r->text, gerr.message);
	if (rule_validate(&cmd->rule.attr, cmd->rule.pattern, cmd->rule.actions, &shape, &error))
		fail_msg("'%s': %s", r->text, error.message);
	region_counter_open(counter, 1, true);
	hw = (struct hwdrv_rule){.port = 0,
				 .attr = &cmd->rule.attr,
				 .pattern = cmd->rule.pattern,
				 .actions = cmd->rule.actions,
				 .shape = &shape,
				 .counter = counter};
	return -dev->ops.create(dev, &hw, handle, &error);
}

static void test_soft_and_verbs_agree_on_every_rule_both_accept(void **state)
{
	const char *seed = getenv(SEED_VAR);
	unsigned accepted = 0, refused = 0, frames = 0, matched = 0, vlan_row = 0;

	(void)state;
	rng = seed ? strtoull(seed, NULL, 0) : 0x6d70666c6f77ull; /* "mpflow" */
	if (rng == 0)
		rng = 1;
	print_message("seed %#llx (%s=N replays another)\n", (unsigned long long)rng, SEED_VAR);
	for (unsigned n = 0; n < RULES; n++) {
		struct gen_rule r;
		void *hs = NULL, *hv = NULL;
		struct region_count cs, cv;
		uint64_t extra_hits = 0, extra_bytes = 0;
		int es, ev;

		gen_rule(&r);
		es = create_on(&soft_side.dev, &counters[0], &r, &hs);
		ev = create_on(&verbs_side.dev, &counters[1], &r, &hv);
		if (es || ev) {
			refused++;
			if (!es)
				assert_int_equal(
					soft_side.dev.ops.destroy(&soft_side.dev, hs, NULL), 0);
			if (!ev)
				assert_int_equal(
					verbs_side.dev.ops.destroy(&verbs_side.dev, hv, NULL), 0);
			continue;
		}
		accepted++;
		for (unsigned i = 0; i < FRAMES; i++) {
			bool tagged;
			struct frame f = gen_frame(&tagged);
			struct outcome os, ov;
			char a[256], b[256], h[200];

			run_soft(&f, &os);
			run_verbs(&f, &ov);
			frames++;
			/* soft says "no rule decided" in the flags; verbs cannot. */
			if (getenv("DIFF_DEBUG")) {
				describe("soft", &os, a, sizeof(a));
				describe("verbs", &ov, b, sizeof(b));
				hex(&f, h, sizeof(h));
				fprintf(stderr, "%s | %s | %s\n", h, a, b);
			}
			if (same(&os, &ov)) {
				matched +=
					!(os.n == 1 && os.at[0].queue == 0 && os.at[0].flags == 0);
				continue;
			}
			/* The named difference: a rule without a VLAN item
			 * takes a tagged frame on verbs; soft delivers it by
			 * default (to queue 0). */
			if (tagged && !r.vlan && os.n == 1 && os.at[0].queue == 0 &&
			    os.at[0].flags == 0) {
				vlan_row++;
				extra_hits++;
				extra_bytes += f.length;
				continue;
			}
			describe("soft", &os, a, sizeof(a));
			describe("verbs", &ov, b, sizeof(b));
			hex(&f, h, sizeof(h));
			fail_msg("'%s': frame %s: %s; %s", r.text, h, a, b);
		}
		/* Counts: the same, but for the frames of the named row. */
		verbs_side.dev.ops.counters_poll(&verbs_side.dev);
		assert_int_equal(region_counter_read(&counters[0], 1, &cs), 0);
		assert_int_equal(region_counter_read(&counters[1], 1, &cv), 0);
		if (cs.hits + extra_hits != cv.hits || cs.bytes + extra_bytes != cv.bytes)
			fail_msg("'%s': soft counted %llu / %llu, verbs %llu / %llu", r.text,
				 (unsigned long long)cs.hits, (unsigned long long)cs.bytes,
				 (unsigned long long)cv.hits, (unsigned long long)cv.bytes);
		assert_int_equal(soft_side.dev.ops.destroy(&soft_side.dev, hs, NULL), 0);
		assert_int_equal(verbs_side.dev.ops.destroy(&verbs_side.dev, hv, NULL), 0);
	}
	print_message("%u rules both accepted, %u refused by one; %u frames, %u taken by the "
		      "rule on both; %u under \"%s\"\n",
		      accepted, refused, frames, matched, vlan_row, ROW_VLAN);
	/* The generator must exercise the backends, not their refusals. */
	assert_true(accepted > RULES * 3 / 4);
	assert_true(matched > frames / 10);
}

/* The NIC model's Toeplitz hash against the published verification
 * vector (Microsoft's RSS documentation, IPv4 with TCP ports). */
static void test_the_model_hashes_as_the_rss_verification_suite(void **state)
{
	static const uint8_t key[40] = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
					0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
					0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
					0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
	/* 66.9.149.187:2794 -> 161.142.100.80:1766 */
	static const uint8_t input[12] = {66,  9,  149,	 187,  161,  142,
					  100, 80, 0x0a, 0xea, 0x06, 0xe6};

	(void)state;
	assert_int_equal(nic_toeplitz(key, input, 12), 0x51ccc178);
	assert_int_equal(nic_toeplitz(key, input, 8), 0x323e8fc2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_model_hashes_as_the_rss_verification_suite),
		cmocka_unit_test(test_soft_and_verbs_agree_on_every_rule_both_accept),
	};

	return cmocka_run_group_tests_name("differential", tests, setup, teardown);
}
