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

/*
 * Adaptive waits. Spin `spins` polls of the ring, then publish the need flag,
 * re-check, and sleep on our own doorbell `fd` until woken or `timeout_ms`
 * elapses (-1: forever). Spurious wakeups are absorbed.
 * Return 0 when the ring is ready (or broken: the next ring call says so),
 * -ETIMEDOUT, or -errno from poll().
 */
int ring_wait_readable(struct ring *r, int fd, unsigned spins, int timeout_ms);
int ring_wait_writable(struct ring *r, uint32_t length, int fd, unsigned spins, int timeout_ms);

#endif
