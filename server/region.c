/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The global region's memfd: created and mapped writable here, then sealed
 * (F_SEAL_FUTURE_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) so every
 * other mapping of it, a client's, can only be read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "server/server.h"

/* Did the region get huge pages? Only its prefix was stored to: the rest
 * of the 2 MiB page the prefix ends in is in memory only if that page came
 * as one folio. (A prefix of whole huge pages cannot tell: said small.) */
static bool region_on_huge_pages(uint8_t *mem, size_t length, size_t prefix)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = BIGMEM_HUGE_BYTES / page, in = 0;
	size_t at = prefix & ~(size_t)(BIGMEM_HUGE_BYTES - 1);
	unsigned char vec[BIGMEM_HUGE_BYTES / 4096];

	if (((uintptr_t)mem & (BIGMEM_HUGE_BYTES - 1)) != 0 || prefix % BIGMEM_HUGE_BYTES == 0 ||
	    at + BIGMEM_HUGE_BYTES > length || pages > sizeof(vec) ||
	    mincore(mem + at, BIGMEM_HUGE_BYTES, vec) != 0)
		return false;
	for (size_t i = 0; i < pages; i++)
		in += vec[i] & 1;
	return in == pages;
}

/* Does the system's setting keep huge pages from shared memory? */
static bool shmem_huge_off(void)
{
	char line[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "re");

	if (f == NULL)
		return false; /* no THP at all: no setting to name */
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	return strstr(line, "[never]") != NULL || strstr(line, "[deny]") != NULL;
}

const char *region_pages(const struct server *s)
{
	if (s->region_huge)
		return "huge pages";
	if (s->region_length >= BIGMEM_HUGE_BYTES && shmem_huge_off())
		return "4 KiB pages (shmem_enabled in /sys/kernel/mm/transparent_hugepage set to "
		       "advise gives it huge pages)";
	return "4 KiB pages";
}

static struct region_layout layout_of(const struct server *s)
{
	return (struct region_layout){.max_rules = s->config.max_rules,
				      .ports = s->config.device.ports,
				      .pf_queues = s->config.device.queues,
				      .vfs = s->config.device.vfs,
				      .workers = s->config.device.workers,
				      .max_owners = s->config.max_clients};
}

uint64_t region_bytes(const struct server *s)
{
	const struct region_layout layout = layout_of(s);

	return region_memsize(&layout);
}

int region_create(struct server *s)
{
	const struct region_layout layout = layout_of(s);
	uint64_t bytes = region_memsize(&layout);
	size_t length = (size_t)bytes;
	int fd;
	void *mem;

	if (bytes > SIZE_MAX)
		return -ENOMEM;
	fd = memfd_create("mpflow-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)length) != 0)
		goto fail;
	mem = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		goto fail;
	/* Huge pages where the system gives them to shared memory
	 * (shmem_enabled "advise" or more): a fault, a TLB entry and, under
	 * a hypervisor that shadows page tables, a host fault per 2 MiB
	 * instead of per 4 KiB, in the primary and in every client that
	 * reads counters. Refused or off: 4 KiB pages, as before. */
	(void)madvise(mem, length, MADV_HUGEPAGE);
	/* Only the header and the port statistics are faulted in now: the
	 * rest as rules use it, so start-up does not grow with --max-rules. */
	memory_prefault(mem, region_prefix(&layout));
	s->region_huge = region_on_huge_pages(mem, length, region_prefix(&layout));
	region_init(mem, &layout, s->config.backend, s->config.instance, (uint32_t)getpid());
	if (fcntl(fd, F_ADD_SEALS,
		  F_SEAL_FUTURE_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
		munmap(mem, length);
		goto fail;
	}
	s->region_fd = fd;
	s->region = mem;
	s->region_length = length;
	s->counters = (struct region_counter *)((uint8_t *)mem + s->region->counters_offset);
	s->entries = (struct region_entry *)((uint8_t *)mem + s->region->directory_offset);
	s->owners = (struct region_owner *)((uint8_t *)mem + s->region->owners_offset);
	rule_heap_init(&s->heap, (struct region_chunk *)((uint8_t *)mem + s->region->heap_offset),
		       (uint32_t)(s->region->heap_size / sizeof(struct region_chunk)));
	/* The backend counts port statistics where the region keeps them. */
	s->config.device.port_stats = region_ports(mem);
	s->config.device.queue_stats = region_queues(mem, &layout);
	s->shares = region_shares(mem, &layout);
	s->config.device.counters = s->counters;
	s->config.device.shares = s->shares;
	s->config.device.activity = region_activity(mem, &layout);
	s->activity = region_activity_row(&s->config.device.activity,
					  s->config.device.activity.writers - 1);
	return 0;
fail:;
	int err = -errno;

	close(fd);
	return err;
}

void memory_prefault(void *mem, size_t length)
{
	/*
	 * Faulting a page in on its first store costs more than a create (in
	 * a VM with nested paging, several microseconds), so take every fault
	 * now, with a store. MAP_POPULATE is not enough: it maps a shared
	 * mapping's pages read-only. A store per page also beat
	 * MADV_POPULATE_WRITE by 20% on inserts (bench/control), as it leaves
	 * the entries accessed and dirty.
	 */
	for (size_t offset = 0; offset < length; offset += 4096)
		((uint8_t *)mem)[offset] = 0;
}

void region_destroy(struct server *s)
{
	if (s->region) {
		rule_heap_fini(&s->heap);
		munmap(s->region, s->region_length);
		close(s->region_fd);
		s->region = NULL;
	}
}
