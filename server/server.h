/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpflowd's private declarations, grouped by the file that defines them.
 * One process, one thread: nothing here is locked.
 */
#ifndef MPFLOW_SERVER_H
#define MPFLOW_SERVER_H

#include <limits.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <bsd/libutil.h>
#include <liburing.h>

#include "hwdrv/hwdrv.h"
#include "server/memcg.h"
#include "shm/bigmem.h"
#include "shm/pack.h"
#include "shm/region.h"
#include "shm/ring.h"
#include "shm/wire.h"

#define SERVER_NAME "mpflowd"

/* An instance name in a format: at most 31 bytes (config.c checks). */
#define INSTANCE_FMT "%.31s"

struct server_config {
	char instance[32];
	char backend[32];
	char runtime_dir[PATH_MAX];
	bool allow_group;
	gid_t allow_gid;
	char allow_group_name[64]; /* as given: a name or a gid */
	uint32_t max_rules;
	uint32_t max_clients;
	uint32_t client_max_rules;
	uint32_t client_max_queues;
	uint32_t user_max_slow_rules; /* another user's rules on the device's slow path */
	uint32_t user_max_masks;      /* the device's mask tables another user's rules are in */
	uint32_t busy_poll_us;
	uint32_t counter_interval_ms; /* the timer: device counters, heartbeat */
	char state_dir[PATH_MAX];     /* the journal's directory */
	bool state_dir_default;	      /* not configured: the user's (or root's) default */
	uint32_t request_ring_bytes;
	uint32_t completion_ring_bytes;
	bool foreground;
	int log_level;
	struct hwdrv_config device; /* its strings point at the arrays below */
	char sources[HWDRV_PORTS_MAX][128];
	/* Where each source was set: "FILE:LINE" of the configuration, or
	 * empty (the command line), for the messages that refuse it. */
	char source_from[HWDRV_PORTS_MAX][PATH_MAX + 16];
	char dump_dir[PATH_MAX];
	char device_name[64];
	char config_path[PATH_MAX]; /* the file read; empty: none */
	int argc;		    /* the command line, read again on SIGHUP */
	char **argv;
};

/*
 * A client's completions on their way out (commit.c): encoded, in order,
 * each waiting for the journal to be durable up to its `lsn` (0: nothing to
 * wait for) and for every completion before it. Private memory; bounded by
 * the completion ring, since a request is taken only when the ring has room
 * for everything here plus its own answers.
 */
struct outbox {
	uint8_t *bytes; /* struct outbox_record + encoded completion, 8-aligned */
	size_t head, tail, cap;
	uint32_t ring_bytes; /* what the records will take in the completion ring */
};

/* A whole-table request in progress (dispatch.c): run in slices of the
 * client's time, so that it never holds the loop. */
enum job_kind {
	JOB_NONE,
	JOB_FLUSH,
	JOB_FLUSH_PERSISTENT,
	JOB_LEAVE,
	JOB_AUDIT,
	JOB_DESTROY,
	JOB_PORT_RESET
};
enum job_progress { JOB_DONE, JOB_MORE, JOB_WAITING };
struct job {
	enum job_kind kind;
	int port;	 /* -1: every port (JOB_LEAVE) */
	uint32_t cursor; /* JOB_FLUSH_PERSISTENT: the next slot to look at;
			    JOB_DESTROY: the next of `handles`;
			    JOB_PORT_RESET: 1 once the backend was asked */
	uint32_t done;	 /* rules destroyed so far */
	/* JOB_DESTROY: the request's handles, copied (freed by job_end()). */
	uint64_t *handles;
	uint32_t n_handles;
	uint64_t checked; /* JOB_AUDIT: rules checked */
	uint32_t ticket;  /* JOB_PORT_RESET: the backend's name for its request */
	int status;	  /* its result: 0 or -errno with `error` */
	struct mpf_flow_error error;
	uint64_t lsn;	       /* the end of the last journal record it wrote; 0: none */
	uint64_t first;	       /* the end of the records of its first step that wrote */
	int undone;	       /* -errno: a failed sync or write undid some of its records */
	uint32_t undone_rules; /* its destroys a failed sync undid: their rules back */
	bool undone_uncut;     /* and their records stay in the journal's file: */
	uint32_t uncut_file;   /* that one (journal.file), unless rewritten since */
	uint64_t begun;	       /* the journal's end when it began: its records lie beyond */
	uint32_t stays;	       /* JOB_DESTROY: rules destroyed that were not persistent */
	uint64_t user_data;
	uint8_t request_op;
	/* Inside a BATCH, which stays in the ring (dispatch.c): the batch's
	 * own stop-on-error. */
	bool in_batch;
	bool stop_on_error;
};

/* A connected client. Slot `index` of server.clients; `session` is unique
 * for the primary's lifetime and owns the client's rules. */
struct client {
	bool active;  /* connected, or leaving with rules still to destroy */
	bool leaving; /* gone: its rings and bells are closed, its socket too
		       * unless `unread_held` */
	/* Ended with fds it was sent (its welcome's, an attach's) unread by
	 * its peer: they are in flight, charged to the primary, until the peer
	 * reads them or goes. Its socket is kept and the slot stays taken,
	 * counted among its user's sessions, until then (clients.c). */
	bool unread_held;
	uint32_t index;
	uint32_t session;
	uint32_t generation; /* bumps on each reuse of the slot: stale CQEs are ignored */
	pid_t pid;
	uid_t uid;
	char name[32];
	int sock;
	int primary_bell;   /* the client rings it; we poll it (an eventfd) */
	int client_bell[2]; /* we ring [1]; the client polls [0] (shm/doorbell.h) */
	void *mem;
	size_t mem_length;
	struct ring requests;	 /* we consume */
	struct ring completions; /* we produce */
	uint32_t rules;		 /* non-persistent rules it owns */
	uint64_t heap_chunks;	 /* of the rule heap its rules take */
	uint32_t maker;		 /* its uid's in rule_table.makers: its persistent rules' */
	uint32_t first_rule;	 /* head of its rule list (slot + 1; 0: empty) */
	uint32_t queues;	 /* RX queues it has attached */
	uint64_t requests_served;
	bool waiting_for_space;
	struct outbox outbox;
	struct job job;
	/* A BATCH that a job suspended: its sub-requests already run when it
	 * is read again, and whether a failure cancelled the rest. */
	uint32_t batch_resume;
	/* Handles its DESTROYs of several handles took in its current slice
	 * (dispatch.c): past DESTROY_AT_ONCE, the next one is a job. */
	uint32_t slice_handles;
	bool batch_cancelled;
	const char *why; /* JOB_LEAVE: why it left, for the log */
};

