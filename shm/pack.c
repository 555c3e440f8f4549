/* SPDX-License-Identifier: BSD-3-Clause */
/* The packed form of a rule; see pack.h. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "shm/pack.h"
#include "shm/rule/rule.h"
#include "shm/wire.h"

#define PACK_ESCAPE	   31u	 /* element byte: type and flags follow */
#define PACK_PARTS_SHIFT   5	 /* element byte: parts above the type */
#define PACK_ABSOLUTE_SPEC 0x08u /* escape flags: spec not under the mask */
#define PACK_ABSOLUTE_LAST 0x10u /* escape flags: last not under the mask */
#define PACK_VERBATIM	   0x20u /* escape flags: length, then the bytes */
#define PACK_FLAGS	   0x3fu

#define PACK_HAS_PORT	  0x08u /* head flags, after the WIRE_RULE_* bits */
#define PACK_HAS_GROUP	  0x10u
#define PACK_HAS_PRIORITY 0x20u

/* The largest fixed part packed field by field; larger ones go verbatim. */
#define PACK_PART_MAX 256u

_Static_assert(MPF_FLOW_ITEM_TYPES <= PACK_ESCAPE && MPF_FLOW_ACTION_TYPES <= PACK_ESCAPE,
	       "every type fits in an element byte");
_Static_assert((WIRE_RULE_FLAGS & (PACK_HAS_PORT | PACK_HAS_GROUP | PACK_HAS_PRIORITY)) == 0,
	       "head flags");

static size_t pad8(size_t n)
{
	return (n + 7u) & ~(size_t)7u;
}

/* ------------------------------------------------------------------------ */
/* Bytes in and out                                                         */
/* ------------------------------------------------------------------------ */

struct out {
	uint8_t *p;
	size_t length, cap;
	bool full;
};

static uint8_t *out_take(struct out *o, size_t n)
{
	uint8_t *p = o->p + o->length;

	if (o->full || n > o->cap - o->length) {
		o->full = true;
		return NULL;
	}
	o->length += n;
	return p;
}

static void out_byte(struct out *o, uint8_t b)
{
	uint8_t *p = out_take(o, 1);

	if (p)
		*p = b;
}

