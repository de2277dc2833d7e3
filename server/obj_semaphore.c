/*
 * obj_semaphore.c - the "semaphore" and "bounded_semaphore" families:
 * Python's threading.Semaphore and BoundedSemaphore, owned by the server
 * loop.
 *
 * State (struct sem), shared by both families (bounded_semaphore has
 * .base = &ag_family_semaphore, so "semaphore.release" reaches the same
 * functions): the value, the initial value, the flags, and one list of
 * parked acquire() requests in arrival order.
 *
 * Invariant, true whenever a method returns: acquirers are parked only while
 * the value is 0, because every increase ends in sem_serve(), which hands
 * permits to the first waiters. So an acquire never overtakes a parked one.
 *
 *   acquire(block=true, timeout=nil) -> bool: value > 0 takes one, true;
 *                      otherwise false at once (not blocking, or a zero
 *                      timeout) or parked until a permit comes (true) or
 *                      the timeout (false, not an error)
 *   release(n=1)    -> nil: n >= 1 (else VALUE) permits added, waiters
 *                      served; bounded: above the initial value is VALUE
 *   value()         -> int
 *
 * Options: `value` (an int >= 0, default 1) and `owned` (bool, default
 * false). Without `owned` a semaphore has no owner, as in Python: anyone may
 * release, a closing connection gives nothing back. With it, the permits
 * each connection holds are counted here (struct permits), the connection
 * holds the object through ag_conn_hold() (once, while its count is above
 * 0), releasing more than it holds is NOT_OWNER, and conn_gone() gives its
 * permits back. Memory accounted: the state and the permits array.
 *
 * Persistence (AG_PERSIST_STATE): the options, and as state the value with
 * every owned permit given back (sem_durable_value), since the connections
 * that hold them do not survive a restart. So an owned semaphore's state
 * never changes (taking or giving back a permit moves it between the value
 * and a holder); an unowned one is touched wherever its value changes
 * (sem_changed).
 *
 * Transactions (docs/protocol.md section 12): permits released within one
 * go to the parked acquirers at its commit (sem_wake); until then the
 * transaction's own acquires cannot take those (sem_available), as they
 * could not without one. The copy kept to undo with is the value and the
 * owned permits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The permits one connection holds of an owned semaphore. */
struct permits {
	ag_conn *conn;
	uint64_t n; /* > 0 */
};

struct sem {
	uint64_t value;
	uint64_t initial;
	bool owned;
	bool bounded;
	struct ag_waitq waiters; /* parked acquire(): only while value == 0 */
	struct permits *held;    /* owned: one entry per holding connection */
	uint32_t nheld, capheld;
};

/* ---- owned permits ------------------------------------------------------- */

static struct permits *permits_find(struct sem *s, const ag_conn *c)
{
	for (uint32_t i = 0; i < s->nheld; i++)
		if (s->held[i].conn == c)
			return &s->held[i];
	return NULL;
}

/* Permits @c holds of @s. */
static uint64_t permits_of(struct sem *s, const ag_conn *c)
{
	struct permits *p = permits_find(s, c);

	return p ? p->n : 0;
}

/* Record one more permit held by @c; its first takes ag_conn_hold(). Returns
 * 0, or AGORA_ENOMEM with nothing recorded. */
static int permits_add(ag_object *o, struct sem *s, ag_conn *c)
{
	struct permits *p = permits_find(s, c);

	if (p != NULL) {
		p->n++;
		return 0;
	}
	if (s->nheld == s->capheld) {
		uint32_t ncap = s->capheld ? s->capheld * 2 : 4;
		struct permits *np;

		if (ncap > UINT32_MAX / 2)
			return AGORA_ENOMEM;
		np = realloc(s->held, ncap * sizeof(*np));
		if (np == NULL)
			return AGORA_ENOMEM;
		ag_object_mem(o, (ssize_t)(ncap - s->capheld) *
				     (ssize_t)sizeof(*np));
		s->held = np;
		s->capheld = ncap;
	}
	if (ag_conn_hold(c, o) < 0)
		return AGORA_ENOMEM;
	s->held[s->nheld++] = (struct permits){ c, 1 };
	return 0;
}

/* @c gives back @n of the permits it holds (n <= held); its last one drops
 * the ag_conn_hold(). */
static void permits_sub(ag_object *o, struct sem *s, ag_conn *c, uint64_t n)
{
	struct permits *p = permits_find(s, c);

	p->n -= n;
	if (p->n == 0) {
		*p = s->held[--s->nheld];
		ag_conn_unhold(c, o);
	}
}

/* ---- persistence --------------------------------------------------------- */

/* The value as if every owned permit were given back. */
static uint64_t sem_durable_value(const struct sem *s)
{
	uint64_t v = s->value;

	for (uint32_t i = 0; i < s->nheld; i++)
		v += s->held[i].n;
	return v;
}

