/*
 * harness.h - end-to-end test support: a real agorad per test, real worker
 * processes, and small helpers to inspect values.
 *
 * A test (or a checked fixture) starts a server with agh_server_start(): a
 * private temporary directory, a 32-byte random key file (0600), and
 * $AGORAD --listen unix:DIR/agora.sock --authkey-file DIR/key, whose stdout
 * is read until it says it listens. AGORA_ADDRESS and AGORA_AUTHKEY_FILE are
 * then set, so forked workers connect with agora_client_connect_env().
 * agh_server_stop() sends SIGTERM and checks that the server exits 0 and
 * removes its socket file.
 *
 * Functions here run in the test process and fail the test with Check's
 * assertions. Worker processes (agh_spawn()) must not use Check: they report
 * through their exit status, with AGH_WCHECK() printing what went wrong.
 * Nothing here sleeps for a fixed time: waits are for a child's exit, a line
 * of output, or a state the server reports, each with a deadline.
 */
#ifndef AGORA_TEST_HARNESS_H
#define AGORA_TEST_HARNESS_H

#include <check.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#include "agora.h"

#define AGH_KEYLEN 32
/* Deadlines, generous enough for valgrind. */
#define AGH_START_TIMEOUT 20.0
#define AGH_STOP_TIMEOUT 20.0
#define AGH_WORKER_TIMEOUT 90.0
#define AGH_STATE_TIMEOUT 30.0

typedef struct agh_server {
	pid_t pid;  /* 0 when not running */
	int out_fd; /* read end of the server's stdout */
	char dir[64];
	char sock[128];
	char keyfile[128];
	char address[160];
	unsigned char key[AGH_KEYLEN];
	/* "tcp:127.0.0.1:PORT" when @extra_args gave agorad a TCP listener
	 * (--listen tcp:127.0.0.1:0, say), from its listening line; else
	 * empty. */
	char tcp_address[160];
	/* The @extra_args it was started with (the caller's array, which
	 * must outlive the server), for agh_server_restart(). */
	const char *const *extra_args;
} agh_server;

/* Start a server as described above. Fails the test if it does not say it
 * listens within AGH_START_TIMEOUT seconds. @extra_args: more arguments for
 * agorad, NULL-terminated, or NULL. */
void agh_server_start(agh_server *s);
void agh_server_start_args(agh_server *s, const char *const *extra_args);
/* Stop the server: SIGTERM, wait for its exit (SIGKILL and fail after
 * AGH_STOP_TIMEOUT), require exit status 0 and no socket file left, remove
 * the directory. Does nothing when the server is not running. */
void agh_server_stop(agh_server *s);

/* Stop the server with @sig (SIGTERM: it stops as it does for an operator;
 * SIGKILL: a crash) and start a new agorad on the same address with the
 * same key and extra arguments, as a service manager restarting it would
 * (a listener on port 0 then gets another port). The new server's
 * objects are new: none survives. */
void agh_server_restart(agh_server *s, int sig);

/* Kill the server with SIGKILL (it may be dead already), reap it and remove
 * its files, as after a crash. Does nothing when the server is not
 * running. */
void agh_server_kill(agh_server *s);

/* A new client connected to @s with its key; fails the test otherwise. */
agora_client *agh_connect(const agh_server *s);

/* The fixture most tests use: one server and one client per test. */
extern agh_server agh_srv;
extern agora_client *agh_cli;
void agh_setup(void);
void agh_teardown(void);

/*
 * Workers. A worker is a forked process that connects its own client from
 * the environment, runs @fn(c, idx, arg) and exits with its return value
 * (0 is success). It dies with the test process (PR_SET_PDEATHSIG).
 */
typedef int (*agh_worker_fn)(agora_client *c, int idx, void *arg);
pid_t agh_spawn(agh_worker_fn fn, int idx, void *arg);
/* Wait up to @timeout seconds for @pid to end; returns its wait status.
 * On timeout kills it, reaps it and fails the test. */
int agh_wait_pid(pid_t pid, double timeout);
/* Wait for @pid and require that it exited 0. */
void agh_wait_ok(pid_t pid);
/* Wait for all @n of @pids, requiring each to exit 0. */
void agh_wait_all_ok(const pid_t *pids, int n);
/* Spawn @n workers running @fn with idx 0..n-1 and wait for all of them. If
 * @ret_pids is not NULL it receives their pids. */
