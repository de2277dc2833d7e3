/*
 * obj_list.c - the "list" family: Python's list, shared.
 *
 * A list keeps its items packed: the canonical MessagePack bytes of every
 * item back to back in one growable buffer, so a small int costs one byte.
 * To find item i without walking from the start, the list keeps a mark for
 * every MARK_EVERY-th item: marks[k] is the byte offset of item
 * k * MARK_EVERY. Item i is then found from marks[i / MARK_EVERY] by
 * skipping i % MARK_EVERY items, each skip reading only MessagePack headers
 * (item_size()). The stored bytes were checked and made canonical when they
 * came in (ag_arg_val(), ag_val_encode()), so the skip trusts them.
 *
 * Every change is one splice(): items [lo, hi) replaced by k new items,
 * the bytes after them moved once (O(n), as Python's memmove), and the
 * marks after them recomputed from the old marks, each by skipping fewer
 * than MARK_EVERY items. Values go out as their bytes: get, pop and slice
 * pack them verbatim, and copy (or a step-1 slice) sends one run of bytes.
 *
 * References (protocol section 8): an item that holds an ext 1 reference
 * holds the objects it names. The list counts such items (nrefs); while it
 * is 0 nothing removed needs a look. Otherwise each removed item's bytes are
 * scanned for a map header or an ext 1 header (item_size() with flags) and
 * the ones holding references are released (ag_val_release() on a borrowed
 * view) or, for pop, passed to the caller (ag_val_give() on an owned copy).
 *
 * Indices, slices, insert clamping, pop/remove/index errors and the stable
 * sort follow Python's list one for one (protocol.md 4.1). Growing methods
 * (append, extend, insert, a set_slice that adds items) answer LIMIT past
 * the server's --max-items (ag_items_check()). Every method
 * checks all of its params and makes every allocation it needs before it
 * changes the list, so a call that fails leaves the list as it was. Memory
 * is accounted with ag_object_mem(): the list's struct, the capacity of its
 * byte buffer and of its marks; destroy gives it all back.
 *
 * Int mode (as Redis's intset): while every item is an integer that fits
 * int64, buf holds them as a plain array of int8/16/32/64 (width bytes each,
 * the narrowest that holds every item; used == len * width, no marks),
 * widened in place when a larger int arrives. An item that is not such an
 * int (a uint64 above INT64_MAX, anything else) converts the list to the
 * packed form once (to_packed()); it stays packed until it is emptied, when
 * it starts over in int mode. Int items hold no references. Reads pack each
 * item as value.c does (msgpack_pack_uint64/int64, the shortest form), the
 * very bytes the packed form would send. Each method dispatches at its top
 * on l->width; the int_*() helpers below do the int side. Only a store of a
 * non-int converts; every other method works in either mode.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Items between two marks: get(i) skips at most MARK_EVERY - 1 items. */
#define MARK_EVERY 32
/* Buffers double up to this size, then grow by a quarter. */
#define GROW_DOUBLE_MAX ((size_t)1 << 20)

_Static_assert((MARK_EVERY & (MARK_EVERY - 1)) == 0,
	       "splice() takes residues modulo MARK_EVERY on wrapped values");

typedef struct list {
	ag_server *srv; /* for releasing the references values hold */
	uint8_t *buf;   /* the items' canonical bytes, back to back, or
			   in int mode their array of width-byte ints */
	size_t used;    /* bytes of buf in use */
	size_t cap;     /* bytes of buf allocated */
	size_t len;     /* items */
	size_t *marks;  /* marks[k]: offset of item k * MARK_EVERY */
	size_t marks_cap;
	size_t nvalid;    /* marks[0, nvalid) are up to date */
	size_t nrefs;     /* items holding an ext 1 reference */
	size_t accounted; /* what ag_object_mem() has been told */
	unsigned width;   /* int mode: bytes per item (1, 2, 4, 8); 0: packed */
} list;

/* ---- item bytes ---------------------------------------------------------- */

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/*
 * The size in bytes of the one stored item at @p. When @flags is not NULL,
 * ORs into it AG_VAL_MAP for a map anywhere inside, AG_VAL_REF for an ext
 * type 1 anywhere inside. @p must hold a complete canonical item.
 */
