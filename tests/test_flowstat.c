/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowstat's snapshots against a real primary: a snapshot that skips the
 * blocks of rules whose activity did not move, and ranks the others by
 * their counter lines alone where the order allows
 * (tools/flowstat/snapshot.c), shows exactly what one that reads every
 * rule shows — the same totals,
 * the same top rows in the same order, by every order — through traffic
 * counted by two datapath workers, rules destroyed, made and reset, and
 * nothing at all; and with nothing moved it reads no block.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "tests/harness.h"
#include "tests/packet_builder.h"
#include "tools/flowstat/flowstat.h"

enum { RULES = 1000, FLOWS = 64, TOP = 10 };

static const struct mpf_flow_attr ingress = {.ingress = 1};

struct rig {
	struct primary p;
	struct mpf_client *c;
	struct mpf_txq *tx[2]; /* one per datapath worker */
	uint64_t handles[RULES + 64];
	uint32_t flow_of[RULES + 64]; /* the n of sample_rule_init() */
	bool counted[RULES + 64];     /* COUNT; else QUEUE alone */
	unsigned n_rules;
	struct mpf_client *other; /* another owner's rules, for a filter */
	uint64_t sent;		  /* frames, all told */
};

static void make_rule(struct rig *r, uint32_t n, bool counted)
{
	struct sample_rule s;
	struct mpf_flow_error error;

	sample_rule_init(&s, n);
	assert_int_equal(mpf_flow_create(r->c, 0, &ingress, s.pattern,
					 counted ? s.actions : s.actions + 1, 0,
					 &r->handles[r->n_rules], &error),
			 0);
	r->counted[r->n_rules] = counted;
	r->flow_of[r->n_rules++] = n;
}

/* Rules of another client, "other", on flows 2000 on. */
static void make_others(struct rig *r, unsigned n)
{
	struct mpf_flow_error error;

	assert_int_equal(primary_connect(&r->p, "other", &r->other), 0);
	for (uint32_t i = 0; i < n; i++) {
		struct sample_rule s;
		uint64_t h;

		sample_rule_init(&s, 2000 + i);
		assert_int_equal(
			mpf_flow_create(r->other, 0, &ingress, s.pattern, s.actions, 0, &h, &error),
			0);
	}
}

/* `count` frames of flow n (the source address sample rule n matches). */
static void send_flow(struct rig *r, uint32_t n, unsigned count)
{
	/* Each flow's own frame size: a busiest by bytes is not the busiest
	 * by frames. */
	struct frame f = frame_ipv4_l4(0x0a000000u | n, 0x0aff0001u, 17, 1000, 80, (n * 37) % 400);
	struct mpf_tx_frame burst[32];
	time_t deadline = time(NULL) + 10;

	for (unsigned i = 0; i < 32; i++)
		burst[i] = (struct mpf_tx_frame){.data = f.bytes, .length = (uint32_t)f.length};
	r->sent += count;
	while (count > 0) {
		int k = mpf_txq_burst(r->tx[n % 2], burst, count < 32 ? count : 32);

		assert_true(k >= 0);
		count -= (unsigned)k;
		if (k == 0) {
			assert_true(time(NULL) <= deadline);
			usleep(100);
		}
	}
}

/* Until every frame sent is counted: then the counts stand still. */
static void settle(struct rig *r)
{
	for (int tries = 0; tries < 400; tries++) {
		struct mpf_port_stats ps;

		assert_int_equal(mpf_port_stats(r->c, 0, &ps), 0);
		if (ps.rx_packets == r->sent)
			return;
		usleep(25000);
	}
	fail_msg("the datapath did not count every frame sent");
}

static void viewer_init(struct flowstat *fs, const struct rig *r, enum column sort, bool reverse,
			size_t keep, const char *owner)
{
	*fs = (struct flowstat){
		.connect = {.runtime_dir = r->p.dir, .name = "flowstat-test"},
		.filter = {.owner = owner, .port = -1, .group = -1},
		.sort = sort,
		.reverse = reverse,
		.top = TOP,
		.keep = keep,
	};
}

static void viewer_fini(struct flowstat *fs, struct snapshot s[2])
{
	snapshot_free(&s[0]);
	snapshot_free(&s[1]);
	snapshot_cache_free(fs);
	mpf_monitor_close(fs->monitor);
}

/* Both viewers take their next snapshot; the one that skips idle blocks
 * (`inc`, keeping TOP rows) shows what the one that reads everything
 * (`ref`, keeping every row) shows. Returns the blocks `inc` read. */
