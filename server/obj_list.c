/*
 * obj_list.c - the "list" family: Python's list, shared.
 *
 * The items live in one of two stores (list_store.h), each in its own file
 * with its own tests: the int store (list_ints.c: while every item is an
 * int that fits int64, an array of int8..int64 as Redis's intset) and the
 * packed store (list_packed.c: canonical MessagePack bytes back to back
 * with a mark every 32 items). A list starts in the int store; the first
 * item that is not such an int converts it to the packed store once
 * (to_packed()), and it stays packed until it is emptied, when it starts
 * over in the int store. Each method dispatches at its top on l->packed;
 * only a store of a non-int converts, every other method works on either.
 *
 * This file holds what is the list's and not a store's: indices, slices,
 * insert clamping, pop/remove/index errors and the sort's order follow
 * Python's list one for one (protocol.md 4.1); params are read and checked
 * here, values made canonical (encode_items()) and the replies packed here
 * (items go out as their stored bytes, ints as value.c encodes them).
 * Growing methods (append, extend, insert, a set_slice that adds items)
 * answer LIMIT past the server's --max-items (ag_items_check()). Every
 * method checks all of its params and makes every allocation it needs
 * before it changes the list, so a call that fails leaves the list as it
 * was. Memory is accounted with ag_object_mem(): the list's struct and what
 * its store reports; destroy gives it all back.
 *
 * References (protocol section 8): an item that holds an ext 1 reference
 * holds the objects it names; the packed store counts such items and hands
 * each one that leaves for good to release_ref() (ag_val_release()), or,
 * for pop, the caller passes it on (ag_val_give() on an owned copy).
 *
 * Persistence (protocol section 10): the journal records the write methods
 * as called, and a snapshot rebuilds a list with "list.extend" calls of
 * its items (list_save()).
 *
 * Transactions (docs/protocol.md section 12): what is kept to undo with is
 * at first only the list's length (list_txn_save), enough while the
 * transaction only appends within the room its store has; before any
 * other change, the whole copy (txn_full(): every write method but append
 * goes through it first, see the method table). A list has no waiters:
 * nothing to defer, nothing refused.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "list_store.h"

typedef struct list {
	ag_server *srv;   /* for releasing the references values hold */
	size_t accounted; /* what ag_object_mem() has been told */
	bool packed;      /* which store u holds */
	union {
		ag_lints ints; /* !packed */
		ag_lpack pk;   /* packed */
	} u;
} list;

static size_t list_n(const list *l)
{
	return l->packed ? l->u.pk.len : l->u.ints.len;
}

/* The packed store's release callback: an item holding references
 * leaves the list for good. */
static void release_ref(void *srv, ag_val *v)
{
	ag_val_release(srv, v);
}

static void ref_one(void *ud, ag_object *r)
{
	(void)ud;
	ag_object_ref(r);
}

/* ---- the stores ---------------------------------------------------------- */

/* Tell the registry how many bytes the list holds now. */
static void sync_mem(ag_object *o, list *l)
{
	size_t now = sizeof(*l) + (l->packed ? ag_lpack_mem(&l->u.pk)
					     : ag_lints_mem(&l->u.ints));

	if (now != l->accounted) {
		ag_object_mem(o, (ssize_t)now - (ssize_t)l->accounted);
		l->accounted = now;
	}
}

static int oom(ag_req *r)
{
	return ag_reply_error(&r->to, AGORA_ELIMIT, "out of memory in %.*s",
			      (int)r->methodlen, r->method);
}

/* Empty the list, what its items hold released: an empty int store. */
static void store_clear(list *l)
{
	if (l->packed)
		ag_lpack_deinit(&l->u.pk, release_ref, l->srv);
	else
		ag_lints_deinit(&l->u.ints);
	ag_lints_init(&l->u.ints);
	l->packed = false;
}

/* Give back most of the slack after removals; an emptied packed list
 * starts over in the int store. */
static void trim(list *l)
{
	if (!l->packed)
		ag_lints_trim(&l->u.ints);
	else if (l->u.pk.len == 0)
		store_clear(l);
	else
		ag_lpack_trim(&l->u.pk);
}

/*
 * Leave the int store for good (until emptied): every item as its
 * canonical bytes. Returns 0 or AGORA_ENOMEM with the list unchanged; a
 * packed list is left as it is.
 */
static int to_packed(ag_object *o, list *l)
{
	ag_lpack p;

	if (l->packed)
		return 0;
	if (ag_lints_to_packed(&l->u.ints, &p) < 0)
		return AGORA_ENOMEM;
	ag_lints_deinit(&l->u.ints);
	l->u.pk = p;
	l->packed = true;
	sync_mem(o, l);
	return 0;
}

/* Remove items [lo, hi) for good: their references are released. */
static void delete_range(list *l, size_t lo, size_t hi)
{
	size_t a, b;

	if (lo == hi)
		return;
	if (!l->packed) {
		ag_lints_splice(&l->u.ints, lo, hi, 0, 0); /* cannot fail */
		trim(l);
		return;
	}
	ag_lpack_range(&l->u.pk, lo, hi, &a, &b);
	/* Shrinks: cannot fail. */
	ag_lpack_splice(&l->u.pk, lo, hi, a, b, NULL, 0, 0, 0, release_ref,
			l->srv);
	trim(l);
}

