/*
 * test_log.c - what agorad logs (--log-level), read from its stderr as an
 * operator would: a connection accepted and ended with its peer at debug;
 * a wrong proof, and a client that gave up after the server's proof, with
 * the peer; a lock, owned permits and a barrier given back when their
 * holder is SIGKILLed, naming the object and the holder (its name escaped:
 * no name forges a line); a kill with who asked; only warnings and worse
 * at --log-level warning; a bad level
 * refused naming it. The key is printable here so that every test can
 * check that no line holds it.
 *
 * Each test starts its own agorad with stderr to a file (the harness
 * server, with a second --authkey-file that takes precedence), and waits
 * for the line it expects, never a fixed time.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agora_server.h"
#include "harness.h"

/* The key of every server here: printable, so that a grep finds it. */
static const char KEY[] = "logtest-printable-authkey-ABCDEF";
_Static_assert(sizeof(KEY) - 1 == AGH_KEYLEN, "a harness-sized key");
/* Another key of the same length: a client that holds the wrong one. */
static const char WRONG_KEY[] = "logtest-another-wrong-key-UVWXYZ";
_Static_assert(sizeof(WRONG_KEY) - 1 == AGH_KEYLEN, "a harness-sized key");

/* Long enough never to expire in a passing run, valgrind included. */
#define GENEROUS 60.0

static agh_server srv;
static char logpath[96], keypath[96];

/* ---- the server and its log ---------------------------------------------- */

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fchmod(fd, 0600), 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(close(fd), 0);
}

/* Start agorad with the printable key, a TCP listener too, and
 * --log-level @level (none when NULL), its stderr to logpath. */
static void start_logged(const char *level)
{
	const char *args[] = { "--listen", "tcp:127.0.0.1:0", "--authkey-file",
			       keypath,    "--log-level",     level,
			       NULL };

	if (level == NULL)
		args[4] = NULL;
	snprintf(logpath, sizeof(logpath), "/tmp/agora-log-%d.err",
		 (int)getpid());
	snprintf(keypath, sizeof(keypath), "/tmp/agora-log-%d.key",
		 (int)getpid());
	write_file(keypath, KEY);

	int saved = dup(2);
	int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(saved, 0);
	ck_assert_msg(fd >= 0, "open %s: %s", logpath, strerror(errno));
	ck_assert_int_eq(dup2(fd, 2), 2);
	close(fd);
	agh_server_start_args(&srv, args);
	ck_assert_int_eq(dup2(saved, 2), 2);
	close(saved);

	/* The harness made a random key: clients here use the server's. */
	memcpy(srv.key, KEY, AGH_KEYLEN);
	write_file(srv.keyfile, KEY);
}

