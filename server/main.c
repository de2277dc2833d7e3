/*
 * main.c - agorad, the Agora daemon: flags, the authkey file, the
 * descriptor limit, and one embedded server run until SIGINT or SIGTERM
 * (SIGHUP reloads the TLS certificate).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ag_keyfile.h"
#include "agora_server.h"
#include "config.h"

#define MAX_LISTEN 16
/* The defaults of agora_server_config (agora_server.h). */
#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_MAX_UNAUTHENTICATED 64
/* Descriptors that are not connections: stdio, listeners, the loop's
 * epoll and pipes, the server's reserve descriptor, with room to spare. */
#define FD_RESERVE (16 + MAX_LISTEN)

static void usage(FILE *f)
{
	fputs("usage: agorad [--listen ADDRESS]... --authkey-file FILE "
	      "[--users FILE] [options]\n"
	      "       agorad [--listen ADDRESS]... --users FILE [options]\n"
	      "\n"
	      "Serve shared objects (lists, dicts, queues, values, locks, ...) "
	      "to Agora clients.\n"
	      "\n"
	      "  --listen ADDRESS        unix:PATH, tcp:HOST:PORT or "
	      "tls:HOST:PORT (port 0:\n"
	      "                          any; IPv6 as [::1]); repeatable.\n"
	      "                          Default: "
	      "unix:$XDG_RUNTIME_DIR/agora.sock, else\n"
	      "                          unix:/tmp/agora-$UID/agora.sock\n"
	      "  --authkey-file FILE     the shared key: the file's bytes less "
	      "one trailing\n"
	      "                          newline, at least 16 bytes; the file "
	      "must not be\n"
	      "                          readable by group or others\n"
	      "  --tls-cert FILE         the certificate chain (PEM) of tls: "
	      "listeners\n"
	      "  --tls-key FILE          its private key (PEM), not readable "
	      "by group or\n"
	      "                          others; both are re-read on SIGHUP\n"
	      "  --tls-client-ca FILE    require client certificates signed "
	      "by these CAs\n"
	      "  --users FILE            named users, each with its own key "
	      "and rights\n"
	      "                          (agorad(8), USERS); re-read on "
	      "SIGHUP\n"
	      "  --data-dir DIR          keep the objects in DIR: loaded at "
	      "start, every\n"
	      "                          change journaled (default: in memory "
	      "only)\n"
	      "  --fsync POLICY          always (answer once on disk), "
	      "everysec (lose at\n"
	      "                          most about a second on a machine "
	      "crash) or no\n"
	      "                          (default everysec)\n"
	      "  --data-repair           load a damaged data directory: keep "
	      "every record\n"
	      "                          before the damage, set the rest "
	      "aside\n"
	      "  --max-message BYTES     largest request after authentication "
	      "(default 64 MiB)\n"
	      "  --auth-timeout SECONDS  time a client has to authenticate "
	      "(default 5)\n"
	      "  --peer-timeout SECONDS  drop a TCP peer that stops answering "
	      "for that long\n"
	      "                          (keepalive probes, unacknowledged "
	      "data); 0: never\n"
	      "                          (default 30)\n"
	      "  --max-connections N     authenticated connections served at "
	      "once\n"
	      "                          (default 1024)\n"
	      "  --max-unauthenticated N connections still in the handshake "
	      "at once; one\n"
	      "                          more closes the oldest (default 64)\n"
	      "  --max-memory BYTES      bytes held for objects (default: no "
	      "limit)\n"
	      "  --max-items N           items per container (default: no "
	      "limit)\n"
	      "  --max-parked N          parked requests per connection "
	      "(default 10000)\n"
	      "  --max-output BYTES      unread answers before a connection is "
	      "cut off\n"
	      "                          (default 64 MiB)\n"
	      "  --max-txn N             conditions and calls of one "
	      "transaction\n"
	      "                          (default 1024)\n"
	      "  --unix-mode MODE        permission bits of Unix sockets, "
	      "octal, 0600 to\n"
	      "                          0777 (default 0600: the server's user "
	      "only)\n"
	      "  --unix-group GROUP      group of Unix sockets, a name or a "
	      "number\n"
	      "                          (with --unix-mode 0660: the group may "
	      "connect)\n"
	      "  --log-level LEVEL       error, warning, info or debug: the "
	      "least important\n"
	      "                          lines logged to stderr (default "
	      "info; debug adds\n"
	      "                          every connection accepted and "
	      "ended)\n"
	      "  --help                  this text\n"
	      "  --version               the version\n",
	      f);
}