/* rule_slot.state */
enum rule_state {
	RULE_FREE,
	RULE_LIVE,
	RULE_UNRESTORED, /* in the journal, not in the device: see journal.c */
	RULE_RETIRED,	 /* not used again this run: its handles are spent, or its
			    journal record is kept outside the directory (journal.c) */
};

/* One rule slot. The handle of the rule in slot i is
 * (uint64_t)generation << 32 | i; generation is never 0. */
struct rule_slot {
	uint32_t generation;
	uint32_t owner; /* client session; 0: persistent (the instance's) */
	union {
		uint32_t owner_index; /* that client's slot in server.clients */
		uint32_t maker;	      /* persistent: who made it, in rule_table.makers */
	};
	uint32_t prev, next;	       /* the owner's list, slot + 1; 0: none */
	uint32_t number;	       /* testpmd's id on its port */
	uint32_t port_prev, port_next; /* the port's list, by number; slot + 1 */
	uint16_t port;
	uint8_t state; /* enum rule_state */
	bool dying;    /* persistent, destroyed: waits for its record to be durable */
	bool slow;     /* on the device's slow path (hwdrv_rule.slow): its maker's quota */
	bool masked;   /* counted in its maker's masks (hwdrv_rule.mask) */
	void *backend;
	/* Its CREATE request, as decoded (and journaled, when persistent),
	 * packed (shm/pack.h) in its directory entry, or when longer than an
	 * entry holds in the region's rule heap from chunk packed_chunk on:
	 * readers print the rule from it, a compaction journals it. */
	uint32_t packed_chunk;
	uint32_t packed_length; /* 0: none */
};

/* Does the slot hold a rule (live, dying or not restored)? */
static inline bool rule_slot_used(const struct rule_slot *r)
{
	return r->state == RULE_LIVE || r->state == RULE_UNRESTORED;
}

/*
 * A freed slot waits in quarantine, first in, first out, behind the
 * RULES_QUARANTINE slots freed before it; then it joins the stack of free
 * slots, reused last in, first out. Churn thus spreads over at least that
 * many slots (no one slot's generations spent fast: rules.c states the
 * handle guarantee) while staying within a few hundred slots that the
 * caches hold.
 */
#define RULES_QUARANTINE 256u

/* The users persistent rules were made by. Maker 0 is the instance's own:
 * the primary's user and root, unbounded. Any other uid (one
 * --allow-group admits) holds at most --client-max-rules persistent rules
 * and their share of the rule heap, across its sessions and restarts (the
 * journal records its uid), and may destroy, reset or flush only those
 * (as in a sticky directory). A maker is kept for the run. */
struct rule_maker {
	uid_t uid;
	uint32_t rules;		   /* persistent rules it holds: live, dying, unrestored */
	uint32_t session_rules;	   /* the other rules its sessions hold */
	uint32_t slow_rules;	   /* of both, those on the device's slow path (not makers[0]) */
	uint64_t heap_chunks;	   /* of the rule heap its persistent rules take */
	uint64_t user_heap_chunks; /* all its rules, its sessions' too (not makers[0]) */
	/* The device's mask tables its rules are in, each with how many of
	 * them: every frame of a port is looked up in each (not makers[0]). */
	struct maker_mask {
		const void *table;
		uint32_t rules;
	} * masks;
	uint32_t n_masks, cap_masks;
};

struct rule_table {
	struct rule_slot *slots;
	uint32_t max;
	/* Each port's rules in the order of their numbers (slot + 1; 0: none):
	 * a new rule takes the last one's number + 1 and goes at the end.
	 * Numbers below `reserved` are those of rules kept without a slot
	 * (journal_orphan.number): a rule made after them numbers past them,
	 * so that numbers keep the order made (rebuild.c writes by them). */
	struct {
		uint32_t first, last;
		uint32_t reserved;
	} ports[HWDRV_PORTS_MAX];
	/* A walk's place on a port's list that outlasts a loop round (the
	 * journal's rebuild, rebuild.c): the rule last looked at, slot + 1; 0:
	 * the list's start. A rule that leaves the list hands it back to the
	 * one before. */
	uint32_t walk;
	uint32_t *free; /* the stack of free slots, the next one on top */
	uint32_t free_count;
	/* Slots from `fresh` on were never used this run: taken in order once
	 * the stack is empty, so the region's memory is touched from its start
	 * as the table grows, and nothing is written ahead at start. */
	uint32_t fresh;
	uint32_t *quarantine; /* circular: freed slots, oldest first */
	uint32_t quarantine_head, quarantine_count, quarantine_cap;
	struct rule_maker *makers;
	uint32_t n_makers, cap_makers;
	uint32_t used;	   /* slots not free (live, dying, unrestored) */
	uint32_t retired;  /* slots whose generations are spent this run */
	uint32_t deferred; /* created, not yet activated (rules_activate()) */
	/* CLOCK_REALTIME for the entries of rules made now, and for how many
	 * more (rules_clock_expire()). */
	uint64_t clock_ns;
	uint32_t clock_uses;
};

/* A connection accepted but not yet through its handshake. */
#define HANDSHAKES_MAX	   64
#define HANDSHAKES_PER_UID 16 /* one user cannot take every slot */
/* Monitors welcomed whose welcome (it carries the region's fd) their peer
 * has not read: kept open until it has, so that they can be counted. The
 * fds in flight count against our RLIMIT_NOFILE (listener.c). */
#define UNREAD_MAX     256
#define UNREAD_PER_UID 16
struct unread_welcome {
	int sock; /* -1: free */
	uid_t uid;
};
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
	bool dying;   /* destroyed; its METER_GONE record is not yet durable */
	uint64_t lsn; /* of its METER record (0: restored, durable) */
};

/* A journaled persistent rule this start could not put in a slot (its slot
 * is beyond --max-rules): kept in the journal, reported, not lost. Its
 * record's type and payload, as they were read. */
struct journal_orphan {
	uint64_t handle;
	/* Its testpmd number on its port, taken as the table's rules take
	 * theirs (rule_table.ports[].reserved): its place in the order made.
	 * On no port: the order it was read in. */
	uint32_t number;
	uint16_t port; /* 0xffff: none it can be on */
	uint16_t type;
	bool dying;	/* destroyed; its RULE_GONE record is not yet durable */
	bool gone;	/* destroyed for good: a place left until the array is packed */
	uint32_t maker; /* in rule_table.makers */
	void *payload;
	uint32_t length;
};

