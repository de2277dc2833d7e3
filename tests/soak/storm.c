/*
 * storm.c - the connection storm: 2,000 connections opened and closed as
 * fast as possible by a few processes while 8 workers keep working on
 * shared objects (the soak's operations, without kills). Three in four
 * connections do the handshake and one ping; the fourth connects and closes
 * at once. The workers must see no error, every storm connection must
 * succeed, and afterwards the server must answer with its connections and
 * parked waiters back to the baseline.
 *
 *     storm [--connections N] [--stormers N] [--agorad PATH]
 *
 * Prints one line of text and one of JSON: connections, time, rate, and
 * the workers' operations during the storm. Exits 1 on any error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "soak.h"

#define MAX_STORMERS 64
#define SETTLE_TIMEOUT 10.0
#define END_TIMEOUT 60.0

/* Connect to the socket and close at once, without a word. */
static int bare_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int rc =
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* One stormer: @n connections, every fourth a bare one. */
static int storm(sk_shared *sh, const char *sock, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (i % 4 == 3) {
			int rc = bare_connect(sock);
			if (rc < 0) {
				atomic_fetch_add(&sh->storm_failures, 1);
				fprintf(stderr, "storm: connect: %s\n",
					strerror(-rc));
			}
			continue;
		}
		agora_client *c = agora_client_new();
		int rc = c ? agora_client_connect_env(c) : AGORA_ENOMEM;
		if (rc == 0)
			rc = agora_ping(c);
		if (rc != 0) {
			atomic_fetch_add(&sh->storm_failures, 1);
			fprintf(stderr, "storm: connection %u: %s: %s\n", i,
				agora_errname(rc), c ? agora_errmsg(c) : "");
		}
		agora_client_free(c);
	}
	return 0;
}

static pid_t spawn_stormer(sk_shared *sh, const char *sock, unsigned n)
{
	pid_t parent = getpid();

	fflush(NULL);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(125);
	_exit(storm(sh, sock, n));
}

/* Wait for @pid up to @deadline; true when it exited 0. */
static bool reap_ok(pid_t pid, double deadline)
{
	int status = 0;
	pid_t got;

	while ((got = waitpid(pid, &status, WNOHANG)) == 0 &&
	       sk_now() < deadline)
		sk_sleep(0.002);
	if (got != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return false;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Wait (bounded) until stats @field is @want. */
static bool settle(agora_client *c, const char *field, int64_t want,
		   int64_t *got)
{
	double deadline = sk_now() + SETTLE_TIMEOUT;

	while ((*got = sk_stats_int(c, field)) != want && sk_now() < deadline)
		sk_sleep(0.005);
	return *got == want;
}

static bool parse_count(const char *s, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || *end != '\0' || s[0] == '-' || v < 1 || v > max)
		return false;
	*ret = (unsigned)v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connections", required_argument, NULL, 'n' },
		{ "stormers", required_argument, NULL, 's' },
		{ "agorad", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned total = 2000, nstormers = 4;
	const char *agorad = NULL;
	pid_t workers[SK_WORKERS], stormers[MAX_STORMERS];
	sk_server srv;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n':
			if (!parse_count(optarg, 10000000, &total)) {
				fprintf(stderr, "storm: --connections %s?\n",
					optarg);
				return 2;
			}
			break;
		case 's':
			if (!parse_count(optarg, MAX_STORMERS, &nstormers)) {
				fprintf(stderr, "storm: --stormers %s?\n",
					optarg);
				return 2;
			}
			break;
		case 'a':
			agorad = optarg;
			break;
		case 'h':
			printf("usage: storm [--connections N (2000)] "
			       "[--stormers N (4)] [--agorad PATH]\n");
			return 0;
		default:
			fprintf(stderr, "usage: storm [--connections N] "
					"[--stormers N] [--agorad PATH]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	sk_shared *sh = sk_shared_new();
	if (sh == NULL || sk_server_start(&srv, agorad) < 0)
		return 1;
	agora_client *c = agora_client_new();
	if (c == NULL || agora_client_connect_env(c) != 0 ||
	    sk_objects_create(c) < 0) {
		fprintf(stderr, "storm: cannot set up: %s\n",
			c ? agora_errmsg(c) : "out of memory");
		sk_server_stop(&srv);
		return 1;
	}
	int64_t conns0 = sk_stats_int(c, "connections"), got = 0;

	/* The workers run until told to stop; start the storm once they
	 * are all connected. */
	sh->deadline = sk_now() + 86400;
	for (int i = 0; i < SK_WORKERS; i++)
		workers[i] = sk_worker_spawn(sh, i, 0);
	if (!settle(c, "connections", conns0 + SK_WORKERS, &got))
		sk_error(sh,
			 "only %lld connections before the storm, not "
			 "%lld",
			 (long long)got, (long long)(conns0 + SK_WORKERS));

	uint64_t ops0 = sk_total_ops(sh);
	double start = sk_now();
	unsigned bare = 0;
	for (unsigned i = 0; i < nstormers; i++) {
		unsigned n = total / nstormers + (i < total % nstormers);
		bare += n / 4; /* storm(): every fourth */
		stormers[i] = spawn_stormer(sh, srv.sock, n);
	}
	for (unsigned i = 0; i < nstormers; i++)
		if (!reap_ok(stormers[i], start + END_TIMEOUT))
			sk_error(sh, "stormer %u failed or hung", i);
	double elapsed = sk_now() - start;
	uint64_t ops = sk_total_ops(sh) - ops0;

	atomic_store(&sh->stop, 1);
	double end = sk_now() + END_TIMEOUT;
	for (int i = 0; i < SK_WORKERS; i++)
		if (!reap_ok(workers[i], end))
			sk_error(sh, "worker %d failed or hung", i);

	if (agora_ping(c) != 0)
		sk_error(sh, "the server does not answer after the storm: %s",
			 agora_errmsg(c));
	else if (!settle(c, "connections", conns0, &got))
		sk_error(sh, "%lld connections after the storm, not %lld",
			 (long long)got, (long long)conns0);
	else if (!settle(c, "waiters", 0, &got))
		sk_error(sh, "%lld parked waiters after the storm",
			 (long long)got);
	sk_objects_drop(c);
	agora_client_free(c);
	if (sk_server_stop(&srv) < 0)
		sk_error(sh, "agorad did not stop cleanly");

	uint64_t failures = atomic_load(&sh->storm_failures);
	printf("storm: %u connections (%u bare) by %u processes in %.2f s "
	       "(%.0f/s) while %d workers did %llu operations; %llu failed "
	       "connections, %llu worker errors, %llu violations\n",
	       total, bare, nstormers, elapsed, (double)total / elapsed,
	       SK_WORKERS, (unsigned long long)ops,
	       (unsigned long long)failures, (unsigned long long)sh->errors,
	       (unsigned long long)sh->violations);
	printf("{\"test\":\"storm\",\"connections\":%u,\"stormers\":%u,"
	       "\"seconds\":%.3f,\"connections_per_second\":%.0f,"
	       "\"workers\":%d,\"worker_operations\":%llu,"
	       "\"failed_connections\":%llu,\"worker_errors\":%llu,"
	       "\"violations\":%llu}\n",
	       total, nstormers, elapsed, (double)total / elapsed, SK_WORKERS,
	       (unsigned long long)ops, (unsigned long long)failures,
	       (unsigned long long)sh->errors,
	       (unsigned long long)sh->violations);
	if (sh->have_first)
		printf("storm: first problem: %s\n", sh->first);
	return failures == 0 && sh->errors == 0 && sh->violations == 0 ? 0 : 1;
}
