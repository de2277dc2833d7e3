/*
 * obj_barrier.c - the "barrier" family: Python's threading.Barrier, owned by
 * the server loop, cyclic.
 *
 * State (struct barrier): the number of parties, whether the barrier is
 * broken (and why, for the message), and the parked wait() requests of the
 * current cycle in arrival order, each with its arrival index in w->n. Every
 * waiter of the object is in that list, so o->nwaiters is the number of
 * parties waiting.
 *
 *   wait(timeout=nil) -> arrival index 0..parties-1. The parties-th arrival
 *                        answers every parked waiter of the cycle with its
 *                        own index, takes parties-1 itself, and the next
 *                        cycle starts empty. BROKEN at once while broken.
 *   reset()           -> nil: parked waiters get BROKEN; usable again
 *   abort()           -> nil: breaks the barrier
 *   parties(), n_waiting() -> int;  broken() -> bool
 *
 * The barrier breaks (every parked waiter answered BROKEN, later waits
 * BROKEN at once until reset) when a waiter times out (it gets BROKEN too,
 * as in Python), on abort(), or when a waiting party's connection goes away
 * (on_withdraw), as a party that died would break it, or when a waiting
 * party's wait is cancelled (the server method cancel: that wait gets
 * CANCELLED, the others BROKEN): a party that gives up is a timeout come
 * early. A wait with timeout 0 that does not complete the cycle breaks it
 * at once.
 *
 * The only option is `parties`, required: an int >= 1. Memory accounted:
 * the state.
 *
 * Persistence (AG_PERSIST_STATE): the parties as options, and as state
 * whether it is broken and why; a restart starts an empty cycle (the
 * waiting parties' connections are gone), the broken flag kept. Touched
 * where the flag is set or cleared; not when a server that stops breaks it
 * by closing the waiting parties' connections, which a restart does anyway
 * without breaking it.
 *
 * Transactions (docs/protocol.md section 12): reset() and abort() within
 * one answer the cycle's parties BROKEN at its commit (b->pending, the
 * first cause, kept and undone with the rest: barrier_wake); wait is
 * refused there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct barrier {
	uint64_t parties;
	bool broken;
	const char *why;         /* static text: how it broke, when broken */
	struct ag_waitq waiters; /* parked wait() of this cycle, w->n index */
	/* A transaction's reset() or abort() of a cycle with parties: why
	 * its commit answers them BROKEN (barrier_wake); NULL otherwise. */
	const char *pending;
};

/* How a barrier broke (b->why). A loaded one that was broken for another
 * reason says WHY_RESTORED. */
#define WHY_TIMED_OUT "a waiting party timed out"
#define WHY_DISCONNECTED "a waiting party disconnected"
#define WHY_ABORTED "abort() was called"
#define WHY_CANCELLED "a waiting party's wait was cancelled"
#define WHY_RESTORED "it was broken before the server restarted"

/* The timeout a waiter was parked with, kept in w->aux (its bits), for the
 * message. */
static void waiter_set_timeout(ag_waiter *w, double timeout)
{
	_Static_assert(sizeof(double) == sizeof(w->aux), "double fits in aux");
	memcpy(&w->aux, &timeout, sizeof(timeout));
}

static double waiter_timeout(const ag_waiter *w)
{
	double timeout;

	memcpy(&timeout, &w->aux, sizeof(timeout));
	return timeout;
}

/*
 * Answer every parked waiter except @keep (which may be NULL) BROKEN with
 * @why and free it. @keep is the waiter a timer or a withdrawal is handling:
 * the core frees it after the callback.
 */
static void answer_broken(struct barrier *b, ag_waiter *keep, const char *why)
{
	ag_waiter *w, *next;

	for (w = TAILQ_FIRST(&b->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, qlink);
		if (w == keep)
			continue;
		ag_reply_error(&w->to, AGORA_EBROKEN, "barrier broken: %s",
			       why);
		ag_wait_done(w);
	}
}

/*
 * The parties of this cycle are answered BROKEN with @why: at once, or in
 * a transaction at its commit (barrier_wake; the first cause the
 * transaction gave is the one they are told, as without one the later
 * would find no party).
 */
