/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event loop, on liburing: multishot polls on the listen socket, every
 * client's socket (a hang-up is the client's death) and doorbell, a timerfd
 * (heartbeat), a signalfd (SIGTERM, SIGINT: stop; SIGHUP: config.c reads the
 * configuration again), and the device's events where its backend moves
 * packets in this thread (verbs: completions, buffers returned by clients).
 *
 * While there is work the loop drains every client's request ring without a
 * system call. When a round finds nothing it keeps polling the rings for
 * --busy-poll-us, then publishes NEED_WAKEUP on every request ring, looks
 * once more, and sleeps in io_uring_submit_and_wait(): from then on a client
 * that submits rings its doorbell, and only then.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "shm/clock.h"
#include "server/server.h"
#include "shm/doorbell.h"

#define QUEUE_DEPTH	256
#define CLIENT_SLICE_NS 200000u	      /* a client's time per round, for fairness */
#define SHUTDOWN_NS	2000000000ull /* answering what is in flight at shutdown */

enum watch {
	WATCH_LISTEN = 1,
	WATCH_SIGNAL,
	WATCH_TIMER,
	WATCH_CLIENT_SOCKET,
	WATCH_CLIENT_BELL,
	WATCH_HANDSHAKE,
	WATCH_JOURNAL_SYNC,
	WATCH_JOURNAL_REBUILD,
	WATCH_COMPACTION,
	WATCH_DEVICE, /* the backend's events (hwdrv event_fd) */
	WATCH_CLOSE,  /* loop_close: nothing to do once done */
};

/* user_data: watch kind, client generation, client index. */
static uint64_t tag(enum watch kind, uint32_t generation, uint32_t index)
{
	return (uint64_t)kind << 56 | (uint64_t)(generation & 0xffffffu) << 32 | index;
}

static struct io_uring_sqe *get_sqe(struct server *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->uring);

	if (sqe == NULL) {
		io_uring_submit(&s->uring);
		sqe = io_uring_get_sqe(&s->uring);
	}
	if (sqe == NULL)
		fatalx("io_uring submission queue stays full");
	return sqe;
}

static void watch(struct server *s, int fd, unsigned events, uint64_t user_data)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	io_uring_prep_poll_multishot(sqe, fd, events);
	io_uring_sqe_set_data64(sqe, user_data);
}

static void unwatch(struct server *s, uint64_t user_data)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	io_uring_prep_poll_remove(sqe, user_data);
	io_uring_sqe_set_data64(sqe, 0);
}

void loop_watch_client(struct server *s, struct client *c)
{
	watch(s, c->sock, POLLIN | POLLRDHUP, tag(WATCH_CLIENT_SOCKET, c->generation, c->index));
	watch(s, c->primary_bell, POLLIN, tag(WATCH_CLIENT_BELL, c->generation, c->index));
}

/* One-shot: a hello is one message. */
void loop_watch_handshake(struct server *s, struct handshake *h)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	io_uring_prep_poll_add(sqe, h->sock, POLLIN | POLLRDHUP);
	io_uring_sqe_set_data64(sqe,
				tag(WATCH_HANDSHAKE, h->generation, (uint32_t)(h - s->handshakes)));
}

void loop_unwatch_handshake(struct server *s, struct handshake *h)
{
	unwatch(s, tag(WATCH_HANDSHAKE, h->generation, (uint32_t)(h - s->handshakes)));
	io_uring_submit(&s->uring);
}

/* A journal file's sync, tagged `kind` and `file`: step 0, or step 1 of a
 * chain that names the file once it is synced (submit_naming()). */
static void submit_sync(struct server *s, enum watch kind, int fd, uint32_t file, bool chain,
			int *fault)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	/* The test build decides here whether a chain's sync fails (and a
	 * sync whose error Linux reports once); the sync runs, and its
	 * completion reports the failure (fault_chain_step). */
	*fault = fault_sync_submitted(fd, chain);
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, tag(kind, file, chain ? 1 : 0));
	io_uring_submit(&s->uring);
	s->journal_io++;
}

/*
 * Steps 2 and 3 of a chain, submitted once its sync (step 1) succeeded:
 * the rename of `rename` over the journal, linked to a sync of the
 * directory. Not linked to the sync itself: IOSQE_IO_LINK does not cancel
 * a renameat after an fsync that failed with an error (Linux 6.18 runs
 * it), and an unsynced file, its pages then lost, took the journal's name:
 * an outside test lost 1,156 acknowledged rules so.
 */
