/*
 * obj_value.c - the "value" family: one stored value, as multiprocessing's
 * Value, with atomic read-modify-write methods.
 *
 * State (struct value): one owned canonical ag_val. Every method runs whole
 * on the loop thread, so get/set/add/cas/swap are atomic with respect to
 * every other request. Each method validates all its params before it
 * changes anything; a failed method leaves the value as it was.
 *
 *   get()              -> the value, its stored bytes as they are
 *   set(v)             -> nil
 *   add(delta)         -> the new value; section 5 arithmetic (ag_num_add):
 *                         stored value not a number is TYPE, delta not a
 *                         number ARGS, an integer result outside
 *                         -2^63..2^64-1 VALUE
 *   cas(expected, new) -> bool; stores @new only when the stored value
 *                         equals @expected by section 5 (ag_val_equal)
 *   swap(v)            -> the old value
 *
 * The only option is `initial` (any value; default the int 0). A value has
 * no length. Memory accounted: the state plus the stored bytes it keeps on
 * the heap (none when they fit inline in the ag_val).
 * Persistence (protocol section 10): the write methods are journaled as
 * called; a snapshot makes the value with its `initial` option, or with a
 * set when it names an object made after it (value_save_opts()).
 * Transactions (docs/protocol.md section 12): the copy kept to undo with
 * is the stored value, holding what its references name.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct value {
	ag_val v; /* owned, canonical */
};

/* Replace the stored value with @nv, taking its bytes (@nv is left empty),
 * and free the old one. */
static void value_store(ag_object *o, struct value *s, ag_val *nv)
{
	ag_object_mem(o,
		      (ssize_t)ag_val_heap(nv) - (ssize_t)ag_val_heap(&s->v));
	ag_val_free(o->srv, &s->v);
	s->v = *nv;
	memset(nv, 0, sizeof(*nv));
}

static bool obj_is_number(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return true;
	default:
		return false;
	}
}

/* ---- methods ------------------------------------------------------------- */

static int value_get(ag_req *r)
{
	struct value *s = r->obj->data;

	ag_reply_val(&r->to, &s->v);
	return 0;
}

static int value_set(ag_req *r)
{
	ag_val nv;
	int rc;

	rc = ag_arg_val(r, 1, &nv);
	if (rc < 0)
		return rc;
	value_store(r->obj, r->obj->data, &nv);
	ag_reply_nil(&r->to);
	return 0;
}

/*
 * add(delta): stored + delta, stored and answered. The stored value is
 * decoded into the request zone; the sum is a scalar, canonicalised with
 * ag_val_from_obj().
 */
static int value_add(ag_req *r)
{
	struct value *s = r->obj->data;
	const msgpack_object *delta = &r->argv[1];
	msgpack_object cur, sum;
	char dcur[64], ddelta[64];
	ag_val nv;
	int which = 0, rc;

	if (!obj_is_number(delta)) {
		ag_obj_describe(delta, ddelta, sizeof(ddelta));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%.*s: delta must be a number, not %s",
				      (int)r->methodlen, r->method, ddelta);
	}
	rc = ag_val_unpack(&s->v, ag_server_zone(r->srv), &cur);
	if (rc < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "out of memory reading the value");
	rc = ag_num_add(&cur, delta, &sum, &which);
	if (rc == AGORA_ETYPE) {
		if (which == 1) {
			ag_obj_describe(delta, ddelta, sizeof(ddelta));
			return ag_reply_error(
			    &r->to, AGORA_EARGS,
			    "%.*s: delta must be a number, not %s",
			    (int)r->methodlen, r->method, ddelta);
		}
		ag_obj_describe(&cur, dcur, sizeof(dcur));
		return ag_reply_error(&r->to, AGORA_ETYPE,
				      "%.*s: the stored %s is not a number",
				      (int)r->methodlen, r->method, dcur);
	}
	if (rc == AGORA_EVALUE) {
		ag_obj_describe(&cur, dcur, sizeof(dcur));
		ag_obj_describe(delta, ddelta, sizeof(ddelta));
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "%.*s: %s + %s is out of the integer "
				      "range -2^63..2^64-1",
				      (int)r->methodlen, r->method, dcur,
				      ddelta);
	}
	if (rc < 0)
		return ag_reply_error(&r->to, rc, "cannot add");
	rc = ag_val_from_obj(&nv, &sum);
	if (rc < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "out of memory storing the sum");
	value_store(r->obj, s, &nv);
	ag_reply_val(&r->to, &s->v);
	return 0;
}

static int value_cas(ag_req *r)
{
	struct value *s = r->obj->data;
	ag_val expected, nv;
	bool equal;
	int rc;

	rc = ag_arg_val(r, 1, &expected);
	if (rc < 0)
		return rc;
	rc = ag_arg_val(r, 2, &nv);
	if (rc < 0) {
		ag_val_free(r->srv, &expected);
		return rc;
	}
	equal = ag_val_equal(&expected, &s->v);
	ag_val_free(r->srv, &expected);
	if (equal)
		value_store(r->obj, s, &nv);
	else
		ag_val_free(r->srv, &nv);
	ag_reply_bool(&r->to, equal);
	return 0;
}

static int value_swap(ag_req *r)
{
	struct value *s = r->obj->data;
	ag_val nv, old;
	int rc;

	rc = ag_arg_val(r, 1, &nv);
	if (rc < 0)
		return rc;
	/* The old bytes leave the object; they are answered, then freed. */
	old = s->v;
	s->v = nv;
	ag_object_mem(r->obj,
		      (ssize_t)ag_val_heap(&nv) - (ssize_t)ag_val_heap(&old));
	ag_reply_val(&r->to, &old);
	ag_val_give(r->to.conn, &old); /* its references go with it */
	return 0;
}

