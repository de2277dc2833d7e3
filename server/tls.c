/*
 * tls.c - TLS on the server's connections (OpenSSL), and the one I/O layer
 * every connection reads and writes through.
 *
 * A server with a tls: listener holds one SSL_CTX (s->tls_ctx), built from
 * the certificate chain, the key and the optional client CA by
 * ag_tls_ctx_load(). Each connection accepted on a tls: listener gets an
 * SSL of the context current at that moment; SSL_CTX is reference counted,
 * so ag_tls_reload() can put a new context in place for new connections
 * while the existing ones keep theirs until they end.
 *
 * ag_conn_read() and ag_conn_write() are read(2) and send(2) for a plain
 * connection, and SSL_read_ex() and SSL_write_ex() for a TLS one; neither
 * ever blocks. The TLS handshake runs first, from the read event (and the
 * write event while OpenSSL waits to write), before any Agora frame: it
 * counts toward the authentication timeout and the unauthenticated
 * connections like the Agora handshake after it. When OpenSSL must read to
 * write (SSL_ERROR_WANT_READ from SSL_write_ex) or write to read
 * (SSL_ERROR_WANT_WRITE), the connection records it (c->tls_write_wants_read,
 * c->tls_read_wants_write) and the other event retries: the read event is
 * always on; the write event is added for the case. Renegotiation is off
 * (SSL_OP_NO_RENEGOTIATION), so after the handshake these are rare.
 *
 * Plaintext that OpenSSL decrypted but the reader had no room for stays in
 * the SSL (SSL_pending()): conn.c activates the read event again for it,
 * since the socket may never become readable again for those bytes.
 *
 * Writes go through a socket BIO of our own that sends with MSG_NOSIGNAL,
 * so that a peer gone mid-write does not raise SIGPIPE in a program that
 * embeds the server (OpenSSL's socket BIO uses write(2)).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "internal.h"

/* ---- the socket BIO ---------------------------------------------------------
 */

static int bio_write(BIO *b, const char *buf, int len)
{
	int fd = (int)BIO_get_fd(b, NULL);
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
	int fd = (int)BIO_get_fd(b, NULL);
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = recv(fd, buf, (size_t)len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_C_SET_FD:
		BIO_set_data(b, (void *)(intptr_t) * (int *)ptr);
		BIO_set_init(b, 1);
		return 1;
	case BIO_C_GET_FD:
		if (!BIO_get_init(b))
			return -1;
		if (ptr != NULL)
			*(int *)ptr = (int)(intptr_t)BIO_get_data(b);
		return (long)(intptr_t)BIO_get_data(b);
	case BIO_CTRL_FLUSH:
		return 1;
	default:
		return 0;
	}
}

static int bio_puts(BIO *b, const char *str)
{
	return bio_write(b, str, (int)strlen(str));
}

/* The method of that BIO, made once per server (no global state). */
static BIO_METHOD *bio_method_new(void)
{
	BIO_METHOD *m = BIO_meth_new(
	    BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
	    "agora socket");

	if (m == NULL || !BIO_meth_set_write(m, bio_write) ||
	    !BIO_meth_set_read(m, bio_read) ||
	    !BIO_meth_set_puts(m, bio_puts) ||
	    !BIO_meth_set_ctrl(m, bio_ctrl)) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
}

/* ---- contexts ---------------------------------------------------------------
 */

