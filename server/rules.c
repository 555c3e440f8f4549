/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rule table: slot + generation handles, owners, quotas, and the
 * publication of each rule's directory entry and counter in the region.
 *
 * Order of a create: slot taken, counter opened (so a datapath can count the
 * first packet), backend create, journal record (persistent), directory
 * entry published, owner linked. A destroy runs it backwards, so a reader
 * never sees an entry whose device rule is gone, and a slot is never reused
 * while the device still has it.
 *
 * A persistent rule's destroy is in two steps (commit.c): its RULE_GONE
 * record is appended and the rule becomes DYING — still in the device,
 * refused to clients — and only once that record is durable is the rule
 * taken out of the device and its slot freed. If the sync fails the rule
 * is LIVE again and the destroy fails: an acknowledged destroy never comes
 * back after a restart, and an unacknowledged one never half-happened.
 *
 * Handles. A generation is the run's epoch (8 bits, kept in the journal)
 * above a per-slot count (RULES_GENERATION_BITS, 24); a slot counts from 1
 * under each epoch. When a slot's count is spent the epoch advances (a
 * durable EPOCH record) and the slot counts from 1 again under the new
 * one; a start advances it too. A freed slot is reused only after the
 * RULES_QUARANTINE (256) slots freed before it, or after every other free
 * slot when fewer are free (server.h). The guarantee: a handle is given out
 * again only after 256 epoch advances; within a run an advance takes
 * 2^24 - 1 reuses of one slot (a create refused spends no generation),
 * and each slot's reuses are at least
 * Q = min(256, F) creates apart (F free slots), so a stale handle can name
 * a new rule only after 256 x (2^24 - 1) x Q creates (1.1 x 10^12 with 256
 * or more free slots; 4.3 x 10^9 with one). A slot whose epoch cannot be
 * recorded (the journal failing) is retired for the rest of the run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/server.h"

#ifndef RULES_GENERATION_BITS
#define RULES_GENERATION_BITS 24 /* a test build shrinks it to reach the edge */
#endif
#define GENERATION_COUNT_MAX ((1u << RULES_GENERATION_BITS) - 1u)
#define HANDLE(gen, slot)    ((uint64_t)(gen) << 32 | (slot))

_Static_assert(RULES_GENERATION_BITS >= 2 && RULES_GENERATION_BITS <= 24,
	       "the epoch takes 8 of the generation's 32 bits");

uint64_t rules_bytes(uint32_t max)
{
	return (uint64_t)max * (sizeof(struct rule_slot) + sizeof(uint32_t));
}

int rules_init(struct rule_table *t, uint32_t max)
{
	t->max = max;
	t->quarantine_cap = max < RULES_QUARANTINE ? max : RULES_QUARANTINE;
	/* Zeroed and lazily faulted in: pages the table never reaches are
	 * never touched. On huge pages where granted: a bulk load or a
	 * replay faults a 2 MiB page in for 37,449 slots, not one for 73. */
	t->slots = big_alloc((size_t)max * sizeof(*t->slots));
	t->free = calloc(max, sizeof(*t->free));
	t->quarantine = calloc(t->quarantine_cap, sizeof(*t->quarantine));
	t->cap_makers = 8;
	t->makers = calloc(t->cap_makers, sizeof(*t->makers));
	if (t->slots == NULL || t->free == NULL || t->quarantine == NULL || t->makers == NULL) {
		rules_fini(t);
		return -ENOMEM;
	}
	t->makers[0] = (struct rule_maker){.uid = geteuid()}; /* the instance's own */
	t->n_makers = 1;
	t->free_count = 0;
	t->fresh = 0;
	t->quarantine_head = t->quarantine_count = 0;
	memset(t->ports, 0, sizeof(t->ports));
	t->used = 0;
	t->retired = 0;
	t->clock_uses = 0; /* no rule of this run takes an earlier one's time */
	return 0;
}

void rules_fini(struct rule_table *t)
{
	big_free(t->slots, (size_t)t->max * sizeof(*t->slots));
	free(t->free);
	free(t->quarantine);
	for (uint32_t i = 0; t->makers && i < t->n_makers; i++)
		free(t->makers[i].masks);
	free(t->makers);
	t->slots = NULL;
	t->free = NULL;
	t->quarantine = NULL;
	t->makers = NULL;
}

