/*
 * args.c - reading a request's params, with errors that name what was
 * given. Each helper answers the request itself when the param is wrong and
 * returns the negative code, so a method reads as a list of checks.
 */
#include <math.h>
#include <inttypes.h>
#include <stdio.h>
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
	bool block = true;
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

static int val_error(ag_req *r, uint32_t i, int rc, const char *why)
{
	if (rc == AGORA_EVALUE)
		return ag_reply_error(
		    &r->to, AGORA_EVALUE, "%.*s: param %u holds %s",
		    (int)r->methodlen, r->method, i, why ? why : "a bad value");
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

int ag_memory_check(ag_req *r, size_t adding)
{
	ag_server *s = r->srv;

	if (s->max_memory == 0 ||
	    (adding <= s->max_memory && s->memory <= s->max_memory - adding))
		return 0;
	return ag_reply_error(&r->to, AGORA_ELIMIT,
			      "%.*s: storing %zu more bytes would pass the "
			      "server's memory limit of %zu bytes (%zu in use)",
			      (int)r->methodlen, r->method, adding,
			      s->max_memory, s->memory);
}

/* What an error names: "@what @n", or @what alone for AG_NO_INDEX. Made
 * only when an error is answered: formatting costs more than storing. */
static const char *what_name(char *buf, size_t len, const char *what,
			     uint32_t n)
{
	if (n == AG_NO_INDEX)
		return what;
	snprintf(buf, len, "%s %" PRIu32, what, n);
	return buf;
}

int ag_span_val(ag_req *r, const ag_span *sp, const char *what, uint32_t n,
		ag_val *ret)
{
	const char *why = NULL;
	int rc = ag_val_from_raw(ret, sp->p, sp->len, &why);
	char buf[64];

	if (rc == AGORA_EVALUE)
		return ag_reply_error(&r->to, AGORA_EVALUE, "%.*s: %s holds %s",
				      (int)r->methodlen, r->method,
				      what_name(buf, sizeof(buf), what, n),
				      why);
	if (rc < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "%.*s: %s is too large to store",
				      (int)r->methodlen, r->method,
				      what_name(buf, sizeof(buf), what, n));
	if ((rc = ag_memory_check(r, ag_val_heap(ret))) < 0) {
		ag_val_deinit(ret);
		return rc;
	}
	/* A stored value holds what its references name. */
	rc = ag_val_hold(r, ret);
	if (rc < 0)
		ag_val_deinit(ret);
	return rc;
}

int ag_arg_val(ag_req *r, uint32_t i, ag_val *ret)
{
	if (i >= r->argc)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%.*s: param %u (a value) is missing",
				      (int)r->methodlen, r->method, i);
	return ag_span_val(r, &r->raw[i], "param", i, ret);
}

int ag_span_key(ag_req *r, const ag_span *sp, const char *what, uint32_t n,
		ag_val *ret)
{
	ag_buf *b = ag_server_scratch(r->srv);
	size_t at = b->len;
	const char *why = NULL;
	uint32_t flags;
	char buf[64];
	int rc;

	rc = ag_val_canon(b, sp->p, sp->len, &flags, &why);
	if (rc == AGORA_EVALUE)
		return ag_reply_error(&r->to, AGORA_EVALUE, "%.*s: %s holds %s",
				      (int)r->methodlen, r->method,
				      what_name(buf, sizeof(buf), what, n),
				      why);
	if (rc < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "%.*s: out of memory reading %s",
				      (int)r->methodlen, r->method,
				      what_name(buf, sizeof(buf), what, n));
	if (flags & AG_VAL_MAP) {
		char desc[96];
		b->len = at;
		ag_raw_describe(sp, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_ETYPE,
				      "%.*s: unhashable key %s (it holds a "
				      "map)",
				      (int)r->methodlen, r->method, desc);
	}
	size_t len = b->len - at;

	if (len > AG_VAL_MAX_LEN) {
		b->len = at;
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "%.*s: %s is larger than %u bytes once "
				      "encoded",
				      (int)r->methodlen, r->method,
				      what_name(buf, sizeof(buf), what, n),
				      (unsigned)AG_VAL_MAX_LEN);
	}
	/* A short key fits inline in *ret itself (no allocation). A longer
	 * one: the scratch buffer may move on the next key of this request;
	 * the zone never moves until the request ends, so it lives there. */
	if (len <= AG_VAL_INLINE_MAX) {
		rc = ag_val_from_bytes(ret, b->data + at, len, flags);
		b->len = at;
		return rc < 0 ? val_error(r, 0, rc, NULL) : 0;
	}
	void *p = msgpack_zone_malloc(ag_server_zone(r->srv), len);
	if (p == NULL) {
		b->len = at;
		return val_error(r, 0, AGORA_ENOMEM, NULL);
	}
	memcpy(p, b->data + at, len);
	b->len = at;
	*ret = ag_val_view(p, (uint32_t)len, flags);
	return 0;
}

