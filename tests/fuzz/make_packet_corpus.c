/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a seed corpus for fuzz_packet: one frame per protocol stack the
 * parser decodes, built header by header.
 * usage: make-packet-corpus DIR
 */
#include <stdio.h>

#include "hwdrv/soft/packet.h"
#include "tests/packet_builder.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static const char *dir;
static int seeds;

static void save(const char *name, const struct frame *f)
{
	char path[4096];
	FILE *out;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out = fopen(path, "wb");
	if (out && fwrite(f->bytes, 1, f->length, out) == f->length)
		seeds++;
	if (out)
		fclose(out);
}

/* eth / ipv4 (proto) / `n` bytes of the next header, raw. */
static struct frame ipv4_then(unsigned proto, const void *next, size_t n)
{
	struct frame f = {.length = 0};

	frame_eth(&f, NULL, NULL, 0x0800);
	frame_ipv4(&f, IP(10, 0, 0, 1), IP(10, 2, 0, 1), proto);
	frame_put(&f, next, n);
	return f;
}

int main(int argc, char **argv)
{
	static const uint8_t gre[] = {0, 0, 0x08, 0x00};
	static const uint8_t nvgre[] = {0x20, 0, 0x65, 0x58, 0, 0, 42, 0};
	static const uint8_t gtpu[] = {0x30, 0xff, 0, 28, 0, 0, 0, 7};
	static const uint8_t esp[] = {0, 0, 0, 1, 0, 0, 0, 9};
	static const uint8_t icmp[] = {8, 0, 0, 0, 0, 1, 0, 1};
	static const uint8_t sctp[12] = {0x0b, 0x59, 0x0b, 0x59};
	static const uint8_t mpls[] = {0, 0x01, 0x00, 64, 0, 0x01, 0x01, 64};
	static const uint8_t hop_by_hop[8] = {17};
	struct frame f;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	dir = argv[1];

	f = frame_ipv4_l4(IP(10, 1, 1, 1), IP(10, 2, 3, 4), 6, 1234, 80, 0);
	frame_payload(&f, "..foo..", 7);
	save("tcp-http-foo", &f);
	f = frame_ipv4_l4(IP(192, 168, 0, 1), IP(10, 2, 0, 9), 17, 999, 53, 12);
	save("udp-dns", &f);

	f = (struct frame){.length = 0};
	frame_eth(&f, NULL, NULL, 0x88a8);
	frame_vlan(&f, 7, 0x8100);
	frame_vlan(&f, 5, 0x0800);
	frame_ipv4(&f, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 17);
	frame_udp(&f, 1, PACKET_UDP_VXLAN);
	frame_vxlan(&f, 42);
	frame_eth(&f, NULL, NULL, 0x86dd);
	frame_ipv6(&f, 1, 2, 6);
	frame_tcp(&f, 5, 80);
	save("qinq-vxlan-ipv6-tcp", &f);

	f = (struct frame){.length = 0};
	frame_eth(&f, NULL, NULL, 0x86dd);
	frame_ipv6(&f, 1, 2, 0);
	frame_put(&f, hop_by_hop, sizeof(hop_by_hop));
	frame_udp(&f, 7, 53);
	save("ipv6-hop-by-hop-udp", &f);

	f = ipv4_then(47, gre, sizeof(gre));
	frame_ipv4(&f, IP(10, 9, 9, 9), IP(10, 3, 0, 0), 6);
	frame_tcp(&f, 1, 80);
	save("gre-ipv4-tcp", &f);

	f = ipv4_then(47, nvgre, sizeof(nvgre));
	frame_eth(&f, NULL, NULL, 0x0800);
	frame_ipv4(&f, IP(10, 9, 9, 9), IP(10, 3, 0, 0), 1);
	frame_put(&f, icmp, sizeof(icmp));
	save("nvgre-eth-ipv4-icmp", &f);

	f = (struct frame){.length = 0};
	frame_eth(&f, NULL, NULL, 0x0800);
	frame_ipv4(&f, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 17);
	frame_udp(&f, 2152, PACKET_UDP_GTPU);
	frame_put(&f, gtpu, sizeof(gtpu));
	frame_ipv4(&f, IP(10, 5, 0, 1), IP(10, 5, 0, 2), 17);
	frame_udp(&f, 4, 5);
	save("gtpu-ipv4-udp", &f);

	f = (struct frame){.length = 0};
	frame_eth(&f, NULL, NULL, 0x8847);
	frame_put(&f, mpls, sizeof(mpls));
	frame_ipv4(&f, IP(10, 0, 0, 1), IP(10, 0, 0, 2), 6);
	frame_tcp(&f, 1, 2);
	save("mpls-stack-ipv4-tcp", &f);

	f = ipv4_then(50, esp, sizeof(esp));
	save("esp", &f);
	f = ipv4_then(1, icmp, sizeof(icmp));
	save("icmp", &f);
	f = ipv4_then(132, sctp, sizeof(sctp));
	save("sctp", &f);

	printf("%d seeds in %s\n", seeds, dir);
	return seeds == 11 ? 0 : 1;
}
