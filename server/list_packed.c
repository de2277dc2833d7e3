/*
 * list_packed.c - the packed item store (ag_lpack, list_store.h): a list's
 * items as their canonical MessagePack bytes back to back in one growable
 * buffer, so a small int costs one byte.
 *
 * To find item i without walking from the start, the store keeps a mark
 * for every MARK_EVERY-th item: marks[k] is the byte offset of item
 * k * MARK_EVERY. Item i is then found from marks[i / MARK_EVERY] by
 * skipping i % MARK_EVERY items, each skip reading only MessagePack headers
 * (ag_mp_skip_fast() of proto/mp.c). The stored bytes were checked and
 * made canonical when they came in (ag_arg_val(), ag_val_canon()), so the
 * skip trusts them.
 *
 * Every change is one ag_lpack_splice(): items [lo, hi) replaced by k new
 * items, the bytes after them moved once (O(n), as Python's memmove), and
 * the marks after them recomputed from the old marks, each by skipping
 * fewer than MARK_EVERY items. Values go out as their bytes: the caller
 * packs an item, or a run of items, verbatim.
 *
 * References (protocol section 8): an item that holds an ext 1 reference
 * holds the objects it names. The store counts such items (nrefs); while
 * it is 0 nothing removed needs a look. Otherwise each removed item's
 * bytes are scanned for an ext 1 header (ag_mp_skip() with flags) and the
 * ones holding references go to the caller's release callback.
 *
 * The store knows nothing of requests or the server: it reports failure
 * as AGORA_ENOMEM and its memory as ag_lpack_mem(), and the list family
 * (obj_list.c) answers and accounts.
 */
#include <stdlib.h>
#include <string.h>

#include "list_store.h"

#define MARK_EVERY AG_LPACK_MARK_EVERY
/* Buffers double up to this size, then grow by a quarter. */
#define GROW_DOUBLE_MAX ((size_t)1 << 20)

_Static_assert((MARK_EVERY & (MARK_EVERY - 1)) == 0,
	       "splice takes residues modulo MARK_EVERY on wrapped values");

void ag_lpack_init(ag_lpack *p)
{
	memset(p, 0, sizeof(*p));
}

int ag_lpack_copy(ag_lpack *dst, const ag_lpack *src)
{
	ag_lpack_init(dst);
	if (src->cap > 0 && (dst->buf = malloc(src->cap)) == NULL)
		return AGORA_ENOMEM;
	if (src->marks_cap > 0 &&
	    (dst->marks = malloc(src->marks_cap * sizeof(size_t))) == NULL) {
		free(dst->buf);
		ag_lpack_init(dst);
		return AGORA_ENOMEM;
	}
	if (src->used > 0)
		memcpy(dst->buf, src->buf, src->used);
	if (src->nvalid > 0)
		memcpy(dst->marks, src->marks, src->nvalid * sizeof(size_t));
	dst->used = src->used;
	dst->cap = src->cap;
	dst->len = src->len;
	dst->marks_cap = src->marks_cap;
	dst->nvalid = src->nvalid;
	dst->nrefs = src->nrefs;
	return 0;
}

size_t ag_lpack_release_bytes(const uint8_t *buf, size_t a, size_t b,
			      ag_lpack_release_fn *fn, void *ctx)
{
	size_t n = 0;

	while (a < b) {
		uint32_t f = 0;
		size_t s = ag_mp_skip(buf + a, &f);

		if (f & AG_VAL_REF) {
			ag_val v = ag_val_view(buf + a, (uint32_t)s, f);

			if (fn != NULL)
				fn(ctx, &v);
			n++;
		}
		a += s;
	}
	return n;
}

/* The items in bytes [a, b) of @p are going away for good. */
static void release_range(ag_lpack *p, size_t a, size_t b,
			  ag_lpack_release_fn *fn, void *ctx)
{
	if (p->nrefs > 0)
		p->nrefs -= ag_lpack_release_bytes(p->buf, a, b, fn, ctx);
}

void ag_lpack_deinit(ag_lpack *p, ag_lpack_release_fn *fn, void *ctx)
{
	release_range(p, 0, p->used, fn, ctx);
	free(p->buf);
	free(p->marks);
	ag_lpack_init(p);
}

