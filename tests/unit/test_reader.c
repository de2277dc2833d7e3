/*
 * test_reader.c - the streaming MessagePack reader (proto/reader.c).
 *
 * The reader is fed bytes however they arrive (whole, byte by byte, several
 * frames back to back) and must hand out each complete frame as the same
 * msgpack_object that msgpack-c alone decodes from those bytes. It must also
 * enforce the limits of protocol section 1 while scanning, before anything is
 * decoded: frame size, nesting depth, and declared lengths that could not fit
 * in the frame. Those refusals are checked to come at once (no waiting for
 * bytes that will never be sent) and to be sticky.
 *
 * Inputs are literal bytes, built with the small `bytes` builder below or
 * with msgpack-c's own packer, never with the code under test.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag_proto.h"
#include "unit.h"

/* ---- a byte builder for exact encodings --------------------------------- */

typedef struct bytes {
	uint8_t *p;
	size_t len;
	size_t cap;
} bytes;

static void b_put(bytes *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		ck_assert_ptr_nonnull(b->p);
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void b_u8(bytes *b, uint8_t v)
{
	b_put(b, &v, 1);
}

static void b_be16(bytes *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	b_put(b, x, sizeof(x));
}

static void b_be32(bytes *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 8), (uint8_t)v };

	b_put(b, x, sizeof(x));
}

static void b_fill(bytes *b, uint8_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b_u8(b, v);
}

static void b_free(bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* [0, msgid, "ping", [msgid]] as msgpack-c packs it, appended to @sb. */
static void pack_ping(msgpack_sbuffer *sb, uint32_t msgid)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_uint32(&pk, msgid);
	msgpack_pack_str(&pk, 4);
	msgpack_pack_str_body(&pk, "ping", 4);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_uint32(&pk, msgid);
}

