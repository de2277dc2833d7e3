/*
 * test_flood.c - what a client without the key can do to agorad, and the
 * end of a server with much to say:
 *
 *   - connections still in the handshake are limited apart from the
 *     authenticated ones: one too many closes the oldest, and none of them
 *     takes an authenticated connection's place;
 *   - an unauthenticated flood (thousands of connections that send
 *     nothing, re-opened as the server closes them) under a descriptor
 *     limit of 4096 and of 1024 leaves agorad under 10 % CPU and its log
 *     under 1 MB, and a client with the key connects and is answered
 *     within a second every time it tries;
 *   - an embedded server out of descriptors (EMFILE) neither spins nor
 *     floods its log, and serves again once the flood ends;
 *   - on SIGTERM every one of 10,000 parked calls of a connection is
 *     answered SHUTDOWN before the connection closes.
 *
 * The flooder is a forked process with its own (raised) descriptor limit;
 * agorad gets the limit under test (soft and hard, as systemd's
 * LimitNOFILE= sets it) from a shell that runs `ulimit -n` and then execs
 * it, so the test process's own limit is left alone (valgrind would refuse
 * to change it anyway).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "agora_server.h"
#include "harness.h"

#define FLOOD_CONNS 3000     /* connections the flooder keeps trying */
#define FLOOD_SECONDS 5.0    /* the window measured */
#define MAX_CPU 0.10         /* of one core, over the window */
#define MAX_LOG (1 << 20)    /* bytes agorad may log in the test */
#define MAX_CONNECT_TIME 1.0 /* connect + ping of a keyed client */
#define PROBE_PAUSE_MS 100   /* between keyed clients: pacing, not sync */
#define PARKED 10000         /* agorad's default --max-parked */

/*
 * The CPU figure is meaningless when agorad runs instrumented (an ASan
 * build), and the test process's own connect-and-ping is too slow under
 * valgrind to hold to a second: those two assertions are skipped then.
 */
static bool cpu_checked(void)
{
	return !agh_under_asan() && !agh_under_valgrind() &&
	       getenv("AGORA_TEST_SLOW") == NULL;
}

static bool latency_checked(void)
{
	return !agh_under_valgrind() && getenv("AGORA_TEST_SLOW") == NULL;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* utime + stime of @pid in seconds. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_msg(n > 0, "read %s", path);
	buf[n] = '\0';
	/* Fields after the command, which is in parentheses: state is the
	 * 3rd field, utime the 14th and stime the 15th. */
	char *p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	unsigned long long ut = 0, st = 0;
	ck_assert_int_eq(sscanf(p + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
				"%*u %llu %llu",
				&ut, &st),
			 2);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static off_t file_size(const char *path)
{
	struct stat st;
	ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path,
		      strerror(errno));
	return st.st_size;
}

/* Print the first lines of the log at @path to stderr, for the record. */
static void show_log_head(const char *path, int lines)
{
	FILE *f = fopen(path, "r");
	char line[600];

	if (f == NULL)
		return;
	while (lines-- > 0 && fgets(line, sizeof(line), f) != NULL)
		fprintf(stderr, "    %s", line);
	fclose(f);
}

/* ---- the flooder ---- */

typedef struct flooder {
	pid_t pid;
	int go_fd;     /* the test writes the socket path here */
	int report_fd; /* the flooder writes its counts here */
} flooder;

typedef struct flood_report {
	unsigned long long opened; /* connections that got in */
	unsigned long long closed; /* of them, closed by the server */
	unsigned long long again;  /* connects refused: backlog full */
	int peak;                  /* connections open at once */
} flood_report;

/* Open one non-blocking connection to @sun; -1 when the server's backlog
 * is full (or another error). */
static int flood_connect(const struct sockaddr_un *sun, int ep)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.fd = fd };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The flooder's body: keep up to @n connections that send nothing; each
 * the server closes is opened again at once, and those the backlog refused
 * are tried again every millisecond, for @seconds.
 */
static void flood(const char *path, int n, double seconds, int report_fd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct epoll_event evs[256];
	flood_report rep = { 0 };
	int open_now = 0;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		_exit(3);
	double end = agh_now() + seconds;
	while (agh_now() < end) {
		while (open_now < n) {
			if (flood_connect(&sun, ep) < 0) {
				rep.again++;
				break;
			}
			open_now++;
			rep.opened++;
		}
		if (open_now > rep.peak)
			rep.peak = open_now;
		int k = epoll_wait(ep, evs, 256, 1);
		for (int i = 0; i < k; i++) {
			char b;
			if (read(evs[i].data.fd, &b, 1) > 0)
				continue; /* the server never writes first */
			close(evs[i].data.fd);
			open_now--;
			rep.closed++;
		}
	}
	if (write(report_fd, &rep, sizeof(rep)) != sizeof(rep))
		_exit(4);
	_exit(0);
}