static size_t item_size(const uint8_t *p, uint32_t *flags)
{
	const uint8_t *q = p;
	uint64_t left = 1; /* items still to pass, nested ones included */
	uint32_t f = 0;

	while (left > 0) {
		uint8_t b = q[0];

		left--;
		if (b <= 0x7f || b >= 0xe0) { /* fixint */
			q++;
			continue;
		}
		if (b <= 0x8f) { /* fixmap */
			left += 2 * (uint64_t)(b & 0x0f);
			f |= AG_VAL_MAP;
			q++;
			continue;
		}
		if (b <= 0x9f) { /* fixarray */
			left += b & 0x0f;
			q++;
			continue;
		}
		if (b <= 0xbf) { /* fixstr */
			q += 1 + (b & 0x1f);
			continue;
		}
		switch (b) {
		case 0xc4: /* bin 8 */
		case 0xd9: /* str 8 */
			q += 2 + (size_t)q[1];
			break;
		case 0xc5:
		case 0xda:
			q += 3 + (size_t)be16(q + 1);
			break;
		case 0xc6:
		case 0xdb:
			q += 5 + (size_t)be32(q + 1);
			break;
		case 0xc7: /* ext 8: size, type, data */
			f |= q[2] == 1 ? AG_VAL_REF : 0;
			q += 3 + (size_t)q[1];
			break;
		case 0xc8:
			f |= q[3] == 1 ? AG_VAL_REF : 0;
			q += 4 + (size_t)be16(q + 1);
			break;
		case 0xc9:
			f |= q[5] == 1 ? AG_VAL_REF : 0;
			q += 6 + (size_t)be32(q + 1);
			break;
		case 0xcc: /* uint 8 */
		case 0xd0: /* int 8 */
			q += 2;
			break;
		case 0xcd:
		case 0xd1:
			q += 3;
			break;
		case 0xca: /* float 32 (never stored, but sized alike) */
		case 0xce:
		case 0xd2:
			q += 5;
			break;
		case 0xcb:
		case 0xcf:
		case 0xd3:
			q += 9;
			break;
		case 0xd4: /* fixext 1, 2, 4, 8, 16: type, data */
		case 0xd5:
		case 0xd6:
		case 0xd7:
		case 0xd8:
			f |= q[1] == 1 ? AG_VAL_REF : 0;
			q += 2 + ((size_t)1 << (b - 0xd4));
			break;
		case 0xdc: /* array 16 */
			left += be16(q + 1);
			q += 3;
			break;
		case 0xdd:
			left += be32(q + 1);
			q += 5;
			break;
		case 0xde: /* map 16 */
			left += 2 * (uint64_t)be16(q + 1);
			f |= AG_VAL_MAP;
			q += 3;
			break;
		case 0xdf:
			left += 2 * (uint64_t)be32(q + 1);
			f |= AG_VAL_MAP;
			q += 5;
			break;
		default: /* nil, false, true (0xc1 is never stored) */
			q++;
			break;
		}
	}
	if (flags != NULL)
		*flags |= f;
	return (size_t)(q - p);
}

/* Size of the item at @p; scalars of fixed size without a call. */
static inline size_t item_len(const uint8_t *p)
{
	uint8_t b = p[0];

	if (b <= 0x7f || b >= 0xe0) /* fixint */
		return 1;
	if (b >= 0xa0 && b <= 0xbf) /* fixstr */
		return 1 + (size_t)(b & 0x1f);
	if (b >= 0xcc && b <= 0xd3) /* (u)int 8, 16, 32, 64 */
		return 1 + ((size_t)1 << (b & 3));
	if (b == 0xcb) /* float 64 */
		return 9;
	return item_size(p, NULL);
}

/* Offset of the item @n items after the one at offset @off. */
static size_t skip_items(const uint8_t *buf, size_t off, size_t n)
{
	while (n-- > 0)
		off += item_len(buf + off);
	return off;
}

static size_t nmarks(size_t len)
{
	return (len + MARK_EVERY - 1) / MARK_EVERY;
}

/*
 * Bring marks[0..k] up to date (k < nmarks(l->len)). Changes that would
 * need a walk to fix the marks after them leave those stale instead
 * (splice()); the first look past them walks once, so a run of inserts at
 * the front costs one walk, not one per insert.
 */
static void ensure_marks(list *l, size_t k)
{
	if (l->nvalid == 0) {
		l->marks[0] = 0;
		l->nvalid = 1;
	}
	while (l->nvalid <= k) {
		l->marks[l->nvalid] =
		    skip_items(l->buf, l->marks[l->nvalid - 1], MARK_EVERY);
		l->nvalid++;
	}
}

/* Byte offset of item @i (@i <= l->len; l->len gives the end). */
static size_t offset_of(list *l, size_t i)
{
	if (i >= l->len)
		return l->used;
	ensure_marks(l, i / MARK_EVERY);
	return skip_items(l->buf, l->marks[i / MARK_EVERY], i % MARK_EVERY);
}

/* A borrowed view of @n bytes at @off, for packing or comparing. */
static ag_val view_at(const list *l, size_t off, size_t n, uint32_t flags)
{
	return ag_val_view(l->buf + off, (uint32_t)n, flags);
}

/*
 * Release what the items in bytes [a, b) of @p hold through their
 * references; returns how many items held some. Nothing else changes.
 */
static size_t release_bytes(ag_server *srv, const uint8_t *p, size_t a,
			    size_t b)
{
	size_t n = 0;

	while (a < b) {
		uint32_t f = 0;
		size_t s = item_size(p + a, &f);

		if (f & AG_VAL_REF) {
			ag_val v = ag_val_view(p + a, (uint32_t)s, f);

			ag_val_release(srv, &v);
			n++;
		}
		a += s;
	}
	return n;
}

/* The items in bytes [a, b) of @l are going away for good. */
static void release_range(list *l, size_t a, size_t b)
{
	if (l->nrefs > 0)
		l->nrefs -= release_bytes(l->srv, l->buf, a, b);
}

/* ---- memory -------------------------------------------------------------- */

