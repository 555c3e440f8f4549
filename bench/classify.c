/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench/classify: packets per second per core of the soft datapath's
 * classifier (parse + lookup) over an in-memory trace, in bursts of
 * CLS_BURST packets as the datapath classifies them (cls_lookup_burst) and
 * one by one (cls_lookup), against a linear scan of the same rules through
 * the general matcher, measured in the same run; the insert rate of a
 * first fill (memory faulted in) and of refills (the pool's memory reused);
 * then the insert/delete rate while a second thread keeps classifying.
 *
 * Input: a ClassBench rule set and trace, made by bench/make-ruleset.py.
 *   classify RULES TRACE [SECONDS]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/clock.h"
#include "hwdrv/soft/soft.h"
#include "tests/packet_builder.h"

struct bench_rule {
	struct mpf_flow_item_ipv4 ip, ip_mask;
	struct mpf_flow_item_tcp l4, l4_last, l4_mask; /* UDP shares the first 4 bytes */
	struct mpf_flow_item pattern[4];
	struct mpf_flow_action_queue queue;
	struct mpf_flow_action actions[2];
	struct mpf_flow_attr attr;
	uint8_t l4_proto; /* 6 (TCP item), 17 (UDP item) or 0 (none: no ports) */
	bool range;
	void *handle;
};

static double now_s(void)
{
	return bench_now_ns() / 1e9;
}

/* ClassBench rules that rte_flow cannot say, by why. */
struct parse_counts {
	unsigned lines, either;	   /* protocol wildcards with ports: two rules */
	unsigned ports_without_l4; /* ports on a protocol other than TCP/UDP */
};

static uint32_t prefix_mask(unsigned len)
{
	return len ? ~0u << (32 - len) : 0;
}

/* A port field of ClassBench (LO : HI) into spec, last and mask. */
static void port_field(unsigned lo, unsigned hi, mpf_be16_t *spec, mpf_be16_t *last,
		       mpf_be16_t *mask)
{
	*spec = RULE_BE16((uint16_t)lo);
	*last = RULE_BE16((uint16_t)hi); /* equal to spec: no range */
	*mask = lo == 0 && hi == 65535 ? 0 : RULE_BE16(0xffff);
}

/*
 * One line of a ClassBench 5-tuple file (its rule `index`, from 0: its
 * priority) into `out`: source and destination prefixes, source and
 * destination port ranges (exact, a range, or 0 : 65535 for any), the
 * protocol under its mask. TCP or UDP (0x06/0xFF, 0x11/0xFF) is that item,
 * with the ports. rte_flow matches ports in those items only, so a rule
 * with ports and any protocol (0x00/0x00) becomes two, a TCP one and a UDP
 * one; one with ports on another protocol cannot be said and is left out
 * (counted); any other is an IPv4 item alone, its protocol under the
 * file's mask. Returns the rules written (0, 1 or 2) or -EINVAL for a line
 * that is not a ClassBench rule.
 */
static int parse_rule(const char *line, unsigned index, struct bench_rule out[2],
		      struct parse_counts *counts)
{
	unsigned a[4], b[4], sl, dl, splo, sphi, dplo, dphi, proto, pmask;
	struct bench_rule *r = &out[0];
	bool ports, l4;

	if (sscanf(line, "@%u.%u.%u.%u/%u %u.%u.%u.%u/%u %u : %u %u : %u %x/%x", &a[0], &a[1],
		   &a[2], &a[3], &sl, &b[0], &b[1], &b[2], &b[3], &dl, &splo, &sphi, &dplo, &dphi,
		   &proto, &pmask) != 16 ||
	    a[0] > 255 || a[1] > 255 || a[2] > 255 || a[3] > 255 || b[0] > 255 || b[1] > 255 ||
	    b[2] > 255 || b[3] > 255 || sl > 32 || dl > 32 || splo > sphi || sphi > 65535 ||
	    dplo > dphi || dphi > 65535 || proto > 255 || pmask > 255)
		return -EINVAL;
	counts->lines++;
	ports = !(splo == 0 && sphi == 65535 && dplo == 0 && dphi == 65535);
	l4 = pmask == 0xff && (proto == 6 || proto == 17);
	if (ports && pmask != 0 && !l4) {
		counts->ports_without_l4++;
		return 0;
	}
	memset(r, 0, sizeof(*r));
	r->ip.hdr.src_addr = __builtin_bswap32(a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]);
	r->ip.hdr.dst_addr = __builtin_bswap32(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
	r->ip_mask.hdr.src_addr = __builtin_bswap32(prefix_mask(sl));
	r->ip_mask.hdr.dst_addr = __builtin_bswap32(prefix_mask(dl));
	r->queue.index = (uint16_t)(index % 4);
	r->attr = (struct mpf_flow_attr){.ingress = 1, .priority = index};
	if (!ports && !l4) {
		r->ip.hdr.next_proto_id = (uint8_t)(proto & pmask);
		r->ip_mask.hdr.next_proto_id = (uint8_t)pmask;
		return 1;
	}
	port_field(splo, sphi, &r->l4.hdr.src_port, &r->l4_last.hdr.src_port,
		   &r->l4_mask.hdr.src_port);
	port_field(dplo, dphi, &r->l4.hdr.dst_port, &r->l4_last.hdr.dst_port,
		   &r->l4_mask.hdr.dst_port);
	r->range = splo != sphi || dplo != dphi;
	r->l4_proto = (uint8_t)(pmask ? proto : 6);
	r->ip.hdr.next_proto_id = r->l4_proto; /* as the item says, in the key too */
	r->ip_mask.hdr.next_proto_id = 0xff;
	if (pmask)
		return 1;
	counts->either++;
	out[1] = *r;
	out[1].l4_proto = 17;
	out[1].ip.hdr.next_proto_id = 17;
	return 2;
}

/* The rule's pointers, into itself: set once it stopped moving. */
static void bind_rule(struct bench_rule *r)
{
	r->pattern[0] = (struct mpf_flow_item){.type = MPF_FLOW_ITEM_TYPE_ETH};
	r->pattern[1] = (struct mpf_flow_item){
		.type = MPF_FLOW_ITEM_TYPE_IPV4, .spec = &r->ip, .mask = &r->ip_mask};
	if (r->l4_proto)
		r->pattern[2] = (struct mpf_flow_item){
			.type = r->l4_proto == 6 ? MPF_FLOW_ITEM_TYPE_TCP : MPF_FLOW_ITEM_TYPE_UDP,
			.spec = &r->l4,
			.last = r->range ? &r->l4_last : NULL,
			.mask = &r->l4_mask};
	r->pattern[r->l4_proto ? 3 : 2] = (struct mpf_flow_item){.type = MPF_FLOW_ITEM_TYPE_END};
	r->actions[0] =
		(struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_QUEUE, .conf = &r->queue};
	r->actions[1] = (struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_END};
}

/* The rule compiled again for the linear baseline (the installed one keeps
 * only what the classifier's lookups read), ranked as installed. */
static int linear_copy(struct cls_linear_rule *l, struct bench_rule *r, struct pool *pool)
{
	struct rule_shape shape;
	struct mpf_flow_error error;
	struct hwdrv_rule hw = {
		.attr = &r->attr, .pattern = r->pattern, .actions = r->actions, .shape = &shape};

	if (rule_validate(&r->attr, r->pattern, r->actions, &shape, &error) != 0 ||
	    cls_linear_rule(l, r->handle, &hw, pool, &error) != 0) {
		fprintf(stderr, "classify: baseline rule refused: %s\n", error.message);
		return -1;
	}
	return 0;
}

static int create(struct hwdrv *dev, struct bench_rule *r, bool deferred)
{
	struct rule_shape shape;
	struct mpf_flow_error error;
	struct hwdrv_rule hw = {.attr = &r->attr,
				.pattern = r->pattern,
				.actions = r->actions,
				.shape = &shape,
				.deferred = deferred};

	bind_rule(r);
	if (rule_validate(&r->attr, r->pattern, r->actions, &shape, &error) != 0 ||
	    dev->ops.create(dev, &hw, &r->handle, &error) != 0) {
		fprintf(stderr, "classify: rule refused: %s\n", error.message);
		return -1;
	}
	return 0;
}

/* Every rule in, as the primary's loop takes a bulk load: creates deferred,
 * activated every FILL_BURST (its RULES_DEFER_MAX). The rules a few ahead
 * are read in beforehand, as the loop's copy out of its ring streams them:
 * the figure is the create's, not this bench's 300-byte array's misses. */
#define FILL_BURST 32
#define FILL_AHEAD 8

static int fill(struct hwdrv *dev, struct bench_rule *rules, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (i + FILL_AHEAD < n)
			for (size_t at = 0; at < sizeof(rules[0]); at += 64)
				__builtin_prefetch((const char *)&rules[i + FILL_AHEAD] + at, 1);
		if (create(dev, &rules[i], true) != 0)
			return -1;
		if ((i + 1) % FILL_BURST == 0 || i + 1 == n)
			dev->ops.activate(dev);
	}
	return 0;
}

