/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The xdp: source: an AF_XDP socket on one queue of an interface (libxdp,
 * libbpf). libxdp loads its default XDP program, which redirects the
 * queue's frames to the socket (and passes the rest to the kernel).
 *
 * UMEM: XDP_FRAMES frames of XDP_FRAME_SIZE bytes, the first half lent to
 * the kernel for receiving (the fill ring), the second half ours for
 * sending. A burst takes descriptors off the RX ring; the frames stay ours
 * until soft_source_release() hands them back through the fill ring, after
 * every packet of the burst was processed (delivered frames were copied
 * into RX queues by then). Sending copies a frame into a free TX frame and
 * posts it; completed ones come back through the completion ring. In copy
 * mode the kernel moves frames only when told (sendto()/recvfrom() when a
 * ring says it needs waking).
 *
 * Modes: zc (zero copy: the driver DMAs into the UMEM), copy (any driver
 * with XDP: veth), or unspecified: zero copy where the driver can, else
 * copy. A mode the driver cannot do is refused with the reason.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "hwdrv/soft/soft.h"

#define XDP_FRAMES     4096u
#define XDP_FRAME_SIZE 4096u
#define XDP_RX_FRAMES  (XDP_FRAMES / 2)
#define XDP_RING_SIZE  2048u

struct soft_xdp {
	void *area;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	uint64_t held[SOFT_BURST]; /* frames of the last burst, for the fill ring */
	unsigned n_held;
	uint64_t free_tx[XDP_FRAMES - XDP_RX_FRAMES];
	unsigned n_free_tx;
	bool tx_pending;  /* posted frames the kernel was not told about */
	uint64_t dropped; /* XDP_STATISTICS at the last read: they only grow */
	char mode[8];
};

/* libxdp and libbpf chatter on stderr about sections and bpffs; their
 * failures reach the user through our own messages. */
static int quiet(enum libxdp_print_level level, const char *format, va_list args)
{
	(void)level, (void)format, (void)args;
	return 0;
}

static int quiet_bpf(enum libbpf_print_level level, const char *format, va_list args)
{
	(void)level, (void)format, (void)args;
	return 0;
}

static int xdp_error(struct mpf_flow_error *error, int code, const struct soft_source *s,
		     const char *what)
{
	return flow_error_set(error, code, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1, "--source %s: %s",
			      s->spec, what);
}

/*
 * The socket on `queue`. A queue whose last AF_XDP socket was just closed
 * (a primary that stopped, and another started at once; or a socket the
 * same process had) stays taken until the kernel has let it go, after
 * the closing process is gone: EBUSY for a moment, longer on a busy
 * machine. Tried again for up to 2 s before that is the answer.
 */
static int socket_create(struct soft_xdp *x, const char *ifname, uint32_t queue, bool zc)
{
	struct xsk_socket_config cfg = {
		.rx_size = XDP_RING_SIZE,
		.tx_size = XDP_RING_SIZE,
		.bind_flags = (uint16_t)((zc ? XDP_ZEROCOPY : XDP_COPY) | XDP_USE_NEED_WAKEUP),
	};

	for (int tries = 0;; tries++) {
		int err = xsk_socket__create(&x->xsk, ifname, queue, x->umem, &x->rx, &x->tx, &cfg);

		if (err != -EBUSY || tries == 40)
			return err;
		usleep(50000);
	}
}

int soft_xdp_open(struct soft_source *s, const char *ifname, uint32_t queue, const char *mode,
		  struct mpf_flow_error *error)
{
	struct xsk_umem_config ucfg = {.fill_size = XDP_RING_SIZE,
				       .comp_size = XDP_RING_SIZE,
				       .frame_size = XDP_FRAME_SIZE};
	struct soft_xdp *x = calloc(1, sizeof(*x));
	char why[160];
	unsigned idx;
	int err;

