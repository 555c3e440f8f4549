/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the handshake: the hello a stranger sends the
 * primary (handshake_check_hello), and the counters region header a client
 * or monitor checks before it reads anything in it (region_attach). The
 * first byte picks which. A crash, a sanitizer report, an errno outside the
 * documented set, a name that is not printable, or an accepted region whose
 * arrays fall outside it, is a bug.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shm/handshake.h"
#include "libclient/client.h"
#include "shm/region.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void hello(const uint8_t *data, size_t size)
{
	char name[HANDSHAKE_NAME_MAX], reason[HANDSHAKE_REASON_MAX];
	uint16_t flags;
	int rc = handshake_check_hello(data, size, &flags, name, sizeof(name), reason,
				       sizeof(reason));

	if (rc != 0) {
		if ((rc != -EPROTO && rc != -EPROTONOSUPPORT && rc != -EINVAL) ||
		    memchr(reason, '\0', sizeof(reason)) == NULL)
			abort();
		return;
	}
	if (flags & ~HANDSHAKE_HELLO_MONITOR || name[0] == '\0')
		abort();
	for (size_t i = 0; name[i]; i++)
		if (!isprint((unsigned char)name[i]) || name[i] == ' ' || i >= sizeof(name) - 1)
			abort();
}

static void region(const uint8_t *data, size_t size)
{
	static _Alignas(64) uint8_t copy[1 << 16];
	struct region_view view;
	int rc;

	if (size > sizeof(copy))
		size = sizeof(copy);
	memcpy(copy, data, size);
	rc = region_attach(&view, copy, size);
	if (rc != 0) {
		if (rc != -EPROTO && rc != -EINVAL)
			abort();
		return;
	}
	/* Accepted: every slot of every array lies inside the mapping. */
	size_t per_port = (size_t)view.pf_queues + view.vfs;
	size_t entries = (size_t)view.workers * view.n_ports;

	if ((const uint8_t *)(view.counters + view.max_rules) > copy + size ||
	    (const uint8_t *)(view.entries + view.max_rules) > copy + size ||
	    (const uint8_t *)(view.queues + entries * per_port) > copy + size ||
	    (const uint8_t *)(view.shares.base + (size_t)view.shares.n * view.max_rules) >
		    copy + size ||
	    (const uint8_t *)(view.owners + view.max_owners) > copy + size ||
	    (const uint8_t *)(view.heap + view.heap_chunks) > copy + size)
		abort();
	for (uint16_t p = 0; p < view.n_ports; p++) {
		struct region_port_set set = region_view_port(&view, p);
		uint64_t port[REGION_PORT_STATS], queues[REGION_QUEUE_STATS];

		region_port_read(&set, 0, per_port, port, queues);
	}
	for (uint32_t i = 0; i < view.max_rules; i++) {
		struct region_count count;

		region_counter_read_shared(&view.counters[i], &view.shares, i, 1, &count);
	}
	for (uint32_t b = 0; b < view.activity_blocks; b++)
		(void)region_activity_read(&view, b);
	/* Every entry as libmpflow reads it: the rule's bytes from the heap
	 * decoded and printed, the owner's name looked up. */
	for (uint32_t cursor = 0;;) {
		struct mpf_flow_info info;
		int n = client_directory_next(&view, &cursor, UINT32_MAX, &info, true);

		if (n < 0)
			abort();
		if (n == 0)
			break;
		if (memchr(info.text, '\0', sizeof(info.text)) == NULL ||
		    memchr(info.owner_name, '\0', sizeof(info.owner_name)) == NULL)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		region(data + 1, size - 1);
	else
		hello(data + 1, size - 1);
	return 0;
}
