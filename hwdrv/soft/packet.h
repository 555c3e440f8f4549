/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A packet as the soft datapath sees it: the frame's bytes and the stack of
 * protocol layers the parser found in it, outermost first, tunnel payloads
 * included (eth / ipv4 / udp / vxlan / eth / ipv6 / tcp is seven layers).
 *
 * Each layer names the pattern item type that describes it and `hdr`, the
 * offset of the bytes laid out exactly as that item's struct: pattern items
 * match a layer by comparing `item size` bytes at `hdr`. The parser pushes a
 * layer only when those bytes and the header's own length lie within the
 * captured frame, so matching never reads past the end. Two layers start
 * before their header proper because the item begins with the previous
 * header's EtherType: VLAN (tpid, tci) and E_TAG (tpid, ...).
 */
#ifndef MPFLOW_SOFT_PACKET_H
#define MPFLOW_SOFT_PACKET_H

#include <stdbool.h>
#include <stdint.h>

#define PACKET_LAYERS_MAX 24

struct packet_layer {
	uint8_t type;	  /* enum mpf_flow_item_type */
	uint8_t fragment; /* IPv4, IPv6: a fragment of a datagram (any) */
	uint16_t hdr;	  /* offset of the item-shaped bytes */
	uint16_t end;	  /* offset where the next layer (or the payload) starts */
};

/* Destination function of a packet: the PF, or VF n. */
#define PACKET_FUNCTION_PF 0xffffu

struct packet {
	const uint8_t *data;
	uint32_t length;      /* bytes captured (at most 65535 are parsed) */
	uint32_t wire_length; /* bytes of the frame on the wire: what COUNT adds */
	uint16_t port;	      /* physical port it arrived on (or leaves by) */
	uint16_t function;    /* VF it is addressed to, or PACKET_FUNCTION_PF */
	bool egress;	      /* being transmitted, not received */
	uint8_t n_layers;
	bool truncated; /* parsing stopped at a header cut short or malformed */
	struct packet_layer layers[PACKET_LAYERS_MAX];
};

/* Well-known UDP ports the parser decodes as tunnels. */
#define PACKET_UDP_VXLAN 4789
#define PACKET_UDP_GTPC	 2123
#define PACKET_UDP_GTPU	 2152
#define PACKET_UDP_MPLS	 6635
#define PACKET_UDP_NAT_T 4500 /* ESP in UDP (RFC 3948) */

/*
 * Fill p->n_layers / p->layers / p->truncated from p->data and p->length.
 * Never reads outside [data, data + length). Unknown protocols end the stack
 * quietly (the rest is payload); `truncated` says a known header was cut.
 */
void packet_parse(struct packet *p);

/* The soft device's MAC address of VF `vf` on `port`: 02:6d:66:PP:VV:VV
 * (PP the port, VVVV the VF number + 1). A frame sent to it is addressed to
 * that VF; any other frame to the PF. */
void packet_vf_mac(uint16_t port, uint16_t vf, uint8_t mac[6]);

/* The function a frame on `port` is addressed to, from its destination MAC. */
uint16_t packet_function(const uint8_t *frame, uint32_t length, uint16_t port, uint16_t vfs);

#endif
