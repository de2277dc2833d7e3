/*
 * harness.c - a real agorad per test and forked workers; see harness.h.
 *
 * Waiting for a child uses SIGCHLD blocked and sigtimedwait(), so every wait
 * ends at the event or at its deadline, never after a fixed sleep. The only
 * loops that look at the clock are those that ask the server for a state
 * (waiters, stats) until it is reached, pausing a millisecond between asks.
 *
 * If a test dies in the middle (Check's fork mode exits the test process on
 * a failed assertion, without teardown), an atexit handler kills the server
 * and removes its directory, and the server and workers, started with
 * PR_SET_PDEATHSIG, die with the test process anyway.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define AGH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AGH_ASAN 1
#endif
#endif
#ifndef AGH_ASAN
#define AGH_ASAN 0
#endif
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

agh_server agh_srv;
agora_client *agh_cli;

/* The running server, for the atexit cleanup. */
static agh_server *running;
static bool atexit_done;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void remove_files(agh_server *s)
{
	unlink(s->sock);
	unlink(s->keyfile);
	rmdir(s->dir);
}

/* Runs at exit of the test process: a server still running means the test
 * failed before stopping it. */
static void cleanup_at_exit(void)
{
	agh_server *s = running;

	if (!s || s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
	remove_files(s);
	running = NULL;
}

/*
 * Wait up to @timeout seconds for @pid. Returns 0 with *status set, -1 on
 * timeout, -2 when there is no such child.
 */
static int wait_child(pid_t pid, double timeout, int *status)
{
	sigset_t set, old;
	double deadline = now_s() + timeout;
	int rc = -1;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid) {
			rc = 0;
			break;
		}
		if (r < 0 && errno != EINTR) {
			rc = -2;
			break;
		}
		double left = deadline - now_s();
		if (left <= 0)
			break;
		struct timespec ts;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		sigtimedwait(&set, NULL, &ts);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "status 0x%x", status);
}

static void write_key(agh_server *s)
{
	size_t got = 0;

	while (got < AGH_KEYLEN) {
		ssize_t n = getrandom(s->key + got, AGH_KEYLEN - got, 0);
		ck_assert_msg(n > 0 || errno == EINTR, "getrandom: %s",
			      strerror(errno));
		if (n > 0)
			got += (size_t)n;
	}
	/* The key file loses one trailing newline; keep all 32 bytes. */
	if (s->key[AGH_KEYLEN - 1] == '\n')
		s->key[AGH_KEYLEN - 1] = 'k';

	int fd =
	    open(s->keyfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "open %s: %s", s->keyfile, strerror(errno));
	ck_assert_int_eq(fchmod(fd, 0600), 0);
	ck_assert_msg(write(fd, s->key, AGH_KEYLEN) == AGH_KEYLEN,
		      "write %s: %s", s->keyfile, strerror(errno));
	ck_assert_int_eq(close(fd), 0);
}

/* Exec agorad in the child; never returns. */
static void exec_server(const agh_server *s, const char *agorad, int out,
			const char *const *extra, pid_t parent)
{
	const char *argv[32];
	size_t n = 0;
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0 && devnull != 0) {
		dup2(devnull, 0);
		close(devnull);
	}
	if (dup2(out, 1) < 0)
		_exit(127);

	argv[n++] = agorad;
	argv[n++] = "--listen";
	argv[n++] = s->address;
	argv[n++] = "--authkey-file";
	argv[n++] = s->keyfile;
	for (size_t i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	execv(agorad, (char *const *)argv);
	fprintf(stderr, "harness: exec %s: %s\n", agorad, strerror(errno));
	_exit(127);
}

/* The address of the listening line "agorad: listening on tcp:..." in
 * @out into s->tcp_address; false when it is not there (whole) yet. */
