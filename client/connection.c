/*
 * connection.c - agora_client, the object: its states, its error message,
 * its life (new, free), and the bytes it sends and receives.
 *
 * A client is in one of four states (enum ag_client_state, internal.h).
 * NONE: never connected, or the last connect failed. HANDSHAKE: only the
 * handshake's own calls may run (handshake.c). READY. BROKEN: the
 * transport failed or the server broke the protocol; every call fails at
 * once with AGORA_EIO, and only agora_client_free() (or a new connect)
 * helps. Independently, a client remembers the process that connected it:
 * in any other process (a fork() child) it refuses every call and sends
 * nothing, so a child can never interleave bytes with its parent's
 * requests on the shared socket.
 *
 * The socket work itself is transport.c's; this file turns its failures
 * into a broken client with a sentence saying why. The call on top is
 * call.c's, the connect and handshake handshake.c's.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/* How much room to ask the reader for before each read(2). */
#define READ_CHUNK ((size_t)64 << 10)

/* ---- errors -------------------------------------------------------------- */

int ag_client_fail(agora_client *c, int rc, const char *fmt, ...)
{
	va_list ap;

	if (c == NULL)
		return rc;
	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	return ag_client_note(c, rc);
}

int ag_client_break(agora_client *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->lost, sizeof(c->lost), fmt, ap);
	va_end(ap);
	if (c->state == AG_CLIENT_READY || c->state == AG_CLIENT_HANDSHAKE)
		c->state = AG_CLIENT_BROKEN;
	ag_client_disconnect(c);
	snprintf(c->errmsg, sizeof(c->errmsg), "lost the connection to %s: %s",
		 c->address, c->lost);
	return ag_client_note(c, rc);
}

int ag_client_lost(agora_client *c, int rc, const char *why)
{
	return ag_client_break(c, rc, "%s", why);
}

/* ---- sticky mode --------------------------------------------------------
 *
 * agora_client_set_sticky() (include/agora.h has the contract): the first
 * failure latches in first_rc/first_msg; ag_client_call() (call.c), the
 * opens (proxy.c) and agora_pipeline_call() return it at once after that.
 * Every failure is noted where its sentence is written: ag_client_fail(),
 * ag_client_break(), and for the server's errors ag_client_call() and
 * agora_pipeline_result(). Code that tries something whose failure is not
 * the program's (a probe, a retry) holds the latch with c->sticky_hold and
 * notes its own result once.
 */

/* The outcomes a program branches on, which never latch: a queue's "not
 * now" (a get or put that timed out, the nowait ones), a lookup's miss,
 * and the answer to an exclusive open. */
static bool is_outcome(int rc)
{
	return rc == AGORA_EEMPTY || rc == AGORA_EFULL || rc == AGORA_EKEY ||
	       rc == AGORA_EEXISTS;
}

int ag_client_note(agora_client *c, int rc)
{
	if (c == NULL || !c->sticky || rc >= 0)
		return rc;
	if (c->first_rc < 0)
		return c->first_rc;
	if (c->sticky_hold > 0 || is_outcome(rc))
		return rc;
	c->first_rc = rc;
	snprintf(c->first_msg, sizeof(c->first_msg), "%s",
		 c->errmsg[0] != '\0' ? c->errmsg : agora_strerror(rc));
	return rc;
}

int agora_client_set_sticky(agora_client *c, bool on)
{
	if (c == NULL)
		return AGORA_EINVAL;
	c->sticky = on;
	if (!on)
		agora_client_clear_error(c);
	return 0;
}

int agora_client_error(const agora_client *c)
{
	return c != NULL ? c->first_rc : AGORA_EINVAL;
}

int agora_client_clear_error(agora_client *c)
{
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	rc = c->first_rc;
	c->first_rc = 0;
	c->first_msg[0] = '\0';
	return rc;
}

/* "queue empty" for AGORA_EEMPTY; "success" for 0. Never NULL. */
const char *agora_strerror(int rc)
{
	if (rc == 0)
		return "success";
	return ag_error_text(rc);
}

/* "EMPTY" for AGORA_EEMPTY; "OK" for 0; "UNKNOWN" else. Never NULL. */
const char *agora_errname(int rc)
{
	if (rc == 0)
		return "OK";
	return ag_error_name(rc);
}

/* The message of the last failed call on @c, or of the error latched in
 * sticky mode; "" when none (or @c is NULL). Valid until the next call on
 * @c (the latched one until it is cleared). */