bool rules_uid_is_instance(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

int rules_maker(struct rule_table *t, uid_t uid)
{
	struct rule_maker *m;

	if (uid == (uid_t)-1 || rules_uid_is_instance(uid))
		return 0;
	/* A few users at most: the ones --allow-group admits. */
	for (uint32_t i = 1; i < t->n_makers; i++)
		if (t->makers[i].uid == uid)
			return (int)i;
	if (t->n_makers == t->cap_makers) {
		m = reallocarray(t->makers, 2 * (size_t)t->cap_makers, sizeof(*m));
		if (m == NULL)
			return -ENOMEM;
		t->makers = m;
		t->cap_makers *= 2;
	}
	t->makers[t->n_makers] = (struct rule_maker){.uid = uid};
	return (int)t->n_makers++;
}

uint32_t rules_free(const struct rule_table *t)
{
	return t->free_count + t->quarantine_count + (t->max - t->fresh);
}

uint32_t rules_free_at(const struct rule_table *t, uint32_t i)
{
	if (i < t->free_count)
		return t->free[i];
	i -= t->free_count;
	if (i < t->quarantine_count)
		return t->quarantine[(t->quarantine_head + i) % t->quarantine_cap];
	return t->fresh + (i - t->quarantine_count);
}

/* The slot to use next: the top of the stack, else a fresh one, else the
 * oldest in quarantine (the table is then nearly full). Some must be free. */
static uint32_t free_pop(struct rule_table *t)
{
	uint32_t slot;

	if (t->free_count)
		return t->free[--t->free_count];
	if (t->fresh < t->max)
		return t->fresh++;
	slot = t->quarantine[t->quarantine_head];
	t->quarantine_head = (t->quarantine_head + 1) % t->quarantine_cap;
	t->quarantine_count--;
	return slot;
}

/* A freed slot into quarantine; the oldest there moves on to the stack. */
static void free_push(struct rule_table *t, uint32_t slot)
{
	if (t->quarantine_count == t->quarantine_cap) {
		t->free[t->free_count++] = t->quarantine[t->quarantine_head];
		t->quarantine_head = (t->quarantine_head + 1) % t->quarantine_cap;
		t->quarantine_count--;
	}
	t->quarantine[(t->quarantine_head + t->quarantine_count) % t->quarantine_cap] = slot;
	t->quarantine_count++;
}

/* A slot that was taken but not used goes back on top of the stack. */
static void free_unpop(struct rule_table *t, uint32_t slot)
{
	t->free[t->free_count++] = slot;
}

/* The time a rule made now says it was made (rules_clock_expire()). */
static uint64_t made_now(struct rule_table *t)
{
	if (t->clock_uses == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		t->clock_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		t->clock_uses = RULES_CLOCK_USES;
	}
	t->clock_uses--;
	return t->clock_ns;
}

void rules_clock_expire(struct server *s)
{
	s->rules.clock_uses = 0;
}

static void link_owner(struct server *s, struct client *c, uint32_t slot)
{
	struct rule_slot *r = &s->rules.slots[slot];

	r->prev = 0;
	r->next = c->first_rule;
	if (c->first_rule)
		s->rules.slots[c->first_rule - 1].prev = slot + 1;
	c->first_rule = slot + 1;
}

static void unlink_owner(struct server *s, struct client *c, uint32_t slot)
{
	struct rule_slot *r = &s->rules.slots[slot];

	if (r->prev)
		s->rules.slots[r->prev - 1].next = r->next;
	else
		c->first_rule = r->next;
	if (r->next)
		s->rules.slots[r->next - 1].prev = r->prev;
	r->prev = r->next = 0;
}

/* testpmd's rule ids: a new rule on a port takes the highest live id + 1
 * (0 on an empty port), as testpmd's port_flow_create() does; the port's
 * list is kept in id order, so the highest is its last. The ids of rules
 * kept without a slot (a start with a smaller table) count as live. */
static uint32_t next_number(const struct rule_table *t, uint16_t port)
{
	uint32_t last = t->ports[port].last, next = last ? t->slots[last - 1].number + 1 : 0;

	return next > t->ports[port].reserved ? next : t->ports[port].reserved;
}

uint32_t rules_reserve_number(struct rule_table *t, uint16_t port)
{
	uint32_t number = next_number(t, port);

	t->ports[port].reserved = number + 1;
	return number;
}

static void number_rule(struct rule_table *t, uint32_t slot)
{
	struct rule_slot *r = &t->slots[slot];
	uint32_t last = t->ports[r->port].last;

	r->number = next_number(t, r->port);
	r->port_prev = last;
	r->port_next = 0;
	if (last)
		t->slots[last - 1].port_next = slot + 1;
	else
		t->ports[r->port].first = slot + 1;
	t->ports[r->port].last = slot + 1;
}

static void unnumber_rule(struct rule_table *t, uint32_t slot)
{
	struct rule_slot *r = &t->slots[slot];

	if (t->walk == slot + 1)
		t->walk = r->port_prev;
	if (r->port_prev)
		t->slots[r->port_prev - 1].port_next = r->port_next;
	else
		t->ports[r->port].first = r->port_next;
	if (r->port_next)
		t->slots[r->port_next - 1].port_prev = r->port_prev;
	else
		t->ports[r->port].last = r->port_prev;
	r->port_prev = r->port_next = 0;
}

/* The client that owns the rule in `r`, or NULL (persistent, or gone). */
static struct client *owner_of_slot(struct server *s, const struct rule_slot *r)
{
	struct client *c = r->owner ? &s->clients[r->owner_index] : NULL;

	return c && c->active && c->session == r->owner ? c : NULL;
}

/* What the heap chunks of the rule in `r` are charged to, each held to a
 * quota: `own`, its owner's (a client's) or a persistent rule's maker's,
 * to --client-max-rules' share; `user`, all of another user's rules', to
 * half of the heap, as it holds half the table. NULL: unheld. */
struct heap_charge {
	uint64_t *own, *user;
	const struct rule_maker *maker;
};

/* The user whose quotas the rule in `r` counts in: its owner's (`c`,
 * owner_of_slot()), or a persistent rule's maker; NULL where its
 * session's slot is another's. */
static struct rule_maker *maker_of(struct server *s, const struct rule_slot *r,
				   const struct client *c)
{
	if (c)
		return &s->rules.makers[c->maker];
	return r->owner == 0 ? &s->rules.makers[r->maker] : NULL;
}

static struct heap_charge heap_charge(struct server *s, const struct rule_slot *r)
{
	struct client *c = owner_of_slot(s, r);
	struct rule_maker *m = maker_of(s, r, c);

	if (m == NULL || m == s->rules.makers) /* none, or the instance's own users */
		return (struct heap_charge){.own = c ? &c->heap_chunks : NULL};
	return (struct heap_charge){.own = c ? &c->heap_chunks : &m->heap_chunks,
				    .user = &m->user_heap_chunks,
				    .maker = m};
}

/* The heap's chunks one client's rules may hold when --client-max-rules
 * limits it: its share of the heap as that is its share of the table. */
static uint64_t client_heap_quota(const struct server *s)
{
	return (uint64_t)s->config.client_max_rules *
	       (REGION_HEAP_PER_RULE / sizeof(struct region_chunk));
}

_Static_assert(PACK_MAX <= UINT16_MAX, "a packed rule's length fits its entry's rule_length");

/* Keep the request that made the rule in `slot`, packed into s->packed for
 * its entry (publish_entry()), or when longer than an entry holds, into
 * the rule heap, charged to its owner or maker (heap_charge(): set
 * first), and for a `fresh` rule held to their share (a restored one was
 * acknowledged: a smaller quota refuses only what comes next). 0, or
 * -ENOSPC (the heap is full) or -ENOMEM (their share is), with `error`. */
static int keep_rule(struct server *s, uint32_t slot, const struct rule_bytes *bytes, bool fresh,
		     struct mpf_flow_error *error)
{
	struct rule_slot *r = &s->rules.slots[slot];
	uint32_t chunks[RULE_HEAP_CHAIN_MAX], n;
	int packed = (int)bytes->packed_length;
	struct heap_charge charge;
	uint64_t held;

	if (bytes->packed)
		memcpy(s->packed, bytes->packed, bytes->packed_length);
	else
		packed = rule_pack(bytes->wire, bytes->wire_length, s->packed, sizeof(s->packed),
				   &s->pack_memo);
	if (packed <= 0) /* a request the decoder took always packs */
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "a request of %u bytes does not pack: %s", bytes->wire_length,
				      strerror(-packed));
	if (region_rule_inline((uint32_t)packed)) {
		r->packed_length = (uint32_t)packed;
		return 0;
	}
	n = region_rule_chunks((uint32_t)packed);
	charge = heap_charge(s, r); /* a rule in its entry (most) needs none */
	if (fresh && charge.user && *charge.user + n > s->heap.n_chunks / 2)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "uid %u's rules already take half of the rule heap (%llu "
				      "bytes): the rest is kept for others",
				      (unsigned)charge.maker->uid,
				      (unsigned long long)(s->heap.n_chunks / 2) *
					      sizeof(struct region_chunk));
	held = charge.own ? *charge.own : 0;
	if (fresh && charge.own && s->config.client_max_rules < s->rules.max &&
	    held + n > client_heap_quota(s))
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "%s quota reached: its rules would take more than %llu "
				      "bytes of the rule heap (--client-max-rules %u x %u)",
				      r->owner ? "client" : "user", /* its persistent ones */
				      (unsigned long long)client_heap_quota(s) *
					      sizeof(struct region_chunk),
				      s->config.client_max_rules, REGION_HEAP_PER_RULE);
	if (rule_heap_alloc(&s->heap, (uint32_t)packed, chunks) != 0)
		return flow_error_set(error, ENOSPC, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "the rule heap is full (%llu bytes for --max-rules %u: a "
				      "larger --max-rules gives it more)",
				      (unsigned long long)s->heap.n_chunks *
					      sizeof(struct region_chunk),
				      s->rules.max);
	/* No entry names the chain yet. */
	region_rule_write(s->heap.chunks, chunks, s->packed, (uint32_t)packed);
	r->packed_chunk = chunks[0];
	r->packed_length = (uint32_t)packed;
	if (charge.own)
		*charge.own += n;
	if (charge.user)
		*charge.user += n;
	return 0;
}

