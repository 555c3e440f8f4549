/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpflowd: the primary. Options, the instance's runtime files (pidfile,
 * socket), the device, the region, then the loop. See docs/man/mpflowd.8.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " SERVER_NAME " [options]\n"
		"  -i, --instance NAME        instance name (default: default)\n"
		"  -b, --backend NAME         device backend: %s (default: soft)\n"
		"  -r, --runtime-dir DIR      where the socket and pidfile live (default:\n"
		"                             $MPFLOW_RUNTIME_DIR, /run/mpflow as root,\n"
		"                             else $XDG_RUNTIME_DIR/mpflow)\n"
		"      --state-dir DIR        where the journal of persistent rules and meters\n"
		"                             lives (default: the runtime directory)\n"
		"  -g, --allow-group GROUP    also admit clients of this group\n"
		"      --max-rules N          rules in the instance (default: 65536)\n"
		"      --max-clients N        connected clients (default: 256)\n"
		"      --client-max-rules N   rules one client may own (default: --max-rules)\n"
		"      --client-max-queues N  RX queues one client may attach (default: 64)\n"
		"      --ports N              soft backend: ports (default: 1)\n"
		"      --queues N             RX queues per port (default: 4)\n"
		"      --vfs N                soft backend: VFs per port (default: 0)\n"
		"  -s, --source PORT=SPEC     soft backend: the port's packet source:\n"
		"                             pcap:FILE[,loop=N][,count=N][,pps=N][,tx]\n"
		"                             gen:flows=N[,size=B][,proto=udp|tcp][,count=N]\n"
		"                                 [,pps=N][,tx]\n"
		"                             live:IFNAME\n"
		"      --dump-queues DIR      soft backend: write each RX queue (and each\n"
		"                             port's transmitted packets) to DIR/*.pcap\n"
		"      --rxq-size BYTES       soft backend: ring of an attached RX queue\n"
		"                             (power of two, default: 2097152)\n"
		"      --device NAME          verbs backend: the RDMA device (default: the\n"
		"                             first with an Ethernet port)\n"
		"      --port N               verbs backend: the device port, from 1 (default: 1)\n"
		"      --groups N             verbs backend: groups sharing the device's\n"
		"                             priority levels (default: 1)\n"
		"      --counter-interval MS  how often device counters are read into shared\n"
		"                             memory (default: 1000)\n"
		"      --busy-poll-us N       keep polling rings N us after the last request\n"
		"                             before sleeping (default: 50)\n"
		"  -f, --foreground           stay in the foreground, log to stderr\n"
		"  -v, --verbose              log each rule (-vv: more)\n"
		"  -q, --quiet                log warnings only\n"
		"  -h, --help                 this text\n",
		hwdrv_backend_names());
}

