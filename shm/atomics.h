/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one memory-ordering vocabulary of mpflow.
 *
 * Every access to a word that another process (or thread) writes concurrently
 * goes through one of these helpers; no other file touches <stdatomic.h> or
 * `volatile`. Each call site names the access it pairs with (labels such as
 * R1 / A1, after DPDK's rte_ring_c11_pvt.h) or says why relaxed is enough.
 *
 *   shm_load_relaxed / shm_store_relaxed   no ordering: the value alone matters
 *   shm_load_acquire                       later reads and writes stay after it
 *   shm_store_release                      earlier reads and writes stay before it
 *   shm_add_relaxed                        a count several threads add to
 *   shm_store_seq_cst / shm_load_seq_cst   a store then a load of another word
 *                                          that cannot be reordered (Dekker pairs:
 *                                          all seq_cst accesses fall in one total
 *                                          order, so of two threads that each store
 *                                          then load the other's word, at least one
 *                                          sees the other's store)
 *   shm_cpu_relax                          spin-wait hint, no ordering
 *
 * There is deliberately no standalone fence: a seq_cst store/load pair says
 * the same thing, costs no more on x86 (xchg instead of mov + mfence), and
 * ThreadSanitizer can check it, which it cannot do for fences.
 */
#ifndef MPFLOW_SHM_ATOMICS_H
#define MPFLOW_SHM_ATOMICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Shared words are plain fixed-width integers wrapped in _Atomic; the layout
 * of a struct that crosses the process boundary must not depend on it. */
_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t), "atomic u32 layout");
_Static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t), "atomic u64 layout");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free across processes");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free across processes");

typedef _Atomic uint32_t shm_u32;
typedef _Atomic uint64_t shm_u64;

#define SHM_CACHE_LINE 64u

static inline uint32_t shm_load_relaxed32(const shm_u32 *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

static inline uint32_t shm_load_acquire32(const shm_u32 *p)
{
	return atomic_load_explicit(p, memory_order_acquire);
}

static inline void shm_store_relaxed32(shm_u32 *p, uint32_t v)
{
	atomic_store_explicit(p, v, memory_order_relaxed);
}

static inline void shm_store_release32(shm_u32 *p, uint32_t v)
{
	atomic_store_explicit(p, v, memory_order_release);
}

static inline uint64_t shm_load_relaxed64(const shm_u64 *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

static inline uint64_t shm_load_acquire64(const shm_u64 *p)
{
	return atomic_load_explicit(p, memory_order_acquire);
}

static inline void shm_store_relaxed64(shm_u64 *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_relaxed);
}

static inline void shm_store_release64(shm_u64 *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_release);
}

/* Several writers, no ordering: a count many threads add to. */
static inline void shm_add_relaxed64(shm_u64 *p, uint64_t v)
{
	atomic_fetch_add_explicit(p, v, memory_order_relaxed);
}

/* Store then load of another word, never reordered: see the header comment.
 * The store is also a release, the load also an acquire. */
static inline void shm_store_seq_cst32(shm_u32 *p, uint32_t v)
{
	atomic_store_explicit(p, v, memory_order_seq_cst);
}

static inline uint32_t shm_load_seq_cst32(const shm_u32 *p)
{
	return atomic_load_explicit(p, memory_order_seq_cst);
}

static inline void shm_store_seq_cst64(shm_u64 *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_seq_cst);
}

static inline uint64_t shm_load_seq_cst64(const shm_u64 *p)
{
	return atomic_load_explicit(p, memory_order_seq_cst);
}

/*
 * Copy `words` 64-bit words into or out of shared memory, one release store
 * or acquire load each: for seqlock-protected blocks, where every word must
 * be ordered before the closing sequence store (writer) or before the
 * re-check of the sequence (reader). Both addresses must be 8-aligned.
 */
static inline void shm_copy_to_release(void *shared, const void *private_copy, size_t words)
{
	shm_u64 *dst = shared;
	const uint8_t *src = private_copy;

	for (size_t i = 0; i < words; i++) {
		uint64_t w;

		__builtin_memcpy(&w, src + 8 * i, 8);
		atomic_store_explicit(&dst[i], w, memory_order_release);
	}
}

static inline void shm_copy_from_acquire(void *private_copy, const void *shared, size_t words)
{
	const shm_u64 *src = shared;
	uint8_t *dst = private_copy;

	for (size_t i = 0; i < words; i++) {
		uint64_t w = atomic_load_explicit(&src[i], memory_order_acquire);

		__builtin_memcpy(dst + 8 * i, &w, 8);
	}
}

static inline void shm_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif
