/*
 * proxy_any.c - waiting on several objects of one client at once: the
 * server methods get_any and take_any (queues, joinable queues), wait_any
 * (events) and acquire_any (locks), docs/protocol.md 3.1.
 *
 * The handles of the proxies go as one array; the answer names the handle
 * of the object that served (a queue's [h, item] or [h, id, item], an
 * event's or lock's h, or nil when the time ran out), which is matched
 * back to its place in the caller's array.
 *
 * Reconnecting (agora_client_set_reconnect()) happens before the call when
 * the connection is found gone, never during it: a call made again on a
 * new connection would name the old connection's handles, which the
 * library does not rewrite inside an array. A connection lost while the
 * call waits fails it; the next call reconnects.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "internal.h"

/* The most objects one call names (the server's limit). */
#define ANY_MAX 64

/* The proxies of @n objects of the public type @T (a struct with the
 * ag_proxy p) in @objs into @ps; on failure return the code from the
 * enclosing function. */
#define ANY_PROXIES(T, objs, n, ps)                                          \
	do {                                                                 \
		int rc_;                                                     \
		if ((objs) == NULL || (n) == 0 || (objs)[0] == NULL)         \
			return AGORA_EINVAL;                                 \
		rc_ = check_count((objs)[0]->p.c, (n));                      \
		if (rc_ < 0)                                                 \
			return rc_;                                          \
		for (size_t i_ = 0; i_ < (n); i_++) {                        \
			if ((objs)[i_] == NULL)                              \
				return ag_client_fail(                       \
				    (objs)[0]->p.c, AGORA_EINVAL,            \
				    "%s: object %zu is NULL", __func__, i_); \
			(ps)[i_] = &(objs)[i_]->p;                           \
		}                                                            \
	} while (0)

static int check_count(agora_client *c, size_t n)
{
	if (n <= ANY_MAX)
		return 0;
	return ag_client_fail(c, AGORA_EINVAL,
			      "waiting on %zu objects at once: 1 to %d", n,
			      ANY_MAX);
}

/*
 * Call @method [handles, @args...] for the proxies @ps (one client, none
 * lost), the timeout written by ag_proxy_timeout() into @args[0..]
 * beforehand by the caller (@nargs in all). *ret_o: the result; @hs the
 * handles sent (for any_index()).
 */
static int any_call(const ag_proxy *const *ps, size_t n, const char *method,
		    agora_value *args, size_t nargs, agora_value *hs,
		    const msgpack_object **ret_o)
{
	agora_client *c = ps[0]->c;
	agora_value params[6];
	int (*recover)(agora_client * c);
	int rc;

	params[0] = agora_array(hs, n);
	for (size_t i = 0; i < nargs; i++)
		params[1 + i] = args[i];
	recover = c->recover;
	c->recover = NULL;
	rc = ag_client_call(c, method, params, 1 + nargs, ret_o);
	c->recover = recover;
	return rc;
}

/* Check the proxies @ps, reconnect first if the connection is gone, and
 * fill @hs with their handles. */
