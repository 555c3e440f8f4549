/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client registry: a client's slot, its memfd with the two rings, its
 * doorbells; and its end, which destroys every rule it owned.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "server/server.h"
#include "shm/doorbell.h"
#include "shm/fdpass.h"
#include "shm/handshake.h"

/* Whether slot `c` is taken: by a session, or by the socket of one that
 * ended with what it was sent unread. */
static bool slot_taken(const struct client *c)
{
	return c->active || c->unread_held;
}

static struct client *free_slot(struct server *s)
{
	for (uint32_t i = 0; i < s->config.max_clients; i++)
		if (!slot_taken(&s->clients[i]))
			return &s->clients[i];
	return NULL;
}

/*
 * The sockets of ended sessions whose peers have read what they were sent,
 * or gone (SIOCOUTQ says nothing is left): closed, their slots free. A fd
 * the primary passed is in flight until its peer reads it, charged to the
 * primary's open-file limit (past it the kernel refuses every welcome,
 * ETOOMANYREFS, root's too) and past 2,024 making every passed fd wait for
 * the kernel's collector. A session that ended with its welcome or an
 * attach unread used to free its slot at once: a user that kept such
 * sockets open had as many fds in flight as it cared to (an attacker's
 * test: 4,000 in 3.6 s). Holding the slot keeps them within 4 fds a slot,
 * and another user within half of the slots.
 */
void clients_release_read(struct server *s)
{
	for (uint32_t i = 0; i < s->config.max_clients; i++) {
		struct client *c = &s->clients[i];

		if (c->unread_held && fdpass_unread(c->sock) == 0) {
			close(c->sock);
			c->unread_held = false;
		}
	}
}

/* The client's memfd: both rings, its size sealed so the client cannot
 * shrink it under us (a SIGBUS in the primary). */
static int map_rings(struct server *s, struct client *c, int *memfd)
{
	size_t request_size = ring_memsize(s->config.request_ring_bytes);
	size_t length = request_size + ring_memsize(s->config.completion_ring_bytes);
	int fd = memfd_create("mpflow-client", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)length) != 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
		goto fail;
	c->mem = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c->mem == MAP_FAILED)
		goto fail;
	memory_prefault(c->mem, length);
	c->mem_length = length;
	/* The primary creates both rings and keeps their geometry; it never
	 * reads the shared copy of it back. */
	if (ring_create(&c->requests, c->mem, request_size, s->config.request_ring_bytes,
			WIRE_MSG_MAX, RING_CONSUMER, c->client_bell[1]) != 0 ||
	    ring_create(&c->completions, (uint8_t *)c->mem + request_size,
			ring_memsize(s->config.completion_ring_bytes),
			s->config.completion_ring_bytes, WIRE_MSG_MAX, RING_PRODUCER,
			c->client_bell[1]) != 0) {
		munmap(c->mem, length);
		errno = EINVAL;
		goto fail;
	}
	*memfd = fd;
	return 0;
fail:;
	int err = -errno;

	close(fd);
	return err;
}

/* Sessions held by `uid`. */
static uint32_t sessions_of(const struct server *s, uid_t uid)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < s->config.max_clients; i++)
		n += slot_taken(&s->clients[i]) && s->clients[i].uid == uid;
	return n;
}

/* 0, or -ENOMEM where the memory cgroups leave too little for one more
 * session's rings of another user beyond what the guard keeps back
 * (memcg.h). The instance's own users' sessions come out of that reserve:
 * they are the ones that destroy rules to make room. A reading of the
 * cgroup files, a few hundred microseconds: once a session. */
