/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The instance's SOCK_SEQPACKET socket and the handshake: version check,
 * SO_PEERCRED against the access policy, the client's session set up, its
 * fds passed by SCM_RIGHTS. Every refusal carries an errno and a reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "shm/clock.h"
#include "server/server.h"
#include "shm/fdpass.h"
#include "shm/handshake.h"

#define HELLO_WAIT_MS 1000 /* a connection silent this long is refused */
/* Connections taken a loop round: a flood of them waits its turn behind
 * the clients, as a client's requests do (the loop comes back at once).
 * At most ACCEPT_BURST, and no more once ACCEPT_SLICE_NS have gone: a
 * connection that says its hello at once is welcomed here, and a session's
 * set-up (its memfd's rings written in, its bells) costs far more than a
 * bare connection, so a flood of sessions opened and closed is bounded by
 * the loop's time, not by a count. */
#define ACCEPT_BURST	16
#define ACCEPT_SLICE_NS 200000u /* a client's slice of a round (loop.c) */

int listener_open(struct server *s)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	mode_t mask = s->config.allow_group ? 0117 : 0177, old_mask;
	char reason[PATH_MAX + 160];
	int fd, err;

	/* No connection waits yet (listener_close() may come before the
	 * loop starts, when a start fails). */
	for (unsigned i = 0; i < HANDSHAKES_MAX; i++)
		s->handshakes[i].sock = -1;
	for (unsigned i = 0; i < UNREAD_MAX; i++)
		s->unread[i].sock = -1;

	/* bind(2) takes a path: the one through the checked directory. */
	if (dir_proc_path(s->runtime_fd, s->socket_name, addr.sun_path, sizeof(addr.sun_path)))
		return -ENAMETOOLONG;
	/* We hold the instance's pidfile: a socket left here is a dead
	 * primary's, safe to replace; anything else is refused. */
	err = dir_check_entry(s->runtime_fd, s->config.runtime_dir, s->socket_name, reason,
			      sizeof(reason));
	if (err) {
		log_warnx("socket %s", reason);
		return err;
	}
	if (unlinkat(s->runtime_fd, s->socket_name, 0) != 0 && errno != ENOENT)
		return -errno;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Made with its mode: no moment at which others may connect. */
	old_mask = umask(mask);
	err = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ? -errno : 0;
	umask(old_mask);
	if (!err && s->config.allow_group &&
	    fchownat(s->runtime_fd, s->socket_name, (uid_t)-1, s->config.allow_gid,
		     AT_SYMLINK_NOFOLLOW) != 0)
		err = -errno;
	if (!err && listen(fd, 128) != 0)
		err = -errno;
	if (err) {
		close(fd);
		unlinkat(s->runtime_fd, s->socket_name, 0);
		return err;
	}
	s->listen_fd = fd;
	return 0;
}

void listener_close(struct server *s)
{
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlinkat(s->runtime_fd, s->socket_name, 0);
		s->listen_fd = -1;
	}
	for (unsigned i = 0; i < HANDSHAKES_MAX; i++) {
		struct handshake *h = &s->handshakes[i];

		if (h->sock >= 0) {
			loop_unwatch_handshake(s, h);
			close(h->sock);
			h->sock = -1;
		}
	}
	for (unsigned i = 0; i < UNREAD_MAX; i++)
		if (s->unread[i].sock >= 0) {
			close(s->unread[i].sock);
			s->unread[i].sock = -1;
		}
}

static bool uid_in_group(uid_t uid, gid_t gid)
{
	struct passwd *pw = getpwuid(uid);
	struct group *gr = getgrgid(gid);

	if (pw == NULL || gr == NULL)
		return false;
	if (pw->pw_gid == gid)
		return true;
	for (char **m = gr->gr_mem; *m; m++)
		if (strcmp(*m, pw->pw_name) == 0)
			return true;
	return false;
}

/* The policy: the primary's own uid, root, or (with --allow-group) a member
 * of that group. */
