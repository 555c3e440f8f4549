/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device backend seam: one ops table, named after the public verbs, per
 * backend folder (soft/, verbs/). The primary reaches a device only through
 * it; a backend leaves an op NULL to get a default that refuses with
 * -ENOTSUP and says which backend and op, so callers never test for NULL.
 */
#ifndef MPFLOW_HWDRV_H
#define MPFLOW_HWDRV_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpflow/flow.h>

#include "shm/region.h"
#include "shm/rule/rule.h"

#define HWDRV_PORTS_MAX 64
#define HWDRV_QUEUE_FDS 3 /* fds a queue_attach hands over, at most */

struct hwdrv_config {
	uint16_t ports;	 /* ports the device exposes, numbered from 0 */
	uint16_t queues; /* RX queues per port */
	uint16_t vfs;	 /* virtual functions per port */
	/* Soft backend: each port's packet source ("pcap:FILE,...", "gen:...",
	 * "live:IFNAME"; NULL: none), a directory for per-queue pcap dumps
	 * (NULL: none), and the bytes of each attached RX queue's ring. */
	const char *sources[HWDRV_PORTS_MAX];
	/* Where each was set ("FILE:LINE"; NULL: the command line), named by
	 * the message that refuses it. */
	const char *source_from[HWDRV_PORTS_MAX];
	const char *dump_dir;
	/* dump_dir opened and checked by the caller (the primary's trust
	 * boundary, server/dirs.c): the files are made through it, never by
	 * a path another user could swap for a symbolic link. */
	int dump_dirfd;
	uint32_t rxq_bytes;
	/* Verbs backend: the RDMA device (NULL: the first with an Ethernet
	 * port), its port (numbered from 1, as verbs numbers them), and how
	 * many groups share the device's priority levels. */
	const char *device_name;
	uint8_t device_port;
	uint16_t groups;
	/* Where a backend that counts them (ops.counts_ports) keeps port and
	 * queue statistics (shm/region.h): ports entries, and ports x (queues
	 * + vfs) queue entries. NULL: the backend keeps them privately. */
	struct region_port *port_stats;
	struct region_queue *queue_stats;
	/* Soft backend: datapath workers (1 to 64; 0 is 1). Worker w > 0
	 * counts rule slot i in shares.base[(w - 1) * max_rules + i]; slot i
	 * is a rule's counter's index in `counters`. */
	uint16_t workers;
	struct region_counter *counters;
	struct region_shares shares;
	/* Where whoever counts says a slot's counts moved (shm/region.h):
	 * worker w's row w, the primary's (a backend's poller) the last. */
	struct region_activity activity;
};

/* A two-rate three-color meter (RFC 2698): rates in bytes per second,
 * bursts in bytes; `drop` says which colors it drops (bit per color: 1
 * green, 2 yellow, 4 red). */
#define HWDRV_METER_DROP_GREEN	0x1u
#define HWDRV_METER_DROP_YELLOW 0x2u
#define HWDRV_METER_DROP_RED	0x4u
struct hwdrv_meter {
	uint64_t cir, cbs, pir, pbs;
	uint32_t drop;
};

/* Packets and bytes a meter colored, green, yellow, red. */
struct hwdrv_meter_stats {
	uint64_t packets[3];
	uint64_t bytes[3];
};

/* A rule as the primary hands it to a backend: decoded, validated against the
 * model, resolved once (`shape`: each item's mask and ranges, the actions'
 * effect); a backend says only what its device cannot do. Everything here
 * is the primary's and lives only for the call; a backend copies what it
 * keeps. */