int ag_arg_key(ag_req *r, uint32_t i, ag_val *ret)
{
	if (i >= r->argc)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%.*s: param %u (a key) is missing",
				      (int)r->methodlen, r->method, i);
	return ag_span_key(r, &r->raw[i], "param", i, ret);
}

void ag_pack_arg(msgpack_packer *pk, const ag_req *r, uint32_t i)
{
	/* A param's bytes are one MessagePack object: echoed as sent. */
	pk->callback(pk->data, (const char *)r->raw[i].p, r->raw[i].len);
}

void ag_raw_describe(const ag_span *sp, char *buf, size_t len)
{
	ag_mp_head h;

	if (!ag_mp_read_head(sp->p, sp->len, &h)) {
		snprintf(buf, len, "malformed value");
		return;
	}
	if (h.kind == AG_MP_ARRAY || h.kind == AG_MP_MAP) {
		snprintf(buf, len, "%s of %llu",
			 h.kind == AG_MP_ARRAY ? "array" : "map",
			 (unsigned long long)h.n);
		return;
	}
	msgpack_zone z;
	msgpack_object o;
	size_t off = 0;
	/* A scalar or a str/bin/ext decodes into the zone's first chunk. */
	if (msgpack_zone_init(&z, 256)) {
		if (msgpack_unpack((const char *)sp->p, sp->len, &off, &z,
				   &o) == MSGPACK_UNPACK_SUCCESS)
			ag_obj_describe(&o, buf, len);
		else
			snprintf(buf, len, "malformed value");
		msgpack_zone_destroy(&z);
	} else {
		snprintf(buf, len, "a value");
	}
}

static int want_container(ag_req *r, uint32_t i, ag_mp_kind kind, ag_items *ret)
{
	const char *want = kind == AG_MP_ARRAY ? "an array" : "a map";
	ag_mp_head h;

	if (i >= r->argc)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%.*s: param %u (%s) is missing",
				      (int)r->methodlen, r->method, i, want);
	if (!ag_mp_read_head(r->raw[i].p, r->raw[i].len, &h) || h.kind != kind)
		return wrong(r, i, want);
	ag_items_init(ret, &r->raw[i]);
	return 0;
}

void ag_items_init(ag_items *it, const ag_span *sp)
{
	ag_mp_head h = { 0 };

	(void)ag_mp_read_head(sp->p, sp->len, &h); /* checked by the caller */
	it->count = h.n;
	it->p = sp->p + h.hlen;
	it->end = sp->p + sp->len;
	it->left = ag_mp_items(&h);
}

bool ag_items_next(ag_items *it, ag_item *ret)
{
	size_t n;

	if (it->left == 0)
		return false;
	n = ag_mp_object_len(it->p, (size_t)(it->end - it->p), NULL);
	if (n == 0 || !ag_mp_read_head(it->p, n, &ret->head))
		return false; /* the reader checked the frame: not reached */
	ret->raw.p = it->p;
	ret->raw.len = n;
	it->p += n;
	it->left--;
	return true;
}

void ag_item_obj(const ag_item *it, msgpack_object *ret)
{
	ag_mp_obj(&it->head, it->raw.p, it->raw.len, ret);
}

int ag_arg_items(ag_req *r, uint32_t i, ag_items *ret)
{
	return want_container(r, i, AG_MP_ARRAY, ret);
}

int ag_arg_pairs(ag_req *r, uint32_t i, ag_items *ret)
{
	return want_container(r, i, AG_MP_MAP, ret);
}

bool ag_opt_raw(const ag_req *r, uint32_t i, const char *name, ag_span *ret)
{
	size_t n = strlen(name);
	ag_items it;
	ag_item k, v;
	ag_mp_head h;

	if (i >= r->argc || !ag_mp_read_head(r->raw[i].p, r->raw[i].len, &h) ||
	    h.kind != AG_MP_MAP)
		return false;
	ag_items_init(&it, &r->raw[i]);
	while (ag_items_next(&it, &k) && ag_items_next(&it, &v))
		if (k.head.kind == AG_MP_STR && k.head.n == n &&
		    memcmp(k.raw.p + k.head.hlen, name, n) == 0) {
			*ret = v.raw;
			return true;
		}
	return false;
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

	/* A container is sent as one MessagePack array or map, whose count
	 * is 32 bits: more items could not be encoded (LIMIT, not a wrong
	 * count). */
	if (adding > AG_ITEMS_MAX || have > AG_ITEMS_MAX - adding)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "%.*s: a %s holds at most %u items (the "
				      "wire's limit); it has %zu",
				      (int)r->methodlen, r->method,
				      r->obj->fam->name, AG_ITEMS_MAX, have);
	if (max == 0 || (adding <= max && have <= max - adding))
		return 0;
	return ag_reply_error(
	    &r->to, AGORA_ELIMIT,
	    "%.*s: a %s holds at most %zu items (the server's "
	    "--max-items); it has %zu",
	    (int)r->methodlen, r->method, r->obj->fam->name, max, have);
}
