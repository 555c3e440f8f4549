/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The counters + rule directory region; see region.h. Seqlock pairs:
 *
 *   W1 writer: sequence odd (relaxed), then each field with a release store
 *      (a release orders the odd sequence before the field), then
 *   W2 sequence even (release: the fields before it).
 *   R1 reader: sequence (acquire) -> fields (acquire each, so the re-check
 *      below stays after them) -> R2 sequence again; equal and even: the
 *      copy is one writer's whole state. A reader that saw any field of a
 *      write in progress synchronises with its release store, so it then
 *      sees that write's odd sequence (or later) and retries.
 */
#include <errno.h>
#include <string.h>

#include "shm/region.h"
#include "shm/rxq.h"

#define READ_RETRIES 64

static unsigned workers_of(const struct region_layout *l)
{
	return l->workers ? l->workers : 1;
}

static uint64_t ports_bytes(const struct region_layout *l)
{
	return (uint64_t)workers_of(l) * l->ports *
	       (sizeof(struct region_port) +
		((uint64_t)l->pf_queues + l->vfs) * sizeof(struct region_queue));
}

static uint64_t shares_offset(const struct region_layout *l)
{
	return sizeof(struct region_header) + ports_bytes(l) +
	       (uint64_t)l->max_rules *
		       (sizeof(struct region_counter) + sizeof(struct region_entry));
}

static uint64_t owners_offset(const struct region_layout *l)
{
	return shares_offset(l) +
	       (uint64_t)(workers_of(l) - 1) * l->max_rules * sizeof(struct region_share);
}

/* Stamps per writer's row: whole cache lines, so that no two writers'
 * stamps share one. */
static uint32_t activity_blocks(const struct region_layout *l)
{
	uint64_t blocks = ((uint64_t)l->max_rules + REGION_BLOCK_SLOTS - 1) / REGION_BLOCK_SLOTS;

	return (uint32_t)((blocks + 7) & ~7ull);
}

/* On a cache line of its own (the shares before may end half-way). */
static uint64_t activity_offset(const struct region_layout *l)
{
	uint64_t end = owners_offset(l) + (uint64_t)l->max_owners * sizeof(struct region_owner);

	return (end + SHM_CACHE_LINE - 1) & ~(uint64_t)(SHM_CACHE_LINE - 1);
}

static uint64_t heap_offset(const struct region_layout *l)
{
	return activity_offset(l) +
	       ((uint64_t)workers_of(l) + 1) * activity_blocks(l) * sizeof(shm_u64);
}

static uint64_t heap_size(const struct region_layout *l)
{
	return (uint64_t)l->max_rules * REGION_HEAP_PER_RULE;
}
_Static_assert(REGION_HEAP_PER_RULE % sizeof(struct region_chunk) == 0, "whole chunks");

uint64_t region_prefix(const struct region_layout *l)
{
	return sizeof(struct region_header) + ports_bytes(l);
}

uint64_t region_memsize(const struct region_layout *l)
{
	return heap_offset(l) + heap_size(l);
}

void region_init(void *mem, const struct region_layout *l, const char *backend,
		 const char *instance, uint32_t pid)
{
	struct region_header *h = mem;

	memset(h, 0, sizeof(*h));
	h->magic = REGION_MAGIC;
	h->version = REGION_VERSION;
	h->max_rules = l->max_rules;
	h->header_size = sizeof(*h);
	h->size = region_memsize(l);
	h->ports_offset = sizeof(*h);
	h->ports = l->ports;
	h->pf_queues = l->pf_queues;
	h->vfs = l->vfs;
	h->port_size = sizeof(struct region_port);
	h->queue_size = sizeof(struct region_queue);
	h->counters_offset = sizeof(*h) + ports_bytes(l);
	h->directory_offset =
		h->counters_offset + (uint64_t)l->max_rules * sizeof(struct region_counter);
	h->counter_size = sizeof(struct region_counter);
	h->entry_size = sizeof(struct region_entry);
	h->workers = workers_of(l);
	h->share_size = sizeof(struct region_share);
	h->shares_offset = shares_offset(l);
	h->owners_offset = owners_offset(l);
	h->max_owners = l->max_owners;
	h->owner_size = sizeof(struct region_owner);
	h->activity_offset = activity_offset(l);
	h->activity_blocks = activity_blocks(l);
	h->heap_offset = heap_offset(l);
	h->heap_size = heap_size(l);
	h->primary_pid = pid;
	strncpy(h->backend, backend, sizeof(h->backend) - 1);
	strncpy(h->instance, instance, sizeof(h->instance) - 1);
	/* Relaxed: nobody maps the region before the memfd is passed. */
	shm_store_relaxed32(&h->state, REGION_STATE_RUNNING);
}

