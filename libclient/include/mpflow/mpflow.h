/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * libmpflow, the client library of the mpflow flow-rule service.
 *
 * A client connects to an instance's primary (mpflowd), submits rte_flow
 * rules through shared-memory rings, and reads per-rule counters straight
 * from shared memory. The rule types are in mpflow/flow.h.
 *
 * Errors: every function returns 0 (or a count) on success and a negative
 * errno on failure, and fills `error` (when not NULL) with the error type,
 * the index of the item or action at fault and a message. Each function's
 * comment lists its errnos; its man page, mpf_<name>(3), says when each
 * happens. Beyond the errnos of rte_flow (EINVAL, ENOTSUP, EEXIST, ENOMEM,
 * EBUSY), calls may return:
 *  - ESHUTDOWN  the primary went away (the session is over; see
 *               mpf_reconnect())
 *  - ETIMEDOUT  the primary did not answer within the connect options'
 *               timeout
 *  - EPROTO     the primary's answer or the memory it passed is malformed
 *  - ENOENT     no such rule (destroyed, or a forged handle)
 *  - EPERM      the rule belongs to another client
 *  - EAGAIN     (mpf_submit_*) the request ring is full: poll completions,
 *               then submit again
 *  - EBUSY      a persistent rule whose destroy is not yet on disk
 *  - ENODEV     (mpf_flow_query) a persistent rule in the journal that this
 *               start of the primary could not restore (MPF_FLOW_INFO_UNRESTORED)
 *  - EIO, ENOSPC, EDQUOT  a persistent create or destroy, a meter create or
 *               destroy, that the journal could not make durable: it was not
 *               done (the primary rewrites its journal before it acknowledges
 *               anything again)
 *
 * Thread safety: a struct mpf_client may be used from several threads at
 * once; calls on one client are serialised by a mutex inside it (a thread
 * waiting in a synchronous call holds it until its answer arrives). For
 * parallel throughput, give each thread its own client. A counter query
 * without reset holds the lock only for its read of shared memory (tens of
 * nanoseconds), never across a wait.
 */
#ifndef MPFLOW_MPFLOW_H
#define MPFLOW_MPFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpflow/flow.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A session with a primary. */
struct mpf_client;

/** How to reach the primary. Any field may be 0 / NULL for its default. */
struct mpf_connect_options {
	/** Instance name (default "default"). */
	const char *instance;
	/** Runtime directory (default: $MPFLOW_RUNTIME_DIR, /run/mpflow as
	 *  root, else $XDG_RUNTIME_DIR/mpflow). */
	const char *runtime_dir;
	/** Name shown in the rule directory (default: the program's name). */
	const char *name;
	/** Longest wait for one answer of the primary while it shows no sign
	 *  of life (its heartbeat, every --counter-interval), in ms (default
	 *  10000): a primary that is alive and working, on a flush of
	 *  millions of rules say, is waited for, up to 30 times as long. */
	int timeout_ms;
	/** How long a waiting call polls the rings before it sleeps on its
	 *  doorbell, in us (default 20; a negative value: sleep at once). */
	int busy_poll_us;
	/** A uid the primary may run as, besides root and the owner of the
	 *  runtime directory (default: $MPFLOW_PRIMARY_UID, else none). The
	 *  library checks the primary's credentials (SO_PEERCRED) before it
	 *  trusts the socket: a primary of any other uid is refused with
	 *  EPERM, and so is one of the directory's owner if the directory is
	 *  writable by group or others (anyone could have put that socket
	 *  there). */
	uint32_t primary_uid;
};

/**
 * Connect to a primary: handshake, map the rings and the counters region.
 * @return 0 with *client set, or -errno with `error->message` giving the
 * reason.
 * Errors: -EINVAL (no runtime directory, a name of 256 bytes or more for
 * it, or a bad MPFLOW_PRIMARY_UID), -ENAMETOOLONG (instance over 31 bytes),
 * -ENOENT (no primary at that socket), -EPERM (refused by its policy, or a
 * primary the library does not trust: see mpf_connect_options.primary_uid),
 * -EAGAIN (too many connections of this uid are waiting to be served: try
 * again), -EUSERS (too many clients), -EPROTONOSUPPORT, -ESHUTDOWN (the
 * primary is stopping), -ETIMEDOUT, -EPROTO (a malformed welcome or
 * memory), -ENOMEM, or the errno of open, socket, connect or mmap.
 */
MPF_API int mpf_connect(const struct mpf_connect_options *options, struct mpf_client **client,
			struct mpf_flow_error *error);

/** End the session: the primary destroys every non-persistent rule the
 *  client owns and detaches its queues. Frees `client`. No errors. No other
 *  call may use `client` during or after it; the client's queues stay
 *  memory to free with mpf_rxq_detach() / mpf_txq_detach(), and a thread
 *  waiting on one gets -ESHUTDOWN. */
MPF_API void mpf_disconnect(struct mpf_client *client);