static void submit_naming(struct server *s, enum watch kind, uint32_t file, const char *rename)
{
	struct io_uring_sqe *sqe;

	/* Both in one submission: the directory's sync after the rename. */
	if (io_uring_sq_space_left(&s->uring) < 2)
		io_uring_submit(&s->uring);
	sqe = get_sqe(s);
	io_uring_prep_renameat(sqe, s->state_fd, rename, s->state_fd, s->journal.name, 0);
	io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
	io_uring_sqe_set_data64(sqe, tag(kind, file, 2));
	sqe = get_sqe(s);
	io_uring_prep_fsync(sqe, s->state_fd, 0);
	io_uring_sqe_set_data64(sqe, tag(kind, file, 3));
	io_uring_submit(&s->uring);
	s->journal_io += 2; /* a cancelled step completes too */
}

/* The journal's group commit (commit.c): one fdatasync of `fd` in flight,
 * tagged with the journal file it belongs to; for a compacted file, the
 * first step of its naming (compact.c). */
void loop_submit_fsync(struct server *s, int fd, uint32_t file, bool naming)
{
	submit_sync(s, WATCH_JOURNAL_SYNC, fd, file, naming,
		    naming ? &s->journal.compact.chain_fault : &s->journal.sync_fault);
}

void loop_submit_journal_naming(struct server *s, uint32_t file, const char *rename)
{
	submit_naming(s, WATCH_JOURNAL_SYNC, file, rename);
}

/* A journal rebuilt from the table (rebuild.c): synced, then named. */
void loop_submit_rebuild(struct server *s, int fd, uint32_t tag, int *fault)
{
	submit_sync(s, WATCH_JOURNAL_REBUILD, fd, tag, true, fault);
}

void loop_submit_rebuild_naming(struct server *s, uint32_t tag, const char *rename)
{
	submit_naming(s, WATCH_JOURNAL_REBUILD, tag, rename);
}

void loop_close(struct server *s, int fd)
{
	struct io_uring_sqe *sqe;

	if (fd < 0)
		return;
	if (!s->uring_up) {
		close(fd);
		return;
	}
	sqe = get_sqe(s);
	io_uring_prep_close(sqe, fd);
	/* Issued by the worker: a close issued inline frees the file's
	 * blocks in this thread on its way back from the kernel. */
	io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
	io_uring_sqe_set_data64(sqe, tag(WATCH_CLOSE, 0, 0));
	io_uring_submit(&s->uring);
	s->closing++;
}

void loop_unwatch_client(struct server *s, struct client *c)
{
	unwatch(s, tag(WATCH_CLIENT_SOCKET, c->generation, c->index));
	unwatch(s, tag(WATCH_CLIENT_BELL, c->generation, c->index));
	io_uring_submit(&s->uring);
}

void loop_heartbeat(struct server *s, uint64_t now_ns)
{
	shm_store_relaxed64(&s->region->heartbeat_ns, now_ns);
}

int loop_set_timer(struct server *s)
{
	uint32_t ms = s->config.counter_interval_ms;
	struct timespec every = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	struct itimerspec tick = {.it_interval = every, .it_value = every};

	return timerfd_settime(s->timer_fd, 0, &tick, NULL) == 0 ? 0 : -errno;
}

static void loop_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
}

int loop_block_signals(void)
{
	sigset_t mask;

	loop_signals(&mask);
	signal(SIGPIPE, SIG_IGN);
	return sigprocmask(SIG_BLOCK, &mask, NULL) == 0 ? 0 : -errno;
}

int loop_init(struct server *s)
{
	sigset_t mask;
	int err;

	loop_signals(&mask);
	if ((err = loop_block_signals()) != 0)
		return err;
	s->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->signal_fd < 0 || s->timer_fd < 0 || loop_set_timer(s) != 0)
		return -errno;
	err = io_uring_queue_init(QUEUE_DEPTH, &s->uring, 0);
	if (err)
		return err;
	s->uring_up = true;
	watch(s, s->listen_fd, POLLIN, tag(WATCH_LISTEN, 0, 0));
	watch(s, s->signal_fd, POLLIN, tag(WATCH_SIGNAL, 0, 0));
	watch(s, s->timer_fd, POLLIN, tag(WATCH_TIMER, 0, 0));
	watch(s, s->journal.compact.bell, POLLIN, tag(WATCH_COMPACTION, 0, 0));
	if (s->device.ops.event_fd(&s->device) >= 0)
		watch(s, s->device.ops.event_fd(&s->device), POLLIN, tag(WATCH_DEVICE, 0, 0));
	io_uring_submit(&s->uring);
	/* A journal that a start found mostly dead; from here, not before:
	 * the thread would not survive daemon(3)'s fork. */
	journal_maybe_compact(s);
	return 0;
}