struct region_port *region_ports(void *mem)
{
	return (struct region_port *)((uint8_t *)mem + sizeof(struct region_header));
}

struct region_queue *region_queues(void *mem, const struct region_layout *l)
{
	return (struct region_queue *)(region_ports(mem) + (size_t)workers_of(l) * l->ports);
}

struct region_shares region_shares(void *mem, const struct region_layout *l)
{
	return (struct region_shares){
		.base = (struct region_share *)((uint8_t *)mem + shares_offset(l)),
		.max_rules = l->max_rules,
		.n = workers_of(l) - 1};
}

struct region_activity region_activity(void *mem, const struct region_layout *l)
{
	return (struct region_activity){
		.base = (shm_u64 *)(void *)((uint8_t *)mem + activity_offset(l)),
		.blocks = activity_blocks(l),
		.writers = workers_of(l) + 1u};
}

uint64_t region_activity_read(const struct region_view *view, uint32_t block)
{
	uint64_t sum = 0;

	for (unsigned w = 0; w <= view->workers; w++)
		sum += shm_load_acquire64(
			&view->activity[(size_t)w * view->activity_blocks + block]);
	return sum;
}

int region_queue_index(uint16_t pf_queues, uint16_t vfs, uint16_t queue)
{
	if (queue < pf_queues)
		return queue;
	if (queue >= RXQ_VF_BASE && queue - RXQ_VF_BASE < vfs)
		return pf_queues + (queue - RXQ_VF_BASE);
	return -1;
}

int region_attach(struct region_view *view, const void *mem, size_t length)
{
	struct region_header h;
	struct region_layout l;

	if (length < sizeof(h))
		return -EINVAL;
	/* One copy of the header's constant fields (the live ones between
	 * them are not needed); only the copy is checked and used. */
	memcpy(&h, mem, offsetof(struct region_header, state));
	memcpy(&h.ports_offset, (const uint8_t *)mem + offsetof(struct region_header, ports_offset),
	       sizeof(h) - offsetof(struct region_header, ports_offset));
	if (h.magic != REGION_MAGIC || h.version != REGION_VERSION || h.header_size != sizeof(h) ||
	    h.counter_size != sizeof(struct region_counter) ||
	    h.entry_size != sizeof(struct region_entry) ||
	    h.port_size != sizeof(struct region_port) ||
	    h.queue_size != sizeof(struct region_queue) ||
	    h.share_size != sizeof(struct region_share) ||
	    h.owner_size != sizeof(struct region_owner) || h.workers < 1 || h.workers > 64 ||
	    h.max_owners > UINT16_MAX + 1u)
		return -EPROTO;
	l = (struct region_layout){.max_rules = h.max_rules,
				   .ports = h.ports,
				   .pf_queues = h.pf_queues,
				   .vfs = h.vfs,
				   .workers = (uint16_t)h.workers,
				   .max_owners = h.max_owners};
	if (h.size != region_memsize(&l) || h.size > length || h.size > SIZE_MAX ||
	    h.pf_queues > RXQ_VF_BASE || h.ports_offset != sizeof(h) ||
	    h.counters_offset != sizeof(h) + ports_bytes(&l) ||
	    h.directory_offset !=
		    h.counters_offset + (uint64_t)h.max_rules * sizeof(struct region_counter) ||
	    h.shares_offset != shares_offset(&l) || h.owners_offset != owners_offset(&l) ||
	    h.activity_offset != activity_offset(&l) || h.activity_blocks != activity_blocks(&l) ||
	    h.heap_offset != heap_offset(&l) || h.heap_size != heap_size(&l))
		return -EPROTO;
	view->header = mem;
	view->ports = region_ports((void *)(uintptr_t)mem);
	view->queues = region_queues((void *)(uintptr_t)mem, &l);
	view->counters = (const struct region_counter *)((const uint8_t *)mem + h.counters_offset);
	view->entries = (const struct region_entry *)((const uint8_t *)mem + h.directory_offset);
	view->owners = (const struct region_owner *)((const uint8_t *)mem + h.owners_offset);
	view->heap = (const struct region_chunk *)((const uint8_t *)mem + h.heap_offset);
	view->heap_chunks = (uint32_t)(h.heap_size / sizeof(struct region_chunk));
	view->activity = (const shm_u64 *)(const void *)((const uint8_t *)mem + h.activity_offset);
	view->activity_blocks = h.activity_blocks;
	view->max_rules = h.max_rules;
	view->max_owners = h.max_owners;
	view->n_ports = h.ports;
	view->pf_queues = h.pf_queues;
	view->vfs = h.vfs;
	view->workers = (uint16_t)h.workers;
	view->ports_kept = (h.port_flags & REGION_PORTS_KEPT) != 0;
	view->shares = region_shares((void *)(uintptr_t)mem, &l);
	return 0;
}

