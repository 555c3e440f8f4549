/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Restart without loss (server/journal.c): a primary killed (SIGKILL) or
 * stopped comes back with every acknowledged persistent rule and meter,
 * under the same handles; a primary killed in the middle of a stream of
 * creates and destroys loses none it acknowledged; a truncated or corrupt
 * journal is reported and read only up to the damage.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/crc32c.h"
#include "shm/pack.h"
#include "shm/wire.h"
#include "tests/harness.h"

#define PERSISTENT MPF_FLOW_PERSISTENT

static const char *const args[] = {"--max-rules", "8192", "--queues", "4", NULL};
static const struct mpf_flow_attr ingress = {.ingress = 1};

static int setup(void **state)
{
	return primary_fixture_start(state, args);
}

static int teardown(void **state)
{
	return primary_fixture_stop(state);
}

static void kill_primary(struct primary *p)
{
	int status;

	assert_int_equal(kill(p->pid, SIGKILL), 0);
	assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
	p->pid = 0;
}

static uint64_t create(struct mpf_client *c, uint32_t n, unsigned flags)
{
	struct sample_rule s;
	struct mpf_flow_error error;
	uint64_t handle = 0;

	sample_rule_init(&s, n);
	if (mpf_flow_create(c, 0, &ingress, s.pattern, s.actions, flags, &handle, &error) != 0)
		fail_msg("create %u: %s", n, error.message);
	return handle;
}

/* The persistent rules the directory lists; clients' rules died. */
static unsigned listed_persistent(struct mpf_client *c, uint64_t *out, unsigned max)
{
	unsigned others, n = persistent_rules(c, out, max, NULL, &others);

	assert_int_equal(others, 0);
	return n;
}

static uint32_t number(struct mpf_client *c, uint64_t handle)
{
	struct mpf_flow_info info;

	assert_int_equal(mpf_flow_get(c, handle, &info), 0);
	return info.number;
}

static bool listed(const uint64_t *handles, unsigned n, uint64_t handle)
{
	for (unsigned i = 0; i < n; i++)
		if (handles[i] == handle)
			return true;
	return false;
}

static void test_rules_and_meters_come_back_with_their_handles(void **state)
{
	struct primary *p = *state;
	struct mpf_meter_params meter = {.cir = 1000, .cbs = 1500, .pir = 2000, .pbs = 3000};
	struct mpf_flow_query_count count = {0};
	struct mpf_meter_stats stats;
	struct mpf_flow_error error;
	struct mpf_client *c;
	uint64_t kept[100], gone[100], mine, found[256];
	unsigned n_kept = 0, n_gone = 0;

	assert_int_equal(primary_connect(p, "before", &c), 0);
	assert_int_equal(mpf_meter_create(c, 0, 3, &meter, &error), 0);
	for (uint32_t i = 0; i < 200; i++) {
		uint64_t h = create(c, i, PERSISTENT);

		if (i % 2) {
			assert_int_equal(mpf_flow_destroy(c, 0, h, &error), 0);
			gone[n_gone++] = h;
		} else {
			kept[n_kept++] = h;
		}
	}
	mine = create(c, 1000, 0);
	for (unsigned i = 0; i < n_kept; i++)
		assert_int_equal(number(c, kept[i]), i);
	mpf_disconnect(c);

	/* Killed: no shutdown, no chance to write anything more. */
	kill_primary(p);
	assert_int_equal(primary_restart(p, args), 0);
	assert_int_equal(primary_connect(p, "after", &c), 0);
	assert_int_equal(listed_persistent(c, found, 256), n_kept);
	for (unsigned i = 0; i < n_kept; i++) {
		assert_true(listed(found, n_kept, kept[i]));
		assert_int_equal(
			mpf_flow_query(c, 0, kept[i], MPF_FLOW_ACTION_TYPE_COUNT, &count, &error),
			0);
	}
	/* testpmd's ids do not outlive a start (nor do testpmd's): the
	 * restored rules of a port are numbered again, in the order made. */
	for (unsigned i = 0; i < n_kept; i++)
		assert_int_equal(number(c, kept[i]), i);
	for (unsigned i = 0; i < n_gone; i++)
		assert_int_equal(mpf_flow_destroy(c, 0, gone[i], &error), -ENOENT);
	/* A client's rule of the last run: gone, and its handle names nothing
	 * in this run, whatever lands in its slot. */
	assert_int_equal(mpf_flow_destroy(c, 0, mine, &error), -ENOENT);
	assert_int_equal(mpf_meter_query(c, 0, 3, 0, &stats, &error), 0);

	/* A clean stop keeps them too (the journal is not a shutdown casualty). */
	mpf_disconnect(c);
	assert_int_equal(primary_stop(p), 0);
	assert_int_equal(primary_restart(p, args), 0);
	assert_int_equal(primary_connect(p, "again", &c), 0);
	assert_int_equal(listed_persistent(c, found, 256), n_kept);
	assert_int_equal(mpf_flow_destroy(c, 0, kept[0], &error), 0);
	assert_int_equal(mpf_meter_destroy(c, 0, 3, &error), 0);
	mpf_disconnect(c);
	kill_primary(p);
	assert_int_equal(primary_restart(p, args), 0);
	assert_int_equal(primary_connect(p, "last", &c), 0);
	assert_int_equal(listed_persistent(c, found, 256), n_kept - 1);
	for (unsigned i = 1; i < n_kept; i++)
		assert_int_equal(number(c, kept[i]), i - 1);
	assert_int_equal(mpf_meter_query(c, 0, 3, 0, &stats, &error), -ENOENT);
	mpf_disconnect(c);
}