static void drop_rule(struct server *s, struct rule_slot *r)
{
	memcg_release(&s->memcg);
	if (r->packed_length == 0)
		return;
	if (!region_rule_inline(r->packed_length)) {
		struct heap_charge charge = heap_charge(s, r);

		if (charge.own)
			*charge.own -= region_rule_chunks(r->packed_length);
		if (charge.user)
			*charge.user -= region_rule_chunks(r->packed_length);
		rule_heap_free(&s->heap, r->packed_chunk, r->packed_length);
	}
	r->packed_length = 0;
}

const uint8_t *rules_packed(const struct server *s, uint32_t slot, uint8_t *buf, uint32_t *length)
{
	const struct rule_slot *r = &s->rules.slots[slot];

	*length = r->packed_length;
	if (r->packed_length == 0)
		return NULL;
	/* The primary's own bytes (plain reads of what it wrote). */
	if (region_rule_inline(r->packed_length))
		return s->entries[slot].rule;
	rule_heap_read(&s->heap, r->packed_chunk, r->packed_length, buf);
	return buf;
}

uint32_t rules_request(const struct server *s, uint32_t slot, uint8_t *out)
{
	uint8_t buf[RULE_HEAP_CHAIN_MAX * REGION_CHUNK_BYTES];
	uint32_t length;
	const uint8_t *packed = rules_packed(s, slot, buf, &length);
	int n = packed ? rule_unpack(packed, length, out, WIRE_MSG_MAX, NULL) : 0;

	return n > 0 ? (uint32_t)n : 0;
}