/**
 * Open a new session with the same options after the primary went away (or
 * at any time). Rules of the old session that were not persistent are gone;
 * handles of persistent rules stay valid while their primary runs.
 * Completions of the old session that never arrived are dropped.
 * Errors: as mpf_connect() except -EINVAL and -ENAMETOOLONG; after an error
 * the client has no session (-ESHUTDOWN) until a reconnect succeeds.
 */
MPF_API int mpf_reconnect(struct mpf_client *client, struct mpf_flow_error *error);

/* ------------------------------------------------------------------------ */
/* Rules as text: testpmd's flow syntax                                     */
/* ------------------------------------------------------------------------ */

/** A rule read from text, with the memory its pointers point into. */
struct mpf_flow_parsed;

/**
 * Read a rule in testpmd's syntax, as the rule directory shows it and as
 * `flowctl create PORT` takes it after the port: "[group N] [priority N]
 * [ingress] [egress] pattern ITEM [FIELD OP VALUE]... / ... / end actions
 * ACTION [PARAM VALUE]... / ... / end" (field operators is, spec, last,
 * mask, prefix). Syntax only: mpf_flow_validate() or mpf_flow_create()
 * checks the rule. Returns 0 with *parsed (free it with
 * mpf_flow_parsed_free()), or -errno with *parsed NULL.
 * Errors: -EINVAL with `error->cause` the byte offset in `text` of the word
 * at fault (its length when the text ended too early) and a message naming
 * what was expected (also a text of 8192 bytes or more, or of more than
 * 2048 words, 64 items or 32 actions); -ENOMEM.
 */
MPF_API int mpf_flow_parse(const char *text, struct mpf_flow_parsed **parsed,
			   struct mpf_flow_error *error);
/** The parsed rule's attributes, pattern (ending with END) and actions
 *  (ending with END); valid until mpf_flow_parsed_free(), which frees
 *  `parsed` (NULL: nothing). No errors. */
MPF_API const struct mpf_flow_attr *mpf_flow_parsed_attr(const struct mpf_flow_parsed *parsed);
MPF_API const struct mpf_flow_item *mpf_flow_parsed_pattern(const struct mpf_flow_parsed *parsed);
MPF_API const struct mpf_flow_action *mpf_flow_parsed_actions(const struct mpf_flow_parsed *parsed);
MPF_API void mpf_flow_parsed_free(struct mpf_flow_parsed *parsed);

/**
 * Write a rule in the same syntax into `buf` (NUL-terminated, cut at
 * `cap`): every field whose mask is not zero, so that mpf_flow_parse()
 * gives the same rule back. Returns the length the whole text needs (a
 * result >= cap means it was cut; `buf` may be NULL when `cap` is 0), or
 * -errno with `error`.
 * Errors: -EINVAL, -ENOTSUP (the rule does not pass the rule model's
 * validation), -EOVERFLOW (a text over INT_MAX bytes: not reachable within
 * the MPF_FLOW_*_MAX limits).
 */
MPF_API int mpf_flow_print(char *buf, size_t cap, const struct mpf_flow_attr *attr,
			   const struct mpf_flow_item pattern[],
			   const struct mpf_flow_action actions[], struct mpf_flow_error *error);

/** Flags of mpf_flow_create(). */
#define MPF_FLOW_PERSISTENT 0x1u /**< Owned by the instance: outlives the client. */

/**
 * Check a rule against the model and the device, without creating it.
 * Errors: -EINVAL (an invalid rule; a port, queue, VF or meter the device
 * does not have), -ENOTSUP (valid but not supported by the model's limits
 * or the device), -EEXIST (verbs: another rule holds a layer's mask),
 * -EMSGSIZE (over 16 KiB encoded), -ENOMEM, -ESHUTDOWN, -ETIMEDOUT,
 * -EPROTO.
 */
MPF_API int mpf_flow_validate(struct mpf_client *client, uint16_t port,
			      const struct mpf_flow_attr *attr,
			      const struct mpf_flow_item pattern[],
			      const struct mpf_flow_action actions[], struct mpf_flow_error *error);

/**
 * Create a rule; *handle identifies it (slot and generation, never 0).
 * Errors: those of mpf_flow_validate(); -EINVAL (unknown flags); -ENOMEM
 * (the table is full, the client's quota is reached, or for a persistent
 * rule its user's: --client-max-rules bounds them per user); -EIO, -ENOSPC,
 * -EDQUOT (a persistent rule the journal could not make durable: not
 * made); or the device's errno.
 */
MPF_API int mpf_flow_create(struct mpf_client *client, uint16_t port,
			    const struct mpf_flow_attr *attr, const struct mpf_flow_item pattern[],
			    const struct mpf_flow_action actions[], uint32_t flags,
			    uint64_t *handle, struct mpf_flow_error *error);

/**
 * Destroy a rule of this client (or a persistent one: for a user other than
 * the primary's own and root, one that user made).
 * Errors: -ENOENT (no such rule, or not on `port`), -EPERM (another
 * client's, or another user's persistent rule), -EBUSY (persistent, its destroy not yet on disk),
 * -EIO, -ENOSPC, -EDQUOT (persistent: the journal could not record the destroy; the rule stays),
 * -ENOMEM, -ESHUTDOWN, -ETIMEDOUT, -EPROTO, or the device's errno (the rule is gone all the same).
 */
