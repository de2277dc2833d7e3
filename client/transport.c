/*
 * transport.c - the sockets under a client: parse an address, connect(2),
 * send and receive bytes. It knows nothing of agora_client or of the
 * protocol: connection.c and handshake.c turn its errno values into the
 * client's messages and state.
 *
 * Addresses are "unix:/PATH", "tcp:HOST:PORT" ("tcp:[V6]:PORT" for an
 * IPv6 literal) and "tls:HOST:PORT" (the same TCP connection, then a TLS
 * client handshake: see "TLS" below). Every socket is close-on-exec; TCP
 * sockets go without Nagle's delay, since every call is one small request
 * waiting for its answer. Sends never raise SIGPIPE.
 *
 * Deadlines: each operation takes one, in milliseconds of the monotonic
 * clock (ag_transport_now_ms()), or 0 for none. Sockets stay blocking;
 * with a deadline, a receive polls before it reads and a send does not
 * wait for room in the kernel except in poll(), so neither outlasts it,
 * and a connect runs non-blocking. Without one, the calls are the plain
 * blocking ones (the Unix-socket hot path pays nothing). A TCP socket may
 * also have the kernel watch its peer (ag_transport_watch_peer()).
 *
 * TLS (OpenSSL): the socket of a tls: connection is non-blocking, as
 * OpenSSL buffers whole records: a poll(2) that says "readable" does not
 * mean a record is complete, and a blocking SSL_read() could outlast the
 * deadline waiting for its end. So every SSL_read()/SSL_write() is tried
 * first and polls on WANT_READ/WANT_WRITE, until the deadline (none: poll
 * waits as long as it takes). The bytes go through a BIO of this file's
 * (send(2) with MSG_NOSIGNAL, recv(2)), since OpenSSL's socket BIO uses
 * write(2), which raises SIGPIPE on a closed connection. The server's
 * certificate and host name are always verified.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"

static int __attribute__((format(printf, 4, 5)))
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

int64_t ag_transport_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait until @fd is ready for @events or the deadline @deadline_ms (0:
 * none) passed: 0 when ready (or in error: the next operation says which),
 * -ETIMEDOUT at the deadline, or -errno.
 */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int ms = -1, n;

		if (deadline_ms > 0) {
			int64_t left = deadline_ms - ag_transport_now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			ms = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * A Unix socket's connect(2) within @deadline_ms: blocking, so that it
 * waits in the listener's queue for room in a full backlog, first come
 * first served (a non-blocking connect would only be refused and have to
 * try again, behind every other client), with SO_SNDTIMEO, which bounds
 * that wait, set to the time left and taken off again. 0 or -1 with errno
 * set (ETIMEDOUT at the deadline).
 */
static int connect_unix_fd(int fd, const struct sockaddr *sa, socklen_t salen,
			   int64_t deadline_ms)
{
	static const struct timeval none = { 0, 0 };
	int rc, e;

	for (;;) {
		int64_t left = deadline_ms - ag_transport_now_ms();
		struct timeval tv = { (time_t)(left / 1000),
				      (suseconds_t)(left % 1000) * 1000 };

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) <
		    0)
			return -1;
		rc = connect(fd, sa, salen);
		e = errno;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
		if (rc == 0 || (e == EISCONN))
			return 0;
		if (e == EINTR)
			continue;
		errno = e == EAGAIN ? ETIMEDOUT : e;
		return -1;
	}
}

/*
 * connect(2) that survives EINTR (an interrupted connect goes on in the
 * background: wait for it to finish and ask how it went) and gives up at
 * @deadline_ms (0: never), then failing with ETIMEDOUT. 0 or -1 with errno
 * set; @fd is blocking on success.
 */
static int connect_fd(int fd, const struct sockaddr *sa, socklen_t salen,
		      int64_t deadline_ms)
{
	socklen_t len = sizeof(int);
	int err = 0, rc, flags = 0;

	if (deadline_ms > 0 && sa->sa_family == AF_UNIX)
		return connect_unix_fd(fd, sa, salen, deadline_ms);
	if (deadline_ms > 0) {
		flags = fcntl(fd, F_GETFL);
		if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
			return -1;
	}
	if (connect(fd, sa, salen) == 0)
		goto done;
	if (errno != EINTR && errno != EINPROGRESS)
		return -1;
	rc = wait_fd(fd, POLLOUT, deadline_ms);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
done:
	if (deadline_ms > 0 && fcntl(fd, F_SETFL, flags) < 0)
		return -1;
	return 0;
}

