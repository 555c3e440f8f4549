/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Request dispatch: read a client's requests off its ring, run each one,
 * put its completions in the client's outbox (commit.c publishes them, in
 * order, once what they depend on is durable).
 *
 * Fairness is by time, not by count: the loop gives each client a slice of
 * time per round, and nothing a client asks for may hold the loop longer
 * than a slice. A whole-table request (flush) is a job that runs in steps
 * of JOB_STEP rules, across as many slices as it needs, while the client's
 * later requests wait in its ring (a BATCH it stands in stays there too, and
 * is read again to go on); so is a DESTROY of several handles (up to
 * WIRE_DESTROY_MAX: a few milliseconds of journaled destroys) once the
 * client's DESTROYs in this slice would pass DESTROY_AT_ONCE handles, in
 * steps of DESTROY_AT_ONCE: one big DESTROY, a BATCH of many or a burst of
 * them costs a slice what a flush's step does. An audit runs at once but is rationed: audits
 * take at most 1/AUDIT_SHARE of the loop's time (the instance's own users'
 * audits, and other users' theirs), and one whose turn has not come waits
 * as the client's job.
 *
 * Back pressure: a request is taken only when the completion ring has room
 * for everything the outbox holds plus the most completions one request
 * can produce (a full BATCH). A client that does not read its completions
 * stops being served (NEED_SPACE set; its dequeue rings us) and costs the
 * primary no more memory than its own completion ring's worth.
 *
 * Trust: each request is copied out of the ring once (ring_peek_burst),
 * then decoded in that private copy (wire_decode_private) and validated.
 * A bad request costs its sender an error completion; a broken
 * ring costs it the session. Nothing a client writes can stop the primary.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shm/clock.h"
#include "server/server.h"
#include "shm/fdpass.h"

/* Room one request may need in the completion ring. */
#define REQUEST_ROOM	(WIRE_BATCH_MAX * (RING_RECORD_HEADER + WIRE_COMPLETION_MAX))
#define JOB_STEP	512u	  /* rules a job handles between looks at the clock */
#define DESTROY_AT_ONCE 64u	  /* handles of a DESTROY between looks at the clock */
#define AUDIT_SHARE	200	  /* audits may use 1/200 of the loop's time */
#define AUDIT_BURST_NS	2000000ll /* and this much of it at once */

/* Queue `out` behind the client's earlier completions; it waits for the
 * journal if the request appended to it (the journal's end moved). */
static void complete(struct server *s, struct client *c, const struct wire_completion *out,
		     uint64_t journal_before)
{
	struct commit_wait wait = {
		.lsn = s->journal.end != journal_before ? s->journal.end : s->commit.depends,
		.stays = s->commit.stays,
	};

	s->commit.depends = 0;
	s->commit.stays = 0;
	commit_complete(c, out, wait);
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
		.shape = &shape,
		.wire = req->buf,
		.wire_length = req->header.length,
	};
	if (req->header.op == WIRE_OP_VALIDATE)
		return s->device.ops.validate(&s->device, &hw, &out->error);
	err = rules_create(s, c, rule, &hw, &out->handle, &out->error);
	if (err)
		return err;
	/* A persistent rule's own record comes after its meter's. */
	if (!rule->persistent && journal_rule_meters_pending(s, rule) &&
	    commit_depend(s, out->handle) != 0) {
		rules_create_undone(s, out->handle);
		return flow_error_set(&out->error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "out of memory");
	}
	log_debug("client %u: rule 0x%llx created on port %u", c->session,
		  (unsigned long long)out->handle, rule->port);
	return 0;
}

/* The slot of a rule `c` may act on (`changes` it: destroy, reset), on
 * `port`; or -errno. */
static int find_rule(struct server *s, struct client *c, uint16_t port, uint64_t handle,
		     bool changes, struct mpf_flow_error *error)
{
	int slot = rules_lookup(s, c, handle, changes, error);

	if (slot >= 0 && s->rules.slots[slot].port != port)
		return flow_error_set(error, ENOENT, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "rule 0x%llx is not on port %u", (unsigned long long)handle,
				      port);
	return slot;
}

/* Destroy the client's rules handles[0..n) on `port`: how many went into
 * *destroyed; the first refusal into *first_error and `error`, unless one
 * is there already. */
