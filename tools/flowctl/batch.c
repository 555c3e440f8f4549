/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Batch mode: one command per line from a file or stdin, read as it runs
 * (a pipe's lines run as they come; memory holds the lines in flight, not
 * the input). create and destroy go through the asynchronous API with up
 * to `depth` requests in flight; any other command first waits for those
 * (so a query or a flush sees every rule above it) and runs synchronously.
 * Completions arrive in submission order; a failed one is reported with its
 * line, re-parsed for the caret. A regular file is read once before it
 * runs: a file that is not text is refused whole, and the progress bar
 * (drawn on stderr when it is a terminal) knows the total. When a pipe
 * pauses, what it sent is completed and reported before flowctl waits.
 */
#include <bsd/libutil.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	FILE *in;
	const char *name;
	char *buf; /* get_line()'s */
	size_t buf_size;
	unsigned number; /* the input's lines read */
	/* The lines read, by their index (a command's count from 0), kept in
	 * a window of `window` slots: index % window. */
	struct line *lines;
	size_t window, read;
	unsigned commands; /* in the input (known), or read so far */
	bool total_known;
	unsigned *failed_lines; /* their numbers, in order */
	size_t failed_cap;
	unsigned stop_line; /* the line --stop-on-error or a NUL stopped at */
	bool input_failed;  /* reading it failed (said on stderr) */
	unsigned done, failed;
	bool usage_error, stop;
	unsigned inflight;
	unsigned destroys_inflight; /* of `inflight`: a create waits for them */
	/* Their handles, in the order sent (completions come in that order):
	 * a ring of `depth` from dying[dying_head]. */
	uint64_t *dying;
	unsigned dying_head;
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

/* What a line may be before it is refused as it is read: far past any
 * command (GRAMMAR_LINE_MAX), whose parser refuses a line between the two
 * with its length; only input that is not a command file is longer. */
#define LINE_BYTES_MAX (1u << 20)

/*
 * One line of the input into b->buf, its newline kept: its length, 0 at
 * the end of the input, -EINVAL at a NUL byte (its column into *nul_at),
 * -EMSGSIZE past LINE_BYTES_MAX bytes, or -errno. Both refusals come as
 * the byte is read: /dev/zero or a line without end is not held first.
 */
static ssize_t get_line(struct batch *b, size_t *nul_at)
{
	size_t n = 0;
	int ch = EOF;

	while ((ch = getc_unlocked(b->in)) != EOF) {
		if (ch == '\0') {
			*nul_at = n + 1;
			return -EINVAL;
		}
		if (n == LINE_BYTES_MAX && ch != '\n')
			return -EMSGSIZE;
		if (n + 2 > b->buf_size) {
			size_t size = b->buf_size ? 2 * b->buf_size : 256;
			char *grown = realloc(b->buf, size);

			if (grown == NULL)
				return -ENOMEM;
			b->buf = grown;
			b->buf_size = size;
		}
		b->buf[n++] = (char)ch;
		if (ch == '\n')
			break;
	}
	if (ch == EOF && ferror(b->in))
		return errno ? -errno : -EIO;
	if (n)
		b->buf[n] = '\0';
	return (ssize_t)n;
}

/*
 * The next line of the input that holds a command, in b->buf: 1, 0 at its
 * end, or -errno. Not text (a NUL would end the line early, and every line
 * of a UTF-16 file after its first would read as blank), or a line longer
 * than any command: -EINVAL, said on stderr; `whole` tells whether nothing
 * of the input was run.
 */
static int next_command(struct batch *b, bool whole)
{
	const char *after = whole ? "nothing was run" : "no line from it on was run";
	size_t column = 0;
	ssize_t n;

	while ((n = get_line(b, &column)) > 0) {
		b->number++;
		if (is_command(b->buf))
			return 1;
	}
	if (n == 0)
		return 0;
	b->number++;
	if (n == -EINVAL || n == -EMSGSIZE) {
		if (n == -EINVAL)
			fprintf(stderr,
				"flowctl: %s: line %u: a NUL byte at column %zu: not a text file "
				"(UTF-16? convert it to UTF-8); %s\n",
				b->name, b->number, column, after);
		else
			fprintf(stderr,
				"flowctl: %s: line %u: longer than %u bytes: not a command; %s\n",
				b->name, b->number, LINE_BYTES_MAX, after);
		b->usage_error = true;
		return -EINVAL;
	}
	fprintf(stderr, "flowctl: reading %s: line %u: %s\n", b->name, b->number,
		strerror((int)-n));
	return -EIO;
}