/* Assert @o is [0, msgid, "ping", [msgid]]. */
static void assert_ping(const msgpack_object *o, uint32_t msgid)
{
	ck_assert_int_eq(o->type, MSGPACK_OBJECT_ARRAY);
	ck_assert_uint_eq(o->via.array.size, 4);
	const msgpack_object *e = o->via.array.ptr;
	ck_assert_int_eq(e[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(e[0].via.u64, AG_MSG_REQUEST);
	ck_assert_int_eq(e[1].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(e[1].via.u64, msgid);
	ck_assert_int_eq(e[2].type, MSGPACK_OBJECT_STR);
	ck_assert_uint_eq(e[2].via.str.size, 4);
	ck_assert_mem_eq(e[2].via.str.ptr, "ping", 4);
	ck_assert_int_eq(e[3].type, MSGPACK_OBJECT_ARRAY);
	ck_assert_uint_eq(e[3].via.array.size, 1);
	ck_assert_int_eq(e[3].via.array.ptr[0].type,
			 MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(e[3].via.array.ptr[0].via.u64, msgid);
}

/* Copy @len bytes in through ag_reader_space() + ag_reader_commit(). */
static void put_space(ag_reader *r, const void *data, size_t len)
{
	size_t avail = 0;
	char *p = ag_reader_space(r, len, &avail);

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_ge(avail, len);
	memcpy(p, data, len);
	ag_reader_commit(r, len);
}

static void put_feed(ag_reader *r, const void *data, size_t len)
{
	ck_assert_int_eq(ag_reader_feed(r, data, len), 0);
}

/* ---- the fixture: one reader per test, default limit -------------------- */

static ag_reader rd;

static void setup(void)
{
	ck_assert_int_eq(ag_reader_init(&rd, AG_DEFAULT_MAX_MESSAGE), 0);
}

static void teardown(void)
{
	ag_reader_deinit(&rd);
}

/*
 * Feed @len bytes to a fresh reader in pieces of @chunk through
 * space/commit; every proper prefix must give 0 (need more), the last piece
 * 1 with an object equal to @want, and nothing may stay pending.
 */
static void check_in_pieces(const uint8_t *data, size_t len, size_t chunk,
			    const msgpack_object *want)
{
	ag_reader r;
	msgpack_object o;
	size_t off = 0;

	ck_assert_int_eq(ag_reader_init(&r, AG_DEFAULT_MAX_MESSAGE), 0);
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		put_space(&r, data + off, n);
		off += n;
		int rc = ag_reader_next(&r, &o);
		if (off < len) {
			ck_assert_msg(rc == 0,
				      "prefix of %zu/%zu bytes gave %d, not 0",
				      off, len, rc);
			ck_assert_uint_eq(ag_reader_pending(&r), off);
		} else {
			ck_assert_int_eq(rc, 1);
		}
	}
	ck_assert(msgpack_object_equal(o, *want));
	ck_assert_uint_eq(ag_reader_pending(&r), 0);
	ck_assert_int_eq(ag_reader_next(&r, &o), 0);
	ag_reader_deinit(&r);
}

/*
 * Read one frame of @len bytes through the fixture reader, fed whole with
 * ag_reader_feed(). Checks the object equals what msgpack-c alone decodes
 * from the same bytes, and that feeding the bytes in small pieces gives the
 * same. The returned object lives until the next call on the fixture.
 */
static const msgpack_object *read_one(const void *data, size_t len)
{
	static msgpack_object o;
	msgpack_unpacked ref;

	put_feed(&rd, data, len);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
	ck_assert_uint_eq(ag_reader_pending(&rd), 0);

	unit_unpack(&ref, data, len);
	ck_assert_msg(msgpack_object_equal(o, ref.data),
		      "reader and msgpack-c decode differently");
	check_in_pieces(data, len, len <= 4096 ? 1 : 997, &ref.data);
	msgpack_unpacked_destroy(&ref);
	return &o;
}

#define READ_LIT(...)                              \
	read_one((const uint8_t[]){ __VA_ARGS__ }, \
		 sizeof((const uint8_t[]){ __VA_ARGS__ }))

/* ---- well-formed requests ----------------------------------------------- */

START_TEST(request_fed_whole_is_returned_intact)
{
	const uint8_t req[] = { 0x94, 0x00, 0x07, 0xa4, 'p',
				'i',  'n',  'g',  0x91, 0x07 };
	msgpack_object o;

	put_feed(&rd, req, sizeof(req));
	ck_assert_uint_eq(ag_reader_pending(&rd), sizeof(req));
	ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
	assert_ping(&o, 7);
	ck_assert_uint_eq(ag_reader_pending(&rd), 0);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 0);
}
END_TEST

START_TEST(request_fed_byte_by_byte_waits_then_is_returned)
{
	msgpack_sbuffer sb;
	msgpack_object o;

	msgpack_sbuffer_init(&sb);
	pack_ping(&sb, 4000000000u);
	for (size_t i = 0; i < sb.size; i++) {
		put_feed(&rd, sb.data + i, 1);
		int rc = ag_reader_next(&rd, &o);
		if (i + 1 < sb.size) {
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_eq(ag_reader_pending(&rd), i + 1);
		} else {
			ck_assert_int_eq(rc, 1);
		}
	}
	assert_ping(&o, 4000000000u);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(request_written_through_space_and_commit_is_returned)
{
	msgpack_sbuffer sb;
	msgpack_object o;

	msgpack_sbuffer_init(&sb);
	pack_ping(&sb, 42);
	put_space(&rd, sb.data, 3);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 0);
	put_space(&rd, sb.data + 3, sb.size - 3);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
	assert_ping(&o, 42);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(space_gives_at_least_what_was_asked)
{
	size_t avail = 0;
	char *p = ag_reader_space(&rd, 100000, &avail);

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_ge(avail, 100000);
	memset(p, 0xc0, 100000); /* the whole space is writable */
	ag_reader_commit(&rd, 3);
	ck_assert_uint_eq(ag_reader_pending(&rd), 3);
}
END_TEST

START_TEST(three_requests_back_to_back_come_out_in_order)
{
	msgpack_sbuffer sb;
	msgpack_object o;

	msgpack_sbuffer_init(&sb);
	pack_ping(&sb, 1);
	pack_ping(&sb, 2);
	pack_ping(&sb, 3);
	put_feed(&rd, sb.data, sb.size);
	for (uint32_t id = 1; id <= 3; id++) {
		ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
		assert_ping(&o, id);
	}
	ck_assert_int_eq(ag_reader_next(&rd, &o), 0);
	ck_assert_uint_eq(ag_reader_pending(&rd), 0);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(half_a_request_after_two_whole_ones_stays_pending)
{
	msgpack_sbuffer one, sb;
	msgpack_object o;

	msgpack_sbuffer_init(&one);
	pack_ping(&one, 9);
	msgpack_sbuffer_init(&sb);
	pack_ping(&sb, 7);
	pack_ping(&sb, 8);
	size_t half = one.size / 2;
	msgpack_sbuffer_write(&sb, one.data, half);

	put_feed(&rd, sb.data, sb.size);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
	assert_ping(&o, 7);
	ck_assert_uint_eq(ag_reader_pending(&rd), one.size + half);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
	assert_ping(&o, 8);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 0);
	ck_assert_uint_eq(ag_reader_pending(&rd), half);
	put_space(&rd, one.data + half, one.size - half);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
	assert_ping(&o, 9);
	ck_assert_uint_eq(ag_reader_pending(&rd), 0);
	msgpack_sbuffer_destroy(&one);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(thousand_requests_in_odd_sized_pieces_all_come_out)
{
	msgpack_sbuffer sb;
	msgpack_object o;
	uint32_t next_id = 0;

	msgpack_sbuffer_init(&sb);
	for (uint32_t id = 0; id < 1000; id++)
		pack_ping(&sb, id * 1000003u);
	for (size_t off = 0; off < sb.size; off += 13) {
		size_t n = sb.size - off < 13 ? sb.size - off : 13;

		if ((off / 13) % 2)
			put_feed(&rd, sb.data + off, n);
		else
			put_space(&rd, sb.data + off, n);
		int rc;
		while ((rc = ag_reader_next(&rd, &o)) == 1) {
			assert_ping(&o, next_id * 1000003u);
			next_id++;
		}
		ck_assert_int_eq(rc, 0);
	}
	ck_assert_uint_eq(next_id, 1000);
	ck_assert_uint_eq(ag_reader_pending(&rd), 0);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(one_mebibyte_str_in_pages_is_returned_intact)
{
	bytes b = { 0 };
	msgpack_object o;
	const size_t n = (size_t)1 << 20;

	b_u8(&b, 0xdb);
	b_be32(&b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		b_u8(&b, (uint8_t)(i * 7 + 1));
	for (size_t off = 0; off < b.len; off += 4096) {
		size_t k = b.len - off < 4096 ? b.len - off : 4096;

		put_space(&rd, b.p + off, k);
		int rc = ag_reader_next(&rd, &o);
		ck_assert_int_eq(rc, off + k < b.len ? 0 : 1);
	}
	ck_assert_int_eq(o.type, MSGPACK_OBJECT_STR);
	ck_assert_uint_eq(o.via.str.size, n);
	ck_assert_mem_eq(o.via.str.ptr, b.p + 5, n);
	b_free(&b);
}
END_TEST

/* ---- every MessagePack type round-trips --------------------------------- */

START_TEST(nil_and_bools_round_trip)
{
	ck_assert_int_eq(READ_LIT(0xc0)->type, MSGPACK_OBJECT_NIL);
	const msgpack_object *o = READ_LIT(0xc3);
	ck_assert_int_eq(o->type, MSGPACK_OBJECT_BOOLEAN);
	ck_assert(o->via.boolean);
	o = READ_LIT(0xc2);
	ck_assert_int_eq(o->type, MSGPACK_OBJECT_BOOLEAN);
	ck_assert(!o->via.boolean);
}
END_TEST

static void assert_uint(const msgpack_object *o, uint64_t v)
{
	ck_assert_int_eq(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(o->via.u64, v);
}

static void assert_neg(const msgpack_object *o, int64_t v)
{
	ck_assert_int_eq(o->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
	ck_assert_int_eq(o->via.i64, v);
}

START_TEST(fixints_round_trip)
{
	assert_uint(READ_LIT(0x00), 0);
	assert_uint(READ_LIT(0x7f), 127);
	assert_neg(READ_LIT(0xff), -1);
	assert_neg(READ_LIT(0xe0), -32);
}
END_TEST

START_TEST(uint8_to_uint64_round_trip)
{
	assert_uint(READ_LIT(0xcc, 0xff), 255);
	assert_uint(READ_LIT(0xcd, 0xff, 0xfe), 65534);
	assert_uint(READ_LIT(0xce, 0xff, 0xff, 0xff, 0xfd), 4294967293u);
	assert_uint(
	    READ_LIT(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
	    UINT64_MAX);
	assert_uint(READ_LIT(0xcf, 0, 0, 0, 0, 0, 0, 0, 1), 1);
}
END_TEST

START_TEST(int8_to_int64_round_trip)
{
	assert_neg(READ_LIT(0xd0, 0x80), -128);
	assert_neg(READ_LIT(0xd1, 0x80, 0x00), -32768);
	assert_neg(READ_LIT(0xd2, 0x80, 0, 0, 0), INT32_MIN);
	assert_neg(READ_LIT(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0), INT64_MIN);
	assert_neg(
	    READ_LIT(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), -1);
	/* A signed format holding a non-negative value is still that value. */
	assert_uint(READ_LIT(0xd0, 0x05), 5);
}
END_TEST

START_TEST(float32_and_float64_round_trip)
{
	const msgpack_object *o = READ_LIT(0xca, 0x3f, 0xc0, 0x00, 0x00);
	ck_assert_int_eq(o->type, MSGPACK_OBJECT_FLOAT32);
	ck_assert(o->via.f64 == 1.5);
	o = READ_LIT(0xcb, 0xc0, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18);
	ck_assert_int_eq(o->type, MSGPACK_OBJECT_FLOAT64);
	ck_assert(o->via.f64 == -3.141592653589793);
}
END_TEST

/* A str or bin of @n bytes with header @head (@hlen bytes). */
static void check_blob(const uint8_t *head, size_t hlen, size_t n,
		       msgpack_object_type type)
{
	bytes b = { 0 };

	b_put(&b, head, hlen);
	for (size_t i = 0; i < n; i++)
		b_u8(&b, (uint8_t)('a' + i % 26));
	const msgpack_object *o = read_one(b.p, b.len);
	ck_assert_int_eq(o->type, type);
	/* str and bin share the same layout in msgpack_object */
	ck_assert_uint_eq(o->via.str.size, n);
	if (n)
		ck_assert_mem_eq(o->via.str.ptr, b.p + hlen, n);
	b_free(&b);
}

START_TEST(fixstr_str8_str16_str32_round_trip)
{
	check_blob((const uint8_t[]){ 0xa0 }, 1, 0, MSGPACK_OBJECT_STR);
	check_blob((const uint8_t[]){ 0xa3 }, 1, 3, MSGPACK_OBJECT_STR);
	check_blob((const uint8_t[]){ 0xbf }, 1, 31, MSGPACK_OBJECT_STR);
	check_blob((const uint8_t[]){ 0xd9, 0x20 }, 2, 32, MSGPACK_OBJECT_STR);
	check_blob((const uint8_t[]){ 0xd9, 0xff }, 2, 255, MSGPACK_OBJECT_STR);
	check_blob((const uint8_t[]){ 0xda, 0x01, 0x00 }, 3, 256,
		   MSGPACK_OBJECT_STR);
	check_blob((const uint8_t[]){ 0xdb, 0x00, 0x01, 0x00, 0x00 }, 5, 65536,
		   MSGPACK_OBJECT_STR);
	/* long encodings of short strings are legal too */
	check_blob((const uint8_t[]){ 0xdb, 0, 0, 0, 2 }, 5, 2,
		   MSGPACK_OBJECT_STR);
}
END_TEST

START_TEST(bin8_bin16_bin32_round_trip)
{
	check_blob((const uint8_t[]){ 0xc4, 0x00 }, 2, 0, MSGPACK_OBJECT_BIN);
	check_blob((const uint8_t[]){ 0xc4, 0x03 }, 2, 3, MSGPACK_OBJECT_BIN);
	check_blob((const uint8_t[]){ 0xc5, 0x01, 0x00 }, 3, 256,
		   MSGPACK_OBJECT_BIN);
	check_blob((const uint8_t[]){ 0xc6, 0x00, 0x01, 0x00, 0x00 }, 5, 65536,
		   MSGPACK_OBJECT_BIN);
}
END_TEST

/* An array of @n uints 0..n-1 (as fixint/uint8/uint16) after @head. */
static void check_array(const uint8_t *head, size_t hlen, uint32_t n)
{
	bytes b = { 0 };

	b_put(&b, head, hlen);
	for (uint32_t i = 0; i < n; i++) {
		if (i < 128) {
			b_u8(&b, (uint8_t)i);
		} else {
			b_u8(&b, 0xcd);
			b_be16(&b, (uint16_t)i);
		}
	}
	const msgpack_object *o = read_one(b.p, b.len);
	ck_assert_int_eq(o->type, MSGPACK_OBJECT_ARRAY);
	ck_assert_uint_eq(o->via.array.size, n);
	for (uint32_t i = 0; i < n; i++)
		assert_uint(&o->via.array.ptr[i], i);
	b_free(&b);
}

START_TEST(fixarray_array16_array32_round_trip)
{
	check_array((const uint8_t[]){ 0x90 }, 1, 0);
	check_array((const uint8_t[]){ 0x93 }, 1, 3);
	check_array((const uint8_t[]){ 0x9f }, 1, 15);
	check_array((const uint8_t[]){ 0xdc, 0x00, 0x10 }, 3, 16);
	check_array((const uint8_t[]){ 0xdc, 0x01, 0x2c }, 3, 300);
	check_array((const uint8_t[]){ 0xdd, 0x00, 0x00, 0x00, 0x02 }, 5, 2);
	check_array((const uint8_t[]){ 0xdd, 0x00, 0x01, 0x00, 0x00 }, 5,
		    65536);
}
END_TEST

/* A map of @n entries "kI" -> I after @head. */
static void check_map(const uint8_t *head, size_t hlen, uint32_t n)
{
	bytes b = { 0 };
	char key[16];

	b_put(&b, head, hlen);
	for (uint32_t i = 0; i < n; i++) {
		int kl = snprintf(key, sizeof(key), "k%u", (unsigned)i);
		b_u8(&b, (uint8_t)(0xa0 | kl));
		b_put(&b, key, (size_t)kl);
		b_u8(&b, 0xce);
		b_be32(&b, i);
	}
	const msgpack_object *o = read_one(b.p, b.len);
	ck_assert_int_eq(o->type, MSGPACK_OBJECT_MAP);
	ck_assert_uint_eq(o->via.map.size, n);
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		int kl = snprintf(key, sizeof(key), "k%u", (unsigned)i);
		ck_assert_int_eq(kv->key.type, MSGPACK_OBJECT_STR);
		ck_assert_uint_eq(kv->key.via.str.size, (size_t)kl);
		ck_assert_mem_eq(kv->key.via.str.ptr, key, (size_t)kl);
		assert_uint(&kv->val, i);
	}
	b_free(&b);
}

START_TEST(fixmap_map16_map32_round_trip)
{
	check_map((const uint8_t[]){ 0x80 }, 1, 0);
	check_map((const uint8_t[]){ 0x81 }, 1, 1);
	check_map((const uint8_t[]){ 0x8f }, 1, 15);
	check_map((const uint8_t[]){ 0xde, 0x00, 0x10 }, 3, 16);
	check_map((const uint8_t[]){ 0xde, 0x03, 0xe8 }, 3, 1000);
	check_map((const uint8_t[]){ 0xdf, 0x00, 0x00, 0x00, 0x02 }, 5, 2);
	check_map((const uint8_t[]){ 0xdf, 0x00, 0x01, 0x00, 0x00 }, 5, 65536);
}
END_TEST

/* An ext of type @type with @n data bytes after @head. */
static void check_ext(const uint8_t *head, size_t hlen, int8_t type, size_t n)
{
	bytes b = { 0 };

	b_put(&b, head, hlen);
	for (size_t i = 0; i < n; i++)
		b_u8(&b, (uint8_t)(0x10 + i));
	const msgpack_object *o = read_one(b.p, b.len);
	ck_assert_int_eq(o->type, MSGPACK_OBJECT_EXT);
	ck_assert_int_eq(o->via.ext.type, type);
	ck_assert_uint_eq(o->via.ext.size, n);
	if (n)
		ck_assert_mem_eq(o->via.ext.ptr, b.p + hlen, n);
	b_free(&b);
}

START_TEST(fixext_and_ext8_16_32_round_trip)
{
	check_ext((const uint8_t[]){ 0xd4, 0x05 }, 2, 5, 1);
	check_ext((const uint8_t[]){ 0xd5, 0x06 }, 2, 6, 2);
	check_ext((const uint8_t[]){ 0xd6, 0x07 }, 2, 7, 4);
	check_ext((const uint8_t[]){ 0xd7, 0x01 }, 2, 1, 8);
	check_ext((const uint8_t[]){ 0xd8, 0x7f }, 2, 127, 16);
	check_ext((const uint8_t[]){ 0xd4, 0xff }, 2, -1, 1);
	check_ext((const uint8_t[]){ 0xc7, 0x00, 0x02 }, 3, 2, 0);
	check_ext((const uint8_t[]){ 0xc7, 0x07, 0x01 }, 3, 1, 7);
	check_ext((const uint8_t[]){ 0xc7, 0xff, 0x03 }, 3, 3, 255);
	check_ext((const uint8_t[]){ 0xc8, 0x01, 0x00, 0x04 }, 4, 4, 256);
	check_ext((const uint8_t[]){ 0xc9, 0x00, 0x00, 0x01, 0x00, 0x09 }, 6, 9,
		  256);
}
END_TEST

START_TEST(mixed_nested_request_round_trips)
{
	/* [0, 1, "list.append", [3, {"k": [nil, true, -2, 1.5f, bin"x"]}]] */
	const msgpack_object *o = READ_LIT(
	    0x94, 0x00, 0x01, 0xab, 'l', 'i', 's', 't', '.', 'a', 'p', 'p', 'e',
	    'n', 'd', 0x92, 0x03, 0x81, 0xa1, 'k', 0x95, 0xc0, 0xc3, 0xfe, 0xca,
	    0x3f, 0xc0, 0x00, 0x00, 0xc4, 0x01, 'x');
	ck_assert_int_eq(o->type, MSGPACK_OBJECT_ARRAY);
	const msgpack_object *params = &o->via.array.ptr[3];
	ck_assert_uint_eq(params->via.array.size, 2);
	const msgpack_object *m = &params->via.array.ptr[1];
	ck_assert_int_eq(m->type, MSGPACK_OBJECT_MAP);
	const msgpack_object *inner = &m->via.map.ptr[0].val;
	ck_assert_uint_eq(inner->via.array.size, 5);
	assert_neg(&inner->via.array.ptr[2], -2);
	ck_assert(inner->via.array.ptr[3].via.f64 == 1.5);
	ck_assert_int_eq(inner->via.array.ptr[4].type, MSGPACK_OBJECT_BIN);
}
END_TEST

/* ---- truncated frames ---------------------------------------------------- */

START_TEST(truncated_headers_and_payloads_need_more_bytes)
{
	static const struct {
		uint8_t b[8];
		size_t len;
	} cut[] = {
		{ { 0xcd, 0x01 }, 2 },             /* uint16 missing a byte */
		{ { 0xcf, 0, 0, 0, 0, 0, 0 }, 7 }, /* uint64 missing a byte */
		{ { 0xcb, 0x3f, 0xf8 }, 3 },       /* float64 */
		{ { 0xda, 0x01 }, 2 },             /* str16 length cut */
		{ { 0xda, 0x00, 0x05, 'a' }, 4 },  /* str16 payload cut */
		{ { 0xc6, 0x00, 0x00 }, 3 },       /* bin32 length cut */
		{ { 0xdd, 0x00, 0x00 }, 3 },       /* array32 length cut */
		{ { 0x93, 0x01, 0x02 }, 3 }, /* fixarray missing an item */
		{ { 0x82, 0xc0, 0xc0, 0xc0 }, 4 }, /* fixmap missing a value */
		{ { 0xd7, 0x01, 1, 2, 3 }, 5 },    /* fixext8 payload cut */
		{ { 0xc7, 0x07 }, 2 },             /* ext8 type byte missing */
	};
	msgpack_object o;

	for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		ag_reader r;

		ck_assert_int_eq(ag_reader_init(&r, AG_DEFAULT_MAX_MESSAGE), 0);
		put_feed(&r, cut[i].b, cut[i].len);
		ck_assert_msg(ag_reader_next(&r, &o) == 0,
			      "truncated case %zu is not 'need more'", i);
		ck_assert_uint_eq(ag_reader_pending(&r), cut[i].len);
		ck_assert_int_eq(ag_reader_next(&r, &o), 0);
		ag_reader_deinit(&r);
	}
}
END_TEST

START_TEST(truncated_frame_completes_when_the_rest_arrives)
{
	msgpack_object o;

	put_feed(&rd, (const uint8_t[]){ 0xda, 0x00 }, 2);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 0);
	put_feed(&rd, (const uint8_t[]){ 0x03, 'a', 'b' }, 3);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 0);
	put_feed(&rd, (const uint8_t[]){ 'c' }, 1);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
	ck_assert_int_eq(o.type, MSGPACK_OBJECT_STR);
	ck_assert_uint_eq(o.via.str.size, 3);
	ck_assert_mem_eq(o.via.str.ptr, "abc", 3);
}
END_TEST

/* ---- declared lengths that cannot fit ------------------------------------ */

/*
 * Five bytes declaring 2^32-1 of something must be refused by the first
 * ag_reader_next(), under the default 64 MiB limit, with the length named in
 * errmsg, and without the reader growing its buffer toward that size.
 */
static void check_huge_declaration(const uint8_t *b, size_t len)
{
	msgpack_object o;

	put_feed(&rd, b, len);
	ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);
	ck_assert_msg(strstr(rd.errmsg, "4294967295") != NULL,
		      "errmsg does not name the length: \"%s\"", rd.errmsg);
	ck_assert_uint_lt(rd.cap, (size_t)1 << 20);
}

START_TEST(array32_of_four_billion_is_refused_at_once)
{
	check_huge_declaration(
	    (const uint8_t[]){ 0xdd, 0xff, 0xff, 0xff, 0xff }, 5);
}
END_TEST

START_TEST(map32_of_four_billion_is_refused_at_once)
{
	check_huge_declaration(
	    (const uint8_t[]){ 0xdf, 0xff, 0xff, 0xff, 0xff }, 5);
}
END_TEST

START_TEST(str32_of_four_gigabytes_is_refused_at_once)
{
	check_huge_declaration(
	    (const uint8_t[]){ 0xdb, 0xff, 0xff, 0xff, 0xff }, 5);
}
END_TEST

START_TEST(bin32_of_four_gigabytes_is_refused_at_once)
{
	check_huge_declaration(
	    (const uint8_t[]){ 0xc6, 0xff, 0xff, 0xff, 0xff }, 5);
}
END_TEST

START_TEST(ext32_of_four_gigabytes_is_refused_at_once)
{
	check_huge_declaration(
	    (const uint8_t[]){ 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01 }, 6);
}
END_TEST

START_TEST(huge_array_inside_a_request_is_refused_at_once)
{
	check_huge_declaration((const uint8_t[]){ 0x94, 0x00, 0x01, 0xa4, 'p',
						  'i', 'n', 'g', 0xdd, 0xff,
						  0xff, 0xff, 0xff },
			       13);
}
END_TEST

/* Reader with a 1024-byte limit fed @len bytes; returns ag_reader_next(). */
static int next_with_max_1k(ag_reader *r, const bytes *b)
{
	msgpack_object o;

	ck_assert_int_eq(ag_reader_init(r, 1024), 0);
	put_feed(r, b->p, b->len);
	return ag_reader_next(r, &o);
}

/* next_with_max_1k() on a reader of its own, freed before it returns. */
static int next_once_with_max_1k(const bytes *b)
{
	ag_reader r;
	int rc = next_with_max_1k(&r, b);

	ag_reader_deinit(&r);
	return rc;
}

START_TEST(array_declaring_more_items_than_the_frame_has_room_is_refused)
{
	/* 3 header bytes leave 1021: 1022 one-byte items cannot fit */
	bytes b = { 0 };
	ag_reader r;

	b_u8(&b, 0xdc);
	b_be16(&b, 1022);
	ck_assert_int_eq(next_with_max_1k(&r, &b), AGORA_EPROTOCOL);
	ck_assert_str_ne(r.errmsg, "");
	ag_reader_deinit(&r);
	b_free(&b);
}
END_TEST

START_TEST(array_filling_the_frame_exactly_is_accepted)
{
	bytes b = { 0 };
	ag_reader r;
	msgpack_object o;

	b_u8(&b, 0xdc);
	b_be16(&b, 1021);
	ck_assert_int_eq(next_with_max_1k(&r, &b), 0);
	b_free(&b);
	b_fill(&b, 0xc0, 1021);
	put_feed(&r, b.p, b.len);
	ck_assert_int_eq(ag_reader_next(&r, &o), 1);
	ck_assert_uint_eq(o.via.array.size, 1021);
	ag_reader_deinit(&r);
	b_free(&b);
}
END_TEST

START_TEST(map_declaring_more_entries_than_the_frame_has_room_is_refused)
{
	/* 2 bytes per entry: 511 entries need 1022 of the 1021 left */
	bytes b = { 0 };

	b_u8(&b, 0xde);
	b_be16(&b, 511);
	ck_assert_int_eq(next_once_with_max_1k(&b), AGORA_EPROTOCOL);
	b_free(&b);
}
END_TEST

START_TEST(map_that_fits_the_frame_is_accepted)
{
	bytes b = { 0 };

	b_u8(&b, 0xde);
	b_be16(&b, 510);
	b_fill(&b, 0xc0, 1020);
	ck_assert_int_eq(next_once_with_max_1k(&b), 1);
	b_free(&b);
}
END_TEST

START_TEST(str_longer_than_the_frame_has_room_is_refused)
{
	bytes b = { 0 };

	b_u8(&b, 0xda);
	b_be16(&b, 1022);
	ck_assert_int_eq(next_once_with_max_1k(&b), AGORA_EPROTOCOL);
	b_free(&b);
}
END_TEST

START_TEST(str_filling_the_frame_exactly_is_accepted)
{
	bytes b = { 0 };
	ag_reader r;
	msgpack_object o;

	b_u8(&b, 0xda);
	b_be16(&b, 1021);
	b_fill(&b, 'x', 1021);
	ck_assert_int_eq(next_with_max_1k(&r, &b), 1);
	ck_assert_int_eq(ag_reader_next(&r, &o), 0);
	ag_reader_deinit(&r);
	b_free(&b);
}
END_TEST

START_TEST(container_counts_against_what_the_frame_already_used)
{
	/* [str of 1000, array16 of 100]: 1007 bytes read, 17 left < 100 */
	bytes b = { 0 };

	b_u8(&b, 0x92);
	b_u8(&b, 0xda);
	b_be16(&b, 1000);
	b_fill(&b, 'y', 1000);
	b_u8(&b, 0xdc);
	b_be16(&b, 100);
	ck_assert_int_eq(next_once_with_max_1k(&b), AGORA_EPROTOCOL);
	b_free(&b);
}
END_TEST

/* ---- nesting depth ------------------------------------------------------- */

static unsigned depth_of(const msgpack_object *o)
{
	unsigned d = 0;

	for (;;) {
		if (o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size) {
			o = &o->via.array.ptr[0];
		} else if (o->type == MSGPACK_OBJECT_MAP && o->via.map.size) {
			o = &o->via.map.ptr[0].val;
		} else {
			return d + (o->type == MSGPACK_OBJECT_ARRAY ||
				    o->type == MSGPACK_OBJECT_MAP);
		}
		d++;
	}
}

START_TEST(arrays_nested_32_deep_are_accepted)
{
	bytes b = { 0 };

	b_fill(&b, 0x91, AG_MAX_DEPTH);
	b_u8(&b, 0xc0);
	ck_assert_uint_eq(depth_of(read_one(b.p, b.len)), AG_MAX_DEPTH);
	b_free(&b);
}
END_TEST

START_TEST(arrays_nested_33_deep_are_refused)
{
	bytes b = { 0 };
	msgpack_object o;

	b_fill(&b, 0x91, AG_MAX_DEPTH + 1);
	b_u8(&b, 0xc0);
	put_feed(&rd, b.p, b.len);
	ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);
	ck_assert_str_ne(rd.errmsg, "");
	b_free(&b);
}
END_TEST

START_TEST(arrays_nested_33_deep_are_refused_before_the_frame_ends)
{
	/* the 33rd opening is enough; the rest of the frame never comes */
	bytes b = { 0 };
	msgpack_object o;

	b_fill(&b, 0x91, AG_MAX_DEPTH + 1);
	put_feed(&rd, b.p, b.len);
	ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);
	b_free(&b);
}
END_TEST

START_TEST(maps_nested_32_deep_are_accepted_and_33_refused)
{
	bytes b = { 0 };
	ag_reader r;
	msgpack_object o;

	for (int i = 0; i < AG_MAX_DEPTH; i++) {
		b_u8(&b, 0x81);
		b_u8(&b, 0xc0);
	}
	b_u8(&b, 0x01);
	ck_assert_uint_eq(depth_of(read_one(b.p, b.len)), AG_MAX_DEPTH);
	b_free(&b);

	for (int i = 0; i < AG_MAX_DEPTH + 1; i++) {
		b_u8(&b, 0x81);
		b_u8(&b, 0xc0);
	}
	b_u8(&b, 0x01);
	ck_assert_int_eq(ag_reader_init(&r, AG_DEFAULT_MAX_MESSAGE), 0);
	put_feed(&r, b.p, b.len);
	ck_assert_int_eq(ag_reader_next(&r, &o), AGORA_EPROTOCOL);
	ag_reader_deinit(&r);
	b_free(&b);
}
END_TEST

START_TEST(depth_is_counted_again_after_a_nested_array_closes)
{
	/* [ 31 nested arrays, 31 nested arrays ]: depth 32 twice, fine */
	bytes b = { 0 };

	b_u8(&b, 0x92);
	for (int k = 0; k < 2; k++) {
		b_fill(&b, 0x91, AG_MAX_DEPTH - 1);
		b_u8(&b, 0xc0);
	}
	const msgpack_object *o = read_one(b.p, b.len);
	ck_assert_uint_eq(o->via.array.size, 2);
	ck_assert_uint_eq(depth_of(&o->via.array.ptr[1]), AG_MAX_DEPTH - 1);
	b_free(&b);
}
END_TEST

START_TEST(many_frames_nested_32_deep_in_a_row_are_accepted)
{
	bytes b = { 0 };
	msgpack_object o;

	for (int k = 0; k < 5; k++) {
		b_fill(&b, 0x91, AG_MAX_DEPTH);
		b_u8(&b, (uint8_t)k);
	}
	put_feed(&rd, b.p, b.len);
	for (int k = 0; k < 5; k++) {
		ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
		ck_assert_uint_eq(depth_of(&o), AG_MAX_DEPTH);
	}
	ck_assert_int_eq(ag_reader_next(&rd, &o), 0);
	b_free(&b);
}
END_TEST

/* ---- frame size ---------------------------------------------------------- */

/*
 * Feed @b to a reader with a 1024-byte limit in pieces of @step bytes
 * (through space and commit with @use_space, else feed), asking for a frame
 * after each, and require the refusal to come within @step bytes past the
 * limit, not once the whole frame is in.
 */
static void check_refused_while_arriving(const bytes *b, size_t step,
					 bool use_space)
{
	ag_reader r;
	msgpack_object o;
	int rc = 0;
	size_t off;

	ck_assert_int_eq(ag_reader_init(&r, 1024), 0);
	for (off = 0; off < b->len && rc == 0; off += step) {
		size_t n = b->len - off < step ? b->len - off : step;

		if (use_space)
			put_space(&r, b->p + off, n);
		else
			put_feed(&r, b->p + off, n);
		rc = ag_reader_next(&r, &o);
	}
	ck_assert_int_eq(rc, AGORA_EPROTOCOL);
	ck_assert_msg(off <= 1024 + step,
		      "refused only after %zu bytes (limit 1024)", off);
	ag_reader_deinit(&r);
}

START_TEST(str_of_2000_bytes_in_small_pieces_is_refused_under_1k_limit)
{
	bytes b = { 0 };

	b_u8(&b, 0xda);
	b_be16(&b, 2000);
	b_fill(&b, 'z', 2000);
	check_refused_while_arriving(&b, 16, true);
	b_free(&b);
}
END_TEST

START_TEST(frame_of_small_items_over_the_limit_is_refused_while_it_arrives)
{
	/* array16 of 600 "abc": the count fits, the 2403 bytes do not */
	bytes b = { 0 };

	b_u8(&b, 0xdc);
	b_be16(&b, 600);
	for (int i = 0; i < 600; i++)
		b_put(&b,
		      "\xa3"
		      "abc",
		      4);
	check_refused_while_arriving(&b, 7, false);
	b_free(&b);
}
END_TEST

START_TEST(frame_of_exactly_the_limit_is_accepted_and_one_more_byte_refused)
{
	/* array16 of n fixints: 3 + n bytes */
	bytes ok = { 0 }, over = { 0 };

	/* 1021 items fit in 1024 bytes. */
	b_u8(&ok, 0xdc);
	b_be16(&ok, 1021);
	b_fill(&ok, 0x01, 1021);
	ck_assert_int_eq(next_once_with_max_1k(&ok), 1);

	/* [str8 of 250] x 4 inside a fixarray: 1 + 4 * 252 = 1009; make it
	   1025 with one more str8 of 14: 1 + 1008 + 16 = 1025 */
	b_u8(&over, 0x95);
	for (int i = 0; i < 4; i++) {
		b_u8(&over, 0xd9);
		b_u8(&over, 250);
		b_fill(&over, 'q', 250);
	}
	b_u8(&over, 0xd9);
	b_u8(&over, 14);
	b_fill(&over, 'q', 14);
	ck_assert_uint_eq(over.len, 1025);
	ck_assert_int_eq(next_once_with_max_1k(&over), AGORA_EPROTOCOL);
	b_free(&ok);
	b_free(&over);
}
END_TEST

START_TEST(set_max_raises_the_limit_for_the_next_frame)
{
	bytes b = { 0 };
	ag_reader r;
	msgpack_object o;
	const uint8_t small[] = { 0x92, 0x01, 0x02 };

	b_u8(&b, 0xda);
	b_be16(&b, 2000);
	b_fill(&b, 'z', 2000);

	ck_assert_int_eq(ag_reader_init(&r, AG_PREAUTH_MAX_MESSAGE), 0);
	put_feed(&r, small, sizeof(small));
	ck_assert_int_eq(ag_reader_next(&r, &o), 1);
	ag_reader_set_max(&r, AG_DEFAULT_MAX_MESSAGE);
	put_feed(&r, b.p, b.len);
	ck_assert_int_eq(ag_reader_next(&r, &o), 1);
	ck_assert_uint_eq(o.via.str.size, 2000);
	ag_reader_deinit(&r);

	/* without the raise the same bytes are refused */
	ck_assert_int_eq(ag_reader_init(&r, AG_PREAUTH_MAX_MESSAGE), 0);
	put_feed(&r, b.p, b.len);
	ck_assert_int_eq(ag_reader_next(&r, &o), AGORA_EPROTOCOL);
	ag_reader_deinit(&r);
	b_free(&b);
}
END_TEST

START_TEST(set_max_lowers_the_limit_for_the_next_frame)
{
	bytes b = { 0 };
	msgpack_object o;

	b_u8(&b, 0xd9);
	b_u8(&b, 100);
	b_fill(&b, 'w', 100);
	put_feed(&rd, b.p, b.len);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
	ag_reader_set_max(&rd, 64);
	put_feed(&rd, b.p, b.len);
	ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);
	b_free(&b);
}
END_TEST

START_TEST(set_max_mid_frame_applies_from_the_next_frame)
{
	/* [600 x uint16] is 1803 bytes: under the old limit, over the new */
	bytes b = { 0 };
	msgpack_object o;

	b_u8(&b, 0xdc);
	b_be16(&b, 600);
	for (int i = 0; i < 600; i++) {
		b_u8(&b, 0xcd);
		b_be16(&b, (uint16_t)i);
	}
	put_feed(&rd, b.p, 100);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 0);
	ag_reader_set_max(&rd, 1024);
	put_feed(&rd, b.p + 100, b.len - 100);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
	ck_assert_uint_eq(o.via.array.size, 600);
	/* the next frame is held to the new limit */
	put_feed(&rd, b.p, b.len);
	ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);
	b_free(&b);
}
END_TEST

