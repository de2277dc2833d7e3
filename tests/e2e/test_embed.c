/*
 * test_embed.c - the embeddable server (agora_server.h) and the manager:
 * start and stop in a thread of the test, two servers in one process, a
 * client whose server dies, and a manager whose owner dies.
 *
 * Every test ends by checking that it left no child process and no socket
 * file or directory behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agora_server.h"
#include "harness.h"

#define KEYLEN 32
#define CYCLES 100
/*
 * The bounds below tell "soon" from "never" (a hang, a server left
 * running), not fast from slow: each is far above what a passing run takes
 * (milliseconds), so that a loaded 2-core machine running the tests under
 * valgrind does not miss it, and far below the test's own timeout.
 */
/* How long a dead server's client may take to notice. */
#define NOTICE_TIMEOUT 10.0
/* How long a manager's server may outlive its killed owner. */
#define ORPHAN_TIMEOUT 10.0
/* A call that fails "at once": without waiting for the network. */
#define AT_ONCE 5.0

/* ---- an in-process server on a thread of the test ---- */

typedef struct embedded {
	agora_server *srv;
	pthread_t thread;
	int rc;
	char dir[64];
	char sock[128];
	char address[160];
	unsigned char key[KEYLEN];
} embedded;

static void *serve(void *arg)
{
	embedded *e = arg;

	e->rc = agora_server_run(e->srv);
	return NULL;
}