static bool find_tcp_line(agh_server *s, const char *out)
{
	static const char head[] = "agorad: listening on ";
	const char *t = strstr(out, "agorad: listening on tcp:");
	const char *nl = t ? strchr(t, '\n') : NULL;
	size_t n;

	if (nl == NULL)
		return false;
	t += sizeof(head) - 1;
	n = (size_t)(nl - t);
	if (n >= sizeof(s->tcp_address))
		return false;
	memcpy(s->tcp_address, t, n);
	s->tcp_address[n] = '\0';
	return true;
}

/* Read the server's stdout until the listening line (and with @want_tcp
 * the line of its TCP listener too); true when seen. */
static bool await_listening(agh_server *s, char *out, size_t outlen,
			    bool want_tcp)
{
	char want[256];
	size_t len = 0;
	double deadline = now_s() + AGH_START_TIMEOUT;

	snprintf(want, sizeof(want), "agorad: listening on %s\n", s->address);
	out[0] = '\0';
	for (;;) {
		if (strstr(out, want) && (!want_tcp || find_tcp_line(s, out)))
			return true;
		double left = deadline - now_s();
		if (left <= 0 || len + 1 >= outlen)
			return false;
		struct pollfd p = { s->out_fd, POLLIN, 0 };
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		ssize_t n = read(s->out_fd, out + len, outlen - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false; /* the server closed stdout or died */
		len += (size_t)n;
		out[len] = '\0';
	}
}

void agh_server_start_args(agh_server *s, const char *const *extra_args)
{
	const char *agorad = getenv("AGORAD");
	char out[4096];
	int pipefd[2];

	ck_assert_msg(agorad && *agorad,
		      "AGORAD must name the agorad binary to test");
	memset(s, 0, sizeof(*s));
	s->out_fd = -1;
	if (!atexit_done) {
		atexit(cleanup_at_exit);
		atexit_done = true;
	}
	signal(SIGCHLD, SIG_DFL);

	snprintf(s->dir, sizeof(s->dir), "/tmp/agora-e2e-XXXXXX");
	ck_assert_msg(mkdtemp(s->dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(s->sock, sizeof(s->sock), "%s/agora.sock", s->dir);
	snprintf(s->keyfile, sizeof(s->keyfile), "%s/key", s->dir);
	snprintf(s->address, sizeof(s->address), "unix:%s", s->sock);
	write_key(s);

	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	/* Room for whatever the server logs while the test runs; the pipe
	 * is drained only when the server stops. */
	fcntl(pipefd[0], F_SETPIPE_SZ, 1 << 20);
	pid_t parent = getpid();
	pid_t pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		exec_server(s, agorad, pipefd[1], extra_args, parent);
	close(pipefd[1]);
	s->pid = pid;
	s->out_fd = pipefd[0];
	s->extra_args = extra_args;
	running = s;

	bool want_tcp = false;
	for (size_t i = 0; extra_args && extra_args[i]; i++)
		if (strncmp(extra_args[i], "tcp:", 4) == 0)
			want_tcp = true;
	if (!await_listening(s, out, sizeof(out), want_tcp)) {
		int status = 0;
		char how[64] = "still running";
		/* It may have closed stdout by exiting: give it a moment to
		 * become a zombie we can describe. */
		if (wait_child(s->pid, 2.0, &status) == 0) {
			describe_status(status, how, sizeof(how));
			s->pid = 0;
		}
		cleanup_at_exit();
		close(s->out_fd);
		s->out_fd = -1;
		remove_files(s);
		ck_abort_msg("agorad did not say 'agorad: listening on %s' "
			     "(%s); its stdout: \"%s\"",
			     s->address, how, out);
	}

	ck_assert_int_eq(setenv("AGORA_ADDRESS", s->address, 1), 0);
	ck_assert_int_eq(setenv("AGORA_AUTHKEY_FILE", s->keyfile, 1), 0);
	unsetenv("AGORA_AUTHKEY");
}

void agh_server_start(agh_server *s)
{
	agh_server_start_args(s, NULL);
}

void agh_server_restart(agh_server *s, int sig)
{
	const char *agorad = getenv("AGORAD");
	char out[4096];
	int pipefd[2], status = 0;

	ck_assert_int_gt(s->pid, 0);
	ck_assert_int_eq(kill(s->pid, sig), 0);
	ck_assert_msg(wait_child(s->pid, AGH_STOP_TIMEOUT, &status) == 0,
		      "agorad did not stop on signal %d", sig);
	s->pid = 0;
	close(s->out_fd);
	s->out_fd = -1;
	if (sig == SIGKILL)
		unlink(s->sock); /* as an init system's ExecStartPre would */

	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	fcntl(pipefd[0], F_SETPIPE_SZ, 1 << 20);
	pid_t parent = getpid();
	pid_t pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		exec_server(s, agorad, pipefd[1], s->extra_args, parent);
	close(pipefd[1]);
	s->pid = pid;
	s->out_fd = pipefd[0];
	ck_assert_msg(await_listening(s, out, sizeof(out), false),
		      "the new agorad did not listen on %s: \"%s\"", s->address,
		      out);
}

void agh_server_stop(agh_server *s)
{
	int status = 0;
	char how[64] = "";

	if (s->pid <= 0)
		return;
	ck_assert_int_eq(kill(s->pid, SIGTERM), 0);
	int rc = wait_child(s->pid, AGH_STOP_TIMEOUT, &status);
	if (rc == -1) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
	if (running == s)
		running = NULL;
	if (s->out_fd >= 0) {
		close(s->out_fd);
		s->out_fd = -1;
	}
	bool sock_left = access(s->sock, F_OK) == 0;
	remove_files(s);
	unsetenv("AGORA_ADDRESS");
	unsetenv("AGORA_AUTHKEY_FILE");

	ck_assert_msg(rc == 0, "agorad did not exit within %.0f s of SIGTERM",
		      AGH_STOP_TIMEOUT);
	describe_status(status, how, sizeof(how));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "agorad %s after SIGTERM, expected exit 0", how);
	ck_assert_msg(!sock_left, "agorad left its socket file %s behind",
		      s->sock);
}

void agh_server_kill(agh_server *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
		;
	s->pid = 0;
	if (running == s)
		running = NULL;
	if (s->out_fd >= 0) {
		close(s->out_fd);
		s->out_fd = -1;
	}
	remove_files(s);
	unsetenv("AGORA_ADDRESS");
	unsetenv("AGORA_AUTHKEY_FILE");
}

agora_client *agh_connect(const agh_server *s)
{
	agora_client *c = agora_client_new();

	ck_assert_ptr_nonnull(c);
	int rc = agora_client_connect(c, s->address, s->key, AGH_KEYLEN);
	if (rc != 0) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", agora_errmsg(c));
		agora_client_free(c);
		ck_abort_msg("connect %s: %s: %s", s->address,
			     agora_errname(rc), msg);
	}
	return c;
}

void agh_setup(void)
{
	agh_server_start(&agh_srv);
	agh_cli = agh_connect(&agh_srv);
}

void agh_teardown(void)
{
	agora_client_free(agh_cli);
	agh_cli = NULL;
	agh_server_stop(&agh_srv);
}

pid_t agh_spawn(agh_worker_fn fn, int idx, void *arg)
{
	pid_t parent = getpid();

	fflush(NULL);
	pid_t pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid > 0)
		return pid;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(125);
	agora_client *c = agora_client_new();
	if (!c) {
		fprintf(stderr, "worker %d: out of memory\n", (int)getpid());
		_exit(124);
	}
	int rc = agora_client_connect_env(c);
	if (rc != 0) {
		fprintf(stderr, "worker %d: connect: %s: %s\n", (int)getpid(),
			agora_errname(rc), agora_errmsg(c));
		agora_client_free(c);
		_exit(123);
	}
	rc = fn(c, idx, arg);
	agora_client_free(c);
	_exit(rc == 0 ? 0 : (rc > 0 && rc < 120 ? rc : 1));
}

