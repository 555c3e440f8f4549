/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpflowd's private declarations, grouped by the file that defines them.
 * One process, one thread: nothing here is locked.
 */
#ifndef MPFLOW_SERVER_H
#define MPFLOW_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <bsd/libutil.h>
#include <liburing.h>

#include "hwdrv/hwdrv.h"
#include "shm/region.h"
#include "shm/ring.h"
#include "shm/wire.h"

#define SERVER_NAME "mpflowd"

struct server_config {
	const char *instance;
	const char *backend;
	char runtime_dir[PATH_MAX];
	bool allow_group;
	gid_t allow_gid;
	uint32_t max_rules;
	uint32_t max_clients;
	uint32_t client_max_rules;
	uint32_t busy_poll_us;
	uint32_t counter_interval_ms; /* the timer: device counters, heartbeat */
	char state_dir[PATH_MAX];     /* the journal's directory */
	uint32_t request_ring_bytes;
	uint32_t completion_ring_bytes;
	bool foreground;
	int log_level;
	struct hwdrv_config device;
};

/* A connected client. Slot `index` of server.clients; `session` is unique
 * for the primary's lifetime and owns the client's rules. */
struct client {
	bool active;
	uint32_t index;
	uint32_t session;
	uint32_t generation; /* bumps on each reuse of the slot: stale CQEs are ignored */
	pid_t pid;
	uid_t uid;
	char name[32];
	int sock;
	int primary_bell; /* the client rings it; we poll it */
	int client_bell;  /* we ring it */
	void *mem;
	size_t mem_length;
	struct ring requests;	 /* we consume */
	struct ring completions; /* we produce */
	uint32_t rules;		 /* non-persistent rules it owns */
	uint32_t first_rule;	 /* head of its rule list (slot + 1; 0: empty) */
	uint64_t requests_served;
	bool waiting_for_space;
};

/* One rule slot. The handle of the rule in slot i is
 * (uint64_t)generation << 32 | i; generation is never 0. */
struct rule_slot {
	uint32_t generation;
	uint32_t owner;	      /* client session; 0: persistent (the instance's) */
	uint32_t owner_index; /* that client's slot in server.clients */
	uint32_t prev, next; /* the owner's list, slot + 1; 0: none */
	uint16_t port;
	bool in_use;
	void *backend;
	void *journal;		 /* persistent: its CREATE request, as journaled */
	uint32_t journal_length;
};

struct rule_table {
	struct rule_slot *slots;
	uint32_t max;
	uint32_t *free; /* stack of free slot numbers */
	uint32_t free_count;
	uint32_t used;
};

/* A connection accepted but not yet through its handshake. */
#define HANDSHAKES_MAX 64
struct handshake {
	int sock; /* -1: free */
	uint32_t generation;
	struct ucred cred;
	uint64_t deadline_ns;
};

/* A meter object as journaled (its METER_CREATE request). */
struct journal_meter {
	uint64_t key; /* port << 32 | id */
	void *request;
	uint32_t length;
};

struct journal {
	int fd; /* -1: none */
	char path[PATH_MAX + 48]; /* STATE_DIR/INSTANCE.journal */
	uint32_t epoch;	  /* this run's, 0-255 */
	uint64_t records; /* in the file */
	bool dirty;	  /* written since the last sync */
	bool frozen;	  /* shutting down: destroys are not journaled */
	struct journal_meter *meters;
	unsigned n_meters;
};

struct server {
	struct server_config config;
	struct hwdrv device;
	struct io_uring uring;
	int listen_fd;
	int signal_fd;
	int timer_fd;
	int region_fd;
	struct region_header *region;
	struct region_counter *counters;
	struct region_entry *entries;
	size_t region_length;
	struct client *clients;
	uint32_t client_count;
	uint32_t next_session;
	struct rule_table rules;
	uint32_t persistent_rules;
	struct journal journal;
	struct handshake handshakes[HANDSHAKES_MAX];
	struct pidfh *pidfile;
	char socket_path[PATH_MAX];
	char pid_path[PATH_MAX];
	bool stopping;
};

