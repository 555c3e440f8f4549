/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Doorbells: an eventfd per waiting side, rung only when the ring says the
 * peer asked for it (RING_NEED_WAKEUP / RING_NEED_SPACE), so a busy system
 * makes no system call per message. The ordering half of the protocol is in
 * ring.c; this file is the sleeping half.
 */
#ifndef MPFLOW_SHM_DOORBELL_H
#define MPFLOW_SHM_DOORBELL_H

#include <stdint.h>

struct ring;

/* A non-blocking, close-on-exec eventfd. Returns the fd or -errno. */
int doorbell_create(void);

/* Signal the doorbell `fd` (no-op when fd < 0). Never blocks: a counter that
 * is already huge just stays signalled. */
void doorbell_ring(int fd);

/* Consume pending signals without blocking. */
void doorbell_drain(int fd);

/* How to wait for a ring (ring_wait_readable / ring_wait_writable). */
struct ring_wait {
	int bell;	 /* our doorbell, which the peer rings */
	int hangup_fd;	 /* -1, or a socket whose hang-up means the peer is gone */
	int64_t spin_ns; /* poll the ring this long before sleeping (0: sleep at once) */
	int timeout_ms;	 /* -1: no limit */
};

/*
 * The one adaptive wait, for libmpflow's rings and RX queues and the tests:
 * poll the ring for spin_ns, then publish the need flag, look again, and
 * sleep on the doorbell (and the hang-up socket) until woken or the
 * timeout. Spurious wakeups are absorbed. Returns 0 when the ring is ready
 * (or broken: the next ring call says so), -ETIMEDOUT, -ESHUTDOWN (the
 * hang-up socket closed and the ring is not ready: what the peer published
 * before it went is still returned first), or -errno from poll().
 */
int ring_wait_readable(struct ring *r, const struct ring_wait *w);
/* The same for `n` rings that share the doorbell: 0 when any is ready. */
int ring_wait_readable_any(struct ring *rings, unsigned n, const struct ring_wait *w);
int ring_wait_writable(struct ring *r, uint32_t length, const struct ring_wait *w);

#endif
