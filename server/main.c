/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpflowd: the primary. Its configuration (config.c), the instance's
 * runtime files (pidfile, socket), the device, the region, then the loop.
 * See docs/man/mpflowd.8.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bsd/libutil.h>

#include "shm/clock.h"
#include "server/server.h"

/* mkdir -p of `path`'s parents, mode 0700 (the XDG base directory
 * specification's); the directory itself is dirs.c's to make and check. */
static void make_parents(const char *path)
{
	char copy[PATH_MAX];

	snprintf(copy, sizeof(copy), "%s", path);
	for (char *slash = strchr(copy + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST)
			return;
		*slash = '/';
	}
}

/* A runtime directory that was there before keeps its mode and group: with
 * --allow-group, say so when the group cannot pass through it to the
 * socket (systemd's RuntimeDirectoryMode=0700, say). */
static void warn_unreachable(const struct server *s)
{
	struct stat st;

	if (!s->config.allow_group || fstat(s->runtime_fd, &st) != 0 || (st.st_mode & 0001) ||
	    (st.st_gid == s->config.allow_gid && (st.st_mode & 0010)))
		return;
	log_warnx("runtime directory %s: mode %04o, group %u: --allow-group %u cannot reach the "
		  "socket through it (chgrp %u and chmod g+x it, or let the primary make it)",
		  s->config.runtime_dir, (unsigned)(st.st_mode & 07777), (unsigned)st.st_gid,
		  (unsigned)s->config.allow_gid, (unsigned)s->config.allow_gid);
}

/* The runtime and state directories, checked on their descriptors
 * (dirs.c); the state directory is opened again even when it is the same
 * one, so each has its own descriptor for its own files. */
static int open_dirs(struct server *s)
{
	const struct server_config *cfg = &s->config;
	mode_t mode = cfg->allow_group ? 0750 : 0700;
	gid_t group = cfg->allow_group ? cfg->allow_gid : (gid_t)-1;
	char reason[PATH_MAX + 160];

	if (dir_open(cfg->runtime_dir, mode, group, &s->runtime_fd, reason, sizeof(reason)) != 0) {
		fprintf(stderr, SERVER_NAME ": runtime directory %s\n", reason);
		return -1;
	}
	warn_unreachable(s);
	if (cfg->state_dir_default && geteuid() != 0)
		make_parents(cfg->state_dir); /* ~/.local/state may not exist yet */
	if (dir_open(cfg->state_dir, 0700, (gid_t)-1, &s->state_fd, reason, sizeof(reason)) != 0) {
		fprintf(stderr, SERVER_NAME ": state directory %s\n", reason);
		return -1;
	}
	/* The captures' directory is held to the same checks: the primary,
	 * often root, makes files in it. */
	if (cfg->device.dump_dir &&
	    dir_open(cfg->dump_dir, 0700, (gid_t)-1, &s->dump_fd, reason, sizeof(reason)) != 0) {
		fprintf(stderr, SERVER_NAME ": --dump-queues directory %s\n", reason);
		return -1;
	}
	s->config.device.dump_dirfd = s->dump_fd;
	return 0;
}

/* One primary per instance: libbsd's pidfile, reached through the checked
 * runtime directory. NULL (and a message) if another primary holds it. */
static struct pidfh *open_pidfile(struct server *s)
{
	char name[48], path[96], reason[PATH_MAX + 160];
	struct pidfh *pidfile;
	pid_t holder;

	snprintf(name, sizeof(name), INSTANCE_FMT ".pid", s->config.instance);
	if (dir_check_entry(s->runtime_fd, s->config.runtime_dir, name, reason, sizeof(reason)) ||
	    dir_proc_path(s->runtime_fd, name, path, sizeof(path))) {
		fprintf(stderr, SERVER_NAME ": pidfile %s\n", reason);
		return NULL;
	}
	pidfile = pidfile_open(path, 0600, &holder);
	if (pidfile == NULL) {
		if (errno == EEXIST)
			fprintf(stderr,
				SERVER_NAME ": instance '%s' is already served by pid %d (%s/%s)\n",
				s->config.instance, (int)holder, s->config.runtime_dir, name);
		else
			fprintf(stderr, SERVER_NAME ": pidfile %s/%s: %s\n", s->config.runtime_dir,
				name, strerror(errno));
	}
	return pidfile;
}

/*
 * One primary per state: INSTANCE.lock in the state directory, locked
 * (flock) for the primary's life. The pidfile guards the runtime directory
 * only; a second primary started with another --runtime-dir on the same
 * state would append to the same journal, each at its own idea of its end,
 * and the next start would find the file damaged (an operator's finding:
 * 0 of 100 acknowledged creates came back). Not libbsd's pidfile: that one
 * is truncated at each start and removed at each stop, and on a full
 * state disk the block it frees and takes again would decide whether a
 * journal's rewrite finds room. This file keeps its one block for good;
 * the lock goes with the process, so a file left behind is never stale.
 * The fd, or -1 (and a message) if another primary holds it.
 */
