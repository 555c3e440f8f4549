/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libmpflow: the session (handshake, mappings), submission, completions and
 * waiting. See mpflow/mpflow.h for the contract.
 *
 * Completions arrive in submission order (the primary serves one client's
 * ring in order), so in-flight requests are a FIFO: each completion is
 * matched with the oldest entry. A synchronous call waits for its own
 * entry; completions of asynchronous requests that arrive first are kept
 * for mpf_poll().
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mpflow/mpflow.h>

#include "libclient/client.h"
#include "shm/clock.h"
#include "shm/doorbell.h"
#include "shm/handshake.h"
#include "shm/rule/rule.h"

#define DEFAULT_BUSY_POLL_US 20
#define SUBMIT_BATCH	     32 /* async submissions published together */

int client_shutdown_error(struct mpf_flow_error *error)
{
	return flow_error_set(error, ESHUTDOWN, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			      "the primary went away; mpf_reconnect() starts a new session");
}

/* ------------------------------------------------------------------------ */
/* Session                                                                  */
/* ------------------------------------------------------------------------ */

static void unmap(struct mpf_client *c)
{
	if (!c->connected)
		return;
	munmap(c->mem, c->mem_length);
	client_unmap_region(&c->region);
	close(c->sock);
	close(c->primary_bell);
	close(c->client_bell);
	c->connected = false;
	c->staged = 0;
	fifo_clear(&c->inflight);
	c->abandoned = 0;
	fifo_clear(&c->kept);
}

static int map_session(struct mpf_client *c, const struct handshake_welcome *w, int fds[],
		       struct mpf_flow_error *error)
{
	struct stat st;
	size_t request_length = (size_t)(w->completion_ring_offset - w->request_ring_offset);
	int err;

	if (fstat(fds[HANDSHAKE_FD_CLIENT_MEMFD], &st) != 0 ||
	    (uint64_t)st.st_size != w->client_memfd_size ||
	    w->completion_ring_offset >= w->client_memfd_size || w->request_ring_offset != 0)
		return flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the session memory does not match the welcome");
	c->mem_length = w->client_memfd_size;
	c->mem = mmap(NULL, c->mem_length, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fds[HANDSHAKE_FD_CLIENT_MEMFD], 0);
	if (c->mem == MAP_FAILED)
		return flow_error_set(error, errno, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "mapping the session memory: %s", strerror(errno));
	err = client_map_region(fds[HANDSHAKE_FD_REGION], w->region_size, &c->region, error);
	if (err) {
		munmap(c->mem, c->mem_length);
		return err;
	}
	if (ring_attach(&c->requests, c->mem, request_length, RING_PRODUCER,
			fds[HANDSHAKE_FD_PRIMARY_BELL]) != 0 ||
	    ring_attach(&c->completions, (uint8_t *)c->mem + w->completion_ring_offset,
			c->mem_length - w->completion_ring_offset, RING_CONSUMER,
			fds[HANDSHAKE_FD_PRIMARY_BELL]) != 0) {
		munmap(c->mem, c->mem_length);
		client_unmap_region(&c->region);
		return flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the session's rings are malformed");
	}
	close(fds[HANDSHAKE_FD_CLIENT_MEMFD]);
	close(fds[HANDSHAKE_FD_REGION]);
	c->primary_bell = fds[HANDSHAKE_FD_PRIMARY_BELL];
	c->client_bell = fds[HANDSHAKE_FD_CLIENT_BELL];
	return 0;
}

static int open_session(struct mpf_client *c, struct mpf_flow_error *error)
{
	struct handshake_welcome welcome;
	int fds[HANDSHAKE_FDS];
	int err;

	c->sock = client_dial(&c->at, c->name, 0, &welcome, fds, HANDSHAKE_FDS, error);
	if (c->sock < 0)
		return c->sock;
	err = map_session(c, &welcome, fds, error);
	if (err) {
		for (int i = 0; i < HANDSHAKE_FDS; i++)
			close(fds[i]);
		close(c->sock);
		return err;
	}
	c->session = welcome.client_id;
	c->connected = true;
	c->dead = false;
	return 0;
}

