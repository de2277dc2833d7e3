/*
 * test_refusals.c - values and names the server refuses, sent as raw
 * MessagePack (the client library would not build most of them):
 *
 *   - a map with a duplicate key, alone or nested in an array and a map, is
 *     VALUE wherever a value enters: value.set, value.cas (expected and
 *     desired), list.append, list.extend, dict.set (key and value),
 *     dict.update, queue.put, namespace.set; nothing is stored;
 *   - so {k:1, k:1} never compares equal to {k:1, j:2}: value.cas does not
 *     swap, list.remove removes nothing, list.count counts nothing;
 *   - names (open) and namespace attribute names that are not strict
 *     UTF-8 (a surrogate, an overlong form, above U+10FFFF) or hold a NUL
 *     are VALUE, and ls still lists only valid names;
 *   - an error message that quotes a long client string of multibyte
 *     characters is valid UTF-8 (cut between characters, never inside);
 *   - dict.incr with a delta that is not a number is TYPE.
 *
 * Raw connections are the harness's (agh_raw): requests packed with
 * msgpack-c, params given as bytes.
 */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static agh_server srv;

/* ---- raw calls ----------------------------------------------------------- */

typedef struct raw_conn {
	agh_raw *r;
	uint32_t msgid;
	msgpack_unpacked m;
} raw_conn;

static void raw_start(raw_conn *rc)
{
	agh_server_start(&srv);
	rc->r = agh_raw_connect(&srv);
	agh_raw_handshake(rc->r, &srv);
	rc->msgid = 2;
	msgpack_unpacked_init(&rc->m);
}

static void raw_stop(raw_conn *rc)
{
	msgpack_unpacked_destroy(&rc->m);
	agh_raw_free(rc->r);
	agh_server_stop(&srv);
}

/*
 * Call @method with @nparams params whose bytes are @sb (emptied), and
 * return the response [1, msgid, error, result] as an array of 4 objects,
 * valid until the next call.
 */
static msgpack_object *call(raw_conn *rc, const char *method, uint32_t nparams,
			    msgpack_sbuffer *sb)
{
	msgpack_sbuffer frame;
	msgpack_packer pk;
	uint32_t id = ++rc->msgid;

	msgpack_sbuffer_init(&frame);
	msgpack_packer_init(&pk, &frame, msgpack_sbuffer_write);
	agh_pack_head(&pk, id, method, nparams);
	msgpack_sbuffer_write(&frame, sb->data, sb->size);
	msgpack_sbuffer_clear(sb);
	agh_raw_send_sbuf(rc->r, &frame);
	msgpack_sbuffer_destroy(&frame);
	ck_assert_int_eq(agh_raw_read(rc->r, &rc->m, AGH_RAW_TIMEOUT), 1);
	msgpack_object o = rc->m.data;
	ck_assert_msg(o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 4,
		      "%s: not a response", method);
	ck_assert_uint_eq(o.via.array.ptr[1].via.u64, id);
	return o.via.array.ptr;
}