static bool allowed(const struct server *s, const struct ucred *cred)
{
	if (cred->uid == geteuid() || cred->uid == 0)
		return true;
	return s->config.allow_group &&
	       (cred->gid == s->config.allow_gid || uid_in_group(cred->uid, s->config.allow_gid));
}

/* False if the welcome could not be sent (its peer gone, or the kernel
 * refusing more fds in flight: ETOOMANYREFS). */
static bool reply(int sock, const struct handshake_welcome *welcome, const int *fds, int nfds)
{
	if (fdpass_send(sock, welcome, sizeof(*welcome), fds, (unsigned)nfds) == 0)
		return true;
	log_warn("handshake reply");
	return false;
}

static void refuse(int sock, int error, const struct ucred *cred, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void refuse(int sock, int error, const struct ucred *cred, const char *fmt, ...)
{
	struct handshake_welcome welcome = {
		.magic = HANDSHAKE_MAGIC,
		.version = HANDSHAKE_VERSION,
		.status = error,
	};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(welcome.reason, sizeof(welcome.reason), fmt, ap);
	va_end(ap);
	log_info("refused pid %d uid %u: %s", (int)cred->pid, (unsigned)cred->uid, welcome.reason);
	reply(sock, &welcome, NULL, 0);
	/* Nothing more comes in, and what came is read: a socket closed with
	 * messages unread resets its peer, whose next read then says
	 * ECONNRESET and never the reason above (a hello that came just after
	 * an early refusal, or bytes after the hello). */
	shutdown(sock, SHUT_RD);
	while (recv(sock, &welcome, sizeof(welcome), MSG_DONTWAIT | MSG_TRUNC) > 0)
		;
	close(sock);
}

static void welcome(struct server *s, int sock, const struct ucred *cred, const void *hello,
		    ssize_t length);

/* A slot to wait in for the hello of a connection of `uid`. One uid holds
 * at most HANDSHAKES_PER_UID; when every slot is taken, the oldest one of
 * the uid holding the most gives way (it is refused), unless that is `uid`
 * itself at its share: so no user can keep others out by connecting and
 * saying nothing. NULL: this connection is refused instead. */
static struct handshake *handshake_slot(struct server *s, uid_t uid)
{
	struct handshake *free = NULL, *mine = NULL, *victim = NULL;
	unsigned held = 0, most = 0;
	uid_t most_uid = 0;

	for (unsigned i = 0; i < HANDSHAKES_MAX; i++) {
		struct handshake *h = &s->handshakes[i];
		unsigned same = 0;

		if (h->sock < 0) {
			free = free ? free : h;
			continue;
		}
		if (h->cred.uid == uid) {
			held++;
			if (mine == NULL || h->deadline_ns < mine->deadline_ns)
				mine = h;
		}
		for (unsigned k = 0; k < HANDSHAKES_MAX; k++)
			same += s->handshakes[k].sock >= 0 &&
				s->handshakes[k].cred.uid == h->cred.uid;
		if (same > most) {
			most = same;
			most_uid = h->cred.uid;
		}
	}
	if (held >= HANDSHAKES_PER_UID)
		victim = mine; /* its own oldest gives way to it */
	else if (free)
		return free;
	else if (most > held)
		for (unsigned i = 0; i < HANDSHAKES_MAX; i++) {
			struct handshake *h = &s->handshakes[i];

			if (h->sock >= 0 && h->cred.uid == most_uid &&
			    (victim == NULL || h->deadline_ns < victim->deadline_ns))
				victim = h;
		}
	if (victim == NULL)
		return NULL;
	loop_unwatch_handshake(s, victim);
	refuse(victim->sock, -EAGAIN, &victim->cred,
	       "no hello yet, and uid %u holds %u of %u waiting connections",
	       (unsigned)victim->cred.uid, victim->cred.uid == uid ? held : most, HANDSHAKES_MAX);
	victim->sock = -1;
	return victim;
}

/* Take every waiting connection (a multishot poll fires once per wakeup,
 * not once per connection). Its credentials are checked at once, before it
 * may hold anything; a hello already there is answered at once; otherwise
 * the connection waits for its hello in a slot of its uid's share, and the
 * loop never waits on one client's socket. */
bool listener_accept(struct server *s)
{
	uint64_t until = clock_ns(CLOCK_MONOTONIC) + ACCEPT_SLICE_NS;

	for (unsigned taken = 0;; taken++) {
		struct handshake_hello hello[2]; /* room to see a longer message */
		socklen_t len = sizeof(struct ucred);
		struct handshake *h;
		struct ucred cred;
		ssize_t n;
		int sock;

		if (taken == ACCEPT_BURST || (taken > 0 && clock_ns(CLOCK_MONOTONIC) >= until))
			return true;
		sock = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (sock < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_warn("accept");
			return false;
		}
		if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
			log_warn("SO_PEERCRED");
			close(sock);
			continue;
		}
		/* MSG_TRUNC: the length of the whole message, however long. */
		n = recv(sock, hello, sizeof(hello), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0)
			n = -errno;
		if (n != -EAGAIN || !allowed(s, &cred)) {
			welcome(s, sock, &cred, hello, n);
			continue;
		}
		h = handshake_slot(s, cred.uid);
		if (h == NULL) {
			refuse(sock, -EAGAIN, &cred,
			       "uid %u has %u connections waiting to say hello", (unsigned)cred.uid,
			       HANDSHAKES_PER_UID);
			continue;
		}
		h->sock = sock;
		h->cred = cred;
		h->generation++;
		h->deadline_ns = clock_ns(CLOCK_MONOTONIC) + (uint64_t)HELLO_WAIT_MS * 1000000u;
		loop_watch_handshake(s, h);
	}
}