static void break_cycle(ag_object *o, const char *why)
{
	struct barrier *b = o->data;

	if (TAILQ_EMPTY(&b->waiters))
		return;
	if (!ag_txn_defer(o)) {
		answer_broken(b, NULL, why);
		return;
	}
	if (b->pending == NULL)
		b->pending = why;
}

/* Break the barrier @o: it stays broken until reset(). */
static void barrier_break(ag_object *o, ag_waiter *keep, const char *why)
{
	struct barrier *b = o->data;

	b->broken = true;
	b->why = why;
	ag_changed(o, "broken", NULL);
	if (!o->srv->stopping)
		ag_persist_touch(o);
	if (keep == NULL)
		break_cycle(o, why);
	else
		answer_broken(b, keep, why);
}

/* on_timeout of a parked wait: the barrier breaks for everyone, this
 * waiter included; wait.c then frees it. */
static void wait_timed_out(ag_waiter *w)
{
	ag_reply_error(&w->to, AGORA_EBROKEN,
		       "barrier broken: this wait timed out after %g s",
		       waiter_timeout(w));
	barrier_break(w->obj, w, WHY_TIMED_OUT);
}

/* on_withdraw of a parked wait: its connection is going, so the party is
 * gone and the others can never complete the cycle. Logged at warning
 * (not while the server stops). */
static void wait_withdrawn(ag_waiter *w)
{
	ag_object *o = w->obj;
	const ag_conn *c = w->to.conn;
	unsigned others = o->nwaiters > 0 ? o->nwaiters - 1 : 0;
	char label[400];

	barrier_break(o, w, WHY_DISCONNECTED);
	if (o->srv->stopping || !ag_server_logs(o->srv, AGORA_LOG_WARNING))
		return;
	ag_server_logf(o->srv, AGORA_LOG_WARNING,
		       "%s broken: waiting party connection %llu (%s) ended: "
		       "%s; %u other waiting part%s answered BROKEN",
		       ag_object_label(o, label, sizeof(label)),
		       (unsigned long long)c->id, c->peer, ag_conn_why(c),
		       others, others == 1 ? "y" : "ies");
}

/* on_cancel of a parked wait: as a timeout, the party gives up and the
 * barrier breaks; the cancelled wait is answered CANCELLED, the others
 * BROKEN. */
static bool wait_cancelled(ag_waiter *w)
{
	ag_reply_error(&w->to, AGORA_ECANCELLED,
		       "barrier wait cancelled by this connection's cancel "
		       "[%u]; the barrier is broken",
		       (unsigned)w->to.msgid);
	barrier_break(w->obj, w, WHY_CANCELLED);
	return true;
}

/* ---- methods ------------------------------------------------------------- */

static int barrier_wait(ag_req *r)
{
	ag_object *o = r->obj;
	struct barrier *b = o->data;
	uint64_t index = o->nwaiters;
	ag_waiter *w;
	double timeout;
	int rc;

	rc = ag_arg_timeout(r, 1, &timeout);
	if (rc < 0)
		return rc;
	if (b->broken)
		return ag_reply_error(&r->to, AGORA_EBROKEN,
				      "barrier broken: %s; reset() it first",
				      b->why);
	if (index + 1 >= b->parties) {
		/* The last party: release the cycle in arrival order. The
		 * request's handle holds the object meanwhile. */
		while ((w = TAILQ_FIRST(&b->waiters)) != NULL) {
			ag_reply_uint(&w->to, (uint64_t)w->n);
			ag_wait_done(w);
		}
		ag_reply_uint(&r->to, index);
		return 0;
	}
	if (timeout == 0) {
		barrier_break(o, NULL, WHY_TIMED_OUT);
		return ag_reply_error(
		    &r->to, AGORA_EBROKEN,
		    "barrier broken: this wait timed out after 0 s");
	}
	w = ag_wait_park(r, &b->waiters, timeout, wait_timed_out);
	if (w == NULL)
		return AGORA_ELIMIT;
	w->n = (int64_t)index;
	w->on_withdraw = wait_withdrawn;
	w->on_cancel = wait_cancelled;
	waiter_set_timeout(w, timeout);
	return 0;
}