MPF_API int mpf_flow_destroy(struct mpf_client *client, uint16_t port, uint64_t handle,
			     struct mpf_flow_error *error);

/**
 * Ask the primary to check its own consistency: its rule table, every
 * client's rule list, the free slots, the journal's copies and the shared
 * region agree. Returns the number of rules checked, or -EUCLEAN with
 * `error` naming the first thing that does not hold (the primary logs it).
 * Audits are rationed to 1/200 of the primary's time: one that comes too
 * soon after a long one waits its turn (the wait counts against the
 * connect options' timeout).
 * Errors: -EUCLEAN, -ENOMEM, -ESHUTDOWN, -ETIMEDOUT, -EPROTO; -EIO,
 * -ENOSPC, -EDQUOT when the answer waited for a journal sync of other
 * clients' requests that failed (the audit ran).
 */
MPF_API int mpf_audit(struct mpf_client *client, struct mpf_flow_error *error);

/**
 * Destroy every rule this client owns on `port`. Returns 0.
 * Errors: -ENOMEM, -ESHUTDOWN, -ETIMEDOUT, -EPROTO; -EIO, -ENOSPC, -EDQUOT
 * when a flush of several steps waited for a journal sync of other
 * clients' requests that failed (the flush was done).
 */
MPF_API int mpf_flow_flush(struct mpf_client *client, uint16_t port, struct mpf_flow_error *error);

/**
 * Query a rule's COUNT action. Without `count->reset` or `count->fresh` the
 * counters are read from shared memory, with no round trip; a device that
 * keeps its own counters (verbs) is polled into it every --counter-interval.
 * With `fresh` the primary reads the device first (one round trip); with
 * `reset` it reads it and moves the baseline.
 * Errors: -ENOTSUP (`action` is not COUNT, or the rule has no COUNT
 * action), -ENOENT (no such rule; with reset or fresh, also one not on
 * `port`), -EPERM (it belongs to another client; persistent rules may be
 * queried by all, and reset by the user that made them, the primary's own
 * user and root), -ENODEV (journaled, not restored by this start), -EAGAIN
 * (the counter stayed busy), -ESHUTDOWN; with reset or fresh also -EBUSY
 * (persistent, its destroy not yet on disk), -ENOMEM, -ETIMEDOUT, -EPROTO
 * and the device's errno.
 */
MPF_API int mpf_flow_query(struct mpf_client *client, uint16_t port, uint64_t handle,
			   enum mpf_flow_action_type action, struct mpf_flow_query_count *count,
			   struct mpf_flow_error *error);

/**
 * Destroy every persistent rule (owned by the instance, see
 * MPF_FLOW_PERSISTENT) on `port` that this client's user may destroy (for a
 * user other than the primary's own and root, those it made): what
 * `flowctl flush` does. Returns how many were destroyed, or -errno.
 * Errors: -EIO, -ENOSPC, -EDQUOT (the journal could not record some
 * destroys: those are not done), -ENOMEM, -ESHUTDOWN, -ETIMEDOUT, -EPROTO.
 */
MPF_API int mpf_flow_flush_persistent(struct mpf_client *client, uint16_t port,
				      struct mpf_flow_error *error);

/** Enter (`enable` true) or leave isolated mode on `port` (port-wide: the
 *  primary's own user and root only).
 *  Errors: -EPERM (another user), -EINVAL (no such port), -ENOMEM,
 *  -ESHUTDOWN, -ETIMEDOUT, -EPROTO, or the device's errno. */
MPF_API int mpf_flow_isolate(struct mpf_client *client, uint16_t port, bool enable,
			     struct mpf_flow_error *error);

/** The answer to a submitted request. */
struct mpf_completion {
	uint64_t user_data;	     /**< As given to mpf_submit_*(). */
	int status;		     /**< 0 or -errno. */
	uint64_t handle;	     /**< mpf_submit_create(): the new rule. */
	struct mpf_flow_error error; /**< When status != 0. */
};

/**
 * Asynchronous form, for bulk insertion: submit many requests, then poll
 * their completions, which arrive in submission order. Each submit returns 0,
 * -EAGAIN when the request ring is full, or the error of a rule refused
 * before it was sent (the same check the primary makes).
 *
 * Submissions are published to the primary 32 at a time, and whatever is
 * pending at the next mpf_poll(), synchronous call or mpf_submit_publish():
 * a burst then costs one cache-line transfer, not one per request.
 *
 * Errors: -EAGAIN (the ring is full), -ESHUTDOWN, -ENOMEM; mpf_submit_create()
 * also -EINVAL (unknown flags), -EINVAL and -ENOTSUP (the rule model),
 * -EMSGSIZE. A completion's status is 0 or an errno of mpf_flow_create() or
 * mpf_flow_destroy() that the primary returns.
 */
MPF_API int mpf_submit_create(struct mpf_client *client, uint16_t port,
			      const struct mpf_flow_attr *attr,
			      const struct mpf_flow_item pattern[],
			      const struct mpf_flow_action actions[], uint32_t flags,
			      uint64_t user_data, struct mpf_flow_error *error);
