/* SPDX-License-Identifier: BSD-3-Clause */
/* Encode and decode requests and completions; see wire.h. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "shm/rule/rule.h"
#include "shm/wire.h"

static size_t pad8(size_t n)
{
	return (n + 7u) & ~(size_t)7u;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */
/* ------------------------------------------------------------------------ */

/* An encoder's cursor: appends bytes, zero-padded to 8, into caller memory. */
struct writer {
	uint8_t *buf;
	size_t cap;
	size_t length;
	bool overflow;
};

static void writer_init(struct writer *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap < WIRE_MSG_MAX ? cap : WIRE_MSG_MAX;
	w->length = 0;
	w->overflow = false;
}

/* Reserve `n` bytes (padded to 8, padding zeroed); NULL once full. Inlined,
 * with writer_put(), so that a fixed-size part is stored straight into the
 * message: a call to memcpy reads the struct just built on the stack in
 * wider loads than its fields were stored in, and stalls on each (a
 * store-forwarding failure: 6% of the primary's time in a bulk insert,
 * encoding completions). */
static inline __attribute__((always_inline)) uint8_t *writer_reserve(struct writer *w, size_t n)
{
	size_t padded = pad8(n);
	uint8_t *p;

	if (w->overflow || padded > w->cap - w->length) {
		w->overflow = true;
		return NULL;
	}
	p = w->buf + w->length;
	if (padded != n) /* not a call for nothing: every message is encoded here */
		memset(p + n, 0, padded - n);
	w->length += padded;
	return p;
}

static inline __attribute__((always_inline)) void writer_put(struct writer *w, const void *data,
							     size_t n)
{
	uint8_t *p = writer_reserve(w, n);

	if (p && n)
		memcpy(p, data, n);
}

static void writer_begin(struct writer *w, enum wire_op op, uint64_t user_data)
{
	struct wire_header header = {
		.magic = WIRE_MAGIC,
		.version = WIRE_VERSION,
		.op = (uint8_t)op,
		.user_data = user_data,
	};

	writer_put(w, &header, sizeof(header));
}

/* Patch the header's length; returns it, or -EMSGSIZE. */
static int writer_finish(struct writer *w, struct mpf_flow_error *error)
{
	uint32_t length = (uint32_t)w->length;

	if (w->overflow)
		return flow_error_set(error, EMSGSIZE, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "message larger than %zu bytes", w->cap);
	memcpy(w->buf + offsetof(struct wire_header, length), &length, sizeof(length));
	return (int)length;
}

static void encode_raw_part(struct writer *w, const struct mpf_flow_item_raw *raw,
			    uint16_t pattern_length)
{
	struct wire_raw out = {
		.flags = (uint32_t)raw->relative | (uint32_t)raw->search << 1 |
			 (uint32_t)raw->reserved << WIRE_RAW_RESERVED_SHIFT,
		.offset = raw->offset,
		.limit = raw->limit,
		.length = raw->length,
		.pattern_length = raw->pattern ? pattern_length : 0,
	};

	writer_put(w, &out, sizeof(out));
	if (out.pattern_length)
		writer_put(w, raw->pattern, out.pattern_length);
}

/* A spec or last as the rule means it: only the bits under the mask in
 * force. The rest of the caller's struct (often whatever its stack held)
 * never leaves the process: the primary keeps the request where every
 * client can read it. */
static void put_masked(struct writer *w, const uint8_t *part, const uint8_t *mask, size_t n)
{
	uint8_t *p = writer_reserve(w, n);

	if (p == NULL || n == 0)
		return;
	for (size_t b = 0; b < n; b++)
		p[b] = mask ? part[b] & mask[b] : part[b];
}

static void encode_item(struct writer *w, const struct mpf_flow_item *item,
			const struct rule_item_view *view)
{
	const struct rule_item_desc *desc = rule_item_desc((int)item->type);
	const void *parts[3] = {item->spec, item->last, item->mask};
	struct wire_element el = {.type = (uint16_t)item->type};
	size_t start;
	uint8_t *header = writer_reserve(w, sizeof(el));

	start = w->length;
	for (unsigned p = 0; p < 3; p++) {
		if (parts[p] == NULL)
			continue;
		el.parts |= (uint8_t)(1u << p);
		if (item->type == MPF_FLOW_ITEM_TYPE_RAW) {
			/* A pattern in last or mask is as long as spec's. */
			const struct mpf_flow_item_raw *spec = item->spec;

			encode_raw_part(w, parts[p], spec ? spec->length : 0);
		} else if (p < 2) {
			put_masked(w, parts[p], view->mask, desc->size);
		} else {
			writer_put(w, parts[p], desc->size);
		}
	}
	if (header) {
		el.length = (uint32_t)(w->length - start);
		memcpy(header, &el, sizeof(el));
	}
}

