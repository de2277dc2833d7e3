/*
 * list_ints.c - the int store (ag_lints, list_store.h), as Redis's intset:
 * while every item of a list is an integer that fits int64, the list keeps
 * them as a plain array of int8/16/32/64 (width bytes each, the narrowest
 * that holds every item), widened in place when a larger int arrives, so
 * a million small ints cost a byte or two each.
 *
 * An item that is not such an int (a uint64 above INT64_MAX, anything
 * else) makes the list convert to the packed store once
 * (ag_lints_to_packed()); it stays packed until it is emptied, when it
 * starts over here. Int items hold no references. A read packs an item as
 * value.c encodes an int (msgpack_pack_uint64/int64, the shortest form):
 * the very bytes the packed store would hold and send.
 *
 * Like the packed store it knows nothing of requests: it reports failure
 * as AGORA_ENOMEM and its memory as ag_lints_mem().
 */
#include <stdlib.h>
#include <string.h>

#include "list_store.h"

/* Buffers double up to this size, then grow by a quarter (as the packed
 * store's). */
#define GROW_DOUBLE_MAX ((size_t)1 << 20)

void ag_lints_init(ag_lints *s)
{
	s->buf = NULL;
	s->cap = 0;
	s->len = 0;
	s->width = 1;
}

void ag_lints_deinit(ag_lints *s)
{
	free(s->buf);
	ag_lints_init(s);
}

int ag_lints_copy(ag_lints *dst, const ag_lints *src)
{
	ag_lints_init(dst);
	if (src->cap > 0) {
		if ((dst->buf = malloc(src->cap)) == NULL)
			return AGORA_ENOMEM;
		memcpy(dst->buf, src->buf, src->len * src->width);
	}
	dst->cap = src->cap;
	dst->len = src->len;
	dst->width = src->width;
	return 0;
}

/* Store @x (which fits) as item @i of the array of @w-byte ints at @p. */
static void store(uint8_t *p, unsigned w, size_t i, int64_t x)
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

void ag_lints_set(ag_lints *s, size_t i, int64_t x)
{
	store(s->buf, s->width, i, x);
}

unsigned ag_lints_width_for(int64_t x)
{
	if (x >= INT8_MIN && x <= INT8_MAX)
		return 1;
	if (x >= INT16_MIN && x <= INT16_MAX)
		return 2;
	if (x >= INT32_MIN && x <= INT32_MAX)
		return 4;
	return 8;
}

bool ag_lints_head_int(const ag_mp_head *h, int64_t *ret)
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