/* Close the monitor connections whose welcome was read (or whose peer
 * went). Returns how many unread ones `uid` holds, and a free slot in
 * *free_slot (NULL: none). */
static unsigned unread_sweep(struct server *s, uid_t uid, struct unread_welcome **free_slot)
{
	unsigned held = 0;

	*free_slot = NULL;
	for (unsigned i = 0; i < UNREAD_MAX; i++) {
		struct unread_welcome *u = &s->unread[i];

		if (u->sock >= 0 && fdpass_unread(u->sock) == 0) {
			close(u->sock);
			u->sock = -1;
		}
		if (u->sock < 0)
			*free_slot = *free_slot ? *free_slot : u;
		else
			held += u->uid == uid;
	}
	return held;
}

/* Timer: refuse handshakes whose hello did not come in time; let go of
 * monitors and ended sessions that read their welcome. */
void listener_expire(struct server *s, uint64_t now_ns)
{
	struct unread_welcome *slot;

	unread_sweep(s, (uid_t)-1, &slot);
	clients_release_read(s);
	for (unsigned i = 0; i < HANDSHAKES_MAX; i++) {
		struct handshake *h = &s->handshakes[i];

		if (h->sock >= 0 && now_ns > h->deadline_ns) {
			loop_unwatch_handshake(s, h);
			refuse(h->sock, -ETIMEDOUT, &h->cred, "no hello within %d ms",
			       HELLO_WAIT_MS);
			h->sock = -1;
		}
	}
}

/*
 * A monitor gets the region's fd, sealed read-only, and nothing else: no
 * session is made. The fd in a welcome its peer has not read counts
 * against our RLIMIT_NOFILE, and past it the kernel refuses every welcome
 * (ETOOMANYREFS): so a connection whose welcome is unread is kept, and
 * counted, until it is read or its peer goes; a user other than ours and
 * root holding UNREAD_PER_UID of them is refused the next (EAGAIN, a
 * welcome with no fd).
 */
