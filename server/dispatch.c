/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Request dispatch: drain a client's request ring, run each request, stage
 * its completions and publish them in one burst.
 *
 * Back pressure: a request is taken only when the completion ring has room
 * for the most completions one request can produce (a full BATCH), counting
 * what is already staged. A client that does not read its completions stops
 * being served (NEED_SPACE set; its dequeue rings us) and costs the primary
 * no memory beyond its own rings.
 *
 * Trust: each request is copied out of the ring once (ring_dequeue), then
 * decoded from a second private copy (wire_decode_request) and validated. A
 * bad request costs its sender an error completion; a broken ring costs it
 * the session. Nothing a client writes can stop the primary.
 */
#include <errno.h>
#include <string.h>

#include "server/server.h"
#include "shm/fdpass.h"

/* The largest completion: header, body, counters and a full message. */
#define COMPLETION_MAX                                                                          \
	(sizeof(struct wire_header) + sizeof(struct wire_completion_body) +                     \
	 sizeof(struct wire_count) + sizeof(struct wire_meter_stats) + MPF_FLOW_ERROR_MESSAGE_MAX)
#define COMPLETION_RECORD_MAX ((COMPLETION_MAX + 7u) / 8u * 8u + RING_RECORD_HEADER)
/* Room one request may need in the completion ring. */
#define REQUEST_ROOM	      (WIRE_BATCH_MAX * COMPLETION_RECORD_MAX)
#define STAGE_MAX	      (4u * WIRE_BATCH_MAX)
#define BURST_MAX	      32u /* requests taken off a ring at once */

/* The primary is single-threaded: one staging area, one decode buffer. */
static struct {
	uint8_t bytes[STAGE_MAX][COMPLETION_MAX];
	struct iovec iov[STAGE_MAX];
	unsigned count;
	size_t ring_bytes; /* what the staged completions take in the ring */
} stage;
static struct wire_request request, sub_request;
static uint8_t inbox[BURST_MAX * (WIRE_MSG_MAX + 8)];
static struct ring_msg inbox_msgs[BURST_MAX];

static void stage_flush(struct server *s, struct client *c)
{
	unsigned done = 0;

	/* Nothing is acknowledged before the journal has it on disk: one
	 * fdatasync for the burst (a failure is logged by journal_sync). */
	if (stage.count)
		journal_sync(s);

	while (done < stage.count) {
		int n = ring_enqueue_burst(&c->completions, &stage.iov[done], stage.count - done);

		/* Room was reserved before each request was taken, so only a
		 * client that lies about its head can make this fail. */
		if (n <= 0)
			break;
		done += (unsigned)n;
	}
	stage.count = 0;
	stage.ring_bytes = 0;
}

static void stage_completion(struct server *s, struct client *c,
			     const struct wire_completion *completion)
{
	int length;

	if (stage.count == STAGE_MAX)
		stage_flush(s, c);
	length = wire_encode_completion(stage.bytes[stage.count], COMPLETION_MAX, completion);
	stage.iov[stage.count] = (struct iovec){stage.bytes[stage.count], (size_t)length};
	stage.count++;
	stage.ring_bytes += ring_record_size((uint32_t)length);
}

static int run_rule(struct server *s, struct client *c, const struct wire_request *req,
		    struct wire_completion *out)
{
	const struct wire_rule *rule = &req->rule;
	struct rule_shape shape;
	struct hwdrv_rule hw;
	int err = rule_validate(&rule->attr, rule->items, rule->actions, &shape, &out->error);

	if (err)
		return err;
	hw = (struct hwdrv_rule){
		.port = rule->port,
		.attr = &rule->attr,
		.pattern = rule->items,
		.actions = rule->actions,
		.resolved = &shape.actions,
		.wire = req->buf,
		.wire_length = req->header.length,
	};
	if (req->header.op == WIRE_OP_VALIDATE)
		return s->device.ops.validate(&s->device, &hw, &out->error);
	err = rules_create(s, c, rule, &hw, &out->handle, &out->error);
	if (!err)
		log_debug("client %u: rule 0x%llx created on port %u", c->session,
			  (unsigned long long)out->handle, rule->port);
	return err;
}

/* The slot of a rule `c` may act on, on `port`; or -errno. */
static int find_rule(struct server *s, struct client *c, uint16_t port, uint64_t handle,
		     struct mpf_flow_error *error)
{
	int slot = rules_lookup(s, c, handle, error);

	if (slot >= 0 && s->rules.slots[slot].port != port)
		return flow_error_set(error, ENOENT, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "rule 0x%llx is not on port %u", (unsigned long long)handle,
				      port);
	return slot;
}

static int run_destroy(struct server *s, struct client *c, const struct wire_request *req,
		       struct wire_completion *out)
{
	int first_error = 0;
	uint32_t destroyed = 0;

