/*
 * proxy_event.c - agora_event: a proxy for an event in the server
 * (server/obj_event.c), Python's threading.Event.
 *
 * One function per method of protocol section 3.1, each one round trip
 * through the ag_proxy helpers (internal.h). wait is parked in the server,
 * not here.
 */
#include <stdlib.h>

#include "internal.h"

/* Open the event @name (get-or-create, clear when new), or a new
 * anonymous one for NULL. */
int agora_event_open(agora_client *c, const char *name, agora_event **ret)
{
	return ag_proxy_open(c, ret, sizeof(**ret), "event", name, NULL, 0);
}

int agora_event_set(agora_event *e)
{
	if (e == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&e->p, "set", NULL, 0, NULL);
}

int agora_event_clear(agora_event *e)
{
	if (e == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_value(&e->p, "clear", NULL, 0, NULL);
}

int agora_event_is_set(agora_event *e, bool *ret)
{
	if (e == NULL)
		return AGORA_EINVAL;
	if (ret == NULL)
		return ag_proxy_no_result(&e->p, "is_set");
	return ag_proxy_call_bool(&e->p, "is_set", NULL, 0, ret);
}

int agora_event_wait(agora_event *e, double timeout, bool *ret_set)
{
	if (e == NULL)
		return AGORA_EINVAL;
	return ag_proxy_call_timed(&e->p, "wait", timeout, false, ret_set);
}
