/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Batch mode: one command per line from a file or stdin. create and
 * destroy go through the asynchronous API with up to `depth` requests in
 * flight; any other command first waits for those (so a query or a flush
 * sees every rule above it) and runs synchronously. Completions arrive in
 * submission order; a failed one is reported with its line, re-parsed for
 * the caret. A progress bar is drawn on stderr when it is a terminal.
 */
#include <bsd/libutil.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/clock.h"
#include "tools/flowctl/flowctl.h"

#define POLL_MAX     64
#define FAILED_SHOWN 20 /* failing line numbers listed in the summary */
#define HANDLE_BITS  6	/* user_data: line << 6 | rule id index (GRAMMAR_DESTROY_MAX) */
_Static_assert(GRAMMAR_DESTROY_MAX <= 1 << HANDLE_BITS, "destroy ids fit in user_data");

struct line {
	char *text;
	unsigned number; /* 1-based, in the input */
	uint8_t verb;	 /* enum grammar_verb, once parsed */
	uint8_t pending; /* completions still to come */
	bool failed;
};

struct batch {
	struct flowctl *f;
	struct mpf_client *client;
	struct line *lines;
	size_t count, cap;
	unsigned commands; /* lines that hold a command */
	unsigned done, failed;
	bool usage_error, stop;
	unsigned inflight;
	unsigned unanswered;		/* in flight when the primary went: done or not */
	struct grammar_command *report; /* re-parsed lines for carets */
	/* progress */
	bool progress;
	uint64_t start_ns, drawn_ns;
};

static bool is_command(const char *s)
{
	s += strspn(s, " \t\r\n");
	return *s != '\0' && *s != '#';
}

static int read_lines(struct batch *b, FILE *in, const char *name)
{
	char *text = NULL;
	size_t size = 0;
	ssize_t n;
	unsigned number = 0;

	while ((n = getline(&text, &size, in)) >= 0) {
		const char *nul = memchr(text, '\0', (size_t)n);

		number++;
		/* Not text: a NUL would end the line early, and every line of
		 * a UTF-16 file after its first would read as blank. Nothing
		 * is run rather than what a reader of the file would not see. */
		if (nul) {
			fprintf(stderr,
				"flowctl: %s: line %u: a NUL byte at column %zu: not a text file "
				"(UTF-16? convert it to UTF-8); nothing was run\n",
				name, number, (size_t)(nul - text) + 1);
			b->usage_error = true;
			free(text);
			return -EINVAL;
		}
		if (!is_command(text))
			continue;
		if (b->count == b->cap) {
			size_t cap = b->cap ? 2 * b->cap : 1024;
			struct line *grown = realloc(b->lines, cap * sizeof(*grown));

			if (grown == NULL)
				break;
			b->lines = grown;
			b->cap = cap;
		}
		b->lines[b->count++] = (struct line){.text = strdup(text), .number = number};
		if (b->lines[b->count - 1].text == NULL)
			break;
	}
	free(text);
	if (ferror(in) || !feof(in)) {
		fprintf(stderr, "flowctl: reading %s: %s\n", name,
			ferror(in) ? strerror(errno) : "out of memory");
		return -EIO;
	}
	b->commands = (unsigned)b->count;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Progress                                                                 */
/* ------------------------------------------------------------------------ */

static void rate_text(char *buf, size_t size, double per_second)
{
	if (humanize_number(buf, size, (int64_t)per_second, "/s", HN_AUTOSCALE,
			    HN_DECIMAL | HN_NOSPACE | HN_DIVISOR_1000) < 0)
		snprintf(buf, size, "?/s");
}

static void draw(struct batch *b, bool final)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	double seconds = (double)(now - b->start_ns) / 1e9;
	double rate = seconds > 0 ? b->done / seconds : 0;
	unsigned width = 30,
		 filled = b->commands ? (unsigned)((uint64_t)width * b->done / b->commands) : width;
	char bar[64], speed[16];
	unsigned eta = rate > 0 ? (unsigned)((b->commands - b->done) / rate) : 0;

	if (!b->progress || (!final && now - b->drawn_ns < 100000000u))
		return;
	b->drawn_ns = now;
	for (unsigned i = 0; i < width; i++)
		bar[i] = i < filled ? '#' : ' ';
	bar[width] = '\0';
	rate_text(speed, sizeof(speed), rate);
	fprintf(stderr, "\r[%s] %u/%u %3u%% %8s ETA %u:%02u\033[K", bar, b->done, b->commands,
		b->commands ? (unsigned)(100ull * b->done / b->commands) : 100u, speed, eta / 60,
		eta % 60);
	if (final)
		fprintf(stderr, "\r\033[K");
	fflush(stderr);
}

/* ------------------------------------------------------------------------ */
/* Completions                                                              */
/* ------------------------------------------------------------------------ */