static int barrier_reset(ag_req *r)
{
	struct barrier *b = r->obj->data;

	break_cycle(r->obj, "reset() while waiting");
	if (b->broken)
		ag_persist_touch(r->obj);
	b->broken = false;
	b->why = NULL;
	ag_reply_nil(&r->to);
	return 0;
}

static int barrier_abort(ag_req *r)
{
	barrier_break(r->obj, NULL, WHY_ABORTED);
	ag_reply_nil(&r->to);
	return 0;
}

static int barrier_parties(ag_req *r)
{
	struct barrier *b = r->obj->data;

	ag_reply_uint(&r->to, b->parties);
	return 0;
}

static int barrier_n_waiting(ag_req *r)
{
	ag_reply_uint(&r->to, r->obj->nwaiters);
	return 0;
}

static int barrier_broken(ag_req *r)
{
	struct barrier *b = r->obj->data;

	ag_reply_bool(&r->to, b->broken);
	return 0;
}

/* ---- family -------------------------------------------------------------- */

static const char *const barrier_options[] = { "parties", NULL };

/*
 * Set up a barrier from the `parties` option. Returns 0, or the code
 * answered: ARGS (unknown option, parties missing or not an int), VALUE
 * (parties < 1), LIMIT (out of memory).
 */
static int barrier_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	const msgpack_object *p;
	struct barrier *b;
	char desc[64];
	int rc;

	rc = ag_opts_check(r, opts, barrier_options);
	if (rc < 0)
		return rc;
	p = opts ? ag_opt(opts, "parties") : NULL;
	if (p == NULL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: a barrier needs the option "
				      "parties (an int >= 1)");
	if (p->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    p->type != MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		ag_obj_describe(p, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: parties must be an int, not %s",
				      desc);
	}
	if (p->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || p->via.u64 < 1) {
		ag_obj_describe(p, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "open: parties must be >= 1, not %s",
				      desc);
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory creating a barrier");
	b->parties = p->via.u64;
	TAILQ_INIT(&b->waiters);
	o->data = b;
	ag_object_mem(o, (ssize_t)sizeof(*b));
	return 0;
}

/* No waiter is left: each holds a reference. */
static void barrier_destroy(ag_object *o)
{
	struct barrier *b = o->data;

	if (b == NULL)
		return;
	free(b);
	o->data = NULL;
	ag_object_mem(o, -(ssize_t)sizeof(*b));
}

static bool barrier_len(ag_object *o, size_t *ret)
{
	return false;
}

static unsigned barrier_info_count(ag_object *o)
{
	return 3;
}

