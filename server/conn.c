/*
 * conn.c - one client connection: accepting it, reading frames, the
 * handshake, the limits on connections, and the orderly end.
 *
 * Reading: bytes go from read(2) (or, over TLS, SSL_read_ex(): tls.c's
 * ag_conn_read()) straight into the connection's ag_reader,
 * which hands out checked frames. Until the handshake is done only "hello"
 * and "auth" are served, under the 1 KiB pre-authentication frame limit and
 * the auth timer. Afterwards every request goes to ag_dispatch(). Answers
 * are reply.c's; the write event (on_writable, here) sends them.
 *
 * Ending: a connection is freed only from its own callbacks or by the
 * server's shutdown, never from inside a method, so no method ever sees a
 * connection disappear under it. Freeing gives back what it has of the
 * objects (ag_session_end(), session.c), then its buffers and socket.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "internal.h"

#define READ_CHUNK 16384
#define IOV_MAX_BATCH 64

/* ---- counting --------------------------------------------------------------
 *
 * A connection is counted in srv->nunauth from its creation until its
 * handshake is done, then in srv->nauth. The two limits are separate so
 * that clients without the key, however many, cannot take the places of
 * clients with it: an unauthenticated connection never counts toward
 * max_conns, and when max_unauth of them exist a new one closes the oldest
 * that has not said hello yet (srv->unauth_new), or if all have, the
 * oldest that has (srv->unauth_hello). A keyed client says hello at once
 * and finishes its handshake in two round trips: connections that only
 * connect cannot push it out, and the server accepts a few connections at
 * a time (server.c) so that it reads a hello before more connections come
 * in behind it.
 */

/* Enter a new connection, in the handshake (@ready false) or past it. */
static void conn_count(ag_conn *c, bool ready)
{
	ag_server *s = c->srv;

	TAILQ_INSERT_TAIL(&s->conns, c, link);
	s->nconns++;
	c->since_ms = c->active_ms = ag_mono_ms();
	if (ready) {
		c->state = AG_CONN_READY;
		s->nauth++;
	} else {
		TAILQ_INSERT_TAIL(&s->unauth_new, c, ulink);
		s->nunauth++;
	}
}

/* @c said hello and was answered. */
static void conn_count_hello(ag_conn *c)
{
	ag_server *s = c->srv;

	TAILQ_REMOVE(&s->unauth_new, c, ulink);
	TAILQ_INSERT_TAIL(&s->unauth_hello, c, ulink);
	c->state = AG_CONN_AUTH;
}

static struct ag_connq *unauth_queue(ag_conn *c)
{
	return c->state == AG_CONN_HELLO ? &c->srv->unauth_new
					 : &c->srv->unauth_hello;
}

/* @c finished its handshake. */
static void conn_count_ready(ag_conn *c)
{
	ag_server *s = c->srv;

	TAILQ_REMOVE(unauth_queue(c), c, ulink);
	s->nunauth--;
	c->state = AG_CONN_READY;
	s->nauth++;
	if (s->slot_freed != NULL)
		s->slot_freed(s);
}

static void conn_uncount(ag_conn *c)
{
	ag_server *s = c->srv;

	TAILQ_REMOVE(&s->conns, c, link);
	s->nconns--;
	if (c->state == AG_CONN_READY) {
		s->nauth--;
	} else {
		TAILQ_REMOVE(unauth_queue(c), c, ulink);
		s->nunauth--;
	}
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	ag_conn *c = arg;

	c->flush_scheduled = false;
	if (c->tls_read_wants_write) { /* OpenSSL reads once it has written */
		c->tls_read_wants_write = false;
		if (c->rev != NULL && !c->closing)
			event_active(c->rev, EV_READ, 0);
	}
	if (c->overflowed) /* cut: its backlog is dropped */
		c->out_sent = c->out.len;
	if (!ag_conn_flush(c)) {
		ag_conn_end_why(c, "closed by peer");
		ag_conn_free(c);
	} else if (c->closing || (c->draining && ag_conn_unsent(c) == 0)) {
		ag_conn_free(c);
	}
}