/*
 * A start restores rules in the order they were made, not by slot: rules
 * made after most of the port's were destroyed take freed slots (below the
 * survivors'), and after a SIGKILL and after a clean stop they still come
 * after the survivors, numbered so (and, same priority, lose their ties to
 * them). The code before replayed by slot: a restart made them the oldest.
 */
static void test_a_start_restores_rules_in_the_order_they_were_made(void **state)
{
	enum { MADE = 600, DESTROYED = 590, LATER = 10 };
	struct primary *p = *state;
	struct mpf_flow_error error;
	uint64_t made[MADE], order[MADE - DESTROYED + LATER];
	struct mpf_client *c;
	unsigned n = 0;

	assert_int_equal(primary_connect(p, "maker", &c), 0);
	for (uint32_t i = 0; i < MADE; i++)
		made[i] = create(c, i, PERSISTENT);
	for (uint32_t i = 0; i < DESTROYED; i++)
		assert_int_equal(mpf_flow_destroy(c, 0, made[i], &error), 0);
	for (uint32_t i = DESTROYED; i < MADE; i++)
		order[n++] = made[i];
	for (uint32_t i = 0; i < LATER; i++)
		order[n++] = create(c, MADE + i, PERSISTENT);
	/* The later ones did take freed slots, below the survivors'. */
	assert_true((uint32_t)order[n - 1] < (uint32_t)order[0]);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(number(c, order[i]), DESTROYED + i);
	mpf_disconnect(c);

	for (int round = 0; round < 2; round++) {
		if (round == 0)
			kill_primary(p);
		else
			assert_int_equal(primary_stop(p), 0);
		assert_int_equal(primary_restart(p, args), 0);
		assert_int_equal(primary_connect(p, "after", &c), 0);
		for (unsigned i = 0; i < n; i++)
			assert_int_equal(number(c, order[i]), i);
		mpf_disconnect(c);
	}
}

/* The killer: SIGKILL the primary after `delay_us`. */
struct killer {
	pid_t pid;
	unsigned delay_us;
};

static void *killer_main(void *arg)
{
	struct killer *k = arg;

	usleep(k->delay_us);
	kill(k->pid, SIGKILL);
	return NULL;
}

#define STREAM_MAX 200000u

