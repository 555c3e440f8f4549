/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The handshake on the instance's SOCK_SEQPACKET socket: the client sends a
 * hello, the primary answers a welcome (status 0, with four fds by
 * SCM_RIGHTS) or a refusal (status -errno and a reason). The socket then
 * stays open, silent, for the client's lifetime: its hang-up is how each
 * side learns the other is gone.
 *
 * Fds of a welcome, in this order:
 *   HANDSHAKE_FD_CLIENT_MEMFD   the client's rings (read-write, sealed size)
 *   HANDSHAKE_FD_REGION         counters + rule directory (sealed read-only)
 *   HANDSHAKE_FD_PRIMARY_BELL   the client rings it when it needs the primary
 *   HANDSHAKE_FD_CLIENT_BELL    the primary rings it when it needs the client
 *
 * A hello with HANDSHAKE_HELLO_MONITOR asks for the region alone: the
 * welcome passes one fd (HANDSHAKE_FD_REGION's, at index 0) and the primary
 * closes the connection. A monitor is not a client: no session, no rings,
 * no rules, not counted in the region's `clients`; it can send the primary
 * nothing after its hello and reads the region through a read-only mapping.
 */
#ifndef MPFLOW_SHM_HANDSHAKE_H
#define MPFLOW_SHM_HANDSHAKE_H

#include <stdint.h>

#define HANDSHAKE_MAGIC	     0x4c46504du /* "MPFL" */
#define HANDSHAKE_VERSION    1u
#define HANDSHAKE_NAME_MAX   32u
#define HANDSHAKE_REASON_MAX 128u

enum {
	HANDSHAKE_FD_CLIENT_MEMFD,
	HANDSHAKE_FD_REGION,
	HANDSHAKE_FD_PRIMARY_BELL,
	HANDSHAKE_FD_CLIENT_BELL,
	HANDSHAKE_FDS
};

#define HANDSHAKE_HELLO_MONITOR 0x1u

struct handshake_hello {
	uint32_t magic;
	uint16_t version;
	uint16_t flags;		       /* HANDSHAKE_HELLO_*; other bits must be 0 */
	char name[HANDSHAKE_NAME_MAX]; /* printable, NUL-terminated */
};
_Static_assert(sizeof(struct handshake_hello) == 40, "hello layout");

struct handshake_welcome {
	uint32_t magic;
	uint16_t version;
	uint16_t reserved;
	int32_t status; /* 0, or -errno with `reason` */
	uint32_t client_id;
	char reason[HANDSHAKE_REASON_MAX];
	uint64_t client_memfd_size;
	uint64_t request_ring_offset;	 /* in the client memfd */
	uint64_t completion_ring_offset; /* in the client memfd */
	uint64_t region_size;
	uint32_t max_rules;
	uint32_t client_max_rules;
};
_Static_assert(sizeof(struct handshake_welcome) == 184, "welcome layout");

/*
 * The primary's check of the `length` bytes a connection sent as its hello:
 * 0 with its flags and its name made printable (never empty) in `name`, or
 * -EPROTO (not a hello), -EPROTONOSUPPORT (another version), -EINVAL
 * (unknown flags) with `reason` saying so for the refusal.
 */
int handshake_check_hello(const void *bytes, size_t length, uint16_t *flags, char *name,
			  size_t name_size, char *reason, size_t reason_size);

#endif
