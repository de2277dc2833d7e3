/*
 * proxy_queue.c - agora_queue: a proxy for a shared FIFO queue in the
 * server, and the ag_queue_* methods it shares with agora_jqueue.
 *
 * One function per method of section 3.1, handle first, each one blocking
 * round trip through the ag_proxy helpers (internal.h). The ag_queue_*
 * functions take the ag_proxy, whose wire type ("queue" or
 * "joinable_queue") names the method, so both proxies run the same code;
 * the public functions here only check for NULL and pass the proxy on.
 * put and get block in the server, not here: the C timeout travels as the
 * (block, timeout) pair ag_proxy_timeout() writes, and the call waits for
 * the server's answer, which comes when an item or a slot is there or the
 * timeout ran out (AGORA_EEMPTY / AGORA_EFULL).
 *
 * Acknowledged delivery (take, ack, nack, pending; docs/protocol.md 4.3.1):
 * take answers [id, item] or, asked for details, [id, item, deliveries];
 * the item stays pending on this connection until ack or nack names its
 * id, its lease passes, or the connection ends. The client keeps nothing
 * of it: the server alone knows what is pending, and a reconnect leaves
 * nothing pending (what the old connection held went back to the queue).
 *
 * Waiting on several queues at once (get_any, take_any) is proxy_any.c's.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* ---- shared by queue and joinable_queue ---------------------------------- */

int ag_queue_open(agora_client *c, void *ret_proxy, size_t size,
		  const char *type, const char *name, size_t maxsize)
{
	agora_pair opt;

	opt.key = agora_str("maxsize");
	opt.val = agora_uint(maxsize);
	return ag_proxy_open(c, ret_proxy, size, type, name, &opt, 1);
}

/* open with maxsize, max_deliveries and dead_letter. @dead_letter is not
 * NULL (the public edge checks). */
int ag_queue_open_dead_letter(agora_client *c, void *ret_proxy, size_t size,
			      const char *type, const char *name,
			      size_t maxsize, uint32_t max_deliveries,
			      const char *dead_letter)
{
	agora_pair opt[3];

	opt[0].key = agora_str("maxsize");
	opt[0].val = agora_uint(maxsize);
	opt[1].key = agora_str("max_deliveries");
	opt[1].val = agora_uint(max_deliveries);
	opt[2].key = agora_str("dead_letter");
	opt[2].val = agora_str(dead_letter);
	return ag_proxy_open(c, ret_proxy, size, type, name, opt, 3);
}

int ag_queue_put(const ag_proxy *p, agora_value v, double timeout)
{
	agora_value a[3];
	int n;

	a[0] = v;
	n = ag_proxy_timeout(p, "put", timeout, true, &a[1]);
	if (n < 0)
		return n;
	return ag_proxy_call_value(p, "put", a, 1 + (size_t)n, NULL);
}

/* The item is taken once the call succeeds; a NULL @ret drops it. */
int ag_queue_get(const ag_proxy *p, double timeout, agora_value *ret)
{
	agora_value a[2];
	int n = ag_proxy_timeout(p, "get", timeout, true, a);

	if (n < 0)
		return n;
	return ag_proxy_call_value(p, "get", a, (size_t)n, ret);
}

int ag_queue_get_int(const ag_proxy *p, double timeout, int64_t *ret)
{
	agora_value a[2];
	int n = ag_proxy_timeout(p, "get", timeout, true, a);

	if (n < 0)
		return n;
	return ag_proxy_take_as_int(p, "get", a, (size_t)n, "the queue item",
				    ret);
}

int ag_queue_get_str(const ag_proxy *p, double timeout, char **ret)
{
	agora_value a[2];
	int n;

	if (ret == NULL)
		return ag_proxy_no_result(p, "get");
	n = ag_proxy_timeout(p, "get", timeout, true, a);
	if (n < 0)
		return n;
	return ag_proxy_take_as_str(p, "get", a, (size_t)n, "the queue item",
				    ret);
}

int ag_queue_put_nowait(const ag_proxy *p, agora_value v)
{
	return ag_proxy_call_value(p, "put_nowait", &v, 1, NULL);
}

int ag_queue_get_nowait(const ag_proxy *p, agora_value *ret)
{
	return ag_proxy_call_value(p, "get_nowait", NULL, 0, ret);
}

int ag_queue_qsize(const ag_proxy *p, size_t *ret)
{
	if (ret == NULL)
		return ag_proxy_no_result(p, "qsize");
	return ag_proxy_call_size(p, "qsize", NULL, 0, ret);
}

int ag_queue_empty(const ag_proxy *p, bool *ret)
{
	if (ret == NULL)
		return ag_proxy_no_result(p, "empty");
	return ag_proxy_call_bool(p, "empty", NULL, 0, ret);
}