int agh_wait_pid(pid_t pid, double timeout)
{
	int status = 0;
	int rc = wait_child(pid, timeout, &status);

	if (rc == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		ck_abort_msg("process %d did not end within %.0f s", (int)pid,
			     timeout);
	}
	ck_assert_msg(rc == 0, "process %d is not our child", (int)pid);
	return status;
}

void agh_wait_ok(pid_t pid)
{
	char how[64];
	int status = agh_wait_pid(pid, AGH_WORKER_TIMEOUT);

	describe_status(status, how, sizeof(how));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "worker %d %s, expected exit 0", (int)pid, how);
}

void agh_wait_all_ok(const pid_t *pids, int n)
{
	int failed = 0;
	char first[128] = "";
	double deadline = now_s() + AGH_WORKER_TIMEOUT;

	/* Reap every worker before failing, so none outlives the test. */
	for (int i = 0; i < n; i++) {
		int status = 0;
		double left = deadline - now_s();
		int rc = wait_child(pids[i], left > 0 ? left : 0, &status);
		if (rc == -1) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			if (!failed++)
				snprintf(first, sizeof(first),
					 "worker %d did not end in time",
					 (int)pids[i]);
			continue;
		}
		if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char how[64] = "is not our child";
			if (rc == 0)
				describe_status(status, how, sizeof(how));
			if (!failed++)
				snprintf(first, sizeof(first),
					 "worker %d %s, expected exit 0",
					 (int)pids[i], how);
		}
	}
	ck_assert_msg(failed == 0, "%d of %d workers failed; first: %s", failed,
		      n, first);
}

