/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Quiescent-state-based reclamation between the primary's thread (the one
 * writer of the classifier, queue and meter tables) and the datapath worker
 * (a reader).
 *
 * The writer publishes with rcu_publish() (a release store: everything the
 * new object holds is visible to a reader that loads the pointer) and, after
 * unlinking an object, calls rcu_synchronize() before freeing it: that waits
 * until the reader has passed a quiescent point — the end of a burst, or
 * being offline — so no reader can still hold the old pointer. The reader
 * loads with rcu_dereference() (acquire, pairing with rcu_publish()).
 *
 * The reader announces quiescent points by copying the writer's grace-period
 * counter into its own; offline it stores 0. Both sides use seq_cst, so the
 * handshake is the usual store/load pair (and visible to TSan).
 */
#ifndef MPFLOW_SOFT_RCU_H
#define MPFLOW_SOFT_RCU_H

#include <stdint.h>

#include "shm/atomics.h"

#define rcu_publish(slot, value) __atomic_store_n(&(slot), (value), __ATOMIC_RELEASE)
#define rcu_dereference(slot)	 __atomic_load_n(&(slot), __ATOMIC_ACQUIRE)

struct rcu {
	shm_u64 grace_period; /* writer: bumped by each synchronize */
	shm_u64 reader;	      /* reader: last grace period seen; 0 offline */
};

void rcu_init(struct rcu *rcu);

/* Reader: between bursts (holding no pointer). */
static inline void rcu_quiescent(struct rcu *rcu)
{
	shm_store_seq_cst64(&rcu->reader, shm_load_seq_cst64(&rcu->grace_period));
}

/* Reader: about to block, or stopping; and back. */
static inline void rcu_offline(struct rcu *rcu)
{
	shm_store_seq_cst64(&rcu->reader, 0);
}

static inline void rcu_online(struct rcu *rcu)
{
	rcu_quiescent(rcu);
}

/* Writer: return once every pointer unlinked before the call is unreachable
 * to the reader. Waits at most one of the reader's bursts. */
void rcu_synchronize(struct rcu *rcu);

#endif