/* The rule in `slot` into the directory: its entry (with its packed rule,
 * from s->packed, or where it is in the heap), then its generation. */
static void publish_entry(struct server *s, struct client *c, uint32_t slot,
			  const struct wire_rule *rule, uint16_t flags)
{
	const struct rule_slot *r = &s->rules.slots[slot];
	struct region_entry e = {0};

	if (!rule->persistent) {
		e.owner_id = c->session;
		e.owner_index = (uint16_t)c->index;
	}
	e.group = rule->attr.group;
	e.priority = rule->attr.priority;
	e.port = rule->port;
	e.number = r->number;
	e.flags = (uint16_t)(flags | (rule->attr.ingress ? REGION_ENTRY_INGRESS : 0) |
			     (rule->attr.egress ? REGION_ENTRY_EGRESS : 0) |
			     (rule->persistent ? REGION_ENTRY_PERSISTENT : 0));
	e.rule_length = (uint16_t)r->packed_length;
	if (region_rule_inline(r->packed_length))
		memcpy(e.rule, s->packed, r->packed_length);
	else
		memcpy(e.rule, &r->packed_chunk, sizeof(r->packed_chunk));
	/* The walk's end covers the slot before the stamp says it moved: a
	 * reader that saw the stamp walks up to it (the release orders it). */
	shm_store_relaxed32(&s->region->slots_end, s->rules.fresh);
	region_entry_publish(&s->counters[slot], &s->entries[slot], &e, r->generation,
			     made_now(&s->rules));
	region_activity_bump(s->activity, slot); /* the entry, and the counter opened */
}

static void count_used(struct server *s, int delta)
{
	s->rules.used += (uint32_t)delta;
	shm_store_relaxed32(&s->region->rules, s->rules.used);
	shm_store_relaxed32(&s->region->slots_end, s->rules.fresh);
}

/* The generation the next rule in `slot` gets; 0 if the slot's handles are
 * spent and a new epoch could not be recorded (the slot is then retired). */
static uint32_t next_generation(struct server *s, uint32_t slot)
{
	uint32_t old = s->rules.slots[slot].generation;
	uint32_t count = 1;
	int err;

	if (old >> RULES_GENERATION_BITS == s->journal.epoch) {
		count = (old & GENERATION_COUNT_MAX) + 1;
		if (count > GENERATION_COUNT_MAX) {
			err = journal_advance_epoch(s);
			if (err) {
				log_warnx("slot %u: its handles are spent and no new epoch can be "
					  "recorded (%s): retired for this run",
					  slot, strerror(-err));
				return 0;
			}
			count = 1;
		}
	}
	return s->journal.epoch << RULES_GENERATION_BITS | count;
}

/* Count one more rule of `m` in the device's mask table `table`: 0, or
 * -EDQUOT where that is a table more than `quota` and the rule is
 * `held` (a restored one was acknowledged: it counts, and stays), or
 * -ENOMEM. */
static int mask_charge(struct rule_maker *m, const void *table, uint32_t quota, bool held)
{
	struct maker_mask *grown;

	for (uint32_t i = 0; i < m->n_masks; i++)
		if (m->masks[i].table == table) {
			m->masks[i].rules++;
			return 0;
		}
	if (held && m->n_masks >= quota)
		return -EDQUOT;
	if (m->n_masks == m->cap_masks) {
		uint32_t cap = m->cap_masks ? 2 * m->cap_masks : 4;

		grown = reallocarray(m->masks, cap, sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		m->masks = grown;
		m->cap_masks = cap;
	}
	m->masks[m->n_masks++] = (struct maker_mask){.table = table, .rules = 1};
	return 0;
}

static void mask_uncharge(struct rule_maker *m, const void *table)
{
	for (uint32_t i = 0; i < m->n_masks; i++)
		if (m->masks[i].table == table) {
			if (--m->masks[i].rules == 0)
				m->masks[i] = m->masks[--m->n_masks];
			return;
		}
}

/* The refusal of a rule of `m` that would be in one more of the device's
 * mask tables than its quota. */
static int masks_refused(const struct server *s, const struct rule_maker *m,
			 struct mpf_flow_error *error)
{
	/* 104 characters at most (a 10-digit uid, a quota of 65536). */
	return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_ITEM, -1,
			      "uid %u's rules are in its quota of %u mask tables, each met by "
			      "every frame (--user-max-masks)",
			      (unsigned)m->uid, s->config.user_max_masks);
}