int mpf_connect(const struct mpf_connect_options *options, struct mpf_client **client,
		struct mpf_flow_error *error)
{
	const struct mpf_connect_options none = {0};
	struct mpf_client *c;
	int err;

	if (options == NULL)
		options = &none;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "out of memory");
	err = client_locate(options, &c->at, error);
	if (err) {
		free(c);
		return err;
	}
	snprintf(c->name, sizeof(c->name), "%s",
		 options->name ? options->name : program_invocation_short_name);
	c->busy_poll_ns = (int64_t)(options->busy_poll_us > 0	? options->busy_poll_us
				    : options->busy_poll_us < 0 ? 0
								: DEFAULT_BUSY_POLL_US) *
			  1000;
	pthread_mutex_init(&c->lock, NULL);
	fifo_init(&c->inflight, sizeof(struct inflight));
	fifo_init(&c->kept, sizeof(struct mpf_completion));
	err = open_session(c, error);
	if (err) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return err;
	}
	*client = c;
	return 0;
}

void mpf_disconnect(struct mpf_client *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	client_queues_cut(c, true);
	pthread_mutex_unlock(&c->lock);
	unmap(c);
	pthread_mutex_destroy(&c->lock);
	fifo_free(&c->inflight);
	fifo_free(&c->kept);
	free(c);
}

int mpf_reconnect(struct mpf_client *c, struct mpf_flow_error *error)
{
	int err;

	pthread_mutex_lock(&c->lock);
	client_queues_cut(c, false);
	unmap(c);
	err = open_session(c, error);
	pthread_mutex_unlock(&c->lock);
	return err;
}

/* ------------------------------------------------------------------------ */
/* Waiting                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Wait until the completion ring has data (for_space false) or the request
 * ring has room for `length` bytes: shm's one wait, on our doorbell and the
 * socket together, whose hang-up means the primary is gone (a message on
 * the socket is an RX queue's fds, read by whoever asked for them).
 * 0, -ETIMEDOUT or -ESHUTDOWN.
 */
static int wait_ring(struct mpf_client *c, bool for_space, uint32_t length, int timeout_ms)
{
	struct ring_wait w = {.bell = c->client_bell,
			      .hangup_fd = c->sock,
			      .spin_ns = c->busy_poll_ns,
			      .timeout_ms = timeout_ms};
	int err = for_space ? ring_wait_writable(&c->requests, length, &w)
			    : ring_wait_readable(&c->completions, &w);

	if (err == -ESHUTDOWN)
		c->dead = true;
	return err == -ETIMEDOUT || err == -ESHUTDOWN || err == 0 ? err : -ESHUTDOWN;
}

/* ------------------------------------------------------------------------ */
/* In-flight bookkeeping                                                    */
/* ------------------------------------------------------------------------ */

/* Take one completion off the ring and match it with the oldest request
 * (dropping the answers of abandoned calls). Returns 1 with *sync telling
 * whose it is, 0 if none is there, or -errno. */
static int take_completion(struct mpf_client *c, struct mpf_completion *done,
			   struct wire_completion *raw, bool *sync)
{
	struct inflight entry;
	int length;

	do {
		length = ring_dequeue(&c->completions, c->in, sizeof(c->in));
		if (length == -EAGAIN)
			return 0;
		if (length < 0 || wire_decode_completion(c->in, (size_t)length, raw) != 0 ||
		    fifo_pop(&c->inflight, &entry) != 0) {
			c->dead = true; /* the session's state cannot be trusted now */
			return -EPROTO;
		}
		if (entry.abandoned)
			c->abandoned--;
	} while (entry.abandoned);
	*done = (struct mpf_completion){
		.user_data = entry.user_data,
		.status = raw->status,
		.handle = raw->handle,
		.error = raw->error,
	};
	*sync = entry.sync;
	return 1;
}

/* ------------------------------------------------------------------------ */
/* Submission                                                               */
/* ------------------------------------------------------------------------ */