/* Tell the registry how many bytes the list holds now. */
static void sync_mem(ag_object *o, list *l)
{
	size_t now = sizeof(*l) + l->cap + l->marks_cap * sizeof(size_t);

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

/* A capacity of at least @need grown from @cap: doubling while small, then
 * by a quarter, so a big list carries at most 25% of slack. */
static size_t grow(size_t cap, size_t need, size_t min)
{
	size_t c;

	if (cap < min)
		c = min;
	else if (cap < GROW_DOUBLE_MAX)
		c = cap * 2;
	else
		c = cap + cap / 4;
	return c < need ? need : c;
}

/*
 * Room for @extra more bytes and marks for @newlen items. Returns 0 or
 * AGORA_ENOMEM; the list's contents are untouched either way.
 */
static int reserve(list *l, size_t extra, size_t newlen)
{
	size_t need, cap, nm = nmarks(newlen);

	if (extra > SIZE_MAX - l->used)
		return AGORA_ENOMEM;
	need = l->used + extra;
	if (need > l->cap) {
		uint8_t *p;

		cap = grow(l->cap, need, 16);
		p = realloc(l->buf, cap);
		if (p == NULL)
			return AGORA_ENOMEM;
		l->buf = p;
		l->cap = cap;
	}
	if (nm > l->marks_cap) {
		size_t *m;

		cap = grow(l->marks_cap, nm, 4);
		if (cap > SIZE_MAX / sizeof(size_t))
			return AGORA_ENOMEM;
		m = realloc(l->marks, cap * sizeof(size_t));
		if (m == NULL)
			return AGORA_ENOMEM;
		l->marks = m;
		l->marks_cap = cap;
	}
	return 0;
}

/* Give back most of the slack after removals (a failed shrink is fine). */
static void trim(list *l)
{
	size_t nm = nmarks(l->len);

	if (l->len == 0) {
		free(l->buf);
		free(l->marks);
		l->buf = NULL;
		l->marks = NULL;
		l->cap = l->used = l->marks_cap = l->nvalid = 0;
		l->width = 1; /* empty: int mode again */
		return;
	}
	if (l->cap > 256 && l->used < l->cap / 4) {
		size_t cap = l->used + l->used / 4;
		uint8_t *p = realloc(l->buf, cap);

		if (p != NULL) {
			l->buf = p;
			l->cap = cap;
		}
	}
	if (l->marks_cap > 16 && nm < l->marks_cap / 4) {
		size_t cap = nm + nm / 4;
		size_t *m = realloc(l->marks, cap * sizeof(size_t));

		if (m != NULL) {
			l->marks = m;
			l->marks_cap = cap;
		}
	}
}

/* ---- int mode ------------------------------------------------------------ */

/* Item @i of the array of @w-byte ints at @p. */
static int64_t int_load(const uint8_t *p, unsigned w, size_t i)
{
	int8_t x1;
	int16_t x2;
	int32_t x4;
	int64_t x8;

	p += i * w;
	switch (w) {
	case 1:
		memcpy(&x1, p, 1);
		return x1;
	case 2:
		memcpy(&x2, p, 2);
		return x2;
	case 4:
		memcpy(&x4, p, 4);
		return x4;
	default:
		memcpy(&x8, p, 8);
		return x8;
	}
}

/* Store @x (which fits) as item @i of the array of @w-byte ints at @p. */
static void int_store(uint8_t *p, unsigned w, size_t i, int64_t x)
{
	int8_t x1 = (int8_t)x;
	int16_t x2 = (int16_t)x;
	int32_t x4 = (int32_t)x;

	p += i * w;
	switch (w) {
	case 1:
		memcpy(p, &x1, 1);
		break;
	case 2:
		memcpy(p, &x2, 2);
		break;
	case 4:
		memcpy(p, &x4, 4);
		break;
	default:
		memcpy(p, &x, 8);
		break;
	}
}

static int64_t int_at(const list *l, size_t i)
{
	return int_load(l->buf, l->width, i);
}

/* The narrowest width that holds @x. */
static unsigned int_width(int64_t x)
{
	if (x >= INT8_MIN && x <= INT8_MAX)
		return 1;
	if (x >= INT16_MIN && x <= INT16_MAX)
		return 2;
	if (x >= INT32_MIN && x <= INT32_MAX)
		return 4;
	return 8;
}

/* Whether @o is an int that int mode holds (it fits int64), in *ret. */
static bool head_int(const ag_mp_head *h, int64_t *ret)
{
	if (h->kind == AG_MP_INT) {
		*ret = h->i;
		return true;
	}
	if (h->kind == AG_MP_UINT && h->u <= INT64_MAX) {
		*ret = (int64_t)h->u;
		return true;
	}
	return false;
}

/* The same for a value, from its canonical bytes. */
static bool val_int(const ag_val *v, int64_t *ret)
{
	const uint8_t *p = ag_val_bytes(v);
	uint32_t n = ag_val_len(v), bits;
	uint64_t u = 0;

	if (n == 0)
		return false;
	bits = (n - 1) * 8;
	if (p[0] <= 0x7f || p[0] >= 0xe0) { /* fixint */
		*ret = (int8_t)p[0];
		return true;
	}
	if (p[0] < 0xcc || p[0] > 0xd3) /* not (u)int 8, 16, 32, 64 */
		return false;
	for (uint32_t k = 1; k < n; k++)
		u = u << 8 | p[k];
	if (p[0] <= 0xcf) { /* uint */
		if (u > INT64_MAX)
			return false;
	} else if (bits < 64 && (u >> (bits - 1) & 1)) { /* negative int */
		u |= ~(uint64_t)0 << bits;
	}
	*ret = (int64_t)u;
	return true;
}

/* The width the items of @arr need in int mode, or 0 when one cannot be
 * held there. */
static unsigned arr_width(ag_items arr)
{
	unsigned w = 1;
	int64_t x;
	ag_item it;

	while (ag_items_next(&arr, &it)) {
		if (!head_int(&it.head, &x))
			return 0;
		if (int_width(x) > w)
			w = int_width(x);
	}
	return w;
}

/* Pack an item as value.c encodes an int: its canonical bytes. */
static void int_pack(msgpack_packer *pk, int64_t x)
{
	if (x >= 0)
		msgpack_pack_uint64(pk, (uint64_t)x);
	else
		msgpack_pack_int64(pk, x);
}

/*
 * In int mode, items [lo, hi) replaced by room for @k items of up to @w
 * bytes, which the caller then stores (int_store()); the items are
 * widened in place first when @w is wider than l->width. Returns 0 or
 * AGORA_ENOMEM with the list unchanged; never fails when nothing grows.
 */
static int int_splice(list *l, size_t lo, size_t hi, size_t k, unsigned w)
{
	size_t newlen = l->len - (hi - lo) + k, tail = l->len - hi;
	size_t n = newlen > l->len ? newlen : l->len;
	unsigned old = l->width;

	if (w < old)
		w = old;
	if (n > SIZE_MAX / w)
		return AGORA_ENOMEM;
	if (n * w > l->cap) {
		size_t cap = grow(l->cap, n * w, 16);
		uint8_t *p = realloc(l->buf, cap);

		if (p == NULL)
			return AGORA_ENOMEM;
		l->buf = p;
		l->cap = cap;
	}
	/* Back to front: each item moves up, past the old ones before it. */
	for (size_t i = l->len; w > old && i-- > 0;)
		int_store(l->buf, w, i, int_load(l->buf, old, i));
	l->width = w;
	if (tail > 0 && k != hi - lo)
		memmove(l->buf + (lo + k) * w, l->buf + hi * w, tail * w);
	l->len = newlen;
	l->used = newlen * w;
	return 0;
}

/* Counts (s.p NULL) or writes the bytes packed into it. */
typedef struct sink {
	uint8_t *p;
	size_t n;
} sink;

static int sink_write(void *data, const char *buf, size_t len)
{
	sink *s = data;

	if (s->p != NULL)
		memcpy(s->p + s->n, buf, len);
	s->n += len;
	return 0;
}

static void sync_mem(ag_object *o, list *l);

/*
 * Leave int mode for good (until emptied): every item as its canonical
 * bytes, every mark set. Returns 0 or AGORA_ENOMEM with the list
 * unchanged; a packed list is left as it is.
 */
static int to_packed(ag_object *o, list *l)
{
	size_t n = l->len, nm = nmarks(n), *marks = NULL;
	sink s = { NULL, 0 };
	msgpack_packer pk;
	uint8_t *buf;

	if (l->width == 0)
		return 0;
	msgpack_packer_init(&pk, &s, sink_write);
	for (size_t i = 0; i < n; i++)
		int_pack(&pk, int_at(l, i));
	buf = malloc(s.n > 16 ? s.n : 16);
	if (nm > 0)
		marks = malloc(nm * sizeof(*marks));
	if (buf == NULL || (nm > 0 && marks == NULL)) {
		free(buf);
		free(marks);
		return AGORA_ENOMEM;
	}
	l->cap = s.n > 16 ? s.n : 16;
	s.p = buf;
	s.n = 0;
	for (size_t i = 0; i < n; i++) {
		if (i % MARK_EVERY == 0)
			marks[i / MARK_EVERY] = s.n;
		int_pack(&pk, int_at(l, i));
	}
	free(l->buf);
	free(l->marks);
	l->buf = buf;
	l->used = s.n;
	l->marks = marks;
	l->marks_cap = l->nvalid = nm;
	l->width = 0;
	sync_mem(o, l);
	return 0;
}

/* Position of the first item equal to @v in [lo, hi), or SIZE_MAX: as
 * section 5 has it, an int equals nothing but an int. */
static size_t int_find(const list *l, const ag_val *v, size_t lo, size_t hi)
{
	int64_t x;

	if (!val_int(v, &x))
		return SIZE_MAX;
	for (size_t i = lo; i < hi; i++)
		if (int_at(l, i) == x)
			return i;
	return SIZE_MAX;
}

static void int_reverse(list *l)
{
	for (size_t i = 0, j = l->len; i + 1 < j; i++, j--) {
		int64_t t = int_at(l, i);

		int_store(l->buf, l->width, i, int_at(l, j - 1));
		int_store(l->buf, l->width, j - 1, t);
	}
}

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Ints always order, and equal ones are alike: any sort is stable. */
static int int_sort(list *l, bool reverse)
{
	int64_t *v = malloc(l->len * sizeof(*v));
	size_t n = l->len;

	if (v == NULL)
		return AGORA_ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = int_at(l, i);
	qsort(v, n, sizeof(*v), cmp_int64);
	for (size_t i = 0; i < n; i++)
		int_store(l->buf, l->width, i, v[reverse ? n - 1 - i : i]);
	free(v);
	return 0;
}

/* ---- splicing ------------------------------------------------------------ */

/*
 * The new offset of old item @m (at or past @hi, the end of a change): from
 * the old mark before it when that mark is past the change (its offset
 * moved by @shift), else from @after, the new offset of old item @hi.
 * Either way fewer than MARK_EVERY items are skipped.
 */
static size_t moved_mark(const list *l, size_t m, size_t hi, size_t after,
			 size_t shift)
{
	size_t c = m / MARK_EVERY;

	if (c * MARK_EVERY >= hi)
		return skip_items(l->buf, l->marks[c] + shift, m % MARK_EVERY);
	return skip_items(l->buf, after, m - hi);
}

/*
 * Bring the marks up to date after items [lo, hi) of a list of @oldlen
 * items were replaced by @k items, already done in l->buf and l->len: the
 * new items start at byte @a, the first item after them at @after, and
 * every old item at or past @hi moved by @shift bytes (modulo 2^N).
 *
 * Marks of items up to @lo still hold. A new mark past the new items
 * names an old item (moved_mark()). When items were added, the old mark a
 * new one reads comes before it, otherwise at or after it: walking the
 * marks downwards, resp. upwards, reads every old mark before it is
 * overwritten. The marks inside the new items come last, from a walk over
 * them. This costs O(marks * MARK_EVERY / 2), not O(items).
 */
static void fix_marks(list *l, size_t lo, size_t hi, size_t k, size_t a,
		      size_t after, size_t shift)
{
	size_t nm = nmarks(l->len);
	size_t j0 = (lo + k + MARK_EVERY - 1) / MARK_EVERY; /* first past */
	size_t removed = hi - lo;
	size_t j, t, off;

	if (k == removed) { /* set: the marks past it only move */
		for (j = j0; shift != 0 && j < nm; j++)
			l->marks[j] += shift;
	} else if (k > removed) {
		for (j = nm; j-- > j0;)
			l->marks[j] = moved_mark(
			    l, j * MARK_EVERY + removed - k, hi, after, shift);
	} else {
		for (j = j0; j < nm; j++)
			l->marks[j] = moved_mark(
			    l, j * MARK_EVERY + removed - k, hi, after, shift);
	}
	off = a;
	t = lo;
	for (j = (lo + MARK_EVERY - 1) / MARK_EVERY; j < j0 && j < nm; j++) {
		off = skip_items(l->buf, off, j * MARK_EVERY - t);
		t = j * MARK_EVERY;
		l->marks[j] = off;
	}
}

/*
 * Replace items [lo, hi), bytes [a, b), by the @k items whose bytes are
 * @src (@srclen bytes). The caller reserved the room (reserve()) and
 * released what the removed items held; this cannot fail.
 */
static void splice(list *l, size_t lo, size_t hi, size_t a, size_t b,
		   const uint8_t *src, size_t srclen, size_t k)
{
	size_t tail = l->used - b, oldlen = l->len, nm, past, moved;

	if (tail > 0 && a + srclen != b)
		memmove(l->buf + a + srclen, l->buf + b, tail);
	if (srclen > 0 && src != l->buf + a) /* (list_extend() wrote there) */
		memcpy(l->buf + a, src, srclen);
	l->used = a + srclen + tail;
	l->len = oldlen - (hi - lo) + k;
	/*
	 * Fixing the marks past the change skips @moved items per mark:
	 * worth it when few, else they go stale (ensure_marks()). Marks of
	 * items up to @lo hold either way.
	 */
	nm = nmarks(l->len);
	past = (lo + k + MARK_EVERY - 1) / MARK_EVERY;
	past = nm > past ? nm - past : 0;
	moved = (size_t)(hi - lo - k) % MARK_EVERY;
	if (l->nvalid == nmarks(oldlen) &&
	    (moved <= MARK_EVERY / 4 || past * moved <= 8 * MARK_EVERY + k)) {
		fix_marks(l, lo, hi, k, a, a + srclen, a + srclen - b);
		l->nvalid = nm;
	} else if (l->nvalid > lo / MARK_EVERY + 1) {
		l->nvalid = lo / MARK_EVERY + 1;
	}
	if (l->nvalid > nm)
		l->nvalid = nm;
}

/* Remove items [lo, hi) for good: their references are released. */
static void delete_range(list *l, size_t lo, size_t hi)
{
	size_t a, b;

	if (lo == hi)
		return;
	if (l->width != 0) {
		int_splice(l, lo, hi, 0, 0); /* shrinks: cannot fail */
		trim(l);
		return;
	}
	a = offset_of(l, lo);
	b = hi - lo < MARK_EVERY ? skip_items(l->buf, a, hi - lo)
				 : offset_of(l, hi);
	release_range(l, a, b);
	splice(l, lo, hi, a, b, NULL, 0, 0);
	trim(l);
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
 * buffer (encode_items()), or, for an append, the list's own buffer seen
 * from its end (list_extend()).
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
				release_bytes(r->srv, (uint8_t *)b->data, at,
					      start);
				b->len = at;
				return AGORA_ENO_OBJECT;
			}
			nrefs++;
		}
	}
	if (i < count) {
		release_bytes(r->srv, (uint8_t *)b->data, at, start);
		b->len = at;
		if (rc == AGORA_EVALUE)
			return ag_reply_error(&r->to, AGORA_EVALUE,
					      "%.*s: item %" PRIu64 " holds %s",
					      (int)r->methodlen, r->method, i,
					      why);
		return oom(r);
	}
	if ((rc = ag_memory_check(r, b->len - at)) < 0) {
		release_bytes(r->srv, (uint8_t *)b->data, at, b->len);
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
		release_bytes(r->srv, (uint8_t *)b->data, e->at,
			      e->at + e->len);
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

/*
 * Pack @n bytes of whole items into a reply: items are canonical objects
 * back to back, so they go out verbatim.
 */
static void pack_bytes(msgpack_packer *pk, const uint8_t *p, size_t n)
{
	if (n > 0)
		pk->callback(pk->data, (const char *)p, n);
}

/* ---- methods ------------------------------------------------------------- */

/* Store @v (holds taken, ownership of its bytes ends here) as items [lo,
 * hi) replaced. Answers LIMIT and frees @v when out of memory. */
static int put_val(ag_req *r, list *l, size_t lo, size_t hi, ag_val *v)
{
	size_t a, b, n = ag_val_len(v);
	int64_t x;

	if (l->width != 0 && val_int(v, &x)) {
		ag_val_deinit(v); /* an int holds nothing */
		if (int_splice(l, lo, hi, 1, int_width(x)) < 0)
			return oom(r);
		int_store(l->buf, l->width, lo, x);
		sync_mem(r->obj, l);
		return 0;
	}
	if (to_packed(r->obj, l) < 0) {
		ag_val_free(r->srv, v);
		return oom(r);
	}
	a = offset_of(l, lo);
	b = hi > lo ? a + item_len(l->buf + a) : a;

	if (reserve(l, n > b - a ? n - (b - a) : 0, l->len - (hi - lo) + 1) <
	    0) {
		ag_val_free(r->srv, v);
		return oom(r);
	}
	release_range(l, a, b);
	splice(l, lo, hi, a, b, ag_val_bytes(v), n, 1);
	if (ag_val_flags(v) & AG_VAL_REF)
		l->nrefs++;
	ag_val_deinit(v); /* the list holds its references now */
	if (b - a > n)
		trim(l);
	sync_mem(r->obj, l);
	return 0;
}

/* In int mode, items [lo, hi) replaced by the ints of @arr, which need
 * @w bytes (arr_width()); answers nil, or LIMIT when out of memory. */
static int put_ints(ag_req *r, list *l, size_t lo, size_t hi, ag_items arr,
		    unsigned w)
{
	int64_t x = 0;
	ag_item it;
	int rc;

	if (arr.count > hi - lo &&
	    (rc = ag_memory_check(r, (arr.count - (hi - lo)) * w)) < 0)
		return rc;
	if (int_splice(l, lo, hi, arr.count, w) < 0)
		return oom(r);
	for (size_t i = 0; ag_items_next(&arr, &it); i++) {
		head_int(&it.head, &x);
		int_store(l->buf, l->width, lo + i, x);
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
	if ((rc = ag_items_check(r, l->len, 1)) < 0) {
		ag_val_free(r->srv, &v);
		return rc;
	}
	if ((rc = put_val(r, l, l->len, l->len, &v)) < 0)
		return rc;
	ag_reply_nil(&r->to);
	return 0;
}

/*
 * list_extend() of a packed or empty list: the items are made canonical
 * straight into the list's buffer, past its items, and the splice only
 * counts them in. A large extend then holds its bytes twice at its peak
 * (the request and the list), not three times (and a scratch copy). On
 * failure the list holds what it held (its buffer may keep the room it
 * grew, accounted).
 */
static int extend_in_place(ag_req *r, list *l, ag_items arr)
{
	ag_buf tail;
	encoded e;
	int rc;

	if (to_packed(r->obj, l) < 0)
		return oom(r);
	tail =
	    (ag_buf){ .data = (char *)l->buf, .len = l->used, .cap = l->cap };
	rc = encode_items_to(r, arr, &tail, &e);
	l->buf = (uint8_t *)tail.data;
	l->cap = tail.cap;
	if (rc == 0 && reserve(l, e.len, l->len + arr.count) < 0) {
		if (e.nrefs > 0)
			release_bytes(r->srv, l->buf, e.at, e.at + e.len);
		rc = oom(r);
	}
	if (rc < 0) {
		trim(l); /* an empty list goes back to int mode */
		sync_mem(r->obj, l);
		return rc;
	}
	splice(l, l->len, l->len, l->used, l->used, l->buf + l->used, e.len,
	       arr.count);
	l->nrefs += e.nrefs;
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_extend(ag_req *r)
{
	list *l = r->obj->data;
	ag_items arr;
	unsigned w;
	encoded e;
	int rc;

	if ((rc = ag_arg_items(r, 1, &arr)) < 0 ||
	    (rc = ag_items_check(r, l->len, arr.count)) < 0)
		return rc;
	if (l->width != 0 && (w = arr_width(arr)) != 0)
		return put_ints(r, l, l->len, l->len, arr, w);
	if (l->width == 0 || l->len == 0)
		return extend_in_place(r, l, arr);
	if ((rc = encode_items(r, arr, &e)) < 0)
		return rc;
	if (to_packed(r->obj, l) < 0 ||
	    reserve(l, e.len, l->len + arr.count) < 0) {
		encoded_done(r, &e, true);
		return oom(r);
	}
	splice(l, l->len, l->len, l->used, l->used, encoded_bytes(r, &e), e.len,
	       arr.count);
	l->nrefs += e.nrefs;
	encoded_done(r, &e, false);
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
	if ((rc = ag_items_check(r, l->len, 1)) < 0) {
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
	if (!norm_index(i, l->len, ret))
		return ag_reply_error(
		    &r->to, AGORA_EINDEX,
		    "list index %" PRId64 " out of range (len %zu)", i, l->len);
	return 0;
}

static int list_get(ag_req *r)
{
	list *l = r->obj->data;
	size_t at, off;
	ag_val v;
	int rc;

	if ((rc = arg_index(r, l, &at)) < 0)
		return rc;
	if (l->width != 0) {
		int_pack(ag_reply_begin(&r->to), int_at(l, at));
		return 0;
	}
	off = offset_of(l, at);
	v = view_at(l, off, item_len(l->buf + off), 0);
	ag_reply_val(&r->to, &v);
	return 0;
}

static int list_set(ag_req *r)
{
	list *l = r->obj->data;
	size_t at;
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
	size_t at;
	int rc;

	if ((rc = arg_index(r, l, &at)) < 0)
		return rc;
	delete_range(l, at, at + 1);
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

/*
 * Offsets of the items of one mark's block, filled on demand: slices with
 * a step other than 1 read each block once, in either direction.
 */
typedef struct cursor {
	size_t block; /* which block offs describes, or SIZE_MAX */
	size_t offs[MARK_EVERY + 1];
} cursor;

/* Offset of item @i (< l->len) with its size in *ret_size. */
static size_t cursor_item(list *l, cursor *c, size_t i, size_t *ret_size)
{
	size_t blk = i / MARK_EVERY, k = i % MARK_EVERY;

	if (c->block != blk) {
		ensure_marks(l, blk);
		size_t first = blk * MARK_EVERY, off = l->marks[blk];
		size_t n =
		    l->len - first < MARK_EVERY ? l->len - first : MARK_EVERY;

		for (size_t j = 0; j < n; j++) {
			c->offs[j] = off;
			off += item_len(l->buf + off);
		}
		c->offs[n] = off;
		c->block = blk;
	}
	*ret_size = c->offs[k + 1] - c->offs[k];
	return c->offs[k];
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
	if (n == 0)
		return 0;
	if (l->width != 0) {
		for (k = 0; k < n; k++)
			int_pack(
			    pk, int_at(l, (size_t)(first + (int64_t)k * step)));
		return 0;
	}
	if (step == 1) { /* one run of bytes */
		size_t a = offset_of(l, (size_t)first);

		pack_bytes(pk, l->buf + a, offset_of(l, (size_t)first + n) - a);
		return 0;
	}
	cursor c;

	c.block = SIZE_MAX;
	/* With two or more items |step| < len: k * step cannot overflow. */
	for (k = 0; k < n; k++) {
		size_t size,
		    off = cursor_item(
			l, &c, (size_t)(first + (int64_t)k * step), &size);

		pack_bytes(pk, l->buf + off, size);
	}
	return 0;
}

/* a[start:stop] = items, with Python's clamping (stop < start inserts). */
static int list_set_slice(ag_req *r)
{
	list *l = r->obj->data;
	ag_items arr;
	size_t lo, hi, a, b;
	unsigned w;
	encoded e;
	int rc;

	if ((rc = slice_bounds(r, l->len, &lo, &hi)) < 0 ||
	    (rc = ag_arg_items(r, 3, &arr)) < 0 ||
	    (arr.count > hi - lo &&
	     (rc = ag_items_check(r, l->len, arr.count - (hi - lo))) < 0))
		return rc;
	if (l->width != 0 && (w = arr_width(arr)) != 0)
		return put_ints(r, l, lo, hi, arr, w);
	if ((rc = encode_items(r, arr, &e)) < 0)
		return rc;
	if (to_packed(r->obj, l) < 0) {
		encoded_done(r, &e, true);
		return oom(r);
	}
	a = offset_of(l, lo);
	b = offset_of(l, hi);
	if (reserve(l, e.len > b - a ? e.len - (b - a) : 0,
		    l->len - (hi - lo) + arr.count) < 0) {
		encoded_done(r, &e, true);
		return oom(r);
	}
	release_range(l, a, b);
	splice(l, lo, hi, a, b, encoded_bytes(r, &e), e.len, arr.count);
	l->nrefs += e.nrefs;
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
	ag_val v, owned = { 0 };
	uint32_t flags = 0;
	size_t at, a, size;
	int64_t i;
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
	if (l->width != 0) {
		int_pack(ag_reply_begin(&r->to), int_at(l, at));
		delete_range(l, at, at + 1);
		sync_mem(r->obj, l);
		return 0;
	}
	a = offset_of(l, at);
	size =
	    l->nrefs > 0 ? item_size(l->buf + a, &flags) : item_len(l->buf + a);
	v = view_at(l, a, size, flags);
	/* Its references go with it: that needs an owned copy. */
	if ((flags & AG_VAL_REF) && ag_val_dup(&owned, &v) < 0)
		return oom(r);
	ag_reply_val(&r->to, &v);
	splice(l, at, at + 1, a, a + size, NULL, 0, 0);
	if (flags & AG_VAL_REF) {
		l->nrefs--;
		ag_val_give(r->to.conn, &owned);
	}
	trim(l);
	sync_mem(r->obj, l);
	return 0;
}

/*
 * Whether the item at @off equals @v; its size goes to *ret_size. Without
 * a map in @v (!@structural), equal means equal bytes: an item holding a
 * map never has @v's bytes, so its flags need no scan.
 */
static bool item_equal(const list *l, size_t off, const ag_val *v,
		       bool structural, size_t *ret_size)
{
	uint32_t f = 0;
	size_t s =
	    structural ? item_size(l->buf + off, &f) : item_len(l->buf + off);
	ag_val item = view_at(l, off, s, f);

	*ret_size = s;
	return ag_val_equal(&item, v);
}

/* Position of the first item equal to @v in [lo, hi), or SIZE_MAX. */
static size_t find(list *l, const ag_val *v, size_t lo, size_t hi)
{
	bool structural = ag_val_flags(v) & AG_VAL_MAP;
	size_t off, s;

	if (hi > l->len)
		hi = l->len;
	if (lo >= hi)
		return SIZE_MAX;
	if (l->width != 0)
		return int_find(l, v, lo, hi);
	off = offset_of(l, lo);
	for (size_t i = lo; i < hi; i++, off += s)
		if (item_equal(l, off, v, structural, &s))
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
	bool structural;
	int64_t x;
	size_t s;
	ag_val v;
	int rc;

	if ((rc = ag_arg_val(r, 1, &v)) < 0)
		return rc;
	structural = ag_val_flags(&v) & AG_VAL_MAP;
	if (l->width == 0) {
		for (size_t off = 0; off < l->used; off += s)
			n += item_equal(l, off, &v, structural, &s);
	} else if (val_int(&v, &x)) { /* else nothing equals it */
		for (size_t i = 0; i < l->len; i++)
			n += int_at(l, i) == x;
	}
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

static void reverse_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
		uint8_t t = p[i];

		p[i] = p[j - 1];
		p[j - 1] = t;
	}
}

/* In place, without memory: each item's bytes reversed, then all of them,
 * which puts the items in reverse order each the right way round. */
static int list_reverse(ag_req *r)
{
	list *l = r->obj->data;

	if (l->width != 0) {
		int_reverse(l);
		ag_reply_nil(&r->to);
		return 0;
	}
	for (size_t off = 0; off < l->used;) {
		size_t s = item_len(l->buf + off);

		reverse_bytes(l->buf + off, s);
		off += s;
	}
	reverse_bytes(l->buf, l->used);
	l->nvalid = 0;
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

/*
 * Decode every item (into the server zone; strings point into l->buf),
 * sort indices, then write the items in their new order into a new buffer.
 */
static int list_sort(ag_req *r)
{
	list *l = r->obj->data;
	msgpack_zone *z = ag_server_zone(r->srv);
	msgpack_object *objs = NULL;
	size_t *idx = NULL, *offs = NULL, n = l->len;
	uint8_t *buf = NULL;
	sorter s = { 0 };
	char da[96], db[96];
	int rc;

	if ((rc = ag_arg_bool(r, 1, false, &s.reverse)) < 0)
		return rc;
	if (n < 2) {
		ag_reply_nil(&r->to);
		return 0;
	}
	if (l->width != 0) {
		if (int_sort(l, s.reverse) < 0)
			return oom(r);
		ag_reply_nil(&r->to);
		return 0;
	}
	objs = malloc(n * sizeof(*objs));
	idx = malloc(2 * n * sizeof(*idx));
	offs = malloc((n + 1) * sizeof(*offs));
	buf = malloc(l->cap);
	if (objs == NULL || idx == NULL || offs == NULL || buf == NULL)
		goto nomem;
	offs[0] = 0;
	for (size_t i = 0; i < n; i++) {
		size_t size = item_len(l->buf + offs[i]);
		ag_val v = view_at(l, offs[i], size, 0);

		if (ag_val_unpack(&v, z, &objs[i]) < 0)
			goto nomem;
		offs[i + 1] = offs[i] + size;
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
	for (size_t i = 0, at = 0; i < n; i++) {
		size_t k = idx[i], size = offs[k + 1] - offs[k];

		memcpy(buf + at, l->buf + offs[k], size);
		at += size;
	}
	free(l->buf);
	l->buf = buf;
	buf = NULL;
	l->nvalid = 0;
	ag_reply_nil(&r->to);
	rc = 0;
	goto out;
nomem:
	rc = oom(r);
out:
	free(objs);
	free(idx);
	free(offs);
	free(buf);
	return rc;
}

static int list_clear(ag_req *r)
{
	list *l = r->obj->data;

	release_range(l, 0, l->used);
	l->len = l->used = 0;
	trim(l);
	sync_mem(r->obj, l);
	ag_reply_nil(&r->to);
	return 0;
}

static int list_copy(ag_req *r)
{
	list *l = r->obj->data;
	msgpack_packer *pk = ag_reply_begin(&r->to);

	msgpack_pack_array(pk, l->len);
	for (size_t i = 0; l->width != 0 && i < l->len; i++)
		int_pack(pk, int_at(l, i));
	if (l->width == 0)
		pack_bytes(pk, l->buf, l->used);
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
	l->width = 1;
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
	release_range(l, 0, l->used);
	free(l->buf);
	free(l->marks);
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
	{ "append", list_append, 2, 2, AG_STORES_BYTES },
	{ "extend", list_extend, 2, 2, AG_STORES_ITEMS },
	{ "insert", list_insert, 3, 3, AG_STORES_BYTES },
	{ "get", list_get, 2, 2, AG_STORES_NONE },
	{ "set", list_set, 3, 3, AG_STORES_BYTES },
	{ "delete", list_delete, 2, 2, AG_STORES_NONE },
	{ "slice", list_slice, 1, 4, AG_STORES_NONE },
	{ "set_slice", list_set_slice, 4, 4, AG_STORES_ITEMS },
	{ "del_slice", list_del_slice, 3, 3, AG_STORES_NONE },
	{ "pop", list_pop, 1, 2, AG_STORES_NONE },
	{ "remove", list_remove, 2, 2, AG_STORES_NONE },
	{ "index", list_index, 2, 4, AG_STORES_NONE },
	{ "count", list_count, 2, 2, AG_STORES_NONE },
	{ "contains", list_contains, 2, 2, AG_STORES_NONE },
	{ "len", list_len, 1, 1, AG_STORES_NONE },
	{ "reverse", list_reverse, 1, 1, AG_STORES_NONE },
	{ "sort", list_sort, 1, 2, AG_STORES_NONE },
	{ "clear", list_clear, 1, 1, AG_STORES_NONE },
	{ "copy", list_copy, 1, 1, AG_STORES_NONE },
	{ NULL, NULL, 0, 0, AG_STORES_NONE },
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
};