MPF_API int mpf_submit_destroy(struct mpf_client *client, uint16_t port, uint64_t handle,
			       uint64_t user_data, struct mpf_flow_error *error);

/** Publish pending submissions now: 0 or -errno. Errors: -ESHUTDOWN. */
MPF_API int mpf_submit_publish(struct mpf_client *client);

/**
 * Collect up to `max` completions, waiting up to `timeout_ms` (0: do not
 * wait, -1: the connect timeout) for the first. Returns how many were
 * written (0 if none arrived in time, or none is in flight), or -errno.
 * Errors: -ESHUTDOWN (requests are in flight whose completions will not
 * come).
 */
MPF_API int mpf_poll(struct mpf_client *client, struct mpf_completion *completions, uint32_t max,
		     int timeout_ms);

/** Flags of struct mpf_flow_info. */
#define MPF_FLOW_INFO_INGRESS	     0x1u
#define MPF_FLOW_INFO_EGRESS	     0x2u
#define MPF_FLOW_INFO_PERSISTENT     0x4u
#define MPF_FLOW_INFO_COUNTED	     0x8u  /**< Has a COUNT action: hits and bytes are valid. */
#define MPF_FLOW_INFO_TEXT_TRUNCATED 0x10u /**< `text` was cut and ends with "...". */
#define MPF_FLOW_INFO_UNRESTORED                                                                   \
	0x20u /**< Journaled, but not in the device: this start                                    \
		   could not make it (see the primary's log). */

/** A live rule of the instance, as the rule directory shows it. */
struct mpf_flow_info {
	uint64_t handle;
	/** testpmd's id of the rule on its port: the highest live one + 1 when
	 *  it was made (0 on an empty port). flowctl takes it wherever testpmd
	 *  does ("destroy 0 rule 3"); unlike the handle, it may name another
	 *  rule once this one is gone. */
	uint32_t number;
	uint32_t owner_pid;  /**< 0 for a persistent rule, or a client that is leaving. */
	char owner_name[32]; /**< Empty for a persistent rule. */
	uint16_t port;
	uint32_t group;
	uint32_t priority;
	uint32_t flags;	      /**< MPF_FLOW_INFO_*. */
	uint64_t created_ns;  /**< CLOCK_REALTIME, when the primary took the create
				(the rules of one burst may share one reading). */
	uint64_t hits;	      /**< Since the last reset. */
	uint64_t bytes;	      /**< Since the last reset. */
	uint64_t last_hit_ns; /**< CLOCK_REALTIME; 0: never. */
	char text[432];	      /**< testpmd syntax: "ingress pattern ... end actions ... end". */
};

/**
 * Walk every live rule of the instance (every client's), read from the
 * shared rule directory without a request to the primary. Start with
 * *cursor = 0; returns 1 with `info` filled and the cursor advanced, 0 at
 * the end, or -errno. A rule created or destroyed during the walk may or
 * may not be seen; a rule seen is seen whole. The text is printed from the
 * request that made the rule, kept in shared memory; a text longer than
 * `text` is cut with "..." and flagged MPF_FLOW_INFO_TEXT_TRUNCATED.
 * Errors: -ESHUTDOWN (no session: a reconnect failed; after the primary
 * went away the walk reads the directory it left), -ENOMEM.
 */
MPF_API int mpf_flow_next(struct mpf_client *client, uint32_t *cursor, struct mpf_flow_info *info);

/**
 * The directory entry of one live rule, as mpf_flow_next() reads it (its
 * testpmd number, text, counts): 0 or -errno.
 * Errors: -ENOENT (no live rule has `handle`: destroyed, never made; a
 * create's completion comes after its entry is written), -ESHUTDOWN (no
 * session: a reconnect failed), -ENOMEM.
 */
MPF_API int mpf_flow_get(struct mpf_client *client, uint64_t handle, struct mpf_flow_info *info);

/* ------------------------------------------------------------------------ */
/* RX queues                                                                */
/* ------------------------------------------------------------------------ */

/** An RX queue of the primary's device, attached to this client. */
struct mpf_rxq;

/** Queue number of VF `n`'s queue, for mpf_rxq_attach(). */
#define MPF_RXQ_VF(n) (0x8000u + (n))

/** Flags of struct mpf_packet. */
#define MPF_PACKET_MARK	     0x1u /**< `mark` holds a MARK action's id. */
#define MPF_PACKET_FLAG	     0x2u /**< A FLAG action matched. */
#define MPF_PACKET_RSS	     0x4u /**< `rss_hash` holds the Toeplitz hash. */
#define MPF_PACKET_TRUNCATED 0x8u /**< `length` < `wire_length`: the frame was cut. */
/** No rule decided the packet's fate: the port delivered it by default (to
 *  queue 0, or a VF's own queue). Without it, a rule sent it here. */
#define MPF_PACKET_DEFAULT 0x10u

/** A received packet. `data` points into the buffer given to mpf_rxq_burst()
 *  (verbs backend: into the queue's memory, where the NIC wrote it). */
