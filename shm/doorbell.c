/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "shm/doorbell.h"
#include "shm/ring.h"

int doorbell_create(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

void doorbell_ring(int fd)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: still signalled. Any other
	 * failure means the peer's fd is gone, and its hang-up is seen on the
	 * socket, not here. */
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		return;
}

void doorbell_drain(int fd)
{
	uint64_t count;

	if (fd >= 0 && read(fd, &count, sizeof(count)) < 0)
		return;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep on `fd` until it is signalled or the deadline passes. */
static int doorbell_sleep(int fd, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int timeout = -1;

	if (deadline >= 0) {
		int64_t left = deadline - monotonic_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		timeout = left > 60000 ? 60000 : (int)left;
	}
	if (poll(&pfd, 1, timeout) < 0)
		return errno == EINTR ? 0 : -errno;
	doorbell_drain(fd);
	return 0;
}

static int ring_wait(struct ring *r, uint32_t length, bool for_space, int fd, unsigned spins,
		     int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;

	for (unsigned i = 0; i < spins; i++) {
		if (for_space ? ring_writable(r, length) : ring_readable(r))
			return 0;
		shm_cpu_relax();
	}
	for (;;) {
		int err;

		if (for_space ? !ring_producer_prepare_sleep(r, length)
			      : !ring_consumer_prepare_sleep(r))
			return 0;
		err = doorbell_sleep(fd, deadline);
		if (for_space)
			ring_producer_finish_sleep(r);
		else
			ring_consumer_finish_sleep(r);
		if (err)
			return err;
	}
}

int ring_wait_readable(struct ring *r, int fd, unsigned spins, int timeout_ms)
{
	return ring_wait(r, 0, false, fd, spins, timeout_ms);
}

int ring_wait_writable(struct ring *r, uint32_t length, int fd, unsigned spins, int timeout_ms)
{
	return ring_wait(r, length, true, fd, spins, timeout_ms);
}