/* Publish what asynchronous submissions staged. Lock held. */
static void publish(struct mpf_client *c)
{
	ring_commit(&c->requests);
	c->staged = 0;
}

/*
 * Put an encoded request (c->out) on the ring. Asynchronous requests are
 * staged and published SUBMIT_BATCH at a time (or by the next poll or
 * synchronous call, or mpf_submit_publish()), so that a burst costs the
 * primary one cache-line transfer, not one per request; when the ring is
 * full they get -EAGAIN. Synchronous ones publish at once and wait for
 * room. Lock held.
 */
static int submit(struct mpf_client *c, int length, bool sync, uint64_t user_data,
		  struct mpf_flow_error *error)
{
	int err;

	if (!c->connected || c->dead)
		return client_shutdown_error(error);
	if (length < 0)
		return length;
	while ((err = ring_stage(&c->requests, c->out, (uint32_t)length)) == -EAGAIN) {
		publish(c);
		if (!sync)
			return flow_error_set(error, EAGAIN, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "the request ring is full: poll completions first");
		err = wait_ring(c, true, (uint32_t)length, c->at.timeout_ms);
		if (err == -ESHUTDOWN)
			return client_shutdown_error(error);
		if (err == -ETIMEDOUT)
			return flow_error_set(error, ETIMEDOUT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "the primary took no request for %d ms",
					      c->at.timeout_ms);
	}
	if (err) {
		c->dead = true;
		return client_shutdown_error(error);
	}
	if (fifo_push(&c->inflight, &(struct inflight){.user_data = user_data, .sync = sync}) != 0)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "out of memory");
	if (sync || ++c->staged == SUBMIT_BATCH)
		publish(c);
	return 0;
}

/* Submit a request and wait for its completion. Lock held. */
/* Timeouts a call waits through while the primary's heartbeat moves. */
#define CALL_PATIENCE 30u

int client_call(struct mpf_client *c, int length, struct wire_completion *raw,
		struct mpf_flow_error *error)
{
	struct mpf_completion done;
	bool sync;
	int err = submit(c, length, true, 0, error);
	uint64_t beat = shm_load_relaxed64(&c->region.view.header->heartbeat_ns);
	unsigned waits = 0;

	if (err)
		return err;
	for (;;) {
		int got = take_completion(c, &done, raw, &sync);

		if (got < 0)
			return flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "the completion ring is corrupt");
		if (got == 0) {
			err = wait_ring(c, false, 0, c->at.timeout_ms);
			if (err == -ESHUTDOWN)
				return client_shutdown_error(error);
			/* A primary whose heartbeat moved is alive and working
			 * (a flush of millions of rules is sliced, and answered
			 * once done): wait on, up to CALL_PATIENCE timeouts (a
			 * live loop behind a sync that never ends must not hold
			 * the caller for ever). The timeout is for one that
			 * shows no sign of life. */
			if (err == -ETIMEDOUT && ++waits < CALL_PATIENCE &&
			    shm_load_relaxed64(&c->region.view.header->heartbeat_ns) != beat) {
				beat = shm_load_relaxed64(&c->region.view.header->heartbeat_ns);
				continue;
			}
			if (err == -ETIMEDOUT) {
				/* Ours is the newest request: no call came after it
				 * while we held the lock. Its late answer is dropped,
				 * not taken for the next call's. */
				((struct inflight *)fifo_newest(&c->inflight))->abandoned = true;
				c->abandoned++;
				return flow_error_set(
					error, ETIMEDOUT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					"no answer from the primary, and no heartbeat "
					"within %d ms or no answer within %d times "
					"that (the request may still take effect)",
					c->at.timeout_ms, CALL_PATIENCE);
			}
			continue;
		}
		if (sync)
			break;
		if (fifo_push(&c->kept, &done) != 0)
			return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "out of memory");
	}
	if (raw->status && error)
		*error = raw->error;
	return raw->status;
}

