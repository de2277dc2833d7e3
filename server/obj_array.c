/*
 * obj_array.c - the "array" family: multiprocessing's Array, a fixed-length
 * packed array of numbers of one C type.
 *
 * State (struct array): the typecode's description (struct tc, from the
 * table below), the length, and the elements stored packed as the C type
 * the typecode names, as Python's array module does:
 *
 *   b int8_t   B uint8_t   h int16_t  H uint16_t  i int32_t  I uint32_t
 *   l int64_t  L uint64_t  q int64_t  Q uint64_t  f float    d double
 *
 * (l and L are 64-bit whatever the platform's long is.) The length never
 * changes after creation, as with multiprocessing's Array.
 *
 *   get(i)                    -> number (negative i counts from the end)
 *   set(i, v)                 -> nil
 *   len()                     -> int
 *   slice(start=nil, stop=nil) -> array (Python's clamping, no step)
 *   set_slice(start, items)   -> nil: items written from start on; the
 *                                length stays, so start + len(items) past
 *                                the end is INDEX and nothing is written
 *   copy()                    -> array
 *
 * Storing a value (element_check, element_store): anything but an int or a
 * float (bool is not a number) is TYPE, and so is a float into an integer
 * array; an integer out of the typecode's range is VALUE, and so is a
 * finite float beyond float's range into an 'f' array; an int into an 'f'
 * or 'd' array is converted. Every value is checked before any is written.
 * An index that is not an int is ARGS, one out of range INDEX.
 *
 * Options: typecode (required, a one-letter str of the list above), and
 * length (an int >= 0, zero-filled) or items (an array of numbers), not
 * both; neither means length 0. The elements may take at most the server's
 * message limit in bytes (beyond it, copy() could not fit in a message). Memory
 * accounted: the state and the element bytes.
 * Persistence (protocol section 10): set and set_slice are journaled as
 * called; a snapshot makes the array with options holding its elements
 * (array_save_opts()).
 * Transactions (docs/protocol.md section 12): the copy kept to undo with
 * is the element bytes.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum tc_kind { TC_SIGNED, TC_UNSIGNED, TC_FLOAT, TC_DOUBLE };

struct tc {
	char code;
	enum tc_kind kind;
	uint8_t size;
	int64_t min;  /* TC_SIGNED */
	uint64_t max; /* TC_SIGNED and TC_UNSIGNED */
};

static const struct tc typecodes[] = {
	{ 'b', TC_SIGNED, 1, INT8_MIN, INT8_MAX },
	{ 'B', TC_UNSIGNED, 1, 0, UINT8_MAX },
	{ 'h', TC_SIGNED, 2, INT16_MIN, INT16_MAX },
	{ 'H', TC_UNSIGNED, 2, 0, UINT16_MAX },
	{ 'i', TC_SIGNED, 4, INT32_MIN, INT32_MAX },
	{ 'I', TC_UNSIGNED, 4, 0, UINT32_MAX },
	{ 'l', TC_SIGNED, 8, INT64_MIN, INT64_MAX },
	{ 'L', TC_UNSIGNED, 8, 0, UINT64_MAX },
	{ 'q', TC_SIGNED, 8, INT64_MIN, INT64_MAX },
	{ 'Q', TC_UNSIGNED, 8, 0, UINT64_MAX },
	{ 'f', TC_FLOAT, 4, 0, 0 },
	{ 'd', TC_DOUBLE, 8, 0, 0 },
};

struct array {
	const struct tc *tc;
	size_t len;    /* elements */
	uint8_t *data; /* len * tc->size bytes, or NULL when len is 0 */
};

/* ---- elements ------------------------------------------------------------ */

/*
 * Check that @v can be stored as typecode @t. Returns 0, or AGORA_ETYPE /
 * AGORA_EVALUE with a sentence naming the value in @msg.
 */