void agh_run_workers(int n, agh_worker_fn fn, void *arg, pid_t *ret_pids)
{
	pid_t pids[256];

	ck_assert_int_le(n, 256);
	for (int i = 0; i < n; i++)
		pids[i] = agh_spawn(fn, i, arg);
	agh_wait_all_ok(pids, n);
	if (ret_pids)
		memcpy(ret_pids, pids, (size_t)n * sizeof(pid_t));
}

/* ---- values ---- */

const agora_value *agh_map_find(agora_value map, const char *key)
{
	size_t klen = strlen(key);

	if (map.type != AGORA_MAP)
		return NULL;
	for (size_t i = 0; i < map.via.map.len; i++) {
		const agora_value *k = &map.via.map.items[i].key;
		if (k->type == AGORA_STR && k->via.str.len == klen &&
		    memcmp(k->via.str.ptr, key, klen) == 0)
			return &map.via.map.items[i].val;
	}
	return NULL;
}

int64_t agh_map_int(agora_value map, const char *key)
{
	const agora_value *v = agh_map_find(map, key);
	int64_t i = 0;

	ck_assert_msg(v != NULL, "no \"%s\" in the map", key);
	ck_assert_msg(agora_value_to_int(*v, &i) == 0,
		      "\"%s\" is not an integer", key);
	return i;
}

void agh_assert_ints(agora_value v, const int64_t *want, size_t n)
{
	char got[512];

	agora_value_format(v, got, sizeof(got));
	ck_assert_msg(v.type == AGORA_ARRAY, "expected an array, got %s", got);
	ck_assert_msg(v.via.array.len == n, "expected %zu items, got %s", n,
		      got);
	for (size_t i = 0; i < n; i++) {
		int64_t x = 0;
		ck_assert_msg(v.via.array.items[i].type == AGORA_INT ||
				  v.via.array.items[i].type == AGORA_UINT,
			      "item %zu is not an integer in %s", i, got);
		ck_assert_msg(agora_value_to_int(v.via.array.items[i], &x) ==
				      0 &&
				  x == want[i],
			      "item %zu: expected %lld in %s", i,
			      (long long)want[i], got);
	}
}

