/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet sources of the soft datapath, one per port (mpflowd --source):
 *
 *   pcap:FILE[,loop=N][,count=N][,pps=N][,delay=MS][,tx]
 *	replay a capture (read into memory once) N times (loop=0: forever;
 *	default once), at most `count` frames, at `pps` frames per second
 *	(default: as fast as the datapath goes), starting `delay` ms after
 *	mpflowd starts (time to install rules first); `tx`: the port
 *	transmits them, so egress rules apply.
 *   gen:flows=N[,size=B][,proto=udp|tcp][,dport=P][,count=N][,pps=N][,delay=MS][,tx]
 *	synthetic IPv4 traffic: N flows (10.0.0.0 + i -> 10.255.0.1, source
 *	port 10000 + i % 50000, destination port P, default 80), frames of B bytes,
 *	sent round robin; without count, forever.
 *   live:IFNAME
 *	receive from an interface (AF_PACKET, TPACKET_V3 ring, promiscuous),
 *	the outer VLAN tag put back where the kernel took it from.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "hwdrv/soft/soft.h"

#define TRACE_BYTES_MAX (1ull << 30) /* a capture larger than this is refused */
#define LIVE_BLOCK_SIZE (1u << 18)
#define LIVE_BLOCKS	16u
#define LIVE_FRAME_SIZE 2048u
#define LIVE_TAG_ROOM	4u /* headroom for the VLAN tag the kernel took off */

static int source_error(struct mpf_flow_error *error, int code, const struct soft_source *s,
			const char *what)
{
	return flow_error_set(error, code, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1, "--source %s: %s",
			      s->spec, what);
}

/* Append a frame to an in-memory trace. */
static int trace_add(struct soft_source *s, const uint8_t *frame, uint32_t length,
		     uint32_t wire_length, size_t *used, size_t *cap, uint32_t *slots)
{
	if (*used + length > TRACE_BYTES_MAX)
		return -EFBIG;
	if (*used + length > *cap) {
		size_t grown = *cap ? *cap * 2 : 1u << 20;
		uint8_t *bytes;

		while (grown < *used + length)
			grown *= 2;
		bytes = realloc(s->bytes, grown);
		if (bytes == NULL)
			return -ENOMEM;
		s->bytes = bytes;
		*cap = grown;
	}
	if (s->frames == *slots) {
		uint32_t n = *slots ? *slots * 2 : 1024;
		uint32_t *offset = realloc(s->offset, n * sizeof(uint32_t));
		uint32_t *len = offset ? realloc(s->length, n * sizeof(uint32_t)) : NULL;
		uint32_t *wire = len ? realloc(s->wire_length, n * sizeof(uint32_t)) : NULL;

		if (offset)
			s->offset = offset;
		if (len)
			s->length = len;
		if (wire == NULL)
			return -ENOMEM;
		s->wire_length = wire;
		*slots = n;
	}
	memcpy(s->bytes + *used, frame, length);
	s->offset[s->frames] = (uint32_t)*used;
	s->length[s->frames] = length;
	s->wire_length[s->frames] = wire_length;
	s->frames++;
	*used += length;
	return 0;
}

static int open_pcap(struct soft_source *s, const char *file, struct mpf_flow_error *error)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pcap = pcap_open_offline(file, errbuf);
	struct pcap_pkthdr *h;
	const u_char *frame;
	size_t used = 0, cap = 0;
	uint32_t slots = 0;
	int rc, err = 0;

	if (pcap == NULL)
		return source_error(error, ENOENT, s, errbuf);
	if (pcap_datalink(pcap) != DLT_EN10MB) {
		pcap_close(pcap);
		return source_error(error, EINVAL, s, "not an Ethernet capture");
	}
	while ((rc = pcap_next_ex(pcap, &h, &frame)) == 1) {
		err = trace_add(s, frame, h->caplen, h->len, &used, &cap, &slots);
		if (err)
			break;
	}
	if (rc == PCAP_ERROR && !err) {
		source_error(error, EIO, s, pcap_geterr(pcap));
		err = -EIO;
	} else if (err) {
		source_error(error, -err, s,
			     err == -EFBIG ? "capture larger than 1 GiB" : "out of memory");
	}
	pcap_close(pcap);
	return err;
}