/* A regular file, read once before it runs: its commands counted, and
 * refused whole if it is not text. Then read again from its start. */
static int prescan(struct batch *b)
{
	struct stat st;
	off_t start = ftello(b->in);
	int r;

	if (fstat(fileno(b->in), &st) != 0 || !S_ISREG(st.st_mode) || start < 0)
		return 0;
	while ((r = next_command(b, true)) == 1)
		b->commands++;
	if (r < 0)
		return r;
	if (fseeko(b->in, start, SEEK_SET) != 0) {
		fprintf(stderr, "flowctl: reading %s: %s\n", b->name, strerror(errno));
		return -EIO;
	}
	b->number = 0;
	b->total_known = true;
	return 0;
}

static int collect(struct batch *b, unsigned keep);

/* Nothing to read now: stdio holds no line aside (glibc's FILE read
 * pointers, as gnulib's freadahead reads them) and the descriptor has
 * nothing either. */
static bool input_idle(const struct batch *b)
{
	struct pollfd pfd = {.fd = fileno(b->in), .events = POLLIN};

	return b->in->_IO_read_ptr >= b->in->_IO_read_end && poll(&pfd, 1, 0) == 0;
}

/*
 * Read the next command into its slot of the window (`*index`), once the
 * completions of the line that held the slot are in: 1; 0 at the end of
 * the input, after a stop, or when the input failed (said on stderr,
 * b->input_failed); -errno when the primary went.
 */
static int read_line(struct batch *b, size_t *index)
{
	struct line *l = &b->lines[b->read % b->window];
	unsigned keep = b->inflight;
	int r;

	if (b->client && !b->total_known) {
		/* A pipe is not read past a line that failed, as far as the
		 * depth lets flowctl know it (all of it at --depth 1). */
		if (b->f->stop_on_error)
			keep = b->f->depth - 1;
		/* A pipe that pauses (a feeder waiting for its next rules):
		 * what it sent so far is done and reported first. */
		if (input_idle(b))
			keep = 0;
	}
	/* The slot's line is the oldest with requests in flight: its
	 * completions are the next `pending` to come. */
	if (l->pending && keep > b->inflight - l->pending)
		keep = b->inflight - l->pending;
	r = collect(b, keep);
	if (keep == 0)
		fflush(stdout);
	if (r)
		return r;
	if (b->stop)
		return 0;
	r = next_command(b, false);
	if (r == -EINVAL) { /* not text: the lines from it on are not run */
		b->stop = true;
		b->stop_line = b->number;
	}
	if (r == -EIO)
		b->input_failed = true;
	if (r <= 0)
		return 0;
	free(l->text);
	*l = (struct line){.text = strdup(b->buf), .number = b->number};
	if (l->text == NULL) {
		fprintf(stderr, "flowctl: reading %s: out of memory\n", b->name);
		b->input_failed = true;
		return 0;
	}
	/* A file that grew since it was counted: its total grows too. */
	if (!b->total_known || b->read >= b->commands)
		b->commands++;
	*index = b->read++;
	return 1;
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
	rate_text(speed, sizeof(speed), rate);
	if (!b->total_known) { /* a pipe: no end to measure against */
		fprintf(stderr, "\r%u done %8s\033[K", b->done, speed);
		if (final)
			fprintf(stderr, "\r\033[K");
		fflush(stderr);
		return;
	}
	for (unsigned i = 0; i < width; i++)
		bar[i] = i < filled ? '#' : ' ';
	bar[width] = '\0';
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
		if (b->failed == b->failed_cap) {
			size_t cap = b->failed_cap ? 2 * b->failed_cap : 64;
			unsigned *grown = realloc(b->failed_lines, cap * sizeof(*grown));

			if (grown) {
				b->failed_lines = grown;
				b->failed_cap = cap;
			}
		}
		/* In order: a refusal from the primary comes after the
		 * syntax errors of the lines read meanwhile. */
		if (b->failed < b->failed_cap) {
			size_t at = b->failed;

			for (; at > 0 && b->failed_lines[at - 1] > l->number; at--)
				b->failed_lines[at] = b->failed_lines[at - 1];
			b->failed_lines[at] = l->number;
		}
		l->failed = true;
		b->failed++;
	}
	if (b->f->stop_on_error && !b->stop) {
		b->stop = true;
		b->stop_line = l->number;
	}
}

