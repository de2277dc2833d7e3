/*
 * push.c - what arrives without being asked for, and a client for event
 * loops: agora_notification_next() hands out the notifications call.c
 * queued (reading the socket when none is queued), and agora_call_send(),
 * agora_client_process(), agora_call_result() and agora_cancel() let a
 * program keep many calls in flight without blocking.
 *
 * A sent call is an entry in the client's table (connection.c) from the
 * moment it is packed until its result is taken. Its request goes to the
 * kernel at once as far as the kernel takes it without blocking; the rest
 * waits in c->pend for agora_client_process() (or for the next blocking
 * call, which sends it first: ag_client_send()). Whoever reads the socket
 * (agora_client_process(), a blocking call, a pipeline) stores a sent
 * call's answer in its entry (call.c), so answers are never lost or
 * mistaken for another call's, whatever mix of calls a program makes.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * Set @c's message and return @rc, for an outcome a program branches on
 * (no notification yet, no answer yet): unlike ag_client_fail() it never
 * latches in sticky mode.
 */
static int __attribute__((format(printf, 3, 4)))
outcome(agora_client *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- notifications ------------------------------------------------------- */

/* Pop the oldest queued notification into *ret: true, or false when none. */
static bool note_pop(agora_client *c, agora_notification **ret)
{
	struct ag_note *n = c->notes;

	if (n == NULL)
		return false;
	c->notes = n->next;
	if (c->notes == NULL)
		c->notes_tail = &c->notes;
	c->nnotes--;
	n->next = NULL;
	*ret = &n->n;
	return true;
}

/*
 * Wait until @c's socket is readable (or writable while requests wait to
 * go) or @deadline_ms (monotonic; -1: none) passed. 0 when ready (or
 * interrupted by a signal: the caller looks again), AGORA_ETIMEDOUT at
 * the deadline, or AGORA_EIO from poll(2) itself.
 */
static int wait_ready(agora_client *c, int64_t deadline_ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int ms = -1, n;

	if (c->pend_off < c->pend.len)
		pfd.events |= POLLOUT;
	if (deadline_ms >= 0) {
		int64_t left = deadline_ms - ag_transport_now_ms();

		if (left <= 0)
			return AGORA_ETIMEDOUT;
		ms = left > INT32_MAX ? INT32_MAX : (int)left;
	}
	n = poll(&pfd, 1, ms);
	if (n < 0 && errno != EINTR)
		return ag_client_fail(c, AGORA_EIO, "poll: %s",
				      strerror(errno));
	return 0;
}

int agora_notification_next(agora_client *c, double timeout,
			    agora_notification **ret)
{
	int64_t deadline_ms = -1;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL || isnan(timeout))
		return ag_client_fail(c, AGORA_EINVAL,
				      "agora_notification_next needs a result "
				      "and a timeout (seconds, 0 or "
				      "AGORA_FOREVER)");
	if (note_pop(c, ret))
		return 0;
	rc = ag_client_usable(c);
	if (rc < 0)
		return rc;
	if (timeout >= 0 && timeout < 1e9)
		deadline_ms = ag_transport_now_ms() + (int64_t)(timeout * 1000);
	for (;;) {
		rc = ag_client_send_pending(c);
		if (rc >= 0)
			rc = ag_client_drain(c);
		if (rc < 0)
			return note_pop(c, ret) ? 0 : rc;
		if (note_pop(c, ret))
			return 0;
		if (timeout == 0)
			break;
		rc = wait_ready(c, deadline_ms);
		if (rc == AGORA_ETIMEDOUT)
			break;
		if (rc < 0)
			return rc;
	}
	return outcome(c, AGORA_ETIMEDOUT, "no notification came within %gs",
		       timeout);
}

/* ---- the event-loop client ----------------------------------------------- */

int agora_client_fd(const agora_client *c)
{
	if (c == NULL || c->state == AG_CLIENT_NONE)
		return -1;
	return c->fd;
}

bool agora_client_want_write(const agora_client *c)
{
	return c != NULL && c->pend_off < c->pend.len;
}