/* Fork the flooder now, with this process's descriptor limit raised as far
 * as it goes; it waits for the socket path from flooder_go(). */
static void flooder_start(flooder *f, int n, double seconds)
{
	int go[2], rep[2];
	pid_t parent = getpid();

	ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(rep, O_CLOEXEC), 0);
	f->pid = fork();
	ck_assert_msg(f->pid >= 0, "fork: %s", strerror(errno));
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(5);
		close(go[1]);
		close(rep[0]);
		struct rlimit rl;
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur != RLIM_INFINITY &&
		    (rlim_t)n + 32 > rl.rlim_cur)
			n = (int)rl.rlim_cur - 32;
		char path[128] = "";
		ssize_t got = read(go[0], path, sizeof(path) - 1);
		if (got <= 0)
			_exit(got == 0 ? 0 : 6); /* not needed after all */
		path[got] = '\0';
		flood(path, n, seconds, rep[1]);
	}
	close(go[0]);
	close(rep[1]);
	f->go_fd = go[1];
	f->report_fd = rep[0];
}

static void flooder_go(flooder *f, const char *sock)
{
	size_t len = strlen(sock);
	ck_assert_int_eq(write(f->go_fd, sock, len), (ssize_t)len);
	close(f->go_fd);
	f->go_fd = -1;
}

static flood_report flooder_end(flooder *f)
{
	flood_report rep;

	agh_wait_ok(f->pid);
	ck_assert_int_eq(read(f->report_fd, &rep, sizeof(rep)),
			 (ssize_t)sizeof(rep));
	close(f->report_fd);
	return rep;
}

/*
 * Start agorad (agh_server_start) under a descriptor limit of @n, soft
 * and hard, or of the hard limit if that is lower; returns the limit set.
 * A shell script in /tmp sets it and execs $AGORAD.
 */
static rlim_t start_agorad_limited(agh_server *s, rlim_t n)
{
	const char *agorad = getenv("AGORAD");
	char script[96], *saved;
	struct rlimit rl;

	ck_assert_ptr_nonnull(agorad);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n)
		n = rl.rlim_max;
	snprintf(script, sizeof(script), "/tmp/agora-flood-nofile-%d.sh",
		 (int)getpid());
	FILE *f = fopen(script, "w");
	ck_assert_msg(f != NULL, "%s: %s", script, strerror(errno));
	fprintf(f, "#!/bin/sh\nulimit -n %llu || exit 126\nexec '%s' \"$@\"\n",
		(unsigned long long)n, agorad);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(script, 0700), 0);
	saved = strdup(agorad);
	ck_assert_ptr_nonnull(saved);
	setenv("AGORAD", script, 1);
	agh_server_start(s);
	setenv("AGORAD", saved, 1);
	free(saved);
	unlink(script);
	return n;
}

/* Send what this process writes to stderr, and what children started now
 * inherit, to @path; returns the saved stderr for stderr_restore(). */
static int stderr_to(const char *path)
{
	int saved = dup(2);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_ge(saved, 0);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(dup2(fd, 2), 2);
	close(fd);
	return saved;
}

static void stderr_restore(int saved)
{
	ck_assert_int_eq(dup2(saved, 2), 2);
	close(saved);
}

/* A client with the key: connect and ping, within a deadline. Returns the
 * seconds it took. */
static double keyed_connect_and_ping(const agh_server *s)
{
	double t0 = agh_now();
	agora_client *c = agora_client_new();

	ck_assert_ptr_nonnull(c);
	int rc = agora_client_connect(c, s->address, s->key, AGH_KEYLEN);
	ck_assert_msg(rc == 0,
		      "a client with the key could not connect: %s: %s",
		      agora_errname(rc), agora_errmsg(c));
	AGH_OK(c, agora_ping(c));
	double took = agh_now() - t0;
	agora_client_free(c);
	return took;
}

static void wait_stats_at_least(agora_client *c, const char *field, int64_t n);

/* The server and flooder of the running test: static, so that the
 * harness's exit handler can still reach the server after a failure. */
static agh_server srv;