/* The whole log so far, NUL-terminated; free() it. */
static char *read_log(void)
{
	FILE *f = fopen(logpath, "r");
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap);

	ck_assert_ptr_nonnull(buf);
	ck_assert_msg(f != NULL, "open %s: %s", logpath, strerror(errno));
	while ((n = fread(buf + len, 1, cap - 1 - len, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* The first line of @log holding every string of the NULL-terminated
 * @parts, copied into @out; false when there is none. */
static bool find_line(const char *log, const char *const *parts, char *out,
		      size_t outlen)
{
	for (const char *p = log; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[1024];
		bool all = true;

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		for (size_t i = 0; parts[i] != NULL && all; i++)
			all = strstr(line, parts[i]) != NULL;
		if (all) {
			snprintf(out, outlen, "%s", line);
			return true;
		}
		p += len + (nl ? 1 : 0);
	}
	return false;
}

/* Wait for a line holding each of the strings given (NULL-terminated);
 * fail the test with the log after AGH_STATE_TIMEOUT. Returns the line
 * in a static buffer. */
static const char *wait_line(const char *first, ...)
{
	static char line[1024];
	const char *parts[8];
	size_t n = 0;
	va_list ap;

	parts[n++] = first;
	va_start(ap, first);
	while (n < 7 && (parts[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	parts[n] = NULL;

	double deadline = agh_now() + AGH_STATE_TIMEOUT;
	for (;;) {
		char *log = read_log();
		bool found = find_line(log, parts, line, sizeof(line));
		if (found || agh_now() > deadline) {
			if (!found)
				fprintf(stderr, "the log:\n%s", log);
			free(log);
			ck_assert_msg(found,
				      "no line with \"%s\" and \"%s\" in "
				      "agorad's log",
				      parts[0], n > 1 ? parts[1] : "");
			return line;
		}
		free(log);
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
}

/* Stop the server (every line is written then) and check that no line
 * holds the key or a part of it. Returns the whole log; free() it. */
static char *stop_logged(void)
{
	agh_server_stop(&srv);
	char *log = read_log();
	ck_assert_msg(strstr(log, KEY) == NULL, "the log holds the key");
	ck_assert_msg(strstr(log, "printable-authkey") == NULL,
		      "the log holds a part of the key");
	unlink(keypath);
	unlink(logpath);
	return log;
}

/* "pid P uid U" of this process or of worker @pid: the peer the log
 * names. */
static const char *peer_of(pid_t pid, char *buf, size_t len)
{
	snprintf(buf, len, "pid %d uid %d", (int)pid, (int)getuid());
	return buf;
}

/* ---- workers ------------------------------------------------------------- */

/* Hold the lock named @arg, then wait to be killed. */
static int hold_lock(agora_client *c, int idx, void *arg)
{
	agora_lock *l;
	bool got = false;

	AGH_WCALL(c, agora_lock_open(c, arg, &l));
	AGH_WCALL(c, agora_lock_acquire(l, GENEROUS, &got));
	AGH_WCHECK(got);
	pause();
	return 0;
}

/* Hold one permit of the owned semaphore "slots" (2 permits). */
static int hold_permit(agora_client *c, int idx, void *arg)
{
	agora_semaphore *s;
	bool got = false;

	AGH_WCALL(c, agora_semaphore_open(c, "slots", 2, true, &s));
	AGH_WCALL(c, agora_semaphore_acquire(s, GENEROUS, &got));
	AGH_WCHECK(got);
	pause();
	return 0;
}

/* Wait at the barrier "meet" (3 parties): the test kills one of two such
 * workers, and the other must be answered BROKEN. */
static int wait_barrier(agora_client *c, int idx, void *arg)
{
	agora_barrier *b;
	int64_t index;

	AGH_WCALL(c, agora_barrier_open(c, "meet", 3, &b));
	int rc = agora_barrier_wait(b, GENEROUS, &index);
	agora_barrier_close(b);
	AGH_WCHECK(rc == AGORA_EBROKEN);
	return 0;
}

/* Wait until the lock @l is held by process @pid (its info's owner_pid,
 * nil while free). */
static void wait_held_by(agora_client *c, agora_lock *l, pid_t pid)
{
	double deadline = agh_now() + AGH_STATE_TIMEOUT;
	int64_t got = 0;

	for (;;) {
		agora_value info;
		AGH_OK(c, agora_info(c, agora_lock_handle(l), &info));
		const agora_value *v = agh_map_find(info, "owner_pid");
		bool held = v != NULL && agora_value_to_int(*v, &got) == 0 &&
			    got == pid;
		agora_value_free(&info);
		if (held)
			return;
		ck_assert_msg(agh_now() < deadline,
			      "the lock is not held by process %d", (int)pid);
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

static void kill_and_reap(pid_t pid)
{
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	int status = agh_wait_pid(pid, AGH_WORKER_TIMEOUT);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(connects_and_disconnects_are_logged_at_debug_with_the_peer)
{
	char me[64], want[96];

	start_logged("debug");
	peer_of(getpid(), me, sizeof(me));

	agora_client *c = agh_connect(&srv);
	AGH_OK(c, agora_ping(c));
	AGH_OK(c, agora_ping(c));
	wait_line("agorad: debug: connection ", me, "(unix): accepted", NULL);
	agora_client_free(c);
	wait_line("agorad: debug: connection ", me,
		  "(unix): ended: closed by peer, after ", " and 2 requests",
		  NULL);

	/* On TCP the peer is HOST:PORT. */
	c = agora_client_new();
	AGH_OK(c, agora_client_connect(c, srv.tcp_address, KEY, AGH_KEYLEN));
	const char *line =
	    wait_line("agorad: debug: connection ",
		      " from 127.0.0.1:", "(tcp): accepted", NULL);
	unsigned long long id;
	ck_assert_int_eq(sscanf(line, "agorad: debug: connection %llu", &id),
			 1);
	agora_client_free(c);
	snprintf(want, sizeof(want), "agorad: debug: connection %llu from ",
		 id);
	wait_line(want, "(tcp): ended: closed by peer", NULL);
	free(stop_logged());
}
END_TEST

START_TEST(a_wrong_key_is_logged_with_the_peer_as_an_unfinished_handshake)
{
	char me[64];

	start_logged(NULL); /* the default level, info, shows warnings */
	peer_of(getpid(), me, sizeof(me));

	/* The library checks the server's proof first, finds it wrong and
	 * closes without sending its own: it says why, and the server logs
	 * the handshake it did not finish. */
	agora_client *c = agora_client_new();
	ck_assert_int_eq(
	    agora_client_connect(c, srv.address, WRONG_KEY, AGH_KEYLEN),
	    AGORA_EAUTH);
	ck_assert_msg(strstr(agora_errmsg(c), "did not prove that it holds "
					      "this client's authkey") != NULL,
		      "%s", agora_errmsg(c));
	ck_assert_msg(strstr(agora_errmsg(c), "not the server meant") != NULL,
		      "%s", agora_errmsg(c));
	agora_client_free(c);
	wait_line("agorad: warning: connection ", me,
		  ": authentication not finished: the client closed after the "
		  "server's proof",
		  NULL);

	/* A client that sends a wrong proof (by hand: the library never
	 * does) is logged as a failed authentication, with its peer. The
	 * line is of another kind than the one above: the limit of one a
	 * second per kind does not hide it. */
	agh_raw *r = agh_raw_connect(&srv);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;
	unsigned char nonce[32] = { 1 }, proof[32] = { 0 };
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 1, "hello", 2);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_bin_with_body(&pk, nonce, sizeof(nonce));
	agh_raw_send_sbuf(r, &sb);
	msgpack_unpacked_init(&m);
	ck_assert_int_eq(agh_raw_read(r, &m, AGH_RAW_TIMEOUT), 1);
	agh_ok_result(m.data, 1);
	msgpack_unpacked_destroy(&m);
	agh_pack_head(&pk, 2, "auth", 1);
	msgpack_pack_bin_with_body(&pk, proof, sizeof(proof));
	agh_raw_send_sbuf(r, &sb);
	msgpack_sbuffer_destroy(&sb);
	agh_raw_expect_error(r, 2, "AUTH");
	agh_raw_free(r);
	wait_line("agorad: warning: connection ", me,
		  ": authentication failed: wrong proof", NULL);
	free(stop_logged());
}
END_TEST

START_TEST(a_client_that_closes_after_the_challenge_is_logged_as_unfinished)
{
	char me[64];

	start_logged("debug");
	peer_of(getpid(), me, sizeof(me));

	agh_raw *r = agh_raw_connect(&srv);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked m;
	unsigned char nonce[32] = { 2 };
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 1, "hello", 2);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_bin_with_body(&pk, nonce, sizeof(nonce));
	agh_raw_send_sbuf(r, &sb);
	msgpack_sbuffer_destroy(&sb);
	msgpack_unpacked_init(&m);
	ck_assert_int_eq(agh_raw_read(r, &m, AGH_RAW_TIMEOUT), 1);
	agh_ok_result(m.data, 1);
	msgpack_unpacked_destroy(&m);
	agh_raw_free(r);

	wait_line("agorad: warning: connection ", me,
		  "authentication not finished", NULL);
	wait_line("agorad: debug: connection ", me,
		  "ended: closed by peer, after ", " and 0 requests", NULL);
	free(stop_logged());
}
END_TEST

START_TEST(a_lock_holder_killed_by_sigkill_is_logged_with_the_lock_and_holder)
{
	char peer[64];
	agora_client *c;
	agora_lock *l;

	start_logged("info");
	c = agh_connect(&srv);
	AGH_OK(c, agora_lock_open(c, "jobs-lock", &l));
	pid_t w = agh_spawn(hold_lock, 0, "jobs-lock");
	wait_held_by(c, l, w);
	int64_t holder = agh_info_int(c, agora_lock_handle(l), "owner");

	/* Someone waits for it: the line says where the lock went. */
	pid_t taker = agh_spawn(hold_lock, 1, "jobs-lock");
	agh_wait_waiters(c, agora_lock_handle(l), 1);

	kill_and_reap(w);
	char want[160];
	snprintf(want, sizeof(want),
		 "released: holder connection %lld (%s) ended: ",
		 (long long)holder, peer_of(w, peer, sizeof(peer)));
	const char *line = wait_line("agorad: warning: lock 'jobs-lock' (id ",
				     want, "; passed to connection ", NULL);
	/* SIGKILL closes the socket: the server reads its end. */
	ck_assert_msg(strstr(line, "ended: closed by peer;") ||
			  strstr(line, "ended: reset by peer;"),
		      "%s", line);

	wait_held_by(c, l, taker);
	kill_and_reap(taker);
	wait_line("agorad: warning: lock 'jobs-lock' (id ", "; now free", NULL);

	agora_lock_close(l);
	agora_client_free(c);
	free(stop_logged());
}
END_TEST

START_TEST(an_object_name_cannot_forge_a_log_line)
{
	/* A key holder names a lock with a newline and a fake line. */
	static const char name[] = "x\nagorad: error: forged 'q'";
	agora_client *c;
	agora_lock *l;

	start_logged("info");
	c = agh_connect(&srv);
	AGH_OK(c, agora_lock_open(c, name, &l));
	pid_t w = agh_spawn(hold_lock, 0, (void *)name);
	wait_held_by(c, l, w);
	kill_and_reap(w);
	wait_line("agorad: warning: lock 'x\\x0aagorad: error: forged "
		  "\\x27q\\x27' (id ",
		  "released: holder connection ", NULL);
	agora_lock_close(l);
	agora_client_free(c);
	char *log = stop_logged();
	ck_assert_msg(strstr(log, "\nagorad: error: forged") == NULL, "%s",
		      log);
	free(log);
}
END_TEST

START_TEST(kill_is_logged_at_info_with_who_asked_and_the_lock_it_freed)
{
	char me[64], peer[64], want[160];
	agora_client *c;
	agora_lock *l;
	bool killed = false;

	start_logged("info");
	peer_of(getpid(), me, sizeof(me));
	c = agh_connect(&srv);
	pid_t w = agh_spawn(hold_lock, 0, "kill-lock");
	AGH_OK(c, agora_lock_open(c, "kill-lock", &l));
	wait_held_by(c, l, w);
	int64_t victim = agh_info_int(c, agora_lock_handle(l), "owner");

	AGH_OK(c, agora_kill(c, (uint64_t)victim, &killed));
	ck_assert(killed);
	snprintf(want, sizeof(want),
		 "agorad: info: connection %lld from %s: "
		 "ended by kill from connection ",
		 (long long)victim, peer_of(w, peer, sizeof(peer)));
	wait_line(want, me, NULL);
	snprintf(want, sizeof(want),
		 "released: holder connection %lld (%s) ended: killed by "
		 "kill; now free",
		 (long long)victim, peer);
	wait_line("agorad: warning: lock 'kill-lock' (id ", want, NULL);
	kill_and_reap(w);

	agora_lock_close(l);
	agora_client_free(c);
	free(stop_logged());
}
END_TEST

START_TEST(permits_and_a_barrier_given_back_by_a_dead_party_are_logged)
{
	char peer[64];
	agora_client *c;
	agora_semaphore *s;
	agora_barrier *b;
	int64_t v = 0;

	start_logged("warning");
	c = agh_connect(&srv);

	AGH_OK(c, agora_semaphore_open(c, "slots", 2, true, &s));
	pid_t w = agh_spawn(hold_permit, 0, NULL);
	double deadline = agh_now() + AGH_STATE_TIMEOUT;
	for (;;) {
		AGH_OK(c, agora_semaphore_value(s, &v));
		if (v == 1)
			break;
		ck_assert_msg(agh_now() < deadline,
			      "the worker took no permit");
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	kill_and_reap(w);
	wait_line("agorad: warning: semaphore 'slots' (id ",
		  "): 1 permit given back: holder connection ",
		  peer_of(w, peer, sizeof(peer)), "; value now 2", NULL);

	AGH_OK(c, agora_barrier_open(c, "meet", 3, &b));
	pid_t left = agh_spawn(wait_barrier, 0, NULL);
	pid_t stays = agh_spawn(wait_barrier, 1, NULL);
	agh_wait_waiters(c, agora_barrier_handle(b), 2);
	ck_assert_int_eq(kill(left, SIGKILL), 0);
	agh_wait_pid(left, AGH_WORKER_TIMEOUT);
	wait_line("agorad: warning: barrier 'meet' (id ",
		  ") broken: waiting party connection ",
		  peer_of(left, peer, sizeof(peer)),
		  "; 1 other waiting party answered BROKEN", NULL);
	agh_wait_ok(stays); /* it got BROKEN */

	agora_barrier_close(b);
	agora_semaphore_close(s);
	agora_client_free(c);
	char *log = stop_logged();
	/* At warning, the debug and info lines are not made. */
	ck_assert_msg(strstr(log, ": debug: ") == NULL, "%s", log);
	ck_assert_msg(strstr(log, ": info: ") == NULL, "%s", log);
	free(log);
}
END_TEST

START_TEST(at_warning_the_debug_lines_are_absent)
{
	char me[64];

	start_logged("warning");
	peer_of(getpid(), me, sizeof(me));
	agora_client *c = agh_connect(&srv);
	AGH_OK(c, agora_ping(c));
	agora_client_free(c);
	c = agora_client_new();
	ck_assert_int_eq(
	    agora_client_connect(c, srv.address, WRONG_KEY, AGH_KEYLEN),
	    AGORA_EAUTH);
	agora_client_free(c);
	wait_line("agorad: warning: connection ", me,
		  "authentication not finished", NULL);
	char *log = stop_logged();
	ck_assert_msg(strstr(log, "debug") == NULL, "%s", log);
	ck_assert_msg(strstr(log, "accepted") == NULL, "%s", log);
	ck_assert_msg(strstr(log, "ended:") == NULL, "%s", log);
	/* The signal that stopped it is info: not shown either. */
	ck_assert_msg(strstr(log, "stopping") == NULL, "%s", log);
	free(log);
}
END_TEST

START_TEST(the_default_level_logs_the_stop_at_info_and_no_connection)
{
	start_logged(NULL);
	agora_client *c = agh_connect(&srv);
	AGH_OK(c, agora_ping(c));
	agora_client_free(c);
	char *log = stop_logged();
	ck_assert_msg(strstr(log, "agorad: info: signal 15 (") != NULL &&
			  strstr(log, "): stopping") != NULL,
		      "%s", log);
	ck_assert_msg(strstr(log, "accepted") == NULL, "%s", log);
	free(log);
}
END_TEST

/* Run agorad with @args (NULL-terminated); its exit status, its stderr
 * into @err. */
static int run_agorad(const char *const *args, char *err, size_t errlen)
{
	const char *agorad = getenv("AGORAD");
	const char *argv[16];
	int pipefd[2];
	size_t n = 0, len = 0;

	ck_assert_ptr_nonnull(agorad);
	argv[n++] = agorad;
	for (size_t i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(pipefd[1], 2);
		execv(agorad, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	ssize_t got;
	while (len + 1 < errlen &&
	       ((got = read(pipefd[0], err + len, errlen - 1 - len)) > 0 ||
		(got < 0 && errno == EINTR)))
		if (got > 0)
			len += (size_t)got;
	err[len] = '\0';
	close(pipefd[0]);
	return agh_wait_pid(pid, AGH_WORKER_TIMEOUT);
}

START_TEST(a_bad_log_level_is_refused_naming_it_and_the_levels)
{
	char err[2048];
	snprintf(keypath, sizeof(keypath), "/tmp/agora-log-%d.key",
		 (int)getpid());
	write_file(keypath, KEY);
	const char *const args[] = {
		"--authkey-file", keypath,   "--listen", "unix:/nonexistent/s",
		"--log-level",    "verbose", NULL
	};

	int status = run_agorad(args, err, sizeof(err));
	unlink(keypath);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2,
		      "status 0x%x: %s", status, err);
	ck_assert_msg(strstr(err, "--log-level verbose") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "error, warning, info or debug") != NULL,
		      "%s", err);

	/* The embedded server refuses a level out of range the same way. */
	agora_server *s = NULL;
	const char *listen[] = { "unix:/nonexistent/s" };
	agora_server_config cfg = { .listen = listen,
				    .nlisten = 1,
				    .key = KEY,
				    .keylen = AGH_KEYLEN,
				    .log_level = 9 };
	ck_assert_int_eq(agora_server_new(&cfg, &s, err, sizeof(err)),
			 AGORA_EINVAL);
	ck_assert_msg(strstr(err, "log level 9") != NULL, "%s", err);
	ck_assert_ptr_null(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");

	AGH_ADD_BARE(
	    s, connects_and_disconnects_are_logged_at_debug_with_the_peer);
	AGH_ADD_BARE(
	    s, a_wrong_key_is_logged_with_the_peer_as_an_unfinished_handshake);
	AGH_ADD_BARE(
	    s,
	    a_client_that_closes_after_the_challenge_is_logged_as_unfinished);
	AGH_ADD_BARE(
	    s,
	    a_lock_holder_killed_by_sigkill_is_logged_with_the_lock_and_holder);
	AGH_ADD_BARE(s, an_object_name_cannot_forge_a_log_line);
	AGH_ADD_BARE(
	    s, kill_is_logged_at_info_with_who_asked_and_the_lock_it_freed);
	AGH_ADD_BARE(
	    s, permits_and_a_barrier_given_back_by_a_dead_party_are_logged);
	AGH_ADD_BARE(s, at_warning_the_debug_lines_are_absent);
	AGH_ADD_BARE(s,
		     the_default_level_logs_the_stop_at_info_and_no_connection);
	AGH_ADD_BARE(s, a_bad_log_level_is_refused_naming_it_and_the_levels);
	return agh_run_suite(s);
}