static size_t take_and_compare(struct flowstat *inc, struct snapshot si[2], unsigned *ci,
			       struct flowstat *ref, struct snapshot sr[2], unsigned *cr)
{
	struct shown *a, *b;
	size_t na, nb, read = 0;
	/* The counts stand still while both take theirs, so a rate times
	 * its viewer's interval is the same count for both: the intervals,
	 * where the rates are this snapshot's (not a re-ranking's). */
	bool fresh = !inc->rerank && inc->cache.taken_ns && ref->cache.taken_ns;
	uint64_t inc_from = inc->cache.taken_ns, ref_from = ref->cache.taken_ns;
	double ti, tr;

	*ci ^= 1;
	*cr ^= 1;
	assert_int_equal(snapshot_take(inc, &si[*ci ^ 1], &si[*ci]), 0);
	assert_int_equal(snapshot_take(ref, &sr[*cr ^ 1], &sr[*cr]), 0);
	assert_int_equal(si[*ci].count, sr[*cr].count);
	assert_int_equal(si[*ci].hits, sr[*cr].hits);
	assert_int_equal(si[*ci].bytes, sr[*cr].bytes);
	ti = (double)(inc->cache.taken_ns - inc_from) / 1e9;
	tr = (double)(ref->cache.taken_ns - ref_from) / 1e9;
	if (fresh) {
		assert_true(fabs(si[*ci].pps * ti - sr[*cr].pps * tr) < 1e-6);
		assert_true(fabs(si[*ci].bps * ti - sr[*cr].bps * tr) < 1e-6);
	}
	a = snapshot_view(inc, &si[*ci], TOP, false, &na);
	b = snapshot_view(ref, &sr[*cr], TOP, false, &nb);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++) {
		const struct row *x = a[i].row, *y = b[i].row;

		if (x->info.handle != y->info.handle)
			fail_msg("sort %s%s, row %zu: rule 0x%llx (hits %llu, pps %.1f) where "
				 "a full read shows 0x%llx (hits %llu, pps %.1f)",
				 column_name(inc->sort), inc->reverse ? " reversed" : "", i,
				 (unsigned long long)x->info.handle,
				 (unsigned long long)x->info.hits, x->pps,
				 (unsigned long long)y->info.handle,
				 (unsigned long long)y->info.hits, y->pps);
		assert_int_equal(x->info.hits, y->info.hits);
		assert_int_equal(x->info.bytes, y->info.bytes);
		assert_int_equal(x->info.last_hit_ns, y->info.last_hit_ns);
		/* The entry's fields too, read apart from the counts when a
		 * refresh ranks by them alone. */
		assert_int_equal(x->info.number, y->info.number);
		assert_string_equal(x->info.owner_name, y->info.owner_name);
		assert_int_equal(x->info.owner_pid, y->info.owner_pid);
		assert_int_equal(x->info.port, y->info.port);
		assert_int_equal(x->info.group, y->info.group);
		assert_int_equal(x->info.priority, y->info.priority);
		assert_int_equal(x->info.flags, y->info.flags);
		assert_int_equal(x->info.created_ns, y->info.created_ns);
		assert_int_equal(x->pps > 0, y->pps > 0);
		if (fresh) { /* the same frames and bytes since the last */
			assert_true(fabs(x->pps * ti - y->pps * tr) < 1e-6);
			assert_true(fabs(x->bps * ti - y->bps * tr) < 1e-6);
		}
		/* And those are the rule's: against the full read's last
		 * snapshot, which kept every row. */
		for (size_t k = 0; fresh && y->rated && k < sr[*cr ^ 1].n_rows; k++) {
			const struct row *was = &sr[*cr ^ 1].rows[k];

			if (was->info.handle != y->info.handle)
				continue;
			assert_true(fabs(y->pps * tr - (double)(y->info.hits - was->info.hits)) <
				    1e-6);
			assert_true(fabs(y->bps * tr -
					 8.0 * (double)(y->info.bytes - was->info.bytes)) < 1e-6);
		}
		assert_int_equal(x->rated, y->rated);
	}
	free(a);
	free(b);
	for (size_t k = 0; k < inc->cache.n_blocks; k++)
		read += inc->cache.blocks[k].read_ns == si[*ci].taken_ns;
	return read;
}

/* Destroy the rule a full read shows first. */
static void destroy_busiest(struct rig *r, const struct flowstat *ref, const struct snapshot *s)
{
	struct mpf_flow_error error;
	struct shown *v;
	size_t n;

	v = snapshot_view(ref, s, 1, false, &n);
	assert_non_null(v);
	for (unsigned k = 0; n == 1 && k < r->n_rules; k++) {
		if (r->handles[k] != v[0].row->info.handle)
			continue;
		assert_int_equal(mpf_flow_destroy(r->c, 0, r->handles[k], &error), 0);
		r->handles[k] = r->handles[--r->n_rules];
		r->flow_of[k] = r->flow_of[r->n_rules];
		r->counted[k] = r->counted[r->n_rules];
		break;
	}
	free(v);
}