/* ---- finding items ------------------------------------------------------- */

/*
 * The functions of this file call the static helpers below, not their
 * exported wrappers: the library is built position-independent, where a
 * call to an exported function cannot be inlined.
 */
static inline size_t skip_items(const uint8_t *buf, size_t off, size_t n)
{
	while (n-- > 0)
		off += ag_mp_skip_fast(buf + off);
	return off;
}

size_t ag_lpack_skip(const ag_lpack *p, size_t off, size_t n)
{
	return skip_items(p->buf, off, n);
}

static size_t nmarks(size_t len)
{
	return (len + MARK_EVERY - 1) / MARK_EVERY;
}

/*
 * Bring marks[0..k] up to date (k < nmarks(p->len)). Changes that would
 * need a walk to fix the marks after them leave those stale instead
 * (ag_lpack_splice()); the first look past them walks once, so a run of
 * inserts at the front costs one walk, not one per insert.
 */
static void ensure_marks(ag_lpack *p, size_t k)
{
	if (p->nvalid == 0) {
		p->marks[0] = 0;
		p->nvalid = 1;
	}
	while (p->nvalid <= k) {
		p->marks[p->nvalid] =
		    skip_items(p->buf, p->marks[p->nvalid - 1], MARK_EVERY);
		p->nvalid++;
	}
}

static size_t offset_of(ag_lpack *p, size_t i)
{
	if (i >= p->len)
		return p->used;
	ensure_marks(p, i / MARK_EVERY);
	return skip_items(p->buf, p->marks[i / MARK_EVERY], i % MARK_EVERY);
}

size_t ag_lpack_offset(ag_lpack *p, size_t i)
{
	return offset_of(p, i);
}

void ag_lpack_range(ag_lpack *p, size_t lo, size_t hi, size_t *ret_a,
		    size_t *ret_b)
{
	size_t a = offset_of(p, lo);

	*ret_a = a;
	*ret_b = hi - lo < MARK_EVERY ? skip_items(p->buf, a, hi - lo)
				      : offset_of(p, hi);
}

/*
 * Offsets of the items of one mark's block, filled on demand: a walk with
 * a step other than 1 reads each block once, in either direction.
 */
typedef struct cursor {
	size_t block; /* which block offs describes, or SIZE_MAX */
	size_t offs[MARK_EVERY + 1];
} cursor;

/* Offset of item @i (< p->len), its size in *ret_size. */
static size_t cursor_item(ag_lpack *p, cursor *c, size_t i, size_t *ret_size)
{
	size_t blk = i / MARK_EVERY, k = i % MARK_EVERY;

	if (c->block != blk) {
		ensure_marks(p, blk);
		size_t first = blk * MARK_EVERY, off = p->marks[blk];
		size_t n =
		    p->len - first < MARK_EVERY ? p->len - first : MARK_EVERY;

		for (size_t j = 0; j < n; j++) {
			c->offs[j] = off;
			off += ag_mp_skip_fast(p->buf + off);
		}
		c->offs[n] = off;
		c->block = blk;
	}
	*ret_size = c->offs[k + 1] - c->offs[k];
	return c->offs[k];
}

/* @n bytes of whole items into @pk: items are canonical objects back to
 * back, so they go out verbatim. */
static void pack_bytes(msgpack_packer *pk, const uint8_t *b, size_t n)
{
	if (n > 0)
		pk->callback(pk->data, (const char *)b, n);
}

void ag_lpack_pack_items(ag_lpack *p, msgpack_packer *pk, int64_t first,
			 size_t n, int64_t step)
{
	cursor c;

	if (n == 0)
		return;
	if (step == 1) { /* one run of bytes */
		size_t a = offset_of(p, (size_t)first);

		pack_bytes(pk, p->buf + a, offset_of(p, (size_t)first + n) - a);
		return;
	}
	c.block = SIZE_MAX; /* (offs filled on demand) */
	/* With two or more items |step| < len: k * step cannot overflow. */
	for (size_t k = 0; k < n; k++) {
		size_t size,
		    off = cursor_item(
			p, &c, (size_t)(first + (int64_t)k * step), &size);

		pack_bytes(pk, p->buf + off, size);
	}
}