	if (x == NULL)
		return xdp_error(error, ENOMEM, s, "out of memory");
	s->xdp = x;
	libxdp_set_print(quiet);
	libbpf_set_print(quiet_bpf);
	x->area = mmap(NULL, (size_t)XDP_FRAMES * XDP_FRAME_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->area == MAP_FAILED) {
		x->area = NULL;
		return xdp_error(error, errno, s, "UMEM: out of memory");
	}
	err = xsk_umem__create(&x->umem, x->area, (uint64_t)XDP_FRAMES * XDP_FRAME_SIZE, &x->fill,
			       &x->comp, &ucfg);
	if (err) {
		snprintf(why, sizeof(why), "UMEM: %s%s", strerror(-err),
			 err == -EPERM ? " (needs CAP_NET_ADMIN, CAP_BPF and locked memory)" : "");
		return xdp_error(error, -err, s, why);
	}
	if (strcmp(mode, "copy") != 0) {
		err = socket_create(x, ifname, queue, true);
		snprintf(x->mode, sizeof(x->mode), "zc");
		if (err && strcmp(mode, "zc") == 0) {
			snprintf(why, sizeof(why), "zero copy on %s queue %u: %s%s", ifname, queue,
				 strerror(-err),
				 err == -EOPNOTSUPP ? " (the driver cannot: try mode=copy)" : "");
			return xdp_error(error, -err, s, why);
		}
	}
	if (strcmp(mode, "zc") != 0 && x->xsk == NULL) {
		err = socket_create(x, ifname, queue, false);
		snprintf(x->mode, sizeof(x->mode), "copy");
	}
	if (err) {
		snprintf(why, sizeof(why), "AF_XDP socket on %s queue %u: %s%s", ifname, queue,
			 strerror(-err),
			 err == -EPERM	  ? " (needs CAP_NET_ADMIN and CAP_BPF)"
			 : err == -ENODEV ? " (no such interface)"
			 : err == -EINVAL ? " (no such queue?)"
					  : "");
		return xdp_error(error, -err, s, why);
	}
	/* Lend the RX half to the kernel; keep the TX half. */
	if (xsk_ring_prod__reserve(&x->fill, XDP_RX_FRAMES, &idx) != XDP_RX_FRAMES)
		return xdp_error(error, EIO, s, "the fill ring is smaller than it was made");
	for (unsigned i = 0; i < XDP_RX_FRAMES; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = (uint64_t)i * XDP_FRAME_SIZE;
	xsk_ring_prod__submit(&x->fill, XDP_RX_FRAMES);
	for (unsigned i = XDP_RX_FRAMES; i < XDP_FRAMES; i++)
		x->free_tx[x->n_free_tx++] = (uint64_t)i * XDP_FRAME_SIZE;
	s->fd = xsk_socket__fd(x->xsk);
	return 0;
}

void soft_xdp_close(struct soft_source *s)
{
	struct soft_xdp *x = s->xdp;

	if (x == NULL)
		return;
	if (x->xsk)
		xsk_socket__delete(x->xsk); /* and libxdp detaches its program */
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area)
		munmap(x->area, (size_t)XDP_FRAMES * XDP_FRAME_SIZE);
	free(x);
	s->xdp = NULL;
	s->fd = -1;
}

const char *soft_xdp_mode(const struct soft_source *s)
{
	return s->xdp ? s->xdp->mode : "";
}

unsigned soft_xdp_burst(struct soft_source *s, struct packet *pkts, unsigned max)
{
	struct soft_xdp *x = s->xdp;
	unsigned room = SOFT_BURST - x->n_held, idx, n;

	n = xsk_ring_cons__peek(&x->rx, max < room ? max : room, &idx);

	unsigned taken = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
		/* The kernel's descriptor: it must name a frame we lent for
		 * receiving and stay inside it; else it is neither processed
		 * nor lent again (a frame is never in two places). */
		uint64_t offset = d->addr % XDP_FRAME_SIZE;

		if (d->addr >= (uint64_t)XDP_RX_FRAMES * XDP_FRAME_SIZE ||
		    d->len > XDP_FRAME_SIZE - offset)
			continue;
		pkts[taken++] = (struct packet){.data = xsk_umem__get_data(x->area, d->addr),
						.length = d->len,
						.wire_length = d->len};
		x->held[x->n_held++] = d->addr - offset;
	}
	if (n)
		xsk_ring_cons__release(&x->rx, n);
	return taken;
}

void soft_xdp_release(struct soft_source *s)
{
	struct soft_xdp *x = s->xdp;
	unsigned idx;

	/* The fill ring has room for every RX frame: this cannot fall short. */
	if (x->n_held == 0 || xsk_ring_prod__reserve(&x->fill, x->n_held, &idx) != x->n_held)
		return;
	for (unsigned i = 0; i < x->n_held; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = x->held[i];
	xsk_ring_prod__submit(&x->fill, x->n_held);
	x->n_held = 0;
	if (xsk_ring_prod__needs_wakeup(&x->fill))
		recvfrom(s->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

bool soft_xdp_send(struct soft_source *s, const void *data, uint32_t length)
{
	struct soft_xdp *x = s->xdp;
	unsigned idx, done;

	/* Frames the kernel has sent come back first. */
	done = xsk_ring_cons__peek(&x->comp, XDP_RING_SIZE, &idx);
	for (unsigned i = 0; i < done; i++)
		x->free_tx[x->n_free_tx++] = *xsk_ring_cons__comp_addr(&x->comp, idx + i);
	if (done)
		xsk_ring_cons__release(&x->comp, done);
	if (x->n_free_tx == 0 || length < 14 || length > XDP_FRAME_SIZE ||
	    xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1)
		return false;
	uint64_t addr = x->free_tx[--x->n_free_tx];
	struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, idx);

	memcpy(xsk_umem__get_data(x->area, addr), data, length);
	d->addr = addr;
	d->len = length;
	xsk_ring_prod__submit(&x->tx, 1);
	x->tx_pending = true;
	return true;
}

void soft_xdp_flush(struct soft_source *s)
{
	struct soft_xdp *x = s->xdp;

	/* One system call per burst, and only if the kernel asks for it. */
	if (x->tx_pending && xsk_ring_prod__needs_wakeup(&x->tx))
		sendto(s->fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
	x->tx_pending = false;
}

uint64_t soft_xdp_missed(struct soft_source *s)
{
	struct soft_xdp *x = s->xdp;
	struct xdp_statistics st;
	socklen_t length = sizeof(st);
	uint64_t now, delta;

	if (getsockopt(s->fd, SOL_XDP, XDP_STATISTICS, &st, &length) != 0)
		return 0;
	/* Frames the kernel dropped: no room in our RX ring, no frame in the
	 * fill ring, or otherwise (too long, ...). */
	now = st.rx_dropped + st.rx_ring_full + st.rx_fill_ring_empty_descs;
	delta = now - x->dropped;
	x->dropped = now;
	return delta;
}
