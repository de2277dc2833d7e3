/*
 * test_mp.c - the MessagePack header walker of proto/mp.c: ag_mp_skip(),
 * the unchecked skip over stored (already checked) bytes, held to
 * ag_mp_object_len(), the checked walk, on every format MessagePack has.
 *
 * Each case is written with msgpack-c's packer, so the bytes come from an
 * independent encoder; the skip must give the length and the flags that
 * the checked walk gives, and stop at the object's end when more follow.
 */
#include <stdint.h>
#include <string.h>

#include "ag_proto.h"
#include "unit.h"

typedef void pack_fn(msgpack_packer *pk);

static void pk_nil(msgpack_packer *pk)
{
	msgpack_pack_nil(pk);
}
static void pk_true(msgpack_packer *pk)
{
	msgpack_pack_true(pk);
}
static void pk_fixint(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, 5);
}
static void pk_negfixint(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, -7);
}
static void pk_u8(msgpack_packer *pk)
{
	msgpack_pack_uint64(pk, 200);
}
static void pk_u16(msgpack_packer *pk)
{
	msgpack_pack_uint64(pk, 60000);
}
static void pk_u32(msgpack_packer *pk)
{
	msgpack_pack_uint64(pk, 1u << 31);
}
static void pk_u64(msgpack_packer *pk)
{
	msgpack_pack_uint64(pk, UINT64_MAX);
}
static void pk_i8(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, -100);
}
static void pk_i16(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, -30000);
}
static void pk_i32(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, -(1 << 30));
}
static void pk_i64(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, INT64_MIN);
}
static void pk_f32(msgpack_packer *pk)
{
	msgpack_pack_float(pk, 1.5f);
}
static void pk_f64(msgpack_packer *pk)
{
	msgpack_pack_double(pk, 2.25);
}

static void pk_str(msgpack_packer *pk, size_t n)
{
	char buf[70000];

	memset(buf, 'x', n);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, buf, n);
}

static void pk_fixstr(msgpack_packer *pk)
{
	pk_str(pk, 31);
}
static void pk_str8(msgpack_packer *pk)
{
	pk_str(pk, 200);
}
static void pk_str16(msgpack_packer *pk)
{
	pk_str(pk, 1000);
}
static void pk_str32(msgpack_packer *pk)
{
	pk_str(pk, 66000);
}

static void pk_bin(msgpack_packer *pk, size_t n)
{
	static const char zeros[70000];

	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, zeros, n);
}

static void pk_bin8(msgpack_packer *pk)
{
	pk_bin(pk, 3);
}
static void pk_bin16(msgpack_packer *pk)
{
	pk_bin(pk, 300);
}
static void pk_bin32(msgpack_packer *pk)
{
	pk_bin(pk, 65536);
}

static void pk_ext(msgpack_packer *pk, size_t n, int8_t type)
{
	static const char zeros[70000];

	msgpack_pack_ext(pk, n, type);
	msgpack_pack_ext_body(pk, zeros, n);
}

static void pk_fixext1(msgpack_packer *pk)
{
	pk_ext(pk, 1, 5);
}
static void pk_fixext16(msgpack_packer *pk)
{
	pk_ext(pk, 16, 5);
}
static void pk_ext8(msgpack_packer *pk)
{
	pk_ext(pk, 3, 5);
}
static void pk_ext16(msgpack_packer *pk)
{
	pk_ext(pk, 400, 5);
}
static void pk_ext32(msgpack_packer *pk)
{
	pk_ext(pk, 65540, 5);
}
static void pk_ref_fixext(msgpack_packer *pk)
{
	pk_ext(pk, 8, 1);
}
static void pk_ref_ext8(msgpack_packer *pk)
{
	pk_ext(pk, 12, 1);
}
static void pk_ref_ext16(msgpack_packer *pk)
{
	pk_ext(pk, 300, 1);
}
static void pk_ref_ext32(msgpack_packer *pk)
{
	pk_ext(pk, 65600, 1);
}

static void pk_fixarray(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 3);
	pk_u16(pk);
	pk_fixstr(pk);
	pk_nil(pk);
}

static void pk_array16(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 20);
	for (int i = 0; i < 20; i++)
		pk_i32(pk);
}

static void pk_array32(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 70000);
	for (int i = 0; i < 70000; i++)
		pk_fixint(pk);
}

static void pk_fixmap(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	pk_fixstr(pk);
	pk_fixarray(pk);
	pk_u8(pk);
	pk_f64(pk);
}

static void pk_map16(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 16);
	for (int i = 0; i < 16; i++) {
		msgpack_pack_int64(pk, i);
		pk_true(pk);
	}
}

static void pk_map32(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 65536);
	for (int i = 0; i < 65536; i++) {
		msgpack_pack_int64(pk, i);
		pk_nil(pk);
	}
}

/* A reference deep inside arrays, no map. */
static void pk_nested_ref(msgpack_packer *pk)
{
	for (int i = 0; i < 32; i++)
		msgpack_pack_array(pk, 2);
	pk_ref_fixext(pk);
	for (int i = 0; i < 32; i++)
		pk_str16(pk);
}

