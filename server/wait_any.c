/*
 * wait_any.c - the server methods that wait on several objects at once:
 * get_any and take_any on queues (Redis's BLMPOP), wait_any on events,
 * acquire_any on locks; and cancel, which withdraws a parked request of
 * the caller's own connection (docs/protocol.md section 3.1).
 *
 *   get_any [handles, block=true, timeout=nil] -> [h, item]
 *   take_any [handles, block=true, timeout=nil, lease=nil, details=false]
 *       -> [h, id, item] ([h, id, item, deliveries] with details)
 *   wait_any [handles, timeout=nil] -> h or nil (events)
 *   acquire_any [handles, block=true, timeout=nil] -> h or nil (locks)
 *   cancel [msgid] -> bool
 *
 * handles: 1 to AG_ANY_MAX handles of this connection, each a queue or a
 * joinable_queue the user may write, each object once. When some of them
 * hold items, the first of the list that does serves at once; otherwise
 * the request parks as a group (wait.c): a member waiter at the tail of
 * every queue's getters, so each queue serves its waiters, plain gets and
 * group members alike, in arrival order, and the queue that serves a
 * member answers [h, ...] and withdraws the other members at once
 * (queue_items.c's serve_waiter). Timeouts and EMPTY are as queue.get's.
 * wait_any and acquire_any do the same on events (obj_event.c's set
 * answers a member its tag) and on locks (obj_lock.c's lock_serve hands
 * the lock to a member and answers its tag).
 *
 * Persistence: these are server methods, which the dispatcher does not
 * journal; a get_any or take_any is recorded as the plain call on the
 * queue that served it ("queue.get" [id, false], "queue.take" [id, false,
 * nil, lease, details]), here when it is served at once and by
 * queue_items.c when a parked one is served, so that replaying the
 * journal gives every queue exactly the items it had. Parked requests are
 * not journaled, so cancel records nothing; nor is waiting for an event;
 * a lock taken records its state as any acquire (AG_PERSIST_STATE).
 */
#include <stdio.h>
#include <string.h>

#include "queue.h"

/* The most handles one get_any names. */
#define AG_ANY_MAX 64

/* The handles param of @r, checked: *ret_n objects of family @fa or @fb
 * (a @what: "queue") into @objs and the handles into @hs, each a @right
 * the user has. Answers ARGS, VALUE, NO_OBJECT, TYPE or DENIED naming the
 * wrong one and returns it. */
static int arg_objects(ag_req *r, const ag_family *fa, const ag_family *fb,
		       const char *what, unsigned right, ag_object **objs,
		       uint64_t *hs, uint32_t *ret_n)
{
	ag_items it;
	ag_item item;
	msgpack_object h;
	char desc[64];
	uint32_t n = 0;
	int rc;

	if ((rc = ag_arg_items(r, 0, &it)) < 0)
		return rc;
	if (it.count == 0 || it.count > AG_ANY_MAX)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "%.*s: handles must name 1 to %d %ss, "
				      "not %llu",
				      (int)r->methodlen, r->method, AG_ANY_MAX,
				      what, (unsigned long long)it.count);
	while (ag_items_next(&it, &item)) {
		ag_object *o;
		ag_item_obj(&item, &h);
		if (h.type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
			ag_obj_describe(&h, desc, sizeof(desc));
			return ag_reply_error(&r->to, AGORA_EARGS,
					      "%.*s: handle %u must be a "
					      "handle, not %s",
					      (int)r->methodlen, r->method, n,
					      desc);
		}
		o = ag_conn_handle_get(r->to.conn, h.via.u64);
		if (o == NULL)
			return ag_reply_error(&r->to, AGORA_ENO_OBJECT,
					      "%.*s: no handle %llu on this "
					      "connection",
					      (int)r->methodlen, r->method,
					      (unsigned long long)h.via.u64);
		if (o->fam != fa && o->fam != fb)
			return ag_reply_error(&r->to, AGORA_ETYPE,
					      "%.*s: handle %llu is a %s, not "
					      "a %s",
					      (int)r->methodlen, r->method,
					      (unsigned long long)h.via.u64,
					      o->fam->name, what);
		for (uint32_t j = 0; j < n; j++)
			if (objs[j] == o)
				return ag_reply_error(
				    &r->to, AGORA_EVALUE,
				    "%.*s: handles %llu and %llu name the same "
				    "%s: name each once",
				    (int)r->methodlen, r->method,
				    (unsigned long long)hs[j],
				    (unsigned long long)h.via.u64, what);
		if (!ag_user_may_obj(r, right, o))
			return AGORA_EDENIED;
		objs[n] = o;
		hs[n] = h.via.u64;
		n++;
	}
	*ret_n = n;
	return 0;
}

