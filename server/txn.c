/*
 * txn.c - transactions: the server method txn (docs/protocol.md section 12).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct ag_txn_obj {
	ag_object *obj; /* holds a reference */
	void *saved;    /* fam->txn_save()'s copy; NULL: not written */
	uint64_t version;
	bool wake; /* wake after the commit (ag_txn_defer) */
};

struct ag_txn {
	struct ag_txn_obj *objs;
	uint32_t nobjs, capobjs;
};

static struct ag_txn_obj *find_obj(struct ag_txn *t, const ag_object *o)
{
	for (uint32_t i = 0; i < t->nobjs; i++)
		if (t->objs[i].obj == o)
			return &t->objs[i];
	return NULL;
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
	(void)o;
	return false; /* (the running transaction notes it: txn.c) */
}

int ag_txn_touch(ag_object *o)
{
	(void)o;
	return 0; /* (saves @o in the running transaction: txn.c) */
}

int ag_srv_txn(ag_req *r)
{
	return ag_reply_error(&r->to, AGORA_ENO_METHOD, "txn: not yet");
}
