/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tuple space search (see classify.h). One writer, RCU readers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hwdrv/soft/classify.h"
#include "shm/rule/rule.h"

/* A word of key: `length` (4 or 8) bytes at `offset` of item `item`'s bytes,
 * under `mask`. */
struct cls_gather {
	uint8_t item;
	uint8_t offset;
	uint8_t length;
	uint64_t mask;
};

/* The order and hash are copied from the rule so that a chain walk touches
 * the nodes only, not every rule it passes. */
struct cls_node {
	struct cls_node *next; /* RCU */
	const struct cls_rule *rule;
	uint64_t hash;
	uint64_t rank, seq;
};

struct cls_table {
	uint32_t mask; /* buckets - 1 */
	struct cls_node *buckets[]; /* RCU, each chain in rule order */
};

struct cls_tuple {
	/* Signature: rules with the same one share the table. */
	bool floating;
	bool function; /* the key holds the destination function */
	uint8_t n_items;
	uint8_t types[MPF_FLOW_ITEMS_MAX];
	uint8_t masks[MPF_FLOW_ITEMS_MAX][MATCH_ITEM_BYTES];
	/* Derived. */
	uint8_t n_gather;
	struct cls_gather gather[CLS_KEY_WORDS - 1];
	struct cls_table *table; /* RCU */
	shm_u64 min_rank;	 /* no rule here ranks lower (may be stale low) */
	uint64_t rules;		 /* writer */
};

struct cls_list {
	unsigned n;
	struct cls_tuple *tuples[]; /* by min_rank */
};

static bool ranks_before(uint64_t rank, uint64_t seq, const struct cls_rule *b)
{
	return rank < b->rank || (rank == b->rank && seq < b->seq);
}

static bool before(const struct cls_rule *a, const struct cls_rule *b)
{
	return ranks_before(a->rank, a->seq, b);
}