/* The failure of a connect with errno @e: AGORA_ETIMEDOUT when the
 * deadline passed, else AGORA_EIO. */
static int connect_failed(const char *address, int e, char *err, size_t errlen)
{
	if (e == ETIMEDOUT)
		return fail(err, errlen, AGORA_ETIMEDOUT,
			    "cannot connect to %s: no connection within the "
			    "time allowed",
			    address);
	return fail(err, errlen, AGORA_EIO, "cannot connect to %s: %s", address,
		    strerror(e));
}

static int connect_unix(const char *address, const char *path,
			int64_t deadline_ms, int *ret_fd, char *err,
			size_t errlen)
{
	struct sockaddr_un sun;
	size_t n = strlen(path);
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (n == 0)
		return fail(err, errlen, AGORA_EINVAL,
			    "bad address \"%s\": the socket path is empty",
			    address);
	if (n >= sizeof(sun.sun_path))
		return fail(err, errlen, AGORA_EINVAL,
			    "bad address \"%s\": the socket path is longer "
			    "than %zu bytes",
			    address, sizeof(sun.sun_path) - 1);
	memcpy(sun.sun_path, path, n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, errlen, AGORA_EIO, "cannot connect to %s: %s",
			    address, strerror(errno));
	if (connect_fd(fd, (struct sockaddr *)&sun, sizeof(sun), deadline_ms) <
	    0) {
		int e = errno;

		close(fd);
		return connect_failed(address, e, err, errlen);
	}
	*ret_fd = fd;
	return 0;
}

/*
 * Split "HOST:PORT" or "[V6]:PORT" into @host (of @hostlen bytes) and
 * @port. 0 or AGORA_EINVAL with a message.
 */
static int split_host_port(const char *address, const char *rest, char *host,
			   size_t hostlen, char port[6], char *err,
			   size_t errlen)
{
	const char *h = rest, *colon, *p;
	size_t hl;

	if (rest[0] == '[') {
		const char *rb = strchr(rest, ']');

		if (rb == NULL || rb[1] != ':')
			goto bad;
		h = rest + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(rest, ':');
		if (colon == NULL)
			goto bad;
		hl = (size_t)(colon - rest);
		/* An IPv6 literal must be bracketed, or the port is a
		 * guess. */
		if (memchr(rest, ':', hl) != NULL)
			goto bad;
	}
	if (hl == 0 || hl >= hostlen)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	p = colon + 1;
	if (*p == '\0' || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p))
		goto bad;
	if (atoi(p) < 1 || atoi(p) > 65535)
		goto bad;
	memcpy(port, p, strlen(p) + 1);
	return 0;
bad:
	return fail(err, errlen, AGORA_EINVAL,
		    "bad address \"%s\": expected %.3s:HOST:PORT (an IPv6 "
		    "host in brackets, a port 1-65535)",
		    address, address);
}

/* Connect to the "HOST:PORT" @rest of @address; the host (unbracketed)
 * in @host, of @hostlen bytes. */
static int connect_tcp(const char *address, const char *rest,
		       int64_t deadline_ms, int *ret_fd, char *host,
		       size_t hostlen, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[6];
	int rc, e = 0, one = 1, fd = -1;

	rc = split_host_port(address, rest, host, hostlen, port, err, errlen);
	if (rc < 0)
		return rc;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		return fail(
		    err, errlen, AGORA_EIO, "cannot connect to %s: %s", address,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect_fd(fd, ai->ai_addr, ai->ai_addrlen, deadline_ms) ==
		    0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			break;
		}
		e = errno;
		close(fd);
		fd = -1;
		if (e == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return connect_failed(address, e ? e : ECONNREFUSED, err,
				      errlen);
	*ret_fd = fd;
	return 0;
}

/* ---- TLS ----------------------------------------------------------------- */

/* What the BIO under a TLS connection holds: its socket, and whether a
 * recv(2) found the connection closed (BIO_eof()). */
struct sock_bio {
	int fd;
	bool eof;
};

static int sock_bio_write(BIO *b, const char *buf, int len)
{
	struct sock_bio *sb = BIO_get_data(b);
	ssize_t k;

	BIO_clear_retry_flags(b);
	do
		k = send(sb->fd, buf, (size_t)len, MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)k;
}

static int sock_bio_read(BIO *b, char *buf, int len)
{
	struct sock_bio *sb = BIO_get_data(b);
	ssize_t k;

	BIO_clear_retry_flags(b);
	do
		k = recv(sb->fd, buf, (size_t)len, 0);
	while (k < 0 && errno == EINTR);
	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	if (k == 0)
		sb->eof = true;
	return (int)k;
}

static long sock_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct sock_bio *sb = BIO_get_data(b);

	(void)num;
	(void)ptr;
	if (cmd == BIO_CTRL_FLUSH)
		return 1;
	if (cmd == BIO_CTRL_EOF)
		return sb != NULL && sb->eof;
	return 0;
}

