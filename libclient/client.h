/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libmpflow's private declarations: the session object and the calls the
 * library's files share (client.c: session and rules; handshake.c: the
 * handshake and the region, for sessions and monitors; monitor.c: read-only
 * monitors; rxq.c: RX queues; meter.c: meter objects).
 */
#ifndef MPFLOW_LIBCLIENT_CLIENT_H
#define MPFLOW_LIBCLIENT_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpflow/mpflow.h>

#include "libclient/fifo.h"
#include "shm/handshake.h"
#include "shm/region.h"
#include "shm/rule/rule.h"
#include "shm/ring.h"
#include "shm/rxq.h"
#include "shm/wire.h"

struct inflight {
	uint64_t user_data;
	bool sync;
	/* A synchronous call that gave up waiting (ETIMEDOUT): its answer,
	 * when it comes, is nobody's and is dropped. */
	bool abandoned;
};

#define CLIENT_TIMEOUT_MS 10000 /* default wait for one answer of the primary */

/* Where an instance's primary is, and how long to wait for it. */
struct client_address {
	char instance[32];
	char runtime_dir[256];
	int timeout_ms;
	uint32_t primary_uid; /* trusted besides root and the directory's owner */
	bool primary_uid_set;
};

/* The counters region, mapped read-only and checked. */
struct client_region {
	void *mem;
	size_t length;
	struct region_view view;
};

struct mpf_client {
	pthread_mutex_t lock;
	struct client_address at;
	char name[HANDSHAKE_NAME_MAX];
	int64_t busy_poll_ns;
	uint32_t session; /* our id in the primary: owner of our rules */

	bool connected;
	bool dead;		   /* the primary went away */
	uint64_t hangup_looked_ns; /* a poll that does not wait: its last look */
	int sock;
	int primary_bell;
	int client_bell;
	void *mem;
	size_t mem_length;
	struct client_region region;
	struct ring requests;
	struct ring completions;
	unsigned staged; /* async requests written but not yet published */

	struct fifo inflight;	     /* struct inflight: requests awaiting completion */
	uint32_t abandoned;	     /* of those, the answers nobody waits for */
	struct fifo kept;	     /* struct mpf_completion: async ones not yet polled */
	struct client_queue *queues; /* attached RX and TX queues (lock) */

	uint8_t out[WIRE_MSG_MAX];
	uint8_t in[WIRE_MSG_MAX];
};

/* -ESHUTDOWN with the message saying how to go on. */
int client_shutdown_error(struct mpf_flow_error *error);
/* handshake.c. Resolve the options into an address (0 or -errno). */
int client_locate(const struct mpf_connect_options *options, struct client_address *out,
		  struct mpf_flow_error *error);
/* Connect, say hello with HANDSHAKE_HELLO_* `flags`, and receive a welcome
 * with exactly `nfds` fds into fds[]. Returns the socket, or -errno with no
 * fd left open. */
int client_dial(const struct client_address *at, const char *name, uint16_t flags,
		struct handshake_welcome *welcome, int fds[], unsigned nfds,
		struct mpf_flow_error *error);
/* Map the region's fd (`size` bytes, as the welcome says) read-only and
 * check its header. The fd stays the caller's. 0 or -errno. */
int client_map_region(int fd, uint64_t size, struct client_region *out,
		      struct mpf_flow_error *error);
void client_unmap_region(struct client_region *region);
/* The rule directory walk behind mpf_flow_next() and mpf_monitor_next(). */
/* queue.c: an attached RX or TX queue's memory and ring. */
struct client_queue {
	struct mpf_client *client;	  /* NULL once the client disconnected */
	struct client_queue *prev, *next; /* the client's list (its lock) */
	int hangup;	  /* the session's socket, duplicated: its hang-up ends waits */
	uint32_t session; /* the session that attached it */
	bool tx;
	uint16_t port, queue;
	void *mem;
	size_t length;
	const struct rxq_header *header;
	/* RX: a ring per datapath worker, which we consume; TX: one, which we
	 * produce into. */
	unsigned n_rings;
	unsigned next_ring; /* RX: the ring a burst starts with (they take turns) */
	struct ring rings[RXQ_RINGS_MAX];
	const struct rxq_ring_stats *stats[RXQ_RINGS_MAX];
	int bell; /* RX: rung for us; TX: we ring it */
	/* A zero-copy RX queue (shm/rxq.h, RXQ_ZERO_COPY): frames stay in
	 * its buffers; those a burst hands out go back at the next one. */
	bool zero_copy;
	const uint8_t *buffers;
	uint32_t n_buffers, buffer_size;
	struct ring returns; /* buffer indexes: we produce */
	int primary_bell;    /* rung when the primary waits for returns */
	uint32_t held[RXQ_RETURN_MAX];
	unsigned n_held;
};

/* Attach queue `queue` of `port` (TX with `tx`) into `q`. 0 or -errno. */
int client_queue_attach(struct mpf_client *c, bool tx, uint16_t port, uint16_t queue,
			struct client_queue *q, struct mpf_flow_error *error);
/* The same into a new object of `size` bytes whose first member is the
 * queue (struct mpf_rxq, struct mpf_txq); client_queue_close() detaches
 * and frees it. */
int client_queue_open(struct mpf_client *c, bool tx, uint16_t port, uint16_t queue, size_t size,
		      struct client_queue **q, struct mpf_flow_error *error);
int client_queue_close(struct client_queue *q, struct mpf_flow_error *error);
/* Give it back (when its session is still the client's) and unmap it. */
int client_queue_detach(struct client_queue *q, struct mpf_flow_error *error);
/* The session ends (mpf_reconnect(), mpf_disconnect()): the queues let go
 * of its socket, and with `orphan` of the client too (they outlive it as
 * memory only). The client's lock held. */
void client_queues_cut(struct mpf_client *c, bool orphan);

/* stats.c: a port's or a queue's statistics from a checked region view. 0,
 * -ENOTSUP (the backend keeps none), -EINVAL (no such port or queue) or
 * -EAGAIN. */
int client_port_stats(const struct region_view *v, uint16_t port, struct mpf_port_stats *out);
int client_queue_stats(const struct region_view *v, uint16_t port, uint16_t queue,
		       struct mpf_queue_stats *out);

/* The next live rule's entry from *cursor on, before slot `limit`, its
 * text printed or (for a scan) left empty: 1, 0 at the end, -ENOMEM. */
int client_directory_next(const struct region_view *view, uint32_t *cursor, uint32_t limit,
			  struct mpf_flow_info *info, bool text);
/* One rule's entry, behind mpf_flow_get(): 0, -ENOENT, -ENOMEM. */
int client_directory_get(const struct region_view *view, uint64_t handle,
			 struct mpf_flow_info *info);

/* Submit the request encoded in c->out (`length`, or an encoder's -errno)
 * and wait for its completion. Lock held. 0 or the request's -errno. */
int client_call(struct mpf_client *c, int length, struct wire_completion *raw,
		struct mpf_flow_error *error);

/* rxq.c. Take up to `max` packets off an RX queue's ring into `buf` (the
 * ring and its descriptors are the primary's, checked as they are read).
 * How many, or -EPROTO / -EBADMSG for a broken ring. */
int client_rxq_read(struct ring *ring, struct mpf_packet *pkts, uint32_t max, void *buf,
		    size_t cap);
/* The same for a zero-copy queue: the packets point into its buffers,
 * checked against them; those of the previous call go back first. */
int client_rxq_read_zero_copy(struct client_queue *q, struct mpf_packet *pkts, uint32_t max);

#endif