static int number(const char *option, const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 0);
	if (errno || *end || end == text || v < min || v > max) {
		fprintf(stderr, SERVER_NAME ": %s: '%s' is not a number in [%u, %u]\n", option,
			text, min, max);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int runtime_dir(char *out, size_t size)
{
	const char *env = getenv("MPFLOW_RUNTIME_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (env && *env)
		n = snprintf(out, size, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(out, size, "/run/mpflow");
	else if (xdg && *xdg)
		n = snprintf(out, size, "%s/mpflow", xdg);
	else
		return -1;
	return n > 0 && (size_t)n < size ? 0 : -1;
}

static int parse(struct server_config *cfg, int argc, char **argv)
{
	enum {
		MAX_RULES = 256,
		MAX_CLIENTS,
		CLIENT_MAX_RULES,
		CLIENT_MAX_QUEUES,
		PORTS,
		QUEUES,
		VFS,
		BUSY,
		DUMP_QUEUES,
		RXQ_SIZE,
		DEVICE,
		DEVICE_PORT,
		GROUPS,
		COUNTER_INTERVAL,
		STATE_DIR
	};
	static const struct option options[] = {
		{"instance", required_argument, NULL, 'i'},
		{"backend", required_argument, NULL, 'b'},
		{"runtime-dir", required_argument, NULL, 'r'},
		{"allow-group", required_argument, NULL, 'g'},
		{"max-rules", required_argument, NULL, MAX_RULES},
		{"max-clients", required_argument, NULL, MAX_CLIENTS},
		{"client-max-rules", required_argument, NULL, CLIENT_MAX_RULES},
		{"client-max-queues", required_argument, NULL, CLIENT_MAX_QUEUES},
		{"ports", required_argument, NULL, PORTS},
		{"queues", required_argument, NULL, QUEUES},
		{"vfs", required_argument, NULL, VFS},
		{"busy-poll-us", required_argument, NULL, BUSY},
		{"source", required_argument, NULL, 's'},
		{"dump-queues", required_argument, NULL, DUMP_QUEUES},
		{"rxq-size", required_argument, NULL, RXQ_SIZE},
		{"device", required_argument, NULL, DEVICE},
		{"port", required_argument, NULL, DEVICE_PORT},
		{"groups", required_argument, NULL, GROUPS},
		{"counter-interval", required_argument, NULL, COUNTER_INTERVAL},
		{"state-dir", required_argument, NULL, STATE_DIR},
		{"foreground", no_argument, NULL, 'f'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint32_t v, client_max_rules = 0;
	int opt;

	*cfg = (struct server_config){
		.instance = "default",
		.backend = "soft",
		.max_rules = 65536,
		.max_clients = 256,
		.client_max_queues = 64,
		.busy_poll_us = 50,
		.request_ring_bytes = 256u * 1024u,
		.completion_ring_bytes = 512u * 1024u,
		.log_level = LOG_LEVEL_INFO,
		.counter_interval_ms = 1000,
		.device = {.ports = 1, .queues = 4, .vfs = 0, .device_port = 1, .groups = 1},
	};
	if (runtime_dir(cfg->runtime_dir, sizeof(cfg->runtime_dir)) != 0)
		cfg->runtime_dir[0] = '\0';
	while ((opt = getopt_long(argc, argv, "i:b:r:g:s:fvqh", options, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (!*optarg || strchr(optarg, '/') || strlen(optarg) >= 32) {
				fprintf(stderr, SERVER_NAME ": --instance: a name of 1 to 31 "
							    "characters, without '/'\n");
				return 2;
			}
			cfg->instance = optarg;
			break;
		case 'b':
			cfg->backend = optarg;
			break;
		case 'r':
			if (snprintf(cfg->runtime_dir, sizeof(cfg->runtime_dir), "%s", optarg) >=
			    (int)sizeof(cfg->runtime_dir))
				return 2;
			break;
		case 'g': {
			struct group *gr = getgrnam(optarg);
			char *end;

			if (gr) {
				cfg->allow_gid = gr->gr_gid;
			} else {
				cfg->allow_gid = (gid_t)strtoul(optarg, &end, 10);
				if (*end || end == optarg) {
					fprintf(stderr,
						SERVER_NAME ": --allow-group: no group '%s'\n",
						optarg);
					return 2;
				}
			}
			cfg->allow_group = true;
			break;
		}
		case MAX_RULES:
			if (number("--max-rules", optarg, 1, 1u << 24, &cfg->max_rules))
				return 2;
			break;
		case MAX_CLIENTS:
			if (number("--max-clients", optarg, 1, 1u << 16, &cfg->max_clients))
				return 2;
			break;
		case CLIENT_MAX_RULES:
			if (number("--client-max-rules", optarg, 1, 1u << 24, &client_max_rules))
				return 2;
			break;
		case CLIENT_MAX_QUEUES:
			if (number("--client-max-queues", optarg, 1, 1u << 20,
				   &cfg->client_max_queues))
				return 2;
			break;
		case 's': {
			char *spec = strchr(optarg, '=');

			*(spec ? spec : optarg) = '\0';
			if (spec == NULL || number("--source", optarg, 0, HWDRV_PORTS_MAX - 1, &v))
				return 2;
			cfg->device.sources[v] = spec + 1;
			break;
		}
		case DUMP_QUEUES:
			cfg->device.dump_dir = optarg;
			break;
		case RXQ_SIZE:
			if (number("--rxq-size", optarg, 65536, 1u << 30, &v) || (v & (v - 1))) {
				fprintf(stderr, SERVER_NAME ": --rxq-size: a power of two\n");
				return 2;
			}
			cfg->device.rxq_bytes = v;
			break;
		case PORTS:
			if (number("--ports", optarg, 1, HWDRV_PORTS_MAX, &v))
				return 2;
			cfg->device.ports = (uint16_t)v;
			break;
		case QUEUES:
			if (number("--queues", optarg, 1, 65535, &v))
				return 2;
			cfg->device.queues = (uint16_t)v;
			break;
		case VFS:
			if (number("--vfs", optarg, 0, 4096, &v))
				return 2;
			cfg->device.vfs = (uint16_t)v;
			break;
		case DEVICE:
			cfg->device.device_name = optarg;
			break;
		case DEVICE_PORT:
			if (number("--port", optarg, 1, 255, &v))
				return 2;
			cfg->device.device_port = (uint8_t)v;
			break;
		case GROUPS:
			if (number("--groups", optarg, 1, 1024, &v))
				return 2;
			cfg->device.groups = (uint16_t)v;
			break;
		case STATE_DIR:
			if (snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", optarg) >=
			    (int)sizeof(cfg->state_dir))
				return 2;
			break;
		case COUNTER_INTERVAL:
			if (number("--counter-interval", optarg, 10, 60000,
				   &cfg->counter_interval_ms))
				return 2;
			break;
		case BUSY:
			if (number("--busy-poll-us", optarg, 0, 1000000, &cfg->busy_poll_us))
				return 2;
			break;
		case 'f':
			cfg->foreground = true;
			break;
		case 'v':
			cfg->log_level = LOG_LEVEL_DEBUG;
			break;
		case 'q':
			cfg->log_level = LOG_LEVEL_WARN;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, SERVER_NAME ": unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!cfg->runtime_dir[0]) {
		fprintf(stderr, SERVER_NAME ": no runtime directory: set --runtime-dir, "
					    "MPFLOW_RUNTIME_DIR or XDG_RUNTIME_DIR\n");
		return 2;
	}
	for (unsigned p = cfg->device.ports; p < HWDRV_PORTS_MAX; p++)
		if (cfg->device.sources[p]) {
			fprintf(stderr, SERVER_NAME ": --source %u: the device has %u port(s)\n", p,
				cfg->device.ports);
			return 2;
		}
	cfg->client_max_rules = client_max_rules ? client_max_rules : cfg->max_rules;
	if (!cfg->state_dir[0])
		memcpy(cfg->state_dir, cfg->runtime_dir, sizeof(cfg->state_dir));
	return 0;
}

/* The runtime and state directories, checked on their descriptors
 * (dirs.c); the state directory is opened again even when it is the same
 * one, so each has its own descriptor for its own files. */
static int open_dirs(struct server *s)
{
	const struct server_config *cfg = &s->config;
	mode_t mode = cfg->allow_group ? 0750 : 0700;
	gid_t group = cfg->allow_group ? cfg->allow_gid : (gid_t)-1;
	char reason[PATH_MAX + 160];

	if (dir_open(cfg->runtime_dir, mode, group, &s->runtime_fd, reason, sizeof(reason)) != 0) {
		fprintf(stderr, SERVER_NAME ": runtime directory %s\n", reason);
		return -1;
	}
	if (dir_open(cfg->state_dir, 0700, (gid_t)-1, &s->state_fd, reason, sizeof(reason)) != 0) {
		fprintf(stderr, SERVER_NAME ": state directory %s\n", reason);
		return -1;
	}
	return 0;
}

/* One primary per instance: libbsd's pidfile, reached through the checked
 * runtime directory. NULL (and a message) if another primary holds it. */
static struct pidfh *open_pidfile(struct server *s)
{
	char name[48], path[96], reason[PATH_MAX + 160];
	struct pidfh *pidfile;
	pid_t holder;

	snprintf(name, sizeof(name), "%s.pid", s->config.instance);
	if (dir_check_entry(s->runtime_fd, s->config.runtime_dir, name, reason, sizeof(reason)) ||
	    dir_proc_path(s->runtime_fd, name, path, sizeof(path))) {
		fprintf(stderr, SERVER_NAME ": pidfile %s\n", reason);
		return NULL;
	}
	pidfile = pidfile_open(path, 0600, &holder);
	if (pidfile == NULL) {
		if (errno == EEXIST)
			fprintf(stderr,
				SERVER_NAME ": instance '%s' is already served by pid %d (%s/%s)\n",
				s->config.instance, (int)holder, s->config.runtime_dir, name);
		else
			fprintf(stderr, SERVER_NAME ": pidfile %s/%s: %s\n", s->config.runtime_dir,
				name, strerror(errno));
	}
	return pidfile;
}

int main(int argc, char **argv)
{
	static struct server server;
	struct server *s = &server;
	struct mpf_flow_error error = {0};
	struct timespec started;
	int rc, err;

	rc = parse(&s->config, argc, argv);
	if (rc)
		return rc;
	log_init(true, s->config.log_level);
	s->listen_fd = -1;

	s->runtime_fd = s->state_fd = -1;
	if (open_dirs(s) != 0)
		return 1;
	snprintf(s->socket_name, sizeof(s->socket_name), "%s.sock", s->config.instance);
	if ((size_t)snprintf(s->socket_path, sizeof(s->socket_path), "%s/%s", s->config.runtime_dir,
			     s->socket_name) >= sizeof(s->socket_path)) {
		fprintf(stderr, SERVER_NAME ": runtime directory %s: path too long\n",
			s->config.runtime_dir);
		return 1;
	}
	s->pidfile = open_pidfile(s);
	if (s->pidfile == NULL)
		return 1;

	if (hwdrv_open(&s->device, s->config.backend, &s->config.device, &error) != 0) {
		fprintf(stderr, SERVER_NAME ": backend %s: %s\n", s->config.backend, error.message);
		pidfile_remove(s->pidfile);
		return 1;
	}
	s->clients = calloc(s->config.max_clients, sizeof(*s->clients));
	s->scratch = malloc(sizeof(*s->scratch));
	if (s->clients == NULL || s->scratch == NULL ||
	    rules_init(&s->rules, s->config.max_rules) != 0 || (err = region_create(s)) != 0) {
		fprintf(stderr, SERVER_NAME ": cannot allocate %u rules and %u clients\n",
			s->config.max_rules, s->config.max_clients);
		pidfile_remove(s->pidfile);
		return 1;
	}
	if ((err = journal_open(s)) != 0) {
		fprintf(stderr, SERVER_NAME ": journal %s: %s\n", s->journal.path, strerror(-err));
		pidfile_remove(s->pidfile);
		return 1;
	}
	if ((err = listener_open(s)) != 0) {
		fprintf(stderr, SERVER_NAME ": socket %s: %s\n", s->socket_path, strerror(-err));
		pidfile_remove(s->pidfile);
		return 1;
	}
	if (!s->config.foreground && daemon(0, 0) != 0) {
		fprintf(stderr, SERVER_NAME ": daemon: %s\n", strerror(errno));
		listener_close(s);
		pidfile_remove(s->pidfile);
		return 1;
	}
	log_init(s->config.foreground, s->config.log_level);
	pidfile_write(s->pidfile);
	s->region->primary_pid = (uint32_t)getpid(); /* daemon() forked */
	clock_gettime(CLOCK_REALTIME, &started);
	s->region->start_time_ns =
		(uint64_t)started.tv_sec * 1000000000ull + (uint64_t)started.tv_nsec;
	if ((err = loop_init(s)) != 0)
		fatalx("event loop: %s", strerror(-err));
	log_info("instance %s ready: backend %s, %u rules, %u clients, socket %s",
		 s->config.instance, s->config.backend, s->config.max_rules, s->config.max_clients,
		 s->socket_path);

	loop_run(s);

	/* Persistent rules stay in the journal for the next start. */
	s->journal.frozen = true;
	rules_destroy_all(s);
	journal_close(s);
	hwdrv_close(&s->device);
	loop_fini(s);
	region_destroy(s);
	rules_fini(&s->rules);
	commit_fini(s);
	free(s->clients);
	free(s->scratch);
	pidfile_remove(s->pidfile);
	close(s->state_fd);
	close(s->runtime_fd);
	log_info("instance %s stopped", s->config.instance);
	return 0;
}
