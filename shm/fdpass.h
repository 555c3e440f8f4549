/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * File descriptors across the session socket (SCM_RIGHTS), both ways: the
 * welcome's four fds, an RX queue's memfd and doorbell.
 */
#ifndef MPFLOW_SHM_FDPASS_H
#define MPFLOW_SHM_FDPASS_H

#include <stddef.h>

#define FDPASS_MAX 4

/* Send `length` bytes of `data` with `count` fds (0..FDPASS_MAX).
 * 0 or -errno. */
int fdpass_send(int sock, const void *data, size_t length, const int *fds, unsigned count);

/*
 * Receive one message of exactly `length` bytes, waiting up to timeout_ms,
 * with up to FDPASS_MAX fds (close-on-exec) into fds[] and their number in
 * *count. Returns 0, -ETIMEDOUT, -ECONNRESET (the peer closed the
 * connection), -EPROTO (wrong size, fds cut) or -errno;
 * on error no fd is left open.
 */
int fdpass_receive(int sock, void *data, size_t length, int fds[FDPASS_MAX], unsigned *count,
		   int timeout_ms);

/* Read every message waiting on `sock` now, closing the fds they carry. */
void fdpass_discard(int sock);

/* Bytes sent on `sock` that its peer has not read yet (a Unix socket's
 * SIOCOUTQ); fds sent with them are in flight until then, counted against
 * the sender's RLIMIT_NOFILE. 0 where it cannot be told. */
int fdpass_unread(int sock);

#endif
