/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The wire format of requests (client -> primary) and completions (primary
 * -> client) carried by the rings. docs/wire-protocol.md is the reference;
 * this header is its code.
 *
 * Every message starts with a 16-byte struct wire_header (magic, version,
 * op, exact length, user_data). A rule is a struct wire_rule_header then one
 * self-describing element per item and per action: {type, parts, length}
 * followed by the parts (spec, last, mask / conf), each padded to 8 bytes.
 * Fixed-size parts are the public item and action structs byte for byte;
 * RAW, RSS and VF (pointers, bit-fields) have explicit encodings below.
 * Both ends run on one host: host-order fields travel in host order.
 *
 * The decoder is the trust boundary: it copies the message once into the
 * request's private buffer, then bounds-checks every length, count and offset
 * in that copy; unknown types, flag bits and non-zero reserved fields are
 * refused. It checks structure only: rule semantics are rule_validate()'s.
 */
#ifndef MPFLOW_SHM_WIRE_H
#define MPFLOW_SHM_WIRE_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpflow/flow.h>

#define WIRE_MAGIC	 0x464du /* "MF" */
#define WIRE_VERSION	 2u	 /* 2: completions carry a count */
#define WIRE_MSG_MAX	 16384u	 /* bytes of one message, header included */
#define WIRE_DESTROY_MAX 1024u	 /* handles in one DESTROY */
#define WIRE_BATCH_MAX	 64u	 /* requests in one BATCH */

enum wire_op {
	WIRE_OP_VALIDATE = 1,
	WIRE_OP_CREATE,
	WIRE_OP_DESTROY,
	WIRE_OP_FLUSH,
	WIRE_OP_QUERY,
	WIRE_OP_ISOLATE,
	WIRE_OP_BATCH,
	WIRE_OP_COMPLETION,
	WIRE_OP_RXQ_ATTACH, /* the answer's fds come on the socket, before it */
	WIRE_OP_RXQ_DETACH,
	WIRE_OP_METER_CREATE,
	WIRE_OP_METER_DESTROY,
	WIRE_OP_METER_QUERY,
	WIRE_OP_AUDIT, /* the primary checks its own consistency */
	WIRE_OP_PORT_STATS_RESET,
	WIRE_OP_TXQ_ATTACH, /* as RXQ_ATTACH: fds on the socket, before the answer */
	WIRE_OP_TXQ_DETACH,
	WIRE_OP_END_
};

struct wire_header {
	uint16_t magic;
	uint8_t version;
	uint8_t op;	    /* enum wire_op */
	uint32_t length;    /* the whole message, this header included */
	uint64_t user_data; /* the client's; echoed in the completion */
};
_Static_assert(sizeof(struct wire_header) == 16, "wire header");

/* VALIDATE / CREATE body. */
#define WIRE_RULE_INGRESS    0x1u
#define WIRE_RULE_EGRESS     0x2u
#define WIRE_RULE_PERSISTENT 0x4u /* CREATE: owned by the instance, not the client */
#define WIRE_RULE_FLAGS	     0x7u

struct wire_rule_header {
	uint16_t port;
	uint16_t flags;	    /* WIRE_RULE_* */
	uint16_t n_items;   /* END excluded */
	uint16_t n_actions; /* END excluded */
	uint32_t group;
	uint32_t priority;
};
_Static_assert(sizeof(struct wire_rule_header) == 16, "wire rule header");

#define WIRE_PART_SPEC 0x1u /* items */
#define WIRE_PART_LAST 0x2u
#define WIRE_PART_MASK 0x4u
#define WIRE_PART_CONF 0x1u /* actions */

struct wire_element {
	uint16_t type;
	uint8_t parts; /* WIRE_PART_* present, in that order */
	uint8_t reserved;
	uint32_t length; /* bytes of parts that follow, a multiple of 8 */
};
_Static_assert(sizeof(struct wire_element) == 8, "wire element");

/* RAW part: this, then pattern_length bytes (0: pattern is NULL). A pattern
 * in last or mask has the spec's length. */
#define WIRE_RAW_RELATIVE	0x1u
#define WIRE_RAW_SEARCH		0x2u
#define WIRE_RAW_RESERVED_SHIFT 2
struct wire_raw {
	uint32_t flags; /* RELATIVE, SEARCH, then the 30 reserved bits */
	int32_t offset;
	uint16_t limit;
	uint16_t length;
	uint16_t pattern_length;
	uint16_t reserved;
};
_Static_assert(sizeof(struct wire_raw) == 16, "wire raw");