static int element_check(const struct tc *t, const msgpack_object *v, char *msg,
			 size_t msglen)
{
	char desc[64];
	bool fits = true;

	ag_obj_describe(v, desc, sizeof(desc));
	switch (v->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (t->kind == TC_SIGNED || t->kind == TC_UNSIGNED)
			fits = v->via.u64 <= t->max;
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		if (t->kind == TC_SIGNED)
			fits = v->via.i64 >= t->min;
		else if (t->kind == TC_UNSIGNED)
			fits = false;
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (t->kind == TC_SIGNED || t->kind == TC_UNSIGNED) {
			snprintf(msg, msglen,
				 "%s into an integer array (typecode '%c')",
				 desc, t->code);
			return AGORA_ETYPE;
		}
		/* Converting a double beyond float's range is undefined. */
		if (t->kind == TC_FLOAT && isfinite(v->via.f64) &&
		    fabs(v->via.f64) > FLT_MAX)
			fits = false;
		break;
	default:
		snprintf(msg, msglen, "%s is not a number (typecode '%c')",
			 desc, t->code);
		return AGORA_ETYPE;
	}
	if (fits)
		return 0;
	if (t->kind == TC_SIGNED)
		snprintf(msg, msglen,
			 "%s does not fit typecode '%c' (%lld..%llu)", desc,
			 t->code, (long long)t->min,
			 (unsigned long long)t->max);
	else if (t->kind == TC_UNSIGNED)
		snprintf(msg, msglen, "%s does not fit typecode '%c' (0..%llu)",
			 desc, t->code, (unsigned long long)t->max);
	else
		snprintf(msg, msglen,
			 "%s does not fit typecode 'f' (a C float)", desc);
	return AGORA_EVALUE;
}

/* Store @v (checked by element_check) as element @i of @a. */
static void element_store(struct array *a, size_t i, const msgpack_object *v)
{
	uint8_t *p = a->data + i * a->tc->size;
	uint64_t u = 0;
	int64_t s = 0;
	double d = 0;

	switch (v->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		u = v->via.u64;
		s = (int64_t)v->via.u64; /* only used when it fits */
		d = (double)v->via.u64;
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		s = v->via.i64;
		u = (uint64_t)v->via.i64;
		d = (double)v->via.i64;
		break;
	default:
		d = v->via.f64;
		break;
	}
	switch (a->tc->code) {
	case 'b': {
		int8_t x = (int8_t)s;
		memcpy(p, &x, sizeof(x));
		break;
	}
	case 'B': {
		uint8_t x = (uint8_t)u;
		memcpy(p, &x, sizeof(x));
		break;
	}
	case 'h': {
		int16_t x = (int16_t)s;
		memcpy(p, &x, sizeof(x));
		break;
	}
	case 'H': {
		uint16_t x = (uint16_t)u;
		memcpy(p, &x, sizeof(x));
		break;
	}
	case 'i': {
		int32_t x = (int32_t)s;
		memcpy(p, &x, sizeof(x));
		break;
	}
	case 'I': {
		uint32_t x = (uint32_t)u;
		memcpy(p, &x, sizeof(x));
		break;
	}
	case 'l':
	case 'q':
		memcpy(p, &s, sizeof(s));
		break;
	case 'L':
	case 'Q':
		memcpy(p, &u, sizeof(u));
		break;
	case 'f': {
		float x = (float)d;
		memcpy(p, &x, sizeof(x));
		break;
	}
	default: /* 'd' */
		memcpy(p, &d, sizeof(d));
		break;
	}
}

