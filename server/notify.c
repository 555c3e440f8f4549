/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Readiness for systemd (Type=notify): the protocol of sd_notify(3), which
 * is one datagram to the AF_UNIX socket $NOTIFY_SOCKET names (a path, or an
 * abstract name when it starts with '@'). Written here rather than linked
 * from libsystemd: it is these few lines, and mpflowd then runs the same
 * with or without systemd.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/server.h"

void notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t length;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	length = strlen(path);
	if (length >= sizeof(addr.sun_path)) {
		log_warnx("NOTIFY_SOCKET: a name longer than %zu bytes", sizeof(addr.sun_path) - 1);
		return;
	}
	memcpy(addr.sun_path, path, length);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr,
			     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length)) < 0)
		log_warn("NOTIFY_SOCKET %s: cannot say %s", path, state);
	if (fd >= 0)
		close(fd);
}
