/*
 * refs.c - references between objects (protocol section 8).
 *
 * A reference is the ext type 1 with AG_REF_LEN bytes: the object's id,
 * 8 bytes big-endian, then 8 random bytes drawn for the object when it was
 * made. The server hands a reference out only to those who may use it
 * (info on a handle, a stored value read back); a reference whose secret
 * is not its object's names nothing, so ids cannot be counted through.
 *
 * A stored value that holds references (AG_VAL_REF) holds each object it
 * names: ag_val_hold() takes those holds when the value is stored,
 * ag_val_free() releases them when the value is removed for good, and
 * ag_val_give() passes them to the connection that receives the value
 * (queue.get, list.pop, ...), where they stay until it opens the object
 * with open_ref or goes away. Values are walked from their bytes (no
 * decoding, no recursion). Values without references cost nothing here.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "internal.h"

typedef bool (*ref_fn)(void *ud, const uint8_t *data);

/* Call @fn with the data of every reference in @v (checked AG_REF_LEN
 * bytes when it was stored); stop early when it returns false. */
static bool walk(const ag_val *v, ref_fn fn, void *ud)
{
	ag_mp_walk w;
	ag_mp_head h;
	const uint8_t *pay;

	if (!(ag_val_flags(v) & AG_VAL_REF) || ag_val_is_empty(v))
		return true;
	ag_mp_walk_init(&w, ag_val_bytes(v), ag_val_len(v));
	while (ag_mp_walk_next(&w, &h, &pay))
		if (h.kind == AG_MP_EXT && h.ext_type == 1 &&
		    h.n == AG_REF_LEN && !fn(ud, pay))
			return false;
	return true;
}

static uint64_t ref_id(const uint8_t *data)
{
	uint64_t id = 0;

	for (int i = 0; i < AG_REF_ID_LEN; i++)
		id = id << 8 | data[i];
	return id;
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

ag_object *ag_object_by_ref(ag_server *s, const void *data, size_t len)
{
	const uint8_t *d = data;
	ag_object *o;

	if (len != AG_REF_LEN)
		return NULL;
	o = ag_object_by_id(s, ref_id(d));
	if (o == NULL ||
	    CRYPTO_memcmp(o->secret, d + AG_REF_ID_LEN, AG_REF_SECRET_LEN) != 0)
		return NULL;
	return o;
}

int ag_object_secret(ag_object *o)
{
	ag_server *s = o->srv;

	if (s->secret_left < AG_REF_SECRET_LEN) {
		if (RAND_bytes(s->secret_pool, sizeof(s->secret_pool)) != 1)
			return AGORA_EIO;
		s->secret_left = sizeof(s->secret_pool);
	}
	s->secret_left -= AG_REF_SECRET_LEN;
	memcpy(o->secret, s->secret_pool + s->secret_left, AG_REF_SECRET_LEN);
	/* A secret is used once: what is handed out is gone from the pool. */
	OPENSSL_cleanse(s->secret_pool + s->secret_left, AG_REF_SECRET_LEN);
	return 0;
}

void ag_pack_ref(msgpack_packer *pk, const ag_object *o)
{
	uint8_t data[AG_REF_LEN];
	uint64_t id = o->id;

	for (int i = AG_REF_ID_LEN - 1; i >= 0; i--, id >>= 8)
		data[i] = (uint8_t)id;
	memcpy(data + AG_REF_ID_LEN, o->secret, AG_REF_SECRET_LEN);
	msgpack_pack_ext(pk, sizeof(data), 1);
	msgpack_pack_ext_body(pk, data, sizeof(data));
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

static bool exists(void *ud, const uint8_t *data)
{
	return ag_object_by_ref(ud, data, AG_REF_LEN) != NULL;
}

/* A stored value's references were checked when it was stored: while it
 * holds them, their objects are indexed under the ids. */
static bool hold(void *ud, const uint8_t *data)
{
	ag_object_ref(ag_object_by_id(ud, ref_id(data)));
	return true;
}

static bool release(void *ud, const uint8_t *data)
{
	ag_object *o = ag_object_by_id(ud, ref_id(data));
	if (o != NULL)
		ag_object_unref(o);
	return true;
}

static bool pass(void *ud, const uint8_t *data)
{
	ag_conn *c = ud;
	ag_object *o = ag_object_by_id(ag_conn_server(c), ref_id(data));
	if (o != NULL && ag_conn_pass(c, o) < 0)
		ag_object_unref(o); /* no room to record it: let it go */
	return true;
}

int ag_val_hold(ag_req *r, const ag_val *v)
{
	if (!walk(v, exists, r->srv))
		return ag_reply_error(&r->to, AGORA_ENO_OBJECT,
				      "%.*s: a reference names no object "
				      "(it was freed, or was never given out "
				      "by this server)",
				      (int)r->methodlen, r->method);
	walk(v, hold, r->srv);
	return 0;
}

void ag_val_release(ag_server *s, const ag_val *v)
{
	if (!s->freeing)
		walk(v, release, s);
}

void ag_val_free(ag_server *s, ag_val *v)
{
	ag_val_release(s, v);
	ag_val_deinit(v);
}

void ag_val_give(ag_conn *c, ag_val *v)
{
	walk(v, pass, c);
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
	if (a->via.ext.size != AG_REF_LEN)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "open_ref: a reference has %d bytes of "
				      "data, this one %u",
				      AG_REF_LEN, a->via.ext.size);
	ag_object *o = ag_object_by_ref(r->srv, a->via.ext.ptr, AG_REF_LEN);
	if (o == NULL)
		return ag_reply_error(&r->to, AGORA_ENO_OBJECT,
				      "open_ref: the reference names no "
				      "object (it was freed, or was never "
				      "given out by this server)");
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
					      (unsigned long long)o->id,
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