void loop_fini(struct server *s)
{
	s->uring_up = false;
	io_uring_queue_exit(&s->uring);
	free(s->deferred);
	s->deferred = NULL;
	s->n_deferred = s->cap_deferred = 0;
	close(s->signal_fd);
	close(s->timer_fd);
}

static struct client *tagged_client(struct server *s, uint64_t user_data)
{
	uint32_t index = (uint32_t)user_data;
	struct client *c;

	if (index >= s->config.max_clients)
		return NULL;
	c = &s->clients[index];
	if (!c->active || c->leaving ||
	    (c->generation & 0xffffffu) != ((user_data >> 32) & 0xffffffu))
		return NULL; /* a late event for a client already gone */
	return c;
}

static void handle_signal(struct server *s)
{
	struct signalfd_siginfo info;

	while (read(s->signal_fd, &info, sizeof(info)) == sizeof(info)) {
		if (info.ssi_signo == SIGHUP) {
			log_info("SIGHUP from pid %u: reading the configuration again",
				 info.ssi_pid);
			config_reload(s);
			continue;
		}
		log_info("signal %u from pid %u: shutting down", info.ssi_signo, info.ssi_pid);
		s->stopping = true;
	}
}

static void handle_event(struct server *s, struct io_uring_cqe *cqe)
{
	uint64_t user_data = io_uring_cqe_get_data64(cqe);
	struct client *c;
	uint64_t ticks;

	switch ((enum watch)(user_data >> 56)) {
	case WATCH_LISTEN:
		/* Taken once a round (loop_run), not once an event: a flood
		 * posts events faster than a pass over them ends. */
		s->accept_more = true;
		break;
	case WATCH_SIGNAL:
		handle_signal(s);
		break;
	case WATCH_TIMER:
		if (read(s->timer_fd, &ticks, sizeof(ticks)) > 0) {
			uint64_t now = clock_ns(CLOCK_MONOTONIC);

			loop_heartbeat(s, now);
			listener_expire(s, now);
			/* A backlog that an accept out of fds (EMFILE) left has
			 * no event of its own to come back for it. */
			s->accept_more = true;
			rebuild_retry(s, now);
			s->device.ops.counters_poll(&s->device);
			if (s->device.polled_counters)
				shm_store_relaxed64(&s->region->counters_read_ns,
						    clock_ns(CLOCK_MONOTONIC));
		}
		break;
	case WATCH_HANDSHAKE: {
		uint32_t index = (uint32_t)user_data;
		struct handshake *h = index < HANDSHAKES_MAX ? &s->handshakes[index] : NULL;

		if (h && h->sock >= 0 &&
		    (h->generation & 0xffffffu) == ((user_data >> 32) & 0xffffffu))
			listener_hello(s, h);
		break;
	}
	case WATCH_CLIENT_SOCKET:
		c = tagged_client(s, user_data);
		/* The socket carries nothing after the handshake: any event
		 * (hang-up, error, or stray bytes) ends the session. */
		if (c)
			client_remove(s, c,
				      cqe->res & (POLLRDHUP | POLLHUP | POLLERR)
					      ? "hung up"
					      : "sent bytes on its socket after the handshake");
		break;
	case WATCH_CLIENT_BELL:
		c = tagged_client(s, user_data);
		if (c)
			doorbell_drain(c->primary_bell);
		break;
	case WATCH_JOURNAL_SYNC:
		s->journal_io--;
		commit_synced(s, (uint32_t)(user_data >> 32) & 0xffffffu, (uint32_t)user_data,
			      cqe->res);
		return; /* one-shot */
	case WATCH_JOURNAL_REBUILD:
		s->journal_io--;
		rebuild_synced(s, (uint32_t)(user_data >> 32) & 0xffffffu, (uint32_t)user_data,
			       cqe->res);
		return; /* one-shot */
	case WATCH_COMPACTION:
		if (read(s->journal.compact.bell, &ticks, sizeof(ticks)) > 0)
			compact_done(s);
		break;
	case WATCH_DEVICE:
		s->device.ops.service(&s->device, true);
		break;
	case WATCH_CLOSE:
		/* The blocks are free: a compaction that waited for them. */
		if (--s->closing == 0)
			journal_maybe_compact(s);
		return; /* one-shot */
	default:
		break;
	}
	/* A multishot poll can end on its own (the kernel may stop one, e.g.
	 * short of memory): re-arm it, unless we removed it or its target is
	 * gone. Otherwise the primary would go deaf to its listen socket,
	 * signals or timer. */
	if (!(cqe->flags & IORING_CQE_F_MORE) && cqe->res != -ECANCELED && cqe->res != -ENOENT) {
		switch ((enum watch)(user_data >> 56)) {
		case WATCH_LISTEN:
			if (s->listen_fd >= 0)
				watch(s, s->listen_fd, POLLIN, user_data);
			break;
		case WATCH_SIGNAL:
			watch(s, s->signal_fd, POLLIN, user_data);
			break;
		case WATCH_TIMER:
			watch(s, s->timer_fd, POLLIN, user_data);
			break;
		case WATCH_COMPACTION:
			watch(s, s->journal.compact.bell, POLLIN, user_data);
			break;
		case WATCH_DEVICE:
			watch(s, s->device.ops.event_fd(&s->device), POLLIN, user_data);
			break;
		case WATCH_CLIENT_BELL:
			if ((c = tagged_client(s, user_data)) != NULL)
				watch(s, c->primary_bell, POLLIN, user_data);
			break;
		default:
			break;
		}
	}
}

