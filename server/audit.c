/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The consistency audit (WIRE_OP_AUDIT, `flowctl audit`): every invariant
 * that ties the rule table, the clients' rule lists, the free slots, the
 * journal's copies and the shared region together, checked from scratch.
 * The chaos tests run it after killing and stopping clients at random: an
 * orphan, a leak or a stale region slot is named here, not guessed at.
 *
 * Read-only, O(rules + clients); the primary is single-threaded, so the
 * picture is consistent while it runs.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#define BAD(...) flow_error_set(error, EUCLEAN, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1, __VA_ARGS__)

/* The client owning a rule, found through the slot's owner index. */
static const struct client *owner_of(const struct server *s, const struct rule_slot *r)
{
	const struct client *c;

	if (r->owner_index >= s->config.max_clients)
		return NULL;
	c = &s->clients[r->owner_index];
	return c->active && c->session == r->owner ? c : NULL;
}

static int audit_slots(const struct server *s, uint8_t *listed, struct mpf_flow_error *error)
{
	const struct rule_table *t = &s->rules;
	uint32_t used = 0, persistent = 0, unrestored = 0;
	alignas(8) static uint8_t request[WIRE_MSG_MAX]; /* the loop's: one thread */

	/* Slots from t->fresh on were never used: nothing to check there. */
	for (uint32_t slot = 0; slot < t->fresh; slot++) {
		const struct rule_slot *r = &t->slots[slot];
		const struct region_entry *e = &s->entries[slot];
		uint32_t gen = shm_load_acquire32(&s->counters[slot].generation);
		uint32_t counting = shm_load_acquire32(&s->counters[slot].flags);
		uint32_t chunk;

		if (r->state == RULE_FREE || r->state == RULE_RETIRED) {
			if (gen)
				return BAD(
					"slot %u is free but the region still shows a rule there",
					slot);
			continue;
		}
		/* The entry names the packed rule the primary keeps (its own
		 * stores: plain reads), and it unpacks. */
		memcpy(&chunk, e->rule, sizeof(chunk));
		if (e->rule_length != r->packed_length ||
		    (!region_rule_inline(r->packed_length) && chunk != r->packed_chunk))
			return BAD("slot %u's entry names a packed rule of %u bytes (chunk %u), "
				   "the rule keeps %u (chunk %u)",
				   slot, e->rule_length, chunk, r->packed_length, r->packed_chunk);
		if (r->packed_length && rules_request(s, slot, request) == 0)
			return BAD("slot %u's packed rule does not unpack", slot);
		used++;
		if (r->state == RULE_UNRESTORED) {
			if (r->owner != 0 || r->packed_length == 0 || r->backend || counting ||
			    gen != r->generation || !(e->flags & REGION_ENTRY_UNRESTORED))
				return BAD("unrestored rule in slot %u: owner %u, journal copy %s, "
					   "counter flags 0x%x, generation %u, entry flags 0x%x",
					   slot, r->owner, r->packed_length ? "kept" : "missing",
					   counting, gen, e->flags);
			unrestored++;
			persistent++;
			continue;
		}
		if (r->dying && r->owner != 0)
			return BAD("client rule in slot %u waits for the journal", slot);
		if (gen != r->generation)
			return BAD("rule 0x%llx: the region's slot has generation %u",
				   (unsigned long long)((uint64_t)r->generation << 32 | slot), gen);
		if (r->owner == 0) {
			persistent++;
			if (s->journal.fd >= 0 && r->packed_length == 0)
				return BAD("persistent rule in slot %u has no journal record",
					   slot);
		} else if (owner_of(s, r) == NULL) {
			return BAD("rule in slot %u belongs to session %u, which is gone (an "
				   "orphan)",
				   slot, r->owner);
		} else if (!listed[slot]) {
			return BAD("rule in slot %u is not on its owner's list", slot);
		}
	}
	if (used != t->used || used + rules_free(t) + t->retired != t->max)
		return BAD(
			"%u rules in use, the table counts %u, with %u free and %u retired of %u",
			used, t->used, rules_free(t), t->retired, t->max);
	if (unrestored + journal_orphans_live(&s->journal) != s->unrestored_rules ||
	    shm_load_relaxed32(&s->region->unrestored) != s->unrestored_rules)
		return BAD("%u rules not restored (%u in slots, %u beyond them), the primary "
			   "counts %u, the region %u",
			   unrestored + journal_orphans_live(&s->journal), unrestored,
			   journal_orphans_live(&s->journal), s->unrestored_rules,
			   shm_load_relaxed32(&s->region->unrestored));
	if (persistent != s->persistent_rules)
		return BAD("%u persistent rules, the primary counts %u", persistent,
			   s->persistent_rules);
	if (shm_load_relaxed32(&s->region->rules) != used)
		return BAD("the region says %u rules, there are %u",
			   shm_load_relaxed32(&s->region->rules), used);
	return 0;
}

