/*
 * args.c - reading a request's params, with errors that name what was
 * given. Each helper answers the request itself when the param is wrong and
 * returns the negative code, so a method reads as a list of checks.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

static const msgpack_object *arg(const ag_req *r, uint32_t i)
{
	return i < r->argc ? &r->argv[i] : NULL;
}

bool ag_arg_given(const ag_req *r, uint32_t i)
{
	const msgpack_object *o = arg(r, i);
	return o != NULL && o->type != MSGPACK_OBJECT_NIL;
}

static int wrong(ag_req *r, uint32_t i, const char *want)
{
	char desc[96];

	ag_obj_describe(&r->argv[i], desc, sizeof(desc));
	return ag_reply_error(&r->to, AGORA_EARGS,
			      "%.*s: param %u must be %s, "
			      "got %s",
			      (int)r->methodlen, r->method, i, want, desc);
}

int ag_arg_int(ag_req *r, uint32_t i, int64_t *ret)
{
	const msgpack_object *o = arg(r, i);

	if (o == NULL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%.*s: param %u (an int) is missing",
				      (int)r->methodlen, r->method, i);
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*ret = o->via.i64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		/* Beyond int64 no index or count can be meant: clamp, and
		 * let the method's range check speak. */
		*ret = o->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)o->via.u64;
		return 0;
	}
	return wrong(r, i, "an int");
}

int ag_arg_opt_int(ag_req *r, uint32_t i, int64_t def, int64_t *ret)
{
	if (!ag_arg_given(r, i)) {
		*ret = def;
		return 0;
	}
	return ag_arg_int(r, i, ret);
}

int ag_arg_opt_index(ag_req *r, uint32_t i, int64_t *ret, bool *ret_nil)
{
	if (!ag_arg_given(r, i)) {
		*ret = 0;
		*ret_nil = true;
		return 0;
	}
	*ret_nil = false;
	return ag_arg_int(r, i, ret);
}

int ag_arg_bool(ag_req *r, uint32_t i, bool def, bool *ret)
{
	const msgpack_object *o = arg(r, i);

	if (o == NULL || o->type == MSGPACK_OBJECT_NIL) {
		*ret = def;
		return 0;
	}
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return wrong(r, i, "a bool");
	*ret = o->via.boolean;
	return 0;
}

int ag_arg_timeout(ag_req *r, uint32_t i, double *ret)
{
	const msgpack_object *o = arg(r, i);
	double t;

	if (o == NULL || o->type == MSGPACK_OBJECT_NIL) {
		*ret = -1;
		return 0;
	}
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		t = (double)o->via.u64;
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		t = (double)o->via.i64;
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		t = o->via.f64;
		break;
	default:
		return wrong(r, i, "a timeout in seconds or nil");
	}
	if (isnan(t) || t < 0)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "%.*s: timeout %g is negative",
				      (int)r->methodlen, r->method, t);
	*ret = t;
	return 0;
}

int ag_arg_block(ag_req *r, uint32_t i, bool *ret_block, double *ret_timeout)
{
	bool block;
	double timeout = -1;
	int rc;

	rc = ag_arg_bool(r, i, true, &block);
	if (rc < 0)
		return rc;
	if (block) {
		rc = ag_arg_timeout(r, i + 1, &timeout);
		if (rc < 0)
			return rc;
	}
	*ret_block = block;
	*ret_timeout = timeout;
	return 0;
}

int ag_arg_array(ag_req *r, uint32_t i, const msgpack_object_array **ret)
{
	const msgpack_object *o = arg(r, i);

	if (o == NULL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%.*s: param %u (an array) is missing",
				      (int)r->methodlen, r->method, i);
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return wrong(r, i, "an array");
	*ret = &o->via.array;
	return 0;
}

int ag_arg_map(ag_req *r, uint32_t i, const msgpack_object_map **ret)
{
	const msgpack_object *o = arg(r, i);

	if (o == NULL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%.*s: param %u (a map) is missing",
				      (int)r->methodlen, r->method, i);
	if (o->type != MSGPACK_OBJECT_MAP)
		return wrong(r, i, "a map");
	*ret = &o->via.map;
	return 0;
}

static int val_error(ag_req *r, uint32_t i, int rc)
{
	if (rc == AGORA_EVALUE)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "%.*s: param %u holds an ext 1 reference "
				      "whose data is not 8 bytes",
				      (int)r->methodlen, r->method, i);
	if (rc == AGORA_ELIMIT)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "%.*s: param %u is larger than %u bytes "
				      "once encoded",
				      (int)r->methodlen, r->method, i,
				      (unsigned)AG_VAL_MAX_LEN);
	return ag_reply_error(&r->to, AGORA_ELIMIT,
			      "%.*s: out of memory storing param %u",
			      (int)r->methodlen, r->method, i);
}