/* Encoded journal records in memory, written with one pwrite(2). */
struct journal_buffer {
	uint8_t *bytes;
	size_t used, cap;
	uint64_t records;
};

/* A new journal file written in chunks of 1 MiB (journal_file.c): one
 * pwrite(2) per chunk, not per record. The first error stops it. */
struct journal_rewrite {
	int fd;
	uint64_t at; /* bytes written */
	uint64_t records;
	struct journal_buffer buffer;
	int err;
};

/* The journal rebuilt from the rule table in steps of the loop (rebuild.c). */
struct journal_rebuild {
	int fd; /* INSTANCE.journal.new; -1: none under way */
	struct journal_rewrite w;
	unsigned port;	     /* whose rules are being written (rule_table.walk) */
	unsigned orphan;     /* the next kept rule to write: journal.orphans[orphan] */
	bool written;	     /* every record is in the file */
	bool syncing;	     /* its sync + rename + directory sync chain is in flight */
	int chain_err;	     /* the first failure of that chain */
	int chain_fault;     /* the test build's errno for its sync */
	uint32_t generation; /* of this rebuild: its chain's tag */
	unsigned steps;
	uint64_t started_ns;
};

/*
 * A compaction of the journal running beside the loop (compact.c). The
 * thread reads the file up to where it was written when it started, writes
 * what is live there to INSTANCE.journal.compact and copies what the loop
 * appended meanwhile; the loop adds the last few records, makes that file
 * its journal, and its next sync renames it into place.
 */
struct journal_compaction {
	int bell;	  /* eventfd: the thread is done */
	bool running;	  /* a thread runs, or waits to be joined */
	bool ready;	  /* done; the switch waits for the sync in flight */
	bool rename_owed; /* the journal's fd is the compacted file, not yet named */
	bool polite;	  /* the thread yields to the loop: the disk has room to spare */
	unsigned chains;  /* sync + rename + directory sync chains in flight */
	int chain_err;	  /* the first failure of the chain in flight */
	int chain_fault;  /* the test build's errno for the chain's sync */
	uint64_t retry_ns, backoff_ns;
	uint64_t room_said_ns; /* when a compaction short of room was last said */
	int state_fd;	       /* the state directory */
	char name[64];	       /* INSTANCE.journal.compact */
	pthread_t thread;
	int old_fd;		      /* the journal file it compacts (a dup) */
	int fd;			      /* the compacted file */
	uint32_t file;		      /* journal.file when it started */
	uint64_t records_at;	      /* journal.records written when it started */
	uint64_t started_ns;	      /* CLOCK_MONOTONIC */
	_Atomic uint64_t written_end; /* the loop: bytes written to the journal file */
	atomic_bool stop;
	/* The thread's result: read once it is joined. */
	int err;
	uint64_t copied;	/* bytes of the old file the new one covers */
	uint64_t size;		/* of the new file */
	uint64_t kept;		/* records in it */
	const char *damage;	/* why the old file did not read back, or NULL */
	uint64_t snapshot_size; /* of the new file's live records; then the appends */
	/* From the switch to the rename: the old file, which keeps the
	 * journal's name until then, and its bytes up to its last good
	 * sync; a failed sync cuts what it holds beyond (compact_cut_old). */
	int named_fd;
	uint64_t old_durable_end;
};

/*
 * The journal's positions are log sequence numbers: bytes appended in this
 * run, across rewrites, so they only grow. `durable` <= `end`: what a
 * completed sync (or rewrite) covers. Appends go to `unwritten` (LSNs
 * end - unwritten.used .. end); commit.c writes it once per loop round,
 * before any sync, so a record costs no system call of its own.
 */
struct journal {
	int fd; /* -1: none (a rewrite is owed: see `broken`) */
	/* A start that writes a new journal (the file damaged, read-only or
	 * missing): the file still under the name, held open for its lock
	 * (journal_lock) and never written, until the new one is renamed
	 * over it (adopt) or the stop. -1: none. */
	int name_fd;
	char name[48];		      /* INSTANCE.journal, in the state directory */
	char path[PATH_MAX + 48];     /* STATE_DIR/INSTANCE.journal, for the log */
	char refusal[PATH_MAX + 256]; /* why the start refused it */
	uint32_t epoch;		      /* of new handles, 0-255 */
	uint64_t records;	      /* in the file and in `unwritten` */
	uint64_t file_end;	      /* its size: where `unwritten` goes */
	/* Where the file's records become the appends byte for byte, in LSN
	 * order: 0, or a compacted file's snapshot end (commit.c cuts only
	 * there). */
	uint64_t verbatim_from;
	struct journal_buffer unwritten;
	uint64_t end;	      /* LSN after the last append */
	uint64_t durable;     /* LSN known to be on disk */
	uint64_t sync_target; /* LSN the sync in flight covers; 0: none */
	int sync_fault;	      /* the test build's errno for it, decided at its submission */
	uint32_t file;	      /* bumps with each new file: late syncs are ignored */
	int broken;	      /* 0, or -errno: refused until a rewrite succeeds */
	/* The file under the journal's name was found damaged at the start:
	 * it keeps the name until a rewrite has a file to put in its place,
	 * and is linked aside (`damage_kept`) first, never overwritten. */
	bool damaged, damage_kept;
	uint64_t retry_ns; /* when the next rebuild of a broken journal is tried */
	int epoch_fd;	   /* RUNTIME_DIR/INSTANCE.epoch: the epoch in use (journal.c) */
	/* The last failed rebuild said (the same failure is said again once a
	 * minute, not at each retry). */
	int said_err;
	uint64_t said_ns;
	bool frozen; /* shutting down: destroys are not journaled */
	struct journal_meter *meters;
	unsigned n_meters;
	/* The rules kept without a slot, in the order of their places (port,
	 * then number: rebuild.c writes them so), and their handles sorted,
	 * each with its place in orphans[] (journal_orphan_find). Made at
	 * start only: destroyed ones are marked gone, and packed away once
	 * they are half of the array. */
	struct journal_orphan *orphans;
	struct journal_orphan_key {
		uint64_t handle;
		uint32_t at;
	} * orphan_keys;
	unsigned n_orphans, orphans_gone, orphans_cap;
	struct journal_compaction compact;
	struct journal_rebuild rebuild;
};

