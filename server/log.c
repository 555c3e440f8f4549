/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging, relayd-style: one line per event, to stderr in the foreground and
 * to syslog otherwise. fatal() is for the primary's own impossible states,
 * never for what a client sent.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include "server/server.h"

static bool to_stderr = true;
static bool to_journal; /* stderr is systemd's journal: "<N>" prefixes, no time */
static int max_level = LOG_LEVEL_INFO;
static char ident[64] = SERVER_NAME;

/* $JOURNAL_STREAM names stderr's device and inode when systemd connected it
 * to the journal (systemd.exec(5)). */
static bool stderr_is_journal(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(bool foreground, int level, const char *instance)
{
	to_stderr = foreground;
	to_journal = foreground && stderr_is_journal();
	max_level = level;
	if (instance)
		snprintf(ident, sizeof(ident), SERVER_NAME "/%s", instance);
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_reopen(int level)
{
	max_level = level;
	if (!to_stderr) {
		closelog();
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
}

static void emit(int priority, const char *suffix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void emit(int priority, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024];

	if (max_level < LOG_LEVEL_WARN && priority > LOG_CRIT)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (to_journal) {
		fprintf(stderr, "<%d>%s%s%s\n", priority, line, suffix ? ": " : "",
			suffix ? suffix : "");
	} else if (to_stderr) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		fprintf(stderr, "%02d:%02d:%02d.%03ld %s: %s%s%s\n", tm.tm_hour, tm.tm_min,
			tm.tm_sec, ts.tv_nsec / 1000000, ident, line, suffix ? ": " : "",
			suffix ? suffix : "");
	} else {
		syslog(priority, "%s%s%s", line, suffix ? ": " : "", suffix ? suffix : "");
	}
}

void log_warn(const char *fmt, ...)
{
	const char *why = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_WARNING, why, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (max_level < LOG_LEVEL_INFO)
		return;
	va_start(ap, fmt);
	emit(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (max_level < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	emit(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	const char *why = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_CRIT, why, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