static void put16(uint8_t *b, unsigned v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static int open_generator(struct soft_source *s, uint32_t flows, uint32_t size, bool tcp,
			  uint16_t dport, struct mpf_flow_error *error)
{
	uint32_t header = 14 + 20 + (tcp ? 20 : 8);
	size_t used = 0, cap = 0;
	uint32_t slots = 0;
	uint8_t frame[2048];

	if (flows == 0 || flows > (1u << 24))
		return source_error(error, EINVAL, s, "flows must be 1..16777216");
	if (size < header || size > sizeof(frame))
		return source_error(error, EINVAL, s, "size out of range for the protocol");
	for (uint32_t f = 0; f < flows; f++) {
		uint32_t src = 0x0a000000u + f;
		int err;

		memset(frame, 0, size);
		memcpy(frame, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
		frame[14] = 0x45;
		put16(frame + 16, size - 14);
		frame[22] = 64;
		frame[23] = tcp ? 6 : 17;
		put16(frame + 26, src >> 16);
		put16(frame + 28, src & 0xffff);
		memcpy(frame + 30, "\x0a\xff\x00\x01", 4);
		put16(frame + 34, 10000 + f % 50000);
		put16(frame + 36, dport);
		if (tcp)
			frame[46] = 0x50;
		else
			put16(frame + 38, size - 34);
		err = trace_add(s, frame, size, size, &used, &cap, &slots);
		if (err)
			return source_error(error, -err, s, "out of memory");
	}
	return 0;
}

static int open_live(struct soft_source *s, const char *ifname, struct mpf_flow_error *error)
{
	struct tpacket_req3 req = {.tp_block_size = LIVE_BLOCK_SIZE,
				   .tp_block_nr = LIVE_BLOCKS,
				   .tp_frame_size = LIVE_FRAME_SIZE,
				   .tp_frame_nr = LIVE_BLOCK_SIZE / LIVE_FRAME_SIZE * LIVE_BLOCKS,
				   .tp_retire_blk_tov = 1};
	struct sockaddr_ll addr = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	int version = TPACKET_V3;
	unsigned reserve = LIVE_TAG_ROOM;
	unsigned ifindex = if_nametoindex(ifname);
	struct packet_mreq promisc = {.mr_type = PACKET_MR_PROMISC};
	char why[160];

	if (ifindex == 0)
		return source_error(error, ENODEV, s, "no such interface");
	s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (s->fd < 0) {
		int err = errno;

		snprintf(why, sizeof(why), "AF_PACKET socket: %s%s", strerror(err),
			 err == EPERM ? " (needs CAP_NET_RAW)" : "");
		return source_error(error, err, s, why);
	}
	addr.sll_ifindex = (int)ifindex;
	promisc.mr_ifindex = (int)ifindex;
	if (setsockopt(s->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) != 0 ||
	    setsockopt(s->fd, SOL_PACKET, PACKET_RESERVE, &reserve, sizeof(reserve)) != 0 ||
	    setsockopt(s->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0 ||
	    setsockopt(s->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &promisc, sizeof(promisc)) != 0 ||
	    bind(s->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		snprintf(why, sizeof(why), "AF_PACKET setup: %s", strerror(errno));
		return source_error(error, errno, s, why);
	}
	s->ring_length = (size_t)LIVE_BLOCK_SIZE * LIVE_BLOCKS;
	s->ring = mmap(NULL, s->ring_length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, s->fd,
		       0);
	if (s->ring == MAP_FAILED)
		s->ring = mmap(NULL, s->ring_length, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (s->ring == MAP_FAILED) {
		s->ring = NULL;
		snprintf(why, sizeof(why), "AF_PACKET ring: %s", strerror(errno));
		return source_error(error, errno, s, why);
	}
	s->block_size = LIVE_BLOCK_SIZE;
	s->blocks = LIVE_BLOCKS;
	/* A port receives what arrives, not what it (or the host) sends:
	 * the socket would see its own transmissions otherwise. Kernels
	 * before 4.20 lack the option; there, what mpflowd sends comes back. */
	int one = 1;

	(void)setsockopt(s->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	return 0;
}

/* Parse a decimal option value into [min, max]. */
static bool number(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* 0 if `name` can be an interface's (the kernel's dev_valid_name(): 1 to
 * IF_NAMESIZE - 1 bytes, not "." or "..", no '/', ':' or blank), else
 * -EINVAL saying why after "KIND: ". */
static int ifname_check(const struct soft_source *s, const char *kind, const char *name,
			struct mpf_flow_error *error)
{
	const char *why = NULL;
	char text[96];

	if (*name == '\0')
		why = "an interface name expected";
	else if (strlen(name) >= IF_NAMESIZE)
		why = "interface name too long";
	else if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
		 strpbrk(name, "/: \t\n\r\v\f"))
		why = "not an interface name";
	if (why == NULL)
		return 0;
	snprintf(text, sizeof(text), "%s: %s", kind, why);
	return source_error(error, EINVAL, s, text);
}

/* xdp:IFNAME[,queue=Q][,mode=zc|copy]; `dry`: its words checked, nothing
 * opened. */
static int open_xdp(struct soft_source *s, char *options, unsigned instance, bool dry,
		    struct mpf_flow_error *error)
{
	char *ifname = strsep(&options, ","), *name;
	const char *mode = "";
	uint64_t queue = 0;
	int err;

	s->kind = SOURCE_XDP;
	while ((name = strsep(&options, ",")) != NULL) {
		char *value = strchr(name, '=');
		bool ok;

		if (value)
			*value++ = '\0';
		if (strcmp(name, "queue") == 0) {
			ok = number(value, 0, UINT32_MAX, &queue);
		} else if (strcmp(name, "mode") == 0) {
			ok = value && (strcmp(value, "zc") == 0 || strcmp(value, "copy") == 0);
			mode = ok ? value : mode;
		} else {
			ok = false;
		}
		if (!ok) {
			char why[96];

			snprintf(why, sizeof(why), "bad option '%s' (queue=Q, mode=zc|copy)", name);
			return source_error(error, EINVAL, s, why);
		}
	}
	if ((err = ifname_check(s, "xdp", ifname, error)) != 0)
		return err;
#ifdef MPFLOW_HAVE_XDP
	if (dry)
		return 0;
	/* With several workers, worker i reads queue Q + i. */
	return soft_xdp_open(s, ifname, (uint32_t)queue + instance, mode, error);
#else
	(void)mode, (void)instance, (void)dry;
	return source_error(error, ENOTSUP, s,
			    "this mpflowd was built without AF_XDP (libxdp-dev, libbpf-dev)");
#endif
}

static bool number(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (text == NULL || *text == '\0')
		return false;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max || text[0] == '-')
		return false;
	*out = v;
	return true;
}

unsigned soft_source_instances(const char *spec, unsigned workers)
{
	/* The kernel spreads an interface's frames over several sockets; a
	 * trace, a generator or a loop is one sequence of frames. */
	if (strncmp(spec, "live:", 5) == 0 || strncmp(spec, "xdp:", 4) == 0)
		return workers;
	return 1;
}

/* Join this live: socket to the port's fanout group: the kernel spreads
 * the interface's frames over the group's sockets by flow hash, so that a
 * flow stays on one worker (and in order). The `first` socket makes the
 * group (the kernel picks its id, into *fanout: 0 is one, the first a
 * booted kernel gives), the others join it. */
static int join_fanout(struct soft_source *s, bool first, uint16_t *fanout,
		       struct mpf_flow_error *error)
{
	int arg = first ? (int)(PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16
			: (int)(*fanout | PACKET_FANOUT_HASH << 16);
	socklen_t length = sizeof(arg);
	char why[96];

	if (setsockopt(s->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) == 0 &&
	    (!first || getsockopt(s->fd, SOL_PACKET, PACKET_FANOUT, &arg, &length) == 0)) {
		*fanout = (uint16_t)(arg & 0xffff);
		return 0;
	}
	snprintf(why, sizeof(why), "AF_PACKET fanout: %s", strerror(errno));
	return source_error(error, errno, s, why);
}

/* Open the source `spec` names (`dry`: check its words only, opening,
 * reading and allocating nothing). */
static int source_setup(struct soft_source *s, const char *spec, unsigned instance,
			unsigned instances, uint16_t *fanout, bool dry,
			struct mpf_flow_error *error)
{
	char copy[sizeof(s->spec)], *options, *kind;
	uint64_t loop = 1, flows = 0, size = 64, dport = 80;
	bool tcp = false;
	int err;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (strlen(spec) >= sizeof(s->spec))
		return flow_error_set(error, ENAMETOOLONG, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "--source: longer than %zu bytes", sizeof(s->spec) - 1);
	strcpy(s->spec, spec);
	strcpy(copy, spec);
	kind = copy;
	options = strchr(copy, ':');
	if (options == NULL)
		return source_error(error, EINVAL, s, "expected pcap:, gen:, live:, xdp: or loop:");
	*options++ = '\0';
	if (strcmp(kind, "live") == 0) {
		s->kind = SOURCE_LIVE;
		if (strchr(options, ','))
			return source_error(error, EINVAL, s,
					    "live: takes no options (live:IFNAME)");
		if ((err = ifname_check(s, "live", options, error)) != 0)
			return err;
		if (dry)
			return 0;
		err = open_live(s, options, error);
		if (!err && instances > 1)
			err = join_fanout(s, instance == 0, fanout, error);
		if (err)
			soft_source_close(s); /* a failed open leaves nothing */
		return err;
	}
	if (strcmp(kind, "xdp") == 0) {
		err = open_xdp(s, options, instance, dry, error);
		if (err)
			soft_source_close(s); /* a failed open leaves nothing */
		return err;
	}
	if (strcmp(kind, "loop") == 0) {
		uint64_t port = 0;

		/* "loop:" receives on the port itself, "loop:N" on port N. */
		if (*options && !number(options, 0, HWDRV_PORTS_MAX - 1, &port))
			return source_error(error, EINVAL, s, "loop: a port number expected");
		s->kind = SOURCE_LOOP;
		s->loop_port = *options ? (int)port : -1;
		return 0;
	}
	if (strcmp(kind, "pcap") == 0) {
		char *file = options;

		options = strchr(options, ',');
		if (options)
			*options++ = '\0';
		if (*file == '\0')
			return source_error(error, EINVAL, s, "pcap: a file name expected");
		err = dry ? 0 : open_pcap(s, file, error);
		if (err)
			return err;
	} else if (strcmp(kind, "gen") != 0) {
		return source_error(error, EINVAL, s, "expected pcap:, gen:, live:, xdp: or loop:");
	} else {
		loop = 0;
	}
	for (char *name; options && (name = strsep(&options, ",")) != NULL;) {
		char *value = strchr(name, '=');
		bool gen = kind[0] == 'g', ok;

		if (value)
			*value++ = '\0';
		if (strcmp(name, "loop") == 0) {
			ok = number(value, 0, UINT64_MAX, &loop);
		} else if (strcmp(name, "count") == 0) {
			ok = number(value, 1, UINT64_MAX, &s->limit);
		} else if (strcmp(name, "pps") == 0) {
			ok = number(value, 1, 1000000000, &s->pps);
		} else if (strcmp(name, "delay") == 0) {
			uint64_t ms;

			ok = number(value, 0, 86400000, &ms);
			s->delay_ns = ms * 1000000u;
		} else if (strcmp(name, "tx") == 0) {
			ok = value == NULL;
			s->egress = true;
		} else if (strcmp(name, "flows") == 0) {
			ok = gen && number(value, 1, 1u << 24, &flows);
		} else if (strcmp(name, "size") == 0) {
			ok = gen && number(value, 42, 2048, &size);
		} else if (strcmp(name, "proto") == 0) {
			ok = gen && value &&
			     (strcmp(value, "udp") == 0 || strcmp(value, "tcp") == 0);
			tcp = ok && strcmp(value, "tcp") == 0;
		} else if (strcmp(name, "dport") == 0) {
			ok = gen && number(value, 0, 65535, &dport);
		} else {
			ok = false;
		}
		if (!ok) {
			char why[96];

			snprintf(why, sizeof(why), "bad option '%s'", name);
			err = source_error(error, EINVAL, s, why); /* it names s->spec */
			soft_source_close(s);
			return err;
		}
	}
	if (kind[0] == 'g' && size < 14 + 20 + (tcp ? 20 : 8)) {
		err = source_error(error, EINVAL, s, "size out of range for the protocol");
		soft_source_close(s);
		return err;
	}
	if (kind[0] == 'g' && (flows ? flows : 1) * size > TRACE_BYTES_MAX) {
		err = source_error(error, EFBIG, s, "flows x size: more than 1 GiB of frames");
		soft_source_close(s);
		return err;
	}
	if (kind[0] == 'g' && !dry) {
		err = open_generator(s, flows ? (uint32_t)flows : 1, (uint32_t)size, tcp,
				     (uint16_t)dport, error);
		if (err) {
			soft_source_close(s);
			return err;
		}
	}
	s->kind = SOURCE_TRACE;
	s->loops = loop == 0 ? UINT64_MAX : loop;
	s->done = s->frames == 0;
	return 0;
}

int soft_source_open(struct soft_source *s, const char *spec, unsigned instance, unsigned instances,
		     uint16_t *fanout, struct mpf_flow_error *error)
{
	return source_setup(s, spec, instance, instances, fanout, false, error);
}

void soft_source_named(struct mpf_flow_error *error, const char *from)
{
	char said[sizeof(error->message)];
	const char *rest = error->message;

	if (from == NULL)
		return;
	if (strncmp(rest, "--source ", 9) == 0)
		rest += 9;
	snprintf(said, sizeof(said), "%s", rest);
	if ((size_t)snprintf(error->message, sizeof(error->message), "%s: source %s", from, said) >=
	    sizeof(error->message))
		memcpy(error->message + sizeof(error->message) - 4, "...", 4); /* cut: said so */
}

int soft_source_check(const char *spec, unsigned ports, struct mpf_flow_error *error)
{
	struct soft_source s;
	int err = source_setup(&s, spec, 0, 1, &(uint16_t){0}, true, error);

	if (!err && s.kind == SOURCE_LOOP && s.loop_port >= (int)ports) {
		char why[96];

		snprintf(why, sizeof(why), "loop: port %d does not exist (the device has %u)",
			 s.loop_port, ports);
		err = source_error(error, EINVAL, &s, why);
	}
	soft_source_close(&s); /* nothing was opened: a no-op */
	return err;
}

void soft_source_close(struct soft_source *s)
{
	if (s->kind == SOURCE_XDP) {
#ifdef MPFLOW_HAVE_XDP
		soft_xdp_close(s); /* it closes the socket */
#endif
	}
	free(s->bytes);
	free(s->offset);
	free(s->length);
	free(s->wire_length);
	if (s->ring)
		munmap(s->ring, s->ring_length);
	if (s->fd >= 0)
		close(s->fd);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* Frames of a started trace due by `now`. */
static uint64_t trace_due(const struct soft_source *s, uint64_t now_ns)
{
	if (s->pps == 0)
		return UINT64_MAX;
	return (uint64_t)((soft_u128)(now_ns - s->start_ns) * s->pps / 1000000000u) + 1 - s->sent;
}

static unsigned trace_burst(struct soft_source *s, struct packet *pkts, unsigned max,
			    uint64_t now_ns)
{
	uint64_t due;
	unsigned n = 0;

	if (s->start_ns == 0) {
		if (s->not_before_ns == 0)
			s->not_before_ns = now_ns + s->delay_ns;
		if (now_ns < s->not_before_ns)
			return 0;
		s->start_ns = now_ns;
	}
	due = trace_due(s, now_ns);
	while (n < max && n < due && !s->done) {
		struct packet *p = &pkts[n++];

		p->data = s->bytes + s->offset[s->next];
		p->length = s->length[s->next];
		p->wire_length = s->wire_length[s->next];
		s->sent++;
		if (++s->next == s->frames) {
			s->next = 0;
			if (s->loops != UINT64_MAX && --s->loops == 0)
				s->done = true;
		}
		if (s->limit && s->sent == s->limit)
			s->done = true;
	}
	return n;
}

static struct tpacket_block_desc *live_block(const struct soft_source *s)
{
	return (struct tpacket_block_desc *)(s->ring + (size_t)s->block * s->block_size);
}

/*
 * The receive path takes a frame's outer VLAN tag off before AF_PACKET sees
 * it and reports it beside the frame; rules match, and COUNT counts, the
 * frame as it was on the wire. PACKET_RESERVE left LIVE_TAG_ROOM bytes
 * before the frame: the MAC addresses move into them and the tag goes back
 * between them and the type, with its own TPID (802.1Q or 802.1ad).
 */
static void put_tag_back(struct packet *p, uint8_t *frame, const struct tpacket3_hdr *h)
{
	uint8_t *mac = frame - LIVE_TAG_ROOM;
	unsigned tpid =
		h->tp_status & TP_STATUS_VLAN_TPID_VALID ? h->hv1.tp_vlan_tpid : ETHERTYPE_VLAN;

	memmove(mac, frame, 12);
	put16(mac + 12, tpid);
	put16(mac + 14, h->hv1.tp_vlan_tci);
	p->data = mac;
	p->length += LIVE_TAG_ROOM;
	p->wire_length += LIVE_TAG_ROOM;
}

static unsigned live_burst(struct soft_source *s, struct packet *pkts, unsigned max)
{
	struct tpacket_block_desc *block = live_block(s);
	unsigned n = 0;

	if (s->block_left == 0) {
		/* Pairs with the kernel's release of the block to user space. */
		if (!(__atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE) &
		      TP_STATUS_USER))
			return 0;
		s->block_left = block->hdr.bh1.num_pkts;
		s->frame = (uint8_t *)block + block->hdr.bh1.offset_to_first_pkt;
		if (s->block_left == 0) {
			soft_source_release(s);
			return 0;
		}
	}
	while (n < max && s->block_left > 0) {
		struct tpacket3_hdr *h = (struct tpacket3_hdr *)s->frame;
		struct packet *p = &pkts[n++];

		p->data = s->frame + h->tp_mac;
		p->length = h->tp_snaplen;
		p->wire_length = h->tp_len;
		if ((h->tp_status & TP_STATUS_VLAN_VALID) && p->length >= 12)
			put_tag_back(p, s->frame + h->tp_mac, h);
		s->block_left--;
		s->frame += h->tp_next_offset;
	}
	return n;
}

unsigned soft_source_burst(struct soft_source *s, struct packet *pkts, unsigned max,
			   uint64_t now_ns)
{
	switch (s->kind) {
	case SOURCE_TRACE:
		return trace_burst(s, pkts, max, now_ns);
	case SOURCE_LIVE:
		return live_burst(s, pkts, max);
#ifdef MPFLOW_HAVE_XDP
	case SOURCE_XDP:
		return soft_xdp_burst(s, pkts, max);
#endif
	default:
		return 0;
	}
}

void soft_source_release(struct soft_source *s)
{
	struct tpacket_block_desc *block;

#ifdef MPFLOW_HAVE_XDP
	if (s->kind == SOURCE_XDP) {
		soft_xdp_release(s);
		return;
	}
#endif
	/* `frame` is set while we hold a block. */
	if (s->kind != SOURCE_LIVE || s->block_left != 0 || s->frame == NULL)
		return;
	block = live_block(s);
	/* Hand the block back once every frame in it was processed. */
	__atomic_store_n(&block->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	s->block = (s->block + 1) % s->blocks;
	s->frame = NULL;
}

uint64_t soft_source_due(const struct soft_source *s, uint64_t now_ns)
{
	uint64_t next;

	if (s->kind != SOURCE_TRACE || s->done)
		return UINT64_MAX;
	if (s->start_ns == 0)
		return s->not_before_ns > now_ns ? s->not_before_ns - now_ns : 0;
	if (s->pps == 0)
		return 0;
	next = s->start_ns + (uint64_t)((soft_u128)s->sent * 1000000000u / s->pps);
	return next > now_ns ? next - now_ns : 0;
}

uint64_t soft_source_missed(struct soft_source *s, uint64_t now_ns)
{
	struct tpacket_stats_v3 st;
	socklen_t length = sizeof(st);

	if ((s->kind != SOURCE_LIVE && s->kind != SOURCE_XDP) || now_ns < s->stats_due_ns)
		return 0;
	s->stats_due_ns = now_ns + SOURCE_STATS_INTERVAL_NS;
#ifdef MPFLOW_HAVE_XDP
	if (s->kind == SOURCE_XDP)
		return soft_xdp_missed(s);
#endif
	/* The kernel's counts since the last read (reading resets them):
	 * frames it dropped because the ring had no free block. */
	if (getsockopt(s->fd, SOL_PACKET, PACKET_STATISTICS, &st, &length) != 0)
		return 0;
	return st.tp_drops;
}