/* Answer @msgid with an error and end the connection after sending it. */
static void fail_conn(ag_conn *c, bool have_msgid, uint32_t msgid, int rc,
		      const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void fail_conn(ag_conn *c, bool have_msgid, uint32_t msgid, int rc,
		      const char *fmt, ...)
{
	va_list ap;

	switch (rc) {
	case AGORA_EAUTH:
		ag_conn_end_why(c, "authentication failed");
		break;
	case AGORA_ELIMIT:
		ag_conn_end_why(c, "limit");
		break;
	default:
		ag_conn_end_why(c, "protocol error");
		break;
	}
	if (have_msgid) {
		va_start(ap, fmt);
		ag_reply_verror(c, msgid, rc, fmt, ap);
		va_end(ap);
	}
	c->closing = true;
	if (c->rev != NULL) /* NULL on a detached connection */
		event_del(c->rev);
}

/* ---- the handshake ---------------------------------------------------------
 */

static bool is_bin(const msgpack_object *o, uint32_t len)
{
	return o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == len;
}

/* Answer LIMIT: the authenticated connections are at max_conns. */
static void refuse_over_limit(ag_conn *c, uint32_t msgid)
{
	ag_server *s = c->srv;

	ag_conn_end_why(c, "limit: --max-connections");
	fail_conn(c, true, msgid, AGORA_ELIMIT,
		  "the server serves at most %u connections", s->max_conns);
	ag_server_logf_limited(s, AGORA_LOG_WARNING, AG_LOG_LIMIT,
			       "connection %llu from %s refused: %u "
			       "authenticated connections (--max-connections)",
			       (unsigned long long)c->id, c->peer,
			       s->max_conns);
}

static void on_hello(ag_conn *c, const ag_request *rq)
{
	ag_server *s = c->srv;
	const msgpack_object *a = rq->argv;
	uint32_t msgid = rq->msgid;
	uint8_t proof[AG_PROOF_LEN];

	if (rq->argc < 1 || a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		fail_conn(c, true, msgid, AGORA_EARGS,
			  "hello: params must be [version, nonce]");
		return;
	}
	if (a[0].via.u64 != AG_PROTOCOL_VERSION) {
		fail_conn(c, true, msgid, AGORA_EVERSION,
			  "hello: protocol version %llu is not spoken; this "
			  "server speaks version %d",
			  (unsigned long long)a[0].via.u64,
			  AG_PROTOCOL_VERSION);
		return;
	}
	if ((rq->argc != 2 && rq->argc != 3) || !is_bin(&a[1], AG_NONCE_LEN)) {
		fail_conn(c, true, msgid, AGORA_EARGS,
			  "hello: params must be [1, nonce] or [1, nonce, "
			  "user] with a nonce of %d bytes (bin)",
			  AG_NONCE_LEN);
		return;
	}
	/* The user (added after 0.1.0; users.c): its key makes the proofs. */
	if (ag_conn_user_select(c, rq->argc == 3 ? &a[2] : NULL) < 0) {
		fail_conn(c, true, msgid, AGORA_EARGS,
			  "hello: the user must be a str or nil");
		return;
	}
	const uint8_t *key;
	size_t keylen;
	ag_conn_user_key(c, &key, &keylen);
	memcpy(c->cnonce, a[1].via.bin.ptr, AG_NONCE_LEN);
	/* Over TLS the proofs cover the channel binding (protocol 2.1). */
	if (ag_nonce(c->snonce) < 0 ||
	    ag_server_proof_bound(key, keylen, c->cnonce, c->snonce,
				  c->ssl ? c->tls_cb : NULL,
				  c->ssl ? AG_BINDING_LEN : 0, proof) < 0) {
		fail_conn(c, true, msgid, AGORA_ELIMIT,
			  "hello: cannot make a nonce or proof");
		return;
	}
	msgpack_packer *pk = ag_reply_begin(&(ag_target){ c, msgid });
	/* run and started (added after 0.1.0): which start of the server
	 * this is, for a client that connects again. */
	msgpack_pack_map(pk, 6);
	ag_pack_str(pk, "version");
	msgpack_pack_uint8(pk, AG_PROTOCOL_VERSION);
	ag_pack_str(pk, "server");
	ag_pack_str(pk, "agora/" AGORA_VERSION_STRING);
	ag_pack_str(pk, "nonce");
	msgpack_pack_bin(pk, AG_NONCE_LEN);
	msgpack_pack_bin_body(pk, c->snonce, AG_NONCE_LEN);
	ag_pack_str(pk, "proof");
	msgpack_pack_bin(pk, AG_PROOF_LEN);
	msgpack_pack_bin_body(pk, proof, AG_PROOF_LEN);
	ag_pack_str(pk, "run");
	ag_pack_str(pk, s->run_id);
	ag_pack_str(pk, "started");
	msgpack_pack_double(pk, s->started);
	conn_count_hello(c);
}

static void on_auth(ag_conn *c, const ag_request *rq)
{
	ag_server *s = c->srv;
	const msgpack_object *a = rq->argv;
	uint32_t msgid = rq->msgid;
	uint8_t want[AG_PROOF_LEN];
	const uint8_t *key;
	size_t keylen;

	ag_conn_user_key(c, &key, &keylen);
	if (rq->argc != 1 || a[0].type != MSGPACK_OBJECT_BIN ||
	    ag_client_proof_bound(key, keylen, c->snonce, c->cnonce,
				  c->ssl ? c->tls_cb : NULL,
				  c->ssl ? AG_BINDING_LEN : 0, want) < 0 ||
	    !ag_proof_equal(a[0].via.bin.ptr, a[0].via.bin.size, want) ||
	    c->user_unknown) {
		fail_conn(c, true, msgid, AGORA_EAUTH,
			  "auth: the proof does not match this server's "
			  "authkey");
		if (c->user_unknown)
			ag_server_logf_limited(
			    s, AGORA_LOG_WARNING, AG_LOG_AUTH_FAILED,
			    "connection %llu from %s: authentication failed: "
			    "unknown user \"%s\"%s",
			    (unsigned long long)c->id, c->peer, c->user_name,
			    c->user_name[0] ? ""
					    : " (no default user: give "
					      "--authkey-file)");
		else
			ag_server_logf_limited(
			    s, AGORA_LOG_WARNING, AG_LOG_AUTH_FAILED,
			    "connection %llu from %s: authentication failed: "
			    "wrong proof (the client's key is not user "
			    "%s%s%s's)",
			    (unsigned long long)c->id, c->peer,
			    c->user ? "\"" : "",
			    c->user ? c->user->name : "the default",
			    c->user ? "\"" : "");
		return;
	}
	/* Others may have authenticated since this one's hello. */
	if (s->nauth >= s->max_conns) {
		refuse_over_limit(c, msgid);
		return;
	}
	conn_count_ready(c);
	if (c->auth_timer != NULL) { /* NULL on a detached connection */
		event_free(c->auth_timer);
		c->auth_timer = NULL;
	}
	ag_reader_set_max(&c->rd, s->max_message);
	ag_reply_bool(&(ag_target){ c, msgid }, true);
	ag_server_logf(s, AGORA_LOG_DEBUG,
		       "connection %llu from %s: authenticated",
		       (unsigned long long)c->id, c->peer);
}

static bool method_is(const ag_request *rq, const char *name)
{
	size_t n = strlen(name);
	return rq->methodlen == n && memcmp(rq->method, name, n) == 0;
}

/* ---- reading ---------------------------------------------------------------
 */

/* A frame the reader refused may still begin [0, msgid: find the msgid so
 * that the error can be answered. */
static bool peek_msgid(const ag_conn *c, uint32_t *ret)
{
	const uint8_t *p = (const uint8_t *)c->rd.buf + c->rd.start;
	size_t n = c->rd.len - c->rd.start;
	ag_mp_head h;

	if (n < 2 || p[0] != 0x94 || p[1] != 0x00 ||
	    !ag_mp_read_head(p + 2, n - 2, &h) || h.kind != AG_MP_UINT ||
	    h.u > UINT32_MAX)
		return false;
	*ret = (uint32_t)h.u;
	return true;
}

static void on_request(ag_conn *c, const ag_request *rq)
{
	uint32_t msgid = rq->msgid;

	/* While the authenticated connections are at the limit, a new
	 * connection's first request is refused at once (on_auth checks
	 * again, for those that authenticated meanwhile). */
	if (c->state == AG_CONN_HELLO && c->srv->nauth >= c->srv->max_conns) {
		refuse_over_limit(c, msgid);
		return;
	}
	switch (c->state) {
	case AG_CONN_HELLO:
		if (method_is(rq, "hello"))
			on_hello(c, rq);
		else
			fail_conn(c, true, msgid, AGORA_EAUTH,
				  "%.*s: not authenticated (say hello first)",
				  (int)rq->methodlen, rq->method);
		return;
	case AG_CONN_AUTH:
		if (method_is(rq, "auth"))
			on_auth(c, rq);
		else
			fail_conn(c, true, msgid, AGORA_EAUTH,
				  "%.*s: not authenticated (auth expected)",
				  (int)rq->methodlen, rq->method);
		return;
	case AG_CONN_READY:
		c->nrequests++;
		ag_dispatch(c, rq);
		return;
	}
}

static bool process_input(ag_conn *c);

/* Reading @c found its end: 0 (end of file) or the errno of read(2). Say
 * why it ends; a client that closes between the server's proof and its
 * own is logged as an unfinished authentication (a client whose key
 * differs gives up there, having checked the server's proof). */
static void conn_read_end(ag_conn *c, int err)
{
	ag_server *s = c->srv;

	if (err == EPROTO && c->ssl != NULL) {
		ag_conn_end_why(c, c->tls_done ? "TLS error"
					       : "TLS handshake failed");
		ag_server_logf_limited(s, AGORA_LOG_WARNING, AG_LOG_TLS,
				       "connection %llu from %s: %s: %s",
				       (unsigned long long)c->id, c->peer,
				       c->tls_done ? "TLS error"
						   : "TLS handshake failed",
				       c->tls_why);
		return;
	}
	if (err == ETIMEDOUT) {
		ag_conn_end_why(c, "peer timeout");
		ag_server_logf(s, AGORA_LOG_WARNING,
			       "connection %llu (%s): no answer for the peer "
			       "timeout (%gs); dropping it",
			       (unsigned long long)c->id, c->peer,
			       s->peer_timeout);
		return;
	}
	ag_conn_end_why(c, err == 0            ? "closed by peer"
			   : err == ECONNRESET ? "reset by peer"
					       : "read error");
	if (c->state == AG_CONN_AUTH && c->user_unknown)
		ag_server_logf_limited(
		    s, AGORA_LOG_WARNING, AG_LOG_AUTH_UNFINISHED,
		    "connection %llu from %s: authentication not finished: "
		    "unknown user \"%s\" (the client %s after the server's "
		    "proof)",
		    (unsigned long long)c->id, c->peer, c->user_name,
		    err == 0 ? "closed" : "reset the connection");
	else if (c->state == AG_CONN_AUTH)
		ag_server_logf_limited(
		    s, AGORA_LOG_WARNING, AG_LOG_AUTH_UNFINISHED,
		    "connection %llu from %s: authentication not finished: "
		    "the client %s after the server's proof without sending "
		    "its own (its authkey may not be this server's)",
		    (unsigned long long)c->id, c->peer,
		    err == 0 ? "closed" : "reset the connection");
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	ag_conn *c = arg;
	size_t avail;
	char *space = ag_reader_space(&c->rd, READ_CHUNK, &avail);
	ssize_t n;

	if (space == NULL) {
		ag_server_logf(c->srv, AGORA_LOG_ERROR,
			       "connection %llu from %s: out of memory for "
			       "its input; closing it",
			       (unsigned long long)c->id, c->peer);
		ag_conn_end_why(c, "out of memory");
		ag_conn_free(c);
		return;
	}
	if (c->tls_write_wants_read) { /* OpenSSL writes once it has read */
		c->tls_write_wants_read = false;
		if (!ag_conn_flush(c)) {
			ag_conn_end_why(c, "closed by peer");
			ag_conn_free(c);
			return;
		}
	}
	n = ag_conn_read(c, space, avail);
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_read_end(c, n < 0 ? errno : 0);
		ag_conn_free(c);
		return;
	}
	if (c->draining) { /* cut off (ag_notify_begin): its input is dropped,
			      read only to see its end (and for TLS) */
		if (ag_conn_unsent(c) == 0)
			ag_conn_free(c);
		return;
	}
	ag_reader_commit(&c->rd, (size_t)n);
	c->reading = true;
	if (!process_input(c))
		return; /* freed */
	c->reading = false;
	/* A large request's buffer goes once it is served. */
	ag_reader_shrink(&c->rd, AG_READ_KEEP);
	ag_conn_sync_mem(c);
	ag_enforce_memory(c->srv);
	if (c->closing) /* cut by ag_enforce_memory(): its write event frees it
			 */
		return;
	if (ag_conn_unsent(c) > 0 && !c->flush_scheduled && !ag_conn_flush(c)) {
		ag_conn_end_why(c, "closed by peer");
		ag_conn_free(c);
		return;
	}
	if (c->draining) { /* cut off (ag_notify_begin): reads no more */
		if (ag_conn_unsent(c) == 0)
			ag_conn_free(c);
		return;
	}
	/* Decrypted bytes the reader had no room for: the socket will not
	 * say so, so come back for them in this loop pass. */
	if (ag_conn_read_pending(c))
		event_active(c->rev, EV_READ, 0);
}