static int sock_bio_destroy(BIO *b)
{
	free(BIO_get_data(b));
	BIO_set_data(b, NULL);
	return 1;
}

/* The BIO method: made once per process and never changed afterwards, as
 * OpenSSL's own methods are (it is never freed: still reachable at
 * exit). */
static BIO_METHOD *sock_bio_method;
static pthread_once_t sock_bio_once = PTHREAD_ONCE_INIT;

static void sock_bio_make(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				     "agora socket");

	if (m == NULL)
		return;
	if (!BIO_meth_set_write(m, sock_bio_write) ||
	    !BIO_meth_set_read(m, sock_bio_read) ||
	    !BIO_meth_set_ctrl(m, sock_bio_ctrl) ||
	    !BIO_meth_set_destroy(m, sock_bio_destroy)) {
		BIO_meth_free(m);
		return;
	}
	sock_bio_method = m;
}

/* A BIO on @fd (which it does not close), or NULL. */
static BIO *sock_bio_new(int fd)
{
	struct sock_bio *sb;
	BIO *b;

	pthread_once(&sock_bio_once, sock_bio_make);
	if (sock_bio_method == NULL)
		return NULL;
	b = BIO_new(sock_bio_method);
	sb = malloc(sizeof(*sb));
	if (b == NULL || sb == NULL) {
		BIO_free(b);
		free(sb);
		return NULL;
	}
	sb->fd = fd;
	sb->eof = false;
	BIO_set_data(b, sb);
	BIO_set_init(b, 1);
	return b;
}

/* What a user can do about the TLS error @e: "" when nothing to say. */
static const char *tls_hint(unsigned long e)
{
	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return "";
	switch (ERR_GET_REASON(e)) {
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
		return " (does the server require a client certificate? "
		       "AGORA_TLS_CERT, AGORA_TLS_KEY)";
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
		return " (the server did not accept this client's "
		       "certificate)";
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
		return " (is it a TLS listener?)";
	default:
		return "";
	}
}

void ag_transport_tls_error(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
	char code[128];

	if (e == 0)
		snprintf(buf, len, "a TLS protocol error");
	else if (ERR_GET_LIB(e) == ERR_LIB_SYS)
		snprintf(buf, len, "%s", strerror(ERR_GET_REASON(e)));
	else if (r != NULL)
		snprintf(buf, len, "%s%s", r, tls_hint(e));
	else {
		ERR_error_string_n(e, code, sizeof(code));
		snprintf(buf, len, "%s%s", code, tls_hint(e));
	}
	ERR_clear_error();
}

/* " (from VAR)" for a file named by the environment variable @from; ""
 * for one the program gave (@from NULL). */
static const char *from_text(const char *from, char *buf, size_t len)
{
	if (from == NULL)
		return "";
	snprintf(buf, len, " (from %s)", from);
	return buf;
}

/* AGORA_EINVAL: @file, the @what, cannot be used, for OpenSSL's reason. */
static int tls_file_failed(const char *address, const char *what,
			   const char *file, const char *from, char *err,
			   size_t errlen)
{
	char why[200], fb[40];

	ag_transport_tls_error(why, sizeof(why));
	return fail(err, errlen, AGORA_EINVAL,
		    "cannot connect to %s: cannot use %s \"%s\"%s: %s", address,
		    what, file, from_text(from, fb, sizeof(fb)), why);
}

/* Room for the subject of the certificate that failed verification. */
#define TLS_SUBJECT_LEN 160

