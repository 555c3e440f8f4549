/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Quiescent-state-based reclamation between the primary's thread (the one
 * writer of the classifier, queue and meter tables) and the datapath
 * workers (the readers, one word each).
 *
 * The writer publishes with rcu_publish() (a release store: everything the
 * new object holds is visible to a reader that loads the pointer) and, after
 * unlinking an object, calls rcu_synchronize() before freeing it: that waits
 * until every reader has passed a quiescent point — the end of a burst, or
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

#define RCU_READERS_MAX 64

/* Each reader's word on its own line: readers never share a line. */
struct rcu_reader {
	shm_u64 seen; /* last grace period seen; 0 offline */
	uint8_t pad[SHM_CACHE_LINE - sizeof(shm_u64)];
};

struct rcu {
	shm_u64 grace_period; /* writer: bumped by each synchronize */
	unsigned readers;     /* how many (set before any reader runs) */
	struct rcu_reader reader[RCU_READERS_MAX];
};

/* Writer, before readers start: `readers` readers, numbered from 0. */
void rcu_init(struct rcu *rcu, unsigned readers);

/* Reader `id`: between bursts (holding no pointer). */
static inline void rcu_quiescent(struct rcu *rcu, unsigned id)
{
	shm_store_seq_cst64(&rcu->reader[id].seen, shm_load_seq_cst64(&rcu->grace_period));
}

/* Reader `id`: about to block, or stopping; and back. */
static inline void rcu_offline(struct rcu *rcu, unsigned id)
{
	shm_store_seq_cst64(&rcu->reader[id].seen, 0);
}

static inline void rcu_online(struct rcu *rcu, unsigned id)
{
	rcu_quiescent(rcu, id);
}

/* Writer: return once every pointer unlinked before the call is unreachable
 * to every reader. Waits at most one burst of each. */
void rcu_synchronize(struct rcu *rcu);

#endif
