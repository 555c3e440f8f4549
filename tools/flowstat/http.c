/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --listen: GET /metrics answered with the Prometheus text of a fresh
 * snapshot (shared by the requests that come while it is made:
 * metrics_response()), served by libmicrohttpd so that no client can hold the others
 * up: a scraper must get its answer while another connection sends its
 * request a byte at a time (tests/tools/test-tools.sh checks it).
 *
 * One MHD thread polls every connection with epoll and does all the work.
 * It never blocks on a peer: a slow client costs its connection's memory
 * and a slot, never the thread. Thread per connection would buy nothing
 * here (snapshots are serialised anyway) and cost a stack per slow client.
 * The bounds: each connection's memory (request head, response head) is
 * CONNECTION_MEMORY bytes, a request that does not fit is refused by MHD;
 * a connection idle for CONNECTION_IDLE_S seconds is closed. MHD's timeout
 * counts idleness, not age: a client that trickles a byte every few
 * seconds keeps its connection, and a per-address limit is no bound where
 * any local user may bind any of 127.0.0.0/8. So flowstat keeps its own
 * count, below MHD's hard limit (which, once reached, stops accepting: a
 * policy that runs at a new connection must never let it be reached).
 * When CONNECTIONS_MAX connections are open, or EVICT_AT wait for a
 * request (a head not yet whole), a new one closes the one that has waited
 * longest, or, when none waits, the one whose answer has been going out
 * longest (a reader that reads slowly, or not at all). Each answer closes
 * its connection (no keep-alive, no pipelined requests piling answers up):
 * a scraper, whose request follows its connect at once, is answered
 * however many connections trickle or read slowly.
 *
 * Which answer a request gets is http_route() (http_route.c); this file is
 * the glue to MHD, the snapshots and the signals.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tools/flowstat/flowstat.h"
#include "tools/flowstat/http_route.h"

#define CONNECTION_MEMORY (16 * 1024)
#define CONNECTION_IDLE_S 5
#define CONNECTIONS_MAX	  64			 /* ours */
#define CONNECTIONS_HARD  (CONNECTIONS_MAX + 16) /* MHD's: never reached */
#define EVICT_AT	  (CONNECTIONS_MAX - 8)
/* Texts going out at once, at most: a new one closes the connections that
 * read the oldest. Each holds its text (megabytes with --all); the
 * connections that share one cost nothing more. */
#define TEXTS_MAX 8

/* A connection, from MHD's notice of it to its close. */
struct http_conn {
	struct MHD_Connection *connection;
	uint64_t since_ns; /* waiting for its request, or (busy) answered */
	uint64_t text;	   /* busy: the metrics text it reads (its number); 0: none */
	bool used, busy;   /* busy: its answer is queued, going out */
	bool evicted;
};

struct http_server {
	struct flowstat *fs;
	/* `lock` serialises the snapshots: the pair, `current`, and the
	 * monitor and status in `fs`. MHD calls us from its one polling
	 * thread; the lock keeps that an assumption of MHD's mode, not of
	 * this code. */
	pthread_mutex_t lock;
	struct snapshot snaps[2];
	unsigned current;
	struct http_conn conns[CONNECTIONS_HARD]; /* MHD's thread only */
	/* The last metrics answer, shared by the requests that come while it
	 * is younger than it took to make (MHD counts its references). */
	struct MHD_Response *metrics;
	uint64_t metrics_at_ns, metrics_took_ns;
	uint64_t texts; /* made so far: the last one's number */
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static struct http_conn *conn_of(struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

/* Close `c`: its socket shut down, MHD sees the end and lets it go. */
static void evict(struct http_conn *c)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(c->connection, MHD_CONNECTION_INFO_CONNECTION_FD);

	if (info != NULL)
		shutdown(info->connect_fd, SHUT_RDWR);
	c->evicted = true;
}

/* Close the connection that has waited longest for its request, or, none
 * waiting, the one whose answer has been going out longest. */
static void evict_one(struct http_server *server)
{
	struct http_conn *oldest = NULL;

	for (unsigned i = 0; i < CONNECTIONS_HARD; i++) {
		struct http_conn *c = &server->conns[i];

		if (!c->used || c->evicted)
			continue;
		if (oldest == NULL || (oldest->busy && !c->busy) ||
		    (oldest->busy == c->busy && c->since_ns < oldest->since_ns))
			oldest = c;
	}
	if (oldest != NULL)
		evict(oldest);
}

/* MHD's notice of a connection's start and close. */
static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *server = cls;
	struct http_conn *slot = NULL;
	unsigned open = 0, waiting = 0;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (*socket_context)
			((struct http_conn *)*socket_context)->used = false;
		return;
	}
	for (unsigned i = 0; i < CONNECTIONS_HARD; i++) {
		struct http_conn *c = &server->conns[i];

		if (!c->used)
			slot = slot ? slot : c;
		else if (!c->evicted)
			open++, waiting += !c->busy;
	}
	if (open >= CONNECTIONS_MAX || waiting >= EVICT_AT)
		evict_one(server);
	if (slot != NULL) { /* MHD admits CONNECTIONS_HARD: there is one */
		*slot = (struct http_conn){
			.connection = connection, .since_ns = now_ns(), .used = true};
		*socket_context = slot;
	}
}