/* s->value changed: the journal records it, unless the permits only moved
 * to or from a holder (owned), which leaves sem_durable_value() alone. */
static void sem_changed(ag_object *o, const struct sem *s)
{
	if (!s->owned)
		ag_persist_touch(o);
}

/* The options that make it: {"value": initial, "owned": bool}. */
static void sem_save_opts(ag_object *o, msgpack_packer *pk)
{
	struct sem *s = o->data;

	msgpack_pack_map(pk, 2);
	ag_pack_str(pk, "value");
	msgpack_pack_uint64(pk, s->initial);
	ag_pack_str(pk, "owned");
	if (s->owned)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

/* {"value": n}. */
static void sem_pack_state(ag_object *o, msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	ag_pack_str(pk, "value");
	msgpack_pack_uint64(pk, sem_durable_value(o->data));
}

/* Set the value of a semaphore just made from sem_save_opts(): an int >= 0,
 * a bounded one's at most its initial value. */
static int sem_load_state(ag_object *o, const msgpack_object *st, char *err,
			  size_t errlen)
{
	struct sem *s = o->data;
	const msgpack_object *v = ag_opt(st, "value");
	char desc[64];

	if (v == NULL || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		ag_obj_describe(v != NULL ? v : st, desc, sizeof(desc));
		snprintf(err, errlen,
			 "%s state: value must be an int >= 0, not %s%s",
			 o->fam->name, v != NULL ? "" : "missing in ", desc);
		return AGORA_EVALUE;
	}
	if (s->bounded && v->via.u64 > s->initial) {
		snprintf(err, errlen,
			 "%s state: the value %llu is above its initial %llu",
			 o->fam->name, (unsigned long long)v->via.u64,
			 (unsigned long long)s->initial);
		return AGORA_EVALUE;
	}
	s->value = v->via.u64;
	return 0;
}

/* ---- permits for waiters ------------------------------------------------- */

/* The value rose: hand permits to the first parked acquirers, in arrival
 * order, while there are any. The caller keeps @o alive. */
static void sem_serve(ag_object *o)
{
	struct sem *s = o->data;
	ag_waiter *w;

	while (s->value > 0 && (w = TAILQ_FIRST(&s->waiters)) != NULL) {
		if (s->owned && permits_add(o, s, w->to.conn) < 0) {
			ag_reply_error(&w->to, AGORA_ELIMIT,
				       "out of memory recording the permit");
		} else {
			s->value--;
			sem_changed(o, s);
			ag_changed(o, "acquire", NULL);
			ag_reply_bool(&w->to, true);
		}
		ag_wait_done(w);
	}
}

/*
 * The permits an acquire may take now. Acquirers are parked only while the
 * value is 0, except within a transaction that released permits: those go
 * to the parked acquirers at the commit (sem_serve), one each, so a later
 * call of the transaction finds them taken, as it would have without one.
 */
static uint64_t sem_available(const struct sem *s)
{
	uint64_t nwaiters = 0;
	const ag_waiter *w;

	if (s->value == 0 || TAILQ_EMPTY(&s->waiters))
		return s->value;
	TAILQ_FOREACH (w, &s->waiters, qlink)
		if (++nwaiters >= s->value)
			return 0;
	return s->value - nwaiters;
}

/* ---- methods ------------------------------------------------------------- */

static int semaphore_acquire(ag_req *r)
{
	ag_object *o = r->obj;
	struct sem *s = o->data;
	bool block;
	double timeout;
	int rc;

	rc = ag_arg_block(r, 1, &block, &timeout);
	if (rc < 0)
		return rc;
	if (sem_available(s) > 0) {
		if (s->owned && permits_add(o, s, r->to.conn) < 0)
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "%.*s: out of memory recording "
					      "the permit",
					      (int)r->methodlen, r->method);
		s->value--;
		sem_changed(o, s);
		ag_reply_bool(&r->to, true);
		return 0;
	}
	if (!block || timeout == 0) {
		ag_reply_bool(&r->to, false);
		return 0;
	}
	/* On timeout, as Python's acquire, false. */
	if (ag_wait_park(r, &s->waiters, timeout, ag_wait_answer_false) == NULL)
		return AGORA_ELIMIT;
	return 0;
}

