/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The soft backend's private state, shared by its files:
 *   soft.c      the hwdrv ops: rules in and out, isolate, queues, meters
 *   parse.c     packet parser            match.c     pattern compiler/matcher
 *   classify.c  tuple space classifier   rcu.c       reclamation
 *   actions.c   what a matched packet undergoes (fates, RSS, marks, meters)
 *   queues.c    RX and TX queues: rings handed to secondaries, pcap dumps
 *   transmit.c  what a port sends: TX queues read, a loop: port's inbox,
 *               a live: interface's socket
 *   source.c    packet sources: pcap replay, generator, AF_PACKET
 *   datapath.c  the worker threads (--workers), and statistics resets
 *
 * Threads: the primary's thread owns everything here and is the only writer
 * of the classifier, the queue table and the meter table; the datapath
 * workers read them under RCU (a reader each). Each worker alone writes
 * its packet state: its copies of the counts, its ring of each RX queue,
 * its TX queues, its sources and inboxes; meter buckets are shared under
 * a lock per meter, pcap dumps under the dump lock.
 */
#ifndef MPFLOW_SOFT_H
#define MPFLOW_SOFT_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* libpcap's handles, by name only: pcap/bpf.h and linux/bpf.h (libxdp's)
 * cannot be in one file. The files that call libpcap include it. */
typedef struct pcap pcap_t;
typedef struct pcap_dumper pcap_dumper_t;

#include "hwdrv/hwdrv.h"
#include "hwdrv/soft/classify.h"
#include "hwdrv/soft/rcu.h"
#include "shm/ring.h"
#include "shm/rxq.h"

/* Rate arithmetic: bytes per second times nanoseconds overflows 64 bits. */
__extension__ typedef unsigned __int128 soft_u128;

#define SOFT_BURST	 32
#define SOFT_TX_BUF	 (SOFT_BURST * (RXQ_FRAME_MAX + 8u)) /* a burst off a TX queue */
#define SOFT_PORTS_MAX	 64
#define SOFT_WORKERS_MAX RCU_READERS_MAX

enum soft_color { SOFT_GREEN, SOFT_YELLOW, SOFT_RED, SOFT_COLORS };

/* A two-rate three-color marker (RFC 2698), color-blind. */
struct soft_meter {
	uint32_t id;
	uint16_t port;
	uint32_t users; /* rules using it (writer) */
	struct hwdrv_meter params;
	/* Datapath: the workers share the buckets, under `lock`. */
	pthread_spinlock_t lock;
	uint64_t committed_tokens, peak_tokens; /* bytes */
	uint64_t last_ns;
	/* Datapath-written, read by the primary (relaxed). */
	shm_u64 packets[SOFT_COLORS];
	shm_u64 bytes[SOFT_COLORS];
	shm_u64 packets_base[SOFT_COLORS]; /* primary: at the last clear */
	shm_u64 bytes_base[SOFT_COLORS];
};

struct soft_rss {
	uint64_t types;
	uint32_t key_len;
	uint32_t queue_num;
	uint8_t key[MPF_FLOW_RSS_KEY_MAX];
	uint16_t queue[];
};

struct soft_rule {
	struct cls_rule cls; /* first: the classifier hands these back */
	uint16_t port;
	uint8_t fate; /* enum mpf_flow_action_type: QUEUE, RSS, PF, VF, DROP or END */
	bool mark, flag, dup, vf_original;
	uint16_t queue;
	uint16_t dup_queue;
	uint32_t mark_id;
	uint32_t vf;
	uint32_t slot;			/* the counter's index, for the shares */
	struct region_counter *counter; /* worker 0's; worker w > 0 counts in soft->shares */
	struct soft_meter *meter;
	struct soft_rss *rss;
	struct soft_rule *prev, *next; /* every installed rule (writer) */
};

/* An attached RX or TX queue: the mapping the client was handed. An RX
 * queue has a ring per datapath worker (each its one producer, ringing
 * bell[1] for the client, which polls bell[0]: an outbound bell, a socket
 * pair);
 * a TX queue has one ring, which the client fills and the worker that owns
 * the queue reads, woken by bell[0] (an eventfd the client rings; bell[1]
 * is -1). shm/doorbell.h says why the two kinds. */
struct soft_rxq {
	uint32_t owner;
	int memfd;
	int bell[2];
	void *mem;
	size_t length;
	struct rxq_header *header;
	unsigned n_rings;
	struct soft_ring {
		struct ring ring;
		struct rxq_ring_stats *stats; /* in the client's memory: written only */
		bool staged;		      /* records waiting for the round's commit */
		uint64_t packets, bytes, dropped;
	} rings[SOFT_WORKERS_MAX];
};

