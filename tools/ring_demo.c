/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpflow-ring-demo: the foundation at work until mpflowd exists.
 *
 * A secondary process encodes rte_flow rules and submits them as CREATE
 * requests through a shared-memory request ring (a memfd it maps itself); a
 * stand-in for the primary decodes each request from its private copy,
 * validates it as rte_flow.rst says, and answers through the completion
 * ring. Both sides sleep on eventfd doorbells when idle.
 *
 * What it does not do: no rule is installed anywhere and no packet moves;
 * the primary, its rule table and the datapath come with later releases.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/doorbell.h"
#include "shm/ring.h"
#include "shm/rule/rule.h"
#include "shm/wire.h"

#define ITEM(t, ...) {.type = MPF_FLOW_ITEM_TYPE_##t, __VA_ARGS__}
#define ACTION(t, c) {.type = MPF_FLOW_ACTION_TYPE_##t, .conf = (c)}
#define RING_BYTES   (64u * 1024u)
#define WAIT_MS	     5000

struct demo_rule {
	const char *text; /* as testpmd would take it */
	struct mpf_flow_attr attr;
	struct mpf_flow_item pattern[6];
	struct mpf_flow_action actions[4];
};

static const struct mpf_flow_item_ipv4 ip_src = {.hdr.src_addr = 0x0100000a}; /* 10.0.0.1 */
static const struct mpf_flow_item_tcp tcp_80 = {.hdr.dst_port = 0x5000};	   /* 80 */
static const struct mpf_flow_item_tcp tcp_70 = {.hdr.dst_port = 0x4600};	   /* 70 */
static const struct mpf_flow_item_vxlan vni_42 = {.vni = {0, 0, 42}};
static const struct mpf_flow_action_queue queue_3 = {.index = 3};
static const struct mpf_flow_action_mark mark_42 = {.id = 42};

static const struct demo_rule rules[] = {
	{"flow create 0 ingress pattern eth / ipv4 src is 10.0.0.1 / tcp dst is 80 / end "
	 "actions queue index 3 / count / end",
	 {.ingress = 1},
	 {ITEM(ETH), ITEM(IPV4, .spec = &ip_src), ITEM(TCP, .spec = &tcp_80), ITEM(END)},
	 {ACTION(QUEUE, &queue_3), ACTION(COUNT, NULL), ACTION(END, NULL)}},
	{"flow create 0 ingress pattern eth / ipv4 / udp / vxlan vni is 42 / eth / end "
	 "actions mark id 42 / drop / end",
	 {.ingress = 1, .priority = 1},
	 {ITEM(ETH), ITEM(IPV4), ITEM(UDP), ITEM(VXLAN, .spec = &vni_42), ITEM(ETH), ITEM(END)},
	 {ACTION(MARK, &mark_42), ACTION(DROP, NULL), ACTION(END, NULL)}},
	{"flow create 0 ingress pattern eth / udp / end actions drop / end",
	 {.ingress = 1},
	 {ITEM(ETH), ITEM(UDP), ITEM(END)},
	 {ACTION(DROP, NULL), ACTION(END, NULL)}},
	{"flow create 0 ingress pattern eth / ipv4 / tcp dst spec 80 dst last 70 / end "
	 "actions drop / end",
	 {.ingress = 1},
	 {ITEM(ETH), ITEM(IPV4), ITEM(TCP, .spec = &tcp_80, .last = &tcp_70), ITEM(END)},
	 {ACTION(DROP, NULL), ACTION(END, NULL)}},
	{"flow create 0 pattern eth / end actions drop / end",
	 {.group = 0},
	 {ITEM(ETH), ITEM(END)},
	 {ACTION(DROP, NULL), ACTION(END, NULL)}},
};

#define N_RULES (sizeof(rules) / sizeof(rules[0]))

/* The stand-in primary: decode, validate, complete. */
static int serve(struct ring *requests, struct ring *completions, int bell, unsigned count)
{
	static struct wire_request req;
	static uint8_t in[WIRE_MSG_MAX], out[WIRE_MSG_MAX];

	for (unsigned served = 0; served < count;) {
		struct wire_completion c = {0};
		int length = ring_dequeue(requests, in, sizeof(in));

		if (length == -EAGAIN) {
			if (ring_wait_readable(requests, bell, 100, WAIT_MS) == -ETIMEDOUT)
				return 1;
			continue;
		}
		if (length < 0)
			return 1; /* a broken ring: a real primary drops this client */
		c.status = wire_decode_request(in, (size_t)length, &req, &c.error);
		if (c.status == 0)
			c.status = rule_validate(&req.rule.attr, req.rule.items, req.rule.actions,
						 &c.error);
		c.user_data = req.header.user_data;
		c.request_op = req.header.op;
		c.handle = c.status == 0 ? served + 1 : 0;
		length = wire_encode_completion(out, sizeof(out), &c);
		while (ring_enqueue(completions, out, (uint32_t)length) == -EAGAIN)
			ring_wait_writable(completions, (uint32_t)length, bell, 100, WAIT_MS);
		served++;
	}
	return 0;
}