int agora_client_process(agora_client *c)
{
	int rc = ag_client_usable(c);

	if (rc < 0)
		return rc;
	rc = ag_client_send_pending(c);
	if (rc < 0)
		return rc;
	return ag_client_drain(c);
}

/*
 * Pack [0, msgid, @method, @params] into c->pend, remember the call (as
 * discarded when @discard: nobody takes its result) and send what the
 * kernel takes now. 0 with *ret_msgid, or a negative code with nothing
 * sent.
 */
static int send_call(agora_client *c, const char *method,
		     const agora_value *params, size_t nparams, bool discard,
		     uint32_t *ret_msgid)
{
	size_t mark = c->pend.len;
	struct ag_sent *s;
	uint32_t msgid;
	int rc;

	rc = ag_client_pack(c, &c->pend, method, params, nparams, &msgid);
	if (rc < 0)
		return rc;
	s = ag_client_sent_add(c, msgid);
	if (s == NULL) {
		/* Nothing of it went yet: take it back. */
		c->pend.len = mark;
		return ag_client_fail(c, AGORA_ENOMEM,
				      "out of memory keeping a sent call");
	}
	s->discard = discard;
	rc = ag_client_send_pending(c);
	if (rc < 0)
		return rc;
	*ret_msgid = msgid;
	return 0;
}

int agora_call_send(agora_client *c, const char *method, agora_value params,
		    uint32_t *ret_msgid)
{
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (ag_client_latched(c) < 0)
		return ag_client_latched(c);
	if (method == NULL || ret_msgid == NULL || params.type != AGORA_ARRAY ||
	    (params.via.array.len > 0 && params.via.array.items == NULL))
		return ag_client_fail(c, AGORA_EINVAL,
				      "agora_call_send needs a method, an "
				      "array of params and a msgid result");
	rc = ag_client_usable(c);
	if (rc < 0)
		return ag_client_note(c, rc);
	return ag_client_note(c, send_call(c, method, params.via.array.items,
					   params.via.array.len, false,
					   ret_msgid));
}

/* The sent call @msgid whose result is still to take, in *ret; else
 * AGORA_EINVAL with a sentence naming @who. */
static int sent_live(agora_client *c, uint32_t msgid, const char *who,
		     struct ag_sent **ret)
{
	struct ag_sent *s = ag_client_sent_find(c, msgid);

	if (s == NULL || s->discard)
		return ag_client_fail(c, AGORA_EINVAL,
				      "%s: %" PRIu32 " is not a call sent on "
				      "this client whose result is still to "
				      "take",
				      who, msgid);
	*ret = s;
	return 0;
}

int agora_call_result(agora_client *c, uint32_t msgid, agora_value *ret)
{
	struct ag_sent *s = NULL;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if ((rc = sent_live(c, msgid, "agora_call_result", &s)) < 0)
		return rc;
	if (!s->done)
		return outcome(
		    c, AGORA_EAGAIN,
		    "the answer to call %" PRIu32 " has not come yet", msgid);
	rc = s->rc;
	if (rc == 0 && ret != NULL) {
		*ret = s->val;
		s->val = agora_nil();
	} else if (rc < 0) {
		outcome(c, rc, "%s",
			s->errmsg != NULL ? s->errmsg : "out of memory");
	}
	ag_client_sent_remove(c, s);
	/* A call the program cancelled is what it asked for: no failure. */
	return rc == AGORA_ECANCELLED ? rc : ag_client_note(c, rc);
}

size_t agora_call_pending(const agora_client *c)
{
	size_t n = 0;

	if (c == NULL)
		return 0;
	for (size_t i = 0; i < c->sent_cap; i++)
		for (const struct ag_sent *s = c->sent[i]; s != NULL;
		     s = s->next)
			n += !s->discard;
	return n;
}

int agora_cancel(agora_client *c, uint32_t msgid)
{
	struct ag_sent *s = NULL;
	agora_value param;
	uint32_t id;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if ((rc = sent_live(c, msgid, "agora_cancel", &s)) < 0)
		return rc;
	if (s->done)
		return 0;
	rc = ag_client_usable(c);
	if (rc < 0)
		return rc;
	param = agora_int((int64_t)msgid);
	return send_call(c, "cancel", &param, 1, true, &id);
}
