/*
 * reply.c - answers, and what connections may hold.
 *
 * Replies are packed into the connection's output buffer, and the write
 * event is activated once; its callback (conn.c) runs after this loop
 * turn's other callbacks, so all replies of a turn leave in one send(2).
 * MSG_NOSIGNAL keeps a vanished peer from raising SIGPIPE in a program
 * that embeds the server. What a connection holds (its buffers and tables)
 * is counted in the server's conn_memory, and bounded with --max-memory
 * and --max-output: past them the connection holding the most is cut.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

/* Answers that fail to fit (out of memory) would leave a torn message on
 * the stream: the connection is then ended (see process_input and
 * on_writable). The buffer is kept between turns, so steady traffic
 * allocates nothing. */
#define OUT_KEEP ((size_t)1 << 20) /* larger buffers are freed when empty */

/* Bytes this connection holds: itself, its input and output buffers, its
 * handle and ownership tables. */
static size_t conn_bytes(const ag_conn *c)
{
	return sizeof(*c) + c->rd.cap + c->out.cap + c->watch_bytes +
	       (size_t)c->nhandles * sizeof(*c->handles) +
	       (size_t)c->nhandles * sizeof(*c->free_slots) +
	       ((size_t)c->capholds + c->cappassed) * sizeof(struct ag_hold);
}

/* Bring the server's count of connection memory up to date for @c. */
void ag_conn_sync_mem(ag_conn *c)
{
	size_t now = conn_bytes(c);

	c->srv->conn_memory += now - c->mem;
	c->mem = now;
}

static void conn_cut(ag_conn *c);

/* A connection holding no more than this is never cut for memory: it is
 * not the cause (its struct and a default input buffer). */
#define CONN_SMALL (sizeof(struct ag_conn) + AG_READ_KEEP)

/*
 * With --max-memory, what connections hold (partial requests, unread
 * answers) is bounded too. What the server holds is counted as stats'
 * memory_total does, less the connections already closing (cut or
 * failed: they are freed in this loop turn): objects (s->memory), the
 * scratch buffer, and every live connection's conn_bytes() as last
 * synced. While that passes
 *
 *	max_memory + max_output
 *
 * the live connection holding the most is cut (its backlog dropped, its
 * memory no longer counted), the next largest after it, and so on until
 * the figure is back under the bound or no connection holds more than
 * CONN_SMALL (objects are then the cause: --max-memory refuses those
 * where they are stored). The max_output of margin lets one client read
 * a large answer while the objects use all of max_memory. So at the end
 * of each read and each blocked write, memory_total is at most
 * max_memory + max_output, plus what objects may pass max_memory by
 * (docs/reliability.md), plus CONN_SMALL per connection when objects are
 * the cause. A connection is cut once: one already closing is neither
 * counted nor chosen again.
 */
void ag_enforce_memory(ag_server *s)
{
	size_t held, bound;
	ag_conn *c;

	if (s->max_memory == 0)
		return;
	bound = s->max_memory + s->max_output;
	if (bound < s->max_memory) /* wrapped: no bound to enforce */
		return;
	held = s->memory + s->scratch.cap; /* memory_total less the closing */
	TAILQ_FOREACH (c, &s->conns, link)
		if (!c->closing)
			held += c->mem;
	while (held > bound) {
		ag_conn *worst = NULL;
		TAILQ_FOREACH (c, &s->conns, link)
			if (!c->closing &&
			    (worst == NULL || c->mem > worst->mem))
				worst = c;
		if (worst == NULL || worst->mem <= CONN_SMALL)
			return;
		ag_conn_end_why(worst, "limit: --max-memory");
		ag_server_logf(s, AGORA_LOG_WARNING,
			       "connection %llu from %s holds %zu bytes of "
			       "buffers while the server is past its memory "
			       "limit; closing it",
			       (unsigned long long)worst->id, worst->peer,
			       worst->mem);
		held -= worst->mem;
		conn_cut(worst);
	}
}

/* Answers to the requests of one read go out in one send at the end of
 * on_readable; answers made for a connection while another one is served
 * (a waiter woken by a release) go out when the loop runs its write
 * event, once per connection and turn. */
