/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Monitors: a handshake with HANDSHAKE_HELLO_MONITOR gets the counters
 * region's fd and nothing else; the region is mapped read-only and read
 * with the same seqlocked copies as a session's queries. The primary's
 * death shows in the region itself (state, pid, heartbeat): the mapping
 * outlives it, and mpf_monitor_reattach() swaps in the next primary's.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/clock.h"
#include "libclient/client.h"

struct mpf_monitor {
	struct client_address at;
	struct client_region region;
};

static int attach(const struct client_address *at, struct client_region *out,
		  struct mpf_flow_error *error)
{
	struct handshake_welcome welcome;
	int fd, sock, err;

	sock = client_dial(at, "monitor", HANDSHAKE_HELLO_MONITOR, &welcome, &fd, 1, error);
	if (sock < 0)
		return sock;
	close(sock);
	err = client_map_region(fd, welcome.region_size, out, error);
	close(fd);
	return err;
}

int mpf_monitor_open(const struct mpf_connect_options *options, struct mpf_monitor **monitor,
		     struct mpf_flow_error *error)
{
	const struct mpf_connect_options none = {0};
	struct mpf_monitor *m = calloc(1, sizeof(*m));
	int err;

	if (m == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "out of memory");
	err = client_locate(options ? options : &none, &m->at, error);
	if (!err)
		err = attach(&m->at, &m->region, error);
	if (err) {
		free(m);
		return err;
	}
	*monitor = m;
	return 0;
}

void mpf_monitor_close(struct mpf_monitor *m)
{
	if (m == NULL)
		return;
	client_unmap_region(&m->region);
	free(m);
}

int mpf_monitor_reattach(struct mpf_monitor *m, struct mpf_flow_error *error)
{
	struct client_region fresh;
	int err = attach(&m->at, &fresh, error);

	if (err)
		return err;
	client_unmap_region(&m->region);
	m->region = fresh;
	return 0;
}

/* Copy a fixed-size string field of the (hostile until checked) header. */
static void copy_text(char *out, const char *in, size_t size)
{
	memcpy(out, in, size);
	out[size - 1] = '\0';
}

int mpf_monitor_instance(struct mpf_monitor *m, struct mpf_instance_info *info)
{
	const struct region_header *h = m->region.view.header;
	uint64_t beat, now = clock_ns(CLOCK_MONOTONIC);
	uint32_t state;

	if (m->region.mem == NULL)
		return -EAGAIN;
	memset(info, 0, sizeof(*info));
	copy_text(info->backend, h->backend, sizeof(info->backend));
	copy_text(info->instance, h->instance, sizeof(info->instance));
	info->primary_pid = h->primary_pid;
	info->start_ns = h->start_time_ns;
	info->max_rules = m->region.view.max_rules;
	info->ports = m->region.view.n_ports;
	info->queues = m->region.view.pf_queues;
	info->vfs = m->region.view.vfs;
	info->port_stats = m->region.view.ports_kept;
	beat = shm_load_relaxed64(&h->counters_read_ns);
	info->counters_age_ns = beat && beat < now ? now - beat : 0;
	info->clients = shm_load_relaxed32(&h->clients);
	info->rules = shm_load_relaxed32(&h->rules);
	info->unrestored = shm_load_relaxed32(&h->unrestored);
	/* An errno, bounded: the region is the primary's to write. */
	info->journal_error = -(int)(shm_load_relaxed32(&h->journal_error) & 0xfff);
	beat = shm_load_relaxed64(&h->heartbeat_ns);
	info->heartbeat_age_ns = beat && beat < now ? now - beat : 0;
	state = shm_load_relaxed32(&h->state);
	/* A killed primary leaves its region saying RUNNING: its pid tells. */
	if (state == REGION_STATE_STOPPING)
		info->state = MPF_INSTANCE_STOPPING;
	else if (kill((pid_t)info->primary_pid, 0) != 0 && errno == ESRCH)
		info->state = MPF_INSTANCE_GONE;
	else
		info->state = MPF_INSTANCE_RUNNING;
	return 0;
}

