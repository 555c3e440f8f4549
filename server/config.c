/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpflowd's configuration: one table of keys, read from a file and from the
 * command line alike. Each key is a long option (--max-rules 8192) and a
 * line of the instance's configuration file (max-rules = 8192); the file is
 * read first and the command line wins. Both are parsed strictly: an
 * unknown key, a bad value, a key given twice in the file is refused with
 * where it was (file:line, or the option) and why.
 *
 * The file: --config FILE, else CONFIG_DIR/INSTANCE.conf where it exists
 * (/etc/mpflow as root, $XDG_CONFIG_HOME/mpflow or ~/.config/mpflow
 * otherwise); --no-config reads none. SIGHUP reads it again: the keys marked
 * `live` take their new values, every other change is logged as waiting for
 * the next start.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server.h"
#include "shm/rxq.h"

enum key_kind {
	KEY_TEXT,   /* a string into a char array of `max` bytes */
	KEY_NUMBER, /* an unsigned integer in [min, max], `width` bytes wide */
	KEY_POW2,   /* the same, and a power of two */
	KEY_BOOL,   /* yes/no, true/false, on/off, 1/0; a flag on the command line */
	KEY_LEVEL,  /* warning, info, debug */
	KEY_GROUP,  /* a group name or gid */
	KEY_SOURCE, /* PORT=SPEC, once per port */
};

struct key {
	const char *name;
	char short_name; /* 0: none */
	uint8_t kind;	 /* enum key_kind */
	uint8_t width;	 /* KEY_NUMBER, KEY_POW2: bytes of the field */
	bool live;	 /* SIGHUP applies a new value */
	uint32_t min, max;
	size_t offset; /* of the field in struct server_config */
	const char *arg;
	const char *help;
};

#define AT(field)    offsetof(struct server_config, field)
#define WIDTH(field) ((uint8_t)sizeof(((struct server_config *)0)->field))
#define NUMBER(name, field, lo, hi, argname, text)                                                 \
	{                                                                                          \
		name, 0, KEY_NUMBER, WIDTH(field), false, lo, hi, AT(field), argname, text         \
	}
#define TEXT(name, short_name, field, argname, text)                                               \
	{                                                                                          \
		name, short_name, KEY_TEXT, 0, false, 1,                                           \
			sizeof(((struct server_config *)0)->field), AT(field), argname, text       \
	}