static int semaphore_release(ag_req *r)
{
	ag_object *o = r->obj;
	struct sem *s = o->data;
	int64_t n;
	uint64_t held;
	int rc;

	rc = ag_arg_opt_int(r, 1, 1, &n);
	if (rc < 0)
		return rc;
	if (n < 1)
		return ag_reply_error(
		    &r->to, AGORA_EVALUE, "%.*s: n must be >= 1, not %lld",
		    (int)r->methodlen, r->method, (long long)n);
	if (s->owned) {
		held = permits_of(s, r->to.conn);
		if ((uint64_t)n > held)
			return ag_reply_error(
			    &r->to, AGORA_ENOT_OWNER,
			    "%.*s: this connection holds %llu permit%s of "
			    "this owned semaphore, cannot release %lld",
			    (int)r->methodlen, r->method,
			    (unsigned long long)held, held == 1 ? "" : "s",
			    (long long)n);
	}
	if (s->bounded && (uint64_t)n > s->initial - s->value)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "%.*s: releasing %lld would take the "
				      "value %llu above its initial %llu",
				      (int)r->methodlen, r->method,
				      (long long)n,
				      (unsigned long long)s->value,
				      (unsigned long long)s->initial);
	if ((uint64_t)n > UINT64_MAX - s->value)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "%.*s: releasing %lld would take the "
				      "value %llu past 2^64-1",
				      (int)r->methodlen, r->method,
				      (long long)n,
				      (unsigned long long)s->value);
	if (s->owned)
		permits_sub(o, s, r->to.conn, (uint64_t)n);
	s->value += (uint64_t)n;
	sem_changed(o, s);
	ag_reply_nil(&r->to);
	/* In a transaction, the commit serves them (sem_wake). */
	if (!ag_txn_defer(o))
		sem_serve(o);
	return 0;
}

static int semaphore_value(ag_req *r)
{
	struct sem *s = r->obj->data;

	ag_reply_uint(&r->to, s->value);
	return 0;
}

/* ---- transactions -------------------------------------------------------- */

/*
 * What a transaction keeps to undo with (docs/protocol.md section 12): the
 * value, a copy of the owned permits' array (as large as the original, so
 * the memory accounted comes back exact) and the memory accounted. Each
 * holding connection's ag_conn_hold() is taken once more while it is kept,
 * so that giving permits back never needs memory: restoring turns those
 * holds into the holders' own, dropping lets them go.
 */
struct sem_saved {
	uint64_t value;
	struct permits *held;
	uint32_t nheld, capheld;
	size_t mem;
};

static void *sem_txn_save(ag_object *o)
{
	struct sem *s = o->data;
	struct sem_saved *sv = malloc(sizeof(*sv));

	if (sv == NULL)
		return NULL;
	sv->held = NULL;
	if (s->capheld > 0) {
		sv->held = malloc(s->capheld * sizeof(*sv->held));
		if (sv->held == NULL) {
			free(sv);
			return NULL;
		}
		memcpy(sv->held, s->held, s->nheld * sizeof(*sv->held));
	}
	/* Each holder holds @o already: one more is a count, no memory. */
	for (uint32_t i = 0; i < s->nheld; i++)
		(void)ag_conn_hold(s->held[i].conn, o);
	sv->value = s->value;
	sv->nheld = s->nheld;
	sv->capheld = s->capheld;
	sv->mem = o->mem;
	return sv;
}

static void sem_txn_restore(ag_object *o, void *saved)
{
	struct sem *s = o->data;
	struct sem_saved *sv = saved;

	for (uint32_t i = 0; i < s->nheld; i++)
		ag_conn_unhold(s->held[i].conn, o);
	free(s->held);
	s->held = sv->held; /* with the holds sem_txn_save() took */
	s->nheld = sv->nheld;
	s->capheld = sv->capheld;
	s->value = sv->value;
	ag_object_mem(o, (ssize_t)sv->mem - (ssize_t)o->mem);
	free(sv);
}

static void sem_txn_drop(ag_object *o, void *saved)
{
	struct sem_saved *sv = saved;

	for (uint32_t i = 0; i < sv->nheld; i++)
		ag_conn_unhold(sv->held[i].conn, o);
	free(sv->held);
	free(sv);
}

/* After a commit: the permits it released go to the parked acquirers. */
static void sem_wake(ag_object *o)
{
	sem_serve(o);
}

/* acquire may park unless not blocking (param 1). */
static const char *const sem_txn_refused[] = { "acquire@1", NULL };

/* ---- families ------------------------------------------------------------ */

static const char *const sem_options[] = { "value", "owned", NULL };

/*
 * Set up a semaphore from the options `value` (an int >= 0; default 1) and
 * `owned` (a bool; default false). Returns 0, or the code answered: ARGS
 * (unknown option, wrong kind), VALUE (a negative value), LIMIT.
 */
