/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the journal: the bytes of STATE_DIR/default.journal
 * as a start of the primary finds them (server/journal.c: the scanner, the
 * replay into a soft device with 2 ports, 4 queues and 64 slots, rules not
 * restored, a damaged file set aside and a new one written). A crash, a
 * sanitizer report, a primary the audit finds inconsistent after the
 * replay, or a journal that does not read back as the same rules, is a bug.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

#define SLOTS 64u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct server server;
static char dir[64];

static void setup_once(void)
{
	struct server *s = &server;

	log_init(true, LOG_LEVEL_NONE, NULL);
	snprintf(dir, sizeof(dir), "/tmp/mpflow-fuzz-journal-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	s->config = (struct server_config){
		.instance = "default",
		.backend = "soft",
		.max_rules = SLOTS,
		.max_clients = 4,
		.client_max_rules = SLOTS,
		.device = {.ports = 2, .queues = 4, .device_port = 1, .groups = 1},
	};
	snprintf(s->config.state_dir, sizeof(s->config.state_dir), "%s", dir);
	s->state_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s->runtime_fd = -1; /* no runtime directory: no epoch kept there */
	s->clients = calloc(s->config.max_clients, sizeof(*s->clients));
	s->scratch = calloc(1, sizeof(*s->scratch));
	if (s->state_fd < 0 || s->clients == NULL || s->scratch == NULL)
		abort();
}

/* Only the journal may be in the directory when a start begins. */
static void empty_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			unlinkat(server.state_fd, e->d_name, 0);
	if (d)
		closedir(d);
}

/* A start: device, region, table, journal. The journal's result. */
static int start(void)
{
	struct server *s = &server;
	struct mpf_flow_error error;

	s->persistent_rules = s->unrestored_rules = s->unrestored_memory = 0;
	/* No limit, whatever the machine's cgroups: the same replay anywhere. */
	memcg_guard_init(&s->memcg, "/nonexistent", "/nonexistent");
	s->journal = (struct journal){.fd = -1};
	s->commit = (struct commit){0};
	if (hwdrv_open(&s->device, "soft", &s->config.device, &error) != 0 ||
	    rules_init(&s->rules, SLOTS) != 0 || region_create(s) != 0)
		abort();
	return journal_open(s);
}

/* A stop: every rule out of the device, the journal closed. */
static void stop(void)
{
	struct server *s = &server;

	s->journal.frozen = true;
	rules_destroy_all(s);
	journal_close(s);
	commit_fini(s);
	hwdrv_close(&s->device);
	region_destroy(s);
	rules_fini(&s->rules);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server *s = &server;
	struct mpf_flow_error error;
	uint32_t persistent, unrestored;
	uint64_t checked;
	int fd, err;

	if (dir[0] == '\0')
		setup_once();
	empty_dir();
	fd = openat(s->state_fd, "default.journal", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);

	err = start();
	if (err) {
		/* Refused as a whole: only for want of memory or I/O. */
		if (err != -ENOMEM && err != -EIO && err != -EFBIG)
			abort();
		stop();
		return 0;
	}
	if (audit_run(s, &checked, &error) != 0)
		abort();
	persistent = s->persistent_rules;
	unrestored = s->unrestored_rules;
	if (s->journal.broken) {
		stop();
		return 0;
	}
	stop();
	/* What the start left behind reads back as the same rules. */
	if (start() != 0 || s->persistent_rules != persistent ||
	    s->unrestored_rules != unrestored || audit_run(s, &checked, &error) != 0)
		abort();
	stop();
	return 0;
}