static void encode_action(struct writer *w, const struct mpf_flow_action *action)
{
	const struct rule_action_desc *desc = rule_action_desc((int)action->type);
	struct wire_element el = {.type = (uint16_t)action->type};
	uint8_t *header = writer_reserve(w, sizeof(el));
	size_t start = w->length;

	if (action->conf) {
		el.parts = WIRE_PART_CONF;
		if (action->type == MPF_FLOW_ACTION_TYPE_RSS) {
			const struct mpf_flow_action_rss *rss = action->conf;
			struct wire_rss out = {
				.types = rss->types,
				.key_len = rss->key_len,
				.queue_num = rss->queue_num,
			};

			writer_put(w, &out, sizeof(out));
			writer_put(w, rss->key, rss->key_len);
			writer_put(w, rss->queue, rss->queue_num * sizeof(uint16_t));
		} else if (action->type == MPF_FLOW_ACTION_TYPE_VF) {
			const struct mpf_flow_action_vf *vf = action->conf;
			struct wire_vf out = {
				.flags = (uint32_t)vf->original | (uint32_t)vf->reserved
									  << WIRE_VF_RESERVED_SHIFT,
				.id = vf->id,
			};

			writer_put(w, &out, sizeof(out));
		} else {
			writer_put(w, action->conf, desc->conf_size);
		}
	}
	if (header) {
		el.length = (uint32_t)(w->length - start);
		memcpy(header, &el, sizeof(el));
	}
}

int wire_encode_rule(void *buf, size_t cap, enum wire_op op, uint64_t user_data, uint16_t port,
		     bool persistent, const struct mpf_flow_attr *attr,
		     const struct mpf_flow_item *pattern, const struct mpf_flow_action *actions,
		     struct mpf_flow_error *error)
{
	struct rule_shape shape;
	struct wire_rule_header rh;
	struct writer w;
	int err;

	if (op != WIRE_OP_VALIDATE && op != WIRE_OP_CREATE)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "op %d does not carry a rule", (int)op);
	/* Validation bounds every length the encoder reads below. */
	err = rule_validate(attr, pattern, actions, &shape, error);
	if (err)
		return err;

	rh = (struct wire_rule_header){
		.port = port,
		.flags = (uint16_t)((attr->ingress ? WIRE_RULE_INGRESS : 0) |
				    (attr->egress ? WIRE_RULE_EGRESS : 0) |
				    (persistent ? WIRE_RULE_PERSISTENT : 0)),
		.n_items = (uint16_t)shape.items,
		.n_actions = shape.actions.count,
		.group = attr->group,
		.priority = attr->priority,
	};
	writer_init(&w, buf, cap);
	writer_begin(&w, op, user_data);
	writer_put(&w, &rh, sizeof(rh));
	for (unsigned i = 0; i < shape.items; i++)
		encode_item(&w, &pattern[i], &shape.item[i]);
	for (unsigned i = 0; i < shape.actions.count; i++)
		encode_action(&w, &actions[i]);
	return writer_finish(&w, error);
}

int wire_encode_destroy(void *buf, size_t cap, uint64_t user_data, uint16_t port,
			const uint64_t *handles, uint32_t count, struct mpf_flow_error *error)
{
	struct wire_destroy body = {.port = port, .count = count};
	struct writer w;

	if (count == 0 || handles == NULL)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "no rule to destroy");
	if (count > WIRE_DESTROY_MAX)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "%u rules in one destroy, at most %u", count,
				      WIRE_DESTROY_MAX);
	writer_init(&w, buf, cap);
	writer_begin(&w, WIRE_OP_DESTROY, user_data);
	writer_put(&w, &body, sizeof(body));
	writer_put(&w, handles, (size_t)count * sizeof(*handles));
	return writer_finish(&w, error);
}

int wire_encode_flush(void *buf, size_t cap, uint64_t user_data, uint16_t port, bool persistent,
		      struct mpf_flow_error *error)
{
	struct wire_flush body = {.port = port, .flags = persistent ? WIRE_FLUSH_PERSISTENT : 0};
	struct writer w;

	writer_init(&w, buf, cap);
	writer_begin(&w, WIRE_OP_FLUSH, user_data);
	writer_put(&w, &body, sizeof(body));
	return writer_finish(&w, error);
}

int wire_encode_query(void *buf, size_t cap, uint64_t user_data, uint16_t port, uint64_t handle,
		      enum mpf_flow_action_type action, uint32_t flags,
		      struct mpf_flow_error *error)
{
	struct wire_query body = {
		.port = port,
		.action = (uint16_t)action,
		.flags = flags,
		.handle = handle,
	};
	struct writer w;

	if (action != MPF_FLOW_ACTION_TYPE_COUNT)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, -1,
				      "only COUNT can be queried");
	writer_init(&w, buf, cap);
	writer_begin(&w, WIRE_OP_QUERY, user_data);
	writer_put(&w, &body, sizeof(body));
	return writer_finish(&w, error);
}

int wire_encode_isolate(void *buf, size_t cap, uint64_t user_data, uint16_t port, bool enable,
			struct mpf_flow_error *error)
{
	struct wire_isolate body = {.port = port, .enable = enable};
	struct writer w;

	writer_init(&w, buf, cap);
	writer_begin(&w, WIRE_OP_ISOLATE, user_data);
	writer_put(&w, &body, sizeof(body));
	return writer_finish(&w, error);
}

int wire_encode_port_stats_reset(void *buf, size_t cap, uint64_t user_data, uint16_t port,
				 struct mpf_flow_error *error)
{
	struct wire_port_ref body = {.port = port};
	struct writer w;

	writer_init(&w, buf, cap);
	writer_begin(&w, WIRE_OP_PORT_STATS_RESET, user_data);
	writer_put(&w, &body, sizeof(body));
	return writer_finish(&w, error);
}