static void run_order(struct rig *r, enum column sort, bool reverse, const char *owner,
		      uint32_t round)
{
	struct flowstat inc, ref;
	struct snapshot si[2] = {{0}}, sr[2] = {{0}};
	unsigned ci = 0, cr = 0;
	struct mpf_flow_error error;

	viewer_init(&inc, r, sort, reverse, TOP, owner);
	viewer_init(&ref, r, sort, reverse, 0, owner);
	/* The first snapshot reads everything. */
	assert_true(take_and_compare(&inc, si, &ci, &ref, sr, &cr) > 0);
	/* Traffic on FLOWS rules spread over the slots, a different count
	 * each (a strict order), from both workers. */
	for (uint32_t k = 0; k < FLOWS; k++)
		send_flow(r, r->flow_of[(k * 15 + round) % r->n_rules], 1 + (k * 7 + round) % 61);
	for (uint32_t k = 0; k < 8; k++)
		send_flow(r, 2000 + k * 3, 70 + k); /* the other client's, the busiest */
	settle(r);
	take_and_compare(&inc, si, &ci, &ref, sr, &cr);
	/* Nothing moved: no block read, the same rows (their rates now 0). */
	assert_int_equal(take_and_compare(&inc, si, &ci, &ref, sr, &cr), 0);
	/* The busiest rules destroyed (what a threshold on the last rows
	 * must notice), others reset, new ones made and counted. */
	for (unsigned i = 0; i < 3; i++) {
		destroy_busiest(r, &ref, &sr[cr]);
		take_and_compare(&inc, si, &ci, &ref, sr, &cr);
	}
	for (unsigned k = 0; k < r->n_rules; k += 97) {
		struct mpf_flow_query_count count = {.reset = 1};

		if (!r->counted[k])
			continue;
		assert_int_equal(mpf_flow_query(r->c, 0, r->handles[k], MPF_FLOW_ACTION_TYPE_COUNT,
						&count, &error),
				 0);
	}
	take_and_compare(&inc, si, &ci, &ref, sr, &cr);
	make_rule(r, 6000 + round, true); /* never counted */
	take_and_compare(&inc, si, &ci, &ref, sr, &cr);
	make_rule(r, 5000 + round, true);
	send_flow(r, 5000 + round, 500);
	settle(r);
	take_and_compare(&inc, si, &ci, &ref, sr, &cr);
	/* A new order: read again, with the last interval's rates. */
	inc.rerank = ref.rerank = true;
	inc.sort = ref.sort = sort == COL_HITS ? COL_PPS : COL_HITS;
	take_and_compare(&inc, si, &ci, &ref, sr, &cr);
	/* And on in that order. */
	send_flow(r, r->flow_of[round], 9);
	settle(r);
	take_and_compare(&inc, si, &ci, &ref, sr, &cr);
	viewer_fini(&inc, si);
	viewer_fini(&ref, sr);
}

static void test_skipping_idle_blocks_shows_what_a_full_read_shows(void **state)
{
	static const struct {
		enum column sort;
		bool reverse;
		const char *owner; /* the filter */
	} orders[] = {
		{COL_PPS, false, NULL},	    {COL_PPS, true, NULL},     {COL_HITS, false, NULL},
		{COL_HITS, true, NULL},	    {COL_BPS, false, NULL},    {COL_BPS, true, NULL},
		{COL_BYTES, false, NULL},   {COL_BYTES, true, NULL},   {COL_LAST, false, NULL},
		{COL_LAST, true, NULL},	    {COL_ID, false, NULL},     {COL_ID, true, NULL},
		{COL_PRIORITY, true, NULL}, {COL_PPS, false, "rules"}, {COL_HITS, false, "rules"}};
	const char *args[] = {"--workers", "2", "--source", "0=loop:", "--max-rules", "4096", NULL};
	struct rig *r = calloc(1, sizeof(*r));
	struct mpf_flow_error error;

	(void)state;
	assert_non_null(r);
	assert_int_equal(primary_start(&r->p, args), 0);
	assert_int_equal(primary_connect(&r->p, "rules", &r->c), 0);
	assert_int_equal(mpf_txq_attach(r->c, 0, 0, &r->tx[0], &error), 0);
	assert_int_equal(mpf_txq_attach(r->c, 0, 1, &r->tx[1], &error), 0);
	/* Flow n's rule away from slot n: traffic touches scattered blocks. */
	for (uint32_t i = 0; i < RULES; i++)
		make_rule(r, (i * 37) % RULES, i % 10 != 3);
	make_others(r, 32);
	for (uint32_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++)
		run_order(r, orders[o].sort, orders[o].reverse, orders[o].owner, o);
	assert_int_equal(mpf_txq_detach(r->tx[0], &error), 0);
	assert_int_equal(mpf_txq_detach(r->tx[1], &error), 0);
	mpf_disconnect(r->other);
	mpf_disconnect(r->c);
	assert_int_equal(primary_stop(&r->p), 0);
	assert_int_equal(primary_cleanup(&r->p), 0);
	free(r);
}

