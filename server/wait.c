/*
 * wait.c - parked requests.
 *
 * A request that cannot be served yet (a get on an empty queue) becomes an
 * ag_waiter at the tail of one of its object's wait queues, so waiters are
 * served in arrival order, and on its connection's list, so a connection that
 * goes away withdraws them. A timer, when the request has a timeout, answers
 * it with the family's timeout outcome. Nothing here polls.
 *
 * A request that waits on several objects at once (get_any: wait_any.c)
 * is a group (struct ag_wait_group): one member waiter per object, each in
 * its object's wait queue like any other waiter (so each object serves
 * its waiters, plain and group members alike, in arrival order), all of
 * them on the connection's list, sharing one timer and one answer. The
 * object that serves a member answers the request and calls
 * ag_wait_done() on it, which takes every member out of every queue at
 * once: a group is answered exactly once, and never holds a place in a
 * queue after that.
 *
 * cancel (ag_wait_cancel) withdraws one parked request of a connection by
 * its msgid, answering it CANCELLED; a family whose waiter holds something
 * to give back first (a condition wait, a barrier party) says how with
 * the waiter's on_cancel.
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

/* A group's timer: its on_timeout answers through the first member, then
 * the whole group goes. */
static void group_timer_fired(evutil_socket_t fd, short what, void *arg)
{
	ag_wait_group *g = arg;

	(void)fd;
	(void)what;
	g->on_timeout(g->members[0]);
	ag_wait_done(g->members[0]);
}

/* A timer of @timeout seconds calling @cb(@arg) into *ret (NULL: none,
 * forever). False when it cannot be armed. */
static bool arm_timer(ag_server *s, double timeout,
		      void (*cb)(evutil_socket_t, short, void *), void *arg,
		      struct event **ret)
{
	struct timeval tv;
	double secs;

	*ret = NULL;
	if (timeout < 0 || timeout >= MAX_TIMEOUT_S)
		return true;
	secs = floor(timeout);
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((timeout - secs) * 1e6);
	*ret = evtimer_new(s->base, cb, arg);
	if (*ret != NULL && evtimer_add(*ret, &tv) == 0)
		return true;
	if (*ret != NULL)
		event_free(*ret);
	*ret = NULL;
	return false;
}

/* --max-parked: false after answering LIMIT when @r's connection has as
 * many parked requests as it may. */
static bool may_park(ag_req *r)
{
	if (r->srv->txn != NULL) { /* (txn.c refuses such calls first) */
		ag_reply_error(&r->to, AGORA_EARGS,
			       "%.*s would wait: a transaction never waits",
			       (int)r->methodlen, r->method);
		return false;
	}
	if (r->to.conn->nparked < r->srv->max_parked)
		return true;
	ag_reply_error(&r->to, AGORA_ELIMIT,
		       "%.*s: this connection already has %u requests "
		       "parked (the server's --max-parked)",
		       (int)r->methodlen, r->method, r->srv->max_parked);
	return false;
}

/* Link @w (to, obj set) at the tail of @q and of its connection's list,
 * holding its object. */
static void link_waiter(ag_waiter *w, struct ag_waitq *q)
{
	w->queue = q;
	ag_object_ref(w->obj);
	TAILQ_INSERT_TAIL(q, w, qlink);
	TAILQ_INSERT_TAIL(&w->to.conn->waiters, w, connlink);
	w->obj->nwaiters++;
}

/* The request the dispatcher is journaling parked: its record goes. */
static void note_parked(ag_req *r)
{
	r->to.conn->nparked++;
	r->srv->nwaiters++;
	if (r->to.conn == r->srv->chg.conn && r->to.msgid == r->srv->chg.msgid)
		r->srv->chg_parked = true;
}

ag_waiter *ag_wait_park(ag_req *r, struct ag_waitq *q, double timeout,
			ag_wait_fn on_timeout)
{
	ag_waiter *w;

	if (!may_park(r))
		return NULL;
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		ag_reply_error(&r->to, AGORA_ELIMIT,
			       "out of memory parking %.*s", (int)r->methodlen,
			       r->method);
		return NULL;
	}
	if (!arm_timer(r->srv, timeout, timer_fired, w, &w->timer)) {
		free(w);
		ag_reply_error(&r->to, AGORA_ELIMIT,
			       "cannot arm a timer for %.*s", (int)r->methodlen,
			       r->method);
		return NULL;
	}
	w->to = r->to;
	w->obj = r->obj;
	w->on_timeout = on_timeout;
	link_waiter(w, q);
	note_parked(r);
	return w;
}