static void welcome_monitor(struct server *s, int sock, const struct ucred *cred)
{
	struct handshake_welcome welcome = {
		.magic = HANDSHAKE_MAGIC,
		.version = HANDSHAKE_VERSION,
		.region_size = s->region_length,
		.max_rules = s->config.max_rules,
	};
	struct unread_welcome *slot;
	unsigned held = unread_sweep(s, cred->uid, &slot);

	if (!rules_uid_is_instance(cred->uid) && (held >= UNREAD_PER_UID || slot == NULL)) {
		refuse(sock, -EAGAIN, cred,
		       "uid %u has %u monitor welcomes it has not read (of %u at most)",
		       (unsigned)cred->uid, held, UNREAD_PER_UID);
		return;
	}
	if (reply(sock, &welcome, &s->region_fd, 1) && slot && fdpass_unread(sock) > 0) {
		*slot = (struct unread_welcome){.sock = sock, .uid = cred->uid};
		return;
	}
	close(sock);
}

/* The parked connection `h` is readable: its hello, then the answer. */
void listener_hello(struct server *s, struct handshake *h)
{
	struct handshake_hello hello[2];
	struct ucred cred = h->cred;
	int sock = h->sock;
	ssize_t n;

	n = recv(sock, hello, sizeof(hello), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && errno == EAGAIN) {
		loop_watch_handshake(s, h); /* a spurious wakeup: keep waiting */
		return;
	}
	if (n < 0)
		n = -errno;
	h->sock = -1;
	welcome(s, sock, &cred, hello, n);
}

/* The answer to a connection whose hello was read: `length` bytes (the
 * whole message's, even when longer than the buffer), -EAGAIN when none
 * came yet (then it can only be refused), or another -errno. */
static void welcome(struct server *s, int sock, const struct ucred *cred, const void *hello,
		    ssize_t length)
{
	struct handshake_welcome answer;
	char name[HANDSHAKE_NAME_MAX], reason[HANDSHAKE_REASON_MAX];
	int fds[HANDSHAKE_FDS], error;
	uint16_t flags;
	struct client *c;

	if (length < 0 && length != -EAGAIN) {
		close(sock);
		return;
	}
	if (s->stopping) {
		refuse(sock, -ESHUTDOWN, cred, "the primary is shutting down");
		return;
	}
	if (!allowed(s, cred)) {
		refuse(sock, -EPERM, cred,
		       "uid %u is not allowed by this instance's policy (owner uid %u%s)",
		       (unsigned)cred->uid, (unsigned)geteuid(),
		       s->config.allow_group ? " and --allow-group" : ", no --allow-group");
		return;
	}
	error = handshake_check_hello(hello, (size_t)length, &flags, name, sizeof(name), reason,
				      sizeof(reason));
	if (error) {
		refuse(sock, error, cred, "%s", reason);
		return;
	}
	if (flags & HANDSHAKE_HELLO_MONITOR) {
		welcome_monitor(s, sock, cred);
		return;
	}
	error = client_add(s, sock, cred->pid, cred->uid, name, fds, &c, reason, sizeof(reason));
	if (error) {
		refuse(sock, error, cred, "%s", reason);
		return;
	}
	answer = (struct handshake_welcome){
		.magic = HANDSHAKE_MAGIC,
		.version = HANDSHAKE_VERSION,
		.client_id = c->session,
		.client_memfd_size = c->mem_length,
		.request_ring_offset = 0,
		.completion_ring_offset = ring_memsize(s->config.request_ring_bytes),
		.region_size = s->region_length,
		.max_rules = s->config.max_rules,
		.client_max_rules = s->config.client_max_rules,
	};
	loop_watch_client(s, c);
	if (!reply(sock, &answer, fds, HANDSHAKE_FDS)) {
		/* A session its client never heard of would hold a slot. */
		close(fds[HANDSHAKE_FD_CLIENT_MEMFD]);
		client_remove(s, c, "its welcome could not be sent");
		return;
	}
	close(fds[HANDSHAKE_FD_CLIENT_MEMFD]); /* our mapping keeps it */
	log_info("client %u (%s, pid %d, uid %u) connected", c->session, c->name, (int)c->pid,
		 (unsigned)c->uid);
}
