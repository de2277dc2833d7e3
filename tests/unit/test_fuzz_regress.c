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
 *   4. Loading a data directory (server/recover.c), found by fuzz_journal:
 *      a last journal cut inside its header was kept as it was, a file a
 *      second start refused as damage; an "@new" whose options were no
 *      map (an int) was read as one (a NULL map); a record whose method
 *      str claimed more bytes than the record held was read past its end
 *      (ag_request_parse(), a crash at start); an "@new" with a name open
 *      refuses (a NUL byte inside) left its name in the table after
 *      "@drop" freed the object (use after free); an "@new" of id
 *      2^64 - 1 made the next new object's id wrap to one in use; the
 *      snapshot of an empty dict did NULL + 0 (UBSan).
 *   5. A transaction that changed something, on a server without a data
 *      directory: its commit took the address of the journal's buffer
 *      through the NULL persistence (UBSan, member access within null
 *      pointer) before it checked whether it kept a journal at all.
 *      fuzz_request found it with its first seed of txn.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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

START_TEST(request_txn_committed_without_a_data_directory)
{
	/* txn (method 133) [[], [["list.append", [1, 1]]]] */
	static const uint8_t input[] = {
		0x00, 0x85, 0x00, 0x00, 0x92, 0x90, 0x91, 0x92,
		0xab, 0x6c, 0x69, 0x73, 0x74, 0x2e, 0x61, 0x70,
		0x70, 0x65, 0x6e, 0x64, 0x92, 0x01, 0x01,
	};

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

/* ---- fuzz_journal's inputs, built --------------------------------------- */

/* An input of fuzz_journal: its flag byte, then a file of records. */
typedef struct jinput {
	ag_buf b, rec;
	msgpack_packer pk;
	uint32_t seq;
} jinput;

static void jinput_init(jinput *j, uint8_t flags)
{
	static const uint8_t head[16] = "AGORA-J\n\0\0\0\1\0\0\0\0";

	ag_buf_init(&j->b);
	ag_buf_init(&j->rec);
	ag_buf_write(&j->b, (const char *)&flags, 1);
	ag_buf_write(&j->b, (const char *)head, sizeof(head));
	msgpack_packer_init(&j->pk, &j->rec, ag_buf_write);
	j->seq = 0;
}

/* A record whose payload is what j->pk packed since the last one. */
static void jinput_record(jinput *j)
{
	uint32_t len = (uint32_t)j->rec.len;
	uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)j->rec.data, len);
	uint8_t h[8];

	for (int i = 0; i < 4; i++) {
		h[i] = (uint8_t)(len >> (24 - 8 * i));
		h[4 + i] = (uint8_t)(crc >> (24 - 8 * i));
	}
	ag_buf_write(&j->b, (const char *)h, sizeof(h));
	ag_buf_write(&j->b, j->rec.data, len);
	j->rec.len = 0;
}

/* "@new" [id, type, name, secret, ...]: the options still to pack. */
static void jinput_new(jinput *j, uint64_t id, const char *type,
		       const char *name, size_t namelen)
{
	static const uint8_t secret[AG_REF_SECRET_LEN] = { 1, 2, 3, 4,
							   5, 6, 7, 8 };

	ag_pack_request_head(&j->pk, j->seq++, "@new");
	msgpack_pack_array(&j->pk, 5);
	msgpack_pack_uint64(&j->pk, id);
	msgpack_pack_str_with_body(&j->pk, type, strlen(type));
	msgpack_pack_str_with_body(&j->pk, name, namelen);
	msgpack_pack_bin_with_body(&j->pk, secret, sizeof(secret));
}

static void jinput_run(jinput *j)
{
	ck_assert_int_eq(fuzz_journal_one((const uint8_t *)j->b.data, j->b.len),
			 0);
	ag_buf_deinit(&j->b);
	ag_buf_deinit(&j->rec);
}

START_TEST(journal_cut_inside_its_header)
{
	/* the last journal, empty or 10 bytes of its header: its start
	 * keeps it, and the next start must take it too */
	static const uint8_t empty[] = { 0 };
	static const uint8_t part[] = { 0,   'A', 'G',  'O', 'R', 'A',
					'-', 'J', '\n', 0,   0 };

	ck_assert_int_eq(fuzz_journal_one(empty, sizeof(empty)), 0);
	ck_assert_int_eq(fuzz_journal_one(part, sizeof(part)), 0);
}
END_TEST

