/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Runs a fuzz target over files without libFuzzer, so that the seed corpus
 * and every crash ever found (tests/fuzz/regressions/) are replayed by the
 * ordinary test suite, under every sanitizer build.
 * usage: fuzz-*-replay FILE|DIR...   exit 0 pass, 1 fail
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	static uint8_t buf[1 << 20];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		perror(path);
		return 1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	int failures = 0, files = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *dir;
		struct dirent *e;

		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			failures += replay_file(argv[i]);
			files++;
			continue;
		}
		dir = opendir(argv[i]);
		while (dir && (e = readdir(dir)) != NULL) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			failures += replay_file(path);
			files++;
		}
		if (dir)
			closedir(dir);
	}
	printf("replayed %d inputs\n", files);
	return failures ? 1 : 0;
}
