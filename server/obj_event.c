/*
 * obj_event.c - the "event" family: Python's threading.Event, owned by the
 * server loop.
 *
 * State (struct event_state): the flag and one list of parked wait()
 * requests in arrival order. Invariant, true whenever a method returns:
 * waiters are parked only while the flag is clear, because set() answers
 * every one of them true before it returns.
 *
 *   set()              -> nil; every parked waiter is answered true
 *   clear()            -> nil
 *   is_set()           -> bool
 *   wait(timeout=nil)  -> bool: true at once when set; otherwise parked
 *                         until set() (true) or the timeout (false, not an
 *                         error, as in Python)
 *
 * No options. An event has no length. A parked waiter carries nothing, so a
 * withdrawn one needs no undo. Memory accounted: the state.
 * Persistence (protocol section 10): set and clear are journaled as
 * called; a snapshot sets a set event again. Waiters are not kept.
 * Transactions (docs/protocol.md section 12): set within one answers no
 * waiter; the commit answers them all if the event is still set then
 * (event_wake). wait is refused there.
 */
#include <stdlib.h>

#include "internal.h"

struct event_state {
	bool flag;
	struct ag_waitq waiters; /* parked wait(): only while !flag */
};

/* ---- methods ------------------------------------------------------------- */

/* Answer every parked waiter of @e true. A wait_any (wait_any.c) is
 * answered the handle it gave for this event, and leaves the others'
 * lists. The caller holds the object while the waiters let go. */
static void event_serve(struct event_state *e)
{
	ag_waiter *w;

	while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
		if (w->group != NULL)
			ag_reply_uint(&w->to, w->tag);
		else
			ag_reply_bool(&w->to, true);
		ag_wait_done(w);
	}
}

static int event_set(ag_req *r)
{
	struct event_state *e = r->obj->data;

	e->flag = true;
	/* In a transaction, the commit answers them if the event is still
	 * set then (event_wake). The request's handle holds the object. */
	if (!TAILQ_EMPTY(&e->waiters) && !ag_txn_defer(r->obj))
		event_serve(e);
	ag_reply_nil(&r->to);
	return 0;
}

static int event_clear(ag_req *r)
{
	struct event_state *e = r->obj->data;

	e->flag = false;
	ag_reply_nil(&r->to);
	return 0;
}

static int event_is_set(ag_req *r)
{
	struct event_state *e = r->obj->data;

	ag_reply_bool(&r->to, e->flag);
	return 0;
}

static int event_wait(ag_req *r)
{
	struct event_state *e = r->obj->data;
	double timeout;
	int rc;

	rc = ag_arg_timeout(r, 1, &timeout);
	if (rc < 0)
		return rc;
	if (e->flag || timeout == 0) {
		ag_reply_bool(&r->to, e->flag);
		return 0;
	}
	/* On timeout, as Python's Event.wait, false. */
	if (ag_wait_park(r, &e->waiters, timeout, ag_wait_answer_false) == NULL)
		return AGORA_ELIMIT;
	return 0;
}

/* For the server method wait_any (wait_any.c): whether event @o is set,
 * and its list of parked waits. */
bool ag_event_is_set(const ag_object *o)
{
	const struct event_state *e = o->data;

	return e->flag;
}

struct ag_waitq *ag_event_waiters(ag_object *o)
{
	struct event_state *e = o->data;

	return &e->waiters;
}

/* ---- persistence --------------------------------------------------------- */

/* The record that rebuilds an event: "event.set" when its flag is set (a
 * new event is clear). Its waiters are not kept. 0, AGORA_EIO when no
 * record could be begun, or the error of ag_save_end(). */
static int event_save(ag_object *o, ag_save *sv)
{
	struct event_state *e = o->data;

	if (!e->flag)
		return 0;
	if (ag_save_call(sv, o, "event.set", 0) == NULL)
		return AGORA_EIO;
	return ag_save_end(sv);
}

/* ---- transactions -------------------------------------------------------- */

/* What a transaction keeps to undo with (docs/protocol.md section 12):
 * the flag. */
static void *event_txn_save(ag_object *o)
{
	struct event_state *e = o->data;
	bool *sv = malloc(sizeof(*sv));

	if (sv != NULL)
		*sv = e->flag;
	return sv;
}

static void event_txn_restore(ag_object *o, void *saved)
{
	struct event_state *e = o->data;

	e->flag = *(bool *)saved;
	free(saved);
}

static void event_txn_drop(ag_object *o, void *saved)
{
	(void)o;
	free(saved);
}

/* After a commit: an event it left set answers its waiters (one it set
 * and cleared again answers none: they wait on). */
static void event_wake(ag_object *o)
{
	struct event_state *e = o->data;

	if (e->flag) {
		ag_object_ref(o); /* while the waiters let go */
		event_serve(e);
		ag_object_unref(o);
	}
}

/* wait may park. */
static const char *const event_txn_refused[] = { "wait", NULL };

/* ---- family -------------------------------------------------------------- */

static const char *const event_options[] = { NULL };

/* Set up a clear event. Returns 0, or the code answered: ARGS (any option),
 * LIMIT (out of memory). */
static int event_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	struct event_state *e;
	int rc;

	rc = ag_opts_check(r, opts, event_options);
	if (rc < 0)
		return rc;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory creating an event");
	TAILQ_INIT(&e->waiters);
	o->data = e;
	ag_object_mem(o, (ssize_t)sizeof(*e));
	return 0;
}

/* No waiter is left: each holds a reference. */
static void event_destroy(ag_object *o)
{
	struct event_state *e = o->data;

	if (e == NULL)
		return;
	free(e);
	o->data = NULL;
	ag_object_mem(o, -(ssize_t)sizeof(*e));
}

static bool event_len(ag_object *o, size_t *ret)
{
	return false;
}

static unsigned event_info_count(ag_object *o)
{
	return 1;
}

static void event_info_pack(ag_object *o, msgpack_packer *pk)
{
	struct event_state *e = o->data;

	ag_pack_str(pk, "set");
	if (e->flag)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static const ag_method event_methods[] = {
	{ "set", event_set, 1, 1, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "clear", event_clear, 1, 1, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "is_set", event_is_set, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "wait", event_wait, 1, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_family ag_family_event = {
	.name = "event",
	.base = NULL,
	.methods = event_methods,
	.create = event_create,
	.destroy = event_destroy,
	.len = event_len,
	.info_count = event_info_count,
	.info_pack = event_info_pack,
	.conn_gone = NULL,
	/* set and clear replay as they ran (replayed, set finds no
	 * waiter). */
	.persist = AG_PERSIST_CALLS,
	.save_opts = NULL, /* no options */
	.save = event_save,
	.txn_save = event_txn_save,
	.txn_restore = event_txn_restore,
	.txn_drop = event_txn_drop,
	.wake = event_wake,
	.txn_refused = event_txn_refused,
};