/* Every rule out, as a flush takes them: bursts through destroy_burst. */
static int destroy_all(struct hwdrv *dev, struct bench_rule *rules, unsigned n)
{
	for (unsigned done = 0; done < n;) {
		void *handles[32];
		int errs[32];
		unsigned k = n - done < 32 ? n - done : 32;

		for (unsigned i = 0; i < k; i++)
			handles[i] = rules[done + i].handle;
		if (dev->ops.destroy_burst(dev, handles, k, errs) != 0)
			return -1;
		done += k;
	}
	return 0;
}

/* The rules of a ClassBench file, `*n` of them (what each line became, and
 * what was left out, said on stdout), or NULL with the cause on stderr. */
static struct bench_rule *load_rules(const char *path, unsigned *n)
{
	struct parse_counts counts = {0};
	struct bench_rule *rules = NULL;
	FILE *f = fopen(path, "r");
	unsigned cap = 0;
	char line[256];

	*n = 0;
	if (f == NULL) {
		fprintf(stderr, "classify: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		int made;

		if (*n + 2 > cap) {
			unsigned more = cap ? cap * 2 : 1024;
			struct bench_rule *grown = realloc(rules, more * sizeof(*rules));

			if (grown == NULL) {
				fprintf(stderr, "classify: %s: out of memory\n", path);
				goto fail;
			}
			rules = grown;
			cap = more;
		}
		made = parse_rule(line, counts.lines, &rules[*n], &counts);
		if (made < 0) {
			fprintf(stderr, "classify: %s: line %u is not a ClassBench rule\n", path,
				counts.lines + 1);
			goto fail;
		}
		*n += (unsigned)made;
	}
	if (counts.either || counts.ports_without_l4)
		printf("%u ClassBench rules as %u: %u with ports and any protocol as a TCP and "
		       "a UDP rule each; %u with ports on a protocol other than TCP and UDP "
		       "left out (rte_flow matches ports in those items only)\n",
		       counts.lines, *n, counts.either, counts.ports_without_l4);
	if (*n == 0) {
		fprintf(stderr, "classify: %s: no rule to install\n", path);
		goto fail;
	}
	fclose(f);
	return rules;
fail:
	fclose(f);
	free(rules);
	return NULL;
}

/* The trace as a capture would hold it in memory: frames back to back. */
struct trace {
	uint8_t *bytes;
	struct packet *packets;
	unsigned n;
};

/* A ClassBench trace: a header a line, SRC DST SPORT DPORT PROTO and, where
 * the generator wrote it, the rule it was drawn from (unused here). 0, or
 * -errno with the cause on stderr. */
static int load_trace(const char *path, struct trace *t)
{
	FILE *f = fopen(path, "r");
	size_t used = 0, cap = 0;
	unsigned cap_packets = 0, lineno = 0;
	char line[256];
	int err = 0;

	if (f == NULL) {
		err = -errno;
		fprintf(stderr, "classify: %s: %s\n", path, strerror(errno));
		return err;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long src, dst, sport, dport, proto;
		struct frame frame;

		lineno++;
		if (sscanf(line, "%lu %lu %lu %lu %lu", &src, &dst, &sport, &dport, &proto) != 5 ||
		    src > UINT32_MAX || dst > UINT32_MAX || sport > 65535 || dport > 65535 ||
		    proto > 255) {
			fprintf(stderr, "classify: %s: line %u is not a ClassBench trace line\n",
				path, lineno);
			err = -EINVAL;
			break;
		}
		frame = frame_ipv4_l4((uint32_t)src, (uint32_t)dst, (unsigned)proto,
				      (unsigned)sport, (unsigned)dport, 0);
		if (used + frame.length > cap) {
			size_t more = cap ? cap * 2 : 1 << 20;
			uint8_t *bytes = realloc(t->bytes, more);

			if (bytes == NULL)
				break;
			t->bytes = bytes;
			cap = more;
		}
		if (t->n == cap_packets) {
			unsigned more = cap_packets ? cap_packets * 2 : 4096;
			struct packet *packets = realloc(t->packets, more * sizeof(*packets));

			if (packets == NULL)
				break;
			t->packets = packets;
			cap_packets = more;
		}
		memcpy(t->bytes + used, frame.bytes, frame.length);
		t->packets[t->n++] = (struct packet){.length = (uint32_t)frame.length,
						     .wire_length = (uint32_t)frame.length,
						     .function = PACKET_FUNCTION_PF};
		used += frame.length;
	}
	if (err == 0 && !feof(f)) {
		fprintf(stderr, "classify: %s: out of memory, or unreadable\n", path);
		err = -ENOMEM;
	}
	fclose(f);
	if (err == 0 && t->n == 0) {
		fprintf(stderr, "classify: %s: no packets\n", path);
		err = -EINVAL;
	}
	if (err) {
		free(t->bytes);
		free(t->packets);
		*t = (struct trace){0};
		return err;
	}
	/* Pointers only now that the buffer stopped moving. */
	used = 0;
	for (unsigned i = 0; i < t->n; i++) {
		t->packets[i].data = t->bytes + used;
		used += t->packets[i].length;
	}
	return 0;
}

#define RUNS	5 /* timed runs of the lookup, after an untimed warm-up */
#define REFILLS 3 /* timed refills of the rule set, after the first fill */

/* Parse + lookup over the trace for about `seconds`, in bursts (`burst`)
 * or one packet at a time; packets per second. */
static double run_tuple(const struct cls *cls, struct trace *t, double seconds, bool burst,
			uint64_t *checksum)
{
	struct cls_result result[CLS_BURST];
	uint64_t done = 0, sum = 0;
	double start = now_s(), elapsed;

	do {
		for (unsigned i = 0; i < t->n; i += CLS_BURST) {
			const struct packet *pkts[CLS_BURST];
			unsigned n = t->n - i < CLS_BURST ? t->n - i : CLS_BURST;

			for (unsigned k = 0; k < n; k++) {
				packet_parse(&t->packets[i + k]);
				pkts[k] = &t->packets[i + k];
				if (!burst) /* as the datapath did before bursts */
					cls_lookup(cls, pkts[k], &result[k]);
			}
			if (burst)
				cls_lookup_burst(cls, pkts, n, result);
			for (unsigned k = 0; k < n; k++)
				sum += result[k].n ? result[k].rules[result[k].n - 1]->seq : 0;
		}
		done += t->n;
		elapsed = now_s() - start;
	} while (elapsed < seconds);
	*checksum = sum;
	return (double)done / elapsed;
}

static double run_linear(const struct cls_rule *const *rules, unsigned n, struct trace *t,
			 double seconds, unsigned *packets)
{
	struct cls_result result;
	uint64_t done = 0;
	double start = now_s(), elapsed;

	do {
		struct packet *p = &t->packets[done % t->n];

		packet_parse(p);
		cls_lookup_linear(rules, n, p, &result);
		done++;
		elapsed = now_s() - start;
	} while (elapsed < seconds && done < t->n);
	*packets = (unsigned)done;
	return (double)done / elapsed;
}

struct churn {
	struct soft *soft;
	struct trace *trace;
	shm_u32 stop;
	uint64_t packets;
};

static void *classify_thread(void *arg)
{
	struct churn *c = arg;
	struct cls_result result;

	unsigned next = 0;

	/* The whole trace, as the standalone figure reads it, a burst at a
	 * time with a quiescent point after each (as a datapath worker). */
	rcu_online(&c->soft->rcu, 0);
	while (!shm_load_acquire32(&c->stop)) {
		unsigned n = c->trace->n - next < SOFT_BURST ? c->trace->n - next : SOFT_BURST;

		for (unsigned k = next; k < next + n; k++) {
			packet_parse(&c->trace->packets[k]);
			cls_lookup(&c->soft->cls, &c->trace->packets[k], &result);
		}
		c->packets += n;
		next = (next + n) % c->trace->n;
		rcu_quiescent(&c->soft->rcu, 0);
	}
	rcu_offline(&c->soft->rcu, 0);
	return NULL;
}

/*
 * The classifier's own inserts: the same rules, their patterns compiled
 * beforehand (the baseline's copies), into a classifier of their own, as
 * the backend's create hands them over (cls_prepare(), cls_link_pending()
 * every FILL_BURST): what is left of a create without its validation and
 * pattern compile. A first fill, then refills after removing every rule.
 * The fill rates in `first` and `refills`; -1 if memory ran out.
 */
static int classifier_inserts(struct cls_linear_rule *linear, unsigned n, double *first,
			      double refills[REFILLS])
{
	struct cls_rule *copies = calloc(n, sizeof(*copies)), *burst[CLS_REMOVE_BURST];
	struct rcu rcu;
	struct cls c;
	double start;

	if (copies == NULL)
		return -1;
	rcu_init(&rcu, 0);
	cls_init(&c, &rcu);
	for (unsigned r = 0; r <= REFILLS; r++) {
		for (unsigned i = 0; i < n; i++)
			copies[i] = (struct cls_rule){.rank = linear[i].cls.rank,
						      .seq = linear[i].cls.seq,
						      .terminating = linear[i].cls.terminating,
						      .match = &linear[i].match};
		start = now_s();
		for (unsigned i = 0; i < n; i++) {
			if (cls_prepare(&c, &copies[i]) != 0) {
				cls_fini(&c);
				free(copies);
				return -1;
			}
			if ((i + 1) % FILL_BURST == 0 || i + 1 == n)
				cls_link_pending(&c);
		}
		*(r == 0 ? first : &refills[r - 1]) = n / (now_s() - start);
		for (unsigned done = 0, k; done < n; done += k) {
			k = n - done < CLS_REMOVE_BURST ? n - done : CLS_REMOVE_BURST;
			for (unsigned i = 0; i < k; i++)
				burst[i] = &copies[done + i];
			cls_remove_burst(&c, burst, k);
		}
	}
	cls_fini(&c);
	free(copies);
	return 0;
}

static int by_rank(const void *a, const void *b)
{
	const struct cls_rule *x = *(const struct cls_rule *const *)a;
	const struct cls_rule *y = *(const struct cls_rule *const *)b;

	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

int main(int argc, char **argv)
{
	struct hwdrv_config config = {.ports = 1, .queues = 4};
	struct mpf_flow_error error;
	struct bench_rule *rules = NULL;
	const struct cls_rule **sorted;
	struct cls_linear_rule *linear;
	struct pool baseline_pool = {0};
	struct trace trace = {0};
	struct hwdrv dev;
	struct soft *soft;
	unsigned n = 0, linear_packets, churn_ops = 0;
	double seconds = argc > 3 ? atof(argv[3]) : 1.0;
	double tuple_pps, linear_pps, start, runs[RUNS], single[RUNS], refills[REFILLS];
	double solo_first, solo_refills[REFILLS], kernel;
	uint64_t checksum;
	struct churn churn;
	pthread_t thread;

	if (argc < 3) {
		fprintf(stderr, "usage: classify RULES TRACE [SECONDS]\n");
		return 2;
	}
	if (load_trace(argv[2], &trace) != 0)
		return 1;
	rules = load_rules(argv[1], &n);
	if (rules == NULL) {
		free(trace.bytes);
		free(trace.packets);
		return 1;
	}
	if (hwdrv_open(&dev, "soft", &config, &error) != 0) {
		fprintf(stderr, "classify: %s\n", error.message);
		return 1;
	}
	soft = dev.priv;
	kernel = bench_kernel_s();
	start = now_s();
	if (fill(&dev, rules, n) != 0)
		return 1;
	start = now_s() - start;
	printf("rules %u: %u tuples (hash tables), %llu keyed, %llu general; "
	       "inserted at %.2f M rules/s (the backend's create: validation, pattern "
	       "compile, classifier; %.2f s, %.2f s of them in the kernel: fresh pages)\n",
	       n, cls_tuple_count(&soft->cls), (unsigned long long)soft->cls.keyed_rules,
	       (unsigned long long)soft->cls.general_rules, n / start / 1e6, start,
	       bench_kernel_s() - kernel);
	/* Refills: every rule out, then in again; the pool's memory is
	 * reused, no page is faulted in. */
	for (unsigned r = 0; r < REFILLS; r++) {
		if (destroy_all(&dev, rules, n) != 0)
			return 1;
		start = now_s();
		if (fill(&dev, rules, n) != 0)
			return 1;
		refills[r] = n / (now_s() - start);
	}
	qsort(refills, REFILLS, sizeof(refills[0]), bench_compare_doubles);
	printf("  refilled (the pool's memory reused): %.2f M rules/s (%.2f-%.2f, %d fills)\n",
	       refills[REFILLS / 2] / 1e6, refills[0] / 1e6, refills[REFILLS - 1] / 1e6, REFILLS);

	/* Warm first (the first pass over a fresh table takes its page and TLB
	 * misses), then several runs: the median, and the spread. */
	run_tuple(&soft->cls, &trace, 0, true, &checksum);
	for (unsigned r = 0; r < RUNS; r++)
		runs[r] = run_tuple(&soft->cls, &trace, seconds, true, &checksum);
	qsort(runs, RUNS, sizeof(runs[0]), bench_compare_doubles);
	tuple_pps = runs[RUNS / 2];
	for (unsigned r = 0; r < RUNS; r++)
		single[r] = run_tuple(&soft->cls, &trace, seconds, false, &checksum);
	qsort(single, RUNS, sizeof(single[0]), bench_compare_doubles);
	/* A burst's results are each packet's own, exactly. */
	for (unsigned i = 0; i + CLS_BURST <= trace.n; i += CLS_BURST) {
		const struct packet *pkts[CLS_BURST];
		struct cls_result burst[CLS_BURST], one;

		for (unsigned k = 0; k < CLS_BURST; k++)
			pkts[k] = &trace.packets[i + k];
		cls_lookup_burst(&soft->cls, pkts, CLS_BURST, burst);
		for (unsigned k = 0; k < CLS_BURST; k++) {
			cls_lookup(&soft->cls, pkts[k], &one);
			if (one.n != burst[k].n ||
			    memcmp(one.rules, burst[k].rules, one.n * sizeof(one.rules[0]))) {
				fprintf(stderr, "classify: packet %u: burst and single disagree\n",
					i + k);
				return 1;
			}
		}
	}
	sorted = malloc(n * sizeof(*sorted));
	linear = malloc(n * sizeof(*linear));
	if (sorted == NULL || linear == NULL)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		if (linear_copy(&linear[i], &rules[i], &baseline_pool) != 0)
			return 1;
		sorted[i] = &linear[i].cls;
	}
	qsort(sorted, n, sizeof(*sorted), by_rank);
	if (classifier_inserts(linear, n, &solo_first, solo_refills) != 0) {
		fprintf(stderr, "classify: out of memory\n");
		return 1;
	}
	qsort(solo_refills, REFILLS, sizeof(solo_refills[0]), bench_compare_doubles);
	linear_pps = run_linear(sorted, n, &trace, seconds, &linear_packets);
	/* The two must agree on every packet the baseline saw. */
	for (unsigned i = 0; i < linear_packets; i++) {
		struct cls_result a, b;

		cls_lookup(&soft->cls, &trace.packets[i], &a);
		cls_lookup_linear(sorted, n, &trace.packets[i], &b);
		if (a.n != b.n ||
		    (a.n && a.rules[a.n - 1] != cls_linear_installed(b.rules[b.n - 1]))) {
			fprintf(stderr, "classify: packet %u: tuple space and linear disagree\n",
				i);
			return 1;
		}
	}
	printf("  classify (parse + lookup): %8.2f Mpps (%.2f-%.2f, %d runs)   linear baseline: "
	       "%8.4f Mpps   x%.0f  (%u trace packets)\n",
	       tuple_pps / 1e6, runs[0] / 1e6, runs[RUNS - 1] / 1e6, RUNS, linear_pps / 1e6,
	       tuple_pps / linear_pps, trace.n);
	printf("  the classifier alone (patterns compiled before): inserted at %.2f M rules/s, "
	       "refilled %.2f (%.2f-%.2f)\n",
	       solo_first / 1e6, solo_refills[REFILLS / 2] / 1e6, solo_refills[0] / 1e6,
	       solo_refills[REFILLS - 1] / 1e6);
	printf("  parse + lookup one by one: %8.2f Mpps (%.2f-%.2f)   bursts of %u: x%.2f\n",
	       single[RUNS / 2] / 1e6, single[0] / 1e6, single[RUNS - 1] / 1e6, CLS_BURST,
	       tuple_pps / single[RUNS / 2]);

	/* Churn: delete and re-insert rules while another thread classifies. */
	churn = (struct churn){.soft = soft, .trace = &trace};
	pthread_create(&thread, NULL, classify_thread, &churn);
	start = now_s();
	while (now_s() - start < seconds) {
		struct bench_rule *r = &rules[(churn_ops / 2 * 7919u) % n];

		if (dev.ops.destroy(&dev, r->handle, NULL) != 0 || create(&dev, r, false) != 0)
			return 1;
		churn_ops += 2;
	}
	shm_store_release32(&churn.stop, 1);
	pthread_join(thread, NULL);
	printf("  while classifying: %.0f inserts+deletes/s; classify thread %.2f Mpps\n",
	       churn_ops / (now_s() - start), churn.packets / (now_s() - start) / 1e6);
	hwdrv_close(&dev);
	for (unsigned i = 0; i < n; i++)
		match_free(&linear[i].match, &baseline_pool);
	pool_fini(&baseline_pool);
	free(linear);
	free(sorted);
	free(rules);
	free(trace.bytes);
	free(trace.packets);
	(void)checksum;
	return 0;
}