/* Pack element @i of @a as a number: an int, or a float64 for f and d. */
static void element_pack(msgpack_packer *pk, const struct array *a, size_t i)
{
	const uint8_t *p = a->data + i * a->tc->size;

	switch (a->tc->code) {
	case 'b': {
		int8_t x;
		memcpy(&x, p, sizeof(x));
		msgpack_pack_int64(pk, x);
		break;
	}
	case 'B': {
		uint8_t x;
		memcpy(&x, p, sizeof(x));
		msgpack_pack_uint64(pk, x);
		break;
	}
	case 'h': {
		int16_t x;
		memcpy(&x, p, sizeof(x));
		msgpack_pack_int64(pk, x);
		break;
	}
	case 'H': {
		uint16_t x;
		memcpy(&x, p, sizeof(x));
		msgpack_pack_uint64(pk, x);
		break;
	}
	case 'i': {
		int32_t x;
		memcpy(&x, p, sizeof(x));
		msgpack_pack_int64(pk, x);
		break;
	}
	case 'I': {
		uint32_t x;
		memcpy(&x, p, sizeof(x));
		msgpack_pack_uint64(pk, x);
		break;
	}
	case 'l':
	case 'q': {
		int64_t x;
		memcpy(&x, p, sizeof(x));
		msgpack_pack_int64(pk, x);
		break;
	}
	case 'L':
	case 'Q': {
		uint64_t x;
		memcpy(&x, p, sizeof(x));
		msgpack_pack_uint64(pk, x);
		break;
	}
	case 'f': {
		float x;
		memcpy(&x, p, sizeof(x));
		msgpack_pack_double(pk, x);
		break;
	}
	default: { /* 'd' */
		double x;
		memcpy(&x, p, sizeof(x));
		msgpack_pack_double(pk, x);
		break;
	}
	}
}

/* Pack elements [lo, hi) as one array. */
static void pack_range(msgpack_packer *pk, const struct array *a, size_t lo,
		       size_t hi)
{
	msgpack_pack_array(pk, (uint32_t)(hi - lo));
	for (size_t i = lo; i < hi; i++)
		element_pack(pk, a, i);
}

/*
 * Check every item of @items for @t; the first bad one is answered (TYPE or
 * VALUE, naming it and its position, prefixed by @what) and returned.
 */
static int check_items(ag_req *r, const struct tc *t, ag_items items,
		       const char *what)
{
	char msg[160];
	msgpack_object o;
	ag_item it;
	int rc;

	for (uint64_t k = 0; ag_items_next(&items, &it); k++) {
		ag_item_obj(&it, &o);
		rc = element_check(t, &o, msg, sizeof(msg));
		if (rc < 0)
			return ag_reply_error(&r->to, rc, "%s: item %llu: %s",
					      what, (unsigned long long)k, msg);
	}
	return 0;
}

/* Store the items (checked by check_items) from element @at on. */
static void store_items(struct array *a, size_t at, ag_items items)
{
	msgpack_object o;
	ag_item it;

	for (size_t k = at; ag_items_next(&items, &it); k++) {
		ag_item_obj(&it, &o);
		element_store(a, k, &o);
	}
}

/* ---- indices ------------------------------------------------------------- */

/*
 * argv[@ai] as an index into @a (negative counts from the end). Answers ARGS
 * (not an int) or INDEX (out of range) and returns it.
 */
static int arg_index(ag_req *r, uint32_t ai, const struct array *a, size_t *ret)
{
	int64_t i, n = (int64_t)a->len;
	int rc;

	rc = ag_arg_int(r, ai, &i);
	if (rc < 0)
		return rc;
	if (i < 0 && i >= -n)
		i += n;
	if (i < 0 || i >= n)
		return ag_reply_error(&r->to, AGORA_EINDEX,
				      "%.*s: index %lld out of range (len %zu)",
				      (int)r->methodlen, r->method,
				      (long long)i, a->len);
	*ret = (size_t)i;
	return 0;
}

/* A slice bound as Python clamps it: negative counts from the end, then
 * into [0, len]. */
static size_t clamp_bound(int64_t v, size_t len)
{
	int64_t n = (int64_t)len;

	if (v < 0) {
		v += n;
		if (v < 0)
			v = 0;
	}
	return v > n ? len : (size_t)v;
}

/* ---- methods ------------------------------------------------------------- */

