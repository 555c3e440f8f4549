/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/handshake.h"
#include "tests/harness.h"

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Fork and exec mpflowd on p->dir, output to p->log. */
static int spawn_process(struct primary *p, const char *const *extra)
{
	const char *binary = getenv("MPFLOWD");
	const char *backend = getenv("MPFLOWD_BACKEND");
	const char *wrapper = getenv("MPFLOWD_WRAPPER"); /* e.g. scripts/test --valgrind */
	const char *argv[48];
	char words[512];
	int argc = 0;

	if (binary == NULL) {
		fprintf(stderr, "harness: MPFLOWD is not set\n");
		return -1;
	}
	if (wrapper) {
		char *save = NULL;

		snprintf(words, sizeof(words), "%s", wrapper);
		for (char *w = strtok_r(words, " ", &save); w && argc < 16;
		     w = strtok_r(NULL, " ", &save))
			argv[argc++] = w;
	}
	argv[argc++] = binary;
	argv[argc++] = "--foreground";
	argv[argc++] = "--runtime-dir";
	argv[argc++] = p->dir;
	/* The test's own state, and no configuration file of this machine's;
	 * a test's own --state-dir comes later and wins. */
	argv[argc++] = "--state-dir";
	argv[argc++] = p->dir;
	argv[argc++] = "--no-config";
	argv[argc++] = "--quiet";
	if (backend) {
		argv[argc++] = "--backend";
		argv[argc++] = backend;
	}
	for (int i = 0; extra && extra[i] && argc < 47; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;
	p->pid = fork();
	if (p->pid == 0) {
		int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	return p->pid < 0 ? -1 : 0;
}

static int spawn(struct primary *p, const char *const *extra)
{
	if (spawn_process(p, extra) != 0)
		return -1;
	/* Ready when it accepts a connection (a journal of millions of rules
	 * takes seconds to replay: bench/scale waits for ten million). A
	 * monitor asks for no session: the primary starts as it would with
	 * no client, and a test that counts clients meets none of ours. */
	for (int i = 0; i < 12000; i++) {
		struct mpf_connect_options o = {.runtime_dir = p->dir, .name = "probe"};
		struct mpf_monitor *m;
		int status;

		if (mpf_monitor_open(&o, &m, NULL) == 0) {
			mpf_monitor_close(m);
			return 0;
		}
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			return -1;
		}
		sleep_ms(10);
	}
	return -1;
}

int primary_start(struct primary *p, const char *const *extra)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "/tmp/mpflow-test-XXXXXX");
	if (mkdtemp(p->dir) == NULL)
		return -1;
	snprintf(p->log, sizeof(p->log), "%s.log", p->dir);
	return spawn(p, extra);
}

int primary_restart(struct primary *p, const char *const *extra)
{
	return spawn(p, extra);
}

int primary_run_once(const struct primary *p, const char *log, const char *const *extra)
{
	struct primary other = *p;
	int status;

	snprintf(other.log, sizeof(other.log), "%s", log);
	other.pid = 0;
	if (spawn_process(&other, extra) != 0)
		return -1;
	/* One that does not exit (it started: a refusal that did not come)
	 * is killed after 10 s, and says -1. */
	for (int i = 0; i < 1000; i++) {
		if (waitpid(other.pid, &status, WNOHANG) == other.pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		sleep_ms(10);
	}
	kill(other.pid, SIGKILL);
	waitpid(other.pid, &status, 0);
	return -1;
}

int primary_stop(struct primary *p)
{
	int status;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	/* Taking millions of rules out of the device takes seconds. */
	for (int i = 0; i < 6000; i++) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		sleep_ms(10);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &status, 0);
	p->pid = 0;
	return -1;
}

unsigned primary_log_lines(const struct primary *p, const char *what)
{
	FILE *f = fopen(p->log, "r");
	char line[1024];
	unsigned n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* Whether the primary's log shows a sanitizer report; copies it to stderr if
 * so, so the test output says what went wrong. */
static bool log_has_report(const char *path)
{
	char line[512];
	bool report = false;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f))
		report = report || strstr(line, "Sanitizer") || strstr(line, "runtime error");
	if (report) {
		rewind(f);
		while (fgets(line, sizeof(line), f))
			fputs(line, stderr);
	}
	fclose(f);
	return report;
}

int primary_cleanup(struct primary *p)
{
	char command[256];
	int rc = 0;

	if (p->pid > 0 && primary_stop(p) != 0) {
		fprintf(stderr, "harness: mpflowd did not exit cleanly\n");
		rc = -1;
	}
	if (p->log[0] && log_has_report(p->log))
		rc = -1;
	if (p->dir[0]) {
		snprintf(command, sizeof(command), "rm -rf '%s' '%s'", p->dir, p->log);
		if (system(command) != 0)
			fprintf(stderr, "harness: could not remove %s\n", p->dir);
	}
	return rc;
}