/* OpenSSL's verification callback: keeps the subject of the first
 * certificate that failed in the buffer of the SSL's app data (set only
 * while the handshake runs), for the message. Changes no verdict. */
static int tls_verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl =
	    X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	char *subject = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	X509 *cert = X509_STORE_CTX_get_current_cert(x);

	if (!ok && subject != NULL && subject[0] == '\0' && cert != NULL)
		X509_NAME_oneline(X509_get_subject_name(cert), subject,
				  TLS_SUBJECT_LEN);
	return ok;
}

/*
 * A TLS client context for @tls: TLS 1.2 at least, the server's
 * certificate verified against @tls->ca (a PEM file, or a directory of
 * hashed certificates) or the system's store, and the client's
 * certificate and key when given. 0, or AGORA_EINVAL naming a file that
 * cannot be used, or AGORA_ENOMEM.
 */
static int tls_context(const char *address, const ag_tls_files *tls,
		       SSL_CTX **ret, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct stat st;
	int ok, rc;

	if (ctx == NULL)
		return fail(err, errlen, AGORA_ENOMEM,
			    "cannot connect to %s: out of memory for TLS",
			    address);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* A server that ends without close_notify is a closed connection:
	 * the frames' lengths catch a cut message. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* A non-blocking send (ag_transport_send_nowait()) retries from a
	 * buffer that may have moved as requests were appended to it. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* One recv(2) for what the kernel has, not two per record (its
	 * header, then its body). */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_cb);
	ERR_clear_error();
	if (tls->ca != NULL) {
		if (stat(tls->ca, &st) == 0 && S_ISDIR(st.st_mode))
			ok = SSL_CTX_load_verify_locations(ctx, NULL, tls->ca);
		else
			ok = SSL_CTX_load_verify_locations(ctx, tls->ca, NULL);
		if (!ok) {
			rc = tls_file_failed(address, "the CA file", tls->ca,
					     tls->ca_from, err, errlen);
			goto out;
		}
	} else if (!SSL_CTX_set_default_verify_paths(ctx)) {
		char why[200];

		ag_transport_tls_error(why, sizeof(why));
		rc = fail(err, errlen, AGORA_EIO,
			  "cannot connect to %s: cannot load the system's "
			  "CA certificates: %s",
			  address, why);
		goto out;
	}
	if (tls->cert == NULL && tls->key != NULL) {
		char fb[40];

		rc = fail(err, errlen, AGORA_EINVAL,
			  "cannot connect to %s: a client key \"%s\"%s "
			  "without a client certificate",
			  address, tls->key,
			  from_text(tls->key_from, fb, sizeof(fb)));
		goto out;
	}
	if (tls->cert != NULL) {
		const char *key = tls->key != NULL ? tls->key : tls->cert;
		const char *key_from =
		    tls->key != NULL ? tls->key_from : tls->cert_from;

		if (!SSL_CTX_use_certificate_chain_file(ctx, tls->cert)) {
			rc = tls_file_failed(address, "the client certificate",
					     tls->cert, tls->cert_from, err,
					     errlen);
			goto out;
		}
		if (!SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) ||
		    !SSL_CTX_check_private_key(ctx)) {
			rc = tls_file_failed(address, "the client key", key,
					     key_from, err, errlen);
			goto out;
		}
	}
	*ret = ctx;
	return 0;
out:
	SSL_CTX_free(ctx);
	return rc;
}

/* The failure of a TLS handshake whose last SSL_connect() returned @r
 * (errno @e after it); @subject: the certificate that failed, or "". */
static int tls_handshake_failed(const char *address, const char *host,
				const ag_tls_files *tls, SSL *ssl,
				const char *subject, int r, int e, char *err,
				size_t errlen)
{
	long v = SSL_get_verify_result(ssl);
	int se = SSL_get_error(ssl, r);
	char why[200];

	if (v != X509_V_OK) {
		ERR_clear_error();
		return fail(err, errlen, AGORA_ECERT,
			    "cannot connect to %s: the server's certificate "
			    "could not be verified: %s (%s%s%sit must name %s "
			    "and come from a CA of %s)",
			    address, X509_verify_cert_error_string(v),
			    subject[0] != '\0' ? "the certificate of " : "",
			    subject, subject[0] != '\0' ? "; " : "", host,
			    tls->ca != NULL ? tls->ca : "the system's store");
	}
	if (se == SSL_ERROR_SYSCALL || se == SSL_ERROR_ZERO_RETURN) {
		ERR_clear_error();
		if (e != 0 && se == SSL_ERROR_SYSCALL)
			return fail(err, errlen, AGORA_EIO,
				    "cannot connect to %s: TLS handshake: %s",
				    address, strerror(e));
		return fail(err, errlen, AGORA_EIO,
			    "cannot connect to %s: the server closed the "
			    "connection during the TLS handshake (is it a "
			    "TLS listener?)",
			    address);
	}
	ag_transport_tls_error(why, sizeof(why));
	return fail(err, errlen, AGORA_EIO,
		    "cannot connect to %s: TLS handshake failed: %s", address,
		    why);
}

