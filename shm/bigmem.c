/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Large process-private arrays (see bigmem.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "shm/bigmem.h"

/*
 * Allocations of 2 MiB and more are anonymous maps aligned to 2 MiB and
 * offered to transparent huge pages (MADV_HUGEPAGE: systems set to
 * "madvise" grant them only where asked): where granted, one page fault and
 * one TLB entry per 2 MiB instead of 512; where not, 4 KiB pages as from
 * malloc. Zeroed, as from calloc.
 */
static size_t big_length(size_t bytes)
{
	return (bytes + BIGMEM_HUGE_BYTES - 1) & ~(size_t)(BIGMEM_HUGE_BYTES - 1);
}

void *big_alloc(size_t bytes)
{
	size_t length = big_length(bytes);
	uint8_t *map, *aligned;

	if (bytes < BIGMEM_HUGE_BYTES)
		return calloc(1, bytes);
	map = mmap(NULL, length + BIGMEM_HUGE_BYTES, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	aligned = (uint8_t *)(((uintptr_t)map + BIGMEM_HUGE_BYTES - 1) &
			      ~(uintptr_t)(BIGMEM_HUGE_BYTES - 1));
	if (aligned > map)
		munmap(map, (size_t)(aligned - map));
	if (aligned + length < map + length + BIGMEM_HUGE_BYTES)
		munmap(aligned + length,
		       (size_t)(map + length + BIGMEM_HUGE_BYTES - (aligned + length)));
	(void)madvise(aligned, length, MADV_HUGEPAGE); /* refused: small pages */
	return aligned;
}

void big_free(void *mem, size_t bytes)
{
	if (bytes < BIGMEM_HUGE_BYTES)
		free(mem);
	else if (mem)
		munmap(mem, big_length(bytes));
}