/* Serve every complete frame the reader holds; a connection that must end
 * is freed here (after one try at sending its last error). Returns false
 * then. */
static bool process_input(ag_conn *c)
{
	const uint8_t *frame;
	size_t flen;
	int rc;

	c->active_ms = ag_mono_ms(); /* for the server method clients */
	while (!c->closing && !c->draining &&
	       (rc = ag_reader_next_frame(&c->rd, &frame, &flen)) != 0) {
		/* A client that sends more while more than max_output of its
		 * answers lie unread is cut off: it cannot make the server
		 * hold an unbounded backlog. One large answer to a client that
		 * reads is not affected. */
		if (ag_conn_unsent(c) > c->srv->max_output) {
			ag_conn_end_why(c, "limit: --max-output");
			ag_server_logf(c->srv, AGORA_LOG_WARNING,
				       "connection %llu from %s: more than "
				       "%zu bytes of answers unread; closing "
				       "it",
				       (unsigned long long)c->id, c->peer,
				       c->srv->max_output);
			c->overflowed = true;
			c->closing = true;
			break;
		}
		if (rc < 0) {
			uint32_t msgid = 0;
			bool have = peek_msgid(c, &msgid);
			fail_conn(c, have, msgid, AGORA_EPROTOCOL, "%s",
				  c->rd.errmsg);
			ag_server_logf_limited(
			    c->srv, AGORA_LOG_WARNING, AG_LOG_PROTOCOL,
			    "connection %llu from %s: %s",
			    (unsigned long long)c->id, c->peer, c->rd.errmsg);
			break;
		}
		ag_request rq;
		char err[96];
		msgpack_zone *z = ag_server_request_zone(c->srv);
		msgpack_zone_clear(z);
		rc = ag_request_parse(frame, flen, z, &rq, err, sizeof(err));
		if (rc == AGORA_ENOMEM)
			snprintf(err, sizeof(err), "out of memory decoding");
		if (rc < 0) {
			fail_conn(c, rq.have_msgid, rq.msgid, AGORA_EPROTOCOL,
				  "%s", err);
			ag_server_logf_limited(
			    c->srv, AGORA_LOG_WARNING, AG_LOG_PROTOCOL,
			    "connection %llu from %s: %s",
			    (unsigned long long)c->id, c->peer, err);
			break;
		}
		on_request(c, &rq);
		ag_server_trim(c->srv);
	}
	if (c->closing) {
		/* Send the last error if the socket takes it now, then go;
		 * a cut-off backlog is dropped. */
		if (!c->overflowed)
			ag_conn_flush(c);
		ag_conn_free(c);
		return false;
	}
	return true;
}