/* A map inside an array inside a map, with a reference as a key's value. */
static void pk_map_ref(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	pk_fixstr(pk);
	msgpack_pack_array(pk, 2);
	pk_map16(pk);
	pk_ref_ext8(pk);
}

static const struct {
	const char *name;
	pack_fn *pack;
} cases[] = {
	{ "nil", pk_nil },
	{ "true", pk_true },
	{ "fixint", pk_fixint },
	{ "negative fixint", pk_negfixint },
	{ "uint 8", pk_u8 },
	{ "uint 16", pk_u16 },
	{ "uint 32", pk_u32 },
	{ "uint 64", pk_u64 },
	{ "int 8", pk_i8 },
	{ "int 16", pk_i16 },
	{ "int 32", pk_i32 },
	{ "int 64", pk_i64 },
	{ "float 32", pk_f32 },
	{ "float 64", pk_f64 },
	{ "fixstr", pk_fixstr },
	{ "str 8", pk_str8 },
	{ "str 16", pk_str16 },
	{ "str 32", pk_str32 },
	{ "bin 8", pk_bin8 },
	{ "bin 16", pk_bin16 },
	{ "bin 32", pk_bin32 },
	{ "fixext 1", pk_fixext1 },
	{ "fixext 16", pk_fixext16 },
	{ "ext 8", pk_ext8 },
	{ "ext 16", pk_ext16 },
	{ "ext 32", pk_ext32 },
	{ "reference as fixext 8", pk_ref_fixext },
	{ "reference as ext 8", pk_ref_ext8 },
	{ "reference as ext 16", pk_ref_ext16 },
	{ "reference as ext 32", pk_ref_ext32 },
	{ "fixarray", pk_fixarray },
	{ "array 16", pk_array16 },
	{ "array 32", pk_array32 },
	{ "fixmap", pk_fixmap },
	{ "map 16", pk_map16 },
	{ "map 32", pk_map32 },
	{ "reference 32 arrays deep", pk_nested_ref },
	{ "reference beside a map inside a map", pk_map_ref },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Case @i packed, then a fixint 7 after it (the next item of a list). */
static msgpack_sbuffer *packed(size_t i, size_t *ret_len)
{
	msgpack_sbuffer *sb = msgpack_sbuffer_new();
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	cases[i].pack(&pk);
	*ret_len = sb->size;
	msgpack_pack_int64(&pk, 7);
	return sb;
}

START_TEST(skip_gives_the_checked_length_and_flags_of_every_format)
{
	size_t len;
	msgpack_sbuffer *sb = packed((size_t)_i, &len);
	const uint8_t *p = (const uint8_t *)sb->data;
	uint32_t checked = 0, trusted = 0;

	ck_assert_msg(ag_mp_object_len(p, sb->size, &checked) == len,
		      "%s: checked walk disagrees with msgpack-c",
		      cases[_i].name);
	ck_assert_msg(ag_mp_skip(p, &trusted) == len,
		      "%s: skip gave %zu, not %zu", cases[_i].name,
		      ag_mp_skip(p, NULL), len);
	ck_assert_msg(trusted == checked, "%s: flags %u, checked walk %u",
		      cases[_i].name, trusted, checked);
	ck_assert_msg(ag_mp_skip_fast(p) == len, "%s: fast skip gave %zu",
		      cases[_i].name, ag_mp_skip_fast(p));
	/* The next object starts where the skip stopped. */
	ck_assert_uint_eq(p[len], 7);
	msgpack_sbuffer_free(sb);
}
END_TEST

START_TEST(skip_adds_to_the_flags_it_is_given)
{
	static const uint8_t fixint = 3;
	uint32_t flags = AG_VAL_MAP;

	ck_assert_uint_eq(ag_mp_skip(&fixint, &flags), 1);
	ck_assert_uint_eq(flags, AG_VAL_MAP);
}
END_TEST

START_TEST(skip_over_items_back_to_back_finds_each_start)
{
	msgpack_sbuffer *sb = msgpack_sbuffer_new();
	msgpack_packer pk;
	size_t starts[NCASES + 1], off = 0;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	for (size_t i = 0; i < NCASES; i++) {
		starts[i] = sb->size;
		cases[i].pack(&pk);
	}
	starts[NCASES] = sb->size;
	for (size_t i = 0; i < NCASES; i++) {
		ck_assert_uint_eq(off, starts[i]);
		off += ag_mp_skip_fast((const uint8_t *)sb->data + off);
	}
	ck_assert_uint_eq(off, starts[NCASES]);
	msgpack_sbuffer_free(sb);
}
END_TEST

static Suite *mp_suite(void)
{
	Suite *s = suite_create("mp");
	TCase *tc = tcase_create("skip");

	tcase_add_loop_test(
	    tc, skip_gives_the_checked_length_and_flags_of_every_format, 0,
	    (int)NCASES);
	tcase_add_test(tc, skip_adds_to_the_flags_it_is_given);
	tcase_add_test(tc, skip_over_items_back_to_back_finds_each_start);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(mp_suite());
}