static void embedded_start(embedded *e)
{
	const char *listen[1];
	agora_server_config cfg;
	char err[256];

	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/agora-embed-XXXXXX");
	ck_assert_msg(mkdtemp(e->dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(e->sock, sizeof(e->sock), "%s/agora.sock", e->dir);
	snprintf(e->address, sizeof(e->address), "unix:%s", e->sock);
	ck_assert_int_eq(getrandom(e->key, KEYLEN, 0), KEYLEN);

	memset(&cfg, 0, sizeof(cfg));
	listen[0] = e->address;
	cfg.listen = listen;
	cfg.nlisten = 1;
	cfg.key = e->key;
	cfg.keylen = KEYLEN;
	int rc = agora_server_new(&cfg, &e->srv, err, sizeof(err));
	ck_assert_msg(rc == 0, "agora_server_new(%s) = %s: %s", e->address,
		      agora_errname(rc), err);
	ck_assert_str_eq(agora_server_address(e->srv, 0), e->address);
	ck_assert_ptr_null(agora_server_address(e->srv, 1));
	ck_assert_int_eq(pthread_create(&e->thread, NULL, serve, e), 0);
}

/* Stop from this thread, join the server's, free it: run() returned 0 and
 * the socket file is gone. */
static void embedded_stop(embedded *e)
{
	agora_server_stop(e->srv);
	ck_assert_int_eq(pthread_join(e->thread, NULL), 0);
	agora_server_free(e->srv);
	e->srv = NULL;
	ck_assert_msg(e->rc == 0, "agora_server_run returned %d", e->rc);
	ck_assert_msg(!agh_path_exists(e->sock),
		      "the stopped server left its socket %s", e->sock);
	ck_assert_msg(rmdir(e->dir) == 0, "rmdir %s: %s", e->dir,
		      strerror(errno));
}

static agora_client *embedded_connect(const embedded *e)
{
	agora_client *c = agora_client_new();

	ck_assert_ptr_nonnull(c);
	int rc = agora_client_connect(c, e->address, e->key, KEYLEN);
	ck_assert_msg(rc == 0, "connect %s: %s: %s", e->address,
		      agora_errname(rc), agora_errmsg(c));
	return c;
}

/* ---- the fixture: nothing left behind ---- */

static void nothing_left(void)
{
	agh_assert_no_children();
}

static TCase *add(Suite *s, const char *name, const TTest *fn)
{
	TCase *tc = agh_tcase_bare(s, name, fn);

	tcase_add_checked_fixture(tc, NULL, nothing_left);
	return tc;
}
#define ADD(suite, fn) add((suite), #fn, fn)

/* ---- start and stop ---- */

START_TEST(hundred_start_stop_cycles_in_a_thread_leave_no_fd_open)
{
	int before = agh_count_fds();

	for (int i = 0; i < CYCLES; i++) {
		embedded e;
		agora_list *l;
		size_t n = 0;

		embedded_start(&e);
		agora_client *c = embedded_connect(&e);
		AGH_OK(c, agora_ping(c));
		AGH_OK(c, agora_list_open(c, "cycle", &l));
		AGH_OK(c, agora_list_append(l, agora_int(i)));
		AGH_OK(c, agora_list_len(l, &n));
		ck_assert_uint_eq(n, 1); /* a new server, a new list */
		AGH_OK(c, agora_list_close(l));
		agora_client_free(c);
		embedded_stop(&e);
	}
	ck_assert_int_eq(agh_count_fds(), before);
}
END_TEST

START_TEST(a_server_stops_with_a_client_still_connected)
{
	embedded e;
	int before = agh_count_fds();

	embedded_start(&e);
	agora_client *c = embedded_connect(&e);
	AGH_OK(c, agora_ping(c));
	embedded_stop(&e);
	/* The server closed the connection: the client says so at once. */
	int rc = agora_ping(c);
	ck_assert_msg(rc == AGORA_EIO || rc == AGORA_ESHUTDOWN,
		      "ping after the server stopped: %s: %s",
		      agora_errname(rc), agora_errmsg(c));
	agora_client_free(c);
	ck_assert_int_eq(agh_count_fds(), before);
}
END_TEST

START_TEST(two_servers_in_one_process_keep_their_own_objects)
{
	embedded a, b;
	agora_list *la, *lb;
	agora_value v;
	const int64_t want_a[] = { 1 }, want_b[] = { 2, 3 };

	embedded_start(&a);
	embedded_start(&b);
	agora_client *ca = embedded_connect(&a);
	agora_client *cb = embedded_connect(&b);

	/* The same name on each server is two lists. */
	AGH_OK(ca, agora_list_open(ca, "shared", &la));
	AGH_OK(cb, agora_list_open(cb, "shared", &lb));
	AGH_OK(ca, agora_list_append(la, agora_int(1)));
	AGH_OK(cb, agora_list_append(lb, agora_int(2)));
	AGH_OK(cb, agora_list_append(lb, agora_int(3)));
	AGH_OK(ca, agora_list_copy(la, &v));
	agh_assert_ints(v, want_a, 1);
	agora_value_free(&v);
	AGH_OK(cb, agora_list_copy(lb, &v));
	agh_assert_ints(v, want_b, 2);
	agora_value_free(&v);
	ck_assert_int_eq(agh_stats_int(ca, "objects"), 1);
	ck_assert_int_eq(agh_stats_int(cb, "objects"), 1);
	ck_assert_int_eq(agh_stats_int(ca, "connections"), 1);
	ck_assert_int_eq(agh_stats_int(cb, "connections"), 1);

	/* A key is one server's: a's key does not open b. */
	agora_client *wrong = agora_client_new();
	ck_assert_ptr_nonnull(wrong);
	ck_assert_int_eq(agora_client_connect(wrong, b.address, a.key, KEYLEN),
			 AGORA_EAUTH);
	agora_client_free(wrong);

	/* Stopping one leaves the other serving. */
	AGH_OK(ca, agora_list_close(la));
	agora_client_free(ca);
	embedded_stop(&a);
	AGH_OK(cb, agora_list_append(lb, agora_int(4)));
	AGH_OK(cb, agora_ping(cb));
	AGH_OK(cb, agora_list_close(lb));
	agora_client_free(cb);
	embedded_stop(&b);
}
END_TEST

/* ---- a client whose server dies ---- */

START_TEST(client_of_a_killed_server_gets_eio_not_a_hang_nor_sigpipe)
{
	agh_server s;
	agora_list *l;

	/* SIGPIPE keeps its default action: were the library to raise it,
	 * this process would die and the test with it. */
	ck_assert_ptr_eq(signal(SIGPIPE, SIG_DFL), SIG_DFL);
	agh_server_start(&s);
	agora_client *c = agh_connect(&s);
	AGH_OK(c, agora_list_open(c, "l", &l));
	AGH_OK(c, agora_list_append(l, agora_int(1)));
	agh_server_kill(&s);

	double t0 = agh_now();
	int rc = agora_list_append(l, agora_int(2));
	double took = agh_now() - t0;
	ck_assert_msg(rc == AGORA_EIO, "append to a dead server: %s (%d): %s",
		      agora_errname(rc), rc, agora_errmsg(c));
	ck_assert_msg(took < NOTICE_TIMEOUT, "the failure took %.2f s", took);

	/* Every later call fails at once, saying why. */
	for (int i = 0; i < 3; i++) {
		t0 = agh_now();
		rc =
		    i == 0 ? agora_ping(c) : agora_list_append(l, agora_int(i));
		took = agh_now() - t0;
		ck_assert_msg(rc == AGORA_EIO, "call %d after: %s: %s", i,
			      agora_errname(rc), agora_errmsg(c));
		ck_assert_msg(took < AT_ONCE, "call %d after took %.2f s", i,
			      took);
		ck_assert_msg(strstr(agora_errmsg(c), "connection") != NULL,
			      "unclear message: \"%s\"", agora_errmsg(c));
	}
	agora_list_close(l);
	agora_client_free(c);
}
END_TEST

/*
 * A trigger: a thread that waits, with a client of its own, until `stats`
 * shows a parked call, then fires (kills or stops the server), so that
 * the test's main thread can be the one parked.
 */
typedef struct trigger {
	agora_client *c;
	void (*fire)(void *ud);
	void *ud;
	double fired_at;
	char failed[256];
	pthread_t thread;
} trigger;

static void *trigger_run(void *arg)
{
	trigger *t = arg;
	double deadline = agh_now() + AGH_STATE_TIMEOUT;
	int64_t waiters = -1;

	while (waiters != 1) {
		agora_value st;
		int rc = agora_stats(t->c, &st);
		if (rc != 0) {
			snprintf(t->failed, sizeof(t->failed), "stats: %s: %s",
				 agora_errname(rc), agora_errmsg(t->c));
			break;
		}
		const agora_value *w = agh_map_find(st, "waiters");
		if (w != NULL)
			agora_value_to_int(*w, &waiters);
		agora_value_free(&st);
		if (waiters != 1 && agh_now() > deadline) {
			snprintf(t->failed, sizeof(t->failed),
				 "the call never parked (waiters %lld)",
				 (long long)waiters);
			break;
		}
		struct timespec ms = { 0, 1000000L };
		nanosleep(&ms, NULL);
	}
	t->fired_at = agh_now();
	t->fire(t->ud); /* even on failure: the main thread must wake */
	return NULL;
}

static void trigger_start(trigger *t, agora_client *c, void (*fire)(void *),
			  void *ud)
{
	memset(t, 0, sizeof(*t));
	t->c = c;
	t->fire = fire;
	t->ud = ud;
	ck_assert_int_eq(pthread_create(&t->thread, NULL, trigger_run, t), 0);
}

static void trigger_join(trigger *t)
{
	ck_assert_int_eq(pthread_join(t->thread, NULL), 0);
	ck_assert_msg(t->failed[0] == '\0', "%s", t->failed);
}

static void fire_kill(void *ud)
{
	kill(((agh_server *)ud)->pid, SIGKILL);
}

static void fire_stop(void *ud)
{
	agora_server_stop(((embedded *)ud)->srv);
}

START_TEST(parked_call_of_a_killed_server_gets_eio_not_a_hang)
{
	agh_server s;
	agora_queue *q;
	agora_value v;
	trigger t;

	ck_assert_ptr_eq(signal(SIGPIPE, SIG_DFL), SIG_DFL);
	agh_server_start(&s);
	agora_client *c = agh_connect(&s);
	agora_client *watcher = agh_connect(&s);
	AGH_OK(c, agora_queue_open(c, "q", 0, &q));
	trigger_start(&t, watcher, fire_kill, &s);

	int rc = agora_queue_get(q, AGORA_FOREVER, &v);
	double done = agh_now();
	trigger_join(&t);
	ck_assert_msg(rc == AGORA_EIO, "parked get: %s (%d): %s",
		      agora_errname(rc), rc, agora_errmsg(c));
	ck_assert_msg(done - t.fired_at < NOTICE_TIMEOUT,
		      "the parked get noticed after %.2f s", done - t.fired_at);
	double t0 = agh_now();
	ck_assert_int_eq(agora_queue_put(q, agora_int(1), 0), AGORA_EIO);
	ck_assert_msg(agh_now() - t0 < AT_ONCE,
		      "a later call did not fail at once");

	agora_queue_close(q);
	agora_client_free(c);
	agora_client_free(watcher);
	agh_server_kill(&s);
}
END_TEST

START_TEST(embedded_stop_answers_a_parked_call_with_shutdown)
{
	embedded e;
	agora_event *ev;
	bool set = true;
	trigger t;

	embedded_start(&e);
	agora_client *c = embedded_connect(&e);
	agora_client *watcher = embedded_connect(&e);
	AGH_OK(c, agora_event_open(c, "never", &ev));
	trigger_start(&t, watcher, fire_stop, &e);

	int rc = agora_event_wait(ev, AGORA_FOREVER, &set);
	double done = agh_now();
	trigger_join(&t);
	ck_assert_msg(rc == AGORA_ESHUTDOWN, "parked wait: %s (%d): %s",
		      agora_errname(rc), rc, agora_errmsg(c));
	ck_assert_msg(done - t.fired_at < NOTICE_TIMEOUT,
		      "the parked wait was answered after %.2f s",
		      done - t.fired_at);
	/* The server is gone: every later call fails at once, saying so. */
	double t0 = agh_now();
	rc = agora_event_set(ev);
	ck_assert_msg(rc == AGORA_EIO || rc == AGORA_ESHUTDOWN,
		      "a call after the stop: %s: %s", agora_errname(rc),
		      agora_errmsg(c));
	ck_assert_msg(agh_now() - t0 < AT_ONCE,
		      "a later call did not fail at once");
	ck_assert_msg(strstr(agora_errmsg(c), "connection") ||
			  strstr(agora_errmsg(c), "shut"),
		      "unclear message: \"%s\"", agora_errmsg(c));

	agora_event_close(ev);
	agora_client_free(watcher);
	agora_client_free(c);
	embedded_stop(&e);
}
END_TEST

/* ---- the manager ---- */

static int manager_worker(agora_client *c, int idx, void *arg)
{
	agora_dict *d;

	(void)arg;
	AGH_WCALL(c, agora_dict_open(c, "d", &d));
	AGH_WCALL(c, agora_dict_set(d, agora_int(idx), agora_int(getpid())));
	AGH_WCALL(c, agora_dict_close(d));
	return 0;
}

START_TEST(manager_shutdown_leaves_no_process_socket_or_directory)
{
	agora_manager *m;
	agora_dict *d;
	char err[256], sock[128], dir[128], key[128];
	size_t n = 0;

	int rc = agora_manager_start(&m, err, sizeof(err));
	ck_assert_msg(rc == 0, "agora_manager_start: %s: %s", agora_errname(rc),
		      err);
	const char *address = agora_manager_address(m);
	ck_assert_msg(strncmp(address, "unix:", 5) == 0, "address %s", address);
	snprintf(sock, sizeof(sock), "%s", address + 5);
	snprintf(dir, sizeof(dir), "%s", sock);
	snprintf(dir, sizeof(dir), "%s", dirname(dir));
	snprintf(key, sizeof(key), "%s", agora_manager_authkey_file(m));
	ck_assert(agh_path_exists(sock));
	ck_assert_str_eq(getenv("AGORA_ADDRESS"), address);

	agora_client *c = agora_manager_client(m);
	AGH_OK(c, agora_dict_open(c, "d", &d));
	agh_run_workers(4, manager_worker, NULL, NULL);
	AGH_OK(c, agora_dict_len(d, &n));
	ck_assert_uint_eq(n, 4);
	AGH_OK(c, agora_dict_close(d));

	ck_assert_int_eq(agora_manager_shutdown(m), 0);
	ck_assert_msg(!agh_path_exists(sock), "%s left behind", sock);
	ck_assert_msg(!agh_path_exists(key), "%s left behind", key);
	ck_assert_msg(!agh_path_exists(dir), "%s left behind", dir);
	ck_assert_ptr_null(getenv("AGORA_ADDRESS"));
	ck_assert_ptr_null(getenv("AGORA_AUTHKEY_FILE"));
}
END_TEST

/* The only child of @parent, found in /proc; 0 when none. */
static pid_t child_of(pid_t parent)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	if (d == NULL)
		return 0;
	while (found == 0 && (e = readdir(d)) != NULL) {
		char path[64], buf[512];
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		while (fgets(buf, sizeof(buf), f) != NULL)
			if (strncmp(buf, "PPid:", 5) == 0) {
				if (atoi(buf + 5) == parent)
					found = pid;
				break;
			}
		fclose(f);
	}
	closedir(d);
	return found;
}

/* The owner: start a manager, tell the test its server's pid and socket
 * path, then wait to be killed. Never returns. */
static void owner(int out, pid_t test)
{
	agora_manager *m;
	char err[256];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != test)
		_exit(125);
	if (agora_manager_start(&m, err, sizeof(err)) != 0) {
		dprintf(out, "error %s\n", err);
		_exit(1);
	}
	dprintf(out, "%d %s\n", (int)child_of(getpid()),
		agora_manager_address(m) + 5);
	close(out);
	for (;;)
		pause();
}