/*
 * Flood agorad started under a descriptor limit of @nofile and hold it to
 * the promises of the file's head comment.
 */
static void flood_under_limit(rlim_t nofile)
{
	char logpath[96];
	flooder f;

	/* Under valgrind (which traces agorad and the shell that sets its
	 * limit, and keeps descriptors of its own below the hard limit) the
	 * limit cannot be set as asked, and the CPU and latency figures mean
	 * nothing. The embedded server under 64 descriptors still runs the
	 * EMFILE path there. */
	if (agh_under_valgrind()) {
		printf("under valgrind: the flood at %llu descriptors is not "
		       "run\n",
		       (unsigned long long)nofile);
		return;
	}
	snprintf(logpath, sizeof(logpath), "/tmp/agora-flood-log-%d",
		 (int)getpid());
	flooder_start(&f, FLOOD_CONNS, FLOOD_SECONDS + 1.0);
	int saved = stderr_to(logpath);
	nofile = start_agorad_limited(&srv, nofile);
	stderr_restore(saved);
	agora_client *by = agh_connect(&srv);

	flooder_go(&f, srv.sock);
	/* The flood is on once the handshake slots (64) are taken. */
	wait_stats_at_least(by, "connections", 1 + 64);

	double t0 = agh_now(), c0 = cpu_seconds(srv.pid);
	double worst = 0;
	int probes = 0;
	while (agh_now() - t0 < FLOOD_SECONDS) {
		double took = keyed_connect_and_ping(&srv);
		if (took > worst)
			worst = took;
		probes++;
		if (latency_checked())
			ck_assert_msg(took < MAX_CONNECT_TIME,
				      "a client with the key took %.3f s to "
				      "connect and be answered during the "
				      "flood (probe %d)",
				      took, probes);
		pause_ms(PROBE_PAUSE_MS);
	}
	double cpu = (cpu_seconds(srv.pid) - c0) / (agh_now() - t0);
	AGH_OK(by, agora_ping(by)); /* the authenticated one was kept */

	flood_report rep = flooder_end(&f);
	agh_server_stop(&srv);
	agora_client_free(by);
	off_t logged = file_size(logpath);

	fprintf(stderr,
		"flood under a descriptor limit of %llu: %llu connections "
		"opened and %llu closed by the server in %.1f s (%d open at "
		"most, %llu connects refused by the full backlog); agorad "
		"used %.1f %% CPU and logged %lld bytes; %d keyed clients, "
		"the slowest connected and was answered in %.3f s\n",
		(unsigned long long)nofile, rep.opened, rep.closed,
		FLOOD_SECONDS + 1.0, rep.peak, rep.again, cpu * 100,
		(long long)logged, probes, worst);
	show_log_head(logpath, 4);
	unlink(logpath);

	/* It was a flood: thousands of connections, and the server closed
	 * them (else the numbers above say nothing). */
	ck_assert_msg(rep.opened >= 2000 && rep.closed >= 1000,
		      "the flooder opened only %llu connections (%llu closed)",
		      rep.opened, rep.closed);
	ck_assert_int_ge(probes, 10);
	ck_assert_msg(logged < MAX_LOG, "agorad logged %lld bytes",
		      (long long)logged);
	if (cpu_checked())
		ck_assert_msg(cpu < MAX_CPU,
			      "agorad used %.1f %% of a CPU during the flood",
			      cpu * 100);
}

START_TEST(an_unauthenticated_flood_under_4096_descriptors_keeps_nobody_out)
{
	flood_under_limit(4096);
}
END_TEST

START_TEST(an_unauthenticated_flood_under_1024_descriptors_keeps_nobody_out)
{
	flood_under_limit(1024);
}
END_TEST

/* ---- the two limits, one by one ---- */

typedef struct stats_at_least {
	agora_client *c;
	const char *field;
	int64_t n;
} stats_at_least;

static bool stats_reached(void *ud)
{
	stats_at_least *w = ud;
	return agh_stats_int(w->c, w->field) >= w->n;
}

static void wait_stats_at_least(agora_client *c, const char *field, int64_t n)
{
	stats_at_least w = { c, field, n };
	agh_wait_until(stats_reached, &w, field);
}

static void proof(const agh_server *s, const char *label,
		  const unsigned char *a, const unsigned char *b,
		  unsigned char out[32])
{
	unsigned char msg[15 + 32 + 32];
	unsigned int len = 0;

	memcpy(msg, label, 15);
	memcpy(msg + 15, a, 32);
	memcpy(msg + 15 + 32, b, 32);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), s->key, AGH_KEYLEN, msg,
				   sizeof(msg), out, &len));
}