static unsigned handle_events(struct server *s)
{
	struct io_uring_cqe *cqe;
	unsigned head, count = 0, deferred = s->n_deferred;

	/* Those loop_settle_journal() took off the queue, first. */
	s->n_deferred = 0;
	for (unsigned i = 0; i < deferred; i++)
		handle_event(s, &s->deferred[i]);
	io_uring_for_each_cqe(&s->uring, head, cqe)
	{
		handle_event(s, cqe);
		count++;
	}
	io_uring_cq_advance(&s->uring, count);
	if (count + deferred)
		io_uring_submit(&s->uring); /* polls armed while handling them */
	return count + deferred;
}

/*
 * The journal's completions read out of turn, before a synchronous sync
 * (at shutdown, at an epoch's advance): the sync in flight takes a
 * writeback error, and a synchronous one after it on the same file
 * returned 0, what both covered then acknowledged over lost pages and the
 * failure never read at shutdown (a reviewer's finding).
 *
 * The queue is read to its end each time, so that it never fills (the
 * kernel would hold the sync's completion back): the journal's are handled
 * now, and so are a doorbell's and the listener's, which only drain a
 * counter or set a flag and come as fast as a client rings or connects;
 * the others wait in s->deferred for handle_events() (a session's end in
 * the middle of a create would take the client being served).
 */
static bool settled_now(uint64_t user_data)
{
	switch ((enum watch)(user_data >> 56)) {
	case WATCH_JOURNAL_SYNC:
	case WATCH_JOURNAL_REBUILD:
	case WATCH_CLIENT_BELL:
	case WATCH_LISTEN:
		return true;
	default:
		return false;
	}
}

static void defer_event(struct server *s, const struct io_uring_cqe *cqe)
{
	if (s->n_deferred == s->cap_deferred) {
		unsigned cap = s->cap_deferred ? s->cap_deferred * 2 : 64;
		struct io_uring_cqe *grown = reallocarray(s->deferred, cap, sizeof(*grown));

		if (grown == NULL)
			fatalx("no memory for %u completions read ahead", cap);
		s->deferred = grown;
		s->cap_deferred = cap;
	}
	s->deferred[s->n_deferred++] = *cqe;
}

void loop_settle_journal(struct server *s)
{
	while (s->uring_up && s->journal_io) {
		struct io_uring_cqe *cqe;
		unsigned head, count = 0;
		int err = io_uring_submit_and_wait(&s->uring, 1);

		if (err < 0 && err != -EINTR && err != -ETIME)
			fatalx("io_uring_submit_and_wait: %s", strerror(-err));
		io_uring_for_each_cqe(&s->uring, head, cqe)
		{
			if (settled_now(cqe->user_data))
				handle_event(s, cqe);
			else
				defer_event(s, cqe);
			count++;
		}
		io_uring_cq_advance(&s->uring, count);
	}
}