static const struct key keys[] = {
	TEXT("backend", 'b', backend, "NAME", "device backend (default: soft)"),
	TEXT("runtime-dir", 'r', runtime_dir, "DIR",
	     "where the socket and pidfile live (default: $MPFLOW_RUNTIME_DIR, /run/mpflow as "
	     "root, else $XDG_RUNTIME_DIR/mpflow)"),
	TEXT("state-dir", 0, state_dir, "DIR",
	     "where the journal of persistent rules and meters lives (default: /var/lib/mpflow "
	     "as root, else $XDG_STATE_HOME/mpflow)"),
	{"allow-group", 'g', KEY_GROUP, 0, false, 0, 0, AT(allow_group_name), "GROUP",
	 "also admit clients of this group"},
	NUMBER("max-rules", max_rules, 1, 1u << 24, "N", "rules in the instance (default: 65536)"),
	NUMBER("max-clients", max_clients, 1, 1u << 16, "N", "connected clients (default: 256)"),
	NUMBER("client-max-rules", client_max_rules, 1, 1u << 24, "N",
	       "rules one client may own (default: max-rules)"),
	NUMBER("user-max-slow-rules", user_max_slow_rules, 0, 1u << 24, "N",
	       "rules another user may have on the device's slow path, met in turn by every "
	       "frame of the port (default: 64)"),
	NUMBER("user-max-masks", user_max_masks, 0, 1u << 16, "N",
	       "mask tables of the device another user's rules may be in, each looked up "
	       "by every frame of the port (default: 8)"),
	NUMBER("client-max-queues", client_max_queues, 1, 1u << 20, "N",
	       "RX and TX queues one client may attach (default: 64)"),
	NUMBER("ports", device.ports, 1, HWDRV_PORTS_MAX, "N", "soft backend: ports (default: 1)"),
	NUMBER("queues", device.queues, 1, RXQ_VF_BASE, "N",
	       "RX and TX queues per port (default: 4)"),
	NUMBER("vfs", device.vfs, 0, 4096, "N", "soft backend: VFs per port (default: 0)"),
	NUMBER("workers", device.workers, 1, 64, "N",
	       "soft backend: datapath threads (default: 1): live: and xdp: sources are "
	       "spread over them"),
	{"source", 's', KEY_SOURCE, 0, false, 0, HWDRV_PORTS_MAX - 1, AT(sources), "PORT=SPEC",
	 "soft backend: the port's packet source: "
	 "pcap:FILE[,loop=N][,count=N][,pps=N][,delay=MS][,tx], "
	 "gen:flows=N[,size=B][,proto=udp|tcp][,dport=P][,count=N][,pps=N][,delay=MS][,tx], "
	 "live:IFNAME, "
	 "xdp:IFNAME[,queue=Q][,mode=zc|copy] or loop:[PORT]"},
	TEXT("dump-queues", 0, dump_dir, "DIR",
	     "soft backend: write each RX queue (and each port's transmitted packets) to "
	     "DIR/*.pcap"),
	{"rxq-size", 0, KEY_POW2, WIDTH(device.rxq_bytes), false, 65536, 1u << 30,
	 AT(device.rxq_bytes), "BYTES",
	 "an attached RX queue's memory (a power of two, default: 2097152): soft, its ring; "
	 "verbs, its 2 KiB receive buffers"},
	TEXT("device", 0, device_name, "NAME",
	     "verbs backend: the RDMA device (default: the first with an Ethernet port)"),
	NUMBER("port", device.device_port, 1, 255, "N",
	       "verbs backend: the device port, from 1 (default: 1)"),
	NUMBER("groups", device.groups, 1, 1024, "N",
	       "verbs backend: groups sharing the device's priority levels (default: 1)"),
	{"counter-interval", 0, KEY_NUMBER, WIDTH(counter_interval_ms), true, 10, 60000,
	 AT(counter_interval_ms), "MS",
	 "how often device counters are read into shared memory (default: 1000)"},
	{"busy-poll-us", 0, KEY_NUMBER, WIDTH(busy_poll_us), true, 0, 1000000, AT(busy_poll_us),
	 "N", "keep polling rings N us after the last request before sleeping (default: 50)"},
	{"foreground", 'f', KEY_BOOL, 0, false, 0, 0, AT(foreground), NULL,
	 "stay in the foreground, log to stderr"},
	{"log-level", 0, KEY_LEVEL, 0, true, 0, 0, AT(log_level), "LEVEL",
	 "warning, info or debug (default: info); -v is debug, -q warning"},
};

#define KEYS (sizeof(keys) / sizeof(keys[0]))

/* Options of the command line alone. */
enum {
	OPT_KEY = 256, /* + index in keys[] */
	OPT_INSTANCE = OPT_KEY + 64,
	OPT_CONFIG,
	OPT_NO_CONFIG,
	OPT_CHECK_CONFIG,
	OPT_HELP,
};

static void usage(FILE *out)
{
	fprintf(out, "usage: " SERVER_NAME " [options]\n"
		     "  -i, --instance NAME        instance name (default: default)\n"
		     "      --config FILE          the configuration file (default:\n"
		     "                             /etc/mpflow/INSTANCE.conf as root, else\n"
		     "                             $XDG_CONFIG_HOME/mpflow/INSTANCE.conf, if it "
		     "exists)\n"
		     "      --no-config            read no configuration file\n"
		     "      --check-config         print the effective configuration and exit\n");
	for (size_t i = 0; i < KEYS; i++) {
		char head[64];
		int n = snprintf(head, sizeof(head), "  %c%c%s --%s%s%s",
				 keys[i].short_name ? '-' : ' ',
				 keys[i].short_name ? keys[i].short_name : ' ',
				 keys[i].short_name ? "," : " ", keys[i].name,
				 keys[i].arg ? " " : "", keys[i].arg ? keys[i].arg : "");

		fprintf(out, "%s%*s%s\n", head, n < 29 ? 29 - n : 1, "", keys[i].help);
	}
	fprintf(out,
		"  -v, --verbose              log each rule (log-level debug)\n"
		"  -q, --quiet                log warnings only (log-level warning)\n"
		"  -h, --help                 this text\n"
		"Backends built in: %s. Every long option is also a key of the\n"
		"configuration file (key = value); the command line wins.\n",
		hwdrv_backend_names());
}