void agh_run_workers(int n, agh_worker_fn fn, void *arg, pid_t *ret_pids);

/* In a worker: report a failed condition and return 1 from the worker. */
#define AGH_WCHECK(cond)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr,                                    \
				"%s:%d: worker %d: check failed: %s\n",    \
				__FILE__, __LINE__, (int)getpid(), #cond); \
			return 1;                                          \
		}                                                          \
	} while (0)
/* In a worker: require a call to return 0, printing the client's error. */
#define AGH_WCALL(c, call)                                                 \
	do {                                                               \
		int agh_rc_ = (call);                                      \
		if (agh_rc_ != 0) {                                        \
			fprintf(stderr, "%s:%d: worker %d: %s = %s: %s\n", \
				__FILE__, __LINE__, (int)getpid(), #call,  \
				agora_errname(agh_rc_), agora_errmsg(c));  \
			return 1;                                          \
		}                                                          \
	} while (0)

/* In the test process: require a call to return @want, showing the client's
 * error message otherwise. */
#define AGH_CALL_EQ(c, call, want)                                          \
	do {                                                                \
		int agh_rc_ = (call);                                       \
		ck_assert_msg(agh_rc_ == (want), "%s returned %s (%d): %s", \
			      #call, agora_errname(agh_rc_), agh_rc_,       \
			      agora_errmsg(c));                             \
	} while (0)
#define AGH_OK(c, call) AGH_CALL_EQ(c, call, 0)

/* ---- values ---- */

/* The value under the str key @key in the map @map, or NULL. */
const agora_value *agh_map_find(agora_value map, const char *key);
/* The integer under @key in @map; fails the test when absent or not an
 * integer. */
int64_t agh_map_int(agora_value map, const char *key);
/* Require @v to be an array of exactly the integers @want[0..n-1]. */
void agh_assert_ints(agora_value v, const int64_t *want, size_t n);
/* Require @v to be the integer @want (INT, or UINT that fits). */
void agh_assert_int(agora_value v, int64_t want);
/* Require @v to be the str @want. */
void agh_assert_str(agora_value v, const char *want);
/* Fill @items with agora_int() of @ints. */
void agh_ints(agora_value *items, const int64_t *ints, size_t n);

/* ---- server state ---- */

/* An integer field of `info` on @handle. */
int64_t agh_info_int(agora_client *c, uint32_t handle, const char *field);
/* An integer field of `stats`. */
int64_t agh_stats_int(agora_client *c, const char *field);
/* Wait until `info` on @handle reports @n waiters (bounded; fails the test
 * after AGH_STATE_TIMEOUT). */
void agh_wait_waiters(agora_client *c, uint32_t handle, int64_t n);
/* Wait until `stats` reports @field == @n (bounded). */
void agh_wait_stats(agora_client *c, const char *field, int64_t n);
/* Wait until `info` on @handle reports the integer @field == @n
 * (bounded). */
void agh_wait_info(agora_client *c, uint32_t handle, const char *field,
		   int64_t n);
/* Wait until @pred(@ud) is true, asking every millisecond (bounded by
 * AGH_STATE_TIMEOUT; fails the test naming @what). */
void agh_wait_until(bool (*pred)(void *ud), void *ud, const char *what);
/* The monotonic clock in seconds; the same clock in every process. */
double agh_now(void);
/* Whether this process runs under valgrind (and so does the agorad it
 * starts: the valgrind setup traces children), or was built with
 * AddressSanitizer (as the agorad of the same build is). Tests that
 * measure time or RSS skip those assertions there, saying so. */
bool agh_under_valgrind(void);
bool agh_under_asan(void);

/* ---- raw connections ---- */

/*
 * A connection to a server's socket that speaks the protocol by hand:
 * requests built with msgpack-c's packer, replies read with read(2) and
 * msgpack_unpack_next(). For the tests of what the library would never send.
 */
#define AGH_RAW_TIMEOUT 20.0

typedef struct agh_raw {
	int fd;
	size_t len, used; /* bytes in buf; bytes of them unpacked */
	char buf[1 << 16];
} agh_raw;

/* A new raw connection to @s's Unix socket; fails the test otherwise. Free
 * it with agh_raw_free(), which accepts NULL. */
