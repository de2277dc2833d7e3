/*
 * floor - the raw socket ping-pong floor: what one round trip over a Unix
 * socket costs with no protocol at all, to hold Agora's figures against.
 *
 *   floor server PATH [--cpu N]
 *       listen on the Unix socket PATH, print "floor: listening on PATH",
 *       echo every byte back to its sender from one epoll loop (as agorad
 *       has one loop), until SIGTERM or SIGINT.
 *   floor client PATH [--clients LIST] [--depth LIST] [--duration S]
 *                     [--cpu-client N] [--pin LABEL] [--quiet]
 *       the bench.h cells of op "ping": each unit writes @depth 32-byte
 *       frames in one write and reads the @depth frames back.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity, accept4 */
#endif
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"

#define FRAME 32
#define MAX_DEPTH 1024
#define MAX_LIST 16

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	stopping = 1;
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -1;
	strcpy(sa->sun_path, path);
	return 0;
}

static int serve(const char *path, int cpu)
{
	struct sockaddr_un sa;
	struct epoll_event ev, evs[64];
	struct sigaction act = { 0 };
	char buf[65536];
	int lfd, ep;

	if (bench_pin(cpu) < 0 || unix_addr(path, &sa) < 0) {
		fprintf(stderr, "floor: bad CPU or path\n");
		return 1;
	}
	act.sa_handler = on_stop;
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	unlink(path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 512) < 0) {
		fprintf(stderr, "floor: cannot listen on %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("floor: listening on %s\n", path);
	fflush(stdout);
	while (!stopping) {
		int n = epoll_wait(ep, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t k;

			if (fd == lfd) {
				int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

				if (c < 0)
					continue;
				ev.events = EPOLLIN;
				ev.data.fd = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				continue;
			}
			k = read(fd, buf, sizeof(buf));
			if (k <= 0) {
				close(fd);
				continue;
			}
			/* A client never has more than its batch in flight,
			 * so the socket buffer always takes the echo. */
			if (write(fd, buf, (size_t)k) != k)
				close(fd);
		}
	}
	unlink(path);
	return 0;
}

struct client {
	int fd;
	int depth;
	char buf[FRAME * MAX_DEPTH];
};

static void *client_setup(const bench_cell *cell, int index, void *ud,
			  char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct client *cl = calloc(1, sizeof(*cl));

	if (cl == NULL || unix_addr(ud, &sa) < 0) {
		snprintf(err, errlen, "out of memory or bad path");
		free(cl);
		return NULL;
	}
	cl->depth = cell->depth;
	cl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cl->fd < 0 ||
	    connect(cl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "connect %s: %s", (char *)ud,
			 strerror(errno));
		free(cl);
		return NULL;
	}
	memset(cl->buf, 'x', sizeof(cl->buf));
	return cl;
}

static int client_unit(void *state, uint64_t seq, char *err, size_t errlen)
{
	struct client *cl = state;
	size_t want = (size_t)FRAME * (size_t)cl->depth, got = 0;

	if (write(cl->fd, cl->buf, want) != (ssize_t)want) {
		snprintf(err, errlen, "write: %s", strerror(errno));
		return -1;
	}
	while (got < want) {
		ssize_t k = read(cl->fd, cl->buf + got, want - got);

		if (k <= 0) {
			snprintf(err, errlen, "read: %s",
				 k == 0 ? "closed" : strerror(errno));
			return -1;
		}
		got += (size_t)k;
	}
	return cl->depth;
}

static void client_teardown(void *state)
{
	struct client *cl = state;

	close(cl->fd);
	free(cl);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "clients", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'd' },
		{ "duration", required_argument, NULL, 'D' },
		{ "cpu", required_argument, NULL, 'S' },
		{ "cpu-client", required_argument, NULL, 'C' },
		{ "pin", required_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	int clients[MAX_LIST] = { 1, 8, 32 }, nclients = 3;
	int depths[MAX_LIST] = { 1 }, ndepths = 1;
	int cpu = -1, cpu_client = -1, o, failures = 0;
	double duration = 1.0;
	const char *pin = "none";
	bool quiet = false;

	if (argc < 3 || (strcmp(argv[1], "server") != 0 &&
			 strcmp(argv[1], "client") != 0)) {
		fprintf(stderr, "usage: floor server PATH [--cpu N]\n"
				"       floor client PATH [--clients LIST] "
				"[--depth LIST] [--duration S]\n"
				"                         [--cpu-client N] "
				"[--pin LABEL] [--quiet]\n");
		return 2;
	}
	optind = 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			nclients = bench_parse_ints(optarg, clients, MAX_LIST);
			break;
		case 'd':
			ndepths = bench_parse_ints(optarg, depths, MAX_LIST);
			break;
		case 'D':
			duration = strtod(optarg, NULL);
			break;
		case 'S':
			cpu = atoi(optarg);
			break;
		case 'C':
			cpu_client = atoi(optarg);
			break;
		case 'p':
			pin = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return 2;
		}
	}
	if (nclients < 0 || ndepths < 0 || !(duration > 0)) {
		fprintf(stderr,
			"floor: bad --clients, --depth or --duration\n");
		return 2;
	}
	if (strcmp(argv[1], "server") == 0)
		return serve(argv[2], cpu);

	signal(SIGPIPE, SIG_IGN);
	if (!quiet)
		bench_print_header(stderr);
	for (int di = 0; di < ndepths; di++) {
		for (int ci = 0; ci < nclients; ci++) {
			bench_cell cell = {
				.system = "floor",
				.op = "ping",
				.transport = "unix",
				.pin = pin,
				.clients = clients[ci],
				.depth = depths[di] > MAX_DEPTH ? MAX_DEPTH
								: depths[di],
				.duration = duration,
				.cpu_client = cpu_client,
			};
			bench_worker w = { client_setup, client_unit,
					   client_teardown, argv[2] };
			bench_result r;

			if (bench_run(&cell, &w, &r) < 0) {
				fprintf(stderr, "floor: %d clients: %s\n",
					cell.clients, r.err);
				failures++;
				continue;
			}
			if (!quiet)
				bench_print_row(stderr, &cell, &r);
			bench_print_json(stdout, &cell, &r);
		}
	}
	return failures > 0 ? 1 : 0;
}
