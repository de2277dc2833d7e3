/*
 * test_fuzz_regress.c - every input that once crashed a fuzz target of
 * tests/fuzz, replayed in the ordinary suite, and the scenario behind each
 * written out with the testing hooks of server/internal.h.
 *
 * The targets' files are linked in with their entry points renamed
 * (FUZZ_ENTRY, see tests/fuzz/fuzz_support.h), and so is the wrapped
 * ag_nonce() (-Wl,--wrap=ag_nonce): an input replays exactly as it did
 * under libFuzzer. A crash shows as a signal (Check reports the test as an
 * error) or as a sanitizer report in the ASan build. The checked-in seed
 * corpus is replayed as well (FUZZ_CORPUS, set by meson, names it).
 *
 * Found so far:
 *   1. A detached connection (ag_conn_new_detached) has no read event and
 *      no auth timer: fail_conn() called event_del(NULL) on any error that
 *      ends the connection, and a successful auth event_free(NULL); both
 *      dereference NULL inside libevent. fuzz_handshake found the first
 *      with the one byte 0x0a (auth before hello), fuzz_request with
 *      0a 0a 0a (raw bytes that are not a request).
 *   2. ag_obj_equal() compared two empty strs with memcmp(NULL, NULL, 0)
 *      (msgpack-c leaves an empty str's ptr NULL): undefined, and UBSan
 *      says so. fuzz_reader found it comparing the items of [\"\", \"\"].
 *   3. Pointer arithmetic on NULL (NULL + 0, undefined in C): iterating an
 *      empty ag_table (ag_table_foreach) and feeding 0 bytes to a reader
 *      that never allocated, which ag_reader_feed() also took for out of
 *      memory, so that ag_conn_feed(c, p, 0) ended the connection.
 *      Found by fuzz_handshake and fuzz_request (UBSan, pointer-overflow).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "internal.h"
#include "unit.h"

int fuzz_reader_one(const uint8_t *data, size_t size);
int fuzz_handshake_one(const uint8_t *data, size_t size);
int fuzz_request_one(const uint8_t *data, size_t size);
int fuzz_graph_one(const uint8_t *data, size_t size);
int fuzz_journal_one(const uint8_t *data, size_t size);

/* ---- the crashing inputs, replayed -------------------------------------- */

START_TEST(handshake_auth_before_hello_on_detached_connection)
{
	static const uint8_t input[] = { 0x0a }; /* op 2: auth, msgid 0 */

	ck_assert_int_eq(fuzz_handshake_one(input, sizeof(input)), 0);
}
END_TEST

START_TEST(request_raw_garbage_on_detached_connection)
{
	/* op 10: 10 raw bytes, of which one (0x0a) is there */
	static const uint8_t input[] = { 0x0a, 0x0a, 0x0a };

	ck_assert_int_eq(fuzz_request_one(input, sizeof(input)), 0);
}
END_TEST

START_TEST(handshake_hello_then_valid_auth_on_detached_connection)
{
	/* hello (msgid 1, nonce 0x11...), auth with the right proof */
	static const uint8_t input[] = { 1, 1, 0, 0, 2, 2 };

	ck_assert_int_eq(fuzz_handshake_one(input, sizeof(input)), 0);
}
END_TEST

START_TEST(reader_pair_of_empty_strs)
{
	/* limits 4096, no switch, chunks up to 4096; then ["", ""] */
	static const uint8_t input[] = { 4, 4, 0, 3, 0x92, 0xa0, 0xa0 };

	ck_assert_int_eq(fuzz_reader_one(input, sizeof(input)), 0);
}
END_TEST

START_TEST(handshake_empty_raw_feed)
{
	/* op 0 with L = 0: ag_conn_feed(c, p, 0) on a fresh connection, then
	 * a valid hello, which must still be served */
	static const uint8_t input[] = { 0, 0, 1, 1, 0, 2, 1 };

	ck_assert_int_eq(fuzz_handshake_one(input, sizeof(input)), 0);
}
END_TEST

/* ---- the same, with the hooks alone ------------------------------------- */

static ag_server *detached_server(void)
{
	ag_server *s = NULL;

	ck_assert_int_eq(ag_server_new_detached(FUZZ_KEY, FUZZ_KEYLEN, &s), 0);
	return s;
}

