/*
 * txn_objs.c - the objects a running transaction reaches (txn.c): saved
 * before its first write of each (ag_txn_touch, ag_txn_check), to be
 * woken after its commit (ag_txn_defer). The families and the call path
 * (call.c) use these; the transaction itself is txn.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "txn.h"

static struct ag_txn_obj *find_obj(struct ag_txn *t, const ag_object *o)
{
	for (uint32_t i = 0; i < t->nobjs; i++)
		if (t->objs[i].obj == o)
			return &t->objs[i];
	return NULL;
}

static struct ag_txn_obj *add_obj(struct ag_txn *t, ag_object *o)
{
	struct ag_txn_obj *to = find_obj(t, o);

	if (to != NULL)
		return to;
	if (t->nobjs == t->capobjs) {
		uint32_t cap = t->capobjs ? t->capobjs * 2 : 8;
		void *p = realloc(t->objs, cap * sizeof(*t->objs));
		void *q;
		if (p == NULL)
			return NULL;
		t->objs = p;
		q = realloc(t->order, cap * sizeof(*t->order));
		if (q == NULL)
			return NULL;
		t->order = q;
		q = realloc(t->wakes, cap * sizeof(*t->wakes));
		if (q == NULL)
			return NULL;
		t->wakes = q;
		t->capobjs = cap;
	}
	to = &t->objs[t->nobjs++];
	memset(to, 0, sizeof(*to));
	to->obj = o;
	to->version = o->version;
	ag_object_ref(o);
	return to;
}

bool ag_txn_active(const ag_server *s)
{
	return s->txn != NULL;
}

void *ag_txn_saved(const ag_object *o)
{
	struct ag_txn_obj *to;

	if (o->srv->txn == NULL)
		return NULL;
	to = find_obj(o->srv->txn, o);
	return to != NULL ? to->saved : NULL;
}

bool ag_txn_defer(ag_object *o)
{
	struct ag_txn *t = o->srv->txn;
	struct ag_txn_obj *to;

	if (t == NULL)
		return false;
	to = add_obj(t, o);
	if (to != NULL && !to->wake) {
		to->wake = true;
		t->wakes[t->nwakes++] = (uint32_t)(to - t->objs);
	}
	/* Out of memory noting it: the object was saved before its change
	 * (so it is in the list); never reached. */
	return true;
}

int ag_txn_touch(ag_object *o)
{
	struct ag_txn *t = o->srv->txn;
	struct ag_txn_obj *to;

	if (t == NULL)
		return 0;
	if (o->fam->txn_save == NULL)
		return AGORA_EARGS;
	to = add_obj(t, o);
	if (to == NULL)
		return AGORA_ENOMEM;
	if (to->has_saved)
		return 0;
	to->saved = o->fam->txn_save(o);
	if (to->saved == NULL)
		return AGORA_ENOMEM;
	to->has_saved = true;
	t->order[t->nsaved++] = (uint32_t)(to - t->objs);
	return 0;
}

/* ---- the call path's part (call.c) ----------------------------------------
 */

int ag_txn_check(ag_req *r, const ag_method *m)
{
	struct ag_txn *t = r->srv->txn;
	int rc;

	if (t->conditions && m->right != AG_RIGHT_READ)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%.*s changes its object: a condition "
				      "of a transaction reads only",
				      (int)r->methodlen, r->method);
	if (m->right != AG_RIGHT_WRITE)
		return 0;
	if (!t->admitted) {
		/* Once, for all its writes: a full disk is found before
		 * anything changes. */
		if (!ag_persist_admit(t->req))
			return AGORA_ESTORAGE;
		t->admitted = true;
	}
	rc = ag_txn_touch(r->obj);
	if (rc == AGORA_EARGS)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%.*s: a %s cannot be changed inside a "
				      "transaction",
				      (int)r->methodlen, r->method,
				      r->obj->fam->name);
	if (rc < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "%.*s: out of memory saving the %s for "
				      "the transaction",
				      (int)r->methodlen, r->method,
				      r->obj->fam->name);
	return 0;
}