static void out_varint(struct out *o, uint32_t v)
{
	while (v >= 0x80) {
		out_byte(o, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	out_byte(o, (uint8_t)v);
}

struct in {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static const uint8_t *in_take(struct in *i, size_t n)
{
	const uint8_t *p = i->p;

	if (i->bad || n > i->left) {
		i->bad = true;
		return NULL;
	}
	i->p += n;
	i->left -= n;
	return p;
}

static uint8_t in_byte(struct in *i)
{
	const uint8_t *p = in_take(i, 1);

	return p ? *p : 0;
}

/* A varint of at most 32 bits, in its shortest form (one form per value:
 * unpacking is exact both ways). */
static uint32_t in_varint(struct in *i)
{
	uint32_t v = 0;

	for (unsigned shift = 0; shift < 35; shift += 7) {
		uint8_t b = in_byte(i);

		if (shift == 28 && b > 0x0f)
			break;
		v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (b == 0 && shift != 0)
				break; /* not the shortest form */
			return v;
		}
	}
	i->bad = true;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Sparse parts, eight bytes at a time                                      */
/* ------------------------------------------------------------------------ */

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "a word's byte j is its bits 8j..8j+7 (nonzero8())");

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/* Bit j set when byte j of `w` is not zero. */
static inline unsigned nonzero8(uint64_t w)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
	uint64_t t = (((w & low7) + low7) | w) >> 7 & 0x0101010101010101ull;

	/* Byte j's bit to bit 56 + j, without carries (j + k = 7). */
	return (unsigned)((t * 0x0102040810204080ull) >> 56);
}

/* Set bits of a byte (no popcount instruction is assumed). */
static const uint8_t bits_set[256] = {
#define B2(n) n, n + 1, n + 1, n + 2
#define B4(n) B2(n), B2(n + 1), B2(n + 1), B2(n + 2)
#define B6(n) B4(n), B4(n + 1), B4(n + 1), B4(n + 2)
	B6(0), B6(1), B6(1), B6(2)
#undef B6
#undef B4
#undef B2
};

static inline size_t ones_in(unsigned m)
{
	return bits_set[m & 0xffu];
}

/* Bit j set when byte j of `w` is 0xff. */
static inline unsigned ones8(uint64_t w)
{
	return ~nonzero8(~w) & 0xffu;
}

/*
 * `n` bytes at `src` (readable to a multiple of 8, zero past n): a bitmap
 * of the non-zero ones, then (`ff`: masks) a bitmap over those of the 0xff
 * ones, then the other non-zero bytes.
 */
static void put_sparse(struct out *o, const uint8_t *src, size_t n, bool ff)
{
	size_t words = (n + 7) / 8, nz = 0, literals = 0;
	uint8_t *map = out_take(o, words), *ffmap = NULL, *lit;
	unsigned acc = 0, bits = 0;

	if (map == NULL)
		return;
	for (size_t i = 0; i < words; i++) {
		uint64_t w = load64(src + 8 * i);
		unsigned m = nonzero8(w);

		map[i] = (uint8_t)m;
		nz += ones_in(m);
		literals += ones_in(ff ? m & ~ones8(w) : m);
	}
	if (ff && (ffmap = out_take(o, (nz + 7) / 8)) == NULL)
		return;
	lit = out_take(o, literals);
	if (lit == NULL)
		return;
	for (size_t i = 0; i < words; i++) {
		unsigned m = map[i], f = ff ? ones8(load64(src + 8 * i)) : 0;

		for (; m; m &= m - 1) {
			unsigned b = (unsigned)__builtin_ctz(m);

			/* The 0xff bits gather in a register, a byte at a time. */
			acc |= (f >> b & 1u) << bits;
			if (ffmap && ++bits == 8) {
				*ffmap++ = (uint8_t)acc;
				acc = bits = 0;
			}
			if (!(f >> b & 1u))
				*lit++ = src[8 * i + b];
		}
	}
	if (ffmap && bits)
		*ffmap = (uint8_t)acc;
}

/* The reverse, into bytes[pos[j]] (pos NULL: bytes[j]), zeroed by the
 * caller. */
static void get_sparse(struct in *in, uint8_t *bytes, const uint8_t *pos, size_t n, bool ff)
{
	size_t words = (n + 7) / 8, nz = 0, ones = 0, k = 0;
	const uint8_t *map = in_take(in, words), *ffmap = NULL, *lit;

	if (map == NULL)
		return;
	/* Bits past n in the last byte are zero: one form per part. */
	if (n % 8 && map[n / 8] >> (n % 8))
		in->bad = true;
	for (size_t i = 0; i < words; i++)
		nz += ones_in(map[i]);
	if (ff) {
		ffmap = in_take(in, (nz + 7) / 8);
		if (ffmap == NULL || (nz % 8 && ffmap[nz / 8] >> (nz % 8))) {
			in->bad = true;
			return;
		}
		for (size_t i = 0; i < (nz + 7) / 8; i++)
			ones += ones_in(ffmap[i]);
	}
	lit = in_take(in, nz - ones);
	if (lit == NULL || in->bad)
		return;
	for (size_t i = 0; i < words; i++)
		for (unsigned m = map[i]; m; m &= m - 1, k++) {
			size_t j = 8 * i + (unsigned)__builtin_ctz(m);
			uint8_t b = 0xff;

			if (!(ffmap && ffmap[k / 8] >> (k % 8) & 1u)) {
				b = *lit++;
				/* A literal zero, or a literal 0xff in a mask, has
				 * a shorter form: refused, so that repacking is
				 * exact. */
				if (b == 0 || (ff && b == 0xff))
					in->bad = true;
			}
			bytes[pos ? pos[j] : j] = b;
		}
}

/*
 * `part` over the non-zero bytes of `mask` (n bytes, a multiple of 8; every
 * non-zero byte of part is under one): a bitmap over those positions of
 * part's non-zero bytes, then those bytes. put_sparse() of the gathered
 * bytes, without gathering them.
 */
static void put_under(struct out *o, const uint8_t *part, const uint8_t *mask, size_t n)
{
	size_t k = 0, literals = 0;
	uint8_t *map, *lit;
	unsigned acc = 0, bits = 0;

	for (size_t i = 0; i < n; i += 8) {
		k += ones_in(nonzero8(load64(mask + i)));
		literals += ones_in(nonzero8(load64(part + i)));
	}
	map = out_take(o, (k + 7) / 8);
	lit = map ? out_take(o, literals) : NULL;
	if (lit == NULL)
		return;
	for (size_t i = 0; i < n; i += 8) {
		unsigned m = nonzero8(load64(mask + i)), p = nonzero8(load64(part + i));

		for (; m; m &= m - 1) {
			unsigned b = (unsigned)__builtin_ctz(m);

			acc |= (p >> b & 1u) << bits;
			if (++bits == 8) {
				*map++ = (uint8_t)acc;
				acc = bits = 0;
			}
			if (p >> b & 1u)
				*lit++ = part[i + b];
		}
	}
	if (bits)
		*map = (uint8_t)acc;
}

/* The non-zero positions of a mask of n bytes (a multiple of 8) into
 * pos[]; how many. */
static size_t nonzero_positions(const uint8_t *mask, size_t n, uint8_t *pos)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i += 8)
		for (unsigned m = nonzero8(load64(mask + i)); m; m &= m - 1)
			pos[k++] = (uint8_t)(i + (unsigned)__builtin_ctz(m));
	return k;
}