/* Make `rule` in `slot` as `generation`: the device's rule, its counter,
 * its packed form (its entry's, and a new persistent rule's journal
 * record; a `restored` one's record is there already, and gives it), its
 * directory entry, its owner (client `c`), or when persistent its maker.
 * The slot is off the free list. */
static int install(struct server *s, struct client *c, uint32_t maker, uint32_t slot,
		   uint32_t generation, const struct wire_rule *rule, struct hwdrv_rule *hw,
		   const struct rule_bytes *restored, struct mpf_flow_error *error)
{
	struct rule_bytes made = {.wire = hw->wire, .wire_length = (uint32_t)hw->wire_length};
	struct rule_slot *r = &s->rules.slots[slot];
	bool counted = hw->shape->actions.last[MPF_FLOW_ACTION_TYPE_COUNT] >= 0, slow = false;
	struct rule_maker *m = &s->rules.makers[rule->persistent ? maker : c->maker];
	const void *mask = NULL;
	int err;

	if (r->generation == 0) /* the slot's first rule of the run: its pages are new */
		ahead_slot(s, slot);
	r->generation = generation;
	region_counter_prepare(&s->counters[slot], &s->shares, slot, counted);
	hw->counter = &s->counters[slot];
	hw->deferred = s->device.ops.activate != NULL;
	/* Another user's rules on the slow path are met by every frame of
	 * the port, the owner's among them: a quota, counted for other users
	 * only (a restored rule was acknowledged: it counts, and stays). */
	hw->slow = m != s->rules.makers ? &slow : NULL;
	hw->slow_refused = restored == NULL && m->slow_rules >= s->config.user_max_slow_rules;
	/* So are the device's mask tables its rules are in: each costs every
	 * frame a lookup (an attacker's 2,000 rules of as many masks took a
	 * port 1,000-fold slower). */
	hw->mask = hw->slow ? &mask : NULL;
	hw->new_mask_refused = restored == NULL && m->n_masks >= s->config.user_max_masks;
	err = s->device.ops.create(&s->device, hw, &r->backend, error);
	if (err == -EDQUOT && slow)
		/* 126 characters at most (2^24 rules, a 10-digit uid). */
		err = flow_error_set(
			error, ENOMEM, MPF_FLOW_ERROR_TYPE_ITEM, -1,
			"uid %u holds its quota of %u rules on the device's slow path, "
			"met in turn by every frame (--user-max-slow-rules)",
			(unsigned)m->uid, s->config.user_max_slow_rules);
	else if (err == -EDQUOT && hw->new_mask_refused && hw->mask)
		err = masks_refused(s, m, error);
	/* A table that exists but holds none of its rules: refused now, the
	 * rule not yet linked (hw->deferred) or alone in its place. */
	if (!err && mask && (err = mask_charge(m, mask, s->config.user_max_masks, !restored))) {
		s->device.ops.destroy(&s->device, r->backend, NULL);
		err = err == -EDQUOT ? masks_refused(s, m, error)
				     : flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
						      "out of memory");
	}
	if (err) {
		region_counter_close(&s->counters[slot]);
		return err;
	}
	r->slow = slow;
	m->slow_rules += slow;
	r->masked = mask != NULL;
	/* Heap room only for what the device took, and charged to its owner
	 * or maker (set first: drop_rule() uncharges through them). */
	r->owner = rule->persistent ? 0 : c->session;
	if (rule->persistent)
		r->maker = maker;
	else
		r->owner_index = c->index;
	err = keep_rule(s, slot, restored ? restored : &made, restored == NULL, error);
	if (!err && rule->persistent && !restored) {
		/* On disk before it is acknowledged (commit.c), packed as
		 * its entry holds it. */
		err = journal_rule(s, HANDLE(generation, slot), maker, s->packed, r->packed_length);
		if (err) {
			drop_rule(s, r);
			flow_error_set(error, -err, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				       "the journal cannot record the rule: %s", strerror(-err));
		}
	}
	if (err) {
		s->device.ops.destroy(&s->device, r->backend, NULL);
		region_counter_close(&s->counters[slot]);
		r->owner = 0;
		m->slow_rules -= r->slow;
		r->slow = false;
		if (r->masked)
			mask_uncharge(m, mask);
		r->masked = false;
		return err;
	}
	if (rule->persistent) {
		s->persistent_rules++;
		s->rules.makers[maker].rules++;
	}
	r->state = RULE_LIVE;
	r->port = rule->port;
	number_rule(&s->rules, slot);
	publish_entry(s, c, slot, rule, counted ? REGION_ENTRY_COUNT : 0);
	if (!rule->persistent) {
		link_owner(s, c, slot);
		c->rules++;
		s->rules.makers[c->maker].session_rules++;
	}
	count_used(s, 1);
	if (hw->deferred && ++s->rules.deferred == RULES_DEFER_MAX)
		rules_activate(s);
	return 0;
}

void rules_activate(struct server *s)
{
	if (s->rules.deferred) {
		s->device.ops.activate(&s->device);
		s->rules.deferred = 0;
	}
}