int mpf_monitor_port_stats(struct mpf_monitor *m, uint16_t port, struct mpf_port_stats *stats)
{
	if (m->region.mem == NULL)
		return -EAGAIN;
	return client_port_stats(&m->region.view, port, stats);
}

int mpf_monitor_queue_stats(struct mpf_monitor *m, uint16_t port, uint16_t queue,
			    struct mpf_queue_stats *stats)
{
	if (m->region.mem == NULL)
		return -EAGAIN;
	return client_queue_stats(&m->region.view, port, queue, stats);
}

int mpf_monitor_next(struct mpf_monitor *m, uint32_t *cursor, struct mpf_flow_info *info)
{
	if (m->region.mem == NULL)
		return -EAGAIN;
	return client_directory_next(&m->region.view, cursor, UINT32_MAX, info, true);
}

int mpf_monitor_scan(struct mpf_monitor *m, uint32_t *cursor, struct mpf_flow_info *info)
{
	if (m->region.mem == NULL)
		return -EAGAIN;
	return client_directory_next(&m->region.view, cursor, UINT32_MAX, info, false);
}

int mpf_monitor_scan_block(struct mpf_monitor *m, uint32_t block, uint32_t *cursor,
			   struct mpf_flow_info *info)
{
	uint64_t first = (uint64_t)block * REGION_BLOCK_SLOTS;

	if (m->region.mem == NULL)
		return -EAGAIN;
	if (first >= m->region.view.max_rules)
		return 0;
	if (*cursor < first)
		*cursor = (uint32_t)first;
	return client_directory_next(&m->region.view, cursor, (uint32_t)first + REGION_BLOCK_SLOTS,
				     info, false);
}

int mpf_monitor_counts(struct mpf_monitor *m, uint32_t block, struct mpf_flow_counts *counts)
{
	uint64_t first = (uint64_t)block * REGION_BLOCK_SLOTS;
	struct region_live_count read[REGION_BLOCK_SLOTS];
	int found = 0;

	if (m->region.mem == NULL)
		return -EAGAIN;
	if (first >= m->region.view.max_rules) {
		memset(counts, 0, REGION_BLOCK_SLOTS * sizeof(*counts));
		return 0;
	}
	region_counters_read_live(&m->region.view, (uint32_t)first, REGION_BLOCK_SLOTS, read);
	for (uint32_t i = 0; i < REGION_BLOCK_SLOTS; i++) {
		const struct region_live_count *r = &read[i];

		/* Free, or changing (as a scan skips it): no rule. */
		if (r->rc != 0 && r->rc != -ENOTSUP) {
			counts[i] = (struct mpf_flow_counts){0};
			continue;
		}
		counts[i] = (struct mpf_flow_counts){
			.handle = (uint64_t)r->generation << 32 | ((uint32_t)first + i),
			.hits = r->count.hits,
			.bytes = r->count.bytes,
			.last_hit_ns = r->count.last_hit_ns,
			.flags = r->rc == 0 ? MPF_FLOW_INFO_COUNTED : 0,
		};
		found++;
	}
	return found;
}

int mpf_monitor_activity(struct mpf_monitor *m, uint32_t block, uint64_t *activity)
{
	const struct region_view *view = &m->region.view;
	uint32_t end;

	if (m->region.mem == NULL)
		return -EAGAIN;
	_Static_assert(MPF_MONITOR_BLOCK == REGION_BLOCK_SLOTS, "one block size");
	end = shm_load_relaxed32(&view->header->slots_end);
	if (end > view->max_rules)
		end = view->max_rules; /* the primary's word: bounded before use */
	if (block >= (end + REGION_BLOCK_SLOTS - 1) / REGION_BLOCK_SLOTS)
		return -ERANGE;
	*activity = region_activity_read(view, block);
	return 0;
}

int mpf_monitor_get(struct mpf_monitor *m, uint64_t handle, struct mpf_flow_info *info)
{
	if (m->region.mem == NULL)
		return -EAGAIN;
	return client_directory_get(&m->region.view, handle, info);
}