static int take_state_lock(struct server *s)
{
	char name[48], reason[PATH_MAX + 160], text[STATE_LOCK_PID_LEN + 1] = "";
	bool read_only = false;
	int fd;

	snprintf(name, sizeof(name), INSTANCE_FMT ".lock", s->config.instance);
	fd = dir_open_file(s->state_fd, s->config.state_dir, name, O_RDWR | O_CREAT, reason,
			   sizeof(reason));
	if (fd == -EROFS) {
		/* A read-only state (the journal then restores, and refuses
		 * persistent requests): flock needs no write, the file must
		 * be there already (any journal's start made it). */
		read_only = true;
		fd = dir_open_file(s->state_fd, s->config.state_dir, name, O_RDONLY, reason,
				   sizeof(reason));
	}
	if (fd < 0) {
		fprintf(stderr, SERVER_NAME ": state lock %s%s\n", reason,
			read_only ? " (the state file system is read-only)" : "");
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		s->state_lock_fd = fd;
		s->state_lock_read_only = read_only;
		s->state_lock_stale = true;
		state_lock_mark(s);
		return fd;
	}
	if (errno == EWOULDBLOCK) {
		long holder = 0;

		if (pread(fd, text, STATE_LOCK_PID_LEN, 0) > 0)
			holder = strtol(text, NULL, 10);
		if (holder > 0)
			fprintf(stderr,
				SERVER_NAME
				": instance '%s' is already served by pid %ld (its state: "
				"%s/%s)\n",
				s->config.instance, holder, s->config.state_dir, name);
		else
			fprintf(stderr,
				SERVER_NAME ": instance '%s' is already served (its state: %s/%s "
					    "is locked)\n",
				s->config.instance, s->config.state_dir, name);
	} else {
		fprintf(stderr, SERVER_NAME ": state lock %s/%s: %s\n", s->config.state_dir, name,
			strerror(errno));
	}
	close(fd);
	return -1;
}

/* Both of the instance's holds, or neither. 0 or -1. */
static int hold_instance(struct server *s)
{
	s->pidfile = open_pidfile(s);
	if (s->pidfile == NULL)
		return -1;
	s->state_lock_fd = take_state_lock(s);
	if (s->state_lock_fd < 0) {
		pidfile_remove(s->pidfile);
		return -1;
	}
	return 0;
}

static void release_instance(struct server *s)
{
	close(s->state_lock_fd);
	pidfile_remove(s->pidfile);
}

/*
 * The soft limit on open files up to the hard one. Besides the fds it
 * holds (a socket and bells per client, a memfd per queue), the kernel
 * counts against it the fds its welcomes carry that a peer has not read
 * yet (SCM_RIGHTS in flight), and refuses a welcome past it
 * (ETOOMANYREFS) for every client, root's too, unless the primary holds
 * CAP_SYS_RESOURCE, which the service's unit drops. systemd's soft
 * default is 1024; its hard one, 524288.
 */
static void raise_fd_limit(void)
{
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
			log_warn("setrlimit(RLIMIT_NOFILE)");
	}
}

/* What a start short of memory says: how much of what, and where the
 * limit may be (the code before said "cannot allocate" without a figure). */
static void start_refused_for_memory(const struct server *s, int err)
{
	char shared[9], own[9]; /* "10 GiB": autoscaled to fit */

	if (humanize_number(shared, sizeof(shared), (int64_t)region_bytes(s), "B", HN_AUTOSCALE,
			    HN_DECIMAL | HN_IEC_PREFIXES) < 0)
		snprintf(shared, sizeof(shared), "?");
	if (humanize_number(own, sizeof(own), (int64_t)rules_bytes(s->config.max_rules), "B",
			    HN_AUTOSCALE, HN_DECIMAL | HN_IEC_PREFIXES) < 0)
		snprintf(own, sizeof(own), "?");
	fprintf(stderr,
		SERVER_NAME ": cannot reserve memory for --max-rules %u and --max-clients %u (%s "
			    "of shared memory, %s of rule table): %s; a limit on virtual memory "
			    "(ulimit -v) may be below it, or a smaller --max-rules fits\n",
		s->config.max_rules, s->config.max_clients, shared, own, strerror(-err));
}