/* An operation whose journal record is not yet durable (commit.c): done for
 * good when the sync covering `lsn` succeeds, undone if it fails. */
enum pending_kind {
	PENDING_NOTHING, /* an EPOCH record: nothing to finish or undo */
	PENDING_RULE,
	PENDING_RULE_GONE,
	PENDING_METER,
	PENDING_METER_GONE,
};
struct pending {
	uint64_t lsn;
	uint64_t key; /* the rule's handle, or port << 32 | meter id */
	enum pending_kind kind;
	uint32_t job; /* 1 + the index of the client whose job wrote it; 0: none */
};

struct commit {
	struct pending *items; /* a circular queue, oldest first */
	size_t head, count, cap;
	/* An LSN the request being run depends on without a record of its
	 * own (commit_depend()); its completion waits for it. 0: none. */
	uint64_t depends;
	/* A DESTROY being run: its rules that were not persistent
	 * (commit_wait.stays). */
	uint32_t stays;
	/* While a client's job takes a step: 1 + the client's index, which
	 * its records carry (pending.job). 0: none. */
	uint32_t job;
};

/* The rule heap (heap.c): the region's chunks, the free ones on a stack,
 * the never used ones from `fresh` on. */
#define RULE_HEAP_CHAIN_MAX ((PACK_MAX + REGION_CHUNK_BYTES - 1) / REGION_CHUNK_BYTES)
struct rule_heap {
	struct region_chunk *chunks;
	uint32_t n_chunks, fresh;
	uint32_t *free;
	uint32_t free_count, free_cap;
};

/* The pages of the slots ahead of the creates, faulted in by a helper
 * thread (ahead.c), a window of AHEAD_SLOTS at a time. */
#define AHEAD_SLOTS   32768u
#define AHEAD_WINDOWS 512u /* --max-rules 2^24 */
#define AHEAD_ASKED   8u   /* windows asked for and not yet done, at most */
struct ahead_window {
	uint32_t from, to; /* slots */
};
struct ahead {
	struct ahead_window asked[AHEAD_ASKED]; /* a ring: the loop's to write */
	shm_u32 asked_end;			/* the loop's count of windows asked */
	shm_u32 done;				/* the helper's count of windows done */
	shm_u32 stop;				/* ahead_fini()'s */
	uint32_t asked_own, done_own;		/* each side's own copy */
	uint16_t taken[AHEAD_WINDOWS];		/* slots taken in each window, to half of it */
	pthread_t thread;
	int wake;     /* eventfd: windows asked, or stop */
	bool started; /* the helper runs */
	bool failed;  /* no helper could be had: the stores do */
};

struct server {
	struct server_config config;
	struct hwdrv device;
	struct io_uring uring;
	bool uring_up;	     /* from loop_init to loop_fini */
	unsigned closing;    /* loop_close()s in flight: blocks not yet freed */
	unsigned journal_io; /* the journal's syncs and renames in flight */
	/* Completions loop_settle_journal() read ahead, for handle_events(). */
	struct io_uring_cqe *deferred;
	unsigned n_deferred, cap_deferred;
	int dump_fd; /* --dump-queues' directory, checked (dirs.c); -1: none */
	int listen_fd;
	bool accept_more; /* connections wait: listen socket readable, or a
			   * burst that stopped short of the backlog's end */
	int signal_fd;
	int timer_fd;
	int region_fd;
	struct region_header *region;
	struct region_counter *counters;
	struct region_shares shares; /* the datapath workers' copies of the counts */
	shm_u64 *activity;	     /* the primary's row of activity stamps */
	struct region_entry *entries;
	struct region_owner *owners;
	struct rule_heap heap;
	/* A new rule's packed form, between its packing and its entry's
	 * publication (rules.c), and what the packer keeps of the rules
	 * before it. */
	uint8_t packed[PACK_MAX];
	struct pack_memo pack_memo;
	size_t region_length;
	bool region_huge; /* the region is on huge pages (BIGMEM_HUGE_BYTES) */
	struct ahead ahead;
	struct client *clients;
	uint32_t client_count;
	/* Each other user's share of a round (loop.c), by its index in
	 * rules.makers: the time its sessions took, and where they resume. */
	struct user_share {
		uint64_t spent_ns;
		uint32_t from, next;
	} * user_shares;
	uint32_t n_user_shares;
	uint32_t next_session;
	struct rule_table rules;
	uint32_t persistent_rules;
	uint32_t unrestored_rules;  /* in slots, and beyond --max-rules */
	uint32_t unrestored_memory; /* of those: refused by the memory cgroup (memcg.c) */
	/* Of the others: named in the log one by one, and not (journal.c). */
	uint32_t unrestored_named, unrestored_unnamed;
	struct memcg_guard memcg; /* creates held to the memory cgroups' limits */
	struct journal journal;
	struct commit commit;
	struct handshake handshakes[HANDSHAKES_MAX];
	struct unread_welcome unread[UNREAD_MAX];
	/* Loop time audits may still use, and when the bucket was last
	 * filled (dispatch.c): the instance's own users' [0], other users'
	 * [1], so that another user's audits cannot starve the owner's. */
	int64_t audit_tokens_ns[2];
	uint64_t audit_refilled_ns[2];
	uint64_t wake_at_ns;		 /* a waiting job's time: the loop sleeps no longer */
	struct pidfh *pidfile;		 /* INSTANCE.pid in the runtime directory */
	int state_lock_fd;		 /* INSTANCE.lock in the state directory, flock()ed */
	bool state_lock_read_only;	 /* taken on a read-only state: its fd cannot write */
	bool state_lock_stale;		 /* the pid in it is not ours yet */
	int runtime_fd;			 /* the checked runtime directory (dirs.c) */
	int state_fd;			 /* the checked state directory */
	char socket_name[48];		 /* INSTANCE.sock, in the runtime directory */
	char socket_path[PATH_MAX + 64]; /* for the log */
	bool stopping;
	uint64_t stop_kept; /* bytes of answers other users' sessions keep at a stop */
	struct scratch *scratch;
};

/* The single-threaded loop's scratch memory: a burst's copies, its decoded
 * requests. */