/* Room for a share per user the rules table knows (its makers). */
static bool shares_ready(struct server *s)
{
	uint32_t n = s->rules.n_makers;
	struct user_share *grown;

	if (n <= s->n_user_shares)
		return true;
	grown = reallocarray(s->user_shares, n, sizeof(*grown));
	if (grown == NULL)
		return false;
	memset(grown + s->n_user_shares, 0, (n - s->n_user_shares) * sizeof(*grown));
	s->user_shares = grown;
	s->n_user_shares = n;
	return true;
}

/* Serve client `i` of another user (maker >= 1) if its share of the round
 * has time left, from where its sessions stopped the round before. */
static unsigned serve_other(struct server *s, uint32_t i, bool wrapped, uint64_t slice_ns)
{
	struct client *c = &s->clients[i];
	struct user_share *u = &s->user_shares[c->maker];
	uint64_t t0;
	int n;

	if (u->spent_ns >= slice_ns || (wrapped ? i >= u->from : i < u->from))
		/* Skipped with a job to go on with (a flush, a departure): work
		 * for a later round, not a reason to sleep (prepare_sleep sees
		 * request rings only) or to end a shutdown. */
		return u->spent_ns >= slice_ns && c->job.kind != JOB_NONE;
	t0 = clock_ns(CLOCK_MONOTONIC);
	n = dispatch_client(s, c, slice_ns - u->spent_ns);
	u->spent_ns += clock_ns(CLOCK_MONOTONIC) - t0;
	if (u->spent_ns >= slice_ns)
		u->next = i + 1; /* the next round starts after it */
	return n > 0 ? (unsigned)n : 0;
}

/*
 * One round over every client, then a sync of what the round journaled.
 * Returns the work done. No rule created in the round is left waiting for
 * its activation (a client removed in the round publishes no completion
 * that would see to it).
 *
 * Fairness: each session of the instance's own users (root, the primary's
 * user) has its slice of time; another user's sessions (--allow-group)
 * share one slice between them, taken in turn from where they stopped the
 * round before: a user with a hundred sessions flooding requests gets the
 * time of one client, not a hundred (bench/fairness, another user on 100
 * sessions: a bystander's p99.9 11.7-15 ms before, 4.1 ms with this).
 */
static unsigned serve_clients(struct server *s, uint64_t slice_ns)
{
	bool shared = shares_ready(s);
	unsigned served = 0;

	for (uint32_t m = 0; shared && m < s->n_user_shares; m++) {
		s->user_shares[m].spent_ns = 0;
		s->user_shares[m].from = s->user_shares[m].next;
	}
	for (uint32_t i = 0; i < s->config.max_clients; i++) {
		struct client *c = &s->clients[i];
		int n;

		if (!c->active)
			continue;
		if (c->maker != 0 && shared) {
			served += serve_other(s, i, false, slice_ns);
			continue;
		}
		n = dispatch_client(s, c, slice_ns);
		if (n > 0)
			served += (unsigned)n;
	}
	/* Other users' sessions before where they started, while their
	 * share lasts. */
	for (uint32_t i = 0; shared && i < s->config.max_clients; i++)
		if (s->clients[i].active && s->clients[i].maker != 0)
			served += serve_other(s, i, true, slice_ns);
	rules_activate(s);
	commit_start_sync(s);
	return served;
}

/* Publish NEED_WAKEUP on every request ring (and the device's own rings:
 * verbs' return rings). False if one has work after all (then nobody may
 * sleep). */
static bool prepare_sleep(struct server *s)
{
	bool may_sleep = true;

	for (uint32_t i = 0; i < s->config.max_clients; i++) {
		struct client *c = &s->clients[i];

		/* A client whose audit waits for its turn is served after it
		 * (the loop wakes for it), as is one whose port statistics
		 * reset waits for the datapath, or whose job the test build
		 * holds (HOLD:job): requests behind it are no work now, or
		 * the loop would spin until then. */
		bool job_waits = c->job.kind == JOB_AUDIT || c->job.kind == JOB_PORT_RESET ||
				 (c->job.kind != JOB_NONE && fault_held("job"));

		if (c->active && !c->leaving && !c->waiting_for_space && !job_waits &&
		    !ring_consumer_prepare_sleep(&c->requests))
			may_sleep = false;
	}
	if (!s->device.ops.prepare_sleep(&s->device))
		may_sleep = false;
	return may_sleep;
}