int wire_encode_rxq(void *buf, size_t cap, enum wire_op op, uint64_t user_data, uint16_t port,
		    uint16_t queue, struct mpf_flow_error *error)
{
	struct wire_rxq body = {.port = port, .queue = queue};
	struct writer w;

	writer_init(&w, buf, cap);
	writer_begin(&w, op, user_data);
	writer_put(&w, &body, sizeof(body));
	return writer_finish(&w, error);
}

int wire_encode_meter_create(void *buf, size_t cap, uint64_t user_data, uint16_t port, uint32_t id,
			     uint64_t cir, uint64_t cbs, uint64_t pir, uint64_t pbs, uint32_t drop,
			     struct mpf_flow_error *error)
{
	struct wire_meter body = {.port = port,
				  .id = id,
				  .drop = drop,
				  .cir = cir,
				  .cbs = cbs,
				  .pir = pir,
				  .pbs = pbs};
	struct writer w;

	writer_init(&w, buf, cap);
	writer_begin(&w, WIRE_OP_METER_CREATE, user_data);
	writer_put(&w, &body, sizeof(body));
	return writer_finish(&w, error);
}

int wire_encode_meter_ref(void *buf, size_t cap, enum wire_op op, uint64_t user_data, uint16_t port,
			  uint32_t id, bool clear, struct mpf_flow_error *error)
{
	struct wire_meter_ref body = {
		.port = port, .id = id, .flags = clear ? WIRE_METER_CLEAR : 0};
	struct writer w;

	writer_init(&w, buf, cap);
	writer_begin(&w, op, user_data);
	writer_put(&w, &body, sizeof(body));
	return writer_finish(&w, error);
}

int wire_encode_audit(void *buf, size_t cap, uint64_t user_data, struct mpf_flow_error *error)
{
	struct wire_audit body = {0};
	struct writer w;

	writer_init(&w, buf, cap);
	writer_begin(&w, WIRE_OP_AUDIT, user_data);
	writer_put(&w, &body, sizeof(body));
	return writer_finish(&w, error);
}

int wire_encode_completion(void *buf, size_t cap, const struct wire_completion *c)
{
	size_t message_length =
		c->status ? strnlen(c->error.message, sizeof(c->error.message) - 1) : 0;
	struct wire_completion_body *body;
	struct writer w;

	assert(((uintptr_t)buf & 7) == 0);
	writer_init(&w, buf, cap);
	writer_begin(&w, WIRE_OP_COMPLETION, c->user_data);
	/* Built where it goes (the buffer is 8-aligned), not copied from the
	 * stack: the primary encodes a completion for every request. */
	body = (struct wire_completion_body *)writer_reserve(&w, sizeof(*body));
	if (body)
		*body = (struct wire_completion_body){
			.request_op = c->request_op,
			.flags = (c->has_query ? WIRE_COMPLETION_COUNT_DATA : 0) |
				 (c->has_meter ? WIRE_COMPLETION_METER_DATA : 0),
			.error_type = (uint16_t)c->error.type,
			.status = c->status,
			.cause = c->error.cause,
			.message_length = (uint16_t)message_length,
			.handle = c->handle,
			.count = c->count,
		};
	if (c->has_query) {
		struct wire_count count = {
			.flags = (c->query.hits_set ? WIRE_COUNT_HITS_SET : 0) |
				 (c->query.bytes_set ? WIRE_COUNT_BYTES_SET : 0),
			.hits = c->query.hits,
			.bytes = c->query.bytes,
		};

		writer_put(&w, &count, sizeof(count));
	}
	if (c->has_meter)
		writer_put(&w, &c->meter, sizeof(c->meter));
	writer_put(&w, c->error.message, message_length);
	return writer_finish(&w, NULL);
}

int wire_batch_begin(struct wire_batch_writer *w, void *buf, size_t cap, uint64_t user_data,
		     bool stop_on_error)
{
	struct wire_header header = {
		.magic = WIRE_MAGIC,
		.version = WIRE_VERSION,
		.op = WIRE_OP_BATCH,
		.user_data = user_data,
	};
	struct wire_batch body = {.flags = stop_on_error ? WIRE_BATCH_STOP_ON_ERROR : 0};

	w->buf = buf;
	w->cap = cap < WIRE_MSG_MAX ? cap : WIRE_MSG_MAX;
	w->count = 0;
	if (w->cap < sizeof(header) + sizeof(body))
		return -EMSGSIZE;
	memcpy(w->buf, &header, sizeof(header));
	memcpy(w->buf + sizeof(header), &body, sizeof(body));
	w->length = sizeof(header) + sizeof(body);
	return 0;
}

int wire_batch_add(struct wire_batch_writer *w, const void *msg, size_t length)
{
	struct wire_header header;

	if (length < sizeof(header) || length > WIRE_MSG_MAX)
		return -EINVAL;
	memcpy(&header, msg, sizeof(header));
	if (header.magic != WIRE_MAGIC || header.length != length || header.op == 0 ||
	    !wire_op_batchable(header.op))
		return -EINVAL;
	if (w->count == WIRE_BATCH_MAX)
		return -E2BIG;
	if (pad8(length) > w->cap - w->length)
		return -EMSGSIZE;
	memcpy(w->buf + w->length, msg, length);
	memset(w->buf + w->length + length, 0, pad8(length) - length);
	w->length += pad8(length);
	w->count++;
	return 0;
}