/* The timeout of a parked group, kept in its first member (its bits). */
static double group_timeout(const ag_waiter *w)
{
	double t;

	memcpy(&t, &w->n, sizeof(t));
	return t;
}

/* on_timeout of a parked get_any or take_any: EMPTY, as queue.get. */
static void any_timed_out(ag_waiter *w)
{
	ag_reply_error(&w->to, AGORA_EEMPTY, "all %u queues empty after %g s",
		       w->group->n, group_timeout(w));
}

/*
 * get_any and take_any (@take): serve from the first queue that has an
 * item, answer EMPTY, or park a group on every queue.
 */
static int any_get(ag_req *r, bool take)
{
	ag_object *objs[AG_ANY_MAX];
	struct ag_waitq *qs[AG_ANY_MAX];
	uint64_t hs[AG_ANY_MAX];
	ag_wait_group *g;
	double timeout, lease = 0;
	bool block, details = false;
	uint32_t n = 0, i;
	int rc;

	if ((rc = arg_objects(r, &ag_family_queue, &ag_family_joinable_queue,
			      "queue", AG_RIGHT_WRITE, objs, hs, &n)) < 0 ||
	    (rc = ag_arg_block(r, 1, &block, &timeout)) < 0)
		return rc;
	if (take && ((rc = ag_queue_arg_lease(r, 3, &lease)) < 0 ||
		     (rc = ag_arg_bool(r, 4, false, &details)) < 0))
		return rc;
	for (i = 0; i < n && ((struct queue *)objs[i]->data)->count == 0; i++)
		;
	if (i < n) {
		ag_object *o = objs[i];
		struct queue *q = o->data;
		if (!ag_persist_admit(r))
			return AGORA_ESTORAGE;
		if (take) {
			struct pend *p =
			    ag_queue_take_item(o, q, r->to.conn, lease);
			if (p == NULL)
				return ag_reply_error(
				    &r->to, AGORA_ELIMIT, "%.*s: out of memory",
				    (int)r->methodlen, r->method);
			/* Before the putters it lets in, as a call's own
			 * record comes before what it serves. */
			ag_queue_journal_take(o, lease, details);
			ag_pend_reply_tagged(&r->to, &hs[i], p, details);
			ag_queue_admit_putters(o, q);
		} else {
			ag_val item;
			ag_queue_journal_get(o);
			ag_queue_pop_item(o, q, &item, NULL);
			ag_queue_reply_item(&r->to, &hs[i], &item);
			ag_val_give(r->to.conn, &item);
		}
		return 0;
	}
	if (!block)
		return ag_reply_error(&r->to, AGORA_EEMPTY,
				      "all %u queues empty", n);
	if (timeout == 0)
		return ag_reply_error(&r->to, AGORA_EEMPTY,
				      "all %u queues empty after 0 s", n);
	for (i = 0; i < n; i++)
		qs[i] = &((struct queue *)objs[i]->data)->getters;
	g = ag_wait_park_any(r, n, objs, qs, hs, timeout, any_timed_out);
	if (g == NULL)
		return AGORA_ELIMIT;
	memcpy(&g->members[0]->n, &timeout, sizeof(timeout));
	if (take)
		for (i = 0; i < n; i++)
			g->members[i]->aux = ag_queue_take_aux(lease, details);
	return 0;
}