static void finish_sleep(struct server *s)
{
	for (uint32_t i = 0; i < s->config.max_clients; i++)
		if (s->clients[i].active && !s->clients[i].leaving)
			ring_consumer_finish_sleep(&s->clients[i].requests);
	s->device.ops.finish_sleep(&s->device);
}

/* Sleep until an event, or until a waiting job's time (an audit's turn). */
static int sleep_until_event(struct server *s)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);

	if (s->wake_at_ns == 0)
		return io_uring_submit_and_wait(&s->uring, 1);
	if (s->wake_at_ns <= now)
		return 0;
	ts.tv_sec = (long long)((s->wake_at_ns - now) / 1000000000u);
	ts.tv_nsec = (long long)((s->wake_at_ns - now) % 1000000000u);
	return io_uring_submit_and_wait_timeout(&s->uring, &cqe, 1, &ts, NULL);
}

int loop_run(struct server *s)
{
	uint64_t busy_ns = (uint64_t)s->config.busy_poll_us * 1000u;
	uint64_t last_work = clock_ns(CLOCK_MONOTONIC);

	while (!s->stopping) {
		unsigned moved;

		s->wake_at_ns = 0;
		/* A broken journal's rewrite is tried when its second is up,
		 * not at the next counter tick (--counter-interval may be a
		 * minute). */
		if (s->journal.broken)
			rebuild_retry(s, clock_ns(CLOCK_MONOTONIC));
		/* The device's packets (a backend that moves them in this
		 * thread): what an event left beyond its budget, or a busy
		 * poll's pass. */
		moved = s->device.ops.service(&s->device, false);
		/* A journal rebuilt from the table goes on a step a round. */
		moved += rebuild_step(s);
		/* New connections, a burst a round. */
		if (s->accept_more && s->listen_fd >= 0) {
			s->accept_more = listener_accept(s);
			moved++;
		}
		if (serve_clients(s, CLIENT_SLICE_NS) > 0 || moved > 0) {
			last_work = clock_ns(CLOCK_MONOTONIC);
			handle_events(s);
			continue;
		}
		if (handle_events(s) > 0)
			continue;
		if (clock_ns(CLOCK_MONOTONIC) - last_work < busy_ns) {
			shm_cpu_relax();
			continue;
		}
		/* A sleep ends for a broken journal's next try (none while a
		 * sync is in flight: its completion is an event). */
		if (s->journal.broken && s->journal.rebuild.fd < 0 && !s->journal.sync_target &&
		    s->journal.retry_ns > clock_ns(CLOCK_MONOTONIC) &&
		    (s->wake_at_ns == 0 || s->journal.retry_ns < s->wake_at_ns))
			s->wake_at_ns = s->journal.retry_ns;
		if (prepare_sleep(s)) {
			int err = sleep_until_event(s);

			if (err < 0 && err != -EINTR && err != -ETIME)
				fatalx("io_uring_submit_and_wait: %s", strerror(-err));
		}
		finish_sleep(s);
		handle_events(s);
		last_work = clock_ns(CLOCK_MONOTONIC);
	}

	/* Shutdown: no new clients; answer what is in flight, durably; then
	 * the caller destroys every rule. Bounded: a client that keeps
	 * submitting cannot hold the shutdown. */
	listener_close(s);
	shm_store_relaxed32(&s->region->state, REGION_STATE_STOPPING);
	for (uint64_t end = clock_ns(CLOCK_MONOTONIC) + SHUTDOWN_NS;
	     serve_clients(s, CLIENT_SLICE_NS) > 0 && clock_ns(CLOCK_MONOTONIC) < end;)
		;
	commit_sync_now(s);
	rebuild_before_stop(s);
	for (uint32_t i = 0; i < s->config.max_clients; i++) {
		struct client *c = &s->clients[i];

		if (c->active && !c->leaving) {
			commit_publish(s, c);
			client_remove(s, c, "the primary is shutting down");
		}
		if (c->active && c->leaving)
			dispatch_client(s, c, UINT64_MAX / 2);
	}
	return 0;
}