static void on_auth_timeout(evutil_socket_t fd, short what, void *arg)
{
	ag_conn *c = arg;

	ag_conn_end_why(c, "authentication timeout");
	ag_server_logf_limited(
	    c->srv, AGORA_LOG_WARNING, AG_LOG_AUTH_TIMEOUT,
	    "connection %llu from %s: no authentication within %g s%s",
	    (unsigned long long)c->id, c->peer, c->srv->auth_timeout,
	    c->state == AG_CONN_AUTH ? " (hello answered, no proof came)"
	    : c->ssl != NULL && !c->tls_done ? " (TLS handshake not finished)"
					     : "");
	ag_conn_free(c);
}

/* The unauthenticated connections are at max_unauth and one more came:
 * close the oldest that has not said hello, else the oldest. */
static void evict_oldest_unauth(ag_server *s)
{
	ag_conn *old = TAILQ_FIRST(&s->unauth_new);

	if (old == NULL)
		old = TAILQ_FIRST(&s->unauth_hello);

	ag_conn_end_why(old, "limit: --max-unauthenticated");
	ag_server_logf_limited(s, AGORA_LOG_WARNING, AG_LOG_EVICT,
			       "%u connections in the handshake "
			       "(--max-unauthenticated): closed the oldest, "
			       "connection %llu from %s",
			       s->max_unauth, (unsigned long long)old->id,
			       old->peer);
	ag_conn_free(old);
}