/* Send hello on @r and read the answer; its nonce into @snonce. */
static void raw_hello(agh_raw *r, const unsigned char cnonce[32],
		      unsigned char snonce[32])
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 1, "hello", 2);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_bin_with_body(&pk, cnonce, 32);
	agh_raw_send_sbuf(r, &sb);
	msgpack_sbuffer_destroy(&sb);
	msgpack_unpacked_init(&m);
	ck_assert_int_eq(agh_raw_read(r, &m, AGH_RAW_TIMEOUT), 1);
	msgpack_object res = agh_ok_result(m.data, 1);
	ck_assert_int_eq(res.type, MSGPACK_OBJECT_MAP);
	bool found = false;
	for (uint32_t i = 0; i < res.via.map.size; i++) {
		msgpack_object_kv *kv = &res.via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR &&
		    kv->key.via.str.size == 5 &&
		    memcmp(kv->key.via.str.ptr, "nonce", 5) == 0 &&
		    kv->val.type == MSGPACK_OBJECT_BIN &&
		    kv->val.via.bin.size == 32) {
			memcpy(snonce, kv->val.via.bin.ptr, 32);
			found = true;
		}
	}
	ck_assert_msg(found, "hello's answer has no nonce");
	msgpack_unpacked_destroy(&m);
}

/* Send auth (msgid 2) with the right proof on @r; the answer is read by
 * the caller. */
static void raw_send_auth(agh_raw *r, const agh_server *s,
			  const unsigned char cnonce[32],
			  const unsigned char snonce[32])
{
	unsigned char p[32];
	msgpack_sbuffer sb;
	msgpack_packer pk;

	proof(s, "agora-v1 client", snonce, cnonce, p);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 2, "auth", 1);
	msgpack_pack_bin_with_body(&pk, p, 32);
	agh_raw_send_sbuf(r, &sb);
	msgpack_sbuffer_destroy(&sb);
}

START_TEST(connections_in_the_handshake_are_limited_apart_and_the_oldest_goes)
{
	static const char *const flags[] = { "--max-connections", "2",
					     "--max-unauthenticated", "3",
					     NULL };
	unsigned char cnonce[32] = { 7 }, snonce[32];
	agh_raw *u[4];

	agh_server_start_args(&srv, flags);
	agora_client *by = agh_connect(&srv);

	/* Three connections that say nothing fill the handshake places;
	 * none of them counts toward --max-connections. */
	for (int i = 0; i < 3; i++)
		u[i] = agh_raw_connect(&srv);
	agh_wait_stats(by, "connections", 4);

	/* A fourth closes the oldest, without an answer. */
	u[3] = agh_raw_connect(&srv);
	agh_raw_expect_close(u[0]);
	agh_raw_free(u[0]);
	agh_wait_stats(by, "connections", 4);

	/* The others are still there: one says hello, another authenticates
	 * (the second and last authenticated place). */
	raw_hello(u[1], cnonce, snonce);
	agh_raw_handshake(u[2], &srv);

	/* At the limit: the hello'd one's auth is LIMIT, and so is a new
	 * client's first request. */
	raw_send_auth(u[1], &srv, cnonce, snonce);
	agh_raw_expect_error(u[1], 2, "LIMIT");
	agh_raw_expect_close(u[1]);
	agh_raw_free(u[1]);
	agora_client *c = agora_client_new();
	ck_assert_ptr_nonnull(c);
	AGH_CALL_EQ(c,
		    agora_client_connect(c, srv.address, srv.key, AGH_KEYLEN),
		    AGORA_ELIMIT);
	agora_client_free(c);

	/* A place freed is a place a keyed client gets, however many are in
	 * the handshake. */
	agh_raw_free(u[2]);
	agh_wait_stats(by, "connections", 2);
	c = agh_connect(&srv);
	AGH_OK(c, agora_ping(c));
	AGH_OK(by, agora_ping(by));
	agora_client_free(c);
	agh_raw_free(u[3]);
	agora_client_free(by);
	agh_server_stop(&srv);
}
END_TEST

/* ---- an embedded server out of descriptors ---- */

static void log_to_stderr(void *ud, const char *line)
{
	fprintf(stderr, "server: %s\n", line);
}

/* The child that serves: under @nofile descriptors, with limits far above
 * them, until SIGTERM. Reports through its exit status. */
