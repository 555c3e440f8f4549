/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Which answer a request for --listen gets. The method is looked at first,
 * as before the server was libmicrohttpd's: anything but GET is 405 whatever
 * its path. Only the path is compared; a query ("/metrics?name[]=x", as
 * Prometheus may send) is ignored, since the text is the same for every
 * scraper.
 */
#include <string.h>

#include "tools/flowstat/http_route.h"

#define TEXT_TYPE "text/plain; charset=utf-8"

static const char method_not_allowed[] = "GET only\n";
static const char not_found[] = "see /metrics\n";

void http_route(const char *method, const char *target, struct http_answer *answer)
{
	size_t path = strcspn(target, "?");

	*answer = (struct http_answer){.content_type = TEXT_TYPE};
	if (strcmp(method, "GET") != 0) {
		answer->status = 405;
		answer->body = method_not_allowed;
		answer->length = sizeof(method_not_allowed) - 1;
		answer->allow = "GET";
	} else if (path != strlen("/metrics") || strncmp(target, "/metrics", path) != 0) {
		answer->status = 404;
		answer->body = not_found;
		answer->length = sizeof(not_found) - 1;
	} else {
		answer->status = 200;
		answer->metrics = true;
		answer->content_type = HTTP_PROMETHEUS_TYPE;
	}
}
