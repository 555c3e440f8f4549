/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rule table: slot + generation handles, owners, quotas, and the
 * publication of each rule's directory entry and counter in the region.
 *
 * Order of a create: slot taken, counter opened (so a datapath can count the
 * first packet), backend create, directory entry published, owner linked.
 * A destroy runs it backwards, so a reader never sees an entry whose device
 * rule is gone, and a slot is never reused while the device still has it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/server.h"

#define HANDLE(gen, slot) ((uint64_t)(gen) << 32 | (slot))

int rules_init(struct rule_table *t, uint32_t max)
{
	t->slots = calloc(max, sizeof(*t->slots));
	t->free = calloc(max, sizeof(*t->free));
	if (t->slots == NULL || t->free == NULL) {
		rules_fini(t);
		return -ENOMEM;
	}
	t->max = max;
	/* Low slots first, so a small table stays in few cache lines. */
	for (uint32_t i = 0; i < max; i++)
		t->free[i] = max - 1 - i;
	t->free_count = max;
	t->used = 0;
	return 0;
}

void rules_fini(struct rule_table *t)
{
	free(t->slots);
	free(t->free);
	t->slots = NULL;
	t->free = NULL;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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

static void publish_entry(struct server *s, struct client *c, uint32_t slot,
			  const struct wire_rule *rule, bool counted)
{
	struct region_entry e;
	size_t n;

	memset(&e, 0, offsetof(struct region_entry, text));
	if (!rule->persistent) {
		e.owner_pid = (uint32_t)c->pid;
		e.owner_id = c->session;
		memcpy(e.owner_name, c->name, sizeof(e.owner_name));
	}
	e.created_ns = realtime_ns();
	e.group = rule->attr.group;
	e.priority = rule->attr.priority;
	e.port = rule->port;
	e.flags = (uint16_t)((rule->attr.ingress ? REGION_ENTRY_INGRESS : 0) |
			     (rule->attr.egress ? REGION_ENTRY_EGRESS : 0) |
			     (rule->persistent ? REGION_ENTRY_PERSISTENT : 0) |
			     (counted ? REGION_ENTRY_COUNT : 0));
	n = rule_print(e.text, sizeof(e.text), &rule->attr, rule->items, rule->actions);
	if (n >= sizeof(e.text)) {
		/* Said, not silent: the flag and a visible ellipsis. */
		memcpy(e.text + sizeof(e.text) - 4, "...", 4);
		e.flags |= REGION_ENTRY_TEXT_TRUNCATED;
		n = sizeof(e.text) - 1;
	}
	e.text_length = (uint16_t)n;
	/* The NUL and the padding to the last word: no stale bytes published. */
	memset(e.text + n, 0, 8 - (n % 8) < sizeof(e.text) - n ? 8 - (n % 8) : sizeof(e.text) - n);
	region_entry_publish(&s->entries[slot], &e, s->rules.slots[slot].generation);
}

/* The next generation of a slot: this run's epoch in the top 8 bits, so
 * that no handle of an earlier run names a rule of this one; never 0. */
static uint32_t next_generation(const struct server *s, uint32_t generation)
{
	uint32_t count = (generation + 1) & 0xffffffu;

	return s->journal.epoch << 24 | (count ? count : 1);
}

/* Make `rule` in `slot` as `generation`: the device's rule, its counter,
 * its journal record (persistent rules, `journal` NULL: encode it), its
 * directory entry, its owner. The slot is free; the caller takes it off
 * the free stack. */
static int install(struct server *s, struct client *c, uint32_t slot, uint32_t generation,
		   const struct wire_rule *rule, struct hwdrv_rule *hw, const void *journal,
		   uint32_t journal_length, struct mpf_flow_error *error)
{
	static uint8_t encoded[WIRE_MSG_MAX];
	struct rule_table *t = &s->rules;
	struct rule_slot *r = &t->slots[slot];
	bool counted = hw->resolved->last[MPF_FLOW_ACTION_TYPE_COUNT] >= 0;
	int err;

	r->generation = generation;
	region_counter_open(&s->counters[slot], r->generation, counted);
	hw->counter = &s->counters[slot];
	err = s->device.ops.create(&s->device, hw, &r->backend, error);
	if (err) {
		region_counter_close(&s->counters[slot]);
		return err;
	}
	if (rule->persistent) {
		/* On disk before it is acknowledged (journal.c). */
		int length = journal ? (int)journal_length
				     : wire_encode_rule(encoded, sizeof(encoded), WIRE_OP_CREATE, 0,
							rule->port, true, &rule->attr, rule->items,
							rule->actions, error);

		r->journal = length > 0 ? malloc((size_t)length) : NULL;
		if (r->journal) {
			memcpy(r->journal, journal ? journal : encoded, (size_t)length);
			r->journal_length = (uint32_t)length;
		}
		err = r->journal == NULL ? -ENOMEM
		      : journal	       ? 0
				       : journal_rule(s, HANDLE(generation, slot), r->journal,
						      r->journal_length);
		if (err) {
			s->device.ops.destroy(&s->device, r->backend, NULL);
			region_counter_close(&s->counters[slot]);
			free(r->journal);
			r->journal = NULL;
			return flow_error_set(error, -err, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
					      "the journal cannot record the rule: %s",
					      strerror(-err));
		}
		s->persistent_rules++;
	}
	t->used++;
	r->in_use = true;
	r->port = rule->port;
	r->owner = rule->persistent ? 0 : c->session;
	r->owner_index = c ? c->index : 0;
	publish_entry(s, c, slot, rule, counted);
	if (!rule->persistent) {
		link_owner(s, c, slot);
		c->rules++;
	}
	shm_store_relaxed32(&s->region->rules, t->used);
	return 0;
}

int rules_create(struct server *s, struct client *c, const struct wire_rule *rule,
		 struct hwdrv_rule *hw, uint64_t *handle, struct mpf_flow_error *error)
{
	struct rule_table *t = &s->rules;
	uint32_t slot;
	int err;

	if (t->free_count == 0)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "the rule table is full (%u rules, --max-rules)", t->max);
	if (!rule->persistent && c->rules >= s->config.client_max_rules)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "client quota of %u rules reached (--client-max-rules)",
				      s->config.client_max_rules);
	slot = t->free[t->free_count - 1];
	err = install(s, c, slot, next_generation(s, t->slots[slot].generation), rule, hw, NULL,
		      0, error);
	if (err)
		return err;
	t->free_count--;
	*handle = HANDLE(t->slots[slot].generation, slot);
	return 0;
}