static void test_a_primary_killed_mid_stream_loses_no_acknowledged_rule(void **state)
{
	struct primary *p = *state;
	uint64_t *acked = calloc(STREAM_MAX, sizeof(*acked)); /* by create number */
	uint8_t *fate = calloc(STREAM_MAX, 1); /* 0 unknown, 1 live, 2 destroy sent, 3 gone */
	uint64_t *found = calloc(STREAM_MAX, sizeof(*found));
	unsigned seed = 12345, rounds = 6, total_acked = 0;

	for (unsigned round = 0; round < rounds; round++) {
		struct killer k = {.pid = p->pid, .delay_us = 20000 + rand_r(&seed) % 150000};
		struct mpf_completion done[64];
		struct mpf_flow_error error;
		struct mpf_client *c;
		pthread_t killer;
		uint32_t next = 0, creates_in_flight = 0, status;
		unsigned n_found, must = 0, maybe = 0;

		memset(fate, 0, STREAM_MAX);
		assert_int_equal(primary_connect(p, "stream", &c), 0);
		pthread_create(&killer, NULL, killer_main, &k);
		/* Creates, and destroys of every third acknowledged one. user_data:
		 * bit 63 set for a destroy, the create number below. */
		for (;;) {
			int n;

			while (next < STREAM_MAX && mpf_inflight(c) < 64) {
				struct sample_rule s;

				sample_rule_init(&s, next);
				if (mpf_submit_create(c, 0, &ingress, s.pattern, s.actions,
						      PERSISTENT, next, &error) != 0)
					break;
				next++;
				creates_in_flight++;
			}
			n = mpf_poll(c, done, 64, 1000);
			if (n < 0)
				break;
			for (int i = 0; i < n; i++) {
				uint32_t id = (uint32_t)done[i].user_data;

				if (done[i].user_data >> 63) {
					if (done[i].status == 0)
						fate[id] = 3;
					continue;
				}
				creates_in_flight--;
				if (done[i].status != 0)
					continue;
				acked[id] = done[i].handle;
				fate[id] = 1;
				total_acked++;
				if (id % 3 == 0 && mpf_submit_destroy(c, 0, done[i].handle,
								      1ull << 63 | id, &error) == 0)
					fate[id] = 2;
			}
		}
		pthread_join(killer, NULL);
		mpf_disconnect(c);
		assert_int_equal(waitpid(p->pid, (int *)&status, 0), p->pid);
		p->pid = 0;

		assert_int_equal(primary_restart(p, args), 0);
		assert_int_equal(primary_connect(p, "audit", &c), 0);
		n_found = listed_persistent(c, found, STREAM_MAX);
		for (uint32_t id = 0; id < next; id++) {
			if (fate[id] == 1) {
				must++;
				if (!listed(found, n_found, acked[id]))
					fail_msg("round %u: acknowledged rule %u (0x%llx) lost",
						 round, id, (unsigned long long)acked[id]);
			}
			maybe += fate[id] == 2; /* its destroy was in flight */
			if (fate[id] == 3 && listed(found, n_found, acked[id]))
				fail_msg("round %u: rule %u came back after its destroy was "
					 "acknowledged",
					 round, id);
		}
		/* What else came back was in flight: a create not acknowledged
		 * yet, or a rule whose destroy was not. */
		assert_true(n_found <= must + maybe + creates_in_flight);
		print_message("round %u: killed after %u us, %u creates sent, %u live rules "
			      "acknowledged, %u back\n",
			      round, k.delay_us, next, must, n_found);
		assert_true(mpf_flow_flush_persistent(c, 0, &error) >= 0);
		mpf_disconnect(c);
	}
	assert_true(total_acked > 0);
	free(acked);
	free(fate);
	free(found);
}

/* Many clients: each streams persistent creates (and destroys of every
 * third one) and tells the parent, through a pipe, what was acknowledged. */
struct event {
	uint8_t kind; /* 'R' connected, 'C' create acked, 'S' destroy sent,
		       * 'D' destroy acked, 'E' the end: `handle` = creates in flight */
	uint64_t handle;
};

static void stream_client(const struct primary *p, unsigned index, int out)
{
	struct mpf_completion done[64];
	struct mpf_flow_error error;
	struct mpf_client *c;
	uint32_t next = 0, in_flight = 0;
	char name[32];

	snprintf(name, sizeof(name), "stream-%u", index);
	if (primary_connect(p, name, &c) != 0)
		_exit(2);
	{
		struct event ready = {.kind = 'R'};

		if (write(out, &ready, sizeof(ready)) != sizeof(ready))
			_exit(3);
	}
	for (;;) {
		int n;

		while (mpf_inflight(c) < 32) {
			struct sample_rule s;

			sample_rule_init(&s, index << 20 | next);
			if (mpf_submit_create(c, 0, &ingress, s.pattern, s.actions, PERSISTENT,
					      next, &error) != 0)
				break;
			next++;
			in_flight++;
		}
		n = mpf_poll(c, done, 64, 1000);
		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			struct event e = {.handle = done[i].handle};

			if (done[i].user_data >> 63) {
				e.kind = 'D';
				e.handle = done[i].user_data & ~(1ull << 63);
			} else {
				in_flight--;
				if (done[i].status)
					continue;
				e.kind = 'C';
			}
			if (done[i].status || write(out, &e, sizeof(e)) != sizeof(e))
				continue;
			if (e.kind == 'C' && (uint32_t)done[i].user_data % 3 == 0 &&
			    mpf_submit_destroy(c, 0, e.handle, 1ull << 63 | e.handle, &error) ==
				    0) {
				e.kind = 'S';
				if (write(out, &e, sizeof(e)) != sizeof(e))
					_exit(3);
			}
		}
	}
	{
		struct event e = {.kind = 'E', .handle = in_flight};

		if (write(out, &e, sizeof(e)) != sizeof(e))
			_exit(3);
	}
	_exit(0);
}