struct mpf_packet {
	const uint8_t *data;
	uint32_t length;      /**< Bytes at data. */
	uint32_t wire_length; /**< Bytes of the frame as received. */
	uint32_t mark;
	uint32_t rss_hash;
	uint32_t flags; /**< MPF_PACKET_*. */
	uint16_t port;
	uint16_t queue;
	uint64_t timestamp_ns; /**< CLOCK_REALTIME when classified. */
};

/** What the datapath did with this queue's packets since it was attached. */
struct mpf_rxq_stats {
	uint64_t packets; /**< Delivered to the queue. */
	uint64_t bytes;
	uint64_t dropped; /**< Dropped because the queue was full. */
};

/**
 * Attach RX queue `queue` of `port` (MPF_RXQ_VF(n) for VF n's): from now on
 * the packets the device delivers there are this client's, through a ring
 * in memory shared with the primary alone. A queue has one consumer at a
 * time (-EBUSY); a slow consumer loses packets (counted), it never slows
 * the datapath. The queue is detached when the client disconnects.
 * On the verbs backend the memory also holds the queue's receive buffers,
 * registered with the NIC: frames are read where the NIC wrote them.
 * Errors: -EINVAL (no such port or queue), -EBUSY (attached already),
 * -EDQUOT (--client-max-queues), -ENOTSUP (no RX queues), -EAGAIN
 * (the session's socket is full), -EPROTO, -ETIMEDOUT, -ENOMEM,
 * -ESHUTDOWN, or the errno of making or passing the queue's memory.
 */
MPF_API int mpf_rxq_attach(struct mpf_client *client, uint16_t port, uint16_t queue,
			   struct mpf_rxq **rxq, struct mpf_flow_error *error);

/** Bytes of `buf` one packet may take in mpf_rxq_burst(): its descriptor
 *  and a frame of up to 16 KiB. */
#define MPF_RXQ_PACKET_MAX (32u + 16384u)

/**
 * Take up to `max` packets without waiting, copying them into `buf`
 * (`cap` bytes: max * MPF_RXQ_PACKET_MAX is always enough). Returns how
 * many (at most 64; fewer when `buf` fills up), 0 when the queue is empty,
 * or -errno. No lock: one thread at a time per queue. Verbs backend: no
 * copy, `buf` unused; the packets point into the queue's buffers, which go
 * back to the NIC at the next call (the packets are valid until then).
 * Errors: -ENOBUFS (the next packet alone does not fit in `cap`), -EPROTO,
 * -EBADMSG (the ring is corrupt).
 */
MPF_API int mpf_rxq_burst(struct mpf_rxq *rxq, struct mpf_packet *packets, uint32_t max, void *buf,
			  size_t cap);

/** Wait up to `timeout_ms` (-1: forever) for a packet. 1 (a packet is
 *  there), 0 on timeout, or -ESHUTDOWN: the session that attached the queue
 *  is over (the primary went away, or the client reconnected or
 *  disconnected), so none will come; what the ring still holds is
 *  returned first. */
MPF_API int mpf_rxq_wait(struct mpf_rxq *rxq, int timeout_ms);

/** What the datapath did with the queue's packets since it was attached.
 *  No errors. */
MPF_API void mpf_rxq_stats(const struct mpf_rxq *rxq, struct mpf_rxq_stats *stats);

/** Give the queue back and free `rxq` (also on error). After
 *  mpf_disconnect() of its client (whose session the primary detached it
 *  with) it only frees the memory. Errors: -ENOMEM, -ESHUTDOWN, -ETIMEDOUT,
 *  -EPROTO. */
MPF_API int mpf_rxq_detach(struct mpf_rxq *rxq, struct mpf_flow_error *error);

/* ------------------------------------------------------------------------ */
/* TX queues: a secondary sends frames out of a port (rte_eth_tx_burst). The
 * port's egress rules apply and count; a live: port puts them on its
 * interface, a loop: port receives them back (on itself or the port it is
 * wired to), --dump-queues records them. Soft backend. */

struct mpf_txq;

/** The largest frame a TX queue takes. */
#define MPF_TXQ_FRAME_MAX 16384u

/** One frame to send: `length` bytes at `data`, from the Ethernet header. */
struct mpf_tx_frame {
	const void *data;
	uint32_t length;
};

/** What the datapath took off this queue since it was attached (sent or
 *  dropped by egress rules: the port's statistics say which). */
struct mpf_txq_stats {
	uint64_t packets;
	uint64_t bytes;
};

/**
 * Attach TX queue `queue` (a PF queue, below the port's --queues) of `port`:
 * a ring in memory shared with the primary alone, which this client fills
 * with mpf_txq_burst(). One client per queue (-EBUSY); detached when the
 * client disconnects. Errors: as mpf_rxq_attach(); -EINVAL also for a VF's
 * queue.
 */
MPF_API int mpf_txq_attach(struct mpf_client *client, uint16_t port, uint16_t queue,
			   struct mpf_txq **txq, struct mpf_flow_error *error);