static int sem_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	const msgpack_object *v = opts ? ag_opt(opts, "value") : NULL;
	const msgpack_object *ow = opts ? ag_opt(opts, "owned") : NULL;
	uint64_t value = 1;
	bool owned = false;
	struct sem *s;
	char desc[96];
	int rc;

	rc = ag_opts_check(r, opts, sem_options);
	if (rc < 0)
		return rc;
	if (v != NULL && v->type != MSGPACK_OBJECT_NIL) {
		ag_obj_describe(v, desc, sizeof(desc));
		if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			return ag_reply_error(&r->to, AGORA_EVALUE,
					      "open: value must be >= 0, not "
					      "%s",
					      desc);
		if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return ag_reply_error(&r->to, AGORA_EARGS,
					      "open: value must be an int, "
					      "not %s",
					      desc);
		value = v->via.u64;
	}
	if (ow != NULL && ow->type != MSGPACK_OBJECT_NIL) {
		if (ow->type != MSGPACK_OBJECT_BOOLEAN) {
			ag_obj_describe(ow, desc, sizeof(desc));
			return ag_reply_error(&r->to, AGORA_EARGS,
					      "open: owned must be a bool, "
					      "not %s",
					      desc);
		}
		owned = ow->via.boolean;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory creating a %s",
				      o->fam->name);
	s->value = value;
	s->initial = value;
	s->owned = owned;
	s->bounded = o->fam == &ag_family_bounded_semaphore;
	TAILQ_INIT(&s->waiters);
	o->data = s;
	ag_object_mem(o, (ssize_t)sizeof(*s));
	return 0;
}

/* No waiter and no holding connection are left: each holds a reference. */
static void sem_destroy(ag_object *o)
{
	struct sem *s = o->data;

	if (s == NULL)
		return;
	ag_object_mem(
	    o, -(ssize_t)(sizeof(*s) + s->capheld * sizeof(struct permits)));
	free(s->held);
	free(s);
	o->data = NULL;
}

static unsigned sem_info_count(ag_object *o)
{
	return 3;
}

static void sem_info_pack(ag_object *o, msgpack_packer *pk)
{
	struct sem *s = o->data;

	ag_pack_str(pk, "value");
	msgpack_pack_uint64(pk, s->value);
	ag_pack_str(pk, "initial");
	msgpack_pack_uint64(pk, s->initial);
	ag_pack_str(pk, "owned");
	if (s->owned)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

/* @c is going away: an owned semaphore gets back the permits it held, and
 * the first waiters get them; logged at warning (not while the server
 * stops). */
static void sem_conn_gone(ag_object *o, ag_conn *c)
{
	struct sem *s = o->data;
	uint64_t n = permits_of(s, c);

	if (n == 0)
		return;
	permits_sub(o, s, c, n);
	s->value += n; /* owned: sem_durable_value() is unchanged */
	ag_changed(o, "release", NULL); /* by its holder's end */
	sem_serve(o);
	if (o->srv->stopping || !ag_server_logs(o->srv, AGORA_LOG_WARNING))
		return;
	char label[400];
	ag_server_logf(o->srv, AGORA_LOG_WARNING,
		       "%s: %llu permit%s given back: holder connection %llu "
		       "(%s) ended: %s; value now %llu",
		       ag_object_label(o, label, sizeof(label)),
		       (unsigned long long)n, n == 1 ? "" : "s",
		       (unsigned long long)c->id, c->peer, ag_conn_why(c),
		       (unsigned long long)s->value);
}

/* For clients: the permits @c holds of an owned semaphore. */
static uint64_t sem_held(ag_object *o, const ag_conn *c)
{
	return permits_of(o->data, c);
}

static const ag_method sem_methods[] = {
	{ "acquire", semaphore_acquire, 1, 3, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "release", semaphore_release, 1, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "value", semaphore_value, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_family ag_family_semaphore = {
	.name = "semaphore",
	.base = NULL,
	.methods = sem_methods,
	.create = sem_create,
	.destroy = sem_destroy,
	.len = NULL,
	.info_count = sem_info_count,
	.info_pack = sem_info_pack,
	.conn_gone = sem_conn_gone,
	.held = sem_held,
	.persist = AG_PERSIST_STATE,
	.save_opts = sem_save_opts,
	.pack_state = sem_pack_state,
	.load_state = sem_load_state,
	.txn_save = sem_txn_save,
	.txn_restore = sem_txn_restore,
	.txn_drop = sem_txn_drop,
	.wake = sem_wake,
	.txn_refused = sem_txn_refused,
};

const ag_family ag_family_bounded_semaphore = {
	.name = "bounded_semaphore",
	.base = &ag_family_semaphore,
	.methods = sem_methods,
	.create = sem_create,
	.destroy = sem_destroy,
	.len = NULL,
	.info_count = sem_info_count,
	.info_pack = sem_info_pack,
	.conn_gone = sem_conn_gone,
	.held = sem_held,
	.persist = AG_PERSIST_STATE,
	.save_opts = sem_save_opts,
	.pack_state = sem_pack_state,
	.load_state = sem_load_state,
	.txn_save = sem_txn_save,
	.txn_restore = sem_txn_restore,
	.txn_drop = sem_txn_drop,
	.wake = sem_wake,
	.txn_refused = sem_txn_refused,
};