static void write_begin(shm_u32 *sequence)
{
	/* W1: relaxed; the release stores that follow order it before them. */
	shm_store_relaxed32(sequence, shm_load_relaxed32(sequence) + 1);
}

static void write_end(shm_u32 *sequence)
{
	/* W2: pairs with R2 in the readers. */
	shm_store_release32(sequence, shm_load_relaxed32(sequence) + 1);
}

/* The counts of slot `slot` summed over the workers: worker 0's in `c`. */
static inline __attribute__((always_inline)) void counts_now(const struct region_counter *c,
							     const struct region_shares *shares,
							     uint32_t slot, uint64_t *hits,
							     uint64_t *bytes, uint64_t *last)
{
	*hits = shm_load_acquire64(&c->hits);
	*bytes = shm_load_acquire64(&c->bytes);
	if (last)
		*last = shm_load_acquire64(&c->last_hit_ns);
	for (uint32_t w = 0; shares && w < shares->n; w++) {
		const struct region_share *sh = &shares->base[(size_t)w * shares->max_rules + slot];
		uint64_t at = shm_load_acquire64(&sh->last_hit_ns);

		*hits += shm_load_acquire64(&sh->hits);
		*bytes += shm_load_acquire64(&sh->bytes);
		if (last && at > *last)
			*last = at;
	}
}

void region_counter_prepare(struct region_counter *c, const struct region_shares *shares,
			    uint32_t slot, bool enabled)
{
	uint64_t hits, bytes;

	/* Counts run on across a slot's lives: the baseline hides the last
	 * rule's, so no other writer's word is ever zeroed from here. */
	counts_now(c, shares, slot, &hits, &bytes, NULL);
	write_begin(&c->sequence);
	shm_store_release32(&c->generation, 0);
	shm_store_release64(&c->hits_base, hits);
	shm_store_release64(&c->bytes_base, bytes);
	shm_store_release64(&c->last_hit_ns, 0);
	for (uint32_t w = 0; shares && w < shares->n; w++)
		shm_store_release64(&shares->base[(size_t)w * shares->max_rules + slot].last_hit_ns,
				    0);
	shm_store_release32(&c->flags, enabled ? REGION_COUNTER_ENABLED : 0);
	write_end(&c->sequence);
}

/* Make a prepared slot live as `generation`, with its entry when `slot`
 * is given, in one write window. */
