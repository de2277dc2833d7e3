/*
 * test_tls_client.c - libagora's tls: addresses and the agora tool's --tls-*
 * flags: the server's certificate and host name verified (AGORA_ECERT with
 * OpenSSL's reason), the CAs from a file, a hashed directory or
 * AGORA_TLS_CA, a client certificate presented when set, files that
 * cannot be used named, and the handshake bound to the TLS channel: a
 * relay that terminates TLS with a certificate the client trusts cannot
 * pass it (AGORA_EAUTH naming the binding).
 *
 * The certificates are made at run time by tls_certs.sh ($TLS_CERTS) with
 * the openssl command (the test is skipped, exit 77, without it); the
 * relay is tls_relay.py ($TLS_RELAY, run by $PYTHON through sh, which the
 * valgrind setup does not trace). Everything listens on 127.0.0.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* The directory of the certificates (tls_certs.sh lists them), made by
 * the process @main_pid, which removes it. */
static char certdir[64];
static pid_t main_pid;

/* certdir/@name in a buffer of the caller's. */
static const char *cpath(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", certdir, name);
	return buf;
}

/* ---- the relay ---- */

typedef struct relay {
	pid_t pid;
	int in_fd, out_fd; /* its stdin (closing it ends it), its stdout */
	char address[160]; /* "tls:127.0.0.1:PORT" */
} relay;

/* One line of the relay's stdout into @buf (no newline), within
 * AGH_START_TIMEOUT; fails the test otherwise. */
static void relay_line(relay *r, char *buf, size_t len)
{
	size_t n = 0;
	double deadline = agh_now() + AGH_START_TIMEOUT;

	for (;;) {
		struct pollfd p = { r->out_fd, POLLIN, 0 };
		double left = deadline - agh_now();
		char ch;

		ck_assert_msg(left > 0,
			      "the relay said nothing in time (so "
			      "far \"%.*s\")",
			      (int)n, buf);
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		ck_assert_msg(read(r->out_fd, &ch, 1) == 1,
			      "the relay ended (so far \"%.*s\")", (int)n, buf);
		if (ch == '\n')
			break;
		if (n + 1 < len)
			buf[n++] = ch;
	}
	buf[n] = '\0';
}

/*
 * Start tls_relay.py with the certificate @name (.pem/.key in certdir),
 * requiring client certificates of the CA @client_ca when not NULL, passing
 * bytes to @to ("tcp:..." or "tls:..." trusting ca.pem).
 */