START_TEST(journal_new_with_options_not_a_map)
{
	jinput j;

	jinput_init(&j, 0);
	jinput_new(&j, 1, "dict", "d", 1);
	msgpack_pack_uint8(&j.pk, 5); /* options: 5 */
	jinput_record(&j);
	jinput_run(&j);
}
END_TEST

START_TEST(journal_method_longer_than_its_record)
{
	/* [0, 0, str of 2^31 - 1 bytes...]: none of them there */
	static const char payload[] = "\x94\x00\x00\xdb\x7f\xff\xff\xff";
	jinput j;

	jinput_init(&j, 0);
	ag_buf_write(&j.rec, payload, sizeof(payload) - 1);
	jinput_record(&j);
	jinput_run(&j);
}
END_TEST

START_TEST(request_method_longer_than_the_request)
{
	/* the same request on the heap, exactly as long as it is: ASan sees
	 * a read past it */
	static const uint8_t req[] = { 0x94, 0x00, 0x00, 0xa6,
				       '@',  's',  't',  'a' };
	uint8_t *p = malloc(sizeof(req));
	msgpack_zone z;
	ag_request rq;
	char err[128];

	ck_assert_ptr_nonnull(p);
	memcpy(p, req, sizeof(req));
	ck_assert(msgpack_zone_init(&z, 1024));
	ck_assert_int_lt(
	    ag_request_parse(p, sizeof(req), &z, &rq, err, sizeof(err)), 0);
	msgpack_zone_destroy(&z);
	free(p);
}
END_TEST

START_TEST(journal_name_with_a_nul_dropped)
{
	jinput j;

	jinput_init(&j, 0);
	jinput_new(&j, 1, "list", "a\0b", 3);
	msgpack_pack_nil(&j.pk);
	jinput_record(&j);
	ag_pack_request_head(&j.pk, j.seq++, "@drop");
	msgpack_pack_array(&j.pk, 1);
	msgpack_pack_uint64(&j.pk, 1);
	jinput_record(&j);
	jinput_run(&j);
}
END_TEST

START_TEST(journal_id_at_the_top_of_the_range)
{
	jinput j;

	jinput_init(&j, 0);
	jinput_new(&j, 1, "list", "one", 3);
	msgpack_pack_nil(&j.pk);
	jinput_record(&j);
	jinput_new(&j, UINT64_MAX, "list", "big", 3);
	msgpack_pack_nil(&j.pk);
	jinput_record(&j);
	jinput_run(&j);
}
END_TEST

START_TEST(journal_empty_dict_in_a_repair_snapshot)
{
	/* flags 5: not the last journal, --data-repair; a dict, then damage:
	 * the repair writes a snapshot of the empty dict */
	jinput j;

	jinput_init(&j, 5);
	jinput_new(&j, 1, "dict", "d", 1);
	msgpack_pack_nil(&j.pk);
	jinput_record(&j);
	ag_buf_write(&j.b, "x", 1);
	jinput_run(&j);
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
	tcase_add_test(tc, request_txn_committed_without_a_data_directory);
	tcase_add_test(tc,
		       handshake_hello_then_valid_auth_on_detached_connection);
	tcase_add_test(tc, reader_pair_of_empty_strs);
	tcase_add_test(tc, handshake_empty_raw_feed);
	suite_add_tcase(s, tc);

	tc = tcase_create("loading_a_data_directory");
	tcase_add_test(tc, journal_cut_inside_its_header);
	tcase_add_test(tc, journal_new_with_options_not_a_map);
	tcase_add_test(tc, journal_method_longer_than_its_record);
	tcase_add_test(tc, request_method_longer_than_the_request);
	tcase_add_test(tc, journal_name_with_a_nul_dropped);
	tcase_add_test(tc, journal_id_at_the_top_of_the_range);
	tcase_add_test(tc, journal_empty_dict_in_a_repair_snapshot);
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
