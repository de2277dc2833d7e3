/*
 * test_peer.c - dead peers, both ends (docs/reliability.md, "Dead peers").
 *
 * A server that accepts and never answers: connecting with a connect
 * timeout of 1 s fails with AGORA_ETIMEDOUT in about 1 s.
 *
 * The rest runs in a network namespace the test creates (`ip netns add
 * agora-peer-PID`, entered with setns(), its own loopback only), so that
 * every packet on 127.0.0.1 can vanish (its lo set down), as when a host
 * loses power. agorad runs inside it, listening on a TCP port of the
 * namespace's 127.0.0.1 and on a Unix socket, which works across the drop
 * (the file system is shared):
 *   - a TCP holder of a lock has its packets dropped, then is SIGKILLed
 *     (its RST never arrives): a Unix-socket waiter gets the lock within
 *     --peer-timeout 3 plus 2 s;
 *   - the mirror: a TCP client waiting on agora_lock_acquire(x, 3.0) when
 *     the server's packets vanish gets AGORA_ETIMEDOUT within 3 + its peer
 *     timeout + 2 s, and its client is broken (AGORA_EIO after);
 *   - the same with agorad stopped (SIGSTOP: its kernel still answers
 *     keepalives, so only the client's own deadline ends the call), and a
 *     ping, which has no timeout of its own, within the peer timeout.
 * The namespace is deleted by an unchecked fixture, which runs in the
 * test runner even when a test fails or times out. Where namespaces are
 * unavailable (not root, no `ip`, `ip netns add` fails) these tests pass
 * saying they were skipped. The wall-clock bounds are the "Done when" of
 * issue 12; they are not checked under valgrind or ASan (or with
 * AGORA_TEST_SLOW set), where everything is slower: the outcomes are.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define PORT "7411" /* the namespace is ours: any port is free */
#define TCP_ADDRESS "tcp:127.0.0.1:" PORT
#define TLS_ADDRESS "tls:127.0.0.1:" PORT
#define PEER_TIMEOUT 3.0 /* agorad's, in these tests */
#define SLACK 2.0

/* The TLS case's certificates (tls_certs.sh): its ca.pem, server.pem and
 * server.key. */
static char certdir[64];

static bool timing_checked(void)
{
	return !RUNNING_ON_VALGRIND && !UNDER_ASAN &&
	       getenv("AGORA_TEST_SLOW") == NULL;
}

/* agorad's peer timeout in these tests: 3 s, or its default (30 s) with
 * AGORA_TEST_PEER_DEFAULT set, to measure that once (docs/reliability.md). */
static double server_peer_timeout(void)
{
	return getenv("AGORA_TEST_PEER_DEFAULT") != NULL ? 30.0 : PEER_TIMEOUT;
}

/* agorad's arguments in these tests: a TCP listener with the peer timeout
 * above. */
static const char *const *tcp_server_args(void)
{
	static const char *const args[] = { "--listen", TCP_ADDRESS,
					    "--peer-timeout", "3", NULL };
	static const char *const default_timeout[] = { "--listen", TCP_ADDRESS,
						       NULL };

	return getenv("AGORA_TEST_PEER_DEFAULT") != NULL ? default_timeout
							 : args;
}

static void start_server(agh_server *s)
{
	agh_server_start_args(s, tcp_server_args());
}

static agora_client *connect_tcp(const agh_server *s, double peer_timeout)
{
	agora_client *c = agora_client_new();

	ck_assert_ptr_nonnull(c);
	if (peer_timeout > 0)
		AGH_OK(c, agora_client_set_peer_timeout(c, peer_timeout));
	AGH_OK(c, agora_client_connect(c, TCP_ADDRESS, s->key, AGH_KEYLEN));
	return c;
}

/* ---- a server that accepts and never answers ------------------------------
 */

