/*
 * obj_list.c - the "list" family: Python's list, shared.
 *
 * A list is a growable array of stored values (ag_val: canonical MessagePack
 * bytes, owned by the list). Values come in through ag_arg_val() or
 * ag_val_from_obj() and go out untouched through ag_reply_val() /
 * ag_pack_val(). Indices, slices, insert clamping, pop/remove/index errors
 * and the stable sort follow Python's list one for one (protocol.md 3.1).
 *
 * Every method checks all of its params and makes every allocation it needs
 * before it changes the list, so a call that fails leaves the list as it
 * was. Memory is accounted with ag_object_mem(): the list's own struct, its
 * array capacity, and the bytes of every element; destroy gives it all back.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct list {
	ag_server *srv; /* for releasing the references values hold */
	ag_val *items;
	size_t len;
	size_t cap;
	size_t bytes;     /* sum of items[i].len */
	size_t accounted; /* what ag_object_mem() has been told */
} list;

/* Tell the registry how many bytes the list holds now. */
static void sync_mem(ag_object *o, list *l)
{
	size_t now = sizeof(*l) + l->cap * sizeof(ag_val) + l->bytes;

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

/* Room for @extra more items. Returns 0 or AGORA_ENOMEM (list untouched). */
static int reserve(list *l, size_t extra)
{
	size_t want, cap;
	ag_val *items;

	if (extra > SIZE_MAX / sizeof(ag_val) - l->len)
		return AGORA_ENOMEM;
	want = l->len + extra;
	if (want <= l->cap)
		return 0;
	cap = l->cap < 8 ? 8 : l->cap + l->cap / 2;
	if (cap < want || cap > SIZE_MAX / sizeof(ag_val))
		cap = want;
	items = realloc(l->items, cap * sizeof(ag_val));
	if (items == NULL)
		return AGORA_ENOMEM;
	l->items = items;
	l->cap = cap;
	return 0;
}

/*
 * Canonical copies of every element of @arr into a new array *ret (NULL when
 * @arr is empty). Answers VALUE (a malformed reference) or LIMIT and returns
 * it on failure, with nothing left allocated.
 */
static int encode_items(ag_req *r, const msgpack_object_array *arr,
			ag_val **ret, size_t *ret_bytes)
{
	ag_val *vals = NULL;
	size_t bytes = 0;
	uint32_t i;
	int rc = 0;

	if (arr->size > 0) {
		vals = calloc(arr->size, sizeof(*vals));
		if (vals == NULL)
			return oom(r);
	}
	for (i = 0; i < arr->size; i++) {
		rc = ag_val_from_obj(&vals[i], &arr->ptr[i]);
		if (rc < 0)
			break;
		if (ag_val_hold(r, &vals[i]) < 0) { /* answered NO_OBJECT */
			ag_val_deinit(&vals[i]);
			while (i-- > 0)
				ag_val_free(r->srv, &vals[i]);
			free(vals);
			return AGORA_ENO_OBJECT;
		}
		bytes += vals[i].len;
	}
	if (i < arr->size) {
		while (i-- > 0)
			ag_val_free(r->srv, &vals[i]);
		free(vals);
		if (rc == AGORA_EVALUE)
			return ag_reply_error(
			    &r->to, AGORA_EVALUE,
			    "item %" PRIu32
			    " holds a reference (ext 1) whose data is not 8 "
			    "bytes",
			    i);
		return oom(r);
	}
	*ret = vals;
	*ret_bytes = bytes;
	return 0;
}

/* Free @n stored values, releasing what their references hold. */
static void free_vals(ag_server *srv, ag_val *vals, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ag_val_free(srv, &vals[i]);
	free(vals);
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

/* A step-1 slice [start, stop) as array positions [*lo, *hi). */
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

static int list_append(ag_req *r)
{
	list *l = r->obj->data;
	ag_val v;
	int rc;

	if ((rc = ag_arg_val(r, 1, &v)) < 0)
		return rc;
	if (reserve(l, 1) < 0) {
		ag_val_free(r->srv, &v);
		return oom(r);
	}
	l->items[l->len++] = v;
	l->bytes += v.len;
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_extend(ag_req *r)
{
	list *l = r->obj->data;
	const msgpack_object_array *arr;
	ag_val *vals;
	size_t bytes;
	int rc;

	if ((rc = ag_arg_array(r, 1, &arr)) < 0 ||
	    (rc = encode_items(r, arr, &vals, &bytes)) < 0)
		return rc;
	if (reserve(l, arr->size) < 0) {
		free_vals(r->srv, vals, arr->size);
		return oom(r);
	}
	if (arr->size > 0)
		memcpy(l->items + l->len, vals, arr->size * sizeof(*vals));
	free(vals);
	l->len += arr->size;
	l->bytes += bytes;
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_insert(ag_req *r)
{
	list *l = r->obj->data;
	int64_t i, n = (int64_t)l->len;
	ag_val v;
	int rc;

	if ((rc = ag_arg_int(r, 1, &i)) < 0 || (rc = ag_arg_val(r, 2, &v)) < 0)
		return rc;
	if (reserve(l, 1) < 0) {
		ag_val_free(r->srv, &v);
		return oom(r);
	}
	/* As list.insert: clamp, never an error. */
	if (i < 0) {
		i += n;
		if (i < 0)
			i = 0;
	} else if (i > n) {
		i = n;
	}
	memmove(l->items + i + 1, l->items + i,
		(l->len - (size_t)i) * sizeof(ag_val));
	l->items[i] = v;
	l->len++;
	l->bytes += v.len;
	sync_mem(r->obj, l);
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
	if (!norm_index(i, l->len, ret))
		return ag_reply_error(
		    &r->to, AGORA_EINDEX,
		    "list index %" PRId64 " out of range (len %zu)", i, l->len);
	return 0;
}

static int list_get(ag_req *r)
{
	list *l = r->obj->data;
	size_t at;
	int rc;

	if ((rc = arg_index(r, l, &at)) < 0)
		return rc;
	ag_reply_val(&r->to, &l->items[at]);
	return 0;
}

static int list_set(ag_req *r)
{
	list *l = r->obj->data;
	size_t at;
	ag_val v;
	int rc;

	if ((rc = arg_index(r, l, &at)) < 0 || (rc = ag_arg_val(r, 2, &v)) < 0)
		return rc;
	l->bytes -= l->items[at].len;
	ag_val_free(l->srv, &l->items[at]);
	l->items[at] = v;
	l->bytes += v.len;
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

/* Remove and free items [lo, hi). */
static void delete_range(list *l, size_t lo, size_t hi)
{
	if (lo == hi)
		return;
	for (size_t i = lo; i < hi; i++) {
		l->bytes -= l->items[i].len;
		ag_val_free(l->srv, &l->items[i]);
	}
	memmove(l->items + lo, l->items + hi, (l->len - hi) * sizeof(ag_val));
	l->len -= hi - lo;
}

static int list_delete(ag_req *r)
{
	list *l = r->obj->data;
	size_t at;
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
	size_t n, k;
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
	n = slice_adjust(l->len, start, start_nil, stop, stop_nil, step,
			 &first);
	pk = ag_reply_begin(&r->to);
	msgpack_pack_array(pk, n);
	/* With two or more items |step| < len: k * step cannot overflow. */
	for (k = 0; k < n; k++)
		ag_pack_val(pk, &l->items[first + (int64_t)k * step]);
	return 0;
}

/* a[start:stop] = items, with Python's clamping (stop < start inserts). */
static int list_set_slice(ag_req *r)
{
	list *l = r->obj->data;
	const msgpack_object_array *arr;
	size_t lo, hi, bytes, k;
	ag_val *vals;
	int rc;

	if ((rc = slice_bounds(r, l->len, &lo, &hi)) < 0 ||
	    (rc = ag_arg_array(r, 3, &arr)) < 0 ||
	    (rc = encode_items(r, arr, &vals, &bytes)) < 0)
		return rc;
	k = arr->size;
	if (k > hi - lo && reserve(l, k - (hi - lo)) < 0) {
		free_vals(r->srv, vals, k);
		return oom(r);
	}
	for (size_t i = lo; i < hi; i++) {
		l->bytes -= l->items[i].len;
		ag_val_free(l->srv, &l->items[i]);
	}
	if (hi < l->len)
		memmove(l->items + lo + k, l->items + hi,
			(l->len - hi) * sizeof(ag_val));
	if (k > 0)
		memcpy(l->items + lo, vals, k * sizeof(ag_val));
	free(vals);
	l->len = l->len - (hi - lo) + k;
	l->bytes += bytes;
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_del_slice(ag_req *r)
{
	list *l = r->obj->data;
	size_t lo, hi;
	int rc;

	if ((rc = slice_bounds(r, l->len, &lo, &hi)) < 0)
		return rc;
	delete_range(l, lo, hi);
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_pop(ag_req *r)
{
	list *l = r->obj->data;
	int64_t i;
	size_t at;
	ag_val v;
	int rc;

	if ((rc = ag_arg_opt_int(r, 1, -1, &i)) < 0)
		return rc;
	if (l->len == 0)
		return ag_reply_error(&r->to, AGORA_EINDEX,
				      "pop from empty list");
	if (!norm_index(i, l->len, &at))
		return ag_reply_error(
		    &r->to, AGORA_EINDEX,
		    "pop index %" PRId64 " out of range (len %zu)", i, l->len);
	v = l->items[at];
	memmove(l->items + at, l->items + at + 1,
		(l->len - at - 1) * sizeof(ag_val));
	l->len--;
	l->bytes -= v.len;
	ag_reply_val(&r->to, &v);
	ag_val_give(r->to.conn, &v); /* its references go with it */
	sync_mem(r->obj, l);
	return 0;
}

/* Position of the first item equal to @v in [lo, hi), or SIZE_MAX. */
static size_t find(const list *l, const ag_val *v, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi && i < l->len; i++)
		if (ag_val_equal(&l->items[i], v))
			return i;
	return SIZE_MAX;
}

static int list_remove(ag_req *r)
{
	list *l = r->obj->data;
	char desc[96];
	size_t at;
	ag_val v;
	int rc;

	if ((rc = ag_arg_val(r, 1, &v)) < 0)
		return rc;
	at = find(l, &v, 0, l->len);
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
	int64_t start, stop, n = (int64_t)l->len;
	char desc[96];
	size_t at;
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
	ag_val v;
	int rc;

	if ((rc = ag_arg_val(r, 1, &v)) < 0)
		return rc;
	for (size_t i = 0; i < l->len; i++)
		n += ag_val_equal(&l->items[i], &v);
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
	found = find(l, &v, 0, l->len) != SIZE_MAX;
	ag_val_free(r->srv, &v);
	ag_reply_bool(&r->to, found);
	return 0;
}

static int list_len(ag_req *r)
{
	list *l = r->obj->data;

	ag_reply_uint(&r->to, l->len);
	return 0;
}

static int list_reverse(ag_req *r)
{
	list *l = r->obj->data;

	for (size_t i = 0, j = l->len; i + 1 < j; i++, j--) {
		ag_val t = l->items[i];

		l->items[i] = l->items[j - 1];
		l->items[j - 1] = t;
	}
	ag_reply_nil(&r->to);
	return 0;
}

/* ---- sort ---------------------------------------------------------------- */

/*
 * The sort orders indices into the decoded elements with a stable merge
 * sort (insertion-sorted runs, then bottom-up merges). With reverse=true it
 * sorts by the inverted comparison, which is stable too, so equal elements
 * keep their original order as in Python. The first pair that does not
 * order stops it; the list is only permuted once everything compared.
 */
typedef struct sorter {
	const msgpack_object *objs;
	bool reverse;
	bool failed;
	size_t bad_a, bad_b; /* the pair that did not order */
} sorter;

/* True when element @a must come strictly after element @b. */
static bool after(sorter *s, size_t a, size_t b)
{
	int c;

	if (s->failed)
		return false;
	if (ag_obj_compare(&s->objs[a], &s->objs[b], &c) < 0) {
		s->failed = true;
		s->bad_a = a;
		s->bad_b = b;
		return false;
	}
	return s->reverse ? c < 0 : c > 0;
}

#define SORT_RUN 16

static void insertion_sort(sorter *s, size_t *a, size_t n)
{
	for (size_t i = 1; i < n && !s->failed; i++) {
		size_t x = a[i], j = i;

		while (j > 0 && after(s, a[j - 1], x)) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = x;
	}
}

static void merge(sorter *s, const size_t *src, size_t *dst, size_t lo,
		  size_t mid, size_t hi)
{
	size_t i = lo, j = mid, k = lo;

	/* Already in order: the common case of appended sorted data. */
	if (mid < hi && mid > lo && !after(s, src[mid - 1], src[mid])) {
		memcpy(dst + lo, src + lo, (hi - lo) * sizeof(*src));
		return;
	}
	while (i < mid && j < hi)
		dst[k++] = after(s, src[i], src[j]) ? src[j++] : src[i++];
	while (i < mid)
		dst[k++] = src[i++];
	while (j < hi)
		dst[k++] = src[j++];
}

/* Sort @a (n indices) using @tmp (n more); false when a pair did not order. */
static bool sort_indices(sorter *s, size_t *a, size_t *tmp, size_t n)
{
	size_t *src = a, *dst = tmp, *t;

	for (size_t lo = 0; lo < n; lo += SORT_RUN)
		insertion_sort(s, a + lo,
			       n - lo < SORT_RUN ? n - lo : SORT_RUN);
	for (size_t w = SORT_RUN; w < n && !s->failed; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n;
			size_t hi = mid + w < n ? mid + w : n;

			merge(s, src, dst, lo, mid, hi);
		}
		t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
	return !s->failed;
}

static int list_sort(ag_req *r)
{
	list *l = r->obj->data;
	msgpack_zone *z = ag_server_zone(r->srv);
	msgpack_object *objs = NULL;
	size_t *idx = NULL, n = l->len;
	ag_val *vals = NULL;
	sorter s = { 0 };
	char da[96], db[96];
	int rc;

	if ((rc = ag_arg_bool(r, 1, false, &s.reverse)) < 0)
		return rc;
	if (n < 2) {
		ag_reply_nil(&r->to);
		return 0;
	}
	objs = malloc(n * sizeof(*objs));
	idx = malloc(2 * n * sizeof(*idx));
	vals = malloc(n * sizeof(*vals));
	if (objs == NULL || idx == NULL || vals == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		if (ag_val_unpack(&l->items[i], z, &objs[i]) < 0)
			goto nomem;
		idx[i] = i;
	}
	s.objs = objs;
	if (!sort_indices(&s, idx, idx + n, n)) {
		rc = ag_reply_error(&r->to, AGORA_ETYPE,
				    "list.sort: cannot order %s and %s",
				    describe(&objs[s.bad_a], da, sizeof(da)),
				    describe(&objs[s.bad_b], db, sizeof(db)));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		vals[i] = l->items[idx[i]];
	memcpy(l->items, vals, n * sizeof(*vals));
	ag_reply_nil(&r->to);
	rc = 0;
	goto out;
nomem:
	rc = oom(r);
out:
	free(objs);
	free(idx);
	free(vals);
	return rc;
}

static int list_clear(ag_req *r)
{
	list *l = r->obj->data;

	free_vals(l->srv, l->items, l->len);
	l->items = NULL;
	l->len = l->cap = l->bytes = 0;
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_copy(ag_req *r)
{
	list *l = r->obj->data;
	msgpack_packer *pk = ag_reply_begin(&r->to);

	msgpack_pack_array(pk, l->len);
	for (size_t i = 0; i < l->len; i++)
		ag_pack_val(pk, &l->items[i]);
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
	free_vals(l->srv, l->items, l->len);
	ag_object_mem(o, -(ssize_t)l->accounted);
	free(l);
	o->data = NULL;
}

static bool list_length(ag_object *o, size_t *ret)
{
	list *l = o->data;

	*ret = l->len;
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

static const ag_method list_methods[] = {
	{ "append", list_append, 2, 2 },
	{ "extend", list_extend, 2, 2 },
	{ "insert", list_insert, 3, 3 },
	{ "get", list_get, 2, 2 },
	{ "set", list_set, 3, 3 },
	{ "delete", list_delete, 2, 2 },
	{ "slice", list_slice, 1, 4 },
	{ "set_slice", list_set_slice, 4, 4 },
	{ "del_slice", list_del_slice, 3, 3 },
	{ "pop", list_pop, 1, 2 },
	{ "remove", list_remove, 2, 2 },
	{ "index", list_index, 2, 4 },
	{ "count", list_count, 2, 2 },
	{ "contains", list_contains, 2, 2 },
	{ "len", list_len, 1, 1 },
	{ "reverse", list_reverse, 1, 1 },
	{ "sort", list_sort, 1, 2 },
	{ "clear", list_clear, 1, 1 },
	{ "copy", list_copy, 1, 1 },
	{ NULL, NULL, 0, 0 },
};

const ag_family ag_family_list = {
	.name = "list",
	.type = AG_T_LIST,
	.base = NULL,
	.methods = list_methods,
	.create = list_create,
	.destroy = list_destroy,
	.len = list_length,
	.info_count = list_info_count,
	.info_pack = list_info_pack,
	.conn_gone = list_conn_gone,
};
