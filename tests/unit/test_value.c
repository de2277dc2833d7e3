/*
 * test_value.c - stored values, equality, hashing, ordering and arithmetic of
 * protocol section 5 (proto/value.c), and the error list (proto/errors.c).
 *
 * Values are written as literal MessagePack bytes so that each test names the
 * exact encoding a client might have chosen (uint64 1 is cf 00 .. 01), are
 * decoded with msgpack-c alone, and only then handed to the code under test.
 */
#include <stdint.h>
#include <string.h>

#include "ag_proto.h"
#include "unit.h"

#define LIT(...)                          \
	(const uint8_t[]){ __VA_ARGS__ }, \
	    sizeof((const uint8_t[]){ __VA_ARGS__ })

/* A decoded literal: msgpack-c's unpacked object, freed by unlit(). */
typedef struct lit {
	msgpack_unpacked u;
	const msgpack_object *o;
} lit;

static void mklit(lit *l, const uint8_t *data, size_t len)
{
	l->o = unit_unpack(&l->u, data, len);
}

static void unlit(lit *l)
{
	msgpack_unpacked_destroy(&l->u);
}

/* ag_val of the bytes; the call must succeed. */
static void mkval(ag_val *v, const uint8_t *data, size_t len)
{
	lit l;

	mklit(&l, data, len);
	ck_assert_int_eq(ag_val_from_obj(v, l.o), 0);
	unlit(&l);
}

/* ag_val_from_obj() of the bytes, returning its code (value freed). */
static int val_rc(const uint8_t *data, size_t len)
{
	lit l;
	ag_val v;

	mklit(&l, data, len);
	int rc = ag_val_from_obj(&v, l.o);
	if (rc == 0)
		ag_val_deinit(&v);
	unlit(&l);
	return rc;
}

/*
 * Assert the two encodings are equal values per section 5, both as ag_val
 * (equal, and equal hash under two seeds) and as decoded objects.
 */
static void assert_same(const uint8_t *a, size_t alen, const uint8_t *b,
			size_t blen)
{
	ag_val va, vb;
	lit la, lb;

	mkval(&va, a, alen);
	mkval(&vb, b, blen);
	ck_assert(ag_val_equal(&va, &vb));
	ck_assert(ag_val_equal(&vb, &va));
	ck_assert_uint_eq(ag_val_hash(&va, 0), ag_val_hash(&vb, 0));
	ck_assert_uint_eq(ag_val_hash(&va, 0x9e3779b97f4a7c15u),
			  ag_val_hash(&vb, 0x9e3779b97f4a7c15u));
	ag_val_deinit(&va);
	ag_val_deinit(&vb);

	mklit(&la, a, alen);
	mklit(&lb, b, blen);
	ck_assert(ag_obj_equal(la.o, lb.o));
	ck_assert(ag_obj_equal(lb.o, la.o));
	unlit(&la);
	unlit(&lb);
}

/* Assert the two encodings are different values per section 5. */
static void assert_differ(const uint8_t *a, size_t alen, const uint8_t *b,
			  size_t blen)
{
	ag_val va, vb;
	lit la, lb;

	mkval(&va, a, alen);
	mkval(&vb, b, blen);
	ck_assert(!ag_val_equal(&va, &vb));
	ck_assert(!ag_val_equal(&vb, &va));
	ag_val_deinit(&va);
	ag_val_deinit(&vb);

	mklit(&la, a, alen);
	mklit(&lb, b, blen);
	ck_assert(!ag_obj_equal(la.o, lb.o));
	ck_assert(!ag_obj_equal(lb.o, la.o));
	unlit(&la);
	unlit(&lb);
}

/* Assert the canonical bytes of the encoding are @want. */
static void assert_canonical(const uint8_t *in, size_t inlen,
			     const uint8_t *want, size_t wantlen)
{
	ag_val v;

	mkval(&v, in, inlen);
	ck_assert_uint_eq(ag_val_len(&v), wantlen);
	ck_assert_mem_eq(ag_val_bytes(&v), want, wantlen);
	ag_val_deinit(&v);
}

/* ---- equality across encodings ------------------------------------------- */

/* The data of a reference: id 42, then 8 bytes of secret. */
#define REF42 0, 0, 0, 0, 0, 0, 0, 42, 1, 2, 3, 4, 5, 6, 7, 8

START_TEST(one_is_the_same_value_in_every_integer_width)
{
	assert_same(LIT(0x01), LIT(0xcc, 0x01));
	assert_same(LIT(0x01), LIT(0xcd, 0x00, 0x01));
	assert_same(LIT(0x01), LIT(0xce, 0x00, 0x00, 0x00, 0x01));
	assert_same(LIT(0x01), LIT(0xcf, 0, 0, 0, 0, 0, 0, 0, 0x01));
	assert_same(LIT(0x01), LIT(0xd0, 0x01));
	assert_same(LIT(0x01), LIT(0xd1, 0x00, 0x01));
	assert_same(LIT(0x01), LIT(0xd2, 0x00, 0x00, 0x00, 0x01));
	assert_same(LIT(0x01), LIT(0xd3, 0, 0, 0, 0, 0, 0, 0, 0x01));
	assert_same(LIT(0xcf, 0, 0, 0, 0, 0, 0, 0, 0x01), LIT(0xd0, 0x01));
}
END_TEST