int become_stranger(void)
{
	return setgroups(0, NULL) == 0 && setresgid(STRANGER, STRANGER, STRANGER) == 0 &&
			       setresuid(STRANGER, STRANGER, STRANGER) == 0
		       ? 0
		       : -1;
}

int primary_connect(const struct primary *p, const char *name, struct mpf_client **client)
{
	/* A minute: a rationed audit on a sanitized or valgrind build waits long. */
	struct mpf_connect_options o = {.runtime_dir = p->dir, .name = name, .timeout_ms = 60000};

	return mpf_connect(&o, client, NULL);
}

int raw_connect(const struct primary *p, struct raw_session *raw)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct handshake_hello hello = {
		.magic = HANDSHAKE_MAGIC, .version = HANDSHAKE_VERSION, .name = "raw"};
	struct handshake_welcome w;
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = &w, .iov_len = sizeof(w)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *cmsg;
	struct stat st;

	memset(raw, 0, sizeof(*raw));
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/default.sock", p->dir);
	raw->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (connect(raw->sock, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		return -1;
	/* A refusal may come before the hello is read: read it regardless. */
	send(raw->sock, &hello, sizeof(hello), MSG_NOSIGNAL);
	if (recvmsg(raw->sock, &msg, 0) != sizeof(w))
		return -1;
	raw->status = w.status;
	memcpy(raw->reason, w.reason, sizeof(raw->reason));
	if (w.status)
		return 0;
	cmsg = CMSG_FIRSTHDR(&msg);
	memcpy(raw->fds, CMSG_DATA(cmsg), sizeof(raw->fds));
	raw->mem_length = w.client_memfd_size;
	raw->mem = mmap(NULL, raw->mem_length, PROT_READ | PROT_WRITE, MAP_SHARED, raw->fds[0], 0);
	fstat(raw->fds[1], &st);
	raw->region = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, raw->fds[1], 0);
	if (raw->mem == MAP_FAILED || raw->region == MAP_FAILED ||
	    region_attach(&raw->view, raw->region, (size_t)st.st_size) != 0 ||
	    ring_attach(&raw->requests, raw->mem, w.completion_ring_offset, RING_PRODUCER,
			raw->fds[2]) != 0 ||
	    ring_attach(&raw->completions, (uint8_t *)raw->mem + w.completion_ring_offset,
			raw->mem_length - w.completion_ring_offset, RING_CONSUMER,
			raw->fds[2]) != 0)
		return -1;
	return 0;
}

void raw_close(struct raw_session *raw)
{
	if (raw->mem && raw->mem != MAP_FAILED)
		munmap(raw->mem, raw->mem_length);
	for (int i = 0; i < 4; i++)
		if (raw->fds[i] > 0)
			close(raw->fds[i]);
	close(raw->sock);
}

bool raw_hung_up(struct raw_session *raw, int ms)
{
	struct pollfd pfd = {.fd = raw->sock, .events = POLLIN | POLLRDHUP};

	return poll(&pfd, 1, ms) == 1 && (pfd.revents & (POLLHUP | POLLRDHUP));
}

unsigned persistent_rules(struct mpf_client *c, uint64_t *out, unsigned max, unsigned *unrestored,
			  unsigned *others)
{
	struct mpf_flow_info info;
	uint32_t cursor = 0;
	unsigned n = 0, not_restored = 0, not_persistent = 0;

	while (mpf_flow_next(c, &cursor, &info) == 1) {
		if (!(info.flags & MPF_FLOW_INFO_PERSISTENT)) {
			not_persistent++;
			continue;
		}
		not_restored += (info.flags & MPF_FLOW_INFO_UNRESTORED) != 0;
		if (n < max)
			out[n++] = info.handle;
	}
	if (unrestored)
		*unrestored = not_restored;
	if (others)
		*others = not_persistent;
	return n;
}

unsigned region_rules(const struct raw_session *raw)
{
	unsigned live = 0;

	for (uint32_t i = 0; i < raw->view.max_rules; i++) {
		struct region_entry_copy e;

		if (region_entry_read(&raw->view, i, &e, NULL, 0) == 0)
			live++;
	}
	return live;
}