static void serve_starved(const char *address, const unsigned char *key,
			  rlim_t nofile, int ready_fd)
{
	const char *listen[1] = { address };
	static const int stop[] = { SIGTERM };
	agora_server_config cfg;
	agora_server *s;
	char err[256];
	struct rlimit rl;

	/* The soft limit only: valgrind refuses to change the hard one. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		_exit(10);
	rl.rlim_cur = nofile;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		_exit(10);
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = listen;
	cfg.nlisten = 1;
	cfg.key = key;
	cfg.keylen = AGH_KEYLEN;
	cfg.max_connections = 1000;
	cfg.max_unauthenticated = 1000;
	cfg.signals = stop;
	cfg.nsignals = 1;
	cfg.log = log_to_stderr;
	if (agora_server_new(&cfg, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "agora_server_new: %s\n", err);
		_exit(11);
	}
	if (write(ready_fd, "r", 1) != 1)
		_exit(12);
	close(ready_fd);
	int rc = agora_server_run(s);
	agora_server_free(s);
	_exit(rc == 0 ? 0 : 13);
}

START_TEST(
    an_embedded_server_out_of_descriptors_neither_spins_nor_floods_its_log)
{
	char dir[64] = "/tmp/agora-starved-XXXXXX", sock[128], address[160];
	char logpath[160];
	unsigned char key[AGH_KEYLEN];
	int ready[2];
	flooder f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/agora.sock", dir);
	snprintf(address, sizeof(address), "unix:%s", sock);
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	ck_assert_int_eq(getrandom(key, sizeof(key), 0), (ssize_t)sizeof(key));
	flooder_start(&f, FLOOD_CONNS, 3.0);

	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	int saved = stderr_to(logpath);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(14);
		close(ready[0]);
		serve_starved(address, key, 64, ready[1]);
	}
	stderr_restore(saved);
	ck_assert_int_gt(pid, 0);
	close(ready[1]);
	char b;
	ck_assert_int_eq(read(ready[0], &b, 1), 1);
	close(ready[0]);

	flooder_go(&f, sock);
	double t0 = agh_now(), c0 = cpu_seconds(pid);
	flood_report rep = flooder_end(&f);
	double cpu = (cpu_seconds(pid) - c0) / (agh_now() - t0);

	/* The flood is over: its connections are gone, and so is the
	 * shortage. A client with the key gets in (within the harness's
	 * state deadline: the server may be in a pause). */
	agora_client *c = agora_client_new();
	ck_assert_ptr_nonnull(c);
	double deadline = agh_now() + AGH_STATE_TIMEOUT;
	int rc;
	while ((rc = agora_client_connect(c, address, key, AGH_KEYLEN)) != 0 &&
	       agh_now() < deadline)
		pause_ms(10);
	ck_assert_msg(rc == 0, "no client could connect after the flood: %s",
		      agora_errmsg(c));
	AGH_OK(c, agora_ping(c));
	agora_client_free(c);

	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	int status = agh_wait_pid(pid, AGH_STOP_TIMEOUT);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the server exited with status 0x%x", status);
	off_t logged = file_size(logpath);
	char head[512] = "";
	FILE *lf = fopen(logpath, "r");
	ck_assert_ptr_nonnull(lf);
	size_t hn = fread(head, 1, sizeof(head) - 1, lf);
	head[hn] = '\0';
	fclose(lf);
	fprintf(stderr,
		"embedded server under 64 descriptors, flooded: %llu "
		"connections opened in 3 s (%llu connects refused by the full "
		"backlog); it used %.1f %% CPU and logged %lld bytes\n",
		rep.opened, rep.again, cpu * 100, (long long)logged);
	show_log_head(logpath, 3);
	unlink(logpath);
	rmdir(dir);
	/* The server did run out of descriptors, and the flood found it
	 * full (its backlog refused connections). */
	ck_assert_msg(strstr(head, "Too many open files") != NULL,
		      "the server did not report EMFILE: %s", head);
	ck_assert_msg(rep.again > 0, "the flood never filled the backlog");
	ck_assert_msg(logged < 64 * 1024, "the server logged %lld bytes",
		      (long long)logged);
	if (cpu_checked())
		ck_assert_msg(cpu < MAX_CPU,
			      "the server used %.1f %% of a CPU while out of "
			      "descriptors",
			      cpu * 100);
}
END_TEST

/* ---- shutdown ---- */