START_TEST(connect_to_a_server_that_never_answers_times_out)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	char address[64];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	/* The kernel completes the TCP handshake of a listening socket:
	 * nothing is ever read or written. */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(address, sizeof(address), "tcp:127.0.0.1:%d",
		 ntohs(sin.sin_port));

	agora_client *c = agora_client_new();
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(agora_client_set_connect_timeout(NULL, 1.0),
			 AGORA_EINVAL);
	AGH_CALL_EQ(c, agora_client_set_peer_timeout(c, NAN), AGORA_EINVAL);
	AGH_CALL_EQ(c, agora_client_set_connect_timeout(c, 86401),
		    AGORA_EINVAL);
	AGH_OK(c, agora_client_set_connect_timeout(c, 1.0));
	double t0 = agh_now();
	AGH_CALL_EQ(c, agora_client_connect(c, address, "0123456789abcdef", 16),
		    AGORA_ETIMEDOUT);
	double took = agh_now() - t0;
	printf("connect to a silent server: AGORA_ETIMEDOUT after %.2f s: "
	       "%s\n",
	       took, agora_errmsg(c));
	ck_assert_msg(took >= 0.9, "gave up after %.2f s", took);
	if (timing_checked())
		ck_assert_msg(took <= 1.0 + SLACK, "took %.2f s", took);
	/* Not connected: a call says so, it does not hang. */
	AGH_CALL_EQ(c, agora_ping(c), AGORA_EINVAL);
	agora_client_free(c);

	/* The same from the environment. */
	c = agora_client_new();
	ck_assert_int_eq(setenv("AGORA_CONNECT_TIMEOUT", "0.5", 1), 0);
	t0 = agh_now();
	AGH_CALL_EQ(c, agora_client_connect(c, address, "0123456789abcdef", 16),
		    AGORA_ETIMEDOUT);
	took = agh_now() - t0;
	ck_assert_msg(took >= 0.4, "gave up after %.2f s", took);
	if (timing_checked())
		ck_assert_msg(took <= 0.5 + SLACK, "took %.2f s", took);
	ck_assert_int_eq(setenv("AGORA_CONNECT_TIMEOUT", "soon", 1), 0);
	AGH_CALL_EQ(c, agora_client_connect(c, address, "0123456789abcdef", 16),
		    AGORA_EINVAL);
	unsetenv("AGORA_CONNECT_TIMEOUT");
	agora_client_free(c);
	close(fd);
}
END_TEST

/* ---- the server drops a vanished holder -------------------------------- */

/* The holder, over TCP or TLS (@address): take "printer", say so on @fd,
 * then wait to be killed. */
