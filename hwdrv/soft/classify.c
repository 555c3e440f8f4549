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

/*
 * A rule's node in a tuple's table (or the general list). The order and
 * hash are copied from the rule so that a chain walk touches the nodes
 * only, not every rule it passes. A node has two links: a table's chains
 * run through one of them (its `link`), so that a table four times larger
 * is built through the other, while readers walk the old one, moving no
 * node (table_grow()). The general list and the pending list use link 0.
 */
struct cls_node {
	struct cls_node *next[2]; /* RCU */
	const struct cls_rule *rule;
	uint64_t hash;
	uint64_t rank, seq;
	bool terminating;
	uint8_t verify; /* enum cls_verify */
	uint16_t size;	/* bytes, for the pool */
	/* The tuple's key_words() of masked key; with CLS_VERIFY_WORDS, then
	 * as many words of the rule's own mask and value, laid out as the key:
	 * a rule is confirmed from the node alone. */
	uint64_t words[];
};

/* What confirms a rule once its tuple key matched. */
enum cls_verify {
	CLS_VERIFY_NONE,  /* the key is the rule's whole match */
	CLS_VERIFY_WORDS, /* finer masks, all within the key's words */
	CLS_VERIFY_RULE,  /* ranges, or mask bits outside the key's words */
};

/*
 * A tuple's rules by key. A bucket is one word: the chain's first node in
 * the low 48 bits and, above them, a tag bit for each hash in the chain
 * (bit 48 + the hash's top four bits). A probe whose tag is clear is done
 * at the bucket, without reading a node: at a million rules, one cache
 * miss instead of two. Only nodes of one hash are kept in rule order (no
 * other can match the packets theirs do), so a node whose tag is new to
 * its bucket goes at the head without reading the chain.
 */
#define CLS_BUCKET_NODE 0x0000ffffffffffffull
#define CLS_BUCKET_TAGS (~CLS_BUCKET_NODE)

struct cls_table {
	uint32_t mask;	   /* buckets - 1 */
	uint32_t link;	   /* the nodes' link its chains run through */
	uint64_t *buckets; /* RCU; big_alloc(): whole huge pages */
};

static uint64_t hash_tag(uint64_t hash)
{
	return 1ull << (48 + (hash >> 60));
}

static struct cls_node *bucket_head(uint64_t bucket)
{
	return (struct cls_node *)(uintptr_t)(bucket & CLS_BUCKET_NODE);
}

#define CLS_CROWD_SLOTS 256

struct cls_tuple {
	/* Signature: rules with the same one share the table. */
	bool floating;
	bool function; /* the key holds the destination function */
	uint8_t n_items;
	uint8_t types[MPF_FLOW_ITEMS_MAX];
	uint8_t sizes[MPF_FLOW_ITEMS_MAX]; /* bytes of each item's mask */
	uint8_t masks[MPF_FLOW_ITEMS_MAX][MATCH_ITEM_BYTES];
	/* Derived. */
	unsigned bits; /* mask bits set: how specific the tuple is */
	uint8_t n_gather;
	struct cls_gather gather[CLS_KEY_WORDS - 1];
	struct cls_table *table; /* RCU */
	shm_u64 min_rank;	 /* no rule here ranks lower (may be stale low) */
	uint64_t rules;		 /* writer */
	/* Writer: the hashes with CLS_COLLISIONS_MAX nodes or more and the
	 * rules pending, counted in CLS_CROWD_SLOTS by a few bits of their
	 * hash (crowd_slot()): a key whose slot counts none is not crowded
	 * here, known without reading its bucket or linking the pending
	 * rules. A tuple's own (a shape's description has none). */
	uint32_t *crowd;
};

struct cls_list {
	unsigned n;
	struct cls_tuple *tuples[]; /* by min_rank */
};

/*
 * A rule's shape is its own masks (item types, masks, anchoring, whether it
 * names a function). Which tuples can hold a rule, and how each confirms
 * it, depends on its shape alone; only whether a tuple is crowded at its
 * key depends on the rule. Bulk loads are millions of rules of a few
 * shapes, so the writer keeps what it learned of each shape: its
 * description, and the tuples that fit it, most specific first, with their
 * verify layouts. A rule of a known shape is then one hash of its masks,
 * one compare, and a probe per crowded candidate, not a description and a
 * walk over every tuple. The lists are rebuilt when a tuple comes or goes
 * (the classifier's generation).
 */
#define CLS_SHAPES     1024 /* slots, by hash of masks */
#define CLS_SHAPE_WAYS 4    /* slots a shape may take from its own on */

struct cls_fit {
	struct cls_tuple *tuple;
	enum cls_verify verify;	       /* for a rule without ranges */
	uint64_t vmask[CLS_KEY_WORDS]; /* CLS_VERIFY_WORDS: verify_layout()'s */
};

struct cls_shape {
	uint64_t hash;
	bool general; /* its key would not fit: the general list */
	struct cls_tuple own;
	uint64_t generation; /* of the tuple set `fits` was listed from */
	unsigned n_fits, cap_fits;
	struct cls_fit *fits; /* most specific first; equal ones in tuple order */
};

static bool before(const struct cls_rule *a, const struct cls_rule *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->seq < b->seq);
}

/* Multilinear: each word times its own odd constant, summed, then mixed.
 * The products are independent, so a key's words hash in parallel rather
 * than down one chain of multiplies. */
static uint64_t hash_key(const uint64_t *key, unsigned words)
{
	static const uint64_t k[CLS_KEY_WORDS] = {
		0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull, 0x94d049bb133111ebull,
		0xff51afd7ed558ccdull, 0xc4ceb9fe1a85ec53ull, 0x2545f4914f6cdd1dull,
		0xd6e8feb86659fd93ull, 0xa0761d6478bd642full, 0xe7037ed1a0b428dbull,
		0x8ebc6af09c88c6e3ull, 0x589965cc75374cc3ull, 0x1d8e4e27c47d124full,
		0xcc9e2d51f1bbcdcbull, 0x1b873593a4b1c9e5ull, 0x85ebca6bc2b2ae35ull,
		0x27d4eb2f165667c5ull};
	uint64_t h = words;

	for (unsigned i = 0; i < words; i++)
		h += (key[i] ^ (key[i] >> 29)) * k[i];
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	return h ^ (h >> 29);
}

