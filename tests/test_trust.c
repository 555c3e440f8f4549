/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Directories and identity (server/dirs.c, libclient/handshake.c), tried as
 * another local user would: a runtime directory that user owns, with a
 * symlink planted where the pidfile goes; directories writable by others;
 * a journal planted in a state directory others can write; a socket of a
 * primary that user runs, moved where a client looks. The cases that need
 * another uid run only as root (skipped otherwise); uid 65534 (nobody)
 * plays the other user.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"

static void need_root(void)
{
	if (geteuid() != 0)
		skip();
}

/* A fresh directory under /tmp, owned by `uid`, with `mode`. */
static void make_dir(char *out, size_t size, const char *what, uid_t uid, mode_t mode)
{
	snprintf(out, size, "/tmp/mpflow-%s-XXXXXX", what);
	assert_non_null(mkdtemp(out));
	assert_int_equal(chown(out, uid, (gid_t)-1), 0);
	assert_int_equal(chmod(out, mode), 0);
}

static void remove_tree(const char *path)
{
	char command[256];

	snprintf(command, sizeof(command), "rm -rf '%s'", path);
	assert_int_equal(system(command), 0);
}

/* Run mpflowd with `argv` (after the binary) to its exit; its exit status,
 * its output in `out`. */
static int run_primary(const char *const *argv, char *out, size_t size)
{
	const char *binary = getenv("MPFLOWD");
	const char *args[28] = {binary, "--no-config"};
	const char *runtime = NULL;
	bool state = false;
	int pipefd[2], status, argc = 2;
	size_t used = 0;
	ssize_t n;
	pid_t pid;

	for (int i = 0; argv[i] && argc < 24; i++) {
		if (strcmp(argv[i], "--runtime-dir") == 0)
			runtime = argv[i + 1];
		state = state || strcmp(argv[i], "--state-dir") == 0;
		args[argc++] = argv[i];
	}
	/* The journal where it was before there was a default state
	 * directory: this machine's /var/lib/mpflow is not the test's. */
	if (!state && runtime) {
		args[argc++] = "--state-dir";
		args[argc++] = runtime;
	}
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		execv(binary, (char *const *)(uintptr_t)args);
		_exit(127);
	}
	close(pipefd[1]);
	while (used + 1 < size && (n = read(pipefd[0], out + used, size - 1 - used)) > 0)
		used += (size_t)n;
	out[used] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static bool file_says(const char *path, const char *text)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return false;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	return strcmp(buf, text) == 0;
}

static void test_a_runtime_directory_of_another_user_is_refused(void **state)
{
	char dir[64], target[96], link[96], out[1024];
	const char *argv[] = {"--foreground", "--runtime-dir", dir, NULL};

	(void)state;
	need_root();
	/* The other user's directory, with its symlink where the pidfile
	 * goes, pointing at a file of root's. */
	make_dir(dir, sizeof(dir), "theirs", STRANGER, 0755);
	snprintf(target, sizeof(target), "%s.precious", dir);
	write_file(target, "precious\n");
	snprintf(link, sizeof(link), "%s/default.pid", dir);
	assert_int_equal(symlink(target, link), 0);

	assert_int_equal(run_primary(argv, out, sizeof(out)), 1);
	assert_non_null(strstr(out, dir));
	assert_non_null(strstr(out, "owned by uid 65534"));
	assert_non_null(strstr(out, "mode 0755"));
	assert_true(file_says(target, "precious\n"));
	remove_tree(dir);
	unlink(target);
}

static void test_a_directory_others_can_write_is_refused(void **state)
{
	char dir[64], good[64], state_arg[64], out[1024];
	const char *runtime[] = {"--foreground", "--runtime-dir", dir, NULL};
	const char *statedir[] = {"--foreground", "--runtime-dir", good,
				  "--state-dir",  state_arg,	   NULL};

	(void)state;
	make_dir(dir, sizeof(dir), "open", geteuid(), 0777);
	assert_int_equal(run_primary(runtime, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "runtime directory"));
	assert_non_null(strstr(out, "mode 0777"));
	assert_int_equal(chmod(dir, 0770), 0); /* group-writable: the same */
	assert_int_equal(run_primary(runtime, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "mode 0770"));

	make_dir(good, sizeof(good), "good", geteuid(), 0700);
	snprintf(state_arg, sizeof(state_arg), "%s", dir);
	assert_int_equal(run_primary(statedir, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "state directory"));
	assert_non_null(strstr(out, "mode 0770"));
	remove_tree(dir);
	remove_tree(good);
}