/*
 * Have the kernel drop the TCP connection @fd when its peer stops answering
 * for @timeout seconds (ag_keepalive_for()): then the socket reports
 * ETIMEDOUT, on_readable() reads it and the connection ends as any other,
 * whether or not the server has anything to send. A failing setsockopt
 * leaves the connection without detection, as before; it is not a reason to
 * refuse the peer.
 */
static void watch_peer(int fd, double timeout)
{
	ag_keepalive k = ag_keepalive_for(timeout);
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &k.idle, sizeof(k.idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &k.interval,
		   sizeof(k.interval));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &k.count, sizeof(k.count));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &k.user_timeout_ms,
		   sizeof(k.user_timeout_ms));
}

void ag_conn_accept(ag_server *s, int fd, bool is_unix, bool tls,
		    const struct sockaddr *sa, int salen)
{
	ag_conn *c;

	while (s->nunauth >= s->max_unauth && s->nunauth > 0)
		evict_oldest_unauth(s);
	c = calloc(1, sizeof(*c));
	if (c == NULL || ag_reader_init(&c->rd, AG_PREAUTH_MAX_MESSAGE) < 0) {
		free(c);
		close(fd);
		return;
	}
	c->srv = s;
	c->fd = fd;
	c->is_unix = is_unix;
	c->id = ++s->next_conn_id;
	TAILQ_INIT(&c->waiters);
	ag_buf_init(&c->out);
	c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_readable, c);
	c->wev = event_new(s->base, fd, EV_WRITE, on_writable, c);
	c->auth_timer = evtimer_new(s->base, on_auth_timeout, c);
	conn_count(c, false);
	if (c->rev == NULL || c->wev == NULL || c->auth_timer == NULL) {
		ag_conn_end_why(c, "out of memory");
		ag_conn_free(c);
		return;
	}
	if (tls && ag_tls_conn_new(c) < 0) {
		ag_conn_end_why(c, "out of memory");
		ag_conn_free(c);
		return;
	}
	msgpack_packer_init(&c->pk, &c->out, ag_buf_write);
	if (!is_unix) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (s->peer_timeout > 0)
			watch_peer(fd, s->peer_timeout);
	}
	if (is_unix) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
			c->have_peer = true;
			c->peer_pid = cred.pid;
			c->peer_uid = cred.uid;
			snprintf(c->peer, sizeof(c->peer), "pid %lld uid %lld",
				 (long long)cred.pid, (long long)cred.uid);
		}
	} else {
		char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
		getnameinfo(sa, (socklen_t)salen, host, sizeof(host), port,
			    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
		snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
	}
	if (c->peer[0] == '\0')
		snprintf(c->peer, sizeof(c->peer), "an unknown peer");
	ag_server_logf(
	    s, AGORA_LOG_DEBUG, "connection %llu from %s (%s): accepted",
	    (unsigned long long)c->id, c->peer, ag_conn_transport(c));

	struct timeval tv = { (time_t)s->auth_timeout,
			      (suseconds_t)((s->auth_timeout -
					     (double)(time_t)s->auth_timeout) *
					    1e6) };
	event_add(c->auth_timer, &tv);
	event_add(c->rev, NULL);
}