#define STREAMS 8

static void test_a_primary_killed_under_many_clients_loses_no_acknowledged_rule(void **state)
{
	struct primary *p = *state;
	unsigned seed = 777;

	for (unsigned round = 0; round < 3; round++) {
		/* By handle: 1 live, 2 destroy sent, 3 destroyed (acknowledged). */
		static uint64_t handles[STREAMS * 65536];
		static uint8_t fate[STREAMS * 65536];
		static uint64_t found[STREAMS * 65536];
		unsigned n = 0, n_found, must = 0, maybe = 0;
		uint64_t in_flight = 0;
		pid_t pids[STREAMS];
		int pipes[STREAMS][2];
		struct mpf_client *c;
		struct mpf_flow_error error;
		unsigned delay = 50000 + rand_r(&seed) % 200000;

		for (unsigned i = 0; i < STREAMS; i++) {
			assert_int_equal(pipe(pipes[i]), 0);
			pids[i] = fork();
			if (pids[i] == 0) {
				close(pipes[i][0]);
				stream_client(p, i, pipes[i][1]);
			}
			close(pipes[i][1]);
		}
		/* Everyone connected and streaming, then the kill. */
		for (unsigned i = 0; i < STREAMS; i++) {
			struct event e;

			assert_int_equal(read(pipes[i][0], &e, sizeof(e)), sizeof(e));
			assert_int_equal(e.kind, 'R');
		}
		usleep(delay);
		kill_primary(p);
		for (unsigned i = 0; i < STREAMS; i++) {
			struct event e;
			int status;

			while (read(pipes[i][0], &e, sizeof(e)) == sizeof(e)) {
				unsigned at;

				if (e.kind == 'E') {
					in_flight += e.handle;
					continue;
				}
				for (at = 0; at < n && handles[at] != e.handle; at++)
					;
				if (at == n && n < STREAMS * 65536)
					handles[n++] = e.handle;
				fate[at] = e.kind == 'C' ? 1 : e.kind == 'S' ? 2 : 3;
			}
			close(pipes[i][0]);
			assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
			assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		}
		assert_int_equal(primary_restart(p, args), 0);
		assert_int_equal(primary_connect(p, "audit", &c), 0);
		n_found = listed_persistent(c, found, STREAMS * 65536);
		for (unsigned i = 0; i < n; i++) {
			if (fate[i] == 1 && !listed(found, n_found, handles[i]))
				fail_msg("round %u: acknowledged rule 0x%llx lost", round,
					 (unsigned long long)handles[i]);
			if (fate[i] == 3 && listed(found, n_found, handles[i]))
				fail_msg("round %u: rule 0x%llx back after its destroy was "
					 "acknowledged",
					 round, (unsigned long long)handles[i]);
			must += fate[i] == 1;
			maybe += fate[i] == 2;
		}
		assert_true(n_found <= must + maybe + in_flight);
		assert_true(mpf_audit(c, &error) >= 0);
		print_message("round %u: %u clients, primary killed after %u ms, %u live rules "
			      "acknowledged, %u back\n",
			      round, STREAMS, delay / 1000, must, n_found);
		assert_true(mpf_flow_flush_persistent(c, 0, &error) >= 0);
		mpf_disconnect(c);
	}
}

/* The journal's records: offsets of each header, from the lengths. */
/* `n` persistent rules made by one client (their handles into handles[]),
 * then the primary killed: its journal as a crash leaves it. */