/*
 * The TLS client handshake on the connected TCP socket @fd (made
 * non-blocking here) to @host, within @deadline_ms (0: none): the SSL in
 * *ret_ssl. AGORA_ECERT when the server's certificate or host name could
 * not be verified; AGORA_EIO for another TLS failure; AGORA_ETIMEDOUT;
 * AGORA_EINVAL for a file of @tls that cannot be used; AGORA_ENOMEM.
 */
static int tls_start(const char *address, const char *host, int fd,
		     const ag_tls_files *tls, int64_t deadline_ms,
		     SSL **ret_ssl, char *err, size_t errlen)
{
	char subject[TLS_SUBJECT_LEN] = "";
	struct in6_addr a6;
	SSL_CTX *ctx = NULL;
	SSL *ssl;
	BIO *bio;
	int rc, flags;
	bool ip;

	rc = tls_context(address, tls, &ctx, err, errlen);
	if (rc < 0)
		return rc;
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL holds it */
	bio = ssl != NULL ? sock_bio_new(fd) : NULL;
	if (bio == NULL) {
		SSL_free(ssl);
		return fail(err, errlen, AGORA_ENOMEM,
			    "cannot connect to %s: out of memory for TLS",
			    address);
	}
	SSL_set_bio(ssl, bio, bio);
	SSL_set_app_data(ssl, subject); /* for tls_verify_cb(), until done */
	ip = inet_pton(AF_INET, host, &a6) == 1 ||
	     inet_pton(AF_INET6, host, &a6) == 1;
	if (ip)
		rc = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	else {
		/* "*.example.com" matches one whole label, never "w*". */
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		rc = SSL_set1_host(ssl, host) &&
		     SSL_set_tlsext_host_name(ssl, host);
	}
	flags = fcntl(fd, F_GETFL);
	if (!rc || flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		SSL_free(ssl);
		ERR_clear_error();
		return fail(err, errlen, AGORA_EIO,
			    "cannot connect to %s: cannot set up TLS for %s",
			    address, host);
	}
	for (;;) {
		int r, se, e;

		ERR_clear_error();
		errno = 0;
		r = SSL_connect(ssl);
		e = errno;
		if (r == 1)
			break;
		se = SSL_get_error(ssl, r);
		if (se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE) {
			rc = tls_handshake_failed(address, host, tls, ssl,
						  subject, r, e, err, errlen);
			break;
		}
		rc = wait_fd(fd, se == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			     deadline_ms);
		if (rc == -ETIMEDOUT) {
			rc = fail(err, errlen, AGORA_ETIMEDOUT,
				  "cannot connect to %s: no TLS handshake "
				  "within the time allowed",
				  address);
			break;
		}
		if (rc < 0) {
			rc = connect_failed(address, -rc, err, errlen);
			break;
		}
	}
	if (rc < 0) {
		SSL_free(ssl);
		ERR_clear_error();
		return rc;
	}
	SSL_set_app_data(ssl, NULL);
	*ret_ssl = ssl;
	return 0;
}

int ag_transport_tls_binding(struct ssl_st *ssl, uint8_t out[AG_BINDING_LEN])
{
	X509 *x = SSL_get1_peer_certificate(ssl);
	unsigned char *der = NULL;
	int n, rc;

	if (x == NULL)
		return AGORA_EPROTOCOL;
	n = i2d_X509(x, &der);
	X509_free(x);
	if (n <= 0)
		return AGORA_ENOMEM;
	rc = ag_tls_binding(der, (size_t)n, out);
	OPENSSL_free(der);
	return rc;
}

