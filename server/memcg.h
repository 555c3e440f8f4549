/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The headroom the memory cgroups above this process leave it (memcg.c).
 */
#ifndef MPFLOW_SERVER_MEMCG_H
#define MPFLOW_SERVER_MEMCG_H

#include <stdint.h>

#define MEMCG_SELF "/proc/self/cgroup"
#define MEMCG_ROOT "/sys/fs/cgroup"

/* Bytes the cgroups the process is charged to can still take: the least,
 * over its memory cgroup and each above it, of limit less use. UINT64_MAX
 * where none limits it or none can be read. `self` and `root` are
 * MEMCG_SELF and MEMCG_ROOT but in tests. */
uint64_t memcg_headroom(const char *self, const char *root);

#endif