void agh_assert_int(agora_value v, int64_t want)
{
	char got[256];
	int64_t x = 0;

	agora_value_format(v, got, sizeof(got));
	ck_assert_msg((v.type == AGORA_INT || v.type == AGORA_UINT) &&
			  agora_value_to_int(v, &x) == 0 && x == want,
		      "expected %lld, got %s", (long long)want, got);
}

void agh_assert_str(agora_value v, const char *want)
{
	char got[256];

	agora_value_format(v, got, sizeof(got));
	ck_assert_msg(v.type == AGORA_STR && v.via.str.len == strlen(want) &&
			  memcmp(v.via.str.ptr, want, v.via.str.len) == 0,
		      "expected \"%s\", got %s", want, got);
}

void agh_ints(agora_value *items, const int64_t *ints, size_t n)
{
	for (size_t i = 0; i < n; i++)
		items[i] = agora_int(ints[i]);
}

/* ---- server state ---- */

int64_t agh_info_int(agora_client *c, uint32_t handle, const char *field)
{
	agora_value info;

	AGH_OK(c, agora_info(c, handle, &info));
	int64_t x = agh_map_int(info, field);
	agora_value_free(&info);
	return x;
}

int64_t agh_stats_int(agora_client *c, const char *field)
{
	agora_value st;

	AGH_OK(c, agora_stats(c, &st));
	int64_t x = agh_map_int(st, field);
	agora_value_free(&st);
	return x;
}

void agh_wait_waiters(agora_client *c, uint32_t handle, int64_t n)
{
	double deadline = now_s() + AGH_STATE_TIMEOUT;
	int64_t got;

	while ((got = agh_info_int(c, handle, "waiters")) != n) {
		ck_assert_msg(now_s() < deadline,
			      "handle %u: waiters stayed %lld, expected %lld",
			      handle, (long long)got, (long long)n);
		pause_ms(1);
	}
}

void agh_wait_stats(agora_client *c, const char *field, int64_t n)
{
	double deadline = now_s() + AGH_STATE_TIMEOUT;
	int64_t got;

	while ((got = agh_stats_int(c, field)) != n) {
		ck_assert_msg(now_s() < deadline,
			      "stats %s stayed %lld, expected %lld", field,
			      (long long)got, (long long)n);
		pause_ms(1);
	}
}

void agh_wait_info(agora_client *c, uint32_t handle, const char *field,
		   int64_t n)
{
	double deadline = now_s() + AGH_STATE_TIMEOUT;
	int64_t got;

	while ((got = agh_info_int(c, handle, field)) != n) {
		ck_assert_msg(now_s() < deadline,
			      "handle %u: info %s stayed %lld, expected %lld",
			      handle, field, (long long)got, (long long)n);
		pause_ms(1);
	}
}

void agh_wait_until(bool (*pred)(void *ud), void *ud, const char *what)
{
	double deadline = now_s() + AGH_STATE_TIMEOUT;

	while (!pred(ud)) {
		ck_assert_msg(now_s() < deadline,
			      "waited %.0f s in vain for %s", AGH_STATE_TIMEOUT,
			      what);
		pause_ms(1);
	}
}

double agh_now(void)
{
	return now_s();
}

/* ---- raw connections ---- */

agh_raw *agh_raw_connect(const agh_server *s)
{
	agh_raw *r = calloc(1, sizeof(*r));
	struct sockaddr_un sa;

	ck_assert_ptr_nonnull(r);
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(r->fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(s->sock), sizeof(sa.sun_path));
	memcpy(sa.sun_path, s->sock, strlen(s->sock) + 1);
	ck_assert_msg(connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
		      "connect %s: %s", s->sock, strerror(errno));
	return r;
}