int rules_create(struct server *s, struct client *c, const struct wire_rule *rule,
		 struct hwdrv_rule *hw, uint64_t *handle, struct mpf_flow_error *error)
{
	struct rule_table *t = &s->rules;
	uint32_t slot, generation = 0, before;
	int err;

	if (!rule->persistent && c->rules >= s->config.client_max_rules)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "client quota of %u rules reached (--client-max-rules)",
				      s->config.client_max_rules);
	/* Persistent rules outlive sessions: bounded by user. */
	if (rule->persistent && c->maker && t->makers[c->maker].rules >= s->config.client_max_rules)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "user quota of %u persistent rules reached: uid %u holds "
				      "them (--client-max-rules)",
				      s->config.client_max_rules, (unsigned)c->uid);
	/* Another user holds half the table at most, over all its sessions
	 * and its persistent rules (as it holds half the sessions): it
	 * cannot keep the instance's own users out. */
	if (c->maker && t->makers[c->maker].rules + t->makers[c->maker].session_rules >= t->max / 2)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "uid %u already holds %u rules, half of --max-rules %u: the "
				      "rest are kept for others",
				      (unsigned)c->uid, t->max / 2, t->max);
	/* Before the memory cgroup's limit, not at it: there the OOM killer
	 * takes the primary and every rule with it. */
	if (!memcg_admit(&s->memcg))
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "the memory cgroup leaves %llu MiB of its limit, less than "
				      "the %llu MiB mpflowd keeps for itself: destroy rules, or "
				      "raise the limit",
				      (unsigned long long)(s->memcg.room >> 20),
				      (unsigned long long)(memcg_reserve(&s->memcg) >> 20));
	while (generation == 0) {
		if (rules_free(t) == 0)
			return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
					      "the rule table is full (%u rules, --max-rules%s)",
					      t->max, t->retired ? ", some slots retired" : "");
		slot = free_pop(t);
		before = t->slots[slot].generation;
		generation = next_generation(s, slot);
		if (generation == 0) {
			t->slots[slot].state = RULE_RETIRED;
			t->retired++;
		}
	}
	err = install(s, c, c->maker, slot, generation, rule, hw, NULL, error);
	if (err) {
		/* Nothing named the handle (no entry published, no record
		 * appended): refused creates spend none of the slot's (a
		 * fresh slot's first, at most: its 0 says its pages are new,
		 * ahead_slot()). */
		if (before != 0)
			t->slots[slot].generation = before;
		free_unpop(t, slot);
		return err;
	}
	*handle = HANDLE(generation, slot);
	return 0;
}

int rules_restore(struct server *s, uint64_t handle, uint32_t maker,
		  const struct wire_request *request, const struct rule_bytes *bytes,
		  struct mpf_flow_error *error)
{
	const struct wire_rule *rule = &request->rule;
	uint32_t slot = (uint32_t)handle, generation = (uint32_t)(handle >> 32);
	struct rule_shape shape;
	struct hwdrv_rule hw;
	int err;

	err = rule_validate(&rule->attr, rule->items, rule->actions, &shape, error);
	if (err)
		return err;
	hw = (struct hwdrv_rule){.port = rule->port,
				 .attr = &rule->attr,
				 .pattern = rule->items,
				 .actions = rule->actions,
				 .shape = &shape,
				 .wire = bytes->wire,
				 .wire_length = bytes->wire_length};
	if (slot >= s->rules.fresh)
		s->rules.fresh = slot + 1;
	return install(s, NULL, maker, slot, generation, rule, &hw, bytes, error);
}

int rules_keep_unrestored(struct server *s, uint64_t handle, uint32_t maker,
			  const struct wire_rule *rule, const struct rule_bytes *bytes)
{
	uint32_t slot = (uint32_t)handle;
	struct rule_slot *r = &s->rules.slots[slot];
	struct mpf_flow_error error;
	int err;

	r->owner = 0;
	r->maker = maker;
	err = keep_rule(s, slot, bytes, false, &error);
	if (err)
		return err;
	if (slot >= s->rules.fresh)
		s->rules.fresh = slot + 1;
	r->generation = (uint32_t)(handle >> 32);
	r->state = RULE_UNRESTORED;
	r->port = rule->port;
	r->backend = NULL;
	number_rule(&s->rules, slot);
	region_counter_prepare(&s->counters[slot], &s->shares, slot, false);
	publish_entry(s, NULL, slot, rule, REGION_ENTRY_UNRESTORED);
	s->persistent_rules++;
	s->rules.makers[maker].rules++;
	count_used(s, 1);
	return 0;
}

void rules_retire(struct server *s, uint32_t slot)
{
	s->rules.slots[slot].state = RULE_RETIRED;
	s->rules.retired++;
	if (slot >= s->rules.fresh)
		s->rules.fresh = slot + 1;
}

void rules_restored(struct server *s)
{
	struct rule_table *t = &s->rules;

	rules_activate(s);
	/* Fresh from above the highest restored slot (restores moved the
	 * mark); the free ones below it stacked, low slots on top. */
	t->free_count = 0;
	t->quarantine_head = t->quarantine_count = 0;
	for (uint32_t i = t->fresh; i-- > 0;)
		if (t->slots[i].state == RULE_FREE)
			t->free[t->free_count++] = i;
}