int ag_queue_full(const ag_proxy *p, bool *ret)
{
	if (ret == NULL)
		return ag_proxy_no_result(p, "full");
	return ag_proxy_call_bool(p, "full", NULL, 0, ret);
}

/* peek [n]: an array of up to @n oldest items, nothing taken. */
int ag_queue_peek(const ag_proxy *p, size_t n, agora_value *ret)
{
	agora_value a = agora_uint(n);

	if (ret == NULL)
		return ag_proxy_no_result(p, "peek");
	return ag_proxy_call_value(p, "peek", &a, 1, ret);
}

/* The unsigned integer in @o: an id, or (@positive) a delivery count. */
static bool obj_uint(const msgpack_object *o, bool positive, uint64_t *ret)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    (positive && o->via.u64 == 0))
		return false;
	*ret = o->via.u64;
	return true;
}

/*
 * take [block, timeout, lease, details]: the timeout as get's, @lease > 0
 * seconds or none (0, negative or infinite: nil), details only when
 * @ret_deliveries wants them; trailing defaults are left out. The answer
 * is checked before anything is written: [id, item] or [id, item,
 * deliveries]. An answer that is not that breaks nothing but is
 * AGORA_EPROTOCOL (the item, if one was taken, goes back when this
 * connection ends or its lease passes, as does one whose copy ran out of
 * memory).
 */
int ag_queue_take(const ag_proxy *p, double timeout, double lease,
		  uint64_t *ret_id, agora_value *ret_item,
		  uint64_t *ret_deliveries)
{
	const msgpack_object *o, *a;
	agora_value args[4], item;
	uint64_t id, deliveries = 0;
	bool details = ret_deliveries != NULL;
	bool leased = lease > 0 && !isinf(lease);
	char method[48];
	int n, rc;

	if (ret_id == NULL)
		return ag_client_fail(p->c, AGORA_EINVAL,
				      "%s.take needs a place for the id: "
				      "without it the item cannot be "
				      "acknowledged",
				      p->type);
	if (isnan(lease))
		return ag_client_fail(p->c, AGORA_EINVAL,
				      "%s.take: the lease is NaN", p->type);
	n = ag_proxy_timeout(p, "take", timeout, true, args);
	if (n < 0)
		return n;
	if (leased || details) {
		if (n == 1) /* not blocking: the timeout is nil */
			args[n++] = agora_nil();
		args[n++] = leased ? agora_float(lease) : agora_nil();
	}
	if (details)
		args[n++] = agora_bool(true);
	rc = ag_proxy_call(p, "take", args, (size_t)n, &o);
	if (rc < 0)
		return rc;
	a = o->type == MSGPACK_OBJECT_ARRAY &&
		    o->via.array.size == (details ? 3u : 2u)
		? o->via.array.ptr
		: NULL;
	if (a == NULL || !obj_uint(&a[0], false, &id) ||
	    (details && !obj_uint(&a[2], true, &deliveries))) {
		snprintf(method, sizeof(method), "%s.take", p->type);
		return ag_client_bad_result(p->c, method, o,
					    details ? "[id, item, deliveries]"
						    : "[id, item]");
	}
	if (ret_item != NULL) {
		rc = ag_value_unpack(&a[1], &item);
		if (rc < 0)
			return ag_client_fail(p->c, rc,
					      "out of memory copying taken "
					      "item %" PRIu64 ": it stays "
					      "pending until the lease or "
					      "the connection ends",
					      id);
		*ret_item = item;
	}
	*ret_id = id;
	if (details)
		*ret_deliveries = deliveries;
	return 0;
}

/* ack or nack (@method) [id]: nil, or AGORA_EVALUE naming @id when it is not
 * pending on this connection. */
int ag_queue_settle(const ag_proxy *p, const char *method, uint64_t id)
{
	agora_value a = agora_uint(id);

	return ag_proxy_call_value(p, method, &a, 1, NULL);
}

int ag_queue_pending(const ag_proxy *p, agora_value *ret)
{
	if (ret == NULL)
		return ag_proxy_no_result(p, "pending");
	return ag_proxy_call_value(p, "pending", NULL, 0, ret);
}

/* ---- queue --------------------------------------------------------------- */

/*
 * Open the queue @name (get-or-create), or a new anonymous queue for NULL.
 * @maxsize (0 for unbounded) is used only when the queue is created.
 * *ret gets a proxy to close with agora_queue_close(). AGORA_ETYPE when
 * @name is another type, a joinable queue included; else as any call.
 */
int agora_queue_open(agora_client *c, const char *name, size_t maxsize,
		     agora_queue **ret)
{
	return ag_queue_open(c, ret, sizeof(**ret), "queue", name, maxsize);
}

int agora_queue_put(agora_queue *q, agora_value v, double timeout)
{
	return q != NULL ? ag_queue_put(&q->p, v, timeout) : AGORA_EINVAL;
}

