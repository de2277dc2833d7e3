/*
 * proxy_topic.c - agora_topic: a proxy for a topic in the server
 * (server/obj_topic.c), publish and subscribe.
 *
 * One function per method of protocol section 4.12, each one round trip
 * through the ag_proxy helpers (internal.h). The messages themselves come
 * as notifications, which the client queues (agora_notification_next()).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Open the topic @name (get-or-create), or a new anonymous one for NULL. */
int agora_topic_open(agora_client *c, const char *name, agora_topic **ret)
{
	return ag_proxy_open(c, ret, sizeof(**ret), "topic", name, NULL, 0);
}

int agora_topic_subscribe(agora_topic *t)
{
	if (t == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&t->p, "subscribe", NULL, 0, NULL);
}

int agora_topic_unsubscribe(agora_topic *t, bool *ret_was)
{
	if (t == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_bool(&t->p, "unsubscribe", NULL, 0, ret_was);
}

int agora_topic_publish(agora_topic *t, agora_value msg, uint64_t *ret_count)
{
	size_t n;
	int rc;

	if (t == NULL)
		return AGORA_EINVAL;
	rc = ag_proxy_call_size(&t->p, "publish", &msg, 1, &n);
	if (rc == 0 && ret_count != NULL)
		*ret_count = n;
	return rc;
}

int agora_topic_message(const agora_notification *n, uint32_t *ret_handle,
			const agora_value **ret_msg)
{
	const agora_value *h, *m;

	if (n == NULL || n->method == NULL || strcmp(n->method, "topic") != 0)
		return AGORA_EINVAL;
	h = agora_map_get(&n->params, "handle");
	m = agora_map_get(&n->params, "message");
	/* A handle fits int64_t: it comes as an AGORA_INT. */
	if (h == NULL || m == NULL || h->type != AGORA_INT || h->via.i < 1 ||
	    h->via.i > UINT32_MAX)
		return AGORA_EINVAL;
	if (ret_handle != NULL)
		*ret_handle = (uint32_t)h->via.i;
	if (ret_msg != NULL)
		*ret_msg = m;
	return 0;
}