static void holder(const agh_server *s, const char *address, int fd)
{
	agora_client *c = agora_client_new();
	char ca[128];
	agora_lock *l;
	bool got = false;

	snprintf(ca, sizeof(ca), "%s/ca.pem", certdir);
	if (c == NULL ||
	    (strncmp(address, "tls:", 4) == 0 &&
	     agora_client_set_tls(c, ca, NULL, NULL) < 0) ||
	    agora_client_connect(c, address, s->key, AGH_KEYLEN) < 0 ||
	    agora_lock_open(c, "printer", &l) < 0 ||
	    agora_lock_acquire(l, 0, &got) < 0 || !got) {
		fprintf(stderr, "holder: %s\n", agora_errmsg(c));
		_exit(1);
	}
	if (write(fd, "!", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/*
 * A holder of "printer" over @address (agorad started with @args) whose
 * host vanishes: no FIN, no RST, nothing. The server's peer timeout ends
 * its connection, and the lock goes to the waiter.
 */
static void vanished_holder(const char *address, const char *const *args)
{
	agh_server s;
	int p[2];
	char b;

	agh_server_start_args(&s, args);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		holder(&s, address, p[1]);
	}
	close(p[1]);
	ck_assert_msg(read(p[0], &b, 1) == 1, "the holder did not take it");
	close(p[0]);

	agora_client *w = agh_connect(&s); /* over the Unix socket */
	agora_lock *l;
	bool got = true;
	AGH_OK(w, agora_lock_open(w, "printer", &l));
	AGH_OK(w, agora_lock_acquire(l, 0, &got));
	ck_assert(!got);

	agh_netns_drop_all();
	double t0 = agh_now();
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	agh_wait_pid(pid, AGH_WORKER_TIMEOUT);

	AGH_OK(w, agora_lock_acquire(l, 60, &got));
	double took = agh_now() - t0;
	printf("%s holder's packets dropped, then killed: the lock passed "
	       "after %.2f s (peer timeout %g)\n",
	       address, took, server_peer_timeout());
	ck_assert(got);
	ck_assert_int_eq(agh_info_int(w, agora_lock_handle(l), "abandoned"), 1);
	if (timing_checked())
		ck_assert_msg(took <= server_peer_timeout() + SLACK,
			      "took %.2f s", took);
	AGH_OK(w, agora_lock_release(l));
	agora_lock_close(l);
	agora_client_free(w);
	agh_server_stop(&s);
}

START_TEST(lock_of_a_tcp_holder_whose_packets_vanish_goes_to_a_waiter)
{
	if (agh_netns_enter("test_peer"))
		vanished_holder(TCP_ADDRESS, tcp_server_args());
}
END_TEST

/* The same over TLS: the peer timeout ends a TLS connection too. */
START_TEST(lock_of_a_tls_holder_whose_packets_vanish_goes_to_a_waiter)
{
	char cert[128], key[128], cmd[256];
	int st;

	snprintf(certdir, sizeof(certdir), "/tmp/agora-peer-tls-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(certdir));
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s'", getenv("TLS_CERTS"),
		 certdir);
	st = system(cmd);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		printf("test_peer: TLS case skipped: no openssl command\n");
		rmdir(certdir);
		return;
	}
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed", cmd);
	snprintf(cert, sizeof(cert), "%s/server.pem", certdir);
	snprintf(key, sizeof(key), "%s/server.key", certdir);
	const char *const args[] = {
		"--listen", TLS_ADDRESS,      "--tls-cert", cert, "--tls-key",
		key,        "--peer-timeout", "3",          NULL
	};
	if (agh_netns_enter("test_peer"))
		vanished_holder(TLS_ADDRESS, args);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
	agh_run(cmd);
}
END_TEST

/* ---- the client gives up on a vanished server -------------------------- */

START_TEST(acquire_against_a_server_whose_packets_vanish_times_out)
{
	agh_server s;
	const double peer = 2.0, timeout = 3.0;

	if (!agh_netns_enter("test_peer"))
		return;
	start_server(&s);
	agora_client *h = agh_connect(&s); /* holds it, over Unix */
	agora_lock *hl, *l;
	bool got = false;
	AGH_OK(h, agora_lock_open(h, "printer", &hl));
	AGH_OK(h, agora_lock_acquire(hl, 0, &got));
	ck_assert(got);

	agora_client *c = connect_tcp(&s, peer);
	AGH_OK(c, agora_lock_open(c, "printer", &l));
	agh_netns_drop_all();
	double t0 = agh_now();
	AGH_CALL_EQ(c, agora_lock_acquire(l, timeout, &got), AGORA_ETIMEDOUT);
	double took = agh_now() - t0;
	printf("acquire(x, 3.0), the server's packets dropped: "
	       "AGORA_ETIMEDOUT after %.2f s (peer timeout 2): %s\n",
	       took, agora_errmsg(c));
	if (timing_checked())
		ck_assert_msg(took <= timeout + peer + SLACK, "took %.2f s",
			      took);
	/* Broken for good, as after a lost connection. */
	AGH_CALL_EQ(c, agora_ping(c), AGORA_EIO);
	agora_lock_close(l);
	agora_client_free(c);
	agora_lock_close(hl);
	agora_client_free(h);
	agh_server_stop(&s);
}
END_TEST

START_TEST(calls_to_a_stopped_server_end_at_their_deadline)
{
	agh_server s;
	const double peer = 2.0, timeout = 3.0;

	if (!agh_netns_enter("test_peer"))
		return;
	start_server(&s);
	agora_client *h = agh_connect(&s);
	agora_lock *hl, *l;
	bool got = false;
	AGH_OK(h, agora_lock_open(h, "printer", &hl));
	AGH_OK(h, agora_lock_acquire(hl, 0, &got));
	ck_assert(got);

	/* Stopped, the server's kernel still acknowledges and answers
	 * keepalives: only the client's own deadline ends the call. */
	agora_client *c = connect_tcp(&s, peer);
	AGH_OK(c, agora_lock_open(c, "printer", &l));
	ck_assert_int_eq(kill(s.pid, SIGSTOP), 0);
	double t0 = agh_now();
	AGH_CALL_EQ(c, agora_lock_acquire(l, timeout, &got), AGORA_ETIMEDOUT);
	double took = agh_now() - t0;
	printf("acquire(x, 3.0), the server stopped: AGORA_ETIMEDOUT after "
	       "%.2f s (peer timeout 2)\n",
	       took);
	ck_assert_msg(took >= timeout + peer - 0.1, "gave up after %.2f s",
		      took);
	if (timing_checked())
		ck_assert_msg(took <= timeout + peer + SLACK, "took %.2f s",
			      took);
	AGH_CALL_EQ(c, agora_ping(c), AGORA_EIO);
	agora_lock_close(l);
	agora_client_free(c);

	/* A call with no timeout of its own: the peer timeout. */
	c = agora_client_new();
	ck_assert_int_eq(setenv("AGORA_PEER_TIMEOUT", "2", 1), 0);
	ck_assert_int_eq(kill(s.pid, SIGCONT), 0);
	AGH_OK(c, agora_client_connect(c, TCP_ADDRESS, s.key, AGH_KEYLEN));
	unsetenv("AGORA_PEER_TIMEOUT");
	ck_assert_int_eq(kill(s.pid, SIGSTOP), 0);
	t0 = agh_now();
	AGH_CALL_EQ(c, agora_ping(c), AGORA_ETIMEDOUT);
	took = agh_now() - t0;
	printf("ping, the server stopped: AGORA_ETIMEDOUT after %.2f s\n",
	       took);
	ck_assert_msg(took >= peer - 0.1, "gave up after %.2f s", took);
	if (timing_checked())
		ck_assert_msg(took <= peer + SLACK, "took %.2f s", took);
	agora_client_free(c);
	ck_assert_int_eq(kill(s.pid, SIGCONT), 0);

	/* The Unix-socket client is untouched by all this. */
	AGH_OK(h, agora_lock_release(hl));
	agora_lock_close(hl);
	agora_client_free(h);
	agh_server_stop(&s);
}
END_TEST

/* agorad refuses a --peer-timeout that is not seconds from 0 to a day. */
START_TEST(agorad_refuses_a_bad_peer_timeout)
{
	static const char *const bad[] = { "-1", "soon", "86401", "nan" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pid_t pid = fork();

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 2);
			execl(getenv("AGORAD"), "agorad", "--peer-timeout",
			      bad[i], "--authkey-file", "/nonexistent",
			      (char *)NULL);
			_exit(127);
		}
		int st = agh_wait_pid(pid, AGH_WORKER_TIMEOUT);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2,
			      "--peer-timeout %s: status %d", bad[i], st);
	}
}
END_TEST

static TCase *in_ns(Suite *s, const char *name, const TTest *fn)
{
	TCase *tc = agh_tcase_bare(s, name, fn);

	tcase_add_unchecked_fixture(tc, NULL, agh_netns_delete);
	return tc;
}

int main(void)
{
	Suite *s = suite_create("peer");

	agh_netns_init("peer");
	AGH_ADD_BARE(s, connect_to_a_server_that_never_answers_times_out);
	AGH_ADD_BARE(s, agorad_refuses_a_bad_peer_timeout);
	in_ns(s, "lock_of_a_tcp_holder_whose_packets_vanish_goes_to_a_waiter",
	      lock_of_a_tcp_holder_whose_packets_vanish_goes_to_a_waiter);
	in_ns(s, "lock_of_a_tls_holder_whose_packets_vanish_goes_to_a_waiter",
	      lock_of_a_tls_holder_whose_packets_vanish_goes_to_a_waiter);
	in_ns(s, "acquire_against_a_server_whose_packets_vanish_times_out",
	      acquire_against_a_server_whose_packets_vanish_times_out);
	in_ns(s, "calls_to_a_stopped_server_end_at_their_deadline",
	      calls_to_a_stopped_server_end_at_their_deadline);
	return agh_run_suite(s);
}