static bool str_is(const msgpack_object *o, const char *s)
{
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	       memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* The call must fail with error @name; returns its message object. */
static msgpack_object expect_err(raw_conn *rc, const char *method,
				 uint32_t nparams, msgpack_sbuffer *sb,
				 const char *name)
{
	msgpack_object *f = call(rc, method, nparams, sb);

	ck_assert_msg(f[2].type == MSGPACK_OBJECT_ARRAY &&
			  f[2].via.array.size == 3,
		      "%s succeeded; %s expected", method, name);
	msgpack_object *e = f[2].via.array.ptr;
	ck_assert_msg(str_is(&e[1], name), "%s: %.*s (%.*s), %s expected",
		      method, (int)e[1].via.str.size, e[1].via.str.ptr,
		      (int)e[2].via.str.size, e[2].via.str.ptr, name);
	return e[2];
}

/* The call must succeed; returns its result. */
static msgpack_object expect_ok(raw_conn *rc, const char *method,
				uint32_t nparams, msgpack_sbuffer *sb)
{
	msgpack_object *f = call(rc, method, nparams, sb);
	ck_assert_msg(
	    f[2].type == MSGPACK_OBJECT_NIL, "%s: %.*s", method,
	    f[2].type == MSGPACK_OBJECT_ARRAY && f[2].via.array.size == 3
		? (int)f[2].via.array.ptr[2].via.str.size
		: 0,
	    f[2].type == MSGPACK_OBJECT_ARRAY && f[2].via.array.size == 3
		? f[2].via.array.ptr[2].via.str.ptr
		: "");
	return f[3];
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str_with_body(pk, s, n);
}

static uint64_t open_obj(raw_conn *rc, msgpack_sbuffer *sb, msgpack_packer *pk,
			 const char *type, const char *name)
{
	pack_str(pk, type, strlen(type));
	pack_str(pk, name, strlen(name));
	msgpack_object h = expect_ok(rc, "open", 2, sb);
	ck_assert_int_eq(h.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	return h.via.u64;
}

/* {k: 1, k: 1}; with @nested, [{a: {k: 1, k: 1}}]. */
static void pack_dup(msgpack_packer *pk, bool nested)
{
	if (nested) {
		msgpack_pack_array(pk, 1);
		msgpack_pack_map(pk, 1);
		pack_str(pk, "a", 1);
	}
	msgpack_pack_map(pk, 2);
	pack_str(pk, "k", 1);
	msgpack_pack_int(pk, 1);
	pack_str(pk, "k", 1);
	msgpack_pack_int(pk, 1);
}

/* {k: 1, j: 2} */
static void pack_kj(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	pack_str(pk, "k", 1);
	msgpack_pack_int(pk, 1);
	pack_str(pk, "j", 1);
	msgpack_pack_int(pk, 2);
}

/* ---- duplicate keys ------------------------------------------------------ */

START_TEST(a_map_with_a_duplicate_key_is_refused_wherever_a_value_enters)
{
	raw_conn rc;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	bool nested = _i == 1;

	raw_start(&rc);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	uint64_t v = open_obj(&rc, &sb, &pk, "value", "v");
	uint64_t l = open_obj(&rc, &sb, &pk, "list", "l");
	uint64_t d = open_obj(&rc, &sb, &pk, "dict", "d");
	uint64_t q = open_obj(&rc, &sb, &pk, "queue", "q");
	uint64_t ns = open_obj(&rc, &sb, &pk, "namespace", "ns");

	msgpack_pack_uint64(&pk, v);
	msgpack_pack_int(&pk, 7);
	expect_ok(&rc, "value.set", 2, &sb);
	msgpack_pack_uint64(&pk, v);
	pack_dup(&pk, nested);
	expect_err(&rc, "value.set", 2, &sb, "VALUE");

	msgpack_pack_uint64(&pk, v);
	pack_dup(&pk, nested);
	msgpack_pack_int(&pk, 1);
	expect_err(&rc, "value.cas", 3, &sb, "VALUE"); /* as expected */

	msgpack_pack_uint64(&pk, v);
	msgpack_pack_int(&pk, 7);
	pack_dup(&pk, nested);
	expect_err(&rc, "value.cas", 3, &sb, "VALUE"); /* as desired */

	msgpack_pack_uint64(&pk, l);
	pack_dup(&pk, nested);
	expect_err(&rc, "list.append", 2, &sb, "VALUE");

	msgpack_pack_uint64(&pk, l);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, 1);
	pack_dup(&pk, nested);
	expect_err(&rc, "list.extend", 2, &sb, "VALUE");

	msgpack_pack_uint64(&pk, d);
	pack_dup(&pk, nested);
	msgpack_pack_int(&pk, 1);
	expect_err(&rc, "dict.set", 3, &sb, "VALUE"); /* as the key */

	msgpack_pack_uint64(&pk, d);
	pack_str(&pk, "key", 3);
	pack_dup(&pk, nested);
	expect_err(&rc, "dict.set", 3, &sb, "VALUE"); /* as the value */

	msgpack_pack_uint64(&pk, d);
	msgpack_pack_map(&pk, 1);
	pack_str(&pk, "key", 3);
	pack_dup(&pk, nested);
	expect_err(&rc, "dict.update", 2, &sb, "VALUE");

	msgpack_pack_uint64(&pk, q);
	pack_dup(&pk, nested);
	expect_err(&rc, "queue.put", 2, &sb, "VALUE");

	msgpack_pack_uint64(&pk, ns);
	pack_str(&pk, "attr", 4);
	pack_dup(&pk, nested);
	expect_err(&rc, "namespace.set", 3, &sb, "VALUE");

	/* Nothing was stored anywhere. */
	msgpack_pack_uint64(&pk, v);
	ck_assert_uint_eq(expect_ok(&rc, "value.get", 1, &sb).via.u64, 7);
	msgpack_pack_uint64(&pk, l);
	ck_assert_uint_eq(expect_ok(&rc, "list.len", 1, &sb).via.u64, 0);
	msgpack_pack_uint64(&pk, d);
	ck_assert_uint_eq(expect_ok(&rc, "dict.len", 1, &sb).via.u64, 0);
	msgpack_pack_uint64(&pk, q);
	ck_assert_uint_eq(expect_ok(&rc, "queue.qsize", 1, &sb).via.u64, 0);
	msgpack_pack_uint64(&pk, ns);
	ck_assert_uint_eq(
	    expect_ok(&rc, "namespace.items", 1, &sb).via.array.size, 0);

	msgpack_sbuffer_destroy(&sb);
	raw_stop(&rc);
}
END_TEST

START_TEST(a_map_with_a_duplicate_key_equals_no_other_map)
{
	raw_conn rc;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	raw_start(&rc);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	uint64_t v = open_obj(&rc, &sb, &pk, "value", "v");
	uint64_t l = open_obj(&rc, &sb, &pk, "list", "l");

	/* The value {k:1, j:2}: a cas expecting {k:1, k:1} does not swap. */
	msgpack_pack_uint64(&pk, v);
	pack_kj(&pk);
	expect_ok(&rc, "value.set", 2, &sb);
	msgpack_pack_uint64(&pk, v);
	pack_dup(&pk, false);
	msgpack_pack_int(&pk, 5);
	expect_err(&rc, "value.cas", 3, &sb, "VALUE");
	msgpack_pack_uint64(&pk, v);
	msgpack_object got = expect_ok(&rc, "value.get", 1, &sb);
	ck_assert_msg(got.type == MSGPACK_OBJECT_MAP && got.via.map.size == 2,
		      "value.cas swapped the value");

	/* The list [{k:1, j:2}]: removing {k:1, k:1} removes nothing. */
	msgpack_pack_uint64(&pk, l);
	pack_kj(&pk);
	expect_ok(&rc, "list.append", 2, &sb);
	msgpack_pack_uint64(&pk, l);
	pack_dup(&pk, false);
	expect_err(&rc, "list.remove", 2, &sb, "VALUE");
	msgpack_pack_uint64(&pk, l);
	pack_dup(&pk, false);
	expect_err(&rc, "list.count", 2, &sb, "VALUE");
	msgpack_pack_uint64(&pk, l);
	ck_assert_uint_eq(expect_ok(&rc, "list.len", 1, &sb).via.u64, 1);

	/* Equal maps still compare equal, in either key order. */
	msgpack_pack_uint64(&pk, l);
	msgpack_pack_map(&pk, 2);
	pack_str(&pk, "j", 1);
	msgpack_pack_int(&pk, 2);
	pack_str(&pk, "k", 1);
	msgpack_pack_int(&pk, 1);
	expect_ok(&rc, "list.remove", 2, &sb);
	msgpack_pack_uint64(&pk, l);
	ck_assert_uint_eq(expect_ok(&rc, "list.len", 1, &sb).via.u64, 0);

	msgpack_sbuffer_destroy(&sb);
	raw_stop(&rc);
}
END_TEST

/* ---- names --------------------------------------------------------------- */

static const struct bad_name {
	const char *what;
	const char *bytes;
	size_t len;
} bad_names[] = {
	{ "a surrogate (U+D800 as ED A0 80)", "ab\xed\xa0\x80", 5 },
	{ "an overlong NUL (C0 80)", "ab\xc0\x80", 4 },
	{ "above U+10FFFF (F4 90 80 80)", "ab\xf4\x90\x80\x80", 6 },
	{ "a NUL byte", "ab\0cd", 5 },
};

START_TEST(a_name_that_is_not_strict_utf8_or_holds_a_nul_is_value)
{
	const struct bad_name *b = &bad_names[_i];
	raw_conn rc;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	raw_start(&rc);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	uint64_t ns = open_obj(&rc, &sb, &pk, "namespace", "ns");

	pack_str(&pk, "list", 4);
	pack_str(&pk, b->bytes, b->len);
	expect_err(&rc, "open", 2, &sb, "VALUE");

	msgpack_pack_uint64(&pk, ns);
	pack_str(&pk, b->bytes, b->len);
	msgpack_pack_int(&pk, 1);
	expect_err(&rc, "namespace.set", 3, &sb, "VALUE");

	/* ls lists the one valid name; the namespace holds nothing. */
	msgpack_object ls = expect_ok(&rc, "ls", 0, &sb);
	ck_assert_msg(ls.type == MSGPACK_OBJECT_ARRAY && ls.via.array.size == 1,
		      "%s: ls lists %u names", b->what, ls.via.array.size);
	msgpack_pack_uint64(&pk, ns);
	ck_assert_uint_eq(
	    expect_ok(&rc, "namespace.items", 1, &sb).via.array.size, 0);

	msgpack_sbuffer_destroy(&sb);
	raw_stop(&rc);
}
END_TEST

/* ---- error messages ------------------------------------------------------ */

/* Strict UTF-8 (RFC 3629), written out here rather than taken from the
 * server's code. */
static bool utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i], len, min;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, min = 0x10000, cp = c & 0x07;
		else
			return false;
		if (n - i < len)
			return false;
		for (unsigned k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* A message from the server must be valid UTF-8 and quote @s in part. */
static void check_message(msgpack_object msg, const char *s, const char *what)
{
	ck_assert_int_eq(msg.type, MSGPACK_OBJECT_STR);
	ck_assert_msg(utf8_valid((const unsigned char *)msg.via.str.ptr,
				 msg.via.str.size),
		      "%s: the message is not valid UTF-8: %.*s", what,
		      (int)msg.via.str.size, msg.via.str.ptr);
	ck_assert_msg(memmem(msg.via.str.ptr, msg.via.str.size, s, 8) != NULL,
		      "%s: the message does not quote the string: %.*s", what,
		      (int)msg.via.str.size, msg.via.str.ptr);
}

START_TEST(an_error_quoting_a_long_multibyte_string_is_valid_utf8)
{
	/* 2-, 3- and 4-byte characters, 40, 60 and 100 of each: whatever
	 * length a message is cut to falls inside a character somewhere.
	 * (Names are at most 255 bytes: open only takes the shorter.) */
	static const int counts[] = { 40, 60, 100 };
	static const char *const chars[] = { "\xc3\xa9", "\xe2\x82\xac",
					     "\xf0\x9f\x98\x80" };
	raw_conn rc;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char s[512];

	raw_start(&rc);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	uint64_t d = open_obj(&rc, &sb, &pk, "dict", "d");
	for (size_t k = 0; k < 3; k++) {
		for (size_t j = 0; j < 3; j++) {
			size_t cl = strlen(chars[k]), n = 0;
			for (int i = 0; i < counts[j]; i++, n += cl)
				memcpy(s + n, chars[k], cl);
			s[n] = '\0';

			/* A missing key: KEY, quoting it. */
			msgpack_pack_uint64(&pk, d);
			pack_str(&pk, s, n);
			check_message(
			    expect_err(&rc, "dict.getitem", 2, &sb, "KEY"), s,
			    "dict.getitem");

			/* A name taken by another type: TYPE, quoting it. */
			if (n > 255)
				continue;
			pack_str(&pk, "list", 4);
			pack_str(&pk, s, n);
			expect_ok(&rc, "open", 2, &sb);
			pack_str(&pk, "dict", 4);
			pack_str(&pk, s, n);
			check_message(expect_err(&rc, "open", 2, &sb, "TYPE"),
				      s, "open");
		}
	}
	msgpack_sbuffer_destroy(&sb);
	raw_stop(&rc);
}
END_TEST

/* ---- dict.incr ----------------------------------------------------------- */

START_TEST(dict_incr_with_a_delta_that_is_not_a_number_is_type)
{
	raw_conn rc;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	raw_start(&rc);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	uint64_t d = open_obj(&rc, &sb, &pk, "dict", "d");

	msgpack_pack_uint64(&pk, d);
	pack_str(&pk, "n", 1);
	msgpack_pack_int(&pk, 5);
	expect_ok(&rc, "dict.set", 3, &sb);
	msgpack_pack_uint64(&pk, d);
	pack_str(&pk, "n", 1);
	pack_str(&pk, "one", 3);
	expect_err(&rc, "dict.incr", 3, &sb, "TYPE");
	msgpack_pack_uint64(&pk, d);
	pack_str(&pk, "n", 1);
	msgpack_pack_true(&pk);
	expect_err(&rc, "dict.incr", 3, &sb, "TYPE");
	msgpack_pack_uint64(&pk, d);
	pack_str(&pk, "new", 3);
	msgpack_pack_array(&pk, 0);
	expect_err(&rc, "dict.incr", 3, &sb, "TYPE");

	/* n is still 5 and no key was added. */
	msgpack_pack_uint64(&pk, d);
	pack_str(&pk, "n", 1);
	msgpack_object n = expect_ok(&rc, "dict.getitem", 2, &sb);
	ck_assert_int_eq(n.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(n.via.u64, 5);
	msgpack_pack_uint64(&pk, d);
	ck_assert_uint_eq(expect_ok(&rc, "dict.len", 1, &sb).via.u64, 1);

	msgpack_sbuffer_destroy(&sb);
	raw_stop(&rc);
}
END_TEST

static void add_loop(Suite *s, const char *name, const TTest *fn, int n)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 100);
	tcase_add_loop_test(tc, fn, 0, n);
	suite_add_tcase(s, tc);
}

int main(void)
{
	Suite *s = suite_create("refusals");

	add_loop(
	    s, "a_map_with_a_duplicate_key_is_refused_wherever_a_value_enters",
	    a_map_with_a_duplicate_key_is_refused_wherever_a_value_enters, 2);
	AGH_ADD_BARE(s, a_map_with_a_duplicate_key_equals_no_other_map);
	add_loop(s, "a_name_that_is_not_strict_utf8_or_holds_a_nul_is_value",
		 a_name_that_is_not_strict_utf8_or_holds_a_nul_is_value,
		 (int)(sizeof(bad_names) / sizeof(bad_names[0])));
	AGH_ADD_BARE(s, an_error_quoting_a_long_multibyte_string_is_valid_utf8);
	AGH_ADD_BARE(s, dict_incr_with_a_delta_that_is_not_a_number_is_type);
	return agh_run_suite(s);
}