/* MHD's notice that a request was answered (or abandoned): the connection
 * waits for the next one from now. */
static void on_completed(void *cls, struct MHD_Connection *connection, void **request_state,
			 enum MHD_RequestTerminationCode code)
{
	struct http_conn *c = conn_of(connection);

	(void)cls, (void)request_state, (void)code;
	if (c != NULL) {
		c->busy = false;
		c->since_ns = now_ns();
	}
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
	/* Non-blocking: MHD's epoll loop accepts until EAGAIN. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, 64) != 0) {
		fprintf(stderr, "flowstat: --listen %s: %s\n", address, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The Prometheus text of a fresh snapshot, in a malloc()ed buffer; NULL if
 * memory ran out. Rates are not shown, but the pair is kept so that each
 * snapshot reuses the previous one's rows. */
static char *metrics_text(struct http_server *server, size_t *length)
{
	char *body = NULL;
	FILE *out;

	pthread_mutex_lock(&server->lock);
	server->current ^= 1;
	/* No primary is not an error here: the text says so (mpflow_up 0). */
	snapshot_take(server->fs, &server->snaps[server->current ^ 1],
		      &server->snaps[server->current]);
	out = open_memstream(&body, length);
	if (out != NULL) {
		output_prometheus(server->fs, &server->snaps[server->current], out);
		if (fclose(out) != 0) {
			free(body);
			body = NULL;
		}
	}
	pthread_mutex_unlock(&server->lock);
	return body;
}

/* `answer`'s response, with its headers; NULL if memory ran out. */
static struct MHD_Response *response_for(struct http_server *server,
					 const struct http_answer *answer)
{
	struct MHD_Response *response;

	if (answer->metrics) {
		size_t length = 0;
		char *body = metrics_text(server, &length);

		if (body == NULL)
			return NULL;
		response = MHD_create_response_from_buffer(length, body, MHD_RESPMEM_MUST_FREE);
		if (response == NULL)
			free(body);
	} else {
		/* PERSISTENT: MHD only reads the buffer, a constant of
		 * http_route.c; its API takes it without const. */
		response = MHD_create_response_from_buffer(
			answer->length, (void *)(uintptr_t)answer->body, MHD_RESPMEM_PERSISTENT);
	}
	if (response == NULL)
		return NULL;
	/* One answer a connection: no pipelined requests piling answers up
	 * on a reader that does not read. */
	if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, answer->content_type) !=
		    MHD_YES ||
	    MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES ||
	    (answer->allow &&
	     MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, answer->allow) != MHD_YES)) {
		MHD_destroy_response(response);
		return NULL;
	}
	return response;
}

/*
 * The metrics answer, borrowed (the server keeps its reference): the last
 * one while it is younger than it took to make, else a new one. Requests
 * that come together share one snapshot and one text: before, each made
 * its own, and 64 connections asking for --all's 9.4 MB at 20,000 rules
 * and reading nothing held 336 MB and kept a scraper waiting 16.9 s behind
 * their snapshots (an attacker's test). A new text beside TEXTS_MAX going
 * out closes the connections reading the oldest; those sharing a text
 * cost nothing, and are never closed for it.
 */
static struct MHD_Response *metrics_response(struct http_server *server,
					     const struct http_answer *answer)
{
	uint64_t now = now_ns(), made, oldest = 0;
	unsigned texts = 0;

	if (server->metrics != NULL && now - server->metrics_at_ns <= server->metrics_took_ns)
		return server->metrics;
	for (uint64_t t = server->texts; t > 0 && t + TEXTS_MAX > server->texts; t--)
		for (unsigned i = 0; i < CONNECTIONS_HARD; i++) {
			const struct http_conn *c = &server->conns[i];

			if (c->used && c->busy && !c->evicted && c->text == t) {
				texts++, oldest = t;
				break;
			}
		}
	for (unsigned i = 0; i < CONNECTIONS_HARD; i++) {
		struct http_conn *c = &server->conns[i];

		/* Older than the TEXTS_MAX - 1 kept, or the oldest of them. */
		if (c->used && c->busy && !c->evicted && c->text &&
		    (c->text + TEXTS_MAX <= server->texts ||
		     (texts >= TEXTS_MAX - 1 && c->text == oldest)))
			evict(c);
	}
	{
		struct MHD_Response *response = response_for(server, answer);

		if (response == NULL)
			return NULL;
		made = now_ns();
		if (server->metrics)
			MHD_destroy_response(server->metrics); /* its connections keep theirs */
		server->metrics = response;
		server->metrics_at_ns = made;
		server->metrics_took_ns = made - now;
		server->texts++;
	}
	return server->metrics;
}