/* OpenSSL's reason for the last failure, or @fallback; clears the queue. */
static const char *ssl_reason(char *buf, size_t len, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "%s", fallback);
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* The key file must not be readable by group or others, as the authkey. */
static int check_key_mode(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return ag_errf(err, errlen, AGORA_EIO,
			       "cannot read the TLS key file %s: %s", path,
			       strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ag_errf(err, errlen, AGORA_EIO,
			       "the TLS key file %s is not a regular file",
			       path);
	if ((st.st_mode & 077) != 0)
		return ag_errf(err, errlen, AGORA_EIO,
			       "the TLS key file %s is readable by group or "
			       "others (mode %04o); run: chmod 600 %s",
			       path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

int ag_tls_ctx_load(const char *cert, const char *key, const char *ca,
		    SSL_CTX **ret, char *err, size_t errlen)
{
	char why[256];
	SSL_CTX *ctx;
	int rc;

	if ((rc = check_key_mode(key, err, errlen)) < 0)
		return rc;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		return ag_errf(err, errlen, AGORA_ENOMEM,
			       "cannot make a TLS context: %s",
			       ssl_reason(why, sizeof(why), "out of memory"));
	/* TLS 1.2 at least (1.3 is preferred by the version negotiation),
	 * OpenSSL's default ciphers, no renegotiation, no compression. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
				     SSL_OP_NO_COMPRESSION |
				     SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* A client that closes its socket without a close_notify ends as a
	 * plain one does, not with a TLS error line: a frame cut short is
	 * incomplete and never served, so a truncation gains nothing. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* No session resumption: every connection shows the certificate of
	 * the context it was accepted with, which is what its channel
	 * binding is computed from (a resumed session would show none), and
	 * no tickets are sent to clients that would not use them. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	/* Writes resume from wherever the output buffer is (it may move),
	 * and a write may send part of what it was given. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				  SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		rc = ag_errf(err, errlen, AGORA_EIO,
			     "cannot load the TLS certificate %s: %s", cert,
			     ssl_reason(why, sizeof(why), "unreadable"));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			rc = ag_errf(err, errlen, AGORA_EINVAL,
				     "the TLS key %s is not the key of the "
				     "certificate %s",
				     key, cert);
			ERR_clear_error();
			goto fail;
		}
		rc = ag_errf(err, errlen, AGORA_EIO,
			     "cannot load the TLS key %s: %s", key,
			     ssl_reason(why, sizeof(why), "unreadable"));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		rc = ag_errf(err, errlen, AGORA_EINVAL,
			     "the TLS key %s is not the key of the certificate "
			     "%s: %s",
			     key, cert,
			     ssl_reason(why, sizeof(why), "mismatch"));
		goto fail;
	}
	if (ca != NULL) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
		if (names == NULL ||
		    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			rc = ag_errf(err, errlen, AGORA_EIO,
				     "cannot load the TLS client CA %s: %s", ca,
				     ssl_reason(why, sizeof(why),
						"no certificate in it"));
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(
		    ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
		    NULL);
	}
	ERR_clear_error();
	*ret = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return rc;
}

int ag_tls_setup(ag_server *s, const agora_server_config *cfg, char *err,
		 size_t errlen)
{
	int rc;

	if (cfg->tls_cert == NULL || cfg->tls_key == NULL)
		return ag_errf(
		    err, errlen, AGORA_EINVAL, "a tls: listener needs %s",
		    cfg->tls_cert == NULL && cfg->tls_key == NULL
			? "a certificate and a key (--tls-cert "
			  "FILE, --tls-key FILE)"
		    : cfg->tls_cert == NULL ? "a certificate (--tls-cert FILE)"
					    : "a key (--tls-key FILE)");
	s->tls_cert = strdup(cfg->tls_cert);
	s->tls_key = strdup(cfg->tls_key);
	s->tls_ca = cfg->tls_client_ca ? strdup(cfg->tls_client_ca) : NULL;
	s->tls_bio = bio_method_new();
	if (s->tls_cert == NULL || s->tls_key == NULL || s->tls_bio == NULL ||
	    (cfg->tls_client_ca != NULL && s->tls_ca == NULL))
		return ag_errf(err, errlen, AGORA_ENOMEM, "out of memory");
	rc = ag_tls_ctx_load(s->tls_cert, s->tls_key, s->tls_ca, &s->tls_ctx,
			     err, errlen);
	return rc;
}

void ag_tls_teardown(ag_server *s)
{
	SSL_CTX_free(s->tls_ctx);
	s->tls_ctx = NULL;
	BIO_meth_free(s->tls_bio);
	s->tls_bio = NULL;
	free(s->tls_cert);
	free(s->tls_key);
	free(s->tls_ca);
	s->tls_cert = s->tls_key = s->tls_ca = NULL;
}

int ag_tls_reload(ag_server *s, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	int rc;

	if (s->tls_ctx == NULL)
		return 0;
	rc = ag_tls_ctx_load(s->tls_cert, s->tls_key, s->tls_ca, &ctx, err,
			     errlen);
	if (rc < 0)
		return rc;
	SSL_CTX_free(s->tls_ctx); /* its connections hold their own refs */
	s->tls_ctx = ctx;
	return 1;
}

/* ---- connections ------------------------------------------------------------
 */

int ag_tls_conn_new(ag_conn *c)
{
	ag_server *s = c->srv;
	BIO *bio;

	c->ssl = SSL_new(s->tls_ctx);
	bio = BIO_new(s->tls_bio);
	if (c->ssl == NULL || bio == NULL) {
		BIO_free(bio);
		ERR_clear_error();
		return AGORA_ENOMEM;
	}
	BIO_set_fd(bio, c->fd, BIO_NOCLOSE);
	SSL_set_bio(c->ssl, bio, bio);
	SSL_set_accept_state(c->ssl);
	return 0;
}

void ag_tls_conn_free(ag_conn *c)
{
	if (c->ssl == NULL)
		return;
	/* A close_notify for a peer that finished the handshake, sent if the
	 * socket takes it now; never after a TLS error. */
	if (c->tls_done && !c->tls_failed) {
		ERR_clear_error();
		SSL_shutdown(c->ssl);
	}
	ERR_clear_error();
	SSL_free(c->ssl);
	c->ssl = NULL;
}

/* A failed TLS operation on @c, whose socket call left errno @e: 0 at
 * the end of the stream, or -1 with errno set for the caller (EPROTO for
 * a TLS failure, its reason kept in c->tls_why for the log line). */
static ssize_t tls_fail(ag_conn *c, int e, int sslerr)
{
	c->tls_failed = true;
	if (sslerr == SSL_ERROR_ZERO_RETURN) { /* close_notify, or an end
						  without it (the context's
						  IGNORE_UNEXPECTED_EOF) */
		ERR_clear_error();
		c->tls_failed = false;
		return 0;
	}
	if (sslerr == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		ERR_clear_error();
		if (e == 0) /* the end, in the middle of a record */
			return 0;
		errno = e; /* ETIMEDOUT of the peer timeout, ECONNRESET */
		return -1;
	}
	ssl_reason(c->tls_why, sizeof(c->tls_why), "TLS error");
	errno = EPROTO;
	return -1;
}

/* Map OpenSSL's want to EAGAIN, noting which event must come. */
static ssize_t tls_want(ag_conn *c, int sslerr, bool writing)
{
	if (sslerr == SSL_ERROR_WANT_WRITE && !writing) {
		c->tls_read_wants_write = true;
		if (c->wev != NULL)
			event_add(c->wev, NULL);
	} else if (sslerr == SSL_ERROR_WANT_READ && writing) {
		c->tls_write_wants_read = true;
	}
	errno = EAGAIN;
	return -1;
}

/* Run the TLS handshake of @c as far as it goes now. 1: done; -1 with
 * errno EAGAIN: later; 0 or -1 otherwise: failed (tls_why says why). */
static int tls_handshake(ag_conn *c)
{
	int r, e, saved;

	/* A TLS connection begins with a handshake record (0x16). Anything
	 * else is refused at its first byte: a plain Agora client (0x94)
	 * would otherwise look to OpenSSL like the header of a long SSLv2
	 * record and wait for the authentication timeout. */
	if (!c->tls_checked) {
		unsigned char b;
		ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
			      errno == EINTR)) {
			errno = EAGAIN;
			return -1;
		}
		if (n <= 0 || b != 0x16) {
			if (n < 0)
				snprintf(c->tls_why, sizeof(c->tls_why), "%s",
					 strerror(errno));
			else if (n == 0)
				snprintf(c->tls_why, sizeof(c->tls_why),
					 "the peer closed the connection");
			else
				snprintf(c->tls_why, sizeof(c->tls_why),
					 "not a TLS handshake (first byte "
					 "0x%02x%s)",
					 b,
					 b == 0x94 ? ": a plain Agora client "
						     "on a tls: port?"
						   : "");
			c->tls_failed = true;
			errno = EPROTO;
			return -1;
		}
		c->tls_checked = true;
	}
	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		X509 *cert = SSL_get_certificate(c->ssl);
		unsigned char *der = NULL;
		int len = cert ? i2d_X509(cert, &der) : -1;
		if (len <= 0 ||
		    ag_tls_binding(der, (size_t)len, c->tls_cb) < 0) {
			OPENSSL_free(der);
			snprintf(c->tls_why, sizeof(c->tls_why),
				 "cannot hash the certificate");
			c->tls_failed = true;
			errno = EPROTO;
			return -1;
		}
		OPENSSL_free(der);
		c->tls_done = true;
		/* Acknowledge the client's Finished now: a client whose socket
		 * delays small writes (Nagle) holds its hello, written right
		 * after, until that acknowledgement, which the kernel would
		 * otherwise delay by up to 40 ms, the server having nothing
		 * to send with it. */
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
		return 1;
	}
	saved = errno;
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return (int)tls_want(c, e, false);
	/* Every end of a handshake is a handshake failure (EPROTO). */
	if (tls_fail(c, saved, e) == 0)
		snprintf(c->tls_why, sizeof(c->tls_why),
			 "the peer closed the connection");
	else if (errno != EPROTO)
		snprintf(c->tls_why, sizeof(c->tls_why), "%s", strerror(errno));
	c->tls_failed = true;
	errno = EPROTO;
	return -1;
}

