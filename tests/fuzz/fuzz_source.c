/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for --source specs (soft_source_open): the text an
 * operator gives mpflowd. A pcap: spec reads a small capture the target
 * writes (whatever file the input names), a gen: spec is held to 4096 flows
 * (so a run stays small), and live: and xdp: specs are left out (they open
 * sockets on real interfaces). A crash, a sanitizer report, a refusal
 * without a message, or a source that opens but says it has no frame to
 * give while a trace was asked for, is a bug.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hwdrv/soft/soft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char capture[64];

static void write_capture(void)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	uint8_t frame[64] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45};
	struct pcap_pkthdr h = {.caplen = sizeof(frame), .len = sizeof(frame)};
	pcap_dumper_t *d;
	int fd;

	snprintf(capture, sizeof(capture), "/tmp/mpflow-fuzz-source-XXXXXX");
	fd = mkstemp(capture);
	if (fd < 0 || dead == NULL)
		abort();
	close(fd);
	d = pcap_dump_open(dead, capture);
	if (d == NULL)
		abort();
	for (int i = 0; i < 3; i++)
		pcap_dump((u_char *)d, &h, frame);
	pcap_dump_close(d);
	pcap_close(dead);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char spec[256], text[200];
	struct mpf_flow_error error = {0};
	struct soft_source s;
	const char *flows;
	int err;

	if (capture[0] == '\0')
		write_capture();
	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* No real interface: live: would open sockets on the host's, xdp:
	 * attach XDP programs to them. */
	if (strlen(text) != size || strncmp(text, "live:", 5) == 0 || strncmp(text, "xdp:", 4) == 0)
		return 0;
	/* The last flows= wins in the spec: hold every one to the bound. */
	for (flows = strstr(text, "flows="); flows; flows = strstr(flows + 6, "flows="))
		if (strtoull(flows + 6, NULL, 10) > 4096)
			return 0;
	if (strncmp(text, "pcap:", 5) == 0) {
		const char *options = strchr(text, ',');

		snprintf(spec, sizeof(spec), "pcap:%s%s", capture, options ? options : "");
	} else {
		snprintf(spec, sizeof(spec), "%s", text);
	}
	err = soft_source_open(&s, spec, 0, 1, &(uint16_t){0}, &error);
	/* --check-config's check (the words only) agrees: what it refuses
	 * does not open; what opens, it takes (the capture is there). */
	if ((soft_source_check(spec, HWDRV_PORTS_MAX, &error) != 0) != (err != 0))
		abort();
	if (err) {
		if (err >= 0 || error.message[0] == '\0')
			abort();
		return 0;
	}
	/* A loop: port receives what its port (or the one it names) sends: it
	 * opens with no frames of its own. Every other source that opens here
	 * is a trace with frames. */
	if (s.kind == SOURCE_LOOP) {
		if (s.loop_port >= HWDRV_PORTS_MAX || s.frames != 0)
			abort();
	} else if (s.kind != SOURCE_TRACE || s.frames == 0) {
		abort();
	}
	soft_source_close(&s);
	return 0;
}