static void schedule_flush(ag_conn *c)
{
	/* An answer made while more than max_output of earlier ones lie
	 * unread (a parked call woken for a client that stopped reading, or
	 * one that pipelines and never reads) ends the connection: no client
	 * makes the server hold an unbounded backlog. One large answer to a
	 * client that reads is not affected. */
	if (ag_conn_unsent(c) > c->srv->max_output && !c->overflowed &&
	    !c->draining) {
		ag_conn_end_why(c, "limit: --max-output");
		ag_server_logf(c->srv, AGORA_LOG_WARNING,
			       "connection %llu from %s: more than %zu bytes "
			       "of answers unread; closing it",
			       (unsigned long long)c->id, c->peer,
			       c->srv->max_output);
		conn_cut(c);
		return;
	}
	if (!c->flush_scheduled && !c->reading) {
		c->flush_scheduled = true;
		event_active(c->wev, EV_WRITE, 0);
	}
}

/* Send what the output buffer holds, without blocking. Returns false when
 * the peer is gone. */
bool ag_conn_flush(ag_conn *c)
{
	if (c->out.oom)
		return false;
	if (c->srv->may_send != NULL && !c->srv->may_send(c))
		return true; /* sent once the journal has its records */
	if (c->fd < 0) { /* detached (tests, fuzzing): to a sink, or nowhere */
		if (c->sink != NULL)
			ag_buf_append(c->sink, c->out.data + c->out_sent,
				      ag_conn_unsent(c));
		c->out_sent = c->out.len;
	}
	while (ag_conn_unsent(c) > 0) {
		ssize_t w = ag_conn_write(c, c->out.data + c->out_sent,
					  ag_conn_unsent(c));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* wait until writable, or (TLS) readable:
				 * the read event is always on */
				if (!c->tls_write_wants_read)
					event_add(c->wev, NULL);
				ag_conn_sync_mem(c);
				ag_enforce_memory(c->srv);
				return true;
			}
			return false;
		}
		c->out_sent += (size_t)w;
	}
	c->out.len = c->out_sent = 0;
	if (c->out.cap > OUT_KEEP)
		ag_buf_deinit(&c->out);
	ag_conn_sync_mem(c);
	return true;
}

/* End @c from anywhere, dropping what it has not been sent: its write
 * event frees it in this loop turn. */
static void conn_cut(ag_conn *c)
{
	c->overflowed = true;
	c->closing = true;
	c->out_sent = c->out.len;
	if (c->rev != NULL)
		event_del(c->rev);
	if (c->wev != NULL) {
		c->flush_scheduled = true;
		event_active(c->wev, EV_WRITE, 0);
	}
}

void ag_conn_kill(ag_conn *c, const ag_conn *by)
{
	if (c->closing)
		return;
	if (c != by) {
		conn_cut(c);
		return;
	}
	c->closing = true;
	if (c->rev != NULL) /* NULL on a detached connection */
		event_del(c->rev);
}

msgpack_packer *ag_reply_begin(const ag_target *t)
{
	ag_conn *c = t->conn;

	ag_pack_response_head(&c->pk, t->msgid);
	schedule_flush(c);
	return &c->pk;
}

void ag_reply_nil(const ag_target *t)
{
	msgpack_pack_nil(ag_reply_begin(t));
}