/**
 * Queue up to `count` frames for sending, in order, without a system call
 * (the datapath is woken only if it sleeps). Returns how many were taken:
 * fewer than `count` when the ring is full (the datapath drains a burst
 * per queue per round: try the rest again), or -errno if none was:
 * -EMSGSIZE (the first frame is longer than MPF_TXQ_FRAME_MAX; a later
 * one stops the burst before it), -ESHUTDOWN (the ring is broken). A frame
 * taken is copied: `frames` may be reused at once.
 */
MPF_API int mpf_txq_burst(struct mpf_txq *txq, const struct mpf_tx_frame *frames, uint32_t count);

/** Read the queue's counts. No errors. */
MPF_API void mpf_txq_stats(const struct mpf_txq *txq, struct mpf_txq_stats *stats);

/** Give the queue back and free `txq` (also on error); frames still in
 *  the ring are dropped. Errors: as mpf_rxq_detach(). */
MPF_API int mpf_txq_detach(struct mpf_txq *txq, struct mpf_flow_error *error);

/* ------------------------------------------------------------------------ */
/* Port statistics (DPDK's rte_eth_stats). Read from shared memory with no
 * round trip; counted since the primary started or the last
 * mpf_port_stats_reset(). Kept by the soft backend; the verbs backend keeps
 * none (-ENOTSUP). */

/** What became of a port's packets; rte_eth_stats names in brackets. A
 *  received packet is dropped, delivered by rules (see the queues'
 *  statistics), delivered by default, or undelivered; copies an earlier
 *  pass-through rule or a DUP made are the queues' business. */
struct mpf_port_stats {
	uint64_t rx_packets; /**< Received (ipackets). */
	uint64_t rx_bytes;   /**< Their wire bytes (ibytes). */
	/** Lost by the source before classification: a live interface's
	 *  socket ring was full (imissed). */
	uint64_t rx_missed;
	uint64_t rx_dropped; /**< Taken by a DROP action or a meter's drop color. */
	/** Delivered by default: no rule decided (MPF_PACKET_DEFAULT). */
	uint64_t rx_default;
	/** Neither dropped nor delivered: an isolated port's packets that no
	 *  rule sent anywhere. */
	uint64_t rx_undelivered;
	uint64_t tx_packets; /**< Transmitted (opackets). */
	uint64_t tx_bytes;   /**< (obytes) */
	uint64_t tx_dropped; /**< Taken by an egress DROP action. */
	/** The interface refused to send them (oerrors): larger than its
	 *  MTU, or no buffer. */
	uint64_t tx_errors;
	/** Deliveries lost because the queue was full, summed over the port's
	 *  queues. */
	uint64_t queue_full;
	/** Deliveries lost because no secondary had attached the queue,
	 *  summed over the port's queues. */
	uint64_t queue_unattached;
};

/** What became of the packets handed to one RX queue. */
struct mpf_queue_stats {
	uint64_t packets;    /**< Delivered into it (q_ipackets). */
	uint64_t bytes;	     /**< Their wire bytes (q_ibytes). */
	uint64_t full;	     /**< Lost: the queue was full (q_errors). */
	uint64_t unattached; /**< Lost: no secondary had attached it. */
};

/** Read `port`'s statistics: 0 or -errno. No round trip. Errors: -EINVAL
 *  (no such port), -ENOTSUP (the backend keeps none), -EAGAIN (resets kept
 *  the port busy through every retry), -ESHUTDOWN. */
MPF_API int mpf_port_stats(struct mpf_client *client, uint16_t port, struct mpf_port_stats *stats);

/** Read queue `queue` of `port` (MPF_RXQ_VF(n) for VF n's), attached or
 *  not: 0 or -errno. Errors: as mpf_port_stats(); -EINVAL also for a
 *  queue the port does not have. */
MPF_API int mpf_queue_stats(struct mpf_client *client, uint16_t port, uint16_t queue,
			    struct mpf_queue_stats *stats);

/** Start `port`'s statistics and its queues' from zero, for every reader
 *  (port-wide: the primary's own user and root may). Through the primary.
 *  Errors: -EPERM (another user), -EINVAL (no such port), -ENOTSUP (the
 *  backend keeps none), -ESHUTDOWN, -ETIMEDOUT, -EPROTO. */
MPF_API int mpf_port_stats_reset(struct mpf_client *client, uint16_t port,
				 struct mpf_flow_error *error);

/* ------------------------------------------------------------------------ */
/* Meters (rte_mtr): two-rate three-color markers used by METER actions     */
/* ------------------------------------------------------------------------ */

/** Colors of a meter, indexes of struct mpf_meter_stats. */
enum mpf_color { MPF_COLOR_GREEN, MPF_COLOR_YELLOW, MPF_COLOR_RED, MPF_COLORS };

/** mpf_meter_params.drop: colors the meter drops. */
#define MPF_METER_DROP_GREEN  0x1u
#define MPF_METER_DROP_YELLOW 0x2u
#define MPF_METER_DROP_RED    0x4u