int wire_batch_finish(struct wire_batch_writer *w)
{
	uint32_t length = (uint32_t)w->length;

	if (w->count == 0)
		return -EINVAL;
	memcpy(w->buf + offsetof(struct wire_header, length), &length, sizeof(length));
	memcpy(w->buf + sizeof(struct wire_header) + offsetof(struct wire_batch, count), &w->count,
	       sizeof(w->count));
	return (int)length;
}

/* ------------------------------------------------------------------------ */
/* Decoding: everything below reads req->buf, a private copy.               */
/* ------------------------------------------------------------------------ */

/* A decoder's cursor over a bounded region of the private copy. */
struct reader {
	const uint8_t *p;
	size_t left;
};

/* Take `n` bytes (plus padding to 8); NULL if the region is too short. */
static const uint8_t *reader_take(struct reader *r, size_t n)
{
	const uint8_t *p = r->p;
	size_t padded = pad8(n);

	if (n > r->left || padded > r->left)
		return NULL;
	r->p += padded;
	r->left -= padded;
	return p;
}

static void *scratch_alloc(struct wire_request *req, size_t n)
{
	void *p;

	if (pad8(n) > sizeof(req->scratch) - req->scratch_used)
		return NULL;
	p = req->scratch + req->scratch_used;
	req->scratch_used += pad8(n);
	return p;
}

static int bad_message(struct mpf_flow_error *error, enum mpf_flow_error_type type, int cause,
		       const char *what)
{
	return flow_error_set(error, EBADMSG, type, cause, "malformed message: %s", what);
}

static int decode_raw_part(struct wire_request *req, struct reader *r, unsigned part,
			   const struct mpf_flow_item_raw *spec, const void **out, int index,
			   struct mpf_flow_error *error)
{
	const uint8_t *p = reader_take(r, sizeof(struct wire_raw));
	struct mpf_flow_item_raw *raw;
	struct wire_raw in;

	if (p == NULL)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ITEM, index, "raw item truncated");
	memcpy(&in, p, sizeof(in));
	if (in.reserved != 0)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ITEM, index,
				   "raw item reserved field set");
	/* spec's pattern is its own length; last's and mask's are spec's. */
	if (in.pattern_length != 0 &&
	    in.pattern_length != (part == 0 ? in.length : (spec ? spec->length : 0)))
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ITEM, index,
				   "raw pattern length disagrees with the spec length");
	raw = scratch_alloc(req, sizeof(*raw));
	if (raw == NULL)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM, index,
				      "item %d (raw): too many raw parts in one rule", index);
	memset(raw, 0, sizeof(*raw));
	raw->relative = in.flags & WIRE_RAW_RELATIVE;
	raw->search = (in.flags & WIRE_RAW_SEARCH) >> 1;
	raw->reserved = in.flags >> WIRE_RAW_RESERVED_SHIFT;
	raw->offset = in.offset;
	raw->limit = in.limit;
	raw->length = in.length;
	if (in.pattern_length) {
		raw->pattern = reader_take(r, in.pattern_length);
		if (raw->pattern == NULL)
			return bad_message(error, MPF_FLOW_ERROR_TYPE_ITEM, index,
					   "raw pattern truncated");
	}
	*out = raw;
	return 0;
}

static int decode_item(struct wire_request *req, struct reader *body, unsigned index,
		       struct mpf_flow_item *item, struct mpf_flow_error *error)
{
	const uint8_t *header = reader_take(body, sizeof(struct wire_element));
	const struct rule_item_desc *desc;
	const void **parts[3] = {&item->spec, &item->last, &item->mask};
	struct wire_element el;
	struct reader r;
	int i = (int)index;

	if (header == NULL)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ITEM_NUM, i, "pattern truncated");
	memcpy(&el, header, sizeof(el));
	desc = rule_item_desc(el.type);
	if (desc == NULL || el.type == MPF_FLOW_ITEM_TYPE_END)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, i,
				      "item %d: unknown item type %u", i, (unsigned)el.type);
	if (el.reserved != 0 || (el.parts & ~7u) != 0 || el.length % 8 != 0)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ITEM, i, "bad item element");
	r.p = reader_take(body, el.length);
	r.left = el.length;
	if (r.p == NULL)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ITEM, i, "item element truncated");

	*item = (struct mpf_flow_item){.type = (enum mpf_flow_item_type)el.type};
	for (unsigned p = 0; p < 3; p++) {
		if (!(el.parts & (1u << p)))
			continue;
		if (el.type == MPF_FLOW_ITEM_TYPE_RAW) {
			int err = decode_raw_part(req, &r, p, item->spec, parts[p], i, error);

			if (err)
				return err;
			continue;
		}
		/* A structless item's part is empty but present: the pointer
		 * is not NULL, so validation sees what the client sent. */
		*parts[p] = reader_take(&r, desc->size);
		if (*parts[p] == NULL)
			return bad_message(error, MPF_FLOW_ERROR_TYPE_ITEM, i,
					   "item part truncated");
	}
	if (r.left != 0)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ITEM, i,
				   "item element longer than its parts");
	return 0;
}

