/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <linux/sockios.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shm/fdpass.h"

union control {
	char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
	struct cmsghdr align;
};

int fdpass_send(int sock, const void *data, size_t length, const int *fds, unsigned count)
{
	union control control;
	struct iovec iov = {.iov_base = (void *)(uintptr_t)data, .iov_len = length};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (count > FDPASS_MAX)
		return -EINVAL;
	if (count) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * count);
	}
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != (ssize_t)length)
		return errno ? -errno : -EIO;
	return 0;
}

int fdpass_receive(int sock, void *data, size_t length, int fds[FDPASS_MAX], unsigned *count,
		   int timeout_ms)
{
	union control control;
	struct iovec iov = {.iov_base = data, .iov_len = length};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct pollfd pfd = {.fd = sock, .events = POLLIN};
	ssize_t n;

	*count = 0;
	if (poll(&pfd, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	if (n == 0 && msg.msg_controllen == 0)
		return -ECONNRESET; /* the peer closed without a word */
	for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
			unsigned got = (unsigned)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			for (unsigned i = 0; i < got; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(fd));
				if (*count < FDPASS_MAX)
					fds[(*count)++] = fd;
				else
					close(fd);
			}
		}
	if ((size_t)n != length || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		for (unsigned i = 0; i < *count; i++)
			close(fds[i]);
		*count = 0;
		return -EPROTO;
	}
	return 0;
}

void fdpass_discard(int sock)
{
	for (;;) {
		uint8_t data[64];
		int fds[FDPASS_MAX];
		unsigned count;
		int err = fdpass_receive(sock, data, sizeof(data), fds, &count, 0);

		if (err != 0 && err != -EPROTO)
			return; /* nothing more waits, or the peer is gone */
		for (unsigned i = 0; i < count; i++)
			close(fds[i]);
	}
}

int fdpass_unread(int sock)
{
	int n = 0;

	return ioctl(sock, SIOCOUTQ, &n) == 0 ? n : 0;
}
