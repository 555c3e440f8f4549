/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --listen: GET /metrics answered with the Prometheus text of a fresh
 * snapshot, one connection at a time (a scraper asks every few seconds).
 * Requests are read with a bound (4 KiB) and a deadline (2 s); anything but
 * GET /metrics gets 404 or 405; the connection is closed after each answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools/flowstat/flowstat.h"

#define REQUEST_MAX	 4096
#define REQUEST_WAIT_MS	 2000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int listen_on(const char *address)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	char host[64];
	const char *colon = strrchr(address, ':');
	char *end;
	unsigned long port;
	int fd, one = 1;

	if (colon == NULL || (size_t)(colon - address) >= sizeof(host)) {
		fprintf(stderr, "flowstat: --listen %s: ADDRESS:PORT expected\n", address);
		return -1;
	}
	memcpy(host, address, (size_t)(colon - address));
	host[colon - address] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535 || inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		fprintf(stderr, "flowstat: --listen %s: an IPv4 address and a port expected\n",
			address);
		return -1;
	}
	sin.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, 16) != 0) {
		fprintf(stderr, "flowstat: --listen %s: %s\n", address, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Read the request head (up to the blank line) within the bounds. */
static ssize_t read_request(int fd, char *buf, size_t cap)
{
	size_t used = 0;

	while (used < cap - 1) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, REQUEST_WAIT_MS) != 1)
			return -1;
		n = read(fd, buf + used, cap - 1 - used);
		if (n <= 0)
			return -1;
		used += (size_t)n;
		buf[used] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return (ssize_t)used;
	}
	return -1;
}

static void answer(int fd, const char *status, const char *type, const char *body, size_t length)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, type, length);

	if (send(fd, head, (size_t)n, MSG_NOSIGNAL) == n && length)
		send(fd, body, length, MSG_NOSIGNAL);
}

static void serve(struct flowstat *fs, int fd, struct snapshot snaps[2], unsigned *current)
{
	char request[REQUEST_MAX];
	char *body = NULL;
	size_t length = 0;
	FILE *out;

	if (read_request(fd, request, sizeof(request)) < 0)
		return;
	if (strncmp(request, "GET ", 4) != 0) {
		answer(fd, "405 Method Not Allowed", "text/plain", "GET only\n", 9);
		return;
	}
	if (strncmp(request + 4, "/metrics ", 9) != 0 && strncmp(request + 4, "/metrics?", 9) != 0) {
		answer(fd, "404 Not Found", "text/plain", "see /metrics\n", 13);
		return;
	}
	*current ^= 1;
	snapshot_take(fs, &snaps[*current ^ 1], &snaps[*current]);
	out = open_memstream(&body, &length);
	if (out == NULL) {
		answer(fd, "500 Internal Server Error", "text/plain", "", 0);
		return;
	}
	output_prometheus(fs, &snaps[*current], out);
	fclose(out);
	answer(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, length);
	free(body);
}

int http_serve(struct flowstat *fs, const char *address)
{
	struct snapshot snaps[2] = {{0}};
	struct sigaction sa = {.sa_handler = on_signal};
	unsigned current = 0;
	int fd = listen_on(address);

	if (fd < 0)
		return 2;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "flowstat: serving http://%s/metrics\n", address);
	while (!stop) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int client;

		if (poll(&pfd, 1, -1) != 1)
			continue; /* a signal: look at `stop` */
		client = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (client < 0)
			continue;
		serve(fs, client, snaps, &current);
		close(client);
	}
	close(fd);
	snapshot_free(&snaps[0]);
	snapshot_free(&snaps[1]);
	return 0;
}
