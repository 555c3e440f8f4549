/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a seed corpus for fuzz_source: the --source specs of the man page.
 * usage: make-source-corpus DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	static const char *const specs[] = {
		"gen:flows=16",
		"gen:flows=100,size=128,proto=tcp,count=1000,pps=50000,delay=10",
		"gen:flows=1,size=42,proto=udp,tx",
		"gen:flows=4,dport=4789,size=54,proto=tcp",
		"gen:size=53,proto=tcp",
		"pcap:trace.pcap",
		"pcap:trace.pcap,loop=0,pps=1000",
		"pcap:trace.pcap,count=5,tx",
		"gen:",
		"pcap:",
		"loop:",
		"loop:2",
	};

	if (argc != 2)
		return 2;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/spec-%zu", argv[1], i);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(specs[i], 1, strlen(specs[i]), f) != strlen(specs[i]))
			return 1;
		fclose(f);
	}
	return 0;
}