	for (uint32_t i = 0; i < req->destroy.count; i++) {
		struct mpf_flow_error error;
		uint64_t handle;
		int slot, err;

		memcpy(&handle, &req->destroy.handles[i], sizeof(handle));
		slot = find_rule(s, c, req->destroy.port, handle, &error);
		if (slot < 0) {
			if (!first_error) {
				first_error = slot;
				out->error = error;
			}
			continue;
		}
		/* The handle is gone even when the device fails to let go of
		 * its rule; the client hears the device's errno. */
		err = rules_destroy(s, (uint32_t)slot, &error);
		if (err && !first_error) {
			first_error = err;
			out->error = error;
		}
		destroyed++;
	}
	if (first_error && req->destroy.count > 1) {
		size_t n = strlen(out->error.message);

		snprintf(out->error.message + n, sizeof(out->error.message) - n,
			 " (%u of %u destroyed)", destroyed, req->destroy.count);
	}
	return first_error;
}

static int run_query(struct server *s, struct client *c, const struct wire_request *req,
		     struct wire_completion *out)
{
	int slot = find_rule(s, c, req->query.port, req->query.handle, &out->error);
	struct region_count count;
	int err;

	if (slot < 0)
		return slot;
	/* A device that counts itself is read first: a fresh count, or the
	 * latest one for the baseline to move to. */
	if (req->query.fresh || req->query.reset) {
		err = s->device.ops.counter_read(&s->device, s->rules.slots[slot].backend,
						 &out->error);
		if (err)
			return err;
	}
	err = region_counter_read(&s->counters[slot], (uint32_t)(req->query.handle >> 32), &count);
	if (err == -ENOTSUP)
		return flow_error_set(&out->error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, -1,
				      "rule 0x%llx has no COUNT action",
				      (unsigned long long)req->query.handle);
	if (err)
		return flow_error_set(&out->error, -err, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "counter of rule 0x%llx unreadable",
				      (unsigned long long)req->query.handle);
	out->has_count = true;
	out->count.hits_set = 1;
	out->count.bytes_set = 1;
	out->count.hits = count.hits;
	out->count.bytes = count.bytes;
	if (req->query.reset)
		region_counter_reset(&s->counters[slot]);
	return 0;
}

/* The queue's memfd and doorbell go on the socket before the completion
 * goes on the ring: a client that sees success finds them waiting. */
static int run_rxq_attach(struct server *s, struct client *c, const struct wire_request *req,
			  struct wire_completion *out)
{
	struct wire_rxq tag = {.port = req->rxq.port, .queue = req->rxq.queue};
	int fds[2];
	int err = s->device.ops.rxq_attach(&s->device, req->rxq.port, req->rxq.queue, c->session,
					   fds, &out->error);

	if (err)
		return err;
	err = fdpass_send(c->sock, &tag, sizeof(tag), fds, 2);
	if (err) {
		s->device.ops.rxq_detach(&s->device, req->rxq.port, req->rxq.queue, c->session,
					 NULL);
		return flow_error_set(&out->error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "passing the queue to the client: %s", strerror(-err));
	}
	log_info("client %u: attached queue %u of port %u", c->session, req->rxq.queue,
		 req->rxq.port);
	return 0;
}

static int run_meter(struct server *s, const struct wire_request *req,
		     struct wire_completion *out)
{
	struct hwdrv *dev = &s->device;
	struct hwdrv_meter params = {.cir = req->meter.cir,
				     .cbs = req->meter.cbs,
				     .pir = req->meter.pir,
				     .pbs = req->meter.pbs,
				     .drop = req->meter.drop};
	struct hwdrv_meter_stats stats;
	int err;

	switch (req->header.op) {
	case WIRE_OP_METER_CREATE: {
		static uint8_t encoded[WIRE_MSG_MAX];
		int length;

		err = dev->ops.meter_create(dev, req->meter.port, req->meter.id, &params,
					    &out->error);
		if (err)
			return err;
		/* Meters are the instance's: journaled as persistent rules are. */
		length = wire_encode_meter_create(encoded, sizeof(encoded), 0, req->meter.port,
						  req->meter.id, params.cir, params.cbs, params.pir,
						  params.pbs, params.drop, &out->error);
		err = length < 0 ? length
				 : journal_meter(s, req->meter.port, req->meter.id, encoded,
						 (uint32_t)length);
		if (err) {
			dev->ops.meter_destroy(dev, req->meter.port, req->meter.id, NULL);
			return flow_error_set(&out->error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "the journal cannot record the meter: %s",
					      strerror(-err));
		}
		return 0;
	}
	case WIRE_OP_METER_DESTROY:
		err = dev->ops.meter_destroy(dev, req->meter.port, req->meter.id, &out->error);
		if (!err)
			journal_meter_gone(s, req->meter.port, req->meter.id);
		return err;
	default:
		err = dev->ops.meter_query(dev, req->meter.port, req->meter.id, req->meter.clear,
					   &stats, &out->error);
		if (err)
			return err;
		out->has_meter = true;
		memcpy(out->meter.packets, stats.packets, sizeof(stats.packets));
		memcpy(out->meter.bytes, stats.bytes, sizeof(stats.bytes));
		return 0;
	}
}

