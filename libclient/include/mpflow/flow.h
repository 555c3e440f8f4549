/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The mpflow rule model: DPDK rte_flow (17.11 edition) attributes, pattern
 * items and actions, with the same names, numbering, field layouts, default
 * masks and semantics as `rte_flow.rst`.
 *
 * Differences from rte_flow, all forced by rules crossing a process boundary:
 *  - the error object carries the *index* of the offending item or action
 *    (`cause`), not a pointer, and a copy of the message, not a pointer;
 *  - RAW's pattern, RSS's key and queue list are pointers to caller memory
 *    (as in later DPDK releases), copied when a rule is sent;
 *  - SECURITY names its session by a 64-bit id.
 *
 * Header fields are in network byte order (the mpf_be* types), as in
 * rte_flow and verbs; fields that are not protocol headers (ANY num, VF id,
 * PORT index, FUZZY thresh, RAW offset/limit/length, action parameters) are
 * in host order.
 *
 * Limits of this implementation are the MPF_FLOW_*_MAX constants; a rule
 * beyond them is refused with -ENOTSUP naming the item or action, never
 * truncated.
 */
#ifndef MPFLOW_FLOW_H
#define MPFLOW_FLOW_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks the symbols libmpflow exports. */
#if defined(__GNUC__)
#define MPF_API __attribute__((visibility("default")))
#else
#define MPF_API
#endif

typedef uint16_t mpf_be16_t; /**< 16 bits in network byte order. */
typedef uint32_t mpf_be32_t; /**< 32 bits in network byte order. */

/** Items in one pattern, END excluded. */
#define MPF_FLOW_ITEMS_MAX 64
/** Actions in one list, END excluded. */
#define MPF_FLOW_ACTIONS_MAX 32
/** Bytes of one RAW pattern. */
#define MPF_FLOW_RAW_PATTERN_MAX 512
/** Queues in one RSS action. */
#define MPF_FLOW_RSS_QUEUES_MAX 512
/** Bytes of one RSS key. */
#define MPF_FLOW_RSS_KEY_MAX 64
/** Bytes of an error message, NUL included. */
#define MPF_FLOW_ERROR_MESSAGE_MAX 160

/** Flow rule attributes. At least one direction must be set. */
struct mpf_flow_attr {
	uint32_t group;		/**< Lower groups are tried first; 0 is the highest. */
	uint32_t priority;	/**< Within a group, lower is tried first. */
	uint32_t ingress : 1;	/**< Rule applies to received packets. */
	uint32_t egress : 1;	/**< Rule applies to transmitted packets. */
	uint32_t reserved : 30; /**< Must be zero. */
};

/** Pattern item types, numbered as in DPDK 17.11. */
enum mpf_flow_item_type {
	MPF_FLOW_ITEM_TYPE_END = 0, /**< End of the pattern. */
	MPF_FLOW_ITEM_TYPE_VOID,    /**< Placeholder, ignored. */
	MPF_FLOW_ITEM_TYPE_INVERT,  /**< Match packets that do not match the pattern. */
	MPF_FLOW_ITEM_TYPE_ANY,	    /**< Any protocol, one or several layers. */
	MPF_FLOW_ITEM_TYPE_PF,	    /**< Traffic addressed to the physical function. */
	MPF_FLOW_ITEM_TYPE_VF,	    /**< Traffic addressed to a virtual function. */
	MPF_FLOW_ITEM_TYPE_PORT,    /**< Traffic from a physical port. */
	MPF_FLOW_ITEM_TYPE_RAW,	    /**< A byte string at an offset. */
	MPF_FLOW_ITEM_TYPE_ETH,
	MPF_FLOW_ITEM_TYPE_VLAN,
	MPF_FLOW_ITEM_TYPE_IPV4,
	MPF_FLOW_ITEM_TYPE_IPV6,
	MPF_FLOW_ITEM_TYPE_ICMP,
	MPF_FLOW_ITEM_TYPE_UDP,
	MPF_FLOW_ITEM_TYPE_TCP,
	MPF_FLOW_ITEM_TYPE_SCTP,
	MPF_FLOW_ITEM_TYPE_VXLAN,
	MPF_FLOW_ITEM_TYPE_E_TAG,
	MPF_FLOW_ITEM_TYPE_NVGRE,
	MPF_FLOW_ITEM_TYPE_MPLS,
	MPF_FLOW_ITEM_TYPE_GRE,
	MPF_FLOW_ITEM_TYPE_FUZZY,
	MPF_FLOW_ITEM_TYPE_GTP,
	MPF_FLOW_ITEM_TYPE_GTPC,
	MPF_FLOW_ITEM_TYPE_GTPU,
	MPF_FLOW_ITEM_TYPE_ESP,
	MPF_FLOW_ITEM_TYPES /**< Number of item types (not an item). */
};