static int session_room(struct server *s, uid_t uid, char *reason, size_t reason_size)
{
	uint64_t room, need = memcg_reserve(&s->memcg) + s->memcg.held_back +
			      ring_memsize(s->config.request_ring_bytes) +
			      ring_memsize(s->config.completion_ring_bytes);

	if (rules_uid_is_instance(uid))
		return 0;
	room = memcg_headroom(s->memcg.self, s->memcg.root);
	if (room == UINT64_MAX || room >= need)
		return 0;
	snprintf(reason, reason_size,
		 "the memory cgroup leaves %llu MiB of its limit, less than a session's rings "
		 "and the %llu MiB mpflowd keeps for itself",
		 (unsigned long long)(room >> 20),
		 (unsigned long long)(memcg_reserve(&s->memcg) >> 20));
	return -ENOMEM;
}

int client_add(struct server *s, int sock, pid_t pid, uid_t uid, const char *name, int fds[4],
	       struct client **out, char *reason, size_t reason_size)
{
	struct client *c;
	uint32_t index, generation, half = (s->config.max_clients + 1) / 2;
	int memfd = -1, err, maker;

	clients_release_read(s);
	c = free_slot(s);
	/* Another user (one --allow-group admits) holds half the sessions at
	 * most: it cannot keep the primary's own user and root out. */
	if (!rules_uid_is_instance(uid) && sessions_of(s, uid) >= half) {
		snprintf(reason, reason_size,
			 "uid %u already holds %u sessions, half of --max-clients %u: the rest "
			 "are kept for others",
			 (unsigned)uid, half, s->config.max_clients);
		return -EUSERS;
	}
	if (c == NULL) {
		snprintf(reason, reason_size,
			 "this instance already serves %u clients (--max-clients)",
			 s->config.max_clients);
		return -EUSERS;
	}
	/* A session's rings are the primary's memory (it writes them in):
	 * another user's refused near the memory cgroup's limit, as a create
	 * is. */
	err = session_room(s, uid, reason, reason_size);
	if (err)
		return err;
	maker = rules_maker(&s->rules, uid);
	if (maker < 0) {
		snprintf(reason, reason_size, "the primary is out of memory");
		return maker;
	}
	index = (uint32_t)(c - s->clients);
	generation = c->generation + 1;
	memset(c, 0, sizeof(*c));
	c->index = index;
	c->generation = generation;
	c->session = ++s->next_session ? s->next_session : ++s->next_session;
	c->pid = pid;
	c->uid = uid;
	c->maker = (uint32_t)maker;
	c->sock = sock;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->primary_bell = doorbell_create();
	err = doorbell_create_outbound(c->client_bell);
	if (c->primary_bell < 0 || err) {
		err = c->primary_bell < 0 ? c->primary_bell : err;
		goto fail;
	}
	err = map_rings(s, c, &memfd);
	if (err)
		goto fail;
	fds[HANDSHAKE_FD_CLIENT_MEMFD] = memfd;
	fds[HANDSHAKE_FD_REGION] = s->region_fd;
	fds[HANDSHAKE_FD_PRIMARY_BELL] = c->primary_bell;
	fds[HANDSHAKE_FD_CLIENT_BELL] = c->client_bell[0];
	c->active = true;
	region_owner_publish(&s->owners[index], c->session, (uint32_t)pid, c->name);
	s->client_count++;
	shm_store_relaxed32(&s->region->clients, s->client_count);
	*out = c;
	return 0;
fail:
	if (c->primary_bell >= 0)
		close(c->primary_bell);
	doorbell_close_outbound(c->client_bell);
	snprintf(reason, reason_size, "the primary could not set up the session: %s",
		 strerror(-err));
	return err;
}

/* Rules a departed client may own for its removal to be done at once;
 * more are destroyed as a job, in slices (dispatch.c), so that one client
 * leaving a million rules behind does not hold the loop. */
#define CLIENT_REMOVE_AT_ONCE 512u

/* Another user's sessions keep at most this many bytes of answers unread
 * at a stop, all of them together (rings_release()). */
#define STOP_KEPT_MAX (16u << 20)

/* MADV_REMOVE the whole pages of bytes `from` to `to` of the client's
 * memory (to its end: its last page too, which the mapping holds whole). */