static int decode_rss(struct wire_request *req, struct reader *r, struct mpf_flow_action *action,
		      int index, struct mpf_flow_error *error)
{
	const uint8_t *p = reader_take(r, sizeof(struct wire_rss));
	struct mpf_flow_action_rss *rss;
	struct wire_rss in;

	if (p == NULL)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ACTION, index, "rss truncated");
	memcpy(&in, p, sizeof(in));
	rss = scratch_alloc(req, sizeof(*rss));
	if (rss == NULL)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, index,
				      "action %d (rss): too many rss actions", index);
	*rss = (struct mpf_flow_action_rss){
		.types = in.types,
		.key_len = in.key_len,
		.queue_num = in.queue_num,
	};
	/* Both lengths are bounded by the element, which the message bounds. */
	if (in.key_len > r->left || in.queue_num > r->left / sizeof(uint16_t))
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ACTION, index,
				   "rss lengths exceed the action");
	if (in.key_len) {
		rss->key = reader_take(r, in.key_len);
		if (rss->key == NULL)
			return bad_message(error, MPF_FLOW_ERROR_TYPE_ACTION, index,
					   "rss key truncated");
	}
	if (in.queue_num) {
		rss->queue = (const uint16_t *)reader_take(r, in.queue_num * sizeof(uint16_t));
		if (rss->queue == NULL)
			return bad_message(error, MPF_FLOW_ERROR_TYPE_ACTION, index,
					   "rss queues truncated");
	}
	action->conf = rss;
	return 0;
}

static int decode_vf(struct wire_request *req, struct reader *r, struct mpf_flow_action *action,
		     int index, struct mpf_flow_error *error)
{
	const uint8_t *p = reader_take(r, sizeof(struct wire_vf));
	struct mpf_flow_action_vf *vf;
	struct wire_vf in;

	if (p == NULL)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ACTION, index, "vf truncated");
	memcpy(&in, p, sizeof(in));
	vf = scratch_alloc(req, sizeof(*vf));
	if (vf == NULL)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, index,
				      "action %d (vf): too many vf actions", index);
	memset(vf, 0, sizeof(*vf));
	vf->original = in.flags & WIRE_VF_ORIGINAL;
	vf->reserved = in.flags >> WIRE_VF_RESERVED_SHIFT;
	vf->id = in.id;
	action->conf = vf;
	return 0;
}

static int decode_action(struct wire_request *req, struct reader *body, unsigned index,
			 struct mpf_flow_action *action, struct mpf_flow_error *error)
{
	const uint8_t *header = reader_take(body, sizeof(struct wire_element));
	const struct rule_action_desc *desc;
	struct wire_element el;
	struct reader r;
	int i = (int)index;
	int err = 0;

	if (header == NULL)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ACTION_NUM, i,
				   "action list truncated");
	memcpy(&el, header, sizeof(el));
	desc = rule_action_desc(el.type);
	if (desc == NULL || el.type == MPF_FLOW_ACTION_TYPE_END)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, i,
				      "action %d: unknown action type %u", i, (unsigned)el.type);
	if (el.reserved != 0 || (el.parts & ~WIRE_PART_CONF) != 0 || el.length % 8 != 0)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ACTION, i, "bad action element");
	r.p = reader_take(body, el.length);
	r.left = el.length;
	if (r.p == NULL)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ACTION, i,
				   "action element truncated");

	*action = (struct mpf_flow_action){.type = (enum mpf_flow_action_type)el.type};
	if (el.parts & WIRE_PART_CONF) {
		if (el.type == MPF_FLOW_ACTION_TYPE_RSS)
			err = decode_rss(req, &r, action, i, error);
		else if (el.type == MPF_FLOW_ACTION_TYPE_VF)
			err = decode_vf(req, &r, action, i, error);
		else if ((action->conf = reader_take(&r, desc->conf_size)) == NULL)
			err = bad_message(error, MPF_FLOW_ERROR_TYPE_ACTION, i,
					  "action conf truncated");
	}
	if (!err && r.left != 0)
		err = bad_message(error, MPF_FLOW_ERROR_TYPE_ACTION, i,
				  "action element longer than its conf");
	return err;
}

static int decode_rule(struct wire_request *req, struct reader *body, struct mpf_flow_error *error)
{
	const uint8_t *p = reader_take(body, sizeof(struct wire_rule_header));
	struct wire_rule *rule = &req->rule;
	struct wire_rule_header rh;

	if (p == NULL)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_ATTR, -1, "rule header truncated");
	memcpy(&rh, p, sizeof(rh));
	if (rh.flags & ~WIRE_RULE_FLAGS)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ATTR, -1,
				      "unknown rule flags 0x%x", rh.flags & ~WIRE_RULE_FLAGS);
	if ((rh.flags & WIRE_RULE_PERSISTENT) && req->header.op != WIRE_OP_CREATE)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ATTR, -1,
				      "persistent applies to create only");
	if (rh.n_items > MPF_FLOW_ITEMS_MAX)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ITEM_NUM, -1,
				      "pattern of %u items, at most %d supported", rh.n_items,
				      MPF_FLOW_ITEMS_MAX);
	if (rh.n_actions > MPF_FLOW_ACTIONS_MAX)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION_NUM, -1,
				      "%u actions, at most %d supported", rh.n_actions,
				      MPF_FLOW_ACTIONS_MAX);

	/* One store of the whole (a memset, then a read-modify-write of its
	 * bit-fields, stalled on the memset's wider stores). */
	rule->attr = (struct mpf_flow_attr){.group = rh.group,
					    .priority = rh.priority,
					    .ingress = !!(rh.flags & WIRE_RULE_INGRESS),
					    .egress = !!(rh.flags & WIRE_RULE_EGRESS)};
	rule->port = rh.port;
	rule->persistent = rh.flags & WIRE_RULE_PERSISTENT;
	rule->n_items = rh.n_items;
	rule->n_actions = rh.n_actions;
	for (unsigned i = 0; i < rh.n_items; i++) {
		int err = decode_item(req, body, i, &rule->items[i], error);

		if (err)
			return err;
	}
	rule->items[rh.n_items] = (struct mpf_flow_item){.type = MPF_FLOW_ITEM_TYPE_END};
	for (unsigned i = 0; i < rh.n_actions; i++) {
		int err = decode_action(req, body, i, &rule->actions[i], error);

		if (err)
			return err;
	}
	rule->actions[rh.n_actions] = (struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_END};
	return 0;
}