/** One pattern item. spec, last and mask all point to the item's struct. */
struct mpf_flow_item {
	enum mpf_flow_item_type type;
	const void *spec; /**< Values to match, or NULL. */
	const void *last; /**< Upper bounds of ranges, or NULL. */
	const void *mask; /**< Bits of spec/last that count; NULL: the default mask. */
};

/** ANY: `num` layers of any protocol. Default mask: 0 (any number). */
struct mpf_flow_item_any {
	uint32_t num;
};

/** VF: destination virtual function. Default mask: 0 (any VF). */
struct mpf_flow_item_vf {
	uint32_t id;
};

/** PORT: physical port index. Default mask: 0 (any port). */
struct mpf_flow_item_port {
	uint32_t index;
};

/**
 * RAW: `length` bytes of `pattern` at `offset`. No ranges. Default mask:
 * every field exactly. In a mask, `pattern` (when not NULL) holds one mask
 * byte per spec pattern byte.
 */
struct mpf_flow_item_raw {
	uint32_t relative : 1;	/**< Offset counts from the end of the previous item. */
	uint32_t search : 1;	/**< Search from offset (see limit). */
	uint32_t reserved : 30; /**< Must be zero. */
	int32_t offset;		/**< Negative only when relative. */
	uint16_t limit;		/**< Search area for the start of pattern; 0: no limit. */
	uint16_t length;	/**< Pattern length, at most MPF_FLOW_RAW_PATTERN_MAX. */
	const uint8_t *pattern; /**< Bytes to look for. */
};

/** ETH. Default mask: dst and src. */
struct mpf_flow_item_eth {
	uint8_t dst[6];
	uint8_t src[6];
	mpf_be16_t type; /**< EtherType. */
};

/** VLAN (802.1Q/ad tag). Default mask: the whole TCI. */
struct mpf_flow_item_vlan {
	mpf_be16_t tpid; /**< Tag protocol identifier. */
	mpf_be16_t tci;	 /**< PCP (3b), DEI (1b), VID (12b). */
};

/** IPv4 header (rte_ip.h names). */
struct mpf_ipv4_hdr {
	uint8_t version_ihl;
	uint8_t type_of_service;
	mpf_be16_t total_length;
	mpf_be16_t packet_id;
	mpf_be16_t fragment_offset;
	uint8_t time_to_live;
	uint8_t next_proto_id;
	mpf_be16_t hdr_checksum;
	mpf_be32_t src_addr;
	mpf_be32_t dst_addr;
};

/** IPV4. Default mask: source and destination addresses. */
struct mpf_flow_item_ipv4 {
	struct mpf_ipv4_hdr hdr;
};

/** IPv6 header (rte_ip.h names). */
struct mpf_ipv6_hdr {
	mpf_be32_t vtc_flow; /**< Version (4b), traffic class (8b), flow label (20b). */
	mpf_be16_t payload_len;
	uint8_t proto;
	uint8_t hop_limits;
	uint8_t src_addr[16];
	uint8_t dst_addr[16];
};

/** IPV6. Default mask: source and destination addresses. */
struct mpf_flow_item_ipv6 {
	struct mpf_ipv6_hdr hdr;
};

/** ICMP header (rte_icmp.h names). */
struct mpf_icmp_hdr {
	uint8_t icmp_type;
	uint8_t icmp_code;
	mpf_be16_t icmp_cksum;
	mpf_be16_t icmp_ident;
	mpf_be16_t icmp_seq_nb;
};

/** ICMP. Default mask: type and code. */
struct mpf_flow_item_icmp {
	struct mpf_icmp_hdr hdr;
};

/** UDP header (rte_udp.h names). */
struct mpf_udp_hdr {
	mpf_be16_t src_port;
	mpf_be16_t dst_port;
	mpf_be16_t dgram_len;
	mpf_be16_t dgram_cksum;
};

