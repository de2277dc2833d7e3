/*
 * session.c - what a connection has of the objects: its handles, the
 * things it owns (a lock, permits), the holds passed to it by values it
 * received, and giving all of it back when it goes (ag_session_end()).
 *
 * Handles are slots of an array, reused last-closed first from a stack of
 * free slots as large as the array, so opening and closing are O(1) and a
 * close never needs memory.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int ag_conn_handle_new(ag_conn *c, ag_object *o, uint32_t *ret)
{
	uint32_t i;

	if (c->nfree > 0) {
		i = c->free_slots[--c->nfree];
	} else {
		if (c->nused == c->nhandles) {
			if (c->nhandles >= UINT32_MAX / 2)
				return AGORA_ELIMIT;
			uint32_t n = c->nhandles ? c->nhandles * 2 : 8;
			ag_object **h = realloc(c->handles, n * sizeof(*h));
			if (h == NULL)
				return AGORA_ENOMEM;
			c->handles = h;
			uint32_t *f = realloc(c->free_slots, n * sizeof(*f));
			if (f == NULL)
				return AGORA_ENOMEM; /* handles grew: harmless
						      */
			c->free_slots = f;
			memset(h + c->nhandles, 0,
			       (n - c->nhandles) * sizeof(*h));
			c->nhandles = n;
		}
		i = c->nused++;
	}
	c->handles[i] = o;
	ag_object_ref(o);
	*ret = i + 1;
	return 0;
}

ag_object *ag_conn_handle_get(ag_conn *c, uint64_t h)
{
	if (h == 0 || h > c->nused)
		return NULL;
	return c->handles[h - 1];
}

bool ag_conn_handle_close(ag_conn *c, uint64_t h)
{
	ag_object *o = ag_conn_handle_get(c, h);

	if (o == NULL)
		return false;
	if (o->fam->handle_closed != NULL)
		o->fam->handle_closed(o, c, (uint32_t)h);
	c->handles[h - 1] = NULL;
	c->free_slots[c->nfree++] = (uint32_t)(h - 1);
	ag_object_unref(o);
	return true;
}

/* Count one more for @o in a (object, count) set; a new entry takes a
 * reference to @o when @take_ref. */
static int set_add(struct ag_hold **set, uint32_t *n, uint32_t *cap,
		   ag_object *o, bool take_ref)
{
	for (uint32_t i = 0; i < *n; i++)
		if ((*set)[i].obj == o) {
			(*set)[i].count++;
			return 0;
		}
	if (*n == *cap) {
		uint32_t ncap = *cap ? *cap * 2 : 4;
		struct ag_hold *h = realloc(*set, ncap * sizeof(*h));
		if (h == NULL)
			return AGORA_ENOMEM;
		*set = h;
		*cap = ncap;
	}
	(*set)[(*n)++] = (struct ag_hold){ o, 1 };
	if (take_ref)
		ag_object_ref(o);
	return 0;
}

int ag_conn_hold(ag_conn *c, ag_object *o)
{
	return set_add(&c->holds, &c->nholds, &c->capholds, o, true);
}

int ag_conn_pass(ag_conn *c, ag_object *o)
{
	/* Each passed hold is a reference already counted on @o. */
	return set_add(&c->passed, &c->npassed, &c->cappassed, o, false);
}

void ag_conn_unpass(ag_conn *c, ag_object *o)
{
	for (uint32_t i = 0; i < c->npassed; i++) {
		if (c->passed[i].obj != o)
			continue;
		uint64_t count = c->passed[i].count;
		c->passed[i] = c->passed[--c->npassed];
		while (count-- > 0)
			ag_object_unref(o);
		return;
	}
}

void ag_conn_unhold(ag_conn *c, ag_object *o)
{
	if (c->going)
		return;
	for (uint32_t i = 0; i < c->nholds; i++) {
		if (c->holds[i].obj != o)
			continue;
		if (--c->holds[i].count == 0) {
			c->holds[i] = c->holds[--c->nholds];
			ag_object_unref(o);
		}
		return;
	}
}

bool ag_conn_peer(const ag_conn *c, int64_t *ret_pid, int64_t *ret_uid)
{
	if (!c->have_peer)
		return false;
	*ret_pid = c->peer_pid;
	*ret_uid = c->peer_uid;
	return true;
}

/* A passed hold for each reference of a value handed to @c. */
static void pass_one(void *ud, ag_object *o)
{
	if (ag_conn_pass(ud, o) < 0)
		ag_object_unref(o); /* no room to record it: let it go */
}

void ag_val_give(ag_conn *c, ag_val *v)
{
	ag_val_foreach_ref(c->srv, v, pass_one, c);
	ag_val_deinit(v);
}

/*
 * Give back everything @c has of the objects, before it is freed: its
 * parked requests go first (withdrawn, they take nothing), then what it
 * owns (which may wake other connections' waiters), the holds passed to
 * it, and its handles.
 */
void ag_session_end(ag_conn *c)
{
	ag_waiter *w;

	while ((w = TAILQ_FIRST(&c->waiters)) != NULL)
		ag_wait_withdraw(w);
	c->going = true;
	for (uint32_t i = 0; i < c->nholds; i++) {
		ag_object *o = c->holds[i].obj;
		if (o->fam->conn_gone)
			o->fam->conn_gone(o, c);
	}
	/* Answers the families gave while letting go may have been queued
	 * for this very connection's parked requests: none are left, so
	 * nothing else refers to it. */
	for (uint32_t i = 0; i < c->nholds; i++)
		ag_object_unref(c->holds[i].obj);
	free(c->holds);
	while (c->npassed > 0)
		ag_conn_unpass(c, c->passed[c->npassed - 1].obj);
	free(c->passed);
	for (uint32_t i = 0; i < c->nused; i++) {
		ag_object *o = c->handles[i];
		if (o == NULL)
			continue;
		c->handles[i] = NULL;
		ag_object_unref(o);
	}
	free(c->handles);
	free(c->free_slots);
	c->handles = NULL;
	c->free_slots = NULL;
	c->holds = c->passed = NULL;
	c->nused = c->nhandles = c->nfree = 0;
	c->nholds = c->capholds = c->npassed = c->cappassed = 0;
}
