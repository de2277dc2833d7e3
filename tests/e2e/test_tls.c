/*
 * test_tls.c - the server's TLS, embedded (libagora-server) and seen by a
 * client written with OpenSSL alone: the config's TLS fields and their
 * refusals, the handshake bound to the certificate (protocol section 2.1),
 * and a certificate reload by the reload signal that keeps an open
 * connection and gives a new one the new certificate.
 *
 * In C so that the server's TLS path also runs under valgrind (the Python
 * checks of tests/conformance/tls.py do not). Certificates are made at run
 * time with the openssl command; without it the test is skipped (77).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "agora_server.h"
#include "harness.h"

#define KEYLEN 32

static char pki[64]; /* the directory of the certificates */

static void pki_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", pki, name);
}

/* Run a shell command; fail the test if it fails. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* A server certificate NAME.crt, NAME.key (0600) signed by ca.crt. */
static void make_server_cert(const char *dir, const char *name)
{
	sh("cd %s && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n"
	   "basicConstraints=CA:FALSE\\n' > %s.ext && "
	   "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
	   "-nodes -keyout %s.key -out %s.csr -subj /CN=localhost "
	   ">/dev/null 2>&1 && "
	   "openssl x509 -req -in %s.csr -CA %s/ca.crt -CAkey %s/ca.key "
	   "-set_serial %u -out %s.crt -days 2 -extfile %s.ext "
	   ">/dev/null 2>&1 && chmod 600 %s.key",
	   dir, name, name, name, name, pki, pki, (unsigned)rand(), name, name,
	   name);
}

static void pki_setup(void)
{
	snprintf(pki, sizeof(pki), "/tmp/agora-tls-XXXXXX");
	ck_assert(mkdtemp(pki) != NULL);
	sh("cd %s && openssl req -x509 -newkey ec -pkeyopt "
	   "ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt "
	   "-subj /CN=ca -days 2 >/dev/null 2>&1",
	   pki);
	make_server_cert(pki, "server");
	make_server_cert(pki, "other");
}

static void pki_teardown(void)
{
	sh("rm -rf %s", pki);
}

/* ---- an embedded server on a thread ---- */

typedef struct tserver {
	agora_server *srv;
	pthread_t thread;
	int rc;
	unsigned char key[KEYLEN];
	char cert[128], keyfile[128];
	unsigned short port;
	atomic_int reloads; /* "reloaded" lines logged */
	atomic_int failed;  /* "reload failed" lines logged */
} tserver;

static void on_log(void *ud, const char *line)
{
	tserver *t = ud;

	if (strstr(line, "info: reloaded the TLS certificate") != NULL)
		atomic_fetch_add(&t->reloads, 1);
	if (strstr(line, "reload failed") != NULL)
		atomic_fetch_add(&t->failed, 1);
}

static void *serve(void *arg)
{
	tserver *t = arg;

	t->rc = agora_server_run(t->srv);
	return NULL;
}

static int tserver_new(tserver *t, const char *listen, const char *cert,
		       const char *key, char *err, size_t errlen)
{
	const char *l[1] = { listen };
	agora_server_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = l;
	cfg.nlisten = 1;
	cfg.key = t->key;
	cfg.keylen = KEYLEN;
	cfg.tls_cert = cert;
	cfg.tls_key = key;
	cfg.reload_signal = SIGUSR1;
	cfg.log = on_log;
	cfg.log_ud = t;
	return agora_server_new(&cfg, &t->srv, err, errlen);
}

static void tserver_start(tserver *t)
{
	char err[512];
	const char *addr;

	memset(t, 0, sizeof(*t));
	ck_assert_int_eq(getrandom(t->key, KEYLEN, 0), KEYLEN);
	pki_path(t->cert, sizeof(t->cert), "server.crt");
	pki_path(t->keyfile, sizeof(t->keyfile), "server.key");
	int rc = tserver_new(t, "tls:127.0.0.1:0", t->cert, t->keyfile, err,
			     sizeof(err));
	ck_assert_msg(rc == 0, "agora_server_new: %s", err);
	addr = agora_server_address(t->srv, 0);
	ck_assert_msg(strncmp(addr, "tls:127.0.0.1:", 14) == 0, "%s", addr);
	t->port = (unsigned short)atoi(addr + 14);
	ck_assert_int_gt(t->port, 0);
	ck_assert_int_eq(pthread_create(&t->thread, NULL, serve, t), 0);
}

