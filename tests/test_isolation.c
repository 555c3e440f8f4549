/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One client cannot hurt the others (server/listener.c, dispatch.c,
 * hwdrv/soft/rxq.c): connections that never say hello, a hello with bytes
 * after it, RX queues attached and detached in a loop without reading the
 * socket, a flood of audits, whole-table requests in a batch and a client
 * leaving many rules behind. What an attacker would run, each bounded in
 * count and time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm/fdpass.h"
#include "shm/handshake.h"
#include "shm/pack.h"
#include "shm/wire.h"
#include "tests/harness.h"
#include "tests/rule_literals.h"

static const struct mpf_flow_attr ingress = {.ingress = 1};

static int connect_socket(const struct primary *p)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/default.sock", p->dir);
	if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		if (sock >= 0)
			close(sock);
		return -1;
	}
	return sock;
}

/*
 * The stranger (uid 65534, admitted by --allow-group): keeps `count`
 * connections open that never say hello, opening a new one for each the
 * primary closes, for `seconds`.
 */
static void silent_connections(const struct primary *p, unsigned count, unsigned seconds)
{
	int *socks = calloc(count, sizeof(*socks));
	time_t end = time(NULL) + seconds;
	unsigned made = 0;

	if (become_stranger() != 0)
		_exit(126);
	for (unsigned i = 0; i < count; i++)
		socks[i] = -1;
	while (time(NULL) < end) {
		for (unsigned i = 0; i < count; i++) {
			char byte;

			/* A refusal (or a hang-up) frees the slot: take it again. */
			if (socks[i] >= 0 &&
			    recv(socks[i], &byte, 1, MSG_DONTWAIT | MSG_PEEK) == -1 &&
			    errno == EAGAIN)
				continue;
			if (socks[i] >= 0)
				close(socks[i]);
			socks[i] = connect_socket(p);
			made += socks[i] >= 0;
		}
		usleep(1000);
	}
	/* It did hold connections: the test is not vacuous. */
	_exit(made >= count ? 0 : 1);
}

/* A primary whose socket the stranger (uid 65534) may reach: started with
 * --allow-group 65534 (and `option` `value`, where given), its runtime
 * directory given to that group. False (the test skips) where there is no
 * such group or we are not root. */
static bool start_for_the_stranger(struct primary *p, const char *option, const char *value)
{
	static char gid[16];
	const char *args[] = {"--allow-group", gid, option, value, NULL};

	if (geteuid() != 0 || getgrgid(STRANGER) == NULL)
		return false;
	snprintf(gid, sizeof(gid), "%u", STRANGER);
	assert_int_equal(primary_start(p, args), 0);
	/* The group may reach the socket (the primary made it 0660 for it). */
	assert_int_equal(chown(p->dir, (uid_t)-1, STRANGER), 0);
	assert_int_equal(chmod(p->dir, 0750), 0);
	return true;
}

/*
 * The stranger: `sessions` sessions, each with `burst` creates in flight
 * at once, then as many destroys; every one must complete, and succeed:
 * its sessions share one slice of the loop's round (loop.c), taken in
 * turn, and none of them may wait for good.
 */
static void many_busy_sessions(const struct primary *p, unsigned sessions, unsigned burst)
{
	struct mpf_client **cs = calloc(sessions, sizeof(*cs));
	uint64_t *live = calloc((size_t)sessions * burst, sizeof(*live));
	struct mpf_completion done[64];
	struct mpf_flow_error error;

	if (cs == NULL || live == NULL || become_stranger() != 0)
		_exit(126);
	for (unsigned i = 0; i < sessions; i++)
		if (primary_connect(p, "stranger", &cs[i]) != 0)
			_exit(2);
	for (int destroy = 0; destroy < 2; destroy++) {
		for (unsigned i = 0; i < sessions; i++)
			for (unsigned k = 0; k < burst; k++) {
				size_t at = (size_t)i * burst + k;
				struct sample_rule r;

				sample_rule_init(&r, (uint32_t)at);
				if ((destroy ? mpf_submit_destroy(cs[i], 0, live[at], at, &error)
					     : mpf_submit_create(cs[i], 0, &ingress, r.pattern,
								 r.actions, 0, at, &error)) != 0)
					_exit(3);
			}
		/* Polled in reverse: the last sessions wait the longest. */
		for (unsigned i = sessions; i-- > 0;)
			while (mpf_inflight(cs[i]) > 0) {
				int n = mpf_poll(cs[i], done, 64, 10000);

				if (n <= 0)
					_exit(4); /* a session left waiting for 10 s */
				for (int j = 0; j < n; j++) {
					if (done[j].status != 0) {
						fprintf(stderr, "stranger: %s\n",
							done[j].error.message);
						_exit(5);
					}
					live[done[j].user_data] = done[j].handle;
				}
			}
	}
	for (unsigned i = 0; i < sessions; i++)
		mpf_disconnect(cs[i]);
	_exit(0);
}

/* Another user's 100 busy sessions, beside the instance's own flooding
 * client: each of them is served, all of their requests done. */
static void test_another_users_sessions_are_all_served_in_turn(void **state)
{
	struct mpf_completion done[64];
	struct mpf_flow_error error;
	struct mpf_client *c;
	struct primary p;
	pid_t stranger;
	int status = -1;
	uint32_t made = 0;

	(void)state;
	if (!start_for_the_stranger(&p, NULL, NULL))
		skip();
	assert_int_equal(primary_connect(&p, "own", &c), 0);
	stranger = fork();
	if (stranger == 0)
		many_busy_sessions(&p, 100, 64);
	/* The instance's own client floods creates, each destroyed once
	 * made, until the stranger is done. */
	while (waitpid(stranger, &status, WNOHANG) == 0) {
		struct sample_rule r;
		int n;

		sample_rule_init(&r, 1u << 20 | made++);
		if (mpf_submit_create(c, 0, &ingress, r.pattern, r.actions, 0, 0, &error) == 0 &&
		    mpf_inflight(c) < 256)
			continue;
		n = mpf_poll(c, done, 64, 1000);
		assert_true(n >= 0);
		for (int i = 0; i < n; i++)
			if (done[i].user_data == 0 && done[i].status == 0)
				assert_int_equal(
					mpf_submit_destroy(c, 0, done[i].handle, 1, &error), 0);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	mpf_disconnect(c);
	assert_int_equal(primary_cleanup(&p), 0);
}

static void test_silent_connections_cannot_keep_others_out(void **state)
{
	struct primary p;
	pid_t stranger;
	int status;

	(void)state;
	if (!start_for_the_stranger(&p, NULL, NULL))
		skip();
	stranger = fork();
	if (stranger == 0)
		silent_connections(&p, 200, 6);
	usleep(500000); /* the stranger's connections are in place */
	/* Every connect of the primary's own user goes through meanwhile. */
	for (int i = 0; i < 40; i++) {
		struct mpf_client *c;

		assert_int_equal(primary_connect(&p, "legit", &c), 0);
		mpf_disconnect(c);
		usleep(50000);
	}
	assert_int_equal(waitpid(stranger, &status, 0), stranger);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* A hello (HANDSHAKE_HELLO_* `flags`: a monitor's, or 0: a session's) on a
 * new connection; the socket, or -1. */
static int hello_with(const struct primary *p, uint16_t flags)
{
	struct handshake_hello hello = {.magic = HANDSHAKE_MAGIC,
					.version = HANDSHAKE_VERSION,
					.flags = flags,
					.name = "unread"};
	int sock = connect_socket(p);

	if (sock >= 0 && send(sock, &hello, sizeof(hello), MSG_NOSIGNAL) != sizeof(hello)) {
		close(sock);
		return -1;
	}
	return sock;
}

/* Read the welcome on `sock` (closing the fds it carries): its status, or
 * INT32_MIN if none came within 5 s. */
static int32_t welcome_status(int sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * HANDSHAKE_FDS)];
		struct cmsghdr align;
	} control;
	struct handshake_welcome w;
	struct iovec iov = {.iov_base = &w, .iov_len = sizeof(w)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct pollfd pfd = {.fd = sock, .events = POLLIN};

	if (poll(&pfd, 1, 5000) != 1 || recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != sizeof(w))
		return INT32_MIN;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(((int *)(void *)CMSG_DATA(c))[i]);
	return w.status;
}

/* The stranger: 16 monitor welcomes left unread, a 17th refused, then
 * read, and another served. Exits with the step that went wrong. */
static void unread_welcomes(const struct primary *p)
{
	int socks[16], extra;

	if (become_stranger() != 0)
		_exit(126);
	for (int i = 0; i < 16; i++)
		if ((socks[i] = hello_with(p, HANDSHAKE_HELLO_MONITOR)) < 0)
			_exit(1);
	usleep(300000); /* every one answered, none read */
	extra = hello_with(p, HANDSHAKE_HELLO_MONITOR);
	if (extra < 0 || welcome_status(extra) != -EAGAIN)
		_exit(2);
	close(extra);
	for (int i = 0; i < 16; i++)
		if (welcome_status(socks[i]) != 0)
			_exit(3);
	extra = hello_with(p, HANDSHAKE_HELLO_MONITOR);
	if (extra < 0 || welcome_status(extra) != 0)
		_exit(4);
	_exit(0);
}