struct hwdrv_rule {
	uint16_t port;
	const struct mpf_flow_attr *attr;
	const struct mpf_flow_item *pattern;
	const struct mpf_flow_action *actions;
	const struct rule_shape *shape;
	const void *wire; /* the request it was decoded from (the journal keeps it) */
	size_t wire_length;
	struct region_counter *counter; /* where this rule counts, if it does */
	/* Asked (`slow` not NULL), a backend with a slow path — rules it
	 * cannot key, met in turn by every frame of the port (the soft
	 * backend's general list) — says in *slow whether the rule goes
	 * there, and with `slow_refused` refuses such a rule with -EDQUOT,
	 * `error` left to the caller (its quota: it says why). */
	bool *slow;
	bool slow_refused;
	/* Asked (`mask` not NULL), a backend that looks every frame of a port
	 * up in a table per distinct set of masks (the soft backend's
	 * tuples) says in *mask which table the rule went to (NULL: none),
	 * and with `new_mask_refused` refuses with -EDQUOT a rule that would
	 * add a table (`error` left to the caller). */
	const void **mask;
	bool new_mask_refused;
	/* The caller calls ops.activate() (where the backend has it) before
	 * the rule must take traffic, and has other work to do meanwhile: the
	 * backend may leave the rule prepared, its last memory accesses under
	 * way, and link it then. */
	bool deferred;
};

/* Every backend's refusal of a queue its port does not have: -EINVAL
 * naming action `index` (`what`: its name). */
static inline int hwdrv_check_queue(unsigned queue, unsigned queues, int index, const char *what,
				    struct mpf_flow_error *error)
{
	if (queue < queues)
		return 0;
	return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, index,
			      "action %d (%s): queue %u does not exist (the port has %u)", index,
			      what, queue, queues);
}

struct hwdrv;

struct hwdrv_ops {
	const char *name;
	/* The backend counts port and queue statistics (config.port_stats). */
	bool counts_ports;
	/* Bring the device up. 0 or -errno with `error` saying why. */
	int (*open)(struct hwdrv *dev, const struct hwdrv_config *config,
		    struct mpf_flow_error *error);
	/* Destroy whatever open() and create() made. */
	void (*close)(struct hwdrv *dev);
	/* Would create() take this rule now? See mpf_flow_validate(). */
	int (*validate)(struct hwdrv *dev, const struct hwdrv_rule *rule,
			struct mpf_flow_error *error);
	/* Install a rule; *handle is the backend's. See mpf_flow_create(). */
	int (*create)(struct hwdrv *dev, const struct hwdrv_rule *rule, void **handle,
		      struct mpf_flow_error *error);
	/* Optional: every rule created `deferred` since the last call takes
	 * traffic from now on. */
	void (*activate)(struct hwdrv *dev);
	/* The table a rule create() made is in, as its *mask said: a
	 * backend that says it has this. */
	const void *(*mask_of)(struct hwdrv *dev, const void *handle);
	/* Remove a rule create() made (activated or not). See
	 * mpf_flow_destroy(). */
	int (*destroy)(struct hwdrv *dev, void *handle, struct mpf_flow_error *error);
	/* Optional: remove `n` rules at once, for a backend that can overlap
	 * their work (soft: their memory accesses, one grace period). It sets
	 * every errs[i], each one's 0 or -errno (the handle is gone either
	 * way). */
	int (*destroy_burst)(struct hwdrv *dev, void *const *handles, unsigned n, int *errs);
	/* Enter or leave isolated mode on a port. See mpf_flow_isolate(). */
	int (*isolate)(struct hwdrv *dev, uint16_t port, bool enable, struct mpf_flow_error *error);
	/* Hand RX queue `queue` of `port` (with `tx`: TX queue) to client
	 * session `owner`: fds[0] the queue's memfd (shm/rxq.h), fds[1] the
	 * eventfd that wakes its consumer (RX: the client, TX: the datapath),
	 * fds[2] for a zero-copy RX queue the eventfd the client rings when it
	 * returns buffers (else -1). They stay the backend's: the caller only
	 * sends them. -EBUSY when another client holds the queue. */
	int (*queue_attach)(struct hwdrv *dev, uint16_t port, uint16_t queue, bool tx,
			    uint32_t owner, int fds[HWDRV_QUEUE_FDS], struct mpf_flow_error *error);
	int (*queue_detach)(struct hwdrv *dev, uint16_t port, uint16_t queue, bool tx,
			    uint32_t owner, struct mpf_flow_error *error);
	/* Start port `port`'s statistics and its queues' from zero (a backend
	 * with counts_ports): the counting side moves the baselines, so that
	 * no packet is half counted before and half after. 0 once done;
	 * -EINPROGRESS once the counting side is asked, *ticket naming the
	 * request, and port_stats_reset_done() then says when that request
	 * was carried out (another asked after it is not its business);
	 * -EBUSY while another reset of the port is under way (ask again); or
	 * -errno. Neither call waits: the loop serves others meanwhile. */
	int (*port_stats_reset)(struct hwdrv *dev, uint16_t port, uint32_t *ticket,
				struct mpf_flow_error *error);
	int (*port_stats_reset_done)(struct hwdrv *dev, uint16_t port, uint32_t ticket,
				     struct mpf_flow_error *error);
	/* Client session `owner` is gone: detach whatever it holds. */
	void (*release)(struct hwdrv *dev, uint32_t owner);
	/* Meter objects, by id per port (rte_mtr). */
	int (*meter_create)(struct hwdrv *dev, uint16_t port, uint32_t id,
			    const struct hwdrv_meter *params, struct mpf_flow_error *error);
	int (*meter_destroy)(struct hwdrv *dev, uint16_t port, uint32_t id,
			     struct mpf_flow_error *error);
	int (*meter_query)(struct hwdrv *dev, uint16_t port, uint32_t id, bool clear,
			   struct hwdrv_meter_stats *stats, struct mpf_flow_error *error);
	/* Counters the device keeps itself (verbs): copy every counted rule's
	 * into its region counter. The primary calls it on its counter timer.
	 * Default: nothing, the datapath writes the region directly. */
	void (*counters_poll)(struct hwdrv *dev);
	/* Copy one rule's counters from the device now (a fresh query, or a
	 * reset, which must move the baseline to the device's latest value).
	 * Default: 0, the region is always current. */
	int (*counter_read)(struct hwdrv *dev, void *handle, struct mpf_flow_error *error);
	/* A backend that moves packets in the primary's thread (verbs: the
	 * CQs of attached queues): the fd the loop watches for its events
	 * (-1: none, the default), and the work itself, done without
	 * waiting, after that fd became readable (`woken`) or on a busy-poll
	 * pass. Returns how much it did (0: nothing was there). */
	int (*event_fd)(struct hwdrv *dev);
	unsigned (*service)(struct hwdrv *dev, bool woken);
	/* The loop is about to sleep: ask for wakeups on what the backend
	 * polls (false: work came meanwhile, do not sleep); and it woke.
	 * Default: true, nothing. */
	bool (*prepare_sleep)(struct hwdrv *dev);
	void (*finish_sleep)(struct hwdrv *dev);
};