static void line_failed(struct batch *b, struct line *l)
{
	if (!l->failed) {
		l->failed = true;
		b->failed++;
	}
	if (b->f->stop_on_error)
		b->stop = true;
}

static void completed(struct batch *b, const struct mpf_completion *c)
{
	size_t index = (size_t)(c->user_data >> HANDLE_BITS);
	unsigned k = (unsigned)(c->user_data & ((1u << HANDLE_BITS) - 1));
	struct line *l = &b->lines[index];
	struct grammar_error syntax;

	b->inflight--;
	if (c->status == 0) {
		if (l->verb == GRAMMAR_CREATE && b->f->json) {
			flowctl_report_rule(b->f, l->number, GRAMMAR_CREATE, c->handle,
					    flowctl_number(b->client, c->handle), true);
		} else if (l->verb == GRAMMAR_DESTROY && b->f->json &&
			   grammar_parse(l->text, b->report, &syntax) == 0) {
			/* Named as the line named it: a number, or a handle. */
			uint64_t id = b->report->handles[k];

			flowctl_report_rule(b->f, l->number, GRAMMAR_DESTROY,
					    flowctl_id_is_number(id) ? 0 : id,
					    flowctl_id_is_number(id) ? (int64_t)id : -1, true);
		}
	} else {
		/* The line parsed before it was sent: it parses again. */
		grammar_parse(l->text, b->report, &syntax);
		flowctl_report_refusal(b->f, l->text, l->number, b->report,
				       b->report->verb == GRAMMAR_DESTROY
					       ? b->report->handle_tokens[k]
					       : grammar_error_token(b->report, &c->error),
				       c->status, &c->error);
		line_failed(b, l);
	}
	if (--l->pending == 0)
		b->done++;
}

/* Take completions until at most `keep` requests are in flight. */
static int collect(struct batch *b, unsigned keep)
{
	struct mpf_completion c[POLL_MAX];

	while (b->inflight > keep) {
		int n = mpf_poll(b->client, c, POLL_MAX, -1);

		if (n < 0) {
			fprintf(stderr,
				"flowctl: the primary went away with %u requests in flight\n",
				b->inflight);
			b->unanswered = b->inflight;
			return n;
		}
		if (n == 0) {
			fprintf(stderr, "flowctl: no answer from the primary for %u requests\n",
				b->inflight);
			b->unanswered = b->inflight;
			return -ETIMEDOUT;
		}
		for (int i = 0; i < n; i++)
			completed(b, &c[i]);
		draw(b, false);
	}
	return 0;
}

/* Submit one request (retrying while the ring is full). */
static int submit(struct batch *b, const struct grammar_command *cmd, size_t index, unsigned k,
		  struct mpf_flow_error *error)
{
	uint64_t user_data = (uint64_t)index << HANDLE_BITS | k;
	int err;

	for (;;) {
		err = cmd->verb == GRAMMAR_CREATE
			      ? mpf_submit_create(b->client, cmd->port, &cmd->rule.attr,
						  cmd->rule.pattern, cmd->rule.actions,
						  MPF_FLOW_PERSISTENT, user_data, error)
			      : mpf_submit_destroy(b->client, cmd->port, cmd->handles[k], user_data,
						   error);
		if (err != -EAGAIN)
			break;
		err = collect(b, b->inflight ? b->inflight - 1 : 0);
		if (err)
			return err;
	}
	if (!err)
		b->inflight++;
	return err;
}

/* One line: parse, then submit it or run it. -errno only when the batch
 * cannot go on (the primary is gone). */