/* The width the items of @arr need in the int store, or 0 when one cannot
 * be held there. */
static unsigned arr_width(ag_items arr)
{
	unsigned w = 1;
	int64_t x;
	ag_item it;

	while (ag_items_next(&arr, &it)) {
		if (!ag_lints_head_int(&it.head, &x))
			return 0;
		if (ag_lints_width_for(x) > w)
			w = ag_lints_width_for(x);
	}
	return w;
}

/* ---- params -------------------------------------------------------------- */

/* Canonical bytes of the items of an array param, in the server scratch. */
typedef struct encoded {
	size_t at;    /* where they start in the scratch buffer */
	size_t len;   /* how many bytes */
	size_t nrefs; /* items holding references (holds taken) */
} encoded;

/*
 * Canonical copies of every element of @arr appended to @b, each holding
 * what its references name. Answers VALUE (a malformed reference),
 * NO_OBJECT or LIMIT and returns it on failure, with nothing held and
 * b->len as it was (b->data may have grown). @b is the server's scratch
 * buffer (encode_items()), or, for an append, the list's own packed store lent
 * past its items (extend_in_place()).
 */
static int encode_items_to(ag_req *r, ag_items arr, ag_buf *b, encoded *ret)
{
	size_t at = b->len, start = at, nrefs = 0;
	uint64_t i, count = arr.count;
	uint32_t flags;
	const char *why = NULL;
	ag_item item;
	int rc = 0;

	for (i = 0; i < count && ag_items_next(&arr, &item); i++) {
		start = b->len;
		flags = 0;
		rc = ag_val_canon(b, item.raw.p, item.raw.len, &flags, &why);
		if (rc == 0 && b->len - start > UINT32_MAX)
			rc = AGORA_ENOMEM;
		if (rc < 0)
			break;
		if (flags & AG_VAL_REF) {
			ag_val v = ag_val_view(
			    b->data + start, (uint32_t)(b->len - start), flags);

			if (ag_val_hold(r, &v) < 0) { /* answered NO_OBJECT */
				ag_lpack_release_bytes((uint8_t *)b->data, at,
						       start, release_ref,
						       r->srv);
				b->len = at;
				return AGORA_ENO_OBJECT;
			}
			nrefs++;
		}
	}
	if (i < count) {
		ag_lpack_release_bytes((uint8_t *)b->data, at, start,
				       release_ref, r->srv);
		b->len = at;
		if (rc == AGORA_EVALUE)
			return ag_reply_error(&r->to, AGORA_EVALUE,
					      "%.*s: item %" PRIu64 " holds %s",
					      (int)r->methodlen, r->method, i,
					      why);
		return oom(r);
	}
	if ((rc = ag_memory_check(r, b->len - at)) < 0) {
		ag_lpack_release_bytes((uint8_t *)b->data, at, b->len,
				       release_ref, r->srv);
		b->len = at;
		return rc;
	}
	ret->at = at;
	ret->len = b->len - at;
	ret->nrefs = nrefs;
	return 0;
}

/* encode_items_to() the server's scratch buffer. On success the caller
 * copies the bytes out, then calls encoded_done(). */
static int encode_items(ag_req *r, ag_items arr, encoded *ret)
{
	return encode_items_to(r, arr, ag_server_scratch(r->srv), ret);
}

static const uint8_t *encoded_bytes(ag_req *r, const encoded *e)
{
	if (e->len == 0)
		return NULL;
	return (const uint8_t *)ag_server_scratch(r->srv)->data + e->at;
}

/* Drop the encoded bytes from the scratch; with @release, also what they
 * hold (they were not stored after all). */
static void encoded_done(ag_req *r, const encoded *e, bool release)
{
	ag_buf *b = ag_server_scratch(r->srv);

	if (release && e->nrefs > 0)
		ag_lpack_release_bytes((uint8_t *)b->data, e->at,
				       e->at + e->len, release_ref, r->srv);
	b->len = e->at;
}

/* Python's index: a negative @i counts from the end. False when outside. */
static bool norm_index(int64_t i, size_t len, size_t *ret)
{
	if (i < 0)
		i += (int64_t)len;
	if (i < 0 || (uint64_t)i >= len)
		return false;
	*ret = (size_t)i;
	return true;
}

/* One slice bound clamped as PySlice_AdjustIndices does. */
static int64_t clamp_bound(int64_t v, int64_t len, int64_t step)
{
	if (v < 0) {
		v += len;
		if (v < 0)
			v = step < 0 ? -1 : 0;
	} else if (v >= len) {
		v = step < 0 ? len - 1 : len;
	}
	return v;
}

/*
 * Python's slice resolution for a sequence of @len items and a non-zero
 * @step: *ret_start gets the first index and the return value is how many
 * items the slice selects.
 */