/* Is every non-zero byte of `part` under a non-zero byte of `mask` (n
 * bytes, a multiple of 8)? */
static bool under_mask(const uint8_t *part, const uint8_t *mask, size_t n)
{
	for (size_t i = 0; i < n; i += 8)
		if (nonzero8(load64(part + i)) & ~nonzero8(load64(mask + i)))
			return false;
	return true;
}

/* ------------------------------------------------------------------------ */
/* Packing                                                                  */
/* ------------------------------------------------------------------------ */

/* Whether each part of element `el` has a fixed size (8-padded, into
 * *size): not when its parts vary (RAW, RSS, VF) or are too large, which
 * go verbatim. */
static bool fixed_part(bool action, const struct wire_element *el, size_t *size)
{
	if (action) {
		const struct rule_action_desc *d = rule_action_desc(el->type);

		if (d == NULL || el->type == MPF_FLOW_ACTION_TYPE_RSS ||
		    el->type == MPF_FLOW_ACTION_TYPE_VF)
			return false;
		*size = pad8(d->conf_size);
	} else {
		const struct rule_item_desc *d = rule_item_desc(el->type);

		if (d == NULL || el->type == MPF_FLOW_ITEM_TYPE_RAW)
			return false;
		*size = pad8(d->size);
	}
	return *size <= PACK_PART_MAX;
}

/* Spec and last (present in part[]) packed under the mask part[2]. */
static void put_under_mask(struct out *o, const uint8_t *const part[3], size_t size)
{
	for (unsigned p = 0; p < 2; p++)
		if (part[p])
			put_under(o, part[p], part[2], size);
}

/* put_under() of `part` under the mask that `m` keeps, from the mask's
 * non-zero positions it listed: a bitmap of k bits, then the literals. */
static void put_at_positions(struct out *o, const uint8_t *part, const struct pack_memo_element *m)
{
	size_t k = m->positions, map_length = (k + 7) / 8, literals = 0;
	uint64_t bits = 0;
	uint8_t *map = o->p + o->length, *lit = map + map_length;

	if (o->full || map_length + k > o->cap - o->length) {
		put_under(o, part, (const uint8_t *)m->key, m->key_length);
		return;
	}
	for (size_t j = 0; j < k; j++) {
		uint8_t b = part[m->position[j]];

		bits |= (uint64_t)(b != 0) << j;
		lit[literals] = b; /* kept when not zero */
		literals += b != 0;
	}
	for (size_t i = 0; i < map_length; i++)
		map[i] = (uint8_t)(bits >> 8 * i);
	o->length += map_length + literals;
}

static bool same_words(const uint8_t *bytes, const uint64_t *words, size_t length)
{
	uint64_t diff = 0;

	for (size_t i = 0; i < length / 8; i++)
		diff |= load64(bytes + 8 * i) ^ words[i];
	return diff == 0;
}

/*
 * The element whose header is `h` and parts `bytes`, packed from what `m`
 * kept of the last one at its place when their headers and keys are the
 * same (and a spec or last is under the mask, as the kept one's were).
 * Whether it was.
 */