struct soft_queue {
	struct soft_rxq *rxq;	/* RCU; NULL: nobody attached */
	struct soft_rxq *spare; /* the last one detached, kept for its owner */
	struct soft_rxq *txq;	/* RCU; NULL: nobody transmits on it (PF queues only) */
	struct soft_rxq *tx_spare;
	pcap_dumper_t *dump; /* --dump-queues */
	struct region_queue
		*stats; /* worker 0's (region_stat_add); worker w's w * queue_stride on */
};

enum soft_source_kind { SOURCE_NONE, SOURCE_TRACE, SOURCE_LIVE, SOURCE_LOOP, SOURCE_XDP };

struct soft_xdp; /* xdp.c */

struct soft_source {
	enum soft_source_kind kind;
	bool egress; /* its packets are transmitted: egress rules apply */
	char spec[128];
	/* TRACE: frames in memory (pcap file or generator), replayed. */
	uint8_t *bytes;
	uint32_t *offset, *length, *wire_length;
	uint32_t frames;
	uint32_t next;
	uint64_t loops; /* replays left; UINT64_MAX: forever */
	uint64_t limit; /* frames to send in all; 0: no limit */
	uint64_t sent;
	uint64_t pps;	   /* 0: as fast as possible */
	uint64_t start_ns; /* of the first frame sent */
	uint64_t delay_ns; /* before the first frame, from the first burst */
	uint64_t not_before_ns;
	/* LIVE: AF_PACKET TPACKET_V3. */
	int fd;
	uint8_t *ring;
	size_t ring_length;
	unsigned block_size, blocks, block;
	uint32_t block_left;   /* frames left in the current block */
	uint8_t *frame;	       /* next frame in it */
	uint64_t stats_due_ns; /* when to read the socket's drop count next */
	/* XDP: the AF_XDP socket (its fd is `fd`). */
	struct soft_xdp *xdp;
	/* LOOP: what the port transmits is received on this port. */
	int loop_port; /* -1: the port itself, until soft_open() says which */
	bool done;
};

/* Frames looped back to a port: received at its next datapath round. A TX
 * queue is read only as far as the inbox it sends to has room, so nothing
 * is lost here: the sender's ring fills instead. */
#define SOFT_INBOX_FRAMES 64u
struct soft_inbox {
	uint8_t *bytes; /* SOFT_INBOX_FRAMES slots of RXQ_FRAME_MAX */
	uint32_t length[SOFT_INBOX_FRAMES];
	unsigned head, count;
};

struct soft_port {
	shm_u32 isolated;
	struct soft_queue *queues; /* config.queues PF queues, then config.vfs VF queues */
	/* One source, read by worker (port % workers); or, for live: and
	 * xdp:, one per worker (an AF_PACKET fanout member, an AF_XDP socket
	 * on queue Q + w), read by that worker. */
	struct soft_source *sources;
	unsigned n_sources;
	/* Where frames a loop: port sends here arrive, one inbox per worker
	 * (the sender's: it alone writes and reads it); NULL: none do. */
	struct soft_inbox **inbox;
	pcap_dumper_t *tx_dump;
	struct region_port *stats; /* worker 0's; worker w's w * n_ports entries on */
	/* A statistics reset: the primary asks (request++); each worker, the
	 * one writer of its counts, copies them into `pending` between two
	 * packets and answers; the primary then publishes them as baselines. */
	shm_u32 reset_request;
	shm_u32 reset_done[SOFT_WORKERS_MAX];
	/* The primary's own: the request it waits for the workers' answers
	 * to, since when; the last one that timed out. */
	bool reset_waiting, reset_timed_out;
	uint32_t reset_asked;
	uint64_t reset_asked_ns;
	uint32_t reset_failed;
	uint64_t *pending; /* [workers][REGION_PORT_STATS + queues * REGION_QUEUE_STATS] */
	shm_u64 overflow;  /* packets that hit more than CLS_MATCH_MAX rules (atomic) */
};

/* A datapath thread and what it alone touches. */
struct soft_worker {
	struct soft *soft;
	unsigned id;
	shm_u64 *activity; /* its row of activity stamps; NULL: none */
	pthread_t thread;
	int wake; /* eventfd: the primary wakes it (a reset, a new TX queue) */
	shm_u32 idle;
	/* Rings written in this round, committed together. */
	struct soft_rxq *staged[64];
	unsigned n_staged;
	uint8_t *tx_buf;	 /* SOFT_BURST frames taken off a TX queue */
	struct pollfd *poll_fds; /* its sources' sockets, its TX queues' bells, wake */
};