/* Where errors go: standard error at start, the log on SIGHUP (a daemon's
 * standard error is /dev/null). */
static bool reloading;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (reloading)
		log_warnx("SIGHUP: %s", line);
	else
		fprintf(stderr, SERVER_NAME ": %s\n", line);
}

/* Where a value came from, for its error: "FILE:LINE" or "--option". */
struct origin {
	const char *file; /* NULL: the command line */
	unsigned line;
};

static int refuse(const struct origin *o, const struct key *k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(const struct origin *o, const struct key *k, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (o->file)
		say("%s:%u: %s: %s", o->file, o->line, k->name, why);
	else
		say("--%s: %s", k->name, why);
	return -EINVAL;
}

static int parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
										    "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(text, yes[i]) == 0)
			return *out = true, 0;
		if (strcmp(text, no[i]) == 0)
			return *out = false, 0;
	}
	return -EINVAL;
}

static const char *const level_names[] = {"warning", "info", "debug"};

/* Set key `k` of `cfg` from `value`. 0 or -EINVAL (said on stderr). */
static int set_key(struct server_config *cfg, const struct key *k, const char *value,
		   const struct origin *o)
{
	uint8_t *field = (uint8_t *)cfg + k->offset;

	switch ((enum key_kind)k->kind) {
	case KEY_TEXT:
		if (*value == '\0')
			return refuse(o, k, "an empty value");
		if (strlen(value) >= k->max)
			return refuse(o, k, "longer than %u bytes", k->max - 1);
		memcpy(field, value, strlen(value) + 1);
		return 0;
	case KEY_NUMBER:
	case KEY_POW2: {
		unsigned long long v;
		char *end;

		/* Decimal, or hexadecimal after 0x; a leading 0 is not octal
		 * (max-rules = 010 is ten, as a reader of the file sees it). */
		errno = 0;
		v = strtoull(value, &end,
			     value[0] == '0' && (value[1] == 'x' || value[1] == 'X') ? 16 : 10);
		if (errno || *end || end == value || value[0] == '-' || v < k->min || v > k->max)
			return refuse(o, k, "'%s' is not a number in [%u, %u]", value, k->min,
				      k->max);
		if (k->kind == KEY_POW2 && (v & (v - 1)))
			return refuse(o, k, "'%s' is not a power of two", value);
		if (k->width == 1)
			*field = (uint8_t)v;
		else if (k->width == 2)
			*(uint16_t *)(void *)field = (uint16_t)v;
		else
			*(uint32_t *)(void *)field = (uint32_t)v;
		return 0;
	}
	case KEY_BOOL:
		if (parse_bool(value, (bool *)(void *)field) != 0)
			return refuse(o, k, "'%s' is not yes or no", value);
		return 0;
	case KEY_LEVEL:
		for (int l = 0; l < 3; l++)
			if (strcmp(value, level_names[l]) == 0)
				return cfg->log_level = LOG_LEVEL_WARN + l, 0;
		return refuse(o, k, "'%s' is not warning, info or debug", value);
	case KEY_GROUP: {
		struct group *gr = getgrnam(value);
		char *end;

		if (strlen(value) >= sizeof(cfg->allow_group_name))
			return refuse(o, k, "a name longer than %zu bytes",
				      sizeof(cfg->allow_group_name) - 1);
		if (gr) {
			cfg->allow_gid = gr->gr_gid;
		} else {
			unsigned long gid = strtoul(value, &end, 10);

			if (*end || end == value || value[0] == '-' || gid >= (gid_t)-1)
				return refuse(o, k, "no group '%s'", value);
			cfg->allow_gid = (gid_t)gid;
		}
		snprintf(cfg->allow_group_name, sizeof(cfg->allow_group_name), "%s", value);
		cfg->allow_group = true;
		return 0;
	}
	case KEY_SOURCE: {
		const char *spec = strchr(value, '=');
		unsigned long port;
		char *end;

		port = strtoul(value, &end, 10);
		if (spec == NULL || end != spec || end == value || port > k->max)
			return refuse(o, k, "'%s' is not PORT=SPEC with a port in [0, %u]", value,
				      k->max);
		if (spec[1] == '\0')
			return refuse(o, k, "port %lu: an empty source", port);
		if (strlen(spec + 1) >= sizeof(cfg->sources[0]))
			return refuse(o, k, "port %lu: a source longer than %zu bytes", port,
				      sizeof(cfg->sources[0]) - 1);
		snprintf(cfg->sources[port], sizeof(cfg->sources[0]), "%s", spec + 1);
		if (o->file)
			snprintf(cfg->source_from[port], sizeof(cfg->source_from[0]), "%s:%u",
				 o->file, o->line);
		else
			cfg->source_from[port][0] = '\0';
		return 0;
	}
	}
	return -EINVAL;
}

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < KEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* The next line of `f` into buf[size] (its newline dropped, NULs kept) and
 * its length: 1; 0 at the end; -E2BIG for a line longer than size - 1.
 * fgets() said neither where a NUL cut a line (its value then read short)
 * nor how long a line was (a NUL made a short line "longer than" it). */