/** RFC 2698 trTCM, color-blind: rates in bytes/s, bursts in bytes. */
struct mpf_meter_params {
	uint64_t cir, cbs; /**< Committed rate and burst. */
	uint64_t pir, pbs; /**< Peak rate (>= cir) and burst. */
	uint32_t drop;	   /**< MPF_METER_DROP_*; 0 marks only. */
};

struct mpf_meter_stats {
	uint64_t packets[MPF_COLORS];
	uint64_t bytes[MPF_COLORS];
};

/** Create meter `id` on `port`. Meters are port-wide: only the primary's
 *  own user and root may create, destroy or clear them; every client may
 *  use them in rules and read them. Errors: -EPERM (another user), -EEXIST
 *  (it is there), -EINVAL (no such port; cir > pir, cbs or pbs 0), -EBADMSG
 *  (unknown drop bits), -EBUSY (its destroy not yet on disk), -ENOTSUP (no
 *  meters: verbs), -EIO, -ENOSPC, -EDQUOT (the journal could not make it
 *  durable: not made), -ENOMEM (the instance holds 4096 meters, its most;
 *  or no memory), -ESHUTDOWN, -ETIMEDOUT, -EPROTO. */
MPF_API int mpf_meter_create(struct mpf_client *client, uint16_t port, uint32_t id,
			     const struct mpf_meter_params *params, struct mpf_flow_error *error);
/** Destroy it. Errors: -EPERM (another user), -ENOENT (no such meter),
 *  -EINVAL (no such port),
 *  -EBUSY (a rule uses it, or its destroy is not yet on disk), -ENOTSUP,
 *  -EIO, -ENOSPC, -EDQUOT (the journal could not record the destroy: the
 *  meter stays), -ENOMEM, -ESHUTDOWN, -ETIMEDOUT, -EPROTO. */
MPF_API int mpf_meter_destroy(struct mpf_client *client, uint16_t port, uint32_t id,
			      struct mpf_flow_error *error);
/** Read (and with `clear`, zero) its per-color statistics. Errors: -EPERM
 *  (a clear by another user), -ENOENT, -EINVAL, -ENOTSUP (as above), -EPROTO (no statistics in the
 * answer), -ENOMEM, -ESHUTDOWN, -ETIMEDOUT. */
MPF_API int mpf_meter_query(struct mpf_client *client, uint16_t port, uint32_t id, bool clear,
			    struct mpf_meter_stats *stats, struct mpf_flow_error *error);

/* ------------------------------------------------------------------------ */
/* Monitors: the rule directory and counters, read-only                     */
/* ------------------------------------------------------------------------ */

/**
 * A read-only view of an instance: its rule directory, counters and state,
 * for monitors such as flowstat. Opening one is a handshake that asks for
 * the counters region alone: the monitor is no client of the primary (no
 * session, no rings, not counted), maps the region read-only and can send
 * the primary nothing.
 */
struct mpf_monitor;

/** Open a monitor of the instance `options` names (name and busy_poll_us
 *  are not used). Errors: as mpf_connect() except -EUSERS. */
MPF_API int mpf_monitor_open(const struct mpf_connect_options *options,
			     struct mpf_monitor **monitor, struct mpf_flow_error *error);

/** Unmap the region and free `monitor` (NULL: nothing). No errors. */
MPF_API void mpf_monitor_close(struct mpf_monitor *monitor);

/** States of struct mpf_instance_info. */
enum mpf_instance_state {
	MPF_INSTANCE_RUNNING = 1, /**< The primary is serving. */
	MPF_INSTANCE_STOPPING,	  /**< It was asked to stop and is shutting down. */
	MPF_INSTANCE_GONE,	  /**< Its process is gone: mpf_monitor_reattach(). */
};

/** The instance a monitor shows, as its primary publishes it. */
struct mpf_instance_info {
	char backend[16]; /**< "soft", "verbs". */
	char instance[32];
	uint32_t primary_pid;
	enum mpf_instance_state state;
	uint64_t start_ns;	   /**< CLOCK_REALTIME when the primary started. */
	uint64_t heartbeat_age_ns; /**< Since the primary's last tick (once a second). */
	uint32_t clients;	   /**< Sessions now (monitors are not counted). */
	uint32_t rules;		   /**< Live rules. */
	uint32_t max_rules;
	/** Persistent rules in the journal that this start could not make
	 *  (another --queues, --ports or device; or beyond --max-rules): kept
	 *  until destroyed or restored by a later start. Those with a slot are
	 *  listed with MPF_FLOW_INFO_UNRESTORED. */
	uint32_t unrestored;
	uint16_t ports;	 /**< Ports of the device. */
	uint16_t queues; /**< RX queues per port (its VFs' queues besides). */
	uint16_t vfs;	 /**< VFs per port. */
	bool port_stats; /**< The backend keeps port statistics. */
	/** How old the rules' counts are: since the primary last read the
	 *  counters a device keeps itself (verbs: every --counter-interval);
	 *  0 where the datapath counts in shared memory as packets pass (soft). */
	uint64_t counters_age_ns;
	/** 0, or -errno: every persistent request is refused with it until the
	 *  primary has rewritten its journal (a sync failed; a damaged journal
	 *  found at start with no room for a new one). Rules not persistent
	 *  are served meanwhile. */
	int journal_error;
};

