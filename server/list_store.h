/*
 * list_store.h - the two ways a list keeps its items, each a store with its
 * own struct and no notion of requests, replies or families:
 *
 *   ag_lpack (list_packed.c)  any items, as their canonical MessagePack
 *                             bytes back to back, with a mark every
 *                             AG_LPACK_MARK_EVERY items;
 *   ag_lints (list_ints.c)    ints that fit int64, as an array of int8, 16,
 *                             32 or 64, widened in place (Redis's intset).
 *
 * obj_list.c (the "list" family: Python's semantics, params, errors and
 * replies) holds one of the two and dispatches to it; list_ints.c converts
 * into an ag_lpack through its API. Neither store calls obj_list.c or the
 * rest of the server: references an item holds are released through a
 * callback the caller passes, and memory is reported (ag_lpack_mem(),
 * ag_lints_mem()) for the caller to account. Both depend on proto/ only,
 * and tests/unit/test_list_packed.c and test_list_ints.c test them alone.
 */
#ifndef AG_LIST_STORE_H
#define AG_LIST_STORE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ag_proto.h"

/* ---- packed store (list_packed.c) -----------------------------------------
 */

/* Items between two marks: finding item i skips at most MARK_EVERY - 1. */
#define AG_LPACK_MARK_EVERY 32

/*
 * Items as their canonical bytes. The bytes were checked and made
 * canonical when they came in (ag_arg_val(), ag_val_canon()), so the store
 * skips over them without checks (ag_mp_skip()). Fields are read by the
 * caller (buf, used, len, nrefs); only the functions below change them.
 */
typedef struct ag_lpack {
	uint8_t *buf;  /* the items' bytes, back to back */
	size_t used;   /* bytes of buf in use */
	size_t cap;    /* bytes of buf allocated */
	size_t len;    /* items */
	size_t *marks; /* marks[k]: offset of item k * MARK_EVERY */
	size_t marks_cap;
	size_t nvalid; /* marks[0, nvalid) are up to date */
	size_t nrefs;  /* items holding an ext 1 reference */
} ag_lpack;

/*
 * What the store calls for each item holding references that leaves it for
 * good: @v is a borrowed view of the item's bytes (flags set); release
 * what it holds (the server passes ag_val_release()). Where a function
 * takes a NULL @fn, the caller has taken over what the items hold (pop).
 */
typedef void ag_lpack_release_fn(void *ctx, ag_val *v);

/* An empty store (no memory). */
void ag_lpack_init(ag_lpack *p);
/* Release what every item holds (@fn, @ctx), free the memory, and leave
 * @p empty as ag_lpack_init() does. */
void ag_lpack_deinit(ag_lpack *p, ag_lpack_release_fn *fn, void *ctx);
/* A copy of @src into @dst (which it initialises), with as much memory
 * allocated (ag_lpack_mem() is the same), without taking the holds of its
 * items' references (ag_lpack_release_bytes() walks them). 0, or
 * AGORA_ENOMEM with @dst empty. */
int ag_lpack_copy(ag_lpack *dst, const ag_lpack *src);
/* Bytes the store has allocated: its buffer and its marks. */
static inline size_t ag_lpack_mem(const ag_lpack *p)
{
	return p->cap + p->marks_cap * sizeof(size_t);
}

/* Byte offset of item @i (@i <= p->len; p->len gives the end). Brings the
 * marks it reads up to date, hence not const. */
size_t ag_lpack_offset(ag_lpack *p, size_t i);
/* Offset of the item @n items after the one at offset @off. */
size_t ag_lpack_skip(const ag_lpack *p, size_t off, size_t n);
/* Bytes [*ret_a, *ret_b) of items [lo, hi) (lo <= hi <= p->len). */
void ag_lpack_range(ag_lpack *p, size_t lo, size_t hi, size_t *ret_a,
		    size_t *ret_b);

/* Size of the item at offset @off. */
static inline size_t ag_lpack_item_len(const ag_lpack *p, size_t off)
{
	return ag_mp_skip_fast(p->buf + off);
}