static int next_line(FILE *f, char *buf, size_t size, size_t *length)
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (n + 1 >= size)
			return -E2BIG;
		buf[n++] = (char)c;
	}
	if (c == EOF && n == 0)
		return 0;
	buf[n] = '\0';
	*length = n;
	return 1;
}

/* Read `path`: "key = value" lines, '#' comments, blank lines. A key may
 * stand once (source: once per port). 0, -ENOENT when the file does not
 * exist, or -EINVAL (said on stderr). */
static int read_file(struct server_config *cfg, const char *path)
{
	bool seen[KEYS] = {false}, port_seen[HWDRV_PORTS_MAX] = {false};
	struct origin o = {.file = path};
	char line[4096];
	size_t length;
	int err = 0, got;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		if (errno == ENOENT)
			return -ENOENT;
		say("%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	while (!err && (got = next_line(f, line, sizeof(line), &length)) != 0) {
		char *text, *eq, *name, *value, *hash, *nul;
		const struct key *k;

		o.line++;
		if (got < 0) {
			say("%s:%u: a line longer than %zu bytes", path, o.line, sizeof(line) - 1);
			err = -EINVAL;
			break;
		}
		if ((nul = memchr(line, '\0', length)) != NULL) {
			say("%s:%u: a NUL byte at column %zu", path, o.line,
			    (size_t)(nul - line) + 1);
			err = -EINVAL;
			break;
		}
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		text = trim(line);
		if (*text == '\0')
			continue;
		eq = strchr(text, '=');
		if (eq == NULL) {
			say("%s:%u: '%s' is not 'key = value'", path, o.line, text);
			err = -EINVAL;
			break;
		}
		*eq = '\0';
		name = trim(text);
		value = trim(eq + 1);
		k = find_key(name);
		if (k == NULL) {
			say("%s:%u: unknown key '%s'", path, o.line, name);
			err = -EINVAL;
			break;
		}
		if (k->kind == KEY_SOURCE) {
			unsigned long port = strtoul(value, NULL, 10);

			if (port < HWDRV_PORTS_MAX && port_seen[port]) {
				err = refuse(&o, k, "port %lu given twice", port);
				break;
			}
			if (port < HWDRV_PORTS_MAX)
				port_seen[port] = true;
		} else if (seen[k - keys]) {
			err = refuse(&o, k, "given twice");
			break;
		}
		seen[k - keys] = true;
		err = set_key(cfg, k, value, &o);
	}
	if (!err && ferror(f)) {
		say("%s: %s", path, strerror(errno));
		err = -EINVAL;
	}
	fclose(f);
	return err;
}