static int line(struct batch *b, size_t index)
{
	struct flowctl *f = b->f;
	struct grammar_command *cmd = f->cmd;
	struct line *l = &b->lines[index];
	struct mpf_flow_error error = {.cause = -1};
	struct grammar_error syntax;
	unsigned total;
	int err;

	if (grammar_parse(l->text, cmd, &syntax) != 0) {
		flowctl_report_syntax(f, l->text, l->number, cmd, &syntax);
		b->usage_error = true;
		line_failed(b, l);
		b->done++;
		return 0;
	}
	if (cmd->verb != GRAMMAR_CREATE && cmd->verb != GRAMMAR_DESTROY) {
		err = collect(b, 0);
		if (err || b->stop)
			return err;
		if (flowctl_run(f, cmd, l->text, l->number) != 0)
			line_failed(b, l);
		b->done++;
		return 0;
	}
	if (cmd->verb == GRAMMAR_DESTROY) {
		uint64_t handles[GRAMMAR_DESTROY_MAX];
		unsigned bad = 0;

		/* testpmd's numbers: what is in flight lands first, then the
		 * directory says whose they are. */
		for (unsigned k = 0; k < cmd->handle_count; k++)
			if (flowctl_id_is_number(cmd->handles[k])) {
				err = collect(b, 0);
				if (err || b->stop)
					return err;
				break;
			}
		err = flowctl_resolve_ids(b->client, cmd, handles, &bad, &error);
		if (err) {
			flowctl_report_refusal(f, l->text, l->number, cmd, cmd->handle_tokens[bad],
					       err, &error);
			line_failed(b, l);
			b->done++;
			return 0;
		}
		memcpy(cmd->handles, handles, cmd->handle_count * sizeof(handles[0]));
	}
	l->verb = (uint8_t)cmd->verb;
	total = cmd->verb == GRAMMAR_CREATE ? 1 : cmd->handle_count;
	l->pending = (uint8_t)total;
	for (unsigned k = 0; k < total; k++) {
		err = collect(b, f->depth - 1);
		if (!err && b->stop) {
			/* What it collected failed (--stop-on-error): nothing
			 * more is sent; the line counts once what it sent
			 * completes, if it sent anything. */
			l->pending = (uint8_t)(l->pending - (total - k));
			if (k > 0 && l->pending == 0)
				b->done++;
			return 0;
		}
		if (!err)
			err = submit(b, cmd, index, k, &error);
		if (err == -ESHUTDOWN || err == -ETIMEDOUT)
			return err;
		if (err) {
			/* Refused before it was sent (the library's own check). */
			flowctl_report_refusal(f, l->text, l->number, cmd,
					       cmd->verb == GRAMMAR_DESTROY
						       ? cmd->handle_tokens[k]
						       : grammar_error_token(cmd, &error),
					       err, &error);
			line_failed(b, l);
			/* The completions of ids before k still come (some may
			 * have come already). */
			l->pending = (uint8_t)(l->pending - (total - k));
			if (l->pending == 0)
				b->done++;
			return 0;
		}
	}
	return 0;
}

static void summary(const struct batch *b, double seconds)
{
	char speed[16];
	unsigned shown = 0;

	rate_text(speed, sizeof(speed), seconds > 0 ? b->done / seconds : 0);
	if (b->f->json) {
		printf("{\"summary\":{\"commands\":%u,\"done\":%u,\"ok\":%u,\"failed\":%u,"
		       "\"unanswered\":%u,\"seconds\":%.3f,\"failed_lines\":[",
		       b->commands, b->done, b->done - b->failed, b->failed, b->unanswered,
		       seconds);
		for (size_t i = 0; i < b->count; i++)
			if (b->lines[i].failed)
				printf("%s%u", shown++ ? "," : "", b->lines[i].number);
		printf("]}}\n");
		return;
	}
	fprintf(stderr, "flowctl: %u of %u commands in %.3f s (%s): %u ok, %u failed", b->done,
		b->commands, seconds, speed, b->done - b->failed, b->failed);
	if (b->unanswered)
		fprintf(stderr, ", %u unanswered (done or not: the primary went)", b->unanswered);
	for (size_t i = 0; i < b->count && shown < FAILED_SHOWN; i++)
		if (b->lines[i].failed)
			fprintf(stderr, "%s%u", shown++ ? ", " : " (lines ", b->lines[i].number);
	fprintf(stderr, "%s%s\n", b->failed > FAILED_SHOWN ? ", ..." : "", shown ? ")" : "");
}

int flowctl_batch(struct flowctl *f, FILE *in, const char *name)
{
	struct batch b = {.f = f, .progress = isatty(STDERR_FILENO) == 1};
	int status, err = read_lines(&b, in, name);

	if (err) { /* nothing was run: the reason is on stderr, no summary */
		for (size_t i = 0; i < b.count; i++)
			free(b.lines[i].text);
		free(b.lines);
		return b.usage_error ? FLOWCTL_USAGE : FLOWCTL_REFUSED;
	}
	b.report = malloc(sizeof(*b.report));
	if (b.report == NULL)
		err = -ENOMEM;
	if (!err && b.count)
		err = flowctl_client(f, &b.client);
	b.start_ns = clock_ns(CLOCK_MONOTONIC);
	for (size_t i = 0; !err && i < b.count && !b.stop; i++) {
		err = line(&b, i);
		draw(&b, false);
	}
	if (!err)
		err = collect(&b, 0);
	if (err && !b.unanswered) /* a submit that failed: what went before */
		b.unanswered = b.inflight;
	draw(&b, true);
	summary(&b, (double)(clock_ns(CLOCK_MONOTONIC) - b.start_ns) / 1e9);
	status = b.usage_error				  ? FLOWCTL_USAGE
		 : err || b.failed || b.done < b.commands ? FLOWCTL_REFUSED
							  : FLOWCTL_OK;
	for (size_t i = 0; i < b.count; i++)
		free(b.lines[i].text);
	free(b.lines);
	free(b.report);
	return status;
}