/* RSS conf: this, then key_len key bytes, then queue_num u16 (each padded). */
struct wire_rss {
	uint64_t types;
	uint32_t key_len;
	uint32_t queue_num;
};
_Static_assert(sizeof(struct wire_rss) == 16, "wire rss");

/* VF conf. */
#define WIRE_VF_ORIGINAL       0x1u
#define WIRE_VF_RESERVED_SHIFT 1
struct wire_vf {
	uint32_t flags; /* ORIGINAL, then the 31 reserved bits */
	uint32_t id;
};

struct wire_destroy {
	uint16_t port;
	uint16_t reserved;
	uint32_t count; /* 1..WIRE_DESTROY_MAX handles follow */
};

#define WIRE_FLUSH_PERSISTENT 0x1u /* the instance's rules on the port, not the client's */
struct wire_flush {
	uint16_t port;
	uint16_t flags; /* WIRE_FLUSH_* */
	uint16_t reserved[2];
};

#define WIRE_QUERY_RESET 0x1u /* move the baseline after reading */
#define WIRE_QUERY_FRESH 0x2u /* read the device, not the last poll */
struct wire_query {
	uint16_t port;
	uint16_t action; /* enum mpf_flow_action_type: COUNT */
	uint32_t flags;	 /* WIRE_QUERY_* */
	uint64_t handle;
};

struct wire_isolate {
	uint16_t port;
	uint16_t reserved;
	uint32_t enable; /* 0 or 1 */
};

/* RXQ_ATTACH / RXQ_DETACH body. */
struct wire_rxq {
	uint16_t port;
	uint16_t queue;
	uint32_t reserved;
};

/* METER_CREATE body. */
struct wire_meter {
	uint16_t port;
	uint16_t reserved;
	uint32_t id;
	uint32_t drop; /* bit per color dropped: 1 green, 2 yellow, 4 red */
	uint32_t reserved1;
	uint64_t cir, cbs, pir, pbs; /* bytes per second, bytes */
};
_Static_assert(sizeof(struct wire_meter) == 48, "wire meter");

/* METER_DESTROY / METER_QUERY body. */
#define WIRE_METER_CLEAR 0x1u /* QUERY: clear the statistics after reading */
struct wire_meter_ref {
	uint16_t port;
	uint16_t flags;
	uint32_t id;
};

/* PORT_STATS_RESET body: the port; the rest must be zero. */
struct wire_port_ref {
	uint16_t port;
	uint16_t reserved;
	uint32_t reserved1;
};

/* AUDIT body: nothing to ask yet; both words must be zero. */
struct wire_audit {
	uint32_t flags;
	uint32_t reserved;
};

#define WIRE_BATCH_STOP_ON_ERROR 0x1u
struct wire_batch {
	uint32_t count; /* 1..WIRE_BATCH_MAX messages follow, each 8-aligned */
	uint32_t flags; /* WIRE_BATCH_* */
};

/* COMPLETION body: this, then (COUNT_DATA) struct wire_count, then
 * message_length bytes of message, not NUL-terminated. */
#define WIRE_COMPLETION_COUNT_DATA 0x1u
#define WIRE_COMPLETION_METER_DATA 0x2u /* then struct wire_meter_stats */
struct wire_completion_body {
	uint8_t request_op;
	uint8_t flags;
	uint16_t error_type; /* enum mpf_flow_error_type */
	int32_t status;	     /* 0 or -errno */
	int32_t cause;	     /* item / action index, or -1 */
	uint16_t message_length;
	uint16_t reserved;
	uint64_t handle; /* CREATE: the new rule */
	uint64_t count;	 /* FLUSH: rules destroyed; AUDIT: rules checked */
};
_Static_assert(sizeof(struct wire_completion_body) == 32, "wire completion");

#define WIRE_COUNT_HITS_SET  0x1u
#define WIRE_COUNT_BYTES_SET 0x2u
struct wire_count {
	uint32_t flags;
	uint32_t reserved;
	uint64_t hits;
	uint64_t bytes;
};