/* Keys of one tuple have the same length. */
static bool key_equal(const uint64_t *a, const uint64_t *b, unsigned words)
{
	uint64_t diff = 0;

	for (unsigned i = 0; i < words; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* The word of `bytes` gather `g` reads, unmasked. */
static uint64_t load_raw(const uint8_t *bytes, const struct cls_gather *g)
{
	uint64_t w = 0;

	if (g->length == 8)
		memcpy(&w, bytes + g->offset, 8);
	else
		memcpy(&w, bytes + g->offset, 4);
	return w;
}

static uint64_t load_word(const uint8_t *bytes, const struct cls_gather *g)
{
	return load_raw(bytes, g) & g->mask;
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

/* Tuple merging (after TupleMerge, Daly, Liu & Torng): a rule may live in a
 * tuple whose masks are coarser than its own. The tuple's key finds it; its
 * own masks and ranges, checked after the key, confirm it (the node's
 * `verify`). A new tuple is made with address prefixes relaxed to at most
 * /8 (IPv4) or /32 (IPv6) and range fields left out, so that the rules of
 * all prefix lengths share a few tables and a packet probes those, not one
 * per distinct mask. The price is keys shared by several rules: a key
 * shared by CLS_COLLISIONS_MAX rules of finer masks takes no more of them —
 * they go to a tuple of their own masks, so that no chain grows long. */
static unsigned relaxed_prefix(unsigned bits, unsigned format)
{
	unsigned most = format == RULE_FORMAT_IPV4 ? 8 : 32;

	return bits < most ? bits : most;
}

/* In place: relax the IPv4 and IPv6 address fields of an item mask whose
 * mask is a prefix; every other field is kept as the rule has it. */
static void relax_mask(unsigned type, uint8_t *mask)
{
	const struct rule_item_desc *d = rule_item_desc((int)type);

	for (unsigned f = 0; f < d->n_fields; f++) {
		const struct rule_field *field = &d->fields[f];
		uint8_t *m = mask + field->offset;
		unsigned bits = 0, keep;

		if (field->format != RULE_FORMAT_IPV4 && field->format != RULE_FORMAT_IPV6)
			continue;
		if (field->offset + field->size > MATCH_ITEM_BYTES)
			continue;
		while (bits < field->size * 8u && m[bits / 8] & (0x80 >> (bits % 8)))
			bits++;
		for (unsigned b = bits; b < field->size * 8u; b++)
			if (m[b / 8] & (0x80 >> (b % 8)))
				bits = 0xffff; /* not a prefix: leave it */
		if (bits == 0xffff)
			continue;
		keep = relaxed_prefix(bits, field->format);
		for (unsigned b = keep; b < bits; b++)
			m[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
	}
}

/* The signature of a tuple for an exact rule — its own masks, or relaxed —
 * with the gather list. False when the key would not fit: the rule goes to
 * the general list (the signature is written whole all the same: a shape
 * is known by it). */
static bool tuple_describe(struct cls_tuple *t, const struct match_pattern *m, bool relax)
{
	/* Bits set in each value of a nibble: no libgcc popcount call. */
	static const uint8_t nibble_bits[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
	bool fits = true;

	/* Only what the signature uses is written: the header and the masks
	 * of the items the pattern has (a tuple holds room for 64). */
	t->floating = m->floating;
	t->function = m->functions.n + m->pf > 0;
	t->n_items = (uint8_t)m->n_items;
	t->bits = 0;
	t->n_gather = 0;
	t->table = NULL;
	t->crowd = NULL;
	t->rules = 0;
	for (unsigned i = 0; i < m->n_items; i++) {
		const struct match_item *item = &m->items[i];
		const uint8_t *mask = t->masks[i];
		uint8_t covered[MATCH_ITEM_BYTES] = {0};

		t->types[i] = item->type;
		t->sizes[i] = item_size(item->type);
		memset(t->masks[i], 0, sizeof(t->masks[i]));
		memcpy(t->masks[i], item->mask, item->size);
		if (relax)
			relax_mask(item->type, t->masks[i]);
		for (unsigned b = 0; b < item->size; b++)
			t->bits += nibble_bits[mask[b] & 15u] + nibble_bits[mask[b] >> 4];
		for (unsigned k = 0; k < item->size; k += 8) {
			struct cls_gather g = {.item = (uint8_t)i};

			g.length = item->size < 8 ? item->size : 8;
			g.offset = (uint8_t)(k + g.length <= item->size ? k : item->size - 8u);
			for (unsigned b = 0; b < g.length; b++) {
				uint8_t byte = covered[g.offset + b] ? 0 : mask[g.offset + b];

				covered[g.offset + b] = 1;
				g.mask |= (uint64_t)byte << (8 * b); /* little-endian load */
			}
			if (g.mask == 0)
				continue;
			if (t->n_gather == CLS_KEY_WORDS - 1) {
				fits = false;
				break;
			}
			t->gather[t->n_gather++] = g;
		}
	}
	return fits;
}

/* Can tuple `t` hold a rule of shape `own` (the rule's own masks): the same
 * layers, and no mask bit the rule does not have? */
static bool tuple_fits(const struct cls_tuple *t, const struct cls_tuple *own)
{
	if (t->floating != own->floating || t->function != own->function ||
	    t->n_items != own->n_items)
		return false;
	for (unsigned i = 0; i < t->n_items; i++) {
		if (t->types[i] != own->types[i])
			return false;
		for (unsigned b = 0; b < t->sizes[i]; b++)
			if (t->masks[i][b] & ~own->masks[i][b])
				return false;
	}
	return true;
}

/* Masks that are a subset of others, with as many bits, are the same. */
static bool tuple_same(const struct cls_tuple *a, const struct cls_tuple *b)
{
	return a->bits == b->bits && tuple_fits(a, b);
}

/* The key of rule `r` in tuple `t`, and its hash. */
static uint64_t rule_key(const struct cls_tuple *t, const struct cls_rule *r, uint64_t *key)
{
	const struct match_pattern *m = r->match;
	uint32_t function = m->pf ? PACKET_FUNCTION_PF : m->functions.first.low;

	key[0] =
		key_word0(m->directions == MATCH_EGRESS, m->ports.first.low, function, t->function);
	for (unsigned g = 0; g < t->n_gather; g++)
		key[1 + g] = load_word(m->items[t->gather[g].item].value, &t->gather[g]);
	return hash_key(key, key_words(t));
}

static size_t node_size(const struct cls_tuple *t, enum cls_verify verify)
{
	unsigned words = t ? key_words(t) : 0;

	return sizeof(struct cls_node) + (verify == CLS_VERIFY_WORDS ? 3 : 1) * words * 8;
}

/* ------------------------------------------------------------------------ */
/* Node pool (writer)                                                       */
/* ------------------------------------------------------------------------ */

static struct cls_node *node_alloc(struct cls *c, size_t size)
{
	struct cls_node *node = pool_alloc(&c->pool, size);

	/* A bucket holds a node's address in 48 bits: Linux maps nothing
	 * above them unless asked to. */
	if (node && ((uintptr_t)node & CLS_BUCKET_TAGS)) {
		pool_free(&c->pool, node, size);
		return NULL;
	}
	if (node)
		node->size = (uint16_t)size;
	return node;
}

/* Writer: a node no reader can hold any more goes back to the pool. */
static void node_free(struct cls *c, struct cls_node *node)
{
	pool_free(&c->pool, node, node->size);
}

/* Writer: how a rule of shape `own` without ranges is confirmed in tuple
 * `t` (a rule with ranges: always CLS_VERIFY_RULE). For CLS_VERIFY_WORDS,
 * `vmask` gets the rule's own mask in the key's layout (word 0 and the
 * bytes another gather reads first left zero); its value in that layout is
 * its value's key words under `vmask` (verify_words()). CLS_VERIFY_RULE
 * when it has mask bits outside the words the tuple gathers. */
static enum cls_verify verify_layout(const struct cls_tuple *t, const struct cls_tuple *own,
				     uint64_t *vmask)
{
	if (t->bits == own->bits)
		return CLS_VERIFY_NONE;
	memset(vmask, 0, key_words(t) * sizeof(*vmask));
	for (unsigned i = 0; i < own->n_items; i++) {
		int owner[MATCH_ITEM_BYTES];

		/* Which gather reads each byte (the first one, as when the
		 * tuple's masks were laid out). */
		for (unsigned b = 0; b < MATCH_ITEM_BYTES; b++)
			owner[b] = -1;
		for (unsigned g = t->n_gather; g-- > 0;)
			if (t->gather[g].item == i)
				for (unsigned b = 0; b < t->gather[g].length; b++)
					owner[t->gather[g].offset + b] = (int)g;
		for (unsigned b = 0; b < own->sizes[i]; b++) {
			if (own->masks[i][b] == 0)
				continue;
			if (owner[b] < 0)
				return CLS_VERIFY_RULE;
			vmask[1 + owner[b]] |= (uint64_t)own->masks[i][b]
					       << 8 * (b - t->gather[owner[b]].offset);
		}
	}
	return CLS_VERIFY_WORDS;
}

/* The rule's value in the layout verify_layout() gave its mask: values are
 * spec & mask, so the gathered words under the mask are exactly those
 * bytes. */
static void verify_words(const struct cls_tuple *t, const struct match_pattern *m,
			 const uint64_t *vmask, uint64_t *vvalue)
{
	vvalue[0] = 0;
	for (unsigned g = 0; g < t->n_gather; g++)
		vvalue[1 + g] =
			load_raw(m->items[t->gather[g].item].value, &t->gather[g]) & vmask[1 + g];
}

static struct cls_table *table_new(uint32_t buckets, unsigned link)
{
	struct cls_table *table = malloc(sizeof(*table));

	if (table == NULL)
		return NULL;
	table->mask = buckets - 1;
	table->link = link;
	table->buckets = big_alloc(buckets * sizeof(table->buckets[0]));
	if (table->buckets == NULL) {
		free(table);
		return NULL;
	}
	return table;
}

/* Rule order, from the nodes (the rules they point to stay unread). */
static bool node_before(const struct cls_node *a, const struct cls_node *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->seq < b->seq);
}

/* The bucket of `table` for `hash`. */
static uint64_t *bucket_of(const struct cls_table *table, uint64_t hash)
{
	return &table->buckets[hash & table->mask];
}

/* Writer: the nodes of `hash` from `node` on, through link `l`. */
static unsigned chain_count(const struct cls_node *node, uint64_t hash, unsigned l)
{
	unsigned n = 0;

	for (; node; node = node->next[l])
		n += node->hash == hash;
	return n;
}

/* Writer: link `node` into the chain of `table` for its hash: at the head
 * when no node of its tag is there, else before the first of its hash that
 * it precedes in rule order (or last). When `counted`, returns the nodes
 * of its hash in the chain now (1 without reading the chain when its tag
 * was new); a table's growth, which moves whole chains, does not ask. */
static unsigned chain_add(struct cls_table *table, struct cls_node *node, bool counted)
{
	uint64_t *bucket = bucket_of(table, node->hash), word = *bucket, tag = hash_tag(node->hash);
	struct cls_node *head = bucket_head(word), **link;
	unsigned l = table->link, before;

	if (!(word & tag) || (head->hash == node->hash && node_before(node, head))) {
		node->next[l] = head;
		rcu_publish(*bucket, (uint64_t)(uintptr_t)node | (word & CLS_BUCKET_TAGS) | tag);
		return counted && (word & tag) ? 1 + chain_count(head, node->hash, l) : 1;
	}
	before = head->hash == node->hash;
	for (link = &head->next[l]; *link; link = &(*link)->next[l]) {
		if ((*link)->hash != node->hash)
			continue;
		if (node_before(node, *link))
			break;
		before++;
	}
	node->next[l] = *link;
	rcu_publish(*link, node);
	return counted ? before + 1 + chain_count(node->next[l], node->hash, l) : 0;
}

/* Writer: unlink the node of `rule` from its chain in `table` and retag
 * the bucket; return the node for freeing, the nodes of its hash left in
 * `left`. */
static struct cls_node *chain_drop(struct cls_table *table, const struct cls_rule *rule,
				   unsigned *left)
{
	uint64_t *bucket = bucket_of(table, rule->hash), tags = 0;
	struct cls_node *head = bucket_head(*bucket), *node = NULL, **link;
	unsigned l = table->link;

	if (head && head->rule == rule) {
		node = head;
		head = node->next[l];
	} else {
		for (link = head ? &head->next[l] : NULL; link && *link; link = &(*link)->next[l])
			if ((*link)->rule == rule) {
				node = *link;
				rcu_publish(*link, node->next[l]);
				break;
			}
	}
	if (node == NULL)
		return NULL;
	*left = 0;
	for (const struct cls_node *n = head; n; n = n->next[l]) {
		tags |= hash_tag(n->hash);
		*left += n->hash == rule->hash;
	}
	rcu_publish(*bucket, (uint64_t)(uintptr_t)head | tags);
	return node;
}

/* Writer: a tuple's count of crowded hashes (struct cls_tuple). A hash is
 * crowded from its CLS_COLLISIONS_MAX-th node on (its keys may be: a key
 * has at most its hash's nodes); its count of nodes went from `before` to
 * `after` (one more, or one less). */
static unsigned crowd_slot(uint64_t hash)
{
	return (unsigned)(hash >> 32) % CLS_CROWD_SLOTS;
}

static void crowd_note(struct cls_tuple *t, uint64_t hash, unsigned before, unsigned after)
{
	bool was = before >= CLS_COLLISIONS_MAX, is = after >= CLS_COLLISIONS_MAX;

	if (is != was)
		t->crowd[crowd_slot(hash)] += is ? 1u : -1u;
}

/* Writer: link `node` into the general list at its place in rule order. */
static void chain_insert(struct cls_node **head, struct cls_node *node)
{
	struct cls_node **link = head;

	/* The order from the nodes: the rules they point to stay unread. */
	while (*link && node_before(*link, node))
		link = &(*link)->next[0];
	node->next[0] = *link;
	rcu_publish(*link, node);
}

/* A table's own memory (its nodes are the pool's). */
static void table_release(struct cls_table *table)
{
	if (table)
		big_free(table->buckets, (table->mask + 1ull) * sizeof(table->buckets[0]));
	free(table);
}

/* A table and its nodes. */
static void table_free(struct cls *c, struct cls_table *table)
{
	for (uint32_t b = 0; table && b <= table->mask; b++) {
		struct cls_node *node = bucket_head(table->buckets[b]);

		while (node) {
			struct cls_node *next = node->next[table->link];

			node_free(c, node);
			node = next;
		}
	}
	table_release(table);
}

/* Relinking a node costs a miss on the node and one on its new bucket:
 * the heads of the buckets GROW_AHEAD on are fetched ahead, and each node
 * is linked GROW_AHEAD nodes after its new bucket was (a power of 2). */
#define GROW_AHEAD 8u

/* Writer: move a tuple to a table four times larger, its chains through
 * the nodes' other link (readers of the old table walk theirs, untouched),
 * published whole; the old table's buckets go once no reader holds them.
 * No node is copied or moved. */
static int table_grow(struct cls *c, struct cls_tuple *t)
{
	struct cls_table *old = t->table;
	struct cls_table *table = table_new((old->mask + 1) * 4, !old->link);
	struct cls_node *queued[GROW_AHEAD];
	unsigned in = 0, out = 0;

	if (table == NULL)
		return -ENOMEM;
	for (uint32_t b = 0; b <= old->mask; b++) {
		if (old->mask - b >= GROW_AHEAD)
			__builtin_prefetch(bucket_head(old->buckets[b + GROW_AHEAD]));
		for (struct cls_node *n = bucket_head(old->buckets[b]); n; n = n->next[old->link]) {
			__builtin_prefetch(bucket_of(table, n->hash), 1);
			if (in - out == GROW_AHEAD)
				chain_add(table, queued[out++ % GROW_AHEAD], false);
			queued[in++ % GROW_AHEAD] = n;
		}
	}
	while (out != in)
		chain_add(table, queued[out++ % GROW_AHEAD], false);
	rcu_publish(t->table, table);
	rcu_synchronize(c->rcu);
	table_release(old);
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

/* Writer: the tuple of `shape`; a new one if there is none and `add`
 * (NULL: none, or no memory). */
static struct cls_tuple *tuple_find_or_add(struct cls *c, const struct cls_tuple *shape, bool add)
{
	struct cls_tuple *t;

	for (unsigned i = 0; i < c->n_tuples; i++)
		if (tuple_same(c->tuples[i], shape))
			return c->tuples[i];
	if (!add)
		return NULL;
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
	t->crowd = calloc(CLS_CROWD_SLOTS, sizeof(*t->crowd));
	t->table = table_new(16, 0);
	if (t->crowd == NULL || t->table == NULL) {
		table_release(t->table);
		free(t->crowd);
		free(t);
		return NULL;
	}
	shm_store_relaxed64(&t->min_rank, UINT64_MAX);
	c->tuples[c->n_tuples++] = t;
	c->generation++; /* every shape's tuples listed again */
	return t;
}

static void tuple_drop(struct cls *c, struct cls_tuple *t)
{
	for (unsigned i = 0; i < c->n_tuples; i++)
		if (c->tuples[i] == t) {
			c->tuples[i] = c->tuples[--c->n_tuples];
			break;
		}
	c->generation++; /* no shape lists it any more */
	/* If the smaller list cannot be had, keep the old one: an empty
	 * tuple in it costs lookups a little, nothing else. */
	if (list_publish(c) != 0)
		return;
	table_free(c, t->table);
	free(t->crowd);
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
	for (unsigned i = 0; i < c->n_tuples; i++) {
		table_release(c->tuples[i]->table);
		free(c->tuples[i]->crowd);
		free(c->tuples[i]);
	}
	free(c->tuples);
	free(c->list);
	for (unsigned i = 0; c->shapes && i < CLS_SHAPES; i++) {
		if (c->shapes[i])
			free(c->shapes[i]->fits);
		free(c->shapes[i]);
	}
	free(c->shapes);
	pool_fini(&c->pool); /* every node, of every table and the general list */
	memset(c, 0, sizeof(*c));
}

/* Linked at once, after the rules prepared before it (rules take traffic in
 * the order they were made). */
static int insert_general(struct cls *c, struct cls_rule *rule)
{
	struct cls_node *node = node_alloc(c, node_size(NULL, CLS_VERIFY_NONE));

	cls_link_pending(c);
	if (node == NULL)
		return -ENOMEM;
	node->rule = rule;
	node->hash = 0;
	node->terminating = rule->terminating;
	node->verify = CLS_VERIFY_RULE;
	node->rank = rule->rank;
	node->seq = rule->seq;
	rule->tuple = NULL;
	rule->reads_match = true;
	chain_insert(&c->general, node);
	c->general_rules++;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Shapes (writer)                                                          */
/* ------------------------------------------------------------------------ */

static bool pattern_function(const struct match_pattern *m)
{
	return m->functions.n + m->pf > 0;
}

/* Of everything tuple_describe() reads to describe the rule's own shape. */
static uint64_t shape_hash(const struct match_pattern *m)
{
	uint64_t h = hash_key((const uint64_t[]){m->n_items, m->floating, pattern_function(m)}, 3);

	for (unsigned i = 0; i < m->n_items; i++) {
		const struct match_item *item = &m->items[i];
		uint64_t words[MATCH_ITEM_BYTES / 8 + 1] = {item->type};

		memcpy(words + 1, item->mask, item->size);
		h = (h ^ hash_key(words, 1 + (item->size + 7u) / 8)) * 0x9e3779b97f4a7c15ull;
	}
	return h ^ h >> 31;
}

static bool shape_is(const struct cls_shape *s, const struct match_pattern *m)
{
	const struct cls_tuple *own = &s->own;

	if (own->floating != m->floating || own->function != pattern_function(m) ||
	    own->n_items != m->n_items)
		return false;
	for (unsigned i = 0; i < m->n_items; i++)
		if (own->types[i] != m->items[i].type ||
		    memcmp(own->masks[i], m->items[i].mask, m->items[i].size) != 0)
			return false;
	return true;
}

/* The shape of `m`: the one kept, or described now, in the first free of
 * its CLS_SHAPE_WAYS slots (a rule set of a few hundred masks keeps them
 * all), or in place of one of those, in turn. NULL: no memory. */
static struct cls_shape *shape_of(struct cls *c, const struct match_pattern *m)
{
	struct cls_shape **slot = NULL, *s = c->last_shape;
	uint64_t hash;

	/* The last rule's shape, compared without hashing this one's masks
	 * (a shape replaced in its slot is described again in place: the
	 * pointer stays good and is compared with what it is now). */
	if (s && shape_is(s, m))
		return s;
	hash = shape_hash(m);
	if (c->shapes == NULL && (c->shapes = calloc(CLS_SHAPES, sizeof(*c->shapes))) == NULL)
		return NULL;
	for (unsigned w = 0; w < CLS_SHAPE_WAYS; w++) {
		struct cls_shape **way = &c->shapes[(hash + w) % CLS_SHAPES];

		if (*way && (*way)->hash == hash && shape_is(*way, m))
			return c->last_shape = *way;
		if (slot == NULL && *way == NULL)
			slot = way;
	}
	if (slot == NULL) /* all taken: one goes, in turn */
		slot = &c->shapes[(hash + c->shape_evictions++ % CLS_SHAPE_WAYS) % CLS_SHAPES];
	s = *slot;
	if (s == NULL && (s = *slot = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->hash = hash;
	s->general = !tuple_describe(&s->own, m, false);
	s->generation = c->generation - 1; /* fits not listed yet */
	s->n_fits = 0;
	return c->last_shape = s;
}

/* List the tuples that can hold a rule of shape `s`, most specific first. */
static int shape_list(struct cls *c, struct cls_shape *s)
{
	s->n_fits = 0;
	for (unsigned i = 0; i < c->n_tuples; i++) {
		struct cls_tuple *t = c->tuples[i];
		struct cls_fit *fit;
		unsigned at;

		if (!tuple_fits(t, &s->own))
			continue;
		if (s->n_fits == s->cap_fits) {
			unsigned cap = s->cap_fits ? 2 * s->cap_fits : 4;
			struct cls_fit *grown = realloc(s->fits, cap * sizeof(*grown));

			if (grown == NULL)
				return -ENOMEM;
			s->fits = grown;
			s->cap_fits = cap;
		}
		for (at = s->n_fits; at > 0 && s->fits[at - 1].tuple->bits < t->bits; at--)
			;
		fit = &s->fits[at];
		memmove(fit + 1, fit, (s->n_fits++ - at) * sizeof(*fit));
		fit->tuple = t;
		fit->verify = verify_layout(t, &s->own, fit->vmask);
	}
	s->generation = c->generation;
	return 0;
}

/* Writer: whether `t` holds CLS_COLLISIONS_MAX rules at `key` (of hash
 * `hash`), the pending ones too. The rules prepared before are linked and
 * the key's bucket read only if a crowded key or a pending rule has a hash
 * like this one's: in a bulk load, seldom. */
static bool crowded(struct cls *c, struct cls_tuple *t, const uint64_t *key, uint64_t hash)
{
	uint64_t bucket;
	unsigned n = 0;

	if (t->crowd[crowd_slot(hash)] == 0)
		return false;
	cls_link_pending(c);
	bucket = *bucket_of(t->table, hash);
	if (!(bucket & hash_tag(hash)))
		return false; /* no node of its hash: none to read */
	for (const struct cls_node *node = bucket_head(bucket); node;
	     node = node->next[t->table->link])
		n += node->hash == hash && key_equal(node->words, key, key_words(t));
	return n >= CLS_COLLISIONS_MAX;
}

/* Writer: where a rule of shape `s` goes: the most specific tuple that fits
 * it and is not crowded at its key (a tuple of its own masks never is:
 * the first, when there is one), with the rule's key and its hash there.
 * NULL: none, a new tuple is needed (or no memory: -ENOMEM in `err`). */
static const struct cls_fit *shape_choose(struct cls *c, struct cls_shape *s,
					  const struct cls_rule *rule, uint64_t *key,
					  uint64_t *hash, int *err)
{
	*err = s->generation == c->generation ? 0 : shape_list(c, s);
	for (unsigned i = 0; *err == 0 && i < s->n_fits; i++) {
		const struct cls_fit *fit = &s->fits[i];

		*hash = rule_key(fit->tuple, rule, key);
		if (fit->tuple->bits == s->own.bits || !crowded(c, fit->tuple, key, *hash))
			return fit;
	}
	return NULL;
}

/* Writer: a new tuple for a rule of shape `s` that none of today's takes:
 * relaxed, unless that one exists (and so is crowded here), then its own;
 * with `add` false, only one that exists (NULL: none, or no memory). */
static struct cls_tuple *tuple_new(struct cls *c, const struct cls_shape *s,
				   const struct cls_rule *rule, bool add)
{
	struct cls_tuple relaxed;

	if (tuple_describe(&relaxed, rule->match, true)) {
		for (unsigned i = 0; i < c->n_tuples; i++)
			if (tuple_same(c->tuples[i], &relaxed))
				return tuple_find_or_add(c, &s->own, add);
		return tuple_find_or_add(c, &relaxed, add);
	}
	return tuple_find_or_add(c, &s->own, add);
}

static bool has_ranges(const struct match_pattern *m)
{
	for (unsigned i = 0; i < m->n_items; i++)
		if (m->items[i].n_ranges)
			return true;
	return false;
}

bool cls_would_be_general(struct cls *c, const struct match_pattern *m)
{
	const struct cls_shape *shape;

	if (!match_is_keyed(m))
		return true;
	shape = shape_of(c, m);
	/* No memory to tell: as general (cls_prepare() may find it). */
	return shape == NULL || shape->general;
}

int cls_prepare(struct cls *c, struct cls_rule *rule)
{
	struct cls_shape *shape;
	const struct cls_fit *fit;
	struct cls_tuple *t;
	struct cls_node *node;
	uint64_t key[CLS_KEY_WORDS], hash;
	bool reorder = false;
	enum cls_verify verify;
	int err;

	if (!match_is_keyed(rule->match))
		return insert_general(c, rule);
	shape = shape_of(c, rule->match);
	if (shape == NULL)
		return -ENOMEM;
	if (shape->general)
		return insert_general(c, rule);
	fit = shape_choose(c, shape, rule, key, &hash, &err);
	if (fit == NULL && err == 0) {
		/* A new tuple changes the generation: listed again, it is
		 * there, the only one not crowded at the rule's key. */
		t = tuple_new(c, shape, rule, !rule->no_new_tuple);
		if (t == NULL)
			return rule->no_new_tuple ? -EDQUOT : -ENOMEM;
		fit = shape_choose(c, shape, rule, key, &hash, &err);
		if (fit == NULL && t->rules == 0)
			tuple_drop(c, t);
	}
	if (fit == NULL) {
		if (err == 0)
			err = -ENOMEM;
		return err;
	}
	t = fit->tuple;
	verify = has_ranges(rule->match) ? CLS_VERIFY_RULE : fit->verify;
	node = node_alloc(c, node_size(t, verify));
	if (node == NULL) {
		if (t->rules == 0)
			tuple_drop(c, t);
		return -ENOMEM;
	}
	memcpy(node->words, key, key_words(t) * sizeof(key[0]));
	rule->hash = hash;
	rule->tuple = t;
	rule->reads_match = verify == CLS_VERIFY_RULE;
	node->rule = rule;
	node->hash = rule->hash;
	node->rank = rule->rank;
	node->seq = rule->seq;
	node->terminating = rule->terminating;
	node->verify = (uint8_t)verify;
	if (verify == CLS_VERIFY_WORDS) {
		memcpy(node->words + key_words(t), fit->vmask,
		       key_words(t) * sizeof(fit->vmask[0]));
		verify_words(t, rule->match, fit->vmask, node->words + 2 * key_words(t));
	}
	/* The tuple's place in the search order first, then the rule: a
	 * reader never skips a tuple holding a rule it can see. */
	if (rule->rank < shm_load_relaxed64(&t->min_rank)) {
		shm_store_relaxed64(&t->min_rank, rule->rank);
		reorder = true;
	}
	if ((reorder || t->rules == 0) && list_publish(c) != 0) {
		node_free(c, node);
		if (t->rules == 0)
			tuple_drop(c, t);
		return -ENOMEM;
	}
	/* Counted from now: its tuple stays while it is pending. */
	t->rules++;
	t->crowd[crowd_slot(hash)]++;
	c->keyed_rules++;
	rule->pending = true;
	node->next[0] = c->pending;
	c->pending = node;
	__builtin_prefetch(bucket_of(t->table, node->hash), 1);
	return 0;
}

void cls_link_pending(struct cls *c)
{
	/* Oldest first: its bucket was asked for longest ago. */
	struct cls_node *node = c->pending, *order = NULL;

	c->pending = NULL;
	while (node) {
		struct cls_node *next = node->next[0];

		node->next[0] = order;
		order = node;
		node = next;
	}
	while (order) {
		struct cls_node *next = order->next[0];
		struct cls_rule *rule = (struct cls_rule *)(uintptr_t)order->rule;
		struct cls_tuple *t = rule->tuple;
		unsigned after;

		rule->pending = false;
		t->crowd[crowd_slot(order->hash)]--;
		after = chain_add(t->table, order, true);
		crowd_note(t, order->hash, after - 1, after);
		if (t->rules > 2ull * (t->table->mask + 1))
			table_grow(c, t); /* on failure the chains just stay longer */
		order = next;
	}
}

int cls_insert(struct cls *c, struct cls_rule *rule)
{
	int err = cls_prepare(c, rule);

	if (err == 0)
		cls_link_pending(c);
	return err;
}

/* Writer: unlink the node of `rule` from a list (the general or the
 * pending one: link 0); return it for freeing. */
static struct cls_node *chain_remove(struct cls_node **head, const struct cls_rule *rule)
{
	for (struct cls_node **link = head; *link; link = &(*link)->next[0])
		if ((*link)->rule == rule) {
			struct cls_node *node = *link;

			rcu_publish(*link, node->next[0]);
			return node;
		}
	return NULL;
}

/* Writer: unlink `rule`'s node; NULL if it had none. */
static struct cls_node *unlink_rule(struct cls *c, struct cls_rule *rule)
{
	struct cls_tuple *t = rule->tuple;
	struct cls_node *node;

	if (rule->pending) {
		node = chain_remove(&c->pending, rule); /* no reader has seen it */
		if (node) {
			t->crowd[crowd_slot(rule->hash)]--;
			c->keyed_rules--;
			t->rules--;
		}
		rule->pending = false;
	} else if (t == NULL) {
		node = chain_remove(&c->general, rule);
		c->general_rules -= node != NULL;
	} else {
		unsigned left;

		node = chain_drop(t->table, rule, &left);
		if (node) {
			crowd_note(t, rule->hash, left + 1, left);
			c->keyed_rules--;
			t->rules--;
		}
	}
	return node;
}

void cls_remove_burst(struct cls *c, struct cls_rule *const *rules, unsigned n)
{
	struct cls_node *nodes[CLS_REMOVE_BURST];
	struct cls_tuple *empty[CLS_REMOVE_BURST];
	bool linked[CLS_REMOVE_BURST];
	unsigned n_empty = 0;
	bool unlinked = false;

	/* A prepared rule goes without ever being linked; the other prepared
	 * rules are linked before anything is removed: rules take traffic in
	 * the order they were made, and before a removal made after them (a
	 * replacement's make-before-break). */
	for (unsigned i = 0; i < n; i++) {
		linked[i] = !rules[i]->pending;
		nodes[i] = linked[i] ? NULL : unlink_rule(c, rules[i]);
		unlinked = unlinked || nodes[i];
	}
	cls_link_pending(c);
	/* Each rule's bucket, then the chain's head, on their way before any
	 * is read: at millions of rules a miss each, which one by one would
	 * come in turn. */
	for (unsigned i = 0; i < n; i++)
		if (linked[i] && rules[i]->tuple)
			__builtin_prefetch(bucket_of(rules[i]->tuple->table, rules[i]->hash));
	for (unsigned i = 0; i < n; i++)
		if (linked[i] && rules[i]->tuple)
			__builtin_prefetch(
				bucket_head(*bucket_of(rules[i]->tuple->table, rules[i]->hash)));
	for (unsigned i = 0; i < n; i++) {
		if (linked[i])
			nodes[i] = unlink_rule(c, rules[i]);
		unlinked = unlinked || nodes[i];
	}
	if (!unlinked)
		return;
	/* One grace period for them all. */
	rcu_synchronize(c->rcu);
	for (unsigned i = 0; i < n; i++) {
		struct cls_tuple *t = rules[i]->tuple;
		unsigned k = 0;

		if (nodes[i])
			node_free(c, nodes[i]);
		if (t == NULL || t->rules != 0)
			continue;
		while (k < n_empty && empty[k] != t)
			k++;
		if (k == n_empty)
			empty[n_empty++] = t;
	}
	for (unsigned k = 0; k < n_empty; k++)
		tuple_drop(c, empty[k]);
}

void cls_remove(struct cls *c, struct cls_rule *rule)
{
	cls_remove_burst(c, &rule, 1);
}

unsigned cls_tuple_count(const struct cls *c)
{
	return c->n_tuples;
}

bool cls_crowd_consistent(const struct cls *c)
{
	for (unsigned i = 0; i < c->n_tuples; i++) {
		const struct cls_tuple *t = c->tuples[i];
		const struct cls_table *table = t->table;
		uint32_t want[CLS_CROWD_SLOTS] = {0};

		for (const struct cls_node *n = c->pending; n; n = n->next[0])
			want[crowd_slot(n->hash)] += n->rule->tuple == t;
		for (uint32_t b = 0; b <= table->mask; b++) {
			const struct cls_node *head = bucket_head(table->buckets[b]);

			/* Each hash counted at its first node in the chain. */
			for (const struct cls_node *n = head; n; n = n->next[table->link]) {
				const struct cls_node *first = head;

				while (first->hash != n->hash)
					first = first->next[table->link];
				if (first == n &&
				    chain_count(n, n->hash, table->link) >= CLS_COLLISIONS_MAX)
					want[crowd_slot(n->hash)]++;
			}
		}
		if (memcmp(want, t->crowd, sizeof(want)) != 0)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                   */
/* ------------------------------------------------------------------------ */

/* The best terminating rule's order is kept here, so that the search
 * compares with it without reading rules (a cache miss each). */
struct candidates {
	const struct cls_rule *best; /* the first terminating rule so far */
	uint64_t best_rank, best_seq;
	struct cls_result *out;
};

static bool precedes_best(const struct candidates *cand, uint64_t rank, uint64_t seq)
{
	return cand->best == NULL || rank < cand->best_rank ||
	       (rank == cand->best_rank && seq < cand->best_seq);
}

/* Consider a rule that matched (its order and kind passed in, from where
 * the caller has them): the best terminating one, or a non-terminating one
 * to run before it. */
static void consider(struct candidates *cand, const struct cls_rule *r, uint64_t rank, uint64_t seq,
		     bool terminating)
{
	struct cls_result *out = cand->out;

	if (terminating) {
		if (precedes_best(cand, rank, seq)) {
			cand->best = r;
			cand->best_rank = rank;
			cand->best_seq = seq;
		}
		return;
	}
	for (unsigned i = 0; i < out->n; i++)
		if (out->rules[i] == r)
			return;
	if (out->n == CLS_MATCH_MAX) {
		/* Full: the rules that run first stay, in whatever order the
		 * search found them (the code before kept the first found, and
		 * dropped priority 0 rules for priority 20 ones). */
		unsigned worst = 0;

		out->overflow = true;
		for (unsigned i = 1; i < out->n; i++)
			if (before(out->rules[worst], out->rules[i]))
				worst = i;
		if (rank < out->rules[worst]->rank ||
		    (rank == out->rules[worst]->rank && seq < out->rules[worst]->seq))
			out->rules[worst] = r;
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
		if (precedes_best(cand, out->rules[i]->rank, out->rules[i]->seq))
			out->rules[n++] = out->rules[i];
	/* Few entries: insertion sort. */
	for (unsigned i = 1; i < n; i++) {
		const struct cls_rule *r = out->rules[i];
		unsigned j = i;

		for (; j > 0 && before(r, out->rules[j - 1]); j--)
			out->rules[j] = out->rules[j - 1];
		out->rules[j] = r;
	}
	/* The terminating one takes the last place. */
	if (cand->best && n == CLS_MATCH_MAX) {
		n--;
		out->overflow = true;
	}
	out->n = n;
	out->terminated = cand->best != NULL;
	if (cand->best)
		out->rules[out->n++] = cand->best;
}

/*
 * A lookup probes every tuple the early exit leaves, and each probe is two
 * dependent loads from tables too large for the L1 cache: the bucket, then
 * the node (which holds all a probe needs: order, key, the rule's own masks;
 * rules themselves are read only for ranges). One probe after another, the
 * misses queue up. So the probes go in chunks through three passes that
 * each only issue loads the next pass needs: keys and hashes (prefetching
 * the buckets), bucket heads (prefetching the nodes), then the chain walks,
 * by which time the lines are in cache.
 *
 * With few tuples a packet has few probes to overlap: at a million rules
 * (nothing cache-resident) cls_lookup_burst() takes the probes of a burst
 * of packets through the same passes together. (With many tuples, or
 * floating ones, a packet has probes enough of its own, and the early exit
 * saves more than a burst would: those go one packet at a time.)
 */
#define CLS_CHUNK 16

struct probe {
	const struct cls_tuple *tuple;
	unsigned packet; /* in a burst */
	unsigned start;	 /* layer the tuple's first item is matched at */
	const struct cls_node *head;
	const uint64_t *bucket;
	unsigned link; /* the table's */
	uint64_t hash;
	uint64_t key[CLS_KEY_WORDS];
	uint64_t raw[CLS_KEY_WORDS]; /* the same words unmasked */
};

/* Pass 1: the key of `t` at layer `start`; false when the layers' types
 * do not fit the tuple. */
static bool probe_key(struct probe *pr, const struct cls_tuple *t, const struct packet *p,
		      unsigned start)
{
	const struct cls_table *table;

	for (unsigned i = 0; i < t->n_items; i++)
		if (!match_type(t->types[i], p->layers[start + i].type))
			return false;
	pr->tuple = t;
	pr->start = start;
	pr->key[0] = key_word0(p->egress, p->port, p->function, t->function);
	for (unsigned g = 0; g < t->n_gather; g++) {
		const struct cls_gather *gather = &t->gather[g];

		pr->raw[1 + g] = load_raw(p->data + p->layers[start + gather->item].hdr, gather);
		pr->key[1 + g] = pr->raw[1 + g] & gather->mask;
	}
	pr->hash = hash_key(pr->key, key_words(t));
	table = rcu_dereference(t->table);
	pr->bucket = bucket_of(table, pr->hash);
	pr->link = table->link;
	__builtin_prefetch(pr->bucket);
	return true;
}

/* A rule found under a coarser tuple key, or with ranges: its own items, at
 * the layers the probe matched (their types are the tuple's, the rule's). */
static bool verify(const struct cls_rule *r, const struct packet *p, unsigned start)
{
	for (unsigned i = 0; i < r->match->n_items; i++)
		if (!match_header(&r->match->items[i], p->data + p->layers[start + i].hdr))
			return false;
	return true;
}

/* Does the node's rule match, given that its tuple key did? */
static bool confirmed(const struct cls_node *node, const struct probe *pr, unsigned words,
		      const struct packet *p)
{
	const uint64_t *vmask = node->words + words, *vvalue = node->words + 2 * words;
	uint64_t diff = 0;

	switch (node->verify) {
	case CLS_VERIFY_NONE:
		return true;
	case CLS_VERIFY_WORDS:
		for (unsigned i = 1; i < words; i++)
			diff |= (pr->raw[i] & vmask[i]) ^ vvalue[i];
		return diff == 0;
	default:
		return verify(node->rule, p, pr->start);
	}
}

/* Pass 3: walk the chain. Only nodes of the probe's hash can match, and
 * those are in rule order. */
static void probe_walk(const struct probe *pr, const struct packet *p, struct candidates *cand)
{
	unsigned words = key_words(pr->tuple);

	for (const struct cls_node *node = pr->head; node;
	     node = rcu_dereference(node->next[pr->link])) {
		if (node->hash != pr->hash)
			continue;
		if (!precedes_best(cand, node->rank, node->seq))
			return;
		if (!key_equal(node->words, pr->key, words) || !confirmed(node, pr, words, p))
			continue;
		consider(cand, node->rule, node->rank, node->seq, node->terminating);
		if (node->terminating)
			return;
	}
}

static bool pruned(const struct candidates *cand, const struct cls_tuple *t)
{
	return cand->best && shm_load_relaxed64(&t->min_rank) > cand->best_rank;
}

/* Passes 2 and 3 over probes of one packet (`p`, `cand`), or of a burst
 * (`p[probe.packet]`, `cand[probe.packet]`; `burst` true). */
static void probe_passes(struct probe *probes, unsigned n, const struct packet *const *p,
			 struct candidates *cand, bool burst)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t word = rcu_dereference(*probes[i].bucket);

		/* No node of the probe's tag: nothing to read. */
		probes[i].head = word & hash_tag(probes[i].hash) ? bucket_head(word) : NULL;
		if (probes[i].head)
			__builtin_prefetch(probes[i].head);
	}
	for (unsigned i = 0; i < n; i++) {
		const struct probe *pr = &probes[i];
		unsigned k = burst ? pr->packet : 0;

		/* A terminating rule found by an earlier probe may rule out
		 * this whole tuple. */
		if (!pruned(&cand[k], pr->tuple))
			probe_walk(pr, p[k], &cand[k]);
	}
}

static void probe_chunk(struct probe *probes, unsigned n, const struct packet *p,
			struct candidates *cand)
{
	probe_passes(probes, n, &p, cand, false);
}

static void lookup_general(const struct cls *c, const struct packet *p, struct candidates *cand)
{
	for (const struct cls_node *node = rcu_dereference(c->general); node;
	     node = rcu_dereference(node->next[0])) {
		if (match_packet(node->rule->match, p)) {
			consider(cand, node->rule, node->rank, node->seq, node->terminating);
			if (node->rule->terminating)
				return;
		}
	}
}

void cls_lookup(const struct cls *c, const struct packet *p, struct cls_result *out)
{
	struct candidates cand = {.out = out};
	const struct cls_list *list = rcu_dereference(c->list);
	struct probe probes[CLS_CHUNK];
	unsigned n = 0;

	out->n = 0;
	out->overflow = false;
	lookup_general(c, p, &cand);
	for (unsigned i = 0; list && i < list->n; i++) {
		const struct cls_tuple *t = list->tuples[i];

		/* Tuples are in min_rank order: once one is ruled out, all
		 * the rest are. */
		if (pruned(&cand, t))
			break;
		for (unsigned start = 0; start + t->n_items <= p->n_layers; start++) {
			if (n == CLS_CHUNK) {
				probe_chunk(probes, n, p, &cand);
				n = 0;
				if (pruned(&cand, t))
					break;
			}
			n += probe_key(&probes[n], t, p, start);
			if (!t->floating)
				break;
		}
	}
	probe_chunk(probes, n, p, &cand);
	finish(&cand);
}

/* Tuples a burst takes together: with more, a packet has probes enough.
 * And buckets below which the tables stay in cache: no miss to overlap. */
#define CLS_BURST_TUPLES  4
#define CLS_BURST_BUCKETS 8192u

/* Does a burst over this tuple list overlap its probes? (The caller's
 * one load of the list: the probes are sized from what it says.) */
static bool overlaps(const struct cls_list *list)
{
	uint64_t buckets = 0;

	if (list == NULL || list->n > CLS_BURST_TUPLES)
		return false;
	for (unsigned i = 0; i < list->n; i++) {
		/* One probe per tuple and packet: what sizes a burst's probes. */
		if (list->tuples[i]->floating)
			return false;
		buckets += rcu_dereference(list->tuples[i]->table)->mask + 1u;
	}
	return buckets >= CLS_BURST_BUCKETS;
}

bool cls_lookup_overlaps(const struct cls *c)
{
	return overlaps(rcu_dereference(c->list));
}

void cls_lookup_burst(const struct cls *c, const struct packet *const *pkts, unsigned n,
		      struct cls_result *out)
{
	const struct cls_list *list = rcu_dereference(c->list);
	struct candidates cand[CLS_BURST];
	/* At most one probe per tuple and packet (cls_lookup_overlaps()). */
	struct probe probes[CLS_BURST * CLS_BURST_TUPLES];
	unsigned n_probes = 0;

	if (n > CLS_BURST || !overlaps(list)) {
		for (unsigned k = 0; k < n; k++)
			cls_lookup(c, pkts[k], &out[k]);
		return;
	}
	/* Pass 1 for every packet (keys, hashes, buckets prefetched), then
	 * passes 2 and 3 over them all, packet by packet in tuple order so
	 * that each packet's early exit still holds. */
	for (unsigned k = 0; k < n; k++) {
		cand[k] = (struct candidates){.out = &out[k]};
		out[k].n = 0;
		out[k].overflow = false;
		lookup_general(c, pkts[k], &cand[k]);
		for (unsigned i = 0; i < list->n; i++) {
			const struct cls_tuple *t = list->tuples[i];

			if (pruned(&cand[k], t))
				break;
			if (t->n_items <= pkts[k]->n_layers &&
			    probe_key(&probes[n_probes], t, pkts[k], 0))
				probes[n_probes++].packet = k;
		}
	}
	probe_passes(probes, n_probes, pkts, cand, true);
	for (unsigned k = 0; k < n; k++)
		finish(&cand[k]);
}

int cls_linear_rule(struct cls_linear_rule *l, const struct cls_rule *installed,
		    const struct hwdrv_rule *rule, struct pool *pool, struct mpf_flow_error *error)
{
	*l = (struct cls_linear_rule){.cls = {.rank = installed->rank,
					      .seq = installed->seq,
					      .terminating = installed->terminating,
					      .reads_match = true},
				      .installed = installed};
	l->cls.match = &l->match;
	return match_compile(&l->match, rule, pool, error);
}

void cls_lookup_linear(const struct cls_rule *const *rules, unsigned n, const struct packet *p,
		       struct cls_result *out)
{
	struct candidates cand = {.out = out};

	out->n = 0;
	out->overflow = false;
	for (unsigned i = 0; i < n; i++)
		if (match_packet(rules[i]->match, p)) {
			consider(&cand, rules[i], rules[i]->rank, rules[i]->seq,
				 rules[i]->terminating);
			if (rules[i]->terminating)
				break;
		}
	finish(&cand);
}