static int array_get(ag_req *r)
{
	struct array *a = r->obj->data;
	size_t i;
	int rc;

	rc = arg_index(r, 1, a, &i);
	if (rc < 0)
		return rc;
	element_pack(ag_reply_begin(&r->to), a, i);
	return 0;
}

static int array_set(ag_req *r)
{
	struct array *a = r->obj->data;
	char msg[160];
	size_t i;
	int rc;

	rc = arg_index(r, 1, a, &i);
	if (rc < 0)
		return rc;
	rc = element_check(a->tc, &r->argv[2], msg, sizeof(msg));
	if (rc < 0)
		return ag_reply_error(&r->to, rc, "%.*s: %s", (int)r->methodlen,
				      r->method, msg);
	element_store(a, i, &r->argv[2]);
	ag_reply_nil(&r->to);
	return 0;
}

static int array_len(ag_req *r)
{
	struct array *a = r->obj->data;

	ag_reply_uint(&r->to, a->len);
	return 0;
}

static int array_slice(ag_req *r)
{
	struct array *a = r->obj->data;
	int64_t start, stop;
	bool start_nil, stop_nil;
	size_t lo, hi;
	int rc;

	rc = ag_arg_opt_index(r, 1, &start, &start_nil);
	if (rc < 0)
		return rc;
	rc = ag_arg_opt_index(r, 2, &stop, &stop_nil);
	if (rc < 0)
		return rc;
	lo = start_nil ? 0 : clamp_bound(start, a->len);
	hi = stop_nil ? a->len : clamp_bound(stop, a->len);
	if (hi < lo)
		hi = lo;
	pack_range(ag_reply_begin(&r->to), a, lo, hi);
	return 0;
}

/*
 * set_slice(start, items): start nil is 0, a negative one counts from the
 * end; it must land in [0, len] (INDEX otherwise), and so must start +
 * len(items).
 */
static int array_set_slice(ag_req *r)
{
	struct array *a = r->obj->data;
	ag_items items;
	int64_t start, n = (int64_t)a->len;
	bool start_nil;
	char what[64];
	int rc;

	rc = ag_arg_opt_index(r, 1, &start, &start_nil);
	if (rc < 0)
		return rc;
	rc = ag_arg_items(r, 2, &items);
	if (rc < 0)
		return rc;
	if (start < 0 && start >= -n)
		start += n;
	if (start < 0 || start > n)
		return ag_reply_error(&r->to, AGORA_EINDEX,
				      "%.*s: start %lld out of range (len %zu)",
				      (int)r->methodlen, r->method,
				      (long long)start, a->len);
	if (items.count > a->len - (size_t)start)
		return ag_reply_error(
		    &r->to, AGORA_EINDEX,
		    "%.*s: %llu items from %lld run past the end (len %zu); an "
		    "array's length never changes",
		    (int)r->methodlen, r->method,
		    (unsigned long long)items.count, (long long)start, a->len);
	snprintf(what, sizeof(what), "%.*s", (int)r->methodlen, r->method);
	rc = check_items(r, a->tc, items, what);
	if (rc < 0)
		return rc;
	store_items(a, (size_t)start, items);
	ag_reply_nil(&r->to);
	return 0;
}

static int array_copy(ag_req *r)
{
	struct array *a = r->obj->data;

	pack_range(ag_reply_begin(&r->to), a, 0, a->len);
	return 0;
}

/* ---- family -------------------------------------------------------------- */

static const char *const array_options[] = { "typecode", "length", "items",
					     NULL };

/* The typecode option: answers ARGS (missing, not a str) or VALUE (not
 * one of ours) and returns it. */