static void barrier_info_pack(ag_object *o, msgpack_packer *pk)
{
	struct barrier *b = o->data;

	ag_pack_str(pk, "parties");
	msgpack_pack_uint64(pk, b->parties);
	ag_pack_str(pk, "n_waiting");
	msgpack_pack_uint32(pk, o->nwaiters);
	ag_pack_str(pk, "broken");
	if (b->broken)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

/* ---- transactions -------------------------------------------------------- */

/* What a transaction keeps to undo with (docs/protocol.md section 12):
 * whether it is broken and why, and the cycle's pending break. */
struct barrier_saved {
	bool broken;
	const char *why;
	const char *pending;
};

static void *barrier_txn_save(ag_object *o)
{
	struct barrier *b = o->data;
	struct barrier_saved *sv = malloc(sizeof(*sv));

	if (sv == NULL)
		return NULL;
	sv->broken = b->broken;
	sv->why = b->why;
	sv->pending = b->pending;
	return sv;
}

static void barrier_txn_restore(ag_object *o, void *saved)
{
	struct barrier *b = o->data;
	struct barrier_saved *sv = saved;

	b->broken = sv->broken;
	b->why = sv->why;
	b->pending = sv->pending;
	free(sv);
}

static void barrier_txn_drop(ag_object *o, void *saved)
{
	(void)o;
	free(saved);
}

/* After a commit: a reset() or abort() it made answers the cycle's
 * parties BROKEN. */
static void barrier_wake(ag_object *o)
{
	struct barrier *b = o->data;
	const char *why = b->pending;

	if (why == NULL)
		return;
	b->pending = NULL;
	ag_object_ref(o); /* while the waiters let go */
	answer_broken(b, NULL, why);
	ag_object_unref(o);
}

/* wait may park (and completes a cycle, serving its parties). */
static const char *const barrier_txn_refused[] = { "wait", NULL };

/* ---- persistence --------------------------------------------------------- */

static void barrier_save_opts(ag_object *o, msgpack_packer *pk)
{
	struct barrier *b = o->data;

	msgpack_pack_map(pk, 1);
	ag_pack_str(pk, "parties");
	msgpack_pack_uint64(pk, b->parties);
}

/* {"broken": bool, "why": str or nil}. */
static void barrier_pack_state(ag_object *o, msgpack_packer *pk)
{
	struct barrier *b = o->data;

	msgpack_pack_map(pk, 2);
	ag_pack_str(pk, "broken");
	if (b->broken)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	ag_pack_str(pk, "why");
	if (b->broken && b->why != NULL)
		ag_pack_str(pk, b->why);
	else
		msgpack_pack_nil(pk);
}

/* The static text among the reasons that equals @why (a str), else
 * WHY_RESTORED. */
static const char *why_known(const msgpack_object *why)
{
	static const char *const known[] = { WHY_TIMED_OUT, WHY_DISCONNECTED,
					     WHY_ABORTED, WHY_CANCELLED, NULL };

	if (why == NULL || why->type != MSGPACK_OBJECT_STR)
		return WHY_RESTORED;
	for (size_t i = 0; known[i] != NULL; i++)
		if (strlen(known[i]) == why->via.str.size &&
		    memcmp(known[i], why->via.str.ptr, why->via.str.size) == 0)
			return known[i];
	return WHY_RESTORED;
}

static int barrier_load_state(ag_object *o, const msgpack_object *st, char *err,
			      size_t errlen)
{
	struct barrier *b = o->data;
	const msgpack_object *broken = ag_opt(st, "broken");
	char desc[64];

	if (st->type != MSGPACK_OBJECT_MAP) {
		ag_obj_describe(st, desc, sizeof(desc));
		snprintf(err, errlen, "barrier state: must be a map, not %s",
			 desc);
		return AGORA_EVALUE;
	}
	if (broken == NULL || broken->type != MSGPACK_OBJECT_BOOLEAN) {
		if (broken != NULL)
			ag_obj_describe(broken, desc, sizeof(desc));
		else
			snprintf(desc, sizeof(desc), "missing");
		snprintf(err, errlen,
			 "barrier state: broken must be a bool, not %s", desc);
		return AGORA_EVALUE;
	}
	b->broken = broken->via.boolean;
	b->why = b->broken ? why_known(ag_opt(st, "why")) : NULL;
	return 0;
}

static const ag_method barrier_methods[] = {
	{ "wait", barrier_wait, 1, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "reset", barrier_reset, 1, 1, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "abort", barrier_abort, 1, 1, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "parties", barrier_parties, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "n_waiting", barrier_n_waiting, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "broken", barrier_broken, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_family ag_family_barrier = {
	.name = "barrier",
	.base = NULL,
	.methods = barrier_methods,
	.create = barrier_create,
	.destroy = barrier_destroy,
	.len = barrier_len,
	.info_count = barrier_info_count,
	.info_pack = barrier_info_pack,
	.conn_gone = NULL,
	.persist = AG_PERSIST_STATE,
	.save_opts = barrier_save_opts,
	.pack_state = barrier_pack_state,
	.load_state = barrier_load_state,
	.txn_save = barrier_txn_save,
	.txn_restore = barrier_txn_restore,
	.txn_drop = barrier_txn_drop,
	.wake = barrier_wake,
	.txn_refused = barrier_txn_refused,
};
