/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a seed corpus for fuzz_wire: one encoded message per request type
 * and per item and action family, made by the real encoders.
 * usage: make-wire-corpus DIR
 */
#include <stdio.h>
#include <string.h>

#include "shm/wire.h"

#include "tests/rule_literals.h"

static int seeds;

static void save(const char *dir, const char *name, const void *msg, int length)
{
	char path[4096];
	FILE *f;

	if (length <= 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f && fwrite(msg, 1, (size_t)length, f) == (size_t)length)
		seeds++;
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	static uint8_t msg[WIRE_MSG_MAX], sub[WIRE_MSG_MAX];
	const struct mpf_flow_attr attr = {.ingress = 1, .priority = 1};
	struct mpf_flow_error error;
	struct mpf_flow_item_eth eth = {.dst = {0x66, 0x11, 0x22, 0x33, 0x44, 0x55}};
	struct mpf_flow_item_ipv4 ip = {.hdr.src_addr = 0x0B86C806};
	struct mpf_flow_item_udp udp = {.hdr.dst_port = 0xb512};
	struct mpf_flow_item_vxlan vxlan = {.vni = {0, 0, 42}};
	struct mpf_flow_item_raw raw = {.relative = 1,
					.search = 1,
					.offset = 10,
					.length = 3,
					.pattern = (const uint8_t *)"foo"};
	struct mpf_flow_item_any any = {.num = 2};
	const uint16_t queues[] = {0, 1, 2, 3};
	const uint8_t key[40] = {0x6d, 0x5a};
	const struct mpf_flow_action_rss rss = {
		.types = MPF_RSS_IPV4, .key_len = 40, .queue_num = 4, .key = key, .queue = queues};
	const struct mpf_flow_action_queue queue = {.index = 3};
	const struct mpf_flow_action_mark mark = {.id = 42};
	const struct mpf_flow_action_vf vf = {.id = 1};
	const uint64_t handles[] = {1, 2, 3};
	struct wire_completion completion = {.user_data = 1,
					     .request_op = WIRE_OP_CREATE,
					     .status = -22,
					     .error = {.type = 9, .cause = 1, .message = "bad"}};
	struct wire_batch_writer w;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	save(argv[1], "rule-l4", msg,
	     wire_encode_rule(
		     msg, sizeof(msg), WIRE_OP_CREATE, 1, 0, false, &attr,
		     (struct mpf_flow_item[]){ITEM(ETH, .spec = &eth), ITEM(IPV4, .spec = &ip),
					      ITEM(UDP, .spec = &udp, .last = &udp), ITEM(END)},
		     (struct mpf_flow_action[]){ACTION(MARK, &mark), ACTION(COUNT, NULL),
						ACTION(QUEUE, &queue), ACTION(END, NULL)},
		     &error));
	save(argv[1], "rule-tunnel-raw", msg,
	     wire_encode_rule(msg, sizeof(msg), WIRE_OP_VALIDATE, 2, 1, false, &attr,
			      (struct mpf_flow_item[]){ITEM(ETH), ITEM(ANY, .spec = &any),
						       ITEM(VXLAN, .spec = &vxlan), ITEM(ETH),
						       ITEM(RAW, .spec = &raw), ITEM(END)},
			      (struct mpf_flow_action[]){ACTION(RSS, &rss), ACTION(END, NULL)},
			      &error));
	save(argv[1], "rule-meta", msg,
	     wire_encode_rule(
		     msg, sizeof(msg), WIRE_OP_CREATE, 3, 0, true, &attr,
		     (struct mpf_flow_item[]){ITEM(INVERT), ITEM(PF), ITEM(VOID), ITEM(END)},
		     (struct mpf_flow_action[]){ACTION(VF, &vf), ACTION(PASSTHRU, NULL),
						ACTION(END, NULL)},
		     &error));
	save(argv[1], "destroy", msg,
	     wire_encode_destroy(msg, sizeof(msg), 4, 0, handles, 3, &error));
	save(argv[1], "flush", msg, wire_encode_flush(msg, sizeof(msg), 5, 0, false, &error));
	save(argv[1], "query", msg,
	     wire_encode_query(msg, sizeof(msg), 6, 0, 7, MPF_FLOW_ACTION_TYPE_COUNT,
			       WIRE_QUERY_RESET, &error));
	save(argv[1], "isolate", msg, wire_encode_isolate(msg, sizeof(msg), 7, 0, true, &error));
	save(argv[1], "completion", msg, wire_encode_completion(msg, sizeof(msg), &completion));
	wire_batch_begin(&w, msg, sizeof(msg), 8, true);
	wire_batch_add(&w, sub, (size_t)wire_encode_flush(sub, sizeof(sub), 9, 0, false, &error));
	wire_batch_add(&w, sub,
		       (size_t)wire_encode_destroy(sub, sizeof(sub), 10, 0, handles, 1, &error));
	save(argv[1], "batch", msg, wire_batch_finish(&w));
	printf("%d seeds in %s\n", seeds, argv[1]);
	return seeds == 9 ? 0 : 1;
}
