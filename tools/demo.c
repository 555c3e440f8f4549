/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpflow-demo: secondaries at work against a running primary (see
 * tools/run-demo.sh, which starts one). An application creates rules one by
 * one and sees refusals with their cause; a second process bulk-loads rules
 * through the asynchronous API; the rule directory is read from shared
 * memory as flowstat shows it; the loader is killed with SIGKILL and the
 * primary removes its rules; the first rule's counters move with the
 * primary's generated traffic. tools/run-demo.sh then shows flowctl and
 * flowstat at work.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpflow/mpflow.h>

/* ITEM(ETH) hands ITEM_ an empty variadic argument: C11, no GNU extension. */
#define ITEM(...)     ITEM_(__VA_ARGS__, )
#define ITEM_(t, ...) ((struct mpf_flow_item){.type = MPF_FLOW_ITEM_TYPE_##t, __VA_ARGS__})
#define ACTION(t, c)  ((struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_##t, .conf = (c)})

static const struct mpf_flow_attr ingress = {.ingress = 1};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void try_create(struct mpf_client *c, const char *text, const struct mpf_flow_attr *attr,
		       const struct mpf_flow_item *pattern, const struct mpf_flow_action *actions)
{
	struct mpf_flow_error error;
	uint64_t handle;
	int err = mpf_flow_create(c, 0, attr, pattern, actions, 0, &handle, &error);

	printf("[app]    flow create 0 %s\n", text);
	if (err == 0)
		printf("         -> rule 0x%llx\n", (unsigned long long)handle);
	else
		printf("         -> refused: %s (%s, %s %d)\n", error.message, strerror(-err),
		       mpf_flow_error_type_name(error.type), (int)error.cause);
}

static void app_rules(struct mpf_client *c)
{
	struct mpf_flow_item_ipv4 ip = {.hdr.src_addr = htonl(0x0a000001)};
	struct mpf_flow_item_ipv4 ip_mask = {.hdr.src_addr = 0xffffffff};
	struct mpf_flow_item_tcp tcp = {.hdr.dst_port = htons(80)};
	struct mpf_flow_item_tcp tcp_mask = {.hdr.dst_port = 0xffff};
	struct mpf_flow_item_vxlan vni = {.vni = {0, 0, 42}};
	const struct mpf_flow_action_queue q3 = {.index = 3}, q99 = {.index = 99};
	const struct mpf_flow_action_mark mark = {.id = 42};
	const uint16_t queues[] = {0, 1, 2, 3};
	const struct mpf_flow_action_rss rss = {
		.types = MPF_RSS_IPV4 | MPF_RSS_NONFRAG_IPV4_TCP, .queue_num = 4, .queue = queues};
	const struct mpf_flow_attr group1 = {.ingress = 1, .group = 1, .priority = 2};

	try_create(c,
		   "ingress pattern eth / ipv4 src is 10.0.0.1 / tcp dst is 80 / end actions "
		   "queue index 3 / count / end",
		   &ingress,
		   (struct mpf_flow_item[]){ITEM(ETH), ITEM(IPV4, .spec = &ip, .mask = &ip_mask),
					    ITEM(TCP, .spec = &tcp, .mask = &tcp_mask), ITEM(END)},
		   (struct mpf_flow_action[]){ACTION(QUEUE, &q3), ACTION(COUNT, NULL),
					      ACTION(END, NULL)});
	try_create(c,
		   "group 1 priority 2 ingress pattern eth / ipv4 / udp / vxlan vni is 42 / eth / "
		   "end actions mark id 42 / rss types ipv4 ipv4-tcp end queues 0 1 2 3 end / "
		   "count / end",
		   &group1,
		   (struct mpf_flow_item[]){ITEM(ETH), ITEM(IPV4), ITEM(UDP),
					    ITEM(VXLAN, .spec = &vni), ITEM(ETH), ITEM(END)},
		   (struct mpf_flow_action[]){ACTION(MARK, &mark), ACTION(RSS, &rss),
					      ACTION(COUNT, NULL), ACTION(END, NULL)});
	try_create(c, "ingress pattern eth / udp / end actions drop / end", &ingress,
		   (struct mpf_flow_item[]){ITEM(ETH), ITEM(UDP), ITEM(END)},
		   (struct mpf_flow_action[]){ACTION(DROP, NULL), ACTION(END, NULL)});
	try_create(c, "ingress pattern eth / end actions queue index 99 / end", &ingress,
		   (struct mpf_flow_item[]){ITEM(ETH), ITEM(END)},
		   (struct mpf_flow_action[]){ACTION(QUEUE, &q99), ACTION(END, NULL)});
}

/* The bulk loader: `count` rules through the async API, as fast as they go;
 * then it tells its parent and waits to be killed. */