static void relay_start(relay *r, const char *name, const char *client_ca,
			const char *to)
{
	char cert[128], key[128], cca[128], uca[128], line[128], pem[64],
	    keyf[64];
	const char *argv[16];
	int in[2], out[2], n = 0;

	snprintf(pem, sizeof(pem), "%s.pem", name);
	snprintf(keyf, sizeof(keyf), "%s.key", name);
	argv[n++] = "sh";
	argv[n++] = "-c";
	argv[n++] = "exec \"$0\" \"$@\"";
	argv[n++] = getenv("PYTHON");
	argv[n++] = getenv("TLS_RELAY");
	argv[n++] = "--cert";
	argv[n++] = cpath(cert, sizeof(cert), pem);
	argv[n++] = "--key";
	argv[n++] = cpath(key, sizeof(key), keyf);
	if (client_ca != NULL) {
		argv[n++] = "--client-ca";
		argv[n++] = cpath(cca, sizeof(cca), client_ca);
	}
	argv[n++] = "--to";
	argv[n++] = to;
	argv[n++] = "--upstream-ca";
	argv[n++] = cpath(uca, sizeof(uca), "ca.pem");
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv("/bin/sh", (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	r->in_fd = in[1];
	r->out_fd = out[0];
	relay_line(r, line, sizeof(line));
	ck_assert_msg(strncmp(line, "listening 127.0.0.1:", 20) == 0,
		      "the relay said \"%s\"", line);
	snprintf(r->address, sizeof(r->address), "tls:%s", line + 10);
}

static void relay_stop(relay *r)
{
	close(r->in_fd);
	close(r->out_fd);
	kill(r->pid, SIGTERM);
	agh_wait_pid(r->pid, AGH_STOP_TIMEOUT);
}

/* A new client with the TLS files @ca, @cert, @key (names in certdir,
 * NULL: not set) connected to @address with @s's key: what connect
 * returned, the client in *ret (free it). */
static int connect_tls(const agh_server *s, const char *address, const char *ca,
		       const char *cert, const char *key, agora_client **ret)
{
	char a[128], b[128], k[128];
	agora_client *c = agora_client_new();

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(
	    agora_client_set_tls(c, ca ? cpath(a, sizeof(a), ca) : NULL,
				 cert ? cpath(b, sizeof(b), cert) : NULL,
				 key ? cpath(k, sizeof(k), key) : NULL),
	    0);
	agora_client_set_connect_timeout(c, 20);
	*ret = c;
	return agora_client_connect(c, address, s->key, AGH_KEYLEN);
}

/* Require @rc == @want and agora_errmsg(@c) to hold @text; free @c. */
static void expect_failure(agora_client *c, int rc, int want, const char *text)
{
	ck_assert_msg(rc == want, "connect returned %s, not %s: %s",
		      agora_errname(rc), agora_errname(want), agora_errmsg(c));
	ck_assert_msg(strstr(agora_errmsg(c), text) != NULL,
		      "the message does not say \"%s\": %s", text,
		      agora_errmsg(c));
	agora_client_free(c);
}

/* A plain agorad with a TCP listener, for the relay to pass bytes to. */
static void start_tcp_server(agh_server *s)
{
	static const char *const args[] = { "--listen", "tcp:127.0.0.1:0",
					    NULL };

	agh_server_start_args(s, args);
	ck_assert_str_ne(s->tcp_address, "");
}

/* ---- certificates ---- */

/* A server whose certificate comes from another CA than the one trusted:
 * AGORA_ECERT, with OpenSSL's reason and the name checked. */
START_TEST(certificate_of_another_ca_is_a_certificate_error)
{
	agh_server s;
	agora_client *c;
	relay r;
	int rc;

	start_tcp_server(&s);
	relay_start(&r, "server", NULL, s.tcp_address);
	rc = connect_tls(&s, r.address, "ca2.pem", NULL, NULL, &c);
	ck_assert_str_eq(agora_errname(rc), "CERT");
	expect_failure(c, rc, AGORA_ECERT,
		       "unable to get local issuer certificate");
	relay_stop(&r);
	agh_server_stop(&s);
}
END_TEST

/* The same CA through AGORA_TLS_CA, and an agora_client_set_tls() file
 * that wins over it. */
START_TEST(ca_comes_from_the_environment_unless_set)
{
	char ca2[128];
	agh_server s;
	agora_client *c;
	relay r;
	int rc;

	start_tcp_server(&s);
	relay_start(&r, "server", NULL, s.tcp_address);
	setenv("AGORA_TLS_CA", cpath(ca2, sizeof(ca2), "ca2.pem"), 1);
	rc = connect_tls(&s, r.address, NULL, NULL, NULL, &c);
	expect_failure(c, rc, AGORA_ECERT, "ca2.pem");
	/* ca.pem set on the client: verified, then the relay's binding
	 * is what fails. */
	rc = connect_tls(&s, r.address, "ca.pem", NULL, NULL, &c);
	expect_failure(c, rc, AGORA_EAUTH, "channel binding");
	unsetenv("AGORA_TLS_CA");
	relay_stop(&r);
	agh_server_stop(&s);
}
END_TEST

/* A certificate for other names than the one connected to: AGORA_ECERT,
 * for an IP address as for a DNS name. */
START_TEST(certificate_for_another_name_is_a_certificate_error)
{
	char addr[96];
	agh_server s;
	agora_client *c;
	relay r;
	int rc;

	start_tcp_server(&s);
	relay_start(&r, "other", NULL, s.tcp_address);
	rc = connect_tls(&s, r.address, "ca.pem", NULL, NULL, &c);
	expect_failure(c, rc, AGORA_ECERT, "IP address mismatch");
	snprintf(addr, sizeof(addr), "tls:localhost:%s",
		 strrchr(r.address, ':') + 1);
	rc = connect_tls(&s, addr, "ca.pem", NULL, NULL, &c);
	expect_failure(c, rc, AGORA_ECERT, "hostname mismatch");
	/* The message names the certificate that failed. */
	rc = connect_tls(&s, addr, "ca.pem", NULL, NULL, &c);
	expect_failure(c, rc, AGORA_ECERT, "CN=agora-test-other");
	relay_stop(&r);
	agh_server_stop(&s);
}
END_TEST

/* A hashed directory of CAs (openssl rehash) is a CA source: the
 * certificate is verified (and the relay's binding then fails). */
START_TEST(ca_directory_verifies_the_server)
{
	agh_server s;
	agora_client *c;
	relay r;
	int rc;

	start_tcp_server(&s);
	relay_start(&r, "server", NULL, s.tcp_address);
	rc = connect_tls(&s, r.address, "cadir", NULL, NULL, &c);
	expect_failure(c, rc, AGORA_EAUTH, "channel binding");
	relay_stop(&r);
	agh_server_stop(&s);
}
END_TEST

/* A server that requires a client certificate sees the one set, and
 * refuses a client without one or with one of another CA. */
START_TEST(client_certificate_is_presented_when_set)
{
	char line[128];
	agh_server s;
	agora_client *c;
	relay r;
	int rc;

	start_tcp_server(&s);
	relay_start(&r, "server", "ca.pem", s.tcp_address);
	rc = connect_tls(&s, r.address, "ca.pem", "client.pem", "client.key",
			 &c);
	relay_line(&r, line, sizeof(line));
	ck_assert_str_eq(line, "client CN=agora-test-client");
	expect_failure(c, rc, AGORA_EAUTH, "channel binding");

	rc = connect_tls(&s, r.address, "ca.pem", NULL, NULL, &c);
	relay_line(&r, line, sizeof(line));
	ck_assert_msg(strncmp(line, "failed", 6) == 0, "relay: %s", line);
	expect_failure(c, rc, AGORA_EIO, "TLS");

	rc = connect_tls(&s, r.address, "ca.pem", "ca2-client.pem",
			 "ca2-client.key", &c);
	relay_line(&r, line, sizeof(line));
	ck_assert_msg(strncmp(line, "failed", 6) == 0, "relay: %s", line);
	expect_failure(c, rc, AGORA_EIO, "TLS");
	relay_stop(&r);
	agh_server_stop(&s);
}
END_TEST

/* Files that cannot be used are AGORA_EINVAL naming them; a TLS client at
 * a plain TCP listener fails its handshake (AGORA_EIO); a bad tls:
 * address is named. */
START_TEST(unusable_files_and_plain_listeners_are_named)
{
	agh_server s;
	agora_client *c;
	int rc;

	char tls[sizeof(s.tcp_address)];

	start_tcp_server(&s);
	/* "tcp:" and "tls:" are as long. */
	snprintf(tls, sizeof(tls), "tls:%.150s", s.tcp_address + 4);
	rc = connect_tls(&s, tls, "missing.pem", NULL, NULL, &c);
	expect_failure(c, rc, AGORA_EINVAL, "missing.pem");
	rc = connect_tls(&s, tls, "ca.pem", NULL, "client.key", &c);
	expect_failure(c, rc, AGORA_EINVAL, "without a client certificate");
	rc = connect_tls(&s, tls, "ca.pem", "client.pem", "server.key", &c);
	expect_failure(c, rc, AGORA_EINVAL, "server.key");
	rc = connect_tls(&s, tls, "ca.pem", NULL, NULL, &c);
	expect_failure(c, rc, AGORA_EIO, "TLS");
	rc = connect_tls(&s, "tls:127.0.0.1", "ca.pem", NULL, NULL, &c);
	expect_failure(c, rc, AGORA_EINVAL, "tls:HOST:PORT");
	c = agora_client_new();
	ck_assert_int_eq(agora_client_set_tls(c, "", NULL, NULL), AGORA_EINVAL);
	agora_client_free(c);
	agh_server_stop(&s);
}
END_TEST

/* ---- against agorad's tls: listener ---- */

/* A free port on 127.0.0.1 (bound and let go: nothing else here takes
 * it before agorad does), so that a restarted agorad listens where the
 * first did. */
static int free_port(bool v6)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr *sa =
	    v6 ? (struct sockaddr *)&sin6 : (struct sockaddr *)&sin;
	socklen_t len = v6 ? sizeof(sin6) : sizeof(sin);
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0), port;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, sa, len), 0);
	ck_assert_int_eq(getsockname(fd, sa, &len), 0);
	port = ntohs(v6 ? sin6.sin6_port : sin.sin_port);
	close(fd);
	return port;
}