static void completed(struct batch *b, const struct mpf_completion *c)
{
	size_t index = (size_t)(c->user_data >> HANDLE_BITS);
	unsigned k = (unsigned)(c->user_data & ((1u << HANDLE_BITS) - 1));
	struct line *l = &b->lines[index % b->window];
	struct grammar_error syntax;

	b->inflight--;
	if (l->verb == GRAMMAR_DESTROY) {
		b->destroys_inflight--;
		b->dying_head = (b->dying_head + 1) % b->f->depth;
	}
	if (c->status == 0) {
		if (l->verb == GRAMMAR_CREATE && (b->f->json || b->f->numbers != NULL)) {
			/* Its number: JSON says it, the index learns it. */
			int64_t number = flowctl_number(b->f, b->client, c->handle);

			if (b->f->json)
				flowctl_report_rule(b->f, l->number, GRAMMAR_CREATE, c->handle,
						    number, true);
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
	if (!err && cmd->verb == GRAMMAR_DESTROY)
		b->dying[(b->dying_head + b->destroys_inflight++) % b->f->depth] = cmd->handles[k];
	b->inflight += !err;
	return err;
}

/* Whether a destroy of `handle` is in flight. */
static bool dying(const struct batch *b, uint64_t handle)
{
	for (unsigned i = 0; i < b->destroys_inflight; i++)
		if (b->dying[(b->dying_head + i) % b->f->depth] == handle)
			return true;
	return false;
}

/* The handles of a destroy's ids, as the script run line by line finds
 * them: a create in flight has no number yet, and a rule whose destroy is
 * in flight keeps its number until that lands (then it names no rule), so
 * either lands first; other destroys stay in flight. *refused: 0, or
 * -errno with the id at fault in *bad. Returns 0, or -errno when the batch
 * cannot go on (as collect()). */
static int resolve(struct batch *b, const struct grammar_command *cmd, uint64_t handles[],
		   unsigned *bad, struct mpf_flow_error *error, int *refused)
{
	bool numbers = false, wait = b->inflight > b->destroys_inflight;

	for (unsigned k = 0; k < cmd->handle_count; k++)
		numbers = numbers || flowctl_id_is_number(cmd->handles[k]);
	for (;;) {
		bool again = false;
		int err = numbers && wait ? collect(b, 0) : 0;

		if (err || b->stop)
			return err;
		*refused = flowctl_resolve_ids(b->f, b->client, cmd, handles, bad, error);
		for (unsigned k = 0; k < cmd->handle_count && !*refused; k++)
			again = again ||
				(flowctl_id_is_number(cmd->handles[k]) && dying(b, handles[k]));
		if (!again)
			return 0;
		wait = true; /* then nothing is in flight: once more at most */
	}
}

/* One line: parse, then submit it or run it. -errno only when the batch
 * cannot go on (the primary is gone). */
static int line(struct batch *b, size_t index)
{
	struct flowctl *f = b->f;
	struct grammar_command *cmd = f->cmd;
	struct line *l = &b->lines[index % b->window];
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
		int refused = 0;

		err = resolve(b, cmd, handles, &bad, &error, &refused);
		if (err || b->stop)
			return err;
		if (refused) {
			err = refused;
			flowctl_report_refusal(f, l->text, l->number, cmd, cmd->handle_tokens[bad],
					       err, &error);
			line_failed(b, l);
			b->done++;
			return 0;
		}
		memcpy(cmd->handles, handles, cmd->handle_count * sizeof(handles[0]));
	}
	/* testpmd's numbers again: a create takes the highest live id + 1,
	 * and a rule whose destroy is in flight is live until its record is
	 * on disk. A create after a destroy waits for it, to take the
	 * number it takes when the script runs line by line. */
	if (cmd->verb == GRAMMAR_CREATE && b->destroys_inflight) {
		err = collect(b, 0);
		if (err || b->stop)
			return err;
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

	/* Neither done nor sent: the session failed, or the batch stopped. */
	unsigned not_run =
		b->commands > b->done + b->unanswered ? b->commands - b->done - b->unanswered : 0;

	rate_text(speed, sizeof(speed), seconds > 0 ? b->done / seconds : 0);
	if (b->f->json) {
		printf("{\"summary\":{\"commands\":%u,\"done\":%u,\"ok\":%u,\"failed\":%u,"
		       "\"unanswered\":%u,\"not_run\":%u,\"seconds\":%.3f,\"failed_lines\":[",
		       b->commands, b->done, b->done - b->failed, b->failed, b->unanswered, not_run,
		       seconds);
		for (size_t i = 0; i < b->failed && i < b->failed_cap; i++)
			printf("%s%u", i ? "," : "", b->failed_lines[i]);
		printf("]");
		if (b->stop)
			printf(",\"stopped_at_line\":%u", b->stop_line);
		printf("}}\n");
		return;
	}
	fprintf(stderr, "flowctl: %u of %u commands in %.3f s (%s): %u ok, %u failed", b->done,
		b->commands, seconds, speed, b->done - b->failed, b->failed);
	if (b->unanswered)
		fprintf(stderr, ", %u unanswered (done or not: the primary went)", b->unanswered);
	if (not_run)
		fprintf(stderr, ", %u not run", not_run);
	if (b->stop && !b->total_known)
		fprintf(stderr, ", stopped at line %u: %s not read further", b->stop_line, b->name);
	for (; shown < b->failed && shown < b->failed_cap && shown < FAILED_SHOWN; shown++)
		fprintf(stderr, "%s%u", shown ? ", " : " (lines ", b->failed_lines[shown]);
	fprintf(stderr, "%s%s\n", b->failed > FAILED_SHOWN ? ", ..." : "", shown ? ")" : "");
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; b->lines && i < b->window; i++)
		free(b->lines[i].text);
	free(b->lines);
	free(b->failed_lines);
	free(b->dying);
	free(b->report);
	free(b->buf);
}

int flowctl_batch(struct flowctl *f, FILE *in, const char *name)
{
	struct batch b = {.f = f,
			  .in = in,
			  .name = name,
			  .progress = isatty(STDERR_FILENO) == 1,
			  /* Lines with requests in flight: `depth` at most, and
			   * the one being read. */
			  .window = (size_t)f->depth + 2};
	size_t index = 0;
	int status, err = prescan(&b);

	if (err) { /* nothing was run: the reason is on stderr, no summary */
		batch_free(&b);
		return b.usage_error ? FLOWCTL_USAGE : FLOWCTL_REFUSED;
	}
	b.lines = calloc(b.window, sizeof(*b.lines));
	b.report = malloc(sizeof(*b.report));
	b.dying = calloc(f->depth, sizeof(*b.dying));
	if (b.lines == NULL || b.report == NULL || b.dying == NULL) {
		fprintf(stderr, "flowctl: out of memory\n");
		err = -ENOMEM;
	}
	b.start_ns = clock_ns(CLOCK_MONOTONIC);
	while (!err && (err = read_line(&b, &index)) == 1) {
		err = b.client ? 0 : flowctl_client(f, &b.client);
		if (!err)
			err = line(&b, index);
		draw(&b, false);
	}
	/* What is in flight completes, whatever ended the input. */
	if (!err && b.client)
		err = collect(&b, 0);
	if (err && !b.unanswered) /* a submit that failed: what went before */
		b.unanswered = b.inflight;
	draw(&b, true);
	summary(&b, (double)(clock_ns(CLOCK_MONOTONIC) - b.start_ns) / 1e9);
	status = b.usage_error						    ? FLOWCTL_USAGE
		 : err || b.input_failed || b.failed || b.done < b.commands ? FLOWCTL_REFUSED
									    : FLOWCTL_OK;
	batch_free(&b);
	return status;
}