/* $NAME/mpflow or $HOME/FALLBACK/mpflow into `out`. */
static int user_dir(char *out, size_t size, const char *name, const char *fallback)
{
	const char *base = getenv(name), *home = getenv("HOME");
	int n;

	if (base && *base == '/')
		n = snprintf(out, size, "%s/mpflow", base);
	else if (home && *home == '/' && fallback)
		n = snprintf(out, size, "%s/%s/mpflow", home, fallback);
	else
		return -1;
	return n > 0 && (size_t)n < size ? 0 : -1;
}

static int runtime_dir(char *out, size_t size)
{
	const char *env = getenv("MPFLOW_RUNTIME_DIR");
	int n;

	if (env && *env) {
		n = snprintf(out, size, "%s", env);
		return n > 0 && (size_t)n < size ? 0 : -1;
	}
	if (geteuid() == 0)
		return snprintf(out, size, "/run/mpflow") > 0 ? 0 : -1;
	return user_dir(out, size, "XDG_RUNTIME_DIR", NULL);
}

static int state_dir(char *out, size_t size)
{
	if (geteuid() == 0)
		return snprintf(out, size, "/var/lib/mpflow") > 0 ? 0 : -1;
	return user_dir(out, size, "XDG_STATE_HOME", ".local/state");
}

static int config_dir(char *out, size_t size)
{
	if (geteuid() == 0)
		return snprintf(out, size, "/etc/mpflow") > 0 ? 0 : -1;
	return user_dir(out, size, "XDG_CONFIG_HOME", ".config");
}

static void defaults(struct server_config *cfg)
{
	*cfg = (struct server_config){
		.instance = "default",
		.backend = "soft",
		.max_rules = 65536,
		.max_clients = 256,
		.client_max_queues = 64,
		.user_max_slow_rules = 64,
		.user_max_masks = 8,
		.busy_poll_us = 50,
		.request_ring_bytes = 256u * 1024u,
		.completion_ring_bytes = 512u * 1024u,
		.log_level = LOG_LEVEL_INFO,
		.counter_interval_ms = 1000,
		.device = {.ports = 1,
			   .queues = 4,
			   .vfs = 0,
			   .device_port = 1,
			   .groups = 1,
			   .workers = 1},
	};
}