/* AGORA_EEMPTY when nothing came within @timeout. A NULL @ret drops the
 * item, which is taken all the same. */
int agora_queue_get(agora_queue *q, double timeout, agora_value *ret)
{
	return q != NULL ? ag_queue_get(&q->p, timeout, ret) : AGORA_EINVAL;
}

/* get(), then the item as an integer: AGORA_ETYPE when it is not one (the
 * item is taken from the queue all the same, and kept by the client for
 * agora_client_take_item()). @ret may be NULL. */
int agora_queue_get_int(agora_queue *q, double timeout, int64_t *ret)
{
	return q != NULL ? ag_queue_get_int(&q->p, timeout, ret) : AGORA_EINVAL;
}

/* get(), then the item as a malloc'ed NUL-terminated str (free() it):
 * AGORA_ETYPE when it is not a str (the item is taken all the same). */
int agora_queue_get_str(agora_queue *q, double timeout, char **ret)
{
	return q != NULL ? ag_queue_get_str(&q->p, timeout, ret) : AGORA_EINVAL;
}

int agora_queue_put_nowait(agora_queue *q, agora_value v)
{
	return q != NULL ? ag_queue_put_nowait(&q->p, v) : AGORA_EINVAL;
}

int agora_queue_get_nowait(agora_queue *q, agora_value *ret)
{
	return q != NULL ? ag_queue_get_nowait(&q->p, ret) : AGORA_EINVAL;
}

int agora_queue_qsize(agora_queue *q, size_t *ret)
{
	return q != NULL ? ag_queue_qsize(&q->p, ret) : AGORA_EINVAL;
}

int agora_queue_empty(agora_queue *q, bool *ret)
{
	return q != NULL ? ag_queue_empty(&q->p, ret) : AGORA_EINVAL;
}

int agora_queue_full(agora_queue *q, bool *ret)
{
	return q != NULL ? ag_queue_full(&q->p, ret) : AGORA_EINVAL;
}

int agora_queue_peek(agora_queue *q, size_t n, agora_value *ret)
{
	return q != NULL ? ag_queue_peek(&q->p, n, ret) : AGORA_EINVAL;
}

/*
 * agora_queue_open() with a limit of deliveries: an item that would be
 * delivered a (@max_deliveries + 1)th time is appended to the queue or
 * joinable queue named @dead_letter instead, which must exist. Both are
 * used only when the queue is created. AGORA_EINVAL for a NULL
 * @dead_letter; AGORA_EVALUE for a @max_deliveries of 0 or a @dead_letter
 * that names no queue; else as agora_queue_open().
 */
int agora_queue_open_dead_letter(agora_client *c, const char *name,
				 size_t maxsize, uint32_t max_deliveries,
				 const char *dead_letter, agora_queue **ret)
{
	if (dead_letter == NULL)
		return ag_client_fail(c, AGORA_EINVAL,
				      "open queue: the dead_letter queue's "
				      "name is NULL");
	return ag_queue_open_dead_letter(c, ret, sizeof(**ret), "queue", name,
					 maxsize, max_deliveries, dead_letter);
}

/*
 * Take the oldest item, waiting up to @timeout as agora_queue_get(), and
 * keep it pending on this connection until agora_queue_ack() or
 * agora_queue_nack() of *ret_id, @lease seconds (> 0; 0 or AGORA_FOREVER:
 * no lease), or the connection's end: then it goes back to the head of the
 * queue. *ret_id and *ret_item (may be NULL: the item stays pending all the
 * same) are written on success only.
 */
int agora_queue_take(agora_queue *q, double timeout, double lease,
		     uint64_t *ret_id, agora_value *ret_item)
{
	return q != NULL ? ag_queue_take(&q->p, timeout, lease, ret_id,
					 ret_item, NULL)
			 : AGORA_EINVAL;
}

/* take(), and how many times the item was delivered, this one included. */
int agora_queue_take_ex(agora_queue *q, double timeout, double lease,
			uint64_t *ret_id, agora_value *ret_item,
			uint64_t *ret_deliveries)
{
	if (q == NULL)
		return AGORA_EINVAL;
	if (ret_deliveries == NULL)
		return ag_proxy_no_result(&q->p, "take");
	return ag_queue_take(&q->p, timeout, lease, ret_id, ret_item,
			     ret_deliveries);
}

int agora_queue_ack(agora_queue *q, uint64_t id)
{
	return q != NULL ? ag_queue_settle(&q->p, "ack", id) : AGORA_EINVAL;
}

int agora_queue_nack(agora_queue *q, uint64_t id)
{
	return q != NULL ? ag_queue_settle(&q->p, "nack", id) : AGORA_EINVAL;
}

int agora_queue_pending(agora_queue *q, agora_value *ret)
{
	return q != NULL ? ag_queue_pending(&q->p, ret) : AGORA_EINVAL;
}
