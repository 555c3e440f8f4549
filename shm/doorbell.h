/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Doorbells: one per waiting side, rung only when the ring says the peer
 * asked for it (RING_NEED_WAKEUP / RING_NEED_SPACE), so a busy system makes
 * no system call per message. The ordering half of the protocol is in
 * ring.c; this file is the sleeping half.
 *
 * A bell is shared with another process over SCM_RIGHTS, which shares the
 * open file description, and with it O_NONBLOCK: the peer can clear it.
 * So no side may rely on that flag for a bell the other holds, and the
 * primary must never wait on what a client can do. Two kinds, by who
 * rings:
 *  - a bell we wait on and the peer rings: an eventfd. We only drain it,
 *    and doorbell_drain() reads with RWF_NOWAIT, asked per call;
 *  - a bell we ring and the peer waits on: a Unix stream socket pair. We
 *    write the one end no one else holds; the peer gets the other. An
 *    eventfd would not do: its write has no per-call non-blocking form,
 *    and a peer that filled its counter and cleared O_NONBLOCK would stop
 *    the ringer for good. Nor would a pipe: its writer takes the pipe's
 *    mutex, which a reader holds for as long as it likes (a splice into a
 *    full pipe), whatever O_NONBLOCK says. A socket's sender takes no lock
 *    its receiver can hold, and a full send buffer is EAGAIN.
 * doorbell_ring() and doorbell_drain() take either kind.
 */
#ifndef MPFLOW_SHM_DOORBELL_H
#define MPFLOW_SHM_DOORBELL_H

#include <stdint.h>

struct ring;

/* A bell we wait on and a peer rings: a non-blocking, close-on-exec
 * eventfd. Returns the fd or -errno. */
int doorbell_create(void);

/* A bell we ring and a peer waits on: a socket pair whose rung end has the
 * smallest send buffer (a peer that never drains holds a few KiB).
 * bell[0] is the peer's (the end it polls and drains): we send it and keep
 * it, so that the peer's end lives as long as ours. bell[1] is rung. A
 * peer can still shut its end down: ringing then fails with EPIPE and
 * raises SIGPIPE, which the primary ignores. Returns 0 or -errno (both -1
 * then). */
int doorbell_create_outbound(int bell[2]);

/* Close both ends of an outbound bell (those >= 0), and mark them -1. */
void doorbell_close_outbound(int bell[2]);

/* Signal the doorbell `fd` (no-op when fd < 0). Never blocks on our own
 * bells: a counter that is already huge, or a send buffer already full,
 * just stays signalled. */
void doorbell_ring(int fd);

/* Consume pending signals (RWF_NOWAIT: never waits, whatever the peer did
 * to the bell's flags). */
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
 * hang-up socket closed, or the bell's ringer closed its end, and the ring
 * is not ready: what the peer published before it went is still returned
 * first), or -errno from poll().
 */
int ring_wait_readable(struct ring *r, const struct ring_wait *w);
/* The same for `n` rings that share the doorbell: 0 when any is ready. */
int ring_wait_readable_any(struct ring *rings, unsigned n, const struct ring_wait *w);
int ring_wait_writable(struct ring *r, uint32_t length, const struct ring_wait *w);

#endif