static void tserver_stop(tserver *t)
{
	agora_server_stop(t->srv);
	ck_assert_int_eq(pthread_join(t->thread, NULL), 0);
	agora_server_free(t->srv);
	ck_assert_int_eq(t->rc, 0);
}

/* ---- a client from protocol.md, with OpenSSL ---- */

typedef struct tclient {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	uint32_t msgid;
	msgpack_unpacker up;
} tclient;

static void tclient_connect(tclient *c, unsigned short port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	char ca[128];

	memset(c, 0, sizeof(*c));
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)),
			 0);
	c->ctx = SSL_CTX_new(TLS_client_method());
	pki_path(ca, sizeof(ca), "ca.crt");
	ck_assert_int_eq(SSL_CTX_load_verify_locations(c->ctx, ca, NULL), 1);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	c->ssl = SSL_new(c->ctx);
	SSL_set1_host(c->ssl, "127.0.0.1");
	SSL_set_fd(c->ssl, c->fd);
	int r = SSL_connect(c->ssl);
	ck_assert_msg(r == 1, "SSL_connect: %s",
		      ERR_error_string(ERR_get_error(), NULL));
	ck_assert(msgpack_unpacker_init(&c->up, 4096));
}

static void tclient_close(tclient *c)
{
	SSL_shutdown(c->ssl);
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	close(c->fd);
	msgpack_unpacker_destroy(&c->up);
}

/* SHA-256 of the DER of the certificate the server presented. */
static void tclient_binding(tclient *c, unsigned char cb[32],
			    unsigned char **ret_der, int *ret_len)
{
	X509 *x = SSL_get1_peer_certificate(c->ssl);
	unsigned char *der = NULL;
	int len;

	ck_assert_ptr_nonnull(x);
	len = i2d_X509(x, &der);
	ck_assert_int_gt(len, 0);
	ck_assert(EVP_Digest(der, (size_t)len, cb, NULL, EVP_sha256(), NULL));
	X509_free(x);
	if (ret_der != NULL) {
		*ret_der = der;
		*ret_len = len;
	} else {
		OPENSSL_free(der);
	}
}

/* Send [0, msgid, method, params] with params already packed by @pack. */
static uint32_t tclient_send(tclient *c, const char *method,
			     void (*pack)(msgpack_packer *, void *), void *ud)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t n;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_int(&pk, 0);
	msgpack_pack_uint32(&pk, ++c->msgid);
	msgpack_pack_str(&pk, strlen(method));
	msgpack_pack_str_body(&pk, method, strlen(method));
	pack(&pk, ud);
	ck_assert_int_eq(SSL_write_ex(c->ssl, sb.data, sb.size, &n), 1);
	ck_assert_uint_eq(n, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return c->msgid;
}

/* The next answer, into @m; false when the server closed. */
static bool tclient_recv(tclient *c, msgpack_unpacked *m)
{
	for (;;) {
		if (msgpack_unpacker_next(&c->up, m) == MSGPACK_UNPACK_SUCCESS)
			return true;
		msgpack_unpacker_reserve_buffer(&c->up, 4096);
		size_t n = 0;
		if (SSL_read_ex(c->ssl, msgpack_unpacker_buffer(&c->up), 4096,
				&n) != 1)
			return false;
		msgpack_unpacker_buffer_consumed(&c->up, n);
	}
}

static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR &&
		    kv->key.via.str.size == strlen(key) &&
		    memcmp(kv->key.via.str.ptr, key, strlen(key)) == 0)
			return &kv->val;
	}
	return NULL;
}

static void pack_hello(msgpack_packer *pk, void *ud)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_int(pk, 1);
	msgpack_pack_bin(pk, 32);
	msgpack_pack_bin_body(pk, ud, 32);
}

static void pack_bin32(msgpack_packer *pk, void *ud)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_bin(pk, 32);
	msgpack_pack_bin_body(pk, ud, 32);
}

static void pack_ping(msgpack_packer *pk, void *ud)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_int64(pk, *(int64_t *)ud);
}

static void hmac3(const unsigned char *key, const char *label,
		  const unsigned char *a, const unsigned char *b,
		  const unsigned char *cb, size_t cblen, unsigned char out[32])
{
	unsigned char msg[15 + 32 + 32 + 32];
	unsigned int len = 32;

	memcpy(msg, label, 15);
	memcpy(msg + 15, a, 32);
	memcpy(msg + 47, b, 32);
	memcpy(msg + 79, cb, cblen);
	ck_assert_ptr_nonnull(
	    HMAC(EVP_sha256(), key, KEYLEN, msg, 79 + cblen, out, &len));
}