/* log.c */
enum { LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };
void log_init(bool foreground, int level);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* region.c */
int region_create(struct server *s);
/* Fault every page of a shared writable mapping in, writable, now. */
void memory_prefault(void *mem, size_t length);
void region_destroy(struct server *s);

/* listener.c */
int listener_open(struct server *s);
void listener_close(struct server *s);
/* Accept waiting connections; each waits for its hello without blocking. */
void listener_accept(struct server *s);
/* A waiting connection is readable: read its hello, welcome or refuse it. */
void listener_hello(struct server *s, struct handshake *h);
/* Refuse connections whose hello is late (the timer calls it). */
void listener_expire(struct server *s, uint64_t now_ns);

/* clients.c */
struct client *client_add(struct server *s, int sock, pid_t pid, uid_t uid, const char *name,
			  int fds[4], int *error, char *reason, size_t reason_size);
/* The client is gone (hang-up, broken ring, shutdown): destroy its rules,
 * release its memory and fds. */
void client_remove(struct server *s, struct client *c, const char *why);

/* rules.c */
int rules_init(struct rule_table *t, uint32_t max);
void rules_fini(struct rule_table *t);
/* Create the validated `rule` in the device (`hw`, whose counter this
 * fills in), publish it, give it to `c` unless persistent. */
int rules_create(struct server *s, struct client *c, const struct wire_rule *rule,
		 struct hwdrv_rule *hw, uint64_t *handle, struct mpf_flow_error *error);
/* Find the rule of `handle` that `c` may act on: -ENOENT or -EPERM. */
int rules_lookup(struct server *s, const struct client *c, uint64_t handle,
		 struct mpf_flow_error *error);
int rules_destroy(struct server *s, uint32_t slot, struct mpf_flow_error *error);
/* Destroy every rule of client session `owner` (on `port`, or all ports when
 * port < 0). Returns how many. */
uint32_t rules_destroy_owned(struct server *s, struct client *c, int port);
/* Destroy every persistent rule (owned by the instance) on `port`. How many. */
uint32_t rules_destroy_persistent(struct server *s, uint16_t port);
void rules_destroy_all(struct server *s);
/* Journal replay: create the persistent rule `request` again as `handle`
 * (its slot must be free), keeping `bytes` as its journal record. */
int rules_restore(struct server *s, uint64_t handle, const struct wire_request *request,
		  const void *bytes, uint32_t length, struct mpf_flow_error *error);
/* Replay done: the free slots are those no restored rule took. */
void rules_restored(struct server *s);

/* journal.c */
/* Read the journal, restore its rules and meters, rewrite it. 0 or -errno. */
int journal_open(struct server *s);
void journal_close(struct server *s);
/* Record a persistent rule (its CREATE request), its end, a meter, its
 * end. 0 or -errno: the caller must not acknowledge what failed. */
int journal_rule(struct server *s, uint64_t handle, const void *request, uint32_t length);
int journal_rule_gone(struct server *s, uint64_t handle);
int journal_meter(struct server *s, uint16_t port, uint32_t id, const void *request,
		  uint32_t length);
int journal_meter_gone(struct server *s, uint16_t port, uint32_t id);
/* Make what was recorded durable; before any completion is published. */
int journal_sync(struct server *s);

/* audit.c */
/* Check every invariant of the rule table, the clients' lists, the free
 * stack and the region. 0 with *checked = rules, or -EUCLEAN naming the
 * first broken one (also logged). */
int audit_run(const struct server *s, uint64_t *checked, struct mpf_flow_error *error);

/* dispatch.c */
/* Serve up to `budget` requests of one client. Returns how many it served,
 * or -1 when the client broke its ring and was removed. */
int dispatch_client(struct server *s, struct client *c, unsigned budget);

/* loop.c */
int loop_init(struct server *s);
int loop_run(struct server *s);
void loop_fini(struct server *s);
void loop_watch_client(struct server *s, struct client *c);
void loop_unwatch_client(struct server *s, struct client *c);
void loop_watch_handshake(struct server *s, struct handshake *h);
void loop_unwatch_handshake(struct server *s, struct handshake *h);

#endif
