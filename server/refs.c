/*
 * refs.c - references between objects (protocol section 8).
 *
 * A reference is the ext type 1 with AG_REF_LEN bytes: the object's id,
 * 8 bytes big-endian, then 8 random bytes drawn for the object when it was
 * made (object.c). The server hands a reference out only to those who may
 * use it (info on a handle, a stored value read back); a reference whose
 * secret is not its object's names nothing, so ids cannot be counted
 * through.
 *
 * A stored value that holds references (AG_VAL_REF) holds each object it
 * names: ag_val_hold() takes those holds when the value is stored,
 * ag_val_free() releases them when the value is removed for good, and
 * ag_val_give() (session.c) passes them to the connection that receives
 * the value (queue.get, list.pop, ...), where they stay until it opens the
 * object with open_ref or goes away. Values are walked from their bytes (no
 * decoding, no recursion). Values without references cost nothing here.
 */
#include <openssl/crypto.h>
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

struct each {
	ag_server *srv;
	void (*fn)(void *ud, ag_object *o);
	void *ud;
};

static bool each(void *ud, const uint8_t *data)
{
	struct each *e = ud;
	ag_object *o = ag_object_by_id(e->srv, ref_id(data));

	if (o != NULL)
		e->fn(e->ud, o);
	return true;
}

void ag_val_foreach_ref(ag_server *s, const ag_val *v,
			void (*fn)(void *ud, ag_object *o), void *ud)
{
	struct each e = { s, fn, ud };

	walk(v, each, &e);
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