/* Check a header copied out of the private buffer against the bytes there. */
static int check_header(const struct wire_header *h, size_t length, struct mpf_flow_error *error)
{
	if (h->magic != WIRE_MAGIC)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1, "bad magic");
	if (h->version != WIRE_VERSION)
		return flow_error_set(error, EPROTONOSUPPORT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "protocol version %u, this side speaks %u",
				      (unsigned)h->version, WIRE_VERSION);
	if (h->length != length)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				   "length field disagrees with the message size");
	return 0;
}

static int decode_batch(struct wire_request *req, struct reader *body, struct mpf_flow_error *error)
{
	const uint8_t *p = reader_take(body, sizeof(struct wire_batch));
	struct wire_batch batch;

	if (p == NULL)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1, "batch truncated");
	memcpy(&batch, p, sizeof(batch));
	if (batch.flags & ~WIRE_BATCH_STOP_ON_ERROR)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "unknown batch flags 0x%x", batch.flags);
	if (batch.count == 0)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1, "empty batch");
	if (batch.count > WIRE_BATCH_MAX)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "%u requests in one batch, at most %u", batch.count,
				      WIRE_BATCH_MAX);
	/* Frame every sub-request now, so iteration can always skip one. */
	for (uint32_t i = 0; i < batch.count; i++) {
		struct wire_header h;
		const uint8_t *sub;

		if (body->left < sizeof(h))
			return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					   "batch shorter than its count");
		memcpy(&h, body->p, sizeof(h));
		if (h.length < sizeof(h) || !wire_op_batchable(h.op))
			return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					   "bad request in batch");
		sub = reader_take(body, h.length);
		if (sub == NULL || check_header(&h, h.length, NULL) != 0)
			return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					   "bad request in batch");
	}
	req->batch.count = batch.count;
	req->batch.stop_on_error = batch.flags & WIRE_BATCH_STOP_ON_ERROR;
	return 0;
}

/* Each op's body: a fixed struct (its size in the table below), checked
 * field by field; a rule and a batch have their own decoders above. */

/* The op's fixed body, copied out of the reader into `out`. */
static int take_body(struct reader *body, void *out, size_t size, const char *name,
		     enum mpf_flow_error_type type, struct mpf_flow_error *error)
{
	const uint8_t *p = reader_take(body, size);

	if (p == NULL)
		return flow_error_set(error, EBADMSG, type, -1, "malformed request: %s truncated",
				      name);
	memcpy(out, p, size);
	return 0;
}

static int decode_destroy(struct wire_request *req, struct reader *body,
			  struct mpf_flow_error *error)
{
	struct wire_destroy d;
	int err = take_body(body, &d, sizeof(d), "destroy", MPF_FLOW_ERROR_TYPE_HANDLE, error);

	if (err)
		return err;
	if (d.reserved != 0 || d.count == 0)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_HANDLE, -1, "bad destroy");
	if (d.count > WIRE_DESTROY_MAX)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "%u rules in one destroy, at most %u", d.count,
				      WIRE_DESTROY_MAX);
	req->destroy.port = d.port;
	req->destroy.count = d.count;
	req->destroy.handles = (const uint64_t *)reader_take(body, d.count * sizeof(uint64_t));
	if (req->destroy.handles == NULL)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				   "destroy handles truncated");
	return 0;
}

static int decode_flush(struct wire_request *req, struct reader *body, struct mpf_flow_error *error)
{
	struct wire_flush f;
	int err = take_body(body, &f, sizeof(f), "flush", MPF_FLOW_ERROR_TYPE_UNSPECIFIED, error);

	if (err)
		return err;
	if ((f.flags & ~WIRE_FLUSH_PERSISTENT) || f.reserved[0] || f.reserved[1])
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				   "flush reserved field set");
	req->flush.port = f.port;
	req->flush.persistent = f.flags & WIRE_FLUSH_PERSISTENT;
	return 0;
}

static int decode_query(struct wire_request *req, struct reader *body, struct mpf_flow_error *error)
{
	struct wire_query q;
	int err = take_body(body, &q, sizeof(q), "query", MPF_FLOW_ERROR_TYPE_HANDLE, error);

	if (err)
		return err;
	if (q.flags & ~(WIRE_QUERY_RESET | WIRE_QUERY_FRESH))
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "unknown query flags 0x%x", q.flags);
	if (q.action != MPF_FLOW_ACTION_TYPE_COUNT)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, -1,
				      "only COUNT can be queried, not action type %u",
				      (unsigned)q.action);
	req->query.port = q.port;
	req->query.action = q.action;
	req->query.reset = q.flags & WIRE_QUERY_RESET;
	req->query.fresh = q.flags & WIRE_QUERY_FRESH;
	req->query.handle = q.handle;
	return 0;
}