static size_t slice_adjust(size_t len, int64_t start, bool start_nil,
			   int64_t stop, bool stop_nil, int64_t step,
			   int64_t *ret_start)
{
	int64_t n = (int64_t)len;

	if (start_nil)
		start = step < 0 ? n - 1 : 0;
	else
		start = clamp_bound(start, n, step);
	if (stop_nil)
		stop = step < 0 ? -1 : n;
	else
		stop = clamp_bound(stop, n, step);
	*ret_start = start;
	if (step < 0) {
		if (stop < start)
			return (size_t)((start - stop - 1) / -step + 1);
	} else if (start < stop) {
		return (size_t)((stop - start - 1) / step + 1);
	}
	return 0;
}

/* A step-1 slice [start, stop) as item positions [*lo, *hi). */
static int slice_bounds(ag_req *r, size_t len, size_t *lo, size_t *hi)
{
	int64_t start, stop, first;
	bool start_nil, stop_nil;
	size_t n;
	int rc;

	if ((rc = ag_arg_opt_index(r, 1, &start, &start_nil)) < 0 ||
	    (rc = ag_arg_opt_index(r, 2, &stop, &stop_nil)) < 0)
		return rc;
	n = slice_adjust(len, start, start_nil, stop, stop_nil, 1, &first);
	*lo = (size_t)first;
	*hi = *lo + n;
	return 0;
}

static const char *describe(const msgpack_object *o, char *buf, size_t len)
{
	ag_obj_describe(o, buf, len);
	return buf;
}

/* ---- methods ------------------------------------------------------------- */

/* Transactions (at the end). */
static bool append_fits(const list *l, const ag_val *v);
static int txn_full(ag_object *o);

/* Store @v (holds taken, ownership of its bytes ends here) as items [lo,
 * hi) replaced (hi - lo <= 1). Answers LIMIT and frees @v when out of
 * memory. */
static int put_val(ag_req *r, list *l, size_t lo, size_t hi, ag_val *v)
{
	size_t a, b, n = ag_val_len(v);
	int64_t x;

	if (!l->packed && ag_lints_val_int(v, &x)) {
		ag_val_deinit(v); /* an int holds nothing */
		if (ag_lints_splice(&l->u.ints, lo, hi, 1,
				    ag_lints_width_for(x)) < 0)
			return oom(r);
		ag_lints_set(&l->u.ints, lo, x);
		sync_mem(r->obj, l);
		return 0;
	}
	if (to_packed(r->obj, l) < 0) {
		ag_val_free(r->srv, v);
		return oom(r);
	}
	ag_lpack_range(&l->u.pk, lo, hi, &a, &b);
	if (ag_lpack_splice(&l->u.pk, lo, hi, a, b, ag_val_bytes(v), n, 1,
			    (ag_val_flags(v) & AG_VAL_REF) ? 1 : 0, release_ref,
			    r->srv) < 0) {
		ag_val_free(r->srv, v);
		return oom(r);
	}
	ag_val_deinit(v); /* the list holds its references now */
	if (b - a > n)
		trim(l);
	sync_mem(r->obj, l);
	return 0;
}

/* In the int store, items [lo, hi) replaced by the ints of @arr, which
 * need @w bytes (arr_width()); answers nil, or LIMIT when out of memory. */