int mpf_flow_validate(struct mpf_client *c, uint16_t port, const struct mpf_flow_attr *attr,
		      const struct mpf_flow_item pattern[], const struct mpf_flow_action actions[],
		      struct mpf_flow_error *error)
{
	struct wire_completion raw;
	int err;

	pthread_mutex_lock(&c->lock);
	err = client_call(c,
			  wire_encode_rule(c->out, sizeof(c->out), WIRE_OP_VALIDATE, 0, port, false,
					   attr, pattern, actions, error),
			  &raw, error);
	pthread_mutex_unlock(&c->lock);
	return err;
}

int mpf_flow_create(struct mpf_client *c, uint16_t port, const struct mpf_flow_attr *attr,
		    const struct mpf_flow_item pattern[], const struct mpf_flow_action actions[],
		    uint32_t flags, uint64_t *handle, struct mpf_flow_error *error)
{
	struct wire_completion raw;
	int err;

	if (flags & ~MPF_FLOW_PERSISTENT)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "unknown flags 0x%x", flags & ~MPF_FLOW_PERSISTENT);
	pthread_mutex_lock(&c->lock);
	err = client_call(c,
			  wire_encode_rule(c->out, sizeof(c->out), WIRE_OP_CREATE, 0, port,
					   flags & MPF_FLOW_PERSISTENT, attr, pattern, actions,
					   error),
			  &raw, error);
	pthread_mutex_unlock(&c->lock);
	if (!err)
		*handle = raw.handle;
	return err;
}

int mpf_flow_destroy(struct mpf_client *c, uint16_t port, uint64_t handle,
		     struct mpf_flow_error *error)
{
	struct wire_completion raw;
	int err;

	pthread_mutex_lock(&c->lock);
	err = client_call(c,
			  wire_encode_destroy(c->out, sizeof(c->out), 0, port, &handle, 1, error),
			  &raw, error);
	pthread_mutex_unlock(&c->lock);
	return err;
}

int mpf_flow_flush(struct mpf_client *c, uint16_t port, struct mpf_flow_error *error)
{
	struct wire_completion raw;
	int err;

	pthread_mutex_lock(&c->lock);
	err = client_call(c, wire_encode_flush(c->out, sizeof(c->out), 0, port, false, error), &raw,
			  error);
	pthread_mutex_unlock(&c->lock);
	return err;
}

int mpf_flow_flush_persistent(struct mpf_client *c, uint16_t port, struct mpf_flow_error *error)
{
	struct wire_completion raw;
	int err;

	pthread_mutex_lock(&c->lock);
	err = client_call(c, wire_encode_flush(c->out, sizeof(c->out), 0, port, true, error), &raw,
			  error);
	pthread_mutex_unlock(&c->lock);
	return err ? err : (int)(raw.count > INT32_MAX ? INT32_MAX : raw.count);
}

int mpf_audit(struct mpf_client *c, struct mpf_flow_error *error)
{
	struct wire_completion raw;
	int err;

	pthread_mutex_lock(&c->lock);
	err = client_call(c, wire_encode_audit(c->out, sizeof(c->out), 0, error), &raw, error);
	pthread_mutex_unlock(&c->lock);
	return err ? err : (int)(raw.count > INT32_MAX ? INT32_MAX : raw.count);
}

int mpf_flow_isolate(struct mpf_client *c, uint16_t port, bool enable, struct mpf_flow_error *error)
{
	struct wire_completion raw;
	int err;

	pthread_mutex_lock(&c->lock);
	err = client_call(c, wire_encode_isolate(c->out, sizeof(c->out), 0, port, enable, error),
			  &raw, error);
	pthread_mutex_unlock(&c->lock);
	return err;
}

int mpf_flow_query(struct mpf_client *c, uint16_t port, uint64_t handle,
		   enum mpf_flow_action_type action, struct mpf_flow_query_count *count,
		   struct mpf_flow_error *error)
{
	uint32_t slot = (uint32_t)handle, generation = (uint32_t)(handle >> 32);
	struct wire_completion raw;
	struct region_count read;
	uint32_t owner;
	uint16_t at, listed;
	int err;