int main(int argc, char **argv)
{
	static struct server server;
	struct server *s = &server;
	struct mpf_flow_error error = {0};
	struct timespec started;
	int rc, err;

	rc = config_load(&s->config, argc, argv);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (loop_block_signals() != 0)
		return 1;
	log_init(true, s->config.log_level, NULL);
	raise_fd_limit();
	s->listen_fd = -1;

	s->runtime_fd = s->state_fd = s->dump_fd = -1;
	if (open_dirs(s) != 0)
		return 1;
	snprintf(s->socket_name, sizeof(s->socket_name), INSTANCE_FMT ".sock", s->config.instance);
	if ((size_t)snprintf(s->socket_path, sizeof(s->socket_path), "%s/%s", s->config.runtime_dir,
			     s->socket_name) >= sizeof(s->socket_path)) {
		fprintf(stderr, SERVER_NAME ": runtime directory %s: path too long\n",
			s->config.runtime_dir);
		return 1;
	}
	if (hold_instance(s) != 0)
		return 1;

	s->clients = calloc(s->config.max_clients, sizeof(*s->clients));
	s->scratch = calloc(1, sizeof(*s->scratch));
	err = s->clients && s->scratch ? rules_init(&s->rules, s->config.max_rules) : -ENOMEM;
	if (err == 0)
		err = region_create(s);
	if (err) {
		start_refused_for_memory(s, err);
		release_instance(s);
		return 1;
	}
	if (hwdrv_open(&s->device, s->config.backend, &s->config.device, &error) != 0) {
		fprintf(stderr, SERVER_NAME ": backend %s: %s\n", s->config.backend, error.message);
		release_instance(s);
		return 1;
	}
	if (s->device.ops.counts_ports)
		s->region->port_flags = REGION_PORTS_KEPT; /* before any client maps it */
	if (s->device.polled_counters) /* their age counts from now until the first poll */
		shm_store_relaxed64(&s->region->counters_read_ns, clock_ns(CLOCK_MONOTONIC));
	{
		const char *self, *root;

		fault_memcg_paths(&self, &root);
		memcg_guard_init(&s->memcg, self, root);
		/* A create that takes a new page of each of the region's
		 * arrays (counters, entries, heap, activity stamps, a share
		 * row per worker past the first) and of the rule table's
		 * slots, each 2 MiB where they are huge pages. */
		if (s->region_huge)
			s->memcg.at_once = (5ull + s->shares.n) * BIGMEM_HUGE_BYTES;
	}
	err = journal_open(s);
	/* The replay's helper (ahead.c) is a thread: daemon()'s child would
	 * have none. The loop's first window asked for starts another. */
	ahead_fini(s);
	if (err != 0) {
		/* The precise reason where the file itself was refused (its
		 * owner, its type), not strerror's word for it. */
		if (s->journal.refusal[0])
			fprintf(stderr, SERVER_NAME ": journal %s\n", s->journal.refusal);
		else
			fprintf(stderr, SERVER_NAME ": journal %s: %s\n", s->journal.path,
				strerror(-err));
		release_instance(s);
		return 1;
	}
	if ((err = listener_open(s)) != 0) {
		fprintf(stderr, SERVER_NAME ": socket %s: %s\n", s->socket_path, strerror(-err));
		release_instance(s);
		return 1;
	}
	if (!s->config.foreground && daemon(0, 0) != 0) {
		fprintf(stderr, SERVER_NAME ": daemon: %s\n", strerror(errno));
		listener_close(s);
		release_instance(s);
		return 1;
	}
	log_init(s->config.foreground, s->config.log_level, s->config.instance);
	/* Its pid in the pidfile, or no start: libbsd removes a pidfile it
	 * could not write, and the lock with it, which left a second primary
	 * free to start on the instance (a full runtime directory). */
	if (pidfile_write(s->pidfile) != 0) {
		log_warn("pidfile %s/%s.pid: the instance cannot be held", s->config.runtime_dir,
			 s->config.instance);
		listener_close(s);
		close(s->state_lock_fd);
		return 1;
	}
	s->state_lock_stale = true; /* daemon() forked: another pid */
	state_lock_mark(s);
	s->region->primary_pid = (uint32_t)getpid(); /* daemon() forked */
	clock_gettime(CLOCK_REALTIME, &started);
	s->region->start_time_ns =
		(uint64_t)started.tv_sec * 1000000000ull + (uint64_t)started.tv_nsec;
	if ((err = loop_init(s)) != 0)
		fatalx("event loop: %s", strerror(-err));
	log_info("instance %s ready: backend %s, %u rules, %u clients, socket %s, region on %s",
		 s->config.instance, s->config.backend, s->config.max_rules, s->config.max_clients,
		 s->socket_path, region_pages(s));
	notify_systemd("READY=1");

	loop_run(s);
	notify_systemd("STOPPING=1");

	/* Persistent rules stay in the journal for the next start. */
	s->journal.frozen = true;
	rules_destroy_all(s);
	journal_close(s);
	hwdrv_close(&s->device);
	loop_fini(s);
	ahead_fini(s);
	region_destroy(s);
	rules_fini(&s->rules);
	commit_fini(s);
	free(s->clients);
	free(s->user_shares);
	free(s->scratch);
	release_instance(s);
	close(s->state_fd);
	close(s->runtime_fd);
	if (s->dump_fd >= 0)
		close(s->dump_fd);
	log_info("instance %s stopped", s->config.instance);
	return 0;
}