void sample_rule_init(struct sample_rule *s, uint32_t n)
{
	memset(s, 0, sizeof(*s));
	s->ip.hdr.src_addr = htonl(0x0a000000u | n);
	s->ip_mask.hdr.src_addr = 0xffffffff;
	s->queue.index = 1;
	s->pattern[0] = (struct mpf_flow_item){.type = MPF_FLOW_ITEM_TYPE_ETH};
	s->pattern[1] = (struct mpf_flow_item){
		.type = MPF_FLOW_ITEM_TYPE_IPV4, .spec = &s->ip, .mask = &s->ip_mask};
	s->pattern[2] = (struct mpf_flow_item){.type = MPF_FLOW_ITEM_TYPE_UDP};
	s->actions[0] = (struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_COUNT};
	s->actions[1] =
		(struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_QUEUE, .conf = &s->queue};
}

int sample_rules_load(struct mpf_client *c, uint32_t first, uint32_t n, uint32_t flags)
{
	static const struct mpf_flow_attr ingress = {.ingress = 1};
	struct mpf_completion done[256];
	struct mpf_flow_error error;
	uint32_t submitted = 0, completed = 0;

	while (completed < n) {
		struct sample_rule s;
		int got;

		sample_rule_init(&s, first + submitted);
		if (submitted < n && mpf_submit_create(c, 0, &ingress, s.pattern, s.actions, flags,
						       submitted, &error) == 0) {
			submitted++;
			continue;
		}
		got = mpf_poll(c, done, 256, 10000);
		if (got <= 0)
			return got < 0 ? got : -ETIMEDOUT;
		for (int i = 0; i < got; i++)
			if (done[i].status)
				return done[i].status;
		completed += (uint32_t)got;
	}
	return 0;
}

int primary_fixture_start(void **state, const char *const *extra)
{
	struct primary *p = calloc(1, sizeof(*p));

	if (p == NULL || primary_start(p, extra) != 0) {
		free(p);
		return -1;
	}
	*state = p;
	return 0;
}

int primary_fixture_stop(void **state)
{
	struct primary *p = *state;
	int rc = primary_cleanup(p);

	free(p);
	return rc;
}

int create_from_text(struct mpf_client *c, const char *text, uint32_t flags, uint64_t *handle,
		     struct mpf_flow_error *error)
{
	struct mpf_flow_parsed *parsed;
	int err = mpf_flow_parse(text, &parsed, error);

	if (err)
		return err;
	err = mpf_flow_create(c, 0, mpf_flow_parsed_attr(parsed), mpf_flow_parsed_pattern(parsed),
			      mpf_flow_parsed_actions(parsed), flags, handle, error);
	mpf_flow_parsed_free(parsed);
	return err;
}

const char *raw_rule_text(char *text, size_t size, unsigned pattern_length)
{
	char pattern[512];

	if (pattern_length >= sizeof(pattern))
		pattern_length = sizeof(pattern) - 1;
	memset(pattern, 'z', pattern_length);
	pattern[pattern_length] = '\0';
	snprintf(text, size,
		 "ingress pattern eth / raw offset is 0 pattern is %s / end actions drop / end",
		 pattern);
	return text;
}

void put_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "harness: cannot write %s\n", path);
		abort();
	}
}

void fake_memcg_make(char *tree, size_t tree_size, char *svc, size_t svc_size, const char *max)
{
	char root[128], self[128];

	snprintf(tree, tree_size, "/tmp/mpflow-cgroup-XXXXXX");
	if (mkdtemp(tree) == NULL) {
		perror("harness: mkdtemp");
		abort();
	}
	snprintf(root, sizeof(root), "%s/fs", tree);
	snprintf(svc, svc_size, "%s/svc", root);
	snprintf(self, sizeof(self), "%s/cgroup", tree);
	if (mkdir(root, 0700) != 0 || mkdir(svc, 0700) != 0) {
		perror("harness: mkdir");
		abort();
	}
	put_file(tree, "cgroup", "0::/svc\n");
	put_file(svc, "memory.max", max);
	put_file(svc, "memory.current", "0\n");
	setenv("MPFLOW_MEMCG_SELF", self, 1);
	setenv("MPFLOW_MEMCG_ROOT", root, 1);
}

static char faults[64];

void faults_on(void)
{
	snprintf(faults, sizeof(faults), "/tmp/mpflow-faults-%d", (int)getpid());
	clear_fault();
	setenv("MPFLOW_FAULTS", faults, 1);
}

void set_fault(const char *words)
{
	char next[sizeof(faults) + 8];
	FILE *f;

	snprintf(next, sizeof(next), "%s.next", faults);
	f = fopen(next, "w");
	if (f == NULL || fprintf(f, "%s\n", words) < 0 || fclose(f) != 0 ||
	    rename(next, faults) != 0)
		abort();
}

void clear_fault(void)
{
	unlink(faults);
}