static void counter_go_live(struct region_counter *c, uint32_t generation, uint64_t created_ns,
			    struct region_entry *slot, const struct region_entry *entry)
{
	write_begin(&c->sequence);
	if (slot)
		shm_copy_to_release(slot, entry, sizeof(*entry) / 8);
	shm_store_release64(&c->created_ns, created_ns);
	shm_store_release32(&c->generation, generation);
	write_end(&c->sequence);
}

void region_counter_open(struct region_counter *c, uint32_t generation, bool enabled)
{
	region_counter_prepare(c, NULL, 0, enabled);
	counter_go_live(c, generation, 0, NULL, NULL);
}

void region_counter_close(struct region_counter *c)
{
	write_begin(&c->sequence);
	shm_store_release32(&c->generation, 0);
	shm_store_release32(&c->flags, 0);
	write_end(&c->sequence);
}

void region_counter_reset_shared(struct region_counter *c, const struct region_shares *shares,
				 uint32_t slot)
{
	uint64_t hits, bytes;

	/* Each worker's count is read once: a packet counted meanwhile is
	 * after the reset (its hits and bytes may straddle it). */
	counts_now(c, shares, slot, &hits, &bytes, NULL);
	write_begin(&c->sequence);
	shm_store_release64(&c->hits_base, hits);
	shm_store_release64(&c->bytes_base, bytes);
	write_end(&c->sequence);
}

void region_counter_reset(struct region_counter *c)
{
	region_counter_reset_shared(c, NULL, 0);
}

void region_counter_add(struct region_counter *c, uint64_t hits, uint64_t bytes, uint64_t now_ns)
{
	/* Single writer per slot: a relaxed read-modify-write of our own word. */
	shm_store_relaxed64(&c->hits, shm_load_relaxed64(&c->hits) + hits);
	shm_store_relaxed64(&c->bytes, shm_load_relaxed64(&c->bytes) + bytes);
	shm_store_relaxed64(&c->last_hit_ns, now_ns);
}

void region_share_add(struct region_share *s, uint64_t hits, uint64_t bytes, uint64_t now_ns)
{
	/* One writer per share, as per counter. */
	shm_store_relaxed64(&s->hits, shm_load_relaxed64(&s->hits) + hits);
	shm_store_relaxed64(&s->bytes, shm_load_relaxed64(&s->bytes) + bytes);
	shm_store_relaxed64(&s->last_hit_ns, now_ns);
}

bool region_counter_set(struct region_counter *c, uint64_t hits, uint64_t bytes, uint64_t now_ns)
{
	bool moved = hits != shm_load_relaxed64(&c->hits) || bytes != shm_load_relaxed64(&c->bytes);

	/* Single writer per slot (the primary's poller): relaxed, as add. */
	if (hits != shm_load_relaxed64(&c->hits))
		shm_store_relaxed64(&c->last_hit_ns, now_ns);
	shm_store_relaxed64(&c->hits, hits);
	shm_store_relaxed64(&c->bytes, bytes);
	return moved;
}

/* The counts of the rule in slot `c` (`*generation`: that rule's, or 0 for
 * whichever lives there, whose generation is stored), as
 * region_counter_read_shared() and region_counters_read_live() say. */
static inline __attribute__((always_inline)) int counter_read(const struct region_counter *c,
							      const struct region_shares *shares,
							      uint32_t slot, uint32_t *generation,
							      struct region_count *out)
{
	for (int i = 0; i < READ_RETRIES; i++) {
		/* R1: pairs with W2. */
		uint32_t s1 = shm_load_acquire32(&c->sequence);
		uint32_t gen = shm_load_acquire32(&c->generation);
		uint32_t flags = shm_load_acquire32(&c->flags);
		uint64_t hits, bytes, last;
		uint64_t hits_base = shm_load_acquire64(&c->hits_base);
		uint64_t bytes_base = shm_load_acquire64(&c->bytes_base);

		counts_now(c, shares, slot, &hits, &bytes, &last);
		/* R2: after every load above (they are acquires). */
		if ((s1 & 1u) || shm_load_relaxed32(&c->sequence) != s1) {
			shm_cpu_relax();
			continue;
		}
		if (gen == 0 || (*generation && gen != *generation))
			return -ENOENT;
		*generation = gen;
		if (!(flags & REGION_COUNTER_ENABLED))
			return -ENOTSUP;
		/* hits and bytes move outside the seqlock; a reset racing a
		 * hit can leave the base a little ahead for one read. */
		out->hits = hits >= hits_base ? hits - hits_base : 0;
		out->bytes = bytes >= bytes_base ? bytes - bytes_base : 0;
		out->last_hit_ns = last;
		return 0;
	}
	return -EAGAIN;
}

