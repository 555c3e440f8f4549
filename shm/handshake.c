/* SPDX-License-Identifier: BSD-3-Clause */
/* The primary's check of a hello: the first bytes a stranger sends it. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shm/handshake.h"

/* Printable, no spaces, never empty: the name goes into logs and the
 * directory as it is. */
static void clean_name(char *out, size_t size, const char *in, size_t in_size)
{
	size_t i;

	for (i = 0; i + 1 < size && i < in_size && in[i]; i++)
		out[i] = isprint((unsigned char)in[i]) && in[i] != ' ' ? in[i] : '?';
	out[i] = '\0';
	if (i == 0)
		snprintf(out, size, "anonymous");
}

int handshake_check_hello(const void *bytes, size_t length, uint16_t *flags, char *name,
			  size_t name_size, char *reason, size_t reason_size)
{
	struct handshake_hello hello;

	if (length != sizeof(hello)) {
		snprintf(reason, reason_size, "not an mpflow hello (%zu bytes)", length);
		return -EPROTO;
	}
	memcpy(&hello, bytes, sizeof(hello)); /* copied once, then checked */
	if (hello.magic != HANDSHAKE_MAGIC) {
		snprintf(reason, reason_size, "not an mpflow hello (magic 0x%08x)",
			 (unsigned)hello.magic);
		return -EPROTO;
	}
	if (hello.version != HANDSHAKE_VERSION) {
		snprintf(reason, reason_size, "protocol version %u, this primary speaks %u",
			 (unsigned)hello.version, HANDSHAKE_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (hello.flags & ~HANDSHAKE_HELLO_MONITOR) {
		snprintf(reason, reason_size, "unknown hello flags 0x%x", (unsigned)hello.flags);
		return -EINVAL;
	}
	*flags = hello.flags;
	clean_name(name, name_size, hello.name, sizeof(hello.name));
	return 0;
}
