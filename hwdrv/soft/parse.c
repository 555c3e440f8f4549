/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The soft datapath's packet parser: one pass from the outermost header in,
 * each step checking that the bytes it reads lie inside the frame.
 *
 * Decoded: Ethernet, 802.1Q / 802.1ad / QinQ tags (any depth), E-TAG
 * (802.1BR), MPLS label stacks (EtherType 0x8847/0x8848, MPLS in GRE, MPLS in
 * UDP 6635) and the IP packet or Ethernet pseudowire they carry, IPv4
 * (options skipped; later fragments carry no L4), IPv6 (hop by hop, routing,
 * fragment, destination options and AH walked), IP in IP, ICMP, UDP, TCP
 * (options skipped), SCTP, ESP, GRE (checksum, key and sequence fields
 * skipped; NVGRE when K is set and the payload is 0x6558), VXLAN (UDP 4789),
 * GTP-C (UDP 2123) and GTP-U (UDP 2152, with its optional fields and
 * extension headers walked to the inner IP packet).
 */
#include <string.h>

#include <mpflow/flow.h>

#include "hwdrv/soft/packet.h"

enum next {
	NEXT_NONE,
	NEXT_ETH,
	NEXT_ETHERTYPE, /* `type` holds the EtherType at offset - 2 */
	NEXT_IPV4,
	NEXT_IPV6,
	NEXT_IP_GUESS,	   /* IPv4 or IPv6 from the version nibble */
	NEXT_MPLS_PAYLOAD, /* what a label stack carries: IP or Ethernet */
	NEXT_IP_PROTO,	   /* `type` holds the IP protocol */
	NEXT_MPLS,
};

struct cursor {
	struct packet *p;
	uint32_t offset; /* where the next header starts */
	uint32_t length;
	unsigned type;
};

static unsigned be16(const uint8_t *b)
{
	return (unsigned)b[0] << 8 | b[1];
}

static bool has(const struct cursor *c, uint32_t from, uint32_t bytes)
{
	return from <= c->length && bytes <= c->length - from;
}

/* Push a layer whose item bytes start at `hdr` and whose header ends at
 * `end`; both must be inside the frame. */
static bool push(struct cursor *c, enum mpf_flow_item_type type, uint32_t hdr, uint32_t end)
{
	struct packet *p = c->p;

	if (p->n_layers == PACKET_LAYERS_MAX || end > c->length) {
		p->truncated = true;
		return false;
	}
	p->layers[p->n_layers++] = (struct packet_layer){
		.type = (uint8_t)type, .hdr = (uint16_t)hdr, .end = (uint16_t)end};
	c->offset = end;
	return true;
}

static enum next cut(struct cursor *c)
{
	c->p->truncated = true;
	return NEXT_NONE;
}

static enum next from_ethertype(struct cursor *c, unsigned ethertype)
{
	switch (ethertype) {
	case 0x0800:
		return NEXT_IPV4;
	case 0x86dd:
		return NEXT_IPV6;
	case 0x8100:
	case 0x88a8:
	case 0x9100:
	case 0x893f:
		c->type = ethertype;
		return NEXT_ETHERTYPE;
	case 0x8847:
	case 0x8848:
		return NEXT_MPLS;
	case 0x6558:
		return NEXT_ETH;
	default:
		return NEXT_NONE;
	}
}

static enum next parse_eth(struct cursor *c)
{
	uint32_t o = c->offset;

	if (!has(c, o, 14) || !push(c, MPF_FLOW_ITEM_TYPE_ETH, o, o + 14))
		return cut(c);
	return from_ethertype(c, be16(c->p->data + o + 12));
}

/* A tag that follows an EtherType: VLAN (tpid, tci, type) or E-TAG (tpid,
 * six bytes, type). The item's bytes start at the tpid. */
static enum next parse_tag(struct cursor *c)
{
	uint32_t o = c->offset;
	bool etag = c->type == 0x893f;
	uint32_t body = etag ? 6 : 2;