/* ---- memory -------------------------------------------------------------- */

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

static int reserve(ag_lpack *p, size_t extra, size_t newlen)
{
	size_t need, cap, nm = nmarks(newlen);

	if (extra > SIZE_MAX - p->used)
		return AGORA_ENOMEM;
	need = p->used + extra;
	if (need > p->cap) {
		uint8_t *b;

		cap = grow(p->cap, need, 16);
		b = realloc(p->buf, cap);
		if (b == NULL)
			return AGORA_ENOMEM;
		p->buf = b;
		p->cap = cap;
	}
	if (nm > p->marks_cap) {
		size_t *m;

		cap = grow(p->marks_cap, nm, 4);
		if (cap > SIZE_MAX / sizeof(size_t))
			return AGORA_ENOMEM;
		m = realloc(p->marks, cap * sizeof(size_t));
		if (m == NULL)
			return AGORA_ENOMEM;
		p->marks = m;
		p->marks_cap = cap;
	}
	return 0;
}

int ag_lpack_reserve(ag_lpack *p, size_t extra, size_t newlen)
{
	return reserve(p, extra, newlen);
}

void ag_lpack_trim(ag_lpack *p)
{
	size_t nm = nmarks(p->len);

	if (p->len == 0) {
		free(p->buf);
		free(p->marks);
		ag_lpack_init(p);
		return;
	}
	if (p->cap > 256 && p->used < p->cap / 4) {
		size_t cap = p->used + p->used / 4;
		uint8_t *b = realloc(p->buf, cap);

		if (b != NULL) {
			p->buf = b;
			p->cap = cap;
		}
	}
	if (p->marks_cap > 16 && nm < p->marks_cap / 4) {
		size_t cap = nm + nm / 4;
		size_t *m = realloc(p->marks, cap * sizeof(size_t));

		if (m != NULL) {
			p->marks = m;
			p->marks_cap = cap;
		}
	}
}

ag_buf ag_lpack_lend(ag_lpack *p)
{
	return (
	    ag_buf){ .data = (char *)p->buf, .len = p->used, .cap = p->cap };
}

void ag_lpack_unlend(ag_lpack *p, const ag_buf *b)
{
	p->buf = (uint8_t *)b->data;
	p->cap = b->cap;
}

int ag_lpack_init_room(ag_lpack *p, size_t bytes, size_t len)
{
	size_t nm = nmarks(len), cap = bytes > 16 ? bytes : 16;

	ag_lpack_init(p);
	if (nm > SIZE_MAX / sizeof(size_t))
		return AGORA_ENOMEM;
	p->buf = malloc(cap);
	if (nm > 0)
		p->marks = malloc(nm * sizeof(size_t));
	if (p->buf == NULL || (nm > 0 && p->marks == NULL)) {
		free(p->buf);
		free(p->marks);
		ag_lpack_init(p);
		return AGORA_ENOMEM;
	}
	p->cap = cap;
	p->marks_cap = nm;
	return 0;
}

void ag_lpack_push(ag_lpack *p, const uint8_t *item, size_t n)
{
	if (p->len % MARK_EVERY == 0) {
		p->marks[p->len / MARK_EVERY] = p->used;
		if (p->nvalid == p->len / MARK_EVERY)
			p->nvalid++;
	}
	memcpy(p->buf + p->used, item, n);
	p->used += n;
	p->len++;
}

/* ---- splicing ------------------------------------------------------------ */

/*
 * The new offset of old item @m (at or past @hi, the end of a change): from
 * the old mark before it when that mark is past the change (its offset
 * moved by @shift), else from @after, the new offset of old item @hi.
 * Either way fewer than MARK_EVERY items are skipped.
 */
static size_t moved_mark(const ag_lpack *p, size_t m, size_t hi, size_t after,
			 size_t shift)
{
	size_t c = m / MARK_EVERY;

	if (c * MARK_EVERY >= hi)
		return skip_items(p->buf, p->marks[c] + shift, m % MARK_EVERY);
	return skip_items(p->buf, after, m - hi);
}