struct hwdrv {
	struct hwdrv_ops ops; /* the backend's, defaults filled in */
	bool polled_counters; /* the backend has counters_poll: counts lag */
	struct hwdrv_config config;
	void *priv; /* the backend's state */
};

/* Backends built into this mpflowd. */
extern const struct hwdrv_ops hwdrv_soft_ops;
#ifdef MPFLOW_HAVE_VERBS
extern const struct hwdrv_ops hwdrv_verbs_ops;
#endif

/* Names of the backends built in, for --help: "soft" or "soft, verbs". */
const char *hwdrv_backend_names(void);
/* Whether backend `name` is built in (a configuration's check). */
bool hwdrv_backend_known(const char *name);
/* Whether a port's source spec reads (hwdrv_config.sources: one grammar,
 * the soft backend's, for every backend that takes one) on a device of
 * `ports` ports, opening nothing:
 * 0, or -errno and why, named by `from` as a start's refusal is
 * (hwdrv_config.source_from; a configuration's check). */
int hwdrv_source_check(const char *spec, unsigned ports, const char *from,
		       struct mpf_flow_error *error);

/* Bind backend `name` (defaults filled) and open it. 0, -ENOENT for an
 * unknown backend, or the backend's error. */
int hwdrv_open(struct hwdrv *dev, const char *name, const struct hwdrv_config *config,
	       struct mpf_flow_error *error);
void hwdrv_close(struct hwdrv *dev);

#endif