START_TEST(frame_of_scalars_over_the_limit_is_refused_while_it_arrives)
{
	/* array16 of 300 uint64: the count fits, the 2703 bytes do not */
	bytes b = { 0 };

	b_u8(&b, 0xdc);
	b_be16(&b, 300);
	for (int i = 0; i < 300; i++) {
		b_u8(&b, 0xcf);
		b_be32(&b, 0);
		b_be32(&b, (uint32_t)i);
	}
	check_refused_while_arriving(&b, 5, false);
	b_free(&b);
}
END_TEST

START_TEST(frame_of_scalars_at_the_limit_is_accepted_one_byte_more_refused)
{
	/* array16 header (3) + 113 uint64 (1017) = 1020 bytes, then either
	   fixint + uint16 (1024 in all) or a uint32 (1025 in all) */
	bytes ok = { 0 }, over = { 0 };

	b_u8(&ok, 0xdc);
	b_be16(&ok, 115);
	b_u8(&over, 0xdc);
	b_be16(&over, 114);
	for (int i = 0; i < 113; i++) {
		b_u8(&ok, 0xcf);
		b_fill(&ok, 0x01, 8);
		b_u8(&over, 0xcf);
		b_fill(&over, 0x01, 8);
	}
	b_u8(&ok, 0x01);
	b_u8(&ok, 0xcd);
	b_be16(&ok, 7);
	b_u8(&over, 0xce);
	b_be32(&over, 7);
	ck_assert_uint_eq(ok.len, 1024);
	ck_assert_uint_eq(over.len, 1025);
	ck_assert_int_eq(next_once_with_max_1k(&ok), 1);
	ck_assert_int_eq(next_once_with_max_1k(&over), AGORA_EPROTOCOL);
	b_free(&ok);
	b_free(&over);
}
END_TEST