int region_counter_read_shared(const struct region_counter *c, const struct region_shares *shares,
			       uint32_t slot, uint32_t generation, struct region_count *out)
{
	if (generation == 0)
		return -ENOENT;
	return counter_read(c, shares, slot, &generation, out);
}

int region_counter_read(const struct region_counter *c, uint32_t generation,
			struct region_count *out)
{
	return region_counter_read_shared(c, NULL, 0, generation, out);
}

void region_counters_read_live(const struct region_view *view, uint32_t first, uint32_t n,
			       struct region_live_count *out)
{
	uint32_t end = shm_load_relaxed32(&view->header->slots_end);

	if (end > view->max_rules)
		end = view->max_rules; /* the primary's word: bounded before use */
	for (uint32_t i = 0; i < n; i++) {
		uint64_t slot = (uint64_t)first + i;
		struct region_live_count *o = &out[i];

		/* The lines half a block ahead: the misses overlap. */
		if (slot + REGION_BLOCK_SLOTS / 2 < end)
			__builtin_prefetch(&view->counters[slot + REGION_BLOCK_SLOTS / 2]);
		o->generation = 0;
		o->rc = slot < end ? counter_read(&view->counters[slot], &view->shares,
						  (uint32_t)slot, &o->generation, &o->count)
				   : -ENOENT;
		if (o->rc != 0) /* nothing counted: zeros, not what a torn read left */
			o->count = (struct region_count){0};
	}
}

void region_port_reset_begin(struct region_port *port0)
{
	write_begin(&port0->sequence);
}

void region_port_reset_end(struct region_port *port0)
{
	write_end(&port0->sequence);
}

void region_port_reset(const struct region_port_set *set)
{
	region_port_reset_begin(set->port);
	for (unsigned w = 0; w < set->workers; w++) {
		struct region_port *port = set->port + w * set->port_stride;
		struct region_queue *queues = set->queues + w * set->queue_stride;

		for (unsigned i = 0; i < REGION_PORT_STATS; i++)
			shm_store_release64(&port->base[i], shm_load_relaxed64(&port->value[i]));
		for (unsigned q = 0; q < set->n_queues; q++)
			for (unsigned i = 0; i < REGION_QUEUE_STATS; i++)
				shm_store_release64(&queues[q].base[i],
						    shm_load_relaxed64(&queues[q].value[i]));
	}
	region_port_reset_end(set->port);
}

/* Add value - base of `n` figures into out[]. */
static void add_since(const shm_u64 *value, const shm_u64 *base, uint64_t *out, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = shm_load_acquire64(&value[i]), b = shm_load_acquire64(&base[i]);

		/* The baselines move only along with the values they copy: a
		 * base ahead of its value is a hostile region. */
		out[i] += v >= b ? v - b : 0;
	}
}

int region_port_read(const struct region_port_set *set, size_t first, size_t n,
		     uint64_t out[REGION_PORT_STATS], uint64_t queue_sums[REGION_QUEUE_STATS])
{
	for (int i = 0; i < READ_RETRIES; i++) {
		/* R1: pairs with W2. */
		uint32_t s1 = shm_load_acquire32(&set->port->sequence);

		memset(out, 0, REGION_PORT_STATS * sizeof(out[0]));
		memset(queue_sums, 0, REGION_QUEUE_STATS * sizeof(queue_sums[0]));
		for (unsigned w = 0; w < set->workers; w++) {
			const struct region_port *port = set->port + w * set->port_stride;
			const struct region_queue *queues = set->queues + w * set->queue_stride;

			add_since(port->value, port->base, out, REGION_PORT_STATS);
			for (size_t q = first; q < first + n; q++)
				add_since(queues[q].value, queues[q].base, queue_sums,
					  REGION_QUEUE_STATS);
		}
		/* R2: after the acquire loads above. */
		if (!(s1 & 1u) && shm_load_relaxed32(&set->port->sequence) == s1)
			return 0;
		shm_cpu_relax();
	}
	return -EAGAIN;
}