static void test_a_symlink_for_a_directory_is_refused(void **state)
{
	char dir[64], link[80], out[1024];
	const char *argv[] = {"--foreground", "--runtime-dir", link, NULL};

	(void)state;
	make_dir(dir, sizeof(dir), "real", geteuid(), 0700);
	snprintf(link, sizeof(link), "%s.link", dir);
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(run_primary(argv, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "symbolic link"));
	unlink(link);
	remove_tree(dir);
}

/* A journal with one persistent rule, made by a real primary in `dir`. */
static void make_journal(const char *const *args, struct primary *p)
{
	struct mpf_flow_attr ingress = {.ingress = 1};
	struct mpf_flow_item pattern[] = {{.type = MPF_FLOW_ITEM_TYPE_ETH},
					  {.type = MPF_FLOW_ITEM_TYPE_END}};
	struct mpf_flow_action drop[] = {{.type = MPF_FLOW_ACTION_TYPE_DROP},
					 {.type = MPF_FLOW_ACTION_TYPE_END}};
	struct mpf_flow_error error;
	struct mpf_client *c;
	uint64_t handle;

	assert_int_equal(primary_start(p, args), 0);
	assert_int_equal(primary_connect(p, "planter", &c), 0);
	assert_int_equal(mpf_flow_create(c, 0, &ingress, pattern, drop, MPF_FLOW_PERSISTENT,
					 &handle, &error),
			 0);
	mpf_disconnect(c);
	assert_int_equal(primary_stop(p), 0);
}

/* The last line of `out`: what an operator reads first. */
static const char *last_line(const char *out)
{
	size_t n = strlen(out);

	while (n > 0 && out[n - 1] == '\n')
		n--;
	while (n > 0 && out[n - 1] != '\n')
		n--;
	return out + n;
}

static void test_a_planted_journal_is_never_restored(void **state)
{
	const char *const none[] = {NULL};
	char open_dir[64], good[64], from[96], to[96], command[512], out[1024];
	const char *argv[] = {"--foreground", "--runtime-dir", good, "--state-dir", open_dir, NULL};
	const char *argv_good[] = {"--foreground", "--runtime-dir", good, NULL};
	struct primary maker;

	(void)state;
	need_root();
	/* "drop everything", journaled by a real primary. */
	make_journal(none, &maker);
	snprintf(from, sizeof(from), "%s/default.journal", maker.dir);

	/* Planted in a state directory anyone can write: refused. */
	make_dir(open_dir, sizeof(open_dir), "planted", 0, 01777);
	make_dir(good, sizeof(good), "good", 0, 0700);
	snprintf(to, sizeof(to), "%s/default.journal", open_dir);
	snprintf(command, sizeof(command), "cp '%s' '%s' && chown %u '%s'", from, to, STRANGER, to);
	assert_int_equal(system(command), 0);
	assert_int_equal(run_primary(argv, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "state directory"));
	assert_non_null(strstr(out, open_dir));

	/* A journal of another user's in a good directory: refused too. */
	snprintf(to, sizeof(to), "%s/default.journal", good);
	snprintf(command, sizeof(command), "cp '%s' '%s' && chown %u '%s'", from, to, STRANGER, to);
	assert_int_equal(system(command), 0);
	assert_int_equal(run_primary(argv_good, out, sizeof(out)), 1);
	assert_non_null(strstr(last_line(out), "uid 65534"));

	/* And one that is a symbolic link. */
	unlink(to);
	assert_int_equal(symlink(from, to), 0);
	assert_int_equal(run_primary(argv_good, out, sizeof(out)), 1);
	assert_non_null(strstr(last_line(out), "symbolic link"));

	remove_tree(open_dir);
	remove_tree(good);
	assert_int_equal(primary_cleanup(&maker), 0);
}

/*
 * --dump-queues: the primary (root here) makes its captures in a directory
 * held to the state directory's checks, through the directory's
 * descriptor. Another user's directory is refused; a symbolic link where a
 * capture goes is refused, its target untouched; the captures are
 * readable by their owner only. (The code before opened each capture by
 * path with fopen(3): a local user's symbolic link in a directory of
 * theirs truncated a file of root's, and every capture was 0644.)
 */