static bool pack_remembered(struct out *o, const struct pack_memo_element *m, const uint8_t *h,
			    const uint8_t *bytes, const struct wire_element *el)
{
	const uint8_t *part[2] = {NULL, NULL};
	size_t size = m->key_length;
	uint8_t *p;

	if (load64(h) != m->header || !same_words(bytes + el->length - size, m->key, size))
		return false;
	if (size < el->length) { /* the key is the mask, the last part */
		for (unsigned q = 0, at = 0; q < 2; q++)
			if (el->parts & (1u << q)) {
				uint64_t outside = 0;

				part[q] = bytes + (size_t)at++ * size;
				for (size_t i = 0; i < size / 8; i++)
					outside |= load64(part[q] + 8 * i) & m->outside[i];
				if (outside)
					return false;
			}
	}
	p = out_take(o, m->out_length);
	if (p == NULL)
		return true; /* full: said by rule_pack() */
	memcpy(p, m->out, m->out_length);
	for (unsigned q = 0; q < 2; q++)
		if (part[q])
			put_at_positions(o, part[q], m);
	return true;
}

/* Keep in `m` what pack_element() made of an element: its header, its key
 * (`key`, `key_length` bytes, a mask when `mask`) and what those gave, out
 * bytes [from, to). */
static void remember(struct pack_memo_element *m, const struct out *o, const uint8_t *h,
		     const uint8_t *key, size_t key_length, bool mask, size_t from, size_t to)
{
	uint64_t outside[PACK_MEMO_KEY / 8] = {0};

	m->header = 0;
	if (o->full || key_length > sizeof(m->key) || to - from > sizeof(m->out))
		return;
	memcpy(m->key, key, key_length);
	memcpy(m->out, o->p + from, to - from);
	m->key_length = (uint32_t)key_length;
	m->out_length = (uint32_t)(to - from);
	if (mask) {
		for (size_t i = 0; i < key_length; i++)
			if (key[i] == 0)
				outside[i / 8] |= 0xffull << (i % 8 * 8);
		memcpy(m->outside, outside, sizeof(outside));
		m->positions = (uint32_t)nonzero_positions(key, key_length, m->position);
	}
	m->header = load64(h);
}

static int pack_element(struct out *o, struct in *body, bool action, struct pack_memo_element *m)
{
	const uint8_t *h = in_take(body, sizeof(struct wire_element));
	struct wire_element el;
	const uint8_t *bytes, *part[3] = {NULL, NULL, NULL};
	unsigned parts, flags = 0, present = 0;
	size_t size = 0, from = o->length;
	bool fixed;

	if (h == NULL)
		return -EBADMSG;
	memcpy(&el, h, sizeof(el));
	parts = el.parts;
	if (el.type >= (action ? MPF_FLOW_ACTION_TYPES : MPF_FLOW_ITEM_TYPES) || el.type == 0 ||
	    el.reserved != 0 || parts & ~(action ? WIRE_PART_CONF : 7u) || el.length % 8 ||
	    (bytes = in_take(body, el.length)) == NULL)
		return -EBADMSG;
	if (m && pack_remembered(o, m, h, bytes, &el))
		return 0;
	fixed = fixed_part(action, &el, &size);
	present = ones_in(parts);
	if (!fixed || el.length != present * size) {
		/* Verbatim: the parts as they are. */
		out_byte(o, PACK_ESCAPE);
		out_byte(o, (uint8_t)el.type);
		out_byte(o, (uint8_t)(parts | PACK_VERBATIM));
		out_varint(o, el.length);
		put_sparse(o, bytes, el.length, false);
		if (m)
			m->header = 0;
		return 0;
	}
	for (unsigned p = 0, at = 0; p < 3; p++)
		if (parts & (1u << p))
			part[p] = bytes + (size_t)at++ * size;
	if (part[2] && part[0] && !under_mask(part[0], part[2], size))
		flags |= PACK_ABSOLUTE_SPEC;
	if (part[2] && part[1] && !under_mask(part[1], part[2], size))
		flags |= PACK_ABSOLUTE_LAST;
	if (flags) {
		out_byte(o, PACK_ESCAPE);
		out_byte(o, (uint8_t)el.type);
		out_byte(o, (uint8_t)(parts | flags));
	} else {
		out_byte(o, (uint8_t)(el.type | parts << PACK_PARTS_SHIFT));
	}
	if (part[2] == NULL) {
		for (unsigned p = 0; p < 2; p++)
			if (part[p])
				put_sparse(o, part[p], size, false);
		if (m)
			remember(m, o, h, bytes, el.length, false, from, o->length);
		return 0;
	}
	put_sparse(o, part[2], size, true);
	if (flags == 0) {
		if (m)
			remember(m, o, h, part[2], size, true, from, o->length);
		put_under_mask(o, part, size);
		return 0;
	}
	if (m)
		m->header = 0; /* its element byte says the spec's place */
	for (unsigned p = 0; p < 2; p++) {
		if (part[p] == NULL)
			continue;
		if (flags & (PACK_ABSOLUTE_SPEC << p))
			put_sparse(o, part[p], size, false);
		else
			put_under(o, part[p], part[2], size);
	}
	return 0;
}

