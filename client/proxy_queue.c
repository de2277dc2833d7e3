/*
 * proxy_queue.c - agora_queue: a proxy for a shared FIFO queue in the server.
 *
 * One function per method of section 3.1 ("queue.METHOD", handle first).
 * put and get block in the server, not here: the C timeout becomes the wire
 * pair (block, timeout) -- AGORA_FOREVER (any negative) is (true, nil), 0 is
 * (false) and more is (true, seconds) -- and the call then waits for the
 * server's answer, which comes when an item or a slot is there or the
 * timeout ran out (AGORA_EEMPTY / AGORA_EFULL).
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

struct agora_queue {
	agora_client *c;
	uint32_t handle;
};

/*
 * Open the queue @name (get-or-create), or a new anonymous queue for NULL.
 * @maxsize (0 for unbounded) is used only when the queue is created.
 * *ret gets a proxy to close with agora_queue_close(). AGORA_ETYPE when
 * @name is another type; else as any call.
 */
int agora_queue_open(agora_client *c, const char *name, size_t maxsize,
		     agora_queue **ret)
{
	agora_pair opt;
	agora_queue *q;
	int rc;

	if (c == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(c, AGORA_EINVAL, "open needs a result");
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return ag_client_fail(c, AGORA_ENOMEM, "out of memory");
	opt.key = agora_str("maxsize");
	opt.val = agora_uint(maxsize);
	rc = ag_client_open(c, "queue", name, &opt, 1, &q->handle);
	if (rc < 0) {
		free(q);
		return rc;
	}
	q->c = c;
	*ret = q;
	return 0;
}

/* Release the handle and free @q, even when the call fails; from a fork()
 * child nothing is sent (AGORA_EINVAL). Accepts NULL. */
int agora_queue_close(agora_queue *q)
{
	int rc;

	if (q == NULL)
		return 0;
	rc = ag_client_close_handle(q->c, q->handle);
	free(q);
	return rc;
}

uint32_t agora_queue_handle(const agora_queue *q)
{
	return q != NULL ? q->handle : 0;
}

/*
 * Append (block, timeout) for @timeout to @p and return how many params
 * that made; -1 for a NaN timeout. An infinite timeout is forever.
 */
static int timeout_params(double timeout, agora_value *p)
{
	if (isnan(timeout))
		return -1;
	if (timeout < 0 || isinf(timeout)) {
		p[0] = agora_bool(true);
		p[1] = agora_nil();
		return 2;
	}
	if (timeout == 0) {
		p[0] = agora_bool(false);
		return 1;
	}
	p[0] = agora_bool(true);
	p[1] = agora_float(timeout);
	return 2;
}

/* The get request: on 0, *ret_obj is the item, valid until the next call
 * on the client. */
static int queue_get_obj(agora_queue *q, double timeout,
			 const msgpack_object **ret_obj)
{
	agora_value p[3];
	int n;

	p[0] = agora_uint(q->handle);
	n = timeout_params(timeout, &p[1]);
	if (n < 0)
		return ag_client_fail(q->c, AGORA_EINVAL,
				      "queue.get: the timeout is NaN");
	return ag_client_call(q->c, "queue.get", p, 1 + (size_t)n, ret_obj);
}

int agora_queue_put(agora_queue *q, agora_value v, double timeout)
{
	agora_value p[4];
	int n;

	if (q == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(q->handle);
	p[1] = v;
	n = timeout_params(timeout, &p[2]);
	if (n < 0)
		return ag_client_fail(q->c, AGORA_EINVAL,
				      "queue.put: the timeout is NaN");
	return ag_client_call_value(q->c, "queue.put", p, 2 + (size_t)n, NULL);
}

int agora_queue_get(agora_queue *q, double timeout, agora_value *ret)
{
	const msgpack_object *o;
	agora_value v;
	int rc;

	if (q == NULL)
		return AGORA_EINVAL;
	rc = queue_get_obj(q, timeout, &o);
	if (rc < 0)
		return rc;
	/* The item is taken now; a NULL @ret drops it. */
	if (ret == NULL)
		return 0;
	rc = ag_value_unpack(o, &v);
	if (rc < 0)
		return ag_client_fail(q->c, rc,
				      "out of memory decoding a queue item");
	*ret = v;
	return 0;
}

/* get(), then the item as an integer: AGORA_ETYPE when it is not one (the
 * item is taken from the queue all the same). */
int agora_queue_get_int(agora_queue *q, double timeout, int64_t *ret)
{
	const msgpack_object *o;
	int64_t n;
	int rc;

	if (q == NULL)
		return AGORA_EINVAL;
	rc = queue_get_obj(q, timeout, &o);
	if (rc < 0)
		return rc;
	rc = ag_client_obj_int(q->c, o, "the queue item", &n);
	if (rc == 0 && ret != NULL)
		*ret = n;
	return rc;
}

/* get(), then the item as a malloc'ed NUL-terminated str (free() it):
 * AGORA_ETYPE when it is not a str (the item is taken all the same). */
int agora_queue_get_str(agora_queue *q, double timeout, char **ret)
{
	const msgpack_object *o;
	int rc;

	if (q == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(q->c, AGORA_EINVAL,
				      "queue.get needs a result");
	rc = queue_get_obj(q, timeout, &o);
	if (rc < 0)
		return rc;
	return ag_client_obj_str(q->c, o, "the queue item", ret);
}

int agora_queue_put_nowait(agora_queue *q, agora_value v)
{
	agora_value p[2];

	if (q == NULL)
		return AGORA_EINVAL;
	p[0] = agora_uint(q->handle);
	p[1] = v;
	return ag_client_call_value(q->c, "queue.put_nowait", p, 2, NULL);
}

int agora_queue_get_nowait(agora_queue *q, agora_value *ret)
{
	agora_value p;

	if (q == NULL)
		return AGORA_EINVAL;
	p = agora_uint(q->handle);
	return ag_client_call_value(q->c, "queue.get_nowait", &p, 1, ret);
}

int agora_queue_qsize(agora_queue *q, size_t *ret)
{
	agora_value p;

	if (q == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(q->c, AGORA_EINVAL,
				      "queue.qsize needs a result");
	p = agora_uint(q->handle);
	return ag_client_call_size(q->c, "queue.qsize", &p, 1, ret);
}

int agora_queue_empty(agora_queue *q, bool *ret)
{
	agora_value p;

	if (q == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(q->c, AGORA_EINVAL,
				      "queue.empty needs a result");
	p = agora_uint(q->handle);
	return ag_client_call_bool(q->c, "queue.empty", &p, 1, ret);
}

int agora_queue_full(agora_queue *q, bool *ret)
{
	agora_value p;

	if (q == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_client_fail(q->c, AGORA_EINVAL,
				      "queue.full needs a result");
	p = agora_uint(q->handle);
	return ag_client_call_bool(q->c, "queue.full", &p, 1, ret);
}