static int opt_typecode(ag_req *r, const msgpack_object *opts,
			const struct tc **ret)
{
	const msgpack_object *o = opts ? ag_opt(opts, "typecode") : NULL;
	char desc[64];

	if (o == NULL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: an array needs the option "
				      "typecode (one of bBhHiIlLqQfd)");
	if (o->type != MSGPACK_OBJECT_STR) {
		ag_obj_describe(o, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: typecode must be a str, not %s",
				      desc);
	}
	if (o->via.str.size == 1) {
		for (size_t k = 0; k < sizeof(typecodes) / sizeof(*typecodes);
		     k++) {
			if (typecodes[k].code == o->via.str.ptr[0]) {
				*ret = &typecodes[k];
				return 0;
			}
		}
	}
	ag_obj_describe(o, desc, sizeof(desc));
	return ag_reply_error(&r->to, AGORA_EVALUE,
			      "open: bad typecode %s (must be one of "
			      "bBhHiIlLqQfd)",
			      desc);
}

/* The length option (absent: 0): answers ARGS (not an int) or VALUE
 * (negative) and returns it. */
static int opt_length(ag_req *r, const msgpack_object *o, uint64_t *ret)
{
	char desc[64];

	if (o == NULL) {
		*ret = 0;
		return 0;
	}
	ag_obj_describe(o, desc, sizeof(desc));
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "open: length must be >= 0, not %s",
				      desc);
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: length must be an int, not %s",
				      desc);
	*ret = o->via.u64;
	return 0;
}

/*
 * Set up an array from the options. Returns 0, or the code answered: ARGS
 * (unknown option, typecode missing, length and items both, a wrong kind),
 * VALUE (bad typecode, negative length, an item out of range), TYPE (an
 * item that is not a number, a float into an integer array), LIMIT (more
 * bytes than the message limit, out of memory).
 */
static int array_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	const msgpack_object *olen, *oitems;
	ag_items items = { 0 };
	ag_span sitems;
	bool have_items = false;
	const struct tc *t = NULL;
	struct array *a;
	uint64_t len = 0;
	int rc;

	rc = ag_opts_check(r, opts, array_options);
	if (rc < 0)
		return rc;
	rc = opt_typecode(r, opts, &t);
	if (rc < 0)
		return rc;
	olen = ag_opt(opts, "length");
	oitems = ag_opt(opts, "items");
	if (olen != NULL && oitems != NULL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: give an array length or items, "
				      "not both");
	rc = opt_length(r, olen, &len);
	if (rc < 0)
		return rc;
	if (oitems != NULL) {
		ag_mp_head h;
		if (!ag_opt_raw(r, 2, "items", &sitems) ||
		    !ag_mp_read_head(sitems.p, sitems.len, &h) ||
		    h.kind != AG_MP_ARRAY) {
			char desc[64];
			ag_obj_describe(oitems, desc, sizeof(desc));
			return ag_reply_error(
			    &r->to, AGORA_EARGS,
			    "open: items must be an array, not %s", desc);
		}
		ag_items_init(&items, &sitems);
		have_items = true;
		rc = check_items(r, t, items, "open");
		if (rc < 0)
			return rc;
		len = items.count;
	}
	if ((rc = ag_items_check(r, 0, len)) < 0)
		return rc;
	if (r->srv->max_memory &&
	    (len > r->srv->max_memory / t->size ||
	     r->srv->memory + len * t->size > r->srv->max_memory))
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: an array of %llu elements of "
				      "typecode '%c' would pass the server's "
				      "memory limit of %zu bytes",
				      (unsigned long long)len, t->code,
				      r->srv->max_memory);
	if (len > r->srv->max_message / t->size)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: an array of %llu elements of "
				      "typecode '%c' would exceed the message "
				      "limit of %zu bytes",
				      (unsigned long long)len, t->code,
				      r->srv->max_message);
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory creating an array");
	a->tc = t;
	a->len = (size_t)len;
	if (len > 0) {
		a->data = calloc((size_t)len, t->size);
		if (a->data == NULL) {
			free(a);
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "open: out of memory for %llu "
					      "elements",
					      (unsigned long long)len);
		}
	}
	if (have_items)
		store_items(a, 0, items);
	o->data = a;
	ag_object_mem(o, (ssize_t)(sizeof(*a) + a->len * t->size));
	return 0;
}