bool ag_lints_val_int(const ag_val *v, int64_t *ret)
{
	const uint8_t *p = ag_val_bytes(v);
	uint32_t n = ag_val_len(v), bits;
	uint64_t u = 0;

	/* Canonical bytes: a fixint, or (u)int 8..64 in its shortest form,
	 * read here as ag_mp_read_head() would (this is every append). */
	if (n == 0)
		return false;
	if (p[0] <= 0x7f || p[0] >= 0xe0) { /* fixint */
		*ret = (int8_t)p[0];
		return true;
	}
	if (p[0] < 0xcc || p[0] > 0xd3 || n != 1 + (1u << (p[0] & 3)))
		return false;
	bits = (n - 1) * 8;
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

void ag_lints_pack(msgpack_packer *pk, int64_t x)
{
	if (x >= 0)
		msgpack_pack_uint64(pk, (uint64_t)x);
	else
		msgpack_pack_int64(pk, x);
}

void ag_lints_pack_items(const ag_lints *s, msgpack_packer *pk, int64_t first,
			 size_t n, int64_t step)
{
	for (size_t k = 0; k < n; k++)
		ag_lints_pack(
		    pk, ag_lints_get(s, (size_t)(first + (int64_t)k * step)));
}

/* ---- changing ------------------------------------------------------------ */

/* Room for @bytes bytes, grown as the packed store grows. */
static int reserve(ag_lints *s, size_t bytes)
{
	size_t cap;
	uint8_t *p;

	if (bytes <= s->cap)
		return 0;
	if (s->cap < 16)
		cap = 16;
	else if (s->cap < GROW_DOUBLE_MAX)
		cap = s->cap * 2;
	else
		cap = s->cap + s->cap / 4;
	if (cap < bytes)
		cap = bytes;
	p = realloc(s->buf, cap);
	if (p == NULL)
		return AGORA_ENOMEM;
	s->buf = p;
	s->cap = cap;
	return 0;
}

static int widen(ag_lints *s, unsigned w)
{
	unsigned old = s->width;

	if (w <= old)
		return 0;
	if (s->len > SIZE_MAX / w || reserve(s, s->len * w) < 0)
		return AGORA_ENOMEM;
	/* Back to front: each item moves up, past the old ones before it. */
	for (size_t i = s->len; i-- > 0;)
		store(s->buf, w, i, ag_lints_get(s, i));
	s->width = w;
	return 0;
}

int ag_lints_widen(ag_lints *s, unsigned w)
{
	return widen(s, w);
}

int ag_lints_splice(ag_lints *s, size_t lo, size_t hi, size_t k, unsigned w)
{
	size_t newlen = s->len - (hi - lo) + k, tail = s->len - hi;
	size_t n = newlen > s->len ? newlen : s->len;

	if (w < s->width)
		w = s->width;
	/* All the room first, so that a failure changes nothing. */
	if (n > SIZE_MAX / w || reserve(s, n * w) < 0)
		return AGORA_ENOMEM;
	widen(s, w); /* has its room: cannot fail */
	if (tail > 0 && k != hi - lo)
		memmove(s->buf + (lo + k) * w, s->buf + hi * w, tail * w);
	s->len = newlen;
	return 0;
}

void ag_lints_trim(ag_lints *s)
{
	size_t used = s->len * s->width;

	if (s->len == 0) {
		ag_lints_deinit(s);
		return;
	}
	if (s->cap > 256 && used < s->cap / 4) {
		size_t cap = used + used / 4;
		uint8_t *p = realloc(s->buf, cap);

		if (p != NULL) {
			s->buf = p;
			s->cap = cap;
		}
	}
}

/* ---- reading all items --------------------------------------------------- */

size_t ag_lints_find(const ag_lints *s, int64_t x, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++)
		if (ag_lints_get(s, i) == x)
			return i;
	return SIZE_MAX;
}

size_t ag_lints_count(const ag_lints *s, int64_t x)
{
	size_t n = 0;

	for (size_t i = 0; i < s->len; i++)
		n += ag_lints_get(s, i) == x;
	return n;
}

void ag_lints_reverse(ag_lints *s)
{
	for (size_t i = 0, j = s->len; i + 1 < j; i++, j--) {
		int64_t t = ag_lints_get(s, i);

		store(s->buf, s->width, i, ag_lints_get(s, j - 1));
		store(s->buf, s->width, j - 1, t);
	}
}

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int ag_lints_sort(ag_lints *s, bool reverse)
{
	size_t n = s->len;
	int64_t *v;

	if (n < 2)
		return 0;
	v = malloc(n * sizeof(*v));
	if (v == NULL)
		return AGORA_ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = ag_lints_get(s, i);
	qsort(v, n, sizeof(*v), cmp_int64);
	for (size_t i = 0; i < n; i++)
		store(s->buf, s->width, i, v[reverse ? n - 1 - i : i]);
	free(v);
	return 0;
}

/* ---- to the packed store ------------------------------------------------- */

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

/* One pass counts the bytes, so the packed store is made exactly that
 * size; a second packs each item into a small buffer and pushes it. */
int ag_lints_to_packed(const ag_lints *s, ag_lpack *ret)
{
	uint8_t item[9]; /* the longest int: 0xcf or 0xd3 and 8 bytes */
	sink count = { NULL, 0 }, one = { item, 0 };
	msgpack_packer pk;
	ag_lpack p;

	msgpack_packer_init(&pk, &count, sink_write);
	for (size_t i = 0; i < s->len; i++)
		ag_lints_pack(&pk, ag_lints_get(s, i));
	if (ag_lpack_init_room(&p, count.n, s->len) < 0)
		return AGORA_ENOMEM;
	msgpack_packer_init(&pk, &one, sink_write);
	for (size_t i = 0; i < s->len; i++) {
		one.n = 0;
		ag_lints_pack(&pk, ag_lints_get(s, i));
		ag_lpack_push(&p, item, one.n);
	}
	*ret = p;
	return 0;
}