/* The server's lines come as "LEVEL: text": "agorad: LEVEL: text". */
static void log_stderr(void *ud, const char *line)
{
	fprintf(stderr, "agorad: %s\n", line);
}

/* The --log-level names, in the order of their AGORA_LOG_* values. */
static const char *const log_levels[] = { "error", "warning", "info", "debug" };

/* AGORA_LOG_* of the --log-level @name; 0 when it is none. */
static int parse_log_level(const char *name)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcmp(name, log_levels[i]) == 0)
			return AGORA_LOG_ERROR + (int)i;
	return 0;
}

/*
 * Fit the connection limits of @cfg to the process's descriptor limit, so
 * that the server never runs out of descriptors for the connections it
 * admits: raise the soft limit toward the hard one as far as the limits
 * need, and if that is not enough lower --max-connections (and, if even
 * that is not enough, --max-unauthenticated), saying so in one line.
 */
static void fit_descriptor_limit(agora_server_config *cfg)
{
	unsigned long long conns = cfg->max_connections
				       ? cfg->max_connections
				       : DEFAULT_MAX_CONNECTIONS;
	unsigned long long unauth = cfg->max_unauthenticated
					? cfg->max_unauthenticated
					: DEFAULT_MAX_UNAUTHENTICATED;
	unsigned long long need = conns + unauth + FD_RESERVE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= need)
		return;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > rl.rlim_cur) {
		struct rlimit raised = rl;
		raised.rlim_cur =
		    rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need
			? need
			: rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl = raised;
		if (rl.rlim_cur >= need)
			return;
	}
	unsigned long long room =
	    rl.rlim_cur > FD_RESERVE + 2 ? rl.rlim_cur - FD_RESERVE : 2;
	if (unauth > room / 2) /* a tiny limit: split it */
		unauth = room / 2;
	if (conns > room - unauth)
		conns = room - unauth;
	fprintf(stderr,
		"agorad: warning: the descriptor limit is %llu (ulimit -n, "
		"LimitNOFILE=): serving at most %llu authenticated and %llu "
		"unauthenticated connections\n",
		(unsigned long long)rl.rlim_cur, conns, unauth);
	cfg->max_connections = (unsigned)conns;
	cfg->max_unauthenticated = (unsigned)unauth;
}

/* A decimal count from @min to @max into *ret; false when it is not. */
static bool parse_count(const char *s, unsigned long long min,
			unsigned long long max, unsigned long long *ret)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || s[0] == '-' || v < min ||
	    v > max)
		return false;
	*ret = v;
	return true;
}

/*
 * glibc raises its mmap threshold each time a large block is freed (up to
 * 32 MiB), after which large buffers come from the heap and stay in RSS
 * when freed. A fixed threshold disables that: every block of 128 KiB or
 * more (a large request, an answer, a big value) is its own mapping, given
 * back to the system when freed, so RSS follows stats memory_total
 * (docs/reliability.md, "Memory"). The server also calls malloc_trim()
 * after large releases. A program that embeds the server may do the same.
 */