int ag_srv_get_any(ag_req *r)
{
	return any_get(r, false);
}

int ag_srv_take_any(ag_req *r)
{
	return any_get(r, true);
}

/* on_timeout of a parked wait_any: nil (none was set in time). */
static void wait_any_timed_out(ag_waiter *w)
{
	ag_reply_nil(&w->to);
}

/*
 * wait_any [handles, timeout=nil] -> the handle of a set event, or nil:
 * the first of the list that is set, at once; else parked on every event
 * until one is set (its handle) or the timeout passes (nil, as Event.wait
 * answers false). Waiting changes nothing: nothing is journaled.
 */
int ag_srv_wait_any(ag_req *r)
{
	ag_object *objs[AG_ANY_MAX];
	struct ag_waitq *qs[AG_ANY_MAX];
	uint64_t hs[AG_ANY_MAX];
	double timeout;
	uint32_t n = 0, i;
	int rc;

	if ((rc = arg_objects(r, &ag_family_event, NULL, "event", AG_RIGHT_READ,
			      objs, hs, &n)) < 0 ||
	    (rc = ag_arg_timeout(r, 1, &timeout)) < 0)
		return rc;
	for (i = 0; i < n; i++)
		if (ag_event_is_set(objs[i])) {
			ag_reply_uint(&r->to, hs[i]);
			return 0;
		}
	if (timeout == 0) {
		ag_reply_nil(&r->to);
		return 0;
	}
	for (i = 0; i < n; i++)
		qs[i] = ag_event_waiters(objs[i]);
	if (ag_wait_park_any(r, n, objs, qs, hs, timeout, wait_any_timed_out) ==
	    NULL)
		return AGORA_ELIMIT;
	return 0;
}

/*
 * acquire_any [handles, block=true, timeout=nil] -> the handle of the
 * lock or rlock taken, or nil: the first of the list that is free (or an
 * rlock this connection owns, re-entered), at once; else parked in every
 * lock's queue until one is handed to it (its handle) or the timeout
 * passes (nil, as acquire answers false). Locks persist by state: the
 * lock taken records it (obj_lock.c).
 */
int ag_srv_acquire_any(ag_req *r)
{
	ag_object *objs[AG_ANY_MAX];
	struct ag_waitq *qs[AG_ANY_MAX];
	uint64_t hs[AG_ANY_MAX];
	double timeout;
	bool block;
	uint32_t n = 0, i;
	int rc;

	if ((rc = arg_objects(r, &ag_family_lock, &ag_family_rlock, "lock",
			      AG_RIGHT_WRITE, objs, hs, &n)) < 0 ||
	    (rc = ag_arg_block(r, 1, &block, &timeout)) < 0)
		return rc;
	if (!ag_persist_admit(r))
		return AGORA_ESTORAGE;
	for (i = 0; i < n; i++) {
		rc = ag_lock_try(objs[i], r->to.conn);
		if (rc < 0)
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "acquire_any: out of memory "
					      "taking the lock");
		if (rc == 1) {
			ag_reply_uint(&r->to, hs[i]);
			return 0;
		}
	}
	if (!block || timeout == 0) {
		ag_reply_nil(&r->to);
		return 0;
	}
	for (i = 0; i < n; i++)
		qs[i] = ag_lock_waiters(objs[i]);
	if (ag_wait_park_any(r, n, objs, qs, hs, timeout, wait_any_timed_out) ==
	    NULL)
		return AGORA_ELIMIT;
	return 0;
}

/* cancel [msgid] -> bool */
int ag_srv_cancel(ag_req *r)
{
	int64_t msgid;
	int rc;

	if ((rc = ag_arg_int(r, 0, &msgid)) < 0)
		return rc;
	if (msgid < 0 || msgid > UINT32_MAX)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "cancel: msgid must be 0 to %u, not %lld",
				      UINT32_MAX, (long long)msgid);
	/* The cancelled call's answer goes first. */
	bool found = ag_wait_cancel(r->to.conn, (uint32_t)msgid);

	ag_reply_bool(&r->to, found);
	return 0;
}