struct region_port_set region_view_port(const struct region_view *v, uint16_t port)
{
	size_t per_port = (size_t)v->pf_queues + v->vfs;

	return (struct region_port_set){
		.port = (struct region_port *)(uintptr_t)&v->ports[port],
		.queues = (struct region_queue *)(uintptr_t)&v->queues[port * per_port],
		.port_stride = v->n_ports,
		.queue_stride = (size_t)v->n_ports * per_port,
		.workers = v->workers ? v->workers : 1,
		.n_queues = (unsigned)per_port};
}

/* An entry moves as whole 64-bit words, each ordered (W1/R1 above), never
 * as a plain memcpy. */
_Static_assert(sizeof(struct region_entry) % 8 == 0, "entry words");

void region_entry_publish(struct region_counter *c, struct region_entry *slot,
			  const struct region_entry *entry, uint32_t generation,
			  uint64_t created_ns)
{
	counter_go_live(c, generation, created_ns, slot, entry);
}

#define CHUNK_WORDS (REGION_CHUNK_BYTES / 8)

void region_rule_write(struct region_chunk *heap, const uint32_t *chunks, const void *bytes,
		       uint32_t length)
{
	uint32_t n = region_rule_chunks(length);

	/* Release stores, word by word, as readers load them; the last
	 * chunk's tail is zeroed, never left stale. */
	for (uint32_t i = 0; i < n; i++) {
		uint8_t part[REGION_CHUNK_BYTES] = {0};
		uint32_t at = i * REGION_CHUNK_BYTES;
		uint32_t take = length - at < REGION_CHUNK_BYTES ? length - at : REGION_CHUNK_BYTES;

		memcpy(part, (const uint8_t *)bytes + at, take);
		shm_copy_to_release(heap[chunks[i]].bytes, part, CHUNK_WORDS);
		shm_store_release64(&heap[chunks[i]].next, i + 1 < n ? chunks[i + 1] + 1ull : 0);
	}
}

/* Reader: the request of `length` bytes from chunk `first` into `out`
 * (room for whole chunks); false if a link leaves the heap or ends early.
 * What it reads may be torn: the caller's seqlock says. */
static bool read_rule(const struct region_view *view, uint32_t first, uint32_t length, uint8_t *out)
{
	uint32_t n = region_rule_chunks(length);
	uint64_t at = first;

	for (uint32_t i = 0; i < n; i++) {
		if (at >= view->heap_chunks)
			return false;
		shm_copy_from_acquire(out + (size_t)i * REGION_CHUNK_BYTES, view->heap[at].bytes,
				      CHUNK_WORDS);
		at = shm_load_acquire64(&view->heap[at].next) - 1;
		if (i + 1 < n && at >= view->heap_chunks)
			return false;
	}
	return true;
}

int region_entry_owner(const struct region_view *view, uint32_t slot, uint32_t generation,
		       uint32_t *owner, uint16_t *port, uint16_t *flags)
{
	const struct region_counter *c = &view->counters[slot];
	const struct region_entry *e = &view->entries[slot];

	_Static_assert(offsetof(struct region_entry, owner_id) == 0 &&
			       offsetof(struct region_entry, flags) == 6,
		       "owner word");
	_Static_assert(offsetof(struct region_entry, number) == 16 &&
			       offsetof(struct region_entry, port) == 20,
		       "port word");
	for (int i = 0; i < READ_RETRIES; i++) {
		/* R1: pairs with W2. */
		uint32_t s1 = shm_load_acquire32(&c->sequence);
		uint32_t gen = shm_load_acquire32(&c->generation);
		struct {
			uint32_t id;
			uint16_t index, flags;
		} who;
		struct {
			uint32_t number;
			uint16_t port, rule_length;
		} where;

		shm_copy_from_acquire(&who, e, 1);
		shm_copy_from_acquire(
			&where, (const uint8_t *)e + offsetof(struct region_entry, number), 1);
		if ((s1 & 1u) || shm_load_relaxed32(&c->sequence) != s1) {
			shm_cpu_relax();
			continue;
		}
		if (gen != generation || generation == 0)
			return -ENOENT;
		*owner = who.id;
		*port = where.port;
		*flags = who.flags;
		return 0;
	}
	return -EAGAIN;
}