	if (!has(c, o, body + 2) ||
	    !push(c, etag ? MPF_FLOW_ITEM_TYPE_E_TAG : MPF_FLOW_ITEM_TYPE_VLAN, o - 2,
		  o + body + 2))
		return cut(c);
	return from_ethertype(c, be16(c->p->data + o + body));
}

static enum next parse_mpls(struct cursor *c)
{
	for (;;) {
		uint32_t o = c->offset;

		if (!has(c, o, 4) || !push(c, MPF_FLOW_ITEM_TYPE_MPLS, o, o + 4))
			return cut(c);
		if (c->p->data[o + 2] & 0x1) /* bottom of stack */
			return NEXT_MPLS_PAYLOAD;
	}
}

/*
 * What a label stack carries, by its first nibble (RFC 4385): 4 or 6, an
 * IP packet; 0, a pseudowire's control word, then the Ethernet frame it
 * carries (RFC 4448; the word is the Ethernet layer's, before its header);
 * anything else, an Ethernet frame without one. A pseudowire without a
 * control word whose destination MAC begins with nibble 0, 4 or 6 is read
 * as the others: the reason RFC 4928 has pseudowires use the word.
 */
static enum next parse_mpls_payload(struct cursor *c)
{
	uint32_t o = c->offset;

	if (!has(c, o, 1))
		return NEXT_NONE;
	switch (c->p->data[o] >> 4) {
	case 4:
		return NEXT_IPV4;
	case 6:
		return NEXT_IPV6;
	case 0:
		if (!has(c, o, 4))
			return cut(c);
		c->offset = o + 4;
		return NEXT_ETH;
	default:
		return NEXT_ETH;
	}
}

static enum next parse_ipv4(struct cursor *c)
{
	const uint8_t *b = c->p->data + c->offset;
	uint32_t o = c->offset, header;

	if (!has(c, o, 20) || b[0] >> 4 != 4)
		return cut(c);
	header = (uint32_t)(b[0] & 0xf) * 4;
	if (header < 20 || !has(c, o, header) || !push(c, MPF_FLOW_ITEM_TYPE_IPV4, o, o + header))
		return cut(c);
	/* More fragments, or an offset: part of a datagram. */
	c->p->layers[c->p->n_layers - 1].fragment = (be16(b + 6) & 0x3fff) != 0;
	if (be16(b + 6) & 0x1fff) /* a later fragment: no L4 header here */
		return NEXT_NONE;
	c->type = b[9];
	return NEXT_IP_PROTO;
}

static enum next parse_ipv6(struct cursor *c)
{
	uint32_t o = c->offset, end = o + 40;
	unsigned next;
	bool fragment = false;

	if (!has(c, o, 40) || c->p->data[o] >> 4 != 6)
		return cut(c);
	next = c->p->data[o + 6];
	/* Extension headers belong to the IPv6 layer: walk them. */
	for (int i = 0; i < 8; i++) {
		uint32_t len;

		if (next != 0 && next != 43 && next != 44 && next != 60 && next != 51)
			break;
		if (!has(c, end, 8))
			return cut(c);
		if (next == 44) {
			len = 8;
			fragment = true;
			if (be16(c->p->data + end + 2) & 0xfff8) { /* a later fragment */
				if (push(c, MPF_FLOW_ITEM_TYPE_IPV6, o, end + len))
					c->p->layers[c->p->n_layers - 1].fragment = true;
				return NEXT_NONE;
			}
		} else if (next == 51) {
			len = ((uint32_t)c->p->data[end + 1] + 2) * 4;
		} else {
			len = ((uint32_t)c->p->data[end + 1] + 1) * 8;
		}
		if (!has(c, end, len))
			return cut(c);
		next = c->p->data[end];
		end += len;
	}
	if (!push(c, MPF_FLOW_ITEM_TYPE_IPV6, o, end))
		return cut(c);
	c->p->layers[c->p->n_layers - 1].fragment = fragment;
	c->type = next;
	return NEXT_IP_PROTO;
}