/* A meter's packets and bytes by color: green, yellow, red. */
struct wire_meter_stats {
	uint64_t packets[3];
	uint64_t bytes[3];
};

/* The largest encoded completion: every part present, a full message, the
 * padding to 8 bytes. */
#define WIRE_COMPLETION_MAX                                                                        \
	((sizeof(struct wire_header) + sizeof(struct wire_completion_body) +                       \
	  sizeof(struct wire_count) + sizeof(struct wire_meter_stats) +                            \
	  MPF_FLOW_ERROR_MESSAGE_MAX + 7u) /                                                       \
	 8u * 8u)

/* ------------------------------------------------------------------------ */
/* Decoded forms                                                            */
/* ------------------------------------------------------------------------ */

struct wire_rule {
	uint16_t port;
	bool persistent;
	struct mpf_flow_attr attr;
	unsigned n_items, n_actions; /* END excluded; the arrays end with END */
	struct mpf_flow_item items[MPF_FLOW_ITEMS_MAX + 1];
	struct mpf_flow_action actions[MPF_FLOW_ACTIONS_MAX + 1];
};

/* A request decoded from its private copy. Pointers in it (specs, patterns,
 * handles) point into `buf` or `scratch`: it is self-contained. */
struct wire_request {
	struct wire_header header;
	union {
		struct wire_rule rule; /* VALIDATE, CREATE */
		struct {
			uint16_t port;
			uint32_t count;
			const uint64_t *handles;
		} destroy;
		struct {
			uint16_t port;
			bool persistent;
		} flush;
		struct {
			uint16_t port;
			uint16_t action;
			bool reset;
			bool fresh;
			uint64_t handle;
		} query;
		struct {
			uint16_t port;
			bool enable;
		} isolate;
		struct {
			uint16_t port;
		} port_ref; /* PORT_STATS_RESET */
		struct {
			uint32_t count;
			bool stop_on_error;
		} batch;
		struct {
			uint16_t port;
			uint16_t queue;
		} rxq;
		struct {
			uint16_t port;
			uint32_t id;
			uint32_t drop;
			bool clear;
			uint64_t cir, cbs, pir, pbs;
		} meter;
	};
	/* The message decoded: `copy` (wire_decode_request), or the caller's
	 * private buffer (wire_decode_private). */
	const uint8_t *buf;
	alignas(8) uint8_t copy[WIRE_MSG_MAX];
	/* Decoded RAW / RSS / VF structs; sized for the worst legal rule. */
	alignas(8) uint8_t scratch[8192];
	size_t scratch_used;
};

struct wire_completion {
	uint64_t user_data;
	uint8_t request_op;
	int32_t status; /* 0 or -errno */
	struct mpf_flow_error error;
	uint64_t handle;
	uint64_t count; /* FLUSH, AUDIT */
	bool has_query;
	struct mpf_flow_query_count query;
	bool has_meter;
	struct wire_meter_stats meter;
};

/* ------------------------------------------------------------------------ */
/* Encoders: return the message length, or -errno with `error` filled.      */
/* -EMSGSIZE: the message would not fit in `cap` (or WIRE_MSG_MAX).         */
/* ------------------------------------------------------------------------ */

/* VALIDATE or CREATE. The rule is checked with rule_validate() first. */
int wire_encode_rule(void *buf, size_t cap, enum wire_op op, uint64_t user_data, uint16_t port,
		     bool persistent, const struct mpf_flow_attr *attr,
		     const struct mpf_flow_item *pattern, const struct mpf_flow_action *actions,
		     struct mpf_flow_error *error);
int wire_encode_destroy(void *buf, size_t cap, uint64_t user_data, uint16_t port,
			const uint64_t *handles, uint32_t count, struct mpf_flow_error *error);
int wire_encode_flush(void *buf, size_t cap, uint64_t user_data, uint16_t port, bool persistent,
		      struct mpf_flow_error *error);
int wire_encode_query(void *buf, size_t cap, uint64_t user_data, uint16_t port, uint64_t handle,
		      enum mpf_flow_action_type action, uint32_t flags,
		      struct mpf_flow_error *error);
int wire_encode_isolate(void *buf, size_t cap, uint64_t user_data, uint16_t port, bool enable,
			struct mpf_flow_error *error);
