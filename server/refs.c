/*
 * refs.c - references between objects (protocol section 7).
 *
 * A reference is the ext type 1 with the object's id, 8 bytes big-endian.
 * A stored value that holds references (AG_VAL_REF) holds each object it
 * names: ag_val_hold() takes those holds when the value is stored,
 * ag_val_free() releases them when the value is removed for good, and
 * ag_val_give() passes them to the connection that receives the value
 * (queue.get, list.pop, ...), where they stay until it opens the object
 * with open_ref or goes away. Values without references cost nothing here.
 */
#include <string.h>

#include "internal.h"

typedef bool (*ref_fn)(void *ud, uint64_t id);

/* Call @fn for every reference in @o; stop early when it returns false. */
static bool walk(const msgpack_object *o, ref_fn fn, void *ud)
{
	switch (o->type) {
	case MSGPACK_OBJECT_EXT:
		if (o->via.ext.type == 1 && o->via.ext.size == 8) {
			uint64_t id = 0;
			for (int i = 0; i < 8; i++)
				id = id << 8 | (uint8_t)o->via.ext.ptr[i];
			return fn(ud, id);
		}
		return true;
	case MSGPACK_OBJECT_ARRAY:
		for (uint32_t i = 0; i < o->via.array.size; i++)
			if (!walk(&o->via.array.ptr[i], fn, ud))
				return false;
		return true;
	case MSGPACK_OBJECT_MAP:
		for (uint32_t i = 0; i < o->via.map.size; i++)
			if (!walk(&o->via.map.ptr[i].key, fn, ud) ||
			    !walk(&o->via.map.ptr[i].val, fn, ud))
				return false;
		return true;
	default:
		return true;
	}
}

static void id_key(uint64_t id, uint8_t buf[8], ag_val *ret)
{
	for (int i = 7; i >= 0; i--, id >>= 8)
		buf[i] = (uint8_t)id;
	*ret = ag_val_view(buf, 8, 0);
}

ag_object *ag_object_by_id(ag_server *s, uint64_t id)
{
	uint8_t buf[8];
	ag_val key;

	id_key(id, buf, &key);
	ag_entry *e =
	    ag_table_find(&s->ids, &key, ag_table_hash(&s->ids, &key));
	return e ? e->ptr : NULL;
}

int ag_object_index(ag_object *o)
{
	ag_server *s = o->srv;
	uint8_t buf[8];
	ag_val key, owned;

	id_key(o->id, buf, &key);
	if (ag_val_dup(&owned, &key) < 0)
		return AGORA_ENOMEM;
	ag_entry *e =
	    ag_table_add(&s->ids, &owned, ag_table_hash(&s->ids, &key));
	if (e == NULL) {
		ag_val_deinit(&owned);
		return AGORA_ENOMEM;
	}
	e->ptr = o;
	return 0;
}

void ag_object_unindex(ag_object *o)
{
	ag_server *s = o->srv;
	uint8_t buf[8];
	ag_val key;

	id_key(o->id, buf, &key);
	ag_entry *e =
	    ag_table_find(&s->ids, &key, ag_table_hash(&s->ids, &key));
	if (e != NULL)
		ag_table_remove(&s->ids, e);
}

/* Decode @v's references; false when it holds none or cannot be read. */
static bool decode(ag_server *s, const ag_val *v, msgpack_object *ret)
{
	return (ag_val_flags(v) & AG_VAL_REF) && !ag_val_is_empty(v) &&
	       ag_val_unpack(v, ag_server_zone(s), ret) == 0;
}

struct check {
	ag_server *srv;
	uint64_t missing;
};

static bool exists(void *ud, uint64_t id)
{
	struct check *c = ud;
	if (ag_object_by_id(c->srv, id) != NULL)
		return true;
	c->missing = id;
	return false;
}

static bool hold(void *ud, uint64_t id)
{
	ag_object_ref(ag_object_by_id(ud, id));
	return true;
}

static bool release(void *ud, uint64_t id)
{
	ag_object *o = ag_object_by_id(ud, id);
	if (o != NULL)
		ag_object_unref(o);
	return true;
}

static bool pass(void *ud, uint64_t id)
{
	ag_conn *c = ud;
	ag_object *o = ag_object_by_id(ag_conn_server(c), id);
	if (o != NULL && ag_conn_pass(c, o) < 0)
		ag_object_unref(o); /* no room to record it: let it go */
	return true;
}

int ag_val_hold(ag_req *r, const ag_val *v)
{
	msgpack_object o;
	struct check chk = { r->srv, 0 };

	if (!decode(r->srv, v, &o))
		return 0;
	if (!walk(&o, exists, &chk))
		return ag_reply_error(&r->to, AGORA_ENO_OBJECT,
				      "%.*s: a reference names object %llu, "
				      "which does not exist",
				      (int)r->methodlen, r->method,
				      (unsigned long long)chk.missing);
	walk(&o, hold, r->srv);
	return 0;
}

void ag_val_release(ag_server *s, const ag_val *v)
{
	msgpack_object o;

	if (!s->freeing && decode(s, v, &o))
		walk(&o, release, s);
}

void ag_val_free(ag_server *s, ag_val *v)
{
	ag_val_release(s, v);
	ag_val_deinit(v);
}

void ag_val_give(ag_conn *c, ag_val *v)
{
	msgpack_object o;

	if (decode(ag_conn_server(c), v, &o))
		walk(&o, pass, c);
	ag_val_deinit(v);
}

int ag_registry_open_ref(ag_req *r)
{
	const msgpack_object *a = &r->argv[0];
	uint32_t h;

	if (a->type != MSGPACK_OBJECT_EXT || a->via.ext.type != 1) {
		char desc[96];
		ag_obj_describe(a, desc, sizeof(desc));
		return ag_reply_error(
		    &r->to, AGORA_EARGS,
		    "open_ref: want a reference (ext 1), got %s", desc);
	}
	if (a->via.ext.size != 8)
		return ag_reply_error(
		    &r->to, AGORA_EVALUE,
		    "open_ref: a reference has 8 bytes of id, "
		    "this one %u",
		    a->via.ext.size);
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | (uint8_t)a->via.ext.ptr[i];
	ag_object *o = ag_object_by_id(r->srv, id);
	if (o == NULL)
		return ag_reply_error(&r->to, AGORA_ENO_OBJECT,
				      "open_ref: object %llu is gone",
				      (unsigned long long)id);
	/* An optional expected type, as open's: another type is TYPE. */
	if (ag_arg_given(r, 1)) {
		const msgpack_object *t = &r->argv[1];
		const ag_family *fam = NULL;
		if (t->type == MSGPACK_OBJECT_STR)
			fam =
			    ag_family_by_name(t->via.str.ptr, t->via.str.size);
		if (fam == NULL) {
			char desc[96];
			ag_obj_describe(t, desc, sizeof(desc));
			return ag_reply_error(&r->to, AGORA_EARGS,
					      "open_ref: unknown type %s",
					      desc);
		}
		if (o->fam != fam)
			return ag_reply_error(&r->to, AGORA_ETYPE,
					      "open_ref: object %llu is a %s, "
					      "not a %s",
					      (unsigned long long)id,
					      o->fam->name, fam->name);
	}
	if (ag_conn_handle_new(r->to.conn, o, &h) < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open_ref: no more handles");
	/* Every hold passed to this connection for @o becomes this handle. */
	ag_conn_unpass(r->to.conn, o);
	ag_reply_uint(&r->to, h);
	return 0;
}
