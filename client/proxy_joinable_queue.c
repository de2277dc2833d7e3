/*
 * proxy_joinable_queue.c - agora_jqueue: a proxy for a joinable queue in
 * the server.
 *
 * The calls of agora_queue, with the same contracts and the same code: the
 * ag_queue_* functions of proxy_queue.c, which name the methods by the
 * proxy's wire type ("joinable_queue.put" and so on). Only task_done and
 * join are its own. join blocks in the server, not here, until the last
 * task_done or the timeout. An ack of a taken item is that item's
 * task_done, done by the server in the same step.
 */
#include <stdlib.h>

#include "internal.h"

/*
 * Open the joinable queue @name (get-or-create), or a new anonymous one for
 * NULL; @maxsize (0 for unbounded) is used only at creation. AGORA_ETYPE
 * when @name is another type, a plain queue included.
 */
int agora_jqueue_open(agora_client *c, const char *name, size_t maxsize,
		      agora_jqueue **ret)
{
	return ag_queue_open(c, ret, sizeof(**ret), "joinable_queue", name,
			     maxsize);
}

/* agora_queue_open_dead_letter() of a joinable queue: an item moved to the
 * dead-letter queue counts as done here. */
int agora_jqueue_open_dead_letter(agora_client *c, const char *name,
				  size_t maxsize, uint32_t max_deliveries,
				  const char *dead_letter, agora_jqueue **ret)
{
	if (dead_letter == NULL)
		return ag_client_fail(c, AGORA_EINVAL,
				      "open joinable_queue: the dead_letter "
				      "queue's name is NULL");
	return ag_queue_open_dead_letter(c, ret, sizeof(**ret),
					 "joinable_queue", name, maxsize,
					 max_deliveries, dead_letter);
}

/* AGORA_EFULL when the queue stayed full for @timeout. Each put adds an
 * unfinished task. */
int agora_jqueue_put(agora_jqueue *q, agora_value v, double timeout)
{
	return q != NULL ? ag_queue_put(&q->p, v, timeout) : AGORA_EINVAL;
}

int agora_jqueue_get(agora_jqueue *q, double timeout, agora_value *ret)
{
	return q != NULL ? ag_queue_get(&q->p, timeout, ret) : AGORA_EINVAL;
}

int agora_jqueue_get_int(agora_jqueue *q, double timeout, int64_t *ret)
{
	return q != NULL ? ag_queue_get_int(&q->p, timeout, ret) : AGORA_EINVAL;
}

int agora_jqueue_get_str(agora_jqueue *q, double timeout, char **ret)
{
	return q != NULL ? ag_queue_get_str(&q->p, timeout, ret) : AGORA_EINVAL;
}

int agora_jqueue_put_nowait(agora_jqueue *q, agora_value v)
{
	return q != NULL ? ag_queue_put_nowait(&q->p, v) : AGORA_EINVAL;
}

int agora_jqueue_get_nowait(agora_jqueue *q, agora_value *ret)
{
	return q != NULL ? ag_queue_get_nowait(&q->p, ret) : AGORA_EINVAL;
}

int agora_jqueue_qsize(agora_jqueue *q, size_t *ret)
{
	return q != NULL ? ag_queue_qsize(&q->p, ret) : AGORA_EINVAL;
}

int agora_jqueue_empty(agora_jqueue *q, bool *ret)
{
	return q != NULL ? ag_queue_empty(&q->p, ret) : AGORA_EINVAL;
}

int agora_jqueue_full(agora_jqueue *q, bool *ret)
{
	return q != NULL ? ag_queue_full(&q->p, ret) : AGORA_EINVAL;
}

int agora_jqueue_peek(agora_jqueue *q, size_t n, agora_value *ret)
{
	return q != NULL ? ag_queue_peek(&q->p, n, ret) : AGORA_EINVAL;
}

int agora_jqueue_take(agora_jqueue *q, double timeout, double lease,
		      uint64_t *ret_id, agora_value *ret_item)
{
	return q != NULL ? ag_queue_take(&q->p, timeout, lease, ret_id,
					 ret_item, NULL)
			 : AGORA_EINVAL;
}

int agora_jqueue_take_ex(agora_jqueue *q, double timeout, double lease,
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

/* The item is done and gone, and one task is done: never call
 * agora_jqueue_task_done() for an item taken with take. */
int agora_jqueue_ack(agora_jqueue *q, uint64_t id)
{
	return q != NULL ? ag_queue_settle(&q->p, "ack", id) : AGORA_EINVAL;
}

/* The item goes back, still unfinished. */
int agora_jqueue_nack(agora_jqueue *q, uint64_t id)
{
	return q != NULL ? ag_queue_settle(&q->p, "nack", id) : AGORA_EINVAL;
}

int agora_jqueue_pending(agora_jqueue *q, agora_value *ret)
{
	return q != NULL ? ag_queue_pending(&q->p, ret) : AGORA_EINVAL;
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