static void persist_and_kill(struct primary *p, uint32_t n, uint64_t *handles)
{
	struct mpf_client *c;

	assert_int_equal(primary_connect(p, "writer", &c), 0);
	for (uint32_t i = 0; i < n; i++)
		handles[i] = create(c, i, PERSISTENT);
	mpf_disconnect(c);
	kill_primary(p);
}

static unsigned record_offsets(const char *path, long *offsets, unsigned max, long *size)
{
	FILE *f = fopen(path, "rb");
	unsigned n = 0;
	long at = 0;
	uint32_t header[6]; /* magic, type|reserved, length, crc, key (2) */

	assert_non_null(f);
	while (n < max && fread(header, sizeof(header), 1, f) == 1) {
		offsets[n++] = at;
		at += (long)sizeof(header) + header[2];
		fseek(f, at, SEEK_SET);
	}
	fseek(f, 0, SEEK_END);
	*size = ftell(f);
	fclose(f);
	return n;
}

static bool log_says(const struct primary *p, const char *words)
{
	char line[512];
	FILE *f = fopen(p->log, "r");
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, words) != NULL;
	if (f)
		fclose(f);
	return found;
}

static void test_a_damaged_journal_is_reported_and_read_up_to_the_damage(void **state)
{
	struct primary *p = *state;
	char path[128];
	long offsets[64], size;
	uint64_t handles[20], found[64];
	struct mpf_client *c;
	unsigned n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/default.journal", p->dir);
	persist_and_kill(p, 20, handles);
	/* The epoch record, then the 20 rules in the order they were made. */
	n = record_offsets(path, offsets, 64, &size);
	assert_int_equal(n, 21);

	/* Cut in the middle of the 11th rule: 10 come back. */
	assert_int_equal(truncate(path, offsets[11] + 30), 0);
	assert_int_equal(primary_restart(p, args), 0);
	assert_true(log_says(p, "a truncated record at byte"));
	assert_int_equal(primary_connect(p, "reader", &c), 0);
	assert_int_equal(listed_persistent(c, found, 64), 10);
	for (unsigned i = 0; i < 10; i++)
		assert_true(listed(found, 10, handles[i]));
	mpf_disconnect(c);
	kill_primary(p);

	/* The restart rewrote the journal: epoch + 10 rules. Flip one byte in
	 * the middle of the 5th rule's payload: the 4 before it come back,
	 * nothing after it is trusted. */
	n = record_offsets(path, offsets, 64, &size);
	assert_int_equal(n, 11);
	f = fopen(path, "r+b");
	assert_non_null(f);
	{
		long at = offsets[5] + 24 + (offsets[6] - offsets[5] - 24) / 2;
		int byte;

		fseek(f, at, SEEK_SET);
		byte = fgetc(f);
		fseek(f, at, SEEK_SET);
		fputc(byte ^ 0x20, f);
	}
	fclose(f);
	assert_int_equal(primary_restart(p, args), 0);
	assert_true(log_says(p, "a record whose checksum does not match"));
	assert_int_equal(primary_connect(p, "reader", &c), 0);
	assert_int_equal(listed_persistent(c, found, 64), 4);
	mpf_disconnect(c);
	kill_primary(p);

	/* Garbage in place of the file: refused record by record, not read. */
	f = fopen(path, "wb");
	for (int i = 0; i < 4096; i++)
		fputc((i * 7919) & 0xff, f);
	fclose(f);
	assert_int_equal(primary_restart(p, args), 0);
	assert_true(log_says(p, "a record with a bad magic or type at byte 0"));
	assert_int_equal(primary_connect(p, "reader", &c), 0);
	assert_int_equal(listed_persistent(c, found, 64), 0);
	mpf_disconnect(c);
}

/* A journal read up to damage is rewritten from the rule directory, each
 * rule's packed form copied from its entry or, when too long for it, from the rule
 * heap: the next start restores every rule as it was made, the same text
 * under the same handle. */