void agh_raw_free(agh_raw *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

int agh_raw_send(agh_raw *r, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(r->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void agh_raw_send_sbuf(agh_raw *r, msgpack_sbuffer *sb)
{
	int rc = agh_raw_send(r, sb->data, sb->size);

	ck_assert_msg(rc == 0, "send: %s", strerror(-rc));
	msgpack_sbuffer_destroy(sb);
	msgpack_sbuffer_init(sb);
}

int agh_raw_read(agh_raw *r, msgpack_unpacked *m, double timeout)
{
	double deadline = now_s() + timeout;

	for (;;) {
		if (r->len > r->used) {
			size_t off = 0;
			msgpack_unpack_return u = msgpack_unpack_next(
			    m, r->buf + r->used, r->len - r->used, &off);
			if (u == MSGPACK_UNPACK_SUCCESS) {
				r->used += off;
				return 1;
			}
			ck_assert_msg(u == MSGPACK_UNPACK_CONTINUE,
				      "the server sent bytes that are not "
				      "MessagePack");
		}
		if (r->used == r->len)
			r->used = r->len = 0;
		double left = deadline - now_s();
		if (left <= 0)
			return -1;
		struct pollfd p = { r->fd, POLLIN, 0 };
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		if (r->len == sizeof(r->buf) && r->used > 0) {
			/* A message begun at the end: move it to the front. */
			memmove(r->buf, r->buf + r->used, r->len - r->used);
			r->len -= r->used;
			r->used = 0;
		}
		ck_assert_msg(r->len < sizeof(r->buf), "message too large");
		ssize_t n =
		    read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		ck_assert_msg(n > 0, "read: %s", strerror(errno));
		r->len += (size_t)n;
	}
}

void agh_pack_head(msgpack_packer *pk, uint32_t msgid, const char *method,
		   uint32_t nparams)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint8(pk, 0);
	msgpack_pack_uint32(pk, msgid);
	msgpack_pack_str_with_body(pk, method, strlen(method));
	msgpack_pack_array(pk, nparams);
}

msgpack_object agh_ok_result(msgpack_object o, uint32_t msgid)
{
	ck_assert_msg(o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 4,
		      "not a response");
	msgpack_object *f = o.via.array.ptr;
	bool err = f[2].type == MSGPACK_OBJECT_ARRAY &&
		   f[2].via.array.size == 3 &&
		   f[2].via.array.ptr[2].type == MSGPACK_OBJECT_STR;

	ck_assert_int_eq(f[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(f[0].via.u64, 1);
	ck_assert_int_eq(f[1].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(f[1].via.u64, msgid);
	ck_assert_msg(f[2].type == MSGPACK_OBJECT_NIL,
		      "request %u failed: %.*s", msgid,
		      err ? (int)f[2].via.array.ptr[2].via.str.size : 0,
		      err ? f[2].via.array.ptr[2].via.str.ptr : "");
	return f[3];
}

/* The value under the str key @key in the map @map; fails the test when
 * @map is not a map or has no such key. */
static const msgpack_object *raw_field(msgpack_object map, const char *key)
{
	ck_assert_int_eq(map.type, MSGPACK_OBJECT_MAP);
	for (uint32_t i = 0; i < map.via.map.size; i++) {
		msgpack_object k = map.via.map.ptr[i].key;
		if (k.type == MSGPACK_OBJECT_STR &&
		    k.via.str.size == strlen(key) &&
		    memcmp(k.via.str.ptr, key, k.via.str.size) == 0)
			return &map.via.map.ptr[i].val;
	}
	ck_abort_msg("no \"%s\" in the answer", key);
	return NULL;
}

/* HMAC-SHA256(key, label || a || b), the proofs of section 2. */
static void raw_proof(const agh_server *s, const char *label,
		      const unsigned char *a, const unsigned char *b,
		      unsigned char out[32])
{
	unsigned char msg[15 + 32 + 32];
	unsigned int len = 0;

	ck_assert_uint_eq(strlen(label), 15);
	memcpy(msg, label, 15);
	memcpy(msg + 15, a, 32);
	memcpy(msg + 15 + 32, b, 32);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), s->key, AGH_KEYLEN, msg,
				   sizeof(msg), out, &len));
	ck_assert_uint_eq(len, 32);
}

/* The result of the response to @msgid, which must come next and succeed;
 * it points into @m. */
static msgpack_object raw_result(agh_raw *r, msgpack_unpacked *m,
				 uint32_t msgid)
{
	ck_assert_int_eq(agh_raw_read(r, m, AGH_RAW_TIMEOUT), 1);
	return agh_ok_result(m->data, msgid);
}

void agh_raw_handshake(agh_raw *r, const agh_server *s)
{
	unsigned char cnonce[32], snonce[32], proof[32];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;
	const msgpack_object *f;

	for (int i = 0; i < 32; i++)
		cnonce[i] = (unsigned char)(i * 7 + 3);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 1, "hello", 2);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_bin_with_body(&pk, cnonce, 32);
	agh_raw_send_sbuf(r, &sb);

	msgpack_unpacked_init(&m);
	msgpack_object res = raw_result(r, &m, 1);
	f = raw_field(res, "nonce");
	ck_assert_int_eq(f->type, MSGPACK_OBJECT_BIN);
	ck_assert_uint_eq(f->via.bin.size, 32);
	memcpy(snonce, f->via.bin.ptr, 32);
	f = raw_field(res, "proof");
	ck_assert_int_eq(f->type, MSGPACK_OBJECT_BIN);
	ck_assert_uint_eq(f->via.bin.size, 32);
	raw_proof(s, "agora-v1 server", cnonce, snonce, proof);
	ck_assert_msg(memcmp(proof, f->via.bin.ptr, 32) == 0,
		      "the server's proof is not HMAC(key, label||cnonce||"
		      "snonce)");
	f = raw_field(res, "version");
	ck_assert_uint_eq(f->via.u64, 1);
	msgpack_unpacked_destroy(&m);

	raw_proof(s, "agora-v1 client", snonce, cnonce, proof);
	agh_pack_head(&pk, 2, "auth", 1);
	msgpack_pack_bin_with_body(&pk, proof, 32);
	agh_raw_send_sbuf(r, &sb);
	msgpack_sbuffer_destroy(&sb);

	msgpack_unpacked_init(&m);
	res = raw_result(r, &m, 2);
	ck_assert(res.type == MSGPACK_OBJECT_BOOLEAN && res.via.boolean);
	msgpack_unpacked_destroy(&m);
}

/* ---- processes and files ---- */

void agh_assert_no_children(void)
{
	pid_t r;
	int status = 0;

	while ((r = waitpid(-1, &status, WNOHANG)) < 0 && errno == EINTR)
		;
	if (r < 0 && errno == ECHILD)
		return;
	if (r > 0) {
		char how[64];
		describe_status(status, how, sizeof(how));
		ck_abort_msg("process %d was left unreaped (it %s)", (int)r,
			     how);
	}
	ck_abort_msg("a child process is still running (waitpid: %s)",
		     r == 0 ? "children left" : strerror(errno));
}

int agh_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_msg(d != NULL, "opendir /proc/self/fd: %s", strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

bool agh_path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int agh_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

TCase *agh_tcase_bare(Suite *s, const char *name, const TTest *fn)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 100);
	tcase_add_test(tc, fn);
	suite_add_tcase(s, tc);
	return tc;
}