/*
 * Feed frame @a whole and the first @cut bytes of frame @b, take @a, then
 * ask for more space than is free at the end so that the reader must move
 * or grow its buffer while @b is half scanned; the rest of @b must still
 * come out as @b.
 */
static void check_half_frame_survives_buffer_move(const bytes *a,
						  const bytes *b, size_t cut)
{
	msgpack_object o;
	msgpack_unpacked ref;
	size_t avail = 0;

	put_feed(&rd, a->p, a->len);
	put_feed(&rd, b->p, cut);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 0);
	ck_assert_ptr_nonnull(ag_reader_space(&rd, 1, &avail));
	char *p = ag_reader_space(&rd, avail + 1, &avail);
	ck_assert_ptr_nonnull(p);
	memcpy(p, b->p + cut, b->len - cut);
	ag_reader_commit(&rd, b->len - cut);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
	unit_unpack(&ref, b->p, b->len);
	ck_assert(msgpack_object_equal(o, ref.data));
	msgpack_unpacked_destroy(&ref);
	ck_assert_uint_eq(ag_reader_pending(&rd), 0);
}

START_TEST(half_scanned_str_survives_a_buffer_move)
{
	bytes a = { 0 }, b = { 0 };

	b_u8(&a, 0xda);
	b_be16(&a, 3000);
	b_fill(&a, 'a', 3000);
	b_u8(&b, 0xda);
	b_be16(&b, 600);
	for (int i = 0; i < 600; i++)
		b_u8(&b, (uint8_t)('0' + i % 10));
	check_half_frame_survives_buffer_move(&a, &b, 103);
	b_free(&a);
	b_free(&b);
}
END_TEST

