/*
 * proxy_jqueue.c - agora_jqueue: a proxy for a joinable queue in the server.
 *
 * The calls of agora_queue, with the same contracts ("joinable_queue.put"
 * and so on, through the ag_proxy helpers of internal.h), plus task_done
 * and join. put, get and join block in the server, not here: the C timeout
 * travels as ag_proxy_timeout() writes it, and the call waits for the
 * answer, which comes when the item, the slot or the last task_done is
 * there or the timeout ran out.
 */
#include <stdlib.h>

#include "internal.h"

struct agora_jqueue {
	ag_proxy p;
};

/*
 * Open the joinable queue @name (get-or-create), or a new anonymous one for
 * NULL; @maxsize (0 for unbounded) is used only at creation. AGORA_ETYPE
 * when @name is another type, a plain queue included.
 */
int agora_jqueue_open(agora_client *c, const char *name, size_t maxsize,
		      agora_jqueue **ret)
{
	agora_pair opt;

	opt.key = agora_str("maxsize");
	opt.val = agora_uint(maxsize);
	return ag_proxy_open(c, ret, sizeof(**ret), "joinable_queue", name,
			     &opt, 1);
}

int agora_jqueue_close(agora_jqueue *q)
{
	return q != NULL ? ag_proxy_close(&q->p) : 0;
}

uint32_t agora_jqueue_handle(const agora_jqueue *q)
{
	return q != NULL ? q->p.handle : 0;
}

/* The get request: on 0, *ret_obj is the item, valid until the next call
 * on the client. */
static int jqueue_get_obj(agora_jqueue *q, double timeout,
			  const msgpack_object **ret_obj)
{
	agora_value a[2];
	int n = ag_proxy_timeout(&q->p, "get", timeout, true, a);

	if (n < 0)
		return n;
	return ag_proxy_call(&q->p, "get", a, (size_t)n, ret_obj);
}

/* AGORA_EFULL when the queue stayed full for @timeout. Each put adds an
 * unfinished task. */
int agora_jqueue_put(agora_jqueue *q, agora_value v, double timeout)
{
	agora_value a[3];
	int n;

	if (q == NULL)
		return AGORA_EINVAL;
	a[0] = v;
	n = ag_proxy_timeout(&q->p, "put", timeout, true, &a[1]);
	if (n < 0)
		return n;
	return ag_proxy_call_value(&q->p, "put", a, 1 + (size_t)n, NULL);
}

/* AGORA_EEMPTY when nothing came within @timeout. A NULL @ret drops the
 * item, which is taken all the same. */
int agora_jqueue_get(agora_jqueue *q, double timeout, agora_value *ret)
{
	const msgpack_object *o;
	agora_value v;
	int rc;

	if (q == NULL)
		return AGORA_EINVAL;
	rc = jqueue_get_obj(q, timeout, &o);
	if (rc < 0 || ret == NULL)
		return rc;
	rc = ag_value_unpack(o, &v);
	if (rc < 0)
		return ag_client_fail(q->p.c, rc,
				      "out of memory decoding a queue item");
	*ret = v;
	return 0;
}

/* get(), then the item as an integer: AGORA_ETYPE when it is not one (the
 * item is taken all the same). @ret may be NULL. */
int agora_jqueue_get_int(agora_jqueue *q, double timeout, int64_t *ret)
{
	const msgpack_object *o;
	int64_t n;
	int rc;

	if (q == NULL)
		return AGORA_EINVAL;
	rc = jqueue_get_obj(q, timeout, &o);
	if (rc < 0)
		return rc;
	rc = ag_client_obj_int(q->p.c, o, "the queue item", &n);
	if (rc == 0 && ret != NULL)
		*ret = n;
	return rc;
}

/* get(), then the item as a malloc'ed NUL-terminated str (free() it):
 * AGORA_ETYPE when it is not a str (the item is taken all the same). */
int agora_jqueue_get_str(agora_jqueue *q, double timeout, char **ret)
{
	const msgpack_object *o;
	int rc;

	if (q == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&q->p, "get");
	rc = jqueue_get_obj(q, timeout, &o);
	if (rc < 0)
		return rc;
	return ag_client_obj_str(q->p.c, o, "the queue item", ret);
}

int agora_jqueue_put_nowait(agora_jqueue *q, agora_value v)
{
	if (q == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&q->p, "put_nowait", &v, 1, NULL);
}

int agora_jqueue_get_nowait(agora_jqueue *q, agora_value *ret)
{
	if (q == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&q->p, "get_nowait", NULL, 0, ret);
}

int agora_jqueue_qsize(agora_jqueue *q, size_t *ret)
{
	if (q == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&q->p, "qsize");
	return ag_proxy_call_size(&q->p, "qsize", NULL, 0, ret);
}

int agora_jqueue_empty(agora_jqueue *q, bool *ret)
{
	if (q == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&q->p, "empty");
	return ag_proxy_call_bool(&q->p, "empty", NULL, 0, ret);
}

int agora_jqueue_full(agora_jqueue *q, bool *ret)
{
	if (q == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&q->p, "full");
	return ag_proxy_call_bool(&q->p, "full", NULL, 0, ret);
}

/* One task finished: AGORA_EVALUE when there is no unfinished task. */
int agora_jqueue_task_done(agora_jqueue *q)
{
	if (q == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&q->p, "task_done", NULL, 0, NULL);
}

/* Wait up to @timeout for every task to be done: *ret_done true when they
 * are (at once when there is none), false on timeout. */
int agora_jqueue_join(agora_jqueue *q, double timeout, bool *ret_done)
{
	if (q == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_timed(&q->p, "join", timeout, false, ret_done);
}