/* GTP-U / GTP-C (v1): 8 bytes, then sequence, N-PDU and next extension type
 * when any of E, S, PN is set, then the chain of extension headers. */
static enum next parse_gtp(struct cursor *c, bool user_plane)
{
	const uint8_t *d = c->p->data;
	uint32_t o = c->offset, end = o + 8;

	if (!has(c, o, 8) || (d[o] >> 5) != 1)
		return cut(c);
	if (d[o] & 0x07) {
		unsigned ext;

		if (!has(c, end, 4))
			return cut(c);
		ext = d[end + 3];
		end += 4;
		while (ext != 0) {
			uint32_t len;

			if (!has(c, end, 1) || d[end] == 0)
				return cut(c);
			len = (uint32_t)d[end] * 4;
			if (!has(c, end, len))
				return cut(c);
			ext = d[end + len - 1];
			end += len;
		}
	}
	if (!push(c, user_plane ? MPF_FLOW_ITEM_TYPE_GTPU : MPF_FLOW_ITEM_TYPE_GTPC, o, end))
		return cut(c);
	/* Only a G-PDU (message type 255) carries a user packet. */
	return user_plane && d[o + 1] == 255 ? NEXT_IP_GUESS : NEXT_NONE;
}

static enum next parse_udp(struct cursor *c)
{
	uint32_t o = c->offset;
	unsigned dst;

	if (!has(c, o, 8) || !push(c, MPF_FLOW_ITEM_TYPE_UDP, o, o + 8))
		return cut(c);
	dst = be16(c->p->data + o + 2);
	switch (dst) {
	case PACKET_UDP_VXLAN:
		if (!has(c, o + 8, 8) || !push(c, MPF_FLOW_ITEM_TYPE_VXLAN, o + 8, o + 16))
			return cut(c);
		return NEXT_ETH;
	case PACKET_UDP_GTPU:
	case PACKET_UDP_GTPC:
		return parse_gtp(c, dst == PACKET_UDP_GTPU);
	case PACKET_UDP_MPLS:
		return NEXT_MPLS;
	case PACKET_UDP_NAT_T:
		/* ESP, unless the non-ESP marker (4 zero bytes: IKE) says not;
		 * a one-byte NAT keepalive is neither. */
		if (!has(c, o + 8, 8) ||
		    (be16(c->p->data + o + 8) == 0 && be16(c->p->data + o + 10) == 0))
			return NEXT_NONE;
		if (!push(c, MPF_FLOW_ITEM_TYPE_ESP, o + 8, o + 16))
			return cut(c);
		return NEXT_NONE;
	default:
		return NEXT_NONE;
	}
}

static enum next parse_gre(struct cursor *c)
{
	const uint8_t *d = c->p->data;
	uint32_t o = c->offset, end;
	unsigned flags, proto;

	if (!has(c, o, 4))
		return cut(c);
	flags = be16(d + o);
	proto = be16(d + o + 2);
	if ((flags & 0x7) != 0) {
		/* Version 1 (PPTP, RFC 2637): a GRE layer (its version is a
		 * field to match), carrying PPP: nothing parsed beyond. Its
		 * key (payload length, call id) is always there, sequence and
		 * acknowledgment numbers when S and A say so. */
		end = o + 4 + (flags & 0x2000 ? 4 : 0) + (flags & 0x1000 ? 4 : 0) +
		      (flags & 0x0080 ? 4 : 0);
		if (!has(c, o, end - o) || !push(c, MPF_FLOW_ITEM_TYPE_GRE, o, end))
			return cut(c);
		return NEXT_NONE;
	}
	/* NVGRE (RFC 7637): K set, C and S clear, Transparent Ethernet. */
	if ((flags & 0xb000) == 0x2000 && proto == 0x6558) {
		if (!has(c, o, 8) || !push(c, MPF_FLOW_ITEM_TYPE_NVGRE, o, o + 8))
			return cut(c);
		return NEXT_ETH;
	}
	end = o + 4 + (flags & 0x8000 ? 4 : 0) + (flags & 0x2000 ? 4 : 0) +
	      (flags & 0x1000 ? 4 : 0);
	if (!has(c, o, end - o) || !push(c, MPF_FLOW_ITEM_TYPE_GRE, o, end))
		return cut(c);
	return from_ethertype(c, proto);
}