/* Whether the shutdown still has output of @c to send. */
static bool shutdown_pending(const ag_conn *c)
{
	return c->fd >= 0 && !c->out.oom && !c->overflowed &&
	       ag_conn_unsent(c) > 0;
}

/* Send what @c's socket takes now; on an error its output is dropped. */
static void shutdown_send(ag_conn *c)
{
	while (ag_conn_unsent(c) > 0) {
		ssize_t w = ag_conn_write(c, c->out.data + c->out_sent,
					  ag_conn_unsent(c));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    !c->tls_write_wants_read) /* (TLS, rare: not for poll) */
			return;
		if (w <= 0) {
			c->out_sent = c->out.len;
			return;
		}
		c->out_sent += (size_t)w;
	}
}

void ag_conns_shutdown(ag_server *s, int grace_ms)
{
	int64_t deadline = ag_mono_ms() + grace_ms;
	struct pollfd *pfd = NULL;
	ag_conn **who = NULL;
	ag_conn *c;
	ag_waiter *w;

	TAILQ_FOREACH (c, &s->conns, link) {
		while ((w = TAILQ_FIRST(&c->waiters)) != NULL) {
			ag_reply_error(&w->to, AGORA_ESHUTDOWN,
				       "the server is shutting down");
			ag_wait_done(w);
		}
		ag_conn_end_why(c, "shutdown");
		c->closing = true;
		if (c->rev != NULL)
			event_del(c->rev);
	}
	/* The answers may exceed what a socket buffer holds (10,000 parked
	 * calls on one connection): wait, within the grace, for each client
	 * to read them. The loop is not running any more, so this waits in
	 * poll(2) itself. */
	if (s->nconns > 0) {
		pfd = calloc(s->nconns, sizeof(*pfd));
		who = calloc(s->nconns, sizeof(*who));
	}
	for (;;) {
		nfds_t n = 0;
		TAILQ_FOREACH (c, &s->conns, link) {
			if (shutdown_pending(c))
				shutdown_send(c);
			if (!shutdown_pending(c) || pfd == NULL || who == NULL)
				continue;
			pfd[n] = (struct pollfd){ c->fd, POLLOUT, 0 };
			who[n++] = c;
		}
		int64_t left = deadline - ag_mono_ms();
		if (n == 0 || left <= 0)
			break;
		if (poll(pfd, n, (int)left) < 0 && errno != EINTR)
			break;
	}
	unsigned unsent = 0;
	size_t bytes = 0;
	TAILQ_FOREACH (c, &s->conns, link)
		if (shutdown_pending(c)) {
			unsent++;
			bytes += ag_conn_unsent(c);
		}
	if (unsent > 0)
		ag_server_logf(s, AGORA_LOG_WARNING,
			       "%u connections did not read their last %zu "
			       "bytes of answers within %d ms of the "
			       "shutdown",
			       unsent, bytes, grace_ms);
	free(pfd);
	free(who);
}