static void test_a_journal_rewritten_from_the_directory_keeps_every_rule(void **state)
{
	static const char *const texts[] = {
		"ingress pattern eth / ipv4 src is 10.1.2.3 dst is 192.168.7.9 / tcp src is 40000 "
		"dst is 443 / end actions count / queue index 3 / end",
		/* IPv6 addresses: longer packed than an entry holds, in the heap. */
		"priority 7 ingress pattern eth / ipv6 src is "
		"2001:db8:1111:2222:3333:4444:5555:6666 dst is "
		"fe80:1:2:3:4:5:6:7 / udp "
		"dst is 53 / end actions mark id 9 / count / queue index 1 / end",
		"group 2 priority 70000 ingress pattern eth / ipv4 src spec 10.0.0.0 src mask "
		"255.255.240.0 / end actions drop / end",
	};
	enum { N = sizeof(texts) / sizeof(texts[0]) };
	struct primary *p = *state;
	struct mpf_flow_error error;
	struct mpf_flow_info info;
	struct mpf_client *c;
	uint64_t handles[N];
	long offsets[8], torn, size;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/default.journal", p->dir);
	assert_int_equal(primary_connect(p, "writer", &c), 0);
	for (unsigned i = 0; i < N; i++)
		if (create_from_text(c, texts[i], PERSISTENT, &handles[i], &error) != 0)
			fail_msg("'%s': %s", texts[i], error.message);
	mpf_disconnect(c);
	kill_primary(p);
	/* A torn record at the end: read up to it, then rewritten. */
	f = fopen(path, "ab");
	assert_non_null(f);
	assert_int_equal(fwrite("\x4d\x46\x4a\x52torn", 1, 8, f), 8);
	fclose(f);
	assert_int_equal(record_offsets(path, offsets, 8, &torn), 1 + N);
	assert_int_equal(primary_restart(p, args), 0);
	kill_primary(p);
	/* Rewritten: the epoch and the rules, the torn tail gone. */
	assert_int_equal(record_offsets(path, offsets, 8, &size), 1 + N);
	assert_int_equal(size, torn - 8);
	assert_int_equal(primary_restart(p, args), 0);
	assert_int_equal(primary_connect(p, "reader", &c), 0);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(mpf_flow_get(c, handles[i], &info), 0);
		assert_string_equal(info.text, texts[i]);
		assert_true(info.flags & MPF_FLOW_INFO_PERSISTENT);
	}
	mpf_disconnect(c);
}

/* Each record of the journal at `path` through `edit` (its header words
 * h[6], its payload and its index), which returns the payload to write
 * (h[2] its length; the header's other words as it left them): the file
 * written again, each checksum made again. */
typedef const uint8_t *record_edit(uint32_t h[6], const uint8_t *payload, unsigned index);

static void journal_edit(const char *path, record_edit *edit)
{
	static uint8_t in[1 << 20], out[1 << 21];
	size_t size, at = 0, used = 0;
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	size = fread(in, 1, sizeof(in), f);
	fclose(f);
	for (unsigned index = 0; at + 24 <= size; index++) {
		uint32_t h[6]; /* magic, type|reserved, length, crc, key (2) */
		const uint8_t *payload;
		uint32_t length;

		memcpy(h, in + at, sizeof(h));
		length = h[2];
		payload = edit(h, in + at + 24, index);
		h[3] = 0;
		h[3] = crc32c(crc32c(0, h, sizeof(h)), payload, h[2]);
		memcpy(out + used, h, sizeof(h));
		memcpy(out + used + 24, payload, h[2]);
		used += 24 + h[2];
		at += 24 + length;
	}
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(out, 1, used, f), used);
	fclose(f);
}

/* A packed rule record (type 6) as the format before packed records wrote
 * it: a record of the rule's request (type 2), unpacked from it. */
static const uint8_t *to_request(uint32_t h[6], const uint8_t *payload, unsigned index)
{
	alignas(8) static uint8_t request[WIRE_MSG_MAX];
	int n;

	(void)index;
	if ((h[1] & 0xffff) != 6)
		return payload;
	n = rule_unpack(payload, h[2], request, sizeof(request), NULL);
	assert_true(n > 0);
	h[1] = 2;
	h[2] = (uint32_t)n;
	return request;
}

/* A journal of the format before packed records (each rule's request) is
 * read as before: its rules come back under their handles with their text;
 * rules made next are journaled packed after them, and the next start
 * restores both kinds. A packed record is a few times smaller. */
