/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes a seed corpus for fuzz_http: request lines as scrapers, browsers
 * and scanners send them, one per file, each answered differently.
 * usage: make-http-corpus DIR
 */
#include <stdio.h>
#include <string.h>

static const char *const requests[] = {
	"GET /metrics HTTP/1.1",
	"GET /metrics HTTP/1.0",
	"GET /metrics?name[]=mpflow_up HTTP/1.1",
	"GET /metrics? HTTP/1.1",
	"GET / HTTP/1.1",
	"GET /metrics/ HTTP/1.1",
	"GET //metrics HTTP/1.1",
	"GET /metricsx HTTP/1.1",
	"GET /metric HTTP/1.1",
	"GET * HTTP/1.1",
	"GET http://127.0.0.1:9469/metrics HTTP/1.1",
	"HEAD /metrics HTTP/1.1",
	"POST /metrics HTTP/1.1",
	"OPTIONS * HTTP/1.1",
	"get /metrics HTTP/1.1",
	"GET",
	"",
};

int main(int argc, char **argv)
{
	char path[4096];
	unsigned seeds = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		FILE *out;

		snprintf(path, sizeof(path), "%s/request-%zu", argv[1], i);
		out = fopen(path, "w");
		if (out == NULL ||
		    fwrite(requests[i], 1, strlen(requests[i]), out) != strlen(requests[i])) {
			perror(path);
			return 1;
		}
		fclose(out);
		seeds++;
	}
	printf("%u seeds\n", seeds);
	return seeds ? 0 : 1;
}