static int loader(unsigned count, int report)
{
	struct mpf_connect_options options = {.name = "bulk-loader"};
	struct mpf_flow_item_ipv4 ip, ip_mask = {.hdr.src_addr = 0xffffffff};
	const struct mpf_flow_action_queue q1 = {.index = 1};
	struct mpf_flow_item pattern[] = {ITEM(ETH), ITEM(IPV4, .spec = &ip, .mask = &ip_mask),
					  ITEM(UDP), ITEM(END)};
	const struct mpf_flow_action actions[] = {ACTION(COUNT, NULL), ACTION(QUEUE, &q1),
						  ACTION(END, NULL)};
	struct mpf_completion done[256];
	struct mpf_flow_error error;
	struct mpf_client *c;
	unsigned submitted = 0, completed = 0;
	double t0;

	if (mpf_connect(&options, &c, &error) != 0) {
		fprintf(stderr, "[loader] %s\n", error.message);
		return 1;
	}
	t0 = now();
	while (completed < count) {
		int n;

		ip = (struct mpf_flow_item_ipv4){.hdr.src_addr = htonl(0xc0a80000u + submitted)};
		if (submitted < count && mpf_submit_create(c, 0, &ingress, pattern, actions, 0,
							   submitted, &error) == 0) {
			submitted++;
			continue;
		}
		n = mpf_poll(c, done, 256, -1);
		if (n <= 0)
			return 1;
		for (int i = 0; i < n; i++)
			if (done[i].status)
				fprintf(stderr, "[loader] rule %llu: %s\n",
					(unsigned long long)done[i].user_data,
					done[i].error.message);
		completed += (unsigned)n;
	}
	printf("[loader] %u rules created asynchronously in %.3f s (%.0f rules/s)\n", count,
	       now() - t0, count / (now() - t0));
	fflush(stdout);
	if (write(report, "x", 1) != 1)
		return 1;
	pause();
	return 0;
}

static unsigned list_rules(struct mpf_client *c, unsigned show)
{
	struct mpf_flow_info info;
	uint32_t cursor = 0;
	unsigned n = 0;

	if (show)
		printf("  %-18s %-20s %4s %9s %6s %6s  %s\n", "handle", "owner", "port", "grp/prio",
		       "hits", "bytes", "rule");
	while (mpf_flow_next(c, &cursor, &info) == 1) {
		char owner[48];

		if (n++ >= show)
			continue;
		snprintf(owner, sizeof(owner), "%s/%u",
			 info.owner_pid ? info.owner_name : "instance", info.owner_pid);
		printf("  0x%-16llx %-20s %4u %4u/%-4u %6llu %6llu  %.60s%s\n",
		       (unsigned long long)info.handle, owner, info.port, info.group, info.priority,
		       (unsigned long long)info.hits, (unsigned long long)info.bytes, info.text,
		       strlen(info.text) > 60 ? "..." : "");
	}
	if (show && n > show)
		printf("  ... and %u more\n", n - show);
	return n;
}

int main(int argc, char **argv)
{
	struct mpf_connect_options options = {.name = "demo-app"};
	unsigned count = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 20000;
	struct mpf_flow_error error;
	struct mpf_client *c;
	int pipefd[2];
	unsigned live;
	char go;
	pid_t child;

	if (mpf_connect(&options, &c, &error) != 0) {
		fprintf(stderr, "mpflow-demo: %s\n", error.message);
		return 1;
	}
	printf("[app]    connected to the primary\n");
	app_rules(c);

	if (pipe(pipefd) != 0)
		return 1;
	fflush(stdout);
	child = fork();
	if (child == 0)
		_exit(loader(count, pipefd[1]));
	if (read(pipefd[0], &go, 1) != 1) {
		fprintf(stderr, "mpflow-demo: the loader failed\n");
		return 1;
	}
	printf("\n[app]    the rule directory, read from shared memory (as flowstat does):\n");
	live = list_rules(c, 6);
	printf("[app]    %u rules live\n\n", live);

	printf("[app]    kill -9 the loader (pid %d)\n", (int)child);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	for (int i = 0; i < 300 && (live = list_rules(c, 0)) > 2; i++)
		usleep(10000);
	printf("[app]    the primary destroyed the loader's rules: %u rules live\n", live);
	/* The primary's generator sends TCP from 10.0.0.1 to port 80 among
	 * its flows: the first rule's counter moves while we watch. */
	for (int i = 0; i < 3; i++) {
		usleep(300000);
		printf("\n[app]    %.1f s later:\n", 0.3 * (i + 1));
		list_rules(c, 2);
	}
	mpf_disconnect(c);
	return live == 2 ? 0 : 1;
}