/*
 * The fds a monitor's welcome carries count against the primary's open-file
 * limit until the peer reads them, and past it the kernel refuses every
 * welcome (ETOOMANYREFS), root's too. So another user holds 16 unread
 * welcomes at most: the next is refused (EAGAIN, a welcome without fds),
 * and once it reads them it is served again. (Before, about a thousand
 * unread welcomes under the unit's limits locked every client out.)
 */
static void test_unread_monitor_welcomes_are_bounded(void **state)
{
	struct primary p;
	pid_t stranger;
	int status;

	(void)state;
	if (!start_for_the_stranger(&p, NULL, NULL))
		skip();
	stranger = fork();
	if (stranger == 0)
		unread_welcomes(&p);
	assert_int_equal(waitpid(stranger, &status, 0), stranger);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* The status of the welcome on `sock`, its fds left unread (MSG_PEEK), or
 * INT32_MIN if none came within 5 s. */
static int32_t welcome_peeked(int sock)
{
	struct handshake_welcome w;
	struct pollfd pfd = {.fd = sock, .events = POLLIN};

	if (poll(&pfd, 1, 5000) != 1 || recv(sock, &w, sizeof(w), MSG_PEEK) != sizeof(w))
		return INT32_MIN;
	return w.status;
}

/* The stranger, under --max-clients 8: four sessions welcomed and ended
 * with their welcomes unread (shut for writing, kept open), then six more
 * refused; once it reads the four, another is welcomed. Exits with the
 * step that went wrong. */
static void unread_sessions(const struct primary *p)
{
	enum { HALF = 4 };
	int socks[HALF], extra, status = INT32_MIN;

	if (become_stranger() != 0)
		_exit(126);
	for (int i = 0; i < HALF; i++) {
		if ((socks[i] = hello_with(p, 0)) < 0 || welcome_peeked(socks[i]) != 0)
			_exit(1);
		shutdown(socks[i], SHUT_WR); /* the session ends; its fds stay unread */
	}
	usleep(300000); /* the primary has seen them go */
	for (int i = 0; i < 6; i++) {
		extra = hello_with(p, 0);
		if (extra < 0 || welcome_status(extra) != -EUSERS)
			_exit(2);
		close(extra);
	}
	for (int i = 0; i < HALF; i++)
		if (welcome_status(socks[i]) != 0)
			_exit(3);
	/* The slots are let go at the primary's next tick. */
	for (int i = 0; i < 50 && status != 0; i++) {
		usleep(100000);
		extra = hello_with(p, 0);
		status = extra < 0 ? INT32_MIN : welcome_status(extra);
		if (extra >= 0)
			close(extra);
	}
	_exit(status == 0 ? 0 : 4);
}

/*
 * A session that ends with its welcome unread leaves the fds it carries in
 * flight, charged to the primary, until its peer reads them or goes: its
 * slot stays taken until then, among its user's sessions. Another user
 * that ends sessions without reading their welcomes and keeps the sockets
 * is held to half of --max-clients, as with live sessions, and served
 * again once it reads them. (Before, the slot was freed at once: an
 * attacker's test kept 4,000 fds in flight in 3.6 s, and under a limit of
 * 512 every welcome failed, root's too, ETOOMANYREFS.)
 */
static void test_sessions_ended_unread_are_bounded(void **state)
{
	struct primary p;
	pid_t stranger;
	int status;

	(void)state;
	if (!start_for_the_stranger(&p, "--max-clients", "8"))
		skip();
	stranger = fork();
	if (stranger == 0)
		unread_sessions(&p);
	assert_int_equal(waitpid(stranger, &status, 0), stranger);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* A raw session's PORT_STATS_RESET of port 0 (user_data `id`), sent. */
static void raw_port_reset(struct raw_session *raw, uint64_t id)
{
	uint8_t msg[WIRE_MSG_MAX] __attribute__((aligned(8)));
	struct mpf_flow_error error;
	int length = wire_encode_port_stats_reset(msg, sizeof(msg), id, 0, &error);

	assert_true(length > 0);
	assert_int_equal(ring_stage(&raw->requests, msg, (uint32_t)length), 0);
	ring_commit(&raw->requests);
}

/* The status of the raw session's next completion (its user_data `id`),
 * waited for up to `ms`; INT32_MIN if none came. */
static int32_t raw_answer(struct raw_session *raw, uint64_t id, int ms)
{
	uint8_t msg[WIRE_MSG_MAX] __attribute__((aligned(8)));
	struct wire_completion done;

	for (int i = 0; i <= ms; i++) {
		int length = ring_dequeue(&raw->completions, msg, sizeof(msg));

		if (length > 0) {
			assert_int_equal(wire_decode_completion(msg, (size_t)length, &done), 0);
			assert_int_equal(done.user_data, id);
			return done.status;
		}
		if (i < ms)
			usleep(1000);
	}
	return INT32_MIN;
}

/*
 * A port statistics reset waits for the datapath's workers to copy their
 * counts: the loop must not wait with it. With the workers' answer held
 * back (HOLD:port-reset, mpflowd-faults), two sessions' resets of the same
 * port wait, one behind the other, while a bystander's 200 creates and
 * destroys are served; released, both answer 0. (The code before waited in
 * place, up to a second: an attacker's flood of resets, 32 a burst at
 * 75-126 us each, held the loop 2.6 ms a turn and cut a bystander's
 * creates 27-fold.)
 */
static void test_a_port_reset_waits_for_the_datapath_without_the_loop(void **state)
{
	const char *const args[] = {"--source", "0=gen:flows=1,pps=1000", NULL};
	const char *faulty = getenv("MPFLOWD_FAULTS");
	struct raw_session a, b, c;
	struct mpf_flow_error error;
	struct mpf_client *by;
	struct primary p;
	char plain[256];

	(void)state;
	if (faulty == NULL)
		skip();
	snprintf(plain, sizeof(plain), "%s", getenv("MPFLOWD"));
	faults_on();
	set_fault("HOLD:port-reset");
	setenv("MPFLOWD", faulty, 1);
	assert_int_equal(primary_start(&p, args), 0);
	setenv("MPFLOWD", plain, 1);
	assert_int_equal(raw_connect(&p, &a), 0);
	assert_int_equal(raw_connect(&p, &b), 0);
	assert_int_equal(primary_connect(&p, "bystander", &by), 0);

	raw_port_reset(&a, 1);
	raw_port_reset(&b, 2);
	for (uint32_t i = 0; i < 200; i++) {
		struct sample_rule r;
		uint64_t handle;

		sample_rule_init(&r, i);
		assert_int_equal(
			mpf_flow_create(by, 0, &ingress, r.pattern, r.actions, 0, &handle, &error),
			0);
		assert_int_equal(mpf_flow_destroy(by, 0, handle, &error), 0);
	}
	/* Served while both resets wait; a third session leaves waiting. */
	assert_int_equal(raw_connect(&p, &c), 0);
	raw_port_reset(&c, 3);
	assert_int_equal(raw_answer(&c, 3, 20), INT32_MIN);
	raw_close(&c);
	assert_int_equal(raw_answer(&a, 1, 0), INT32_MIN);
	assert_int_equal(raw_answer(&b, 2, 0), INT32_MIN);
	clear_fault();
	assert_int_equal(raw_answer(&a, 1, 5000), 0);
	assert_int_equal(raw_answer(&b, 2, 5000), 0);
	/* The one that left holds nothing back: the next is answered. */
	assert_int_equal(raw_connect(&p, &c), 0);
	raw_port_reset(&c, 4);
	assert_int_equal(raw_answer(&c, 4, 5000), 0);
	raw_close(&c);

	/* A stop does not wait for an answer held back: the session is
	 * closed, and the primary exits cleanly. */
	set_fault("HOLD:port-reset");
	raw_port_reset(&a, 5);
	assert_int_equal(raw_answer(&a, 5, 20), INT32_MIN);
	assert_int_equal(primary_stop(&p), 0);
	raw_close(&a);
	raw_close(&b);
	mpf_disconnect(by);
	unsetenv("MPFLOW_FAULTS");
	assert_int_equal(primary_cleanup(&p), 0);
}

/*
 * Sessions: another user (admitted by --allow-group) that connects as many
 * as it can holds half of --max-clients, and is refused the rest with
 * EUSERS saying so; the primary's own user still connects. (Before, one
 * allowed user took every session: root's flowctl was refused "this
 * instance already serves 256 clients".)
 */
static void test_another_user_cannot_take_every_session(void **state)
{
	struct mpf_client *mine[8];
	int ready[2], status;
	struct primary p;
	pid_t stranger;
	char held = 0;

	(void)state;
	if (!start_for_the_stranger(&p, "--max-clients", "16"))
		skip();
	assert_int_equal(pipe(ready), 0);
	stranger = fork();
	if (stranger == 0) {
		struct mpf_client *c[32];
		struct mpf_connect_options o = {.runtime_dir = p.dir, .primary_uid = 0};
		struct mpf_flow_error error;
		char n = 0, last_ok = 1;

		if (become_stranger() != 0)
			_exit(126);
		for (int i = 0; i < 32; i++) {
			int err = mpf_connect(&o, &c[i], &error);

			if (err == 0)
				n++;
			else
				last_ok = err == -EUSERS && strstr(error.message,
								   "half of --max-clients")
						  ? 1
						  : 0;
		}
		if (write(ready[1], &n, 1) != 1 || write(ready[1], &last_ok, 1) != 1)
			_exit(1);
		pause(); /* holding them */
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &held, 1), 1);
	assert_int_equal(held, 8);
	assert_int_equal(read(ready[0], &held, 1), 1);
	assert_int_equal(held, 1); /* refused with EUSERS, saying why */
	/* The other half is the primary's own user's. */
	for (int i = 0; i < 8; i++)
		assert_int_equal(primary_connect(&p, "owner", &mine[i]), 0);
	for (int i = 0; i < 8; i++)
		mpf_disconnect(mine[i]);
	kill(stranger, SIGKILL);
	assert_int_equal(waitpid(stranger, &status, 0), stranger);
	close(ready[0]);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* Another user's sessions hold half the table at most, together: its
 * four sessions make 128 rules of a 256-rule table, the 129th is refused
 * saying why, and the owner makes the other 128. */
static void test_another_user_holds_half_the_table_at_most(void **state)
{
	struct mpf_flow_error error;
	struct mpf_client *mine;
	struct sample_rule r;
	int ready[2], status;
	struct primary p;
	uint64_t handle;
	pid_t stranger;
	uint32_t made = 0;
	char said = 0;

	(void)state;
	if (!start_for_the_stranger(&p, "--max-rules", "256"))
		skip();
	assert_int_equal(pipe(ready), 0);
	stranger = fork();
	if (stranger == 0) {
		struct mpf_client *c[4];
		int err = 0;

		if (become_stranger() != 0)
			_exit(126);
		for (int i = 0; i < 4; i++)
			if (primary_connect(&p, "stranger", &c[i]) != 0)
				_exit(2);
		/* Round the sessions until one is refused. */
		for (uint32_t n = 0; err == 0; n++) {
			sample_rule_init(&r, n);
			err = mpf_flow_create(c[n % 4], 0, &ingress, r.pattern, r.actions, 0,
					      &handle, &error);
			made += err == 0;
		}
		said = err == -ENOMEM && strstr(error.message, "half of --max-rules") != NULL;
		if (write(ready[1], &made, sizeof(made)) != sizeof(made) ||
		    write(ready[1], &said, 1) != 1)
			_exit(1);
		pause(); /* holding them */
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &made, sizeof(made)), sizeof(made));
	assert_int_equal(made, 128);
	assert_int_equal(read(ready[0], &said, 1), 1);
	assert_int_equal(said, 1);
	assert_int_equal(primary_connect(&p, "owner", &mine), 0);
	for (uint32_t n = 0; n < 128; n++) {
		sample_rule_init(&r, 1000 + n);
		assert_int_equal(mpf_flow_create(mine, 0, &ingress, r.pattern, r.actions, 0,
						 &handle, &error),
				 0);
	}
	mpf_disconnect(mine);
	kill(stranger, SIGKILL);
	assert_int_equal(waitpid(stranger, &status, 0), stranger);
	close(ready[0]);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* `stranger` run for `phase` in a child as the stranger: it exits with the
 * number of the step that failed, 0 when none did. */
static void stranger_runs(const struct primary *p,
			  void (*stranger)(const struct primary *p, int phase, uint64_t arg),
			  int phase, uint64_t arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		stranger(p, phase, arg);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The primary SIGKILLed and started again; the owner's session, again. */
static void killed_and_restarted(struct primary *p, const char **args, struct mpf_client **mine)
{
	int status;

	mpf_disconnect(*mine);
	assert_int_equal(kill(p->pid, SIGKILL), 0);
	assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
	p->pid = 0;
	assert_int_equal(primary_restart(p, args), 0);
	assert_int_equal(primary_connect(p, "owner", mine), 0);
}

/* A stranger's step (its `step`, `rc` and `error`): the child exits with
 * the step's number, saying why, when `ok` is false. */
#define STEP(ok)                                                                                   \
	do {                                                                                       \
		if (!(ok)) {                                                                       \
			fprintf(stderr, "stranger, step %d: %d: %s\n", step, rc, error.message);   \
			_exit(step);                                                               \
		}                                                                                  \
		step++;                                                                            \
	} while (0)

/* The stranger's side of the persistent-rule quota: `phase` 1 makes its
 * quota of 8 and meets the refusal, in a new session too, cannot destroy
 * or reset root's rule `theirs`, nor make, destroy or clear a meter or
 * isolate the port, flushes its own and makes its 8 again;
 * phase 2 (after a restart) is still refused the ninth and root's rule.
 * Exits with the number of the step that failed (0: none). */
static void stranger_persists(const struct primary *p, int phase, uint64_t theirs)
{
	struct mpf_connect_options o = {.runtime_dir = p->dir, .primary_uid = 0};
	struct mpf_flow_query_count count = {.reset = 1};
	struct mpf_meter_params meter = {.cir = 1000, .cbs = 1500, .pir = 2000, .pbs = 3000};
	struct mpf_meter_stats stats;
	struct mpf_flow_error error;
	struct sample_rule r;
	struct mpf_client *c;
	uint64_t handle;
	int step = 1, rc = 0;

	if (become_stranger() != 0)
		_exit(126);
	error.message[0] = 0;
	STEP((rc = mpf_connect(&o, &c, &error)) == 0);
	for (uint32_t round = 0; round < (phase == 1 ? 2u : 1u); round++) {
		for (uint32_t i = 0; phase == 1 && i < 8; i++) {
			sample_rule_init(&r, 100 + i);
			STEP((rc = mpf_flow_create(c, 0, &ingress, r.pattern, r.actions,
						   MPF_FLOW_PERSISTENT, &handle, &error)) == 0);
		}
		sample_rule_init(&r, 200);
		STEP((rc = mpf_flow_create(c, 0, &ingress, r.pattern, r.actions,
					   MPF_FLOW_PERSISTENT, &handle, &error)) == -ENOMEM &&
		     strstr(error.message, "user quota of 8 persistent rules"));
		/* A session of its own is no way around it. */
		mpf_disconnect(c);
		STEP((rc = mpf_connect(&o, &c, &error)) == 0);
		STEP((rc = mpf_flow_create(c, 0, &ingress, r.pattern, r.actions,
					   MPF_FLOW_PERSISTENT, &handle, &error)) == -ENOMEM);
		/* Root's rule: read by all, changed by its user only. */
		STEP((rc = mpf_flow_destroy(c, 0, theirs, &error)) == -EPERM &&
		     strstr(error.message, "the instance's own users"));
		STEP((rc = mpf_flow_query(c, 0, theirs, MPF_FLOW_ACTION_TYPE_COUNT, &count,
					  &error)) == -EPERM);
		count.reset = 0;
		STEP((rc = mpf_flow_query(c, 0, theirs, MPF_FLOW_ACTION_TYPE_COUNT, &count,
					  &error)) == 0);
		count.reset = 1;
		/* What is port-wide is not its to change: meters (root's
		 * meter 1 it may read), isolated mode. */
		STEP((rc = mpf_meter_create(c, 0, 2, &meter, &error)) == -EPERM &&
		     strstr(error.message, "port-wide"));
		STEP((rc = mpf_meter_destroy(c, 0, 1, &error)) == -EPERM);
		STEP((rc = mpf_meter_query(c, 0, 1, true, &stats, &error)) == -EPERM);
		STEP((rc = mpf_meter_query(c, 0, 1, false, &stats, &error)) == 0);
		STEP((rc = mpf_flow_isolate(c, 0, true, &error)) == -EPERM);
		STEP((rc = mpf_port_stats_reset(c, 0, &error)) == -EPERM &&
		     strstr(error.message, "port-wide"));
		/* Its flush takes its own: all 8, and nothing of root's. The
		 * second 8 are left for the restart, then for root's flush. */
		if (phase == 2 || round == 1)
			break;
		STEP((rc = mpf_flow_flush_persistent(c, 0, &error)) == 8);
		STEP((rc = mpf_flow_query(c, 0, theirs, MPF_FLOW_ACTION_TYPE_COUNT, &count,
					  &error)) == -EPERM);
	}
	mpf_disconnect(c);
	_exit(0);
}

/*
 * Persistent rules outlive their session: --client-max-rules bounds them
 * by user. The stranger (uid 65534, admitted by --allow-group) makes 8 of
 * them and is refused the ninth, in a new session too and after a SIGKILL
 * and restart (the journal records whose they are); it cannot destroy,
 * reset or flush root's persistent rule, and its flush takes only its own;
 * it may not change what is port-wide (meters, isolated mode, the port
 * statistics: the code before let it zero them). (The code
 * before let one allowed user fill the table with persistent rules, and
 * destroy root's rules and meters.)
 */
static void test_another_user_holds_its_quota_of_persistent_rules(void **state)
{
	const char *args[] = {
		"--allow-group", "65534", "--client-max-rules", "8", "--max-rules", "64", NULL};
	struct group *nogroup = getgrgid(STRANGER);
	struct mpf_flow_query_count count = {0};
	struct mpf_meter_params meter = {.cir = 1000, .cbs = 1500, .pir = 2000, .pbs = 3000};
	struct mpf_flow_error error;
	struct sample_rule r;
	struct mpf_client *mine;
	uint64_t root_rule;
	struct primary p;

	(void)state;
	if (geteuid() != 0 || nogroup == NULL)
		skip();
	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(chown(p.dir, (uid_t)-1, STRANGER), 0);
	assert_int_equal(chmod(p.dir, 0750), 0);
	assert_int_equal(primary_connect(&p, "owner", &mine), 0);
	sample_rule_init(&r, 1);
	assert_int_equal(mpf_flow_create(mine, 0, &ingress, r.pattern, r.actions,
					 MPF_FLOW_PERSISTENT, &root_rule, &error),
			 0);
	assert_int_equal(mpf_meter_create(mine, 0, 1, &meter, &error), 0);
	for (int phase = 1; phase <= 2; phase++) {
		stranger_runs(&p, stranger_persists, phase, root_rule);
		/* Root's rule stands, and every maker's count adds up. */
		assert_int_equal(mpf_flow_query(mine, 0, root_rule, MPF_FLOW_ACTION_TYPE_COUNT,
						&count, &error),
				 0);
		assert_true(mpf_audit(mine, &error) > 0);
		/* Its 8 are made again: killed and started, they are still its. */
		if (phase == 1)
			killed_and_restarted(&p, args, &mine);
	}
	/* The instance's own user may flush them all: root's and the 8. */
	assert_int_equal(mpf_flow_flush_persistent(mine, 0, &error), 9);
	mpf_disconnect(mine);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* A quota of another user's, through a restart: a primary started with
 * `args` (--allow-group 65534 among them), the owner's rules made by
 * `owner`, then `stranger` run as the stranger in phase 1, a SIGKILL and
 * restart, and phase 2; the audit after each phase. Skipped where there
 * is no stranger. */
static void quota_around_a_restart(const char **args, void (*owner)(struct mpf_client *mine),
				   void (*stranger)(const struct primary *p, int phase,
						    uint64_t arg))
{
	struct mpf_flow_error error;
	struct mpf_client *mine;
	struct primary p;

	if (geteuid() != 0 || getgrgid(STRANGER) == NULL)
		skip();
	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(chown(p.dir, (uid_t)-1, STRANGER), 0);
	assert_int_equal(chmod(p.dir, 0750), 0);
	assert_int_equal(primary_connect(&p, "owner", &mine), 0);
	owner(mine);
	for (int phase = 1; phase <= 2; phase++) {
		stranger_runs(&p, stranger, phase, 0);
		assert_true(mpf_audit(mine, &error) > 0);
		if (phase == 1)
			killed_and_restarted(&p, args, &mine);
	}
	mpf_disconnect(mine);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* A rule the soft backend cannot key: on its general list, met in turn by
 * every frame of the port. Its `n`th, searching for a different byte. */
static int slow_rule(struct mpf_client *c, unsigned n, uint32_t flags, uint64_t *handle,
		     struct mpf_flow_error *error)
{
	char text[160];

	snprintf(text, sizeof(text),
		 "ingress pattern eth / raw relative is 1 search is 1 pattern is %c%c / end "
		 "actions drop / end",
		 'a' + n % 26, 'a' + n / 26 % 26);
	return create_from_text(c, text, flags, handle, error);
}

/* The stranger's side of the slow path quota (--user-max-slow-rules 4):
 * after a restart (`phase` 2) its 2 persistent slow rules are counted,
 * else it makes them. Exits with the number of the step that failed. */
static void stranger_goes_slow(const struct primary *p, int phase, uint64_t unused)
{
	struct mpf_connect_options o = {.runtime_dir = p->dir, .primary_uid = 0};
	struct mpf_flow_error error = {.message = ""};
	struct mpf_client *c, *other;
	struct sample_rule r;
	uint64_t handle, first = 0;
	int step = 1, rc = 0;

	(void)unused;
	if (become_stranger() != 0)
		_exit(126);
	STEP((rc = mpf_connect(&o, &c, &error)) == 0);
	STEP((rc = mpf_connect(&o, &other, &error)) == 0);
	for (unsigned i = 0; phase == 1 && i < 2; i++)
		STEP((rc = slow_rule(c, i, MPF_FLOW_PERSISTENT, &handle, &error)) == 0);
	/* Two more in sessions: one in each. */
	STEP((rc = slow_rule(c, 2, 0, &first, &error)) == 0);
	STEP((rc = slow_rule(other, 3, 0, &handle, &error)) == 0);
	/* The fifth, in either session, persistent or not, is refused. */
	STEP((rc = slow_rule(c, 4, 0, &handle, &error)) == -ENOMEM &&
	     strstr(error.message,
		    "uid 65534 holds its quota of 4 rules on the device's slow path"));
	STEP((rc = slow_rule(other, 4, MPF_FLOW_PERSISTENT, &handle, &error)) == -ENOMEM);
	/* A rule the backend keys is no such rule. */
	sample_rule_init(&r, 7);
	STEP((rc = mpf_flow_create(c, 0, &ingress, r.pattern, r.actions, 0, &handle, &error)) == 0);
	/* One gone, one more; a session gone, its rule's place free. */
	STEP((rc = mpf_flow_destroy(c, 0, first, &error)) == 0);
	STEP((rc = slow_rule(c, 5, 0, &handle, &error)) == 0);
	STEP((rc = slow_rule(c, 6, 0, &handle, &error)) == -ENOMEM);
	/* Its rules are reaped as a job, in the user's share of the loop. */
	mpf_disconnect(other);
	for (int i = 0; i < 500 && (rc = slow_rule(c, 7, 0, &handle, &error)) == -ENOMEM; i++)
		usleep(10000);
	STEP(rc == 0);
	STEP((rc = mpf_audit(c, &error)) > 0);
	mpf_disconnect(c);
	_exit(0);
}

/* Root's 10 rules on the slow path: not held. */
static void owner_goes_slow(struct mpf_client *mine)
{
	struct mpf_flow_error error;
	uint64_t handle;

	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(slow_rule(mine, 100 + i, 0, &handle, &error), 0);
}

/*
 * Every frame of a port meets each rule on the soft backend's general list
 * in turn (RAW, ANY, INVERT...): an outside test's 2,000 RAW searches,
 * made by another allowed user, took the port from millions of frames a
 * second to 3,800, and every other client's traffic with it. Another user
 * holds --user-max-slow-rules of them (4 here) over its sessions and its
 * persistent rules, and through a restart (the journal's are counted);
 * the next is refused with ENOMEM saying so, a keyed rule is not, and one
 * destroyed (or a session gone) frees its place. The instance's own users
 * are not held (10 made), and the audit finds every count right.
 */
static void test_another_user_holds_its_quota_of_slow_path_rules(void **state)
{
	const char *args[] = {"--allow-group", "65534", "--user-max-slow-rules", "4", NULL};

	(void)state;
	quota_around_a_restart(args, owner_goes_slow, stranger_goes_slow);
}

/* A keyed rule whose UDP destination port is matched on bit `bit` alone
 * (its value `value`): each bit a mask table of its own in the soft
 * backend, every frame of the port looked up in each. */
static int masked_rule(struct mpf_client *c, unsigned bit, unsigned value, uint32_t flags,
		       uint64_t *handle, struct mpf_flow_error *error)
{
	struct mpf_flow_item_udp udp = {.hdr.dst_port = htons((uint16_t)(value << bit))};
	struct mpf_flow_item_udp mask = {.hdr.dst_port = htons((uint16_t)(1u << bit))};
	struct mpf_flow_item pattern[] = {
		{.type = MPF_FLOW_ITEM_TYPE_ETH},
		{.type = MPF_FLOW_ITEM_TYPE_IPV4},
		{.type = MPF_FLOW_ITEM_TYPE_UDP, .spec = &udp, .mask = &mask},
		{.type = MPF_FLOW_ITEM_TYPE_END}};
	struct mpf_flow_action actions[] = {{.type = MPF_FLOW_ACTION_TYPE_DROP},
					    {.type = MPF_FLOW_ACTION_TYPE_END}};

	return mpf_flow_create(c, 0, &ingress, pattern, actions, flags, handle, error);
}

/* The stranger's side of the mask quota (--user-max-masks 4; root holds
 * the tables of bits 8-13): in `phase` 1 it makes bits 0-3 (bit 1
 * persistent), is refused bit 4 (a new table) and bit 8 (root's: new to
 * it), makes bit 2 again (a table it is in), and once both of bit 0's
 * rules are gone, bit 8. In phase 2 (after a restart) its persistent bit
 * 1 counts: bits 4-6 are made, bit 7 is refused. Exits with the number of
 * the step that failed. */
static void stranger_masks(const struct primary *p, int phase, uint64_t unused)
{
	struct mpf_connect_options o = {.runtime_dir = p->dir, .primary_uid = 0};
	struct mpf_flow_error error = {.message = ""};
	uint64_t handle, zero[2];
	struct mpf_client *c;
	int step = 1, rc = 0;

	(void)unused;
	if (become_stranger() != 0)
		_exit(126);
	STEP((rc = mpf_connect(&o, &c, &error)) == 0);
	if (phase == 1) {
		STEP((rc = masked_rule(c, 0, 0, 0, &zero[0], &error)) == 0);
		STEP((rc = masked_rule(c, 1, 0, MPF_FLOW_PERSISTENT, &handle, &error)) == 0);
		STEP((rc = masked_rule(c, 2, 0, 0, &handle, &error)) == 0);
		STEP((rc = masked_rule(c, 3, 0, 0, &handle, &error)) == 0);
		STEP((rc = masked_rule(c, 4, 0, 0, &handle, &error)) == -ENOMEM &&
		     strstr(error.message,
			    "uid 65534's rules are in its quota of 4 mask tables, each met by "
			    "every frame"));
		STEP((rc = masked_rule(c, 8, 0, MPF_FLOW_PERSISTENT, &handle, &error)) == -ENOMEM);
		STEP((rc = masked_rule(c, 2, 1, 0, &handle, &error)) == 0);
		STEP((rc = masked_rule(c, 0, 1, 0, &zero[1], &error)) == 0);
		STEP((rc = mpf_flow_destroy(c, 0, zero[0], &error)) == 0);
		STEP((rc = masked_rule(c, 8, 0, 0, &handle, &error)) == -ENOMEM);
		STEP((rc = mpf_flow_destroy(c, 0, zero[1], &error)) == 0);
		STEP((rc = masked_rule(c, 8, 0, 0, &handle, &error)) == 0);
	} else {
		for (unsigned bit = 4; bit <= 6; bit++)
			STEP((rc = masked_rule(c, bit, 0, 0, &handle, &error)) == 0);
		STEP((rc = masked_rule(c, 7, 0, 0, &handle, &error)) == -ENOMEM);
	}
	STEP((rc = mpf_audit(c, &error)) > 0);
	mpf_disconnect(c);
	_exit(0);
}

/* Root's rules in the tables of bits 8-13: not held. */
static void owner_masks(struct mpf_client *mine)
{
	struct mpf_flow_error error;
	uint64_t handle;

	for (unsigned bit = 8; bit <= 13; bit++)
		assert_int_equal(masked_rule(mine, bit, 1, MPF_FLOW_PERSISTENT, &handle, &error),
				 0);
}

/*
 * The soft backend looks every frame of a port up in each of its mask
 * tables (tuples) in turn: an attacker's 2,000 keyed rules of as many
 * masks, made by another allowed user, took a port from 14-20 million
 * frames a second to 24-30 thousand, every user's traffic with it, and
 * escaped the slow path's quota. Another user's rules are in
 * --user-max-masks tables at most (4 here), a table root made counting
 * as one more; the next is refused with ENOMEM saying so, a rule in a
 * table it is in is not, a table freed of its rules frees a place, and a
 * persistent rule's counts after a restart. Root is not held (6 tables).
 */
static void test_another_user_holds_its_quota_of_mask_tables(void **state)
{
	const char *args[] = {"--allow-group", "65534", "--user-max-masks", "4", NULL};

	(void)state;
	quota_around_a_restart(args, owner_masks, stranger_masks);
}

/* A rule whose request is long (4 RSS actions of 512 queues and a 64-byte
 * key: about 4.3 KB packed) but that the backend keys: its text is in the
 * rule heap, and it is not on the slow path. */
static int long_rule(struct mpf_client *c, uint32_t n, uint32_t flags, uint64_t *handle,
		     struct mpf_flow_error *error)
{
	static uint16_t queues[512];
	static uint8_t key[64];
	struct mpf_flow_action_rss rss = {
		.key_len = sizeof(key), .queue_num = 512, .key = key, .queue = queues};
	struct mpf_flow_item_ipv4 ip = {.hdr.src_addr = htonl(0x0a000000u | n)};
	struct mpf_flow_item_ipv4 mask = {.hdr.src_addr = 0xffffffff};
	struct mpf_flow_item pattern[] = {
		{.type = MPF_FLOW_ITEM_TYPE_ETH},
		{.type = MPF_FLOW_ITEM_TYPE_IPV4, .spec = &ip, .mask = &mask},
		{.type = MPF_FLOW_ITEM_TYPE_END}};
	struct mpf_flow_action actions[5];

	for (unsigned i = 0; i < 512; i++)
		queues[i] = (uint16_t)(i % 4);
	for (unsigned i = 0; i < 64; i++)
		key[i] = (uint8_t)(i * 37 + 1);
	for (unsigned i = 0; i < 4; i++)
		actions[i] =
			(struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_RSS, .conf = &rss};
	actions[4] = (struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_END};
	return mpf_flow_create(c, 0, &ingress, pattern, actions, flags, handle, error);
}

/* The stranger fills what it may of the rule heap, in two sessions and
 * with persistent rules too, until it is refused; then it writes the
 * number of the check that failed (0: none) to `done` and holds its
 * sessions. */
static void stranger_fills_the_heap(const struct primary *p, int done)
{
	struct mpf_connect_options o = {.runtime_dir = p->dir, .primary_uid = 0};
	struct mpf_flow_error error = {.message = ""};
	struct mpf_client *c[2];
	char failed = 0;
	uint64_t handle;
	uint32_t n = 0;
	int rc = 0;

	if (become_stranger() != 0)
		_exit(126);
	if (mpf_connect(&o, &c[0], &error) != 0 || mpf_connect(&o, &c[1], &error) != 0)
		failed = 1;
	while (!failed &&
	       (rc = long_rule(c[n % 2], n, n % 3 ? 0 : MPF_FLOW_PERSISTENT, &handle, &error)) == 0)
		n++;
	if (!failed &&
	    (n < 40 || rc != -ENOMEM ||
	     !strstr(error.message, "uid 65534's rules already take half of the rule heap")))
		failed = 2;
	if (!failed && (rc = mpf_audit(c[0], &error)) <= 0)
		failed = 3;
	if (failed)
		fprintf(stderr, "stranger, step %d: %d after %u rules: %s\n", failed, rc, n,
			error.message);
	if (write(done, &failed, 1) != 1)
		_exit(1);
	sleep(60); /* holding them, until killed (bounded, should the test fail) */
	_exit(0);
}

/*
 * The rule heap holds the requests longer than a directory entry: another
 * allowed user made fast-path rules long with RSS actions and filled the
 * whole heap with 4% of the table (an attacker's test: 2,898 rules of
 * 65,536), and the owner's longer rules were refused ENOSPC from then on.
 * Another user's rules, its sessions' and its persistent ones together,
 * take half of the heap at most, as they take half the table: the next is
 * refused with ENOMEM saying so, and the owner makes its own.
 */
static void test_another_user_takes_half_of_the_rule_heap_at_most(void **state)
{
	struct mpf_flow_error error;
	struct mpf_client *mine;
	struct primary p;
	int done[2], status;
	uint64_t handle;
	pid_t stranger;
	char failed = 1;

	(void)state;
	if (!start_for_the_stranger(&p, "--max-rules", "1024"))
		skip();
	assert_int_equal(pipe(done), 0);
	stranger = fork();
	if (stranger == 0)
		stranger_fills_the_heap(&p, done[1]);
	close(done[1]);
	if (read(done[0], &failed, 1) != 1 || failed != 0) {
		kill(stranger, SIGKILL);
		waitpid(stranger, &status, 0);
		primary_cleanup(&p);
		fail_msg("the stranger failed at check %d", failed);
	}
	assert_int_equal(primary_connect(&p, "owner", &mine), 0);
	for (uint32_t i = 0; i < 40; i++)
		if (long_rule(mine, 1000 + i, i % 2 ? MPF_FLOW_PERSISTENT : 0, &handle, &error) !=
		    0)
			fail_msg("the owner's long rule %u: %s", i, error.message);
	assert_true(mpf_audit(mine, &error) > 0);
	kill(stranger, SIGKILL);
	assert_int_equal(waitpid(stranger, &status, 0), stranger);
	close(done[0]);
	mpf_disconnect(mine);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* Each meter object is the primary's memory: 4,096 are made (syncs
 * grouped over 8 clients), the next one is refused with ENOMEM saying so,
 * and one is made again once one goes. */
#define METERS_MAX   4096u
#define METER_MAKERS 8u

struct meter_maker {
	const struct primary *p;
	uint32_t first;
	unsigned made;
};

static void *make_meters(void *arg)
{
	struct meter_maker *m = arg;
	struct mpf_meter_params meter = {.cir = 1000, .cbs = 1500, .pir = 2000, .pbs = 3000};
	struct mpf_flow_error error;
	struct mpf_client *c;

	if (primary_connect(m->p, "meters", &c) != 0)
		return NULL;
	for (uint32_t i = 0; i < METERS_MAX / METER_MAKERS; i++)
		m->made += mpf_meter_create(c, 0, m->first + i, &meter, &error) == 0;
	mpf_disconnect(c);
	return NULL;
}

static void test_meter_objects_are_bounded(void **state)
{
	struct mpf_meter_params meter = {.cir = 1000, .cbs = 1500, .pir = 2000, .pbs = 3000};
	struct meter_maker makers[METER_MAKERS];
	pthread_t threads[METER_MAKERS];
	struct mpf_flow_error error;
	struct mpf_client *c;
	struct primary p;
	unsigned made = 0;

	(void)state;
	assert_int_equal(primary_start(&p, NULL), 0);
	for (unsigned i = 0; i < METER_MAKERS; i++) {
		makers[i] = (struct meter_maker){.p = &p, .first = i * (METERS_MAX / METER_MAKERS)};
		assert_int_equal(pthread_create(&threads[i], NULL, make_meters, &makers[i]), 0);
	}
	for (unsigned i = 0; i < METER_MAKERS; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		made += makers[i].made;
	}
	assert_int_equal(made, METERS_MAX);
	assert_int_equal(primary_connect(&p, "one more", &c), 0);
	assert_int_equal(mpf_meter_create(c, 0, METERS_MAX, &meter, &error), -ENOMEM);
	assert_non_null(strstr(error.message, "holds 4096 meters"));
	assert_int_equal(mpf_meter_destroy(c, 0, 7, &error), 0);
	assert_int_equal(mpf_meter_create(c, 0, METERS_MAX, &meter, &error), 0);
	mpf_disconnect(c);
	assert_int_equal(primary_cleanup(&p), 0);
}

static void test_a_hello_with_bytes_after_it_is_refused(void **state)
{
	struct handshake_hello hello = {
		.magic = HANDSHAKE_MAGIC, .version = HANDSHAKE_VERSION, .name = "long"};
	uint8_t message[sizeof(hello) + 8] = {0};
	struct handshake_welcome welcome;
	struct primary p;
	int sock;

	(void)state;
	assert_int_equal(primary_start(&p, NULL), 0);
	sock = connect_socket(&p);
	assert_true(sock >= 0);
	memcpy(message, &hello, sizeof(hello));
	assert_int_equal(send(sock, message, sizeof(message), 0), (ssize_t)sizeof(message));
	assert_int_equal(recv(sock, &welcome, sizeof(welcome), 0), (ssize_t)sizeof(welcome));
	assert_int_equal(welcome.status, -EPROTO);
	assert_non_null(strstr(welcome.reason, "48 bytes"));
	close(sock);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* Submit one encoded request on a raw session and wait for its answer. */
static int raw_call(struct raw_session *raw, const void *msg, int length)
{
	struct wire_completion done;
	uint8_t buf[WIRE_MSG_MAX];
	int n;

	assert_true(length > 0);
	assert_int_equal(ring_enqueue(&raw->requests, msg, (uint32_t)length), 0);
	for (int i = 0; i < 200000; i++) {
		n = ring_dequeue(&raw->completions, buf, sizeof(buf));
		if (n > 0) {
			assert_int_equal(wire_decode_completion(buf, (size_t)n, &done), 0);
			return done.status;
		}
		if (i > 1000)
			usleep(50);
	}
	fail_msg("no completion");
	return 0;
}

static uint64_t shmem_kib(void)
{
	char line[128];
	unsigned long long kib = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Shmem: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void test_queues_attached_in_a_loop_pin_no_memory(void **state)
{
	const char *const args[] = {"--queues", "4", "--client-max-queues", "2", NULL};
	struct mpf_flow_error error;
	uint8_t msg[256];
	struct raw_session raw;
	struct primary p;
	uint64_t before, after;
	unsigned attached = 0, refused = 0;

	(void)state;
	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(raw_connect(&p, &raw), 0);
	assert_int_equal(raw.status, 0);
	before = shmem_kib();
	/* The memfds come on the socket, which this client never reads: while
	 * the first queue's fds wait there, every attach is refused (EAGAIN),
	 * so a client that never reads keeps three of the primary's fds in
	 * flight, not one queue's per attach until its socket is full (278
	 * attaches, 556 fds: 36 such sessions locked everyone out at an
	 * open-file limit of 20,000). */
	for (int i = 0; i < 300; i++) {
		int err = raw_call(
			&raw, msg,
			wire_encode_rxq(msg, sizeof(msg), WIRE_OP_RXQ_ATTACH, 1, 0, 1, &error));

		if (err == -EAGAIN) {
			refused++;
			continue;
		}
		assert_int_equal(err, 0);
		attached++;
		assert_int_equal(raw_call(&raw, msg,
					  wire_encode_rxq(msg, sizeof(msg), WIRE_OP_RXQ_DETACH, 2,
							  0, 1, &error)),
				 0);
	}
	after = shmem_kib();
	print_message("300 attaches: %u passed, %u refused while its fds were unread; shared "
		      "memory %+lld KiB\n",
		      attached, refused, (long long)after - (long long)before);
	assert_int_equal(attached, 1);
	assert_int_equal(refused, 299);
	/* One 2 MiB ring; not 300 of them. */
	assert_true(after < before + 16384);
	/* And the bound on queues held at once (on a socket read again). */
	for (uint16_t q = 0; q < 2; q++) {
		fdpass_discard(raw.sock);
		assert_int_equal(raw_call(&raw, msg,
					  wire_encode_rxq(msg, sizeof(msg), WIRE_OP_RXQ_ATTACH, 3,
							  0, q, &error)),
				 0);
	}
	fdpass_discard(raw.sock);
	assert_int_equal(
		raw_call(&raw, msg,
			 wire_encode_rxq(msg, sizeof(msg), WIRE_OP_RXQ_ATTACH, 4, 0, 2, &error)),
		-EDQUOT);
	raw_close(&raw);
	assert_int_equal(primary_cleanup(&p), 0);
}

/*
 * A session's rings are the primary's memory (it wrote them in): they go
 * when the session ends, though its client keeps the memfd and its
 * mapping. (They stayed until the client let go: a client reconnecting
 * and keeping each mapping pinned 768 KiB of the primary's memory a
 * session, and 254 sessions had a 200 MiB cgroup's OOM killer end the
 * primary.)
 */
static void test_an_ended_session_leaves_none_of_its_memory(void **state)
{
	struct raw_session raw;
	struct primary p;
	struct stat st;
	int waited = 0;

	(void)state;
	assert_int_equal(primary_start(&p, NULL), 0);
	assert_int_equal(raw_connect(&p, &raw), 0);
	assert_int_equal(raw.status, 0);
	assert_int_equal(fstat(raw.fds[0], &st), 0);
	assert_true(st.st_blocks > 0);
	close(raw.sock); /* the session ends; its memfd and mapping are kept */
	raw.sock = -1;
	do {
		usleep(10000);
		assert_int_equal(fstat(raw.fds[0], &st), 0);
	} while (st.st_blocks > 0 && ++waited < 500);
	print_message("the ended session's memfd: %lld blocks after %d ms\n",
		      (long long)st.st_blocks, waited * 10);
	assert_int_equal(st.st_blocks, 0);
	raw_close(&raw);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* The stranger's connect: its status, the reason said in `wanted`. */
static int stranger_connects(const struct primary *p, const char *wanted)
{
	struct mpf_connect_options o = {.runtime_dir = p->dir, .primary_uid = 0};
	pid_t stranger = fork();
	int status;

	if (stranger == 0) {
		struct mpf_flow_error error = {0};
		struct mpf_client *c;
		int err;

		if (become_stranger() != 0)
			_exit(126);
		err = mpf_connect(&o, &c, &error);
		if (err == 0)
			mpf_disconnect(c);
		_exit(err == 0			      ? 0
		      : err != -ENOMEM		      ? 2
		      : wanted == NULL		      ? 3
		      : strstr(error.message, wanted) ? 1
						      : 4);
	}
	assert_int_equal(waitpid(stranger, &status, 0), stranger);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * Near its memory cgroup's limit (a tree the test writes, which
 * mpflowd-faults reads in place of the system's) the primary sets up no
 * session for another user (ENOMEM, saying so): its rings would be the
 * primary's memory, where the OOM killer meets the limit. The primary's
 * own user still connects, out of the reserve, to destroy rules; with
 * room again the other user is served. (Sessions were set up to the
 * limit before: an allowed user's 254 of them had a 200 MiB cgroup's OOM
 * killer end the primary.)
 */
static void test_near_the_memory_limit_another_user_gets_no_session(void **state)
{
	const char *faulty = getenv("MPFLOWD_FAULTS");
	char plain[256], tree[64], svc[128], text[96];
	unsigned long long limit = 1ull << 30;
	struct mpf_client *c;
	struct primary p;
	bool started;

	(void)state;
	if (faulty == NULL || geteuid() != 0 || getgrgid(STRANGER) == NULL)
		skip();
	snprintf(plain, sizeof(plain), "%s", getenv("MPFLOWD"));
	snprintf(text, sizeof(text), "%llu\n", limit);
	fake_memcg_make(tree, sizeof(tree), svc, sizeof(svc), text);
	setenv("MPFLOWD", faulty, 1);
	started = start_for_the_stranger(&p, NULL, NULL);
	setenv("MPFLOWD", plain, 1);
	assert_true(started);
	assert_int_equal(stranger_connects(&p, NULL), 0);
	/* 16 MiB left: less than the reserve. */
	snprintf(text, sizeof(text), "%llu\n", limit - (16ull << 20));
	put_file(svc, "memory.current", text);
	assert_int_equal(stranger_connects(&p, "the memory cgroup leaves 16 MiB"), 1);
	assert_int_equal(primary_connect(&p, "owner", &c), 0);
	mpf_disconnect(c);
	put_file(svc, "memory.current", "0\n");
	assert_int_equal(stranger_connects(&p, NULL), 0);
	assert_int_equal(primary_cleanup(&p), 0);
	unsetenv("MPFLOW_MEMCG_SELF");
	unsetenv("MPFLOW_MEMCG_ROOT");
	snprintf(text, sizeof(text), "rm -rf '%s'", tree);
	assert_int_equal(system(text), 0);
}

/*
 * A client keeps one detached queue's memory at most, for the queue it
 * may attach again. Attaching every queue in turn, one at a time, pins no
 * more than that. (Before, each queue kept its own spare per client: 32
 * queues attached in turn held 32 rings, and at --queues 32768 an allowed
 * user could pin about 128 GB while holding none.)
 */
static void test_queues_attached_in_turn_pin_one_spare(void **state)
{
	const char *const args[] = {"--queues", "32", "--client-max-queues", "2", NULL};
	struct mpf_flow_error error;
	struct mpf_client *c;
	struct mpf_rxq *q;
	struct primary p;
	uint64_t before, after;

	(void)state;
	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(primary_connect(&p, "in-turn", &c), 0);
	before = shmem_kib();
	for (int round = 0; round < 2; round++)
		for (uint16_t i = 0; i < 32; i++) {
			assert_int_equal(mpf_rxq_attach(c, 0, i, &q, &error), 0);
			assert_int_equal(mpf_rxq_detach(q, &error), 0);
		}
	after = shmem_kib();
	print_message("32 queues attached in turn, twice: shared memory %+lld KiB\n",
		      (long long)after - (long long)before);
	/* One spare of a 2 MiB ring per datapath worker; 32 would be 64 MiB
	 * a worker. */
	assert_true(after < before + 16384);
	mpf_disconnect(c);
	assert_int_equal(primary_cleanup(&p), 0);
}

struct auditor {
	struct mpf_client *client;
	int status;
	volatile int done;
};

static void *audit_thread(void *arg)
{
	struct auditor *a = arg;
	struct mpf_flow_error error;

	a->status = mpf_audit(a->client, &error);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static double elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

/* Connect, say a monitor's hello, hang up; as fast as it can for `seconds`. */
static void connection_flood(const struct primary *p, unsigned seconds)
{
	struct handshake_hello hello = {.magic = HANDSHAKE_MAGIC,
					.version = HANDSHAKE_VERSION,
					.flags = HANDSHAKE_HELLO_MONITOR,
					.name = "flood"};
	time_t end = time(NULL) + seconds;
	unsigned long made = 0;

	while (time(NULL) < end) {
		int sock = connect_socket(p);

		if (sock >= 0) {
			made += send(sock, &hello, sizeof(hello), MSG_NOSIGNAL) == sizeof(hello);
			close(sock);
		}
	}
	_exit(made > 1000 ? 0 : 1);
}

/*
 * Two processes connecting and hanging up as fast as they can do not keep
 * the loop from its clients: the primary takes 16 connections a round and
 * serves its sessions in between. A client's synchronous creates, each
 * with a 2 s timeout, are all answered meanwhile. (Before, the loop
 * accepted until the backlog was empty, which a flood seldom lets it be:
 * a create waited 3 s, and 7.5 s in an attacker's longer flood.)
 */
static void test_a_flood_of_connections_cannot_starve_the_clients(void **state)
{
	const struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(END)};
	const struct mpf_flow_action drop[] = {ACTION(DROP, NULL), ACTION(END, NULL)};
	struct mpf_connect_options o = {.name = "legit", .timeout_ms = 2000};
	struct mpf_flow_error error;
	struct mpf_client *c;
	struct timespec since;
	struct primary p;
	pid_t flood[2];
	double worst = 0;
	int status;

	(void)state;
	assert_int_equal(primary_start(&p, NULL), 0);
	o.runtime_dir = p.dir;
	assert_int_equal(mpf_connect(&o, &c, &error), 0);
	for (int i = 0; i < 2; i++) {
		flood[i] = fork();
		if (flood[i] == 0)
			connection_flood(&p, 6);
	}
	clock_gettime(CLOCK_MONOTONIC, &since);
	while (elapsed_ms(&since) < 6000) {
		struct timespec t;
		uint64_t handle;

		clock_gettime(CLOCK_MONOTONIC, &t);
		assert_int_equal(mpf_flow_create(c, 0, &ingress, pattern, drop, 0, &handle, &error),
				 0);
		assert_int_equal(mpf_flow_destroy(c, 0, handle, &error), 0);
		if (elapsed_ms(&t) > worst)
			worst = elapsed_ms(&t);
		usleep(50000);
	}
	print_message("the slowest create + destroy during the flood: %.1f ms\n", worst);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(waitpid(flood[i], &status, 0), flood[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	mpf_disconnect(c);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* An audit of `c` that took between 5 ms and 100 ms (the next one then
 * waits 200 times as long past the burst, up to 20 s): its time; 0 where
 * it took less (more rules then make one worth testing), -1 where this
 * build is too slow (TSan) for a test to see the ration. */
static double audit_worth_testing(struct mpf_client *c)
{
	struct mpf_flow_error error;
	struct timespec start;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_true(mpf_audit(c, &error) >= 0);
	ms = elapsed_ms(&start);
	if (ms < 5)
		return 0;
	if (200 * ms > 20000) {
		print_message("an audit took %.1f ms: not a case to test here\n", ms);
		return -1;
	}
	return ms;
}

static void test_audits_are_rationed_and_others_served_meanwhile(void **state)
{
	struct auditor second = {0};
	struct mpf_flow_error error;
	struct mpf_client *c, *bystander;
	struct timespec start;
	struct sample_rule s;
	struct primary p;
	pthread_t thread;
	double first_ms;

	(void)state;
	assert_int_equal(primary_start(&p, (const char *const[]){"--max-rules", "262144", NULL}),
			 0);
	assert_int_equal(primary_connect(&p, "auditor", &c), 0);
	assert_int_equal(primary_connect(&p, "bystander", &bystander), 0);
	assert_int_equal(sample_rules_load(c, 1u << 20, 50000, 0), 0);
	first_ms = audit_worth_testing(c);
	if (first_ms == 0) {
		/* A fast machine: four times the rules, once the ration is
		 * back (200 times the first audit's under 5 ms). */
		assert_int_equal(sample_rules_load(c, (1u << 20) + 50000, 150000, 0), 0);
		usleep(1500000);
		first_ms = audit_worth_testing(c);
	}
	if (first_ms <= 0) {
		mpf_disconnect(c);
		mpf_disconnect(bystander);
		assert_int_equal(primary_cleanup(&p), 0);
		skip();
	}
	/* The next audit waits its turn (200 times what the first took past
	 * the 2 ms burst); the primary serves others meanwhile. */
	second.client = c;
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_int_equal(pthread_create(&thread, NULL, audit_thread, &second), 0);
	for (uint32_t i = 0; i < 100; i++) {
		uint64_t handle;

		sample_rule_init(&s, i);
		assert_int_equal(mpf_flow_create(bystander, 0, &ingress, s.pattern, s.actions, 0,
						 &handle, &error),
				 0);
	}
	assert_false(__atomic_load_n(&second.done, __ATOMIC_ACQUIRE));
	pthread_join(thread, NULL);
	assert_true(second.status >= 0);
	print_message("first audit %.1f ms; the second answered after %.0f ms, 100 creates of "
		      "another client served meanwhile\n",
		      first_ms, elapsed_ms(&start));
	assert_true(elapsed_ms(&start) >= 100 * (first_ms - 3));
	mpf_disconnect(c);
	mpf_disconnect(bystander);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* Audits draw on two rations: the instance's users' and other users'. The
 * stranger audits (its next audit then waits for its turn, 200 times as
 * long); the owner's first audit runs at once, its ration untouched. With
 * one ration for all, a hundred of another user's sessions looping audits
 * kept the owner's waiting 76 s. */
static void test_another_users_audits_draw_on_a_ration_of_their_own(void **state)
{
	struct mpf_flow_error error;
	struct timespec start;
	struct mpf_client *owner;
	struct primary p;
	double theirs = -1, mine;
	pid_t stranger;
	int ready[2], status;

	(void)state;
	if (!start_for_the_stranger(&p, "--max-rules", "131072"))
		skip();
	assert_int_equal(primary_connect(&p, "owner", &owner), 0);
	assert_int_equal(sample_rules_load(owner, 0, 50000, 0), 0); /* an audit's milliseconds */
	assert_int_equal(pipe(ready), 0);
	stranger = fork();
	if (stranger == 0) {
		struct mpf_client *c;

		if (become_stranger() != 0 || primary_connect(&p, "stranger", &c) != 0)
			_exit(126);
		theirs = audit_worth_testing(c);
		if (write(ready[1], &theirs, sizeof(theirs)) != sizeof(theirs))
			_exit(1);
		/* Each waits for its turn; bounded, should the test end without
		 * killing it. */
		for (time_t end = time(NULL) + 60; time(NULL) < end;)
			if (mpf_audit(c, &error) < 0)
				_exit(2);
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &theirs, sizeof(theirs)), sizeof(theirs));
	close(ready[0]);
	if (theirs > 0) {
		clock_gettime(CLOCK_MONOTONIC, &start);
		assert_true(mpf_audit(owner, &error) >= 0);
		mine = elapsed_ms(&start);
		print_message("the stranger's audit %.1f ms; the owner's, beside its next one "
			      "waiting its turn, %.1f ms\n",
			      theirs, mine);
		/* One ration: it would wait 200 times the stranger's past 2 ms. */
		assert_true(mine < 10 * theirs + 50);
	}
	kill(stranger, SIGKILL);
	assert_int_equal(waitpid(stranger, &status, 0), stranger);
	mpf_disconnect(owner);
	assert_int_equal(primary_cleanup(&p), 0);
	if (theirs < 0)
		skip();
}

/* Encode a BATCH of the given encoded requests. */
static int batch(uint8_t *out, size_t cap, uint8_t parts[][512], const int *lengths, unsigned n)
{
	struct wire_batch_writer w;

	assert_int_equal(wire_batch_begin(&w, out, cap, 99, false), 0);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(wire_batch_add(&w, parts[i], (size_t)lengths[i]), 0);
	return wire_batch_finish(&w);
}

static void test_a_flush_in_a_batch_runs_in_slices_and_keeps_order(void **state)
{
	enum { RULES = 20000 };
	struct mpf_completion done[64];
	struct mpf_flow_error error;
	struct wire_completion answers[3];
	struct mpf_client *loader, *bystander;
	uint8_t parts[3][512], msg[2048], buf[WIRE_MSG_MAX];
	int lengths[3], got = 0;
	struct sample_rule s;
	struct raw_session raw;
	struct primary p;
	uint64_t mine;

	(void)state;
	assert_int_equal(primary_start(&p, (const char *const[]){"--max-rules", "65536", NULL}), 0);
	assert_int_equal(raw_connect(&p, &raw), 0);
	assert_int_equal(raw.status, 0);
	/* 20,000 rules of the raw client, the last one in the batch. */
	for (uint32_t i = 0; i < RULES - 1; i++) {
		sample_rule_init(&s, i);
		assert_int_equal(
			raw_call(&raw, msg,
				 wire_encode_rule(msg, sizeof(msg), WIRE_OP_CREATE, i, 0, false,
						  &ingress, s.pattern, s.actions, &error)),
			0);
	}
	sample_rule_init(&s, RULES);
	lengths[0] = wire_encode_rule(parts[0], sizeof(parts[0]), WIRE_OP_CREATE, 1, 0, false,
				      &ingress, s.pattern, s.actions, &error);
	lengths[1] = wire_encode_flush(parts[1], sizeof(parts[1]), 2, 0, false, &error);
	sample_rule_init(&s, RULES + 1);
	lengths[2] = wire_encode_rule(parts[2], sizeof(parts[2]), WIRE_OP_CREATE, 3, 0, false,
				      &ingress, s.pattern, s.actions, &error);
	assert_int_equal(ring_enqueue(&raw.requests, msg,
				      (uint32_t)batch(msg, sizeof(msg), parts, lengths, 3)),
			 0);

	/* A bystander is served while the flush runs. */
	assert_int_equal(primary_connect(&p, "bystander", &bystander), 0);
	sample_rule_init(&s, 1u << 20);
	assert_int_equal(
		mpf_flow_create(bystander, 0, &ingress, s.pattern, s.actions, 0, &mine, &error), 0);

	for (int i = 0; i < 20000 && got < 3; i++) {
		int n = ring_dequeue(&raw.completions, buf, sizeof(buf));

		if (n > 0)
			assert_int_equal(wire_decode_completion(buf, (size_t)n, &answers[got++]),
					 0);
		else
			usleep(1000);
	}
	assert_int_equal(got, 3);
	/* In order: the create, the flush that took it with the rest, the
	 * create after it, which stays. */
	assert_int_equal(answers[0].user_data, 1);
	assert_int_equal(answers[0].status, 0);
	assert_int_equal(answers[1].user_data, 2);
	assert_int_equal(answers[1].status, 0);
	assert_int_equal(answers[1].count, RULES);
	assert_int_equal(answers[2].user_data, 3);
	assert_int_equal(answers[2].status, 0);
	assert_int_equal(region_rules(&raw), 2); /* the last create and the bystander's */
	assert_true(mpf_audit(bystander, &error) >= 0);

	/* A client leaving 20,000 rules behind: destroyed in slices, none
	 * left, the others served meanwhile. */
	assert_int_equal(primary_connect(&p, "loader", &loader), 0);
	for (uint32_t i = 0; i < RULES; i++) {
		sample_rule_init(&s, 2 * RULES + i);
		while (mpf_submit_create(loader, 0, &ingress, s.pattern, s.actions, 0, i, &error) ==
		       -EAGAIN)
			assert_true(mpf_poll(loader, done, 64, 1000) > 0);
	}
	while (mpf_inflight(loader) > 0)
		assert_true(mpf_poll(loader, done, 64, 1000) >= 0);
	mpf_disconnect(loader);
	sample_rule_init(&s, (1u << 20) + 1);
	assert_int_equal(
		mpf_flow_create(bystander, 0, &ingress, s.pattern, s.actions, 0, &mine, &error), 0);
	for (int i = 0; i < 1000 && region_rules(&raw) != 3; i++)
		usleep(10000);
	assert_int_equal(region_rules(&raw), 3);
	assert_true(mpf_audit(bystander, &error) >= 0);
	mpf_disconnect(bystander);
	raw_close(&raw);
	assert_int_equal(primary_cleanup(&p), 0);
}

/* Every client reads every rule's request from the rule heap (to print it);
 * the user_data a client put in its request header is its own business (a
 * pointer, often) and must not be there. Another client sees the rule's
 * text and its owner's name; once the owner leaves, neither. */
static void test_the_rule_heap_shows_rules_but_not_their_user_data(void **state)
{
	const uint64_t secret = 0x7fff5ec12e7a11c0ull;
	struct primary p;
	struct raw_session raw;
	struct mpf_client *other;
	struct mpf_flow_error error;
	struct mpf_flow_info info;
	struct sample_rule s;
	struct region_entry_copy e;
	struct wire_header header;
	_Alignas(8) uint8_t msg[WIRE_MSG_MAX], request[WIRE_MSG_MAX];
	uint8_t packed[PACK_MAX];
	uint32_t cursor = 0;
	int length;

	(void)state;
	assert_int_equal(primary_start(&p, (const char *const[]){"--max-rules", "64", NULL}), 0);
	assert_int_equal(raw_connect(&p, &raw), 0);
	assert_int_equal(raw.status, 0);
	sample_rule_init(&s, 9);
	assert_int_equal(raw_call(&raw, msg,
				  wire_encode_rule(msg, sizeof(msg), WIRE_OP_CREATE, secret, 0,
						   false, &ingress, s.pattern, s.actions, &error)),
			 0);
	assert_int_equal(region_entry_read(&raw.view, 0, &e, packed, sizeof(packed)), 0);
	assert_null(memmem(packed, e.entry.rule_length, &secret, sizeof(secret)));
	length = rule_unpack(packed, e.entry.rule_length, request, sizeof(request), NULL);
	assert_true(length > (int)sizeof(header));
	memcpy(&header, request, sizeof(header));
	assert_int_equal(header.op, WIRE_OP_CREATE);
	assert_int_equal(header.user_data, 0);
	assert_null(memmem(request, (size_t)length, &secret, sizeof(secret)));

	assert_int_equal(primary_connect(&p, "other", &other), 0);
	assert_int_equal(mpf_flow_next(other, &cursor, &info), 1);
	assert_string_equal(info.owner_name, "raw");
	assert_string_equal(info.text, "ingress pattern eth / ipv4 src is 10.0.0.9 / udp / end "
				       "actions count / queue index 1 / end");
	raw_close(&raw);
	for (int i = 0; i < 2000 && (cursor = 0, mpf_flow_next(other, &cursor, &info)) == 1; i++)
		usleep(1000);
	cursor = 0;
	assert_int_equal(mpf_flow_next(other, &cursor, &info), 0);
	mpf_disconnect(other);
	assert_int_equal(primary_cleanup(&p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_another_user_cannot_take_every_session),
		cmocka_unit_test(test_another_user_holds_half_the_table_at_most),
		cmocka_unit_test(test_another_user_holds_its_quota_of_persistent_rules),
		cmocka_unit_test(test_another_user_holds_its_quota_of_slow_path_rules),
		cmocka_unit_test(test_another_user_takes_half_of_the_rule_heap_at_most),
		cmocka_unit_test(test_another_user_holds_its_quota_of_mask_tables),
		cmocka_unit_test(test_meter_objects_are_bounded),
		cmocka_unit_test(test_silent_connections_cannot_keep_others_out),
		cmocka_unit_test(test_another_users_sessions_are_all_served_in_turn),
		cmocka_unit_test(test_unread_monitor_welcomes_are_bounded),
		cmocka_unit_test(test_sessions_ended_unread_are_bounded),
		cmocka_unit_test(test_a_port_reset_waits_for_the_datapath_without_the_loop),
		cmocka_unit_test(test_a_flood_of_connections_cannot_starve_the_clients),
		cmocka_unit_test(test_a_hello_with_bytes_after_it_is_refused),
		cmocka_unit_test(test_queues_attached_in_a_loop_pin_no_memory),
		cmocka_unit_test(test_queues_attached_in_turn_pin_one_spare),
		cmocka_unit_test(test_an_ended_session_leaves_none_of_its_memory),
		cmocka_unit_test(test_near_the_memory_limit_another_user_gets_no_session),
		cmocka_unit_test(test_audits_are_rationed_and_others_served_meanwhile),
		cmocka_unit_test(test_another_users_audits_draw_on_a_ration_of_their_own),
		cmocka_unit_test(test_a_flush_in_a_batch_runs_in_slices_and_keeps_order),
		cmocka_unit_test(test_the_rule_heap_shows_rules_but_not_their_user_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
