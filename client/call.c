/*
 * call.c - one call: pack a request into c->out, send it, feed the socket
 * into c->reader until the response with the same msgid arrives, and hand
 * back its result or turn its error array into a code and a message.
 *
 * ag_client_call() is the round trip everything else is built on: the
 * generic calls (calls.c), the proxies (proxy.c) and the handshake
 * (handshake.c, through ag_client_rpc(), which runs before the client is
 * READY). ag_client_call_as() adds the typed results most methods want.
 * pipeline.c uses the pieces apart: ag_client_pack(), ag_client_send(),
 * ag_client_read_any() and ag_client_response_error(). In sticky mode
 * (connection.c) ag_client_call() does nothing once an error is latched,
 * and notes what it returns.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A request buffer that grew past this is given back after the call. */
#define OUT_KEEP_MAX ((size_t)1 << 20)

/* ---- requests ------------------------------------------------------------ */

int ag_client_pack(agora_client *c, ag_buf *out, const char *method,
		   const agora_value *params, size_t nparams,
		   uint32_t *ret_msgid)
{
	uint32_t msgid = c->msgid + 1;
	size_t mark = out->len;
	msgpack_packer pk;
	int rc;

	/* After 2^32 calls, never reuse the msgid of a sent call whose
	 * result was not taken. */
	while (ag_client_sent_find(c, msgid) != NULL)
		msgid++;

	msgpack_packer_init(&pk, out, ag_buf_write);
	ag_pack_request_head(&pk, msgid, method);
	msgpack_pack_array(&pk, nparams);
	for (size_t i = 0; i < nparams; i++) {
		rc = ag_value_pack(&pk, &params[i], 3);
		if (rc < 0) {
			out->len = mark;
			return ag_client_fail(
			    c, rc,
			    "%s: param %zu cannot be sent (unknown type, NULL "
			    "data, a length above 2^32-1, or arrays and maps "
			    "nested more than %d deep in the request)",
			    method, i, AG_MAX_DEPTH);
		}
	}
	if (out->oom) {
		out->len = mark;
		out->oom = false;
		return ag_client_fail(c, AGORA_ENOMEM,
				      "out of memory packing %s", method);
	}
	c->msgid = msgid;
	*ret_msgid = msgid;
	return 0;
}

/* ---- responses ----------------------------------------------------------- */

/* What take_message() did with a message. */
enum taken {
	TAKEN_NONE,     /* no whole message is in the reader */
	TAKEN_KEPT,     /* a notification queued, or a sent call's answer */
	TAKEN_RESPONSE, /* a response for the caller: *ret_* are set */
};

/* Store the answer (@err or @result) in the sent call @s. 0, or
 * AGORA_ENOMEM (which breaks @c: the answer is lost). */
static int sent_answered(agora_client *c, struct ag_sent *s,
			 const msgpack_object *err,
			 const msgpack_object *result)
{
	if (s->discard) {
		ag_client_sent_remove(c, s);
		return 0;
	}
	if (err != NULL) {
		char keep[sizeof(c->errmsg)];

		/* The answer is the sent call's: the caller's message stays. */
		memcpy(keep, c->errmsg, sizeof(keep));
		s->rc = ag_client_response_error(c, err);
		s->errmsg = strdup(c->errmsg);
		if (c->state != AG_CLIENT_BROKEN)
			memcpy(c->errmsg, keep, sizeof(keep));
	} else if (ag_value_unpack(result, &s->val) < 0) {
		return ag_client_break(c, AGORA_ENOMEM,
				       "out of memory decoding an answer");
	}
	s->done = true;
	return 0;
}

/*
 * Take the next whole message out of c->reader: a notification is queued,
 * an answer to a sent call stored, any other response handed back through
 * the ret_ pointers. Returns an enum taken, or the error that broke @c.
 */