int main(void)
{
	size_t half = ring_memsize(RING_BYTES);
	int memfd = memfd_create("mpflow-demo", MFD_CLOEXEC);
	int primary_bell = doorbell_create(), client_bell = doorbell_create();
	static uint8_t encoded[N_RULES][WIRE_MSG_MAX], reply[WIRE_MSG_MAX];
	struct mpf_flow_error errors[N_RULES];
	int lengths[N_RULES];
	struct ring requests, completions;
	unsigned to_send = 0, accepted = 0;
	uint8_t *mem;
	int status;
	pid_t primary;

	if (memfd < 0 || ftruncate(memfd, (off_t)(2 * half)) != 0 || primary_bell < 0 ||
	    client_bell < 0) {
		perror("mpflow-ring-demo: setup");
		return 1;
	}
	mem = mmap(NULL, 2 * half, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED) {
		perror("mpflow-ring-demo: mmap");
		return 1;
	}
	ring_create(&requests, mem, half, RING_BYTES, WIRE_MSG_MAX, RING_CONSUMER, client_bell);
	ring_create(&completions, mem + half, half, RING_BYTES, WIRE_MSG_MAX, RING_PRODUCER,
		    client_bell);

	/* The client runs the same validation as the primary before anything
	 * leaves the process; what it refuses is never sent. */
	for (unsigned i = 0; i < N_RULES; i++) {
		lengths[i] = wire_encode_rule(encoded[i], WIRE_MSG_MAX, WIRE_OP_CREATE, i, 0, false,
					      &rules[i].attr, rules[i].pattern, rules[i].actions,
					      &errors[i]);
		to_send += lengths[i] > 0;
	}

	printf("mpflow-ring-demo: a secondary submits rte_flow rules through shared-memory\n"
	       "rings; a stand-in primary decodes and validates them. Nothing is installed:\n"
	       "the primary (mpflowd) and the datapath are not built yet.\n\n");
	fflush(stdout);
	primary = fork();
	if (primary == 0)
		_exit(serve(&requests, &completions, primary_bell, to_send));

	/* The secondary maps the memfd again, at an address of its own. */
	mem = mmap(NULL, 2 * half, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED || ring_attach(&requests, mem, half, RING_PRODUCER, primary_bell) ||
	    ring_attach(&completions, mem + half, half, RING_CONSUMER, primary_bell)) {
		fprintf(stderr, "mpflow-ring-demo: attach failed\n");
		return 1;
	}
	for (unsigned i = 0; i < N_RULES; i++) {
		struct wire_completion done;
		int length;

		printf("%s\n", rules[i].text);
		if (lengths[i] < 0) {
			printf("  refused by the client: %s (%s, error type %s, index %d)\n\n",
			       errors[i].message, strerror(-lengths[i]),
			       mpf_flow_error_type_name(errors[i].type), (int)errors[i].cause);
			continue;
		}
		ring_enqueue(&requests, encoded[i], (uint32_t)lengths[i]);
		while ((length = ring_dequeue(&completions, reply, sizeof(reply))) == -EAGAIN)
			ring_wait_readable(&completions, client_bell, 100, WAIT_MS);
		if (length < 0 || wire_decode_completion(reply, (size_t)length, &done) != 0) {
			fprintf(stderr, "mpflow-ring-demo: no completion from the primary\n");
			kill(primary, SIGKILL);
			return 1;
		}
		if (done.status == 0) {
			accepted++;
			printf("  accepted by the primary: handle %llu, %d bytes on the wire\n\n",
			       (unsigned long long)done.handle, lengths[i]);
		} else {
			printf("  refused by the primary: %s (%s)\n\n", done.error.message,
			       strerror(-done.status));
		}
	}
	waitpid(primary, &status, 0);
	printf("%u of %zu rules accepted; the stand-in primary exited with status %d\n", accepted,
	       N_RULES, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