/*
 * The options that make an array like @o: {"typecode": c, "length": n}
 * while every element is zero (as open makes it), else {"typecode": c,
 * "items": [every element]}. The items go in the options, not in later
 * records, because the "@new" an open journals holds the options alone,
 * and an open may give items. Each element is packed as get answers it:
 * an 'f' element as the float64 of its float, which stores back to the
 * same float; a 'd' one as its very bits.
 */
static void array_save_opts(ag_object *o, msgpack_packer *pk)
{
	struct array *a = o->data;
	size_t nbytes = a->len * a->tc->size;
	bool zero = true;

	for (size_t i = 0; i < nbytes && zero; i++)
		zero = a->data[i] == 0;
	msgpack_pack_map(pk, 2);
	ag_pack_str(pk, "typecode");
	msgpack_pack_str(pk, 1);
	msgpack_pack_str_body(pk, &a->tc->code, 1);
	if (zero) {
		ag_pack_str(pk, "length");
		msgpack_pack_uint64(pk, a->len);
	} else {
		ag_pack_str(pk, "items");
		pack_range(pk, a, 0, a->len);
	}
}

/* ---- transactions -------------------------------------------------------- */

/* What a transaction keeps to undo with (docs/protocol.md section 12): the
 * element bytes (the length and typecode never change). */
struct array_saved {
	size_t nbytes;
	uint8_t data[];
};

static void *array_txn_save(ag_object *o)
{
	struct array *a = o->data;
	size_t nbytes = a->len * a->tc->size;
	struct array_saved *sv = malloc(sizeof(*sv) + nbytes);

	if (sv == NULL)
		return NULL;
	sv->nbytes = nbytes;
	if (nbytes > 0)
		memcpy(sv->data, a->data, nbytes);
	return sv;
}

static void array_txn_restore(ag_object *o, void *saved)
{
	struct array *a = o->data;
	struct array_saved *sv = saved;

	if (sv->nbytes > 0)
		memcpy(a->data, sv->data, sv->nbytes);
	free(sv);
}

static void array_txn_drop(ag_object *o, void *saved)
{
	(void)o;
	free(saved);
}

static void array_destroy(ag_object *o)
{
	struct array *a = o->data;

	if (a == NULL)
		return;
	ag_object_mem(o, -(ssize_t)(sizeof(*a) + a->len * a->tc->size));
	free(a->data);
	free(a);
	o->data = NULL;
}

static bool array_length(ag_object *o, size_t *ret)
{
	struct array *a = o->data;

	*ret = a->len;
	return true;
}

static unsigned array_info_count(ag_object *o)
{
	return 1;
}

static void array_info_pack(ag_object *o, msgpack_packer *pk)
{
	struct array *a = o->data;

	ag_pack_str(pk, "typecode");
	msgpack_pack_str(pk, 1);
	msgpack_pack_str_body(pk, &a->tc->code, 1);
}

static const ag_method array_methods[] = {
	{ "get", array_get, 2, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "set", array_set, 3, 3, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "len", array_len, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "slice", array_slice, 1, 3, AG_STORES_NONE, AG_RIGHT_READ },
	{ "set_slice", array_set_slice, 3, 3, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "copy", array_copy, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_family ag_family_array = {
	.name = "array",
	.base = NULL,
	.methods = array_methods,
	.create = array_create,
	.destroy = array_destroy,
	.len = array_length,
	.info_count = array_info_count,
	.info_pack = array_info_pack,
	.conn_gone = NULL,
	/* set and set_slice replay as they ran. The options hold the
	 * elements: no records. */
	.persist = AG_PERSIST_CALLS,
	.save_opts = array_save_opts,
	.save = NULL,
	.txn_save = array_txn_save,
	.txn_restore = array_txn_restore,
	.txn_drop = array_txn_drop,
	.wake = NULL, /* serves no one */
	.txn_refused = NULL,
};