/*
 * The handshake of protocol section 2.1 with binding @cb (@cblen bytes):
 * whether the server's proof verified, and whether auth answered true.
 */
static void tclient_handshake(tclient *c, const unsigned char *key,
			      const unsigned char *cb, size_t cblen,
			      bool *ret_server_ok, bool *ret_auth_ok)
{
	unsigned char cnonce[32], snonce[32], want[32], proof[32];
	msgpack_unpacked m;
	uint32_t id;

	ck_assert_int_eq(getrandom(cnonce, 32, 0), 32);
	msgpack_unpacked_init(&m);
	id = tclient_send(c, "hello", pack_hello, cnonce);
	ck_assert(tclient_recv(c, &m));
	ck_assert_uint_eq(m.data.via.array.ptr[1].via.u64, id);
	const msgpack_object *res = &m.data.via.array.ptr[3];
	const msgpack_object *n = map_get(res, "nonce");
	const msgpack_object *p = map_get(res, "proof");
	ck_assert(n != NULL && p != NULL && n->via.bin.size == 32 &&
		  p->via.bin.size == 32);
	memcpy(snonce, n->via.bin.ptr, 32);
	hmac3(key, "agora-v1 server", cnonce, snonce, cb, cblen, want);
	*ret_server_ok = CRYPTO_memcmp(want, p->via.bin.ptr, 32) == 0;
	hmac3(key, "agora-v1 client", snonce, cnonce, cb, cblen, proof);
	id = tclient_send(c, "auth", pack_bin32, proof);
	*ret_auth_ok = tclient_recv(c, &m) &&
		       m.data.via.array.ptr[1].via.u64 == id &&
		       m.data.via.array.ptr[3].type == MSGPACK_OBJECT_BOOLEAN &&
		       m.data.via.array.ptr[3].via.boolean;
	msgpack_unpacked_destroy(&m);
}

static void tclient_ping(tclient *c, int64_t v)
{
	msgpack_unpacked m;

	msgpack_unpacked_init(&m);
	uint32_t id = tclient_send(c, "ping", pack_ping, &v);
	ck_assert(tclient_recv(c, &m));
	ck_assert_uint_eq(m.data.via.array.ptr[1].via.u64, id);
	ck_assert_int_eq(m.data.via.array.ptr[3].via.i64, v);
	msgpack_unpacked_destroy(&m);
}

/* ---- tests ---- */

START_TEST(tls_config_refusals_name_what_is_wrong)
{
	tserver t;
	char err[512], cert[128], key[128], other_key[128];
	int rc;

	memset(&t, 0, sizeof(t));
	pki_path(cert, sizeof(cert), "server.crt");
	pki_path(key, sizeof(key), "server.key");
	pki_path(other_key, sizeof(other_key), "other.key");
	rc = tserver_new(&t, "tls:127.0.0.1:0", cert, NULL, err, sizeof(err));
	ck_assert_int_eq(rc, AGORA_EINVAL);
	ck_assert_msg(strstr(err, "a key (--tls-key") != NULL, "%s", err);
	rc = tserver_new(&t, "tls:127.0.0.1:0", NULL, NULL, err, sizeof(err));
	ck_assert_int_eq(rc, AGORA_EINVAL);
	ck_assert_msg(strstr(err, "a certificate and a key") != NULL, "%s",
		      err);
	rc = tserver_new(&t, "tcp:127.0.0.1:0", cert, key, err, sizeof(err));
	ck_assert_int_eq(rc, AGORA_EINVAL);
	ck_assert_msg(strstr(err, "no tls:HOST:PORT listener") != NULL, "%s",
		      err);
	rc = tserver_new(&t, "tls:127.0.0.1:0", cert, other_key, err,
			 sizeof(err));
	ck_assert_int_eq(rc, AGORA_EINVAL);
	ck_assert_msg(strstr(err, "is not the key of the certificate") != NULL,
		      "%s", err);
	ck_assert_int_eq(chmod(key, 0640), 0);
	rc = tserver_new(&t, "tls:127.0.0.1:0", cert, key, err, sizeof(err));
	ck_assert_int_eq(chmod(key, 0600), 0);
	ck_assert_int_eq(rc, AGORA_EIO);
	ck_assert_msg(strstr(err, "run: chmod 600 ") != NULL, "%s", err);
	rc = tserver_new(&t, "tls:127.0.0.1:", cert, key, err, sizeof(err));
	ck_assert_int_eq(rc, AGORA_EINVAL);
	ck_assert_msg(strstr(err, "in tls:127.0.0.1:") != NULL, "%s", err);
}
END_TEST