static int decode_isolate(struct wire_request *req, struct reader *body,
			  struct mpf_flow_error *error)
{
	struct wire_isolate iso;
	int err = take_body(body, &iso, sizeof(iso), "isolate", MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
			    error);

	if (err)
		return err;
	if (iso.reserved != 0 || iso.enable > 1)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1, "bad isolate");
	req->isolate.port = iso.port;
	req->isolate.enable = iso.enable;
	return 0;
}

static int decode_rxq(struct wire_request *req, struct reader *body, struct mpf_flow_error *error)
{
	struct wire_rxq q;
	int err = take_body(body, &q, sizeof(q), "rx queue request",
			    MPF_FLOW_ERROR_TYPE_UNSPECIFIED, error);

	if (err)
		return err;
	if (q.reserved != 0)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				   "rx queue reserved field set");
	req->rxq.port = q.port;
	req->rxq.queue = q.queue;
	return 0;
}

static int decode_meter_create(struct wire_request *req, struct reader *body,
			       struct mpf_flow_error *error)
{
	struct wire_meter m;
	int err = take_body(body, &m, sizeof(m), "meter", MPF_FLOW_ERROR_TYPE_UNSPECIFIED, error);

	if (err)
		return err;
	if (m.reserved != 0 || m.reserved1 != 0 || (m.drop & ~7u))
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				   "meter reserved bits set");
	req->meter.port = m.port;
	req->meter.id = m.id;
	req->meter.drop = m.drop;
	req->meter.clear = false;
	req->meter.cir = m.cir;
	req->meter.cbs = m.cbs;
	req->meter.pir = m.pir;
	req->meter.pbs = m.pbs;
	return 0;
}

static int decode_meter_ref(struct wire_request *req, struct reader *body,
			    struct mpf_flow_error *error)
{
	struct wire_meter_ref m;
	int err = take_body(body, &m, sizeof(m), "meter request", MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
			    error);

	if (err)
		return err;
	if (m.flags & ~(req->header.op == WIRE_OP_METER_QUERY ? WIRE_METER_CLEAR : 0u))
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				   "unknown meter flags");
	memset(&req->meter, 0, sizeof(req->meter));
	req->meter.port = m.port;
	req->meter.id = m.id;
	req->meter.clear = m.flags & WIRE_METER_CLEAR;
	return 0;
}

static int decode_audit(struct wire_request *req, struct reader *body, struct mpf_flow_error *error)
{
	struct wire_audit a;
	int err = take_body(body, &a, sizeof(a), "audit request", MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
			    error);

	(void)req;
	if (err)
		return err;
	if (a.flags || a.reserved)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				   "unknown audit flags");
	return 0;
}

static int decode_port_ref(struct wire_request *req, struct reader *body,
			   struct mpf_flow_error *error)
{
	struct wire_port_ref ref;
	int err =
		take_body(body, &ref, sizeof(ref), "port", MPF_FLOW_ERROR_TYPE_UNSPECIFIED, error);

	if (err)
		return err;
	if (ref.reserved || ref.reserved1)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				   "reserved fields of a port request are not zero");
	req->port_ref.port = ref.port;
	return 0;
}

#define OP(code, label, body, may_batch, decoder)                                                  \
	[WIRE_OP_##code] = {.name = (label),                                                       \
			    .body_size = (body),                                                   \
			    .batchable = (may_batch),                                              \
			    .decode = (decoder)}

/* Every op: its name, the size of its fixed body, whether a BATCH may hold
 * it, and its decoder (none: not a request). */
static const struct wire_op_desc wire_ops[WIRE_OP_END_] = {
	OP(VALIDATE, "validate", sizeof(struct wire_rule_header), true, decode_rule),
	OP(CREATE, "create", sizeof(struct wire_rule_header), true, decode_rule),
	OP(DESTROY, "destroy", sizeof(struct wire_destroy), true, decode_destroy),
	OP(FLUSH, "flush", sizeof(struct wire_flush), true, decode_flush),
	OP(QUERY, "query", sizeof(struct wire_query), true, decode_query),
	OP(ISOLATE, "isolate", sizeof(struct wire_isolate), true, decode_isolate),
	OP(BATCH, "batch", sizeof(struct wire_batch), false, decode_batch),
	OP(COMPLETION, "completion", sizeof(struct wire_completion_body), false, NULL),
	OP(RXQ_ATTACH, "rxq attach", sizeof(struct wire_rxq), false, decode_rxq),
	OP(RXQ_DETACH, "rxq detach", sizeof(struct wire_rxq), false, decode_rxq),
	OP(METER_CREATE, "meter create", sizeof(struct wire_meter), false, decode_meter_create),
	OP(METER_DESTROY, "meter destroy", sizeof(struct wire_meter_ref), false, decode_meter_ref),
	OP(METER_QUERY, "meter query", sizeof(struct wire_meter_ref), false, decode_meter_ref),
	OP(AUDIT, "audit", sizeof(struct wire_audit), false, decode_audit),
	OP(PORT_STATS_RESET, "port stats reset", sizeof(struct wire_port_ref), false,
	   decode_port_ref),
	OP(TXQ_ATTACH, "txq attach", sizeof(struct wire_rxq), false, decode_rxq),
	OP(TXQ_DETACH, "txq detach", sizeof(struct wire_rxq), false, decode_rxq),
};