int region_entry_read(const struct region_view *view, uint32_t slot, struct region_entry_copy *out,
		      void *rule, size_t cap)
{
	const struct region_counter *c = &view->counters[slot];
	const struct region_entry *e = &view->entries[slot];

	for (int i = 0; i < READ_RETRIES; i++) {
		/* R1: pairs with W2. */
		uint32_t s1 = shm_load_acquire32(&c->sequence);
		uint32_t gen = shm_load_acquire32(&c->generation);
		uint64_t created = shm_load_acquire64(&c->created_ns);
		uint32_t length, first;
		bool outside = false;

		shm_copy_from_acquire(&out->entry, e, sizeof(*e) / 8);
		/* The bytes the copy names, bounded by `cap` and the heap
		 * before a byte is read: a torn copy is caught below. */
		length = out->entry.rule_length;
		if (rule && length > cap) {
			outside = true;
		} else if (rule && region_rule_inline(length)) {
			memcpy(rule, out->entry.rule, length);
		} else if (rule) {
			memcpy(&first, out->entry.rule, sizeof(first));
			outside = (uint64_t)region_rule_chunks(length) * REGION_CHUNK_BYTES > cap ||
				  !read_rule(view, first, length, rule);
		}
		/* R2: after the acquire loads of the copy. */
		if ((s1 & 1u) || shm_load_relaxed32(&c->sequence) != s1) {
			shm_cpu_relax();
			continue;
		}
		if (gen == 0)
			return -ENOENT;
		if (outside)
			return -EPROTO;
		out->generation = gen;
		out->created_ns = created;
		return 0;
	}
	return -EAGAIN;
}

void region_owner_publish(struct region_owner *o, uint32_t id, uint32_t pid, const char *name)
{
	struct region_owner copy = {.pid = pid};

	strncpy(copy.name, name, sizeof(copy.name) - 1);
	write_begin(&o->sequence);
	shm_store_release32(&o->id, 0);
	shm_copy_to_release(&o->pid, &copy.pid,
			    (sizeof(copy) - offsetof(struct region_owner, pid)) / 8);
	shm_store_release32(&o->id, id);
	write_end(&o->sequence);
}

void region_owner_retire(struct region_owner *o)
{
	write_begin(&o->sequence);
	shm_store_release32(&o->id, 0);
	write_end(&o->sequence);
}

int region_owner_name(const struct region_view *view, uint16_t index, uint32_t id,
		      char name[REGION_NAME_MAX], uint32_t *pid)
{
	const struct region_owner *o;
	struct region_owner copy;

	if (index >= view->max_owners || id == 0)
		return -ENOENT;
	o = &view->owners[index];
	for (int i = 0; i < READ_RETRIES; i++) {
		uint32_t s1 = shm_load_acquire32(&o->sequence);
		uint32_t now = shm_load_acquire32(&o->id);

		shm_copy_from_acquire(&copy.pid, &o->pid,
				      (sizeof(copy) - offsetof(struct region_owner, pid)) / 8);
		if ((s1 & 1u) || shm_load_relaxed32(&o->sequence) != s1) {
			shm_cpu_relax();
			continue;
		}
		if (now != id)
			return -ENOENT;
		memcpy(name, copy.name, REGION_NAME_MAX);
		name[REGION_NAME_MAX - 1] = '\0';
		*pid = copy.pid;
		return 0;
	}
	return -EAGAIN;
}