static size_t hello_bytes(uint8_t *buf, size_t cap,
			  const uint8_t cnonce[AG_NONCE_LEN])
{
	ag_buf b;
	msgpack_packer pk;
	size_t len;

	ag_buf_init(&b);
	msgpack_packer_init(&pk, &b, ag_buf_write);
	ag_pack_request_head(&pk, 1, "hello");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, AG_PROTOCOL_VERSION);
	msgpack_pack_bin(&pk, AG_NONCE_LEN);
	msgpack_pack_bin_body(&pk, cnonce, AG_NONCE_LEN);
	ck_assert_uint_le(b.len, cap);
	memcpy(buf, b.data, b.len);
	len = b.len;
	ag_buf_deinit(&b);
	return len;
}

static size_t auth_bytes(uint8_t *buf, size_t cap,
			 const uint8_t cnonce[AG_NONCE_LEN])
{
	uint8_t snonce[AG_NONCE_LEN], proof[AG_PROOF_LEN];
	ag_buf b;
	msgpack_packer pk;
	size_t len;

	memset(snonce, FUZZ_NONCE_BYTE, sizeof(snonce)); /* wrapped nonce */
	ck_assert_int_eq(
	    ag_client_proof(FUZZ_KEY, FUZZ_KEYLEN, snonce, cnonce, proof), 0);
	ag_buf_init(&b);
	msgpack_packer_init(&pk, &b, ag_buf_write);
	ag_pack_request_head(&pk, 2, "auth");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_bin(&pk, AG_PROOF_LEN);
	msgpack_pack_bin_body(&pk, proof, AG_PROOF_LEN);
	ck_assert_uint_le(b.len, cap);
	memcpy(buf, b.data, b.len);
	len = b.len;
	ag_buf_deinit(&b);
	return len;
}

START_TEST(protocol_error_ends_a_detached_connection)
{
	ag_server *s = detached_server();
	ag_conn *c = ag_conn_new_detached(s, true);

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(s->nconns, 1);
	ck_assert(!ag_conn_feed(c, "\xc1", 1)); /* not MessagePack */
	ck_assert_int_eq(s->nconns, 0);
	agora_server_free(s);
}
END_TEST

START_TEST(auth_error_ends_a_detached_connection)
{
	static const uint8_t cnonce[AG_NONCE_LEN];
	uint8_t buf[128];
	ag_server *s = detached_server();
	ag_conn *c = ag_conn_new_detached(s, false);
	size_t len = auth_bytes(buf, sizeof(buf), cnonce);

	ck_assert_ptr_nonnull(c);
	ck_assert(!ag_conn_feed(c, buf, len)); /* auth before hello */
	ck_assert_int_eq(s->nconns, 0);
	agora_server_free(s);
}
END_TEST

START_TEST(detached_connection_authenticates_and_is_served)
{
	static const uint8_t ping[] = "\x94\x00\x03\xa4ping\x90";
	uint8_t cnonce[AG_NONCE_LEN], buf[128];
	ag_server *s = detached_server();
	ag_conn *c = ag_conn_new_detached(s, false);
	size_t len;

	memset(cnonce, 0x11, sizeof(cnonce));
	ck_assert_ptr_nonnull(c);
	len = hello_bytes(buf, sizeof(buf), cnonce);
	ck_assert(ag_conn_feed(c, buf, len));
	len = auth_bytes(buf, sizeof(buf), cnonce);
	ck_assert(ag_conn_feed(c, buf, len));
	ck_assert(ag_conn_feed(c, ping, sizeof(ping) - 1));
	ag_server_run_pending(s);
	ck_assert_uint_eq(s->requests, 1);
	agora_server_free(s);
}
END_TEST

START_TEST(empty_feed_keeps_a_detached_connection)
{
	ag_server *s = detached_server();
	ag_conn *c = ag_conn_new_detached(s, false);

	ck_assert_ptr_nonnull(c);
	ck_assert(ag_conn_feed(c, "", 0));
	ck_assert_int_eq(s->nconns, 1);
	agora_server_free(s);
}
END_TEST