	if (action != MPF_FLOW_ACTION_TYPE_COUNT)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "only COUNT can be queried");
	if (count->reset || count->fresh) {
		uint32_t flags = (count->reset ? WIRE_QUERY_RESET : 0u) |
				 (count->fresh ? WIRE_QUERY_FRESH : 0u);

		pthread_mutex_lock(&c->lock);
		err = client_call(c,
				  wire_encode_query(c->out, sizeof(c->out), 0, port, handle, action,
						    flags, error),
				  &raw, error);
		pthread_mutex_unlock(&c->lock);
		if (!err) {
			count->hits_set = raw.query.hits_set;
			count->bytes_set = raw.query.bytes_set;
			count->hits = raw.query.hits;
			count->bytes = raw.query.bytes;
		}
		return err;
	}
	/* No round trip: the counters region, read-only, seqlocked. The
	 * region is readable by every admitted client (monitors list all
	 * rules); the API, like the primary, answers only for our own rules
	 * and persistent ones. The lock keeps mpf_reconnect() from unmapping
	 * the region under the read. */
	pthread_mutex_lock(&c->lock);
	if (!c->connected || c->dead)
		err = -ESHUTDOWN;
	else if (slot >= c->region.view.max_rules ||
		 region_entry_owner(&c->region.view, slot, generation, &owner, &at, &listed) != 0 ||
		 at != port)
		err = -ENOENT; /* as the primary answers: no such rule on this port */
	else if (owner != 0 && owner != c->session)
		err = -EPERM;
	else if (listed & REGION_ENTRY_UNRESTORED)
		err = -ENODEV; /* listed, from the journal; not in the device */
	else
		err = region_counter_read_shared(&c->region.view.counters[slot],
						 &c->region.view.shares, slot, generation, &read);
	pthread_mutex_unlock(&c->lock);
	if (err == -ESHUTDOWN)
		return client_shutdown_error(error);
	if (err == -EPERM)
		return flow_error_set(error, EPERM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "rule 0x%llx belongs to another client",
				      (unsigned long long)handle);
	if (err == -ENOENT)
		return flow_error_set(error, ENOENT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no rule 0x%llx on port %u", (unsigned long long)handle,
				      port);
	if (err == -ENODEV)
		return flow_error_set(
			error, ENODEV, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			"rule 0x%llx is in the journal but was not restored by this start "
			"of the primary (see its log)",
			(unsigned long long)handle);
	if (err == -ENOTSUP)
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "rule 0x%llx has no COUNT action",
				      (unsigned long long)handle);
	if (err)
		return flow_error_set(error, -err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "counter of rule 0x%llx busy", (unsigned long long)handle);
	count->hits_set = 1;
	count->bytes_set = 1;
	count->hits = read.hits;
	count->bytes = read.bytes;
	return 0;
}

int mpf_submit_create(struct mpf_client *c, uint16_t port, const struct mpf_flow_attr *attr,
		      const struct mpf_flow_item pattern[], const struct mpf_flow_action actions[],
		      uint32_t flags, uint64_t user_data, struct mpf_flow_error *error)
{
	int err;

	if (flags & ~MPF_FLOW_PERSISTENT)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "unknown flags 0x%x", flags & ~MPF_FLOW_PERSISTENT);
	pthread_mutex_lock(&c->lock);
	err = submit(c,
		     wire_encode_rule(c->out, sizeof(c->out), WIRE_OP_CREATE, 0, port,
				      flags & MPF_FLOW_PERSISTENT, attr, pattern, actions, error),
		     false, user_data, error);
	pthread_mutex_unlock(&c->lock);
	return err;
}

int mpf_submit_destroy(struct mpf_client *c, uint16_t port, uint64_t handle, uint64_t user_data,
		       struct mpf_flow_error *error)
{
	int err;

	pthread_mutex_lock(&c->lock);
	err = submit(c, wire_encode_destroy(c->out, sizeof(c->out), 0, port, &handle, 1, error),
		     false, user_data, error);
	pthread_mutex_unlock(&c->lock);
	return err;
}