START_TEST(minus_one_is_the_same_value_in_every_signed_width)
{
	assert_same(LIT(0xff), LIT(0xd0, 0xff));
	assert_same(LIT(0xff), LIT(0xd1, 0xff, 0xff));
	assert_same(LIT(0xff), LIT(0xd2, 0xff, 0xff, 0xff, 0xff));
	assert_same(LIT(0xd0, 0xff),
		    LIT(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
}
END_TEST

START_TEST(large_integers_are_the_same_value_in_wider_forms)
{
	/* 300 as uint16 / uint64 / int32 */
	assert_same(LIT(0xcd, 0x01, 0x2c),
		    LIT(0xcf, 0, 0, 0, 0, 0, 0, 0x01, 0x2c));
	assert_same(LIT(0xcd, 0x01, 0x2c), LIT(0xd2, 0, 0, 0x01, 0x2c));
	/* INT64_MAX as uint64 and int64 */
	assert_same(LIT(0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		    LIT(0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
}
END_TEST

START_TEST(different_integers_differ)
{
	assert_differ(LIT(0x01), LIT(0x02));
	assert_differ(LIT(0x01), LIT(0xff));
	/* UINT64_MAX is not -1 */
	assert_differ(
	    LIT(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
	    LIT(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
}
END_TEST

START_TEST(integer_one_and_float_one_differ)
{
	assert_differ(LIT(0x01), LIT(0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0));
	assert_differ(LIT(0x01), LIT(0xca, 0x3f, 0x80, 0x00, 0x00));
	assert_differ(LIT(0x00), LIT(0xcb, 0, 0, 0, 0, 0, 0, 0, 0));
}
END_TEST

START_TEST(float32_one_and_a_half_equals_float64_one_and_a_half)
{
	assert_same(LIT(0xca, 0x3f, 0xc0, 0x00, 0x00),
		    LIT(0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0));
	assert_differ(LIT(0xca, 0x3f, 0xc0, 0x00, 0x00),
		      LIT(0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 1));
}
END_TEST

START_TEST(str_and_bin_with_the_same_bytes_differ)
{
	assert_differ(LIT(0xa1, 'a'), LIT(0xc4, 0x01, 'a'));
	assert_differ(LIT(0xa0), LIT(0xc4, 0x00));
}
END_TEST

START_TEST(str_is_the_same_value_in_every_str_width)
{
	assert_same(LIT(0xa2, 'h', 'i'), LIT(0xd9, 0x02, 'h', 'i'));
	assert_same(LIT(0xa2, 'h', 'i'), LIT(0xda, 0x00, 0x02, 'h', 'i'));
	assert_same(LIT(0xa2, 'h', 'i'), LIT(0xdb, 0, 0, 0, 0x02, 'h', 'i'));
	assert_same(LIT(0xc4, 0x01, 'x'), LIT(0xc6, 0, 0, 0, 0x01, 'x'));
}
END_TEST

START_TEST(bool_is_not_an_integer)
{
	assert_differ(LIT(0xc3), LIT(0x01));
	assert_differ(LIT(0xc2), LIT(0x00));
	assert_differ(LIT(0xc3), LIT(0xc2));
	assert_differ(LIT(0xc0), LIT(0xc2));
}
END_TEST

START_TEST(nested_arrays_are_equal_across_integer_widths)
{
	/* [1, [2, -3]] vs [uint16 1, [uint64 2, int64 -3]] */
	assert_same(LIT(0x92, 0x01, 0x92, 0x02, 0xfd),
		    LIT(0x92, 0xcd, 0x00, 0x01, 0x92, 0xcf, 0, 0, 0, 0, 0, 0, 0,
			0x02, 0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xfd));
	/* the same in array16 / array32 headers */
	assert_same(LIT(0x92, 0x01, 0x02),
		    LIT(0xdc, 0x00, 0x02, 0xd0, 0x01, 0xcc, 0x02));
	assert_same(LIT(0x92, 0x01, 0x02),
		    LIT(0xdd, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02));
	assert_differ(LIT(0x92, 0x01, 0x92, 0x02, 0xfd),
		      LIT(0x92, 0x01, 0x92, 0x02, 0xfc));
	assert_differ(LIT(0x92, 0x01, 0x02), LIT(0x93, 0x01, 0x02, 0xc0));
}
END_TEST

START_TEST(maps_with_the_same_entries_in_another_order_are_equal)
{
	/* {"a": 1, "b": 2} vs {"b": uint64 2, "a": int8 1} */
	const uint8_t ab[] = { 0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02 };
	const uint8_t ba[] = { 0x82, 0xa1, 'b', 0xcf, 0,    0,   0,    0,
			       0,    0,    0,   0x02, 0xa1, 'a', 0xd0, 0x01 };
	ag_val v;

	assert_same(ab, sizeof(ab), ba, sizeof(ba));
	mkval(&v, ab, sizeof(ab));
	ck_assert(ag_val_flags(&v) & AG_VAL_MAP);
	ag_val_deinit(&v);
}
END_TEST

START_TEST(maps_nested_in_arrays_compare_by_entries)
{
	/* [{1: nil, 2: [3]}] vs [map16 {2: [3], 1: nil}] */
	assert_same(LIT(0x91, 0x82, 0x01, 0xc0, 0x02, 0x91, 0x03),
		    LIT(0x91, 0xde, 0x00, 0x02, 0x02, 0x91, 0x03, 0x01, 0xc0));
	/* keys 1 and uint64 1 are the same key */
	assert_same(LIT(0x81, 0x01, 0xa1, 'x'),
		    LIT(0x81, 0xcf, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xa1, 'x'));
}
END_TEST

START_TEST(maps_with_different_entries_differ)
{
	assert_differ(LIT(0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02),
		      LIT(0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x03));
	assert_differ(LIT(0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02),
		      LIT(0x82, 0xa1, 'a', 0x01, 0xa1, 'c', 0x02));
	assert_differ(LIT(0x81, 0xa1, 'a', 0x01),
		      LIT(0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02));
	/* same keys, values swapped */
	assert_differ(LIT(0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02),
		      LIT(0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0x02));
	/* key 1 vs key 1.0 */
	assert_differ(LIT(0x81, 0x01, 0xc0),
		      LIT(0x81, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xc0));
}
END_TEST

/* ---- canonical bytes ----------------------------------------------------- */

START_TEST(integers_are_stored_in_their_shortest_form)
{
	assert_canonical(LIT(0xcf, 0, 0, 0, 0, 0, 0, 0, 0x01), LIT(0x01));
	assert_canonical(LIT(0xd3, 0, 0, 0, 0, 0, 0, 0, 0x01), LIT(0x01));
	assert_canonical(
	    LIT(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
	    LIT(0xff));
	assert_canonical(LIT(0xcf, 0, 0, 0, 0, 0, 0, 0, 0xc8), LIT(0xcc, 0xc8));
	assert_canonical(
	    LIT(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xdf),
	    LIT(0xd0, 0xdf));
	assert_canonical(LIT(0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0),
			 LIT(0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0));
}
END_TEST

START_TEST(float32_is_stored_as_float64)
{
	assert_canonical(LIT(0xca, 0x3f, 0xc0, 0x00, 0x00),
			 LIT(0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0));
}
END_TEST

START_TEST(stored_value_unpacks_to_an_equal_object)
{
	const uint8_t in[] = { 0x93, 0xcf, 0,    0,    0,    0,
			       0,    0,    0,    0x07, 0xa2, 'h',
			       'i',  0x81, 0xc3, 0xc4, 0x01, 0x00 };
	ag_val v, d;
	lit l;
	msgpack_zone z;
	msgpack_object out;

	mkval(&v, in, sizeof(in));
	ck_assert_int_eq(ag_val_dup(&d, &v), 0);
	ck_assert(ag_val_equal(&v, &d));
	ck_assert_uint_eq(ag_val_hash(&v, 1), ag_val_hash(&d, 1));
	ag_val_deinit(&v);

	ck_assert(msgpack_zone_init(&z, 1024));
	ck_assert_int_eq(ag_val_unpack(&d, &z, &out), 0);
	mklit(&l, in, sizeof(in));
	ck_assert(ag_obj_equal(&out, l.o));
	ck_assert_int_eq(out.type, MSGPACK_OBJECT_ARRAY);
	ck_assert_uint_eq(out.via.array.size, 3);
	ck_assert_uint_eq(out.via.array.ptr[0].via.u64, 7);
	unlit(&l);
	msgpack_zone_destroy(&z);
	ag_val_deinit(&d);
}
END_TEST

/* ---- representation ------------------------------------------------------ */

/* Round trip @len bytes of a str through from_obj, dup, a view and
 * from_bytes: same bytes, length, flags, equality and hash every way. */
static void assert_round_trip(size_t len)
{
	uint8_t in[64];
	ag_val v, d, b, view;

	ck_assert(len >= 1 && len <= 32);
	in[0] = (uint8_t)(0xa0 | (len - 1)); /* fixstr of len - 1 bytes */
	for (size_t i = 1; i < len; i++)
		in[i] = (uint8_t)('a' + i);
	mkval(&v, in, len);
	ck_assert_uint_eq(ag_val_len(&v), len);
	ck_assert_mem_eq(ag_val_bytes(&v), in, len);
	ck_assert_uint_eq(ag_val_flags(&v), 0);
	ck_assert(!ag_val_is_empty(&v));

	ck_assert_int_eq(ag_val_dup(&d, &v), 0);
	view = ag_val_view(in, (uint32_t)len, 0);
	ck_assert_int_eq(ag_val_from_bytes(&b, in, len, 0), 0);
	ck_assert_mem_eq(ag_val_bytes(&d), in, len);
	ck_assert_mem_eq(ag_val_bytes(&b), in, len);
	ck_assert_ptr_eq(ag_val_bytes(&view), in);
	ck_assert_uint_eq(ag_val_len(&view), len);
	ck_assert(ag_val_equal(&v, &d) && ag_val_equal(&v, &view) &&
		  ag_val_equal(&view, &b));
	ck_assert_uint_eq(ag_val_hash(&v, 7), ag_val_hash(&view, 7));
	ck_assert_uint_eq(ag_val_hash(&v, 7), ag_val_hash(&d, 7));
	ag_val_deinit(&view); /* a view: nothing is freed */
	ck_assert(ag_val_is_empty(&view));
	ag_val_deinit(&v);
	ag_val_deinit(&d);
	ag_val_deinit(&b);
}

START_TEST(an_ag_val_is_sixteen_bytes)
{
	ck_assert_uint_eq(sizeof(ag_val), 16);
}
END_TEST

START_TEST(values_round_trip_on_both_sides_of_the_inline_limit)
{
	for (size_t len = 1; len <= 20; len++)
		assert_round_trip(len);
}
END_TEST

START_TEST(every_integer_and_float_is_stored_inline)
{
	ag_val v;

	/* uint64 max and a float64: 9 bytes each, no heap */
	mkval(&v, LIT(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
	ck_assert_uint_eq(ag_val_len(&v), 9);
	ck_assert_uint_eq(ag_val_heap(&v), 0);
	ag_val_deinit(&v);
	mkval(&v, LIT(0xca, 0x3f, 0xc0, 0x00, 0x00));
	ck_assert_uint_eq(ag_val_heap(&v), 0);
	ag_val_deinit(&v);
	/* a 13-byte str is on the heap */
	mkval(&v, LIT(0xac, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j',
		      'k', 'l'));
	ck_assert_uint_eq(ag_val_heap(&v), 13);
	ag_val_deinit(&v);
}
END_TEST

START_TEST(flags_survive_inline_and_heap_storage)
{
	ag_val v, d;

	/* {"k": 1}: 4 bytes, inline, a map */
	mkval(&v, LIT(0x81, 0xa1, 'k', 0x01));
	ck_assert_uint_eq(ag_val_heap(&v), 0);
	ck_assert_uint_eq(ag_val_flags(&v), AG_VAL_MAP);
	ck_assert_int_eq(ag_val_dup(&d, &v), 0);
	ck_assert_uint_eq(ag_val_flags(&d), AG_VAL_MAP);
	ag_val_deinit(&d);
	ag_val_deinit(&v);
	/* {"k": [ref 42]}: 22 bytes, on the heap, a map and a reference */
	mkval(&v, LIT(0x81, 0xa1, 'k', 0x91, 0xd8, 0x01, REF42));
	ck_assert_uint_eq(ag_val_heap(&v), 22);
	ck_assert_uint_eq(ag_val_flags(&v), AG_VAL_MAP | AG_VAL_REF);
	ck_assert_int_eq(ag_val_dup(&d, &v), 0);
	ck_assert_uint_eq(ag_val_flags(&d), AG_VAL_MAP | AG_VAL_REF);
	ck_assert(ag_val_equal(&v, &d));
	ag_val_deinit(&d);
	ag_val_deinit(&v);
}
END_TEST

START_TEST(an_empty_value_is_all_zero_and_deinit_empties)
{
	ag_val z, v;
	static const uint8_t zeros[sizeof(ag_val)];

	memset(&z, 0, sizeof(z));
	ck_assert(ag_val_is_empty(&z));
	ag_val_deinit(&z); /* freeing an empty value is a no-op */
	ag_val_deinit(NULL);
	mkval(&v, LIT(0x01));
	ck_assert(!ag_val_is_empty(&v));
	ag_val_deinit(&v);
	ck_assert(ag_val_is_empty(&v));
	ck_assert_mem_eq(&v, zeros, sizeof(v));
}
END_TEST

START_TEST(lengths_beyond_the_limit_are_LIMIT)
{
	ag_val v;
	uint8_t byte = 0;

	/* The length is checked before the bytes are read. */
	ck_assert_int_eq(
	    ag_val_from_bytes(&v, &byte, (size_t)AG_VAL_MAX_LEN + 1, 0),
	    AGORA_ELIMIT);
}
END_TEST

/* ---- references ---------------------------------------------------------- */

START_TEST(ext1_with_seven_data_bytes_is_a_bad_value)
{
	ck_assert_int_eq(val_rc(LIT(0xc7, 0x07, 0x01, 1, 2, 3, 4, 5, 6, 7)),
			 AGORA_EVALUE);
}
END_TEST

START_TEST(ext1_with_other_lengths_is_a_bad_value_even_nested)
{
	/* eight bytes, the id alone (the first version's form) */
	ck_assert_int_eq(val_rc(LIT(0xd7, 0x01, 0, 0, 0, 0, 0, 0, 0, 42)),
			 AGORA_EVALUE);
	ck_assert_int_eq(
	    val_rc(LIT(0xc7, 0x09, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
	    AGORA_EVALUE);
	ck_assert_int_eq(val_rc(LIT(0xd6, 0x01, 1, 2, 3, 4)), AGORA_EVALUE);
	ck_assert_int_eq(val_rc(LIT(0xc7, 0x00, 0x01)), AGORA_EVALUE);
	ck_assert_int_eq(
	    val_rc(LIT(0x92, 0x01, 0xc7, 0x07, 0x01, 1, 2, 3, 4, 5, 6, 7)),
	    AGORA_EVALUE);
	ck_assert_int_eq(val_rc(LIT(0x81, 0xd6, 0x01, 1, 2, 3, 4, 0xc0)),
			 AGORA_EVALUE);
}
END_TEST

START_TEST(ext1_with_sixteen_data_bytes_is_a_reference)
{
	ag_val v;

	mkval(&v, LIT(0x91, 0xd8, 0x01, REF42));
	ck_assert(ag_val_flags(&v) & AG_VAL_REF);
	ag_val_deinit(&v);
	mkval(&v, LIT(0xc7, 0x10, 0x01, REF42));
	ck_assert(ag_val_flags(&v) & AG_VAL_REF);
	ag_val_deinit(&v);
	/* other ext types are plain values of any length */
	ck_assert_int_eq(val_rc(LIT(0xc7, 0x07, 0x05, 1, 2, 3, 4, 5, 6, 7)), 0);
	assert_same(LIT(0xd8, 0x01, REF42), LIT(0xc7, 0x10, 0x01, REF42));
	assert_differ(
	    LIT(0xd8, 0x01, REF42),
	    LIT(0xd8, 0x01, 0, 0, 0, 0, 0, 0, 0, 42, 1, 2, 3, 4, 5, 6, 7, 9));
}
END_TEST

/* ---- ordering ------------------------------------------------------------ */

/* ag_obj_compare of two literals; returns the code, the sign in *cmp. */
static int cmp_rc(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		  int *cmp)
{
	lit la, lb;

	mklit(&la, a, alen);
	mklit(&lb, b, blen);
	int rc = ag_obj_compare(la.o, lb.o, cmp);
	unlit(&la);
	unlit(&lb);
	return rc;
}

/* Assert a < b, and b > a. */
static void assert_less(const uint8_t *a, size_t alen, const uint8_t *b,
			size_t blen)
{
	int c = 0;

	ck_assert_int_eq(cmp_rc(a, alen, b, blen, &c), 0);
	ck_assert_int_lt(c, 0);
	c = 0;
	ck_assert_int_eq(cmp_rc(b, blen, a, alen, &c), 0);
	ck_assert_int_gt(c, 0);
}

static void assert_order_equal(const uint8_t *a, size_t alen, const uint8_t *b,
			       size_t blen)
{
	int c = 99;

	ck_assert_int_eq(cmp_rc(a, alen, b, blen, &c), 0);
	ck_assert_int_eq(c, 0);
}

static void assert_unordered(const uint8_t *a, size_t alen, const uint8_t *b,
			     size_t blen)
{
	int c;

	ck_assert_int_eq(cmp_rc(a, alen, b, blen, &c), AGORA_ETYPE);
	ck_assert_int_eq(cmp_rc(b, blen, a, alen, &c), AGORA_ETYPE);
}

#define F64_1_5 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0
#define F64_2 0xcb, 0x40, 0x00, 0, 0, 0, 0, 0, 0
#define F64_2P63 0xcb, 0x43, 0xe0, 0, 0, 0, 0, 0, 0
#define F64_2P64 0xcb, 0x43, 0xf0, 0, 0, 0, 0, 0, 0
#define U64_2P63 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0
#define U64_2P63_1 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 1
#define U64_MAX 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
#define I64_MIN 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0

START_TEST(ints_and_floats_order_by_value)
{
	assert_less(LIT(0x01), LIT(F64_1_5));
	assert_less(LIT(F64_1_5), LIT(0x02));
	assert_order_equal(LIT(0x02), LIT(F64_2));
	assert_order_equal(LIT(0xca, 0x3f, 0xc0, 0, 0), LIT(F64_1_5));
	assert_less(LIT(0xff), LIT(0x00));
	assert_less(LIT(0xd0, 0x80), LIT(0xff));
	assert_order_equal(LIT(0xcf, 0, 0, 0, 0, 0, 0, 0, 0x05), LIT(0x05));
}
END_TEST

START_TEST(huge_unsigned_integers_order_exactly)
{
	assert_less(LIT(U64_2P63), LIT(U64_MAX));
	assert_less(LIT(0x7f), LIT(U64_MAX));
	/* 2^63 as a float equals the integer 2^63 but is below 2^63 + 1,
	   which a comparison through double would miss */
	assert_order_equal(LIT(F64_2P63), LIT(U64_2P63));
	assert_less(LIT(F64_2P63), LIT(U64_2P63_1));
	assert_less(LIT(U64_MAX), LIT(F64_2P64));
}
END_TEST

START_TEST(negative_integers_order_below_unsigned_ones)
{
	assert_less(LIT(0xff), LIT(0x00));
	assert_less(LIT(0xff), LIT(U64_MAX));
	assert_less(LIT(I64_MIN), LIT(U64_MAX));
	assert_less(LIT(I64_MIN), LIT(U64_2P63));
	assert_less(LIT(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		    LIT(0xcc, 0x00));
}
END_TEST

START_TEST(strings_order_bytewise)
{
	assert_less(LIT(0xa2, 'a', 'b'), LIT(0xa1, 'b'));
	assert_less(LIT(0xa1, 'a'), LIT(0xa2, 'a', 'b'));
	assert_less(LIT(0xa0), LIT(0xa1, 0x00));
	/* bytes compare unsigned: 0xff sorts after 'a' */
	assert_less(LIT(0xa1, 'a'), LIT(0xa1, 0xff));
	assert_less(LIT(0xa1, 'B'), LIT(0xa1, 'a'));
	assert_order_equal(LIT(0xa2, 'h', 'i'), LIT(0xd9, 0x02, 'h', 'i'));
	assert_less(LIT(0xc4, 0x01, 0x01), LIT(0xc4, 0x01, 0x80));
	assert_less(LIT(0xc4, 0x01, 0x01), LIT(0xc4, 0x02, 0x01, 0x00));
}
END_TEST

START_TEST(arrays_order_lexicographically)
{
	assert_less(LIT(0x92, 0x01, 0x02), LIT(0x92, 0x01, 0x03));
	assert_less(LIT(0x92, 0x01, 0x09), LIT(0x92, 0x02, 0x00));
	assert_less(LIT(0x92, 0x01, 0x02), LIT(0x92, 0x01, F64_2P63));
	assert_order_equal(LIT(0x92, 0x01, 0x02),
			   LIT(0x92, 0xcd, 0x00, 0x01, F64_2));
	assert_less(LIT(0x91, 0x92, 0xa1, 'a', 0x01),
		    LIT(0x91, 0x92, 0xa1, 'b', 0x00));
}
END_TEST

START_TEST(shorter_array_that_is_a_prefix_orders_first)
{
	assert_less(LIT(0x92, 0x01, 0x02), LIT(0x93, 0x01, 0x02, 0x00));
	assert_less(LIT(0x90), LIT(0x91, 0xff));
	assert_order_equal(LIT(0x90), LIT(0xdc, 0x00, 0x00));
}
END_TEST

START_TEST(bools_order_only_with_bools)
{
	assert_less(LIT(0xc2), LIT(0xc3));
	assert_order_equal(LIT(0xc3), LIT(0xc3));
	assert_unordered(LIT(0xc3), LIT(0x01));
	assert_unordered(LIT(0xc2), LIT(0x00));
	assert_unordered(LIT(0xc2), LIT(F64_1_5));
}
END_TEST

START_TEST(nil_maps_and_mixed_kinds_do_not_order)
{
	assert_unordered(LIT(0xc0), LIT(0xc0));
	assert_unordered(LIT(0xc0), LIT(0x01));
	assert_unordered(LIT(0x80), LIT(0x80));
	assert_unordered(LIT(0x81, 0x01, 0x02), LIT(0x81, 0x01, 0x03));
	assert_unordered(LIT(0xa1, 'a'), LIT(0x01));
	assert_unordered(LIT(0xa1, '1'), LIT(F64_1_5));
	assert_unordered(LIT(0xa1, 'a'), LIT(0xc4, 0x01, 'a'));
	assert_unordered(LIT(0x91, 0x01), LIT(0x01));
	/* the first unequal pair decides, and it does not order */
	assert_unordered(LIT(0x92, 0x01, 0xa1, 'a'), LIT(0x92, 0x01, 0x02));
}
END_TEST

/* ---- arithmetic ---------------------------------------------------------- */

static msgpack_object uint_obj(uint64_t v)
{
	msgpack_object o;

	memset(&o, 0, sizeof(o));
	o.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
	o.via.u64 = v;
	return o;
}

static msgpack_object neg_obj(int64_t v)
{
	msgpack_object o;

	memset(&o, 0, sizeof(o));
	o.type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
	o.via.i64 = v;
	return o;
}

static msgpack_object f64_obj(double v)
{
	msgpack_object o;

	memset(&o, 0, sizeof(o));
	o.type = MSGPACK_OBJECT_FLOAT64;
	o.via.f64 = v;
	return o;
}

static void assert_sum_uint(msgpack_object a, msgpack_object b, uint64_t want)
{
	msgpack_object r;
	int which = -1;

	ck_assert_int_eq(ag_num_add(&a, &b, &r, &which), 0);
	ck_assert_int_eq(r.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(r.via.u64, want);
}

static void assert_sum_neg(msgpack_object a, msgpack_object b, int64_t want)
{
	msgpack_object r;
	int which = -1;

	ck_assert_int_eq(ag_num_add(&a, &b, &r, &which), 0);
	ck_assert_int_eq(r.type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
	ck_assert_int_eq(r.via.i64, want);
}

static void assert_sum_float(msgpack_object a, msgpack_object b, double want)
{
	msgpack_object r;
	int which = -1;

	ck_assert_int_eq(ag_num_add(&a, &b, &r, &which), 0);
	ck_assert_msg(r.type == MSGPACK_OBJECT_FLOAT64 ||
			  r.type == MSGPACK_OBJECT_FLOAT32,
		      "sum is not a float (type %d)", (int)r.type);
	ck_assert(r.via.f64 == want);
}

/* Assert a + b fails with @rc, and leaves *ret as it was. */
static void assert_sum_fails(msgpack_object a, msgpack_object b, int rc)
{
	msgpack_object r = uint_obj(12345);
	int which = -1;

	ck_assert_int_eq(ag_num_add(&a, &b, &r, &which), rc);
	ck_assert_int_eq(r.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(r.via.u64, 12345);
}

START_TEST(one_plus_two_is_three)
{
	assert_sum_uint(uint_obj(1), uint_obj(2), 3);
}
END_TEST

START_TEST(int64_max_plus_one_is_two_to_the_63_unsigned)
{
	assert_sum_uint(uint_obj(INT64_MAX), uint_obj(1), (uint64_t)1 << 63);
	assert_sum_uint(uint_obj((uint64_t)1 << 63),
			uint_obj(((uint64_t)1 << 63) - 1), UINT64_MAX);
}
END_TEST

START_TEST(uint64_max_plus_one_is_out_of_range)
{
	assert_sum_fails(uint_obj(UINT64_MAX), uint_obj(1), AGORA_EVALUE);
	assert_sum_fails(uint_obj(UINT64_MAX), uint_obj(UINT64_MAX),
			 AGORA_EVALUE);
}
END_TEST

START_TEST(int64_min_minus_one_is_out_of_range)
{
	assert_sum_fails(neg_obj(INT64_MIN), neg_obj(-1), AGORA_EVALUE);
	assert_sum_fails(neg_obj(INT64_MIN), neg_obj(INT64_MIN), AGORA_EVALUE);
}
END_TEST

START_TEST(sums_of_mixed_signs_are_exact)
{
	assert_sum_neg(neg_obj(-5), uint_obj(3), -2);
	assert_sum_uint(neg_obj(-1), uint_obj(1), 0);
	assert_sum_uint(uint_obj(UINT64_MAX), neg_obj(-1), UINT64_MAX - 1);
	assert_sum_uint(uint_obj((uint64_t)1 << 63), neg_obj(INT64_MIN), 0);
	assert_sum_uint(uint_obj(UINT64_MAX), neg_obj(INT64_MIN),
			(uint64_t)INT64_MAX);
	assert_sum_neg(uint_obj(0), neg_obj(INT64_MIN), INT64_MIN);
	assert_sum_neg(neg_obj(-3), neg_obj(-4), -7);
}
END_TEST

START_TEST(int_plus_float_is_a_float)
{
	assert_sum_float(uint_obj(1), f64_obj(0.5), 1.5);
	assert_sum_float(f64_obj(0.5), uint_obj(1), 1.5);
	assert_sum_float(neg_obj(-2), f64_obj(0.25), -1.75);
	assert_sum_float(f64_obj(0.5), f64_obj(0.25), 0.75);
}
END_TEST

START_TEST(float32_operand_adds_as_its_value)
{
	lit l;

	mklit(&l, LIT(0xca, 0x3f, 0xc0, 0x00, 0x00)); /* 1.5f */
	assert_sum_float(*l.o, uint_obj(1), 2.5);
	unlit(&l);
}
END_TEST

START_TEST(str_plus_int_is_a_type_error_naming_the_first)
{
	lit s;
	msgpack_object r, one = uint_obj(1);
	int which = -1;

	mklit(&s, LIT(0xa1, '1'));
	ck_assert_int_eq(ag_num_add(s.o, &one, &r, &which), AGORA_ETYPE);
	ck_assert_int_eq(which, 0);
	which = -1;
	ck_assert_int_eq(ag_num_add(&one, s.o, &r, &which), AGORA_ETYPE);
	ck_assert_int_eq(which, 1);
	unlit(&s);
}
END_TEST

START_TEST(bool_and_nil_are_not_numbers)
{
	lit t, n;
	msgpack_object r, one = uint_obj(1);
	int which = -1;

	mklit(&t, LIT(0xc3));
	mklit(&n, LIT(0xc0));
	ck_assert_int_eq(ag_num_add(t.o, &one, &r, &which), AGORA_ETYPE);
	ck_assert_int_eq(which, 0);
	which = -1;
	ck_assert_int_eq(ag_num_add(&one, t.o, &r, &which), AGORA_ETYPE);
	ck_assert_int_eq(which, 1);
	which = -1;
	ck_assert_int_eq(ag_num_add(&one, n.o, &r, &which), AGORA_ETYPE);
	ck_assert_int_eq(which, 1);
	unlit(&t);
	unlit(&n);
}
END_TEST

/* ---- errors -------------------------------------------------------------- */

START_TEST(key_error_is_named_KEY)
{
	ck_assert_str_eq(ag_error_name(AGORA_EKEY), "KEY");
	ck_assert_str_eq(ag_error_name(-8), "KEY");
	ck_assert_str_eq(ag_error_name(AGORA_ENO_METHOD), "NO_METHOD");
	ck_assert_str_eq(ag_error_text(AGORA_EKEY), "key not found");
}
END_TEST

START_TEST(unknown_codes_are_named_UNKNOWN)
{
	ck_assert_str_eq(ag_error_name(-9999), "UNKNOWN");
	ck_assert_str_eq(ag_error_name(-21), "UNKNOWN");
	ck_assert_ptr_nonnull(ag_error_text(-9999));
}
END_TEST

START_TEST(wire_codes_go_both_ways)
{
	ck_assert_int_eq(ag_error_wire_code(AGORA_EKEY), 8);
	ck_assert_int_eq(ag_error_wire_code(AGORA_EPROTOCOL), 1);
	ck_assert_int_eq(ag_error_wire_code(AGORA_ESHUTDOWN), 16);
	ck_assert_int_eq(ag_error_from_wire(8), AGORA_EKEY);
	ck_assert_int_eq(ag_error_from_wire(1), AGORA_EPROTOCOL);
	ck_assert_int_eq(ag_error_from_wire(16), AGORA_ESHUTDOWN);
	ck_assert_int_eq(ag_error_wire_code(AGORA_EEXISTS), 17);
	ck_assert_int_eq(ag_error_from_wire(17), AGORA_EEXISTS);
	ck_assert_int_eq(ag_error_wire_code(AGORA_EDENIED), 18);
	ck_assert_int_eq(ag_error_from_wire(18), AGORA_EDENIED);
	ck_assert_int_eq(ag_error_wire_code(AGORA_ESTORAGE), 19);
	ck_assert_int_eq(ag_error_from_wire(19), AGORA_ESTORAGE);
	ck_assert_int_eq(ag_error_wire_code(AGORA_ECANCELLED), 20);
	ck_assert_int_eq(ag_error_from_wire(20), AGORA_ECANCELLED);
	ck_assert_int_eq(ag_error_from_wire(21), AGORA_EPROTOCOL);
}
END_TEST

START_TEST(local_codes_never_travel)
{
	ck_assert_int_eq(ag_error_wire_code(AGORA_EIO), 0);
	ck_assert_int_eq(ag_error_wire_code(AGORA_ENOMEM), 0);
	ck_assert_int_eq(ag_error_wire_code(AGORA_EINVAL), 0);
	ck_assert_int_eq(ag_error_wire_code(AGORA_ETIMEDOUT), 0);
	ck_assert_int_eq(ag_error_from_wire(100), AGORA_EPROTOCOL);
	ck_assert_int_eq(ag_error_from_wire(101), AGORA_EPROTOCOL);
}
END_TEST

START_TEST(unknown_wire_codes_are_protocol_errors)
{
	ck_assert_int_eq(ag_error_from_wire(21), AGORA_EPROTOCOL);
	ck_assert_int_eq(ag_error_from_wire(99), AGORA_EPROTOCOL);
	ck_assert_int_eq(ag_error_from_wire(-8), AGORA_EPROTOCOL);
	ck_assert_int_eq(ag_error_from_wire(INT64_MAX), AGORA_EPROTOCOL);
	ck_assert_int_eq(ag_error_from_wire(INT64_MIN), AGORA_EPROTOCOL);
	ck_assert_int_eq(ag_error_from_wire((int64_t)1 << 32 | 8),
			 AGORA_EPROTOCOL);
}
END_TEST

START_TEST(every_listed_error_has_its_name_text_and_wire_code)
{
#define CHECK_ONE_(name, code, text)                                       \
	ck_assert_str_eq(ag_error_name(AGORA_E##name), #name);             \
	ck_assert_str_eq(ag_error_text(AGORA_E##name), text);              \
	if ((code) <= AGORA_WIRE_ERROR_MAX) {                              \
		ck_assert_int_eq(ag_error_wire_code(AGORA_E##name), code); \
		ck_assert_int_eq(ag_error_from_wire(code), AGORA_E##name); \
	} else {                                                           \
		ck_assert_int_eq(ag_error_wire_code(AGORA_E##name), 0);    \
	}
	AGORA_ERRORS(CHECK_ONE_)
#undef CHECK_ONE_
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static Suite *value_suite(void)
{
	Suite *s = suite_create("value");
	TCase *tc;

	tc = tcase_create("equality across encodings");
	tcase_add_test(tc, one_is_the_same_value_in_every_integer_width);
	tcase_add_test(tc, minus_one_is_the_same_value_in_every_signed_width);
	tcase_add_test(tc, large_integers_are_the_same_value_in_wider_forms);
	tcase_add_test(tc, different_integers_differ);
	tcase_add_test(tc, integer_one_and_float_one_differ);
	tcase_add_test(tc,
		       float32_one_and_a_half_equals_float64_one_and_a_half);
	tcase_add_test(tc, str_and_bin_with_the_same_bytes_differ);
	tcase_add_test(tc, str_is_the_same_value_in_every_str_width);
	tcase_add_test(tc, bool_is_not_an_integer);
	tcase_add_test(tc, nested_arrays_are_equal_across_integer_widths);
	tcase_add_test(tc,
		       maps_with_the_same_entries_in_another_order_are_equal);
	tcase_add_test(tc, maps_nested_in_arrays_compare_by_entries);
	tcase_add_test(tc, maps_with_different_entries_differ);
	suite_add_tcase(s, tc);

	tc = tcase_create("canonical storage");
	tcase_add_test(tc, integers_are_stored_in_their_shortest_form);
	tcase_add_test(tc, float32_is_stored_as_float64);
	tcase_add_test(tc, stored_value_unpacks_to_an_equal_object);
	suite_add_tcase(s, tc);

	tc = tcase_create("representation");
	tcase_add_test(tc, an_ag_val_is_sixteen_bytes);
	tcase_add_test(tc, values_round_trip_on_both_sides_of_the_inline_limit);
	tcase_add_test(tc, every_integer_and_float_is_stored_inline);
	tcase_add_test(tc, flags_survive_inline_and_heap_storage);
	tcase_add_test(tc, an_empty_value_is_all_zero_and_deinit_empties);
	tcase_add_test(tc, lengths_beyond_the_limit_are_LIMIT);
	suite_add_tcase(s, tc);

	tc = tcase_create("references");
	tcase_add_test(tc, ext1_with_seven_data_bytes_is_a_bad_value);
	tcase_add_test(tc, ext1_with_other_lengths_is_a_bad_value_even_nested);
	tcase_add_test(tc, ext1_with_sixteen_data_bytes_is_a_reference);
	suite_add_tcase(s, tc);

	tc = tcase_create("ordering");
	tcase_add_test(tc, ints_and_floats_order_by_value);
	tcase_add_test(tc, huge_unsigned_integers_order_exactly);
	tcase_add_test(tc, negative_integers_order_below_unsigned_ones);
	tcase_add_test(tc, strings_order_bytewise);
	tcase_add_test(tc, arrays_order_lexicographically);
	tcase_add_test(tc, shorter_array_that_is_a_prefix_orders_first);
	tcase_add_test(tc, bools_order_only_with_bools);
	tcase_add_test(tc, nil_maps_and_mixed_kinds_do_not_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("arithmetic");
	tcase_add_test(tc, one_plus_two_is_three);
	tcase_add_test(tc, int64_max_plus_one_is_two_to_the_63_unsigned);
	tcase_add_test(tc, uint64_max_plus_one_is_out_of_range);
	tcase_add_test(tc, int64_min_minus_one_is_out_of_range);
	tcase_add_test(tc, sums_of_mixed_signs_are_exact);
	tcase_add_test(tc, int_plus_float_is_a_float);
	tcase_add_test(tc, float32_operand_adds_as_its_value);
	tcase_add_test(tc, str_plus_int_is_a_type_error_naming_the_first);
	tcase_add_test(tc, bool_and_nil_are_not_numbers);
	suite_add_tcase(s, tc);

	tc = tcase_create("error list");
	tcase_add_test(tc, key_error_is_named_KEY);
	tcase_add_test(tc, unknown_codes_are_named_UNKNOWN);
	tcase_add_test(tc, wire_codes_go_both_ways);
	tcase_add_test(tc, local_codes_never_travel);
	tcase_add_test(tc, unknown_wire_codes_are_protocol_errors);
	tcase_add_test(tc, every_listed_error_has_its_name_text_and_wire_code);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(value_suite());
}