agh_raw *agh_raw_connect(const agh_server *s);
void agh_raw_free(agh_raw *r);
/* Send all of @data: 0, or -errno once the server has closed (not fatal). */
int agh_raw_send(agh_raw *r, const void *data, size_t len);
/* Send all of @sb, failing the test if that fails, and empty it (its
 * memory freed; it stays usable). */
void agh_raw_send_sbuf(agh_raw *r, msgpack_sbuffer *sb);
/*
 * The next message from the server into @m (its strings point into @r's
 * buffer, valid until the next read). Returns 1 for a message, 0 when the
 * server closed the connection, -1 when nothing came within @timeout
 * seconds. Fails the test on bytes that are not MessagePack.
 */
int agh_raw_read(agh_raw *r, msgpack_unpacked *m, double timeout);
/* Pack the head of a request, [0, @msgid, @method, [...]]; the caller packs
 * @nparams params after it. */
void agh_pack_head(msgpack_packer *pk, uint32_t msgid, const char *method,
		   uint32_t nparams);
/* Require @o to be a success response [1, @msgid, nil, result] (showing the
 * server's message if it is an error); returns the result. */
msgpack_object agh_ok_result(msgpack_object o, uint32_t msgid);
/* Do the handshake of protocol.md section 2 on @r with @s's key, as msgids 1
 * (hello) and 2 (auth), checking the server's proof. */
void agh_raw_handshake(agh_raw *r, const agh_server *s);
/* Read an error response named @name (its wire name) to @msgid, failing
 * the test otherwise. */
void agh_raw_expect_error(agh_raw *r, uint32_t msgid, const char *name);
/* Read until the server closes @r (what comes before is ignored), within
 * AGH_RAW_TIMEOUT; fails the test otherwise. */
void agh_raw_expect_close(agh_raw *r);

/* ---- processes and files ---- */

/* Require that this process has no child left, running or unreaped (a
 * zombie found is reaped and reported). */
void agh_assert_no_children(void);
/* The number of open descriptors of this process. */
int agh_count_fds(void);
/* Whether @path exists (lstat succeeds). */
bool agh_path_exists(const char *path);

/* Run a suite with CK_NORMAL output; returns the process exit status. */
int agh_run_suite(Suite *s);
/* A TCase named @name with @fn, the standard fixture and a timeout. */
TCase *agh_tcase(Suite *s, const char *name, const TTest *fn);
/* The same without the fixture, for tests that manage servers themselves. */
TCase *agh_tcase_bare(Suite *s, const char *name, const TTest *fn);

/* Remove directory @dir and all it holds (with @keep_top, only what it
 * holds). 0, or -1 when something could not be removed. "" does nothing. */
int agh_remove_tree(const char *dir, bool keep_top);

/* A data directory for the tests of a TCase (an unchecked fixture:
 * tcase_add_unchecked_fixture(tc, agh_datadir_make, agh_datadir_remove)).
 * agh_datadir_make() makes a new one, mode 0700, named by mkdtemp(3) from
 * the template /tmp/agora-data- plus six random characters, into
 * agh_datadir, and agh_datadir_args holds {"--data-dir", agh_datadir,
 * NULL} for agh_server_start_args(); agh_datadir_remove() removes it with
 * whatever a failed test left in it. */
extern char agh_datadir[64];
extern const char *agh_datadir_args[3];
void agh_datadir_make(void);
void agh_datadir_remove(void);

/*
 * A network namespace of the test's own, to make a peer vanish (only its
 * own loopback, 127.0.0.1 inside it, is used). agh_netns_init() names it
 * "agora-@prefix-PID"; agh_netns_enter() creates it, moves this (forked)
 * test process into it and brings its loopback up, or returns false having
 * printed "@who: skipped: <why>" (not root, no `ip`, no namespaces);
 * agh_netns_drop_all() takes the loopback down: no segment, ACK, keepalive
 * probe or RST arrives any more, while the sockets stay as they were;
 * agh_netns_delete() (a TCase's unchecked teardown) removes it. agh_run()
 * runs a shell command: its exit status, or -1.
 */
void agh_netns_init(const char *prefix);
bool agh_netns_enter(const char *who);
void agh_netns_drop_all(void);
void agh_netns_delete(void);
int agh_run(const char *cmd);

#define AGH_ADD(suite, fn) agh_tcase((suite), #fn, fn)
#define AGH_ADD_BARE(suite, fn) agh_tcase_bare((suite), #fn, fn)

#endif