static void test_a_journal_of_requests_still_restores_every_rule(void **state)
{
	struct primary *p = *state;
	struct mpf_flow_info info;
	struct mpf_client *c;
	uint64_t handles[8], found[16];
	char path[128], texts[8][sizeof(info.text)];
	long offsets[16], packed_size, size;

	snprintf(path, sizeof(path), "%s/default.journal", p->dir);
	assert_int_equal(primary_connect(p, "writer", &c), 0);
	for (uint32_t i = 0; i < 5; i++) {
		handles[i] = create(c, i, PERSISTENT);
		assert_int_equal(mpf_flow_get(c, handles[i], &info), 0);
		memcpy(texts[i], info.text, sizeof(info.text));
	}
	mpf_disconnect(c);
	kill_primary(p);
	assert_int_equal(record_offsets(path, offsets, 16, &packed_size), 6);
	journal_edit(path, to_request);
	assert_int_equal(record_offsets(path, offsets, 16, &size), 6);
	print_message("5 rules: %ld bytes of journal packed, %ld as requests\n", packed_size, size);
	assert_true(size > 2 * packed_size);

	assert_int_equal(primary_restart(p, args), 0);
	assert_int_equal(primary_connect(p, "writer", &c), 0);
	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(mpf_flow_get(c, handles[i], &info), 0);
		assert_string_equal(info.text, texts[i]);
	}
	for (uint32_t i = 5; i < 8; i++)
		handles[i] = create(c, i, PERSISTENT);
	mpf_disconnect(c);
	kill_primary(p);
	/* Appended: the old records, an epoch, the three new ones. */
	assert_int_equal(record_offsets(path, offsets, 16, &size), 10);
	assert_int_equal(primary_restart(p, args), 0);
	assert_int_equal(primary_connect(p, "reader", &c), 0);
	assert_int_equal(listed_persistent(c, found, 16), 8);
	for (uint32_t i = 0; i < 8; i++)
		assert_true(listed(found, 8, handles[i]));
	mpf_disconnect(c);
}

/* Records 1 and 2 (rules 0 and 1) made unreadable under good checksums:
 * rule 0 a request record (type 2) whose request is not one, rule 1 a
 * packed record whose bytes are not a packed rule. */
static uint8_t broken[2][1024];

static const uint8_t *break_rules_0_and_1(uint32_t h[6], const uint8_t *payload, unsigned index)
{
	if (index == 1)
		payload = to_request(h, payload, index);
	if ((index != 1 && index != 2) || h[2] > sizeof(broken[0]))
		return payload;
	memcpy(broken[index - 1], payload, h[2]);
	broken[index - 1][0] ^= 0xff; /* the wire magic's first byte; the packed head's flags */
	return broken[index - 1];
}

/* A rule record a start cannot read (a checksum that matches bytes that
 * are not a rule) is reported and kept, never dropped: counted as not
 * restored, and written again byte for byte, with its record's type, by a
 * rewrite of the journal, while the readable rules come back. */