/** Read the instance's state: 0 or -errno. Errors: -EAGAIN (nothing is
 *  mapped; it does not happen: a failed mpf_monitor_reattach() keeps the old
 *  region). */
MPF_API int mpf_monitor_instance(struct mpf_monitor *monitor, struct mpf_instance_info *info);

/**
 * Map the region of the primary now serving the instance, in place of the
 * current one (after the primary restarted). 0, or the error of
 * mpf_monitor_open(); on error the monitor keeps its old region.
 * Errors: as mpf_monitor_open() except -EINVAL and -ENAMETOOLONG.
 */
MPF_API int mpf_monitor_reattach(struct mpf_monitor *monitor, struct mpf_flow_error *error);

/** As mpf_port_stats() and mpf_queue_stats(), through a monitor. Errors:
 *  as theirs, without -ESHUTDOWN (a gone primary's last figures stay). */
MPF_API int mpf_monitor_port_stats(struct mpf_monitor *monitor, uint16_t port,
				   struct mpf_port_stats *stats);
MPF_API int mpf_monitor_queue_stats(struct mpf_monitor *monitor, uint16_t port, uint16_t queue,
				    struct mpf_queue_stats *stats);

/** As mpf_flow_next(), through a monitor. Errors: -EAGAIN (nothing is
 *  mapped: as for mpf_monitor_instance(), it does not happen), -ENOMEM. */
MPF_API int mpf_monitor_next(struct mpf_monitor *monitor, uint32_t *cursor,
			     struct mpf_flow_info *info);

/** As mpf_monitor_next(), but `info->text` is left empty: the walk that
 *  costs no printing, for a monitor that ranks every rule and shows a few
 *  (then mpf_monitor_get() for those). Errors: -EAGAIN, as
 *  mpf_monitor_next(). */
MPF_API int mpf_monitor_scan(struct mpf_monitor *monitor, uint32_t *cursor,
			     struct mpf_flow_info *info);

/** Rule slots (a handle's low 32 bits) are grouped in blocks of this many
 *  for mpf_monitor_activity(). */
#define MPF_MONITOR_BLOCK 64u

/** The activity of block `block` (slots block * MPF_MONITOR_BLOCK on):
 *  a number that changes whenever a rule in the block is counted, made,
 *  destroyed or reset. A monitor that kept what it read of a block can skip
 *  the block while its activity stays (read the activity, then the block).
 *  Errors: -ERANGE (no slot from the block on has held a rule: the walk is
 *  done), -EAGAIN (as mpf_monitor_next()). */
MPF_API int mpf_monitor_activity(struct mpf_monitor *monitor, uint32_t block, uint64_t *activity);

/** As mpf_monitor_scan(), over block `block`'s slots only: `*cursor` (0,
 *  any slot before the block, or the block's slot to start from) moves
 *  through the block; 0 at its end. Errors: -EAGAIN, as
 *  mpf_monitor_next(). */
MPF_API int mpf_monitor_scan_block(struct mpf_monitor *monitor, uint32_t block, uint32_t *cursor,
				   struct mpf_flow_info *info);

/** A rule's counts as its counter line holds them (mpf_monitor_counts()). */
struct mpf_flow_counts {
	uint64_t handle;      /**< 0: no rule in the slot (or one being made or destroyed). */
	uint64_t hits;	      /**< Since the last reset; 0 for a rule that does not count. */
	uint64_t bytes;	      /**< Since the last reset. */
	uint64_t last_hit_ns; /**< CLOCK_REALTIME; 0: never. */
	uint32_t flags;	      /**< MPF_FLOW_INFO_COUNTED when the rule counts, else 0. */
};

/** The counts of each of block `block`'s MPF_MONITOR_BLOCK slots into
 *  counts[0..MPF_MONITOR_BLOCK - 1] (slot block * MPF_MONITOR_BLOCK + i
 *  into counts[i]), read from the counter lines (and each further
 *  datapath worker's share) alone: no entry is read, so a monitor ranking
 *  millions of busy rules by their counts reads the entries of only the
 *  few it shows (mpf_monitor_scan_block() from their slot); with one
 *  worker, half the memory a scan reads. Returns the
 *  number of rules found (0 past the directory's end). Errors: -EAGAIN, as
 *  mpf_monitor_next(). */
MPF_API int mpf_monitor_counts(struct mpf_monitor *monitor, uint32_t block,
			       struct mpf_flow_counts *counts);

/** As mpf_flow_get(), through a monitor. Errors: -ENOENT, -EAGAIN (as
 *  mpf_monitor_next()), -ENOMEM. */
MPF_API int mpf_monitor_get(struct mpf_monitor *monitor, uint64_t handle,
			    struct mpf_flow_info *info);

/** Requests submitted whose completions were not yet returned. No errors. */
MPF_API uint32_t mpf_inflight(struct mpf_client *client);

#ifdef __cplusplus
}
#endif

#endif