const struct wire_op_desc *wire_op(unsigned op)
{
	return op < WIRE_OP_END_ && wire_ops[op].name ? &wire_ops[op] : NULL;
}

int wire_decode_request(const void *msg, size_t length, struct wire_request *req,
			struct mpf_flow_error *error)
{
	memset(&req->header, 0, sizeof(req->header));
	if (length < sizeof(struct wire_header) || length > WIRE_MSG_MAX)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				   "size out of bounds");
	/* The one copy; nothing below reads `msg` again. */
	memcpy(req->copy, msg, length);
	return wire_decode_private(req->copy, length, req, error);
}

int wire_decode_private(const void *msg, size_t length, struct wire_request *req,
			struct mpf_flow_error *error)
{
	const struct wire_op_desc *op;
	struct reader body;
	int err;

	memset(&req->header, 0, sizeof(req->header));
	req->scratch_used = 0;
	req->buf = msg;
	if (length < sizeof(struct wire_header) || length > WIRE_MSG_MAX)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				   "size out of bounds");
	memcpy(&req->header, req->buf, sizeof(req->header));
	err = check_header(&req->header, length, error);
	if (err)
		return err;
	body.p = req->buf + sizeof(struct wire_header);
	body.left = length - sizeof(struct wire_header);

	op = wire_op(req->header.op);
	if (op == NULL || op->decode == NULL)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "unknown request op %u", (unsigned)req->header.op);
	if (body.left < op->body_size)
		return bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				   "shorter than a request of its op");
	err = op->decode(req, &body, error);
	if (!err && body.left != 0)
		err = bad_message(error, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				  "trailing bytes after the request");
	return err;
}

void wire_batch_iter_init(struct wire_batch_iter *it, const struct wire_request *batch)
{
	it->batch = batch;
	it->offset = sizeof(struct wire_header) + sizeof(struct wire_batch);
	it->index = 0;
}

int wire_batch_next(struct wire_batch_iter *it, struct wire_request *sub,
		    struct mpf_flow_error *error)
{
	struct wire_header h;
	int err;

	if (it->index >= it->batch->batch.count)
		return 0;
	/* decode_batch() framed every sub-request: this header is in bounds. */
	memcpy(&h, it->batch->buf + it->offset, sizeof(h));
	err = wire_decode_private(it->batch->buf + it->offset, h.length, sub, error);
	it->offset += pad8(h.length);
	it->index++;
	return err ? err : 1;
}

int wire_decode_completion(const void *msg, size_t length, struct wire_completion *out)
{
	struct wire_completion_body body;
	struct wire_header header;
	const uint8_t *p = msg;
	size_t offset;

	if (length < sizeof(header) + sizeof(body) || length > WIRE_MSG_MAX)
		return -EBADMSG;
	memcpy(&header, p, sizeof(header));
	memcpy(&body, p + sizeof(header), sizeof(body));
	if (check_header(&header, length, NULL) != 0 || header.op != WIRE_OP_COMPLETION ||
	    (body.flags & ~(WIRE_COMPLETION_COUNT_DATA | WIRE_COMPLETION_METER_DATA)) != 0 ||
	    body.reserved != 0 || body.error_type >= MPF_FLOW_ERROR_TYPES || body.status > 0 ||
	    body.status < -4095 || body.message_length >= MPF_FLOW_ERROR_MESSAGE_MAX)
		return -EBADMSG;
	memset(out, 0, sizeof(*out));
	out->user_data = header.user_data;
	out->request_op = body.request_op;
	out->status = body.status;
	out->handle = body.handle;
	out->count = body.count;
	out->error.type = (enum mpf_flow_error_type)body.error_type;
	out->error.cause = body.cause;
	offset = sizeof(header) + sizeof(body);
	if (body.flags & WIRE_COMPLETION_COUNT_DATA) {
		struct wire_count count;

		if (length - offset < sizeof(count))
			return -EBADMSG;
		memcpy(&count, p + offset, sizeof(count));
		if ((count.flags & ~(WIRE_COUNT_HITS_SET | WIRE_COUNT_BYTES_SET)) != 0 ||
		    count.reserved != 0)
			return -EBADMSG;
		out->has_query = true;
		out->query.hits_set = !!(count.flags & WIRE_COUNT_HITS_SET);
		out->query.bytes_set = !!(count.flags & WIRE_COUNT_BYTES_SET);
		out->query.hits = count.hits;
		out->query.bytes = count.bytes;
		offset += sizeof(count);
	}
	if (body.flags & WIRE_COMPLETION_METER_DATA) {
		if (length - offset < sizeof(out->meter))
			return -EBADMSG;
		memcpy(&out->meter, p + offset, sizeof(out->meter));
		out->has_meter = true;
		offset += sizeof(out->meter);
	}
	if (pad8(body.message_length) != length - offset)
		return -EBADMSG;
	memcpy(out->error.message, p + offset, body.message_length);
	out->error.message[body.message_length] = '\0';
	return 0;
}
