/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The soft datapath's classifier: tuple space search with a general path.
 *
 * Keyed rules (match_is_keyed(): header items under a mask or with ranges,
 * one port, at most one function) go to a hash table per tuple — item
 * types, masks, anchoring — keyed by the masked bytes. Tuples are merged: a
 * rule may sit in a tuple coarser than its own masks and is confirmed after
 * the key (classify.c says how tuples are chosen). Every other rule (RAW,
 * ANY, INVERT, several ports or functions) goes to the general list, run
 * with match_packet(). Tuples are searched in the order of the best rule
 * they hold and the search stops as soon as no remaining tuple can hold a
 * rule that precedes the best terminating rule found.
 *
 * Order: (group, priority) lower first, then creation order: two rules that
 * match the same packet at the same group and priority are applied oldest
 * first, always (rte_flow leaves this undefined; we make it deterministic).
 *
 * Concurrency: one writer (the primary's thread) inserts and removes while
 * the datapath worker looks up. Every structure the reader reaches is
 * published whole with rcu_publish(); a removed rule is unlinked, and the
 * caller frees it only after rcu_synchronize(). Replacing a bucket array or
 * the tuple list synchronizes inside the call. Inserting never stops
 * lookups and rebuilds no table but those it grows (linking one rule grows
 * at most its own tuple's; linking a burst of prepared rules, theirs).
 */
#ifndef MPFLOW_SOFT_CLASSIFY_H
#define MPFLOW_SOFT_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "hwdrv/soft/match.h"
#include "hwdrv/soft/pool.h"
#include "hwdrv/soft/rcu.h"

#define CLS_KEY_WORDS 16 /* 128 bytes of masked key: larger rules go general */
#define CLS_MATCH_MAX 32 /* rules one packet can hit (non-terminating ones first) */
/* Rules of finer masks a merged tuple takes at one key; the next goes to a
 * tuple of its own masks (classify.c). */
#define CLS_COLLISIONS_MAX 8

struct cls_tuple;

/* What the classifier knows of a rule; embedded in the backend's rule. */
struct cls_rule {
	uint64_t rank; /* group << 32 | priority */
	uint64_t seq;  /* creation order */
	bool terminating;
	/* Set by cls_insert() or cls_prepare(): lookups read `match` (a
	 * general rule, or one
	 * its tuple's key cannot confirm alone). When clear, the node holds
	 * all a lookup needs, and the owner may free `match` at once (a
	 * 5-tuple rule's pattern and three items are 488 bytes). */
	bool reads_match;
	bool pending;		     /* prepared, not yet linked (cls_prepare()) */
	bool no_new_tuple;	     /* the owner's: refuse it rather than add a tuple */
	struct match_pattern *match; /* compiled; the owner's, set before the insert */
	struct cls_tuple *tuple;     /* NULL: on the general list */
	uint64_t hash;		     /* of its key in the tuple */
};

struct cls_node;
struct cls_list;

struct cls {
	struct rcu *rcu;
	struct cls_list *list;	  /* tuples in search order (RCU) */
	struct cls_node *general; /* general rules in order (RCU list) */
	/* Writer only. */
	struct cls_tuple **tuples;
	unsigned n_tuples, cap_tuples;
	uint64_t keyed_rules, general_rules; /* pending ones included */
	struct cls_node *pending;	     /* prepared nodes, for cls_link_pending() */
	uint64_t generation;		     /* of the tuple set: bumped as one comes or goes */
	struct cls_shape **shapes;	     /* rule shapes seen, and the tuples that fit each */
	unsigned shape_evictions;	     /* shapes replaced: which way goes next */
	struct cls_shape *last_shape;	     /* the last rule's: a bulk load's are alike */
	struct pool pool; /* the nodes: no malloc and free per rule, nor per node a
			   * table's growth copies */
};

struct cls_result {
	const struct cls_rule *rules[CLS_MATCH_MAX]; /* in order */
	unsigned n;
	bool terminated; /* the last one is terminating */
	bool overflow;	 /* more non-terminating rules matched than fit */
};

void cls_init(struct cls *c, struct rcu *rcu);
/* Writer, with no reader left: free everything (not the rules). */
void cls_fini(struct cls *c);

/* Writer: add a compiled rule; rank, seq, terminating and match set.
 * 0, -ENOMEM, or -EDQUOT: `no_new_tuple` set, and no tuple of today's
 * takes it (every lookup would probe one more). */
int cls_insert(struct cls *c, struct cls_rule *rule);
/* The same in two steps, for a writer with other work to do in between:
 * cls_prepare() does all that can fail and sets the bucket the rule goes
 * to on its way to the cache; cls_link_pending() links every rule prepared
 * since its last call, their buckets in cache by then (at millions of
 * rules a miss each). A prepared rule is not found by lookups until
 * linked; cls_remove() takes it either way. */
int cls_prepare(struct cls *c, struct cls_rule *rule);
void cls_link_pending(struct cls *c);
/* Writer: would a rule matching `m` go to the general list, where every
 * frame of the port meets it in turn? */
bool cls_would_be_general(struct cls *c, const struct match_pattern *m);
/* Writer: unlink it; free it only after rcu_synchronize(). */
void cls_remove(struct cls *c, struct cls_rule *rule);
/* The same for `n` rules (at most CLS_REMOVE_BURST), their memory accesses
 * overlapped and one grace period waited for them all. */
#define CLS_REMOVE_BURST 32
void cls_remove_burst(struct cls *c, struct cls_rule *const *rules, unsigned n);

/* Reader: the rules `p` hits, in order, up to and including the first
 * terminating one. */
void cls_lookup(const struct cls *c, const struct packet *p, struct cls_result *out);

/* Reader: the same for `n` packets (at most CLS_BURST), out[i] for pkts[i],
 * their table probes overlapped: what a datapath round should use. */
#define CLS_BURST 16
void cls_lookup_burst(const struct cls *c, const struct packet *const *pkts, unsigned n,
		      struct cls_result *out);
/* Reader: would a burst overlap its packets' probes now (tables beyond the
 * cache, few tuples, none floating), or look them up one by one? */
bool cls_lookup_overlaps(const struct cls *c);

/* The baseline the benchmark compares with: every rule in order through the
 * general matcher. `rules` sorted by (rank, seq): cls_linear_rule()s. */
void cls_lookup_linear(const struct cls_rule *const *rules, unsigned n, const struct packet *p,
		       struct cls_result *out);

/* A rule of that baseline: compiled again from `rule`, the rule installed
 * as `installed` (which may have given its pattern back once its node
 * confirms it alone: reads_match), and ranked as it is. Its pattern comes
 * from `pool`: match_free() it after. 0 or match_compile()'s error. */
struct cls_linear_rule {
	struct cls_rule cls; /* first: the baseline's results name these */
	struct match_pattern match;
	const struct cls_rule *installed;
};
int cls_linear_rule(struct cls_linear_rule *l, const struct cls_rule *installed,
		    const struct hwdrv_rule *rule, struct pool *pool, struct mpf_flow_error *error);

/* The installed rule behind a result of the baseline. */
static inline const struct cls_rule *cls_linear_installed(const struct cls_rule *r)
{
	return ((const struct cls_linear_rule *)r)->installed;
}

/* Tuples (distinct masks) in use, for logs and benchmarks. */
unsigned cls_tuple_count(const struct cls *c);
/* For tests: whether each tuple's counts of crowded keys and pending
 * rules (classify.c) agree with its chains and the pending list. */
bool cls_crowd_consistent(const struct cls *c);

#endif
