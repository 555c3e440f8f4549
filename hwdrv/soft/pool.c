/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-rule objects in pooled chunks (see pool.h).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hwdrv/soft/pool.h"

/*
 * Chunks faulted in ahead of need. Most of what a first fill costs the
 * writer beyond its own work is the kernel zeroing fresh pages as it
 * carves them (a fifth to a third of an insert at a million rules). Once a
 * process has taken POOL_AHEAD_AFTER chunks (a bulk load is under way;
 * small tables never pay for this), a helper thread keeps POOL_AHEAD
 * chunks mapped and faulted in, off the writer's core: a pool that needs a
 * chunk takes a ready one and wakes the helper to fault in the next. When
 * none is ready (the helper behind, out of memory, or no thread could be
 * had) the pool maps its own, as before. The helper runs as SCHED_IDLE:
 * on spare cycles only. Idle, it sleeps; it holds POOL_AHEAD chunks
 * (8 MiB) for the process's life.
 */
#define POOL_AHEAD	 4
#define POOL_AHEAD_AFTER 8

static struct {
	pthread_mutex_t lock;
	pthread_cond_t taken; /* a ready chunk was taken, or one was wanted */
	void *ready[POOL_AHEAD];
	unsigned n;
	unsigned long chunks; /* taken by the process's pools */
	bool started;	      /* the helper was tried */
} ahead = {.lock = PTHREAD_MUTEX_INITIALIZER, .taken = PTHREAD_COND_INITIALIZER};

/* False where the kernel has no memory for it now: the writer will fault
 * its own in, or find none either. */
static bool fault_in(uint8_t *chunk)
{
#ifdef MADV_POPULATE_WRITE
	if (madvise(chunk, BIGMEM_HUGE_BYTES, MADV_POPULATE_WRITE) == 0)
		return true;
	if (errno != EINVAL)
		return false;
#endif
	for (size_t at = 0; at < BIGMEM_HUGE_BYTES; at += 4096) /* kernels before 5.14 */
		((volatile uint8_t *)chunk)[at] = 0;
	return true;
}

static void *ahead_run(void *unused)
{
	/* Spare cycles only: where every core is busy (a client and the
	 * writer on two), the writer maps its own chunks as it would without
	 * a helper, rather than share its core with one. */
	const struct sched_param idle = {.sched_priority = 0};

	(void)unused;
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
	pthread_mutex_lock(&ahead.lock);
	for (;;) {
		uint8_t *chunk;

		while (ahead.n == POOL_AHEAD)
			pthread_cond_wait(&ahead.taken, &ahead.lock);
		pthread_mutex_unlock(&ahead.lock);
		chunk = big_alloc(BIGMEM_HUGE_BYTES);
		if (chunk && !fault_in(chunk)) {
			big_free(chunk, BIGMEM_HUGE_BYTES);
			chunk = NULL;
		}
		pthread_mutex_lock(&ahead.lock);
		if (chunk)
			ahead.ready[ahead.n++] = chunk;
		else
			pthread_cond_wait(&ahead.taken, &ahead.lock); /* retry when wanted */
	}
	return NULL;
}

/* A fork (the primary's daemon(), after a journal replay that started the
 * helper) takes no thread along: the child gets the lock free, the chunks
 * ready (its own copies) and no helper, which its next take starts. */
static void ahead_fork_prepare(void)
{
	pthread_mutex_lock(&ahead.lock);
}

static void ahead_fork_parent(void)
{
	pthread_mutex_unlock(&ahead.lock);
}

static void ahead_fork_child(void)
{
	pthread_mutex_init(&ahead.lock, NULL);
	pthread_cond_init(&ahead.taken, NULL);
	ahead.started = false;
}

/* With the lock held: the helper, with every signal blocked (they are the
 * process's main loop's to take). */
static void ahead_start(void)
{
	static bool fork_handled;
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t thread;

	ahead.started = true;
	if (!fork_handled)
		fork_handled = pthread_atfork(ahead_fork_prepare, ahead_fork_parent,
					      ahead_fork_child) == 0;
	if (!fork_handled)
		return; /* no helper rather than one a fork could leave locked */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, ahead_run, NULL) == 0)
		pthread_setname_np(thread, "mpflow-pool");
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* A new chunk for a pool: a ready one, or one mapped now. The writer never
 * waits for the lock: the helper, at SCHED_IDLE, may be preempted holding
 * it, and then the writer maps its own. */
static uint8_t *chunk_take(void)
{
	uint8_t *chunk = NULL;

	if (pthread_mutex_trylock(&ahead.lock) != 0)
		return big_alloc(BIGMEM_HUGE_BYTES);
	if (!ahead.started && ++ahead.chunks > POOL_AHEAD_AFTER)
		ahead_start();
	if (ahead.n)
		chunk = ahead.ready[--ahead.n];
	if (ahead.started)
		pthread_cond_signal(&ahead.taken);
	pthread_mutex_unlock(&ahead.lock);
	return chunk ? chunk : big_alloc(BIGMEM_HUGE_BYTES);
}

static unsigned size_class(size_t size)
{
	return (unsigned)((size + POOL_ALIGN - 1) / POOL_ALIGN);
}

void *pool_alloc(struct pool *pool, size_t size)
{
	unsigned class = size_class(size);
	size_t bytes = (size_t) class * POOL_ALIGN;
	void *object;

	if (class >= POOL_CLASSES)
		return malloc(size);
	if (pool->free[class]) {
		object = pool->free[class];
		memcpy(&pool->free[class], object, sizeof(void *));
		/* Freed objects are cold: the next one's line is on its way
		 * by the time it is taken. */
		if (pool->free[class])
			__builtin_prefetch(pool->free[class], 1);
		return object;
	}
	if (pool->left < bytes) {
		/* A new chunk; its first bytes link it to the others. */
		uint8_t *chunk = chunk_take();

		if (chunk == NULL)
			return NULL;
		memcpy(chunk, &pool->chunks, sizeof(void *));
		pool->chunks = chunk;
		pool->carve = chunk + POOL_ALIGN;
		pool->left = BIGMEM_HUGE_BYTES - POOL_ALIGN;
	}
	object = pool->carve;
	pool->carve += bytes;
	pool->left -= bytes;
	return object;
}

void *pool_zalloc(struct pool *pool, size_t size)
{
	void *object = pool_alloc(pool, size);

	if (object)
		memset(object, 0, size);
	return object;
}

void pool_free(struct pool *pool, void *object, size_t size)
{
	unsigned class = size_class(size);

	if (object == NULL)
		return;
	if (class >= POOL_CLASSES) {
		free(object);
		return;
	}
	memcpy(object, &pool->free[class], sizeof(void *));
	pool->free[class] = object;
}

void pool_fini(struct pool *pool)
{
	while (pool->chunks) {
		void *next;

		memcpy(&next, pool->chunks, sizeof(void *));
		big_free(pool->chunks, BIGMEM_HUGE_BYTES);
		pool->chunks = next;
	}
	memset(pool, 0, sizeof(*pool));
}
