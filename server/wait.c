/*
 * wait.c - parked requests.
 *
 * A request that cannot be served yet (a get on an empty queue) becomes an
 * ag_waiter at the tail of one of its object's wait queues, so waiters are
 * served in arrival order, and on its connection's list, so a connection that
 * goes away withdraws them. A timer, when the request has a timeout, answers
 * it with the family's timeout outcome. Nothing here polls.
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

/* Longer than this is as good as forever, and keeps timeval in range. */
#define MAX_TIMEOUT_S 1e9

static void timer_fired(evutil_socket_t fd, short what, void *arg)
{
	ag_waiter *w = arg;

	w->on_timeout(w);
	if (w->keep)
		w->keep = false;
	else
		ag_wait_done(w);
}

ag_waiter *ag_wait_park(ag_req *r, struct ag_waitq *q, double timeout,
			ag_wait_fn on_timeout)
{
	ag_waiter *w;

	if (r->to.conn->nparked >= r->srv->max_parked) {
		ag_reply_error(&r->to, AGORA_ELIMIT,
			       "%.*s: this connection already has %u requests "
			       "parked (the server's --max-parked)",
			       (int)r->methodlen, r->method,
			       r->srv->max_parked);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		ag_reply_error(&r->to, AGORA_ELIMIT,
			       "out of memory parking %.*s", (int)r->methodlen,
			       r->method);
		return NULL;
	}
	if (timeout >= 0 && timeout < MAX_TIMEOUT_S) {
		struct timeval tv;
		double secs = floor(timeout);
		tv.tv_sec = (time_t)secs;
		tv.tv_usec = (suseconds_t)((timeout - secs) * 1e6);
		w->timer = evtimer_new(r->srv->base, timer_fired, w);
		if (w->timer == NULL || evtimer_add(w->timer, &tv) < 0) {
			if (w->timer)
				event_free(w->timer);
			free(w);
			ag_reply_error(&r->to, AGORA_ELIMIT,
				       "cannot arm a timer for %.*s",
				       (int)r->methodlen, r->method);
			return NULL;
		}
	}
	w->to = r->to;
	w->obj = r->obj;
	w->queue = q;
	w->on_timeout = on_timeout;
	ag_object_ref(w->obj);
	TAILQ_INSERT_TAIL(q, w, qlink);
	TAILQ_INSERT_TAIL(&w->to.conn->waiters, w, connlink);
	w->to.conn->nparked++;
	w->obj->nwaiters++;
	r->srv->nwaiters++;
	if (r->to.conn == r->srv->jreq.conn &&
	    r->to.msgid == r->srv->jreq.msgid)
		r->srv->jreq_parked = true;
	if (r->to.conn == r->srv->chg.conn && r->to.msgid == r->srv->chg.msgid)
		r->srv->chg_parked = true;
	return w;
}

void ag_wait_done(ag_waiter *w)
{
	ag_object *o = w->obj;

	TAILQ_REMOVE(w->queue, w, qlink);
	TAILQ_REMOVE(&w->to.conn->waiters, w, connlink);
	w->to.conn->nparked--;
	if (w->timer)
		event_free(w->timer);
	o->nwaiters--;
	o->srv->nwaiters--;
	ag_val_free(o->srv, &w->val); /* a put withdrawn: its holds go */
	free(w);
	ag_object_unref(o);
}

void ag_wait_move(ag_waiter *w, struct ag_waitq *q)
{
	if (w->timer) {
		event_free(w->timer);
		w->timer = NULL;
		w->keep = true; /* only matters inside timer_fired */
	}
	TAILQ_REMOVE(w->queue, w, qlink);
	w->queue = q;
	TAILQ_INSERT_TAIL(q, w, qlink);
}

void ag_wait_withdraw(ag_waiter *w)
{
	if (w->on_withdraw)
		w->on_withdraw(w);
	ag_wait_done(w);
}

void ag_wait_answer_false(ag_waiter *w)
{
	ag_reply_bool(&w->to, false);
}