static void test_an_unreadable_rule_record_is_kept_as_it_was(void **state)
{
	struct primary *p = *state;
	struct mpf_connect_options o = {.runtime_dir = p->dir};
	struct mpf_instance_info info;
	struct mpf_flow_error error;
	struct mpf_monitor *m;
	struct mpf_client *c;
	uint64_t handles[3], found[8];
	long offsets[8], torn, size;
	char path[128];
	uint8_t record[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/default.journal", p->dir);
	persist_and_kill(p, 3, handles);
	journal_edit(path, break_rules_0_and_1);
	/* A torn tail too: the start rewrites the journal from what it kept. */
	f = fopen(path, "ab");
	assert_non_null(f);
	assert_int_equal(fwrite("\x4d\x46\x4a\x52torn", 1, 8, f), 8);
	fclose(f);
	assert_int_equal(record_offsets(path, offsets, 8, &torn), 4);
	assert_int_equal(primary_restart(p, args), 0);
	assert_true(log_says(p, "cannot be read"));
	assert_int_equal(primary_connect(p, "reader", &c), 0);
	assert_int_equal(listed_persistent(c, found, 8), 1);
	assert_true(listed(found, 1, handles[2]));
	mpf_disconnect(c);
	assert_int_equal(mpf_monitor_open(&o, &m, &error), 0);
	assert_int_equal(mpf_monitor_instance(m, &info), 0);
	assert_int_equal(info.unrestored, 2);
	mpf_monitor_close(m);
	kill_primary(p);
	/* Rewritten: the epoch, the two kept as they were, the rule. */
	assert_int_equal(record_offsets(path, offsets, 8, &size), 4);
	assert_int_equal(size, torn - 8);
	/* Rules made meanwhile never take their slots (a rule in one would
	 * outdate the record, and the next start drop it). */
	assert_int_equal(primary_restart(p, args), 0);
	assert_int_equal(primary_connect(p, "writer", &c), 0);
	for (uint32_t i = 3; i < 6; i++)
		assert_int_not_equal((uint32_t)create(c, i, PERSISTENT), (uint32_t)handles[0]);
	mpf_disconnect(c);
	kill_primary(p);
	assert_int_equal(primary_restart(p, args), 0);
	assert_true(log_says(p, "cannot be read"));
	assert_int_equal(mpf_monitor_open(&o, &m, &error), 0);
	assert_int_equal(mpf_monitor_instance(m, &info), 0);
	assert_int_equal(info.unrestored, 2);
	assert_int_equal(info.rules, 1 + 3);
	mpf_monitor_close(m);
	kill_primary(p);
	assert_int_equal(record_offsets(path, offsets, 8, &size), 4 + 1 + 3);
	f = fopen(path, "rb");
	assert_non_null(f);
	for (unsigned i = 1; i <= 2; i++) {
		uint32_t h[6];
		uint64_t key;

		fseek(f, offsets[i], SEEK_SET);
		assert_int_equal(fread(h, sizeof(h), 1, f), 1);
		memcpy(&key, &h[4], sizeof(key));
		assert_int_equal(key, handles[i - 1]);
		assert_int_equal(h[1] & 0xffff, i == 1 ? 2 : 6);
		assert_true(h[2] <= sizeof(record));
		assert_int_equal(fread(record, 1, h[2], f), h[2]);
		assert_memory_equal(record, broken[i - 1], h[2]);
	}
	fclose(f);
}

/* Rules 0-7 (records 1-8) as another user's (type 7: uid 65534, then the
 * packed rule), and record 6 (rule 5) too short to hold a uid (2 bytes). */
static const uint8_t *of_another_user(uint32_t h[6], const uint8_t *payload, unsigned index)
{
	static uint8_t out[9][1024];
	uint32_t uid = 65534;

	if ((h[1] & 0xffff) != 6 || index > 8 || h[2] + 4 > sizeof(out[0]))
		return payload;
	h[1] = 7;
	if (index == 6) {
		h[2] = 2;
		return out[index];
	}
	memcpy(out[index], &uid, sizeof(uid));
	memcpy(out[index] + 4, payload, h[2]);
	h[2] += 4;
	return out[index];
}

/* A journal whose rules record their maker's uid (another user's: type 7)
 * restores them under their handles (and the audit finds the user's count
 * right); a record too short for a uid is damage, refused as such, with
 * what precedes it restored. */
static void test_a_journal_of_another_users_rules_is_read_up_to_a_short_record(void **state)
{
	struct primary *p = *state;
	struct mpf_flow_error error;
	uint64_t handles[8], found[16];
	struct mpf_client *c;
	char path[128];

	snprintf(path, sizeof(path), "%s/default.journal", p->dir);
	persist_and_kill(p, 8, handles);
	journal_edit(path, of_another_user);
	assert_int_equal(primary_restart(p, args), 0);
	assert_true(log_says(p, "a record too short for its type at byte"));
	assert_int_equal(primary_connect(p, "reader", &c), 0);
	assert_int_equal(listed_persistent(c, found, 16), 5);
	for (uint32_t i = 0; i < 5; i++)
		assert_true(listed(found, 5, handles[i]));
	assert_true(mpf_audit(c, &error) >= 5);
	/* The instance's own user (root here) destroys another user's. */
	assert_int_equal(mpf_flow_destroy(c, 0, handles[0], &error), 0);
	mpf_disconnect(c);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_rules_and_meters_come_back_with_their_handles),
		T(test_a_start_restores_rules_in_the_order_they_were_made),
		T(test_a_primary_killed_mid_stream_loses_no_acknowledged_rule),
		T(test_a_primary_killed_under_many_clients_loses_no_acknowledged_rule),
		T(test_a_damaged_journal_is_reported_and_read_up_to_the_damage),
		T(test_a_journal_rewritten_from_the_directory_keeps_every_rule),
		T(test_a_journal_of_requests_still_restores_every_rule),
		T(test_an_unreadable_rule_record_is_kept_as_it_was),
		T(test_a_journal_of_another_users_rules_is_read_up_to_a_short_record),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("restart", tests, NULL, NULL);
}