static void destroy_handles(struct server *s, struct client *c, uint16_t port,
			    const uint64_t *handles, uint32_t n, uint32_t *destroyed,
			    uint32_t *stays, int *first_error, struct mpf_flow_error *error)
{
	for (uint32_t i = 0; i < n; i++) {
		struct mpf_flow_error why;
		int slot = find_rule(s, c, port, handles[i], true, &why), err;
		bool persistent;

		if (slot < 0) {
			if (!*first_error) {
				*first_error = slot;
				*error = why;
			}
			continue;
		}
		/* A persistent rule stays if its destroy cannot be journaled;
		 * otherwise the handle is gone even when the device fails to
		 * let go of its rule, and the client hears the device's errno. */
		persistent = s->rules.slots[slot].owner == 0;
		err = rules_destroy(s, (uint32_t)slot, &why);
		if (err && !*first_error) {
			*first_error = err;
			*error = why;
		}
		if (!err || s->rules.slots[slot].state == RULE_FREE) {
			(*destroyed)++;
			*stays += !persistent; /* no record: no failure undoes it */
		}
	}
}

/* A refusal among several handles says how many were destroyed. */
static void destroy_said(struct mpf_flow_error *error, uint32_t destroyed, uint32_t count)
{
	size_t n = strlen(error->message);

	if (count > 1)
		snprintf(error->message + n, sizeof(error->message) - n, " (%u of %u destroyed)",
			 destroyed, count);
}

static void start_job(struct server *s, struct client *c, enum job_kind kind, int port,
		      const struct wire_request *req);
/* A runner's answer that it began the client's job: the completion comes
 * when the job ends. */
#define RUN_SUSPENDED 1

static int run_destroy(struct server *s, struct client *c, const struct wire_request *req,
		       struct wire_completion *out)
{
	uint32_t count = req->destroy.count, destroyed = 0;
	int first_error = 0;
	uint64_t *copy;

	/* The handles are not aligned in the request: copied out. Past the
	 * slice's budget they go as a job, a step at a time; if there is no
	 * memory for that, at once. */
	copy = count > 1 && c->slice_handles + count > DESTROY_AT_ONCE
		       ? malloc(count * sizeof(*copy))
		       : NULL;
	if (count > 1)
		c->slice_handles += count;
	if (copy) {
		memcpy(copy, req->destroy.handles, count * sizeof(*copy));
		start_job(s, c, JOB_DESTROY, req->destroy.port, req);
		c->job.handles = copy;
		c->job.n_handles = count;
		return RUN_SUSPENDED;
	}
	for (uint32_t i = 0; i < count; i++) {
		uint64_t handle;

		memcpy(&handle, &req->destroy.handles[i], sizeof(handle));
		destroy_handles(s, c, req->destroy.port, &handle, 1, &destroyed, &s->commit.stays,
				&first_error, &out->error);
	}
	if (first_error)
		destroy_said(&out->error, destroyed, count);
	return first_error;
}

static int run_query(struct server *s, struct client *c, const struct wire_request *req,
		     struct wire_completion *out)
{
	int slot =
		find_rule(s, c, req->query.port, req->query.handle, req->query.reset, &out->error);
	struct region_count count;
	int err;

	if (slot < 0)
		return slot;
	if (s->rules.slots[slot].state == RULE_UNRESTORED)
		return flow_error_set(&out->error, ENODEV, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "rule 0x%llx is in the journal but was not restored at start "
				      "(see the primary's log)",
				      (unsigned long long)req->query.handle);
	/* A device that counts itself is read first: a fresh count, or the
	 * latest one for the baseline to move to. */
	if (req->query.fresh || req->query.reset) {
		err = s->device.ops.counter_read(&s->device, s->rules.slots[slot].backend,
						 &out->error);
		if (err)
			return err;
	}
	err = region_counter_read_shared(&s->counters[slot], &s->shares, slot,
					 (uint32_t)(req->query.handle >> 32), &count);
	if (err == -ENOTSUP)
		return flow_error_set(&out->error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, -1,
				      "rule 0x%llx has no COUNT action",
				      (unsigned long long)req->query.handle);
	if (err)
		return flow_error_set(&out->error, -err, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "counter of rule 0x%llx unreadable",
				      (unsigned long long)req->query.handle);
	out->has_query = true;
	out->query.hits_set = 1;
	out->query.bytes_set = 1;
	out->query.hits = count.hits;
	out->query.bytes = count.bytes;
	if (req->query.reset) {
		region_counter_reset_shared(&s->counters[slot], &s->shares, slot);
		region_activity_bump(s->activity, slot);
	}
	return 0;
}

