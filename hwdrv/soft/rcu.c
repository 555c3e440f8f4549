/* SPDX-License-Identifier: BSD-3-Clause */
#include <sched.h>

#include "hwdrv/soft/rcu.h"

void rcu_init(struct rcu *rcu)
{
	shm_store_relaxed64(&rcu->grace_period, 1);
	shm_store_relaxed64(&rcu->reader, 0);
}

void rcu_synchronize(struct rcu *rcu)
{
	uint64_t target = shm_load_relaxed64(&rcu->grace_period) + 1;
	unsigned spins = 0;

	/* Pairs with the reader's load in rcu_quiescent(): a reader that
	 * stores `target` (or 0) has finished the burst during which it could
	 * have loaded what we unlinked before this store. */
	shm_store_seq_cst64(&rcu->grace_period, target);
	for (;;) {
		uint64_t seen = shm_load_seq_cst64(&rcu->reader);

		if (seen == 0 || seen >= target)
			return;
		if (++spins > 1000)
			sched_yield(); /* the reader may share our CPU */
	}
}