/* Meter objects the instance holds, all ports together: each one's memory
 * is the primary's, and a rule finds its meter by a walk of them. */
#define SOFT_METERS_MAX 4096u

struct soft {
	struct hwdrv *dev;
	struct rcu rcu;
	struct cls cls;
	struct pool pool; /* rules and their compiled items (writer) */
	struct soft_port *ports;
	uint16_t n_ports, queues, vfs;
	uint64_t seq;
	uint32_t rxq_bytes;
	char dump_dir[256];
	int dump_dirfd;		 /* dump_dir, checked by the primary */
	pcap_t *dead;		 /* for pcap dumpers */
	struct soft_rule *rules; /* installed, for close */
	void *own_stats;	 /* port statistics when the config gives no region */
	struct soft_meter **meters;
	unsigned n_meters, cap_meters; /* SOFT_METERS_MAX at most */
	/* Where the workers count rules (hwdrv_config). */
	struct region_counter *counters;
	struct region_shares shares;
	struct region_activity activity;
	size_t queue_stride;	   /* n_ports * (queues + vfs): a worker's queue statistics */
	pthread_mutex_t dump_lock; /* the pcap dumps: any worker may write one */
	/* The workers. */
	struct soft_worker *workers;
	unsigned n_workers;
	bool running;
	shm_u32 stop;
};

/* Worker w's copies of the counts. */
static inline struct region_port *soft_port_stats(const struct soft *soft,
						  const struct soft_port *port, unsigned w)
{
	return port->stats + (size_t)w * soft->n_ports;
}

static inline struct region_queue *soft_queue_stats(const struct soft *soft,
						    const struct soft_queue *queue, unsigned w)
{
	return queue->stats + (size_t)w * soft->queue_stride;
}

/* The source instance worker `w` reads and sends through on `port`, or
 * NULL when another worker reads the port's one source. */
static inline struct soft_source *soft_worker_source(const struct soft *soft,
						     const struct soft_port *port, unsigned w)
{
	if (port->n_sources > 1)
		return &port->sources[w];
	return (unsigned)(port - soft->ports) % soft->n_workers == w ? &port->sources[0] : NULL;
}

/* actions.c */
/* Worker `w`: classify and act on a packet the port received (or
 * transmits). */
void soft_process(struct soft_worker *w, struct soft_port *port, struct packet *p, bool egress,
		  uint64_t now_ns);
/* The same for `n` packets of one port, parsed, classified in bursts
 * (cls_lookup_burst: their table probes overlap), then acted on in order. */
void soft_process_burst(struct soft_worker *w, struct soft_port *port, struct packet *pkts,
			unsigned n, bool egress, uint64_t now_ns);
uint32_t soft_toeplitz(const uint8_t *key, unsigned key_len, const uint8_t *input, unsigned length);
/* RSS input of a packet for `types`: the hash, or 0 with *valid false. */
uint32_t soft_rss_hash(const struct soft_rss *rss, const struct packet *p, bool *valid);
enum soft_color soft_meter_color(struct soft_meter *m, uint32_t bytes, uint64_t now_ns);

/* queues.c */
int soft_queues_open(struct soft *soft, const struct hwdrv_config *config,
		     struct mpf_flow_error *error);
void soft_queues_close(struct soft *soft);
/* Queue index (PF queues, then VFs) for an API queue number, or -1. */
int soft_queue_index(const struct soft *soft, uint16_t queue);
/* Attach (detach) queue `queue` of `port` for client `owner`: an RX queue,
 * or with `tx` a TX queue (PF queues only). */
int soft_queue_attach(struct soft *soft, uint16_t port, uint16_t queue, bool tx, uint32_t owner,
		      int fds[HWDRV_QUEUE_FDS], struct mpf_flow_error *error);
int soft_queue_detach(struct soft *soft, uint16_t port, uint16_t queue, bool tx, uint32_t owner,
		      struct mpf_flow_error *error);
/* Client `owner` is gone: detach every queue it holds, free its spares. */
void soft_queues_release(struct soft *soft, uint32_t owner);
/* Worker `w`: deliver a frame to queue index `q` of `port`, through its
 * ring of the queue. */
void soft_deliver(struct soft_worker *w, struct soft_port *port, unsigned q, const struct packet *p,
		  const struct rxq_desc *desc);
void soft_rxq_commit(struct soft_worker *w);
/* Write a frame to a pcap dump (any worker: under the dump lock). */
void soft_dump(struct soft *soft, pcap_dumper_t *dump, const struct packet *p, uint64_t when_ns);

