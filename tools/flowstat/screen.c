/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The live view: the header and one line per rule, redrawn every interval
 * on the terminal's alternate screen; keys change the sort. The terminal
 * is put back as it was on every way out (q, Ctrl-C, SIGTERM, SIGHUP).
 *
 * Keys: q quit; < > sort by the previous / next column; r reverse the
 * order; space redraw now.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "shm/clock.h"
#include "tools/flowstat/flowstat.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void draw(const struct flowstat *fs, const struct snapshot *s)
{
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	struct shown *view;
	size_t count, rows;
	unsigned fixed = 110; /* the columns before RULE, as output_row writes them */

	ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
	/* The screen shows what fits: no need to order the rest. */
	view = snapshot_view(fs, s, ws.ws_row > 4u ? ws.ws_row : 1u, true, &count);
	/* Home, clear; each line cut at the width so nothing wraps. */
	fputs("\033[H\033[2J", stdout);
	output_header(fs, s, stdout);
	if (fs->ports_view) {
		output_ports(s, stdout, ws.ws_row > 4 ? ws.ws_row - 4u : 0);
		printf("\033[%u;1Hq quit", ws.ws_row ? ws.ws_row : 24u);
		fflush(stdout);
		free(view);
		return;
	}
	output_port_lines(s, stdout);
	output_columns(fs, stdout);
	rows = ws.ws_row > 4u + s->n_ports ? ws.ws_row - 4u - s->n_ports : 0;
	for (size_t i = 0; view && i < count && i < rows; i++)
		output_row(&view[i], clock_ns(CLOCK_REALTIME), stdout,
			   ws.ws_col > fixed ? (unsigned)(ws.ws_col - fixed) : 0);
	if (s->count > rows)
		printf("... %zu more\n", s->count - rows);
	printf("\033[%u;1Hq quit  < > sort column  r reverse", ws.ws_row ? ws.ws_row : 24u);
	fflush(stdout);
	free(view);
}

/* Keys waiting on stdin; false when it is time to quit. */
static bool keys(struct flowstat *fs)
{
	char buf[16];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	for (ssize_t i = 0; i < n; i++) {
		switch (buf[i]) {
		case 'q':
		case 'Q':
			return false;
		case '>':
			fs->sort = (enum column)((fs->sort + 1) % COLUMNS);
			break;
		case '<':
			fs->sort = (enum column)((fs->sort + COLUMNS - 1) % COLUMNS);
			break;
		case 'r':
			fs->reverse = !fs->reverse;
			break;
		default:
			break;
		}
	}
	return n != 0; /* end of input: quit */
}

int screen_run(struct flowstat *fs)
{
	struct snapshot snaps[2] = {{0}};
	struct termios saved, raw;
	bool tty = tcgetattr(STDIN_FILENO, &saved) == 0;
	struct sigaction sa = {.sa_handler = on_signal};
	unsigned current = 0;
	int64_t next_ms = 0;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (tty) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	fputs("\033[?1049h\033[?25l", stdout); /* alternate screen, no cursor */
	while (!stop) {
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		int64_t now_ms = (int64_t)(clock_ns(CLOCK_MONOTONIC) / 1000000u);
		if (now_ms >= next_ms) {
			struct winsize ws = {.ws_row = 24};

			/* A snapshot keeps the rows the screen has room for. */
			ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
			fs->keep = ws.ws_row > 4u ? ws.ws_row : 1u;
			current ^= 1;
			snapshot_take(fs, &snaps[current ^ 1], &snaps[current]);
			next_ms = now_ms + fs->interval_ms;
			draw(fs, &snaps[current]);
		}
		if (poll(&pfd, 1, (int)(next_ms - now_ms)) > 0) {
			if (!keys(fs))
				break;
			/* Another order: the snapshot keeps other rows, chosen
			 * again with the rates of the last interval (not those
			 * of the last moments). */
			fs->rerank = true;
			snapshot_take(fs, &snaps[current ^ 1], &snaps[current]);
			draw(fs, &snaps[current]);
		}
	}
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	snapshot_free(&snaps[0]);
	snapshot_free(&snaps[1]);
	return 0;
}