int rule_pack(const void *wire, size_t length, uint8_t *out, size_t cap, struct pack_memo *memo)
{
	struct in body = {.p = wire, .left = length};
	struct out o = {.p = out, .cap = cap};
	const uint8_t *h = in_take(&body, sizeof(struct wire_header));
	const uint8_t *r = in_take(&body, sizeof(struct wire_rule_header));
	struct wire_header header;
	struct wire_rule_header rh;
	unsigned head;

	if (h == NULL || r == NULL)
		return -EBADMSG;
	memcpy(&header, h, sizeof(header));
	memcpy(&rh, r, sizeof(rh));
	if (header.magic != WIRE_MAGIC || header.version != WIRE_VERSION ||
	    header.op != WIRE_OP_CREATE || header.length != length || length > WIRE_MSG_MAX ||
	    rh.flags & ~WIRE_RULE_FLAGS || rh.n_items > MPF_FLOW_ITEMS_MAX ||
	    rh.n_actions > MPF_FLOW_ACTIONS_MAX)
		return -EBADMSG;
	head = rh.flags | (rh.port ? PACK_HAS_PORT : 0) | (rh.group ? PACK_HAS_GROUP : 0) |
	       (rh.priority ? PACK_HAS_PRIORITY : 0);
	out_byte(&o, (uint8_t)head);
	if (rh.port)
		out_varint(&o, rh.port);
	if (rh.group)
		out_varint(&o, rh.group);
	if (rh.priority)
		out_varint(&o, rh.priority);
	out_varint(&o, rh.n_items);
	out_varint(&o, rh.n_actions);
	for (unsigned e = 0; e < (unsigned)rh.n_items + rh.n_actions; e++) {
		bool action = e >= rh.n_items;
		unsigned at = action ? e - rh.n_items : e;
		int err = pack_element(&o, &body, action,
				       memo == NULL || at >= PACK_MEMO_ELEMENTS ? NULL
				       : action					? &memo->action[at]
										: &memo->item[at]);

		if (err)
			return err;
	}
	if (body.left != 0)
		return -EBADMSG;
	return o.full ? -EMSGSIZE : (int)o.length;
}

/* ------------------------------------------------------------------------ */
/* Unpacking: every byte below is another process's until checked.          */
/* ------------------------------------------------------------------------ */

/* An element's header out as one word made in registers: its fields were
 * just stored one by one, and an 8-byte load of them would wait for those
 * stores (a failed store forward: a third of the unpacker's time). */
static void put_element_header(uint8_t *at, const struct wire_element *el)
{
	uint64_t word = (uint64_t)el->type | (uint64_t)el->parts << 16 |
			(uint64_t)el->reserved << 24 | (uint64_t)el->length << 32;

	_Static_assert(sizeof(*el) == 8 && offsetof(struct wire_element, length) == 4,
		       "type, parts, reserved, length");
	memcpy(at, &word, sizeof(word));
}

/*
 * The element at `i` from what `m` kept, when its packed bytes begin with
 * those `m` kept: the element out, then its spec and last read. Whether it
 * was.
 */
