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

struct agora_event {
	ag_proxy p;
};

/* Open the event @name (get-or-create, clear when new), or a new
 * anonymous one for NULL. */
int agora_event_open(agora_client *c, const char *name, agora_event **ret)
{
	return ag_proxy_open(c, ret, sizeof(**ret), "event", name, NULL, 0);
}

/* A proxy for the event @ref names: AGORA_ETYPE when it is another type,
 * AGORA_ENO_OBJECT when it is gone. */
int agora_event_open_ref(agora_client *c, const agora_ref *ref,
			 agora_event **ret)
{
	return ag_proxy_open_ref(c, ret, sizeof(**ret), "event", ref);
}

int agora_event_close(agora_event *e)
{
	return e != NULL ? ag_proxy_close(&e->p) : 0;
}

uint32_t agora_event_handle(const agora_event *e)
{
	return e != NULL ? e->p.handle : 0;
}

/* The event's reference, as ag_proxy_ref(). */
int agora_event_ref(const agora_event *e, agora_ref *ret)
{
	return e != NULL ? ag_proxy_ref(&e->p, ret) : AGORA_EINVAL;
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