static int put_ints(ag_req *r, list *l, size_t lo, size_t hi, ag_items arr,
		    unsigned w)
{
	int64_t x = 0;
	ag_item it;
	int rc;

	if (arr.count > hi - lo &&
	    (rc = ag_memory_check(r, (arr.count - (hi - lo)) * w)) < 0)
		return rc;
	if (ag_lints_splice(&l->u.ints, lo, hi, arr.count, w) < 0)
		return oom(r);
	for (size_t i = 0; ag_items_next(&arr, &it); i++) {
		ag_lints_head_int(&it.head, &x);
		ag_lints_set(&l->u.ints, lo + i, x);
	}
	trim(l);
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_append(ag_req *r)
{
	list *l = r->obj->data;
	ag_val v;
	int rc;

	if ((rc = ag_arg_val(r, 1, &v)) < 0)
		return rc;
	if ((rc = ag_items_check(r, list_n(l), 1)) < 0) {
		ag_val_free(r->srv, &v);
		return rc;
	}
	/* A transaction's undo: a cut past the length, unless the store
	 * changes more (transactions, at the end). */
	if (!append_fits(l, &v) && txn_full(r->obj) < 0) {
		ag_val_free(r->srv, &v);
		return oom(r);
	}
	if ((rc = put_val(r, l, list_n(l), list_n(l), &v)) < 0)
		return rc;
	ag_reply_nil(&r->to);
	return 0;
}

/*
 * list_extend() of a packed or empty list: the items are made canonical
 * straight into the packed store's buffer, past its items, and the splice
 * only counts them in. A large extend then holds its bytes twice at its
 * peak (the request and the list), not three times (and a scratch copy).
 * On failure the list holds what it held (its buffer may keep the room it
 * grew, accounted).
 */
static int extend_in_place(ag_req *r, list *l, ag_items arr)
{
	ag_lpack *p;
	ag_buf tail;
	encoded e;
	int rc;

	if (to_packed(r->obj, l) < 0)
		return oom(r);
	p = &l->u.pk;
	tail = ag_lpack_lend(p);
	rc = encode_items_to(r, arr, &tail, &e);
	ag_lpack_unlend(p, &tail);
	if (rc == 0 && ag_lpack_splice(p, p->len, p->len, p->used, p->used,
				       p->buf + p->used, e.len, arr.count,
				       e.nrefs, release_ref, r->srv) < 0) {
		if (e.nrefs > 0)
			ag_lpack_release_bytes(p->buf, e.at, e.at + e.len,
					       release_ref, r->srv);
		rc = oom(r);
	}
	if (rc < 0) {
		trim(l); /* an empty list goes back to the int store */
		sync_mem(r->obj, l);
		return rc;
	}
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_extend(ag_req *r)
{
	list *l = r->obj->data;
	ag_lpack *p = &l->u.pk;
	ag_items arr;
	unsigned w;
	encoded e;
	int rc;

	if ((rc = ag_arg_items(r, 1, &arr)) < 0 ||
	    (rc = ag_items_check(r, list_n(l), arr.count)) < 0)
		return rc;
	if (!l->packed && (w = arr_width(arr)) != 0)
		return put_ints(r, l, list_n(l), list_n(l), arr, w);
	if (l->packed || list_n(l) == 0)
		return extend_in_place(r, l, arr);
	if ((rc = encode_items(r, arr, &e)) < 0)
		return rc;
	if (to_packed(r->obj, l) < 0 ||
	    ag_lpack_splice(p, p->len, p->len, p->used, p->used,
			    encoded_bytes(r, &e), e.len, arr.count, e.nrefs,
			    release_ref, r->srv) < 0) {
		encoded_done(r, &e, true);
		sync_mem(r->obj, l);
		return oom(r);
	}
	encoded_done(r, &e, false);
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_insert(ag_req *r)
{
	list *l = r->obj->data;
	int64_t i, n = (int64_t)list_n(l);
	ag_val v;
	int rc;

	if ((rc = ag_arg_int(r, 1, &i)) < 0 || (rc = ag_arg_val(r, 2, &v)) < 0)
		return rc;
	if ((rc = ag_items_check(r, list_n(l), 1)) < 0) {
		ag_val_free(r->srv, &v);
		return rc;
	}
	/* As list.insert: clamp, never an error. */
	if (i < 0) {
		i += n;
		if (i < 0)
			i = 0;
	} else if (i > n) {
		i = n;
	}
	if ((rc = put_val(r, l, (size_t)i, (size_t)i, &v)) < 0)
		return rc;
	ag_reply_nil(&r->to);
	return 0;
}

/* Read argv[1] as an index into @l; answers ARGS or INDEX. */
static int arg_index(ag_req *r, list *l, size_t *ret)
{
	int64_t i;
	int rc;

	if ((rc = ag_arg_int(r, 1, &i)) < 0)
		return rc;
	if (!norm_index(i, list_n(l), ret))
		return ag_reply_error(&r->to, AGORA_EINDEX,
				      "list index %" PRId64
				      " out of range (len %zu)",
				      i, list_n(l));
	return 0;
}

static int list_get(ag_req *r)
{
	list *l = r->obj->data;
	size_t at = 0, off;
	ag_val v;
	int rc;

	if ((rc = arg_index(r, l, &at)) < 0)
		return rc;
	if (!l->packed) {
		ag_lints_pack(ag_reply_begin(&r->to),
			      ag_lints_get(&l->u.ints, at));
		return 0;
	}
	off = ag_lpack_offset(&l->u.pk, at);
	v = ag_val_view(l->u.pk.buf + off,
			(uint32_t)ag_lpack_item_len(&l->u.pk, off), 0);
	ag_reply_val(&r->to, &v);
	return 0;
}

static int list_set(ag_req *r)
{
	list *l = r->obj->data;
	size_t at = 0;
	ag_val v;
	int rc;

	if ((rc = arg_index(r, l, &at)) < 0 ||
	    (rc = ag_arg_val(r, 2, &v)) < 0 ||
	    (rc = put_val(r, l, at, at + 1, &v)) < 0)
		return rc;
	ag_reply_nil(&r->to);
	return 0;
}

static int list_delete(ag_req *r)
{
	list *l = r->obj->data;
	size_t at = 0;
	int rc;

	if ((rc = arg_index(r, l, &at)) < 0)
		return rc;
	delete_range(l, at, at + 1);
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_slice(ag_req *r)
{
	list *l = r->obj->data;
	int64_t start, stop, step, first;
	bool start_nil, stop_nil, step_nil;
	msgpack_packer *pk;
	size_t n;
	int rc;

	if ((rc = ag_arg_opt_index(r, 1, &start, &start_nil)) < 0 ||
	    (rc = ag_arg_opt_index(r, 2, &stop, &stop_nil)) < 0 ||
	    (rc = ag_arg_opt_index(r, 3, &step, &step_nil)) < 0)
		return rc;
	if (step_nil)
		step = 1;
	if (step == 0)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "slice step cannot be zero");
	/* As CPython: a step of -2^63 acts as -(2^63 - 1). */
	if (step < -INT64_MAX)
		step = -INT64_MAX;
	n = slice_adjust(list_n(l), start, start_nil, stop, stop_nil, step,
			 &first);
	pk = ag_reply_begin(&r->to);
	msgpack_pack_array(pk, n);
	if (l->packed)
		ag_lpack_pack_items(&l->u.pk, pk, first, n, step);
	else
		ag_lints_pack_items(&l->u.ints, pk, first, n, step);
	return 0;
}

/* a[start:stop] = items, with Python's clamping (stop < start inserts). */
static int list_set_slice(ag_req *r)
{
	list *l = r->obj->data;
	ag_lpack *p = &l->u.pk;
	ag_items arr;
	size_t lo, hi, a, b;
	unsigned w;
	encoded e;
	int rc;

	if ((rc = slice_bounds(r, list_n(l), &lo, &hi)) < 0 ||
	    (rc = ag_arg_items(r, 3, &arr)) < 0 ||
	    (arr.count > hi - lo &&
	     (rc = ag_items_check(r, list_n(l), arr.count - (hi - lo))) < 0))
		return rc;
	if (!l->packed && (w = arr_width(arr)) != 0)
		return put_ints(r, l, lo, hi, arr, w);
	if ((rc = encode_items(r, arr, &e)) < 0)
		return rc;
	if (to_packed(r->obj, l) < 0) {
		encoded_done(r, &e, true);
		return oom(r);
	}
	a = ag_lpack_offset(p, lo);
	b = ag_lpack_offset(p, hi);
	if (ag_lpack_splice(p, lo, hi, a, b, encoded_bytes(r, &e), e.len,
			    arr.count, e.nrefs, release_ref, r->srv) < 0) {
		encoded_done(r, &e, true);
		sync_mem(r->obj, l);
		return oom(r);
	}
	encoded_done(r, &e, false);
	trim(l);
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_del_slice(ag_req *r)
{
	list *l = r->obj->data;
	size_t lo, hi;
	int rc;

	if ((rc = slice_bounds(r, list_n(l), &lo, &hi)) < 0)
		return rc;
	delete_range(l, lo, hi);
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_pop(ag_req *r)
{
	list *l = r->obj->data;
	ag_lpack *p = &l->u.pk;
	ag_val v, owned = { 0 };
	uint32_t flags = 0;
	size_t at, a, size;
	int64_t i;
	int rc;

	if ((rc = ag_arg_opt_int(r, 1, -1, &i)) < 0)
		return rc;
	if (list_n(l) == 0)
		return ag_reply_error(&r->to, AGORA_EINDEX,
				      "pop from empty list");
	if (!norm_index(i, list_n(l), &at))
		return ag_reply_error(&r->to, AGORA_EINDEX,
				      "pop index %" PRId64
				      " out of range (len %zu)",
				      i, list_n(l));
	if (!l->packed) {
		ag_lints_pack(ag_reply_begin(&r->to),
			      ag_lints_get(&l->u.ints, at));
		delete_range(l, at, at + 1);
		sync_mem(r->obj, l);
		return 0;
	}
	a = ag_lpack_offset(p, at);
	size = p->nrefs > 0 ? ag_lpack_item_size(p, a, &flags)
			    : ag_lpack_item_len(p, a);
	v = ag_val_view(p->buf + a, (uint32_t)size, flags);
	/* Its references go with it: that needs an owned copy. */
	if ((flags & AG_VAL_REF) && ag_val_dup(&owned, &v) < 0)
		return oom(r);
	ag_reply_val(&r->to, &v);
	/* Shrinks: cannot fail; NULL: the holds pass to the caller. */
	ag_lpack_splice(p, at, at + 1, a, a + size, NULL, 0, 0, 0, NULL, NULL);
	if (flags & AG_VAL_REF)
		ag_val_give(r->to.conn, &owned);
	trim(l);
	sync_mem(r->obj, l);
	return 0;
}

/* Position of the first item equal to @v in [lo, hi), or SIZE_MAX: as
 * section 5 has it, an int equals nothing but an int. */
static size_t find(list *l, const ag_val *v, size_t lo, size_t hi)
{
	int64_t x;

	if (l->packed)
		return ag_lpack_find(&l->u.pk, v, lo, hi);
	if (hi > l->u.ints.len)
		hi = l->u.ints.len;
	if (lo >= hi || !ag_lints_val_int(v, &x))
		return SIZE_MAX;
	return ag_lints_find(&l->u.ints, x, lo, hi);
}

static int list_remove(ag_req *r)
{
	list *l = r->obj->data;
	char desc[96];
	size_t at = 0;
	ag_val v;
	int rc;

	if ((rc = ag_arg_val(r, 1, &v)) < 0)
		return rc;
	at = find(l, &v, 0, list_n(l));
	ag_val_free(r->srv, &v);
	if (at == SIZE_MAX)
		return ag_reply_error(
		    &r->to, AGORA_EVALUE, "list.remove(x): %s not in list",
		    describe(&r->argv[1], desc, sizeof(desc)));
	delete_range(l, at, at + 1);
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

/* list.index(v, start, stop): bounds clamp as Python's, never an error. */
static int list_index(ag_req *r)
{
	list *l = r->obj->data;
	int64_t start, stop, n = (int64_t)list_n(l);
	char desc[96];
	size_t at = 0;
	ag_val v;
	int rc;

	if ((rc = ag_arg_opt_int(r, 2, 0, &start)) < 0 ||
	    (rc = ag_arg_opt_int(r, 3, n, &stop)) < 0 ||
	    (rc = ag_arg_val(r, 1, &v)) < 0)
		return rc;
	if (start < 0) {
		start += n;
		if (start < 0)
			start = 0;
	}
	if (stop < 0) {
		stop += n;
		if (stop < 0)
			stop = 0;
	}
	at = start < stop ? find(l, &v, (size_t)start, (size_t)stop) : SIZE_MAX;
	ag_val_free(r->srv, &v);
	if (at == SIZE_MAX)
		return ag_reply_error(
		    &r->to, AGORA_EVALUE, "list.index(x): %s is not in list",
		    describe(&r->argv[1], desc, sizeof(desc)));
	ag_reply_uint(&r->to, at);
	return 0;
}

static int list_count(ag_req *r)
{
	list *l = r->obj->data;
	uint64_t n = 0;
	int64_t x;
	ag_val v;
	int rc;

	if ((rc = ag_arg_val(r, 1, &v)) < 0)
		return rc;
	if (l->packed)
		n = ag_lpack_count(&l->u.pk, &v);
	else if (ag_lints_val_int(&v, &x)) /* else nothing equals it */
		n = ag_lints_count(&l->u.ints, x);
	ag_val_free(r->srv, &v);
	ag_reply_uint(&r->to, n);
	return 0;
}

static int list_contains(ag_req *r)
{
	list *l = r->obj->data;
	bool found;
	ag_val v;
	int rc;

	if ((rc = ag_arg_val(r, 1, &v)) < 0)
		return rc;
	found = find(l, &v, 0, list_n(l)) != SIZE_MAX;
	ag_val_free(r->srv, &v);
	ag_reply_bool(&r->to, found);
	return 0;
}

static int list_len(ag_req *r)
{
	list *l = r->obj->data;

	ag_reply_uint(&r->to, list_n(l));
	return 0;
}

/* In place, without memory. */
static int list_reverse(ag_req *r)
{
	list *l = r->obj->data;

	if (l->packed)
		ag_lpack_reverse(&l->u.pk);
	else
		ag_lints_reverse(&l->u.ints);
	ag_reply_nil(&r->to);
	return 0;
}

/* Python's stable sort; items that do not order answer TYPE and leave the
 * list as it was. The packed store decodes into the server zone. */
static int list_sort(ag_req *r)
{
	list *l = r->obj->data;
	msgpack_object bad_a, bad_b;
	char da[96], db[96];
	bool reverse;
	int rc;

	if ((rc = ag_arg_bool(r, 1, false, &reverse)) < 0)
		return rc;
	if (!l->packed)
		rc = ag_lints_sort(&l->u.ints, reverse);
	else
		rc = ag_lpack_sort(&l->u.pk, reverse, ag_server_zone(r->srv),
				   &bad_a, &bad_b);
	if (rc == AGORA_ETYPE)
		return ag_reply_error(&r->to, AGORA_ETYPE,
				      "list.sort: cannot order %s and %s",
				      describe(&bad_a, da, sizeof(da)),
				      describe(&bad_b, db, sizeof(db)));
	if (rc < 0)
		return oom(r);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_clear(ag_req *r)
{
	list *l = r->obj->data;

	store_clear(l);
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_copy(ag_req *r)
{
	list *l = r->obj->data;
	msgpack_packer *pk = ag_reply_begin(&r->to);

	msgpack_pack_array(pk, list_n(l));
	if (l->packed)
		ag_lpack_pack_items(&l->u.pk, pk, 0, list_n(l), 1);
	else
		ag_lints_pack_items(&l->u.ints, pk, 0, list_n(l), 1);
	return 0;
}

/* ---- persistence --------------------------------------------------------- */

/* Bytes of items a snapshot record holds at most, past its first item: a
 * list of large items makes records of about this size, not of
 * AG_SAVE_CHUNK times an item's. */
#define SAVE_BYTES ((size_t)1 << 20)

/*
 * The records that rebuild a list: "list.extend" calls of its items in
 * order, at most AG_SAVE_CHUNK items each and, past its first item, at most
 * SAVE_BYTES bytes of items, each item its stored bytes (an int of the
 * int store as value.c encodes it: the bytes the packed store would hold).
 * Extending an empty list with them gives the same items, whichever store
 * the replay lands in. 0, AGORA_EIO when no record could be begun, or the
 * error of ag_save_end().
 */
static int list_save(ag_object *o, ag_save *sv)
{
	list *l = o->data;
	size_t n = list_n(l);
	msgpack_packer *pk;
	int rc;

	for (size_t i = 0, k; i < n; i += k) {
		size_t a = 0, b = 0;

		if (l->packed) {
			a = ag_lpack_offset(&l->u.pk, i);
			b = a + ag_lpack_item_len(&l->u.pk, a);
			for (k = 1; i + k < n && k < AG_SAVE_CHUNK; k++) {
				size_t c = b + ag_lpack_item_len(&l->u.pk, b);

				if (c - a > SAVE_BYTES)
					break;
				b = c;
			}
		} else {
			k = n - i < AG_SAVE_CHUNK ? n - i : AG_SAVE_CHUNK;
		}
		if ((pk = ag_save_call(sv, o, "list.extend", 1)) == NULL)
			return AGORA_EIO;
		msgpack_pack_array(pk, (uint32_t)k);
		if (l->packed)
			pk->callback(pk->data, (const char *)l->u.pk.buf + a,
				     b - a);
		else
			ag_lints_pack_items(&l->u.ints, pk, (int64_t)i, k, 1);
		if ((rc = ag_save_end(sv)) != 0)
			return rc;
	}
	return 0;
}

/* ---- family -------------------------------------------------------------- */

/* A list takes no open options. */
static int list_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	static const char *const allowed[] = { NULL };
	list *l;
	int rc;

	if ((rc = ag_opts_check(r, opts, allowed)) < 0)
		return rc;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "out of memory creating a list");
	l->srv = r->srv;
	ag_lints_init(&l->u.ints);
	o->data = l;
	sync_mem(o, l);
	return 0;
}

/* Frees every element and gives back all the memory it accounted. */
static void list_destroy(ag_object *o)
{
	list *l = o->data;

	if (l == NULL)
		return;
	store_clear(l);
	ag_object_mem(o, -(ssize_t)l->accounted);
	free(l);
	o->data = NULL;
}

static bool list_length(ag_object *o, size_t *ret)
{
	list *l = o->data;

	*ret = list_n(l);
	return true;
}

static unsigned list_info_count(ag_object *o)
{
	return 0;
}

static void list_info_pack(ag_object *o, msgpack_packer *pk)
{
}

static void list_conn_gone(ag_object *o, ag_conn *c)
{
}

/* ---- transactions -------------------------------------------------------- */

/*
 * What a transaction keeps of a list to undo with (protocol section 12;
 * txn_save()): at first only the length it had (and the bytes, and how
 * many marks were up to date, in the packed store), for the common case,
 * a transaction that appends to a long list: as long as each append fits
 * the room the store has (append_fits()), items past that length are all
 * that changed, and undoing is cutting them off (their holds released).
 * Before any other change (another method, an append that grows the
 * store: txn_full()), that becomes a whole copy of the list as it was: a
 * copy of the store now, with as much memory allocated (so that the
 * memory accounted comes back the same), each item holding what its
 * references name as the list's do, cut back to that length. A list has
 * no waiters: nothing to defer, nothing to wake.
 */
struct lsave {
	list *copy;    /* the whole copy, or NULL while only appending */
	size_t len;    /* items when saved */
	size_t used;   /* packed: bytes of the items then */
	size_t nvalid; /* packed: marks up to date then */
};

/* The packed store's walk taking a hold of what an item names. */
static void hold_ref(void *srv, ag_val *v)
{
	ag_val_foreach_ref(srv, v, ref_one, NULL);
}

/* The items of @l past @sv's length cut off, what they hold released:
 * the store never grew meanwhile, so it is as it was. */
static void cut_back(list *l, const struct lsave *sv)
{
	ag_lpack *p = &l->u.pk;

	if (!l->packed) {
		l->u.ints.len = sv->len;
		return;
	}
	if (p->nrefs > 0)
		p->nrefs -= ag_lpack_release_bytes(p->buf, sv->used, p->used,
						   release_ref, l->srv);
	p->used = sv->used;
	p->len = sv->len;
	if (p->nvalid > sv->nvalid)
		p->nvalid = sv->nvalid;
}

/* A copy of @l's store with as much memory, holding what its items
 * name; NULL when out of memory. */
static list *list_dup(const list *l)
{
	list *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL)
		return NULL;
	c->srv = l->srv;
	c->accounted = l->accounted;
	c->packed = l->packed;
	rc = l->packed ? ag_lpack_copy(&c->u.pk, &l->u.pk)
		       : ag_lints_copy(&c->u.ints, &l->u.ints);
	if (rc < 0) {
		free(c);
		return NULL;
	}
	if (c->packed && c->u.pk.nrefs > 0)
		ag_lpack_release_bytes(c->u.pk.buf, 0, c->u.pk.used, hold_ref,
				       c->srv);
	return c;
}

/* The saved record of @o while it only logs appends, or NULL. */
static struct lsave *txn_log(ag_object *o)
{
	struct lsave *sv = ag_txn_saved(o);

	return sv != NULL && sv->copy == NULL ? sv : NULL;
}

/* Before a change other than an append that fits: the whole copy. 0, or
 * AGORA_ENOMEM with nothing changed. */
static int txn_full(ag_object *o)
{
	struct lsave *sv = txn_log(o);
	list *c;

	if (sv == NULL)
		return 0;
	if ((c = list_dup(o->data)) == NULL)
		return AGORA_ENOMEM;
	cut_back(c, sv);
	sv->copy = c;
	return 0;
}

/* Whether appending @v to @l changes nothing but the items past its
 * length: the store has room for it as it is (no growing, no widening,
 * no leaving the int store). */
static bool append_fits(const list *l, const ag_val *v)
{
	const ag_lpack *p = &l->u.pk;
	const ag_lints *s = &l->u.ints;
	int64_t x;

	if (l->packed)
		return p->used + ag_val_len(v) <= p->cap &&
		       (p->len + 1 + AG_LPACK_MARK_EVERY - 1) /
			       AG_LPACK_MARK_EVERY <=
			   p->marks_cap;
	return ag_lints_val_int(v, &x) && ag_lints_width_for(x) <= s->width &&
	       (s->len + 1) * s->width <= s->cap;
}

static void *list_txn_save(ag_object *o)
{
	list *l = o->data;
	struct lsave *sv = calloc(1, sizeof(*sv));

	if (sv == NULL)
		return NULL;
	sv->len = list_n(l);
	if (l->packed) {
		sv->used = l->u.pk.used;
		sv->nvalid = l->u.pk.nvalid;
	}
	return sv;
}

/* Free a copy, releasing what its items hold. */
static void list_free(list *c)
{
	store_clear(c);
	free(c);
}

static void list_txn_drop(ag_object *o, void *saved)
{
	struct lsave *sv = saved;

	(void)o;
	if (sv->copy != NULL)
		list_free(sv->copy);
	free(sv);
}

static void list_txn_restore(ag_object *o, void *saved)
{
	list *l = o->data;
	struct lsave *sv = saved;
	list *c = sv->copy;

	if (c == NULL) {
		cut_back(l, sv);
	} else {
		store_clear(l);
		l->packed = c->packed;
		l->u = c->u;
		free(c);
	}
	free(sv);
	sync_mem(o, l);
}

/* The write methods but append, each making the whole copy first (the
 * method table names these). */
#define TXN_FULL_FIRST(fn)                                    \
	static int fn##_txn(ag_req *r)                        \
	{                                                     \
		return txn_full(r->obj) < 0 ? oom(r) : fn(r); \
	}
TXN_FULL_FIRST(list_extend)
TXN_FULL_FIRST(list_insert)
TXN_FULL_FIRST(list_set)
TXN_FULL_FIRST(list_delete)
TXN_FULL_FIRST(list_set_slice)
TXN_FULL_FIRST(list_del_slice)
TXN_FULL_FIRST(list_pop)
TXN_FULL_FIRST(list_remove)
TXN_FULL_FIRST(list_reverse)
TXN_FULL_FIRST(list_sort)
TXN_FULL_FIRST(list_clear)

static const ag_method list_methods[] = {
	{ "append", list_append, 2, 2, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "extend", list_extend_txn, 2, 2, AG_STORES_ITEMS, AG_RIGHT_WRITE },
	{ "insert", list_insert_txn, 3, 3, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "get", list_get, 2, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "set", list_set_txn, 3, 3, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "delete", list_delete_txn, 2, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "slice", list_slice, 1, 4, AG_STORES_NONE, AG_RIGHT_READ },
	{ "set_slice", list_set_slice_txn, 4, 4, AG_STORES_ITEMS,
	  AG_RIGHT_WRITE },
	{ "del_slice", list_del_slice_txn, 3, 3, AG_STORES_NONE,
	  AG_RIGHT_WRITE },
	{ "pop", list_pop_txn, 1, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "remove", list_remove_txn, 2, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "index", list_index, 2, 4, AG_STORES_NONE, AG_RIGHT_READ },
	{ "count", list_count, 2, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "contains", list_contains, 2, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "len", list_len, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "reverse", list_reverse_txn, 1, 1, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "sort", list_sort_txn, 1, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "clear", list_clear_txn, 1, 1, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "copy", list_copy, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_family ag_family_list = {
	.name = "list",
	.base = NULL,
	.methods = list_methods,
	.create = list_create,
	.destroy = list_destroy,
	.len = list_length,
	.info_count = list_info_count,
	.info_pack = list_info_pack,
	.conn_gone = list_conn_gone,
	/* Every write method replays as it ran: none reads a clock or draws
	 * anything random (sort is stable and total over what it accepts). */
	.persist = AG_PERSIST_CALLS,
	.save_opts = NULL, /* no options */
	.save = list_save,
	.txn_save = list_txn_save,
	.txn_restore = list_txn_restore,
	.txn_drop = list_txn_drop,
};