#define DISPATCH_BURST_MAX 32u /* requests taken off a ring at once */
struct scratch {
	/* Requests copied out of a ring: decoded in place (the one copy). */
	alignas(8) uint8_t inbox[DISPATCH_BURST_MAX * (WIRE_MSG_MAX + 8)];
	struct ring_msg msgs[DISPATCH_BURST_MAX];
	struct wire_request request, sub_request, restore;
	/* A packed journal record's request, unpacked for its replay, and
	 * what the unpacker keeps of the records before it. */
	alignas(8) uint8_t unpacked[WIRE_MSG_MAX];
	struct unpack_memo unpack_memo;
	/* A journal record of a rule another user made: its uid, its packed
	 * form (journal_file.h). */
	uint8_t of_uid[sizeof(uint32_t) + PACK_MAX];
};

/* dirs.c */
/* Open the directory `path` (made with `mode` and `group`, (gid_t)-1 for
 * none, when missing) by a descriptor, refusing a symbolic link, a
 * directory owned by neither our uid nor root, or one writable by group or
 * others. 0 with *fd, or -errno with `reason` naming the path, owner and
 * mode. */
int dir_open(const char *path, mode_t mode, gid_t group, int *fd, char *reason, size_t reason_size);
/* /proc/self/fd/DIRFD/NAME: for calls that take a path only (bind, the
 * pidfile); it resolves through the checked descriptor. 0 or -ENAMETOOLONG. */
int dir_proc_path(int dirfd, const char *name, char *out, size_t size);
/* An entry NAME that exists must be ours (or root's) and not a symbolic
 * link: 0 (also when absent) or -errno with `reason`. */
int dir_check_entry(int dirfd, const char *dirpath, const char *name, char *reason,
		    size_t reason_size);
/* openat(dirfd, NAME, flags | O_NOFOLLOW, 0600) of a regular file of ours
 * or root's: the fd, or -errno with `reason`. */
int dir_open_file(int dirfd, const char *dirpath, const char *name, int flags, char *reason,
		  size_t reason_size);

/* config.c */
/* Defaults, then the configuration file, then the command line (which
 * wins). 0: run; 1: done (--help, --check-config printed); 2: a usage or
 * configuration error, said on stderr with where it is. */
int config_load(struct server_config *cfg, int argc, char **argv);
/* SIGHUP: read the file again; apply the keys that can change while
 * running (log-level, busy-poll-us, counter-interval), log the others. */
void config_reload(struct server *s);

/* notify.c */
/* Tell systemd `state` ("READY=1", "STOPPING=1", "RELOADING=1") when it
 * asked ($NOTIFY_SOCKET); nothing otherwise. */
void notify_systemd(const char *state);