/* Queue `answer` on `connection`. */
static enum MHD_Result answer_with(struct http_server *server, struct MHD_Connection *connection,
				   const struct http_answer *answer)
{
	struct MHD_Response *response =
		answer->metrics ? metrics_response(server, answer) : response_for(server, answer);
	enum MHD_Result ret;

	if (response == NULL)
		return MHD_NO; /* out of memory: MHD closes the connection */
	ret = MHD_queue_response(connection, answer->status, response);
	if (!answer->metrics)
		MHD_destroy_response(response); /* MHD holds its own reference */
	if (ret == MHD_YES) {
		struct http_conn *c = conn_of(connection);

		if (c != NULL) { /* answered: evicted only if nothing waits */
			c->busy = true;
			c->since_ns = now_ns();
			c->text = answer->metrics ? server->texts : 0;
		}
	}
	return ret;
}

/* Whether the request says a body follows its head. */
static bool has_body(struct MHD_Connection *connection)
{
	const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (length != NULL && strspn(length, "0") != strlen(length)) ||
	       MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

static enum MHD_Result answer_request(void *cls, struct MHD_Connection *connection, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **request_state)
{
	static int head_seen; /* its address marks a request whose head MHD gave us */
	struct http_answer answer;

	(void)version;
	(void)upload_data;
	http_route(method, url, &answer);
	/*
	 * MHD calls once on the head, then once per piece of body, then once
	 * more. A refusal goes at the first call: its body, if any, is never
	 * read (MHD closes the connection after the answer). The metrics go at
	 * the last, unless a body follows: then at the first too.
	 */
	if (*request_state == NULL) {
		*request_state = &head_seen;
		/* A body, trickled, would keep the connection for good, its
		 * request never whole: a GET with one is answered at once and
		 * its body left unread (MHD closes the connection). */
		return answer.metrics && !has_body(connection)
			       ? MHD_YES
			       : answer_with(cls, connection, &answer);
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	return answer_with(cls, connection, &answer);
}

/* Never runs: SIGINT and SIGTERM are blocked and taken by sigwait(). It is
 * installed so that a signal ignored by whoever started us (a background
 * job's SIGINT) still ends the server, as it did before. */
static void on_signal(int sig)
{
	(void)sig;
}

int http_serve(struct flowstat *fs, const char *address)
{
	struct http_server server = {.fs = fs, .lock = PTHREAD_MUTEX_INITIALIZER};
	struct sigaction sa = {.sa_handler = on_signal};
	struct MHD_Daemon *daemon;
	sigset_t stop, old;
	int fd, sig;

	fd = listen_on(address);
	if (fd < 0)
		return 2;
	/* The metrics carry no rates: each scrape keeps counts for the next
	 * only when the order needs them. */
	fs->last = fs->sort != COL_PPS && fs->sort != COL_BPS;
	/* Blocked before MHD starts its thread, which inherits the mask: the
	 * signals are left pending for sigwait() below, in this thread. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	/* MHD owns `fd` from here: MHD_stop_daemon() closes it. */
	daemon = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD, 0, NULL, NULL, answer_request, &server,
		MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)CONNECTION_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)CONNECTION_IDLE_S, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)CONNECTIONS_HARD, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
		&server, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &server, MHD_OPTION_END);
	if (daemon == NULL) {
		fprintf(stderr, "flowstat: --listen %s: the HTTP server did not start\n", address);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return 2;
	}
	fprintf(stderr, "flowstat: serving http://%s/metrics\n", address);
	while (sigwait(&stop, &sig) != 0)
		;
	/* Joins MHD's thread, closes every connection and the listen socket:
	 * after it, nothing else touches the snapshots. */
	MHD_stop_daemon(daemon);
	if (server.metrics)
		MHD_destroy_response(server.metrics);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	snapshot_free(&server.snaps[0]);
	snapshot_free(&server.snaps[1]);
	pthread_mutex_destroy(&server.lock);
	return 0;
}