void ag_reply_bool(const ag_target *t, bool v)
{
	msgpack_packer *pk = ag_reply_begin(t);
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

void ag_reply_int(const ag_target *t, int64_t v)
{
	msgpack_pack_int64(ag_reply_begin(t), v);
}

void ag_reply_uint(const ag_target *t, uint64_t v)
{
	msgpack_pack_uint64(ag_reply_begin(t), v);
}

void ag_reply_double(const ag_target *t, double v)
{
	msgpack_pack_double(ag_reply_begin(t), v);
}

void ag_pack_val(msgpack_packer *pk, const ag_val *v)
{
	/* Stored bytes are already one canonical MessagePack object. */
	pk->callback(pk->data, (const char *)ag_val_bytes(v), ag_val_len(v));
}

void ag_reply_val(const ag_target *t, const ag_val *v)
{
	ag_pack_val(ag_reply_begin(t), v);
}

void ag_reply_verror(ag_conn *c, uint32_t msgid, int rc, const char *fmt,
		     va_list ap)
{
	char msg[512];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	/* Messages quote what clients sent (a name, a key): they go out as
	 * valid UTF-8 whatever those bytes were, and never cut inside a
	 * character. */
	if (n < 0)
		n = 0;
	ag_utf8_fix(msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	ag_pack_error_response(&c->pk, msgid, rc, msg);
	if (c == c->srv->chg.conn && msgid == c->srv->chg.msgid)
		c->srv->chg_failed = true;
	schedule_flush(c);
}

int ag_reply_error(const ag_target *t, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ag_reply_verror(t->conn, t->msgid, rc, fmt, ap);
	va_end(ap);
	return rc;
}

void ag_reply_error_where(const ag_target *t, int rc, const char *msg,
			  const char *branch, uint32_t index)
{
	ag_conn *c = t->conn;
	msgpack_packer *pk = &c->pk;
	char text[768];
	int code = ag_error_wire_code(rc);
	size_t n = strlen(msg);

	if (code == 0) { /* a local code never travels: say LIMIT */
		rc = AGORA_ELIMIT;
		code = -rc;
	}
	if (n >= sizeof(text))
		n = sizeof(text) - 1;
	memcpy(text, msg, n);
	text[n] = '\0';
	n = ag_utf8_fix(text, n);
	text[n] = '\0';
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint8(pk, AG_MSG_RESPONSE);
	msgpack_pack_uint32(pk, t->msgid);
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint8(pk, (uint8_t)code);
	ag_pack_str(pk, ag_error_name(rc));
	ag_pack_str(pk, text);
	msgpack_pack_map(pk, 2);
	ag_pack_str(pk, "branch");
	ag_pack_str(pk, branch);
	ag_pack_str(pk, "call");
	msgpack_pack_uint32(pk, index);
	msgpack_pack_nil(pk);
	schedule_flush(c);
}

/* ---- notifications ---------------------------------------------------------
 */

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	ag_conn *c = arg;

	(void)fd;
	(void)what;
	ag_server_logf(c->srv, AGORA_LOG_WARNING,
		       "connection %llu from %s: its backlog was not read "
		       "within %d s of being cut; closing it",
		       (unsigned long long)c->id, c->peer, AG_DRAIN_SECONDS);
	conn_cut(c);
}

/* @c stopped reading its notifications: queue the cut event after what it
 * has not read, stop serving its requests and sending it anything else,
 * and end it once the backlog is sent, or after AG_DRAIN_SECONDS. What it
 * holds stays bounded by max_output and one notification. */
static void conn_drain(ag_conn *c)
{
	size_t unsent = ag_conn_unsent(c);
	struct timeval tv = { AG_DRAIN_SECONDS, 0 };

	ag_conn_end_why(c, "limit: --max-output (notifications unread)");
	ag_server_logf(c->srv, AGORA_LOG_WARNING,
		       "connection %llu from %s: more than %zu bytes of "
		       "notifications unread; cutting it off",
		       (unsigned long long)c->id, c->peer, c->srv->max_output);
	c->draining = true;
	msgpack_pack_array(&c->pk, 3);
	msgpack_pack_uint8(&c->pk, AG_MSG_NOTIFY);
	ag_pack_str(&c->pk, "cut");
	msgpack_pack_array(&c->pk, 1);
	msgpack_pack_map(&c->pk, 2);
	ag_pack_str(&c->pk, "reason");
	ag_pack_str(&c->pk, "--max-output");
	ag_pack_str(&c->pk, "unsent");
	msgpack_pack_uint64(&c->pk, unsent);
	if (c->fd >= 0)
		c->drain_timer = evtimer_new(c->srv->base, on_drain_timeout, c);
	if (c->drain_timer != NULL)
		event_add(c->drain_timer, &tv);
	if (!c->flush_scheduled && !c->reading) {
		c->flush_scheduled = true;
		event_active(c->wev, EV_WRITE, 0);
	}
}

bool ag_conn_notifiable(const ag_conn *c)
{
	return !c->closing && !c->draining && !c->overflowed && !c->out.oom &&
	       c->state == AG_CONN_READY;
}

msgpack_packer *ag_notify_begin(ag_conn *c, const char *method)
{
	if (!ag_conn_notifiable(c))
		return NULL;
	if (ag_conn_unsent(c) > c->srv->max_output) {
		conn_drain(c);
		return NULL;
	}
	msgpack_pack_array(&c->pk, 3);
	msgpack_pack_uint8(&c->pk, AG_MSG_NOTIFY);
	ag_pack_str(&c->pk, method);
	if (!c->flush_scheduled && !c->reading) {
		c->flush_scheduled = true;
		event_active(c->wev, EV_WRITE, 0);
	}
	return &c->pk;
}