static int take_message(agora_client *c, uint32_t *ret_msgid,
			const msgpack_object **ret_error,
			const msgpack_object **ret_result)
{
	const msgpack_object *err, *result;
	struct ag_sent *s;
	msgpack_object m;
	uint32_t msgid;
	int rc;

	rc = ag_reader_next(&c->reader, &m);
	if (rc == 0)
		return TAKEN_NONE;
	if (rc == AGORA_ENOMEM)
		return ag_client_break(c, rc,
				       "out of memory decoding an answer");
	if (rc < 0)
		return ag_client_break(c, AGORA_EPROTOCOL,
				       "the server sent bad data: %s",
				       c->reader.errmsg);
	/* [2, method, params]: kept for agora_notification_next(). */
	if (m.type == MSGPACK_OBJECT_ARRAY && m.via.array.size == 3 &&
	    m.via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    m.via.array.ptr[0].via.u64 == AG_MSG_NOTIFY) {
		const msgpack_object *method = &m.via.array.ptr[1];
		const msgpack_object *params = &m.via.array.ptr[2];

		if (method->type != MSGPACK_OBJECT_STR)
			return ag_client_break(c, AGORA_EPROTOCOL,
					       "the server sent a notification "
					       "whose method is not a str");
		params = params->type == MSGPACK_OBJECT_ARRAY &&
				 params->via.array.size > 0
			     ? &params->via.array.ptr[0]
			     : NULL;
		if (ag_client_queue_note(c, method, params) < 0)
			return ag_client_break(
			    c, AGORA_ENOMEM,
			    "out of memory keeping a notification");
		return TAKEN_KEPT;
	}
	if (ag_parse_response(&m, &msgid, &err, &result) < 0)
		return ag_client_break(c, AGORA_EPROTOCOL,
				       "the server sent a message that "
				       "is not a response");
	s = ag_client_sent_find(c, msgid);
	if (s != NULL && !s->done) {
		rc = sent_answered(c, s, err, result);
		return rc < 0 ? rc : TAKEN_KEPT;
	}
	*ret_msgid = msgid;
	*ret_error = err;
	*ret_result = result;
	return TAKEN_RESPONSE;
}

int ag_client_read_any(agora_client *c, uint32_t *ret_msgid,
		       const msgpack_object **ret_error,
		       const msgpack_object **ret_result)
{
	int rc;

	for (;;) {
		rc = take_message(c, ret_msgid, ret_error, ret_result);
		if (rc < 0)
			return rc;
		if (rc == TAKEN_RESPONSE)
			return 0;
		if (rc == TAKEN_NONE) {
			rc = ag_client_recv(c);
			if (rc < 0)
				return rc;
		}
	}
}

int ag_client_drain(agora_client *c)
{
	const msgpack_object *err, *result;
	uint32_t msgid;
	int n = 0, rc;

	for (;;) {
		rc = take_message(c, &msgid, &err, &result);
		if (rc < 0)
			return rc;
		if (rc == TAKEN_RESPONSE)
			return ag_client_break(c, AGORA_EPROTOCOL,
					       "the server answered request "
					       "%" PRIu32 ", which nobody "
					       "waits for",
					       msgid);
		if (rc == TAKEN_KEPT) {
			if (n < INT32_MAX)
				n++;
			continue;
		}
		rc = ag_client_recv_nowait(c);
		if (rc <= 0)
			return rc < 0 ? rc : n;
	}
}

/*
 * Read until the response to @msgid. On 0, *ret_error is the error array or
 * NULL, and *ret_result the result; both point into the reader.
 */
static int read_response(agora_client *c, uint32_t msgid,
			 const msgpack_object **ret_error,
			 const msgpack_object **ret_result)
{
	uint32_t got;
	int rc = ag_client_read_any(c, &got, ret_error, ret_result);

	if (rc < 0)
		return rc;
	if (got != msgid)
		return ag_client_break(c, AGORA_EPROTOCOL,
				       "the server answered request %" PRIu32
				       " while this client waited for %" PRIu32,
				       got, msgid);
	return 0;
}

/* The wire code in an error array, or 0 when it has none. */
static int64_t error_wire_code(const msgpack_object *err)
{
	const msgpack_object *code;

	if (err->type != MSGPACK_OBJECT_ARRAY || err->via.array.size < 1)
		return 0;
	code = &err->via.array.ptr[0];
	if (code->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    code->via.u64 > INT64_MAX)
		return 0;
	return (int64_t)code->via.u64;
}

int ag_client_response_error(agora_client *c, const msgpack_object *err)
{
	int64_t code = error_wire_code(err);
	int rc = ag_parse_error(err, c->errmsg, sizeof(c->errmsg));

	if (rc >= 0)
		rc = AGORA_EPROTOCOL;
	/* The server closes the connection after a PROTOCOL error: nothing
	 * more can travel on it. */
	if (code == -AGORA_EPROTOCOL) {
		char msg[sizeof(c->errmsg)];

		memcpy(msg, c->errmsg, sizeof(msg));
		ag_client_break(c, rc,
				"the server refused a request as malformed: %s",
				msg);
	}
	return rc;
}