START_TEST(half_scanned_nested_array_survives_a_buffer_move)
{
	bytes a = { 0 }, b = { 0 };

	b_u8(&a, 0xda);
	b_be16(&a, 3000);
	b_fill(&a, 'a', 3000);
	/* [[1, 2, ... 40], "tail"] cut inside the inner array */
	b_u8(&b, 0x92);
	b_u8(&b, 0xdc);
	b_be16(&b, 40);
	for (int i = 1; i <= 40; i++)
		b_u8(&b, (uint8_t)i);
	b_put(&b, "\xa4tail", 5);
	check_half_frame_survives_buffer_move(&a, &b, 17);
	b_free(&a);
	b_free(&b);
}
END_TEST

/* ---- garbage and stickiness ---------------------------------------------- */

START_TEST(never_used_byte_c1_is_refused)
{
	msgpack_object o;

	put_feed(&rd, (const uint8_t[]){ 0xc1 }, 1);
	ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);
	ck_assert_str_ne(rd.errmsg, "");
}
END_TEST

START_TEST(c1_inside_an_array_is_refused)
{
	msgpack_object o;

	put_feed(&rd, (const uint8_t[]){ 0x93, 0x01, 0xc1, 0x02 }, 4);
	ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);
}
END_TEST

START_TEST(good_frame_before_garbage_is_still_returned)
{
	msgpack_object o;

	put_feed(&rd, (const uint8_t[]){ 0x92, 0xc0, 0xc0, 0xc1 }, 4);
	ck_assert_int_eq(ag_reader_next(&rd, &o), 1);
	ck_assert_uint_eq(o.via.array.size, 2);
	ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);
}
END_TEST