START_TEST(owner_killed_by_sigkill_takes_its_manager_server_along)
{
	int p[2], status = 0;
	char line[256] = "", sock[200] = "", dir[200];
	size_t got = 0;
	int server = 0;

	/* The server, orphaned, comes to this process, which can then see
	 * it end and reap it. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t test = getpid();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		owner(p[1], test);
	}
	close(p[1]);
	double deadline = agh_now() + AGH_START_TIMEOUT;
	while (got < sizeof(line) - 1 && !strchr(line, '\n')) {
		struct pollfd pf = { p[0], POLLIN, 0 };
		double left = deadline - agh_now();
		if (left <= 0 || poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
			break;
		ssize_t n = read(p[0], line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		line[got] = '\0';
	}
	close(p[0]);
	if (sscanf(line, "%d %199s", &server, sock) != 2 || server <= 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		ck_abort_msg("the owner said \"%s\"", line);
	}
	snprintf(dir, sizeof(dir), "%s", sock);
	snprintf(dir, sizeof(dir), "%s", dirname(dir));
	ck_assert_msg(agh_path_exists(sock), "no socket %s", sock);
	ck_assert_int_eq(kill(server, 0), 0);

	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* Soon the server has exited and removed its files. */
	double t0 = agh_now();
	pid_t r = 0;
	while ((r = waitpid(server, &status, WNOHANG)) == 0 &&
	       agh_now() - t0 < ORPHAN_TIMEOUT) {
		struct timespec ms = { 0, 1000000L };
		nanosleep(&ms, NULL);
	}
	double took = agh_now() - t0;
	if (r != server) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
		ck_abort_msg("the manager's server %d outlived its owner by "
			     "%.2f s (waitpid %d: %s)",
			     server, took, (int)r, strerror(errno));
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the orphaned server ended with status 0x%x", status);
	ck_assert_msg(!agh_path_exists(sock), "%s left behind", sock);
	ck_assert_msg(!agh_path_exists(dir), "%s left behind", dir);
}
END_TEST