void ag_transport_tls_free(struct ssl_st *ssl, bool notify)
{
	if (ssl == NULL)
		return;
	/* One try: the socket is non-blocking, and a server that does not
	 * take it is ending anyway. */
	if (notify)
		SSL_shutdown(ssl);
	SSL_free(ssl);
	ERR_clear_error();
}

int ag_transport_connect(const char *address, const ag_tls_files *tls,
			 int64_t deadline_ms, int *ret_fd,
			 struct ssl_st **ret_ssl, char *err, size_t errlen)
{
	char host[256];
	SSL *ssl = NULL;
	int rc, fd;

	if (strncmp(address, "unix:", 5) == 0)
		rc = connect_unix(address, address + 5, deadline_ms, &fd, err,
				  errlen);
	else if (strncmp(address, "tcp:", 4) == 0)
		rc = connect_tcp(address, address + 4, deadline_ms, &fd, host,
				 sizeof(host), err, errlen);
	else if (strncmp(address, "tls:", 4) == 0) {
		rc = connect_tcp(address, address + 4, deadline_ms, &fd, host,
				 sizeof(host), err, errlen);
		if (rc == 0) {
			rc = tls_start(address, host, fd, tls, deadline_ms,
				       &ssl, err, errlen);
			if (rc < 0)
				close(fd);
		}
	} else
		return fail(err, errlen, AGORA_EINVAL,
			    "bad address \"%s\": expected unix:/PATH, "
			    "tcp:HOST:PORT or tls:HOST:PORT",
			    address);
	if (rc < 0)
		return rc;
	*ret_fd = fd;
	*ret_ssl = ssl;
	return 0;
}
int ag_transport_watch_peer(int fd, double timeout)
{
	ag_keepalive k = ag_keepalive_for(timeout);
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &k.idle, sizeof(k.idle)) <
		0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &k.interval,
		       sizeof(k.interval)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &k.count,
		       sizeof(k.count)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &k.user_timeout_ms,
		       sizeof(k.user_timeout_ms)) < 0)
		return -errno;
	return 0;
}

/*
 * After SSL_read()/SSL_write() on @ssl returned @r (errno @e after it):
 * 0 to try again (it waited in poll() for what OpenSSL wants), 1 when the
 * server closed the connection, else -ETIMEDOUT at @deadline_ms, -errno,
 * or -EPROTO for a TLS error (its reason left for
 * ag_transport_tls_error()).
 */
static int tls_wait(int fd, SSL *ssl, int r, int e, int64_t deadline_ms)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(fd, POLLIN, deadline_ms);
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(fd, POLLOUT, deadline_ms);
	case SSL_ERROR_ZERO_RETURN:
		return 1;
	case SSL_ERROR_SYSCALL:
		if (e != 0)
			return -e;
		return ERR_peek_error() != 0 ? -EPROTO : 1;
	default:
		return -EPROTO;
	}
}

/*
 * A send that failed with -errno @rc may have been refused by a server
 * that said why first (a TLS 1.3 server checks the client's certificate
 * after the client's handshake is done, and closes with an alert): read
 * what came, and -EPROTO when it is an alert (its reason for
 * ag_transport_tls_error()), else @rc.
 */
static int tls_alert(SSL *ssl, int rc)
{
	char b[256];
	size_t k;

	ERR_clear_error();
	if (SSL_read_ex(ssl, b, sizeof(b), &k) != 1 &&
	    SSL_get_error(ssl, 0) == SSL_ERROR_SSL)
		return -EPROTO;
	ERR_clear_error();
	return rc;
}

/* Empty this thread's OpenSSL error queue before an I/O call, as
 * SSL_get_error() needs: peeking first costs a tenth of clearing an
 * empty queue, and the queue is nearly always empty (every failure here
 * empties it). */