static void malloc_setup(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "authkey-file", required_argument, NULL, 'k' },
		{ "max-message", required_argument, NULL, 'm' },
		{ "auth-timeout", required_argument, NULL, 't' },
		{ "peer-timeout", required_argument, NULL, 'P' },
		{ "max-connections", required_argument, NULL, 'c' },
		{ "max-unauthenticated", required_argument, NULL, 'U' },
		{ "max-memory", required_argument, NULL, 'M' },
		{ "max-items", required_argument, NULL, 'i' },
		{ "max-parked", required_argument, NULL, 'p' },
		{ "max-output", required_argument, NULL, 'o' },
		{ "max-txn", required_argument, NULL, 'X' },
		{ "unix-mode", required_argument, NULL, 'u' },
		{ "unix-group", required_argument, NULL, 'g' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "tls-client-ca", required_argument, NULL, 'A' },
		{ "users", required_argument, NULL, 'W' },
		{ "data-dir", required_argument, NULL, 'D' },
		{ "fsync", required_argument, NULL, 'F' },
		{ "data-repair", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	/* The numeric flags: the option letter, the range, where it goes. */
	const struct {
		int opt;
		const char *name;
		unsigned long long min, max;
	} counts[] = {
		{ 'm', "--max-message", 1024, 1ULL << 32 },
		{ 'c', "--max-connections", 1, 1000000 },
		{ 'U', "--max-unauthenticated", 1, 1000000 },
		{ 'M', "--max-memory", 1024, SIZE_MAX },
		{ 'i', "--max-items", 1, SIZE_MAX },
		{ 'p', "--max-parked", 1, 1000000000 },
		{ 'o', "--max-output", 4096, SIZE_MAX },
		{ 'X', "--max-txn", 1, 1000000 },
	};
	const char *listen[MAX_LISTEN];
	size_t nlisten = 0;
	const char *keyfile = NULL;
	agora_server_config cfg = { 0 };
	char defaddr[512], err[512];
	uint8_t *key = NULL;
	size_t keylen = 0;
	unsigned long long v;
	int c;

	malloc_setup();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		size_t k = 0;
		while (k < sizeof(counts) / sizeof(counts[0]) &&
		       counts[k].opt != c)
			k++;
		if (k < sizeof(counts) / sizeof(counts[0])) {
			if (!parse_count(optarg, counts[k].min, counts[k].max,
					 &v)) {
				fprintf(stderr,
					"agorad: %s %s: want a whole number "
					"from %llu to %llu\n",
					counts[k].name, optarg, counts[k].min,
					counts[k].max);
				return 2;
			}
			switch (c) {
			case 'm':
				cfg.max_message = (size_t)v;
				break;
			case 'c':
				cfg.max_connections = (unsigned)v;
				break;
			case 'U':
				cfg.max_unauthenticated = (unsigned)v;
				break;
			case 'M':
				cfg.max_memory = (size_t)v;
				break;
			case 'i':
				cfg.max_items = (size_t)v;
				break;
			case 'p':
				cfg.max_parked = (unsigned)v;
				break;
			case 'o':
				cfg.max_output = (size_t)v;
				break;
			case 'X':
				cfg.max_txn = (unsigned)v;
				break;
			}
			continue;
		}
		switch (c) {
		case 'l':
			if (nlisten == MAX_LISTEN) {
				fprintf(
				    stderr,
				    "agorad: at most %d --listen addresses\n",
				    MAX_LISTEN);
				return 2;
			}
			listen[nlisten++] = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'W':
			cfg.users_file = optarg;
			break;
		case 'D':
			cfg.data_dir = optarg;
			break;
		case 'R':
			cfg.data_repair = true;
			break;
		case 'F':
			if (strcmp(optarg, "always") == 0)
				cfg.fsync_policy = AGORA_FSYNC_ALWAYS;
			else if (strcmp(optarg, "everysec") == 0)
				cfg.fsync_policy = AGORA_FSYNC_EVERYSEC;
			else if (strcmp(optarg, "no") == 0)
				cfg.fsync_policy = AGORA_FSYNC_NO;
			else {
				fprintf(stderr,
					"agorad: --fsync %s: want always, "
					"everysec or no\n",
					optarg);
				return 2;
			}
			break;
		case 'u': {
			char *end;
			errno = 0;
			unsigned long m = strtoul(optarg, &end, 8);
			if (errno || end == optarg || *end != '\0' ||
			    optarg[0] == '-' || m > 0777 ||
			    (m & 0600) != 0600) {
				fprintf(stderr,
					"agorad: --unix-mode %s: want octal "
					"permission bits from 0600 to 0777 "
					"(the owner keeps read and write)\n",
					optarg);
				return 2;
			}
			cfg.unix_mode = (unsigned)m;
			break;
		}
		case 'g':
			cfg.unix_group = optarg;
			break;
		case 'C':
			cfg.tls_cert = optarg;
			break;
		case 'K':
			cfg.tls_key = optarg;
			break;
		case 'A':
			cfg.tls_client_ca = optarg;
			break;
		case 'L':
			cfg.log_level = parse_log_level(optarg);
			if (cfg.log_level == 0) {
				fprintf(stderr,
					"agorad: --log-level %s: want error, "
					"warning, info or debug\n",
					optarg);
				return 2;
			}
			break;
		case 't': {
			char *end;
			cfg.auth_timeout = strtod(optarg, &end);
			if (end == optarg || *end != '\0' ||
			    !(cfg.auth_timeout > 0 &&
			      cfg.auth_timeout < 86400)) {
				fprintf(
				    stderr,
				    "agorad: --auth-timeout %s: want seconds "
				    "above 0\n",
				    optarg);
				return 2;
			}
			break;
		}
		case 'P': {
			char *end;
			double t = strtod(optarg, &end);
			if (end == optarg || *end != '\0' ||
			    !(t >= 0 && t <= 86400)) {
				fprintf(stderr,
					"agorad: --peer-timeout %s: want "
					"seconds from 0 (never) to 86400\n",
					optarg);
				return 2;
			}
			/* The config says "never" with a negative value:
			 * its 0 is the default. */
			cfg.peer_timeout = t > 0 ? t : -1;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("agorad %s (protocol 1)\n",
			       AGORA_VERSION_STRING);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "agorad: unexpected argument \"%s\"\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (cfg.data_dir == NULL &&
	    (cfg.fsync_policy != AGORA_FSYNC_EVERYSEC || cfg.data_repair)) {
		fprintf(stderr, "agorad: --fsync and --data-repair need "
				"--data-dir DIR\n");
		return 2;
	}
	if (keyfile == NULL && cfg.users_file == NULL) {
		fprintf(stderr, "agorad: --authkey-file FILE (or --users FILE) "
				"is required\n");
		usage(stderr);
		return 2;
	}
	if (keyfile != NULL && ag_keyfile_read(keyfile, AG_KEYFILE_SERVER, &key,
					       &keylen, err, sizeof(err)) < 0) {
		fprintf(stderr, "agorad: error: %s\n", err);
		return 1;
	}
	if (nlisten == 0) {
		if (agora_default_address(defaddr, sizeof(defaddr), err,
					  sizeof(err)) < 0) {
			fprintf(stderr, "agorad: error: %s\n", err);
			ag_keyfile_free(key, keylen);
			return 1;
		}
		listen[nlisten++] = defaddr;
	}

	/* A client that vanishes mid-write must not kill the daemon; the
	 * server sends with MSG_NOSIGNAL, this covers everything else. */
	signal(SIGPIPE, SIG_IGN);
	/* A file size limit makes writes fail with EFBIG (the journal
	 * refuses changes, STORAGE) instead of killing the server. */
	signal(SIGXFSZ, SIG_IGN);
	fit_descriptor_limit(&cfg);

	cfg.listen = listen;
	cfg.nlisten = nlisten;
	cfg.key = key;
	cfg.keylen = keylen;
	static const int stop[] = { SIGINT, SIGTERM };
	cfg.signals = stop;
	cfg.nsignals = 2;
	cfg.reload_signal = SIGHUP;
	cfg.log = log_stderr;

	agora_server *s;
	if (agora_server_new(&cfg, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "agorad: error: %s\n", err);
		ag_keyfile_free(key, keylen);
		return 1;
	}
	ag_keyfile_free(key, keylen);
	for (size_t i = 0; agora_server_address(s, i); i++)
		printf("agorad: listening on %s\n", agora_server_address(s, i));
	fflush(stdout);

	int rc = agora_server_run(s);
	agora_server_free(s);
	return rc < 0 ? 1 : 0;
}