/* The same, ORing AG_VAL_MAP / AG_VAL_REF into *flags for what it holds. */
static inline size_t ag_lpack_item_size(const ag_lpack *p, size_t off,
					uint32_t *flags)
{
	return ag_mp_skip(p->buf + off, flags);
}

/*
 * Pack the @n items @first, @first + @step, ... (each < p->len) into @pk
 * as their bytes, verbatim: a step of 1 is one run of bytes, another step
 * reads each mark's block of items once.
 */
void ag_lpack_pack_items(ag_lpack *p, msgpack_packer *pk, int64_t first,
			 size_t n, int64_t step);

/*
 * Replace items [lo, hi), bytes [a, b) (ag_lpack_range()), by the @k items
 * whose @srclen bytes are @src, @krefs of which hold references (the
 * holds already taken: the store owns them from here). The room is made
 * first; then what the removed items hold is released through @fn, the
 * bytes after them move once, and the marks after them are fixed up (or
 * left stale for the next look, when that is cheaper). @src may be
 * p->buf + @a when the new bytes were written there past p->used
 * (ag_lpack_lend()). Returns 0, or AGORA_ENOMEM with the store unchanged.
 * The store keeps its capacity: ag_lpack_trim() gives slack back.
 */
int ag_lpack_splice(ag_lpack *p, size_t lo, size_t hi, size_t a, size_t b,
		    const uint8_t *src, size_t srclen, size_t k, size_t krefs,
		    ag_lpack_release_fn *fn, void *ctx);
/* Room for @extra more bytes and marks for @newlen items. Returns 0 or
 * AGORA_ENOMEM; the items are untouched either way. */
int ag_lpack_reserve(ag_lpack *p, size_t extra, size_t newlen);
/* Give back most of the slack after removals (a failed shrink is fine);
 * an empty store frees everything, as after ag_lpack_init(). */
void ag_lpack_trim(ag_lpack *p);

/*
 * The buffer lent as an ag_buf whose len is p->used, for an encoder to
 * append new items' bytes past the items (it may grow data and cap).
 * ag_lpack_unlend() takes the buffer back; the bytes past p->used are not
 * items until an ag_lpack_splice() at the end counts them in.
 */
ag_buf ag_lpack_lend(ag_lpack *p);
void ag_lpack_unlend(ag_lpack *p, const ag_buf *b);

/* An empty store with room for exactly @bytes bytes (at least 16) and the
 * marks of @len items, to fill with ag_lpack_push(). Returns 0, or
 * AGORA_ENOMEM with @p as after ag_lpack_init(). */
int ag_lpack_init_room(ag_lpack *p, size_t bytes, size_t len);
/* Append one item's @n bytes into room made by ag_lpack_init_room() or
 * ag_lpack_reserve(). */
void ag_lpack_push(ag_lpack *p, const uint8_t *item, size_t n);

/*
 * Release what the items in bytes [a, b) of @buf hold (complete, checked
 * items, in the store or not); returns how many held references.
 */
size_t ag_lpack_release_bytes(const uint8_t *buf, size_t a, size_t b,
			      ag_lpack_release_fn *fn, void *ctx);

/* Position of the first item equal to @v (protocol section 5) in [lo, hi)
 * (hi is clamped to p->len), or SIZE_MAX. */
size_t ag_lpack_find(ag_lpack *p, const ag_val *v, size_t lo, size_t hi);
/* How many items equal @v. */
size_t ag_lpack_count(const ag_lpack *p, const ag_val *v);
/* Reverse the items' order in place, without memory. */
void ag_lpack_reverse(ag_lpack *p);
/*
 * Python's stable sort (reverse: by the inverted comparison, stable too)
 * of the items, decoded into @z (strings point into p->buf). Returns 0;
 * AGORA_ETYPE when a pair does not order, with the pair (pointing into @z
 * and p->buf) in *ret_bad_a and *ret_bad_b; AGORA_ENOMEM. On failure the
 * store is unchanged.
 */
int ag_lpack_sort(ag_lpack *p, bool reverse, msgpack_zone *z,
		  msgpack_object *ret_bad_a, msgpack_object *ret_bad_b);