static enum next parse_l4(struct cursor *c)
{
	uint32_t o = c->offset;

	switch (c->type) {
	case 1: /* ICMP */
		if (!has(c, o, 8) || !push(c, MPF_FLOW_ITEM_TYPE_ICMP, o, o + 8))
			return cut(c);
		return NEXT_NONE;
	case 4: /* IPv4 in IP */
		return NEXT_IPV4;
	case 41: /* IPv6 in IP */
		return NEXT_IPV6;
	case 6: { /* TCP */
		uint32_t header;

		if (!has(c, o, 20))
			return cut(c);
		header = (uint32_t)(c->p->data[o + 12] >> 4) * 4;
		if (header < 20 || !has(c, o, header) ||
		    !push(c, MPF_FLOW_ITEM_TYPE_TCP, o, o + header))
			return cut(c);
		return NEXT_NONE;
	}
	case 17:
		return parse_udp(c);
	case 47:
		return parse_gre(c);
	case 50: /* ESP */
		if (!has(c, o, 8) || !push(c, MPF_FLOW_ITEM_TYPE_ESP, o, o + 8))
			return cut(c);
		return NEXT_NONE;
	case 132: /* SCTP */
		if (!has(c, o, 12) || !push(c, MPF_FLOW_ITEM_TYPE_SCTP, o, o + 12))
			return cut(c);
		return NEXT_NONE;
	default:
		return NEXT_NONE;
	}
}

void packet_parse(struct packet *p)
{
	struct cursor c = {.p = p, .length = p->length > 65535 ? 65535 : p->length};
	enum next next = NEXT_ETH;

	p->n_layers = 0;
	p->truncated = false;
	while (next != NEXT_NONE && p->n_layers < PACKET_LAYERS_MAX) {
		switch (next) {
		case NEXT_ETH:
			next = parse_eth(&c);
			break;
		case NEXT_ETHERTYPE:
			next = parse_tag(&c);
			break;
		case NEXT_MPLS:
			next = parse_mpls(&c);
			break;
		case NEXT_MPLS_PAYLOAD:
			next = parse_mpls_payload(&c);
			break;
		case NEXT_IPV4:
			next = parse_ipv4(&c);
			break;
		case NEXT_IPV6:
			next = parse_ipv6(&c);
			break;
		case NEXT_IP_GUESS:
			if (!has(&c, c.offset, 1))
				next = NEXT_NONE;
			else if (p->data[c.offset] >> 4 == 4)
				next = NEXT_IPV4;
			else if (p->data[c.offset] >> 4 == 6)
				next = NEXT_IPV6;
			else
				next = NEXT_NONE;
			break;
		case NEXT_IP_PROTO:
			next = parse_l4(&c);
			break;
		case NEXT_NONE:
			break;
		}
	}
}

void packet_vf_mac(uint16_t port, uint16_t vf, uint8_t mac[6])
{
	unsigned n = (unsigned)vf + 1;

	mac[0] = 0x02;
	mac[1] = 0x6d;
	mac[2] = 0x66;
	mac[3] = (uint8_t)port;
	mac[4] = (uint8_t)(n >> 8);
	mac[5] = (uint8_t)n;
}

uint16_t packet_function(const uint8_t *frame, uint32_t length, uint16_t port, uint16_t vfs)
{
	unsigned n;

	if (length < 6 || frame[0] != 0x02 || frame[1] != 0x6d || frame[2] != 0x66 ||
	    frame[3] != (uint8_t)port)
		return PACKET_FUNCTION_PF;
	n = (unsigned)frame[4] << 8 | frame[5];
	return n >= 1 && n <= vfs ? (uint16_t)(n - 1) : PACKET_FUNCTION_PF;
}