static void tls_clear_errors(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

static int tls_send(int fd, SSL *ssl, const char *p, size_t len,
		    int64_t deadline_ms)
{
	while (len > 0) {
		size_t k = 0;
		int r, e, rc;

		tls_clear_errors();
		errno = 0;
		r = SSL_write_ex(ssl, p, len, &k);
		e = errno;
		if (r == 1) {
			p += k;
			len -= k;
			continue;
		}
		rc = tls_wait(fd, ssl, r, e, deadline_ms);
		if (rc == 1)
			return -EPIPE;
		if (rc < 0 && rc != -ETIMEDOUT && rc != -EPROTO)
			return tls_alert(ssl, rc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static ssize_t tls_recv(int fd, SSL *ssl, void *buf, size_t len,
			int64_t deadline_ms)
{
	/* An answer is read just after its request went: most often not
	 * there yet, so wait first rather than have SSL_read() find nothing
	 * (a system call saved per round trip), unless OpenSSL holds bytes
	 * already. */
	if (!SSL_has_pending(ssl)) {
		int rc = wait_fd(fd, POLLIN, deadline_ms);

		if (rc < 0)
			return rc;
	}
	for (;;) {
		size_t k = 0;
		int r, e, rc;

		tls_clear_errors();
		errno = 0;
		r = SSL_read_ex(ssl, buf, len, &k);
		e = errno;
		if (r == 1)
			return (ssize_t)k;
		rc = tls_wait(fd, ssl, r, e, deadline_ms);
		if (rc == 1)
			return 0;
		if (rc < 0)
			return rc;
	}
}

int ag_transport_send(int fd, struct ssl_st *ssl, const void *data, size_t len,
		      int64_t deadline_ms)
{
	const char *p = data;
	int flags = MSG_NOSIGNAL | (deadline_ms > 0 ? MSG_DONTWAIT : 0);

	if (ssl != NULL)
		return tls_send(fd, ssl, data, len, deadline_ms);
	while (len > 0) {
		ssize_t k = send(fd, p, len, flags);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    deadline_ms > 0) {
				int rc = wait_fd(fd, POLLOUT, deadline_ms);

				if (rc < 0)
					return rc;
				continue;
			}
			return -errno;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

ssize_t ag_transport_recv(int fd, struct ssl_st *ssl, void *buf, size_t len,
			  int64_t deadline_ms)
{
	ssize_t k;

	if (ssl != NULL)
		return tls_recv(fd, ssl, buf, len, deadline_ms);
	if (deadline_ms > 0) {
		int rc = wait_fd(fd, POLLIN, deadline_ms);

		if (rc < 0)
			return rc;
	}
	do
		k = recv(fd, buf, len, 0);
	while (k < 0 && errno == EINTR);
	return k < 0 ? -errno : k;
}

/* ---- without blocking (the event-loop client) ---------------------------- */

int ag_transport_send_nowait(int fd, struct ssl_st *ssl, const void *data,
			     size_t len, size_t *ret_sent)
{
	size_t done = 0;

	while (done < len) {
		if (ssl != NULL) {
			size_t k = 0;
			int r, e, rc;

			tls_clear_errors();
			errno = 0;
			r = SSL_write_ex(ssl, (const char *)data + done,
					 len - done, &k);
			e = errno;
			if (r == 1) {
				done += k;
				continue;
			}
			rc = SSL_get_error(ssl, r);
			if (rc == SSL_ERROR_WANT_WRITE ||
			    rc == SSL_ERROR_WANT_READ)
				break;
			rc = tls_wait(fd, ssl, r, e, 0);
			if (rc == 1)
				return -EPIPE;
			return rc < 0 ? rc : -EPROTO;
		}
		ssize_t k = send(fd, (const char *)data + done, len - done,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		done += (size_t)k;
	}
	*ret_sent = done;
	return 0;
}

ssize_t ag_transport_recv_nowait(int fd, struct ssl_st *ssl, void *buf,
				 size_t len)
{
	ssize_t k;

	if (ssl != NULL) {
		size_t got = 0;
		int r, e, rc;

		tls_clear_errors();
		errno = 0;
		r = SSL_read_ex(ssl, buf, len, &got);
		e = errno;
		if (r == 1)
			return (ssize_t)got;
		rc = SSL_get_error(ssl, r);
		if (rc == SSL_ERROR_WANT_READ || rc == SSL_ERROR_WANT_WRITE)
			return -EAGAIN;
		rc = tls_wait(fd, ssl, r, e, 0);
		if (rc == 1)
			return 0;
		return rc < 0 ? rc : -EPROTO;
	}
	do
		k = recv(fd, buf, len, MSG_DONTWAIT);
	while (k < 0 && errno == EINTR);
	if (k < 0 && errno == EWOULDBLOCK)
		return -EAGAIN;
	return k < 0 ? -errno : k;
}

bool ag_transport_pending(struct ssl_st *ssl)
{
	return ssl != NULL && SSL_has_pending(ssl);
}