/* The rules `m`'s count of mask tables holds. */
static uint32_t masked_rules(const struct rule_maker *m)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < m->n_masks; i++)
		n += m->masks[i].rules;
	return n;
}

/* Each user's persistent rules (rule_table.makers), in slots and beyond
 * them, the rule heap they take, its rules on the device's slow path and
 * in its mask tables: counted right, each by its maker. */
static int audit_makers(const struct server *s, struct mpf_flow_error *error)
{
	const struct rule_table *t = &s->rules;
	struct rule_maker *seen = calloc(t->n_makers, sizeof(*seen));
	int err = 0;

	if (seen == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no memory for the audit");
	for (uint32_t slot = 0; slot < t->fresh && !err; slot++) {
		const struct rule_slot *r = &t->slots[slot];

		if (!rule_slot_used(r))
			continue;
		if (r->owner != 0) { /* a session's: its user's quotas */
			uint32_t maker = r->owner_index < s->config.max_clients
						 ? s->clients[r->owner_index].maker
						 : t->n_makers;

			if (maker >= t->n_makers)
				continue; /* the owners' audit says what is wrong */
			seen[maker].slow_rules += r->slow;
			seen[maker].n_masks += r->masked; /* here: its rules in a table */
			if (maker && r->packed_length && !region_rule_inline(r->packed_length))
				seen[maker].user_heap_chunks +=
					region_rule_chunks(r->packed_length);
			continue;
		}
		if (r->maker >= t->n_makers) {
			err = BAD("persistent rule in slot %u names maker %u of %u", slot, r->maker,
				  t->n_makers);
			break;
		}
		seen[r->maker].rules++;
		seen[r->maker].slow_rules += r->slow;
		seen[r->maker].n_masks += r->masked;
		if (r->maker && r->packed_length && !region_rule_inline(r->packed_length)) {
			seen[r->maker].heap_chunks += region_rule_chunks(r->packed_length);
			seen[r->maker].user_heap_chunks += region_rule_chunks(r->packed_length);
		}
	}
	for (unsigned i = 0; i < s->journal.n_orphans && !err; i++) {
		if (s->journal.orphans[i].gone)
			continue;
		if (s->journal.orphans[i].maker >= t->n_makers)
			err = BAD("a rule kept beyond the table names maker %u of %u",
				  s->journal.orphans[i].maker, t->n_makers);
		else
			seen[s->journal.orphans[i].maker].rules++;
	}
	for (uint32_t i = 0; i < t->n_makers && !err; i++)
		if (seen[i].rules != t->makers[i].rules ||
		    seen[i].heap_chunks != t->makers[i].heap_chunks)
			err = BAD("uid %u holds %u persistent rules in %llu heap chunks, its count "
				  "says %u in %llu",
				  (unsigned)t->makers[i].uid, seen[i].rules,
				  (unsigned long long)seen[i].heap_chunks, t->makers[i].rules,
				  (unsigned long long)t->makers[i].heap_chunks);
		else if (seen[i].user_heap_chunks != t->makers[i].user_heap_chunks)
			err = BAD("uid %u's rules take %llu heap chunks, its count says %llu",
				  (unsigned)t->makers[i].uid,
				  (unsigned long long)seen[i].user_heap_chunks,
				  (unsigned long long)t->makers[i].user_heap_chunks);
		else if (seen[i].n_masks != masked_rules(&t->makers[i]))
			err = BAD("uid %u has %u rules in the device's mask tables, its count says "
				  "%u",
				  (unsigned)t->makers[i].uid, seen[i].n_masks,
				  masked_rules(&t->makers[i]));
		else if (seen[i].slow_rules != t->makers[i].slow_rules)
			err = BAD("uid %u holds %u rules on the device's slow path, its count says "
				  "%u",
				  (unsigned)t->makers[i].uid, seen[i].slow_rules,
				  t->makers[i].slow_rules);
	free(seen);
	return err;
}

/* Each client's list: its own live rules, each once, counted right. */
static int audit_clients(const struct server *s, uint8_t *listed, struct mpf_flow_error *error)
{
	uint32_t active = 0;

	for (uint32_t i = 0; i < s->config.max_clients; i++) {
		const struct client *c = &s->clients[i];
		uint32_t n = 0;

		if (!c->active)
			continue;
		active++;
		for (uint32_t at = c->first_rule; at; at = s->rules.slots[at - 1].next) {
			if (at - 1 >= s->rules.fresh || s->rules.slots[at - 1].state != RULE_LIVE ||
			    s->rules.slots[at - 1].owner != c->session || listed[at - 1])
				return BAD("client %u's rule list is broken at slot %u", c->session,
					   at - 1);
			listed[at - 1] = 1; /* also stops a cycle */
			n++;
		}
		if (n != c->rules)
			return BAD("client %u has %u rules listed, counts %u", c->session, n,
				   c->rules);
	}
	if (active != s->client_count || shm_load_relaxed32(&s->region->clients) != active)
		return BAD("%u clients active, the primary counts %u, the region %u", active,
			   s->client_count, shm_load_relaxed32(&s->region->clients));
	return 0;
}

/* The free slots (stack and quarantine) hold each free slot once and no used one. */
static int audit_free_queue(const struct server *s, uint8_t *seen, struct mpf_flow_error *error)
{
	const struct rule_table *t = &s->rules;

	for (uint32_t i = 0; i < rules_free(t); i++) {
		uint32_t slot = rules_free_at(t, i);

		if (i >= t->free_count + t->quarantine_count)
			break; /* the rest are the fresh slots, free by construction */
		if (slot >= t->fresh || t->slots[slot].state != RULE_FREE || seen[slot])
			return BAD("free queue entry %u (slot %u) is in use, repeated or out of "
				   "range",
				   i, slot);
		seen[slot] = 1;
	}
	return 0;
}

/* Each port's list holds its rules, each once, in increasing numbers. */
static int audit_ports(const struct server *s, struct mpf_flow_error *error)
{
	const struct rule_table *t = &s->rules;
	uint32_t listed = 0;

	for (unsigned port = 0; port < HWDRV_PORTS_MAX; port++) {
		uint32_t prev = 0;

		for (uint32_t at = t->ports[port].first; at; at = t->slots[at - 1].port_next) {
			const struct rule_slot *r = &t->slots[at - 1];

			if (at - 1 >= t->max || r->state == RULE_FREE || r->port != port ||
			    r->port_prev != prev ||
			    (prev && t->slots[prev - 1].number >= r->number) || ++listed > t->used)
				return BAD("port %u's rule list is broken at slot %u", port,
					   at - 1);
			prev = at;
		}
		if (t->ports[port].last != prev)
			return BAD("port %u's rule list does not end where it says", port);
	}
	if (listed != t->used)
		return BAD("%u rules on the ports' lists, %u in use", listed, t->used);
	return 0;
}

/* The rules kept without a slot lie in place order (port, then number),
 * their keys sorted by handle each name its own, and each port's next
 * number passes its highest kept one (journal.c). */
static int audit_orphans(const struct server *s, struct mpf_flow_error *error)
{
	const struct journal *j = &s->journal;
	uint32_t reserved[HWDRV_PORTS_MAX] = {0};
	unsigned gone = 0;

	for (unsigned i = 0; i < j->n_orphans; i++) {
		const struct journal_orphan *o = &j->orphans[i], *before = i ? o - 1 : NULL;
		const struct journal_orphan_key *k = &j->orphan_keys[i];

		if (before && (before->port > o->port ||
			       (before->port == o->port && before->number >= o->number)))
			return BAD("the rules kept without a slot are out of order at %u", i);
		if (k->at >= j->n_orphans || j->orphans[k->at].handle != k->handle ||
		    (i && k[-1].handle >= k->handle))
			return BAD("the key of kept rule 0x%llx is wrong",
				   (unsigned long long)k->handle);
		gone += o->gone;
		if (!o->gone && o->port < HWDRV_PORTS_MAX)
			reserved[o->port] = o->number + 1;
	}
	if (gone != j->orphans_gone)
		return BAD("%u kept rules gone, the journal counts %u", gone, j->orphans_gone);
	for (unsigned port = 0; port < HWDRV_PORTS_MAX; port++)
		if (s->rules.ports[port].reserved != reserved[port])
			return BAD("port %u's kept rules reserve numbers below %u, the table says "
				   "%u",
				   port, reserved[port], s->rules.ports[port].reserved);
	return 0;
}

int audit_run(const struct server *s, uint64_t *checked, struct mpf_flow_error *error)
{
	uint8_t *marks = calloc(s->rules.fresh + 1, 1);
	int err;

	if (marks == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no memory for the audit");
	err = audit_clients(s, marks, error);
	if (!err)
		err = audit_slots(s, marks, error);
	if (!err)
		err = audit_makers(s, error);
	if (!err)
		err = audit_ports(s, error);
	if (!err)
		err = audit_orphans(s, error);
	if (!err) {
		memset(marks, 0, s->rules.fresh);
		err = audit_free_queue(s, marks, error);
	}
	free(marks);
	if (err)
		log_warnx("audit: %s", error->message);
	else
		*checked = s->rules.used;
	return err;
}