/** UDP. Default mask: source and destination ports. */
struct mpf_flow_item_udp {
	struct mpf_udp_hdr hdr;
};

/** TCP header (rte_tcp.h names). */
struct mpf_tcp_hdr {
	mpf_be16_t src_port;
	mpf_be16_t dst_port;
	mpf_be32_t sent_seq;
	mpf_be32_t recv_ack;
	uint8_t data_off;
	uint8_t tcp_flags;
	mpf_be16_t rx_win;
	mpf_be16_t cksum;
	mpf_be16_t tcp_urp;
};

/** TCP. Default mask: source and destination ports. */
struct mpf_flow_item_tcp {
	struct mpf_tcp_hdr hdr;
};

/** SCTP header (rte_sctp.h names). */
struct mpf_sctp_hdr {
	mpf_be16_t src_port;
	mpf_be16_t dst_port;
	mpf_be32_t tag;
	mpf_be32_t cksum;
};

/** SCTP. Default mask: source and destination ports. */
struct mpf_flow_item_sctp {
	struct mpf_sctp_hdr hdr;
};

/** VXLAN (RFC 7348). Default mask: VNI. */
struct mpf_flow_item_vxlan {
	uint8_t flags; /**< Normally 0x08 (I flag). */
	uint8_t rsvd0[3];
	uint8_t vni[3];
	uint8_t rsvd1;
};

/** E_TAG (IEEE 802.1BR). Default mask: GRP and E-CID base. */
struct mpf_flow_item_e_tag {
	mpf_be16_t tpid;		/**< 0x893F. */
	mpf_be16_t epcp_edei_in_ecid_b; /**< E-PCP (3b), E-DEI (1b), ingress E-CID base (12b). */
	mpf_be16_t rsvd_grp_ecid_b;	/**< Reserved (2b), GRP (2b), E-CID base (12b). */
	uint8_t in_ecid_e;
	uint8_t ecid_e;
};

/** NVGRE (RFC 7637). Default mask: TNI. */
struct mpf_flow_item_nvgre {
	mpf_be16_t c_k_s_rsvd0_ver; /**< Must be 0x2000 per RFC 7637. */
	mpf_be16_t protocol;	    /**< 0x6558. */
	uint8_t tni[3];
	uint8_t flow_id;
};

/** MPLS. Default mask: the label. */
struct mpf_flow_item_mpls {
	uint8_t label_tc_s[3]; /**< Label (20b), TC (3b), bottom of stack (1b). */
	uint8_t ttl;
};

/** GRE. Default mask: protocol. */
struct mpf_flow_item_gre {
	mpf_be16_t c_rsvd0_ver;
	mpf_be16_t protocol;
};

/** FUZZY. Threshold 0 is a perfect match. Default mask: the threshold. */
struct mpf_flow_item_fuzzy {
	uint32_t thresh;
};

/** GTP, GTPC, GTPU (GTPv1). Default mask: TEID. */
struct mpf_flow_item_gtp {
	uint8_t v_pt_rsv_flags;
	uint8_t msg_type;
	mpf_be16_t msg_len;
	mpf_be32_t teid;
};

/** ESP header (rte_esp.h names). */
struct mpf_esp_hdr {
	mpf_be32_t spi;
	mpf_be32_t seq;
};

/** ESP. Default mask: SPI. */
struct mpf_flow_item_esp {
	struct mpf_esp_hdr hdr;
};

/**
 * Default masks, used when an item has spec (and maybe last) but no mask
 * (rte_flow's rte_flow_item_{name}_mask). GTPC and GTPU use the GTP mask.
 */
