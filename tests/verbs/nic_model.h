/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the fake NIC (fake_ibv.h) does with a frame: parse it as the
 * hardware's parser would, decide whether an ibv_flow_attr and its specs
 * match it, and hash it for RSS. Pure functions, shared by the fake's
 * receive path and the differential test (tests/test_differential.c).
 *
 * The semantics follow mlx5 (docs/backends.md, "The NIC model"); each
 * place the model had to guess says so below:
 *  - a spec constrains the layer it names, outer or (IBV_FLOW_SPEC_INNER)
 *    the one after the tunnel; two specs of one layer both constrain it;
 *  - IPV4, IPV4_EXT, IPV6 require that L3, TCP and UDP that protocol, GRE
 *    an IP protocol 47, whatever their masks (mlx5 sets ip_version and
 *    ip_protocol for them); ETH, VXLAN, MPLS, ESP constrain only what
 *    their masks cover, so a zero mask matches every frame;
 *  - ETH's ether_type is the type after the VLAN tags, its vlan_tag the
 *    outer tag's TCI when that is a customer tag (0x8100; a non-zero mask
 *    requires one); a zero vlan_tag mask matches tagged and untagged
 *    frames alike;
 *  - IPV6's next_hdr is the protocol after the extension headers, as the
 *    device's parser reports it;
 *  - the RSS hash is Toeplitz over source address, destination address,
 *    source port, destination port, in that order, of the fields the QP
 *    names (inner ones with IBV_RX_HASH_INNER); a frame without one of
 *    the named layers is not hashed (hash 0, table entry 0).
 */
#ifndef MPFLOW_TESTS_NIC_MODEL_H
#define MPFLOW_TESTS_NIC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

/* One stack of headers: the outer one, or the one a tunnel carries.
 * Multi-byte fields in network order, as specs hold them. */
struct nic_layers {
	bool eth;
	uint8_t dmac[6], smac[6];
	uint16_t ether_type; /* after the tags */
	bool tagged;
	uint16_t tci; /* the outer tag's */
	uint8_t l3;   /* 0, 4, 6 */
	uint8_t src[16], dst[16];
	uint8_t proto; /* IPv4 protocol, IPv6 next header after extensions */
	uint8_t tos, ttl, ipv4_flags;
	uint32_t flow_label;
	uint8_t l4; /* 0, 6 (TCP), 17 (UDP) */
	uint16_t sport, dport;
};

enum nic_tunnel { NIC_TUNNEL_NONE, NIC_TUNNEL_VXLAN, NIC_TUNNEL_GRE, NIC_TUNNEL_MPLS };

struct nic_frame {
	struct nic_layers outer, inner;
	bool has_inner;
	enum nic_tunnel tunnel;
	uint32_t vni; /* as VXLAN_TUNNEL's tunnel_id: 0, then the 3 VNI bytes */
	uint16_t gre_flags, gre_protocol;
	uint32_t gre_key;
	bool mpls;
	uint32_t mpls_label; /* the first label entry, as on the wire */
	bool esp;
	uint32_t esp_spi, esp_seq;
	bool multicast; /* destination MAC's group bit */
};

/* Parse `length` bytes of an Ethernet frame. Never reads outside them; an
 * unknown or cut header ends the parse (what was read so far stands). */
void nic_parse(const uint8_t *data, size_t length, struct nic_frame *f);

/* A flow's action specs. */
struct nic_actions {
	bool drop;
	bool tagged;
	uint32_t tag;
	struct ibv_counters *counters; /* COUNT's, NULL: none */
};

/* Do the matching specs of `attr` (attr->size bytes, already checked) all
 * hold for `f`? `actions` gets the action specs either way. */
bool nic_flow_matches(const struct ibv_flow_attr *attr, const struct nic_frame *f,
		      struct nic_actions *actions);

/* The Toeplitz hash of `n` bytes with a 40-byte key. */
uint32_t nic_toeplitz(const uint8_t key[40], const uint8_t *data, size_t n);

/* The RSS hash of `f` over `hash_fields` (IBV_RX_HASH_*): false when the
 * frame lacks a layer the fields name (then it goes to table entry 0). */
bool nic_rss_hash(const struct nic_frame *f, uint64_t hash_fields, const uint8_t key[40],
		  uint32_t *hash);

#endif