/* ---- the round trip ------------------------------------------------------ */

/* ag_client_rpc(); *ret_sent says whether the whole request reached the
 * kernel (before that, the server cannot have read it whole). */
static int rpc(agora_client *c, const char *method, const agora_value *params,
	       size_t nparams, const msgpack_object **ret_result,
	       bool *ret_sent)
{
	const msgpack_object *err = NULL, *result = NULL;
	uint32_t msgid;
	int rc;

	*ret_sent = false;
	c->errmsg[0] = '\0';
	c->out.len = 0;
	c->out.oom = false;
	rc = ag_client_pack(c, &c->out, method, params, nparams, &msgid);
	if (rc == 0)
		rc = ag_client_send(c, c->out.data, c->out.len);
	if (c->out.cap > OUT_KEEP_MAX) {
		ag_buf_deinit(&c->out);
		ag_buf_init(&c->out);
	}
	if (rc < 0)
		return rc;
	*ret_sent = true;
	rc = read_response(c, msgid, &err, &result);
	if (rc < 0)
		return rc;
	if (err != NULL)
		return ag_client_response_error(c, err);
	*ret_result = result;
	return 0;
}

int ag_client_rpc(agora_client *c, const char *method,
		  const agora_value *params, size_t nparams,
		  const msgpack_object **ret_result)
{
	bool sent;

	return rpc(c, method, params, nparams, ret_result, &sent);
}

/*
 * When a call that lets the server wait @wait seconds (INFINITY: forever)
 * gives up: the wait plus the peer timeout from now, in the monotonic ms
 * of transport.c, or 0 for never (no peer timeout, or a wait without end,
 * which only the kernel's watch on the connection bounds).
 */
static int64_t call_deadline(const agora_client *c, double wait)
{
	double s;

	if (c->peer_timeout <= 0 || !(wait < AG_MAX_PEER_TIMEOUT * 1e3))
		return 0;
	s = (wait > 0 ? wait : 0) + c->peer_timeout;
	return ag_transport_now_ms() + (int64_t)(s * 1000) + 1;
}

/*
 * With a reconnect set, after the call @method failed with @rc: reconnect
 * (c->recover) when the connection is gone, and say what the caller gets.
 * Returns 1 when the call must be made again (it was not done: its request
 * never reached the server whole, or the server withdrew it, answering a
 * parked call SHUTDOWN as it stopped); AGORA_ELOST when it may have been
 * done (its answer was lost: never made again); @rc when the failure was
 * the call's own; the reconnect's error when that failed.
 */
static int after_failure(agora_client *c, const char *method, int rc, bool sent)
{
	bool withdrawn = rc == AGORA_ESHUTDOWN;
	int r;

	if (withdrawn)
		ag_client_break(c, AGORA_EIO,
				"the server stopped (it answered a waiting "
				"%s SHUTDOWN)",
				method);
	else if (c->state != AG_CLIENT_BROKEN)
		return rc;
	r = c->recover(c);
	if (r < 0)
		return r;
	if (!sent || withdrawn)
		return 1;
	return ag_client_fail(c, AGORA_ELOST,
			      "the connection to %s was lost before the "
			      "answer to %s came: it may or may not have been "
			      "done (the client has reconnected; the call "
			      "was not made again)",
			      c->address, method);
}

/*
 * ag_client_call() after its checks: the round trip, and with a reconnect
 * set, what after_failure() says: the call made again on the new
 * connection (with its proxy's new handle) when it cannot have been done.
 */
