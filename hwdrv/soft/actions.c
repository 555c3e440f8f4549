/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What happens to a packet once classified: the actions of every rule it
 * hit, in rule order (rte_flow.rst, "Actions"):
 *  - COUNT adds the full frame's bytes to the rule's counter;
 *  - METER colors the packet; a color the meter drops ends processing;
 *  - MARK / FLAG set the descriptor's mark and flag (a later rule's MARK
 *    replaces an earlier one's);
 *  - DUP, and QUEUE / RSS / PF / VF as the fate, add a destination queue
 *    (each queue gets a packet at most once);
 *  - DROP, as the fate of the terminating rule, drops the packet; the
 *    copies made before it (DUP, an earlier PASSTHRU rule's fate) still
 *    go to their queues.
 * No terminating rule: the packet goes to its function's default queue
 * (queue 0 of the PF, or its VF's queue) unless the port is isolated.
 * Egress: the packet is transmitted unless dropped; destinations do not
 * apply (validation refuses them on egress rules).
 */
#include <string.h>

#include "hwdrv/soft/soft.h"
#include "shm/region.h"

/* Microsoft's RSS verification key: the default when a rule gives none. */
static const uint8_t default_rss_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

uint32_t soft_toeplitz(const uint8_t *key, unsigned key_len, const uint8_t *input, unsigned length)
{
	uint32_t result = 0;
	uint32_t window = (uint32_t)key[0] << 24 | (uint32_t)key[1 % key_len] << 16 |
			  (uint32_t)key[2 % key_len] << 8 | key[3 % key_len];

	for (unsigned i = 0; i < length; i++) {
		uint8_t next = key[(i + 4) % key_len];

		for (int bit = 7; bit >= 0; bit--) {
			if (input[i] & (1u << bit))
				result ^= window;
			window = window << 1 | ((next >> bit) & 1u);
		}
	}
	return result;
}

#define RSS_DEFAULT_TYPES                                                                          \
	(MPF_RSS_IPV4 | MPF_RSS_IPV6 | MPF_RSS_NONFRAG_IPV4_TCP | MPF_RSS_NONFRAG_IPV4_UDP |       \
	 MPF_RSS_NONFRAG_IPV6_TCP | MPF_RSS_NONFRAG_IPV6_UDP)

/* The hash input of the outermost IP layer: addresses and L4 ports when
 * the L4 protocol's type is asked for, addresses alone when an IP type is
 * (IPV4, *_OTHER, FRAG_*); a packet no asked type covers is not hashed
 * and goes to the first queue, as a NIC's RSS does (mlx5, and the verbs
 * backend's expansion: the rest unhashed). */
uint32_t soft_rss_hash(const struct soft_rss *rss, const struct packet *p, bool *valid)
{
	uint64_t types = rss->types ? rss->types : RSS_DEFAULT_TYPES;
	uint8_t input[36];
	unsigned n = 0;

	*valid = false;
	for (unsigned l = 0; l < p->n_layers; l++) {
		const struct packet_layer *ip = &p->layers[l];
		const struct packet_layer *l4 = l + 1 < p->n_layers ? &p->layers[l + 1] : NULL;
		bool v4 = ip->type == MPF_FLOW_ITEM_TYPE_IPV4;
		uint64_t ip_only, kind;

		if (!v4 && ip->type != MPF_FLOW_ITEM_TYPE_IPV6)
			continue;
		ip_only = v4 ? MPF_RSS_IPV4 : MPF_RSS_IPV6 | MPF_RSS_IPV6_EX;
		if (v4) {
			memcpy(input, p->data + ip->hdr + 12, 8);
			n = 8;
		} else {
			memcpy(input, p->data + ip->hdr + 8, 32);
			n = 32;
		}
		/* The packet's own type: a fragment (whichever; the code before
		 * took a first fragment's ports, and one datagram's fragments
		 * went to different queues), TCP, UDP, SCTP, or other. Its
		 * type hashes addresses and ports; the plain IP type, the
		 * addresses alone; any other type, nothing. */
		if (ip->fragment)
			kind = v4 ? MPF_RSS_FRAG_IPV4 : MPF_RSS_FRAG_IPV6;
		else if (l4 && l4->type == MPF_FLOW_ITEM_TYPE_TCP)
			kind = v4 ? MPF_RSS_NONFRAG_IPV4_TCP : MPF_RSS_NONFRAG_IPV6_TCP;
		else if (l4 && l4->type == MPF_FLOW_ITEM_TYPE_UDP)
			kind = v4 ? MPF_RSS_NONFRAG_IPV4_UDP : MPF_RSS_NONFRAG_IPV6_UDP;
		else if (l4 && l4->type == MPF_FLOW_ITEM_TYPE_SCTP)
			kind = v4 ? MPF_RSS_NONFRAG_IPV4_SCTP : MPF_RSS_NONFRAG_IPV6_SCTP;
		else
			kind = v4 ? MPF_RSS_NONFRAG_IPV4_OTHER : MPF_RSS_NONFRAG_IPV6_OTHER;
		if ((types & kind) && !ip->fragment && l4 &&
		    (l4->type == MPF_FLOW_ITEM_TYPE_TCP || l4->type == MPF_FLOW_ITEM_TYPE_UDP ||
		     l4->type == MPF_FLOW_ITEM_TYPE_SCTP)) {
			memcpy(input + n, p->data + l4->hdr, 4);
			n += 4;
		} else if (!(types & (kind | ip_only))) {
			return 0;
		}
		*valid = true;
		return rss->key_len
			       ? soft_toeplitz(rss->key, rss->key_len, input, n)
			       : soft_toeplitz(default_rss_key, sizeof(default_rss_key), input, n);
	}
	return 0;
}

/* RFC 2698, color-blind: refill both buckets for the time elapsed, then
 * red if the peak bucket lacks the bytes, yellow if the committed one
 * does, else green. */
enum soft_color soft_meter_color(struct soft_meter *m, uint32_t bytes, uint64_t now_ns)
{
	soft_u128 committed, peak;
	enum soft_color color;
	uint64_t elapsed;

	/* Every worker's packets draw on the same buckets. */
	pthread_spin_lock(&m->lock);
	elapsed = now_ns > m->last_ns ? now_ns - m->last_ns : 0;
	committed = m->committed_tokens + (soft_u128)elapsed * m->params.cir / 1000000000u;
	peak = m->peak_tokens + (soft_u128)elapsed * m->params.pir / 1000000000u;
	m->committed_tokens = committed > m->params.cbs ? m->params.cbs : (uint64_t)committed;
	m->peak_tokens = peak > m->params.pbs ? m->params.pbs : (uint64_t)peak;
	m->last_ns = now_ns;
	if (m->peak_tokens < bytes) {
		color = SOFT_RED;
	} else if (m->committed_tokens < bytes) {
		color = SOFT_YELLOW;
		m->peak_tokens -= bytes;
	} else {
		color = SOFT_GREEN;
		m->peak_tokens -= bytes;
		m->committed_tokens -= bytes;
	}
	region_stat_add(&m->packets[color], 1);
	region_stat_add(&m->bytes[color], bytes);
	pthread_spin_unlock(&m->lock);
	return color;
}

struct destinations {
	unsigned n;
	uint16_t queue[CLS_MATCH_MAX + 2]; /* queue indexes (PF queues, then VFs) */
};

static bool has_destination(const struct destinations *d, unsigned queue)
{
	for (unsigned i = 0; i < d->n; i++)
		if (d->queue[i] == queue)
			return true;
	return false;
}

static void add_destination(struct destinations *d, unsigned queue)
{
	if (!has_destination(d, queue))
		d->queue[d->n++] = (uint16_t)queue;
}

/* The queue index of VF `vf`'s queue. */
static unsigned vf_queue(const struct soft *soft, uint32_t vf)
{
	return soft->queues + vf;
}

/* Count a hit of rule `r` where worker `w` counts it. */
static void count_hit(const struct soft_worker *w, const struct soft_rule *r, uint32_t bytes,
		      uint64_t now_ns)
{
	const struct region_shares *sh = &w->soft->shares;

	if (w->id == 0 || sh->base == NULL)
		region_counter_add(r->counter, 1, bytes, now_ns);
	else
		region_share_add(&sh->base[(size_t)(w->id - 1) * sh->max_rules + r->slot], 1, bytes,
				 now_ns);
	if (w->activity)
		region_activity_bump(w->activity, r->slot);
}

/* The rules a packet hit (`result`), applied in order. */
static void apply(struct soft_worker *w, struct soft_port *port, struct packet *p, bool egress,
		  const struct cls_result *res, uint64_t now_ns)
{
	struct soft *soft = w->soft;
	struct region_port *stats = soft_port_stats(soft, port, w->id);
	struct destinations dest = {0};
	struct rxq_desc desc = {
		.wire_length = p->wire_length, .timestamp_ns = now_ns, .port = p->port};
	bool dropped = false;

	for (unsigned i = 0; i < res->n && !dropped; i++) {
		const struct soft_rule *r = (const struct soft_rule *)res->rules[i];

		if (r->counter)
			count_hit(w, r, p->wire_length, now_ns);
		if (r->meter && (r->meter->params.drop &
				 (1u << soft_meter_color(r->meter, p->wire_length, now_ns)))) {
			dropped = true;
			break;
		}
		if (r->mark) {
			desc.flags |= RXQ_DESC_MARK;
			desc.mark = r->mark_id;
		}
		if (r->flag)
			desc.flags |= RXQ_DESC_FLAG;
		if (r->dup)
			add_destination(&dest, r->dup_queue);
		switch (r->fate) {
		case MPF_FLOW_ACTION_TYPE_QUEUE:
			add_destination(&dest, r->queue);
			break;
		case MPF_FLOW_ACTION_TYPE_RSS: {
			bool valid;
			uint32_t hash = soft_rss_hash(r->rss, p, &valid);

			if (valid) {
				desc.flags |= RXQ_DESC_RSS;
				desc.rss_hash = hash;
			}
			add_destination(&dest, r->rss->queue[hash % r->rss->queue_num]);
			break;
		}
		case MPF_FLOW_ACTION_TYPE_PF:
			add_destination(&dest, 0);
			break;
		case MPF_FLOW_ACTION_TYPE_VF:
			add_destination(
				&dest,
				vf_queue(soft, r->vf_original && p->function != PACKET_FUNCTION_PF
						       ? p->function
						       : r->vf));
			break;
		case MPF_FLOW_ACTION_TYPE_DROP:
			dropped = true;
			break;
		default:
			break;
		}
	}
	if (res->overflow)
		shm_add_relaxed64(&port->overflow, 1); /* any worker: several writers */
	if (egress) {
		if (dropped) {
			region_stat_add(&stats->value[REGION_PORT_TX_DROPPED], 1);
			return;
		}
		soft_transmit(w, port, p, now_ns);
		return;
	}
	/* DROP drops the packet, not the copies made before it (an earlier
	 * PASSTHRU rule's fate, a DUP): those are delivered all the same. */
	for (unsigned i = 0; i < dest.n; i++)
		soft_deliver(w, port, dest.queue[i], p, &desc);
	if (dropped) {
		region_stat_add(&stats->value[REGION_PORT_RX_DROPPED], 1);
	} else if (!res->terminated && !shm_load_relaxed32(&port->isolated)) {
		/* No rule decided: the port's default queue (unless a
		 * pass-through copy went there already), and the packet says
		 * so: queue 0 by a rule and by default differ. */
		unsigned q = p->function == PACKET_FUNCTION_PF ? 0 : vf_queue(soft, p->function);

		desc.flags |= RXQ_DESC_DEFAULT;
		if (!has_destination(&dest, q))
			soft_deliver(w, port, q, p, &desc);
		region_stat_add(&stats->value[REGION_PORT_RX_DEFAULT], 1);
	} else if (dest.n == 0) {
		region_stat_add(&stats->value[REGION_PORT_RX_UNDELIVERED], 1);
	}
}

void soft_process(struct soft_worker *w, struct soft_port *port, struct packet *p, bool egress,
		  uint64_t now_ns)
{
	struct cls_result result;

	p->egress = egress;
	cls_lookup(&w->soft->cls, p, &result);
	apply(w, port, p, egress, &result, now_ns);
}

void soft_process_burst(struct soft_worker *w, struct soft_port *port, struct packet *pkts,
			unsigned n, bool egress, uint64_t now_ns)
{
	for (unsigned done = 0; done < n; done += CLS_BURST) {
		const struct packet *burst[CLS_BURST];
		struct cls_result result[CLS_BURST];
		unsigned m = n - done < CLS_BURST ? n - done : CLS_BURST;

		for (unsigned i = 0; i < m; i++) {
			pkts[done + i].egress = egress;
			burst[i] = &pkts[done + i];
		}
		cls_lookup_burst(&w->soft->cls, burst, m, result);
		for (unsigned i = 0; i < m; i++)
			apply(w, port, &pkts[done + i], egress, &result[i], now_ns);
	}
}
