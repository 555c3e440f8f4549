/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libmpflow's private declarations: the session object and the calls the
 * library's files share (client.c: session and rules; rxq.c: RX queues;
 * meter.c: meter objects).
 */
#ifndef MPFLOW_LIBCLIENT_CLIENT_H
#define MPFLOW_LIBCLIENT_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpflow/mpflow.h>

#include "libclient/fifo.h"
#include "shm/handshake.h"
#include "shm/region.h"
#include "shm/ring.h"
#include "shm/wire.h"

struct inflight {
	uint64_t user_data;
	bool sync;
};

struct mpf_client {
	pthread_mutex_t lock;
	char instance[32];
	char runtime_dir[256];
	char name[HANDSHAKE_NAME_MAX];
	int timeout_ms;
	int64_t busy_poll_ns;
	uint32_t session; /* our id in the primary: owner of our rules */

	bool connected;
	bool dead; /* the primary went away */
	int sock;
	int primary_bell;
	int client_bell;
	void *mem;
	size_t mem_length;
	void *region;
	size_t region_length;
	struct region_view view;
	struct ring requests;
	struct ring completions;
	unsigned staged; /* async requests written but not yet published */

	struct fifo inflight; /* struct inflight: requests awaiting completion */
	struct fifo kept;     /* struct mpf_completion: async ones not yet polled */

	uint8_t out[WIRE_MSG_MAX];
	uint8_t in[WIRE_MSG_MAX];
};

/* Fill `error` (when not NULL) and return -code. */
int client_fail(struct mpf_flow_error *error, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* -ESHUTDOWN with the message saying how to go on. */
int client_shutdown_error(struct mpf_flow_error *error);
/* Submit the request encoded in c->out (`length`, or an encoder's -errno)
 * and wait for its completion. Lock held. 0 or the request's -errno. */
int client_call(struct mpf_client *c, int length, struct wire_completion *raw,
		struct mpf_flow_error *error);

#endif
