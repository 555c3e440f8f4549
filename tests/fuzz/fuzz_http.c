/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the part of flowstat --listen's request handling that
 * is ours (tools/flowstat/http_route.c); libmicrohttpd reads and parses the
 * request before it. The input is a request line, "METHOD TARGET[ VERSION]":
 * the method up to the first space, the target up to the next. Bugs it
 * catches: a read past either string (ASan), and an answer other than the
 * one the contract gives — 200 and the metrics exactly for GET and the path
 * /metrics, 405 with Allow: GET for any other method, 404 otherwise, every
 * fixed body as long as it says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/flowstat/http_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUEST_LINE_MAX 8192

static unsigned expected_status(const char *method, const char *target)
{
	if (strcmp(method, "GET") != 0)
		return 405;
	if (strcmp(target, "/metrics") == 0 || strncmp(target, "/metrics?", 9) == 0)
		return 200;
	return 404;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char line[REQUEST_LINE_MAX + 1];
	struct http_answer answer;
	char *method = line, *target;
	size_t space;

	if (size > REQUEST_LINE_MAX)
		size = REQUEST_LINE_MAX;
	memcpy(line, data, size);
	line[size] = '\0';
	/* Exactly as long as the strings: no slack for a read past them. */
	space = strcspn(line, " ");
	target = line[space] ? line + space + 1 : line + space;
	line[space] = '\0';
	target[strcspn(target, " ")] = '\0';

	http_route(method, target, &answer);
	if (answer.status != expected_status(method, target) || answer.content_type == NULL)
		abort();
	if (answer.metrics != (answer.status == 200))
		abort();
	if ((answer.allow != NULL) != (answer.status == 405) ||
	    (answer.allow && strcmp(answer.allow, "GET") != 0))
		abort();
	if (answer.metrics) {
		if (strcmp(answer.content_type, HTTP_PROMETHEUS_TYPE) != 0)
			abort();
	} else if (answer.body == NULL || answer.length == 0 ||
		   strlen(answer.body) != answer.length) {
		abort();
	}
	return 0;
}