static void test_a_capture_directory_is_held_to_the_same_checks(void **state)
{
	char theirs[64], good[64], run[64], victim[96], planted[96], out[2048];
	const char *argv_theirs[] = {"--foreground",  "--runtime-dir", run,
				     "--dump-queues", theirs,	       NULL};
	const char *argv_good[] = {
		"--foreground", "--runtime-dir", run, "--dump-queues", good, NULL};
	const char *args[] = {"--dump-queues", good, NULL};
	struct primary p;
	struct stat st;

	(void)state;
	need_root();
	make_dir(run, sizeof(run), "run", 0, 0700);
	make_dir(theirs, sizeof(theirs), "theirs", STRANGER, 0755);
	make_dir(good, sizeof(good), "good", 0, 0700);
	snprintf(victim, sizeof(victim), "%s/victim", run);
	write_file(victim, "precious\n");

	/* Another user's directory, as the attack had it. */
	snprintf(planted, sizeof(planted), "%s/port0-queue0.pcap", theirs);
	assert_int_equal(symlink(victim, planted), 0);
	assert_int_equal(run_primary(argv_theirs, out, sizeof(out)), 1);
	assert_non_null(strstr(last_line(out), "--dump-queues directory"));
	assert_non_null(strstr(last_line(out), "owned by uid 65534"));
	assert_true(file_says(victim, "precious\n"));

	/* A symbolic link where a capture goes, in a good directory. */
	snprintf(planted, sizeof(planted), "%s/port0-queue0.pcap", good);
	assert_int_equal(symlink(victim, planted), 0);
	assert_int_equal(run_primary(argv_good, out, sizeof(out)), 1);
	assert_non_null(strstr(last_line(out), "a symbolic link: refusing it"));
	assert_true(file_says(victim, "precious\n"));

	/* Without it: the captures are made, the owner's alone. */
	assert_int_equal(unlink(planted), 0);
	assert_int_equal(primary_start(&p, args), 0);
	assert_int_equal(lstat(planted, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(primary_cleanup(&p), 0);
	remove_tree(run);
	remove_tree(theirs);
	remove_tree(good);
}

/* mpflowd as uid 65534 on its own directory `dir`; its pid. */
static pid_t start_as_stranger(const char *dir)
{
	const char *binary = getenv("MPFLOWD");
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		if (become_stranger() != 0)
			_exit(126);
		execl(binary, binary, "--foreground", "--quiet", "--no-config", "--runtime-dir",
		      dir, "--state-dir", dir, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void test_a_primary_of_another_user_is_not_trusted(void **state)
{
	char theirs[64], victim[64], from[96], to[96];
	struct mpf_connect_options o = {.name = "victim"};
	struct mpf_flow_error error;
	struct mpf_client *c = NULL;
	struct stat st;
	pid_t pid;
	int status;

	(void)state;
	need_root();
	make_dir(theirs, sizeof(theirs), "theirs", STRANGER, 0700);
	/* Where a client looks: a directory the stranger can write. */
	make_dir(victim, sizeof(victim), "victim", 0, 01777);
	pid = start_as_stranger(theirs);
	snprintf(from, sizeof(from), "%s/default.sock", theirs);
	for (int i = 0; i < 500 && stat(from, &st) != 0; i++)
		usleep(10000);
	assert_int_equal(stat(from, &st), 0);
	/* In its own directory, the stranger's primary is its owner's: fine. */
	o.runtime_dir = theirs;
	assert_int_equal(mpf_connect(&o, &c, &error), 0);
	mpf_disconnect(c);

	/* Moved where the victim looks, it is refused, with its uid named. */
	snprintf(to, sizeof(to), "%s/default.sock", victim);
	assert_int_equal(rename(from, to), 0);
	o.runtime_dir = victim;
	assert_int_equal(mpf_connect(&o, &c, &error), -EPERM);
	assert_non_null(strstr(error.message, "uid 65534"));
	assert_int_equal(mpf_monitor_open(&o, (struct mpf_monitor **)&c, &error), -EPERM);
	/* Unless the application names that uid. */
	o.primary_uid = STRANGER;
	assert_int_equal(mpf_connect(&o, &c, &error), 0);
	mpf_disconnect(c);

	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	remove_tree(theirs);
	remove_tree(victim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_runtime_directory_of_another_user_is_refused),
		cmocka_unit_test(test_a_directory_others_can_write_is_refused),
		cmocka_unit_test(test_a_symlink_for_a_directory_is_refused),
		cmocka_unit_test(test_a_planted_journal_is_never_restored),
		cmocka_unit_test(test_a_capture_directory_is_held_to_the_same_checks),
		cmocka_unit_test(test_a_primary_of_another_user_is_not_trusted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
