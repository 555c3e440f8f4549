/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A fake RDMA NIC behind libibverbs, for tests without hardware. Linked
 * with -Wl,--wrap= on the exported ibv_* functions the verbs backend calls
 * (ibv_get_device_list, ibv_open_device, ibv_alloc_pd, ibv_create_cq...);
 * the context it opens is a struct verbs_context whose ops serve the
 * static inline verbs of verbs.h (ibv_create_flow, ibv_create_wq,
 * ibv_create_qp_ex, ibv_create_counters, ibv_read_counters...), so the
 * backend runs unmodified, through rdma-core's own header code.
 *
 * The fake checks what it is given as a kernel would (sizes, spec types,
 * the QP of a flow, priorities, masks), keeps a copy of every flow
 * created, counts live objects of each kind and fails calls on request.
 * It is also a model of the NIC (nic_model.h): frames given to
 * fake_ibv_receive(), or replayed from a soft packet source by the
 * backend's --source (verbs_model_source()), go through the live flows
 * into buffers posted on WQs, with completions on extended CQs and events
 * on completion channels; counters count what the flows matched.
 *
 * Configuration: fake_ibv_configure(), or MPFLOW_FAKE_IBV in the
 * environment (read at the first call), a comma-separated list of:
 *   devices=N            devices present (default 1; 0: none)
 *   link=ib              the port is InfiniBand, not Ethernet
 *   levels=N             priority levels it takes (default 16)
 *   max_objects=N        CQs and QPs ibv_query_device reports (default 1024)
 *   refuse=SPEC[+SPEC]   spec types it refuses: eth ipv4 ipv4_ext ipv6 tcp
 *                        udp vxlan gre mpls esp inner drop tag count
 *   no_partial_masks     masks per byte all-zero or all-one only
 *   global_masks         one mask per spec type for all flows
 *   no_dont_trap, no_egress
 *   no_flow_tag          CQs do not report flow tags (ibv_create_cq_ex
 *                        with IBV_WC_EX_WITH_FLOW_TAG fails)
 *   fail=OP:N:ERRNO      the Nth call of OP fails with ERRNO (N counted
 *                        from the backend's ALL_DEFAULT flow, i.e. after
 *                        start-up; N = 0: every call, start-up included)
 */
#ifndef MPFLOW_TESTS_FAKE_IBV_H
#define MPFLOW_TESTS_FAKE_IBV_H

#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

enum fake_op {
	FAKE_OPEN_DEVICE,
	FAKE_ALLOC_PD,
	FAKE_CREATE_CQ,
	FAKE_CREATE_WQ,
	FAKE_MODIFY_WQ,
	FAKE_CREATE_IND_TABLE,
	FAKE_CREATE_QP,
	FAKE_CREATE_FLOW,
	FAKE_DESTROY_FLOW,
	FAKE_CREATE_COUNTERS,
	FAKE_ATTACH_COUNTERS,
	FAKE_READ_COUNTERS,
	FAKE_REG_MR,
	FAKE_OPS
};

/* Live objects of each kind. */
enum fake_kind {
	FAKE_CONTEXT,
	FAKE_PD,
	FAKE_CQ,
	FAKE_WQ,
	FAKE_IND_TABLE,
	FAKE_QP,
	FAKE_FLOW,
	FAKE_COUNTERS,
	FAKE_MR,
	FAKE_CHANNEL,
	FAKE_KINDS
};

/* Replace the configuration (see above); forget every failure, reset the
 * call counts and the flow log. 0, or -EINVAL for a word it does not know. */
int fake_ibv_configure(const char *config);

/* From now on, the `nth` next call of `op` fails with `err` (0: all). */
void fake_ibv_fail(enum fake_op op, unsigned nth, int err);

/* Live objects of `kind`, and of all kinds. */
unsigned fake_ibv_live(enum fake_kind kind);
unsigned fake_ibv_live_total(void);

/* A flow as ibv_create_flow() got it. */
struct fake_flow_record {
	uint8_t bytes[2048]; /* the attr and its specs, attr.size bytes */
	size_t length;
	uint32_t qp_hash_fields;
	uint32_t qp_queues; /* entries of the QP's indirection table */
	int qp_first_wq;    /* index of the table's first WQ, in creation order */
	int live;	    /* not destroyed yet */
};

/* Flows created since the last configure (probes included), oldest first;
 * NULL past the end. */
const struct fake_flow_record *fake_ibv_flow(unsigned index);
unsigned fake_ibv_flows(void);

/* Flags of the last ibv_read_counters() call. */
uint32_t fake_ibv_last_read_flags(void);

/* A frame arrives on the port: the NIC model (nic_model.h) tries the live
 * flows on it, counts, drops or writes it into a buffer posted on the WQ
 * its flow's QP picks (RSS), with a completion on that WQ's CQ (and an
 * event on the CQ's channel when it was armed). Thread-safe. */
void fake_ibv_receive(const uint8_t *frame, uint32_t length, uint32_t wire_length);

/* Frames WQ `index` (creation order) received into posted buffers, and
 * dropped (none posted, or too large for the buffer). -ENOENT: no such WQ. */
int fake_ibv_wq_stats(unsigned index, uint64_t *received, uint64_t *dropped);

#endif