const char *agora_errmsg(const agora_client *c)
{
	if (c == NULL)
		return "";
	return c->first_rc < 0 ? c->first_msg : c->errmsg;
}

/* The server's "agora/X.Y.Z"; "" before a connect succeeded. */
const char *agora_server_version(const agora_client *c)
{
	return c != NULL ? c->server : "";
}

/* The run id of the server's start, from the handshake; "" before a
 * connect succeeded, or from a server older than the run id. */
const char *agora_server_run_id(const agora_client *c)
{
	return c != NULL ? c->run : "";
}

/* ---- state --------------------------------------------------------------- */

bool ag_client_same_process(const agora_client *c)
{
	return c->mark != NULL ? *c->mark != 0 : c->pid == getpid();
}

int ag_client_usable(agora_client *c)
{
	if (c == NULL)
		return AGORA_EINVAL;
	if (c->state == AG_CLIENT_NONE)
		return ag_client_fail(c, AGORA_EINVAL,
				      "this client is not connected");
	if (!ag_client_same_process(c))
		return ag_client_fail(c, AGORA_EINVAL,
				      "this client belongs to process %ld; "
				      "connect a new one after fork()",
				      (long)c->pid);
	if (c->state == AG_CLIENT_BROKEN)
		return ag_client_fail(c, AGORA_EIO,
				      "lost the connection to %s earlier (%s); "
				      "connect a new client",
				      c->address, c->lost);
	if (c->state == AG_CLIENT_HANDSHAKE)
		return ag_client_fail(c, AGORA_EINVAL,
				      "this client is still connecting");
	return 0;
}

void ag_client_check_peer(agora_client *c)
{
	struct pollfd pfd;

	if (c->state != AG_CLIENT_READY || c->fd < 0 ||
	    !ag_client_same_process(c))
		return;
	pfd = (struct pollfd){ .fd = c->fd, .events = POLLIN | POLLRDHUP };
	if (poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0)
		ag_client_break(c, AGORA_EIO,
				"the server closed the connection");
}

/* Every sent call not answered yet is done with AGORA_ELOST; those nobody
 * takes are forgotten. */
static void sent_lost(agora_client *c)
{
	for (size_t i = 0; i < c->sent_cap; i++) {
		struct ag_sent *s = c->sent[i], *next;

		for (; s != NULL; s = next) {
			next = s->next;
			if (s->done)
				continue;
			if (s->discard) {
				ag_client_sent_remove(c, s);
				continue;
			}
			s->done = true;
			s->rc = AGORA_ELOST;
			s->errmsg = strdup(
			    "the connection was lost before the answer came: "
			    "the call may or may not have been done");
		}
	}
}

void ag_client_disconnect(agora_client *c)
{
	/* close_notify only from a healthy client of this process: a fork()
	 * child never writes to its parent's TLS connection (its SSL is a
	 * copy whose sequence numbers the parent's go past), and a broken
	 * connection is past saying goodbye. */
	ag_transport_tls_free(c->ssl, c->state == AG_CLIENT_READY &&
					  ag_client_same_process(c));
	c->ssl = NULL;
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
		ag_reader_deinit(&c->reader);
	}
	ag_buf_deinit(&c->out);
	ag_buf_init(&c->out);
	ag_buf_deinit(&c->pend);
	ag_buf_init(&c->pend);
	c->pend_off = 0;
	sent_lost(c);
}

/* ---- life ---------------------------------------------------------------- */

agora_client *agora_client_new(void)
{
	agora_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = -1;
	c->state = AG_CLIENT_NONE;
	c->peer_set = NAN;
	c->connect_set = NAN;
	c->wait = NAN;
	ag_buf_init(&c->out);
	c->kept_tail = &c->kept;
	c->notes_tail = &c->notes;
	c->notes_max = AGORA_NOTIFICATION_LIMIT;
	ag_buf_init(&c->pend);
	long page = sysconf(_SC_PAGESIZE);
	void *m = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED && madvise(m, (size_t)page, MADV_WIPEONFORK) == 0)
		c->mark = m;
	else if (m != MAP_FAILED)
		munmap(m, (size_t)page);
	return c;
}

