/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "shm/clock.h"
#include "shm/doorbell.h"
#include "shm/ring.h"

int doorbell_create(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

int doorbell_create_outbound(int bell[2])
{
	int smallest = 1; /* the kernel's floor: about 4.5 KiB */

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, bell) != 0) {
		int err = -errno;

		bell[0] = bell[1] = -1;
		return err;
	}
	/* All a peer that never drains can make the kernel keep for it (a
	 * full buffer is still a rung bell). Best effort. */
	(void)setsockopt(bell[1], SOL_SOCKET, SO_SNDBUF, &smallest, sizeof(smallest));
	return 0;
}

void doorbell_close_outbound(int bell[2])
{
	for (int i = 0; i < 2; i++) {
		if (bell[i] >= 0)
			close(bell[i]);
		bell[i] = -1;
	}
}

void doorbell_ring(int fd)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated or the send buffer full:
	 * still signalled. Any other failure means the peer's fd is gone, and its
	 * hang-up is seen on the socket, not here. */
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		return;
}

void doorbell_drain(int fd)
{
	/* An eventfd reads as 8 bytes; a socket as what was rung, up to this. */
	uint64_t rung[64];
	struct iovec iov = {rung, sizeof(rung)};

	if (fd < 0 || preadv2(fd, &iov, 1, -1, RWF_NOWAIT) >= 0 || errno != EOPNOTSUPP)
		return;
	/* A kernel before 5.12 cannot be asked per call: the bell's own
	 * flag, which a peer holding it can clear, is all there is. */
	if (read(fd, rung, sizeof(rung)) < 0)
		return;
}

/* Signed: deadlines are compared with a possibly negative "no deadline". */
static int64_t monotonic_ns(void)
{
	return (int64_t)clock_ns(CLOCK_MONOTONIC);
}

/* Any of the rings ready (for a writer: the one ring writable). */
static bool ready(struct ring *r, unsigned n, uint32_t length, bool for_space)
{
	if (for_space)
		return ring_writable(r, length);
	for (unsigned i = 0; i < n; i++)
		if (ring_readable(&r[i]))
			return true;
	return false;
}

/* Publish the need flag on every ring; false (every flag withdrawn) if
 * one became ready meanwhile. */
static bool prepare_sleep(struct ring *r, unsigned n, uint32_t length, bool for_space)
{
	if (for_space)
		return ring_producer_prepare_sleep(r, length);
	for (unsigned i = 0; i < n; i++) {
		if (!ring_consumer_prepare_sleep(&r[i])) {
			while (i-- > 0)
				ring_consumer_finish_sleep(&r[i]);
			return false;
		}
	}
	return true;
}

static void finish_sleep(struct ring *r, unsigned n, bool for_space)
{
	if (for_space) {
		ring_producer_finish_sleep(r);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		ring_consumer_finish_sleep(&r[i]);
}

static int ring_wait(struct ring *r, unsigned rings, uint32_t length, bool for_space,
		     const struct ring_wait *w)
{
	int64_t now = monotonic_ns();
	int64_t deadline = w->timeout_ms < 0 ? -1 : now + (int64_t)w->timeout_ms * 1000000;
	int64_t spin_until = w->spin_ns > 0 ? now + w->spin_ns : 0;

	/* Poll without a system call for spin_ns; the clock is read once per
	 * 64 polls. */
	for (unsigned i = 1; spin_until; i++) {
		if (ready(r, rings, length, for_space))
			return 0;
		shm_cpu_relax();
		if (i % 64 == 0 && monotonic_ns() > spin_until)
			break;
	}
	for (;;) {
		struct pollfd pfd[2] = {{.fd = w->bell, .events = POLLIN},
					{.fd = w->hangup_fd, .events = POLLRDHUP}};
		int timeout = -1, n = 0;
		bool may_sleep;

		if (deadline >= 0) {
			int64_t left = (deadline - monotonic_ns()) / 1000000;

			timeout = left > 0 ? (left > 60000 ? 60000 : (int)left) : 0;
		}
		may_sleep = prepare_sleep(r, rings, length, for_space);
		if (!may_sleep)
			return 0;
		n = poll(pfd, w->hangup_fd >= 0 ? 2 : 1, timeout);
		finish_sleep(r, rings, for_space);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0 && (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
			/* What the peer published before it went still counts.
			 * (NVAL: the hang-up fd was closed under us.) */
			return ready(r, rings, length, for_space) ? 0 : -ESHUTDOWN;
		if (n > 0 && (pfd[0].revents & POLLNVAL))
			return -EBADF;
		/* A socket-pair bell whose ringer closed its end: the peer is
		 * gone (it would read as ready, and empty, for ever). */
		if (n > 0 && (pfd[0].revents & (POLLHUP | POLLERR)))
			return ready(r, rings, length, for_space) ? 0 : -ESHUTDOWN;
		if (n > 0)
			doorbell_drain(w->bell);
		/* The deadline holds however often we are woken. */
		if (deadline >= 0 && (timeout == 0 || monotonic_ns() >= deadline))
			return ready(r, rings, length, for_space) ? 0 : -ETIMEDOUT;
	}
}

int ring_wait_readable(struct ring *r, const struct ring_wait *w)
{
	return ring_wait(r, 1, 0, false, w);
}

int ring_wait_readable_any(struct ring *rings, unsigned n, const struct ring_wait *w)
{
	return ring_wait(rings, n, 0, false, w);
}

int ring_wait_writable(struct ring *r, uint32_t length, const struct ring_wait *w)
{
	return ring_wait(r, 1, length, true, w);
}