MPF_API extern const struct mpf_flow_item_any mpf_flow_item_any_mask;
MPF_API extern const struct mpf_flow_item_vf mpf_flow_item_vf_mask;
MPF_API extern const struct mpf_flow_item_port mpf_flow_item_port_mask;
MPF_API extern const struct mpf_flow_item_raw mpf_flow_item_raw_mask;
MPF_API extern const struct mpf_flow_item_eth mpf_flow_item_eth_mask;
MPF_API extern const struct mpf_flow_item_vlan mpf_flow_item_vlan_mask;
MPF_API extern const struct mpf_flow_item_ipv4 mpf_flow_item_ipv4_mask;
MPF_API extern const struct mpf_flow_item_ipv6 mpf_flow_item_ipv6_mask;
MPF_API extern const struct mpf_flow_item_icmp mpf_flow_item_icmp_mask;
MPF_API extern const struct mpf_flow_item_udp mpf_flow_item_udp_mask;
MPF_API extern const struct mpf_flow_item_tcp mpf_flow_item_tcp_mask;
MPF_API extern const struct mpf_flow_item_sctp mpf_flow_item_sctp_mask;
MPF_API extern const struct mpf_flow_item_vxlan mpf_flow_item_vxlan_mask;
MPF_API extern const struct mpf_flow_item_e_tag mpf_flow_item_e_tag_mask;
MPF_API extern const struct mpf_flow_item_nvgre mpf_flow_item_nvgre_mask;
MPF_API extern const struct mpf_flow_item_mpls mpf_flow_item_mpls_mask;
MPF_API extern const struct mpf_flow_item_gre mpf_flow_item_gre_mask;
MPF_API extern const struct mpf_flow_item_fuzzy mpf_flow_item_fuzzy_mask;
MPF_API extern const struct mpf_flow_item_gtp mpf_flow_item_gtp_mask;
MPF_API extern const struct mpf_flow_item_esp mpf_flow_item_esp_mask;

/** Action types, numbered as in DPDK 17.11. */
enum mpf_flow_action_type {
	MPF_FLOW_ACTION_TYPE_END = 0,  /**< End of the list. */
	MPF_FLOW_ACTION_TYPE_VOID,     /**< Placeholder, ignored. */
	MPF_FLOW_ACTION_TYPE_PASSTHRU, /**< Keep processing with later rules. */
	MPF_FLOW_ACTION_TYPE_MARK,     /**< Attach an id to packets. */
	MPF_FLOW_ACTION_TYPE_FLAG,     /**< Flag packets. */
	MPF_FLOW_ACTION_TYPE_QUEUE,    /**< Deliver to one queue (terminating). */
	MPF_FLOW_ACTION_TYPE_DROP,     /**< Drop (terminating). */
	MPF_FLOW_ACTION_TYPE_COUNT,    /**< Count hits and bytes. */
	MPF_FLOW_ACTION_TYPE_DUP,      /**< Copy to a queue (non-terminating). */
	MPF_FLOW_ACTION_TYPE_RSS,      /**< Spread over queues (terminating). */
	MPF_FLOW_ACTION_TYPE_PF,       /**< Redirect to the PF (terminating). */
	MPF_FLOW_ACTION_TYPE_VF,       /**< Redirect to a VF (terminating). */
	MPF_FLOW_ACTION_TYPE_METER,    /**< Meter and police (non-terminating). */
	MPF_FLOW_ACTION_TYPE_SECURITY, /**< Apply a security session. */
	MPF_FLOW_ACTION_TYPES	       /**< Number of action types (not an action). */
};

/** One action; `conf` points to the action's struct, NULL for none. */
struct mpf_flow_action {
	enum mpf_flow_action_type type;
	const void *conf;
};

/** MARK: value returned with matched packets. */
struct mpf_flow_action_mark {
	uint32_t id;
};

/** QUEUE: queue index. */
struct mpf_flow_action_queue {
	uint16_t index;
};

/** DUP: queue index to copy packets to. */
struct mpf_flow_action_dup {
	uint16_t index;
};

/** RSS hash types (the DPDK ETH_RSS_* bits of that edition). */
#define MPF_RSS_IPV4		   (1ull << 2)
#define MPF_RSS_FRAG_IPV4	   (1ull << 3)
#define MPF_RSS_NONFRAG_IPV4_TCP   (1ull << 4)
#define MPF_RSS_NONFRAG_IPV4_UDP   (1ull << 5)
#define MPF_RSS_NONFRAG_IPV4_SCTP  (1ull << 6)
#define MPF_RSS_NONFRAG_IPV4_OTHER (1ull << 7)
#define MPF_RSS_IPV6		   (1ull << 8)
#define MPF_RSS_FRAG_IPV6	   (1ull << 9)
#define MPF_RSS_NONFRAG_IPV6_TCP   (1ull << 10)
#define MPF_RSS_NONFRAG_IPV6_UDP   (1ull << 11)
#define MPF_RSS_NONFRAG_IPV6_SCTP  (1ull << 12)
#define MPF_RSS_NONFRAG_IPV6_OTHER (1ull << 13)
#define MPF_RSS_L2_PAYLOAD	   (1ull << 14)
#define MPF_RSS_IPV6_EX		   (1ull << 15)
#define MPF_RSS_IPV6_TCP_EX	   (1ull << 16)
#define MPF_RSS_IPV6_UDP_EX	   (1ull << 17)
#define MPF_RSS_PORT		   (1ull << 18)
#define MPF_RSS_VXLAN		   (1ull << 19)
#define MPF_RSS_GENEVE		   (1ull << 20)
#define MPF_RSS_NVGRE		   (1ull << 21)
/** Every defined MPF_RSS_* bit. */
#define MPF_RSS_ALL_TYPES (((1ull << 22) - 1) & ~3ull)