START_TEST(bound_handshake_is_served_and_an_unbound_one_refused)
{
	tserver t;
	tclient c;
	unsigned char cb[32];
	bool server_ok, auth_ok;

	tserver_start(&t);
	tclient_connect(&c, t.port);
	tclient_binding(&c, cb, NULL, NULL);
	tclient_handshake(&c, t.key, cb, 32, &server_ok, &auth_ok);
	ck_assert(server_ok);
	ck_assert(auth_ok);
	for (int64_t i = 0; i < 100; i++)
		tclient_ping(&c, i * 1000003);
	tclient_close(&c);

	/* Section 2's proofs, without the binding: refused both ways. */
	tclient_connect(&c, t.port);
	tclient_handshake(&c, t.key, cb, 0, &server_ok, &auth_ok);
	ck_assert(!server_ok);
	ck_assert(!auth_ok);
	tclient_close(&c);
	tserver_stop(&t);
}
END_TEST

START_TEST(reload_keeps_the_open_connection_and_serves_the_new_cert)
{
	tserver t;
	tclient old, fresh;
	unsigned char cb_old[32], cb_new[32], *der_old, *der_new;
	int len_old, len_new;
	bool server_ok, auth_ok;
	double deadline;

	tserver_start(&t);
	tclient_connect(&old, t.port);
	tclient_binding(&old, cb_old, &der_old, &len_old);
	tclient_handshake(&old, t.key, cb_old, 32, &server_ok, &auth_ok);
	ck_assert(server_ok && auth_ok);

	/* A wrong file first: the reload fails and keeps the old one. */
	ck_assert_int_eq(chmod(t.keyfile, 0644), 0);
	ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
	deadline = agh_now() + AGH_STATE_TIMEOUT;
	while (atomic_load(&t.failed) < 1) {
		ck_assert_msg(agh_now() < deadline, "no failed reload logged");
		usleep(10000);
	}
	ck_assert_int_eq(chmod(t.keyfile, 0600), 0);

	/* Renewed: the other certificate and key moved into place. */
	char other[128], other_key[128];
	pki_path(other, sizeof(other), "other.crt");
	pki_path(other_key, sizeof(other_key), "other.key");
	ck_assert_int_eq(rename(other_key, t.keyfile), 0);
	ck_assert_int_eq(rename(other, t.cert), 0);
	ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
	deadline = agh_now() + AGH_STATE_TIMEOUT;
	while (atomic_load(&t.reloads) < 1) {
		ck_assert_msg(agh_now() < deadline, "no reload logged");
		usleep(10000);
	}
	tclient_ping(&old, 1);

	tclient_connect(&fresh, t.port);
	tclient_binding(&fresh, cb_new, &der_new, &len_new);
	ck_assert(len_new != len_old || memcmp(der_new, der_old, len_new));
	tclient_handshake(&fresh, t.key, cb_new, 32, &server_ok, &auth_ok);
	ck_assert(server_ok && auth_ok);
	tclient_ping(&fresh, 2);
	tclient_ping(&old, 3);
	OPENSSL_free(der_old);
	OPENSSL_free(der_new);
	tclient_close(&fresh);
	tclient_close(&old);
	tserver_stop(&t);
}
END_TEST

int main(void)
{
	if (system("openssl version >/dev/null 2>&1") != 0) {
		printf(
		    "SKIP: the openssl command is missing (it makes the test "
		    "certificates)\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	srand((unsigned)getpid());
	Suite *s = suite_create("tls");
	TCase *tc = AGH_ADD_BARE(s, tls_config_refusals_name_what_is_wrong);
	tcase_add_checked_fixture(tc, pki_setup, pki_teardown);
	tc = AGH_ADD_BARE(s,
			  bound_handshake_is_served_and_an_unbound_one_refused);
	tcase_add_checked_fixture(tc, pki_setup, pki_teardown);
	tc = AGH_ADD_BARE(
	    s, reload_keeps_the_open_connection_and_serves_the_new_cert);
	tcase_add_checked_fixture(tc, pki_setup, pki_teardown);
	return agh_run_suite(s);
}