int rules_lookup(struct server *s, const struct client *c, uint64_t handle, bool changes,
		 struct mpf_flow_error *error)
{
	uint32_t slot = (uint32_t)handle, generation = (uint32_t)(handle >> 32);
	const struct rule_slot *r;

	if (slot >= s->rules.max || generation == 0 || !rule_slot_used(&s->rules.slots[slot]) ||
	    s->rules.slots[slot].generation != generation)
		return flow_error_set(error, ENOENT, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "no rule 0x%llx", (unsigned long long)handle);
	r = &s->rules.slots[slot];
	if (r->owner != 0 && r->owner != c->session)
		return flow_error_set(error, EPERM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "rule 0x%llx belongs to another client",
				      (unsigned long long)handle);
	if (changes && r->owner == 0 && c->maker && r->maker != c->maker)
		return r->maker ? flow_error_set(error, EPERM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
						 "rule 0x%llx is a persistent rule of another user "
						 "(uid %u)",
						 (unsigned long long)handle,
						 (unsigned)s->rules.makers[r->maker].uid)
				: flow_error_set(
					  error, EPERM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
					  "rule 0x%llx is a persistent rule of the instance's "
					  "own users (the primary's and root)",
					  (unsigned long long)handle);
	if (r->dying)
		return flow_error_set(error, EBUSY, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "rule 0x%llx is being destroyed (its record is not yet on "
				      "disk)",
				      (unsigned long long)handle);
	return (int)slot;
}

/* Removing a rule, before its device rule goes: out of the directory and
 * the heap. Whether it has a device rule to destroy. */
static bool remove_begin(struct server *s, uint32_t slot)
{
	struct rule_slot *r = &s->rules.slots[slot];
	struct rule_maker *m;

	if (r->masked && (m = maker_of(s, r, owner_of_slot(s, r))) != NULL)
		mask_uncharge(m, s->device.ops.mask_of(&s->device, r->backend));
	r->masked = false;
	region_counter_close(&s->counters[slot]); /* the entry and the counter */
	if (r->owner == 0) {
		s->persistent_rules--;
		s->rules.makers[r->maker].rules--;
		s->rules.makers[r->maker].slow_rules -= r->slow;
		r->slow = false;
	}
	drop_rule(s, r);
	if (r->state != RULE_UNRESTORED)
		return true;
	s->unrestored_rules--;
	shm_store_relaxed32(&s->region->unrestored, s->unrestored_rules);
	return false;
}

/* rte_flow: the handle is gone either way; the device may be
 * inconsistent, and the log says so. */
static void destroy_failed(const struct server *s, uint32_t slot, const char *why)
{
	log_warnx("rule 0x%llx: backend destroy failed: %s",
		  (unsigned long long)HANDLE(s->rules.slots[slot].generation, slot), why);
}

/* Removing a rule, after its device rule went: out of its owner's list,
 * the slot freed. */
static void remove_end(struct server *s, uint32_t slot)
{
	struct rule_table *t = &s->rules;
	struct rule_slot *r = &t->slots[slot];

	region_activity_bump(s->activity, slot); /* the entry and counter retired */
	if (r->owner) {
		struct client *c = &s->clients[r->owner_index];

		if (c->active && c->session == r->owner) {
			unlink_owner(s, c, slot);
			c->rules--;
			s->rules.makers[c->maker].session_rules--;
			s->rules.makers[c->maker].slow_rules -= r->slow;
		}
	}
	unnumber_rule(t, slot);
	r->state = RULE_FREE;
	r->dying = false;
	r->slow = false;
	r->owner = 0;
	r->backend = NULL;
	free_push(t, slot);
	count_used(s, -1);
}

/* Take the rule in `slot` out of the device, the region and its owner's
 * list, and free the slot. The device's errno, if it refused. */
static int remove_rule(struct server *s, uint32_t slot, struct mpf_flow_error *error)
{
	int err = 0;

	if (remove_begin(s, slot)) {
		err = s->device.ops.destroy(&s->device, s->rules.slots[slot].backend, error);
		if (err)
			destroy_failed(s, slot, error ? error->message : strerror(-err));
	}
	remove_end(s, slot);
	return err;
}

/* The same for `n` rules (bulk destroys: a flush, a client's leaving, the
 * destroys a sync made durable), their device rules destroyed together
 * where the backend can (ops.destroy_burst). */
static void remove_rules(struct server *s, const uint32_t *slots, unsigned n)
{
	void *handles[RULES_REMOVE_BURST];
	uint32_t live[RULES_REMOVE_BURST];
	int errs[RULES_REMOVE_BURST] = {0};
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		if (remove_begin(s, slots[i])) {
			live[k] = slots[i];
			handles[k++] = s->rules.slots[slots[i]].backend;
		}
	if (k && s->device.ops.destroy_burst) {
		s->device.ops.destroy_burst(&s->device, handles, k, errs);
	} else {
		for (unsigned i = 0; i < k; i++)
			errs[i] = s->device.ops.destroy(&s->device, handles[i], NULL);
	}
	for (unsigned i = 0; i < k; i++)
		if (errs[i])
			destroy_failed(s, live[i], strerror(-errs[i]));
	for (unsigned i = 0; i < n; i++)
		remove_end(s, slots[i]);
}