/* ---- the Unix socket's mode and group ---- */

/* The umask agora_server_new() runs under in new_with_mode(); -1: as is. */
static mode_t umask_during_new = (mode_t)-1;

/* agora_server_new() with @mode and @group on a fresh directory: the rc,
 * and the message in @err. The socket's stat in *st when it was created;
 * the server is freed and the directory removed before returning. */
static int new_with_mode(unsigned mode, const char *group, struct stat *st,
			 char *err, size_t errlen)
{
	char dir[64] = "/tmp/agora-mode-XXXXXX", sock[128], address[160];
	unsigned char key[KEYLEN] = { 7 };
	const char *listen[1] = { address };
	agora_server_config cfg = { 0 };
	agora_server *srv = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/agora.sock", dir);
	snprintf(address, sizeof(address), "unix:%s", sock);
	cfg.listen = listen;
	cfg.nlisten = 1;
	cfg.key = key;
	cfg.keylen = KEYLEN;
	cfg.unix_mode = mode;
	cfg.unix_group = group;
	mode_t old = 0;
	if (umask_during_new != (mode_t)-1)
		old = umask(umask_during_new);
	int rc = agora_server_new(&cfg, &srv, err, errlen);
	if (umask_during_new != (mode_t)-1)
		ck_assert_uint_eq(umask(old), umask_during_new);
	if (rc == 0) {
		ck_assert_int_eq(stat(sock, st), 0);
		agora_server_free(srv);
	}
	ck_assert_msg(!agh_path_exists(sock), "%s left behind (rc %d)", sock,
		      rc);
	ck_assert_int_eq(rmdir(dir), 0);
	return rc;
}