/* Run one decoded request (not a BATCH) into `out`. */
static void run(struct server *s, struct client *c, const struct wire_request *req,
		struct wire_completion *out)
{
	switch (req->header.op) {
	case WIRE_OP_VALIDATE:
	case WIRE_OP_CREATE:
		out->status = run_rule(s, c, req, out);
		break;
	case WIRE_OP_DESTROY:
		out->status = run_destroy(s, c, req, out);
		break;
	case WIRE_OP_FLUSH:
		if (req->flush.persistent)
			out->handle = rules_destroy_persistent(s, req->flush.port);
		else
			out->handle = rules_destroy_owned(s, c, req->flush.port);
		out->status = 0;
		break;
	case WIRE_OP_QUERY:
		out->status = run_query(s, c, req, out);
		break;
	case WIRE_OP_ISOLATE:
		out->status = s->device.ops.isolate(&s->device, req->isolate.port,
						    req->isolate.enable, &out->error);
		break;
	case WIRE_OP_RXQ_ATTACH:
		out->status = run_rxq_attach(s, c, req, out);
		break;
	case WIRE_OP_RXQ_DETACH:
		out->status = s->device.ops.rxq_detach(&s->device, req->rxq.port, req->rxq.queue,
						       c->session, &out->error);
		break;
	case WIRE_OP_METER_CREATE:
	case WIRE_OP_METER_DESTROY:
	case WIRE_OP_METER_QUERY:
		out->status = run_meter(s, req, out);
		break;
	case WIRE_OP_AUDIT:
		out->status = audit_run(s, &out->handle, &out->error);
		break;
	default:
		out->status = flow_error_set(&out->error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
					     -1, "op %u cannot be run here",
					     (unsigned)req->header.op);
	}
}

static void handle_message(struct server *s, struct client *c, const uint8_t *msg, size_t length)
{
	struct wire_completion out = {.error.cause = -1};
	struct wire_batch_iter it;
	bool cancelled = false;
	int rc;

	out.status = wire_decode_request(msg, length, &request, &out.error);
	out.user_data = request.header.user_data;
	out.request_op = request.header.op;
	if (out.status) {
		log_debug("client %u: request refused: %s", c->session, out.error.message);
		stage_completion(s, c, &out);
		return;
	}
	if (request.header.op != WIRE_OP_BATCH) {
		run(s, c, &request, &out);
		stage_completion(s, c, &out);
		return;
	}
	/* One completion per request of the batch, in order. */
	wire_batch_iter_init(&it, &request);
	for (;;) {
		struct wire_completion sub = {.error.cause = -1};

		rc = wire_batch_next(&it, &sub_request, &sub.error);
		if (rc == 0)
			break;
		sub.user_data = sub_request.header.user_data;
		sub.request_op = sub_request.header.op;
		if (cancelled)
			sub.status = flow_error_set(&sub.error, ECANCELED,
						    MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
						    "not run: an earlier request of the batch failed");
		else if (rc < 0)
			sub.status = rc;
		else
			run(s, c, &sub_request, &sub);
		cancelled = cancelled || (sub.status && request.batch.stop_on_error);
		stage_completion(s, c, &sub);
	}
}

int dispatch_client(struct server *s, struct client *c, unsigned budget)
{
	unsigned served = 0;

	c->waiting_for_space = false;
	while (served < budget) {
		uint32_t room, burst;
		int n;

		if (c->completions.error) {
			client_remove(s, c, "published an impossible completion ring head");
			return -1;
		}
		if (!ring_writable(&c->completions, (uint32_t)(stage.ring_bytes + REQUEST_ROOM))) {
			stage_flush(s, c);
			if (ring_producer_prepare_sleep(&c->completions, REQUEST_ROOM)) {
				c->waiting_for_space = true;
				break;
			}
			ring_producer_finish_sleep(&c->completions);
			continue;
		}
		/* Take as many requests as the completion ring has room for
		 * in the worst case, one head store for all of them. */
		room = ring_free_space(&c->completions) - (uint32_t)stage.ring_bytes;
		burst = room / REQUEST_ROOM;
		if (burst > BURST_MAX)
			burst = BURST_MAX;
		if (burst > budget - served)
			burst = budget - served;
		n = ring_dequeue_burst(&c->requests, inbox, sizeof(inbox), inbox_msgs, burst);
		if (n == 0 || n == -EAGAIN)
			break;
		if (n < 0) {
			stage_flush(s, c);
			client_remove(s, c, n == -EPROTO ? "published an impossible ring index"
							 : "wrote a corrupt ring record");
			return -1;
		}
		for (int i = 0; i < n; i++)
			handle_message(s, c, inbox + inbox_msgs[i].offset, inbox_msgs[i].length);
		served += (unsigned)n;
	}
	stage_flush(s, c);
	c->requests_served += served;
	return (int)served;
}