/*
 * Bring the marks up to date after items [lo, hi) were replaced by @k
 * items, already done in p->buf and p->len: the new items start at byte
 * @a, the first item after them at @after, and every old item at or past
 * @hi moved by @shift bytes (modulo 2^N).
 *
 * Marks of items up to @lo still hold. A new mark past the new items
 * names an old item (moved_mark()). When items were added, the old mark a
 * new one reads comes before it, otherwise at or after it: walking the
 * marks downwards, resp. upwards, reads every old mark before it is
 * overwritten. The marks inside the new items come last, from a walk over
 * them. This costs O(marks * MARK_EVERY / 2), not O(items).
 */
static void fix_marks(ag_lpack *p, size_t lo, size_t hi, size_t k, size_t a,
		      size_t after, size_t shift)
{
	size_t nm = nmarks(p->len);
	size_t j0 = (lo + k + MARK_EVERY - 1) / MARK_EVERY; /* first past */
	size_t removed = hi - lo;
	size_t j, t, off;

	if (k == removed) { /* set: the marks past it only move */
		for (j = j0; shift != 0 && j < nm; j++)
			p->marks[j] += shift;
	} else if (k > removed) {
		for (j = nm; j-- > j0;)
			p->marks[j] = moved_mark(
			    p, j * MARK_EVERY + removed - k, hi, after, shift);
	} else {
		for (j = j0; j < nm; j++)
			p->marks[j] = moved_mark(
			    p, j * MARK_EVERY + removed - k, hi, after, shift);
	}
	off = a;
	t = lo;
	for (j = (lo + MARK_EVERY - 1) / MARK_EVERY; j < j0 && j < nm; j++) {
		off = skip_items(p->buf, off, j * MARK_EVERY - t);
		t = j * MARK_EVERY;
		p->marks[j] = off;
	}
}

int ag_lpack_splice(ag_lpack *p, size_t lo, size_t hi, size_t a, size_t b,
		    const uint8_t *src, size_t srclen, size_t k, size_t krefs,
		    ag_lpack_release_fn *fn, void *ctx)
{
	size_t oldlen = p->len, tail, nm, past, moved;
	bool in_place = src != NULL && src == p->buf + a;

	if (reserve(p, srclen > b - a ? srclen - (b - a) : 0,
		    oldlen - (hi - lo) + k) < 0)
		return AGORA_ENOMEM;
	if (in_place) /* the reserve may have moved the buffer */
		src = p->buf + a;
	release_range(p, a, b, fn, ctx);
	tail = p->used - b;
	if (tail > 0 && a + srclen != b)
		memmove(p->buf + a + srclen, p->buf + b, tail);
	if (srclen > 0 && !in_place)
		memcpy(p->buf + a, src, srclen);
	p->used = a + srclen + tail;
	p->len = oldlen - (hi - lo) + k;
	p->nrefs += krefs;
	/*
	 * Fixing the marks past the change skips @moved items per mark:
	 * worth it when few, else they go stale (ensure_marks()). Marks of
	 * items up to @lo hold either way.
	 */
	nm = nmarks(p->len);
	past = (lo + k + MARK_EVERY - 1) / MARK_EVERY;
	past = nm > past ? nm - past : 0;
	moved = (size_t)(hi - lo - k) % MARK_EVERY;
	if (p->nvalid == nmarks(oldlen) &&
	    (moved <= MARK_EVERY / 4 || past * moved <= 8 * MARK_EVERY + k)) {
		fix_marks(p, lo, hi, k, a, a + srclen, a + srclen - b);
		p->nvalid = nm;
	} else if (p->nvalid > lo / MARK_EVERY + 1) {
		p->nvalid = lo / MARK_EVERY + 1;
	}
	if (p->nvalid > nm)
		p->nvalid = nm;
	return 0;
}

/* ---- reading all items --------------------------------------------------- */

/*
 * Whether the item at @off equals @v; its size goes to *ret_size. Without
 * a map in @v (!@structural), equal means equal bytes: an item holding a
 * map never has @v's bytes, so its flags need no scan.
 */
static bool item_equal(const ag_lpack *p, size_t off, const ag_val *v,
		       bool structural, size_t *ret_size)
{
	uint32_t f = 0;
	size_t s = structural ? ag_mp_skip(p->buf + off, &f)
			      : ag_mp_skip_fast(p->buf + off);
	ag_val item = ag_val_view(p->buf + off, (uint32_t)s, f);

	*ret_size = s;
	return ag_val_equal(&item, v);
}