static int any_prepare(const ag_proxy *const *ps, size_t n, const char *method,
		       agora_value *hs)
{
	agora_client *c = ps[0]->c;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (ps[i]->c != c)
			return ag_client_fail(c, AGORA_EINVAL,
					      "%s: object %zu is of another "
					      "client",
					      method, i);
		if (ps[i]->lost != NULL)
			return ag_client_fail(c, AGORA_ENO_OBJECT,
					      "%s: object %zu: %s", method, i,
					      ps[i]->lost);
	}
	if (c->recover != NULL && !c->recovering &&
	    ag_client_usable(c) == AGORA_EIO && (rc = c->recover(c)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		hs[i] = agora_uint(ps[i]->handle);
	return 0;
}

/* The place in @hs of the handle @h, or @n when it is none of them. */
static size_t any_index(const agora_value *hs, size_t n,
			const msgpack_object *h)
{
	size_t i = 0;

	if (h->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return n;
	while (i < n && hs[i].via.u != h->via.u64)
		i++;
	return i;
}

/* ---- queues -------------------------------------------------------------- */

/*
 * get_any or take_any (@take, with @lease) on the proxies @ps: the answer
 * [h, item] or [h, id, item], checked before anything is written;
 * *ret_index is the place of h in @ps.
 */
static int queue_any(const ag_proxy *const *ps, size_t n, double timeout,
		     bool take, double lease, size_t *ret_index,
		     uint64_t *ret_id, agora_value *ret_item)
{
	const char *method = take ? "take_any" : "get_any";
	agora_value hs[ANY_MAX], args[4], item;
	const msgpack_object *o, *a;
	bool leased = lease > 0 && !isinf(lease);
	agora_client *c = ps[0]->c;
	size_t i;
	int nt, rc;

	if (take && ret_id == NULL)
		return ag_client_fail(c, AGORA_EINVAL,
				      "take_any needs a place for the id: "
				      "without it the item cannot be "
				      "acknowledged");
	if (isnan(lease))
		return ag_client_fail(c, AGORA_EINVAL, "%s: the lease is NaN",
				      method);
	if ((rc = any_prepare(ps, n, method, hs)) < 0)
		return rc;
	nt = ag_proxy_timeout(ps[0], method, timeout, true, args);
	if (nt < 0)
		return nt;
	if (take && leased) {
		if (nt == 1) /* not blocking: the timeout is nil */
			args[nt++] = agora_nil();
		args[nt++] = agora_float(lease);
	}
	rc = any_call(ps, n, method, args, (size_t)nt, hs, &o);
	if (rc < 0)
		return rc;
	a = o->type == MSGPACK_OBJECT_ARRAY &&
		    o->via.array.size == (take ? 3u : 2u)
		? o->via.array.ptr
		: NULL;
	i = a != NULL ? any_index(hs, n, &a[0]) : n;
	if (i == n || (take && a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER))
		return ag_client_bad_result(c, method, o,
					    take ? "[handle, id, item] with a "
						   "handle it was given"
						 : "[handle, item] with a "
						   "handle it was given");
	if (ret_item != NULL) {
		rc = ag_value_unpack(&a[take ? 2 : 1], &item);
		if (rc < 0)
			return ag_client_fail(c, rc,
					      "out of memory copying the item "
					      "of %s",
					      method);
		*ret_item = item;
	}
	if (ret_index != NULL)
		*ret_index = i;
	if (take)
		*ret_id = a[1].via.u64;
	return 0;
}

int agora_queue_get_any(agora_queue *const *qs, size_t n, double timeout,
			size_t *ret_index, agora_value *ret)
{
	const ag_proxy *ps[ANY_MAX];

	ANY_PROXIES(agora_queue, qs, n, ps);
	return queue_any(ps, n, timeout, false, 0, ret_index, NULL, ret);
}

int agora_queue_take_any(agora_queue *const *qs, size_t n, double timeout,
			 double lease, size_t *ret_index, uint64_t *ret_id,
			 agora_value *ret_item)
{
	const ag_proxy *ps[ANY_MAX];

	ANY_PROXIES(agora_queue, qs, n, ps);
	return queue_any(ps, n, timeout, true, lease, ret_index, ret_id,
			 ret_item);
}

int agora_jqueue_get_any(agora_jqueue *const *qs, size_t n, double timeout,
			 size_t *ret_index, agora_value *ret)
{
	const ag_proxy *ps[ANY_MAX];

	ANY_PROXIES(agora_jqueue, qs, n, ps);
	return queue_any(ps, n, timeout, false, 0, ret_index, NULL, ret);
}

int agora_jqueue_take_any(agora_jqueue *const *qs, size_t n, double timeout,
			  double lease, size_t *ret_index, uint64_t *ret_id,
			  agora_value *ret_item)
{
	const ag_proxy *ps[ANY_MAX];

	ANY_PROXIES(agora_jqueue, qs, n, ps);
	return queue_any(ps, n, timeout, true, lease, ret_index, ret_id,
			 ret_item);
}

/* ---- events and locks ---------------------------------------------------- */

/*
 * wait_any or acquire_any (@block: it takes a block param) on @ps: the
 * answer h or nil. *ret_done: whether one was (set, acquired), and then
 * *ret_index its place.
 */
static int flag_any(const ag_proxy *const *ps, size_t n, const char *method,
		    bool block, double timeout, size_t *ret_index,
		    bool *ret_done)
{
	agora_value hs[ANY_MAX], args[2];
	const msgpack_object *o;
	size_t i;
	int nt, rc;

	if ((rc = any_prepare(ps, n, method, hs)) < 0)
		return rc;
	nt = ag_proxy_timeout(ps[0], method, timeout, block, args);
	if (nt < 0)
		return nt;
	rc = any_call(ps, n, method, args, (size_t)nt, hs, &o);
	if (rc < 0)
		return rc;
	i = any_index(hs, n, o);
	if (o->type != MSGPACK_OBJECT_NIL && i == n)
		return ag_client_bad_result(ps[0]->c, method, o,
					    "a handle it was given, or nil");
	if (i < n && ret_index != NULL)
		*ret_index = i;
	if (ret_done != NULL)
		*ret_done = i < n;
	return 0;
}

int agora_event_wait_any(agora_event *const *evs, size_t n, double timeout,
			 size_t *ret_index, bool *ret_set)
{
	const ag_proxy *ps[ANY_MAX];

	ANY_PROXIES(agora_event, evs, n, ps);
	return flag_any(ps, n, "wait_any", false, timeout, ret_index, ret_set);
}

int agora_lock_acquire_any(agora_lock *const *ls, size_t n, double timeout,
			   size_t *ret_index, bool *ret_acquired)
{
	const ag_proxy *ps[ANY_MAX];

	ANY_PROXIES(agora_lock, ls, n, ps);
	return flag_any(ps, n, "acquire_any", true, timeout, ret_index,
			ret_acquired);
}
