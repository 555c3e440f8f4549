/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Captures the tests write for mpflowd's pcap: sources: frame i of
 * `frames` made by make(i, arg) (tests/packet_builder.h), each captured
 * whole. Header-only; the test links libpcap.
 */
#ifndef MPFLOW_TESTS_PCAP_WRITER_H
#define MPFLOW_TESTS_PCAP_WRITER_H

#include <pcap/pcap.h>

#include "tests/packet_builder.h"

/* 0, or -1 when the file cannot be written. */
static inline int pcap_write_frames(const char *path, unsigned frames,
				    struct frame (*make)(unsigned i, void *arg), void *arg)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = dead ? pcap_dump_open(dead, path) : NULL;

	if (d == NULL) {
		if (dead)
			pcap_close(dead);
		return -1;
	}
	for (unsigned i = 0; i < frames; i++) {
		struct frame f = make(i, arg);
		struct pcap_pkthdr h = {.caplen = (bpf_u_int32)f.length,
					.len = (bpf_u_int32)f.length};

		pcap_dump((u_char *)d, &h, f.bytes);
	}
	pcap_dump_close(d);
	pcap_close(dead);
	return 0;
}

#endif
