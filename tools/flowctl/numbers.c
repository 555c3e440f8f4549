/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * testpmd's rule numbers to handles. A number names whichever rule of its
 * port holds it now; the rule directory says which, but only by a walk of
 * every rule (about 100 ms at 138,000 rules). A script that destroys by
 * number ("destroy 0 rule 5", line after line) paid that walk on each line.
 *
 * The index is one walk's answers, (port, number) -> handle in a hash table,
 * kept up to date with the rules flowctl creates. It is a hint, never the
 * truth: an answer is used only while the directory still gives that handle
 * the same port and number (mpf_flow_get(), no walk); otherwise, or for a
 * number the index does not hold, one walk builds it again, and that walk
 * decides. Other clients' creates and destroys therefore cost a walk, never
 * a wrong rule.
 */
#include <errno.h>
#include <stdlib.h>

#include "tools/flowctl/flowctl.h"

struct slot {
	uint64_t key;	 /* port << 32 | number */
	uint64_t handle; /* 0: empty (no rule has handle 0) */
};

struct flowctl_numbers {
	struct slot *slots;
	size_t mask;	/* slots - 1, a power of two less one */
	unsigned shift; /* 64 - log2(slots) */
	size_t used;
	unsigned walks;
};

static uint64_t key_of(uint16_t port, uint32_t number)
{
	return (uint64_t)port << 32 | number;
}

static struct slot *slot_of(const struct flowctl_numbers *n, uint64_t key)
{
	/* Fibonacci hashing: the product's top bits spread dense numbers. */
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> n->shift);

	while (n->slots[i].handle != 0 && n->slots[i].key != key)
		i = (i + 1) & n->mask;
	return &n->slots[i];
}

/* Room for one more at a load of at most 3/4. 0 or -ENOMEM. */
static int grow(struct flowctl_numbers *n)
{
	struct flowctl_numbers bigger;

	if ((n->used + 1) * 4 <= (n->mask + 1) * 3)
		return 0;
	bigger.mask = n->mask ? n->mask * 2 + 1 : 1023;
	bigger.shift = n->mask ? n->shift - 1 : 64 - 10;
	bigger.used = n->used;
	bigger.slots = calloc(bigger.mask + 1, sizeof(*bigger.slots));
	if (bigger.slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; n->slots && i <= n->mask; i++)
		if (n->slots[i].handle != 0)
			*slot_of(&bigger, n->slots[i].key) = n->slots[i];
	free(n->slots);
	*n = bigger;
	return 0;
}

static int put(struct flowctl_numbers *n, uint16_t port, uint32_t number, uint64_t handle)
{
	uint64_t key = key_of(port, number);
	struct slot *s;
	int err = grow(n);

	if (err)
		return err;
	s = slot_of(n, key);
	n->used += s->handle == 0;
	*s = (struct slot){.key = key, .handle = handle};
	return 0;
}

/* One walk of the directory: every live rule's number. */
static int build(struct flowctl_numbers *n, struct mpf_client *c)
{
	struct mpf_flow_info info;
	uint32_t cursor = 0;
	int got, err = 0;

	for (size_t i = 0; n->slots && i <= n->mask; i++)
		n->slots[i].handle = 0;
	n->used = 0;
	while (!err && (got = mpf_flow_next(c, &cursor, &info)) == 1)
		err = put(n, info.port, info.number, info.handle);
	return err ? err : got;
}

/* One walk of the directory, for one number: no index. */
static int find(struct mpf_client *c, uint16_t port, uint32_t number, uint64_t *handle)
{
	struct mpf_flow_info info;
	uint32_t cursor = 0;
	int got;

	while ((got = mpf_flow_next(c, &cursor, &info)) == 1)
		if (info.port == port && info.number == number) {
			*handle = info.handle;
			return 0;
		}
	return got ? got : -ENOENT;
}

/* The index's answer, if the directory still agrees with it. */
static bool known(const struct flowctl_numbers *n, struct mpf_client *c, uint16_t port,
		  uint32_t number, uint64_t *handle)
{
	const struct slot *s;
	struct mpf_flow_info info;

	if (n->slots == NULL)
		return false;
	s = slot_of(n, key_of(port, number));
	if (s->handle == 0 || mpf_flow_get(c, s->handle, &info) != 0 || info.port != port ||
	    info.number != number)
		return false;
	*handle = s->handle;
	return true;
}

int flowctl_number_handle(struct flowctl *f, struct mpf_client *c, uint16_t port, uint32_t number,
			  uint64_t *handle)
{
	int err;

	if (f->numbers == NULL && (f->numbers = calloc(1, sizeof(*f->numbers))) == NULL)
		return -ENOMEM;
	if (known(f->numbers, c, port, number, handle))
		return 0;
	/* A lone command's number takes one walk and no memory; the second
	 * walk of a flowctl builds the index (16 bytes a slot, at most 3/4
	 * full: 21 MB at a million rules). */
	if (f->numbers->walks++ == 0)
		return find(c, port, number, handle);
	err = build(f->numbers, c);
	if (err)
		return err;
	return known(f->numbers, c, port, number, handle) ? 0 : -ENOENT;
}

void flowctl_number_learn(struct flowctl *f, uint16_t port, uint32_t number, uint64_t handle)
{
	/* Not built yet: the walk that builds it will see the rule. A rule
	 * it cannot hold (out of memory) costs a walk when asked for. */
	if (f->numbers != NULL && f->numbers->slots != NULL)
		(void)put(f->numbers, port, number, handle);
}

void flowctl_numbers_free(struct flowctl *f)
{
	if (f->numbers != NULL)
		free(f->numbers->slots);
	free(f->numbers);
	f->numbers = NULL;
}