/* ---- persistence --------------------------------------------------------- */

static void ref_not_before(void *ud, ag_object *ref)
{
	const ag_object *o = ((const ag_object **)ud)[0];

	if (ref->id >= o->id)
		((const ag_object **)ud)[1] = ref;
}

/*
 * Whether the stored value can be the `initial` option of @o's "@new"
 * record: every object its references name must exist before @o does, and
 * loading makes objects in id order. A value set later may name a newer
 * object, or @o itself; it is then rebuilt by value_save() instead. The
 * value an open gave can always be: what it names existed before @o.
 */
static bool initial_in_opts(ag_object *o)
{
	struct value *s = o->data;
	const ag_object *ud[2] = { o, NULL };

	if (!(ag_val_flags(&s->v) & AG_VAL_REF))
		return true;
	ag_val_foreach_ref(o->srv, &s->v, ref_not_before, ud);
	return ud[1] == NULL;
}

/* {"initial": the value}, or {} when value_save() sets it. */
static void value_save_opts(ag_object *o, msgpack_packer *pk)
{
	struct value *s = o->data;

	if (!initial_in_opts(o)) {
		msgpack_pack_map(pk, 0);
		return;
	}
	msgpack_pack_map(pk, 1);
	ag_pack_str(pk, "initial");
	ag_pack_val(pk, &s->v);
}

/* "value.set" [the value] when the options could not carry it. 0,
 * AGORA_EIO when no record could be begun, or the error of
 * ag_save_end(). */
static int value_save(ag_object *o, ag_save *sv)
{
	struct value *s = o->data;
	msgpack_packer *pk;

	if (initial_in_opts(o))
		return 0;
	if ((pk = ag_save_call(sv, o, "value.set", 1)) == NULL)
		return AGORA_EIO;
	ag_pack_val(pk, &s->v);
	return ag_save_end(sv);
}

/* ---- transactions -------------------------------------------------------- */

/* What a transaction keeps to undo with (docs/protocol.md section 12): a
 * copy of the stored value, holding what its references name, and the
 * memory accounted. */
struct value_saved {
	ag_val v;
	size_t mem;
};

static void ref_hold(void *ud, ag_object *ref)
{
	(void)ud;
	ag_object_ref(ref);
}

static void *value_txn_save(ag_object *o)
{
	struct value *s = o->data;
	struct value_saved *sv = malloc(sizeof(*sv));

	if (sv == NULL)
		return NULL;
	if (ag_val_dup(&sv->v, &s->v) < 0) {
		free(sv);
		return NULL;
	}
	ag_val_foreach_ref(o->srv, &sv->v, ref_hold, NULL);
	sv->mem = o->mem;
	return sv;
}

static void value_txn_restore(ag_object *o, void *saved)
{
	struct value *s = o->data;
	struct value_saved *sv = saved;

	ag_val_free(o->srv, &s->v);
	s->v = sv->v; /* its holds go with it */
	ag_object_mem(o, (ssize_t)sv->mem - (ssize_t)o->mem);
	free(sv);
}

static void value_txn_drop(ag_object *o, void *saved)
{
	struct value_saved *sv = saved;

	ag_val_free(o->srv, &sv->v);
	free(sv);
}

/* ---- family -------------------------------------------------------------- */

static const char *const value_options[] = { "initial", NULL };

/* Set up o->data from the `initial` option (absent: int 0). Returns 0 or
 * the code answered: ARGS (unknown option), VALUE (a bad reference),
 * LIMIT (out of memory). */
static int value_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	ag_span init;
	struct value *s;
	int rc;

	rc = ag_opts_check(r, opts, value_options);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory creating a value");
	if (opts && ag_opt_raw(r, 2, "initial", &init)) {
		rc = ag_span_val(r, &init, "initial", AG_NO_INDEX, &s->v);
		if (rc < 0) {
			free(s);
			return rc; /* answered */
		}
	} else {
		static const uint8_t zero = 0x00; /* int 0 */
		ag_val_from_bytes(&s->v, &zero, 1, 0);
	}
	o->data = s;
	ag_object_mem(o, (ssize_t)(sizeof(*s) + ag_val_heap(&s->v)));
	return 0;
}

static void value_destroy(ag_object *o)
{
	struct value *s = o->data;

	if (s == NULL)
		return;
	ag_object_mem(o, -(ssize_t)(sizeof(*s) + ag_val_heap(&s->v)));
	ag_val_free(o->srv, &s->v);
	free(s);
	o->data = NULL;
}

static bool value_len(ag_object *o, size_t *ret)
{
	return false;
}

static unsigned value_info_count(ag_object *o)
{
	return 0;
}

static void value_info_pack(ag_object *o, msgpack_packer *pk)
{
}

static const ag_method value_methods[] = {
	{ "get", value_get, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "set", value_set, 2, 2, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "add", value_add, 2, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "cas", value_cas, 3, 3, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "swap", value_swap, 2, 2, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_family ag_family_value = {
	.name = "value",
	.base = NULL,
	.methods = value_methods,
	.create = value_create,
	.destroy = value_destroy,
	.len = value_len,
	.info_count = value_info_count,
	.info_pack = value_info_pack,
	.conn_gone = NULL,
	/* Every write method replays as it ran: add's arithmetic and cas's
	 * comparison depend on the stored value and the params alone. */
	.persist = AG_PERSIST_CALLS,
	.save_opts = value_save_opts,
	.save = value_save,
	.txn_save = value_txn_save,
	.txn_restore = value_txn_restore,
	.txn_drop = value_txn_drop,
	.wake = NULL, /* serves no one */
	.txn_refused = NULL,
};