START_TEST(unix_socket_mode_and_group_as_configured_else_0600)
{
	struct stat st;
	char err[256], gid[32];

	ck_assert_int_eq(new_with_mode(0, NULL, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);

	/* Whatever the umask, which the server leaves as it was. */
	umask_during_new = 0;
	ck_assert_int_eq(new_with_mode(0, NULL, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	umask_during_new = 0277;
	ck_assert_int_eq(new_with_mode(0, NULL, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	umask_during_new = (mode_t)-1;

	/* A group by number (ours, which any user may give), wider bits. */
	snprintf(gid, sizeof(gid), "%u", (unsigned)getegid());
	ck_assert_int_eq(new_with_mode(0660, gid, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0660);
	ck_assert_uint_eq(st.st_gid, getegid());

	/* Bits that take the owner's access away, or are not permission
	 * bits, and a group that does not exist: refused, named. */
	ck_assert_int_eq(new_with_mode(0460, NULL, &st, err, sizeof(err)),
			 AGORA_EINVAL);
	ck_assert_msg(strstr(err, "0460") != NULL, "%s", err);
	ck_assert_int_eq(new_with_mode(04770, NULL, &st, err, sizeof(err)),
			 AGORA_EINVAL);
	ck_assert_msg(strstr(err, "4770") != NULL, "%s", err);
	ck_assert_int_eq(
	    new_with_mode(0660, "no-such-group-agora", &st, err, sizeof(err)),
	    AGORA_EINVAL);
	ck_assert_msg(strstr(err, "no-such-group-agora") != NULL, "%s", err);
}
END_TEST

/* agorad's flags do the same, and a client of the group's mode connects. */
START_TEST(agorad_unix_mode_and_group_flags)
{
	agh_server srv;
	struct stat st;
	char gid[32];

	snprintf(gid, sizeof(gid), "%u", (unsigned)getegid());
	const char *const flags[] = { "--unix-mode", "0660", "--unix-group",
				      gid, NULL };
	agh_server_start_args(&srv, flags);
	ck_assert_int_eq(stat(srv.sock, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0660);
	ck_assert_uint_eq(st.st_gid, getegid());
	agora_client *c = agh_connect(&srv);
	AGH_OK(c, agora_ping(c));
	agora_client_free(c);
	agh_server_stop(&srv);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("embed");

	ADD(s, hundred_start_stop_cycles_in_a_thread_leave_no_fd_open);
	ADD(s, a_server_stops_with_a_client_still_connected);
	ADD(s, two_servers_in_one_process_keep_their_own_objects);
	ADD(s, client_of_a_killed_server_gets_eio_not_a_hang_nor_sigpipe);
	ADD(s, parked_call_of_a_killed_server_gets_eio_not_a_hang);
	ADD(s, embedded_stop_answers_a_parked_call_with_shutdown);
	ADD(s, manager_shutdown_leaves_no_process_socket_or_directory);
	ADD(s, owner_killed_by_sigkill_takes_its_manager_server_along);
	ADD(s, unix_socket_mode_and_group_as_configured_else_0600);
	ADD(s, agorad_unix_mode_and_group_flags);
	return agh_run_suite(s);
}
