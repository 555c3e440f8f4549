/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frames built by tests, header by header, in network byte order. Lengths
 * and checksums are filled where the parser or a reader could care.
 */
#ifndef MPFLOW_TESTS_PACKET_BUILDER_H
#define MPFLOW_TESTS_PACKET_BUILDER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct frame {
	uint8_t bytes[2048];
	size_t length;
};

static inline uint8_t *frame_put(struct frame *f, const void *data, size_t n)
{
	uint8_t *at = f->bytes + f->length;

	if (data)
		memcpy(at, data, n);
	else
		memset(at, 0, n);
	f->length += n;
	return at;
}

static inline void frame_be16(uint8_t *at, unsigned v)
{
	at[0] = (uint8_t)(v >> 8);
	at[1] = (uint8_t)v;
}

static inline void frame_eth(struct frame *f, const uint8_t dst[6], const uint8_t src[6],
			     unsigned type)
{
	static const uint8_t d[6] = {0x02, 0, 0, 0, 0, 1}, s[6] = {0x02, 0, 0, 0, 0, 2};
	uint8_t *h = frame_put(f, NULL, 14);

	memcpy(h, dst ? dst : d, 6);
	memcpy(h + 6, src ? src : s, 6);
	frame_be16(h + 12, type);
}

/* A tag after an Ethernet header whose type was the TPID. */
static inline void frame_vlan(struct frame *f, unsigned tci, unsigned type)
{
	uint8_t *h = frame_put(f, NULL, 4);

	frame_be16(h, tci);
	frame_be16(h + 2, type);
}

static inline void frame_ipv4(struct frame *f, uint32_t src, uint32_t dst, unsigned proto)
{
	uint8_t *h = frame_put(f, NULL, 20);

	h[0] = 0x45;
	h[8] = 64;
	h[9] = (uint8_t)proto;
	frame_be16(h + 12, src >> 16);
	frame_be16(h + 14, src & 0xffff);
	frame_be16(h + 16, dst >> 16);
	frame_be16(h + 18, dst & 0xffff);
}

static inline void frame_ipv6(struct frame *f, uint8_t src_last, uint8_t dst_last, unsigned proto)
{
	uint8_t *h = frame_put(f, NULL, 40);

	h[0] = 0x60;
	h[6] = (uint8_t)proto;
	h[7] = 64;
	h[8] = 0x20;
	h[9] = 0x01;
	h[23] = src_last;
	h[24] = 0x20;
	h[25] = 0x01;
	h[39] = dst_last;
}

static inline void frame_udp(struct frame *f, unsigned sport, unsigned dport)
{
	uint8_t *h = frame_put(f, NULL, 8);

	frame_be16(h, sport);
	frame_be16(h + 2, dport);
}

static inline void frame_tcp(struct frame *f, unsigned sport, unsigned dport)
{
	uint8_t *h = frame_put(f, NULL, 20);

	frame_be16(h, sport);
	frame_be16(h + 2, dport);
	h[12] = 0x50;
	h[13] = 0x02; /* SYN */
}

static inline void frame_vxlan(struct frame *f, uint32_t vni)
{
	uint8_t *h = frame_put(f, NULL, 8);

	h[0] = 0x08;
	h[4] = (uint8_t)(vni >> 16);
	h[5] = (uint8_t)(vni >> 8);
	h[6] = (uint8_t)vni;
}

static inline void frame_payload(struct frame *f, const char *text, size_t n)
{
	frame_put(f, text, n);
}

/* The common case: eth / ipv4 / udp or tcp, with a payload of `pad` bytes. */
static inline struct frame frame_ipv4_l4(uint32_t src, uint32_t dst, unsigned proto, unsigned sport,
					 unsigned dport, size_t pad)
{
	struct frame f = {.length = 0};

	frame_eth(&f, NULL, NULL, 0x0800);
	frame_ipv4(&f, src, dst, proto);
	if (proto == 6)
		frame_tcp(&f, sport, dport);
	else
		frame_udp(&f, sport, dport);
	frame_put(&f, NULL, pad);
	return f;
}

#endif