/** RSS: Toeplitz hash over `types`, spread over `queue`. */
struct mpf_flow_action_rss {
	uint64_t types;	    /**< MPF_RSS_* bits; 0: the device's default. */
	uint32_t key_len;   /**< 0: the device's default key. */
	uint32_t queue_num; /**< At least 1. */
	const uint8_t *key;
	const uint16_t *queue;
};

/** VF: redirect to VF `id`, or to the original VF when possible. */
struct mpf_flow_action_vf {
	uint32_t original : 1;
	uint32_t reserved : 31; /**< Must be zero. */
	uint32_t id;
};

/** METER: a meter object created through the service. */
struct mpf_flow_action_meter {
	uint32_t mtr_id;
};

/** SECURITY: a security session, by id. */
struct mpf_flow_action_security {
	uint64_t security_session;
};

/** COUNT query (rte_flow_query_count). */
struct mpf_flow_query_count {
	uint32_t reset : 1;	/**< In: reset the counters after reading. */
	uint32_t hits_set : 1;	/**< Out: hits is valid. */
	uint32_t bytes_set : 1; /**< Out: bytes is valid. */
	uint32_t fresh : 1;	/**< In: read the device now, not its last poll (mpflow). */
	uint32_t reserved : 28;
	uint64_t hits;
	uint64_t bytes;
};

/** What an error is about (rte_flow_error_type, 17.11). */
enum mpf_flow_error_type {
	MPF_FLOW_ERROR_TYPE_NONE = 0,	   /**< No error. */
	MPF_FLOW_ERROR_TYPE_UNSPECIFIED,   /**< Cause unspecified. */
	MPF_FLOW_ERROR_TYPE_HANDLE,	   /**< Flow rule (handle). */
	MPF_FLOW_ERROR_TYPE_ATTR_GROUP,	   /**< Group field. */
	MPF_FLOW_ERROR_TYPE_ATTR_PRIORITY, /**< Priority field. */
	MPF_FLOW_ERROR_TYPE_ATTR_INGRESS,  /**< Ingress field. */
	MPF_FLOW_ERROR_TYPE_ATTR_EGRESS,   /**< Egress field. */
	MPF_FLOW_ERROR_TYPE_ATTR,	   /**< Attributes structure. */
	MPF_FLOW_ERROR_TYPE_ITEM_NUM,	   /**< Pattern length. */
	MPF_FLOW_ERROR_TYPE_ITEM,	   /**< Specific pattern item. */
	MPF_FLOW_ERROR_TYPE_ACTION_NUM,	   /**< Number of actions. */
	MPF_FLOW_ERROR_TYPE_ACTION,	   /**< Specific action. */
	MPF_FLOW_ERROR_TYPES		   /**< Number of error types. */
};

/**
 * Verbose error: filled only when a call fails. `cause` is the index of the
 * item (for ITEM / ITEM_NUM) or action (ACTION / ACTION_NUM) at fault, -1
 * otherwise. `message` is always NUL-terminated.
 */
struct mpf_flow_error {
	enum mpf_flow_error_type type;
	int32_t cause;
	char message[MPF_FLOW_ERROR_MESSAGE_MAX];
};

/** Name of an item type as testpmd spells it ("eth", "ipv4", ...), or NULL.
 *  No errors (as the two below). */
MPF_API const char *mpf_flow_item_name(enum mpf_flow_item_type type);
/** Name of an action type as testpmd spells it ("queue", "rss", ...), or NULL. */
MPF_API const char *mpf_flow_action_name(enum mpf_flow_action_type type);
/** Name of an error type ("item", "action", ...), or NULL. */
MPF_API const char *mpf_flow_error_type_name(enum mpf_flow_error_type type);

#ifdef __cplusplus
}
#endif

#endif
