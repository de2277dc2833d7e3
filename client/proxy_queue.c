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
 */
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