static int call_once_or_again(agora_client *c, const struct ag_proxy *p,
			      const char *method, const agora_value *params,
			      size_t nparams, double wait,
			      const msgpack_object **ret_result)
{
	agora_value again[1 + AG_PROXY_MAX_ARGS];
	bool sent;
	int rc;

	if (c->recover != NULL && !c->recovering)
		ag_client_check_peer(c);
	rc = ag_client_usable(c);
	if (rc == AGORA_EIO && c->recover != NULL && !c->recovering) {
		rc = c->recover(c);
		if (rc == 0 && p != NULL && p->closing)
			return 0; /* its handle ended with the old connection */
	}
	for (;;) {
		if (rc < 0)
			return rc;
		if (p != NULL && p->lost != NULL)
			return ag_client_fail(c, AGORA_ENO_OBJECT, "%s: %s",
					      method, p->lost);
		/* After a reconnect the proxy's handle is a new one. */
		if (p != NULL && nparams > 0 &&
		    nparams <= 1 + AG_PROXY_MAX_ARGS &&
		    params[0].type == AGORA_UINT &&
		    params[0].via.u != p->handle) {
			memcpy(again, params, nparams * sizeof(*params));
			again[0] = agora_uint(p->handle);
			params = again;
		}
		c->deadline_ms = call_deadline(c, wait);
		rc = rpc(c, method, params, nparams, ret_result, &sent);
		c->deadline_ms = 0;
		if (rc >= 0 || c->recover == NULL || c->recovering)
			return rc;
		rc = after_failure(c, method, rc, sent);
		if (rc != 1)
			return rc;
		if (p != NULL && p->closing)
			return 0; /* its handle ended with the old connection */
		rc = 0;
	}
}

int ag_client_call(agora_client *c, const char *method,
		   const agora_value *params, size_t nparams,
		   const msgpack_object **ret_result)
{
	const struct ag_proxy *p;
	double wait;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	/* What the proxy said of this call's wait, and which proxy's handle
	 * params[0] is; from anyone else, a method of a type (agora_call(),
	 * by name) may wait for ever, and a server method does not wait. */
	wait = c->wait;
	c->wait = NAN;
	p = c->call_proxy;
	c->call_proxy = NULL;
	/* Sticky mode: after the first failure, nothing more is done. */
	if (ag_client_latched(c) < 0)
		return ag_client_latched(c);
	if (method == NULL || (nparams > 0 && params == NULL))
		return ag_client_fail(c, AGORA_EINVAL, "invalid argument");
	if (isnan(wait))
		wait = strchr(method, '.') != NULL ? INFINITY : 0;
	/* A failure on the way (a connection found gone, a reconnect's
	 * attempts) is not the call's: only its outcome latches. */
	c->sticky_hold++;
	rc =
	    call_once_or_again(c, p, method, params, nparams, wait, ret_result);
	c->sticky_hold--;
	return ag_client_note(c, rc);
}

/* ---- typed results ------------------------------------------------------- */

int ag_client_bad_result(agora_client *c, const char *method,
			 const msgpack_object *o, const char *want)
{
	return ag_client_fail(c, AGORA_EPROTOCOL,
			      "%s answered %s with %s where %s was due",
			      c->address, method, ag_obj_type_name(o), want);
}

int ag_client_call_as(agora_client *c, const char *method,
		      const agora_value *params, size_t nparams,
		      enum ag_result kind, void *ret)
{
	const msgpack_object *o;
	agora_value v;
	int rc;

	rc = ag_client_call(c, method, params, nparams, &o);
	if (rc < 0)
		return rc;
	switch (kind) {
	case AG_RESULT_VALUE:
		if (ret == NULL)
			return 0;
		rc = ag_value_unpack(o, &v);
		if (rc < 0)
			return ag_client_fail(
			    c, rc, "out of memory decoding the answer to %s",
			    method);
		*(agora_value *)ret = v;
		return 0;
	case AG_RESULT_BOOL:
		if (o->type != MSGPACK_OBJECT_BOOLEAN)
			return ag_client_bad_result(c, method, o, "a bool");
		if (ret != NULL)
			*(bool *)ret = o->via.boolean;
		return 0;
	case AG_RESULT_INT:
		if (o->type != MSGPACK_OBJECT_NEGATIVE_INTEGER &&
		    (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		     o->via.u64 > INT64_MAX))
			return ag_client_bad_result(c, method, o, "an int64");
		if (ret != NULL)
			*(int64_t *)ret = o->via.i64;
		return 0;
	case AG_RESULT_SIZE:
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    o->via.u64 > SIZE_MAX)
			return ag_client_bad_result(c, method, o, "a size");
		if (ret != NULL)
			*(size_t *)ret = (size_t)o->via.u64;
		return 0;
	}
	return ag_client_fail(c, AGORA_EINVAL, "bad result kind");
}