void ag_conns_free_all(ag_server *s)
{
	ag_conn *c;

	while ((c = TAILQ_FIRST(&s->conns)) != NULL)
		ag_conn_free(c);
}

void ag_conn_free(ag_conn *c)
{
	ag_server *s = c->srv;

	if (c->fd >= 0) /* not a detached one (tests) */
		ag_server_logf(s, AGORA_LOG_DEBUG,
			       "connection %llu from %s (%s): ended: %s, "
			       "after %.3f s and %llu request%s",
			       (unsigned long long)c->id, c->peer,
			       ag_conn_transport(c), ag_conn_why(c),
			       (double)(ag_mono_ms() - c->since_ms) / 1000.0,
			       (unsigned long long)c->nrequests,
			       c->nrequests == 1 ? "" : "s");
	ag_watch_conn_gone(c);
	ag_life_conn_gone(c); /* its ephemeral names (lifetime.c) */
	ag_session_end(c);
	ag_persist_conn_gone(c);
	conn_uncount(c);
	s->conn_memory -= c->mem;
	if (c->rev)
		event_free(c->rev);
	if (c->wev)
		event_free(c->wev);
	if (c->auth_timer)
		event_free(c->auth_timer);
	if (c->drain_timer)
		event_free(c->drain_timer);
	ag_buf_deinit(&c->out);
	ag_reader_deinit(&c->rd);
	ag_tls_conn_free(c);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	if (s->slot_freed != NULL)
		s->slot_freed(s);
}

/* ---- detached connections (fuzzing and tests) ------------------------------
 */

ag_conn *ag_conn_new_detached(ag_server *s, bool authenticated)
{
	ag_conn *c = calloc(1, sizeof(*c));

	if (c == NULL || ag_reader_init(&c->rd, AG_PREAUTH_MAX_MESSAGE) < 0) {
		free(c);
		return NULL;
	}
	c->srv = s;
	c->fd = -1;
	c->id = ++s->next_conn_id;
	TAILQ_INIT(&c->waiters);
	conn_count(c, authenticated);
	ag_buf_init(&c->out);
	c->wev = event_new(s->base, -1, EV_WRITE, on_writable, c);
	if (c->wev == NULL) {
		ag_conn_free(c);
		return NULL;
	}
	msgpack_packer_init(&c->pk, &c->out, ag_buf_write);
	if (authenticated)
		ag_reader_set_max(&c->rd, s->max_message);
	return c;
}

void ag_conn_capture(ag_conn *c, ag_buf *sink)
{
	c->sink = sink;
}

bool ag_conn_feed(ag_conn *c, const void *data, size_t len)
{
	if (ag_reader_feed(&c->rd, data, len) < 0) {
		ag_conn_free(c);
		return false;
	}
	return process_input(c);
}
