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
#include <syslog.h>
#include <time.h>

#include "server/server.h"

static bool to_stderr = true;
static int max_level = LOG_LEVEL_INFO;

void log_init(bool foreground, int level)
{
	to_stderr = foreground;
	max_level = level;
	if (!foreground)
		openlog(SERVER_NAME, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void emit(int priority, const char *suffix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void emit(int priority, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024];

	if (max_level < LOG_LEVEL_WARN && priority > LOG_CRIT)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (to_stderr) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		fprintf(stderr, "%02d:%02d:%02d.%03ld %s: %s%s%s\n", tm.tm_hour, tm.tm_min,
			tm.tm_sec, ts.tv_nsec / 1000000, SERVER_NAME, line, suffix ? ": " : "",
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