/* agorad with a tls: listener on 127.0.0.1 (or [::1] with @v6; server.pem),
 * requiring client
 * certificates of @client_ca when not NULL; its address in @address. The
 * arguments live in @args (the harness keeps them for a restart). */
struct tls_server {
	agh_server s;
	char address[64], listen[64], cert[128], key[128], cca[128];
	const char *args[12];
};

static void start_tls_server(struct tls_server *t, const char *client_ca,
			     bool v6)
{
	int n = 0;

	if (v6)
		snprintf(t->listen, sizeof(t->listen), "tls:[::1]:%d",
			 free_port(true));
	else
		snprintf(t->listen, sizeof(t->listen), "tls:127.0.0.1:%d",
			 free_port(false));
	snprintf(t->address, sizeof(t->address), "%s", t->listen);
	t->args[n++] = "--listen";
	t->args[n++] = t->listen;
	t->args[n++] = "--tls-cert";
	t->args[n++] = cpath(t->cert, sizeof(t->cert), "server.pem");
	t->args[n++] = "--tls-key";
	t->args[n++] = cpath(t->key, sizeof(t->key), "server.key");
	if (client_ca != NULL) {
		t->args[n++] = "--tls-client-ca";
		t->args[n++] = cpath(t->cca, sizeof(t->cca), client_ca);
	}
	t->args[n] = NULL;
	agh_server_start_args(&t->s, t->args);
}