/*
 * Close the connection and free @c. Sends nothing (over TLS, only the
 * close_notify alert): closing the socket is how a connection ends, and
 * the server then releases its handles. In a process other than the one
 * that connected, only this process's copy of the socket is closed, so the
 * parent's connection lives on. Accepts NULL.
 */
void agora_client_free(agora_client *c)
{
	if (c == NULL)
		return;
	ag_client_disconnect(c);
	ag_buf_deinit(&c->out);
	if (c->key != NULL) {
		explicit_bzero(c->key, c->keylen);
		free(c->key);
	}
	while (c->kept != NULL) {
		struct ag_kept *k = c->kept;
		c->kept = k->next;
		agora_value_free(&k->v);
		free(k);
	}
	while (c->notes != NULL) {
		struct ag_note *n = c->notes;
		c->notes = n->next;
		agora_notification_free(&n->n);
	}
	for (size_t i = 0; i < c->sent_cap; i++)
		while (c->sent[i] != NULL)
			ag_client_sent_remove(c, c->sent[i]);
	free(c->sent);
	ag_buf_deinit(&c->pend);
	free(c->address);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->user);
	if (c->mark != NULL)
		munmap((void *)c->mark, (size_t)sysconf(_SC_PAGESIZE));
	free(c);
}

/* ---- items kept from typed calls ----------------------------------------- */

int ag_client_keep(agora_client *c, agora_value v)
{
	struct ag_kept *k = malloc(sizeof(*k));

	if (k == NULL) {
		agora_value_free(&v);
		return AGORA_ENOMEM;
	}
	k->next = NULL;
	k->v = v;
	*c->kept_tail = k;
	c->kept_tail = &k->next;
	return 0;
}

int agora_client_take_item(agora_client *c, agora_value *ret)
{
	struct ag_kept *k;

	if (c == NULL || ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL,
				      "agora_client_take_item needs a result");
	k = c->kept;
	if (k == NULL)
		return ag_client_fail(c, AGORA_EEMPTY,
				      "no item is kept: no typed call removed "
				      "an item of another type");
	c->kept = k->next;
	if (c->kept == NULL)
		c->kept_tail = &c->kept;
	*ret = k->v;
	free(k);
	return 0;
}

/* ---- notifications ------------------------------------------------------- */

/* Drop the oldest queued notification, counting it. */
static void note_drop_oldest(agora_client *c)
{
	struct ag_note *n = c->notes;

	c->notes = n->next;
	if (c->notes == NULL)
		c->notes_tail = &c->notes;
	c->nnotes--;
	c->notes_dropped++;
	agora_notification_free(&n->n);
}

int ag_client_queue_note(agora_client *c, const msgpack_object *method,
			 const msgpack_object *params)
{
	size_t len = method->via.str.size;
	struct ag_note *n = malloc(sizeof(*n) + len + 1);

	if (n == NULL)
		return AGORA_ENOMEM;
	memcpy(n->method, method->via.str.ptr, len);
	n->method[len] = '\0';
	n->n.method = n->method;
	n->n.params = agora_nil();
	n->next = NULL;
	if (params != NULL && ag_value_unpack(params, &n->n.params) < 0) {
		free(n);
		return AGORA_ENOMEM;
	}
	while (c->nnotes >= c->notes_max)
		note_drop_oldest(c);
	*c->notes_tail = n;
	c->notes_tail = &n->next;
	c->nnotes++;
	return 0;
}

void agora_notification_free(agora_notification *n)
{
	if (n == NULL)
		return;
	agora_value_free(&n->params);
	free((struct ag_note *)n); /* n is the node's first member */
}

size_t agora_notification_count(const agora_client *c)
{
	return c != NULL ? c->nnotes : 0;
}

uint64_t agora_notification_dropped(const agora_client *c)
{
	return c != NULL ? c->notes_dropped : 0;
}

int agora_notification_set_limit(agora_client *c, size_t max)
{
	if (c == NULL)
		return AGORA_EINVAL;
	if (max == 0)
		return ag_client_fail(c, AGORA_EINVAL,
				      "notification limit 0: want at least 1");
	c->notes_max = max;
	while (c->nnotes > c->notes_max)
		note_drop_oldest(c);
	return 0;
}

/* ---- sent calls ---------------------------------------------------------- */

struct ag_sent *ag_client_sent_find(const agora_client *c, uint32_t msgid)
{
	struct ag_sent *s;