static bool unpack_remembered(struct in *i, struct out *o, const struct unpack_memo_element *m)
{
	uint8_t *element;

	if (m->in_length == 0 || m->in_length > sizeof(m->in) || m->in_length > i->left ||
	    memcmp(i->p, m->in, m->in_length) != 0)
		return false;
	element = out_take(o, m->out_length);
	if (element == NULL)
		return true; /* full: said by rule_unpack() */
	in_take(i, m->in_length);
	memcpy(element, m->out, m->out_length);
	if (m->spec_at)
		get_sparse(i, element + m->spec_at, m->position, m->positions, false);
	if (m->last_at)
		get_sparse(i, element + m->last_at, m->position, m->positions, false);
	return true;
}

/* Keep in `m` an element's packed bytes [in, in + in_length) and what they
 * gave, out bytes [element, element + out_length), with the mask's
 * `positions` non-zero `position`s and the spec and last offsets. */
static void unpack_remember(struct unpack_memo_element *m, const uint8_t *in, size_t in_length,
			    const uint8_t *element, size_t out_length, const uint8_t *position,
			    size_t positions, size_t spec_at, size_t last_at)
{
	m->in_length = 0;
	if (in_length > sizeof(m->in) || out_length > sizeof(m->out) ||
	    positions > sizeof(m->position))
		return;
	memcpy(m->in, in, in_length);
	memcpy(m->out, element, out_length);
	if (positions) /* none (and no list) for an element without a mask */
		memcpy(m->position, position, positions);
	m->out_length = (uint32_t)out_length;
	m->positions = (uint32_t)positions;
	m->spec_at = (uint16_t)spec_at;
	m->last_at = (uint16_t)last_at;
	m->in_length = (uint32_t)in_length;
}

static void unpack_element(struct in *i, struct out *o, bool action, struct unpack_memo_element *m)
{
	const uint8_t *start = i->p;
	uint8_t first;
	struct wire_element el = {0};
	unsigned flags;
	uint8_t *header, *part[3] = {NULL, NULL, NULL};
	unsigned present = 0;
	size_t size = 0;
	bool fixed;

	if (m && unpack_remembered(i, o, m))
		return;
	if (m)
		m->in_length = 0; /* kept again below when it can be */
	first = in_byte(i);
	el.type = first & PACK_ESCAPE;
	flags = first >> PACK_PARTS_SHIFT;
	header = out_take(o, sizeof(el));
	if (el.type == PACK_ESCAPE) {
		if (flags != 0)
			i->bad = true;
		el.type = in_byte(i);
		flags = in_byte(i);
	}
	el.parts = (uint8_t)(flags & 7u);
	if (i->bad || header == NULL)
		return;
	if (el.type == 0 || el.type >= (action ? MPF_FLOW_ACTION_TYPES : MPF_FLOW_ITEM_TYPES) ||
	    flags & ~PACK_FLAGS || el.parts & ~(action ? WIRE_PART_CONF : 7u)) {
		i->bad = true;
		return;
	}
	fixed = fixed_part(action, &el, &size);
	if (flags & PACK_VERBATIM) {
		uint32_t length = in_varint(i);
		uint8_t *bytes;

		/* Verbatim is what the fixed form cannot say: nothing else,
		 * and never a length the input could not hold. */
		if (flags & (PACK_ABSOLUTE_SPEC | PACK_ABSOLUTE_LAST) || length % 8 ||
		    length > WIRE_MSG_MAX || (fixed && length == ones_in(el.parts) * size)) {
			i->bad = true;
			return;
		}
		bytes = out_take(o, length);
		if (bytes == NULL)
			return;
		memset(bytes, 0, length);
		get_sparse(i, bytes, NULL, length, false);
		el.length = length;
		put_element_header(header, &el);
		return;
	}
	if (!fixed) {
		i->bad = true; /* a varying part must be verbatim */
		return;
	}
	if (first == PACK_ESCAPE &&
	    (!(el.parts & 4u) || !(flags & (PACK_ABSOLUTE_SPEC | PACK_ABSOLUTE_LAST)) ||
	     (flags & PACK_ABSOLUTE_SPEC && !(el.parts & 1u)) ||
	     (flags & PACK_ABSOLUTE_LAST && !(el.parts & 2u)))) {
		i->bad = true; /* the one-byte form would have said it */
		return;
	}
	for (unsigned p = 0; p < 3; p++)
		if (el.parts & (1u << p)) {
			part[p] = out_take(o, size);
			if (part[p] == NULL)
				return;
			memset(part[p], 0, size);
			present++;
		}
	el.length = (uint32_t)(present * size);
	put_element_header(header, &el);
	if (part[2]) {
		uint8_t pos[PACK_PART_MAX];
		size_t k;

		get_sparse(i, part[2], NULL, size, true);
		k = nonzero_positions(part[2], size, pos);
		if (m && !i->bad && first != PACK_ESCAPE) /* spec and last still zero */
			unpack_remember(m, start, (size_t)(i->p - start), header,
					sizeof(el) + el.length, pos, k,
					part[0] ? (size_t)(part[0] - header) : 0,
					part[1] ? (size_t)(part[1] - header) : 0);
		for (unsigned p = 0; p < 2; p++)
			if (part[p])
				get_sparse(i, part[p],
					   flags & (PACK_ABSOLUTE_SPEC << p) ? NULL : pos,
					   flags & (PACK_ABSOLUTE_SPEC << p) ? size : k, false);
		/* An absolute part that fits under the mask has a shorter form. */
		for (unsigned p = 0; p < 2 && !i->bad; p++)
			if (part[p] && flags & (PACK_ABSOLUTE_SPEC << p) &&
			    under_mask(part[p], part[2], size))
				i->bad = true;
	} else {
		for (unsigned p = 0; p < 2; p++)
			if (part[p])
				get_sparse(i, part[p], NULL, size, false);
		if (m && !i->bad && first != PACK_ESCAPE)
			unpack_remember(m, start, (size_t)(i->p - start), header,
					sizeof(el) + el.length, NULL, 0, 0, 0);
	}
}