/* What a viewer kept is the last primary's: after a restart its slots hold
 * other rules and its stamps start over, so a block can show the same
 * activity with other contents (here block 0: 64 rules made and one
 * destroyed, then 64 made and one packet counted). Nothing kept is used. */
static void test_a_restarted_primary_is_read_afresh(void **state)
{
	const char *args[] = {"--workers", "2", "--source", "0=loop:", "--max-rules", "4096", NULL};
	struct rig *r = calloc(1, sizeof(*r));
	struct flowstat inc, ref;
	struct snapshot si[2] = {{0}}, sr[2] = {{0}};
	unsigned ci = 0, cr = 0;
	struct mpf_flow_error error;

	(void)state;
	assert_non_null(r);
	for (int run = 0; run < 2; run++) {
		if (run == 0)
			assert_int_equal(primary_start(&r->p, args), 0);
		else
			assert_int_equal(primary_restart(&r->p, args), 0);
		r->n_rules = 0;
		r->sent = 0;
		assert_int_equal(primary_connect(&r->p, "rules", &r->c), 0);
		assert_int_equal(mpf_txq_attach(r->c, 0, 0, &r->tx[0], &error), 0);
		assert_int_equal(mpf_txq_attach(r->c, 0, 1, &r->tx[1], &error), 0);
		for (uint32_t i = 0; i < 300; i++)
			make_rule(r, i, true);
		if (run == 0) {
			assert_int_equal(mpf_flow_destroy(r->c, 0, r->handles[0], &error), 0);
			viewer_init(&inc, r, COL_PPS, false, TOP, NULL);
			viewer_init(&ref, r, COL_PPS, false, 0, NULL);
		} else {
			send_flow(r, r->flow_of[5], 1);
			settle(r);
		}
		take_and_compare(&inc, si, &ci, &ref, sr, &cr);
		take_and_compare(&inc, si, &ci, &ref, sr, &cr);
		assert_int_equal(mpf_txq_detach(r->tx[0], &error), 0);
		assert_int_equal(mpf_txq_detach(r->tx[1], &error), 0);
		mpf_disconnect(r->c);
		if (run == 0)
			assert_int_equal(primary_stop(&r->p), 0);
	}
	viewer_fini(&inc, si);
	viewer_fini(&ref, sr);
	assert_int_equal(primary_stop(&r->p), 0);
	assert_int_equal(primary_cleanup(&r->p), 0);
	free(r);
}

/* A rule destroyed between the snapshot and the read of the rules' text:
 * its row says so (no text), the others have theirs. */
static void test_a_rule_gone_since_the_snapshot_is_marked_not_named(void **state)
{
	const char *args[] = {"--max-rules", "64", NULL};
	struct rig *r = calloc(1, sizeof(*r));
	struct snapshot s[2] = {{0}};
	struct mpf_flow_error error;
	struct flowstat fs;
	struct shown *view;
	size_t n, gone = 0;

	(void)state;
	assert_non_null(r);
	assert_int_equal(primary_start(&r->p, args), 0);
	assert_int_equal(primary_connect(&r->p, "rules", &r->c), 0);
	for (uint32_t i = 0; i < 5; i++)
		make_rule(r, i, true);
	viewer_init(&fs, r, COL_ID, false, 0, NULL);
	assert_int_equal(snapshot_take(&fs, &s[1], &s[0]), 0);
	assert_int_equal(s[0].count, 5);
	assert_int_equal(mpf_flow_destroy(r->c, 0, r->handles[2], &error), 0);
	view = snapshot_view(&fs, &s[0], 0, true, &n);
	assert_non_null(view);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		bool destroyed = view[i].row->info.handle == r->handles[2];

		assert_int_equal(view[i].gone, destroyed);
		if (destroyed)
			assert_string_equal(view[i].text, "");
		else
			assert_non_null(strstr(view[i].text, "pattern eth / ipv4"));
		gone += view[i].gone;
	}
	assert_int_equal(gone, 1);
	free(view);
	mpf_disconnect(r->c);
	viewer_fini(&fs, s);
	assert_int_equal(primary_stop(&r->p), 0);
	assert_int_equal(primary_cleanup(&r->p), 0);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skipping_idle_blocks_shows_what_a_full_read_shows),
		cmocka_unit_test(test_a_restarted_primary_is_read_afresh),
		cmocka_unit_test(test_a_rule_gone_since_the_snapshot_is_marked_not_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