/* The queue's memfd and doorbell go on the socket before the completion
 * goes on the ring: a client that sees success finds them waiting. */
/* RX and TX queues alike: the queue's memory and doorbell go to the
 * client on its socket, before the completion. */
static int run_queue_attach(struct server *s, struct client *c, const struct wire_request *req,
			    struct wire_completion *out)
{
	struct wire_rxq tag = {.port = req->rxq.port, .queue = req->rxq.queue};
	bool tx = req->header.op == WIRE_OP_TXQ_ATTACH;
	int fds[HWDRV_QUEUE_FDS] = {-1, -1, -1};
	int err;

	if (c->queues >= s->config.client_max_queues)
		return flow_error_set(&out->error, EDQUOT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "client quota of %u attached queues reached "
				      "(--client-max-queues)",
				      s->config.client_max_queues);
	/* One queue's fds on the socket at a time: until the client reads
	 * them they are in flight, counted against the primary's
	 * RLIMIT_NOFILE (past it every welcome fails), and past 2,024 of them
	 * the kernel makes each fd the primary passes wait for its garbage
	 * collector. A client that never reads its socket holds three. */
	if (fdpass_unread(c->sock) > 0)
		return flow_error_set(&out->error, EAGAIN, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the queue attached before waits unread on the client's "
				      "socket");
	err = s->device.ops.queue_attach(&s->device, req->rxq.port, req->rxq.queue, tx, c->session,
					 fds, &out->error);
	if (err)
		return err;
	err = fdpass_send(c->sock, &tag, sizeof(tag), fds, fds[2] >= 0 ? 3 : 2);
	if (err) {
		s->device.ops.queue_detach(&s->device, req->rxq.port, req->rxq.queue, tx,
					   c->session, NULL);
		return flow_error_set(&out->error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "passing the queue to the client: %s", strerror(-err));
	}
	c->queues++;
	log_info("client %u: attached %s queue %u of port %u", c->session, tx ? "TX" : "RX",
		 req->rxq.queue, req->rxq.port);
	return 0;
}

static int run_queue_detach(struct server *s, struct client *c, const struct wire_request *req,
			    struct wire_completion *out)
{
	int err = s->device.ops.queue_detach(&s->device, req->rxq.port, req->rxq.queue,
					     req->header.op == WIRE_OP_TXQ_DETACH, c->session,
					     &out->error);

	if (!err)
		c->queues--;
	return err;
}

/* Port-wide state (meter objects, isolated mode) is the instance's own
 * users' to change: another user (--allow-group) makes and destroys its own
 * rules, not what every rule of the port depends on. 0, or -EPERM. */
static int port_wide(const struct client *c, const char *what, struct mpf_flow_error *error)
{
	if (rules_uid_is_instance(c->uid))
		return 0;
	return flow_error_set(error, EPERM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			      "%s: port-wide, only the primary's user and root may (uid %u may "
			      "not)",
			      what, (unsigned)c->uid);
}