START_TEST(after_garbage_every_call_returns_the_same_error)
{
	msgpack_sbuffer sb;
	msgpack_object o;
	char first[sizeof(rd.errmsg)];

	put_feed(&rd, (const uint8_t[]){ 0xc1 }, 1);
	ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);
	memcpy(first, rd.errmsg, sizeof(first));

	msgpack_sbuffer_init(&sb);
	pack_ping(&sb, 5);
	for (int i = 0; i < 3; i++) {
		ag_reader_feed(&rd, sb.data, sb.size);
		ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);
		ck_assert_str_eq(rd.errmsg, first);
	}
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(after_a_limit_error_every_call_returns_the_same_error)
{
	msgpack_object o;
	msgpack_sbuffer sb;

	put_feed(&rd, (const uint8_t[]){ 0xdd, 0xff, 0xff, 0xff, 0xff }, 5);
	ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);
	ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);

	msgpack_sbuffer_init(&sb);
	pack_ping(&sb, 5);
	size_t avail;
	char *p = ag_reader_space(&rd, sb.size, &avail);
	if (p) {
		memcpy(p, sb.data, sb.size);
		ag_reader_commit(&rd, sb.size);
	}
	ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);
	ag_reader_set_max(&rd, AG_DEFAULT_MAX_MESSAGE);
	ck_assert_int_eq(ag_reader_next(&rd, &o), AGORA_EPROTOCOL);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static TCase *tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *reader_suite(void)
{
	Suite *s = suite_create("reader");
	TCase *tc;

	tc = tcase(s, "well-formed requests");
	tcase_add_test(tc, request_fed_whole_is_returned_intact);
	tcase_add_test(tc, request_fed_byte_by_byte_waits_then_is_returned);
	tcase_add_test(tc,
		       request_written_through_space_and_commit_is_returned);
	tcase_add_test(tc, space_gives_at_least_what_was_asked);
	tcase_add_test(tc, three_requests_back_to_back_come_out_in_order);
	tcase_add_test(tc, half_a_request_after_two_whole_ones_stays_pending);
	tcase_add_test(tc, thousand_requests_in_odd_sized_pieces_all_come_out);
	tcase_add_test(tc, one_mebibyte_str_in_pages_is_returned_intact);
	tcase_add_test(tc, half_scanned_str_survives_a_buffer_move);
	tcase_add_test(tc, half_scanned_nested_array_survives_a_buffer_move);
	tcase_add_test(tc, mixed_nested_request_round_trips);

	tc = tcase(s, "every type round-trips");
	tcase_add_test(tc, nil_and_bools_round_trip);
	tcase_add_test(tc, fixints_round_trip);
	tcase_add_test(tc, uint8_to_uint64_round_trip);
	tcase_add_test(tc, int8_to_int64_round_trip);
	tcase_add_test(tc, float32_and_float64_round_trip);
	tcase_add_test(tc, fixstr_str8_str16_str32_round_trip);
	tcase_add_test(tc, bin8_bin16_bin32_round_trip);
	tcase_add_test(tc, fixarray_array16_array32_round_trip);
	tcase_add_test(tc, fixmap_map16_map32_round_trip);
	tcase_add_test(tc, fixext_and_ext8_16_32_round_trip);

	tc = tcase(s, "truncated frames");
	tcase_add_test(tc, truncated_headers_and_payloads_need_more_bytes);
	tcase_add_test(tc, truncated_frame_completes_when_the_rest_arrives);

	tc = tcase(s, "huge declarations");
	tcase_add_test(tc, array32_of_four_billion_is_refused_at_once);
	tcase_add_test(tc, map32_of_four_billion_is_refused_at_once);
	tcase_add_test(tc, str32_of_four_gigabytes_is_refused_at_once);
	tcase_add_test(tc, bin32_of_four_gigabytes_is_refused_at_once);
	tcase_add_test(tc, ext32_of_four_gigabytes_is_refused_at_once);
	tcase_add_test(tc, huge_array_inside_a_request_is_refused_at_once);

	tc = tcase(s, "frame budget");
	tcase_add_test(
	    tc, array_declaring_more_items_than_the_frame_has_room_is_refused);
	tcase_add_test(tc, array_filling_the_frame_exactly_is_accepted);
	tcase_add_test(
	    tc, map_declaring_more_entries_than_the_frame_has_room_is_refused);
	tcase_add_test(tc, map_that_fits_the_frame_is_accepted);
	tcase_add_test(tc, str_longer_than_the_frame_has_room_is_refused);
	tcase_add_test(tc, str_filling_the_frame_exactly_is_accepted);
	tcase_add_test(tc,
		       container_counts_against_what_the_frame_already_used);

	tc = tcase(s, "nesting depth");
	tcase_add_test(tc, arrays_nested_32_deep_are_accepted);
	tcase_add_test(tc, arrays_nested_33_deep_are_refused);
	tcase_add_test(tc,
		       arrays_nested_33_deep_are_refused_before_the_frame_ends);
	tcase_add_test(tc, maps_nested_32_deep_are_accepted_and_33_refused);
	tcase_add_test(tc, depth_is_counted_again_after_a_nested_array_closes);
	tcase_add_test(tc, many_frames_nested_32_deep_in_a_row_are_accepted);

	tc = tcase(s, "frame size limit");
	tcase_add_test(
	    tc, str_of_2000_bytes_in_small_pieces_is_refused_under_1k_limit);
	tcase_add_test(
	    tc,
	    frame_of_small_items_over_the_limit_is_refused_while_it_arrives);
	tcase_add_test(
	    tc,
	    frame_of_exactly_the_limit_is_accepted_and_one_more_byte_refused);
	tcase_add_test(tc, set_max_raises_the_limit_for_the_next_frame);
	tcase_add_test(tc, set_max_lowers_the_limit_for_the_next_frame);
	tcase_add_test(tc, set_max_mid_frame_applies_from_the_next_frame);
	tcase_add_test(
	    tc, frame_of_scalars_over_the_limit_is_refused_while_it_arrives);
	tcase_add_test(
	    tc,
	    frame_of_scalars_at_the_limit_is_accepted_one_byte_more_refused);

	tc = tcase(s, "garbage and sticky errors");
	tcase_add_test(tc, never_used_byte_c1_is_refused);
	tcase_add_test(tc, c1_inside_an_array_is_refused);
	tcase_add_test(tc, good_frame_before_garbage_is_still_returned);
	tcase_add_test(tc, after_garbage_every_call_returns_the_same_error);
	tcase_add_test(tc,
		       after_a_limit_error_every_call_returns_the_same_error);
	return s;
}

int main(void)
{
	return unit_run(reader_suite());
}