/* Park @n blocking queue.get calls of @r on queue "q", msgids from 100. */
static void park_gets(agh_raw *r, int n)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 3, "open", 2);
	msgpack_pack_str_with_body(&pk, "queue", 5);
	msgpack_pack_str_with_body(&pk, "q", 1);
	agh_raw_send_sbuf(r, &sb);
	msgpack_unpacked_init(&m);
	ck_assert_int_eq(agh_raw_read(r, &m, AGH_RAW_TIMEOUT), 1);
	msgpack_object h = agh_ok_result(m.data, 3);
	ck_assert_int_eq(h.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	uint64_t handle = h.via.u64;
	msgpack_unpacked_destroy(&m);
	for (int i = 0; i < n; i++) {
		agh_pack_head(&pk, 100 + (uint32_t)i, "queue.get", 2);
		msgpack_pack_uint64(&pk, handle);
		msgpack_pack_true(&pk);
	}
	agh_raw_send_sbuf(r, &sb);
	msgpack_sbuffer_destroy(&sb);
}

/* Read @r until the server closes it; every message must be a SHUTDOWN
 * error answering one of msgids 100..100+n-1, each once. Returns how many
 * came. */
static int count_shutdowns(agh_raw *r, int n)
{
	unsigned char *seen = calloc((size_t)n, 1);
	msgpack_unpacked m;
	int got, count = 0;

	ck_assert_ptr_nonnull(seen);
	msgpack_unpacked_init(&m);
	while ((got = agh_raw_read(r, &m, AGH_RAW_TIMEOUT)) == 1) {
		msgpack_object *f = m.data.via.array.ptr;
		ck_assert_msg(m.data.type == MSGPACK_OBJECT_ARRAY &&
				  m.data.via.array.size == 4 &&
				  f[2].type == MSGPACK_OBJECT_ARRAY &&
				  f[2].via.array.size == 3,
			      "not an error response");
		msgpack_object name = f[2].via.array.ptr[1];
		ck_assert_msg(name.type == MSGPACK_OBJECT_STR &&
				  name.via.str.size == 8 &&
				  memcmp(name.via.str.ptr, "SHUTDOWN", 8) == 0,
			      "an answer other than SHUTDOWN");
		uint64_t id = f[1].via.u64;
		ck_assert_msg(id >= 100 && id < 100 + (uint64_t)n &&
				  !seen[id - 100],
			      "msgid %llu unexpected or answered twice",
			      (unsigned long long)id);
		seen[id - 100] = 1;
		count++;
	}
	ck_assert_msg(got == 0, "the server did not close the connection");
	msgpack_unpacked_destroy(&m);
	free(seen);
	return count;
}

START_TEST(sigterm_answers_each_of_10000_parked_calls_before_closing)
{
	agora_queue *q;

	agh_server_start(&srv);
	agora_client *by = agh_connect(&srv);
	AGH_OK(by, agora_queue_open(by, "q", 0, &q));
	agh_raw *big = agh_raw_connect(&srv), *small = agh_raw_connect(&srv);
	agh_raw_handshake(big, &srv);
	agh_raw_handshake(small, &srv);
	park_gets(big, PARKED);
	park_gets(small, 10);
	agh_wait_waiters(by, agora_queue_handle(q), PARKED + 10);

	/* SIGTERM, and only then read: the answers (about 300 KB) do not
	 * fit the socket's buffer, so the server must wait for the client
	 * to read them before it closes. */
	ck_assert_int_eq(kill(srv.pid, SIGTERM), 0);
	ck_assert_int_eq(count_shutdowns(big, PARKED), PARKED);
	ck_assert_int_eq(count_shutdowns(small, 10), 10);
	agh_raw_free(big);
	agh_raw_free(small);
	agora_queue_close(q); /* the server is gone: frees the proxy only */
	agora_client_free(by);
	agh_server_stop(&srv); /* it exits 0, having sent all */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("flood");

	signal(SIGPIPE, SIG_IGN);
	AGH_ADD_BARE(
	    s,
	    connections_in_the_handshake_are_limited_apart_and_the_oldest_goes);
	AGH_ADD_BARE(s,
		     sigterm_answers_each_of_10000_parked_calls_before_closing);
	AGH_ADD_BARE(
	    s,
	    an_embedded_server_out_of_descriptors_neither_spins_nor_floods_its_log);
	AGH_ADD_BARE(
	    s,
	    an_unauthenticated_flood_under_4096_descriptors_keeps_nobody_out);
	AGH_ADD_BARE(
	    s,
	    an_unauthenticated_flood_under_1024_descriptors_keeps_nobody_out);
	return agh_run_suite(s);
}