/* Whether the primary's end of the socket is closed (it is gone), now. */
static bool primary_hung_up(const struct mpf_client *c)
{
	struct pollfd pfd = {.fd = c->sock, .events = POLLRDHUP};

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* A poll that does not wait looks for the primary's hang-up at most this
 * often while requests are in flight: a look is a system call, and a
 * datapath's loop polls millions of times a second. */
#define HANGUP_LOOK_NS 1000000u

/* Whether a poll that found nothing looks for the primary's hang-up: with
 * nothing in flight, always; a wait looked itself (wait_ring()); a poll
 * that did not wait, every HANGUP_LOOK_NS. */
static bool hangup_look_due(struct mpf_client *c, int timeout_ms)
{
	uint64_t now;

	if (c->inflight.count == c->abandoned)
		return true;
	if (timeout_ms != 0)
		return false;
	now = clock_ns(CLOCK_MONOTONIC_COARSE);
	if (now - c->hangup_looked_ns < HANGUP_LOOK_NS)
		return false;
	c->hangup_looked_ns = now;
	return true;
}

int mpf_poll(struct mpf_client *c, struct mpf_completion *out, uint32_t max, int timeout_ms)
{
	struct wire_completion raw;
	unsigned n = 0;
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (timeout_ms < 0)
		timeout_ms = c->at.timeout_ms;
	if (c->connected)
		publish(c);
	while (n < max && fifo_pop(&c->kept, &out[n]) == 0)
		n++;
	while (n < max && c->connected) {
		bool sync;
		int got = take_completion(c, &out[n], &raw, &sync);

		if (got < 0) {
			err = -ESHUTDOWN;
			break;
		}
		if (got > 0) {
			n++; /* no sync call waits while we hold the lock */
			continue;
		}
		if (n > 0 || timeout_ms == 0 || c->inflight.count == c->abandoned)
			break;
		err = wait_ring(c, false, 0, timeout_ms);
		if (err == -ETIMEDOUT) {
			err = 0;
			break;
		}
		if (err)
			break;
	}
	/* Nothing to give: say so if the primary is gone, whether or not
	 * anything was in flight (a poll loop must learn it either way).
	 * What it answered before it hung up is read first. */
	if (n == 0 && !err && c->connected && !c->dead && hangup_look_due(c, timeout_ms) &&
	    primary_hung_up(c)) {
		bool sync;

		while (n < max && take_completion(c, &out[n], &raw, &sync) > 0)
			n++;
		if (n == 0)
			c->dead = true;
	}
	if (n == 0 && (c->dead || !c->connected))
		err = -ESHUTDOWN;
	pthread_mutex_unlock(&c->lock);
	return n ? (int)n : err;
}

int mpf_submit_publish(struct mpf_client *c)
{
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (!c->connected || c->dead)
		err = -ESHUTDOWN;
	else
		publish(c);
	pthread_mutex_unlock(&c->lock);
	return err;
}

int mpf_flow_next(struct mpf_client *c, uint32_t *cursor, struct mpf_flow_info *info)
{
	int n;

	/* The lock keeps mpf_reconnect() from unmapping the region under the
	 * walk, as for a query. */
	pthread_mutex_lock(&c->lock);
	n = c->connected ? client_directory_next(&c->region.view, cursor, UINT32_MAX, info, true)
			 : -ESHUTDOWN;
	pthread_mutex_unlock(&c->lock);
	return n;
}

int mpf_flow_get(struct mpf_client *c, uint64_t handle, struct mpf_flow_info *info)
{
	int err;

	pthread_mutex_lock(&c->lock);
	err = c->connected ? client_directory_get(&c->region.view, handle, info) : -ESHUTDOWN;
	pthread_mutex_unlock(&c->lock);
	return err;
}

uint32_t mpf_inflight(struct mpf_client *c)
{
	unsigned n;

	pthread_mutex_lock(&c->lock);
	n = c->inflight.count - c->abandoned + c->kept.count;
	pthread_mutex_unlock(&c->lock);
	return n;
}