START_TEST(empty_strs_are_equal)
{
	msgpack_object a, b;

	memset(&a, 0, sizeof(a));
	a.type = MSGPACK_OBJECT_STR; /* size 0, ptr NULL, as msgpack-c */
	b = a;
	ck_assert(ag_obj_equal(&a, &b));
	a.type = b.type = MSGPACK_OBJECT_EXT;
	ck_assert(ag_obj_equal(&a, &b));
}
END_TEST

START_TEST(empty_reader_takes_an_empty_feed)
{
	ag_reader r;
	msgpack_object m;

	ck_assert_int_eq(ag_reader_init(&r, 64), 0);
	ck_assert_int_eq(ag_reader_feed(&r, "", 0), 0);
	ck_assert_int_eq(ag_reader_next(&r, &m), 0);
	ag_reader_deinit(&r);
}
END_TEST

/* ---- the seed corpus ---------------------------------------------------- */

static unsigned replay_dir(const char *target,
			   int (*one)(const uint8_t *, size_t))
{
	const char *root = getenv("FUZZ_CORPUS");
	char path[4096];
	unsigned n = 0;
	DIR *d;
	struct dirent *e;

	ck_assert_msg(root != NULL, "FUZZ_CORPUS is not set");
	snprintf(path, sizeof(path), "%s/%s", root, target);
	d = opendir(path);
	ck_assert_msg(d != NULL, "cannot open %s", path);
	while ((e = readdir(d)) != NULL) {
		static uint8_t data[1 << 16];
		char file[8192];
		FILE *f;
		size_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		f = fopen(file, "rb");
		ck_assert_ptr_nonnull(f);
		len = fread(data, 1, sizeof(data), f);
		fclose(f);
		ck_assert_int_eq(one(data, len), 0);
		n++;
	}
	closedir(d);
	return n;
}

START_TEST(reader_seeds_replay)
{
	ck_assert_uint_gt(replay_dir("reader", fuzz_reader_one), 0);
}
END_TEST

START_TEST(handshake_seeds_replay)
{
	ck_assert_uint_gt(replay_dir("handshake", fuzz_handshake_one), 0);
}
END_TEST

START_TEST(request_seeds_replay)
{
	ck_assert_uint_gt(replay_dir("request", fuzz_request_one), 0);
}
END_TEST

START_TEST(graph_seeds_replay)
{
	ck_assert_uint_gt(replay_dir("graph", fuzz_graph_one), 0);
}
END_TEST

START_TEST(journal_seeds_replay)
{
	ck_assert_uint_gt(replay_dir("journal", fuzz_journal_one), 0);
}
END_TEST

static Suite *fuzz_regress_suite(void)
{
	Suite *s = suite_create("fuzz_regress");
	TCase *tc;

	tc = tcase_create("crashes_found_by_fuzzing");
	tcase_add_test(tc, handshake_auth_before_hello_on_detached_connection);
	tcase_add_test(tc, request_raw_garbage_on_detached_connection);
	tcase_add_test(tc,
		       handshake_hello_then_valid_auth_on_detached_connection);
	tcase_add_test(tc, reader_pair_of_empty_strs);
	tcase_add_test(tc, handshake_empty_raw_feed);
	suite_add_tcase(s, tc);

	tc = tcase_create("detached_connections");
	tcase_add_test(tc, protocol_error_ends_a_detached_connection);
	tcase_add_test(tc, auth_error_ends_a_detached_connection);
	tcase_add_test(tc, detached_connection_authenticates_and_is_served);
	tcase_add_test(tc, empty_feed_keeps_a_detached_connection);
	suite_add_tcase(s, tc);

	tc = tcase_create("undefined_behaviour");
	tcase_add_test(tc, empty_strs_are_equal);
	tcase_add_test(tc, empty_reader_takes_an_empty_feed);
	suite_add_tcase(s, tc);

	tc = tcase_create("seed_corpus");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reader_seeds_replay);
	tcase_add_test(tc, handshake_seeds_replay);
	tcase_add_test(tc, request_seeds_replay);
	tcase_add_test(tc, graph_seeds_replay);
	tcase_add_test(tc, journal_seeds_replay);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(fuzz_regress_suite());
}