TCase *agh_tcase(Suite *s, const char *name, const TTest *fn)
{
	TCase *tc = agh_tcase_bare(s, name, fn);

	tcase_add_checked_fixture(tc, agh_setup, agh_teardown);
	return tc;
}

bool agh_under_valgrind(void)
{
	return RUNNING_ON_VALGRIND != 0;
}

bool agh_under_asan(void)
{
	return AGH_ASAN != 0;
}

/* Read an error response named @name to @msgid. */
void agh_raw_expect_error(agh_raw *r, uint32_t msgid, const char *name)
{
	msgpack_unpacked m;

	msgpack_unpacked_init(&m);
	ck_assert_int_eq(agh_raw_read(r, &m, AGH_RAW_TIMEOUT), 1);
	msgpack_object o = m.data;
	ck_assert_msg(o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 4,
		      "not a response");
	msgpack_object *f = o.via.array.ptr;
	ck_assert_uint_eq(f[1].via.u64, msgid);
	ck_assert_msg(f[2].type == MSGPACK_OBJECT_ARRAY &&
			  f[2].via.array.size == 3,
		      "request %u succeeded; expected %s", msgid, name);
	msgpack_object n = f[2].via.array.ptr[1];
	ck_assert_msg(n.type == MSGPACK_OBJECT_STR &&
			  n.via.str.size == strlen(name) &&
			  memcmp(n.via.str.ptr, name, n.via.str.size) == 0,
		      "request %u: expected %s", msgid, name);
	msgpack_unpacked_destroy(&m);
}