/* ---- int store (list_ints.c) ----------------------------------------------
 */

/*
 * Ints that fit int64 as a plain array of width-byte ints (1, 2, 4, 8: the
 * narrowest that holds every item), widened in place when a larger int
 * comes. Items hold no references. An empty store has width 1.
 */
typedef struct ag_lints {
	uint8_t *buf; /* len items of width bytes each */
	size_t cap;   /* bytes of buf allocated */
	size_t len;   /* items */
	unsigned width;
} ag_lints;

/* An empty store (no memory, width 1). */
void ag_lints_init(ag_lints *s);
/* Free its memory and leave it as ag_lints_init() does. */
void ag_lints_deinit(ag_lints *s);
/* A copy of @src into @dst (which it initialises), with as much memory
 * allocated. 0, or AGORA_ENOMEM with @dst empty. */
int ag_lints_copy(ag_lints *dst, const ag_lints *src);
/* Bytes the store has allocated. */
static inline size_t ag_lints_mem(const ag_lints *s)
{
	return s->cap;
}

/* Item @i (< s->len). */
static inline int64_t ag_lints_get(const ag_lints *s, size_t i)
{
	const uint8_t *p = s->buf + i * s->width;
	int8_t x1;
	int16_t x2;
	int32_t x4;
	int64_t x8;

	switch (s->width) {
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

/* Store @x as item @i (< s->len); @x must fit s->width
 * (ag_lints_width_for(x) <= s->width). */
void ag_lints_set(ag_lints *s, size_t i, int64_t x);
/* The narrowest width that holds @x. */
unsigned ag_lints_width_for(int64_t x);
/* Whether the header @h is an int the store holds (it fits int64), in
 * *ret. */
bool ag_lints_head_int(const ag_mp_head *h, int64_t *ret);
/* The same for the canonical bytes of one value. */
bool ag_lints_val_int(const ag_val *v, int64_t *ret);
/* Widen every item to @w bytes (> s->width) in place, growing the buffer
 * to hold s->len of them. Returns 0 or AGORA_ENOMEM, the store unchanged. */
int ag_lints_widen(ag_lints *s, unsigned w);
/*
 * Items [lo, hi) replaced by room for @k items of up to @w bytes, which
 * the caller then stores (ag_lints_set()); the items are widened first
 * when @w is wider than s->width. Returns 0 or AGORA_ENOMEM with the store
 * unchanged; never fails when nothing grows.
 */
int ag_lints_splice(ag_lints *s, size_t lo, size_t hi, size_t k, unsigned w);
/* Give back most of the slack after removals; emptied, the store frees
 * its memory and starts again at width 1. */
void ag_lints_trim(ag_lints *s);
/* Position of the first item equal to @x in [lo, hi) (hi <= s->len), or
 * SIZE_MAX. */
size_t ag_lints_find(const ag_lints *s, int64_t x, size_t lo, size_t hi);
/* How many items equal @x. */
size_t ag_lints_count(const ag_lints *s, int64_t x);
void ag_lints_reverse(ag_lints *s);
/* Ascending (or descending); equal ints are alike, so stable. Returns 0
 * or AGORA_ENOMEM, the store unchanged. */
int ag_lints_sort(ag_lints *s, bool reverse);
/* Pack the @n items @first, @first + @step, ... (each < s->len) into @pk,
 * each by ag_lints_pack(). */
void ag_lints_pack_items(const ag_lints *s, msgpack_packer *pk, int64_t first,
			 size_t n, int64_t step);
/* Pack @x as value.c encodes an int (the shortest form): the very bytes
 * the packed store would hold for it. */
void ag_lints_pack(msgpack_packer *pk, int64_t x);
/*
 * The items as a new packed store in *ret (which must not hold one): each
 * packed by ag_lints_pack(), every mark set, the buffer exactly their size
 * (at least 16 bytes). @s is unchanged. Returns 0 or AGORA_ENOMEM (*ret
 * untouched).
 */
int ag_lints_to_packed(const ag_lints *s, ag_lpack *ret);

#endif