/* transmit.c */
/* Worker `w`: receive what loop: ports sent to `port` through it. Frames
 * processed. */
unsigned soft_inbox_receive(struct soft_worker *w, struct soft_port *port, uint64_t now_ns);
/* Worker `w`: send what secondaries queued on its TX queues of `port`
 * (queue q is worker q % workers's), through the egress rules. Frames
 * taken. */
unsigned soft_transmit_queues(struct soft_worker *w, struct soft_port *port, uint64_t now_ns);
/* Worker `w`: a frame the port sends (egress rules passed): the tx dump,
 * then the wire (live:, xdp:), or the inbox of the port it loops to. */
void soft_transmit(struct soft_worker *w, struct soft_port *port, const struct packet *p,
		   uint64_t now_ns);
/* Worker `w`, before sleeping: the fds to wake on (its sockets, its TX
 * queues' bells, each told to ring, and its wake fd). false: something is
 * ready, do not sleep. */
bool soft_prepare_sleep(struct soft_worker *w, struct pollfd *fds, unsigned *n);
void soft_finish_sleep(struct soft_worker *w);
/* The primary: reset a port's statistics (through the workers if they run). */
int soft_port_stats_reset(struct soft *soft, uint16_t port, uint32_t *ticket);
int soft_port_stats_reset_done(struct soft *soft, uint16_t port, uint32_t ticket,
			       struct mpf_flow_error *error);
/* Worker `w`: carry out the resets the primary asked for. */
void soft_apply_resets(struct soft_worker *w);

/* xdp.c: the xdp: source (built with libxdp), as source.c's kinds. */
int soft_xdp_open(struct soft_source *s, const char *ifname, uint32_t queue, const char *mode,
		  struct mpf_flow_error *error);
void soft_xdp_close(struct soft_source *s);
const char *soft_xdp_mode(const struct soft_source *s); /* "zc" or "copy" */
unsigned soft_xdp_burst(struct soft_source *s, struct packet *pkts, unsigned max);
void soft_xdp_release(struct soft_source *s);
/* Post a frame to send (false: no free frame, or too long); flush tells
 * the kernel, once per burst. */
bool soft_xdp_send(struct soft_source *s, const void *data, uint32_t length);
void soft_xdp_flush(struct soft_source *s);
uint64_t soft_xdp_missed(struct soft_source *s);

/* source.c */
/* Open instance `instance` of `instances` of a source: one per worker for
 * live: (joined in one AF_PACKET fanout group: instance 0 makes it and
 * returns its id in *fanout, any value, 0 too; the others join that id)
 * and xdp: (queue Q + instance); other kinds have one. */
int soft_source_open(struct soft_source *s, const char *spec, unsigned instance, unsigned instances,
		     uint16_t *fanout, struct mpf_flow_error *error);
/* Whether `spec` reads as a source on a device of `ports` ports: its kind,
 * options and their values (a loop:'s port), nothing opened (a pcap file,
 * an interface); 0 or -errno and why. */
int soft_source_check(const char *spec, unsigned ports, struct mpf_flow_error *error);
/* A source's refusal ("--source SPEC: why") named where the configuration
 * file set it ("FILE:LINE: source SPEC: why"); as it is when `from` is NULL
 * (the command line). */
void soft_source_named(struct mpf_flow_error *error, const char *from);
/* How many instances a source spec takes with `workers` workers. */
unsigned soft_source_instances(const char *spec, unsigned workers);
void soft_source_close(struct soft_source *s);
/* Up to `max` frames now; 0 when none is due or left. */
unsigned soft_source_burst(struct soft_source *s, struct packet *pkts, unsigned max,
			   uint64_t now_ns);
/* Frames the source lost before classification (a live socket's ring
 * overflowed) since the last call; read at most every
 * SOURCE_STATS_INTERVAL_NS, 0 in between. */
#define SOURCE_STATS_INTERVAL_NS 100000000u
uint64_t soft_source_missed(struct soft_source *s, uint64_t now_ns);
/* Frames taken by the last burst are no longer needed. */
void soft_source_release(struct soft_source *s);
/* ns until the next frame is due, 0 now, UINT64_MAX never (or a live fd). */
uint64_t soft_source_due(const struct soft_source *s, uint64_t now_ns);

/* datapath.c */
/* Start (stop) every worker thread. */
int soft_datapath_start(struct soft *soft, struct mpf_flow_error *error);
void soft_datapath_stop(struct soft *soft);
/* Wake worker `w` if it sleeps. */
void soft_worker_wake(struct soft_worker *w);

#endif