static uint64_t hash_key(const uint64_t *key, unsigned words)
{
	uint64_t h = 0x9e3779b97f4a7c15ull * (words + 1);

	for (unsigned i = 0; i < words; i++) {
		h ^= key[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

static uint64_t load_word(const uint8_t *bytes, const struct cls_gather *g)
{
	uint64_t w = 0;

	if (g->length == 8)
		memcpy(&w, bytes + g->offset, 8);
	else
		memcpy(&w, bytes + g->offset, 4);
	return w & g->mask;
}

/* Word 0 of every key: direction, port and (when the tuple has it) function. */
static uint64_t key_word0(bool egress, uint32_t port, uint32_t function, bool with_function)
{
	return (uint64_t)egress << 63 | (uint64_t)port |
	       (with_function ? (uint64_t)(function + 1) << 32 : 0);
}

static unsigned key_words(const struct cls_tuple *t)
{
	return 1u + t->n_gather;
}

/* ------------------------------------------------------------------------ */
/* Tuples                                                                   */
/* ------------------------------------------------------------------------ */

static uint8_t item_size(unsigned type)
{
	return (uint8_t)rule_item_desc((int)type)->size;
}

/* The tuple signature of an exact rule, with its gather list. False when the
 * key would not fit: the rule goes to the general list. */
static bool tuple_describe(struct cls_tuple *t, const struct match_pattern *m)
{
	memset(t, 0, sizeof(*t));
	t->floating = m->floating;
	t->function = m->functions.n + m->pf > 0;
	t->n_items = (uint8_t)m->n_items;
	for (unsigned i = 0; i < m->n_items; i++) {
		const struct match_item *item = &m->items[i];
		uint8_t covered[MATCH_ITEM_BYTES] = {0};

		t->types[i] = item->type;
		memcpy(t->masks[i], item->mask, item->size);
		for (unsigned k = 0; k < item->size; k += 8) {
			struct cls_gather g = {.item = (uint8_t)i};

			g.length = item->size < 8 ? item->size : 8;
			g.offset = (uint8_t)(k + g.length <= item->size ? k : item->size - 8u);
			for (unsigned b = 0; b < g.length; b++) {
				uint8_t byte = covered[g.offset + b] ? 0 : item->mask[g.offset + b];

				covered[g.offset + b] = 1;
				g.mask |= (uint64_t)byte << (8 * b); /* little-endian load */
			}
			if (g.mask == 0)
				continue;
			if (t->n_gather == CLS_KEY_WORDS - 1)
				return false;
			t->gather[t->n_gather++] = g;
		}
	}
	return true;
}

static bool tuple_same(const struct cls_tuple *a, const struct cls_tuple *b)
{
	if (a->floating != b->floating || a->function != b->function || a->n_items != b->n_items)
		return false;
	for (unsigned i = 0; i < a->n_items; i++)
		if (a->types[i] != b->types[i] ||
		    memcmp(a->masks[i], b->masks[i], item_size(a->types[i])) != 0)
			return false;
	return true;
}

static void rule_key(const struct cls_tuple *t, struct cls_rule *r)
{
	const struct match_pattern *m = &r->match;
	uint32_t function = m->pf ? PACKET_FUNCTION_PF : m->functions.v[0].low;

	r->key[0] = key_word0(m->directions == MATCH_EGRESS, m->ports.v[0].low, function,
			      t->function);
	for (unsigned g = 0; g < t->n_gather; g++)
		r->key[1 + g] = load_word(m->items[t->gather[g].item].value, &t->gather[g]);
	r->hash = hash_key(r->key, key_words(t));
}

static struct cls_table *table_new(uint32_t buckets)
{
	struct cls_table *table = calloc(1, sizeof(*table) + buckets * sizeof(table->buckets[0]));

	if (table)
		table->mask = buckets - 1;
	return table;
}

/* Writer: link `node` into its chain at its place in rule order. */
static void chain_insert(struct cls_node **head, struct cls_node *node)
{
	struct cls_node **link = head;

	while (*link && before((*link)->rule, node->rule))
		link = &(*link)->next;
	node->next = *link;
	rcu_publish(*link, node);
}

static void table_free(struct cls_table *table)
{
	for (uint32_t b = 0; table && b <= table->mask; b++) {
		struct cls_node *node = table->buckets[b];

		while (node) {
			struct cls_node *next = node->next;

			free(node);
			node = next;
		}
	}
	free(table);
}

/* Writer: move a tuple to a table four times larger (new nodes, published
 * whole), then free the old one once no reader holds it. */
static int table_grow(struct cls *c, struct cls_tuple *t)
{
	struct cls_table *old = t->table;
	struct cls_table *table = table_new((old->mask + 1) * 4);

	if (table == NULL)
		return -ENOMEM;
	for (uint32_t b = 0; b <= old->mask; b++)
		for (struct cls_node *n = old->buckets[b]; n; n = n->next) {
			struct cls_node *copy = malloc(sizeof(*copy));

			if (copy == NULL) {
				table_free(table);
				return -ENOMEM;
			}
			*copy = *n;
			chain_insert(&table->buckets[copy->hash & table->mask], copy);
		}
	rcu_publish(t->table, table);
	rcu_synchronize(c->rcu);
	table_free(old);
	return 0;
}

static int by_min_rank(const void *a, const void *b)
{
	uint64_t x = shm_load_relaxed64(&(*(struct cls_tuple *const *)a)->min_rank);
	uint64_t y = shm_load_relaxed64(&(*(struct cls_tuple *const *)b)->min_rank);

	return x < y ? -1 : x > y;
}

/* Writer: publish the tuples in search order; free the old list. */
static int list_publish(struct cls *c)
{
	struct cls_list *old = c->list;
	struct cls_list *list = malloc(sizeof(*list) + c->n_tuples * sizeof(list->tuples[0]));

	if (list == NULL)
		return -ENOMEM;
	list->n = c->n_tuples;
	memcpy(list->tuples, c->tuples, c->n_tuples * sizeof(list->tuples[0]));
	qsort(list->tuples, list->n, sizeof(list->tuples[0]), by_min_rank);
	rcu_publish(c->list, list);
	rcu_synchronize(c->rcu);
	free(old);
	return 0;
}

static struct cls_tuple *tuple_find_or_add(struct cls *c, const struct cls_tuple *shape)
{
	struct cls_tuple *t;

	for (unsigned i = 0; i < c->n_tuples; i++)
		if (tuple_same(c->tuples[i], shape))
			return c->tuples[i];
	if (c->n_tuples == c->cap_tuples) {
		unsigned cap = c->cap_tuples ? c->cap_tuples * 2 : 16;
		struct cls_tuple **grown = realloc(c->tuples, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		c->tuples = grown;
		c->cap_tuples = cap;
	}
	t = malloc(sizeof(*t));
	if (t == NULL)
		return NULL;
	*t = *shape;
	t->table = table_new(16);
	if (t->table == NULL) {
		free(t);
		return NULL;
	}
	shm_store_relaxed64(&t->min_rank, UINT64_MAX);
	c->tuples[c->n_tuples++] = t;
	return t;
}

static void tuple_drop(struct cls *c, struct cls_tuple *t)
{
	for (unsigned i = 0; i < c->n_tuples; i++)
		if (c->tuples[i] == t) {
			c->tuples[i] = c->tuples[--c->n_tuples];
			break;
		}
	/* If the smaller list cannot be had, keep the old one: an empty
	 * tuple in it costs lookups a little, nothing else. */
	if (list_publish(c) != 0)
		return;
	table_free(t->table);
	free(t);
}

/* ------------------------------------------------------------------------ */
/* Writer API                                                               */
/* ------------------------------------------------------------------------ */

void cls_init(struct cls *c, struct rcu *rcu)
{
	memset(c, 0, sizeof(*c));
	c->rcu = rcu;
}

void cls_fini(struct cls *c)
{
	struct cls_node *node = c->general;

	while (node) {
		struct cls_node *next = node->next;

		free(node);
		node = next;
	}
	for (unsigned i = 0; i < c->n_tuples; i++) {
		table_free(c->tuples[i]->table);
		free(c->tuples[i]);
	}
	free(c->tuples);
	free(c->list);
	memset(c, 0, sizeof(*c));
}

static int insert_general(struct cls *c, struct cls_rule *rule)
{
	struct cls_node *node = malloc(sizeof(*node));

	if (node == NULL)
		return -ENOMEM;
	node->rule = rule;
	node->hash = 0;
	node->rank = rule->rank;
	node->seq = rule->seq;
	rule->tuple = NULL;
	chain_insert(&c->general, node);
	c->general_rules++;
	return 0;
}

int cls_insert(struct cls *c, struct cls_rule *rule)
{
	struct cls_tuple shape, *t;
	struct cls_node *node;
	bool reorder = false;

	if (!match_is_exact(&rule->match) || !tuple_describe(&shape, &rule->match))
		return insert_general(c, rule);
	t = tuple_find_or_add(c, &shape);
	node = t ? malloc(sizeof(*node)) : NULL;
	if (node == NULL) {
		if (t && t->rules == 0)
			tuple_drop(c, t);
		return -ENOMEM;
	}
	rule_key(t, rule);
	rule->tuple = t;
	node->rule = rule;
	node->hash = rule->hash;
	node->rank = rule->rank;
	node->seq = rule->seq;
	/* The tuple's place in the search order first, then the rule: a
	 * reader never skips a tuple holding a rule it can see. */
	if (rule->rank < shm_load_relaxed64(&t->min_rank)) {
		shm_store_relaxed64(&t->min_rank, rule->rank);
		reorder = true;
	}
	if ((reorder || t->rules == 0) && list_publish(c) != 0) {
		free(node);
		if (t->rules == 0)
			tuple_drop(c, t);
		return -ENOMEM;
	}
	chain_insert(&t->table->buckets[node->hash & t->table->mask], node);
	t->rules++;
	c->exact_rules++;
	if (t->rules > 2ull * (t->table->mask + 1))
		table_grow(c, t); /* on failure the chains just stay longer */
	return 0;
}

/* Writer: unlink the node of `rule` from a chain; return it for freeing. */
static struct cls_node *chain_remove(struct cls_node **head, const struct cls_rule *rule)
{
	for (struct cls_node **link = head; *link; link = &(*link)->next)
		if ((*link)->rule == rule) {
			struct cls_node *node = *link;

			rcu_publish(*link, node->next);
			return node;
		}
	return NULL;
}

void cls_remove(struct cls *c, struct cls_rule *rule)
{
	struct cls_tuple *t = rule->tuple;
	struct cls_node *node;

	if (t == NULL) {
		node = chain_remove(&c->general, rule);
		c->general_rules -= node != NULL;
	} else {
		node = chain_remove(&t->table->buckets[rule->hash & t->table->mask], rule);
		c->exact_rules -= node != NULL;
		t->rules -= node != NULL;
	}
	if (node == NULL)
		return;
	rcu_synchronize(c->rcu);
	free(node);
	if (t && t->rules == 0)
		tuple_drop(c, t);
}

unsigned cls_tuple_count(const struct cls *c)
{
	return c->n_tuples;
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                   */
/* ------------------------------------------------------------------------ */

struct candidates {
	const struct cls_rule *best; /* the first terminating rule so far */
	struct cls_result *out;
};

/* Consider a rule that matched: the best terminating one, or a
 * non-terminating one to run before it. */
static void consider(struct candidates *cand, const struct cls_rule *r)
{
	struct cls_result *out = cand->out;

	if (r->terminating) {
		if (cand->best == NULL || before(r, cand->best))
			cand->best = r;
		return;
	}
	for (unsigned i = 0; i < out->n; i++)
		if (out->rules[i] == r)
			return;
	if (out->n == CLS_MATCH_MAX - 1) { /* keep room for the terminating one */
		out->overflow = true;
		return;
	}
	out->rules[out->n++] = r;
}

static void finish(struct candidates *cand)
{
	struct cls_result *out = cand->out;
	unsigned n = 0;

	/* Non-terminating rules after the terminating one never run. */
	for (unsigned i = 0; i < out->n; i++)
		if (cand->best == NULL || before(out->rules[i], cand->best))
			out->rules[n++] = out->rules[i];
	/* Few entries: insertion sort. */
	for (unsigned i = 1; i < n; i++) {
		const struct cls_rule *r = out->rules[i];
		unsigned j = i;

		for (; j > 0 && before(r, out->rules[j - 1]); j--)
			out->rules[j] = out->rules[j - 1];
		out->rules[j] = r;
	}
	out->n = n;
	out->terminated = cand->best != NULL;
	if (cand->best)
		out->rules[out->n++] = cand->best;
}

static void lookup_tuple(const struct cls_tuple *t, const struct packet *p, unsigned start,
			 struct candidates *cand)
{
	const struct cls_table *table = rcu_dereference(t->table);
	uint64_t key[CLS_KEY_WORDS];
	unsigned words = key_words(t);
	uint64_t hash;

	for (unsigned i = 0; i < t->n_items; i++)
		if (!match_type(t->types[i], p->layers[start + i].type))
			return;
	key[0] = key_word0(p->egress, p->port, p->function, t->function);
	for (unsigned g = 0; g < t->n_gather; g++) {
		const struct cls_gather *gather = &t->gather[g];

		key[1 + g] = load_word(p->data + p->layers[start + gather->item].hdr, gather);
	}
	hash = hash_key(key, words);
	for (const struct cls_node *node = rcu_dereference(table->buckets[hash & table->mask]);
	     node; node = rcu_dereference(node->next)) {
		const struct cls_rule *r;

		if (cand->best && !ranks_before(node->rank, node->seq, cand->best))
			return;
		if (node->hash != hash)
			continue;
		r = node->rule;
		if (memcmp(r->key, key, words * sizeof(key[0])) != 0)
			continue;
		consider(cand, r);
		if (r->terminating)
			return;
	}
}

void cls_lookup(const struct cls *c, const struct packet *p, struct cls_result *out)
{
	struct candidates cand = {.out = out};
	const struct cls_list *list = rcu_dereference(c->list);

	out->n = 0;
	out->overflow = false;
	for (const struct cls_node *node = rcu_dereference(c->general); node;
	     node = rcu_dereference(node->next)) {
		if (match_packet(&node->rule->match, p)) {
			consider(&cand, node->rule);
			if (node->rule->terminating)
				break;
		}
	}
	for (unsigned i = 0; list && i < list->n; i++) {
		const struct cls_tuple *t = list->tuples[i];

		if (cand.best && shm_load_relaxed64(&t->min_rank) > cand.best->rank)
			break;
		if (t->n_items > p->n_layers)
			continue;
		if (!t->floating) {
			lookup_tuple(t, p, 0, &cand);
			continue;
		}
		for (unsigned start = 0; start + t->n_items <= p->n_layers; start++)
			lookup_tuple(t, p, start, &cand);
	}
	finish(&cand);
}

void cls_lookup_linear(const struct cls_rule *const *rules, unsigned n, const struct packet *p,
		       struct cls_result *out)
{
	struct candidates cand = {.out = out};

	out->n = 0;
	out->overflow = false;
	for (unsigned i = 0; i < n; i++)
		if (match_packet(&rules[i]->match, p)) {
			consider(&cand, rules[i]);
			if (rules[i]->terminating)
				break;
		}
	finish(&cand);
}
