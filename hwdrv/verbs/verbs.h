/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verbs backend: rte_flow rules programmed into an RDMA NIC through
 * libibverbs flow steering (ibv_create_flow). Its files:
 *   translate.c  a rule -> the ibv_flow_attr + specs of each device flow
 *                (pure: no device, usable by flowctl's dry run)
 *   describe.c   a translated flow, decoded field by field and as hex
 *   device.c     open/close: device, port, PD, CQs, WQs, capability probes
 *   flows.c      the hwdrv ops: validate, create, destroy, isolate; the
 *                hashing QPs shared by rules; global bit-masks
 *   counters.c   ibv_counters read into the shared counters region
 *   rxq.c        delivery: attached RX queues' buffers posted, their CQs
 *                polled, descriptors published to the client (zero-copy)
 *
 * Queues. Each RX queue is a work queue (WQ) with its extended CQ. A flow reaches a
 * queue set through a hashing QP over an indirection table of WQs: QUEUE
 * is a one-entry table with no hash fields, RSS the rule's queues with its
 * hash fields and key. QPs are made on first use and shared by every flow
 * with the same (queues, hash fields, key). One more WQ, the sink, never
 * gets receive buffers: flows that must not deliver (DROP where the device
 * has no drop action, egress rules, rules without a fate) point at it.
 *
 * Everything here belongs to the primary's one thread.
 */
#ifndef MPFLOW_VERBS_H
#define MPFLOW_VERBS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <infiniband/verbs.h>

#include "hwdrv/hwdrv.h"
#include "shm/ring.h"
#include "shm/rxq.h"

/* Device flows one rule may become (hidden rules of the emulations). */
#define VERBS_FLOWS_MAX 16
/* Specs in one flow: pattern specs and action specs. */
#define VERBS_SPECS_MAX 24
/* Bytes of one ibv_flow_attr and its specs. */
#define VERBS_FLOW_BYTES                                                                           \
	(sizeof(struct ibv_flow_attr) + VERBS_SPECS_MAX * sizeof(struct ibv_flow_spec))
/* Device priority levels per rte_flow priority: the DUP copies (0), then
 * flows whose last header is L4 or a tunnel (1), L3 (2), L2 (3), so that
 * the more specific of two overlapping flows at one priority is tried
 * first, as mlx5 does (its three levels per priority: L4, L3, L2). */
#define VERBS_SUBLEVELS 4
/* Bytes of one receive buffer: a 1500-byte MTU frame and its headers with
 * room to spare (a larger frame is dropped, counted, as mlx5 does with one
 * scatter entry). Buffers per queue: --rxq-size / this, at most what the
 * device's WQs and CQs hold. */
#define VERBS_RX_BUFFER_SIZE 2048u
/* Completions one queue gives per service pass, so that one busy queue
 * cannot starve the loop's clients. */
#define VERBS_POLL_BUDGET 256u
/* The Toeplitz key length verbs devices take. */
#define VERBS_RSS_KEY_LENGTH 40
/* The tag FLAG sets. MARK id n is tag n + 1 (tag 0 is no tag), so its ids
 * stay below VERBS_TAG_FLAG - 1. */
#define VERBS_TAG_FLAG 0xffffffu

/* Spec kinds the device was found to take (verbs_caps.specs). */
enum verbs_spec_kind {
	VERBS_SPEC_ETH,
	VERBS_SPEC_IPV4,
	VERBS_SPEC_IPV4_EXT,
	VERBS_SPEC_IPV6,
	VERBS_SPEC_TCP,
	VERBS_SPEC_UDP,
	VERBS_SPEC_VXLAN,
	VERBS_SPEC_GRE,
	VERBS_SPEC_MPLS,
	VERBS_SPEC_ESP,
	VERBS_SPEC_INNER, /* IBV_FLOW_SPEC_INNER on the specs after a tunnel */
	VERBS_SPEC_DROP,
	VERBS_SPEC_TAG,
	VERBS_SPEC_COUNT,
	VERBS_SPEC_KINDS
};
#define VERBS_CAP(kind) (1u << (kind))

/* --- spec types as data (specs.c) --- */

/* A field of a spec's filter (the val or mask struct). */
struct verbs_spec_field {
	const char *name;
	uint8_t offset, size;
	uint8_t format; /* enum rule_field_format */
};

/* A matching spec type: its size, its filters' offsets, their fields. */
struct verbs_spec_layout {
	uint32_t type; /* IBV_FLOW_SPEC_*, without INNER */
	const char *name;
	uint16_t size, val, mask;
	const struct verbs_spec_field *fields;
	uint8_t n_fields;
};

/* The layout of a matching spec type (INNER ignored), NULL for an action
 * spec or an unknown type. */
const struct verbs_spec_layout *verbs_spec_layout(uint32_t type);
/* The enum verbs_spec_kind of a spec type, -1 if none. */
int verbs_spec_kind(uint32_t type);

/* What the device takes: probed at open (device.c), or the full profile of
 * verbs_caps_full() for a dry run. Validation and translation read it. */
struct verbs_caps {
	uint16_t levels;    /* device priority levels: 0 .. levels - 1 */
	uint16_t groups;    /* rte_flow groups folded into those levels */
	uint16_t queues;    /* RX queues */
	uint8_t port;	    /* the device port, from 1 */
	uint32_t specs;	    /* VERBS_CAP(enum verbs_spec_kind) bits */
	bool dont_trap;	    /* IBV_FLOW_ATTR_FLAGS_DONT_TRAP */
	bool egress;	    /* IBV_FLOW_ATTR_FLAGS_EGRESS */
	bool partial_masks; /* masks other than all-zero / all-one per field */
	bool global_masks;  /* one mask per layer for the whole device */
	uint32_t tag_max;   /* largest MARK id (its tag is id + 1) */
};

/* Every spec and flag, 16 levels, per-rule partial masks: what mlx5 takes. */
void verbs_caps_full(struct verbs_caps *caps, uint16_t queues, uint16_t groups, uint8_t port);

/* Levels of rte_flow priority each group gets. */
uint32_t verbs_priorities_per_group(const struct verbs_caps *caps);

/* Where a flow's packets go. */
struct verbs_target {
	bool sink;		/* the sink WQ (no queue) */
	uint32_t n_queues;	/* the queue set, in table order */
	const uint16_t *queues; /* the rule's RSS queues, or &queue */
	uint16_t queue;
	uint64_t hash_fields; /* IBV_RX_HASH_* (0: everything to queues[0]) */
	const uint8_t *key;   /* VERBS_RSS_KEY_LENGTH bytes; NULL when no hash */
};

/* One device flow: an ibv_flow_attr followed by its specs, as
 * ibv_create_flow() takes it, and the QP it is created on. */
struct verbs_flow {
	struct verbs_target target;
	char variant[40];     /* which hidden rule this is, for people; "" */
	int32_t count_offset; /* of the COUNT spec in bytes, -1: none */
	uint8_t n_specs;
	int16_t spec_item[VERBS_SPECS_MAX];    /* pattern index of each spec, -1 */
	uint16_t spec_offset[VERBS_SPECS_MAX]; /* in bytes */
	uint16_t length;
	_Alignas(8) uint8_t bytes[VERBS_FLOW_BYTES];
};

/* A rule translated: the flows that together implement it. */
struct verbs_translation {
	unsigned n_flows;
	const char *emulation; /* NULL, or how the rule is emulated */
	struct verbs_flow flows[VERBS_FLOWS_MAX];
};

/*
 * Translate `rule` for a device of `caps`. 0, or -ENOTSUP naming the
 * attribute, item or action verbs cannot express (never dropped from the
 * match), -EINVAL for a queue the device does not have. The translation
 * points into `rule` (RSS queues and key) and into static storage: one
 * translation at a time (the primary's thread, or a tool's).
 */
int verbs_translate(const struct verbs_caps *caps, const struct hwdrv_rule *rule,
		    struct verbs_translation *out, struct mpf_flow_error *error);

/* The attr of a translated flow. */
static inline struct ibv_flow_attr *verbs_flow_attr(struct verbs_flow *flow)
{
	return (struct ibv_flow_attr *)(void *)flow->bytes;
}

/* Write `flow` for people: the attr and every spec decoded field by field,
 * each followed by its bytes in hex, then the QP it goes to. */
void verbs_describe(FILE *out, const struct verbs_flow *flow);

/* Name of a spec type ("ETH", "IPV4_EXT", "INNER TCP"...), or NULL. */
const char *verbs_spec_name(uint32_t type, char *buf, size_t size);

/* --- the backend's state (device.c, flows.c, counters.c) --- */

/* A hashing QP over an indirection table, shared by flows. */
struct verbs_qp {
	struct verbs_qp *next;
	uint32_t users;
	uint64_t hash_fields;
	uint8_t key[VERBS_RSS_KEY_LENGTH];
	struct ibv_rwq_ind_table *table;
	struct ibv_qp *qp;
	uint32_t n_queues;
	uint16_t queues[]; /* or the sink: n_queues 0 */
};

/* A layer's device-wide mask, when the device has only one per layer. */
struct verbs_layer_mask {
	uint32_t type; /* spec type, INNER bit included; 0: free */
	uint32_t users;
	uint16_t size;
	uint8_t mask[sizeof(struct ibv_flow_spec)];
};
#define VERBS_LAYER_MASKS_MAX 32

/* One device flow of a rule. */
struct verbs_rule_flow {
	struct ibv_flow *flow;
	struct ibv_counters *counters; /* NULL: not counted */
	struct verbs_qp *qp;
};

/* A rule: its flows, the masks it holds, where it counts. */
struct verbs_rule {
	struct verbs_rule *prev, *next; /* every rule, for polling and close */
	struct region_counter *counter;
	bool counted;
	/* The slot's counts when the rule was made: the region's counts run
	 * on across a slot's lives (readers subtract the baseline taken at
	 * open), the device's start from zero with each rule. */
	uint64_t hits_origin, bytes_origin;
	uint32_t masks; /* bit per verbs.masks[] entry it holds */
	unsigned n_flows;
	struct verbs_rule_flow flows[];
};

/* An attached RX queue (rxq.c): a client's buffers on the queue's WQ. */
struct verbs_rxq {
	uint16_t queue;
	uint32_t owner;
	int memfd;	  /* the memory (shm/rxq.h) */
	int bell[2];	  /* rung for the client: descriptors (an outbound socket pair: we
			   * ring [1], the client polls [0]; shm/doorbell.h) */
	int primary_bell; /* rung by the client: buffers returned (an eventfd) */
	void *mem;
	size_t length;
	uint32_t ring_bytes, return_bytes;
	uint64_t ring_block, return_block, buffer_offset;
	struct rxq_header *header;
	struct rxq_ring_stats *stats;
	struct ring ring;    /* descriptors: we produce */
	struct ring returns; /* buffer indexes: the client produces */
	uint8_t *buffers;
	uint32_t n_buffers, buffer_size;
	uint8_t *state;	     /* per buffer: posted, the client's, free */
	uint32_t *free_list; /* the free ones, to post */
	uint32_t n_free;
	uint32_t generation; /* in each receive's wr_id, with the index */
	struct ibv_mr *mr;
	bool broken;	  /* the client returned what was not its own */
	bool needs_reset; /* an error completion: the WQ is in ERR */
	bool parked;	  /* its WQ would not reset: freed after the WQ */
	struct verbs_rxq *next_parked;
	uint64_t packets, bytes, dropped;
};

struct verbs {
	struct ibv_context *context;
	struct ibv_pd *pd;
	char name[IBV_SYSFS_NAME_MAX];
	struct verbs_caps caps;
	/* The region's counters, and the primary's row of activity stamps
	 * (NULL: none), which the poller bumps for a slot whose counts moved. */
	struct region_counter *counters;
	shm_u64 *activity;
	uint16_t n_queues;
	struct ibv_cq_ex **cqs;	       /* n_queues + 1: the sink's last */
	struct ibv_wq **wqs;	       /* n_queues + 1 */
	struct verbs_qp *qps;	       /* every hashing QP in use */
	struct verbs_qp *sink_qp;      /* the probes' QP */
	struct ibv_flow *default_flow; /* ALL_DEFAULT to queue 0 unless isolated */
	struct verbs_qp *default_flow_qp;
	struct verbs_rule *rules;
	struct verbs_layer_mask masks[VERBS_LAYER_MASKS_MAX];
	/* Delivery (rxq.c). */
	uint32_t rx_buffers;	   /* per queue */
	bool tagged_cqs;	   /* completions carry the flow tag */
	struct verbs_rxq **rxqs;   /* n_queues: the attached ones */
	struct verbs_rxq **spares; /* n_queues: a detached one's memory, for its owner */
	bool *wq_failed;	   /* n_queues: a WQ that would not come back to ready */
	uint32_t *generations;	   /* n_queues: the last attachment's, for wr_ids */
	struct verbs_rxq *parked;  /* detached, its WQ not reset: freed at close */
	struct ibv_comp_channel *channel;
	int epoll_fd; /* the channel and each queue's primary_bell: the loop watches it */
	/* The rule being made: the device is driven by one thread. */
	struct verbs_translation translation;
};

/* device.c */
int verbs_open(struct hwdrv *dev, const struct hwdrv_config *config, struct mpf_flow_error *error);
void verbs_close(struct hwdrv *dev);

/* flows.c */
/* The QP of `target`, made on first use: 0 with *qp, or -errno. */
int verbs_qp_get(struct verbs *v, const struct verbs_target *target, struct verbs_qp **qp);
void verbs_qp_put(struct verbs *v, struct verbs_qp *qp);
int verbs_isolate(struct hwdrv *dev, uint16_t port, bool enable, struct mpf_flow_error *error);
/* Destroy a rule's flows, counters and QP references; the first errno. */
int verbs_rule_destroy(struct verbs *v, struct verbs_rule *r);
/* The flow that takes everything no rule steers, to queue 0. */
int verbs_default_flow_create(struct verbs *v);
void verbs_default_flow_destroy(struct verbs *v);

/* A model of the NIC (the tests' fake, tests/verbs/fake_ibv.c) defines
 * this to receive port 0's frames from a soft packet source (--source);
 * with a real device it is absent and --source is refused. */
int verbs_model_source(struct ibv_context *context, const char *spec, struct mpf_flow_error *error)
	__attribute__((weak));

/* rxq.c */
int verbs_rx_open(struct verbs *v, struct mpf_flow_error *error);
void verbs_rx_close(struct verbs *v);	   /* every queue detached, before the WQs go */
void verbs_rx_close_late(struct verbs *v); /* after the WQs and CQs */
int verbs_queue_attach(struct hwdrv *dev, uint16_t port, uint16_t queue, bool tx, uint32_t owner,
		       int fds[HWDRV_QUEUE_FDS], struct mpf_flow_error *error);
int verbs_queue_detach(struct hwdrv *dev, uint16_t port, uint16_t queue, bool tx, uint32_t owner,
		       struct mpf_flow_error *error);
/* Take the queue from its client: its WQ reset, its memory kept as the
 * owner's spare (`keep`) or freed. */
void verbs_rxq_detach(struct verbs *v, struct verbs_rxq *r, bool keep);
void verbs_queues_release(struct hwdrv *dev, uint32_t owner);
int verbs_event_fd(struct hwdrv *dev);
unsigned verbs_service(struct hwdrv *dev, bool woken);
bool verbs_prepare_sleep(struct hwdrv *dev);
void verbs_finish_sleep(struct hwdrv *dev);

/* counters.c */
void verbs_counters_poll(struct hwdrv *dev);
int verbs_counter_read(struct hwdrv *dev, void *handle, struct mpf_flow_error *error);

#endif
