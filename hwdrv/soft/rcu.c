/* SPDX-License-Identifier: BSD-3-Clause */
#include <sched.h>

#include "hwdrv/soft/rcu.h"

void rcu_init(struct rcu *rcu, unsigned readers)
{
	shm_store_relaxed64(&rcu->grace_period, 1);
	rcu->readers = readers < 1 ? 1 : readers > RCU_READERS_MAX ? RCU_READERS_MAX : readers;
	for (unsigned i = 0; i < RCU_READERS_MAX; i++)
		shm_store_relaxed64(&rcu->reader[i].seen, 0);
}

void rcu_synchronize(struct rcu *rcu)
{
	uint64_t target = shm_load_relaxed64(&rcu->grace_period) + 1;
	unsigned spins = 0;

	/* Pairs with the reader's load in rcu_quiescent(): a reader that
	 * stores `target` (or 0) has finished the burst during which it could
	 * have loaded what we unlinked before this store. */
	shm_store_seq_cst64(&rcu->grace_period, target);
	for (unsigned i = 0; i < rcu->readers; i++) {
		for (;;) {
			uint64_t seen = shm_load_seq_cst64(&rcu->reader[i].seen);

			if (seen == 0 || seen >= target)
				break;
			if (++spins > 1000)
				sched_yield(); /* a reader may share our CPU */
		}
	}
}