int ag_arg_val(ag_req *r, uint32_t i, ag_val *ret)
{
	const msgpack_object *o = arg(r, i);
	int rc;

	if (o == NULL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%.*s: param %u (a value) is missing",
				      (int)r->methodlen, r->method, i);
	rc = ag_val_from_obj(ret, o);
	if (rc < 0)
		return val_error(r, i, rc);
	if (r->srv->max_memory &&
	    r->srv->memory + ag_val_len(ret) > r->srv->max_memory) {
		ag_val_deinit(ret);
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "%.*s: storing %u more bytes would pass "
				      "the server's memory limit of %zu bytes",
				      (int)r->methodlen, r->method,
				      ag_val_len(ret), r->srv->max_memory);
	}
	/* A stored value holds what its references name. */
	rc = ag_val_hold(r, ret);
	if (rc < 0)
		ag_val_deinit(ret);
	return rc;
}

int ag_arg_key(ag_req *r, uint32_t i, ag_val *ret)
{
	const msgpack_object *o = arg(r, i);
	ag_buf *b = ag_server_scratch(r->srv);
	size_t at = b->len;
	uint32_t flags;
	int rc;

	if (o == NULL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%.*s: param %u (a key) is missing",
				      (int)r->methodlen, r->method, i);
	rc = ag_val_encode(b, o, &flags);
	if (rc < 0)
		return val_error(r, i, rc);
	if (flags & AG_VAL_MAP) {
		char desc[96];
		ag_obj_describe(o, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_ETYPE,
				      "%.*s: unhashable key %s (it holds a "
				      "map)",
				      (int)r->methodlen, r->method, desc);
	}
	size_t len = b->len - at;

	if (len > AG_VAL_MAX_LEN) {
		b->len = at;
		return val_error(r, i, AGORA_ELIMIT);
	}
	/* A short key fits inline in *ret itself (no allocation). A longer
	 * one: the scratch buffer may move on the next key of this request;
	 * the zone never moves until the request ends, so it lives there. */
	if (len <= AG_VAL_INLINE_MAX) {
		rc = ag_val_from_bytes(ret, b->data + at, len, flags);
		b->len = at;
		return rc < 0 ? val_error(r, i, rc) : 0;
	}
	void *p = msgpack_zone_malloc(ag_server_zone(r->srv), len);
	if (p == NULL) {
		b->len = at;
		return val_error(r, i, AGORA_ENOMEM);
	}
	memcpy(p, b->data + at, len);
	b->len = at;
	*ret = ag_val_view(p, (uint32_t)len, flags);
	return 0;
}

const msgpack_object *ag_opt(const msgpack_object *opts, const char *name)
{
	size_t n = strlen(name);

	if (opts == NULL || opts->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < opts->via.map.size; i++) {
		const msgpack_object *k = &opts->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
		    memcmp(k->via.str.ptr, name, n) == 0)
			return &opts->via.map.ptr[i].val;
	}
	return NULL;
}

int ag_opts_check(ag_req *r, const msgpack_object *opts,
		  const char *const *allowed)
{
	if (opts == NULL)
		return 0;
	for (uint32_t i = 0; i < opts->via.map.size; i++) {
		const msgpack_object *k = &opts->via.map.ptr[i].key;
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = k->type == MSGPACK_OBJECT_STR &&
			     k->via.str.size == strlen(*a) &&
			     memcmp(k->via.str.ptr, *a, k->via.str.size) == 0;
		if (!ok) {
			char desc[96];
			ag_obj_describe(k, desc, sizeof(desc));
			return ag_reply_error(
			    &r->to, AGORA_EARGS,
			    "open: unknown option %s for a %s", desc,
			    r->obj->fam->name);
		}
	}
	return 0;
}

int ag_items_check(ag_req *r, size_t have, size_t adding)
{
	size_t max = r->srv->max_items;

	if (max == 0 || (adding <= max && have <= max - adding))
		return 0;
	return ag_reply_error(
	    &r->to, AGORA_ELIMIT,
	    "%.*s: a %s holds at most %zu items (the server's "
	    "--max-items); it has %zu",
	    (int)r->methodlen, r->method, r->obj->fam->name, max, have);
}