/* Read until the server closes, within AGH_RAW_TIMEOUT. */
void agh_raw_expect_close(agh_raw *r)
{
	msgpack_unpacked m;
	int got;

	msgpack_unpacked_init(&m);
	while ((got = agh_raw_read(r, &m, AGH_RAW_TIMEOUT)) == 1)
		;
	msgpack_unpacked_destroy(&m);
	ck_assert_msg(got == 0, "the server did not close the connection");
}

static bool remove_keep_top;

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level == 0 && remove_keep_top)
		return 0;
	return remove(path);
}

int agh_remove_tree(const char *dir, bool keep_top)
{
	if (dir[0] == '\0')
		return 0;
	remove_keep_top = keep_top;
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* ---- a network namespace of the test's own ------------------------------ */

static char netns_name[64];

int agh_run(const char *cmd)
{
	int st = system(cmd);

	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void agh_netns_init(const char *prefix)
{
	snprintf(netns_name, sizeof(netns_name), "agora-%s-%d", prefix,
		 (int)getpid());
}

void agh_netns_delete(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "ip netns del %s >/dev/null 2>&1",
		 netns_name);
	agh_run(cmd);
}

bool agh_netns_enter(const char *who)
{
	char cmd[160], path[128];
	int fd;

	if (geteuid() != 0) {
		printf("%s: skipped: network namespaces need root\n", who);
		return false;
	}
	if (agh_run("ip -V >/dev/null 2>&1") != 0) {
		printf("%s: skipped: no `ip` command\n", who);
		return false;
	}
	agh_netns_delete();
	snprintf(cmd, sizeof(cmd), "ip netns add %s 2>&1", netns_name);
	if (agh_run(cmd) != 0) {
		printf("%s: skipped: `ip netns add` failed\n", who);
		return false;
	}
	snprintf(path, sizeof(path), "/run/netns/%s", netns_name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_msg(setns(fd, CLONE_NEWNET) == 0, "setns: %s",
		      strerror(errno));
	close(fd);
	ck_assert_int_eq(agh_run("ip link set lo up"), 0);
	return true;
}

/* With lo down nothing is routed to 127.0.0.1. (A qdisc that drops
 * everything would not do: TCP takes a drop in its own host's queue for
 * congestion, and never counts the keepalive probes it loses there.) */
void agh_netns_drop_all(void)
{
	ck_assert_int_eq(agh_run("ip link set lo down"), 0);
}

/* ---- data directories ---- */

char agh_datadir[64];
const char *agh_datadir_args[3];

void agh_datadir_make(void)
{
	snprintf(agh_datadir, sizeof(agh_datadir), "/tmp/agora-data-%s",
		 "XXXXXX");                 /* mkdtemp(3)'s template */
	if (mkdtemp(agh_datadir) == NULL) { /* 0700 */
		perror("mkdtemp");
		exit(1);
	}
	agh_datadir_args[0] = "--data-dir";
	agh_datadir_args[1] = agh_datadir;
	agh_datadir_args[2] = NULL;
}

void agh_datadir_remove(void)
{
	agh_remove_tree(agh_datadir, false);
}