	if (c->nsent == 0)
		return NULL;
	for (s = c->sent[msgid & (c->sent_cap - 1)]; s != NULL; s = s->next)
		if (s->msgid == msgid)
			return s;
	return NULL;
}

/* Twice the buckets (at least 16): 0 or AGORA_ENOMEM (table kept). */
static int sent_grow(agora_client *c)
{
	size_t cap = c->sent_cap > 0 ? c->sent_cap * 2 : 16;
	struct ag_sent **t = calloc(cap, sizeof(*t));

	if (t == NULL)
		return AGORA_ENOMEM;
	for (size_t i = 0; i < c->sent_cap; i++) {
		struct ag_sent *s = c->sent[i], *next;

		for (; s != NULL; s = next) {
			next = s->next;
			s->next = t[s->msgid & (cap - 1)];
			t[s->msgid & (cap - 1)] = s;
		}
	}
	free(c->sent);
	c->sent = t;
	c->sent_cap = cap;
	return 0;
}

struct ag_sent *ag_client_sent_add(agora_client *c, uint32_t msgid)
{
	struct ag_sent *s;

	if (c->nsent >= c->sent_cap && sent_grow(c) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->msgid = msgid;
	s->next = c->sent[msgid & (c->sent_cap - 1)];
	c->sent[msgid & (c->sent_cap - 1)] = s;
	c->nsent++;
	return s;
}

void ag_client_sent_remove(agora_client *c, struct ag_sent *s)
{
	struct ag_sent **pp = &c->sent[s->msgid & (c->sent_cap - 1)];

	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	c->nsent--;
	agora_value_free(&s->val);
	free(s->errmsg);
	free(s);
}

/* ---- timeouts ------------------------------------------------------------ */

/* Seconds for a setter: > 0 as given, 0 or negative (AGORA_FOREVER) for no
 * limit; AGORA_EINVAL for NaN or more than a day. */
static int set_timeout(agora_client *c, const char *what, double seconds,
		       double *ret)
{
	if (isnan(seconds) || seconds > AG_MAX_PEER_TIMEOUT)
		return ag_client_fail(c, AGORA_EINVAL,
				      "%s %g: want seconds up to %g (0 or "
				      "AGORA_FOREVER: no limit)",
				      what, seconds, AG_MAX_PEER_TIMEOUT);
	*ret = seconds > 0 ? seconds : 0;
	return 0;
}

int agora_client_set_peer_timeout(agora_client *c, double seconds)
{
	if (c == NULL)
		return AGORA_EINVAL;
	return set_timeout(c, "peer timeout", seconds, &c->peer_set);
}

int agora_client_set_connect_timeout(agora_client *c, double seconds)
{
	if (c == NULL)
		return AGORA_EINVAL;
	return set_timeout(c, "connect timeout", seconds, &c->connect_set);
}

/* ---- TLS ----------------------------------------------------------------- */

/* *@slot = a copy of @s (NULL stays NULL): 0 or AGORA_ENOMEM (*@slot kept). */
static int set_str(char **slot, const char *s)
{
	char *copy = NULL;

	if (s != NULL && (copy = strdup(s)) == NULL)
		return AGORA_ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

int agora_client_set_tls(agora_client *c, const char *ca, const char *cert,
			 const char *key)
{
	char *old[3];

	if (c == NULL)
		return AGORA_EINVAL;
	if ((ca != NULL && ca[0] == '\0') ||
	    (cert != NULL && cert[0] == '\0') ||
	    (key != NULL && key[0] == '\0'))
		return ag_client_fail(c, AGORA_EINVAL,
				      "agora_client_set_tls: an empty file "
				      "name (NULL leaves it to the "
				      "environment)");
	old[0] = c->tls_ca;
	old[1] = c->tls_cert;
	old[2] = c->tls_key;
	c->tls_ca = c->tls_cert = c->tls_key = NULL;
	if (set_str(&c->tls_ca, ca) < 0 || set_str(&c->tls_cert, cert) < 0 ||
	    set_str(&c->tls_key, key) < 0) {
		free(c->tls_ca);
		free(c->tls_cert);
		c->tls_ca = old[0];
		c->tls_cert = old[1];
		c->tls_key = old[2];
		return ag_client_fail(c, AGORA_ENOMEM, "out of memory");
	}
	for (int i = 0; i < 3; i++)
		free(old[i]);
	return 0;
}

/* ---- bytes --------------------------------------------------------------- */

/*
 * Break @c for the errno @e of a send or a receive. ETIMEDOUT is either the
 * call's deadline (it passed) or the kernel giving up on a TCP server that
 * stopped answering for the peer timeout: AGORA_ETIMEDOUT, so a caller can
 * tell an unreachable server from one that hung up.
 */
static int io_failed(agora_client *c, const char *op, int e)
{
	if (e == ETIMEDOUT && c->deadline_ms > 0 &&
	    ag_transport_now_ms() >= c->deadline_ms) {
		if (c->state == AG_CLIENT_HANDSHAKE)
			return ag_client_break(
			    c, AGORA_ETIMEDOUT,
			    "no handshake within the connect timeout (%gs)",
			    c->connect_timeout);
		return ag_client_break(c, AGORA_ETIMEDOUT,
				       "no answer within the call's timeout "
				       "plus the peer timeout (%gs)",
				       c->peer_timeout);
	}
	if (e == ETIMEDOUT)
		return ag_client_break(c, AGORA_ETIMEDOUT,
				       "%s: the server stopped answering (no "
				       "acknowledgement for the peer timeout, "
				       "%gs)",
				       op, c->peer_timeout);
	if (e == EPROTO && c->ssl != NULL) {
		char why[200];

		ag_transport_tls_error(why, sizeof(why));
		return ag_client_break(c, AGORA_EIO, "%s: TLS: %s", op, why);
	}
	return ag_client_break(c, AGORA_EIO, "%s: %s", op, strerror(e));
}

/* The requests agora_call_send() left unsent are done with: empty c->pend
 * (giving back a buffer that grew large). */
static void pend_done(agora_client *c)
{
	c->pend.len = 0;
	c->pend_off = 0;
	if (c->pend.cap > ((size_t)1 << 20)) {
		ag_buf_deinit(&c->pend);
		ag_buf_init(&c->pend);
	}
}

int ag_client_send(agora_client *c, const void *data, size_t len)
{
	int rc;

	/* Requests sent without blocking go first, whole: bytes of two
	 * requests never interleave. */
	if (c->pend_off < c->pend.len) {
		rc = ag_transport_send(
		    c->fd, c->ssl, c->pend.data + c->pend_off,
		    c->pend.len - c->pend_off, c->deadline_ms);
		if (rc < 0)
			return io_failed(c, "send", -rc);
		pend_done(c);
	}
	rc = ag_transport_send(c->fd, c->ssl, data, len, c->deadline_ms);
	if (rc < 0)
		return io_failed(c, "send", -rc);
	return 0;
}

int ag_client_send_pending(agora_client *c)
{
	size_t k = 0;
	int rc;

	if (c->pend_off >= c->pend.len)
		return 0;
	rc = ag_transport_send_nowait(c->fd, c->ssl, c->pend.data + c->pend_off,
				      c->pend.len - c->pend_off, &k);
	if (rc < 0)
		return io_failed(c, "send", -rc);
	c->pend_off += k;
	if (c->pend_off == c->pend.len)
		pend_done(c);
	return 0;
}

bool ag_client_has_buffered(const agora_client *c)
{
	return ag_transport_pending(c->ssl);
}

/* Read what the socket holds into the reader: waiting for it (up to the
 * call's deadline) with @wait, else only what is there now. 1 when bytes
 * were read, 0 when none were there (without @wait), or the error that
 * broke @c. */
static int client_recv(agora_client *c, bool wait)
{
	size_t avail;
	char *p = ag_reader_space(&c->reader, READ_CHUNK, &avail);
	ssize_t k;

	if (p == NULL)
		return ag_client_break(c, AGORA_ENOMEM,
				       "out of memory reading an answer");
	k = wait ? ag_transport_recv(c->fd, c->ssl, p, avail, c->deadline_ms)
		 : ag_transport_recv_nowait(c->fd, c->ssl, p, avail);
	if (k == -EAGAIN && !wait)
		return 0;
	if (k < 0)
		return io_failed(c, "read", (int)-k);
	if (k == 0)
		return ag_client_break(c, AGORA_EIO,
				       "the server closed the connection");
	ag_reader_commit(&c->reader, (size_t)k);
	return 1;
}

int ag_client_recv(agora_client *c)
{
	int rc = client_recv(c, true);

	return rc < 0 ? rc : 0;
}

int ag_client_recv_nowait(agora_client *c)
{
	return client_recv(c, false);
}