int rules_restore(struct server *s, uint64_t handle, const struct wire_request *request,
		  const void *bytes, uint32_t length, struct mpf_flow_error *error)
{
	const struct wire_rule *rule = &request->rule;
	uint32_t slot = (uint32_t)handle, generation = (uint32_t)(handle >> 32);
	struct rule_shape shape;
	struct hwdrv_rule hw;
	int err;

	if (slot >= s->rules.max || generation == 0 || s->rules.slots[slot].in_use)
		return flow_error_set(error, EEXIST, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "slot %u is not free", slot);
	err = rule_validate(&rule->attr, rule->items, rule->actions, &shape, error);
	if (err)
		return err;
	hw = (struct hwdrv_rule){.port = rule->port,
				 .attr = &rule->attr,
				 .pattern = rule->items,
				 .actions = rule->actions,
				 .resolved = &shape.actions,
				 .wire = bytes,
				 .wire_length = length};
	return install(s, NULL, slot, generation, rule, &hw, bytes, length, error);
}

void rules_restored(struct server *s)
{
	struct rule_table *t = &s->rules;

	/* Low slots on top, as rules_init() stacks them. */
	t->free_count = 0;
	for (uint32_t i = t->max; i-- > 0;)
		if (!t->slots[i].in_use)
			t->free[t->free_count++] = i;
}

int rules_lookup(struct server *s, const struct client *c, uint64_t handle,
		 struct mpf_flow_error *error)
{
	uint32_t slot = (uint32_t)handle, generation = (uint32_t)(handle >> 32);
	const struct rule_slot *r;

	if (slot >= s->rules.max || generation == 0 || !s->rules.slots[slot].in_use ||
	    s->rules.slots[slot].generation != generation)
		return flow_error_set(error, ENOENT, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "no rule 0x%llx", (unsigned long long)handle);
	r = &s->rules.slots[slot];
	if (r->owner != 0 && r->owner != c->session)
		return flow_error_set(error, EPERM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "rule 0x%llx belongs to another client",
				      (unsigned long long)handle);
	return (int)slot;
}

int rules_destroy(struct server *s, uint32_t slot, struct mpf_flow_error *error)
{
	struct rule_table *t = &s->rules;
	struct rule_slot *r = &t->slots[slot];
	int err;

	region_entry_retire(&s->entries[slot]);
	if (r->journal) {
		/* A failed append is logged; the rule goes either way, and the
		 * next start would only bring it back. */
		journal_rule_gone(s, HANDLE(r->generation, slot));
		free(r->journal);
		r->journal = NULL;
		s->persistent_rules--;
	}
	err = s->device.ops.destroy(&s->device, r->backend, error);
	if (err) {
		/* rte_flow: the handle is gone either way; the device may be
		 * inconsistent, and the log says so. */
		log_warnx("rule 0x%llx: backend destroy failed: %s",
			  (unsigned long long)HANDLE(r->generation, slot),
			  error ? error->message : "");
	}
	region_counter_close(&s->counters[slot]);
	if (r->owner) {
		struct client *c = &s->clients[r->owner_index];

		if (c->active && c->session == r->owner) {
			unlink_owner(s, c, slot);
			c->rules--;
		}
	}
	r->in_use = false;
	r->owner = 0;
	r->backend = NULL;
	t->free[t->free_count++] = slot;
	t->used--;
	shm_store_relaxed32(&s->region->rules, t->used);
	return err;
}

uint32_t rules_destroy_owned(struct server *s, struct client *c, int port)
{
	uint32_t destroyed = 0, next;

	for (uint32_t at = c->first_rule; at; at = next) {
		struct rule_slot *r = &s->rules.slots[at - 1];

		next = r->next;
		if (port >= 0 && r->port != (uint16_t)port)
			continue;
		rules_destroy(s, at - 1, NULL);
		destroyed++;
	}
	return destroyed;
}

uint32_t rules_destroy_persistent(struct server *s, uint16_t port)
{
	uint32_t destroyed = 0;

	for (uint32_t slot = 0; slot < s->rules.max; slot++) {
		const struct rule_slot *r = &s->rules.slots[slot];

		if (r->in_use && r->owner == 0 && r->port == port) {
			rules_destroy(s, slot, NULL);
			destroyed++;
		}
	}
	return destroyed;
}

void rules_destroy_all(struct server *s)
{
	for (uint32_t slot = 0; slot < s->rules.max; slot++)
		if (s->rules.slots[slot].in_use)
			rules_destroy(s, slot, NULL);
}