int rule_unpack(const uint8_t *packed, size_t length, void *out, size_t cap,
		struct unpack_memo *memo)
{
	struct in i = {.p = packed, .left = length};
	struct out o = {.p = out, .cap = cap < WIRE_MSG_MAX ? cap : WIRE_MSG_MAX};
	uint8_t *h = out_take(&o, sizeof(struct wire_header));
	uint8_t *r = out_take(&o, sizeof(struct wire_rule_header));
	struct wire_header header = {
		.magic = WIRE_MAGIC, .version = WIRE_VERSION, .op = WIRE_OP_CREATE};
	struct wire_rule_header rh = {0};
	unsigned head = in_byte(&i);
	uint32_t v;

	if (head & ~(WIRE_RULE_FLAGS | PACK_HAS_PORT | PACK_HAS_GROUP | PACK_HAS_PRIORITY))
		return -EBADMSG;
	rh.flags = (uint16_t)(head & WIRE_RULE_FLAGS);
	if (head & PACK_HAS_PORT) {
		v = in_varint(&i);
		if (v == 0 || v > UINT16_MAX)
			return -EBADMSG;
		rh.port = (uint16_t)v;
	}
	if (head & PACK_HAS_GROUP && (rh.group = in_varint(&i)) == 0)
		return -EBADMSG;
	if (head & PACK_HAS_PRIORITY && (rh.priority = in_varint(&i)) == 0)
		return -EBADMSG;
	v = in_varint(&i);
	if (v > MPF_FLOW_ITEMS_MAX)
		return -EBADMSG;
	rh.n_items = (uint16_t)v;
	v = in_varint(&i);
	if (v > MPF_FLOW_ACTIONS_MAX)
		return -EBADMSG;
	rh.n_actions = (uint16_t)v;
	for (unsigned e = 0; e < (unsigned)rh.n_items + rh.n_actions && !i.bad && !o.full; e++) {
		bool action = e >= rh.n_items;
		unsigned at = action ? e - rh.n_items : e;

		unpack_element(&i, &o, action,
			       memo == NULL || at >= PACK_MEMO_ELEMENTS ? NULL
			       : action					? &memo->action[at]
									: &memo->item[at]);
	}
	if (o.full && !i.bad)
		return -EMSGSIZE; /* as far as it was read, it was a packed rule */
	if (i.bad || i.left != 0)
		return -EBADMSG;
	header.length = (uint32_t)o.length;
	memcpy(h, &header, sizeof(header));
	memcpy(r, &rh, sizeof(rh));
	return (int)o.length;
}