static int run_meter(struct server *s, struct client *c, const struct wire_request *req,
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

	/* Meters are the instance's: all may use and read them. */
	if (req->header.op != WIRE_OP_METER_QUERY || req->meter.clear) {
		err = port_wide(c, "a meter's create, destroy or clear", &out->error);
		if (err)
			return err;
	}
	switch (req->header.op) {
	case WIRE_OP_METER_CREATE:
		if (journal_meter_dying(s, req->meter.port, req->meter.id))
			return flow_error_set(&out->error, EBUSY, MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
					      -1, "meter %u on port %u is being destroyed",
					      req->meter.id, req->meter.port);
		err = dev->ops.meter_create(dev, req->meter.port, req->meter.id, &params,
					    &out->error);
		if (err)
			return err;
		/* Meters are the instance's: journaled as persistent rules are,
		 * as the bytes that were decoded. */
		err = journal_meter(s, req->meter.port, req->meter.id, req->buf,
				    req->header.length);
		if (err) {
			dev->ops.meter_destroy(dev, req->meter.port, req->meter.id, NULL);
			return flow_error_set(&out->error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
					      -1, "the journal cannot record the meter: %s",
					      strerror(-err));
		}
		return 0;
	case WIRE_OP_METER_DESTROY:
		if (journal_meter_dying(s, req->meter.port, req->meter.id))
			return flow_error_set(&out->error, EBUSY, MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
					      -1, "meter %u on port %u is being destroyed",
					      req->meter.id, req->meter.port);
		if (s->journal.broken)
			return flow_error_set(&out->error, -s->journal.broken,
					      MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "the journal cannot record the destroy: %s",
					      strerror(-s->journal.broken));
		err = dev->ops.meter_destroy(dev, req->meter.port, req->meter.id, &out->error);
		if (err)
			return err;
		err = journal_meter_gone(s, req->meter.port, req->meter.id);
		if (err) {
			/* Not recorded, so not done: the meter is made again. */
			journal_meter_gone_undone(s,
						  (uint64_t)req->meter.port << 32 | req->meter.id);
			return flow_error_set(&out->error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
					      -1, "the journal cannot record the destroy: %s",
					      strerror(-err));
		}
		return 0;
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

/*
 * The audit reads the whole table at once (its picture must be consistent),
 * so it is rationed instead of sliced: a token bucket of loop time that
 * fills at 1/AUDIT_SHARE of the clock, up to AUDIT_BURST_NS. An audit runs
 * when the bucket is not in debt and takes what it used from it; a long one
 * (a million rules) puts it in debt, and the next waits — as the client's
 * job, its later requests behind it, the loop free to sleep — until audits
 * have used no more than their share. Returns 0 if one may run now, or the
 * CLOCK_MONOTONIC time at which one may.
 */
static uint64_t audit_ready_at(struct server *s, const struct client *c, uint64_t now)
{
	unsigned b = c->maker != 0; /* the bucket: the instance's users', or others' */
	int64_t tokens =
		s->audit_tokens_ns[b] + (int64_t)((now - s->audit_refilled_ns[b]) / AUDIT_SHARE);

	s->audit_refilled_ns[b] = now;
	s->audit_tokens_ns[b] = tokens < AUDIT_BURST_NS ? tokens : AUDIT_BURST_NS;
	return s->audit_tokens_ns[b] < 0 ? now + (uint64_t)(-s->audit_tokens_ns[b]) * AUDIT_SHARE
					 : 0;
}

static int audit_timed(struct server *s, const struct client *c, uint64_t *checked,
		       struct mpf_flow_error *error)
{
	uint64_t start = clock_ns(CLOCK_MONOTONIC);
	int err = audit_run(s, checked, error);

	s->audit_tokens_ns[c->maker != 0] -= (int64_t)(clock_ns(CLOCK_MONOTONIC) - start);
	return err;
}

/* Begin a whole-table request as the client's job (run by job_step()). */
static void start_job(struct server *s, struct client *c, enum job_kind kind, int port,
		      const struct wire_request *req)
{
	c->job = (struct job){.kind = kind,
			      .error.cause = -1,
			      .port = port,
			      .begun = s->journal.end,
			      .user_data = req->header.user_data,
			      .request_op = req->header.op};
}

static int run_flush(struct server *s, struct client *c, const struct wire_request *req,
		     struct wire_completion *out)
{
	(void)out; /* a runner's signature: the job does the work */
	start_job(s, c, req->flush.persistent ? JOB_FLUSH_PERSISTENT : JOB_FLUSH, req->flush.port,
		  req);
	return RUN_SUSPENDED;
}

static int run_isolate(struct server *s, struct client *c, const struct wire_request *req,
		       struct wire_completion *out)
{
	int err = port_wide(c, "isolated mode", &out->error);

	if (err)
		return err;
	return s->device.ops.isolate(&s->device, req->isolate.port, req->isolate.enable,
				     &out->error);
}

static int run_port_stats_reset(struct server *s, struct client *c, const struct wire_request *req,
				struct wire_completion *out)
{
	const struct region_header *h = s->region;
	unsigned port = req->port_ref.port;
	uint32_t ticket = 0;
	int err;

	/* The statistics are the port's: port-wide, as meters and isolated
	 * mode (an allowed group's user zeroed the figures the operator's
	 * monitoring reads). */
	err = port_wide(c, "port statistics reset", &out->error);
	if (err)
		return err;
	if (!(h->port_flags & REGION_PORTS_KEPT))
		return flow_error_set(&out->error, ENOTSUP, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the %s backend keeps no port statistics", h->backend);
	if (port >= h->ports)
		return flow_error_set(&out->error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "port %u does not exist (the device has %u)", port, h->ports);
	err = s->device.ops.port_stats_reset(&s->device, (uint16_t)port, &ticket, &out->error);
	if (err != -EINPROGRESS && err != -EBUSY)
		return err;
	start_job(s, c, JOB_PORT_RESET, (int)port, req);
	c->job.cursor = err == -EINPROGRESS;
	c->job.ticket = ticket;
	return RUN_SUSPENDED;
}

/* How long a port statistics reset waits between two looks at the
 * datapath's answer. */
#define PORT_RESET_POLL_NS 20000u

/* A port statistics reset waits for the datapath's workers (microseconds),
 * as a job: the loop looks again PORT_RESET_POLL_NS later and serves the
 * others meanwhile. The code before waited in place, 75-126 us a reset:
 * an attacker's flood of resets, 32 a burst, held the loop 2.6 ms a turn
 * and cut a bystander's creates 27-fold. */
static enum job_progress port_reset_step(struct server *s, struct job *job)
{
	struct hwdrv *dev = &s->device;
	uint16_t port = (uint16_t)job->port;
	int err = !job->cursor ? dev->ops.port_stats_reset(dev, port, &job->ticket, &job->error)
		  : fault_held("port-reset")
			  ? -EINPROGRESS /* mpflowd-faults: HOLD:port-reset */
			  : dev->ops.port_stats_reset_done(dev, port, job->ticket, &job->error);

	if (err == -EINPROGRESS || err == -EBUSY) {
		uint64_t again = clock_ns(CLOCK_MONOTONIC) + PORT_RESET_POLL_NS;

		job->cursor |= err == -EINPROGRESS;
		if (s->wake_at_ns == 0 || again < s->wake_at_ns)
			s->wake_at_ns = again;
		return JOB_WAITING;
	}
	job->status = err;
	return JOB_DONE;
}

static int run_audit(struct server *s, struct client *c, const struct wire_request *req,
		     struct wire_completion *out)
{
	if (audit_ready_at(s, c, clock_ns(CLOCK_MONOTONIC))) {
		start_job(s, c, JOB_AUDIT, -1, req);
		return RUN_SUSPENDED;
	}
	return audit_timed(s, c, &out->count, &out->error);
}

/* What runs each op (the wire's table says how it decodes); a BATCH is
 * taken apart by handle_message(). */
typedef int runner(struct server *s, struct client *c, const struct wire_request *req,
		   struct wire_completion *out);
static runner *const runners[WIRE_OP_END_] = {
	[WIRE_OP_VALIDATE] = run_rule,
	[WIRE_OP_CREATE] = run_rule,
	[WIRE_OP_DESTROY] = run_destroy,
	[WIRE_OP_FLUSH] = run_flush,
	[WIRE_OP_QUERY] = run_query,
	[WIRE_OP_ISOLATE] = run_isolate,
	[WIRE_OP_RXQ_ATTACH] = run_queue_attach,
	[WIRE_OP_RXQ_DETACH] = run_queue_detach,
	[WIRE_OP_TXQ_ATTACH] = run_queue_attach,
	[WIRE_OP_TXQ_DETACH] = run_queue_detach,
	[WIRE_OP_METER_CREATE] = run_meter,
	[WIRE_OP_METER_DESTROY] = run_meter,
	[WIRE_OP_METER_QUERY] = run_meter,
	[WIRE_OP_AUDIT] = run_audit,
	[WIRE_OP_PORT_STATS_RESET] = run_port_stats_reset,
};

/* Run one decoded request (not a BATCH) into `out`. True if it became the
 * client's job: its completion comes when the job ends. */
static bool run(struct server *s, struct client *c, const struct wire_request *req,
		struct wire_completion *out)
{
	runner *r = req->header.op < WIRE_OP_END_ ? runners[req->header.op] : NULL;
	int status;

	if (r == NULL) {
		out->status =
			flow_error_set(&out->error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				       "op %u cannot be run here", (unsigned)req->header.op);
		return false;
	}
	/* Requests take effect in order: anything but another create (a
	 * destroy of the rule a create replaces, an isolate, a detach) finds
	 * every create before it taking traffic. */
	if (req->header.op != WIRE_OP_CREATE && req->header.op != WIRE_OP_VALIDATE)
		rules_activate(s);
	status = r(s, c, req, out);
	if (status == RUN_SUSPENDED)
		return true;
	out->status = status;
	return false;
}

/* Run one message. True if it suspended (a job began): a plain request is
 * consumed all the same; a BATCH stays in the ring, to be read again from
 * its next sub-request once the job is done. */
static bool handle_message(struct server *s, struct client *c, const uint8_t *msg, size_t length,
			   bool *keep)
{
	struct wire_request *request = &s->scratch->request, *sub = &s->scratch->sub_request;
	struct wire_completion out = {.error.cause = -1};
	uint64_t before = s->journal.end;
	uint32_t skip = c->batch_resume;
	bool cancelled = c->batch_cancelled;
	struct wire_batch_iter it;
	int rc;

	*keep = false;
	c->batch_resume = 0;
	c->batch_cancelled = false;
	/* `msg` is our copy out of the ring: decoded where it is. */
	out.status = wire_decode_private(msg, length, request, &out.error);
	out.user_data = request->header.user_data;
	out.request_op = request->header.op;
	if (out.status) {
		log_debug("client %u: request refused: %s", c->session, out.error.message);
		complete(s, c, &out, before);
		return false;
	}
	if (request->header.op != WIRE_OP_BATCH) {
		if (run(s, c, request, &out))
			return true;
		complete(s, c, &out, before);
		return false;
	}
	/* One completion per request of the batch, in order. */
	wire_batch_iter_init(&it, request);
	for (uint32_t index = 0;; index++) {
		struct wire_completion one = {.error.cause = -1};

		before = s->journal.end;
		rc = wire_batch_next(&it, sub, &one.error);
		if (rc == 0)
			break;
		if (index < skip)
			continue; /* run before the job that suspended the batch */
		one.user_data = sub->header.user_data;
		one.request_op = sub->header.op;
		if (cancelled) {
			one.status = flow_error_set(
				&one.error, ECANCELED, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				"not run: an earlier request of the batch failed");
		} else if (rc < 0) {
			one.status = rc;
		} else if (run(s, c, sub, &one)) {
			c->job.in_batch = true;
			c->job.stop_on_error = request->batch.stop_on_error;
			c->batch_resume = index + 1;
			c->batch_cancelled = false;
			*keep = true;
			return true;
		}
		cancelled = cancelled || (one.status && request->batch.stop_on_error);
		complete(s, c, &one, before);
	}
	return false;
}

/* What became of a job's destroys a failed sync undid: their rules are
 * back, and unless the failure could not cut their records from the file
 * (a file system gone read-only), no start redoes them. Each message that
 * says it fits MPF_FLOW_ERROR_MESSAGE_MAX (150 characters at most: ENOSPC's
 * text, 2,048 handles, 2^24 rules). */
static const char *undone_said(const struct server *s, const struct job *job)
{
	/* A rewrite since (a new file) left their records behind. */
	return job->undone_uncut && job->uncut_file == s->journal.file
		       ? "left in its file: a start may redo them"
		       : "their rules back";
}

/* One step of the client's job: at most JOB_STEP rules, or the audit if
 * its turn came. */
static enum job_progress job_step(struct server *s, struct client *c)
{
	struct job *job = &c->job;
	uint32_t orphans = 0;
	uint64_t ready;

	switch (job->kind) {
	case JOB_FLUSH:
	case JOB_LEAVE:
		return rules_destroy_owned(s, c, job, JOB_STEP) ? JOB_MORE : JOB_DONE;
	case JOB_FLUSH_PERSISTENT:
		if (rules_destroy_persistent(s, c, job, JOB_STEP, &job->status))
			return JOB_MORE;
		/* Then the rules kept beyond --max-rules, which have no slot. */
		if (!job->status)
			job->status =
				journal_orphans_destroy(s, (uint16_t)job->port, c->maker, &orphans);
		job->done += orphans;
		/* A sync that failed between two steps undid the destroys it
		 * did not make durable: the count is of those that stay. */
		job->done -= job->undone_rules < job->done ? job->undone_rules : job->done;
		if (job->undone && !job->status) {
			job->status = job->undone;
			flow_error_set(&job->error, -job->status, MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
				       -1,
				       "the journal failed in the flush (%s): %u destroy(s) "
				       "undone, %s; %u stay done",
				       strerror(-job->status), job->undone_rules,
				       undone_said(s, job), job->done);
			return JOB_DONE;
		}
		if (job->status && job->done == 0)
			flow_error_set(&job->error, -job->status, MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
				       -1,
				       "the journal cannot record the destroys: %s; none was done",
				       strerror(-job->status));
		else if (job->status)
			flow_error_set(&job->error, -job->status, MPF_FLOW_ERROR_TYPE_UNSPECIFIED,
				       -1,
				       "the journal cannot record the destroys: %s; of the %u "
				       "before, what no sync made durable is undone",
				       strerror(-job->status), job->done);
		return JOB_DONE;
	case JOB_DESTROY: {
		uint32_t n = job->n_handles - job->cursor;

		n = n < DESTROY_AT_ONCE ? n : DESTROY_AT_ONCE;
		destroy_handles(s, c, (uint16_t)job->port, job->handles + job->cursor, n,
				&job->done, &job->stays, &job->status, &job->error);
		job->cursor += n;
		if (job->cursor < job->n_handles)
			return JOB_MORE;
		/* A sync that failed between two steps undid the destroys it
		 * did not make durable: count those that stay. */
		if (job->undone_rules) {
			job->status = job->undone	  ? job->undone
				      : s->journal.broken ? s->journal.broken
							  : -EIO;
			flow_error_set(
				&job->error, -job->status, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				"the journal failed in the destroys (%s): %u of them undone, %s",
				strerror(-job->status), job->undone_rules, undone_said(s, job));
			job->done -= job->undone_rules < job->done ? job->undone_rules : job->done;
		}
		if (job->status)
			destroy_said(&job->error, job->done, job->n_handles);
		return JOB_DONE;
	}
	case JOB_PORT_RESET:
		return port_reset_step(s, job);
	case JOB_AUDIT:
		ready = audit_ready_at(s, c, clock_ns(CLOCK_MONOTONIC));
		if (ready) {
			if (s->wake_at_ns == 0 || ready < s->wake_at_ns)
				s->wake_at_ns = ready;
			return JOB_WAITING;
		}
		job->status = audit_timed(s, c, &job->checked, &job->error);
		return JOB_DONE;
	default:
		return JOB_DONE;
	}
}

/* Go on with the client's job until it ends, waits, or `deadline`. */
static enum job_progress job_run(struct server *s, struct client *c, uint64_t deadline)
{
	struct job *job = &c->job;
	struct wire_completion out = {.error.cause = -1};
	enum job_progress progress;

	for (;;) {
		uint64_t before = s->journal.end;

		if (!s->stopping && fault_held("job")) {
			/* mpflowd-faults: held between two steps (HOLD:job)
			 * while the loop goes on, for a test to let a sync
			 * land first; it looks again in a millisecond. Not
			 * at shutdown, which ends every job. */
			uint64_t again = clock_ns(CLOCK_MONOTONIC) + 1000000u;

			if (s->wake_at_ns == 0 || again < s->wake_at_ns)
				s->wake_at_ns = again;
			return JOB_WAITING;
		}
		s->commit.job = c->index + 1; /* its records say whose they are */
		progress = job_step(s, c);
		s->commit.job = 0;
		/* What the job's completion waits for: its own records, not
		 * those other clients appended between its steps. */
		if (s->journal.end != before) {
			if (job->first == 0)
				job->first = s->journal.end;
			job->lsn = s->journal.end;
		}
		if (progress != JOB_MORE)
			break;
		fault_point("job-step"); /* between two steps (mpflowd-faults) */
		if (clock_ns(CLOCK_MONOTONIC) >= deadline)
			return JOB_MORE;
	}
	if (progress == JOB_WAITING)
		return JOB_WAITING;
	if (job->kind == JOB_LEAVE) {
		job->kind = JOB_NONE;
		client_finish(s, c);
		return JOB_DONE;
	}
	out.user_data = job->user_data;
	out.request_op = job->request_op;
	out.count = job->kind == JOB_AUDIT     ? job->checked
		    : job->kind == JOB_DESTROY ? 0
					       : job->done;
	out.status = job->status;
	if (job->status)
		out.error = job->error;
	commit_complete(
		c, &out,
		(struct commit_wait){.lsn = job->lsn, .first = job->first, .stays = job->stays});
	if (job->in_batch && out.status && job->stop_on_error)
		c->batch_cancelled = true;
	job_end(c);
	return JOB_DONE;
}

void job_end(struct client *c)
{
	free(c->job.handles);
	c->job = (struct job){.kind = JOB_NONE};
}

int dispatch_client(struct server *s, struct client *c, uint64_t slice_ns)
{
	struct scratch *sc = s->scratch;
	uint64_t deadline = 0; /* read the clock only once there is work */
	unsigned served = 0;

	c->slice_handles = 0;

	if (c->leaving)
		return job_run(s, c, clock_ns(CLOCK_MONOTONIC) + slice_ns) == JOB_WAITING ? 0 : 1;
	/* Back from waiting for the client to free completion space: take
	 * the request back, or each completion it consumes from now on
	 * would ring our doorbell (a system call on both sides a rule). */
	if (c->waiting_for_space) {
		ring_producer_finish_sleep(&c->completions);
		c->waiting_for_space = false;
	}
	for (;;) {
		uint32_t reserve, room, burst, need;
		int n, i;

		if (c->completions.error) {
			client_remove(s, c, "published an impossible completion ring head");
			return -1;
		}
		if (!commit_publish(s, c) && commit_outbox_blocked(s, c, &need)) {
			if (ring_producer_prepare_sleep(&c->completions, need)) {
				c->waiting_for_space = true;
				break;
			}
			ring_producer_finish_sleep(&c->completions);
			continue;
		}
		if (c->job.kind != JOB_NONE) {
			enum job_progress progress;

			if (deadline == 0)
				deadline = clock_ns(CLOCK_MONOTONIC) + slice_ns;
			progress = job_run(s, c, deadline);

			if (progress == JOB_WAITING)
				break; /* the loop wakes at s->wake_at_ns */
			if (progress == JOB_MORE)
				return (int)served + 1;
			served++;
			continue;
		}
		if (deadline && clock_ns(CLOCK_MONOTONIC) >= deadline)
			break;
		reserve = c->outbox.ring_bytes + REQUEST_ROOM;
		if (!ring_writable(&c->completions, reserve)) {
			if (c->outbox.head != c->outbox.tail)
				break; /* it waits for the disk: the sync resumes us */
			if (ring_producer_prepare_sleep(&c->completions, reserve)) {
				c->waiting_for_space = true;
				break;
			}
			ring_producer_finish_sleep(&c->completions);
			continue;
		}
		/* Take as many requests as the completion ring has room for
		 * in the worst case. */
		room = ring_free_space(&c->completions) - c->outbox.ring_bytes;
		burst = room / REQUEST_ROOM;
		if (burst > DISPATCH_BURST_MAX)
			burst = DISPATCH_BURST_MAX;
		n = ring_peek_burst(&c->requests, sc->inbox, sizeof(sc->inbox), sc->msgs, burst);
		if (n == 0 || n == -EAGAIN)
			break;
		if (n < 0) {
			commit_publish(s, c);
			client_remove(s, c,
				      n == -EPROTO ? "published an impossible ring index"
						   : "wrote a corrupt ring record");
			return -1;
		}
		if (deadline == 0)
			deadline = clock_ns(CLOCK_MONOTONIC) + slice_ns;
		rules_clock_expire(s);
		for (i = 0; i < n; i++) {
			bool keep;

			if (handle_message(s, c, sc->inbox + sc->msgs[i].offset, sc->msgs[i].length,
					   &keep)) {
				/* Consumed up to it (through it unless a batch
				 * waits in it); the rest is read again later. */
				if (!keep)
					i++;
				break;
			}
		}
		if (i > 0)
			ring_release(&c->requests, sc->msgs[i - 1].end);
		served += (unsigned)i;
	}
	commit_publish(s, c);
	c->requests_served += served;
	return (int)served;
}
