/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client side of the handshake (shm/handshake.h), shared by sessions
 * (client.c) and monitors (monitor.c): where the instance's socket is, the
 * hello, the welcome and its fds, and the read-only mapping of the region.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "libclient/client.h"
#include "shm/fdpass.h"

static int default_runtime_dir(char *out, size_t size)
{
	const char *env = getenv("MPFLOW_RUNTIME_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env && *env)
		return snprintf(out, size, "%s", env) < (int)size ? 0 : -1;
	if (geteuid() == 0)
		return snprintf(out, size, "/run/mpflow") < (int)size ? 0 : -1;
	if (xdg && *xdg)
		return snprintf(out, size, "%s/mpflow", xdg) < (int)size ? 0 : -1;
	return -1;
}

int client_locate(const struct mpf_connect_options *options, struct client_address *out,
		  struct mpf_flow_error *error)
{
	const char *instance = options->instance ? options->instance : "default";
	const char *env;
	int err;

	if (snprintf(out->instance, sizeof(out->instance), "%s", instance) >=
	    (int)sizeof(out->instance))
		return flow_error_set(error, ENAMETOOLONG, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "instance name '%s' longer than %zu bytes", instance,
				      sizeof(out->instance) - 1);
	if (options->runtime_dir)
		err = snprintf(out->runtime_dir, sizeof(out->runtime_dir), "%s",
			       options->runtime_dir) < (int)sizeof(out->runtime_dir)
			      ? 0
			      : -1;
	else
		err = default_runtime_dir(out->runtime_dir, sizeof(out->runtime_dir));
	if (err)
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no runtime directory: set runtime_dir, "
				      "MPFLOW_RUNTIME_DIR or XDG_RUNTIME_DIR");
	out->timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : CLIENT_TIMEOUT_MS;
	out->primary_uid = options->primary_uid;
	out->primary_uid_set = options->primary_uid != 0;
	if (!out->primary_uid_set && (env = getenv("MPFLOW_PRIMARY_UID")) && *env) {
		char *end;
		unsigned long uid = strtoul(env, &end, 10);

		if (*end || end == env || uid > UINT32_MAX)
			return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "MPFLOW_PRIMARY_UID=%s: not a uid", env);
		out->primary_uid = (uint32_t)uid;
		out->primary_uid_set = true;
	}
	return 0;
}

/*
 * Whether the process at the other end of `sock` may be trusted as the
 * primary: root, the uid the application named, or the owner of the runtime
 * directory when nobody else can write there. `dir` is that directory,
 * opened before the connect, whose descriptor the connect went through.
 */
static int check_primary(int sock, int dir, const struct client_address *at,
			 struct mpf_flow_error *error)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat st;

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || fstat(dir, &st) != 0)
		return flow_error_set(error, errno, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the primary's credentials: %s", strerror(errno));
	if (cred.uid == 0 || (at->primary_uid_set && cred.uid == at->primary_uid) ||
	    (cred.uid == st.st_uid && !(st.st_mode & 0022)))
		return 0;
	return flow_error_set(
		error, EPERM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
		"the primary at %s/%s.sock runs as uid %u: not root, not the owner of a "
		"directory only it can write (uid %u, mode %04o), not primary_uid: not "
		"trusted",
		at->runtime_dir, at->instance, (unsigned)cred.uid, (unsigned)st.st_uid,
		(unsigned)(st.st_mode & 07777));
}

static int receive_welcome(int sock, int timeout_ms, struct handshake_welcome *welcome, int fds[],
			   unsigned expected, struct mpf_flow_error *error)
{
	unsigned nfds;
	int err = fdpass_receive(sock, welcome, sizeof(*welcome), fds, &nfds, timeout_ms);

	if (err == -ETIMEDOUT)
		return flow_error_set(error, ETIMEDOUT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no answer from the primary within %d ms", timeout_ms);
	/* A primary that just died: its socket outlives it for a moment. */
	if (err == -ECONNRESET)
		return flow_error_set(error, ENOENT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the primary closed the connection unanswered "
				      "(it is exiting or gone)");
	if (err || welcome->magic != HANDSHAKE_MAGIC) {
		for (unsigned i = 0; !err && i < nfds; i++)
			close(fds[i]);
		return flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the primary's answer is not an mpflow welcome");
	}
	welcome->reason[sizeof(welcome->reason) - 1] = '\0';
	if (welcome->status != 0 || nfds != expected) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		if (welcome->status > 0 || welcome->status < -4095)
			return flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "malformed refusal from the primary");
		if (welcome->status)
			return flow_error_set(error, -welcome->status,
					      MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "refused by the primary: %s", welcome->reason);
		return flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the primary passed %u fds, not %u", nfds, expected);
	}
	return 0;
}

int client_dial(const struct client_address *at, const char *name, uint16_t flags,
		struct handshake_welcome *welcome, int fds[], unsigned nfds,
		struct mpf_flow_error *error)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct handshake_hello hello = {
		.magic = HANDSHAKE_MAGIC, .version = HANDSHAKE_VERSION, .flags = flags};
	int sock, dir, err;

	for (unsigned i = 0; i < nfds; i++)
		fds[i] = -1;
	/* The socket is reached through the directory whose owner we check;
	 * O_PATH: one we may pass through and not list (the unit's 0711) will do. */
	dir = open(at->runtime_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		err = errno;
		return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no primary for instance '%s': runtime directory %s: %s",
				      at->instance, at->runtime_dir, strerror(err));
	}
	if ((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s.sock", dir,
			     at->instance) >= sizeof(addr.sun_path)) {
		close(dir);
		return flow_error_set(error, ENAMETOOLONG, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "socket path too long");
	}
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		err = errno;
		close(dir);
		return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1, "socket: %s",
				      strerror(err));
	}
	if (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		err = errno == ECONNREFUSED ? ENOENT : errno;
		close(sock);
		close(dir);
		return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no primary for instance '%s' at %s/%s.sock (%s)",
				      at->instance, at->runtime_dir, at->instance, strerror(err));
	}
	err = check_primary(sock, dir, at, error);
	close(dir);
	if (err) {
		close(sock);
		return err;
	}
	snprintf(hello.name, sizeof(hello.name), "%s", name);
	/* A primary that refuses us at once (policy) may have closed before
	 * the hello arrives: its refusal, already sent, is still read below. */
	send(sock, &hello, sizeof(hello), MSG_NOSIGNAL);
	err = receive_welcome(sock, at->timeout_ms, welcome, fds, nfds, error);
	if (err) {
		close(sock);
		return err;
	}
	return sock;
}

int client_map_region(int fd, uint64_t size, struct client_region *out,
		      struct mpf_flow_error *error)
{
	struct stat st;

	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != size)
		return flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the counters region does not match the welcome");
	/* Read-only: the primary sealed it so, and we would not write anyway. */
	out->mem = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (out->mem == MAP_FAILED)
		return flow_error_set(error, errno, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "mapping the counters region: %s", strerror(errno));
	out->length = size;
	if (region_attach(&out->view, out->mem, out->length) != 0) {
		munmap(out->mem, out->length);
		return flow_error_set(error, EPROTO, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the counters region is malformed");
	}
	return 0;
}

void client_unmap_region(struct client_region *region)
{
	if (region->mem)
		munmap(region->mem, region->length);
	region->mem = NULL;
}
