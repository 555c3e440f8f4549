/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a seed corpus for fuzz_journal: journals written by a real primary
 * (mpflowd's own code, in-process, on a soft device): persistent rules and
 * meters made and destroyed, one rule on a queue the fuzz target's device
 * lacks, and the same journal cut short and with a flipped byte; and a
 * journal of the format before packed records (each rule's request).
 * usage: make-journal-corpus DIR
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/journal_file.h"
#include "server/server.h"
#include "shm/pack.h"

static struct server server;

static void save(const char *out, const char *name, const uint8_t *bytes, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(bytes, 1, n, f) != n)
		exit(1);
	fclose(f);
}

/* The CREATE request of a persistent rule for `ip` on `queue` of `port`
 * into bytes[cap]: its length. */
static int request(uint32_t ip, uint16_t queue, uint16_t port, uint8_t *bytes, size_t cap)
{
	struct mpf_flow_item_ipv4 spec = {.hdr.src_addr = htonl(ip)};
	struct mpf_flow_item_ipv4 mask = {.hdr.src_addr = 0xffffffff};
	struct mpf_flow_action_queue q = {.index = queue};
	struct mpf_flow_attr attr = {.ingress = 1};
	struct mpf_flow_item pattern[] = {
		{.type = MPF_FLOW_ITEM_TYPE_ETH},
		{.type = MPF_FLOW_ITEM_TYPE_IPV4, .spec = &spec, .mask = &mask},
		{.type = MPF_FLOW_ITEM_TYPE_END}};
	struct mpf_flow_action actions[] = {{.type = MPF_FLOW_ACTION_TYPE_COUNT},
					    {.type = MPF_FLOW_ACTION_TYPE_QUEUE, .conf = &q},
					    {.type = MPF_FLOW_ACTION_TYPE_END}};
	struct mpf_flow_error error;
	int n = wire_encode_rule(bytes, cap, WIRE_OP_CREATE, 0, port, true, &attr, pattern, actions,
				 &error);

	if (n < 0)
		exit(1);
	return n;
}

/* Journal one persistent create (packed, as the primary does) made by
 * `maker` (rule_table.makers); its handle. */
static uint64_t persist(uint32_t ip, uint16_t queue, uint16_t port, uint32_t maker)
{
	static uint64_t slot;
	uint8_t bytes[1024], packed[PACK_MAX];
	uint64_t handle = (uint64_t)1 << 32 | slot++;
	int n = rule_pack(bytes, (size_t)request(ip, queue, port, bytes, sizeof(bytes)), packed,
			  sizeof(packed), NULL);

	if (n <= 0 || journal_rule(&server, handle, maker, packed, (uint32_t)n) != 0)
		exit(1);
	return handle;
}

/* A journal as the format before packed records wrote it: an epoch, rules
 * by their requests, one of them gone. */
static void save_request_records(const char *out)
{
	struct journal_buffer b = {0};
	uint8_t bytes[1024];

	if (journal_buffer_put(&b, JOURNAL_EPOCH, 1, NULL, 0) < 0)
		exit(1);
	for (uint32_t i = 0; i < 4; i++)
		if (journal_buffer_put(
			    &b, JOURNAL_RULE, (uint64_t)1 << 32 | i, bytes,
			    (uint32_t)request(0x0b000000u + i, 1, 0, bytes, sizeof(bytes))) < 0)
			exit(1);
	if (journal_buffer_put(&b, JOURNAL_RULE_GONE, (uint64_t)1 << 32 | 1, NULL, 0) < 0)
		exit(1);
	save(out, "request-records", b.bytes, b.used);
	journal_buffer_free(&b);
}

/* Records of another user's rules (type 7) too short to hold the uid, of 0
 * to 3 bytes, each after an epoch: damage at the second record. */
static void save_short_of_uid_records(const char *out)
{
	static const uint8_t bytes[3] = {0xfe, 0xff, 0};

	for (uint32_t length = 0; length < sizeof(uint32_t); length++) {
		struct journal_buffer b = {0};
		char name[32];

		if (journal_buffer_put(&b, JOURNAL_EPOCH, 1, NULL, 0) < 0 ||
		    journal_buffer_put(&b, JOURNAL_RULE_OF_UID, (uint64_t)1 << 32, bytes, length) <
			    0)
			exit(1);
		snprintf(name, sizeof(name), "of-uid-short-%u", length);
		save(out, name, b.bytes, b.used);
		journal_buffer_free(&b);
	}
}

int main(int argc, char **argv)
{
	struct server *s = &server;
	struct mpf_flow_error error;
	char dir[] = "/tmp/mpflow-journal-corpus-XXXXXX", path[64];
	uint8_t meter[256], *file;
	struct stat st;
	int fd, n;

	if (argc != 2 || mkdtemp(dir) == NULL)
		return 2;
	log_init(true, LOG_LEVEL_NONE, NULL);
	s->config = (struct server_config){
		.instance = "default", .backend = "soft", .max_rules = 64, .max_clients = 1};
	snprintf(s->config.state_dir, sizeof(s->config.state_dir), "%s", dir);
	s->state_fd = open(dir, O_RDONLY | O_DIRECTORY);
	s->runtime_fd = -1; /* no runtime directory: no epoch kept there */
	s->clients = calloc(1, sizeof(*s->clients));
	s->scratch = calloc(1, sizeof(*s->scratch));
	if (s->state_fd < 0 || s->clients == NULL || s->scratch == NULL ||
	    rules_init(&s->rules, 64) != 0 || region_create(s) != 0)
		return 1;
	/* An empty journal as a start writes it, then records appended. */
	if (journal_open(s) != 0)
		return 1;
	for (uint32_t i = 0; i < 6; i++)
		persist(0x0a000000u + i, 1, 0, 0);
	persist(0x0a0000ffu, 7, 0, 0);	 /* a queue the fuzz target's device lacks */
	persist(0x0a0000feu, 1, 200, 0); /* a port no device has (HWDRV_PORTS_MAX) */
	/* Rules of another user: records with its uid. */
	n = rules_maker(&s->rules, 65534);
	if (n <= 0)
		return 1;
	persist(0x0a000100u, 1, 0, (uint32_t)n);
	persist(0x0a000101u, 1, 0, (uint32_t)n);
	if (journal_rule_gone(s, (uint64_t)1 << 32 | 2) != 0)
		return 1;
	n = wire_encode_meter_create(meter, sizeof(meter), 0, 0, 5, 1000, 1500, 2000, 3000, 0,
				     &error);
	if (n < 0 || journal_meter(s, 0, 5, meter, (uint32_t)n) != 0 ||
	    journal_meter(s, 1, 6, meter, (uint32_t)n) != 0 || journal_meter_gone(s, 1, 6) != 0)
		return 1;
	journal_close(s);

	snprintf(path, sizeof(path), "%s/default.journal", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0 || (file = malloc((size_t)st.st_size)) == NULL ||
	    read(fd, file, (size_t)st.st_size) != st.st_size)
		return 1;
	close(fd);
	save(argv[1], "rules-and-meters", file, (size_t)st.st_size);
	save(argv[1], "cut-short", file, (size_t)st.st_size * 2 / 3);
	file[st.st_size / 2] ^= 0x40;
	save(argv[1], "flipped-byte", file, (size_t)st.st_size);
	save(argv[1], "empty", file, 0);
	save_request_records(argv[1]);
	save_short_of_uid_records(argv[1]);
	free(file);
	unlink(path);
	rmdir(dir);
	return 0;
}