int wire_encode_port_stats_reset(void *buf, size_t cap, uint64_t user_data, uint16_t port,
				 struct mpf_flow_error *error);
int wire_encode_rxq(void *buf, size_t cap, enum wire_op op, uint64_t user_data, uint16_t port,
		    uint16_t queue, struct mpf_flow_error *error);
int wire_encode_meter_create(void *buf, size_t cap, uint64_t user_data, uint16_t port, uint32_t id,
			     uint64_t cir, uint64_t cbs, uint64_t pir, uint64_t pbs, uint32_t drop,
			     struct mpf_flow_error *error);
/* AUDIT. */
int wire_encode_audit(void *buf, size_t cap, uint64_t user_data, struct mpf_flow_error *error);
/* METER_DESTROY or METER_QUERY. */
int wire_encode_meter_ref(void *buf, size_t cap, enum wire_op op, uint64_t user_data, uint16_t port,
			  uint32_t id, bool clear, struct mpf_flow_error *error);
/* `buf` 8-aligned, as every ring record is. */
int wire_encode_completion(void *buf, size_t cap, const struct wire_completion *completion);

/* A BATCH under construction in caller memory. */
struct wire_batch_writer {
	uint8_t *buf;
	size_t cap;
	size_t length;
	uint32_t count;
};

int wire_batch_begin(struct wire_batch_writer *w, void *buf, size_t cap, uint64_t user_data,
		     bool stop_on_error);
/* Append one encoded request (not a BATCH). Returns 0, -EMSGSIZE when full,
 * -E2BIG past WIRE_BATCH_MAX, -EINVAL for a message that is not a request. */
int wire_batch_add(struct wire_batch_writer *w, const void *msg, size_t length);
/* Close the batch; returns its length, or -EINVAL if it is empty. */
int wire_batch_finish(struct wire_batch_writer *w);

/* ------------------------------------------------------------------------ */
/* Decoders                                                                 */
/* ------------------------------------------------------------------------ */

struct reader;

/* What an op is, for the decoder and the dispatcher: its name, the size of
 * its fixed body, whether a BATCH may hold it (the rule ops), and how its
 * body is decoded (NULL: not a request). */
struct wire_op_desc {
	const char *name;
	uint16_t body_size;
	bool batchable;
	int (*decode)(struct wire_request *req, struct reader *body, struct mpf_flow_error *error);
};

/* The descriptor of op `op`, or NULL for an unknown op. */
const struct wire_op_desc *wire_op(unsigned op);

/* May a request of this op stand in a BATCH? */
static inline bool wire_op_batchable(unsigned op)
{
	const struct wire_op_desc *d = wire_op(op);

	return d && d->batchable;
}

/*
 * Copy `length` bytes at `msg` (which may be shared memory) into req->buf
 * once, then decode the copy. Returns 0, or:
 *   -EBADMSG          framing: lengths, magic, reserved fields, trailing bytes
 *   -EPROTONOSUPPORT  another protocol version
 *   -EINVAL           unknown op, item, action or flag bits
 *   -ENOTSUP          more items, actions, handles or batched requests than
 *                     this implementation takes
 * with `error` naming the item or action at fault where there is one.
 */
int wire_decode_request(const void *msg, size_t length, struct wire_request *req,
			struct mpf_flow_error *error);
/* The same, decoding `msg` where it is: it must be the caller's private
 * copy already (8-aligned, unchanged while `req` is used), as the
 * primary's copy out of a ring is. Nothing is copied again. */
int wire_decode_private(const void *msg, size_t length, struct wire_request *req,
			struct mpf_flow_error *error);

/* Iterate over a decoded BATCH: decodes sub-request number `*position` into
 * `sub` (in place in the batch's bytes: no copy) and advances. Returns 1 with a request, 0 at the
 * end, or -errno for a sub-request that does not decode (the iteration goes on past it). */
struct wire_batch_iter {
	const struct wire_request *batch;
	size_t offset;
	uint32_t index;
};
void wire_batch_iter_init(struct wire_batch_iter *it, const struct wire_request *batch);
int wire_batch_next(struct wire_batch_iter *it, struct wire_request *sub,
		    struct mpf_flow_error *error);

/* Decode a completion (from the client's private copy). Returns 0 or -EBADMSG. */
int wire_decode_completion(const void *msg, size_t length, struct wire_completion *out);

#endif