/* log.c */
/* LOG_LEVEL_NONE: not even warnings (a fuzz target's primary). */
enum { LOG_LEVEL_NONE = -1, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };
void log_init(bool foreground, int level, const char *instance);
/* SIGHUP: a new level; syslog opened again. */
void log_reopen(int level);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* heap.c: the rule heap (the region's rule bytes). alloc fills chunks[]
 * (region_rule_chunks(length) of them, at most RULE_HEAP_CHAIN_MAX): 0,
 * -EMSGSIZE or -ENOSPC; free takes back a chain region_rule_write() linked;
 * read gathers one into `out` (room for whole chunks). */
void rule_heap_init(struct rule_heap *h, struct region_chunk *chunks, uint32_t n_chunks);
void rule_heap_fini(struct rule_heap *h);
uint32_t rule_heap_available(const struct rule_heap *h);
int rule_heap_alloc(struct rule_heap *h, uint32_t length, uint32_t *chunks);
void rule_heap_free(struct rule_heap *h, uint32_t first, uint32_t length);
void rule_heap_read(const struct rule_heap *h, uint32_t first, uint32_t length, uint8_t *out);

/* ahead.c: a rule is about to take `slot`, for the first time in the run:
 * the pages of the slots ahead of it are asked for, once per window. */
void ahead_slot(struct server *s, uint32_t slot);
void ahead_fini(struct server *s);

/* region.c */
int region_create(struct server *s);
/* The bytes of shared memory region_create() maps for the configuration. */
uint64_t region_bytes(const struct server *s);
/* What pages the region is on, for the start line: "huge pages", or "4 KiB
 * pages" and the setting that would give it huge ones where that is why. */
const char *region_pages(const struct server *s);
/* Fault every page of a shared writable mapping in, writable, now. */
void memory_prefault(void *mem, size_t length);
void region_destroy(struct server *s);

/* listener.c */
int listener_open(struct server *s);
void listener_close(struct server *s);
/* Accept waiting connections, ACCEPT_BURST at most and for a client's
 * slice of time (the loop calls it once a round); each waits for its hello
 * without blocking. True if more may be waiting (the next round takes
 * them, its clients served in between). */
bool listener_accept(struct server *s);
/* A waiting connection is readable: read its hello, welcome or refuse it. */
void listener_hello(struct server *s, struct handshake *h);
/* Refuse connections whose hello is late (the timer calls it). */
void listener_expire(struct server *s, uint64_t now_ns);

/* clients.c */
/* A new session for the connection `sock`: 0 with *out and the four fds of
 * its welcome, or -errno with `reason` for the refusal. */
int client_add(struct server *s, int sock, pid_t pid, uid_t uid, const char *name, int fds[4],
	       struct client **out, char *reason, size_t reason_size);
/* The client is gone (hang-up, broken ring, shutdown): release its queues,
 * memory and fds, and destroy its rules (at once, or as a job when it owns
 * many: then it stays `leaving` until client_finish()). */
void client_remove(struct server *s, struct client *c, const char *why);
/* Its rules are gone: free its slot. */
void client_finish(struct server *s, struct client *c);
/* Close the sockets of ended sessions whose peers have read what they
 * were sent, or gone: their slots are free again. */
void clients_release_read(struct server *s);

/* rules.c */
int rules_init(struct rule_table *t, uint32_t max);
/* The bytes rules_init() asks for a table of `max` rules (its slots and
 * free stack: the rest is small). */
uint64_t rules_bytes(uint32_t max);
void rules_fini(struct rule_table *t);
/* Free slots, in the stack and in quarantine; the i-th of them (for the
 * audit). */
uint32_t rules_free(const struct rule_table *t);
uint32_t rules_free_at(const struct rule_table *t, uint32_t i);
/* Create the validated `rule` in the device (`hw`, whose counter this
 * fills in), publish it, give it to `c` unless persistent. */
int rules_create(struct server *s, struct client *c, const struct wire_rule *rule,
		 struct hwdrv_rule *hw, uint64_t *handle, struct mpf_flow_error *error);
/* The device's rules created since the last call take traffic. Creates
 * leave the device's last step (soft: linking into the classifier's
 * tables, a cache miss each at millions of rules) until then, so that
 * their misses overlap the rest of their work and each other's. Called
 * before any completion is published (commit_publish()), before any
 * request but a create runs (requests take effect in order), at the end of
 * each round over the clients, after a journal replay, and every
 * RULES_DEFER_MAX creates. */
#define RULES_DEFER_MAX 32
void rules_activate(struct server *s);
/* A rule's entry says when it was made (CLOCK_REALTIME): the clock is read
 * once for up to RULES_CLOCK_USES rules, and again after this call, made
 * for each burst of requests, so that no rule's time is older than the
 * burst that made it. */
#define RULES_CLOCK_USES 32
void rules_clock_expire(struct server *s);
/* Find the rule of `handle` that `c` may act on: its own, or a persistent
 * one (when the request `changes` it, a destroy or a reset: one its user
 * made, or any for the instance's own users). The slot, or -ENOENT,
 * -EPERM, or -EBUSY (being destroyed). */
int rules_lookup(struct server *s, const struct client *c, uint64_t handle, bool changes,
		 struct mpf_flow_error *error);
/* Destroy the rule in `slot`: at once, or (persistent) once its RULE_GONE
 * record is durable; -errno if that record cannot be written (the rule
 * stays) or the device refused (the rule is gone all the same). */
int rules_destroy(struct server *s, uint32_t slot, struct mpf_flow_error *error);
/* Rules on their way out together: their device rules go in one call
 * (ops.destroy_burst) once RULES_REMOVE_BURST are gathered, or at
 * rules_removal_finish(). */
#define RULES_REMOVE_BURST 32
struct rules_removal {
	uint32_t slots[RULES_REMOVE_BURST];
	unsigned n;
};
void rules_removal_finish(struct server *s, struct rules_removal *rm);
/* commit.c's verdicts on a persistent rule's records (a durable destroy
 * joins `rm`). */
void rules_destroy_durable(struct server *s, struct rules_removal *rm, uint64_t handle);
void rules_destroy_undone(struct server *s, uint64_t handle);
void rules_create_undone(struct server *s, uint64_t handle);
/* Job steps: destroy up to `budget` of the client's rules on job->port
 * (every port if < 0), or look at `budget` slots for persistent rules on
 * job->port that the client's user may destroy (*error: the journal
 * refused); true while there is more. */
bool rules_destroy_owned(struct server *s, struct client *c, struct job *job, unsigned budget);
bool rules_destroy_persistent(struct server *s, const struct client *c, struct job *job,
			      unsigned budget, int *error);
void rules_destroy_all(struct server *s);
/* A journaled rule's bytes: its request as decoded and, from a packed
 * record, the packed form the record held (the one form of that request:
 * its entry takes it as it is; NULL: packed again). */
struct rule_bytes {
	const void *wire;
	uint32_t wire_length;
	const uint8_t *packed;
	uint32_t packed_length;
};
/* Is `uid` one of the instance's own (root or the primary's user), whose
 * persistent rules are the instance's (maker 0)? */
bool rules_uid_is_instance(uid_t uid);
/* The index in rule_table.makers of `uid`'s persistent rules (0 for the
 * instance's own), added when new; or -ENOMEM. */
int rules_maker(struct rule_table *t, uid_t uid);
/* Journal replay: create the persistent rule `request`, made by `maker`,
 * again as `handle` (its slot must be free), from its journaled bytes. */
int rules_restore(struct server *s, uint64_t handle, uint32_t maker,
		  const struct wire_request *request, const struct rule_bytes *bytes,
		  struct mpf_flow_error *error);
/* Journal replay: a rule that could not be restored keeps its slot, its
 * record and a directory entry marked not restored. */
int rules_keep_unrestored(struct server *s, uint64_t handle, uint32_t maker,
			  const struct wire_rule *rule, const struct rule_bytes *bytes);
/* Journal replay: slot `slot` holds a record kept outside the directory;
 * it is used for nothing else this run. */
void rules_retire(struct server *s, uint32_t slot);
/* Journal replay: the number a rule kept without a slot takes on `port`,
 * as a rule made there now would (and that no later rule takes). */
uint32_t rules_reserve_number(struct rule_table *t, uint16_t port);
/* The request the rule in `slot` was made by (its user_data 0), unpacked
 * into out[WIRE_MSG_MAX]: its length, 0 if it has none. */
uint32_t rules_request(const struct server *s, uint32_t slot, uint8_t *out);
/* The same in its packed form (shm/pack.h), as the rule directory holds
 * it: a pointer to it (into `buf`, of RULE_HEAP_CHAIN_MAX chunks, when in
 * the rule heap) and its length in *length; NULL if it has none. */
const uint8_t *rules_packed(const struct server *s, uint32_t slot, uint8_t *buf, uint32_t *length);
/* Replay done: the free slots are those no restored rule took. */
void rules_restored(struct server *s);

/* journal.c */
/* Read the journal, restore its rules and meters; set a damaged one aside.
 * 0 or -errno. */
int journal_open(struct server *s);
/* One writer per journal: each file that is or becomes the journal is
 * locked (flock) by the primary that opened or made it, for as long as it
 * holds it, beside INSTANCE.lock, which an operator can remove from under
 * a running primary. 0 or -errno (EWOULDBLOCK: another primary's). */
int journal_lock(int fd);
/* The file a start found under the journal's name, no longer named so (a
 * new journal renamed over it): its lock goes (journal.name_fd). */
void journal_release_name(struct server *s);
/* Remove `name` from the state directory, what a crash left of a new
 * journal file (a symlink is removed, never followed; on a read-only
 * state it stays): 0, or -errno with journal.refusal naming it. */
int journal_remove_leftover(struct server *s, const char *name);
void journal_close(struct server *s);
/* Append a persistent rule (its packed form, shm/pack.h, and its maker's
 * uid when not the instance's), its end, a meter (its CREATE request), its
 * end, noting it for commit.c. 0 or -errno (nothing was appended). */
int journal_rule(struct server *s, uint64_t handle, uint32_t maker, const void *packed,
		 uint32_t length);
int journal_rule_gone(struct server *s, uint64_t handle);
int journal_meter(struct server *s, uint16_t port, uint32_t id, const void *request,
		  uint32_t length);
int journal_meter_gone(struct server *s, uint16_t port, uint32_t id);
bool journal_meter_dying(struct server *s, uint16_t port, uint32_t id);
/* Whether a rule's meter actions name a meter whose METER record is not
 * yet durable: its create is undone if that record's sync fails. */
bool journal_rule_meters_pending(const struct server *s, const struct wire_rule *rule);
/* commit.c's verdicts on meter records and on rules kept without a slot. */
void journal_meter_undone(struct server *s, uint64_t key);
void journal_meter_gone_durable(struct server *s, uint64_t key);
void journal_meter_gone_undone(struct server *s, uint64_t key);
void journal_orphan_gone_durable(struct server *s, uint64_t handle);
void journal_orphan_gone_undone(struct server *s, uint64_t handle);
/* How many rules are kept without a slot (journal.orphans less those gone). */
static inline unsigned journal_orphans_live(const struct journal *j)
{
	return j->n_orphans - j->orphans_gone;
}
/* Destroy the rules kept without a slot on `port` that `maker` may act on,
 * counting them. */
int journal_orphans_destroy(struct server *s, uint16_t port, uint32_t maker, uint32_t *count);
/* After a successful sync: compact, beside the loop, when dead records
 * dominate. */
void journal_maybe_compact(struct server *s);
/* The records a compacted journal keeps: persistent rules, meters, and the
 * records of rules this start could not restore. */
uint64_t journal_live_records(const struct server *s);
/* A new epoch for handles, durable before it is used. 0 or -errno. */
int journal_advance_epoch(struct server *s);
/* fdatasync(2), through the fault hook. 0 or -errno. */
int journal_fdatasync(int fd);
/* Write what was appended since the last write, at the end of the file.
 * 0, or -errno with the file cut back to where it was (the records are
 * still in `unwritten`: journal_unwritten_drop() forgets them). */
int journal_write(struct server *s);
void journal_unwritten_drop(struct server *s);

/* Persistent requests refused with `err` from now on (0: served again),
 * as monitors see it. */
void journal_set_broken(struct server *s, int err);
/* The pid in a state lock: ten digits and a newline, always the same size,
 * so that writing it again never allocates or frees a block. */
#define STATE_LOCK_PID_FMT "%10d\n"
#define STATE_LOCK_PID_LEN 11
/* dirs.c: our pid into the state lock (INSTANCE.lock, main.c), where it
 * was not yet (a start on a read-only state writes it once the state is
 * writable again). */
void state_lock_mark(struct server *s);

/* rebuild.c: the journal rewritten from the rule table. */
/* The whole of it, now (a start). 0 or -errno. */
int rebuild_now(struct server *s);
/* In steps of the loop (a sync failed; the timer's retry); a failure is
 * logged, the journal stays broken. */
void rebuild_start(struct server *s);
/* Timer: a broken journal with no rebuild under way starts one, a second
 * after the last one failed. */
void rebuild_retry(struct server *s, uint64_t now_ns);
/* A step of the rebuild under way: rules written for about a millisecond,
 * or the chain that syncs and names the file submitted. Returns whether
 * there was work. */
unsigned rebuild_step(struct server *s);
/* A step of the chain tagged `tag` (1 sync, 2 rename, 3 directory sync)
 * completed. */
void rebuild_synced(struct server *s, uint32_t tag, unsigned step, int res);
/* Start: no rebuild; a stale file of one is removed. 0 or -errno. */
int rebuild_init(struct server *s);
/* Shutdown, while the table still holds every rule: a broken journal is
 * rewritten now, once (the file it has may hold what a failed sync undid
 * where it could not be cut). */
void rebuild_before_stop(struct server *s);
/* The end: a rebuild under way is dropped. */
void rebuild_abandon(struct server *s);

/* compact.c: the journal compacted beside the loop. */
int compact_init(struct server *s);
void compact_start(struct server *s);
/* Whether the state file system has less than twice what a compaction
 * needs free: then one is worth it as soon as a little of the file is dead
 * (journal_maybe_compact()), before the dead records take that room. */
bool compact_room_short(const struct server *s);
/* The thread is done (its bell rang): put its file in the journal's place
 * (compact_switch) or say why not. */
void compact_done(struct server *s);
/* Make a finished compaction's file the journal's, unless a sync of the
 * old one is in flight (then its completion calls again). */
void compact_switch(struct server *s);
/* The journal is rewritten from the table: whatever a compaction made is
 * dropped. */
void compact_abandon(struct server *s);
/* Sync the compacted file and name it, now (shutdown, a new epoch). */
int compact_name_now(struct server *s);
/* A failed sync before the compacted file's rename was known to be done:
 * cut the old file back to its last good sync (what a start finds if the
 * rename did not happen; unlinked, and cut for nothing, if it did).
 * False when it cannot be cut. */
bool compact_cut_old(struct server *s);
/* A step of a sync's rename chain completed: 1 the file's sync, 2 the
 * rename, 3 the directory's sync. True once the chain is complete, with
 * *res its result (0, or the first step's failure). */
bool compact_chain_step(struct server *s, uint32_t file, unsigned step, int *res);
void compact_fini(struct server *s);

/* commit.c */
/* Remember what the record ending at `lsn` finishes or undoes. */
int commit_note(struct server *s, enum pending_kind kind, uint64_t key, uint64_t lsn);
/* The rule just created (`handle`, no record of its own) depends on what
 * the journal holds so far: its completion waits for the sync that covers
 * it, and a failed sync undoes it with the rest. 0 or -ENOMEM. */
int commit_depend(struct server *s, uint64_t handle);
/* What a queued completion waits for, and what a failed wait cannot take
 * back. */
struct commit_wait {
	uint64_t lsn;	/* published once the journal is durable to here (0: at once) */
	uint64_t first; /* a job's: the end of its first step's records (a sync that
			   fails past it leaves what an earlier one covered done, and
			   the completion says so); else 0 */
	uint32_t stays; /* a DESTROY's rules that were not persistent: no record, so
			   no failure puts them back */
};
/* Queue a completion of `c`, published once `wait` allows and after every
 * one queued before it. */
void commit_complete(struct client *c, const struct wire_completion *completion,
		     struct commit_wait wait);
/* Publish what may be: false if the ring filled up first. */
bool commit_publish(struct server *s, struct client *c);
/* True if the outbox's next completion may go but the ring has no room
 * for its `*need` bytes. */
bool commit_outbox_blocked(const struct server *s, const struct client *c, uint32_t *need);
void commit_forget(struct client *c);
/* The end of a loop round: sync what was appended, unless a sync runs. */
void commit_start_sync(struct server *s);
/* Write the journal's appends of this round; a write that fails (ENOSPC)
 * undoes and fails what they recorded, nothing older. 0 or -errno. */
int commit_write(struct server *s);
/* The sync of journal file `file` completed with `res`; `step` 0, or the
 * step of a rename chain (compact_chain_step). */
void commit_synced(struct server *s, uint32_t file, unsigned step, int res);
/* Everything up to `lsn` is durable; finish what it covers, publish. */
void commit_durable(struct server *s, uint64_t lsn);
/* Sync now, synchronously (an epoch; shutdown). 0 or -errno. */
int commit_sync_now(struct server *s);
void commit_fini(struct server *s);

/* The fault hook of the test build (tests/faults/): a sync's result as the
 * test wants it; whether syncs are to fail now (a chain is then submitted
 * so that its first step fails, as a failed sync makes it). */
#ifdef MPFLOW_FAULTS
int fault_sync(int fd, int result);
/* The errno an io_uring sync of `fd` being submitted is to fail with, or
 * 0: a chain's, whatever the test's word says now; any sync's where the
 * word is :ONCE (Linux reports a writeback error to the one sync that
 * runs first: the pages are lost now). */
int fault_sync_submitted(int fd, bool chain);
/* The verdict on an io_uring sync that completed with `result` and was
 * decided at its submission to fail with `fault` (an errno; 0: as the
 * test's word says now, or for a chain whatever the real sync said). */
int fault_chain_step(int fd, int result, int fault);
/* Rules a step of a rebuild writes at most ($MPFLOW_STEP_RULES; 0: as
 * many as its time allows). */
unsigned fault_step_rules(void);
/* How long a start waits for another process to let go of the journal's
 * lock ($MPFLOW_LOCK_WAIT_MS; else `ms`). */
unsigned fault_lock_wait_ms(unsigned ms);
/* The cgroup files the primary reads: a tree the test writes
 * ($MPFLOW_MEMCG_SELF, $MPFLOW_MEMCG_ROOT), else the system's. */
void fault_memcg_paths(const char **self, const char **root);
/* The test build stops here when the test asks (STOP:where). */
void fault_point(const char *where);
/* The test build holds `what` back while the test asks (HOLD:what). */
bool fault_held(const char *what);
/* The test build refuses hard links while the test asks (NOLINKS), as a
 * file system without them does. */
bool fault_no_links(void);
/* The test build refuses to cut the journal's file while the test asks
 * (NOCUT), as a file system gone read-only does. */
bool fault_no_cut(void);
#else
static inline int fault_sync(int fd, int result)
{
	(void)fd;
	return result;
}
static inline int fault_sync_submitted(int fd, bool chain)
{
	(void)fd;
	(void)chain;
	return 0;
}
static inline unsigned fault_step_rules(void)
{
	return 0;
}
static inline unsigned fault_lock_wait_ms(unsigned ms)
{
	return ms;
}
static inline int fault_chain_step(int fd, int result, int fault)
{
	(void)fd;
	(void)fault;
	return result;
}
static inline void fault_point(const char *where)
{
	(void)where;
}
static inline bool fault_held(const char *what)
{
	(void)what;
	return false;
}
static inline bool fault_no_links(void)
{
	return false;
}
static inline bool fault_no_cut(void)
{
	return false;
}
static inline void fault_memcg_paths(const char **self, const char **root)
{
	*self = MEMCG_SELF;
	*root = MEMCG_ROOT;
}
#endif

/* audit.c */
/* Check every invariant of the rule table, the clients' lists, the free
 * queue and the region. 0 with *checked = rules, or -EUCLEAN naming the
 * first broken one (also logged). */
int audit_run(const struct server *s, uint64_t *checked, struct mpf_flow_error *error);

/* dispatch.c */
/* Serve one client for at most `slice_ns` from its first request, or until
 * it has nothing to do. Returns the work done, or -1 when the client broke
 * its ring and was removed. */
int dispatch_client(struct server *s, struct client *c, uint64_t slice_ns);
/* The client's job over (or dropped: the client left), what it held freed. */
void job_end(struct client *c);

/* loop.c */
int loop_init(struct server *s);
/* Block the signals the loop reads (SIGTERM, SIGINT, SIGHUP) from the
 * start: one that comes before the loop waits for it, rather than killing
 * a primary that has made its files. 0 or -errno. */
int loop_block_signals(void);
/* (Re)arm the timer at config.counter_interval_ms. 0 or -errno. */
int loop_set_timer(struct server *s);
/* Tell clients the primary is alive and working (the timer; and work that
 * runs long inside one round, so that a call waiting on it is not given up
 * on: libclient waits while the heartbeat moves). */
void loop_heartbeat(struct server *s, uint64_t now_ns);
int loop_run(struct server *s);
void loop_fini(struct server *s);
void loop_watch_client(struct server *s, struct client *c);
void loop_unwatch_client(struct server *s, struct client *c);
void loop_watch_handshake(struct server *s, struct handshake *h);
void loop_unwatch_handshake(struct server *s, struct handshake *h);
/* The journal's sync: one fdatasync of `fd`, tagged with its journal
 * `file`; with `naming`, step 1 of a chain: once it succeeded, the owner
 * submits loop_submit_journal_naming(), the rename of that file (`rename`,
 * its name in the state directory) over the journal's (step 2), linked to
 * a sync of the directory (step 3). The rename never goes with the sync:
 * a failed sync does not cancel a linked rename on every kernel. */
void loop_submit_fsync(struct server *s, int fd, uint32_t file, bool naming);
void loop_submit_journal_naming(struct server *s, uint32_t file, const char *rename);
/* The same chain for a rebuilt file (rebuild_synced); `*fault` is the test
 * build's errno for its sync. */
void loop_submit_rebuild(struct server *s, int fd, uint32_t tag, int *fault);
void loop_submit_rebuild_naming(struct server *s, uint32_t tag, const char *rename);
/* Wait for the journal's syncs and renames in flight, and handle their
 * completions (only theirs: the others stay for the loop). Before a
 * synchronous sync of the journal, which must not take the word of a sync
 * in flight: Linux reports a writeback error to one sync of an open file. */
void loop_settle_journal(struct server *s);
/* Close `fd` in io_uring's worker, not in the loop: the last reference to
 * a journal file renamed over or unlinked frees its blocks, about a
 * millisecond per MiB on ext4. Before the loop's ring exists, close(2).
 * Until the worker is through, s->closing counts it. */
void loop_close(struct server *s, int fd);

#endif
