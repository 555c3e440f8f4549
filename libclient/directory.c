/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rule directory, read from the region without a request: each entry
 * with its packed rule, unpacked into the request that made the rule and
 * decoded here (they are another process's bytes: checked like any
 * request), then printed with the rule model's printer; the owner's name
 * and pid from the owners table.
 */
#include <errno.h>
#include <stddef.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libclient/client.h"
#include "shm/pack.h"
#include "shm/rule/rule.h"

/* A packed rule (whole chunks of the heap), its request and their decoding:
 * too big for a library's stack. */
#define PACKED_BYTES_MAX                                                                           \
	((PACK_MAX + REGION_CHUNK_BYTES - 1) / REGION_CHUNK_BYTES * REGION_CHUNK_BYTES)
struct directory_scratch {
	uint8_t packed[PACKED_BYTES_MAX];
	alignas(8) uint8_t bytes[WIRE_MSG_MAX];
	struct wire_request request;
	struct rule_shape shape;
};

/* The rule's testpmd text into info->text, cut with "..." (and said) when
 * it does not fit; a request that does not decode is shown as such. */
static void print_rule(struct directory_scratch *w, uint32_t length, struct mpf_flow_info *info)
{
	struct mpf_flow_error error = {0};
	const struct wire_rule *rule = &w->request.rule;
	int unpacked = rule_unpack(w->packed, length, w->bytes, sizeof(w->bytes), NULL);
	size_t n;

	if (unpacked < 0) {
		snprintf(info->text, sizeof(info->text), "(unreadable: %s)",
			 unpacked == -EMSGSIZE ? "a rule longer than a request"
					       : "not a packed rule");
		return;
	}
	/* Decoded and validated as any request is: the printer may rely on
	 * a valid rule, and these bytes are another process's. */
	if (wire_decode_private(w->bytes, (size_t)unpacked, &w->request, &error) != 0 ||
	    w->request.header.op != WIRE_OP_CREATE ||
	    rule_validate(&rule->attr, rule->items, rule->actions, &w->shape, &error) != 0) {
		snprintf(info->text, sizeof(info->text), "(unreadable: %s)",
			 error.message[0] ? error.message : "not a create request");
		return;
	}
	n = rule_print(info->text, sizeof(info->text), &rule->attr, rule->items, rule->actions);
	if (n >= sizeof(info->text)) {
		memcpy(info->text + sizeof(info->text) - 4, "...", 4);
		info->flags |= MPF_FLOW_INFO_TEXT_TRUNCATED;
	}
}

/* The directory entry of `slot` into `info`, its text printed when `w` is
 * given (else left empty): 0, or -ENOENT while the slot is free or
 * changing. */
static int directory_read(const struct region_view *view, uint32_t slot, struct mpf_flow_info *info,
			  struct directory_scratch *w)
{
	struct region_entry_copy copy;
	const struct region_entry *e = &copy.entry;
	struct region_count count = {0};
	uint32_t generation;

	if (region_entry_read(view, slot, &copy, w ? w->packed : NULL, w ? sizeof(w->packed) : 0) !=
	    0)
		return -ENOENT;
	generation = copy.generation;
	/* Everything but the text, which is printed or left empty: a scan of
	 * millions of rules does not clear 432 bytes for each. */
	memset(info, 0, offsetof(struct mpf_flow_info, text));
	info->text[0] = '\0';
	info->handle = (uint64_t)generation << 32 | slot;
	info->number = e->number;
	info->port = e->port;
	info->group = e->group;
	info->priority = e->priority;
	info->created_ns = copy.created_ns;
	info->flags = (e->flags & REGION_ENTRY_INGRESS ? MPF_FLOW_INFO_INGRESS : 0) |
		      (e->flags & REGION_ENTRY_EGRESS ? MPF_FLOW_INFO_EGRESS : 0) |
		      (e->flags & REGION_ENTRY_PERSISTENT ? MPF_FLOW_INFO_PERSISTENT : 0) |
		      (e->flags & REGION_ENTRY_UNRESTORED ? MPF_FLOW_INFO_UNRESTORED : 0);
	/* A client that left has no name or pid any more; its rules are
	 * going. */
	if (e->owner_id)
		region_owner_name(view, e->owner_index, e->owner_id, info->owner_name,
				  &info->owner_pid);
	if (w)
		print_rule(w, e->rule_length, info);
	if (region_counter_read_shared(&view->counters[slot], &view->shares, slot, generation,
				       &count) == 0) {
		info->flags |= MPF_FLOW_INFO_COUNTED;
		info->hits = count.hits;
		info->bytes = count.bytes;
		info->last_hit_ns = count.last_hit_ns;
	}
	return 0;
}

#define SCAN_AHEAD 16

int client_directory_next(const struct region_view *view, uint32_t *cursor, uint32_t limit,
			  struct mpf_flow_info *info, bool text)
{
	struct directory_scratch *w = text ? malloc(sizeof(*w)) : NULL;
	uint32_t end = shm_load_relaxed32(&view->header->slots_end);
	int found = 0;

	if (text && w == NULL)
		return -ENOMEM;
	/* Slots past the end never held a rule: their pages are not read. */
	if (end > view->max_rules)
		end = view->max_rules;
	if (end > limit)
		end = limit;
	for (; *cursor < end; (*cursor)++) {
		/* A scan streams both arrays: each slot's lines asked for a
		 * few slots ahead, so that the misses overlap. */
		if (*cursor + SCAN_AHEAD < end) {
			__builtin_prefetch(&view->counters[*cursor + SCAN_AHEAD]);
			__builtin_prefetch(&view->entries[*cursor + SCAN_AHEAD]);
		}
		if (directory_read(view, *cursor, info, w) == 0) {
			(*cursor)++;
			found = 1;
			break;
		}
	}
	free(w);
	return found;
}

int client_directory_get(const struct region_view *view, uint64_t handle,
			 struct mpf_flow_info *info)
{
	uint32_t slot = (uint32_t)handle;
	struct directory_scratch *w;
	int err = -ENOENT;

	if (slot >= view->max_rules)
		return -ENOENT;
	w = malloc(sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	if (directory_read(view, slot, info, w) == 0 && info->handle == handle)
		err = 0;
	free(w);
	return err;
}