static void punch(struct client *c, size_t from, size_t to)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	from = (from + page - 1) & ~(page - 1);
	to = to >= c->mem_length ? (c->mem_length + page - 1) & ~(page - 1) : to & ~(page - 1);
	if (to > from)
		(void)madvise((uint8_t *)c->mem + from, to - from, MADV_REMOVE);
}

/*
 * The rings' pages go now, not when the last of the client's mappings
 * does: they were charged to the primary, which wrote them in, and a
 * client that keeps its mapping and connects again would otherwise pin
 * 768 KiB of the primary's memory a session. At a stop, but for the
 * answers the client has not read yet, and the completion ring's header:
 * the rules they acknowledge are made, and journaled, and the client reads
 * them after the primary is gone (the code before punched them out, and a
 * client reading late saw ESHUTDOWN for rules made). Another user's
 * sessions keep STOP_KEPT_MAX bytes of them at most, together.
 */
static void rings_release(struct server *s, struct client *c)
{
	struct ring *r = &c->completions;
	size_t keep[3][2], at = 0, data = (size_t)(r->data - (uint8_t *)c->mem);
	uint32_t unread, from;
	unsigned n = 0;

	if (s->stopping && !ring_consumed(r)) {
		unread = r->published - r->peer;
		from = r->peer & r->mask;
		/* A head past what was published is the client's lie. */
		if (unread <= r->size &&
		    (c->maker == 0 || s->stop_kept + unread <= STOP_KEPT_MAX)) {
			s->stop_kept += c->maker ? unread : 0;
			keep[n][0] = (size_t)((uint8_t *)r->shared - (uint8_t *)c->mem);
			keep[n++][1] = data;
			if (from + unread > r->size) { /* wrapped: its start, then its end */
				keep[n][0] = data;
				keep[n++][1] = data + from + unread - r->size;
				unread = r->size - from;
			}
			keep[n][0] = data + from;
			keep[n++][1] = data + from + unread;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		punch(c, at, keep[i][0]);
		at = keep[i][1];
	}
	punch(c, at, c->mem_length);
}

void client_remove(struct server *s, struct client *c, const char *why)
{
	if (!c->active || c->leaving)
		return;
	loop_unwatch_client(s, c);
	s->device.ops.release(&s->device, c->session);
	commit_forget(c);
	rings_release(s, c);
	munmap(c->mem, c->mem_length);
	if (fdpass_unread(c->sock) > 0)
		c->unread_held = true; /* until its peer reads them or goes */
	else
		close(c->sock);
	close(c->primary_bell);
	doorbell_close_outbound(c->client_bell);
	c->leaving = true;
	c->why = why;
	c->batch_resume = 0;
	job_end(c); /* a job in progress is dropped: the client will not hear of it */
	c->job = (struct job){.kind = JOB_LEAVE, .port = -1};
	/* Another user's rules go as a job in its share of the loop
	 * (loop.c): a hundred of its sessions hanging up together would
	 * otherwise hold the loop for 512 rules each, outside its share. */
	if (c->rules > CLIENT_REMOVE_AT_ONCE || (c->maker != 0 && c->rules > 0)) {
		log_info("client %u (%s, pid %d) gone: %s; destroying its %u rules", c->session,
			 c->name, (int)c->pid, why, c->rules);
		return;
	}
	while (rules_destroy_owned(s, c, &c->job, CLIENT_REMOVE_AT_ONCE))
		;
	client_finish(s, c);
}

void client_finish(struct server *s, struct client *c)
{
	log_info("client %u (%s, pid %d) gone: %s; %u rules destroyed", c->session, c->name,
		 (int)c->pid, c->why, c->job.done);
	job_end(c);
	c->active = false;
	c->leaving = false;
	region_owner_retire(&s->owners[c->index]);
	s->client_count--;
	shm_store_relaxed32(&s->region->clients, s->client_count);
}
