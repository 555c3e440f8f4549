/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a seed corpus for fuzz_pack: rules of each item and action family
 * made by the real encoder, each as its request and as its packed form.
 * usage: make-pack-corpus DIR
 */
#include <stdio.h>
#include <stdlib.h>

#include "shm/pack.h"
#include "shm/wire.h"

#include "tests/rule_literals.h"

static void save(const char *dir, const char *name, const char *form, const void *bytes, int n)
{
	char path[4096];
	FILE *f;

	if (n <= 0)
		exit(1);
	snprintf(path, sizeof(path), "%s/%s-%s", dir, name, form);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(bytes, 1, (size_t)n, f) != (size_t)n)
		exit(1);
	fclose(f);
}

static void both(const char *dir, const char *name, const uint8_t *msg, int length)
{
	static uint8_t packed[PACK_MAX];

	save(dir, name, "request", msg, length);
	save(dir, name, "packed", packed,
	     length > 0 ? rule_pack(msg, (size_t)length, packed, sizeof(packed)) : -1);
}

int main(int argc, char **argv)
{
	_Alignas(8) static uint8_t msg[WIRE_MSG_MAX];
	const struct mpf_flow_attr attr = {.ingress = 1, .priority = 1};
	const struct mpf_flow_attr attr2 = {.ingress = 1, .group = 300, .priority = 70000};
	struct mpf_flow_item_eth eth = {.dst = {0x66, 0x11, 0x22, 0x33, 0x44, 0x55}};
	struct mpf_flow_item_ipv4 ip = {.hdr.src_addr = 0x0B86C806, .hdr.next_proto_id = 17};
	struct mpf_flow_item_ipv4 ip_mask = {.hdr.src_addr = 0x00ffffff, .hdr.next_proto_id = 0xff};
	struct mpf_flow_item_ipv6 ip6 = {.hdr.src_addr = {0xfe, 0x80, [15] = 1}};
	struct mpf_flow_item_udp udp = {.hdr.dst_port = 0xb512};
	struct mpf_flow_item_vxlan vxlan = {.vni = {0, 0, 42}};
	struct mpf_flow_item_raw raw = {.relative = 1,
					.search = 1,
					.offset = 10,
					.length = 3,
					.pattern = (const uint8_t *)"foo"};
	const uint16_t queues[] = {0, 1, 2, 3};
	const uint8_t key[40] = {0x6d, 0x5a};
	const struct mpf_flow_action_rss rss = {
		.types = MPF_RSS_IPV4, .key_len = 40, .queue_num = 4, .key = key, .queue = queues};
	const struct mpf_flow_action_queue queue = {.index = 3};
	const struct mpf_flow_action_mark mark = {.id = 42};
	const struct mpf_flow_action_vf vf = {.id = 1};

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	both(argv[1], "five-tuple", msg,
	     wire_encode_rule(msg, sizeof(msg), WIRE_OP_CREATE, 0, 0, false, &attr,
			      (struct mpf_flow_item[]){ITEM(ETH, .spec = &eth),
						       ITEM(IPV4, .spec = &ip, .mask = &ip_mask),
						       ITEM(UDP, .spec = &udp, .last = &udp),
						       ITEM(END)},
			      (struct mpf_flow_action[]){ACTION(MARK, &mark), ACTION(COUNT, NULL),
							 ACTION(QUEUE, &queue), ACTION(END, NULL)},
			      NULL));
	both(argv[1], "tunnel-raw-rss", msg,
	     wire_encode_rule(
		     msg, sizeof(msg), WIRE_OP_CREATE, 7, 3, true, &attr2,
		     (struct mpf_flow_item[]){ITEM(ETH), ITEM(IPV6, .spec = &ip6), ITEM(UDP),
					      ITEM(VXLAN, .spec = &vxlan), ITEM(ETH),
					      ITEM(RAW, .spec = &raw), ITEM(END)},
		     (struct mpf_flow_action[]){ACTION(RSS, &rss), ACTION(END, NULL)}, NULL));
	both(argv[1], "vf", msg,
	     wire_encode_rule(msg, sizeof(msg), WIRE_OP_CREATE, 0, 1, false, &attr,
			      (struct mpf_flow_item[]){ITEM(ETH), ITEM(END)},
			      (struct mpf_flow_action[]){ACTION(VF, &vf), ACTION(END, NULL)},
			      NULL));
	return 0;
}