/* The getopt table: every key, then the command line's own options. */
static void long_options(struct option *out, char *shorts)
{
	size_t n = 0;

	for (size_t i = 0; i < KEYS; i++) {
		bool flag = keys[i].kind == KEY_BOOL;

		out[n++] = (struct option){keys[i].name, flag ? no_argument : required_argument,
					   NULL, OPT_KEY + (int)i};
		if (keys[i].short_name) {
			*shorts++ = keys[i].short_name;
			if (!flag)
				*shorts++ = ':';
		}
	}
	out[n++] = (struct option){"instance", required_argument, NULL, OPT_INSTANCE};
	out[n++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	out[n++] = (struct option){"no-config", no_argument, NULL, OPT_NO_CONFIG};
	out[n++] = (struct option){"check-config", no_argument, NULL, OPT_CHECK_CONFIG};
	out[n++] = (struct option){"verbose", no_argument, NULL, 'v'};
	out[n++] = (struct option){"quiet", no_argument, NULL, 'q'};
	out[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
	out[n] = (struct option){NULL, 0, NULL, 0};
	strcpy(shorts, "i:vqh");
}

/* What the command line says beyond the keys. */
struct command {
	bool check, help, no_config;
	const char *config, *instance;
};

/*
 * One pass over the command line. With `cfg` NULL it only learns the
 * instance and the file to read (and refuses a bad instance name); with
 * `cfg` it applies every key. 0 or 2 (a usage error, said).
 */
static int command_line(struct server_config *cfg, struct command *cmd, int argc, char **argv)
{
	struct option options[KEYS + 8];
	char shorts[2 * KEYS + 8];
	struct origin o = {0};
	int opt;

	long_options(options, shorts);
	optind = 0; /* glibc: start again, from argv[1] */
	opterr = cfg != NULL && !reloading;
	while ((opt = getopt_long(argc, argv, shorts, options, NULL)) != -1) {
		if (opt == 'i' || opt == OPT_INSTANCE) {
			if (!*optarg || strchr(optarg, '/') || strlen(optarg) >= 32) {
				say("--instance: a name of 1 to 31 "
				    "characters, without '/'");
				return 2;
			}
			cmd->instance = optarg;
			continue;
		}
		if (cfg == NULL) {
			if (opt == OPT_CONFIG)
				cmd->config = optarg;
			else if (opt == OPT_NO_CONFIG)
				cmd->no_config = true;
			else if (opt == OPT_CHECK_CONFIG)
				cmd->check = true;
			else if (opt == OPT_HELP || opt == 'h')
				cmd->help = true;
			continue;
		}
		if (opt >= OPT_KEY && opt < OPT_KEY + (int)KEYS) {
			const struct key *k = &keys[opt - OPT_KEY];

			if (set_key(cfg, k, k->kind == KEY_BOOL ? "yes" : optarg, &o) != 0)
				return 2;
			continue;
		}
		for (size_t i = 0; i < KEYS; i++)
			if (keys[i].short_name && keys[i].short_name == opt) {
				const struct key *k = &keys[i];

				if (set_key(cfg, k, k->kind == KEY_BOOL ? "yes" : optarg, &o) != 0)
					return 2;
				opt = 0;
			}
		switch (opt) {
		case 0:
		case OPT_CONFIG:
		case OPT_NO_CONFIG:
		case OPT_CHECK_CONFIG:
		case OPT_HELP:
		case 'h':
			break;
		case 'v':
			cfg->log_level = LOG_LEVEL_DEBUG;
			break;
		case 'q':
			cfg->log_level = LOG_LEVEL_WARN;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (cfg && optind != argc) {
		say("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	return 0;
}

/* Defaults that depend on other keys, and checks across keys. */
static int finish(struct server_config *cfg)
{
	struct mpf_flow_error error;

	if (!cfg->runtime_dir[0] && runtime_dir(cfg->runtime_dir, sizeof(cfg->runtime_dir))) {
		say("no runtime directory: set runtime-dir, "
		    "MPFLOW_RUNTIME_DIR or XDG_RUNTIME_DIR");
		return 2;
	}
	if (!cfg->state_dir[0] && state_dir(cfg->state_dir, sizeof(cfg->state_dir)) == 0)
		cfg->state_dir_default = true;
	if (!cfg->state_dir[0]) {
		say("no state directory: set state-dir, "
		    "XDG_STATE_HOME or HOME");
		return 2;
	}
	if (!hwdrv_backend_known(cfg->backend)) {
		say("backend %s: no such backend in this build (built in: %s)", cfg->backend,
		    hwdrv_backend_names());
		return 2;
	}
	for (unsigned p = 0; p < HWDRV_PORTS_MAX; p++) {
		if (cfg->sources[p][0] && p >= cfg->device.ports) {
			if (cfg->source_from[p][0])
				say("%s: source: port %u: the device has %u port(s)",
				    cfg->source_from[p], p, cfg->device.ports);
			else
				say("--source: port %u: the device has %u port(s)", p,
				    cfg->device.ports);
			return 2;
		}
		if (cfg->sources[p][0] &&
		    hwdrv_source_check(cfg->sources[p], cfg->device.ports,
				       cfg->source_from[p][0] ? cfg->source_from[p] : NULL,
				       &error) != 0) {
			say("%s", error.message);
			return 2;
		}
		cfg->device.sources[p] = cfg->sources[p][0] ? cfg->sources[p] : NULL;
		cfg->device.source_from[p] = cfg->source_from[p][0] ? cfg->source_from[p] : NULL;
	}
	cfg->device.dump_dir = cfg->dump_dir[0] ? cfg->dump_dir : NULL;
	cfg->device.device_name = cfg->device_name[0] ? cfg->device_name : NULL;
	if (!cfg->client_max_rules)
		cfg->client_max_rules = cfg->max_rules;
	return 0;
}

/* The configuration as the file would say it. */
static void print(FILE *out, const struct server_config *cfg)
{
	fprintf(out, "# " SERVER_NAME " instance %s: the effective configuration\n", cfg->instance);
	if (cfg->config_path[0])
		fprintf(out, "# read from %s and the command line\n", cfg->config_path);
	else
		fprintf(out, "# from the command line (no configuration file)\n");
	for (size_t i = 0; i < KEYS; i++) {
		const struct key *k = &keys[i];
		const uint8_t *field = (const uint8_t *)cfg + k->offset;

		switch ((enum key_kind)k->kind) {
		case KEY_TEXT:
		case KEY_GROUP:
			if (*field)
				fprintf(out, "%s = %s\n", k->name, (const char *)field);
			else
				fprintf(out, "# %s: not set\n", k->name);
			break;
		case KEY_NUMBER:
		case KEY_POW2: {
			uint32_t v = k->width == 1   ? *field
				     : k->width == 2 ? *(const uint16_t *)(const void *)field
						     : *(const uint32_t *)(const void *)field;

			if (k->offset == AT(device.rxq_bytes) && v == 0)
				fprintf(out, "# %s: the backend's default\n", k->name);
			else
				fprintf(out, "%s = %u\n", k->name, v);
			break;
		}
		case KEY_BOOL:
			fprintf(out, "%s = %s\n", k->name,
				*(const bool *)(const void *)field ? "yes" : "no");
			break;
		case KEY_LEVEL:
			fprintf(out, "%s = %s\n", k->name,
				cfg->log_level >= LOG_LEVEL_WARN &&
						cfg->log_level <= LOG_LEVEL_DEBUG
					? level_names[cfg->log_level - LOG_LEVEL_WARN]
					: "warning");
			break;
		case KEY_SOURCE:
			for (unsigned p = 0; p < HWDRV_PORTS_MAX; p++)
				if (cfg->sources[p][0])
					fprintf(out, "%s = %u=%s\n", k->name, p, cfg->sources[p]);
			break;
		}
	}
}

/* Defaults, the file, the command line, then what follows from them. */
/* Read the configuration: the file, then the command line over it. `again`:
 * at a SIGHUP, the path the start read a --config file from (absolute: a
 * daemon's working directory is / by then; the start read a relative one
 * from where it was started), NULL at the start. */
static int load(struct server_config *cfg, int argc, char **argv, struct command *cmd,
		const char *again)
{
	int err;

	*cmd = (struct command){0};
	defaults(cfg);
	cfg->argc = argc;
	cfg->argv = argv;
	if (command_line(NULL, cmd, argc, argv) != 0)
		return 2;
	if (cmd->help)
		return 0;
	/* The instance first: the file's name depends on it. */
	if (cmd->instance)
		snprintf(cfg->instance, sizeof(cfg->instance), "%s", cmd->instance);
	if (cmd->config && cmd->no_config) {
		say("--config and --no-config");
		return 2;
	}
	if (cmd->config) {
		/* A relative path made absolute as it is (no link resolved: a
		 * link the operator points elsewhere is read anew). */
		char here[PATH_MAX] = "";
		int n;

		if (again)
			n = snprintf(cfg->config_path, sizeof(cfg->config_path), "%s", again);
		else if (cmd->config[0] != '/' && getcwd(here, sizeof(here)) == NULL)
			n = -1;
		else
			n = snprintf(cfg->config_path, sizeof(cfg->config_path), "%s%s%s", here,
				     here[0] ? "/" : "", cmd->config);
		if (n < 0 || (size_t)n >= sizeof(cfg->config_path)) {
			say("--config %s: its path is too long, or the working directory unknown",
			    cmd->config);
			return 2;
		}
		err = read_file(cfg, cfg->config_path);
		if (err == -ENOENT)
			say("--config %s: no such file", cfg->config_path);
		if (err)
			return 2;
	} else if (!cmd->no_config) {
		char dir[PATH_MAX - 64];

		if (config_dir(dir, sizeof(dir)) == 0) {
			snprintf(cfg->config_path, sizeof(cfg->config_path), "%s/%s.conf", dir,
				 cfg->instance);
			err = read_file(cfg, cfg->config_path);
			if (err == -ENOENT)
				cfg->config_path[0] = '\0';
			else if (err)
				return 2;
		}
	}
	if (command_line(cfg, cmd, argc, argv) != 0)
		return 2;
	return finish(cfg);
}

int config_load(struct server_config *cfg, int argc, char **argv)
{
	struct command cmd;
	int rc = load(cfg, argc, argv, &cmd, NULL);

	if (rc)
		return rc;
	if (cmd.help) {
		usage(stdout);
		return 1;
	}
	if (cmd.check) {
		print(stdout, cfg);
		return 1;
	}
	return 0;
}

/* systemd: the reload is over (READY=1), and what became of it. */
static void notify_reload_done(const char *said)
{
	char state[sizeof(((struct server_config *)0)->config_path) + 128];

	snprintf(state, sizeof(state), "READY=1\nSTATUS=%s", said);
	notify_systemd(state);
}

void config_reload(struct server *s)
{
	struct server_config *now = &s->config, *next = malloc(sizeof(*next));
	const char *path = now->config_path[0] ? now->config_path : NULL;
	char said[sizeof(now->config_path) + 96];
	struct command cmd;
	unsigned waiting = 0;
	int rc;

	if (next == NULL) {
		log_warnx("SIGHUP: no memory to read the configuration again");
		return;
	}
	notify_systemd("RELOADING=1");
	reloading = true;
	rc = load(next, now->argc, now->argv, &cmd, path);
	reloading = false;
	/* What became of it goes to the log, and to systemd's status line
	 * (`systemctl status`) for whoever sent the signal. */
	if (rc != 0) {
		snprintf(said, sizeof(said),
			 "SIGHUP: the configuration %s does not read: nothing changed",
			 path ? path : "(command line)");
		log_warnx("%s", said);
		free(next);
		notify_reload_done(said);
		return;
	}
	for (size_t i = 0; i < KEYS; i++) {
		const struct key *k = &keys[i];
		size_t size = k->kind == KEY_TEXT || k->kind == KEY_GROUP ? k->max
			      : k->kind == KEY_SOURCE			  ? sizeof(now->sources)
			      : k->kind == KEY_BOOL			  ? sizeof(bool)
			      : k->kind == KEY_LEVEL			  ? sizeof(int)
									  : k->width;
		uint8_t *a = (uint8_t *)now + k->offset, *b = (uint8_t *)next + k->offset;

		if (k->kind == KEY_GROUP)
			size = sizeof(now->allow_group_name);
		if (memcmp(a, b, size) == 0)
			continue;
		if (k->live) {
			memcpy(a, b, size);
			log_info("SIGHUP: %s changed", k->name);
		} else {
			log_warnx("SIGHUP: %s changed: it takes effect at the next start", k->name);
			waiting++;
		}
	}
	if (strcmp(now->instance, next->instance) != 0)
		log_warnx("SIGHUP: the instance name cannot change");
	log_reopen(now->log_level);
	loop_set_timer(s);
	snprintf(said, sizeof(said), "SIGHUP: configuration %s read again%s",
		 path ? path : "(command line only)",
		 waiting ? "; some changes wait for the next start" : "");
	log_info("%s", said);
	free(next);
	notify_reload_done(said);
}