ag_wait_group *ag_wait_park_any(ag_req *r, uint32_t n, ag_object *const *objs,
				struct ag_waitq *const *qs,
				const uint64_t *tags, double timeout,
				ag_wait_fn on_timeout)
{
	ag_wait_group *g;
	uint32_t i;

	if (!may_park(r))
		return NULL;
	g = calloc(1, sizeof(*g) + (size_t)n * sizeof(g->members[0]));
	if (g == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		g->members[i] = calloc(1, sizeof(ag_waiter));
		if (g->members[i] == NULL)
			goto nomem;
	}
	if (!arm_timer(r->srv, timeout, group_timer_fired, g, &g->timer)) {
		for (i = 0; i < n; i++)
			free(g->members[i]);
		free(g);
		ag_reply_error(&r->to, AGORA_ELIMIT,
			       "cannot arm a timer for %.*s", (int)r->methodlen,
			       r->method);
		return NULL;
	}
	g->n = n;
	g->on_timeout = on_timeout;
	for (i = 0; i < n; i++) {
		ag_waiter *w = g->members[i];
		w->to = r->to;
		w->obj = objs[i];
		w->group = g;
		w->tag = tags[i];
		link_waiter(w, qs[i]);
	}
	note_parked(r);
	return g;
nomem:
	if (g != NULL) {
		for (i = 0; i < n; i++)
			free(g->members[i]);
		free(g);
	}
	ag_reply_error(&r->to, AGORA_ELIMIT, "out of memory parking %.*s",
		       (int)r->methodlen, r->method);
	return NULL;
}

/* Every member of @g leaves its queue and the connection's list; then
 * their references go (which may free objects: nothing is linked any
 * more) and the group is freed. */
static void group_done(ag_wait_group *g)
{
	ag_conn *c = g->members[0]->to.conn;
	ag_server *s = c->srv;
	uint32_t i;

	for (i = 0; i < g->n; i++) {
		ag_waiter *w = g->members[i];
		TAILQ_REMOVE(w->queue, w, qlink);
		TAILQ_REMOVE(&c->waiters, w, connlink);
		w->obj->nwaiters--;
	}
	c->nparked--;
	s->nwaiters--;
	if (g->timer)
		event_free(g->timer);
	for (i = 0; i < g->n; i++) {
		ag_object *o = g->members[i]->obj;
		ag_val_free(s, &g->members[i]->val);
		free(g->members[i]);
		ag_object_unref(o);
	}
	free(g);
}

void ag_wait_done(ag_waiter *w)
{
	ag_object *o = w->obj;

	if (w->group != NULL) {
		group_done(w->group);
		return;
	}

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
	if (w->group != NULL)
		abort(); /* a group member never moves (no caller does that) */
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
	if (w->group != NULL) {
		for (uint32_t i = 0; i < w->group->n; i++)
			if (w->group->members[i]->on_withdraw)
				w->group->members[i]->on_withdraw(
				    w->group->members[i]);
	} else if (w->on_withdraw) {
		w->on_withdraw(w);
	}
	ag_wait_done(w);
}

bool ag_wait_cancel(ag_conn *c, uint32_t msgid)
{
	ag_waiter *w;

	TAILQ_FOREACH (w, &c->waiters, connlink)
		if (w->to.msgid == msgid && !w->cancelled)
			break;
	if (w == NULL)
		return false;
	w->cancelled = true;
	if (w->on_cancel != NULL) {
		if (w->on_cancel(w))
			ag_wait_done(w);
		return true;
	}
	ag_reply_error(&w->to, AGORA_ECANCELLED,
		       "cancelled by this connection's cancel [%u]",
		       (unsigned)msgid);
	ag_wait_withdraw(w);
	return true;
}

void ag_wait_answer_false(ag_waiter *w)
{
	ag_reply_bool(&w->to, false);
}
