/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The part of --listen's request handling that is ours: which answer a
 * request gets, from its method and its target. libmicrohttpd (http.c)
 * reads, bounds and parses the request; this decides, with no I/O and no
 * state, so that tests/fuzz/fuzz_http.c can drive it with anything.
 */
#ifndef MPFLOW_TOOLS_FLOWSTAT_HTTP_ROUTE_H
#define MPFLOW_TOOLS_FLOWSTAT_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

/* The content type of the Prometheus text exposition format. */
#define HTTP_PROMETHEUS_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct http_answer {
	unsigned status;	  /* 200, 404 or 405 */
	bool metrics;		  /* the body is the Prometheus text of a fresh snapshot */
	const char *content_type; /* never NULL */
	const char *body;	  /* when !metrics: a fixed text of `length` bytes */
	size_t length;
	const char *allow; /* the Allow header of a 405, else NULL */
};

/*
 * The answer to a request with `method` ("GET") for `target` ("/metrics",
 * with or without a "?query", which is ignored): 200 and the metrics for
 * GET /metrics, 405 for any other method, 404 for any other path. Both
 * strings may hold anything (NUL-terminated); `answer` is always filled and
 * points only to constant data.
 */
void http_route(const char *method, const char *target, struct http_answer *answer);

#endif