size_t ag_lpack_find(ag_lpack *p, const ag_val *v, size_t lo, size_t hi)
{
	bool structural = ag_val_flags(v) & AG_VAL_MAP;
	size_t off, s;

	if (hi > p->len)
		hi = p->len;
	if (lo >= hi)
		return SIZE_MAX;
	off = offset_of(p, lo);
	for (size_t i = lo; i < hi; i++, off += s)
		if (item_equal(p, off, v, structural, &s))
			return i;
	return SIZE_MAX;
}

size_t ag_lpack_count(const ag_lpack *p, const ag_val *v)
{
	bool structural = ag_val_flags(v) & AG_VAL_MAP;
	size_t n = 0, s;

	for (size_t off = 0; off < p->used; off += s)
		n += item_equal(p, off, v, structural, &s);
	return n;
}

static void reverse_bytes(uint8_t *b, size_t n)
{
	for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
		uint8_t t = b[i];

		b[i] = b[j - 1];
		b[j - 1] = t;
	}
}

/* Each item's bytes reversed, then all of them, which puts the items in
 * reverse order each the right way round. */
void ag_lpack_reverse(ag_lpack *p)
{
	for (size_t off = 0; off < p->used;) {
		size_t s = ag_mp_skip_fast(p->buf + off);

		reverse_bytes(p->buf + off, s);
		off += s;
	}
	reverse_bytes(p->buf, p->used);
	p->nvalid = 0;
}

/* ---- sort ---------------------------------------------------------------- */

/*
 * The sort orders indices into the decoded items with a stable merge sort
 * (insertion-sorted runs, then bottom-up merges). With reverse it sorts by
 * the inverted comparison, which is stable too, so equal items keep their
 * original order as in Python. The first pair that does not order stops
 * it; the items are only permuted once everything compared.
 */
typedef struct sorter {
	const msgpack_object *objs;
	bool reverse;
	bool failed;
	size_t bad_a, bad_b; /* the pair that did not order */
} sorter;

/* True when item @a must come strictly after item @b. */
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

/* Decode every item, sort indices, then write the items in their new
 * order into a new buffer of the same capacity. */
int ag_lpack_sort(ag_lpack *p, bool reverse, msgpack_zone *z,
		  msgpack_object *ret_bad_a, msgpack_object *ret_bad_b)
{
	msgpack_object *objs = NULL;
	size_t *idx = NULL, *offs = NULL, n = p->len;
	uint8_t *buf = NULL;
	sorter s = { .reverse = reverse };
	int rc = AGORA_ENOMEM;

	if (n < 2)
		return 0;
	objs = malloc(n * sizeof(*objs));
	idx = malloc(2 * n * sizeof(*idx));
	offs = malloc((n + 1) * sizeof(*offs));
	buf = malloc(p->cap);
	if (objs == NULL || idx == NULL || offs == NULL || buf == NULL)
		goto out;
	offs[0] = 0;
	for (size_t i = 0; i < n; i++) {
		size_t size = ag_mp_skip_fast(p->buf + offs[i]);
		ag_val v = ag_val_view(p->buf + offs[i], (uint32_t)size, 0);

		if (ag_val_unpack(&v, z, &objs[i]) < 0)
			goto out;
		offs[i + 1] = offs[i] + size;
		idx[i] = i;
	}
	s.objs = objs;
	if (!sort_indices(&s, idx, idx + n, n)) {
		*ret_bad_a = objs[s.bad_a];
		*ret_bad_b = objs[s.bad_b];
		rc = AGORA_ETYPE;
		goto out;
	}
	for (size_t i = 0, at = 0; i < n; i++) {
		size_t k = idx[i], size = offs[k + 1] - offs[k];

		memcpy(buf + at, p->buf + offs[k], size);
		at += size;
	}
	free(p->buf);
	p->buf = buf;
	buf = NULL;
	p->nvalid = 0;
	rc = 0;
out:
	free(objs);
	free(idx);
	free(offs);
	free(buf);
	return rc;
}