/* Require a connect to have succeeded. */
static void expect_connected(agora_client *c, int rc)
{
	ck_assert_msg(rc == 0, "connect: %s: %s", agora_errname(rc),
		      agora_errmsg(c));
}

static int reconnects;

static void on_reconnect(agora_client *c, bool restarted, void *arg)
{
	(void)c;
	(void)restarted;
	(void)arg;
	reconnects++;
}

/* Calls over TLS: small ones, a value of several TLS records each way, a
 * pipeline; a host name as well as an IP address; a fork() child that
 * frees its copy of the client leaves the parent's connection alone; and
 * a client that reconnects keeps working across a restart of agorad. */
START_TEST(calls_and_a_reconnect_over_tls)
{
	struct tls_server t;
	char addr[96];
	agora_client *c, *c2;
	agora_queue *q;
	agora_value v;
	agora_pipeline *p;
	int64_t n = 0;
	size_t big = 3 << 20;
	char *blob = malloc(big);
	pid_t pid;

	ck_assert_ptr_nonnull(blob);
	for (size_t i = 0; i < big; i++)
		blob[i] = (char)(i * 7);
	start_tls_server(&t, NULL, false);
	expect_connected(
	    c, connect_tls(&t.s, t.address, "ca.pem", NULL, NULL, &c));
	AGH_OK(c, agora_ping(c));
	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(c, agora_queue_put(q, agora_int(42), 5));
	AGH_OK(c, agora_queue_put(q, agora_bin(blob, big), 5));
	AGH_OK(c, agora_queue_get_int(q, 5, &n));
	ck_assert_int_eq(n, 42);
	AGH_OK(c, agora_queue_get(q, 5, &v));
	ck_assert_int_eq(v.type, AGORA_BIN);
	ck_assert_uint_eq(v.via.str.len, big);
	ck_assert(memcmp(v.via.str.ptr, blob, big) == 0);
	agora_value_free(&v);
	p = agora_pipeline_new(c);
	ck_assert_ptr_nonnull(p);
	for (int i = 0; i < 100; i++) {
		agora_value args[1] = { agora_int(i) };
		AGH_OK(c, agora_pipeline_call(p, "ping", agora_array(args, 1)));
	}
	for (int i = 0; i < 100; i++) {
		AGH_OK(c, agora_pipeline_result(p, &v));
		agh_assert_int(v, i);
		agora_value_free(&v);
	}
	agora_pipeline_free(p);

	/* tls:localhost:PORT: the certificate's DNS name. */
	snprintf(addr, sizeof(addr), "tls:localhost:%s",
		 strrchr(t.address, ':') + 1);
	expect_connected(c2, connect_tls(&t.s, addr, "cadir", NULL, NULL, &c2));
	AGH_OK(c2, agora_ping(c2));
	agora_client_free(c2);

	/* A child frees its copy: no close_notify on the parent's stream. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ck_assert_int_eq(agora_ping(c), AGORA_EINVAL);
		agora_client_free(c);
		_exit(0);
	}
	agh_wait_ok(pid);
	AGH_OK(c, agora_ping(c));

	AGH_OK(c, agora_client_set_reconnect(c, 30, on_reconnect, NULL));
	agh_server_restart(&t.s, SIGTERM);
	AGH_OK(c, agora_ping(c));
	ck_assert_int_eq(reconnects, 1);
	AGH_OK(c, agora_queue_put(q, agora_int(7), 5));
	AGH_OK(c, agora_queue_get_int(q, 5, &n));
	ck_assert_int_eq(n, 7);
	agora_queue_close(q);
	agora_client_free(c);
	free(blob);
	agh_server_stop(&t.s);
}
END_TEST

/* The event-loop client over TLS: a request of many TLS records sent
 * without blocking, more calls appended while its rest waits (the
 * buffer moves under OpenSSL's retried write), answers by msgid, and a
 * watch's notification, all through poll() and agora_client_process(). */
START_TEST(event_loop_calls_and_notifications_over_tls)
{
	enum { N = 50 };
	struct tls_server t;
	agora_client *c, *c2;
	agora_dict *d, *d2;
	agora_notification *note = NULL;
	agora_value v, p[2];
	agora_pair none;
	uint32_t big_id, ids[N], watch_id;
	size_t big = 3 << 20;
	char *blob = malloc(big);
	double end;
	int rc;

	ck_assert_ptr_nonnull(blob);
	for (size_t i = 0; i < big; i++)
		blob[i] = (char)(i * 13);
	start_tls_server(&t, NULL, false);
	expect_connected(
	    c, connect_tls(&t.s, t.address, "ca.pem", NULL, NULL, &c));
	expect_connected(
	    c2, connect_tls(&t.s, t.address, "ca.pem", NULL, NULL, &c2));
	AGH_OK(c, agora_dict_open(c, "cfg", &d));
	AGH_OK(c2, agora_dict_open(c2, "cfg", &d2));
	p[0] = agora_bin(blob, big);
	/* A small send buffer and a server that reads nothing for now, so
	 * that the kernel takes the request in pieces. */
	ck_assert_int_eq(setsockopt(agora_client_fd(c), SOL_SOCKET, SO_SNDBUF,
				    &(int){ 65536 }, sizeof(int)),
			 0);
	ck_assert_int_eq(kill(t.s.pid, SIGSTOP), 0);
	AGH_OK(c, agora_call_send(c, "ping", agora_array(p, 1), &big_id));
	ck_assert(agora_client_want_write(c));
	for (int i = 0; i < N; i++) {
		p[0] = agora_int(i);
		AGH_OK(c,
		       agora_call_send(c, "ping", agora_array(p, 1), &ids[i]));
	}
	ck_assert_int_eq(kill(t.s.pid, SIGCONT), 0);
	p[0] = agora_uint(agora_dict_handle(d));
	p[1] = agora_map(&none, 0);
	AGH_OK(c, agora_call_send(c, "watch", agora_array(p, 2), &watch_id));
	end = agh_now() + AGH_STATE_TIMEOUT;
	while ((rc = agora_call_result(c, watch_id, &v)) == AGORA_EAGAIN) {
		struct pollfd pfd = { .fd = agora_client_fd(c),
				      .events = POLLIN };

		if (agora_client_want_write(c))
			pfd.events |= POLLOUT;
		ck_assert(agh_now() < end);
		ck_assert_int_ge(poll(&pfd, 1, 100), 0);
		ck_assert_int_ge(agora_client_process(c), 0);
	}
	AGH_OK(c, rc);
	agora_value_free(&v);
	/* The answers before the watch's came before it. */
	AGH_OK(c, agora_call_result(c, big_id, &v));
	ck_assert_uint_eq(v.via.str.len, big);
	ck_assert(memcmp(v.via.str.ptr, blob, big) == 0);
	agora_value_free(&v);
	for (int i = N - 1; i >= 0; i--) {
		AGH_OK(c, agora_call_result(c, ids[i], &v));
		agh_assert_int(v, i);
	}
	AGH_OK(c2, agora_dict_set(d2, agora_str("k"), agora_int(1)));
	AGH_OK(c, agora_notification_next(c, AGH_STATE_TIMEOUT, &note));
	ck_assert_str_eq(note->method, "watch");
	agh_assert_str(*agora_map_get(&note->params, "key"), "k");
	agora_notification_free(note);
	agora_dict_close(d2);
	agora_client_free(c2);
	agora_dict_close(d);
	agora_client_free(c);
	free(blob);
	agh_server_stop(&t.s);
}
END_TEST

/* agorad --tls-client-ca: a client with a certificate of that CA gets in;
 * one without, or with another CA's, fails naming the TLS error. */
START_TEST(agorad_requires_the_client_certificate)
{
	struct tls_server t;
	agora_client *c;
	int rc;

	start_tls_server(&t, "ca.pem", false);
	rc = connect_tls(&t.s, t.address, "ca.pem", "client.pem", "client.key",
			 &c);
	expect_connected(c, rc);
	AGH_OK(c, agora_ping(c));
	agora_client_free(c);
	rc = connect_tls(&t.s, t.address, "ca.pem", NULL, NULL, &c);
	expect_failure(c, rc, AGORA_EIO, "TLS");
	rc = connect_tls(&t.s, t.address, "ca.pem", "ca2-client.pem",
			 "ca2-client.key", &c);
	expect_failure(c, rc, AGORA_EIO, "TLS");
	agh_server_stop(&t.s);
}
END_TEST

/* A relay with its own certificate, trusted by the client, between the
 * client and agorad's tls: listener: the handshake fails on the binding
 * (AGORA_EAUTH, the message says so), while the same client connects
 * directly. The relay's own TLS connection to agorad verifies as well. */
START_TEST(relay_cannot_pass_the_bound_handshake)
{
	struct tls_server t;
	agora_client *c;
	relay r;
	int rc;

	start_tls_server(&t, NULL, false);
	relay_start(&r, "relay", NULL, t.address);
	rc = connect_tls(&t.s, r.address, "ca.pem", NULL, NULL, &c);
	expect_failure(c, rc, AGORA_EAUTH, "channel binding");
	rc = connect_tls(&t.s, t.address, "ca.pem", NULL, NULL, &c);
	expect_connected(c, rc);
	AGH_OK(c, agora_ping(c));
	agora_client_free(c);
	relay_stop(&r);
	agh_server_stop(&t.s);
}
END_TEST

/* tls:[::1]:PORT: the IPv6 literal is checked against the certificate's IP
 * addresses (server.pem has ::1), and the agora tool connects there too. */
START_TEST(ipv6_literal_is_verified_as_an_address)
{
	struct tls_server t;
	agora_client *c;
	int rc;

	start_tls_server(&t, NULL, true);
	rc = connect_tls(&t.s, t.address, "ca.pem", NULL, NULL, &c);
	expect_connected(c, rc);
	AGH_OK(c, agora_ping(c));
	agora_client_free(c);
	agh_server_stop(&t.s);
}
END_TEST

/* Copy certdir/@from to @to (mode 0600). */
static void copy_file(const char *from, const char *to)
{
	char path[128], buf[4096];
	FILE *in, *out;
	size_t n;

	in = fopen(cpath(path, sizeof(path), from), "rb");
	ck_assert_ptr_nonnull(in);
	out = fopen(to, "wb");
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(fchmod(fileno(out), 0600), 0);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}

/* A certificate renewed (from another CA here) and reloaded on SIGHUP: a
 * client connected before keeps working, a new one is shown the new
 * certificate (a client trusting only the old CA now fails with
 * AGORA_ECERT, one trusting the new CA gets in). */
START_TEST(certificate_reload_keeps_clients_and_shows_new_ones_the_new)
{
	struct tls_server t;
	char cert[160], key[160];
	agora_client *c, *c2;
	double deadline;
	int rc;

	/* The files agorad reads, which a renewal replaces. */
	cpath(cert, sizeof(cert), "live.pem");
	cpath(key, sizeof(key), "live.key");
	copy_file("server.pem", cert);
	copy_file("server.key", key);
	snprintf(t.listen, sizeof(t.listen), "tls:127.0.0.1:%d",
		 free_port(false));
	snprintf(t.address, sizeof(t.address), "%s", t.listen);
	const char *args[] = { "--listen",  t.listen, "--tls-cert", cert,
			       "--tls-key", key,      NULL };
	agh_server_start_args(&t.s, args);

	expect_connected(
	    c, connect_tls(&t.s, t.address, "ca.pem", NULL, NULL, &c));
	AGH_OK(c, agora_ping(c));
	copy_file("server2.pem", cert);
	copy_file("server2.key", key);
	ck_assert_int_eq(kill(t.s.pid, SIGHUP), 0);
	/* The reload is done when a client of the new CA gets in. */
	deadline = agh_now() + AGH_STATE_TIMEOUT;
	for (;;) {
		rc = connect_tls(&t.s, t.address, "ca2.pem", NULL, NULL, &c2);
		if (rc == 0 || agh_now() > deadline)
			break;
		agora_client_free(c2);
		usleep(10000);
	}
	expect_connected(c2, rc);
	AGH_OK(c2, agora_ping(c2));
	agora_client_free(c2);
	AGH_OK(c, agora_ping(c));
	rc = connect_tls(&t.s, t.address, "ca.pem", NULL, NULL, &c2);
	expect_failure(c2, rc, AGORA_ECERT, "unable to get local issuer");
	agora_client_free(c);
	agh_server_stop(&t.s);
}
END_TEST

/* ---- the agora tool ---- */

/* Run the agora tool with @args after --address @address; its exit
 * status, and its stderr in @err. */
static int run_cli(const char *address, const char *const *args, char *err,
		   size_t len)
{
	const char *argv[16];
	int p[2], n = 0, status;
	size_t got = 0;
	ssize_t k;
	pid_t pid;

	argv[n++] = getenv("AGORA_CLI");
	argv[n++] = "--address";
	argv[n++] = address;
	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(p[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while (got + 1 < len && (k = read(p[0], err + got, len - 1 - got)) > 0)
		got += (size_t)k;
	err[got] = '\0';
	close(p[0]);
	status = agh_wait_pid(pid, AGH_WORKER_TIMEOUT);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* agora --tls-ca: a certificate error exits 3 with the reason; a CA file
 * that cannot be used is a usage error (2) naming it. */
START_TEST(agora_tool_reports_certificate_errors)
{
	char ca2[128], missing[128], err[2048];
	agh_server s;
	relay r;

	if (getenv("AGORA_CLI") == NULL) {
		puts("agora_tool_reports_certificate_errors: skipped: the "
		     "agora tool is not built");
		return;
	}
	start_tcp_server(&s);
	relay_start(&r, "server", NULL, s.tcp_address);
	const char *a1[] = { "--tls-ca", cpath(ca2, sizeof(ca2), "ca2.pem"),
			     "ping", NULL };
	ck_assert_int_eq(run_cli(r.address, a1, err, sizeof(err)), 3);
	ck_assert_msg(strstr(err, "unable to get local issuer certificate"),
		      "stderr: %s", err);
	const char *a2[] = { "--tls-ca",
			     cpath(missing, sizeof(missing), "missing.pem"),
			     "ping", NULL };
	ck_assert_int_eq(run_cli(r.address, a2, err, sizeof(err)), 2);
	ck_assert_msg(strstr(err, "missing.pem"), "stderr: %s", err);
	relay_stop(&r);
	agh_server_stop(&s);

	/* And agorad's own tls: listener, trusted (the key from
	 * AGORA_AUTHKEY_FILE, which the harness set). */
	struct tls_server t;
	char ca[128];
	start_tls_server(&t, NULL, false);
	const char *a3[] = { "--tls-ca", cpath(ca, sizeof(ca), "ca.pem"),
			     "ping", NULL };
	ck_assert_msg(run_cli(t.address, a3, err, sizeof(err)) == 0,
		      "stderr: %s", err);
	agh_server_stop(&t.s);
}
END_TEST

/* ---- main ---- */

/* Make the certificates: false when the openssl command is missing. */
static bool make_certs(void)
{
	char cmd[512];
	int st;

	snprintf(certdir, sizeof(certdir), "/tmp/agora-tls-XXXXXX");
	if (mkdtemp(certdir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s'", getenv("TLS_CERTS"),
		 certdir);
	st = system(cmd);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		return false;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "%s failed\n", cmd);
		exit(1);
	}
	return true;
}

static void remove_certs(void)
{
	char cmd[128];

	if (certdir[0] != '\0' && getpid() == main_pid) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", certdir);
	}
}

int main(void)
{
	Suite *s = suite_create("tls-client");
	int rc;

	if (getenv("TLS_CERTS") == NULL || getenv("TLS_RELAY") == NULL ||
	    getenv("PYTHON") == NULL) {
		fputs("TLS_CERTS, TLS_RELAY and PYTHON must be set\n", stderr);
		return 1;
	}
	if (!make_certs()) {
		puts("the openssl command is missing: the TLS tests are "
		     "skipped");
		return 77;
	}
	main_pid = getpid();
	AGH_ADD_BARE(s, certificate_of_another_ca_is_a_certificate_error);
	AGH_ADD_BARE(s, ca_comes_from_the_environment_unless_set);
	AGH_ADD_BARE(s, certificate_for_another_name_is_a_certificate_error);
	AGH_ADD_BARE(s, ca_directory_verifies_the_server);
	AGH_ADD_BARE(s, client_certificate_is_presented_when_set);
	AGH_ADD_BARE(s, unusable_files_and_plain_listeners_are_named);
	AGH_ADD_BARE(s, agora_tool_reports_certificate_errors);
	AGH_ADD_BARE(s, calls_and_a_reconnect_over_tls);
	AGH_ADD_BARE(s, event_loop_calls_and_notifications_over_tls);
	AGH_ADD_BARE(s, agorad_requires_the_client_certificate);
	AGH_ADD_BARE(s, relay_cannot_pass_the_bound_handshake);
	AGH_ADD_BARE(s, ipv6_literal_is_verified_as_an_address);
	AGH_ADD_BARE(
	    s, certificate_reload_keeps_clients_and_shows_new_ones_the_new);
	rc = agh_run_suite(s);
	remove_certs();
	return rc;
}