int rules_destroy(struct server *s, uint32_t slot, struct mpf_flow_error *error)
{
	struct rule_slot *r = &s->rules.slots[slot];
	int err;

	if (r->owner != 0 || s->journal.frozen)
		return remove_rule(s, slot, error);
	/* Persistent: gone once its record is durable (commit.c). */
	err = journal_rule_gone(s, HANDLE(r->generation, slot));
	if (err)
		return flow_error_set(error, -err, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "the journal cannot record the destroy: %s; the rule stays",
				      strerror(-err));
	r->dying = true;
	return 0;
}

/* Gather `slot` for removal; the burst goes when it is full. */
static void removal_add(struct server *s, struct rules_removal *rm, uint32_t slot)
{
	rm->slots[rm->n++] = slot;
	if (rm->n == RULES_REMOVE_BURST)
		rules_removal_finish(s, rm);
}

void rules_removal_finish(struct server *s, struct rules_removal *rm)
{
	if (rm->n)
		remove_rules(s, rm->slots, rm->n);
	rm->n = 0;
}

/* commit.c: the RULE_GONE record of `handle` is durable. */
void rules_destroy_durable(struct server *s, struct rules_removal *rm, uint64_t handle)
{
	uint32_t slot = (uint32_t)handle;

	if (slot < s->rules.max && s->rules.slots[slot].dying &&
	    s->rules.slots[slot].generation == (uint32_t)(handle >> 32)) {
		/* Taken: a second record of the handle finds it no longer
		 * dying. */
		s->rules.slots[slot].dying = false;
		removal_add(s, rm, slot);
	}
}

void rules_destroy_undone(struct server *s, uint64_t handle)
{
	uint32_t slot = (uint32_t)handle;

	if (slot < s->rules.max && s->rules.slots[slot].dying &&
	    s->rules.slots[slot].generation == (uint32_t)(handle >> 32))
		s->rules.slots[slot].dying = false;
}

/* commit.c: a create whose record did not reach the disk (for a rule that
 * is not persistent, its meter's record: commit_depend()). */
void rules_create_undone(struct server *s, uint64_t handle)
{
	uint32_t slot = (uint32_t)handle;

	if (slot < s->rules.max && rule_slot_used(&s->rules.slots[slot]) &&
	    s->rules.slots[slot].generation == (uint32_t)(handle >> 32))
		remove_rule(s, slot, NULL);
}

bool rules_destroy_owned(struct server *s, struct client *c, struct job *job, unsigned budget)
{
	uint32_t destroyed = 0, next;

	/* The job's cursor is the next rule of the list to look at. The
	 * client runs nothing else while its job runs, but a failed sync
	 * between slices undoes its rules that used a meter not yet durable
	 * (commit_depend()): if the cursor's rule was one, its slot is free
	 * or another client's now, and the walk starts again from the list's
	 * head (what it destroyed is off the list). */
	if (job->cursor == 0 && job->done == 0)
		job->cursor = c->first_rule;
	else if (job->cursor && (!rule_slot_used(&s->rules.slots[job->cursor - 1]) ||
				 s->rules.slots[job->cursor - 1].owner != c->session))
		job->cursor = c->first_rule;
	struct rules_removal rm = {.n = 0};

	for (uint32_t at = job->cursor; at && budget; at = next, budget--) {
		const struct rule_slot *r = &s->rules.slots[at - 1];

		/* Read before a full burst leaves the list: it is not in it. */
		next = r->next;
		job->cursor = next;
		if (job->port < 0 || r->port == (uint16_t)job->port) {
			removal_add(s, &rm, at - 1);
			destroyed++;
		}
	}
	rules_removal_finish(s, &rm);
	job->done += destroyed;
	return job->cursor != 0;
}

bool rules_destroy_persistent(struct server *s, const struct client *c, struct job *job,
			      unsigned budget, int *error)
{
	uint32_t slot = job->cursor;

	/* Slots from `fresh` on never held a rule. */
	for (; slot < s->rules.fresh && budget; slot++, budget--) {
		const struct rule_slot *r = &s->rules.slots[slot];
		int err;

		if (!rule_slot_used(r) || r->dying || r->owner != 0 || r->port != job->port ||
		    (c->maker && r->maker != c->maker))
			continue;
		err = rules_destroy(s, slot, NULL);
		if (err) {
			/* The journal refuses: stop here, say so; what was
			 * destroyed so far stays destroyed. */
			*error = err;
			job->cursor = s->rules.max;
			return false;
		}
		job->done++;
	}
	job->cursor = slot;
	return slot < s->rules.fresh;
}

void rules_destroy_all(struct server *s)
{
	struct rules_removal rm = {.n = 0};

	for (uint32_t slot = 0; slot < s->rules.fresh; slot++)
		if (rule_slot_used(&s->rules.slots[slot]))
			removal_add(s, &rm, slot);
	rules_removal_finish(s, &rm);
}