ssize_t ag_conn_read(ag_conn *c, void *buf, size_t len)
{
	size_t n = 0;
	int r, e, saved;

	if (c->ssl == NULL)
		return read(c->fd, buf, len);
	c->tls_read_wants_write = false;
	if (!c->tls_done && tls_handshake(c) != 1)
		return -1;
	ERR_clear_error();
	errno = 0;
	r = SSL_read_ex(c->ssl, buf, len, &n);
	if (r == 1)
		return (ssize_t)n;
	saved = errno;
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return tls_want(c, e, false);
	return tls_fail(c, saved, e);
}

ssize_t ag_conn_write(ag_conn *c, const void *buf, size_t len)
{
	size_t n = 0;
	int r, e, saved;

	if (c->ssl == NULL)
		return send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	c->tls_write_wants_read = false;
	if (!c->tls_done) { /* nothing is answered before the handshake */
		errno = EAGAIN;
		return -1;
	}
	ERR_clear_error();
	errno = 0;
	r = SSL_write_ex(c->ssl, buf, len, &n);
	if (r == 1)
		return (ssize_t)n;
	saved = errno;
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return tls_want(c, e, true);
	if (tls_fail(c, saved, e) == 0)
		errno = EPIPE;
	return -1;
}

bool ag_conn_read_pending(const ag_conn *c)
{
	return c->ssl != NULL && c->tls_done && SSL_pending(c->ssl) > 0;
}
